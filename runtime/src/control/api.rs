//! The control API's vocabulary: paths, request and reply bodies (JSON), shared by the daemon that serves them and
//! the CLI that calls them. Every failure is an HTTP status with a plain-text message meant for the user, in
//! Docker's words where Docker has them (the CLI prints it after `Error response from daemon: `).

use serde::{Deserialize, Serialize};
use swarm_core::{NetworkSpec, NodeAvailability, NodeRole, NodeSpec, ServiceSpec, Version};

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitReply {
    pub node_id: String,
    pub worker_token: String,
    /// The address to pass to `swarm join`.
    pub join_addr: String,
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
