//! The leader timeline: one thread per manager polls its Raft status (`/cluster/status`, through the manager's
//! control socket: the cluster port takes only mutual TLS) every 100 ms and
//! keeps what each answered, when. From it the drill tells whether a leader existed at a moment — some manager that
//! was not killed or frozen then, answering `Leader` in the highest term anyone had reported — and when the first
//! leader appeared after a moment, which is where a command's latency is counted from when it was sent while there
//! was none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use swarm_runtime::http::HttpClient;
use swarm_runtime::manager::api::{ManagerStatus, PATH_STATUS};

use super::journal::{stamp, Journal};

const POLL: Duration = Duration::from_millis(100);
/// An answer older than this says nothing about now.
const FRESH: Duration = Duration::from_millis(500);

#[derive(Clone, Debug)]
pub struct Observation {
    /// When the answer arrived.
    pub at: Duration,
    pub member: usize,
    /// The manager's own Raft id.
    pub node_id: u64,
    pub state: String,
    pub term: u64,
    pub leader: Option<u64>,
}

pub struct LeaderWatch {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Per manager member, in time order.
    observations: Arc<Mutex<Vec<Vec<Observation>>>>,
}

impl LeaderWatch {
    /// Starts polling the control API at `addrs[i]` as member `i` (the managers are members 0..addrs.len()).
    pub fn start(addrs: &[String], journal: Arc<Journal>) -> LeaderWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let observations = Arc::new(Mutex::new(vec![Vec::new(); addrs.len()]));
        let threads = addrs
            .iter()
            .enumerate()
            .map(|(member, addr)| {
                let (stop, observations, journal, addr) =
                    (stop.clone(), observations.clone(), journal.clone(), addr.clone());
                std::thread::spawn(move || poll(member, &addr, &stop, &observations, &journal))
            })
            .collect();
        LeaderWatch { stop, threads, observations }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    pub fn timeline(&self) -> Timeline {
        Timeline(self.observations.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

impl Drop for LeaderWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

fn poll(member: usize, addr: &str, stop: &AtomicBool, observations: &Mutex<Vec<Vec<Observation>>>, journal: &Journal) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut client = HttpClient::new(addr.to_string());
    while !stop.load(Ordering::Relaxed) {
        let asked = journal.now();
        let answer = runtime.block_on(client.get(PATH_STATUS, Duration::from_secs(1)));
        if let Some(status) = answer.ok().and_then(|bytes| serde_json::from_slice::<ManagerStatus>(&bytes).ok()) {
            let observation = Observation {
                at: journal.now(),
                member,
                node_id: status.node_id,
                state: status.state,
                term: status.term,
                leader: status.leader,
            };
            observations.lock().unwrap_or_else(|p| p.into_inner())[member].push(observation);
        }
        // Pacing, not waiting: one question per period.
        if let Some(rest) = POLL.checked_sub(journal.now().saturating_sub(asked)) {
            std::thread::sleep(rest);
        }
    }
}

/// A copy of the observations, to judge the run with.
pub struct Timeline(Vec<Vec<Observation>>);

impl Timeline {
    /// The last answer of `member` at or before `at`.
    fn last(&self, member: usize, at: Duration) -> Option<&Observation> {
        let list = &self.0[member];
        let index = list.partition_point(|o| o.at <= at);
        index.checked_sub(1).map(|i| &list[i])
    }

    /// The member that led at `at`: not faulted then, answering `Leader` within `FRESH` before, in the highest term
    /// any manager had answered by then.
    pub fn leader_at(&self, at: Duration, journal: &Journal) -> Option<usize> {
        let last: Vec<Option<&Observation>> = (0..self.0.len()).map(|m| self.last(m, at)).collect();
        let top = last.iter().flatten().map(|o| o.term).max()?;
        last.iter().flatten().find_map(|o| {
            let fresh = at.saturating_sub(o.at) <= FRESH;
            (fresh && o.state == "Leader" && o.term == top && !journal.faulted(o.member, at)).then_some(o.member)
        })
    }

    /// The first moment in `from..=to` at which a leader existed (by `leader_at`).
    pub fn first_leader(&self, from: Duration, to: Duration, journal: &Journal) -> Option<Duration> {
        if self.leader_at(from, journal).is_some() {
            return Some(from);
        }
        let mut moments: Vec<Duration> =
            self.0.iter().flatten().map(|o| o.at).filter(|at| *at > from && *at <= to).collect();
        moments.sort();
        moments.into_iter().find(|at| self.leader_at(*at, journal).is_some())
    }

    /// Every answer in `from..=to`, for evidence.
    pub fn describe(&self, from: Duration, to: Duration, names: &[String]) -> String {
        let mut all: Vec<&Observation> = self.0.iter().flatten().filter(|o| o.at >= from && o.at <= to).collect();
        all.sort_by_key(|o| o.at);
        // Raft ids to names, from the managers' own answers (a replaced manager has had two ids).
        let ids: std::collections::BTreeMap<u64, &str> = self
            .0
            .iter()
            .flatten()
            .map(|o| (o.node_id, names.get(o.member).map(String::as_str).unwrap_or("?")))
            .collect();
        let leader = |id: Option<u64>| match id {
            Some(id) => ids.get(&id).map_or(format!("raft id {id}"), |name| name.to_string()),
            None => "none".to_string(),
        };
        let mut text = String::new();
        let mut previous: Vec<Option<(String, u64, Option<u64>)>> = vec![None; self.0.len()];
        for o in all {
            // Only changes: a manager's answer is shown when it differs from its previous one.
            let now = Some((o.state.clone(), o.term, o.leader));
            if previous[o.member] != now {
                text.push_str(&format!(
                    "    {} {}: {} in term {}, leader {}\n",
                    stamp(o.at),
                    names.get(o.member).map(String::as_str).unwrap_or("?"),
                    o.state,
                    o.term,
                    leader(o.leader)
                ));
                previous[o.member] = now;
            }
        }
        text
    }
}
