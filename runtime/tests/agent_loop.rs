//! The whole control loop in one process, on real tokio and loopback TCP: a manager leads, agents open
//! dispatcher sessions, the leader's manager loop creates and schedules tasks, agents drive an in-memory
//! executor and report, and the store converges. Also: an agent that stops heartbeating is marked down and its
//! tasks move; an agent restarted over the same executor adopts its containers instead of starting new ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use swarm_runtime::tls::keys::fresh_key_pkcs8;
use swarm_runtime::tls::{RootCa, TlsHandle};

use swarm_core::{
    ClusterSettings, Command, NodeDescription, NodeRole, NodeState, Proposal, ServiceSpec, Store, Task, TaskState,
};
use swarm_runtime::clock::wall_clock_now;
use swarm_runtime::manager::{Manager, ManagerConfig};
use swarm_runtime::raft::settings::RaftSettings;
use swarm_runtime::storage::mem_disk::MemDisk;
use swarm_runtime::tls::ca::NODE_CERT_VALIDITY;
use swarm_runtime::worker::agent::{Agent, AgentConfig};
use swarm_runtime::worker::executor::{
    ClusterContainer, ContainerState, ExecError, Executor, Exit, FoundContainer, TaskFiles,
};

/// Containers in memory; `start` makes them run until stopped; every `prepare` is counted.
#[derive(Default)]
struct MemoryExecutor {
    containers: Mutex<BTreeMap<String, (String, ContainerState)>>,
    creations: Mutex<u64>,
    exits: tokio::sync::Notify,
}

impl Executor for MemoryExecutor {
    async fn list(&self) -> Result<Vec<FoundContainer>, ExecError> {
        let containers = self.containers.lock().unwrap();
        Ok(containers
            .iter()
            .map(|(id, (task_id, state))| FoundContainer {
                task_id: task_id.clone(),
                container_id: id.clone(),
                state: *state,
            })
            .collect())
    }

    async fn prepare(&self, task: &Task, _files: &TaskFiles) -> Result<String, ExecError> {
        if task.spec.container_spec.image.starts_with("missing") {
            return Err(ExecError::Rejected(format!("No such image: {}", task.spec.container_spec.image)));
        }
        let id = format!("c-{}", task.id);
        let mut containers = self.containers.lock().unwrap();
        if !containers.contains_key(&id) {
            *self.creations.lock().unwrap() += 1;
            containers.insert(id.clone(), (task.id.clone(), ContainerState::Created));
        }
        Ok(id)
    }

    async fn start(&self, container_id: &str) -> Result<(), ExecError> {
        let mut containers = self.containers.lock().unwrap();
        let container =
            containers.get_mut(container_id).ok_or_else(|| ExecError::NoSuchContainer(container_id.into()))?;
        container.1 = ContainerState::Running;
        Ok(())
    }

    async fn wait(&self, container_id: &str) -> Result<Exit, ExecError> {
        loop {
            let notified = self.exits.notified();
            match self.containers.lock().unwrap().get(container_id) {
                None => return Err(ExecError::NoSuchContainer(container_id.into())),
                Some((_, ContainerState::Exited(code))) => return Ok(Exit { code: *code, reason: None }),
                Some(_) => {}
            }
            notified.await;
        }
    }

    async fn stop(&self, container_id: &str, _grace: Duration) -> Result<(), ExecError> {
        if let Some(container) = self.containers.lock().unwrap().get_mut(container_id) {
            if container.1 == ContainerState::Running {
                container.1 = ContainerState::Exited(137);
            }
        }
        self.exits.notify_waiters();
        Ok(())
    }

    async fn remove(&self, container_id: &str) -> Result<(), ExecError> {
        self.containers.lock().unwrap().remove(container_id);
        self.exits.notify_waiters();
        Ok(())
    }

    /// One node per executor here, and no node is ever removed: no other node's containers to find.
    async fn list_cluster(&self) -> Result<Vec<ClusterContainer>, ExecError> {
        Ok(Vec::new())
    }

    async fn force_remove(&self, container_id: &str) -> Result<(), ExecError> {
        self.stop(container_id, Duration::ZERO).await?;
        self.remove(container_id).await
    }
}

impl MemoryExecutor {
    fn running(&self) -> usize {
        self.containers.lock().unwrap().values().filter(|(_, state)| *state == ContainerState::Running).count()
    }
}

/// The test cluster's root CA, made once.
fn root_ca() -> Arc<RootCa> {
    static ROOT: std::sync::OnceLock<Arc<RootCa>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| Arc::new(RootCa::create("cluster1", wall_clock_now(), fresh_key_pkcs8().unwrap()).unwrap()))
        .clone()
}

/// A TLS identity of the test cluster for `node_id` in `role`.
fn identity(node_id: &str, role: NodeRole) -> TlsHandle {
    let identity = root_ca()
        .issue_identity(fresh_key_pkcs8().unwrap(), node_id, role, "cluster1", wall_clock_now(), NODE_CERT_VALIDITY)
        .unwrap();
    TlsHandle::new(identity).unwrap()
}

async fn start_manager(ip: &str) -> Arc<Manager> {
    let addr: SocketAddr = format!("{ip}:2377").parse().unwrap();
    let config = ManagerConfig {
        node_id: 1,
        listen_addr: addr,
        advertise_addr: addr.to_string(),
        raft: RaftSettings::default(),
        node_api: None,
        tls: Some(identity("manager1", NodeRole::Manager)),
        ca: Some(root_ca()),
        data_key: Some(Arc::new(swarm_runtime::aead::AeadKey::from_bytes(&[3; 32]))),
        node_cert_validity: None,
        keep_identity: None,
    };
    let manager = Manager::start(config, Arc::new(MemDisk::new()), None).await.expect("manager starts");
    manager.bootstrap().await.expect("bootstrap");
    let settings = ClusterSettings { dispatcher_heartbeat_period_ms: 200, ..ClusterSettings::default() };
    let init = Command::InitCluster {
        cluster_id: "cluster1".into(),
        settings,
        join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
    };
    wait_for("the cluster to initialise", Duration::from_secs(10), || async {
        manager.propose(Proposal::new(wall_clock_now(), init.clone())).await.is_ok()
    })
    .await;
    manager
}

fn agent(node_id: &str, manager_addr: &str, executor: Arc<MemoryExecutor>) -> Agent {
    let config = AgentConfig {
        node_id: node_id.to_string(),
        cluster_id: "cluster1".into(),
        managers: vec![manager_addr.to_string()],
        description: NodeDescription { hostname: node_id.to_string(), ..NodeDescription::default() },
        addr: "127.0.0.1".into(),
        role: NodeRole::Worker,
        availability: swarm_core::NodeAvailability::Active,
        manager: None,
        tunnel_key_rotation: swarm_runtime::worker::agent::DEFAULT_TUNNEL_KEY_ROTATION,
        keep_identity: None,
        tls: Some(identity(node_id, NodeRole::Worker)),
    };
    Agent::start(config, executor, Arc::new(swarm_runtime::worker::overlay::fake::FakeDataPlane::new()))
}

async fn wait_for<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn running_tasks(store: &Store, service: &str) -> Vec<Task> {
    let id = store.service_by_name(service).map(|s| s.id.clone()).unwrap_or_default();
    store
        .tasks_of_service(&id)
        .filter(|t| t.status.state == TaskState::Running && t.desired_state == TaskState::Running)
        .cloned()
        .collect()
}

async fn create_service(manager: &Manager, spec: ServiceSpec) {
    let command = Command::CreateService { service_id: format!("svc-{}", spec.name), spec };
    let committed = manager.propose(Proposal::new(wall_clock_now(), command)).await.expect("proposal commits");
    committed.response.expect("service created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_move_off_a_silent_node_and_are_adopted_after_an_agent_restart() {
    let manager = start_manager("127.0.41.1").await;
    let addr = "127.0.41.1:2377";
    let executors: Vec<Arc<MemoryExecutor>> = (0..2).map(|_| Arc::default()).collect();
    let agents: Vec<Agent> =
        executors.iter().enumerate().map(|(i, e)| agent(&format!("node{i}"), addr, e.clone())).collect();
    // Both nodes must be ready before the service exists, or the scheduler sees only the first.
    wait_for("both nodes ready", Duration::from_secs(20), || async {
        manager.read(|s| s.nodes().filter(|n| n.status.state == swarm_core::NodeState::Ready).count()) == 2
    })
    .await;
    create_service(&manager, ServiceSpec::replicated("web", "busybox", 4)).await;
    wait_for("4 running tasks", Duration::from_secs(20), || async {
        manager.read(|s| running_tasks(s, "web").len()) == 4
            && executors.iter().map(|e| e.running()).sum::<usize>() == 4
    })
    .await;
    let spread: Vec<usize> = executors.iter().map(|e| e.running()).collect();
    assert_eq!(spread, vec![2, 2], "the scheduler spreads replicas over nodes");

    // A task whose image is missing is rejected with Docker's error.
    create_service(&manager, ServiceSpec::replicated("bad", "missing:1", 1)).await;
    wait_for("a rejected task", Duration::from_secs(20), || async {
        manager.read(|s| {
            let id = s.service_by_name("bad").unwrap().id.clone();
            s.tasks_of_service(&id).any(|t| {
                t.status.state == TaskState::Rejected && t.status.err.as_deref() == Some("No such image: missing:1")
            })
        })
    })
    .await;

    // Node 1's agent goes silent: the node is marked down and its tasks run on node 0.
    agents[1].shutdown();
    wait_for("node1 down and 4 tasks running on node0", Duration::from_secs(20), || async {
        manager.read(|s| {
            s.node("node1").is_some_and(|n| n.status.state == NodeState::Down)
                && running_tasks(s, "web").iter().filter(|t| t.node_id.as_deref() == Some("node0")).count() == 4
        })
    })
    .await;

    // Node 1's agent comes back over the same executor: it adopts or stops its old containers, never adds more.
    let creations_before = *executors[1].creations.lock().unwrap();
    let _restarted = agent("node1", addr, executors[1].clone());
    wait_for("node1 ready with its stale tasks stopped", Duration::from_secs(20), || async {
        manager.read(|s| s.node("node1").is_some_and(|n| n.status.state == NodeState::Ready))
            && executors[1].running() == 0
    })
    .await;
    assert_eq!(*executors[1].creations.lock().unwrap(), creations_before, "no container was created twice");
    manager.shutdown().await;
}
