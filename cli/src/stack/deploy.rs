//! `stack deploy -c FILE… [--prune] [--resolve-image …] [-d] [-q] NAME`: Docker's deploy, client-side, with
//! `depends_on` honoured (beyond Swarm). The file is loaded and converted before any call; then, from one view of
//! the cluster: stop if an external network is missing or a name belongs to something outside the stack; prune
//! (with `--prune`); create the stack's missing networks; then create or update the services layer by layer in
//! `depends_on` order, waiting for the services a later layer depends on to converge (their tasks running, healthy
//! where they have a healthcheck, jobs complete; within `DEPENDENCY_TIMEOUT`) before that layer starts. Without
//! `-d` each created or updated service's progress is shown as `service create` shows it. An unchanged service is
//! not sent at all (see `swarm_core::stack::changes`); each layer's changes are decided from a fresh view, since
//! waiting for the previous layer takes time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use clap::Args;
use swarm_core::stack::changes::{deploy_changes, ServiceChange};
use swarm_core::stack::{convert, deploy_layers, validate_stack_name, StackPlan};
use swarm_core::ServiceSpec;
use swarm_runtime::control::api::{
    NetworkCreateReply, NetworkCreateRequest, ObjectRequest, ServiceCreateReply, ServiceCreateRequest,
    ServiceUpdateRequest, PATH_NETWORK_CREATE, PATH_SERVICE_CREATE, PATH_SERVICE_REMOVE, PATH_SERVICE_UPDATE,
};

use super::load::{load, print_warnings, ComposeFilesArg};
use super::StackError;
use crate::client::Control;
use crate::error::CliError;
use crate::progress::{self, Progress, WatchError};

/// How long a service others depend on may take to converge before the deploy gives up (the services that depend
/// on it are then not deployed).
const DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(300);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    files: ComposeFilesArg,
    /// Exit immediately instead of waiting for the stack services to converge (services other services depend
    /// on are still waited for).
    #[arg(short, long, num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    detach: bool,
    /// Prune services that are no longer referenced.
    #[arg(long)]
    prune: bool,
    /// Suppress progress output.
    #[arg(short, long)]
    quiet: bool,
    /// Query the registry to resolve image digest and supported platforms ("always", "changed", "never"). No
    /// registry is used: images are taken as named, so every value behaves as "never".
    #[arg(long, default_value = "always")]
    resolve_image: String,
    /// Send registry authentication details to Swarm agents (accepted; no registry is used).
    #[arg(long)]
    with_registry_auth: bool,
    /// The stack's name.
    stack: String,
}

/// What a deploy needs, checked before any call.
pub struct Prepared {
    plan: StackPlan,
    layers: Vec<Vec<String>>,
}

/// The flags, the stack name, the files, their conversion and their `depends_on` order: every check that needs
/// no daemon.
pub fn prepare(args: &DeployArgs) -> Result<Prepared, StackError> {
    if !["always", "changed", "never"].contains(&args.resolve_image.as_str()) {
        return Err(StackError::InvalidResolveImage { value: args.resolve_image.clone() });
    }
    validate_stack_name(&args.stack)?;
    let loaded = load(&args.files, false)?;
    print_warnings(&loaded);
    let plan = convert(&args.stack, &loaded)?;
    let layers = deploy_layers(&plan)?;
    Ok(Prepared { plan, layers })
}

pub fn run(control: &mut Control, args: &DeployArgs, prepared: Prepared) -> Result<(), CliError> {
    let Prepared { plan, layers } = prepared;
    let stack = plan.name.clone();
    let specs: Vec<ServiceSpec> = plan.services.iter().map(|service| service.spec.clone()).collect();
    let view = control.view()?;
    let changes = deploy_changes(
        &stack,
        &plan.networks,
        &plan.external_networks,
        &specs,
        &view.services,
        &view.networks,
        args.prune,
    );
    if let Some(name) = changes.missing_external_networks.first() {
        return Err(StackError::MissingExternalNetwork { name: name.clone() }.into());
    }
    if let Some(name) = changes.foreign_networks.first() {
        return Err(StackError::ForeignNetwork { name: name.clone(), stack }.into());
    }
    if let Some(name) = changes.foreign_services.first() {
        return Err(StackError::ForeignService { name: name.clone(), stack }.into());
    }
    for (id, name) in &changes.services_to_prune {
        println!("Removing service {name}");
        control
            .post::<_, serde_json::Value>(PATH_SERVICE_REMOVE, &ObjectRequest { id: id.clone() })
            .map_err(|error| StackError::RemoveService { name: name.clone(), error: Box::new(error) })?;
    }
    for spec in &changes.networks_to_create {
        println!("Creating network {}", spec.name);
        control
            .post::<_, NetworkCreateReply>(PATH_NETWORK_CREATE, &NetworkCreateRequest { spec: spec.clone() })
            .map_err(|error| StackError::CreateNetwork { name: spec.name.clone(), error: Box::new(error) })?;
    }
    let depended_on: BTreeSet<&str> =
        plan.services.iter().flat_map(|service| service.depends_on.iter().map(|d| d.service.as_str())).collect();
    let mut layer_changes = changes.services;
    for (index, layer) in layers.iter().enumerate() {
        if index > 0 {
            // Waiting for the previous layer took time, and the services' versions move (a rolling update still
            // finishing records its progress): decide this layer's changes from a fresh view.
            let view = control.view()?;
            let layer_specs: Vec<ServiceSpec> =
                specs.iter().filter(|spec| layer.contains(&spec.name)).cloned().collect();
            let fresh = deploy_changes(&stack, &[], &[], &layer_specs, &view.services, &view.networks, false);
            if let Some(name) = fresh.foreign_services.first() {
                return Err(StackError::ForeignService { name: name.clone(), stack }.into());
            }
            layer_changes = fresh.services;
        }
        let mut deployed: Vec<(&str, String, bool)> = Vec::with_capacity(layer.len());
        for name in layer {
            let change = layer_changes.get(name).expect("every service of the layer has a change");
            let (id, changed) = apply_change(control, name, change)?;
            deployed.push((name, id, changed));
        }
        for (_, id, changed) in &deployed {
            if *changed && !args.detach {
                progress::watch(control, id, args.quiet, false)?;
            }
        }
        // What a later layer depends on must have converged before that layer starts, even with -d.
        if index + 1 < layers.len() {
            for (name, id, _) in deployed.iter().filter(|(name, _, _)| depended_on.contains(name)) {
                wait_ready(control, name, id)?;
            }
        }
    }
    Ok(())
}

/// Waits until `name` (a service others depend on) has converged — every wanted task running (and healthy where it
/// has a healthcheck), a job's tasks complete — within `DEPENDENCY_TIMEOUT`, without `progress::watch`'s verify
/// period (the service was either just shown converging, or was unchanged and converged long ago).
fn wait_ready(control: &mut Control, name: &str, id: &str) -> Result<(), CliError> {
    let deadline = Instant::now() + DEPENDENCY_TIMEOUT;
    loop {
        let view = control.view()?;
        let Some(service) = view.services.iter().find(|service| service.id == id) else {
            return Err(WatchError::Removed { service_id: id.to_string() }.into());
        };
        let progress = Progress::of(&view, service, false);
        if let Some(reason) = progress.failure {
            return Err(WatchError::NotConverged { service: name.to_string(), reason }.into());
        }
        if progress.converged {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StackError::DependencyNotReady { service: name.to_string(), waited: DEPENDENCY_TIMEOUT }.into());
        }
        control.sleep(POLL_INTERVAL);
    }
}

/// Sends one service's change; answers its id and whether anything was sent.
fn apply_change(control: &mut Control, name: &str, change: &ServiceChange) -> Result<(String, bool), CliError> {
    match change {
        ServiceChange::Create(spec) => {
            println!("Creating service {name}");
            let reply: ServiceCreateReply = control
                .post(PATH_SERVICE_CREATE, &ServiceCreateRequest { spec: spec.clone() })
                .map_err(|error| StackError::CreateService { name: name.to_string(), error: Box::new(error) })?;
            Ok((reply.id, true))
        }
        ServiceChange::Update { id, version, spec } => {
            println!("Updating service {name} (id: {id})");
            let request = ServiceUpdateRequest { id: id.clone(), version: *version, spec: spec.clone() };
            control
                .post::<_, serde_json::Value>(PATH_SERVICE_UPDATE, &request)
                .map_err(|error| StackError::UpdateService { name: name.to_string(), error: Box::new(error) })?;
            Ok((id.clone(), true))
        }
        ServiceChange::Unchanged { id } => {
            // Docker prints this line for every service of the file; nothing is sent for an unchanged one.
            println!("Updating service {name} (id: {id})");
            Ok((id.clone(), false))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        deploy: DeployArgs,
    }

    fn prepared(argv: &[&str]) -> Result<Prepared, String> {
        let args = Cli::try_parse_from(std::iter::once("deploy").chain(argv.iter().copied()))
            .map_err(|error| error.to_string())?;
        prepare(&args.deploy).map_err(|error| error.to_string())
    }

    /// Bad input is refused before any file is read or any daemon called, in Docker's words.
    #[test]
    fn bad_flags_and_names_are_refused_before_anything_else() {
        let refused = |argv: &[&str]| prepared(argv).err().unwrap_or_else(|| panic!("{argv:?} was accepted"));
        assert_eq!(
            refused(&["--resolve-image", "sometimes", "-c", "/nonexistent.yml", "shop"]),
            "Invalid option sometimes for flag --resolve-image"
        );
        assert_eq!(refused(&["-c", "/nonexistent.yml", "'  '"]), "invalid stack name: \"'  '\"");
        assert!(refused(&["shop"]).contains("specify a Compose file"));
        assert!(refused(&["-c", "/nonexistent.yml", "shop"]).starts_with("open /nonexistent.yml: "));
    }
}
