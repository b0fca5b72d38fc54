//! Runs pure decision stages in order over one committed store, each seeing the state the previous stages'
//! commands would produce: their commands are applied to a scratch copy (made only once some stage has work).
//! Invariant: every command returned applied cleanly in sequence, so proposing them in order cannot be rejected
//! unless the store changed in between; a command a stage got wrong is never returned. `run_stages_until_settled`
//! repeats the passes until one proposes nothing, so its output is a fixpoint: run again on the store with its
//! commands applied (at the same `now`), it returns nothing.

use crate::command::{Command, Proposal};
use crate::model::Timestamp;
use crate::store::Store;

/// One stage: reads the (scratch) store, returns commands.
pub type Stage<'a> = &'a mut dyn FnMut(&Store) -> Vec<Command>;

/// One pass of `stages` over `store`.
pub fn run_stages(store: &Store, now: Timestamp, stages: &mut [Stage<'_>]) -> Vec<Command> {
    run_pass(store, &mut None, now, stages)
}

/// Passes of `stages` until a pass proposes nothing (at most `passes_max` passes), for stages whose decisions can
/// change what an earlier stage decides. Returns every pass's commands, in order. Not settling within
/// `passes_max` is a bug in some stage (two stages undoing each other): debug builds panic; release builds return
/// what the passes proposed, and the next run continues from there.
pub fn run_stages_until_settled(
    store: &Store,
    now: Timestamp,
    passes_max: usize,
    stages: &mut [Stage<'_>],
) -> Vec<Command> {
    let mut scratch: Option<Store> = None;
    let mut commands = Vec::new();
    for _ in 0..passes_max {
        let produced = run_pass(store, &mut scratch, now, stages);
        if produced.is_empty() {
            return commands;
        }
        commands.extend(produced);
    }
    debug_assert!(false, "decision stages did not settle within {passes_max} passes");
    commands
}

/// One pass over `scratch` (or `store` while no stage has had work), applying each stage's commands to `scratch`.
fn run_pass(store: &Store, scratch: &mut Option<Store>, now: Timestamp, stages: &mut [Stage<'_>]) -> Vec<Command> {
    let mut commands = Vec::new();
    for stage in stages.iter_mut() {
        let produced = stage(scratch.as_ref().unwrap_or(store));
        if produced.is_empty() {
            continue;
        }
        let scratch = scratch.get_or_insert_with(|| store.clone());
        for command in produced {
            match scratch.apply(&Proposal::new(now, command.clone())) {
                Ok(_) => commands.push(command),
                // A stage proposed something the store refuses: a bug in that stage. Never propose it.
                Err(rejection) => debug_assert!(false, "a pipeline stage produced a rejected command: {rejection}"),
            }
        }
    }
    commands
}
