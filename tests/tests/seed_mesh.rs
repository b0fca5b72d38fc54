//! The seed's example on three test hosts, as a user types it: `network create --driver overlay mydrupal`, the
//! database (`swarm-postgres:1` as `psql`, `POSTGRES_PASSWORD=mypass`) and the web page (`swarm-php:1` as
//! `drupal`, `-p 80:80`) on it, then `service ls`. Port 80 of every host answers with data from the database —
//! hosts running neither task included — and the page sees the test client's own address; scaled to three
//! replicas, requests to any one host are served by several of them. Removing everything leaves no mesh table,
//! overlay device or Docker network of ours on any host. The stand-in images are built from Debian packages
//! (`scripts/images --seed`, cached) and loaded into the hosts' engines.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarm_tests::hosts::{form_cluster, HostDaemon, TestHosts};
use swarm_tests::{ensure_seed_images, http_get_ok};

/// Long enough for a first PostgreSQL start (initdb, then the server) on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(180);

/// The `name: value` line `name` of the page, if there.
fn field<'a>(page: &'a str, name: &str) -> Option<&'a str> {
    page.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}

#[test]
fn the_seed_answers_on_every_host_with_data_from_its_database() {
    ensure_seed_images();
    let hosts = TestHosts::start_with_images("seed", 3, &["swarm-postgres:1", "swarm-php:1"]);
    let daemons: Vec<HostDaemon<'_>> = hosts.hosts().iter().map(HostDaemon::start).collect();
    let manager = &daemons[0];
    form_cluster(&daemons, Duration::from_secs(90));
    let dump = || daemons.iter().map(|d| format!("--- {} ---\n{}", d.host.name(), d.log_tail())).collect::<String>();
    let wait = |what: &str, probe: &mut dyn FnMut() -> Option<()>| {
        let start = Instant::now();
        while probe().is_none() {
            if start.elapsed() > DEADLINE {
                let ps = manager.cli(&["service", "ps", "--no-trunc", "psql", "drupal"]);
                let ps = String::from_utf8_lossy(&ps.stdout);
                panic!("timed out waiting for {what}\n{ps}\n{}", dump());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    };

    manager.cli_ok(&["network", "create", "--driver", "overlay", "mydrupal"]);
    let psql = ["--name", "psql", "--network", "mydrupal", "-e", "POSTGRES_PASSWORD=mypass", "swarm-postgres:1"];
    manager.cli_ok(&[&["service", "create", "-d"][..], &psql].concat());
    manager.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "drupal",
        "--network",
        "mydrupal",
        "-p",
        "80:80",
        "swarm-php:1",
    ]);
    let listed = manager.cli_ok(&["service", "ls"]);
    assert!(listed.lines().any(|line| line.contains("drupal") && line.ends_with("*:80->80/tcp")), "{listed}");

    // Every host answers with the database's data (two tasks on three hosts: at least one host runs neither), the
    // page seeing the test client's own address.
    let client = hosts.root_addr().to_string();
    let pages = |port: u16| -> Vec<Option<String>> {
        hosts.hosts().iter().map(|host| http_get_ok(SocketAddr::from((host.addr(), port)))).collect()
    };
    wait("port 80 on every host with data from the database", &mut || {
        let answers = pages(80);
        answers.iter().all(|page| page.as_deref().and_then(|p| field(p, "database")).is_some()).then_some(())
    });
    for (host, page) in hosts.hosts().iter().zip(pages(80)) {
        let page = page.unwrap_or_else(|| panic!("{} stopped answering", host.name()));
        assert!(field(&page, "database").unwrap().starts_with("postgres@psql:5432/postgres (PostgreSQL"), "{page}");
        assert_eq!(field(&page, "client"), Some(client.as_str()), "the client's own address through {}", host.name());
    }

    // Scaled, the requests to any one host reach several replicas.
    manager.cli_ok(&["service", "scale", "-d", "drupal=3"]);
    for host in hosts.hosts() {
        let addr = SocketAddr::from((host.addr(), 80));
        wait(&format!("requests to {} served by several replicas", host.name()), &mut || {
            let served: BTreeSet<String> = (0..15)
                .filter_map(|_| http_get_ok(addr))
                .filter_map(|p| field(&p, "served by").map(str::to_owned))
                .collect();
            (served.len() >= 2).then_some(())
        });
    }

    // Removing everything leaves nothing of ours on any host.
    manager.cli_ok(&["service", "rm", "drupal", "psql"]);
    manager.cli_ok(&["network", "rm", "mydrupal"]);
    wait("no mesh table, overlay device or Docker network of ours on any host", &mut || {
        let clean = hosts.hosts().iter().all(|host| {
            let tables = host.run_ok("nft", &["list", "tables"]);
            let links = host.run_ok("ip", &["-o", "link"]);
            let networks = host.docker(&["network", "ls", "--format", "{{.Name}}"]);
            !tables.contains("swarm_mesh_")
                && !["swv-", "swg-"].iter().any(|prefix| links.contains(prefix))
                && !networks.lines().any(|name| name.starts_with("swo-") || name.starts_with("swe-"))
        });
        clean.then_some(())
    });
}
