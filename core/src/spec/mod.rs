//! The service spec, shaped after Docker's API objects (`ServiceSpec`, `TaskTemplate`, `ContainerSpec`,
//! `Resources`, `RestartPolicy`, `Placement`, `UpdateConfig`, `EndpointSpec`), with SwarmKit's defaults and its
//! validation. It owns two rules: a spec that `ServiceSpec::validate` accepts is one SwarmKit's control API would
//! accept (every placement constraint parses, ports and ratios are in range, ...), and errors use Docker's wording
//! where Docker has one. Durations are `u64` nanoseconds (`_ns`), as Docker's JSON carries them. Placement
//! constraints parse into `Constraint`; which nodes they match is `model::node_matching`'s.
//!
//! The spec is the ground the stored objects stand on: it depends on no stored object, only on the named limits.
//! Its rooms, from the ground up: `units`, `keywords` (Docker's keyword settings), `error`, `image`, `placement`,
//! `endpoint`, `update`, `files` (secret and config references), `container_options` (stop signal, capabilities, sysctls, ulimits, hosts, DNS, log driver,
//! and the conversions every producer of a spec shares), `task` (the task template) and `service` (the spec and its
//! one validation).

mod container_options;
mod endpoint;
mod error;
mod files;
mod image;
mod keywords;
mod placement;
mod service;
mod task;
mod units;
mod update;

pub use container_options::{
    effective_capabilities, hosts_entry, normalize_capability, validate_stop_signal, DnsConfig, ExtraHostError,
    LogDriver, Ulimit, CAPABILITY_ALL, CAPABILITY_RESET, HOST_GATEWAY, ULIMIT_NAMES, ULIMIT_UNLIMITED,
};
pub use endpoint::{EndpointSpec, PortConfig, DYNAMIC_PORTS};
pub use error::{ConstraintProblem, MountProblem, PreferenceProblem, SpecError};
pub use files::{
    validate_file_references, ConfigReference, FileKind, FileTarget, SecretReference, DEFAULT_FILE_MODE, SECRETS_DIR,
};
pub use image::validate_image;
pub use keywords::{
    FailureAction, MountType, PortProtocol, PublishMode, ResolutionMode, RestartCondition, UnknownKeyword, UpdateOrder,
};
pub use placement::{Constraint, ConstraintKey, ConstraintOperator, Placement, PlacementPreference, Platform};
pub use service::{validate_name, ServiceMode, ServiceSpec};
pub use task::{
    ContainerSpec, HealthConfig, Mount, NetworkAttachmentConfig, ResourceRequirements, Resources, RestartPolicy,
    TaskSpec, TmpfsOptions, DEFAULT_RESTART_DELAY_NS, DEFAULT_STOP_GRACE_PERIOD_NS, HEALTHCHECK_DURATION_MIN_NS,
    MEMORY_BYTES_MIN, NANO_CPUS_MIN,
};
pub use units::SECOND_NS;
pub use update::{FailureRatio, UpdateConfig, DEFAULT_UPDATE_MONITOR_NS};
