//! What security costs. Raft: three managers in this process (real fsync'd disks under a scratch directory, real
//! loopback TCP), driven by 64 proposers through the cluster API for `RUN`, once over plain HTTP and once over mutual
//! TLS with certificates of one root, in the same run; the ratio of their commit rates is the figure (goal: at
//! least 0.9). The daemons' own `raft_loopback_commits_per_sec_*` figures run over mutual TLS always. Join: from
//! `swarm join` on a fresh daemon (a key, a signing request checked against the token's CA digest, a certificate)
//! until the manager's store shows the worker ready. CA rotation: `swarm ca --rotate` on five nodes until it returns.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::time::Instant;
use swarm_core::{Command, NodeRole, Proposal};
use swarm_runtime::aead::AeadKey;
use swarm_runtime::clock::wall_clock_now;
use swarm_runtime::manager::{Manager, ManagerConfig};
use swarm_runtime::raft::settings::RaftSettings;
use swarm_runtime::storage::fs_disk::FsDisk;
use swarm_runtime::tls::keys::fresh_key_pkcs8;
use swarm_runtime::tls::{ClientTls, RootCa, TlsHandle};

use swarm_tests::{scratch_dir, wait_for, Daemon, Role};

pub const FIGURES: [&str; 5] = [
    "raft_inprocess_commits_per_sec_64_plain",
    "raft_inprocess_commits_per_sec_64_mtls",
    "raft_mtls_ratio_64",
    "join_seconds",
    "ca_rotate_seconds",
];

const PROPOSERS: usize = 64;

pub fn run(wanted: &dyn Fn(&str) -> bool) {
    if FIGURES[..3].iter().any(|name| wanted(name)) {
        raft_over_tls();
    }
    if wanted("join_seconds") {
        join();
    }
    if wanted("ca_rotate_seconds") {
        ca_rotate();
    }
}

/// `swarm ca --rotate` on three managers and two workers, from the command until it returns: every node holds a
/// certificate of the new root and trusts it alone (best of two rotations in a row).
fn ca_rotate() {
    let dir = scratch_dir("bench-ca-rotate");
    let quiet = ["--log-level", "warn"];
    let first = "127.0.96.1:2396";
    let m1 = Daemon::start_with(first, &dir.join("m1"), Role::Init, &quiet);
    wait_for("the manager to lead", Duration::from_secs(30), || m1.leads_initialized_cluster().then_some(()));
    let manager_token = m1.join_token("manager");
    let worker_token = m1.join_token("worker");
    let mut others = Vec::new();
    for (index, token) in [&manager_token, &manager_token, &worker_token, &worker_token].into_iter().enumerate() {
        let addr = format!("127.0.96.{}:2396", index + 2);
        let role = Role::Join { addr: first, token };
        others.push(Daemon::start_with(&addr, &dir.join(format!("n{}", index + 2)), role, &quiet));
    }
    wait_for("five ready nodes", Duration::from_secs(60), || {
        let nodes = m1.cli(&["node", "ls"]).stdout_text();
        (nodes.lines().filter(|line| line.contains(" Ready ")).count() == 5).then_some(())
    });
    let mut best = Duration::MAX;
    for attempt in 1..=2 {
        let started = Instant::now();
        m1.cli_ok(&["ca", "--rotate", "-q"]);
        let took = started.elapsed();
        eprintln!("bench: ca rotation {attempt}: {:.3} s", took.as_secs_f64());
        best = best.min(took);
    }
    println!("RESULT ca_rotate_seconds={:.3} s", best.as_secs_f64());
    drop(others);
    drop(m1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `swarm join` of a worker to a one-manager swarm, until the manager sees it ready (best of three).
fn join() {
    let dir = scratch_dir("bench-join");
    let quiet = ["--log-level", "warn"];
    let manager_addr = "127.0.95.1:2395";
    let manager = Daemon::start_with(manager_addr, &dir.join("m1"), Role::Init, &quiet);
    wait_for("the manager to lead", Duration::from_secs(30), || manager.leads_initialized_cluster().then_some(()));
    let token = manager.join_token("worker");
    let mut best = Duration::MAX;
    for attempt in 1..=3 {
        let started = Instant::now();
        let role = Role::Join { addr: manager_addr, token: &token };
        let worker = Daemon::start_with(
            &format!("127.0.95.{}:2395", attempt + 1),
            &dir.join(format!("w{attempt}")),
            role,
            &quiet,
        );
        let node_id = swarm_tests::node_id_of(&worker.data_dir).expect("the worker's node id");
        wait_for("the worker to be ready", Duration::from_secs(30), || {
            let store = manager.store_json()?;
            let ready = store["nodes"]
                .as_array()?
                .iter()
                .any(|n| n["id"] == node_id.as_str() && n["status"]["state"] == "ready");
            ready.then_some(())
        });
        let took = started.elapsed();
        eprintln!("bench: join {attempt}: {:.3} s", took.as_secs_f64());
        best = best.min(took);
    }
    println!("RESULT join_seconds={:.3} s", best.as_secs_f64());
    drop(manager);
    let _ = std::fs::remove_dir_all(&dir);
}

fn raft_over_tls() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let plain = runtime.block_on(measure(93, false));
    let mtls = runtime.block_on(measure(94, true));
    println!("RESULT raft_inprocess_commits_per_sec_64_plain={plain:.0} commits/s");
    println!("RESULT raft_inprocess_commits_per_sec_64_mtls={mtls:.0} commits/s");
    println!("RESULT raft_mtls_ratio_64={:.3} ratio", mtls / plain);
}

/// Commits per second of a fresh three-manager cluster on 127.0.`net`.x, with or without TLS (and encryption at
/// rest).
async fn measure(net: u8, tls: bool) -> f64 {
    let dir = scratch_dir(&format!("bench-raft-{}", if tls { "mtls" } else { "plain" }));
    let ca = Arc::new(RootCa::create("bench", wall_clock_now(), fresh_key_pkcs8().expect("key")).expect("root CA"));
    let identity = |name: &str| {
        let identity = ca
            .issue_identity(
                fresh_key_pkcs8().expect("key"),
                name,
                NodeRole::Manager,
                "bench",
                wall_clock_now(),
                swarm_runtime::tls::ca::NODE_CERT_VALIDITY,
            )
            .expect("certificate");
        TlsHandle::new(identity).expect("TLS settings")
    };
    let addr = |i: u64| -> SocketAddr { format!("127.0.{net}.{i}:2391").parse().expect("address") };
    let mut managers = Vec::new();
    for i in 1..=3u64 {
        let disk = FsDisk::open(dir.join(format!("m{i}"))).expect("disk");
        let config = ManagerConfig {
            node_id: i,
            listen_addr: addr(i),
            advertise_addr: addr(i).to_string(),
            raft: RaftSettings::default(),
            node_api: None,
            tls: tls.then(|| identity(&format!("manager-{i}"))),
            ca: Some(ca.clone()),
            // The secure arm also keeps its Raft data encrypted at rest, as every daemon does.
            data_key: tls.then(|| Arc::new(AeadKey::from_bytes(&AeadKey::fresh_bytes()))),
            node_cert_validity: None,
            keep_identity: None,
        };
        managers.push(Manager::start(config, Arc::new(disk), None).await.expect("manager starts"));
    }
    managers[0].bootstrap().await.expect("bootstrap");
    while !managers[0].is_leader() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 2..=3u64 {
        managers[0].add_manager(i, addr(i).to_string()).await.expect("add a manager");
    }
    let init = Command::InitCluster {
        cluster_id: "bench".into(),
        settings: swarm_core::ClusterSettings::default(),
        join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
    };
    managers[0].propose(Proposal::new(wall_clock_now(), init)).await.expect("init commits");
    let client_tls = tls.then(|| ClientTls::to_managers(&identity("bench-client")));
    let (commits, _) = crate::drive(&addr(1).to_string(), PROPOSERS, client_tls).await;
    eprintln!("bench: in-process raft, {}: {commits} commits", if tls { "mutual TLS" } else { "plain" });
    for manager in &managers {
        manager.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    commits as f64 / crate::RUN.as_secs_f64()
}
