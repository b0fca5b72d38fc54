//! The simulated container engine: what Docker Engine is to a real worker host, `SimEngine` is to a simulated
//! one, and `SimExecutor` drives it through the agent's `Executor` seam. The engine belongs to the World, not to
//! the agent's madsim node, so restarting the agent daemon (a madsim node restart) leaves its containers running —
//! as with Docker when only the swarm daemon restarts — while `SimEngine::machine_crash` models host death: every
//! container is gone. Containers never need a background task to exit: each running container carries the moment
//! it will exit (its script, a random crash, or a stop), and every engine call first settles the exits that are
//! due, so a container exits on time even while no agent is alive to watch it.
//!
//! The engine also keeps the ground truth the checkers judge: one `ContainerRecord` per container ever created
//! (node, task, service, slot, and when it was created, started, stopped and removed, in simulated milliseconds
//! since the simulation began). Invariants it keeps itself: at most one container per (node, task id) at a time
//! (`prepare` returns the existing one), a record's times never go backward (`created <= started <= stopped`),
//! and an engine call never holds the engine's lock across an await.
//!
//! Behaviour per host (`SimBehaviour`, derived from the seed by the caller): pull, start and stop latencies,
//! a crash probability per simulated second, and images the host lacks (`prepare` is rejected with Docker's
//! "No such image: <image>"). Behaviour per task, from the task's container spec: `SIM_EXIT_AFTER_MS=<n>` in its
//! env makes the container exit n ms after it started, with `SIM_EXIT_CODE` (default 0); an image whose name
//! starts with `fail:` exits with code 1 100–500 ms after it started. `SimEngine::set_random_crashes(false)`
//! switches random crashes off for a scenario's liveness phase. Everything random comes from madsim's seeded RNG,
//! everything timed from madsim's clock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use swarm_core::image::normalized_image;
use swarm_core::{FileKind, Task};
use swarm_runtime::watch;
use swarm_runtime::worker::executor::{
    ClusterContainer, ContainerState, ExecError, Executor, Exit, FoundContainer, TaskFiles,
};

use crate::recorder::digest;

/// Env var: exit this many milliseconds after starting.
pub const EXIT_AFTER_ENV: &str = "SIM_EXIT_AFTER_MS";
/// Env var: the exit code of a `SIM_EXIT_AFTER_MS` exit (default 0).
pub const EXIT_CODE_ENV: &str = "SIM_EXIT_CODE";
/// Images whose name starts with this exit with code 1 soon after they start (`FAILING_IMAGE_EXIT_MS` later).
pub const FAILING_IMAGE_PREFIX: &str = "fail:";
/// When a `fail:` image exits, in milliseconds after it started (inclusive range).
pub const FAILING_IMAGE_EXIT_MS: (u64, u64) = (100, 500);
/// The exit code of a container killed by SIGKILL (after its stop grace period, or a crash).
pub const KILLED_EXIT_CODE: i64 = 137;

/// The cluster id every simulated executor labels its containers with, unless told another (`with_cluster`).
pub const SIM_CLUSTER_ID: &str = "sim-cluster";

/// Milliseconds of simulated time since the simulation began: one clock for every host, so records from
/// different engines compare.
#[cfg(madsim)]
pub fn now_ms() -> u64 {
    u64::try_from(madsim::time::TimeHandle::current().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Outside the simulator there is no simulated clock; the engine is for `--cfg madsim` builds only.
#[cfg(not(madsim))]
pub fn now_ms() -> u64 {
    panic!("the simulated container engine runs only inside madsim (build with --cfg madsim, e.g. `cargo sim`)")
}

// ---------------------------------------------------------------------------------------------------------------
// Ground truth

/// Which slot a container fills: a replicated service's (or job's) slot number, or, for global services (whose
/// tasks have no slot), the node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlotKey {
    Slot(u64),
    Node(String),
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotKey::Slot(slot) => write!(f, "slot {slot}"),
            SlotKey::Node(node) => write!(f, "node {node}"),
        }
    }
}

/// One container ever created by a simulated engine, for the checkers. Times are simulated milliseconds since
/// the simulation began (`now_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    pub container_id: String,
    /// The node (swarm node id) whose executor created it.
    pub node_id: String,
    pub task_id: String,
    pub service_id: String,
    /// The task's slot (replicated services and jobs); `None` for global ones.
    pub slot: Option<u64>,
    pub image: String,
    pub created_ms: u64,
    /// When it started running; `None` if it never did.
    pub started_ms: Option<u64>,
    /// When it stopped running (exited, was stopped, or died with its host); `None` while it runs and for a
    /// container that never started.
    pub stopped_ms: Option<u64>,
    /// The exit code, once it exited (`None` if it never started or died with its host).
    pub exit_code: Option<i64>,
    /// When `remove` deleted it.
    pub removed_ms: Option<u64>,
    /// Its host crashed while it existed (`SimEngine::machine_crash`); if it was running, that stopped it.
    pub stopped_by_host_crash: bool,
}

impl ContainerRecord {
    /// The slot this container fills within its service.
    pub fn slot_key(&self) -> SlotKey {
        match self.slot {
            Some(slot) => SlotKey::Slot(slot),
            None => SlotKey::Node(self.node_id.clone()),
        }
    }

    /// Whether it ever ran.
    pub fn started(&self) -> bool {
        self.started_ms.is_some()
    }

    /// Whether it was running at `ms`: started at or before, not yet stopped.
    pub fn running_at(&self, ms: u64) -> bool {
        self.started_ms.is_some_and(|started| started <= ms) && self.stopped_ms.is_none_or(|stopped| ms < stopped)
    }

    /// A short description for violation messages: `container 1a2b3c4d5e6f (task t1 on node n1, ran 10..250ms)`.
    pub fn describe(&self) -> String {
        let ran = match (self.started_ms, self.stopped_ms) {
            (None, _) => "never started".to_string(),
            (Some(start), None) => format!("running since {start}ms"),
            (Some(start), Some(stop)) => format!("ran {start}..{stop}ms"),
        };
        let lost = if self.stopped_by_host_crash { ", host crashed" } else { "" };
        format!(
            "container {} (task {} on node {}, {ran}{lost})",
            &self.container_id[..self.container_id.len().min(12)],
            self.task_id,
            self.node_id
        )
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Behaviour

/// How one simulated host's engine behaves. Latency ranges are inclusive, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct SimBehaviour {
    /// Time `prepare` takes to make the image available and create the container.
    pub pull_latency_ms: (u64, u64),
    /// Time `start` takes before the container runs.
    pub start_latency_ms: (u64, u64),
    /// Time a container takes to exit after SIGTERM. A container slower than its stop grace period is killed
    /// when the grace period ends (exit code 137); a faster one exits with 0.
    pub stop_latency_ms: (u64, u64),
    /// Probability that a running container crashes within any one simulated second (exit code 137 or 1);
    /// 0 for never.
    pub crash_probability_per_second: f64,
    /// Images this host does not have and cannot pull, as written in specs (`nosuchimage:1`; an image without
    /// tag or digest also matches with `:latest`).
    pub missing_images: BTreeSet<String>,
}

impl Default for SimBehaviour {
    fn default() -> Self {
        SimBehaviour::calm()
    }
}

impl SimBehaviour {
    /// A well-behaved host: short latencies, no crashes, every image present.
    pub fn calm() -> SimBehaviour {
        SimBehaviour {
            pull_latency_ms: (1, 20),
            start_latency_ms: (10, 100),
            stop_latency_ms: (10, 200),
            crash_probability_per_second: 0.0,
            missing_images: BTreeSet::new(),
        }
    }

    /// A host drawn from `rng` (madsim's seeded RNG in scenarios): latencies from instant to a few seconds,
    /// stops that sometimes outlast the default 10 s grace period, and, for half the hosts, crashes averaging
    /// one every 100 to 2,000 simulated seconds per container. `missing_images` is left empty: scenarios name them.
    pub fn derive(rng: &mut impl Rng) -> SimBehaviour {
        let mut range = |min_max: u64, width_max: u64| {
            let min = rng.gen_range(0..=min_max);
            (min, min + rng.gen_range(0..=width_max))
        };
        let pull_latency_ms = range(50, 2_000);
        let start_latency_ms = range(100, 1_500);
        let stop_latency_ms = range(200, 12_000);
        let crash_probability_per_second =
            if rng.gen_bool(0.5) { 0.0 } else { 1.0 / f64::from(rng.gen_range(100u32..=2_000)) };
        SimBehaviour {
            pull_latency_ms,
            start_latency_ms,
            stop_latency_ms,
            crash_probability_per_second,
            missing_images: BTreeSet::new(),
        }
    }

    /// This behaviour, with `image` missing on the host.
    pub fn with_missing_image(mut self, image: impl Into<String>) -> SimBehaviour {
        self.missing_images.insert(image.into());
        self
    }

    fn image_missing(&self, image: &str) -> bool {
        let normalized = normalized_image(image);
        self.missing_images.iter().any(|missing| normalized_image(missing) == normalized)
    }
}

impl fmt::Display for SimBehaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pull={}..{}ms start={}..{}ms stop={}..{}ms crash/s={:.5} missing={:?}",
            self.pull_latency_ms.0,
            self.pull_latency_ms.1,
            self.start_latency_ms.0,
            self.start_latency_ms.1,
            self.stop_latency_ms.0,
            self.stop_latency_ms.1,
            self.crash_probability_per_second,
            self.missing_images
        )
    }
}

/// A uniform draw from an inclusive range (`(min, max)` with `max < min` reads as `min`).
fn draw_ms(rng: &mut impl Rng, (min, max): (u64, u64)) -> u64 {
    if max <= min {
        min
    } else {
        rng.gen_range(min..=max)
    }
}

/// When a container running from now on crashes by itself, in ms from now, for a constant crash probability
/// `p` per second (an exponential distribution with rate `-ln(1 - p)` per second); `None` for never.
fn draw_crash_after_ms(rng: &mut impl Rng, p: f64) -> Option<u64> {
    if p.is_nan() || p <= 0.0 {
        return None;
    }
    let rate_per_second = -(1.0 - p.min(0.999_999)).ln();
    let survival: f64 = 1.0 - rng.gen::<f64>(); // in (0, 1]
    let after_seconds = -survival.ln() / rate_per_second;
    // `as` saturates for floats; a draw beyond u64 milliseconds is "never" in practice.
    Some((after_seconds * 1000.0) as u64)
}

/// The exit a task's spec scripts for its container: `SIM_EXIT_AFTER_MS`/`SIM_EXIT_CODE`, or a `fail:` image.
/// When both apply, the earlier exit wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScriptedExit {
    after_ms: u64,
    code: i64,
}

fn scripted_exit(task: &Task, rng: &mut impl Rng) -> Result<Option<ScriptedExit>, ExecError> {
    let container = &task.spec.container_spec;
    let env_value = |name: &str| {
        container.env.iter().rev().find_map(|entry| entry.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    };
    let invalid = |name: &str, value: &str| {
        ExecError::Rejected(format!("sim: invalid {name}={value} in the env of task {}: expected an integer", task.id))
    };
    let mut scripted = None;
    if let Some(value) = env_value(EXIT_AFTER_ENV) {
        let after_ms = value.trim().parse::<u64>().map_err(|_| invalid(EXIT_AFTER_ENV, value))?;
        let code = match env_value(EXIT_CODE_ENV) {
            Some(code) => code.trim().parse::<i64>().map_err(|_| invalid(EXIT_CODE_ENV, code))?,
            None => 0,
        };
        scripted = Some(ScriptedExit { after_ms, code });
    }
    if container.image.starts_with(FAILING_IMAGE_PREFIX) {
        let failing = ScriptedExit { after_ms: draw_ms(rng, FAILING_IMAGE_EXIT_MS), code: 1 };
        if scripted.is_none_or(|s: ScriptedExit| failing.after_ms < s.after_ms) {
            scripted = Some(failing);
        }
    }
    Ok(scripted)
}

// ---------------------------------------------------------------------------------------------------------------
// Engine state

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlannedExit {
    at_ms: u64,
    code: i64,
}

/// Why a running container will exit, each cause kept apart so that `SimEngine::set_random_crashes(false)` can
/// cancel planned crashes while scripted exits and stops stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Exits {
    scripted: Option<PlannedExit>,
    crash: Option<PlannedExit>,
    /// A stop is under way; another stop waits for the same exit.
    stop: Option<PlannedExit>,
}

impl Exits {
    /// The first exit due (on a tie: the stop, then the script, then the crash).
    fn next(&self) -> Option<PlannedExit> {
        [self.stop, self.scripted, self.crash].into_iter().flatten().min_by_key(|exit| exit.at_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Created,
    Running(Exits),
    Exited(i64),
}

#[derive(Debug)]
struct Container {
    /// Index into `EngineState::records`.
    record: usize,
    /// The cluster label of the executor that created it.
    cluster_id: String,
    node_id: String,
    task_id: String,
    phase: Phase,
    scripted: Option<ScriptedExit>,
}

/// The exit code of a container that was running when its host crashed (Docker reports 255).
pub const HOST_CRASH_EXIT_CODE: i64 = 255;

#[derive(Debug, Default)]
struct EngineState {
    /// Containers created so far on this engine (never reset, so ids stay unique across host crashes).
    created: u64,
    /// Containers not removed yet (created, running or exited), by container id.
    containers: BTreeMap<String, Container>,
    records: Vec<ContainerRecord>,
    host_crashes: u64,
    /// Random crashes are switched off (the liveness phase of a scenario).
    crashes_off: bool,
    /// Every `prepare` that gave a task secrets, in order.
    secret_deliveries: Vec<SecretDelivery>,
}

/// The secrets one `prepare` gave a task's container, for the checkers.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretDelivery {
    /// The node whose executor prepared the task.
    pub node_id: String,
    /// The node the task says it is assigned to.
    pub task_node_id: Option<String>,
    pub task_id: String,
    /// The secret ids the task's spec references.
    pub referenced: Vec<String>,
    /// The secrets given, by id, with their values.
    pub secrets: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for SecretDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.secrets.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "SecretDelivery {{ node: {}, task: {}, secrets: {ids:?} }}", self.node_id, self.task_id)
    }
}

impl EngineState {
    /// Moves every running container whose planned exit is due to `Exited`, dated at the planned time.
    fn settle(&mut self, now: u64) {
        for container in self.containers.values_mut() {
            if let Some(exit) = match &container.phase {
                Phase::Running(exits) => exits.next(),
                Phase::Created | Phase::Exited(_) => None,
            } {
                if exit.at_ms <= now {
                    let (at_ms, code) = (exit.at_ms, exit.code);
                    let record = &mut self.records[container.record];
                    record.stopped_ms = Some(at_ms.max(record.started_ms.unwrap_or(at_ms)));
                    record.exit_code = Some(code);
                    container.phase = Phase::Exited(code);
                }
            }
        }
    }

    fn find_for_task(&self, node_id: &str, task_id: &str) -> Option<&str> {
        self.containers.iter().find(|(_, c)| c.node_id == node_id && c.task_id == task_id).map(|(id, _)| id.as_str())
    }

    fn create(
        &mut self,
        cluster_id: &str,
        node_id: &str,
        task: &Task,
        scripted: Option<ScriptedExit>,
        now: u64,
    ) -> String {
        self.created += 1;
        let seq = self.created;
        // Docker-like: 64 lowercase hex digits, the first 12 (the short id) unique per engine and node.
        let container_id = format!(
            "{:016x}{:016x}{:032x}",
            digest(format!("{node_id}/{seq}").as_bytes()),
            digest(task.id.as_bytes()),
            seq
        );
        self.records.push(ContainerRecord {
            container_id: container_id.clone(),
            node_id: node_id.to_string(),
            task_id: task.id.clone(),
            service_id: task.service_id.clone(),
            slot: task.slot,
            image: task.spec.container_spec.image.clone(),
            created_ms: now,
            started_ms: None,
            stopped_ms: None,
            exit_code: None,
            removed_ms: None,
            stopped_by_host_crash: false,
        });
        let container = Container {
            record: self.records.len() - 1,
            cluster_id: cluster_id.to_string(),
            node_id: node_id.to_string(),
            task_id: task.id.clone(),
            phase: Phase::Created,
            scripted,
        };
        self.containers.insert(container_id.clone(), container);
        container_id
    }
}

fn no_such_container(container_id: &str) -> ExecError {
    ExecError::NoSuchContainer(container_id.to_string())
}

/// One simulated host's container engine. Cheap to clone (shared state); the World keeps one per worker host and
/// hands a clone to each `SimExecutor` it builds for that host's agent.
#[derive(Clone)]
pub struct SimEngine {
    state: Arc<Mutex<EngineState>>,
    /// Bumped on every change, so waiters re-check.
    changes: Arc<watch::Sender<u64>>,
}

impl Default for SimEngine {
    fn default() -> Self {
        SimEngine::new()
    }
}

impl fmt::Debug for SimEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("SimEngine")
            .field("live_containers", &state.containers.len())
            .field("created", &state.created)
            .field("host_crashes", &state.host_crashes)
            .finish()
    }
}

impl SimEngine {
    pub fn new() -> SimEngine {
        SimEngine { state: Arc::default(), changes: Arc::new(watch::channel(0).0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EngineState> {
        self.state.lock().expect("sim engine mutex")
    }

    fn changed(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// An executor for the agent of node `node_id` on this host.
    pub fn executor(&self, node_id: impl Into<String>, behaviour: SimBehaviour) -> SimExecutor {
        SimExecutor::new(self.clone(), node_id, behaviour)
    }

    /// Host death, as Docker Engine lives through it: running containers die at once (exit code 255, Docker's for
    /// a container whose daemon went away) and every container stays on disk, so the rebooted host's agent finds
    /// them — exited, or created and never started — and must not run their tasks again. Call together with
    /// killing the host's madsim node; restarting the node afterwards is the reboot.
    pub fn machine_crash(&self) {
        let now = now_ms();
        let mut state = self.lock();
        state.settle(now);
        let EngineState { containers, records, .. } = &mut *state;
        for container in containers.values_mut() {
            let record = &mut records[container.record];
            record.stopped_by_host_crash = true;
            if matches!(container.phase, Phase::Running(_)) {
                record.stopped_ms = Some(now);
                record.exit_code = Some(HOST_CRASH_EXIT_CODE);
                container.phase = Phase::Exited(HOST_CRASH_EXIT_CODE);
            }
        }
        state.host_crashes += 1;
        drop(state);
        self.changed();
    }

    /// Every `prepare` on this engine that gave secrets, in order.
    pub fn secret_deliveries(&self) -> Vec<SecretDelivery> {
        self.lock().secret_deliveries.clone()
    }

    /// Every container this engine ever created, in creation order, with exits that are due settled.
    pub fn records(&self) -> Vec<ContainerRecord> {
        let now = now_ms();
        let mut state = self.lock();
        state.settle(now);
        state.records.clone()
    }

    /// Containers running right now.
    pub fn running_count(&self) -> usize {
        let now = now_ms();
        let mut state = self.lock();
        state.settle(now);
        state.containers.values().filter(|c| matches!(c.phase, Phase::Running(_))).count()
    }

    /// Switches random crashes (`SimBehaviour::crash_probability_per_second`) off or back on. Off also cancels
    /// the crashes planned for containers running now; scripted exits and stops are unaffected. Switch them off
    /// for a scenario's liveness phase, when the cluster must converge without faults.
    pub fn set_random_crashes(&self, enabled: bool) {
        let now = now_ms();
        let mut state = self.lock();
        state.settle(now);
        state.crashes_off = !enabled;
        if !enabled {
            for container in state.containers.values_mut() {
                if let Phase::Running(exits) = &mut container.phase {
                    exits.crash = None;
                }
            }
        }
        drop(state);
        self.changed();
    }

    /// How often `machine_crash` wiped this engine.
    pub fn host_crashes(&self) -> u64 {
        self.lock().host_crashes
    }

    /// Waits until `container_id` has exited; `NoSuchContainer` if it is removed or lost first.
    async fn wait_exit(&self, container_id: &str) -> Result<i64, ExecError> {
        loop {
            let mut changes = self.changes.subscribe();
            let now = now_ms();
            let deadline = {
                let mut state = self.lock();
                state.settle(now);
                let container = state.containers.get(container_id).ok_or_else(|| no_such_container(container_id))?;
                match &container.phase {
                    Phase::Exited(code) => return Ok(*code),
                    Phase::Running(exits) => exits.next().map(|exit| exit.at_ms),
                    Phase::Created => None,
                }
            };
            match deadline {
                Some(at_ms) => {
                    tokio::select! {
                        biased;
                        _ = tokio::time::sleep(Duration::from_millis(at_ms.saturating_sub(now))) => {}
                        _ = changes.changed() => {}
                    }
                }
                None => {
                    // The sender lives as long as the engine, which outlives this call.
                    let _ = changes.changed().await;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Executor

/// The `Executor` an agent on a simulated host uses: the host's engine, the agent's cluster and node ids (every
/// container it creates carries both; `list` returns only the node's, `list_cluster` the cluster's), and the host's
/// behaviour.
#[derive(Clone)]
pub struct SimExecutor {
    pub engine: SimEngine,
    pub cluster_id: String,
    pub node_id: String,
    pub behaviour: Arc<SimBehaviour>,
}

impl fmt::Debug for SimExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimExecutor").field("node_id", &self.node_id).field("behaviour", &self.behaviour).finish()
    }
}

impl SimExecutor {
    pub fn new(engine: SimEngine, node_id: impl Into<String>, behaviour: SimBehaviour) -> SimExecutor {
        SimExecutor {
            engine,
            cluster_id: SIM_CLUSTER_ID.to_string(),
            node_id: node_id.into(),
            behaviour: Arc::new(behaviour),
        }
    }

    /// This executor, labelling its containers with `cluster_id` instead of `SIM_CLUSTER_ID`.
    pub fn with_cluster(mut self, cluster_id: impl Into<String>) -> SimExecutor {
        self.cluster_id = cluster_id.into();
        self
    }

    async fn sleep_ms(range: (u64, u64)) {
        let ms = draw_ms(&mut thread_rng(), range);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

impl Executor for SimExecutor {
    fn list(&self) -> impl Future<Output = Result<Vec<FoundContainer>, ExecError>> + Send {
        let now = now_ms();
        let mut state = self.engine.lock();
        state.settle(now);
        let found = state
            .containers
            .iter()
            .filter(|(_, c)| c.node_id == self.node_id)
            .map(|(id, c)| FoundContainer {
                task_id: c.task_id.clone(),
                container_id: id.clone(),
                state: match c.phase {
                    Phase::Created => ContainerState::Created,
                    Phase::Running(_) => ContainerState::Running,
                    Phase::Exited(code) => ContainerState::Exited(code),
                },
            })
            .collect();
        std::future::ready(Ok(found))
    }

    fn prepare(&self, task: &Task, files: &TaskFiles) -> impl Future<Output = Result<String, ExecError>> + Send {
        let this = self.clone();
        let task = task.clone();
        let secrets: Vec<(String, Vec<u8>)> = files
            .0
            .iter()
            .filter(|file| file.kind == FileKind::Secret)
            .map(|file| (file.object_id.clone(), file.data.clone()))
            .collect();
        async move {
            this.engine.lock().secret_deliveries.push(SecretDelivery {
                node_id: this.node_id.clone(),
                task_node_id: task.node_id.clone(),
                task_id: task.id.clone(),
                referenced: task.spec.container_spec.secrets.iter().map(|r| r.secret_id.clone()).collect(),
                secrets,
            });
            if let Some(existing) = this.engine.lock().find_for_task(&this.node_id, &task.id) {
                return Ok(existing.to_string());
            }
            Self::sleep_ms(this.behaviour.pull_latency_ms).await;
            let image = &task.spec.container_spec.image;
            if this.behaviour.image_missing(image) {
                return Err(ExecError::Rejected(format!("No such image: {}", normalized_image(image))));
            }
            let scripted = scripted_exit(&task, &mut thread_rng())?;
            let now = now_ms();
            let mut state = this.engine.lock();
            // A concurrent prepare of the same task may have created it while this one slept.
            if let Some(existing) = state.find_for_task(&this.node_id, &task.id) {
                return Ok(existing.to_string());
            }
            let container_id = state.create(&this.cluster_id, &this.node_id, &task, scripted, now);
            drop(state);
            this.engine.changed();
            Ok(container_id)
        }
    }

    fn start(&self, container_id: &str) -> impl Future<Output = Result<(), ExecError>> + Send {
        let this = self.clone();
        let container_id = container_id.to_string();
        async move {
            let already = |phase: &Phase| match phase {
                Phase::Created => Ok(false),
                Phase::Running(_) => Ok(true),
                Phase::Exited(code) => Err(ExecError::Failed(format!(
                    "container {container_id} has already exited with code {code}; the simulated engine does not \
                     restart containers"
                ))),
            };
            {
                let now = now_ms();
                let mut state = this.engine.lock();
                state.settle(now);
                let container = state.containers.get(&container_id).ok_or_else(|| no_such_container(&container_id))?;
                if already(&container.phase)? {
                    return Ok(());
                }
            }
            Self::sleep_ms(this.behaviour.start_latency_ms).await;
            let crash_after = draw_crash_after_ms(&mut thread_rng(), this.behaviour.crash_probability_per_second)
                .filter(|_| !this.engine.lock().crashes_off);
            let crash_code = if thread_rng().gen_bool(0.5) { KILLED_EXIT_CODE } else { 1 };
            let now = now_ms();
            let mut state = this.engine.lock();
            state.settle(now);
            let container = state.containers.get_mut(&container_id).ok_or_else(|| no_such_container(&container_id))?;
            if already(&container.phase)? {
                return Ok(());
            }
            let scripted =
                container.scripted.map(|s| PlannedExit { at_ms: now.saturating_add(s.after_ms), code: s.code });
            let crash = crash_after.map(|after| PlannedExit { at_ms: now.saturating_add(after), code: crash_code });
            container.phase = Phase::Running(Exits { scripted, crash, stop: None });
            let record = container.record;
            state.records[record].started_ms = Some(now);
            state.settle(now); // a zero-delay script exits at once
            drop(state);
            this.engine.changed();
            Ok(())
        }
    }

    fn wait(&self, container_id: &str) -> impl Future<Output = Result<Exit, ExecError>> + Send {
        let engine = self.engine.clone();
        let container_id = container_id.to_string();
        async move {
            let code = engine.wait_exit(&container_id).await?;
            Ok(Exit { code, reason: None })
        }
    }

    fn stop(&self, container_id: &str, grace: Duration) -> impl Future<Output = Result<(), ExecError>> + Send {
        let this = self.clone();
        let container_id = container_id.to_string();
        async move {
            let latency = draw_ms(&mut thread_rng(), this.behaviour.stop_latency_ms);
            let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
            let (after_ms, code) = if latency <= grace_ms { (latency, 0) } else { (grace_ms, KILLED_EXIT_CODE) };
            {
                let now = now_ms();
                let mut state = this.engine.lock();
                state.settle(now);
                let container =
                    state.containers.get_mut(&container_id).ok_or_else(|| no_such_container(&container_id))?;
                match &mut container.phase {
                    // Docker: stopping a container that is not running succeeds and changes nothing.
                    Phase::Created | Phase::Exited(_) => return Ok(()),
                    Phase::Running(Exits { stop: Some(_), .. }) => {}
                    Phase::Running(exits) => {
                        exits.stop = Some(PlannedExit { at_ms: now.saturating_add(after_ms), code });
                        state.settle(now);
                    }
                }
            }
            this.engine.changed();
            this.engine.wait_exit(&container_id).await.map(|_| ())
        }
    }

    fn remove(&self, container_id: &str) -> impl Future<Output = Result<(), ExecError>> + Send {
        let now = now_ms();
        let mut state = self.engine.lock();
        state.settle(now);
        let found = state.containers.get(container_id).map(|c| (matches!(c.phase, Phase::Running(_)), c.record));
        let result = match found {
            None => Ok(false),
            Some((true, _)) => Err(ExecError::Failed(format!(
                "cannot remove container \"{container_id}\": container is running: stop the container before \
                 removing or force remove"
            ))),
            Some((false, record)) => {
                state.records[record].removed_ms = Some(now);
                state.containers.remove(container_id);
                Ok(true)
            }
        };
        drop(state);
        if result == Ok(true) {
            self.engine.changed();
        }
        std::future::ready(result.map(|_| ()))
    }

    fn list_cluster(&self) -> impl Future<Output = Result<Vec<ClusterContainer>, ExecError>> + Send {
        let now = now_ms();
        let mut state = self.engine.lock();
        state.settle(now);
        let found = state
            .containers
            .iter()
            .filter(|(_, c)| c.cluster_id == self.cluster_id)
            .map(|(id, c)| ClusterContainer {
                container_id: id.clone(),
                cluster_id: c.cluster_id.clone(),
                node_id: c.node_id.clone(),
                task_id: c.task_id.clone(),
            })
            .collect();
        std::future::ready(Ok(found))
    }

    /// `docker rm --force`: a running container is killed (exit code 137) now, then removed.
    fn force_remove(&self, container_id: &str) -> impl Future<Output = Result<(), ExecError>> + Send {
        let now = now_ms();
        let mut state = self.engine.lock();
        state.settle(now);
        let removed = match state.containers.remove(container_id) {
            None => false,
            Some(container) => {
                let record = &mut state.records[container.record];
                if matches!(container.phase, Phase::Running(_)) {
                    record.stopped_ms = Some(now.max(record.started_ms.unwrap_or(now)));
                    record.exit_code = Some(KILLED_EXIT_CODE);
                }
                record.removed_ms = Some(now);
                true
            }
        };
        drop(state);
        if removed {
            self.engine.changed();
        }
        std::future::ready(Ok(()))
    }
}

#[cfg(test)]
mod pure_tests;
#[cfg(all(test, madsim))]
mod sim_tests;
