//! Snapshot files and small metadata files: round trips, "latest wins", and damage reported naming the file.

use std::sync::Arc;

use swarm_runtime::storage::disk::Disk;
use swarm_runtime::storage::files::FileError;
use swarm_runtime::storage::mem_disk::MemDisk;
use swarm_runtime::storage::meta_file::{load_meta, save_meta};
use swarm_runtime::storage::snapshot_file::{load_latest_snapshot, save_snapshot, snapshot_name, StoredSnapshot};

fn snapshots(disk: &dyn Disk) -> Vec<String> {
    disk.list().unwrap().into_iter().filter(|n| n.starts_with("snapshot-")).collect()
}

#[test]
fn snapshot_save_then_load_round_trips() {
    // (index, meta, data)
    let cases: &[(u64, &[u8], Vec<u8>)] = &[
        (0, b"", Vec::new()),
        (1, b"m", b"d".to_vec()),
        (42, b"meta bytes", (0..=255).collect()),
        (u64::MAX, &[0xff; 300], vec![7; 100_000]),
    ];
    for (index, meta, data) in cases {
        let disk = MemDisk::new();
        assert_eq!(load_latest_snapshot(&disk).unwrap(), None);
        save_snapshot(&disk, *index, meta, data).unwrap();
        // Durable at once.
        disk.crash_losing_unsynced();
        let loaded = load_latest_snapshot(&disk).unwrap().unwrap();
        assert_eq!(loaded, StoredSnapshot { index: *index, meta: meta.to_vec(), data: data.clone() });
        assert_eq!(snapshots(&disk), vec![snapshot_name(*index)]);
    }
    assert_eq!(snapshot_name(7), "snapshot-00000000000000000007.snap");
}

#[test]
fn saving_a_snapshot_makes_it_the_only_one() {
    let disk = MemDisk::new();
    // (index saved, then the files left)
    let steps: &[(u64, &[u64])] = &[(5, &[5]), (10, &[10]), (10, &[10]), (30, &[30]), (20, &[20])];
    for (index, left) in steps {
        save_snapshot(&disk, *index, b"meta", format!("data {index}").as_bytes()).unwrap();
        assert_eq!(snapshots(&disk), left.iter().map(|i| snapshot_name(*i)).collect::<Vec<_>>());
        let loaded = load_latest_snapshot(&disk).unwrap().unwrap();
        assert_eq!((loaded.index, loaded.data), (*index, format!("data {index}").into_bytes()));
    }
    // A crash between writing the new file and removing the old leaves both: the newest wins.
    save_snapshot(&disk, 3, b"old", b"old").unwrap();
    let old = disk.read(&snapshot_name(3)).unwrap().unwrap();
    save_snapshot(&disk, 8, b"new", b"new").unwrap();
    disk.write_atomic(&snapshot_name(3), &old).unwrap();
    assert_eq!(load_latest_snapshot(&disk).unwrap().unwrap().index, 8);
    // Other files are left alone.
    disk.write_atomic("raft-vote.meta", b"x").unwrap();
    save_snapshot(&disk, 9, b"", b"").unwrap();
    assert_eq!(disk.list().unwrap(), vec!["raft-vote.meta".to_string(), snapshot_name(9)]);
}

fn expect_corrupt<T: std::fmt::Debug>(result: Result<T, FileError>) -> (String, u64, String) {
    match result {
        Err(FileError::Corrupt { file, offset, reason }) => (file, offset, reason),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn damaged_newest_snapshot_is_an_error_naming_the_file() {
    let setup = || {
        let disk = MemDisk::new();
        save_snapshot(&disk, 12, b"the meta", b"the snapshot data").unwrap();
        disk
    };
    let name = snapshot_name(12);
    let len = setup().read(&name).unwrap().unwrap().len();
    // Every single flipped byte is caught.
    for offset in 0..len {
        let disk = setup();
        disk.corrupt(&name, offset, 0x20);
        let (file, _, reason) = expect_corrupt(load_latest_snapshot(&disk));
        assert_eq!(file, name, "byte {offset}: {reason}");
    }
    // Every cut is caught.
    for cut in 0..len {
        let disk = setup();
        disk.truncate(&name, cut as u64).unwrap();
        disk.sync(&name).unwrap();
        expect_corrupt(load_latest_snapshot(&disk));
    }
    // A valid file under another index's name.
    let disk = setup();
    let bytes = disk.read(&name).unwrap().unwrap();
    disk.write_atomic(&snapshot_name(13), &bytes).unwrap();
    let (file, _, reason) = expect_corrupt(load_latest_snapshot(&disk));
    assert_eq!(file, snapshot_name(13));
    assert!(reason.contains("header says index 12"), "{reason}");
    // A damaged newest snapshot is not skipped in favour of an older intact one.
    let disk = setup();
    disk.write_atomic(&snapshot_name(20), b"garbage").unwrap();
    let error = load_latest_snapshot(&disk).unwrap_err();
    assert!(
        error.to_string().starts_with("corrupt raft snapshot: snapshot-00000000000000000020.snap at byte 0:"),
        "{error}"
    );
    // A malformed snapshot name.
    let disk = setup();
    disk.write_atomic("snapshot-12.snap", b"").unwrap();
    assert_eq!(expect_corrupt(load_latest_snapshot(&disk)).0, "snapshot-12.snap");
}

#[test]
fn meta_files_round_trip_and_report_damage() {
    let disk = MemDisk::new();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    assert_eq!(load_meta(shared.as_ref(), "raft-vote.meta").unwrap(), None);
    for value in [&b""[..], b"v", &[0u8; 1000][..], b"term 7 voted for 3"] {
        save_meta(shared.as_ref(), "raft-vote.meta", value).unwrap();
        disk.crash_losing_unsynced();
        assert_eq!(load_meta(shared.as_ref(), "raft-vote.meta").unwrap().unwrap(), value);
    }
    let len = disk.read("raft-vote.meta").unwrap().unwrap().len();
    for offset in 0..len {
        let disk = MemDisk::new();
        save_meta(&disk, "raft-vote.meta", b"term 7 voted for 3").unwrap();
        disk.corrupt("raft-vote.meta", offset, 0x01);
        let (file, _, _) = expect_corrupt(load_meta(&disk, "raft-vote.meta"));
        assert_eq!(file, "raft-vote.meta");
    }
    for cut in 0..len {
        let disk = MemDisk::new();
        save_meta(&disk, "raft-vote.meta", b"term 7 voted for 3").unwrap();
        let bytes = disk.read("raft-vote.meta").unwrap().unwrap();
        disk.write_atomic("raft-vote.meta", &bytes[..cut]).unwrap();
        expect_corrupt(load_meta(&disk, "raft-vote.meta"));
    }
    let disk = MemDisk::new();
    disk.write_atomic("raft-purged.meta", b"not a meta file at all").unwrap();
    let error = load_meta(&disk, "raft-purged.meta").unwrap_err();
    assert_eq!(
        error.to_string(),
        "corrupt raft metadata: raft-purged.meta at byte 0: bad magic (not a metadata file); refusing to start"
    );
    // Names of log segments and snapshots are not metadata names; oversized metadata is refused.
    for reserved in ["wal-00000000000000000001.seg", "snapshot-00000000000000000001.snap"] {
        assert_eq!(save_meta(&disk, reserved, b"x").unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    }
    let big = vec![0; swarm_runtime::storage::meta_file::META_BYTES_MAX + 1];
    assert_eq!(save_meta(&disk, "big.meta", &big).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
}

/// xorshift64*: a tiny deterministic PRNG for garbage.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn garbage_snapshot_and_meta_files_never_panic() {
    let mut state = 7u64;
    for round in 0..500 {
        let len = (xorshift(&mut state) % 80) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
        // Half the rounds start with the right magic and format so the length checks run.
        if round % 2 == 0 && len >= 5 {
            let magic: &[u8] = if round % 4 == 0 { b"SWSN\x01" } else { b"SWMF\x01" };
            bytes[..5].copy_from_slice(magic);
        }
        let disk = MemDisk::new();
        disk.write_atomic(&snapshot_name(1), &bytes).unwrap();
        disk.write_atomic("x.meta", &bytes).unwrap();
        expect_corrupt(load_latest_snapshot(&disk));
        expect_corrupt(load_meta(&disk, "x.meta"));
    }
}

#[cfg(not(madsim))]
#[test]
fn snapshot_and_meta_on_fs_disk() {
    use swarm_runtime::storage::fs_disk::FsDisk;
    let dir = std::env::temp_dir().join(format!("swarm-wal-snapshot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let disk = FsDisk::open(dir.clone()).unwrap();
        save_snapshot(&disk, 4, b"m4", b"d4").unwrap();
        save_snapshot(&disk, 9, b"m9", b"d9").unwrap();
        save_meta(&disk, "raft-vote.meta", b"vote").unwrap();
    }
    let disk = FsDisk::open(dir.clone()).unwrap();
    assert_eq!(
        load_latest_snapshot(&disk).unwrap(),
        Some(StoredSnapshot { index: 9, meta: b"m9".to_vec(), data: b"d9".to_vec() })
    );
    assert_eq!(load_meta(&disk, "raft-vote.meta").unwrap().unwrap(), b"vote");
    assert_eq!(disk.list().unwrap(), vec!["raft-vote.meta".to_string(), snapshot_name(9)]);
    let _ = std::fs::remove_dir_all(&dir);
}
