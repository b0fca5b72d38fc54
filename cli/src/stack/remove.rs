//! `stack rm [-d] STACK…`: removes each stack's services, then its networks, as Docker's does (`Removing service
//! …`, `Removing network …`; a stack with nothing prints "Nothing found in stack: NAME" and the others go on).
//! Beyond Swarm, whose `stack rm` often fails on a network its stopping tasks still use (moby/moby#32620), a network
//! refused as in use is tried again until those tasks have stopped, within `NETWORK_RELEASE_TIMEOUT`. Without `-d`
//! the command returns once every task of the stack has stopped. Invariant: only objects labelled with the stack's
//! namespace are removed.

use std::time::{Duration, Instant};

use clap::Args;
use swarm_core::stack::changes::inventory;
use swarm_runtime::control::api::{ObjectRequest, PATH_NETWORK_REMOVE, PATH_SERVICE_REMOVE};

use super::StackError;
use crate::client::{Control, ControlError};
use crate::error::CliError;

/// How long a network refused as in use (by tasks still stopping) is tried again.
const NETWORK_RELEASE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `stack rm` without `-d` waits for the stack's tasks to stop.
const TASKS_STOP_TIMEOUT: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not wait for the stack's tasks to stop.
    #[arg(short, long, num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    detach: bool,
    #[arg(required = true)]
    stacks: Vec<String>,
}

pub fn run(control: &mut Control, args: &RmArgs) -> Result<(), CliError> {
    let mut failures = Vec::new();
    for stack in &args.stacks {
        if let Err(error) = remove_stack(control, stack, args.detach) {
            failures.push(error);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Several(failures))
    }
}

fn remove_stack(control: &mut Control, stack: &str, detach: bool) -> Result<(), CliError> {
    let view = control.view()?;
    let owned = inventory(stack, &view.services, &view.networks);
    if owned.is_empty() {
        println!("Nothing found in stack: {stack}");
        return Ok(());
    }
    let service_ids: Vec<String> = owned.services.iter().map(|service| service.id.clone()).collect();
    let mut failures = Vec::new();
    for service in &owned.services {
        println!("Removing service {}", service.spec.name);
        let request = ObjectRequest { id: service.id.clone() };
        if let Err(error) = control.post::<_, serde_json::Value>(PATH_SERVICE_REMOVE, &request) {
            let name = service.spec.name.clone();
            failures.push(StackError::RemoveService { name, error: Box::new(error.into()) }.into());
        }
    }
    for network in &owned.networks {
        println!("Removing network {}", network.spec.name);
        if let Err(error) = remove_network(control, &network.id) {
            let name = network.spec.name.clone();
            failures.push(StackError::RemoveNetwork { name, error: Box::new(error.into()) }.into());
        }
    }
    if !failures.is_empty() {
        return Err(CliError::Several(failures));
    }
    if !detach {
        wait_for_tasks_to_stop(control, stack, &service_ids)?;
    }
    Ok(())
}

/// Removes a network, trying again while the daemon refuses it as in use (tasks of the removed services that
/// have not stopped yet hold addresses on it).
fn remove_network(control: &mut Control, id: &str) -> Result<(), ControlError> {
    let deadline = Instant::now() + NETWORK_RELEASE_TIMEOUT;
    loop {
        match control.post::<_, serde_json::Value>(PATH_NETWORK_REMOVE, &ObjectRequest { id: id.to_string() }) {
            Err(ControlError::Refused { message, .. })
                if message.contains("is in use by") && Instant::now() < deadline =>
            {
                control.sleep(POLL_INTERVAL);
            }
            other => return other.map(|_| ()),
        }
    }
}

/// Waits until no task of the removed services is still running or stopping (as `docker stack rm
/// --detach=false`), within `TASKS_STOP_TIMEOUT` (a task on a node that is down never reports).
fn wait_for_tasks_to_stop(control: &mut Control, stack: &str, service_ids: &[String]) -> Result<(), CliError> {
    let deadline = Instant::now() + TASKS_STOP_TIMEOUT;
    loop {
        let view = control.view()?;
        let live =
            view.tasks.iter().any(|task| service_ids.contains(&task.service_id) && !task.status.state.is_terminal());
        if !live {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StackError::TasksStillRunning { stack: stack.to_string(), waited: TASKS_STOP_TIMEOUT }.into());
        }
        control.sleep(POLL_INTERVAL);
    }
}
