//! The network commands: `CreateNetwork` (`network create`; names unique among networks) and `RemoveNetwork`
//! (`network rm`).

use crate::model::{Network, NetworkSpec, ObjectKind, Version};
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::txn::Txn;

impl Txn<'_> {
    pub(super) fn create_network(&mut self, network_id: &str, spec: &NetworkSpec) -> Result<Outcome, Rejection> {
        self.cluster()?;
        bounds::check_id(ObjectKind::Network, network_id)?;
        if self.store.networks.contains_key(network_id) {
            return Err(Rejection::IdConflict { kind: ObjectKind::Network, id: network_id.to_string() });
        }
        bounds::check_network_spec(spec)?;
        if let Some(existing_id) = self.store.network_ids_by_name.get(&spec.name) {
            return Err(Rejection::NameConflict {
                kind: ObjectKind::Network,
                name: spec.name.clone(),
                existing_id: existing_id.clone(),
            });
        }
        self.put_network(Network {
            id: network_id.to_string(),
            version: Version::INITIAL,
            created_at: self.now,
            updated_at: self.now,
            spec: spec.clone(),
        });
        Ok(Outcome::Created { kind: ObjectKind::Network, id: network_id.to_string(), version: Version::INITIAL })
    }

    pub(super) fn remove_network(&mut self, id: &str) -> Result<Outcome, Rejection> {
        self.cluster()?;
        if !self.store.networks.contains_key(id) {
            return Err(Rejection::NoSuchNetwork { id: id.to_string() });
        }
        self.delete_network(id);
        Ok(Outcome::Removed { kind: ObjectKind::Network, id: id.to_string() })
    }
}
