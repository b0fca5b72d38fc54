//! Invariant checkers, one per property, each a pure function of the `Record` (and, for the end-state ones, of
//! the managers' final stores). Each returns the violations it found, worded so a reader knows which property
//! broke and where to look.
pub mod committed_never_lost;
pub mod election_safety;
pub mod eventually_as_desired;
pub mod no_needless_pending;
pub mod observed_state_monotonic;
pub mod one_container_per_slot;
pub mod overlay_converged;
pub mod removed_node_gets_nothing;
pub mod rotation_locks_out_nobody;
pub mod running_only_on_live_nodes;
pub mod secrets_where_needed;
pub mod snapshot_agreement;
pub mod state_machine_safety;
pub mod tasks_have_services;
#[cfg(test)]
mod test_support;
pub mod vips_stable;
