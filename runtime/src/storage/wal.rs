//! The Raft log as append-only segment files on a `Disk`, one checksummed record per entry. The WAL is generic: a record's payload is opaque bytes
//! tagged with its log index; the caller stores serialized openraft entries.
//!
//! Layout: segment files `wal-<index of its first record, 20 digits>.seg`; each record is
//! `[payload_len u32 LE][crc32 of payload u32 LE][payload]`, payload = `[index u64 LE][entry bytes]`.
//! Invariants: indexes are consecutive across all segments; every segment holds at least one record; only the
//! last segment may hold unsynced bytes (a segment is synced before the next one is started), so damage that is
//! not at the very end of the last segment cannot be a torn write and is reported as corruption, never repaired.
//! `append` is durable when it returns (one sync per call: group commit).

use std::io;
use std::sync::Arc;

use super::disk::Disk;
use super::files::{corrupt, u32_at, FileError, SEGMENT_PREFIX};

/// Largest record payload (index + entry bytes) accepted by `append` and by recovery.
pub const RECORD_BYTES_MAX: usize = 64 << 20;
/// A segment is closed and a new one started once appending the next record would take it past this size.
pub const SEGMENT_BYTES_TARGET: u64 = 64 << 20;

/// Record header: payload length and payload checksum.
const RECORD_HEADER_BYTES: usize = 8;
/// The payload starts with the index.
const PAYLOAD_INDEX_BYTES: usize = 8;

const SEGMENT_SUFFIX: &str = ".seg";

/// Tuning knobs; `Default` gives the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// See `SEGMENT_BYTES_TARGET`. Small values are for tests of segment roll-over.
    pub segment_bytes_target: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions { segment_bytes_target: SEGMENT_BYTES_TARGET }
    }
}

/// What `Wal::open` found on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Every stored entry, indexes consecutive (may include entries the caller already purged: purge removes
    /// whole segments only).
    pub entries: Vec<(u64, Vec<u8>)>,
    /// Set when the end of the last segment was a torn write and was cut off.
    pub repaired_tail: Option<TailRepair>,
}

/// A torn tail cut off during recovery: `file` was truncated at `offset`, dropping `dropped_bytes` (when
/// `offset` is 0 the file was removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailRepair {
    pub file: String,
    pub offset: u64,
    pub dropped_bytes: u64,
}

/// In-memory index of one segment file.
#[derive(Debug, Clone)]
struct Segment {
    name: String,
    first_index: u64,
    /// Byte offset of each record; record `i` holds index `first_index + i`. Never empty.
    offsets: Vec<u64>,
    /// File length in bytes.
    len: u64,
}

impl Segment {
    fn last_index(&self) -> u64 {
        self.first_index + (self.offsets.len() as u64 - 1)
    }
}

/// The append-only Raft log. Not internally synchronised: the caller serialises access (`&mut self`).
pub struct Wal {
    disk: Arc<dyn Disk>,
    options: WalOptions,
    segments: Vec<Segment>,
    /// Set after a failed write or sync: the on-disk state is unknown (a failed fsync cannot be retried
    /// safely), so every later mutation fails until the node restarts and recovers from what is on disk.
    failed: Option<String>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("first_index", &self.first_index())
            .field("last_index", &self.last_index())
            .field("segments", &self.segments.len())
            .field("failed", &self.failed)
            .finish()
    }
}

/// The file name of the segment whose first record has `first_index`.
pub fn segment_name(first_index: u64) -> String {
    format!("{SEGMENT_PREFIX}{first_index:020}{SEGMENT_SUFFIX}")
}

/// `Some(Ok(index))` for a well-formed segment name, `Some(Err(()))` for a name that looks like a segment but
/// is malformed, `None` for other files.
fn parse_segment_name(name: &str) -> Option<Result<u64, ()>> {
    let middle = name.strip_prefix(SEGMENT_PREFIX)?.strip_suffix(SEGMENT_SUFFIX)?;
    if middle.len() != 20 || !middle.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Err(()));
    }
    Some(middle.parse::<u64>().map_err(|_| ()))
}

fn encode_record(out: &mut Vec<u8>, index: u64, bytes: &[u8]) {
    let payload_len = (PAYLOAD_INDEX_BYTES + bytes.len()) as u32;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&index.to_le_bytes());
    hasher.update(bytes);
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(bytes);
}

fn record_len(bytes: &[u8]) -> u64 {
    (RECORD_HEADER_BYTES + PAYLOAD_INDEX_BYTES + bytes.len()) as u64
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// One record decoded from a segment.
struct Record<'a> {
    index: u64,
    bytes: &'a [u8],
    end: usize,
}

/// Decodes the record at `at`; `Err` says why it is not a valid record. Never panics.
fn parse_record(file: &[u8], at: usize) -> Result<Record<'_>, String> {
    let left = file.len() - at;
    if left < RECORD_HEADER_BYTES {
        return Err(format!("incomplete record header ({left} of {RECORD_HEADER_BYTES} bytes)"));
    }
    let payload_len = u32_at(file, at) as usize;
    if !(PAYLOAD_INDEX_BYTES..=RECORD_BYTES_MAX).contains(&payload_len) {
        return Err(format!("record length {payload_len} out of bounds ({PAYLOAD_INDEX_BYTES}..={RECORD_BYTES_MAX})"));
    }
    let start = at + RECORD_HEADER_BYTES;
    if payload_len > file.len() - start {
        return Err(format!(
            "record of {payload_len} bytes runs past the end of the file ({} bytes left)",
            file.len() - start
        ));
    }
    let payload = &file[start..start + payload_len];
    if crc32fast::hash(payload) != u32_at(file, at + 4) {
        return Err("checksum mismatch".to_string());
    }
    Ok(Record { index: u64_at(payload, 0), bytes: &payload[PAYLOAD_INDEX_BYTES..], end: start + payload_len })
}

/// Whether a valid record with an index above `after_index` starts at some offset in `from..`: then damage
/// before `from` is not a torn tail (a torn write is always the last thing in the file).
fn valid_record_after(file: &[u8], from: usize, after_index: Option<u64>) -> Option<usize> {
    (from..file.len().saturating_sub(RECORD_HEADER_BYTES + PAYLOAD_INDEX_BYTES - 1)).find(|&at| {
        match parse_record(file, at) {
            Ok(record) => after_index.is_none_or(|after| record.index > after),
            Err(_) => false,
        }
    })
}

impl Wal {
    /// Opens the log with default options. See `open_with`.
    pub fn open(disk: Arc<dyn Disk>) -> Result<(Wal, Recovered), FileError> {
        Wal::open_with(disk, WalOptions::default())
    }

    /// Reads every segment in order and returns the stored entries. A torn tail of the last segment is cut off
    /// (durably) and reported in `Recovered::repaired_tail`; any other damage is `FileError::Corrupt`.
    pub fn open_with(disk: Arc<dyn Disk>, options: WalOptions) -> Result<(Wal, Recovered), FileError> {
        assert!(options.segment_bytes_target > 0, "WalOptions::segment_bytes_target must be positive");
        let mut names = Vec::new();
        for name in disk.list()? {
            match parse_segment_name(&name) {
                None => {}
                Some(Ok(first_index)) => names.push((first_index, name)),
                Some(Err(())) => {
                    return Err(corrupt(&name, 0, "file name is not wal-<20-digit index>.seg"));
                }
            }
        }
        names.sort();

        let mut segments: Vec<Segment> = Vec::new();
        let mut recovered = Recovered::default();
        let count = names.len();
        for (position, (first_index, name)) in names.into_iter().enumerate() {
            let is_last = position + 1 == count;
            let file = disk.read(&name)?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("segment {name} vanished while opening the log"))
            })?;
            if file.is_empty() {
                if !is_last {
                    return Err(corrupt(
                        &name,
                        0,
                        "empty segment (segment is not the last one, so this is not a torn tail)",
                    ));
                }
                // Created but none of its bytes survived a crash.
                tracing::warn!(file = %name, "raft log ends in an empty segment; removing it");
                disk.remove(&name)?;
                recovered.repaired_tail = Some(TailRepair { file: name, offset: 0, dropped_bytes: 0 });
                continue;
            }
            let mut offsets = Vec::new();
            // u128: an index of u64::MAX followed by another record must not wrap around.
            let mut expected = u128::from(first_index);
            let mut at = 0usize;
            while at < file.len() {
                match parse_record(&file, at) {
                    Ok(record) => {
                        if u128::from(record.index) != expected {
                            return Err(corrupt(
                                &name,
                                at as u64,
                                format!("record has index {} where {expected} was expected", record.index),
                            ));
                        }
                        if let Some(previous) = segments.last() {
                            if offsets.is_empty() && previous.last_index().checked_add(1) != Some(record.index) {
                                return Err(corrupt(
                                    &name,
                                    0,
                                    format!(
                                        "segment starts at index {} but the previous segment ends at {}",
                                        record.index,
                                        previous.last_index()
                                    ),
                                ));
                            }
                        }
                        recovered.entries.push((record.index, record.bytes.to_vec()));
                        offsets.push(at as u64);
                        expected += 1;
                        at = record.end;
                    }
                    Err(reason) => {
                        // Index of the last good record (or the one before the segment): at most u64::MAX.
                        let last_good = expected.checked_sub(1).map(|i| i as u64);
                        if valid_record_after(&file, at + 1, last_good).is_some() {
                            return Err(corrupt(
                                &name,
                                at as u64,
                                format!("{reason} (record is followed by valid records, so this is not a torn tail)"),
                            ));
                        }
                        if !is_last {
                            return Err(corrupt(
                                &name,
                                at as u64,
                                format!("{reason} (segment is not the last one, so this is not a torn tail)"),
                            ));
                        }
                        let dropped_bytes = (file.len() - at) as u64;
                        tracing::warn!(
                            file = %name, offset = at, dropped_bytes, %reason,
                            "raft log ends in a torn write; cutting it off"
                        );
                        if at == 0 {
                            disk.remove(&name)?;
                        } else {
                            disk.truncate(&name, at as u64)?;
                            disk.sync(&name)?;
                        }
                        recovered.repaired_tail =
                            Some(TailRepair { file: name.clone(), offset: at as u64, dropped_bytes });
                        break;
                    }
                }
            }
            if offsets.is_empty() {
                // Only possible for the last segment, just removed above (its first record was a torn tail).
                continue;
            }
            // What was read may sit in the page cache only (the previous process died before its sync): make
            // it durable before the caller reports these entries to anyone.
            disk.sync(&name)?;
            segments.push(Segment { name, first_index, offsets, len: at as u64 });
        }
        Ok((Wal { disk, options, segments, failed: None }, recovered))
    }

    /// Index of the first stored entry, `None` when the log is empty.
    pub fn first_index(&self) -> Option<u64> {
        self.segments.first().map(|s| s.first_index)
    }

    /// Index of the last stored entry, `None` when the log is empty.
    pub fn last_index(&self) -> Option<u64> {
        self.segments.last().map(Segment::last_index)
    }

    fn check_not_failed(&self) -> io::Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(reason) => Err(io::Error::other(format!(
                "raft log unusable after an earlier I/O error ({reason}); restart the node to recover"
            ))),
        }
    }

    /// Runs a disk mutation; on error remembers that the log is unusable.
    fn io<T>(&mut self, what: &str, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            self.failed = Some(format!("{what}: {e}"));
        }
        result
    }

    /// Appends `entries` (indexes consecutive, continuing `last_index()`; any start when the log is empty) and
    /// syncs once: durable when this returns `Ok`. An entry over `RECORD_BYTES_MAX` is `InvalidInput` and
    /// nothing is written. After any I/O error the log refuses further mutations (restart to recover).
    pub fn append(&mut self, entries: &[(u64, Vec<u8>)]) -> io::Result<()> {
        self.check_not_failed()?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut expected = self.last_index().map(|last| last + 1).unwrap_or(entries[0].0);
        for (index, bytes) in entries {
            assert_eq!(*index, expected, "raft log append: index {index} does not follow {}", expected.wrapping_sub(1));
            expected = expected.wrapping_add(1);
            if PAYLOAD_INDEX_BYTES + bytes.len() > RECORD_BYTES_MAX {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "raft log entry {index} is {} bytes; the largest record is {RECORD_BYTES_MAX} bytes",
                        bytes.len()
                    ),
                ));
            }
        }

        let mut buffer = Vec::new();
        for (index, bytes) in entries {
            let len = record_len(bytes);
            let roll = match self.segments.last() {
                None => true,
                Some(segment) => segment.len + buffer.len() as u64 + len > self.options.segment_bytes_target,
            };
            if roll {
                // Close the current segment durably before starting the next, so only the last segment ever
                // has unsynced bytes and recovery can tell torn tails from corruption. (With nothing buffered
                // it is already durable: every append, truncate and open ends with a sync.)
                if !buffer.is_empty() {
                    let name = self.segments.last().expect("buffered bytes belong to a segment").name.clone();
                    let result = self.disk.append(&name, &buffer).and_then(|()| self.disk.sync(&name));
                    self.io("append", result)?;
                    self.segments.last_mut().expect("segment").len += buffer.len() as u64;
                    buffer.clear();
                }
                self.segments.push(Segment {
                    name: segment_name(*index),
                    first_index: *index,
                    offsets: Vec::new(),
                    len: 0,
                });
            }
            let segment = self.segments.last_mut().expect("segment");
            segment.offsets.push(segment.len + buffer.len() as u64);
            encode_record(&mut buffer, *index, bytes);
        }
        let name = self.segments.last().expect("segment").name.clone();
        if !buffer.is_empty() {
            let result = self.disk.append(&name, &buffer);
            self.io("append", result)?;
            self.segments.last_mut().expect("segment").len += buffer.len() as u64;
        }
        let result = self.disk.sync(&name);
        self.io("sync", result)
    }

    /// Removes every entry with index ≥ `index` (a no-op when there is none); durable when this returns.
    /// Later segments are removed newest first, then the segment holding `index` is cut at that record.
    pub fn truncate_from(&mut self, index: u64) -> io::Result<()> {
        self.check_not_failed()?;
        while let Some(segment) = self.segments.last() {
            if segment.last_index() < index {
                break;
            }
            let name = segment.name.clone();
            if segment.first_index >= index {
                let result = self.disk.remove(&name);
                self.io("remove", result)?;
                self.segments.pop();
                continue;
            }
            let keep = (index - segment.first_index) as usize;
            let offset = segment.offsets[keep];
            let result = self.disk.truncate(&name, offset).and_then(|()| self.disk.sync(&name));
            self.io("truncate", result)?;
            let segment = self.segments.last_mut().expect("segment");
            segment.offsets.truncate(keep);
            segment.len = offset;
            break;
        }
        Ok(())
    }

    /// Removes whole segments whose every entry is ≤ `index`, oldest first; entries ≤ `index` in a segment that
    /// also holds later entries stay. The caller must have made its "purged up to" marker durable first.
    pub fn purge_upto(&mut self, index: u64) -> io::Result<()> {
        self.check_not_failed()?;
        while let Some(segment) = self.segments.first() {
            if segment.last_index() > index {
                break;
            }
            let name = segment.name.clone();
            let result = self.disk.remove(&name);
            self.io("remove", result)?;
            self.segments.remove(0);
        }
        Ok(())
    }
}
