//! The service spec, shaped after Docker's API objects (`ServiceSpec`, `TaskTemplate`, `ContainerSpec`,
//! `Resources`, `RestartPolicy`, `Placement`, `UpdateConfig`, `EndpointSpec`), with SwarmKit's defaults and its
//! validation. It owns two rules: a spec that `ServiceSpec::validate` accepts is one SwarmKit's control API would
//! accept (every placement constraint parses, ports and ratios are in range, ...), and errors use Docker's wording
//! where Docker has one. Durations are `u64` nanoseconds (`_ns`), as Docker's JSON carries them. Placement
//! constraints parse into `Constraint`, which matches nodes with SwarmKit's semantics.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::limits::{Limit, REPLICAS_MAX};
use crate::model::{Node, NodeRole, Platform, Resources};

/// One second, in nanoseconds.
pub const SECOND_NS: u64 = 1_000_000_000;
/// One millisecond, in nanoseconds: the shortest healthcheck interval, timeout or start period (SwarmKit's
/// `minimumDuration`).
pub const HEALTHCHECK_DURATION_MIN_NS: u64 = 1_000_000;
/// The smallest non-zero CPU reservation or limit (0.001 CPU), as SwarmKit checks it.
pub const NANO_CPUS_MIN: u64 = 1_000_000;
/// The smallest non-zero memory reservation or limit (4 MiB), as SwarmKit checks it.
pub const MEMORY_BYTES_MIN: u64 = 4 * 1024 * 1024;
/// Docker's default `StopGracePeriod`: 10s.
pub const DEFAULT_STOP_GRACE_PERIOD_NS: u64 = 10 * SECOND_NS;
/// Docker's default `RestartPolicy.Delay`: 5s.
pub const DEFAULT_RESTART_DELAY_NS: u64 = 5 * SECOND_NS;
/// Docker's default `UpdateConfig.Monitor` (and `RollbackConfig.Monitor`): 5s.
pub const DEFAULT_UPDATE_MONITOR_NS: u64 = 5 * SECOND_NS;

// ---------------------------------------------------------------------------------------------------------------
// Errors

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
}

/// `nano_cpus` as a decimal number of CPUs ("0.5", "2", "0.0005").
fn format_cpus(nano_cpus: u64) -> String {
    let whole = nano_cpus / SECOND_NS;
    let fraction = nano_cpus % SECOND_NS;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

// ---------------------------------------------------------------------------------------------------------------
// Keyword enums

/// A `Copy` enum serialized as one of a fixed set of lowercase keywords, parseable with `FromStr`.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The keyword, as Docker's CLI and JSON spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = SpecError;

            fn from_str(value: &str) -> Result<Self, SpecError> {
                $name::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| SpecError::UnknownKeyword {
                    what: $what.to_string(),
                    value: value.to_string(),
                    expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
}

keyword_enum! {
    /// Docker's `Mount.Type`.
    MountType, "mount type" {
        #[default]
        Volume => "volume",
        Bind => "bind",
        Tmpfs => "tmpfs",
    }
}

keyword_enum! {
    /// Docker's `RestartPolicy.Condition`; `any` by default.
    RestartCondition, "restart condition" {
        None => "none",
        OnFailure => "on-failure",
        #[default]
        Any => "any",
    }
}

keyword_enum! {
    /// Docker's `UpdateConfig.FailureAction`; `pause` by default.
    FailureAction, "failure action" {
        #[default]
        Pause => "pause",
        Continue => "continue",
        Rollback => "rollback",
    }
}

keyword_enum! {
    /// Docker's `UpdateConfig.Order`; `stop-first` by default.
    UpdateOrder, "update order" {
        #[default]
        StopFirst => "stop-first",
        StartFirst => "start-first",
    }
}

keyword_enum! {
    /// Docker's `EndpointSpec.Mode`; `vip` by default.
    ResolutionMode, "endpoint mode" {
        #[default]
        Vip => "vip",
        Dnsrr => "dnsrr",
    }
}

keyword_enum! {
    /// Docker's `PortConfig.Protocol`; `tcp` by default.
    PortProtocol, "protocol" {
        #[default]
        Tcp => "tcp",
        Udp => "udp",
        Sctp => "sctp",
    }
}

keyword_enum! {
    /// Docker's `PortConfig.PublishMode`; `ingress` (the routing mesh) by default.
    PublishMode, "publish mode" {
        #[default]
        Ingress => "ingress",
        Host => "host",
    }
}

// ---------------------------------------------------------------------------------------------------------------
// ServiceSpec

/// Docker's `ServiceSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Unique among services; must be valid as a DNS name component.
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Docker's `TaskTemplate`.
    pub task_template: TaskSpec,
    pub mode: ServiceMode,
    /// `None` means SwarmKit's defaults (`UpdateConfig::default()`); jobs must have `None`.
    #[serde(default)]
    pub update_config: Option<UpdateConfig>,
    /// `None` means SwarmKit's defaults (`UpdateConfig::default()`).
    #[serde(default)]
    pub rollback_config: Option<UpdateConfig>,
    #[serde(default)]
    pub endpoint_spec: EndpointSpec,
}

impl ServiceSpec {
    /// A replicated service running `image`, the shape of `docker service create --replicas N --name NAME IMAGE`
    /// (which sends update and rollback configs with their defaults).
    pub fn replicated(name: impl Into<String>, image: impl Into<String>, replicas: u64) -> ServiceSpec {
        ServiceSpec::with_mode(name, image, ServiceMode::Replicated { replicas })
    }

    /// `docker service create --mode global --name NAME IMAGE`.
    pub fn global(name: impl Into<String>, image: impl Into<String>) -> ServiceSpec {
        ServiceSpec::with_mode(name, image, ServiceMode::Global)
    }

    /// `docker service create --mode replicated-job --max-concurrent M --replicas N --name NAME IMAGE`.
    pub fn replicated_job(
        name: impl Into<String>,
        image: impl Into<String>,
        max_concurrent: u64,
        total_completions: u64,
    ) -> ServiceSpec {
        ServiceSpec::with_mode(name, image, ServiceMode::ReplicatedJob { max_concurrent, total_completions })
    }

    /// `docker service create --mode global-job --name NAME IMAGE`.
    pub fn global_job(name: impl Into<String>, image: impl Into<String>) -> ServiceSpec {
        ServiceSpec::with_mode(name, image, ServiceMode::GlobalJob)
    }

    /// A service with default settings in `mode`; jobs get no update config (SwarmKit rejects one).
    pub fn with_mode(name: impl Into<String>, image: impl Into<String>, mode: ServiceMode) -> ServiceSpec {
        let update = if mode.is_job() { None } else { Some(UpdateConfig::default()) };
        ServiceSpec {
            name: name.into(),
            labels: BTreeMap::new(),
            task_template: TaskSpec::image(image),
            mode,
            update_config: update.clone(),
            rollback_config: update,
            endpoint_spec: EndpointSpec::default(),
        }
    }

    /// The update config in force: the spec's, or SwarmKit's defaults.
    pub fn effective_update_config(&self) -> UpdateConfig {
        self.update_config.clone().unwrap_or_default()
    }

    /// The rollback config in force: the spec's, or SwarmKit's defaults.
    pub fn effective_rollback_config(&self) -> UpdateConfig {
        self.rollback_config.clone().unwrap_or_default()
    }

    /// Checks the spec as SwarmKit's control API does (`validateServiceSpec`), plus a few checks of our own
    /// (reservations within limits, known constraint keys, spread descriptors, port ranges, replica bound).
    /// The first problem found is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_name(&self.name)?;
        self.task_template.validate()?;
        self.validate_mode()?;
        if self.mode.is_job() {
            if self.update_config.is_some() {
                return Err(SpecError::JobWithUpdateConfig);
            }
        } else if let Some(update) = &self.update_config {
            if !update.max_failure_ratio.is_valid() {
                return Err(SpecError::UpdateMaxFailureRatio);
            }
        }
        if let Some(rollback) = &self.rollback_config {
            if !rollback.max_failure_ratio.is_valid() {
                return Err(SpecError::RollbackMaxFailureRatio);
            }
            if rollback.failure_action == FailureAction::Rollback {
                return Err(SpecError::RollbackOnRollbackFailure);
            }
        }
        self.endpoint_spec.validate()
    }

    fn validate_mode(&self) -> Result<(), SpecError> {
        let check = |actual: u64| {
            if actual > REPLICAS_MAX {
                return Err(SpecError::LimitExceeded { limit: Limit::Replicas, max: REPLICAS_MAX, actual });
            }
            Ok(())
        };
        match self.mode {
            ServiceMode::Replicated { replicas } => check(replicas),
            ServiceMode::ReplicatedJob { max_concurrent, total_completions } => {
                check(max_concurrent)?;
                check(total_completions)
            }
            ServiceMode::Global | ServiceMode::GlobalJob => {
                if self.task_template.placement.max_replicas > 0 {
                    return Err(SpecError::MaxReplicasPerNodeNotAllowed);
                }
                Ok(())
            }
        }
    }
}

/// Service names, as SwarmKit checks them: `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`, at most 63 bytes.
pub fn validate_name(name: &str) -> Result<(), SpecError> {
    if name.is_empty() {
        return Err(SpecError::NameRequired);
    }
    let bytes = name.as_bytes();
    let ok = bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !ok {
        return Err(SpecError::InvalidName { name: name.to_string() });
    }
    if name.len() > 63 {
        return Err(SpecError::NameTooLong { name: name.to_string() });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Mode

/// Docker's `ServiceSpec.Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceMode {
    Replicated { replicas: u64 },
    Global,
    ReplicatedJob { max_concurrent: u64, total_completions: u64 },
    GlobalJob,
}

impl ServiceMode {
    /// Docker's MODE column: "replicated", "global", "replicated job", "global job".
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceMode::Replicated { .. } => "replicated",
            ServiceMode::Global => "global",
            ServiceMode::ReplicatedJob { .. } => "replicated job",
            ServiceMode::GlobalJob => "global job",
        }
    }

    /// True for `ReplicatedJob` and `GlobalJob`.
    pub const fn is_job(self) -> bool {
        matches!(self, ServiceMode::ReplicatedJob { .. } | ServiceMode::GlobalJob)
    }

    /// The mode from `docker service create` flags (`--mode`, `--replicas`, `--max-concurrent`,
    /// `--replicas-max-per-node`), with Docker's CLI checks and the daemon's defaults: 1 replica; a replicated
    /// job runs `max_concurrent` (default: `replicas`, else 1) at a time until `replicas` (default:
    /// `max_concurrent`) complete.
    pub fn from_flags(
        mode: &str,
        replicas: Option<u64>,
        max_concurrent: Option<u64>,
        max_replicas_per_node: u64,
    ) -> Result<ServiceMode, SpecError> {
        match mode {
            "replicated" => {
                if max_concurrent.is_some() {
                    return Err(SpecError::MaxConcurrentNotAllowed);
                }
                Ok(ServiceMode::Replicated { replicas: replicas.unwrap_or(1) })
            }
            "replicated-job" => {
                let max_concurrent = max_concurrent.or(replicas).unwrap_or(1);
                Ok(ServiceMode::ReplicatedJob { max_concurrent, total_completions: replicas.unwrap_or(max_concurrent) })
            }
            "global" | "global-job" => {
                if replicas.is_some() {
                    return Err(SpecError::ReplicasNotAllowed);
                }
                if max_replicas_per_node > 0 {
                    return Err(SpecError::MaxReplicasPerNodeNotAllowed);
                }
                if max_concurrent.is_some() {
                    return Err(SpecError::MaxConcurrentNotAllowed);
                }
                Ok(if mode == "global" { ServiceMode::Global } else { ServiceMode::GlobalJob })
            }
            other => Err(SpecError::UnknownMode { mode: other.to_string() }),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// TaskSpec

/// Docker's `TaskTemplate` (SwarmKit's `TaskSpec`) with a container runtime.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskSpec {
    pub container_spec: ContainerSpec,
    #[serde(default)]
    pub resources: ResourceRequirements,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub placement: Placement,
    #[serde(default)]
    pub networks: Vec<NetworkAttachmentConfig>,
    /// Docker's `ForceUpdate`: bumped by `service update --force`, so the tasks are out of date and get replaced
    /// even though nothing else changed.
    #[serde(default)]
    pub force_update: u64,
}

impl TaskSpec {
    /// A task template running `image` with every other setting at its default.
    pub fn image(image: impl Into<String>) -> TaskSpec {
        TaskSpec { container_spec: ContainerSpec::image(image), ..TaskSpec::default() }
    }

    /// SwarmKit's `validateTaskSpec`: resources, placement, container spec; plus network attachments.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.resources.validate()?;
        self.placement.validate()?;
        self.container_spec.validate()?;
        let mut targets = BTreeSet::new();
        for network in &self.networks {
            if network.target.is_empty() {
                return Err(SpecError::NetworkTargetRequired);
            }
            if !targets.insert(network.target.as_str()) {
                return Err(SpecError::DuplicateNetwork { target: network.target.clone() });
            }
        }
        Ok(())
    }
}

/// Docker's `ContainerSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// Overrides the image's entrypoint.
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub hostname: String,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    /// The working directory (Docker's `Dir`).
    pub dir: String,
    pub user: String,
    pub mounts: Vec<Mount>,
    /// Time to wait after SIGTERM before SIGKILL; 10s by default.
    pub stop_grace_period_ns: u64,
    /// `None` inherits the image's healthcheck.
    pub healthcheck: Option<HealthConfig>,
}

impl Default for ContainerSpec {
    fn default() -> Self {
        ContainerSpec {
            image: String::new(),
            labels: BTreeMap::new(),
            command: Vec::new(),
            args: Vec::new(),
            hostname: String::new(),
            env: Vec::new(),
            dir: String::new(),
            user: String::new(),
            mounts: Vec::new(),
            stop_grace_period_ns: DEFAULT_STOP_GRACE_PERIOD_NS,
            healthcheck: None,
        }
    }
}

impl ContainerSpec {
    pub fn image(image: impl Into<String>) -> ContainerSpec {
        ContainerSpec { image: image.into(), ..ContainerSpec::default() }
    }

    /// SwarmKit's `validateContainerSpec` (image, duplicate mount points, healthcheck) plus the Engine's mount
    /// checks.
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_image(&self.image)?;
        let mut targets = BTreeSet::new();
        for mount in &self.mounts {
            mount.validate()?;
            if !targets.insert(mount.target.as_str()) {
                return Err(SpecError::DuplicateMountPoint { target: mount.target.clone() });
            }
        }
        match &self.healthcheck {
            Some(healthcheck) => healthcheck.validate(),
            None => Ok(()),
        }
    }
}

/// An image reference, checked against the grammar of Docker's `reference` package:
/// `[domain[:port]/]path[:tag][@algorithm:digest]`, path components lowercase `[a-z0-9]` joined by `.`, `_`, `__`
/// or runs of `-`. (Docker's 255-byte name bound is not applied; `TEXT_LEN_MAX` bounds the field.)
pub fn validate_image(image: &str) -> Result<(), SpecError> {
    if image.is_empty() {
        return Err(SpecError::ImageRequired);
    }
    if image_reference_is_valid(image) {
        Ok(())
    } else {
        Err(SpecError::InvalidImage { image: image.to_string() })
    }
}

fn image_reference_is_valid(image: &str) -> bool {
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let Some((algorithm, hex)) = digest.split_once(':') else { return false };
        let algorithm_ok = !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-'));
        let hex_ok =
            hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
        if !algorithm_ok || !hex_ok {
            return false;
        }
    }
    // A tag is a `:` after the last `/`.
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].find(':') {
        Some(i) => (&name_and_tag[..last_slash + i], Some(&name_and_tag[last_slash + i + 1..])),
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        let mut bytes = tag.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return false;
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        if first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()) {
            if !domain_is_valid(first) {
                return false;
            }
            components.remove(0);
        }
    }
    components.iter().all(|component| path_component_is_valid(component))
}

fn domain_is_valid(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn path_component_is_valid(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Docker's `Mount` (the common fields).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: MountType,
    /// Volume name (empty: an anonymous volume), host path for binds; empty for tmpfs.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    pub read_only: bool,
}

impl Mount {
    /// Docker Engine's mount checks (`validateMountConfig`).
    pub fn validate(&self) -> Result<(), SpecError> {
        let problem = if self.target.is_empty() {
            Some(MountProblem::TargetRequired)
        } else if !self.target.starts_with('/') {
            Some(MountProblem::TargetNotAbsolute { target: self.target.clone() })
        } else {
            match self.kind {
                MountType::Bind if self.source.is_empty() => Some(MountProblem::SourceRequired),
                MountType::Tmpfs if !self.source.is_empty() => Some(MountProblem::SourceNotAllowed),
                MountType::Volume if self.source.is_empty() && self.read_only => {
                    Some(MountProblem::ReadOnlyAnonymousVolume)
                }
                _ => None,
            }
        };
        match problem {
            Some(problem) => Err(SpecError::InvalidMount { mount_type: self.kind, problem }),
            None => Ok(()),
        }
    }
}

/// Docker's `HealthConfig`. Zero durations and an empty `test` inherit the image's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` disable, `["CMD", args...]` exec, `["CMD-SHELL", command]` run with the shell.
    pub test: Vec<String>,
    pub interval_ns: u64,
    pub timeout_ns: u64,
    pub retries: u64,
    pub start_period_ns: u64,
}

impl HealthConfig {
    /// SwarmKit's `validateHealthCheck`: non-zero durations are at least 1ms; plus the test's first word.
    pub fn validate(&self) -> Result<(), SpecError> {
        for (field, value) in
            [("Interval", self.interval_ns), ("Timeout", self.timeout_ns), ("StartPeriod", self.start_period_ns)]
        {
            if value != 0 && value < HEALTHCHECK_DURATION_MIN_NS {
                return Err(SpecError::HealthcheckDurationTooShort { field: field.to_string() });
            }
        }
        match self.test.first().map(String::as_str) {
            None | Some("NONE" | "CMD" | "CMD-SHELL") => Ok(()),
            Some(first) => Err(SpecError::InvalidHealthcheckTest { first: first.to_string() }),
        }
    }
}

/// Docker's `TaskTemplate.Resources`: zero means unset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceRequirements {
    pub limits: Resources,
    pub reservations: Resources,
}

impl ResourceRequirements {
    /// SwarmKit's `validateResources` for limits and reservations, then reservations within limits.
    pub fn validate(&self) -> Result<(), SpecError> {
        for resources in [&self.limits, &self.reservations] {
            if resources.nano_cpus != 0 && resources.nano_cpus < NANO_CPUS_MIN {
                return Err(SpecError::CpuTooSmall { nano_cpus: resources.nano_cpus });
            }
            if resources.memory_bytes != 0 && resources.memory_bytes < MEMORY_BYTES_MIN {
                return Err(SpecError::MemoryTooSmall { memory_bytes: resources.memory_bytes });
            }
        }
        let (limit, reservation) = (&self.limits, &self.reservations);
        if limit.nano_cpus != 0 && reservation.nano_cpus > limit.nano_cpus {
            return Err(SpecError::CpuReservationAboveLimit {
                reservation: reservation.nano_cpus,
                limit: limit.nano_cpus,
            });
        }
        if limit.memory_bytes != 0 && reservation.memory_bytes > limit.memory_bytes {
            return Err(SpecError::MemoryReservationAboveLimit {
                reservation: reservation.memory_bytes,
                limit: limit.memory_bytes,
            });
        }
        Ok(())
    }
}

/// Docker's `RestartPolicy`. Defaults: condition `any`, delay 5s, unlimited attempts, no window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    pub condition: RestartCondition,
    /// Delay between restart attempts.
    pub delay_ns: u64,
    /// Restarts before giving up; 0 means unlimited.
    pub max_attempts: u64,
    /// The window in which `max_attempts` are counted; 0 means unbounded.
    pub window_ns: u64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            condition: RestartCondition::Any,
            delay_ns: DEFAULT_RESTART_DELAY_NS,
            max_attempts: 0,
            window_ns: 0,
        }
    }
}

/// Docker's `Placement`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// e.g. `node.role==manager`, `node.labels.zone!=east`; all must match. See `Constraint`.
    pub constraints: Vec<String>,
    /// Spread tasks evenly over the values of a label; later preferences nest inside earlier ones.
    pub preferences: Vec<PlacementPreference>,
    /// Most tasks of this service on one node; 0 means unlimited (Docker's `MaxReplicas`).
    pub max_replicas: u64,
    /// Platforms the image runs on; empty means any.
    pub platforms: Vec<Platform>,
}

impl Placement {
    /// Every constraint parses and every preference spreads over a label.
    pub fn validate(&self) -> Result<(), SpecError> {
        Constraint::parse_all(&self.constraints)?;
        for preference in &self.preferences {
            preference.spread_key()?;
        }
        Ok(())
    }

    /// Whether `node` satisfies every constraint and one of the platforms (if any). A constraint that does not
    /// parse matches no node.
    pub fn node_matches(&self, node: &Node) -> bool {
        let constraints_match = match Constraint::parse_all(&self.constraints) {
            Ok(constraints) => Constraint::all_match(&constraints, node),
            Err(_) => false,
        };
        constraints_match && self.platform_matches(node)
    }

    /// SwarmKit's platform filter: empty `platforms` match every node; otherwise one must match, an empty field
    /// matching anything, with `x86_64` read as `amd64` and `aarch64` as `arm64`.
    pub fn platform_matches(&self, node: &Node) -> bool {
        fn arch(architecture: &str) -> &str {
            match architecture {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                other => other,
            }
        }
        let actual = &node.description.platform;
        self.platforms.is_empty()
            || self.platforms.iter().any(|wanted| {
                (wanted.architecture.is_empty() || arch(&wanted.architecture) == arch(&actual.architecture))
                    && (wanted.os.is_empty() || wanted.os == actual.os)
            })
    }
}

/// Docker's `PlacementPreference`: `--placement-pref spread=node.labels.zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlacementPreference {
    /// Spread over the values of `node.labels.<name>` or `engine.labels.<name>`.
    Spread { spread_descriptor: String },
}

impl PlacementPreference {
    /// Parses the CLI form `spread=node.labels.zone`, with Docker's CLI errors.
    pub fn parse(text: &str) -> Result<PlacementPreference, SpecError> {
        let invalid = |problem| SpecError::InvalidPlacementPreference { preference: text.to_string(), problem };
        let (strategy, argument) = text.split_once('=').ok_or_else(|| invalid(PreferenceProblem::MissingStrategy))?;
        if !strategy.eq_ignore_ascii_case("spread") {
            return Err(invalid(PreferenceProblem::UnsupportedStrategy { strategy: strategy.to_string() }));
        }
        let preference = PlacementPreference::Spread { spread_descriptor: argument.to_string() };
        preference.spread_key()?;
        Ok(preference)
    }

    /// The label this preference spreads over (`ConstraintKey::NodeLabel` or `ConstraintKey::EngineLabel`).
    pub fn spread_key(&self) -> Result<ConstraintKey, SpecError> {
        let PlacementPreference::Spread { spread_descriptor } = self;
        match ConstraintKey::parse(spread_descriptor.trim()) {
            Some(key @ (ConstraintKey::NodeLabel(_) | ConstraintKey::EngineLabel(_))) => Ok(key),
            _ => Err(SpecError::InvalidPlacementPreference {
                preference: self.to_string(),
                problem: PreferenceProblem::InvalidSpreadDescriptor { descriptor: spread_descriptor.clone() },
            }),
        }
    }

    /// The value `node` has for the spread label ("" when unset or the descriptor is invalid), as SwarmKit's
    /// scheduler groups nodes.
    pub fn spread_value<'a>(&self, node: &'a Node) -> &'a str {
        self.spread_key().map_or("", |key| key.value_of(node))
    }
}

impl fmt::Display for PlacementPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PlacementPreference::Spread { spread_descriptor } = self;
        write!(f, "spread={spread_descriptor}")
    }
}

/// Docker's `NetworkAttachmentConfig`: `--network name=backend,alias=db`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachmentConfig {
    /// The network's id or name.
    pub target: String,
    pub aliases: Vec<String>,
}

impl NetworkAttachmentConfig {
    pub fn new(target: impl Into<String>) -> NetworkAttachmentConfig {
        NetworkAttachmentConfig { target: target.into(), aliases: Vec::new() }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Update / rollback

/// Docker's `UpdateConfig` (also used as `RollbackConfig`). Defaults as SwarmKit's: parallelism 1, no delay,
/// failure action pause, monitor 5s, max failure ratio 0, order stop-first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// Tasks updated at once; 0 means all at once.
    pub parallelism: u64,
    /// Delay between batches.
    pub delay_ns: u64,
    pub failure_action: FailureAction,
    /// How long to watch each updated task for failure.
    pub monitor_ns: u64,
    /// Fraction of tasks that may fail before the failure action triggers, in [0, 1].
    pub max_failure_ratio: FailureRatio,
    pub order: UpdateOrder,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            parallelism: 1,
            delay_ns: 0,
            failure_action: FailureAction::Pause,
            monitor_ns: DEFAULT_UPDATE_MONITOR_NS,
            max_failure_ratio: FailureRatio(0.0),
            order: UpdateOrder::StopFirst,
        }
    }
}

/// Docker's `MaxFailureRatio` (a float32). Equality is bitwise, so specs stay `Eq` and encode deterministically.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FailureRatio(pub f32);

impl FailureRatio {
    /// In [0, 1] (NaN is not).
    pub fn is_valid(self) -> bool {
        (0.0..=1.0).contains(&self.0)
    }
}

impl PartialEq for FailureRatio {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for FailureRatio {}

// ---------------------------------------------------------------------------------------------------------------
// Endpoint

/// Docker's `EndpointSpec`: how the service is reached.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSpec {
    pub mode: ResolutionMode,
    pub ports: Vec<PortConfig>,
}

impl EndpointSpec {
    /// SwarmKit's `validateEndpointSpec` plus port ranges.
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut published = BTreeSet::new();
        for port in &self.ports {
            if !(1..=65535).contains(&port.target_port) {
                return Err(SpecError::InvalidTargetPort { port: port.target_port });
            }
            if port.published_port > 65535 {
                return Err(SpecError::InvalidPublishedPort { port: port.published_port });
            }
            if self.mode == ResolutionMode::Dnsrr && port.publish_mode == PublishMode::Ingress {
                return Err(SpecError::IngressPortWithDnsrr);
            }
            if port.published_port != 0 && !published.insert((port.published_port, port.protocol)) {
                return Err(SpecError::DuplicatePublishedPort { port: port.published_port, protocol: port.protocol });
            }
        }
        Ok(())
    }
}

/// Docker's `PortConfig`: `-p published=8080,target=80,protocol=tcp,mode=ingress`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortConfig {
    pub name: String,
    pub protocol: PortProtocol,
    /// The port inside the container, 1-65535.
    pub target_port: u32,
    /// The port on the nodes, 1-65535; 0 has one assigned from the dynamic range.
    pub published_port: u32,
    pub publish_mode: PublishMode,
}

impl PortConfig {
    /// `-p published:target` over TCP through the routing mesh.
    pub fn tcp(published_port: u32, target_port: u32) -> PortConfig {
        PortConfig { published_port, target_port, ..PortConfig::default() }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Placement constraints

/// What a constraint compares (SwarmKit's constraint keys).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConstraintKey {
    NodeId,
    NodeHostname,
    /// `manager` or `worker` (the node's spec role).
    NodeRole,
    NodePlatformOs,
    NodePlatformArch,
    /// `node.labels.<name>`: a label set with `node update --label-add`. The name is case-sensitive.
    NodeLabel(String),
    /// `engine.labels.<name>`: a label of the node's Docker Engine. The name is case-sensitive.
    EngineLabel(String),
}

impl ConstraintKey {
    const NODE_LABEL_PREFIX: &'static str = "node.labels.";
    const ENGINE_LABEL_PREFIX: &'static str = "engine.labels.";

    /// The key for `text` (prefixes case-insensitive, label names kept as written); `None` if unknown.
    pub fn parse(text: &str) -> Option<ConstraintKey> {
        let label = |prefix: &str| {
            let head = text.get(..prefix.len())?;
            (text.len() > prefix.len() && head.eq_ignore_ascii_case(prefix)).then(|| text[prefix.len()..].to_string())
        };
        let key = match text.to_ascii_lowercase().as_str() {
            "node.id" => ConstraintKey::NodeId,
            "node.hostname" => ConstraintKey::NodeHostname,
            "node.role" => ConstraintKey::NodeRole,
            "node.platform.os" => ConstraintKey::NodePlatformOs,
            "node.platform.arch" => ConstraintKey::NodePlatformArch,
            _ => {
                if let Some(name) = label(Self::NODE_LABEL_PREFIX) {
                    ConstraintKey::NodeLabel(name)
                } else {
                    ConstraintKey::EngineLabel(label(Self::ENGINE_LABEL_PREFIX)?)
                }
            }
        };
        Some(key)
    }

    /// The node's value for this key; "" when the node lacks it (an unset label).
    pub fn value_of<'a>(&self, node: &'a Node) -> &'a str {
        match self {
            ConstraintKey::NodeId => &node.id,
            ConstraintKey::NodeHostname => &node.description.hostname,
            ConstraintKey::NodeRole => match node.spec.role {
                NodeRole::Manager => "manager",
                NodeRole::Worker => "worker",
            },
            ConstraintKey::NodePlatformOs => &node.description.platform.os,
            ConstraintKey::NodePlatformArch => &node.description.platform.architecture,
            ConstraintKey::NodeLabel(name) => node.spec.labels.get(name).map_or("", String::as_str),
            ConstraintKey::EngineLabel(name) => node.description.engine.labels.get(name).map_or("", String::as_str),
        }
    }
}

impl fmt::Display for ConstraintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstraintKey::NodeId => f.write_str("node.id"),
            ConstraintKey::NodeHostname => f.write_str("node.hostname"),
            ConstraintKey::NodeRole => f.write_str("node.role"),
            ConstraintKey::NodePlatformOs => f.write_str("node.platform.os"),
            ConstraintKey::NodePlatformArch => f.write_str("node.platform.arch"),
            ConstraintKey::NodeLabel(name) => write!(f, "{}{name}", Self::NODE_LABEL_PREFIX),
            ConstraintKey::EngineLabel(name) => write!(f, "{}{name}", Self::ENGINE_LABEL_PREFIX),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConstraintOperator {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
}

impl ConstraintOperator {
    pub const fn as_str(self) -> &'static str {
        match self {
            ConstraintOperator::Eq => "==",
            ConstraintOperator::NotEq => "!=",
        }
    }
}

/// A parsed placement constraint, `key op value`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Constraint {
    pub key: ConstraintKey,
    pub operator: ConstraintOperator,
    pub value: String,
}

impl Constraint {
    /// Parses `node.labels.zone==east` as SwarmKit does: the first `==` (else the first `!=`) splits key from
    /// value, both trimmed; keys are checked against SwarmKit's syntax and must be known; values against
    /// SwarmKit's character set; `node.role` must compare with `manager` or `worker` (any case).
    pub fn parse(text: &str) -> Result<Constraint, SpecError> {
        let invalid = |problem| SpecError::InvalidConstraint { constraint: text.to_string(), problem };
        let (key, operator, value) = if let Some((key, value)) = text.split_once("==") {
            (key, ConstraintOperator::Eq, value)
        } else if let Some((key, value)) = text.split_once("!=") {
            (key, ConstraintOperator::NotEq, value)
        } else {
            return Err(invalid(ConstraintProblem::MissingOperator));
        };
        let (key_text, value) = (key.trim(), value.trim());
        if !key_syntax_is_valid(key_text) {
            return Err(invalid(ConstraintProblem::InvalidKey { key: key_text.to_string() }));
        }
        if !value_syntax_is_valid(value) {
            return Err(invalid(ConstraintProblem::InvalidValue { value: value.to_string() }));
        }
        let key = ConstraintKey::parse(key_text)
            .ok_or_else(|| invalid(ConstraintProblem::UnknownKey { key: key_text.to_string() }))?;
        if key == ConstraintKey::NodeRole
            && !value.eq_ignore_ascii_case("manager")
            && !value.eq_ignore_ascii_case("worker")
        {
            return Err(invalid(ConstraintProblem::InvalidRole { value: value.to_string() }));
        }
        Ok(Constraint { key, operator, value: value.to_string() })
    }

    /// Parses every constraint; the first error wins.
    pub fn parse_all(texts: &[String]) -> Result<Vec<Constraint>, SpecError> {
        texts.iter().map(|text| Constraint::parse(text)).collect()
    }

    /// SwarmKit's `Constraint.Match`: the node's value (or "" if it has none) equals `value` ignoring case for
    /// `==`, and differs for `!=`. So a missing label never matches `==` and always matches `!=`.
    pub fn matches(&self, node: &Node) -> bool {
        let actual = self.key.value_of(node);
        let equal = actual.chars().flat_map(char::to_lowercase).eq(self.value.chars().flat_map(char::to_lowercase));
        match self.operator {
            ConstraintOperator::Eq => equal,
            ConstraintOperator::NotEq => !equal,
        }
    }

    /// Whether `node` satisfies every constraint (SwarmKit's `NodeMatches`).
    pub fn all_match(constraints: &[Constraint], node: &Node) -> bool {
        constraints.iter().all(|constraint| constraint.matches(node))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.key, self.operator.as_str(), self.value)
    }
}

impl FromStr for Constraint {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        Constraint::parse(text)
    }
}

/// SwarmKit's key pattern `^(?i)[a-z_][a-z0-9\-_.]+$`.
fn key_syntax_is_valid(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() >= 2
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes[1..].iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// SwarmKit's value pattern `^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$`.
fn value_syntax_is_valid(value: &str) -> bool {
    !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c.is_ascii_whitespace()
                || matches!(
                    c,
                    ':' | '-' | '_' | '.' | '*' | '(' | ')' | '?' | '+' | '[' | ']' | '\\' | '^' | '$' | '|' | '/'
                )
        })
}
