//! Proposal format 5, the one before the container options: what the previous build put in Raft log entries, so a
//! manager restarted on this build still reads the entries of its log that the older build wrote (those after the
//! last snapshot and those kept for slow followers). Postcard is not self-describing, so `CommandV5` repeats
//! `Command` variant for variant, in the same order; the variants that carry a service spec or tasks use the
//! format-6 snapshot shapes (`v6`), which are exactly what format-5 proposals carried, and every other variant
//! uses today's types, unchanged since. Invariant: `upgrade(downgrade(p)) == p` for every proposal whose specs set
//! no container option, and a nested batch is refused while decoding, as for `Command`.

use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::v6::{ServiceSpecV6, TaskV6};
use crate::command::{Command, Proposal};
use crate::model::{
    ClusterSettings, JoinTokens, ManagerStatus, NetworkAttachment, NetworkSpec, Node, NodeDescription, NodeRole,
    NodeSpec, NodeStatus, TaskState, TaskStatus, Timestamp, UpdateStatus, Version, VirtualIp,
};

#[derive(Serialize, Deserialize)]
struct ProposalV5 {
    now: Timestamp,
    command: CommandV5,
}

#[derive(Serialize, Deserialize)]
enum CommandV5 {
    InitCluster { cluster_id: String, settings: ClusterSettings, join_tokens: JoinTokens },
    RotateJoinToken { role: NodeRole, token: String },
    UpdateClusterSettings { version: Version, settings: ClusterSettings },
    CreateNode { node: Node },
    UpdateNode { id: String, version: Version, spec: NodeSpec },
    SetNodeStatus { id: String, status: NodeStatus },
    SetNodeDescription { id: String, description: NodeDescription },
    SetManagerStatus { id: String, manager_status: Option<ManagerStatus> },
    RemoveNode { id: String },
    CreateService { service_id: String, spec: ServiceSpecV6 },
    UpdateService { id: String, version: Version, spec: ServiceSpecV6 },
    RollbackService { id: String, version: Version },
    SetServiceUpdateStatus { id: String, status: UpdateStatus },
    RemoveService { id: String },
    CreateTasks { tasks: Vec<TaskV6> },
    UpdateTaskStatus { id: String, status: TaskStatus },
    AssignTask { id: String, node_id: String },
    SetTaskDesiredState { id: String, desired_state: TaskState },
    RemoveTasks { ids: Vec<String> },
    CreateNetwork { network_id: String, spec: NetworkSpec },
    RemoveNetwork { id: String },
    AllocateTask { id: String, networks: Vec<NetworkAttachment> },
    SetServiceVirtualIps { id: String, virtual_ips: Vec<VirtualIp> },
    AttachNode { network_id: String, node_id: String, addr: Ipv4Addr },
    Batch(#[serde(deserialize_with = "crate::command::deserialize_flat_batch")] Vec<CommandV5>),
}

/// Format-5 proposals as `Vec<Proposal>` reads them (a Raft entry's batch), upgraded to today's types: the new
/// fields get their empty values (no container option set).
pub fn deserialize_proposals_v5<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Proposal>, D::Error> {
    let proposals = Vec::<ProposalV5>::deserialize(deserializer)?;
    Ok(proposals.into_iter().map(ProposalV5::upgrade).collect())
}

/// `proposals` written as format 5 (what the previous build wrote; the new fields dropped), for tests of the
/// upgrade path.
#[doc(hidden)]
pub fn serialize_proposals_v5<S: Serializer>(proposals: &[Proposal], serializer: S) -> Result<S::Ok, S::Error> {
    let old: Vec<ProposalV5> = proposals.iter().cloned().map(ProposalV5::downgrade).collect();
    old.serialize(serializer)
}

impl ProposalV5 {
    fn upgrade(self) -> Proposal {
        Proposal { now: self.now, command: self.command.upgrade() }
    }

    fn downgrade(proposal: Proposal) -> ProposalV5 {
        ProposalV5 { now: proposal.now, command: CommandV5::downgrade(proposal.command) }
    }
}

/// The variants whose payload is the same type in both formats, written once for both directions.
macro_rules! same_shape {
    ($from:ident, $to:ident, $value:expr, { $($other:tt)* }) => {
        match $value {
            $from::InitCluster { cluster_id, settings, join_tokens } => {
                $to::InitCluster { cluster_id, settings, join_tokens }
            }
            $from::RotateJoinToken { role, token } => $to::RotateJoinToken { role, token },
            $from::UpdateClusterSettings { version, settings } => $to::UpdateClusterSettings { version, settings },
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
            $($other)*
        }
    };
}

impl CommandV5 {
    fn upgrade(self) -> Command {
        same_shape!(CommandV5, Command, self, {
            CommandV5::CreateService { service_id, spec } => {
                Command::CreateService { service_id, spec: spec.upgrade() }
            }
            CommandV5::UpdateService { id, version, spec } => {
                Command::UpdateService { id, version, spec: spec.upgrade() }
            }
            CommandV5::CreateTasks { tasks } => {
                Command::CreateTasks { tasks: tasks.into_iter().map(TaskV6::upgrade).collect() }
            }
            CommandV5::Batch(commands) => Command::Batch(commands.into_iter().map(CommandV5::upgrade).collect()),
        })
    }

    fn downgrade(command: Command) -> CommandV5 {
        same_shape!(Command, CommandV5, command, {
            Command::CreateService { service_id, spec } => {
                CommandV5::CreateService { service_id, spec: ServiceSpecV6::downgrade(spec) }
            }
            Command::UpdateService { id, version, spec } => {
                CommandV5::UpdateService { id, version, spec: ServiceSpecV6::downgrade(spec) }
            }
            Command::CreateTasks { tasks } => {
                CommandV5::CreateTasks { tasks: tasks.into_iter().map(TaskV6::downgrade).collect() }
            }
            Command::Batch(commands) => CommandV5::Batch(commands.into_iter().map(CommandV5::downgrade).collect()),
            // Format 5 has no tunnel records: the report is dropped (an empty batch changes nothing).
            Command::SetNodeTunnel { .. } => CommandV5::Batch(Vec::new()),
        })
    }
}
