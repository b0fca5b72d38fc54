//! Address management (IPAM) for overlay networks, pure: subnets carved from the cluster's address pools, a VXLAN
//! id per network, and the addresses in use in every network — its nominal gateway, each node's gateway, each
//! service's virtual IP and each live task's address. `Ipam` is a derived index of the store, rebuilt from the
//! objects on snapshot load and kept in step by the store's setters; `check_invariants` compares it with a fresh
//! rebuild. Invariant: an address is marked used in a network exactly when one live object holds it, so nothing
//! leaks and nothing is handed out twice. Choices (lowest free subnet, VXLAN id, address) are pure functions of
//! what is in use, so `apply` may make them and every manager makes the same.

mod addresses;
mod cidr;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub use addresses::SubnetAddresses;
pub use cidr::{CidrError, Ipv4Cidr};

use crate::model::{Network, Service, Task};

/// The lowest VXLAN id handed out (SwarmKit's start; ids below are left to other uses).
pub const VXLAN_ID_FIRST: u32 = 4096;
/// VXLAN ids are 24 bits.
pub const VXLAN_ID_LAST: u32 = (1 << 24) - 1;

/// What is in use, network by network.
#[derive(Debug, Clone, Default)]
pub struct Ipam {
    networks: BTreeMap<String, SubnetAddresses>,
    vxlan_ids: BTreeMap<u32, String>,
}

impl PartialEq for Ipam {
    fn eq(&self, other: &Ipam) -> bool {
        self.vxlan_ids == other.vxlan_ids
            && self.networks.len() == other.networks.len()
            && self.networks.iter().zip(&other.networks).all(|((a_id, a), (b_id, b))| a_id == b_id && a.same_usage(b))
    }
}

impl Eq for Ipam {}

impl Ipam {
    /// The address map of network `id`.
    pub fn network(&self, id: &str) -> Option<&SubnetAddresses> {
        self.networks.get(id)
    }

    /// The network whose subnet overlaps `subnet`, if any (id order).
    pub fn overlapping_network(&self, subnet: &Ipv4Cidr) -> Option<&str> {
        self.networks.iter().find(|(_, map)| map.subnet().overlaps(subnet)).map(|(id, _)| id.as_str())
    }

    /// The first subnet of `prefix_len` bits, in pool order, that overlaps no network's subnet.
    pub fn free_subnet(&self, pools: &[Ipv4Cidr], prefix_len: u8) -> Option<Ipv4Cidr> {
        let mut taken: Vec<Ipv4Cidr> = self.networks.values().map(|map| map.subnet()).collect();
        taken.sort();
        for pool in pools {
            let mut index = 0u64;
            while let Some(candidate) = pool.subnet(prefix_len, index) {
                match taken.iter().find(|subnet| subnet.overlaps(&candidate)) {
                    None => return Some(candidate),
                    // Skip past the whole taken subnet when it is larger than the candidate.
                    Some(subnet) if subnet.prefix_len() < prefix_len => {
                        index =
                            (u64::from(subnet.last()) + 1 - u64::from(pool.first())) >> (32 - u32::from(prefix_len));
                    }
                    Some(_) => index += 1,
                }
            }
        }
        None
    }

    /// The lowest VXLAN id no network holds.
    pub fn free_vxlan_id(&self) -> Option<u32> {
        let mut candidate = VXLAN_ID_FIRST;
        for &taken in self.vxlan_ids.keys() {
            if taken > candidate {
                break;
            }
            if taken == candidate {
                candidate += 1;
            }
        }
        (candidate <= VXLAN_ID_LAST).then_some(candidate)
    }

    /// Heap bytes of the address maps (the benchmark's bytes per endpoint).
    pub fn heap_bytes(&self) -> usize {
        self.networks.values().map(SubnetAddresses::heap_bytes).sum()
    }

    /// Rebuilds the index from the objects, checking that no address is held twice, every held address is a host
    /// address of its network, and no two networks share a VXLAN id or overlap. Used by `check_invariants`.
    pub fn from_objects<'a>(
        networks: impl Iterator<Item = &'a Network>,
        services: impl Iterator<Item = &'a Service>,
        tasks: impl Iterator<Item = &'a Task>,
    ) -> Result<Ipam, String> {
        let mut ipam = Ipam::default();
        for network in networks {
            let allocation = &network.allocation;
            if let Some(other) = ipam.overlapping_network(&allocation.subnet) {
                return Err(format!("networks {other} and {} overlap", network.id));
            }
            if let Some(other) = ipam.vxlan_ids.get(&allocation.vxlan_id) {
                return Err(format!("networks {other} and {} share VXLAN id {}", network.id, allocation.vxlan_id));
            }
            let mut map = SubnetAddresses::new(allocation.subnet, allocation.ip_range);
            let holders = std::iter::once(("its gateway".to_string(), allocation.gateway)).chain(
                allocation.node_gateways.iter().map(|(node, addr)| (format!("the gateway of node {node}"), *addr)),
            );
            for (holder, addr) in holders {
                if !map.claim(addr) {
                    return Err(format!("network {}: {holder} {addr} is taken or outside the subnet", network.id));
                }
            }
            ipam.networks.insert(network.id.clone(), map);
            ipam.vxlan_ids.insert(allocation.vxlan_id, network.id.clone());
        }
        let mut claim = |network_id: &str, addr: Ipv4Addr, holder: &str| match ipam.networks.get_mut(network_id) {
            None => Err(format!("{holder} holds {addr} on missing network {network_id}")),
            Some(map) => match map.claim(addr) {
                true => Ok(()),
                false => Err(format!("{holder} holds {addr} on network {network_id}, taken or outside the subnet")),
            },
        };
        for service in services {
            for vip in &service.virtual_ips {
                claim(&vip.network_id, vip.addr, &format!("service {}", service.id))?;
            }
        }
        for task in tasks.filter(|task| holds_addresses(task)) {
            for attachment in &task.networks {
                claim(&attachment.network_id, attachment.addr, &format!("task {}", task.id))?;
            }
        }
        Ok(ipam)
    }

    // The setters' side: kept in step with the objects by `Store`'s map setters.

    /// A network was stored: a new one gets its map (nominal gateway and node gateways marked); a changed one
    /// has its node gateways brought in step.
    pub(crate) fn network_changed(&mut self, old: Option<&Network>, new: Option<&Network>) {
        match (old, new) {
            (None, None) => {}
            (Some(old), None) => {
                self.networks.remove(&old.id);
                self.vxlan_ids.remove(&old.allocation.vxlan_id);
            }
            (None, Some(new)) => {
                let allocation = &new.allocation;
                let mut map = SubnetAddresses::new(allocation.subnet, allocation.ip_range);
                map.claim(allocation.gateway);
                for addr in allocation.node_gateways.values() {
                    map.claim(*addr);
                }
                self.networks.insert(new.id.clone(), map);
                self.vxlan_ids.insert(allocation.vxlan_id, new.id.clone());
            }
            (Some(old), Some(new)) => {
                debug_assert_eq!(old.allocation.subnet, new.allocation.subnet, "a network's subnet never changes");
                let Some(map) = self.networks.get_mut(&new.id) else { return };
                for addr in old.allocation.node_gateways.values() {
                    map.release(*addr);
                }
                for addr in new.allocation.node_gateways.values() {
                    map.claim(*addr);
                }
            }
        }
    }

    pub(crate) fn service_changed(&mut self, old: Option<&Service>, new: Option<&Service>) {
        for vip in old.iter().flat_map(|service| &service.virtual_ips) {
            self.release(&vip.network_id, vip.addr);
        }
        for vip in new.iter().flat_map(|service| &service.virtual_ips) {
            self.claim(&vip.network_id, vip.addr);
        }
    }

    pub(crate) fn task_changed(&mut self, old: Option<&Task>, new: Option<&Task>) {
        for attachment in old.iter().filter(|task| holds_addresses(task)).flat_map(|task| &task.networks) {
            self.release(&attachment.network_id, attachment.addr);
        }
        for attachment in new.iter().filter(|task| holds_addresses(task)).flat_map(|task| &task.networks) {
            self.claim(&attachment.network_id, attachment.addr);
        }
    }

    fn claim(&mut self, network_id: &str, addr: Ipv4Addr) {
        if let Some(map) = self.networks.get_mut(network_id) {
            map.claim(addr);
        }
    }

    fn release(&mut self, network_id: &str, addr: Ipv4Addr) {
        if let Some(map) = self.networks.get_mut(network_id) {
            map.release(addr);
        }
    }
}

/// Whether a task's addresses count as in use: until its observed state is terminal (its container is gone).
pub fn holds_addresses(task: &Task) -> bool {
    !task.status.state.is_terminal()
}
