//! `swarm-runtime`: one node of the cluster, written against `tokio` = madsim-tokio so the same code runs in
//! production and inside the simulator. The folder tree is the architecture, each room below the ones that use
//! it: `storage` (the `Disk` seam, WAL, snapshot files) under `raft` (openraft wired to our runtime, storage and
//! HTTP transport) under `propose` (the narrow handle the leader's work is written against) under `dispatcher`
//! (agents' sessions on the leader) and `manager_loop` (the leader's decisions) under `manager` (a Raft member and
//! the cluster API); `worker` (the agent and its executors) talks to the dispatcher over HTTP; `daemon` and
//! `control` (the control API the CLI talks to) sit on top. `http`, `watch`, `clock`, `ids`, `stall`, `aead`
//! (the one authenticated cipher) and `blocking` are plumbing any room may use. Invariant: no module imports one above it — no import circles.

pub mod aead;
pub mod blocking;
pub mod clock;
pub mod control;
#[cfg(not(madsim))]
pub mod daemon;
pub mod dispatcher;
pub mod http;
pub mod ids;
pub mod manager;
pub mod manager_loop;
pub mod propose;
pub mod raft;
pub mod stall;
pub mod storage;
pub mod tls;
pub mod watch;
pub mod worker;
