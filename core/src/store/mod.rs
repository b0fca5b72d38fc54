//! The replicated state machine: `Store` holds the cluster, nodes, services, tasks and networks, and
//! `Store::apply` is the only way to change them. `apply` is a pure function of (store, proposal): no clock, no
//! randomness, no I/O, ordered maps only, so every manager replaying the same log reaches byte-identical snapshots.
//! Each proposal is atomic: every mutation is journaled (`txn`) and a rejected command (or any command of a
//! rejected batch) is rolled back, leaving the store exactly as it was. The rooms: `state` (the struct and its
//! reads), `maps` (the only writer of the maps and their indexes), `txn` (the journal), `bounds` (input bounds),
//! `apply/` (one file per command family), `invariants` (what no sequence of commands may break; debug builds check
//! them after every apply) and `outcome` (what `apply` answers).

mod apply;
mod bounds;
mod invariants;
mod maps;
mod outcome;
mod state;
mod txn;

pub use apply::service::MANUAL_ROLLBACK_MESSAGE;
pub use outcome::{Outcome, Rejection};

/// The store's size bounds on a service spec (name, labels, task template, replicas, ports), as `apply` checks them:
/// for clients that must know before sending several specs (`stack deploy`) that none will be refused for its size.
pub fn check_service_spec_bounds(spec: &crate::spec::ServiceSpec) -> Result<(), Rejection> {
    bounds::check_service_spec(spec)
}
pub(crate) use maps::StoreParts;
pub use state::Store;

use crate::command::Proposal;
use txn::Txn;

impl Store {
    /// Applies one committed proposal. On `Err` the store is unchanged.
    pub fn apply(&mut self, proposal: &Proposal) -> Result<Outcome, Rejection> {
        let mut txn = Txn::new(self, proposal.now);
        let result = txn.command(&proposal.command);
        if result.is_err() {
            txn.rollback();
        }
        #[cfg(debug_assertions)]
        self.check_invariants();
        result
    }
}

#[cfg(test)]
mod tests;
