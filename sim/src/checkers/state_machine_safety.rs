//! State-machine safety (Raft paper §5.4.3, Figure 3): if a manager has applied a log entry at a given index, no
//! manager ever applies a different entry at that index — so all managers apply identical prefixes.
//! Source: the digest of every entry each manager applied (including re-application after a restart).
use crate::recorder::Record;

pub fn check(record: &Record) -> Vec<String> {
    record
        .applied
        .iter()
        .filter(|(_, by_digest)| by_digest.len() > 1)
        .map(|(index, by_digest)| {
            let groups: Vec<_> = by_digest.values().collect();
            format!("state-machine safety (Raft §5.4.3): index {index} was applied as different entries by managers {groups:?}")
        })
        .collect()
}
