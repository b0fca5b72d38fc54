//! openraft's `RaftStateMachine` over the pure core `Store`. Applying a committed entry is `Store::apply`; the
//! state itself is volatile and rebuilt on start from the newest persisted snapshot (openraft then re-applies
//! the committed log after it). Invariant: a snapshot's data is exactly the core's deterministic encoding of the
//! store at `last_applied`, so two managers' snapshots at the same index are byte-identical; before openraft is
//! told of a snapshot, it or a newer one is durable on disk (build and install both persist first; a write is
//! skipped when a newer snapshot is already there, which replaces it on restart). Writing one happens
//! outside the state-machine lock (applies and reads go on meanwhile) and, in production, off the async threads
//! (a large snapshot's fsync must not delay heartbeats); `SnapshotWriter` orders the writes so an older
//! snapshot never replaces a newer one on disk.

use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{AnyError, EntryPayload, RaftLogId, RaftSnapshotBuilder, StorageIOError};
use swarm_core::Store;

use super::at_rest;
use super::types::{Answers, Entry, LogId, NodeId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::aead::AeadKey;
use crate::blocking::off_async_threads;
use crate::storage::disk::Disk;
use crate::storage::snapshot_file;

/// Hooks for the simulator's checkers (and metrics). Called synchronously, in apply order.
pub trait RaftObserver: Send + Sync + 'static {
    /// `entry` is the postcard encoding of the applied entry.
    fn applied(&self, node: NodeId, index: u64, entry: &[u8]);
    /// A snapshot was built locally (not installed from a leader).
    fn snapshot_built(&self, node: NodeId, index: u64, data: &[u8]);
    /// A snapshot streamed from the leader was installed.
    fn snapshot_installed(&self, node: NodeId, index: u64);
}

#[derive(Debug, thiserror::Error)]
pub enum StateOpenError {
    #[error(transparent)]
    File(#[from] crate::storage::files::FileError),
    #[error("corrupt snapshot file for index {index}: {reason}; refusing to start")]
    Snapshot { index: u64, reason: String },
}

impl StateOpenError {
    /// The same error, a damaged file named where it lives on `disk`.
    pub fn located(self, disk: &dyn Disk) -> StateOpenError {
        match self {
            StateOpenError::File(error) => StateOpenError::File(error.located(disk)),
            other => other,
        }
    }
}

struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

struct Inner {
    node: NodeId,
    store: Store,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshot: Option<StoredSnapshot>,
    observer: Option<Arc<dyn RaftObserver>>,
    /// The index of the newest snapshot that is durable on disk (log purges wait for it).
    durable_snapshot: crate::watch::Sender<Option<u64>>,
    /// `last_applied`, for those who wait for the store to change (the manager loop, the dispatcher).
    applied: crate::watch::Sender<Option<LogId>>,
}

#[derive(Clone)]
pub struct StateMachine {
    inner: Arc<Mutex<Inner>>,
    writer: SnapshotWriter,
}

/// Writes snapshot files one at a time and remembers the newest index written: a write of an older snapshot
/// than the newest on disk is skipped (a build can finish after an install of a newer snapshot from the leader).
#[derive(Clone)]
struct SnapshotWriter {
    disk: Arc<dyn Disk>,
    newest_written: Arc<Mutex<Option<u64>>>,
    /// The manager's key for its data at rest: snapshot files hold the store sealed with it.
    data_key: Option<Arc<AeadKey>>,
}

impl SnapshotWriter {
    /// Persists `data` as the snapshot `meta` describes; `Ok(false)` when a newer one is on disk already.
    #[allow(clippy::result_large_err)] // openraft's own error type, passed on as its trait methods return it
    async fn write(&self, meta: &SnapshotMeta, data: Vec<u8>) -> Result<(bool, Vec<u8>), StorageError> {
        let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
        let meta_bytes = postcard::to_stdvec(meta)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)))?;
        let writer = self.clone();
        let written = off_async_threads(move || {
            let mut newest = writer.newest_written.lock().expect("snapshot writer mutex poisoned");
            if newest.is_some_and(|newest| newest >= index) {
                return (Ok(false), data);
            }
            let stored = at_rest::seal_snapshot(writer.data_key.as_deref(), index, &data);
            let result = snapshot_file::save_snapshot(writer.disk.as_ref(), index, &meta_bytes, &stored);
            if result.is_ok() {
                *newest = Some(index);
            }
            (result.map(|()| true), data)
        })
        .await;
        match written {
            Ok((Ok(written), data)) => Ok((written, data)),
            Ok((Err(e), _)) => Err(StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)).into()),
            Err(e) => Err(StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)).into()),
        }
    }
}

impl StateMachine {
    /// Opens the state machine on `disk`; with `data_key`, snapshot files are sealed at rest (an unsealed one an
    /// earlier run wrote still reads).
    pub fn open(
        node: NodeId,
        disk: Arc<dyn Disk>,
        observer: Option<Arc<dyn RaftObserver>>,
        data_key: Option<Arc<AeadKey>>,
    ) -> Result<Self, StateOpenError> {
        let mut inner = Inner {
            node,
            store: Store::default(),
            last_applied: None,
            membership: StoredMembership::default(),
            snapshot: None,
            observer,
            durable_snapshot: crate::watch::channel(None).0,
            applied: crate::watch::channel(None).0,
        };
        if let Some(stored) = snapshot_file::load_latest_snapshot(disk.as_ref())? {
            let index = stored.index;
            let meta: SnapshotMeta = postcard::from_bytes(&stored.meta)
                .map_err(|e| StateOpenError::Snapshot { index, reason: format!("metadata: {e}") })?;
            let data = at_rest::open_snapshot(data_key.as_deref(), index, stored.data)
                .map_err(|reason| StateOpenError::Snapshot { index, reason })?;
            let store =
                Store::decode_snapshot(&data).map_err(|e| StateOpenError::Snapshot { index, reason: e.to_string() })?;
            inner.store = store;
            inner.last_applied = meta.last_log_id;
            inner.membership = meta.last_membership.clone();
            inner.durable_snapshot.send_replace(Some(index));
            inner.applied.send_replace(meta.last_log_id);
            inner.snapshot = Some(StoredSnapshot { meta, data });
        }
        let newest_written = Arc::new(Mutex::new(*inner.durable_snapshot.borrow()));
        let writer = SnapshotWriter { disk, newest_written, data_key };
        Ok(Self { inner: Arc::new(Mutex::new(inner)), writer })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("state machine mutex poisoned")
    }

    /// Reads the current applied state.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.lock().store)
    }

    pub fn last_applied(&self) -> Option<LogId> {
        self.lock().last_applied
    }

    /// Follows `last_applied`: changes after every applied batch of entries and every installed snapshot.
    pub fn applied_watch(&self) -> crate::watch::Receiver<Option<LogId>> {
        self.lock().applied.subscribe()
    }

    /// Follows the index of the newest snapshot that is durable on disk.
    pub fn durable_snapshot_index(&self) -> crate::watch::Receiver<Option<u64>> {
        self.lock().durable_snapshot.subscribe()
    }
}

impl Inner {
    /// Takes a snapshot that is durable on disk as the current one, unless a newer one is current already.
    fn adopt_durable_snapshot(&mut self, meta: &SnapshotMeta, data: Vec<u8>) {
        let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
        let current = self.snapshot.as_ref().map(|s| s.meta.last_log_id.map(|l| l.index).unwrap_or(0));
        if current.is_some_and(|current| current > index) {
            return;
        }
        self.snapshot = Some(StoredSnapshot { meta: meta.clone(), data });
        if self.durable_snapshot.borrow().is_none_or(|durable| durable < index) {
            self.durable_snapshot.send_replace(Some(index));
        }
    }
}

fn snapshot_id(last: Option<LogId>) -> String {
    match last {
        Some(l) => format!("{}-{}", l.leader_id.term, l.index),
        None => "empty".to_string(),
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        // Encoded under the lock (a consistent store), written without it.
        let (meta, data) = {
            let inner = self.lock();
            let data = inner.store.encode_snapshot();
            let meta = SnapshotMeta {
                last_log_id: inner.last_applied,
                last_membership: inner.membership.clone(),
                snapshot_id: snapshot_id(inner.last_applied),
            };
            (meta, data)
        };
        let (written, data) = self.writer.write(&meta, data).await?;
        let mut inner = self.lock();
        if written {
            inner.adopt_durable_snapshot(&meta, data.clone());
        }
        if let Some(observer) = &inner.observer {
            observer.snapshot_built(inner.node, meta.last_log_id.map(|l| l.index).unwrap_or(0), &data);
        }
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let inner = self.lock();
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Answers>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.lock();
        let mut responses = Vec::new();
        for entry in entries {
            let log_id = *entry.get_log_id();
            if let Some(observer) = inner.observer.clone() {
                let bytes =
                    postcard::to_stdvec(&entry).map_err(|e| StorageIOError::apply(log_id, AnyError::new(&e)))?;
                observer.applied(inner.node, log_id.index, &bytes);
            }
            inner.last_applied = Some(log_id);
            let response = match entry.payload {
                EntryPayload::Blank => Vec::new(),
                EntryPayload::Normal(batch) => batch.0.iter().map(|proposal| inner.store.apply(proposal)).collect(),
                EntryPayload::Membership(membership) => {
                    inner.membership = StoredMembership::new(Some(log_id), membership);
                    Vec::new()
                }
            };
            responses.push(response);
        }
        let last_applied = inner.last_applied;
        inner.applied.send_replace(last_applied);
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let store = Store::decode_snapshot(&data).map_err(|e| {
            StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::error(format!("snapshot from leader does not decode: {e}")),
            )
        })?;
        let (_, data) = self.writer.write(meta, data).await?;
        let mut inner = self.lock();
        inner.store = store;
        inner.last_applied = meta.last_log_id;
        inner.membership = meta.last_membership.clone();
        inner.adopt_durable_snapshot(meta, data);
        inner.applied.send_replace(meta.last_log_id);
        if let Some(observer) = &inner.observer {
            observer.snapshot_installed(inner.node, meta.last_log_id.map(|l| l.index).unwrap_or(0));
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let inner = self.lock();
        Ok(inner
            .snapshot
            .as_ref()
            .map(|s| Snapshot { meta: s.meta.clone(), snapshot: Box::new(Cursor::new(s.data.clone())) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem_disk::MemDisk;

    fn meta_at(index: u64) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: Some(LogId::new(openraft::CommittedLeaderId::new(1, 1), index)),
            last_membership: StoredMembership::default(),
            snapshot_id: format!("1-{index}"),
        }
    }

    #[tokio::test]
    async fn an_older_snapshot_written_after_a_newer_one_is_skipped_and_deletes_nothing() {
        let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
        let writer = SnapshotWriter { disk: disk.clone(), newest_written: Arc::default(), data_key: None };
        let (written, _) = writer.write(&meta_at(200), b"newer".to_vec()).await.expect("write 200");
        assert!(written);
        // A build that encoded index 100 before the install of 200 finishes after it.
        let (written, _) = writer.write(&meta_at(100), b"older".to_vec()).await.expect("write 100");
        assert!(!written);
        let on_disk = snapshot_file::load_latest_snapshot(disk.as_ref()).expect("load").expect("a snapshot");
        assert_eq!((on_disk.index, on_disk.data), (200, b"newer".to_vec()));
        let (written, _) = writer.write(&meta_at(300), b"newest".to_vec()).await.expect("write 300");
        assert!(written);
        let on_disk = snapshot_file::load_latest_snapshot(disk.as_ref()).expect("load").expect("a snapshot");
        assert_eq!(on_disk.index, 300);
    }
}
