//! `apply`'s command handlers, one file per command family (cluster, node, service, task, network, files: secrets and configs). Each handler
//! checks its input against the bounds and the store, then writes through the transaction's journal; this module
//! routes a command to its handler and applies a batch in order, all or nothing. A handler either returns the
//! `Outcome` of a complete change or a `Rejection`, in which case `Store::apply` rolls the whole proposal back.

mod ca;
mod cluster;
mod files;
mod network;
mod node;
pub(super) mod service;
mod task;

use super::bounds;
use super::outcome::{Outcome, Rejection};
use super::txn::Txn;
use crate::command::Command;
use crate::limits::Limit;
use crate::model::{ObjectKind, Timestamp, Version};

impl Txn<'_> {
    /// Applies one command of the proposal (a batch applies each of its commands in turn).
    pub(super) fn command(&mut self, command: &Command) -> Result<Outcome, Rejection> {
        match command {
            Command::InitCluster { cluster_id, settings, join_tokens } => {
                self.init_cluster(cluster_id, settings, join_tokens)
            }
            Command::RotateJoinToken { role, token } => self.rotate_join_token(*role, token),
            Command::UpdateClusterSettings { version, settings } => self.update_cluster_settings(*version, settings),

            Command::CreateNode { node } => self.create_node(node),
            Command::UpdateNode { id, version, spec } => self.update_node_spec(id, *version, spec),
            Command::SetNodeStatus { id, status } => self.set_node_status(id, status),
            Command::SetNodeDescription { id, description } => self.set_node_description(id, description),
            Command::SetManagerStatus { id, manager_status } => self.set_manager_status(id, manager_status),
            Command::RemoveNode { id } => self.remove_node(id),
            Command::SetNodeTunnel { node_id, public_key, port } => self.set_node_tunnel(node_id, *public_key, *port),

            Command::CreateService { service_id, spec } => self.create_service(service_id, spec),
            Command::UpdateService { id, version, spec } => self.update_service_spec(id, *version, spec),
            Command::RollbackService { id, version } => self.rollback_service(id, *version),
            Command::SetServiceUpdateStatus { id, status } => self.set_service_update_status(id, status),
            Command::RemoveService { id } => self.remove_service(id),

            Command::CreateTasks { tasks } => self.create_tasks(tasks),
            Command::UpdateTaskStatus { id, status } => self.update_task_status(id, status),
            Command::AssignTask { id, node_id } => self.assign_task(id, node_id),
            Command::SetTaskDesiredState { id, desired_state } => self.set_task_desired_state(id, *desired_state),
            Command::RemoveTasks { ids } => self.remove_tasks(ids),

            Command::CreateNetwork { network_id, spec } => self.create_network(network_id, spec),
            Command::RemoveNetwork { id } => self.remove_network(id),
            Command::AllocateTask { id, networks } => self.allocate_task(id, networks),
            Command::SetServiceVirtualIps { id, virtual_ips } => self.set_service_virtual_ips(id, virtual_ips),
            Command::AttachNode { network_id, node_id, addr } => self.attach_node(network_id, node_id, *addr),

            Command::CreateSecret { secret_id, spec, sealed } => self.create_secret(secret_id, spec, sealed),
            Command::RemoveSecret { id } => self.remove_secret(id),
            Command::CreateConfig { config_id, spec } => self.create_config(config_id, spec),
            Command::RemoveConfig { id } => self.remove_config(id),
            Command::SetUnlockKey { key, expected } => self.set_unlock_key(key, expected),
            Command::StartCaRotation { rotation } => self.start_ca_rotation(rotation),
            Command::SetNodeTls { node_id, tls } => self.set_node_tls(node_id, tls),
            Command::ResealSecrets { from_key_id, resealed } => self.reseal_secrets(from_key_id, resealed),
            Command::FinishCaRotation { new_root_digest } => self.finish_ca_rotation(new_root_digest),

            Command::Batch(commands) => self.batch(commands),
        }
    }

    /// Applies `commands` in order; the first rejection rejects the batch (and `apply` rolls all of it back).
    fn batch(&mut self, commands: &[Command]) -> Result<Outcome, Rejection> {
        bounds::check_len(Limit::BatchCommands, commands.len())?;
        let mut outcomes = Vec::with_capacity(commands.len());
        for (index, command) in commands.iter().enumerate() {
            let result = match command {
                Command::Batch(_) => Err(Rejection::NestedBatch),
                command => self.command(command),
            };
            match result {
                Ok(outcome) => outcomes.push(outcome),
                Err(rejection) => {
                    return Err(Rejection::InBatch { index: index as u64, rejection: Box::new(rejection) })
                }
            }
        }
        Ok(Outcome::Batch(outcomes))
    }
}

/// `updated_at` for a change at `now`: never before the previous update, even if the leader's clock is behind the
/// clock of a previous leader, so `created_at <= updated_at` holds whatever clocks do.
fn later(now: Timestamp, previous: Timestamp) -> Timestamp {
    now.max(previous)
}

/// Rejects an update based on another version than the stored one ("update out of sequence").
fn check_version(kind: ObjectKind, id: &str, current: Version, based_on: Version) -> Result<(), Rejection> {
    if current != based_on {
        return Err(Rejection::OutOfSequence { kind, id: id.to_string(), current, based_on });
    }
    Ok(())
}
