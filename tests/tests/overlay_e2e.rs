//! Overlay networks across three test hosts, end to end through the `swarm` CLI: a `swarm daemon` in each host's
//! network namespace on its own dockerd, one manager and two workers joined over the underlay. `web` runs three
//! replicas on an overlay network, one per host, and a client on the same network reaches every task address
//! across hosts; a service on two networks reaches a service on each, and a service on one network cannot reach a
//! task of a network it does not share (also on the same host); the client reaches outside the cluster and a task
//! on an `--internal` network does not; `web` resolves to its VIP and `tasks.web` to its tasks, requests to the
//! VIP reach several replicas; a host that dies drops out of DNS and the VIP; scaling down and removing everything
//! leaves no Docker network, VXLAN or gateway device, nft table or container on any live host. Everything lives in the hosts the test starts, removed when it ends.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use swarm_tests::hosts::{form_cluster, HostDaemon, TestHost, TestHosts};
use swarm_tests::wait_for;

const DEADLINE: Duration = Duration::from_secs(90);

fn inspect(daemon: &HostDaemon<'_>, args: &[&str]) -> Value {
    serde_json::from_str(&daemon.cli_ok(args)).expect("inspect prints JSON")
}

/// The running tasks of `service` on `network`: (container name, address, host address).
fn task_endpoints(manager: &HostDaemon<'_>, network: &str, service: &str) -> Vec<(String, String, String)> {
    let inspected = inspect(manager, &["network", "inspect", network]);
    inspected[0]["Services"][service]["Tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .map(|t| {
                    let host = t["Info"]["Host IP"].as_str().unwrap_or_default();
                    let host = host.split(':').next().unwrap_or_default().to_string();
                    (
                        t["Name"].as_str().unwrap_or_default().to_string(),
                        t["EndpointIP"].as_str().unwrap_or_default().to_string(),
                        host,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn exec_in(hosts: &TestHosts, service: &str, script: &str) -> Output {
    hosts.exec_in_service(service, script)
}

/// The address on its node's egress network (`swe-…`) of `service`'s container on `host`.
fn egress_addr(host: &TestHost, service: &str) -> String {
    let names = host.docker(&["ps", "--format", "{{.Names}}"]);
    let name = names.lines().find(|name| name.starts_with(&format!("{service}."))).expect("a container of the service");
    let format = "{{range $name, $net := .NetworkSettings.Networks}}{{$name}}={{$net.IPAddress}} {{end}}";
    let networks = host.docker(&["inspect", "--format", format, name]);
    let egress = networks.split_whitespace().find_map(|entry| entry.strip_prefix("swe-")?.split_once('='));
    egress.map(|(_, addr)| addr.to_string()).unwrap_or_else(|| panic!("{name} is on no egress network: {networks}"))
}

/// Waits until every task of `service` that should run is running; on timeout, panics with `service ps` and the
/// daemons' logs.
fn wait_running(daemons: &[HostDaemon<'_>], service: &str) {
    let manager = &daemons[0];
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let states = manager.cli_ok(&[
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
            service,
        ]);
        if !states.trim().is_empty() && states.lines().all(|state| state.starts_with("Running")) {
            return;
        }
        if std::time::Instant::now() > deadline {
            let ps = manager.cli_ok(&["service", "ps", "--no-trunc", service]);
            let logs: Vec<String> =
                daemons.iter().map(|d| format!("--- {} ---\n{}", d.host.name(), d.log_tail())).collect();
            panic!("{service} is not running:\n{ps}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `wait_for` for 30 s; on timeout, panics with what each host has of the overlay (devices, forwarding entries,
/// containers' addresses) and the cluster's view of the networks.
fn wait_for_or_dump<T>(
    hosts: &TestHosts,
    manager: &HostDaemon<'_>,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if std::time::Instant::now() > deadline {
            let mut dump = String::new();
            for host in hosts.hosts() {
                dump += &format!("=== {} ({})\n", host.name(), host.addr());
                for command in [&["-d", "link", "show"][..], &["addr"], &["neigh"]] {
                    dump += &String::from_utf8_lossy(&host.run("ip", command).stdout);
                }
                dump += &String::from_utf8_lossy(&host.run("bridge", &["fdb", "show"]).stdout);
                for name in host.docker(&["ps", "--format", "{{.Names}}"]).lines() {
                    let pid = host.docker(&["inspect", "--format", "{{.State.Pid}}", name]);
                    let pid = pid.trim();
                    dump += &format!("--- {name} (pid {pid})\n");
                    for command in [&["addr"][..], &["route"], &["neigh"], &["-d", "link"]] {
                        let mut args = vec!["-t", pid, "-n", "ip"];
                        args.extend_from_slice(command);
                        dump += &String::from_utf8_lossy(&host.run("nsenter", &args).stdout);
                    }
                }
            }
            for network in ["front", "back", "other"] {
                dump += &manager.cli_ok(&["network", "inspect", network]);
            }
            if let Ok(seconds) = std::env::var("OVERLAY_E2E_PAUSE_S") {
                eprintln!("paused for debugging: {what}");
                std::thread::sleep(Duration::from_secs(seconds.parse().unwrap_or(0)));
            }
            panic!("timed out waiting for {what}\n{dump}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The IPv4 addresses `name` resolves to in the client container (empty when it does not resolve).
fn lookup(hosts: &TestHosts, name: &str) -> Vec<String> {
    let output = exec_in(hosts, "client", &format!("timeout 5 nslookup {name}"));
    let text = String::from_utf8_lossy(&output.stdout);
    let Some((_, answer)) = text.split_once("Name:") else { return Vec::new() };
    answer.split_whitespace().filter(|token| token.parse::<std::net::Ipv4Addr>().is_ok()).map(str::to_string).collect()
}

fn containers_on(host: &TestHost) -> usize {
    host.docker(&["ps", "-aq"]).lines().count()
}

#[test]
fn overlay_networks_span_hosts() {
    let hosts = TestHosts::start("ov", 3);
    let mut daemons: Vec<HostDaemon<'_>> = hosts.hosts().iter().map(HostDaemon::start).collect();
    let manager = &daemons[0];
    form_cluster(&daemons, DEADLINE);

    manager.cli_ok(&["network", "create", "-d", "overlay", "front"]);
    manager.cli_ok(&["network", "create", "-d", "overlay", "back"]);
    manager.cli_ok(&["network", "create", "-d", "overlay", "other"]);
    manager.cli_ok(&["network", "create", "-d", "overlay", "--internal", "sealed"]);
    // lonely and sealed run beside the client: networks apart must stay apart on one host too.
    let beside_client = format!("node.hostname=={}", hosts[0].name());
    manager.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "3",
        "--replicas-max-per-node",
        "1",
        "--network",
        "front",
        "swarm-hello:1",
    ]);
    manager.cli_ok(&["service", "create", "-d", "--name", "db", "--network", "back", "swarm-hello:1"]);
    manager.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "lonely",
        "--network",
        "other",
        "--constraint",
        &beside_client,
        "swarm-hello:1",
    ]);
    manager.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "sealed",
        "--network",
        "sealed",
        "--constraint",
        &beside_client,
        "swarm-tools:1",
        "sleep",
        "3600",
    ]);
    manager.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "client",
        "--network",
        "front",
        "--network",
        "back",
        "--constraint",
        &beside_client,
        "swarm-tools:1",
        "sleep",
        "3600",
    ]);
    for service in ["web", "db", "lonely", "sealed", "client"] {
        wait_running(&daemons, service);
    }
    let web = wait_for("web's three tasks running on three hosts", DEADLINE, || {
        let tasks = task_endpoints(manager, "front", "web");
        let mut hosts_of: Vec<&String> = tasks.iter().map(|t| &t.2).collect();
        hosts_of.sort();
        hosts_of.dedup();
        (tasks.len() == 3 && hosts_of.len() == 3).then_some(tasks)
    });
    for service in ["client", "db", "lonely"] {
        let network = match service {
            "db" => "back",
            "lonely" => "other",
            _ => "front",
        };
        wait_for(&format!("{service} running"), DEADLINE, || {
            (task_endpoints(manager, network, service).len() == 1).then_some(())
        });
    }

    // Every web task answers ping and HTTP from the client, across hosts.
    for (name, addr, host) in &web {
        let reached =
            wait_for(&format!("{name} at {addr} on {host} to answer the client"), Duration::from_secs(30), || {
                let output =
                    exec_in(&hosts, "client", &format!("ping -c1 -W1 {addr} >/dev/null && wget -qO- http://{addr}/"));
                output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
            });
        assert!(reached.starts_with("hello from "), "{reached}");
    }
    // The client is on back too: db answers; lonely (on a network the client does not share) does not.
    let (_, db_addr, _) = task_endpoints(manager, "back", "db").remove(0);
    let db = wait_for_or_dump(&hosts, manager, "db to answer the client on back", || {
        let output = exec_in(&hosts, "client", &format!("timeout 3 wget -qO- http://{db_addr}/"));
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    });
    assert!(db.starts_with("hello from "), "{db}");
    let (_, lonely_addr, _) = task_endpoints(manager, "other", "lonely").remove(0);
    let unreachable = exec_in(&hosts, "client", &format!("timeout 3 wget -qO- http://{lonely_addr}/"));
    assert!(!unreachable.status.success(), "a task on a network the client does not share answered");
    // Nor through the egress network both sit on (tasks there cannot reach each other, as on Swarm's gwbridge).
    let lonely_egress = egress_addr(&hosts[0], "lonely");
    let unreachable = exec_in(&hosts, "client", &format!("timeout 3 wget -qO- http://{lonely_egress}/"));
    assert!(!unreachable.status.success(), "lonely answered the client at its egress address {lonely_egress}");
    // Egress: the client's networks are not internal, so it reaches outside the cluster (another host's underlay
    // address); a task on an internal network does not.
    let outside = hosts[1].addr().to_string();
    let out = exec_in(&hosts, "client", &format!("ping -c1 -W2 {outside}"));
    assert!(out.status.success(), "the client cannot reach {outside}: {}", String::from_utf8_lossy(&out.stdout));
    let sealed_out = exec_in(&hosts, "sealed", &format!("ping -c1 -W2 {outside}"));
    assert!(!sealed_out.status.success(), "a task on an internal network reached {outside}");

    // Service discovery: `web` is its VIP, `tasks.web` its three tasks; `lonely` is not on the client's networks.
    let vip =
        inspect(manager, &["network", "inspect", "front"])[0]["Services"]["web"]["VIP"].as_str().unwrap().to_string();
    let resolved = wait_for_or_dump(&hosts, manager, "web to resolve to its VIP", || {
        let addrs = lookup(&hosts, "web");
        (addrs == [vip.clone()]).then_some(addrs)
    });
    assert_eq!(resolved, std::slice::from_ref(&vip));
    let mut task_addrs: Vec<String> = web.iter().map(|t| t.1.clone()).collect();
    task_addrs.sort();
    wait_for_or_dump(&hosts, manager, "tasks.web to name the three tasks", || {
        let mut addrs = lookup(&hosts, "tasks.web");
        addrs.sort();
        (addrs == task_addrs).then_some(())
    });
    assert!(lookup(&hosts, "lonely").is_empty(), "lonely is on no network the client shares");
    assert!(!lookup(&hosts, "tasks.db").is_empty(), "db is on back, which the client shares");
    // The VIP balances over the replicas: repeated requests reach more than one.
    let answered_by = wait_for_or_dump(&hosts, manager, "http://web/ to answer through the VIP", || {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..12 {
            let output = exec_in(&hosts, "client", "timeout 3 wget -qO- http://web/");
            if output.status.success() {
                seen.insert(String::from_utf8_lossy(&output.stdout).into_owned());
            }
        }
        (seen.len() >= 2).then_some(seen)
    });
    assert!(answered_by.iter().all(|a| a.starts_with("hello from ")), "{answered_by:?}");

    // A host dies (its daemon and containers killed): its web task drops out of DNS and the VIP.
    let client_host =
        hosts.hosts().iter().position(|host| !host.docker(&["ps", "-q", "--filter", "name=client"]).trim().is_empty());
    let victim = if client_host == Some(1) { 2 } else { 1 };
    let victim_addr = hosts.hosts()[victim].addr().to_string();
    daemons[victim].kill();
    let names = hosts.hosts()[victim].docker(&["ps", "-q"]);
    let names: Vec<&str> = names.lines().collect();
    if !names.is_empty() {
        let mut args = vec!["kill"];
        args.extend(names);
        hosts.hosts()[victim].docker(&args);
    }
    let manager = &daemons[0];
    let survivors = wait_for_or_dump(&hosts, manager, "tasks.web to drop the dead host's task", || {
        let alive: Vec<String> = web.iter().filter(|t| t.2 != victim_addr).map(|t| t.1.clone()).collect();
        let mut addrs = lookup(&hosts, "tasks.web");
        addrs.sort();
        let dead = web.iter().find(|t| t.2 == victim_addr).map(|t| t.1.clone()).unwrap_or_default();
        (!addrs.contains(&dead) && alive.iter().all(|a| addrs.contains(a))).then_some(addrs)
    });
    assert!(survivors.len() >= 2, "{survivors:?}");
    for _ in 0..6 {
        let output = exec_in(&hosts, "client", "timeout 3 wget -qO- http://web/");
        assert!(output.status.success(), "the VIP answers through the live tasks only");
    }

    // Scale down: DNS and the VIP stop naming the removed tasks.
    manager.cli_ok(&["service", "scale", "-d", "web=1"]);
    let left = wait_for_or_dump(&hosts, manager, "tasks.web to name the one task left", || {
        let addrs = lookup(&hosts, "tasks.web");
        (addrs.len() == 1 && survivors.contains(&addrs[0])).then(|| addrs[0].clone())
    });
    assert!(!left.is_empty());
    for _ in 0..6 {
        let output = exec_in(&hosts, "client", "timeout 3 wget -qO- http://web/");
        assert!(output.status.success(), "the VIP answers through the task left");
    }

    // Removing everything leaves nothing behind on any host.
    for service in ["web", "db", "lonely", "sealed", "client"] {
        manager.cli_ok(&["service", "rm", service]);
    }
    for (index, host) in hosts.hosts().iter().enumerate() {
        if index == victim {
            continue; // a dead host keeps what it had; it is gone with the host
        }
        wait_for(&format!("{} to be empty", host.name()), DEADLINE, || {
            let networks = host.docker(&["network", "ls", "--filter", "label=swarm.overlay.network-id", "-q"]);
            let links = host.run_ok("ip", &["-o", "link", "show"]);
            let vxlans = links.lines().filter(|l| ["swv-", "swg-", "swe-"].iter().any(|p| l.contains(p))).count();
            let egress = host.docker(&["network", "ls", "--filter", "name=swe-", "-q"]);
            let isolation = host.run("nft", &["list", "table", "inet", "swarm_overlay"]).status.success();
            let empty = networks.trim().is_empty() && egress.trim().is_empty() && vxlans == 0 && !isolation;
            (containers_on(host) == 0 && empty).then_some(())
        });
    }
    manager.cli_ok(&["network", "rm", "front", "back", "other", "sealed"]);
}
