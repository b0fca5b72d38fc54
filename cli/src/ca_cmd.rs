//! `swarm ca [--rotate] [-d] [-q]`: the swarm's root CA certificate, and Docker's root rotation — it prints the
//! desired root digest, then two progress lines ("rotated TLS certificates", "rotated CA certificates") whenever
//! they change until every node holds a certificate of the new root and trusts it alone, then the new root
//! certificate. Invariant: the command waits for the rotation's end as the cluster reports it (`CaReply::done`),
//! never for a fixed time; `-d` returns at once.

use std::time::Duration;

use clap::Args;
use swarm_runtime::control::api::{CaReply, CaRequest, PATH_SWARM_CA};

use crate::client::Control;
use crate::error::CliError;

/// How often the rotation's progress is polled.
const POLL_PERIOD: Duration = Duration::from_millis(500);
/// The width of Docker's progress bars, in characters.
const BAR_WIDTH: u64 = 50;

#[derive(Args, Debug)]
pub struct CaArgs {
    /// Rotate the swarm CA - if no certificate or key are provided, new ones will be generated.
    #[arg(long)]
    rotate: bool,
    /// Exit immediately instead of waiting for the root rotation to converge.
    #[arg(short, long)]
    detach: bool,
    /// Suppress progress output.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(control: &mut Control, args: CaArgs) -> Result<(), CliError> {
    let mut reply: CaReply = control.post(PATH_SWARM_CA, &CaRequest { rotate: args.rotate })?;
    if args.rotate && !args.detach {
        if !args.quiet {
            println!("desired root digest: sha256:{}", reply.root_sha256);
        }
        // The root this rotation moves to: a later answer from a manager that lags names it too before it counts.
        let desired = reply.root_sha256.clone();
        let mut shown = None;
        loop {
            let lines = progress_lines(&reply);
            if !args.quiet && shown.as_ref() != Some(&lines) {
                println!("{lines}");
                shown = Some(lines);
            }
            if reply.done() && reply.root_sha256 == desired {
                break;
            }
            std::thread::sleep(POLL_PERIOD);
            reply = control.post(PATH_SWARM_CA, &CaRequest { rotate: false })?;
        }
    }
    print!("{}", reply.root_pem);
    Ok(())
}

/// Docker's two progress lines.
fn progress_lines(reply: &CaReply) -> String {
    let progress = reply.progress;
    format!(
        "  rotated TLS certificates:  {} {}/{} nodes\n  rotated CA certificates:   {} {}/{} nodes",
        bar(progress.certificates, progress.nodes),
        progress.certificates,
        progress.nodes,
        bar(progress.trust, progress.nodes),
        progress.trust,
        progress.nodes,
    )
}

/// `[=====>     ]`, Docker's bar of `done` out of `total`.
fn bar(done: u64, total: u64) -> String {
    let filled = (done.min(total) * BAR_WIDTH).checked_div(total).unwrap_or(0) as usize;
    let width = BAR_WIDTH as usize;
    if filled >= width {
        format!("[{}>]", "=".repeat(width))
    } else {
        format!("[{}>{}]", "=".repeat(filled), " ".repeat(width - filled))
    }
}

#[cfg(test)]
mod tests {
    use swarm_core::CaProgress;

    use super::*;

    fn reply(rotating: bool, certificates: u64, trust: u64) -> CaReply {
        let progress = CaProgress { nodes: 2, certificates, trust };
        CaReply { root_pem: String::new(), root_sha256: "ab".into(), rotating, progress }
    }

    #[test]
    fn progress_reads_as_docker_s() {
        let lines = progress_lines(&reply(true, 1, 0));
        assert_eq!(
            lines,
            format!(
                "  rotated TLS certificates:  [{}>{}] 1/2 nodes\n  rotated CA certificates:   [>{}] 0/2 nodes",
                "=".repeat(25),
                " ".repeat(25),
                " ".repeat(50)
            )
        );
        assert!(progress_lines(&reply(false, 2, 2)).contains(&format!("[{}>] 2/2 nodes", "=".repeat(50))));
    }

    #[test]
    fn the_wait_ends_only_when_every_live_node_moved() {
        assert!(!reply(true, 2, 2).done(), "still rotating");
        assert!(!reply(false, 2, 1).done(), "a node still trusts the old root");
        assert!(reply(false, 2, 2).done());
    }
}
