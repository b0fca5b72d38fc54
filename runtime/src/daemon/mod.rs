//! `swarm daemon` as a whole: one node's membership in a swarm, and the control API the CLI talks to. A daemon is
//! outside any swarm until `swarm init` or `swarm join` (through the control API) makes it a manager — a Raft
//! member running the manager loop and its own agent — or a worker running just an agent; `swarm leave` takes
//! it out again. What it is survives restarts in `<data-dir>/node.json` (written atomically, only after the
//! change it records has taken effect), next to the Raft data. Invariants: at most one membership at a time,
//! changed under one lock; a node touches only Docker containers labelled with its own node id, or with its own
//! cluster id and a removed node's id (the agent's orphan rule); `leave` force-removes the node's containers before it
//! deletes the node's state; bad input to the control API is a 4xx with a message for the user, never a panic.

mod autolock;
pub mod cert_files;
mod control;
pub mod errors;
mod names;
mod node_api;
mod node_file;
mod roles;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use swarm_core::{
    ClusterSettings, Command, JoinTokens, ManagerStatus, NetworkSpec, NodeDescription, NodeRole, Platform, Proposal,
    Reachability, Resources,
};

use self::cert_files::CertFiles;
use self::errors::{DaemonError, Refusal};
use self::node_file::NodeFile;
use crate::clock::wall_clock_now;
use crate::control::api::{
    InfoReply, InitReply, InitRequest, JoinReply, JoinRequest, JoinTokenReply, JoinTokenRequest, LeaveRequest,
    LocalRole, SwarmUpdateRequest, ALREADY_IN_SWARM, NOT_IN_SWARM, WORKER_CANNOT_MANAGE,
};
use crate::http::{CallError, HttpClient};
use crate::ids::random_id;
use crate::manager::api::{ClusterJoinReply, ClusterJoinRequest, PATH_JOIN};
use crate::manager::{Manager, ManagerConfig};
use crate::raft::settings::RaftSettings;
use crate::storage::fs_disk::FsDisk;
use crate::tls::keys::fresh_key_pkcs8;
use crate::tls::{ClientTls, NodeIdentity, RootCa, TlsHandle};
use crate::worker::agent::{Agent, AgentConfig};
use crate::worker::docker::DockerExecutor;
use crate::worker::executor::Executor;
use crate::worker::overlay::linux::{HostDataPlane, LinuxDataPlane, LinuxDataPlaneConfig};
use crate::worker::overlay::OverlayDataPlane;

/// This node's overlay data plane on its advertise address (the VXLAN devices' local address); unavailable, with
/// the reason logged, when that is no IPv4 address or netlink or the engine cannot be reached.
async fn host_data_plane(advertise_addr: &str, node_id: &str, tunnel_port: u16) -> HostDataPlane {
    let Some(underlay_addr) = swarm_core::overlay::underlay_addr(advertise_addr) else {
        let reason = format!("the advertise address {advertise_addr} is not an IPv4 address");
        tracing::warn!(%reason, "no overlay networks on this node");
        return HostDataPlane::Unavailable(reason);
    };
    let config = LinuxDataPlaneConfig { tunnel_port, ..LinuxDataPlaneConfig::new(underlay_addr) };
    match LinuxDataPlane::connect(config, &crate::worker::docker::docker_host_from_env(), node_id).await {
        Ok(plane) => HostDataPlane::Linux(Box::new(plane)),
        Err(error) => {
            tracing::warn!(%error, "no overlay networks on this node");
            HostDataPlane::Unavailable(error.to_string())
        }
    }
}

/// `--default-addr-pool`, `--default-addr-pool-mask-length` and `--data-path-port` into `settings` (the store
/// checks ranges and overlaps; malformed text is refused here, naming the flag).
fn address_pools(request: &InitRequest, settings: &mut ClusterSettings) -> Result<(), Refusal> {
    if !request.default_addr_pools.is_empty() {
        settings.default_addr_pools = request
            .default_addr_pools
            .iter()
            .map(|text| {
                swarm_core::ipam::Ipv4Cidr::parse(text).map_err(|error| {
                    Refusal::bad_request(format!(
                        "invalid argument \"{text}\" for \"--default-addr-pool\" flag: {error}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(mask) = request.default_addr_pool_mask_length {
        settings.default_subnet_prefix_len = mask;
    }
    if let Some(port) = request.data_path_port {
        settings.data_path_port = port;
    }
    Ok(())
}

/// How the daemon was started.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    /// Where cluster traffic (Raft, dispatcher, node API) is served once the node is in a swarm.
    pub listen_addr: SocketAddr,
    /// How other nodes reach this one (defaults to the listen address).
    pub advertise_addr: Option<String>,
    /// The control API's unix socket.
    pub control_socket: PathBuf,
    pub raft: RaftSettings,
    /// The hostname this node reports (defaults to the host's).
    pub hostname: Option<String>,
    /// The UDP port of the node's tunnel for encrypted networks (`--tunnel-port`).
    pub tunnel_port: u16,
    /// How often the tunnel's key is replaced (`--tunnel-key-rotation`).
    pub tunnel_key_rotation: std::time::Duration,
    /// For tests of renewal: the validity of the certificates this node issues as a manager, in place of the
    /// swarm's `--cert-expiry`.
    pub node_cert_validity: Option<std::time::Duration>,
}

/// What the node currently is. A node in a swarm has its TLS identity (`tls`), shared by its servers and clients.
enum Membership {
    Outside,
    /// An autolocked manager after a restart: its keys are sealed until `swarm unlock` gives the unlock key.
    Locked {
        file: NodeFile,
    },
    Manager {
        manager: Arc<Manager>,
        agent: Option<Agent>,
        file: NodeFile,
        tls: TlsHandle,
    },
    Worker {
        agent: Option<Agent>,
        server: tokio::task::JoinHandle<()>,
        file: NodeFile,
        tls: TlsHandle,
    },
}

impl Membership {
    fn tls(&self) -> Option<&TlsHandle> {
        match self {
            Membership::Outside | Membership::Locked { .. } => None,
            Membership::Manager { tls, .. } | Membership::Worker { tls, .. } => Some(tls),
        }
    }
}

/// Keeps a worker's renewed certificate in the identity file of `data_dir` (a worker's keys are never sealed),
/// holding the daemon's `identity_file` lock.
fn worker_identity_keeper(
    data_dir: &std::path::Path,
    identity_file: Arc<std::sync::Mutex<()>>,
) -> crate::worker::cert_follow::KeepIdentity {
    let data_dir = data_dir.to_path_buf();
    crate::worker::cert_follow::KeepIdentity(Arc::new(move |identity: &NodeIdentity| {
        let _writing = identity_file.lock().expect("identity file lock");
        CertFiles::open(&data_dir).and_then(|files| files.save(identity, None)).map_err(|e| e.to_string())
    }))
}

/// A fresh key for this node, its signing request in PEM, and the key.
fn key_and_request() -> Result<(Vec<u8>, String), Refusal> {
    crate::manager::certificates::key_and_request().map_err(Refusal::internal)
}

/// Where the agents of this host mount their tmpfs of tasks' secret and config files, one directory per node id
/// (several daemons may share a host): outside the data directory, which is on disk and never holds a secret.
pub const TASK_FILES_ROOT: &str = "/run/swarm";

/// The directory node `node_id`'s agent mounts its tmpfs of task files at.
/// Node ids are Docker-style ids (the CA chose them); anything else is kept to a single safe path component.
pub fn task_files_dir(node_id: &str) -> PathBuf {
    let safe = !node_id.is_empty() && node_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let component = if safe { node_id.to_string() } else { format!("node-{:016x}", fnv64(node_id.as_bytes())) };
    Path::new(TASK_FILES_ROOT).join(component).join("task-files")
}

/// FNV-1a, 64 bits: a stable, path-safe name for an odd node id.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

pub struct Daemon {
    config: DaemonConfig,
    /// The data directory: the node record and Raft id (the Raft storage has a `Disk` of its own below it).
    data: FsDisk,
    membership: tokio::sync::Mutex<Membership>,
    /// The unlock key this manager's keys are sealed with on disk (`None`: autolock off, or a worker).
    unlock_key: std::sync::Mutex<Option<crate::tls::UnlockKey>>,
    /// Held by every writer of the identity file (renewals of either follower, role changes, `reseal`), so none
    /// writes between another's read of the unlock key and its write, nor puts back an identity another replaced.
    identity_file: Arc<std::sync::Mutex<()>>,
    /// The engine, once connected (shared by the agent and the node API).
    engine: tokio::sync::Mutex<Option<Arc<DockerExecutor>>>,
    /// The node's overlay data plane, once the agent started (`leave` removes what it made).
    data_plane: tokio::sync::Mutex<Option<Arc<HostDataPlane>>>,
}

impl Daemon {
    /// Opens the data directory and resumes the membership recorded there (starting Raft and the agent).
    pub async fn start(config: DaemonConfig) -> Result<Arc<Daemon>, DaemonError> {
        let data = FsDisk::open(config.data_dir.clone()).map_err(DaemonError::io(&config.data_dir))?;
        let daemon = Arc::new(Daemon {
            config,
            data,
            membership: tokio::sync::Mutex::new(Membership::Outside),
            unlock_key: std::sync::Mutex::new(None),
            identity_file: Arc::default(),
            engine: tokio::sync::Mutex::new(None),
            data_plane: tokio::sync::Mutex::new(None),
        });
        if let Some(file) = NodeFile::load(&daemon.data)? {
            let membership = if daemon.cert_files()?.is_locked()? {
                tracing::warn!("{}", autolock::LOCKED_MESSAGE);
                Membership::Locked { file }
            } else {
                daemon.resume(file).await?
            };
            *daemon.membership.lock().await = membership;
        }
        tokio::spawn(roles::role_watcher(Arc::downgrade(&daemon)));
        Ok(daemon)
    }

    /// Resumes the membership `file` records: the identity (renewed by a manager whose certificate expired while
    /// it was stopped), then Raft and the agent.
    async fn resume(self: &Arc<Self>, file: NodeFile) -> Result<Membership, DaemonError> {
        {
            let cert_files = self.cert_files()?;
            let (mut identity, ca) = cert_files.load()?;
            if wall_clock_now() >= identity.not_after() {
                match &ca {
                    // A manager holds the root CA: it certifies itself again rather than stay locked out.
                    Some(ca) => {
                        let key = fresh_key_pkcs8()?;
                        let node_id = identity.node_id().to_string();
                        let cluster_id = identity.cluster_id().to_string();
                        // The store is not open yet: the default validity; the next renewal follows `--cert-expiry`.
                        let validity = crate::tls::ca::NODE_CERT_VALIDITY;
                        identity =
                            ca.issue_identity(key, &node_id, identity.role(), &cluster_id, wall_clock_now(), validity)?;
                        cert_files.save(&identity, Some(ca))?;
                        tracing::warn!("this node's certificate had expired; it issued itself a new one");
                    }
                    None => tracing::error!(
                        "this node's certificate expired; the managers will refuse it: leave the swarm and join again"
                    ),
                }
            }
            let tls = TlsHandle::new(identity)?;
            match file.role {
                NodeRole::Manager => self.start_manager_node(file, tls, ca, None).await,
                NodeRole::Worker => self.start_worker_node(file, tls).await,
            }
        }
    }

    /// Stops the agent and Raft; containers keep running (a restarted daemon adopts them).
    pub async fn shutdown(&self) {
        let mut membership = self.membership.lock().await;
        match &mut *membership {
            Membership::Outside | Membership::Locked { .. } => {}
            Membership::Manager { manager, agent, .. } => {
                if let Some(agent) = agent.take() {
                    agent.shutdown();
                }
                manager.shutdown().await;
            }
            Membership::Worker { agent, server, .. } => {
                if let Some(agent) = agent.take() {
                    agent.shutdown();
                }
                server.abort();
            }
        }
        *membership = Membership::Outside;
        self.unmount_task_files().await;
    }

    /// No secret outlives the agent on this host: the tmpfs of task files goes (containers keep their files).
    async fn unmount_task_files(&self) {
        if let Some(engine) = self.engine.lock().await.as_ref() {
            engine.unmount_task_files();
        }
    }

    /// This node's TLS identity while it is in a swarm.
    pub async fn tls(&self) -> Option<TlsHandle> {
        self.membership.lock().await.tls().cloned()
    }

    pub async fn info(&self) -> InfoReply {
        let membership = self.membership.lock().await;
        match &*membership {
            Membership::Outside => InfoReply {
                role: LocalRole::None,
                node_id: String::new(),
                cluster_id: String::new(),
                advertise_addr: String::new(),
                managers: Vec::new(),
            },
            Membership::Locked { file } => InfoReply {
                role: LocalRole::Manager,
                node_id: file.node_id.clone(),
                cluster_id: file.cluster_id.clone(),
                advertise_addr: file.advertise_addr.clone(),
                managers: file.managers.clone(),
            },
            Membership::Manager { manager, file, .. } => InfoReply {
                role: LocalRole::Manager,
                node_id: file.node_id.clone(),
                cluster_id: file.cluster_id.clone(),
                advertise_addr: file.advertise_addr.clone(),
                managers: manager.status().voters.into_values().collect(),
            },
            Membership::Worker { file, .. } => InfoReply {
                role: LocalRole::Worker,
                node_id: file.node_id.clone(),
                cluster_id: file.cluster_id.clone(),
                advertise_addr: file.advertise_addr.clone(),
                managers: file.managers.clone(),
            },
        }
    }

    /// The manager this daemon runs, or Docker's refusal for a worker or a node outside any swarm.
    pub async fn manager(&self) -> Result<(Arc<Manager>, String), Refusal> {
        match &*self.membership.lock().await {
            Membership::Manager { manager, file, .. } => Ok((manager.clone(), file.node_id.clone())),
            Membership::Worker { .. } => Err(Refusal::unavailable(WORKER_CANNOT_MANAGE)),
            Membership::Outside => Err(Refusal::unavailable(NOT_IN_SWARM)),
            Membership::Locked { .. } => Err(Refusal::unavailable(autolock::LOCKED_MESSAGE)),
        }
    }

    /// The listen and advertise addresses for `init` (`remote`: `None`) or `join` (the manager to join): flags first,
    /// then the daemon's own; an unspecified listen IP is advertised as the address this host uses to reach
    /// `remote` (as Docker infers it on join), and `init` needs it spelled out.
    fn addresses(
        &self,
        listen: Option<&str>,
        advertise: Option<&str>,
        remote: Option<&str>,
    ) -> Result<(SocketAddr, String), Refusal> {
        let listen_addr = match listen {
            Some(text) => parse_listen_addr(text, self.config.listen_addr.port())
                .map_err(|e| Refusal::bad_request(format!("invalid --listen-addr {text:?}: {e}")))?,
            None => self.config.listen_addr,
        };
        let advertise_addr = match advertise.map(str::to_string).or_else(|| self.config.advertise_addr.clone()) {
            Some(text) if text.contains(':') => text,
            Some(host) => format!("{host}:{}", listen_addr.port()),
            None if listen_addr.ip().is_unspecified() => match remote.and_then(local_ip_towards) {
                Some(ip) => SocketAddr::new(ip, listen_addr.port()).to_string(),
                None => {
                    return Err(Refusal::bad_request(
                        "could not choose an IP address to advertise since this system has multiple addresses; \
                         specify one with --advertise-addr",
                    ))
                }
            },
            None => listen_addr.to_string(),
        };
        Ok((listen_addr, advertise_addr))
    }

    /// `swarm init`: a new cluster with this node as its only manager.
    pub async fn init(self: &Arc<Self>, request: InitRequest) -> Result<InitReply, Refusal> {
        let mut membership = self.membership.lock().await;
        if !matches!(*membership, Membership::Outside) {
            return Err(Refusal::conflict(ALREADY_IN_SWARM));
        }
        let (listen_addr, advertise_addr) =
            self.addresses(request.listen_addr.as_deref(), request.advertise_addr.as_deref(), None)?;
        let mut settings = ClusterSettings::default();
        let flags = SwarmUpdateRequest {
            task_history_limit: request.task_history_limit,
            dispatcher_heartbeat_ms: request.dispatcher_heartbeat_ms,
            cert_expiry_ms: request.cert_expiry_ms,
            snapshot_interval: None,
            autolock: None,
        };
        flags.change(&mut settings).map_err(Refusal::bad_request)?;
        address_pools(&request, &mut settings)?;
        let cluster_id = random_id();
        let node_id = random_id();
        // The cluster's root CA, and this first manager's certificate from it.
        let now = wall_clock_now();
        let ca = RootCa::create(&cluster_id, now, fresh_key_pkcs8().map_err(Refusal::internal)?)
            .map_err(Refusal::internal)?;
        let key = fresh_key_pkcs8().map_err(Refusal::internal)?;
        let identity = ca
            .issue_identity(
                key,
                &node_id,
                NodeRole::Manager,
                &cluster_id,
                now,
                self.config.node_cert_validity.unwrap_or(settings.node_cert_validity()),
            )
            .map_err(Refusal::internal)?;
        let ca = Arc::new(ca);
        let tls = TlsHandle::new(identity.clone()).map_err(Refusal::internal)?;
        let join_tokens = JoinTokens::from_parts(&ca.digest(), &random_id(), &random_id());
        let file = NodeFile {
            node_id,
            role: NodeRole::Manager,
            cluster_id: cluster_id.clone(),
            listen_addr,
            advertise_addr: advertise_addr.clone(),
            managers: vec![advertise_addr.clone()],
            availability: request.availability.unwrap_or_default(),
        };
        node_file::clear_raft_data(&self.data).map_err(Refusal::internal)?;
        // With `--autolock` the keys are sealed from the first write on.
        let unlock_key = request.autolock.then(crate::tls::UnlockKey::fresh);
        *self.unlock_key.lock().expect("unlock key mutex") = unlock_key.clone();
        let cert_files = self.cert_files().map_err(Refusal::internal)?;
        // A fresh identity: whatever an interrupted init or leave left behind (sealed with some other key, or with
        // another cluster's data key) is not kept.
        cert_files.remove_all().map_err(Refusal::internal)?;
        cert_files.save_all(&identity, Some(&ca), None).map_err(Refusal::internal)?;
        let manager = match self.open_manager(&file, &tls, Some(ca)).await {
            Ok(manager) => manager,
            Err(error) => {
                let _ = cert_files.remove_all();
                return Err(Refusal::internal(error));
            }
        };
        let result = async {
            manager.bootstrap().await.map_err(Refusal::internal)?;
            // The routing mesh's `ingress` network is born with the cluster, as in Docker.
            let mut commands = vec![
                Command::InitCluster { cluster_id, settings, join_tokens: join_tokens.clone() },
                Command::CreateNetwork { network_id: random_id(), spec: NetworkSpec::ingress() },
            ];
            if let Some(key) = &unlock_key {
                commands.push(Command::SetUnlockKey { key: key.text(), expected: String::new() });
            }
            let command = Command::Batch(commands);
            propose_until_leader(&manager, command, Duration::from_secs(30)).await?;
            file.save(&self.data).map_err(Refusal::internal)?;
            Ok::<_, Refusal>(())
        }
        .await;
        if let Err(refusal) = result {
            manager.shutdown().await;
            let _ = cert_files.remove_all();
            return Err(refusal);
        }
        let agent = self.start_agent(&file, Some(&manager), &tls).await;
        let node_id = file.node_id.clone();
        *membership = Membership::Manager { manager, agent, file, tls };
        tracing::info!(%node_id, addr = %advertise_addr, "swarm initialized");
        let unlock_key = unlock_key.map(|key| key.text());
        Ok(InitReply { node_id, worker_token: join_tokens.worker, join_addr: advertise_addr, unlock_key })
    }

    /// `swarm join`: presents the token to a manager; becomes a manager or a worker, as the token says.
    pub async fn join(self: &Arc<Self>, request: JoinRequest) -> Result<JoinReply, Refusal> {
        let mut membership = self.membership.lock().await;
        if !matches!(*membership, Membership::Outside) {
            return Err(Refusal::conflict(ALREADY_IN_SWARM));
        }
        if request.token.is_empty() {
            return Err(Refusal::bad_request("--token is required"));
        }
        let (listen_addr, advertise_addr) = self.addresses(
            request.listen_addr.as_deref(),
            request.advertise_addr.as_deref(),
            Some(&request.remote_addr),
        )?;
        // The token names the cluster's root CA: the manager must present a certificate of that root before this
        // node sends anything, the token included.
        let Some(digest) = crate::tls::token_digest(&request.token) else {
            return Err(Refusal::bad_request(crate::manager::api::INVALID_JOIN_TOKEN));
        };
        let joining = ClientTls::joining(digest).map_err(Refusal::internal)?;
        let (key, csr_pem) = key_and_request()?;
        let check = ClusterJoinRequest {
            token: request.token.clone(),
            raft_id: None,
            addr: advertise_addr.clone(),
            csr_pem: Some(csr_pem),
        };
        let reply: ClusterJoinReply = call_json(&request.remote_addr, PATH_JOIN, &check, &joining).await?;
        let Some(issued) = &reply.certificate else {
            return Err(Refusal::internal(format!("the manager at {} sent no certificate", request.remote_addr)));
        };
        let (identity, ca) = issued.identity(key, Some(digest)).map_err(|error| {
            Refusal::unavailable(format!("the manager at {} sent a bad certificate: {error}", request.remote_addr))
        })?;
        // The certificate says what this node is; a manager's comes with the root CA's key.
        let role = identity.role();
        if role == NodeRole::Manager && ca.is_none() {
            let message = format!("the manager at {} sent a manager certificate without the CA", request.remote_addr);
            return Err(Refusal::unavailable(message));
        }
        let tls = TlsHandle::new(identity.clone()).map_err(Refusal::internal)?;
        // Unsealed until the store's unlock key reaches this node (`follow_unlock_key`).
        *self.unlock_key.lock().expect("unlock key mutex") = None;
        let cert_files = self.cert_files().map_err(Refusal::internal)?;
        let mut file = NodeFile {
            node_id: identity.node_id().to_string(),
            role,
            cluster_id: identity.cluster_id().to_string(),
            listen_addr,
            advertise_addr: advertise_addr.clone(),
            managers: reply.managers.clone(),
            availability: request.availability.unwrap_or_default(),
        };
        node_file::clear_raft_data(&self.data).map_err(Refusal::internal)?;
        // A fresh identity, as for init: nothing an interrupted init or leave left behind is kept.
        cert_files.remove_all().map_err(Refusal::internal)?;
        cert_files.save_all(&identity, ca.as_deref(), None).map_err(Refusal::internal)?;
        // Whatever fails from here leaves the node outside the swarm, without the identity it was given.
        let forget = |refusal: Refusal| {
            let _ = cert_files.remove_all();
            let _ = NodeFile::remove(&self.data);
            refusal
        };
        let new_membership = match role {
            NodeRole::Worker => {
                file.save(&self.data).map_err(Refusal::internal).map_err(forget)?;
                self.start_worker_node(file.clone(), tls).await.map_err(Refusal::internal).map_err(forget)?
            }
            NodeRole::Manager => {
                let manager = self.open_manager(&file, &tls, ca).await.map_err(Refusal::internal).map_err(forget)?;
                let add = ClusterJoinRequest {
                    token: request.token.clone(),
                    raft_id: Some(manager.id()),
                    addr: advertise_addr.clone(),
                    csr_pem: None,
                };
                let as_manager = ClientTls::to_managers(&tls);
                let added = call_json::<_, ClusterJoinReply>(&request.remote_addr, PATH_JOIN, &add, &as_manager).await;
                if let Err(refusal) = added {
                    manager.shutdown().await;
                    return Err(forget(refusal));
                }
                file.managers = manager.status().voters.into_values().collect();
                if let Err(error) = file.save(&self.data) {
                    manager.shutdown().await;
                    return Err(forget(Refusal::internal(error)));
                }
                let agent = self.start_agent(&file, Some(&manager), &tls).await;
                Membership::Manager { manager, agent, file: file.clone(), tls }
            }
        };
        *membership = new_membership;
        tracing::info!(node_id = %file.node_id, ?role, via = %request.remote_addr, "joined the swarm");
        Ok(JoinReply { role, node_id: file.node_id })
    }

    /// `swarm leave [--force]`.
    pub async fn leave(&self, request: LeaveRequest) -> Result<(), Refusal> {
        let mut membership = self.membership.lock().await;
        match &mut *membership {
            Membership::Outside => return Err(Refusal::unavailable("This node is not part of a swarm")),
            // A locked manager cannot reach its Raft data; it may only give up its place.
            Membership::Locked { .. } if !request.force => {
                return Err(Refusal::unavailable(autolock::LOCKED_LEAVE_MESSAGE));
            }
            Membership::Locked { file } => {
                // Never connected while locked: connected now, so the node's containers and task files go as in
                // any leave.
                match DockerExecutor::connect(&file.node_id, &file.cluster_id).await {
                    Ok(engine) => {
                        let engine = engine.with_task_files(task_files_dir(&file.node_id));
                        *self.engine.lock().await = Some(Arc::new(engine));
                    }
                    Err(error) => tracing::warn!(%error, "no container engine: this node's containers stay"),
                }
            }
            Membership::Worker { agent, server, .. } => {
                if let Some(agent) = agent.take() {
                    agent.shutdown();
                }
                server.abort();
            }
            Membership::Manager { manager, agent, .. } => {
                let status = manager.status();
                let voters = status.voters.len();
                let reachable = self.reachable_managers(manager).await;
                let remaining_reachable = reachable.saturating_sub(1);
                let quorum_after = (voters - 1) / 2 + 1;
                if !request.force {
                    if voters <= 1 {
                        return Err(Refusal::bad_request(
                            "You are attempting to leave the swarm on a node that is participating as a manager. \
                             Removing the last manager erases all current state of the swarm. Use `--force` to \
                             ignore this message.",
                        ));
                    }
                    if remaining_reachable < quorum_after {
                        return Err(Refusal::bad_request(format!(
                            "You are attempting to leave the swarm on a node that is participating as a manager. \
                             Removing this node leaves {} managers out of a total of {} without a Raft quorum. \
                             The only way to restore a swarm that has lost consensus is to reinitialize it. \
                             Use `--force` to suppress this message.",
                            remaining_reachable,
                            voters - 1
                        )));
                    }
                }
                if voters > 1 {
                    let removal = manager.remove_manager(manager.id());
                    match tokio::time::timeout(Duration::from_secs(10), removal).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) if !request.force => return Err(Refusal::unavailable(error)),
                        Err(_) if !request.force => {
                            return Err(Refusal::unavailable("timed out removing this manager from the swarm"))
                        }
                        _ => tracing::warn!("leaving without removing this manager from the Raft membership"),
                    }
                }
                if let Some(agent) = agent.take() {
                    agent.shutdown();
                }
                manager.shutdown().await;
            }
        }
        *membership = Membership::Outside;
        self.remove_own_containers().await;
        // As Docker's leave does: this node's overlay networks and devices go with its containers.
        if let Some(data_plane) = self.data_plane.lock().await.take() {
            if let Err(error) = data_plane.remove_all().await {
                tracing::warn!(%error, "cannot remove this node's overlay networks");
            }
        }
        // The identity first: a crash after it leaves a node file whose start fails naming the missing identity,
        // never an identity that blocks the next init or join.
        CertFiles::open(&self.config.data_dir).and_then(|files| files.remove_all()).map_err(Refusal::internal)?;
        *self.unlock_key.lock().expect("unlock key mutex") = None;
        NodeFile::remove(&self.data).map_err(Refusal::internal)?;
        node_file::clear_raft_data(&self.data).map_err(Refusal::internal)?;
        tracing::info!("left the swarm");
        Ok(())
    }

    /// A node that left runs nothing of the swarm: as Docker's `swarm leave` does, every container labelled with this
    /// node's id is removed by force (killed, not stopped: the node is gone, nothing waits for a graceful end),
    /// all at once, before the node's state is deleted. Failures are logged (Docker: "error removing ..."). A
    /// second pass catches a container whose create was in flight when the agent stopped.
    async fn remove_own_containers(&self) {
        let Some(engine) = self.engine.lock().await.take() else { return };
        for _pass in 0..2 {
            let found = match engine.list().await {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(%error, "cannot list this node's containers");
                    break;
                }
            };
            if found.is_empty() {
                break;
            }
            let removals = found.iter().map(|container| {
                let engine = engine.clone();
                async move {
                    if let Err(error) = engine.force_remove(&container.container_id).await {
                        tracing::warn!(container = %container.container_id, %error, "error removing a container");
                    }
                }
            });
            futures::future::join_all(removals).await;
        }
        engine.remove_task_files();
    }

    /// Managers whose nodes are up (this one included), as the leader's view says; all voters if unknown.
    async fn reachable_managers(&self, manager: &Manager) -> usize {
        match manager.leader_view().await {
            Ok(view) => view
                .nodes
                .iter()
                .filter(|n| n.manager_status.as_ref().is_some_and(|m| m.reachability == Reachability::Reachable))
                .count(),
            Err(_) => 1,
        }
    }

    /// `swarm join-token [--rotate] ROLE`.
    pub async fn join_token(&self, request: JoinTokenRequest) -> Result<JoinTokenReply, Refusal> {
        let (manager, _) = self.manager().await?;
        let join_addr = manager.advertise_addr().to_string();
        let current = manager.read(|store| store.cluster().map(|c| c.join_tokens.for_role(request.role).to_string()));
        let Some(current) = current else { return Err(Refusal::unavailable(NOT_IN_SWARM)) };
        if !request.rotate {
            return Ok(JoinTokenReply { token: current, join_addr });
        }
        let digest = current
            .strip_prefix("SWMTKN-1-")
            .and_then(|rest| rest.rsplit_once('-'))
            .map(|(digest, _)| digest.to_string())
            .unwrap_or_else(|| format!("{}{}", random_id(), random_id()));
        let token = swarm_core::model::join_token(&digest, &random_id());
        propose(&manager, Command::RotateJoinToken { role: request.role, token: token.clone() }).await?;
        Ok(JoinTokenReply { token, join_addr })
    }

    /// Keeps a certificate the manager issued itself, with the root CA it holds, in the identity file (sealed with
    /// the unlock key in force).
    fn identity_keeper(self: &Arc<Self>) -> crate::manager::own_certificate::KeepIdentity {
        let daemon = Arc::downgrade(self);
        Arc::new(move |identity: &NodeIdentity, root: &RootCa| {
            let daemon = daemon.upgrade().ok_or_else(|| "the daemon stopped".to_string())?;
            daemon.save_identity(identity, Some(root)).map_err(|e| e.to_string())
        })
    }

    async fn open_manager(
        self: &Arc<Self>,
        file: &NodeFile,
        tls: &TlsHandle,
        ca: Option<Arc<RootCa>>,
    ) -> Result<Arc<Manager>, DaemonError> {
        let raft_id = node_file::raft_id(&self.data)?;
        let raft_dir = self.config.data_dir.join(node_file::RAFT_DIR);
        let disk = FsDisk::open(raft_dir.clone()).map_err(DaemonError::io(&raft_dir))?;
        let config = ManagerConfig {
            node_id: raft_id,
            listen_addr: file.listen_addr,
            advertise_addr: file.advertise_addr.clone(),
            raft: self.config.raft.clone(),
            node_api: Some(node_api::handler(self.engine_handle())),
            tls: Some(tls.clone()),
            ca,
            data_key: Some(self.data_key()?),
            node_cert_validity: self.config.node_cert_validity,
            keep_identity: Some(self.identity_keeper()),
        };
        let manager = Manager::start(config, Arc::new(disk), None).await.map_err(Box::new)?;
        tracing::info!(raft_id, listen = %file.listen_addr, advertise = %file.advertise_addr, "manager started");
        Ok(manager)
    }

    async fn start_manager_node(
        self: &Arc<Self>,
        file: NodeFile,
        tls: TlsHandle,
        ca: Option<Arc<RootCa>>,
        manager: Option<Arc<Manager>>,
    ) -> Result<Membership, DaemonError> {
        let manager = match manager {
            Some(manager) => manager,
            None => self.open_manager(&file, &tls, ca).await?,
        };
        let agent = self.start_agent(&file, Some(&manager), &tls).await;
        Ok(Membership::Manager { manager, agent, file, tls })
    }

    async fn start_worker_node(self: &Arc<Self>, file: NodeFile, tls: TlsHandle) -> Result<Membership, DaemonError> {
        let listener = tokio::net::TcpListener::bind(file.listen_addr)
            .await
            .map_err(|source| DaemonError::Listen { addr: file.listen_addr, source })?;
        let handler = node_api::handler(self.engine_handle());
        let server = tokio::spawn(crate::http::serve(listener, handler, Some(tls.clone())));
        let agent = self.start_agent(&file, None, &tls).await;
        Ok(Membership::Worker { agent, server, file, tls })
    }

    /// The shared slot the node API reads the engine from.
    fn engine_handle(self: &Arc<Self>) -> node_api::EngineHandle {
        let weak = Arc::downgrade(self);
        Arc::new(move || {
            let weak = weak.clone();
            Box::pin(async move {
                match weak.upgrade() {
                    Some(daemon) => daemon.engine.lock().await.clone(),
                    None => None,
                }
            })
        })
    }

    /// Starts this node's agent on the local Docker Engine; without an engine the node runs no tasks (logged).
    async fn start_agent(&self, file: &NodeFile, manager: Option<&Arc<Manager>>, tls: &TlsHandle) -> Option<Agent> {
        let engine = match DockerExecutor::connect(&file.node_id, &file.cluster_id).await {
            Ok(engine) => Arc::new(engine.with_task_files(task_files_dir(&file.node_id))),
            Err(error) => {
                tracing::error!(%error, "no container engine: this node will not run tasks");
                return None;
            }
        };
        *self.engine.lock().await = Some(engine.clone());
        let description = self.description(&engine).await;
        let managers = match manager {
            Some(manager) => vec![manager.advertise_addr().to_string()],
            None => file.managers.clone(),
        };
        let config = AgentConfig {
            node_id: file.node_id.clone(),
            cluster_id: file.cluster_id.clone(),
            managers,
            description,
            addr: file.advertise_addr.clone(),
            role: file.role,
            availability: file.availability,
            manager: manager.map(|m| ManagerStatus {
                raft_id: m.id(),
                addr: m.advertise_addr().to_string(),
                leader: false,
                reachability: Reachability::Reachable,
            }),
            tunnel_key_rotation: self.config.tunnel_key_rotation,
            tls: Some(tls.clone()),
            keep_identity: Some(worker_identity_keeper(&self.config.data_dir, self.identity_file.clone())),
        };
        let data_plane = Arc::new(host_data_plane(&file.advertise_addr, &file.node_id, self.config.tunnel_port).await);
        *self.data_plane.lock().await = Some(data_plane.clone());
        Some(Agent::start(config, engine, data_plane))
    }

    async fn description(&self, engine: &DockerExecutor) -> NodeDescription {
        let hostname = self.config.hostname.clone().unwrap_or_else(host_name);
        let nano_cpus = std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1) * 1_000_000_000;
        NodeDescription {
            hostname,
            platform: Platform { os: std::env::consts::OS.to_string(), architecture: std::env::consts::ARCH.into() },
            resources: Resources { nano_cpus, memory_bytes: total_memory_bytes() },
            engine: swarm_core::EngineDescription {
                engine_version: engine.engine_version().await,
                ..Default::default()
            },
        }
    }
}

/// POSTs `body` as JSON to a manager's cluster API at `addr` over TLS as `tls` says, and decodes the JSON answer;
/// the manager's own refusal keeps its status and message, anything else is "unavailable" naming the address.
async fn call_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    addr: &str,
    path: &str,
    body: &B,
    tls: &ClientTls,
) -> Result<T, Refusal> {
    let body = serde_json::to_vec(body).expect("JSON encoding of a cluster request");
    match HttpClient::tls(addr, tls.clone()).post(path, body, Duration::from_secs(90)).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Refusal::internal(format!("malformed answer from {addr} for {path}: {e}"))),
        Err(CallError::Status { status, message, .. }) => Err(Refusal { status, message }),
        Err(error) => Err(Refusal::unavailable(format!("cannot reach the manager at {addr}: {error}"))),
    }
}

/// Proposes `command` through `manager` (forwarded to the leader) and maps every failure to a refusal. A leader
/// that lost its quorum refuses at once, in Docker's words, rather than after the proposal timeout.
pub async fn propose(manager: &Manager, command: Command) -> Result<swarm_core::store::Outcome, Refusal> {
    manager.confirm_leadership().await.map_err(Refusal::from_propose)?;
    let committed = manager.propose(Proposal::new(wall_clock_now(), command)).await.map_err(Refusal::from_propose)?;
    committed.response.map_err(Refusal::from_rejection)
}

/// Proposes until a leader takes it (a freshly bootstrapped manager needs a moment to elect itself).
async fn propose_until_leader(manager: &Manager, command: Command, patience: Duration) -> Result<(), Refusal> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match manager.propose(Proposal::new(wall_clock_now(), command.clone())).await {
            Ok(committed) => return committed.response.map(|_| ()).map_err(Refusal::from_rejection),
            Err(error) if tokio::time::Instant::now() >= deadline => return Err(Refusal::from_propose(error)),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Why a `--listen-addr` is not one.
#[derive(Debug, thiserror::Error)]
enum ListenAddrError {
    #[error("bad port: {0}")]
    Port(std::num::ParseIntError),
    #[error("not an IP address or IP:port ({0})")]
    Ip(std::net::AddrParseError),
}

/// `--listen-addr` as Docker takes it: `host:port`, `host` (port defaults), or `:port`.
fn parse_listen_addr(text: &str, default_port: u16) -> Result<SocketAddr, ListenAddrError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = text.strip_prefix(':') {
        let port: u16 = port.parse().map_err(ListenAddrError::Port)?;
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    let ip: std::net::IpAddr = text.parse().map_err(ListenAddrError::Ip)?;
    Ok(SocketAddr::new(ip, default_port))
}

/// The local IP this host sends from to reach `remote` (`host:port`): a connected UDP socket sends nothing but
/// picks the route.
fn local_ip_towards(remote: &str) -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect(remote).ok()?;
    socket.local_addr().ok().map(|addr| addr.ip()).filter(|ip| !ip.is_unspecified())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn total_memory_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::parse_listen_addr;

    #[test]
    fn listen_addresses_take_dockers_forms() {
        let cases = [("127.0.0.2:2400", "127.0.0.2:2400"), ("127.0.0.2", "127.0.0.2:2377"), (":2500", "0.0.0.0:2500")];
        for (text, want) in cases {
            assert_eq!(parse_listen_addr(text, 2377).map(|a| a.to_string()).ok().as_deref(), Some(want), "{text}");
        }
        assert!(parse_listen_addr("eth0", 2377).is_err());
        assert!(parse_listen_addr(":http", 2377).is_err());
    }

    #[test]
    fn the_advertised_ip_is_the_one_that_reaches_the_manager() {
        assert_eq!(super::local_ip_towards("127.0.0.7:2377"), Some("127.0.0.1".parse().unwrap()));
    }
}
