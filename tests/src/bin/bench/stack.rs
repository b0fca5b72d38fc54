//! Stack benchmark on a one-node swarm (127.0.92.1, this machine's engine): `stack deploy -d` of a generated
//! compose file with 20 one-replica services of `swarm-hello:1` on the stack's network, from the command until
//! `service ls` shows all 20 at 1/1; beside it, the same 20 services created one by one with `service create -d`
//! on a network made first with `network create` (the same objects, typed as a user would without a stack), until
//! the same. Each run is removed, and its containers gone, before the next.

use std::time::{Duration, Instant};

use swarm_tests::{scratch_dir, wait_for, Daemon, Role};

/// The filter that runs every figure below (besides any filter contained in a figure's name).
pub const GROUP: &str = "stack";

const FIGURES: [&str; 3] =
    ["stack_deploy_20_services_seconds", "service_create_20_one_by_one_seconds", "stack_deploy_20_ratio_vs_one_by_one"];
const SERVICES: usize = 20;
const DEADLINE: Duration = Duration::from_secs(300);

pub fn figures() -> impl Iterator<Item = &'static str> {
    FIGURES.into_iter()
}

/// The compose file: `s01` … `s20`.
fn compose_file() -> String {
    let mut text = String::from("version: \"3.8\"\nservices:\n");
    for index in 1..=SERVICES {
        text += &format!("  s{index:02}:\n    image: swarm-hello:1\n    environment:\n      INDEX: \"{index}\"\n");
    }
    text
}

fn all_running(daemon: &Daemon, prefix: &str) -> bool {
    let text = daemon.cli(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]).stdout_text();
    text.lines().filter(|line| line.starts_with(prefix) && line.ends_with(" 1/1")).count() == SERVICES
}

fn wait_gone(daemon: &Daemon, what: &str) {
    wait_for(what, DEADLINE, || {
        swarm_tests::containers_of_nodes(&[&daemon.data_dir], "swarm.service.name").is_empty().then_some(())
    });
}

pub fn run(wanted: &dyn Fn(&str) -> bool) {
    if !FIGURES.iter().any(|figure| wanted(figure)) {
        return;
    }
    swarm_tests::ensure_test_images();
    let dir = scratch_dir("bench-stack");
    let addr = "127.0.92.1:2392";
    let daemon = Daemon::start_with(addr, &dir.join("n1"), Role::Restart, &["--log-level", "warn"]);
    wait_for("the control socket", Duration::from_secs(20), || daemon.socket.exists().then_some(()));
    // A pool of its own, so its networks do not overlap those of other clusters on this engine.
    let pool = ["--default-addr-pool", "10.79.0.0/16", "--data-path-port", "4793"];
    daemon.cli_ok(&[&["init", "--advertise-addr", addr][..], &pool].concat());
    let file = dir.join("stack.yml");
    std::fs::write(&file, compose_file()).expect("write the compose file");
    let file = file.display().to_string();

    let start = Instant::now();
    daemon.cli_ok(&["stack", "deploy", "-d", "-c", &file, "benchstack"]);
    wait_for("the stack's 20 services at 1/1", DEADLINE, || all_running(&daemon, "benchstack_").then_some(()));
    let stack = start.elapsed();
    daemon.cli_ok(&["stack", "rm", "benchstack"]);
    wait_gone(&daemon, "the stack's containers to go");

    let start = Instant::now();
    daemon.cli_ok(&["network", "create", "-d", "overlay", "benchnet"]);
    for index in 1..=SERVICES {
        let name = format!("bench_s{index:02}");
        let env = format!("INDEX={index}");
        let args = ["service", "create", "-d", "--name", &name, "--network", "benchnet", "-e", &env, "swarm-hello:1"];
        daemon.cli_ok(&args);
    }
    wait_for("the 20 services at 1/1", DEADLINE, || all_running(&daemon, "bench_s").then_some(()));
    let one_by_one = start.elapsed();
    for index in 1..=SERVICES {
        daemon.cli_ok(&["service", "rm", &format!("bench_s{index:02}")]);
    }
    wait_gone(&daemon, "the services' containers to go");
    wait_for("benchnet to be removable", DEADLINE, || {
        daemon.cli(&["network", "rm", "benchnet"]).status.success().then_some(())
    });

    println!("RESULT stack_deploy_20_services_seconds={:.2} s", stack.as_secs_f64());
    println!("RESULT service_create_20_one_by_one_seconds={:.2} s", one_by_one.as_secs_f64());
    println!("RESULT stack_deploy_20_ratio_vs_one_by_one={:.3} ratio", stack.as_secs_f64() / one_by_one.as_secs_f64());
}
