//! The secret and config commands: `CreateSecret`/`CreateConfig` (names unique among their kind, data within
//! Docker's 500 KiB, at most `limits::FILE_OBJECTS_MAX` of each) and `RemoveSecret`/`RemoveConfig` (refused while a
//! service's spec references the object, naming the services, as SwarmKit does). With them, the one rule every
//! service spec the store takes keeps (`check_file_references`): each reference names an object the store holds,
//! by its id and current name. Which ids a spec's names mean is decided before proposing
//! (`Store::resolve_file_references`), so the proposal records exactly which objects the tasks get.

use crate::limits::Limit;
use crate::model::{Config, ConfigSpec, ObjectKind, SealedData, Secret, SecretSpec, ServiceSpec, Version};
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::state::Store;
use crate::store::txn::Txn;

impl Txn<'_> {
    pub(super) fn create_secret(
        &mut self,
        secret_id: &str,
        spec: &SecretSpec,
        sealed: &SealedData,
    ) -> Result<Outcome, Rejection> {
        let cluster = self.cluster()?;
        bounds::check_file_object(ObjectKind::Secret, secret_id, &spec.name, &spec.labels, sealed.bytes.len())?;
        bounds::check_len(Limit::IdLength, sealed.key_id.len())?;
        if !cluster.ca.accepts_sealing_key(&sealed.key_id) {
            return Err(Rejection::InvalidFileObject {
                kind: ObjectKind::Secret,
                name: spec.name.clone(),
                reason: format!(
                    "sealed with key {}, which a root CA rotation retired (the manager had not seen it yet); try again",
                    sealed.key_id
                ),
            });
        }
        if self.store.secrets.contains_key(secret_id) {
            return Err(Rejection::IdConflict { kind: ObjectKind::Secret, id: secret_id.to_string() });
        }
        if let Some(existing) = self.store.secrets().find(|secret| secret.spec.name == spec.name) {
            return Err(name_conflict(ObjectKind::Secret, &spec.name, &existing.id));
        }
        bounds::check_len(Limit::FileObjects, self.store.secrets.len() + 1)?;
        self.put_secret(Secret {
            id: secret_id.to_string(),
            version: Version::INITIAL,
            created_at: self.now,
            updated_at: self.now,
            spec: spec.clone(),
            sealed: sealed.clone(),
        });
        Ok(Outcome::Created { kind: ObjectKind::Secret, id: secret_id.to_string(), version: Version::INITIAL })
    }

    pub(super) fn remove_secret(&mut self, id: &str) -> Result<Outcome, Rejection> {
        self.cluster()?;
        let secret = self.store.secrets.get(id).ok_or_else(|| Rejection::NoSuchSecret { id: id.to_string() })?;
        let services = self.store.services_using(ObjectKind::Secret, id);
        if !services.is_empty() {
            return Err(Rejection::FileObjectInUse {
                kind: ObjectKind::Secret,
                name: secret.spec.name.clone(),
                services,
            });
        }
        self.delete_secret(id);
        Ok(Outcome::Removed { kind: ObjectKind::Secret, id: id.to_string() })
    }

    pub(super) fn create_config(&mut self, config_id: &str, spec: &ConfigSpec) -> Result<Outcome, Rejection> {
        self.cluster()?;
        bounds::check_file_object(ObjectKind::Config, config_id, &spec.name, &spec.labels, spec.data.len())?;
        if self.store.configs.contains_key(config_id) {
            return Err(Rejection::IdConflict { kind: ObjectKind::Config, id: config_id.to_string() });
        }
        if let Some(existing) = self.store.configs().find(|config| config.spec.name == spec.name) {
            return Err(name_conflict(ObjectKind::Config, &spec.name, &existing.id));
        }
        bounds::check_len(Limit::FileObjects, self.store.configs.len() + 1)?;
        self.put_config(Config {
            id: config_id.to_string(),
            version: Version::INITIAL,
            created_at: self.now,
            updated_at: self.now,
            spec: spec.clone(),
        });
        Ok(Outcome::Created { kind: ObjectKind::Config, id: config_id.to_string(), version: Version::INITIAL })
    }

    pub(super) fn remove_config(&mut self, id: &str) -> Result<Outcome, Rejection> {
        self.cluster()?;
        let config = self.store.configs.get(id).ok_or_else(|| Rejection::NoSuchConfig { id: id.to_string() })?;
        let services = self.store.services_using(ObjectKind::Config, id);
        if !services.is_empty() {
            return Err(Rejection::FileObjectInUse {
                kind: ObjectKind::Config,
                name: config.spec.name.clone(),
                services,
            });
        }
        self.delete_config(id);
        Ok(Outcome::Removed { kind: ObjectKind::Config, id: id.to_string() })
    }
}

fn name_conflict(kind: ObjectKind, name: &str, existing_id: &str) -> Rejection {
    Rejection::NameConflict { kind, name: name.to_string(), existing_id: existing_id.to_string() }
}

impl Store {
    /// The names of the services whose current spec references secret or config `id` (`kind` says which).
    pub fn services_using(&self, kind: ObjectKind, id: &str) -> Vec<String> {
        self.services()
            .filter(|service| {
                let container = &service.spec.task_template.container_spec;
                match kind {
                    ObjectKind::Secret => container.secrets.iter().any(|secret| secret.secret_id == id),
                    _ => container.configs.iter().any(|config| config.config_id == id),
                }
            })
            .map(|service| service.spec.name.clone())
            .collect()
    }

    /// Fills in the id of every secret and config reference of `spec` from its name (or full id), and the name
    /// from the object, as `service create/update` send them by name. A name the store does not hold is
    /// SwarmKit's "secret not found".
    pub fn resolve_file_references(&self, spec: &mut ServiceSpec) -> Result<(), Rejection> {
        let container = &mut spec.task_template.container_spec;
        for reference in &mut container.secrets {
            let wanted = if reference.secret_id.is_empty() { &reference.secret_name } else { &reference.secret_id };
            let secret = self
                .resolve_secret(wanted)
                .ok_or_else(|| Rejection::FileObjectNotFound { kind: ObjectKind::Secret, name: wanted.clone() })?;
            reference.secret_id = secret.id.clone();
            reference.secret_name = secret.spec.name.clone();
        }
        for reference in &mut container.configs {
            let wanted = if reference.config_id.is_empty() { &reference.config_name } else { &reference.config_id };
            let config = self
                .resolve_config(wanted)
                .ok_or_else(|| Rejection::FileObjectNotFound { kind: ObjectKind::Config, name: wanted.clone() })?;
            reference.config_id = config.id.clone();
            reference.config_name = config.spec.name.clone();
        }
        Ok(())
    }

    /// Every secret and config reference of `spec` names an object the store holds, by id and current name.
    pub(crate) fn check_file_references(&self, spec: &ServiceSpec) -> Result<(), Rejection> {
        let container = &spec.task_template.container_spec;
        for reference in &container.secrets {
            if self.secret(&reference.secret_id).is_none_or(|secret| secret.spec.name != reference.secret_name) {
                return Err(Rejection::FileObjectNotFound {
                    kind: ObjectKind::Secret,
                    name: reference.secret_name.clone(),
                });
            }
        }
        for reference in &container.configs {
            if self.config(&reference.config_id).is_none_or(|config| config.spec.name != reference.config_name) {
                return Err(Rejection::FileObjectNotFound {
                    kind: ObjectKind::Config,
                    name: reference.config_name.clone(),
                });
            }
        }
        Ok(())
    }
}
