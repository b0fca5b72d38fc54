//! The dispatcher: the leader's door for agents. An agent opens a session (which registers its node and marks it
//! ready), heartbeats in that session, long-polls the tasks assigned to its node, and reports task status in
//! batches. Agents may call any manager; a follower forwards dispatcher calls to the leader (one hop), because
//! sessions and heartbeats live only in the leader's memory.
//!
//! Invariants: sessions belong to one leadership term — a new leader knows none, so every agent opens a new
//! session with it (which is how agents find a new leader), and it gives every node the doubled grace first
//! (`swarm_core::liveness`). A status report is acknowledged only once committed; reports that are stale by
//! the time they arrive (the task moved on, was removed, or is not on the reporting node) are dropped, never
//! applied, so one stale report cannot block the others in its batch. Bodies are postcard; a malformed body is
//! a 400 naming the endpoint, never a panic.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use swarm_core::liveness::Liveness;
use swarm_core::{
    Command, ManagerStatus, Node, NodeAvailability, NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus, Store,
    Task, TaskStatus, Timestamp, ID_LEN_MAX,
};

pub const PATH_SESSION: &str = "/dispatcher/session";
pub const PATH_HEARTBEAT: &str = "/dispatcher/heartbeat";
pub const PATH_ASSIGNMENTS: &str = "/dispatcher/assignments";
pub const PATH_STATUS: &str = "/dispatcher/status";

/// How long the leader holds an assignments long-poll open when nothing changes for the node.
pub const ASSIGNMENTS_POLL_MS: u64 = 5_000;
/// Task status updates accepted in one report.
pub const STATUS_UPDATES_MAX: usize = 10_000;

/// Opens a session: registers the node (or refreshes its description) and marks it ready.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRequest {
    pub node_id: String,
    pub description: NodeDescription,
    /// Where the node is reachable (shown as its status address).
    pub addr: String,
    /// The role a node gets when it registers for the first time.
    pub role: NodeRole,
    /// The availability a node gets when it registers for the first time (`swarm join --availability`).
    pub availability: NodeAvailability,
    /// Set on a manager's own agent: its Raft id and address, recorded as the node's manager status.
    pub manager: Option<ManagerStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionReply {
    pub session_id: String,
    pub heartbeat_period_ms: u64,
    /// The leader's address: the agent talks to it directly from now on (saving a forwarding hop).
    pub leader_addr: String,
}

/// Heartbeat, assignment poll and status report all name the node and its session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRef {
    pub node_id: String,
    pub session_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeartbeatReply {
    pub heartbeat_period_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AssignmentsRequest {
    pub session: SessionRef,
    /// The fingerprint of the assignment set the agent has; the leader answers when its set differs (or after
    /// `ASSIGNMENTS_POLL_MS`). `None` answers at once.
    pub known: Option<u64>,
}

/// Every task the store binds to the node, with its desired and observed state. A task missing from the set is
/// no longer the node's business: the agent removes its container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Assignments {
    pub fingerprint: u64,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusReport {
    pub session: SessionRef,
    pub updates: Vec<(String, TaskStatus)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusReply {
    /// Updates applied; the rest were stale and dropped.
    pub applied: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, thiserror::Error)]
pub enum DispatcherError {
    /// The session is not (or no longer) known to the leader: open a new one.
    #[error("unknown session for node {0}; open a new session")]
    UnknownSession(String),
    #[error("{}", crate::manager::NO_LEADER_MESSAGE)]
    NoLeader,
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Writing to the cluster failed (timeout, lost leadership); retry.
    #[error("cannot write to the cluster: {0}")]
    Write(String),
}

/// A deterministic fingerprint of an assignment set: FNV-1a over (id, version) pairs in id order.
pub fn fingerprint(tasks: &[Task]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for task in tasks {
        for byte in task.id.as_bytes().iter().chain(&[0]).chain(&task.version.0.to_le_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// The node's assignment set in `store`.
pub fn assignments(store: &Store, node_id: &str) -> Assignments {
    let tasks: Vec<Task> = store.tasks_on_node(node_id).cloned().collect();
    Assignments { fingerprint: fingerprint(&tasks), tasks }
}

/// The leader's in-memory dispatcher state for one term.
struct Term {
    term: u64,
    sessions: BTreeMap<String, String>,
    liveness: Liveness,
}

/// Dispatcher state shared by the request handlers and the leader loop. Empty while not leading.
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

/// The cluster's heartbeat period (the default before `swarm init` settled one).
pub fn heartbeat_period_ms(store: &Store) -> u64 {
    store
        .cluster()
        .map(|c| c.settings.dispatcher_heartbeat_period_ms)
        .unwrap_or(swarm_core::model::DEFAULT_HEARTBEAT_PERIOD_MS)
        .max(1)
}

/// The commands that register `request`'s node (or refresh it) and mark it ready; empty if nothing changes.
pub fn registration(store: &Store, request: &SessionRequest) -> Result<Vec<Command>, DispatcherError> {
    if request.node_id.is_empty() || request.node_id.len() > ID_LEN_MAX {
        return Err(DispatcherError::Invalid(format!("node id must be 1 to {ID_LEN_MAX} bytes")));
    }
    let ready = NodeStatus { state: NodeState::Ready, message: String::new(), addr: request.addr.clone() };
    let mut commands = Vec::new();
    match store.node(&request.node_id) {
        None => {
            let spec = NodeSpec { role: request.role, availability: request.availability, ..NodeSpec::default() };
            commands.push(Command::CreateNode { node: Node::new(&request.node_id, spec, request.description.clone()) });
            commands.push(Command::SetNodeStatus { id: request.node_id.clone(), status: ready });
            if let Some(manager) = &request.manager {
                commands.push(Command::SetManagerStatus {
                    id: request.node_id.clone(),
                    manager_status: Some(manager.clone()),
                });
            }
        }
        Some(node) => {
            let same_member = |stored: &ManagerStatus, wanted: &ManagerStatus| {
                stored.raft_id == wanted.raft_id && stored.addr == wanted.addr
            };
            // A node demoted to worker keeps no manager status, whatever its agent still says.
            let wants_manager = node.spec.role == NodeRole::Manager;
            if let Some(manager) = request.manager.as_ref().filter(|_| wants_manager) {
                if !node.manager_status.as_ref().is_some_and(|stored| same_member(stored, manager)) {
                    commands.push(Command::SetManagerStatus {
                        id: request.node_id.clone(),
                        manager_status: Some(manager.clone()),
                    });
                }
            }
            if node.description != request.description {
                commands.push(Command::SetNodeDescription {
                    id: request.node_id.clone(),
                    description: request.description.clone(),
                });
            }
            if node.status != ready {
                commands.push(Command::SetNodeStatus { id: request.node_id.clone(), status: ready });
            }
        }
    }
    Ok(commands)
}

/// The updates of `report` that still apply to `store`: the task exists, is bound to the reporting node, and the
/// new state is not behind the stored one (an equal state with a different message or error is kept only if it
/// changes something).
pub fn fresh_updates(store: &Store, node_id: &str, updates: &[(String, TaskStatus)]) -> Vec<Command> {
    let mut latest: BTreeMap<&str, &TaskStatus> = BTreeMap::new();
    for (id, status) in updates {
        let keep = latest.get(id.as_str()).is_none_or(|previous| previous.state <= status.state);
        if keep {
            latest.insert(id, status);
        }
    }
    latest
        .into_iter()
        .filter(|(id, status)| {
            store.task(id).is_some_and(|task| {
                task.node_id.as_deref() == Some(node_id)
                    && task.status.state <= status.state
                    && (task.status.state < status.state
                        || task.status.err != status.err
                        || task.status.container_id != status.container_id)
            })
        })
        .map(|(id, status)| Command::UpdateTaskStatus { id: id.to_string(), status: status.clone() })
        .collect()
}

/// How long an agent's client waits for an assignments answer.
pub fn assignments_call_timeout() -> Duration {
    Duration::from_millis(ASSIGNMENTS_POLL_MS + 5_000)
}
