//! Test hosts: several Docker hosts on this one machine, for end-to-end tests of what spans hosts (overlay
//! networks, the routing mesh, stacks). A host is a network namespace with an address on a private underlay subnet
//! and its own `dockerd` (own config file, data root, exec root, socket and engine ID) holding the test images; the
//! underlay is a bridge in a namespace of its own, and a veth from the root namespace lets the test process reach
//! every host's address. Needs root.
//!
//! Invariant: everything a run creates carries its run id `swt-<pid>-<seq>` (namespaces `swt-<pid>-<seq>-…`, the
//! directory `<tmp>/swt-<pid>-<seq>`, the root-namespace link `swt<pid>-<seq>`), and is removed when [`TestHosts`]
//! drops, also while a failing test unwinds; a run whose process died without dropping it is removed by the next
//! run's sweep ([`sweep_once`]). Nothing that does not carry such a name is ever touched.

mod cleanup;
mod daemon;
mod engine;
mod names;
mod underlay;

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::ops::Index;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use cleanup::{sweep_leftovers, RunFootprint};
pub use daemon::{form_cluster, HostDaemon, CLUSTER_PORT};
use names::RunNames;

/// The images every host's engine holds after [`TestHosts::start`] (built by `scripts/images`).
pub const HOST_IMAGES: [&str; 3] = ["swarm-hello:1", "swarm-hello:2", "swarm-tools:1"];
/// The TCP/IP interface of a host on the underlay, inside its namespace.
pub const HOST_UNDERLAY_LINK: &str = "eth0";
/// Most hosts one run may have (their addresses are `.1` to `.HOSTS_MAX` of the underlay /24).
pub const HOSTS_MAX: usize = 200;
/// Longest host-name prefix, so that namespace and directory names stay short.
pub const NAME_PREFIX_MAX_LEN: usize = 8;

/// How long an engine may take to answer after its `dockerd` was started (two shared cores, several at once).
const ENGINE_READY_DEADLINE: Duration = Duration::from_secs(90);

/// Several test hosts joined by one underlay; dropped, it removes everything it created.
pub struct TestHosts {
    names: RunNames,
    hosts: Vec<TestHost>,
    subnet_base: Option<Ipv4Addr>,
    bring_up: Duration,
}

/// One host: a network namespace on the underlay with its own Docker Engine.
pub struct TestHost {
    name: String,
    netns: String,
    addr: Ipv4Addr,
    dir: PathBuf,
    dockerd: Option<Child>,
}

impl TestHosts {
    /// Brings up `count` hosts named `<name_prefix>1`…`<name_prefix><count>` (`name_prefix`: 1 to 8 lowercase
    /// letters or digits, ending in a letter): installs missing host tools (`scripts/test-deps`), builds the test
    /// images (`scripts/images`), sweeps what crashed runs left, then creates the underlay, the hosts and their
    /// engines, and loads [`HOST_IMAGES`] into every engine. Panics (after cleaning up) if anything fails.
    pub fn start(name_prefix: &str, count: usize) -> TestHosts {
        TestHosts::start_with_images(name_prefix, count, &[])
    }

    /// [`Self::start`], loading `extra_images` from the machine's engine into every host's too (the caller makes
    /// sure they exist, e.g. with `ensure_seed_images`).
    pub fn start_with_images(name_prefix: &str, count: usize, extra_images: &[&str]) -> TestHosts {
        assert!(
            !name_prefix.is_empty()
                && name_prefix.len() <= NAME_PREFIX_MAX_LEN
                && name_prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && name_prefix.bytes().last().is_some_and(|b| b.is_ascii_lowercase()),
            "host name prefix {name_prefix:?}: 1 to {NAME_PREFIX_MAX_LEN} lowercase letters or digits, ending in a letter"
        );
        assert!((1..=HOSTS_MAX).contains(&count), "{count} hosts: 1 to {HOSTS_MAX} per run");
        ensure_prerequisites();
        sweep_once();

        static NEXT_SEQ: AtomicU32 = AtomicU32::new(0);
        let names = RunNames::new(std::process::id(), NEXT_SEQ.fetch_add(1, Ordering::Relaxed));
        let started = Instant::now();
        // From here on, a panic drops `hosts`, which removes whatever was created so far.
        let mut hosts = TestHosts { names, hosts: Vec::new(), subnet_base: None, bring_up: Duration::ZERO };
        std::fs::create_dir_all(hosts.names.dir()).expect("create the run directory");
        let subnet_base = underlay::create(&hosts.names);
        hosts.subnet_base = Some(subnet_base);
        for index in 1..=count {
            let name = format!("{name_prefix}{index}");
            let netns = hosts.names.host_netns(&name);
            let addr = host_addr(subnet_base, index);
            let dir = hosts.names.dir().join(&name);
            std::fs::create_dir_all(&dir).expect("create the host directory");
            // Pushed before its namespace exists, so that a failure below still cleans it up.
            hosts.hosts.push(TestHost { name, netns, addr, dir, dockerd: None });
            underlay::add_host(&hosts.names, index, &hosts.hosts[index - 1].netns, addr);
        }
        let wanted: Vec<&str> = HOST_IMAGES.iter().chain(extra_images).copied().collect();
        let images = engine::save_images(&hosts.names.dir(), &wanted);
        std::thread::scope(|scope| {
            for (index, host) in hosts.hosts.iter_mut().enumerate() {
                let images = &images;
                scope.spawn(move || {
                    engine::start(host, index + 1, ENGINE_READY_DEADLINE);
                    engine::load_images(host, images);
                });
            }
        });
        hosts.bring_up = started.elapsed();
        hosts
    }

    pub fn hosts(&self) -> &[TestHost] {
        &self.hosts
    }

    /// This run's id, `swt-<pid>-<seq>`.
    pub fn run_id(&self) -> String {
        self.names.id()
    }

    /// The underlay subnet, e.g. `198.18.0.0/24`.
    pub fn subnet(&self) -> String {
        format!("{}/24", self.subnet_base.expect("the underlay exists"))
    }

    /// The test process's own address on the underlay (`.254`, on the root-namespace link [`Self::root_link`]).
    pub fn root_addr(&self) -> Ipv4Addr {
        host_addr(self.subnet_base.expect("the underlay exists"), underlay::ROOT_HOST_INDEX)
    }

    /// The root-namespace end of the veth into the underlay bridge.
    pub fn root_link(&self) -> String {
        self.names.root_link()
    }

    /// The namespace holding the underlay bridge.
    pub fn underlay_netns(&self) -> String {
        self.names.underlay_netns()
    }

    /// How long [`TestHosts::start`] took from its run id to every engine holding the images (prerequisites and
    /// the sweep excluded).
    pub fn bring_up_time(&self) -> Duration {
        self.bring_up
    }

    /// What identifies this run's resources, to check after drop that none remains.
    pub fn footprint(&self) -> RunFootprint {
        RunFootprint::of(&self.names)
    }
}

impl Index<usize> for TestHosts {
    type Output = TestHost;
    fn index(&self, index: usize) -> &TestHost {
        &self.hosts[index]
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        let started = Instant::now();
        let engine_pids: Vec<u32> = self.hosts.iter().filter_map(|h| h.dockerd.as_ref().map(Child::id)).collect();
        let mut problems = cleanup::kill_test_processes(&self.names, &engine_pids);
        std::thread::scope(|scope| {
            for host in self.hosts.iter_mut() {
                scope.spawn(move || engine::stop(host));
            }
        });
        problems.extend(cleanup::remove_run(&self.names));
        for problem in &problems {
            eprintln!("test hosts {}: cleanup: {problem}", self.names.id());
        }
        eprintln!("test hosts {}: removed in {:.2?}", self.names.id(), started.elapsed());
    }
}

impl TestHost {
    /// `<name_prefix><n>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's address on the underlay (on [`HOST_UNDERLAY_LINK`] in its namespace).
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The network namespace's name (`ip netns`), `swt-<pid>-<seq>-<name>`.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// `/var/run/netns/<netns>`.
    pub fn netns_path(&self) -> PathBuf {
        names::netns_path(&self.netns)
    }

    /// The host's directory (engine config, data and exec roots, socket, log); removed with the run.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The engine's socket path.
    pub fn docker_socket(&self) -> PathBuf {
        engine::socket_path(&self.dir)
    }

    /// `unix://<socket>`, the value of `DOCKER_HOST` for this host's engine.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.docker_socket().display())
    }

    /// `nsenter --net=<netns> -- PROGRAM` with `DOCKER_HOST` set to this host's engine and stdin closed: add
    /// arguments, environment and stdio, then `output()` or `spawn()`. A process spawned this way and still running
    /// when [`TestHosts`] drops is killed then (with everything it started); its `Child` only needs reaping.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.netns_path().display()))
            .arg("--")
            .arg(program)
            .env("DOCKER_HOST", self.docker_host())
            .stdin(Stdio::null());
        command
    }

    /// Runs `PROGRAM ARGS` in this host's namespace and returns its output, whatever its exit status.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program).args(args).output().unwrap_or_else(|e| panic!("run {program} in {}: {e}", self.name))
    }

    /// The text of this host's routing-mesh table (`nft list table ip swarm_mesh_…`), empty without one.
    pub fn mesh_table(&self) -> String {
        let tables = self.run_ok("nft", &["list", "tables"]);
        let table =
            tables.lines().find_map(|line| line.strip_prefix("table ip ").filter(|t| t.starts_with("swarm_mesh_")));
        table.map_or_else(String::new, |table| self.run_ok("nft", &["list", "table", "ip", table.trim()]))
    }

    /// The addresses of container `name` on its networks.
    pub fn container_addrs(&self, name: &str) -> Vec<std::net::Ipv4Addr> {
        let format = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}";
        let addrs = self.docker(&["inspect", "--format", format, name]);
        addrs.split_whitespace().filter_map(|addr| addr.parse().ok()).collect()
    }

    /// Runs `PROGRAM ARGS` in this host's namespace; returns its stdout, panics with its stderr if it fails.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> String {
        let output = self.run(program, args);
        assert!(
            output.status.success(),
            "{program} {args:?} in {}: {}{}",
            self.name,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `docker -H <this host's engine>` (the client runs in the root namespace; what it starts runs in the host's).
    pub fn docker_command(&self) -> Command {
        let mut command = Command::new("docker");
        command.arg("-H").arg(self.docker_host()).stdin(Stdio::null());
        command
    }

    /// Runs `docker ARGS` against this host's engine; returns its output, whatever its exit status.
    pub fn try_docker(&self, args: &[&str]) -> Output {
        self.docker_command().args(args).output().expect("run docker")
    }

    /// Runs `docker ARGS` against this host's engine; returns its stdout, panics with its stderr if it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let output = self.try_docker(args);
        assert!(
            output.status.success(),
            "docker {args:?} on {}: {}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The engine's ID (`docker info --format {{.ID}}`), distinct per host.
    pub fn engine_id(&self) -> String {
        self.docker(&["info", "--format", "{{.ID}}"]).trim().to_string()
    }

    /// The engine's log so far.
    pub fn dockerd_log(&self) -> String {
        std::fs::read_to_string(engine::log_path(&self.dir)).unwrap_or_default()
    }
}

/// Address `.index` in the underlay /24 at `subnet_base`.
fn host_addr(subnet_base: Ipv4Addr, index: usize) -> Ipv4Addr {
    let [a, b, c, _] = subnet_base.octets();
    Ipv4Addr::new(a, b, c, u8::try_from(index).expect("host index fits the /24"))
}

impl TestHosts {
    /// Runs `sh -c SCRIPT` in the container of a task of `service` (found on its host by name prefix); panics if
    /// no host runs one.
    pub fn exec_in_service(&self, service: &str, script: &str) -> std::process::Output {
        let mut seen = Vec::new();
        for host in self.hosts() {
            let names = host.docker(&["ps", "--format", "{{.Names}}"]);
            if let Some(name) = names.lines().find(|name| name.starts_with(&format!("{service}."))) {
                return host.try_docker(&["exec", name, "sh", "-c", script]);
            }
            seen.push(format!("{}: {}", host.name(), host.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])));
        }
        panic!("no running container of {service} on any host: {seen:?}");
    }
}

/// Host tools (`scripts/test-deps`) and test images (`scripts/images`), once per process.
fn ensure_prerequisites() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf();
        let status =
            Command::new(root.join("scripts/test-deps")).current_dir(&root).status().expect("run scripts/test-deps");
        assert!(status.success(), "scripts/test-deps failed");
        crate::ensure_test_images();
    });
}

/// Removes what crashed runs of this harness left ([`sweep_leftovers`]), once per process; every
/// [`TestHosts::start`] calls it first. A test that plants leftovers of its own calls it before, so that the
/// automatic sweep cannot run while it plants them.
pub fn sweep_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for removed in sweep_leftovers() {
            eprintln!("test hosts: swept a crashed run's {removed}");
        }
    });
}
