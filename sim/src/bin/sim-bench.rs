//! Simulator benchmarks (build with `cargo sim-bench`): 3 managers on madsim's network (1–10 ms per message) and
//! simulated disks, driven by 1, 16 and 64 proposers for 10 simulated seconds each. Prints
//! `RESULT raft_sim_commits_per_sec_{1,16,64}` (commits per simulated second) and `RESULT sim_speedup`
//! (simulated seconds per wall-clock second while running the fault scenario of `cargo sim` for 20 seeds). Usage: `sim-bench [FILTER]`.

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
    use swarm_runtime::client::ClusterClient;
    use swarm_runtime::manager::RaftSettings;

    const MEASURE: Duration = Duration::from_secs(10);

    pub fn main() {
        let filter = std::env::args().nth(1).unwrap_or_default();
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
        for p in 0..proposers {
            let (commits, measuring) = (commits.clone(), measuring.clone());
            let addrs = vec![manager_addr(leader)];
            client.spawn(async move {
                let mut cluster = ClusterClient::new(&addrs, Duration::from_secs(5));
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
}
