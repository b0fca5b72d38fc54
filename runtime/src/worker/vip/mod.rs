//! VIP load balancing without IPVS: in each task container's network namespace, an nftables table of ours
//! (`ip swarm_vip`) DNATs traffic to each VIP the container sees to one of the service's running tasks, picked at
//! random per connection, all ports and protocols; a VIP with no running task is rejected so clients fail fast.
//! `rules` computes the table from the node's overlay plan (pure, compiled in the simulator too); `apply` installs
//! it with `nsenter -t PID -n nft -j -f -` (compiled out of the simulator). Invariant: the table is only ever
//! replaced whole, in one nft transaction, and nothing outside our own table is touched (Docker's embedded-DNS
//! rules live in the `ip nat` table next to it). Beside it, `mesh_return` (pure) is the routing mesh's return path in
//! the same containers — replies to a mesh client leave through the gateway its connection came in by — installed
//! by `apply::apply_mesh_return`.

#[cfg(not(madsim))]
pub mod apply;
pub mod mesh_return;
pub mod rules;

#[cfg(not(madsim))]
pub use apply::{apply, apply_mesh_return, check_tools, remove, VipError};
pub use mesh_return::MeshReturn;
pub use rules::{VipRuleset, VipTarget};
