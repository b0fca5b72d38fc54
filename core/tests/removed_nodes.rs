//! The store remembers the nodes `node rm` removed (`Store::removed_nodes`): a removal is recorded with its time,
//! a removed id can never register again, the list keeps only the newest `REMOVED_NODES_MAX`, a rejected batch
//! leaves it as it was, and it survives snapshots, those of the previous format included.

mod common;

use std::collections::BTreeMap;

use common::*;
use swarm_core::*;

fn removed_ids(store: &Store) -> Vec<&str> {
    store.removed_nodes().iter().map(|removed| removed.id.as_str()).collect()
}

#[test]
fn a_removal_is_recorded_with_its_time() {
    let mut store = store_with(&[init(), create_node("n1"), create_node("n2")]);
    assert!(store.removed_nodes().is_empty());
    store.apply(&at(T0 + 5, Command::RemoveNode { id: "n1".into() })).unwrap();
    assert_eq!(store.removed_nodes(), &[RemovedNode { id: "n1".into(), removed_at: Timestamp(T0 + 5) }]);
    assert!(store.is_removed_node("n1"));
    assert!(!store.is_removed_node("n2"));
}

#[test]
fn a_removed_id_never_registers_again() {
    let mut store = store_with(&[init(), create_node("n1")]);
    store.apply(&at(T0, Command::RemoveNode { id: "n1".into() })).unwrap();
    let before = store.clone();
    let refused = store.apply(&at(T0, create_node("n1"))).unwrap_err();
    assert_eq!(refused, Rejection::NodeRemoved { id: "n1".into() });
    assert_eq!(refused.to_string(), "Permission denied: node n1 was removed from swarm");
    assert_eq!(store, before);
}

#[test]
fn a_refused_removal_records_nothing() {
    let mut store = store_with(&[init(), create_node("n1")]);
    let before = store.clone();
    // The batch's second command fails: the removal in the first is rolled back, its record too.
    let batch = Command::Batch(vec![Command::RemoveNode { id: "n1".into() }, Command::RemoveNode { id: "n9".into() }]);
    assert!(store.apply(&at(T0, batch)).is_err());
    assert_eq!(store, before);
    assert!(store.removed_nodes().is_empty());
}

#[test]
fn only_the_newest_removals_are_remembered() {
    let mut store = store_with(&[init()]);
    let total = REMOVED_NODES_MAX + 3;
    for i in 0..total {
        let id = format!("n{i}");
        store.apply(&at(T0, create_node(&id))).unwrap();
        store.apply(&at(T0, Command::RemoveNode { id })).unwrap();
    }
    let ids = removed_ids(&store);
    assert_eq!(ids.len(), REMOVED_NODES_MAX);
    assert_eq!(ids.first().copied(), Some("n3"), "the three oldest are forgotten");
    assert_eq!(ids.last().map(|id| id.to_string()), Some(format!("n{}", total - 1)));
    store.check_invariants();
}

fn store_with_removals() -> Store {
    let mut store = store_with(&base());
    for id in ["gone1", "gone2"] {
        store.apply(&at(T0, create_node(id))).unwrap();
        store.apply(&at(T0 + 1, Command::RemoveNode { id: id.into() })).unwrap();
    }
    store
}

#[test]
fn removals_survive_a_snapshot() {
    let store = store_with_removals();
    let decoded = Store::decode_snapshot(&store.encode_snapshot()).expect("decodes");
    assert_eq!(removed_ids(&decoded), ["gone1", "gone2"]);
    assert_eq!(decoded, store);
}

/// The previous format, written the way the previous build wrote it.
fn previous_format(store: &Store) -> Vec<u8> {
    store.encode_snapshot_previous_format()
}

#[test]
fn a_snapshot_in_which_a_removed_node_is_a_member_is_refused() {
    let store = store_with(&base());
    let body = (
        store.cluster(),
        store.nodes().map(|n| (n.id.as_str(), n)).collect::<BTreeMap<_, _>>(),
        store.services().map(|s| (s.id.as_str(), s)).collect::<BTreeMap<_, _>>(),
        store.tasks().map(|t| (t.id.as_str(), t)).collect::<BTreeMap<_, _>>(),
        store.networks().map(|n| (n.id.as_str(), n)).collect::<BTreeMap<_, _>>(),
        vec![RemovedNode { id: "n1".into(), removed_at: Timestamp(T0) }],
        BTreeMap::<String, ()>::new(),
        BTreeMap::<String, ()>::new(),
        BTreeMap::<String, ()>::new(),
    );
    let mut bytes = vec![SNAPSHOT_FORMAT_VERSION];
    bytes.extend(postcard::to_stdvec(&body).unwrap());
    match Store::decode_snapshot(&bytes) {
        Err(DecodeError::Inconsistent { reason }) => assert!(reason.contains("n1"), "{reason}"),
        other => panic!("expected an inconsistent snapshot, got {other:?}"),
    }
    // The same body without the removal decodes to the store: the tuple is today's format (9), its tunnel
    // records, secrets and configs empty.
    let mut bytes = vec![SNAPSHOT_FORMAT_VERSION];
    let empty = BTreeMap::<String, ()>::new;
    let without = (body.0, body.1, body.2, body.3, body.4, Vec::<RemovedNode>::new(), empty(), empty(), empty());
    bytes.extend(postcard::to_stdvec(&without).unwrap());
    assert_eq!(Store::decode_snapshot(&bytes), Ok(store));
}

#[test]
fn a_snapshot_of_the_previous_format_still_loads() {
    assert_eq!(SNAPSHOT_FORMAT_VERSION_PREVIOUS + 1, SNAPSHOT_FORMAT_VERSION);
    let store = store_with(&base());
    let decoded = Store::decode_snapshot(&previous_format(&store)).expect("the previous format decodes");
    assert_eq!(decoded, store);
    assert!(decoded.removed_nodes().is_empty());
    // Written again, it is in the current format.
    assert_eq!(decoded.encode_snapshot()[0], SNAPSHOT_FORMAT_VERSION);
    // The removals of a previous-format snapshot load with it (format 5 introduced them).
    let with_removals = store_with_removals();
    let decoded = Store::decode_snapshot(&previous_format(&with_removals)).expect("decodes");
    assert_eq!(decoded, with_removals);
}

#[test]
fn a_truncated_previous_format_snapshot_is_a_typed_error() {
    let bytes = previous_format(&store_with(&base()));
    for len in 1..bytes.len() {
        assert!(Store::decode_snapshot(&bytes[..len]).is_err(), "prefix of {len} bytes");
    }
}
