//! `swarm`: the command-line entry point. `swarm daemon` runs a node; every other command is a client of the local
//! daemon's control API (a unix socket, `-H`/`SWARM_HOST`), with Docker Swarm's commands, flags, tables and
//! messages. Only this crate prints tables.

mod args;
mod ca_cmd;
mod client;
mod daemon;
mod error;
mod file_object_cmd;
mod lock_cmd;
mod network_cmd;
mod node_cmd;
mod parse;
mod progress;
mod render;
mod service_cmd;
mod service_flags;
mod stack;
mod status;
mod swarm_cmd;

use clap::{Parser, Subcommand};

use crate::error::CliError;

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
    /// Update the swarm.
    Update {
        #[command(flatten)]
        host: client::HostArg,
        #[command(flatten)]
        args: lock_cmd::UpdateArgs,
    },
    /// Unlock swarm (the key is read from stdin, or a prompt).
    Unlock {
        #[command(flatten)]
        host: client::HostArg,
    },
    /// Display and rotate the root CA.
    Ca {
        #[command(flatten)]
        host: client::HostArg,
        #[command(flatten)]
        args: ca_cmd::CaArgs,
    },
    /// Manage the unlock key.
    #[command(name = "unlock-key")]
    UnlockKey {
        #[command(flatten)]
        host: client::HostArg,
        #[command(flatten)]
        args: lock_cmd::UnlockKeyArgs,
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
    /// Manage networks.
    Network {
        #[command(flatten)]
        host: client::HostArg,
        #[command(subcommand)]
        command: network_cmd::NetworkCommand,
    },
    /// Manage Swarm secrets.
    Secret {
        #[command(flatten)]
        host: client::HostArg,
        #[command(subcommand)]
        command: file_object_cmd::SecretCommand,
    },
    /// Manage Swarm configs.
    Config {
        #[command(flatten)]
        host: client::HostArg,
        #[command(subcommand)]
        command: file_object_cmd::ConfigCommand,
    },
    /// Manage swarm services.
    Service {
        #[command(flatten)]
        host: client::ServiceHostArg,
        #[command(subcommand)]
        command: service_cmd::ServiceCommand,
    },
    /// Manage Swarm stacks.
    Stack {
        #[command(flatten)]
        host: client::HostArg,
        #[command(subcommand)]
        command: stack::StackCommand,
    },
    /// Show a manager's view of the Raft cluster (over its cluster address).
    Status(status::StatusArgs),
    /// The WireGuard device of encrypted networks, which `swarm daemon` runs as a process of its own.
    #[command(name = "tunnel-device", hide = true)]
    TunnelDevice { name: String, threads: usize, daemon_pid: u32 },
}

fn main() {
    let cli = Cli::parse();
    let result: Result<(), CliError> = match cli.command {
        Command::Daemon(args) => daemon::run(args).map_err(Into::into),
        Command::Status(args) => status::run(args).map_err(Into::into),
        Command::TunnelDevice { name, threads, daemon_pid } => {
            swarm_runtime::worker::overlay::tunnel::run_device_process(&name, threads, daemon_pid)
                .map_err(CliError::TunnelDevice)
        }
        Command::Stack { host, command } => stack::run(&host, command),
        Command::Init { host, args } => with_daemon(&host, |c| swarm_cmd::init(c, args)),
        Command::Join { host, args } => with_daemon(&host, |c| swarm_cmd::join(c, args)),
        Command::JoinToken { host, args } => with_daemon(&host, |c| swarm_cmd::join_token(c, args)),
        Command::Leave { host, args } => with_daemon(&host, |c| swarm_cmd::leave(c, args)),
        Command::Update { host, args } => with_daemon(&host, |c| lock_cmd::update(c, args)),
        Command::Unlock { host } => with_daemon(&host, lock_cmd::unlock),
        Command::UnlockKey { host, args } => with_daemon(&host, |c| lock_cmd::unlock_key(c, args)),
        Command::Ca { host, args } => with_daemon(&host, |c| ca_cmd::run(c, args)),
        Command::Node { host, command } => with_daemon(&host, |c| node_cmd::run(c, command)),
        Command::Network { host, command } => with_daemon(&host, |c| network_cmd::run(c, command)),
        Command::Secret { host, command } => with_daemon(&host, |c| file_object_cmd::run_secret(c, command)),
        Command::Config { host, command } => with_daemon(&host, |c| file_object_cmd::run_config(c, command)),
        Command::Service { host, command } => with_daemon(&host.into(), |c| service_cmd::run(c, command)),
    };
    if let Err(error) = result {
        eprintln!("{error}");
        std::process::exit(1);
    }
}

/// Runs a client command against the daemon `host` names.
fn with_daemon(
    host: &client::HostArg,
    command: impl FnOnce(&mut client::Control) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut control = client::Control::new(&host.host)?;
    command(&mut control)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        // `service create --host` is Docker's extra-host flag; `-H` still names the daemon, after the subcommand too.
        let argv = ["swarm", "service", "create", "-H", "unix:///x.sock", "--host", "db:10.0.0.5", "nginx"];
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Service { host, command: service_cmd::ServiceCommand::Create(_) }) => {
                assert_eq!(host.host, "unix:///x.sock")
            }
            other => panic!("{:?}", other.map(|_| "another command")),
        }
        let argv = ["swarm", "service", "ls", "-H", "unix:///z.sock"];
        let parsed = Cli::try_parse_from(argv).map(|cli| cli.command);
        assert!(matches!(parsed, Ok(Command::Service { host, .. }) if host.host == "unix:///z.sock"));
        // `secret create NAME [file|-]`, `config create NAME file|-`: only a secret's file is optional, as in Docker.
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).map(|cli| cli.command);
        assert!(matches!(parse(&["swarm", "secret", "create", "-l", "a=1", "db", "-"]), Ok(Command::Secret { .. })));
        assert!(matches!(parse(&["swarm", "secret", "create", "db"]), Ok(Command::Secret { .. })));
        assert!(parse(&["swarm", "config", "create", "site"]).is_err());
        assert!(matches!(parse(&["swarm", "config", "ls", "-q", "-f", "name=x"]), Ok(Command::Config { .. })));
        assert!(matches!(parse(&["swarm", "secret", "list", "--format", "{{.Name}}"]), Ok(Command::Secret { .. })));
        assert!(matches!(parse(&["swarm", "config", "remove", "a", "b"]), Ok(Command::Config { .. })));
        assert!(parse(&["swarm", "secret", "inspect"]).is_err());
        let argv = ["swarm", "node", "ls", "--host", "unix:///y.sock"];
        assert!(
            matches!(Cli::try_parse_from(argv).map(|cli| cli.command), Ok(Command::Node { host, .. }) if host.host == "unix:///y.sock")
        );
    }
}
