//! A value a flag rejects, as pflag words it: `invalid argument "5x" for "--restart-delay" flag: <problem>`, the
//! problem being the refusal of the parser that read the value (`ValueError`, one variant per parser).

use swarm_core::spec::SpecError;

use super::container_options::{DomainError, IpAddressError, UlimitError};
use super::duration::DurationError;
use super::env::{EnvError, EnvFileError};
use super::files::FileFlagError;
use super::mounts::MountError;
use super::networks::NetworkError;
use super::numbers::{CpuError, MemoryError, NumberError};
use super::ports::PortError;
use super::spec_values::{NotAKeyword, PlacementPrefError};
use super::words::{LabelError, ShellWordsError};

/// `invalid argument "5x" for "--restart-delay" flag: time: unknown unit "x" in duration "5x"`. `flag` is spelled
/// as pflag prints it (`-e, --env` when there is a shorthand); both it and the value are quoted as Go's `%q` does.
#[derive(Debug, thiserror::Error)]
#[error("invalid argument {value:?} for {flag:?} flag: {problem}")]
pub struct FlagError {
    pub flag: String,
    pub value: String,
    /// Boxed: a refusal carries several strings, and every `Result` of the CLI carries a `FlagError`'s room.
    pub problem: Box<ValueError>,
}

impl FlagError {
    pub fn new(flag: impl Into<String>, value: impl Into<String>, problem: impl Into<ValueError>) -> FlagError {
        FlagError { flag: flag.into(), value: value.into(), problem: Box::new(problem.into()) }
    }
}

/// Why a flag's value was refused: the refusal of the parser that read it.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error(transparent)]
    Number(#[from] NumberError),
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error(transparent)]
    Cpu(#[from] CpuError),
    #[error(transparent)]
    ShellWords(#[from] ShellWordsError),
    #[error(transparent)]
    Label(#[from] LabelError),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    /// An `--env-file` that cannot be read.
    #[error("open {path}: {error}")]
    Open { path: String, error: std::io::Error },
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Keyword(#[from] NotAKeyword),
    #[error(transparent)]
    PlacementPref(#[from] PlacementPrefError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("Retries in Healthcheck cannot be negative")]
    NegativeRetries,
    #[error(transparent)]
    Cidr(#[from] swarm_core::ipam::CidrError),
    #[error("invalid IP address: {text}")]
    Address { text: String },
    #[error("invalid option: expected KEY=VALUE")]
    Option,
    #[error(transparent)]
    Ulimit(#[from] UlimitError),
    #[error(transparent)]
    IpAddress(#[from] IpAddressError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    ExtraHost(#[from] swarm_core::spec::ExtraHostError),
    #[error(transparent)]
    FileReference(#[from] FileFlagError),
}
