//! The restart supervisor: replaces wanted tasks that ended, as their restart policy allows, and moves replicated tasks
//! off nodes that are down or drained. Its invariant: a replacement is created in the same batch as the old task is
//! told to `Shutdown`, in the same slot (or on the same node for global modes), with the service's current template; so
//! a slot never gains a second wanted task, however leaders change (the replacement may want `Ready`, see below). (A
//! start-first rolling update holds two wanted tasks in a slot for a while, the outdated one and its replacement: the
//! outdated one is superseded, never replaced, only told to stop if it ends or its node goes; see
//! `slot::is_superseded`.)
//!
//! The restart delay is waited out before anything is written: the ended task keeps its desired state (and so holds its
//! slot) until `now >= ended_at + delay`, then it is told to stop and its replacement is created, wanting `Running` at
//! once, or `Ready` while a task of the slot may still run on a live node (a task moved off a drained node, say), until
//! `start_gate` sees it stopped. (SwarmKit also creates the replacement at once wanting `Ready` and promotes it after
//! the delay from an in-memory timer; waiting out the delay first keeps the decision a function of the store and
//! `now`.) `next_restart_wakeup` tells the leader when the earliest wait ends. No delay applies on a drained node, as
//! in SwarmKit.

use crate::command::Command;
use crate::model::{NodeAvailability, Service, Task, TaskState, Timestamp};
use crate::store::Store;

use super::plan::{IdSource, Plan};
use super::slot::{
    self, accepts_global_task, ended_at, is_active, is_global, is_superseded, millis, node_is_invalid, Constraints,
    Verdict,
};

/// What the supervisor does with one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Keep,
    /// Stop it without a replacement.
    Shutdown,
    /// Stop it and create a replacement in its slot.
    Replace,
    /// Replace it once the restart delay has passed, at this time.
    WaitUntil(Timestamp),
}

fn decide(
    store: &Store,
    service: &Service,
    constraints: &Constraints,
    task: &Task,
    group: &[&Task],
    now: Timestamp,
) -> Decision {
    if !is_active(task) {
        return Decision::Keep;
    }
    let mode = service.spec.mode;
    let node = task.node_id.as_deref().and_then(|id| store.node(id));
    let superseded = is_superseded(task, group, &service.spec.task_template);
    if !task.status.state.is_terminal() {
        // Still starting or running. Replicated tasks leave invalid nodes; global tasks are the global
        // orchestrators' business.
        if !is_global(mode) && task.node_id.is_some() && node_is_invalid(node) {
            return if superseded { Decision::Shutdown } else { Decision::Replace };
        }
        return Decision::Keep;
    }
    match slot::verdict(task, group, mode.is_job()) {
        Verdict::Finished => Decision::Keep,
        Verdict::GiveUp => Decision::Shutdown,
        Verdict::Restart if superseded => Decision::Shutdown,
        Verdict::Restart => {
            if is_global(mode) && !node.is_some_and(|node| accepts_global_task(node, constraints)) {
                // SwarmKit: a global task is not restarted on a paused or unsuitable node.
                return Decision::Shutdown;
            }
            let drained = node.is_some_and(|node| node.spec.availability == NodeAvailability::Drain);
            let delay_ms = if drained { 0 } else { millis(task.spec.restart_policy.delay_ns) };
            let due = Timestamp(ended_at(task).as_millis().saturating_add(delay_ms));
            if now < due {
                Decision::WaitUntil(due)
            } else {
                Decision::Replace
            }
        }
    }
}

/// Calls `f` with the decision for every task of every service, in service, slot and age order.
fn for_each_decision(store: &Store, now: Timestamp, mut f: impl FnMut(&Service, &Task, &[&Task], Decision)) {
    for service in store.services() {
        let constraints = Constraints::of(&service.spec.task_template);
        for group in slot::groups(store, &service.id, service.spec.mode) {
            let mut decisions: Vec<Decision> =
                group.iter().map(|task| decide(store, service, &constraints, task, &group, now)).collect();
            one_replacement_per_slot(&group, &mut decisions);
            for (task, decision) in group.iter().zip(decisions) {
                f(service, task, &group, decision);
            }
        }
    }
}

/// A slot gets at most one replacement per run, and none while another of its wanted tasks stays: the other
/// decisions to replace become `Shutdown`. (A slot can hold two wanted tasks — a start-first swap overtaken by a
/// newer update — and both may need replacing at once, say when their node goes down; replacing each would leave
/// the slot with two new tasks.) The newest task's replacement is the one kept.
fn one_replacement_per_slot(group: &[&Task], decisions: &mut [Decision]) {
    let held_by_another = |skip: usize, decisions: &[Decision]| {
        group.iter().zip(decisions).enumerate().any(|(index, (task, decision))| {
            index != skip && is_active(task) && matches!(decision, Decision::Keep | Decision::WaitUntil(_))
        })
    };
    let mut replaced = false;
    for index in (0..group.len()).rev() {
        if decisions[index] != Decision::Replace {
            continue;
        }
        if replaced || held_by_another(index, decisions) {
            decisions[index] = Decision::Shutdown;
        } else {
            replaced = true;
        }
    }
}

/// Replaces ended tasks whose restart policy allows it (once their delay has passed), stops those it forbids,
/// and moves replicated tasks (services and jobs) off down or drained nodes (always, at once, whatever the policy:
/// the task did not fail, its node went away).
pub fn restart_supervisor(store: &Store, now: Timestamp, ids: &mut dyn IdSource) -> Vec<Command> {
    let mut plan = Plan::new(store, now, ids);
    for_each_decision(store, now, |service, task, group, decision| match decision {
        Decision::Keep | Decision::WaitUntil(_) => {}
        Decision::Shutdown => plan.set_desired(task, TaskState::Shutdown),
        Decision::Replace => {
            let node_id = if is_global(service.spec.mode) { task.node_id.as_deref() } else { None };
            // Wants `Ready` while the replaced task (or an older one) may still run on a live node.
            let replacement = plan.new_task(service, task.slot, node_id, group);
            plan.replace(task, replacement);
        }
    });
    plan.finish()
}

/// The earliest time after `now` at which a restart delay ends, if any restart is waiting: the leader should run
/// `reconcile` again then (`orchestrator::next_wakeup` combines this with the rolling updater's waits).
pub fn next_restart_wakeup(store: &Store, now: Timestamp) -> Option<Timestamp> {
    let mut earliest: Option<Timestamp> = None;
    for_each_decision(store, now, |_, _, _, decision| {
        if let Decision::WaitUntil(due) = decision {
            earliest = Some(earliest.map_or(due, |earliest| earliest.min(due)));
        }
    });
    earliest
}
