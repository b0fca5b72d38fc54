//! openraft's `RaftStateMachine` over the pure core `Store`. Applying a committed entry is `Store::apply`; the
//! state itself is volatile and rebuilt on start from the newest persisted snapshot (openraft then re-applies
//! the committed log after it). Invariant: a snapshot's data is exactly the core's deterministic encoding of the
//! store at `last_applied`, so two managers' snapshots at the same index are byte-identical; a snapshot is
//! durable on disk before openraft is told it exists (build and install both persist first).

use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{AnyError, EntryPayload, RaftLogId, RaftSnapshotBuilder, StorageIOError};
use swarm_core::Store;

use super::types::{Answers, Entry, LogId, NodeId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
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
    disk: Arc<dyn Disk>,
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
}

impl StateMachine {
    pub fn open(
        node: NodeId,
        disk: Arc<dyn Disk>,
        observer: Option<Arc<dyn RaftObserver>>,
    ) -> Result<Self, StateOpenError> {
        let mut inner = Inner {
            node,
            disk: disk.clone(),
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
            let store = Store::decode_snapshot(&stored.data)
                .map_err(|e| StateOpenError::Snapshot { index, reason: e.to_string() })?;
            inner.store = store;
            inner.last_applied = meta.last_log_id;
            inner.membership = meta.last_membership.clone();
            inner.durable_snapshot.send_replace(Some(index));
            inner.applied.send_replace(meta.last_log_id);
            inner.snapshot = Some(StoredSnapshot { meta, data: stored.data });
        }
        Ok(Self { inner: Arc::new(Mutex::new(inner)) })
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

#[allow(clippy::result_large_err)] // openraft's own error type, passed on as its trait methods return it
fn persist(inner: &Inner, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
    let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
    let meta_bytes = postcard::to_stdvec(meta)
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)))?;
    snapshot_file::save_snapshot(inner.disk.as_ref(), index, &meta_bytes, data)
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)))?;
    inner.durable_snapshot.send_replace(Some(index));
    Ok(())
}

fn snapshot_id(last: Option<LogId>) -> String {
    match last {
        Some(l) => format!("{}-{}", l.leader_id.term, l.index),
        None => "empty".to_string(),
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let mut inner = self.lock();
        let data = inner.store.encode_snapshot();
        let meta = SnapshotMeta {
            last_log_id: inner.last_applied,
            last_membership: inner.membership.clone(),
            snapshot_id: snapshot_id(inner.last_applied),
        };
        persist(&inner, &meta, &data)?;
        if let Some(observer) = &inner.observer {
            observer.snapshot_built(inner.node, meta.last_log_id.map(|l| l.index).unwrap_or(0), &data);
        }
        inner.snapshot = Some(StoredSnapshot { meta: meta.clone(), data: data.clone() });
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
        let mut inner = self.lock();
        persist(&inner, meta, &data)?;
        inner.store = store;
        inner.last_applied = meta.last_log_id;
        inner.membership = meta.last_membership.clone();
        inner.snapshot = Some(StoredSnapshot { meta: meta.clone(), data });
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
