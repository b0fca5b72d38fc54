//! Scheduler benchmark: 5,000 labelled nodes (zones, racks, disks, roles, sizes; a few drained or down), 10,000
//! tasks already running, and 100,000 pending tasks over 20 services mixing spread preferences, constraints,
//! reservations, max replicas per node and host-mode ports. Times `scheduler::schedule` (decisions plus commands)
//! and prints `RESULT scheduler_placements_per_sec=<n> placements/s` (the median of several rounds on the same
//! store); setup details and a check that every produced command applies go to stderr.
//!
//! Run: `cargo run --release -p swarm-core --bin scheduler-bench [FILTER]` (runs only if the metric name contains
//! FILTER). It lives outside `core/src` because it reads the clock.

use std::time::{Duration, Instant};

use swarm_core::scheduler;
use swarm_core::*;

const METRIC: &str = "scheduler_placements_per_sec";
const NODES: usize = 5_000;
const SERVICES: usize = 20;
const PENDING_PER_SERVICE: usize = 5_000;
const RUNNING: usize = 10_000;
const ROUNDS: usize = 7;
const NOW: u64 = 1_700_000_000_000;
const CPU: u64 = 1_000_000_000;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// xorshift64*: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A Docker-like 25-character base-36 id.
    fn id(&mut self) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..25).map(|_| ALPHABET[self.below(36) as usize] as char).collect()
    }
}

fn apply(store: &mut Store, command: Command) {
    let name = command.name();
    if let Err(rejection) = store.apply(&Proposal::new(Timestamp(NOW), command)) {
        panic!("setup {name} rejected: {rejection}");
    }
}

fn node(rng: &mut Rng, index: usize) -> (Node, NodeStatus) {
    // Uneven zones: 40%, 30%, 15%, 10%, 5%.
    let zone = match rng.below(100) {
        0..40 => "z0",
        40..70 => "z1",
        70..85 => "z2",
        85..95 => "z3",
        _ => "z4",
    };
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("zone".to_string(), zone.to_string());
    labels.insert("rack".to_string(), format!("r{:02}", rng.below(20)));
    if rng.below(3) == 0 {
        labels.insert("disk".to_string(), "ssd".to_string());
    }
    let size = 1 << rng.below(3); // 1, 2 or 4
    let spec = NodeSpec {
        name: None,
        role: if index < NODES / 10 { NodeRole::Manager } else { NodeRole::Worker },
        availability: if rng.below(100) == 0 { NodeAvailability::Drain } else { NodeAvailability::Active },
        labels,
    };
    let description = NodeDescription {
        hostname: format!("host-{index:04}"),
        platform: Platform { os: "linux".into(), architecture: "x86_64".into() },
        resources: Resources { nano_cpus: 8 * size * CPU, memory_bytes: 16 * size * GIB },
        engine: EngineDescription::default(),
    };
    let state = if rng.below(100) == 0 { NodeState::Down } else { NodeState::Ready };
    let status = NodeStatus { state, message: String::new(), addr: format!("10.0.{}.{}", index / 250, index % 250) };
    (Node::new(rng.id(), spec, description), status)
}

/// Service `index`'s spec: a mix of what the scheduler handles.
fn service_spec(index: usize) -> (ServiceSpec, &'static str) {
    let mut spec = ServiceSpec::replicated(format!("svc{index:02}"), "bb:1", PENDING_PER_SERVICE as u64);
    let placement = &mut spec.task_template.placement;
    let reservations = &mut spec.task_template.resources.reservations;
    let spread = |descriptor: &str| PlacementPreference::Spread { spread_descriptor: descriptor.into() };
    let kind = match index % 7 {
        0 => "plain",
        1 => {
            placement.preferences.push(spread("node.labels.zone"));
            "spread zone"
        }
        2 => {
            placement.preferences.push(spread("node.labels.zone"));
            placement.constraints.push("node.role==worker".into());
            "spread zone + role constraint"
        }
        3 => {
            placement.constraints.push("node.labels.disk==ssd".into());
            *reservations = Resources { nano_cpus: CPU / 4, memory_bytes: 256 * MIB };
            "ssd constraint + reservations"
        }
        4 => {
            placement.preferences.push(spread("node.labels.zone"));
            placement.preferences.push(spread("node.labels.rack"));
            *reservations = Resources { nano_cpus: CPU / 10, memory_bytes: 128 * MIB };
            "spread zone, rack + reservations"
        }
        5 => {
            placement.preferences.push(spread("node.labels.zone"));
            placement.max_replicas = 2;
            "spread zone + max 2 per node"
        }
        _ => {
            placement.constraints.push("node.role!=manager".into());
            let port = PortConfig {
                published_port: 9000 + index as u32,
                target_port: 80,
                publish_mode: PublishMode::Host,
                ..PortConfig::default()
            };
            spec.endpoint_spec.ports.push(port);
            "host port + role constraint"
        }
    };
    (spec, kind)
}

fn build_store(rng: &mut Rng) -> (Store, usize) {
    let mut store = Store::new();
    apply(
        &mut store,
        Command::InitCluster {
            cluster_id: "bench".into(),
            settings: ClusterSettings::default(),
            join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
        },
    );
    let (nodes, statuses): (Vec<Node>, Vec<NodeStatus>) = (0..NODES).map(|index| node(rng, index)).unzip();
    let node_ids: Vec<String> = nodes.iter().map(|node| node.id.clone()).collect();
    apply(&mut store, Command::Batch(nodes.into_iter().map(|node| Command::CreateNode { node }).collect()));
    let set_status =
        node_ids.iter().zip(statuses).map(|(id, status)| Command::SetNodeStatus { id: id.clone(), status });
    apply(&mut store, Command::Batch(set_status.collect()));

    // A background service with tasks already running everywhere (some reserving resources).
    let mut base = ServiceSpec::replicated("base", "bb:1", RUNNING as u64);
    base.task_template.resources.reservations = Resources { nano_cpus: CPU / 2, memory_bytes: 512 * MIB };
    apply(&mut store, Command::CreateService { service_id: "base".into(), spec: base.clone() });
    let running: Vec<Task> = (0..RUNNING)
        .map(|slot| {
            let mut task = Task::new(rng.id(), "base", Some(slot as u64 + 1), base.task_template.clone());
            task.node_id = Some(node_ids[rng.below(NODES as u64) as usize].clone());
            task.status = TaskStatus { state: TaskState::Running, timestamp: Timestamp(NOW), ..TaskStatus::default() };
            task
        })
        .collect();
    for chunk in running.chunks(TASKS_PER_BATCH_MAX) {
        apply(&mut store, Command::CreateTasks { tasks: chunk.to_vec() });
    }

    let mut pending = 0;
    for index in 0..SERVICES {
        let (spec, kind) = service_spec(index);
        let service_id = rng.id();
        eprintln!("service {} ({service_id}): {kind}", spec.name);
        apply(&mut store, Command::CreateService { service_id: service_id.clone(), spec: spec.clone() });
        let mut tasks: Vec<Task> = (0..PENDING_PER_SERVICE)
            .map(|slot| {
                let mut task =
                    Task::new(rng.id(), service_id.clone(), Some(slot as u64 + 1), spec.task_template.clone());
                task.status =
                    TaskStatus { state: TaskState::Pending, timestamp: Timestamp(NOW), ..TaskStatus::default() };
                task
            })
            .collect();
        // A few recent failures, so the failure penalty is exercised.
        for _ in 0..10 {
            let mut task = Task::new(rng.id(), service_id.clone(), Some(1), spec.task_template.clone());
            task.node_id = Some(node_ids[rng.below(8) as usize].clone());
            task.status =
                TaskStatus { state: TaskState::Failed, timestamp: Timestamp(NOW - 1000), ..TaskStatus::default() };
            tasks.push(task);
        }
        pending += PENDING_PER_SERVICE;
        for chunk in tasks.chunks(TASKS_PER_BATCH_MAX) {
            apply(&mut store, Command::CreateTasks { tasks: chunk.to_vec() });
        }
    }
    (store, pending)
}

fn main() {
    if let Some(filter) = std::env::args().nth(1) {
        if !METRIC.contains(filter.as_str()) {
            return;
        }
    }
    let mut rng = Rng(0x5EED_5C4E_D01E);
    let setup = Instant::now();
    let (store, pending) = build_store(&mut rng);
    eprintln!(
        "setup: {} nodes, {} services, {} tasks ({pending} pending, {RUNNING} running) built in {:.2?}",
        store.node_count(),
        store.service_count(),
        store.task_count(),
        setup.elapsed()
    );

    let mut times = Vec::with_capacity(ROUNDS);
    let mut first = None;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let commands = scheduler::schedule(&store, Timestamp(NOW));
        times.push(start.elapsed());
        if first.is_none() {
            first = Some(commands);
        }
    }
    let commands = first.expect("at least one round");
    let decisions = scheduler::decide(&store, Timestamp(NOW));
    assert_eq!(
        scheduler::SchedulerDecisions::clone(&decisions).into_commands(&store, Timestamp(NOW)),
        commands,
        "rounds disagree"
    );
    times.sort();
    let median = times[times.len() / 2];
    let placed = decisions.assignments.len();
    let start = Instant::now();
    let decide_only = scheduler::decide(&store, Timestamp(NOW));
    let decide_time = start.elapsed();
    drop(decide_only);

    let mut applied = store.clone();
    let start = Instant::now();
    let batches = commands.len();
    for command in commands {
        applied.apply(&Proposal::new(Timestamp(NOW), command)).expect("scheduler commands apply");
    }
    let apply_time = start.elapsed();
    let mut explanations = std::collections::BTreeMap::new();
    for task in &decisions.unschedulable {
        *explanations.entry(task.explanation.as_str()).or_insert(0usize) += 1;
    }
    eprintln!(
        "schedule: {placed} placed, {} left pending, median {median:.2?} over {ROUNDS} rounds (min {:.2?}, max {:.2?}; \
         decide alone {decide_time:.2?}); {batches} batches applied in {apply_time:.2?}",
        decisions.unschedulable.len(),
        times[0],
        times[times.len() - 1],
    );
    for (explanation, count) in explanations {
        eprintln!("  {count} pending: {explanation}");
    }
    // Placement quality, from the store after the commands applied.
    for service in applied.services().filter(|s| matches!(s.spec.name.as_str(), "svc00" | "svc01" | "svc05")) {
        let mut per_node = std::collections::BTreeMap::new();
        let mut per_zone = std::collections::BTreeMap::new();
        for task in applied.tasks_of_service(&service.id).filter(|t| t.status.state == TaskState::Assigned) {
            let node = applied.node(task.node_id.as_deref().expect("assigned")).expect("node exists");
            *per_node.entry(node.id.as_str()).or_insert(0usize) += 1;
            *per_zone.entry(node.spec.labels["zone"].as_str()).or_insert(0usize) += 1;
        }
        let (min, max) = (per_node.values().min().unwrap_or(&0), per_node.values().max().unwrap_or(&0));
        eprintln!(
            "  {}: {} nodes used, {min}..{max} tasks per node, per zone {per_zone:?}",
            service.spec.name,
            per_node.len()
        );
    }
    let per_sec = placed as f64 / median.max(Duration::from_nanos(1)).as_secs_f64();
    println!("RESULT {METRIC}={} placements/s", per_sec.round() as u64);
}
