//! The Linux overlay data plane end to end on two test hosts: each host's plan is realised by the
//! `overlay-reconcile` helper inside the host's namespace, against the host's own dockerd; a container on each
//! host, attached to the overlay's Docker network with its planned address (and so Docker's MAC for it), reaches
//! the other host's container and gateway across the underlay. A second reconcile adopts what exists (same Docker
//! network, same gateway device); a deleted gateway device, deleted FDB entries and a deleted neighbour entry are
//! repaired; a lost VXLAN device comes back with its Docker network made anew; an invalid plan is refused naming
//! the step; an empty plan leaves no Docker network (the egress one included), gateway device, VXLAN device or nft
//! table behind. The test touches only its own containers and the hosts it started.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Output, Stdio};
use std::time::Duration;

use swarm_runtime::worker::docker::networks::egress_network_name;
use swarm_runtime::worker::overlay::plan::{gateway_name, mac_for, network_name, vxlan_name, VXLAN_OVERHEAD_BYTES};
use swarm_runtime::worker::overlay::{NodeOverlayPlan, OverlayNetworkPlan, RemoteEndpoint};
use swarm_tests::hosts::{TestHost, TestHosts};
use swarm_tests::wait_for;

/// A Docker-style network id of the test's own.
const NETWORK_ID: &str = "ovdpe2e0test0network00001";
const SUBNET: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 0);
const VXLAN_ID: u32 = 7001;
/// The test hosts' underlay links are veths with Linux's default MTU.
const UNDERLAY_MTU: u32 = 1500;
const PING_DEADLINE: Duration = Duration::from_secs(30);
const TOOLS_IMAGE: &str = "swarm-tools:1";
/// The node id the `overlay-reconcile` helper gives its data plane.
const RECONCILER_NODE_ID: &str = "overlay-reconcile";

/// Host `index` (1-based)'s own gateway on the overlay.
fn gateway(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, 0, index as u8)
}

/// The address of the container the test runs on host `index`.
fn container_addr(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, 0, 10 + index as u8)
}

/// What host `index` of `hosts` should have: the network, with every other host as a peer and their gateways and
/// containers as remote endpoints.
fn plan_for(hosts: &TestHosts, index: usize) -> NodeOverlayPlan {
    let others: Vec<(usize, &TestHost)> =
        hosts.hosts().iter().enumerate().map(|(i, host)| (i + 1, host)).filter(|(i, _)| *i != index).collect();
    let mut remote_endpoints: Vec<RemoteEndpoint> = others
        .iter()
        .flat_map(|(i, host)| {
            [gateway(*i), container_addr(*i)].map(|addr| RemoteEndpoint { addr, underlay: host.addr() })
        })
        .collect();
    remote_endpoints.sort();
    NodeOverlayPlan {
        networks: vec![OverlayNetworkPlan {
            network_id: NETWORK_ID.to_string(),
            name: "e2e".to_string(),
            subnet: SUBNET,
            prefix_len: 24,
            local_gateway: gateway(index),
            vxlan_id: VXLAN_ID,
            mtu: UNDERLAY_MTU - VXLAN_OVERHEAD_BYTES,
            internal: false,
            encrypted: false,
            vxlan_port: swarm_runtime::worker::overlay::plan::DEFAULT_VXLAN_PORT,
            remote_peers: others.iter().map(|(_, host)| host.addr()).collect(),
            remote_endpoints,
        }],
        tunnel: None,
    }
}

/// Runs the helper in `host`'s namespace with `plan` on stdin.
fn reconcile(host: &TestHost, plan: &NodeOverlayPlan) -> Output {
    let mut child = host
        .command(env!("CARGO_BIN_EXE_overlay-reconcile"))
        .arg(host.addr().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn overlay-reconcile");
    let text = serde_json::to_vec(plan).expect("plan JSON");
    child.stdin.take().expect("stdin").write_all(&text).expect("write the plan");
    child.wait_with_output().expect("wait for overlay-reconcile")
}

fn reconcile_ok(host: &TestHost, plan: &NodeOverlayPlan) {
    let output = reconcile(host, plan);
    assert!(
        output.status.success(),
        "overlay-reconcile on {}: {}",
        host.name(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn mac_text(addr: Ipv4Addr) -> String {
    mac_for(addr).iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(":")
}

/// A container of this test; removed (forcibly) when dropped, also while a failing test unwinds.
struct TestContainer<'a> {
    host: &'a TestHost,
    name: String,
}

impl<'a> TestContainer<'a> {
    /// `docker run -d` of a sleeping tools container on the overlay's Docker network with `addr`; checks that its
    /// MAC is the one remote hosts were told ([`mac_for`]). The docker CLI here (28.x) sends `--mac-address` per
    /// network, which needs Engine API 1.44, and the test hosts' engines speak 1.41; their macvlan driver derives
    /// the MAC from the address with the same scheme, which is what this checks.
    fn start(host: &'a TestHost, name: &str, addr: Ipv4Addr) -> TestContainer<'a> {
        let container = TestContainer { host, name: name.to_string() };
        let (network, ip) = (network_name(NETWORK_ID), addr.to_string());
        host.docker(&["run", "-d", "--name", name, "--network", &network, "--ip", &ip, TOOLS_IMAGE, "sleep", "600"]);
        let mac = host.docker(&["exec", name, "cat", "/sys/class/net/eth0/address"]);
        assert_eq!(mac.trim(), mac_text(addr), "{name} on {} has another MAC than its address's", host.name());
        container
    }

    /// Whether one ping from the container to `addr` is answered.
    fn pings(&self, addr: Ipv4Addr) -> bool {
        let target = addr.to_string();
        self.host.try_docker(&["exec", &self.name, "ping", "-c", "1", "-W", "2", &target]).status.success()
    }

    fn wait_until_it_pings(&self, addr: Ipv4Addr) {
        let what = format!("{} on {} to ping {addr}", self.name, self.host.name());
        wait_for(&what, PING_DEADLINE, || self.pings(addr).then_some(()));
    }
}

impl Drop for TestContainer<'_> {
    fn drop(&mut self) {
        let _ = self.host.try_docker(&["rm", "-f", &self.name]);
    }
}

/// The VXLAN devices of the host's namespace that the data plane would own (`swv-…`).
fn overlay_vxlan_devices(host: &TestHost) -> Vec<String> {
    let links = host.run_ok("ip", &["-o", "link", "show", "type", "vxlan"]);
    links
        .lines()
        .filter_map(|line| line.split(':').nth(1).map(|name| name.trim().split('@').next().unwrap_or("").to_string()))
        .filter(|name| name.starts_with("swv-"))
        .collect()
}

/// The Docker networks of the host's engine carrying the data plane's label.
fn overlay_docker_networks(host: &TestHost) -> Vec<String> {
    host.docker(&["network", "ls", "-q", "--filter", "label=swarm.overlay.network-id"])
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn containers_on_two_hosts_reach_each_other_over_the_overlay_and_nothing_is_left() {
    let hosts = TestHosts::start("ovdp", 2);
    let (one, two) = (&hosts[0], &hosts[1]);
    let plans = [plan_for(&hosts, 1), plan_for(&hosts, 2)];
    let vxlan = vxlan_name(NETWORK_ID);

    for (host, plan) in hosts.hosts().iter().zip(&plans) {
        reconcile_ok(host, plan);
        let made =
            (overlay_docker_networks(host), host.run_ok("ip", &["-o", "link", "show", &gateway_name(NETWORK_ID)]));
        // A second run adopts what the first made: the same Docker network, the same gateway device (index).
        reconcile_ok(host, plan);
        let adopted =
            (overlay_docker_networks(host), host.run_ok("ip", &["-o", "link", "show", &gateway_name(NETWORK_ID)]));
        assert_eq!(made.0.len(), 1, "{}", host.name());
        assert_eq!(made, adopted, "{}: a second reconcile replaced something", host.name());
        // The plan's network is not internal: the node's egress network is there.
        host.docker(&["network", "inspect", &egress_network_name(RECONCILER_NODE_ID)]);
    }

    // Host 1's kernel state is what the plan says.
    let details = one.run_ok("ip", &["-d", "link", "show", &vxlan]);
    for expected in [
        format!("vxlan id {VXLAN_ID}"),
        format!("local {}", one.addr()),
        "dstport 4789".to_string(),
        "nolearning".to_string(),
        "proxy".to_string(),
        format!("mtu {}", UNDERLAY_MTU - VXLAN_OVERHEAD_BYTES),
    ] {
        assert!(details.contains(&expected), "{vxlan} lacks {expected:?}:\n{details}");
    }
    assert!(!details.contains("master"), "{vxlan} is on a bridge:\n{details}");
    let gateway_device = gateway_name(NETWORK_ID);
    let details = one.run_ok("ip", &["-d", "address", "show", &gateway_device]);
    for expected in [
        format!("{gateway_device}@{vxlan}"),
        "macvlan mode bridge".to_string(),
        format!("link/ether {}", mac_text(gateway(1))),
        format!("inet {}/24", gateway(1)),
        format!("mtu {}", UNDERLAY_MTU - VXLAN_OVERHEAD_BYTES),
    ] {
        assert!(details.contains(&expected), "{gateway_device} lacks {expected:?}:\n{details}");
    }
    let isolation = one.run_ok("nft", &["list", "table", "inet", "swarm_overlay"]);
    assert!(isolation.contains("oifname \"swg-*\" drop"), "{isolation}");
    let fdb = one.run_ok("bridge", &["fdb", "show", "dev", &vxlan]);
    for mac in ["00:00:00:00:00:00".to_string(), mac_text(gateway(2)), mac_text(container_addr(2))] {
        let expected = format!("{mac} dst {} self permanent", two.addr());
        assert!(fdb.contains(&expected), "no FDB entry {expected:?}:\n{fdb}");
    }
    let neighbours = one.run_ok("ip", &["neigh", "show", "dev", &vxlan]);
    for addr in [gateway(2), container_addr(2)] {
        let expected = format!("{addr} lladdr {} PERMANENT", mac_text(addr));
        assert!(neighbours.contains(&expected), "no neighbour entry {expected:?}:\n{neighbours}");
    }

    {
        let first = TestContainer::start(one, "ovdp-c1", container_addr(1));
        let second = TestContainer::start(two, "ovdp-c2", container_addr(2));
        first.wait_until_it_pings(container_addr(2));
        second.wait_until_it_pings(container_addr(1));
        first.wait_until_it_pings(gateway(2));

        // Repair: host 2 loses its gateway device, host 1 its FDB entries toward host 2 and a neighbour entry;
        // reconciling restores them all.
        two.run_ok("ip", &["link", "del", &gateway_name(NETWORK_ID)]);
        let two_addr = two.addr().to_string();
        for mac in ["00:00:00:00:00:00".to_string(), mac_text(container_addr(2))] {
            one.run_ok("bridge", &["fdb", "del", &mac, "dev", &vxlan, "dst", &two_addr, "self"]);
        }
        one.run_ok("ip", &["neigh", "del", &container_addr(2).to_string(), "dev", &vxlan]);
        assert!(!first.pings(container_addr(2)), "the overlay still works without its entries");
        assert!(!first.pings(gateway(2)), "host 2's gateway answers without its device");
        reconcile_ok(one, &plans[0]);
        reconcile_ok(two, &plans[1]);
        first.wait_until_it_pings(container_addr(2));
        second.wait_until_it_pings(container_addr(1));
        first.wait_until_it_pings(gateway(2));

        // An invalid plan is refused, naming the network and the step, and changes nothing.
        let mut invalid = plans[0].clone();
        invalid.networks[0].local_gateway = Ipv4Addr::new(10, 214, 0, 1);
        let refused = reconcile(one, &invalid);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "an invalid plan was accepted");
        assert!(stderr.contains(&format!("overlay network {NETWORK_ID}: check the plan: gateway")), "{stderr}");
        assert!(first.pings(container_addr(2)), "a refused plan broke the overlay");
    }

    // The containers are gone. A VXLAN device lost while dockerd held the network on it (what a reboot does: dockerd
    // restores its networks before the daemon makes their parents) comes back with a Docker network made anew, and
    // a new container works on it.
    two.run_ok("ip", &["link", "del", &vxlan]);
    let before = overlay_docker_networks(two);
    reconcile_ok(two, &plans[1]);
    assert_ne!(overlay_docker_networks(two), before, "the Docker network on the lost device was kept");
    {
        let first = TestContainer::start(one, "ovdp-c1", container_addr(1));
        let _second = TestContainer::start(two, "ovdp-c2", container_addr(2));
        first.wait_until_it_pings(container_addr(2));
    }

    // An empty plan removes the rest.
    for host in hosts.hosts() {
        reconcile_ok(host, &NodeOverlayPlan::default());
        assert_eq!(overlay_docker_networks(host), Vec::<String>::new(), "{}", host.name());
        assert_eq!(overlay_vxlan_devices(host), Vec::<String>::new(), "{}", host.name());
        let egress = host.try_docker(&["network", "inspect", &egress_network_name(RECONCILER_NODE_ID)]);
        assert!(!egress.status.success(), "the egress network survived on {}", host.name());
        let gateway_device = gateway_name(NETWORK_ID);
        let survived = host.run("ip", &["link", "show", &gateway_device]).status.success();
        assert!(!survived, "{gateway_device} survived on {}", host.name());
        let table = host.run("nft", &["list", "table", "inet", "swarm_overlay"]).status.success();
        assert!(!table, "the isolation table survived on {}", host.name());
    }
}
