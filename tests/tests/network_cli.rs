//! Overlay networks through the `swarm` CLI on one node, as an operator types them: `ingress` exists from init,
//! `network create/ls/inspect/rm/prune` with Docker's columns and shape, services attached with `--network`
//! (their VIPs in `service inspect`, their tasks' addresses in `network inspect`), and every bad request refused
//! with a clear error that changes nothing: malformed or overlapping subnets, a gateway outside its subnet, an
//! exhausted pool, an unknown network in `--network`, a name in use, a network in use, removing `ingress`.

use std::time::Duration;

use serde_json::Value;
use swarm_tests::{ensure_test_images, scratch_dir, wait_for, Daemon, Role};

const DEADLINE: Duration = Duration::from_secs(60);

fn inspect(node: &Daemon, args: &[&str]) -> Value {
    let text = node.cli_ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {text}"))
}

fn refused(node: &Daemon, args: &[&str]) -> String {
    let output = node.cli(args);
    assert!(!output.status.success(), "{args:?} should fail: {}", output.stdout_text());
    output.stderr_text().trim().to_string()
}

#[test]
fn overlay_networks_through_the_cli() {
    ensure_test_images();
    let dir = scratch_dir("network-cli");
    let addr = "127.0.56.1:2356";
    let node = Daemon::start(addr, &dir.join("n1"), Role::Restart);
    wait_for("the control socket", DEADLINE, || node.socket.exists().then_some(()));
    // A small pool, so that exhausting it is quick: four /26 subnets.
    node.cli_ok(&[
        "init",
        "--advertise-addr",
        addr,
        "--default-addr-pool",
        "10.77.0.0/24",
        "--default-addr-pool-mask-length",
        "26",
    ]);

    // `ingress` exists from init and takes the first subnet.
    let ls = node.cli_ok(&["network", "ls"]);
    let mut lines = ls.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    );
    let ingress_row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&ingress_row[1..], ["ingress", "overlay", "swarm"], "{ls}");
    assert_eq!(ingress_row[0].len(), 12, "ids are cut to 12 characters: {ls}");
    let ingress = &inspect(&node, &["network", "inspect", "ingress"])[0];
    assert_eq!(ingress["Ingress"], true);
    assert_eq!(ingress["IPAM"]["Config"][0]["Subnet"], "10.77.0.0/26");
    assert_eq!(ingress["IPAM"]["Config"][0]["Gateway"], "10.77.0.1");

    // Create: the id comes back; the subnet is the next free one; options and labels are kept.
    let id = node.cli_ok(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--label",
        "tier=front",
        "--opt",
        "com.example.k=v",
        "front",
    ]);
    assert_eq!(id.trim().len(), 25, "{id}");
    let custom = node.cli_ok(&[
        "network",
        "create",
        "--attachable",
        "--subnet",
        "192.168.40.0/24",
        "--gateway",
        "192.168.40.254",
        "--ip-range",
        "192.168.40.128/25",
        "back",
    ]);
    assert!(!custom.trim().is_empty());
    let front = &inspect(&node, &["network", "inspect", "front"])[0];
    assert_eq!(front["Id"], id.trim());
    assert_eq!(front["Scope"], "swarm");
    assert_eq!(front["Driver"], "overlay");
    assert_eq!(front["IPAM"]["Config"][0]["Subnet"], "10.77.0.64/26");
    assert_eq!(front["Labels"]["tier"], "front");
    assert_eq!(front["Options"]["com.example.k"], "v");
    assert!(front["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
        .as_str()
        .unwrap()
        .parse::<u32>()
        .is_ok());
    let back = &inspect(&node, &["network", "inspect", "back"])[0];
    assert_eq!(back["Attachable"], true);
    assert_eq!(back["IPAM"]["Config"][0]["Gateway"], "192.168.40.254");
    assert_eq!(back["IPAM"]["Config"][0]["IPRange"], "192.168.40.128/25");
    assert_eq!(
        node.cli_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]),
        "back overlay\nfront overlay\ningress overlay\n"
    );
    assert_eq!(node.cli_ok(&["network", "ls", "-f", "label=tier=front", "--format", "{{.Name}}"]), "front\n");
    assert_eq!(node.cli_ok(&["network", "inspect", "--format", "{{.Name}} {{.Attachable}}", "back"]), "back true\n");

    // Bad requests: a clear error, nothing changed.
    let before = node.cli_ok(&["network", "ls", "--no-trunc"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["network", "create", "--subnet", "10.0.0.0/33", "x"],
            "invalid argument \"10.0.0.0/33\" for \"--subnet\" flag",
        ),
        (&["network", "create", "--subnet", "10.1.2.3/24", "x"], "host bits are set (did you mean 10.1.2.0/24?)"),
        (
            &["network", "create", "--subnet", "192.168.0.0/16", "x"],
            "subnet 192.168.0.0/16 overlaps with network back (192.168.40.0/24)",
        ),
        (
            &["network", "create", "--subnet", "10.9.0.0/24", "--gateway", "10.8.0.1", "x"],
            "no matching subnet for gateway 10.8.0.1",
        ),
        (&["network", "create", "--gateway", "10.9.0.1", "x"], "no matching subnet for gateway 10.9.0.1"),
        (&["network", "create", "front"], "network name \"front\" is already in use"),
        (&["network", "create", "-d", "bridge", "x"], "driver \"bridge\" is not supported"),
        (
            &["network", "create", "--opt", "encryted", "x"],
            "network x: unknown option \"encryted\" of the overlay driver (it takes: encrypted",
        ),
        (&["network", "rm", "ingress"], "ingress is the routing mesh's ingress network and cannot be removed"),
        (&["network", "rm", "nosuch"], "no such network: nosuch"),
        (&["service", "create", "-d", "--network", "nosuch", "swarm-hello:1"], "no such network: nosuch"),
        (
            &["service", "create", "-d", "--network", "ingress", "swarm-hello:1"],
            "service cannot be explicitly attached to the ingress network \"ingress\"",
        ),
        (&["init", "--default-addr-pool", "10.0.0.0/33"], "already part of a swarm"),
    ];
    for (args, message) in cases {
        let error = refused(&node, args);
        assert!(error.contains(message), "{args:?}: {error:?} should contain {message:?}");
    }
    assert_eq!(node.cli_ok(&["network", "ls", "--no-trunc"]), before, "refusals changed nothing");

    // The pool holds four /26s: ingress, front, and two more; the fifth finds none.
    node.cli_ok(&["network", "create", "p3"]);
    node.cli_ok(&["network", "create", "p4"]);
    let error = refused(&node, &["network", "create", "p5"]);
    assert!(error.contains("could not find an available, non-overlapping IPv4 address pool"), "{error}");

    // A service on two networks: a VIP on each, each task an address on each.
    node.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "2",
        "--network",
        "front",
        "--network",
        "name=back,alias=www",
        "swarm-hello:1",
    ]);
    let web = wait_for("web's tasks to get their addresses", DEADLINE, || {
        let front = inspect(&node, &["network", "inspect", "front"]);
        let tasks = front[0]["Services"]["web"]["Tasks"].as_array().map_or(0, Vec::len);
        (tasks == 2).then_some(front)
    });
    let vip = web[0]["Services"]["web"]["VIP"].as_str().unwrap().to_string();
    assert!(vip.starts_with("10.77.0."), "{vip}");
    let service = &inspect(&node, &["service", "inspect", "web"])[0];
    let vips = service["Endpoint"]["VirtualIPs"].as_array().unwrap();
    assert_eq!(vips.len(), 2, "{service}");
    // Docker's service inspect gives a VIP with its network's prefix length.
    let vip_of = |v: &Value| v["Addr"].as_str().and_then(|addr| addr.split_once('/')).map(|(addr, _)| addr.to_string());
    assert!(vips.iter().any(|v| vip_of(v).as_deref() == Some(vip.as_str())), "{service}");
    let back = &inspect(&node, &["network", "inspect", "back"])[0];
    for task in back["Services"]["web"]["Tasks"].as_array().unwrap() {
        let ip: std::net::Ipv4Addr = task["EndpointIP"].as_str().unwrap().parse().unwrap();
        assert!(ip.octets()[..3] == [192, 168, 40] && ip.octets()[3] >= 128, "inside --ip-range: {ip}");
    }
    assert_eq!(back["Peers"].as_array().unwrap().len(), 1, "this node has its own gateway on back: {back}");

    // In use: refused, naming the service; `prune` keeps it and removes the unused ones.
    let error = refused(&node, &["network", "rm", "front"]);
    assert_eq!(error, "Error response from daemon: network front is in use by service web");
    let pruned = node.cli_ok(&["network", "prune", "-f"]);
    assert_eq!(pruned, "Deleted Networks:\np3\np4\n");
    // `--network-rm` detaches the service; then the network can go.
    node.cli_ok(&["service", "update", "-d", "--network-rm", "front", "web"]);
    wait_for("web to leave front", DEADLINE, || {
        let service = inspect(&node, &["service", "inspect", "web"]);
        (service[0]["Endpoint"]["VirtualIPs"].as_array().map_or(0, Vec::len) == 1).then_some(())
    });
    node.cli_ok(&["service", "rm", "web"]);
    assert_eq!(node.cli_ok(&["network", "rm", "front", "back"]), "front\nback\n");
    assert_eq!(node.cli_ok(&["network", "ls", "--format", "{{.Name}}"]), "ingress\n");
    // The node's data plane takes down what it made once its tasks are gone.
    let node_id = swarm_tests::node_id_of(&dir.join("n1")).expect("in a swarm");
    wait_for("the node's overlay networks to go", DEADLINE, || {
        let filter = format!("label=swarm.node.id={node_id}");
        let left = swarm_tests::docker(&["network", "ls", "-q", "--filter", &filter]);
        left.trim().is_empty().then_some(())
    });
}
