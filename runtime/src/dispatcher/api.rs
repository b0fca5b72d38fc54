//! The dispatcher's wire vocabulary: paths, request and reply bodies (postcard), its error and its limits, shared
//! by the leader that serves them and the agents that call them. Invariant: every reply is a
//! `Result<_, DispatcherError>`, so an agent can tell a verdict on its session from a transport failure.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use swarm_core::overlay::NodeOverlayPlan;
use swarm_core::{ManagerStatus, NodeAvailability, NodeDescription, NodeRole, Task, TaskStatus};

/// Every dispatcher path starts with this.
pub const PATH_PREFIX: &str = "/dispatcher/";
pub const PATH_SESSION: &str = "/dispatcher/session";
pub const PATH_HEARTBEAT: &str = "/dispatcher/heartbeat";
pub const PATH_ASSIGNMENTS: &str = "/dispatcher/assignments";
pub const PATH_STATUS: &str = "/dispatcher/status";
pub const PATH_TUNNEL: &str = "/dispatcher/tunnel";

/// How long the leader holds an assignments long-poll open when nothing changes for the node.
pub const ASSIGNMENTS_POLL_MS: u64 = 5_000;
/// Task status updates accepted in one report.
pub const STATUS_UPDATES_MAX: usize = 10_000;

/// Opens a session: registers the node (or refreshes its description) and marks it ready.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRequest {
    pub node_id: String,
    pub description: NodeDescription,
    /// Where the node is reachable (shown as its status address).
    pub addr: String,
    /// The role a node gets when it registers for the first time.
    pub role: NodeRole,
    /// The availability a node gets when it registers for the first time (`swarm join --availability`).
    pub availability: NodeAvailability,
    /// Set on a manager's own agent: its Raft id and address, recorded as the node's manager status.
    pub manager: Option<ManagerStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionReply {
    pub session_id: String,
    pub heartbeat_period_ms: u64,
    /// The leader's address: the agent talks to it directly from now on (saving a forwarding hop).
    pub leader_addr: String,
}

/// Heartbeat, assignment poll and status report all name the node and its session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRef {
    pub node_id: String,
    pub session_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeartbeatReply {
    pub heartbeat_period_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AssignmentsRequest {
    pub session: SessionRef,
    /// The fingerprint of the assignment set the agent has; the leader answers when its set differs (or after
    /// `ASSIGNMENTS_POLL_MS`). `None` answers at once.
    pub known: Option<u64>,
}

/// Every task the store binds to the node, with its desired and observed state. A task missing from the set is
/// no longer the node's business: the agent removes its container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Assignments {
    /// Covers the tasks and `removed_nodes`, so a removal wakes every agent's poll.
    pub fingerprint: u64,
    pub tasks: Vec<Task>,
    /// The ids of the nodes `node rm` removed (the store's bounded list, oldest first): the agent removes the
    /// containers of its own cluster that such a node left on its engine.
    pub removed_nodes: Vec<String>,
    /// What the node must realise of the overlay networks (devices, VXLAN forwarding, DNS, VIPs, the mesh).
    pub overlay: NodeOverlayPlan,
    /// The values of the secrets the node's live tasks reference (opened by the leader; sent over TLS only to
    /// this node), by id.
    pub secrets: Vec<FilePayload>,
    /// The values of the configs the node's live tasks reference, by id.
    pub configs: Vec<FilePayload>,
}

/// A secret's or config's value on its way to a node. `Debug` shows its size, never its bytes.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FilePayload {
    pub id: String,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for FilePayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FilePayload {{ id: {:?}, data: <{} bytes> }}", self.id, self.data.len())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusReport {
    pub session: SessionRef,
    pub updates: Vec<(String, TaskStatus)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusReply {
    /// Updates applied; the rest were stale and dropped.
    pub applied: u64,
}

/// A node's tunnel key and port for encrypted networks (`Command::SetNodeTunnel`); answered once committed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TunnelReport {
    pub session: SessionRef,
    pub public_key: swarm_core::TunnelKey,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, thiserror::Error)]
pub enum DispatcherError {
    /// The session is not (or no longer) known to the leader: open a new one.
    #[error("unknown session for node {0}; open a new session")]
    UnknownSession(String),
    #[error("{}", crate::propose::NO_LEADER_MESSAGE)]
    NoLeader,
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The node's id was removed with `node rm`: it may never open a session again (SwarmKit's words).
    #[error("Permission denied: node {0} was removed from swarm")]
    NodeRemoved(String),
    /// Writing to the cluster failed (timeout, lost leadership); retry.
    #[error("cannot write to the cluster: {0}")]
    Write(String),
}

/// How long an agent's client waits for an assignments answer.
pub fn assignments_call_timeout() -> Duration {
    Duration::from_millis(ASSIGNMENTS_POLL_MS + 5_000)
}
