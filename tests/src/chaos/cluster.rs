//! The drill's cluster: three managers (members 0–2, `m1`–`m3`) and two workers (members 3–4, `w1`, `w2`) on
//! `127.0.<net>.1..5`, all on this machine's Docker Engine. It owns the processes — faults go through it so the
//! journal records each one (down before the signal, up after) — the CLI runs with a hard time limit, the Raft view
//! of every manager, and the cleanup: every process continued and killed, its containers removed, the data
//! directories deleted, also when the drill panics.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use swarm_runtime::manager::api::ManagerStatus;

use super::journal::{Change, Journal, MemberInfo};
use crate::{node_id_of, scratch_dir, swarm_bin, wait_for, Daemon, Role};

pub const MANAGERS: usize = 3;
pub const MEMBERS: usize = 5;
const NAMES: [&str; MEMBERS] = ["m1", "m2", "m3", "w1", "w2"];
const FORM: Duration = Duration::from_secs(60);

/// A CLI run's output and wall time.
pub struct CliRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub start: Instant,
    pub end: Instant,
}

/// Runs `swarm ARGS` against the daemon whose control socket is `socket`, killed after `limit` (so a hung command
/// cannot hang the drill; it then fails with "killed after …").
pub fn run_cli(socket: &Path, args: &[&str], limit: Duration) -> CliRun {
    let start = Instant::now();
    let output = Command::new("timeout")
        .args(["-s", "KILL", &format!("{:.1}", limit.as_secs_f64())])
        .arg(swarm_bin())
        .args(args)
        .env("SWARM_HOST", format!("unix://{}", socket.display()))
        .stdin(Stdio::null())
        .output();
    let end = Instant::now();
    match output {
        Ok(output) => {
            let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            if output.status.code().is_none() || output.status.code() == Some(137) {
                stderr = format!("killed after {limit:?} without an answer\n{stderr}");
            }
            CliRun {
                ok: output.status.success(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr,
                start,
                end,
            }
        }
        Err(error) => CliRun { ok: false, stdout: String::new(), stderr: error.to_string(), start, end },
    }
}

pub struct ChaosCluster {
    pub dir: PathBuf,
    pub addrs: Vec<String>,
    pub journal: Arc<Journal>,
    daemons: Vec<Daemon>,
    /// Daemons replaced by a fresh identity, kept (killed) until the end so their drop — which removes their node's
    /// containers — cannot hide orphans from the checks.
    retired: Vec<Daemon>,
    /// Set when a check failed: the daemon logs are kept for a post-mortem.
    pub keep_logs: bool,
}

impl ChaosCluster {
    /// Forms the cluster: `m1` initialises it, `m2`, `m3` join as managers, `w1`, `w2` as workers; returns once
    /// there are three voters and five Ready nodes.
    pub fn form(name: &str, net: u8, port: u16, daemon_args: &[&str], journal: Arc<Journal>) -> ChaosCluster {
        let dir = scratch_dir(name);
        let addrs: Vec<String> = (1..=MEMBERS).map(|i| format!("127.0.{net}.{i}:{port}")).collect();
        let mut cluster =
            ChaosCluster { dir, addrs, journal, daemons: Vec::new(), retired: Vec::new(), keep_logs: false };
        let first = Daemon::start_with(&cluster.addrs[0], &cluster.dir.join(NAMES[0]), Role::Init, daemon_args);
        cluster.daemons.push(first);
        wait_for("m1 to lead an initialised cluster", FORM, || {
            cluster.daemons[0].leads_initialized_cluster().then_some(())
        });
        let manager_token = cluster.daemons[0].join_token("manager");
        let worker_token = cluster.daemons[0].join_token("worker");
        for (member, name) in NAMES.iter().enumerate().skip(1) {
            let token = if member < MANAGERS { &manager_token } else { &worker_token };
            let role = Role::Join { addr: &cluster.addrs[0], token };
            let daemon = Daemon::start_with(&cluster.addrs[member], &cluster.dir.join(name), role, daemon_args);
            cluster.daemons.push(daemon);
        }
        for (member, name) in NAMES.iter().enumerate() {
            let daemon = &cluster.daemons[member];
            let info = MemberInfo { name: name.to_string(), manager: member < MANAGERS, socket: daemon.socket.clone() };
            let index = cluster.journal.add_member(info);
            let id = wait_for(&format!("{name}'s node id"), FORM, || node_id_of(&daemon.data_dir));
            cluster.journal.identify(index, &id);
        }
        wait_for("three voters", FORM, || cluster.daemons[0].status().filter(|s| s.voters.len() == MANAGERS));
        wait_for("five Ready nodes", FORM, || {
            let text = cluster.daemons[0].cli(&["node", "ls"]).stdout_text();
            (text.matches(" Ready ").count() == MEMBERS).then_some(())
        });
        cluster
    }

    pub fn daemon(&self, member: usize) -> &Daemon {
        &self.daemons[member]
    }

    pub fn name(&self, member: usize) -> &'static str {
        NAMES[member]
    }

    pub fn manager_names(&self) -> Vec<String> {
        NAMES[..MANAGERS].iter().map(|n| n.to_string()).collect()
    }

    /// True if `member` is killed or frozen now.
    pub fn faulted(&self, member: usize) -> bool {
        self.journal.faulted(member, self.journal.now())
    }

    /// The control API addresses (`unix://…`) of the first `count` members.
    pub fn control_addrs(&self, count: usize) -> Vec<String> {
        self.daemons[..count].iter().map(|daemon| daemon.control_addr()).collect()
    }

    /// `swarm ARGS` through `member`'s control socket, limited to 30 s.
    pub fn cli(&self, member: usize, args: &[&str]) -> CliRun {
        run_cli(&self.daemons[member].socket, args, Duration::from_secs(30))
    }

    /// The Raft status of every manager that is neither killed nor frozen (`None` for the others and for those that
    /// did not answer).
    pub fn statuses(&self) -> Vec<Option<ManagerStatus>> {
        (0..MANAGERS).map(|m| if self.faulted(m) { None } else { self.daemons[m].status() }).collect()
    }

    /// The member at `addr`.
    pub fn member_at(&self, addr: &str) -> Option<usize> {
        self.addrs.iter().position(|a| a == addr)
    }

    /// The member a Raft id names, through the voters of `status`.
    pub fn member_of_raft_id(&self, status: &ManagerStatus, id: u64) -> Option<usize> {
        status.voters.get(&id).and_then(|addr| self.member_at(addr))
    }

    /// Polls until every manager answers with the same term and the same leader, one of them; returns the leader's
    /// member and the term, or `None` with the last views after `deadline`.
    pub fn await_stable(&self, deadline: Duration) -> Result<(usize, u64), Vec<Option<ManagerStatus>>> {
        let start = Instant::now();
        loop {
            let statuses = self.statuses();
            if let Some(agreed) = self.agreement(&statuses) {
                return Ok(agreed);
            }
            if start.elapsed() > deadline {
                return Err(statuses);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn agreement(&self, statuses: &[Option<ManagerStatus>]) -> Option<(usize, u64)> {
        let first = statuses.first()?.as_ref()?;
        let leader_id = first.leader?;
        let all_agree =
            statuses.iter().all(|s| s.as_ref().is_some_and(|s| s.term == first.term && s.leader == Some(leader_id)));
        let leaders = statuses.iter().flatten().filter(|s| s.state == "Leader").count();
        let leader = self.member_of_raft_id(first, leader_id)?;
        let leader_says = statuses[leader].as_ref().is_some_and(|s| s.state == "Leader" && s.node_id == leader_id);
        (all_agree && leaders == 1 && leader_says).then_some((leader, first.term))
    }

    pub fn freeze(&self, member: usize) {
        self.journal.change(member, Change::Down);
        self.daemons[member].freeze();
    }

    pub fn thaw(&self, member: usize) {
        self.daemons[member].thaw();
        self.journal.change(member, Change::Thawed);
    }

    pub fn kill(&mut self, member: usize) {
        self.journal.change(member, Change::Down);
        self.daemons[member].kill9();
    }

    /// Restarts `member` on its data directory and waits until its control socket accepts connections (a command
    /// sent before would fail with "Cannot connect", which says nothing about the cluster).
    pub fn restart(&mut self, member: usize) {
        self.daemons[member].restart();
        self.journal.change(member, Change::Restarted);
        let socket = self.daemons[member].socket.clone();
        wait_for("the restarted daemon's control socket", FORM, || UnixStream::connect(&socket).ok().map(drop));
    }

    /// Stops `member` with SIGTERM (the journal marks it down first). Returns whether it exited by itself.
    pub fn stop(&mut self, member: usize) -> bool {
        self.journal.change(member, Change::Down);
        self.daemons[member].stop(Duration::from_secs(10))
    }

    /// Starts a fresh daemon for `member` on its address and a wiped data directory and joins it as a manager
    /// through `via` with `token`. The stopped daemon is kept until the end (see `retired`).
    pub fn rejoin_fresh(&mut self, member: usize, via: usize, token: &str, daemon_args: &[&str]) -> String {
        let data_dir = self.daemons[member].data_dir.clone();
        let _ = std::fs::remove_dir_all(&data_dir);
        let _ = std::fs::remove_file(&self.daemons[member].socket);
        let role = Role::Join { addr: &self.addrs[via], token };
        let fresh = Daemon::start_with(&self.addrs[member], &data_dir, role, daemon_args);
        let old = std::mem::replace(&mut self.daemons[member], fresh);
        self.retired.push(old);
        let id = wait_for("the fresh identity's node id", FORM, || node_id_of(&data_dir));
        self.journal.identify(member, &id);
        self.journal.change(member, Change::Restarted);
        id
    }
}

impl Drop for ChaosCluster {
    fn drop(&mut self) {
        // Continue every frozen process before anything else, so none stays stopped whatever happens next.
        for daemon in self.daemons.iter().chain(self.retired.iter()) {
            if daemon.is_frozen() {
                daemon.thaw();
            }
        }
        // Dropping a Daemon kills it and removes the containers of every node id it had.
        self.daemons.clear();
        self.retired.clear();
        let entries = std::fs::read_dir(&self.dir).map(|dir| dir.flatten().map(|e| e.path()).collect::<Vec<_>>());
        for path in entries.unwrap_or_default() {
            let is_log = path.extension().is_some_and(|e| e == "log");
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(&path);
            } else if !(is_log && self.keep_logs) {
                let _ = std::fs::remove_file(&path);
            }
        }
        if self.keep_logs {
            println!("chaos: daemon logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
