//! `swarm stack config|deploy|ls|services|ps|rm`, as `docker stack` does them: everything happens client-side
//! over the control API's existing calls (create/update/remove services and networks, the leader's view); the
//! pure decisions — the compose file's conversion (`swarm_core::stack::convert`), the order `depends_on` asks for
//! (`deploy_layers`) and what a deploy changes (`swarm_core::stack::changes`) — live in core. `config` needs no
//! daemon. Invariant: a stack command only ever writes objects labelled with its stack's namespace.

mod deploy;
mod list;
mod load;
mod remove;

use clap::{Args, Subcommand};

pub use load::{ComposeFilesArg, LoadError};

use crate::client::{Control, HostArg};
use crate::error::CliError;

/// The stack commands' own refusals, in Docker's words where Docker has them.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Convert(#[from] swarm_core::stack::StackError),
    #[error("Invalid option {value} for flag --resolve-image")]
    InvalidResolveImage { value: String },
    #[error(
        "network \"{name}\" is declared as external, but could not be found. You need to create a swarm-scoped \
         network before the stack is deployed"
    )]
    MissingExternalNetwork { name: String },
    #[error("network \"{name}\" already exists and is not part of stack \"{stack}\"")]
    ForeignNetwork { name: String, stack: String },
    #[error("service \"{name}\" already exists and is not part of stack \"{stack}\"")]
    ForeignService { name: String, stack: String },
    #[error("Nothing found in stack: {stack}")]
    NothingFound { stack: String },
    #[error("failed to create service {name}: {error}")]
    CreateService { name: String, error: Box<CliError> },
    #[error("failed to update service {name}: {error}")]
    UpdateService { name: String, error: Box<CliError> },
    #[error("failed to create network {name}: {error}")]
    CreateNetwork { name: String, error: Box<CliError> },
    #[error("Failed to remove network {name}: {error}")]
    RemoveNetwork { name: String, error: Box<CliError> },
    #[error(
        "service {service} did not converge within {waited:?}, so the services that depend on it were not deployed; \
         `swarm service ps {service}` shows why"
    )]
    DependencyNotReady { service: String, waited: std::time::Duration },
    #[error("Failed to remove service {name}: {error}")]
    RemoveService { name: String, error: Box<CliError> },
}

#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Outputs the final config file, after doing merges and interpolations.
    Config(ConfigArgs),
    /// Deploy a new stack or update an existing stack.
    #[command(alias = "up")]
    Deploy(deploy::DeployArgs),
    /// List stacks.
    #[command(alias = "list")]
    Ls(list::LsArgs),
    /// List the tasks in the stack.
    Ps(list::PsArgs),
    /// List the services in the stack.
    Services(list::ServicesArgs),
    /// Remove one or more stacks.
    #[command(aliases = ["remove", "down"])]
    Rm(remove::RmArgs),
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub files: ComposeFilesArg,
    /// Skip interpolation and output only merged config.
    #[arg(long)]
    pub skip_interpolation: bool,
}

pub fn run(host: &HostArg, command: StackCommand) -> Result<(), CliError> {
    match command {
        StackCommand::Config(args) => config(args).map_err(Into::into),
        StackCommand::Deploy(args) => {
            // Everything that needs no daemon is checked first, as Docker does.
            let prepared = deploy::prepare(&args)?;
            deploy::run(&mut Control::new(&host.host)?, &args, prepared)
        }
        StackCommand::Ls(args) => list::ls(&mut Control::new(&host.host)?, &args),
        StackCommand::Ps(args) => list::ps(&mut Control::new(&host.host)?, &args),
        StackCommand::Services(args) => list::services(&mut Control::new(&host.host)?, &args),
        StackCommand::Rm(args) => remove::run(&mut Control::new(&host.host)?, &args),
    }
}

fn config(args: ConfigArgs) -> Result<(), StackError> {
    let loaded = load::load(&args.files, args.skip_interpolation)?;
    load::print_warnings(&loaded);
    print!("{}", swarm_core::compose::config_text(&loaded.config));
    Ok(())
}
