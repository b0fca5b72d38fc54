//! The orchestrators: SwarmKit's replicated, global and job orchestrators, rolling updater, restart supervisor and
//! task reaper, as pure functions from committed state to the commands the leader should propose. They own the task
//! model's life cycle: which slots exist, when a task is replaced, when it is told to stop, when its history is
//! deleted, and how a spec change rolls out (or back).
//! The invariants: nothing here reads a clock or draws an id on its own (`now` and an `IdSource` come in);
//! every function is deterministic (ordered maps only); every returned command is a `Command::Batch` within the
//! store's limits that applies to the store it was computed from; and `reconcile` is idempotent: run again on
//! the store after its own commands are applied (at the same `now`), it returns nothing.
//!
//! Desired states, as SwarmKit sets them: new service tasks want `Running`, new job tasks want `Complete`, except that
//! a task created in a slot (on a node, for global modes) where another task may still run on a live node wants `Ready`
//! until that one has stopped (`start_gate`; start-first updates excepted); a task replaced by the restart supervisor,
//! given up on by its restart policy, or on a node a global service leaves, wants `Shutdown`; the tasks of a slot
//! removed by scale-down want `Remove`, and the reaper deletes them once they have stopped (or at once if they were
//! never assigned). New tasks start in observed state `New` with message "created"; the allocator and scheduler take
//! them on from there (global tasks are created already bound to their node). A task is "dirty" when its spec differs
//! from its service's task template (`is_dirty`): the rolling updater (`update`) replaces dirty tasks slot by slot; the
//! other orchestrators create tasks with the current template only and leave dirty tasks to it.
//!
//! Stage order in `reconcile`, and why it is idempotent: the slot creators (replicated, global, jobs) run first, so the
//! updater never spends its parallelism on a slot that scale-down just removed and never sees a new slot as out of
//! date; the updater runs before the restart supervisor, so it sees a failed new task before its replacement exists and
//! replaces failed dirty tasks with the new spec itself; the start gate runs after every stage that creates tasks, so
//! it sees each new `Ready` task with the tasks it waits for; the reaper runs last. One pass is not always a fixpoint,
//! because the updater can change a spec (an automatic rollback) that the earlier stages then act on (the previous spec
//! may have other replicas or constraints). So `reconcile` repeats the passes until one proposes nothing
//! (`stages::run_stages_until_settled`, at most `RECONCILE_PASSES_MAX`; a rollback settles in three: roll back, act on
//! the old spec, nothing left), which makes its output a fixpoint by construction.

mod global;
mod jobs;
mod reaper;
mod replicated;
mod restart;
mod slot;
mod start_gate;
mod update;

use std::collections::BTreeSet;

use crate::command::Command;
use crate::limits::{BATCH_BYTES_BUDGET, BATCH_COMMANDS_MAX, TASKS_PER_BATCH_MAX};
use crate::model::{Service, Task, TaskState, TaskStatus, Timestamp};
use crate::stages::run_stages_until_settled;
use crate::store::Store;

pub use global::global_orchestrator;
pub use jobs::job_orchestrator;
pub use reaper::task_reaper;
pub use replicated::replicated_orchestrator;
pub use restart::{next_restart_wakeup, restart_supervisor};
pub use start_gate::start_gate;
pub use update::{
    next_update_wakeup, rolling_updater, ROLLBACK_COMPLETED_MESSAGE, UPDATE_COMPLETED_MESSAGE,
    UPDATE_IN_PROGRESS_MESSAGE,
};

/// Most passes `reconcile` makes over its stages before giving up on a fixpoint (a rollback needs three).
pub const RECONCILE_PASSES_MAX: usize = 4;

/// Where new task ids come from. The runtime passes a seeded random source (Docker-style 25-character base36
/// ids); tests pass `SequentialIds`. An id that already names a task is skipped.
pub trait IdSource {
    fn next_id(&mut self) -> String;
}

/// A deterministic `IdSource`: `prefix1`, `prefix2`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequentialIds {
    prefix: String,
    issued: u64,
}

impl SequentialIds {
    pub fn new(prefix: impl Into<String>) -> SequentialIds {
        SequentialIds { prefix: prefix.into(), issued: 0 }
    }
}

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> String {
        self.issued += 1;
        format!("{}{}", self.prefix, self.issued)
    }
}

/// Runs every orchestrator in order over the committed `store`: replicated, global, jobs, rolling updater, restart
/// supervisor, start gate, task reaper, in passes until a pass proposes nothing (see the module notes). Each one sees
/// the state left by the previous ones (their commands are applied to a scratch copy, made only when some stage has
/// work), so their decisions never conflict and the whole is idempotent. Returns the batches to propose, in order, each
/// with this `now`.
pub fn reconcile(store: &Store, now: Timestamp, ids: &mut dyn IdSource) -> Vec<Command> {
    if !store.is_initialized() {
        return Vec::new();
    }
    let ids = std::cell::RefCell::new(ids);
    run_stages_until_settled(
        store,
        now,
        RECONCILE_PASSES_MAX,
        &mut [
            &mut |s: &Store| replicated_orchestrator(s, now, &mut **ids.borrow_mut()),
            &mut |s: &Store| global_orchestrator(s, now, &mut **ids.borrow_mut()),
            &mut |s: &Store| job_orchestrator(s, now, &mut **ids.borrow_mut()),
            &mut |s: &Store| rolling_updater(s, now, &mut **ids.borrow_mut()),
            &mut |s: &Store| restart_supervisor(s, now, &mut **ids.borrow_mut()),
            &mut |s: &Store| start_gate(s),
            &mut |s: &Store| task_reaper(s),
        ],
    )
}

/// The earliest time after `now` at which some orchestrator has a wait ending (a restart delay, an update delay
/// or monitor window): the leader should run `reconcile` again then. `None` when nothing waits on the clock.
pub fn next_wakeup(store: &Store, now: Timestamp) -> Option<Timestamp> {
    [next_restart_wakeup(store, now), next_update_wakeup(store, now)].into_iter().flatten().min()
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

/// One orchestrator run's output being built: fresh ids, new tasks, and the packing of atomic units of work into
/// batches.
pub(crate) struct Plan<'a> {
    store: &'a Store,
    now: Timestamp,
    ids: &'a mut dyn IdSource,
    issued: BTreeSet<String>,
    batches: Batches,
}

impl<'a> Plan<'a> {
    pub(crate) fn new(store: &'a Store, now: Timestamp, ids: &'a mut dyn IdSource) -> Plan<'a> {
        Plan { store, now, ids, issued: BTreeSet::new(), batches: Batches::default() }
    }

    /// A new task for `service`: in `slot` (replicated modes) or bound to `node_id` (global modes), observed `New`,
    /// with the service's current task template. `group` is the slot's (or node's) existing tasks: while one of
    /// them may still run on a live node (`slot::must_wait`) the new task wants `Ready`, and `start_gate` promotes
    /// it later; otherwise it wants `run_state` (`Running`, or `Complete` for jobs) at once.
    pub(crate) fn new_task(
        &mut self,
        service: &Service,
        slot: Option<u64>,
        node_id: Option<&str>,
        group: &[&Task],
    ) -> Task {
        let id = self.fresh_id();
        let mut task = Task::new(id, service.id.clone(), slot, service.spec.task_template.clone());
        task.service_name = service.spec.name.clone();
        task.endpoint = service.spec.endpoint_spec.clone();
        task.node_id = node_id.map(str::to_string);
        task.desired_state = if slot::must_wait(self.store, group) { TaskState::Ready } else { run_state(service) };
        task.status = TaskStatus {
            state: TaskState::New,
            timestamp: self.now,
            message: "created".to_string(),
            err: None,
            container_id: None,
        };
        task
    }

    fn fresh_id(&mut self) -> String {
        const ATTEMPTS_MAX: u32 = 1000;
        for _ in 0..ATTEMPTS_MAX {
            let id = self.ids.next_id();
            if self.store.task(&id).is_none() && self.issued.insert(id.clone()) {
                return id;
            }
        }
        panic!("IdSource returned {ATTEMPTS_MAX} ids in a row that are already in use");
    }

    pub(crate) fn create(&mut self, task: Task) {
        self.batches.add(Vec::new(), vec![task], Vec::new());
    }

    /// Tells `task` to move to `desired` (never backward: a task already past it is left alone).
    pub(crate) fn set_desired(&mut self, task: &Task, desired: TaskState) {
        if task.desired_state < desired {
            self.batches.add(vec![(task.id.clone(), desired)], Vec::new(), Vec::new());
        }
    }

    /// Stops `old` and creates `new` in the same batch, so no leader change can leave both or neither wanted.
    pub(crate) fn replace(&mut self, old: &Task, new: Task) {
        self.replace_all(&[old], new);
    }

    /// Stops every task of `old` (possibly none) and creates `new`, in the same batch.
    pub(crate) fn replace_all(&mut self, old: &[&Task], new: Task) {
        let stops = old.iter().map(|task| (task.id.clone(), TaskState::Shutdown)).collect();
        self.batches.add(stops, vec![new], Vec::new());
    }

    pub(crate) fn finish(self) -> Vec<Command> {
        self.batches.finish()
    }
}

/// Packs atomic units (desired-state changes, new tasks, removals) into `Command::Batch`es of at most
/// `BATCH_COMMANDS_MAX` commands, each `CreateTasks`/`RemoveTasks` holding at most `TASKS_PER_BATCH_MAX` tasks, and
/// of about `BATCH_BYTES_BUDGET` encoded bytes at most (a single unit larger than that goes alone).
/// A unit never straddles two batches. Each batch is `[SetTaskDesiredState.., CreateTasks, RemoveTasks]`: within
/// one orchestrator's output no task is both changed and removed, so the order inside a batch does not matter.
#[derive(Default)]
struct Batches {
    done: Vec<Command>,
    desired: Vec<(String, TaskState)>,
    creates: Vec<Task>,
    removes: Vec<String>,
    /// The encoded size of what is pending, roughly (ids and tasks; command framing is a few bytes each).
    bytes: usize,
}

/// Framing and state bytes per desired-state change or removal, besides the id.
const COMMAND_OVERHEAD_BYTES: usize = 8;

impl Batches {
    fn add(&mut self, desired: Vec<(String, TaskState)>, creates: Vec<Task>, removes: Vec<String>) {
        let bytes = desired.iter().map(|(id, _)| id.len() + COMMAND_OVERHEAD_BYTES).sum::<usize>()
            + creates
                .iter()
                .map(|task| postcard::experimental::serialized_size(task).unwrap_or(usize::MAX / 4))
                .sum::<usize>()
            + removes.iter().map(|id| id.len() + COMMAND_OVERHEAD_BYTES).sum::<usize>();
        if !self.fits(desired.len(), creates.len(), removes.len(), bytes) {
            self.flush();
        }
        self.desired.extend(desired);
        self.creates.extend(creates);
        self.removes.extend(removes);
        self.bytes += bytes;
    }

    fn fits(&self, desired: usize, creates: usize, removes: usize, bytes: usize) -> bool {
        let creates = self.creates.len() + creates;
        let removes = self.removes.len() + removes;
        let commands = self.desired.len() + desired + usize::from(creates > 0) + usize::from(removes > 0);
        commands <= BATCH_COMMANDS_MAX
            && creates <= TASKS_PER_BATCH_MAX
            && removes <= TASKS_PER_BATCH_MAX
            && self.bytes.saturating_add(bytes) <= BATCH_BYTES_BUDGET
    }

    fn flush(&mut self) {
        self.bytes = 0;
        let mut commands: Vec<Command> = std::mem::take(&mut self.desired)
            .into_iter()
            .map(|(id, desired_state)| Command::SetTaskDesiredState { id, desired_state })
            .collect();
        if !self.creates.is_empty() {
            commands.push(Command::CreateTasks { tasks: std::mem::take(&mut self.creates) });
        }
        if !self.removes.is_empty() {
            commands.push(Command::RemoveTasks { ids: std::mem::take(&mut self.removes) });
        }
        if !commands.is_empty() {
            self.done.push(Command::Batch(commands));
        }
    }

    fn finish(mut self) -> Vec<Command> {
        self.flush();
        self.done
    }
}
