//! `swarm update`, `swarm unlock` and `swarm unlock-key`: the swarm's settings and its managers' lock, with
//! Docker's flags and words ("Swarm updated.", the unlock instructions, "Successfully rotated manager unlock key.").
//! The invariant: an unlock key is printed only by the commands that make or ask for it, and read only from stdin
//! or a prompt, never from the command line (where `ps` and shell history would keep it).

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use swarm_runtime::control::api::{
    SwarmUpdateReply, SwarmUpdateRequest, UnlockKeyReply, UnlockKeyRequest, UnlockRequest, PATH_SWARM_UNLOCK,
    PATH_SWARM_UNLOCK_KEY, PATH_SWARM_UPDATE,
};

use crate::client::Control;
use crate::error::CliError;
use crate::service_flags::parse_duration_ns;

/// Docker's instructions around an unlock key.
pub fn unlock_instructions(key: &str) -> String {
    format!(
        "To unlock a swarm manager after it restarts, run the `swarm unlock`\ncommand and provide the following \
         key:\n\n    {key}\n\nPlease remember to store this key in a password manager, since without it you\nwill \
         not be able to restart the manager.\n"
    )
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Task history retention limit.
    #[arg(long)]
    task_history_limit: Option<u64>,
    /// Dispatcher heartbeat period (ns|us|ms|s|m|h).
    #[arg(long)]
    dispatcher_heartbeat: Option<String>,
    /// Validity period for node certificates (ns|us|ms|s|m|h).
    #[arg(long)]
    cert_expiry: Option<String>,
    /// Number of log entries between Raft snapshots.
    #[arg(long)]
    snapshot_interval: Option<u64>,
    /// Change manager autolocking setting (true|false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    autolock: Option<bool>,
}

pub fn update(control: &mut Control, args: UpdateArgs) -> Result<(), CliError> {
    let millis = |text: &Option<String>, flag: &str| -> Result<Option<u64>, CliError> {
        Ok(match text {
            Some(text) => Some(parse_duration_ns(text, flag)? / 1_000_000),
            None => None,
        })
    };
    let request = SwarmUpdateRequest {
        task_history_limit: args.task_history_limit,
        dispatcher_heartbeat_ms: millis(&args.dispatcher_heartbeat, "--dispatcher-heartbeat")?,
        cert_expiry_ms: millis(&args.cert_expiry, "--cert-expiry")?,
        snapshot_interval: args.snapshot_interval,
        autolock: args.autolock,
    };
    let reply: SwarmUpdateReply = control.post(PATH_SWARM_UPDATE, &request)?;
    println!("Swarm updated.");
    if let Some(key) = reply.unlock_key {
        print!("{}", unlock_instructions(&key));
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct UnlockKeyArgs {
    /// Only display the unlock key.
    #[arg(short, long)]
    quiet: bool,
    /// Rotate the unlock key.
    #[arg(long)]
    rotate: bool,
}

pub fn unlock_key(control: &mut Control, args: UnlockKeyArgs) -> Result<(), CliError> {
    let reply: UnlockKeyReply = control.post(PATH_SWARM_UNLOCK_KEY, &UnlockKeyRequest { rotate: args.rotate })?;
    if args.quiet {
        println!("{}", reply.key);
        return Ok(());
    }
    if args.rotate {
        println!("Successfully rotated manager unlock key.\n");
    }
    print!("{}", unlock_instructions(&reply.key));
    Ok(())
}

/// `swarm unlock`: the key from a prompt on a terminal, else the first line of stdin.
pub fn unlock(control: &mut Control) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        print!("Please enter unlock key: ");
        let _ = std::io::stdout().flush();
    }
    let mut key = String::new();
    stdin.lock().read_line(&mut key).map_err(|error| CliError::UnlockKeyInput(error.to_string()))?;
    let _: serde_json::Value = control.post_slow(PATH_SWARM_UNLOCK, &UnlockRequest { key: key.trim().to_string() })?;
    Ok(())
}
