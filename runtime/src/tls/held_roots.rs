//! The root CAs a manager holds across root rotations (`swarm ca --rotate`): the one kept on its disk, and those the
//! store names — a rotation's new root, or the root of the last finished rotation — whose private keys the store
//! carries sealed with the sealing key of the root before. From them it answers which root issues certificates now,
//! what a node should present and trust, and which keys seal and open secrets. Invariant: a root is taken up only
//! from a key that opens (authenticated, bound to that root's digest) and belongs to the certificate the store
//! names; nothing here writes to disk (the daemon keeps a finished rotation's root in the identity file).

use std::sync::{Arc, Mutex};

use swarm_core::{CaRotation, ClusterCa, SealedData, Timestamp};

use super::ca::RootCa;
use super::sealing::{SealingKey, SealingKeys};
use super::TlsError;

/// What a node of the cluster should hold now: a certificate of `issuing`, presented with `intermediates`, and
/// trust in `issuing` and `other_roots` (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedTrust {
    pub issuing: Vec<u8>,
    pub intermediates: Vec<Vec<u8>>,
    pub other_roots: Vec<Vec<u8>>,
}

/// The roots a manager holds: the disk's first, then those taken up from the store.
pub struct HeldRoots {
    roots: Mutex<Vec<Arc<RootCa>>>,
}

impl std::fmt::Debug for HeldRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digests: Vec<String> = self.all().iter().map(|r| r.digest()).collect();
        f.debug_struct("HeldRoots").field("digests", &digests).finish()
    }
}

/// The associated data a root's key is sealed with in the store: bound to that root's digest.
fn sealed_key_id(digest: &str) -> String {
    format!("root CA key {digest}")
}

impl HeldRoots {
    /// The roots of a manager whose identity file holds `disk`.
    pub fn new(disk: Arc<RootCa>) -> HeldRoots {
        HeldRoots { roots: Mutex::new(vec![disk]) }
    }

    fn all(&self) -> Vec<Arc<RootCa>> {
        self.roots.lock().expect("held roots lock").clone()
    }

    /// The root kept on disk.
    pub fn disk(&self) -> Arc<RootCa> {
        self.all()[0].clone()
    }

    /// Records that the disk now holds `root` (the daemon saved a finished rotation's root).
    pub fn set_disk(&self, root: Arc<RootCa>) {
        let mut roots = self.roots.lock().expect("held roots lock");
        roots.retain(|held| held.digest() != root.digest());
        roots.insert(0, root);
    }

    /// `key` sealed for the store as the private key of `root`, with the sealing key of `sealer`.
    pub fn seal_root_key(sealer: &RootCa, root: &RootCa) -> SealedData {
        SealingKey::of(sealer).seal(&sealed_key_id(&root.digest()), root.key_pkcs8())
    }

    /// A rotation from `current` to a new root of `cluster_id` (its key from the runtime's RNG): the new root,
    /// signed by `current` (the cross-signed certificate), its key sealed with `current`'s sealing key.
    pub fn prepare_rotation(
        current: &RootCa,
        cluster_id: &str,
        now: Timestamp,
    ) -> Result<(CaRotation, Arc<RootCa>), TlsError> {
        let new = Arc::new(RootCa::create(cluster_id, now, super::keys::fresh_key_pkcs8()?)?);
        let rotation = CaRotation {
            new_root_cert: new.cert_der().to_vec(),
            new_root_digest: new.digest(),
            new_root_key: HeldRoots::seal_root_key(current, &new),
            cross_signed_cert: current.cross_sign(&new)?,
            new_key_id: SealingKey::of(&new).key_id().to_string(),
            started_at: now,
        };
        Ok((rotation, new))
    }

    /// The root whose certificate is `cert_der` (digest `digest`), held or taken up from `sealed_key`.
    fn take_up(&self, cert_der: &[u8], digest: &str, sealed_key: &SealedData) -> Result<Arc<RootCa>, TlsError> {
        let held = self.all();
        if let Some(root) = held.iter().find(|root| root.digest() == digest) {
            return Ok(root.clone());
        }
        let sealer = held.iter().map(|root| SealingKey::of(root)).find(|key| key.key_id() == sealed_key.key_id);
        let Some(sealer) = sealer else {
            return Err(TlsError::Invalid {
                what: "root CA in the store",
                reason: format!(
                    "its key is sealed with key {}, which this manager does not hold (it missed more than one root \
                     rotation: remove it with `node demote` and join it again)",
                    sealed_key.key_id
                ),
            });
        };
        let key = sealer
            .open(&sealed_key_id(digest), sealed_key)
            .map_err(|e| TlsError::Invalid { what: "root CA key in the store", reason: e.to_string() })?;
        let root = Arc::new(RootCa::from_parts(cert_der.to_vec(), key)?);
        if root.digest() != digest {
            return Err(TlsError::Invalid {
                what: "root CA in the store",
                reason: format!("its certificate's digest is {}, not {digest}", root.digest()),
            });
        }
        self.roots.lock().expect("held roots lock").push(root.clone());
        Ok(root)
    }

    /// The root certificates are issued from now: a rotation's new root while one is in progress, else the root of
    /// the last finished rotation, else the disk's.
    pub fn issuing(&self, ca: &ClusterCa) -> Result<Arc<RootCa>, TlsError> {
        if let Some(rotation) = &ca.rotation {
            return self.take_up(&rotation.new_root_cert, &rotation.new_root_digest, &rotation.new_root_key);
        }
        self.current(ca)
    }

    /// The cluster's root apart from a rotation in progress: the last finished rotation's, else the disk's.
    pub fn current(&self, ca: &ClusterCa) -> Result<Arc<RootCa>, TlsError> {
        match &ca.root_key {
            Some(sealed) if !ca.root_cert.is_empty() => self.take_up(&ca.root_cert, &ca.root_digest, sealed),
            _ => Ok(self.disk()),
        }
    }

    /// What every node should hold now (see `WantedTrust`).
    pub fn wanted_trust(&self, ca: &ClusterCa) -> Result<WantedTrust, TlsError> {
        let current = self.current(ca)?;
        Ok(match &ca.rotation {
            Some(rotation) => WantedTrust {
                issuing: self.issuing(ca)?.cert_der().to_vec(),
                intermediates: vec![rotation.cross_signed_cert.clone()],
                other_roots: vec![current.cert_der().to_vec()],
            },
            None => WantedTrust { issuing: current.cert_der().to_vec(), intermediates: vec![], other_roots: vec![] },
        })
    }

    /// The keys that seal new secrets (the issuing root's) and open stored ones (any held root's).
    pub fn sealing_keys(&self, ca: &ClusterCa) -> Result<SealingKeys, TlsError> {
        let issuing = self.issuing(ca)?;
        let others = self.all().iter().filter(|r| r.digest() != issuing.digest()).map(|r| SealingKey::of(r)).collect();
        Ok(SealingKeys { current: SealingKey::of(&issuing), others })
    }
}

#[cfg(test)]
mod tests {
    use swarm_core::{CaRotation, Timestamp};

    use super::*;
    use crate::tls::keys::key_pkcs8_from_seed;

    fn root(seed: u8) -> Arc<RootCa> {
        Arc::new(RootCa::create("c1", Timestamp(0), key_pkcs8_from_seed(&[seed; 32]).unwrap()).unwrap())
    }

    fn rotation(old: &RootCa, new: &RootCa) -> CaRotation {
        CaRotation {
            new_root_cert: new.cert_der().to_vec(),
            new_root_digest: new.digest(),
            new_root_key: HeldRoots::seal_root_key(old, new),
            cross_signed_cert: old.cross_sign(new).unwrap(),
            new_key_id: SealingKey::of(new).key_id().to_string(),
            started_at: Timestamp(0),
        }
    }

    #[test]
    fn a_manager_follows_the_store_through_a_rotation() {
        let (old, new) = (root(1), root(2));
        let held = HeldRoots::new(old.clone());
        let mut ca = ClusterCa::default();
        assert_eq!(held.issuing(&ca).unwrap().digest(), old.digest());
        let secret = held.sealing_keys(&ca).unwrap().seal("s1", b"pw");

        ca.rotation = Some(rotation(&old, &new));
        assert_eq!(held.issuing(&ca).unwrap().digest(), new.digest());
        let wanted = held.wanted_trust(&ca).unwrap();
        assert_eq!(
            (wanted.issuing.as_slice(), wanted.other_roots.as_slice()),
            (new.cert_der(), &[old.cert_der().to_vec()][..])
        );
        let keys = held.sealing_keys(&ca).unwrap();
        assert_eq!(keys.open("s1", &secret).unwrap(), b"pw", "the old key still opens");
        assert_eq!(keys.seal("s2", b"x").key_id, SealingKey::of(&new).key_id());

        // Finished: the store names the new root; a manager that restarts with the old root on disk takes it up.
        let mut finished = ClusterCa::default();
        let rotation = ca.rotation.take().unwrap();
        finished.root_cert = rotation.new_root_cert;
        finished.root_digest = rotation.new_root_digest;
        finished.root_key = Some(rotation.new_root_key);
        let restarted = HeldRoots::new(old.clone());
        assert_eq!(restarted.issuing(&finished).unwrap().digest(), new.digest());
        assert!(restarted.wanted_trust(&finished).unwrap().other_roots.is_empty());
        restarted.set_disk(new.clone());
        assert_eq!(restarted.disk().digest(), new.digest());
    }

    #[test]
    fn a_root_is_taken_up_only_with_a_key_that_opens_and_fits() {
        let (old, new, stranger) = (root(1), root(2), root(3));
        let mut bad = rotation(&old, &new);
        bad.new_root_key = HeldRoots::seal_root_key(&stranger, &new);
        let ca = ClusterCa { rotation: Some(bad), ..ClusterCa::default() };
        let error = HeldRoots::new(old.clone()).issuing(&ca).unwrap_err().to_string();
        assert!(error.contains("missed more than one root rotation"), "{error}");

        let mut swapped = rotation(&old, &new);
        swapped.new_root_cert = stranger.cert_der().to_vec();
        let ca = ClusterCa { rotation: Some(swapped), ..ClusterCa::default() };
        assert!(HeldRoots::new(old).issuing(&ca).is_err(), "a key bound to another root's digest");
    }
}
