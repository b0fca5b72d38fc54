//! Nodes: what the user controls (`NodeSpec`: role, availability, labels), what the dispatcher observes
//! (`NodeStatus`), what the agent reports about itself (`NodeDescription`), and Raft membership (`ManagerStatus`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::{Timestamp, Version};
use crate::spec::{Platform, Resources};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub spec: NodeSpec,
    pub status: NodeStatus,
    pub description: NodeDescription,
    /// Set while the node is a Raft member (Docker's `ManagerStatus`); `None` for workers.
    pub manager_status: Option<ManagerStatus>,
}

impl Node {
    /// A node as an agent registers it: version and timestamps are filled in by `apply`.
    pub fn new(id: impl Into<String>, spec: NodeSpec, description: NodeDescription) -> Node {
        Node {
            id: id.into(),
            version: Version::INITIAL,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            spec,
            status: NodeStatus::default(),
            description,
            manager_status: None,
        }
    }
}

/// A node `node rm` removed: its id never comes back (a node that rejoins gets a new identity), so "this id was
/// removed" is a definitive fact, unlike "this id is not a member" (a node that just joined may be missing from a
/// stale view). Agents remove the containers such a node left on a shared engine; the dispatcher refuses it a
/// session. SwarmKit keeps the same list as `Cluster.BlacklistedCertificates`, for certificate revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedNode {
    pub id: String,
    /// The time of the proposal that removed it.
    pub removed_at: Timestamp,
}

/// What the user controls about a node (`docker node update`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Docker's optional `Spec.Name`; `docker node ls` shows the description's hostname.
    pub name: Option<String>,
    pub role: NodeRole,
    pub availability: NodeAvailability,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    Manager,
    #[default]
    Worker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeAvailability {
    #[default]
    Active,
    Pause,
    Drain,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeStatus {
    pub state: NodeState,
    pub message: String,
    /// The address the node was last seen at.
    pub addr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    #[default]
    Unknown,
    Down,
    Ready,
    Disconnected,
}

/// What the node reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeDescription {
    pub hostname: String,
    pub platform: Platform,
    pub resources: Resources,
    pub engine: EngineDescription,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EngineDescription {
    pub engine_version: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerStatus {
    pub raft_id: u64,
    pub addr: String,
    pub leader: bool,
    pub reachability: Reachability,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    #[default]
    Unknown,
    Unreachable,
    Reachable,
}
