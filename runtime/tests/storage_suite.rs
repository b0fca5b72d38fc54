//! openraft's own storage compliance suite (`openraft::testing::Suite`) run against our WAL-backed log store and
//! snapshot-persisting state machine on an in-memory disk, encrypted at rest as every manager's are: the contract openraft relies on, checked by openraft.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use swarm_runtime::aead::AeadKey;
use swarm_runtime::raft::log_store::LogStore;
use swarm_runtime::raft::state_machine::StateMachine;
use swarm_runtime::raft::types::{StorageError, TypeConfig};
use swarm_runtime::storage::mem_disk::MemDisk;

struct MemDiskStores;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, ()> for MemDiskStores {
    async fn build(&self) -> Result<((), LogStore, StateMachine), StorageError> {
        let disk = Arc::new(MemDisk::new());
        // With a data key, as every manager runs: the log and snapshots are sealed at rest.
        let key = Some(Arc::new(AeadKey::from_bytes(&[4; 32])));
        let (log, _recovery) = LogStore::open(disk.clone(), key.clone()).expect("an empty disk opens");
        let state = StateMachine::open(1, disk, None, key).expect("an empty disk opens");
        Ok(((), log, state))
    }
}

#[test]
fn openraft_storage_suite_passes_on_mem_disk() {
    Suite::test_all(MemDiskStores).expect("storage suite");
}
