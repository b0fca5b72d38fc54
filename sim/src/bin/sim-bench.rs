//! Simulator benchmarks (build with `cargo sim-bench`): 3 managers on madsim's network (1–10 ms per message) and
//! simulated disks, driven by 1, 16 and 64 proposers for 10 simulated seconds each. Prints
//! `RESULT raft_sim_commits_per_sec_{1,16,64}` (commits per simulated second) and `RESULT sim_speedup`
//! (simulated seconds per wall-clock second while running the fault scenario of `cargo sim` for 20 seeds).
//! Orchestration figures, all in simulated time with default settings: `sim_create_10k_tasks_per_sec` (a service
//! of 10,000 replicas on 1,000 workers until all run), `worker_loss_replace_p{50,99}_s` (a worker host dies →
//! its tasks run elsewhere) and `leader_loss_recover_p{50,99}_s` (the leader dies → a proposal commits again),
//! over 20 seeded trials (worker loss) and 300 (leader loss). Usage: `sim-bench [FILTER]`.

#[cfg(madsim)]
fn main() {
    sim_bench::main();
}

#[cfg(not(madsim))]
fn main() {
    eprintln!("sim-bench runs inside the simulator: use `cargo sim-bench`");
    std::process::exit(2);
}

#[cfg(madsim)]
mod sim_bench {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use madsim::runtime::Runtime;
    use sim::recorder::Recorder;
    use sim::world::{manager_addr, World};
    use swarm_core::{Command, NetworkSpec, Proposal, Timestamp};
    use swarm_runtime::manager::client::ClusterClient;
    use swarm_runtime::raft::settings::RaftSettings;

    const MEASURE: Duration = Duration::from_secs(10);

    pub fn main() {
        let filter = std::env::args().nth(1).unwrap_or_default();
        orchestration::main(&filter);
        for proposers in [1u64, 16, 64] {
            let name = format!("raft_sim_commits_per_sec_{proposers}");
            if !name.contains(&filter) {
                continue;
            }
            let runtime = Runtime::with_seed_and_config(proposers, madsim::Config::default());
            let commits = runtime.block_on(run(proposers));
            println!("RESULT {name}={:.0} commits/s", commits as f64 / MEASURE.as_secs_f64());
        }
        if "sim_speedup".contains(&filter) {
            // Speed of the fault campaign itself: simulated seconds per wall-clock second over 20 seeds.
            let wall = Instant::now();
            let mut simulated = Duration::ZERO;
            for seed in 1..=20 {
                let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
                simulated += runtime.block_on(async move {
                    let start = madsim::time::Instant::now();
                    sim::raft_scenario::run(seed).await;
                    start.elapsed()
                });
            }
            println!("RESULT sim_speedup={:.1} x", simulated.as_secs_f64() / wall.elapsed().as_secs_f64());
        }
    }

    async fn run(proposers: u64) -> u64 {
        let world = World::new(3, RaftSettings::default(), Recorder::default());
        for id in 2..=3 {
            world.add_manager(id, Duration::from_secs(30)).await.expect("cluster forms");
        }
        let leader = world.leader().expect("a leader");
        let commits = Arc::new(AtomicU64::new(0));
        let measuring = Arc::new(AtomicBool::new(true));
        let client = world
            .handle
            .create_node()
            .name("bench-client")
            .ip(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, 1)))
            .build();
        let tls = world.client_tls();
        for p in 0..proposers {
            let (commits, measuring, tls) = (commits.clone(), measuring.clone(), tls.clone());
            let addrs = vec![manager_addr(leader)];
            client.spawn(async move {
                let mut cluster = ClusterClient::new(&addrs, Duration::from_secs(5), Some(tls));
                let mut seq = 0u64;
                while measuring.load(Ordering::SeqCst) {
                    seq += 1;
                    let id = format!("p{p}-{seq}");
                    let proposal = Proposal::new(
                        Timestamp(1),
                        Command::CreateNetwork {
                            network_id: id.clone(),
                            spec: NetworkSpec { name: id, ..NetworkSpec::default() },
                        },
                    );
                    if cluster.propose(proposal).await.is_ok() && measuring.load(Ordering::SeqCst) {
                        commits.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        madsim::time::sleep(MEASURE).await;
        measuring.store(false, Ordering::SeqCst);
        commits.load(Ordering::SeqCst)
    }

    mod orchestration {
        use std::time::{Duration, Instant};

        use madsim::runtime::Runtime;
        use sim::executor::SimBehaviour;
        use sim::recorder::Recorder;
        use sim::world::{manager_addr, worker_description, World};
        use swarm_core::replicas::running_replicas;
        use swarm_core::{ClusterSettings, Command, Proposal, ServiceSpec};
        use swarm_runtime::clock::wall_clock_now;
        use swarm_runtime::manager::client::ClusterClient;
        use swarm_runtime::raft::settings::RaftSettings;

        const WORKER_LOSS_TRIALS: u64 = 20;
        const LEADER_LOSS_TRIALS: u64 = 300;

        pub fn main(filter: &str) {
            if "sim_create_10k_tasks_per_sec".contains(filter) {
                let wall = Instant::now();
                let runtime = Runtime::with_seed_and_config(1, madsim::Config::default());
                let simulated = runtime.block_on(create_service(1_000, 10_000));
                println!(
                    "RESULT sim_create_10k_seconds={:.2} s (simulated; {:.1} s wall)",
                    simulated.as_secs_f64(),
                    wall.elapsed().as_secs_f64()
                );
                println!("RESULT sim_create_10k_tasks_per_sec={:.0} tasks/s", 10_000.0 / simulated.as_secs_f64());
            }
            if "worker_loss_replace_p99_s".contains(filter) || "worker_loss_replace_p50_s".contains(filter) {
                let times = trials(WORKER_LOSS_TRIALS, |seed| {
                    Runtime::with_seed_and_config(seed, madsim::Config::default()).block_on(worker_loss())
                });
                report("worker_loss_replace", &times);
            }
            if "leader_loss_recover_p99_s".contains(filter) || "leader_loss_recover_p50_s".contains(filter) {
                let times = trials(LEADER_LOSS_TRIALS, |seed| {
                    Runtime::with_seed_and_config(seed, madsim::Config::default()).block_on(leader_loss())
                });
                report("leader_loss_recover", &times);
            }
        }

        fn trials(count: u64, mut run: impl FnMut(u64) -> Duration) -> Vec<f64> {
            let mut times: Vec<f64> = (1..=count).map(|seed| run(seed).as_secs_f64()).collect();
            times.sort_by(f64::total_cmp);
            times
        }

        fn report(name: &str, sorted: &[f64]) {
            let at = |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
            eprintln!("{name}: slowest {:?}", &sorted[sorted.len().saturating_sub(8)..]);
            println!("RESULT {name}_p50_s={:.2} s (simulated, {} trials)", at(0.50), sorted.len());
            println!(
                "RESULT {name}_p99_s={:.2} s (simulated, {} trials; max {:.2})",
                at(0.99),
                sorted.len(),
                sorted[sorted.len() - 1]
            );
        }

        /// 3 managers and `workers` calm workers, the cluster initialised with default settings.
        async fn cluster(workers: u64) -> World {
            let mut world = World::new(3, RaftSettings::default(), Recorder::default());
            for id in 2..=3 {
                world.add_manager(id, Duration::from_secs(30)).await.expect("cluster forms");
            }
            propose(
                &world,
                Command::InitCluster {
                    cluster_id: "bench".into(),
                    settings: ClusterSettings::default(),
                    join_tokens: swarm_core::JoinTokens::from_parts("digest", "worker", "manager"),
                },
            )
            .await;
            for index in 1..=workers {
                world.add_worker(index, SimBehaviour::calm(), worker_description(index));
            }
            world
        }

        async fn propose(world: &World, command: Command) {
            world.propose(command, Duration::from_secs(600)).await.expect("benchmark command applies");
        }

        fn running(world: &World, service: &str) -> u64 {
            world
                .leader()
                .and_then(|id| world.manager(id))
                .map(|m| m.read(|s| s.service_by_name(service).map(|svc| running_replicas(s, &svc.id)).unwrap_or(0)))
                .unwrap_or(0)
        }

        async fn wait_running(world: &World, service: &str, replicas: u64, poll: Duration) {
            let deadline = madsim::time::Instant::now() + Duration::from_secs(600);
            while running(world, service) < replicas {
                assert!(madsim::time::Instant::now() < deadline, "{service} never reached {replicas} running");
                madsim::time::sleep(poll).await;
            }
        }

        async fn wait_workers_ready(world: &World, workers: u64) {
            loop {
                let ready = world
                    .leader_store()
                    .map_or(0, |s| s.nodes().filter(|n| n.status.state == swarm_core::NodeState::Ready).count() as u64);
                if ready >= workers {
                    return;
                }
                madsim::time::sleep(Duration::from_millis(100)).await;
            }
        }

        async fn create_service(workers: u64, replicas: u64) -> Duration {
            let world = cluster(workers).await;
            wait_workers_ready(&world, workers).await;
            let start = madsim::time::Instant::now();
            let spec = ServiceSpec::replicated("big", "busybox:1", replicas);
            propose(&world, Command::CreateService { service_id: "svc-big".into(), spec }).await;
            wait_running(&world, "big", replicas, Duration::from_millis(50)).await;
            start.elapsed()
        }

        async fn worker_loss() -> Duration {
            let mut world = cluster(10).await;
            wait_workers_ready(&world, 10).await;
            let spec = ServiceSpec::replicated("web", "busybox:1", 20);
            propose(&world, Command::CreateService { service_id: "svc-web".into(), spec }).await;
            wait_running(&world, "web", 20, Duration::from_millis(50)).await;
            madsim::time::sleep(Duration::from_secs(2)).await;
            let victim = world
                .leader_store()
                .and_then(|s| s.tasks().find_map(|t| t.node_id.clone()))
                .expect("a task on some worker");
            let index: u64 = victim.trim_start_matches("worker").parse().expect("worker node id");
            let start = madsim::time::Instant::now();
            world.crash_worker(index);
            // Replacements are running once 20 replicas run again on live nodes (the victim's are not counted as soon
            // as it is marked down, and they cannot run anywhere else before then).
            madsim::time::sleep(Duration::from_millis(10)).await;
            loop {
                let down = world
                    .leader_store()
                    .and_then(|s| s.node(&victim).map(|n| n.status.state == swarm_core::NodeState::Down))
                    .unwrap_or(false);
                if down && running(&world, "web") >= 20 {
                    return start.elapsed();
                }
                madsim::time::sleep(Duration::from_millis(10)).await;
            }
        }

        async fn leader_loss() -> Duration {
            let mut world = cluster(0).await;
            madsim::time::sleep(Duration::from_secs(1)).await;
            let leader = world.leader().expect("a leader");
            let start = madsim::time::Instant::now();
            world.crash(leader, |_| 0);
            let addrs: Vec<String> = (1..=3).filter(|id| *id != leader).map(manager_addr).collect();
            let tls = world.client_tls();
            world
                .control
                .spawn(async move {
                    let mut client = ClusterClient::new(&addrs, Duration::from_millis(300), Some(tls));
                    let mut attempt = 0u64;
                    loop {
                        attempt += 1;
                        let command = Command::CreateNetwork {
                            network_id: format!("probe{attempt}"),
                            spec: swarm_core::NetworkSpec::overlay(format!("probe{attempt}")),
                        };
                        if client.propose(Proposal::new(wall_clock_now(), command)).await.is_ok() {
                            return;
                        }
                        madsim::time::sleep(Duration::from_millis(10)).await;
                    }
                })
                .await
                .expect("control node runs");
            start.elapsed()
        }
    }
}
