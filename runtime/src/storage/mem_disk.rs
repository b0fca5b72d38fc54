//! `MemDisk`: an in-memory `Disk` for the simulator and tests that models what a power loss keeps (unsynced bytes
//! lost or torn, unsynced truncations undone). Invariant: deterministic — no clock, no randomness; what a crash
//! keeps of each file is asked of the caller's callback, in file-name order.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::disk::{check_name, not_found, Disk};

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
