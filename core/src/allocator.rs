//! The allocator stage between the orchestrators and the scheduler (SwarmKit's allocator). Today it owns one
//! step: a task created `New` whose service still wants it moves to `Pending` ("pending task scheduling"), which is
//! what the scheduler picks up. Network attachments (IPAM, VIPs) and published-port allocation join this stage
//! with overlay networks. Invariant: it only ever moves tasks forward from `New`, never touches anything else.

use crate::command::Command;
use crate::limits::BATCH_COMMANDS_MAX;
use crate::model::{TaskState, TaskStatus, Timestamp};
use crate::store::Store;

/// SwarmKit's message for a task waiting for the scheduler.
pub const PENDING_MESSAGE: &str = "pending task scheduling";

pub fn allocate(store: &Store, now: Timestamp) -> Vec<Command> {
    let moves: Vec<Command> = store
        .tasks()
        .filter(|task| task.status.state == TaskState::New && task.desired_state <= TaskState::Complete)
        .map(|task| Command::UpdateTaskStatus {
            id: task.id.clone(),
            status: TaskStatus {
                state: TaskState::Pending,
                timestamp: now,
                message: PENDING_MESSAGE.to_string(),
                err: None,
                container_id: None,
            },
        })
        .collect();
    let mut batches = Vec::new();
    let mut moves = moves.into_iter().peekable();
    while moves.peek().is_some() {
        batches.push(Command::Batch(moves.by_ref().take(BATCH_COMMANDS_MAX).collect()));
    }
    batches
}
