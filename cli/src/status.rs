//! `swarm status`: one manager's view of the Raft cluster, as a table (default) or JSON, asked of the local
//! daemon's control socket (the cluster port takes only mutual TLS).

use std::time::Duration;

use clap::{Args, ValueEnum};
use swarm_runtime::http::{CallError, HttpClient, UNIX_SCHEME};
use swarm_runtime::manager::api::{ManagerStatus, PATH_STATUS};

/// Why `swarm status` printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("Cannot connect to the swarm daemon at {host}: {error}")]
    Unreachable { host: String, error: CallError },
    #[error("malformed status from {host}: {error}")]
    Malformed { host: String, error: serde_json::Error },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The daemon socket of the manager to ask (unix:///path, or a path).
    #[arg(short = 'H', long = "host", env = "SWARM_HOST", default_value = swarm_runtime::control::api::DEFAULT_HOST)]
    host: String,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(args: StatusArgs) -> Result<(), StatusError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(StatusError::Runtime)?;
    let address = match args.host.strip_prefix('/') {
        Some(_) => format!("{UNIX_SCHEME}{}", args.host),
        None => args.host.clone(),
    };
    let bytes = runtime
        .block_on(async { HttpClient::new(address).get(PATH_STATUS, Duration::from_secs(5)).await })
        .map_err(|error| StatusError::Unreachable { host: args.host.clone(), error })?;
    let status: ManagerStatus =
        serde_json::from_slice(&bytes).map_err(|error| StatusError::Malformed { host: args.host.clone(), error })?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&status).expect("JSON")),
        Format::Table => print!("{}", render_table(&status)),
    }
    Ok(())
}

/// Renders the membership in `docker node ls`-like columns (reachability comes with the node commands).
pub fn render_table(status: &ManagerStatus) -> String {
    let mut rows = vec![["ID".to_string(), "ADDRESS".to_string(), "RAFT ROLE".to_string()]];
    for (id, addr) in status.voters.iter().chain(status.learners.iter()) {
        let this = if *id == status.node_id { " *" } else { "" };
        let role = if status.leader == Some(*id) {
            "Leader"
        } else if status.learners.contains_key(id) {
            "Learner"
        } else {
            "Voter"
        };
        rows.push([format!("{id:016x}{this}"), addr.clone(), role.to_string()]);
    }
    let widths: Vec<usize> = (0..3).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = format!(
        "Raft: node {:016x} is {} in term {}; last log index {}, applied {}, snapshot {}\n",
        status.node_id,
        status.state,
        status.term,
        opt(status.last_log_index),
        opt(status.last_applied_index),
        opt(status.snapshot_index)
    );
    for row in rows {
        let line = format!("{:<w0$}   {:<w1$}   {}", row[0], row[1], row[2], w0 = widths[0], w1 = widths[1]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn opt(value: Option<u64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".to_string())
}
