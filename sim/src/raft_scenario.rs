//! The seeded Raft fault scenario. One seed derives everything: cluster size, client count, phase lengths, the
//! Raft compaction settings (small, so snapshots, log purges and chunked snapshot installs happen often), and the
//! fault sequence. A safety phase runs client proposals against crashes that lose unsynced writes, torn log
//! tails, symmetric and asymmetric partitions, leader isolation, packet loss and latency spikes; a liveness phase
//! heals everything and must converge within `LIVENESS_BOUND`. Any checker violation fails the run with the seed,
//! the derived scenario, the fault trace and one command that replays it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::NetSim;
use madsim::rand::{thread_rng, Rng};
use swarm_core::{ClusterSettings, Command, NetworkSpec, Proposal, Rejection, Timestamp};
use swarm_runtime::manager::client::ClusterClient;
use swarm_runtime::raft::settings::RaftSettings;

use crate::checkers;
use crate::recorder::Recorder;
use crate::world::{manager_addr, World};

/// After healing, the cluster must elect a leader, commit a fresh proposal and bring every manager to the same
/// applied index within this much simulated time.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub managers: u64,
    /// Manager `managers` joins only after healing, when the log it needs may be purged: it must catch up from a
    /// snapshot streamed in chunks.
    pub late_joiner: bool,
    pub clients: u64,
    pub safety_phase: Duration,
    pub fault_gap_ms: (u64, u64),
    pub raft: RaftSettings,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={} managers={} late_joiner={} clients={} safety_phase={}s fault_gap={}..{}ms snapshot_every={} keep={} chunk={}B",
            self.seed,
            self.managers,
            self.late_joiner,
            self.clients,
            self.safety_phase.as_secs(),
            self.fault_gap_ms.0,
            self.fault_gap_ms.1,
            self.raft.snapshot_interval_entries,
            self.raft.log_entries_for_slow_followers,
            self.raft.snapshot_chunk_bytes
        )
    }
}

impl Scenario {
    /// Derives the scenario from madsim's seeded RNG (call first thing in the run).
    pub fn derive(seed: u64) -> Scenario {
        let mut rng = thread_rng();
        let managers = if rng.gen_bool(0.6) { 3 } else { 5 };
        let raft = RaftSettings {
            snapshot_interval_entries: rng.gen_range(20..200),
            log_entries_for_slow_followers: rng.gen_range(0..50),
            purge_batch_entries: rng.gen_range(1..32),
            snapshot_chunk_bytes: rng.gen_range(256..4096),
            ..RaftSettings::default()
        };
        let gap_min = rng.gen_range(100..800);
        Scenario {
            seed,
            managers,
            late_joiner: rng.gen_bool(0.5),
            clients: rng.gen_range(1..=4),
            safety_phase: Duration::from_secs(rng.gen_range(8..=20)),
            fault_gap_ms: (gap_min, gap_min + rng.gen_range(200..2_000)),
            raft,
        }
    }
}

/// The repro line printed on failure.
pub fn repro_command(seed: u64) -> String {
    format!("MADSIM_TEST_SEED={seed} MADSIM_TEST_NUM=1 cargo sim --test raft_faults")
}

fn elapsed_ms(start: tokio::time::Instant) -> u128 {
    start.elapsed().as_millis()
}

/// Network faults currently in force, so healing undoes exactly them.
#[derive(Default)]
struct NetFaults {
    clogged_links: BTreeSet<(u64, u64)>,
    clogged_nodes: BTreeSet<u64>,
}

fn heal_network(world: &mut World, net: &NetSim, faults: &mut NetFaults) {
    world.thaw_all();
    for (a, b) in std::mem::take(&mut faults.clogged_links) {
        net.unclog_link(world.node_id(a), world.node_id(b));
    }
    for id in std::mem::take(&mut faults.clogged_nodes) {
        net.unclog_node(world.node_id(id));
    }
    net.update_config(|c| {
        c.packet_loss_rate = 0.0;
        c.send_latency = Duration::from_millis(1)..Duration::from_millis(10);
    });
}

/// Runs one seeded scenario and panics with a full report on any violation.
pub async fn run(seed: u64) {
    let scenario = Scenario::derive(seed);
    println!("{scenario}");
    let recorder = Recorder::default();
    let start = tokio::time::Instant::now();
    let mut world = World::new(scenario.managers, scenario.raft.clone(), recorder.clone());
    let net = NetSim::current();

    // Form the cluster before faults start: manager 1 bootstraps, the others join as learners then voters.
    let founders = if scenario.late_joiner { scenario.managers - 1 } else { scenario.managers };
    for id in 2..=founders {
        if let Err(error) = world.add_manager(id, Duration::from_secs(30)).await {
            fail(&scenario, &recorder, vec![format!("cluster formation: {error}")]);
        }
    }
    recorder.trace(format!("{}ms cluster formed with {founders} managers", elapsed_ms(start)));
    let init_addrs: Vec<String> = (1..=scenario.managers).map(manager_addr).collect();
    let tls = world.client_tls();
    let init_tls = tls.clone();
    let init = world.control.spawn(async move {
        let mut cluster = ClusterClient::new(&init_addrs, Duration::from_secs(5), Some(init_tls));
        let init = Proposal::new(
            Timestamp(1),
            Command::InitCluster {
                cluster_id: "sim-cluster".into(),
                settings: ClusterSettings::default(),
                join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
            },
        );
        cluster.propose(init).await
    });
    match init.await {
        Ok(Ok(committed)) if committed.response.is_ok() => {}
        other => fail(&scenario, &recorder, vec![format!("cluster formation: InitCluster failed: {other:?}")]),
    }

    // Clients propose unique network creations through any manager until the safety phase ends.
    let stop = Arc::new(AtomicBool::new(false));
    let addrs: Vec<String> = (1..=scenario.managers).map(manager_addr).collect();
    let mut client_tasks = Vec::new();
    for client in 0..scenario.clients {
        let node = world.add_client_node(
            format!("client-{client}"),
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, client as u8 + 1)),
        );
        let (stop, addrs, recorder, tls) = (stop.clone(), addrs.clone(), recorder.clone(), tls.clone());
        client_tasks.push(node.spawn(async move {
            let mut cluster = ClusterClient::new(&addrs, Duration::from_secs(3), Some(tls));
            cluster.prefer(thread_rng().gen_range(0..addrs.len()));
            let mut seq = 0u64;
            while !stop.load(Ordering::SeqCst) {
                seq += 1;
                let id = format!("c{client}-{seq}");
                recorder.with(|r| r.proposals_attempted += 1);
                if let Ok(committed) = cluster.propose(create_network(&id)).await {
                    // An id conflict means an earlier attempt of ours (that looked failed) committed it.
                    match committed.response {
                        Ok(_) | Err(Rejection::IdConflict { .. }) => recorder.acknowledged(id),
                        Err(rejection) => recorder.violation(format!("proposal {id} rejected: {rejection}")),
                    }
                } else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    cluster.prefer(thread_rng().gen_range(0..addrs.len()));
                }
                let think_ms = thread_rng().gen_range(0..20);
                tokio::time::sleep(Duration::from_millis(think_ms)).await;
            }
        }));
    }

    // Safety phase: faults.
    let mut faults = NetFaults::default();
    let safety_end = tokio::time::Instant::now() + scenario.safety_phase;
    while tokio::time::Instant::now() < safety_end {
        let gap = thread_rng().gen_range(scenario.fault_gap_ms.0..scenario.fault_gap_ms.1);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        inject_fault(&mut world, &net, &mut faults, &scenario, start);
    }

    // Liveness phase: heal everything, stop the workload, and require convergence.
    stop.store(true, Ordering::SeqCst);
    heal_network(&mut world, &net, &mut faults);
    for id in 1..=scenario.managers {
        world.restart(id);
    }
    recorder.trace(format!("{}ms healed: all managers up, network clean", elapsed_ms(start)));
    for task in client_tasks {
        let _ = task.await;
    }
    let mut violations = Vec::new();
    if scenario.late_joiner {
        if let Err(error) = world.add_manager(scenario.managers, LIVENESS_BOUND).await {
            violations.push(format!("liveness: late manager could not join after healing: {error}"));
        }
        recorder.trace(format!("{}ms manager {} joined late", elapsed_ms(start), scenario.managers));
    }
    match converge(&world, &scenario, &addrs).await {
        Ok(()) => {}
        Err(error) => violations.push(error),
    }

    let record_violations = recorder.with(|r| {
        let mut v = std::mem::take(&mut r.violations);
        v.extend(checkers::election_safety::check(r));
        v.extend(checkers::state_machine_safety::check(r));
        v.extend(checkers::snapshot_agreement::check(r));
        v
    });
    violations.extend(record_violations);
    if violations.is_empty() {
        let acknowledged = recorder.with(|r| r.acknowledged.clone());
        let mut finals = Vec::new();
        let mut encodings = Vec::new();
        for id in 1..=scenario.managers {
            if let Some(manager) = world.manager(id) {
                let (networks, bytes) = manager.read(|store| {
                    (store.networks().map(|n| n.id.clone()).collect::<BTreeSet<_>>(), store.encode_snapshot())
                });
                finals.push((id, networks));
                encodings.push((id, bytes));
            }
        }
        violations.extend(checkers::committed_never_lost::check(&acknowledged, &finals));
        if let Some((first_id, first)) = encodings.first() {
            for (id, bytes) in &encodings[1..] {
                if bytes != first {
                    violations.push(format!(
                        "converged state: manager {id}'s store differs from manager {first_id}'s at the same applied index"
                    ));
                }
            }
        }
    }
    if !violations.is_empty() {
        fail(&scenario, &recorder, violations);
    }
    let (attempted, acknowledged, built, installed, faults) = recorder.with(|r| {
        (r.proposals_attempted, r.acknowledged.len(), r.snapshots_built, r.snapshots_installed, r.trace.len())
    });
    println!(
        "ok: {attempted} proposals, {acknowledged} acknowledged, {built} snapshots built, {installed} installed from \
         a leader, {faults} trace events, {}ms simulated",
        elapsed_ms(start)
    );
}

fn create_network(id: &str) -> Proposal {
    Proposal::new(
        Timestamp(1),
        Command::CreateNetwork {
            network_id: id.to_string(),
            spec: NetworkSpec { name: id.to_string(), ..NetworkSpec::default() },
        },
    )
}

/// Waits until a fresh proposal commits and every manager applied the same index.
async fn converge(world: &World, scenario: &Scenario, addrs: &[String]) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + LIVENESS_BOUND;
    let addrs = addrs.to_vec();
    let tls = world.client_tls();
    let probe = world.control.spawn(async move {
        let mut cluster = ClusterClient::new(&addrs, Duration::from_secs(2), Some(tls));
        loop {
            if cluster.propose(create_network("liveness-probe")).await.is_ok() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    if !probe.await.unwrap_or(false) {
        return Err(format!(
            "liveness: no proposal committed within {}s after healing: {}",
            LIVENESS_BOUND.as_secs(),
            describe_managers(world, scenario)
        ));
    }
    loop {
        let statuses: Vec<_> = (1..=scenario.managers).filter_map(|id| world.manager(id)).map(|m| m.status()).collect();
        let leader_last = statuses.iter().filter(|s| s.state == "Leader").map(|s| s.last_log_index).next();
        if let Some(target) = leader_last {
            if statuses.len() as u64 == scenario.managers && statuses.iter().all(|s| s.last_applied_index == target) {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "liveness: managers did not converge within {}s after healing: {}",
                LIVENESS_BOUND.as_secs(),
                describe_managers(world, scenario)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each manager's Raft view, for liveness failure reports.
fn describe_managers(world: &World, scenario: &Scenario) -> String {
    let lines: Vec<String> = (1..=scenario.managers)
        .map(|id| match world.manager(id) {
            Some(m) => {
                let s = m.status();
                format!(
                    "manager {id} {} term {} leader {:?} log {:?} applied {:?} voters {:?}",
                    s.state,
                    s.term,
                    s.leader,
                    s.last_log_index,
                    s.last_applied_index,
                    s.voters.keys().collect::<Vec<_>>()
                )
            }
            None => format!("manager {id} not running"),
        })
        .collect();
    lines.join("; ")
}

fn inject_fault(
    world: &mut World,
    net: &NetSim,
    faults: &mut NetFaults,
    scenario: &Scenario,
    start: tokio::time::Instant,
) {
    let mut rng = thread_rng();
    let ids: Vec<u64> = (1..=scenario.managers).collect();
    let down: Vec<u64> = world.managers.values().filter(|s| !s.up).map(|s| s.id).collect();
    let minority = (scenario.managers - 1) / 2;
    let now = elapsed_ms(start);
    let choice = rng.gen_range(0..100);
    let line = match choice {
        // Crash a manager; its unsynced writes vanish, sometimes leaving a torn prefix in the log tail.
        0..=24 if (down.len() as u64) < minority.max(1) => {
            let id = ids[rng.gen_range(0..ids.len())];
            let torn = rng.gen_bool(0.5);
            world.crash(id, |unsynced| if torn && unsynced > 0 { thread_rng().gen_range(0..=unsynced) } else { 0 });
            format!("{now}ms crash manager {id} (torn tail: {torn})")
        }
        // Bring crashed managers back.
        0..=39 if !down.is_empty() => {
            let id = down[rng.gen_range(0..down.len())];
            world.restart(id);
            format!("{now}ms restart manager {id}")
        }
        // Symmetric partition into two random sides.
        0..=49 => {
            let mut side_a = BTreeSet::new();
            for id in &ids {
                if rng.gen_bool(0.5) {
                    side_a.insert(*id);
                }
            }
            for a in &ids {
                for b in &ids {
                    if side_a.contains(a) != side_a.contains(b) {
                        net.clog_link(world.node_id(*a), world.node_id(*b));
                        faults.clogged_links.insert((*a, *b));
                    }
                }
            }
            format!("{now}ms partition {side_a:?} | rest")
        }
        // Asymmetric: one direction of one link.
        50..=59 => {
            let a = ids[rng.gen_range(0..ids.len())];
            let others: Vec<u64> = ids.iter().copied().filter(|b| *b != a).collect();
            let b = others[rng.gen_range(0..others.len())];
            net.clog_link(world.node_id(a), world.node_id(b));
            faults.clogged_links.insert((a, b));
            format!("{now}ms clog link {a} -> {b}")
        }
        // Isolate the leader completely.
        60..=69 => match world.leader() {
            Some(leader) => {
                net.clog_node(world.node_id(leader));
                faults.clogged_nodes.insert(leader);
                format!("{now}ms isolate leader {leader}")
            }
            None => format!("{now}ms (no leader to isolate)"),
        },
        70..=77 => {
            let loss = rng.gen_range(0.05..0.3);
            net.update_config(|c| c.packet_loss_rate = loss);
            format!("{now}ms packet loss {loss:.2}")
        }
        78..=85 => {
            let spike_ms = rng.gen_range(50..400);
            net.update_config(|c| c.send_latency = Duration::from_millis(1)..Duration::from_millis(spike_ms));
            format!("{now}ms latency spike up to {spike_ms}ms")
        }
        // Freeze a manager (SIGSTOP) for a while, the leader half of the time: it resumes with stale state and
        // overdue timers (issue 15: a frozen follower must not depose a healthy leader, nor a frozen leader
        // leave a slot running twice).
        86..=92 => {
            let leader = world.leader().filter(|_| rng.gen_bool(0.5));
            let id = leader.unwrap_or_else(|| ids[rng.gen_range(0..ids.len())]);
            let freeze_ms = rng.gen_range(500..8_000);
            world.freeze(id, Duration::from_millis(freeze_ms));
            format!("{now}ms freeze manager {id} for {freeze_ms}ms")
        }
        _ => {
            heal_network(world, net, faults);
            format!("{now}ms heal network")
        }
    };
    world.recorder.trace(line);
}

fn fail(scenario: &Scenario, recorder: &Recorder, violations: Vec<String>) -> ! {
    let (trace, acknowledged, attempted, snapshots) = recorder.with(|r| {
        (r.trace.clone(), r.acknowledged.len(), r.proposals_attempted, r.snapshots_built + r.snapshots_installed)
    });
    let mut report = String::new();
    report.push_str(&format!("simulation failed: {scenario}\n"));
    for v in &violations {
        report.push_str(&format!("  VIOLATION {v}\n"));
    }
    report.push_str(&format!(
        "  proposals: {attempted} attempted, {acknowledged} acknowledged; snapshots built or installed: {snapshots}\n"
    ));
    report.push_str("  trace:\n");
    for line in trace.iter().rev().take(60).rev() {
        report.push_str(&format!("    {line}\n"));
    }
    report.push_str(&format!("  replay: {}\n", repro_command(scenario.seed)));
    panic!("{report}");
}
