//! The service commands: `CreateService`, `UpdateService` (version-checked; no renames, no mode changes; the
//! replaced spec becomes `previous_spec`, older ones `spec_history` within `SERVICE_SPEC_HISTORY_MAX`),
//! `RollbackService` (back to `previous_spec`), the updater's `SetServiceUpdateStatus`, and `RemoveService` (with
//! every task of it). Every stored spec passed the bounds and `ServiceSpec::validate`, and no two services hold a
//! conflicting published port. An ingress port asked for without a number is given one here, from Swarm's dynamic
//! range (the lowest free one, so every manager gives the same), and keeps it across updates; no ingress port is
//! one the cluster itself listens on. The port and rollback checks are also asked by the rolling updater before it
//! proposes an automatic rollback.

use std::collections::{BTreeMap, BTreeSet};

use super::{check_version, later};
use crate::limits::SERVICE_SPEC_HISTORY_MAX;
use crate::model::{ObjectKind, Service, UpdateState, UpdateStatus, Version};
use crate::spec::{PortConfig, PortProtocol, PublishMode, ResolutionMode, ServiceSpec, DYNAMIC_PORTS};
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::state::Store;
use crate::store::txn::Txn;

/// The message of a rollback started by `RollbackService` (SwarmKit's wording).
pub const MANUAL_ROLLBACK_MESSAGE: &str = "manually requested rollback";

impl Txn<'_> {
    /// A copy of service `id`, or "no such service".
    pub(super) fn service(&self, id: &str) -> Result<Service, Rejection> {
        self.cluster()?;
        self.store.services.get(id).cloned().ok_or_else(|| Rejection::NoSuchService { id: id.to_string() })
    }

    /// Stores `service` as an update of the stored service: bumps version and `updated_at`.
    fn update_service(&mut self, mut service: Service) -> Outcome {
        service.version = service.version.next();
        service.updated_at = later(self.now, service.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Service, id: service.id.clone(), version: service.version };
        self.put_service(service);
        outcome
    }

    pub(super) fn create_service(&mut self, service_id: &str, spec: &ServiceSpec) -> Result<Outcome, Rejection> {
        self.cluster()?;
        bounds::check_id(ObjectKind::Service, service_id)?;
        if self.store.services.contains_key(service_id) {
            return Err(Rejection::IdConflict { kind: ObjectKind::Service, id: service_id.to_string() });
        }
        admit_spec(spec)?;
        if let Some(existing_id) = self.store.service_ids_by_name.get(&spec.name) {
            return Err(Rejection::NameConflict {
                kind: ObjectKind::Service,
                name: spec.name.clone(),
                existing_id: existing_id.clone(),
            });
        }
        self.store.check_file_references(spec)?;
        let spec = self.store.with_assigned_ports(spec, service_id, None)?;
        self.store.check_port_conflicts(&spec, service_id)?;
        self.store.networks_of_spec(&spec)?;
        self.put_service(Service {
            id: service_id.to_string(),
            version: Version::INITIAL,
            created_at: self.now,
            updated_at: self.now,
            spec,
            previous_spec: None,
            spec_history: Vec::new(),
            update_status: None,
            virtual_ips: Vec::new(),
        });
        Ok(Outcome::Created { kind: ObjectKind::Service, id: service_id.to_string(), version: Version::INITIAL })
    }

    pub(super) fn update_service_spec(
        &mut self,
        id: &str,
        version: Version,
        spec: &ServiceSpec,
    ) -> Result<Outcome, Rejection> {
        let mut service = self.service(id)?;
        check_version(ObjectKind::Service, id, service.version, version)?;
        admit_spec(spec)?;
        if std::mem::discriminant(&spec.mode) != std::mem::discriminant(&service.spec.mode) {
            return Err(Rejection::ServiceModeChangeNotAllowed { id: id.to_string() });
        }
        if spec.name != service.spec.name {
            return Err(Rejection::ServiceRenameNotSupported { id: id.to_string() });
        }
        self.store.check_file_references(spec)?;
        let spec = self.store.with_assigned_ports(spec, id, Some(&service.spec))?;
        if spec.endpoint_spec != service.spec.endpoint_spec {
            self.store.check_port_conflicts(&spec, id)?;
        }
        let networks = self.store.networks_of_spec(&spec)?;
        let replaced = std::mem::replace(&mut service.spec, spec);
        if let Some(older) = service.previous_spec.replace(replaced) {
            service.spec_history.push(older);
            if service.spec_history.len() > SERVICE_SPEC_HISTORY_MAX {
                service.spec_history.remove(0);
            }
        }
        // Docker resets the update status on every update: a paused update resumes with the new spec.
        service.update_status = None;
        keep_virtual_ips_of(&mut service, &networks);
        Ok(self.update_service(service))
    }

    pub(super) fn rollback_service(&mut self, id: &str, version: Version) -> Result<Outcome, Rejection> {
        self.cluster()?;
        self.store.check_rollback(id, version)?;
        let mut service = self.service(id)?;
        let previous = service.previous_spec.take().expect("check_rollback saw a previous spec");
        service.spec = previous;
        service.previous_spec = service.spec_history.pop();
        let networks = self.store.networks_of_spec(&service.spec)?;
        keep_virtual_ips_of(&mut service, &networks);
        service.update_status = (!service.spec.mode.is_job()).then(|| UpdateStatus {
            state: UpdateState::RollbackStarted,
            started_at: Some(self.now),
            completed_at: None,
            message: MANUAL_ROLLBACK_MESSAGE.to_string(),
        });
        Ok(self.update_service(service))
    }

    pub(super) fn set_service_update_status(&mut self, id: &str, status: &UpdateStatus) -> Result<Outcome, Rejection> {
        let mut service = self.service(id)?;
        bounds::check_update_status(status)?;
        if service.update_status.as_ref() == Some(status) {
            return Ok(Outcome::Unchanged);
        }
        service.update_status = Some(status.clone());
        Ok(self.update_service(service))
    }

    pub(super) fn remove_service(&mut self, id: &str) -> Result<Outcome, Rejection> {
        self.service(id)?;
        let task_ids: Vec<String> = self.store.task_ids_by_service.get(id).into_iter().flatten().cloned().collect();
        let mut outcomes = Vec::with_capacity(task_ids.len() + 1);
        for task_id in task_ids {
            self.delete_task(&task_id);
            outcomes.push(Outcome::Removed { kind: ObjectKind::Task, id: task_id });
        }
        self.delete_service(id);
        outcomes.push(Outcome::Removed { kind: ObjectKind::Service, id: id.to_string() });
        Ok(Outcome::Batch(outcomes))
    }
}

/// Drops the virtual IPs a changed spec no longer wants (networks it left, or all of them in `dnsrr` mode); the
/// allocator adds those of new networks. Kept addresses stay the same, so a VIP survives every update.
fn keep_virtual_ips_of(service: &mut Service, network_ids: &[String]) {
    let vip_mode = service.spec.endpoint_spec.mode == ResolutionMode::Vip;
    service.virtual_ips.retain(|vip| vip_mode && network_ids.contains(&vip.network_id));
}

/// A spec `apply` may store: within the bounds first (so oversized input is refused before any parsing), then
/// valid by `ServiceSpec::validate`, the check the CLI and the control API make too.
fn admit_spec(spec: &ServiceSpec) -> Result<(), Rejection> {
    bounds::check_service_spec(spec)?;
    spec.validate().map_err(Rejection::InvalidServiceSpec)
}

impl Store {
    /// `spec` with every ingress port given a number: the one `current` (the stored spec, on update) gave it, else
    /// the lowest port of `DYNAMIC_PORTS` that no other service publishes with that protocol, in either mode.
    fn with_assigned_ports(
        &self,
        spec: &ServiceSpec,
        own_id: &str,
        current: Option<&ServiceSpec>,
    ) -> Result<ServiceSpec, Rejection> {
        let mut spec = spec.clone();
        if let Some(current) = current {
            spec.endpoint_spec.keep_assigned_ports(&current.endpoint_spec);
        }
        if !spec.endpoint_spec.ports.iter().any(PortConfig::awaits_number) {
            return Ok(spec);
        }
        let others = self.services.values().filter(|s| s.id != own_id).map(|s| &s.spec);
        let mut taken: BTreeSet<(u32, PortProtocol)> = others
            .chain(std::iter::once(&spec))
            .flat_map(|s| s.endpoint_spec.ports.iter())
            .map(|p| (p.published_port, p.protocol))
            .chain(self.reserved_ports().into_keys())
            .collect();
        for port in spec.endpoint_spec.ports.iter_mut().filter(|p| p.awaits_number()) {
            let free = DYNAMIC_PORTS.clone().find(|number| !taken.contains(&(*number, port.protocol)));
            let number = free.ok_or(Rejection::NoFreeDynamicPort { protocol: port.protocol })?;
            port.published_port = number;
            taken.insert((number, port.protocol));
        }
        Ok(spec)
    }

    /// The ports the cluster itself listens on, which the routing mesh must never capture, each with what uses
    /// it: every node's cluster port (TCP; managers' Raft and API, every node's dispatcher and node API) and the
    /// data-path port (UDP, the VXLAN traffic of overlay networks), and every node's tunnel port (UDP, encrypted networks).
    pub fn reserved_ports(&self) -> BTreeMap<(u32, PortProtocol), String> {
        let mut reserved = BTreeMap::new();
        if let Some(cluster) = self.cluster() {
            let data_path = u32::from(cluster.settings.data_path_port);
            reserved.insert((data_path, PortProtocol::Udp), "the data-path port of overlay networks".to_string());
        }
        for (_, tunnel) in self.tunnels() {
            reserved
                .entry((u32::from(tunnel.port), PortProtocol::Udp))
                .or_insert_with(|| "the port of the nodes' tunnels for encrypted networks".to_string());
        }
        for node in self.nodes() {
            let manager_addr = node.manager_status.as_ref().map(|status| status.addr.as_str());
            for addr in std::iter::once(node.status.addr.as_str()).chain(manager_addr) {
                let port = addr.rsplit_once(':').and_then(|(_, port)| port.parse::<u32>().ok());
                if let Some(port) = port.filter(|port| *port != 0) {
                    reserved
                        .entry((port, PortProtocol::Tcp))
                        .or_insert_with(|| "the cluster port of the nodes".to_string());
                }
            }
        }
        reserved
    }

    /// SwarmKit's `checkPortConflicts` against every other service's spec: a published port/protocol used for
    /// ingress by one service cannot be published (either mode) by another, and a host-published one cannot be
    /// used for ingress. Several services may publish the same port in host mode (the scheduler keeps them apart).
    fn check_port_conflicts(&self, spec: &ServiceSpec, own_id: &str) -> Result<(), Rejection> {
        let mut ingress = BTreeSet::new();
        let mut host = BTreeSet::new();
        for port in spec.endpoint_spec.ports.iter().filter(|p| p.published_port != 0) {
            match port.publish_mode {
                PublishMode::Ingress => ingress.insert((port.published_port, port.protocol)),
                PublishMode::Host => host.insert((port.published_port, port.protocol)),
            };
        }
        if ingress.is_empty() && host.is_empty() {
            return Ok(());
        }
        let reserved = self.reserved_ports();
        if let Some(((port, protocol), reserved_for)) = reserved.iter().find(|(key, _)| ingress.contains(key)) {
            return Err(Rejection::PortReserved {
                port: *port,
                protocol: *protocol,
                reserved_for: reserved_for.clone(),
            });
        }
        for service in self.services.values().filter(|s| s.id != own_id) {
            for port in service.spec.endpoint_spec.ports.iter().filter(|p| p.published_port != 0) {
                let key = (port.published_port, port.protocol);
                let conflict = match port.publish_mode {
                    PublishMode::Host => ingress.contains(&key),
                    PublishMode::Ingress => ingress.contains(&key) || host.contains(&key),
                };
                if conflict {
                    return Err(Rejection::PortInUse {
                        port: port.published_port,
                        protocol: port.protocol,
                        service_name: service.spec.name.clone(),
                        service_id: service.id.clone(),
                        published_as: port.publish_mode,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether `RollbackService { id, version }` would apply, without applying it: the service exists and is at
    /// `version`, has a previous spec, and that spec's published ports are free. The rolling updater checks this
    /// before proposing an automatic rollback.
    pub(crate) fn check_rollback(&self, id: &str, version: Version) -> Result<(), Rejection> {
        let service = self.services.get(id).ok_or_else(|| Rejection::NoSuchService { id: id.to_string() })?;
        check_version(ObjectKind::Service, id, service.version, version)?;
        let previous =
            service.previous_spec.as_ref().ok_or_else(|| Rejection::NoPreviousSpec { id: id.to_string() })?;
        if previous.endpoint_spec != service.spec.endpoint_spec {
            self.check_port_conflicts(previous, id)?;
        }
        self.networks_of_spec(previous)?;
        self.check_file_references(previous)
    }
}
