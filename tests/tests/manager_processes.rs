//! Real manager processes on loopback: cluster formation, `kill -9` and restart on the same data directory,
//! leader loss, a torn log tail repaired on restart, and a log corrupted in the middle refusing to start.

use std::time::Duration;

use swarm_tests::{create_networks, scratch_dir, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(30);

/// Starts three managers on `127.0.<net>.1..3:<port>`; returns them with the first one bootstrapped.
fn three_managers(net: u8, name: &str) -> (Vec<Daemon>, Vec<String>) {
    let dir = scratch_dir(name);
    let addrs: Vec<String> = (1..=3).map(|i| format!("127.0.{net}.{i}:23{net:02}")).collect();
    let mut daemons = vec![Daemon::start(&addrs[0], &dir.join("m1"), Role::Init)];
    wait_for("manager 1 to lead an initialised cluster", FORM, || daemons[0].leads_initialized_cluster().then_some(()));
    let token = daemons[0].join_token("manager");
    for i in 1..3 {
        let role = Role::Join { addr: &addrs[0], token: &token };
        daemons.push(Daemon::start(&addrs[i], &dir.join(format!("m{}", i + 1)), role));
    }
    wait_for("three voters", FORM, || daemons[0].status().filter(|s| s.voters.len() == 3 && s.learners.is_empty()));
    (daemons, addrs)
}

fn wait_caught_up(daemon: &Daemon, reference: &Daemon, what: &str) {
    wait_for(what, FORM, || {
        let target = reference.status()?.last_applied_index?;
        let status = daemon.status()?;
        (status.last_applied_index? >= target).then_some(())
    });
}

#[test]
fn follower_killed_with_sigkill_rejoins_with_its_data() {
    let (mut daemons, addrs) = three_managers(31, "sigkill");
    create_networks(&daemons[0], &addrs, "before", 20);
    let leader = daemons[0].status().expect("status").leader.expect("a leader");
    let victim = (0..3).find(|i| daemons[*i].status().map(|s| s.node_id) != Some(leader)).expect("a follower");
    daemons[victim].kill9();
    create_networks(&daemons[0], &addrs, "during", 20);
    daemons[victim].restart();
    let reference = (victim + 1) % 3;
    wait_caught_up(&daemons[victim], &daemons[reference], "the restarted manager to catch up");
    let names = daemons[victim].network_names().expect("store");
    assert_eq!(names.len(), 40, "restarted manager has {names:?}");
}

#[test]
fn leader_killed_the_cluster_elects_another_and_accepts_proposals() {
    let (mut daemons, addrs) = three_managers(32, "leader-loss");
    create_networks(&daemons[0], &addrs, "before", 5);
    let leader_id = daemons[0].status().expect("status").leader.expect("leader");
    let leader = (0..3).find(|i| daemons[*i].status().map(|s| s.node_id) == Some(leader_id)).expect("leader process");
    daemons[leader].kill9();
    let survivors: Vec<String> = (0..3).filter(|i| *i != leader).map(|i| addrs[i].clone()).collect();
    let survivor = (0..3).find(|i| *i != leader).expect("survivor");
    wait_for("a new leader", FORM, || {
        daemons[survivor].status().filter(|s| s.leader.is_some() && s.leader != Some(leader_id))
    });
    create_networks(&daemons[0], &survivors, "after", 5);
    assert_eq!(daemons[survivor].network_names().expect("store").len(), 10);
}

fn last_segment(data_dir: &std::path::Path) -> std::path::PathBuf {
    let mut segments: Vec<_> = std::fs::read_dir(data_dir.join("raft"))
        .expect("raft dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    segments.pop().expect("a wal segment")
}

#[test]
fn log_tail_cut_mid_record_is_repaired_and_the_manager_rejoins() {
    let (mut daemons, addrs) = three_managers(33, "torn-tail");
    create_networks(&daemons[0], &addrs, "before", 10);
    let leader_id = daemons[0].status().expect("status").leader.expect("leader");
    let victim = (0..3).find(|i| daemons[*i].status().map(|s| s.node_id) != Some(leader_id)).expect("follower");
    daemons[victim].kill9();
    let segment = last_segment(&daemons[victim].data_dir);
    let len = std::fs::metadata(&segment).expect("segment").len();
    // Cut the last record in half: what a crash in the middle of a write leaves behind.
    let file = std::fs::OpenOptions::new().write(true).open(&segment).expect("open segment");
    file.set_len(len - 7).expect("truncate");
    drop(file);
    daemons[victim].restart();
    let reference = (victim + 1) % 3;
    wait_caught_up(&daemons[victim], &daemons[reference], "the repaired manager to catch up");
    assert_eq!(daemons[victim].network_names().expect("store").len(), 10);
    assert!(
        daemons[victim].log().contains("repaired"),
        "the daemon log should report the repair:\n{}",
        daemons[victim].log()
    );
}

#[test]
fn log_corrupted_in_the_middle_refuses_to_start_with_a_clear_message() {
    let dir = scratch_dir("corrupt-middle");
    let addr = "127.0.34.1:2334";
    let mut daemon = Daemon::start(addr, &dir.join("m1"), Role::Init);
    wait_for("an initialised cluster", FORM, || daemon.leads_initialized_cluster().then_some(()));
    create_networks(&daemon, &[addr.to_string()], "net", 10);
    daemon.kill9();
    let segment = last_segment(&daemon.data_dir);
    let mut bytes = std::fs::read(&segment).expect("segment");
    let middle = bytes.len() / 3;
    bytes[middle] ^= 0xff;
    std::fs::write(&segment, &bytes).expect("write corrupted segment");
    daemon.restart();
    let status = daemon.wait_exit(Duration::from_secs(20)).expect("the daemon must exit by itself");
    assert!(!status.success(), "a corrupt log must not start");
    let log = daemon.log();
    let path = segment.display().to_string();
    assert!(log.contains("corrupt raft log"), "log: {log}");
    assert!(log.contains(&format!("{path} at byte")), "the error should name the file by its full path {path}: {log}");
    assert!(log.contains("refusing to start"), "log: {log}");
}

#[test]
fn a_removed_manager_leaves_the_voters_and_the_rest_keep_committing() {
    let (daemons, addrs) = three_managers(36, "remove-manager");
    let status = daemons[0].status().expect("status");
    let leader = status.leader.expect("leader");
    // Never the manager we observe from (daemons[0]) nor the leader.
    let victim = *status.voters.keys().find(|id| **id != leader && **id != status.node_id).expect("a follower");
    let body = serde_json::to_vec(&serde_json::json!({ "node_id": victim })).expect("json");
    // Sent to a follower on purpose: membership changes are forwarded to the leader.
    let follower_addr = status.voters.iter().find(|(id, _)| **id != leader).map(|(_, a)| a.clone()).expect("addr");
    // Retried with a deadline: removal is idempotent, and a leader change in the middle fails one attempt.
    let mut attempts = Vec::new();
    wait_for("the removal to be accepted", FORM, || {
        let result = swarm_tests::block_on(async {
            daemons[0]
                .cluster_client(&follower_addr)
                .expect("a manager's certificate")
                .post("/cluster/managers/remove", body.clone(), Duration::from_secs(10))
                .await
        });
        match result {
            Ok(_) => Some(()),
            Err(error) => {
                attempts.push(error.to_string());
                assert!(attempts.len() < 5, "removal keeps failing: {attempts:?}");
                None
            }
        }
    });
    wait_for("two voters", FORM, || {
        daemons[0].status().filter(|s| s.voters.len() == 2 && !s.voters.contains_key(&victim))
    });
    let remaining: Vec<String> = addrs.iter().filter(|a| **a != status.voters[&victim]).cloned().collect();
    create_networks(&daemons[0], &remaining, "after-remove", 5);
}
