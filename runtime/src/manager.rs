//! A manager node: opens durable storage (refusing to start on corruption), runs openraft, serves Raft RPCs and
//! the cluster API over HTTP, and turns client proposals into committed log entries — forwarding them to the
//! leader when this manager is a follower (one hop at most). Invariant: a proposal is acknowledged only after
//! its entry is committed and applied on the leader; every API failure is a typed `ProposeError`/`AdminError`
//! that names the problem, and no request body can panic the node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use openraft::error::RaftError;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest};
use openraft::{BasicNode, ChangeMembers, Config, RaftLogId, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};

use crate::batcher::{Batcher, WriteError};
use crate::dispatcher::{self, Dispatcher, DispatcherError};
use crate::http::{self, CallError, Handler, HttpClient, Reply};
use crate::raft::log_store::{LogOpenError, LogRecovery, LogStore};
use crate::raft::network::{HttpNetwork, PATH_APPEND, PATH_SNAPSHOT, PATH_VOTE};
use crate::raft::state_machine::{RaftObserver, StateMachine, StateOpenError};
use crate::raft::types::{Answer, NodeId, Proposal, Raft, TypeConfig};
use crate::storage::disk::Disk;

pub const PATH_PROPOSE: &str = "/cluster/propose";
pub const PATH_REMOVE_MANAGER: &str = "/cluster/managers/remove";
pub const PATH_STATUS: &str = "/cluster/status";
pub const PATH_STORE: &str = "/cluster/store";
/// A node presenting a join token (JSON `ClusterJoinRequest`); served by the leader.
pub const PATH_JOIN: &str = "/cluster/join";
/// Where the leader tells a node what role the store wants it in (JSON `NodeRoleRequest` → `NodeRoleReply`).
pub const PATH_NODE_ROLE: &str = "/cluster/node-role";
/// A worker the store wants as a manager asks to be added to the voters (JSON `PromoteRequest`).
pub const PATH_PROMOTE: &str = "/cluster/promote";
/// The leader's `ClusterView` (JSON), for followers serving a control-API read.
pub const PATH_VIEW: &str = "/cluster/view";
/// Prefix of the node-local API (container logs), served by `ManagerConfig::node_api`.
pub const PATH_NODE_PREFIX: &str = "/node/";
/// Prefix of a dispatcher call a follower forwarded: served by the leader, never forwarded again.
pub const PATH_DISPATCHER_ON_LEADER: &str = "/leader";

/// The largest encoded proposal accepted from a client. A batch entry holds at most `batcher::BATCH_BYTES_MAX`
/// bytes of proposals beyond its first, so an entry stays well under the WAL's record limit.
pub const PROPOSAL_BYTES_MAX: usize = 1024 * 1024;
/// Entries per append-entries RPC (openraft's `max_payload_entries`).
pub const REPLICATION_ENTRIES_MAX: u64 = 16;

/// Docker's words when no leader can be found.
pub const NO_LEADER_MESSAGE: &str =
    "The swarm does not have a leader. It's possible that too few managers are online. \
Make sure more than half of the managers are online.";

/// Raft timing and log-compaction settings. openraft runs with `single-term-leader`: classic Raft, at most one
/// leader per term (its default allows several per term, ordered by node id). Defaults: heartbeat 50 ms and an
/// election after 500–800 ms of leader silence (drawn per term; `election_timer`), longer than the gap between
/// heartbeats under the simulator's worst latency spikes (400 ms) yet short enough that a lost leader is replaced
/// within a second (`leader_loss_recover_p99_s` in `cargo sim-bench`; a split vote is retried 125 ms later, by
/// rank, not after another random timeout); SwarmKit's compaction defaults (a
/// snapshot every 10,000 entries, 500 entries kept for slow followers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RaftSettings {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    pub snapshot_interval_entries: u64,
    pub log_entries_for_slow_followers: u64,
    /// Purge the log only once this many entries are purgeable (openraft's default, 256).
    pub purge_batch_entries: u64,
    pub snapshot_chunk_bytes: u64,
    pub propose_timeout_ms: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 800,
            snapshot_interval_entries: 10_000,
            log_entries_for_slow_followers: 500,
            purge_batch_entries: 256,
            snapshot_chunk_bytes: 3 * 1024 * 1024,
            propose_timeout_ms: 5_000,
        }
    }
}

#[derive(Clone)]
pub struct ManagerConfig {
    pub node_id: NodeId,
    /// Where to listen for cluster traffic (Raft and the cluster API).
    pub listen_addr: SocketAddr,
    /// How other managers reach this one (`host:port`).
    pub advertise_addr: String,
    pub raft: RaftSettings,
    /// Serves paths under `PATH_NODE_PREFIX` (this node's containers), if the node has an engine.
    pub node_api: Option<Handler>,
}

/// A node asking to join (`swarm join`): its token, and for a manager its Raft id and address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterJoinRequest {
    pub token: String,
    /// Set once the joining node's Raft server runs: with a manager token, it is then added to the voters.
    pub raft_id: Option<NodeId>,
    pub addr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterJoinReply {
    pub role: swarm_core::NodeRole,
    pub cluster_id: String,
    /// Every manager's address (workers talk to any of them).
    pub managers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRoleRequest {
    pub node_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRoleReply {
    /// The role `node update --role` / `node promote|demote` set.
    pub wanted: swarm_core::NodeRole,
    /// Whether the node's Raft id is among the voters.
    pub voter: bool,
    /// Every manager's address.
    pub managers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub node_id: String,
    pub raft_id: NodeId,
    pub addr: String,
}

/// Docker's words for a token that admits nobody.
pub const INVALID_JOIN_TOKEN: &str = "A valid join token is necessary to join this cluster";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] LogOpenError),
    #[error(transparent)]
    State(#[from] StateOpenError),
    #[error("inconsistent raft storage: {0}")]
    Inconsistent(String),
    #[error("invalid raft settings: {0}")]
    Settings(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("raft failed to start: {0}")]
    Raft(String),
}

/// A proposal as sent to any manager.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProposeRequest {
    pub proposal: Proposal,
    /// Set by a follower forwarding to the leader; a forwarded proposal is never forwarded again.
    pub forwarded: bool,
}

/// A committed proposal: where it landed and what the core answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Committed {
    pub log_index: u64,
    pub response: Answer,
}

#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error, PartialEq, Eq)]
pub enum ProposeError {
    #[error("{NO_LEADER_MESSAGE}")]
    NoLeader,
    #[error("the proposal did not commit within {0} ms; it may still commit later")]
    Timeout(u64),
    #[error("cannot forward the proposal to the leader at {addr}: {reason}")]
    Forward { addr: String, reason: String },
    #[error("malformed proposal: {0}")]
    Malformed(String),
    #[error("raft: {0}")]
    Raft(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveManagerRequest {
    pub node_id: NodeId,
}

/// What `status` reports about this manager's view of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagerStatus {
    pub node_id: NodeId,
    pub addr: String,
    pub state: String,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub last_log_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub voters: BTreeMap<NodeId, String>,
    pub learners: BTreeMap<NodeId, String>,
}

pub struct Manager {
    config: ManagerConfig,
    raft: Raft,
    pub(crate) state: StateMachine,
    pub(crate) dispatcher: Dispatcher,
    /// Which followers accepted this manager as leader, and when (the leader lease).
    peer_acks: Arc<crate::raft::network::PeerAcks>,
    behind_peer: Arc<crate::raft::network::BehindPeer>,
    /// The term this process last saw itself lead, with its last log index then (see
    /// `leading_term_with_own_entry_applied`).
    leadership_start: Mutex<Option<(u64, Option<u64>)>>,
    recovery: LogRecovery,
    batcher: Batcher,
    peers: Mutex<BTreeMap<String, Vec<HttpClient>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// When this manager last heard from a leader it accepts, or granted a vote (see `election_timer`).
    last_leader_contact: Mutex<(tokio::time::Instant, Contact)>,
}

/// What reset the election timer last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contact {
    /// An accepted leader's append or snapshot, or a granted vote (or start-up).
    Leader,
    /// This node started an election.
    OwnElection,
}

impl Manager {
    /// Opens storage on `disk`, starts Raft and serves on `config.listen_addr`.
    pub async fn start(
        config: ManagerConfig,
        disk: Arc<dyn Disk>,
        observer: Option<Arc<dyn RaftObserver>>,
    ) -> Result<Arc<Manager>, StartError> {
        let (log, recovery) = LogStore::open(disk.clone())?;
        if let Some(repair) = &recovery.repaired_tail {
            tracing::warn!(node = config.node_id, %repair, "repaired a torn raft log tail");
        }
        let state = StateMachine::open(config.node_id, disk, observer)?;
        let snapshot_index = *state.durable_snapshot_index().borrow();
        if let Some(purged) = log.last_purged_index() {
            if snapshot_index.is_none_or(|snapshot| snapshot < purged) {
                return Err(StartError::Inconsistent(format!(
                    "the raft log is purged up to index {purged} but the newest snapshot covers only {}; refusing to start",
                    snapshot_index.map(|i| i.to_string()).unwrap_or_else(|| "nothing".into())
                )));
            }
        }
        log.purge_after_snapshot(state.durable_snapshot_index());
        let s = &config.raft;
        let raft_config = Config {
            cluster_name: "swarm".to_string(),
            heartbeat_interval: s.heartbeat_interval_ms,
            // openraft's own election timer is off (`enable_elect`); its timeouts only set the leader lease
            // (= its election_timeout_max), during which a follower refuses to vote for another candidate. It must
            // end before our shortest election timeout, or the first candidate after a leader's death is refused.
            election_timeout_min: s.election_timeout_min_ms / 2,
            election_timeout_max: s.election_timeout_min_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(s.snapshot_interval_entries),
            max_in_snapshot_log_to_keep: s.log_entries_for_slow_followers,
            purge_batch_size: s.purge_batch_entries.max(1),
            snapshot_max_chunk_size: s.snapshot_chunk_bytes,
            max_payload_entries: REPLICATION_ENTRIES_MAX,
            install_snapshot_timeout: 2_000,
            // Elections are triggered by `election_timer`, which re-randomises the timeout every time.
            enable_elect: false,
            ..Default::default()
        };
        let raft_config = Arc::new(raft_config.validate().map_err(|e| StartError::Settings(e.to_string()))?);
        let listener = tokio::net::TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| StartError::Listen { addr: config.listen_addr, source })?;
        let network = HttpNetwork::default();
        let peer_acks = network.acks.clone();
        let behind_peer = network.behind.clone();
        let raft = Raft::new(config.node_id, raft_config, network, log, state.clone())
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let commit_timeout = Duration::from_millis(config.raft.propose_timeout_ms);
        let (batcher, batcher_task) = Batcher::start(raft.clone(), commit_timeout);
        let manager = Arc::new(Manager {
            config,
            raft,
            state,
            recovery,
            batcher,
            dispatcher: Dispatcher::default(),
            peer_acks,
            behind_peer,
            leadership_start: Mutex::new(None),
            peers: Mutex::new(BTreeMap::new()),
            tasks: Mutex::new(vec![batcher_task]),
            last_leader_contact: Mutex::new((tokio::time::Instant::now(), Contact::Leader)),
        });
        let (min_ms, max_ms) =
            (manager.config.raft.election_timeout_min_ms, manager.config.raft.election_timeout_max_ms);
        let timer = tokio::spawn(election_timer(Arc::downgrade(&manager), min_ms, max_ms));
        manager.tasks.lock().expect("tasks mutex").push(timer);
        let leader_loop = tokio::spawn(crate::leader::run(Arc::downgrade(&manager)));
        manager.tasks.lock().expect("tasks mutex").push(leader_loop);
        let weak = Arc::downgrade(&manager);
        let handler: Handler = Arc::new(move |method, path, body| {
            let weak = weak.clone();
            Box::pin(async move {
                match weak.upgrade() {
                    Some(manager) => match path.strip_prefix(PATH_DISPATCHER_ON_LEADER) {
                        Some(call) if method == Method::POST => manager.dispatcher_call(call, body, true).await,
                        _ if method == Method::POST && path.starts_with("/dispatcher/") => {
                            manager.dispatcher_call(&path, body, false).await
                        }
                        _ => manager.handle(method, &path, body).await,
                    },
                    None => Reply::error(StatusCode::SERVICE_UNAVAILABLE, "manager is shutting down"),
                }
            })
        });
        let server = tokio::spawn(http::serve(listener, handler));
        manager.tasks.lock().expect("tasks mutex").push(server);
        Ok(manager)
    }

    pub fn id(&self) -> NodeId {
        self.config.node_id
    }

    fn heard_from_leader(&self) {
        *self.last_leader_contact.lock().expect("contact mutex") = (tokio::time::Instant::now(), Contact::Leader);
    }

    /// How other nodes reach this manager.
    pub fn advertise_addr(&self) -> &str {
        &self.config.advertise_addr
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn recovery(&self) -> &LogRecovery {
        &self.recovery
    }

    /// Reads the applied store of this manager (may lag the leader).
    pub fn read<R>(&self, f: impl FnOnce(&swarm_core::Store) -> R) -> R {
        self.state.read(f)
    }

    /// Makes this manager the only voter of a new cluster. Idempotent: an initialised node answers Ok.
    pub async fn bootstrap(&self) -> Result<(), String> {
        if self.raft.is_initialized().await.map_err(|e| e.to_string())? {
            return Ok(());
        }
        let members = BTreeMap::from([(self.config.node_id, BasicNode { addr: self.config.advertise_addr.clone() })]);
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn status(&self) -> ManagerStatus {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voter_ids: BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut voters = BTreeMap::new();
        let mut learners = BTreeMap::new();
        for (id, node) in membership.nodes() {
            if voter_ids.contains(id) {
                voters.insert(*id, node.addr.clone());
            } else {
                learners.insert(*id, node.addr.clone());
            }
        }
        ManagerStatus {
            node_id: self.config.node_id,
            addr: self.config.advertise_addr.clone(),
            state: format!("{:?}", metrics.state),
            term: metrics.current_term,
            leader: metrics.current_leader,
            last_log_index: metrics.last_log_index,
            last_applied_index: metrics.last_applied.map(|l| l.index),
            snapshot_index: metrics.snapshot.map(|l| l.index),
            voters,
            learners,
        }
    }

    /// The current term, if this manager leads it and its store holds everything committed before: it has applied
    /// its whole log as it stood when this process started leading the term (a leader's log holds every committed
    /// entry), and an entry of the term. Applying an entry of the term alone is not enough: openraft restarts a
    /// crashed leader as leader of the same term, with entries of that term in its log but applied only as far
    /// as its last snapshot — the simulator caught a restarted leader deciding from such a store and creating a
    /// second task for a slot.
    pub(crate) fn leading_term_with_own_entry_applied(&self) -> Option<u64> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.state != ServerState::Leader {
            return None;
        }
        let term = metrics.current_term;
        let must_apply = {
            let mut start = self.leadership_start.lock().expect("leadership start mutex");
            match *start {
                Some((started_term, index)) if started_term == term => index,
                _ => {
                    let index = metrics.last_log_index;
                    *start = Some((term, index));
                    index
                }
            }
        };
        let applied = self.state.last_applied();
        let applied_term = applied.map(|log_id| log_id.leader_id.term);
        let caught_up = must_apply.is_none_or(|index| applied.is_some_and(|log_id| log_id.index >= index));
        (applied_term == Some(term) && caught_up).then_some(term)
    }

    /// A dispatcher call from an agent: served here while this manager leads, otherwise forwarded once to the
    /// leader (under `PATH_DISPATCHER_ON_LEADER`, which is never forwarded again).
    async fn dispatcher_call(self: Arc<Self>, path: &str, body: Bytes, forwarded: bool) -> Reply {
        // A leader cut off from its quorum must not tell agents their assignments: its store may miss tasks
        // assigned since, and an agent told a task is not its own removes the task's container. (Its other answers
        // are harmless: what it would write cannot commit.)
        let may_assign = path != dispatcher::PATH_ASSIGNMENTS || self.has_quorum_contact();
        if self.leading_term_with_own_entry_applied().is_some() && self.dispatcher.term().is_some() && may_assign {
            return crate::leader::handle_dispatcher_call(&self, path, &body).await;
        }
        let no_leader = || {
            let reply: Result<(), DispatcherError> = Err(DispatcherError::NoLeader);
            postcard_reply(&reply)
        };
        if forwarded {
            return no_leader();
        }
        let Some(addr) = self.leader_addr() else { return no_leader() };
        if addr == self.config.advertise_addr {
            return no_leader();
        }
        let timeout_ms = dispatcher::assignments_call_timeout().as_millis() as u64;
        match self.call_peer(&addr, &format!("{PATH_DISPATCHER_ON_LEADER}{path}"), body.to_vec(), timeout_ms).await {
            Ok(bytes) => Reply::ok(bytes.to_vec()),
            Err(CallError::Status { status, message, .. }) => {
                Reply::error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
            }
            Err(_) => no_leader(),
        }
    }

    /// The leader's address, as this manager last heard.
    pub fn leader_addr(&self) -> Option<String> {
        let metrics = self.raft.metrics().borrow().clone();
        metrics
            .current_leader
            .and_then(|id| metrics.membership_config.membership().get_node(&id).map(|n| n.addr.clone()))
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// Commits `proposal` through the leader (forwarding if needed) and returns the core's answer.
    pub async fn propose(&self, proposal: Proposal) -> Result<Committed, ProposeError> {
        self.propose_inner(ProposeRequest { proposal, forwarded: false }).await
    }

    /// Commits `proposal` only if this manager is the leader — never forwarded. For the leader's own decisions
    /// (manager loop, dispatcher): a deposed leader's decisions must die with its leadership, since the new leader
    /// decides afresh from a store that may not show them yet; forwarding them would apply both.
    pub(crate) async fn propose_as_leader(&self, proposal: Proposal) -> Result<Committed, ProposeError> {
        self.propose_inner(ProposeRequest { proposal, forwarded: true }).await
    }

    async fn propose_inner(&self, request: ProposeRequest) -> Result<Committed, ProposeError> {
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
                    let reply = self.call_peer(&leader.addr, PATH_PROPOSE, body, timeout_ms + 1_000).await;
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

    /// Adds a manager: as a learner until it caught up, then as a voter. Only the leader does this (`join` forwards
    /// the request there after checking the token).
    pub async fn add_manager(&self, node_id: NodeId, addr: String) -> Result<(), String> {
        if !self.is_leader() {
            return Err(format!("{NO_LEADER_MESSAGE} (this manager stopped leading while adding manager {node_id})"));
        }
        self.raft
            .add_learner(node_id, BasicNode { addr }, true)
            .await
            .map_err(|e| format!("adding manager {node_id} as learner: {e}"))?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node_id])), false)
            .await
            .map_err(|e| format!("promoting manager {node_id} to voter: {e}"))?;
        Ok(())
    }

    /// Removes a manager from the voters and the membership. Runs on the leader (forwarded if not).
    pub async fn remove_manager(&self, node_id: NodeId) -> Result<(), String> {
        if !self.is_leader() {
            let body = serde_json::to_vec(&RemoveManagerRequest { node_id }).expect("JSON encoding");
            return self.admin_on_leader(PATH_REMOVE_MANAGER, body).await;
        }
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([node_id])), false)
            .await
            .map_err(|e| format!("removing manager {node_id}: {e}"))?;
        Ok(())
    }

    async fn admin_on_leader(&self, path: &str, body: Vec<u8>) -> Result<(), String> {
        let Some(addr) = self.leader_addr() else { return Err(NO_LEADER_MESSAGE.to_string()) };
        self.call_peer(&addr, path, body, 30_000).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// Sends a JSON request this manager cannot serve as a follower to the leader, and relays the answer.
    async fn relay_to_leader(&self, path: &str, body: Bytes) -> Reply {
        let Some(addr) = self.leader_addr().filter(|a| *a != self.config.advertise_addr) else {
            return Reply::error(StatusCode::SERVICE_UNAVAILABLE, NO_LEADER_MESSAGE);
        };
        match self.call_peer(&addr, path, body.to_vec(), 60_000).await {
            Ok(bytes) => Reply { status: StatusCode::OK, content_type: "application/json", body: bytes.to_vec() },
            Err(CallError::Status { status, message, .. }) => {
                Reply::error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), message)
            }
            Err(error) => Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        }
    }

    /// What role the store wants `node_id` in, and whether it is a voter (served by the leader).
    async fn node_role(&self, request: NodeRoleRequest, body: Bytes) -> Reply {
        if !self.is_leader() {
            return self.relay_to_leader(PATH_NODE_ROLE, body).await;
        }
        let status = self.status();
        let found = self.state.read(|store| {
            store.node(&request.node_id).map(|node| (node.spec.role, node.manager_status.as_ref().map(|m| m.raft_id)))
        });
        let Some((wanted, raft_id)) = found else {
            return Reply::error(StatusCode::NOT_FOUND, format!("node {} not found", request.node_id));
        };
        let voter = raft_id.is_some_and(|id| status.voters.contains_key(&id));
        let managers = status.voters.into_values().collect();
        Reply::json(StatusCode::OK, &NodeRoleReply { wanted, voter, managers })
    }

    /// Adds a node the store wants as a manager (`node promote`) to the voters (served by the leader).
    async fn promote(&self, request: PromoteRequest, body: Bytes) -> Reply {
        if !self.is_leader() {
            return self.relay_to_leader(PATH_PROMOTE, body).await;
        }
        let wanted = self.state.read(|store| store.node(&request.node_id).map(|n| n.spec.role));
        if wanted != Some(swarm_core::NodeRole::Manager) {
            return Reply::error(StatusCode::FORBIDDEN, format!("node {} is not to be a manager", request.node_id));
        }
        if let Err(message) = self.add_manager(request.raft_id, request.addr.clone()).await {
            return Reply::error(StatusCode::SERVICE_UNAVAILABLE, message);
        }
        let managers: Vec<String> = self.status().voters.into_values().collect();
        Reply::json(StatusCode::OK, &managers)
    }

    /// Checks a join token on the leader (forwarding there), and adds a manager that presents a manager token
    /// with its Raft id.
    async fn join(&self, request: ClusterJoinRequest, body: Bytes) -> Reply {
        if !self.is_leader() {
            return self.relay_to_leader(PATH_JOIN, body).await;
        }
        let admitted = self.state.read(|store| {
            store.cluster().and_then(|c| c.join_tokens.role_of(&request.token).map(|role| (role, c.id.clone())))
        });
        let Some((role, cluster_id)) = admitted else {
            return Reply::error(StatusCode::FORBIDDEN, INVALID_JOIN_TOKEN);
        };
        if let (swarm_core::NodeRole::Manager, Some(raft_id)) = (role, request.raft_id) {
            if let Err(message) = self.add_manager(raft_id, request.addr.clone()).await {
                return Reply::error(StatusCode::SERVICE_UNAVAILABLE, message);
            }
        }
        let managers = self.status().voters.into_values().collect();
        Reply::json(StatusCode::OK, &ClusterJoinReply { role, cluster_id, managers })
    }

    /// Whether this manager leads with a quorum that accepted it recently: itself plus enough voters that answered
    /// one of its append-entries calls (heartbeats come every 50 ms) sent within half the shortest election
    /// timeout. Until then none of those followers can help elect another leader, so a leader that passes this is
    /// the only one (a lease), and one cut off from the others stops passing it within that time — openraft 0.9
    /// itself keeps such a leader believing it leads until it hears of a newer term.
    pub fn has_quorum_contact(&self) -> bool {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.state != ServerState::Leader {
            return false;
        }
        let voters: Vec<NodeId> = metrics.membership_config.membership().voter_ids().collect();
        let lease = Duration::from_millis(self.config.raft.election_timeout_min_ms / 2);
        let since = tokio::time::Instant::now().checked_sub(lease).unwrap_or_else(tokio::time::Instant::now);
        let term = metrics.current_term;
        let acked = voters
            .iter()
            .filter(|id| **id == self.config.node_id || self.peer_acks.acked_since(**id, term, since))
            .count();
        acked > voters.len() / 2
    }

    /// A leader without quorum contact (`has_quorum_contact`) refuses with Docker's no-leader message, so reads
    /// never come from a deposed leader's frozen store and writes do not wait out the proposal timeout. Followers
    /// answer Ok: their requests go to the leader, which is checked there.
    pub async fn confirm_leadership(&self) -> Result<(), ProposeError> {
        if self.is_leader() && !self.has_quorum_contact() {
            return Err(ProposeError::NoLeader);
        }
        Ok(())
    }

    /// The cluster as the leader sees it (asking the leader when this manager is a follower), with every manager
    /// node's `leader` flag and reachability filled in: a manager is reachable while its node is up (each manager
    /// runs an agent whose heartbeats keep its node ready).
    pub async fn leader_view(&self) -> Result<crate::control::view::ClusterView, String> {
        if !self.is_leader() {
            let Some(addr) = self.leader_addr().filter(|a| *a != self.config.advertise_addr) else {
                return Err(NO_LEADER_MESSAGE.to_string());
            };
            let pooled = self.peers.lock().expect("peer pool mutex").get_mut(&addr).and_then(|v| v.pop());
            let mut client = pooled.unwrap_or_else(|| HttpClient::new(&addr));
            let bytes = client.get(PATH_VIEW, Duration::from_secs(10)).await.map_err(|e| match e {
                CallError::Status { message, .. } => message,
                other => format!("{NO_LEADER_MESSAGE} ({other})"),
            })?;
            self.peers.lock().expect("peer pool mutex").entry(addr).or_default().push(client);
            return serde_json::from_slice(&bytes).map_err(|e| format!("malformed view from the leader: {e}"));
        }
        self.confirm_leadership().await.map_err(|e| e.to_string())?;
        let leader = self.raft.metrics().borrow().current_leader;
        let now = crate::leader::wall_clock_now();
        let mut view = self.state.read(|store| crate::control::view::ClusterView::from_store(store, "", now));
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

    async fn call_peer(&self, addr: &str, path: &str, body: Vec<u8>, timeout_ms: u64) -> Result<Bytes, CallError> {
        let pooled = self.peers.lock().expect("peer pool mutex").get_mut(addr).and_then(|v| v.pop());
        let mut client = pooled.unwrap_or_else(|| HttpClient::new(addr));
        let result = client.post(path, body, Duration::from_millis(timeout_ms)).await;
        if result.is_ok() {
            self.peers.lock().expect("peer pool mutex").entry(addr.to_string()).or_default().push(client);
        }
        result
    }

    /// Stops Raft and the server. The disk is left as it is.
    pub async fn shutdown(&self) {
        for task in self.tasks.lock().expect("tasks mutex").drain(..) {
            task.abort();
        }
        let _ = self.raft.shutdown().await;
    }

    async fn handle(&self, method: Method, path: &str, body: Bytes) -> Reply {
        match (method, path) {
            (Method::POST, PATH_APPEND) => match postcard::from_bytes::<AppendEntriesRequest<TypeConfig>>(&body) {
                Ok(request) => match entries_follow_on(&request) {
                    Ok(()) => {
                        let response = self.raft.append_entries(request).await;
                        if accepted_leader(&response) {
                            self.heard_from_leader();
                        }
                        postcard_reply(&response)
                    }
                    Err(problem) => malformed(path, problem),
                },
                Err(e) => malformed(path, e),
            },
            (Method::POST, PATH_VOTE) => match postcard::from_bytes::<VoteRequest<NodeId>>(&body) {
                Ok(request) => {
                    let candidate_log = request.last_log_id;
                    let response = self.raft.vote(request).await;
                    if let Ok(answer) = &response {
                        self.behind_peer.compare(answer.last_log_id.as_ref(), candidate_log.as_ref());
                    }
                    if matches!(&response, Ok(r) if r.vote_granted) {
                        self.heard_from_leader();
                    }
                    postcard_reply(&response)
                }
                Err(e) => malformed(path, e),
            },
            (Method::POST, PATH_SNAPSHOT) => match postcard::from_bytes(&body) {
                Ok(request) => {
                    let response = self.raft.install_snapshot(request).await;
                    if response.is_ok() {
                        self.heard_from_leader();
                    }
                    postcard_reply(&response)
                }
                Err(e) => malformed(path, e),
            },
            (Method::POST, PATH_PROPOSE) => {
                let result = match postcard::from_bytes::<ProposeRequest>(&body) {
                    Ok(request) => self.propose_inner(request).await,
                    Err(e) => return malformed(path, e),
                };
                postcard_reply(&result)
            }
            (Method::POST, PATH_JOIN) => match serde_json::from_slice::<ClusterJoinRequest>(&body) {
                Ok(request) => self.join(request, body).await,
                Err(e) => malformed(path, e),
            },
            (Method::POST, PATH_NODE_ROLE) => match serde_json::from_slice::<NodeRoleRequest>(&body) {
                Ok(request) => self.node_role(request, body).await,
                Err(e) => malformed(path, e),
            },
            (Method::POST, PATH_PROMOTE) => match serde_json::from_slice::<PromoteRequest>(&body) {
                Ok(request) => self.promote(request, body).await,
                Err(e) => malformed(path, e),
            },
            (Method::GET, PATH_VIEW) => match self.leader_view().await {
                Ok(view) => Reply::json(StatusCode::OK, &view),
                Err(message) => Reply::error(StatusCode::SERVICE_UNAVAILABLE, message),
            },
            (method, path) if path.starts_with(PATH_NODE_PREFIX) => match &self.config.node_api {
                Some(handler) => handler(method, path.to_string(), body).await,
                None => Reply::error(StatusCode::NOT_FOUND, "this node runs no container engine"),
            },
            (Method::POST, PATH_REMOVE_MANAGER) => match serde_json::from_slice::<RemoveManagerRequest>(&body) {
                Ok(request) => admin_reply(self.remove_manager(request.node_id).await),
                Err(e) => malformed(path, e),
            },
            (Method::GET, PATH_STATUS) => Reply::json(StatusCode::OK, &self.status()),
            (Method::GET, PATH_STORE) => self.state.read(|store| {
                let view = serde_json::json!({
                    "cluster": store.cluster(),
                    "nodes": store.nodes().collect::<Vec<_>>(),
                    "services": store.services().collect::<Vec<_>>(),
                    "tasks": store.tasks().collect::<Vec<_>>(),
                    "networks": store.networks().collect::<Vec<_>>(),
                });
                Reply::json(StatusCode::OK, &view)
            }),
            (_, path) => Reply::error(StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
        }
    }
}

/// The election timer, ours rather than openraft's. Raft (§5.2) draws a fresh random election timeout for every
/// election; openraft 0.9 draws one per process and checks it on a tick of 1.5 heartbeats, so two followers
/// whose timeouts fall into the same tick start every election together and split the vote forever — the
/// simulator found exactly that (3 managers, the leader killed, the other two in lockstep for 80,000 terms).
/// openraft's own elections are switched off (`enable_elect: false`) and this task triggers them: a follower or
/// candidate that has not heard from a leader (nor granted a vote) for a timeout drawn anew each time, at
/// millisecond resolution, starts an election; a candidate whose election settled nothing retries in a window
/// ordered by its rank among the voters (`own_election_retry_ms`). A single voter starts one at once.
async fn election_timer(manager: std::sync::Weak<Manager>, min_ms: u64, max_ms: u64) {
    use rand::Rng;
    // A follower waits min_ms..=max_ms of leader silence, drawn once per term: a fixed timeout per leader makes a
    // spurious election need one long silence, not just an unlucky draw on some heartbeat. After an election of
    // its own that did not settle things, a node retries as `own_election_retry_ms` says, plus twice the longest
    // election timeout when vote traffic showed a voter whose log is ahead of its own (`BehindPeer`): ranked
    // retries would otherwise let a low-ranked node with a short log outpace, term after term, the voter that can
    // win (the simulator found two managers doing that for 30 s).
    let mut timeout = Duration::ZERO;
    // What the timeout was drawn for: the term a leader contact came in, or the instant of our own election.
    let mut drawn_for: Option<(Contact, u64, Option<tokio::time::Instant>)> = None;
    // Elections of our own in a row, with no leader heard from nor vote granted in between.
    let mut own_rounds: u32 = 0;
    loop {
        let Some(manager) = manager.upgrade() else { return };
        let (last_contact, kind) = *manager.last_leader_contact.lock().expect("contact mutex");
        let (state, term, voters) = {
            let metrics = manager.raft.metrics().borrow().clone();
            let voters = metrics.membership_config.membership().voter_ids().collect::<BTreeSet<_>>();
            (metrics.state, metrics.current_term, voters)
        };
        let key = match kind {
            Contact::Leader => (kind, term, None),
            Contact::OwnElection => (kind, 0, Some(last_contact)),
        };
        if drawn_for != Some(key) {
            drawn_for = Some(key);
            let mut rng = <crate::raft::rt::SwarmRuntime as openraft::AsyncRuntime>::thread_rng();
            let ms = match kind {
                Contact::Leader => {
                    own_rounds = 0;
                    rng.gen_range(min_ms..=max_ms)
                }
                Contact::OwnElection => {
                    own_rounds = own_rounds.saturating_add(1);
                    let rank = voters.iter().position(|id| *id == manager.config.node_id).unwrap_or(voters.len());
                    own_election_retry_ms(min_ms, rank, own_rounds, rng.gen_range(0.0..1.0))
                }
            };
            timeout = Duration::from_millis(ms);
        }
        let is_voter = voters.contains(&manager.config.node_id);
        let single_voter = is_voter && voters.len() == 1;
        let now = tokio::time::Instant::now();
        let mut due = last_contact + timeout;
        let recently = last_contact.checked_sub(Duration::from_millis(max_ms)).unwrap_or(last_contact);
        if kind == Contact::OwnElection && manager.behind_peer.seen_since(recently) {
            // A voter with a longer log is around: let it climb past our term and win first.
            due += Duration::from_millis(2 * max_ms);
        }
        if state != ServerState::Leader && is_voter && (single_voter || now >= due) {
            let _ = manager.raft.trigger().elect().await;
            *manager.last_leader_contact.lock().expect("contact mutex") =
                (tokio::time::Instant::now(), Contact::OwnElection);
            drop(manager);
            // A single voter wins at once; give its election a moment before checking again.
            tokio::time::sleep(Duration::from_millis(min_ms.min(50))).await;
            continue;
        }
        drop(manager);
        let wake = if state == ServerState::Leader || !is_voter { now + timeout } else { due.max(now) };
        tokio::time::sleep_until(wake).await;
    }
}

/// Milliseconds between two ranks' retry windows (each rank draws in the first half of its slot), at least one
/// network delay between managers so the next rank hears the earlier one's vote request before its own window.
const RETRY_SLOT_MS: u64 = 25;
/// The retry delay doubles after the first election of its own in a row, up to this factor. It stays below the
/// shortest election timeout: followers that keep granting each other votes time out that often, and a candidate
/// with the best log but a stale term must retry faster than they raise the term, or it never catches up
/// (openraft 0.9 lets a voter refuse a candidate's log without taking its term).
const RETRY_BACKOFF_MAX: u64 = 2;

/// How long a node waits, after the `round`-th election of its own in a row that settled nothing (a split vote,
/// or refusals from peers with longer logs), before it starts another. Two candidates that split a vote retry
/// in separate windows ordered by `rank` (the node's place among the voters): the first asks for votes before
/// the second's window opens, so a split is not repeated, where equal random ranges split again about one time
/// in ten. A lower rank that cannot win (its log is behind) only delays the next by a slot. The base is a quarter
/// of the shortest election timeout, doubled from the second round on (`RETRY_BACKOFF_MAX`): under latency spikes
/// an election round trip can outlast the short first retry. `jitter` is in [0, 1).
fn own_election_retry_ms(election_timeout_min_ms: u64, rank: usize, round: u32, jitter: f64) -> u64 {
    let base = election_timeout_min_ms / 4;
    let slot = RETRY_SLOT_MS * rank as u64 + (jitter.clamp(0.0, 1.0) * (RETRY_SLOT_MS / 2) as f64) as u64;
    let backoff = 1u64 << round.saturating_sub(1).min(RETRY_BACKOFF_MAX.trailing_zeros());
    (base + slot) * backoff
}

/// Whether an append-entries answer shows the sender is a leader this node accepts (not a stale one).
fn accepted_leader(response: &Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>) -> bool {
    matches!(response, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_)))
}

/// openraft trusts the leader to send consecutive entries right after `prev_log_id`; a peer sending garbage must
/// not be able to put a hole in the log (the WAL asserts against holes).
fn entries_follow_on(request: &AppendEntriesRequest<TypeConfig>) -> Result<(), String> {
    let mut expected = request.prev_log_id.map(|l| l.index + 1).unwrap_or(0);
    for entry in &request.entries {
        let index = entry.get_log_id().index;
        if index != expected {
            return Err(format!("entry index {index} where {expected} was expected"));
        }
        expected += 1;
    }
    Ok(())
}

fn postcard_reply<T: Serialize>(value: &T) -> Reply {
    match postcard::to_stdvec(value) {
        Ok(bytes) => Reply::ok(bytes),
        Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode reply: {e}")),
    }
}

fn malformed(path: &str, error: impl std::fmt::Display) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, format!("malformed request body for {path}: {error}"))
}

fn admin_reply(result: Result<(), String>) -> Reply {
    match result {
        Ok(()) => Reply::json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(message) => Reply::error(StatusCode::SERVICE_UNAVAILABLE, message),
    }
}

#[cfg(test)]
mod tests {
    use super::own_election_retry_ms;

    #[test]
    fn retry_windows_are_ordered_by_rank_and_back_off_per_round() {
        // (rank, round, jitter) → milliseconds, with the default shortest election timeout of 500 ms.
        let cases = [
            (0, 1, 0.0, 125),
            (0, 1, 0.999, 136),
            (1, 1, 0.0, 150),
            (1, 1, 0.999, 161),
            (2, 1, 0.0, 175),
            (0, 2, 0.0, 250),
            (1, 3, 0.0, 300),
            (0, 4, 0.0, 250),
            (0, 40, 0.0, 250),
        ];
        for (rank, round, jitter, expected) in cases {
            assert_eq!(own_election_retry_ms(500, rank, round, jitter), expected, "rank {rank} round {round}");
        }
    }

    #[test]
    fn a_lower_rank_always_fires_a_network_delay_before_the_next() {
        for round in 1..6 {
            for rank in 0..6 {
                let latest = own_election_retry_ms(500, rank, round, 0.999_999);
                let earliest_next = own_election_retry_ms(500, rank + 1, round, 0.0);
                assert!(
                    earliest_next >= latest + 12,
                    "round {round}: rank {rank} until {latest}, next from {earliest_next}"
                );
            }
        }
    }
}
