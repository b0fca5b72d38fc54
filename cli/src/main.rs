//! `swarm`: the command-line entry point. `swarm daemon` composes the runtime with the real filesystem; the other
//! commands are clients of a manager's cluster API. Only this crate prints tables.

mod daemon;
mod status;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "swarm", version, about = "A container orchestrator that behaves like Docker Swarm mode")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a manager in the foreground.
    Daemon(daemon::DaemonArgs),
    /// Show a manager's view of the Raft cluster.
    Status(status::StatusArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Daemon(args) => daemon::run(args),
        Command::Status(args) => status::run(args),
    };
    if let Err(message) = result {
        eprintln!("Error: {message}");
        std::process::exit(1);
    }
}
