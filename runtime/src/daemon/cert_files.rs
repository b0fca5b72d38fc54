//! `<data-dir>/certificates/swarm-node.pem`: this node's TLS identity on disk — its certificate, the cluster's root
//! certificate, its private key, during a root rotation the cross-signed certificate and the other root it trusts,
//! and, on a manager, the root's private key (with its certificate when that is not the node's root) and the data
//! key its Raft log and snapshots are encrypted with at rest, as PEM blocks in that order. On an autolocked
//! manager every private key and the data key are kept sealed (`SWARM SEALED KEY` blocks) with the key-encryption
//! key of the swarm's unlock key, so a copy of the data directory reveals nothing without it. Invariants: the file
//! is replaced whole through `Disk::write_atomic`, so a crash leaves the old identity or the new one, never a
//! certificate beside another's key nor keys sealed with two unlock keys; `save` keeps the data key the file holds
//! (a manager never loses the key to its own log); the directory is private to its owner (mode 0700) and the file
//! too (0600);
//! what is read back is checked whole (`NodeIdentity::new`, `RootCa::from_parts`), and a damaged file stops the
//! daemon with a message naming it rather than being replaced; a sealed file without the unlock key is `Locked`,
//! with a wrong one `WrongUnlockKey` — never guessed at.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aead::{AeadKey, KEY_BYTES};
use crate::manager::certificates::PRIVATE_KEY_PEM_TAG;
use crate::storage::disk::Disk;
use crate::storage::fs_disk::FsDisk;
use crate::tls::{NodeIdentity, RootCa, TlsError, UnlockKey};

/// What each sealed key is bound to (its associated data).
const NODE_KEY: &str = "swarm node private key";
const CA_KEY: &str = "swarm root CA private key";
const DATA_KEY: &str = "swarm data key";

/// The directory, inside the data directory.
pub const CERTIFICATES_DIR: &str = "certificates";
/// The identity file, inside that directory.
pub const IDENTITY_FILE: &str = "swarm-node.pem";
const CERTIFICATE_PEM_TAG: &str = "CERTIFICATE";
/// During a root rotation: the new root signed by the current one, presented after the node's certificate.
const CROSS_SIGNED_PEM_TAG: &str = "SWARM CROSS-SIGNED CERTIFICATE";
/// A root trusted beside the node's own (the current root, during a rotation).
const TRUSTED_ROOT_PEM_TAG: &str = "SWARM TRUSTED ROOT";
/// On a manager during a rotation: the certificate of the root CA key it keeps, when not the node's root.
const CA_CERTIFICATE_PEM_TAG: &str = "SWARM CA CERTIFICATE";
/// A private key or the data key, sealed with the unlock key's key-encryption key.
const SEALED_KEY_PEM_TAG: &str = "SWARM SEALED KEY";
/// The data key, unsealed (autolock off).
const DATA_KEY_PEM_TAG: &str = "SWARM DATA KEY";

/// Why the identity could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CertFileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}; refusing to start", path.display())]
    Damaged { path: PathBuf, source: TlsError },
    #[error(
        "{}: missing: this node is in a swarm but has no certificate (data from before mutual TLS?); remove the \
         data directory and join again",
        path.display()
    )]
    Missing { path: PathBuf },
    /// The keys are sealed and no unlock key was given (the manager stays locked until `swarm unlock`).
    #[error("{}: the keys are locked with the swarm's unlock key", path.display())]
    Locked { path: PathBuf },
    /// The keys are sealed and do not open with the unlock key given.
    #[error("invalid key")]
    WrongUnlockKey,
}

/// The node's identity, and on a manager the root CA and the data key, as kept on disk.
pub struct CertFiles {
    disk: FsDisk,
    /// The key-encryption key of the unlock key: keys are sealed with it when saved, opened with it when loaded.
    kek: Option<AeadKey>,
}

impl CertFiles {
    /// Opens (creating, mode 0700) the certificates directory of the data directory `data_dir`.
    pub fn open(data_dir: &Path) -> Result<CertFiles, CertFileError> {
        let dir = data_dir.join(CERTIFICATES_DIR);
        let io = |source| CertFileError::Io { path: dir.clone(), source };
        let disk = FsDisk::open(dir.clone()).map_err(io)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        Ok(CertFiles { disk, kek: None })
    }

    /// These files as the swarm's unlock key locks them (`None`: autolock is off, keys are kept unsealed).
    pub fn locked_with(mut self, unlock_key: Option<&UnlockKey>) -> CertFiles {
        self.kek = unlock_key.map(UnlockKey::kek);
        self
    }

    /// A private key or the data key as a PEM block: sealed (bound to what it is) when autolock is on.
    fn key_block(&self, what: &str, unsealed_tag: &str, key: &[u8]) -> pem::Pem {
        match &self.kek {
            Some(kek) => pem::Pem::new(SEALED_KEY_PEM_TAG, kek.seal(what.as_bytes(), key)),
            None => pem::Pem::new(unsealed_tag, key.to_vec()),
        }
    }

    /// The keys of `blocks` with `tag` (unsealed) or sealed as `what`, in order; sealed ones need the unlock key.
    /// Sealed blocks that open as one of `others` are another kind of key and are passed over.
    fn keys_of(
        &self,
        blocks: &[pem::Pem],
        tag: &str,
        what: &[&str],
        others: &[&str],
    ) -> Result<Vec<Vec<u8>>, CertFileError> {
        let mut keys: Vec<Vec<u8>> =
            blocks.iter().filter(|block| block.tag() == tag).map(|block| block.contents().to_vec()).collect();
        let sealed: Vec<&pem::Pem> = blocks.iter().filter(|block| block.tag() == SEALED_KEY_PEM_TAG).collect();
        if sealed.is_empty() {
            return Ok(keys);
        }
        let Some(kek) = &self.kek else { return Err(CertFileError::Locked { path: self.path() }) };
        for block in sealed {
            // Each sealed key is bound to what it is: try the names this file may hold, in order.
            match what.iter().find_map(|what| kek.open(what.as_bytes(), block.contents()).ok()) {
                Some(key) => keys.push(key),
                None if others.iter().any(|other| kek.open(other.as_bytes(), block.contents()).is_ok()) => {}
                None => return Err(CertFileError::WrongUnlockKey),
            }
        }
        Ok(keys)
    }

    /// Whether the keys here are sealed with an unlock key (the manager starts locked).
    pub fn is_locked(&self) -> Result<bool, CertFileError> {
        let Some(bytes) = self.disk.read(IDENTITY_FILE).map_err(self.io_error())? else { return Ok(false) };
        Ok(String::from_utf8_lossy(&bytes).contains(SEALED_KEY_PEM_TAG))
    }

    fn path(&self) -> PathBuf {
        self.disk.dir().join(IDENTITY_FILE)
    }

    fn io_error(&self) -> impl FnOnce(std::io::Error) -> CertFileError {
        let path = self.path();
        move |source| CertFileError::Io { path, source }
    }

    /// Keeps `identity`, with `ca` (a manager) or without the root's key (a worker), replacing what was kept but
    /// the data key, which stays.
    pub fn save(&self, identity: &NodeIdentity, ca: Option<&RootCa>) -> Result<(), CertFileError> {
        let data_key = self.load_data_key()?;
        self.save_all(identity, ca, data_key.as_ref())
    }

    /// Keeps `identity`, `ca` and `data_key`, replacing everything that was kept.
    pub fn save_all(
        &self,
        identity: &NodeIdentity,
        ca: Option<&RootCa>,
        data_key: Option<&[u8; KEY_BYTES]>,
    ) -> Result<(), CertFileError> {
        let mut blocks = vec![
            pem::Pem::new(CERTIFICATE_PEM_TAG, identity.cert_der().to_vec()),
            pem::Pem::new(CERTIFICATE_PEM_TAG, identity.root_der().to_vec()),
            self.key_block(NODE_KEY, PRIVATE_KEY_PEM_TAG, identity.key_pkcs8()),
        ];
        blocks.extend(identity.intermediates().iter().map(|der| pem::Pem::new(CROSS_SIGNED_PEM_TAG, der.clone())));
        blocks.extend(identity.other_roots().iter().map(|der| pem::Pem::new(TRUSTED_ROOT_PEM_TAG, der.clone())));
        if let Some(ca) = ca {
            if ca.cert_der() != identity.root_der() {
                blocks.push(pem::Pem::new(CA_CERTIFICATE_PEM_TAG, ca.cert_der().to_vec()));
            }
            blocks.push(self.key_block(CA_KEY, PRIVATE_KEY_PEM_TAG, ca.key_pkcs8()));
        }
        if let Some(data_key) = data_key {
            blocks.push(self.key_block(DATA_KEY, DATA_KEY_PEM_TAG, data_key));
        }
        self.disk.write_atomic(IDENTITY_FILE, pem::encode_many(&blocks).as_bytes()).map_err(self.io_error())?;
        std::fs::set_permissions(self.path(), std::fs::Permissions::from_mode(0o600)).map_err(self.io_error())
    }

    /// The identity and (on a manager) the root CA kept here.
    pub fn load(&self) -> Result<(NodeIdentity, Option<Arc<RootCa>>), CertFileError> {
        let path = self.path();
        let damaged = |source| CertFileError::Damaged { path: path.clone(), source };
        let Some(bytes) = self.disk.read(IDENTITY_FILE).map_err(self.io_error())? else {
            return Err(CertFileError::Missing { path });
        };
        let blocks = pem::parse_many(&bytes)
            .map_err(|e| damaged(TlsError::Invalid { what: "identity file", reason: e.to_string() }))?;
        let tagged = |tag: &str| -> Vec<Vec<u8>> {
            blocks.iter().filter(|block| block.tag() == tag).map(|block| block.contents().to_vec()).collect()
        };
        let certificates = tagged(CERTIFICATE_PEM_TAG);
        let keys = self.keys_of(&blocks, PRIVATE_KEY_PEM_TAG, &[NODE_KEY, CA_KEY], &[DATA_KEY])?;
        let ([cert, root], [key, ca_key @ ..]) = (certificates.as_slice(), keys.as_slice()) else {
            return Err(damaged(TlsError::Invalid {
                what: "identity file",
                reason: format!(
                    "expected 2 certificates and 1 or 2 private keys, found {} and {}",
                    certificates.len(),
                    keys.len()
                ),
            }));
        };
        let identity = NodeIdentity::new(cert.clone(), key.clone(), root.clone())
            .and_then(|identity| identity.with_trust(tagged(CROSS_SIGNED_PEM_TAG), tagged(TRUSTED_ROOT_PEM_TAG)))
            .map_err(damaged)?;
        let ca_cert = tagged(CA_CERTIFICATE_PEM_TAG).into_iter().next().unwrap_or_else(|| root.clone());
        let ca = match ca_key {
            [] => None,
            [ca_key] => Some(Arc::new(RootCa::from_parts(ca_cert, ca_key.clone()).map_err(damaged)?)),
            _ => {
                return Err(damaged(TlsError::Invalid {
                    what: "identity file",
                    reason: format!("{} private keys", keys.len()),
                }))
            }
        };
        Ok((identity, ca))
    }

    /// The data key kept here, if any (a worker, or a manager of a build before encryption at rest, has none).
    pub fn load_data_key(&self) -> Result<Option<[u8; KEY_BYTES]>, CertFileError> {
        let path = self.path();
        let Some(bytes) = self.disk.read(IDENTITY_FILE).map_err(self.io_error())? else { return Ok(None) };
        let damaged = |reason: String| CertFileError::Damaged {
            path: path.clone(),
            source: TlsError::Invalid { what: "identity file", reason },
        };
        let blocks = pem::parse_many(&bytes).map_err(|e| damaged(e.to_string()))?;
        let keys = self.keys_of(&blocks, DATA_KEY_PEM_TAG, &[DATA_KEY], &[NODE_KEY, CA_KEY])?;
        match keys.as_slice() {
            [] => Ok(None),
            [key] => {
                Ok(Some(key.as_slice().try_into().map_err(|_| damaged(format!("a data key of {} bytes", key.len())))?))
            }
            _ => Err(damaged(format!("{} data keys", keys.len()))),
        }
    }

    /// Forgets the identity and the data key (the node left the swarm).
    pub fn remove_all(&self) -> Result<(), CertFileError> {
        self.disk.remove(IDENTITY_FILE).map_err(self.io_error())
    }
}
