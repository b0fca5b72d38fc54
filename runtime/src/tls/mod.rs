//! Mutual TLS for every cluster connection: the cluster's root CA (`ca.rs`), node certificates and what a peer's
//! certificate says about it (`identity.rs`), key pairs from seed bytes (`keys.rs`), and the rustls configurations
//! built from them (`configs.rs`: the node's own, and the one a joining node uses to check a manager's CA against
//! its join token before it sends anything), the key that seals secrets' values for the store (`sealing.rs`), and
//! the roots a manager holds across a root rotation (`held_roots.rs`). Invariants: a node's private key is made on the node and never leaves
//! it; a certificate names the node id (CN), its role (OU: `swarm-manager` / `swarm-worker`) and the cluster id (O),
//! as SwarmKit's do, and carries the role and node id as DNS names, so a worker's certificate can never pass as a
//! manager's; keys come from the runtime's RNG (seeded in the simulator), never straight from the OS.

pub mod ca;
pub mod configs;
pub mod held_roots;
pub mod identity;
pub mod keys;
pub mod sealing;
pub mod unlock;

pub use ca::RootCa;
pub use configs::{ClientTls, TlsHandle};
pub use held_roots::HeldRoots;
pub use identity::{NodeIdentity, PeerIdentity};
pub use sealing::{SealingError, SealingKey, SealingKeys};
pub use unlock::UnlockKey;

use swarm_core::NodeRole;

/// The name (OU and DNS name) a manager's certificate carries; agents and managers address managers by it.
pub const MANAGER_ROLE_NAME: &str = "swarm-manager";
/// The name (OU and DNS name) a worker's certificate carries.
pub const WORKER_ROLE_NAME: &str = "swarm-worker";

/// The certificate name of `role`.
pub fn role_name(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Manager => MANAGER_ROLE_NAME,
        NodeRole::Worker => WORKER_ROLE_NAME,
    }
}

/// The role a certificate name stands for.
pub fn role_from_name(name: &str) -> Option<NodeRole> {
    match name {
        MANAGER_ROLE_NAME => Some(NodeRole::Manager),
        WORKER_ROLE_NAME => Some(NodeRole::Worker),
        _ => None,
    }
}

/// Why certificates, keys or TLS settings could not be made or read. Messages name the thing and the reason.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make {what}: {reason}")]
    Generate { what: &'static str, reason: String },
    #[error("invalid certificate signing request: {reason}")]
    InvalidCsr { reason: String },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("cannot build the TLS settings: {reason}")]
    Config { reason: String },
}

impl TlsError {
    fn generate(what: &'static str) -> impl FnOnce(rcgen::Error) -> TlsError {
        move |error| TlsError::Generate { what, reason: error.to_string() }
    }

    fn invalid(what: &'static str) -> impl FnOnce(String) -> TlsError {
        move |reason| TlsError::Invalid { what, reason }
    }
}

/// The rustls crypto provider every configuration of ours uses: ring, TLS 1.3. rustls marks ring's default
/// provider deprecated for lacking post-quantum key exchange; aws-lc-rs, which has it, needs a C toolchain with cmake
/// at build time.
#[allow(deprecated)]
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Docker's digest form for the join token: the SHA-256 of the root CA certificate (DER), in lowercase base 36,
/// 50 characters (left-padded with zeros).
pub fn ca_digest(root_cert_der: &[u8]) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, root_cert_der);
    base36_fixed(hash.as_ref(), DIGEST_CHARS)
}

/// `bytes` as a big-endian number in lowercase base 36, left-padded with zeros to `width` characters.
fn base36_fixed(bytes: &[u8], width: usize) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut number: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|b| *b != 0) {
        let mut remainder: u32 = 0;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 36) as u8;
            remainder = value % 36;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("base 36 digits are ASCII")
}

/// The CA digest in a join token `SWMTKN-1-<digest>-<secret>`, if it has that shape (a digest of 50 lowercase
/// base-36 characters, as `ca_digest` writes it).
pub fn token_digest(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("SWMTKN-1-")?;
    let (digest, secret) = rest.rsplit_once('-')?;
    let well_formed =
        digest.len() == DIGEST_CHARS && digest.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    (well_formed && !secret.is_empty()).then_some(digest)
}

/// The length of a CA digest in a join token.
const DIGEST_CHARS: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_digests_are_fixed_width_and_exact() {
        assert_eq!(base36_fixed(&[0, 0], 4), "0000");
        assert_eq!(base36_fixed(&[1, 0], 4), "0074"); // 256 = 7×36 + 4
        assert_eq!(base36_fixed(&[0xff; 32], 50).len(), 50);
        assert_eq!(ca_digest(b"a root").len(), 50);
        assert_ne!(ca_digest(b"a root"), ca_digest(b"another root"));
    }

    #[test]
    fn token_digests_are_read_from_dockers_shape() {
        let digest = ca_digest(b"a root");
        assert_eq!(token_digest(&format!("SWMTKN-1-{digest}-def")), Some(digest.as_str()));
        assert_eq!(token_digest(&format!("SWMTKN-1-{digest}-")), None);
        assert_eq!(token_digest(&format!("SWMTKN-1-{}-def", digest.to_uppercase())), None);
        assert_eq!(token_digest(&format!("SWMTKN-2-{digest}-def")), None);
        assert_eq!(token_digest("SWMTKN-1-abc-def"), None, "too short for a digest");
        assert_eq!(token_digest("SWMTKN-1-abc"), None);
        assert_eq!(token_digest("SWMTKN-1--def"), None);
        assert_eq!(token_digest(""), None);
    }
}
