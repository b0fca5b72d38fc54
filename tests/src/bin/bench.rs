//! Benchmarks on real processes. Raft: three `swarm daemon` managers on 127.0.0.x with real fsync'd disks, driven
//! by 1, 16 and 64 concurrent proposers through the cluster API. create50: `service create --replicas 50` of the
//! local `swarm-hello:1` image on a one-node swarm until 50/50 run (wall time, through the CLI), next to the same
//! with Docker Swarm on this machine's engine (`docker swarm init`, `docker swarm leave --force` afterwards).
//! Chaos: one run of the chaos drill (`swarm_tests::chaos`, seed `CHAOS_SEED` or 1, on 127.0.72.x): the p99 and
//! maximum wall time of the CLI commands sent while a process was killed or frozen, the term increments per
//! follower SIGSTOP/SIGCONT (goal 0), and the slowest time from a leader's SIGSTOP until a command sent to a
//! follower was answered by the new leader.
//! Overlay (`overlay.rs`): on three test hosts, TCP throughput over the overlay against the underlay, attaching a
//! task to a network new to its node against `docker run`, and the p99 of connects to a VIP, to task addresses and
//! of DNS queries; the routing mesh (`mesh.rs`) on the same hosts: requests/s and added p99 through a node that
//! runs no task against straight to the task, and how long a killed task stays in the mesh.
//! Stack (`stack.rs`): `stack deploy` of 20 services on a one-node swarm until all run, beside the same services
//! created one by one with `service create -d`.
//! Security (`security.rs`): three managers in this process, the commit rate over plain HTTP against the same over
//! mutual TLS; and how long a worker's `swarm join` takes until the manager sees it ready.
//! Prints `RESULT <name>=<value> <unit>` lines. Usage: `bench [FILTER]` runs the figures whose names contain
//! FILTER; `bench overlay` runs all the overlay figures.

#[path = "bench/mesh.rs"]
mod mesh;
#[path = "bench/overlay.rs"]
mod overlay;
#[path = "bench/security.rs"]
mod security;
#[path = "bench/stack.rs"]
mod stack;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use swarm_runtime::manager::client::ClusterClient;
use swarm_runtime::tls::ClientTls;
use swarm_tests::{create_network, scratch_dir, wait_for, Daemon, Role};

const RUN: Duration = Duration::from_secs(5);

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let wanted = |name: &str| name.contains(&filter);
    if [
        "raft_loopback_commits_per_sec_1",
        "raft_loopback_commits_per_sec_16",
        "raft_loopback_commits_per_sec_64",
        "raft_loopback_p99_ms_64",
    ]
    .iter()
    .any(|n| wanted(n))
    {
        raft_loopback(&wanted);
    }
    if security::FIGURES.iter().any(|n| wanted(n)) {
        security::run(&wanted);
    }
    if ["create50_seconds", "swarm_create50_seconds", "create50_ratio_vs_swarm"].iter().any(|n| wanted(n)) {
        create50();
    }
    if CHAOS_FIGURES.iter().any(|n| wanted(n)) {
        chaos();
    }
    let overlay_wanted = |name: &str| filter == overlay::GROUP || wanted(name);
    if overlay::figures().any(overlay_wanted) {
        overlay::run(&overlay_wanted);
    }
    let stack_wanted = |name: &str| filter == stack::GROUP || wanted(name);
    if stack::figures().any(stack_wanted) {
        stack::run(&stack_wanted);
    }
}

const CHAOS_FIGURES: [&str; 4] =
    ["chaos_cmd_p99_ms", "chaos_cmd_max_ms", "needless_elections_per_follower_stall", "leader_freeze_redirect_ms"];

/// One drill; its violations are listed (a benchmark reports, the test judges).
fn chaos() {
    let mut config = swarm_tests::chaos::ChaosConfig::from_env(72, 2372, "bench-chaos");
    config.daemon_args = vec!["--log-level".into(), "warn".into()];
    let report = swarm_tests::chaos::run(&config);
    for violation in &report.violations {
        eprintln!("{}", violation.summary_line());
    }
    eprint!("{}", report.summary());
    println!("RESULT chaos_cmd_p99_ms={:.0} ms", report.cmd_p99_ms());
    println!("RESULT chaos_cmd_max_ms={:.0} ms", report.cmd_max_ms());
    println!(
        "RESULT needless_elections_per_follower_stall={:.2} elections/stall",
        report.needless_elections_per_follower_stall()
    );
    println!("RESULT leader_freeze_redirect_ms={:.0} ms", report.leader_freeze_redirect_ms());
}

const CREATE50_DEADLINE: Duration = Duration::from_secs(300);

/// Ours, then Docker Swarm's, then the ratio.
fn create50() {
    swarm_tests::ensure_test_images();
    let ours = create50_ours();
    println!("RESULT create50_seconds={:.2} s", ours.as_secs_f64());
    match create50_docker_swarm() {
        Some(theirs) => {
            println!("RESULT swarm_create50_seconds={:.2} s", theirs.as_secs_f64());
            println!("RESULT create50_ratio_vs_swarm={:.3} ratio", ours.as_secs_f64() / theirs.as_secs_f64());
        }
        None => println!(
            "NOTE the Docker Engine is in a swarm already: not comparing with Docker Swarm (it is not ours to leave)"
        ),
    }
}

fn create50_ours() -> Duration {
    let dir = scratch_dir("bench-create50");
    let addr = "127.0.91.1:2391";
    let daemon = Daemon::start_with(addr, &dir.join("n1"), Role::Restart, &["--log-level", "warn"]);
    wait_for("the control socket", Duration::from_secs(20), || daemon.socket.exists().then_some(()));
    daemon.cli_ok(&["init", "--advertise-addr", addr]);
    let start = Instant::now();
    daemon.cli_ok(&["service", "create", "-d", "--name", "bench50", "--replicas", "50", "swarm-hello:1"]);
    wait_for("bench50 to run 50/50", CREATE50_DEADLINE, || {
        let text = daemon.cli(&["service", "ls"]).stdout_text();
        text.lines().any(|l| l.contains("bench50") && l.contains(" 50/50 ")).then_some(())
    });
    let elapsed = start.elapsed();
    daemon.cli_ok(&["service", "rm", "bench50"]);
    wait_for("bench50's containers to go", CREATE50_DEADLINE, || {
        swarm_tests::containers_of_nodes(&[&daemon.data_dir], "swarm.service.name=bench50").is_empty().then_some(())
    });
    elapsed
}

/// Docker Swarm's time for the same, on this engine; `None` when the engine already is in a swarm (a user's, which
/// the benchmark must not leave).
fn create50_docker_swarm() -> Option<Duration> {
    let docker = |args: &[&str]| std::process::Command::new("docker").args(args).output().expect("run docker");
    let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    if String::from_utf8_lossy(&state.stdout).trim() != "inactive" {
        return None;
    }
    let init = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    assert!(init.status.success(), "docker swarm init: {}", String::from_utf8_lossy(&init.stderr));
    let start = Instant::now();
    let create = docker(&["service", "create", "-d", "--name", "bench50", "--replicas", "50", "swarm-hello:1"]);
    assert!(create.status.success(), "docker service create: {}", String::from_utf8_lossy(&create.stderr));
    wait_for("docker's bench50 to run 50/50", CREATE50_DEADLINE, || {
        let ls = docker(&["service", "ls", "--filter", "name=bench50", "--format", "{{.Replicas}}"]);
        String::from_utf8_lossy(&ls.stdout).trim().starts_with("50/50").then_some(())
    });
    let elapsed = start.elapsed();
    let _ = docker(&["service", "rm", "bench50"]);
    let left = docker(&["swarm", "leave", "--force"]);
    assert!(left.status.success(), "docker swarm leave: {}", String::from_utf8_lossy(&left.stderr));
    Some(elapsed)
}

fn raft_loopback(wanted: &dyn Fn(&str) -> bool) {
    let dir = scratch_dir("bench-loopback");
    let addrs: Vec<String> = (1..=3).map(|i| format!("127.0.90.{i}:2390")).collect();
    let quiet = ["--log-level", "warn"];
    let mut daemons = vec![Daemon::start_with(&addrs[0], &dir.join("m1"), Role::Init, &quiet)];
    wait_for("manager 1 to lead an initialised cluster", Duration::from_secs(30), || {
        daemons[0].leads_initialized_cluster().then_some(())
    });
    let token = daemons[0].join_token("manager");
    for i in 1..3 {
        let role = Role::Join { addr: &addrs[0], token: &token };
        daemons.push(Daemon::start_with(&addrs[i], &dir.join(format!("m{}", i + 1)), role, &quiet));
    }
    wait_for("three voters", Duration::from_secs(30), || daemons[0].status().filter(|s| s.voters.len() == 3));
    let leader_addr = {
        let status = daemons[0].status().expect("status");
        status.voters[&status.leader.expect("leader")].clone()
    };
    eprintln!("bench: 3 managers up, leader at {leader_addr}; {}s per run", RUN.as_secs());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    for proposers in [1usize, 16, 64] {
        let name = format!("raft_loopback_commits_per_sec_{proposers}");
        let p99_name = format!("raft_loopback_p99_ms_{proposers}");
        if !wanted(&name) && !wanted(&p99_name) {
            continue;
        }
        let (commits, mut latencies) = runtime.block_on(drive(&leader_addr, proposers, daemons[0].manager_tls()));
        latencies.sort();
        let rate = commits as f64 / RUN.as_secs_f64();
        let p50 = percentile_ms(&latencies, 0.50);
        let p99 = percentile_ms(&latencies, 0.99);
        println!("RESULT {name}={rate:.0} commits/s");
        eprintln!("bench: {proposers} proposers: {commits} commits, p50 {p50:.2} ms, p99 {p99:.2} ms");
        if proposers == 64 {
            println!("RESULT {p99_name}={p99:.2} ms");
        }
    }
    drop(daemons);
    let _ = std::fs::remove_dir_all(&dir);
}

fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

pub(crate) async fn drive(leader: &str, proposers: usize, tls: Option<ClientTls>) -> (u64, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for p in 0..proposers {
        let stop = stop.clone();
        let addrs = vec![leader.to_string()];
        let tls = tls.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = ClusterClient::new(&addrs, Duration::from_secs(10), tls);
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let id = format!("bench-{proposers}-{p}-{seq}");
                let started = Instant::now();
                // Only commits that completed within the measured window count.
                if client.propose(create_network(&id)).await.is_ok() && Instant::now() <= deadline {
                    latencies.push(started.elapsed());
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("proposer task"));
    }
    (all.len() as u64, all)
}
