//! Root CA rotation on the managers (`swarm ca --rotate`). Any manager starts one: it makes the new root, has the
//! current root sign it (the cross-signed certificate that lets nodes still on the old root accept the new one's
//! certificates), seals the new root's key with the current root's sealing key and proposes it all. From then on
//! every manager issues from the new root (`HeldRoots`) and moves its own certificate to it (`own_certificate`),
//! and the other nodes renew into it as they notice. The
//! leader drives the rest: it reseals secrets' values with the new root's key and proposes
//! the end once every node holds a certificate of the new root and trusts it — after which nodes drop the old
//! root. Invariant: the old root stops being trusted only after `FinishCaRotation` committed, which the store
//! refuses while a node or a secret is still on the old root.

use std::sync::{Arc, Weak};
use std::time::Duration;

use swarm_core::{ClusterCa, Command, NodeTls, Proposal, SealedData};

use super::Manager;
use crate::clock::wall_clock_now;
use crate::propose::LeaderHandle;
use crate::tls::held_roots::WantedTrust;
use crate::tls::{HeldRoots, RootCa, SealingKeys, TlsError};

/// How often the leader looks at a rotation in progress.
const DRIVE_PERIOD: Duration = Duration::from_millis(500);
/// The most secrets resealed in one proposal, and the most bytes of their values.
const RESEAL_BATCH_SECRETS: usize = 64;
/// (Under the 1 MiB a proposal may hold: one value is at most 500 KiB.)
const RESEAL_BATCH_BYTES: usize = 512 << 10;

impl Manager {
    /// The roots this manager holds (`None`: a manager without a CA, in benchmarks).
    pub fn held_roots(&self) -> Option<&HeldRoots> {
        self.roots.as_ref()
    }

    /// The store's root CA state (empty before `swarm init`).
    pub fn cluster_ca(&self) -> ClusterCa {
        self.read(|store| store.cluster().map(|c| c.ca.clone())).unwrap_or_default()
    }

    /// The root this manager issues certificates from now.
    pub fn issuing_root(&self) -> Result<Arc<RootCa>, TlsError> {
        let roots = self.roots.as_ref().ok_or_else(no_ca)?;
        roots.issuing(&self.cluster_ca())
    }

    /// What every node should hold now: which root's certificate, presented with what, trusting which roots.
    pub fn wanted_trust(&self) -> Result<WantedTrust, TlsError> {
        let roots = self.roots.as_ref().ok_or_else(no_ca)?;
        roots.wanted_trust(&self.cluster_ca())
    }

    /// The keys that seal new secrets and open stored ones.
    pub fn secret_keys(&self) -> Result<SealingKeys, TlsError> {
        let roots = self.roots.as_ref().ok_or_else(no_ca)?;
        roots.sealing_keys(&self.cluster_ca())
    }

    /// Starts a root rotation: a new root (key from the runtime's RNG), cross-signed by the current root, its key
    /// sealed with the current root's sealing key. Answers the new root's digest.
    pub async fn start_ca_rotation(&self) -> Result<String, String> {
        let roots = self.roots.as_ref().ok_or_else(|| no_ca().to_string())?;
        let ca = self.cluster_ca();
        if ca.rotation.is_some() {
            return Err(swarm_core::Rejection::CaRotationInProgress.to_string());
        }
        let current = roots.current(&ca).map_err(|e| e.to_string())?;
        let cluster_id = self.read(|store| store.cluster().map(|c| c.id.clone())).unwrap_or_default();
        let now = wall_clock_now();
        let (rotation, _) = HeldRoots::prepare_rotation(&current, &cluster_id, now).map_err(|e| e.to_string())?;
        let digest = rotation.new_root_digest.clone();
        let committed =
            self.propose(Proposal::new(now, Command::StartCaRotation { rotation })).await.map_err(|e| e.to_string())?;
        committed.response.map_err(|rejection| rejection.to_string())?;
        tracing::info!(%digest, "root CA rotation started");
        Ok(digest)
    }

    /// Records what node `node_id` reported of its TLS, if the store holds something else.
    pub async fn record_node_tls(&self, node_id: &str, tls: NodeTls) -> Result<(), String> {
        let stored = self.read(|store| store.cluster().and_then(|c| c.ca.node_tls.get(node_id).cloned()));
        if stored.as_ref() == Some(&tls) {
            return Ok(());
        }
        let command = Command::SetNodeTls { node_id: node_id.to_string(), tls };
        let committed = self.propose(Proposal::new(wall_clock_now(), command)).await.map_err(|e| e.to_string())?;
        committed.response.map(|_| ()).map_err(|rejection| rejection.to_string())
    }
}

fn no_ca() -> TlsError {
    TlsError::Invalid { what: "certificate authority", reason: "this manager holds none".to_string() }
}

/// Every manager: its own certificate and TLS report; while leading also a rotation in progress, driven to its
/// end. Ends with the manager.
pub(super) async fn run(manager: Weak<Manager>) {
    loop {
        tokio::time::sleep(DRIVE_PERIOD).await;
        let Some(manager) = manager.upgrade() else { return };
        if let Err(reason) = manager.follow_own_certificate() {
            tracing::warn!(%reason, "cannot renew this manager's own certificate");
        }
        if let Err(reason) = record_own_tls(&manager).await {
            tracing::debug!(%reason, "cannot record this manager's TLS report yet");
        }
        if manager.leading_term().is_none() || manager.roots.is_none() {
            continue;
        }
        if let Err(reason) = drive(&manager).await {
            tracing::warn!(%reason, "root CA rotation: cannot make progress");
        }
    }
}

/// Every manager's own TLS report, recorded when the store holds another (a manager without a node in the store,
/// as in the simulator, has none to record).
async fn record_own_tls(manager: &Arc<Manager>) -> Result<(), String> {
    let Some(identity) = manager.config.tls.as_ref().map(|tls| tls.identity()) else { return Ok(()) };
    let node_id = identity.node_id().to_string();
    if !manager.read(|store| store.node(&node_id).is_some()) {
        return Ok(());
    }
    manager.record_node_tls(&node_id, identity.tls_report()).await
}

/// One step: a batch of secrets resealed, or the end proposed once nothing is
/// left on the old root.
async fn drive(manager: &Arc<Manager>) -> Result<(), String> {
    let ca = manager.cluster_ca();
    let Some(rotation) = ca.rotation.clone() else { return Ok(()) };
    let keys = manager.secret_keys().map_err(|e| e.to_string())?;
    let to_reseal: Vec<(String, SealedData)> = manager.read(|store| {
        store
            .secrets()
            .filter(|s| s.sealed.key_id != rotation.new_key_id)
            .map(|s| (s.id.clone(), s.sealed.clone()))
            .collect()
    });
    if let Some((from_key_id, _)) = to_reseal.first().map(|(_, sealed)| (sealed.key_id.clone(), ())) {
        let mut resealed = Vec::new();
        let mut bytes = 0;
        for (id, sealed) in to_reseal.iter().filter(|(_, sealed)| sealed.key_id == from_key_id) {
            let full = resealed.len() == RESEAL_BATCH_SECRETS || bytes + sealed.bytes.len() > RESEAL_BATCH_BYTES;
            if full && !resealed.is_empty() {
                break;
            }
            let value = keys.open(id, sealed).map_err(|e| e.to_string())?;
            bytes += sealed.bytes.len();
            resealed.push((id.clone(), keys.seal(id, &value)));
        }
        let count = resealed.len();
        let command = Command::ResealSecrets { from_key_id, resealed };
        propose_as_leader(manager, command).await?;
        tracing::info!(count, "root CA rotation: secrets resealed with the new root's key");
        return Ok(());
    }
    let waiting = manager.read(|store| ca.nodes_still_to_move(&rotation, store.nodes()));
    if !waiting.is_empty() {
        return Ok(());
    }
    let command = Command::FinishCaRotation { new_root_digest: rotation.new_root_digest.clone() };
    propose_as_leader(manager, command).await?;
    tracing::info!(digest = %rotation.new_root_digest, "root CA rotation finished: nodes drop the old root");
    Ok(())
}

async fn propose_as_leader(manager: &Arc<Manager>, command: Command) -> Result<(), String> {
    let committed =
        manager.propose_as_leader(Proposal::new(wall_clock_now(), command)).await.map_err(|e| e.to_string())?;
    committed.response.map(|_| ()).map_err(|rejection| rejection.to_string())
}
