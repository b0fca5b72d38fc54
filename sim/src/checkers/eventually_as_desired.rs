//! Eventually as desired (SwarmKit's reconciliation model, `design/orchestrators.md` and `design/task_model.md`:
//! orchestrators drive the observed state toward the service specs; Docker's docs, "Deploy services to a swarm":
//! a replicated service runs the requested number of replicas, a global service one task on every available node
//! that meets its placement constraints, a job runs until its completions are done). Judged on a manager's final
//! store, after faults are healed and the cluster had time to converge:
//! - replicated: exactly `replicas` slots hold a wanted task, one each, every one RUNNING with desired RUNNING on
//!   a ready, undrained node — and no other wanted task;
//! - global: every ready, active node that satisfies the placement (constraints and platforms) runs exactly one
//!   wanted task, RUNNING with desired RUNNING; a node that is down, drained or fails the constraints holds no
//!   wanted task; any other node (paused, not yet ready, wrong platform) holds at most one, and not a running
//!   one on a platform the service excludes;
//! - replicated job: slots 1..=total_completions each have a COMPLETE task and nothing is still running;
//! - global job: every ready, active node that satisfies the placement has a COMPLETE task and nothing is still
//!   running.
//!
//! "Wanted" is SwarmKit's runnable test, desired state at most COMPLETE. A service whose restart policy may give
//! up on a slot (condition `none`/`on-failure`, `max_attempts`) or whose tasks keep failing by design (a paused
//! failed update) cannot converge in this sense: leave it out with `check_services`.
use std::collections::BTreeMap;

use swarm_core::{Constraint, Node, NodeAvailability, NodeState, Service, ServiceMode, Store, Task, TaskState};

fn is_wanted(task: &Task) -> bool {
    task.desired_state <= TaskState::Complete
}

fn is_live(node: &Node) -> bool {
    node.status.state == NodeState::Ready && node.spec.availability != NodeAvailability::Drain
}

fn constraints_match(service: &Service, node: &Node) -> bool {
    Constraint::parse_all(&service.spec.task_template.placement.constraints)
        .is_ok_and(|constraints| Constraint::all_match(&constraints, node))
}

/// A node a global service or job must cover: ready, active, placement (constraints and platform) satisfied.
fn must_cover(service: &Service, node: &Node) -> bool {
    node.status.state == NodeState::Ready
        && node.spec.availability == NodeAvailability::Active
        && service.spec.task_template.placement.node_matches(node)
}

/// What keeps a wanted task from being a healthy replica, if anything.
fn unhealthy(store: &Store, task: &Task) -> Option<String> {
    let mut problems = Vec::new();
    if task.status.state != TaskState::Running {
        problems.push(format!("is {}", task.status.state));
    }
    if task.desired_state != TaskState::Running {
        problems.push(format!("is desired {}", task.desired_state));
    }
    match task.node_id.as_deref() {
        None => problems.push("has no node".to_string()),
        Some(node_id) => match store.node(node_id) {
            None => problems.push(format!("sits on missing node {node_id}")),
            Some(node) if !is_live(node) => problems
                .push(format!("sits on node {node_id} which is {:?}/{:?}", node.status.state, node.spec.availability)),
            Some(_) => {}
        },
    }
    (!problems.is_empty()).then(|| problems.join(", "))
}

/// Judges every service.
pub fn check(store: &Store) -> Vec<String> {
    check_services(store, |_| true)
}

/// Judges the services `include` accepts.
pub fn check_services(store: &Store, include: impl Fn(&Service) -> bool) -> Vec<String> {
    let mut violations = Vec::new();
    for service in store.services().filter(|service| include(service)) {
        let mut found = Vec::new();
        match service.spec.mode {
            ServiceMode::Replicated { replicas } => replicated(store, service, replicas, &mut found),
            ServiceMode::Global => global(store, service, &mut found),
            ServiceMode::ReplicatedJob { total_completions, .. } => {
                replicated_job(store, service, total_completions, &mut found)
            }
            ServiceMode::GlobalJob => global_job(store, service, &mut found),
        }
        let label = format!(
            "eventually as desired: {} service {} ({})",
            service.spec.mode.as_str(),
            service.spec.name,
            service.id
        );
        violations.extend(found.into_iter().map(|problem| format!("{label}: {problem}")));
    }
    violations
}

fn replicated(store: &Store, service: &Service, replicas: u64, found: &mut Vec<String>) {
    let mut by_slot: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for task in store.tasks_of_service(&service.id).filter(|task| is_wanted(task)) {
        match task.slot {
            Some(slot) => by_slot.entry(slot).or_default().push(task),
            None => found.push(format!("wanted task {} has no slot", task.id)),
        }
    }
    for (slot, tasks) in &by_slot {
        if tasks.len() > 1 {
            let ids: Vec<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
            found.push(format!("slot {slot} has {} wanted tasks {ids:?}", tasks.len()));
        }
        for task in tasks {
            if let Some(problem) = unhealthy(store, task) {
                found.push(format!("slot {slot}: task {} {problem}", task.id));
            }
        }
    }
    let held = u64::try_from(by_slot.len()).unwrap_or(u64::MAX);
    if held < replicas {
        found.push(format!("only {held} of {replicas} replicas have a wanted task (slots {:?})", by_slot.keys()));
    } else if held > replicas {
        found.push(format!(
            "{held} slots have wanted tasks, but {replicas} replicas are wanted (slots {:?})",
            by_slot.keys()
        ));
    }
}

/// Wanted tasks of a global service or job, by node.
fn by_node<'s>(store: &'s Store, service: &Service, found: &mut Vec<String>) -> BTreeMap<&'s str, Vec<&'s Task>> {
    let mut by_node: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for task in store.tasks_of_service(&service.id).filter(|task| is_wanted(task)) {
        match task.node_id.as_deref() {
            Some(node_id) => by_node.entry(node_id).or_default().push(task),
            None => found.push(format!("wanted task {} has no node", task.id)),
        }
    }
    by_node
}

fn global(store: &Store, service: &Service, found: &mut Vec<String>) {
    let mut by_node = by_node(store, service, found);
    for node in store.nodes() {
        let tasks = by_node.remove(node.id.as_str()).unwrap_or_default();
        let ids: Vec<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
        if must_cover(service, node) {
            match tasks.as_slice() {
                [] => found.push(format!("node {} is ready, active and eligible but has no wanted task", node.id)),
                [task] => {
                    if let Some(problem) = unhealthy(store, task) {
                        found.push(format!("node {}: task {} {problem}", node.id, task.id));
                    }
                }
                _ => found.push(format!("node {} has {} wanted tasks {ids:?}", node.id, tasks.len())),
            }
            continue;
        }
        if tasks.is_empty() {
            continue;
        }
        let must_leave = node.status.state == NodeState::Down
            || node.spec.availability == NodeAvailability::Drain
            || !constraints_match(service, node);
        if must_leave {
            found.push(format!(
                "node {} is {:?}/{:?}{} but still has wanted tasks {ids:?}",
                node.id,
                node.status.state,
                node.spec.availability,
                if constraints_match(service, node) { "" } else { " and fails the constraints" }
            ));
        } else if tasks.len() > 1 {
            found.push(format!("node {} has {} wanted tasks {ids:?}", node.id, tasks.len()));
        } else if !service.spec.task_template.placement.platform_matches(node)
            && tasks.iter().any(|task| task.status.state == TaskState::Running)
        {
            found.push(format!("node {} runs {ids:?} on a platform the service excludes", node.id));
        }
    }
    for (node_id, tasks) in by_node {
        let ids: Vec<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
        found.push(format!("wanted tasks {ids:?} sit on missing node {node_id}"));
    }
}

/// Wanted job tasks that have not finished: after convergence none should be left.
fn unfinished_job_tasks(store: &Store, service: &Service, found: &mut Vec<String>) {
    for task in store.tasks_of_service(&service.id) {
        if is_wanted(task) && !task.status.state.is_terminal() {
            let place = match (task.slot, task.node_id.as_deref()) {
                (Some(slot), _) => format!("slot {slot}"),
                (None, Some(node)) => format!("node {node}"),
                (None, None) => "no node".to_string(),
            };
            found.push(format!(
                "{place}: task {} is still {} (desired {})",
                task.id, task.status.state, task.desired_state
            ));
        }
    }
}

fn replicated_job(store: &Store, service: &Service, total_completions: u64, found: &mut Vec<String>) {
    let completed: Vec<u64> = store
        .tasks_of_service(&service.id)
        .filter(|task| task.status.state == TaskState::Complete)
        .filter_map(|task| task.slot)
        .collect();
    let missing: Vec<u64> = (1..=total_completions).filter(|slot| !completed.contains(slot)).collect();
    if !missing.is_empty() {
        let done = total_completions - u64::try_from(missing.len()).unwrap_or(u64::MAX);
        found.push(format!(
            "{done} of {total_completions} completions done; slots without a completed task: {missing:?}"
        ));
    }
    unfinished_job_tasks(store, service, found);
}

fn global_job(store: &Store, service: &Service, found: &mut Vec<String>) {
    for node in store.nodes().filter(|node| must_cover(service, node)) {
        let done = store
            .tasks_on_node(&node.id)
            .any(|task| task.service_id == service.id && task.status.state == TaskState::Complete);
        if !done {
            found.push(format!("node {} is ready, active and eligible but has no completed task", node.id));
        }
    }
    unfinished_job_tasks(store, service, found);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::StoreBuilder;
    use swarm_core::{Platform, ServiceSpec, TaskState::*};

    /// A table row: name, a change to a converged store, the violations it must cause (substrings, in order).
    type Case = (&'static str, fn(&mut StoreBuilder), &'static [&'static str]);

    fn nodes() -> StoreBuilder {
        let mut b = StoreBuilder::new();
        b.node("n1").node("n2").node("n3");
        b
    }

    fn replicated_ok() -> StoreBuilder {
        let mut b = nodes();
        b.service("s1", ServiceSpec::replicated("web", "busybox:1", 2));
        b.task("a", "s1", Some(1), Some("n1"), Running, Running);
        b.task("b", "s1", Some(2), Some("n2"), Running, Running);
        // History does not count: a failed and a shut-down task of slot 1.
        b.task("old1", "s1", Some(1), Some("n3"), Failed, Shutdown);
        b.task("old2", "s1", Some(1), Some("n3"), Shutdown, Shutdown);
        b
    }

    fn assert_violations(store: &Store, expected: &[&str]) {
        let violations = check(store);
        assert_eq!(violations.len(), expected.len(), "{violations:#?}");
        for (violation, want) in violations.iter().zip(expected) {
            assert!(violation.contains(want), "{violation:?} lacks {want:?}; all: {violations:#?}");
        }
    }

    #[test]
    fn a_converged_replicated_service_passes() {
        assert_violations(&replicated_ok().build(), &[]);
    }

    #[test]
    fn replicated_problems_name_the_slot() {
        let cases: [Case; 6] = [
            (
                "missing replica",
                |b| {
                    b.set_desired("b", Shutdown);
                },
                &["only 1 of 2 replicas have a wanted task (slots [1])"],
            ),
            (
                "extra slot",
                |b| {
                    b.task("c", "s1", Some(3), Some("n3"), Running, Running);
                },
                &["3 slots have wanted tasks, but 2 replicas"],
            ),
            (
                "two in a slot",
                |b| {
                    b.task("c", "s1", Some(2), Some("n3"), Running, Running);
                },
                &["slot 2 has 2 wanted tasks [\"b\", \"c\"]"],
            ),
            (
                "not running yet",
                |b| {
                    b.task("c", "s1", Some(3), None, Pending, Running).set_desired("b", Remove);
                },
                &["slot 3: task c is pending, has no node"],
            ),
            (
                "node down",
                |b| {
                    b.node_state("n2", NodeState::Down);
                },
                &["slot 2: task b sits on node n2 which is Down/Active"],
            ),
            (
                "node drained",
                |b| {
                    b.availability("n1", NodeAvailability::Drain);
                },
                &["slot 1: task a sits on node n1 which is Ready/Drain"],
            ),
        ];
        for (name, change, expected) in cases {
            let mut b = replicated_ok();
            change(&mut b);
            let violations = check(&b.build());
            assert_eq!(violations.len(), expected.len(), "{name}: {violations:#?}");
            for (violation, want) in violations.iter().zip(expected) {
                assert!(violation.starts_with("eventually as desired: replicated service web (s1): "), "{violation}");
                assert!(violation.contains(want), "{name}: {violation:?} lacks {want:?}");
            }
        }
    }

    #[test]
    fn a_task_told_to_stop_but_still_running_counts_as_extra() {
        // Scale-down told slot 2 to go (desired Remove): not wanted, so not a replica, even while still running.
        let mut b = replicated_ok();
        b.set_desired("b", Remove);
        assert_violations(&b.build(), &["only 1 of 2 replicas"]);
        // A desired-Running task that is still starting is wanted but not healthy.
        let mut b = replicated_ok();
        b.task("c", "s1", Some(3), Some("n3"), Starting, Running).set_desired("a", Shutdown);
        assert_violations(&b.build(), &["slot 3: task c is starting"]);
    }

    fn global_cluster() -> StoreBuilder {
        let mut b = nodes();
        b.node_with("arm", |n| {
            n.description.platform = Platform { os: "linux".into(), architecture: "aarch64".into() };
        });
        b.node_with("db", |n| {
            n.spec.labels.insert("role".into(), "db".into());
        });
        for node in ["n1", "n2", "n3"] {
            b.apply(swarm_core::Command::SetNodeDescription {
                id: node.into(),
                description: swarm_core::NodeDescription {
                    platform: Platform { os: "linux".into(), architecture: "x86_64".into() },
                    ..b.store.node(node).unwrap().description.clone()
                },
            });
        }
        let mut spec = ServiceSpec::global("agent", "busybox:1");
        spec.task_template.placement.constraints = vec!["node.labels.role!=db".into()];
        spec.task_template.placement.platforms = vec![Platform { os: "linux".into(), architecture: "amd64".into() }];
        b.service("g1", spec);
        b.task("g-n1", "g1", None, Some("n1"), Running, Running);
        b.task("g-n2", "g1", None, Some("n2"), Running, Running);
        b.task("g-n3", "g1", None, Some("n3"), Running, Running);
        b
    }

    #[test]
    fn a_global_service_covers_every_eligible_node_only() {
        // "arm" fails the platform, "db" the constraint: neither needs a task.
        assert_violations(&global_cluster().build(), &[]);
        // A pending task on the wrong platform (the scheduler cannot place it) is tolerated; a running one is not.
        let mut b = global_cluster();
        b.task("g-arm", "g1", None, Some("arm"), Pending, Running);
        assert_violations(&b.build(), &[]);
        b.set_state("g-arm", Running);
        assert_violations(&b.build(), &["node arm runs [\"g-arm\"] on a platform the service excludes"]);
    }

    #[test]
    fn global_problems_name_the_node() {
        let cases: [Case; 5] = [
            (
                "missing",
                |b| {
                    b.set_desired("g-n2", Shutdown);
                },
                &["node n2 is ready, active and eligible but has no wanted task"],
            ),
            (
                "two",
                |b| {
                    b.task("g-n1b", "g1", None, Some("n1"), Running, Running);
                },
                &["node n1 has 2 wanted tasks [\"g-n1\", \"g-n1b\"]"],
            ),
            (
                "constraint",
                |b| {
                    b.task("g-db", "g1", None, Some("db"), Running, Running);
                },
                &["node db is Ready/Active and fails the constraints but still has wanted tasks [\"g-db\"]"],
            ),
            (
                "down",
                |b| {
                    b.node_state("n3", NodeState::Down);
                },
                &["node n3 is Down/Active but still has wanted tasks [\"g-n3\"]"],
            ),
            (
                "not running",
                |b| {
                    b.set_state("g-n1", Complete);
                },
                &["node n1: task g-n1 is complete"],
            ),
        ];
        for (name, change, expected) in cases {
            let mut b = global_cluster();
            change(&mut b);
            let violations = check(&b.build());
            assert_eq!(violations.len(), expected.len(), "{name}: {violations:#?}");
            for (violation, want) in violations.iter().zip(expected) {
                assert!(violation.starts_with("eventually as desired: global service agent (g1): "), "{violation}");
                assert!(violation.contains(want), "{name}: {violation:?} lacks {want:?}");
            }
        }
        // A paused node keeps its task and needs none.
        let mut b = global_cluster();
        b.availability("n3", NodeAvailability::Pause);
        assert_violations(&b.build(), &[]);
        b.set_desired("g-n3", Shutdown);
        assert_violations(&b.build(), &[]);
    }

    #[test]
    fn jobs_must_have_their_completions() {
        let mut b = nodes();
        b.service("j1", ServiceSpec::replicated_job("batch", "busybox:1", 2, 3));
        b.task("j1-1", "j1", Some(1), Some("n1"), Complete, Complete);
        b.task("j1-2a", "j1", Some(2), Some("n2"), Failed, Shutdown);
        b.task("j1-2b", "j1", Some(2), Some("n2"), Complete, Complete);
        b.task("j1-3", "j1", Some(3), Some("n3"), Running, Complete);
        assert_violations(
            &b.build(),
            &["2 of 3 completions done; slots without a completed task: [3]", "slot 3: task j1-3 is still running"],
        );
        b.set_state("j1-3", Complete);
        assert_violations(&b.build(), &[]);
        // A global job: every eligible node completes once; a drained node needs nothing.
        b.service("gj", ServiceSpec::global_job("once", "busybox:1"));
        b.availability("n3", NodeAvailability::Drain);
        b.task("gj-n1", "gj", None, Some("n1"), Complete, Complete);
        b.task("gj-n2", "gj", None, Some("n2"), Starting, Complete);
        assert_violations(
            &b.build(),
            &[
                "global job service once (gj): node n2 is ready, active and eligible but has no completed task",
                "node n2: task gj-n2 is still starting",
            ],
        );
        b.set_state("gj-n2", Complete);
        assert_violations(&b.build(), &[]);
    }

    #[test]
    fn check_services_leaves_out_what_cannot_converge() {
        let mut b = replicated_ok();
        b.service("s2", ServiceSpec::replicated("flaky", "fail:1", 1));
        b.task("f", "s2", Some(1), Some("n1"), Failed, Shutdown);
        assert_violations(&b.build(), &["flaky"]);
        assert_eq!(check_services(&b.build(), |service| service.spec.name != "flaky"), Vec::<String>::new());
    }
}
