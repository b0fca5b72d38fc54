//! Consensus among the managers: openraft wired to our runtime (`rt`, madsim's in the simulator), our storage
//! (`log_store` on the WAL, `state_machine` over the core `Store`) and our HTTP transport (`network` calls peers,
//! `server` answers them), plus what openraft 0.9 lacks: an election timer that draws a timeout per term
//! (`election_timer`), pre-vote (`pre_vote`), a deterministic retry backoff for failing peers (`retry`) and the
//! coalescing of proposals into few entries (`batcher`). Invariant: an entry is acknowledged only once durable on
//! a quorum, and applied only once committed; nothing here decides what to propose.

pub mod at_rest;
pub mod batcher;
pub mod election_timer;
pub mod entry_format;
pub mod log_store;
pub mod network;
pub mod pre_vote;
pub mod retry;
pub mod rt;
pub mod server;
pub mod settings;
pub mod state_machine;
pub mod types;
