//! The node's DNS resolver for overlay networks (Docker Swarm's service discovery): `records` is the pure table of
//! names and who may see them, built from the node's overlay plan and its tasks' addresses, compiled everywhere;
//! `server` serves it over UDP and TCP on the node's gateway addresses and forwards every other query to the
//! client task's own `--dns` servers, or to the host's resolvers for a task without any, compiled out of the
//! simulator. Invariant: a name of ours is answered only to one of this node's tasks sharing a network with it;
//! every other query goes upstream unchanged.
//!
//! How containers reach it (libnetwork's embedded resolver, 127.0.0.11 in every container on a user-defined
//! network): it answers the names of containers on the same Docker network of the same host itself, and forwards
//! the rest to the container's `--dns` servers (at most three, 4 s each), dialling from inside the container's
//! namespace — so the query's source is the container's own address, which is how `records` identifies the
//! client. It relays our answers as they are, moves on to the next `--dns` server on SERVFAIL or REFUSED, and
//! forwards over the protocol the client used (TCP queries arrive over TCP). Hence: never register service names
//! or aliases as Docker network aliases (Docker would answer them with local containers, bypassing the VIP), and
//! answer within 4 s (`DnsConfig::forward_budget`). Engines newer than 20.10 no longer forward from a container
//! attached only to `--internal` Docker networks (they answer SERVFAIL), so an internal overlay must not be realised
//! as an internal Docker network.
//!
//! A task's own `--dns` servers (the `DnsConfig::nameservers` of its spec) therefore cannot be its container's:
//! the Docker executor keeps this node's gateway as the container's only server, so service discovery works, and
//! the records carry the task's servers as its upstreams — what Docker Swarm does, where 127.0.0.11 stays in front
//! and forwards to the `--dns` servers. Its search domains and options go to its resolv.conf as they are.

pub mod records;
#[cfg(not(madsim))]
pub mod server;

pub use records::{DnsRecords, Resolution};
