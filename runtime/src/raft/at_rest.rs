//! A manager's snapshots at rest: with a data key, the store's snapshot bytes are kept in the snapshot file sealed
//! ([`SEALED_SNAPSHOT_MAGIC`] then the sealed bytes, bound to the snapshot's index); without one, as they are. The
//! invariant: what `seal_snapshot` wrote, `open_snapshot` gives back with the same key and index, and a sealed
//! snapshot without its key or that does not authenticate is an error naming why — never guessed at. An unsealed
//! snapshot (written before the manager encrypted its data) still opens, so a data directory upgrades in place.
//! (The log's records are sealed the same way, in `entry_format`.)

use crate::aead::AeadKey;

/// The first bytes of a sealed snapshot. A store snapshot starts with its format byte (a small number), so it
/// can never start with these.
pub const SEALED_SNAPSHOT_MAGIC: &[u8; 8] = b"SWSEALED";

fn associated_data(index: u64) -> Vec<u8> {
    let mut associated = b"swarm snapshot ".to_vec();
    associated.extend_from_slice(&index.to_le_bytes());
    associated
}

/// The bytes to keep on disk for the snapshot `data` at `index`.
pub fn seal_snapshot(data_key: Option<&AeadKey>, index: u64, data: &[u8]) -> Vec<u8> {
    match data_key {
        None => data.to_vec(),
        Some(key) => {
            let mut stored = SEALED_SNAPSHOT_MAGIC.to_vec();
            stored.extend(key.seal(&associated_data(index), data));
            stored
        }
    }
}

/// The snapshot bytes kept on disk as `stored` at `index`.
pub fn open_snapshot(data_key: Option<&AeadKey>, index: u64, stored: Vec<u8>) -> Result<Vec<u8>, String> {
    let Some(sealed) = stored.strip_prefix(&SEALED_SNAPSHOT_MAGIC[..]) else { return Ok(stored) };
    let key = data_key.ok_or("it is encrypted at rest and this node holds no data key to read it")?;
    key.open(&associated_data(index), sealed).map_err(|_| {
        "it is encrypted at rest and does not open with this node's data key (another key, or damaged)".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_open_only_with_their_key_and_index() {
        let key = AeadKey::from_bytes(&[9; 32]);
        let data = vec![9u8, 1, 2, 3];
        let sealed = seal_snapshot(Some(&key), 7, &data);
        assert!(sealed.starts_with(SEALED_SNAPSHOT_MAGIC));
        assert_eq!(open_snapshot(Some(&key), 7, sealed.clone()).unwrap(), data);
        assert!(open_snapshot(Some(&key), 8, sealed.clone()).is_err(), "another index");
        assert!(open_snapshot(None, 7, sealed.clone()).unwrap_err().contains("no data key"));
        assert!(open_snapshot(Some(&AeadKey::from_bytes(&[1; 32])), 7, sealed).is_err(), "another key");
        // Unsealed snapshots (no key, or written before the key) read as they are.
        assert_eq!(seal_snapshot(None, 7, &data), data);
        assert_eq!(open_snapshot(Some(&key), 7, data.clone()).unwrap(), data);
    }
}
