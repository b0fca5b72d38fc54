//! Persisted Raft snapshots on a `Disk`: one file `snapshot-<last included index, 20 digits>.snap` holding the
//! caller's opaque snapshot metadata and data behind a checksummed header. Invariant: the newest snapshot file is
//! complete and verified or the node refuses to start (a corrupt newest snapshot is never silently skipped: an
//! older one may predate purged log entries, and starting from it would lose committed state).
//!
//! File layout: `[magic "SWSN"][format u8][index u64 LE][meta_len u32 LE][data_len u64 LE][meta][data]`
//! `[crc32 u32 LE of everything before it]`.

use std::io;

use super::disk::Disk;
use super::files::{corrupt, FileError, SNAPSHOT_PREFIX};

const SNAPSHOT_SUFFIX: &str = ".snap";
/// Largest snapshot metadata accepted by `save_snapshot` and `load_latest_snapshot`.
pub const SNAPSHOT_META_BYTES_MAX: usize = 16 << 20;
/// Largest snapshot data accepted by `save_snapshot` and `load_latest_snapshot`.
pub const SNAPSHOT_DATA_BYTES_MAX: u64 = 4 << 30;

const MAGIC: &[u8; 4] = b"SWSN";
const FORMAT: u8 = 1;
const HEADER_BYTES: usize = 4 + 1 + 8 + 4 + 8;
const TRAILER_BYTES: usize = 4;

/// A snapshot read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The index in the file name and header (the caller's "last included log index").
    pub index: u64,
    pub meta: Vec<u8>,
    pub data: Vec<u8>,
}

/// The file name of the snapshot at `index`.
pub fn snapshot_name(index: u64) -> String {
    format!("{SNAPSHOT_PREFIX}{index:020}{SNAPSHOT_SUFFIX}")
}

/// `Some(Ok(index))` for a well-formed snapshot name, `Some(Err(()))` for a malformed one, `None` otherwise.
fn parse_snapshot_name(name: &str) -> Option<Result<u64, ()>> {
    let middle = name.strip_prefix(SNAPSHOT_PREFIX)?.strip_suffix(SNAPSHOT_SUFFIX)?;
    if middle.len() != 20 || !middle.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Err(()));
    }
    Some(middle.parse::<u64>().map_err(|_| ()))
}

/// Writes the snapshot at `index` atomically and durably, then removes every other snapshot file: when this
/// returns `Ok`, this snapshot is the one `load_latest_snapshot` returns.
pub fn save_snapshot(disk: &dyn Disk, index: u64, meta: &[u8], data: &[u8]) -> io::Result<()> {
    if meta.len() > SNAPSHOT_META_BYTES_MAX || data.len() as u64 > SNAPSHOT_DATA_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "snapshot {index} has {} bytes of metadata and {} bytes of data; the limits are \
                 {SNAPSHOT_META_BYTES_MAX} and {SNAPSHOT_DATA_BYTES_MAX}",
                meta.len(),
                data.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(HEADER_BYTES + meta.len() + data.len() + TRAILER_BYTES);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let name = snapshot_name(index);
    disk.write_atomic(&name, &out)?;
    for other in disk.list()? {
        if other != name && matches!(parse_snapshot_name(&other), Some(Ok(_))) {
            disk.remove(&other)?;
        }
    }
    Ok(())
}

/// The snapshot with the highest index, `None` when there is none. A damaged newest snapshot (or a malformed
/// snapshot file name) is `FileError::Corrupt` naming the file.
pub fn load_latest_snapshot(disk: &dyn Disk) -> Result<Option<StoredSnapshot>, FileError> {
    let mut newest: Option<(u64, String)> = None;
    for name in disk.list()? {
        match parse_snapshot_name(&name) {
            None => {}
            Some(Err(())) => return Err(corrupt(&name, 0, "file name is not snapshot-<20-digit index>.snap")),
            Some(Ok(index)) if newest.as_ref().is_none_or(|(best, _)| index > *best) => newest = Some((index, name)),
            Some(Ok(_)) => {}
        }
    }
    let Some((index, name)) = newest else {
        return Ok(None);
    };
    let file = disk
        .read(&name)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("snapshot {name} vanished while loading it")))?;
    decode(&name, index, &file).map(Some)
}

fn decode(name: &str, index: u64, file: &[u8]) -> Result<StoredSnapshot, FileError> {
    if file.len() < HEADER_BYTES + TRAILER_BYTES {
        return Err(corrupt(name, 0, format!("file is {} bytes, shorter than a snapshot header", file.len())));
    }
    if &file[..4] != MAGIC {
        return Err(corrupt(name, 0, "bad magic (not a snapshot file)"));
    }
    if file[4] != FORMAT {
        return Err(corrupt(name, 4, format!("unknown format version {} (this build reads {FORMAT})", file[4])));
    }
    let header_index = u64::from_le_bytes(file[5..13].try_into().expect("8 bytes"));
    let meta_len = u32::from_le_bytes(file[13..17].try_into().expect("4 bytes")) as u64;
    let data_len = u64::from_le_bytes(file[17..25].try_into().expect("8 bytes"));
    let body_end = file.len() - TRAILER_BYTES;
    let crc = u32::from_le_bytes(file[body_end..].try_into().expect("4 bytes"));
    if crc32fast::hash(&file[..body_end]) != crc {
        return Err(corrupt(name, body_end as u64, "checksum mismatch"));
    }
    if header_index != index {
        return Err(corrupt(name, 5, format!("header says index {header_index} but the file name says {index}")));
    }
    if meta_len > SNAPSHOT_META_BYTES_MAX as u64
        || data_len > SNAPSHOT_DATA_BYTES_MAX
        || HEADER_BYTES as u64 + meta_len + data_len != body_end as u64
    {
        return Err(corrupt(
            name,
            13,
            format!("metadata length {meta_len} and data length {data_len} do not match file length {}", file.len()),
        ));
    }
    let meta_end = HEADER_BYTES + meta_len as usize;
    Ok(StoredSnapshot { index, meta: file[HEADER_BYTES..meta_end].to_vec(), data: file[meta_end..body_end].to_vec() })
}
