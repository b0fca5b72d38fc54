//! `CliError`: every way a `swarm` command can fail, typed, with Docker's wording in its `Display` — exactly the
//! line (or lines) `main` prints on stderr before exiting with status 1. Each room's own error (a flag's value,
//! a reference, a template, a call to the daemon, ...) passes through unchanged; the variants here are the
//! commands' own refusals.

use swarm_core::FILE_DATA_MAX;

use crate::client::ControlError;
use crate::daemon::DaemonError;
use crate::parse::FlagError;
use crate::progress::WatchError;
use crate::render::file_objects::FileFilterError;
use crate::render::ids::ResolveError;
use crate::render::json::JsonError;
use crate::render::service_ps::{FilterError, PsError};
use crate::render::template::{PrintError, TemplateError};
use crate::service_flags::SpecFlagsError;
use crate::stack::error::StackError;
use crate::status::StatusError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Flag(#[from] FlagError),
    #[error(transparent)]
    SpecFlags(#[from] SpecFlagsError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Print(#[from] PrintError),
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Ps(#[from] PsError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    FileObject(#[from] FileObjectError),
    #[error(transparent)]
    FileFilter(#[from] FileFilterError),
    /// A write (`service update/rollback/scale/rm`) naming no service: the daemon's words for it.
    #[error("Error response from daemon: service {reference} not found")]
    NoSuchServiceToWrite { reference: String },
    #[error("invalid scale specifier '{specifier}'.\nSee 'swarm service scale --help'.")]
    InvalidScale { specifier: String },
    #[error("--format is incompatible with human friendly format")]
    FormatWithPretty,
    #[error("scale can only be used with replicated or replicated-job mode")]
    ScaleNotReplicated,
    #[error("invalid value \"{value}\" for flag --tail")]
    InvalidTail { value: String },
    #[error("invalid argument \"{label}\" for \"--label-add\" flag: empty label key")]
    EmptyNodeLabelKey { label: String },
    /// A `network` flag or filter that is malformed as a whole (Docker's words).
    #[error("{0}")]
    NetworkFlags(String),
    /// The tunnel device process could not run (`swarm tunnel-device`).
    #[error("{0}")]
    TunnelDevice(String),
    /// Reading the unlock key from stdin failed.
    #[error("reading the unlock key: {0}")]
    UnlockKeyInput(String),
    #[error("key {key} doesn't exist in node's labels")]
    NoSuchNodeLabel { key: String },
    /// Every failure of a command that acts on several references and reports all failures at the end, one per
    /// line (`rm`, `scale`).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<CliError>),
}

/// Why a secret or config command failed before or beside the daemon, in Docker's words.
#[derive(Debug, thiserror::Error)]
pub enum FileObjectError {
    /// The daemon's words for a reference that names no object.
    #[error("Error response from daemon: {kind} {reference} not found")]
    NotFound { kind: &'static str, reference: String },
    #[error("Error response from daemon: {kind} {reference} is ambiguous ({matches} matches found)")]
    Ambiguous { kind: &'static str, reference: String, matches: usize },
    /// `secret create`'s wording for a value it cannot read (`config create` says the same of a failed read).
    #[error("Error reading content from {file:?}: {problem}")]
    Read { file: String, problem: String },
    /// `config create`'s wording for a file it cannot open: Go's `open PATH: reason`.
    #[error("{problem}")]
    Open { problem: String },
    /// A value the store would refuse: empty, or larger than `FILE_DATA_MAX`.
    #[error(
        "{kind} data must be larger than 0 and at most {FILE_DATA_MAX} bytes ({} KiB): {detail}",
        FILE_DATA_MAX_KIB
    )]
    Size { kind: &'static str, detail: String },
}

/// `FILE_DATA_MAX` in KiB, as Docker words the limit (500 KiB).
pub const FILE_DATA_MAX_KIB: usize = FILE_DATA_MAX / 1024;
