//! The task reaper: bounds each slot's history (per node for global modes) and deletes removed slots. As in
//! SwarmKit, the limit counts every task of the slot, the current one included: with the default
//! `task_history_retention_limit` of 5, `service ps` shows at most 5 rows per slot. When the service's restart
//! policy has `max_attempts > 0`, at least `max_attempts + 1` tasks are kept, so the restart count stays readable
//! from the store. The invariant: the reaper only deletes tasks that are not wanted (desired state past `Running`,
//! or past `Complete` for jobs) and that cannot be running (they ended, or were never assigned), and never the
//! newest task of a slot that still exists (it records why a given-up slot stays as it is). Tasks told `Remove`
//! go as soon as they have stopped, and with them the rest of their slot when it was removed by scale-down.

use std::collections::BTreeSet;

use crate::command::Command;
use crate::model::{Task, TaskState};
use crate::store::Store;

use super::plan::Batches;
use super::slot::{self, is_active, may_be_running};

fn deletable(task: &Task) -> bool {
    !is_active(task) && !may_be_running(task)
}

/// Deletes task history beyond the cluster's retention limit and tasks of removed slots.
pub fn task_reaper(store: &Store) -> Vec<Command> {
    let Some(cluster) = store.cluster() else { return Vec::new() };
    let mut removals = Vec::new();
    for service in store.services() {
        let policy = &service.spec.task_template.restart_policy;
        let mut keep = cluster.settings.task_history_retention_limit;
        if policy.max_attempts > 0 {
            keep = keep.max(policy.max_attempts.saturating_add(1));
        }
        for group in slot::groups(store, &service.id, service.spec.mode) {
            reap_group(&group, keep, &mut removals);
        }
    }
    let mut batches = Batches::default();
    for id in removals {
        batches.add(Vec::new(), Vec::new(), vec![id]);
    }
    batches.finish()
}

/// Chooses the tasks of one slot group (oldest first) to delete.
fn reap_group(group: &[&Task], keep: u64, removals: &mut Vec<String>) {
    let Some((newest, older)) = group.split_last() else { return };
    if newest.desired_state == TaskState::Remove {
        // The slot was removed: everything in it goes once stopped.
        removals.extend(group.iter().filter(|task| deletable(task)).map(|task| task.id.clone()));
        return;
    }
    let mut doomed: BTreeSet<&str> = older
        .iter()
        .filter(|task| task.desired_state == TaskState::Remove && deletable(task))
        .map(|task| task.id.as_str())
        .collect();
    let mut remaining = u64::try_from(group.len() - doomed.len()).unwrap_or(u64::MAX);
    for task in older {
        if remaining <= keep {
            break;
        }
        if deletable(task) && doomed.insert(task.id.as_str()) {
            remaining -= 1;
        }
    }
    // Oldest first, as the group is.
    removals.extend(group.iter().filter(|task| doomed.contains(task.id.as_str())).map(|task| task.id.clone()));
}
