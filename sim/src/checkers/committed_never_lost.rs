//! Committed-never-lost (Raft paper §5.4, leader completeness, seen from the client): every proposal a client saw
//! acknowledged is present in every manager's final state once the cluster has healed and converged — through
//! crashes that dropped unsynced writes, torn log tails, partitions and leader changes.
use std::collections::BTreeSet;

/// `final_states`: (manager id, ids of networks in its final store).
pub fn check(acknowledged: &BTreeSet<String>, final_states: &[(u64, BTreeSet<String>)]) -> Vec<String> {
    let mut violations = Vec::new();
    for (manager, present) in final_states {
        let missing: Vec<_> = acknowledged.difference(present).take(5).collect();
        if !missing.is_empty() {
            let count = acknowledged.difference(present).count();
            violations.push(format!(
                "committed-never-lost (Raft §5.4): manager {manager} lacks {count} acknowledged proposals, e.g. {missing:?}"
            ));
        }
    }
    violations
}
