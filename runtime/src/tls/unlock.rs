//! The managers' unlock key (`swarm init --autolock`): `SWMKEY-1-` and 32 random bytes in base64 (43 characters),
//! as Docker prints it, and the key-encryption key derived from it that seals an autolocked manager's private keys
//! and data key on disk. The invariant: only a key of exactly this shape parses, so a typo is refused as
//! "invalid key" before anything is tried, and the derivation is fixed, so the same unlock key always opens what it
//! sealed.

use base64::Engine;

use crate::aead::{AeadKey, KEY_BYTES};

const PREFIX: &str = "SWMKEY-1-";
const KEK_SALT: &[u8] = b"swarm unlock key";
const KEK_INFO: &[u8] = b"key encryption key v1";

/// An unlock key, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct UnlockKey {
    bytes: [u8; KEY_BYTES],
}

impl std::fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockKey(<hidden>)")
    }
}

impl UnlockKey {
    /// A new key from the runtime's RNG.
    pub fn fresh() -> UnlockKey {
        UnlockKey { bytes: AeadKey::fresh_bytes() }
    }

    /// `SWMKEY-1-<43 characters of base64>`; `None` for anything else (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Option<UnlockKey> {
        let encoded = text.trim().strip_prefix(PREFIX)?;
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded).ok()?;
        Some(UnlockKey { bytes: decoded.try_into().ok()? })
    }

    /// The key as Docker prints it.
    pub fn text(&self) -> String {
        format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.bytes))
    }

    /// The key that seals the manager's keys on disk.
    pub fn kek(&self) -> AeadKey {
        AeadKey::derive(&self.bytes, KEK_SALT, KEK_INFO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_docker_shaped_keys_parse_and_they_round_trip() {
        let key = UnlockKey { bytes: [7; KEY_BYTES] };
        let text = key.text();
        assert!(text.starts_with("SWMKEY-1-") && text.len() == 9 + 43, "{text}");
        assert_eq!(UnlockKey::parse(&format!("  {text}\n")), Some(key.clone()));
        for bad in ["", "SWMKEY-1-", "SWMKEY-2-abc", &text[..text.len() - 1], &format!("{text}A"), "hunter2"] {
            assert_eq!(UnlockKey::parse(bad), None, "{bad:?}");
        }
        let sealed = key.kek().seal(b"", b"keys");
        assert_eq!(UnlockKey::parse(&text).unwrap().kek().open(b"", &sealed).unwrap(), b"keys");
        assert!(UnlockKey { bytes: [8; KEY_BYTES] }.kek().open(b"", &sealed).is_err());
    }
}
