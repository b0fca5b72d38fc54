//! Raft log records across a proposal format bump and at rest: entries the previous build wrote (tagged, proposal
//! format 6) still open, upgraded, beside the entries this build writes, sealed with the manager's data key or not;
//! a format this build does not know (the bare records of format 5 among them), a sealed record without its key,
//! under another key or moved to another index, and damaged records, are typed errors naming the entry, never a
//! panic.

use std::sync::Arc;

use futures::executor::block_on;
use openraft::{CommittedLeaderId, EntryPayload, LogId, RaftLogReader};
use swarm_core::{Command, FileTarget, Proposal, SecretReference, ServiceSpec, Task, Timestamp, Version};
use swarm_runtime::aead::AeadKey;
use swarm_runtime::raft::entry_format::{
    decode_entry, encode_entry, encode_entry_previous_format, EntryDecodeError, ENCRYPTED_FORMAT, ENTRY_TAG,
};
use swarm_runtime::raft::log_store::LogStore;
use swarm_runtime::raft::types::{Entry, ProposalBatch};
use swarm_runtime::storage::mem_disk::MemDisk;
use swarm_runtime::storage::wal::Wal;

fn entry(index: u64, proposals: Vec<Proposal>) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(3, 1), index),
        payload: EntryPayload::Normal(ProposalBatch(proposals)),
    }
}

/// Proposals touching every variant whose payload changed shape in format 7 (service specs, tasks, batches), plus
/// ones that did not; `with_secret`: the spec uses what format 7 added (a secret reference).
fn proposals(with_secret: bool) -> Vec<Proposal> {
    let mut spec = ServiceSpec::replicated("web", "nginx:1", 2);
    spec.task_template.container_spec.env = vec!["A=1".to_string()];
    spec.task_template.container_spec.read_only = true;
    if with_secret {
        spec.task_template.container_spec.secrets = vec![SecretReference {
            secret_id: "x1".to_string(),
            secret_name: "pw".to_string(),
            file: FileTarget::default_for("pw"),
        }];
    }
    let task = Task::new("t1", "s1", Some(1), spec.task_template.clone());
    vec![
        Proposal::new(Timestamp(10), Command::CreateService { service_id: "s1".to_string(), spec: spec.clone() }),
        Proposal::new(Timestamp(11), Command::CreateTasks { tasks: vec![task] }),
        Proposal::new(
            Timestamp(12),
            Command::Batch(vec![
                Command::UpdateService { id: "s1".to_string(), version: Version::INITIAL, spec },
                Command::RemoveService { id: "s0".to_string() },
            ]),
        ),
        Proposal::new(Timestamp(13), Command::AssignTask { id: "t1".to_string(), node_id: "n1".to_string() }),
    ]
}

fn open_with_records(records: &[(u64, Vec<u8>)]) -> Result<LogStore, String> {
    open_with_key(records, None)
}

fn open_with_key(records: &[(u64, Vec<u8>)], key: Option<&Arc<AeadKey>>) -> Result<LogStore, String> {
    let disk = Arc::new(MemDisk::new());
    Wal::open(disk.clone()).expect("an empty disk opens").0.append(records).expect("append");
    LogStore::open(disk, key.cloned()).map(|(log, _)| log).map_err(|error| error.to_string())
}

fn key(byte: u8) -> Arc<AeadKey> {
    Arc::new(AeadKey::from_bytes(&[byte; 32]))
}

#[test]
fn entries_of_the_previous_build_open_upgraded_beside_todays() {
    let old = entry(1, proposals(false));
    let blank = Entry { log_id: LogId::new(CommittedLeaderId::new(3, 1), 2), payload: EntryPayload::Blank };
    let new = entry(3, proposals(true));
    let data_key = key(1);
    let records = vec![
        (1, encode_entry_previous_format(&old).unwrap()),
        (2, encode_entry_previous_format(&blank).unwrap()),
        (3, encode_entry(&new, None).unwrap()),
        (4, encode_entry(&entry(4, proposals(true)), Some(&data_key)).unwrap()),
    ];
    assert_eq!(records[0].1[ENTRY_TAG.len()], 6, "the previous build's records are tagged format 6");
    assert_eq!(records[2].1[ENTRY_TAG.len()], 7, "today's records are tagged format 7");
    assert_eq!(records[3].1[ENTRY_TAG.len()], ENCRYPTED_FORMAT, "sealed records say so");
    let mut log = open_with_key(&records, Some(&data_key)).expect("a log of both formats, sealed or not, opens");
    let read = block_on(log.try_get_log_entries(1..5)).expect("read the log");
    let expected = vec![old, blank, new, entry(4, proposals(true))];
    assert_eq!(read, expected, "format 6 upgrades to the same proposals; format 7 keeps its secrets");
}

#[test]
fn sealed_records_open_only_with_their_key_at_their_index() {
    let data_key = key(1);
    let sealed = encode_entry(&entry(1, proposals(true)), Some(&data_key)).unwrap();
    let plain = encode_entry(&entry(1, proposals(true)), None).unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(text(&plain).contains("nginx:1") && !text(&sealed).contains("nginx:1"), "nothing readable at rest");
    assert_eq!(decode_entry(&sealed, 1, Some(&data_key)).unwrap(), entry(1, proposals(true)));
    assert_eq!(decode_entry(&sealed, 1, None), Err(EntryDecodeError::NoDataKey));
    assert_eq!(decode_entry(&sealed, 1, Some(&key(2))), Err(EntryDecodeError::NotDecryptable));
    assert_eq!(decode_entry(&sealed, 2, Some(&data_key)), Err(EntryDecodeError::NotDecryptable), "moved");
    let message = open_with_records(&[(1, sealed.clone())]).err().expect("no key, no log");
    assert!(message.contains("encrypted at rest and this node holds no data key"), "{message}");
    let message = open_with_key(&[(1, sealed)], Some(&key(3))).err().expect("another key, no log");
    assert!(message.contains("does not open with this node's data key"), "{message}");
}

#[test]
fn the_previous_format_drops_what_it_cannot_hold() {
    let bytes = encode_entry_previous_format(&entry(1, proposals(true))).unwrap();
    assert_eq!(decode_entry(&bytes, 1, None).unwrap(), entry(1, proposals(false)));
}

#[test]
fn an_unknown_format_is_named_and_refused() {
    let mut bytes = ENTRY_TAG.to_vec();
    bytes.push(9);
    bytes.extend(postcard::to_stdvec(&entry(1, proposals(false))).unwrap());
    let message = open_with_records(&[(1, bytes)]).err().expect("format 9 is refused");
    assert_eq!(
        message,
        "raft log entry 1 cannot be read: it is in proposal format 9; this build reads formats 6 and 7 only \
         (written by another build, or damaged?); refusing to start"
    );
    // The bare records of format 5 (two builds back) are named, not guessed at.
    let bare = postcard::to_stdvec(&entry(1, proposals(false))).unwrap();
    let message = open_with_records(&[(1, bare)]).err().expect("format 5 is refused");
    assert!(message.contains("it is in proposal format 5;"), "{message}");
}

#[test]
fn damaged_records_are_errors_never_panics() {
    let data_key = key(1);
    let today = encode_entry(&entry(1, proposals(true)), None).unwrap();
    let sealed = encode_entry(&entry(1, proposals(true)), Some(&data_key)).unwrap();
    let previous = encode_entry_previous_format(&entry(1, proposals(false))).unwrap();
    for bytes in [&today, &previous, &sealed] {
        for len in 0..bytes.len() {
            assert!(decode_entry(&bytes[..len], 1, Some(&data_key)).is_err(), "a record cut to {len} bytes decodes");
        }
    }
    let message = open_with_records(&[(1, today[..ENTRY_TAG.len()].to_vec())]).err().expect("refused");
    assert!(message.contains("corrupt raft log: entry 1 does not decode (the record ends after its tag)"), "{message}");
    let mut longer = today.clone();
    longer.push(0);
    let message = open_with_records(&[(1, longer)]).err().expect("a byte past the entry is refused");
    assert!(message.contains("entry 1 does not decode (read as proposal format 7: 1 bytes left"), "{message}");
    let message = open_with_records(&[(1, previous[..previous.len() - 1].to_vec())]).err().expect("refused");
    assert!(message.contains("entry 1 does not decode (read as proposal format 6: "), "{message}");
}

/// A previous-format batch inside a batch is refused as today's is: decoding never recurses past one level.
#[test]
fn a_nested_batch_of_the_previous_format_is_refused() {
    let inner = Command::Batch(vec![Command::RemoveService { id: "s0".to_string() }]);
    let nested = entry(1, vec![Proposal::new(Timestamp(1), Command::Batch(vec![inner]))]);
    let bytes = encode_entry_previous_format(&nested).unwrap();
    // Postcard keeps no custom message ("Serde Deserialization Error"); that it is refused is what counts.
    assert!(matches!(decode_entry(&bytes, 1, None), Err(EntryDecodeError::Malformed(_))));
    let flat = entry(
        1,
        vec![Proposal::new(Timestamp(1), Command::Batch(vec![Command::RemoveService { id: "s0".to_string() }]))],
    );
    assert_eq!(decode_entry(&encode_entry_previous_format(&flat).unwrap(), 1, None).unwrap(), flat);
}
