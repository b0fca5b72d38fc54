//! The start gate (SwarmKit's "wait for the old task to stop" before a restart): promotes tasks held at desired
//! `Ready` to `Running` (`Complete` for jobs) once their slot is clear. The invariant: outside start-first updates,
//! at most one task per slot is desired RUNNING while another of the slot may still run on a live node.
//!
//! How it holds: every orchestrator that creates a task in a slot (or on a node, for global modes) where another
//! task may still run on a live node (`slot::may_run_on_live_node`: observed `Assigned` to `Running`, on a node
//! that exists and is not `Down`) creates it wanting `Ready` (`Plan::new_task`); start-first updates alone create
//! theirs wanting `Running`, since they overlap on purpose. The agent prepares a `Ready`-desired task and waits.
//! This stage tells it to run once no other task of its slot may still run on a live node: each of them has
//! reported an end, was never assigned, or sits on a node that is down or gone. A task already told something past
//! `Ready` (a stop, a removal) is not touched. A pure function of the store: a new leader promotes exactly what the
//! old one would have, and a run on its own output proposes nothing.

use crate::command::Command;
use crate::model::TaskState;
use crate::store::Store;

use super::plan::Batches;
use super::slot::run_state;
use super::slot::{self, may_run_on_live_node};

/// Promotes every task desired `Ready` whose slot (node, for global modes) has no other task that may still run
/// on a live node.
pub fn start_gate(store: &Store) -> Vec<Command> {
    let mut batches = Batches::default();
    for service in store.services() {
        let run = run_state(service);
        for group in slot::groups(store, &service.id, service.spec.mode) {
            for task in group.iter().filter(|task| task.desired_state == TaskState::Ready) {
                let blocked = group.iter().any(|other| other.id != task.id && may_run_on_live_node(store, other));
                if !blocked {
                    batches.add(vec![(task.id.clone(), run)], Vec::new(), Vec::new());
                }
            }
        }
    }
    batches.finish()
}
