//! The orchestrators through the public seam: build a store by applying real commands, run
//! `orchestrator::reconcile`, apply what it returns, and check the tasks. The `World` harness checks on every
//! reconcile that each returned command is a batch within the store's limits, that it applies without rejection,
//! and that reconciling again at the same time returns nothing (idempotence).

mod common;

use std::collections::BTreeSet;

use common::{at, T0};
use swarm_core::orchestrator::{self, next_wakeup};
use swarm_core::*;

const SECOND_MS: u64 = 1000;
const MS_NS: u64 = 1_000_000;

struct World {
    store: Store,
    now: u64,
    ids: SequentialIds,
}

impl World {
    fn new() -> World {
        let mut world = World { store: Store::new(), now: T0, ids: SequentialIds::new("task") };
        world.run(Command::InitCluster {
            cluster_id: "c1".into(),
            settings: ClusterSettings::default(),
            join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
        });
        world
    }

    fn run(&mut self, command: Command) {
        let name = command.name();
        if let Err(rejection) = self.store.apply(&at(self.now, command)) {
            panic!("{name} rejected: {rejection}");
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Runs the orchestrators, applies their batches, checks them, and returns them.
    fn reconcile(&mut self) -> Vec<Command> {
        let now = Timestamp(self.now);
        let commands = orchestrator::reconcile(&self.store, now, &mut self.ids);
        for command in &commands {
            check_within_limits(command);
            if let Err(rejection) = self.store.apply(&at(self.now, command.clone())) {
                panic!("orchestrator batch rejected: {rejection}\n{command:?}");
            }
        }
        let again = orchestrator::reconcile(&self.store, now, &mut self.ids);
        assert!(again.is_empty(), "reconcile is not idempotent; second run produced {again:?}");
        commands
    }

    fn settings(&mut self, settings: ClusterSettings) {
        let version = self.store.cluster().unwrap().version;
        self.run(Command::UpdateClusterSettings { version, settings });
    }

    fn add_node(&mut self, id: &str, state: NodeState) {
        self.run(common::create_node(id));
        self.set_node_state(id, state);
    }

    fn set_node_state(&mut self, id: &str, state: NodeState) {
        self.run(Command::SetNodeStatus {
            id: id.into(),
            status: NodeStatus { state, message: String::new(), addr: "10.0.0.1".into() },
        });
    }

    fn set_node_spec(&mut self, id: &str, change: impl FnOnce(&mut NodeSpec)) {
        let node = self.store.node(id).unwrap();
        let mut spec = node.spec.clone();
        change(&mut spec);
        let version = node.version;
        self.run(Command::UpdateNode { id: id.into(), version, spec });
    }

    fn set_availability(&mut self, id: &str, availability: NodeAvailability) {
        self.set_node_spec(id, |spec| spec.availability = availability);
    }

    fn create_service(&mut self, id: &str, spec: ServiceSpec) {
        self.run(Command::CreateService { service_id: id.into(), spec });
    }

    fn update_service(&mut self, id: &str, change: impl FnOnce(&mut ServiceSpec)) {
        let service = self.store.service(id).unwrap();
        let mut spec = service.spec.clone();
        change(&mut spec);
        let version = service.version;
        self.run(Command::UpdateService { id: id.into(), version, spec });
    }

    /// An agent's report (timestamped now).
    fn report(&mut self, task_id: &str, state: TaskState) {
        let status = TaskStatus {
            state,
            timestamp: Timestamp(self.now),
            message: state.as_str().into(),
            err: None,
            container_id: None,
        };
        self.run(Command::UpdateTaskStatus { id: task_id.into(), status });
    }

    /// The scheduler assigns the task (unless it is bound already) and the agent reports it running.
    fn start(&mut self, task_id: &str, node_id: &str) {
        if self.task(task_id).status.state < TaskState::Assigned {
            self.run(Command::AssignTask { id: task_id.into(), node_id: node_id.into() });
        }
        self.report(task_id, TaskState::Running);
    }

    fn task(&self, id: &str) -> &Task {
        self.store.task(id).unwrap_or_else(|| panic!("no task {id}"))
    }

    fn tasks(&self, service_id: &str) -> Vec<Task> {
        let mut tasks: Vec<Task> = self.store.tasks_of_service(service_id).cloned().collect();
        tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        tasks
    }

    /// Tasks still wanted (desired at most Running, or Complete for jobs).
    fn wanted(&self, service_id: &str) -> Vec<Task> {
        self.tasks(service_id).into_iter().filter(|t| t.desired_state <= TaskState::Complete).collect()
    }

    fn in_slot(&self, service_id: &str, slot: u64) -> Vec<Task> {
        self.tasks(service_id).into_iter().filter(|t| t.slot == Some(slot)).collect()
    }

    fn wanted_in_slot(&self, service_id: &str, slot: u64) -> Option<Task> {
        let mut wanted: Vec<Task> =
            self.in_slot(service_id, slot).into_iter().filter(|t| t.desired_state <= TaskState::Complete).collect();
        assert!(wanted.len() <= 1, "slot {slot} has {} wanted tasks", wanted.len());
        wanted.pop()
    }

    fn wanted_slots(&self, service_id: &str) -> Vec<u64> {
        let slots: BTreeSet<u64> = self.wanted(service_id).iter().filter_map(|t| t.slot).collect();
        slots.into_iter().collect()
    }

    fn wanted_on(&self, service_id: &str, node_id: &str) -> Vec<Task> {
        self.wanted(service_id).into_iter().filter(|t| t.node_id.as_deref() == Some(node_id)).collect()
    }
}

fn check_within_limits(command: &Command) {
    let Command::Batch(commands) = command else { panic!("expected a batch, got {}", command.name()) };
    assert!(!commands.is_empty(), "empty batch");
    assert!(commands.len() <= BATCH_COMMANDS_MAX, "batch of {} commands", commands.len());
    for command in commands {
        match command {
            Command::CreateTasks { tasks } => assert!(tasks.len() <= TASKS_PER_BATCH_MAX),
            Command::RemoveTasks { ids } => assert!(ids.len() <= TASKS_PER_BATCH_MAX),
            // The rolling updater's status reports and automatic rollbacks.
            Command::SetTaskDesiredState { .. }
            | Command::SetServiceUpdateStatus { .. }
            | Command::RollbackService { .. } => {}
            other => panic!("orchestrators do not propose {}", other.name()),
        }
    }
}

fn flat(commands: &[Command]) -> Vec<&Command> {
    commands
        .iter()
        .flat_map(|command| match command {
            Command::Batch(inner) => inner.iter().collect(),
            single => vec![single],
        })
        .collect()
}

fn created(commands: &[Command]) -> Vec<Task> {
    flat(commands)
        .into_iter()
        .flat_map(|command| match command {
            Command::CreateTasks { tasks } => tasks.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// A replicated service whose tasks restart with `condition` and no delay.
fn replicated(name: &str, replicas: u64, condition: RestartCondition) -> ServiceSpec {
    let mut spec = ServiceSpec::replicated(name, "bb:1", replicas);
    spec.task_template.restart_policy = RestartPolicy { condition, delay_ns: 0, ..RestartPolicy::default() };
    spec
}

// ---------------------------------------------------------------------------------------------------------------
// Replicated services

#[test]
fn replicated_service_gets_one_new_task_per_slot() {
    let mut world = World::new();
    world.create_service("s1", ServiceSpec::replicated("web", "bb:1", 3));
    let commands = world.reconcile();
    assert_eq!(commands.len(), 1);
    let tasks = world.tasks("s1");
    assert_eq!(tasks.iter().map(|t| t.slot).collect::<Vec<_>>(), [Some(1), Some(2), Some(3)]);
    for task in &tasks {
        assert_eq!(task.desired_state, TaskState::Running);
        assert_eq!(task.status.state, TaskState::New);
        assert_eq!(task.status.message, "created");
        assert_eq!(task.status.timestamp, Timestamp(T0));
        assert_eq!(task.node_id, None);
        assert_eq!(task.spec, world.store.service("s1").unwrap().spec.task_template);
    }

    world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: 5 });
    let added = created(&world.reconcile());
    assert_eq!(added.iter().map(|t| t.slot).collect::<Vec<_>>(), [Some(4), Some(5)]);
    assert_eq!(world.wanted_slots("s1"), [1, 2, 3, 4, 5]);
}

#[test]
fn scale_up_fills_the_lowest_free_slots() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.create_service("s1", ServiceSpec::replicated("web", "bb:1", 4));
    world.reconcile();
    for slot in 1..=4 {
        let id = world.wanted_in_slot("s1", slot).unwrap().id;
        world.start(&id, "n1");
    }
    world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: 2 });
    world.reconcile();
    assert_eq!(world.wanted_slots("s1"), [1, 2]);
    world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: 3 });
    let added = created(&world.reconcile());
    assert_eq!(added.iter().map(|t| t.slot).collect::<Vec<_>>(), [Some(3)]);
}

struct ScaleDown {
    name: &'static str,
    /// One entry per slot 1..: the node it runs on (None: unassigned) and whether it reported Running.
    slots: Vec<(Option<&'static str>, bool)>,
    replicas: u64,
    removed: Vec<u64>,
}

fn scale_down_cases() -> Vec<ScaleDown> {
    vec![
        ScaleDown {
            name: "the node with the most tasks loses one",
            slots: vec![(Some("n1"), true), (Some("n1"), true), (Some("n1"), true), (Some("n2"), true)],
            replicas: 3,
            removed: vec![3],
        },
        ScaleDown {
            name: "a task that is not running goes first",
            slots: vec![(Some("n1"), true), (Some("n1"), false), (Some("n1"), true), (Some("n2"), true)],
            replicas: 3,
            removed: vec![2],
        },
        ScaleDown {
            name: "unassigned slots go before assigned ones",
            slots: vec![(Some("n1"), true), (Some("n1"), true), (None, false), (Some("n2"), true)],
            replicas: 3,
            removed: vec![3],
        },
        ScaleDown {
            name: "balanced nodes each lose their last slot",
            slots: vec![(Some("n1"), true), (Some("n1"), true), (Some("n2"), true), (Some("n2"), true)],
            replicas: 2,
            removed: vec![2, 4],
        },
        ScaleDown {
            name: "the busy node gives up everything above the others",
            slots: vec![(Some("n1"), true), (Some("n2"), true), (Some("n2"), true), (Some("n2"), true)],
            replicas: 2,
            removed: vec![3, 4],
        },
        ScaleDown {
            name: "to zero",
            slots: vec![(Some("n1"), true), (None, false), (Some("n2"), false)],
            replicas: 0,
            removed: vec![1, 2, 3],
        },
    ]
}

#[test]
fn scale_down_removes_slots_as_swarmkit_chooses() {
    for case in scale_down_cases() {
        let mut world = World::new();
        world.add_node("n1", NodeState::Ready);
        world.add_node("n2", NodeState::Ready);
        let count = case.slots.len() as u64;
        world.create_service("s1", ServiceSpec::replicated("web", "bb:1", count));
        world.reconcile();
        for (index, (node, running)) in case.slots.iter().enumerate() {
            let id = world.wanted_in_slot("s1", index as u64 + 1).unwrap().id;
            if let Some(node) = node {
                world.run(Command::AssignTask { id: id.clone(), node_id: node.to_string() });
                if *running {
                    world.report(&id, TaskState::Running);
                }
            }
        }
        let before = world.tasks("s1");
        world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: case.replicas });
        let commands = world.reconcile();

        let told_to_remove: BTreeSet<u64> = flat(&commands)
            .into_iter()
            .filter_map(|command| match command {
                Command::SetTaskDesiredState { id, desired_state: TaskState::Remove } => {
                    before.iter().find(|t| &t.id == id).and_then(|t| t.slot)
                }
                _ => None,
            })
            .collect();
        assert_eq!(told_to_remove.into_iter().collect::<Vec<_>>(), case.removed, "{}", case.name);
        let kept: Vec<u64> = (1..=count).filter(|slot| !case.removed.contains(slot)).collect();
        assert_eq!(world.wanted_slots("s1"), kept, "{}", case.name);
        assert!(created(&commands).is_empty(), "{}", case.name);

        // Unassigned tasks are deleted at once; the others once their agent reports them stopped.
        for slot in &case.removed {
            for task in world.in_slot("s1", *slot) {
                assert_eq!(task.desired_state, TaskState::Remove, "{}", case.name);
                assert!(task.status.state >= TaskState::Assigned, "{}: unassigned task kept", case.name);
                world.report(&task.id, TaskState::Shutdown);
            }
        }
        world.reconcile();
        for slot in &case.removed {
            assert!(world.in_slot("s1", *slot).is_empty(), "{}: slot {slot} not deleted", case.name);
        }
        assert_eq!(world.wanted_slots("s1"), kept, "{}", case.name);
    }
}

#[test]
fn scaling_down_deletes_the_removed_slots_history_too() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.create_service("s1", replicated("web", 2, RestartCondition::Any));
    world.reconcile();
    let one = world.wanted_in_slot("s1", 1).unwrap().id;
    world.start(&one, "n1");
    let first = world.wanted_in_slot("s1", 2).unwrap().id;
    world.start(&first, "n1");
    world.report(&first, TaskState::Failed);
    world.reconcile();
    let second = world.wanted_in_slot("s1", 2).unwrap().id;
    world.start(&second, "n1");
    assert_eq!(world.in_slot("s1", 2).len(), 2);

    world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: 1 });
    world.reconcile();
    world.report(&second, TaskState::Shutdown);
    world.reconcile();
    assert!(world.in_slot("s1", 2).is_empty());
    assert_eq!(world.wanted_slots("s1"), [1]);
}

#[test]
fn replicated_tasks_leave_drained_and_down_nodes_at_once() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.add_node("n2", NodeState::Ready);
    let mut spec = replicated("web", 2, RestartCondition::None);
    spec.task_template.restart_policy.delay_ns = 60 * SECOND_MS * MS_NS;
    world.create_service("s1", spec);
    world.reconcile();
    let one = world.wanted_in_slot("s1", 1).unwrap().id;
    let two = world.wanted_in_slot("s1", 2).unwrap().id;
    world.start(&one, "n1");
    world.start(&two, "n2");

    world.set_availability("n2", NodeAvailability::Drain);
    let commands = world.reconcile();
    assert_eq!(world.task(&two).desired_state, TaskState::Shutdown);
    let moved = created(&commands);
    assert_eq!(moved.len(), 1);
    assert_eq!((moved[0].slot, moved[0].node_id.as_deref()), (Some(2), None));
    assert_eq!(world.wanted_in_slot("s1", 1).unwrap().id, one);

    world.set_node_state("n1", NodeState::Down);
    world.reconcile();
    assert_eq!(world.task(&one).desired_state, TaskState::Shutdown);
    let replacement = world.wanted_in_slot("s1", 1).unwrap();
    assert_ne!(replacement.id, one);
    assert_eq!(replacement.status.state, TaskState::New);
}

#[test]
fn removing_a_service_removes_its_tasks_and_leaves_nothing_to_do() {
    let mut world = World::new();
    world.create_service("s1", ServiceSpec::replicated("web", "bb:1", 3));
    world.reconcile();
    world.run(Command::RemoveService { id: "s1".into() });
    assert_eq!(world.store.task_count(), 0);
    assert!(world.reconcile().is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Restart supervisor

struct Restart {
    condition: RestartCondition,
    ended: TaskState,
    replaced: bool,
}

#[test]
fn restart_condition_decides_which_endings_are_replaced() {
    use RestartCondition::{Any, None as Never, OnFailure};
    use TaskState::{Complete, Failed, Orphaned, Rejected, Shutdown};
    let cases = [
        Restart { condition: Any, ended: Failed, replaced: true },
        Restart { condition: Any, ended: Rejected, replaced: true },
        Restart { condition: Any, ended: Complete, replaced: true },
        Restart { condition: OnFailure, ended: Failed, replaced: true },
        Restart { condition: OnFailure, ended: Rejected, replaced: true },
        Restart { condition: OnFailure, ended: Complete, replaced: false },
        Restart { condition: Never, ended: Failed, replaced: false },
        Restart { condition: Never, ended: Complete, replaced: false },
        // Stopped or lost without being asked: not an ending the task chose, always replaced.
        Restart { condition: Never, ended: Shutdown, replaced: true },
        Restart { condition: Never, ended: Orphaned, replaced: true },
    ];
    for case in cases {
        let name = format!("{} after {}", case.condition, case.ended);
        let mut world = World::new();
        world.add_node("n1", NodeState::Ready);
        world.create_service("s1", replicated("web", 1, case.condition));
        world.reconcile();
        let first = world.wanted_in_slot("s1", 1).unwrap().id;
        world.start(&first, "n1");
        world.advance(SECOND_MS);
        world.report(&first, case.ended);
        let commands = world.reconcile();

        assert_eq!(world.task(&first).desired_state, TaskState::Shutdown, "{name}");
        let replacement = world.wanted_in_slot("s1", 1);
        assert_eq!(replacement.is_some(), case.replaced, "{name}");
        if let Some(replacement) = replacement {
            assert_eq!(created(&commands).len(), 1, "{name}");
            assert_eq!(replacement.status.state, TaskState::New, "{name}");
            assert_eq!(replacement.created_at, Timestamp(world.now), "{name}");
            // The old task's stop and its replacement travel in one batch.
            assert_eq!(commands.len(), 1, "{name}");
        } else {
            // Given up: the slot still counts as a replica; nothing brings it back.
            assert!(created(&commands).is_empty(), "{name}");
            world.advance(3600 * SECOND_MS);
            assert!(world.reconcile().is_empty(), "{name}");
        }
    }
}

#[test]
fn restart_waits_for_the_delay() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    let mut spec = replicated("web", 1, RestartCondition::Any);
    spec.task_template.restart_policy.delay_ns = 5 * SECOND_MS * MS_NS;
    world.create_service("s1", spec);
    world.reconcile();
    assert_eq!(next_wakeup(&world.store, Timestamp(world.now)), None);
    let first = world.wanted_in_slot("s1", 1).unwrap().id;
    world.start(&first, "n1");
    world.advance(10 * SECOND_MS);
    let failed_at = world.now;
    world.report(&first, TaskState::Failed);

    assert!(world.reconcile().is_empty(), "restarted before the delay");
    assert_eq!(next_wakeup(&world.store, Timestamp(world.now)), Some(Timestamp(failed_at + 5 * SECOND_MS)));
    world.advance(5 * SECOND_MS - 1);
    assert!(world.reconcile().is_empty(), "restarted before the delay");
    assert_eq!(world.task(&first).desired_state, TaskState::Running, "the failed task holds its slot while waiting");

    world.advance(1);
    let replacement = created(&world.reconcile());
    assert_eq!(replacement.len(), 1);
    assert_eq!(replacement[0].slot, Some(1));
    assert_eq!(world.task(&first).desired_state, TaskState::Shutdown);
    assert_eq!(next_wakeup(&world.store, Timestamp(world.now)), None);
}

struct Attempts {
    max_attempts: u64,
    window_ms: u64,
    /// Time between one attempt's failure and the next's (each replacement starts when its predecessor fails).
    spacing_ms: u64,
    /// Attempts (tasks) the slot sees in 6 rounds of failing whatever runs.
    attempts: usize,
    given_up: bool,
}

#[test]
fn max_attempts_count_restarts_within_the_window() {
    let cases = [
        Attempts { max_attempts: 0, window_ms: 0, spacing_ms: SECOND_MS, attempts: 7, given_up: false },
        Attempts { max_attempts: 2, window_ms: 0, spacing_ms: SECOND_MS, attempts: 3, given_up: true },
        Attempts { max_attempts: 3, window_ms: 0, spacing_ms: 60 * SECOND_MS, attempts: 4, given_up: true },
        Attempts { max_attempts: 2, window_ms: 10 * SECOND_MS, spacing_ms: SECOND_MS, attempts: 3, given_up: true },
        Attempts { max_attempts: 2, window_ms: 10 * SECOND_MS, spacing_ms: 4 * SECOND_MS, attempts: 3, given_up: true },
        Attempts {
            max_attempts: 2,
            window_ms: 10 * SECOND_MS,
            spacing_ms: 6 * SECOND_MS,
            attempts: 7,
            given_up: false,
        },
        Attempts {
            max_attempts: 2,
            window_ms: 10 * SECOND_MS,
            spacing_ms: 11 * SECOND_MS,
            attempts: 7,
            given_up: false,
        },
        Attempts {
            max_attempts: 1,
            window_ms: 10 * SECOND_MS,
            spacing_ms: 11 * SECOND_MS,
            attempts: 7,
            given_up: false,
        },
    ];
    for case in cases {
        let name = format!("max {} window {}ms spacing {}ms", case.max_attempts, case.window_ms, case.spacing_ms);
        let mut world = World::new();
        world.add_node("n1", NodeState::Ready);
        let mut spec = replicated("web", 1, RestartCondition::Any);
        spec.task_template.restart_policy.max_attempts = case.max_attempts;
        spec.task_template.restart_policy.window_ns = case.window_ms * MS_NS;
        world.create_service("s1", spec);
        world.reconcile();
        let mut seen = BTreeSet::new();
        for _ in 0..6 {
            let Some(task) = world.wanted_in_slot("s1", 1) else { break };
            seen.insert(task.id.clone());
            world.start(&task.id, "n1");
            world.report(&task.id, TaskState::Failed);
            world.reconcile();
            world.advance(case.spacing_ms);
        }
        world.reconcile();
        if let Some(task) = world.wanted_in_slot("s1", 1) {
            seen.insert(task.id);
        }
        assert_eq!(seen.len(), case.attempts, "{name}");
        assert_eq!(world.wanted_in_slot("s1", 1).is_none(), case.given_up, "{name}");
        if case.given_up {
            // The history that proves the limit was reached survives the reaper.
            assert!(world.in_slot("s1", 1).len() as u64 > case.max_attempts, "{name}");
            world.advance(3600 * SECOND_MS);
            assert!(world.reconcile().is_empty(), "{name}: a given-up slot came back");
        }
    }
}

#[test]
fn a_restart_uses_the_services_current_template() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.create_service("s1", replicated("web", 1, RestartCondition::Any));
    world.reconcile();
    let first = world.wanted_in_slot("s1", 1).unwrap();
    world.start(&first.id, "n1");
    world.update_service("s1", |spec| spec.task_template.container_spec.image = "bb:2".into());
    let service = world.store.service("s1").unwrap().clone();
    assert!(orchestrator::is_dirty(&service, world.task(&first.id)));
    world.report(&first.id, TaskState::Failed);
    world.reconcile();
    let replacement = world.wanted_in_slot("s1", 1).unwrap();
    assert_eq!(replacement.spec.container_spec.image, "bb:2");
    assert!(!orchestrator::is_dirty(&service, &replacement));
}

// ---------------------------------------------------------------------------------------------------------------
// Task reaper

#[test]
fn reaper_keeps_exactly_the_retention_limit_per_slot() {
    // (retention limit, tasks left in the slot after 8 failures: the limit counts the running task, and the newest
    // task is never deleted)
    for (limit, left) in [(0, 1), (1, 1), (3, 3), (5, 5), (20, 9)] {
        let mut world = World::new();
        world.settings(ClusterSettings { task_history_retention_limit: limit, ..ClusterSettings::default() });
        world.add_node("n1", NodeState::Ready);
        world.create_service("s1", replicated("web", 2, RestartCondition::Any));
        world.reconcile();
        for _ in 0..8 {
            let task = world.wanted_in_slot("s1", 1).unwrap();
            world.start(&task.id, "n1");
            world.advance(SECOND_MS);
            world.report(&task.id, TaskState::Failed);
            world.reconcile();
        }
        let slot = world.in_slot("s1", 1);
        assert_eq!(slot.len(), left, "limit {limit}");
        let newest = slot.last().unwrap();
        assert_eq!(newest.desired_state, TaskState::Running, "limit {limit}");
        assert_eq!(world.in_slot("s1", 2).len(), 1, "limit {limit}: slot 2 untouched");
        // The kept history is the newest.
        let created: Vec<Timestamp> = slot.iter().map(|t| t.created_at).collect();
        assert!(created.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(created.last(), Some(&Timestamp(world.now)), "limit {limit}");
    }
}

#[test]
fn reaper_never_deletes_a_task_that_may_be_running() {
    let mut world = World::new();
    world.settings(ClusterSettings { task_history_retention_limit: 1, ..ClusterSettings::default() });
    world.add_node("n1", NodeState::Ready);
    world.add_node("n2", NodeState::Ready);
    world.create_service("s1", replicated("web", 1, RestartCondition::Any));
    world.reconcile();
    let first = world.wanted_in_slot("s1", 1).unwrap().id;
    world.start(&first, "n1");
    // Drained: the task is told to stop and replaced, but it has not stopped yet.
    world.set_availability("n1", NodeAvailability::Drain);
    world.reconcile();
    assert_eq!(world.task(&first).desired_state, TaskState::Shutdown);
    assert_eq!(world.in_slot("s1", 1).len(), 2);
    world.report(&first, TaskState::Shutdown);
    world.reconcile();
    assert_eq!(world.in_slot("s1", 1).len(), 1);
}

#[test]
fn reaper_bounds_global_history_per_node() {
    let mut world = World::new();
    world.settings(ClusterSettings { task_history_retention_limit: 2, ..ClusterSettings::default() });
    world.add_node("n1", NodeState::Ready);
    let mut spec = ServiceSpec::global("agent", "bb:1");
    spec.task_template.restart_policy.delay_ns = 0;
    world.create_service("s1", spec);
    world.reconcile();
    for _ in 0..4 {
        let task = world.wanted_on("s1", "n1").pop().unwrap();
        world.start(&task.id, "n1");
        world.report(&task.id, TaskState::Failed);
        world.reconcile();
    }
    assert_eq!(world.tasks("s1").len(), 2);
    assert_eq!(world.wanted_on("s1", "n1").len(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Global services

#[test]
fn global_service_runs_once_on_every_accepting_node() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.add_node("n2", NodeState::Ready);
    world.create_service("s1", ServiceSpec::global("agent", "bb:1"));
    let commands = world.reconcile();
    let tasks = created(&commands);
    let nodes: Vec<_> = tasks.iter().map(|t| t.node_id.as_deref()).collect();
    assert_eq!(nodes, [Some("n1"), Some("n2")]);
    assert!(tasks.iter().all(|t| t.slot.is_none() && t.desired_state == TaskState::Running));
    assert!(tasks.iter().all(|t| t.status.state == TaskState::New));
    for task in &tasks {
        world.start(&task.id, task.node_id.as_deref().unwrap());
    }

    // A node joining later gets its task; a node still in state unknown counts.
    world.add_node("n3", NodeState::Unknown);
    let added = created(&world.reconcile());
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].node_id.as_deref(), Some("n3"));

    // Drained: its task is told to stop, nothing replaces it.
    let on_n2 = world.wanted_on("s1", "n2").pop().unwrap().id;
    world.set_availability("n2", NodeAvailability::Drain);
    let commands = world.reconcile();
    assert!(created(&commands).is_empty());
    assert_eq!(world.task(&on_n2).desired_state, TaskState::Shutdown);
    world.report(&on_n2, TaskState::Shutdown);
    assert!(world.reconcile().is_empty());
    assert!(world.wanted_on("s1", "n2").is_empty());

    // Active again: a fresh task (the old one was stopped, not given up).
    world.set_availability("n2", NodeAvailability::Active);
    let added = created(&world.reconcile());
    assert_eq!(added.iter().map(|t| t.node_id.as_deref()).collect::<Vec<_>>(), [Some("n2")]);

    // Down: stopped. Paused: keeps what it has, gets nothing new.
    world.set_node_state("n3", NodeState::Down);
    world.reconcile();
    assert!(world.wanted_on("s1", "n3").is_empty());
    world.set_availability("n1", NodeAvailability::Pause);
    assert!(world.reconcile().is_empty());
    assert_eq!(world.wanted_on("s1", "n1").len(), 1);
    world.add_node("n4", NodeState::Ready);
    world.set_availability("n4", NodeAvailability::Pause);
    assert!(world.reconcile().is_empty());
    assert!(world.wanted_on("s1", "n4").is_empty());
}

#[test]
fn global_service_follows_placement_constraints() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.add_node("n2", NodeState::Ready);
    world.set_node_spec("n1", |spec| {
        spec.labels.insert("zone".into(), "east".into());
    });
    let mut spec = ServiceSpec::global("agent", "bb:1");
    spec.task_template.placement.constraints = vec!["node.labels.zone==east".into()];
    world.create_service("s1", spec);
    world.reconcile();
    assert_eq!(world.wanted_on("s1", "n1").len(), 1);
    assert!(world.wanted_on("s1", "n2").is_empty());

    // The label moves: n1's task stops, n2 gets one.
    world.set_node_spec("n1", |spec| {
        spec.labels.clear();
    });
    world.set_node_spec("n2", |spec| {
        spec.labels.insert("zone".into(), "east".into());
    });
    world.reconcile();
    assert!(world.wanted_on("s1", "n1").is_empty());
    assert_eq!(world.wanted_on("s1", "n2").len(), 1);
}

#[test]
fn global_task_restarts_on_its_node() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    let mut spec = ServiceSpec::global("agent", "bb:1");
    spec.task_template.restart_policy.delay_ns = 0;
    world.create_service("s1", spec);
    world.reconcile();
    let first = world.wanted_on("s1", "n1").pop().unwrap().id;
    world.start(&first, "n1");
    world.report(&first, TaskState::Failed);
    let replacement = created(&world.reconcile());
    assert_eq!(replacement.len(), 1);
    assert_eq!(replacement[0].node_id.as_deref(), Some("n1"));
    assert_eq!(world.task(&first).desired_state, TaskState::Shutdown);
}

// ---------------------------------------------------------------------------------------------------------------
// Jobs

#[test]
fn replicated_job_runs_to_completion_within_max_concurrent() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    let mut spec = ServiceSpec::replicated_job("batch", "bb:1", 2, 5);
    spec.task_template.restart_policy =
        RestartPolicy { condition: RestartCondition::OnFailure, delay_ns: 0, ..RestartPolicy::default() };
    world.create_service("s1", spec);
    let mut completed = BTreeSet::new();
    let mut failures = 0;
    for round in 0..20 {
        world.advance(SECOND_MS);
        world.reconcile();
        let unfinished: Vec<Task> =
            world.wanted("s1").into_iter().filter(|t| t.status.state != TaskState::Complete).collect();
        assert!(unfinished.len() <= 2, "round {round}: {} unfinished tasks wanted", unfinished.len());
        assert!(unfinished.iter().all(|t| t.desired_state == TaskState::Complete));
        let Some(task) = unfinished.first() else { break };
        world.start(&task.id, "n1");
        // Every third attempt fails and is retried in its slot.
        if round % 3 == 1 {
            world.report(&task.id, TaskState::Failed);
            failures += 1;
        } else {
            world.report(&task.id, TaskState::Complete);
            completed.insert(task.id.clone());
        }
    }
    assert!(failures > 0);
    assert_eq!(completed.len(), 5);
    // Every completed task is still there, still wanted Complete, and alone among the wanted tasks of its slot.
    for id in &completed {
        let task = world.task(id);
        assert_eq!((task.status.state, task.desired_state), (TaskState::Complete, TaskState::Complete));
        assert_eq!(world.wanted_in_slot("s1", task.slot.unwrap()).unwrap().id, *id);
    }
    assert_eq!(world.wanted_slots("s1"), [1, 2, 3, 4, 5]);
    world.advance(3600 * SECOND_MS);
    assert!(world.reconcile().is_empty());
}

#[test]
fn replicated_job_starts_max_concurrent_tasks_in_slots_from_one() {
    let mut world = World::new();
    world.create_service("s1", ServiceSpec::replicated_job("batch", "bb:1", 3, 10));
    let tasks = created(&world.reconcile());
    assert_eq!(tasks.iter().map(|t| t.slot).collect::<Vec<_>>(), [Some(1), Some(2), Some(3)]);
    assert!(tasks.iter().all(|t| t.desired_state == TaskState::Complete && t.status.state == TaskState::New));

    world.create_service("s2", ServiceSpec::replicated_job("small", "bb:1", 8, 2));
    assert_eq!(created(&world.reconcile()).len(), 2);
}

#[test]
fn global_job_runs_once_per_ready_node() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.add_node("n2", NodeState::Ready);
    world.add_node("n3", NodeState::Unknown);
    world.create_service("s1", ServiceSpec::global_job("once", "bb:1"));
    let tasks = created(&world.reconcile());
    assert_eq!(tasks.iter().map(|t| t.node_id.as_deref()).collect::<Vec<_>>(), [Some("n1"), Some("n2")]);
    assert!(tasks.iter().all(|t| t.desired_state == TaskState::Complete));

    let on_n1 = world.wanted_on("s1", "n1").pop().unwrap().id;
    world.start(&on_n1, "n1");
    world.report(&on_n1, TaskState::Complete);
    world.advance(3600 * SECOND_MS);
    assert!(world.reconcile().is_empty(), "a completed job task is never restarted");

    world.set_node_state("n3", NodeState::Ready);
    let added = created(&world.reconcile());
    assert_eq!(added.iter().map(|t| t.node_id.as_deref()).collect::<Vec<_>>(), [Some("n3")]);

    let on_n2 = world.wanted_on("s1", "n2").pop().unwrap().id;
    world.start(&on_n2, "n2");
    world.set_availability("n2", NodeAvailability::Drain);
    world.reconcile();
    assert_eq!(world.task(&on_n2).desired_state, TaskState::Shutdown);
    // The completed task on n1 is untouched by draining it.
    world.set_availability("n1", NodeAvailability::Drain);
    world.reconcile();
    assert_eq!(world.task(&on_n1).desired_state, TaskState::Complete);
}

// ---------------------------------------------------------------------------------------------------------------
// Whole-cluster properties

#[test]
fn large_scale_ups_are_split_into_batches_within_limits() {
    let mut world = World::new();
    world.create_service("s1", ServiceSpec::replicated("big", "bb:1", REPLICAS_MAX));
    world.create_service("s2", ServiceSpec::replicated("small", "bb:1", 3));
    let commands = world.reconcile();
    assert!(commands.len() >= 2, "expected the {} tasks to need more than one batch", REPLICAS_MAX + 3);
    assert_eq!(created(&commands).len() as u64, REPLICAS_MAX + 3);
    assert_eq!(world.wanted("s1").len() as u64, REPLICAS_MAX);
    assert_eq!(world.wanted("s2").len(), 3);
}

/// A scripted run mixing every mode; returns every batch reconcile produced.
fn scripted_run() -> (Vec<Command>, Store) {
    let mut world = World::new();
    let mut log = Vec::new();
    world.add_node("n1", NodeState::Ready);
    world.add_node("n2", NodeState::Ready);
    world.create_service("s1", replicated("web", 3, RestartCondition::Any));
    world.create_service("s2", ServiceSpec::global("agent", "bb:1"));
    world.create_service("s3", ServiceSpec::replicated_job("batch", "bb:1", 2, 4));
    log.extend(world.reconcile());
    for round in 0..6u64 {
        world.advance(7 * SECOND_MS);
        for task in world.store.tasks().cloned().collect::<Vec<_>>() {
            if task.desired_state > TaskState::Complete || task.status.state.is_terminal() {
                continue;
            }
            let node = task.node_id.clone().unwrap_or(if task.slot.unwrap_or(0) % 2 == 0 { "n2" } else { "n1" }.into());
            world.start(&task.id, &node);
            let end = match (round + task.slot.unwrap_or(0)) % 4 {
                0 => Some(TaskState::Failed),
                1 => Some(TaskState::Complete),
                _ => None,
            };
            if let Some(end) = end {
                world.report(&task.id, end);
            }
        }
        if round == 3 {
            world.set_availability("n2", NodeAvailability::Drain);
            world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: 1 });
        }
        log.extend(world.reconcile());
    }
    (log, world.store)
}

#[test]
fn reconcile_is_deterministic() {
    let (first_log, first_store) = scripted_run();
    let (second_log, second_store) = scripted_run();
    assert!(!first_log.is_empty());
    assert_eq!(first_log, second_log);
    assert_eq!(first_store, second_store);
    assert!(first_store.invariant_violation().is_none());
}

#[test]
fn nothing_to_do_on_an_empty_or_uninitialized_store() {
    let mut ids = SequentialIds::new("t");
    assert!(orchestrator::reconcile(&Store::new(), Timestamp(T0), &mut ids).is_empty());
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    assert!(world.reconcile().is_empty());
}

#[test]
fn ids_already_in_use_are_skipped() {
    let mut world = World::new();
    world.create_service("s1", ServiceSpec::replicated("web", "bb:1", 2));
    world.reconcile();
    // A fresh source restarts at task1; those ids are taken, so it must move on.
    world.ids = SequentialIds::new("task");
    world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: 3 });
    let added = created(&world.reconcile());
    assert_eq!(added.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["task3"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Start gate: a task created while another of its slot may still run on a live node waits at desired Ready

/// How the old task stops holding its slot back.
#[derive(Debug, Clone, Copy)]
enum Release {
    /// Its agent reports it stopped.
    Stopped,
    /// Its node goes down.
    NodeDown,
}

struct Gate {
    name: &'static str,
    global: bool,
    /// Makes the orchestrators replace the task running on n1 (slot 1, or n1 for a global service); returns what
    /// the reconcile that creates the replacement proposed.
    act: fn(&mut World) -> Vec<Command>,
    /// The replacement's desired state when created.
    created_as: TaskState,
    release: Release,
}

fn update_image(world: &mut World, order: UpdateOrder) -> Vec<Command> {
    world.update_service("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(UpdateConfig { parallelism: 1, order, ..UpdateConfig::default() });
    });
    world.reconcile()
}

fn scale(world: &mut World, replicas: u64) {
    world.update_service("s1", |spec| spec.mode = ServiceMode::Replicated { replicas });
}

fn gate_cases() -> Vec<Gate> {
    use TaskState::{Ready, Running};
    vec![
        Gate {
            name: "scale down then up while the removed task still runs",
            global: false,
            act: |world| {
                scale(world, 0);
                world.reconcile();
                scale(world, 1);
                world.reconcile()
            },
            created_as: Ready,
            release: Release::Stopped,
        },
        Gate {
            name: "scale down then up, released by its node going down",
            global: false,
            act: |world| {
                scale(world, 0);
                world.reconcile();
                scale(world, 1);
                world.reconcile()
            },
            created_as: Ready,
            release: Release::NodeDown,
        },
        Gate {
            name: "scale down then up after the removed task's node went down",
            global: false,
            act: |world| {
                scale(world, 0);
                world.reconcile();
                world.set_node_state("n1", NodeState::Down);
                scale(world, 1);
                world.reconcile()
            },
            created_as: Running,
            release: Release::Stopped,
        },
        Gate {
            name: "stop-first update",
            global: false,
            act: |world| update_image(world, UpdateOrder::StopFirst),
            created_as: Ready,
            release: Release::Stopped,
        },
        Gate {
            name: "start-first update overlaps on purpose",
            global: false,
            act: |world| update_image(world, UpdateOrder::StartFirst),
            created_as: Running,
            release: Release::Stopped,
        },
        Gate {
            name: "global stop-first update",
            global: true,
            act: |world| update_image(world, UpdateOrder::StopFirst),
            created_as: Ready,
            release: Release::Stopped,
        },
        Gate {
            name: "moved off a drained node that still runs it",
            global: false,
            act: |world| {
                world.set_availability("n1", NodeAvailability::Drain);
                world.reconcile()
            },
            created_as: Ready,
            release: Release::Stopped,
        },
        Gate {
            name: "moved off a down node",
            global: false,
            act: |world| {
                world.set_node_state("n1", NodeState::Down);
                world.reconcile()
            },
            created_as: Running,
            release: Release::Stopped,
        },
        Gate {
            name: "restart of a task that failed",
            global: false,
            act: |world| {
                let old = world.tasks("s1")[0].id.clone();
                world.report(&old, TaskState::Failed);
                world.reconcile()
            },
            created_as: Running,
            release: Release::Stopped,
        },
    ]
}

#[test]
fn a_replacement_waits_at_ready_until_older_tasks_of_its_slot_stop_on_live_nodes() {
    for case in gate_cases() {
        let name = case.name;
        let mut world = World::new();
        world.add_node("n1", NodeState::Ready);
        world.add_node("n2", NodeState::Ready);
        let mut spec = if case.global {
            let mut spec = ServiceSpec::global("agent", "bb:1");
            spec.task_template.placement.constraints = vec!["node.hostname==host-n1".into()];
            spec
        } else {
            replicated("web", 1, RestartCondition::Any)
        };
        spec.task_template.restart_policy.delay_ns = 0;
        world.create_service("s1", spec);
        world.reconcile();
        let old = world.tasks("s1")[0].id.clone();
        world.start(&old, "n1");

        let commands = (case.act)(&mut world);
        let new = created(&commands);
        assert_eq!(new.len(), 1, "{name}: {commands:?}");
        let new = new[0].id.clone();
        assert_eq!(world.task(&new).desired_state, case.created_as, "{name}");
        assert_eq!(world.task(&new).slot, world.task(&old).slot, "{name}");
        if case.created_as != TaskState::Ready {
            continue;
        }
        // Held while the old task may run: the scheduler places it and its agent prepares it, nothing more.
        if world.task(&new).node_id.is_none() {
            world.run(Command::AssignTask { id: new.clone(), node_id: "n2".into() });
        }
        world.report(&new, TaskState::Ready);
        world.advance(60 * SECOND_MS);
        assert!(world.reconcile().is_empty(), "{name}: promoted while the old task may still run");
        assert_eq!(world.task(&new).desired_state, TaskState::Ready, "{name}");

        match case.release {
            Release::Stopped => world.report(&old, TaskState::Shutdown),
            Release::NodeDown => world.set_node_state("n1", NodeState::Down),
        }
        world.reconcile();
        assert_eq!(world.task(&new).desired_state, TaskState::Running, "{name}");
        let wanted = if case.global { world.wanted_on("s1", "n1") } else { world.wanted("s1") };
        assert_eq!(wanted.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [new.as_str()], "{name}");
    }
}

#[test]
fn a_held_job_task_is_promoted_to_complete() {
    let mut world = World::new();
    world.add_node("n1", NodeState::Ready);
    world.add_node("n2", NodeState::Ready);
    let mut spec = ServiceSpec::replicated_job("batch", "bb:1", 1, 1);
    spec.task_template.restart_policy.delay_ns = 0;
    world.create_service("s1", spec);
    world.reconcile();
    let old = world.wanted_in_slot("s1", 1).unwrap().id;
    world.start(&old, "n1");
    world.set_availability("n1", NodeAvailability::Drain);
    world.reconcile();
    let new = world.wanted_in_slot("s1", 1).unwrap();
    assert_eq!(new.desired_state, TaskState::Ready);
    world.report(&old, TaskState::Shutdown);
    world.reconcile();
    assert_eq!(world.task(&new.id).desired_state, TaskState::Complete);
}
