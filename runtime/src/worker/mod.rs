//! What every node runs, manager or worker: the agent, which holds a session with the leader's dispatcher and
//! drives the tasks assigned to its node, and the executor seam it drives them through — Docker Engine in
//! production (`docker`, the only code that knows the Docker client library, compiled out of the simulator), a
//! simulated engine in the sim, the rule (`orphans`) that picks the containers a removed node left behind, and the
//! overlay data plane seam (`overlay`: the node's desired overlay state, its Linux realisation and a fake), driven by
//! the agent's network realisation loop (`networking`), with service discovery (`dns`: the node's resolver) and VIP
//! load balancing (`vip`: nftables rules in each task container's namespace).
//! Invariant: the agent talks to the cluster only through the dispatcher's API and to
//! containers only through an `Executor`, so the same agent runs against real and simulated engines.

pub mod agent;
pub mod cert_follow;
pub mod dns;
#[cfg(not(madsim))]
pub mod docker;
pub mod executor;
pub mod files;
pub mod networking;
pub mod orphans;
pub mod overlay;
pub mod vip;
