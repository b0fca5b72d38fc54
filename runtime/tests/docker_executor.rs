//! The Docker executor against the real Docker Engine of this machine, with the locally built test images
//! (`scripts/images` builds `swarm-hello:1` and `:2`; no registry is needed). These tests fail, not skip, when the
//! engine is unreachable. Each test uses its own random node id and removes every container labelled with it, also
//! when it fails, so tests run in parallel and several runs share one engine. What they hold the executor to: the
//! `Executor` contract (idempotent `prepare`, `list` sees exactly this node's containers, stop and remove are
//! idempotent) and Docker's wording of rejections.

#![cfg(not(madsim))]

use std::future::Future;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use swarm_core::spec::{
    effective_capabilities, hosts_entry, HealthConfig, LogDriver, Mount, MountType, PortConfig, PublishMode,
    TmpfsOptions, Ulimit, SECOND_NS,
};
use swarm_core::{Task, TaskSpec};
use swarm_runtime::worker::docker::{DockerExecutor, LogStream, LABEL_NODE_ID, UNHEALTHY_CONTAINER};
use swarm_runtime::worker::executor::{ContainerState, ExecError, Executor, Exit, TaskFiles};

/// Every test's deadline: a hung engine call fails the test instead of hanging the suite.
const TEST_TIMEOUT: Duration = Duration::from_secs(45);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("runtime/ has a parent").to_path_buf()
}

/// Builds the test images once per test binary.
fn images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/images"))
            .current_dir(repo_root())
            .status()
            .expect("run scripts/images");
        assert!(status.success(), "scripts/images failed: {status}");
    });
}

/// A node of its own on the shared engine; its containers are force-removed when it drops.
struct TestNode {
    executor: DockerExecutor,
}

impl TestNode {
    async fn new(name: &str) -> TestNode {
        TestNode::in_cluster(name, &format!("test-cluster-{:08x}", rand::random::<u32>())).await
    }

    /// A node of cluster `cluster_id` (a test's own, random: other clusters on this engine are never seen).
    async fn in_cluster(name: &str, cluster_id: &str) -> TestNode {
        images();
        let node_id = format!("test-{name}-{:08x}", rand::random::<u32>());
        let executor = DockerExecutor::connect(&node_id, cluster_id)
            .await
            .expect("Docker Engine must be reachable for these tests");
        TestNode { executor }
    }

    fn node_id(&self) -> &str {
        self.executor.node_id()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let filter = format!("label={LABEL_NODE_ID}={}", self.node_id());
        let Ok(listed) = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output() else { return };
        let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout).split_whitespace().map(String::from).collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rm", "-f"]).args(&ids).output();
        }
    }
}

/// `docker inspect --format FORMAT CONTAINER`, trimmed.
fn inspect(container_id: &str, format: &str) -> String {
    let output = Command::new("docker").args(["inspect", "--format", format, container_id]).output().unwrap();
    assert!(output.status.success(), "docker inspect {container_id}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn task(id: &str, slot: Option<u64>, args: &[&str]) -> Task {
    let mut spec = TaskSpec::image("swarm-hello:1");
    spec.container_spec.args = args.iter().map(|arg| arg.to_string()).collect();
    spec.container_spec.stop_grace_period_ns = 10 * SECOND_NS;
    let mut task = Task::new(format!("{id}{:06x}", rand::random::<u32>() & 0xff_ffff), "svc0001", slot, spec);
    task.service_name = "hello".to_string();
    task
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {TEST_TIMEOUT:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_to_its_exit_code() {
    within("job", async {
        let node = TestNode::new("exit").await;
        let task = task("exit", Some(1), &["exit", "3"]);
        let container = node.executor.prepare(&task, &TaskFiles::default()).await.unwrap();
        node.executor.start(&container).await.unwrap();
        assert_eq!(node.executor.wait(&container).await.unwrap(), Exit { code: 3, reason: None });
        let found = node.executor.list().await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].task_id.as_str(), found[0].state), (task.id.as_str(), ContainerState::Exited(3)));

        let logs: Vec<_> = futures::StreamExt::collect(node.executor.logs(&container, false, None, true)).await;
        let lines: Vec<_> = logs.into_iter().map(Result::unwrap).collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!((lines[0].stream, lines[0].text.as_str()), (LogStream::Stdout, "bye"));
        assert!(lines[0].timestamp.as_deref().is_some_and(|t| t.ends_with('Z')), "{lines:?}");

        node.executor.remove(&container).await.unwrap();
        assert_eq!(node.executor.list().await.unwrap(), Vec::new());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_is_idempotent_per_task() {
    within("prepare twice", async {
        let node = TestNode::new("twice").await;
        let task = task("twice", Some(4), &["sleep"]);
        let first = node.executor.prepare(&task, &TaskFiles::default()).await.unwrap();
        let second = node.executor.prepare(&task, &TaskFiles::default()).await.unwrap();
        assert_eq!(first, second);
        let found = node.executor.list().await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].container_id.as_str(), found[0].state), (first.as_str(), ContainerState::Created));
        assert_eq!(inspect(&first, "{{.Name}}"), format!("/hello.4.{}", task.id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_lists_only_its_own_containers() {
    within("two nodes", async {
        let (one, two) = (TestNode::new("one").await, TestNode::new("two").await);
        let tasks_one = [task("a", Some(1), &["sleep"]), task("b", Some(2), &["sleep"])];
        let task_two = task("c", None, &["sleep"]);
        for task in &tasks_one {
            one.executor.prepare(task, &TaskFiles::default()).await.unwrap();
        }
        let global = two.executor.prepare(&task_two, &TaskFiles::default()).await.unwrap();
        assert_eq!(inspect(&global, "{{.Name}}"), format!("/hello.{}.{}", two.node_id(), task_two.id));

        let mut listed_one: Vec<String> = one.executor.list().await.unwrap().into_iter().map(|c| c.task_id).collect();
        listed_one.sort();
        let mut expected_one: Vec<String> = tasks_one.iter().map(|t| t.id.clone()).collect();
        expected_one.sort();
        assert_eq!(listed_one, expected_one);
        let listed_two: Vec<String> = two.executor.list().await.unwrap().into_iter().map(|c| c.task_id).collect();
        assert_eq!(listed_two, vec![task_two.id.clone()]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_lists_its_nodes_containers_and_force_removes_a_running_one() {
    within("one cluster, two nodes, and a stranger", async {
        let cluster = format!("test-cluster-{:08x}", rand::random::<u32>());
        let (one, two) = (TestNode::in_cluster("c-one", &cluster).await, TestNode::in_cluster("c-two", &cluster).await);
        let stranger = TestNode::new("c-stranger").await;
        let running = one.executor.prepare(&task("run", Some(1), &[]), &TaskFiles::default()).await.unwrap();
        one.executor.start(&running).await.unwrap();
        let created = two.executor.prepare(&task("made", Some(2), &["sleep"]), &TaskFiles::default()).await.unwrap();
        let foreign =
            stranger.executor.prepare(&task("other", Some(3), &["sleep"]), &TaskFiles::default()).await.unwrap();
        assert_eq!(inspect(&running, "{{index .Config.Labels \"swarm.cluster.id\"}}"), cluster);

        let mut listed: Vec<(String, String)> =
            one.executor.list_cluster().await.unwrap().into_iter().map(|c| (c.container_id, c.node_id)).collect();
        listed.sort();
        let mut expected =
            vec![(running.clone(), one.node_id().to_string()), (created.clone(), two.node_id().to_string())];
        expected.sort();
        assert_eq!(listed, expected, "the stranger's container {foreign} is not listed");

        // `rm --force`: a running container goes at once, without a stop grace period; gone is fine.
        one.executor.force_remove(&running).await.unwrap();
        one.executor.force_remove(&running).await.unwrap();
        two.executor.force_remove(&created).await.unwrap();
        assert!(one.executor.list_cluster().await.unwrap().is_empty());
        assert_eq!(stranger.executor.list().await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stops_promptly_and_stop_and_remove_are_idempotent() {
    within("stop", async {
        let node = TestNode::new("stop").await;
        let task = task("srv", Some(1), &[]);
        let container = node.executor.prepare(&task, &TaskFiles::default()).await.unwrap();
        node.executor.start(&container).await.unwrap();
        assert_eq!(node.executor.list().await.unwrap()[0].state, ContainerState::Running);

        let started = Instant::now();
        node.executor.stop(&container, Duration::from_secs(10)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "stop took {:?}", started.elapsed());
        assert_eq!(node.executor.list().await.unwrap()[0].state, ContainerState::Exited(0));
        assert_eq!(node.executor.wait(&container).await.unwrap(), Exit { code: 0, reason: None });
        node.executor.stop(&container, Duration::from_secs(1)).await.unwrap();

        node.executor.remove(&container).await.unwrap();
        node.executor.remove(&container).await.unwrap();
        assert_eq!(node.executor.list().await.unwrap(), Vec::new());
        assert_eq!(
            node.executor.stop(&container, Duration::from_secs(1)).await,
            Err(ExecError::NoSuchContainer(container.clone()))
        );
        assert_eq!(node.executor.start(&container).await, Err(ExecError::NoSuchContainer(container.clone())));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_rejected_in_dockers_words() {
    within("missing image", async {
        let node = TestNode::new("noimage").await;
        let mut task = task("noimg", Some(1), &[]);
        task.spec.container_spec.image = "nosuchimage:1".to_string();
        let started = Instant::now();
        assert_eq!(
            node.executor.prepare(&task, &TaskFiles::default()).await,
            Err(ExecError::Rejected("No such image: nosuchimage:1".to_string()))
        );
        assert!(started.elapsed() < Duration::from_secs(20), "rejection took {:?}", started.elapsed());
        assert_eq!(node.executor.list().await.unwrap(), Vec::new());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_bind_mount_is_rejected() {
    within("bind mount", async {
        let node = TestNode::new("mount").await;
        let mut task = task("mnt", Some(1), &[]);
        task.spec.container_spec.mounts = vec![Mount {
            kind: MountType::Bind,
            source: "/nonexistent/swarm-test-source".to_string(),
            target: "/data".to_string(),
            read_only: true,
            tmpfs_options: None,
        }];
        match node.executor.prepare(&task, &TaskFiles::default()).await {
            Err(ExecError::Rejected(message)) => assert!(
                message.contains("bind source path does not exist: /nonexistent/swarm-test-source"),
                "{message}"
            ),
            other => panic!("expected a rejection, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_mode_port_is_published_and_answers() {
    within("host port", async {
        let node = TestNode::new("port").await;
        let mut task = task("port", Some(1), &[]);
        // Published port 0: the engine picks a free one. Ingress-mode ports are the routing mesh's, not bound here.
        task.endpoint.ports = vec![
            PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(0, 80) },
            PortConfig::tcp(18999, 8080),
        ];
        let container = node.executor.prepare(&task, &TaskFiles::default()).await.unwrap();
        node.executor.start(&container).await.unwrap();
        assert_eq!(
            inspect(&container, "{{json .HostConfig.PortBindings}}"),
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}]}"#
        );
        let port = inspect(&container, "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}");

        let deadline = Instant::now() + Duration::from_secs(10);
        let reply = loop {
            let attempt = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).and_then(|mut stream| {
                stream.write_all(b"GET /probe HTTP/1.0\r\n\r\n")?;
                let mut reply = String::new();
                stream.read_to_string(&mut reply)?;
                Ok(reply)
            });
            match attempt {
                Ok(reply) if !reply.is_empty() => break reply,
                _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                other => panic!("no answer on 127.0.0.1:{port}: {other:?}"),
            }
        };
        assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
        let hostname = inspect(&container, "{{.Config.Hostname}}");
        assert!(reply.ends_with(&format!("\r\n\r\nhello from {hostname} (1)\n")), "{reply}");
    })
    .await;
}

fn healthcheck(exit_code: &str) -> HealthConfig {
    HealthConfig {
        test: vec!["CMD".into(), "/hello".into(), "exit".into(), exit_code.into()],
        interval_ns: 100_000_000,
        timeout_ns: 2 * SECOND_NS,
        retries: 1,
        start_period_ns: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_waits_for_the_healthcheck() {
    within("healthchecks", async {
        let node = TestNode::new("health").await;

        let mut healthy = task("ok", Some(1), &["sleep"]);
        healthy.spec.container_spec.healthcheck = Some(healthcheck("0"));
        let container = node.executor.prepare(&healthy, &TaskFiles::default()).await.unwrap();
        node.executor.start(&container).await.unwrap();
        assert_eq!(inspect(&container, "{{.State.Health.Status}}"), "healthy");

        let mut unhealthy = task("sick", Some(2), &["sleep"]);
        unhealthy.spec.container_spec.healthcheck = Some(healthcheck("1"));
        let container = node.executor.prepare(&unhealthy, &TaskFiles::default()).await.unwrap();
        assert_eq!(node.executor.start(&container).await, Err(ExecError::Failed(UNHEALTHY_CONTAINER.to_string())));
        // An unhealthy container is killed and its exit says why.
        assert_eq!(
            node.executor.wait(&container).await.unwrap(),
            Exit { code: 137, reason: Some(UNHEALTHY_CONTAINER.to_string()) }
        );

        let mut disabled = task("none", Some(3), &["sleep"]);
        disabled.spec.container_spec.healthcheck = Some(HealthConfig { test: vec!["NONE".into()], ..healthcheck("1") });
        let container = node.executor.prepare(&disabled, &TaskFiles::default()).await.unwrap();
        node.executor.start(&container).await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_carries_the_task_spec() {
    within("create options", async {
        let node = TestNode::new("spec").await;
        let mut task = task("spec", Some(2), &["sleep"]);
        let spec = &mut task.spec.container_spec;
        spec.hostname = "{{.Service.Name}}-{{.Task.Slot}}".to_string();
        spec.env = vec!["TASK={{.Task.Name}}".to_string(), "PLAIN=1".to_string()];
        spec.dir = "/work".to_string();
        spec.user = "1000:1000".to_string();
        spec.labels.insert("team".to_string(), "blue".to_string());
        spec.stop_grace_period_ns = 2_500_000_000;
        spec.mounts = vec![Mount {
            kind: MountType::Tmpfs,
            source: String::new(),
            target: "/scratch".to_string(),
            read_only: false,
            tmpfs_options: Some(TmpfsOptions { size_bytes: 1 << 20, mode: 0o1770 }),
        }];
        spec.stop_signal = "SIGQUIT".to_string();
        spec.read_only = true;
        spec.init = Some(true);
        (spec.capability_add, spec.capability_drop) = effective_capabilities(&["net_admin"], &["mknod"]);
        spec.sysctls.insert("net.core.somaxconn".to_string(), "1024".to_string());
        spec.ulimits = vec![Ulimit::new("nofile", 1024, 2048)];
        spec.hosts = vec![hosts_entry("db:10.0.0.5").unwrap()];
        spec.dns_config.nameservers = vec!["10.0.0.2".to_string()];
        spec.dns_config.search = vec!["example.com".to_string()];
        spec.dns_config.options = vec!["ndots:2".to_string()];
        task.spec.log_driver = Some(LogDriver {
            name: "json-file".to_string(),
            options: [("max-size".to_string(), "10m".to_string())].into(),
        });
        task.spec.resources.limits.memory_bytes = 64 * 1024 * 1024;
        task.spec.resources.limits.nano_cpus = 500_000_000;
        task.spec.resources.reservations.memory_bytes = 32 * 1024 * 1024;
        let container = node.executor.prepare(&task, &TaskFiles::default()).await.unwrap();

        let expected = [
            ("{{.Config.Hostname}}", "hello-2".to_string()),
            // The image's own ENV follows the spec's.
            ("{{index .Config.Env 0}}", format!("TASK=hello.2.{}", task.id)),
            ("{{index .Config.Env 1}}", "PLAIN=1".to_string()),
            ("{{.Config.WorkingDir}}", "/work".to_string()),
            ("{{.Config.User}}", "1000:1000".to_string()),
            ("{{.Config.StopTimeout}}", "3".to_string()),
            ("{{index .Config.Labels \"team\"}}", "blue".to_string()),
            ("{{index .Config.Labels \"swarm.node.id\"}}", node.node_id().to_string()),
            ("{{index .Config.Labels \"swarm.task.id\"}}", task.id.clone()),
            ("{{index .Config.Labels \"swarm.service.id\"}}", "svc0001".to_string()),
            ("{{index .Config.Labels \"swarm.service.name\"}}", "hello".to_string()),
            ("{{index .Config.Labels \"swarm.task.slot\"}}", "2".to_string()),
            ("{{.HostConfig.Memory}}", (64 * 1024 * 1024).to_string()),
            ("{{.HostConfig.MemoryReservation}}", (32 * 1024 * 1024).to_string()),
            ("{{.HostConfig.NanoCpus}}", "500000000".to_string()),
            ("{{.HostConfig.RestartPolicy.Name}}", "no".to_string()),
            ("{{range .HostConfig.Mounts}}{{.Type}}:{{.Target}}{{end}}", "tmpfs:/scratch".to_string()),
            (
                "{{range .HostConfig.Mounts}}{{.TmpfsOptions.SizeBytes}}:{{printf \"%o\" .TmpfsOptions.Mode}}{{end}}",
                "1048576:1770".into(),
            ),
            ("{{.Config.StopSignal}}", "SIGQUIT".to_string()),
            ("{{.HostConfig.ReadonlyRootfs}}:{{.HostConfig.Init}}", "true:true".to_string()),
            ("{{.HostConfig.CapAdd}}:{{.HostConfig.CapDrop}}", "[CAP_NET_ADMIN]:[CAP_MKNOD]".to_string()),
            ("{{index .HostConfig.Sysctls \"net.core.somaxconn\"}}", "1024".to_string()),
            ("{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}}", "nofile=1024:2048".to_string()),
            ("{{.HostConfig.ExtraHosts}}", "[db:10.0.0.5]".to_string()),
            (
                "{{.HostConfig.Dns}} {{.HostConfig.DnsSearch}} {{.HostConfig.DnsOptions}}",
                "[10.0.0.2] [example.com] [ndots:2]".into(),
            ),
            (
                "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}}",
                "json-file 10m".into(),
            ),
        ];
        for (format, value) in expected {
            assert_eq!(inspect(&container, format), value, "{format}");
        }
        assert_eq!(node.executor.engine_version().await, inspect_engine_version());
    })
    .await;
}

fn inspect_engine_version() -> String {
    let output = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_named_in_the_error() {
    let error = DockerExecutor::connect_to("unix:///nonexistent/docker.sock", "test-unreachable", "test-cluster")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock."), "{error}");
}
