//! Tasks: one slot's (or one node's) attempt at running a service, with its desired and observed state.
//! `TaskState`'s declaration order is the lifecycle order, so "observed state only moves forward" is `new >= old`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::meta::{Timestamp, Version};
use super::network::NetworkAttachment;
use crate::spec::{EndpointSpec, TaskSpec};

/// One attempt at running one slot of a service (replicated) or the service on one node (global).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub service_id: String,
    /// The slot of a replicated service (tasks are named `service.slot`); `None` for global services.
    pub slot: Option<u64>,
    /// The node the scheduler assigned; `None` until then.
    pub node_id: Option<String>,
    pub desired_state: TaskState,
    /// The observed state as reported by the agent (or set by the allocator/scheduler before assignment).
    pub status: TaskStatus,
    pub spec: TaskSpec,
    /// The service's name when the task was created (containers are named `<service>.<slot>.<task id>`).
    pub service_name: String,
    /// The service's endpoint when the task was created: host-mode published ports are bound by the task's
    /// container, so a change of them makes the task out of date (as in SwarmKit's `IsTaskDirty`).
    pub endpoint: EndpointSpec,
    /// When the task was first reported `Running` (that report's status timestamp); `None` until then. Set by
    /// `apply` only (ignored in `CreateTasks` unless the task is created running). The rolling updater measures its
    /// delay and monitor windows from here, also after the task has ended.
    pub running_since: Option<Timestamp>,
    /// Its address on each of its networks, set by the allocator as it leaves `New` (empty without networks).
    pub networks: Vec<NetworkAttachment>,
}

impl Task {
    /// A fresh task in state `New`, desired `Running`; version and timestamps are filled in by `apply`.
    pub fn new(id: impl Into<String>, service_id: impl Into<String>, slot: Option<u64>, spec: TaskSpec) -> Task {
        Task {
            id: id.into(),
            version: Version::INITIAL,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            service_id: service_id.into(),
            slot,
            node_id: None,
            desired_state: TaskState::Running,
            status: TaskStatus::default(),
            spec,
            service_name: String::new(),
            endpoint: EndpointSpec::default(),
            running_since: None,
            networks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskStatus {
    pub state: TaskState,
    /// When the reporter observed this state (the CURRENT STATE column's "Running 5 seconds ago").
    pub timestamp: Timestamp,
    pub message: String,
    /// The ERROR column, e.g. "No such image: nosuchimage:1".
    pub err: Option<String>,
    pub container_id: Option<String>,
}

/// Task lifecycle states in lifecycle order (SwarmKit's `TaskState`). The derived `Ord` is the order of
/// declaration, which is what "observed state only moves forward" compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    #[default]
    New,
    Pending,
    Assigned,
    Accepted,
    Preparing,
    Ready,
    Starting,
    Running,
    Complete,
    Shutdown,
    Failed,
    Rejected,
    Remove,
    Orphaned,
}

impl TaskState {
    pub const ALL: [TaskState; 14] = [
        TaskState::New,
        TaskState::Pending,
        TaskState::Assigned,
        TaskState::Accepted,
        TaskState::Preparing,
        TaskState::Ready,
        TaskState::Starting,
        TaskState::Running,
        TaskState::Complete,
        TaskState::Shutdown,
        TaskState::Failed,
        TaskState::Rejected,
        TaskState::Remove,
        TaskState::Orphaned,
    ];

    /// Docker's lowercase name ("running"); the CLI capitalises it for the STATE columns.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskState::New => "new",
            TaskState::Pending => "pending",
            TaskState::Assigned => "assigned",
            TaskState::Accepted => "accepted",
            TaskState::Preparing => "preparing",
            TaskState::Ready => "ready",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
            TaskState::Shutdown => "shutdown",
            TaskState::Failed => "failed",
            TaskState::Rejected => "rejected",
            TaskState::Remove => "remove",
            TaskState::Orphaned => "orphaned",
        }
    }

    /// True from `Complete` on: the task will not run again.
    pub fn is_terminal(self) -> bool {
        self >= TaskState::Complete
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
