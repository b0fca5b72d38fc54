//! The openraft type configuration: what a log entry carries (`Request`: one core proposal) and what applying
//! it answers (`Response`: the core outcome or its typed rejection).

use std::io::Cursor;

use openraft::BasicNode;

use super::rt::SwarmRuntime;

pub type NodeId = u64;

/// One client write: the core proposal (command plus the proposer's time).
pub type Proposal = swarm_core::Proposal;
/// What `Store::apply` answered for one proposal.
pub type Answer = Result<swarm_core::Outcome, swarm_core::Rejection>;

/// One Raft entry's payload: independent proposals the leader coalesced (each applied on its own; one's rejection
/// does not affect the others — unlike `Command::Batch`, which is atomic). Serialized as the bare list of
/// proposals, in the proposal format `entry_format` says (today's, except for log entries of the previous one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalBatch(pub Vec<Proposal>);

/// The answers for an entry, one per proposal in order (empty for blank and membership entries).
pub type Answers = Vec<Answer>;

openraft::declare_raft_types!(
    pub TypeConfig:
        D = ProposalBatch,
        R = Answers,
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
