//! The dispatcher: the leader's door for agents. An agent opens a session (which registers its node and marks it
//! ready), heartbeats in that session, long-polls the tasks assigned to its node, and reports task status in
//! batches. Agents may call any manager; a follower forwards dispatcher calls to the leader (one hop), because
//! sessions and heartbeats live only in the leader's memory.
//!
//! Invariants: sessions belong to one leadership term — a new leader knows none, so every agent opens a new
//! session with it (which is how agents find a new leader), and it gives every node the doubled grace first
//! (`swarm_core::liveness`). A status report is acknowledged only once committed; reports that are stale by
//! the time they arrive (the task moved on, was removed, or is not on the reporting node) are dropped, never
//! applied, so one stale report cannot block the others in its batch. Bodies are postcard; a malformed body is
//! a 400 naming the endpoint, never a panic.
//!
//! Its rooms: `api` (paths and bodies, shared with the agent), `sessions` (the leader's per-term state), `rules`
//! (pure functions of the store) and `serve` (answering the calls through the narrow `LeaderHandle`, so the
//! dispatcher knows nothing else of the manager that runs it).

pub mod api;
pub mod rules;
pub mod serve;
pub mod sessions;
