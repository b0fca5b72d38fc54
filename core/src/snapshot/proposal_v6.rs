//! Proposal format 6, the one before secrets and configs: what the previous build put in Raft log entries, so a
//! manager restarted on this build still reads the entries of its log that the older build wrote (those after the
//! last snapshot and those kept for slow followers). Postcard is not self-describing, so `CommandV6` repeats
//! format 6's `Command` variant for variant, in the same order (`SetNodeTunnel` last, after `Batch`); the variants
//! that carry a service spec, tasks or cluster settings use the format-8 snapshot shapes (`v8`), which are exactly
//! what format-6 proposals carried, and every other variant uses today's types, unchanged since. Invariant:
//! `upgrade(downgrade(p)) == p` for every proposal that uses no secret, config, reference or node certificate
//! expiry other than the default; what `serialize_proposals_v6` writes of proposals without nested batches always
//! decodes (a new command becomes an empty batch, or is left out of the batch it is in); and a nested batch is
//! refused while decoding, as for `Command`.

use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::v8::{ClusterSettingsV8, ServiceSpecV8, TaskV8};
use crate::command::{Command, Proposal};
use crate::model::{
    JoinTokens, ManagerStatus, NetworkAttachment, NetworkSpec, Node, NodeDescription, NodeRole, NodeSpec, NodeStatus,
    TaskState, TaskStatus, Timestamp, TunnelKey, UpdateStatus, Version, VirtualIp,
};

#[derive(Serialize, Deserialize)]
struct ProposalV6 {
    now: Timestamp,
    command: CommandV6,
}

#[derive(Serialize, Deserialize)]
enum CommandV6 {
    InitCluster { cluster_id: String, settings: ClusterSettingsV8, join_tokens: JoinTokens },
    RotateJoinToken { role: NodeRole, token: String },
    UpdateClusterSettings { version: Version, settings: ClusterSettingsV8 },
    CreateNode { node: Node },
    UpdateNode { id: String, version: Version, spec: NodeSpec },
    SetNodeStatus { id: String, status: NodeStatus },
    SetNodeDescription { id: String, description: NodeDescription },
    SetManagerStatus { id: String, manager_status: Option<ManagerStatus> },
    RemoveNode { id: String },
    CreateService { service_id: String, spec: ServiceSpecV8 },
    UpdateService { id: String, version: Version, spec: ServiceSpecV8 },
    RollbackService { id: String, version: Version },
    SetServiceUpdateStatus { id: String, status: UpdateStatus },
    RemoveService { id: String },
    CreateTasks { tasks: Vec<TaskV8> },
    UpdateTaskStatus { id: String, status: TaskStatus },
    AssignTask { id: String, node_id: String },
    SetTaskDesiredState { id: String, desired_state: TaskState },
    RemoveTasks { ids: Vec<String> },
    CreateNetwork { network_id: String, spec: NetworkSpec },
    RemoveNetwork { id: String },
    AllocateTask { id: String, networks: Vec<NetworkAttachment> },
    SetServiceVirtualIps { id: String, virtual_ips: Vec<VirtualIp> },
    AttachNode { network_id: String, node_id: String, addr: Ipv4Addr },
    Batch(#[serde(deserialize_with = "crate::command::deserialize_flat_batch")] Vec<CommandV6>),
    SetNodeTunnel { node_id: String, public_key: TunnelKey, port: u16 },
}

/// Format-6 proposals as `Vec<Proposal>` reads them (a Raft entry's batch), upgraded to today's types: the new
/// fields get their empty values (no secret or config references, the default node certificate expiry).
pub fn deserialize_proposals_v6<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Proposal>, D::Error> {
    let proposals = Vec::<ProposalV6>::deserialize(deserializer)?;
    Ok(proposals.into_iter().map(ProposalV6::upgrade).collect())
}

/// `proposals` written as format 6 (what the previous build wrote; the new fields dropped, a secret or config
/// command as an empty batch, or left out of the batch it is in), for tests of the upgrade path.
#[doc(hidden)]
pub fn serialize_proposals_v6<S: Serializer>(proposals: &[Proposal], serializer: S) -> Result<S::Ok, S::Error> {
    let old: Vec<ProposalV6> = proposals.iter().cloned().map(ProposalV6::downgrade).collect();
    old.serialize(serializer)
}

impl ProposalV6 {
    fn upgrade(self) -> Proposal {
        Proposal { now: self.now, command: self.command.upgrade() }
    }

    fn downgrade(proposal: Proposal) -> ProposalV6 {
        ProposalV6 { now: proposal.now, command: CommandV6::downgrade(proposal.command) }
    }
}

/// The variants whose payload is the same type in both formats, written once for both directions.
macro_rules! same_shape {
    ($from:ident, $to:ident, $value:expr, { $($other:tt)* }) => {
        match $value {
            $from::RotateJoinToken { role, token } => $to::RotateJoinToken { role, token },
            $from::CreateNode { node } => $to::CreateNode { node },
            $from::UpdateNode { id, version, spec } => $to::UpdateNode { id, version, spec },
            $from::SetNodeStatus { id, status } => $to::SetNodeStatus { id, status },
            $from::SetNodeDescription { id, description } => $to::SetNodeDescription { id, description },
            $from::SetManagerStatus { id, manager_status } => $to::SetManagerStatus { id, manager_status },
            $from::RemoveNode { id } => $to::RemoveNode { id },
            $from::RollbackService { id, version } => $to::RollbackService { id, version },
            $from::SetServiceUpdateStatus { id, status } => $to::SetServiceUpdateStatus { id, status },
            $from::RemoveService { id } => $to::RemoveService { id },
            $from::UpdateTaskStatus { id, status } => $to::UpdateTaskStatus { id, status },
            $from::AssignTask { id, node_id } => $to::AssignTask { id, node_id },
            $from::SetTaskDesiredState { id, desired_state } => $to::SetTaskDesiredState { id, desired_state },
            $from::RemoveTasks { ids } => $to::RemoveTasks { ids },
            $from::CreateNetwork { network_id, spec } => $to::CreateNetwork { network_id, spec },
            $from::RemoveNetwork { id } => $to::RemoveNetwork { id },
            $from::AllocateTask { id, networks } => $to::AllocateTask { id, networks },
            $from::SetServiceVirtualIps { id, virtual_ips } => $to::SetServiceVirtualIps { id, virtual_ips },
            $from::AttachNode { network_id, node_id, addr } => $to::AttachNode { network_id, node_id, addr },
            $from::SetNodeTunnel { node_id, public_key, port } => $to::SetNodeTunnel { node_id, public_key, port },
            $($other)*
        }
    };
}

impl CommandV6 {
    fn upgrade(self) -> Command {
        same_shape!(CommandV6, Command, self, {
            CommandV6::InitCluster { cluster_id, settings, join_tokens } => {
                Command::InitCluster { cluster_id, settings: settings.upgrade(), join_tokens }
            }
            CommandV6::UpdateClusterSettings { version, settings } => {
                Command::UpdateClusterSettings { version, settings: settings.upgrade() }
            }
            CommandV6::CreateService { service_id, spec } => {
                Command::CreateService { service_id, spec: spec.upgrade() }
            }
            CommandV6::UpdateService { id, version, spec } => {
                Command::UpdateService { id, version, spec: spec.upgrade() }
            }
            CommandV6::CreateTasks { tasks } => {
                Command::CreateTasks { tasks: tasks.into_iter().map(TaskV8::upgrade).collect() }
            }
            CommandV6::Batch(commands) => Command::Batch(commands.into_iter().map(CommandV6::upgrade).collect()),
        })
    }

    fn downgrade(command: Command) -> CommandV6 {
        same_shape!(Command, CommandV6, command, {
            Command::InitCluster { cluster_id, settings, join_tokens } => {
                CommandV6::InitCluster { cluster_id, settings: ClusterSettingsV8::downgrade(settings), join_tokens }
            }
            Command::UpdateClusterSettings { version, settings } => {
                CommandV6::UpdateClusterSettings { version, settings: ClusterSettingsV8::downgrade(settings) }
            }
            Command::CreateService { service_id, spec } => {
                CommandV6::CreateService { service_id, spec: ServiceSpecV8::downgrade(spec) }
            }
            Command::UpdateService { id, version, spec } => {
                CommandV6::UpdateService { id, version, spec: ServiceSpecV8::downgrade(spec) }
            }
            Command::CreateTasks { tasks } => {
                CommandV6::CreateTasks { tasks: tasks.into_iter().map(TaskV8::downgrade).collect() }
            }
            // Inside a batch a command format 6 cannot hold is left out: an empty batch there would be a nested
            // batch, which decoding refuses.
            Command::Batch(commands) => CommandV6::Batch(
                commands.into_iter().filter(|command| !new_in_format_7(command)).map(CommandV6::downgrade).collect(),
            ),
            // Format 6 has no secrets, configs or unlock key: the command is dropped (an empty batch changes nothing).
            Command::CreateSecret { .. }
            | Command::RemoveSecret { .. }
            | Command::CreateConfig { .. }
            | Command::RemoveConfig { .. }
            | Command::SetUnlockKey { .. }
            | Command::StartCaRotation { .. }
            | Command::SetNodeTls { .. }
            | Command::ResealSecrets { .. }
            | Command::FinishCaRotation { .. } => CommandV6::Batch(Vec::new()),
        })
    }
}

/// The commands proposal format 7 added, which format 6 cannot hold.
fn new_in_format_7(command: &Command) -> bool {
    matches!(
        command,
        Command::CreateSecret { .. }
            | Command::RemoveSecret { .. }
            | Command::CreateConfig { .. }
            | Command::RemoveConfig { .. }
            | Command::SetUnlockKey { .. }
            | Command::StartCaRotation { .. }
            | Command::SetNodeTls { .. }
            | Command::ResealSecrets { .. }
            | Command::FinishCaRotation { .. }
    )
}
