//! Raft RPCs to peer managers over HTTP/1.1 with postcard bodies (`RaftNetworkFactory` / `RaftNetwork`).
//! Paths: `/raft/append`, `/raft/vote`, `/raft/snapshot` (openraft chunks large snapshots into several
//! install-snapshot calls of `snapshot_max_chunk_size`). Invariant: every failure maps to an openraft
//! `RPCError` — transport failures, timeouts and broken bodies are network errors (never "unreachable": openraft's
//! own backoff for those is not deterministic under the simulator), a remote Raft error is passed through — and
//! nothing a peer sends can panic the caller. Appends and snapshots to a peer that keeps failing back off and log
//! at a bounded rate (`retry`); votes never wait.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::election_timer::BehindPeer;
use super::retry::{Failure, LogLine, RetryState};
use super::types::{NodeId, TypeConfig};
use crate::http::{CallError, HttpClient};
use crate::tls::ClientTls;

pub const PATH_APPEND: &str = "/raft/append";
pub const PATH_VOTE: &str = "/raft/vote";
pub const PATH_SNAPSHOT: &str = "/raft/snapshot";

/// Creates one `PeerConnection` per target manager; all of them record acknowledgements in one `PeerAcks`.
#[derive(Clone, Default)]
pub struct HttpNetwork {
    pub acks: Arc<PeerAcks>,
    pub behind: Arc<BehindPeer>,
    /// How connections to the other managers are secured (`None`: plain, benchmarks only).
    pub tls: Option<ClientTls>,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        PeerConnection {
            target,
            client: HttpClient::with(node.addr.clone(), self.tls.clone()),
            acks: self.acks.clone(),
            behind: self.behind.clone(),
            retry: RetryState::default(),
        }
    }
}

pub struct PeerConnection {
    target: NodeId,
    client: HttpClient,
    acks: Arc<PeerAcks>,
    behind: Arc<BehindPeer>,
    retry: RetryState,
}

/// When each peer last accepted this node as its leader: the send time of the newest append-entries call (a
/// heartbeat, usually) it answered without a higher vote, with the term it was sent in. A follower that accepted
/// a leader at time T neither votes for nor becomes another leader before T plus its election timeout, so a
/// leader acknowledged by a quorum since T is still the only leader until then (a lease; see
/// `Manager::has_quorum_contact`). openraft 0.9 keeps a leader that lost its quorum believing it leads.
#[derive(Debug, Default)]
pub struct PeerAcks {
    by_peer: Mutex<BTreeMap<NodeId, (u64, tokio::time::Instant)>>,
}

impl PeerAcks {
    fn record(&self, peer: NodeId, term: u64, sent_at: tokio::time::Instant) {
        let mut by_peer = self.by_peer.lock().expect("peer acks mutex");
        let newer = by_peer.get(&peer).is_none_or(|(known_term, known_at)| (term, sent_at) > (*known_term, *known_at));
        if newer {
            by_peer.insert(peer, (term, sent_at));
        }
    }

    /// Whether `own` plus the voters that accepted it as leader of `term` at a call sent at or after `since` make
    /// a majority of `voters`.
    pub fn quorum_acked_since(&self, own: NodeId, voters: &[NodeId], term: u64, since: tokio::time::Instant) -> bool {
        let acked = voters.iter().filter(|id| **id == own || self.acked_since(**id, term, since)).count();
        acked > voters.len() / 2
    }

    /// Whether `peer` accepted this node as leader of `term` at a call sent at or after `since`.
    pub fn acked_since(&self, peer: NodeId, term: u64, since: tokio::time::Instant) -> bool {
        let by_peer = self.by_peer.lock().expect("peer acks mutex");
        by_peer.get(&peer).is_some_and(|(acked_term, at)| *acked_term == term && *at >= since)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("manager {target} failed the last calls: next attempt in {retry_in:?}")]
struct BackingOff {
    target: NodeId,
    retry_in: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("malformed reply from manager {target}: {reason}")]
struct MalformedReply {
    target: NodeId,
    reason: String,
}

/// Whether a call waits out the peer's retry backoff first: appends and snapshots do, votes never (an election
/// must not wait on a peer that failed a heartbeat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backoff {
    Honour,
    Skip,
}

/// Records a failure if the call it guards is dropped before it finishes (openraft's own timeout cancels it).
struct FailureUnlessFinished<'a> {
    retry: &'a mut RetryState,
    target: NodeId,
    addr: &'a str,
    finished: bool,
}

impl FailureUnlessFinished<'_> {
    fn finish(mut self, failure: Option<(Failure, &dyn std::fmt::Display)>) {
        self.finished = true;
        match failure {
            Some((failure, error)) => {
                let line = self.retry.failed(tokio::time::Instant::now(), failure);
                log_retry_line(line, self.target, self.addr, error)
            }
            None => log_retry_line(self.retry.succeeded(), self.target, self.addr, &""),
        }
    }
}

impl Drop for FailureUnlessFinished<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let line = self.retry.failed(tokio::time::Instant::now(), Failure::TimedOut);
            log_retry_line(line, self.target, self.addr, &"no answer within the call's deadline");
        }
    }
}

fn log_retry_line(line: Option<LogLine>, target: NodeId, addr: &str, error: &dyn std::fmt::Display) {
    match line {
        Some(LogLine::Failing { failures: 1 }) => {
            tracing::warn!("replication to manager {target} at {addr} failed (retrying with backoff): {error}")
        }
        Some(LogLine::Failing { failures }) => {
            tracing::warn!("replication to manager {target} at {addr} still failing, {failures} errors since the last report: {error}")
        }
        Some(LogLine::Recovered { failures }) => {
            tracing::info!(
                "replication to manager {target} at {addr} works again ({failures} more errors since the last report)"
            )
        }
        None => {}
    }
}

impl PeerConnection {
    async fn call<Req, Resp, E>(
        &mut self,
        path: &str,
        request: &Req,
        timeout: Duration,
        backoff: Backoff,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = postcard::to_stdvec(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        if backoff == Backoff::Skip {
            return decode(self.target, self.client.post(path, body, timeout).await);
        }
        // While backing off, a call waits (at most three quarters of its own deadline, which openraft enforces from outside)
        // and fails without sending: the next call after the backoff then has its whole deadline for the peer.
        if let Some(not_before) = self.retry.not_before() {
            let now = tokio::time::Instant::now();
            if now < not_before {
                tokio::time::sleep((not_before - now).min(timeout * 3 / 4)).await;
                let error = BackingOff { target: self.target, retry_in: not_before - now };
                return Err(RPCError::Network(NetworkError::new(&error)));
            }
        }
        let PeerConnection { target, client, retry, .. } = self;
        let addr = client.addr().to_string();
        let guard = FailureUnlessFinished { retry, target: *target, addr: &addr, finished: false };
        let reply = client.post(path, body, timeout).await;
        let failure = match &reply {
            Ok(_) => None,
            Err(CallError::Timeout { .. }) => Some(Failure::TimedOut),
            Err(_) => Some(Failure::Refused),
        };
        let result = decode(*target, reply);
        match (&result, failure) {
            (Err(RPCError::Network(error)), failure) => {
                guard.finish(Some((failure.unwrap_or(Failure::Refused), error)))
            }
            _ => guard.finish(None),
        }
        result
    }
}

/// The outcome of one call as openraft takes it.
#[allow(clippy::result_large_err)] // openraft's own error type, as its trait methods return it
fn decode<Resp, E>(
    target: NodeId,
    reply: Result<bytes::Bytes, CallError>,
) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
where
    Resp: DeserializeOwned,
    E: std::error::Error + DeserializeOwned,
{
    let reply = reply.map_err(|error| RPCError::Network(NetworkError::new(&error)))?;
    let decoded: Result<Resp, E> = postcard::from_bytes(&reply)
        .map_err(|e| RPCError::Network(NetworkError::new(&MalformedReply { target, reason: e.to_string() })))?;
    decoded.map_err(|remote| RPCError::RemoteError(RemoteError::new(target, remote)))
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let (term, sent_at) = (rpc.vote.leader_id().term, tokio::time::Instant::now());
        let response = self.call(PATH_APPEND, &rpc, option.hard_ttl(), Backoff::Honour).await;
        if matches!(&response, Ok(answer) if !matches!(answer, AppendEntriesResponse::HigherVote(_))) {
            self.acks.record(self.target, term, sent_at);
        }
        response
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>>
    {
        self.call(PATH_SNAPSHOT, &rpc, option.hard_ttl(), Backoff::Honour).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let response: Result<VoteResponse<NodeId>, _> =
            self.call(PATH_VOTE, &rpc, option.hard_ttl(), Backoff::Skip).await;
        if let Ok(answer) = &response {
            self.behind.compare(rpc.last_log_id.as_ref(), answer.last_log_id.as_ref());
        }
        response
    }
}
