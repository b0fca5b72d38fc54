//! `StackError`: the stack commands' own refusals, in Docker's words where Docker has them. A leaf of the CLI's
//! error rooms: it names the daemon's answer (`ControlError`) but never `CliError`, which wraps it.

use crate::client::ControlError;

use super::load::LoadError;

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
    CreateService { name: String, error: Box<ControlError> },
    #[error("failed to update service {name}: {error}")]
    UpdateService { name: String, error: Box<ControlError> },
    #[error("failed to create network {name}: {error}")]
    CreateNetwork { name: String, error: Box<ControlError> },
    #[error("Failed to remove network {name}: {error}")]
    RemoveNetwork { name: String, error: Box<ControlError> },
    #[error(
        "service {service} did not converge within {waited:?}, so the services that depend on it were not deployed; \
         `swarm service ps {service}` shows why"
    )]
    DependencyNotReady { service: String, waited: std::time::Duration },
    #[error("Failed to remove service {name}: {error}")]
    RemoveService { name: String, error: Box<ControlError> },
}
