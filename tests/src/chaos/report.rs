//! What a drill found: the violations (each with the check it broke and its evidence), every command attempt with
//! its timing, the follower stalls with the Raft view before and after, the leader-freeze redirects — and the four
//! figures `.ci/bench` prints from them.

use std::fmt;
use std::time::Duration;

use super::journal::stamp;

/// A check that failed, with what shows it.
pub struct Violation {
    pub check: &'static str,
    pub at: Duration,
    pub summary: String,
    pub evidence: String,
}

impl Violation {
    /// The check, the time and the summary, without the evidence.
    pub fn summary_line(&self) -> String {
        format!("VIOLATION [{}] at {}: {}", self.check, stamp(self.at), self.summary)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary_line())?;
        for line in self.evidence.lines() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// One CLI run.
#[derive(Clone)]
pub struct Attempt {
    pub start: Duration,
    pub end: Duration,
    /// The manager it was sent to.
    pub member: String,
    pub args: Vec<String>,
    pub ok: bool,
    /// stderr's first line when it failed.
    pub error: String,
    /// Sent while some process was killed or frozen.
    pub during_fault: bool,
}

impl Attempt {
    pub fn latency(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{} ({} ms) via {}: swarm {} → {}",
            stamp(self.start),
            stamp(self.end),
            self.latency().as_millis(),
            self.member,
            self.args.join(" "),
            if self.ok { "ok".to_string() } else { format!("FAILED: {}", self.error) }
        )
    }
}

/// Every manager's name with its term and the leader it names (by member name), `None` if it did not answer.
pub type RaftView = Vec<(String, Option<(u64, Option<String>)>)>;

/// `m1: term 5, leader m2; m2: …`.
pub fn describe_view(view: &RaftView) -> String {
    let parts: Vec<String> = view
        .iter()
        .map(|(name, answer)| match answer {
            Some((term, leader)) => format!("{name}: term {term}, leader {}", leader.as_deref().unwrap_or("none")),
            None => format!("{name}: no answer"),
        })
        .collect();
    parts.join("; ")
}

/// A follower SIGSTOPped and continued: every manager's term and leader before the stop and after the continue.
pub struct Stall {
    pub follower: String,
    pub before: RaftView,
    pub after: RaftView,
}

impl Stall {
    /// Elections the stall caused: how far the highest term moved (each election starts a term).
    pub fn elections(&self) -> u64 {
        let top =
            |view: &RaftView| view.iter().filter_map(|(_, s)| s.as_ref().map(|(term, _)| *term)).max().unwrap_or(0);
        top(&self.after).saturating_sub(top(&self.before))
    }
}

#[derive(Default)]
pub struct ChaosReport {
    pub seed: u64,
    pub wall: Duration,
    pub violations: Vec<Violation>,
    pub attempts: Vec<Attempt>,
    pub stalls: Vec<Stall>,
    /// Per leader SIGSTOP: from the signal to the first command through a follower answered by the new leader.
    pub redirects: Vec<Duration>,
    /// Docker samples taken, and slots seen running twice where a copy was on a node killed, frozen or in its grace.
    pub samples: u64,
    pub tolerated_doubles: u64,
    /// See `SlotFindings::latest_after_thaw` and `latest_after_restart`.
    pub latest_after_thaw: (Duration, String),
    pub latest_after_restart: (Duration, String),
    pub timeline: Vec<String>,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

impl ChaosReport {
    fn fault_latencies(&self) -> Vec<Duration> {
        let mut latencies: Vec<Duration> =
            self.attempts.iter().filter(|a| a.during_fault).map(Attempt::latency).collect();
        latencies.sort();
        latencies
    }

    /// p99 of the wall times of the commands sent while a process was killed or frozen.
    pub fn cmd_p99_ms(&self) -> f64 {
        percentile(&self.fault_latencies(), 0.99).as_secs_f64() * 1000.0
    }

    pub fn cmd_max_ms(&self) -> f64 {
        self.fault_latencies().last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    }

    /// Term increments per follower SIGSTOP/SIGCONT (goal 0).
    pub fn needless_elections_per_follower_stall(&self) -> f64 {
        if self.stalls.is_empty() {
            return f64::NAN;
        }
        self.stalls.iter().map(Stall::elections).sum::<u64>() as f64 / self.stalls.len() as f64
    }

    /// The slowest redirect over the drill's leader freezes.
    pub fn leader_freeze_redirect_ms(&self) -> f64 {
        self.redirects.iter().max().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }

    /// The figures and a one-line summary per check, for the end of a run.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "chaos seed {}: {:.1} s wall, {} commands ({} during faults), {} Docker samples ({} tolerated doubles \
             on killed/frozen/just-healed nodes), {} follower stalls, {} violations\n",
            self.seed,
            self.wall.as_secs_f64(),
            self.attempts.len(),
            self.attempts.iter().filter(|a| a.during_fault).count(),
            self.samples,
            self.tolerated_doubles,
            self.stalls.len(),
            self.violations.len()
        );
        text.push_str(&format!(
            "  a tolerated second copy of a slot ran at most {:.1} s after its node's SIGCONT (grace {:?}) {}\n  and at \
             most {:.1} s after its node's restart (grace {:?}) {}\n",
            self.latest_after_thaw.0.as_secs_f64(),
            super::journal::THAW_GRACE,
            self.latest_after_thaw.1,
            self.latest_after_restart.0.as_secs_f64(),
            super::journal::RESTART_GRACE,
            self.latest_after_restart.1
        ));
        text.push_str(&format!(
            "  chaos_cmd_p99_ms={:.0} chaos_cmd_max_ms={:.0} needless_elections_per_follower_stall={:.2} \
             leader_freeze_redirect_ms={:.0} (redirects: {:?})\n",
            self.cmd_p99_ms(),
            self.cmd_max_ms(),
            self.needless_elections_per_follower_stall(),
            self.leader_freeze_redirect_ms(),
            self.redirects.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
        ));
        let checks: std::collections::BTreeSet<&str> = self.violations.iter().map(|v| v.check).collect();
        text.push_str(&format!("  failed checks: {checks:?}\n"));
        text
    }
}
