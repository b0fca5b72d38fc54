//! Whole-cluster properties of the orchestrators (batches within limits, determinism, id reuse) and the start
//! gate: a task created while another of its slot may still run on a live node waits at desired Ready.

mod common;
mod orchestration;

use common::T0;
use orchestration::*;
use swarm_core::orchestrator;
use swarm_core::*;

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
