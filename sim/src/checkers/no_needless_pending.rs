//! No needless pending (SwarmKit's scheduler, `manager/scheduler/scheduler.go`, and its task model: a task stays
//! PENDING only while no node can take it — "no suitable node" — and is retried whenever the cluster changes).
//! Judged on a manager's final store after convergence: if the scheduler, asked now, would place some task that
//! is still pending, the leader failed to run (or to commit) a scheduling round the cluster needed. The judge is
//! core's own `scheduler::decide`, so this checks the pipeline's plumbing (rounds triggered on every change, their
//! commands committed), not the scheduler's placement rules.
use swarm_core::scheduler::decide;
use swarm_core::{Store, TaskState, Timestamp};

/// `now`: the time to judge at (the leader's clock; it only dates recent failures, which rank nodes but never
/// make a fitting task unplaceable).
pub fn check(store: &Store, now: Timestamp) -> Vec<String> {
    decide(store, now)
        .assignments
        .into_iter()
        .filter_map(|assignment| {
            let task = store.task(&assignment.task_id)?;
            if task.status.state != TaskState::Pending {
                return None;
            }
            let service = store.service(&task.service_id).map_or(task.service_id.as_str(), |s| s.spec.name.as_str());
            let place = match (task.slot, task.node_id.as_deref()) {
                (Some(slot), _) => format!("slot {slot}"),
                (None, Some(node)) => format!("node {node}"),
                (None, None) => "no slot".to_string(),
            };
            let waiting = task.status.err.as_deref().map_or(String::new(), |err| format!(" (pending with \"{err}\")"));
            Some(format!(
                "no needless pending (SwarmKit scheduler): task {} of service {service} ({place}) is still pending \
                 but fits node {}{waiting}",
                task.id, assignment.node_id
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::StoreBuilder;
    use swarm_core::{Command, NodeAvailability, NodeState, ServiceSpec, TaskState::*, TaskStatus};

    fn now() -> Timestamp {
        Timestamp(1_000_000)
    }

    #[test]
    fn a_pending_task_that_fits_a_node_is_reported() {
        let mut b = StoreBuilder::new();
        b.node("n1").service("s1", ServiceSpec::replicated("web", "busybox:1", 1));
        b.task("t1", "s1", Some(1), None, Pending, Running);
        let violations = check(&b.build(), now());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].contains("task t1 of service web (slot 1) is still pending but fits node n1"),
            "{violations:?}"
        );
        // Once assigned, nothing is pending.
        b.apply(Command::AssignTask { id: "t1".into(), node_id: "n1".into() });
        assert_eq!(check(&b.build(), now()), Vec::<String>::new());
    }

    #[test]
    fn a_pending_task_that_fits_nowhere_is_fine() {
        let mut b = StoreBuilder::new();
        b.node("n1").node("n2").node("n3");
        b.availability("n1", NodeAvailability::Drain).node_state("n2", NodeState::Down);
        b.availability("n3", NodeAvailability::Pause);
        let mut constrained = ServiceSpec::replicated("db", "busybox:1", 1);
        constrained.task_template.placement.constraints = vec!["node.labels.disk==ssd".into()];
        b.service("s1", ServiceSpec::replicated("web", "busybox:1", 1)).service("s2", constrained);
        b.task("t1", "s1", Some(1), None, Pending, Running);
        b.task("t2", "s2", Some(1), None, Pending, Running);
        let store = b.build();
        assert_eq!(check(&store, now()), Vec::<String>::new());
        // A ready node with the label makes both placeable: two violations, the stale explanation quoted.
        let explanation = "no suitable node (1 node not available for new tasks)";
        let status = TaskStatus {
            state: Pending,
            timestamp: Timestamp(5),
            err: Some(explanation.into()),
            ..TaskStatus::default()
        };
        b.apply(Command::UpdateTaskStatus { id: "t1".into(), status });
        b.node_with("n4", |node| {
            node.spec.labels.insert("disk".into(), "ssd".into());
        });
        let violations = check(&b.build(), now());
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations[0].contains("task t1 of service web (slot 1)"), "{violations:?}");
        assert!(violations[0].contains(&format!("fits node n4 (pending with \"{explanation}\")")), "{violations:?}");
        assert!(violations[1].contains("task t2 of service db (slot 1) is still pending but fits node n4"));
    }

    #[test]
    fn global_tasks_bound_to_their_node_and_unwanted_tasks() {
        let mut b = StoreBuilder::new();
        b.node("n1").service("g1", ServiceSpec::global("agent", "busybox:1"));
        b.task("g-n1", "g1", None, Some("n1"), Pending, Running);
        let violations = check(&b.build(), now());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].contains("task g-n1 of service agent (node n1) is still pending but fits node n1"));
        // A pending task nobody wants any more is not the scheduler's business.
        b.set_desired("g-n1", Shutdown);
        assert_eq!(check(&b.build(), now()), Vec::<String>::new());
    }
}
