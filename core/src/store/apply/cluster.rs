//! The cluster commands: `InitCluster` (`swarm init`), `RotateJoinToken` (`join-token --rotate`),
//! `UpdateClusterSettings` (`swarm update`) and `SetUnlockKey` (autolock on, off, or a new key). The cluster object exists once, from `InitCluster` on; every other
//! command of every family is rejected as "not initialized" before it (`Txn::cluster`).

use super::{check_version, later};
use crate::model::{Cluster, ClusterCa, ClusterSettings, JoinTokens, NodeRole, ObjectKind, Version};
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::txn::Txn;

impl Txn<'_> {
    /// The cluster, or "cluster is not initialized".
    pub(super) fn cluster(&self) -> Result<&Cluster, Rejection> {
        self.store.cluster.as_ref().ok_or(Rejection::NotInitialized)
    }

    pub(super) fn init_cluster(
        &mut self,
        cluster_id: &str,
        settings: &ClusterSettings,
        join_tokens: &JoinTokens,
    ) -> Result<Outcome, Rejection> {
        if self.store.cluster.is_some() {
            return Err(Rejection::AlreadyInitialized);
        }
        bounds::check_id(ObjectKind::Cluster, cluster_id)?;
        bounds::check_settings(settings)?;
        bounds::check_join_token(&join_tokens.worker)?;
        bounds::check_join_token(&join_tokens.manager)?;
        self.put_cluster(Cluster {
            id: cluster_id.to_string(),
            version: Version::INITIAL,
            created_at: self.now,
            updated_at: self.now,
            settings: settings.clone(),
            join_tokens: join_tokens.clone(),
            unlock_key: String::new(),
            ca: ClusterCa::default(),
        });
        Ok(Outcome::Created { kind: ObjectKind::Cluster, id: cluster_id.to_string(), version: Version::INITIAL })
    }

    /// Replaces the token of `role` only.
    pub(super) fn rotate_join_token(&mut self, role: NodeRole, token: &str) -> Result<Outcome, Rejection> {
        let mut cluster = self.cluster()?.clone();
        bounds::check_join_token(token)?;
        match role {
            NodeRole::Worker => cluster.join_tokens.worker = token.to_string(),
            NodeRole::Manager => cluster.join_tokens.manager = token.to_string(),
        }
        Ok(self.update_cluster(cluster))
    }

    pub(super) fn update_cluster_settings(
        &mut self,
        version: Version,
        settings: &ClusterSettings,
    ) -> Result<Outcome, Rejection> {
        let mut cluster = self.cluster()?.clone();
        check_version(ObjectKind::Cluster, &cluster.id, cluster.version, version)?;
        bounds::check_settings(settings)?;
        let old = &cluster.settings;
        if (&old.default_addr_pools, old.default_subnet_prefix_len, old.data_path_port)
            != (&settings.default_addr_pools, settings.default_subnet_prefix_len, settings.data_path_port)
        {
            return Err(Rejection::InvalidSettings {
                reason: "the default address pools, their mask length and the data path port are fixed at swarm init"
                    .to_string(),
            });
        }
        cluster.settings = settings.clone();
        Ok(self.update_cluster(cluster))
    }

    /// Sets the unlock key (turning autolock on, rotating the key) or clears it (autolock off).
    pub(super) fn set_unlock_key(&mut self, key: &str, expected: &str) -> Result<Outcome, Rejection> {
        let mut cluster = self.cluster()?.clone();
        if cluster.unlock_key != expected {
            return Err(Rejection::UnlockKeyChanged);
        }
        bounds::check_join_token(key).or_else(|rejection| if key.is_empty() { Ok(()) } else { Err(rejection) })?;
        if cluster.unlock_key == key {
            return Ok(Outcome::Unchanged);
        }
        cluster.unlock_key = key.to_string();
        Ok(self.update_cluster(cluster))
    }

    /// Stores `cluster` as an update of the stored cluster: bumps version and `updated_at`.
    pub(super) fn update_cluster(&mut self, mut cluster: Cluster) -> Outcome {
        cluster.version = cluster.version.next();
        cluster.updated_at = later(self.now, cluster.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Cluster, id: cluster.id.clone(), version: cluster.version };
        self.put_cluster(cluster);
        outcome
    }
}
