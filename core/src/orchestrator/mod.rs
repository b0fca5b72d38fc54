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
mod plan;
mod reaper;
mod replicated;
mod restart;
mod slot;
mod start_gate;
mod update;

use crate::command::Command;
use crate::model::Timestamp;
use crate::stages::run_stages_until_settled;
use crate::store::Store;

pub use global::global_orchestrator;
pub use jobs::job_orchestrator;
pub use plan::{IdSource, SequentialIds};
pub use reaper::task_reaper;
pub use replicated::replicated_orchestrator;
pub use restart::{next_restart_wakeup, restart_supervisor};
pub use slot::is_dirty;
pub use start_gate::start_gate;
pub use update::{
    next_update_wakeup, rolling_updater, ROLLBACK_COMPLETED_MESSAGE, UPDATE_COMPLETED_MESSAGE,
    UPDATE_IN_PROGRESS_MESSAGE,
};

/// Most passes `reconcile` makes over its stages before giving up on a fixpoint (a rollback needs three).
pub const RECONCILE_PASSES_MAX: usize = 4;

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
