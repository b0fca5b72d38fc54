//! Why a service spec is invalid: `SpecError` and the problems it names for constraints, placement preferences
//! and mounts. Messages follow Docker's and SwarmKit's wording where they have one, since the CLI prints them as
//! they are.

use serde::{Deserialize, Serialize};

use super::keywords::{MountType, PortProtocol, UnknownKeyword};
use crate::limits::Limit;

/// Nano CPUs in one CPU.
const NANO_CPUS_PER_CPU: u64 = 1_000_000_000;

/// Why a service spec is invalid. Messages follow Docker/SwarmKit's wording where they have one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SpecError {
    #[error("meta: name must be provided")]
    NameRequired,
    #[error("invalid name \"{name}\": name must be valid as a DNS name component")]
    InvalidName { name: String },
    #[error("invalid name \"{name}\": name must be 63 characters or fewer")]
    NameTooLong { name: String },
    #[error("ContainerSpec: image reference must be provided")]
    ImageRequired,
    #[error("ContainerSpec: \"{image}\" is not a valid repository/tag")]
    InvalidImage { image: String },
    #[error("ContainerSpec: duplicate mount point: {target}")]
    DuplicateMountPoint { target: String },
    #[error("invalid mount config for type \"{mount_type}\": {problem}")]
    InvalidMount { mount_type: MountType, problem: MountProblem },
    #[error("ContainerSpec: {field} in HealthConfig cannot be less than 1ms")]
    HealthcheckDurationTooShort { field: String },
    #[error(
        "ContainerSpec: healthcheck test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\", not \"{first}\""
    )]
    InvalidHealthcheckTest { first: String },
    #[error("invalid cpu value {}: Must be at least 0.001", format_cpus(*nano_cpus))]
    CpuTooSmall { nano_cpus: u64 },
    #[error("invalid memory value {memory_bytes}: Must be at least 4MiB")]
    MemoryTooSmall { memory_bytes: u64 },
    #[error(
        "Resources: CPU reservation of {} exceeds the CPU limit of {}",
        format_cpus(*reservation),
        format_cpus(*limit)
    )]
    CpuReservationAboveLimit { reservation: u64, limit: u64 },
    #[error("Resources: memory reservation of {reservation} bytes exceeds the memory limit of {limit} bytes")]
    MemoryReservationAboveLimit { reservation: u64, limit: u64 },
    #[error("invalid constraint \"{constraint}\": {problem}")]
    InvalidConstraint { constraint: String, problem: ConstraintProblem },
    #[error("invalid placement preference \"{preference}\": {problem}")]
    InvalidPlacementPreference { preference: String, problem: PreferenceProblem },
    #[error("replicas can only be used with replicated or replicated-job mode")]
    ReplicasNotAllowed,
    #[error("max-concurrent can only be used with replicated-job mode")]
    MaxConcurrentNotAllowed,
    #[error("replicas-max-per-node can only be used with replicated or replicated-job mode")]
    MaxReplicasPerNodeNotAllowed,
    #[error("Unknown mode: {mode}, only replicated and global supported")]
    UnknownMode { mode: String },
    #[error("{limit} {actual} exceeds the maximum of {max}")]
    LimitExceeded { limit: Limit, max: u64, actual: u64 },
    #[error("Jobs may not have an update config")]
    JobWithUpdateConfig,
    #[error("TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1")]
    UpdateMaxFailureRatio,
    #[error("TaskSpec: rollback-maxfailureratio cannot be less than 0 or bigger than 1")]
    RollbackMaxFailureRatio,
    #[error("invalid rollback failure action \"rollback\": a rollback can only pause or continue on failure")]
    RollbackOnRollbackFailure,
    #[error("EndpointSpec: invalid target port {port}: must be between 1 and 65535")]
    InvalidTargetPort { port: u32 },
    #[error("EndpointSpec: invalid published port {port}: must be between 1 and 65535, or 0 to have one assigned")]
    InvalidPublishedPort { port: u32 },
    #[error("EndpointSpec: duplicate published ports provided: {port}/{protocol}")]
    DuplicatePublishedPort { port: u32, protocol: PortProtocol },
    #[error("EndpointSpec: port published with ingress mode can't be used with dnsrr mode")]
    IngressPortWithDnsrr,
    #[error("TaskSpec: network attachment target must be provided")]
    NetworkTargetRequired,
    #[error("TaskSpec: duplicate network attachment: {target}")]
    DuplicateNetwork { target: String },
    #[error("invalid {what} \"{value}\": expected one of {expected}")]
    UnknownKeyword { what: String, value: String, expected: String },
    #[error("invalid signal: {signal}")]
    InvalidSignal { signal: String },
    #[error("ContainerSpec: invalid capability {capability:?}")]
    InvalidCapability { capability: String },
    #[error("ContainerSpec: invalid sysctl name {key:?}")]
    InvalidSysctl { key: String },
    #[error("invalid ulimit type: {name}")]
    InvalidUlimitName { name: String },
    #[error("ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}")]
    UlimitSoftUnlimited { hard: i64 },
    #[error("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")]
    UlimitSoftAboveHard { soft: i64, hard: i64 },
    #[error("ContainerSpec: duplicate ulimit: {name}")]
    DuplicateUlimit { name: String },
    #[error("ContainerSpec: invalid hosts entry {entry:?}: expected \"IP-address hostname [aliases...]\"")]
    InvalidHostsEntry { entry: String },
    #[error("IP address is not correctly formatted: {nameserver}")]
    InvalidNameserver { nameserver: String },
    #[error("ContainerSpec: invalid DNS search domain {domain:?}")]
    InvalidDnsSearch { domain: String },
    #[error("ContainerSpec: invalid DNS option {option:?}")]
    InvalidDnsOption { option: String },
    /// A `--secret`/`--config` value that does not parse (Docker's CSV field errors).
    #[error("invalid argument \"{value}\" for --{kind}: {reason}")]
    InvalidFileFlag { kind: String, value: String, reason: String },
    /// A secret or config reference whose file target is not one a container can have.
    #[error("ContainerSpec: {kind} \"{object}\": {reason}")]
    InvalidFileReference { kind: String, object: String, reason: String },
    #[error("ContainerSpec: duplicate secret or config target {target} not allowed")]
    DuplicateFileTarget { target: String },
}

/// What is wrong with a placement constraint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ConstraintProblem {
    #[error("expected == or !=")]
    MissingOperator,
    /// SwarmKit's key syntax: `[a-zA-Z_][a-zA-Z0-9-_.]+`.
    #[error("key '{key}' is invalid")]
    InvalidKey { key: String },
    #[error("unknown key {key}")]
    UnknownKey { key: String },
    /// SwarmKit's value syntax: letters, digits, whitespace and `:-_.*()?+[]\^$|/`.
    #[error("value '{value}' is invalid")]
    InvalidValue { value: String },
    #[error("node.role must be manager or worker, not {value}")]
    InvalidRole { value: String },
}

/// What is wrong with a placement preference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PreferenceProblem {
    #[error("placement preference must be of the format \"<strategy>=<arg>\"")]
    MissingStrategy,
    #[error("unsupported placement preference {strategy} (only spread is supported)")]
    UnsupportedStrategy { strategy: String },
    #[error("can only spread over node.labels.<name> or engine.labels.<name>, not {descriptor}")]
    InvalidSpreadDescriptor { descriptor: String },
}

/// What is wrong with a mount (Docker Engine's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum MountProblem {
    #[error("field Target must not be empty")]
    TargetRequired,
    #[error("invalid mount path: '{target}' mount path must be absolute")]
    TargetNotAbsolute { target: String },
    #[error("field Source must not be empty")]
    SourceRequired,
    #[error("field Source must not be specified")]
    SourceNotAllowed,
    #[error("must not set ReadOnly mode when using anonymous volumes")]
    ReadOnlyAnonymousVolume,
    #[error("field TmpfsOptions must not be specified")]
    TmpfsOptionsNotAllowed,
}

/// `nano_cpus` as a decimal number of CPUs ("0.5", "2", "0.0005").
fn format_cpus(nano_cpus: u64) -> String {
    let whole = nano_cpus / NANO_CPUS_PER_CPU;
    let fraction = nano_cpus % NANO_CPUS_PER_CPU;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl From<UnknownKeyword> for SpecError {
    fn from(error: UnknownKeyword) -> SpecError {
        let UnknownKeyword { what, value, expected } = error;
        SpecError::UnknownKeyword { what, value, expected }
    }
}
