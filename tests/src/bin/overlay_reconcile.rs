//! `overlay-reconcile UNDERLAY_ADDR < plan.json`: a test helper that realises one node's overlay plan
//! with the real Linux data plane, in the network namespace it runs in and on the Docker Engine at `DOCKER_HOST`
//! — what a node's daemon will do, without a cluster. `tests/overlay_dataplane.rs` runs it in each test host with
//! `nsenter --net=…` (the daemon's own way into a host). It reads a `NodeOverlayPlan` as JSON on stdin, reconciles
//! once and exits 0, or prints the typed error (network, step, reason) to stderr and exits 1; bad arguments or
//! JSON exit 2. It holds no state: every run adopts what the previous one left.

use std::io::Read;
use std::net::Ipv4Addr;
use std::process::ExitCode;

use swarm_runtime::worker::docker::docker_host_from_env;
use swarm_runtime::worker::overlay::linux::{LinuxDataPlane, LinuxDataPlaneConfig};
use swarm_runtime::worker::overlay::{NodeOverlayPlan, OverlayDataPlane};

const USAGE: &str = "usage: overlay-reconcile UNDERLAY_ADDR < plan.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(config) => config,
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut text = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("read the plan from stdin: {error}");
        return ExitCode::from(2);
    }
    let plan: NodeOverlayPlan = match serde_json::from_str(&text) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("the plan is not a NodeOverlayPlan in JSON: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        let plane = LinuxDataPlane::connect(config, &docker_host_from_env(), "overlay-reconcile").await?;
        plane.reconcile(&plan).await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(1)
        }
    }
}

fn parse_args(args: &[String]) -> Result<LinuxDataPlaneConfig, String> {
    let [addr] = args else { return Err(format!("{} arguments", args.len())) };
    let underlay_addr: Ipv4Addr =
        addr.parse().map_err(|_| format!("underlay address {addr:?}: not an IPv4 address"))?;
    Ok(LinuxDataPlaneConfig::new(underlay_addr))
}
