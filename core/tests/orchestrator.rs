//! The orchestrators through the public seam: build a store by applying real commands, run
//! `orchestrator::reconcile`, apply what it returns, and check the tasks (replicated services, the restart
//! supervisor, the task reaper, global services, jobs). The `World` harness lives in `orchestration/`.

mod common;
mod orchestration;

use std::collections::BTreeSet;

use common::T0;
use orchestration::*;
use swarm_core::orchestrator::{self, next_wakeup};
use swarm_core::*;

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
