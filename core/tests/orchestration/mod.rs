//! The orchestrator tests' harness, shared by `orchestrator.rs` and `orchestrator_properties.rs`: a `World` that
//! builds a store by applying real commands and, on every reconcile, checks that each returned command is a batch
//! within the store's limits, that it applies without rejection, and that reconciling again at the same time
//! returns nothing (idempotence). Each test file uses a subset, hence the allow.
#![allow(dead_code)]

use std::collections::BTreeSet;

use crate::common::{self, at, T0};
use swarm_core::orchestrator;
use swarm_core::*;

pub const SECOND_MS: u64 = 1000;
pub const MS_NS: u64 = 1_000_000;

pub struct World {
    pub store: Store,
    pub now: u64,
    pub ids: SequentialIds,
}

impl World {
    pub fn new() -> World {
        let mut world = World { store: Store::new(), now: T0, ids: SequentialIds::new("task") };
        world.run(Command::InitCluster {
            cluster_id: "c1".into(),
            settings: ClusterSettings::default(),
            join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
        });
        world
    }

    pub fn run(&mut self, command: Command) {
        let name = command.name();
        if let Err(rejection) = self.store.apply(&at(self.now, command)) {
            panic!("{name} rejected: {rejection}");
        }
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Runs the orchestrators, applies their batches, checks them, and returns them.
    pub fn reconcile(&mut self) -> Vec<Command> {
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

    pub fn settings(&mut self, settings: ClusterSettings) {
        let version = self.store.cluster().unwrap().version;
        self.run(Command::UpdateClusterSettings { version, settings });
    }

    pub fn add_node(&mut self, id: &str, state: NodeState) {
        self.run(common::create_node(id));
        self.set_node_state(id, state);
    }

    pub fn set_node_state(&mut self, id: &str, state: NodeState) {
        self.run(Command::SetNodeStatus {
            id: id.into(),
            status: NodeStatus { state, message: String::new(), addr: "10.0.0.1".into() },
        });
    }

    pub fn set_node_spec(&mut self, id: &str, change: impl FnOnce(&mut NodeSpec)) {
        let node = self.store.node(id).unwrap();
        let mut spec = node.spec.clone();
        change(&mut spec);
        let version = node.version;
        self.run(Command::UpdateNode { id: id.into(), version, spec });
    }

    pub fn set_availability(&mut self, id: &str, availability: NodeAvailability) {
        self.set_node_spec(id, |spec| spec.availability = availability);
    }

    pub fn create_service(&mut self, id: &str, spec: ServiceSpec) {
        self.run(Command::CreateService { service_id: id.into(), spec });
    }

    pub fn update_service(&mut self, id: &str, change: impl FnOnce(&mut ServiceSpec)) {
        let service = self.store.service(id).unwrap();
        let mut spec = service.spec.clone();
        change(&mut spec);
        let version = service.version;
        self.run(Command::UpdateService { id: id.into(), version, spec });
    }

    /// An agent's report (timestamped now).
    pub fn report(&mut self, task_id: &str, state: TaskState) {
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
    pub fn start(&mut self, task_id: &str, node_id: &str) {
        if self.task(task_id).status.state < TaskState::Assigned {
            self.run(Command::AssignTask { id: task_id.into(), node_id: node_id.into() });
        }
        self.report(task_id, TaskState::Running);
    }

    pub fn task(&self, id: &str) -> &Task {
        self.store.task(id).unwrap_or_else(|| panic!("no task {id}"))
    }

    pub fn tasks(&self, service_id: &str) -> Vec<Task> {
        let mut tasks: Vec<Task> = self.store.tasks_of_service(service_id).cloned().collect();
        tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        tasks
    }

    /// Tasks still wanted (desired at most Running, or Complete for jobs).
    pub fn wanted(&self, service_id: &str) -> Vec<Task> {
        self.tasks(service_id).into_iter().filter(|t| t.desired_state <= TaskState::Complete).collect()
    }

    pub fn in_slot(&self, service_id: &str, slot: u64) -> Vec<Task> {
        self.tasks(service_id).into_iter().filter(|t| t.slot == Some(slot)).collect()
    }

    pub fn wanted_in_slot(&self, service_id: &str, slot: u64) -> Option<Task> {
        let mut wanted: Vec<Task> =
            self.in_slot(service_id, slot).into_iter().filter(|t| t.desired_state <= TaskState::Complete).collect();
        assert!(wanted.len() <= 1, "slot {slot} has {} wanted tasks", wanted.len());
        wanted.pop()
    }

    pub fn wanted_slots(&self, service_id: &str) -> Vec<u64> {
        let slots: BTreeSet<u64> = self.wanted(service_id).iter().filter_map(|t| t.slot).collect();
        slots.into_iter().collect()
    }

    pub fn wanted_on(&self, service_id: &str, node_id: &str) -> Vec<Task> {
        self.wanted(service_id).into_iter().filter(|t| t.node_id.as_deref() == Some(node_id)).collect()
    }
}

pub fn check_within_limits(command: &Command) {
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

pub fn flat(commands: &[Command]) -> Vec<&Command> {
    commands
        .iter()
        .flat_map(|command| match command {
            Command::Batch(inner) => inner.iter().collect(),
            single => vec![single],
        })
        .collect()
}

pub fn created(commands: &[Command]) -> Vec<Task> {
    flat(commands)
        .into_iter()
        .flat_map(|command| match command {
            Command::CreateTasks { tasks } => tasks.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// A replicated service whose tasks restart with `condition` and no delay.
pub fn replicated(name: &str, replicas: u64, condition: RestartCondition) -> ServiceSpec {
    let mut spec = ServiceSpec::replicated(name, "bb:1", replicas);
    spec.task_template.restart_policy = RestartPolicy { condition, delay_ns: 0, ..RestartPolicy::default() };
    spec
}
