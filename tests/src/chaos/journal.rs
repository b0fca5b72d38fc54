//! What happened when, shared by the drill and its samplers: the timeline of faults and commands (printed as it
//! happens and again as evidence), and each member's liveness — which node ids are ours, whether a process was up
//! and unfrozen over a sample's whole window, and for how long. The drill records a fault *before* it sends the
//! signal and a heal *after*, so a sample is never judged against a node that might have been stopped meanwhile.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// After SIGCONT an agent needs a moment to learn that its tasks moved while it was frozen and to stop their
/// containers (one assignment poll, then `docker stop` of a container that exits on SIGTERM at once).
pub const THAW_GRACE: Duration = Duration::from_secs(5);
/// After a restart the daemon starts, a manager replays its log, and the agent registers, lists its containers and
/// removes those no longer assigned.
pub const RESTART_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Killed or frozen.
    Down,
    Thawed,
    Restarted,
}

#[derive(Clone)]
pub struct MemberInfo {
    /// m1..m3, w1, w2: the daemon's hostname.
    pub name: String,
    pub manager: bool,
    pub socket: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Identity {
    Member(usize),
    /// The node was removed from the cluster (`node rm`) at this time; its containers belong to nobody live.
    Removed {
        member: usize,
        at: Duration,
    },
}

#[derive(Default)]
struct State {
    lines: Vec<String>,
    members: Vec<MemberInfo>,
    changes: Vec<Vec<(Duration, Change)>>,
    node_ids: BTreeMap<String, Identity>,
}

pub struct Journal {
    t0: Instant,
    state: Mutex<State>,
}

/// `t+12.345s`.
pub fn stamp(at: Duration) -> String {
    format!("t+{:.3}s", at.as_secs_f64())
}

impl Journal {
    pub fn new() -> Journal {
        Journal { t0: Instant::now(), state: Mutex::default() }
    }

    pub fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    pub fn at(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.t0)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Prints `[t+…] text` and keeps it for the evidence.
    pub fn note(&self, text: &str) {
        let line = format!("[{}] {text}", stamp(self.now()));
        println!("{line}");
        self.state().lines.push(line);
    }

    pub fn lines(&self) -> Vec<String> {
        self.state().lines.clone()
    }

    pub fn add_member(&self, info: MemberInfo) -> usize {
        let mut state = self.state();
        state.members.push(info);
        state.changes.push(Vec::new());
        state.members.len() - 1
    }

    pub fn member(&self, member: usize) -> MemberInfo {
        self.state().members[member].clone()
    }

    pub fn members(&self) -> Vec<MemberInfo> {
        self.state().members.clone()
    }

    /// `node_id` is `member`'s identity from now on.
    pub fn identify(&self, member: usize, node_id: &str) {
        self.state().node_ids.insert(node_id.to_string(), Identity::Member(member));
    }

    /// `node_id` was removed from the cluster now.
    pub fn removed(&self, node_id: &str) {
        let now = self.now();
        let mut state = self.state();
        if let Some(Identity::Member(member)) = state.node_ids.get(node_id).copied() {
            state.node_ids.insert(node_id.to_string(), Identity::Removed { member, at: now });
        }
    }

    /// Every node id the cluster ever had, the removed ones included.
    pub fn node_ids(&self) -> Vec<String> {
        self.state().node_ids.keys().cloned().collect()
    }

    /// The member name a node id belongs (or belonged) to, with `(removed)` for a removed identity.
    pub fn owner(&self, node_id: &str) -> String {
        let state = self.state();
        match state.node_ids.get(node_id) {
            Some(Identity::Member(member)) => state.members[*member].name.clone(),
            Some(Identity::Removed { member, at }) => {
                format!("{} (old identity, removed at {})", state.members[*member].name, stamp(*at))
            }
            None => "not ours".to_string(),
        }
    }

    pub fn is_removed(&self, node_id: &str) -> bool {
        matches!(self.state().node_ids.get(node_id), Some(Identity::Removed { .. }))
    }

    pub fn change(&self, member: usize, change: Change) {
        let now = self.now();
        self.state().changes[member].push((now, change));
    }

    /// True if `member` was down (killed or frozen) at `at`.
    pub fn faulted(&self, member: usize, at: Duration) -> bool {
        let state = self.state();
        let last = state.changes[member].iter().rev().find(|(t, _)| *t <= at);
        matches!(last, Some((_, Change::Down)))
    }

    /// True if the node `node_id` is a member that was up and unfrozen over the whole window `from..=to`, and had
    /// been for at least the grace after its last thaw or restart.
    pub fn live_over(&self, node_id: &str, from: Duration, to: Duration) -> bool {
        self.up_over(node_id, from, to, true)
    }

    /// True if the node `node_id` is a member that was up and unfrozen over the whole window `from..=to`; with
    /// `grace`, for at least the grace after its last thaw or restart.
    pub fn up_over(&self, node_id: &str, from: Duration, to: Duration, grace: bool) -> bool {
        let state = self.state();
        let Some(Identity::Member(member)) = state.node_ids.get(node_id).copied() else { return false };
        let changes = &state.changes[member];
        if changes.iter().any(|(t, _)| *t > from && *t <= to) {
            return false;
        }
        match changes.iter().rev().find(|(t, _)| *t <= from) {
            None => true,
            Some((_, Change::Down)) => false,
            Some(_) if !grace => true,
            Some((t, Change::Thawed)) => *t + THAW_GRACE <= from,
            Some((t, Change::Restarted)) => *t + RESTART_GRACE <= from,
        }
    }

    /// How `node_id`'s member came back (thawed or restarted) and how long before `at`, if it was up then after a
    /// fault.
    pub fn back_for(&self, node_id: &str, at: Duration) -> Option<(Change, Duration)> {
        let state = self.state();
        let Some(Identity::Member(member)) = state.node_ids.get(node_id).copied() else { return None };
        match state.changes[member].iter().rev().find(|(t, _)| *t <= at) {
            Some((t, change @ (Change::Thawed | Change::Restarted))) => Some((*change, at - *t)),
            _ => None,
        }
    }

    /// The last outage of `node_id`'s member healed by `at`: how it came back, when it went down and when it came
    /// back.
    pub fn outage(&self, node_id: &str, at: Duration) -> Option<(Change, Duration, Duration)> {
        let state = self.state();
        let Some(Identity::Member(member)) = state.node_ids.get(node_id).copied() else { return None };
        let changes = &state.changes[member];
        let heal = changes.iter().rposition(|(t, c)| *t <= at && *c != Change::Down)?;
        let down = changes[..heal].iter().rev().find(|(_, c)| *c == Change::Down)?.0;
        Some((changes[heal].1, down, changes[heal].0))
    }

    /// `member`'s faults and heals, for evidence.
    pub fn history(&self, member: usize) -> String {
        let state = self.state();
        let parts: Vec<String> =
            state.changes[member].iter().map(|(t, change)| format!("{change:?} at {}", stamp(*t))).collect();
        if parts.is_empty() {
            "never faulted".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The member a node id belongs to, if it still is a member.
    pub fn member_of(&self, node_id: &str) -> Option<usize> {
        match self.state().node_ids.get(node_id) {
            Some(Identity::Member(member)) => Some(*member),
            _ => None,
        }
    }
}

impl Default for Journal {
    fn default() -> Journal {
        Journal::new()
    }
}
