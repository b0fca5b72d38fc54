//! `Handout`: the allocator's working copy of the address maps for one run — the store's maps, copied lazily per
//! network, with what the run handed out marked, each handing out addresses in turn from the network's cursor. Invariant: an address it returns is free in the store and was not
//! returned before in this run (unless given back).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::ipam::SubnetAddresses;
use crate::store::Store;

pub(super) struct Handout<'s> {
    store: &'s Store,
    /// Per network, its address map and where the next allocation starts.
    maps: BTreeMap<String, (SubnetAddresses, u32)>,
    /// Per network, how many addresses to keep for gateways of nodes that have none on it yet.
    gateway_reserves: BTreeMap<String, u64>,
}

impl<'s> Handout<'s> {
    pub(super) fn new(store: &'s Store) -> Handout<'s> {
        Handout { store, maps: BTreeMap::new(), gateway_reserves: BTreeMap::new() }
    }

    /// Like `take`, but only while enough addresses stay free for a gateway on every node that has none on the
    /// network yet: a node given a task on the network must be able to get its gateway.
    pub(super) fn take_leaving_gateways(&mut self, network_id: &str) -> Option<Ipv4Addr> {
        let network = self.store.network(network_id)?;
        let reserve = *self.gateway_reserves.entry(network_id.to_string()).or_insert_with(|| {
            self.store.nodes().filter(|node| !network.allocation.node_gateways.contains_key(&node.id)).count() as u64
        });
        let addr = self.take(network_id)?;
        if self.maps[network_id].0.free_count() < reserve {
            self.give_back(network_id, addr);
            return None;
        }
        Some(addr)
    }

    /// A gateway for a node that has none on the network: uses up one of the reserved addresses.
    pub(super) fn take_gateway(&mut self, network_id: &str) -> Option<Ipv4Addr> {
        let addr = self.take(network_id)?;
        if let Some(reserve) = self.gateway_reserves.get_mut(network_id) {
            *reserve = reserve.saturating_sub(1);
        }
        Some(addr)
    }

    /// The lowest free address of network `network_id`, marked taken; `None` for an unknown or full network.
    pub(super) fn take(&mut self, network_id: &str) -> Option<Ipv4Addr> {
        if !self.maps.contains_key(network_id) {
            let map = self.store.ipam().network(network_id)?.clone();
            let cursor = self.store.network(network_id)?.allocation.next_offset;
            self.maps.insert(network_id.to_string(), (map, cursor));
        }
        let (map, cursor) = self.maps.get_mut(network_id)?;
        let addr = map.allocate_from(*cursor)?;
        *cursor = map.offset_of(addr) + 1;
        Some(addr)
    }

    /// Returns an address this run took and will not use.
    pub(super) fn give_back(&mut self, network_id: &str, addr: Ipv4Addr) {
        if let Some((map, _)) = self.maps.get_mut(network_id) {
            map.release(addr);
        }
    }
}
