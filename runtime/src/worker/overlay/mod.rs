//! The node side of overlay networks: the seam through which a node realises its `NodeOverlayPlan` (`plan`) —
//! per network a VXLAN device, this node's own gateway device and a Docker macvlan network on it, and the
//! forwarding entries (FDB and neighbours) toward every remote peer and endpoint. `linux` is the real data plane
//! (rtnetlink and the Docker Engine, compiled out of the simulator), with `isolation` (the nftables rule that keeps
//! the node's overlay networks apart), `mesh` (the routing mesh's nftables table) and `tunnel` (the WireGuard
//! device of encrypted networks, whose key pairs follow `tunnel_keys`); `fake` an in-memory one recording the
//! realised forwarding view for the simulator's checkers. Invariants every implementation keeps: `reconcile` is
//! idempotent and converges from any starting point (it adopts what exists, repairs what differs and removes what
//! the plan no longer names), it touches only what the data plane made (recognised by name prefix or label), and a
//! plan that fails validation changes nothing.

#[cfg(not(madsim))]
mod device_address;
pub mod fake;
#[cfg(not(madsim))]
pub mod isolation;
#[cfg(not(madsim))]
pub mod linux;
#[cfg(not(madsim))]
pub mod mesh;
pub mod plan;
#[cfg(not(madsim))]
pub mod sealed;
#[cfg(not(madsim))]
pub mod tunnel;
pub mod tunnel_keys;

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;

pub use plan::{NodeOverlayPlan, OverlayNetworkPlan, PlanError, RemoteEndpoint};

/// What the data plane was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayStep {
    /// Checking the plan (nothing was changed).
    ValidatePlan,
    /// Reaching the kernel's netlink or the Docker Engine.
    Connect,
    ListDockerNetworks,
    CreateDockerNetwork,
    RemoveDockerNetwork,
    /// Creating or repairing this node's gateway device (its address and MAC on the network).
    ConfigureGateway,
    /// Installing or removing the rules that keep overlay networks apart on the node.
    Isolation,
    /// Creating the node's egress bridge network (tasks' way out of the cluster).
    Egress,
    /// Programming or removing the routing mesh.
    Mesh,
    /// Creating or configuring the node's WireGuard tunnel of encrypted networks.
    Tunnel,
    ListLinks,
    CreateVxlan,
    ConfigureVxlan,
    RemoveVxlan,
    ListForwardingEntries,
    AddForwardingEntry,
    RemoveForwardingEntry,
    ListNeighbours,
    AddNeighbour,
    RemoveNeighbour,
}

impl fmt::Display for OverlayStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OverlayStep::ValidatePlan => "check the plan",
            OverlayStep::Connect => "connect",
            OverlayStep::ListDockerNetworks => "list Docker networks",
            OverlayStep::CreateDockerNetwork => "create the Docker network",
            OverlayStep::RemoveDockerNetwork => "remove the Docker network",
            OverlayStep::ConfigureGateway => "configure this node's gateway device",
            OverlayStep::Isolation => "keep overlay networks apart",
            OverlayStep::Egress => "create the egress network",
            OverlayStep::Mesh => "program the routing mesh",
            OverlayStep::Tunnel => "configure the tunnel of encrypted networks",
            OverlayStep::ListLinks => "list network devices",
            OverlayStep::CreateVxlan => "create the VXLAN device",
            OverlayStep::ConfigureVxlan => "configure the VXLAN device",
            OverlayStep::RemoveVxlan => "remove the VXLAN device",
            OverlayStep::ListForwardingEntries => "list forwarding entries",
            OverlayStep::AddForwardingEntry => "add a forwarding entry",
            OverlayStep::RemoveForwardingEntry => "remove a forwarding entry",
            OverlayStep::ListNeighbours => "list neighbour entries",
            OverlayStep::AddNeighbour => "add a neighbour entry",
            OverlayStep::RemoveNeighbour => "remove a neighbour entry",
        })
    }
}

/// Why realising a plan failed: the network (its id, or the name of a stale device or Docker network), the step
/// and the reason in the kernel's or engine's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("overlay network {network}: {step}: {reason}")]
pub struct OverlayError {
    pub network: String,
    pub step: OverlayStep,
    pub reason: String,
}

impl OverlayError {
    pub fn new(network: impl Into<String>, step: OverlayStep, reason: impl fmt::Display) -> OverlayError {
        OverlayError { network: network.into(), step, reason: reason.to_string() }
    }
}

impl From<PlanError> for OverlayError {
    fn from(error: PlanError) -> OverlayError {
        OverlayError::new(error.network_id, OverlayStep::ValidatePlan, error.problem)
    }
}

/// Realises one node's overlay plan. Methods take `&self`; calls are serialised inside.
/// What service discovery and VIP balancing need on this node besides the devices: the cluster's plan (every
/// network's services with their VIPs and running tasks) and this node's tasks on overlay networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub cluster: swarm_core::overlay::NodeOverlayPlan,
    /// Sorted by container name.
    pub local_tasks: Vec<LocalTask>,
}

/// A task of this node on overlay networks: its container (by name), its addresses, and the DNS servers its spec
/// names (`--dns`), which the node's resolver forwards its other names to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTask {
    pub container_name: String,
    pub networks: Vec<swarm_core::NetworkAttachment>,
    /// In the spec's order; empty: the host's resolvers.
    pub nameservers: Vec<std::net::IpAddr>,
}

/// What a node reports of its tunnel (see `OverlayDataPlane::tunnel_identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelIdentity {
    pub public_key: swarm_core::TunnelKey,
    pub port: u16,
}

pub trait OverlayDataPlane: Send + Sync + 'static {
    /// Makes the node's overlay state what `plan` says: creates what is missing, repairs what differs, removes
    /// the networks, devices and entries of its own that the plan no longer names. Idempotent; after a restart
    /// it adopts what exists. Stops at the first failure (what was done so far stays; the next call continues),
    /// except that a network held back by something outside the plan's control (an earlier release's network its
    /// old containers still use) is skipped, named by `held_back`, and retried (`needs_retry`).
    fn reconcile(&self, plan: &NodeOverlayPlan) -> impl Future<Output = Result<(), OverlayError>> + Send;

    /// Removes every network, device and entry of its own (`reconcile` of an empty plan).
    fn remove_all(&self) -> impl Future<Output = Result<(), OverlayError>> + Send;

    /// Brings service discovery (the node's resolver on its gateways), the VIP tables of its task containers and
    /// the routing mesh in line with `discovery`, after every `reconcile`, also one that failed (what depends on
    /// a missing device waits for the retry). Failures are logged, not returned: the devices are what tasks wait
    /// for, and the next call tries again. The default does nothing (a data plane without either).
    fn discover(&self, discovery: &Discovery) -> impl Future<Output = ()> + Send {
        let _ = discovery;
        async {}
    }

    /// The networks of the plan the last successful `reconcile` could not realise yet (see `reconcile`): tasks
    /// must not be started on them. The default: none.
    fn held_back(&self) -> BTreeSet<String> {
        BTreeSet::new()
    }

    /// This node's tunnel identity as the cluster should hold it: the public key of its newest key pair (a
    /// rotation not yet in use included) and the UDP port its tunnel listens on. `None`: a data plane without
    /// encryption (the default).
    fn tunnel_identity(&self) -> Option<TunnelIdentity> {
        None
    }

    /// Makes a new key pair, which `tunnel_identity` reports at once and the tunnel uses from the first plan whose
    /// cluster holds its public key (`tunnel_keys`). The default does nothing.
    fn rotate_tunnel_key(&self) {}

    /// Whether the last `reconcile` or `discover` left something undone that a later call may finish (a stale
    /// network with a container still attached, a VIP table or listener that failed): the caller tries again
    /// soon even without a new plan. The default: never.
    fn needs_retry(&self) -> bool {
        false
    }
}
