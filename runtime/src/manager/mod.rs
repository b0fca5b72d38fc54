//! A manager node: opens durable storage (refusing to start on corruption), runs openraft, serves Raft RPCs and
//! the cluster API over HTTP, and turns client proposals into committed log entries — forwarding them to the
//! leader when this manager is a follower (one hop at most). While it leads, it runs the manager loop and serves
//! the dispatcher, both through the narrow `LeaderHandle` it implements. Invariant: a proposal is acknowledged
//! only after its entry is committed and applied on the leader; every API failure is a typed error that names
//! the problem, and no request body can panic the node.
//!
//! Its rooms: `lifecycle` (start, bootstrap, status, shutdown), `forwarding` (proposals, reads and dispatcher
//! calls sent on to the leader), `membership` (adding and removing managers, joins, promotions), `lease` (when a
//! leader may trust that it still leads), `api` (the cluster API's paths and bodies) and `client` (a client of
//! that API). This file holds the manager itself and routes each request of the cluster API.

pub mod api;
pub mod client;
pub mod forwarding;
pub mod lease;
pub mod lifecycle;
pub mod membership;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use openraft::ServerState;

use self::api::{
    ClusterJoinRequest, NodeRoleRequest, PromoteRequest, ProposeRequest, RemoveManagerRequest,
    PATH_DISPATCHER_ON_LEADER, PATH_JOIN, PATH_NODE_PREFIX, PATH_NODE_ROLE, PATH_PROMOTE, PATH_PROPOSE,
    PATH_REMOVE_MANAGER, PATH_STATUS, PATH_STORE, PATH_VIEW,
};
use crate::dispatcher::api::PATH_PREFIX as PATH_DISPATCHER_PREFIX;
use crate::dispatcher::sessions::Dispatcher;
use crate::http::{ClientPool, Handler, Reply};
use crate::propose::{Committed, LeaderHandle, ProposeError};
use crate::raft::batcher::Batcher;
use crate::raft::election_timer::ElectionTimer;
use crate::raft::log_store::LogRecovery;
use crate::raft::network::PeerAcks;
use crate::raft::settings::RaftSettings;
use crate::raft::state_machine::StateMachine;
use crate::raft::types::{NodeId, Proposal, Raft};

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

pub struct Manager {
    config: ManagerConfig,
    raft: Raft,
    state: StateMachine,
    /// The leader's sessions with agents (empty while not leading); the manager loop drives them too.
    dispatcher: Arc<Dispatcher>,
    /// Which followers accepted this manager as leader, and when (the leader lease).
    peer_acks: Arc<PeerAcks>,
    election: Arc<ElectionTimer>,
    /// The term this process last saw itself lead, with its last log index then (see
    /// `leading_term_with_own_entry_applied`).
    leadership_start: Mutex<Option<(u64, Option<u64>)>>,
    recovery: LogRecovery,
    batcher: Batcher,
    /// Connections to other managers, for forwarding.
    peers: ClientPool,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Manager {
    pub fn id(&self) -> NodeId {
        self.config.node_id
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

    /// The cluster API's handler: dispatcher calls (forwarded ones first), then everything else.
    fn http_handler(self: &Arc<Self>) -> Handler {
        let weak = Arc::downgrade(self);
        Arc::new(move |method, path, body| {
            let weak = weak.clone();
            Box::pin(async move {
                match weak.upgrade() {
                    Some(manager) => match path.strip_prefix(PATH_DISPATCHER_ON_LEADER) {
                        Some(call) if method == Method::POST => manager.dispatcher_call(call, body, true).await,
                        _ if method == Method::POST && path.starts_with(PATH_DISPATCHER_PREFIX) => {
                            manager.dispatcher_call(&path, body, false).await
                        }
                        _ => manager.handle(method, &path, body).await,
                    },
                    None => Reply::error(StatusCode::SERVICE_UNAVAILABLE, "manager is shutting down"),
                }
            })
        })
    }

    async fn handle(&self, method: Method, path: &str, body: Bytes) -> Reply {
        match (method, path) {
            (Method::POST, path) if crate::raft::server::is_raft_rpc(path) => {
                crate::raft::server::serve(&self.raft, &self.election, path, &body).await
            }
            (Method::POST, PATH_PROPOSE) => {
                let result = match postcard::from_bytes::<ProposeRequest>(&body) {
                    Ok(request) => self.propose_inner(request).await,
                    Err(e) => return Reply::malformed(path, e),
                };
                Reply::postcard(&result)
            }
            (Method::POST, PATH_JOIN) => match serde_json::from_slice::<ClusterJoinRequest>(&body) {
                Ok(request) => self.join(request, body).await,
                Err(e) => Reply::malformed(path, e),
            },
            (Method::POST, PATH_NODE_ROLE) => match serde_json::from_slice::<NodeRoleRequest>(&body) {
                Ok(request) => self.node_role(request, body).await,
                Err(e) => Reply::malformed(path, e),
            },
            (Method::POST, PATH_PROMOTE) => match serde_json::from_slice::<PromoteRequest>(&body) {
                Ok(request) => self.promote(request, body).await,
                Err(e) => Reply::malformed(path, e),
            },
            (Method::GET, PATH_VIEW) => match self.leader_view().await {
                Ok(view) => Reply::json(StatusCode::OK, &view),
                Err(error) => Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
            },
            (method, path) if path.starts_with(PATH_NODE_PREFIX) => match &self.config.node_api {
                Some(handler) => handler(method, path.to_string(), body).await,
                None => Reply::error(StatusCode::NOT_FOUND, "this node runs no container engine"),
            },
            (Method::POST, PATH_REMOVE_MANAGER) => match serde_json::from_slice::<RemoveManagerRequest>(&body) {
                Ok(request) => self.serve_remove_manager(request).await,
                Err(e) => Reply::malformed(path, e),
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

impl LeaderHandle for Manager {
    fn id(&self) -> NodeId {
        self.config.node_id
    }

    fn advertise_addr(&self) -> &str {
        &self.config.advertise_addr
    }

    fn state(&self) -> &StateMachine {
        &self.state
    }

    fn leading_term(&self) -> Option<u64> {
        self.leading_term_with_own_entry_applied()
    }

    fn propose_as_leader(
        &self,
        proposal: Proposal,
    ) -> impl std::future::Future<Output = Result<Committed, ProposeError>> + Send {
        self.propose_inner(ProposeRequest { proposal, forwarded: true })
    }
}
