//! The store's maps and their derived indexes (services and networks by name, tasks by service and by node, the
//! addresses in use).
//! The raw setters here are the only code that writes the maps; each keeps the indexes in step with the map it
//! changes and returns the previous value, which the transaction journals so a rejection can put it back.

use std::collections::{BTreeMap, BTreeSet};

use super::state::Store;
use crate::model::{Cluster, Config, Network, Node, NodeTunnel, RemovedNode, Secret, Service, Task};

/// A store's primary maps, as a snapshot holds them (the derived indexes are rebuilt from them).
#[derive(serde::Deserialize)]
pub(crate) struct StoreParts {
    pub(crate) cluster: Option<Cluster>,
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) services: BTreeMap<String, Service>,
    pub(crate) tasks: BTreeMap<String, Task>,
    pub(crate) networks: BTreeMap<String, Network>,
    pub(crate) removed_nodes: Vec<RemovedNode>,
    pub(crate) tunnels: BTreeMap<String, NodeTunnel>,
    pub(crate) secrets: BTreeMap<String, Secret>,
    pub(crate) configs: BTreeMap<String, Config>,
}

impl Store {
    /// Builds a store and its indexes from primary maps (snapshot decoding), without checking invariants.
    pub(crate) fn from_parts(parts: StoreParts) -> Store {
        let StoreParts { cluster, nodes, services, tasks, networks, removed_nodes, tunnels, secrets, configs } = parts;
        let mut store = Store { cluster, nodes, removed_nodes, tunnels, secrets, configs, ..Store::default() };
        // Networks first: services' and tasks' addresses are marked in their networks' maps.
        for (id, network) in networks {
            store.set_network(&id, Some(network));
        }
        for (id, service) in services {
            store.set_service(&id, Some(service));
        }
        for (id, task) in tasks {
            store.set_task(&id, Some(task));
        }
        store
    }

    pub(super) fn set_cluster(&mut self, value: Option<Cluster>) -> Option<Cluster> {
        std::mem::replace(&mut self.cluster, value)
    }

    pub(super) fn set_removed_nodes(&mut self, value: Vec<RemovedNode>) -> Vec<RemovedNode> {
        std::mem::replace(&mut self.removed_nodes, value)
    }

    pub(super) fn set_tunnel(&mut self, id: &str, value: Option<NodeTunnel>) -> Option<NodeTunnel> {
        match value {
            Some(tunnel) => self.tunnels.insert(id.to_string(), tunnel),
            None => self.tunnels.remove(id),
        }
    }

    pub(super) fn set_secret(&mut self, id: &str, value: Option<Secret>) -> Option<Secret> {
        match value {
            Some(secret) => self.secrets.insert(id.to_string(), secret),
            None => self.secrets.remove(id),
        }
    }

    pub(super) fn set_config(&mut self, id: &str, value: Option<Config>) -> Option<Config> {
        match value {
            Some(config) => self.configs.insert(id.to_string(), config),
            None => self.configs.remove(id),
        }
    }

    pub(super) fn set_node(&mut self, id: &str, value: Option<Node>) -> Option<Node> {
        match value {
            Some(node) => self.nodes.insert(id.to_string(), node),
            None => self.nodes.remove(id),
        }
    }

    pub(super) fn set_service(&mut self, id: &str, value: Option<Service>) -> Option<Service> {
        let old = match value {
            Some(service) => self.services.insert(id.to_string(), service),
            None => self.services.remove(id),
        };
        if let Some(old) = &old {
            if self.service_ids_by_name.get(&old.spec.name).map(String::as_str) == Some(id) {
                self.service_ids_by_name.remove(&old.spec.name);
            }
        }
        if let Some(new) = self.services.get(id) {
            self.service_ids_by_name.insert(new.spec.name.clone(), id.to_string());
        }
        self.ipam.service_changed(old.as_ref(), self.services.get(id));
        old
    }

    pub(super) fn set_network(&mut self, id: &str, value: Option<Network>) -> Option<Network> {
        let old = match value {
            Some(network) => self.networks.insert(id.to_string(), network),
            None => self.networks.remove(id),
        };
        if let Some(old) = &old {
            if self.network_ids_by_name.get(&old.spec.name).map(String::as_str) == Some(id) {
                self.network_ids_by_name.remove(&old.spec.name);
            }
        }
        if let Some(new) = self.networks.get(id) {
            self.network_ids_by_name.insert(new.spec.name.clone(), id.to_string());
        }
        self.ipam.network_changed(old.as_ref(), self.networks.get(id));
        old
    }

    pub(super) fn set_task(&mut self, id: &str, value: Option<Task>) -> Option<Task> {
        fn unindex(index: &mut BTreeMap<String, BTreeSet<String>>, key: &str, id: &str) {
            if let Some(set) = index.get_mut(key) {
                set.remove(id);
                if set.is_empty() {
                    index.remove(key);
                }
            }
        }
        let old = match value {
            Some(task) => self.tasks.insert(id.to_string(), task),
            None => self.tasks.remove(id),
        };
        if let Some(old) = &old {
            unindex(&mut self.task_ids_by_service, &old.service_id, id);
            if let Some(node_id) = &old.node_id {
                unindex(&mut self.task_ids_by_node, node_id, id);
            }
        }
        if let Some(new) = self.tasks.get(id) {
            self.task_ids_by_service.entry(new.service_id.clone()).or_default().insert(id.to_string());
            if let Some(node_id) = &new.node_id {
                self.task_ids_by_node.entry(node_id.clone()).or_default().insert(id.to_string());
            }
        }
        self.ipam.task_changed(old.as_ref(), self.tasks.get(id));
        old
    }
}
