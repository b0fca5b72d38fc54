//! The manager loop: what a manager decides while it leads. It runs `swarm_core::pipeline::run` (orchestrators →
//! allocator → scheduler) over the committed store whenever it changes, when a restart delay or an update's wait
//! ends, and when a node's heartbeat grace runs out, and proposes the resulting commands in order. Its ordering
//! duties: it starts deciding only once the leader has applied an entry of its own term (so everything committed
//! before it is in the store it reads — otherwise a new leader could re-create tasks its predecessor already
//! created), and it waits for its previous proposals to be applied before deciding again — a proposal that timed
//! out is settled by a barrier entry first (`settle_in_flight`) — so two decisions never overlap. Ids for new
//! objects come from the runtime's RNG (seeded in the simulator). It also starts and ends the dispatcher's terms
//! and marks down the nodes whose heartbeat grace ran out — never on silence of its own making: after this process
//! stalled (`crate::stall`) every node gets the grace anew. Written against `LeaderHandle` alone.

use std::sync::{Arc, Weak};
use std::time::Duration;

use swarm_core::{Command, Proposal, Timestamp};

use crate::clock::wall_clock_now;
use crate::dispatcher::sessions::Dispatcher;
use crate::ids::RandomIds;
use crate::propose::{LeaderHandle, ProposeError};
use crate::stall::StallDetector;

/// When nothing else wakes the loop, it re-runs the pipeline this often (a safety net; idempotent).
const IDLE_RERUN_MS: u64 = 1_000;
/// After a change, wait this long for more before deciding (coalesces bursts of status reports).
const DEBOUNCE_MS: u64 = 5;
/// After a failed proposal, wait this long before deciding again.
const RETRY_BACKOFF_MS: u64 = 100;

/// The manager loop of `leader`, driving `dispatcher` (the leader's sessions); ends when the manager is dropped.
/// `stall` tells whether this process stalled since the last round: then no node's silence counts against it.
pub async fn run<L: LeaderHandle>(leader: Weak<L>, dispatcher: Arc<Dispatcher>, stall: Arc<StallDetector>) {
    loop {
        let Some(strong) = leader.upgrade() else { return };
        let mut applied = strong.state().applied_watch();
        let term = strong.leading_term();
        match term {
            None => {
                dispatcher.end_term();
                drop(strong);
                // Wait for the next applied entry (a leader's first entry) or a metrics change.
                let _ = tokio::time::timeout(Duration::from_millis(200), applied.changed()).await;
            }
            Some(term) => {
                let now = wall_clock_now();
                let stalled = stall.take_stall();
                if dispatcher.term() != Some(term) {
                    strong.state().read(|store| dispatcher.begin_term(term, store, now));
                    tracing::info!(node = strong.id(), term, "leading: manager loop and dispatcher started");
                } else if stalled {
                    strong.state().read(|store| dispatcher.after_stall(store, now));
                    tracing::warn!(node = strong.id(), term, "this leader stalled: every node gets the grace anew");
                }
                let wait = lead_once(&*strong, &dispatcher, now).await;
                drop(strong);
                let _ = tokio::time::timeout(wait, applied.changed()).await;
                tokio::time::sleep(Duration::from_millis(DEBOUNCE_MS)).await;
            }
        }
    }
}

/// One decision round: propose what the pipeline and the dispatcher's liveness want; return how long to wait
/// for a change before the next round.
async fn lead_once(leader: &impl LeaderHandle, dispatcher: &Dispatcher, now: Timestamp) -> Duration {
    let (mut commands, wakeup) = leader.state().read(|store| {
        let mut commands = dispatcher.expire(store, now);
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
            commands.drain(..).map(|command| leader.propose_as_leader(Proposal::new(now, command))).collect();
        let results = futures::future::join_all(proposals).await;
        let in_doubt =
            results.iter().any(|result| matches!(result, Err(ProposeError::Timeout(_) | ProposeError::Raft(_))));
        if in_doubt {
            // A proposal that timed out may still commit. Deciding again before knowing would decide from a store
            // without it and, say, create a second replacement for a slot. A barrier entry settles it: once an
            // entry this leader appended after it is applied, it is applied too (or was never appended).
            settle_in_flight(leader).await;
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
    for deadline in [wakeup, dispatcher.next_deadline()].into_iter().flatten() {
        wait_ms = wait_ms.min(deadline.as_millis().saturating_sub(now.as_millis()).saturating_add(1));
    }
    Duration::from_millis(wait_ms)
}

/// How many barrier entries `settle_in_flight` tries before giving up the round (leadership is lost by then).
const BARRIER_ATTEMPTS_MAX: u32 = 20;

/// Proposes an empty batch until one commits, so every earlier proposal of this leader has been applied or
/// dropped; returns early when this manager stops leading (its successor decides afresh anyway).
async fn settle_in_flight(leader: &impl LeaderHandle) {
    let Some(term) = leader.leading_term() else { return };
    for _ in 0..BARRIER_ATTEMPTS_MAX {
        if leader.leading_term() != Some(term) {
            return;
        }
        let barrier = Proposal::new(wall_clock_now(), Command::Batch(Vec::new()));
        match leader.propose_as_leader(barrier).await {
            Ok(_) => return,
            Err(ProposeError::Timeout(_) | ProposeError::Raft(_)) => continue,
            Err(_) => return,
        }
    }
}
