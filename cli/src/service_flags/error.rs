//! Why the service flags make no spec: a flag's value refused (pflag's wording), flags that do not go together, or
//! a spec core's check refuses, each printed in Docker's words.

use swarm_core::spec::SpecError;

use crate::parse::FlagError;

#[derive(Debug, thiserror::Error)]
pub enum SpecFlagsError {
    #[error(transparent)]
    Flag(#[from] FlagError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("--no-healthcheck conflicts with --health-* options")]
    NoHealthcheckWithHealthFlags,
    #[error("other flags may not be combined with --rollback")]
    RollbackWithOtherFlags,
    /// `apply_update` asked to apply `--rollback`, which only the manager can (it needs the previous spec).
    #[error("--rollback does not edit the spec: the manager restores the previous one (see rollback_requested)")]
    RollbackIsNotAnEdit,
    #[error("service is already attached to network {target}")]
    AlreadyAttached { target: String },
    #[error("duplicate mount target")]
    DuplicateMountTarget,
    /// Two `--secret`/`--secret-add` (or `--config`/`--config-add`) values with the same target, in docker/cli's
    /// words (`ParseSecrets`, `ParseConfigs`).
    #[error("duplicate {kind} target for {source_name} not allowed")]
    DuplicateFileTarget { kind: &'static str, source_name: String },
}
