//! End-to-end harness: real `swarm daemon` processes on 127.0.0.x addresses with their own data directories.
//! Tests and benchmarks start, kill (`SIGKILL`, like `kill -9`) and restart them, and talk to them through the
//! same cluster API the CLI uses. Waiting is polling with a deadline, never a fixed sleep.

pub mod chaos;
pub mod hosts;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use swarm_runtime::http::HttpClient;
use swarm_runtime::manager::api::{ManagerStatus, PATH_STATUS, PATH_STORE};
use swarm_runtime::manager::client::ClusterClient;

/// The `swarm` binary next to this test executable (`target/<profile>/swarm`), or `$SWARM_BIN`.
pub fn swarm_bin() -> PathBuf {
    if let Ok(path) = std::env::var("SWARM_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("swarm");
    assert!(bin.exists(), "{} not found: build it first (cargo build -p swarm) or set SWARM_BIN", bin.display());
    bin
}

/// A fresh, empty directory under the system temp dir, unique to this process and `name`.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swarm-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

pub struct Daemon {
    pub addr: String,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    /// The control API socket (`-H unix://…`), beside the data directory.
    pub socket: PathBuf,
    child: Option<Child>,
    /// True between `freeze` and `thaw`: the process is SIGSTOPped.
    frozen: std::cell::Cell<bool>,
    /// The extra `swarm daemon` arguments it was started with; `restart` passes them again.
    extra: Vec<String>,
    /// Every store node id this daemon has had (a `leave` deletes `node.json`, a rejoin makes a new one): `Drop`
    /// removes the containers of all of them, so a test leaves nothing behind in Docker.
    node_ids: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

pub enum Role<'a> {
    /// `swarm daemon --init`.
    Init,
    /// Start, then `swarm join --token TOKEN ADDR` through the control API.
    Join { addr: &'a str, token: &'a str },
    /// Start on an existing data directory.
    Restart,
}

impl Daemon {
    /// Starts `swarm daemon` listening on `addr` with `data_dir`.
    pub fn start(addr: &str, data_dir: &Path, role: Role<'_>) -> Daemon {
        Daemon::start_with(addr, data_dir, role, &[])
    }

    pub fn start_with(addr: &str, data_dir: &Path, role: Role<'_>, extra: &[&str]) -> Daemon {
        let mut daemon = Daemon {
            addr: addr.to_string(),
            data_dir: data_dir.to_path_buf(),
            log_path: data_dir.with_extension("log"),
            socket: data_dir.with_extension("sock"),
            child: None,
            frozen: Default::default(),
            extra: extra.iter().map(|a| a.to_string()).collect(),
            node_ids: Default::default(),
        };
        daemon.spawn(&role);
        if let Role::Join { addr: manager, token } = role {
            wait_for("the control socket", Duration::from_secs(20), || daemon.socket.exists().then_some(()));
            let output = daemon.cli(&["join", "--token", token, manager]);
            assert!(output.status.success(), "swarm join failed: {}\n{}", output.stderr_text(), daemon.log());
        }
        daemon
    }

    /// Runs `swarm ARGS -H <this daemon's socket>` and returns its output.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        self.remember_node_id();
        let output = Command::new(swarm_bin())
            .args(args)
            .env("SWARM_HOST", format!("unix://{}", self.socket.display()))
            .stdin(Stdio::null())
            .output()
            .expect("run the swarm CLI");
        self.remember_node_id();
        CliOutput { status: output.status, stdout: output.stdout, stderr: output.stderr }
    }

    fn remember_node_id(&self) {
        if let Some(id) = node_id_of(&self.data_dir) {
            self.node_ids.borrow_mut().insert(id);
        }
    }

    /// Runs `swarm ARGS` and returns its stdout; panics (with stderr and the daemon log tail) if it fails.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(output.status.success(), "swarm {args:?} failed: {}", output.stderr_text());
        output.stdout_text()
    }

    /// `swarm join-token -q ROLE` on this (manager) daemon.
    pub fn join_token(&self, role: &str) -> String {
        wait_for("the control socket", Duration::from_secs(20), || self.socket.exists().then_some(()));
        wait_for(&format!("a {role} join token"), Duration::from_secs(30), || {
            let output = self.cli(&["join-token", "-q", role]);
            output.status.success().then(|| output.stdout_text().trim().to_string())
        })
    }

    fn spawn(&mut self, role: &Role<'_>) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_path).expect("daemon log");
        let mut command = Command::new(swarm_bin());
        command
            .arg("daemon")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen-addr")
            .arg(&self.addr)
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("--hostname")
            .arg(self.data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        match role {
            Role::Init => {
                command.arg("--init");
            }
            Role::Join { .. } | Role::Restart => {}
        }
        self.child = Some(command.spawn().expect("spawn swarm daemon"));
    }

    /// The daemon's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGSTOP: the process stops where it is — timers, threads, sockets — until `thaw`. Nothing is lost; its peers
    /// see it as silent.
    pub fn freeze(&self) {
        if self.signal(libc::SIGSTOP) {
            self.frozen.set(true);
        }
    }

    /// SIGCONT: a frozen process resumes with its stale state and timers.
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
        self.frozen.set(false);
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.get()
    }

    /// Sends `signal` to the running process; false if there is none.
    fn signal(&self, signal: libc::c_int) -> bool {
        let Some(pid) = self.pid().and_then(|pid| libc::pid_t::try_from(pid).ok()) else { return false };
        // SAFETY: kill(2) on our own child's pid; `child` is not reaped until `kill9`/`wait_exit`, so the pid is ours.
        unsafe { libc::kill(pid, signal) == 0 }
    }

    /// SIGTERM, then up to `deadline` for the daemon's own shutdown; SIGKILL if it has not exited by then. Returns
    /// whether it exited by itself.
    pub fn stop(&mut self, deadline: Duration) -> bool {
        self.thaw();
        if !self.signal(libc::SIGTERM) {
            return false;
        }
        let clean = self.wait_exit(deadline).is_some();
        self.kill9();
        clean
    }

    /// SIGKILL, like `kill -9`: no shutdown code runs. A frozen process is continued first, so none stays stopped.
    pub fn kill9(&mut self) {
        if self.frozen.get() {
            self.thaw();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn(&Role::Restart);
    }

    /// Waits for the process to exit by itself and returns its exit status.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Some(status);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The daemon's control API address (`unix://…`).
    pub fn control_addr(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// This node's TLS identity (its certificate from its data directory), addressing managers: what another
    /// manager of its swarm would use. `None` while the node has no certificate.
    pub fn manager_tls(&self) -> Option<swarm_runtime::tls::ClientTls> {
        let (identity, _) = swarm_runtime::daemon::cert_files::CertFiles::open(&self.data_dir).ok()?.load().ok()?;
        let tls = swarm_runtime::tls::TlsHandle::new(identity).ok()?;
        Some(swarm_runtime::tls::ClientTls::to_managers(&tls))
    }

    /// A client of a cluster port over mutual TLS as this node (`manager_tls`).
    pub fn cluster_client(&self, addr: &str) -> Option<HttpClient> {
        Some(HttpClient::tls(addr, self.manager_tls()?))
    }

    /// The local manager's Raft status, through the control socket.
    pub fn status(&self) -> Option<ManagerStatus> {
        let bytes =
            block_on(async { HttpClient::new(self.control_addr()).get(PATH_STATUS, Duration::from_secs(2)).await })
                .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// True once this manager leads and has applied the cluster object (`swarm daemon --init` proposes it right
    /// after bootstrapping; proposals before it are rejected with "cluster is not initialized").
    pub fn leads_initialized_cluster(&self) -> bool {
        let leads = self.status().is_some_and(|s| s.state == "Leader");
        leads && self.store_json().is_some_and(|store| !store["cluster"].is_null())
    }

    /// This manager's applied store as JSON (`cluster`, `nodes`, `services`, `tasks`, `networks`).
    pub fn store_json(&self) -> Option<serde_json::Value> {
        let bytes =
            block_on(async { HttpClient::new(self.control_addr()).get(PATH_STORE, Duration::from_secs(2)).await })
                .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Names of the networks the tests made in this manager's applied store (not `ingress`).
    pub fn network_names(&self) -> Option<Vec<String>> {
        let bytes =
            block_on(async { HttpClient::new(self.control_addr()).get(PATH_STORE, Duration::from_secs(2)).await })
                .ok()?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let mut names: Vec<String> = value["networks"]
            .as_array()?
            .iter()
            // `ingress` is made by `swarm init`, not by a test.
            .filter(|n| n["spec"]["ingress"] != true)
            .filter_map(|n| n["spec"]["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        Some(names)
    }
}

/// What a CLI run printed.
pub struct CliOutput {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CliOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.remember_node_id();
        self.kill9();
        for node_id in self.node_ids.borrow().iter() {
            remove_containers_of_node_id(node_id);
            remove_overlay_networks_of_node_id(node_id);
            remove_task_files_of_node_id(node_id);
        }
    }
}

/// Removes what node `node_id`'s data plane made on this engine and in this network namespace: its overlay Docker
/// networks (label `swarm.node.id` beside `swarm.overlay.network-id`) and their VXLAN devices (`swv-` + the first
/// ten characters of the overlay network id; the gateway devices go with them), its egress network, its routing
/// mesh table and `DOCKER-USER` rule, and — once no overlay gateway device of any node is left in the namespace —
/// the shared isolation table. Nothing another node made is touched.
pub fn remove_overlay_networks_of_node_id(node_id: &str) {
    let listed = docker(&[
        "network",
        "ls",
        "--filter",
        &format!("label=swarm.node.id={node_id}"),
        "--filter",
        "label=swarm.overlay.network-id",
        "--format",
        "{{.ID}} {{.Label \"swarm.overlay.network-id\"}}",
    ]);
    for line in listed.lines() {
        let Some((docker_id, overlay_id)) = line.split_once(' ') else { continue };
        let _ = Command::new("docker").args(["network", "rm", docker_id]).output();
        let device: String = format!("swv-{}", overlay_id.chars().take(10).collect::<String>());
        let _ = Command::new("ip").args(["link", "del", &device]).output();
    }
    let egress = swarm_runtime::worker::docker::networks::egress_network_name(node_id);
    let _ = Command::new("docker").args(["network", "rm", &egress]).output();
    let mesh_table = swarm_runtime::worker::overlay::mesh::table_name(node_id);
    let _ = Command::new("nft").args(["delete", "table", "ip", &mesh_table]).output();
    let rule = swarm_runtime::worker::overlay::mesh::rule_args(node_id);
    let _ = Command::new("iptables").arg("-w").arg("-D").args(&rule).output();
    let links = Command::new("ip").args(["-o", "link", "show"]).output();
    let gateways_left = links.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(": swg-"));
    if !gateways_left {
        let _ = Command::new("nft").args(["delete", "table", "inet", "swarm_overlay"]).output();
    }
}

/// Unmounts (lazily) and removes the tmpfs of secret and config files node `node_id`'s agent mounted, if any.
pub fn remove_task_files_of_node_id(node_id: &str) {
    let dir = swarm_runtime::daemon::task_files_dir(node_id);
    let _ = Command::new("umount").arg("-l").arg(&dir).output();
    let _ = std::fs::remove_dir(&dir);
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

/// The store node id a daemon recorded in `<data-dir>/node.json`, once it is in a swarm.
pub fn node_id_of(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join("node.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["node_id"].as_str().map(str::to_string)
}

/// Removes (forcefully) every Docker container labelled with the node id recorded in `data_dir`.
pub fn remove_containers_of_node(data_dir: &Path) {
    if let Some(node_id) = node_id_of(data_dir) {
        remove_containers_of_node_id(&node_id);
    }
}

/// Removes (forcefully) every Docker container labelled with `node_id`. A removal the killed daemon had started
/// goes on in the engine ("removal … is already in progress"), so a failed `rm` is tried again until the
/// containers are gone, for a few seconds; it never panics (it runs in `Drop`, also while a test unwinds).
pub fn remove_containers_of_node_id(node_id: &str) {
    let filter = format!("label=swarm.node.id={node_id}");
    for _ in 0..50 {
        let Ok(listed) = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output() else { return };
        let ids = String::from_utf8_lossy(&listed.stdout).into_owned();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return;
        }
        let removed = Command::new("docker").args(["rm", "-f"]).args(&ids).output();
        if removed.is_ok_and(|output| output.status.success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("containers of node {node_id} could not all be removed");
}

/// Names of the running Docker containers of the nodes whose data directories are `data_dirs` that also carry
/// `label` (`key=value`). A test sees only its own nodes' containers: a user's cluster (`scripts/up`) may run
/// services of the same names beside it on this engine.
pub fn containers_of_nodes<P: AsRef<Path>>(data_dirs: &[P], label: &str) -> Vec<String> {
    let mut names = Vec::new();
    for node_id in data_dirs.iter().filter_map(|dir| node_id_of(dir.as_ref())) {
        let own = format!("label=swarm.node.id={node_id}");
        let wanted = format!("label={label}");
        names.extend(
            docker(&["ps", "--filter", &own, "--filter", &wanted, "--format", "{{.Names}}"])
                .lines()
                .map(str::to_string),
        );
    }
    names.sort();
    names
}

/// Runs `docker ARGS` and returns its stdout; panics if docker cannot be run or fails.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().expect("run docker");
    assert!(output.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds the test images (`swarm-hello:1`, `swarm-hello:2`) with `scripts/images`, once per process.
pub fn ensure_test_images() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf();
        let status = Command::new(root.join("scripts/images")).current_dir(&root).status().expect("run scripts/images");
        assert!(status.success(), "scripts/images failed");
    });
}

/// Builds the test images and the seed's stand-in images (`swarm-postgres:1`, `swarm-php:1`) with
/// `scripts/images --seed`, once per process: minutes the first time on a machine (a Debian root filesystem), about a
/// second once cached.
pub fn ensure_seed_images() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf();
        let status = Command::new(root.join("scripts/images"))
            .arg("--seed")
            .current_dir(&root)
            .status()
            .expect("run scripts/images --seed");
        assert!(status.success(), "scripts/images --seed failed");
    });
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

/// A plain HTTP/1.0 `GET /` to `addr` from the test process: the status code and the body, or `None` while no
/// complete HTTP answer comes (nothing listening yet, a reset, an answer cut short).
pub fn http_get(addr: SocketAddr) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    stream.write_all(format!("GET / HTTP/1.0\r\nHost: {}\r\n\r\n", addr.ip()).as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.strip_prefix("HTTP/1.")?.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The body of `http_get`'s answer if its status was 200.
pub fn http_get_ok(addr: SocketAddr) -> Option<String> {
    http_get(addr).filter(|(status, _)| *status == 200).map(|(_, body)| body)
}

/// Whether `text` names one of `addrs` as a whole address (10.0.0.5 is not in 10.0.0.50).
pub fn names_any_addr(text: &str, addrs: &[std::net::Ipv4Addr]) -> bool {
    let words: Vec<&str> = text.split(|c: char| !(c.is_ascii_digit() || c == '.')).collect();
    addrs.iter().any(|addr| words.contains(&addr.to_string().as_str()))
}

/// Polls `probe` until it returns `Some` or `deadline` passes; panics with `what` and the last observation.
pub fn wait_for<T>(what: &str, deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A proposal creating network `name` (id = name).
pub fn create_network(name: &str) -> swarm_core::Proposal {
    swarm_core::Proposal::new(
        swarm_core::Timestamp(1),
        swarm_core::Command::CreateNetwork {
            network_id: name.to_string(),
            spec: swarm_core::NetworkSpec { name: name.to_string(), ..Default::default() },
        },
    )
}

/// Proposes network creations `prefix-0..count` through any of `addrs`, as the manager `daemon` (its certificate);
/// panics if one is not acknowledged.
pub fn create_networks(daemon: &Daemon, addrs: &[String], prefix: &str, count: usize) {
    let tls = daemon.manager_tls().expect("the manager's certificate");
    block_on(async {
        let mut client = ClusterClient::new(addrs, Duration::from_secs(5), Some(tls));
        for i in 0..count {
            let name = format!("{prefix}-{i}");
            let mut attempts = 0;
            loop {
                match client.propose(create_network(&name)).await {
                    Ok(committed) => {
                        // After a failed attempt the first try may have committed; then this one is the duplicate.
                        assert!(
                            committed.response.is_ok() || attempts > 0,
                            "creating {name}: {:?}",
                            committed.response
                        );
                        break;
                    }
                    Err(error) => {
                        attempts += 1;
                        assert!(attempts < 100, "creating {name}: {error}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    });
}
