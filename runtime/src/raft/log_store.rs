//! openraft's `RaftLogStorage` on the segment WAL: entries, the vote and the last purged log id, all durable on
//! a `Disk`. Ordering duties (openraft's, written down): `append` acknowledges through the flush callback only
//! after the WAL's fsync returned; the vote is durable before `save_vote` returns; the purged-log-id marker is
//! made durable *before* segments are removed, so a crash in between leaves stale entries (filtered on open)
//! and never a hole. An in-memory copy of the unpurged log serves reads; it is bounded by the snapshot policy.
//! Records are written and read through `entry_format` (tagged with their proposal format).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, RaftLogId, RaftLogReader, StorageIOError};

use super::entry_format::{decode_entry, encode_entry, EntryDecodeError};
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};
use crate::aead::AeadKey;
use crate::storage::disk::Disk;
use crate::storage::files::FileError;
use crate::storage::meta_file;
use crate::storage::wal::Wal;

const VOTE_FILE: &str = "raft-vote.meta";
/// How long a purge waits for the snapshot that covers it before failing.
const PURGE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
const PURGED_FILE: &str = "raft-purged.meta";

/// Why the stored log could not be opened; the node refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum LogOpenError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("corrupt raft log: entry {index} does not decode ({reason}); refusing to start")]
    Entry { index: u64, reason: String },
    #[error("raft log entry {index} cannot be read: {reason}; refusing to start")]
    EntryFormat { index: u64, reason: String },
    #[error("corrupt raft metadata file {file}: {reason}; refusing to start")]
    Meta { file: String, reason: String },
}

impl LogOpenError {
    /// The same error, a damaged file named where it lives on `disk`.
    pub fn located(self, disk: &dyn Disk) -> LogOpenError {
        match self {
            LogOpenError::File(error) => LogOpenError::File(error.located(disk)),
            LogOpenError::Meta { file, reason } => LogOpenError::Meta { file: disk.location(&file), reason },
            other => other,
        }
    }
}

struct LogInner {
    disk: Arc<dyn Disk>,
    wal: Wal,
    entries: BTreeMap<u64, Entry>,
    vote: Option<Vote>,
    last_purged: Option<LogId>,
    /// When set, a purge waits until a snapshot covering it is durable (see `purge`).
    durable_snapshot: Option<crate::watch::Receiver<Option<u64>>>,
    /// The manager's key for its data at rest: every record appended is sealed with it (`entry_format`).
    data_key: Option<Arc<AeadKey>>,
}

/// Cheap to clone: clones share the same log (the reader handed to openraft is a clone).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
}

/// What opening found, for logs and status.
#[derive(Debug, Clone, Default)]
pub struct LogRecovery {
    pub entries: usize,
    pub repaired_tail: Option<String>,
}

impl LogStore {
    /// Opens the log on `disk`; with `data_key`, records are sealed at rest (unsealed ones an earlier run wrote
    /// still read).
    pub fn open(disk: Arc<dyn Disk>, data_key: Option<Arc<AeadKey>>) -> Result<(Self, LogRecovery), LogOpenError> {
        let (mut wal, recovered) = Wal::open(disk.clone())?;
        let vote: Option<Vote> = load_meta(&disk, VOTE_FILE)?;
        let last_purged: Option<LogId> = load_meta(&disk, PURGED_FILE)?;
        if let Some(purged) = last_purged {
            // Finish a purge that a crash interrupted between writing the marker and removing segments; otherwise
            // the WAL would still end below the purged index and the next append would leave a hole.
            wal.purge_upto(purged.index).map_err(|e| LogOpenError::File(FileError::Io(e)))?;
        }
        let purged_index = last_purged.map(|l| l.index);
        let mut entries = BTreeMap::new();
        for (index, bytes) in recovered.entries {
            if purged_index.is_some_and(|p| index <= p) {
                continue;
            }
            let entry: Entry = decode_entry(&bytes, index, data_key.as_deref()).map_err(|error| match error {
                EntryDecodeError::UnknownFormat { .. } => {
                    LogOpenError::EntryFormat { index, reason: error.to_string() }
                }
                EntryDecodeError::NoDataKey | EntryDecodeError::NotDecryptable => {
                    LogOpenError::Entry { index, reason: error.to_string() }
                }
                EntryDecodeError::Malformed(reason) => LogOpenError::Entry { index, reason },
            })?;
            if entry.get_log_id().index != index {
                return Err(LogOpenError::Entry {
                    index,
                    reason: format!("record says index {index} but entry says {}", entry.get_log_id().index),
                });
            }
            entries.insert(index, entry);
        }
        let recovery =
            LogRecovery { entries: entries.len(), repaired_tail: recovered.repaired_tail.map(|t| format!("{t:?}")) };
        let inner = LogInner { disk, wal, entries, vote, last_purged, durable_snapshot: None, data_key };
        Ok((Self { inner: Arc::new(Mutex::new(inner)) }, recovery))
    }

    /// Makes purges wait for the state machine's durable snapshot to cover them. openraft queues a follower's
    /// snapshot install to the state-machine worker and the log purge to itself at the same time; without this,
    /// a crash between the two could leave the log purged past the newest snapshot on disk.
    pub fn purge_after_snapshot(&self, durable_snapshot: crate::watch::Receiver<Option<u64>>) {
        self.lock().durable_snapshot = Some(durable_snapshot);
    }

    /// The id of the last entry in the log (accepted, not necessarily committed), or of the last purged one.
    pub fn last_log_id(&self) -> Option<LogId> {
        let inner = self.lock();
        inner.entries.values().next_back().map(|e| *e.get_log_id()).or(inner.last_purged)
    }

    /// The last purged index, if any (start-up consistency checks).
    pub fn last_purged_index(&self) -> Option<u64> {
        self.lock().last_purged.map(|l| l.index)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().expect("log store mutex poisoned")
    }
}

fn load_meta<T: serde::de::DeserializeOwned>(
    disk: &Arc<dyn Disk>,
    file: &'static str,
) -> Result<Option<T>, LogOpenError> {
    match meta_file::load_meta(disk.as_ref(), file)? {
        None => Ok(None),
        Some(bytes) => postcard::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| LogOpenError::Meta { file: file.to_string(), reason: e.to_string() }),
    }
}

fn save_meta<T: serde::Serialize>(disk: &Arc<dyn Disk>, file: &str, value: &T) -> std::io::Result<()> {
    let bytes = postcard::to_stdvec(value).map_err(std::io::Error::other)?;
    meta_file::save_meta(disk.as_ref(), file, &bytes)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let inner = self.lock();
        Ok(inner.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id = self.lock().last_purged;
        Ok(LogState { last_purged_log_id, last_log_id: self.last_log_id() })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let mut inner = self.lock();
        save_meta(&inner.disk, VOTE_FILE, vote).map_err(|e| StorageIOError::write_vote(AnyError::new(&e)))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.lock().vote)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let data_key = self.lock().data_key.clone();
        let mut records = Vec::with_capacity(entries.len());
        for entry in &entries {
            let bytes =
                encode_entry(entry, data_key.as_deref()).map_err(|e| StorageIOError::write_logs(AnyError::new(&e)))?;
            records.push((entry.get_log_id().index, bytes));
        }
        let mut inner = self.lock();
        if let Err(error) = inner.wal.append(&records) {
            let message = error.to_string();
            callback.log_io_completed(Err(error));
            return Err(StorageIOError::write_logs(AnyError::error(message)).into());
        }
        for entry in entries {
            inner.entries.insert(entry.get_log_id().index, entry);
        }
        drop(inner);
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.wal.truncate_from(log_id.index).map_err(|e| StorageIOError::write_logs(AnyError::new(&e)))?;
        inner.entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let watch = self.lock().durable_snapshot.clone();
        if let Some(mut durable) = watch {
            let covered = durable.wait_for(|index| index.is_some_and(|i| i >= log_id.index));
            match tokio::time::timeout(PURGE_WAIT, covered).await {
                Ok(Ok(_)) => {}
                _ => {
                    let message = format!("no durable snapshot covers index {} to purge up to", log_id.index);
                    return Err(StorageIOError::write_logs(AnyError::error(message)).into());
                }
            }
        }
        let mut inner = self.lock();
        save_meta(&inner.disk, PURGED_FILE, &log_id).map_err(|e| StorageIOError::write_logs(AnyError::new(&e)))?;
        inner.last_purged = Some(log_id);
        inner.wal.purge_upto(log_id.index).map_err(|e| StorageIOError::write_logs(AnyError::new(&e)))?;
        let keep = inner.entries.split_off(&(log_id.index + 1));
        inner.entries = keep;
        Ok(())
    }
}
