//! `CliError`: every way a `swarm` command can fail, typed, with Docker's wording in its `Display` — exactly the
//! line (or lines) `main` prints on stderr before exiting with status 1. Each room's own error (a flag's value,
//! a reference, a template, a call to the daemon, ...) passes through unchanged; the variants here are the
//! commands' own refusals.

use crate::client::ControlError;
use crate::daemon::DaemonError;
use crate::file_object_cmd::FileObjectError;
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
