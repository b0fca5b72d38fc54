//! Snapshot agreement (follows from Raft §5.4.3 plus the determinism of `core::Store::apply`): snapshots that
//! different managers built locally at the same index are byte-identical. A failure means `apply` or snapshot
//! encoding depends on something other than the log (iteration order, clock, node identity).
use crate::recorder::Record;

pub fn check(record: &Record) -> Vec<String> {
    record
        .snapshots
        .iter()
        .filter(|(_, by_digest)| by_digest.len() > 1)
        .map(|(index, by_digest)| {
            let groups: Vec<_> = by_digest.values().collect();
            format!("snapshot agreement: snapshots at index {index} differ between managers {groups:?}")
        })
        .collect()
}
