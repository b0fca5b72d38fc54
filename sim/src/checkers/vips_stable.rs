//! VIP stability (issue 11: "VIPs stable across leader changes and updates"): once a service holds a virtual IP
//! on a network, every store any manager shows afterwards gives it the same address there for as long as the
//! service's spec attaches to that network — through leader changes, restarts from snapshots and rolling
//! updates. (Allocation itself — no address held twice, nothing leaked — is `check_invariants`, which the
//! simulator's stores run after every apply.)

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use swarm_core::Store;

/// The first VIP seen per (service id, network id), over samples of every manager's store.
#[derive(Debug, Default)]
pub struct VipsStable {
    first_seen: BTreeMap<(String, String), Ipv4Addr>,
    violations: Vec<String>,
}

impl VipsStable {
    pub fn observe(&mut self, manager: u64, store: &Store) {
        for service in store.services() {
            let attached = store.networks_of_spec(&service.spec).unwrap_or_default();
            // A service that left a network may get a new VIP there if it comes back.
            self.first_seen
                .retain(|(service_id, network_id), _| service_id != &service.id || attached.contains(network_id));
            for vip in &service.virtual_ips {
                let key = (service.id.clone(), vip.network_id.clone());
                match self.first_seen.get(&key) {
                    None => {
                        self.first_seen.insert(key, vip.addr);
                    }
                    Some(first) if *first != vip.addr => self.violations.push(format!(
                        "VIP of service {} on network {} changed from {first} to {} (manager {manager})",
                        service.spec.name, vip.network_id, vip.addr
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.clone()
    }
}
