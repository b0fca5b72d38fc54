//! Sealing secrets' values before they enter the store: the node's AEAD (`crate::aead`) under a key derived
//! with HKDF-SHA256 from the root CA's private key, which every manager holds outside the store (in its identity
//! file) and no worker ever does. The invariant: a secret's plaintext exists only in a manager's memory, on the TLS
//! connections that carry it to the one node whose task needs it, and in that node's tmpfs; the Raft log and the
//! snapshots hold only `SealedData`, bound to the secret's id (its AAD), so a sealed value cannot be moved onto
//! another secret.

use swarm_core::SealedData;

use super::ca::RootCa;
use crate::aead::AeadKey;

/// HKDF's salt and info: which key of which scheme this is.
const SEALING_SALT: &[u8] = b"swarm secrets sealing";
const SEALING_INFO: &[u8] = b"chacha20-poly1305 v1";
/// How many characters of the root CA's digest name the key (`SealedData::key_id`).
const KEY_ID_LEN: usize = 16;

/// The cluster's key for secrets' values.
pub struct SealingKey {
    key: AeadKey,
    key_id: String,
}

/// Why a sealed value could not be opened. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    #[error("secret {secret_id} was sealed with key {found}, and this manager holds key {held}")]
    OtherKey { secret_id: String, found: String, held: String },
    #[error("secret {secret_id}: the sealed value is damaged (it does not authenticate)")]
    Damaged { secret_id: String },
}

impl SealingKey {
    /// The sealing key of the cluster whose root CA is `ca`.
    pub fn of(ca: &RootCa) -> SealingKey {
        let key = AeadKey::derive(ca.key_pkcs8(), SEALING_SALT, SEALING_INFO);
        let key_id = ca.digest().chars().take(KEY_ID_LEN).collect();
        SealingKey { key, key_id }
    }

    /// The id values sealed with this key carry (`SealedData::key_id`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Seals `plaintext` as the value of secret `secret_id`.
    pub fn seal(&self, secret_id: &str, plaintext: &[u8]) -> SealedData {
        SealedData { key_id: self.key_id.clone(), bytes: self.key.seal(secret_id.as_bytes(), plaintext) }
    }

    /// The value of secret `secret_id`, if `sealed` was sealed for it with this key and is intact.
    pub fn open(&self, secret_id: &str, sealed: &SealedData) -> Result<Vec<u8>, SealingError> {
        if sealed.key_id != self.key_id {
            return Err(SealingError::OtherKey {
                secret_id: secret_id.to_string(),
                found: sealed.key_id.clone(),
                held: self.key_id.clone(),
            });
        }
        self.key
            .open(secret_id.as_bytes(), &sealed.bytes)
            .map_err(|_| SealingError::Damaged { secret_id: secret_id.to_string() })
    }
}

/// The sealing keys a manager holds: it seals with the one of the root it issues from, and opens a value with
/// whichever key made it (during a root rotation, values sealed with the old root's key are still to be resealed).
pub struct SealingKeys {
    pub current: SealingKey,
    pub others: Vec<SealingKey>,
}

impl SealingKeys {
    pub fn seal(&self, secret_id: &str, plaintext: &[u8]) -> SealedData {
        self.current.seal(secret_id, plaintext)
    }

    pub fn open(&self, secret_id: &str, sealed: &SealedData) -> Result<Vec<u8>, SealingError> {
        match self.others.iter().find(|key| key.key_id == sealed.key_id) {
            Some(key) => key.open(secret_id, sealed),
            None => self.current.open(secret_id, sealed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::keys::key_pkcs8_from_seed;

    fn key(seed: u8) -> SealingKey {
        let ca = RootCa::create("cluster", swarm_core::Timestamp(0), key_pkcs8_from_seed(&[seed; 32]).unwrap());
        SealingKey::of(&ca.unwrap())
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_secret_with_its_key() {
        let key = key(1);
        let sealed = key.seal("secret-a", b"hunter2");
        assert!(!sealed.bytes.windows(7).any(|window| window == b"hunter2"));
        assert_eq!(key.open("secret-a", &sealed).unwrap(), b"hunter2");
        assert_eq!(key.open("secret-b", &sealed), Err(SealingError::Damaged { secret_id: "secret-b".into() }));
        let other = self::key(2);
        assert!(matches!(other.open("secret-a", &sealed), Err(SealingError::OtherKey { .. })));
        let mut flipped = sealed.clone();
        let last = flipped.bytes.len() - 1;
        flipped.bytes[last] ^= 1;
        assert!(matches!(key.open("secret-a", &flipped), Err(SealingError::Damaged { .. })));
        let truncated = SealedData { key_id: sealed.key_id.clone(), bytes: vec![1, 2, 3] };
        assert!(matches!(key.open("secret-a", &truncated), Err(SealingError::Damaged { .. })));
    }

    #[test]
    fn two_sealings_of_one_value_differ() {
        let key = key(3);
        assert_ne!(key.seal("s", b"same").bytes, key.seal("s", b"same").bytes);
    }
}
