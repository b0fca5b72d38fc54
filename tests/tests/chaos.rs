//! The real-process chaos drill (issue 15, part 6): three managers and two workers on 127.0.71.x sharing this
//! machine's Docker Engine, a seeded plan of `kill -9`/restart and SIGSTOP/SIGCONT faults of the leader, followers
//! and a worker with service commands between them, and a manager replaced at the end (`swarm_tests::chaos`).
//! It fails with every violation and its evidence: two running containers for one slot on live nodes, no
//! convergence after healing, orphan containers, not one leader in every manager's view, final specs other than
//! the last acknowledged commands, a command slower than 3 s while a leader existed, an election caused by a
//! follower's stall. `CHAOS_SEED=<n>` replays another plan.

use swarm_tests::chaos::{self, ChaosConfig};

#[test]
fn faults_on_real_processes_keep_every_promise() {
    let config = ChaosConfig::from_env(71, 2371, "chaos");
    let report = chaos::run(&config);
    for violation in &report.violations {
        println!("{violation}");
    }
    if !report.violations.is_empty() {
        println!("timeline:");
        for line in &report.timeline {
            println!("  {line}");
        }
    }
    print!("{}", report.summary());
    println!("chaos drill took {:.1} s", report.wall.as_secs_f64());
    assert!(report.violations.is_empty(), "{}", report.summary());
}
