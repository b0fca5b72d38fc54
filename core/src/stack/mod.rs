//! Stacks: a loaded compose model (`compose::Loaded`) turned into the cluster objects `stack deploy` creates, as
//! Docker's `stack deploy` converts them — `<stack>_<name>` names, the namespace label on everything, the networks
//! its services use, one `ServiceSpec` per service — plus the order to create them in when services use
//! `depends_on` (`deploy_layers`). Pure: the CLI loads the files, calls `convert`, checks the external networks and
//! creates what the plan says. Invariants: every service in a plan passes `ServiceSpec::validate` and comes out as
//! the equivalent `service create` would; nothing the file says is dropped silently (what the specs cannot hold
//! yet is refused through the one table in `unsupported`); every error from the file names its place
//! (`stack.yml:12:5: services.web.secrets: not supported yet`).
//!
//! Rooms: `error` (`StackError`, `Place`), `unsupported` (the table), `network` (the stack's networks and a
//! service's attachments), `service` (one service's spec), `layers` (`deploy_layers`), `changes` (what a stack
//! owns in the cluster and what a deploy changes there).

pub mod changes;
mod error;
mod layers;
mod network;
mod service;
pub mod unsupported;

use crate::compose::{DependencyCondition, Loaded};
use crate::model::NetworkSpec;
use crate::spec::ServiceSpec;

pub use error::{Place, StackError};
pub use layers::deploy_layers;
pub use network::DEFAULT_NETWORK;

/// The label on every object of a stack (services, their containers, networks), valued with the stack's name.
pub const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";
/// The label on a stack's service recording the image as the file names it (`stack deploy` compares it on the
/// next deploy to tell whether the image changed).
pub const IMAGE_LABEL: &str = "com.docker.stack.image";

/// What deploying a stack creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackPlan {
    /// The stack's name (the namespace).
    pub name: String,
    /// The networks the stack creates, sorted by name: those its services use, named `<stack>_<key>` (or their
    /// `name:`) and labelled with `NAMESPACE_LABEL`; `<stack>_default` only when a service uses it.
    pub networks: Vec<NetworkSpec>,
    /// The cluster names of the external networks its services use, sorted: they must already exist.
    pub external_networks: Vec<String>,
    /// One per service of the file, sorted by name.
    pub services: Vec<StackService>,
}

/// One service of a stack: its spec and what it waits for before it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackService {
    pub spec: ServiceSpec,
    /// The services of the stack this one depends on, in the file's order (a `required: false` dependency on a
    /// service the stack does not have is left out, as compose leaves it).
    pub depends_on: Vec<StackDependency>,
}

/// A dependency of a stack's service on another service of the same stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDependency {
    /// The full name, `<stack>_<service>`.
    pub service: String,
    pub condition: DependencyCondition,
}

/// Docker's check of a stack name: not empty once quotes and white space are trimmed, with Docker's message
/// (`invalid stack name: "'   '"`). Whether `<stack>_<service>` makes a valid service name is checked per service
/// by `convert`, as the daemon checks it for Docker.
pub fn validate_stack_name(name: &str) -> Result<(), StackError> {
    if name.trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'').is_empty() {
        return Err(StackError::InvalidStackName { name: name.to_owned() });
    }
    Ok(())
}

/// Converts a loaded stack into what `stack deploy` creates, under the name `stack`. Fails on a bad stack name,
/// on a key the specs cannot hold yet (`StackError::Unsupported`), on a value that cannot be converted, or on a
/// service spec `ServiceSpec::validate` refuses; each error names where in the files.
pub fn convert(stack: &str, loaded: &Loaded) -> Result<StackPlan, StackError> {
    validate_stack_name(stack)?;
    let config = &loaded.config;
    let mut services = Vec::with_capacity(config.services.len());
    for (name, service) in &config.services {
        let spec = service::convert_service(stack, loaded, name, service)?;
        let depends_on = service
            .depends_on
            .iter()
            .filter(|dependency| dependency.required || config.services.contains_key(&dependency.service))
            .map(|dependency| StackDependency {
                service: format!("{stack}_{}", dependency.service),
                condition: dependency.condition,
            })
            .collect();
        services.push(StackService { spec, depends_on });
    }

    let network_keys: Vec<&str> = network::used_network_keys(loaded).into_iter().collect();
    let created_network_keys: Vec<&str> = network_keys
        .iter()
        .copied()
        .filter(|key| !config.networks.get(*key).is_some_and(|network| network.external.0))
        .collect();
    let mut volume_keys: Vec<&str> = config
        .services
        .values()
        .flat_map(|service| &service.volumes)
        .filter(|mount| mount.kind == crate::compose::VolumeType::Volume && !mount.source.is_empty())
        .map(|mount| mount.source.as_str())
        .filter(|key| config.volumes.get(*key).is_some_and(|volume| !volume.external.0))
        .collect();
    volume_keys.sort_unstable();
    volume_keys.dedup();
    if let Some(key_path) = unsupported::first_in_objects(config, &created_network_keys, &volume_keys) {
        return Err(StackError::unsupported(loaded, key_path));
    }
    let (networks, external_networks) = network::stack_networks(stack, loaded)?;
    Ok(StackPlan { name: stack.to_owned(), networks, external_networks, services })
}
