//! The flags of `swarm service create` and `swarm service update`, named, parsed and applied as
//! `docker service create/update` does, and their translation into a `swarm_core::spec::ServiceSpec`. It keeps one
//! invariant: a flag given on the command line either lands in the spec exactly where Docker's CLI would put it, or
//! the command fails with an error naming the flag and the bad value in Docker's wording (`invalid argument "5x"
//! for "--restart-delay" flag: ...`). A flag that is not given changes nothing, and every spec returned has passed
//! core's `ServiceSpec` check. Options the spec does not model (e.g. `--mount volume-nocopy`) are refused, never
//! silently dropped.
//!
//! Its rooms: `flags` (the clap structs), `create` and `update` (building the spec), `shared` (the flags both
//! commands apply), `container_options` (stop signal, read-only, init, capabilities, sysctls, ulimits, hosts, DNS,
//! log driver, on both commands), `files` (secrets and configs) and `error` (`SpecFlagsError`); the values
//! themselves are read by `crate::parse`.

mod container_options;
mod create;
mod error;
mod files;
mod flags;
mod shared;
mod update;

#[cfg(test)]
mod testing;

pub use create::spec_from_create;
pub use error::SpecFlagsError;
pub use flags::{CreateFlags, UpdateFlags};
pub use shared::parse_duration_ns;
pub use update::{apply_update, rollback_requested, wants_force};
