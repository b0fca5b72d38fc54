//! Invariant checkers, one per property, each a pure function of the `Record` (and, for the end-state ones, of
//! the managers' final stores). Each returns the violations it found, worded so a reader knows which property
//! broke and where to look.
pub mod committed_never_lost;
pub mod election_safety;
pub mod snapshot_agreement;
pub mod state_machine_safety;
