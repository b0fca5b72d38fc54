//! The transaction journal: one proposal being applied. Every write goes through a journaled `put_*`/`delete_*`
//! that records the object's previous value; `rollback` restores them newest first, so a rejected proposal leaves
//! the store (maps and indexes) exactly as it was.

use super::state::Store;
use crate::limits::REMOVED_NODES_MAX;
use crate::model::{Cluster, Config, Network, Node, NodeTunnel, RemovedNode, Secret, Service, Task, Timestamp};

/// The previous value of one object, to restore on rollback. Services and tasks are boxed: their specs are large.
enum Undo {
    Cluster(Option<Cluster>),
    Node(String, Option<Node>),
    Service(String, Option<Box<Service>>),
    Task(String, Option<Box<Task>>),
    Network(String, Option<Network>),
    /// The whole list before a removal was recorded (removals are rare; the list is bounded).
    RemovedNodes(Vec<RemovedNode>),
    Tunnel(String, Option<NodeTunnel>),
    /// Secrets and configs are boxed: their values are up to `FILE_DATA_MAX` bytes.
    Secret(String, Option<Box<Secret>>),
    Config(String, Option<Box<Config>>),
}

/// One proposal being applied: the store, the proposal's time, and the journal of previous values.
pub(super) struct Txn<'s> {
    pub(super) store: &'s mut Store,
    /// The proposal's time: `created_at`/`updated_at` of what it writes.
    pub(super) now: Timestamp,
    undo: Vec<Undo>,
}

impl<'s> Txn<'s> {
    /// An empty journal over `store` for a proposal made at `now`.
    pub(super) fn new(store: &'s mut Store, now: Timestamp) -> Txn<'s> {
        Txn { store, now, undo: Vec::new() }
    }

    /// Restores every journaled object, newest change first.
    pub(super) fn rollback(&mut self) {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Cluster(old) => {
                    self.store.set_cluster(old);
                }
                Undo::Node(id, old) => {
                    self.store.set_node(&id, old);
                }
                Undo::Service(id, old) => {
                    self.store.set_service(&id, old.map(|service| *service));
                }
                Undo::Task(id, old) => {
                    self.store.set_task(&id, old.map(|task| *task));
                }
                Undo::Network(id, old) => {
                    self.store.set_network(&id, old);
                }
                Undo::RemovedNodes(old) => {
                    self.store.set_removed_nodes(old);
                }
                Undo::Tunnel(id, old) => {
                    self.store.set_tunnel(&id, old);
                }
                Undo::Secret(id, old) => {
                    self.store.set_secret(&id, old.map(|secret| *secret));
                }
                Undo::Config(id, old) => {
                    self.store.set_config(&id, old.map(|config| *config));
                }
            }
        }
    }

    pub(super) fn put_cluster(&mut self, cluster: Cluster) {
        let old = self.store.set_cluster(Some(cluster));
        self.undo.push(Undo::Cluster(old));
    }

    pub(super) fn put_node(&mut self, node: Node) {
        let id = node.id.clone();
        let old = self.store.set_node(&id, Some(node));
        self.undo.push(Undo::Node(id, old));
    }

    pub(super) fn delete_node(&mut self, id: &str) {
        let old = self.store.set_node(id, None);
        self.undo.push(Undo::Node(id.to_string(), old));
    }

    /// Records that node `id` was removed now, forgetting the oldest removals beyond `REMOVED_NODES_MAX`.
    pub(super) fn record_removed_node(&mut self, id: &str) {
        let mut removed = self.store.removed_nodes.clone();
        removed.push(RemovedNode { id: id.to_string(), removed_at: self.now });
        let excess = removed.len().saturating_sub(REMOVED_NODES_MAX);
        removed.drain(..excess);
        let old = self.store.set_removed_nodes(removed);
        self.undo.push(Undo::RemovedNodes(old));
    }

    pub(super) fn put_tunnel(&mut self, id: &str, tunnel: NodeTunnel) {
        let old = self.store.set_tunnel(id, Some(tunnel));
        self.undo.push(Undo::Tunnel(id.to_string(), old));
    }

    pub(super) fn delete_tunnel(&mut self, id: &str) {
        let old = self.store.set_tunnel(id, None);
        self.undo.push(Undo::Tunnel(id.to_string(), old));
    }

    pub(super) fn put_service(&mut self, service: Service) {
        let id = service.id.clone();
        let old = self.store.set_service(&id, Some(service));
        self.undo.push(Undo::Service(id, old.map(Box::new)));
    }

    pub(super) fn delete_service(&mut self, id: &str) {
        let old = self.store.set_service(id, None);
        self.undo.push(Undo::Service(id.to_string(), old.map(Box::new)));
    }

    pub(super) fn put_task(&mut self, task: Task) {
        let id = task.id.clone();
        let old = self.store.set_task(&id, Some(task));
        self.undo.push(Undo::Task(id, old.map(Box::new)));
    }

    pub(super) fn delete_task(&mut self, id: &str) {
        let old = self.store.set_task(id, None);
        self.undo.push(Undo::Task(id.to_string(), old.map(Box::new)));
    }

    pub(super) fn put_network(&mut self, network: Network) {
        let id = network.id.clone();
        let old = self.store.set_network(&id, Some(network));
        self.undo.push(Undo::Network(id, old));
    }

    pub(super) fn delete_network(&mut self, id: &str) {
        let old = self.store.set_network(id, None);
        self.undo.push(Undo::Network(id.to_string(), old));
    }

    pub(super) fn put_secret(&mut self, secret: Secret) {
        let id = secret.id.clone();
        let old = self.store.set_secret(&id, Some(secret));
        self.undo.push(Undo::Secret(id, old.map(Box::new)));
    }

    pub(super) fn delete_secret(&mut self, id: &str) {
        let old = self.store.set_secret(id, None);
        self.undo.push(Undo::Secret(id.to_string(), old.map(Box::new)));
    }

    pub(super) fn put_config(&mut self, config: Config) {
        let id = config.id.clone();
        let old = self.store.set_config(&id, Some(config));
        self.undo.push(Undo::Config(id, old.map(Box::new)));
    }

    pub(super) fn delete_config(&mut self, id: &str) {
        let old = self.store.set_config(id, None);
        self.undo.push(Undo::Config(id.to_string(), old.map(Box::new)));
    }
}
