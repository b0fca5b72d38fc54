//! The chaos drill's seeded plan: which faults in which order, for how long, and the service commands sent during
//! and after each. One seed gives one plan (splitmix64; nothing else random), printed before the drill starts, so
//! a failing run is replayed with `CHAOS_SEED=<seed>`. The plan keeps its own model of the services, so every
//! command it writes names a service that exists by then.

use std::fmt;
use std::time::Duration;

/// splitmix64: small, seedable, good enough to shuffle a drill.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// Whose process the fault hits, chosen when the fault starts (the leader is whoever leads then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Leader,
    /// A manager that does not lead; `pick` chooses among them.
    Follower,
    Worker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// `kill -9`, down for the duration, then restarted on the same data directory.
    Kill,
    /// SIGSTOP for the duration, then SIGCONT.
    Freeze,
}

#[derive(Clone, Copy, Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub target: Target,
    pub duration: Duration,
    /// Chooses the process among those of `target` (modulo their number).
    pub pick: u64,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FaultKind::Kill => "kill -9",
            FaultKind::Freeze => "SIGSTOP",
        };
        let whom = match self.target {
            Target::Leader => "the leader",
            Target::Follower => "a follower manager",
            Target::Worker => "a worker",
        };
        let heal = match self.kind {
            FaultKind::Kill => "restart",
            FaultKind::Freeze => "SIGCONT",
        };
        write!(f, "{what} {whom} (pick {}), {heal} after {:.1} s", self.pick % 100, self.duration.as_secs_f64())
    }
}

/// A service command whose acknowledgement the drill tracks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    Create {
        service: String,
        replicas: u64,
    },
    Scale {
        service: String,
        replicas: u64,
    },
    /// `service update --env-add CHAOS_STEP=<value>`.
    EnvAdd {
        service: String,
        value: u64,
    },
}

impl Write {
    /// The CLI arguments (detached: the command returns once the leader acknowledged it).
    pub fn args(&self) -> Vec<String> {
        let words: Vec<String> = match self {
            Write::Create { service, replicas } => vec![
                "service".into(),
                "create".into(),
                "-d".into(),
                "--name".into(),
                service.clone(),
                "--replicas".into(),
                replicas.to_string(),
                IMAGE.into(),
            ],
            Write::Scale { service, replicas } => {
                vec!["service".into(), "scale".into(), "-d".into(), format!("{service}={replicas}")]
            }
            Write::EnvAdd { service, value } => vec![
                "service".into(),
                "update".into(),
                "-d".into(),
                "--env-add".into(),
                format!("{ENV_KEY}={value}"),
                service.clone(),
            ],
        };
        words
    }

    pub fn service(&self) -> &str {
        match self {
            Write::Create { service, .. } | Write::Scale { service, .. } | Write::EnvAdd { service, .. } => service,
        }
    }
}

impl fmt::Display for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "swarm {}", self.args().join(" "))
    }
}

pub const IMAGE: &str = "swarm-hello:1";
pub const ENV_KEY: &str = "CHAOS_STEP";

/// The services the drill creates before its first fault: (name, replicas, extra `service create` flags). `b` rolls
/// two tasks at a time, as in the run that found two containers for one slot.
pub const INITIAL_SERVICES: [(&str, u64, &[&str]); 3] =
    [("chaos-a", 3, &[]), ("chaos-b", 4, &["--update-parallelism", "2"]), ("chaos-c", 2, &[])];

/// Created in the middle of the drill, during a fault.
pub const LATE_SERVICE: &str = "chaos-d";

pub struct Step {
    pub fault: Fault,
    /// Sent as soon as the fault is in place (through a manager the fault did not hit).
    pub during: Write,
    /// Sent once the fault is healed.
    pub after: Write,
}

pub struct Plan {
    pub seed: u64,
    pub steps: Vec<Step>,
    /// Chooses the follower manager replaced at the end.
    pub replaced_pick: u64,
}

/// The drill's faults, in a seeded order: each kind of fault on each kind of target, several times — follower
/// stalls four times (the needless-election figure is per stall), leader freezes four (the redirect figure).
const FAULTS: [(FaultKind, Target); 18] = [
    (FaultKind::Freeze, Target::Follower),
    (FaultKind::Freeze, Target::Follower),
    (FaultKind::Freeze, Target::Follower),
    (FaultKind::Freeze, Target::Follower),
    (FaultKind::Freeze, Target::Leader),
    (FaultKind::Freeze, Target::Leader),
    (FaultKind::Freeze, Target::Leader),
    (FaultKind::Freeze, Target::Leader),
    (FaultKind::Kill, Target::Leader),
    (FaultKind::Kill, Target::Leader),
    (FaultKind::Kill, Target::Leader),
    (FaultKind::Kill, Target::Follower),
    (FaultKind::Kill, Target::Follower),
    (FaultKind::Kill, Target::Follower),
    (FaultKind::Kill, Target::Worker),
    (FaultKind::Kill, Target::Worker),
    (FaultKind::Freeze, Target::Worker),
    (FaultKind::Freeze, Target::Worker),
];

impl Plan {
    pub fn new(seed: u64) -> Plan {
        let mut rng = Rng::new(seed);
        let mut faults = FAULTS.to_vec();
        for i in (1..faults.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            faults.swap(i, j);
        }
        let mut services: Vec<String> = INITIAL_SERVICES.iter().map(|(name, ..)| name.to_string()).collect();
        let mut next_value = 1;
        let mut write = |rng: &mut Rng, services: &[String]| {
            let service = services[rng.below(services.len() as u64) as usize].clone();
            if rng.below(2) == 0 {
                Write::Scale { service, replicas: 1 + rng.below(4) }
            } else {
                next_value += 1;
                Write::EnvAdd { service, value: next_value }
            }
        };
        let mut steps = Vec::new();
        for (index, (kind, target)) in faults.into_iter().enumerate() {
            let duration = match kind {
                FaultKind::Freeze => rng.millis(2_000, 6_000),
                FaultKind::Kill => rng.millis(1_000, 4_000),
            };
            let fault = Fault { kind, target, duration, pick: rng.next_u64() };
            let during = if index == FAULTS.len() / 2 {
                Write::Create { service: LATE_SERVICE.to_string(), replicas: 2 }
            } else {
                write(&mut rng, &services)
            };
            if let Write::Create { service, .. } = &during {
                services.push(service.clone());
            }
            let after = write(&mut rng, &services);
            steps.push(Step { fault, during, after });
        }
        Plan { seed, steps, replaced_pick: rng.next_u64() }
    }

    /// The plan as printed before the drill starts.
    pub fn describe(&self) -> String {
        let mut text = format!("chaos plan, seed {} (CHAOS_SEED={} replays it):\n", self.seed, self.seed);
        for (index, step) in self.steps.iter().enumerate() {
            text.push_str(&format!(
                "  step {:2}: {}\n           during: {}\n           after:  {}\n",
                index + 1,
                step.fault,
                step.during,
                step.after
            ));
        }
        text.push_str(&format!(
            "  last:    replace a follower manager (pick {}): stop, node demote, node rm --force, wipe, join\n",
            self.replaced_pick % 100
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_one_plan_and_every_command_names_an_existing_service() {
        let a = Plan::new(7).describe();
        assert_eq!(a, Plan::new(7).describe());
        assert_ne!(a, Plan::new(8).describe());
        let plan = Plan::new(7);
        let mut known: Vec<String> = INITIAL_SERVICES.iter().map(|(n, ..)| n.to_string()).collect();
        for step in &plan.steps {
            for write in [&step.during, &step.after] {
                if let Write::Create { service, .. } = write {
                    known.push(service.clone());
                } else {
                    assert!(known.iter().any(|s| s == write.service()), "{write}");
                }
            }
        }
    }
}
