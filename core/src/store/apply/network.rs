//! The network commands: `CreateNetwork` (`network create`; names unique, the subnet, nominal gateway and VXLAN id
//! chosen here, purely, from what is in use), `RemoveNetwork` (`network rm`; refused for `ingress` and while a
//! service names the network or a live task holds an address on it), and the allocator's `AllocateTask`,
//! `SetServiceVirtualIps` and `AttachNode`, which record addresses the allocator chose after checking each is a
//! free host address of its network. Every address held is held once (see `ipam`).

use std::net::Ipv4Addr;

use crate::ipam::holds_addresses;
use crate::model::{
    Network, NetworkAllocation, NetworkAttachment, NetworkSpec, ObjectKind, ServiceSpec, TaskState, Version, VirtualIp,
};
use crate::spec::ResolutionMode;
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::state::Store;
use crate::store::txn::Txn;

/// The only driver a swarm network may have here.
const OVERLAY_DRIVER: &str = "overlay";

impl Txn<'_> {
    pub(super) fn create_network(&mut self, network_id: &str, spec: &NetworkSpec) -> Result<Outcome, Rejection> {
        let cluster = self.cluster()?.clone();
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
        let invalid = |reason: String| Rejection::InvalidNetwork { network: spec.name.clone(), reason };
        if spec.driver != OVERLAY_DRIVER {
            return Err(invalid(format!(
                "driver \"{}\" is not supported; swarm networks use \"overlay\"",
                spec.driver
            )));
        }
        if spec.ingress {
            if let Some(ingress) = self.store.ingress_network() {
                return Err(invalid(format!("an ingress network already exists: {}", ingress.spec.name)));
            }
        }
        let allocation = self.allocate_network(spec, &cluster.settings)?;
        self.put_network(Network {
            id: network_id.to_string(),
            version: Version::INITIAL,
            created_at: self.now,
            updated_at: self.now,
            spec: spec.clone(),
            allocation,
        });
        Ok(Outcome::Created { kind: ObjectKind::Network, id: network_id.to_string(), version: Version::INITIAL })
    }

    /// The subnet (the user's, checked, or the lowest free one of the pools), nominal gateway and VXLAN id.
    fn allocate_network(
        &self,
        spec: &NetworkSpec,
        settings: &crate::model::ClusterSettings,
    ) -> Result<NetworkAllocation, Rejection> {
        let invalid = |reason: String| Rejection::InvalidNetwork { network: spec.name.clone(), reason };
        let ipam = self.store.ipam();
        let (subnet, gateway, ip_range) = match spec.ipam.as_slice() {
            [] => {
                let subnet = ipam
                    .free_subnet(&settings.default_addr_pools, settings.default_subnet_prefix_len)
                    .ok_or(Rejection::AddressPoolsExhausted)?;
                (subnet, None, None)
            }
            [config] => {
                let subnet = config.subnet;
                if let Some(other) = ipam.overlapping_network(&subnet) {
                    let other = &self.store.networks[other];
                    return Err(Rejection::SubnetOverlap {
                        subnet: subnet.to_string(),
                        network: other.spec.name.clone(),
                        network_subnet: other.allocation.subnet.to_string(),
                    });
                }
                if let Some(range) = config.ip_range {
                    if !subnet.covers(&range) {
                        return Err(invalid(format!("ip-range {range} is not inside subnet {subnet}")));
                    }
                }
                (subnet, config.gateway, config.ip_range)
            }
            _ => return Err(invalid("an overlay network takes at most one IPv4 subnet".to_string())),
        };
        if subnet.host_offsets().is_empty() || subnet.size() < 8 {
            return Err(invalid(format!("subnet {subnet} is too small: a /29 or larger is needed")));
        }
        let gateway = match gateway {
            Some(gateway) if !subnet.contains(gateway) => {
                return Err(invalid(format!("gateway {gateway} is not inside subnet {subnet}")))
            }
            Some(gateway) if !subnet.host_offsets().contains(&subnet.offset_of(gateway).unwrap_or(0)) => {
                return Err(invalid(format!("gateway {gateway} is the network or broadcast address of {subnet}")))
            }
            Some(gateway) => gateway,
            None => subnet.at(1),
        };
        let vxlan_id = ipam.free_vxlan_id().ok_or_else(|| invalid("no VXLAN id is free".to_string()))?;
        Ok(NetworkAllocation { subnet, gateway, ip_range, vxlan_id, node_gateways: Default::default(), next_offset: 0 })
    }

    pub(super) fn remove_network(&mut self, id: &str) -> Result<Outcome, Rejection> {
        self.cluster()?;
        let network = self.store.networks.get(id).ok_or_else(|| Rejection::NoSuchNetwork { id: id.to_string() })?;
        if network.spec.ingress {
            return Err(Rejection::IngressRemoval { network: network.spec.name.clone() });
        }
        let services = self.store.services_using_network(id);
        if !services.is_empty() {
            return Err(Rejection::NetworkInUse { network: network.spec.name.clone(), services });
        }
        let holder = self
            .store
            .tasks()
            .find(|task| holds_addresses(task) && task.networks.iter().any(|attachment| attachment.network_id == id));
        if let Some(task) = holder {
            return Err(Rejection::NetworkInUse {
                network: network.spec.name.clone(),
                services: vec![task.service_name.clone()],
            });
        }
        self.delete_network(id);
        Ok(Outcome::Removed { kind: ObjectKind::Network, id: id.to_string() })
    }

    /// The allocator's addresses for a task leaving `New`: one per network of its spec, in order, each a free host
    /// address of the network the spec names. Set once.
    pub(super) fn allocate_task(&mut self, id: &str, networks: &[NetworkAttachment]) -> Result<Outcome, Rejection> {
        let mut task = self.task(id)?;
        if task.status.state != TaskState::New || !task.networks.is_empty() {
            return Err(Rejection::InvalidSpec { reason: format!("task {id} is already allocated") });
        }
        let wanted = self
            .store
            .task_network_ids(&task)
            .ok_or_else(|| Rejection::InvalidSpec { reason: format!("task {id}: a network of its spec is gone") })?;
        let given: Vec<&str> = networks.iter().map(|attachment| attachment.network_id.as_str()).collect();
        if given != wanted.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(Rejection::InvalidSpec {
                reason: format!("task {id}: addresses given on {given:?}, but it attaches to {wanted:?}"),
            });
        }
        check_free(self.store, networks.iter().map(|a| (a.network_id.as_str(), a.addr)))?;
        task.networks = networks.to_vec();
        let outcome = self.update_task(task);
        for attachment in networks {
            self.advance_cursor(&attachment.network_id, attachment.addr);
        }
        Ok(outcome)
    }

    /// The allocator's virtual IPs for a service: one per network of its spec in endpoint mode `vip`, none with
    /// `dnsrr`. Addresses the service already holds are kept; new ones must be free.
    pub(super) fn set_service_virtual_ips(
        &mut self,
        id: &str,
        virtual_ips: &[VirtualIp],
    ) -> Result<Outcome, Rejection> {
        let mut service = self.service(id)?;
        if service.virtual_ips == virtual_ips {
            return Ok(Outcome::Unchanged);
        }
        let wanted = self.store.networks_of_spec(&service.spec)?;
        let vip_networks: Vec<&str> = virtual_ips.iter().map(|vip| vip.network_id.as_str()).collect();
        let expected: Vec<&str> = match service.spec.endpoint_spec.mode {
            ResolutionMode::Vip => wanted.iter().map(String::as_str).collect(),
            ResolutionMode::Dnsrr => Vec::new(),
        };
        if vip_networks != expected {
            return Err(Rejection::InvalidSpec {
                reason: format!("service {id}: virtual IPs on {vip_networks:?}, its networks are {expected:?}"),
            });
        }
        let new: Vec<&VirtualIp> = virtual_ips.iter().filter(|vip| !service.virtual_ips.contains(vip)).collect();
        check_free(self.store, new.iter().map(|vip| (vip.network_id.as_str(), vip.addr)))?;
        for vip in &new {
            self.advance_cursor(&vip.network_id, vip.addr);
        }
        service.virtual_ips = virtual_ips.to_vec();
        // No version bump: the allocator's bookkeeping must not make a user's `service update` out of sequence.
        service.updated_at = super::later(self.now, service.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Service, id: service.id.clone(), version: service.version };
        self.put_service(service);
        Ok(outcome)
    }

    /// The allocator's gateway for node `node_id` on network `network_id` (set once per node and network).
    pub(super) fn attach_node(
        &mut self,
        network_id: &str,
        node_id: &str,
        addr: Ipv4Addr,
    ) -> Result<Outcome, Rejection> {
        self.cluster()?;
        let mut network = self
            .store
            .networks
            .get(network_id)
            .cloned()
            .ok_or_else(|| Rejection::NoSuchNetwork { id: network_id.to_string() })?;
        if !self.store.nodes.contains_key(node_id) {
            return Err(Rejection::NoSuchNode { id: node_id.to_string() });
        }
        match network.allocation.node_gateways.get(node_id) {
            Some(&held) if held == addr => return Ok(Outcome::Unchanged),
            Some(&held) => {
                return Err(Rejection::AddressUnavailable {
                    network: network.spec.name.clone(),
                    addr: addr.to_string(),
                    reason: format!("node {node_id} already has gateway {held}"),
                })
            }
            None => {}
        }
        check_free(self.store, [(network_id, addr)])?;
        network.allocation.node_gateways.insert(node_id.to_string(), addr);
        if let Some(offset) = network.allocation.subnet.offset_of(addr) {
            network.allocation.next_offset = offset + 1;
        }
        network.version = network.version.next();
        network.updated_at = super::later(self.now, network.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Network, id: network.id.clone(), version: network.version };
        self.put_network(network);
        Ok(outcome)
    }

    /// Moves network `network_id`'s allocation cursor past `addr`, which was just handed out (bookkeeping: no
    /// version bump).
    fn advance_cursor(&mut self, network_id: &str, addr: Ipv4Addr) {
        let Some(network) = self.store.networks.get(network_id) else { return };
        let Some(offset) = network.allocation.subnet.offset_of(addr) else { return };
        if network.allocation.next_offset != offset + 1 {
            let mut network = network.clone();
            network.allocation.next_offset = offset + 1;
            self.put_network(network);
        }
    }

    /// Drops node `node_id`'s gateways from every network (the node is being removed).
    pub(super) fn detach_node_everywhere(&mut self, node_id: &str) {
        let holding: Vec<Network> = self
            .store
            .networks
            .values()
            .filter(|network| network.allocation.node_gateways.contains_key(node_id))
            .cloned()
            .collect();
        for mut network in holding {
            network.allocation.node_gateways.remove(node_id);
            network.version = network.version.next();
            network.updated_at = super::later(self.now, network.updated_at);
            self.put_network(network);
        }
    }
}

/// Each `(network, addr)` is a free host address of an existing network, and no two are the same.
fn check_free<'a>(store: &Store, addrs: impl IntoIterator<Item = (&'a str, Ipv4Addr)>) -> Result<(), Rejection> {
    let mut seen = std::collections::BTreeSet::new();
    for (network_id, addr) in addrs {
        let network =
            store.networks.get(network_id).ok_or_else(|| Rejection::NoSuchNetwork { id: network_id.to_string() })?;
        let map = store.ipam().network(network_id).expect("every network has an address map");
        let unavailable = |reason: &str| Rejection::AddressUnavailable {
            network: network.spec.name.clone(),
            addr: addr.to_string(),
            reason: reason.to_string(),
        };
        if !map.is_host(addr) {
            return Err(unavailable("not a host address of the network's subnet"));
        }
        if map.is_used(addr) || !seen.insert((network_id, addr)) {
            return Err(unavailable("already in use"));
        }
    }
    Ok(())
}

impl Store {
    /// The names of the services whose spec attaches to network `id` (by id or name), in service id order.
    pub fn services_using_network(&self, id: &str) -> Vec<String> {
        self.services()
            .filter(|service| {
                service
                    .spec
                    .task_template
                    .networks
                    .iter()
                    .any(|config| self.resolve_network(&config.target).is_some_and(|network| network.id == id))
            })
            .map(|service| service.spec.name.clone())
            .collect()
    }

    /// The networks a task gets an address on, in order: its spec's (each resolved by id or name), then `ingress`
    /// when the task publishes a port in ingress mode and the cluster has one (the routing mesh reaches it there).
    /// `None` if a network of the spec is gone.
    pub fn task_network_ids(&self, task: &crate::model::Task) -> Option<Vec<String>> {
        let mut ids = Vec::with_capacity(task.spec.networks.len() + 1);
        for config in &task.spec.networks {
            ids.push(self.resolve_network(&config.target)?.id.clone());
        }
        if let Some(ingress) = self.ingress_network().filter(|_| task.endpoint.publishes_ingress()) {
            ids.push(ingress.id.clone());
        }
        Some(ids)
    }

    /// The network ids a service spec attaches to, in spec order: each must exist, not be `ingress`, and be named
    /// once (by id or by name).
    pub fn networks_of_spec(&self, spec: &ServiceSpec) -> Result<Vec<String>, Rejection> {
        let mut ids: Vec<String> = Vec::with_capacity(spec.task_template.networks.len());
        for config in &spec.task_template.networks {
            let network = self
                .resolve_network(&config.target)
                .ok_or_else(|| Rejection::NoSuchNetwork { id: config.target.clone() })?;
            if network.spec.ingress {
                return Err(Rejection::IngressAttachment { network: network.spec.name.clone() });
            }
            if ids.contains(&network.id) {
                return Err(Rejection::InvalidServiceSpec(crate::spec::SpecError::DuplicateNetwork {
                    target: network.spec.name.clone(),
                }));
            }
            ids.push(network.id.clone());
        }
        Ok(ids)
    }
}
