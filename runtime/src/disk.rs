//! The `Disk` seam: every durable byte the node writes (Raft log segments, vote, snapshots) goes through this
//! trait, so production uses the real filesystem and the simulator uses an in-memory disk that loses unsynced
//! bytes on a crash. Invariant: bytes are durable only after `sync` (or a successful `write_atomic`) returned.
//!
//! Implementations below: `FsDisk` (real directory, compiled out of the simulator) and `MemDisk` (in memory,
//! models crashes: unsynced bytes lost or torn, for the simulator and tests).

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
}

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Rejects names that are not a plain file name, so no implementation can escape its directory.
fn check_name(name: &str) -> io::Result<()> {
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

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("disk file {name:?} does not exist"))
}

// ---------------------------------------------------------------------------------------------------------------
// FsDisk: the real filesystem (compiled out of the simulator).
// ---------------------------------------------------------------------------------------------------------------

#[cfg(not(madsim))]
pub use fs_disk::FsDisk;

#[cfg(not(madsim))]
mod fs_disk {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fs::{self, File, OpenOptions};
    use std::io::{self, Write};
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard};

    use super::{check_name, not_found, Disk};

    /// Suffix of the temporary file `write_atomic` writes before renaming; such names are reserved, hidden by
    /// `list` and removed by `open` (they are leftovers of a crash in the middle of `write_atomic`).
    const TMP_SUFFIX: &str = ".tmp";

    /// A `Disk` on one real directory. `sync` is `fdatasync`, plus one directory fsync after a file was created
    /// so that its name is durable too; `write_atomic` is write-temp, fsync, rename, fsync directory.
    pub struct FsDisk {
        dir: PathBuf,
        inner: Mutex<FsInner>,
    }

    #[derive(Default)]
    struct FsInner {
        /// Open append handles, one per file written since open.
        handles: BTreeMap<String, File>,
        /// Files created by `append` whose directory entry has not been fsynced yet.
        created_unsynced: BTreeSet<String>,
    }

    impl FsDisk {
        /// Opens (creating it and its parents when missing) the directory `dir`, and removes leftover temporary
        /// files of an interrupted `write_atomic`.
        pub fn open(dir: PathBuf) -> io::Result<FsDisk> {
            fs::create_dir_all(&dir)?;
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                if let Some(name) = entry.file_name().to_str() {
                    if name.ends_with(TMP_SUFFIX) && entry.file_type()?.is_file() {
                        fs::remove_file(entry.path())?;
                    }
                }
            }
            sync_dir(&dir)?;
            Ok(FsDisk { dir, inner: Mutex::new(FsInner::default()) })
        }

        /// The directory this disk lives in.
        pub fn dir(&self) -> &Path {
            &self.dir
        }

        fn lock(&self) -> MutexGuard<'_, FsInner> {
            // A panic while holding the lock leaves only handles behind: the state is still usable.
            self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        fn path(&self, name: &str) -> io::Result<PathBuf> {
            check_name(name)?;
            if name.ends_with(TMP_SUFFIX) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("disk file name {name:?} uses the reserved suffix {TMP_SUFFIX}"),
                ));
            }
            Ok(self.dir.join(name))
        }
    }

    fn sync_dir(dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    /// The open append handle of an existing file, opening it when needed (`NotFound` when it does not exist).
    fn existing_handle<'a>(inner: &'a mut FsInner, path: &Path, name: &str) -> io::Result<&'a mut File> {
        if !inner.handles.contains_key(name) {
            let file = OpenOptions::new().append(true).open(path).map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    not_found(name)
                } else {
                    e
                }
            })?;
            inner.handles.insert(name.to_string(), file);
        }
        Ok(inner.handles.get_mut(name).expect("handle inserted above"))
    }

    impl Disk for FsDisk {
        fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
            let path = self.path(name)?;
            match fs::read(path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }

        fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            let path = self.path(name)?;
            let mut inner = self.lock();
            if !inner.handles.contains_key(name) {
                let file = match OpenOptions::new().append(true).create_new(true).open(&path) {
                    Ok(file) => {
                        inner.created_unsynced.insert(name.to_string());
                        file
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        OpenOptions::new().append(true).open(&path)?
                    }
                    Err(e) => return Err(e),
                };
                inner.handles.insert(name.to_string(), file);
            }
            inner.handles.get_mut(name).expect("handle inserted above").write_all(bytes)
        }

        fn sync(&self, name: &str) -> io::Result<()> {
            let path = self.path(name)?;
            let mut inner = self.lock();
            existing_handle(&mut inner, &path, name)?.sync_data()?;
            if inner.created_unsynced.contains(name) {
                sync_dir(&self.dir)?;
                inner.created_unsynced.remove(name);
            }
            Ok(())
        }

        fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
            let path = self.path(name)?;
            let mut inner = self.lock();
            let file = existing_handle(&mut inner, &path, name)?;
            let current = file.metadata()?.len();
            if len > current {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("cannot truncate {name:?} to {len} bytes: it has only {current}"),
                ));
            }
            file.set_len(len)
        }

        fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            let path = self.path(name)?;
            let tmp = self.dir.join(format!("{name}{TMP_SUFFIX}"));
            let mut inner = self.lock();
            // An append handle would point at the replaced inode.
            inner.handles.remove(name);
            inner.created_unsynced.remove(name);
            {
                let mut file = File::create(&tmp)?;
                file.write_all(bytes)?;
                file.sync_all()?;
            }
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir)
        }

        fn remove(&self, name: &str) -> io::Result<()> {
            let path = self.path(name)?;
            let mut inner = self.lock();
            inner.handles.remove(name);
            inner.created_unsynced.remove(name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            sync_dir(&self.dir)
        }

        fn list(&self) -> io::Result<Vec<String>> {
            let mut names = Vec::new();
            for entry in fs::read_dir(&self.dir)? {
                let entry = entry?;
                if !entry.file_type()?.is_file() {
                    continue;
                }
                if let Some(name) = entry.file_name().to_str() {
                    if !name.ends_with(TMP_SUFFIX) {
                        names.push(name.to_string());
                    }
                }
            }
            names.sort();
            Ok(names)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// MemDisk: in memory, models crashes (simulator and tests).
// ---------------------------------------------------------------------------------------------------------------

/// An in-memory `Disk` that models what a crash keeps. Clones share the same files, so the simulator can keep a
/// handle across a node's crash and restart. Deterministic: no clock, no randomness; `crash` asks its callback.
///
/// Crash model, per file: the synced content survives; bytes appended since the last `sync` survive as a prefix
/// whose length the crash callback picks (a torn write); a file created by `append` and never synced disappears
/// unless the callback keeps some of its bytes; a `truncate` not followed by `sync` is lost (the file reverts to
/// its synced content). `write_atomic` and `remove` are durable at once.
#[derive(Clone, Default)]
pub struct MemDisk {
    files: Arc<Mutex<BTreeMap<String, MemFile>>>,
}

#[derive(Clone, Default)]
struct MemFile {
    current: Vec<u8>,
    synced: Vec<u8>,
    /// Whether the file survives a crash even with no bytes (it was synced or atomically written once).
    durable: bool,
    /// Whether `truncate` cut the file below its synced content since the last sync.
    truncated_since_sync: bool,
}

impl MemDisk {
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, MemFile>> {
        self.files.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Simulates a power loss: every file falls back to what the crash model above keeps. For each file with
    /// unsynced appended bytes (in name order) `torn_tail_bytes(unsynced_len)` picks how many of them survive;
    /// values above `unsynced_len` are clamped.
    pub fn crash(&self, mut torn_tail_bytes: impl FnMut(usize) -> usize) {
        let mut files = self.lock();
        let mut gone = Vec::new();
        for (name, file) in files.iter_mut() {
            let kept = if file.truncated_since_sync || !file.current.starts_with(&file.synced) {
                0
            } else {
                let unsynced = file.current.len() - file.synced.len();
                if unsynced == 0 {
                    0
                } else {
                    torn_tail_bytes(unsynced).min(unsynced)
                }
            };
            let mut content = file.synced.clone();
            if kept > 0 {
                content.extend_from_slice(&file.current[file.synced.len()..file.synced.len() + kept]);
            }
            if !file.durable && content.is_empty() {
                gone.push(name.clone());
                continue;
            }
            // What survived a crash is on the platter now.
            file.durable = true;
            file.synced = content.clone();
            file.current = content;
            file.truncated_since_sync = false;
        }
        for name in gone {
            files.remove(&name);
        }
    }

    /// `crash` keeping no unsynced byte.
    pub fn crash_losing_unsynced(&self) {
        self.crash(|_| 0)
    }

    /// Test helper: XORs the byte at `offset` of `name` with `xor_byte`, in both the current and the synced
    /// content (media corruption). Panics when the file or offset does not exist (a bug in the test).
    pub fn corrupt(&self, name: &str, offset: usize, xor_byte: u8) {
        let mut files = self.lock();
        let file = files.get_mut(name).unwrap_or_else(|| panic!("MemDisk::corrupt: no file {name:?}"));
        assert!(
            offset < file.current.len(),
            "MemDisk::corrupt: offset {offset} is past the end of {name:?} ({} bytes)",
            file.current.len()
        );
        file.current[offset] ^= xor_byte;
        if offset < file.synced.len() {
            file.synced[offset] ^= xor_byte;
        }
    }

    /// Test helper: the current content of `name` (what a read returns now), or `None`.
    pub fn snapshot_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().get(name).map(|f| f.current.clone())
    }

    /// Test helper: the synced content of `name` (what survives a crash for sure), or `None`.
    pub fn synced_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().get(name).map(|f| f.synced.clone())
    }

    /// Test helper: bytes of `name` that a crash could lose (appended since the last sync).
    pub fn unsynced_len(&self, name: &str) -> usize {
        self.lock().get(name).map(|f| f.current.len().saturating_sub(f.synced.len())).unwrap_or(0)
    }
}

impl Disk for MemDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        check_name(name)?;
        Ok(self.lock().get(name).map(|f| f.current.clone()))
    }

    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name)?;
        self.lock().entry(name.to_string()).or_default().current.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        let mut files = self.lock();
        let file = files.get_mut(name).ok_or_else(|| not_found(name))?;
        file.synced = file.current.clone();
        file.durable = true;
        file.truncated_since_sync = false;
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        check_name(name)?;
        let mut files = self.lock();
        let file = files.get_mut(name).ok_or_else(|| not_found(name))?;
        let current = file.current.len() as u64;
        if len > current {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot truncate {name:?} to {len} bytes: it has only {current}"),
            ));
        }
        file.current.truncate(len as usize);
        if file.current.len() < file.synced.len() {
            file.truncated_since_sync = true;
        }
        Ok(())
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name)?;
        let file =
            MemFile { current: bytes.to_vec(), synced: bytes.to_vec(), durable: true, truncated_since_sync: false };
        self.lock().insert(name.to_string(), file);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        self.lock().remove(name);
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.lock().keys().cloned().collect())
    }
}
