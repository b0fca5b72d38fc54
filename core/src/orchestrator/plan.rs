//! One orchestrator run's output being built: where new task ids come from (`IdSource`), the new tasks themselves,
//! and the packing of atomic units of work (a task replaced, stopped, created or removed) into `Command::Batch`es
//! within the store's limits. A unit never straddles two batches, so no leader change can leave a replaced task and
//! its replacement both wanted or neither.

use std::collections::BTreeSet;

use super::slot::{self, run_state};
use crate::command::Command;
use crate::limits::{BATCH_BYTES_BUDGET, BATCH_COMMANDS_MAX, TASKS_PER_BATCH_MAX};
use crate::model::{Service, Task, TaskState, TaskStatus, Timestamp};
use crate::store::Store;

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
pub(super) struct Batches {
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
    pub(super) fn add(&mut self, desired: Vec<(String, TaskState)>, creates: Vec<Task>, removes: Vec<String>) {
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

    pub(super) fn finish(mut self) -> Vec<Command> {
        self.flush();
        self.done
    }
}
