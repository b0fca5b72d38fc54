//! The one authenticated cipher of the node: ChaCha20-Poly1305 (ring's) under a 32-byte key, each sealing with a
//! fresh 96-bit nonce from the runtime's RNG (seeded in the simulator), laid out as `nonce ‖ ciphertext ‖ tag`.
//! Used for secrets' values (`tls::sealing`), the Raft log and snapshots at rest (`raft`), and the key material an
//! autolocked manager keeps on disk. The invariant: `open` gives back exactly what `seal` was given with the same
//! key and associated data, and anything else — another key, other associated data, one flipped or missing byte —
//! is an error, never plaintext.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};

use crate::raft::rt::SwarmRuntime;

/// The bytes of a key.
pub const KEY_BYTES: usize = 32;
/// What sealing adds to a plaintext: the nonce and the tag.
pub const SEALING_OVERHEAD_BYTES: usize = NONCE_LEN + 16;

/// Why a sealed value did not open: the key or the associated data differ, or the bytes were changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed bytes do not authenticate under this key (another key, or damaged)")]
pub struct OpenError;

pub struct AeadKey {
    key: LessSafeKey,
}

impl AeadKey {
    /// The key whose bytes are `bytes`.
    pub fn from_bytes(bytes: &[u8; KEY_BYTES]) -> AeadKey {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("32 bytes make a ChaCha20-Poly1305 key");
        AeadKey { key: LessSafeKey::new(unbound) }
    }

    /// A key derived from `secret` (HKDF-SHA256 with `salt` and `info` naming its use).
    pub fn derive(secret: &[u8], salt: &[u8], info: &[u8]) -> AeadKey {
        let prk = Salt::new(HKDF_SHA256, salt).extract(secret);
        let info = [info];
        let okm = prk.expand(&info, &CHACHA20_POLY1305).expect("32 bytes are within HKDF-SHA256's output");
        AeadKey { key: LessSafeKey::new(UnboundKey::from(okm)) }
    }

    /// Fresh key bytes from the runtime's RNG.
    pub fn fresh_bytes() -> [u8; KEY_BYTES] {
        let mut bytes = [0u8; KEY_BYTES];
        rand::RngCore::fill_bytes(&mut <SwarmRuntime as openraft::AsyncRuntime>::thread_rng(), &mut bytes);
        bytes
    }

    /// `plaintext` sealed, bound to `associated` (which is not stored: `open` must be given it again).
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut <SwarmRuntime as openraft::AsyncRuntime>::thread_rng(), &mut nonce);
        let mut sealed = Vec::with_capacity(plaintext.len() + SEALING_OVERHEAD_BYTES);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let mut body = sealed.split_off(NONCE_LEN);
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(associated), &mut body)
            .expect("ChaCha20-Poly1305 seals any input below 256 GiB");
        sealed.extend_from_slice(&body);
        sealed
    }

    /// The plaintext `sealed` holds, if it was sealed with this key and `associated` and is intact.
    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < SEALING_OVERHEAD_BYTES {
            return Err(OpenError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
        let mut in_out = body.to_vec();
        let plaintext = self.key.open_in_place(nonce, Aad::from(associated), &mut in_out).map_err(|_| OpenError)?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_key_and_associated_data_open_intact_bytes() {
        let key = AeadKey::from_bytes(&[1; KEY_BYTES]);
        let sealed = key.seal(b"ad", b"plain text");
        assert_eq!(sealed.len(), 10 + SEALING_OVERHEAD_BYTES);
        assert!(!sealed.windows(10).any(|window| window == b"plain text"));
        assert_eq!(key.open(b"ad", &sealed).unwrap(), b"plain text");
        assert_eq!(key.open(b"other", &sealed), Err(OpenError));
        assert_eq!(AeadKey::from_bytes(&[2; KEY_BYTES]).open(b"ad", &sealed), Err(OpenError));
        for index in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[index] ^= 0x80;
            assert_eq!(key.open(b"ad", &flipped), Err(OpenError), "byte {index} flipped");
        }
        for len in 0..sealed.len() {
            assert_eq!(key.open(b"ad", &sealed[..len]), Err(OpenError), "truncated to {len}");
        }
        assert_ne!(key.seal(b"ad", b"same"), key.seal(b"ad", b"same"), "fresh nonces");
        let derived = AeadKey::derive(b"secret", b"salt", b"info");
        assert_eq!(derived.open(b"", &AeadKey::derive(b"secret", b"salt", b"info").seal(b"", b"x")).unwrap(), b"x");
    }
}
