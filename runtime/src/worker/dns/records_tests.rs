//! Table-driven tests of the resolver's records: every name kind, visibility across networks, dnsrr, aliases,
//! case and the trailing dot. Each case names the client, the query and the expected resolution.

use std::net::{Ipv4Addr, SocketAddr};

use swarm_core::ipam::Ipv4Cidr;
use swarm_core::overlay::{NodeOverlayPlan, OverlayNetworkPlan, ServiceEndpoints, TaskEndpoint};
use swarm_core::NetworkAttachment;

use super::{DnsRecords, Resolution};

fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect("test address")
}

fn network(id: &str, subnet: &str, gateway: &str, services: Vec<ServiceEndpoints>) -> OverlayNetworkPlan {
    OverlayNetworkPlan {
        network_id: id.to_string(),
        name: format!("{id}-name"),
        subnet: Ipv4Cidr::parse(subnet).expect("test subnet"),
        local_gateway: ip(gateway),
        vxlan_id: 4096,
        internal: false,
        encrypted: false,
        remote_peers: Vec::new(),
        remote_endpoints: Vec::new(),
        services,
    }
}

fn service(name: &str, aliases: &[&str], vip: Option<&str>, tasks: &[(&str, &str)]) -> ServiceEndpoints {
    ServiceEndpoints {
        name: name.to_string(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        vip: vip.map(ip),
        tasks: tasks.iter().map(|(addr, name)| TaskEndpoint { addr: ip(addr), name: name.to_string() }).collect(),
    }
}

fn attach(pairs: &[(&str, &str)]) -> Vec<NetworkAttachment> {
    pairs.iter().map(|(id, addr)| NetworkAttachment { network_id: id.to_string(), addr: ip(addr) }).collect()
}

/// Two networks: `front` (10.0.1.0/24) with `web` (vip, alias `www`) and `proxy`; `back` (10.0.2.0/24) with
/// `db` (dnsrr, alias `database`), `empty` (dnsrr, no running task), `idle` (vip, no running task) and `web`
/// again (its VIP there differs). Local tasks: `proxy.1` on front only, `web.1` on front and back, a task on a
/// network the plan does not hold, and an attachment outside its subnet.
fn records() -> DnsRecords {
    let front = network(
        "front",
        "10.0.1.0/24",
        "10.0.1.254",
        vec![
            service("proxy", &[], Some("10.0.1.2"), &[("10.0.1.10", "proxy.1.p1")]),
            service("web", &["www"], Some("10.0.1.3"), &[("10.0.1.20", "web.1.w1"), ("10.0.1.21", "web.2.w2")]),
        ],
    );
    let back = network(
        "back",
        "10.0.2.0/24",
        "10.0.2.254",
        vec![
            service("db", &["database"], None, &[("10.0.2.30", "db.1.d1"), ("10.0.2.31", "db.2.d2")]),
            service("empty", &[], None, &[]),
            service("idle", &[], Some("10.0.2.4"), &[]),
            service("web", &[], Some("10.0.2.3"), &[("10.0.2.20", "web.1.w1")]),
        ],
    );
    let plan = NodeOverlayPlan {
        networks: vec![back, front],
        data_path_port: 4789,
        mesh: Default::default(),
        tunnel: Default::default(),
    };
    let proxy = attach(&[("front", "10.0.1.10")]);
    let web = attach(&[("front", "10.0.1.20"), ("back", "10.0.2.20")]);
    let stray = attach(&[("elsewhere", "10.0.9.5")]);
    let outside = attach(&[("front", "10.0.7.7")]);
    DnsRecords::from_plan(&plan, [&proxy[..], &web[..], &stray[..], &outside[..]])
}

fn answer(addrs: &[&str]) -> Resolution {
    Resolution::Answer(addrs.iter().map(|a| ip(a)).collect())
}

#[test]
fn resolves_by_docker_swarm_rules_and_visibility() {
    let records = records();
    let cases: &[(&str, &str, &str, Resolution)] = &[
        // (why, client, name, expected)
        ("service name → its VIP", "10.0.1.10", "web", answer(&["10.0.1.3"])),
        ("tasks. → running tasks", "10.0.1.10", "tasks.web", answer(&["10.0.1.20", "10.0.1.21"])),
        ("alias → the VIP", "10.0.1.10", "www", answer(&["10.0.1.3"])),
        ("tasks.<alias> → running tasks", "10.0.1.10", "tasks.www", answer(&["10.0.1.20", "10.0.1.21"])),
        ("task name → its address", "10.0.1.10", "web.2.w2", answer(&["10.0.1.21"])),
        ("own service name", "10.0.1.10", "proxy", answer(&["10.0.1.2"])),
        ("case-insensitive", "10.0.1.10", "WeB", answer(&["10.0.1.3"])),
        ("trailing dot", "10.0.1.10", "tasks.Web.", answer(&["10.0.1.20", "10.0.1.21"])),
        ("a name with a search domain is not ours", "10.0.1.10", "web.example.com", Resolution::NotOurs),
        ("not shared: db lives on back only", "10.0.1.10", "db", Resolution::NotOurs),
        ("not shared: tasks.db", "10.0.1.10", "tasks.db", Resolution::NotOurs),
        ("not shared: a task name on back", "10.0.1.10", "db.1.d1", Resolution::NotOurs),
        ("shared via the task's other network", "10.0.1.20", "db", answer(&["10.0.2.30", "10.0.2.31"])),
        ("same client by its other address", "10.0.2.20", "proxy", answer(&["10.0.1.2"])),
        ("dnsrr → running tasks", "10.0.2.20", "db", answer(&["10.0.2.30", "10.0.2.31"])),
        ("dnsrr alias", "10.0.2.20", "DATABASE.", answer(&["10.0.2.30", "10.0.2.31"])),
        ("dnsrr without tasks → empty answer", "10.0.2.20", "empty", answer(&[])),
        ("tasks. without tasks → empty answer", "10.0.2.20", "tasks.empty", answer(&[])),
        ("vip without tasks → still the VIP", "10.0.2.20", "idle", answer(&["10.0.2.4"])),
        ("first network of the client wins", "10.0.2.20", "web", answer(&["10.0.1.3"])),
        ("unknown name", "10.0.1.20", "nosuch", Resolution::NotOurs),
        ("unknown client", "10.0.1.99", "web", Resolution::NotOurs),
        ("the gateway is no client", "10.0.1.254", "web", Resolution::NotOurs),
        ("a task on a network the plan lacks", "10.0.9.5", "web", Resolution::NotOurs),
        ("an attachment outside its subnet", "10.0.7.7", "web", Resolution::NotOurs),
        ("empty name", "10.0.1.10", ".", Resolution::NotOurs),
        ("root-ish garbage", "10.0.1.10", "", Resolution::NotOurs),
    ];
    let mut failed = Vec::new();
    for (why, client, name, expected) in cases {
        let got = records.resolve(ip(client), name);
        if &got != expected {
            failed.push(format!("{why}: {client} asks {name:?}: got {got:?}, want {expected:?}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_name_given_twice_on_one_network_answers_the_union() {
    let net = network(
        "n",
        "10.0.3.0/24",
        "10.0.3.254",
        vec![
            service("a", &["shared"], Some("10.0.3.2"), &[("10.0.3.10", "a.1.x")]),
            service("shared", &[], Some("10.0.3.3"), &[("10.0.3.11", "shared.1.y")]),
        ],
    );
    let plan = NodeOverlayPlan {
        networks: vec![net],
        data_path_port: 4789,
        mesh: Default::default(),
        tunnel: Default::default(),
    };
    let client = attach(&[("n", "10.0.3.10")]);
    let records = DnsRecords::from_plan(&plan, [&client[..]]);
    assert_eq!(records.resolve(ip("10.0.3.10"), "shared"), answer(&["10.0.3.2", "10.0.3.3"]));
    assert!(records.is_client(ip("10.0.3.10")));
    assert!(!records.is_client(ip("10.0.3.11")));
}

#[test]
fn an_empty_plan_answers_nothing() {
    let records = DnsRecords::from_plan(&NodeOverlayPlan::default(), std::iter::empty());
    assert_eq!(records, DnsRecords::default());
    assert_eq!(records.resolve(ip("10.0.0.2"), "web"), Resolution::NotOurs);
    assert_eq!(records.name_count(), 0);
}

#[test]
fn a_task_with_its_own_nameservers_forwards_to_them() {
    let mut records = records();
    let servers: Vec<SocketAddr> = vec!["8.8.8.8:53".parse().unwrap(), "[2001:db8::53]:53".parse().unwrap()];
    // `web.1` on both networks; the stray attachment is no client and gets nothing.
    records.set_upstreams(&attach(&[("front", "10.0.1.20"), ("back", "10.0.2.20")]), &servers);
    records.set_upstreams(&attach(&[("elsewhere", "10.0.9.5")]), &servers);
    records.set_upstreams(&attach(&[("front", "10.0.1.10")]), &[]);
    assert_eq!(records.upstreams(ip("10.0.1.20")), Some(&servers[..]));
    assert_eq!(records.upstreams(ip("10.0.2.20")), Some(&servers[..]));
    assert_eq!(records.upstreams(ip("10.0.1.10")), None, "no servers of its own: the host's");
    assert_eq!(records.upstreams(ip("10.0.9.5")), None);
    // Our names are still answered to it.
    assert_eq!(records.resolve(ip("10.0.1.20"), "www"), answer(&["10.0.1.3"]));
}
