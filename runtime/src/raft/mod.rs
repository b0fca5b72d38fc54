//! openraft wiring: runtime adapter, type config, network, storage adaptors.
pub mod log_store;
pub mod network;
pub mod rt;
pub mod state_machine;
pub mod types;
