//! The scheduler through the public API: each case builds a store by applying real commands (nodes with status,
//! services, tasks), runs `scheduler::decide`, and checks how many tasks each node got and which explanations the
//! unplaced tasks carry. Further tests check determinism, that the produced commands apply, that an unchanged
//! store produces no commands, and that a pending task is placed once the cluster changes.

mod common;

use std::collections::BTreeMap;

use common::*;
use swarm_core::scheduler::{self, Filter, FAILURE_WINDOW_MS};
use swarm_core::*;

const CPU: u64 = 1_000_000_000;
const GIB: u64 = 1 << 30;
/// The scheduler's clock in every case: well after the setup commands.
const NOW: u64 = T0 + 10 * FAILURE_WINDOW_MS;

// ---------------------------------------------------------------------------------------------------------------
// Builders

#[derive(Clone)]
struct N {
    id: &'static str,
    state: NodeState,
    availability: NodeAvailability,
    role: NodeRole,
    labels: Vec<(&'static str, &'static str)>,
    cpus: u64,
    memory: u64,
    arch: &'static str,
}

/// A ready, active worker with 4 CPUs and 8 GiB.
fn n(id: &'static str) -> N {
    N {
        id,
        state: NodeState::Ready,
        availability: NodeAvailability::Active,
        role: NodeRole::Worker,
        labels: vec![],
        cpus: 4 * CPU,
        memory: 8 * GIB,
        arch: "x86_64",
    }
}

impl N {
    fn label(mut self, key: &'static str, value: &'static str) -> N {
        self.labels.push((key, value));
        self
    }
    fn state(mut self, state: NodeState) -> N {
        self.state = state;
        self
    }
    fn availability(mut self, availability: NodeAvailability) -> N {
        self.availability = availability;
        self
    }
    fn cpus(mut self, cpus: u64) -> N {
        self.cpus = cpus * CPU;
        self
    }
    fn memory(mut self, memory: u64) -> N {
        self.memory = memory;
        self
    }
    fn arch(mut self, arch: &'static str) -> N {
        self.arch = arch;
        self
    }

    fn commands(&self) -> Vec<Command> {
        let spec = NodeSpec {
            name: None,
            role: self.role,
            availability: self.availability,
            labels: self.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        let description = NodeDescription {
            hostname: format!("host-{}", self.id),
            platform: Platform { os: "linux".into(), architecture: self.arch.into() },
            resources: Resources { nano_cpus: self.cpus, memory_bytes: self.memory },
            engine: EngineDescription::default(),
        };
        let mut commands = vec![Command::CreateNode { node: Node::new(self.id, spec, description) }];
        if self.state != NodeState::Unknown {
            let status = NodeStatus { state: self.state, message: String::new(), addr: "10.0.0.1".into() };
            commands.push(Command::SetNodeStatus { id: self.id.into(), status });
        }
        commands
    }
}

/// A service and its tasks: `pending` unassigned tasks (slots 1..), plus tasks already on nodes.
#[derive(Clone)]
struct S {
    id: &'static str,
    spec: ServiceSpec,
    pending: u64,
    /// (node, observed state, how many): tasks of this service already on nodes.
    on_nodes: Vec<(&'static str, TaskState, u64)>,
    /// (node, status timestamp, how many): failed tasks of this service.
    failed: Vec<(&'static str, u64, u64)>,
}

fn s(id: &'static str, pending: u64) -> S {
    S {
        id,
        spec: ServiceSpec::replicated(id, "bb:1", pending.min(REPLICAS_MAX)),
        pending,
        on_nodes: vec![],
        failed: vec![],
    }
}

impl S {
    fn constraint(mut self, constraint: &str) -> S {
        self.spec.task_template.placement.constraints.push(constraint.into());
        self
    }
    fn spread(mut self, descriptor: &str) -> S {
        let preference = PlacementPreference::Spread { spread_descriptor: descriptor.into() };
        self.spec.task_template.placement.preferences.push(preference);
        self
    }
    fn reserve(mut self, cpus: u64, memory: u64) -> S {
        self.spec.task_template.resources.reservations = Resources { nano_cpus: cpus * CPU, memory_bytes: memory };
        self
    }
    fn max_replicas(mut self, max: u64) -> S {
        self.spec.task_template.placement.max_replicas = max;
        self
    }
    fn platform(mut self, os: &str, architecture: &str) -> S {
        let platform = Platform { os: os.into(), architecture: architecture.into() };
        self.spec.task_template.placement.platforms.push(platform);
        self
    }
    fn publish(mut self, published: u32, mode: PublishMode) -> S {
        let port =
            PortConfig { published_port: published, target_port: 80, publish_mode: mode, ..PortConfig::default() };
        self.spec.endpoint_spec.ports.push(port);
        self
    }
    fn on(mut self, node: &'static str, state: TaskState, count: u64) -> S {
        self.on_nodes.push((node, state, count));
        self
    }
    fn failed(mut self, node: &'static str, at: u64, count: u64) -> S {
        self.failed.push((node, at, count));
        self
    }

    fn task(&self, id: String, slot: u64, node: Option<&str>, state: TaskState, at: u64) -> Task {
        let mut task = Task::new(id, self.id, Some(slot), self.spec.task_template.clone());
        task.node_id = node.map(str::to_string);
        task.status = TaskStatus { state, timestamp: Timestamp(at), ..TaskStatus::default() };
        task
    }

    fn commands(&self) -> Vec<Command> {
        let mut tasks = Vec::new();
        for slot in 1..=self.pending {
            tasks.push(self.task(format!("{}-p{slot:04}", self.id), slot, None, TaskState::Pending, T0));
        }
        let mut slot = 1000;
        for &(node, state, count) in &self.on_nodes {
            for _ in 0..count {
                slot += 1;
                tasks.push(self.task(format!("{}-r{slot}", self.id), slot, Some(node), state, T0));
            }
        }
        for &(node, at, count) in &self.failed {
            for _ in 0..count {
                slot += 1;
                tasks.push(self.task(format!("{}-f{slot}", self.id), slot, Some(node), TaskState::Failed, at));
            }
        }
        let mut commands = vec![Command::CreateService { service_id: self.id.into(), spec: self.spec.clone() }];
        commands.extend(tasks.chunks(TASKS_PER_BATCH_MAX).map(|chunk| Command::CreateTasks { tasks: chunk.to_vec() }));
        commands
    }
}

fn cluster(nodes: &[N], services: &[S]) -> Store {
    let mut commands = vec![init()];
    commands.extend(nodes.iter().flat_map(N::commands));
    commands.extend(services.iter().flat_map(S::commands));
    store_with(&commands)
}

/// Tasks placed per node (nodes that got none left out).
fn placed(decisions: &SchedulerDecisions) -> BTreeMap<String, usize> {
    let mut placed = BTreeMap::new();
    for assignment in &decisions.assignments {
        *placed.entry(assignment.node_id.clone()).or_default() += 1;
    }
    placed
}

/// Unplaced tasks per explanation.
fn unplaced(decisions: &SchedulerDecisions) -> BTreeMap<String, usize> {
    let mut unplaced = BTreeMap::new();
    for task in &decisions.unschedulable {
        *unplaced.entry(task.explanation.clone()).or_default() += 1;
    }
    unplaced
}

// ---------------------------------------------------------------------------------------------------------------
// The table

struct Case {
    name: &'static str,
    nodes: Vec<N>,
    services: Vec<S>,
    /// Tasks placed per node.
    placed: Vec<(&'static str, usize)>,
    /// Tasks left pending per explanation.
    unplaced: Vec<(&'static str, usize)>,
}

fn cases() -> Vec<Case> {
    use NodeAvailability::{Drain, Pause};
    use NodeState::{Disconnected, Down, Unknown};
    use TaskState::{Assigned, Complete, Running, Shutdown};
    let zones = || {
        vec![
            n("a1").label("zone", "a"),
            n("b1").label("zone", "b"),
            n("b2").label("zone", "b"),
            n("b3").label("zone", "b"),
        ]
    };
    vec![
        Case {
            name: "spreads a service evenly, node id breaking ties",
            nodes: vec![n("n1"), n("n2"), n("n3")],
            services: vec![s("web", 7)],
            placed: vec![("n1", 3), ("n2", 2), ("n3", 2)],
            unplaced: vec![],
        },
        Case {
            name: "fewest tasks of the service first, then fewest tasks overall",
            nodes: vec![n("n1"), n("n2"), n("n3")],
            services: vec![s("db", 0).on("n2", Running, 2), s("web", 2).on("n1", Running, 1)],
            placed: vec![("n2", 1), ("n3", 1)],
            unplaced: vec![],
        },
        Case {
            name: "finished tasks and tasks desired to stop don't count",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("db", 0).on("n1", Complete, 3).on("n1", Shutdown, 3), s("web", 2).on("n2", Running, 1)],
            placed: vec![("n1", 2)],
            unplaced: vec![],
        },
        Case {
            name: "drained, paused, down, disconnected and unknown nodes take nothing",
            nodes: vec![
                n("n1"),
                n("n2").availability(Drain),
                n("n3").availability(Pause),
                n("n4").state(Down),
                n("n5").state(Disconnected),
                n("n6").state(Unknown),
            ],
            services: vec![s("web", 4)],
            placed: vec![("n1", 4)],
            unplaced: vec![],
        },
        Case {
            name: "no node available",
            nodes: vec![n("n2").availability(Drain), n("n3").availability(Pause), n("n4").state(Down)],
            services: vec![s("web", 2)],
            placed: vec![],
            unplaced: vec![("no suitable node (3 nodes not available for new tasks)", 2)],
        },
        Case {
            name: "one node, unavailable",
            nodes: vec![n("n1").availability(Drain)],
            services: vec![s("web", 1)],
            placed: vec![],
            unplaced: vec![("no suitable node (1 node not available for new tasks)", 1)],
        },
        Case {
            name: "no nodes at all",
            nodes: vec![],
            services: vec![s("web", 1)],
            placed: vec![],
            unplaced: vec![("no suitable node", 1)],
        },
        Case {
            name: "constraint on a node label",
            nodes: vec![n("n1").label("zone", "east"), n("n2").label("zone", "west"), n("n3")],
            services: vec![s("web", 3).constraint("node.labels.zone==east")],
            placed: vec![("n1", 3)],
            unplaced: vec![],
        },
        Case {
            name: "negated constraint matches nodes without the label",
            nodes: vec![n("n1").label("zone", "east"), n("n2").label("zone", "west"), n("n3")],
            services: vec![s("web", 4).constraint("node.labels.zone!=east")],
            placed: vec![("n2", 2), ("n3", 2)],
            unplaced: vec![],
        },
        Case {
            name: "constraints nobody satisfies",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 1).constraint("node.role==manager")],
            placed: vec![],
            unplaced: vec![("no suitable node (scheduling constraints not satisfied on 2 nodes)", 1)],
        },
        Case {
            name: "resources run out: the exact message counts nodes per reason",
            nodes: vec![
                n("n1").label("zone", "east").cpus(2),
                n("n2").label("zone", "east").cpus(2),
                n("n3").label("zone", "west").cpus(8),
            ],
            services: vec![s("web", 5).constraint("node.labels.zone==east").reserve(1, 0)],
            placed: vec![("n1", 2), ("n2", 2)],
            unplaced: vec![(
                "no suitable node (insufficient resources on 2 nodes; scheduling constraints not satisfied on 1 node)",
                1,
            )],
        },
        Case {
            name: "reasons are ordered by node count, as SwarmKit's Explain sorts them",
            nodes: vec![
                n("n1").label("zone", "west"),
                n("n2").label("zone", "west"),
                n("n3").label("zone", "west"),
                n("n4").label("zone", "east").cpus(1),
            ],
            services: vec![s("web", 2).constraint("node.labels.zone==east").reserve(1, 0)],
            placed: vec![("n4", 1)],
            unplaced: vec![(
                "no suitable node (scheduling constraints not satisfied on 3 nodes; insufficient resources on 1 node)",
                1,
            )],
        },
        Case {
            name: "a node is counted once, against the first filter it fails",
            nodes: vec![n("n1").availability(Drain).cpus(0), n("n2").cpus(0)],
            services: vec![s("web", 1).reserve(1, 0).constraint("node.labels.zone==east")],
            placed: vec![],
            unplaced: vec![(
                "no suitable node (1 node not available for new tasks; insufficient resources on 1 node)",
                1,
            )],
        },
        Case {
            name: "memory reservations",
            nodes: vec![n("n1").memory(GIB), n("n2").memory(GIB / 4)],
            services: vec![s("web", 3).reserve(0, GIB / 2)],
            placed: vec![("n1", 2)],
            unplaced: vec![("no suitable node (insufficient resources on 2 nodes)", 1)],
        },
        Case {
            name: "reservations of tasks already on a node count until they finish",
            nodes: vec![n("n1"), n("n2"), n("n3")],
            services: vec![
                s("db", 0).reserve(3, 0).on("n1", Running, 1).on("n2", Assigned, 1).on("n3", Complete, 1),
                s("web", 2).reserve(2, 0),
            ],
            placed: vec![("n3", 2)],
            unplaced: vec![],
        },
        Case {
            name: "two services in one round never oversubscribe a node",
            nodes: vec![n("n1")],
            services: vec![s("api", 3).reserve(1, 0), s("web", 3).reserve(1, 0)],
            placed: vec![("n1", 4)],
            unplaced: vec![("no suitable node (insufficient resources on 1 node)", 2)],
        },
        Case {
            name: "max replicas per node",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 5).max_replicas(2)],
            placed: vec![("n1", 2), ("n2", 2)],
            unplaced: vec![("no suitable node (max replicas per node limit exceed)", 1)],
        },
        Case {
            name: "max replicas per node counts the service's running tasks",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 3).max_replicas(2).on("n1", Running, 2)],
            placed: vec![("n2", 2)],
            unplaced: vec![("no suitable node (max replicas per node limit exceed)", 1)],
        },
        Case {
            name: "host-mode port: one task per node",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 3).publish(8080, PublishMode::Host)],
            placed: vec![("n1", 1), ("n2", 1)],
            unplaced: vec![("no suitable node (host-mode port already in use on 2 nodes)", 1)],
        },
        Case {
            name: "host-mode port held by another service's task",
            nodes: vec![n("n1"), n("n2")],
            services: vec![
                s("api", 0).publish(8080, PublishMode::Host).on("n1", Running, 1),
                s("web", 2).publish(8080, PublishMode::Host),
            ],
            placed: vec![("n2", 1)],
            unplaced: vec![("no suitable node (host-mode port already in use on 2 nodes)", 1)],
        },
        Case {
            name: "ingress ports and dynamic host ports don't conflict",
            nodes: vec![n("n1")],
            services: vec![s("web", 2).publish(8080, PublishMode::Ingress), s("api", 2).publish(0, PublishMode::Host)],
            placed: vec![("n1", 4)],
            unplaced: vec![],
        },
        Case {
            name: "platform",
            nodes: vec![n("n1"), n("n2").arch("aarch64")],
            services: vec![s("web", 2).platform("linux", "arm64"), s("win", 1).platform("windows", "")],
            placed: vec![("n2", 2)],
            unplaced: vec![("no suitable node (unsupported platform on 2 nodes)", 1)],
        },
        Case {
            name: "spread over two zones with uneven node counts",
            nodes: zones(),
            services: vec![s("web", 8).spread("node.labels.zone")],
            placed: vec![("a1", 4), ("b1", 2), ("b2", 1), ("b3", 1)],
            unplaced: vec![],
        },
        Case {
            name: "spread counts tasks already running in each zone",
            nodes: zones(),
            services: vec![s("web", 4).spread("node.labels.zone").on("a1", Running, 3)],
            placed: vec![("a1", 1), ("b1", 1), ("b2", 1), ("b3", 1)],
            unplaced: vec![],
        },
        Case {
            name: "spread: a zone that is full leaves the rest to the others",
            nodes: vec![n("a1").label("zone", "a").cpus(1), n("b1").label("zone", "b"), n("b2").label("zone", "b")],
            services: vec![s("web", 6).spread("node.labels.zone").reserve(1, 0)],
            placed: vec![("a1", 1), ("b1", 3), ("b2", 2)],
            unplaced: vec![],
        },
        Case {
            name: "spread: nodes without the label share one branch",
            nodes: vec![n("a1").label("zone", "a"), n("x1"), n("x2")],
            services: vec![s("web", 6).spread("node.labels.zone")],
            placed: vec![("a1", 3), ("x1", 2), ("x2", 1)],
            unplaced: vec![],
        },
        Case {
            name: "spread: nested preferences",
            nodes: vec![
                n("a1").label("zone", "a").label("rack", "1"),
                n("a2").label("zone", "a").label("rack", "2"),
                n("a3").label("zone", "a").label("rack", "2"),
                n("b1").label("zone", "b").label("rack", "1"),
            ],
            services: vec![s("web", 8).spread("node.labels.zone").spread("node.labels.rack")],
            placed: vec![("a1", 2), ("a2", 1), ("a3", 1), ("b1", 4)],
            unplaced: vec![],
        },
        Case {
            name: "spread: unavailable nodes still count their zone's tasks",
            nodes: vec![n("a1").label("zone", "a").state(Down), n("a2").label("zone", "a"), n("b1").label("zone", "b")],
            services: vec![s("web", 2).spread("node.labels.zone").on("a1", Running, 2)],
            placed: vec![("b1", 2)],
            unplaced: vec![],
        },
        Case {
            name: "a node where the service failed recently goes last",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 3).failed("n1", NOW - 1000, 5)],
            placed: vec![("n2", 3)],
            unplaced: vec![],
        },
        Case {
            name: "failures at the edge of the window still count",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 1).failed("n1", NOW - FAILURE_WINDOW_MS, 5)],
            placed: vec![("n2", 1)],
            unplaced: vec![],
        },
        Case {
            name: "fewer failures than SwarmKit's threshold don't change the ranking",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 1).failed("n1", NOW - 1000, 4)],
            placed: vec![("n1", 1)],
            unplaced: vec![],
        },
        Case {
            name: "failures older than the window are forgotten",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 1).failed("n1", NOW - FAILURE_WINDOW_MS - 1, 5)],
            placed: vec![("n1", 1)],
            unplaced: vec![],
        },
        Case {
            name: "failures of another service don't count",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("db", 0).failed("n1", NOW - 1000, 5), s("web", 1)],
            placed: vec![("n1", 1)],
            unplaced: vec![],
        },
        Case {
            name: "the node with fewer recent failures wins when both have many",
            nodes: vec![n("n1"), n("n2")],
            services: vec![s("web", 1).failed("n1", NOW - 1000, 6).failed("n2", NOW - 1000, 5)],
            placed: vec![("n2", 1)],
            unplaced: vec![],
        },
    ]
}

#[test]
fn scheduling_table() {
    let mut failures = Vec::new();
    for case in cases() {
        let store = cluster(&case.nodes, &case.services);
        let decisions = scheduler::decide(&store, Timestamp(NOW));
        let want_placed: BTreeMap<String, usize> = case.placed.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        let want_unplaced: BTreeMap<String, usize> = case.unplaced.iter().map(|(m, c)| (m.to_string(), *c)).collect();
        let (got_placed, got_unplaced) = (placed(&decisions), unplaced(&decisions));
        if got_placed != want_placed || got_unplaced != want_unplaced {
            failures.push(format!(
                "{}:\n  placed   {got_placed:?}\n  expected {want_placed:?}\n  unplaced {got_unplaced:?}\n  expected {want_unplaced:?}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------------------------
// Tasks bound to a node (global services)

fn bound(service: &S, id: &str, node: &str) -> Task {
    let mut task = Task::new(id, service.id, None, service.spec.task_template.clone());
    task.node_id = Some(node.into());
    task.status = TaskStatus { state: TaskState::Pending, timestamp: Timestamp(T0), ..TaskStatus::default() };
    task
}

#[test]
fn tasks_bound_to_a_node_are_confirmed_or_explained() {
    let nodes = [n("n1"), n("n2").availability(NodeAvailability::Drain), n("n3").cpus(0)];
    let mut global = s("agent", 0).reserve(1, 0);
    global.spec.mode = ServiceMode::Global;
    let mut store = cluster(&nodes, &[global.clone()]);
    let tasks =
        vec![bound(&global, "agent-n1", "n1"), bound(&global, "agent-n2", "n2"), bound(&global, "agent-n3", "n3")];
    store.apply(&at(T0 + 100, Command::CreateTasks { tasks })).unwrap();

    let decisions = scheduler::decide(&store, Timestamp(NOW));
    assert_eq!(decisions.assignments, vec![Assignment { task_id: "agent-n1".into(), node_id: "n1".into() }]);
    assert_eq!(
        decisions.unschedulable,
        vec![
            Unschedulable { task_id: "agent-n2".into(), explanation: "1 node not available for new tasks".into() },
            Unschedulable { task_id: "agent-n3".into(), explanation: "insufficient resources on 1 node".into() },
        ]
    );
    for command in decisions.into_commands(&store, Timestamp(NOW)) {
        store.apply(&at(NOW, command)).unwrap();
    }
    let task = store.task("agent-n1").unwrap();
    assert_eq!((task.status.state, task.node_id.as_deref()), (TaskState::Assigned, Some("n1")));
    let task = store.task("agent-n3").unwrap();
    assert_eq!(
        (task.status.state, task.status.err.as_deref()),
        (TaskState::Pending, Some("insufficient resources on 1 node"))
    );
}

#[test]
fn tasks_bound_to_a_node_reserve_before_free_tasks() {
    let nodes = [n("n1").cpus(2), n("n2").cpus(1)];
    let mut global = s("agent", 0).reserve(1, 0);
    global.spec.mode = ServiceMode::Global;
    // "aaa" sorts before "agent": were free tasks placed first, they would take n1's CPUs.
    let mut store = cluster(&nodes, &[global.clone(), s("aaa", 3).reserve(1, 0)]);
    let tasks = vec![bound(&global, "agent-n1", "n1"), bound(&global, "agent-n2", "n2")];
    store.apply(&at(T0 + 100, Command::CreateTasks { tasks })).unwrap();
    let decisions = scheduler::decide(&store, Timestamp(NOW));
    assert_eq!(placed(&decisions), BTreeMap::from([("n1".to_string(), 2), ("n2".to_string(), 1)]));
    assert_eq!(decisions.assignments[0].task_id, "agent-n1");
    assert_eq!(decisions.assignments[1].task_id, "agent-n2");
    assert_eq!(
        unplaced(&decisions),
        BTreeMap::from([("no suitable node (insufficient resources on 2 nodes)".to_string(), 2)])
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Which tasks are considered

#[test]
fn only_pending_tasks_still_wanted_are_scheduled() {
    let web = s("web", 0);
    let mut store = cluster(&[n("n1")], std::slice::from_ref(&web));
    let new = web.task("t-new".into(), 1, None, TaskState::New, T0);
    let mut unwanted = web.task("t-unwanted".into(), 2, None, TaskState::Pending, T0);
    unwanted.desired_state = TaskState::Shutdown;
    let mut job = web.task("t-job".into(), 3, None, TaskState::Pending, T0);
    job.desired_state = TaskState::Complete;
    let assigned = web.task("t-assigned".into(), 4, Some("n1"), TaskState::Assigned, T0);
    store.apply(&at(T0 + 100, Command::CreateTasks { tasks: vec![new, unwanted, job, assigned] })).unwrap();
    let decisions = scheduler::decide(&store, Timestamp(NOW));
    assert_eq!(decisions.assignments, vec![Assignment { task_id: "t-job".into(), node_id: "n1".into() }]);
    assert!(decisions.unschedulable.is_empty());
}

#[test]
fn tasks_are_taken_in_slot_order() {
    let store = cluster(&[n("n1").cpus(2)], &[s("web", 4).reserve(1, 0)]);
    let decisions = scheduler::decide(&store, Timestamp(NOW));
    let ids: Vec<&str> = decisions.assignments.iter().map(|a| a.task_id.as_str()).collect();
    assert_eq!(ids, ["web-p0001", "web-p0002"]);
    let ids: Vec<&str> = decisions.unschedulable.iter().map(|u| u.task_id.as_str()).collect();
    assert_eq!(ids, ["web-p0003", "web-p0004"]);
}

#[test]
fn tasks_of_one_service_with_different_reservations_are_placed_apart() {
    let web = s("web", 0);
    let mut store = cluster(&[n("n1").cpus(3), n("n2").cpus(1)], std::slice::from_ref(&web));
    let mut big = web.task("t-big".into(), 1, None, TaskState::Pending, T0);
    big.spec.resources.reservations.nano_cpus = 3 * CPU;
    let small = web.task("t-small".into(), 2, None, TaskState::Pending, T0);
    store.apply(&at(T0 + 100, Command::CreateTasks { tasks: vec![big, small] })).unwrap();
    let decisions = scheduler::decide(&store, Timestamp(NOW));
    assert_eq!(
        decisions.assignments,
        vec![
            Assignment { task_id: "t-big".into(), node_id: "n1".into() },
            Assignment { task_id: "t-small".into(), node_id: "n2".into() },
        ]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Commands, determinism, retries

/// A cluster with a bit of everything, drawn from `seed`.
fn random_cluster(seed: u64) -> Store {
    const NODES: [&str; 12] = ["n00", "n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09", "n10", "n11"];
    const ZONES: [&str; 3] = ["a", "b", "c"];
    let mut rng = XorShift(seed);
    let nodes: Vec<N> = NODES
        .iter()
        .map(|&id| {
            let mut node = n(id).label("zone", ZONES[rng.below(3) as usize]).cpus(1 + rng.below(8));
            match rng.below(8) {
                0 => node = node.availability(NodeAvailability::Drain),
                1 => node = node.state(NodeState::Down),
                _ => {}
            }
            node
        })
        .collect();
    let services = vec![
        s("api", 20).spread("node.labels.zone").reserve(1, 0),
        s("cache", 6).max_replicas(1).constraint("node.labels.zone!=c"),
        s("db", 3).reserve(2, GIB).constraint("node.labels.zone==a"),
        s("edge", 5).publish(443, PublishMode::Host).failed("n00", NOW - 10, 5),
        s("web", 30).on("n01", TaskState::Running, 4),
    ];
    cluster(&nodes, &services)
}

#[test]
fn same_store_same_decisions() {
    for seed in 1..=10 {
        let store = random_cluster(seed);
        let first = scheduler::decide(&store, Timestamp(NOW));
        assert!(!first.assignments.is_empty(), "seed {seed}: nothing placed");
        assert_eq!(first, scheduler::decide(&store, Timestamp(NOW)), "seed {seed}");
        assert_eq!(first, scheduler::decide(&store.clone(), Timestamp(NOW)), "seed {seed}");
        let restored = Store::decode_snapshot(&store.encode_snapshot()).unwrap();
        assert_eq!(first, scheduler::decide(&restored, Timestamp(NOW)), "seed {seed}");
        assert_eq!(scheduler::schedule(&store, Timestamp(NOW)), scheduler::schedule(&restored, Timestamp(NOW)));
    }
}

#[test]
fn produced_commands_apply_and_a_second_round_changes_nothing() {
    for seed in 1..=10 {
        let mut store = random_cluster(seed);
        let decisions = scheduler::decide(&store, Timestamp(NOW));
        let commands = decisions.clone().into_commands(&store, Timestamp(NOW));
        assert!(!commands.is_empty());
        for command in commands {
            assert!(matches!(&command, Command::Batch(batch) if batch.len() <= BATCH_COMMANDS_MAX));
            if let Err(rejection) = store.apply(&at(NOW, command)) {
                panic!("seed {seed}: scheduler command rejected: {rejection}");
            }
        }
        for Assignment { task_id, node_id } in &decisions.assignments {
            let task = store.task(task_id).unwrap();
            assert_eq!((task.status.state, task.node_id.as_ref()), (TaskState::Assigned, Some(node_id)), "seed {seed}");
        }
        for Unschedulable { task_id, explanation } in &decisions.unschedulable {
            let task = store.task(task_id).unwrap();
            assert_eq!(task.status.state, TaskState::Pending, "seed {seed}");
            assert_eq!(task.status.err.as_ref(), Some(explanation), "seed {seed}");
            assert_eq!(task.status.timestamp, Timestamp(NOW), "seed {seed}");
        }
        // Nothing changed, so the next round decides the same for the still pending tasks and proposes nothing.
        let again = scheduler::decide(&store, Timestamp(NOW + 1000));
        assert!(again.assignments.is_empty(), "seed {seed}: {:?}", again.assignments);
        assert_eq!(again.unschedulable, decisions.unschedulable, "seed {seed}");
        assert_eq!(scheduler::schedule(&store, Timestamp(NOW + 1000)), Vec::<Command>::new(), "seed {seed}");
    }
}

#[test]
fn a_pending_task_is_placed_once_the_cluster_changes() {
    let mut store = cluster(&[n("n1").cpus(1)], &[s("web", 2).reserve(1, 0)]);
    for command in scheduler::schedule(&store, Timestamp(NOW)) {
        store.apply(&at(NOW, command)).unwrap();
    }
    let waiting = store.task("web-p0002").unwrap();
    assert_eq!(waiting.status.err.as_deref(), Some("no suitable node (insufficient resources on 1 node)"));

    // A second node joins, still down: the explanation changes (equal counts keep pipeline order).
    for command in n("n2").state(NodeState::Down).commands() {
        store.apply(&at(NOW + 1, command)).unwrap();
    }
    for command in scheduler::schedule(&store, Timestamp(NOW + 2)) {
        store.apply(&at(NOW + 2, command)).unwrap();
    }
    let waiting = store.task("web-p0002").unwrap();
    assert_eq!(
        waiting.status.err.as_deref(),
        Some("no suitable node (1 node not available for new tasks; insufficient resources on 1 node)")
    );

    // It comes up: the task goes there, and the error is cleared.
    let status = NodeStatus { state: NodeState::Ready, message: String::new(), addr: "10.0.0.2".into() };
    store.apply(&at(NOW + 3, Command::SetNodeStatus { id: "n2".into(), status })).unwrap();
    for command in scheduler::schedule(&store, Timestamp(NOW + 4)) {
        store.apply(&at(NOW + 4, command)).unwrap();
    }
    let placed = store.task("web-p0002").unwrap();
    assert_eq!(
        (placed.status.state, placed.node_id.as_deref(), placed.status.err.as_deref()),
        (TaskState::Assigned, Some("n2"), None)
    );
}

#[test]
fn many_decisions_are_split_into_batches_that_apply() {
    let total = BATCH_COMMANDS_MAX as u64 + 1_500;
    let nodes: Vec<N> = ["n1", "n2", "n3", "n4"].into_iter().map(n).collect();
    let mut store = cluster(&nodes, &[s("web", total)]);
    let commands = scheduler::schedule(&store, Timestamp(NOW));
    let sizes: Vec<usize> = commands
        .iter()
        .map(|command| match command {
            Command::Batch(batch) => batch.len(),
            other => panic!("expected a batch, got {}", other.name()),
        })
        .collect();
    assert_eq!(sizes, [BATCH_COMMANDS_MAX, 1_500]);
    for command in commands {
        store.apply(&at(NOW, command)).unwrap();
    }
    let per_node: Vec<usize> = ["n1", "n2", "n3", "n4"].iter().map(|id| store.tasks_on_node(id).count()).collect();
    assert_eq!(per_node, [2875, 2875, 2875, 2875]);
}

#[test]
fn explanations_use_swarmkit_words() {
    let table = [
        (Filter::Ready, "1 node not available for new tasks", "3 nodes not available for new tasks"),
        (Filter::Resources, "insufficient resources on 1 node", "insufficient resources on 3 nodes"),
        (
            Filter::Constraints,
            "scheduling constraints not satisfied on 1 node",
            "scheduling constraints not satisfied on 3 nodes",
        ),
        (Filter::Platform, "unsupported platform on 1 node", "unsupported platform on 3 nodes"),
        (Filter::HostPort, "host-mode port already in use on 1 node", "host-mode port already in use on 3 nodes"),
        (Filter::MaxReplicas, "max replicas per node limit exceed", "max replicas per node limit exceed"),
    ];
    assert_eq!(table.map(|(filter, _, _)| filter), Filter::ALL);
    for (filter, one, three) in table {
        assert_eq!((filter.explain(1).as_str(), filter.explain(3).as_str()), (one, three));
    }
}
