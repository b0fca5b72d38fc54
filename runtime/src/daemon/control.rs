//! The control API server: HTTP/1.1 with JSON bodies on the daemon's unix socket (mode 0660, like Docker's), routed
//! to the `Daemon`. Reads answer from the leader's view; writes become proposals through the local manager
//! (forwarded to the leader). Invariant: every request gets an answer — a malformed body is a 400 naming the
//! endpoint, a missing leader is a prompt 503 in Docker's words — and nothing a client sends can panic the daemon.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;
use swarm_core::{Command, ConfigSpec, NodeRole, NodeState, Outcome, SecretSpec, FILE_DATA_MAX};

use super::errors::{DaemonError, Refusal};
use super::node_api::{self, NodeLogsRequest};
use super::{propose, Daemon};
use crate::control::api::*;
use crate::control::view::ClusterView;
use crate::http::{Handler, Reply};
use crate::ids::random_id;

impl Daemon {
    /// Serves the control API on the unix socket until the future ends (it never does on its own).
    pub async fn serve_control(self: &Arc<Self>) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
        serve(self.clone()).await
    }
}

async fn serve(daemon: Arc<Daemon>) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    let path = daemon.config.control_socket.clone();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(DaemonError::io(dir))?;
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(&path).await.is_ok() {
            return Err(DaemonError::ControlSocketInUse(path));
        }
        std::fs::remove_file(&path).map_err(DaemonError::io(&path))?;
    }
    let listener = tokio::net::UnixListener::bind(&path)
        .map_err(|source| DaemonError::ControlSocket { path: path.clone(), source })?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660)).map_err(DaemonError::io(&path))?;
    tracing::info!(socket = %path.display(), "control API listening");
    let weak = Arc::downgrade(&daemon);
    // Only this node's operator reaches the socket (mode 0660): every caller here is `Caller::Local`.
    let handler: Handler = Arc::new(move |_caller, method, path, body| {
        let weak = weak.clone();
        Box::pin(async move {
            match weak.upgrade() {
                Some(daemon) => route(&daemon, method, &path, body).await,
                None => Reply::error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is shutting down"),
            }
        })
    });
    Ok(tokio::spawn(crate::http::serve_unix(listener, handler)))
}

async fn route(daemon: &Arc<Daemon>, method: Method, path: &str, body: Bytes) -> Reply {
    let result = match (method, path) {
        (Method::GET, PATH_INFO) => Ok(json(&daemon.info().await)),
        // The local manager's Raft status and store, for `swarm status` and the tests (the cluster port takes
        // only mutual TLS).
        (Method::GET, crate::manager::api::PATH_STATUS) => daemon.manager().await.map(|(m, _)| json(&m.status())),
        (Method::GET, crate::manager::api::PATH_STORE) => daemon.manager().await.map(|(m, _)| json(&m.store_json())),
        (Method::POST, PATH_INIT) => match parse::<InitRequest>(path, &body) {
            Ok(request) => daemon.init(request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_JOIN) => match parse::<JoinRequest>(path, &body) {
            Ok(request) => daemon.join(request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_LEAVE) => match parse::<LeaveRequest>(path, &body) {
            Ok(request) => daemon.leave(request).await.map(|()| json(&serde_json::json!({}))),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_JOIN_TOKEN) => match parse::<JoinTokenRequest>(path, &body) {
            Ok(request) => daemon.join_token(request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::GET, PATH_VIEW) => view(daemon).await.map(|v| json(&v)),
        (Method::POST, PATH_SERVICE_CREATE) => match parse::<ServiceCreateRequest>(path, &body) {
            Ok(request) => service_create(daemon, request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SERVICE_UPDATE) => match parse::<ServiceUpdateRequest>(path, &body) {
            Ok(request) => service_update(daemon, request).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SERVICE_ROLLBACK) => match parse::<ServiceRollbackRequest>(path, &body) {
            Ok(r) => write(daemon, Command::RollbackService { id: r.id, version: r.version }).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SERVICE_REMOVE) => match parse::<ObjectRequest>(path, &body) {
            Ok(r) => write(daemon, Command::RemoveService { id: r.id }).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_NETWORK_CREATE) => match parse::<NetworkCreateRequest>(path, &body) {
            Ok(request) => network_create(daemon, request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_NETWORK_REMOVE) => match parse::<ObjectRequest>(path, &body) {
            Ok(r) => write(daemon, Command::RemoveNetwork { id: r.id }).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_NODE_UPDATE) => match parse::<NodeUpdateRequest>(path, &body) {
            Ok(request) => node_update(daemon, request).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_NODE_REMOVE) => match parse::<NodeRemoveRequest>(path, &body) {
            Ok(request) => node_remove(daemon, request).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SERVICE_LOGS) => match parse::<LogsRequest>(path, &body) {
            Ok(request) => service_logs(daemon, request).await.map(|lines| json(&lines)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SWARM_UNLOCK) => match parse::<UnlockRequest>(path, &body) {
            Ok(request) => daemon.unlock(request).await.map(|()| json(&serde_json::json!({}))),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SWARM_UNLOCK_KEY) => match parse::<UnlockKeyRequest>(path, &body) {
            Ok(request) => daemon.unlock_key(request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SWARM_CA) => match parse::<CaRequest>(path, &body) {
            Ok(request) => swarm_ca(daemon, request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SWARM_UPDATE) => match parse::<SwarmUpdateRequest>(path, &body) {
            Ok(request) => swarm_update(daemon, request).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SECRET_CREATE) => match parse::<FileObjectCreateRequest>(path, &body) {
            Ok(request) => secret_create(daemon, request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_SECRET_REMOVE) => match parse::<ObjectRequest>(path, &body) {
            Ok(r) => write(daemon, Command::RemoveSecret { id: r.id }).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_CONFIG_CREATE) => match parse::<FileObjectCreateRequest>(path, &body) {
            Ok(request) => config_create(daemon, request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_CONFIG_REMOVE) => match parse::<ObjectRequest>(path, &body) {
            Ok(r) => write(daemon, Command::RemoveConfig { id: r.id }).await,
            Err(refusal) => Err(refusal),
        },
        (Method::POST, PATH_CONFIG_INSPECT) => match parse::<ObjectRequest>(path, &body) {
            Ok(request) => config_inspect(daemon, request).await.map(|r| json(&r)),
            Err(refusal) => Err(refusal),
        },
        (_, path) => Err(Refusal::not_found(format!("no such endpoint: {path}"))),
    };
    match result {
        Ok(reply) => reply,
        Err(refusal) => Reply::error(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            refusal.message,
        ),
    }
}

fn parse<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::bad_request(format!("malformed request body for {path}: {e}")))
}

fn json(value: &impl serde::Serialize) -> Reply {
    Reply::json(StatusCode::OK, value)
}

/// The leader's view, with this node marked as "this" node.
async fn view(daemon: &Daemon) -> Result<ClusterView, Refusal> {
    let (manager, node_id) = daemon.manager().await?;
    let mut view = manager.leader_view().await.map_err(Refusal::unavailable)?;
    view.this_node_id = node_id;
    Ok(view)
}

async fn write(daemon: &Daemon, command: Command) -> Result<Reply, Refusal> {
    let (manager, _) = daemon.manager().await?;
    let outcome = propose(&manager, command).await?;
    Ok(json(&outcome_json(&outcome)))
}

fn outcome_json(outcome: &Outcome) -> serde_json::Value {
    serde_json::json!({ "outcome": format!("{outcome:?}") })
}

/// `service create`. A spec without a name gets a generated one (`brave_noether`), as Docker Swarm gives it; the
/// secrets and configs it names get their ids.
async fn service_create(daemon: &Daemon, request: ServiceCreateRequest) -> Result<ServiceCreateReply, Refusal> {
    let mut spec = request.spec;
    let (manager, _) = daemon.manager().await?;
    manager.read(|store| store.resolve_file_references(&mut spec)).map_err(|e| Refusal::not_found(e.to_string()))?;
    if spec.name.is_empty() {
        let taken = |name: &str| manager.read(|store| store.service_by_name(name).is_some());
        spec.name = super::names::unused_service_name(taken)
            .ok_or_else(|| Refusal::unavailable("cannot find an unused service name; name the service with --name"))?;
    }
    spec.validate().map_err(|e| Refusal::bad_request(e.to_string()))?;
    let id = random_id();
    propose(&manager, Command::CreateService { service_id: id.clone(), spec }).await?;
    Ok(ServiceCreateReply { id })
}

/// `swarm update`: the leader's settings, changed as asked, based on the cluster's version (a concurrent change
/// fails "out of sequence"); `--autolock` makes or drops the unlock key in the same proposal.
async fn swarm_update(daemon: &Daemon, request: SwarmUpdateRequest) -> Result<Reply, Refusal> {
    let view = view(daemon).await?;
    let cluster = view.cluster.ok_or_else(|| Refusal::unavailable(NOT_IN_SWARM))?;
    let mut settings = cluster.settings.clone();
    request.change(&mut settings).map_err(Refusal::bad_request)?;
    let mut commands = Vec::new();
    if settings != cluster.settings {
        commands.push(Command::UpdateClusterSettings { version: cluster.version, settings });
    }
    let (autolock, unlock_key) = match request.autolock {
        Some(autolock) => {
            let (manager, _) = daemon.manager().await?;
            let current = manager.read(|store| store.cluster().map(|c| c.unlock_key.clone())).unwrap_or_default();
            Daemon::autolock_commands(&current, autolock)
        }
        None => (Vec::new(), None),
    };
    let changes_lock = !autolock.is_empty();
    commands.extend(autolock);
    if !commands.is_empty() {
        write(daemon, Command::Batch(commands)).await?;
    }
    if changes_lock {
        // This manager's keys follow before the answer; the other managers within a role-watcher tick.
        let sealing = unlock_key.as_deref().and_then(crate::tls::UnlockKey::parse);
        daemon.reseal(sealing).await.map_err(Refusal::internal)?;
    }
    Ok(json(&SwarmUpdateReply { unlock_key }))
}

/// `swarm ca [--rotate]`: starts a rotation if asked, then answers the desired root and the nodes' progress
/// towards it, from this manager's store.
async fn swarm_ca(daemon: &Daemon, request: CaRequest) -> Result<CaReply, Refusal> {
    let (manager, _) = daemon.manager().await?;
    if request.rotate {
        let digest = manager.start_ca_rotation().await.map_err(Refusal::bad_request)?;
        // Proposed through the leader: this manager answers once its own store shows the rotation.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !manager.read(|store| {
            store.cluster().is_some_and(|c| {
                c.ca.rotation.as_ref().is_some_and(|r| r.new_root_digest == digest) || c.ca.root_digest == digest
            })
        }) {
            if tokio::time::Instant::now() >= deadline {
                return Err(Refusal::unavailable("the rotation started, but this manager has not applied it yet"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let ca = manager.cluster_ca();
    let roots = manager.held_roots().ok_or_else(|| Refusal::unavailable("this manager holds no root CA"))?;
    let root = match &ca.rotation {
        Some(_) => roots.issuing(&ca),
        None => roots.current(&ca),
    }
    .map_err(Refusal::internal)?;
    let progress = manager.read(|store| ca.progress(&root.digest(), store.nodes()));
    let sha256 = ring::digest::digest(&ring::digest::SHA256, root.cert_der());
    Ok(CaReply {
        root_pem: crate::tls::identity::certificate_pem(root.cert_der()),
        root_sha256: sha256.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        rotating: ca.rotation.is_some(),
        progress,
    })
}

/// `service update`: the secrets and configs the new spec names get their ids.
async fn service_update(daemon: &Daemon, request: ServiceUpdateRequest) -> Result<Reply, Refusal> {
    let ServiceUpdateRequest { id, version, mut spec } = request;
    let (manager, _) = daemon.manager().await?;
    manager.read(|store| store.resolve_file_references(&mut spec)).map_err(|e| Refusal::not_found(e.to_string()))?;
    write(daemon, Command::UpdateService { id, version, spec }).await
}

/// `secret create`: the value is sealed here, on a manager, before it is proposed; neither the Raft log nor an
/// error message ever holds it.
async fn secret_create(daemon: &Daemon, request: FileObjectCreateRequest) -> Result<FileObjectCreateReply, Refusal> {
    check_file_data("secret", &request.data)?;
    let (manager, _) = daemon.manager().await?;
    let key = crate::propose::LeaderHandle::sealing_keys(manager.as_ref())
        .ok_or_else(|| Refusal::unavailable("this manager holds no key to seal secrets with"))?;
    let id = random_id();
    let sealed = key.seal(&id, &request.data);
    let spec = SecretSpec { name: request.name, labels: request.labels };
    propose(&manager, Command::CreateSecret { secret_id: id.clone(), spec, sealed }).await?;
    Ok(FileObjectCreateReply { id })
}

async fn config_create(daemon: &Daemon, request: FileObjectCreateRequest) -> Result<FileObjectCreateReply, Refusal> {
    check_file_data("config", &request.data)?;
    let (manager, _) = daemon.manager().await?;
    let id = random_id();
    let spec = ConfigSpec { name: request.name, labels: request.labels, data: request.data };
    propose(&manager, Command::CreateConfig { config_id: id.clone(), spec }).await?;
    Ok(FileObjectCreateReply { id })
}

/// SwarmKit's check of a secret's or config's size, before anything is sealed or proposed.
fn check_file_data(kind: &str, data: &[u8]) -> Result<(), Refusal> {
    if data.is_empty() || data.len() > FILE_DATA_MAX {
        return Err(Refusal::bad_request(format!(
            "rpc error: code = InvalidArgument desc = {kind} data must be larger than 0 and less than \
             {FILE_DATA_MAX} bytes (this one has {} bytes)",
            data.len()
        )));
    }
    Ok(())
}

/// `config inspect`: the config with its value. Values are immutable, so this manager's store answers once it has
/// applied the config (the leader's view says it exists; a follower may be a moment behind).
async fn config_inspect(daemon: &Daemon, request: ObjectRequest) -> Result<ConfigInspectReply, Refusal> {
    let (manager, _) = daemon.manager().await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let found = manager.read(|store| {
            store.config(&request.id).map(|config| ConfigInspectReply {
                id: config.id.clone(),
                version: config.version,
                created_at: config.created_at,
                updated_at: config.updated_at,
                name: config.spec.name.clone(),
                labels: config.spec.labels.clone(),
                data: config.spec.data.clone(),
            })
        });
        if let Some(reply) = found {
            return Ok(reply);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Refusal::not_found(format!("no such config: {}", request.id)));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `network create`: checks the driver options (before proposing: entries already in the log keep applying as the
/// build that wrote them applied them), draws the id; the store checks the rest of the spec and chooses the subnet
/// and VXLAN id.
async fn network_create(daemon: &Daemon, request: NetworkCreateRequest) -> Result<NetworkCreateReply, Refusal> {
    request.spec.check_driver_options().map_err(Refusal::bad_request)?;
    let (manager, _) = daemon.manager().await?;
    let id = random_id();
    propose(&manager, Command::CreateNetwork { network_id: id.clone(), spec: request.spec }).await?;
    Ok(NetworkCreateReply { id })
}

/// `node update`, `node promote`, `node demote`. A demotion takes the node out of the Raft voters here (the
/// node notices and carries on as a worker); a promotion only records the wish, and the node adds itself
/// (`daemon::role_watcher`). Docker refuses to demote the last manager.
async fn node_update(daemon: &Daemon, request: NodeUpdateRequest) -> Result<Reply, Refusal> {
    let view = view(daemon).await?;
    let Some(node) = view.nodes.iter().find(|n| n.id == request.id) else {
        return Err(Refusal::not_found(format!("node {} not found", request.id)));
    };
    let demotion = node.spec.role == NodeRole::Manager && request.spec.role == NodeRole::Worker;
    if demotion && view.nodes.iter().filter(|n| n.spec.role == NodeRole::Manager).count() <= 1 {
        return Err(Refusal::bad_request(
            "rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm",
        ));
    }
    let reply =
        write(daemon, Command::UpdateNode { id: request.id, version: request.version, spec: request.spec }).await?;
    if demotion {
        if let Some(status) = &node.manager_status {
            let (manager, _) = daemon.manager().await?;
            manager.remove_manager(status.raft_id).await.map_err(Refusal::unavailable)?;
            write(daemon, Command::SetManagerStatus { id: node.id.clone(), manager_status: None }).await?;
        }
    }
    Ok(reply)
}

/// `node rm [--force]`: Docker refuses a node that is not down (unless forced) and a manager that is still a
/// Raft member; the node's tasks go with it (the orchestrators replace them elsewhere).
async fn node_remove(daemon: &Daemon, request: NodeRemoveRequest) -> Result<Reply, Refusal> {
    let view = view(daemon).await?;
    let Some(node) = view.nodes.iter().find(|n| n.id == request.id) else {
        return Err(Refusal::not_found(format!("node {} not found", request.id)));
    };
    if node.spec.role == NodeRole::Manager || node.manager_status.is_some() {
        return Err(Refusal::bad_request(format!(
            "rpc error: code = FailedPrecondition desc = node {} is a cluster manager and is a member of the raft \
             cluster. It must be demoted to worker before removal",
            node.id
        )));
    }
    if node.status.state != NodeState::Down && !request.force {
        return Err(Refusal::bad_request(format!(
            "rpc error: code = FailedPrecondition desc = node {} is not down and can't be removed",
            node.id
        )));
    }
    let task_ids: Vec<String> =
        view.tasks.iter().filter(|t| t.node_id.as_deref() == Some(node.id.as_str())).map(|t| t.id.clone()).collect();
    let mut commands = Vec::new();
    if !task_ids.is_empty() {
        commands.push(Command::RemoveTasks { ids: task_ids });
    }
    commands.push(Command::RemoveNode { id: node.id.clone() });
    write(daemon, Command::Batch(commands)).await
}

/// `service logs`: asks every node running a task of the service for its containers' lines, then merges them
/// in time order.
async fn service_logs(daemon: &Daemon, request: LogsRequest) -> Result<Vec<LogLine>, Refusal> {
    let view = view(daemon).await?;
    if !view.services.iter().any(|s| s.id == request.service_id) {
        return Err(Refusal::not_found(format!("no such service: {}", request.service_id)));
    }
    let mut by_node: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for task in view.tasks.iter().filter(|t| t.service_id == request.service_id) {
        if let (Some(node_id), Some(container_id)) = (&task.node_id, &task.status.container_id) {
            by_node.entry(node_id.clone()).or_default().push((task.id.clone(), container_id.clone()));
        }
    }
    let mut lines = Vec::new();
    for (node_id, containers) in by_node {
        let Some(addr) = view.nodes.iter().find(|n| n.id == node_id).map(|n| n.status.addr.clone()) else {
            continue;
        };
        let ask = NodeLogsRequest { containers, tail: request.tail, since: request.since.clone() };
        let Some(tls) = daemon.tls().await else { break };
        match node_api::fetch(&addr, &node_id, &tls, &ask).await {
            Ok(mut node_lines) => lines.append(&mut node_lines),
            Err(error) => tracing::warn!(%node_id, %addr, %error, "cannot gather logs from node"),
        }
    }
    lines.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
    Ok(lines)
}
