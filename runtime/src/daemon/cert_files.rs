//! `<data-dir>/certificates/swarm-node.pem`: this node's TLS identity on disk — its certificate, the cluster's root
//! certificate, its private key and, on a manager, the root's private key, as PEM blocks in that order. Invariants:
//! the whole identity is one file replaced through `Disk::write_atomic`, so a crash leaves the old identity or the
//! new one, never a certificate beside another's key; the directory is private to its owner (mode 0700) and the file
//! too (0600); what is read back is checked whole (`NodeIdentity::new`, `RootCa::from_parts`), and a damaged file
//! stops the daemon with a message naming it rather than being replaced.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::manager::certificates::PRIVATE_KEY_PEM_TAG;
use crate::storage::disk::Disk;
use crate::storage::fs_disk::FsDisk;
use crate::tls::{NodeIdentity, RootCa, TlsError};

/// The directory, inside the data directory.
pub const CERTIFICATES_DIR: &str = "certificates";
/// The identity file, inside that directory.
pub const IDENTITY_FILE: &str = "swarm-node.pem";
const CERTIFICATE_PEM_TAG: &str = "CERTIFICATE";

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
}

/// The node's identity, and on a manager the root CA, as kept on disk.
pub struct CertFiles {
    disk: FsDisk,
}

impl CertFiles {
    /// Opens (creating, mode 0700) the certificates directory of the data directory `data_dir`.
    pub fn open(data_dir: &Path) -> Result<CertFiles, CertFileError> {
        let dir = data_dir.join(CERTIFICATES_DIR);
        let io = |source| CertFileError::Io { path: dir.clone(), source };
        let disk = FsDisk::open(dir.clone()).map_err(io)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        Ok(CertFiles { disk })
    }

    fn path(&self) -> PathBuf {
        self.disk.dir().join(IDENTITY_FILE)
    }

    fn io_error(&self) -> impl FnOnce(std::io::Error) -> CertFileError {
        let path = self.path();
        move |source| CertFileError::Io { path, source }
    }

    /// Keeps `identity`, with `ca` (a manager) or without the root's key (a worker), replacing what was kept.
    pub fn save(&self, identity: &NodeIdentity, ca: Option<&RootCa>) -> Result<(), CertFileError> {
        let mut blocks = vec![
            pem::Pem::new(CERTIFICATE_PEM_TAG, identity.cert_der().to_vec()),
            pem::Pem::new(CERTIFICATE_PEM_TAG, identity.root_der().to_vec()),
            pem::Pem::new(PRIVATE_KEY_PEM_TAG, identity.key_pkcs8().to_vec()),
        ];
        if let Some(ca) = ca {
            blocks.push(pem::Pem::new(PRIVATE_KEY_PEM_TAG, ca.key_pkcs8().to_vec()));
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
        let (certificates, keys) = (tagged(CERTIFICATE_PEM_TAG), tagged(PRIVATE_KEY_PEM_TAG));
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
        let identity = NodeIdentity::new(cert.clone(), key.clone(), root.clone()).map_err(damaged)?;
        let ca = match ca_key {
            [] => None,
            [ca_key] => Some(Arc::new(RootCa::from_parts(root.clone(), ca_key.clone()).map_err(damaged)?)),
            _ => {
                return Err(damaged(TlsError::Invalid {
                    what: "identity file",
                    reason: format!("{} private keys", keys.len()),
                }))
            }
        };
        Ok((identity, ca))
    }

    /// Forgets the identity (the node left the swarm).
    pub fn remove_all(&self) -> Result<(), CertFileError> {
        self.disk.remove(IDENTITY_FILE).map_err(self.io_error())
    }
}
