//! `stack rm STACK…`: removes each stack's services, then its networks, as Docker's does (`Removing service …`,
//! `Removing network …`; a stack with nothing prints "Nothing found in stack: NAME" and the others go on; every
//! failure is reported at the end). Removing a service takes its tasks out of the store at once, so its networks
//! can go right after; the containers stop in the background, as with Docker's default `--detach`. Invariant: only
//! objects labelled with the stack's namespace are removed.

use clap::Args;
use swarm_core::stack::changes::inventory;
use swarm_runtime::control::api::{ObjectRequest, PATH_NETWORK_REMOVE, PATH_SERVICE_REMOVE};

use super::StackError;
use crate::client::Control;
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not wait for the stack to be removed (accepted for Docker's sake: the command returns once the removal is
    /// committed either way, and the containers stop in the background).
    #[arg(short, long, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    detach: bool,
    #[arg(required = true)]
    stacks: Vec<String>,
}

pub fn run(control: &mut Control, args: &RmArgs) -> Result<(), CliError> {
    let _ = args.detach;
    let mut failures = Vec::new();
    for stack in &args.stacks {
        if let Err(error) = remove_stack(control, stack) {
            failures.push(error);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Several(failures))
    }
}

fn remove_stack(control: &mut Control, stack: &str) -> Result<(), CliError> {
    let view = control.view()?;
    let owned = inventory(stack, &view.services, &view.networks);
    if owned.is_empty() {
        println!("Nothing found in stack: {stack}");
        return Ok(());
    }
    let mut failures = Vec::new();
    for service in &owned.services {
        println!("Removing service {}", service.spec.name);
        let request = ObjectRequest { id: service.id.clone() };
        if let Err(error) = control.post::<_, serde_json::Value>(PATH_SERVICE_REMOVE, &request) {
            let name = service.spec.name.clone();
            failures.push(StackError::RemoveService { name, error: Box::new(error) }.into());
        }
    }
    for network in &owned.networks {
        println!("Removing network {}", network.spec.name);
        let request = ObjectRequest { id: network.id.clone() };
        if let Err(error) = control.post::<_, serde_json::Value>(PATH_NETWORK_REMOVE, &request) {
            let name = network.spec.name.clone();
            failures.push(StackError::RemoveNetwork { name, error: Box::new(error) }.into());
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Several(failures))
    }
}
