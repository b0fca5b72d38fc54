//! Slots and restart verdicts, shared by every orchestrator. A slot is SwarmKit's unit of identity: one replica
//! number of a replicated service (or job), or one node of a global service (or job); its tasks are the successive
//! attempts at it, oldest first. Everything here is a pure function of stored task data (states, specs, creation
//! times, status timestamps), never of `now` or of memory kept between runs, so a new leader reaches the same
//! verdicts as the old one and re-running an orchestrator on its own output changes nothing.

use std::collections::BTreeMap;

use crate::model::{Node, NodeAvailability, NodeState, Service, ServiceMode, Task, TaskState, Timestamp};
use crate::spec::{Constraint, RestartCondition, TaskSpec};
use crate::store::Store;

/// Nanoseconds per millisecond (durations in specs are nanoseconds, timestamps milliseconds).
const NANOS_PER_MILLI: u64 = 1_000_000;

/// The task is still wanted: its desired state is at most `Running` (services) or `Complete` (jobs), i.e. nobody
/// has told it to stop. SwarmKit's "runnable" test (`DesiredState <= TaskStateCompleted`). A task held at desired
/// `Ready` by the start gate is wanted too: it holds its slot, is scheduled and prepared.
pub(crate) fn is_active(task: &Task) -> bool {
    task.desired_state <= TaskState::Complete
}

/// A rolling update is swapping the slot start-first: `task` runs an outdated spec (not `template`) and another
/// wanted task of its slot (`group`) runs `template`. Such a task is never replaced: the other task holds the
/// slot, so when it ends or must leave its node it is only told to stop.
pub(crate) fn is_superseded(task: &Task, group: &[&Task], template: &TaskSpec) -> bool {
    task.spec != *template
        && group.iter().any(|other| other.id != task.id && is_active(other) && other.spec == *template)
}

/// The task ended by itself (exit 0, non-zero exit, or could not start), as opposed to being stopped, orphaned or
/// removed. Only such endings are judged by the restart condition; any other ending of a wanted task is replaced.
pub(crate) fn ended_on_its_own(state: TaskState) -> bool {
    matches!(state, TaskState::Complete | TaskState::Failed | TaskState::Rejected)
}

/// The task may still be running on a node: it was handed to an agent and has not reported an end.
pub(crate) fn may_be_running(task: &Task) -> bool {
    task.status.state >= TaskState::Assigned && !task.status.state.is_terminal()
}

/// The task may still be running on a node that is neither down nor removed: it was handed to an agent, has not
/// reported an end, and its node still exists and is not `Down`. A task started in its slot (or on its node, for
/// global modes) meanwhile must wait at `Ready` (see `start_gate`); a task on a down or removed node no longer
/// holds anything back (its agent will find it unwanted when it comes back, as in SwarmKit).
pub(crate) fn may_run_on_live_node(store: &Store, task: &Task) -> bool {
    may_be_running(task)
        && task
            .node_id
            .as_deref()
            .and_then(|id| store.node(id))
            .is_some_and(|node| node.status.state != NodeState::Down)
}

/// Whether a new task in the slot `group` (its other tasks, in any order) must be created wanting `Ready`: some
/// task of the group may still run on a live node.
pub(crate) fn must_wait(store: &Store, group: &[&Task]) -> bool {
    group.iter().any(|task| may_run_on_live_node(store, task))
}

/// When the task ended, as its reporter observed it: the start of its restart delay and the end of its restart
/// window (SwarmKit uses the status timestamp for both).
pub(crate) fn ended_at(task: &Task) -> Timestamp {
    task.status.timestamp
}

/// Milliseconds in a nanosecond duration, rounded up so that a non-zero duration is never zero.
pub(crate) fn millis(duration_ns: u64) -> u64 {
    duration_ns.div_ceil(NANOS_PER_MILLI)
}

/// Oldest first: by creation time, then id (tasks created by one batch share a creation time).
fn attempt_order(a: &&Task, b: &&Task) -> std::cmp::Ordering {
    (a.created_at, &a.id).cmp(&(b.created_at, &b.id))
}

/// The tasks of a replicated service or job, grouped by slot, each group oldest first. Tasks without a slot
/// (which no orchestrator creates for these modes) are left out.
pub(crate) fn tasks_by_slot<'s>(store: &'s Store, service_id: &str) -> BTreeMap<u64, Vec<&'s Task>> {
    let mut slots: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for task in store.tasks_of_service(service_id) {
        if let Some(slot) = task.slot {
            slots.entry(slot).or_default().push(task);
        }
    }
    for group in slots.values_mut() {
        group.sort_by(attempt_order);
    }
    slots
}

/// The tasks of a global service or job, grouped by node, each group oldest first. Tasks without a node (which
/// no orchestrator creates for these modes) are left out.
pub(crate) fn tasks_by_node<'s>(store: &'s Store, service_id: &str) -> BTreeMap<&'s str, Vec<&'s Task>> {
    let mut nodes: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for task in store.tasks_of_service(service_id) {
        if let Some(node_id) = task.node_id.as_deref() {
            nodes.entry(node_id).or_default().push(task);
        }
    }
    for group in nodes.values_mut() {
        group.sort_by(attempt_order);
    }
    nodes
}

/// The slot groups of any service: by slot for replicated modes, by node for global ones.
pub(crate) fn groups<'s>(store: &'s Store, service_id: &str, mode: ServiceMode) -> Vec<Vec<&'s Task>> {
    if is_global(mode) {
        tasks_by_node(store, service_id).into_values().collect()
    } else {
        tasks_by_slot(store, service_id).into_values().collect()
    }
}

pub(crate) fn is_global(mode: ServiceMode) -> bool {
    matches!(mode, ServiceMode::Global | ServiceMode::GlobalJob)
}

/// What the restart policy says about a wanted task that has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A job task that completed: it is done, never restarted.
    Finished,
    /// Replace it in its slot (after the restart delay).
    Restart,
    /// The policy forbids a replacement: the slot stays as it is.
    GiveUp,
}

/// The restart policy's verdict on `task` (which has ended), given the other attempts at its slot (`group`, oldest
/// first, containing `task`). Follows SwarmKit's `shouldRestart`: a completed job task is finished; condition
/// `none` never restarts; `on-failure` restarts anything but a completion; `any` restarts everything; and with
/// `max_attempts > 0`, at most that many restarts of the slot fall within the window before the task ended.
/// Endings the task did not cause itself (shut down, orphaned, removed while still wanted) are always replaced.
pub(crate) fn verdict(task: &Task, group: &[&Task], job: bool) -> Verdict {
    let state = task.status.state;
    if job && state == TaskState::Complete {
        return Verdict::Finished;
    }
    if !ended_on_its_own(state) {
        return Verdict::Restart;
    }
    let policy = &task.spec.restart_policy;
    match policy.condition {
        RestartCondition::None => return Verdict::GiveUp,
        RestartCondition::OnFailure if state == TaskState::Complete => return Verdict::GiveUp,
        RestartCondition::OnFailure | RestartCondition::Any => {}
    }
    if policy.max_attempts == 0 || restarts_before(task, group) < policy.max_attempts {
        Verdict::Restart
    } else {
        Verdict::GiveUp
    }
}

/// Restarts of `task`'s slot that count against its `max_attempts`: the attempts with the same spec as `task`
/// (a new spec starts a fresh count, as SwarmKit's spec version does), except the first of them, created no later
/// than `task` and, with a non-zero window, after `ended_at(task) - window`. The task reaper keeps at least
/// `max_attempts + 1` tasks per slot, so reaping never lowers a count that has reached the limit.
pub(crate) fn restarts_before(task: &Task, group: &[&Task]) -> u64 {
    let window_ms = millis(task.spec.restart_policy.window_ns);
    let lookback = (window_ms > 0).then(|| ended_at(task).as_millis().saturating_sub(window_ms));
    let own_order = (task.created_at, &task.id);
    let count = group
        .iter()
        .filter(|attempt| attempt.spec == task.spec)
        .skip(1)
        .filter(|attempt| (attempt.created_at, &attempt.id) <= own_order)
        .filter(|attempt| lookback.is_none_or(|lookback| attempt.created_at.as_millis() > lookback))
        .count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// How a slot stands, for counting replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Some task of the slot is still wanted.
    Active,
    /// No task is wanted and the newest one was stopped because the restart policy forbade a replacement. The slot
    /// still counts as a replica (as in SwarmKit), so the orchestrator does not bring it back behind the policy's
    /// back.
    GivenUp,
    /// Nothing holds the slot: it is empty, removed (scale-down), or its newest task was stopped for another
    /// reason (a drained node, a constraint) and may be recreated.
    Vacant,
}

/// The state of one slot group (oldest first).
pub(crate) fn slot_state(group: &[&Task], job: bool) -> SlotState {
    if group.iter().any(|task| is_active(task)) {
        return SlotState::Active;
    }
    match group.last() {
        Some(newest)
            if newest.desired_state == TaskState::Shutdown && verdict(newest, group, job) == Verdict::GiveUp =>
        {
            SlotState::GivenUp
        }
        _ => SlotState::Vacant,
    }
}

/// SwarmKit's `InvalidNode`: tasks must leave a node that is gone, down or drained.
pub(crate) fn node_is_invalid(node: Option<&Node>) -> bool {
    node.is_none_or(|node| node.status.state == NodeState::Down || node.spec.availability == NodeAvailability::Drain)
}

/// The placement constraints of a task template, parsed once per service. A template that does not parse (which
/// validation prevents) matches no node.
pub(crate) struct Constraints(Option<Vec<Constraint>>);

impl Constraints {
    pub(crate) fn of(spec: &TaskSpec) -> Constraints {
        Constraints(Constraint::parse_all(&spec.placement.constraints).ok())
    }

    pub(crate) fn match_node(&self, node: &Node) -> bool {
        self.0.as_deref().is_some_and(|constraints| Constraint::all_match(constraints, node))
    }
}

/// Whether a global service (or a restarted global job task) may start a new task on `node`: the node is active
/// (not paused, not drained), not down, and meets the placement constraints. SwarmKit's global orchestrator does
/// not filter on platform (the scheduler does).
pub(crate) fn accepts_global_task(node: &Node, constraints: &Constraints) -> bool {
    node.spec.availability == NodeAvailability::Active
        && node.status.state != NodeState::Down
        && constraints.match_node(node)
}

/// Whether `task` runs an outdated spec: its spec differs from its service's current task template, or the ports
/// its container publishes differ from the service's (host-mode ports are bound by the task). The rolling
/// updater replaces dirty tasks; a replacement made by the restart supervisor always gets the current template.
pub fn is_dirty(service: &Service, task: &Task) -> bool {
    task.spec != service.spec.task_template || task.endpoint.ports != service.spec.endpoint_spec.ports
}

/// The desired state of a task of `service` that may run: `Running`, or `Complete` for jobs.
pub(crate) fn run_state(service: &Service) -> TaskState {
    if service.spec.mode.is_job() {
        TaskState::Complete
    } else {
        TaskState::Running
    }
}
