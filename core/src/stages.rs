//! Runs pure decision stages in order over one committed store, each seeing the state the previous stages'
//! commands would produce: their commands are applied to a scratch copy (made only once some stage has work).
//! Invariant: every command returned applied cleanly in sequence, so proposing them in order cannot be rejected
//! unless the store changed in between; a command a stage got wrong is never returned.

use crate::command::{Command, Proposal};
use crate::model::Timestamp;
use crate::store::Store;

/// One stage: reads the (scratch) store, returns commands.
pub type Stage<'a> = &'a mut dyn FnMut(&Store) -> Vec<Command>;

pub fn run_stages(store: &Store, now: Timestamp, stages: &mut [Stage<'_>]) -> Vec<Command> {
    let mut scratch: Option<Store> = None;
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
