//! The Docker side of the drill: the running containers of the cluster's nodes (by their `swarm.*` labels, every
//! identity the cluster ever had, the removed ones included; other containers on this engine are not looked at), and
//! the sampler thread that checks one running container per slot on live nodes at every sample. All services of
//! the drill are replicated and stop-first, so a slot never has two running containers on nodes that are up,
//! unfrozen and past their grace after a heal. A second copy on a node that is down, or one left from before its
//! outage on a node just back (its agent has not yet learnt that the task moved), is counted as tolerated; a
//! container a node started after it came back counts at once, grace or not.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::cluster::run_cli;
use super::journal::{stamp, Change, Journal};
use super::report::Violation;

const SAMPLE_EVERY: Duration = Duration::from_millis(300);
/// Evidence (`service ps`) is gathered for this many distinct doubles; later ones are reported without it.
const EVIDENCE_MAX: usize = 4;

#[derive(Clone, Debug)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub node_id: String,
    pub task_id: String,
    pub service_id: String,
    pub service_name: String,
    pub slot: String,
    pub status: String,
}

impl Container {
    pub fn describe(&self, journal: &Journal) -> String {
        format!(
            "{} {} [swarm.node.id={} ({}) swarm.task.id={} swarm.service.id={} swarm.service.name={} \
             swarm.task.slot={}] {}",
            &self.id[..12.min(self.id.len())],
            self.name,
            self.node_id,
            journal.owner(&self.node_id),
            self.task_id,
            self.service_id,
            self.service_name,
            self.slot,
            self.status
        )
    }
}

/// The running containers labelled with one of `node_ids`. `None` if `docker ps` failed.
pub fn running_containers(node_ids: &[String]) -> Option<Vec<Container>> {
    let format = "{{.ID}}\t{{.Names}}\t{{.Label \"swarm.node.id\"}}\t{{.Label \"swarm.task.id\"}}\t\
                  {{.Label \"swarm.service.id\"}}\t{{.Label \"swarm.service.name\"}}\t\
                  {{.Label \"swarm.task.slot\"}}\t{{.Status}}";
    let output = std::process::Command::new("docker")
        .args(["ps", "--no-trunc", "--filter", "label=swarm.node.id", "--format", format])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let containers = text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            (f.len() == 8).then(|| Container {
                id: f[0].into(),
                name: f[1].into(),
                node_id: f[2].into(),
                task_id: f[3].into(),
                service_id: f[4].into(),
                service_name: f[5].into(),
                slot: f[6].into(),
                status: f[7].into(),
            })
        })
        .filter(|c| node_ids.contains(&c.node_id))
        .collect();
    Some(containers)
}

/// What the sampler saw over the run.
#[derive(Default)]
pub struct SlotFindings {
    pub samples: u64,
    pub tolerated_doubles: u64,
    /// The longest a node had been back after a thaw, and after a restart, when a second copy on it was tolerated
    /// for its grace: how close the run came to the graces.
    /// With the copy and the sample, for the figure's evidence.
    pub latest_after_thaw: (Duration, String),
    pub latest_after_restart: (Duration, String),
    pub violations: Vec<Violation>,
}

pub struct SlotSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<SlotFindings>>,
}

impl SlotSampler {
    pub fn start(journal: Arc<Journal>) -> SlotSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || sample(&journal, &flag));
        SlotSampler { stop, thread: Some(thread) }
    }

    pub fn finish(mut self) -> SlotFindings {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

impl Drop for SlotSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One distinct double (the same set of containers), seen at one or more samples.
struct Double {
    first: Duration,
    last: Duration,
    samples: u64,
    slot: String,
    copies: usize,
    evidence: String,
}

/// When the sampler first saw each container, and when each sample started.
#[derive(Default)]
struct Sightings {
    first_seen: BTreeMap<String, Duration>,
    starts: Vec<Duration>,
}

impl Sightings {
    /// Whether `container` runs on a node that is up (unfrozen, past its grace), or on a node that is up and started
    /// it after its last outage: first seen after the heal, while a sample taken during the outage did not show it.
    fn counts(&self, journal: &Journal, container: &Container, from: Duration, to: Duration) -> bool {
        journal.live_over(&container.node_id, from, to)
            || (journal.up_over(&container.node_id, from, to, false)
                && self.started_after_heal(journal, container, from))
    }

    fn started_after_heal(&self, journal: &Journal, container: &Container, at: Duration) -> bool {
        let Some((_, down, up)) = journal.outage(&container.node_id, at) else { return false };
        let seen_during = self.starts.iter().any(|s| *s > down && *s < up);
        seen_during && self.first_seen.get(&container.id).is_some_and(|first| *first >= up)
    }

    fn describe(&self, journal: &Journal, container: &Container) -> String {
        let first = self.first_seen.get(&container.id).map_or("?".to_string(), |t| stamp(*t));
        format!("{} (first seen {first})", container.describe(journal))
    }
}

fn sample(journal: &Journal, stop: &AtomicBool) -> SlotFindings {
    let mut findings = SlotFindings::default();
    let mut doubles: BTreeMap<Vec<String>, Double> = BTreeMap::new();
    let mut sightings = Sightings::default();
    while !stop.load(Ordering::Relaxed) {
        let from = journal.now();
        let Some(containers) = running_containers(&journal.node_ids()) else {
            std::thread::sleep(SAMPLE_EVERY);
            continue;
        };
        let to = journal.now();
        findings.samples += 1;
        sightings.starts.push(from);
        for container in &containers {
            sightings.first_seen.entry(container.id.clone()).or_insert(from);
        }
        let mut slots: BTreeMap<(String, String), Vec<&Container>> = BTreeMap::new();
        for container in containers.iter().filter(|c| !c.slot.is_empty()) {
            slots.entry((container.service_id.clone(), container.slot.clone())).or_default().push(container);
        }
        for ((_, slot), copies) in slots.iter().filter(|(_, copies)| copies.len() > 1) {
            let live: Vec<&&Container> = copies.iter().filter(|c| sightings.counts(journal, c, from, to)).collect();
            if live.len() < 2 {
                findings.tolerated_doubles += 1;
                for copy in copies.iter().filter(|c| !sightings.counts(journal, c, from, to)) {
                    let latest = match journal.back_for(&copy.node_id, from) {
                        Some((Change::Thawed, back)) => Some((&mut findings.latest_after_thaw, back)),
                        Some((_, back)) => Some((&mut findings.latest_after_restart, back)),
                        None => None,
                    };
                    if let Some((latest, back)) = latest.filter(|(latest, back)| *back > latest.0) {
                        *latest = (back, format!("at {}: {}", stamp(from), sightings.describe(journal, copy)));
                    }
                }
                continue;
            }
            let mut key: Vec<String> = live.iter().map(|c| c.id.clone()).collect();
            key.sort();
            let gather = doubles.len() < EVIDENCE_MAX && !doubles.contains_key(&key);
            let double = doubles.entry(key).or_insert_with(|| Double {
                first: from,
                last: to,
                samples: 0,
                slot: format!("{}.{slot}", copies[0].service_name),
                copies: live.len(),
                evidence: String::new(),
            });
            double.last = to;
            double.samples += 1;
            if gather {
                double.evidence = evidence(journal, &sightings, &live, &copies[0].service_name, from, to);
            }
        }
        let spent = journal.now().saturating_sub(from);
        // Pacing, not waiting: one sample per period.
        if let Some(rest) = SAMPLE_EVERY.checked_sub(spent) {
            std::thread::sleep(rest);
        }
    }
    for double in doubles.into_values() {
        findings.violations.push(Violation {
            check: "one running container per slot",
            at: double.first,
            summary: format!(
                "slot {} ran {} times on live nodes, seen in {} samples from {} to {}",
                double.slot,
                double.copies,
                double.samples,
                stamp(double.first),
                stamp(double.last)
            ),
            evidence: double.evidence,
        });
    }
    findings
}

fn evidence(
    journal: &Journal,
    sightings: &Sightings,
    live: &[&&Container],
    service: &str,
    from: Duration,
    to: Duration,
) -> String {
    let mut text = format!("sample {}..{}; running containers of the slot on live nodes:\n", stamp(from), stamp(to));
    for container in live {
        text.push_str(&format!("  {}\n", sightings.describe(journal, container)));
        if let Some(member) = journal.member_of(&container.node_id) {
            text.push_str(&format!("    node history: {}\n", journal.history(member)));
        }
    }
    let members = journal.members();
    let now = journal.now();
    let manager = (0..members.len()).find(|m| members[*m].manager && !journal.faulted(*m, now));
    if let Some(manager) = manager {
        let out = run_cli(&members[manager].socket, &["service", "ps", "--no-trunc", service], Duration::from_secs(10));
        text.push_str(&format!(
            "$ swarm service ps --no-trunc {service}   (via {}, at {})\n{}{}",
            members[manager].name,
            stamp(journal.now()),
            out.stdout,
            out.stderr
        ));
    }
    text
}
