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

pub mod access;
pub mod api;
pub mod ca_rotation;
pub mod certificates;
pub mod client;
pub mod forwarding;
pub mod lease;
pub mod lifecycle;
pub mod membership;
pub mod own_certificate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use openraft::ServerState;

use self::access::{Admitted, Endpoint, Standing};
use self::api::{
    ClusterJoinRequest, NodeRoleRequest, PromoteRequest, ProposeRequest, RemoveManagerRequest, RenewRequest,
    PATH_CA_RENEW, PATH_DISPATCHER_ON_LEADER, PATH_JOIN, PATH_NODE_PREFIX, PATH_NODE_ROLE, PATH_PROMOTE, PATH_PROPOSE,
    PATH_REMOVE_MANAGER, PATH_STATUS, PATH_STORE, PATH_VIEW,
};
use crate::dispatcher::api::DispatcherError;
use crate::dispatcher::api::PATH_PREFIX as PATH_DISPATCHER_PREFIX;
use crate::dispatcher::sessions::Dispatcher;
use crate::http::{Caller, ClientPool, Handler, Reply};
use crate::propose::{Committed, LeaderHandle, ProposeError};
use crate::raft::batcher::Batcher;
use crate::raft::election_timer::ElectionTimer;
use crate::raft::log_store::LogRecovery;
use crate::raft::network::PeerAcks;
use crate::raft::settings::RaftSettings;
use crate::raft::state_machine::StateMachine;
use crate::raft::types::{NodeId, Proposal, Raft};
use crate::tls::{HeldRoots, RootCa, TlsHandle};

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
    /// This node's certificate and the cluster's root: every connection in and out is mutual TLS with them.
    /// `None` serves and calls plain HTTP, trusting every caller as a manager: for benchmarks only.
    pub tls: Option<TlsHandle>,
    /// The cluster's root CA, which signs the certificates of joining nodes and of nodes changing role.
    pub ca: Option<Arc<RootCa>>,
    /// This manager's key for its Raft log and snapshots at rest (`None`: kept unencrypted, for benchmarks and
    /// data directories of builds before encryption at rest until their identity file gets a key).
    pub data_key: Option<Arc<crate::aead::AeadKey>>,
    /// The validity of the certificates this manager issues, in place of the swarm's `--cert-expiry` (`swarm
    /// daemon --node-cert-validity`, for tests of renewal).
    pub node_cert_validity: Option<std::time::Duration>,
    /// Where a new certificate this manager issues itself is kept (`None`: nowhere but in `tls`, as in the
    /// simulator, where the handle outlives restarts).
    pub keep_identity: Option<own_certificate::KeepIdentity>,
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
    /// The root CAs this manager holds: its disk's and those a root rotation named in the store.
    roots: Option<HeldRoots>,
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

    /// This manager's applied store as JSON (for debugging and the tests; join tokens included, the unlock key
    /// never: `swarm unlock-key` is the one read of it).
    pub fn store_json(&self) -> serde_json::Value {
        self.state.read(|store| {
            let mut cluster = serde_json::json!(store.cluster());
            if let Some(fields) = cluster.as_object_mut() {
                fields.remove("unlock_key");
                fields.insert("autolock".to_string(), serde_json::json!(store.cluster().is_some_and(|c| c.autolock())));
            }
            serde_json::json!({
                "cluster": cluster,
                "nodes": store.nodes().collect::<Vec<_>>(),
                "services": store.services().collect::<Vec<_>>(),
                "tasks": store.tasks().collect::<Vec<_>>(),
                "networks": store.networks().collect::<Vec<_>>(),
            })
        })
    }

    /// How long the node certificates this manager's CA issues are valid (`swarm update --cert-expiry`).
    pub fn node_cert_validity(&self) -> std::time::Duration {
        if let Some(validity) = self.config.node_cert_validity {
            return validity;
        }
        self.read(|store| store.cluster().map(|c| c.settings.node_cert_validity()))
            .unwrap_or(crate::tls::ca::NODE_CERT_VALIDITY)
    }

    /// The root CA this manager keeps on disk (during a rotation it issues from another: `issuing_root`).
    pub fn ca(&self) -> Option<Arc<RootCa>> {
        self.roots.as_ref().map(HeldRoots::disk)
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The cluster API's handler: who may call what first (`access`), then dispatcher calls (forwarded ones first),
    /// then everything else.
    fn http_handler(self: &Arc<Self>) -> Handler {
        let weak = Arc::downgrade(self);
        Arc::new(move |caller, method, path, body| {
            let weak = weak.clone();
            Box::pin(async move {
                match weak.upgrade() {
                    Some(manager) => manager.route(caller, method, path, body).await,
                    None => Reply::error(StatusCode::SERVICE_UNAVAILABLE, "manager is shutting down"),
                }
            })
        })
    }

    /// What the store and Raft say of the node that holds `caller`'s certificate.
    fn standing_of(&self, caller: &Caller) -> Standing {
        let Caller::Node(identity) = caller else {
            return Standing { removed: false, wanted_role: None, voter: false };
        };
        let (removed, wanted_role, raft_id) = self.state.read(|store| {
            let node = store.node(&identity.node_id);
            (
                store.is_removed_node(&identity.node_id),
                node.map(|node| node.spec.role),
                node.and_then(|node| node.manager_status.as_ref()).map(|status| status.raft_id),
            )
        });
        let voter = raft_id
            .is_some_and(|id| self.raft.metrics().borrow().membership_config.membership().voter_ids().any(|v| v == id));
        Standing { removed, wanted_role, voter }
    }

    async fn route(&self, caller: Caller, method: Method, path: String, body: Bytes) -> Reply {
        let endpoint = Endpoint::of(&path);
        let standing = self.standing_of(&caller);
        let admitted = match access::decide(&caller, endpoint, standing) {
            Ok(admitted) => admitted,
            Err(denied) => {
                tracing::debug!(?caller, %path, reason = %denied.message, "refused a cluster API call");
                // A removed node's agent is told so in the dispatcher's own words, so it removes its containers.
                if let (Endpoint::Dispatcher, true, Caller::Node(identity)) = (endpoint, standing.removed, &caller) {
                    let removed: Result<(), DispatcherError> =
                        Err(DispatcherError::NodeRemoved(identity.node_id.clone()));
                    return Reply::postcard(&removed);
                }
                return Reply::error(denied.status, denied.message);
            }
        };
        if method == Method::POST {
            if let Some((acting_for, call)) = forwarded_dispatcher_call(&path) {
                return self.dispatcher_call(call, body, true, acting_for).await;
            }
            if path.starts_with(PATH_DISPATCHER_PREFIX) {
                return self.dispatcher_call(&path, body, false, admitted.node_id().map(str::to_string)).await;
            }
        }
        self.handle(&caller, &admitted, method, &path, body).await
    }

    async fn handle(&self, caller: &Caller, admitted: &Admitted, method: Method, path: &str, body: Bytes) -> Reply {
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
                Ok(request) => self.join(admitted, request, body).await,
                Err(e) => Reply::malformed(path, e),
            },
            (Method::POST, PATH_CA_RENEW) => match serde_json::from_slice::<RenewRequest>(&body) {
                Ok(request) => self.renew(admitted, request, body).await,
                Err(e) => Reply::malformed(path, e),
            },
            (Method::POST, PATH_NODE_ROLE) => match serde_json::from_slice::<NodeRoleRequest>(&body) {
                Ok(request) if admitted.may_act_for(&request.node_id) => self.node_role(request, body).await,
                Ok(request) => admitted.refuse_acting_for(&request.node_id),
                Err(e) => Reply::malformed(path, e),
            },
            (Method::POST, PATH_PROMOTE) => match serde_json::from_slice::<PromoteRequest>(&body) {
                Ok(_) if !admitted.is_manager() => Reply::error(
                    StatusCode::FORBIDDEN,
                    "Permission denied: joining the managers needs a manager certificate",
                ),
                Ok(request) if admitted.may_act_for(&request.node_id) => self.promote(request, body).await,
                Ok(request) => admitted.refuse_acting_for(&request.node_id),
                Err(e) => Reply::malformed(path, e),
            },
            (Method::GET, PATH_VIEW) => match self.leader_view().await {
                Ok(view) => Reply::json(StatusCode::OK, &view),
                Err(error) => Reply::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
            },
            (method, path) if path.starts_with(PATH_NODE_PREFIX) => match &self.config.node_api {
                Some(handler) => handler(caller.clone(), method, path.to_string(), body).await,
                None => Reply::error(StatusCode::NOT_FOUND, "this node runs no container engine"),
            },
            (Method::POST, PATH_REMOVE_MANAGER) => match serde_json::from_slice::<RemoveManagerRequest>(&body) {
                Ok(request) => self.serve_remove_manager(request).await,
                Err(e) => Reply::malformed(path, e),
            },
            (Method::GET, PATH_STATUS) => Reply::json(StatusCode::OK, &self.status()),
            (Method::GET, PATH_STORE) => Reply::json(StatusCode::OK, &self.store_json()),
            (_, path) => Reply::error(StatusCode::NOT_FOUND, format!("no such endpoint: {path}")),
        }
    }
}

/// A dispatcher call a follower forwarded to the leader: `/leader/<node id the caller acts as, or ->/dispatcher/…`.
fn forwarded_dispatcher_call(path: &str) -> Option<(Option<String>, &str)> {
    let rest = path.strip_prefix(PATH_DISPATCHER_ON_LEADER)?.strip_prefix('/')?;
    let (node, _) = rest.split_once('/')?;
    let call = &rest[node.len()..];
    let acting_for = (node != FORWARDED_FOR_ANYONE).then(|| node.to_string());
    Some((acting_for, call)).filter(|(_, call)| call.starts_with(PATH_DISPATCHER_PREFIX))
}

/// The node part of a forwarded dispatcher path when the caller may act for any node.
const FORWARDED_FOR_ANYONE: &str = "-";

/// The path a follower forwards a dispatcher call on, keeping whom the caller may act as.
pub(crate) fn forwarded_dispatcher_path(acting_for: Option<&str>, call: &str) -> String {
    format!("{PATH_DISPATCHER_ON_LEADER}/{}{call}", acting_for.unwrap_or(FORWARDED_FOR_ANYONE))
}

impl Admitted {
    /// The node id the caller must act as, if it may not act for others.
    pub fn node_id(&self) -> Option<&str> {
        match self {
            Admitted::AsNode { node_id, role: swarm_core::NodeRole::Worker } => Some(node_id),
            _ => None,
        }
    }

    /// Whether the caller holds a manager's standing (a manager certificate the store agrees with).
    pub fn is_manager(&self) -> bool {
        matches!(self, Admitted::Anyone | Admitted::AsNode { role: swarm_core::NodeRole::Manager, .. })
    }

    /// Whether the caller may ask about or for `node_id`: a manager for any node, a worker for itself.
    pub fn may_act_for(&self, node_id: &str) -> bool {
        match self {
            Admitted::Joining => false,
            _ => self.node_id().is_none_or(|own| own == node_id),
        }
    }

    pub(super) fn refuse_acting_for(&self, node_id: &str) -> Reply {
        Reply::error(
            StatusCode::FORBIDDEN,
            format!("Permission denied: node {} may not act for node {node_id}", self.node_id().unwrap_or("(unknown)")),
        )
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

    fn sealing_keys(&self) -> Option<crate::tls::SealingKeys> {
        self.secret_keys().ok()
    }

    fn propose_as_leader(
        &self,
        proposal: Proposal,
    ) -> impl std::future::Future<Output = Result<Committed, ProposeError>> + Send {
        self.propose_inner(ProposeRequest { proposal, forwarded: true })
    }
}
