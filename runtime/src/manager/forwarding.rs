//! What a manager sends on to the leader: client proposals (one hop at most — a forwarded proposal is never
//! forwarded again), dispatcher calls from agents, reads of the leader's view, and JSON requests only the leader
//! serves. Invariant: a request is served here only when this manager leads, or forwarded once, over the
//! manager's pool of peer connections; an unreachable or unknown leader is Docker's no-leader answer, never a
//! retry loop.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;

use super::api::{ProposeRequest, PATH_DISPATCHER_ON_LEADER, PATH_PROPOSE, PATH_VIEW};
use super::membership::MembershipError;
use super::Manager;
use crate::clock::wall_clock_now;
use crate::control::view::ClusterView;
use crate::dispatcher::api::{assignments_call_timeout, DispatcherError, PATH_ASSIGNMENTS};
use crate::http::{CallError, Reply};
use crate::propose::{Committed, ProposeError, NO_LEADER_MESSAGE};
use crate::raft::batcher::WriteError;
use crate::raft::types::Proposal;

/// Why the leader's view of the cluster could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("{NO_LEADER_MESSAGE}")]
    NoLeader,
    /// This manager leads but cannot confirm it (`confirm_leadership`).
    #[error(transparent)]
    Leadership(ProposeError),
    /// The leader answered with an error: its message, as it is.
    #[error("{0}")]
    Refused(String),
    #[error("{NO_LEADER_MESSAGE} ({0})")]
    Unreachable(CallError),
    #[error("malformed view from the leader: {0}")]
    Malformed(serde_json::Error),
}

/// The largest encoded proposal accepted from a client. A batch entry holds at most `batcher::BATCH_BYTES_MAX`
/// bytes of proposals beyond its first, so an entry stays well under the WAL's record limit.
pub const PROPOSAL_BYTES_MAX: usize = 1024 * 1024;

impl Manager {
    /// Commits `proposal` through the leader (forwarding if needed) and returns the core's answer.
    pub async fn propose(&self, proposal: Proposal) -> Result<Committed, ProposeError> {
        self.propose_inner(ProposeRequest { proposal, forwarded: false }).await
    }

    /// Writes `request` through this manager's batcher when it leads; otherwise sends it to the leader, unless it
    /// was forwarded already (then: no leader).
    pub(super) async fn propose_inner(&self, request: ProposeRequest) -> Result<Committed, ProposeError> {
        let timeout_ms = self.config.raft.propose_timeout_ms;
        let bytes = postcard::experimental::serialized_size(&request.proposal).unwrap_or(usize::MAX);
        if bytes > PROPOSAL_BYTES_MAX {
            return Err(ProposeError::Malformed(format!(
                "proposal is {bytes} bytes; the limit is {PROPOSAL_BYTES_MAX} bytes"
            )));
        }
        let write =
            tokio::time::timeout(Duration::from_millis(timeout_ms), self.batcher.write(request.proposal.clone()));
        match write.await {
            Err(_) => Err(ProposeError::Timeout(timeout_ms)),
            Ok(Ok((log_index, response))) => Ok(Committed { log_index, response }),
            Ok(Err(WriteError::ForwardToLeader { leader_node, .. })) => match (leader_node, request.forwarded) {
                (Some(leader), false) => {
                    let body = postcard::to_stdvec(&ProposeRequest { proposal: request.proposal, forwarded: true })
                        .map_err(|e| ProposeError::Malformed(e.to_string()))?;
                    let timeout = Duration::from_millis(timeout_ms + 1_000);
                    let reply = self.peers.post(&leader.addr, PATH_PROPOSE, body, timeout).await;
                    match reply {
                        Ok(bytes) => postcard::from_bytes::<Result<Committed, ProposeError>>(&bytes).map_err(|e| {
                            ProposeError::Forward { addr: leader.addr.clone(), reason: format!("malformed reply: {e}") }
                        })?,
                        Err(error) => Err(ProposeError::Forward { addr: leader.addr, reason: error.to_string() }),
                    }
                }
                _ => Err(ProposeError::NoLeader),
            },
            Ok(Err(WriteError::Raft(message))) => Err(ProposeError::Raft(message)),
            Ok(Err(WriteError::Timeout)) => Err(ProposeError::Timeout(timeout_ms)),
        }
    }

    /// A dispatcher call from an agent: served here while this manager leads, otherwise forwarded once to the
    /// leader (under `PATH_DISPATCHER_ON_LEADER`, which is never forwarded again).
    pub(super) async fn dispatcher_call(&self, path: &str, body: Bytes, forwarded: bool) -> Reply {
        // A leader cut off from its quorum must not tell agents their assignments: its store may miss tasks
        // assigned since, and an agent told a task is not its own removes the task's container. (Its other answers
        // are harmless: what it would write cannot commit.)
        let may_assign = path != PATH_ASSIGNMENTS || self.has_quorum_contact();
        if self.leading_term_with_own_entry_applied().is_some() && self.dispatcher.term().is_some() && may_assign {
            return crate::dispatcher::serve::handle_call(self, &self.dispatcher, path, &body).await;
        }
        let no_leader = || {
            let reply: Result<(), DispatcherError> = Err(DispatcherError::NoLeader);
            Reply::postcard(&reply)
        };
        if forwarded {
            return no_leader();
        }
        let Some(addr) = self.leader_addr() else { return no_leader() };
        if addr == self.config.advertise_addr {
            return no_leader();
        }
        let on_leader = format!("{PATH_DISPATCHER_ON_LEADER}{path}");
        match self.peers.post(&addr, &on_leader, body.to_vec(), assignments_call_timeout()).await {
            Ok(bytes) => Reply::ok(bytes.to_vec()),
            Err(CallError::Status { status, message, .. }) => {
                Reply::error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
            }
            Err(_) => no_leader(),
        }
    }

    /// Sends an admin request this manager cannot serve as a follower to the leader.
    pub(super) async fn admin_on_leader(&self, path: &str, body: Vec<u8>) -> Result<(), MembershipError> {
        let Some(addr) = self.leader_addr() else { return Err(MembershipError::NoLeader) };
        self.peers.post(&addr, path, body, Duration::from_millis(30_000)).await?;
        Ok(())
    }

    /// Sends a JSON request this manager cannot serve as a follower to the leader, and relays the answer.
    pub(super) async fn relay_to_leader(&self, path: &str, body: Bytes) -> Reply {
        let Some(addr) = self.leader_addr().filter(|a| *a != self.config.advertise_addr) else {
            return Reply::error(StatusCode::SERVICE_UNAVAILABLE, NO_LEADER_MESSAGE);
        };
        match self.peers.post(&addr, path, body.to_vec(), Duration::from_millis(60_000)).await {
            Ok(bytes) => Reply { status: StatusCode::OK, content_type: "application/json", body: bytes.to_vec() },
            Err(CallError::Status { status, message, .. }) => {
                Reply::error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
            }
            Err(error) => Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        }
    }

    /// The cluster as the leader sees it (asking the leader when this manager is a follower), with every manager
    /// node's `leader` flag and reachability filled in: a manager is reachable while its node is up (each manager
    /// runs an agent whose heartbeats keep its node ready).
    pub async fn leader_view(&self) -> Result<ClusterView, ViewError> {
        if !self.is_leader() {
            let Some(addr) = self.leader_addr().filter(|a| *a != self.config.advertise_addr) else {
                return Err(ViewError::NoLeader);
            };
            let bytes = self.peers.get(&addr, PATH_VIEW, Duration::from_secs(10)).await.map_err(|e| match e {
                CallError::Status { message, .. } => ViewError::Refused(message),
                other => ViewError::Unreachable(other),
            })?;
            return serde_json::from_slice(&bytes).map_err(ViewError::Malformed);
        }
        self.confirm_leadership().await.map_err(ViewError::Leadership)?;
        let leader = self.raft.metrics().borrow().current_leader;
        let now = wall_clock_now();
        let mut view = self.state.read(|store| ClusterView::from_store(store, "", now));
        for node in &mut view.nodes {
            let up = node.status.state == swarm_core::NodeState::Ready;
            if let Some(status) = &mut node.manager_status {
                status.leader = Some(status.raft_id) == leader;
                status.reachability = if up || status.leader {
                    swarm_core::Reachability::Reachable
                } else {
                    swarm_core::Reachability::Unreachable
                };
            }
        }
        Ok(view)
    }
}
