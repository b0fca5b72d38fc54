//! IPAM benchmark: 100 overlay networks, 100 services of 1,000 replicas each (one network per service), so
//! 100,000 `New` tasks waiting for an address. Times the allocator stage (`allocator::allocate`: a VIP per
//! service is already held, then an address per task, as commands) and the apply of what it proposes, and prints
//! `RESULT ipam_allocations_per_sec=<n> allocations/s` (median of several rounds of the stage) and
//! `RESULT ipam_bytes_per_endpoint=<n> bytes` (the address maps' heap bytes over the addresses they hold, after
//! the apply). Setup details go to stderr.
//!
//! Run: `cargo run --release -p swarm-core --bin ipam-bench [FILTER]`. Outside `core/src` because it reads the
//! clock.

use std::time::Instant;

use swarm_core::*;

const NETWORKS: usize = 100;
const REPLICAS_PER_SERVICE: u64 = 1_000;
const ROUNDS: usize = 5;
const NOW: u64 = 1_700_000_000_000;
const METRICS: [&str; 2] = ["ipam_allocations_per_sec", "ipam_bytes_per_endpoint"];

fn apply(store: &mut Store, command: Command) {
    let name = command.name();
    if let Err(rejection) = store.apply(&Proposal::new(Timestamp(NOW), command)) {
        panic!("{name} rejected: {rejection}");
    }
}

fn main() {
    if let Some(filter) = std::env::args().nth(1) {
        if !METRICS.iter().any(|metric| metric.contains(filter.as_str())) {
            return;
        }
    }
    let setup = Instant::now();
    let mut store = Store::new();
    // /21 subnets: 2,046 host addresses each, room for a service's 1,000 tasks and its VIP.
    let settings = ClusterSettings { default_subnet_prefix_len: 21, ..ClusterSettings::default() };
    apply(
        &mut store,
        Command::InitCluster {
            cluster_id: "bench".into(),
            settings,
            join_tokens: JoinTokens::from_parts("d", "w", "m"),
        },
    );
    for index in 0..NETWORKS {
        let spec = NetworkSpec::overlay(format!("net{index}"));
        apply(&mut store, Command::CreateNetwork { network_id: format!("n{index:03}"), spec });
        let mut spec = ServiceSpec::replicated(format!("svc{index}"), "bb:1", REPLICAS_PER_SERVICE);
        spec.task_template.networks = vec![NetworkAttachmentConfig::new(format!("n{index:03}"))];
        apply(&mut store, Command::CreateService { service_id: format!("s{index:03}"), spec });
    }
    let mut ids = SequentialIds::new("t");
    for command in orchestrator::reconcile(&store, Timestamp(NOW), &mut ids) {
        apply(&mut store, command);
    }
    // The services' VIPs first (one stage run), so the timed rounds allocate tasks only.
    let vips: Vec<Command> = allocator::allocate(&store, Timestamp(NOW))
        .into_iter()
        .map(|batch| match batch {
            Command::Batch(commands) => Command::Batch(
                commands.into_iter().filter(|c| matches!(c, Command::SetServiceVirtualIps { .. })).collect(),
            ),
            other => other,
        })
        .collect();
    for command in vips {
        apply(&mut store, command);
    }
    let new_tasks = store.tasks().filter(|t| t.status.state == TaskState::New).count();
    eprintln!(
        "setup: {NETWORKS} networks, {} services, {new_tasks} new tasks in {:.2?}",
        store.service_count(),
        setup.elapsed()
    );

    let mut times = Vec::with_capacity(ROUNDS);
    let mut commands = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        commands = allocator::allocate(&store, Timestamp(NOW));
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[ROUNDS / 2];
    let allocations = commands
        .iter()
        .map(|batch| match batch {
            Command::Batch(commands) => commands.iter().filter(|c| matches!(c, Command::AllocateTask { .. })).count(),
            _ => 0,
        })
        .sum::<usize>();
    assert_eq!(allocations, new_tasks, "every new task got its addresses");
    let start = Instant::now();
    for command in commands {
        apply(&mut store, command);
    }
    let apply_time = start.elapsed();
    let endpoints: u64 = store.networks().map(|n| u64::from(store.ipam().network(&n.id).unwrap().used_count())).sum();
    let bytes = store.ipam().heap_bytes();
    eprintln!(
        "allocate: {allocations} task addresses, median {median:.2?} over {ROUNDS} rounds (min {:.2?}, max {:.2?}); \
         applied in {apply_time:.2?} (with check_invariants only in debug builds); {endpoints} addresses held in \
         {bytes} bytes of maps",
        times[0],
        times[ROUNDS - 1]
    );
    let per_sec = allocations as f64 / median.as_secs_f64();
    println!("RESULT ipam_allocations_per_sec={per_sec:.0} allocations/s");
    println!("RESULT ipam_bytes_per_endpoint={:.2} bytes", bytes as f64 / endpoints as f64);
}
