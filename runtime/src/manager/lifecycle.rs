//! A manager's life: `start` opens its storage, checks that the log and the newest snapshot agree, starts Raft,
//! the batcher, the election timer, the manager loop and the cluster API server; `bootstrap` makes it the only
//! voter of a new cluster; `status` reports its view of Raft; `shutdown` stops it all. Invariant: a manager never
//! starts on storage it cannot trust — a corrupt file, or a log purged past the newest snapshot, is a
//! `StartError` naming the problem, never a silently emptier state.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::BasicNode;

use super::api::ManagerStatus;
use super::{Manager, ManagerConfig};
use crate::dispatcher::sessions::Dispatcher;
use crate::http::{self, ClientPool};
use crate::raft::batcher::Batcher;
use crate::raft::election_timer::{self, ElectionTimer};
use crate::raft::log_store::{LogOpenError, LogStore};
use crate::raft::network::HttpNetwork;
use crate::raft::state_machine::{RaftObserver, StateMachine, StateOpenError};
use crate::raft::types::{NodeId, Raft};
use crate::stall::StallDetector;
use crate::storage::disk::Disk;
use crate::tls::ClientTls;

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

/// Why `bootstrap` could not make this manager the first voter.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("{0}")]
    Stopped(openraft::error::Fatal<NodeId>),
    #[error("{0}")]
    Refused(Box<RaftError<NodeId, InitializeError<NodeId, BasicNode>>>),
}

impl Manager {
    /// Opens storage on `disk`, starts Raft and serves on `config.listen_addr`.
    pub async fn start(
        config: ManagerConfig,
        disk: Arc<dyn Disk>,
        observer: Option<Arc<dyn RaftObserver>>,
    ) -> Result<Arc<Manager>, StartError> {
        let data_key = config.data_key.clone();
        let (log, recovery) = LogStore::open(disk.clone(), data_key.clone()).map_err(|e| e.located(disk.as_ref()))?;
        if let Some(repair) = &recovery.repaired_tail {
            tracing::warn!(node = config.node_id, %repair, "repaired a torn raft log tail");
        }
        let state = StateMachine::open(config.node_id, disk.clone(), observer, data_key)
            .map_err(|e| e.located(disk.as_ref()))?;
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
        let raft_config =
            Arc::new(config.raft.openraft_config().validate().map_err(|e| StartError::Settings(e.to_string()))?);
        let listener = tokio::net::TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| StartError::Listen { addr: config.listen_addr, source })?;
        let peer_tls = config.tls.as_ref().map(ClientTls::to_managers);
        let network = HttpNetwork { tls: peer_tls.clone(), ..HttpNetwork::default() };
        let peer_acks = network.acks.clone();
        let behind_peer = network.behind.clone();
        let raft = Raft::new(config.node_id, raft_config, network, log.clone(), state.clone())
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let commit_timeout = Duration::from_millis(config.raft.propose_timeout_ms);
        let (batcher, batcher_task) = Batcher::start(raft.clone(), commit_timeout);
        let (min_ms, max_ms) = (config.raft.election_timeout_min_ms, config.raft.election_timeout_max_ms);
        let election = Arc::new(ElectionTimer::new(
            raft.clone(),
            log,
            config.node_id,
            min_ms,
            max_ms,
            behind_peer,
            peer_tls.clone(),
        ));
        let roots = config.ca.clone().map(crate::tls::HeldRoots::new);
        let manager = Arc::new(Manager {
            roots,
            config,
            raft,
            state,
            recovery,
            batcher,
            dispatcher: Arc::new(Dispatcher::default()),
            peer_acks,
            election,
            leadership_start: Mutex::new(None),
            peers: ClientPool::new(peer_tls),
            tasks: Mutex::new(vec![batcher_task]),
        });
        let timer = tokio::spawn(election_timer::run(Arc::downgrade(&manager.election)));
        manager.tasks.lock().expect("tasks mutex").push(timer);
        let stall = Arc::new(StallDetector::default());
        let stall_ticker = tokio::spawn(crate::stall::run(Arc::downgrade(&stall)));
        manager.tasks.lock().expect("tasks mutex").push(stall_ticker);
        let leader_loop =
            tokio::spawn(crate::manager_loop::run(Arc::downgrade(&manager), manager.dispatcher.clone(), stall));
        manager.tasks.lock().expect("tasks mutex").push(leader_loop);
        let rotation = tokio::spawn(super::ca_rotation::run(Arc::downgrade(&manager)));
        manager.tasks.lock().expect("tasks mutex").push(rotation);
        let server = tokio::spawn(http::serve(listener, manager.http_handler(), manager.config.tls.clone()));
        manager.tasks.lock().expect("tasks mutex").push(server);
        Ok(manager)
    }

    /// Makes this manager the only voter of a new cluster. Idempotent: an initialised node answers Ok.
    pub async fn bootstrap(&self) -> Result<(), BootstrapError> {
        if self.raft.is_initialized().await.map_err(BootstrapError::Stopped)? {
            return Ok(());
        }
        let members = BTreeMap::from([(self.config.node_id, BasicNode { addr: self.config.advertise_addr.clone() })]);
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(BootstrapError::Refused(Box::new(e))),
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

    /// Stops Raft and the server. The disk is left as it is.
    pub async fn shutdown(&self) {
        for task in self.tasks.lock().expect("tasks mutex").drain(..) {
            task.abort();
        }
        let _ = self.raft.shutdown().await;
    }
}
