//! Secrets and configs (`secret create`, `config create`): named blobs a service's tasks get as files. A secret's
//! value is held sealed (`SealedData`: ciphertext the managers made with a key that never enters the store), so
//! neither the Raft log nor a snapshot holds it in plaintext and `core` never sees it; a config's value is held as
//! it is (`config inspect` shows it). Both are immutable once created, as Docker's data are; names are unique
//! among their kind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::{Timestamp, Version};

/// Docker's `SecretSpec` without its data (which the store holds sealed, beside the spec).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecretSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A secret's value as the managers sealed it. Opaque to the store: only its size is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SealedData {
    /// Which sealing key made it (so a later key can tell its values from older ones).
    pub key_id: String,
    /// The AEAD nonce and ciphertext with its tag, as the sealing code lays them out.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub spec: SecretSpec,
    pub sealed: SealedData,
}

/// Docker's `ConfigSpec`: the value travels and is stored as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfigSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub spec: ConfigSpec,
}

/// Docker's rule for secret and config names: `^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`, at most 64 bytes.
/// `Err` says what is wrong.
pub fn check_file_object_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name must not be empty".to_string());
    }
    if name.len() > FILE_OBJECT_NAME_LEN_MAX {
        return Err(format!("name must be {FILE_OBJECT_NAME_LEN_MAX} characters or fewer"));
    }
    let bytes = name.as_bytes();
    let ok = bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err("only \"[a-zA-Z0-9][a-zA-Z0-9_.-]*[a-zA-Z0-9]\" are allowed".to_string());
    }
    Ok(())
}

/// Docker's bound on secret and config names.
pub const FILE_OBJECT_NAME_LEN_MAX: usize = 64;
