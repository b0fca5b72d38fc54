//! `swarm-core`: the pure heart of the orchestrator. This crate owns the cluster's data model and its replicated
//! state machine (`Store::apply`), and keeps one invariant above all: it is deterministic. Nothing here does I/O,
//! reads a clock, draws randomness or iterates a hash-ordered map; time (`Proposal::now`) and ids come in with each
//! command, so every manager applying the same Raft log reaches byte-identical snapshots.

pub mod allocator;
pub mod command;
pub mod compose;
pub mod image;
pub mod ipam;
pub mod limits;
pub mod liveness;
pub mod model;
pub mod orchestrator;
pub mod overlay;
pub mod pipeline;
pub mod replicas;
pub mod scheduler;
pub mod snapshot;
pub mod spec;
pub mod stack;
pub mod stages;
pub mod store;

pub use command::{Command, Proposal};
pub use limits::{
    Limit, BATCH_BYTES_BUDGET, BATCH_COMMANDS_MAX, FILE_DATA_MAX, FILE_OBJECTS_MAX, ID_LEN_MAX, LABELS_MAX,
    LABEL_KEY_LEN_MAX, LABEL_VALUE_LEN_MAX, LIST_LEN_MAX, NAME_LEN_MAX, OPTIONS_MAX, REMOVED_NODES_MAX, REPLICAS_MAX,
    SERVICE_SPEC_HISTORY_MAX, TASKS_PER_BATCH_MAX, TEXT_LEN_MAX,
};
pub use model::{
    CaProgress, CaRotation, Cluster, ClusterCa, ClusterSettings, Config, ConfigSpec, EngineDescription, IpamConfig,
    JoinTokens, ManagerStatus, Network, NetworkAllocation, NetworkAttachment, NetworkSpec, Node, NodeAvailability,
    NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus, NodeTls, NodeTunnel, ObjectKind, Reachability,
    RemovedNode, SealedData, Secret, SecretSpec, Service, Task, TaskState, TaskStatus, Timestamp, TunnelKey,
    UpdateState, UpdateStatus, Version, VirtualIp,
};
pub use orchestrator::{IdSource, SequentialIds};
pub use scheduler::{Assignment, SchedulerDecisions, Unschedulable};
pub use snapshot::{
    deserialize_proposals_v6, serialize_proposals_v6, DecodeError, SnapshotError, PROPOSAL_FORMAT_VERSION,
    PROPOSAL_FORMAT_VERSION_PREVIOUS, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_FORMAT_VERSION_8,
    SNAPSHOT_FORMAT_VERSION_PREVIOUS,
};
pub use spec::{
    ConfigReference, Constraint, ConstraintKey, ConstraintOperator, ConstraintProblem, ContainerSpec, DnsConfig,
    EndpointSpec, FailureAction, FailureRatio, FileKind, FileTarget, HealthConfig, LogDriver, Mount, MountProblem,
    MountType, NetworkAttachmentConfig, Placement, PlacementPreference, Platform, PortConfig, PortProtocol,
    PreferenceProblem, PublishMode, ResolutionMode, ResourceRequirements, Resources, RestartCondition, RestartPolicy,
    SecretReference, ServiceMode, ServiceSpec, SpecError, TaskSpec, TmpfsOptions, Ulimit, UnknownKeyword, UpdateConfig,
    UpdateOrder, DYNAMIC_PORTS,
};
pub use store::{Outcome, Rejection, Store, MANUAL_ROLLBACK_MESSAGE};
