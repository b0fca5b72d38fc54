//! The one cluster object (Docker's `Swarm`): its settings and the join tokens `swarm join` presents.

use serde::{Deserialize, Serialize};

use super::meta::{Timestamp, Version};
use super::node::NodeRole;

/// The one cluster object (Docker's `Swarm`), created by `InitCluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub settings: ClusterSettings,
    /// The tokens `swarm join` presents; never shown by reads (`join-token` asks for them on purpose).
    pub join_tokens: JoinTokens,
}

/// Docker's join tokens, `SWMTKN-1-<cluster digest>-<secret>`: one for workers, one for managers. The digest part
/// is shared by both and identifies the cluster; the secret part is what `join-token --rotate` replaces. Generated
/// by the proposer (randomness stays out of `core`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JoinTokens {
    pub worker: String,
    pub manager: String,
}

impl JoinTokens {
    /// Docker's shape: `SWMTKN-1-<cluster digest>-<worker secret>` and `…-<manager secret>`.
    pub fn from_parts(cluster_digest: &str, worker_secret: &str, manager_secret: &str) -> JoinTokens {
        JoinTokens {
            worker: join_token(cluster_digest, worker_secret),
            manager: join_token(cluster_digest, manager_secret),
        }
    }

    /// The token that admits `role`.
    pub fn for_role(&self, role: NodeRole) -> &str {
        match role {
            NodeRole::Worker => &self.worker,
            NodeRole::Manager => &self.manager,
        }
    }

    /// The role `token` admits, if it is one of the two.
    pub fn role_of(&self, token: &str) -> Option<NodeRole> {
        if !token.is_empty() && token == self.manager {
            Some(NodeRole::Manager)
        } else if !token.is_empty() && token == self.worker {
            Some(NodeRole::Worker)
        } else {
            None
        }
    }
}

/// `SWMTKN-1-<cluster digest>-<secret>`.
pub fn join_token(cluster_digest: &str, secret: &str) -> String {
    format!("SWMTKN-1-{cluster_digest}-{secret}")
}

/// Cluster-wide settings (a subset of Docker's `SwarmSpec`: orchestration, dispatcher and raft sections).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSettings {
    /// Docker's `Orchestration.TaskHistoryRetentionLimit`: terminated tasks kept per slot.
    pub task_history_retention_limit: u64,
    /// Docker's `Dispatcher.HeartbeatPeriod`: how often agents heartbeat. A node silent for
    /// `liveness::GRACE_PERIODS` periods is marked down (see `liveness` for why the default is 1 s, not Docker's 5 s).
    pub dispatcher_heartbeat_period_ms: u64,
    /// Docker's `Raft.SnapshotInterval`: log entries between snapshots.
    pub snapshot_interval_entries: u64,
    /// Docker's `Raft.LogEntriesForSlowFollowers`: entries kept after a snapshot for lagging followers.
    pub log_entries_for_slow_followers: u64,
}

/// The default dispatcher heartbeat period (Docker: 5 s). See `liveness`.
pub const DEFAULT_HEARTBEAT_PERIOD_MS: u64 = 1_000;

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            task_history_retention_limit: 5,
            dispatcher_heartbeat_period_ms: DEFAULT_HEARTBEAT_PERIOD_MS,
            snapshot_interval_entries: 10_000,
            log_entries_for_slow_followers: 500,
        }
    }
}
