//! Overlay benchmarks on three test hosts (`swarm_tests::hosts`: network namespaces on one underlay, each with its
//! own dockerd and `swarm daemon`; `ovb1` manages, `ovb2` and `ovb3` work). Traffic is made by threads of this
//! process that enter a network namespace (`setns(CLONE_NEWNET)`) — a test host's, or a task container's via
//! `/proc/<pid>/ns/net` — so the same code and the same clock time the underlay and the overlay, without `docker
//! exec` or process start-up in the sample (busybox `date` has no `%N`). What is measured:
//! - throughput: one TCP stream, 256 KiB writes for 3 s, bytes received ÷ the receiver's time from accept to EOF;
//!   underlay `ovb2` → `ovb3`'s underlay address (host namespaces), overlay a container on `ovb2` → a container on
//!   `ovb3` at its overlay address, and the same on an encrypted network (`--opt encrypted`: through both nodes'
//!   WireGuard tunnels); the median of 5 rounds each, interleaved, after a warm-up of each.
//! - attach: from running `swarm service create` of a 1-replica service pinned to `ovb3` on a network `ovb3` did not
//!   have, until its engine reports the container's `start` event (`docker events`); beside the same for a service
//!   without a network and `docker run -d` of the same image on that engine until its `start` event; median of 5.
//! - connect: `connect(2)` to port 80 until it returns (SYN → SYN-ACK) from a client container on `ovb1`, alternately
//!   to the VIP of a 2-replica service (tasks on `ovb2` and `ovb3`) and directly to its task addresses in turn.
//! - DNS: an A query for the service name sent from the client container's namespace to 127.0.0.11:53 (Docker's
//!   embedded resolver, which forwards it to the node's swarm resolver) until the answer naming the VIP arrives.
//! - the routing mesh (`mesh.rs`), on the same cluster.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use swarm_tests::hosts::{form_cluster, HostDaemon, TestHost, TestHosts};
use swarm_tests::wait_for;

use super::{mesh, percentile_ms};

/// The filter that runs every figure below (besides any filter contained in a figure's name).
pub const GROUP: &str = "overlay";

const THROUGHPUT: [&str; 3] =
    ["overlay_throughput_ratio", "overlay_throughput_mb_per_s", "underlay_throughput_mb_per_s"];
/// Encrypted ÷ plain overlay throughput (Swarm's IPsec on the kernels that have it; here userspace WireGuard).
const ENCRYPTED: [&str; 2] = ["encrypted_throughput_ratio", "encrypted_throughput_mb_per_s"];
const ATTACH: [&str; 4] =
    ["network_attach_ms", "service_start_ms", "docker_run_ms", "network_attach_ratio_vs_docker_run"];
const LATENCY: [&str; 3] = ["vip_connect_p99_ms", "direct_connect_p99_ms", "dns_query_p99_ms"];

/// Every figure this module prints, the mesh's included.
pub fn figures() -> impl Iterator<Item = &'static str> {
    THROUGHPUT.into_iter().chain(ENCRYPTED).chain(ATTACH).chain(LATENCY).chain(mesh::REQUESTS).chain(mesh::FAILOVER)
}

pub(crate) const DEADLINE: Duration = Duration::from_secs(90);
const STREAM_PORT: u16 = 5201;
const STREAM_TIME: Duration = Duration::from_secs(3);
const STREAM_ROUNDS: usize = 5;
const ATTACH_ROUNDS: usize = 5;
const LATENCY_SAMPLES: usize = 1000;

/// Brings up the hosts and the cluster, runs the wanted groups, removes everything.
pub fn run(wanted: &dyn Fn(&str) -> bool) {
    let hosts = TestHosts::start("ovb", 3);
    eprintln!("bench: 3 test hosts up in {:.1?} ({})", hosts.bring_up_time(), hosts.run_id());
    let daemons: Vec<HostDaemon<'_>> = hosts.hosts().iter().map(HostDaemon::start).collect();
    let manager = &daemons[0];
    form_cluster(&daemons, DEADLINE);
    let encrypted = ENCRYPTED.iter().any(|n| wanted(n));
    if encrypted || THROUGHPUT.iter().any(|n| wanted(n)) {
        throughput(&hosts, &daemons, encrypted);
    }
    if ATTACH.iter().any(|n| wanted(n)) {
        attach(&hosts, manager);
    }
    if LATENCY.iter().any(|n| wanted(n)) {
        latency(&hosts, &daemons);
    }
    if mesh::REQUESTS.iter().any(|n| wanted(n)) {
        mesh::requests(&hosts, &daemons);
    }
    if mesh::FAILOVER.iter().any(|n| wanted(n)) {
        mesh::failover(&hosts, &daemons);
    }
}

/// Waits until the tasks of `service` that should run all run; panics with `service ps` and the logs if not.
pub(crate) fn wait_running(daemons: &[HostDaemon<'_>], service: &str) {
    let manager = &daemons[0];
    let args = ["service", "ps", "--filter", "desired-state=running", "--format", "{{.CurrentState}}", service];
    let start = Instant::now();
    loop {
        let states = manager.cli_ok(&args);
        if !states.trim().is_empty() && states.lines().all(|state| state.starts_with("Running")) {
            return;
        }
        if start.elapsed() > DEADLINE {
            let ps = manager.cli_ok(&["service", "ps", "--no-trunc", service]);
            let logs: Vec<String> =
                daemons.iter().map(|d| format!("--- {} ---\n{}", d.host.name(), d.log_tail())).collect();
            panic!("{service} is not running:\n{ps}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `service` on `network`: its VIP (if any) and its running tasks' overlay addresses.
fn endpoints(manager: &HostDaemon<'_>, network: &str, service: &str) -> (Option<Ipv4Addr>, Vec<Ipv4Addr>) {
    let inspected: Value =
        serde_json::from_str(&manager.cli_ok(&["network", "inspect", network])).expect("inspect prints JSON");
    let entry = &inspected[0]["Services"][service];
    let addr = |v: &Value| v.as_str().and_then(|s| s.split('/').next()?.parse().ok());
    let tasks = entry["Tasks"].as_array().map(|t| t.iter().filter_map(|t| addr(&t["EndpointIP"])).collect());
    (addr(&entry["VIP"]), tasks.unwrap_or_default())
}

/// `/proc/<pid>/ns/net` of the running container of `service` on `host`.
fn container_netns(host: &TestHost, service: &str) -> PathBuf {
    let names = host.docker(&["ps", "--format", "{{.Names}}"]);
    let name = names
        .lines()
        .find(|name| name.starts_with(&format!("{service}.")))
        .unwrap_or_else(|| panic!("no running container of {service} on {}: {names}", host.name()));
    let pid = host.docker(&["inspect", "--format", "{{.State.Pid}}", name]);
    PathBuf::from(format!("/proc/{}/ns/net", pid.trim()))
}

/// Moves the calling thread into the network namespace at `path` (only this thread: the namespace of a thread is
/// its own).
fn enter_netns(path: &Path) {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    // SAFETY: setns(2) with a descriptor we own for the duration of the call; it changes only this thread's network
    // namespace, which no other code relies on.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns into {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Runs `work` on a thread in the network namespace at `netns`.
pub(crate) fn in_netns<T: Send>(netns: &Path, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| {
            enter_netns(netns);
            work()
        });
        thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// One TCP stream from `client_ns` to `server` (whose listener is in `server_ns`) for [`STREAM_TIME`] or `time`;
/// returns MB/s (10^6 bytes) as the receiver saw it.
fn stream(client_ns: &Path, server_ns: &Path, server: Ipv4Addr, time: Duration) -> f64 {
    std::thread::scope(|scope| {
        let (ready_tx, ready_rx) = mpsc::channel();
        let receiver = scope.spawn(move || {
            enter_netns(server_ns);
            let listener = TcpListener::bind(("0.0.0.0", STREAM_PORT)).expect("bind the stream listener");
            ready_tx.send(()).expect("signal ready");
            let (mut conn, _) = listener.accept().expect("accept the stream");
            let start = Instant::now();
            let mut buf = vec![0u8; 1 << 18];
            let mut total = 0u64;
            loop {
                match conn.read(&mut buf).expect("read the stream") {
                    0 => break,
                    n => total += n as u64,
                }
            }
            total as f64 / start.elapsed().as_secs_f64() / 1e6
        });
        ready_rx.recv().expect("the listener is up");
        let sender = scope.spawn(move || {
            enter_netns(client_ns);
            let target = SocketAddr::from((server, STREAM_PORT));
            let mut conn = wait_for(&format!("a connection to {target}"), Duration::from_secs(30), || {
                TcpStream::connect_timeout(&target, Duration::from_secs(1)).ok()
            });
            let buf = vec![0u8; 1 << 18];
            let start = Instant::now();
            while start.elapsed() < time {
                conn.write_all(&buf).expect("write the stream");
            }
            conn.shutdown(Shutdown::Write).expect("shut the stream down");
        });
        sender.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        receiver.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A stream server task on `ovb3` and a client task on `ovb2` on a new network `network` (created with `options`):
/// the client's and the server's container namespaces and the server's address there.
fn stream_pair(
    hosts: &TestHosts,
    daemons: &[HostDaemon<'_>],
    network: &str,
    options: &[&str],
) -> (PathBuf, PathBuf, Ipv4Addr) {
    let manager = &daemons[0];
    let mut create = vec!["network", "create", "-d", "overlay"];
    create.extend(options);
    create.push(network);
    manager.cli_ok(&create);
    let (server, client) = (format!("{network}-srv"), format!("{network}-cli"));
    for (service, node) in [(&server, "ovb3"), (&client, "ovb2")] {
        let pin = format!("node.hostname=={node}");
        let args = ["service", "create", "-d", "--name", service, "--network", network, "--constraint", &pin];
        manager.cli_ok(&[&args[..], &["swarm-tools:1", "sleep", "3600"]].concat());
        wait_running(daemons, service);
    }
    let addr = endpoints(manager, network, &server).1.first().copied().expect("the server's address");
    (container_netns(&hosts[1], &client), container_netns(&hosts[2], &server), addr)
}

/// The underlay, the plain overlay and (if `encrypted`) an encrypted overlay, in interleaved rounds.
fn throughput(hosts: &TestHosts, daemons: &[HostDaemon<'_>], encrypted: bool) {
    let manager = &daemons[0];
    let (client_host, server_host) = (hosts[1].netns_path(), hosts[2].netns_path());
    let mut paths = vec![("underlay", client_host, server_host, hosts[2].addr())];
    let (client, server, addr) = stream_pair(hosts, daemons, "tput", &[]);
    paths.push(("overlay", client, server, addr));
    if encrypted {
        let (client, server, addr) = stream_pair(hosts, daemons, "tputenc", &["--opt", "encrypted"]);
        paths.push(("encrypted", client, server, addr));
    }
    let warm: Vec<f64> = paths.iter().map(|(_, c, s, a)| stream(c, s, *a, Duration::from_secs(1))).collect();
    eprintln!("bench: throughput warm-up (MB/s, underlay, overlay[, encrypted]): {warm:.0?}");
    let mut rounds = vec![Vec::new(); paths.len()];
    for _ in 0..STREAM_ROUNDS {
        for ((_, client, server, addr), samples) in paths.iter().zip(&mut rounds) {
            samples.push(stream(client, server, *addr, STREAM_TIME));
        }
    }
    let medians: Vec<f64> = rounds.iter_mut().map(|samples| median(samples)).collect();
    for ((name, ..), samples) in paths.iter().zip(&rounds) {
        eprintln!("bench: throughput rounds {name} (MB/s): {samples:.0?}");
    }
    println!("RESULT underlay_throughput_mb_per_s={:.0} MB/s", medians[0]);
    println!("RESULT overlay_throughput_mb_per_s={:.0} MB/s", medians[1]);
    println!("RESULT overlay_throughput_ratio={:.3} ratio", medians[1] / medians[0]);
    if encrypted {
        println!("RESULT encrypted_throughput_mb_per_s={:.0} MB/s", medians[2]);
        println!("RESULT encrypted_throughput_ratio={:.3} ratio", medians[2] / medians[1]);
        manager.cli_ok(&["service", "rm", "tputenc-srv", "tputenc-cli"]);
    }
    manager.cli_ok(&["service", "rm", "tput-srv", "tput-cli"]);
}

/// `docker events` of one engine: the names of the containers it starts, with when this process read them.
struct StartEvents {
    child: Child,
    rx: mpsc::Receiver<(String, Instant)>,
}

impl StartEvents {
    fn watch(host: &TestHost) -> StartEvents {
        let mut child = host
            .docker_command()
            .args(["events", "--filter", "type=container", "--filter", "event=start"])
            .args(["--format", "{{.Actor.Attributes.name}}"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run docker events");
        let stdout = child.stdout.take().expect("events stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((line, Instant::now())).is_err() {
                    break;
                }
            }
        });
        StartEvents { child, rx }
    }

    /// When a container whose name starts with `prefix` started; panics after [`DEADLINE`].
    fn started(&self, prefix: &str) -> Instant {
        let start = Instant::now();
        loop {
            let left = DEADLINE.checked_sub(start.elapsed()).unwrap_or_else(|| panic!("no start of {prefix}*"));
            match self.rx.recv_timeout(left) {
                Ok((name, at)) if name.starts_with(prefix) => return at,
                Ok(_) => {}
                Err(error) => panic!("waiting for a start of {prefix}*: {error}"),
            }
        }
    }
}

impl Drop for StartEvents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `host` has no container left, so that a measurement does not share the engine with a removal.
fn wait_empty(host: &TestHost) {
    wait_for(&format!("{} to have no container left", host.name()), DEADLINE, || {
        host.docker(&["ps", "-aq"]).trim().is_empty().then_some(())
    });
}

fn attach(hosts: &TestHosts, manager: &HostDaemon<'_>) {
    let host = &hosts[2];
    wait_empty(host);
    let events = StartEvents::watch(host);
    std::thread::sleep(Duration::from_millis(500)); // `docker events` subscribes asynchronously
    let pin = format!("node.hostname=={}", host.name());
    let (mut attached, mut plain_service, mut docker_run) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ATTACH_ROUNDS {
        let network = format!("att{round}");
        manager.cli_ok(&["network", "create", "-d", "overlay", &network]);
        let service = |name: &str, network: Option<&str>| -> f64 {
            let mut args = vec!["service", "create", "-d", "--name", name, "--constraint", &pin];
            if let Some(network) = network {
                args.extend(["--network", network]);
            }
            args.extend(["swarm-tools:1", "sleep", "3600"]);
            let start = Instant::now();
            manager.cli_ok(&args);
            let ms = events.started(&format!("{name}.")).duration_since(start).as_secs_f64() * 1000.0;
            manager.cli_ok(&["service", "rm", name]);
            wait_empty(host);
            ms
        };
        attached.push(service(&format!("att{round}"), Some(&network)));
        plain_service.push(service(&format!("nonet{round}"), None));
        let name = format!("plain{round}");
        let start = Instant::now();
        host.docker(&["run", "-d", "--name", &name, "swarm-tools:1", "sleep", "3600"]);
        docker_run.push(events.started(&name).duration_since(start).as_secs_f64() * 1000.0);
        host.docker(&["rm", "-f", &name]);
        manager.cli_ok(&["network", "rm", &network]);
    }
    eprintln!(
        "bench: attach rounds (ms): overlay service {attached:.0?}, service without network {plain_service:.0?}, \
         docker run {docker_run:.0?}"
    );
    let (attached, plain_service, docker_run) =
        (median(&mut attached), median(&mut plain_service), median(&mut docker_run));
    println!("RESULT network_attach_ms={attached:.0} ms");
    println!("RESULT service_start_ms={plain_service:.0} ms");
    println!("RESULT docker_run_ms={docker_run:.0} ms");
    println!("RESULT network_attach_ratio_vs_docker_run={:.2} ratio", attached / docker_run);
}

fn latency(hosts: &TestHosts, daemons: &[HostDaemon<'_>]) {
    let manager = &daemons[0];
    manager.cli_ok(&["network", "create", "-d", "overlay", "lat"]);
    let common = ["service", "create", "-d", "--network", "lat", "--name"];
    let srv = ["lat-srv", "--replicas", "2", "--replicas-max-per-node", "1", "--constraint", "node.hostname!=ovb1"];
    manager.cli_ok(&[&common[..], &srv[..], &["swarm-hello:1"][..]].concat());
    let cli = ["lat-cli", "--constraint", "node.hostname==ovb1", "swarm-tools:1", "sleep", "3600"];
    manager.cli_ok(&[&common[..], &cli[..]].concat());
    wait_running(daemons, "lat-srv");
    wait_running(daemons, "lat-cli");
    let (vip, tasks) = wait_for("lat-srv's VIP and two tasks", DEADLINE, || {
        let (vip, tasks) = endpoints(manager, "lat", "lat-srv");
        vip.filter(|_| tasks.len() == 2).map(|vip| (vip, tasks))
    });
    let client = container_netns(&hosts[0], "lat-cli");
    let (vip_samples, direct_samples, dns_samples) = in_netns(&client, || {
        let vip_port = SocketAddr::from((vip, 80));
        // The VIP's DNAT and the forwarding entries are programmed asynchronously: wait until both answer.
        wait_for("the VIP and the DNS name to answer", Duration::from_secs(30), || {
            let connects = TcpStream::connect_timeout(&vip_port, Duration::from_secs(1)).is_ok();
            (connects && dns_query("lat-srv", 0).is_ok_and(|addrs| addrs == [vip])).then_some(())
        });
        let (mut vips, mut directs, mut dns) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..LATENCY_SAMPLES {
            vips.push(timed_connect(vip_port));
            directs.push(timed_connect(SocketAddr::from((tasks[i % tasks.len()], 80))));
            let start = Instant::now();
            let answer = dns_query("lat-srv", i as u16).unwrap_or_else(|e| panic!("DNS query {i}: {e}"));
            dns.push(start.elapsed());
            assert_eq!(answer, [vip], "lat-srv resolves to its VIP");
        }
        (vips, directs, dns)
    });
    for (figure, mut samples) in
        [("vip_connect", vip_samples), ("direct_connect", direct_samples), ("dns_query", dns_samples)]
    {
        samples.sort();
        let (p50, p99) = (percentile_ms(&samples, 0.5), percentile_ms(&samples, 0.99));
        let max = samples.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        eprintln!("bench: {figure}: {} samples, p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms", samples.len());
        println!("RESULT {figure}_p99_ms={p99:.3} ms");
    }
    manager.cli_ok(&["service", "rm", "lat-srv", "lat-cli"]);
}

/// How long `connect(2)` to `addr` took; panics if it failed.
fn timed_connect(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    let elapsed = start.elapsed();
    conn.unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    elapsed
}

/// An A query for `name` to 127.0.0.11:53 from the calling thread's namespace; the addresses answered.
fn dns_query(name: &str, id: u16) -> Result<Vec<Ipv4Addr>, String> {
    let mut query = Vec::with_capacity(64);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // recursion desired, one question
    for label in name.split('.') {
        query.push(u8::try_from(label.len()).map_err(|_| "label too long")?);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    socket.connect("127.0.0.11:53").map_err(|e| e.to_string())?;
    socket.send(&query).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1500];
    let len = socket.recv(&mut buf).map_err(|e| format!("no answer: {e}"))?;
    parse_a_answers(&buf[..len], id, query.len() - 12)
}

/// The A records of a DNS response to query `id` whose question section is `question_len` bytes.
fn parse_a_answers(msg: &[u8], id: u16, question_len: usize) -> Result<Vec<Ipv4Addr>, String> {
    let short = || "short DNS response".to_string();
    let header = msg.get(..12).ok_or_else(short)?;
    if u16::from_be_bytes([header[0], header[1]]) != id {
        return Err("DNS response to another query".into());
    }
    if header[3] & 0x0f != 0 {
        return Err(format!("DNS rcode {}", header[3] & 0x0f));
    }
    let answers = u16::from_be_bytes([header[6], header[7]]);
    let mut at = 12 + question_len;
    let mut addrs = Vec::new();
    for _ in 0..answers {
        // The owner name: labels ending in a root label or a compression pointer.
        loop {
            let len = *msg.get(at).ok_or_else(short)?;
            if len & 0xc0 == 0xc0 {
                at += 2;
                break;
            }
            at += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        let fixed = msg.get(at..at + 10).ok_or_else(short)?;
        let (rtype, rdlen) = (u16::from_be_bytes([fixed[0], fixed[1]]), u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = msg.get(at + 10..at + 10 + usize::from(rdlen)).ok_or_else(short)?;
        if rtype == 1 && data.len() == 4 {
            addrs.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + usize::from(rdlen);
    }
    Ok(addrs)
}
