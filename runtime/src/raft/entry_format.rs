//! How a Raft log entry is written to the WAL: [`ENTRY_TAG`], the proposal format byte, then the postcard encoding
//! of the openraft entry. Releases before the tag wrote the bare encoding, in proposal format 5. No bare
//! encoding can start with the tag: an entry starts with its term, a postcard u64, and ten 0xFF bytes are not one
//! (a u64 takes at most ten bytes and the tenth is at most 1). So every record says how to read it, and a format
//! bump needs only the previous format's decoder (`swarm_core::deserialize_proposals_v5`), as snapshots do.
//! Invariant: an entry this build writes reads back equal; one of the previous format reads back upgraded; any
//! other format is a typed error naming it, never a guess.

use std::cell::Cell;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use swarm_core::{PROPOSAL_FORMAT_VERSION, PROPOSAL_FORMAT_VERSION_PREVIOUS};

use super::types::{Entry, Proposal, ProposalBatch};

/// The first bytes of every log record this build writes.
pub const ENTRY_TAG: [u8; 10] = [0xFF; 10];

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
         {PROPOSAL_FORMAT_VERSION} (written by a newer build, or damaged?)"
    )]
    UnknownFormat { found: u8 },
    /// The record does not hold one whole entry of the format it was read in.
    #[error("{0}")]
    Malformed(String),
}

/// The WAL record of `entry`, in today's format.
pub fn encode_entry(entry: &Entry) -> Result<Vec<u8>, postcard::Error> {
    let mut bytes = Vec::with_capacity(ENTRY_TAG.len() + 1 + 64);
    bytes.extend_from_slice(&ENTRY_TAG);
    bytes.push(PROPOSAL_FORMAT_VERSION);
    postcard::to_extend(entry, bytes)
}

/// `entry` as the previous build wrote it (bare, proposal format 5), for tests of the upgrade path.
#[doc(hidden)]
pub fn encode_entry_previous_format(entry: &Entry) -> Result<Vec<u8>, postcard::Error> {
    in_format(PROPOSAL_FORMAT_VERSION_PREVIOUS, || postcard::to_stdvec(entry))
}

/// The entry in a WAL record, in today's types.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, EntryDecodeError> {
    let (format, body, how) = match bytes.strip_prefix(&ENTRY_TAG[..]) {
        Some(rest) => match rest.split_first() {
            Some((&format, body)) => (format, body, "tagged"),
            None => return Err(EntryDecodeError::Malformed("the record ends after its tag".to_string())),
        },
        None => (PROPOSAL_FORMAT_VERSION_PREVIOUS, bytes, "untagged"),
    };
    if format != PROPOSAL_FORMAT_VERSION && format != PROPOSAL_FORMAT_VERSION_PREVIOUS {
        return Err(EntryDecodeError::UnknownFormat { found: format });
    }
    let malformed =
        |why: String| EntryDecodeError::Malformed(format!("read as proposal format {format} ({how}): {why}"));
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
            swarm_core::serialize_proposals_v5(&self.0, serializer)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for ProposalBatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if BATCH_FORMAT.with(Cell::get) == PROPOSAL_FORMAT_VERSION_PREVIOUS {
            swarm_core::deserialize_proposals_v5(deserializer).map(ProposalBatch)
        } else {
            Vec::<Proposal>::deserialize(deserializer).map(ProposalBatch)
        }
    }
}
