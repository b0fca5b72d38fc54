//! The segment WAL through its public seam: round trips, crashes and torn tails, corruption, truncate/purge,
//! segment roll-over, garbage input. On-disk facts the tests rely on (documented in storage/wal.rs): a record is
//! `[len u32][crc u32][index u64][bytes]`, so it takes `16 + bytes.len()` bytes; segments are
//! `wal-<first index, 20 digits>.seg`.

#![allow(clippy::type_complexity)] // the data tables read better inline

use std::io;
use std::sync::{Arc, Mutex};

use swarm_runtime::storage::disk::Disk;
use swarm_runtime::storage::files::FileError;
use swarm_runtime::storage::mem_disk::MemDisk;
use swarm_runtime::storage::wal::{segment_name, TailRepair, Wal, WalOptions};

type Entries = Vec<(u64, Vec<u8>)>;

/// Entries `from..=to` with payloads of varying length (deterministic, distinct per index and `tag`).
fn entries(from: u64, to: u64, tag: &str) -> Entries {
    (from..=to).map(|i| (i, format!("{tag}-{i}-").repeat(1 + (i % 5) as usize).into_bytes())).collect()
}

/// Entries `from..=to` whose payloads are exactly `len` bytes (so the segment layout is predictable).
fn fixed(from: u64, to: u64, len: usize) -> Entries {
    (from..=to).map(|i| (i, vec![(i % 251) as u8; len])).collect()
}

fn record_len(entry: &(u64, Vec<u8>)) -> u64 {
    16 + entry.1.len() as u64
}

fn options(segment_bytes_target: u64) -> WalOptions {
    WalOptions { segment_bytes_target }
}

fn open(disk: &MemDisk, segment_bytes_target: u64) -> Result<(Wal, swarm_runtime::storage::wal::Recovered), FileError> {
    Wal::open_with(Arc::new(disk.clone()), options(segment_bytes_target))
}

fn segments(disk: &dyn Disk) -> Vec<String> {
    disk.list().unwrap().into_iter().filter(|n| n.starts_with("wal-")).collect()
}

fn expect_corrupt(result: Result<(Wal, swarm_runtime::storage::wal::Recovered), FileError>) -> (String, u64, String) {
    match result {
        Err(FileError::Corrupt { file, offset, reason }) => (file, offset, reason),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok((_, recovered)) => panic!("expected Corrupt, opened {} entries", recovered.entries.len()),
    }
}

const BIG: u64 = swarm_runtime::storage::wal::SEGMENT_BYTES_TARGET;

#[test]
fn append_then_reopen_returns_every_entry() {
    // (segment target, batches as (from, to))
    let cases: &[(u64, &[(u64, u64)])] = &[
        (BIG, &[(1, 1)]),
        (BIG, &[(0, 9)]),
        (BIG, &[(1, 3), (4, 4), (5, 40)]),
        (64, &[(1, 3), (4, 4), (5, 40)]),
        (200, &[(7, 100)]),
        (1, &[(1, 5), (6, 6)]),
    ];
    for (target, batches) in cases {
        let disk = MemDisk::new();
        let (mut wal, recovered) = open(&disk, *target).unwrap();
        assert_eq!(recovered.entries, Vec::new());
        assert_eq!((wal.first_index(), wal.last_index()), (None, None));
        let mut all = Entries::new();
        for (from, to) in *batches {
            let batch = entries(*from, *to, "a");
            wal.append(&batch).unwrap();
            all.extend(batch);
            // Every append is durable when it returns: a crash losing unsynced bytes keeps it all.
            assert_eq!(disk.list().unwrap().iter().map(|n| disk.unsynced_len(n)).sum::<usize>(), 0);
        }
        wal.append(&[]).unwrap();
        let first = all[0].0;
        let last = all.last().unwrap().0;
        assert_eq!((wal.first_index(), wal.last_index()), (Some(first), Some(last)));
        drop(wal);
        disk.crash(|unsynced| unsynced);
        let (mut wal, recovered) = open(&disk, *target).unwrap();
        assert_eq!(recovered.entries, all, "target {target}, batches {batches:?}");
        assert_eq!(recovered.repaired_tail, None);
        assert_eq!((wal.first_index(), wal.last_index()), (Some(first), Some(last)));
        // And the reopened log keeps appending.
        let more = entries(last + 1, last + 3, "b");
        wal.append(&more).unwrap();
        all.extend(more);
        let (_, recovered) = open(&disk, *target).unwrap();
        assert_eq!(recovered.entries, all);
    }
}

#[test]
fn segments_roll_over_at_the_target_and_are_named_by_first_index() {
    // payload 10 → record 26 bytes; (target, entries, expected first indexes of the segments)
    let cases: &[(u64, u64, &[u64])] = &[
        (BIG, 10, &[1]),
        (52, 10, &[1, 3, 5, 7, 9]),
        (77, 10, &[1, 3, 5, 7, 9]),
        (78, 10, &[1, 4, 7, 10]),
        (26, 3, &[1, 2, 3]),
        (10, 3, &[1, 2, 3]), // a record bigger than the target gets a segment of its own
    ];
    for (target, count, firsts) in cases {
        for batch_size in [1, 2, *count] {
            let disk = MemDisk::new();
            let (mut wal, _) = open(&disk, *target).unwrap();
            let all = fixed(1, *count, 10);
            for chunk in all.chunks(batch_size as usize) {
                wal.append(chunk).unwrap();
            }
            let expected: Vec<String> = firsts.iter().map(|i| segment_name(*i)).collect();
            assert_eq!(segments(&disk), expected, "target {target}, batch {batch_size}");
            let (_, recovered) = open(&disk, *target).unwrap();
            assert_eq!(recovered.entries, all);
            // Reopening with another target reads the same log.
            let (_, recovered) = open(&disk, BIG).unwrap();
            assert_eq!(recovered.entries, all);
        }
    }
    assert_eq!(segment_name(1), "wal-00000000000000000001.seg");
}

/// A disk whose `sync` fails (doing nothing) from the `fail_at`-th call on: the process "crashes" inside that
/// sync, so what reaches the platter is up to `MemDisk::crash`.
struct SyncFailsDisk {
    inner: MemDisk,
    syncs_left: Mutex<Option<usize>>,
}

impl SyncFailsDisk {
    fn new(inner: MemDisk) -> SyncFailsDisk {
        SyncFailsDisk { inner, syncs_left: Mutex::new(None) }
    }

    fn fail_after(&self, syncs: usize) {
        *self.syncs_left.lock().unwrap() = Some(syncs);
    }
}

impl Disk for SyncFailsDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.inner.read(name)
    }
    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.inner.append(name, bytes)
    }
    fn sync(&self, name: &str) -> io::Result<()> {
        let mut left = self.syncs_left.lock().unwrap();
        match *left {
            Some(0) => Err(io::Error::other("injected sync failure")),
            Some(n) => {
                *left = Some(n - 1);
                self.inner.sync(name)
            }
            None => self.inner.sync(name),
        }
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        self.inner.truncate(name, len)
    }
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_atomic(name, bytes)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(name)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
}

#[test]
fn crash_before_sync_loses_unsynced_records() {
    let disk = MemDisk::new();
    let faulty = Arc::new(SyncFailsDisk::new(disk.clone()));
    let (mut wal, _) = Wal::open(faulty.clone()).unwrap();
    let durable = entries(1, 5, "d");
    wal.append(&durable).unwrap();
    faulty.fail_after(0);
    wal.append(&entries(6, 8, "lost")).unwrap_err();
    disk.crash_losing_unsynced();
    let (wal, recovered) = Wal::open(Arc::new(disk.clone())).unwrap();
    assert_eq!(recovered.entries, durable);
    assert_eq!(recovered.repaired_tail, None);
    assert_eq!(wal.last_index(), Some(5));
}

#[test]
fn torn_tail_of_every_length_is_cut_back_to_the_whole_records() {
    // (segment target, durable entries, in-flight batch, syncs that succeed inside the in-flight append)
    // With a small target the in-flight batch rolls into new segments; each roll syncs the closed segment
    // first, so only the last segment is ever torn.
    let cases: &[(u64, (u64, u64), (u64, u64), usize)] = &[
        (BIG, (1, 5), (6, 6), 0),
        (BIG, (1, 5), (6, 9), 0),
        (BIG, (0, 0), (1, 3), 0),
        // payload 20 → record 36 bytes; target 80 → two records per segment
        (80, (1, 1), (2, 2), 0), // the torn record shares its segment with a durable one
        (80, (1, 2), (3, 3), 0), // the in-flight record starts a new segment
        (80, (1, 2), (3, 6), 1), // rolls twice: wal-3 synced when closed, wal-5 torn
        (80, (1, 3), (4, 8), 2), // wal-3 completed and synced, wal-5 synced, wal-7 torn
    ];
    for (target, (d_from, d_to), (f_from, f_to), syncs_ok) in cases {
        let durable = fixed(*d_from, *d_to, 20);
        let in_flight = fixed(*f_from, *f_to, 20);
        // Bytes of the in-flight batch that land in the last (torn) segment: recompute the layout.
        let probe = MemDisk::new();
        {
            let (mut wal, _) = open(&probe, *target).unwrap();
            wal.append(&durable).unwrap();
            wal.append(&in_flight).unwrap();
        }
        let last_segment = segments(&probe).pop().unwrap();
        let last_first: u64 = last_segment[4..24].parse().unwrap();
        let torn_records: Entries = in_flight.iter().filter(|e| e.0 >= last_first).cloned().collect();
        let synced_in_flight: Entries = in_flight.iter().filter(|e| e.0 < last_first).cloned().collect();
        let torn_bytes: u64 = torn_records.iter().map(record_len).sum();

        for kept in 0..=torn_bytes as usize {
            let disk = MemDisk::new();
            let faulty = Arc::new(SyncFailsDisk::new(disk.clone()));
            let (mut wal, _) = Wal::open_with(faulty.clone(), options(*target)).unwrap();
            wal.append(&durable).unwrap();
            faulty.fail_after(*syncs_ok);
            wal.append(&in_flight).unwrap_err();
            let mut asked = Vec::new();
            disk.crash(|unsynced| {
                asked.push(unsynced);
                kept
            });
            assert_eq!(asked, vec![torn_bytes as usize], "only the last segment has unsynced bytes");

            let mut expected = durable.clone();
            expected.extend(synced_in_flight.iter().cloned());
            let mut end = 0;
            let mut whole_bytes = 0;
            for record in &torn_records {
                end += record_len(record);
                if end <= kept as u64 {
                    expected.push(record.clone());
                    whole_bytes = end;
                }
            }
            let (wal, recovered) = Wal::open_with(Arc::new(disk.clone()), options(*target)).unwrap();
            let context = format!("target {target}, in flight {f_from}..={f_to}, kept {kept} of {torn_bytes}");
            assert_eq!(recovered.entries, expected, "{context}");
            // Durable records that share the torn segment come first in it.
            let segment_start: u64 = durable.iter().filter(|e| e.0 >= last_first).map(record_len).sum();
            let expected_repair = if kept as u64 == whole_bytes {
                None
            } else {
                Some(TailRepair {
                    file: last_segment.clone(),
                    offset: segment_start + whole_bytes,
                    dropped_bytes: kept as u64 - whole_bytes,
                })
            };
            assert_eq!(recovered.repaired_tail, expected_repair, "{context}");
            assert_eq!(wal.last_index(), expected.last().map(|e| e.0), "{context}");
            // The repair is durable and the log is usable: append, crash keeping nothing unsynced, reopen.
            let next = expected.last().unwrap().0 + 1;
            let mut wal = wal;
            wal.append(&fixed(next, next + 1, 3)).unwrap();
            disk.crash_losing_unsynced();
            let (_, again) = Wal::open_with(Arc::new(disk.clone()), options(*target)).unwrap();
            assert_eq!(again.repaired_tail, None, "{context}");
            expected.extend(fixed(next, next + 1, 3));
            assert_eq!(again.entries, expected, "{context}");
        }
    }
}

#[test]
fn damaged_record_followed_by_valid_ones_is_corruption_and_the_last_one_is_a_torn_tail() {
    // 10 records of 16 + 20 bytes in one segment: record r (1-based) starts at 36 * (r - 1).
    const REC: u64 = 36;
    enum Expect {
        Corrupt { record: u64, reason: &'static str },
        Torn { record: u64 },
    }
    use Expect::*;
    // (record to damage, byte within the record, xor, expectation)
    let cases: &[(u64, u64, u8, Expect)] = &[
        (3, 20, 0x01, Corrupt { record: 3, reason: "checksum mismatch" }),
        (1, 4, 0xff, Corrupt { record: 1, reason: "checksum mismatch" }),
        (1, 8, 0x01, Corrupt { record: 1, reason: "checksum mismatch" }), // the index field
        (5, 0, 0x01, Corrupt { record: 5, reason: "checksum mismatch" }), // length one off
        (5, 3, 0x80, Corrupt { record: 5, reason: "out of bounds" }),     // length huge
        (9, 0, 0x40, Corrupt { record: 9, reason: "runs past the end" }),
        (9, 35, 0x10, Corrupt { record: 9, reason: "checksum mismatch" }),
        (10, 20, 0x01, Torn { record: 10 }),
        (10, 0, 0x01, Torn { record: 10 }),
        (10, 3, 0x80, Torn { record: 10 }),
        (10, 35, 0x01, Torn { record: 10 }),
    ];
    for (record, byte, xor, expect) in cases {
        let disk = MemDisk::new();
        let all = fixed(1, 10, 20);
        Wal::open(Arc::new(disk.clone())).unwrap().0.append(&all).unwrap();
        let file = segment_name(1);
        disk.corrupt(&file, (REC * (record - 1) + byte) as usize, *xor);
        let result = Wal::open(Arc::new(disk.clone()));
        match expect {
            Corrupt { record, reason } => {
                let (f, offset, why) = expect_corrupt(result);
                assert_eq!((f.as_str(), offset), (file.as_str(), REC * (record - 1)), "{why}");
                assert!(why.contains(reason), "{why}");
                assert!(why.contains("followed by valid records"), "{why}");
                // Refusing is stable: nothing was repaired.
                assert_eq!(disk.snapshot_bytes(&file).unwrap().len() as u64, REC * 10);
            }
            Torn { record } => {
                let (_, recovered) = result.unwrap();
                assert_eq!(recovered.entries, all[..(*record - 1) as usize].to_vec());
                let repair = recovered.repaired_tail.unwrap();
                assert_eq!((repair.offset, repair.dropped_bytes), (REC * (record - 1), REC));
                assert_eq!(disk.synced_bytes(&file).unwrap().len() as u64, REC * (record - 1));
            }
        }
    }
}

#[test]
fn corruption_message_names_file_offset_and_reason() {
    let disk = MemDisk::new();
    Wal::open(Arc::new(disk.clone())).unwrap().0.append(&fixed(1, 200, 20)).unwrap();
    disk.corrupt(&segment_name(1), 36 * 113 + 30, 0x04);
    let error = Wal::open(Arc::new(disk.clone())).unwrap_err();
    assert_eq!(
        error.to_string(),
        "corrupt raft log: wal-00000000000000000001.seg at byte 4068: checksum mismatch (record is followed by \
         valid records, so this is not a torn tail); refusing to start"
    );
}

#[test]
fn damage_outside_the_last_segment_or_gaps_between_segments_are_corruption() {
    // payload 20 → record 36 bytes; target 72 → segments wal-1 (1,2), wal-3 (3,4), wal-5 (5,6)
    let setup = || {
        let disk = MemDisk::new();
        open(&disk, 72).unwrap().0.append(&fixed(1, 6, 20)).unwrap();
        assert_eq!(segments(&disk), vec![segment_name(1), segment_name(3), segment_name(5)]);
        disk
    };

    // The last record of a segment that is not the last one.
    let disk = setup();
    disk.corrupt(&segment_name(3), 36 + 20, 0x01);
    let (file, offset, reason) = expect_corrupt(open(&disk, 72));
    assert_eq!((file, offset), (segment_name(3), 36));
    assert!(reason.contains("not the last one"), "{reason}");

    // A cut-short segment that is not the last one.
    let disk = setup();
    disk.truncate(&segment_name(1), 50).unwrap();
    disk.sync(&segment_name(1)).unwrap();
    let (file, offset, reason) = expect_corrupt(open(&disk, 72));
    assert_eq!((file, offset), (segment_name(1), 36));
    assert!(reason.contains("runs past the end"), "{reason}");

    // A missing middle segment.
    let disk = setup();
    disk.remove(&segment_name(3)).unwrap();
    let (file, offset, reason) = expect_corrupt(open(&disk, 72));
    assert_eq!((file, offset), (segment_name(5), 0));
    assert!(reason.contains("previous segment ends at 2"), "{reason}");

    // A segment whose name does not match its first record.
    let disk = setup();
    let bytes = disk.read(&segment_name(5)).unwrap().unwrap();
    disk.remove(&segment_name(5)).unwrap();
    disk.write_atomic(&segment_name(6), &bytes).unwrap();
    let (file, offset, reason) = expect_corrupt(open(&disk, 72));
    assert_eq!((file, offset), (segment_name(6), 0));
    assert!(reason.contains("index 5 where 6 was expected"), "{reason}");

    // An empty segment that is not the last one.
    let disk = setup();
    disk.write_atomic(&segment_name(3), b"").unwrap();
    let (file, offset, _) = expect_corrupt(open(&disk, 72));
    assert_eq!((file, offset), (segment_name(3), 0));

    // A malformed segment file name.
    let disk = setup();
    disk.write_atomic("wal-12.seg", b"").unwrap();
    let (file, _, _) = expect_corrupt(open(&disk, 72));
    assert_eq!(file, "wal-12.seg");

    // An empty last segment (created, nothing survived) is a torn tail: removed.
    let disk = setup();
    disk.write_atomic(&segment_name(7), b"").unwrap();
    let (_, recovered) = open(&disk, 72).unwrap();
    assert_eq!(recovered.entries, fixed(1, 6, 20));
    assert_eq!(recovered.repaired_tail.unwrap().file, segment_name(7));
    assert_eq!(segments(&disk).len(), 3);

    // Other files in the directory are not the log's business.
    let disk = setup();
    disk.write_atomic("raft-vote.meta", b"whatever").unwrap();
    disk.write_atomic("snapshot-00000000000000000004.snap", b"x").unwrap();
    assert_eq!(open(&disk, 72).unwrap().1.entries, fixed(1, 6, 20));
}

#[test]
fn truncate_from_removes_the_suffix_durably() {
    // payload 20 → record 36 bytes; target 72 → two records per segment. Log 1..=10.
    // (truncate_from index, entries left, segment files left)
    let cases: &[(u64, Option<(u64, u64)>, &[u64])] = &[
        (11, Some((1, 10)), &[1, 3, 5, 7, 9]),
        (99, Some((1, 10)), &[1, 3, 5, 7, 9]),
        (10, Some((1, 9)), &[1, 3, 5, 7, 9]),
        (9, Some((1, 8)), &[1, 3, 5, 7]),
        (6, Some((1, 5)), &[1, 3, 5]),
        (2, Some((1, 1)), &[1]),
        (1, None, &[]),
        (0, None, &[]),
    ];
    for (from, left, files) in cases {
        let disk = MemDisk::new();
        let (mut wal, _) = open(&disk, 72).unwrap();
        let all = fixed(1, 10, 20);
        wal.append(&all).unwrap();
        wal.truncate_from(*from).unwrap();
        let expected: Entries = all.iter().filter(|e| e.0 < *from).cloned().collect();
        assert_eq!(wal.last_index(), left.map(|l| l.1), "truncate_from({from})");
        assert_eq!(wal.first_index(), left.map(|l| l.0));
        assert_eq!(segments(&disk), files.iter().map(|i| segment_name(*i)).collect::<Vec<_>>());
        // Durable at once.
        disk.crash_losing_unsynced();
        let (mut wal, recovered) = open(&disk, 72).unwrap();
        assert_eq!(recovered.entries, expected, "truncate_from({from})");
        assert_eq!(recovered.repaired_tail, None);
        // Appending after a truncation replaces the suffix; an empty log accepts any next index.
        let next = left.map(|l| l.1 + 1).unwrap_or(50);
        let replacement = entries(next, next + 4, "new-term");
        wal.append(&replacement).unwrap();
        let (_, recovered) = open(&disk, 72).unwrap();
        let mut expected = expected;
        expected.extend(replacement);
        assert_eq!(recovered.entries, expected, "truncate_from({from}) then append");
    }
}

#[test]
fn purge_upto_removes_only_whole_segments() {
    // Two records per segment: wal-1 (1,2), wal-3 (3,4), ... wal-9 (9,10).
    // (purge_upto index, first index left (None = empty))
    let cases: &[(u64, Option<u64>)] =
        &[(0, Some(1)), (1, Some(1)), (2, Some(3)), (3, Some(3)), (4, Some(5)), (9, Some(9)), (10, None), (500, None)];
    for (upto, first) in cases {
        let disk = MemDisk::new();
        let (mut wal, _) = open(&disk, 72).unwrap();
        let all = fixed(1, 10, 20);
        wal.append(&all).unwrap();
        wal.purge_upto(*upto).unwrap();
        assert_eq!(wal.first_index(), *first, "purge_upto({upto})");
        assert_eq!(wal.last_index(), first.map(|_| 10));
        let expected: Entries = all.iter().filter(|e| first.is_some_and(|f| e.0 >= f)).cloned().collect();
        disk.crash_losing_unsynced();
        let (mut wal, recovered) = open(&disk, 72).unwrap();
        assert_eq!(recovered.entries, expected, "purge_upto({upto})");
        assert_eq!(wal.first_index(), *first);
        // The log continues after the purge point.
        let next = first.map(|_| 11).unwrap_or(upto + 1);
        wal.append(&fixed(next, next + 2, 20)).unwrap();
        let (wal, recovered) = open(&disk, 72).unwrap();
        assert_eq!(recovered.entries.last().unwrap().0, next + 2);
        assert_eq!(wal.first_index(), Some(first.unwrap_or(next)));
    }
}

#[test]
fn io_error_makes_the_log_refuse_further_writes() {
    let disk = MemDisk::new();
    let faulty = Arc::new(SyncFailsDisk::new(disk.clone()));
    let (mut wal, _) = Wal::open(faulty.clone()).unwrap();
    wal.append(&entries(1, 3, "x")).unwrap();
    faulty.fail_after(0);
    assert!(wal.append(&entries(4, 4, "x")).is_err());
    *faulty.syncs_left.lock().unwrap() = None;
    for result in [wal.append(&entries(5, 5, "x")), wal.truncate_from(2), wal.purge_upto(1)] {
        let message = result.unwrap_err().to_string();
        assert!(message.contains("earlier I/O error"), "{message}");
    }
    // Restart recovers from what is on disk.
    disk.crash_losing_unsynced();
    let (mut wal, recovered) = Wal::open(Arc::new(disk.clone())).unwrap();
    assert_eq!(recovered.entries, entries(1, 3, "x"));
    wal.append(&entries(4, 4, "y")).unwrap();
}

#[test]
fn oversized_entry_is_refused_before_anything_is_written() {
    let disk = MemDisk::new();
    let (mut wal, _) = Wal::open(Arc::new(disk.clone())).unwrap();
    let big = vec![0u8; swarm_runtime::storage::wal::RECORD_BYTES_MAX - 8 + 1];
    let error = wal.append(&[(1, b"ok".to_vec()), (2, big)]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(wal.last_index(), None);
    assert_eq!(segments(&disk), Vec::<String>::new());
    wal.append(&[(1, b"ok".to_vec())]).unwrap();
}

#[test]
#[should_panic(expected = "does not follow")]
fn non_consecutive_append_is_a_bug() {
    let (mut wal, _) = Wal::open(Arc::new(MemDisk::new())).unwrap();
    wal.append(&entries(1, 3, "x")).unwrap();
    let _ = wal.append(&entries(5, 5, "x"));
}

/// xorshift64*: a tiny deterministic PRNG for garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn garbage_segments_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let disk = MemDisk::new();
        let len = rng.below(300) as usize;
        let mut file = rng.bytes(len);
        // Some rounds get plausible headers (small lengths) so the checksum path runs too.
        if round % 2 == 0 && file.len() >= 4 {
            let len = (rng.below(file.len() as u64) as u32).to_le_bytes();
            file[..4].copy_from_slice(&len);
        }
        disk.write_atomic(&segment_name(1), &file).unwrap();
        if round % 3 == 0 {
            let (first, len) = (1 + rng.below(5), rng.below(64) as usize);
            disk.write_atomic(&segment_name(first), &rng.bytes(len)).unwrap();
        }
        match open(&disk, 1 + rng.below(200)) {
            Ok((mut wal, recovered)) => {
                // Whatever was accepted is consistent and the log is usable.
                for pair in recovered.entries.windows(2) {
                    assert_eq!(pair[0].0 + 1, pair[1].0);
                }
                let next = wal.last_index().map(|l| l + 1).unwrap_or(1);
                wal.append(&[(next, b"after".to_vec())]).unwrap();
            }
            Err(FileError::Corrupt { .. }) => {}
            Err(other) => panic!("round {round}: unexpected {other}"),
        }
    }
}

#[test]
fn random_damage_to_a_valid_log_is_refused_or_yields_a_prefix() {
    let mut rng = Rng(42);
    for round in 0..300 {
        let disk = MemDisk::new();
        let all = entries(1, 1 + rng.below(30), "r");
        let target = 64 + rng.below(400);
        open(&disk, target).unwrap().0.append(&all).unwrap();
        let files = segments(&disk);
        let victim = &files[rng.below(files.len() as u64) as usize];
        let len = disk.read(victim).unwrap().unwrap().len();
        match rng.below(3) {
            0 => disk.corrupt(victim, rng.below(len as u64) as usize, 1 + rng.below(255) as u8),
            1 => {
                disk.truncate(victim, rng.below(len as u64)).unwrap();
                disk.sync(victim).unwrap();
            }
            _ => {
                let extra = 1 + rng.below(100) as usize;
                disk.append(victim, &rng.bytes(extra)).unwrap();
                disk.sync(victim).unwrap();
            }
        }
        match open(&disk, target) {
            Ok((_, recovered)) => {
                assert!(all.starts_with(&recovered.entries), "round {round}: not a prefix");
                // Only damage at the end of the last segment may be repaired.
                if recovered.entries.len() < all.len() {
                    assert_eq!(Some(victim), files.last(), "round {round}");
                }
            }
            Err(FileError::Corrupt { file, .. }) => assert_eq!(&file, victim, "round {round}"),
            Err(other) => panic!("round {round}: unexpected {other}"),
        }
    }
}

#[cfg(not(madsim))]
#[test]
fn fs_disk_round_trip_with_truncate_purge_and_torn_tail() {
    use swarm_runtime::storage::fs_disk::FsDisk;
    let dir = std::env::temp_dir().join(format!("swarm-wal-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let disk = || -> Arc<dyn Disk> { Arc::new(FsDisk::open(dir.clone()).unwrap()) };

    let (mut wal, recovered) = Wal::open_with(disk(), options(100)).unwrap();
    assert_eq!(recovered.entries, Vec::new());
    let all = fixed(1, 20, 20);
    for chunk in all.chunks(3) {
        wal.append(chunk).unwrap();
    }
    drop(wal);
    let (mut wal, recovered) = Wal::open_with(disk(), options(100)).unwrap();
    assert_eq!(recovered.entries, all);
    wal.truncate_from(15).unwrap();
    wal.purge_upto(6).unwrap();
    let replacement = entries(15, 17, "fs");
    wal.append(&replacement).unwrap();
    drop(wal);
    let (wal, recovered) = Wal::open_with(disk(), options(100)).unwrap();
    let mut expected: Entries = all.iter().filter(|e| (7..15).contains(&e.0)).cloned().collect();
    expected.extend(replacement);
    assert_eq!(recovered.entries, expected);
    assert_eq!((wal.first_index(), wal.last_index()), (Some(7), Some(17)));
    drop(wal);

    // Half a record at the end of the last segment (a torn write) is cut off on open.
    let last = segments(disk().as_ref()).pop().unwrap();
    let path = dir.join(&last);
    let before = std::fs::metadata(&path).unwrap().len();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[30, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&path, &bytes).unwrap();
    let (_, recovered) = Wal::open_with(disk(), options(100)).unwrap();
    assert_eq!(recovered.entries, expected);
    assert_eq!(recovered.repaired_tail, Some(TailRepair { file: last, offset: before, dropped_bytes: 7 }));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn indexes_at_the_top_of_the_range_do_not_overflow() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk, 40).unwrap();
    let top = vec![(u64::MAX - 1, b"a".to_vec()), (u64::MAX, b"b".to_vec())];
    wal.append(&top).unwrap();
    assert_eq!(open(&disk, 40).unwrap().1.entries, top);
    // A segment claiming to continue past u64::MAX is corruption, not a wrap to 0.
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk, BIG).unwrap();
    wal.append(&[(u64::MAX, b"x".to_vec())]).unwrap();
    let mut bytes = disk.read(&segment_name(u64::MAX)).unwrap().unwrap();
    let zero = MemDisk::new();
    open(&zero, BIG).unwrap().0.append(&[(0, b"y".to_vec())]).unwrap();
    bytes.extend(zero.read(&segment_name(0)).unwrap().unwrap());
    bytes.extend(zero.read(&segment_name(0)).unwrap().unwrap());
    disk.write_atomic(&segment_name(u64::MAX), &bytes).unwrap();
    let (_, offset, reason) = expect_corrupt(open(&disk, BIG));
    assert_eq!(offset, 17);
    assert!(reason.contains("where 18446744073709551616 was expected"), "{reason}");
}
