//! The rolling updater (SwarmKit's `update.Updater`, as users see it): after a spec change, it replaces the wanted
//! tasks that run an outdated spec ("dirty", `is_dirty`) slot by slot, honouring the update config (the rollback config
//! during a rollback), watches the new tasks for failure, applies the failure action, and keeps the service's
//! `update_status` (Docker's `UpdateStatus`) in step. It owns those transitions: `None` → `updating` → `completed` |
//! `paused` | `rollback_started` (automatic rollback, proposed as `RollbackService`), and `rollback_started` →
//! `rollback_completed` | `rollback_paused`. Jobs are never rolling-updated (a job spec change only affects the tasks
//! started afterwards; SwarmKit re-runs the job instead, which is not modelled yet).
//!
//! The invariant: the updater keeps no memory between runs. Progress is read from the store: the status (its
//! `started_at` marks the update), the tasks' specs, creation times, states and `running_since`. "The update's tasks"
//! are the tasks with the current template created at or after `started_at`. So a new leader continues an update
//! exactly where the old one stopped, and a run on its own output proposes nothing.
//!
//! How an update proceeds (SwarmKit's semantics, made stateless):
//! - Window: at most `parallelism` slots (0: all) are in flight at once. A slot is in flight from the moment the
//!   updater replaces its task until the first of the update's tasks in it has reached `Running` (or ended without
//!   running) plus `delay`. As in SwarmKit each place in the window is a worker that moves on to the next out-of-date
//!   slot when its slot frees, so batches of `parallelism` slots start together when their tasks start together.
//!   `monitor` does not gate the next slot (as in SwarmKit): it is the failure window and the final wait; the update
//!   completes `monitor` after the last slot freed and no wanted task is out of date.
//! - `stop-first`: the outdated task is told `Shutdown` and its replacement created in the same batch (as the restart
//!   supervisor does); the replacement wants `Ready` while the outdated task may still run on a live node, and
//!   `start_gate` tells it to run once that task has stopped (SwarmKit's semantics), so the slot stays in flight until
//!   then. `start-first` (the one exception: the overlap is the point): the replacement is created while the outdated
//!   task keeps running, and the outdated task is told `Shutdown` once a current-spec task of the slot is `Running`;
//!   the slot keeps its window place until the outdated task has actually stopped (SwarmKit frees it at once, so slow
//!   stops let more than `parallelism` slots overlap), and a slot never starts a replacement while one of its tasks
//!   is still stopping. When a newer update overtakes a swap, the older outdated task is stopped first,
//!   and the slot keeps its window place throughout (its newer task may have started before any report says so).
//!   Meanwhile the slot holds two wanted tasks; the replicated orchestrator counts the slot once, and the restart
//!   supervisor never replaces the outdated one (`slot::is_superseded`). So a service has at most `replicas +
//!   parallelism` wanted tasks while nothing fails.
//! - Failure: one of the update's tasks that ends on its own (`Complete`, `Failed`, `Rejected`) before it reached
//!   `Running` or within `monitor` of doing so marks its slot failed; a restart of it in the same slot does not count
//!   twice. When failed slots / slots in the update > `max_failure_ratio` (SwarmKit's ratio; its denominator is the
//!   update's size, not the tasks updated so far), the failure action applies: `pause` sets `paused` and starts no more
//!   slots until the next `UpdateService` resets the status; `continue` carries on; `rollback` proposes
//!   `RollbackService` with status `rollback_started` ("update rolled back due to ..."; `started_at` kept), after which
//!   the tasks are rolled back with the rollback config, and a failing rollback pauses as `rollback_paused` (a rollback
//!   is never rolled back). A rollback that cannot apply (no previous spec, or its published ports are now taken)
//!   pauses instead.
//! - Global services update node by node the same way, on nodes that accept the new template (active, up, matching its
//!   constraints); tasks on a paused node wait, as in SwarmKit.
//!
//! Known limits of deriving everything from the store: a failed task the reaper has already deleted (retention limit 0
//! or 1) no longer counts; after a leader change to a manager whose clock is behind the old leader's, tasks created
//! with an earlier time than `started_at` are not recognised as the update's (the window may briefly open wider than
//! `parallelism`, and their failures are not counted).

use crate::command::Command;
use crate::model::{Service, Task, TaskState, Timestamp, UpdateState, UpdateStatus};
use crate::spec::{FailureAction, UpdateConfig, UpdateOrder};
use crate::store::Store;

use super::plan::{IdSource, Plan};
use super::slot::{self, accepts_global_task, ended_at, ended_on_its_own, is_active, is_global, millis, Constraints};
use super::slot::{is_dirty, run_state};

/// The message of a rolling update under way (SwarmKit's wording).
pub const UPDATE_IN_PROGRESS_MESSAGE: &str = "update in progress";
/// The message of a finished rolling update.
pub const UPDATE_COMPLETED_MESSAGE: &str = "update completed";
/// The message of a finished rollback.
pub const ROLLBACK_COMPLETED_MESSAGE: &str = "rollback completed";

fn paused_message(rollback: bool, task_id: &str) -> String {
    let what = if rollback { "rollback" } else { "update" };
    format!("{what} paused due to failure or early termination of task {task_id}")
}

fn rolled_back_message(task_id: &str) -> String {
    format!("update rolled back due to failure or early termination of task {task_id}")
}

/// One slot as the updater sees it: a replica number, or a node for global services.
struct SlotView<'s> {
    /// Every task of the slot, oldest first.
    tasks: Vec<&'s Task>,
    /// The replica number a replacement takes (replicated services).
    number: Option<u64>,
    /// The node a replacement is bound to (global services).
    node_id: Option<&'s str>,
    /// Whether the updater may replace the slot's tasks: always for replicated services; for global ones, when the
    /// node accepts the current template.
    eligible: bool,
    /// A task of the slot that was told to stop may still run on a live node: the slot keeps its place in the
    /// update window until it has stopped, so a start-first update never has more than `parallelism` slots with
    /// two running tasks.
    stopping: bool,
}

fn stopping(store: &Store, tasks: &[&Task]) -> bool {
    tasks.iter().any(|task| !is_active(task) && slot::may_run_on_live_node(store, task))
}

fn slots_of<'s>(store: &'s Store, service: &Service) -> Vec<SlotView<'s>> {
    if is_global(service.spec.mode) {
        let constraints = Constraints::of(&service.spec.task_template);
        slot::tasks_by_node(store, &service.id)
            .into_iter()
            .map(|(node_id, tasks)| {
                let eligible = store.node(node_id).is_some_and(|node| accepts_global_task(node, &constraints));
                let stopping = stopping(store, &tasks);
                SlotView { tasks, number: None, node_id: Some(node_id), eligible, stopping }
            })
            .collect()
    } else {
        slot::tasks_by_slot(store, &service.id)
            .into_iter()
            .map(|(number, tasks)| {
                let stopping = stopping(store, &tasks);
                SlotView { tasks, number: Some(number), node_id: None, eligible: true, stopping }
            })
            .collect()
    }
}

/// When `task` first reached `Running`, or ended without being seen running: the moment SwarmKit's worker stops
/// waiting for it.
fn reached_running_at(task: &Task) -> Option<Timestamp> {
    task.running_since.or_else(|| (task.status.state >= TaskState::Running).then_some(task.status.timestamp))
}

/// `task` ended on its own before it was seen running, or within `monitor_ms` of starting to run.
fn failed_within_monitor(task: &Task, monitor_ms: u64) -> bool {
    ended_on_its_own(task.status.state)
        && task
            .running_since
            .is_none_or(|since| ended_at(task).as_millis() <= since.as_millis().saturating_add(monitor_ms))
}

fn after(at: Timestamp, duration_ms: u64) -> Timestamp {
    Timestamp(at.as_millis().saturating_add(duration_ms))
}

/// What the updater reads from a service's slots for one update.
struct Progress<'a, 's> {
    /// Eligible slots whose wanted tasks all run an outdated spec: still to update, in slot (or node) order.
    to_update: Vec<&'a SlotView<'s>>,
    /// Eligible slots with any wanted outdated task (still to update, or mid start-first swap).
    outdated: usize,
    /// Outdated wanted tasks to stop now: a current-spec task of their slot runs (the end of a start-first swap).
    swaps: Vec<&'s Task>,
    /// For each slot with wanted tasks and tasks of the update: when it frees its place in the window; `None`
    /// while none of the update's tasks in it has reached `Running` (or ended).
    released_at: Vec<Option<Timestamp>>,
    /// Slots where one of the update's tasks failed within its monitor window.
    failed_slots: usize,
    /// Slots with wanted tasks or tasks of the update: the denominator of the failure ratio.
    size: usize,
    /// The most recent failure (by end time, then id): the task the pause or rollback message names.
    latest_failure: Option<&'s Task>,
}

fn progress<'a, 's>(
    service: &Service,
    slots: &'a [SlotView<'s>],
    started_at: Timestamp,
    config: &UpdateConfig,
) -> Progress<'a, 's> {
    let delay_ms = millis(config.delay_ns);
    let monitor_ms = millis(config.monitor_ns);
    let mut progress = Progress {
        to_update: Vec::new(),
        outdated: 0,
        swaps: Vec::new(),
        released_at: Vec::new(),
        failed_slots: 0,
        size: 0,
        latest_failure: None,
    };
    for slot in slots {
        let wanted: Vec<&Task> = slot.tasks.iter().copied().filter(|task| is_active(task)).collect();
        let (outdated, current): (Vec<&Task>, Vec<&Task>) =
            wanted.iter().copied().partition(|task| is_dirty(service, task));
        if !outdated.is_empty() {
            // The newest outdated task that runs, if a start-first swap of an earlier update got it going: the
            // older outdated ones it superseded are stopped before anything else happens in the slot.
            let newest_running_outdated = outdated
                .iter()
                .copied()
                .filter(|task| task.status.state == TaskState::Running)
                .max_by_key(|t| (t.created_at, &t.id));
            if current.iter().any(|task| task.status.state == TaskState::Running) {
                progress.swaps.extend(outdated.iter().copied());
            } else if let (Some(keep), true) = (newest_running_outdated, outdated.len() > 1) {
                progress.swaps.extend(outdated.iter().copied().filter(|task| task.id != keep.id));
            } else if current.is_empty() && slot.eligible && !slot.stopping {
                // A slot with a task still stopping waits: a start-first replacement now would make three.
                progress.to_update.push(slot);
            }
            progress.outdated += usize::from(slot.eligible);
        }
        let update_tasks: Vec<&Task> = slot
            .tasks
            .iter()
            .copied()
            .filter(|task| !is_dirty(service, task) && task.created_at >= started_at)
            .collect();
        if !wanted.is_empty() || !update_tasks.is_empty() {
            progress.size += 1;
        }
        // A slot whose task told to stop still runs beside a wanted one overlaps too, whichever update started the
        // swap: it holds a place in the window until that task has stopped. So does a slot with two wanted tasks (a
        // swap a superseded update began): its newer task may already have started, even if no report says so yet.
        if !wanted.is_empty() && (!update_tasks.is_empty() || slot.stopping || wanted.len() > 1) {
            let reached = update_tasks.iter().filter_map(|task| reached_running_at(task)).min();
            // A start-first slot whose outdated task is only now told to stop (in this very run) is not free either:
            // it stays in the window until that task has stopped, like any `stopping` slot.
            let swapping = !outdated.is_empty();
            let released = if slot.stopping || swapping { None } else { reached.map(|at| after(at, delay_ms)) };
            progress.released_at.push(released);
        }
        let failure = update_tasks
            .iter()
            .copied()
            .filter(|task| failed_within_monitor(task, monitor_ms))
            .max_by(|a, b| (ended_at(a), &a.id).cmp(&(ended_at(b), &b.id)));
        if let Some(failure) = failure {
            progress.failed_slots += 1;
            let later = progress
                .latest_failure
                .is_none_or(|latest| (ended_at(failure), &failure.id) > (ended_at(latest), &latest.id));
            if later {
                progress.latest_failure = Some(failure);
            }
        }
    }
    progress
}

/// What the updater does with one service in one run.
struct Decision<'a, 's> {
    /// Status and spec changes, proposed before the task changes.
    service_commands: Vec<Command>,
    /// Slots to start updating now, and how.
    starts: Vec<&'a SlotView<'s>>,
    order: UpdateOrder,
    /// Outdated tasks to stop (ends of start-first swaps).
    swaps: Vec<&'s Task>,
    /// When this service next needs a run without any store change: a window place frees, or monitoring ends.
    wakeup: Option<Timestamp>,
}

fn set_status(service: &Service, status: UpdateStatus) -> Command {
    Command::Batch(vec![Command::SetServiceUpdateStatus { id: service.id.clone(), status }])
}

fn decide<'a, 's>(store: &Store, service: &Service, slots: &'a [SlotView<'s>], now: Timestamp) -> Decision<'a, 's> {
    let stored = service.update_status.as_ref();
    let rollback = stored.is_some_and(|status| status.state == UpdateState::RollbackStarted);
    let config =
        if rollback { service.spec.effective_rollback_config() } else { service.spec.effective_update_config() };
    let started_at = stored.map_or(now, |status| status.started_at.unwrap_or_default());
    let progress = progress(service, slots, started_at, &config);
    let mut decision = Decision {
        service_commands: Vec::new(),
        starts: Vec::new(),
        order: config.order,
        swaps: progress.swaps.clone(),
        wakeup: None,
    };
    match stored {
        Some(status) if status.state.is_paused() => return decision,
        Some(status) if status.state.is_in_progress() => {
            if let Some(response) = failure_response(store, service, &config, &progress, status) {
                if response.rolls_back {
                    // The spec changes: the next pass decides on the rolled-back spec.
                    decision.swaps.clear();
                }
                decision.service_commands.push(response.command);
                return decision;
            }
        }
        Some(_) => {}
        None => {
            if progress.outdated == 0 {
                return decision;
            }
            let status = UpdateStatus {
                state: UpdateState::Updating,
                started_at: Some(now),
                completed_at: None,
                message: UPDATE_IN_PROGRESS_MESSAGE.to_string(),
            };
            decision.service_commands.push(set_status(service, status));
        }
    }

    let in_flight = progress.released_at.iter().filter(|released| released.is_none_or(|at| now < at)).count();
    let window = match config.parallelism {
        0 => usize::MAX,
        parallelism => usize::try_from(parallelism).unwrap_or(usize::MAX),
    };
    decision.starts = progress.to_update.iter().copied().take(window.saturating_sub(in_flight)).collect();
    if decision.starts.len() < progress.to_update.len() {
        decision.wakeup = progress.released_at.iter().flatten().copied().filter(|at| *at > now).min();
    }

    if let Some(status) = stored.filter(|status| status.state.is_in_progress()) {
        let all_released: Option<Vec<Timestamp>> = progress.released_at.iter().copied().collect();
        if let (0, Some(released)) = (progress.outdated, all_released) {
            let last = released.into_iter().max().unwrap_or(started_at);
            let done_at = after(last, millis(config.monitor_ns));
            if now >= done_at {
                let (state, message) = if rollback {
                    (UpdateState::RollbackCompleted, ROLLBACK_COMPLETED_MESSAGE)
                } else {
                    (UpdateState::Completed, UPDATE_COMPLETED_MESSAGE)
                };
                let completed = UpdateStatus {
                    state,
                    started_at: status.started_at,
                    completed_at: Some(now.max(status.started_at.unwrap_or_default())),
                    message: message.to_string(),
                };
                decision.service_commands.push(set_status(service, completed));
            } else {
                decision.wakeup = Some(decision.wakeup.map_or(done_at, |wakeup| wakeup.min(done_at)));
            }
        }
    }
    decision
}

/// The failure action's command, when too many slots failed.
struct FailureResponse {
    command: Command,
    rolls_back: bool,
}

fn failure_response(
    store: &Store,
    service: &Service,
    config: &UpdateConfig,
    progress: &Progress<'_, '_>,
    status: &UpdateStatus,
) -> Option<FailureResponse> {
    let failed = progress.latest_failure?;
    // In f32, as SwarmKit compares (exact for the slot counts a service can have).
    let ratio = progress.failed_slots as f32 / progress.size.max(1) as f32;
    if ratio <= config.max_failure_ratio.0 {
        return None;
    }
    let rollback = status.state == UpdateState::RollbackStarted;
    let pause = || UpdateStatus {
        state: if rollback { UpdateState::RollbackPaused } else { UpdateState::Paused },
        started_at: status.started_at,
        completed_at: None,
        message: paused_message(rollback, &failed.id),
    };
    match config.failure_action {
        FailureAction::Continue => None,
        FailureAction::Rollback if !rollback && store.check_rollback(&service.id, service.version).is_ok() => {
            let rolling_back = UpdateStatus {
                state: UpdateState::RollbackStarted,
                started_at: status.started_at,
                completed_at: None,
                message: rolled_back_message(&failed.id),
            };
            let command = Command::Batch(vec![
                Command::RollbackService { id: service.id.clone(), version: service.version },
                Command::SetServiceUpdateStatus { id: service.id.clone(), status: rolling_back },
            ]);
            Some(FailureResponse { command, rolls_back: true })
        }
        // A rollback is never rolled back (SwarmKit); one that cannot apply pauses.
        FailureAction::Pause | FailureAction::Rollback => {
            Some(FailureResponse { command: set_status(service, pause()), rolls_back: false })
        }
    }
}

/// Replaces the outdated wanted tasks of `slot` with one task of the current template: stop-first stops them all
/// in the same batch; start-first keeps one serving (a running one if any, else the newest) until the new task
/// runs.
fn start(plan: &mut Plan<'_>, service: &Service, slot: &SlotView<'_>, order: UpdateOrder) {
    let mut stops: Vec<&Task> = slot.tasks.iter().copied().filter(|task| is_active(task)).collect();
    if order == UpdateOrder::StartFirst {
        let kept = stops
            .iter()
            .rposition(|task| task.status.state == TaskState::Running)
            .unwrap_or(stops.len().saturating_sub(1));
        if kept < stops.len() {
            stops.remove(kept);
        }
    }
    let mut replacement = plan.new_task(service, slot.number, slot.node_id, &slot.tasks);
    if order == UpdateOrder::StartFirst {
        // Start-first overlaps on purpose: the replacement runs while the kept task still serves.
        replacement.desired_state = run_state(service);
    }
    plan.replace_all(&stops, replacement);
}

/// Advances the rolling update (or rollback) of every service: status changes first, then one batch per slot
/// replacement (and the ends of start-first swaps).
pub fn rolling_updater(store: &Store, now: Timestamp, ids: &mut dyn IdSource) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut plan = Plan::new(store, now, ids);
    for service in store.services().filter(|service| !service.spec.mode.is_job()) {
        let slots = slots_of(store, service);
        let decision = decide(store, service, &slots, now);
        commands.extend(decision.service_commands);
        for task in decision.swaps {
            plan.set_desired(task, TaskState::Shutdown);
        }
        for slot in decision.starts {
            start(&mut plan, service, slot, decision.order);
        }
    }
    commands.extend(plan.finish());
    commands
}

/// The earliest time after `now` at which some rolling update can move on without any store change (a place in
/// its window frees after `delay`, or its final `monitor` ends), if any update waits on the clock.
pub fn next_update_wakeup(store: &Store, now: Timestamp) -> Option<Timestamp> {
    store
        .services()
        .filter(|service| !service.spec.mode.is_job())
        .filter_map(|service| decide(store, service, &slots_of(store, service), now).wakeup)
        .min()
}
