//! The leader's in-memory dispatcher state: for one leadership term, the open session of each node and when each
//! node's heartbeat grace runs out (`swarm_core::liveness`). Invariant: sessions belong to one term — `begin_term`
//! forgets every session and gives every ready node the doubled grace (as `after_stall` does when the leader
//! itself stalled), `end_term` drops them all — and a node whose grace ran out loses its session as it is marked
//! down.

use std::collections::BTreeMap;
use std::sync::Mutex;

use swarm_core::liveness::Liveness;
use swarm_core::{Command, Store, Timestamp};

use super::api::{DispatcherError, SessionRef};
use super::rules::heartbeat_period_ms;

/// The leader's in-memory dispatcher state for one term.
struct Term {
    term: u64,
    sessions: BTreeMap<String, String>,
    liveness: Liveness,
}

/// Dispatcher state shared by the request handlers and the manager loop. Empty while not leading.
#[derive(Default)]
pub struct Dispatcher {
    term: Mutex<Option<Term>>,
}

impl Dispatcher {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Term>> {
        self.term.lock().expect("dispatcher mutex")
    }

    /// Starts a leadership term: forgets every session and gives every ready node the leader-change grace.
    pub fn begin_term(&self, term: u64, store: &Store, now: Timestamp) {
        let period = heartbeat_period_ms(store);
        *self.lock() =
            Some(Term { term, sessions: BTreeMap::new(), liveness: Liveness::after_leader_change(store, now, period) });
    }

    /// This leader stalled (`crate::stall`): no node could reach it meanwhile, so every node it waits on and every
    /// ready node gets the leader-change grace anew, as after an election (`Liveness::after_stall`); sessions
    /// stay open.
    pub fn after_stall(&self, store: &Store, now: Timestamp) {
        let period = heartbeat_period_ms(store);
        if let Some(term) = self.lock().as_mut() {
            term.liveness.after_stall(store, now, period);
        }
    }

    /// Ends the term (leadership lost): every session is dropped.
    pub fn end_term(&self) {
        *self.lock() = None;
    }

    /// The leadership term this dispatcher serves, if any.
    pub fn term(&self) -> Option<u64> {
        self.lock().as_ref().map(|t| t.term)
    }

    /// Records a new session for `node_id` and returns its id.
    pub fn open_session(
        &self,
        node_id: &str,
        session_id: String,
        now: Timestamp,
        period_ms: u64,
    ) -> Result<(), DispatcherError> {
        let mut guard = self.lock();
        let term = guard.as_mut().ok_or(DispatcherError::NoLeader)?;
        term.sessions.insert(node_id.to_string(), session_id);
        term.liveness.heartbeat(node_id, now, period_ms);
        Ok(())
    }

    /// Checks that `session` is current.
    pub fn check_session(&self, session: &SessionRef) -> Result<(), DispatcherError> {
        let guard = self.lock();
        let term = guard.as_ref().ok_or(DispatcherError::NoLeader)?;
        match term.sessions.get(&session.node_id) {
            Some(id) if *id == session.session_id => Ok(()),
            _ => Err(DispatcherError::UnknownSession(session.node_id.clone())),
        }
    }

    /// Ends `session` if it is current (the node must open a new one).
    pub fn close_session(&self, session: &SessionRef) {
        let mut guard = self.lock();
        if let Some(term) = guard.as_mut() {
            if term.sessions.get(&session.node_id) == Some(&session.session_id) {
                term.sessions.remove(&session.node_id);
            }
        }
    }

    /// A heartbeat in `session` at `now`.
    pub fn heartbeat(&self, session: &SessionRef, now: Timestamp, period_ms: u64) -> Result<(), DispatcherError> {
        self.check_session(session)?;
        let mut guard = self.lock();
        let term = guard.as_mut().ok_or(DispatcherError::NoLeader)?;
        term.liveness.heartbeat(&session.node_id, now, period_ms);
        Ok(())
    }

    /// Commands marking down the nodes whose grace ran out; their sessions end.
    pub fn expire(&self, store: &Store, now: Timestamp) -> Vec<Command> {
        let mut guard = self.lock();
        let Some(term) = guard.as_mut() else { return Vec::new() };
        let before: Vec<String> = term.sessions.keys().filter(|id| !term.liveness.is_alive(id, now)).cloned().collect();
        for id in before {
            term.sessions.remove(&id);
        }
        term.liveness.expire(store, now)
    }

    /// When `expire` should run next.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.lock().as_ref().and_then(|t| t.liveness.next_deadline())
    }
}
