//! A simulated cluster: N manager nodes on madsim's network (10.0.0.i:2377), each running the real
//! `swarm_runtime::Manager` on its own `MemDisk`, plus helper nodes for clients and control. The world owns the
//! disks across crashes: a crash kills the node's tasks, then drops the disk's unsynced bytes (optionally keeping
//! a torn prefix), and a restart runs the same start-up code a real daemon runs on its data directory.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use madsim::runtime::{Handle, NodeHandle};
use swarm_core::{Command, NodeDescription, NodeRole, Proposal, Store};
use swarm_runtime::clock::wall_clock_now;
use swarm_runtime::manager::client::ClusterClient;
use swarm_runtime::manager::{Manager, ManagerConfig};
use swarm_runtime::raft::settings::RaftSettings;
use swarm_runtime::raft::state_machine::RaftObserver;
use swarm_runtime::storage::mem_disk::MemDisk;
use swarm_runtime::tls::keys::fresh_key_pkcs8;
use swarm_runtime::tls::{ClientTls, RootCa, TlsHandle};
use swarm_runtime::worker::agent::{Agent, AgentConfig};
use swarm_runtime::worker::overlay::fake::FakeDataPlane;

use crate::executor::{SimBehaviour, SimEngine, SIM_CLUSTER_ID};
use crate::recorder::Recorder;

pub const RAFT_PORT: u16 = 2377;
/// Workers rotate their tunnel keys this often, so scenarios see rotations among their faults (production: 12 h).
pub const SIM_TUNNEL_KEY_ROTATION: std::time::Duration = std::time::Duration::from_secs(15);

pub fn manager_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))
}

pub fn manager_addr(id: u64) -> String {
    format!("{}:{RAFT_PORT}", manager_ip(id))
}

/// Worker `index` (1-based) lives at 10.0.(3 + (index-1)/250).((index-1)%250 + 1): room for thousands.
pub fn worker_ip(index: u64) -> IpAddr {
    let zero_based = index - 1;
    IpAddr::V4(Ipv4Addr::new(10, 0, 3 + (zero_based / 250) as u8, (zero_based % 250) as u8 + 1))
}

/// The store node id of worker `index`.
pub fn worker_node_id(index: u64) -> String {
    format!("worker{index:04}")
}

type Registry = Arc<Mutex<BTreeMap<u64, Arc<Manager>>>>;

/// What worker `index` reports about itself: a linux/x86_64 host with 4 CPUs and 8 GiB.
pub fn worker_description(index: u64) -> NodeDescription {
    let mut description = NodeDescription { hostname: format!("worker-{index}"), ..NodeDescription::default() };
    description.platform.os = "linux".into();
    description.platform.architecture = "x86_64".into();
    description.resources.nano_cpus = 4_000_000_000;
    description.resources.memory_bytes = 8 << 30;
    description
}

/// A worker host: an agent daemon (the madsim node) over a container engine that outlives the daemon.
pub struct WorkerSlot {
    pub index: u64,
    pub node_id: String,
    pub node: NodeHandle,
    pub engine: SimEngine,
    /// The host's overlay data plane (survives a daemon restart, not a host crash).
    pub data_plane: Arc<FakeDataPlane>,
    /// The node's TLS identity in use, and its identity file, which a restart loads.
    pub tls: TlsHandle,
    pub file: IdentityFile,
    pub up: bool,
}

pub struct ManagerSlot {
    pub id: u64,
    pub node: NodeHandle,
    pub disk: MemDisk,
    /// The manager's TLS identity in use, and its identity file, which a restart loads.
    pub tls: TlsHandle,
    pub file: IdentityFile,
    pub up: bool,
}

pub struct World {
    pub handle: Handle,
    pub managers: BTreeMap<u64, ManagerSlot>,
    pub registry: Registry,
    pub recorder: Recorder,
    pub control: NodeHandle,
    pub workers: BTreeMap<u64, WorkerSlot>,
    /// Nodes made for the scenario's own clients (`add_client_node`).
    clients: Vec<NodeHandle>,
    /// Hosts of workers taken out of `workers` (`retire_worker`), still running until the world goes.
    retired: Vec<madsim::task::NodeId>,
    /// Frozen managers (`freeze`), each with the freeze that holds it.
    frozen: Arc<Mutex<BTreeMap<u64, u64>>>,
    /// Frozen workers by index, with the generation of their freeze.
    frozen_workers: Arc<Mutex<BTreeMap<u64, u64>>>,
    freeze_generation: u64,
    manager_count: u64,
    /// The cluster's root CA, made from the seed: every node and client of the world has a certificate of it, and
    /// all cluster traffic is mutual TLS, as in production.
    ca: Arc<RootCa>,
    /// A root rotation the scenario started (`rotation.rs`): the new root and the certificate the old one signed it
    /// with; the world's clients take certificates of it from then on.
    next_ca: Mutex<Option<(Arc<RootCa>, Vec<u8>)>>,
    /// Rotations proposed whose commit is not known (an answer lost under faults): one becomes `next_ca` once a
    /// store shows it.
    proposed_ca: Mutex<Vec<(Arc<RootCa>, Vec<u8>)>>,
}

mod identity_file;
mod rotation;

pub use identity_file::IdentityFile;

/// Manager `id`'s key for its Raft data at rest (fixed per manager, so it survives the manager's crashes).
fn sim_data_key(id: u64) -> Arc<swarm_runtime::aead::AeadKey> {
    let mut bytes = [0x5a; swarm_runtime::aead::KEY_BYTES];
    bytes[..8].copy_from_slice(&id.to_le_bytes());
    Arc::new(swarm_runtime::aead::AeadKey::from_bytes(&bytes))
}

/// The sim cluster's root CA, its key drawn from the seeded RNG.
fn sim_root_ca() -> Arc<RootCa> {
    let key = fresh_key_pkcs8().expect("an Ed25519 key from seed bytes");
    Arc::new(RootCa::create(SIM_CLUSTER_ID, wall_clock_now(), key).expect("the sim's root CA"))
}

/// A TLS identity of `ca` for `node_id` in `role`, its key drawn from the seeded RNG.
pub fn sim_identity(ca: &RootCa, node_id: &str, role: NodeRole) -> TlsHandle {
    let key = fresh_key_pkcs8().expect("an Ed25519 key from seed bytes");
    let identity = ca
        .issue_identity(
            key,
            node_id,
            role,
            SIM_CLUSTER_ID,
            wall_clock_now(),
            swarm_runtime::tls::ca::NODE_CERT_VALIDITY,
        )
        .expect("a sim node certificate");
    TlsHandle::new(identity).expect("TLS settings of a sim node")
}

impl World {
    /// Builds `count` manager nodes (ids 1..=count). Manager 1 bootstraps the cluster; the others start empty
    /// and must be added with `add_manager`.
    pub fn new(count: u64, settings: RaftSettings, recorder: Recorder) -> World {
        let handle = Handle::current();
        let registry: Registry = Arc::default();
        let ca = sim_root_ca();
        let mut managers = BTreeMap::new();
        for id in 1..=count {
            let disk = MemDisk::new();
            let tls = sim_identity(&ca, &format!("manager-{id}"), NodeRole::Manager);
            let file = IdentityFile::new(tls.identity(), Some(ca.clone()));
            let node = Self::build_manager(
                &handle,
                id,
                disk.clone(),
                settings.clone(),
                registry.clone(),
                recorder.clone(),
                (tls.clone(), file.clone()),
            );
            managers.insert(id, ManagerSlot { id, node, disk, tls, file, up: true });
        }
        let control = handle.create_node().name("control").ip(IpAddr::V4(Ipv4Addr::new(10, 0, 2, 1))).build();
        World {
            handle,
            managers,
            registry,
            recorder,
            control,
            workers: BTreeMap::new(),
            clients: Vec::new(),
            retired: Vec::new(),
            frozen: Arc::default(),
            frozen_workers: Arc::default(),
            freeze_generation: 0,
            manager_count: count,
            ca,
            next_ca: Mutex::new(None),
            proposed_ca: Mutex::new(Vec::new()),
        }
    }

    fn build_manager(
        handle: &Handle,
        id: u64,
        disk: MemDisk,
        settings: RaftSettings,
        registry: Registry,
        recorder: Recorder,
        (tls, file): (TlsHandle, IdentityFile),
    ) -> NodeHandle {
        handle
            .create_node()
            .name(format!("manager-{id}"))
            .ip(manager_ip(id))
            .init(move || {
                let disk = disk.clone();
                let settings = settings.clone();
                let registry = registry.clone();
                let recorder = recorder.clone();
                let (tls, file) = (tls.clone(), file.clone());
                async move {
                    // A restart loads the identity file, as a daemon does.
                    let ca = file.restore(&tls);
                    let config = ManagerConfig {
                        node_id: id,
                        listen_addr: SocketAddr::new(manager_ip(id), RAFT_PORT),
                        advertise_addr: manager_addr(id),
                        raft: settings,
                        node_api: None,
                        tls: Some(tls),
                        ca,
                        // Every manager keeps its log and snapshots encrypted at rest, as daemons do: the same key
                        // across its restarts (it lives in the identity file, beside the disk).
                        data_key: Some(sim_data_key(id)),
                        node_cert_validity: None,
                        keep_identity: Some(file.manager_keeper()),
                    };
                    let observer: Arc<dyn RaftObserver> = Arc::new(recorder.clone());
                    let manager = match Manager::start(config, Arc::new(disk), Some(observer)).await {
                        Ok(manager) => manager,
                        Err(error) => {
                            recorder.violation(format!("manager {id} refused to start after a crash: {error}"));
                            return;
                        }
                    };
                    registry.lock().expect("registry").insert(id, manager.clone());
                    let mut metrics = manager.raft().metrics();
                    tokio::spawn(async move {
                        loop {
                            // A committed vote names the leader this manager accepted for that term (its own
                            // id when it leads). Raft allows one leader per term, so all such views must agree.
                            let vote = metrics.borrow_and_update().vote;
                            if let (true, Some(leader)) = (vote.is_committed(), vote.leader_id().voted_for()) {
                                recorder.leader(vote.leader_id().get_term(), leader);
                            }
                            if metrics.changed().await.is_err() {
                                break;
                            }
                        }
                    });
                    if id == 1 {
                        if let Err(error) = manager.bootstrap().await {
                            tracing::warn!(%error, "bootstrap failed");
                        }
                    }
                    std::future::pending::<()>().await;
                }
            })
            .build()
    }

    /// How the scenario's clients reach the cluster API: as a manager of the swarm (the API takes only managers).
    /// The key the managers seal secrets' values with (the sim's root CA's).
    pub fn sealing_key(&self) -> swarm_runtime::tls::SealingKey {
        swarm_runtime::tls::SealingKey::of(&self.ca)
    }

    pub fn client_tls(&self) -> ClientTls {
        self.note_committed_rotation();
        let next = self.next_ca.lock().expect("next root").clone();
        match next {
            None => ClientTls::to_managers(&sim_identity(&self.ca, "sim-client", NodeRole::Manager)),
            // During and after a rotation: a certificate of the new root, presented with the cross-signed one,
            // trusting both roots, so every manager accepts it and it accepts every manager.
            Some((new, cross_signed)) => {
                let handle = sim_identity(&new, "sim-client", NodeRole::Manager);
                let identity = handle.identity().with_trust(vec![cross_signed], vec![self.ca.cert_der().to_vec()]);
                let handle = TlsHandle::new(identity.expect("a sim client's trust")).expect("TLS settings");
                ClientTls::to_managers(&handle)
            }
        }
    }

    /// A node for one of the scenario's clients, at `ip`; the world kills it with the rest when it is dropped.
    pub fn add_client_node(&mut self, name: String, ip: IpAddr) -> NodeHandle {
        let node = self.handle.create_node().name(name).ip(ip).build();
        self.clients.push(node.clone());
        node
    }

    pub fn manager(&self, id: u64) -> Option<Arc<Manager>> {
        self.registry.lock().expect("registry").get(&id).cloned()
    }

    /// The leader's store, read directly (an oracle for checks and workloads; writes still go over the network).
    pub fn leader_store(&self) -> Option<Store> {
        self.leader().and_then(|id| self.manager(id)).map(|m| m.read(Store::clone))
    }

    /// Proposes `command` from the control node through any manager, retrying until it commits or `deadline`
    /// passes; the core's rejection, if any, is the error.
    pub async fn propose(&self, command: Command, deadline: Duration) -> Result<(), String> {
        let addrs: Vec<String> = self.managers.keys().map(|id| manager_addr(*id)).collect();
        let tls = self.client_tls();
        let task = self.control.spawn(async move {
            let mut client = ClusterClient::new(&addrs, Duration::from_secs(3), Some(tls));
            let start = tokio::time::Instant::now();
            let mut last = String::new();
            while start.elapsed() < deadline {
                match client.propose(Proposal::new(wall_clock_now(), command.clone())).await {
                    Ok(committed) => return committed.response.map(|_| ()).map_err(|r| r.to_string()),
                    Err(error) => last = error.to_string(),
                }
                client.prefer(thread_rng().gen_range(0..addrs.len()));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(format!("no commit within {deadline:?}: {last}"))
        });
        task.await.unwrap_or_else(|e| Err(e.to_string()))
    }

    /// A running manager that believes it leads, if any; a frozen one's belief is stale and does not count.
    pub fn leader(&self) -> Option<u64> {
        let frozen = self.frozen.lock().expect("frozen");
        let registry = self.registry.lock().expect("registry");
        registry.values().find(|m| m.is_leader() && !frozen.contains_key(&m.id())).map(|m| m.id())
    }

    /// Adds manager `id` through whichever manager currently leads, retrying until `deadline` passes.
    pub async fn add_manager(&self, id: u64, deadline: Duration) -> Result<(), String> {
        let start = tokio::time::Instant::now();
        let mut last_error = String::from("no attempt");
        while start.elapsed() < deadline {
            if let Some(leader) = self.leader().and_then(|l| self.manager(l)) {
                let addr = manager_addr(id);
                let attempt =
                    self.control
                        .spawn(async move {
                            tokio::time::timeout(Duration::from_secs(10), leader.add_manager(id, addr)).await
                        })
                        .await;
                match attempt {
                    Ok(Ok(Ok(()))) => return Ok(()),
                    Ok(Ok(Err(e))) => last_error = e.to_string(),
                    Ok(Err(_)) => last_error = "timed out".into(),
                    Err(e) => last_error = e.to_string(),
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!("could not add manager {id}: {last_error}"))
    }

    /// Kills manager `id`'s node: its tasks vanish mid-flight, and its disk keeps only what was synced, plus a
    /// torn prefix of the unsynced tail of `torn_bytes(unsynced_len)` bytes per file.
    pub fn crash(&mut self, id: u64, mut torn_bytes: impl FnMut(usize) -> usize) {
        let slot = self.managers.get_mut(&id).expect("known manager");
        if !slot.up {
            return;
        }
        self.handle.kill(slot.node.id());
        self.frozen.lock().expect("frozen").remove(&id);
        self.registry.lock().expect("registry").remove(&id);
        slot.disk.crash(&mut torn_bytes);
        slot.up = false;
    }

    /// Freezes manager `id` for `how_long`, as SIGSTOP then SIGCONT do: its tasks stop where they are, nothing is
    /// lost, and its timers keep running out, so it resumes with stale state and overdue timers. A later freeze of
    /// the same manager, or `thaw_all`, supersedes the pending resume.
    pub fn freeze(&mut self, id: u64, how_long: Duration) {
        if !self.managers[&id].up {
            return;
        }
        let node = self.managers[&id].node.id();
        self.handle.pause(node);
        self.freeze_generation += 1;
        let generation = self.freeze_generation;
        self.frozen.lock().expect("frozen").insert(id, generation);
        let (frozen, handle) = (self.frozen.clone(), self.handle.clone());
        self.control.spawn(async move {
            tokio::time::sleep(how_long).await;
            let mut frozen = frozen.lock().expect("frozen");
            if frozen.get(&id) == Some(&generation) {
                frozen.remove(&id);
                handle.resume(node);
            }
        });
    }

    /// Freezes the daemon of worker `index` for `how_long`, as SIGSTOP then SIGCONT do: its agent and drivers stop
    /// where they are (a pull in progress included) and resume with stale assignments and overdue timers; the
    /// engine's containers run on. A later freeze of the same worker, a crash, or `thaw_all` supersedes the
    /// pending resume.
    pub fn freeze_worker(&mut self, index: u64, how_long: Duration) {
        if !self.workers[&index].up {
            return;
        }
        let node = self.workers[&index].node.id();
        self.handle.pause(node);
        self.freeze_generation += 1;
        let generation = self.freeze_generation;
        self.frozen_workers.lock().expect("frozen").insert(index, generation);
        let (frozen, handle) = (self.frozen_workers.clone(), self.handle.clone());
        self.control.spawn(async move {
            tokio::time::sleep(how_long).await;
            let mut frozen = frozen.lock().expect("frozen");
            if frozen.get(&index) == Some(&generation) {
                frozen.remove(&index);
                handle.resume(node);
            }
        });
    }

    /// Resumes every frozen manager and worker now.
    pub fn thaw_all(&mut self) {
        let ids: Vec<u64> = std::mem::take(&mut *self.frozen.lock().expect("frozen")).into_keys().collect();
        for id in ids {
            self.handle.resume(self.managers[&id].node.id());
        }
        let indexes: Vec<u64> = std::mem::take(&mut *self.frozen_workers.lock().expect("frozen")).into_keys().collect();
        for index in indexes {
            self.handle.resume(self.workers[&index].node.id());
        }
    }

    pub fn restart(&mut self, id: u64) {
        let slot = self.managers.get_mut(&id).expect("known manager");
        if slot.up {
            return;
        }
        self.handle.restart(slot.node.id());
        slot.up = true;
    }

    /// Starts worker `index`: an agent talking to every manager, driving a simulated engine with `behaviour`.
    /// `description` is what the node reports (hostname, labels, resources); the node id is `worker_node_id`.
    pub fn add_worker(&mut self, index: u64, behaviour: SimBehaviour, description: NodeDescription) {
        assert!(!self.workers.contains_key(&index), "worker {index} exists");
        let node_id = worker_node_id(index);
        let engine = SimEngine::new();
        let managers: Vec<String> = (1..=self.manager_count).map(manager_addr).collect();
        let config = AgentConfig {
            node_id: node_id.clone(),
            cluster_id: SIM_CLUSTER_ID.to_string(),
            managers,
            description,
            addr: worker_ip(index).to_string(),
            role: NodeRole::Worker,
            availability: swarm_core::NodeAvailability::Active,
            manager: None,
            tunnel_key_rotation: SIM_TUNNEL_KEY_ROTATION,
            tls: Some(self.joining_identity(&node_id)),
            keep_identity: None,
        };
        let tls = config.tls.clone().expect("a worker's identity");
        let file = IdentityFile::new(tls.identity(), None);
        let config = AgentConfig { keep_identity: Some(file.worker_keeper()), ..config };
        let agent_file = file.clone();
        let executor_engine = engine.clone();
        let executor_node_id = node_id.clone();
        let data_plane = Arc::new(FakeDataPlane::new());
        let agent_data_plane = data_plane.clone();
        let node = self
            .handle
            .create_node()
            .name(format!("worker-{index}"))
            .ip(worker_ip(index))
            .init(move || {
                let executor = Arc::new(executor_engine.executor(executor_node_id.clone(), behaviour.clone()));
                let config = config.clone();
                let data_plane = agent_data_plane.clone();
                // A restart loads the identity file, as a daemon does.
                agent_file.restore(config.tls.as_ref().expect("a worker's identity"));
                async move {
                    let _agent = Agent::start(config, executor, data_plane);
                    std::future::pending::<()>().await;
                }
            })
            .build();
        self.workers.insert(index, WorkerSlot { index, node_id, node, engine, data_plane, tls, file, up: true });
    }

    /// The host of worker `index` dies: its daemon and every container are gone.
    pub fn crash_worker(&mut self, index: u64) {
        let slot = self.workers.get_mut(&index).expect("known worker");
        if !slot.up {
            return;
        }
        self.handle.kill(slot.node.id());
        self.frozen_workers.lock().expect("frozen").remove(&index);
        slot.engine.machine_crash();
        slot.data_plane.machine_crash();
        slot.up = false;
    }

    /// Brings a crashed worker host back: its engine still holds the containers the crash stopped (as Docker's
    /// does after a reboot), and the agent starts afresh.
    pub fn restart_worker(&mut self, index: u64) {
        let slot = self.workers.get_mut(&index).expect("known worker");
        if slot.up {
            return;
        }
        self.handle.restart(slot.node.id());
        slot.up = true;
    }

    /// Restarts only the agent daemon of worker `index`: its containers keep running and must be adopted.
    pub fn restart_worker_daemon(&mut self, index: u64) {
        self.frozen_workers.lock().expect("frozen").remove(&index);
        let slot = self.workers.get_mut(&index).expect("known worker");
        slot.data_plane.process_restart();
        self.handle.restart(slot.node.id());
        slot.up = true;
    }

    /// Takes worker `index` out of the world's workers (its host keeps running, and is killed with the world):
    /// the scenario removed it from the swarm and watches it apart. Returns its slot.
    pub fn retire_worker(&mut self, index: u64) -> WorkerSlot {
        self.frozen_workers.lock().expect("frozen").remove(&index);
        let slot = self.workers.remove(&index).expect("known worker");
        self.retired.push(slot.node.id());
        slot
    }

    pub fn worker_node(&self, index: u64) -> madsim::task::NodeId {
        self.workers[&index].node.id()
    }

    pub fn node_id(&self, id: u64) -> madsim::task::NodeId {
        self.managers[&id].node.id()
    }
}

/// The end of a seed: every node the world made is killed, so madsim drops their tasks before its runtime goes.
/// madsim never frees a task still pending when the runtime drops (each task's info holds the task's own waker),
/// so without this every manager, agent and store of the seed stayed allocated for the rest of the campaign
/// (`sim/tests/seed_leftovers.rs` fails if that comes back). The kills only wake the tasks; the executor drops
/// them while it drains its ready queue, which it does before `block_on` returns.
impl Drop for World {
    fn drop(&mut self) {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
        let managers = self.managers.values().map(|slot| slot.node.id());
        let workers = self.workers.values().map(|slot| slot.node.id());
        let clients = self.clients.iter().map(|node| node.id()).chain(self.retired.iter().copied());
        for node in managers.chain(workers).chain(clients).chain([self.control.id()]) {
            self.handle.kill(node);
        }
    }
}
