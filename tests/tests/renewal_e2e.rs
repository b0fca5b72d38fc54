//! Certificate renewal on real daemons, with certificates forced short (`swarm daemon --node-cert-validity 20s`, a
//! hidden flag for this test: the swarm's own `--cert-expiry` cannot go below an hour, as in SwarmKit). Over 45 s
//! the worker's and the manager's certificates are each replaced two to four times — between 50 % and 80 % of their
//! life, not at every role check — while the worker stays Ready and its container keeps running.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use swarm_tests::{docker, ensure_test_images, node_id_of, scratch_dir, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(60);
const WATCH: Duration = Duration::from_secs(45);

/// The node's certificate (the first PEM block of its identity file), if the file reads.
fn certificate(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join("certificates/swarm-node.pem")).ok()?;
    let end = text.find("-----END CERTIFICATE-----")?;
    Some(text[..end].to_string())
}

fn running_container(service: &str) -> Option<String> {
    let filter = format!("label=swarm.service.name={service}");
    docker(&["ps", "--filter", &filter, "--format", "{{.ID}}"]).lines().next().map(str::to_string)
}

#[test]
fn short_certificates_renew_without_interrupting_the_node() {
    ensure_test_images();
    let dir = scratch_dir("renewal");
    let manager_addr = "127.0.42.1:2342";
    let m1 = Daemon::start_with(manager_addr, &dir.join("m1"), Role::Init, &["--node-cert-validity", "20s"]);
    wait_for("an initialised cluster", FORM, || m1.leads_initialized_cluster().then_some(()));
    let token = m1.join_token("worker");
    let w1 = Daemon::start("127.0.42.2:2342", &dir.join("w1"), Role::Join { addr: manager_addr, token: &token });
    let worker_id = node_id_of(&w1.data_dir).expect("the worker's node id");
    let worker_ready = || {
        let nodes = m1.cli(&["node", "ls"]).stdout_text();
        nodes.lines().any(|line| line.starts_with(&worker_id) && line.contains(" Ready "))
    };
    wait_for("the worker to be ready", FORM, || worker_ready().then_some(()));
    let constraint = format!("node.id=={worker_id}");
    m1.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "steady",
        "--constraint",
        &constraint,
        "swarm-tools:1",
        "sleep",
        "3600",
    ]);
    let container = wait_for("the task to run", FORM, || running_container("steady"));

    let (mut worker_certs, mut manager_certs) = (BTreeSet::new(), BTreeSet::new());
    let started = Instant::now();
    while started.elapsed() < WATCH {
        worker_certs.extend(certificate(&w1.data_dir));
        manager_certs.extend(certificate(&m1.data_dir));
        assert!(worker_ready(), "the worker was not Ready {:?} in:\n{}", started.elapsed(), w1.log());
        assert_eq!(running_container("steady").as_deref(), Some(container.as_str()), "the task was replaced");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Issued at join, then renewed every 10 to 16 s: 2 or 3 renewals in 45 s (4 leaves room for a slow check).
    assert!((3..=5).contains(&worker_certs.len()), "the worker had {} certificates in {WATCH:?}", worker_certs.len());
    assert!((3..=5).contains(&manager_certs.len()), "the manager had {} certificates", manager_certs.len());
    m1.cli_ok(&["service", "rm", "steady"]);
}
