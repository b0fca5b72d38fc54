//! Raft log records across a proposal format bump: entries the previous build wrote (bare, proposal format 5) still
//! open, upgraded, beside the tagged entries this build writes; a format this build does not know, and damaged
//! records, are typed errors naming the entry, never a panic.

use std::sync::Arc;

use futures::executor::block_on;
use openraft::{CommittedLeaderId, EntryPayload, LogId, RaftLogReader};
use swarm_core::{Command, Proposal, ServiceSpec, Task, Timestamp, Version};
use swarm_runtime::raft::entry_format::{
    decode_entry, encode_entry, encode_entry_previous_format, EntryDecodeError, ENTRY_TAG,
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

/// Proposals touching every variant whose payload changed shape in format 6 (service specs, tasks, batches), plus
/// ones that did not.
fn proposals(read_only: bool) -> Vec<Proposal> {
    let mut spec = ServiceSpec::replicated("web", "nginx:1", 2);
    spec.task_template.container_spec.env = vec!["A=1".to_string()];
    if read_only {
        spec.task_template.container_spec.read_only = true;
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
    let disk = Arc::new(MemDisk::new());
    Wal::open(disk.clone()).expect("an empty disk opens").0.append(records).expect("append");
    LogStore::open(disk).map(|(log, _)| log).map_err(|error| error.to_string())
}

#[test]
fn entries_of_the_previous_build_open_upgraded_beside_todays() {
    let old = entry(1, proposals(false));
    let blank = Entry { log_id: LogId::new(CommittedLeaderId::new(3, 1), 2), payload: EntryPayload::Blank };
    let new = entry(3, proposals(true));
    let records = vec![
        (1, encode_entry_previous_format(&old).unwrap()),
        (2, encode_entry_previous_format(&blank).unwrap()),
        (3, encode_entry(&new).unwrap()),
    ];
    assert!(!records[0].1.starts_with(&ENTRY_TAG), "the previous build's records are bare");
    assert!(records[2].1.starts_with(&ENTRY_TAG), "today's records are tagged");
    let mut log = open_with_records(&records).expect("a log of both formats opens");
    let read = block_on(log.try_get_log_entries(1..4)).expect("read the log");
    assert_eq!(read, vec![old, blank, new], "format 5 upgrades to the same proposals; format 6 keeps its options");
}

#[test]
fn the_previous_format_drops_what_it_cannot_hold() {
    let bytes = encode_entry_previous_format(&entry(1, proposals(true))).unwrap();
    assert_eq!(decode_entry(&bytes).unwrap(), entry(1, proposals(false)));
}

#[test]
fn an_unknown_format_is_named_and_refused() {
    let mut bytes = ENTRY_TAG.to_vec();
    bytes.push(9);
    bytes.extend(postcard::to_stdvec(&entry(1, proposals(false))).unwrap());
    let message = open_with_records(&[(1, bytes)]).err().expect("format 9 is refused");
    assert_eq!(
        message,
        "raft log entry 1 cannot be read: it is in proposal format 9; this build reads formats 5 and 6 (written \
         by a newer build, or damaged?); refusing to start"
    );
}

#[test]
fn damaged_records_are_errors_never_panics() {
    let today = encode_entry(&entry(1, proposals(true))).unwrap();
    let previous = encode_entry_previous_format(&entry(1, proposals(false))).unwrap();
    for bytes in [&today, &previous] {
        for len in 0..bytes.len() {
            assert!(decode_entry(&bytes[..len]).is_err(), "a record cut to {len} bytes decodes");
        }
    }
    let message = open_with_records(&[(1, today[..ENTRY_TAG.len()].to_vec())]).err().expect("refused");
    assert!(message.contains("corrupt raft log: entry 1 does not decode (the record ends after its tag)"), "{message}");
    let mut longer = today.clone();
    longer.push(0);
    let message = open_with_records(&[(1, longer)]).err().expect("a byte past the entry is refused");
    assert!(message.contains("entry 1 does not decode (read as proposal format 6 (tagged): 1 bytes left"), "{message}");
    let message = open_with_records(&[(1, previous[..previous.len() - 1].to_vec())]).err().expect("refused");
    assert!(message.contains("entry 1 does not decode (read as proposal format 5 (untagged): "), "{message}");
}

/// A previous-format batch inside a batch is refused as today's is: decoding never recurses past one level.
#[test]
fn a_nested_batch_of_the_previous_format_is_refused() {
    let inner = Command::Batch(vec![Command::RemoveService { id: "s0".to_string() }]);
    let nested = entry(1, vec![Proposal::new(Timestamp(1), Command::Batch(vec![inner]))]);
    let bytes = encode_entry_previous_format(&nested).unwrap();
    // Postcard keeps no custom message ("Serde Deserialization Error"); that it is refused is what counts.
    assert!(matches!(decode_entry(&bytes), Err(EntryDecodeError::Malformed(_))));
    let flat = entry(
        1,
        vec![Proposal::new(Timestamp(1), Command::Batch(vec![Command::RemoveService { id: "s0".to_string() }]))],
    );
    assert_eq!(decode_entry(&encode_entry_previous_format(&flat).unwrap()).unwrap(), flat);
}
