//! Mutual TLS on the cluster port, end to end on real daemons: a worker joins over TLS with a token whose CA digest
//! it checks first; plain HTTP, garbage, a self-made certificate and an expired one are refused with a log line
//! naming the peer; a worker's certificate opens no manager endpoint and acts in the dispatcher only as itself; a
//! malformed signing request is a clear 400; a token naming another CA is refused before its secret is sent; and
//! `node rm` cuts off the removed node's connections that are already open.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use swarm_core::{NodeRole, Timestamp};
use swarm_runtime::clock::wall_clock_now;
use swarm_runtime::daemon::cert_files::CertFiles;
use swarm_runtime::dispatcher::api::{DispatcherError, SessionRef, SessionReply, SessionRequest};
use swarm_runtime::http::{CallError, HttpClient};
use swarm_runtime::tls::keys::fresh_key_pkcs8;
use swarm_runtime::tls::{ClientTls, RootCa, TlsHandle};
use swarm_tests::{block_on, node_id_of, scratch_dir, wait_for, Daemon, Role};

const FORM: Duration = Duration::from_secs(60);

/// The HTTP status and body text of a call that must fail with a status.
fn refused<T: std::fmt::Debug>(result: Result<T, CallError>) -> (u16, String) {
    match result {
        Err(CallError::Status { status, message, .. }) => (status, message),
        other => panic!("expected a refusal with a status, got {other:?}"),
    }
}

/// Sends `bytes` on a plain TCP connection to `addr` and returns whatever comes back before the peer closes.
fn raw_exchange(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    stream.write_all(bytes).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// A TLS client that trusts `root_der` and presents `identity`'s chain and key whatever root signed them: what an
/// attacker with a certificate of its own would do. Returns the HTTP answer, or the error that ended the exchange.
fn call_with_foreign_certificate(
    addr: &str,
    root_der: &[u8],
    chain: Vec<Vec<u8>>,
    key: Vec<u8>,
) -> Result<Vec<u8>, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    let provider = swarm_runtime::tls::crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(root_der.to_vec())).unwrap();
    let chain = chain.into_iter().map(CertificateDer::from).collect();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
        .unwrap();
    let name = ServerName::try_from("swarm-manager").unwrap();
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut socket = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut tls = rustls::Stream::new(&mut connection, &mut socket);
    let request = format!("GET /cluster/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer) {
        Ok(_) if !answer.is_empty() => Ok(answer),
        Ok(_) => Err("the connection closed without an answer".into()),
        Err(error) => Err(error.to_string()),
    }
}

#[test]
fn the_cluster_port_takes_only_this_swarms_certificates_and_roles() {
    let dir = scratch_dir("mtls");
    let manager_addr = "127.0.38.1:2338";
    let worker_addr = "127.0.38.2:2338";
    let m1 = Daemon::start(manager_addr, &dir.join("m1"), Role::Init);
    wait_for("an initialised cluster", FORM, || m1.leads_initialized_cluster().then_some(()));
    let worker_token = m1.join_token("worker");
    let w1 = Daemon::start(worker_addr, &dir.join("w1"), Role::Join { addr: manager_addr, token: &worker_token });
    let worker_id = node_id_of(&w1.data_dir).expect("the worker's node id");
    let manager_id = node_id_of(&m1.data_dir).expect("the manager's node id");
    wait_for("the worker to be ready", FORM, || {
        let store = m1.store_json()?;
        let ready =
            store["nodes"].as_array()?.iter().any(|n| n["id"] == worker_id.as_str() && n["status"]["state"] == "ready");
        ready.then_some(())
    });

    // The worker's certificate names it, as a worker of this cluster, under the root its token named.
    let (worker_identity, worker_ca) =
        CertFiles::open(&w1.data_dir).unwrap().load().expect("the worker's certificates");
    assert_eq!(worker_identity.node_id(), worker_id);
    assert_eq!(worker_identity.role(), NodeRole::Worker);
    assert!(worker_ca.is_none(), "a worker keeps no CA key");
    let (manager_identity, manager_ca) =
        CertFiles::open(&m1.data_dir).unwrap().load().expect("the manager's certificates");
    let ca = manager_ca.expect("a manager keeps the CA key");
    assert_eq!(worker_identity.cluster_id(), manager_identity.cluster_id());
    let digest = swarm_runtime::tls::token_digest(&worker_token).expect("a token digest");
    assert_eq!(digest, ca.digest(), "the token carries the root CA's digest");
    let cert_dir = m1.data_dir.join("certificates");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cert_dir).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "the certificates directory is private");

    // Plain HTTP: no answer, and a log line naming the peer and the reason.
    let plain = raw_exchange(manager_addr, b"GET /cluster/store HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!String::from_utf8_lossy(&plain).contains("join_tokens"), "plain HTTP must not read the store");
    wait_for("the plain-HTTP refusal in the log", FORM, || {
        m1.log()
            .lines()
            .any(|l| l.contains("refused a connection on the cluster port") && l.contains("not TLS"))
            .then_some(())
    });
    let plain_client = block_on(HttpClient::new(manager_addr).get("/cluster/store", Duration::from_secs(10)));
    assert!(plain_client.is_err(), "plain HTTP gets no answer: {plain_client:?}");
    // Garbage bytes on the TLS port: the connection closes, the manager keeps serving.
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    raw_exchange(manager_addr, &noise);

    // A certificate of another root, presented by a client that trusts this swarm's root: refused.
    let foreign_root = RootCa::create("elsewhere", wall_clock_now(), fresh_key_pkcs8().unwrap()).unwrap();
    let foreign = foreign_root
        .issue_identity(
            fresh_key_pkcs8().unwrap(),
            &manager_id,
            NodeRole::Manager,
            manager_identity.cluster_id(),
            wall_clock_now(),
            swarm_runtime::tls::ca::NODE_CERT_VALIDITY,
        )
        .unwrap();
    let chain = vec![foreign.cert_der().to_vec(), foreign_root.cert_der().to_vec()];
    let answer = call_with_foreign_certificate(manager_addr, ca.cert_der(), chain, foreign.key_pkcs8().to_vec());
    assert!(answer.is_err() || !String::from_utf8_lossy(answer.as_ref().unwrap()).contains("200 OK"), "{answer:?}");
    wait_for("the foreign-certificate refusal in the log", FORM, || {
        m1.log().lines().any(|l| l.contains("client certificate is not one of this swarm's")).then_some(())
    });
    // An expired certificate of this very root (the manager's CA key signs it here): refused too.
    let expired_cert = {
        let key = fresh_key_pkcs8().unwrap();
        let csr = swarm_runtime::tls::identity::signing_request(&key).unwrap();
        let long_ago = Timestamp(wall_clock_now().0 - 10 * 24 * 3600 * 1000);
        let cert = ca
            .issue(
                &csr,
                &worker_id,
                NodeRole::Manager,
                manager_identity.cluster_id(),
                long_ago,
                Duration::from_secs(24 * 3600),
            )
            .unwrap();
        (cert, key)
    };
    let chain = vec![expired_cert.0, ca.cert_der().to_vec()];
    let answer = call_with_foreign_certificate(manager_addr, ca.cert_der(), chain, expired_cert.1);
    assert!(answer.is_err() || !String::from_utf8_lossy(answer.as_ref().unwrap()).contains("200 OK"), "{answer:?}");
    wait_for("the expired-certificate refusal in the log", FORM, || {
        m1.log()
            .lines()
            .any(|l| l.contains("client certificate is not one of this swarm's") && l.contains("Expired"))
            .then_some(())
    });

    // The worker's own certificate opens no manager endpoint.
    let worker_tls = TlsHandle::new(worker_identity.clone()).unwrap();
    let mut as_worker = HttpClient::tls(manager_addr, ClientTls::to_managers(&worker_tls));
    for (method, path) in [
        ("GET", "/cluster/store"),
        ("GET", "/cluster/status"),
        ("POST", "/cluster/propose"),
        ("POST", "/raft/append"),
        ("POST", "/cluster/managers/remove"),
        ("POST", "/leader/-/dispatcher/session"),
    ] {
        let result = block_on(async {
            match method {
                "GET" => as_worker.get(path, Duration::from_secs(10)).await,
                _ => as_worker.post(path, vec![1, 2, 3], Duration::from_secs(10)).await,
            }
        });
        let (status, message) = refused(result);
        assert_eq!(status, 403, "{method} {path} as a worker: {message}");
        assert!(message.contains("is not a manager of this swarm"), "{message}");
    }
    // In the dispatcher it acts only as itself.
    let as_manager_node =
        postcard::to_stdvec(&SessionRef { node_id: manager_id.clone(), session_id: "x".into() }).unwrap();
    let (status, message) =
        refused(block_on(as_worker.post("/dispatcher/heartbeat", as_manager_node, Duration::from_secs(10))));
    assert_eq!(status, 403, "{message}");
    assert!(message.contains(&format!("may not act for node {manager_id}")), "{message}");
    let other_role = serde_json::to_vec(&serde_json::json!({ "node_id": manager_id })).unwrap();
    let (status, _) = refused(block_on(as_worker.post("/cluster/node-role", other_role, Duration::from_secs(10))));
    assert_eq!(status, 403);
    let own_role = serde_json::to_vec(&serde_json::json!({ "node_id": worker_id })).unwrap();
    block_on(as_worker.post("/cluster/node-role", own_role.clone(), Duration::from_secs(10)))
        .expect("a worker may ask its own role");

    // Without a certificate only `join` answers; a malformed signing request is a clear 400.
    let mut anonymous = HttpClient::tls(manager_addr, ClientTls::joining(digest).unwrap());
    let (status, message) = refused(block_on(anonymous.get("/cluster/status", Duration::from_secs(10))));
    assert_eq!((status, message.as_str()), (401, "this endpoint needs a client certificate of this swarm"));
    for (csr, expected) in [
        ("not PEM at all", "certificate signing request"),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "invalid certificate signing request",
        ),
    ] {
        let body = serde_json::to_vec(
            &serde_json::json!({ "token": worker_token, "addr": "127.0.38.9:2338", "csr_pem": csr }),
        )
        .unwrap();
        let (status, message) = refused(block_on(anonymous.post("/cluster/join", body, Duration::from_secs(10))));
        assert_eq!(status, 400, "{message}");
        assert!(message.contains(expected), "{message}");
    }

    // Without a certificate a body may not be large either: a join needs a few KiB.
    let (status, _) =
        refused(block_on(anonymous.post("/cluster/join", vec![b'x'; 100 * 1024], Duration::from_secs(10))));
    assert_eq!(status, 413, "an anonymous body over 64 KiB is refused");

    // A manager token with a Raft id but no certificate does not add a voter.
    let manager_token = m1.join_token("manager");
    let body =
        serde_json::to_vec(&serde_json::json!({ "token": manager_token, "addr": "127.0.38.9:2338", "raft_id": 77 }))
            .unwrap();
    let (status, message) = refused(block_on(anonymous.post("/cluster/join", body, Duration::from_secs(10))));
    assert_eq!(status, 403, "{message}");
    assert_eq!(m1.status().expect("status").voters.len(), 1, "no voter was added");

    // A node that joined with the worker token cannot make itself a manager: its first session claims the manager
    // role and a manager status, and its renewal still gets a worker's certificate, without the CA's key.
    let key = fresh_key_pkcs8().unwrap();
    let csr = pem::encode(&pem::Pem::new(
        "CERTIFICATE REQUEST",
        swarm_runtime::tls::identity::signing_request(&key).unwrap(),
    ));
    let body =
        serde_json::to_vec(&serde_json::json!({ "token": worker_token, "addr": "127.0.38.8:2338", "csr_pem": csr }))
            .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(
        &block_on(anonymous.post("/cluster/join", body, Duration::from_secs(10))).expect("a worker joins"),
    )
    .unwrap();
    let certificate = &reply["certificate"];
    let climber_id = certificate["node_id"].as_str().unwrap().to_string();
    assert_eq!(certificate["role"], "worker");
    assert!(certificate["ca_key_pem"].is_null());
    let cert =
        swarm_runtime::tls::identity::pem_block(certificate["cert_pem"].as_str().unwrap(), "CERTIFICATE", "cert")
            .unwrap();
    let climber =
        TlsHandle::new(swarm_runtime::tls::NodeIdentity::new(cert, key, ca.cert_der().to_vec()).unwrap()).unwrap();
    let mut as_climber = HttpClient::tls(manager_addr, ClientTls::to_managers(&climber));
    let session = SessionRequest {
        node_id: climber_id.clone(),
        description: Default::default(),
        addr: "127.0.38.8".into(),
        role: NodeRole::Manager,
        availability: Default::default(),
        manager: Some(swarm_core::ManagerStatus {
            raft_id: 77,
            addr: "127.0.38.8:2338".into(),
            leader: false,
            reachability: swarm_core::Reachability::Reachable,
        }),
    };
    let answer = block_on(as_climber.post(
        "/dispatcher/session",
        postcard::to_stdvec(&session).unwrap(),
        Duration::from_secs(10),
    ))
    .expect("a session");
    let opened: Result<SessionReply, DispatcherError> = postcard::from_bytes(&answer).unwrap();
    assert!(opened.is_ok(), "{opened:?}");
    let stored = m1.store_json().unwrap();
    let node = stored["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == climber_id.as_str())
        .expect("registered")
        .clone();
    assert_eq!(node["spec"]["role"], "worker", "{node}");
    assert!(node["manager_status"].is_null(), "{node}");
    let key = fresh_key_pkcs8().unwrap();
    let csr = pem::encode(&pem::Pem::new(
        "CERTIFICATE REQUEST",
        swarm_runtime::tls::identity::signing_request(&key).unwrap(),
    ));
    let body = serde_json::to_vec(&serde_json::json!({ "node_id": climber_id, "csr_pem": csr })).unwrap();
    let renewed: serde_json::Value = serde_json::from_slice(
        &block_on(as_climber.post("/cluster/ca/renew", body, Duration::from_secs(10))).expect("a renewal"),
    )
    .unwrap();
    assert_eq!(renewed["role"], "worker");
    assert!(renewed["ca_key_pem"].is_null());
    m1.cli_ok(&["node", "rm", "--force", &climber_id]);

    // A token naming another CA: the joining node refuses the manager before it sends anything.
    let wrong_digest = swarm_runtime::tls::ca_digest(foreign_root.cert_der());
    let forged_token = worker_token.replace(digest, &wrong_digest);
    let issued_before = m1.log().matches("issued a node certificate").count();
    let j1 = Daemon::start("127.0.38.3:2338", &dir.join("j1"), Role::Restart);
    wait_for("the joiner's control socket", FORM, || j1.socket.exists().then_some(()));
    let output = j1.cli(&["join", "--token", &forged_token, manager_addr]);
    assert!(!output.status.success());
    assert!(output.stderr_text().contains("does not match the join token's digest"), "{}", output.stderr_text());
    assert_eq!(m1.log().matches("issued a node certificate").count(), issued_before, "no certificate was issued");
    assert!(node_id_of(&j1.data_dir).is_none(), "the joiner stays outside the swarm");

    // `node rm` revokes the worker's certificate: its open connection is refused from the next request on.
    let mut w1 = w1;
    w1.kill9();
    m1.cli_ok(&["node", "rm", "--force", &worker_id]);
    let (status, message) = refused(block_on(as_worker.post("/cluster/node-role", own_role, Duration::from_secs(10))));
    assert_eq!(status, 403, "{message}");
    assert!(message.contains(&format!("node {worker_id} was removed from swarm")), "{message}");
    // Its agent is told so in the dispatcher's words, so it removes its own containers.
    let heartbeat = postcard::to_stdvec(&SessionRef { node_id: worker_id.clone(), session_id: "x".into() }).unwrap();
    let answer =
        block_on(as_worker.post("/dispatcher/heartbeat", heartbeat, Duration::from_secs(10))).expect("an answer");
    let told: Result<swarm_runtime::dispatcher::api::HeartbeatReply, DispatcherError> =
        postcard::from_bytes(&answer).unwrap();
    assert_eq!(told, Err(DispatcherError::NodeRemoved(worker_id.clone())));
    assert!(m1.status().is_some(), "the manager survived all of it");
}
