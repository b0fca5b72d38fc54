//! The rolling updater and rollback through the public seam. A small simulated cluster applies real commands,
//! runs the leader's whole pipeline (`pipeline::run`) and plays the agents: assigned tasks report `Running` one
//! tick later (or fail, for images listed as bad), tasks told to stop report `Shutdown`. Time moves by one tick or
//! to `orchestrator::next_wakeup`, whichever comes first. Every pipeline run is checked: its commands apply, and a
//! second run at the same time proposes nothing (idempotence at every step).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{at, T0};
use swarm_core::orchestrator::{self, next_wakeup};
use swarm_core::*;

const TICK_MS: u64 = 1000;
const SECOND_NS: u64 = 1_000_000_000;
const STEPS_MAX: usize = 500;
/// How long a stop-first slot takes to run its new task: one tick for the old task to report stopped (the new
/// one, created wanting `Ready`, is then promoted to `Running`), one for the new task to report running.
const STOP_FIRST_START_MS: u64 = 2 * TICK_MS;

struct Sim {
    store: Store,
    now: u64,
    ids: SequentialIds,
    /// Tasks of these images fail as soon as an agent starts them.
    bad_images: BTreeSet<String>,
    /// How long a task told to stop keeps running before it reports `Shutdown`.
    stop_ms: u64,
}

impl Sim {
    fn new(nodes: &[&str]) -> Sim {
        let mut sim = Sim {
            store: Store::new(),
            now: T0,
            ids: SequentialIds::new("task"),
            bad_images: BTreeSet::new(),
            stop_ms: 0,
        };
        sim.run(Command::InitCluster {
            cluster_id: "c1".into(),
            settings: ClusterSettings::default(),
            join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
        });
        for id in nodes {
            sim.run(common::create_node(id));
            sim.run(Command::SetNodeStatus {
                id: (*id).into(),
                status: NodeStatus { state: NodeState::Ready, message: String::new(), addr: "10.0.0.1".into() },
            });
        }
        sim
    }

    /// The same cluster as a new leader sees it: rebuilt from a snapshot, with no memory and other task ids.
    fn new_leader(&self) -> Sim {
        let store = Store::decode_snapshot(&self.store.encode_snapshot()).expect("own snapshot decodes");
        Sim {
            store,
            now: self.now,
            ids: SequentialIds::new("leader2-task"),
            bad_images: self.bad_images.clone(),
            stop_ms: self.stop_ms,
        }
    }

    fn run(&mut self, command: Command) {
        let name = command.name();
        if let Err(rejection) = self.store.apply(&at(self.now, command)) {
            panic!("{name} rejected: {rejection}");
        }
    }

    fn try_run(&mut self, command: Command) -> Result<Outcome, Rejection> {
        self.store.apply(&at(self.now, command))
    }

    fn service(&self, id: &str) -> &Service {
        self.store.service(id).unwrap_or_else(|| panic!("no service {id}"))
    }

    fn status(&self, id: &str) -> Option<UpdateStatus> {
        self.service(id).update_status.clone()
    }

    fn state(&self, id: &str) -> Option<UpdateState> {
        self.service(id).update_status.as_ref().map(|status| status.state)
    }

    fn create(&mut self, id: &str, spec: ServiceSpec) {
        self.run(Command::CreateService { service_id: id.into(), spec });
    }

    fn update(&mut self, id: &str, change: impl FnOnce(&mut ServiceSpec)) {
        let service = self.service(id);
        let mut spec = service.spec.clone();
        change(&mut spec);
        let version = service.version;
        self.run(Command::UpdateService { id: id.into(), version, spec });
    }

    fn rollback(&mut self, id: &str) -> Result<Outcome, Rejection> {
        let version = self.service(id).version;
        self.try_run(Command::RollbackService { id: id.into(), version })
    }

    /// The leader's decision round: runs the pipeline, applies its commands, checks idempotence.
    fn decide(&mut self) {
        let now = Timestamp(self.now);
        for command in pipeline::run(&self.store, now, &mut self.ids) {
            if let Err(rejection) = self.store.apply(&at(self.now, command.clone())) {
                panic!("pipeline command rejected at {now}: {rejection}\n{command:?}");
            }
        }
        let again = pipeline::run(&self.store, now, &mut self.ids);
        assert!(again.is_empty(), "pipeline is not idempotent at {now}; second run proposed {again:?}");
        let again = orchestrator::reconcile(&self.store, now, &mut self.ids);
        assert!(again.is_empty(), "reconcile is not idempotent at {now}; second run proposed {again:?}");
    }

    fn report(&mut self, task_id: &str, state: TaskState, err: Option<String>) {
        let status = TaskStatus {
            state,
            timestamp: Timestamp(self.now),
            message: state.as_str().into(),
            err,
            container_id: None,
        };
        self.run(Command::UpdateTaskStatus { id: task_id.into(), status });
    }

    /// Every agent reports: assigned wanted tasks start (or fail, for a bad image), except that a task desired
    /// `Ready` is only prepared (it waits for the orchestrator to promote it); tasks told to stop stop.
    fn agents(&mut self) {
        let tasks: Vec<Task> = self.store.tasks().cloned().collect();
        for task in tasks {
            if task.node_id.is_none() || task.status.state < TaskState::Assigned || task.status.state.is_terminal() {
                continue;
            }
            if task.desired_state > TaskState::Running {
                if self.now >= task.updated_at.as_millis() + self.stop_ms {
                    self.report(&task.id, TaskState::Shutdown, None);
                }
            } else if task.desired_state == TaskState::Ready {
                if task.status.state < TaskState::Ready {
                    self.report(&task.id, TaskState::Ready, None);
                }
            } else if task.status.state < TaskState::Running {
                let image = &task.spec.container_spec.image;
                if self.bad_images.contains(image) {
                    self.report(&task.id, TaskState::Failed, Some("task: non-zero exit (1)".into()));
                } else {
                    self.report(&task.id, TaskState::Running, None);
                }
            }
        }
    }

    /// One step: agents report, the leader decides, time moves to the next tick or wakeup.
    fn step(&mut self) {
        self.agents();
        self.decide();
        let tick = self.now + TICK_MS;
        self.now = next_wakeup(&self.store, Timestamp(self.now)).map_or(tick, |wakeup| wakeup.as_millis().min(tick));
    }

    /// Steps until `done` holds (checked after each step), calling `watch` after every agent round and decision.
    fn step_until(&mut self, mut done: impl FnMut(&Sim) -> bool, mut watch: impl FnMut(&Sim)) {
        for _ in 0..STEPS_MAX {
            self.agents();
            watch(self);
            self.decide();
            watch(self);
            if done(self) {
                return;
            }
            let tick = self.now + TICK_MS;
            self.now =
                next_wakeup(&self.store, Timestamp(self.now)).map_or(tick, |wakeup| wakeup.as_millis().min(tick));
        }
        panic!("not done after {STEPS_MAX} steps; status {:?}", self.store.services().next().map(|s| &s.update_status));
    }

    fn settle(&mut self, service_id: &str) {
        self.step_until(|sim| sim.all_running(service_id), |_| {});
    }

    fn tasks(&self, service_id: &str) -> Vec<&Task> {
        let mut tasks: Vec<&Task> = self.store.tasks_of_service(service_id).collect();
        tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        tasks
    }

    fn wanted(&self, service_id: &str) -> Vec<&Task> {
        self.tasks(service_id).into_iter().filter(|task| task.desired_state <= TaskState::Running).collect()
    }

    fn running(&self, service_id: &str) -> Vec<&Task> {
        self.tasks(service_id).into_iter().filter(|task| task.status.state == TaskState::Running).collect()
    }

    /// Every wanted task runs and nothing else does.
    fn all_running(&self, service_id: &str) -> bool {
        let wanted = self.wanted(service_id);
        !wanted.is_empty()
            && wanted.iter().all(|task| task.status.state == TaskState::Running)
            && self.running(service_id).len() == wanted.len()
    }

    fn wanted_images(&self, service_id: &str) -> Vec<String> {
        self.wanted(service_id).iter().map(|task| task.spec.container_spec.image.clone()).collect()
    }

    /// The tasks of `image` grouped by creation time: (created_at, slots or nodes), oldest first.
    fn batches(&self, service_id: &str, image: &str) -> Vec<(u64, Vec<String>)> {
        let mut batches: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for task in self.tasks(service_id).into_iter().filter(|task| task.spec.container_spec.image == image) {
            let place = task.slot.map_or_else(|| task.node_id.clone().unwrap_or_default(), |slot| slot.to_string());
            batches.entry(task.created_at.as_millis()).or_default().push(place);
        }
        batches.into_iter().collect()
    }

    /// At most one wanted task per slot (node for global services), and at most one task per slot observed
    /// between `Starting` and `Running`: what stop-first promises.
    fn assert_one_wanted_per_slot(&self, service_id: &str) {
        let place =
            |task: &Task| task.slot.map_or_else(|| task.node_id.clone().unwrap_or_default(), |slot| slot.to_string());
        let mut per_slot: BTreeMap<String, usize> = BTreeMap::new();
        let mut running: BTreeMap<String, usize> = BTreeMap::new();
        for task in self.wanted(service_id) {
            *per_slot.entry(place(task)).or_default() += 1;
        }
        for task in self.tasks(service_id) {
            if (TaskState::Starting..=TaskState::Running).contains(&task.status.state) {
                *running.entry(place(task)).or_default() += 1;
            }
        }
        assert!(per_slot.values().all(|&count| count == 1), "slots with several wanted tasks: {per_slot:?}");
        assert!(running.values().all(|&count| count == 1), "slots with several running tasks: {running:?}");
    }
}

fn update_config(parallelism: u64, delay_s: u64, monitor_s: u64, order: UpdateOrder) -> UpdateConfig {
    UpdateConfig {
        parallelism,
        delay_ns: delay_s * SECOND_NS,
        monitor_ns: monitor_s * SECOND_NS,
        order,
        ..UpdateConfig::default()
    }
}

fn web(replicas: u64) -> ServiceSpec {
    ServiceSpec::replicated("web", "bb:1", replicas)
}

/// A cluster of three ready nodes running service s1 ("web", bb:1) with all its tasks running.
fn running_web(replicas: u64, change: impl FnOnce(&mut ServiceSpec)) -> Sim {
    let mut sim = Sim::new(&["n1", "n2", "n3"]);
    let mut spec = web(replicas);
    change(&mut spec);
    sim.create("s1", spec);
    sim.settle("s1");
    assert_eq!(sim.status("s1"), None, "creating a service starts no update");
    sim
}

// ---------------------------------------------------------------------------------------------------------------
// Batches

struct BatchCase {
    replicas: u64,
    parallelism: u64,
    delay_s: u64,
    monitor_s: u64,
    /// Slots replaced together, batch by batch.
    batches: Vec<Vec<&'static str>>,
}

#[test]
fn stop_first_replaces_slots_in_batches_of_parallelism_gated_by_running_plus_delay() {
    let cases = [
        BatchCase {
            replicas: 5,
            parallelism: 2,
            delay_s: 10,
            monitor_s: 5,
            batches: vec![vec!["1", "2"], vec!["3", "4"], vec!["5"]],
        },
        BatchCase {
            replicas: 5,
            parallelism: 2,
            delay_s: 0,
            monitor_s: 30,
            batches: vec![vec!["1", "2"], vec!["3", "4"], vec!["5"]],
        },
        BatchCase {
            replicas: 3,
            parallelism: 1,
            delay_s: 3,
            monitor_s: 1,
            batches: vec![vec!["1"], vec!["2"], vec!["3"]],
        },
        BatchCase { replicas: 4, parallelism: 0, delay_s: 7, monitor_s: 5, batches: vec![vec!["1", "2", "3", "4"]] },
        BatchCase {
            replicas: 4,
            parallelism: 3,
            delay_s: 2,
            monitor_s: 2,
            batches: vec![vec!["1", "2", "3"], vec!["4"]],
        },
    ];
    for case in cases {
        let label = format!("replicas {} parallelism {} delay {}s", case.replicas, case.parallelism, case.delay_s);
        let mut sim = running_web(case.replicas, |_| {});
        let config = update_config(case.parallelism, case.delay_s, case.monitor_s, UpdateOrder::StopFirst);
        sim.update("s1", |spec| {
            spec.task_template.container_spec.image = "bb:2".into();
            spec.update_config = Some(config);
        });
        let update_started = sim.now;
        sim.step_until(
            |sim| sim.state("s1") == Some(UpdateState::Completed),
            |sim| sim.assert_one_wanted_per_slot("s1"),
        );

        let batches = sim.batches("s1", "bb:2");
        let slots: Vec<Vec<&str>> =
            batches.iter().map(|(_, slots)| slots.iter().map(String::as_str).collect()).collect();
        assert_eq!(slots, case.batches, "{label}");
        // Each batch starts when the previous one runs (its old tasks stopped, then its new ones started) plus the
        // delay.
        assert_eq!(batches[0].0, update_started, "{label}: the first batch starts at once");
        for pair in batches.windows(2) {
            assert_eq!(pair[1].0 - pair[0].0, STOP_FIRST_START_MS + case.delay_s * 1000, "{label}: {batches:?}");
        }
        // Completed `monitor` after the last batch freed its places.
        let status = sim.status("s1").unwrap();
        let last_batch = batches.last().unwrap().0;
        let freed = last_batch + STOP_FIRST_START_MS + case.delay_s * 1000;
        assert_eq!(status.completed_at, Some(Timestamp(freed + case.monitor_s * 1000)), "{label}");
        assert_eq!(status.started_at, Some(Timestamp(update_started)), "{label}");
        assert_eq!(status.message, "update completed", "{label}");
        assert!(sim.all_running("s1"), "{label}");
        assert_eq!(sim.wanted_images("s1"), vec!["bb:2"; case.replicas as usize], "{label}");
    }
}

#[test]
fn the_status_is_updating_until_the_last_monitor_window_ends() {
    let mut sim = running_web(2, |_| {});
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(2, 0, 20, UpdateOrder::StopFirst));
    });
    let started = sim.now;
    sim.step();
    let status = sim.status("s1").unwrap();
    assert_eq!(
        (status.state, status.message.as_str(), status.started_at, status.completed_at),
        (UpdateState::Updating, "update in progress", Some(Timestamp(started)), None)
    );
    sim.step(); // the old tasks stop; the new ones, held at Ready until then, are told to run
    assert!(sim.wanted("s1").iter().all(|task| task.desired_state == TaskState::Running));
    sim.step(); // the new tasks start running
    assert_eq!(sim.wanted_images("s1"), ["bb:2", "bb:2"]);
    let running_at = sim.now - TICK_MS;
    assert_eq!(next_wakeup(&sim.store, Timestamp(sim.now)), Some(Timestamp(running_at + 20_000)));
    while sim.now < running_at + 20_000 {
        assert_eq!(sim.state("s1"), Some(UpdateState::Updating));
        sim.step();
    }
    sim.step();
    assert_eq!(sim.state("s1"), Some(UpdateState::Completed));
    assert_eq!(next_wakeup(&sim.store, Timestamp(sim.now)), None, "nothing waits once completed");
}

#[test]
fn a_spec_change_that_leaves_tasks_current_starts_no_update() {
    let mut sim = running_web(2, |_| {});
    sim.update("s1", |spec| spec.mode = ServiceMode::Replicated { replicas: 4 });
    sim.settle("s1");
    assert_eq!(sim.status("s1"), None);
    assert_eq!(sim.wanted_images("s1"), ["bb:1"; 4]);
}

// ---------------------------------------------------------------------------------------------------------------
// Start-first

#[test]
fn start_first_keeps_every_replica_running_and_at_most_parallelism_extra() {
    for (replicas, parallelism) in [(5, 2), (3, 1), (4, 0), (2, 5)] {
        let label = format!("replicas {replicas} parallelism {parallelism}");
        let mut sim = running_web(replicas, |_| {});
        sim.update("s1", |spec| {
            spec.task_template.container_spec.image = "bb:2".into();
            spec.update_config = Some(update_config(parallelism, 1, 2, UpdateOrder::StartFirst));
        });
        let extra = if parallelism == 0 { replicas } else { parallelism.min(replicas) };
        let (mut max_wanted, mut min_running) = (0usize, usize::MAX);
        sim.step_until(
            |sim| sim.state("s1") == Some(UpdateState::Completed),
            |sim| {
                max_wanted = max_wanted.max(sim.wanted("s1").len());
                min_running = min_running.min(sim.running("s1").len());
            },
        );
        assert_eq!(min_running, replicas as usize, "{label}: a replica stopped before its replacement ran");
        assert_eq!(max_wanted, (replicas + extra) as usize, "{label}");
        assert!(sim.all_running("s1"), "{label}");
        assert_eq!(sim.wanted_images("s1"), vec!["bb:2"; replicas as usize], "{label}");
    }
}

/// Slots holding two running tasks at once (a start-first overlap) and the most running tasks in one slot.
fn overlap(sim: &Sim, service_id: &str) -> (usize, usize) {
    let mut per_slot: BTreeMap<u64, usize> = BTreeMap::new();
    for task in sim.running(service_id) {
        *per_slot.entry(task.slot.unwrap_or_default()).or_default() += 1;
    }
    (per_slot.values().filter(|&&n| n > 1).count(), per_slot.values().copied().max().unwrap_or(0))
}

#[test]
fn start_first_overlaps_at_most_parallelism_slots_even_with_slow_stops_and_a_superseding_update() {
    let mut sim = running_web(4, |_| {});
    // Old tasks take three ticks to stop: a slot stays overlapped until then.
    sim.stop_ms = 3 * TICK_MS;
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(1, 0, 1, UpdateOrder::StartFirst));
    });
    let (mut overlapped_max, mut per_slot_max) = (0, 0);
    let mut watch = |sim: &Sim| {
        let (overlapped, per_slot) = overlap(sim, "s1");
        overlapped_max = overlapped_max.max(overlapped);
        per_slot_max = per_slot_max.max(per_slot);
    };
    // Half-way through, a newer update supersedes the first one.
    sim.step_until(
        |sim| sim.running("s1").iter().filter(|t| t.spec.container_spec.image == "bb:2").count() >= 2,
        &mut watch,
    );
    sim.update("s1", |spec| spec.task_template.container_spec.image = "bb:3".into());
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Completed) && sim.all_running("s1"), &mut watch);
    assert_eq!(overlapped_max, 1, "more slots overlapped than the update parallelism allows");
    assert_eq!(per_slot_max, 2, "a slot ran three tasks at once");
    assert_eq!(sim.wanted_images("s1"), vec!["bb:3"; 4]);
}

/// Seed 44 of the orchestration campaign, in miniature: a newer update arrives while a swap of the older one has
/// created its task but no report says it started yet. That slot still holds a window place: its new task may be
/// running already (its report was only late), and the updater then stops one of its two outdated tasks.
#[test]
fn a_superseded_swap_whose_new_task_has_not_reported_yet_keeps_its_window_place() {
    let mut sim = running_web(3, |_| {});
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(2, 0, 1, UpdateOrder::StartFirst));
    });
    sim.decide(); // slots 1 and 2 get their bb:2 tasks, beside their running bb:1 ones
    let new_task = |sim: &Sim, slot: u64, image: &str| {
        let task = sim.tasks("s1").into_iter().find(|t| t.slot == Some(slot) && t.spec.container_spec.image == image);
        task.unwrap_or_else(|| panic!("no {image} task in slot {slot}")).id.clone()
    };
    let (slot1_new, slot2_new) = (new_task(&sim, 1, "bb:2"), new_task(&sim, 2, "bb:2"));
    sim.report(&slot1_new, TaskState::Running, None);
    sim.decide(); // slot 1's bb:1 task is told to stop; it keeps running for now
    sim.update("s1", |spec| spec.task_template.container_spec.image = "bb:3".into());
    sim.decide();
    assert!(
        sim.tasks("s1").iter().all(|task| task.spec.container_spec.image != "bb:3"),
        "both window places are taken (slot 1 stopping, slot 2 mid-swap): no slot may start yet"
    );
    // Slot 2's bb:2 container had started before it was told to stop: its report only arrives now.
    sim.report(&slot2_new, TaskState::Running, None);
    sim.stop_ms = 2 * TICK_MS;
    let mut overlapped_max = 0;
    sim.step_until(
        |sim| sim.state("s1") == Some(UpdateState::Completed) && sim.all_running("s1"),
        |sim| overlapped_max = overlapped_max.max(overlap(sim, "s1").0),
    );
    assert!(overlapped_max <= 2, "{overlapped_max} slots overlapped with parallelism 2");
    assert_eq!(sim.wanted_images("s1"), vec!["bb:3"; 3]);
}

#[test]
fn start_first_old_task_that_fails_mid_swap_is_stopped_not_replaced() {
    let mut sim = running_web(1, |spec| spec.task_template.restart_policy.delay_ns = 0);
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(1, 0, 1, UpdateOrder::StartFirst));
    });
    sim.decide(); // the new task is created and assigned; the old one keeps running
    let wanted = sim.wanted("s1");
    assert_eq!(wanted.len(), 2);
    let old = wanted.iter().find(|task| task.spec.container_spec.image == "bb:1").unwrap().id.clone();
    sim.report(&old, TaskState::Failed, Some("task: non-zero exit (1)".into()));
    sim.decide();
    let wanted = sim.wanted("s1");
    assert_eq!(
        wanted.iter().map(|task| task.spec.container_spec.image.as_str()).collect::<Vec<_>>(),
        ["bb:2"],
        "the failed old task is stopped and the slot keeps only its new task"
    );
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Completed), |_| {});
    assert_eq!(sim.wanted_images("s1"), ["bb:2"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Failures

#[test]
fn a_failure_with_pause_stops_further_batches_until_the_next_update() {
    let mut sim = running_web(5, |_| {});
    sim.bad_images.insert("bb:bad".into());
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:bad".into();
        spec.update_config = Some(update_config(2, 0, 5, UpdateOrder::StopFirst));
    });
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Paused), |_| {});
    let status = sim.status("s1").unwrap();
    let failed: Vec<&Task> =
        sim.tasks("s1").into_iter().filter(|task| task.status.state == TaskState::Failed).collect();
    let named = status.message.strip_prefix("update paused due to failure or early termination of task ").unwrap();
    assert!(failed.iter().any(|task| task.id == named), "{status:?} names no failed task");
    assert_eq!(status.completed_at, None);

    // Paused: no new slot is touched however long we wait (the restart supervisor still restarts the failed ones).
    let touched: BTreeSet<Option<u64>> = sim
        .tasks("s1")
        .into_iter()
        .filter(|task| task.spec.container_spec.image == "bb:bad")
        .map(|task| task.slot)
        .collect();
    assert_eq!(touched.len(), 2, "only the first batch was updated");
    for _ in 0..60 {
        sim.step();
    }
    let still: BTreeSet<Option<u64>> = sim
        .tasks("s1")
        .into_iter()
        .filter(|task| task.spec.container_spec.image == "bb:bad")
        .map(|task| task.slot)
        .collect();
    assert_eq!(still, touched);
    assert_eq!(sim.state("s1"), Some(UpdateState::Paused));
    assert_eq!(sim.running("s1").len(), 3, "the three slots not updated keep running bb:1");

    // The user fixes the image: the update resumes with the new spec and completes.
    sim.update("s1", |spec| spec.task_template.container_spec.image = "bb:3".into());
    assert_eq!(sim.status("s1"), None, "UpdateService resets the status");
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Completed), |_| {});
    assert_eq!(sim.wanted_images("s1"), ["bb:3"; 5]);
}

#[test]
fn failures_within_the_ratio_do_not_stop_the_update() {
    // 1 failed slot of 5 is 0.2, not above a ratio of 0.2 (SwarmKit compares with >).
    let mut sim = running_web(5, |spec| spec.task_template.restart_policy.delay_ns = 0);
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(UpdateConfig {
            max_failure_ratio: FailureRatio(0.2),
            ..update_config(1, 0, 5, UpdateOrder::StopFirst)
        });
    });
    sim.decide();
    let first = sim.wanted("s1").into_iter().find(|task| task.spec.container_spec.image == "bb:2").unwrap().id.clone();
    sim.report(&first, TaskState::Failed, Some("task: non-zero exit (1)".into()));
    sim.step_until(|sim| sim.state("s1") != Some(UpdateState::Updating), |_| {});
    assert_eq!(sim.state("s1"), Some(UpdateState::Completed));
    assert_eq!(sim.wanted_images("s1"), ["bb:2"; 5]);
}

#[test]
fn only_failures_within_the_monitor_window_count() {
    // (seconds after it started running that the first new task fails, the update's outcome); monitor is 2s.
    let cases =
        [(0, UpdateState::Paused), (1, UpdateState::Paused), (2, UpdateState::Paused), (3, UpdateState::Completed)];
    for (fail_after_s, outcome) in cases {
        let mut sim = running_web(3, |_| {});
        sim.update("s1", |spec| {
            spec.task_template.container_spec.image = "bb:2".into();
            spec.update_config = Some(update_config(1, 10, 2, UpdateOrder::StopFirst));
        });
        sim.step(); // slot 1 is replaced
        sim.step(); // its old task stops and the new one is told to run
        sim.step(); // its new task runs
        let new = sim.wanted("s1").into_iter().find(|task| task.slot == Some(1)).unwrap().clone();
        assert_eq!(new.spec.container_spec.image, "bb:2");
        let running_since = new.running_since.expect("running");
        sim.now = running_since.as_millis() + fail_after_s * 1000;
        sim.report(&new.id, TaskState::Failed, Some("task: non-zero exit (1)".into()));
        sim.step_until(|sim| sim.state("s1") != Some(UpdateState::Updating), |_| {});
        assert_eq!(sim.state("s1"), Some(outcome), "failure {fail_after_s}s after running");
        if outcome == UpdateState::Paused {
            let message = sim.status("s1").unwrap().message;
            assert_eq!(message, format!("update paused due to failure or early termination of task {}", new.id));
        }
    }
}

#[test]
fn continue_ignores_failures() {
    let mut sim = running_web(3, |spec| spec.task_template.restart_policy.delay_ns = 0);
    sim.bad_images.insert("bb:bad".into());
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:bad".into();
        spec.update_config = Some(UpdateConfig {
            failure_action: FailureAction::Continue,
            ..update_config(1, 0, 1, UpdateOrder::StopFirst)
        });
    });
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Completed), |_| {});
    assert_eq!(sim.wanted_images("s1"), ["bb:bad"; 3], "every slot was updated despite the failures");
}

#[test]
fn a_failure_with_rollback_restores_the_previous_spec_and_completes_as_rollback_completed() {
    let mut sim = running_web(4, |_| {});
    sim.bad_images.insert("bb:bad".into());
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:bad".into();
        spec.mode = ServiceMode::Replicated { replicas: 6 };
        // The two new slots (5, 6) take two places of the window; slot 1 takes the third.
        spec.update_config = Some(UpdateConfig {
            failure_action: FailureAction::Rollback,
            ..update_config(3, 0, 5, UpdateOrder::StopFirst)
        });
        spec.rollback_config = Some(update_config(2, 0, 3, UpdateOrder::StopFirst));
    });
    let started = sim.now;
    sim.decide();
    let bad_slots: BTreeSet<Option<u64>> = sim
        .wanted("s1")
        .iter()
        .filter(|task| task.spec.container_spec.image == "bb:bad")
        .map(|task| task.slot)
        .collect();
    assert_eq!(bad_slots, BTreeSet::from([Some(1), Some(5), Some(6)]));
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::RollbackStarted), |_| {});
    let status = sim.status("s1").unwrap();
    assert!(
        status.message.starts_with("update rolled back due to failure or early termination of task "),
        "{status:?}"
    );
    assert_eq!(status.started_at, Some(Timestamp(started)), "an automatic rollback keeps the update's start");
    let service = sim.service("s1");
    assert_eq!(service.spec.task_template.container_spec.image, "bb:1");
    assert_eq!(service.spec.mode, ServiceMode::Replicated { replicas: 4 }, "the previous spec's replicas too");
    assert_eq!(service.previous_spec, None, "the only previous spec was used up");

    sim.step_until(
        |sim| sim.state("s1") == Some(UpdateState::RollbackCompleted),
        |sim| sim.assert_one_wanted_per_slot("s1"),
    );
    let status = sim.status("s1").unwrap();
    assert_eq!(status.message, "rollback completed");
    assert!(status.completed_at.is_some());
    sim.settle("s1");
    assert_eq!(sim.wanted_images("s1"), ["bb:1"; 4]);
    for _ in 0..20 {
        sim.step();
    }
    assert_eq!(sim.state("s1"), Some(UpdateState::RollbackCompleted), "nothing more happens");
}

#[test]
fn a_failing_rollback_pauses_as_rollback_paused() {
    let mut sim = running_web(3, |_| {});
    sim.update("s1", |spec| spec.task_template.container_spec.image = "bb:2".into());
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Completed), |_| {});
    // bb:1 is broken now (say its registry tag was overwritten): rolling back to it fails.
    sim.bad_images.insert("bb:1".into());
    sim.rollback("s1").unwrap();
    let status = sim.status("s1").unwrap();
    assert_eq!((status.state, status.message.as_str()), (UpdateState::RollbackStarted, "manually requested rollback"));
    assert_eq!(status.started_at, Some(Timestamp(sim.now)));
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::RollbackPaused), |_| {});
    let message = sim.status("s1").unwrap().message;
    assert!(message.starts_with("rollback paused due to failure or early termination of task "), "{message}");
}

// ---------------------------------------------------------------------------------------------------------------
// Rollback command

#[test]
fn rollback_twice_goes_back_two_specs_then_is_rejected() {
    let mut sim = running_web(2, |_| {});
    for image in ["bb:2", "bb:3"] {
        sim.update("s1", |spec| spec.task_template.container_spec.image = image.into());
        sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Completed), |_| {});
    }
    for (image, previous) in [("bb:2", Some("bb:1")), ("bb:1", None)] {
        let version = sim.service("s1").version;
        assert_eq!(
            sim.rollback("s1"),
            Ok(Outcome::Updated { kind: ObjectKind::Service, id: "s1".into(), version: version.next() })
        );
        let service = sim.service("s1");
        assert_eq!(service.spec.task_template.container_spec.image, image);
        assert_eq!(
            service.previous_spec.as_ref().map(|spec| spec.task_template.container_spec.image.as_str()),
            previous
        );
        sim.step_until(|sim| sim.state("s1") == Some(UpdateState::RollbackCompleted), |_| {});
        assert_eq!(sim.wanted_images("s1"), [image; 2]);
    }
    let rejection = sim.rollback("s1").unwrap_err();
    assert_eq!(rejection, Rejection::NoPreviousSpec { id: "s1".into() });
    assert_eq!(rejection.to_string(), "service s1 does not have a previous spec");
}

#[test]
fn a_new_service_has_nothing_to_roll_back_to() {
    let mut sim = Sim::new(&["n1"]);
    sim.create("s1", web(1));
    assert_eq!(sim.rollback("s1"), Err(Rejection::NoPreviousSpec { id: "s1".into() }));
    let stale = Command::RollbackService { id: "s1".into(), version: Version(7) };
    assert!(matches!(sim.try_run(stale), Err(Rejection::OutOfSequence { .. })));
    assert_eq!(
        sim.try_run(Command::RollbackService { id: "nope".into(), version: Version(1) }),
        Err(Rejection::NoSuchService { id: "nope".into() })
    );
}

#[test]
fn the_spec_history_is_bounded_and_rollback_walks_it_back() {
    for updates in [0usize, 1, 2, 5, 6, 7, 12] {
        let mut sim = Sim::new(&["n1"]);
        sim.create("s1", web(1));
        for i in 0..updates {
            sim.update("s1", |spec| spec.task_template.container_spec.image = format!("bb:{}", i + 2));
        }
        let service = sim.service("s1");
        let kept = updates.saturating_sub(1).min(SERVICE_SPEC_HISTORY_MAX);
        assert_eq!(service.spec_history.len(), kept, "{updates} updates");
        let mut expected: Vec<String> = (1..=updates + 1).map(|i| format!("bb:{i}")).collect();
        expected.pop(); // the current spec
        let rollbacks = updates.min(SERVICE_SPEC_HISTORY_MAX + 1);
        for _ in 0..rollbacks {
            sim.rollback("s1").unwrap_or_else(|rejection| panic!("{updates} updates: {rejection}"));
            let image = sim.service("s1").spec.task_template.container_spec.image.clone();
            assert_eq!(Some(image), expected.pop(), "{updates} updates");
        }
        assert_eq!(sim.rollback("s1"), Err(Rejection::NoPreviousSpec { id: "s1".into() }), "{updates} updates");
    }
}

#[test]
fn rolling_back_a_job_changes_its_spec_without_an_update() {
    let mut sim = Sim::new(&["n1"]);
    sim.create("j1", ServiceSpec::replicated_job("batch", "bb:1", 1, 1));
    sim.update("j1", |spec| spec.task_template.container_spec.image = "bb:2".into());
    sim.rollback("j1").unwrap();
    assert_eq!(sim.service("j1").spec.task_template.container_spec.image, "bb:1");
    assert_eq!(sim.status("j1"), None);
}

// ---------------------------------------------------------------------------------------------------------------
// Leader changes, restarts, global services

/// The bb:2 batches (creation time, slots) and completion time of a 4-replica update with parallelism 1 and a 5s
/// delay; with `handover_after` steps, a new leader (rebuilt from a snapshot, other task ids) takes over then.
fn update_run(handover_after: Option<usize>) -> (Vec<(u64, Vec<String>)>, Option<Timestamp>) {
    let mut sim = running_web(4, |_| {});
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(1, 5, 3, UpdateOrder::StopFirst));
    });
    for step in 0.. {
        if Some(step) == handover_after {
            assert_eq!(sim.state("s1"), Some(UpdateState::Updating), "handover happens mid-update");
            sim = sim.new_leader();
        }
        if sim.state("s1") == Some(UpdateState::Completed) {
            break;
        }
        assert!(step < STEPS_MAX, "update never completed");
        sim.step();
        sim.assert_one_wanted_per_slot("s1");
    }
    (sim.batches("s1", "bb:2"), sim.status("s1").unwrap().completed_at)
}

#[test]
fn a_new_leader_continues_an_update_where_the_old_one_stopped() {
    let uninterrupted = update_run(None);
    assert_eq!(uninterrupted.0.len(), 4);
    for handover_after in [1, 2, 3, 7, 8, 12] {
        assert_eq!(update_run(Some(handover_after)), uninterrupted, "handover after {handover_after} steps");
    }
}

#[test]
fn a_failed_old_task_restarted_with_the_new_spec_is_not_counted_as_a_failure() {
    let mut sim = running_web(3, |spec| spec.task_template.restart_policy.delay_ns = 0);
    sim.update("s1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(1, 30, 5, UpdateOrder::StopFirst));
    });
    sim.step(); // slot 1 replaced
    sim.step(); // its old task stops and the new one is told to run
    sim.step(); // its task runs; the 30s delay holds slot 2 and 3
    let old = sim.wanted("s1").into_iter().find(|task| task.slot == Some(3)).unwrap().clone();
    assert_eq!(old.spec.container_spec.image, "bb:1");
    sim.report(&old.id, TaskState::Failed, Some("task: non-zero exit (1)".into()));
    sim.decide();
    let slot3 = sim.wanted("s1").into_iter().find(|task| task.slot == Some(3)).unwrap().clone();
    assert_eq!(slot3.spec.container_spec.image, "bb:2", "the restart supervisor used the current template");
    assert_eq!(sim.state("s1"), Some(UpdateState::Updating), "an old task's failure is not the update's");
    sim.step_until(|sim| sim.state("s1") == Some(UpdateState::Completed), |sim| sim.assert_one_wanted_per_slot("s1"));
    assert_eq!(sim.wanted_images("s1"), ["bb:2"; 3]);
}

#[test]
fn a_global_service_updates_node_by_node() {
    let mut sim = Sim::new(&["n1", "n2", "n3"]);
    sim.create("g1", ServiceSpec::global("agent", "bb:1"));
    sim.settle("g1");
    sim.update("g1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(1, 0, 2, UpdateOrder::StopFirst));
    });
    sim.step_until(|sim| sim.state("g1") == Some(UpdateState::Completed), |sim| sim.assert_one_wanted_per_slot("g1"));
    let batches = sim.batches("g1", "bb:2");
    let nodes: Vec<Vec<String>> = batches.into_iter().map(|(_, nodes)| nodes).collect();
    assert_eq!(nodes, [vec!["n1".to_string()], vec!["n2".to_string()], vec!["n3".to_string()]]);
    let per_node: BTreeMap<String, String> = sim
        .wanted("g1")
        .iter()
        .map(|task| (task.node_id.clone().unwrap(), task.spec.container_spec.image.clone()))
        .collect();
    assert_eq!(per_node.values().collect::<Vec<_>>(), ["bb:2", "bb:2", "bb:2"]);
}

#[test]
fn a_global_task_on_a_paused_node_waits() {
    let mut sim = Sim::new(&["n1", "n2"]);
    sim.create("g1", ServiceSpec::global("agent", "bb:1"));
    sim.settle("g1");
    let node = sim.store.node("n2").unwrap().clone();
    let spec = NodeSpec { availability: NodeAvailability::Pause, ..node.spec.clone() };
    sim.run(Command::UpdateNode { id: "n2".into(), version: node.version, spec });
    sim.update("g1", |spec| {
        spec.task_template.container_spec.image = "bb:2".into();
        spec.update_config = Some(update_config(0, 0, 1, UpdateOrder::StopFirst));
    });
    sim.step_until(|sim| sim.state("g1") == Some(UpdateState::Completed), |_| {});
    let per_node: BTreeMap<String, String> = sim
        .wanted("g1")
        .iter()
        .map(|task| (task.node_id.clone().unwrap(), task.spec.container_spec.image.clone()))
        .collect();
    assert_eq!(per_node, BTreeMap::from([("n1".into(), "bb:2".into()), ("n2".into(), "bb:1".into())]));
}

#[test]
fn jobs_are_never_rolling_updated() {
    let mut sim = Sim::new(&["n1"]);
    sim.create("j1", ServiceSpec::replicated_job("batch", "bb:1", 2, 4));
    sim.decide();
    sim.update("j1", |spec| spec.task_template.container_spec.image = "bb:2".into());
    for _ in 0..5 {
        sim.step();
    }
    assert_eq!(sim.status("j1"), None);
}

#[test]
fn update_status_commands_are_checked() {
    let mut sim = running_web(1, |_| {});
    let status = |state, completed_at: Option<u64>| UpdateStatus {
        state,
        started_at: Some(Timestamp(T0)),
        completed_at: completed_at.map(Timestamp),
        message: "x".into(),
    };
    let cases: Vec<(UpdateStatus, Result<(), &str>)> = vec![
        (status(UpdateState::Updating, None), Ok(())),
        (status(UpdateState::Completed, Some(T0 + 5)), Ok(())),
        (
            status(UpdateState::Paused, Some(T0 + 5)),
            Err("completed_at must be set exactly when the state is completed or rollback_completed"),
        ),
        (
            status(UpdateState::RollbackCompleted, None),
            Err("completed_at must be set exactly when the state is completed or rollback_completed"),
        ),
        (status(UpdateState::Completed, Some(T0 - 1)), Err("completed_at is before started_at")),
        (UpdateStatus { message: "m".repeat(TEXT_LEN_MAX + 1), ..status(UpdateState::Updating, None) }, Err("limit")),
    ];
    for (status, want) in cases {
        let before = sim.store.encode_snapshot();
        let got = sim.try_run(Command::SetServiceUpdateStatus { id: "s1".into(), status: status.clone() });
        match (want, got) {
            (Ok(()), Ok(_)) => assert_eq!(sim.status("s1"), Some(status.clone())),
            (Err("limit"), Err(Rejection::LimitExceeded { limit: Limit::TextLength, .. })) => {}
            (Err(reason), Err(Rejection::InvalidUpdateStatus { reason: got })) => assert_eq!(got, reason),
            (want, got) => panic!("{status:?}: want {want:?}, got {got:?}"),
        }
        if sim.status("s1") != Some(status.clone()) {
            assert_eq!(sim.store.encode_snapshot(), before, "a rejected status changed the store");
        }
    }
    let unchanged = sim.try_run(Command::SetServiceUpdateStatus {
        id: "s1".into(),
        status: status(UpdateState::Completed, Some(T0 + 5)),
    });
    assert_eq!(unchanged, Ok(Outcome::Unchanged));
    let names: Vec<&str> = UpdateState::ALL.iter().map(|state| state.as_str()).collect();
    assert_eq!(
        names,
        ["updating", "paused", "completed", "rollback_started", "rollback_paused", "rollback_completed"],
        "Docker's UpdateStatus.State names"
    );
}
