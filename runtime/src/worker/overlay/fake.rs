//! An in-memory `OverlayDataPlane` for the simulator and for tests of what drives the data plane: it keeps, per
//! realised network, what the real one would have programmed — the network's settings, the peers that get
//! broadcast frames and the forwarding entries (remote address → underlay address of its node) — so a checker can
//! compare every node's realised view with the cluster's endpoints. It counts the changes each reconcile made, so
//! tests can see that a second reconcile of the same plan changes nothing. Its tunnel keeps stand-in key pairs by
//! the same rotation rule as the real one (`tunnel_keys`) and records the peers and the key in use. Invariant: after a successful
//! `reconcile(plan)`, `realised()` describes exactly `plan`; after a failed one (an invalid plan), nothing changed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Mutex;

use swarm_core::TunnelKey;

use super::plan::{NodeOverlayPlan, OverlayNetworkPlan};
use super::tunnel_keys::{KeyPair, TunnelKeys};
use super::{OverlayDataPlane, OverlayError, TunnelIdentity};

/// One overlay network as the fake realised it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealisedNetwork {
    pub name: String,
    pub network_name: String,
    pub vxlan_name: String,
    pub subnet: Ipv4Addr,
    pub prefix_len: u8,
    pub local_gateway: Ipv4Addr,
    pub vxlan_id: u32,
    pub mtu: u32,
    pub internal: bool,
    /// Underlay addresses that get broadcast and unknown frames (the all-zeros FDB entries).
    pub peers: BTreeSet<Ipv4Addr>,
    /// Remote overlay address → underlay address of the node holding it (FDB + neighbour entry each).
    pub forwarding: BTreeMap<Ipv4Addr, Ipv4Addr>,
}

impl RealisedNetwork {
    fn of(plan: &OverlayNetworkPlan) -> RealisedNetwork {
        RealisedNetwork {
            name: plan.name.clone(),
            network_name: plan.network_name(),
            vxlan_name: plan.vxlan_name(),
            subnet: plan.subnet,
            prefix_len: plan.prefix_len,
            local_gateway: plan.local_gateway,
            vxlan_id: plan.vxlan_id,
            mtu: plan.mtu,
            internal: plan.internal,
            peers: plan.remote_peers.iter().copied().collect(),
            forwarding: plan.forwarding(),
        }
    }

    /// The settings that, when they differ, make the real data plane recreate the network rather than patch it.
    fn settings_differ(&self, other: &RealisedNetwork) -> bool {
        (&self.name, self.subnet, self.prefix_len, self.local_gateway, self.vxlan_id, self.mtu, self.internal)
            != (
                &other.name,
                other.subnet,
                other.prefix_len,
                other.local_gateway,
                other.vxlan_id,
                other.mtu,
                other.internal,
            )
    }
}

/// What the fake holds.
#[derive(Debug, Default)]
struct FakeState {
    networks: BTreeMap<String, RealisedNetwork>,
    /// Changes made by the last reconcile: networks created, recreated or removed, peers and entries added or
    /// removed.
    last_changes: usize,
    reconciles: u64,
    /// The routing mesh the last `discover` brought in (what the Linux data plane programs into nftables).
    mesh: swarm_core::overlay::Mesh,
    /// The tunnel's key pairs (stand-in keys from the runtime's RNG), made at the first `tunnel_identity`.
    keys: Option<TunnelKeys<()>>,
    /// The tunnel as the last reconcile left it.
    tunnel: Option<RealisedTunnel>,
}

/// The tunnel of encrypted networks as the fake realised it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealisedTunnel {
    pub addr: Ipv4Addr,
    /// The public key of the pair in use.
    pub public_key: TunnelKey,
    pub peers: Vec<swarm_core::overlay::TunnelPeer>,
}

/// The port the fake's tunnel reports.
pub const FAKE_TUNNEL_PORT: u16 = swarm_core::model::DEFAULT_TUNNEL_PORT;

fn stand_in_pair() -> KeyPair<()> {
    use rand::Rng;
    let mut rng = <crate::raft::rt::SwarmRuntime as openraft::AsyncRuntime>::thread_rng();
    KeyPair { secret: (), public: TunnelKey(rng.gen()) }
}

/// The in-memory data plane (see the module doc).
#[derive(Debug, Default)]
pub struct FakeDataPlane {
    state: Mutex<FakeState>,
}

impl FakeDataPlane {
    pub fn new() -> FakeDataPlane {
        FakeDataPlane::default()
    }

    /// Every realised network by network id.
    pub fn realised(&self) -> BTreeMap<String, RealisedNetwork> {
        self.lock().networks.clone()
    }

    /// The realised forwarding entries of one network (remote address → underlay), if it is realised.
    pub fn forwarding(&self, network_id: &str) -> Option<BTreeMap<Ipv4Addr, Ipv4Addr>> {
        self.lock().networks.get(network_id).map(|network| network.forwarding.clone())
    }

    /// The routing mesh this node answers with.
    pub fn mesh(&self) -> swarm_core::overlay::Mesh {
        self.lock().mesh.clone()
    }

    /// The tunnel of encrypted networks, while the plan has one.
    pub fn tunnel(&self) -> Option<RealisedTunnel> {
        self.lock().tunnel.clone()
    }

    /// The daemon restarted: the tunnel and its keys lived in the process and are gone (the next start makes a new
    /// pair); devices and tables stay.
    pub fn process_restart(&self) {
        let mut state = self.lock();
        state.keys = None;
        state.tunnel = None;
    }

    /// The host died: everything realised is gone (devices and nftables tables do not survive a reboot), and so
    /// are the tunnel's keys (they live in the process only).
    pub fn machine_crash(&self) {
        let mut state = self.lock();
        state.networks.clear();
        state.mesh = swarm_core::overlay::Mesh::default();
        state.keys = None;
        state.tunnel = None;
    }

    /// How many changes the last successful reconcile made (0: it found everything as planned).
    pub fn last_changes(&self) -> usize {
        self.lock().last_changes
    }

    /// How many reconciles succeeded.
    pub fn reconciles(&self) -> u64 {
        self.lock().reconciles
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn apply(&self, plan: &NodeOverlayPlan) -> Result<(), OverlayError> {
        plan.validate()?;
        let mut state = self.lock();
        let mut changes = 0;
        let wanted = plan.network_ids();
        let before = state.networks.len();
        state.networks.retain(|id, _| wanted.contains(id.as_str()));
        changes += before - state.networks.len();
        for network in &plan.networks {
            let desired = RealisedNetwork::of(network);
            match state.networks.get_mut(&network.network_id) {
                Some(existing) if !existing.settings_differ(&desired) => {
                    changes += symmetric_difference(&existing.peers, &desired.peers);
                    let entries = |map: &BTreeMap<Ipv4Addr, Ipv4Addr>| map.iter().map(|(a, u)| (*a, *u)).collect();
                    changes += symmetric_difference(&entries(&existing.forwarding), &entries(&desired.forwarding));
                    *existing = desired;
                }
                _ => {
                    changes += 1;
                    state.networks.insert(network.network_id.clone(), desired);
                }
            }
        }
        state.tunnel = plan.tunnel.as_ref().map(|tunnel| {
            let keys = state.keys.get_or_insert_with(|| TunnelKeys::new(stand_in_pair()));
            keys.follow(tunnel.cluster_public_key);
            RealisedTunnel { addr: tunnel.addr, public_key: keys.active().public, peers: tunnel.peers.clone() }
        });
        state.last_changes = changes;
        state.reconciles += 1;
        Ok(())
    }
}

fn symmetric_difference<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> usize {
    a.symmetric_difference(b).count()
}

impl OverlayDataPlane for FakeDataPlane {
    async fn reconcile(&self, plan: &NodeOverlayPlan) -> Result<(), OverlayError> {
        self.apply(plan)
    }

    async fn remove_all(&self) -> Result<(), OverlayError> {
        self.lock().mesh = swarm_core::overlay::Mesh::default();
        self.apply(&NodeOverlayPlan::default())
    }

    async fn discover(&self, discovery: &super::Discovery) {
        self.lock().mesh = discovery.cluster.mesh.clone();
    }

    fn tunnel_identity(&self) -> Option<TunnelIdentity> {
        let mut state = self.lock();
        let keys = state.keys.get_or_insert_with(|| TunnelKeys::new(stand_in_pair()));
        Some(TunnelIdentity { public_key: keys.wanted(), port: FAKE_TUNNEL_PORT })
    }

    fn rotate_tunnel_key(&self) {
        let mut state = self.lock();
        let keys = state.keys.get_or_insert_with(|| TunnelKeys::new(stand_in_pair()));
        keys.rotate(stand_in_pair());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::overlay::{OverlayStep, RemoteEndpoint};

    const NODE_B: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 2);
    const NODE_C: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 3);

    fn network(id: &str, vxlan_id: u32, endpoints: &[(u8, Ipv4Addr)]) -> OverlayNetworkPlan {
        let mut peers: Vec<Ipv4Addr> = endpoints.iter().map(|(_, underlay)| *underlay).collect();
        peers.sort();
        peers.dedup();
        OverlayNetworkPlan {
            network_id: id.to_string(),
            name: format!("net-{vxlan_id}"),
            subnet: Ipv4Addr::new(10, 0, 1, 0),
            prefix_len: 24,
            local_gateway: Ipv4Addr::new(10, 0, 1, 1),
            vxlan_id,
            mtu: 1450,
            internal: false,
            encrypted: false,
            vxlan_port: crate::worker::overlay::plan::DEFAULT_VXLAN_PORT,
            remote_peers: peers,
            remote_endpoints: endpoints
                .iter()
                .map(|(host, underlay)| RemoteEndpoint { addr: Ipv4Addr::new(10, 0, 1, *host), underlay: *underlay })
                .collect(),
        }
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        futures::executor::block_on(future)
    }

    #[test]
    fn reconcile_realises_the_plan_and_a_second_one_changes_nothing() {
        let plane = FakeDataPlane::new();
        let plan = NodeOverlayPlan {
            networks: vec![network("aaaaaaaaaa1", 7, &[(2, NODE_B), (3, NODE_B), (4, NODE_C)])],
            tunnel: None,
        };
        run(plane.reconcile(&plan)).expect("reconcile");
        let realised = plane.realised();
        let web = &realised["aaaaaaaaaa1"];
        assert_eq!(web.network_name, "swo-aaaaaaaaaa");
        assert_eq!(web.vxlan_name, "swv-aaaaaaaaaa");
        assert_eq!(web.peers, BTreeSet::from([NODE_B, NODE_C]));
        assert_eq!(
            plane.forwarding("aaaaaaaaaa1"),
            Some(BTreeMap::from([
                (Ipv4Addr::new(10, 0, 1, 2), NODE_B),
                (Ipv4Addr::new(10, 0, 1, 3), NODE_B),
                (Ipv4Addr::new(10, 0, 1, 4), NODE_C)
            ]))
        );
        assert_eq!(plane.last_changes(), 1);
        run(plane.reconcile(&plan)).expect("reconcile again");
        assert_eq!(plane.last_changes(), 0);
        assert_eq!(plane.reconciles(), 2);
    }

    #[test]
    fn entries_follow_tasks_coming_and_going_and_networks_leave_with_the_plan() {
        let plane = FakeDataPlane::new();
        let first = NodeOverlayPlan {
            networks: vec![network("aaaaaaaaaa1", 7, &[(2, NODE_B)]), network("bbbbbbbbbb1", 8, &[(9, NODE_C)])],
            tunnel: None,
        };
        run(plane.reconcile(&first)).expect("reconcile");
        // A task moves from B to C, another arrives on C; the second network leaves the node.
        let second =
            NodeOverlayPlan { networks: vec![network("aaaaaaaaaa1", 7, &[(2, NODE_C), (5, NODE_C)])], tunnel: None };
        run(plane.reconcile(&second)).expect("reconcile");
        assert_eq!(plane.realised().keys().collect::<Vec<_>>(), ["aaaaaaaaaa1"]);
        assert_eq!(
            plane.forwarding("aaaaaaaaaa1"),
            Some(BTreeMap::from([(Ipv4Addr::new(10, 0, 1, 2), NODE_C), (Ipv4Addr::new(10, 0, 1, 5), NODE_C)]))
        );
        // One network removed; peer B out, C in; entry .2→B out, .2→C and .5→C in.
        assert_eq!(plane.last_changes(), 1 + 2 + 3);
        run(plane.remove_all()).expect("remove all");
        assert!(plane.realised().is_empty());
    }

    #[test]
    fn a_network_whose_settings_change_is_recreated() {
        let plane = FakeDataPlane::new();
        let mut plan = NodeOverlayPlan { networks: vec![network("aaaaaaaaaa1", 7, &[(2, NODE_B)])], tunnel: None };
        run(plane.reconcile(&plan)).expect("reconcile");
        plan.networks[0].mtu = 1400;
        run(plane.reconcile(&plan)).expect("reconcile");
        assert_eq!(plane.realised()["aaaaaaaaaa1"].mtu, 1400);
        assert_eq!(plane.last_changes(), 1);
    }

    #[test]
    fn an_invalid_plan_changes_nothing_and_names_the_network() {
        let plane = FakeDataPlane::new();
        let good = NodeOverlayPlan { networks: vec![network("aaaaaaaaaa1", 7, &[(2, NODE_B)])], tunnel: None };
        run(plane.reconcile(&good)).expect("reconcile");
        let mut bad = good.clone();
        bad.networks[0].remote_endpoints[0].addr = Ipv4Addr::new(10, 0, 2, 2);
        bad.networks.push(network("bbbbbbbbbb1", 8, &[]));
        let error = run(plane.reconcile(&bad)).expect_err("an endpoint outside the subnet");
        assert_eq!(error.network, "aaaaaaaaaa1");
        assert_eq!(error.step, OverlayStep::ValidatePlan);
        assert!(
            error.to_string().starts_with("overlay network aaaaaaaaaa1: check the plan: remote endpoint"),
            "{error}"
        );
        assert_eq!(plane.realised().keys().collect::<Vec<_>>(), ["aaaaaaaaaa1"]);
        assert_eq!(plane.reconciles(), 1);
    }
}
