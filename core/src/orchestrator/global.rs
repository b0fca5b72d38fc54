//! The global orchestrator: one task of every global service on every node that accepts it, including nodes that
//! join later. A node accepts the service when it is active (not paused or drained), not down, and meets the
//! placement constraints. On a node that is drained, down or no longer meets the constraints, the service's wanted
//! tasks are told `Shutdown`; on a paused node existing tasks stay and no new one starts (SwarmKit's rules). A node
//! whose task was given up on by its restart policy gets no new one; a node whose task was stopped for any other
//! reason (say it was drained, then reactivated) gets a fresh task. New tasks are created bound to their node.

use crate::command::Command;
use crate::model::{NodeAvailability, NodeState, ServiceMode, TaskState, Timestamp};
use crate::store::Store;

use super::plan::{IdSource, Plan};
use super::slot::{is_active, slot_state, tasks_by_node, Constraints, SlotState};

/// Creates the missing tasks of global services and stops those on nodes that no longer accept them.
pub fn global_orchestrator(store: &Store, now: Timestamp, ids: &mut dyn IdSource) -> Vec<Command> {
    let mut plan = Plan::new(store, now, ids);
    for service in store.services() {
        if service.spec.mode != ServiceMode::Global {
            continue;
        }
        let constraints = Constraints::of(&service.spec.task_template);
        let by_node = tasks_by_node(store, &service.id);
        for node in store.nodes() {
            let group = by_node.get(node.id.as_str()).map_or(&[][..], Vec::as_slice);
            let leaving = node.spec.availability == NodeAvailability::Drain
                || node.status.state == NodeState::Down
                || !constraints.match_node(node);
            if leaving {
                for task in group.iter().filter(|task| is_active(task)) {
                    plan.set_desired(task, TaskState::Shutdown);
                }
            } else if node.spec.availability == NodeAvailability::Active
                && slot_state(group, false) == SlotState::Vacant
            {
                let task = plan.new_task(service, None, Some(&node.id), group);
                plan.create(task);
            }
        }
    }
    plan.finish()
}
