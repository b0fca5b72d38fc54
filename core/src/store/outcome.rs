//! What `Store::apply` answers: an `Outcome` saying what an applied command changed, or a `Rejection` saying why
//! it changed nothing. Rejections carry Docker's wording in their `Display`, so the control API can hand them to
//! the user as they are; `Rejection::root` looks through the batch wrappers to the command that failed.

use serde::{Deserialize, Serialize};

use crate::limits::Limit;
use crate::model::{ObjectKind, TaskState, Version};
use crate::spec::{PortProtocol, PublishMode, SpecError};

/// What an applied command changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Created {
        kind: ObjectKind,
        id: String,
        version: Version,
    },
    Updated {
        kind: ObjectKind,
        id: String,
        version: Version,
    },
    Removed {
        kind: ObjectKind,
        id: String,
    },
    /// The command was valid but changed nothing (e.g. a status report equal to the stored status).
    Unchanged,
    /// One outcome per change, in order: for `Command::Batch` one per command; for `CreateTasks`/`RemoveTasks` one
    /// per task; for `RemoveService` one per removed task, then the service.
    Batch(Vec<Outcome>),
}

/// Why a command was not applied. The store is unchanged after any rejection. Messages follow Docker's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Rejection {
    #[error("cluster is not initialized")]
    NotInitialized,
    #[error("cluster is already initialized")]
    AlreadyInitialized,
    #[error("no such node: {id}")]
    NoSuchNode { id: String },
    #[error("no such service: {id}")]
    NoSuchService { id: String },
    #[error("no such task: {id}")]
    NoSuchTask { id: String },
    #[error("no such network: {id}")]
    NoSuchNetwork { id: String },
    #[error("update out of sequence: {kind} {id} is at version {current}, update was based on version {based_on}")]
    OutOfSequence { kind: ObjectKind, id: String, current: Version, based_on: Version },
    #[error("{kind} name \"{name}\" is already in use by {kind} {existing_id}")]
    NameConflict { kind: ObjectKind, name: String, existing_id: String },
    #[error("{kind} {id} already exists")]
    IdConflict { kind: ObjectKind, id: String },
    #[error("invalid {kind} id \"{id}\": ids are made of [a-zA-Z0-9_.-]")]
    InvalidId { kind: ObjectKind, id: String },
    #[error("invalid {kind} name \"{name}\": {reason}")]
    InvalidName { kind: ObjectKind, name: String, reason: String },
    #[error("invalid spec: {reason}")]
    InvalidSpec { reason: String },
    /// A service spec (or a task's copy of the task template) that `ServiceSpec::validate` rejects.
    #[error(transparent)]
    InvalidServiceSpec(SpecError),
    #[error("service mode change is not allowed")]
    ServiceModeChangeNotAllowed { id: String },
    #[error(
        "port '{port}' is already in use by service '{service_name}' ({service_id}) as {}",
        if *published_as == PublishMode::Ingress { "an ingress port" } else { "a host-published port" }
    )]
    PortInUse { port: u32, protocol: PortProtocol, service_name: String, service_id: String, published_as: PublishMode },
    /// An ingress port that would capture the cluster's own traffic on every node.
    #[error("port '{port}/{protocol}' cannot be published through the routing mesh: it is {reserved_for}")]
    PortReserved { port: u32, protocol: PortProtocol, reserved_for: String },
    #[error("no port is free in the dynamic range 30000-32767 for a {protocol} port published without a number")]
    NoFreeDynamicPort { protocol: PortProtocol },
    #[error("invalid cluster settings: {reason}")]
    InvalidSettings { reason: String },
    #[error("renaming services is not supported")]
    ServiceRenameNotSupported { id: String },
    /// SwarmKit's wording for a rollback with nothing to go back to.
    #[error("service {id} does not have a previous spec")]
    NoPreviousSpec { id: String },
    #[error("invalid update status: {reason}")]
    InvalidUpdateStatus { reason: String },
    #[error("task {id}: observed state cannot move backward from {current} to {proposed}")]
    TaskStateBackward { id: String, current: TaskState, proposed: TaskState },
    #[error("task {task_id} references a missing service: no such service: {service_id}")]
    TaskServiceMissing { task_id: String, service_id: String },
    #[error("task {task_id} references a missing node: no such node: {node_id}")]
    TaskNodeMissing { task_id: String, node_id: String },
    #[error("task {id} is already assigned to node {node_id}")]
    TaskAlreadyAssigned { id: String, node_id: String },
    #[error(
        "node {id} is a cluster manager and is a member of the raft cluster. \
         It must be demoted to worker before removal"
    )]
    NodeIsManager { id: String },
    #[error("node {id} still has {count} tasks; remove them before removing the node")]
    NodeHasTasks { id: String, count: u64 },
    /// SwarmKit's words for a node whose id `node rm` removed: it may not come back.
    #[error("Permission denied: node {id} was removed from swarm")]
    NodeRemoved { id: String },
    #[error("invalid pool request: subnet {subnet} overlaps with network {network} ({network_subnet})")]
    SubnetOverlap { subnet: String, network: String, network_subnet: String },
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )]
    AddressPoolsExhausted,
    #[error("network {network}: {reason}")]
    InvalidNetwork { network: String, reason: String },
    #[error("network {network} is in use by service {}", services.join(", "))]
    NetworkInUse { network: String, services: Vec<String> },
    #[error("{network} is the routing mesh's ingress network and cannot be removed")]
    IngressRemoval { network: String },
    #[error("service cannot be explicitly attached to the ingress network \"{network}\"")]
    IngressAttachment { network: String },
    #[error("network {network}: address {addr} cannot be allocated: {reason}")]
    AddressUnavailable { network: String, addr: String, reason: String },
    #[error("{limit} {actual} exceeds the maximum of {max}")]
    LimitExceeded { limit: Limit, max: u64, actual: u64 },
    #[error("a batch cannot contain another batch")]
    NestedBatch,
    #[error("command {index} of the batch was rejected: {rejection}")]
    InBatch { index: u64, rejection: Box<Rejection> },
    #[error("node {node}: tunnel for encrypted networks: {reason}")]
    InvalidTunnel { node: String, reason: String },
    #[error("no such secret: {id}")]
    NoSuchSecret { id: String },
    #[error("no such config: {id}")]
    NoSuchConfig { id: String },
    /// A secret or config that is not one the store can hold (name, data size).
    #[error("invalid {kind} \"{name}\": {reason}")]
    InvalidFileObject { kind: ObjectKind, name: String, reason: String },
    /// SwarmKit's words for removing a secret or config a service still uses.
    #[error(
        "{kind} '{name}' is in use by the following service{}: {}",
        if services.len() == 1 { "" } else { "s" },
        services.join(", ")
    )]
    FileObjectInUse { kind: ObjectKind, name: String, services: Vec<String> },
    /// A service spec naming a secret or config the store does not hold (SwarmKit's words).
    #[error("{kind} not found: {name}")]
    FileObjectNotFound { kind: ObjectKind, name: String },
    /// `SetUnlockKey` based on a key that another change replaced meanwhile.
    #[error("the unlock key changed meanwhile; run the command again")]
    UnlockKeyChanged,
    #[error("a root CA rotation is already in progress")]
    CaRotationInProgress,
    #[error("no root CA rotation is in progress")]
    NoCaRotation,
    /// `FinishCaRotation` before its time (the leader tries again later).
    #[error("the root CA rotation cannot finish yet: {reason}")]
    CaRotationNotDone { reason: String },
}

impl Rejection {
    /// The rejection itself, looking through `InBatch` wrappers.
    pub fn root(&self) -> &Rejection {
        match self {
            Rejection::InBatch { rejection, .. } => rejection.root(),
            other => other,
        }
    }
}
