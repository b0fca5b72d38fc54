//! The routing mesh on three test hosts, through the `swarm` CLI as a user types it: `service create -p 8080:80`
//! of a service whose one task runs on the third host answers on port 8080 of every host's address, the two hosts
//! without the task included, and the task logs the test client's own address whichever host the request went
//! to; scaled to three replicas, requests to one host reach several of them; a killed task leaves every host's
//! mesh, after which no request fails; `service update --publish-add/--publish-rm` opens and closes a port on
//! every host; a port another service publishes is refused, naming it; a port without a number gets 30000 and
//! answers everywhere; the cluster port is refused; removing the services leaves no mesh table on any host.
//! Everything lives in the hosts the test starts, removed when it ends.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use swarm_tests::hosts::{form_cluster, HostDaemon, TestHosts};
use swarm_tests::{http_get_ok, names_any_addr};

const DEADLINE: Duration = Duration::from_secs(90);

#[test]
fn published_ports_answer_on_every_host() {
    let hosts = TestHosts::start("mesh", 3);
    let daemons: Vec<HostDaemon<'_>> = hosts.hosts().iter().map(HostDaemon::start).collect();
    let manager = &daemons[0];
    form_cluster(&daemons, DEADLINE);
    let on_third = format!("node.hostname=={}", hosts[2].name());
    manager.cli_ok(&[
        "service",
        "create",
        "--name",
        "web",
        "-p",
        "8080:80",
        "--constraint",
        &on_third,
        "swarm-hello:1",
    ]);
    let ports = manager.cli_ok(&["service", "ls", "--format", "{{.Ports}}"]);
    assert_eq!(ports.trim(), "*:8080->80/tcp");

    // Every host answers, whichever runs the task.
    let answers_on = |port: u16| -> Vec<Option<String>> {
        hosts.hosts().iter().map(|host| http_get_ok(SocketAddr::from((host.addr(), port)))).collect()
    };
    let dump = || daemons.iter().map(|d| format!("--- {} ---\n{}", d.host.name(), d.log_tail())).collect::<String>();
    let first = wait_for_or(&dump, "port 8080 on every host", || {
        let answers = answers_on(8080);
        answers.iter().all(|answer| answer.as_deref().is_some_and(|a| a.starts_with("hello from "))).then_some(answers)
    });
    assert_eq!(first.iter().collect::<BTreeSet<_>>().len(), 1, "one task answers everywhere: {first:?}");

    // The task sees the client's own address, whether the request came through a host without the task or
    // through the task's own host.
    let client_ip = TcpStream::connect((hosts[0].addr(), 8080)).unwrap().local_addr().unwrap().ip();
    let task_logs = || {
        let name = hosts[2].docker(&["ps", "--format", "{{.Names}}"]);
        let logs = hosts[2].docker(&["logs", name.trim()]);
        logs.lines().filter(|line| line.contains(&format!(" from {client_ip}:"))).count()
    };
    for (host, via) in [(&hosts[0], "a host without the task"), (&hosts[2], "the task's own host")] {
        let before = task_logs();
        assert!(http_get_ok(SocketAddr::from((host.addr(), 8080))).is_some(), "GET through {via}");
        wait_for_or(&dump, &format!("the task to log the client's address {client_ip} through {via}"), || {
            (task_logs() > before).then_some(())
        });
    }

    // Three replicas: requests to one host spread over several of them.
    manager.cli_ok(&["service", "update", "--constraint-rm", &on_third, "--replicas", "3", "web"]);
    let first_host = SocketAddr::from((hosts[0].addr(), 8080));
    let spread = wait_for_or(&dump, "requests to one host reaching several replicas", || {
        let seen: BTreeSet<String> = (0..12).filter_map(|_| http_get_ok(first_host)).collect();
        (seen.len() >= 2).then_some(seen)
    });
    assert!(spread.iter().all(|answer| answer.starts_with("hello from ")), "{spread:?}");

    // A killed task leaves every host's mesh; from then on no request fails (only the wait is bounded).
    let victim_host = hosts.hosts().iter().find(|host| !host.docker(&["ps", "-q"]).trim().is_empty()).unwrap();
    let victim = victim_host.docker(&["ps", "--format", "{{.Names}}"]).lines().next().unwrap().to_string();
    let victim_addrs = victim_host.container_addrs(&victim);
    wait_for_or(&dump, "the task to be in every host's mesh before it is killed", || {
        hosts.hosts().iter().all(|host| names_any_addr(&host.mesh_table(), &victim_addrs)).then_some(())
    });
    let killed = std::time::Instant::now();
    victim_host.docker(&["kill", &victim]);
    wait_for_or(&dump, "the killed task to leave every host's mesh", || {
        let named = hosts.hosts().iter().any(|host| names_any_addr(&host.mesh_table(), &victim_addrs));
        (!named).then_some(())
    });
    eprintln!("mesh_e2e: the killed task left every host's mesh {:.1?} after the kill", killed.elapsed());
    for host in hosts.hosts() {
        for attempt in 0..20 {
            let answer = http_get_ok(SocketAddr::from((host.addr(), 8080)));
            assert!(answer.is_some(), "request {attempt} to {} failed after the mesh dropped the task", host.name());
        }
    }

    // A port opened and another closed on every host.
    // `--publish-rm` names the target port, as in Docker; removals apply before additions.
    manager.cli_ok(&["service", "update", "--publish-rm", "80", "--publish-add", "8081:80", "web"]);
    wait_for_or(&dump, "8081 open and 8080 closed everywhere", || {
        let opened = answers_on(8081).iter().all(Option::is_some);
        let closed = answers_on(8080).iter().all(Option::is_none);
        (opened && closed).then_some(())
    });

    // A port another service publishes is refused, naming it.
    let taken = manager.cli(&["service", "create", "--name", "other", "-p", "8081:80", "swarm-hello:1"]);
    let stderr = String::from_utf8_lossy(&taken.stderr);
    assert!(!taken.status.success(), "a published port in use was given again");
    assert!(stderr.contains("8081") && stderr.contains("web"), "{stderr}");

    // A port without a number gets the first of 30000-32767, answering on every host.
    manager.cli_ok(&["service", "create", "--name", "auto", "-p", "80", "swarm-hello:1"]);
    let ports = manager.cli_ok(&["service", "ls", "--format", "{{.Name}} {{.Ports}}"]);
    assert!(ports.lines().any(|line| line == "auto *:30000->80/tcp"), "{ports}");
    wait_for_or(&dump, "the assigned port 30000 on every host", || {
        answers_on(30000).iter().all(Option::is_some).then_some(())
    });

    // The cluster port cannot be published through the mesh: it would capture the cluster's own traffic.
    let reserved = manager.cli(&["service", "create", "--name", "other", "-p", "2377:80", "swarm-hello:1"]);
    let stderr = String::from_utf8_lossy(&reserved.stderr);
    assert!(!reserved.status.success(), "the cluster port was published");
    assert!(stderr.contains("port '2377/tcp' cannot be published through the routing mesh"), "{stderr}");

    // Removing the services closes the ports and removes the mesh everywhere.
    manager.cli_ok(&["service", "rm", "web", "auto"]);
    wait_for_or(&dump, "no mesh table on any host", || {
        let tables = hosts.hosts().iter().any(|host| host.run_ok("nft", &["list", "tables"]).contains("swarm_mesh_"));
        (!tables && answers_on(8081).iter().all(Option::is_none)).then_some(())
    });
}

/// `wait_for`, but a timeout panics with `dump()` (the daemons' logs) too.
fn wait_for_or<T>(dump: &dyn Fn() -> String, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out after {DEADLINE:?} waiting for {what}\n{}", dump());
        std::thread::sleep(Duration::from_millis(200));
    }
}
