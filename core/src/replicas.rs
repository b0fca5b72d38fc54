//! What the REPLICAS column of `service ls` counts, in one place for the CLI, the API and the simulator's
//! checkers. The invariant: a task counts as a running replica only while it is observed RUNNING, still desired
//! RUNNING, and its node is ready and not drained — a task that reported RUNNING before its node went down (or
//! was drained) no longer keeps the count up, even though nobody has heard it stop.

use crate::model::{NodeAvailability, NodeState, Task, TaskState};
use crate::store::Store;

/// Whether `task` counts as one running replica.
pub fn is_running_replica(store: &Store, task: &Task) -> bool {
    if task.status.state != TaskState::Running || task.desired_state != TaskState::Running {
        return false;
    }
    let Some(node) = task.node_id.as_deref().and_then(|id| store.node(id)) else { return false };
    node.status.state == NodeState::Ready && node.spec.availability != NodeAvailability::Drain
}

/// The running replicas of service `service_id` (0 for an unknown service).
pub fn running_replicas(store: &Store, service_id: &str) -> u64 {
    let count = store.tasks_of_service(service_id).filter(|task| is_running_replica(store, task)).count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// The completed tasks of a job service (the `(3/5 completed)` part of a job's REPLICAS column).
pub fn completed_tasks(store: &Store, service_id: &str) -> u64 {
    let count = store.tasks_of_service(service_id).filter(|task| task.status.state == TaskState::Complete).count();
    u64::try_from(count).unwrap_or(u64::MAX)
}
