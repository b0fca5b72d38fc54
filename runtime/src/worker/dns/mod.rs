//! The node's DNS resolver for overlay networks (Docker Swarm's service discovery): `records` is the pure table of
//! names and who may see them, built from the node's overlay plan and its tasks' addresses, compiled everywhere;
//! `server` serves it over UDP and TCP on the node's gateway addresses and forwards every other query to the
//! host's resolvers, compiled out of the simulator. Invariant: a name of ours is answered only to one of this
//! node's tasks sharing a network with it; every other query goes upstream unchanged.

pub mod records;

pub use records::{DnsRecords, Resolution};
