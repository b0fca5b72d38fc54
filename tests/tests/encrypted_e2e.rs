//! Encrypted overlay networks on three test hosts, through the `swarm` CLI as a user types it: `network create
//! --opt encrypted secret` beside a plain network; a client on the first host reaches a web service on the third
//! over each. A capture on the underlay (nftables counters on the bridge every host's traffic crosses, matching
//! VXLAN frames by their network's VNI) sees the plain network's VXLAN frames and not one of the encrypted
//! network's, which cross only as WireGuard packets; a TCP connection opened before every node rotated its key
//! (every 20 s here) carries its stream whole through the rotations, and new requests work after them; a node removed from the swarm with a task on the encrypted network is dropped from its
//! peers' tunnels at once and can no longer reach the network's tasks; removing everything leaves no tunnel, VXLAN
//! device or configuration socket of ours on any live host. Plaintext VXLAN forged with the encrypted network's
//! VNI and sent from the underlay is dropped on arrival (Docker's CVE-2023-28840). Everything lives in the hosts the test starts,
//! removed when it ends.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde_json::Value;
use swarm_runtime::worker::overlay::tunnel::{tunnel_name, uapi_get, UAPI_DIR};
use swarm_tests::hosts::{form_cluster, HostDaemon, TestHosts};

const DEADLINE: Duration = Duration::from_secs(90);
/// Every node replaces its key this often in this test.
const ROTATION: &str = "20s";
/// The daemons' default tunnel port.
const TUNNEL_PORT: u16 = 51820;
/// The port of the stream that spans a key rotation, and its lines (one every 200 ms: 30 s, longer than
/// `ROTATION`, so both ends rotate while it runs).
const STREAM_PORT: u16 = 9000;
const STREAM_LINES: usize = 150;
/// The underlay capture: an nftables table on the run's underlay bridge.
const CAPTURE_TABLE: &str = "swarm_capture";

#[test]
fn encrypted_networks_cross_the_underlay_only_inside_the_tunnel() {
    let hosts = TestHosts::start("enc", 3);
    let daemons: Vec<HostDaemon<'_>> =
        hosts.hosts().iter().map(|host| HostDaemon::start_with(host, &["--tunnel-key-rotation", ROTATION])).collect();
    let manager = &daemons[0];
    form_cluster(&daemons, DEADLINE);
    let listed = manager.cli_ok(&["node", "ls", "--format", "{{.ID}} {{.Hostname}}"]);
    let node_ids: Vec<String> = hosts
        .hosts()
        .iter()
        .map(|host| {
            let line = listed.lines().find(|line| line.ends_with(&format!(" {}", host.name()))).expect("listed");
            line.split_whitespace().next().expect("an id").to_string()
        })
        .collect();
    manager.cli_ok(&["network", "create", "--driver", "overlay", "--opt", "encrypted", "secret"]);
    manager.cli_ok(&["network", "create", "--driver", "overlay", "plain"]);
    let on = |index: usize| format!("node.hostname=={}", hosts[index].name());
    let create = |name: &str, networks: &[&str], host: usize, command: &[&str]| {
        let mut args = vec!["service", "create", "-d", "--name", name];
        for network in networks {
            args.extend(["--network", network]);
        }
        let constraint = on(host);
        args.extend(["--constraint", &constraint]);
        args.extend(command);
        manager.cli_ok(&args);
    };
    create("webs", &["secret"], 2, &["swarm-hello:1"]);
    create("webp", &["plain"], 2, &["swarm-hello:1"]);
    create("client", &["secret", "plain"], 0, &["swarm-tools:1", "sleep", "3600"]);
    create("probe", &["secret"], 1, &["swarm-tools:1", "sleep", "3600"]);
    // busybox nc passes a pipe on only up to its first pause: both ends run their side under `-e`.
    let receive = format!("nc -l -p {STREAM_PORT} -e sh -c 'cat > /tmp/received'; sleep 3600");
    create("stream", &["secret"], 2, &["swarm-tools:1", "sh", "-c", &receive]);
    let dump = || daemons.iter().map(|d| format!("--- {} ---\n{}", d.host.name(), d.log_tail())).collect::<String>();
    for service in ["webs", "webp", "client", "probe", "stream"] {
        wait_until(&dump, &format!("{service} running"), DEADLINE, || {
            let states = manager.cli_ok(&["service", "ps", "--format", "{{.CurrentState}}", service]);
            states.lines().any(|state| state.starts_with("Running")).then_some(())
        });
    }
    let inspect = |network: &str| -> Value {
        serde_json::from_str(&manager.cli_ok(&["network", "inspect", network])).expect("inspect prints JSON")
    };
    let secret = inspect("secret");
    assert!(secret[0]["Options"].get("encrypted").is_some(), "inspect shows the option: {secret}");
    let vni = |inspected: &Value| -> u32 {
        inspected[0]["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
            .as_str()
            .and_then(|text| text.parse().ok())
            .expect("the VXLAN id in the options")
    };
    let capture = Capture::install(&hosts, vni(&secret), vni(&inspect("plain")));

    // The application works over the encrypted network, and none of its frames crossed the underlay in the clear.
    let fetch = |service: &str| {
        let output = hosts.exec_in_service("client", &format!("timeout 5 wget -qO- http://{service}/"));
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let answer = wait_until(&dump, "webs to answer the client over the encrypted network", DEADLINE, || fetch("webs"));
    assert!(answer.starts_with("hello from "), "{answer}");
    for attempt in 0..20 {
        assert!(fetch("webs").is_some(), "request {attempt} over the encrypted network failed");
    }
    let after_secret = capture.counts();
    assert_eq!(after_secret.secret_vxlan, 0, "plaintext VXLAN frames of the encrypted network: {after_secret:?}");
    assert!(after_secret.tunnel > 20, "the tunnel carried the requests: {after_secret:?}");
    // The capture does see VXLAN: the plain network's frames are there.
    wait_until(&dump, "webp to answer the client over the plain network", DEADLINE, || fetch("webp"));
    let after_plain = capture.counts();
    assert!(after_plain.plain_vxlan > 0, "the capture sees plain VXLAN frames: {after_plain:?}");

    // Plaintext VXLAN sent into the encrypted network from the underlay (as a removed node could) is dropped on
    // arrival; the plain network's VNI is not in the way.
    let sealed_table = format!("swarm_sealed_{}", &node_ids[2][..10]);
    let dropped = || -> u64 {
        let listing = hosts[2].run_ok("nft", &["list", "table", "ip", &sealed_table]);
        listing.split("packets ").skip(1).filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok()).sum()
    };
    let before = dropped();
    let injector = std::net::UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
    let secret_vni = vni(&secret).to_be_bytes();
    let mut frame = vec![0x08, 0, 0, 0, secret_vni[1], secret_vni[2], secret_vni[3], 0];
    frame.extend([0xff; 14]);
    frame.extend([0u8; 46]);
    for _ in 0..3 {
        injector.send_to(&frame, (hosts[2].addr(), 4789)).expect("send the forged frame");
    }
    wait_until(&dump, "the forged frames to be dropped", Duration::from_secs(10), || {
        (dropped() >= before + 3).then_some(())
    });
    // The rule is the encrypted network's alone: a frame with the plain network's VNI is not dropped by it.
    let plain_vni = vni(&inspect("plain")).to_be_bytes();
    let mut plain_frame = frame.clone();
    plain_frame[4..7].copy_from_slice(&plain_vni[1..4]);
    let sealed_before = dropped();
    injector.send_to(&plain_frame, (hosts[2].addr(), 4789)).expect("send the plain frame");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(dropped(), sealed_before, "the sealed table dropped a frame of the plain network");
    // The capture saw them cross the bridge: from here on it must see no more.
    let forged_seen = capture.counts().secret_vxlan;
    assert_eq!(forged_seen, 3, "the capture counts the forged frames and nothing else");

    // Every node rotates its key; a connection established before keeps going, and new ones work.
    let own_key = |index: usize| own_public_key(&node_ids[index]);
    let first_keys: Vec<String> = [0, 2].iter().map(|index| own_key(*index).expect("a tunnel key")).collect();
    let stream_addr = task_addr(&inspect("secret"), "stream");
    let send = format!(
        "nc {stream_addr} {STREAM_PORT} -e sh -c 'i=0; while [ $i -lt {STREAM_LINES} ]; do echo $i; i=$((i+1)); \
         sleep 0.2; done'"
    );
    let client_container = hosts[0].docker(&["ps", "--format", "{{.Names}}"]);
    let client_container = client_container.lines().find(|name| name.starts_with("client.")).expect("the client");
    hosts[0].docker(&["exec", "-d", client_container, "sh", "-c", &send]);
    let rotated_at = wait_until(&dump, "the client's and the web's nodes to rotate their keys", DEADLINE, || {
        let now: Vec<String> = [0, 2].iter().map(|index| own_key(*index)).collect::<Option<_>>()?;
        now.iter().zip(&first_keys).all(|(now, first)| now != first).then(Instant::now)
    });
    let answer = wait_until(&dump, "webs to answer after the rotation", Duration::from_secs(30), || fetch("webs"));
    eprintln!("encrypted_e2e: answered {:.1?} after both keys had rotated", rotated_at.elapsed());
    assert!(answer.starts_with("hello from "), "{answer}");
    let expected: Vec<String> = (0..STREAM_LINES).map(|line| line.to_string()).collect();
    let stream_deadline = Instant::now() + DEADLINE;
    let received = loop {
        let output = hosts.exec_in_service("stream", "cat /tmp/received");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.lines().count() >= STREAM_LINES || Instant::now() > stream_deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(received.lines().collect::<Vec<_>>(), expected, "the connection lost or reordered lines\n{}", dump());
    assert_eq!(capture.counts().secret_vxlan, forged_seen, "still no plaintext frame of the encrypted network");

    // A node removed from the swarm is cut off at once: its peers drop its key, and it reaches nothing.
    let webs_addr = task_addr(&inspect("secret"), "webs");
    let reach_from_second = || hosts[1].run("curl", &["-s", "-m", "3", &format!("http://{webs_addr}/")]);
    wait_until(&dump, "the second host to reach webs over the encrypted network", DEADLINE, || {
        reach_from_second().status.success().then_some(())
    });
    let removed_key = own_key(1).expect("the second node's tunnel key");
    let peers = peer_keys(&node_ids[2]).expect("the web's node's tunnel answers");
    assert!(peers.contains(&removed_key), "the web's node has the second as a peer");
    manager.cli_ok(&["node", "rm", "--force", &node_ids[1]]);
    let removed_at = Instant::now();
    wait_until(&dump, "the web's and the client's nodes to drop the removed node's key", DEADLINE, || {
        let dropped = |index: usize| peer_keys(&node_ids[index]).is_some_and(|keys| !keys.contains(&removed_key));
        (dropped(0) && dropped(2)).then_some(())
    });
    eprintln!("encrypted_e2e: the removed node left its peers' tunnels {:.1?} after node rm", removed_at.elapsed());
    for attempt in 0..3 {
        let output = reach_from_second();
        assert!(!output.status.success(), "attempt {attempt}: the removed node still reaches webs at {webs_addr}");
    }
    assert!(fetch("webs").is_some(), "the remaining nodes still talk");

    // Removing everything leaves no tunnel, VXLAN device or configuration socket on the live hosts.
    manager.cli_ok(&["service", "rm", "webs", "webp", "client", "probe", "stream"]);
    manager.cli_ok(&["network", "rm", "secret", "plain"]);
    let live = [(&hosts[0], &node_ids[0]), (&hosts[2], &node_ids[2])];
    wait_until(&dump, "no tunnel or VXLAN device and no socket on the live hosts", DEADLINE, || {
        let clean = live.iter().all(|(host, node_id)| {
            let links = host.run_ok("ip", &["-o", "link"]);
            let socket = format!("{UAPI_DIR}/{}.sock", tunnel_name(node_id));
            let tables = host.run_ok("nft", &["list", "tables"]);
            !links.contains("swc-")
                && !links.contains("swv-")
                && !tables.contains("swarm_sealed_")
                && !std::path::Path::new(&socket).exists()
        });
        clean.then_some(())
    });
}

/// Counters on the run's underlay bridge (in its own namespace, which goes with the run).
struct Capture {
    netns: String,
}

#[derive(Debug)]
struct Counts {
    secret_vxlan: u64,
    plain_vxlan: u64,
    tunnel: u64,
}

impl Capture {
    fn install(hosts: &TestHosts, secret_vni: u32, plain_vni: u32) -> Capture {
        let netns = hosts.underlay_netns();
        let rules = format!(
            "table bridge {CAPTURE_TABLE} {{\n chain forward {{\n  type filter hook forward priority 0; policy accept;\n  \
             udp dport 4789 @th,96,24 {secret_vni} counter comment \"secret\"\n  \
             udp dport 4789 @th,96,24 {plain_vni} counter comment \"plain\"\n  \
             udp dport {TUNNEL_PORT} counter comment \"tunnel\"\n }}\n}}\n"
        );
        let output = std::process::Command::new("ip")
            .args(["netns", "exec", &netns, "sh", "-c", &format!("printf '%s' '{rules}' | nft -f -")])
            .output()
            .expect("run nft");
        assert!(output.status.success(), "capture rules: {}", String::from_utf8_lossy(&output.stderr));
        Capture { netns }
    }

    fn counts(&self) -> Counts {
        let output = std::process::Command::new("ip")
            .args(["netns", "exec", &self.netns, "nft", "list", "table", "bridge", CAPTURE_TABLE])
            .output()
            .expect("run nft");
        let text = String::from_utf8_lossy(&output.stdout);
        let packets = |comment: &str| -> u64 {
            let line = text.lines().find(|line| line.contains(&format!("comment \"{comment}\""))).expect("rule");
            let after = line.split("packets ").nth(1).expect("a counter");
            after.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a number")
        };
        Counts { secret_vxlan: packets("secret"), plain_vxlan: packets("plain"), tunnel: packets("tunnel") }
    }
}

/// The public key node `node_id`'s tunnel uses, as its configuration socket tells; `None` while the socket does
/// not answer with one (probes try again; one-off reads insist).
fn own_public_key(node_id: &str) -> Option<String> {
    let lines = uapi_get(&tunnel_name(node_id)).ok()?;
    let key = lines.iter().find_map(|line| line.strip_prefix("own_public_key="))?;
    assert_eq!(key.len(), 64, "a key in hex: {key}");
    Some(key.to_string())
}

/// The public keys of node `node_id`'s tunnel peers; `None` while its socket does not answer.
fn peer_keys(node_id: &str) -> Option<Vec<String>> {
    let lines = uapi_get(&tunnel_name(node_id)).ok()?;
    Some(lines.iter().filter_map(|line| line.strip_prefix("public_key=")).map(str::to_string).collect())
}

/// The address on the inspected network of `service`'s (first) task.
fn task_addr(inspected: &Value, service: &str) -> Ipv4Addr {
    inspected[0]["Services"][service]["Tasks"][0]["EndpointIP"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("{service} has a task on the network: {inspected}"))
}

/// `wait_for`, but a timeout panics with `dump()` (the daemons' logs) too.
fn wait_until<T>(dump: &dyn Fn() -> String, what: &str, deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}\n{}", dump());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
