//! How a Raft log entry is written to the WAL: [`ENTRY_TAG`], the proposal format byte, then the postcard encoding
//! of the openraft entry; or, on a manager whose data is encrypted at rest, [`ENTRY_TAG`], [`ENCRYPTED_FORMAT`] and
//! that whole record sealed with the manager's data key, bound to the entry's index (so a record cannot be moved
//! to another place in the log). Releases before the tag wrote the bare encoding, in proposal format 5, which this
//! build no longer reads. No bare encoding can start with the tag: an entry starts with its term, a postcard u64,
//! and ten 0xFF bytes are not one (a u64 takes at most ten bytes and the tenth is at most 1). So every record says
//! how to read it, and a format bump needs only the previous format's decoder
//! (`swarm_core::deserialize_proposals_v6`), as snapshots do. Invariant: an entry this build writes reads back
//! equal; one of the previous format reads back upgraded; any other format, an encrypted record without its key or
//! one that does not authenticate, is a typed error naming it, never a guess.

use std::cell::Cell;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use swarm_core::{PROPOSAL_FORMAT_VERSION, PROPOSAL_FORMAT_VERSION_PREVIOUS};

use super::types::{Entry, Proposal, ProposalBatch};
use crate::aead::AeadKey;

/// The first bytes of every log record this build writes.
pub const ENTRY_TAG: [u8; 10] = [0xFF; 10];
/// The "format" byte of a sealed record (no proposal format will ever be this number).
pub const ENCRYPTED_FORMAT: u8 = 0xEE;
/// The proposal format untagged records were written in.
const UNTAGGED_FORMAT: u8 = 5;

std::thread_local! {
    /// The proposal format `ProposalBatch` is (de)serialized in on this thread: today's, except inside
    /// `decode_entry`/`encode_entry_previous_format` for entries of the previous format.
    static BATCH_FORMAT: Cell<u8> = const { Cell::new(PROPOSAL_FORMAT_VERSION) };
}

/// Why a stored entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryDecodeError {
    #[error(
        "it is in proposal format {found}; this build reads formats {PROPOSAL_FORMAT_VERSION_PREVIOUS} and \
         {PROPOSAL_FORMAT_VERSION} only (written by another build, or damaged?)"
    )]
    UnknownFormat { found: u8 },
    /// The record is encrypted at rest and this node was given no data key (its identity file holds none).
    #[error("it is encrypted at rest and this node holds no data key to read it")]
    NoDataKey,
    /// The record is encrypted and does not open with this node's data key (another key, or damaged).
    #[error("it is encrypted at rest and does not open with this node's data key (another key, or damaged)")]
    NotDecryptable,
    /// The record does not hold one whole entry of the format it was read in.
    #[error("{0}")]
    Malformed(String),
}

/// The WAL record of `entry`, in today's format, sealed with `data_key` if the node encrypts its data at rest.
pub fn encode_entry(entry: &Entry, data_key: Option<&AeadKey>) -> Result<Vec<u8>, postcard::Error> {
    let mut bytes = Vec::with_capacity(ENTRY_TAG.len() + 1 + 64);
    bytes.extend_from_slice(&ENTRY_TAG);
    bytes.push(PROPOSAL_FORMAT_VERSION);
    let record = postcard::to_extend(entry, bytes)?;
    Ok(match data_key {
        None => record,
        Some(key) => {
            let mut sealed = ENTRY_TAG.to_vec();
            sealed.push(ENCRYPTED_FORMAT);
            sealed.extend(key.seal(&associated_data(entry.log_id.index), &record));
            sealed
        }
    })
}

/// What a sealed record is bound to: its use and its index.
fn associated_data(index: u64) -> Vec<u8> {
    let mut associated = b"swarm raft entry ".to_vec();
    associated.extend_from_slice(&index.to_le_bytes());
    associated
}

/// `entry` as the previous build wrote it (tagged, proposal format 6), for tests of the upgrade path.
#[doc(hidden)]
pub fn encode_entry_previous_format(entry: &Entry) -> Result<Vec<u8>, postcard::Error> {
    let mut bytes = ENTRY_TAG.to_vec();
    bytes.push(PROPOSAL_FORMAT_VERSION_PREVIOUS);
    in_format(PROPOSAL_FORMAT_VERSION_PREVIOUS, || postcard::to_extend(entry, bytes))
}

/// The entry in the WAL record at `index`, in today's types; a sealed record is opened with `data_key`.
pub fn decode_entry(bytes: &[u8], index: u64, data_key: Option<&AeadKey>) -> Result<Entry, EntryDecodeError> {
    if bytes.strip_prefix(&ENTRY_TAG[..]).and_then(|rest| rest.first()) == Some(&ENCRYPTED_FORMAT) {
        let key = data_key.ok_or(EntryDecodeError::NoDataKey)?;
        let record = key
            .open(&associated_data(index), &bytes[ENTRY_TAG.len() + 1..])
            .map_err(|_| EntryDecodeError::NotDecryptable)?;
        if record.strip_prefix(&ENTRY_TAG[..]).and_then(|rest| rest.first()) == Some(&ENCRYPTED_FORMAT) {
            return Err(EntryDecodeError::Malformed("a sealed record holds another sealed record".to_string()));
        }
        return decode_plain(&record);
    }
    decode_plain(bytes)
}

/// The entry in an unsealed record.
fn decode_plain(bytes: &[u8]) -> Result<Entry, EntryDecodeError> {
    let (format, body) = match bytes.strip_prefix(&ENTRY_TAG[..]) {
        Some(rest) => match rest.split_first() {
            Some((&format, body)) => (format, body),
            None => return Err(EntryDecodeError::Malformed("the record ends after its tag".to_string())),
        },
        None => return Err(EntryDecodeError::UnknownFormat { found: UNTAGGED_FORMAT }),
    };
    if format != PROPOSAL_FORMAT_VERSION && format != PROPOSAL_FORMAT_VERSION_PREVIOUS {
        return Err(EntryDecodeError::UnknownFormat { found: format });
    }
    let malformed = |why: String| EntryDecodeError::Malformed(format!("read as proposal format {format}: {why}"));
    // A whole record is one entry: bytes left over mean it was read in the wrong format, never a guess to keep.
    match in_format(format, || postcard::take_from_bytes::<Entry>(body)) {
        Ok((entry, [])) => Ok(entry),
        Ok((_, rest)) => Err(malformed(format!("{} bytes left after the entry", rest.len()))),
        Err(error) => Err(malformed(error.to_string())),
    }
}

/// Runs `work` with batches (de)serialized in `format` on this thread, restoring the format even if it panics.
fn in_format<T>(format: u8, work: impl FnOnce() -> T) -> T {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            BATCH_FORMAT.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(BATCH_FORMAT.with(|cell| cell.replace(format)));
    work()
}

impl Serialize for ProposalBatch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if BATCH_FORMAT.with(Cell::get) == PROPOSAL_FORMAT_VERSION_PREVIOUS {
            swarm_core::serialize_proposals_v6(&self.0, serializer)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for ProposalBatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if BATCH_FORMAT.with(Cell::get) == PROPOSAL_FORMAT_VERSION_PREVIOUS {
            swarm_core::deserialize_proposals_v6(deserializer).map(ProposalBatch)
        } else {
            Vec::<Proposal>::deserialize(deserializer).map(ProposalBatch)
        }
    }
}
