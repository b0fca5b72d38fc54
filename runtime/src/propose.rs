//! Proposing to the replicated store, as seen from above Raft: what a committed proposal answers (`Committed`),
//! why a proposal did not commit (`ProposeError`, Docker's no-leader words among them), and `LeaderHandle`, the
//! narrow handle through which the leader's own work — the manager loop and the dispatcher — reaches the manager
//! it runs in. Defined here, below the manager, so that they need nothing else of it. Invariant: a `Committed`
//! means the proposal's entry was committed and applied on the leader; any error leaves that open only where it
//! says so (`Timeout`, `Forward`, `Raft`, `OutcomeUnknown`).

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::raft::state_machine::StateMachine;
use crate::raft::types::{Answer, NodeId, Proposal};

/// Docker's words when no leader can be found.
pub const NO_LEADER_MESSAGE: &str =
    "The swarm does not have a leader. It's possible that too few managers are online. \
Make sure more than half of the managers are online.";

/// A committed proposal: where it landed and what the core answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Committed {
    pub log_index: u64,
    pub response: Answer,
}

#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error, PartialEq, Eq)]
pub enum ProposeError {
    #[error("{NO_LEADER_MESSAGE}")]
    NoLeader,
    #[error("the proposal did not commit within {0} ms; it may still commit later")]
    Timeout(u64),
    #[error("cannot forward the proposal to the leader at {addr}: {reason}")]
    Forward { addr: String, reason: String },
    #[error("malformed proposal: {0}")]
    Malformed(String),
    #[error("raft: {0}")]
    Raft(String),
    /// The proposal reached the leader at `addr`, and then another manager took over (or `addr` stopped
    /// answering) before the answer came: it may or may not have been applied.
    #[error(
        "the command reached the leader at {addr}, but {reason} before it answered: it may or may not have been \
         applied; check the result before retrying"
    )]
    OutcomeUnknown { addr: String, reason: String },
}

/// What the leader's own work may ask of the manager it runs in. The manager implements it; the manager loop and
/// the dispatcher are written against it alone.
pub trait LeaderHandle: Send + Sync + 'static {
    /// This manager's Raft id.
    fn id(&self) -> NodeId;

    /// How other nodes reach this manager.
    fn advertise_addr(&self) -> &str;

    /// The applied store of this manager, and a watch on what was applied last.
    fn state(&self) -> &StateMachine;

    /// The term this manager leads with a store holding everything committed before it, if it leads (the
    /// manager's lease says when); the leader's work decides only then.
    fn leading_term(&self) -> Option<u64>;

    /// The keys that seal and open secrets' values, if this manager holds the cluster's root CA key.
    fn sealing_keys(&self) -> Option<crate::tls::SealingKeys>;

    /// Commits `proposal` only if this manager is the leader — never forwarded: a deposed leader's decisions must
    /// die with its leadership, since the new leader decides afresh from a store that may not show them yet.
    fn propose_as_leader(&self, proposal: Proposal) -> impl Future<Output = Result<Committed, ProposeError>> + Send;
}
