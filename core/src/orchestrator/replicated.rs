//! The replicated orchestrator: keeps slots `1..=replicas` of every replicated service held. A slot is held
//! ("occupied") while one of its tasks is still wanted (desired state at most `Running`) or while its restart
//! policy has given up on it (SwarmKit counts such a slot as a replica too). Missing slots get a new task in the
//! lowest free slot numbers; surplus slots are removed as SwarmKit's scale-down picks them: from the nodes running
//! the most tasks of the service, preferring slots with no running task, and unassigned slots first. A removed
//! slot's tasks are told `Remove` (not `Shutdown`): the agent stops them and the task reaper then deletes the
//! whole slot, so it disappears from `service ps` as in Docker. A removed slot is free again at once: a scale-up
//! that reuses it before its tasks have stopped creates the new task wanting `Ready` (see `start_gate`).

use std::collections::{BTreeMap, BTreeSet};

use crate::command::Command;
use crate::model::{ServiceMode, Task, TaskState, Timestamp};
use crate::store::Store;

use super::plan::{IdSource, Plan};
use super::slot::{is_active, slot_state, tasks_by_slot, SlotState};

/// One held slot, as scale-down sees it.
struct HeldSlot<'s> {
    number: u64,
    /// The tasks that hold it: the wanted ones, or the given-up newest one.
    tasks: Vec<&'s Task>,
}

impl HeldSlot<'_> {
    fn running(&self) -> bool {
        self.tasks.iter().any(|task| task.status.state == TaskState::Running)
    }

    /// The slot's node, when exactly one task holds it and it is assigned.
    fn node(&self) -> Option<&str> {
        match self.tasks.as_slice() {
            [task] => task.node_id.as_deref(),
            _ => None,
        }
    }
}

/// Creates and removes tasks so that each replicated service holds exactly `replicas` slots.
pub fn replicated_orchestrator(store: &Store, now: Timestamp, ids: &mut dyn IdSource) -> Vec<Command> {
    let mut plan = Plan::new(store, now, ids);
    for service in store.services() {
        let ServiceMode::Replicated { replicas } = service.spec.mode else { continue };
        let slots = tasks_by_slot(store, &service.id);
        let mut held = Vec::new();
        for (&number, group) in &slots {
            let tasks = match slot_state(group, false) {
                SlotState::Active => group.iter().copied().filter(|task| is_active(task)).collect(),
                SlotState::GivenUp => group.last().copied().into_iter().collect(),
                SlotState::Vacant => continue,
            };
            held.push(HeldSlot { number, tasks });
        }
        let held_count = u64::try_from(held.len()).unwrap_or(u64::MAX);
        if held_count < replicas {
            let taken: BTreeSet<u64> = held.iter().map(|slot| slot.number).collect();
            let free = (1..).filter(|number| !taken.contains(number));
            for number in free.take(usize::try_from(replicas - held_count).unwrap_or(usize::MAX)) {
                // A slot removed by scale-down may be reused before its tasks have stopped.
                let group = slots.get(&number).map_or(&[][..], Vec::as_slice);
                let task = plan.new_task(service, Some(number), None, group);
                plan.create(task);
            }
        } else if held_count > replicas {
            for slot in surplus(held, replicas) {
                for task in slot.tasks {
                    plan.set_desired(task, TaskState::Remove);
                }
            }
        }
    }
    plan.finish()
}

/// The slots scale-down removes, keeping `replicas` (SwarmKit's order): rank slots running first, then by slot
/// number; number each slot as the n-th of the service on its node in that order; keep the lowest numbers
/// (unassigned slots rank last). So the surplus comes from the nodes with the most slots, non-running first.
fn surplus(mut held: Vec<HeldSlot<'_>>, replicas: u64) -> Vec<HeldSlot<'_>> {
    held.sort_by_key(|slot| (!slot.running(), slot.number));
    let mut per_node: BTreeMap<String, u64> = BTreeMap::new();
    let mut ranked: Vec<(Option<u64>, HeldSlot<'_>)> = held
        .into_iter()
        .map(|slot| {
            let index = slot.node().map(|node| {
                let count = per_node.entry(node.to_string()).or_default();
                *count += 1;
                *count
            });
            (index, slot)
        })
        .collect();
    // Stable: equal ranks keep the running-first, slot-number order.
    ranked.sort_by_key(|(index, _)| (index.is_none(), *index));
    ranked.into_iter().skip(usize::try_from(replicas).unwrap_or(usize::MAX)).map(|(_, slot)| slot).collect()
}
