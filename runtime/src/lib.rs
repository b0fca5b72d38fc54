//! The node: openraft glue, durable storage on a `Disk`, Raft RPC over hyper, and the manager API.
pub mod agent;
pub mod clock;
pub mod control;
#[cfg(not(madsim))]
pub mod daemon;
pub mod dispatcher;
#[cfg(not(madsim))]
pub mod docker;
pub mod executor;
pub mod http;
pub mod ids;
pub mod manager;
pub mod manager_loop;
pub mod propose;
pub mod raft;
pub mod storage;
pub mod watch;
