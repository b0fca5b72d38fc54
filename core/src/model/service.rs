//! Services as stored: the spec in force, the specs a rollback goes back to, and the rolling updater's progress
//! (`UpdateStatus`, with Docker's state names).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::meta::{Timestamp, Version};
use super::network::VirtualIp;
use crate::spec::ServiceSpec;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub spec: ServiceSpec,
    /// The spec a rollback goes back to (Docker's `PreviousSpec`): the spec before the last `UpdateService`, or,
    /// after a rollback, the newest entry taken from `spec_history`.
    pub previous_spec: Option<ServiceSpec>,
    /// Older specs still reachable by further rollbacks, oldest first, at most `SERVICE_SPEC_HISTORY_MAX` (Docker
    /// keeps only `PreviousSpec`). `UpdateService` pushes the replaced `previous_spec` here; `RollbackService` pops.
    pub spec_history: Vec<ServiceSpec>,
    /// The progress of the newest rolling update or rollback (Docker's `UpdateStatus`); `None` until a spec change
    /// makes tasks out of date, and reset to `None` by every `UpdateService`.
    pub update_status: Option<UpdateStatus>,
    /// Its virtual IP on each network of its spec (endpoint mode `vip`), set by the allocator.
    pub virtual_ips: Vec<VirtualIp>,
}

/// Docker's `UpdateStatus`: where the rolling updater stands with a service. Written by the updater (through
/// `Command::SetServiceUpdateStatus`) and by `RollbackService`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    pub state: UpdateState,
    /// When the update (or a manual rollback) started. An automatic rollback keeps the update's start.
    pub started_at: Option<Timestamp>,
    /// Set exactly when `state` is `Completed` or `RollbackCompleted`.
    pub completed_at: Option<Timestamp>,
    /// Docker's wording: "update in progress", "update completed", "update paused due to failure or early
    /// termination of task <id>", "manually requested rollback", "rollback completed", ...
    pub message: String,
}

/// Docker's `UpdateStatus.State`, with Docker's JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    Updating,
    Paused,
    Completed,
    RollbackStarted,
    RollbackPaused,
    RollbackCompleted,
}

impl UpdateState {
    pub const ALL: [UpdateState; 6] = [
        UpdateState::Updating,
        UpdateState::Paused,
        UpdateState::Completed,
        UpdateState::RollbackStarted,
        UpdateState::RollbackPaused,
        UpdateState::RollbackCompleted,
    ];

    /// Docker's name ("rollback_started").
    pub const fn as_str(self) -> &'static str {
        match self {
            UpdateState::Updating => "updating",
            UpdateState::Paused => "paused",
            UpdateState::Completed => "completed",
            UpdateState::RollbackStarted => "rollback_started",
            UpdateState::RollbackPaused => "rollback_paused",
            UpdateState::RollbackCompleted => "rollback_completed",
        }
    }

    /// The updater is replacing tasks (`Updating` or `RollbackStarted`).
    pub const fn is_in_progress(self) -> bool {
        matches!(self, UpdateState::Updating | UpdateState::RollbackStarted)
    }

    /// The updater stopped after failures and waits for the user (`Paused` or `RollbackPaused`).
    pub const fn is_paused(self) -> bool {
        matches!(self, UpdateState::Paused | UpdateState::RollbackPaused)
    }

    /// The update or rollback finished (`Completed` or `RollbackCompleted`): the states that carry `completed_at`.
    pub const fn is_completed(self) -> bool {
        matches!(self, UpdateState::Completed | UpdateState::RollbackCompleted)
    }

    /// A rollback, rather than an update, is (or was) under way.
    pub const fn is_rollback(self) -> bool {
        matches!(self, UpdateState::RollbackStarted | UpdateState::RollbackPaused | UpdateState::RollbackCompleted)
    }
}

impl fmt::Display for UpdateState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
