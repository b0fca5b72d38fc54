//! The deterministic simulator: madsim worlds of managers running the real runtime code on simulated disks and
//! networks, seeded fault scenarios, and invariant checkers (one file per property).
pub mod checkers;
pub mod executor;
#[cfg(madsim)]
pub mod orchestration_scenario;
#[cfg(madsim)]
pub mod raft_scenario;
pub mod recorder;
#[cfg(madsim)]
pub mod world;
