//! The leader's decision pipeline over committed state: orchestrators → allocator → scheduler → node attachments
//! (the allocator's gateways for nodes given tasks on new networks), each stage seeing
//! the previous stages' effect (see `stages`). The manager loop proposes what this returns, in order. Invariant:
//! pure and idempotent — on a store where nothing changed, a second run returns nothing.

use crate::allocator::{allocate, attach_nodes};
use crate::command::Command;
use crate::model::Timestamp;
use crate::orchestrator::{reconcile, IdSource};
use crate::scheduler::schedule;
use crate::stages::run_stages;
use crate::store::Store;

pub fn run(store: &Store, now: Timestamp, ids: &mut dyn IdSource) -> Vec<Command> {
    if !store.is_initialized() {
        return Vec::new();
    }
    run_stages(
        store,
        now,
        &mut [
            &mut |s: &Store| reconcile(s, now, ids),
            &mut |s: &Store| allocate(s, now),
            &mut |s: &Store| schedule(s, now),
            &mut |s: &Store| attach_nodes(s),
        ],
    )
}
