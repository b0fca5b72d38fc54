//! Docker's `ServiceSpec` and its `Mode`, with the constructors for the usual shapes and the one check every service
//! spec passes: `ServiceSpec::validate`. The CLI calls it for early errors (`validate_before_naming` when the daemon
//! is to name the service), the control API before proposing, and `Store::apply` before storing, so a spec is
//! judged by the same rules wherever it is checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::endpoint::EndpointSpec;
use super::error::SpecError;
use super::keywords::FailureAction;
use super::task::TaskSpec;
use super::update::UpdateConfig;
use crate::limits::{Limit, REPLICAS_MAX};

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

    /// The one check of a service spec: SwarmKit's control API's (`validateServiceSpec`), plus a few of our own
    /// (reservations within limits, known constraint keys, spread descriptors, port ranges, replica bound).
    /// `Store::apply` runs it before storing a spec, the control API before proposing one, and the CLI for early
    /// errors (through `validate_before_naming` when the daemon is to name the service). The first problem found
    /// is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_name(&self.name)?;
        self.validate_all_but_name()
    }

    /// `validate` for a spec the daemon is still to name (`service create` without `--name`, which the daemon
    /// names `adjective_surname` as Docker Swarm does): an empty name passes; a given name and everything else are
    /// checked exactly as `validate` checks them.
    pub fn validate_before_naming(&self) -> Result<(), SpecError> {
        if !self.name.is_empty() {
            validate_name(&self.name)?;
        }
        self.validate_all_but_name()
    }

    fn validate_all_but_name(&self) -> Result<(), SpecError> {
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
