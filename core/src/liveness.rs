//! Node liveness as the leader's dispatcher judges it. Heartbeats arrive in memory (they are far too frequent to
//! put in the Raft log); this keeps, per node with a session, the time by which its next heartbeat must arrive,
//! and turns missed deadlines into `SetNodeStatus { Down }` commands. The restart supervisor then moves the
//! node's replicated tasks elsewhere and the global orchestrator stops counting it.
//!
//! The invariant: a node is marked down only after `GRACE_PERIODS` heartbeat periods of silence measured on the
//! leader that holds its session, and a new leader first gives every node the doubled grace
//! (`LEADER_CHANGE_GRACE_PERIODS`), so a leader change — after which every agent must find the new leader and
//! open a new session — never mass-evicts healthy nodes (SwarmKit doubles the grace the same way).
//!
//! Defaults, and why: Docker heartbeats every 5 s with a grace of 3 periods, so a dead worker's tasks move after
//! about 15–20 s. We heartbeat every 1 s (`DEFAULT_HEARTBEAT_PERIOD_MS`) with the same 3 periods: a worker that
//! dies right after a heartbeat is marked down 3 s later, and its replacements start on other nodes within
//! about 1 s more (no restart delay applies to tasks moved off a down node), so well under 5 s. A heartbeat is
//! one tiny request per node per second — 1,000 workers cost the leader 1,000 requests/s, which the HTTP layer
//! handles easily. The simulator's latency spikes last at most `sim`'s spike bound (well under 2 s), so a
//! node must lose at least two heartbeats in a row, plus the slack of the third, before a false "down" mark.

use std::collections::BTreeMap;

use crate::command::Command;
use crate::limits::BATCH_COMMANDS_MAX;
use crate::model::{NodeState, NodeStatus, Timestamp};
use crate::store::Store;

/// Heartbeat periods of silence after which a node is marked down.
pub const GRACE_PERIODS: u64 = 3;
/// The grace a new leader gives every node before it has heard from it (twice the normal grace).
pub const LEADER_CHANGE_GRACE_PERIODS: u64 = 2 * GRACE_PERIODS;
/// The message a node marked down carries (SwarmKit's wording).
pub const HEARTBEAT_FAILURE_MESSAGE: &str = "heartbeat failure";

/// The dispatcher's deadlines, one per node it expects heartbeats from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Liveness {
    deadlines: BTreeMap<String, Timestamp>,
}

impl Liveness {
    /// A newly elected leader's view: every node the store shows as ready must heartbeat within the doubled
    /// grace from `now`.
    pub fn after_leader_change(store: &Store, now: Timestamp, heartbeat_period_ms: u64) -> Liveness {
        let grace_ms = heartbeat_period_ms.saturating_mul(LEADER_CHANGE_GRACE_PERIODS);
        let deadlines = store
            .nodes()
            .filter(|node| node.status.state == NodeState::Ready)
            .map(|node| (node.id.clone(), Timestamp(now.as_millis().saturating_add(grace_ms))))
            .collect();
        Liveness { deadlines }
    }

    /// After the leader itself stalled (no node could reach it): every node it was waiting on, and every ready
    /// node, must heartbeat within the leader-change grace from `now` — or by its old deadline, if later.
    pub fn after_stall(&mut self, store: &Store, now: Timestamp, heartbeat_period_ms: u64) {
        let fresh = Liveness::after_leader_change(store, now, heartbeat_period_ms);
        let grace_end =
            Timestamp(now.as_millis().saturating_add(heartbeat_period_ms.saturating_mul(LEADER_CHANGE_GRACE_PERIODS)));
        for deadline in self.deadlines.values_mut() {
            *deadline = (*deadline).max(grace_end);
        }
        for (node_id, deadline) in fresh.deadlines {
            self.deadlines.entry(node_id).or_insert(deadline);
        }
    }

    /// A heartbeat (or a new session) from `node_id` at `now`: its next deadline is a normal grace away, unless
    /// a longer leader-change grace is still running.
    pub fn heartbeat(&mut self, node_id: &str, now: Timestamp, heartbeat_period_ms: u64) {
        let deadline = Timestamp(now.as_millis().saturating_add(heartbeat_period_ms.saturating_mul(GRACE_PERIODS)));
        let entry = self.deadlines.entry(node_id.to_string()).or_insert(deadline);
        *entry = (*entry).max(deadline);
    }

    /// Stops expecting heartbeats from `node_id` (it left or was removed).
    pub fn forget(&mut self, node_id: &str) {
        self.deadlines.remove(node_id);
    }

    /// Whether `node_id` has a deadline that has not passed at `now`.
    pub fn is_alive(&self, node_id: &str, now: Timestamp) -> bool {
        self.deadlines.get(node_id).is_some_and(|deadline| now <= *deadline)
    }

    /// The nodes whose deadline passed before `now`: they are forgotten, and a command marking each down is
    /// returned for those the store does not already show as down (in `Command::Batch`es within the limit).
    pub fn expire(&mut self, store: &Store, now: Timestamp) -> Vec<Command> {
        let expired: Vec<String> =
            self.deadlines.iter().filter(|(_, deadline)| now > **deadline).map(|(id, _)| id.clone()).collect();
        let mut commands = Vec::new();
        for id in expired {
            self.deadlines.remove(&id);
            let Some(node) = store.node(&id) else { continue };
            if node.status.state == NodeState::Down {
                continue;
            }
            let status = NodeStatus {
                state: NodeState::Down,
                message: HEARTBEAT_FAILURE_MESSAGE.to_string(),
                addr: node.status.addr.clone(),
            };
            commands.push(Command::SetNodeStatus { id, status });
        }
        commands.chunks(BATCH_COMMANDS_MAX).map(|chunk| Command::Batch(chunk.to_vec())).collect()
    }

    /// The earliest deadline, when the leader should call `expire` next.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.values().min().copied()
    }
}
