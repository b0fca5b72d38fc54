//! The real-process chaos drill (issue 15, part 6), shared by `tests/tests/chaos.rs` and the `chaos_*` benchmarks:
//! three managers and two workers on loopback, one seeded plan of faults (`kill -9` and restart, SIGSTOP/SIGCONT
//! of the leader, of followers and of a worker) with service commands during and after each, and at the end one
//! manager replaced the documented way (stop, `node demote`, `node rm --force`, wipe, join with a fresh
//! identity). While it runs, a Docker sampler checks one running container per slot on live nodes and a watcher
//! keeps every manager's Raft view; afterwards the checks in `checks.rs` judge convergence, orphans, leadership,
//! the final specs and command latency. The drill never stops at a violation: it collects them all, with evidence,
//! in a `ChaosReport`.

mod checks;
pub mod cluster;
mod drill;
pub mod journal;
pub mod leaders;
pub mod report;
pub mod schedule;
pub mod slots;

use std::sync::Arc;
use std::time::Instant;

pub use report::ChaosReport;

use cluster::ChaosCluster;
use journal::Journal;
use leaders::LeaderWatch;
use schedule::Plan;
use slots::SlotSampler;

/// Where and how a drill runs.
pub struct ChaosConfig {
    pub seed: u64,
    /// The drill's addresses are `127.0.<net>.1..5:<port>`; no other test or benchmark may use the same `net`.
    pub net: u8,
    pub port: u16,
    /// The scratch directory's name.
    pub name: String,
    /// Extra `swarm daemon` arguments (e.g. `--log-level warn`).
    pub daemon_args: Vec<String>,
}

/// The seed a drill uses unless `CHAOS_SEED` says otherwise.
pub const DEFAULT_SEED: u64 = 1;

impl ChaosConfig {
    /// The seed from `CHAOS_SEED` (default `DEFAULT_SEED`).
    pub fn from_env(net: u8, port: u16, name: &str) -> ChaosConfig {
        let seed = std::env::var("CHAOS_SEED").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(DEFAULT_SEED);
        ChaosConfig { seed, net, port, name: name.to_string(), daemon_args: Vec::new() }
    }
}

/// Runs the whole drill and returns what it found. Panics only when the drill cannot go on (the cluster does not
/// form, Docker cannot be run); everything it checks ends up in the report.
pub fn run(config: &ChaosConfig) -> ChaosReport {
    let started = Instant::now();
    let plan = Plan::new(config.seed);
    println!("{}", plan.describe());
    crate::ensure_test_images();
    let journal = Arc::new(Journal::new());
    let args: Vec<&str> = config.daemon_args.iter().map(String::as_str).collect();
    let cluster = ChaosCluster::form(&config.name, config.net, config.port, &args, journal.clone());
    journal.note(&format!("cluster formed on {} (data in {})", cluster.addrs.join(" "), cluster.dir.display()));
    let control_addrs = cluster.control_addrs(cluster::MANAGERS);
    let watch = LeaderWatch::start(&control_addrs, journal.clone());
    let sampler = SlotSampler::start(journal.clone());
    let mut drill = drill::Drill::new(cluster, journal.clone(), config.daemon_args.clone(), watch, sampler);
    drill.create_services();
    for (index, step) in plan.steps.iter().enumerate() {
        drill.step(index, step);
    }
    drill.replace_manager(plan.replaced_pick);
    let mut report = drill.finish();
    report.seed = config.seed;
    report.wall = started.elapsed();
    report
}
