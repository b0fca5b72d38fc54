//! Root CA rotation in the store, through `Store::apply`: one rotation at a time; node TLS reports kept per node
//! and dropped with it; secrets resealed only from the key they were sealed with; and a rotation that finishes
//! only when every node moved to the new root and every secret is sealed with its key — a down node too, until it
//! is removed — after which the new root is the cluster's and the join tokens carry its digest.

mod common;

use common::*;
use swarm_core::*;

fn rotation() -> CaRotation {
    CaRotation {
        new_root_cert: vec![0x30; 32],
        new_root_digest: "new".into(),
        new_root_key: SealedData { key_id: "old-key".into(), bytes: vec![1; 40] },
        cross_signed_cert: vec![0x31; 32],
        new_key_id: "new-key".into(),
        started_at: Timestamp(0),
    }
}

fn tls(cert_root: &str, trusted: &[&str]) -> NodeTls {
    NodeTls {
        cert_root_digest: cert_root.into(),
        trusted_root_digests: trusted.iter().map(|d| d.to_string()).collect(),
    }
}

fn report(node: &str, tls: NodeTls) -> Command {
    Command::SetNodeTls { node_id: node.into(), tls }
}

fn secret(id: &str, key_id: &str) -> Command {
    Command::CreateSecret {
        secret_id: id.into(),
        spec: SecretSpec { name: format!("name-{id}"), labels: Default::default() },
        sealed: SealedData { key_id: key_id.into(), bytes: vec![9; 20] },
    }
}

fn finish() -> Command {
    Command::FinishCaRotation { new_root_digest: "new".into() }
}

fn rejection(store: &mut Store, command: Command) -> String {
    match store.apply(&at(T0 + 1_000, command)) {
        Err(rejection) => rejection.to_string(),
        Ok(outcome) => panic!("expected a rejection, got {outcome:?}"),
    }
}

fn rotating_store() -> Store {
    store_with(&[
        init(),
        create_node("n1"),
        create_node("n2"),
        secret("s1", "old-key"),
        Command::StartCaRotation { rotation: rotation() },
    ])
}

#[test]
fn one_rotation_at_a_time() {
    let mut store = rotating_store();
    let stored = store.cluster().unwrap().ca.rotation.clone().expect("a rotation");
    assert_eq!(stored.started_at, Timestamp(T0 + 4), "the proposal's time, not the proposer's field");
    assert_eq!(
        rejection(&mut store, Command::StartCaRotation { rotation: rotation() }),
        "a root CA rotation is already in progress"
    );
    let mut idle = store_with(&[init()]);
    assert_eq!(rejection(&mut idle, finish()), "no root CA rotation is in progress");
    assert_eq!(
        rejection(&mut idle, Command::ResealSecrets { from_key_id: "old-key".into(), resealed: vec![] }),
        "no root CA rotation is in progress"
    );
}

#[test]
fn node_reports_are_kept_and_go_with_the_node() {
    let mut store = rotating_store();
    let report_n1 = report("n1", tls("new", &["new", "old"]));
    store.apply(&at(T0 + 10, report_n1.clone())).unwrap();
    assert_eq!(store.apply(&at(T0 + 11, report_n1)).unwrap(), Outcome::Unchanged);
    assert_eq!(rejection(&mut store, report("ghost", tls("new", &["new"]))), "no such node: ghost");
    assert!(store.cluster().unwrap().ca.node_tls.contains_key("n1"));
    store.apply(&at(T0 + 12, Command::RemoveNode { id: "n1".into() })).unwrap();
    assert!(!store.cluster().unwrap().ca.node_tls.contains_key("n1"));
    store.check_invariants();
}

#[test]
fn secrets_are_resealed_only_from_the_key_they_hold() {
    let mut store = rotating_store();
    // Before the first finished rotation a value sealed with any key enters (the leader reseals it).
    store.apply(&at(T0 + 10, secret("s2", "other-key"))).unwrap();
    let resealed = |id: &str| (id.to_string(), SealedData { key_id: "new-key".into(), bytes: vec![5; 20] });
    let command = Command::ResealSecrets {
        from_key_id: "old-key".into(),
        resealed: vec![resealed("s1"), resealed("s2"), resealed("gone")],
    };
    store.apply(&at(T0 + 11, command)).unwrap();
    assert_eq!(store.secret("s1").unwrap().sealed.key_id, "new-key");
    assert_eq!(store.secret("s1").unwrap().version, Version::INITIAL.next());
    assert_eq!(store.secret("s2").unwrap().sealed.key_id, "other-key", "sealed with another key meanwhile");
    let wrong = Command::ResealSecrets {
        from_key_id: "old-key".into(),
        resealed: vec![("s1".into(), SealedData { key_id: "old-key".into(), bytes: vec![5; 20] })],
    };
    assert!(rejection(&mut store, wrong).contains("not the new root's key new-key"));
}

#[test]
fn a_rotation_finishes_only_when_every_live_node_and_secret_moved() {
    let mut store = rotating_store();
    let waiting = rejection(&mut store, finish());
    assert!(waiting.contains("2 node(s) not on the new root yet, n1 among them"), "{waiting}");

    // A certificate of the new root is not enough: the node must trust it too.
    store.apply(&at(T0 + 10, report("n1", tls("new", &["old"])))).unwrap();
    store.apply(&at(T0 + 11, report("n2", tls("new", &["new", "old"])))).unwrap();
    assert!(rejection(&mut store, finish()).contains("1 node(s) not on the new root yet, n1 among them"));
    store.apply(&at(T0 + 12, report("n1", tls("new", &["new", "old"])))).unwrap();
    assert!(rejection(&mut store, finish()).contains("secret s1 is still sealed with key old-key"));
    let resealed = vec![("s1".to_string(), SealedData { key_id: "new-key".into(), bytes: vec![5; 20] })];
    store.apply(&at(T0 + 13, Command::ResealSecrets { from_key_id: "old-key".into(), resealed })).unwrap();

    // A node that is down is waited for too (it would be locked out), until it is removed.
    store.apply(&at(T0 + 14, create_node("n3"))).unwrap();
    let down = NodeStatus { state: NodeState::Down, ..NodeStatus::default() };
    store.apply(&at(T0 + 15, Command::SetNodeStatus { id: "n3".into(), status: down })).unwrap();
    assert!(rejection(&mut store, finish()).contains("n3"));
    store.apply(&at(T0 + 15, Command::RemoveNode { id: "n3".into() })).unwrap();

    let wrong_root = Command::FinishCaRotation { new_root_digest: "other".into() };
    assert!(rejection(&mut store, wrong_root).contains("the rotation in progress is to root new"));
    store.apply(&at(T0 + 16, finish())).unwrap();
    let ca = &store.cluster().unwrap().ca;
    assert!(ca.rotation.is_none());
    assert_eq!((ca.root_cert.as_slice(), ca.root_digest.as_str()), (&[0x30; 32][..], "new"));
    assert_eq!(ca.root_key.as_ref().map(|k| k.key_id.as_str()), Some("old-key"));
    assert_eq!(store.cluster().unwrap().join_tokens, JoinTokens::from_parts("new", "worker", "manager"));
    store.check_invariants();

    // From now on a secret sealed with the retired key (by a manager that lagged) is refused.
    let stale = rejection(&mut store, secret("s9", "old-key"));
    assert!(stale.contains("sealed with key old-key, which a root CA rotation retired"), "{stale}");
    store.apply(&at(T0 + 17, secret("s9", "new-key"))).unwrap();
}

#[test]
fn reports_are_bounded_and_leave_the_cluster_version_alone() {
    let mut store = rotating_store();
    let version = store.cluster().unwrap().version;
    store.apply(&at(T0 + 10, report("n1", tls("new", &["new", "old"])))).unwrap();
    assert_eq!(store.cluster().unwrap().version, version, "swarm update based on the version still applies");
    let many: Vec<String> = (0..5).map(|i| format!("d{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(rejection(&mut store, report("n1", tls("new", &refs))).contains("at most 4 trusted roots"));
    let long = "x".repeat(200);
    assert!(rejection(&mut store, report("n1", tls(&long, &["new"]))).contains("exceeds the maximum"));
}

#[test]
fn a_manager_is_waited_for_even_while_down() {
    let mut store = rotating_store();
    let manager = ManagerStatus {
        raft_id: 7,
        addr: "10.0.0.7:2377".into(),
        leader: false,
        reachability: Reachability::Reachable,
    };
    store.apply(&at(T0 + 5, Command::SetManagerStatus { id: "n2".into(), manager_status: Some(manager) })).unwrap();
    let down = NodeStatus { state: NodeState::Down, ..NodeStatus::default() };
    store.apply(&at(T0 + 6, Command::SetNodeStatus { id: "n2".into(), status: down })).unwrap();
    store.apply(&at(T0 + 7, report("n1", tls("new", &["new", "old"])))).unwrap();
    let resealed = vec![("s1".to_string(), SealedData { key_id: "new-key".into(), bytes: vec![5; 20] })];
    store.apply(&at(T0 + 8, Command::ResealSecrets { from_key_id: "old-key".into(), resealed })).unwrap();
    assert!(rejection(&mut store, finish()).contains("n2"), "a down manager would be locked out");
    store.apply(&at(T0 + 9, report("n2", tls("new", &["new", "old"])))).unwrap();
    store.apply(&at(T0 + 10, finish())).unwrap();
}
