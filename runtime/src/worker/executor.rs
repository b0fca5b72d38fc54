//! The seam between the agent and whatever runs containers: Docker Engine in production (`docker`, the only
//! code that knows the Docker client library), a simulated engine in the sim. The agent drives one task through
//! `prepare → start → wait`, and `stop`/`remove` when the task is no longer wanted; `list` lets it reconcile with
//! what survived its own restart. Invariants every implementation keeps: at most one container per task id
//! (`prepare` on a task that already has a container returns that container), and every container it creates
//! carries the cluster id, node id and task id it was created for, so `list` finds exactly this node's containers and
//! `list_cluster` exactly its cluster's (several nodes, even several clusters, may share one engine).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use swarm_core::{FileKind, Task};

/// A container this node's executor holds, as found by `list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundContainer {
    pub task_id: String,
    pub container_id: String,
    pub state: ContainerState,
}

/// A container on the engine labelled with this executor's cluster id, whichever node of the cluster created it,
/// as found by `list_cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterContainer {
    pub container_id: String,
    /// Its cluster label (the engine filtered on it; the orphan rule checks it again).
    pub cluster_id: String,
    /// The node that created it.
    pub node_id: String,
    pub task_id: String,
}

/// What a container is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, never started.
    Created,
    Running,
    /// Exited with this code.
    Exited(i64),
}

/// Why an executor call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The task can never run here as specified (no such image, invalid mount, ...): the task is REJECTED with
    /// this message, in Docker's words (`No such image: nosuchimage:1`).
    #[error("{0}")]
    Rejected(String),
    /// The engine failed this call (unreachable, conflict, ...): the task is FAILED with this message.
    #[error("{0}")]
    Failed(String),
    /// The container is gone (removed behind our back).
    #[error("no such container: {0}")]
    NoSuchContainer(String),
}

/// How a started container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: i64,
    /// Why, when the engine says more than the code (e.g. "OOMKilled", a failed healthcheck).
    pub reason: Option<String>,
}

/// Runs containers for one node. Methods take `&self` and may be called concurrently for different tasks.
pub trait Executor: Send + Sync + 'static {
    /// Every container this node's executor created and has not removed.
    fn list(&self) -> impl Future<Output = Result<Vec<FoundContainer>, ExecError>> + Send;

    /// Makes the image available and creates the container for `task` (not started), with `files` (its secrets
    /// and configs) in place. Returns the container id. Idempotent per task id.
    fn prepare(&self, task: &Task, files: &TaskFiles) -> impl Future<Output = Result<String, ExecError>> + Send;

    /// Starts the container and returns once it is running — and, if the task has a healthcheck, healthy.
    fn start(&self, container_id: &str) -> impl Future<Output = Result<(), ExecError>> + Send;

    /// Waits until the running container exits.
    fn wait(&self, container_id: &str) -> impl Future<Output = Result<Exit, ExecError>> + Send;

    /// Asks the container to stop, kills it after `grace`; returns once it is stopped. Stopping a stopped
    /// container succeeds.
    fn stop(&self, container_id: &str, grace: Duration) -> impl Future<Output = Result<(), ExecError>> + Send;

    /// Removes a stopped container. Removing a container that is already gone succeeds.
    fn remove(&self, container_id: &str) -> impl Future<Output = Result<(), ExecError>> + Send;

    /// Every container on the engine labelled with this executor's cluster id, whichever node created it.
    fn list_cluster(&self) -> impl Future<Output = Result<Vec<ClusterContainer>, ExecError>> + Send;

    /// Kills the container if it runs and removes it, as `docker rm --force` (and Docker's `swarm leave`) does.
    /// Removing a container that is already gone succeeds.
    fn force_remove(&self, container_id: &str) -> impl Future<Output = Result<(), ExecError>> + Send;
}

/// One file of a task's container.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskFile {
    pub kind: FileKind,
    /// The secret's or config's id and name.
    pub object_id: String,
    pub object_name: String,
    /// The absolute path in the container.
    pub path: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub data: Vec<u8>,
}

impl fmt::Debug for TaskFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFile")
            .field("kind", &self.kind)
            .field("object", &self.object_name)
            .field("path", &self.path)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// Every secret and config file one task's container gets, secrets first, in the spec's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFiles(pub Vec<TaskFile>);

impl TaskFiles {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
