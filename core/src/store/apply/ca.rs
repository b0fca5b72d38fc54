//! The root CA rotation commands (`swarm ca --rotate`): `StartCaRotation`, `SetNodeTls` (a node's report of its
//! certificate's root and the roots it trusts), `ResealSecrets` (secrets' values moved to the new root's sealing
//! key) and `FinishCaRotation`. The invariant they keep: a rotation finishes only when every node holds a
//! certificate of the new root and trusts it, and every secret is sealed with the new root's key, so neither a
//! node nor a secret is left behind with the old root.

use crate::limits::Limit;
use crate::model::{CaRotation, NodeTls, ObjectKind, SealedData};
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::txn::Txn;

/// The most roots a node may report trusting (during a rotation it trusts two).
const NODE_TRUSTED_ROOTS_MAX: usize = 4;

impl Txn<'_> {
    pub(super) fn start_ca_rotation(&mut self, rotation: &CaRotation) -> Result<Outcome, Rejection> {
        let mut cluster = self.cluster()?.clone();
        if cluster.ca.rotation.is_some() {
            return Err(Rejection::CaRotationInProgress);
        }
        bounds::check_len(Limit::FileData, rotation.new_root_cert.len())?;
        bounds::check_len(Limit::FileData, rotation.cross_signed_cert.len())?;
        bounds::check_len(Limit::FileData, rotation.new_root_key.bytes.len())?;
        bounds::check_len(Limit::IdLength, rotation.new_root_key.key_id.len())?;
        bounds::check_len(Limit::IdLength, rotation.new_key_id.len())?;
        bounds::check_len(Limit::TextLength, rotation.new_root_digest.len())?;
        cluster.ca.rotation = Some(CaRotation { started_at: self.now, ..rotation.clone() });
        Ok(self.update_cluster(cluster))
    }

    pub(super) fn set_node_tls(&mut self, node_id: &str, tls: &NodeTls) -> Result<Outcome, Rejection> {
        let mut cluster = self.cluster()?.clone();
        self.node(node_id)?;
        // A node's own word: a digest is at most an id's length, and a node trusts at most a few roots.
        bounds::check_len(Limit::IdLength, tls.cert_root_digest.len())?;
        if tls.trusted_root_digests.len() > NODE_TRUSTED_ROOTS_MAX {
            return Err(Rejection::InvalidSettings {
                reason: format!("a node reports at most {NODE_TRUSTED_ROOTS_MAX} trusted roots"),
            });
        }
        for digest in &tls.trusted_root_digests {
            bounds::check_len(Limit::IdLength, digest.len())?;
        }
        if cluster.ca.node_tls.get(node_id) == Some(tls) {
            return Ok(Outcome::Unchanged);
        }
        cluster.ca.node_tls.insert(node_id.to_string(), tls.clone());
        // Not a change of the cluster's settings: its version stays, so `swarm update` based on it still applies.
        let version = cluster.version;
        self.put_cluster(cluster);
        Ok(Outcome::Updated { kind: ObjectKind::Node, id: node_id.to_string(), version })
    }

    pub(super) fn reseal_secrets(
        &mut self,
        from_key_id: &str,
        resealed: &[(String, SealedData)],
    ) -> Result<Outcome, Rejection> {
        let cluster = self.cluster()?;
        let Some(rotation) = &cluster.ca.rotation else { return Err(Rejection::NoCaRotation) };
        let new_key_id = rotation.new_key_id.clone();
        bounds::check_len(Limit::ListLength, resealed.len())?;
        let mut outcomes = Vec::new();
        for (id, sealed) in resealed {
            bounds::check_len(Limit::FileData, sealed.bytes.len())?;
            if sealed.key_id != new_key_id {
                return Err(Rejection::InvalidFileObject {
                    kind: ObjectKind::Secret,
                    name: id.clone(),
                    reason: format!("resealed with key {}, not the new root's key {new_key_id}", sealed.key_id),
                });
            }
            let Some(secret) = self.store.secrets.get(id) else { continue };
            if secret.sealed.key_id != from_key_id {
                continue;
            }
            let mut secret = secret.clone();
            secret.sealed = sealed.clone();
            secret.version = secret.version.next();
            secret.updated_at = super::later(self.now, secret.updated_at);
            outcomes.push(Outcome::Updated { kind: ObjectKind::Secret, id: id.clone(), version: secret.version });
            self.put_secret(secret);
        }
        Ok(if outcomes.is_empty() { Outcome::Unchanged } else { Outcome::Batch(outcomes) })
    }

    pub(super) fn finish_ca_rotation(&mut self, new_root_digest: &str) -> Result<Outcome, Rejection> {
        let mut cluster = self.cluster()?.clone();
        let Some(rotation) = cluster.ca.rotation.take() else { return Err(Rejection::NoCaRotation) };
        if rotation.new_root_digest != new_root_digest {
            return Err(Rejection::CaRotationNotDone {
                reason: format!("the rotation in progress is to root {}", rotation.new_root_digest),
            });
        }
        let waiting = cluster.ca.nodes_still_to_move(&rotation, self.store.nodes.values());
        if let Some(first) = waiting.first() {
            return Err(Rejection::CaRotationNotDone {
                reason: format!("{} node(s) not on the new root yet, {first} among them", waiting.len()),
            });
        }
        if let Some(secret) = self.store.secrets.values().find(|s| s.sealed.key_id != rotation.new_key_id) {
            return Err(Rejection::CaRotationNotDone {
                reason: format!("secret {} is still sealed with key {}", secret.id, secret.sealed.key_id),
            });
        }
        let join_tokens = cluster.join_tokens.with_digest(&rotation.new_root_digest);
        bounds::check_join_token(&join_tokens.worker)?;
        bounds::check_join_token(&join_tokens.manager)?;
        cluster.ca.root_cert = rotation.new_root_cert;
        cluster.ca.root_digest = rotation.new_root_digest;
        cluster.ca.root_key = Some(rotation.new_root_key);
        cluster.ca.sealing_key_id = rotation.new_key_id;
        cluster.join_tokens = join_tokens;
        Ok(self.update_cluster(cluster))
    }
}
