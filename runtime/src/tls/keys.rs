//! Ed25519 key pairs for node and CA certificates, made from 32 seed bytes. The seed comes from the runtime's RNG
//! (a cryptographically secure, OS-seeded generator in production; madsim's seeded one in the simulator, so a
//! seed replays the same keys). Ed25519 signatures are deterministic and of fixed size, so no handshake's length
//! depends on randomness. Invariant: the PKCS#8 bytes built here are what ring itself writes (version 2, with the
//! public key).

use rand::RngCore;
use rustls::pki_types::PrivatePkcs8KeyDer;

use super::TlsError;
use crate::raft::rt::SwarmRuntime;

/// The bytes of a PKCS#8 v2 Ed25519 private key before the seed (RFC 8410 with the optional public key).
const PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
/// The bytes between the seed and the public key.
const PKCS8_PUBLIC_KEY_PREFIX: [u8; 5] = [0xa1, 0x23, 0x03, 0x21, 0x00];

/// A fresh key pair's PKCS#8 bytes, seeded from the runtime's RNG.
pub fn fresh_key_pkcs8() -> Result<Vec<u8>, TlsError> {
    let mut seed = [0u8; 32];
    <SwarmRuntime as openraft::AsyncRuntime>::thread_rng().fill_bytes(&mut seed);
    key_pkcs8_from_seed(&seed)
}

/// The PKCS#8 (v2) encoding of the Ed25519 key pair whose seed is `seed`.
pub fn key_pkcs8_from_seed(seed: &[u8; 32]) -> Result<Vec<u8>, TlsError> {
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
        .map_err(|e| TlsError::Generate { what: "a key pair", reason: e.to_string() })?;
    let public = ring::signature::KeyPair::public_key(&pair).as_ref().to_vec();
    let mut der = Vec::with_capacity(85);
    der.extend_from_slice(&PKCS8_PREFIX);
    der.extend_from_slice(seed);
    der.extend_from_slice(&PKCS8_PUBLIC_KEY_PREFIX);
    der.extend_from_slice(&public);
    Ok(der)
}

/// rcgen's view of a key pair in PKCS#8 bytes (for signing certificates and requests).
pub fn rcgen_key(pkcs8: &[u8]) -> Result<rcgen::KeyPair, TlsError> {
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(pkcs8.to_vec()), &rcgen::PKCS_ED25519)
        .map_err(|e| TlsError::Invalid { what: "private key", reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_seeds_are_what_ring_reads() {
        let der = key_pkcs8_from_seed(&[7; 32]).unwrap();
        assert_eq!(der.len(), 85);
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&der).expect("ring reads its own v2 format");
        let again = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
        assert_eq!(
            ring::signature::KeyPair::public_key(&pair).as_ref(),
            ring::signature::KeyPair::public_key(&again).as_ref()
        );
        assert!(rcgen_key(&der).is_ok());
        assert_ne!(der, key_pkcs8_from_seed(&[8; 32]).unwrap());
    }
}
