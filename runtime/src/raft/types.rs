//! The openraft type configuration: what a log entry carries (`Request`: one core proposal) and what applying
//! it answers (`Response`: the core outcome or its typed rejection).

use std::io::Cursor;

use openraft::BasicNode;

use super::rt::SwarmRuntime;

pub type NodeId = u64;

/// One replicated write: the core proposal (command plus the leader-supplied time).
pub type Request = swarm_core::Proposal;
/// What `apply` answered for one entry. Blank and membership entries answer `Outcome::Unchanged`.
pub type Response = Result<swarm_core::Outcome, swarm_core::Rejection>;

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = SwarmRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, BasicNode>;
pub type StoredMembership = openraft::StoredMembership<NodeId, BasicNode>;
