//! `swarm`: the command-line entry point. `swarm daemon` runs a node; every other command is a client of the local
//! daemon's control API (a unix socket, `-H`/`SWARM_HOST`), with Docker Swarm's commands, flags, tables and
//! messages. Only this crate prints tables.

mod client;
mod daemon;
mod node_cmd;
mod progress;
mod render;
mod service_cmd;
mod service_flags;
mod stack_cmd;
mod status;
mod swarm_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "swarm", version, about = "A container orchestrator that behaves like Docker Swarm mode")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Parsed once per run, so the size of the largest variant (service flags) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run a node (manager or worker) in the foreground.
    Daemon(daemon::DaemonArgs),
    /// Initialize a swarm.
    Init {
        #[command(flatten)]
        host: client::HostArg,
        #[command(flatten)]
        args: swarm_cmd::InitArgs,
    },
    /// Join a swarm as a node and/or manager.
    Join {
        #[command(flatten)]
        host: client::HostArg,
        #[command(flatten)]
        args: swarm_cmd::JoinArgs,
    },
    /// Manage join tokens.
    #[command(name = "join-token")]
    JoinToken {
        #[command(flatten)]
        host: client::HostArg,
        #[command(flatten)]
        args: swarm_cmd::JoinTokenArgs,
    },
    /// Leave the swarm.
    Leave {
        #[command(flatten)]
        host: client::HostArg,
        #[command(flatten)]
        args: swarm_cmd::LeaveArgs,
    },
    /// Manage swarm nodes.
    Node {
        #[command(flatten)]
        host: client::HostArg,
        #[command(subcommand)]
        command: node_cmd::NodeCommand,
    },
    /// Manage swarm services.
    Service {
        #[command(flatten)]
        host: client::HostArg,
        #[command(subcommand)]
        command: service_cmd::ServiceCommand,
    },
    /// Manage Swarm stacks.
    Stack {
        #[command(subcommand)]
        command: stack_cmd::StackCommand,
    },
    /// Show a manager's view of the Raft cluster (over its cluster address).
    Status(status::StatusArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Daemon(args) => daemon::run(args),
        Command::Status(args) => status::run(args),
        Command::Stack { command } => stack_cmd::run(command),
        Command::Init { host, args } => {
            client::Control::new(&host.host).and_then(|mut c| swarm_cmd::init(&mut c, args))
        }
        Command::Join { host, args } => {
            client::Control::new(&host.host).and_then(|mut c| swarm_cmd::join(&mut c, args))
        }
        Command::JoinToken { host, args } => {
            client::Control::new(&host.host).and_then(|mut c| swarm_cmd::join_token(&mut c, args))
        }
        Command::Leave { host, args } => {
            client::Control::new(&host.host).and_then(|mut c| swarm_cmd::leave(&mut c, args))
        }
        Command::Node { host, command } => {
            client::Control::new(&host.host).and_then(|mut c| node_cmd::run(&mut c, command))
        }
        Command::Service { host, command } => {
            client::Control::new(&host.host).and_then(|mut c| service_cmd::run(&mut c, command))
        }
    };
    if let Err(message) = result {
        eprintln!("{message}");
        std::process::exit(1);
    }
}
