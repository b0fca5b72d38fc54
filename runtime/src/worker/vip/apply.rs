//! Installs a container's VIP rules in its network namespace: the ruleset's JSON transaction fed on stdin to
//! `nsenter -t PID -n nft -j -f -`, the host's `nft` run inside the namespace of the container's main process.
//! Compiled out of the simulator (real processes). Invariant: every call replaces or removes our whole table in
//! one nft transaction, so it is idempotent and may be repeated after any failure or restart; every error names the
//! container's pid and, when nft refused, nft's own words.

use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::mesh_return::{parse_installed, MeshReturn};
use super::rules::{removal_json, VipRuleset};

/// How long one nft run may take before we give up on it (it is killed): nft answers in milliseconds.
pub const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a container's rules (its VIP table, the mesh's return path) could not be installed or removed.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    #[error("container rules: `{tool}` is not installed on this host (Debian package {package})")]
    ToolMissing { tool: &'static str, package: &'static str },
    #[error("container rules for pid {pid}: no such process, so no network namespace to program")]
    NoProcess { pid: u32 },
    #[error("container rules for pid {pid}: cannot run nsenter: {source}")]
    Spawn { pid: u32, source: io::Error },
    #[error("container rules for pid {pid}: {tool} failed ({status}): {stderr}")]
    Failed { pid: u32, tool: &'static str, status: String, stderr: String },
    #[error("container rules for pid {pid}: a tool did not finish within {NFT_TIMEOUT:?}")]
    Timeout { pid: u32 },
}

/// Replaces our table in the network namespace of process `pid` with `ruleset` (removes it when the ruleset is
/// empty).
pub async fn apply(pid: u32, ruleset: &VipRuleset) -> Result<(), VipError> {
    tracing::debug!(pid, vips = ruleset.targets().len(), "applying VIP rules");
    run_nft(pid, &ruleset.to_nft_json()).await
}

/// Removes our table from the network namespace of process `pid`, if it is there.
pub async fn remove(pid: u32) -> Result<(), VipError> {
    tracing::debug!(pid, "removing VIP rules");
    run_nft(pid, &removal_json()).await
}

/// Checks that the host has `nft` and `nsenter`, so a node can say so at start rather than at its first task.
pub async fn check_tools() -> Result<(), VipError> {
    for (tool, package, version) in
        [("nft", "nftables", "--version"), ("nsenter", "util-linux", "--version"), ("ip", "iproute2", "-V")]
    {
        let missing = || VipError::ToolMissing { tool, package };
        let run = Command::new(tool)
            .arg(version)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        match tokio::time::timeout(NFT_TIMEOUT, run).await {
            Ok(Ok(status)) if status.success() => {}
            _ => return Err(missing()),
        }
    }
    Ok(())
}

/// Feeds `document` to `nft -j -f -` inside the network namespace of `pid`.
async fn run_nft(pid: u32, document: &Value) -> Result<(), VipError> {
    run_in_netns(pid, NFT, &["-j", "-f", "-"], document.to_string().into_bytes()).await.map(drop)
}

/// `nft` and the Debian package that has it.
const NFT: (&str, &str) = ("nft", "nftables");
/// `ip` and the Debian package that has it.
const IP: (&str, &str) = ("ip", "iproute2");
/// `sh` and the Debian package that has it.
const SH: (&str, &str) = ("sh", "dash");

/// Runs `tool` with `args` inside the network namespace of `pid` with `input` on its stdin; its output if it
/// succeeded.
async fn run_in_netns(
    pid: u32,
    (tool, package): (&'static str, &'static str),
    args: &[&str],
    input: Vec<u8>,
) -> Result<std::process::Output, VipError> {
    // pid 0 is no process; /proc/PID/ns/net vanishes with the process (and its namespace, for a container).
    if pid == 0 || !Path::new(&format!("/proc/{pid}/ns/net")).exists() {
        return Err(VipError::NoProcess { pid });
    }
    let mut command = Command::new("nsenter");
    command.arg("-t").arg(pid.to_string()).arg("-n").arg(tool).args(args);
    let output = match feed(command, input).await {
        Ok(output) => output,
        Err(FeedError::Spawn(source)) if source.kind() == io::ErrorKind::NotFound => {
            return Err(VipError::ToolMissing { tool: "nsenter", package: "util-linux" })
        }
        Err(FeedError::Spawn(source)) => return Err(VipError::Spawn { pid, source }),
        Err(FeedError::Timeout) => return Err(VipError::Timeout { pid }),
    };
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    // nsenter exits 127 when it cannot find the program to run in the namespace.
    if output.status.code() == Some(127) && stderr.contains(tool) {
        return Err(VipError::ToolMissing { tool, package });
    }
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return Err(VipError::NoProcess { pid });
    }
    Err(VipError::Failed { pid, tool, status: output.status.to_string(), stderr })
}

/// Makes the mesh's return path in the network namespace of process `pid` what `wanted` says: our nft table, then
/// our `ip rule`s and their routes (see `mesh_return`).
pub async fn apply_mesh_return(pid: u32, wanted: &MeshReturn) -> Result<(), VipError> {
    tracing::debug!(pid, gateways = wanted.gateways().len(), "applying the mesh's return path");
    run_nft(pid, &wanted.to_nft_json()).await?;
    if !wanted.gateways().is_empty() {
        // The client's address is not the task's route back to it, so strict reverse-path filtering (which a new
        // namespace inherits from some hosts' defaults) would drop every packet the mesh brings: off, inside this
        // container only.
        let script = "for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > \"$f\"; done";
        run_in_netns(pid, SH, &["-c", script], Vec::new()).await?;
    }
    let priority = super::mesh_return::RULE_PRIORITY.to_string();
    let listed = run_in_netns(pid, IP, &["-j", "rule", "show", "priority", &priority], Vec::new()).await?;
    let installed = parse_installed(&String::from_utf8_lossy(&listed.stdout)).map_err(|reason| VipError::Failed {
        pid,
        tool: "ip",
        status: "unreadable output".into(),
        stderr: reason,
    })?;
    let batch = wanted.ip_batch(&installed);
    if !batch.is_empty() {
        run_in_netns(pid, IP, &["-force", "-batch", "-"], batch.into_bytes()).await?;
    }
    Ok(())
}

/// Why `feed_nft` got no answer from nft.
#[derive(Debug)]
pub enum FeedError {
    /// The program could not be started, or waiting for it failed.
    Spawn(io::Error),
    /// It did not finish within [`NFT_TIMEOUT`] (it is killed).
    Timeout,
}

/// Runs `command` — an `nft -j -f -`, possibly behind `nsenter` — with `document` on its stdin, its stderr captured,
/// and waits at most [`NFT_TIMEOUT`] for it.
pub async fn feed_nft(command: Command, document: &Value) -> Result<std::process::Output, FeedError> {
    feed(command, document.to_string().into_bytes()).await
}

/// Applies `document` with `nft -j -f -` in this process's network namespace. The error is nft's own words; a host
/// without `nft` is fine when `removing` (nothing was ever made there).
pub async fn apply_in_this_namespace(document: &Value, removing: bool) -> Result<(), String> {
    let mut command = Command::new("nft");
    command.args(["-j", "-f", "-"]);
    match feed_nft(command, document).await {
        Ok(output) if output.status.success() => Ok(()),
        Err(FeedError::Spawn(error)) if removing && error.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(output) => {
            Err(format!("nft failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim()))
        }
        Err(FeedError::Spawn(error)) => Err(format!("cannot run nft: {error}")),
        Err(FeedError::Timeout) => Err("nft did not finish in time".to_string()),
    }
}

/// Runs `command` with `input` on its stdin, its stdout and stderr captured, and waits at most [`NFT_TIMEOUT`]
/// for it.
async fn feed(mut command: Command, input: Vec<u8>) -> Result<std::process::Output, FeedError> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(FeedError::Spawn)?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| FeedError::Spawn(io::Error::new(io::ErrorKind::BrokenPipe, "the stdin was not captured")))?;
    let feed = async move {
        // A write error means the program exited early; its status and stderr say why.
        let _ = stdin.write_all(&input).await;
        let _ = stdin.shutdown().await;
    };
    let run = async {
        let ((), output) = tokio::join!(feed, child.wait_with_output());
        output
    };
    match tokio::time::timeout(NFT_TIMEOUT, run).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(source)) => Err(FeedError::Spawn(source)),
        Err(_elapsed) => Err(FeedError::Timeout),
    }
}
