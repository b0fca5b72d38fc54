//! What a manager sends on to the leader: client proposals (one hop at most — a forwarded proposal is never
//! forwarded again), dispatcher calls from agents, reads of the leader's view, and JSON requests only the leader
//! serves. Invariant: a request is served here only when this manager leads, or forwarded once, over the
//! manager's pool of peer connections. Proposals and the view follow leadership: an unreachable leader is left
//! for the next one local Raft names, a proposal whose leader was superseded mid-flight is answered "outcome
//! unknown" at once, and Docker's no-leader answer means Raft named no leader for a couple of election timeouts.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;

use super::api::{ProposeRequest, PATH_PROPOSE, PATH_VIEW};
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

/// How often a wait on leadership looks at local Raft's view of who leads. Polled, not awaited on openraft's
/// metrics channel: that is tokio's watch channel, whose waiters wake in an order the simulator cannot replay.
const LEADER_POLL: Duration = Duration::from_millis(25);

/// How a call to the leader ended: with its answer, or abandoned because local Raft named another leader first.
enum LeaderCall<T> {
    Answered(Result<T, CallError>),
    Superseded { by: String },
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
    /// was forwarded already (then: no leader). Forwarding follows leadership (issue 15): a leader that cannot be
    /// reached has not seen the proposal, so it goes to whichever manager leads next, once local Raft names one;
    /// a leader that took the proposal but fell silent while another took over leaves its outcome unknown, and
    /// that is the answer (at once, not when the old leader wakes up). No leader is the answer only when Raft
    /// names none for a couple of election timeouts.
    pub(super) async fn propose_inner(&self, request: ProposeRequest) -> Result<Committed, ProposeError> {
        let timeout_ms = self.config.raft.propose_timeout_ms;
        let bytes = postcard::experimental::serialized_size(&request.proposal).unwrap_or(usize::MAX);
        if bytes > PROPOSAL_BYTES_MAX {
            return Err(ProposeError::Malformed(format!(
                "proposal is {bytes} bytes; the limit is {PROPOSAL_BYTES_MAX} bytes"
            )));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
        // Leaders found unreachable: the proposal never reached them.
        let mut unreachable: Vec<String> = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let write = tokio::time::timeout(remaining, self.batcher.write(request.proposal.clone()));
            let leader = match write.await {
                Err(_) => return Err(ProposeError::Timeout(timeout_ms)),
                Ok(Ok((log_index, response))) => return Ok(Committed { log_index, response }),
                Ok(Err(WriteError::Raft(message))) => return Err(ProposeError::Raft(message)),
                Ok(Err(WriteError::Timeout)) => return Err(ProposeError::Timeout(timeout_ms)),
                Ok(Err(WriteError::ForwardToLeader { leader_node, .. })) => leader_node,
            };
            if request.forwarded {
                return Err(ProposeError::NoLeader);
            }
            let leader_addr = match leader.map(|node| node.addr).filter(|addr| !unreachable.contains(addr)) {
                Some(addr) => addr,
                None => match self.await_leader_other_than(&unreachable, self.leader_search_deadline(deadline)).await {
                    Some(_) => continue,
                    None => {
                        return Err(match unreachable.pop() {
                            Some(addr) => ProposeError::Forward { addr, reason: "unreachable".into() },
                            None => ProposeError::NoLeader,
                        })
                    }
                },
            };
            let body = postcard::to_stdvec(&ProposeRequest { proposal: request.proposal.clone(), forwarded: true })
                .map_err(|e| ProposeError::Malformed(e.to_string()))?;
            // The leader's own commit timeout plus a margin, within what is left of this request's deadline.
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let timeout = remaining + Duration::from_millis(1_000);
            let call = self.peers.post(&leader_addr, PATH_PROPOSE, body, timeout);
            match self.call_while_leading(&leader_addr, call).await {
                LeaderCall::Answered(Ok(bytes)) => {
                    return postcard::from_bytes::<Result<Committed, ProposeError>>(&bytes).map_err(|e| {
                        ProposeError::Forward { addr: leader_addr, reason: format!("malformed reply: {e}") }
                    })?
                }
                LeaderCall::Answered(Err(error)) if error.is_unreachable() => unreachable.push(leader_addr),
                LeaderCall::Answered(Err(error)) => {
                    return Err(ProposeError::OutcomeUnknown { addr: leader_addr, reason: error.to_string() })
                }
                LeaderCall::Superseded { by } => {
                    return Err(ProposeError::OutcomeUnknown {
                        addr: leader_addr,
                        reason: format!("the manager at {by} was elected leader"),
                    })
                }
            }
        }
    }

    /// How long to look for a leader before answering that there is none: a couple of election timeouts (an
    /// election in progress ends within them), but never past the request's own deadline.
    fn leader_search_deadline(&self, deadline: tokio::time::Instant) -> tokio::time::Instant {
        let search = Duration::from_millis(2 * self.config.raft.election_timeout_max_ms);
        deadline.min(tokio::time::Instant::now() + search)
    }

    /// Runs `call` to the leader at `addr`, unless local Raft names another leader first (a new term's leader has
    /// made itself known here): then the call is abandoned, whatever the old leader does with it later.
    async fn call_while_leading<T>(
        &self,
        addr: &str,
        call: impl std::future::Future<Output = Result<T, CallError>>,
    ) -> LeaderCall<T> {
        let mut call = std::pin::pin!(call);
        loop {
            // The call first: an answer that is in wins over a leadership change seen at the same moment, and the
            // request is on its way before any change can abandon it.
            tokio::select! {
                // Deterministic branch order: tokio's default picks a random branch first, outside madsim's RNG.
                biased;
                answer = &mut call => return LeaderCall::Answered(answer),
                _ = tokio::time::sleep(LEADER_POLL) => {}
            }
            if let Some(by) = self.leader_addr().filter(|leader| leader != addr) {
                return LeaderCall::Superseded { by };
            }
        }
    }

    /// Waits until this manager leads (then: its own address) or local Raft names a leader other than itself and
    /// not in `excluded` (its address), or until `deadline` (None).
    async fn await_leader_other_than(&self, excluded: &[String], deadline: tokio::time::Instant) -> Option<String> {
        loop {
            if self.is_leader() {
                return Some(self.config.advertise_addr.clone());
            }
            let other = |addr: &String| *addr != self.config.advertise_addr && !excluded.contains(addr);
            if let Some(addr) = self.leader_addr().filter(other) {
                return Some(addr);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(LEADER_POLL).await;
        }
    }

    /// A dispatcher call from an agent: served here while this manager leads, otherwise forwarded once to the
    /// leader (under `PATH_DISPATCHER_ON_LEADER`, which is never forwarded again).
    /// `acting_for`: the node the caller may act as (a worker's own id), `None` for a manager.
    pub(super) async fn dispatcher_call(
        &self,
        path: &str,
        body: Bytes,
        forwarded: bool,
        acting_for: Option<String>,
    ) -> Reply {
        // A leader cut off from its quorum must not tell agents their assignments: its store may miss tasks
        // assigned since, and an agent told a task is not its own removes the task's container. (Its other answers
        // are harmless: what it would write cannot commit.)
        let may_assign = path != PATH_ASSIGNMENTS || self.has_quorum_contact();
        if self.leading_term_with_own_entry_applied().is_some() && self.dispatcher.term().is_some() && may_assign {
            return crate::dispatcher::serve::handle_call(self, &self.dispatcher, path, &body, acting_for.as_deref())
                .await;
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
        let on_leader = super::forwarded_dispatcher_path(acting_for.as_deref(), path);
        // Abandoned when another leader is named meanwhile: the agent then finds it (its session is with the old
        // leader's term anyway).
        let call = self.peers.post(&addr, &on_leader, body.to_vec(), assignments_call_timeout());
        match self.call_while_leading(&addr, call).await {
            LeaderCall::Answered(Ok(bytes)) => Reply::ok(bytes.to_vec()),
            LeaderCall::Answered(Err(CallError::Status { status, message, .. })) => {
                Reply::error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
            }
            LeaderCall::Answered(Err(_)) | LeaderCall::Superseded { .. } => no_leader(),
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
    /// A read, so it follows leadership freely: asked of a leader that falls silent while another takes over, or
    /// that cannot be reached, it is asked again of the next leader local Raft names.
    pub async fn leader_view(&self) -> Result<ClusterView, ViewError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut unreachable: Vec<String> = Vec::new();
        while !self.is_leader() {
            let known = self.leader_addr().filter(|a| *a != self.config.advertise_addr && !unreachable.contains(a));
            let addr = match known {
                Some(addr) => addr,
                None => match self.await_leader_other_than(&unreachable, self.leader_search_deadline(deadline)).await {
                    Some(_) => continue,
                    None => return Err(ViewError::NoLeader),
                },
            };
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let call = self.peers.get(&addr, PATH_VIEW, remaining);
            match self.call_while_leading(&addr, call).await {
                LeaderCall::Answered(Ok(bytes)) => return serde_json::from_slice(&bytes).map_err(ViewError::Malformed),
                LeaderCall::Answered(Err(CallError::Status { message, .. })) => {
                    return Err(ViewError::Refused(message))
                }
                LeaderCall::Answered(Err(error)) if error.is_unreachable() => unreachable.push(addr),
                LeaderCall::Answered(Err(error)) => return Err(ViewError::Unreachable(error)),
                LeaderCall::Superseded { .. } => {}
            }
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
