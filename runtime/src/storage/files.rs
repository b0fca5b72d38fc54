//! The files of a node's Raft disk and how they fail: which name prefix belongs to the log's segments and which
//! to the snapshots (everything else is a metadata file), and `FileError`, the one error every stored-file reader
//! returns. Shared by the WAL, the snapshot files and the metadata files, which know nothing of each other.
//! Invariant: a `FileError::Corrupt` names the file (its full path once `located`), the byte and the reason, and
//! says the node refuses to start.

use std::io;

/// File names of log segments start with this.
pub const SEGMENT_PREFIX: &str = "wal-";
/// File names of snapshots start with this.
pub const SNAPSHOT_PREFIX: &str = "snapshot-";

/// Why stored state cannot be used. `Corrupt` means the node must not start on this disk.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("corrupt raft {}: {file} at byte {offset}: {reason}; refusing to start", file_kind(.file))]
    Corrupt { file: String, offset: u64, reason: String },
    #[error("raft storage I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FileError {
    /// The same error, its file named where it lives on `disk` (the full path on a real disk), for the operator.
    pub fn located(self, disk: &dyn super::disk::Disk) -> FileError {
        match self {
            FileError::Corrupt { file, offset, reason } => {
                FileError::Corrupt { file: disk.location(&file), offset, reason }
            }
            other => other,
        }
    }
}

/// What a file is, by its name (the last component of its path).
fn file_kind(path: &str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or(path);
    if file.starts_with(SEGMENT_PREFIX) {
        "log"
    } else if file.starts_with(SNAPSHOT_PREFIX) {
        "snapshot"
    } else {
        "metadata"
    }
}

pub(super) fn corrupt(file: &str, offset: u64, reason: impl Into<String>) -> FileError {
    FileError::Corrupt { file: file.to_string(), offset, reason: reason.into() }
}

pub(super) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}
