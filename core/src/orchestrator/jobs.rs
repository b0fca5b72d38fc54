//! The job orchestrators: jobs run to completion and a completed task is never restarted. A replicated job keeps
//! at most `max_concurrent` unfinished tasks wanted at once (a failed task awaiting its restart still counts) until
//! `total_completions` slots (numbered from 1) have completed; a global job runs once on every ready, active node
//! that meets its constraints, including nodes that join later, and its unfinished tasks are told `Shutdown` on
//! nodes that are drained, down or no longer match. Job tasks want `Complete` (SwarmKit's desired state for jobs).
//! Restarts of failed job tasks are the restart supervisor's work; a slot its policy gave up on is not refilled.
//! Re-running a job after a spec change (SwarmKit's job iteration) is not modelled yet.

use std::collections::BTreeSet;

use crate::command::Command;
use crate::model::{NodeAvailability, NodeState, Service, ServiceMode, Task, TaskState, Timestamp};
use crate::store::Store;

use super::plan::{IdSource, Plan};
use super::slot::{is_active, node_is_invalid, slot_state, tasks_by_node, tasks_by_slot, Constraints, SlotState};

fn completed(group: &[&Task]) -> bool {
    group.iter().any(|task| task.status.state == TaskState::Complete)
}

fn unfinished(task: &Task) -> bool {
    is_active(task) && task.status.state != TaskState::Complete
}

/// Starts the next tasks of replicated jobs and the per-node tasks of global jobs.
pub fn job_orchestrator(store: &Store, now: Timestamp, ids: &mut dyn IdSource) -> Vec<Command> {
    let mut plan = Plan::new(store, now, ids);
    for service in store.services() {
        match service.spec.mode {
            ServiceMode::ReplicatedJob { max_concurrent, total_completions } => {
                replicated_job(&mut plan, store, service, max_concurrent, total_completions);
            }
            ServiceMode::GlobalJob => global_job(&mut plan, store, service),
            ServiceMode::Replicated { .. } | ServiceMode::Global => {}
        }
    }
    plan.finish()
}

fn replicated_job(plan: &mut Plan<'_>, store: &Store, service: &Service, max_concurrent: u64, total: u64) {
    let mut running = 0u64;
    let mut used = BTreeSet::new();
    let slots = tasks_by_slot(store, &service.id);
    for (&number, group) in &slots {
        let unfinished_count = group.iter().filter(|task| unfinished(task)).count();
        running += u64::try_from(unfinished_count).unwrap_or(u64::MAX);
        if completed(group) || unfinished_count > 0 || slot_state(group, true) == SlotState::GivenUp {
            used.insert(number);
        }
    }
    let used_count = u64::try_from(used.len()).unwrap_or(u64::MAX);
    let starts = max_concurrent.saturating_sub(running).min(total.saturating_sub(used_count));
    let free = (1..=total).filter(|number| !used.contains(number));
    for number in free.take(usize::try_from(starts).unwrap_or(usize::MAX)) {
        let group = slots.get(&number).map_or(&[][..], Vec::as_slice);
        let task = plan.new_task(service, Some(number), None, group);
        plan.create(task);
    }
}

fn global_job(plan: &mut Plan<'_>, store: &Store, service: &Service) {
    let constraints = Constraints::of(&service.spec.task_template);
    let by_node = tasks_by_node(store, &service.id);
    for node in store.nodes() {
        let group = by_node.get(node.id.as_str()).map_or(&[][..], Vec::as_slice);
        if node_is_invalid(Some(node)) || !constraints.match_node(node) {
            for task in group.iter().filter(|task| unfinished(task)) {
                plan.set_desired(task, TaskState::Shutdown);
            }
            continue;
        }
        let candidate = node.spec.availability == NodeAvailability::Active && node.status.state == NodeState::Ready;
        let covered = completed(group) || slot_state(group, true) != SlotState::Vacant;
        if candidate && !covered {
            let task = plan.new_task(service, None, Some(&node.id), group);
            plan.create(task);
        }
    }
}
