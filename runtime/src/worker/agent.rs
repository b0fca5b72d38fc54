//! The agent: runs on every node, holds a session with the leader's dispatcher (through any manager), and
//! drives one `Executor` per assigned task through ACCEPTED → PREPARING → READY → STARTING → RUNNING →
//! COMPLETE | FAILED | REJECTED | SHUTDOWN, reporting each step in batches.
//!
//! Invariants: one driver per task id, and the executor's `prepare` is idempotent per task, so a task never gets
//! two containers — not across reconnects, leader changes or agent restarts. After a restart the agent first
//! lists the containers it already has and hands each to its task's driver (adopt) or, if the task is no longer
//! assigned, stops and removes it. A driver never reports a state behind one it (or the store) already has, so
//! observed state only moves forward. The agent never stops containers because it lost its managers (like
//! SwarmKit's agent): the leader replaces tasks of a node it marks down, and tells the node to stop them once
//! it is back.
//!
//! Stalls: a driver starts a container only on assignments the agent requested after this process's last stall
//! (`StartGate`). A node frozen for seconds (SIGSTOP, a paused VM) may have been marked down and its tasks
//! replaced meanwhile; a driver that was preparing when it froze would otherwise start the replaced task beside
//! its replacement (a fault drill on real daemons saw exactly that). After a stall the agent drops its pending
//! long poll and asks for the whole assignment set at once.
//!
//! Orphans: every assignment set carries the ids `node rm` removed; when that list changes the agent removes the
//! containers on its engine that carry its cluster id and a removed node id (`orphans`), so replacing a node leaves
//! nothing of its old identity running. An agent whose own node was removed is refused a session; it removes its own
//! containers the same way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_core::{ManagerStatus, NodeAvailability, NodeDescription, NodeRole, Task, TaskState, TaskStatus};
use tokio::sync::mpsc;

use super::executor::{ContainerState, ExecError, Executor, FoundContainer};
use super::files::FileCache;
use super::networking::Networking;
use super::orphans::orphans;
use super::overlay::OverlayDataPlane;
use crate::clock::wall_clock_now;
use crate::dispatcher::api::{
    assignments_call_timeout, Assignments, AssignmentsRequest, DispatcherError, HeartbeatReply, SessionRef,
    SessionReply, SessionRequest, StatusReply, StatusReport, TunnelReport, PATH_ASSIGNMENTS, PATH_HEARTBEAT,
    PATH_SESSION, PATH_STATUS, PATH_TUNNEL, STATUS_UPDATES_MAX,
};
use crate::http::HttpClient;
use crate::stall::StallDetector;
use crate::tls::{ClientTls, TlsHandle};
use crate::watch;

/// Timeout of a session, heartbeat or status call.
const CALL_TIMEOUT_MS: u64 = 2_000;
/// Pause before trying again after a failed call.
const RETRY_MS: u64 = 200;
/// The shortest wait for a heartbeat's answer, whatever the heartbeat period.
const HEARTBEAT_TIMEOUT_MIN_MS: u64 = 500;
/// How long a reported tunnel key may take to show in a plan before it is reported again.
const REPORT_AGAIN_MS: u64 = 1_000;
/// Status reports wait this long for more updates to share one call.
const REPORT_COALESCE_MS: u64 = 10;
/// How long a started task waits for its container's VIP table and mesh return path before it is reported
/// running anyway (programming them takes milliseconds; a data plane in trouble must not hold tasks back).
const CONTAINER_RULES_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// This node's certificate: the agent reaches managers over mutual TLS with it (`None`: plain, benchmarks and
    /// tests of the agent alone).
    pub tls: Option<TlsHandle>,
    /// The node's id in the store (Docker-style, kept in the node's data directory).
    pub node_id: String,
    /// The cluster's id (from `swarm init`/`join`): only containers labelled with it are ever removed as orphans.
    pub cluster_id: String,
    /// `host:port` of managers to talk to; any of them will do (followers forward to the leader).
    pub managers: Vec<String>,
    pub description: NodeDescription,
    /// The node's own address, shown as its status address.
    pub addr: String,
    /// The role the node registers with the first time.
    pub role: NodeRole,
    /// The availability the node registers with the first time.
    pub availability: NodeAvailability,
    /// A manager's own agent: its Raft membership, recorded as the node's manager status.
    pub manager: Option<ManagerStatus>,
    /// How often the tunnel key of encrypted networks is replaced (`DEFAULT_TUNNEL_KEY_ROTATION`).
    pub tunnel_key_rotation: Duration,
    /// Where a new certificate of this worker is kept (`cert_follow`; `None`: only in `tls`).
    pub keep_identity: Option<super::cert_follow::KeepIdentity>,
}

/// Swarm rotates its data-path encryption keys every 12 hours; so do we.
pub const DEFAULT_TUNNEL_KEY_ROTATION: Duration = Duration::from_secs(12 * 60 * 60);

/// A running agent; dropping it does not stop it, `shutdown` does.
pub struct Agent {
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    drivers: Arc<Mutex<BTreeMap<String, DriverHandle>>>,
}

struct DriverHandle {
    updates: watch::Sender<Option<Task>>,
    join: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    id: String,
    heartbeat_period_ms: u64,
}

/// Shared by the agent's loops.
struct Shared<E> {
    config: AgentConfig,
    executor: Arc<E>,
    session: watch::Sender<Option<Session>>,
    /// The leader named by the last session reply; new links try it first. Forgotten when a call to it fails
    /// for transport reasons (a frozen or dead leader must not be every new link's first try).
    leader_addr: Arc<watch::Sender<Option<String>>>,
    /// Managers that recently failed a call for transport reasons, until when each is passed over.
    suspects: Suspects,
    reports: mpsc::UnboundedSender<(String, TaskStatus)>,
    drivers: Arc<Mutex<BTreeMap<String, DriverHandle>>>,
    /// This process's stalls, and the stall count as of the newest assignment answer's request.
    stalls: Arc<StallDetector>,
    fresh_as_of_stalls: Arc<watch::Sender<u64>>,
    /// Realises the overlay plan of each assignment answer; drivers wait on it for their networks.
    networking: Networking,
    /// The secrets' and configs' values of the newest assignment answer, for the drivers' containers.
    files: FileCache,
}

/// Opens once the agent holds an assignment answer it asked for after this process's last stall.
struct StartGate {
    stalls: Arc<StallDetector>,
    fresh_as_of_stalls: watch::Receiver<u64>,
}

impl StartGate {
    async fn wait_open(&mut self) {
        loop {
            let stalls = self.stalls.stall_count();
            if *self.fresh_as_of_stalls.borrow_and_update() >= stalls {
                return;
            }
            if self.fresh_as_of_stalls.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Agent {
    /// Starts the agent's loops on the current runtime, realising overlay networks through `data_plane`.
    pub fn start<E: Executor, D: OverlayDataPlane>(config: AgentConfig, executor: Arc<E>, data_plane: Arc<D>) -> Agent {
        assert!(!config.managers.is_empty(), "an agent needs at least one manager address");
        let (networking, networking_tasks) = Networking::start(data_plane, config.tunnel_key_rotation);
        let (reports, report_queue) = mpsc::unbounded_channel();
        let drivers: Arc<Mutex<BTreeMap<String, DriverHandle>>> = Arc::default();
        let stalls = Arc::new(StallDetector::default());
        let stall_ticker = tokio::spawn(crate::stall::run(Arc::downgrade(&stalls)));
        let certificates = config.tls.clone().map(|tls| {
            let (node_id, managers) = (config.node_id.clone(), config.managers.clone());
            tokio::spawn(super::cert_follow::run(tls, node_id, managers, config.keep_identity.clone()))
        });
        let shared = Arc::new(Shared {
            config,
            executor,
            session: watch::channel(None).0,
            leader_addr: Arc::new(watch::channel(None).0),
            suspects: Suspects::default(),
            reports,
            drivers: drivers.clone(),
            stalls,
            fresh_as_of_stalls: Arc::new(watch::channel(0).0),
            networking,
            files: FileCache::default(),
        });
        let mut tasks = vec![
            stall_ticker,
            tokio::spawn(session_loop(shared.clone())),
            tokio::spawn(assignment_loop(shared.clone())),
            tokio::spawn(tunnel_report_loop(shared.clone())),
            tokio::spawn(report_loop(shared, report_queue)),
        ];
        tasks.extend(networking_tasks);
        tasks.extend(certificates);
        Agent { tasks: Mutex::new(tasks), drivers }
    }

    /// The ids of the tasks this agent is driving.
    pub fn task_ids(&self) -> Vec<String> {
        self.drivers.lock().expect("drivers mutex").keys().cloned().collect()
    }

    /// Stops the agent's loops and drivers; containers are left as they are (like stopping the daemon).
    pub fn shutdown(&self) {
        for task in self.tasks.lock().expect("tasks mutex").drain(..) {
            task.abort();
        }
        for (_, driver) in std::mem::take(&mut *self.drivers.lock().expect("drivers mutex")) {
            driver.join.abort();
        }
    }
}

impl<E> Shared<E> {
    /// A new link to the managers, starting with the known leader.
    fn link(&self) -> ManagerLink {
        let mut link = ManagerLink::new(
            &self.config.managers,
            self.suspects.clone(),
            self.config.tls.as_ref().map(ClientTls::to_managers),
        );
        if let Some(leader) = self.leader_addr.borrow().as_deref() {
            link.prefer(leader);
        }
        link.leader_hint = Some(self.leader_addr.clone());
        link
    }
}

/// Managers that failed a call for transport reasons (unreachable, too slow: a frozen or dead manager), each with
/// the instant until which the agent's links pass it over. Shared by all of an agent's links, so that a manager
/// one loop found silent is not every other loop's first try: after a leader froze, the session loop's link
/// went on trying it (2 s) and then a second frozen manager, and the node was marked down by the new leader
/// before its session reached it (simulator, orchestration campaign seed 714 with the freeze fault).
#[derive(Clone, Default)]
struct Suspects(Arc<Mutex<BTreeMap<String, tokio::time::Instant>>>);

/// How long a manager that failed a call is passed over (unless every manager is).
const SUSPECT_FOR: Duration = Duration::from_secs(10);

impl Suspects {
    fn is_suspect(&self, addr: &str, now: tokio::time::Instant) -> bool {
        self.0.lock().expect("suspects mutex").get(addr).is_some_and(|until| *until > now)
    }

    fn failed(&self, addr: &str) {
        self.0.lock().expect("suspects mutex").insert(addr.to_string(), tokio::time::Instant::now() + SUSPECT_FOR);
    }

    fn answered(&self, addr: &str) {
        self.0.lock().expect("suspects mutex").remove(addr);
    }

    /// When every manager is a suspect: the one whose suspicion ends first, that is, the one that failed longest
    /// ago. A live leader that could not commit for a while (its quorum frozen) times out calls that wait for a
    /// commit, but it fails less often than a frozen or dead manager, which every call finds silent anew; trying
    /// managers in plain rotation instead sent the heartbeats to the silent ones, and the leader marked the node
    /// down once its quorum returned (simulator, orchestration campaign seed 328 after mutual TLS made new
    /// connections a round trip slower).
    fn least_suspect(&self, addrs: impl Iterator<Item = (usize, String)>) -> Option<usize> {
        let suspects = self.0.lock().expect("suspects mutex");
        addrs.min_by_key(|(_, addr)| suspects.get(addr).copied()).map(|(index, _)| index)
    }
}

/// A client for dispatcher calls that moves to the next manager when one cannot be reached, passing over the
/// managers another of the agent's calls found silent lately.
struct ManagerLink {
    tls: Option<ClientTls>,
    clients: Vec<HttpClient>,
    next: usize,
    suspects: Suspects,
    /// The agent's remembered leader, forgotten when a call to it fails for transport reasons.
    leader_hint: Option<Arc<watch::Sender<Option<String>>>>,
}

enum CallFailure {
    /// The manager could not be reached or answered garbage; try again (on the next manager).
    Transport(String),
    Dispatcher(DispatcherError),
}

impl ManagerLink {
    fn new(managers: &[String], suspects: Suspects, tls: Option<ClientTls>) -> ManagerLink {
        let clients = managers.iter().map(|addr| HttpClient::with(addr, tls.clone())).collect();
        ManagerLink { tls, clients, next: 0, suspects, leader_hint: None }
    }

    /// Starts with the manager at `addr` (added to the list if it is not in it).
    fn prefer(&mut self, addr: &str) {
        match self.clients.iter().position(|c| c.addr() == addr) {
            Some(index) => self.next = index,
            None => {
                self.clients.push(HttpClient::with(addr, self.tls.clone()));
                self.next = self.clients.len() - 1;
            }
        }
    }

    async fn call<Request: Serialize, Response: DeserializeOwned>(
        &mut self,
        path: &str,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, CallFailure> {
        let body = postcard::to_stdvec(request).map_err(|e| CallFailure::Transport(e.to_string()))?;
        let now = tokio::time::Instant::now();
        let count = self.clients.len();
        let index = (0..count)
            .map(|offset| (self.next + offset) % count)
            .find(|index| !self.suspects.is_suspect(self.clients[*index].addr(), now))
            .or_else(|| {
                let in_order = (0..count).map(|offset| (self.next + offset) % count);
                self.suspects.least_suspect(in_order.map(|index| (index, self.clients[index].addr().to_string())))
            })
            .unwrap_or(self.next % count);
        self.next = index;
        let client = &mut self.clients[index];
        let outcome = match client.post(path, body, timeout).await {
            Ok(bytes) => match postcard::from_bytes::<Result<Response, DispatcherError>>(&bytes) {
                Ok(Ok(response)) => {
                    self.suspects.answered(client.addr());
                    return Ok(response);
                }
                Ok(Err(error)) => CallFailure::Dispatcher(error),
                Err(e) => CallFailure::Transport(format!("malformed reply from {}: {e}", client.addr())),
            },
            Err(error) => CallFailure::Transport(error.to_string()),
        };
        // Any failure but a dispatcher's own verdict on our session: another manager may do better.
        if !matches!(outcome, CallFailure::Dispatcher(DispatcherError::UnknownSession(_))) {
            self.next = (index + 1) % self.clients.len();
        }
        match &outcome {
            CallFailure::Transport(_) => self.suspects.failed(self.clients[index].addr()),
            CallFailure::Dispatcher(_) => self.suspects.answered(self.clients[index].addr()),
        }
        if let (CallFailure::Transport(_), Some(hint)) = (&outcome, &self.leader_hint) {
            let failed = self.clients[index].addr().to_string();
            hint.send_if_modified(|leader| match leader {
                Some(addr) if *addr == failed => {
                    *leader = None;
                    true
                }
                _ => false,
            });
        }
        Err(outcome)
    }
}

async fn session_loop<E: Executor>(shared: Arc<Shared<E>>) {
    let mut link = shared.link();
    let request = SessionRequest {
        node_id: shared.config.node_id.clone(),
        description: shared.config.description.clone(),
        addr: shared.config.addr.clone(),
        role: shared.config.role,
        availability: shared.config.availability,
        manager: shared.config.manager.clone(),
    };
    let timeout = Duration::from_millis(CALL_TIMEOUT_MS);
    // Whether this node's own containers were removed after the leader said the node was removed.
    let mut removed_self = false;
    loop {
        let current = shared.session.borrow().clone();
        match current {
            None => match link.call::<_, SessionReply>(PATH_SESSION, &request, timeout).await {
                Ok(reply) => {
                    tracing::debug!(node = %shared.config.node_id, leader = %reply.leader_addr, "session opened");
                    shared.leader_addr.send_replace(Some(reply.leader_addr));
                    shared.session.send_replace(Some(Session {
                        id: reply.session_id,
                        heartbeat_period_ms: reply.heartbeat_period_ms.max(1),
                    }));
                }
                Err(failure) => {
                    match failure {
                        CallFailure::Transport(reason) => tracing::debug!(%reason, "cannot open a session"),
                        CallFailure::Dispatcher(DispatcherError::NodeRemoved(_)) => {
                            if !removed_self {
                                let node_id = shared.config.node_id.clone();
                                tracing::error!(%node_id, "this node was removed from the swarm; removing its containers");
                                removed_self = sweep(&shared, std::slice::from_ref(&node_id)).await;
                            }
                        }
                        CallFailure::Dispatcher(error) => tracing::debug!(%error, "cannot open a session"),
                    }
                    tokio::time::sleep(Duration::from_millis(RETRY_MS)).await
                }
            },
            Some(session) => heartbeat_session(&shared, session).await,
        }
    }
}

/// Heartbeats every period until the session ends. Each heartbeat is its own call, sent on schedule whatever
/// happened to the previous one: what the leader judges is when heartbeats arrive, so a slow answer (a latency
/// spike, a forwarding hop) must not delay the next heartbeat.
async fn heartbeat_session<E: Executor>(shared: &Arc<Shared<E>>, session: Session) {
    let period = Duration::from_millis(session.heartbeat_period_ms);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watch = shared.session.subscribe();
    let idle_links: Arc<Mutex<Vec<ManagerLink>>> = Arc::default();
    loop {
        tokio::select! {
            // Deterministic branch order: tokio's default picks a random branch first, outside madsim's RNG.
            biased;
            _ = ticks.tick() => {}
            _ = watch.changed() => {}
        }
        if watch.borrow_and_update().as_ref().map(|s| &s.id) != Some(&session.id) {
            return;
        }
        let link = idle_links.lock().expect("links mutex").pop();
        let mut link = link.unwrap_or_else(|| shared.link());
        let shared = shared.clone();
        let idle_links = idle_links.clone();
        let session_id = session.id.clone();
        let heartbeat = SessionRef { node_id: shared.config.node_id.clone(), session_id: session_id.clone() };
        // A manager that has not answered within a period is left for the next one (its link moves on and it is
        // no longer tried first): a frozen leader must not hold every heartbeat until a new leader's grace for
        // this node runs out. The heartbeat itself, if it arrived, still counts.
        let timeout = period.max(Duration::from_millis(HEARTBEAT_TIMEOUT_MIN_MS));
        tokio::spawn(async move {
            match link.call::<_, HeartbeatReply>(PATH_HEARTBEAT, &heartbeat, timeout).await {
                Ok(reply) => {
                    shared.session.send_if_modified(|current| match current {
                        Some(s) if s.id == session_id && s.heartbeat_period_ms != reply.heartbeat_period_ms => {
                            s.heartbeat_period_ms = reply.heartbeat_period_ms.max(1);
                            true
                        }
                        _ => false,
                    });
                }
                // A node removed while its session was open learns it here: the session ends, and the session
                // loop, refused with `NodeRemoved`, removes its containers.
                Err(CallFailure::Dispatcher(DispatcherError::UnknownSession(_) | DispatcherError::NodeRemoved(_))) => {
                    end_session(&shared, &session_id)
                }
                Err(_) => {}
            }
            idle_links.lock().expect("links mutex").push(link);
        });
    }
}

/// Ends `session_id` if it is still the current session (so the session loop opens a new one).
fn end_session<E>(shared: &Shared<E>, session_id: &str) {
    shared.session.send_if_modified(|current| {
        if current.as_ref().is_some_and(|s| s.id == session_id) {
            *current = None;
            true
        } else {
            false
        }
    });
}

async fn current_session<E>(shared: &Shared<E>) -> Session {
    let mut watch = shared.session.subscribe();
    loop {
        if let Some(session) = watch.borrow_and_update().clone() {
            return session;
        }
        if watch.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn assignment_loop<E: Executor>(shared: Arc<Shared<E>>) {
    let mut link = shared.link();
    // Containers found at start-up, waiting for the first assignment set to say whose they are.
    let mut found = loop {
        match shared.executor.list().await {
            Ok(found) => break Some(found),
            Err(error) => {
                tracing::warn!(%error, "cannot list containers; retrying");
                tokio::time::sleep(Duration::from_millis(RETRY_MS)).await;
            }
        }
    };
    let mut known: Option<u64> = None;
    let mut link_session = String::new();
    let swept: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
    let mut sweeping: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let session = current_session(&shared).await;
        if session.id != link_session {
            // A new session may be with a new leader: talk to it directly.
            link = shared.link();
            link_session = session.id.clone();
        }
        // After a stall, ask for the whole set at once (no long poll on what we knew before it).
        let stalls_before = shared.stalls.stall_count();
        let stale = stalls_before > *shared.fresh_as_of_stalls.borrow();
        let request = AssignmentsRequest {
            session: SessionRef { node_id: shared.config.node_id.clone(), session_id: session.id.clone() },
            known: if stale { None } else { known },
        };
        let answer = tokio::select! {
            // Deterministic branch order; a stall during the call makes its answer useless to the start gate.
            biased;
            answer = link.call::<_, Assignments>(PATH_ASSIGNMENTS, &request, assignments_call_timeout()) => answer,
            () = shared.stalls.stalled_since(stalls_before) => continue,
        };
        match answer {
            Ok(assignments) => {
                let idle = sweeping.as_ref().is_none_or(|handle| handle.is_finished());
                let unswept = swept.lock().expect("swept mutex").as_ref() != Some(&assignments.removed_nodes);
                if idle && unswept && !assignments.removed_nodes.is_empty() {
                    // In its own task: a slow engine must not hold up the assignments. A failed sweep is tried
                    // again with a later answer (at least every poll period).
                    let (shared, swept, removed) = (shared.clone(), swept.clone(), assignments.removed_nodes.clone());
                    sweeping = Some(tokio::spawn(async move {
                        if sweep(&shared, &removed).await {
                            *swept.lock().expect("swept mutex") = Some(removed);
                        }
                    }));
                }
                if known != Some(assignments.fingerprint) || found.is_some() {
                    known = Some(assignments.fingerprint);
                    shared.networking.offer(&assignments.overlay, &assignments.tasks);
                    shared.files.replace(&assignments.secrets, &assignments.configs);
                    apply_assignments(&shared, assignments.tasks, found.take());
                }
                // The drivers hold this answer's tasks now: those waiting to start may go on.
                shared.fresh_as_of_stalls.send_replace(stalls_before);
            }
            Err(CallFailure::Dispatcher(DispatcherError::UnknownSession(_))) => end_session(&shared, &session.id),
            Err(_) => tokio::time::sleep(Duration::from_millis(RETRY_MS)).await,
        }
    }
}

/// Reports the node's tunnel key whenever the cluster holds another one than the data plane wants (at start, after
/// a rotation, after a restart made a new key), until a plan shows the cluster holds it.
async fn tunnel_report_loop<E: Executor>(shared: Arc<Shared<E>>) {
    let mut state = shared.networking.tunnel_state();
    let mut link = shared.link();
    loop {
        let Some(identity) = state.borrow_and_update().to_report() else {
            if state.changed().await.is_err() {
                return;
            }
            continue;
        };
        let session = current_session(&shared).await;
        let report = TunnelReport {
            session: SessionRef { node_id: shared.config.node_id.clone(), session_id: session.id.clone() },
            public_key: identity.public_key,
            port: identity.port,
        };
        let timeout = Duration::from_millis(CALL_TIMEOUT_MS);
        match link.call::<_, ()>(PATH_TUNNEL, &report, timeout).await {
            Ok(()) => tracing::debug!(key = ?identity.public_key, "tunnel key reported"),
            Err(CallFailure::Dispatcher(DispatcherError::UnknownSession(_))) => end_session(&shared, &session.id),
            Err(CallFailure::Dispatcher(error @ DispatcherError::Invalid(_))) => {
                // Tasks on encrypted networks wait until the cluster holds the key: say why.
                tracing::warn!(%error, "the cluster refused this node's tunnel key; encrypted networks wait");
            }
            Err(CallFailure::Dispatcher(error)) => {
                tracing::debug!(%error, "the tunnel key could not be recorded yet; trying again");
            }
            Err(CallFailure::Transport(error)) => {
                tracing::debug!(%error, "reporting the tunnel key failed; trying again");
                link = shared.link();
            }
        }
        // The plan that shows the key held ends the wait; without one, report again.
        let _ = tokio::time::timeout(Duration::from_millis(REPORT_AGAIN_MS), state.changed()).await;
    }
}

/// Removes the containers of this cluster that the nodes `removed_nodes` left on the engine (`orphans`). True if
/// the engine could be listed (each removal that fails is logged; the containers are listed afresh next time).
async fn sweep<E: Executor>(shared: &Shared<E>, removed_nodes: &[String]) -> bool {
    let containers = match shared.executor.list_cluster().await {
        Ok(containers) => containers,
        Err(error) => {
            tracing::warn!(%error, "cannot list the cluster's containers to remove those of removed nodes");
            return false;
        }
    };
    let mut complete = true;
    for orphan in orphans(&shared.config.cluster_id, removed_nodes, &containers) {
        tracing::info!(
            container = %orphan.container_id,
            node = %orphan.node_id,
            task = %orphan.task_id,
            "removing a container of a node removed from the swarm"
        );
        if let Err(error) = shared.executor.force_remove(&orphan.container_id).await {
            tracing::warn!(container = %orphan.container_id, %error, "cannot remove a container of a removed node");
            complete = false;
        }
    }
    complete
}

/// Brings the drivers in line with the assignment set: new tasks get a driver (adopting a found container),
/// known ones get the new task data, tasks no longer assigned are told to go. Found containers of tasks that are
/// not assigned are stopped and removed.
fn apply_assignments<E: Executor>(shared: &Arc<Shared<E>>, tasks: Vec<Task>, found: Option<Vec<FoundContainer>>) {
    let mut found: BTreeMap<String, FoundContainer> =
        found.unwrap_or_default().into_iter().map(|c| (c.task_id.clone(), c)).collect();
    let mut drivers = shared.drivers.lock().expect("drivers mutex");
    let assigned: std::collections::BTreeSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    drivers.retain(|id, driver| {
        if assigned.contains(id.as_str()) {
            return true;
        }
        driver.updates.send_replace(None);
        // The driver removes the container and ends; forget it once it has.
        !driver.join.is_finished()
    });
    for task in tasks {
        match drivers.get(&task.id) {
            Some(driver) => {
                driver.updates.send_replace(Some(task));
            }
            None => {
                let adopted = found.remove(&task.id);
                let (updates, receiver) = watch::channel(Some(task.clone()));
                let gate = StartGate {
                    stalls: shared.stalls.clone(),
                    fresh_as_of_stalls: shared.fresh_as_of_stalls.subscribe(),
                };
                let surroundings =
                    DriverSurroundings { gate, networking: shared.networking.clone(), files: shared.files.clone() };
                let join = tokio::spawn(drive(
                    task.clone(),
                    receiver,
                    shared.executor.clone(),
                    shared.reports.clone(),
                    adopted,
                    surroundings,
                ));
                drivers.insert(task.id, DriverHandle { updates, join });
            }
        }
    }
    for (task_id, container) in found {
        let executor = shared.executor.clone();
        tracing::info!(task = %task_id, container = %container.container_id, "removing a container of a task no longer assigned");
        tokio::spawn(async move {
            let _ = executor.stop(&container.container_id, Duration::from_secs(10)).await;
            let _ = executor.remove(&container.container_id).await;
        });
    }
}

async fn report_loop<E: Executor>(shared: Arc<Shared<E>>, mut queue: mpsc::UnboundedReceiver<(String, TaskStatus)>) {
    let mut link = shared.link();
    let mut pending: BTreeMap<String, TaskStatus> = BTreeMap::new();
    let mut link_session = String::new();
    let timeout = Duration::from_millis(CALL_TIMEOUT_MS);
    loop {
        if pending.is_empty() {
            match queue.recv().await {
                Some((id, status)) => merge(&mut pending, id, status),
                None => return,
            }
        }
        tokio::time::sleep(Duration::from_millis(REPORT_COALESCE_MS)).await;
        while let Ok((id, status)) = queue.try_recv() {
            merge(&mut pending, id, status);
        }
        let session = current_session(&shared).await;
        if session.id != link_session {
            link = shared.link();
            link_session = session.id.clone();
        }
        let updates: Vec<(String, TaskStatus)> =
            pending.iter().take(STATUS_UPDATES_MAX).map(|(id, status)| (id.clone(), status.clone())).collect();
        let report = StatusReport {
            session: SessionRef { node_id: shared.config.node_id.clone(), session_id: session.id.clone() },
            updates,
        };
        match link.call::<_, StatusReply>(PATH_STATUS, &report, timeout).await {
            Ok(_) => {
                for (id, sent) in &report.updates {
                    if pending.get(id) == Some(sent) {
                        pending.remove(id);
                    }
                }
            }
            Err(CallFailure::Dispatcher(DispatcherError::UnknownSession(_))) => end_session(&shared, &session.id),
            Err(_) => tokio::time::sleep(Duration::from_millis(RETRY_MS)).await,
        }
    }
}

/// Keeps the furthest state per task.
fn merge(pending: &mut BTreeMap<String, TaskStatus>, id: String, status: TaskStatus) {
    match pending.get(&id) {
        Some(existing) if existing.state > status.state => {}
        _ => {
            pending.insert(id, status);
        }
    }
}

/// Whether the task is still wanted (SwarmKit: desired state at most COMPLETE).
fn wanted(task: &Task) -> bool {
    task.desired_state <= TaskState::Complete
}

/// Reports one task's states, never going backward.
struct Reporter {
    task_id: String,
    reported: TaskState,
    container_id: Option<String>,
    reports: mpsc::UnboundedSender<(String, TaskStatus)>,
}

impl Reporter {
    fn report(&mut self, state: TaskState, message: &str, err: Option<String>) {
        if state <= self.reported && !(state == self.reported && err.is_some()) {
            return;
        }
        self.reported = state;
        let status = TaskStatus {
            state,
            timestamp: wall_clock_now(),
            message: message.to_string(),
            err,
            container_id: self.container_id.clone(),
        };
        let _ = self.reports.send((self.task_id.clone(), status));
    }
}

/// How the task's run ended, as far as the driver is concerned.
enum RunEnd {
    /// The task reached a terminal state (reported).
    Ended,
    /// The task left the assignment set while running.
    Unassigned,
}

/// Drives one task until it leaves the assignment set, then removes its container.
async fn drive<E: Executor>(
    task: Task,
    mut updates: watch::Receiver<Option<Task>>,
    executor: Arc<E>,
    reports: mpsc::UnboundedSender<(String, TaskStatus)>,
    adopted: Option<FoundContainer>,
    surroundings: DriverSurroundings,
) {
    let DriverSurroundings { mut gate, networking, files } = surroundings;
    let container_id = adopted.as_ref().map(|c| c.container_id.clone()).or_else(|| task.status.container_id.clone());
    let mut reporter = Reporter { task_id: task.id.clone(), reported: task.status.state, container_id, reports };
    let grace = Duration::from_nanos(task.spec.container_spec.stop_grace_period_ns);
    let end = if task.status.state.is_terminal() {
        RunEnd::Ended
    } else {
        let adopted = adopted.map(|c| c.state);
        let context =
            RunContext { executor: executor.as_ref(), grace, gate: &mut gate, networking: &networking, files: &files };
        run(&task, &mut updates, &mut reporter, adopted, context).await
    };
    if let RunEnd::Ended = end {
        // Wait until the task leaves the assignment set.
        loop {
            if updates.borrow_and_update().is_none() {
                break;
            }
            if updates.changed().await.is_err() {
                return;
            }
        }
    }
    if let Some(container_id) = reporter.container_id.clone() {
        let _ = executor.stop(&container_id, grace).await;
        if let Err(error) = executor.remove(&container_id).await {
            tracing::warn!(task = %task.id, %error, "cannot remove the container of a finished task");
        }
    }
}

/// What a driver waits on besides its task: the start gate, the node's networks, and the secrets' and configs'
/// values.
struct DriverSurroundings {
    gate: StartGate,
    networking: Networking,
    files: FileCache,
}

/// `None` while the task is still wanted; otherwise how the run ends: unassigned, or shut down (reported).
fn end_unless_wanted(updates: &mut watch::Receiver<Option<Task>>, reporter: &mut Reporter) -> Option<RunEnd> {
    match latest(updates).map(|task| wanted(&task)) {
        None => Some(RunEnd::Unassigned),
        Some(false) => {
            reporter.report(TaskState::Shutdown, "shutdown", None);
            Some(RunEnd::Ended)
        }
        Some(true) => None,
    }
}

/// The latest task data; `None` once unassigned.
fn latest(updates: &mut watch::Receiver<Option<Task>>) -> Option<Task> {
    updates.borrow_and_update().clone()
}

/// What a run needs besides the task: the executor, the stop grace period, the start gate, the networks and the
/// secrets' and configs' values.
struct RunContext<'a, E> {
    executor: &'a E,
    grace: Duration,
    gate: &'a mut StartGate,
    networking: &'a Networking,
    files: &'a FileCache,
}

async fn run<E: Executor>(
    task: &Task,
    updates: &mut watch::Receiver<Option<Task>>,
    reporter: &mut Reporter,
    adopted: Option<ContainerState>,
    context: RunContext<'_, E>,
) -> RunEnd {
    let RunContext { executor, grace, gate, networking, files } = context;
    let still_wanted = |updates: &mut watch::Receiver<Option<Task>>| latest(updates).map(|t| wanted(&t));
    match still_wanted(updates) {
        None => return RunEnd::Unassigned,
        Some(false) => {
            if let Some(container_id) = reporter.container_id.clone() {
                let _ = executor.stop(&container_id, grace).await;
            }
            reporter.report(TaskState::Shutdown, "shutdown", None);
            return RunEnd::Ended;
        }
        Some(true) => {}
    }
    match adopted {
        Some(ContainerState::Running) => reporter.report(TaskState::Running, "started", None),
        Some(ContainerState::Exited(code)) => {
            report_exit(reporter, code, None);
            return RunEnd::Ended;
        }
        None if task.status.state >= TaskState::Accepted => {
            // An agent accepted this task before (this one before a restart, or the host before a crash) and no
            // container is left: it may have run already, and a task runs at most once, so it fails here and the
            // orchestrator replaces it.
            reporter.report(TaskState::Failed, "failed", Some("task: its container is gone".to_string()));
            return RunEnd::Ended;
        }
        Some(ContainerState::Created) | None => {
            reporter.report(TaskState::Accepted, "accepted", None);
            reporter.report(TaskState::Preparing, "preparing", None);
            // The container is created on its networks' Docker networks: wait until they exist on this node.
            loop {
                tokio::select! {
                    biased;
                    () = networking.wait_realised(task) => break,
                    changed = updates.changed() => {
                        if changed.is_err() {
                            std::future::pending::<()>().await;
                        }
                        if let Some(end) = end_unless_wanted(updates, reporter) {
                            return end;
                        }
                    }
                }
            }
            let prepared = match files.for_task(task) {
                Ok(files) => executor.prepare(task, &files).await,
                Err(error) => Err(error),
            };
            let container_id = match prepared {
                Ok(id) => id,
                Err(error) => {
                    report_error(reporter, &error);
                    return RunEnd::Ended;
                }
            };
            reporter.container_id = Some(container_id.clone());
            if let Some(end) = end_unless_wanted(updates, reporter) {
                return end;
            }
            reporter.report(TaskState::Ready, "prepared", None);
            // A task desired READY waits here, prepared, until the older task of its slot has stopped.
            loop {
                match latest(updates) {
                    None => return RunEnd::Unassigned,
                    Some(task) if !wanted(&task) => {
                        reporter.report(TaskState::Shutdown, "shutdown", None);
                        return RunEnd::Ended;
                    }
                    Some(task) if task.desired_state >= TaskState::Running => break,
                    Some(_) => {
                        if updates.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            }
            // Not on assignments read before a stall: the task may have been replaced while this node was away.
            gate.wait_open().await;
            if let Some(end) = end_unless_wanted(updates, reporter) {
                return end;
            }
            reporter.report(TaskState::Starting, "starting", None);
            if let Err(error) = executor.start(&container_id).await {
                report_error(reporter, &error);
                return RunEnd::Ended;
            }
            networking.container_started(task, CONTAINER_RULES_WAIT).await;
            reporter.report(TaskState::Running, "started", None);
        }
    }
    let Some(container_id) = reporter.container_id.clone() else {
        reporter.report(TaskState::Failed, "failed", Some("task: no container".to_string()));
        return RunEnd::Ended;
    };
    let exit = executor.wait(&container_id);
    tokio::pin!(exit);
    loop {
        tokio::select! {
            // Deterministic branch order: tokio's default picks a random branch first, outside madsim's RNG.
            biased;
            exited = &mut exit => {
                match exited {
                    Ok(exit) => report_exit(reporter, exit.code, exit.reason),
                    Err(error) => report_error(reporter, &error),
                }
                return RunEnd::Ended;
            }
            changed = updates.changed() => {
                if changed.is_err() {
                    // The agent is shutting down; leave the container running.
                    std::future::pending::<()>().await;
                }
                match still_wanted(updates) {
                    Some(true) => continue,
                    Some(false) => {
                        let _ = executor.stop(&container_id, grace).await;
                        reporter.report(TaskState::Shutdown, "shutdown", None);
                        return RunEnd::Ended;
                    }
                    None => return RunEnd::Unassigned,
                }
            }
        }
    }
}

fn report_exit(reporter: &mut Reporter, code: i64, reason: Option<String>) {
    if code == 0 {
        reporter.report(TaskState::Complete, "finished", None);
    } else {
        let err = match reason {
            Some(reason) => format!("task: non-zero exit ({code}): {reason}"),
            None => format!("task: non-zero exit ({code})"),
        };
        reporter.report(TaskState::Failed, "failed", Some(err));
    }
}

fn report_error(reporter: &mut Reporter, error: &ExecError) {
    match error {
        ExecError::Rejected(message) => reporter.report(TaskState::Rejected, "rejected", Some(message.clone())),
        ExecError::Failed(message) => reporter.report(TaskState::Failed, "failed", Some(message.clone())),
        ExecError::NoSuchContainer(_) => reporter.report(TaskState::Failed, "failed", Some(error.to_string())),
    }
}
