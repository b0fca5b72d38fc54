//! Builders shared by the integration tests. Each test file uses a subset, hence the allow.
#![allow(dead_code)]

use swarm_core::*;

pub const T0: u64 = 1_700_000_000_000;

pub fn at(ms: u64, command: Command) -> Proposal {
    Proposal::new(Timestamp(ms), command)
}

pub fn init() -> Command {
    Command::InitCluster {
        cluster_id: "c1".into(),
        settings: ClusterSettings::default(),
        join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
    }
}

pub fn node(id: &str) -> Node {
    let description = NodeDescription { hostname: format!("host-{id}"), ..NodeDescription::default() };
    Node::new(id, NodeSpec::default(), description)
}

pub fn create_node(id: &str) -> Command {
    Command::CreateNode { node: node(id) }
}

pub fn create_service(id: &str, name: &str) -> Command {
    Command::CreateService { service_id: id.into(), spec: ServiceSpec::replicated(name, "bb:1", 2) }
}

pub fn task(id: &str, service_id: &str) -> Task {
    Task::new(id, service_id, Some(1), TaskSpec::image("bb:1"))
}

pub fn create_tasks(ids: &[&str], service_id: &str) -> Command {
    Command::CreateTasks { tasks: ids.iter().map(|id| task(id, service_id)).collect() }
}

pub fn create_network(id: &str, name: &str) -> Command {
    Command::CreateNetwork { network_id: id.into(), spec: NetworkSpec::overlay(name) }
}

pub fn status(state: TaskState) -> TaskStatus {
    TaskStatus { state, timestamp: Timestamp(T0), message: state.as_str().into(), err: None, container_id: None }
}

pub fn set_status(id: &str, state: TaskState) -> Command {
    Command::UpdateTaskStatus { id: id.into(), status: status(state) }
}

/// A cluster with node n1, service s1 "web" with tasks t1 and t2, and network net1 "front".
pub fn base() -> Vec<Command> {
    vec![
        init(),
        create_node("n1"),
        create_service("s1", "web"),
        create_tasks(&["t1", "t2"], "s1"),
        create_network("net1", "front"),
    ]
}

/// Applies `commands` at T0, T0+1, ... and panics on any rejection.
pub fn store_with(commands: &[Command]) -> Store {
    let mut store = Store::new();
    for (i, command) in commands.iter().enumerate() {
        if let Err(rejection) = store.apply(&at(T0 + i as u64, command.clone())) {
            panic!("setup command {i} ({}) rejected: {rejection}", command.name());
        }
    }
    store
}

/// A tiny deterministic PRNG for test inputs (xorshift64*).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A pseudo-random workload over small id pools, so that most commands apply and some are rejected (unknown ids,
/// stale versions, backward states, name clashes, batches with a bad member, removed nodes registering again).
pub fn random_commands(rng: &mut XorShift, count: usize) -> Vec<Command> {
    let mut commands = vec![init()];
    commands.extend((0..count).map(|_| random_command(rng, true)));
    commands
}

fn random_command(rng: &mut XorShift, allow_batch: bool) -> Command {
    let node_id = format!("n{}", rng.below(4));
    let service_id = format!("s{}", rng.below(5));
    let task_id = format!("t{}", rng.below(20));
    let state = TaskState::ALL[rng.below(TaskState::ALL.len() as u64) as usize];
    match rng.below(if allow_batch { 15 } else { 14 }) {
        0 => create_node(&node_id),
        1 => Command::SetNodeStatus {
            id: node_id,
            status: NodeStatus {
                state: NodeState::Ready,
                message: format!("m{}", rng.below(3)),
                addr: "10.0.0.1".into(),
            },
        },
        // A removed id never registers again, so removals stay rare enough that the pool does not run dry.
        2 if rng.below(20) == 0 => Command::RemoveNode { id: node_id },
        2 => Command::SetNodeStatus {
            id: node_id,
            status: NodeStatus { state: NodeState::Down, ..NodeStatus::default() },
        },
        3 => create_service(&service_id, &format!("svc{}", rng.below(6))),
        4 => Command::UpdateService {
            id: service_id.clone(),
            version: Version(1 + rng.below(3)),
            spec: ServiceSpec::replicated(format!("svc{}", rng.below(6)), format!("bb:{}", rng.below(4)), rng.below(5)),
        },
        5 => Command::RemoveService { id: service_id },
        6 => Command::CreateTasks {
            tasks: (0..1 + rng.below(3))
                .map(|_| {
                    Task::new(
                        format!("t{}", rng.below(20)),
                        format!("s{}", rng.below(5)),
                        Some(rng.below(3)),
                        TaskSpec::image("bb:1"),
                    )
                })
                .collect(),
        },
        7 => Command::UpdateTaskStatus {
            id: task_id,
            status: TaskStatus { state, timestamp: Timestamp(T0 + rng.below(1000)), ..TaskStatus::default() },
        },
        8 => Command::AssignTask { id: task_id, node_id },
        9 => Command::SetTaskDesiredState { id: task_id, desired_state: state },
        10 => Command::RemoveTasks { ids: vec![task_id] },
        11 => {
            if rng.below(2) == 0 {
                create_network(&format!("net{}", rng.below(3)), &format!("nw{}", rng.below(3)))
            } else {
                Command::RemoveNetwork { id: format!("net{}", rng.below(3)) }
            }
        }
        12 => Command::RollbackService { id: service_id, version: Version(1 + rng.below(3)) },
        13 => {
            let state = UpdateState::ALL[rng.below(UpdateState::ALL.len() as u64) as usize];
            // Sometimes inconsistent (completed_at in a state without one), so some are rejected.
            let completed = state.is_completed() != (rng.below(8) == 0);
            Command::SetServiceUpdateStatus {
                id: service_id,
                status: UpdateStatus {
                    state,
                    started_at: Some(Timestamp(T0 + rng.below(100))),
                    completed_at: completed.then(|| Timestamp(T0 + 100 + rng.below(100))),
                    message: format!("m{}", rng.below(3)),
                },
            }
        }
        _ => Command::Batch((0..rng.below(5)).map(|_| random_command(rng, false)).collect()),
    }
}

/// Applies every command (rejections are expected and ignored), with a clock that mostly moves forward but
/// sometimes steps back, as after a leader change between skewed clocks. Returns the number applied.
pub fn apply_all(store: &mut Store, commands: &[Command], rng_seed: u64) -> usize {
    let mut rng = XorShift(rng_seed);
    let mut now = T0;
    let mut applied = 0;
    for command in commands {
        now = if rng.below(10) == 0 { now - rng.below(50).min(now) } else { now + rng.below(100) };
        if store.apply(&at(now, command.clone())).is_ok() {
            applied += 1;
        }
    }
    applied
}
