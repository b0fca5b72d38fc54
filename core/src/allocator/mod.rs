//! The allocator stage between the orchestrators and the scheduler (SwarmKit's allocator), and its partner after
//! the scheduler. Before scheduling: every service gets a virtual IP on each network of its spec (endpoint mode
//! `vip`), and a task created `New` whose service still wants it gets an address on each of its networks and moves
//! to `Pending` ("pending task scheduling"), which is what the scheduler picks up. After scheduling: a node that
//! got a task on a network it has no gateway on yet gets one, and every node one on `ingress` while the routing
//! mesh has a port (`attach_nodes`); a task publishing a port in ingress mode gets an address on `ingress` too. Addresses are the lowest free ones
//! of what the store has in use plus what this run already handed out, so one run never hands an address out
//! twice; `apply` checks again. VIPs and task addresses leave one address free per node without a gateway on the
//! network, so a node given a task there can always get its gateway. Invariant: it only moves tasks forward from `New` and never takes an address back
//! (releasing is `apply`'s, as objects go away).

mod addresses;

use std::collections::BTreeSet;

use crate::command::Command;
use crate::limits::BATCH_COMMANDS_MAX;
use crate::model::{NetworkAttachment, TaskState, TaskStatus, Timestamp, VirtualIp};
use crate::spec::ResolutionMode;
use crate::store::Store;
use addresses::Handout;

/// SwarmKit's message for a task waiting for the scheduler.
pub const PENDING_MESSAGE: &str = "pending task scheduling";

pub fn allocate(store: &Store, now: Timestamp) -> Vec<Command> {
    let mut handout = Handout::new(store);
    let mut commands = virtual_ips(store, &mut handout);
    for task in
        store.tasks().filter(|task| task.status.state == TaskState::New && task.desired_state <= TaskState::Complete)
    {
        let Some(network_ids) = store.task_network_ids(task) else { continue };
        if task.networks.is_empty() && !network_ids.is_empty() {
            let Some(networks) = task_addresses(&network_ids, &mut handout) else { continue };
            commands.push(Command::AllocateTask { id: task.id.clone(), networks });
        }
        commands.push(Command::UpdateTaskStatus {
            id: task.id.clone(),
            status: TaskStatus {
                state: TaskState::Pending,
                timestamp: now,
                message: PENDING_MESSAGE.to_string(),
                err: None,
                container_id: None,
            },
        });
    }
    batched(commands)
}

/// Gateways for nodes that were given a task on a network they have none on, and on `ingress` for every node
/// while a service publishes a port in ingress mode (every node answers on it).
pub fn attach_nodes(store: &Store) -> Vec<Command> {
    let mut handout = Handout::new(store);
    let mut wanted = BTreeSet::new();
    let mesh = store.services().any(|service| service.spec.endpoint_spec.publishes_ingress());
    if let Some(ingress) = store.ingress_network().filter(|_| mesh) {
        for node in store.nodes().filter(|node| !ingress.allocation.node_gateways.contains_key(&node.id)) {
            wanted.insert((ingress.id.clone(), node.id.clone()));
        }
    }
    for task in store.tasks().filter(|task| crate::ipam::holds_addresses(task)) {
        let Some(node_id) = &task.node_id else { continue };
        for attachment in &task.networks {
            let Some(network) = store.network(&attachment.network_id) else { continue };
            if !network.allocation.node_gateways.contains_key(node_id) {
                wanted.insert((network.id.clone(), node_id.clone()));
            }
        }
    }
    let commands = wanted
        .into_iter()
        .filter_map(|(network_id, node_id)| {
            let addr = handout.take_gateway(&network_id)?;
            Some(Command::AttachNode { network_id, node_id, addr })
        })
        .collect();
    batched(commands)
}

/// `SetServiceVirtualIps` for every service whose virtual IPs differ from its spec's networks: kept addresses
/// stay, missing ones are handed out. A service whose network is gone or whose network is full is left as it is.
fn virtual_ips(store: &Store, handout: &mut Handout) -> Vec<Command> {
    let mut commands = Vec::new();
    for service in store.services() {
        let Ok(network_ids) = store.networks_of_spec(&service.spec) else { continue };
        let network_ids = match service.spec.endpoint_spec.mode {
            ResolutionMode::Vip => network_ids,
            ResolutionMode::Dnsrr => Vec::new(),
        };
        let held = |network_id: &String| service.virtual_ips.iter().find(|vip| &vip.network_id == network_id);
        let current: Vec<&String> = service.virtual_ips.iter().map(|vip| &vip.network_id).collect();
        if current == network_ids.iter().collect::<Vec<_>>() {
            continue;
        }
        let mut wanted = Vec::with_capacity(network_ids.len());
        for network_id in &network_ids {
            match held(network_id) {
                Some(vip) => wanted.push(vip.clone()),
                None => match handout.take_leaving_gateways(network_id) {
                    Some(addr) => wanted.push(VirtualIp { network_id: network_id.clone(), addr }),
                    None => break,
                },
            }
        }
        if wanted.len() == network_ids.len() {
            commands.push(Command::SetServiceVirtualIps { id: service.id.clone(), virtual_ips: wanted });
        }
    }
    commands
}

/// An address on each of `network_ids`, or `None` (nothing taken) if one is full.
fn task_addresses(network_ids: &[String], handout: &mut Handout) -> Option<Vec<NetworkAttachment>> {
    let mut networks = Vec::with_capacity(network_ids.len());
    for network_id in network_ids {
        let network_id = network_id.clone();
        match handout.take_leaving_gateways(&network_id) {
            Some(addr) => networks.push(NetworkAttachment { network_id, addr }),
            None => {
                for taken in &networks {
                    handout.give_back(&taken.network_id, taken.addr);
                }
                return None;
            }
        }
    }
    Some(networks)
}

fn batched(commands: Vec<Command>) -> Vec<Command> {
    let mut batches = Vec::new();
    let mut commands = commands.into_iter().peekable();
    while commands.peek().is_some() {
        batches.push(Command::Batch(commands.by_ref().take(BATCH_COMMANDS_MAX).collect()));
    }
    batches
}
