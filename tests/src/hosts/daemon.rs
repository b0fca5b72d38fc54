//! `HostDaemon`: a `swarm daemon` running in one test host's network namespace (on its own dockerd, listening on
//! the host's underlay address), and the `swarm` CLI pointed at its control socket. Invariant: the process is
//! killed and reaped when the value drops, also while a failing test unwinds; its data directory, socket and log
//! live in the host's directory, which `TestHosts` removes.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use super::TestHost;
use crate::{swarm_bin, wait_for};

/// The cluster port every host daemon listens on (each host has an address of its own).
pub const CLUSTER_PORT: u16 = 2377;
/// How long a daemon may take to open its control socket.
const SOCKET_DEADLINE: Duration = Duration::from_secs(90);

pub struct HostDaemon<'h> {
    pub host: &'h TestHost,
    socket: PathBuf,
    log: PathBuf,
    child: Child,
}

impl<'h> HostDaemon<'h> {
    /// Starts the daemon in `host`, outside any swarm, and waits for its control socket.
    pub fn start(host: &'h TestHost) -> HostDaemon<'h> {
        HostDaemon::start_with(host, &[])
    }

    /// `start`, with `extra` daemon flags.
    pub fn start_with(host: &'h TestHost, extra: &[&str]) -> HostDaemon<'h> {
        let socket = host.dir().join("swarm.sock");
        let log = host.dir().join("swarm.log");
        let log_file = File::create(&log).expect("daemon log");
        let child = host
            .command(swarm_bin())
            .args(["daemon", "--data-dir"])
            .arg(host.dir().join("swarm"))
            .args(["--listen-addr", &format!("{}:{CLUSTER_PORT}", host.addr()), "--hostname", host.name(), "-H"])
            .arg(format!("unix://{}", socket.display()))
            .args(extra)
            .env("SWARM_LOG", "info")
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("spawn swarm daemon");
        let daemon = HostDaemon { host, socket, log, child };
        wait_for("the control socket", SOCKET_DEADLINE, || daemon.socket.exists().then_some(()));
        daemon
    }

    /// `host:port` other nodes reach it at.
    pub fn cluster_addr(&self) -> String {
        format!("{}:{CLUSTER_PORT}", self.host.addr())
    }

    /// Runs `swarm ARGS` against this daemon; its output, whatever its exit status.
    pub fn cli(&self, args: &[&str]) -> Output {
        std::process::Command::new(swarm_bin())
            .args(args)
            .env("SWARM_HOST", format!("unix://{}", self.socket.display()))
            .stdin(Stdio::null())
            .output()
            .expect("run the swarm CLI")
    }

    /// Runs `swarm ARGS`; its stdout, or a panic with its stderr and the daemon's log tail.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "swarm {args:?} on {}: {}\n--- daemon log tail ---\n{}",
            self.host.name(),
            String::from_utf8_lossy(&output.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The last 30 lines of the daemon's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Kills the daemon (as a host dying would) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `swarm init` on the first daemon, advertising its host's address; `join` of the others as workers; then waits
/// until `node ls` shows every node Ready (panics after `deadline`).
pub fn form_cluster(daemons: &[HostDaemon<'_>], deadline: Duration) {
    let manager = &daemons[0];
    let manager_addr = manager.cluster_addr();
    manager.cli_ok(&["init", "--advertise-addr", &manager_addr]);
    let token = manager.cli_ok(&["join-token", "-q", "worker"]).trim().to_string();
    for worker in &daemons[1..] {
        worker.cli_ok(&["join", "--token", &token, "--advertise-addr", &worker.cluster_addr(), &manager_addr]);
    }
    wait_for(&format!("{} ready nodes", daemons.len()), deadline, || {
        let states = manager.cli_ok(&["node", "ls", "--format", "{{.Status}}"]);
        (states.matches("Ready").count() == daemons.len()).then_some(())
    });
}

impl Drop for HostDaemon<'_> {
    fn drop(&mut self) {
        self.kill();
    }
}
