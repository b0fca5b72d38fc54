//! Published ports through the store: SwarmKit's cross-service conflicts, a service's own ports on update, ingress
//! ports without a number given one from 30000-32767 (and keeping it through updates and rollback), the dynamic
//! range running out, and the cluster's own ports refused as ingress ports.

mod common;

use common::*;
use swarm_core::*;

fn with_ports(name: &str, ports: Vec<PortConfig>) -> ServiceSpec {
    let mut spec = ServiceSpec::replicated(name, "bb:1", 1);
    spec.endpoint_spec.ports = ports;
    spec
}

fn host(published: u32) -> PortConfig {
    PortConfig { publish_mode: PublishMode::Host, ..PortConfig::tcp(published, 80) }
}

#[test]
fn published_ports_conflict_across_services_like_swarmkit() {
    let udp = |published| PortConfig { protocol: PortProtocol::Udp, ..PortConfig::tcp(published, 80) };
    // (ports of the existing service "a", ports of the new service "b", expected message or None)
    let cases: Vec<(Vec<PortConfig>, Vec<PortConfig>, Option<&str>)> = vec![
        (vec![PortConfig::tcp(8080, 80)], vec![PortConfig::tcp(8081, 80)], None),
        (vec![PortConfig::tcp(8080, 80)], vec![udp(8080)], None),
        (vec![PortConfig::tcp(0, 80)], vec![PortConfig::tcp(0, 80)], None),
        (vec![host(8080)], vec![host(8080)], None),
        (
            vec![PortConfig::tcp(8080, 80)],
            vec![PortConfig::tcp(8080, 81)],
            Some("port '8080' is already in use by service 'a' (sa) as an ingress port"),
        ),
        (
            vec![PortConfig::tcp(8080, 80)],
            vec![host(8080)],
            Some("port '8080' is already in use by service 'a' (sa) as an ingress port"),
        ),
        (
            vec![host(8080)],
            vec![PortConfig::tcp(8080, 80)],
            Some("port '8080' is already in use by service 'a' (sa) as a host-published port"),
        ),
    ];
    for (existing, new, expected) in cases {
        let mut store = store_with(&[
            init(),
            Command::CreateService { service_id: "sa".into(), spec: with_ports("a", existing.clone()) },
        ]);
        let result = store.apply(&at(
            T0 + 10,
            Command::CreateService { service_id: "sb".into(), spec: with_ports("b", new.clone()) },
        ));
        match (result, expected) {
            (Ok(_), None) => {}
            (Err(rejection), Some(message)) => {
                assert_eq!(rejection.to_string(), message, "{existing:?} vs {new:?}");
                assert!(matches!(rejection, Rejection::PortInUse { port: 8080, .. }));
            }
            (result, expected) => panic!("{existing:?} vs {new:?}: got {result:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn updates_keep_their_own_ports_and_mode() {
    let mut store = store_with(&[
        init(),
        Command::CreateService { service_id: "sa".into(), spec: with_ports("a", vec![PortConfig::tcp(8080, 80)]) },
        Command::CreateService { service_id: "sb".into(), spec: with_ports("b", vec![PortConfig::tcp(9090, 80)]) },
    ]);
    // Updating a service with its own published port is no conflict.
    let mut a = with_ports("a", vec![PortConfig::tcp(8080, 80), PortConfig::tcp(8443, 443)]);
    store
        .apply(&at(T0 + 10, Command::UpdateService { id: "sa".into(), version: Version(1), spec: a.clone() }))
        .unwrap();
    // Taking another service's port is.
    let b = with_ports("b", vec![PortConfig::tcp(8443, 80)]);
    let rejection = store
        .apply(&at(T0 + 11, Command::UpdateService { id: "sb".into(), version: Version(1), spec: b }))
        .unwrap_err();
    assert_eq!(rejection.to_string(), "port '8443' is already in use by service 'a' (sa) as an ingress port");
    // Mode changes are refused, as in SwarmKit; a new replica count is not a mode change.
    a.mode = ServiceMode::Global;
    let rejection = store
        .apply(&at(T0 + 12, Command::UpdateService { id: "sa".into(), version: Version(2), spec: a.clone() }))
        .unwrap_err();
    assert_eq!(rejection, Rejection::ServiceModeChangeNotAllowed { id: "sa".into() });
    assert_eq!(rejection.to_string(), "service mode change is not allowed");
    a.mode = ServiceMode::Replicated { replicas: 7 };
    store.apply(&at(T0 + 13, Command::UpdateService { id: "sa".into(), version: Version(2), spec: a })).unwrap();
    // An invalid spec in an update is rejected with the spec error.
    let mut bad = with_ports("a", vec![]);
    bad.task_template.placement.constraints = vec!["node.labels.zone=east".into()];
    let rejection = store
        .apply(&at(T0 + 14, Command::UpdateService { id: "sa".into(), version: Version(3), spec: bad }))
        .unwrap_err();
    assert_eq!(rejection.to_string(), "invalid constraint \"node.labels.zone=east\": expected == or !=");
}

#[test]
fn ingress_ports_without_a_number_get_one_from_the_dynamic_range_and_keep_it() {
    let udp = |published, target| PortConfig { protocol: PortProtocol::Udp, ..PortConfig::tcp(published, target) };
    let published = |store: &Store, id: &str| -> Vec<u32> {
        store.service(id).unwrap().spec.endpoint_spec.ports.iter().map(|p| p.published_port).collect()
    };
    let mut store = store_with(&[
        init(),
        Command::CreateService { service_id: "sa".into(), spec: with_ports("a", vec![PortConfig::tcp(30001, 80)]) },
        Command::CreateService {
            service_id: "sb".into(),
            spec: with_ports("b", vec![PortConfig::tcp(0, 80), PortConfig::tcp(0, 81), udp(0, 53), host(0)]),
        },
    ]);
    // The lowest free port per protocol, skipping ports other services publish; host mode keeps 0 (the engine's).
    assert_eq!(published(&store, "sb"), [30000, 30002, 30000, 0]);

    // The same spec sent again (port 0 as written) keeps the numbers: nothing changes for the tasks.
    let again = with_ports("b", vec![PortConfig::tcp(0, 80), PortConfig::tcp(0, 81), udp(0, 53), host(0)]);
    store.apply(&at(T0 + 10, Command::UpdateService { id: "sb".into(), version: Version(1), spec: again })).unwrap();
    assert_eq!(published(&store, "sb"), [30000, 30002, 30000, 0]);
    // A new port takes the lowest free number, here the one a dropped port freed; other services go on from there.
    let fewer = with_ports("b", vec![PortConfig::tcp(0, 81), PortConfig::tcp(0, 82)]);
    store.apply(&at(T0 + 11, Command::UpdateService { id: "sb".into(), version: Version(2), spec: fewer })).unwrap();
    assert_eq!(published(&store, "sb"), [30002, 30000]);
    store
        .apply(&at(
            T0 + 12,
            Command::CreateService { service_id: "sc".into(), spec: with_ports("c", vec![PortConfig::tcp(0, 80)]) },
        ))
        .unwrap();
    assert_eq!(published(&store, "sc"), [30003]);
    // A rollback returns to the numbers the previous spec was given.
    store.apply(&at(T0 + 13, Command::RollbackService { id: "sb".into(), version: Version(3) })).unwrap();
    assert_eq!(published(&store, "sb"), [30000, 30002, 30000, 0]);
}

#[test]
fn an_exhausted_dynamic_range_is_a_clear_rejection() {
    let mut store = store_with(&[init()]);
    let range: Vec<u32> = DYNAMIC_PORTS.collect();
    for (i, chunk) in range.chunks(100).enumerate() {
        let ports = chunk.iter().map(|port| PortConfig::tcp(*port, 80)).collect();
        let command = Command::CreateService { service_id: format!("s{i}"), spec: with_ports(&format!("s{i}"), ports) };
        store.apply(&at(T0 + 1 + i as u64, command)).unwrap();
    }
    let command =
        Command::CreateService { service_id: "late".into(), spec: with_ports("late", vec![PortConfig::tcp(0, 80)]) };
    let rejection = store.apply(&at(T0 + 100, command)).unwrap_err();
    assert_eq!(rejection, Rejection::NoFreeDynamicPort { protocol: PortProtocol::Tcp });
    assert_eq!(
        rejection.to_string(),
        "no port is free in the dynamic range 30000-32767 for a tcp port published without a number"
    );
}

#[test]
fn the_clusters_own_ports_cannot_be_published_through_the_mesh() {
    let mut manager = node("n1");
    manager.status.addr = "10.0.0.1:2377".into();
    let mut worker = node("n2");
    worker.status.addr = "10.0.0.2:2400".into();
    let store = store_with(&[init(), Command::CreateNode { node: manager }, Command::CreateNode { node: worker }]);
    let cases: Vec<(PortConfig, Option<&str>)> = vec![
        (PortConfig::tcp(2377, 80), Some("port '2377/tcp' cannot be published through the routing mesh: it is the cluster port of the nodes")),
        (PortConfig::tcp(2400, 80), Some("port '2400/tcp' cannot be published through the routing mesh: it is the cluster port of the nodes")),
        (
            PortConfig { protocol: PortProtocol::Udp, ..PortConfig::tcp(4789, 80) },
            Some("port '4789/udp' cannot be published through the routing mesh: it is the data-path port of overlay networks"),
        ),
        // The same numbers on the other protocol, or in host mode (bound inside one task's node only), are fine.
        (PortConfig { protocol: PortProtocol::Udp, ..PortConfig::tcp(2377, 80) }, None),
        (PortConfig::tcp(4789, 80), None),
        (host(2377), None),
    ];
    for (port, expected) in cases {
        let mut store = store.clone();
        let command = Command::CreateService { service_id: "s".into(), spec: with_ports("s", vec![port.clone()]) };
        match (store.apply(&at(T0 + 10, command)), expected) {
            (Ok(_), None) => {}
            (Err(rejection), Some(message)) => assert_eq!(rejection.to_string(), message, "{port:?}"),
            (result, expected) => panic!("{port:?}: got {result:?}, expected {expected:?}"),
        }
    }
}
