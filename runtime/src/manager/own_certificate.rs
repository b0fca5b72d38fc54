//! Every manager keeps its own certificate itself, since it holds the root CA: it issues itself a new one from the
//! root it issues from (`HeldRoots::issuing`) when the old one is due for renewal (50–80 % of its life) or a root
//! rotation moved the issuing root, takes up the trust the store's CA state asks for (both roots during a rotation,
//! the new one alone after it), and keeps a finished rotation's root as the one on its disk. Each change is kept
//! through `ManagerConfig::keep_identity` (the daemon's identity file) before it is used. Invariants: only a
//! manager in office (a Raft voter the store does not want as a worker) issues itself a certificate or keeps the
//! CA's key — a demotion is the daemon's to follow; the TLS settings change only once kept, and only if no other
//! writer changed the certificate since this look (`TlsHandle::replace_if_current`).

use std::sync::Arc;

use swarm_core::NodeRole;

use super::Manager;
use crate::clock::wall_clock_now;
use crate::tls::keys::fresh_key_pkcs8;
use crate::tls::{NodeIdentity, RootCa, TlsError};

/// Why a manager's own certificate could not follow.
#[derive(Debug, thiserror::Error)]
pub enum OwnCertificateError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot keep the new identity: {0}")]
    Keep(String),
}

/// Keeps a new identity of this manager and the root CA it holds where they survive a restart.
pub type KeepIdentity = Arc<dyn Fn(&NodeIdentity, &RootCa) -> Result<(), String> + Send + Sync>;

impl Manager {
    /// One look at this manager's own certificate (see the module's paragraph).
    pub(super) fn follow_own_certificate(&self) -> Result<(), OwnCertificateError> {
        let (Some(tls), Some(roots)) = (&self.config.tls, &self.roots) else { return Ok(()) };
        if self.read(|store| store.cluster().is_none()) {
            return Ok(());
        }
        // Only a manager in office: a node the store wants as a worker, or that left the voters, is the daemon's
        // to change (demotion), and must not give itself a manager's certificate or keep the CA's key.
        let identity = tls.identity();
        let role_in_store = self.read(|store| store.node(identity.node_id()).map(|node| node.spec.role));
        let voter = self.status().voters.contains_key(&self.config.node_id);
        if identity.role() != NodeRole::Manager || role_in_store == Some(NodeRole::Worker) || !voter {
            return Ok(());
        }
        let ca = self.cluster_ca();
        let keep = |identity: &NodeIdentity, root: &RootCa| match &self.config.keep_identity {
            Some(keep) => keep(identity, root).map_err(OwnCertificateError::Keep),
            None => Ok(()),
        };
        // The cluster's root moved on (a finished rotation, perhaps with the next one already running): it is the
        // one this manager keeps on disk from now on.
        if !ca.root_cert.is_empty() && roots.disk().cert_der() != ca.root_cert.as_slice() {
            let current = roots.current(&ca)?;
            // Through the handle, so no other writer's identity is overwritten in the file.
            if tls.replace_if_current(identity.cert_der(), identity.clone(), |kept| keep(kept, &current))? {
                roots.set_disk(current);
                tracing::info!("this manager keeps the swarm's new root CA");
            }
        }
        let issuing = roots.issuing(&ca)?;
        let trust = roots.wanted_trust(&ca)?;
        let disk = roots.disk();
        let keep_with_disk_root = |identity: &NodeIdentity| keep(identity, &disk);
        if identity.root_der() != issuing.cert_der() || wall_clock_now() >= identity.renew_at() {
            let key = fresh_key_pkcs8()?;
            let (node_id, cluster_id) = (identity.node_id(), identity.cluster_id());
            let renewed = issuing
                .issue_identity(
                    key,
                    node_id,
                    NodeRole::Manager,
                    cluster_id,
                    wall_clock_now(),
                    self.node_cert_validity(),
                )
                .and_then(|renewed| renewed.with_trust(trust.intermediates, trust.other_roots))?;
            if tls.replace_if_current(identity.cert_der(), renewed, keep_with_disk_root)? {
                tracing::info!("this manager issued itself a new certificate");
            }
        } else if identity.intermediates() != trust.intermediates.as_slice()
            || identity.other_roots() != trust.other_roots.as_slice()
        {
            let adopted = identity.clone().with_trust(trust.intermediates, trust.other_roots)?;
            if tls.replace_if_current(identity.cert_der(), adopted, keep_with_disk_root)? {
                tracing::info!("this manager follows the swarm's root CA rotation: its trusted roots changed");
            }
        }
        Ok(())
    }
}
