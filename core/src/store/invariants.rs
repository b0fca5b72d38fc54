//! The store's invariants: what no sequence of commands may break (ids match keys, versions >= 1, created_at <=
//! updated_at, unique names, tasks reference live services and nodes, spec history within its bound, update
//! statuses well formed, `running_since` only on tasks that got to `Running`, removed node ids bounded, unique and no
//! member's, tunnel records only of members and with distinct addresses, services reference only secrets and configs the store holds, their names unique, no address held twice or on a missing
//! network, derived indexes match). Debug builds check them after every apply; snapshot decoding checks them to reject, not trust, an inconsistent snapshot.

use std::collections::{BTreeMap, BTreeSet};

use super::bounds;
use super::state::Store;
use crate::ipam::Ipam;
use crate::limits::{REMOVED_NODES_MAX, SERVICE_SPEC_HISTORY_MAX};
use crate::model::{ObjectKind, TaskState, Timestamp, Version};

impl Store {
    /// Panics if the store is in a state no sequence of commands can produce.
    pub fn check_invariants(&self) {
        if let Some(violation) = self.invariant_violation() {
            panic!("store invariant violated: {violation}");
        }
    }

    /// The first broken invariant, described; `None` if the store is consistent. Used by `check_invariants` and
    /// by snapshot decoding (which must reject, not panic).
    pub fn invariant_violation(&self) -> Option<String> {
        fn meta(
            kind: ObjectKind,
            key: &str,
            id: &str,
            version: Version,
            created: Timestamp,
            updated: Timestamp,
        ) -> Option<String> {
            if key != id {
                return Some(format!("{kind} stored under key {key} has id {id}"));
            }
            if version < Version::INITIAL {
                return Some(format!("{kind} {id} has version {version} < 1"));
            }
            if created > updated {
                return Some(format!("{kind} {id} was created at {created} after its update at {updated}"));
            }
            None
        }

        match &self.cluster {
            Some(c) => {
                if let Some(v) = meta(ObjectKind::Cluster, &c.id, &c.id, c.version, c.created_at, c.updated_at) {
                    return Some(v);
                }
            }
            None => {
                if !(self.nodes.is_empty()
                    && self.services.is_empty()
                    && self.tasks.is_empty()
                    && self.networks.is_empty()
                    && self.secrets.is_empty()
                    && self.configs.is_empty())
                {
                    return Some("objects exist but the cluster is not initialized".to_string());
                }
            }
        }
        for (key, n) in &self.nodes {
            if let Some(v) = meta(ObjectKind::Node, key, &n.id, n.version, n.created_at, n.updated_at) {
                return Some(v);
            }
        }
        if self.removed_nodes.len() > REMOVED_NODES_MAX {
            return Some(format!(
                "{} removed nodes remembered (at most {REMOVED_NODES_MAX})",
                self.removed_nodes.len()
            ));
        }
        let mut removed = BTreeSet::new();
        for node in &self.removed_nodes {
            if !removed.insert(node.id.as_str()) {
                return Some(format!("node {} is remembered as removed twice", node.id));
            }
            if self.nodes.contains_key(&node.id) {
                return Some(format!("node {} is both a member and removed", node.id));
            }
        }
        let mut tunnel_addrs = BTreeMap::new();
        let mut tunnel_keys = BTreeMap::new();
        for (id, tunnel) in &self.tunnels {
            if !self.nodes.contains_key(id) {
                return Some(format!("node {id} has a tunnel record but is no member"));
            }
            if !crate::model::in_tunnel_subnet(tunnel.addr) {
                return Some(format!("node {id}'s tunnel address {} is outside the tunnel subnet", tunnel.addr));
            }
            if let Some(other) = tunnel_addrs.insert(tunnel.addr, id) {
                return Some(format!("nodes {other} and {id} share the tunnel address {}", tunnel.addr));
            }
            if let Some(other) = tunnel_keys.insert(tunnel.public_key, id) {
                return Some(format!("nodes {other} and {id} share the tunnel key {:?}", tunnel.public_key));
            }
            if tunnel.port == 0 {
                return Some(format!("node {id}'s tunnel port is 0"));
            }
        }
        let mut service_names = BTreeMap::new();
        for (key, s) in &self.services {
            if let Some(v) = meta(ObjectKind::Service, key, &s.id, s.version, s.created_at, s.updated_at) {
                return Some(v);
            }
            if let Some(other) = service_names.insert(s.spec.name.clone(), s.id.clone()) {
                return Some(format!("services {other} and {} share the name {}", s.id, s.spec.name));
            }
            if s.spec_history.len() > SERVICE_SPEC_HISTORY_MAX {
                return Some(format!("service {} keeps {} old specs", s.id, s.spec_history.len()));
            }
            if !s.spec_history.is_empty() && s.previous_spec.is_none() {
                return Some(format!("service {} has a spec history but no previous spec", s.id));
            }
            if let Some(Err(rejection)) = s.update_status.as_ref().map(bounds::check_update_status) {
                return Some(format!("service {}: {rejection}", s.id));
            }
            if let Err(rejection) = self.check_file_references(&s.spec) {
                return Some(format!("service {}: {rejection}", s.id));
            }
        }
        let mut secret_names = BTreeSet::new();
        for (key, secret) in &self.secrets {
            let (created, updated) = (secret.created_at, secret.updated_at);
            if let Some(v) = meta(ObjectKind::Secret, key, &secret.id, secret.version, created, updated) {
                return Some(v);
            }
            if !secret_names.insert(secret.spec.name.as_str()) {
                return Some(format!("two secrets share the name {}", secret.spec.name));
            }
        }
        let mut config_names = BTreeSet::new();
        for (key, config) in &self.configs {
            let (created, updated) = (config.created_at, config.updated_at);
            if let Some(v) = meta(ObjectKind::Config, key, &config.id, config.version, created, updated) {
                return Some(v);
            }
            if !config_names.insert(config.spec.name.as_str()) {
                return Some(format!("two configs share the name {}", config.spec.name));
            }
        }
        let mut network_names = BTreeMap::new();
        for (key, n) in &self.networks {
            if let Some(v) = meta(ObjectKind::Network, key, &n.id, n.version, n.created_at, n.updated_at) {
                return Some(v);
            }
            if let Some(other) = network_names.insert(n.spec.name.clone(), n.id.clone()) {
                return Some(format!("networks {other} and {} share the name {}", n.id, n.spec.name));
            }
        }
        let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut by_node: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (key, t) in &self.tasks {
            if let Some(v) = meta(ObjectKind::Task, key, &t.id, t.version, t.created_at, t.updated_at) {
                return Some(v);
            }
            if !self.services.contains_key(&t.service_id) {
                return Some(format!("task {} references missing service {}", t.id, t.service_id));
            }
            if t.running_since.is_some() && t.status.state < TaskState::Running {
                return Some(format!("task {} has a running_since but is only {}", t.id, t.status.state));
            }
            by_service.entry(t.service_id.clone()).or_default().insert(t.id.clone());
            if let Some(node_id) = &t.node_id {
                if !self.nodes.contains_key(node_id) {
                    return Some(format!("task {} references missing node {node_id}", t.id));
                }
                by_node.entry(node_id.clone()).or_default().insert(t.id.clone());
            }
        }
        if service_names != self.service_ids_by_name {
            return Some("service name index is out of date".to_string());
        }
        if network_names != self.network_ids_by_name {
            return Some("network name index is out of date".to_string());
        }
        if by_service != self.task_ids_by_service {
            return Some("tasks-by-service index is out of date".to_string());
        }
        if by_node != self.task_ids_by_node {
            return Some("tasks-by-node index is out of date".to_string());
        }
        for network in self.networks.values() {
            if let Some(node_id) = network.allocation.node_gateways.keys().find(|id| !self.nodes.contains_key(*id)) {
                return Some(format!("network {} keeps a gateway for missing node {node_id}", network.id));
            }
        }
        match Ipam::from_objects(self.networks.values(), self.services.values(), self.tasks.values()) {
            Err(reason) => return Some(reason),
            Ok(rebuilt) if rebuilt != self.ipam => return Some("address index is out of date".to_string()),
            Ok(_) => {}
        }
        None
    }
}
