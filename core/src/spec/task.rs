//! Docker's `TaskTemplate` (SwarmKit's `TaskSpec`) and its parts: the container spec with its mounts, healthcheck
//! and container options (`container_options`), resources, restart policy, network attachments and log driver,
//! with SwarmKit's defaults and checks (`TaskSpec::validate` is SwarmKit's `validateTaskSpec`, plus the Engine's
//! checks of what it would refuse when creating the container). `Resources` is also what a node reports it has.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::container_options::{validate_options, DnsConfig, LogDriver, Ulimit};
use super::error::{MountProblem, SpecError};
use super::files::{validate_file_references, ConfigReference, SecretReference};
use super::image::validate_image;
use super::keywords::{MountType, RestartCondition};
use super::placement::Placement;
use super::units::SECOND_NS;

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
    /// Docker's `LogDriver`: the logging driver of the task's containers; `None` keeps the Engine's default.
    #[serde(default)]
    pub log_driver: Option<LogDriver>,
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
    /// Docker's `StopSignal` (`--stop-signal`): what stops the container (`SIGINT`, `QUIT`, `9`); empty: the
    /// image's, else SIGTERM.
    pub stop_signal: String,
    /// Docker's `ReadOnly` (`--read-only`): the root filesystem is mounted read-only.
    pub read_only: bool,
    /// Docker's `Init` (`--init`): an init process runs as PID 1 and reaps zombies; `None` leaves it to the
    /// Engine's default (`docker service create` always sends `Some`).
    pub init: Option<bool>,
    /// Docker's `CapabilityAdd` (`--cap-add`): capabilities added to the default set, normalised as
    /// `effective_capabilities` does (`CAP_NET_ADMIN`, or `ALL`).
    pub capability_add: Vec<String>,
    /// Docker's `CapabilityDrop` (`--cap-drop`): capabilities removed from the default set, normalised.
    pub capability_drop: Vec<String>,
    /// Docker's `Sysctls` (`--sysctl net.core.somaxconn=1024`): namespaced kernel parameters.
    pub sysctls: BTreeMap<String, String>,
    /// Docker's `Ulimits` (`--ulimit nofile=1024:2048`), sorted by name, one per name.
    pub ulimits: Vec<Ulimit>,
    /// Docker's `Hosts` (`--host db:10.0.0.5`): extra /etc/hosts entries in SwarmKit's hosts(5) form,
    /// `IP-address hostname [aliases...]` (`10.0.0.5 db`; `hosts_entry` converts `host:ip`).
    pub hosts: Vec<String>,
    /// Docker's `DNSConfig` (`--dns`, `--dns-search`, `--dns-option`).
    pub dns_config: DnsConfig,
    /// Docker's `Secrets` (`--secret`): files under `/run/secrets` from a tmpfs, never on the node's disk.
    pub secrets: Vec<SecretReference>,
    /// Docker's `Configs` (`--config`): files at their target paths.
    pub configs: Vec<ConfigReference>,
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
            stop_signal: String::new(),
            read_only: false,
            init: None,
            capability_add: Vec::new(),
            capability_drop: Vec::new(),
            sysctls: BTreeMap::new(),
            ulimits: Vec::new(),
            hosts: Vec::new(),
            dns_config: DnsConfig::default(),
            secrets: Vec::new(),
            configs: Vec::new(),
        }
    }
}

impl ContainerSpec {
    pub fn image(image: impl Into<String>) -> ContainerSpec {
        ContainerSpec { image: image.into(), ..ContainerSpec::default() }
    }

    /// SwarmKit's `validateContainerSpec` (image, duplicate mount points, healthcheck) plus the Engine's checks of
    /// mounts, stop signal and ulimits, and the shape of the other container options (see `container_options`).
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_image(&self.image)?;
        let mut targets = BTreeSet::new();
        for mount in &self.mounts {
            mount.validate()?;
            if !targets.insert(mount.target.as_str()) {
                return Err(SpecError::DuplicateMountPoint { target: mount.target.clone() });
            }
        }
        if let Some(healthcheck) = &self.healthcheck {
            healthcheck.validate()?;
        }
        validate_options(
            &self.stop_signal,
            [&self.capability_add, &self.capability_drop],
            &self.sysctls,
            &self.ulimits,
            &self.hosts,
            &self.dns_config,
        )?;
        validate_file_references(&self.secrets, &self.configs)
    }
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
    /// Docker's `TmpfsOptions` (`--mount type=tmpfs,tmpfs-size=64m,tmpfs-mode=1770`): tmpfs mounts only.
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Docker's `Mount.TmpfsOptions`; zero leaves the Engine's default (half the memory, mode 1777).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TmpfsOptions {
    /// The size of the tmpfs, in bytes.
    pub size_bytes: u64,
    /// The permission bits of its root (`0o1770`).
    pub mode: u32,
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
                MountType::Volume | MountType::Bind if self.tmpfs_options.is_some() => {
                    Some(MountProblem::TmpfsOptionsNotAllowed)
                }
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

/// CPUs and memory: a task's reservation or limit (zero means unset), or what a node has.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    pub nano_cpus: u64,
    pub memory_bytes: u64,
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
