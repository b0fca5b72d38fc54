//! `swarm init`, `swarm join`, `swarm join-token`, `swarm leave`: the membership commands, printing what Docker
//! prints (`Swarm initialized: current node (…) is now a manager.` and the join command to run elsewhere; with
//! `--autolock`, the unlock key).

use clap::{Args, ValueEnum};
use swarm_core::{NodeAvailability, NodeRole};
use swarm_runtime::control::api::{
    InitReply, InitRequest, JoinReply, JoinRequest, JoinTokenReply, JoinTokenRequest, LeaveRequest, PATH_INIT,
    PATH_JOIN, PATH_JOIN_TOKEN, PATH_LEAVE,
};

use crate::client::Control;
use crate::error::CliError;
use crate::service_flags::parse_duration_ns;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Availability {
    Active,
    Pause,
    Drain,
}

impl From<Availability> for NodeAvailability {
    fn from(value: Availability) -> Self {
        match value {
            Availability::Active => NodeAvailability::Active,
            Availability::Pause => NodeAvailability::Pause,
            Availability::Drain => NodeAvailability::Drain,
        }
    }
}

/// Where the node serves cluster traffic and how it starts out: the flags `init` and `join` share.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Advertised address (format: <ip|interface>[:port]).
    #[arg(long)]
    advertise_addr: Option<String>,
    /// Listen address (format: <ip|interface>[:port]).
    #[arg(long)]
    listen_addr: Option<String>,
    /// Availability of the node ("active"|"pause"|"drain").
    #[arg(long, value_enum)]
    availability: Option<Availability>,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Task history retention limit.
    #[arg(long)]
    task_history_limit: Option<u64>,
    /// Dispatcher heartbeat period (ns|us|ms|s|m|h).
    #[arg(long)]
    dispatcher_heartbeat: Option<String>,
    /// Default address pool in CIDR format.
    #[arg(long = "default-addr-pool")]
    default_addr_pool: Vec<String>,
    /// Default address pool subnet mask length.
    #[arg(long = "default-addr-pool-mask-length")]
    default_addr_pool_mask_length: Option<u8>,
    /// Port number to use for data path traffic (1024 - 49151).
    #[arg(long = "data-path-port")]
    data_path_port: Option<u16>,
    /// Validity period for node certificates (ns|us|ms|s|m|h).
    #[arg(long)]
    cert_expiry: Option<String>,
    /// Enable manager autolocking (requiring an unlock key to start a stopped manager).
    #[arg(long)]
    autolock: bool,
}

pub fn init(control: &mut Control, args: InitArgs) -> Result<(), CliError> {
    let dispatcher_heartbeat_ms = match &args.dispatcher_heartbeat {
        Some(text) => Some(parse_duration_ns(text, "--dispatcher-heartbeat")? / 1_000_000),
        None => None,
    };
    let cert_expiry_ms = match &args.cert_expiry {
        Some(text) => Some(parse_duration_ns(text, "--cert-expiry")? / 1_000_000),
        None => None,
    };
    let request = InitRequest {
        advertise_addr: args.node.advertise_addr,
        listen_addr: args.node.listen_addr,
        availability: args.node.availability.map(Into::into),
        task_history_limit: args.task_history_limit,
        dispatcher_heartbeat_ms,
        default_addr_pools: args.default_addr_pool,
        default_addr_pool_mask_length: args.default_addr_pool_mask_length,
        data_path_port: args.data_path_port,
        cert_expiry_ms,
        autolock: args.autolock,
    };
    let reply: InitReply = control.post_slow(PATH_INIT, &request)?;
    print!("{}", render_init(&reply));
    Ok(())
}

/// What `swarm init` prints (Docker's text with our command name), with the unlock key of `--autolock`.
pub fn render_init(reply: &InitReply) -> String {
    let mut text = format!(
        "Swarm initialized: current node ({}) is now a manager.\n\n{}\nTo add a manager to this swarm, run 'swarm \
         join-token manager' and follow the instructions.\n\n",
        reply.node_id,
        join_instructions(NodeRole::Worker, &reply.worker_token, &reply.join_addr)
    );
    if let Some(key) = &reply.unlock_key {
        text.push_str(&crate::lock_cmd::unlock_instructions(key));
    }
    text
}

fn join_instructions(role: NodeRole, token: &str, addr: &str) -> String {
    let who = match role {
        NodeRole::Worker => "worker",
        NodeRole::Manager => "manager",
    };
    format!("To add a {who} to this swarm, run the following command:\n\n    swarm join --token {token} {addr}\n")
}

#[derive(Args, Debug)]
pub struct JoinArgs {
    /// Token for entry into the swarm.
    #[arg(long)]
    token: String,
    #[command(flatten)]
    node: NodeArgs,
    /// HOST:PORT of a manager.
    remote: String,
}

pub fn join(control: &mut Control, args: JoinArgs) -> Result<(), CliError> {
    let remote_addr = if args.remote.contains(':') { args.remote } else { format!("{}:2377", args.remote) };
    let request = JoinRequest {
        token: args.token,
        remote_addr,
        advertise_addr: args.node.advertise_addr,
        listen_addr: args.node.listen_addr,
        availability: args.node.availability.map(Into::into),
    };
    let reply: JoinReply = control.post_slow(PATH_JOIN, &request)?;
    match reply.role {
        NodeRole::Worker => println!("This node joined a swarm as a worker."),
        NodeRole::Manager => println!("This node joined a swarm as a manager."),
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TokenRole {
    Worker,
    Manager,
}

#[derive(Args, Debug)]
pub struct JoinTokenArgs {
    /// Only display the token.
    #[arg(short, long)]
    quiet: bool,
    /// Rotate the join token.
    #[arg(long)]
    rotate: bool,
    #[arg(value_enum)]
    role: TokenRole,
}

pub fn join_token(control: &mut Control, args: JoinTokenArgs) -> Result<(), CliError> {
    let role = match args.role {
        TokenRole::Worker => NodeRole::Worker,
        TokenRole::Manager => NodeRole::Manager,
    };
    let reply: JoinTokenReply = control.post(PATH_JOIN_TOKEN, &JoinTokenRequest { role, rotate: args.rotate })?;
    if args.quiet {
        println!("{}", reply.token);
        return Ok(());
    }
    if args.rotate {
        println!("Successfully rotated {} join token.\n", if role == NodeRole::Worker { "worker" } else { "manager" });
    }
    println!("{}", join_instructions(role, &reply.token, &reply.join_addr));
    Ok(())
}

#[derive(Args, Debug)]
pub struct LeaveArgs {
    /// Force this node to leave the swarm, ignoring warnings.
    #[arg(short, long)]
    force: bool,
}

pub fn leave(control: &mut Control, args: LeaveArgs) -> Result<(), CliError> {
    let _: serde_json::Value = control.post_slow(PATH_LEAVE, &LeaveRequest { force: args.force })?;
    println!("Node left the swarm.");
    Ok(())
}
