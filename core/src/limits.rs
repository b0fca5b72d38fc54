//! Named limits on everything a command can carry: the bounds that keep entries, snapshots and per-apply work
//! bounded, and `Limit`, which names the one a command exceeded. This module only names them and depends on
//! nothing; the store's input checks (`store::bounds`) enforce them, and the spec's validation reads the replica
//! bound. Every limit here has a test at its bound.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest object id, in bytes. Docker's are 25 characters.
pub const ID_LEN_MAX: usize = 64;
/// Longest service or network name, in bytes (a DNS label).
pub const NAME_LEN_MAX: usize = 63;
/// Most labels (or driver options) on one object.
pub const LABELS_MAX: usize = 64;
/// Most entries in a key/value option map of a task template: sysctls, log driver options.
pub const OPTIONS_MAX: usize = 64;
/// Longest label key, in bytes.
pub const LABEL_KEY_LEN_MAX: usize = 256;
/// Longest label value, in bytes.
pub const LABEL_VALUE_LEN_MAX: usize = 4096;
/// Longest free-text field (image reference, status message, error, address, hostname, one env entry...), bytes.
pub const TEXT_LEN_MAX: usize = 4096;
/// Most entries in a list field (command, args, env, mounts, constraints, ports, networks, capabilities, ulimits,
/// hosts, DNS nameservers, search domains and options, ...).
pub const LIST_LEN_MAX: usize = 1024;
/// Most replicas of a replicated service, and most completions/concurrency of a replicated job.
pub const REPLICAS_MAX: u64 = 10_000;
/// Most tasks in one `CreateTasks` or ids in one `RemoveTasks`.
pub const TASKS_PER_BATCH_MAX: usize = 10_000;
/// Most commands in one `Command::Batch`.
pub const BATCH_COMMANDS_MAX: usize = 10_000;
/// The encoded size the orchestrators aim to keep each `Command::Batch` they produce under (half of the runtime's
/// 1 MiB proposal limit, leaving room for the rest of the proposal). Counts alone do not bound it: a task carries its
/// whole spec, so 10,000 tasks of even a small service already exceed 1 MiB.
pub const BATCH_BYTES_BUDGET: usize = 512 * 1024;
/// Most older specs a service keeps beyond its `previous_spec` (`Service::spec_history`), so `rollback` can go back
/// `SERVICE_SPEC_HISTORY_MAX + 1` times. `UpdateService` drops the oldest beyond this bound.
pub const SERVICE_SPEC_HISTORY_MAX: usize = 5;
/// Most removed node ids the store remembers (`Store::removed_nodes`, SwarmKit's list of blacklisted certificates).
/// `RemoveNode` drops the oldest beyond this bound. A removed id is forgotten only after this many later removals;
/// every agent receives the whole list with its assignments, so it stays small (about 26 KiB at the bound).
pub const REMOVED_NODES_MAX: usize = 1_000;

/// Largest secret or config value, in bytes: Docker's 500 KiB.
pub const FILE_DATA_MAX: usize = 500 * 1024;
/// Most secrets, and most configs, the store holds (each up to `FILE_DATA_MAX`, so snapshots stay bounded).
pub const FILE_OBJECTS_MAX: usize = 1_000;

/// Which limit a command exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Limit {
    IdLength,
    NameLength,
    Labels,
    LabelKeyLength,
    LabelValueLength,
    TextLength,
    ListLength,
    Replicas,
    TasksPerBatch,
    BatchCommands,
    /// Appended last: `Limit` travels postcard-encoded inside forwarded rejections, so a variant's index is wire
    /// format between managers of different builds.
    Options,
    /// Appended after `Options`, for the same reason.
    FileData,
    FileObjects,
}

impl Limit {
    /// The limit's maximum.
    pub const fn max(self) -> u64 {
        match self {
            Limit::IdLength => ID_LEN_MAX as u64,
            Limit::NameLength => NAME_LEN_MAX as u64,
            Limit::Labels => LABELS_MAX as u64,
            Limit::Options => OPTIONS_MAX as u64,
            Limit::LabelKeyLength => LABEL_KEY_LEN_MAX as u64,
            Limit::LabelValueLength => LABEL_VALUE_LEN_MAX as u64,
            Limit::TextLength => TEXT_LEN_MAX as u64,
            Limit::ListLength => LIST_LEN_MAX as u64,
            Limit::Replicas => REPLICAS_MAX,
            Limit::TasksPerBatch => TASKS_PER_BATCH_MAX as u64,
            Limit::BatchCommands => BATCH_COMMANDS_MAX as u64,
            Limit::FileData => FILE_DATA_MAX as u64,
            Limit::FileObjects => FILE_OBJECTS_MAX as u64,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::IdLength => "id length",
            Limit::NameLength => "name length",
            Limit::Labels => "number of labels",
            Limit::Options => "number of options",
            Limit::LabelKeyLength => "label key length",
            Limit::LabelValueLength => "label value length",
            Limit::TextLength => "text length",
            Limit::ListLength => "list length",
            Limit::Replicas => "number of replicas",
            Limit::TasksPerBatch => "number of tasks in one command",
            Limit::BatchCommands => "number of commands in one batch",
            Limit::FileData => "data size in bytes",
            Limit::FileObjects => "number of secrets or configs",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
