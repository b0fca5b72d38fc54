//! Observed state only moves forward (SwarmKit's task model, `api/types.proto` `TaskState` and the design doc
//! `design/task_model.md`: "the observed state of a task only ever moves forward"; a task's lifecycle is
//! NEW → PENDING → ... → RUNNING → COMPLETE/SHUTDOWN/FAILED/REJECTED/REMOVE/ORPHANED), and a task, once deleted
//! (by the task reaper or with its service), is gone for good: no later state of the same manager brings it back.
//! Source of observations: successive stores of one manager, fed one at a time while the scenario runs.
//!
//! A manager that restarts replays its log from its snapshot and passes through older states on the way; those
//! are not regressions. Feed such a manager with `observe_at(applied_index, store)`, which ignores any state at
//! or below an index already observed, or start a fresh checker for it.
use std::collections::{BTreeMap, BTreeSet};

use swarm_core::{Store, TaskState};

/// Violations reported per task at most this often, so one broken task cannot drown the report.
const VIOLATIONS_PER_TASK_MAX: usize = 3;

#[derive(Debug, Default, Clone)]
pub struct ObservedStateMonotonic {
    /// The last observed state of every task seen and still present.
    last: BTreeMap<String, TaskState>,
    /// Tasks seen once and deleted since.
    gone: BTreeSet<String>,
    /// The highest applied index observed through `observe_at`.
    highest_index: Option<u64>,
    observations: u64,
    violations: Vec<String>,
    per_task: BTreeMap<String, usize>,
}

impl ObservedStateMonotonic {
    pub fn new() -> ObservedStateMonotonic {
        ObservedStateMonotonic::default()
    }

    /// Compares `store` with every state observed before it.
    pub fn observe(&mut self, store: &Store) {
        self.observations += 1;
        let mut present = BTreeMap::new();
        for task in store.tasks() {
            let state = task.status.state;
            if self.gone.contains(&task.id) {
                self.report(&task.id, format!("task {} reappeared (state {state}) after it was deleted", task.id));
            }
            if let Some(&before) = self.last.get(&task.id) {
                if state < before {
                    self.report(
                        &task.id,
                        format!(
                            "task {} (service {}) moved backward from {before} to {state}",
                            task.id, task.service_id
                        ),
                    );
                }
            }
            present.insert(task.id.clone(), state);
        }
        for id in self.last.keys() {
            if !present.contains_key(id) {
                self.gone.insert(id.clone());
            }
        }
        // A reappeared task stays marked gone: it was deleted once, whatever happens next.
        self.last = present;
    }

    /// `observe`, for a store at Raft applied index `index`; a store at or below an index already observed is
    /// an older state (a restarted manager replaying its log) and is skipped. Returns whether it was observed.
    pub fn observe_at(&mut self, index: u64, store: &Store) -> bool {
        if self.highest_index.is_some_and(|highest| index <= highest) {
            return false;
        }
        self.highest_index = Some(index);
        self.observe(store);
        true
    }

    /// How many stores were compared.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.clone()
    }

    fn report(&mut self, task_id: &str, what: String) {
        let count = self.per_task.entry(task_id.to_string()).or_default();
        *count += 1;
        if *count <= VIOLATIONS_PER_TASK_MAX {
            let observation = self.observations;
            self.violations
                .push(format!("observed state monotonic (SwarmKit task model): {what} in observation {observation}"));
        }
    }
}

/// The violations in a sequence of one manager's stores, oldest first.
pub fn check<'a>(stores: impl IntoIterator<Item = &'a Store>) -> Vec<String> {
    let mut checker = ObservedStateMonotonic::new();
    for store in stores {
        checker.observe(store);
    }
    checker.violations()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::StoreBuilder;
    use swarm_core::{ServiceSpec, TaskState::*};

    fn base() -> StoreBuilder {
        let mut b = StoreBuilder::new();
        b.node("n1").service("s1", ServiceSpec::replicated("web", "busybox:1", 2));
        b.task("t1", "s1", Some(1), Some("n1"), Assigned, Running);
        b.task("t2", "s1", Some(2), None, Pending, Running);
        b
    }

    #[test]
    fn forward_moves_deletions_and_new_tasks_pass() {
        let mut b = base();
        let mut stores = vec![b.build()];
        b.set_state("t1", Preparing);
        stores.push(b.build());
        b.set_state("t1", Running).set_state("t2", Rejected);
        stores.push(b.build());
        stores.push(b.build()); // unchanged
        b.remove_tasks(&["t2"]).task("t3", "s1", Some(2), None, Pending, Running);
        stores.push(b.build());
        assert_eq!(check(&stores), Vec::<String>::new());
    }

    #[test]
    fn a_backward_move_is_reported_with_both_states() {
        // A store cannot itself move a state backward (apply rejects it), so the regression shows up between two
        // stores: e.g. a manager that lost applied entries. Model it with two unrelated stores.
        let mut b = base();
        b.set_state("t1", Running);
        let later = b.build();
        let earlier = base().build();
        let violations = check([&later, &earlier]);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].contains("task t1 (service s1) moved backward from running to assigned"),
            "{violations:?}"
        );
    }

    #[test]
    fn a_deleted_task_must_not_reappear() {
        let b = base();
        let with = b.build();
        let mut without = b;
        without.remove_tasks(&["t2"]);
        let without = without.build();
        let violations = check([&with, &without, &with]);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].contains("task t2 reappeared (state pending) after it was deleted"), "{violations:?}");
        // Once reported, it stays gone: deleting and re-adding again reports again.
        let violations = check([&with, &without, &with, &without, &with]);
        assert_eq!(violations.len(), 2, "{violations:?}");
    }

    #[test]
    fn observe_at_skips_replayed_older_states() {
        let mut b = base();
        let old = b.build();
        b.set_state("t1", Running);
        let new = b.build();
        let mut checker = ObservedStateMonotonic::new();
        assert!(checker.observe_at(10, &old));
        assert!(checker.observe_at(12, &new));
        // The manager restarted and replays: index 11 and 12 again are skipped, 13 is checked.
        assert!(!checker.observe_at(11, &old));
        assert!(!checker.observe_at(12, &old));
        assert!(checker.observe_at(13, &new));
        assert_eq!(checker.violations(), Vec::<String>::new());
        assert_eq!(checker.observations(), 3);
        // Without the index, the replayed state is a regression.
        checker.observe(&old);
        assert_eq!(checker.violations().len(), 1);
    }

    #[test]
    fn reports_are_bounded_per_task() {
        let mut b = base();
        b.set_state("t1", Running);
        let later = b.build();
        let earlier = base().build();
        let stores: Vec<&Store> = (0..10).flat_map(|_| [&later, &earlier]).collect();
        assert_eq!(check(stores).len(), VIOLATIONS_PER_TASK_MAX);
    }
}
