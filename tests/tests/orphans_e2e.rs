//! Containers never outlive their node's membership (issue 15, part 4), on real daemons sharing this host's Docker
//! Engine: a worker replaced the documented way (its daemon killed with its containers still running, `node rm
//! --force`, its data directory wiped, joined again as a new identity) has its old identity's containers removed by
//! the agents of its cluster within a bound; a plain `leave` of a worker and a `leave --force` of a lone manager
//! remove the node's own containers before they return, as Docker's do. Nodes on 127.0.53.x and 127.0.54.x; only
//! containers labelled with this test's own node ids are counted or removed (`Daemon`'s drop removes them even
//! when an assertion fails).

use std::time::{Duration, Instant};

use swarm_tests::{docker, ensure_test_images, node_id_of, scratch_dir, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(60);
const CONVERGE: Duration = Duration::from_secs(90);
/// How soon after `node rm` the removed node's containers must be gone: one assignments long-poll (5 s) is the
/// slowest way the news can reach an agent, plus the removal itself.
const SWEPT_WITHIN: Duration = Duration::from_secs(15);

/// Ids of the containers (any state) labelled with `node_id`.
fn containers_of(node_id: &str) -> Vec<String> {
    docker(&["ps", "-aq", "--filter", &format!("label=swarm.node.id={node_id}")])
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Ids of the running containers labelled with `node_id`.
fn running_containers_of(node_id: &str) -> Vec<String> {
    docker(&["ps", "-q", "--filter", &format!("label=swarm.node.id={node_id}")])
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `service ls`'s REPLICAS column for `name` is `want/want`.
fn converged(daemon: &Daemon, name: &str, want: u64) -> bool {
    let output = daemon.cli(&["service", "ls"]);
    let text = output.stdout_text();
    text.lines()
        .find(|line| line.split_whitespace().nth(1) == Some(name))
        .and_then(|line| line.split_whitespace().nth(3).map(str::to_string))
        .is_some_and(|replicas| replicas == format!("{want}/{want}"))
}

#[test]
fn a_replaced_node_leaves_no_containers_behind_and_leave_removes_its_own() {
    ensure_test_images();
    let dir = scratch_dir("orphans-replace");
    let (m1_addr, w1_addr) = ("127.0.53.1:2353".to_string(), "127.0.53.2:2353".to_string());
    let m1 = Daemon::start(&m1_addr, &dir.join("m1"), Role::Restart);
    wait_for("the control socket", FORM, || m1.socket.exists().then_some(()));
    m1.cli_ok(&["init", "--advertise-addr", &m1_addr]);
    let token = m1.join_token("worker");
    let mut w1 = Daemon::start(&w1_addr, &dir.join("w1"), Role::Join { addr: &m1_addr, token: &token });
    wait_for("two ready nodes", FORM, || {
        (m1.cli(&["node", "ls"]).stdout_text().matches(" Ready ").count() == 2).then_some(())
    });

    // A global service puts one task on each node: the worker surely has a container.
    m1.cli_ok(&["service", "create", "-d", "--name", "orph", "--mode", "global", "swarm-hello:1"]);
    wait_for("orph to run 2/2", CONVERGE, || converged(&m1, "orph", 2).then_some(()));
    let old_id = node_id_of(&w1.data_dir).expect("w1 has a node id");
    let m1_id = node_id_of(&m1.data_dir).expect("m1 has a node id");
    wait_for("w1's container running", CONVERGE, || (!running_containers_of(&old_id).is_empty()).then_some(()));

    // The documented replacement: the daemon dies (its containers keep running), the node is removed by force, its
    // data directory wiped, and it joins again.
    w1.kill9();
    assert!(!running_containers_of(&old_id).is_empty(), "kill -9 leaves the containers running");
    wait_for("w1 down", CONVERGE, || {
        let text = m1.cli(&["node", "ls"]).stdout_text();
        text.lines()
            .any(|line| line.starts_with(&old_id[..12.min(old_id.len())]) && line.contains(" Down "))
            .then_some(())
    });
    m1.cli_ok(&["node", "rm", "--force", &old_id]);
    let removed_at = Instant::now();
    wait_for("the removed node's containers to be gone", SWEPT_WITHIN, || {
        containers_of(&old_id).is_empty().then_some(())
    });
    eprintln!("the removed node's containers were gone {:?} after node rm", removed_at.elapsed());
    // The manager's own container was not touched.
    assert!(!running_containers_of(&m1_id).is_empty(), "a live node sharing the engine keeps its containers");

    std::fs::remove_dir_all(&w1.data_dir).expect("wipe w1's data directory");
    // The killed daemon's control socket is still there; the harness waits for the new one to appear.
    let _ = std::fs::remove_file(&w1.socket);
    let w1 = Daemon::start(&w1_addr, &dir.join("w1"), Role::Join { addr: &m1_addr, token: &token });
    let new_id = node_id_of(&w1.data_dir).expect("w1 has a new node id");
    assert_ne!(new_id, old_id, "a rejoin is a new identity");
    wait_for("orph to run 2/2 again", CONVERGE, || converged(&m1, "orph", 2).then_some(()));
    wait_for("the new identity's container running", CONVERGE, || {
        (!running_containers_of(&new_id).is_empty()).then_some(())
    });
    assert!(containers_of(&old_id).is_empty(), "nothing of the old identity came back");

    // A plain `leave` of a worker removes its containers before it answers, as Docker's does.
    w1.cli_ok(&["leave"]);
    assert_eq!(containers_of(&new_id), Vec::<String>::new(), "leave removes the node's containers");
    assert!(!running_containers_of(&m1_id).is_empty(), "the manager keeps its own");
}

#[test]
fn leave_force_removes_the_nodes_containers() {
    ensure_test_images();
    let dir = scratch_dir("orphans-leave");
    let addr = "127.0.54.1:2354".to_string();
    let m1 = Daemon::start(&addr, &dir.join("m1"), Role::Restart);
    wait_for("the control socket", FORM, || m1.socket.exists().then_some(()));
    m1.cli_ok(&["init", "--advertise-addr", &addr]);
    m1.cli_ok(&["service", "create", "-d", "--name", "lf", "--replicas", "3", "swarm-hello:1"]);
    wait_for("lf to run 3/3", CONVERGE, || converged(&m1, "lf", 3).then_some(()));
    let id = node_id_of(&m1.data_dir).expect("m1 has a node id");
    assert_eq!(running_containers_of(&id).len(), 3);
    let started = Instant::now();
    m1.cli_ok(&["leave", "--force"]);
    eprintln!("leave --force took {:?}", started.elapsed());
    assert_eq!(containers_of(&id), Vec::<String>::new(), "leave --force removes every container of the node");
    assert!(node_id_of(&m1.data_dir).is_none(), "and then deletes the node's state");
}
