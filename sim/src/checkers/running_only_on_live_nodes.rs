//! The replica count counts only tasks that really run: a task counts as a running replica of a service when its
//! observed state is RUNNING, its desired state is RUNNING, and its node is READY and not drained. This is the
//! rule behind Docker's REPLICAS column (`docker service ls`, docker/cli `service/list.go` counts running tasks on
//! nodes that are not down) and SwarmKit's task model (`design/task_model.md`: a down node's tasks are no longer
//! running as far as the orchestrator is concerned; a drained node's tasks are shut down). A task reported RUNNING
//! before its node went down must not keep the count up.
//!
//! The counting function under test is a parameter, so the runtime can plug in the function the CLI and
//! `service ls` use (core's, once it exists); `running_on_live_nodes` is the reference rule it must agree with.
//! Jobs are left out: their column counts completions, not running replicas.
use swarm_core::{NodeAvailability, NodeState, Service, ServiceMode, Store, Task, TaskState};

/// Whether `task` counts as a running replica under the rule.
pub fn counts_as_running(store: &Store, task: &Task) -> bool {
    task.status.state == TaskState::Running
        && task.desired_state == TaskState::Running
        && task.node_id.as_deref().and_then(|id| store.node(id)).is_some_and(|node| {
            node.status.state == NodeState::Ready && node.spec.availability != NodeAvailability::Drain
        })
}

/// The reference count: tasks of `service_id` that `counts_as_running`.
pub fn running_on_live_nodes(store: &Store, service_id: &str) -> u64 {
    let count = store.tasks_of_service(service_id).filter(|task| counts_as_running(store, task)).count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

fn is_long_running(service: &Service) -> bool {
    matches!(service.spec.mode, ServiceMode::Replicated { .. } | ServiceMode::Global)
}

/// Compares `count(store, service_id)` with the rule for every replicated and global service. Counting more is
/// the violation this checker exists for (the message names the running tasks on down or drained nodes that
/// explain it); counting fewer is reported too, so a count that ignores tasks cannot pass.
pub fn check(store: &Store, count: impl Fn(&Store, &str) -> u64) -> Vec<String> {
    let mut violations = Vec::new();
    for service in store.services().filter(|service| is_long_running(service)) {
        let expected = running_on_live_nodes(store, &service.id);
        let counted = count(store, &service.id);
        if counted == expected {
            continue;
        }
        let name = &service.spec.name;
        if counted > expected {
            let on_dead_nodes: Vec<String> = store
                .tasks_of_service(&service.id)
                .filter(|task| task.status.state == TaskState::Running && !counts_as_running(store, task))
                .map(|task| {
                    let node_id = task.node_id.as_deref().unwrap_or("none");
                    let node = match store.node(node_id) {
                        None => "missing".to_string(),
                        Some(node) => {
                            format!("{}/{}", node_state(node.status.state), availability(node.spec.availability))
                        }
                    };
                    format!("{} on node {node_id} ({node}, desired {})", task.id, task.desired_state)
                })
                .collect();
            violations.push(format!(
                "running only on live nodes: service {name} ({}) counts {counted} running replicas, but only \
                 {expected} run on ready, undrained nodes; running tasks not counted by the rule: {on_dead_nodes:?}",
                service.id
            ));
        } else {
            violations.push(format!(
                "running only on live nodes: service {name} ({}) counts {counted} running replicas, but {expected} \
                 tasks are running on ready, undrained nodes",
                service.id
            ));
        }
    }
    violations
}

fn node_state(state: NodeState) -> &'static str {
    match state {
        NodeState::Unknown => "unknown",
        NodeState::Down => "down",
        NodeState::Ready => "ready",
        NodeState::Disconnected => "disconnected",
    }
}

fn availability(availability: NodeAvailability) -> &'static str {
    match availability {
        NodeAvailability::Active => "active",
        NodeAvailability::Pause => "pause",
        NodeAvailability::Drain => "drain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::StoreBuilder;
    use swarm_core::{ServiceSpec, TaskState::*};

    /// Every kind of task on every kind of node: (task, node, observed, desired, counts?).
    fn cluster() -> StoreBuilder {
        let mut b = StoreBuilder::new();
        b.node("ready").node("paused").node("drained").node("down").node("unknown");
        b.availability("paused", NodeAvailability::Pause).availability("drained", NodeAvailability::Drain);
        b.node_state("down", NodeState::Down).node_state("unknown", NodeState::Unknown);
        b.service("s1", ServiceSpec::replicated("web", "busybox:1", 9));
        b.service("g1", ServiceSpec::global("agent", "busybox:1"));
        b.service("j1", ServiceSpec::replicated_job("batch", "busybox:1", 1, 1));
        let rows: [(&str, &str, Option<&str>, TaskState, TaskState); 10] = [
            ("t-ready", "s1", Some("ready"), Running, Running),
            ("t-paused", "s1", Some("paused"), Running, Running),
            ("t-drained", "s1", Some("drained"), Running, Running),
            ("t-down", "s1", Some("down"), Running, Running),
            ("t-unknown", "s1", Some("unknown"), Running, Running),
            ("t-stopping", "s1", Some("ready"), Running, Shutdown),
            ("t-starting", "s1", Some("ready"), Starting, Running),
            ("t-pending", "s1", None, Pending, Running),
            ("g-ready", "g1", Some("ready"), Running, Running),
            ("g-down", "g1", Some("down"), Running, Running),
        ];
        for (slot, (id, service, node, state, desired)) in (1..).zip(rows) {
            let slot = (service == "s1").then_some(slot);
            b.task(id, service, slot, node, state, desired);
        }
        b.task("j-ready", "j1", Some(1), Some("ready"), Running, Complete);
        b
    }

    #[test]
    fn the_rule_counts_running_wanted_tasks_on_ready_undrained_nodes() {
        let store = cluster().build();
        let counted: Vec<&str> =
            store.tasks().filter(|task| counts_as_running(&store, task)).map(|task| task.id.as_str()).collect();
        assert_eq!(counted, ["g-ready", "t-paused", "t-ready"]);
        assert_eq!(running_on_live_nodes(&store, "s1"), 2);
        assert_eq!(running_on_live_nodes(&store, "g1"), 1);
        assert_eq!(check(&store, running_on_live_nodes), Vec::<String>::new());
    }

    #[test]
    fn a_count_including_down_and_drained_nodes_is_caught_with_the_culprits() {
        let store = cluster().build();
        let naive = |store: &Store, service: &str| {
            store.tasks_of_service(service).filter(|task| task.status.state == Running).count() as u64
        };
        let violations = check(&store, naive);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations[0].contains("service agent (g1) counts 2 running replicas, but only 1"), "{violations:?}");
        assert!(violations[0].contains("g-down on node down (down/active, desired running)"), "{violations:?}");
        assert!(violations[1].contains("service web (s1) counts 6 running replicas, but only 2"), "{violations:?}");
        for culprit in ["t-drained on node drained (ready/drain", "t-down", "t-unknown", "t-stopping"] {
            assert!(violations[1].contains(culprit), "{culprit}: {violations:?}");
        }
        // Jobs are not judged: the naive count says 1 for the job and nothing is reported.
        assert!(violations.iter().all(|v| !v.contains("batch")));
    }

    #[test]
    fn a_count_that_ignores_tasks_is_caught_too() {
        let store = cluster().build();
        let violations = check(&store, |_, _| 0);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations[1].contains("service web (s1) counts 0 running replicas, but 2 tasks are running"));
    }

    #[test]
    fn the_count_follows_node_changes() {
        let mut b = cluster();
        b.node_state("ready", NodeState::Down);
        let store = b.build();
        assert_eq!(running_on_live_nodes(&store, "s1"), 1);
        assert_eq!(running_on_live_nodes(&store, "g1"), 0);
        assert_eq!(check(&store, running_on_live_nodes), Vec::<String>::new());
    }
}
