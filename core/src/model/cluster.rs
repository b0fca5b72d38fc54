//! The one cluster object (Docker's `Swarm`): its settings and the join tokens `swarm join` presents.

use serde::{Deserialize, Serialize};

use super::ca::ClusterCa;
use super::meta::{Timestamp, Version};
use super::node::NodeRole;
use crate::ipam::Ipv4Cidr;

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
    /// `swarm init --autolock` / `swarm update --autolock=true`: the key (`SWMKEY-1-…`) a restarted manager must
    /// be given before it reads its keys; empty while autolock is off. Never shown by reads (`unlock-key` asks).
    pub unlock_key: String,
    /// The root CA as the store knows it: a rotation in progress, the root of the last one, and what each node
    /// reported of its TLS.
    pub ca: ClusterCa,
}

impl Cluster {
    /// Whether managers lock their keys with the unlock key.
    pub fn autolock(&self) -> bool {
        !self.unlock_key.is_empty()
    }
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

    /// The same tokens (same secrets) carrying the root CA digest `digest`: what a root rotation makes of them.
    pub fn with_digest(&self, digest: &str) -> JoinTokens {
        let secret = |token: &str| token.rsplit_once('-').map(|(_, secret)| secret.to_string()).unwrap_or_default();
        JoinTokens::from_parts(digest, &secret(&self.worker), &secret(&self.manager))
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
    /// `swarm init --default-addr-pool`: where networks without `--subnet` get their subnets (fixed at init).
    pub default_addr_pools: Vec<Ipv4Cidr>,
    /// `swarm init --default-addr-pool-mask-length`: the prefix length of those subnets (fixed at init).
    pub default_subnet_prefix_len: u8,
    /// `swarm init --data-path-port`: the UDP port of VXLAN traffic between nodes (fixed at init).
    pub data_path_port: u16,
    /// `swarm update --cert-expiry` (Docker's `CAConfig.NodeCertExpiry`): how long the node certificates the CA
    /// issues from now on are valid; each renews between 50 % and 80 % of its life.
    pub node_cert_expiry_ms: u64,
}

impl ClusterSettings {
    /// `node_cert_expiry_ms` as a duration.
    pub fn node_cert_validity(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.node_cert_expiry_ms)
    }
}

/// Docker's default address pool, `10.0.0.0/8`.
pub const DEFAULT_ADDR_POOL: Ipv4Cidr = Ipv4Cidr::TEN_SLASH_EIGHT;
/// Docker's default subnet size carved from the pools: /24.
pub const DEFAULT_SUBNET_PREFIX_LEN: u8 = 24;
/// VXLAN's IANA port, Docker's default `--data-path-port`.
pub const DEFAULT_DATA_PATH_PORT: u16 = 4789;

/// Docker's default node certificate validity: 90 days.
pub const DEFAULT_NODE_CERT_EXPIRY_MS: u64 = 90 * 24 * 3_600_000;
/// SwarmKit's shortest node certificate validity: one hour.
pub const NODE_CERT_EXPIRY_MIN_MS: u64 = 3_600_000;
/// The longest node certificate validity: ten years (the root CA itself is valid for twenty).
pub const NODE_CERT_EXPIRY_MAX_MS: u64 = 10 * 365 * 24 * 3_600_000;

/// The default dispatcher heartbeat period (Docker: 5 s). See `liveness`.
pub const DEFAULT_HEARTBEAT_PERIOD_MS: u64 = 1_000;

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            task_history_retention_limit: 5,
            dispatcher_heartbeat_period_ms: DEFAULT_HEARTBEAT_PERIOD_MS,
            snapshot_interval_entries: 10_000,
            log_entries_for_slow_followers: 500,
            default_addr_pools: vec![DEFAULT_ADDR_POOL],
            default_subnet_prefix_len: DEFAULT_SUBNET_PREFIX_LEN,
            data_path_port: DEFAULT_DATA_PATH_PORT,
            node_cert_expiry_ms: DEFAULT_NODE_CERT_EXPIRY_MS,
        }
    }
}
