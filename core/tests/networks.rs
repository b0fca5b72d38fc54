//! Overlay networks in the store and the allocator, through the public seam (`Store::apply`, `pipeline::run`):
//! subnets from the pools or the user's, refused overlaps and malformed requests, virtual IPs, task addresses and
//! node gateways, their release as objects go, and a property test over random create/scale/update/remove/
//! node-loss sequences asserting that what is allocated is exactly what live objects hold.

mod common;

use std::net::Ipv4Addr;

use common::{at, T0};
use proptest::prelude::*;
use swarm_core::ipam::Ipv4Cidr;
use swarm_core::*;

struct Cluster {
    store: Store,
    now: u64,
    ids: SequentialIds,
}

impl Cluster {
    fn new(settings: ClusterSettings) -> Cluster {
        let mut cluster = Cluster { store: Store::new(), now: T0, ids: SequentialIds::new("task") };
        cluster.run(Command::InitCluster {
            cluster_id: "c1".into(),
            settings,
            join_tokens: JoinTokens::from_parts("digest", "worker", "manager"),
        });
        cluster
    }

    fn try_run(&mut self, command: Command) -> Result<Outcome, Rejection> {
        self.now += 1;
        self.store.apply(&at(self.now, command))
    }

    fn run(&mut self, command: Command) {
        let name = command.name();
        if let Err(rejection) = self.try_run(command) {
            panic!("{name} rejected: {rejection}");
        }
    }

    /// A ready node whose underlay address is `192.168.0.<n>:2377` for the `n` of its id's digits (0 without).
    fn node(&mut self, id: &str) {
        self.run(common::create_node(id));
        let host: u8 = id.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
        self.run(Command::SetNodeStatus {
            id: id.into(),
            status: NodeStatus {
                state: NodeState::Ready,
                message: String::new(),
                addr: format!("192.168.0.{host}:2377"),
            },
        });
    }

    fn network(&mut self, id: &str, spec: NetworkSpec) -> Result<Outcome, Rejection> {
        self.try_run(Command::CreateNetwork { network_id: id.into(), spec })
    }

    /// Runs the leader's pipeline until it proposes nothing, applying every command (none may be rejected).
    fn settle(&mut self) {
        for _ in 0..20 {
            let commands = pipeline::run(&self.store, Timestamp(self.now), &mut self.ids);
            if commands.is_empty() {
                return;
            }
            for command in commands {
                if let Err(rejection) = self.try_run(command.clone()) {
                    panic!("pipeline command rejected: {rejection}\n{command:?}");
                }
            }
        }
        panic!("the pipeline did not settle");
    }

    fn subnet(&self, id: &str) -> String {
        self.store.network(id).unwrap().allocation.subnet.to_string()
    }
}

fn service(name: &str, replicas: u64, networks: &[&str]) -> ServiceSpec {
    let mut spec = ServiceSpec::replicated(name, "bb:1", replicas);
    spec.task_template.networks = networks.iter().map(|n| NetworkAttachmentConfig::new(*n)).collect();
    spec
}

fn with_subnet(name: &str, subnet: &str, gateway: Option<&str>, ip_range: Option<&str>) -> NetworkSpec {
    NetworkSpec {
        ipam: vec![IpamConfig {
            subnet: subnet.parse().unwrap(),
            gateway: gateway.map(|g| g.parse().unwrap()),
            ip_range: ip_range.map(|r| r.parse().unwrap()),
        }],
        ..NetworkSpec::overlay(name)
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

#[test]
fn networks_take_the_lowest_free_subnets_and_vxlan_ids() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    cluster.network("ing", NetworkSpec::ingress()).unwrap();
    cluster.network("a", NetworkSpec::overlay("a")).unwrap();
    cluster.network("b", with_subnet("b", "10.0.0.0/23", None, None)).unwrap_err();
    cluster.network("b", with_subnet("b", "10.0.4.0/23", Some("10.0.5.254"), None)).unwrap();
    cluster.network("c", NetworkSpec::overlay("c")).unwrap();
    assert_eq!(cluster.subnet("ing"), "10.0.0.0/24");
    assert_eq!(cluster.subnet("a"), "10.0.1.0/24");
    assert_eq!(cluster.subnet("c"), "10.0.2.0/24");
    let b = &cluster.store.network("b").unwrap().allocation;
    assert_eq!(b.gateway, ip("10.0.5.254"));
    let vxlan: Vec<u32> =
        ["ing", "a", "b", "c"].iter().map(|id| cluster.store.network(id).unwrap().allocation.vxlan_id).collect();
    assert_eq!(vxlan, [4096, 4097, 4098, 4099]);
    // Removing a network frees its subnet and VXLAN id for the next one.
    cluster.run(Command::RemoveNetwork { id: "a".into() });
    cluster.network("d", NetworkSpec::overlay("d")).unwrap();
    assert_eq!(cluster.subnet("d"), "10.0.1.0/24");
    assert_eq!(cluster.store.network("d").unwrap().allocation.vxlan_id, 4097);
}

#[test]
fn bad_network_requests_are_refused_with_the_reason_and_change_nothing() {
    let pools = ClusterSettings {
        default_addr_pools: vec!["172.30.0.0/23".parse().unwrap()],
        default_subnet_prefix_len: 24,
        ..ClusterSettings::default()
    };
    let mut cluster = Cluster::new(pools);
    cluster.network("a", with_subnet("a", "192.168.10.0/24", None, None)).unwrap();
    let cases: Vec<(NetworkSpec, &str)> = vec![
        (
            with_subnet("x", "192.168.0.0/16", None, None),
            "invalid pool request: subnet 192.168.0.0/16 overlaps with network a (192.168.10.0/24)",
        ),
        (
            with_subnet("x", "10.1.0.0/24", Some("10.2.0.1"), None),
            "network x: gateway 10.2.0.1 is not inside subnet 10.1.0.0/24",
        ),
        (
            with_subnet("x", "10.1.0.0/24", Some("10.1.0.255"), None),
            "network x: gateway 10.1.0.255 is the network or broadcast address of 10.1.0.0/24",
        ),
        (
            with_subnet("x", "10.1.0.0/24", None, Some("10.1.1.0/28")),
            "network x: ip-range 10.1.1.0/28 is not inside subnet 10.1.0.0/24",
        ),
        (
            with_subnet("x", "10.1.0.0/30", None, None),
            "network x: subnet 10.1.0.0/30 is too small: a /29 or larger is needed",
        ),
        (
            NetworkSpec { driver: "bridge".into(), ..NetworkSpec::overlay("x") },
            "network x: driver \"bridge\" is not supported; swarm networks use \"overlay\"",
        ),
        (NetworkSpec::overlay("a"), "network name \"a\" is already in use by network a"),
    ];
    for (spec, message) in cases {
        let before = cluster.store.clone();
        let rejection = cluster.network("x", spec).unwrap_err();
        assert_eq!(rejection.to_string(), message);
        assert_eq!(cluster.store, before);
    }
    // The pool holds two /24s: the third network finds none.
    cluster.network("p1", NetworkSpec::overlay("p1")).unwrap();
    cluster.network("p2", NetworkSpec::overlay("p2")).unwrap();
    let rejection = cluster.network("p3", NetworkSpec::overlay("p3")).unwrap_err();
    assert_eq!(rejection, Rejection::AddressPoolsExhausted);
    assert_eq!(cluster.subnet("p2"), "172.30.1.0/24");
    // Pools are fixed at init.
    let mut settings = cluster.store.cluster().unwrap().settings.clone();
    settings.default_subnet_prefix_len = 26;
    let version = cluster.store.cluster().unwrap().version;
    let rejection = cluster.try_run(Command::UpdateClusterSettings { version, settings }).unwrap_err();
    assert!(rejection.to_string().contains("fixed at swarm init"), "{rejection}");
}

#[test]
fn bad_address_pool_settings_are_refused_at_init() {
    let cases: Vec<(ClusterSettings, &str)> = vec![
        (
            ClusterSettings { default_addr_pools: vec![], ..ClusterSettings::default() },
            "at least one default address pool",
        ),
        (
            ClusterSettings { default_subnet_prefix_len: 30, ..ClusterSettings::default() },
            "invalid subnet mask length 30",
        ),
        (
            ClusterSettings { default_addr_pools: vec!["10.0.0.0/25".parse().unwrap()], ..ClusterSettings::default() },
            "smaller than the subnet mask length",
        ),
        (
            ClusterSettings {
                default_addr_pools: vec!["10.0.0.0/8".parse().unwrap(), "10.5.0.0/16".parse().unwrap()],
                ..ClusterSettings::default()
            },
            "address pools 10.0.0.0/8 and 10.5.0.0/16 overlap",
        ),
        (ClusterSettings { data_path_port: 80, ..ClusterSettings::default() }, "data path port 80 is out of range"),
    ];
    for (settings, message) in cases {
        let mut store = Store::new();
        let command = Command::InitCluster {
            cluster_id: "c1".into(),
            settings,
            join_tokens: JoinTokens::from_parts("digest", "worker", "manager"),
        };
        let rejection = store.apply(&at(T0, command)).unwrap_err();
        assert!(rejection.to_string().contains(message), "{rejection} should contain {message}");
        assert!(!store.is_initialized());
    }
}

#[test]
fn services_get_vips_tasks_get_addresses_and_nodes_get_gateways() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    cluster.network("ing", NetworkSpec::ingress()).unwrap();
    cluster.network("front", NetworkSpec::overlay("front")).unwrap();
    cluster.network("back", NetworkSpec::overlay("back")).unwrap();
    cluster.node("n1");
    cluster.node("n2");
    cluster.run(Command::CreateService { service_id: "web".into(), spec: service("web", 3, &["front", "back"]) });
    let mut dns = service("db", 2, &["back"]);
    dns.endpoint_spec.mode = ResolutionMode::Dnsrr;
    cluster.run(Command::CreateService { service_id: "db".into(), spec: dns });
    cluster.settle();

    let web = cluster.store.service("web").unwrap();
    let vips: Vec<(String, Ipv4Addr)> = web.virtual_ips.iter().map(|v| (v.network_id.clone(), v.addr)).collect();
    assert_eq!(vips, [("front".to_string(), ip("10.0.1.2")), ("back".to_string(), ip("10.0.2.2"))]);
    assert!(cluster.store.service("db").unwrap().virtual_ips.is_empty(), "dnsrr has no VIP");
    assert_eq!(web.version, Version::INITIAL, "the allocator's bookkeeping does not bump the version");
    let tasks: Vec<&Task> = cluster.store.tasks().collect();
    assert_eq!(tasks.len(), 5);
    for task in &tasks {
        assert!(task.status.state >= TaskState::Assigned, "{} is {}", task.id, task.status.state);
        assert_eq!(task.networks.len(), task.spec.networks.len());
        for attachment in &task.networks {
            let network = cluster.store.network(&attachment.network_id).unwrap();
            assert!(network.allocation.subnet.contains(attachment.addr));
            let node = task.node_id.as_ref().unwrap();
            assert!(network.allocation.node_gateways.contains_key(node), "{node} has a gateway on {}", network.id);
        }
    }
    // front: nominal gateway, VIP, 3 tasks, a gateway per node.
    assert_eq!(cluster.store.ipam().network("front").unwrap().used_count(), 1 + 1 + 3 + 2);
    assert_eq!(cluster.store.ipam().network("back").unwrap().used_count(), 1 + 1 + 5 + 2);
    assert_eq!(cluster.store.ipam().network("ing").unwrap().used_count(), 1);

    // In use: refused, naming the services.
    let rejection = cluster.try_run(Command::RemoveNetwork { id: "back".into() }).unwrap_err();
    assert_eq!(rejection.to_string(), "network back is in use by service db, web");
    let rejection = cluster.try_run(Command::RemoveNetwork { id: "ing".into() }).unwrap_err();
    assert_eq!(rejection.to_string(), "ingress is the routing mesh's ingress network and cannot be removed");
    let rejection = cluster
        .try_run(Command::CreateService { service_id: "x".into(), spec: service("x", 1, &["ingress"]) })
        .unwrap_err();
    assert_eq!(rejection.to_string(), "service cannot be explicitly attached to the ingress network \"ingress\"");
    let rejection = cluster
        .try_run(Command::CreateService { service_id: "x".into(), spec: service("x", 1, &["nope"]) })
        .unwrap_err();
    assert_eq!(rejection.to_string(), "no such network: nope");

    // An update that leaves `front` drops its VIP and keeps the other one.
    let version = cluster.store.service("web").unwrap().version;
    cluster.run(Command::UpdateService { id: "web".into(), version, spec: service("web", 3, &["back"]) });
    cluster.settle();
    let web = cluster.store.service("web").unwrap();
    assert_eq!(web.virtual_ips, [VirtualIp { network_id: "back".into(), addr: ip("10.0.2.2") }]);

    // Tasks that end give their addresses back; removing the services frees everything but the gateways.
    for task in cluster.store.tasks().map(|t| t.id.clone()).collect::<Vec<_>>() {
        cluster.run(common::set_status(&task, TaskState::Shutdown));
    }
    cluster.run(Command::RemoveService { id: "web".into() });
    cluster.run(Command::RemoveService { id: "db".into() });
    assert_eq!(cluster.store.ipam().network("back").unwrap().used_count(), 1 + 2);
    cluster.run(Command::RemoveNode { id: "n1".into() });
    assert_eq!(cluster.store.ipam().network("back").unwrap().used_count(), 1 + 1);
    cluster.run(Command::RemoveNetwork { id: "back".into() });
    cluster.run(Command::RemoveNetwork { id: "front".into() });
    assert!(cluster.store.ipam().network("back").is_none());
}

#[test]
fn an_exhausted_network_leaves_tasks_new_until_addresses_free_up() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    // A /29 has 6 host addresses: the nominal gateway, one node gateway, the VIP and three tasks.
    cluster.network("tiny", with_subnet("tiny", "10.9.0.0/29", None, None)).unwrap();
    cluster.node("n1");
    cluster.run(Command::CreateService { service_id: "s".into(), spec: service("s", 5, &["tiny"]) });
    cluster.settle();
    let states: Vec<TaskState> = cluster.store.tasks().map(|t| t.status.state).collect();
    assert_eq!(states.iter().filter(|s| **s == TaskState::New).count(), 2, "{states:?}");
    assert_eq!(cluster.store.ipam().network("tiny").unwrap().used_count(), 6);
    let running: Vec<String> =
        cluster.store.tasks().filter(|t| t.status.state != TaskState::New).map(|t| t.id.clone()).collect();
    cluster.run(common::set_status(&running[0], TaskState::Failed));
    cluster.settle();
    assert_eq!(
        cluster.store.tasks().filter(|t| t.status.state == TaskState::New).count(),
        1,
        "the freed address went to a waiting task (the failed slot is replaced after its restart delay)"
    );
}

#[test]
fn the_index_survives_a_snapshot_and_the_previous_format_upgrades() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    cluster.network("front", NetworkSpec::overlay("front")).unwrap();
    cluster.node("n1");
    cluster.run(Command::CreateService { service_id: "web".into(), spec: service("web", 2, &["front"]) });
    cluster.settle();
    let decoded = Store::decode_snapshot(&cluster.store.encode_snapshot()).unwrap();
    assert_eq!(decoded, cluster.store);
    assert_eq!(decoded.ipam(), cluster.store.ipam());
    // A snapshot whose address claims collide is refused, not trusted.
    let mut bytes = cluster.store.encode_snapshot();
    let vip = cluster.store.service("web").unwrap().virtual_ips[0].addr.octets();
    let task_addr = cluster.store.tasks().next().unwrap().networks[0].addr.octets();
    let at = bytes.windows(4).rposition(|w| w == task_addr).unwrap();
    bytes[at..at + 4].copy_from_slice(&vip);
    match Store::decode_snapshot(&bytes) {
        Err(DecodeError::Inconsistent { reason }) => assert!(reason.contains("taken"), "{reason}"),
        other => panic!("expected an inconsistent snapshot, got {other:?}"),
    }
}

#[test]
fn each_node_is_told_the_remote_endpoints_of_the_networks_it_realises() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    cluster.network("front", NetworkSpec::overlay("front")).unwrap();
    cluster.network("idle", NetworkSpec::overlay("idle")).unwrap();
    cluster.node("n1");
    cluster.node("n2");
    cluster.node("n3");
    cluster.run(Command::CreateService { service_id: "web".into(), spec: service("web", 2, &["front"]) });
    cluster.settle();
    let on = |node: &str| cluster.store.tasks_on_node(node).count();
    let (with, without): (Vec<&str>, Vec<&str>) = ["n1", "n2", "n3"].into_iter().partition(|n| on(n) > 0);
    assert_eq!((with.len(), without.len()), (2, 1));
    let plan = overlay::plan_for_node(&cluster.store, with[0]);
    assert_eq!(plan.data_path_port, 4789);
    assert_eq!(plan.networks.len(), 1, "only networks with a local task: {plan:?}");
    let front = &plan.networks[0];
    let network = cluster.store.network("front").unwrap();
    assert_eq!(front.local_gateway, network.allocation.node_gateways[with[0]]);
    let other_underlay = overlay::underlay_addr(&cluster.store.node(with[1]).unwrap().status.addr).unwrap();
    assert_eq!(front.remote_peers, [other_underlay]);
    let mut expected: Vec<overlay::RemoteEndpoint> = cluster
        .store
        .tasks_on_node(with[1])
        .map(|t| overlay::RemoteEndpoint { addr: t.networks[0].addr, underlay: other_underlay })
        .collect();
    expected
        .push(overlay::RemoteEndpoint { addr: network.allocation.node_gateways[with[1]], underlay: other_underlay });
    expected.sort();
    assert_eq!(front.remote_endpoints, expected);
    assert!(overlay::plan_for_node(&cluster.store, without[0]).networks.is_empty());
    // A task that ends leaves every other node's plan.
    let task = cluster.store.tasks_on_node(with[1]).next().unwrap().id.clone();
    cluster.run(common::set_status(&task, TaskState::Failed));
    let plan = overlay::plan_for_node(&cluster.store, with[0]);
    assert_eq!(plan.networks[0].remote_endpoints.len(), 1, "only the other node's gateway is left: {plan:?}");
}

#[test]
fn the_routing_mesh_reaches_every_node_and_follows_the_running_tasks() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    cluster.network("ing", NetworkSpec::ingress()).unwrap();
    for node in ["n1", "n2", "n3"] {
        cluster.node(node);
    }
    let mut spec = service("web", 1, &[]);
    spec.endpoint_spec.ports = vec![PortConfig::tcp(8080, 80)];
    cluster.run(Command::CreateService { service_id: "web".into(), spec });
    cluster.settle();
    let task = cluster.store.tasks().next().unwrap().clone();
    assert_eq!(task.networks.iter().map(|a| a.network_id.as_str()).collect::<Vec<_>>(), ["ing"]);
    let ingress = cluster.store.network("ing").unwrap();
    assert_eq!(
        ingress.allocation.node_gateways.len(),
        3,
        "every node answers on the port, so every node has a gateway"
    );
    let idle = ["n1", "n2", "n3"].into_iter().find(|n| Some(*n) != task.node_id.as_deref()).unwrap();
    let plan = overlay::plan_for_node(&cluster.store, idle);
    assert_eq!(plan.networks.iter().map(|n| n.network_id.as_str()).collect::<Vec<_>>(), ["ing"], "{plan:?}");
    assert_eq!(plan.mesh.network_id, "ing");
    let port = &plan.mesh.ports[0];
    assert_eq!((port.published_port, port.target_port, port.service.as_str()), (8080, 80, "web"));
    assert!(port.backends.is_empty(), "no task runs yet: {plan:?}");
    cluster.run(common::set_status(&task.id, TaskState::Running));
    let plan = overlay::plan_for_node(&cluster.store, idle);
    assert_eq!(plan.mesh.ports[0].backends, [task.networks[0].addr]);
    // A service without ingress ports gets no address on `ingress`; without any, no node realises it.
    cluster.run(Command::CreateService { service_id: "quiet".into(), spec: service("quiet", 1, &[]) });
    cluster.settle();
    let quiet = cluster.store.tasks().find(|t| t.service_id == "quiet").unwrap();
    assert!(quiet.networks.is_empty(), "{quiet:?}");
    cluster.run(Command::RemoveService { id: "web".into() });
    let plan = overlay::plan_for_node(&cluster.store, idle);
    assert!(plan.networks.is_empty() && plan.mesh.ports.is_empty(), "{plan:?}");
}

#[test]
fn released_addresses_are_not_handed_out_again_at_once() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    cluster.network("front", NetworkSpec::overlay("front")).unwrap();
    cluster.node("n1");
    cluster.run(Command::CreateService { service_id: "a".into(), spec: service("a", 2, &["front"]) });
    cluster.settle();
    let first: Vec<Ipv4Addr> = cluster.store.tasks().map(|t| t.networks[0].addr).collect();
    cluster.run(Command::RemoveService { id: "a".into() });
    cluster.run(Command::CreateService { service_id: "b".into(), spec: service("b", 2, &["front"]) });
    cluster.settle();
    let second: Vec<Ipv4Addr> = cluster.store.tasks().map(|t| t.networks[0].addr).collect();
    assert!(second.iter().all(|addr| !first.contains(addr)), "{first:?} handed out again: {second:?}");
    // Addresses come in turn: the cursor wraps around a small subnet and reuses the lowest free ones.
    cluster.network("tiny", with_subnet("tiny", "10.9.0.0/29", None, None)).unwrap();
    let mut seen = Vec::new();
    for round in 0..4 {
        let id = format!("t{round}");
        cluster.run(Command::CreateService { service_id: id.clone(), spec: service(&id, 1, &["tiny"]) });
        cluster.settle();
        seen.push(cluster.store.tasks_of_service(&id).next().unwrap().networks[0].addr);
        cluster.run(Command::RemoveService { id });
    }
    // .1 is the nominal gateway; round 0: VIP .2, task .3, n1's gateway .4; round 1: VIP .5, task .6; then the
    // cursor wraps to the lowest free ones: .2 and .3 again, then .5 and .6.
    assert_eq!(seen, [ip("10.9.0.3"), ip("10.9.0.6"), ip("10.9.0.3"), ip("10.9.0.6")]);
}

/// One step of a random workload.
#[derive(Debug, Clone)]
enum Step {
    CreateNetwork(u8),
    RemoveNetwork(u8),
    CreateService { service: u8, replicas: u8, networks: Vec<u8>, dnsrr: bool },
    Scale { service: u8, replicas: u8 },
    SetNetworks { service: u8, networks: Vec<u8> },
    RemoveService(u8),
    TaskEnds(u8),
    NodeLost(u8),
    NodeJoins,
    Settle,
}

fn step() -> impl Strategy<Value = Step> {
    let networks = proptest::collection::vec(0u8..4, 0..3);
    prop_oneof![
        (0u8..4).prop_map(Step::CreateNetwork),
        (0u8..4).prop_map(Step::RemoveNetwork),
        (0u8..3, 0u8..8, networks.clone(), any::<bool>()).prop_map(|(service, replicas, networks, dnsrr)| {
            Step::CreateService { service, replicas, networks, dnsrr }
        }),
        (0u8..3, 0u8..8).prop_map(|(service, replicas)| Step::Scale { service, replicas }),
        (0u8..3, networks).prop_map(|(service, networks)| Step::SetNetworks { service, networks }),
        (0u8..3).prop_map(Step::RemoveService),
        any::<u8>().prop_map(Step::TaskEnds),
        (0u8..3).prop_map(Step::NodeLost),
        Just(Step::NodeJoins),
        Just(Step::Settle),
        Just(Step::Settle),
    ]
}

fn spec_of(service: u8, replicas: u8, networks: &[u8], dnsrr: bool) -> ServiceSpec {
    let mut names: Vec<String> = networks.iter().map(|n| format!("net{n}")).collect();
    names.sort();
    names.dedup();
    let mut spec = service_spec_named(service, replicas);
    spec.task_template.networks = names.into_iter().map(NetworkAttachmentConfig::new).collect();
    if dnsrr {
        spec.endpoint_spec.mode = ResolutionMode::Dnsrr;
    } else if service.is_multiple_of(2) {
        // Through the routing mesh: its tasks get an address on `ingress`, every node a gateway there.
        spec.endpoint_spec.ports = vec![PortConfig::tcp(8000 + u32::from(service), 80)];
    }
    spec
}

fn service_spec_named(service: u8, replicas: u8) -> ServiceSpec {
    ServiceSpec::replicated(format!("svc{service}"), "bb:1", u64::from(replicas))
}

/// Every address the index marks used is held by exactly one live object, and every held address is marked: the
/// count per network equals nominal gateway + node gateways + VIPs + live tasks' addresses.
fn allocated_equals_live(store: &Store) {
    store.check_invariants();
    for network in store.networks() {
        let vips = store.services().flat_map(|s| &s.virtual_ips).filter(|v| v.network_id == network.id).count();
        let tasks = store
            .tasks()
            .filter(|t| ipam::holds_addresses(t))
            .flat_map(|t| &t.networks)
            .filter(|a| a.network_id == network.id)
            .count();
        let expected = 1 + network.allocation.node_gateways.len() + vips + tasks;
        assert_eq!(store.ipam().network(&network.id).unwrap().used_count() as usize, expected, "{}", network.id);
    }
}

fn play(steps: &[Step]) {
    let mut cluster = Cluster::new(ClusterSettings {
        default_addr_pools: vec!["10.20.0.0/26".parse::<Ipv4Cidr>().unwrap()],
        default_subnet_prefix_len: 28,
        ..ClusterSettings::default()
    });
    cluster.network("ingress", NetworkSpec::ingress()).unwrap();
    for node in 0..3 {
        cluster.node(&format!("n{node}"));
    }
    let mut joined = 3;
    for step in steps {
        // Rejections are expected (names in use, networks in use, exhausted pools); they must change nothing.
        let before = cluster.store.clone();
        let result = match step {
            Step::CreateNetwork(n) => cluster.network(&format!("net{n}"), NetworkSpec::overlay(format!("net{n}"))),
            Step::RemoveNetwork(n) => cluster.try_run(Command::RemoveNetwork { id: format!("net{n}") }),
            Step::CreateService { service, replicas, networks, dnsrr } => cluster.try_run(Command::CreateService {
                service_id: format!("s{service}"),
                spec: spec_of(*service, *replicas, networks, *dnsrr),
            }),
            Step::Scale { service, replicas } => match cluster.store.service(&format!("s{service}")).cloned() {
                None => Ok(Outcome::Unchanged),
                Some(s) => {
                    let mut spec = s.spec.clone();
                    spec.mode = ServiceMode::Replicated { replicas: u64::from(*replicas) };
                    cluster.try_run(Command::UpdateService { id: s.id.clone(), version: s.version, spec })
                }
            },
            Step::SetNetworks { service, networks } => match cluster.store.service(&format!("s{service}")).cloned() {
                None => Ok(Outcome::Unchanged),
                Some(s) => {
                    let replicas = match s.spec.mode {
                        ServiceMode::Replicated { replicas } => replicas as u8,
                        _ => 1,
                    };
                    let dnsrr = s.spec.endpoint_spec.mode == ResolutionMode::Dnsrr;
                    let spec = spec_of(*service, replicas, networks, dnsrr);
                    cluster.try_run(Command::UpdateService { id: s.id.clone(), version: s.version, spec })
                }
            },
            Step::RemoveService(n) => cluster.try_run(Command::RemoveService { id: format!("s{n}") }),
            Step::TaskEnds(pick) => {
                let live: Vec<String> =
                    cluster.store.tasks().filter(|t| ipam::holds_addresses(t)).map(|t| t.id.clone()).collect();
                match live.get(usize::from(*pick) % live.len().max(1)) {
                    None => Ok(Outcome::Unchanged),
                    Some(id) => cluster.try_run(common::set_status(id, TaskState::Failed)),
                }
            }
            Step::NodeLost(_) if cluster.store.node_count() <= 1 => Ok(Outcome::Unchanged),
            Step::NodeLost(pick) => {
                let nodes: Vec<String> = cluster.store.nodes().map(|n| n.id.clone()).collect();
                let node = nodes[usize::from(*pick) % nodes.len()].clone();
                // The node's tasks end (orphaned), their history is removed, then the node.
                let tasks: Vec<String> = cluster.store.tasks_on_node(&node).map(|t| t.id.clone()).collect();
                let mut batch: Vec<Command> =
                    tasks.iter().map(|id| common::set_status(id, TaskState::Orphaned)).collect();
                batch.push(Command::RemoveTasks { ids: tasks });
                batch.push(Command::RemoveNode { id: node });
                cluster.try_run(Command::Batch(batch))
            }
            Step::NodeJoins => {
                joined += 1;
                cluster.node(&format!("n{joined}"));
                Ok(Outcome::Unchanged)
            }
            Step::Settle => {
                cluster.settle();
                Ok(Outcome::Unchanged)
            }
        };
        if result.is_err() {
            assert_eq!(cluster.store, before, "a rejected {step:?} changed the store");
        }
        allocated_equals_live(&cluster.store);
    }
    cluster.settle();
    allocated_equals_live(&cluster.store);
    // Removing everything leaves only the networks' nominal gateways and the nodes' gateways.
    for id in cluster.store.services().map(|s| s.id.clone()).collect::<Vec<_>>() {
        cluster.run(Command::RemoveService { id });
    }
    // `ingress` stays (it cannot be removed), holding its nominal gateway and the nodes' gateways only.
    for network in cluster.store.networks().filter(|n| !n.spec.ingress).map(|n| n.id.clone()).collect::<Vec<_>>() {
        cluster.run(Command::RemoveNetwork { id: network });
    }
    allocated_equals_live(&cluster.store);
    let ingress = cluster.store.ingress_network().expect("ingress stays");
    let held = 1 + ingress.allocation.node_gateways.len();
    assert_eq!(cluster.store.ipam().network(&ingress.id).unwrap().used_count() as usize, held, "nothing leaked");
    assert_eq!(cluster.store.networks().count(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn allocated_is_always_exactly_what_live_objects_hold(steps in proptest::collection::vec(step(), 1..60)) {
        play(&steps);
    }
}

fn key(byte: u8) -> TunnelKey {
    TunnelKey([byte; 32])
}

fn report_tunnel(cluster: &mut Cluster, node: &str, public_key: TunnelKey) -> Outcome {
    cluster.try_run(Command::SetNodeTunnel { node_id: node.into(), public_key, port: 51820 }).unwrap()
}

#[test]
fn encrypted_networks_reach_their_peers_only_through_tunnels() {
    let mut cluster = Cluster::new(ClusterSettings::default());
    let encrypted =
        NetworkSpec { options: [("encrypted".to_string(), String::new())].into(), ..NetworkSpec::overlay("sec") };
    cluster.network("sec", encrypted).unwrap();
    for node in ["n1", "n2", "n3"] {
        cluster.node(node);
    }
    cluster.run(Command::CreateService { service_id: "db".into(), spec: service("db", 3, &["sec"]) });
    cluster.settle();
    assert!(["n1", "n2", "n3"].iter().all(|n| cluster.store.tasks_on_node(n).count() == 1));
    // Before any key: the network is planned (its tasks wait for it) but reaches no peer.
    let plan = overlay::plan_for_node(&cluster.store, "n1");
    assert!(plan.networks[0].encrypted && plan.networks[0].remote_peers.is_empty(), "{plan:?}");
    assert_eq!(plan.tunnel, overlay::TunnelPlan::default());

    assert!(matches!(report_tunnel(&mut cluster, "n1", key(1)), Outcome::Updated { .. }));
    assert_eq!(report_tunnel(&mut cluster, "n1", key(1)), Outcome::Unchanged, "the same report changes nothing");
    report_tunnel(&mut cluster, "n2", key(2));
    let plan = overlay::plan_for_node(&cluster.store, "n1");
    let local = plan.tunnel.local.unwrap();
    assert_eq!((local.addr, local.public_key, local.port), (ip("169.254.64.1"), key(1), 51820));
    let n2_tunnel = ip("169.254.64.2");
    assert_eq!(
        plan.tunnel.peers,
        [overlay::TunnelPeer { addr: n2_tunnel, public_key: key(2), endpoint: ip("192.168.0.2"), port: 51820 }],
        "n3 has no key yet: it is no peer"
    );
    let network = &plan.networks[0];
    assert_eq!(network.remote_peers, [n2_tunnel], "n2 through its tunnel address, never its underlay one");
    assert!(network.remote_endpoints.iter().all(|endpoint| endpoint.underlay == n2_tunnel), "{network:?}");
    assert_eq!(network.remote_endpoints.len(), 2, "n2's task and gateway");
    // The tunnels' port is the cluster's own: the mesh may not take it.
    assert!(cluster.store.reserved_ports().contains_key(&(51820, PortProtocol::Udp)));

    // A rotated key keeps the node's tunnel address.
    report_tunnel(&mut cluster, "n2", key(22));
    assert_eq!(cluster.store.tunnel("n2").map(|t| (t.addr, t.public_key)), Some((n2_tunnel, key(22))));
    // Bad reports are refused and change nothing.
    let before = cluster.store.clone();
    let port_zero = Command::SetNodeTunnel { node_id: "n1".into(), public_key: key(9), port: 0 };
    assert_eq!(cluster.try_run(port_zero).unwrap_err().to_string(), "node n1: tunnel for encrypted networks: port 0");
    let unknown = Command::SetNodeTunnel { node_id: "nx".into(), public_key: key(9), port: 1 };
    assert_eq!(cluster.try_run(unknown).unwrap_err(), Rejection::NoSuchNode { id: "nx".into() });
    let data_path = Command::SetNodeTunnel { node_id: "n1".into(), public_key: key(9), port: 4789 };
    let refused = cluster.try_run(data_path).unwrap_err().to_string();
    assert!(refused.contains("port 4789 is the data-path port"), "{refused}");
    let stolen = Command::SetNodeTunnel { node_id: "n3".into(), public_key: key(1), port: 51820 };
    let refused = cluster.try_run(stolen).unwrap_err().to_string();
    assert!(refused.contains("is node n1's"), "a node cannot report another's key: {refused}");
    assert_eq!(cluster.store, before);

    // A removed node's record goes with it (its peers drop it at once); its address is free again.
    cluster.node("n4");
    report_tunnel(&mut cluster, "n4", key(4));
    assert_eq!(cluster.store.tunnel("n4").unwrap().addr, ip("169.254.64.3"));
    cluster.run(Command::RemoveNode { id: "n4".into() });
    assert_eq!(cluster.store.tunnel("n4"), None);
    cluster.node("n5");
    report_tunnel(&mut cluster, "n5", key(5));
    assert_eq!(cluster.store.tunnel("n5").unwrap().addr, ip("169.254.64.3"));

    // Snapshots carry the records, in this format and the previous one (9).
    let decoded = Store::decode_snapshot(&cluster.store.encode_snapshot()).unwrap();
    assert_eq!(decoded, cluster.store);
    let upgraded = Store::decode_snapshot(&cluster.store.encode_snapshot_previous_format()).unwrap();
    assert_eq!(upgraded, cluster.store);
}

#[test]
fn driver_options_are_checked_before_a_network_is_proposed() {
    let cases: Vec<(NetworkSpec, &str)> = vec![
        (
            NetworkSpec { options: [("mtu".to_string(), "1400".to_string())].into(), ..NetworkSpec::overlay("x") },
            "network x: unknown option \"mtu\" of the overlay driver (it takes: encrypted, and options of your own \
             named in reverse-DNS style, such as com.example.key)",
        ),
        (
            NetworkSpec {
                options: [("com.docker.network.driver.mtu".to_string(), "1400".to_string())].into(),
                ..NetworkSpec::overlay("x")
            },
            "network x: unknown option \"com.docker.network.driver.mtu\" of the overlay driver (it takes: encrypted, \
             and options of your own named in reverse-DNS style, such as com.example.key)",
        ),
        (
            NetworkSpec { options: [("encrypted".to_string(), String::new())].into(), ..NetworkSpec::ingress() },
            "network ingress: the routing mesh's ingress network cannot be encrypted (encrypt the networks services \
             share)",
        ),
    ];
    for (spec, message) in cases {
        assert_eq!(spec.check_driver_options().unwrap_err(), message);
    }
    let mut fine = NetworkSpec::overlay("x");
    fine.options =
        [("encrypted".to_string(), String::new()), ("com.example.team".to_string(), "web".to_string())].into();
    assert_eq!(fine.check_driver_options(), Ok(()));
}
