//! What a manager does while it leads: the manager loop and the dispatcher's request handling.
//!
//! The manager loop runs `swarm_core::pipeline::run` (orchestrators → allocator → scheduler) over the committed
//! store whenever it changes, when a restart delay or an update's wait ends, and when a node's heartbeat grace
//! runs out, and proposes the resulting commands in order. Its ordering duties: it starts deciding only once the
//! leader has applied an entry of its own term (so everything committed before it is in the store it reads —
//! otherwise a new leader could re-create tasks its predecessor already created), and it waits for its previous
//! proposals to be applied before deciding again — a proposal that timed out is settled by a barrier entry
//! first (`settle_in_flight`) — so two decisions never overlap. Ids for new objects come from
//! the runtime's RNG (seeded in the simulator).

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_core::{Command, IdSource, NodeState, Proposal, Timestamp, BATCH_COMMANDS_MAX};

use crate::dispatcher::{
    self, Assignments, AssignmentsRequest, DispatcherError, HeartbeatReply, SessionRef, SessionReply, SessionRequest,
    StatusReply, StatusReport, ASSIGNMENTS_POLL_MS, PATH_ASSIGNMENTS, PATH_HEARTBEAT, PATH_SESSION, PATH_STATUS,
    STATUS_UPDATES_MAX,
};
use crate::http::Reply;
use crate::manager::{Manager, ProposeError};
use crate::raft::rt::SwarmRuntime;

/// When nothing else wakes the loop, it re-runs the pipeline this often (a safety net; idempotent).
const IDLE_RERUN_MS: u64 = 1_000;
/// After a change, wait this long for more before deciding (coalesces bursts of status reports).
const DEBOUNCE_MS: u64 = 5;
/// After a failed proposal, wait this long before deciding again.
const RETRY_BACKOFF_MS: u64 = 100;

/// The wall clock in milliseconds since the UNIX epoch (simulated under madsim).
pub fn wall_clock_now() -> Timestamp {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
}

/// Docker-style ids: 25 characters of lowercase base 36, from the runtime's RNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

pub const ID_CHARS: usize = 25;

pub fn random_id() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = <SwarmRuntime as openraft::AsyncRuntime>::thread_rng();
    (0..ID_CHARS).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        random_id()
    }
}

/// The manager loop of `manager`; ends when the manager is dropped.
pub(crate) async fn run(manager: Weak<Manager>) {
    loop {
        let Some(strong) = manager.upgrade() else { return };
        let mut applied = strong.state.applied_watch();
        let term = strong.leading_term_with_own_entry_applied();
        match term {
            None => {
                strong.dispatcher.end_term();
                drop(strong);
                // Wait for the next applied entry (a leader's first entry) or a metrics change.
                let _ = tokio::time::timeout(Duration::from_millis(200), applied.changed()).await;
            }
            Some(term) => {
                let now = wall_clock_now();
                if strong.dispatcher.term() != Some(term) {
                    strong.state.read(|store| strong.dispatcher.begin_term(term, store, now));
                    tracing::info!(node = strong.id(), term, "leading: manager loop and dispatcher started");
                }
                let wait = lead_once(&strong, now).await;
                drop(strong);
                let _ = tokio::time::timeout(wait, applied.changed()).await;
                tokio::time::sleep(Duration::from_millis(DEBOUNCE_MS)).await;
            }
        }
    }
}

/// One decision round: propose what the pipeline and the dispatcher's liveness want; return how long to wait
/// for a change before the next round.
async fn lead_once(manager: &Manager, now: Timestamp) -> Duration {
    let (mut commands, wakeup) = manager.state.read(|store| {
        let mut commands = manager.dispatcher.expire(store, now);
        // Node status changes first: the pipeline must see a down node as down.
        if !commands.is_empty() {
            return (commands, None);
        }
        commands.extend(swarm_core::pipeline::run(store, now, &mut RandomIds));
        (commands, swarm_core::orchestrator::next_wakeup(store, now))
    });
    if !commands.is_empty() {
        let count = commands.len();
        let proposals: Vec<_> =
            commands.drain(..).map(|command| manager.propose_as_leader(Proposal::new(now, command))).collect();
        let results = futures::future::join_all(proposals).await;
        let in_doubt =
            results.iter().any(|result| matches!(result, Err(ProposeError::Timeout(_) | ProposeError::Raft(_))));
        if in_doubt {
            // A proposal that timed out may still commit. Deciding again before knowing would decide from a store
            // without it and, say, create a second replacement for a slot. A barrier entry settles it: once an
            // entry this leader appended after it is applied, it is applied too (or was never appended).
            settle_in_flight(manager).await;
        }
        let failures: Vec<String> = results
            .into_iter()
            .filter_map(|result| match result {
                Ok(committed) => committed.response.err().map(|rejection| rejection.to_string()),
                Err(error) => Some(error.to_string()),
            })
            .collect();
        if !failures.is_empty() {
            // The store changed under the decision (or leadership moved): decide again on the new state.
            tracing::debug!(proposed = count, failed = failures.len(), first = %failures[0], "manager loop proposals failed");
            return Duration::from_millis(RETRY_BACKOFF_MS);
        }
        return Duration::ZERO;
    }
    let mut wait_ms = IDLE_RERUN_MS;
    for deadline in [wakeup, manager.dispatcher.next_deadline()].into_iter().flatten() {
        wait_ms = wait_ms.min(deadline.as_millis().saturating_sub(now.as_millis()).saturating_add(1));
    }
    Duration::from_millis(wait_ms)
}

/// How many barrier entries `settle_in_flight` tries before giving up the round (leadership is lost by then).
const BARRIER_ATTEMPTS_MAX: u32 = 20;

/// Proposes an empty batch until one commits, so every earlier proposal of this leader has been applied or
/// dropped; returns early when this manager stops leading (its successor decides afresh anyway).
async fn settle_in_flight(manager: &Manager) {
    let Some(term) = manager.leading_term_with_own_entry_applied() else { return };
    for _ in 0..BARRIER_ATTEMPTS_MAX {
        if manager.leading_term_with_own_entry_applied() != Some(term) {
            return;
        }
        let barrier = Proposal::new(wall_clock_now(), Command::Batch(Vec::new()));
        match manager.propose_as_leader(barrier).await {
            Ok(_) => return,
            Err(ProposeError::Timeout(_) | ProposeError::Raft(_)) => continue,
            Err(_) => return,
        }
    }
}

/// Serves one dispatcher call on the leader (`path` is one of the `dispatcher::PATH_*`).
pub(crate) async fn handle_dispatcher_call(manager: &Arc<Manager>, path: &str, body: &[u8]) -> Reply {
    match path {
        PATH_SESSION => answer(path, body, |request| open_session(manager, request)).await,
        PATH_HEARTBEAT => {
            answer(path, body, |session: SessionRef| async move {
                let (period, ready) = manager.state.read(|store| {
                    let ready = store.node(&session.node_id).is_some_and(|n| n.status.state == NodeState::Ready);
                    (dispatcher::heartbeat_period_ms(store), ready)
                });
                if !ready {
                    // Marked down meanwhile (say, by an entry of an earlier leader that committed late): the
                    // agent must open a new session, which marks the node ready again.
                    manager.dispatcher.close_session(&session);
                    return Err(DispatcherError::UnknownSession(session.node_id));
                }
                manager.dispatcher.heartbeat(&session, wall_clock_now(), period)?;
                Ok(HeartbeatReply { heartbeat_period_ms: period })
            })
            .await
        }
        PATH_ASSIGNMENTS => answer(path, body, |request| poll_assignments(manager, request)).await,
        PATH_STATUS => answer(path, body, |report| report_status(manager, report)).await,
        _ => Reply::error(StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
    }
}

async fn answer<Request, Response, Fut>(path: &str, body: &[u8], f: impl FnOnce(Request) -> Fut) -> Reply
where
    Request: DeserializeOwned,
    Response: Serialize,
    Fut: std::future::Future<Output = Result<Response, DispatcherError>>,
{
    match postcard::from_bytes::<Request>(body) {
        Ok(request) => {
            let result = f(request).await;
            match postcard::to_stdvec(&result) {
                Ok(bytes) => Reply::ok(bytes),
                Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode reply: {e}")),
            }
        }
        Err(e) => Reply::error(StatusCode::BAD_REQUEST, format!("malformed request body for {path}: {e}")),
    }
}

async fn open_session(manager: &Manager, request: SessionRequest) -> Result<SessionReply, DispatcherError> {
    if manager.dispatcher.term().is_none() {
        return Err(DispatcherError::NoLeader);
    }
    let (commands, period) = manager.state.read(|store| {
        Ok::<_, DispatcherError>((dispatcher::registration(store, &request)?, dispatcher::heartbeat_period_ms(store)))
    })?;
    let now = wall_clock_now();
    if !commands.is_empty() {
        propose_all(manager, now, Command::Batch(commands)).await?;
    }
    let session_id = random_id();
    // The grace counts from now, not from before the registration committed (under latency that can take
    // longer than the grace itself, and the node would be marked down the moment its session opened).
    manager.dispatcher.open_session(&request.node_id, session_id.clone(), wall_clock_now(), period)?;
    tracing::debug!(node = %request.node_id, "agent session opened");
    Ok(SessionReply { session_id, heartbeat_period_ms: period, leader_addr: manager.advertise_addr().to_string() })
}

async fn poll_assignments(manager: &Manager, request: AssignmentsRequest) -> Result<Assignments, DispatcherError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ASSIGNMENTS_POLL_MS);
    let mut applied = manager.state.applied_watch();
    loop {
        manager.dispatcher.check_session(&request.session)?;
        applied.borrow_and_update();
        let current = manager.state.read(|store| dispatcher::assignments(store, &request.session.node_id));
        if request.known != Some(current.fingerprint) || tokio::time::Instant::now() >= deadline {
            return Ok(current);
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let _ = tokio::time::timeout(remaining, applied.changed()).await;
    }
}

async fn report_status(manager: &Manager, report: StatusReport) -> Result<StatusReply, DispatcherError> {
    manager.dispatcher.check_session(&report.session)?;
    if report.updates.len() > STATUS_UPDATES_MAX {
        return Err(DispatcherError::Invalid(format!(
            "{} status updates in one report; the limit is {STATUS_UPDATES_MAX}",
            report.updates.len()
        )));
    }
    let commands =
        manager.state.read(|store| dispatcher::fresh_updates(store, &report.session.node_id, &report.updates));
    if commands.is_empty() {
        return Ok(StatusReply { applied: 0 });
    }
    let now = wall_clock_now();
    let mut applied = 0u64;
    for chunk in commands.chunks(BATCH_COMMANDS_MAX) {
        match propose_all(manager, now, Command::Batch(chunk.to_vec())).await {
            Ok(()) => applied += chunk.len() as u64,
            Err(DispatcherError::Write(_)) => {
                // One update went stale between the check and the commit: apply the others one by one.
                let singles = chunk.iter().map(|command| propose_all(manager, now, command.clone()));
                applied += futures::future::join_all(singles).await.iter().filter(|r| r.is_ok()).count() as u64;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(StatusReply { applied })
}

/// Proposes `command`; a rejection or a failed write becomes `DispatcherError::Write`.
async fn propose_all(manager: &Manager, now: Timestamp, command: Command) -> Result<(), DispatcherError> {
    match manager.propose_as_leader(Proposal::new(now, command)).await {
        Ok(committed) => {
            committed.response.map(|_| ()).map_err(|rejection| DispatcherError::Write(rejection.to_string()))
        }
        Err(ProposeError::NoLeader) => Err(DispatcherError::NoLeader),
        Err(error) => Err(DispatcherError::Write(error.to_string())),
    }
}
