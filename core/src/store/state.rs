//! `Store`: the objects the cluster holds (its primary maps, the only part snapshots encode) and the derived
//! indexes kept beside them, with every read of them. Reads iterate in id order. Writes are `apply`'s alone, through
//! the setters of `maps`.

use std::collections::{BTreeMap, BTreeSet};

use crate::ipam::Ipam;
use crate::model::{Cluster, Config, Network, Node, NodeTunnel, RemovedNode, Secret, Service, Task};

/// The cluster store. Fields are private: read through the accessors, write through `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Store {
    pub(crate) cluster: Option<Cluster>,
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) services: BTreeMap<String, Service>,
    pub(crate) tasks: BTreeMap<String, Task>,
    pub(crate) networks: BTreeMap<String, Network>,
    /// Nodes `RemoveNode` removed, oldest first, at most `REMOVED_NODES_MAX` (encoded in snapshots since format 5).
    pub(crate) removed_nodes: Vec<RemovedNode>,
    /// Each node's end of the encrypted data path, by node id (encoded in snapshots since format 8).
    pub(crate) tunnels: BTreeMap<String, NodeTunnel>,
    /// Secrets by id, their values sealed (encoded in snapshots since format 9).
    pub(crate) secrets: BTreeMap<String, Secret>,
    /// Configs by id (encoded in snapshots since format 9).
    pub(crate) configs: BTreeMap<String, Config>,
    // Derived indexes (not encoded in snapshots; rebuilt on decode, checked by check_invariants).
    pub(super) service_ids_by_name: BTreeMap<String, String>,
    pub(super) network_ids_by_name: BTreeMap<String, String>,
    pub(super) task_ids_by_service: BTreeMap<String, BTreeSet<String>>,
    pub(super) task_ids_by_node: BTreeMap<String, BTreeSet<String>>,
    /// The addresses, subnets and VXLAN ids in use (see `ipam`).
    pub(super) ipam: Ipam,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    pub fn is_initialized(&self) -> bool {
        self.cluster.is_some()
    }

    /// All nodes, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.values()
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// All services, in id order.
    pub fn services(&self) -> impl Iterator<Item = &Service> + '_ {
        self.services.values()
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.get(id)
    }

    pub fn service_by_name(&self, name: &str) -> Option<&Service> {
        self.service_ids_by_name.get(name).and_then(|id| self.services.get(id))
    }

    /// All tasks, in id order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> + '_ {
        self.tasks.values()
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    /// The tasks of one service, in task id order (empty for an unknown service).
    pub fn tasks_of_service<'a>(&'a self, service_id: &str) -> impl Iterator<Item = &'a Task> + 'a {
        self.task_ids_by_service.get(service_id).into_iter().flatten().map(|id| &self.tasks[id])
    }

    /// The tasks assigned to one node, in task id order (empty for an unknown node).
    pub fn tasks_on_node<'a>(&'a self, node_id: &str) -> impl Iterator<Item = &'a Task> + 'a {
        self.task_ids_by_node.get(node_id).into_iter().flatten().map(|id| &self.tasks[id])
    }

    /// All networks, in id order.
    pub fn networks(&self) -> impl Iterator<Item = &Network> + '_ {
        self.networks.values()
    }

    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.get(id)
    }

    pub fn network_by_name(&self, name: &str) -> Option<&Network> {
        self.network_ids_by_name.get(name).and_then(|id| self.networks.get(id))
    }

    /// The network `target` names, by id first and then by name (as a service spec's network attachment does).
    pub fn resolve_network(&self, target: &str) -> Option<&Network> {
        self.network(target).or_else(|| self.network_by_name(target))
    }

    /// The routing mesh's network, once `swarm init` created it.
    pub fn ingress_network(&self) -> Option<&Network> {
        self.networks().find(|network| network.spec.ingress)
    }

    /// All secrets, in id order (their values sealed).
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> + '_ {
        self.secrets.values()
    }

    pub fn secret(&self, id: &str) -> Option<&Secret> {
        self.secrets.get(id)
    }

    /// The secret `reference` names: by full id, else by name (names are unique among secrets).
    pub fn resolve_secret(&self, reference: &str) -> Option<&Secret> {
        self.secret(reference).or_else(|| self.secrets().find(|secret| secret.spec.name == reference))
    }

    /// All configs, in id order.
    pub fn configs(&self) -> impl Iterator<Item = &Config> + '_ {
        self.configs.values()
    }

    pub fn config(&self, id: &str) -> Option<&Config> {
        self.configs.get(id)
    }

    /// The config `reference` names: by full id, else by name (names are unique among configs).
    pub fn resolve_config(&self, reference: &str) -> Option<&Config> {
        self.config(reference).or_else(|| self.configs().find(|config| config.spec.name == reference))
    }

    /// What the address management has in use.
    pub fn ipam(&self) -> &Ipam {
        &self.ipam
    }

    /// The nodes `node rm` removed, oldest first (bounded by `REMOVED_NODES_MAX`).
    pub fn removed_nodes(&self) -> &[RemovedNode] {
        &self.removed_nodes
    }

    /// Whether `node rm` removed node `id` (within the remembered bound).
    pub fn is_removed_node(&self, id: &str) -> bool {
        self.removed_nodes.iter().any(|removed| removed.id == id)
    }

    /// Node `id`'s end of the encrypted data path, once it reported one.
    pub fn tunnel(&self, id: &str) -> Option<&NodeTunnel> {
        self.tunnels.get(id)
    }

    /// Every node's tunnel end, by node id.
    pub fn tunnels(&self) -> impl Iterator<Item = (&str, &NodeTunnel)> + '_ {
        self.tunnels.iter().map(|(id, tunnel)| (id.as_str(), tunnel))
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    pub fn network_count(&self) -> usize {
        self.networks.len()
    }
}
