//! `swarm ca --rotate` end to end on real daemons: three managers and two workers, a service with a secret running
//! on the workers. The command prints Docker's desired root digest and progress lines and ends with the new root
//! certificate once every node moved; afterwards every node's identity file holds a certificate of the new root
//! and trusts it alone, the service's containers never stopped, a new task still gets its (resealed) secret, the
//! join tokens carry the new digest (an old token is refused before anything is sent, the new one admits a node),
//! and a manager restarted from its files rejoins on the new root.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swarm_tests::{docker, ensure_test_images, node_id_of, scratch_dir, swarm_bin, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(60);
const ROTATION: Duration = Duration::from_secs(120);

/// The CERTIFICATE blocks of a node's identity file (its certificate, then its root) and how many other roots it
/// trusts.
fn identity_roots(data_dir: &Path) -> (Vec<Vec<u8>>, usize) {
    let text = std::fs::read(data_dir.join("certificates/swarm-node.pem")).expect("identity file");
    let blocks = pem::parse_many(text).expect("PEM");
    let certs = blocks.iter().filter(|b| b.tag() == "CERTIFICATE").map(|b| b.contents().to_vec()).collect();
    let others = blocks.iter().filter(|b| b.tag() == "SWARM TRUSTED ROOT").count();
    (certs, others)
}

/// `swarm ARGS` on `daemon`, killed if it runs past `deadline`: (success, stdout, stderr).
fn cli_within(daemon: &Daemon, args: &[&str], deadline: Duration) -> (bool, String, String) {
    let mut child = Command::new(swarm_bin())
        .args(args)
        .env("SWARM_HOST", format!("unix://{}", daemon.socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the swarm CLI");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("swarm {args:?} still ran after {deadline:?}: {}", String::from_utf8_lossy(&output.stdout));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

fn running_containers(service: &str) -> Vec<String> {
    let filter = format!("label=swarm.service.name={service}");
    let mut ids: Vec<String> =
        docker(&["ps", "--filter", &filter, "--format", "{{.ID}}"]).lines().map(str::to_string).collect();
    ids.sort();
    ids
}

fn all_ready(manager: &Daemon, count: usize) -> Option<()> {
    let nodes = manager.cli(&["node", "ls"]).stdout_text();
    (nodes.lines().filter(|line| line.contains(" Ready ")).count() == count).then_some(())
}

#[test]
fn a_root_rotation_moves_every_node_while_a_service_runs() {
    ensure_test_images();
    let dir = scratch_dir("ca-rotate");
    let m1_addr = "127.0.41.1:2341";
    let m1 = Daemon::start(m1_addr, &dir.join("m1"), Role::Init);
    wait_for("an initialised cluster", FORM, || m1.leads_initialized_cluster().then_some(()));
    let manager_token = m1.join_token("manager");
    let worker_token = m1.join_token("worker");
    let mut m2 = Daemon::start("127.0.41.2:2341", &dir.join("m2"), Role::Join { addr: m1_addr, token: &manager_token });
    let m3 = Daemon::start("127.0.41.3:2341", &dir.join("m3"), Role::Join { addr: m1_addr, token: &manager_token });
    let w1 = Daemon::start("127.0.41.4:2341", &dir.join("w1"), Role::Join { addr: m1_addr, token: &worker_token });
    let w2 = Daemon::start("127.0.41.5:2341", &dir.join("w2"), Role::Join { addr: m1_addr, token: &worker_token });
    wait_for("five ready nodes", FORM, || all_ready(&m1, 5));

    let secret_file = dir.join("pw.txt");
    let value = format!("rotate-me-{}", std::process::id());
    std::fs::write(&secret_file, &value).unwrap();
    m1.cli_ok(&["secret", "create", "pw", secret_file.to_str().unwrap()]);
    m1.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "steady",
        "--replicas",
        "2",
        "--constraint",
        "node.role==worker",
        "--secret",
        "pw",
        "swarm-tools:1",
        "sleep",
        "3600",
    ]);
    let before = wait_for("two running tasks", FORM, || {
        let ids = running_containers("steady");
        (ids.len() == 2).then_some(ids)
    });
    let old_root = m1.cli_ok(&["ca"]);
    assert!(old_root.starts_with("-----BEGIN CERTIFICATE-----"), "{old_root}");

    let (ok, out, err) = cli_within(&m2, &["ca", "--rotate"], ROTATION);
    assert!(ok, "swarm ca --rotate failed: {err}\n{out}");
    assert!(out.starts_with("desired root digest: sha256:"), "{out}");
    assert!(out.contains("  rotated TLS certificates:  [") && out.contains("  rotated CA certificates:   ["), "{out}");
    assert!(out.contains("5/5 nodes"), "{out}");
    let new_root = &out[out.find("-----BEGIN CERTIFICATE-----").expect("the new root")..];
    assert_ne!(new_root, old_root);
    assert_eq!(m3.cli_ok(&["ca"]), new_root, "every manager names the new root");
    let new_root_der = pem::parse(new_root).unwrap().contents().to_vec();

    // Every node holds a certificate of the new root and trusts it alone.
    for daemon in [&m1, &m2, &m3, &w1, &w2] {
        wait_for("the node's files to follow", FORM, || {
            let (certs, others) = identity_roots(&daemon.data_dir);
            (certs.get(1) == Some(&new_root_der) && others == 0).then_some(())
        });
    }
    // The service never stopped, and a new task still gets the secret (resealed with the new root's key).
    assert_eq!(running_containers("steady"), before, "the service's containers were replaced");
    m1.cli_ok(&["service", "scale", "-d", "steady=3"]);
    let added = wait_for("a third task", FORM, || {
        let ids = running_containers("steady");
        ids.into_iter().find(|id| !before.contains(id))
    });
    assert_eq!(docker(&["exec", &added, "cat", "/run/secrets/pw"]), value);

    // The tokens carry the new digest; the old one is refused before anything is sent.
    let new_token = m1.join_token("worker");
    assert_ne!(new_token, worker_token);
    assert_eq!(new_token.rsplit('-').next(), worker_token.rsplit('-').next(), "the secret part stays");
    let j1 = Daemon::start("127.0.41.6:2341", &dir.join("j1"), Role::Restart);
    wait_for("the joiner's control socket", FORM, || j1.socket.exists().then_some(()));
    let refused = j1.cli(&["join", "--token", &worker_token, m1_addr]);
    assert!(!refused.status.success());
    assert!(refused.stderr_text().contains("does not match the join token's digest"), "{}", refused.stderr_text());
    j1.cli_ok(&["join", "--token", &new_token, m1_addr]);
    assert!(node_id_of(&j1.data_dir).is_some());

    // A manager restarted from its files comes back on the new root.
    m2.restart();
    let restarted_root = wait_for("the restarted manager to answer", FORM, || {
        let output = m2.cli(&["ca"]);
        output.status.success().then(|| output.stdout_text())
    });
    assert_eq!(restarted_root, new_root);
    wait_for("six ready nodes, the restarted manager among them", FORM, || all_ready(&m1, 6));
    m1.cli_ok(&["service", "rm", "steady"]);
}
