//! Routing-mesh benchmarks, on the overlay benchmarks' three hosts (`ovb1` manages, `ovb2` and `ovb3` work). The
//! client is a thread of this process in `ovb2`'s namespace, so both paths below start at the same place and cross
//! the overlay once:
//! - requests: HTTP/1.0 GETs (one connection each, as `curl` in a loop) to a 1-replica service pinned to `ovb3`,
//!   through the mesh at `ovb1`'s address (a node that runs no task: DNAT there, then the `ingress` overlay to
//!   `ovb3`), against straight to the task's `ingress` address from `ovb2` (its own `ingress` gateway). Requests/s
//!   over [`REQUEST_TIME`] per round, the median of [`ROUNDS`] interleaved rounds after a warm-up; the ratio is mesh
//!   ÷ direct. The added latency is the p99 of the mesh requests' times minus the p99 of the direct ones.
//! - failover: a 2-replica service (one task on `ovb2`, one on `ovb3`) published on a port; the task on `ovb3` is
//!   killed with `docker kill`, and the time until `ovb1`'s mesh table no longer names its `ingress` address is
//!   measured — from then on no new connection to `ovb1` can go to it. Requests sent through `ovb1` meanwhile are
//!   counted (reported, not judged: the mesh cannot know before the managers do).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use swarm_tests::hosts::{HostDaemon, TestHost, TestHosts};
use swarm_tests::{http_get_ok, names_any_addr, wait_for};

use super::overlay::{in_netns, median, wait_running, DEADLINE};
use super::percentile_ms;

pub const REQUESTS: [&str; 4] =
    ["mesh_requests_per_sec_ratio", "mesh_requests_per_sec", "direct_requests_per_sec", "mesh_added_latency_p99_ms"];
pub const FAILOVER: [&str; 1] = ["mesh_failover_ms"];

const REQUEST_TIME: Duration = Duration::from_secs(2);
const ROUNDS: usize = 5;
const REQUESTS_PORT: u16 = 8090;
const FAILOVER_PORT: u16 = 8091;

/// The running container of `service` on `host`: its name and addresses (only its `ingress` one can appear in a
/// mesh table).
fn container_addrs(host: &TestHost, service: &str) -> (String, Vec<Ipv4Addr>) {
    let names = host.docker(&["ps", "--format", "{{.Names}}"]);
    let name = names
        .lines()
        .find(|name| name.starts_with(&format!("{service}.")))
        .unwrap_or_else(|| panic!("no running container of {service} on {}: {names}", host.name()))
        .to_string();
    let addrs = host.container_addrs(&name);
    (name, addrs)
}

/// One timed GET; `None` if it failed.
fn timed_get(addr: SocketAddr) -> Option<Duration> {
    let start = Instant::now();
    http_get_ok(addr).map(|_| start.elapsed())
}

/// GETs to `addr` for [`REQUEST_TIME`]: requests per second and each request's time.
fn round(addr: SocketAddr) -> (f64, Vec<Duration>) {
    let start = Instant::now();
    let mut times = Vec::new();
    while start.elapsed() < REQUEST_TIME {
        times.push(timed_get(addr).unwrap_or_else(|| panic!("GET {addr} failed")));
    }
    (times.len() as f64 / start.elapsed().as_secs_f64(), times)
}

pub fn requests(hosts: &TestHosts, daemons: &[HostDaemon<'_>]) {
    let manager = &daemons[0];
    let on_third = format!("node.hostname=={}", hosts[2].name());
    let published = format!("{REQUESTS_PORT}:80");
    manager.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "mesh-req",
        "-p",
        &published,
        "--constraint",
        &on_third,
        "swarm-hello:1",
    ]);
    wait_running(daemons, "mesh-req");
    let (_, task_addrs) = container_addrs(&hosts[2], "mesh-req");
    let mesh = SocketAddr::from((hosts[0].addr(), REQUESTS_PORT));
    let client = hosts[1].netns_path();
    let (mesh_rounds, direct_rounds) = in_netns(&client, || {
        // The task's `ingress` address: the one the mesh forwards to.
        let direct = wait_for("the mesh and the task's ingress address to answer", DEADLINE, || {
            http_get_ok(mesh)?;
            let table = hosts[0].mesh_table();
            let ingress = task_addrs.iter().find(|addr| names_any_addr(&table, std::slice::from_ref(addr)))?;
            let direct = SocketAddr::from((*ingress, 80));
            http_get_ok(direct).map(|_| direct)
        });
        round(mesh);
        round(direct);
        let (mut meshes, mut directs) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            meshes.push(round(mesh));
            directs.push(round(direct));
        }
        (meshes, directs)
    });
    let summarise = |rounds: Vec<(f64, Vec<Duration>)>| {
        let mut rates: Vec<f64> = rounds.iter().map(|(rate, _)| *rate).collect();
        let mut times: Vec<Duration> = rounds.into_iter().flat_map(|(_, times)| times).collect();
        times.sort();
        (median(&mut rates), percentile_ms(&times, 0.99), times.len())
    };
    let (mesh_rate, mesh_p99, mesh_count) = summarise(mesh_rounds);
    let (direct_rate, direct_p99, direct_count) = summarise(direct_rounds);
    eprintln!(
        "bench: mesh {mesh_rate:.0} req/s, p99 {mesh_p99:.3} ms ({mesh_count} requests); direct {direct_rate:.0} req/s, \
         p99 {direct_p99:.3} ms ({direct_count} requests)"
    );
    println!("RESULT mesh_requests_per_sec={mesh_rate:.0} req/s");
    println!("RESULT direct_requests_per_sec={direct_rate:.0} req/s");
    println!("RESULT mesh_requests_per_sec_ratio={:.3} ratio", mesh_rate / direct_rate);
    println!("RESULT mesh_added_latency_p99_ms={:.3} ms", mesh_p99 - direct_p99);
    manager.cli_ok(&["service", "rm", "mesh-req"]);
}

pub fn failover(hosts: &TestHosts, daemons: &[HostDaemon<'_>]) {
    let manager = &daemons[0];
    let published = format!("{FAILOVER_PORT}:80");
    let not_first = format!("node.hostname!={}", hosts[0].name());
    manager.cli_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "mesh-fo",
        "-p",
        &published,
        "--replicas",
        "2",
        "--replicas-max-per-node",
        "1",
        "--constraint",
        &not_first,
        "swarm-hello:1",
    ]);
    wait_running(daemons, "mesh-fo");
    let (victim, victim_addrs) = container_addrs(&hosts[2], "mesh-fo");
    let entry = SocketAddr::from((hosts[0].addr(), FAILOVER_PORT));
    wait_for("both tasks in ovb1's mesh", DEADLINE, || {
        let table = hosts[0].mesh_table();
        (http_get_ok(entry).is_some() && names_any_addr(&table, &victim_addrs)).then_some(())
    });

    let stop = AtomicBool::new(false);
    let (sent, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let failover = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                sent.fetch_add(1, Ordering::SeqCst);
                if http_get_ok(entry).is_none() {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let killed = Instant::now();
        hosts[2].docker(&["kill", &victim]);
        let gone = wait_for("the killed task to leave ovb1's mesh", DEADLINE, || {
            (!names_any_addr(&hosts[0].mesh_table(), &victim_addrs)).then(|| killed.elapsed())
        });
        stop.store(true, Ordering::SeqCst);
        gone
    });
    eprintln!(
        "bench: mesh failover {failover:.1?}; {} of {} requests through ovb1 failed meanwhile",
        failed.load(Ordering::SeqCst),
        sent.load(Ordering::SeqCst)
    );
    println!("RESULT mesh_failover_ms={:.0} ms", failover.as_secs_f64() * 1000.0);
    manager.cli_ok(&["service", "rm", "mesh-fo"]);
}
