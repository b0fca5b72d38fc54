//! Running the plan: the services before the first fault, each step (wait until every manager agrees on one
//! leader, inject the fault, send the step's command through a manager the fault spared — timing the redirect when
//! the leader is frozen — keep reading while the fault lasts, heal, and for a follower stall compare every
//! manager's term and leader before and after), and the replacement of a manager at the end. Every command is
//! retried until acknowledged (they are idempotent), and what each acknowledged one set is the expected spec.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cluster::{ChaosCluster, CliRun, MANAGERS, MEMBERS};
use super::journal::{stamp, Journal};
use super::leaders::LeaderWatch;
use super::report::{describe_view, Attempt, ChaosReport, RaftView, Stall, Violation};
use super::schedule::{FaultKind, Step, Target, Write, ENV_KEY, IMAGE, INITIAL_SERVICES};
use super::slots::{running_containers, SlotSampler};
use crate::node_id_of;

/// How long the managers get, after a heal, to agree on one leader again.
pub const STABLE: Duration = Duration::from_secs(20);
/// How long a command is retried before the drill gives up on it.
const ACK_DEADLINE: Duration = Duration::from_secs(30);
/// Reads are sent this often while a fault lasts.
const READ_EVERY: Duration = Duration::from_millis(250);
/// How long after a follower's SIGCONT the managers' views are compared with those before its SIGSTOP.
const STALL_OBSERVATION: Duration = Duration::from_secs(2);

/// What a service's spec must be at the end: replicas and env.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub replicas: u64,
    pub env: BTreeSet<String>,
}

pub struct Drill {
    pub(super) cluster: ChaosCluster,
    pub(super) journal: Arc<Journal>,
    pub(super) daemon_args: Vec<String>,
    pub(super) watch: LeaderWatch,
    pub(super) sampler: Option<SlotSampler>,
    pub(super) attempts: Vec<Attempt>,
    pub(super) stalls: Vec<Stall>,
    pub(super) redirects: Vec<Duration>,
    /// Per service, the specs its end state may have: one, unless a command was never acknowledged (then with and
    /// without it).
    pub(super) expected: BTreeMap<String, BTreeSet<Expected>>,
    pub(super) violations: Vec<Violation>,
    /// When the replaced manager's old identity was removed (`node rm --force` acknowledged).
    pub(super) removed_at: Option<Duration>,
}

impl Drill {
    pub fn new(
        cluster: ChaosCluster,
        journal: Arc<Journal>,
        daemon_args: Vec<String>,
        watch: LeaderWatch,
        sampler: SlotSampler,
    ) -> Drill {
        Drill {
            cluster,
            journal,
            daemon_args,
            watch,
            sampler: Some(sampler),
            attempts: Vec::new(),
            stalls: Vec::new(),
            redirects: Vec::new(),
            expected: BTreeMap::new(),
            violations: Vec::new(),
            removed_at: None,
        }
    }

    /// Runs `swarm ARGS` through `member` and records the attempt.
    fn command(&mut self, member: usize, args: &[&str], during_fault: bool) -> CliRun {
        let run = self.cluster.cli(member, args);
        self.attempts.push(Attempt {
            start: self.journal.at(run.start),
            end: self.journal.at(run.end),
            member: self.cluster.name(member).to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ok: run.ok,
            error: run.stderr.lines().next().unwrap_or_default().to_string(),
            during_fault,
        });
        run
    }

    /// Sends `args` through `member` until acknowledged or `ACK_DEADLINE` passes; `already` says whether a failure
    /// means an earlier attempt took effect (a create whose name is now in use). Returns when it was acknowledged.
    fn acknowledge(
        &mut self,
        member: usize,
        args: &[&str],
        during_fault: bool,
        already: &dyn Fn(&str) -> bool,
    ) -> Option<Instant> {
        let start = Instant::now();
        let mut failed_before = false;
        loop {
            let run = self.command(member, args, during_fault);
            if run.ok || (failed_before && already(&run.stderr)) {
                return Some(run.end);
            }
            failed_before = true;
            self.journal.note(&format!(
                "  swarm {} via {}: {}",
                args.join(" "),
                self.cluster.name(member),
                run.stderr.trim()
            ));
            if start.elapsed() > ACK_DEADLINE {
                return None;
            }
            // Pacing between retries.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends a tracked write through `member` until acknowledged; updates the expected specs.
    fn write(&mut self, member: usize, write: &Write, during_fault: bool) -> Option<Instant> {
        let args = write.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let acked = self.acknowledge(member, &args, during_fault, &|stderr| stderr.contains("is already in use"));
        let service = write.service().to_string();
        let before = self.expected.get(&service).cloned().unwrap_or_default();
        let after: BTreeSet<Expected> = match write {
            Write::Create { replicas, .. } => [Expected { replicas: *replicas, env: BTreeSet::new() }].into(),
            Write::Scale { replicas, .. } => {
                before.iter().map(|e| Expected { replicas: *replicas, ..e.clone() }).collect()
            }
            Write::EnvAdd { value, .. } => before
                .iter()
                .map(|e| {
                    let mut env: BTreeSet<String> =
                        e.env.iter().filter(|v| !v.starts_with(&format!("{ENV_KEY}="))).cloned().collect();
                    env.insert(format!("{ENV_KEY}={value}"));
                    Expected { replicas: e.replicas, env }
                })
                .collect(),
        };
        match acked {
            Some(_) => {
                self.expected.insert(service, after);
            }
            None => {
                self.journal.note(&format!("  {write}: never acknowledged; its outcome is unknown"));
                self.violations.push(Violation {
                    check: "commands are answered while a leader exists",
                    at: self.journal.now(),
                    summary: format!("{write} was not acknowledged within {ACK_DEADLINE:?}"),
                    evidence: self.recent_attempts(10),
                });
                self.expected.insert(service, before.union(&after).cloned().collect());
            }
        }
        acked
    }

    fn recent_attempts(&self, count: usize) -> String {
        let skip = self.attempts.len().saturating_sub(count);
        self.attempts[skip..].iter().map(|a| format!("{a}\n")).collect()
    }

    /// Creates the initial services and waits until they run.
    pub fn create_services(&mut self) {
        for (name, replicas, extra) in INITIAL_SERVICES {
            let mut args = vec!["service".to_string(), "create".into(), "-d".into(), "--name".into(), name.into()];
            args.extend(["--replicas".to_string(), replicas.to_string()]);
            args.extend(extra.iter().map(|a| a.to_string()));
            args.push(IMAGE.into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            if self.acknowledge(0, &args, false, &|stderr| stderr.contains("is already in use")).is_none() {
                panic!("could not create {name} before any fault:\n{}", self.recent_attempts(5));
            }
            self.expected.insert(name.to_string(), [Expected { replicas, env: BTreeSet::new() }].into());
        }
        if let Err(why) = self.wait_converged(Duration::from_secs(90)) {
            panic!("the services did not converge before any fault: {why}");
        }
        self.journal.note("services created and converged");
    }

    /// The leader after a heal, or a violation (with every manager's view) and a best guess.
    fn stable_leader(&mut self, when: &str) -> usize {
        match self.cluster.await_stable(STABLE) {
            Ok((leader, _)) => leader,
            Err(statuses) => {
                let views = self
                    .cluster
                    .manager_names()
                    .iter()
                    .zip(&statuses)
                    .map(|(n, s)| format!("{n}: {s:?}\n"))
                    .collect::<String>();
                self.violations.push(Violation {
                    check: "one leader in every manager's view",
                    at: self.journal.now(),
                    summary: format!("{when}: the managers did not agree on one leader within {STABLE:?}"),
                    evidence: views,
                });
                statuses.iter().position(|s| s.as_ref().is_some_and(|s| s.state == "Leader")).unwrap_or(0)
            }
        }
    }

    /// Every manager's term and leader as it answers now.
    fn raft_views(&self) -> RaftView {
        let names = self.cluster.manager_names();
        let statuses = self.cluster.statuses();
        let view = statuses.iter().map(|status| {
            status.as_ref().map(|s| {
                let leader = s.leader.map(|id| match self.cluster.member_of_raft_id(s, id) {
                    Some(member) => self.cluster.name(member).to_string(),
                    None => format!("raft id {id}"),
                });
                (s.term, leader)
            })
        });
        names.into_iter().zip(view).collect()
    }

    pub fn step(&mut self, index: usize, step: &Step) {
        let leader = self.stable_leader(&format!("before step {}", index + 1));
        let fault = step.fault;
        let followers: Vec<usize> = (0..MANAGERS).filter(|m| *m != leader).collect();
        let target = match fault.target {
            Target::Leader => leader,
            Target::Follower => followers[(fault.pick % followers.len() as u64) as usize],
            Target::Worker => MANAGERS + (fault.pick % (MEMBERS - MANAGERS) as u64) as usize,
        };
        let spared: Vec<usize> = (0..MANAGERS).filter(|m| *m != target).collect();
        let via = spared[index % spared.len()];
        let stall = fault.kind == FaultKind::Freeze && fault.target == Target::Follower;
        let before = stall.then(|| self.raft_views());
        let name = self.cluster.name(target);
        self.journal.note(&format!("step {}: {fault} → {name}", index + 1));
        let fault_at = Instant::now();
        match fault.kind {
            FaultKind::Freeze => self.cluster.freeze(target),
            FaultKind::Kill => self.cluster.kill(target),
        }
        let acked = self.write(via, &step.during, true);
        if fault.kind == FaultKind::Freeze && fault.target == Target::Leader {
            if let Some(acked) = acked {
                let redirect = acked.saturating_duration_since(fault_at);
                self.journal.note(&format!(
                    "  leader {name} frozen: a command through {} answered after {} ms",
                    self.cluster.name(via),
                    redirect.as_millis()
                ));
                self.redirects.push(redirect);
            }
        }
        self.read_until(via, fault_at + fault.duration, true);
        match fault.kind {
            FaultKind::Freeze => self.cluster.thaw(target),
            FaultKind::Kill => self.cluster.restart(target),
        }
        let healed_at = Instant::now();
        self.journal.note(&format!(
            "  {name} healed ({})",
            if fault.kind == FaultKind::Freeze { "SIGCONT" } else { "restarted" }
        ));
        if let Some(before) = before {
            self.read_until(via, healed_at + STALL_OBSERVATION, false);
            let after = self.raft_views();
            self.judge_stall(name, before, after, fault_at);
        }
        self.write(via, &step.after, false);
    }

    /// Sends `service ls` through `member` every `READ_EVERY` until `until`.
    fn read_until(&mut self, member: usize, until: Instant, during_fault: bool) {
        while Instant::now() < until {
            let sent = Instant::now();
            self.command(member, &["service", "ls"], during_fault);
            let next = (sent + READ_EVERY).min(until);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }

    fn judge_stall(&mut self, follower: &str, before: RaftView, after: RaftView, fault_at: Instant) {
        let stall = Stall { follower: follower.to_string(), before, after };
        let changed = stall.before != stall.after;
        self.journal.note(&format!(
            "  follower stall of {follower}: {} election(s); before: {}; after: {}",
            stall.elections(),
            describe_view(&stall.before),
            describe_view(&stall.after)
        ));
        if changed {
            let from = self.journal.at(fault_at).saturating_sub(Duration::from_millis(500));
            let names = self.cluster.manager_names();
            let timeline = self.watch.timeline().describe(from, self.journal.now(), &names);
            self.violations.push(Violation {
                check: "no needless election",
                at: self.journal.at(fault_at),
                summary: format!(
                    "the SIGSTOP/SIGCONT of follower {follower} changed the Raft view (term +{}): before the stop {}; \
                     {STALL_OBSERVATION:?} after the continue {}",
                    stall.elections(),
                    describe_view(&stall.before),
                    describe_view(&stall.after)
                ),
                evidence: format!("every manager's answers (changes only) from {}:\n{timeline}", stamp(from)),
            });
        }
        self.stalls.push(stall);
    }

    /// Replaces a follower manager the documented way: stop it, `node demote`, `node rm --force`, wipe its data
    /// directory, join again (fresh identity, same address).
    pub fn replace_manager(&mut self, pick: u64) {
        let leader = self.stable_leader("before the replacement");
        // The follower running the most containers (the seeded pick breaks ties), so the orphan check has work.
        let mut followers: Vec<usize> = (0..MANAGERS).filter(|m| *m != leader).collect();
        let first = (pick % followers.len() as u64) as usize;
        followers.rotate_left(first);
        let containers = running_containers(&self.journal.node_ids()).unwrap_or_default();
        let running_on = |member: usize| {
            let id = node_id_of(&self.cluster.daemon(member).data_dir);
            containers.iter().filter(|c| Some(&c.node_id) == id.as_ref()).count()
        };
        let victim = followers.iter().copied().rev().max_by_key(|m| running_on(*m)).expect("a follower");
        let name = self.cluster.name(victim);
        let old_id = node_id_of(&self.cluster.daemon(victim).data_dir).expect("the replaced manager's node id");
        let token = self.cluster.daemon(leader).join_token("manager");
        self.journal.note(&format!(
            "replacing manager {name} (node {old_id}, {} running containers): stop",
            running_on(victim)
        ));
        if running_on(victim) == 0 {
            self.journal.note("  NOTE: the orphan check is not exercised this run: no follower runs a container");
        }
        let clean = self.cluster.stop(victim);
        self.journal
            .note(&format!("  {name} stopped ({})", if clean { "exited on SIGTERM" } else { "killed after 10 s" }));
        for args in [["node", "demote", old_id.as_str()].as_slice(), &["node", "rm", "--force", old_id.as_str()]] {
            if self
                .acknowledge(leader, args, false, &|stderr| {
                    stderr.contains("not found") || stderr.contains("No such node")
                })
                .is_none()
            {
                self.violations.push(Violation {
                    check: "manager replaced the documented way",
                    at: self.journal.now(),
                    summary: format!("swarm {} was not acknowledged", args.join(" ")),
                    evidence: self.recent_attempts(5),
                });
            }
        }
        self.journal.removed(&old_id);
        self.removed_at = Some(self.journal.now());
        self.journal.note(&format!(
            "  node {old_id} removed; wiping {} and joining again",
            self.cluster.daemon(victim).data_dir.display()
        ));
        let args: Vec<String> = self.daemon_args.clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let new_id = self.cluster.rejoin_fresh(victim, leader, &token, &args);
        self.journal.note(&format!("  {name} joined again as node {new_id}"));
        let start = Instant::now();
        loop {
            let text = self.cluster.cli(leader, &["node", "ls"]).stdout;
            let voters = self.cluster.daemon(leader).status().map_or(0, |s| s.voters.len());
            if voters == MANAGERS && text.matches(" Ready ").count() == MEMBERS {
                self.journal.note("  three voters and five Ready nodes again");
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                self.violations.push(Violation {
                    check: "manager replaced the documented way",
                    at: self.journal.now(),
                    summary: format!("after the rejoin: {voters} voters, node ls:\n{text}"),
                    evidence: String::new(),
                });
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs the final checks, stops the observers and returns the report; the cluster is torn down on drop.
    pub fn finish(mut self) -> ChaosReport {
        self.check_orphans();
        self.check_convergence();
        self.check_one_leader();
        self.check_specs();
        let timeline = self.watch.timeline();
        self.watch.stop();
        let findings = self.sampler.take().map(SlotSampler::finish).unwrap_or_default();
        self.check_latency(&timeline);
        let mut violations = findings.violations;
        violations.append(&mut self.violations);
        violations.sort_by_key(|v| v.at);
        self.cluster.keep_logs = !violations.is_empty();
        ChaosReport {
            violations,
            attempts: std::mem::take(&mut self.attempts),
            stalls: std::mem::take(&mut self.stalls),
            redirects: std::mem::take(&mut self.redirects),
            samples: findings.samples,
            tolerated_doubles: findings.tolerated_doubles,
            latest_after_thaw: findings.latest_after_thaw,
            latest_after_restart: findings.latest_after_restart,
            timeline: self.journal.lines(),
            ..ChaosReport::default()
        }
    }
}
