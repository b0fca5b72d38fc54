//! The drill's checks after healing, each turning what it saw into a `Violation` with evidence: no orphan
//! containers (a bounded time after the removal of the replaced manager's old identity), convergence (every
//! service runs its replicas, in the store and in Docker), one leader in every manager's view, the final specs on
//! every manager equal to the last acknowledged commands, and no command slower than 3 s while a leader existed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use swarm_core::{Node, Service, ServiceMode, Task, TaskState};

use super::cluster::MANAGERS;
use super::drill::{Drill, Expected, STABLE};
use super::journal::stamp;
use super::leaders::Timeline;
use super::report::Violation;
use super::slots::{running_containers, Container};

/// The agent's time to remove containers of a removed node, counted from the removal.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(30);
pub const CONVERGE: Duration = Duration::from_secs(60);
/// No command may take longer while a leader exists.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(3);

/// A manager's store, typed.
struct StoreView {
    nodes: Vec<Node>,
    services: Vec<Service>,
    tasks: Vec<Task>,
}

impl Drill {
    fn any_manager(&self) -> usize {
        (0..MANAGERS).find(|m| !self.cluster.faulted(*m)).unwrap_or(0)
    }

    fn store(&self, member: usize) -> Option<StoreView> {
        let json = self.cluster.daemon(member).store_json()?;
        Some(StoreView {
            nodes: serde_json::from_value::<Vec<Node>>(json["nodes"].clone()).ok()?,
            services: serde_json::from_value::<Vec<Service>>(json["services"].clone()).ok()?,
            tasks: serde_json::from_value::<Vec<Task>>(json["tasks"].clone()).ok()?,
        })
    }

    /// The running containers of the cluster's node ids that no task in the store explains, with the reason.
    fn orphans(&self, store: &StoreView) -> Option<Vec<(Container, String)>> {
        let containers = running_containers(&self.journal.node_ids())?;
        let nodes: BTreeSet<&str> = store.nodes.iter().map(|n| n.id.as_str()).collect();
        let tasks: BTreeMap<&str, &Task> = store.tasks.iter().map(|t| (t.id.as_str(), t)).collect();
        let mut orphans = Vec::new();
        for container in containers {
            let reason = if self.journal.is_removed(&container.node_id) {
                Some("its node was removed from the cluster".to_string())
            } else if !nodes.contains(container.node_id.as_str()) {
                Some("its node is not in the store".to_string())
            } else {
                match tasks.get(container.task_id.as_str()) {
                    None => Some("its task is not in the store".to_string()),
                    Some(task) if task.node_id.as_deref() != Some(container.node_id.as_str()) => {
                        Some(format!("its task is assigned to node {:?}", task.node_id))
                    }
                    Some(task) if task.desired_state > TaskState::Running => {
                        Some(format!("its task's desired state is {:?}", task.desired_state))
                    }
                    Some(_) => None,
                }
            };
            if let Some(reason) = reason {
                orphans.push((container, reason));
            }
        }
        Some(orphans)
    }

    /// No running container of the cluster's nodes without a task behind it, within `ORPHAN_GRACE` of the removal.
    pub(super) fn check_orphans(&mut self) {
        let removed_at = self.removed_at.unwrap_or_else(|| self.journal.now());
        let mut last = Vec::new();
        loop {
            let leader = self.cluster.await_stable(STABLE).map(|(l, _)| l).unwrap_or_else(|_| self.any_manager());
            if let Some(orphans) = self.store(leader).and_then(|store| self.orphans(&store)) {
                if orphans.is_empty() {
                    self.journal.note("no orphan containers");
                    return;
                }
                last = orphans;
            }
            if self.journal.now() > removed_at + ORPHAN_GRACE {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let mut evidence = String::from("running containers no task explains:\n");
        for (container, reason) in &last {
            evidence.push_str(&format!("  {}\n    → {reason}\n", container.describe(&self.journal)));
        }
        let services: BTreeSet<String> = last.iter().map(|(c, _)| c.service_name.clone()).collect();
        evidence.push_str(&self.service_evidence(&services));
        self.violations.push(Violation {
            check: "no orphans",
            at: self.journal.now(),
            summary: format!(
                "{} running containers without a task behind them {:?} after the old identity's removal at {}",
                last.len(),
                ORPHAN_GRACE,
                stamp(removed_at)
            ),
            evidence,
        });
    }

    /// `service ls` and `service ps` of `services` from a manager, for evidence.
    fn service_evidence(&self, services: &BTreeSet<String>) -> String {
        let via = self.any_manager();
        let mut text = String::new();
        let mut commands = vec![vec!["service".to_string(), "ls".into()], vec!["node".to_string(), "ls".into()]];
        commands
            .extend(services.iter().map(|s| vec!["service".to_string(), "ps".into(), "--no-trunc".into(), s.clone()]));
        for args in commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = self.cluster.cli(via, &args);
            text.push_str(&format!(
                "$ swarm {}   (via {})\n{}{}",
                args.join(" "),
                self.cluster.name(via),
                run.stdout,
                run.stderr
            ));
        }
        text
    }

    /// Every service runs its expected replicas: `service ls` says `n/n` and Docker runs `n` containers of it on the
    /// cluster's current nodes. `Err` says what differs.
    pub(super) fn wait_converged(&self, deadline: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let why = match self.convergence() {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if start.elapsed() > deadline {
                return Err(why);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn convergence(&self) -> Result<(), String> {
        let run = self.cluster.cli(self.any_manager(), &["service", "ls"]);
        if !run.ok {
            return Err(format!("service ls failed: {}", run.stderr));
        }
        let containers = running_containers(&self.journal.node_ids()).ok_or("docker ps failed")?;
        let mut problems = String::new();
        for (service, expected) in &self.expected {
            let line = run.stdout.lines().find(|l| l.split_whitespace().nth(1) == Some(service.as_str()));
            let replicas = line.and_then(|l| l.split_whitespace().nth(3)).unwrap_or("missing");
            let in_docker = containers
                .iter()
                .filter(|c| c.service_name == *service && self.journal.member_of(&c.node_id).is_some())
                .count() as u64;
            let fits = |e: &Expected| replicas == format!("{0}/{0}", e.replicas) && in_docker == e.replicas;
            if !expected.iter().any(fits) {
                let wanted: Vec<u64> = expected.iter().map(|e| e.replicas).collect();
                problems.push_str(&format!(
                    "{service}: service ls says {replicas}, Docker runs {in_docker} on the cluster's nodes, wanted {wanted:?}\n"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{problems}$ swarm service ls\n{}", run.stdout))
        }
    }

    pub(super) fn check_convergence(&mut self) {
        let start = self.journal.now();
        match self.wait_converged(CONVERGE) {
            Ok(()) => self
                .journal
                .note(&format!("converged {:.2} s after healing", (self.journal.now() - start).as_secs_f64())),
            Err(why) => {
                let services: BTreeSet<String> = self.expected.keys().cloned().collect();
                let containers = running_containers(&self.journal.node_ids()).unwrap_or_default();
                let mut evidence = format!("{why}\nrunning containers of the cluster's nodes:\n");
                for container in &containers {
                    evidence.push_str(&format!("  {}\n", container.describe(&self.journal)));
                }
                evidence.push_str(&self.service_evidence(&services));
                self.violations.push(Violation {
                    check: "convergence after healing",
                    at: start,
                    summary: format!("the services did not run as wanted within {CONVERGE:?} after healing"),
                    evidence,
                });
            }
        }
    }

    pub(super) fn check_one_leader(&mut self) {
        match self.cluster.await_stable(STABLE) {
            Ok((leader, term)) => {
                self.journal.note(&format!("every manager sees {} as leader in term {term}", self.cluster.name(leader)))
            }
            Err(statuses) => {
                let names = self.cluster.manager_names();
                let evidence = names.iter().zip(&statuses).map(|(n, s)| format!("{n}: {s:?}\n")).collect();
                self.violations.push(Violation {
                    check: "one leader in every manager's view",
                    at: self.journal.now(),
                    summary: format!("after healing the managers did not agree on one leader within {STABLE:?}"),
                    evidence,
                });
            }
        }
    }

    /// What `service`'s spec is on a store: replicas and env.
    fn actual(store: &StoreView, service: &str) -> Option<Expected> {
        let spec = &store.services.iter().find(|s| s.spec.name == service)?.spec;
        let replicas = match spec.mode {
            ServiceMode::Replicated { replicas } => replicas,
            _ => return None,
        };
        Some(Expected { replicas, env: spec.task_template.container_spec.env.iter().cloned().collect() })
    }

    pub(super) fn check_specs(&mut self) {
        let start = Instant::now();
        let mismatches = loop {
            let mut mismatches = Vec::new();
            for member in 0..MANAGERS {
                let store = self.store(member);
                for (service, expected) in &self.expected {
                    let actual = store.as_ref().and_then(|s| Drill::actual(s, service));
                    if !actual.as_ref().is_some_and(|a| expected.contains(a)) {
                        mismatches.push(format!(
                            "{} {service}: {actual:?}, expected one of {expected:?}",
                            self.cluster.name(member)
                        ));
                    }
                }
            }
            if mismatches.is_empty() {
                self.journal.note("every manager's specs equal the last acknowledged commands");
                return;
            }
            if start.elapsed() > STABLE {
                break mismatches;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let mut evidence = mismatches.join("\n");
        evidence.push_str("\nacknowledged writes:\n");
        for attempt in
            self.attempts.iter().filter(|a| a.ok && a.args.len() > 1 && a.args[0] == "service" && a.args[1] != "ls")
        {
            evidence.push_str(&format!("  {attempt}\n"));
        }
        self.violations.push(Violation {
            check: "final specs equal the last acknowledged commands",
            at: self.journal.now(),
            summary: format!("{} service specs differ", mismatches.len()),
            evidence,
        });
    }

    /// A command may take at most `COMMAND_LIMIT`, counted from its start if a leader existed then, else from the
    /// first moment one did (a command answered before any leader existed is not judged).
    pub(super) fn check_latency(&mut self, timeline: &Timeline) {
        let names = self.cluster.manager_names();
        let mut found = Vec::new();
        let mut judged = 0usize;
        for attempt in &self.attempts {
            let Some(from) = timeline.first_leader(attempt.start, attempt.end, &self.journal) else { continue };
            judged += 1;
            let counted = attempt.end.saturating_sub(from);
            if counted > COMMAND_LIMIT {
                let leader = timeline.leader_at(from, &self.journal).map_or("?", |m| names[m].as_str()).to_string();
                let window =
                    timeline.describe(attempt.start.saturating_sub(Duration::from_secs(1)), attempt.end, &names);
                found.push(Violation {
                    check: "no command slower than 3 s while a leader exists",
                    at: attempt.start,
                    summary: format!(
                        "{} ms counted from {} (leader {leader} then): {attempt}",
                        counted.as_millis(),
                        stamp(from)
                    ),
                    evidence: format!("every manager's answers (changes only) around it:\n{window}"),
                });
            }
        }
        // Most commands run while some manager leads: if the watchers saw a leader for fewer than half of them,
        // they stopped seeing anything (a status format change, say), and this check would judge nothing.
        if judged * 2 < self.attempts.len() {
            found.push(Violation {
                check: "no command slower than 3 s while a leader exists",
                at: Duration::ZERO,
                summary: format!(
                    "only {judged} of {} commands could be judged: the managers' status watchers saw no leader \
                     for the others",
                    self.attempts.len()
                ),
                evidence: String::new(),
            });
        }
        self.violations.append(&mut found);
    }
}
