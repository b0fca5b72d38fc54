//! Small checksummed metadata files on a `Disk` (the Raft vote, the last purged log id), each replaced whole and
//! atomically. Invariant: `load_meta` returns exactly the bytes `save_meta` last saved, or `FileError::Corrupt`
//! naming the file — never a damaged payload; names of the log's and the snapshots' files are refused.
//!
//! Layout: `[magic "SWMF"][format u8][payload_len u32 LE][payload][crc32 u32 LE of everything before it]`.

use std::io;

use super::disk::Disk;
use super::files::{corrupt, u32_at, FileError, SEGMENT_PREFIX, SNAPSHOT_PREFIX};

/// Largest metadata file payload accepted by `save_meta` and `load_meta`.
pub const META_BYTES_MAX: usize = 1 << 20;

const META_MAGIC: &[u8; 4] = b"SWMF";
const META_FORMAT: u8 = 1;
const META_HEADER_BYTES: usize = 4 + 1 + 4;
const META_TRAILER_BYTES: usize = 4;

/// Replaces the metadata file `name` with `bytes`, atomically and durably. Names must not start with `wal-` or
/// `snapshot-` (those belong to the log and the snapshots).
pub fn save_meta(disk: &dyn Disk, name: &str, bytes: &[u8]) -> io::Result<()> {
    if name.starts_with(SEGMENT_PREFIX) || name.starts_with(SNAPSHOT_PREFIX) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("metadata file name {name:?} is reserved")));
    }
    if bytes.len() > META_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("metadata {name} is {} bytes; the limit is {META_BYTES_MAX}", bytes.len()),
        ));
    }
    let mut out = Vec::with_capacity(META_HEADER_BYTES + bytes.len() + META_TRAILER_BYTES);
    out.extend_from_slice(META_MAGIC);
    out.push(META_FORMAT);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    disk.write_atomic(name, &out)
}

/// The payload last saved with `save_meta`, `None` when the file does not exist; a damaged file is
/// `FileError::Corrupt` naming it.
pub fn load_meta(disk: &dyn Disk, name: &str) -> Result<Option<Vec<u8>>, FileError> {
    let Some(file) = disk.read(name)? else {
        return Ok(None);
    };
    if file.len() < META_HEADER_BYTES + META_TRAILER_BYTES {
        return Err(corrupt(name, 0, format!("file is {} bytes, shorter than any metadata file", file.len())));
    }
    if &file[..4] != META_MAGIC {
        return Err(corrupt(name, 0, "bad magic (not a metadata file)"));
    }
    if file[4] != META_FORMAT {
        return Err(corrupt(name, 4, format!("unknown format version {} (this build reads {META_FORMAT})", file[4])));
    }
    let payload_len = u32_at(&file, 5) as usize;
    if payload_len > META_BYTES_MAX || META_HEADER_BYTES + payload_len + META_TRAILER_BYTES != file.len() {
        return Err(corrupt(
            name,
            5,
            format!("payload length {payload_len} does not match file length {}", file.len()),
        ));
    }
    let body_end = file.len() - META_TRAILER_BYTES;
    if crc32fast::hash(&file[..body_end]) != u32_at(&file, body_end) {
        return Err(corrupt(name, body_end as u64, "checksum mismatch"));
    }
    Ok(Some(file[META_HEADER_BYTES..body_end].to_vec()))
}
