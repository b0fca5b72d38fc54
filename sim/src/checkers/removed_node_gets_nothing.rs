//! A removed node gets nothing more (issue 14: "a revoked or removed node never gets another assignment or
//! answer"): once `node rm` of a dead worker committed, its host comes back with its old certificate and agent,
//! and from then on its engine creates no container (no assignment reached it), and every container it held is
//! removed by the end (its agent was told it was removed and cleaned up, as `swarm leave` would).

use crate::executor::ContainerRecord;

/// `records`: everything the removed node's engine ever held; `removed_at_ms`: when its removal committed.
pub fn check(node_id: &str, removed_at_ms: u64, records: &[ContainerRecord]) -> Vec<String> {
    let mut violations = Vec::new();
    for record in records {
        if record.created_ms > removed_at_ms {
            violations.push(format!(
                "removed node: {node_id} created a container for task {} at {} ms, after its removal at {} ms",
                record.task_id, record.created_ms, removed_at_ms
            ));
        }
        if record.removed_ms.is_none() {
            violations.push(format!(
                "removed node: {node_id} still holds the container of task {} at the end",
                record.task_id
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(created_ms: u64, removed_ms: Option<u64>) -> ContainerRecord {
        ContainerRecord {
            container_id: "c".into(),
            node_id: "n".into(),
            task_id: "t".into(),
            service_id: "s".into(),
            slot: Some(1),
            image: "i".into(),
            created_ms,
            started_ms: None,
            stopped_ms: None,
            exit_code: None,
            removed_ms,
            stopped_by_host_crash: false,
        }
    }

    #[test]
    fn nothing_new_and_nothing_left() {
        assert!(check("n", 100, &[record(50, Some(150))]).is_empty());
        assert_eq!(check("n", 100, &[record(150, Some(160))]).len(), 1, "created after the removal");
        assert_eq!(check("n", 100, &[record(50, None)]).len(), 1, "left behind");
    }
}
