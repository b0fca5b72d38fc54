//! The control API's vocabulary: paths, request and reply bodies (JSON), shared by the daemon that serves them and
//! the CLI that calls them. Every failure is an HTTP status with a plain-text message meant for the user, in
//! Docker's words where Docker has them (the CLI prints it after `Error response from daemon: `).

use serde::{Deserialize, Serialize};
use swarm_core::{NetworkSpec, NodeAvailability, NodeRole, NodeSpec, ServiceSpec, Timestamp, Version};

/// Where the daemon listens by default (like Docker's `/var/run/docker.sock`), as a `-H` address.
pub const DEFAULT_HOST: &str = "unix:///var/run/swarm.sock";

pub const PATH_INFO: &str = "/v1/info";
pub const PATH_INIT: &str = "/v1/swarm/init";
pub const PATH_JOIN: &str = "/v1/swarm/join";
pub const PATH_JOIN_TOKEN: &str = "/v1/swarm/join-token";
pub const PATH_LEAVE: &str = "/v1/swarm/leave";
pub const PATH_VIEW: &str = "/v1/view";
pub const PATH_SERVICE_CREATE: &str = "/v1/services/create";
pub const PATH_SERVICE_UPDATE: &str = "/v1/services/update";
pub const PATH_SERVICE_ROLLBACK: &str = "/v1/services/rollback";
pub const PATH_SERVICE_REMOVE: &str = "/v1/services/remove";
pub const PATH_SERVICE_LOGS: &str = "/v1/services/logs";
pub const PATH_NODE_UPDATE: &str = "/v1/nodes/update";
pub const PATH_NETWORK_CREATE: &str = "/v1/networks/create";
pub const PATH_NETWORK_REMOVE: &str = "/v1/networks/remove";
pub const PATH_NODE_REMOVE: &str = "/v1/nodes/remove";
pub const PATH_SWARM_UPDATE: &str = "/v1/swarm/update";
pub const PATH_SWARM_UNLOCK: &str = "/v1/swarm/unlock";
pub const PATH_SWARM_UNLOCK_KEY: &str = "/v1/swarm/unlock-key";
pub const PATH_SWARM_CA: &str = "/v1/swarm/ca";
pub const PATH_SECRET_CREATE: &str = "/v1/secrets/create";
pub const PATH_SECRET_REMOVE: &str = "/v1/secrets/remove";
pub const PATH_CONFIG_CREATE: &str = "/v1/configs/create";
pub const PATH_CONFIG_REMOVE: &str = "/v1/configs/remove";
pub const PATH_CONFIG_INSPECT: &str = "/v1/configs/inspect";

/// Docker's words for a cluster command sent to a node that is not in a swarm.
pub const NOT_IN_SWARM: &str =
    "This node is not a swarm manager. Use \"swarm init\" or \"swarm join\" to connect this node to swarm and try again.";
/// Docker's words for a cluster command sent to a worker.
pub const WORKER_CANNOT_MANAGE: &str =
    "This node is not a swarm manager. Worker nodes can't be used to view or modify \
cluster state. Please run this command on a manager node or promote the current node to a manager.";
/// Docker's words for `init`/`join` on a node that already is in one.
pub const ALREADY_IN_SWARM: &str =
    "This node is already part of a swarm. Use \"swarm leave\" to leave this swarm and join another one.";

/// What this daemon is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalRole {
    /// Not part of a swarm yet (or left).
    None,
    Manager,
    Worker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoReply {
    pub role: LocalRole,
    /// This node's id in the cluster store; empty when not in a swarm.
    pub node_id: String,
    pub cluster_id: String,
    /// Where this node serves cluster traffic.
    pub advertise_addr: String,
    /// The managers this node knows of.
    pub managers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    /// `--advertise-addr` (host or host:port; the port defaults to the listen port).
    pub advertise_addr: Option<String>,
    /// `--listen-addr`; the daemon's own `--listen-addr` when absent.
    pub listen_addr: Option<String>,
    pub availability: Option<NodeAvailability>,
    pub task_history_limit: Option<u64>,
    pub dispatcher_heartbeat_ms: Option<u64>,
    /// `--default-addr-pool` (CIDR, repeatable); Docker's 10.0.0.0/8 when empty.
    #[serde(default)]
    pub default_addr_pools: Vec<String>,
    /// `--default-addr-pool-mask-length`; 24 when absent.
    #[serde(default)]
    pub default_addr_pool_mask_length: Option<u8>,
    /// `--data-path-port`; 4789 when absent.
    #[serde(default)]
    pub data_path_port: Option<u16>,
    /// `--cert-expiry`; 90 days when absent.
    #[serde(default)]
    pub cert_expiry_ms: Option<u64>,
    /// `--autolock`: managers keep their keys sealed with an unlock key, and a restarted one waits for it.
    #[serde(default)]
    pub autolock: bool,
}

/// `swarm update`: the settings to change (absent ones keep their value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmUpdateRequest {
    #[serde(default)]
    pub task_history_limit: Option<u64>,
    #[serde(default)]
    pub dispatcher_heartbeat_ms: Option<u64>,
    #[serde(default)]
    pub cert_expiry_ms: Option<u64>,
    #[serde(default)]
    pub snapshot_interval: Option<u64>,
    /// `--autolock=true|false`.
    #[serde(default)]
    pub autolock: Option<bool>,
}

/// What `swarm update` and `swarm init` answer about autolock: the new unlock key, when one was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmUpdateReply {
    pub unlock_key: Option<String>,
}

/// `swarm unlock`: the key, as the operator typed it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    pub key: String,
}

impl std::fmt::Debug for UnlockRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockRequest { key: <hidden> }")
    }
}

/// `swarm ca [--rotate]`: the cluster's root CA, and a rotation started if asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaRequest {
    #[serde(default)]
    pub rotate: bool,
}

/// The root the cluster is moving to (or is on), and how far its nodes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaReply {
    /// The desired root's certificate (PEM).
    pub root_pem: String,
    /// Its SHA-256 (lowercase hex), as Docker prints the desired root digest.
    pub root_sha256: String,
    /// Whether a rotation is still in progress.
    pub rotating: bool,
    pub progress: swarm_core::CaProgress,
}

impl CaReply {
    /// Whether every node holds a certificate of the desired root and trusts it alone.
    pub fn done(&self) -> bool {
        !self.rotating
            && self.progress.certificates == self.progress.nodes
            && self.progress.trust == self.progress.nodes
    }
}

/// `swarm unlock-key [--rotate]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockKeyRequest {
    #[serde(default)]
    pub rotate: bool,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockKeyReply {
    pub key: String,
}

impl std::fmt::Debug for UnlockKeyReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockKeyReply { key: <hidden> }")
    }
}

impl SwarmUpdateRequest {
    /// Changes `settings` as asked; `Err` names the flag with a value Docker refuses.
    pub fn change(&self, settings: &mut swarm_core::ClusterSettings) -> Result<(), String> {
        if let Some(limit) = self.task_history_limit {
            settings.task_history_retention_limit = limit;
        }
        if let Some(period) = self.dispatcher_heartbeat_ms {
            if period == 0 {
                return Err("invalid --dispatcher-heartbeat: must be positive".to_string());
            }
            settings.dispatcher_heartbeat_period_ms = period;
        }
        if let Some(expiry) = self.cert_expiry_ms {
            if expiry < swarm_core::model::NODE_CERT_EXPIRY_MIN_MS {
                return Err("minimum certificate expiry time is: 1h0m0s".to_string());
            }
            if expiry > swarm_core::model::NODE_CERT_EXPIRY_MAX_MS {
                return Err("maximum certificate expiry time is: 87600h0m0s (ten years)".to_string());
            }
            settings.node_cert_expiry_ms = expiry;
        }
        if let Some(interval) = self.snapshot_interval {
            if interval == 0 {
                return Err("invalid --snapshot-interval: must be positive".to_string());
            }
            settings.snapshot_interval_entries = interval;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitReply {
    pub node_id: String,
    pub worker_token: String,
    /// The address to pass to `swarm join`.
    pub join_addr: String,
    /// With `--autolock`: the unlock key, shown once.
    #[serde(default)]
    pub unlock_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinTokenRequest {
    pub role: NodeRole,
    pub rotate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenReply {
    pub token: String,
    pub join_addr: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub token: String,
    /// `HOST:PORT` of a manager of the swarm to join.
    pub remote_addr: String,
    pub advertise_addr: Option<String>,
    pub listen_addr: Option<String>,
    pub availability: Option<NodeAvailability>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinReply {
    pub role: NodeRole,
    pub node_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceCreateRequest {
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCreateReply {
    pub id: String,
}

/// `network create`: the spec as the flags gave it (the daemon draws the id; the store chooses the subnet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkCreateRequest {
    pub spec: NetworkSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreateReply {
    pub id: String,
}

/// `service update`: the new spec, based on `version` (the CLI read the service, changed it, and sends it back;
/// a concurrent change makes the update fail "out of sequence", as in Docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceUpdateRequest {
    pub id: String,
    pub version: Version,
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRollbackRequest {
    pub id: String,
    pub version: Version,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRequest {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeUpdateRequest {
    pub id: String,
    pub version: Version,
    pub spec: NodeSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRemoveRequest {
    pub id: String,
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsRequest {
    /// Task ids whose containers to read, each with the address of the node that runs it.
    pub service_id: String,
    pub tail: Option<u64>,
    pub timestamps: bool,
    /// Only lines after this RFC 3339 timestamp (for `-f`, which polls).
    pub since: Option<String>,
}

/// One line of a task's container output, already prefixed the way `service logs` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The engine's RFC 3339 nano timestamp of the line (used for ordering and `-f`'s `since`).
    pub timestamp: String,
    pub task_id: String,
    pub stderr: bool,
    pub text: String,
}

/// `secret create` / `config create`: the name, labels and value (base64 in JSON, as Docker's `Data`). The daemon
/// draws the id; for a secret, the manager seals the value before it is proposed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileObjectCreateRequest {
    pub name: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

impl std::fmt::Debug for FileObjectCreateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FileObjectCreateRequest {{ name: {:?}, labels: {:?}, data: <{} bytes> }}",
            self.name,
            self.labels,
            self.data.len()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileObjectCreateReply {
    pub id: String,
}

/// `config inspect`: the config with its value (a secret's is never answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigInspectReply {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

/// Bytes as a base64 string in JSON (Docker's encoding of `Data`).
mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|error| serde::de::Error::custom(format!("data is not base64: {error}")))
    }
}
