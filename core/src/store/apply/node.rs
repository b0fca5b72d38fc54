//! The node commands: `CreateNode` (an agent registers), `UpdateNode` (`node update`, version-checked), the
//! dispatcher's `SetNodeStatus` and `SetNodeDescription`, `SetManagerStatus` (Raft membership) and `RemoveNode`
//! (`node rm`), and `SetNodeTunnel` (a node's key for encrypted networks; removing the node drops it). A report equal to what is stored changes nothing; a node is removed only once it is no Raft member
//! and holds no task, so no task ever points at a missing node. A removed node's id is remembered
//! (`Store::removed_nodes`) and never registers again, so agents may treat "removed" as final.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::{check_version, later};
use crate::model::{
    tunnel_addr, ManagerStatus, Node, NodeDescription, NodeSpec, NodeStatus, NodeTunnel, ObjectKind, TunnelKey, Version,
};
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::txn::Txn;

impl Txn<'_> {
    /// A copy of node `id`, or "no such node".
    pub(super) fn node(&self, id: &str) -> Result<Node, Rejection> {
        self.cluster()?;
        self.store.nodes.get(id).cloned().ok_or_else(|| Rejection::NoSuchNode { id: id.to_string() })
    }

    /// Stores `node` as an update of the stored node: bumps version and `updated_at`.
    fn update_node(&mut self, mut node: Node) -> Outcome {
        node.version = node.version.next();
        node.updated_at = later(self.now, node.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Node, id: node.id.clone(), version: node.version };
        self.put_node(node);
        outcome
    }

    pub(super) fn create_node(&mut self, node: &Node) -> Result<Outcome, Rejection> {
        self.cluster()?;
        bounds::check_id(ObjectKind::Node, &node.id)?;
        if self.store.nodes.contains_key(&node.id) {
            return Err(Rejection::IdConflict { kind: ObjectKind::Node, id: node.id.clone() });
        }
        if self.store.is_removed_node(&node.id) {
            return Err(Rejection::NodeRemoved { id: node.id.clone() });
        }
        bounds::check_node_spec(&node.spec)?;
        bounds::check_node_status(&node.status)?;
        bounds::check_node_description(&node.description)?;
        bounds::check_manager_status(&node.manager_status)?;
        let node = Node { version: Version::INITIAL, created_at: self.now, updated_at: self.now, ..node.clone() };
        let outcome = Outcome::Created { kind: ObjectKind::Node, id: node.id.clone(), version: node.version };
        self.put_node(node);
        Ok(outcome)
    }

    pub(super) fn update_node_spec(
        &mut self,
        id: &str,
        version: Version,
        spec: &NodeSpec,
    ) -> Result<Outcome, Rejection> {
        let mut node = self.node(id)?;
        check_version(ObjectKind::Node, id, node.version, version)?;
        bounds::check_node_spec(spec)?;
        node.spec = spec.clone();
        Ok(self.update_node(node))
    }

    pub(super) fn set_node_status(&mut self, id: &str, status: &NodeStatus) -> Result<Outcome, Rejection> {
        let mut node = self.node(id)?;
        bounds::check_node_status(status)?;
        if node.status == *status {
            return Ok(Outcome::Unchanged);
        }
        node.status = status.clone();
        Ok(self.update_node(node))
    }

    pub(super) fn set_node_description(
        &mut self,
        id: &str,
        description: &NodeDescription,
    ) -> Result<Outcome, Rejection> {
        let mut node = self.node(id)?;
        bounds::check_node_description(description)?;
        if node.description == *description {
            return Ok(Outcome::Unchanged);
        }
        node.description = description.clone();
        Ok(self.update_node(node))
    }

    pub(super) fn set_manager_status(
        &mut self,
        id: &str,
        manager_status: &Option<ManagerStatus>,
    ) -> Result<Outcome, Rejection> {
        let mut node = self.node(id)?;
        bounds::check_manager_status(manager_status)?;
        if node.manager_status == *manager_status {
            return Ok(Outcome::Unchanged);
        }
        node.manager_status = manager_status.clone();
        Ok(self.update_node(node))
    }

    /// Records node `id`'s tunnel key and port; its tunnel address stays what it was, or becomes the lowest free
    /// one of the tunnel subnet.
    pub(super) fn set_node_tunnel(&mut self, id: &str, public_key: TunnelKey, port: u16) -> Result<Outcome, Rejection> {
        let node = self.node(id)?;
        let invalid = |reason: String| Rejection::InvalidTunnel { node: id.to_string(), reason };
        if port == 0 {
            return Err(invalid("port 0".to_string()));
        }
        let data_path_port = self.cluster()?.settings.data_path_port;
        if port == data_path_port {
            return Err(invalid(format!("port {port} is the data-path port of overlay networks (--tunnel-port)")));
        }
        if let Some((other, _)) = self.store.tunnels().find(|(other, t)| *other != id && t.public_key == public_key) {
            return Err(invalid(format!("public key {public_key:?} is node {other}'s")));
        }
        let addr = match self.store.tunnels.get(id) {
            Some(existing) if existing.public_key == public_key && existing.port == port => {
                return Ok(Outcome::Unchanged)
            }
            Some(existing) => existing.addr,
            None => {
                let used: BTreeSet<Ipv4Addr> = self.store.tunnels.values().map(|tunnel| tunnel.addr).collect();
                (1..).map_while(tunnel_addr).find(|addr| !used.contains(addr)).ok_or_else(|| {
                    Rejection::InvalidTunnel {
                        node: id.to_string(),
                        reason: "no free address is left in the tunnel subnet".to_string(),
                    }
                })?
            }
        };
        self.put_tunnel(id, NodeTunnel { public_key, port, addr });
        Ok(Outcome::Updated { kind: ObjectKind::Node, id: id.to_string(), version: node.version })
    }

    pub(super) fn remove_node(&mut self, id: &str) -> Result<Outcome, Rejection> {
        let node = self.node(id)?;
        if node.manager_status.is_some() {
            return Err(Rejection::NodeIsManager { id: id.to_string() });
        }
        let count = self.store.task_ids_by_node.get(id).map_or(0, BTreeSet::len);
        if count > 0 {
            return Err(Rejection::NodeHasTasks { id: id.to_string(), count: count as u64 });
        }
        self.detach_node_everywhere(id);
        if self.store.tunnels.contains_key(id) {
            // Its peers drop it from their tunnels with this: a removed node is cut off at once.
            self.delete_tunnel(id);
        }
        if let Some(cluster) = self.store.cluster.as_ref().filter(|c| c.ca.node_tls.contains_key(id)) {
            let mut cluster = cluster.clone();
            cluster.ca.node_tls.remove(id);
            self.update_cluster(cluster);
        }
        self.delete_node(id);
        self.record_removed_node(id);
        Ok(Outcome::Removed { kind: ObjectKind::Node, id: id.to_string() })
    }
}
