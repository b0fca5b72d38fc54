//! The production `Executor`: Docker Engine through bollard (this folder is the only code in the workspace that
//! knows bollard; compiled out of the sim; `networks` holds the overlay data plane's Docker networks, `create` the
//! pure create request of a task's container). It owns the mapping from a `Task` to a Docker container (name,
//! labels, image pull, create options, healthcheck, published host ports, overlay attachment and DNS) and from
//! Docker's answers back to `ExecError`s in Docker's words. Invariants it keeps: every
//! container it creates carries the labels `swarm.cluster.id`, `swarm.node.id` and `swarm.task.id` (plus service
//! id, name and slot), set after the spec's own labels so a spec cannot forge them, and every call that finds
//! containers filters on `swarm.node.id` — several daemons may share one Docker Engine, and each lists, adopts and
//! touches only its own containers — except `list_cluster`, which filters on `swarm.cluster.id` so the agent can
//! remove what removed nodes of its own cluster left behind. At most one container exists per task id: `prepare`
//! returns the container a task already has, and the container name holds the task id, so two racing creates
//! cannot both win.

mod create;
pub mod networks;
pub mod task_files;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, HealthStatusEnum, HostConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, EventsOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use futures::{Stream, StreamExt};
use swarm_core::Task;

use super::executor::{ClusterContainer, ContainerState, ExecError, Executor, Exit, FoundContainer, TaskFiles};
use super::overlay;
use task_files::TaskFilesDir;

/// The cluster whose node created a container: `list_cluster` filters on it.
pub const LABEL_CLUSTER_ID: &str = "swarm.cluster.id";
/// The node that created a container: `list` filters on it.
pub const LABEL_NODE_ID: &str = "swarm.node.id";
/// The task a container runs: `prepare` finds a task's container by it.
pub const LABEL_TASK_ID: &str = "swarm.task.id";
pub const LABEL_SERVICE_ID: &str = "swarm.service.id";
pub const LABEL_SERVICE_NAME: &str = "swarm.service.name";
/// Only on containers of replicated tasks.
pub const LABEL_TASK_SLOT: &str = "swarm.task.slot";

/// How long `prepare` lets the engine pull a missing image before rejecting the task.
pub const IMAGE_PULL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `start` asks the engine whether a container with a healthcheck is healthy yet.
pub const HEALTH_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long `connect` waits for the engine to answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// bollard's default request timeout (2 minutes) covers a whole `stop` call; longer grace periods raise it to
/// the grace period plus this margin.
const STOP_TIMEOUT_MARGIN: Duration = Duration::from_secs(60);
const BOLLARD_DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Docker Engine's default address on Linux.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// SwarmKit's error for a container whose healthcheck failed (`dockerexec: unhealthy container`).
pub const UNHEALTHY_CONTAINER: &str = "dockerexec: unhealthy container";

/// Docker's words when the engine does not answer, naming its address and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cannot connect to the Docker daemon at {host}. Is the docker daemon running? ({reason})")]
pub struct EngineUnreachable {
    pub host: String,
    pub reason: String,
}

/// `$DOCKER_HOST`, or Docker Engine's default address on Linux.
pub fn docker_host_from_env() -> String {
    std::env::var("DOCKER_HOST").ok().filter(|host| !host.is_empty()).unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string())
}

/// Connects to the engine at `host`, negotiates the API version down to the engine's and pings it; returns the
/// client and the engine's version. The error names the address and says why.
async fn handshake(host: &str) -> Result<(Docker, String), EngineUnreachable> {
    let unreachable = |reason: String| EngineUnreachable { host: host.to_string(), reason };
    let docker = Docker::connect_with_host(host).map_err(|error| unreachable(error.to_string()))?;
    let handshake = async {
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        let version = docker.version().await?;
        Ok::<_, DockerError>((docker, version))
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(Ok((docker, version))) => Ok((docker, version.version.unwrap_or_default())),
        Ok(Err(error)) => Err(unreachable(error.to_string())),
        Err(_) => Err(unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))),
    }
}

/// Runs this node's tasks as containers of one Docker Engine.
#[derive(Debug, Clone)]
pub struct DockerExecutor {
    docker: Docker,
    node_id: String,
    /// The cluster of the node: every container gets it as a label.
    cluster_id: String,
    /// The address connected to (`unix:///var/run/docker.sock`, `tcp://...`), for error messages.
    host: String,
    /// The engine's version as seen at `connect`; `engine_version` falls back to it.
    version_at_connect: String,
    /// The tmpfs for tasks' secret and config files (`with_task_files`); without it such tasks are refused.
    task_files: Option<TaskFilesDir>,
}

impl DockerExecutor {
    /// Connects to the engine at `$DOCKER_HOST` (default `unix:///var/run/docker.sock`) for node `node_id` of
    /// cluster `cluster_id`, negotiates the API version down to the engine's and pings it. The error names the
    /// address and says why.
    pub async fn connect(node_id: &str, cluster_id: &str) -> Result<DockerExecutor, EngineUnreachable> {
        DockerExecutor::connect_to(&docker_host_from_env(), node_id, cluster_id).await
    }

    /// Connects to the engine at `host` (`unix://PATH`, `tcp://HOST:PORT` or `http://HOST:PORT`) for `node_id` of
    /// `cluster_id`.
    pub async fn connect_to(host: &str, node_id: &str, cluster_id: &str) -> Result<DockerExecutor, EngineUnreachable> {
        let (docker, version_at_connect) = handshake(host).await?;
        Ok(DockerExecutor {
            docker,
            node_id: node_id.to_string(),
            cluster_id: cluster_id.to_string(),
            host: host.to_string(),
            version_at_connect,
            task_files: None,
        })
    }

    /// Gives tasks their secret and config files from a tmpfs mounted at `root` (on first use).
    pub fn with_task_files(mut self, root: PathBuf) -> DockerExecutor {
        self.task_files = Some(TaskFilesDir::new(root));
        self
    }

    /// Unmounts the tmpfs of tasks' secret and config files, if this executor mounted one (at shutdown).
    pub fn unmount_task_files(&self) {
        if let Some(task_files) = &self.task_files {
            task_files.unmount();
        }
    }

    /// Unmounts the tmpfs of tasks' secret and config files and removes its directory (the node left).
    pub fn remove_task_files(&self) {
        if let Some(task_files) = &self.task_files {
            task_files.remove();
        }
    }

    /// The node this executor creates and lists containers for.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The engine's address, as connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Docker's server version (`20.10.24`), for `node ls`'s ENGINE VERSION; the version seen at `connect` if the
    /// engine does not answer now.
    pub async fn engine_version(&self) -> String {
        match self.docker.version().await {
            Ok(version) => version.version.unwrap_or_else(|| self.version_at_connect.clone()),
            Err(_) => self.version_at_connect.clone(),
        }
    }

    /// The container's output as lines, oldest first: the last `tail` lines (all if `None`), then, if `follow`,
    /// new lines until the container stops. With `timestamps`, each line carries the engine's RFC 3339 timestamp.
    /// An engine error ends the stream with one `Err` naming the container.
    pub fn logs(
        &self,
        container_id: &str,
        follow: bool,
        tail: Option<u64>,
        timestamps: bool,
    ) -> impl Stream<Item = Result<LogLine, ExecError>> + Send + 'static {
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            timestamps,
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..LogsOptions::default()
        };
        let container = container_id.to_string();
        self.docker
            .logs(container_id, Some(options))
            .map(move |frame| match frame {
                Ok(output) => {
                    let stream = match output {
                        bollard::container::LogOutput::StdErr { .. } => LogStream::Stderr,
                        _ => LogStream::Stdout,
                    };
                    let text = String::from_utf8_lossy(output.as_ref()).into_owned();
                    Ok(split_log_frame(stream, &text, timestamps))
                }
                Err(error) => {
                    Err(ExecError::Failed(format!("logs of container {container}: {}", error_message(&error))))
                }
            })
            .flat_map(|lines| {
                let lines: Vec<Result<LogLine, ExecError>> = match lines {
                    Ok(lines) => lines.into_iter().map(Ok).collect(),
                    Err(error) => vec![Err(error)],
                };
                futures::stream::iter(lines)
            })
    }

    async fn inspect(&self, container_id: &str) -> Result<ContainerInspectResponse, ExecError> {
        self.docker
            .inspect_container(container_id, None)
            .await
            .map_err(|error| container_error(container_id, "inspecting", &error))
    }

    /// The container this node holds for `task_id`, if any.
    async fn find_task_container(&self, task_id: &str) -> Result<Option<String>, ExecError> {
        let labels = vec![format!("{LABEL_NODE_ID}={}", self.node_id), format!("{LABEL_TASK_ID}={task_id}")];
        let found = self.containers_labelled(labels).await?;
        Ok(found.into_iter().find_map(|container| container.id))
    }

    /// Makes `image` present: found locally, or pulled within `IMAGE_PULL_TIMEOUT`. Rejects the task when it cannot.
    async fn ensure_image(&self, image: &str) -> Result<(), ExecError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(error) if status_code(&error) == Some(404) => {}
            Err(error) => {
                return Err(ExecError::Failed(format!("inspecting image {image}: {}", error_message(&error))));
            }
        }
        let options = CreateImageOptions { from_image: Some(image.to_string()), ..CreateImageOptions::default() };
        let pull = async {
            let mut progress = self.docker.create_image(Some(options), None, None);
            while let Some(item) = progress.next().await {
                item?;
            }
            Ok::<_, DockerError>(())
        };
        let no_such_image = || ExecError::Rejected(format!("No such image: {image}"));
        match tokio::time::timeout(IMAGE_PULL_TIMEOUT, pull).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) if engine_answered(&error) => {
                tracing::warn!(image, error = %error_message(&error), "pulling the image failed");
                Err(no_such_image())
            }
            Ok(Err(error)) => Err(ExecError::Failed(format!("pulling image {image}: {}", error_message(&error)))),
            Err(_) => {
                tracing::warn!(image, timeout_s = IMAGE_PULL_TIMEOUT.as_secs(), "pulling the image timed out");
                Err(no_such_image())
            }
        }
    }

    /// The container's exit code once it is not running.
    async fn wait_for_exit(&self, container_id: &str) -> Result<i64, ExecError> {
        let mut waited = self.docker.wait_container(container_id, None);
        match waited.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports non-zero exits as errors carrying the code.
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(error)) => Err(container_error(container_id, "waiting for", &error)),
            None => {
                let state = self.inspect(container_id).await?.state.unwrap_or_default();
                if state.running == Some(true) {
                    Err(ExecError::Failed(format!("waiting for container {container_id}: the engine closed the wait")))
                } else {
                    Ok(state.exit_code.unwrap_or_default())
                }
            }
        }
    }

    async fn health_status(&self, container_id: &str) -> Result<Option<HealthStatusEnum>, ExecError> {
        let state = self.inspect(container_id).await?.state.unwrap_or_default();
        Ok(state.health.and_then(|health| health.status))
    }

    /// Returns once the engine reports the container unhealthy; an `Err` if the engine's event stream fails.
    async fn until_unhealthy(&self, container_id: &str) -> Result<(), ExecError> {
        // Events since a second before the first inspect, so a transition between the two is not missed.
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().saturating_sub(1);
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("container".to_string(), vec![container_id.to_string()]),
            ("event".to_string(), vec!["health_status".to_string()]),
        ]);
        let options = EventsOptions { since: Some(since.to_string()), until: None, filters: Some(filters) };
        let mut events = self.docker.events(Some(options));
        if self.health_status(container_id).await? == Some(HealthStatusEnum::UNHEALTHY) {
            return Ok(());
        }
        while let Some(event) = events.next().await {
            let event = event.map_err(|error| container_error(container_id, "watching", &error))?;
            let unhealthy = event.action.as_deref().is_some_and(|action| action.ends_with("unhealthy"));
            // Confirm: a replayed event may be older than the container's current state.
            if unhealthy && self.health_status(container_id).await? == Some(HealthStatusEnum::UNHEALTHY) {
                return Ok(());
            }
        }
        Err(ExecError::Failed(format!("watching container {container_id}: the engine closed the event stream")))
    }
}

impl Executor for DockerExecutor {
    async fn list(&self) -> Result<Vec<FoundContainer>, ExecError> {
        let summaries = self.containers_labelled(vec![format!("{LABEL_NODE_ID}={}", self.node_id)]).await?;
        let mut found = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let (Some(container_id), Some(labels)) = (summary.id, summary.labels) else { continue };
            // The engine filtered on the label already; checking again keeps the invariant local.
            if labels.get(LABEL_NODE_ID) != Some(&self.node_id) {
                continue;
            }
            let Some(task_id) = labels.get(LABEL_TASK_ID).cloned() else { continue };
            let state = match summary.state {
                Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
                Some(
                    ContainerSummaryStateEnum::RUNNING
                    | ContainerSummaryStateEnum::PAUSED
                    | ContainerSummaryStateEnum::RESTARTING
                    | ContainerSummaryStateEnum::STOPPING,
                ) => ContainerState::Running,
                _ => match self.inspect(&container_id).await {
                    Ok(inspected) => container_state(&inspected),
                    // Removed between the list and the inspect.
                    Err(ExecError::NoSuchContainer(_)) => continue,
                    Err(error) => return Err(error),
                },
            };
            found.push(FoundContainer { task_id, container_id, state });
        }
        found.sort_by(|a, b| (&a.task_id, &a.container_id).cmp(&(&b.task_id, &b.container_id)));
        if let Some(task_files) = &self.task_files {
            // Files of tasks whose containers went while this agent was not running.
            task_files.sweep(&found.iter().map(|container| container.task_id.clone()).collect());
        }
        Ok(found)
    }

    async fn prepare(&self, task: &Task, files: &TaskFiles) -> Result<String, ExecError> {
        // Written first, also for a container that exists: its bind mounts resolve when it starts. Marked as being
        // prepared meanwhile, so no sweep takes them before the container exists.
        let (file_mounts, _preparing) = match (&self.task_files, files.is_empty()) {
            (_, true) => (Vec::new(), None),
            (Some(task_files), false) => {
                let preparing = task_files.preparing(&task.id);
                (task_files.write(&task.id, files)?, Some(preparing))
            }
            (None, false) => {
                return Err(ExecError::Rejected("this node's engine takes no secret or config files".to_string()))
            }
        };
        let prepared = self.create_task_container(task, &file_mounts).await;
        if let (Err(_), Some(task_files), false) = (&prepared, &self.task_files, file_mounts.is_empty()) {
            // No container will mount them.
            task_files.remove_task(&task.id);
        }
        prepared
    }

    async fn start(&self, container_id: &str) -> Result<(), ExecError> {
        if let Err(error) = self.docker.start_container(container_id, None).await {
            return Err(match status_code(&error) {
                Some(404) => ExecError::NoSuchContainer(container_id.to_string()),
                _ => ExecError::Failed(format!("starting container failed: {}", error_message(&error))),
            });
        }
        loop {
            let state = self.inspect(container_id).await?.state.unwrap_or_default();
            let Some(health) = state.health else { return Ok(()) };
            if state.running != Some(true) {
                let code = state.exit_code.unwrap_or_default();
                return Err(ExecError::Failed(if code == 0 {
                    "task: container exited before it became healthy".to_string()
                } else {
                    format!("task: non-zero exit ({code})")
                }));
            }
            match health.status {
                Some(HealthStatusEnum::HEALTHY) => return Ok(()),
                Some(HealthStatusEnum::UNHEALTHY) => return Err(ExecError::Failed(UNHEALTHY_CONTAINER.to_string())),
                // A disabled healthcheck (`NONE`) never reports.
                Some(HealthStatusEnum::NONE) => return Ok(()),
                _ => tokio::time::sleep(HEALTH_POLL_INTERVAL).await,
            }
        }
    }

    async fn wait(&self, container_id: &str) -> Result<Exit, ExecError> {
        let has_healthcheck = self.inspect(container_id).await?.state.and_then(|state| state.health).is_some();
        let exited = self.wait_for_exit(container_id);
        tokio::pin!(exited);
        let mut killed_unhealthy = false;
        if has_healthcheck {
            tokio::select! {
                biased;
                code = &mut exited => return self.exit_with_reason(container_id, code?, false).await,
                unhealthy = self.until_unhealthy(container_id) => match unhealthy {
                    Ok(()) => {
                        // As Docker Swarm does: an unhealthy task's container is killed and the task fails.
                        let kill = KillContainerOptions { signal: "SIGKILL".to_string() };
                        match self.docker.kill_container(container_id, Some(kill)).await {
                            Ok(()) => killed_unhealthy = true,
                            // Exited on its own meanwhile (409: not running) or removed (404): `exited` tells.
                            Err(error) => tracing::debug!(container_id, %error, "killing an unhealthy container"),
                        }
                    }
                    Err(error) => tracing::warn!(container_id, %error, "cannot watch the container's health"),
                },
            }
        }
        let code = exited.await?;
        self.exit_with_reason(container_id, code, killed_unhealthy).await
    }

    async fn stop(&self, container_id: &str, grace: Duration) -> Result<(), ExecError> {
        let seconds = whole_seconds(grace);
        let options = StopContainerOptions { t: Some(i32::try_from(seconds).unwrap_or(i32::MAX)), signal: None };
        let stop_call_timeout = Duration::from_secs(seconds).saturating_add(STOP_TIMEOUT_MARGIN);
        let result = if stop_call_timeout > BOLLARD_DEFAULT_TIMEOUT {
            self.docker.clone().with_timeout(stop_call_timeout).stop_container(container_id, Some(options)).await
        } else {
            self.docker.stop_container(container_id, Some(options)).await
        };
        // 304 (already stopped) is success in bollard.
        result.map_err(|error| container_error(container_id, "stopping", &error))
    }

    async fn list_cluster(&self) -> Result<Vec<ClusterContainer>, ExecError> {
        self.cluster_containers().await
    }

    async fn force_remove(&self, container_id: &str) -> Result<(), ExecError> {
        self.remove_container(container_id, true).await
    }

    async fn remove(&self, container_id: &str) -> Result<(), ExecError> {
        self.remove_container(container_id, false).await
    }
}

impl DockerExecutor {
    /// `prepare`'s container: the one task `task` has, or a new one with `file_mounts` bound in.
    async fn create_task_container(
        &self,
        task: &Task,
        file_mounts: &[task_files::FileMount],
    ) -> Result<String, ExecError> {
        if let Some(container_id) = self.find_task_container(&task.id).await? {
            return Ok(container_id);
        }
        let image = swarm_core::image::normalized_image(&task.spec.container_spec.image);
        self.ensure_image(&image).await?;
        let name = container_name(task, &self.node_id);
        let options = CreateContainerOptions { name: Some(name.clone()), ..CreateContainerOptions::default() };
        let mut body = create::create_body(task, &self.node_id, &self.cluster_id, &image);
        create::add_file_mounts(&mut body, file_mounts);
        self.attach_first_network(task, &mut body).await?;
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => {
                self.attach_other_networks(task, &created.id).await?;
                Ok(created.id)
            }
            Err(error) => match status_code(&error) {
                // A concurrent `prepare` of the same task won the name.
                Some(409) => match self.find_task_container(&task.id).await? {
                    Some(container_id) => Ok(container_id),
                    None => Err(ExecError::Failed(format!("creating container {name}: {}", error_message(&error)))),
                },
                // The image vanished after the check.
                Some(404) if error_message(&error).starts_with("No such image") => {
                    Err(ExecError::Rejected(format!("No such image: {image}")))
                }
                // The engine refuses the spec (invalid mount, hostname, user, ...): it never will accept it.
                Some(400) => Err(ExecError::Rejected(error_message(&error))),
                _ => Err(ExecError::Failed(format!("creating container {name}: {}", error_message(&error)))),
            },
        }
    }
}

impl DockerExecutor {
    async fn remove_container(&self, container_id: &str, force: bool) -> Result<(), ExecError> {
        let task_with_files = match &self.task_files {
            Some(task_files) if !task_files.task_ids().is_empty() => match self.inspect(container_id).await {
                Ok(inspected) => inspected.config.and_then(|config| config.labels?.get(LABEL_TASK_ID).cloned()),
                Err(_) => None,
            },
            _ => None,
        };
        let options = RemoveContainerOptions { force, v: true, link: false };
        let removed = self.docker.remove_container(container_id, Some(options)).await;
        if let (Ok(()), Some(task_id), Some(task_files)) = (&removed, &task_with_files, &self.task_files) {
            task_files.remove_task(task_id);
        }
        match removed {
            Ok(()) => Ok(()),
            Err(error) => match status_code(&error) {
                Some(404) => Ok(()),
                Some(409) if error_message(&error).contains("already in progress") => Ok(()),
                _ => Err(ExecError::Failed(format!("removing container {container_id}: {}", error_message(&error)))),
            },
        }
    }
}

impl DockerExecutor {
    /// Every container, running or not, that carries all of `labels` (each `key=value`).
    async fn containers_labelled(&self, labels: Vec<String>) -> Result<Vec<ContainerSummary>, ExecError> {
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..ListContainersOptions::default() };
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(|error| ExecError::Failed(format!("listing containers: {}", error_message(&error))))
    }

    /// `list_cluster`: every container labelled with this cluster, any node's.
    async fn cluster_containers(&self) -> Result<Vec<ClusterContainer>, ExecError> {
        if self.cluster_id.is_empty() {
            return Ok(Vec::new());
        }
        let summaries = self.containers_labelled(vec![format!("{LABEL_CLUSTER_ID}={}", self.cluster_id)]).await?;
        let mut found: Vec<ClusterContainer> = summaries
            .into_iter()
            .filter_map(|summary| {
                let (container_id, labels) = (summary.id?, summary.labels?);
                Some(ClusterContainer {
                    container_id,
                    cluster_id: labels.get(LABEL_CLUSTER_ID)?.clone(),
                    node_id: labels.get(LABEL_NODE_ID)?.clone(),
                    task_id: labels.get(LABEL_TASK_ID).cloned().unwrap_or_default(),
                })
            })
            .collect();
        found.sort_by(|a, b| a.container_id.cmp(&b.container_id));
        Ok(found)
    }

    async fn exit_with_reason(&self, container_id: &str, code: i64, killed_unhealthy: bool) -> Result<Exit, ExecError> {
        if killed_unhealthy {
            return Ok(Exit { code, reason: Some(UNHEALTHY_CONTAINER.to_string()) });
        }
        let oom_killed = match self.inspect(container_id).await {
            Ok(inspected) => inspected.state.and_then(|state| state.oom_killed).unwrap_or(false),
            Err(_) => false,
        };
        Ok(Exit { code, reason: oom_killed.then(|| "OOMKilled".to_string()) })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Logs

/// Which of the container's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    /// Without the line break.
    pub text: String,
    /// The engine's RFC 3339 timestamp, when asked for.
    pub timestamp: Option<String>,
}

/// Splits one frame of Docker's log stream into lines; with `timestamps`, each line starts with the engine's
/// timestamp and a space.
fn split_log_frame(stream: LogStream, frame: &str, timestamps: bool) -> Vec<LogLine> {
    let frame = frame.strip_suffix('\n').unwrap_or(frame);
    frame
        .split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (timestamp, text) = match line.split_once(' ') {
                Some((timestamp, text)) if timestamps => (Some(timestamp.to_string()), text),
                None if timestamps => (Some(line.to_string()), ""),
                _ => (None, line),
            };
            LogLine { stream, text: text.to_string(), timestamp }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Task → container

/// The task's service name. Tasks created before `Task::service_name` existed carry an empty one: the service id
/// stands in for it then.
fn service_name(task: &Task) -> &str {
    if task.service_name.is_empty() {
        &task.service_id
    } else {
        &task.service_name
    }
}

/// Docker Swarm's task name, also the container name: `<service>.<slot>.<task id>` for a replicated task,
/// `<service>.<node id>.<task id>` for a global one.
pub fn container_name(task: &Task, node_id: &str) -> String {
    swarm_core::overlay::task_container_name(task, node_id)
}

/// The slot, or for a global task the node id (SwarmKit's `{{.Task.Slot}}` falls back to the node id too).
fn slot_or_node(task: &Task, node_id: &str) -> String {
    match task.slot {
        Some(slot) => slot.to_string(),
        None => task.node_id.clone().unwrap_or_else(|| node_id.to_string()),
    }
}

/// What Docker's service templates (`--hostname`, `--env`, `--mount`) may refer to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateContext {
    pub service_id: String,
    pub service_name: String,
    pub task_id: String,
    pub task_name: String,
    pub task_slot: String,
    pub node_id: String,
}

impl TemplateContext {
    pub fn for_task(task: &Task, node_id: &str) -> TemplateContext {
        TemplateContext {
            service_id: task.service_id.clone(),
            service_name: service_name(task).to_string(),
            task_id: task.id.clone(),
            task_name: container_name(task, node_id),
            task_slot: slot_or_node(task, node_id),
            node_id: task.node_id.clone().unwrap_or_else(|| node_id.to_string()),
        }
    }
}

/// Expands `{{.Service.ID}}`, `{{.Service.Name}}`, `{{.Task.ID}}`, `{{.Task.Name}}`, `{{.Task.Slot}}` and
/// `{{.Node.ID}}` (spaces inside the braces allowed, as in Go templates). Anything else is kept as written.
pub fn expand_template(template: &str, context: &TemplateContext) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            rest = &rest[open..];
            break;
        };
        let value = match after[..close].trim() {
            ".Service.ID" => Some(&context.service_id),
            ".Service.Name" => Some(&context.service_name),
            ".Task.ID" => Some(&context.task_id),
            ".Task.Name" => Some(&context.task_name),
            ".Task.Slot" => Some(&context.task_slot),
            ".Node.ID" => Some(&context.node_id),
            _ => None,
        };
        match value {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// `duration` in whole seconds, rounded up.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl DockerExecutor {
    /// A task on overlay networks is created on its first network (this node's Docker network for it) with its
    /// allocated address and Docker's MAC for it, and with this node's gateway there as its DNS server (Docker's
    /// embedded resolver forwards the names it does not know to it).
    async fn attach_first_network(&self, task: &Task, body: &mut ContainerCreateBody) -> Result<(), ExecError> {
        let Some(first) = task.networks.first() else { return Ok(()) };
        let network = overlay::plan::network_name(&first.network_id);
        let inspected = self.inspect_overlay_network(&network).await?;
        let gateway = inspected
            .ipam
            .and_then(|ipam| ipam.config)
            .and_then(|configs| configs.into_iter().find_map(|config| config.gateway));
        let host_config = body.host_config.get_or_insert_with(HostConfig::default);
        host_config.network_mode = Some(network.clone());
        host_config.dns = gateway.map(|gateway| vec![gateway]);
        let endpoint = networks::overlay_endpoint_settings(first.addr, overlay::plan::mac_for(first.addr));
        body.networking_config =
            Some(bollard::models::NetworkingConfig { endpoints_config: Some(HashMap::from([(network, endpoint)])) });
        Ok(())
    }

    /// Connects a created container to the task's other networks, each with its address there, and — when one of
    /// its networks allows egress — to the node's egress bridge network, its way out of the cluster (the overlay
    /// networks are internal to Docker, as Swarm's tasks reach outside through `docker_gwbridge`). A failure
    /// removes the container: the task fails and is replaced, rather than running cut off.
    async fn attach_other_networks(&self, task: &Task, container_id: &str) -> Result<(), ExecError> {
        let attached = self.connect_other_networks(task, container_id).await;
        if attached.is_err() {
            let _ = self.force_remove(container_id).await;
        }
        attached
    }

    async fn connect_other_networks(&self, task: &Task, container_id: &str) -> Result<(), ExecError> {
        let connect = |network: String, endpoint_config: Option<bollard::models::EndpointSettings>| async move {
            let request =
                bollard::models::NetworkConnectRequest { container: container_id.to_string(), endpoint_config };
            self.docker.connect_network(&network, request).await.map_err(|error| {
                ExecError::Failed(format!("connecting to network {network}: {}", error_message(&error)))
            })
        };
        let mut egress = false;
        for (position, attachment) in task.networks.iter().enumerate() {
            let network = overlay::plan::network_name(&attachment.network_id);
            let labels = self.inspect_overlay_network(&network).await?.labels.unwrap_or_default();
            egress |= labels.get(networks::LABEL_EGRESS).is_some_and(|value| value == "true");
            if position > 0 {
                let mac = overlay::plan::mac_for(attachment.addr);
                connect(network, Some(networks::overlay_endpoint_settings(attachment.addr, mac))).await?;
            }
        }
        if egress {
            connect(networks::egress_network_name(&self.node_id), None).await?;
        }
        Ok(())
    }

    /// This node's Docker network `network` for an overlay network.
    async fn inspect_overlay_network(&self, network: &str) -> Result<bollard::models::NetworkInspect, ExecError> {
        self.docker
            .inspect_network(network, None::<bollard::query_parameters::InspectNetworkOptions>)
            .await
            .map_err(|error| ExecError::Failed(format!("network {network} of this node: {}", error_message(&error))))
    }
}

/// The executor's view of an inspected container.
fn container_state(inspected: &ContainerInspectResponse) -> ContainerState {
    let state = inspected.state.clone().unwrap_or_default();
    match state.status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        _ if state.running == Some(true) => ContainerState::Running,
        _ => ContainerState::Exited(state.exit_code.unwrap_or_default()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// The HTTP status of an engine's error answer.
fn status_code(error: &DockerError) -> Option<u16> {
    match error {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine answered (as opposed to: could not be reached or its answer could not be read).
fn engine_answered(error: &DockerError) -> bool {
    matches!(error, DockerError::DockerResponseServerError { .. } | DockerError::DockerStreamError { .. })
}

/// The engine's own words when it answered, else bollard's.
fn error_message(error: &DockerError) -> String {
    match error {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        DockerError::DockerStreamError { error } => error.trim().to_string(),
        other => other.to_string(),
    }
}

/// An error of a call on one container: `NoSuchContainer` for 404, else `Failed` naming the container.
fn container_error(container_id: &str, doing: &str, error: &DockerError) -> ExecError {
    match status_code(error) {
        Some(404) => ExecError::NoSuchContainer(container_id.to_string()),
        _ => ExecError::Failed(format!("{doing} container {container_id}: {}", error_message(error))),
    }
}

#[cfg(test)]
mod tests {
    use swarm_core::spec::TaskSpec;

    use super::*;

    fn context() -> TemplateContext {
        TemplateContext {
            service_id: "svc1d".into(),
            service_name: "web".into(),
            task_id: "t4sk".into(),
            task_name: "web.2.t4sk".into(),
            task_slot: "2".into(),
            node_id: "n0de".into(),
        }
    }

    #[test]
    fn templates_expand_docker_placeholders() {
        let cases = [
            ("plain", "plain"),
            ("{{.Service.Name}}-{{.Task.Slot}}", "web-2"),
            ("{{ .Task.ID }}", "t4sk"),
            ("{{.Task.Name}}@{{.Node.ID}}", "web.2.t4sk@n0de"),
            ("{{.Service.ID}}", "svc1d"),
            ("x{{.Unknown}}y", "x{{.Unknown}}y"),
            ("open {{.Task.Slot", "open {{.Task.Slot"),
            ("{{.Task.Slot}}{{", "2{{"),
            ("", ""),
            ("ünï{{.Task.Slot}}cødé", "ünï2cødé"),
        ];
        for (template, expected) in cases {
            assert_eq!(expand_template(template, &context()), expected, "template {template:?}");
        }
    }

    fn task(slot: Option<u64>) -> Task {
        let mut task = Task::new("t4sk", "svc1d", slot, TaskSpec::image("swarm-hello:1"));
        task.service_name = "web".into();
        task
    }

    #[test]
    fn names_follow_docker_swarm() {
        assert_eq!(container_name(&task(Some(2)), "n0de"), "web.2.t4sk");
        assert_eq!(container_name(&task(None), "n0de"), "web.n0de.t4sk");
        let mut unnamed = task(Some(1));
        unnamed.service_name.clear();
        assert_eq!(container_name(&unnamed, "n0de"), "svc1d.1.t4sk");
        let global = TemplateContext::for_task(&task(None), "n0de");
        assert_eq!((global.task_slot.as_str(), global.task_name.as_str()), ("n0de", "web.n0de.t4sk"));
    }

    #[test]
    fn log_frames_split_into_lines() {
        let lines = split_log_frame(LogStream::Stderr, "2024-01-01T00:00:00Z hello world\n", true);
        assert_eq!(
            lines,
            vec![LogLine {
                stream: LogStream::Stderr,
                text: "hello world".into(),
                timestamp: Some("2024-01-01T00:00:00Z".into())
            }]
        );
        let lines = split_log_frame(LogStream::Stdout, "a\r\nb\n", false);
        assert_eq!(lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(lines.iter().all(|l| l.timestamp.is_none()));
    }

    #[test]
    fn grace_rounds_up_to_whole_seconds() {
        let cases = [(0, 0), (1, 1), (999, 1), (1000, 1), (1001, 2), (10_000, 10)];
        for (millis, seconds) in cases {
            assert_eq!(whole_seconds(Duration::from_millis(millis)), seconds, "{millis} ms");
        }
    }
}
