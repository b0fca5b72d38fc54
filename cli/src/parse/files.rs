//! `--secret`/`--config` values (`src[,target=…,uid=…,gid=…,mode=…]`, or a bare name). Core's `from_flag` reads
//! them; this gives a refusal the shape of Docker's `SecretOpt`/`ConfigOpt` errors, the reason alone
//! (`source is required`), so that `FlagError` words it as pflag does:
//! `invalid argument "src=" for "--secret" flag: source is required`.

use swarm_core::spec::{ConfigReference, SecretReference, SpecError};

/// Why a `--secret` or `--config` value does not parse: Docker's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FileFlagError {
    pub reason: String,
}

impl From<SpecError> for FileFlagError {
    fn from(error: SpecError) -> FileFlagError {
        match error {
            SpecError::InvalidFileFlag { reason, .. } => FileFlagError { reason },
            other => FileFlagError { reason: other.to_string() },
        }
    }
}

/// A `--secret` value as a reference by name (the daemon fills in the id).
pub fn parse_secret(text: &str) -> Result<SecretReference, FileFlagError> {
    Ok(SecretReference::from_flag(text)?)
}

/// A `--config` value as a reference by name (the daemon fills in the id).
pub fn parse_config(text: &str) -> Result<ConfigReference, FileFlagError> {
    Ok(ConfigReference::from_flag(text)?)
}
