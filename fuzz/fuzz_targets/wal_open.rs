//! Any bytes found in a WAL segment on disk make `Wal::open` recover entries, repair a torn tail, or refuse with
//! `FileError::Corrupt` naming the file — never panic.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use swarm_runtime::storage::disk::Disk;
use swarm_runtime::storage::mem_disk::MemDisk;
use swarm_runtime::storage::wal::{segment_name, Wal};

fuzz_target!(|data: &[u8]| {
    let disk = MemDisk::new();
    disk.append(&segment_name(1), data).expect("append");
    disk.sync(&segment_name(1)).expect("sync");
    let _ = Wal::open(Arc::new(disk));
});
