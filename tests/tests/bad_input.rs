//! Peers and clients sending garbage: every Raft and cluster endpoint of a real daemon answers a malformed,
//! truncated or oversized body with an HTTP error naming the endpoint — through mutual TLS, as another manager of
//! the swarm — and the manager keeps working afterwards.

use std::time::Duration;

use swarm_runtime::daemon::cert_files::CertFiles;
use swarm_runtime::http::{CallError, HttpClient, BODY_BYTES_MAX};
use swarm_runtime::tls::keys::fresh_key_pkcs8;
use swarm_runtime::tls::RootCa;
use swarm_tests::{block_on, create_networks, scratch_dir, wait_for, Daemon, Role};

#[test]
fn garbage_bodies_get_errors_and_the_manager_survives() {
    let dir = scratch_dir("bad-input");
    let addr = "127.0.35.1:2335";
    let daemon = Daemon::start(addr, &dir.join("m1"), Role::Init);
    wait_for("an initialised cluster", Duration::from_secs(30), || daemon.leads_initialized_cluster().then_some(()));
    create_networks(&daemon, &[addr.to_string()], "before", 3);

    let endpoints = [
        "/raft/append",
        "/raft/vote",
        "/raft/snapshot",
        "/raft/pre-vote",
        "/cluster/propose",
        "/cluster/join",
        "/cluster/ca/renew",
        "/cluster/promote",
        "/cluster/managers/remove",
        "/dispatcher/session",
        "/dispatcher/heartbeat",
        "/dispatcher/assignments",
        "/dispatcher/status",
        "/dispatcher/tunnel",
        "/leader/-/dispatcher/session",
    ];
    // (description, body): random bytes, a truncated valid-looking prefix, empty, JSON where postcard is expected.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let random: Vec<u8> = (0..300)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes", random),
        ("empty", Vec::new()),
        ("truncated", vec![0x01]),
        ("json", br#"{"node_id": "not a number"}"#.to_vec()),
    ];
    block_on(async {
        let mut client = daemon.cluster_client(addr).expect("the manager's certificate");
        for path in endpoints {
            for (what, body) in &bodies {
                match client.post(path, body.clone(), Duration::from_secs(5)).await {
                    Err(CallError::Status { status, message, .. }) => {
                        assert_eq!(status, 400, "{path} with {what}: {message}");
                        // A call forwarded to the leader (`/leader/<node>/...`) is named by the endpoint it was for.
                        let named = path.strip_prefix("/leader/-").unwrap_or(path);
                        assert!(
                            message.contains(named),
                            "{path} with {what}: the error should name the endpoint: {message}"
                        );
                    }
                    other => panic!("{path} with {what}: expected HTTP 400, got {other:?}"),
                }
            }
        }
        // The role query takes any node id, so only bodies that are not its JSON are malformed there.
        for (what, body) in bodies.iter().filter(|(what, _)| *what != "json") {
            match client.post("/cluster/node-role", body.clone(), Duration::from_secs(5)).await {
                Err(CallError::Status { status, message, .. }) => {
                    assert_eq!(status, 400, "/cluster/node-role with {what}: {message}");
                    assert!(message.contains("/cluster/node-role"), "{message}");
                }
                other => panic!("/cluster/node-role with {what}: expected HTTP 400, got {other:?}"),
            }
        }
        // One byte over the limit is refused before it is decoded.
        let oversized = vec![0u8; BODY_BYTES_MAX + 1];
        match client.post("/raft/append", oversized, Duration::from_secs(30)).await {
            Err(CallError::Status { status, .. }) => assert_eq!(status, 413),
            other => panic!("oversized body: expected HTTP 413, got {other:?}"),
        }
        let mut fresh = daemon.cluster_client(addr).expect("the manager's certificate");
        match fresh.get("/no/such/endpoint", Duration::from_secs(5)).await {
            Err(CallError::Status { status, .. }) => assert_eq!(status, 404),
            other => panic!("unknown endpoint: expected 404, got {other:?}"),
        }
    });
    // The control API (unix socket) answers garbage the same way.
    let control_endpoints = [
        "/v1/swarm/init",
        "/v1/swarm/join",
        "/v1/swarm/join-token",
        "/v1/swarm/leave",
        "/v1/services/create",
        "/v1/services/update",
        "/v1/services/rollback",
        "/v1/services/remove",
        "/v1/services/logs",
        "/v1/nodes/update",
        "/v1/nodes/remove",
        "/v1/networks/create",
        "/v1/networks/remove",
        "/v1/swarm/update",
        "/v1/swarm/unlock",
        "/v1/swarm/unlock-key",
        "/v1/swarm/ca",
        "/v1/secrets/create",
        "/v1/secrets/remove",
        "/v1/configs/create",
        "/v1/configs/remove",
        "/v1/configs/inspect",
    ];
    block_on(async {
        let mut client = HttpClient::new(format!("unix://{}", daemon.socket.display()));
        for path in control_endpoints {
            for (what, body) in &bodies {
                match client.post(path, body.clone(), Duration::from_secs(5)).await {
                    Err(CallError::Status { status, message, .. }) => {
                        assert_eq!(status, 400, "{path} with {what}: {message}");
                        assert!(message.contains(path), "{path} with {what}: the error should name it: {message}");
                    }
                    other => panic!("{path} with {what}: expected HTTP 400, got {other:?}"),
                }
            }
        }
    });
    // Still a working leader that commits.
    create_networks(&daemon, &[addr.to_string()], "after", 3);
    assert_eq!(daemon.network_names().expect("store").len(), 6);
}

/// Bad flags and a damaged data directory stop the daemon at once with a message naming the problem.
#[test]
fn bad_flags_and_damaged_data_dir_fail_with_clear_errors() {
    let dir = scratch_dir("bad-flags");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(swarm_tests::swarm_bin()).args(args).output().expect("run swarm");
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let data = dir.join("m1");
    let data_dir = data.to_str().expect("utf-8 path");
    // (arguments, words the error must contain)
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["daemon", "--data-dir", data_dir, "--listen-addr", "not-an-address"], "--listen-addr"),
        (vec!["daemon", "--data-dir", data_dir, "-H", "tcp://127.0.0.1:1"], "unix socket"),
        (
            vec!["daemon", "--data-dir", data_dir, "--listen-addr", "127.0.36.1:2336", "--log-level", "=="],
            "--log-level",
        ),
        (vec!["daemon", "--data-dir", data_dir, "--node-cert-validity", "1s"], "1s is too short: at least 10s"),
        (
            vec!["status", "-H", "unix:///nonexistent/swarm.sock"],
            "Cannot connect to the swarm daemon at unix:///nonexistent/swarm.sock",
        ),
    ];
    for (args, expected) in cases {
        let (ok, stderr) = run(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in:\n{stderr}");
    }
    std::fs::create_dir_all(&data).expect("data dir");
    let sock = dir.join("m1.sock");
    let host = format!("unix://{}", sock.display());
    let start = ["daemon", "--data-dir", data_dir, "--listen-addr", "127.0.36.1:2336", "-H", host.as_str()];
    std::fs::write(data.join("node.json"), "{ not json").expect("node.json");
    let (ok, stderr) = run(&start);
    assert!(!ok);
    assert!(stderr.contains("node.json") && stderr.contains("not a node record"), "{stderr}");
    let record = serde_json::json!({
        "node_id": "n1", "role": "manager", "cluster_id": "c1", "listen_addr": "127.0.36.1:2336",
        "advertise_addr": "127.0.36.1:2336", "managers": [], "availability": "active"
    });
    std::fs::write(data.join("node.json"), record.to_string()).expect("node.json");
    // A node in a swarm without its certificate, or with a damaged one, names the file and does not start.
    let (ok, stderr) = run(&start);
    assert!(!ok);
    assert!(stderr.contains("certificates/swarm-node.pem: missing"), "{stderr}");
    let now = swarm_runtime::clock::wall_clock_now();
    let root = RootCa::create("c1", now, fresh_key_pkcs8().unwrap()).unwrap();
    let identity = root
        .issue_identity(
            fresh_key_pkcs8().unwrap(),
            "n1",
            swarm_core::NodeRole::Manager,
            "c1",
            now,
            swarm_runtime::tls::ca::NODE_CERT_VALIDITY,
        )
        .unwrap();
    let files = CertFiles::open(&data).unwrap();
    files.save(&identity, Some(&root)).unwrap();
    let cert_path = data.join("certificates/swarm-node.pem");
    let good_cert = std::fs::read(&cert_path).unwrap();
    std::fs::write(&cert_path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let (ok, stderr) = run(&start);
    assert!(!ok);
    assert!(stderr.contains("swarm-node.pem") && stderr.contains("refusing to start"), "{stderr}");
    std::fs::write(&cert_path, good_cert).unwrap();
    std::fs::write(data.join("node-id"), "not a number\n").expect("node-id");
    let (ok, stderr) = run(&start);
    assert!(!ok);
    assert!(stderr.contains("node-id") && stderr.contains("not a node id"), "{stderr}");
}
