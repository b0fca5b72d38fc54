//! The `Disk` seam: every durable byte the node writes (Raft log segments, vote, snapshots, the node record) goes
//! through this trait, so production uses the real filesystem and the simulator uses an in-memory disk that loses
//! unsynced bytes on a crash. Invariant: bytes are durable only after `sync` (or a successful `write_atomic`) returned.
//!
//! Implementations: `FsDisk` (a real directory, compiled out of the simulator) and `MemDisk` (in memory, models
//! crashes: unsynced bytes lost or torn, for the simulator and tests).

use std::io;

/// A flat directory of named files. Names are plain file names (no `/`).
pub trait Disk: Send + Sync + 'static {
    /// The whole content of `name`, or `None` when it does not exist.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Appends `bytes` to `name` (creating it). Not durable until `sync(name)` returns.
    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes every byte appended to `name` so far, and its current length, durable.
    fn sync(&self, name: &str) -> io::Result<()>;
    /// Cuts `name` to `len` bytes. Durable after `sync(name)`.
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    /// Replaces `name` with `bytes` atomically and durably: after a crash the file holds either the old or the
    /// new content, never a mix; when this returns the new content is durable.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Removes `name` durably; removing a missing file is not an error.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Names of all files, sorted.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Where the file `name` lives, as an operator would look for it (a full path on a real disk).
    fn location(&self, name: &str) -> String {
        name.to_string()
    }
}

/// Rejects names that are not a plain file name, so no implementation can escape its directory.
pub(super) fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\\')
        || name.contains('\0')
    {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid disk file name {name:?}")));
    }
    Ok(())
}

pub(super) fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("disk file {name:?} does not exist"))
}
