//! `swarm daemon`: parses the daemon's flags, sets up structured logs, and runs `swarm_runtime::daemon` — the
//! node's membership (manager, worker or none yet) and the control API on a unix socket — until SIGINT/SIGTERM.
//! `--init` is a shortcut for `swarm init` right after start (a no-op once the node is in a swarm).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use swarm_runtime::control::api::{InitRequest, DEFAULT_HOST};
use swarm_runtime::daemon::{Daemon, DaemonConfig};
use swarm_runtime::http::UNIX_SCHEME;
use swarm_runtime::raft::settings::RaftSettings;

/// Why `swarm daemon` could not run (or stopped running).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("--log-level: {0}")]
    LogLevel(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("invalid -H {host:?}: the control API listens on a unix socket (unix:///path)")]
    InvalidHost { host: String },
    /// The node or its control API did not start; the runtime's own words.
    #[error(transparent)]
    Start(Box<dyn std::error::Error + Send + Sync>),
    /// `--init` was refused; the daemon's own words.
    #[error("{0}")]
    Init(String),
    #[error("cannot watch SIGTERM: {0}")]
    Signal(std::io::Error),
    #[error("{0}")]
    CtrlC(std::io::Error),
}

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Where the node record, the Raft log, vote and snapshots live.
    #[arg(long, default_value = "/var/lib/swarm")]
    data_dir: PathBuf,
    /// Address to listen on for cluster traffic once in a swarm (`swarm init/join --listen-addr` override it).
    #[arg(long, default_value = "0.0.0.0:2377")]
    listen_addr: SocketAddr,
    /// Address other nodes use to reach this one (defaults to the listen address).
    #[arg(long)]
    advertise_addr: Option<String>,
    /// The control API socket the CLI talks to.
    #[arg(short = 'H', long = "host", env = "SWARM_HOST", default_value = DEFAULT_HOST)]
    host: String,
    /// The hostname this node reports (defaults to the host's; useful for several nodes on one host).
    #[arg(long)]
    hostname: Option<String>,
    /// Initialise a new swarm with this node as its manager, unless the node is already in one.
    #[arg(long)]
    init: bool,
    /// Log level filter (error, warn, info, debug, trace, or a tracing filter expression). openraft's replication
    /// module logs every failed append (thousands a second against a peer that is shutting down); our transport
    /// logs those failures itself at a bounded rate, so that module is off by default.
    #[arg(long, default_value = "info,openraft=warn,openraft::replication=off", env = "SWARM_LOG")]
    log_level: String,
    /// Entries between snapshots.
    #[arg(long, default_value_t = RaftSettings::default().snapshot_interval_entries)]
    snapshot_interval: u64,
    /// Entries kept after a snapshot for slow followers.
    #[arg(long, default_value_t = RaftSettings::default().log_entries_for_slow_followers)]
    keep_entries: u64,
    /// UDP port of this node's WireGuard tunnel, which carries encrypted overlay networks between nodes.
    #[arg(long, default_value_t = swarm_core::model::DEFAULT_TUNNEL_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    tunnel_port: u16,
    /// How often this node replaces its tunnel key (a Go duration, as Swarm's 12h).
    #[arg(long, default_value = "12h", value_parser = parse_rotation)]
    tunnel_key_rotation: std::time::Duration,
    /// For tests of certificate renewal: how long the certificates this node issues as a manager are valid, in place
    /// of the swarm's `--cert-expiry` (whose floor is an hour, as in SwarmKit); at least 10s.
    #[arg(long, hide = true, value_parser = parse_rotation)]
    node_cert_validity: Option<std::time::Duration>,
}

/// A Go duration of at least ten seconds: for `--tunnel-key-rotation` (each rotation makes every peer re-add this
/// node, and boringtun's peer indexes run out after 2^24 additions) and `--node-cert-validity` (a renewal takes a
/// role check of 2 s or two).
fn parse_rotation(text: &str) -> Result<std::time::Duration, String> {
    let nanos = crate::parse::parse_duration(text).map_err(|error| error.to_string())?;
    let duration = std::time::Duration::from_nanos(nanos);
    if duration < std::time::Duration::from_secs(10) {
        return Err(format!("{text} is too short: at least 10s"));
    }
    Ok(duration)
}

pub fn run(args: DaemonArgs) -> Result<(), DaemonError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log_level)
                .map_err(|e| DaemonError::LogLevel(e.to_string()))?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(DaemonError::Runtime)?;
    runtime.block_on(run_async(args))
}

fn socket_path(host: &str) -> Result<PathBuf, DaemonError> {
    match host.strip_prefix(UNIX_SCHEME) {
        Some(path) => Ok(PathBuf::from(path)),
        None if host.starts_with('/') => Ok(PathBuf::from(host)),
        None => Err(DaemonError::InvalidHost { host: host.to_string() }),
    }
}

async fn run_async(args: DaemonArgs) -> Result<(), DaemonError> {
    let config = DaemonConfig {
        data_dir: args.data_dir.clone(),
        listen_addr: args.listen_addr,
        advertise_addr: args.advertise_addr.clone(),
        control_socket: socket_path(&args.host)?,
        raft: RaftSettings {
            snapshot_interval_entries: args.snapshot_interval,
            log_entries_for_slow_followers: args.keep_entries,
            ..RaftSettings::default()
        },
        hostname: args.hostname.clone(),
        tunnel_port: args.tunnel_port,
        tunnel_key_rotation: args.tunnel_key_rotation,
        node_cert_validity: args.node_cert_validity,
    };
    let daemon = Daemon::start(config).await.map_err(|e| DaemonError::Start(e.into()))?;
    let control = daemon.serve_control().await.map_err(|e| DaemonError::Start(e.into()))?;
    if args.init && daemon.info().await.role == swarm_runtime::control::api::LocalRole::None {
        let reply = daemon.init(InitRequest::default()).await.map_err(|refusal| DaemonError::Init(refusal.message))?;
        tracing::info!(node_id = %reply.node_id, "initialised a new swarm");
    }
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(DaemonError::Signal)?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map_err(DaemonError::CtrlC)?,
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    control.abort();
    daemon.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_rotations_take_go_durations_of_ten_seconds_or_more() {
        assert_eq!(super::parse_rotation("12h"), Ok(std::time::Duration::from_secs(12 * 3600)));
        assert_eq!(super::parse_rotation("10s"), Ok(std::time::Duration::from_secs(10)));
        assert_eq!(super::parse_rotation("9s"), Err("9s is too short: at least 10s".to_string()));
        assert_eq!(super::parse_rotation("soon"), Err("time: invalid duration \"soon\"".to_string()));
    }
}
