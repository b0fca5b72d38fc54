//! `swarm daemon`: opens (or creates) the data directory, starts a manager on the real filesystem and network,
//! and optionally initialises a new cluster (`--init`) or joins an existing one (`--join`). The node's Raft id
//! is chosen once, at random, and kept in `<data-dir>/node-id`, so a restart on the same directory is the same
//! manager with the same log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use swarm_core::{ClusterSettings, Command, Proposal, Rejection, Timestamp};
use swarm_runtime::disk::FsDisk;
use swarm_runtime::http::HttpClient;
use swarm_runtime::manager::{AddManagerRequest, Manager, ManagerConfig, RaftSettings, PATH_ADD_MANAGER};

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Where the Raft log, vote and snapshots live.
    #[arg(long, default_value = "/var/lib/swarm")]
    data_dir: PathBuf,
    /// Address to listen on for cluster traffic.
    #[arg(long, default_value = "0.0.0.0:2377")]
    listen_addr: SocketAddr,
    /// Address other managers use to reach this one (defaults to the listen address).
    #[arg(long)]
    advertise_addr: Option<String>,
    /// Initialise a new cluster with this manager as its only member (ignored if the data dir is initialised).
    #[arg(long, conflicts_with = "join")]
    init: bool,
    /// Join the cluster that the manager at HOST:PORT belongs to (ignored if the data dir is initialised).
    #[arg(long, value_name = "HOST:PORT")]
    join: Option<String>,
    /// Log level filter (error, warn, info, debug, trace, or a tracing filter expression).
    #[arg(long, default_value = "info,openraft=warn", env = "SWARM_LOG")]
    log_level: String,
    /// Entries between snapshots.
    #[arg(long, default_value_t = RaftSettings::default().snapshot_interval_entries)]
    snapshot_interval: u64,
    /// Entries kept after a snapshot for slow followers.
    #[arg(long, default_value_t = RaftSettings::default().log_entries_for_slow_followers)]
    keep_entries: u64,
}

pub fn run(args: DaemonArgs) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log_level).map_err(|e| format!("--log-level: {e}"))?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(run_async(args))
}

fn node_id(data_dir: &Path) -> Result<u64, String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u64>().map_err(|e| format!("{}: not a node id ({e})", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = loop {
                let candidate: u64 = rand::random::<u64>() >> 1;
                if candidate != 0 {
                    break candidate;
                }
            };
            let tmp = data_dir.join("node-id.tmp");
            std::fs::write(&tmp, format!("{id}\n")).map_err(|e| format!("{}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(id)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

async fn run_async(args: DaemonArgs) -> Result<(), String> {
    std::fs::create_dir_all(&args.data_dir).map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    let node_id = node_id(&args.data_dir)?;
    let disk = FsDisk::open(args.data_dir.join("raft")).map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    let advertise_addr = args.advertise_addr.clone().unwrap_or_else(|| args.listen_addr.to_string());
    let settings = RaftSettings {
        snapshot_interval_entries: args.snapshot_interval,
        log_entries_for_slow_followers: args.keep_entries,
        ..RaftSettings::default()
    };
    let config = ManagerConfig {
        node_id,
        listen_addr: args.listen_addr,
        advertise_addr: advertise_addr.clone(),
        raft: settings,
    };
    let manager = Manager::start(config, Arc::new(disk), None).await.map_err(|e| e.to_string())?;
    tracing::info!(node_id, listen = %args.listen_addr, advertise = %advertise_addr, "manager started");
    let initialized = manager.raft().is_initialized().await.map_err(|e| e.to_string())?;
    if !initialized {
        if args.init {
            manager.bootstrap().await?;
            init_cluster(&manager).await?;
            tracing::info!(node_id, "initialised a new cluster");
        } else if let Some(join_addr) = &args.join {
            join(join_addr, node_id, &advertise_addr).await?;
            tracing::info!(node_id, via = %join_addr, "joined the cluster");
        } else {
            tracing::info!("not part of a cluster yet: waiting to be added (start with --init or --join)");
        }
    }
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map_err(|e| e.to_string())?,
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    manager.shutdown().await;
    Ok(())
}

/// A Docker-style object id: 25 lowercase base-36 characters.
fn new_object_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..25).map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char).collect()
}

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp(since_epoch.as_millis() as u64)
}

/// Writes the cluster object (id, default settings) as the first replicated command.
async fn init_cluster(manager: &Manager) -> Result<(), String> {
    let proposal = Proposal::new(
        now(),
        Command::InitCluster { cluster_id: new_object_id(), settings: ClusterSettings::default() },
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match manager.propose(proposal.clone()).await {
            Ok(committed) => {
                return match committed.response {
                    Ok(_) | Err(Rejection::AlreadyInitialized) => Ok(()),
                    Err(rejection) => Err(format!("initialising the cluster: {rejection}")),
                }
            }
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("initialising the cluster: {error}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn join(join_addr: &str, node_id: u64, advertise_addr: &str) -> Result<(), String> {
    let body = serde_json::to_vec(&AddManagerRequest { node_id, addr: advertise_addr.to_string() }).expect("JSON");
    let mut client = HttpClient::new(join_addr);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match client.post(PATH_ADD_MANAGER, body.clone(), Duration::from_secs(30)).await {
            Ok(_) => return Ok(()),
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("cannot join via {join_addr}: {error}"))
            }
            Err(error) => {
                tracing::warn!(%error, "join attempt failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
