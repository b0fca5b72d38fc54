//! `swarm stack config|deploy|ls|services|ps|rm`, as `docker stack` does them: everything happens client-side
//! over the control API's existing calls (create/update/remove services and networks, the leader's view); the
//! pure decisions — the compose file's conversion (`swarm_core::stack::convert`), the order `depends_on` asks for
//! (`deploy_layers`) and what a deploy changes (`swarm_core::stack::changes`) — live in core. `config` needs no
//! daemon. Invariant: a stack command only ever writes objects labelled with its stack's namespace.

mod deploy;
pub mod error;
mod list;
mod load;
mod remove;

use clap::{Args, Subcommand};

pub use error::StackError;
pub use load::ComposeFilesArg;

use crate::client::{Control, HostArg};
use crate::error::CliError;

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
