//! Serving the dispatcher's calls on the leader: opening a session (registering the node through a proposal),
//! heartbeats, the assignments long-poll, status reports (batched into few proposals) and tunnel keys. Written against
//! `LeaderHandle` and the leader's `Dispatcher` sessions alone. Invariants: a session opens only while this
//! manager leads a term, its grace counts from when it opened; a status report is answered only once its
//! updates committed, stale ones dropped.

use std::time::Duration;

use hyper::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_core::{Command, NodeState, Proposal, Timestamp, BATCH_COMMANDS_MAX};

use super::api::{
    Assignments, AssignmentsRequest, DispatcherError, HeartbeatReply, SessionRef, SessionReply, SessionRequest,
    StatusReply, StatusReport, TunnelReport, ASSIGNMENTS_POLL_MS, PATH_ASSIGNMENTS, PATH_HEARTBEAT, PATH_SESSION,
    PATH_STATUS, PATH_TUNNEL, STATUS_UPDATES_MAX,
};
use super::rules::{assignments, fresh_updates, heartbeat_period_ms, open_secrets, registration};
use super::sessions::Dispatcher;
use crate::clock::wall_clock_now;
use crate::http::Reply;
use crate::ids::random_id;
use crate::propose::{LeaderHandle, ProposeError};

/// Serves one dispatcher call on the leader (`path` is one of the `api::PATH_*`), with `dispatcher` the leader's
/// sessions. `acting_for`: the only node the caller may name (a worker's certificate), `None` for a manager.
pub async fn handle_call<L: LeaderHandle>(
    leader: &L,
    dispatcher: &Dispatcher,
    path: &str,
    body: &[u8],
    acting_for: Option<&str>,
) -> Reply {
    let answer = |path, body| Answer { path, body, acting_for };
    match path {
        PATH_SESSION => {
            answer(path, body)
                .with(|mut request: SessionRequest| {
                    if acting_for.is_some() {
                        // A worker's certificate registers a worker, whatever its request says: the role and the
                        // manager status of a node come from a manager's certificate only.
                        request.role = swarm_core::NodeRole::Worker;
                        request.manager = None;
                    }
                    open_session(leader, dispatcher, request)
                })
                .await
        }
        PATH_HEARTBEAT => {
            answer(path, body)
                .with(|session: SessionRef| async move {
                    let (period, ready) = leader.state().read(|store| {
                        let ready = store.node(&session.node_id).is_some_and(|n| n.status.state == NodeState::Ready);
                        (heartbeat_period_ms(store), ready)
                    });
                    if !ready {
                        // Marked down meanwhile (say, by an entry of an earlier leader that committed late): the
                        // agent must open a new session, which marks the node ready again.
                        dispatcher.close_session(&session);
                        return Err(DispatcherError::UnknownSession(session.node_id));
                    }
                    dispatcher.heartbeat(&session, wall_clock_now(), period)?;
                    Ok(HeartbeatReply { heartbeat_period_ms: period })
                })
                .await
        }
        PATH_ASSIGNMENTS => answer(path, body).with(|request| poll_assignments(leader, dispatcher, request)).await,
        PATH_STATUS => answer(path, body).with(|report| report_status(leader, dispatcher, report)).await,
        PATH_TUNNEL => {
            answer(path, body)
                .with(|report: TunnelReport| async move {
                    dispatcher.check_session(&report.session)?;
                    let TunnelReport { session, public_key, port } = report;
                    let command = Command::SetNodeTunnel { node_id: session.node_id, public_key, port };
                    propose_all(leader, wall_clock_now(), command).await
                })
                .await
        }
        _ => Reply::error(StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
    }
}

/// One call's body and who may be named in it.
struct Answer<'a> {
    path: &'a str,
    body: &'a [u8],
    acting_for: Option<&'a str>,
}

impl Answer<'_> {
    /// Decodes the request, refuses one naming a node the caller may not act as, and answers with `f`'s result.
    async fn with<Request, Response, Fut>(self, f: impl FnOnce(Request) -> Fut) -> Reply
    where
        Request: DeserializeOwned + NamesNode,
        Response: Serialize,
        Fut: std::future::Future<Output = Result<Response, DispatcherError>>,
    {
        match postcard::from_bytes::<Request>(self.body) {
            Ok(request) => match self.acting_for {
                Some(own) if own != request.node_id() => Reply::error(
                    StatusCode::FORBIDDEN,
                    format!("Permission denied: node {own} may not act for node {}", request.node_id()),
                ),
                _ => Reply::postcard(&f(request).await),
            },
            Err(e) => Reply::malformed(self.path, e),
        }
    }
}

/// The node a dispatcher request speaks for.
trait NamesNode {
    fn node_id(&self) -> &str;
}

impl NamesNode for SessionRequest {
    fn node_id(&self) -> &str {
        &self.node_id
    }
}

impl NamesNode for SessionRef {
    fn node_id(&self) -> &str {
        &self.node_id
    }
}

impl NamesNode for AssignmentsRequest {
    fn node_id(&self) -> &str {
        &self.session.node_id
    }
}

impl NamesNode for StatusReport {
    fn node_id(&self) -> &str {
        &self.session.node_id
    }
}

impl NamesNode for TunnelReport {
    fn node_id(&self) -> &str {
        &self.session.node_id
    }
}

async fn open_session(
    leader: &impl LeaderHandle,
    dispatcher: &Dispatcher,
    request: SessionRequest,
) -> Result<SessionReply, DispatcherError> {
    if dispatcher.term().is_none() {
        return Err(DispatcherError::NoLeader);
    }
    let (commands, period) = leader
        .state()
        .read(|store| Ok::<_, DispatcherError>((registration(store, &request)?, heartbeat_period_ms(store))))?;
    let now = wall_clock_now();
    if !commands.is_empty() {
        propose_all(leader, now, Command::Batch(commands)).await?;
    }
    let session_id = random_id();
    // The grace counts from now, not from before the registration committed (under latency that can take
    // longer than the grace itself, and the node would be marked down the moment its session opened).
    dispatcher.open_session(&request.node_id, session_id.clone(), wall_clock_now(), period)?;
    tracing::debug!(node = %request.node_id, "agent session opened");
    Ok(SessionReply { session_id, heartbeat_period_ms: period, leader_addr: leader.advertise_addr().to_string() })
}

async fn poll_assignments(
    leader: &impl LeaderHandle,
    dispatcher: &Dispatcher,
    request: AssignmentsRequest,
) -> Result<Assignments, DispatcherError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ASSIGNMENTS_POLL_MS);
    let mut applied = leader.state().applied_watch();
    loop {
        dispatcher.check_session(&request.session)?;
        applied.borrow_and_update();
        let (mut current, sealed) = leader.state().read(|store| assignments(store, &request.session.node_id));
        if request.known != Some(current.fingerprint) || tokio::time::Instant::now() >= deadline {
            let key = leader.sealing_keys();
            current.secrets = open_secrets(&sealed, &request.session.node_id, |secret| match &key {
                Some(key) => key.open(&secret.id, &secret.sealed).map_err(|error| error.to_string()),
                None => Err("this manager holds no sealing key".to_string()),
            });
            return Ok(current);
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let _ = tokio::time::timeout(remaining, applied.changed()).await;
    }
}

async fn report_status(
    leader: &impl LeaderHandle,
    dispatcher: &Dispatcher,
    report: StatusReport,
) -> Result<StatusReply, DispatcherError> {
    dispatcher.check_session(&report.session)?;
    if report.updates.len() > STATUS_UPDATES_MAX {
        return Err(DispatcherError::Invalid(format!(
            "{} status updates in one report; the limit is {STATUS_UPDATES_MAX}",
            report.updates.len()
        )));
    }
    let commands = leader.state().read(|store| fresh_updates(store, &report.session.node_id, &report.updates));
    if commands.is_empty() {
        return Ok(StatusReply { applied: 0 });
    }
    let now = wall_clock_now();
    let mut applied = 0u64;
    for chunk in commands.chunks(BATCH_COMMANDS_MAX) {
        match propose_all(leader, now, Command::Batch(chunk.to_vec())).await {
            Ok(()) => applied += chunk.len() as u64,
            Err(DispatcherError::Write(_)) => {
                // One update went stale between the check and the commit: apply the others one by one.
                let singles = chunk.iter().map(|command| propose_all(leader, now, command.clone()));
                applied += futures::future::join_all(singles).await.iter().filter(|r| r.is_ok()).count() as u64;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(StatusReply { applied })
}

/// Proposes `command`; a rejection or a failed write becomes `DispatcherError::Write`.
async fn propose_all(leader: &impl LeaderHandle, now: Timestamp, command: Command) -> Result<(), DispatcherError> {
    match leader.propose_as_leader(Proposal::new(now, command)).await {
        Ok(committed) => {
            committed.response.map(|_| ()).map_err(|rejection| DispatcherError::Write(rejection.to_string()))
        }
        Err(ProposeError::NoLeader) => Err(DispatcherError::NoLeader),
        Err(error) => Err(DispatcherError::Write(error.to_string())),
    }
}
