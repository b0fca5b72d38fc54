//! The replicated state machine: `Store` holds the cluster, nodes, services, tasks and networks, and
//! `Store::apply` is the only way to change them. `apply` is a pure function of (store, proposal): no clock, no
//! randomness, no I/O, ordered maps only, so every manager replaying the same log reaches byte-identical snapshots.
//! Each proposal is atomic: every mutation is journaled and a rejected command (or any command of a rejected batch)
//! is rolled back, leaving the store exactly as it was. `check_invariants` asserts what no sequence of commands may
//! break (ids match keys, versions >= 1, created_at <= updated_at, unique names, tasks reference live services and
//! nodes, spec history within its bound, update statuses well formed, `running_since` only on tasks that got to
//! `Running`, derived indexes match); debug builds run it after every apply.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::command::{Command, Proposal};
use crate::limits::{self, Limit};
use crate::model::{
    Cluster, Network, Node, NodeRole, ObjectKind, Service, Task, TaskState, TaskStatus, Timestamp, UpdateState,
    UpdateStatus, Version,
};
use crate::spec::{PortProtocol, PublishMode, ServiceSpec, SpecError};

/// The message of a rollback started by `RollbackService` (SwarmKit's wording).
pub const MANUAL_ROLLBACK_MESSAGE: &str = "manually requested rollback";

/// What an applied command changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Created {
        kind: ObjectKind,
        id: String,
        version: Version,
    },
    Updated {
        kind: ObjectKind,
        id: String,
        version: Version,
    },
    Removed {
        kind: ObjectKind,
        id: String,
    },
    /// The command was valid but changed nothing (e.g. a status report equal to the stored status).
    Unchanged,
    /// One outcome per change, in order: for `Command::Batch` one per command; for `CreateTasks`/`RemoveTasks` one
    /// per task; for `RemoveService` one per removed task, then the service.
    Batch(Vec<Outcome>),
}

/// Why a command was not applied. The store is unchanged after any rejection. Messages follow Docker's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Rejection {
    #[error("cluster is not initialized")]
    NotInitialized,
    #[error("cluster is already initialized")]
    AlreadyInitialized,
    #[error("no such node: {id}")]
    NoSuchNode { id: String },
    #[error("no such service: {id}")]
    NoSuchService { id: String },
    #[error("no such task: {id}")]
    NoSuchTask { id: String },
    #[error("no such network: {id}")]
    NoSuchNetwork { id: String },
    #[error("update out of sequence: {kind} {id} is at version {current}, update was based on version {based_on}")]
    OutOfSequence { kind: ObjectKind, id: String, current: Version, based_on: Version },
    #[error("{kind} name \"{name}\" is already in use by {kind} {existing_id}")]
    NameConflict { kind: ObjectKind, name: String, existing_id: String },
    #[error("{kind} {id} already exists")]
    IdConflict { kind: ObjectKind, id: String },
    #[error("invalid {kind} id \"{id}\": ids are made of [a-zA-Z0-9_.-]")]
    InvalidId { kind: ObjectKind, id: String },
    #[error("invalid {kind} name \"{name}\": {reason}")]
    InvalidName { kind: ObjectKind, name: String, reason: String },
    #[error("invalid spec: {reason}")]
    InvalidSpec { reason: String },
    /// A service spec (or a task's copy of the task template) that `ServiceSpec::validate` rejects.
    #[error(transparent)]
    InvalidServiceSpec(SpecError),
    #[error("service mode change is not allowed")]
    ServiceModeChangeNotAllowed { id: String },
    #[error(
        "port '{port}' is already in use by service '{service_name}' ({service_id}) as {}",
        if *published_as == PublishMode::Ingress { "an ingress port" } else { "a host-published port" }
    )]
    PortInUse { port: u32, protocol: PortProtocol, service_name: String, service_id: String, published_as: PublishMode },
    #[error("invalid cluster settings: {reason}")]
    InvalidSettings { reason: String },
    #[error("renaming services is not supported")]
    ServiceRenameNotSupported { id: String },
    /// SwarmKit's wording for a rollback with nothing to go back to.
    #[error("service {id} does not have a previous spec")]
    NoPreviousSpec { id: String },
    #[error("invalid update status: {reason}")]
    InvalidUpdateStatus { reason: String },
    #[error("task {id}: observed state cannot move backward from {current} to {proposed}")]
    TaskStateBackward { id: String, current: TaskState, proposed: TaskState },
    #[error("task {task_id} references a missing service: no such service: {service_id}")]
    TaskServiceMissing { task_id: String, service_id: String },
    #[error("task {task_id} references a missing node: no such node: {node_id}")]
    TaskNodeMissing { task_id: String, node_id: String },
    #[error("task {id} is already assigned to node {node_id}")]
    TaskAlreadyAssigned { id: String, node_id: String },
    #[error(
        "node {id} is a cluster manager and is a member of the raft cluster. \
         It must be demoted to worker before removal"
    )]
    NodeIsManager { id: String },
    #[error("node {id} still has {count} tasks; remove them before removing the node")]
    NodeHasTasks { id: String, count: u64 },
    #[error("{limit} {actual} exceeds the maximum of {max}")]
    LimitExceeded { limit: Limit, max: u64, actual: u64 },
    #[error("a batch cannot contain another batch")]
    NestedBatch,
    #[error("command {index} of the batch was rejected: {rejection}")]
    InBatch { index: u64, rejection: Box<Rejection> },
}

impl Rejection {
    /// The rejection itself, looking through `InBatch` wrappers.
    pub fn root(&self) -> &Rejection {
        match self {
            Rejection::InBatch { rejection, .. } => rejection.root(),
            other => other,
        }
    }
}

/// The cluster store. Fields are private: read through the accessors, write through `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Store {
    pub(crate) cluster: Option<Cluster>,
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) services: BTreeMap<String, Service>,
    pub(crate) tasks: BTreeMap<String, Task>,
    pub(crate) networks: BTreeMap<String, Network>,
    // Derived indexes (not encoded in snapshots; rebuilt on decode, checked by check_invariants).
    service_ids_by_name: BTreeMap<String, String>,
    network_ids_by_name: BTreeMap<String, String>,
    task_ids_by_service: BTreeMap<String, BTreeSet<String>>,
    task_ids_by_node: BTreeMap<String, BTreeSet<String>>,
}

/// The previous value of one object, to restore on rollback. Services and tasks are boxed: their specs are large.
enum Undo {
    Cluster(Option<Cluster>),
    Node(String, Option<Node>),
    Service(String, Option<Box<Service>>),
    Task(String, Option<Box<Task>>),
    Network(String, Option<Network>),
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Applies one committed proposal. On `Err` the store is unchanged.
    pub fn apply(&mut self, proposal: &Proposal) -> Result<Outcome, Rejection> {
        let mut txn = Txn { store: self, now: proposal.now, undo: Vec::new() };
        let result = txn.command(&proposal.command);
        if result.is_err() {
            txn.rollback();
        }
        #[cfg(debug_assertions)]
        self.check_invariants();
        result
    }

    // -----------------------------------------------------------------------------------------------------------
    // Reads

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

    // -----------------------------------------------------------------------------------------------------------
    // Invariants

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
                    && self.networks.is_empty())
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
        let mut service_names = BTreeMap::new();
        for (key, s) in &self.services {
            if let Some(v) = meta(ObjectKind::Service, key, &s.id, s.version, s.created_at, s.updated_at) {
                return Some(v);
            }
            if let Some(other) = service_names.insert(s.spec.name.clone(), s.id.clone()) {
                return Some(format!("services {other} and {} share the name {}", s.id, s.spec.name));
            }
            if s.spec_history.len() > limits::SERVICE_SPEC_HISTORY_MAX {
                return Some(format!("service {} keeps {} old specs", s.id, s.spec_history.len()));
            }
            if !s.spec_history.is_empty() && s.previous_spec.is_none() {
                return Some(format!("service {} has a spec history but no previous spec", s.id));
            }
            if let Some(Err(rejection)) = s.update_status.as_ref().map(limits::check_update_status) {
                return Some(format!("service {}: {rejection}", s.id));
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
        None
    }

    // -----------------------------------------------------------------------------------------------------------
    // Construction from snapshot parts (crate-internal: snapshot.rs)

    /// Builds a store and its indexes from primary maps, without checking invariants.
    pub(crate) fn from_parts(
        cluster: Option<Cluster>,
        nodes: BTreeMap<String, Node>,
        services: BTreeMap<String, Service>,
        tasks: BTreeMap<String, Task>,
        networks: BTreeMap<String, Network>,
    ) -> Store {
        let mut store = Store { cluster, nodes, ..Store::default() };
        for (id, service) in services {
            store.set_service(&id, Some(service));
        }
        for (id, network) in networks {
            store.set_network(&id, Some(network));
        }
        for (id, task) in tasks {
            store.set_task(&id, Some(task));
        }
        store
    }

    // -----------------------------------------------------------------------------------------------------------
    // Checks shared by `apply` and the decision stages

    /// SwarmKit's `checkPortConflicts` against every other service's spec: a published port/protocol used for
    /// ingress by one service cannot be published (either mode) by another, and a host-published one cannot be
    /// used for ingress. Several services may publish the same port in host mode (the scheduler keeps them apart).
    pub(crate) fn check_port_conflicts(&self, spec: &ServiceSpec, own_id: &str) -> Result<(), Rejection> {
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
        Ok(())
    }

    // -----------------------------------------------------------------------------------------------------------
    // Raw setters: the only code that touches the maps. They keep the derived indexes in step and return the
    // previous value, which the transaction journals.

    fn set_cluster(&mut self, value: Option<Cluster>) -> Option<Cluster> {
        std::mem::replace(&mut self.cluster, value)
    }

    fn set_node(&mut self, id: &str, value: Option<Node>) -> Option<Node> {
        match value {
            Some(node) => self.nodes.insert(id.to_string(), node),
            None => self.nodes.remove(id),
        }
    }

    fn set_service(&mut self, id: &str, value: Option<Service>) -> Option<Service> {
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
        old
    }

    fn set_network(&mut self, id: &str, value: Option<Network>) -> Option<Network> {
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
        old
    }

    fn set_task(&mut self, id: &str, value: Option<Task>) -> Option<Task> {
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
        old
    }
}

/// One proposal being applied: the store, the proposal's time, and the journal of previous values.
struct Txn<'s> {
    store: &'s mut Store,
    now: Timestamp,
    undo: Vec<Undo>,
}

/// `updated_at` for a change at `now`: never before the previous update, even if the leader's clock is behind the
/// clock of a previous leader, so `created_at <= updated_at` holds whatever clocks do.
fn later(now: Timestamp, previous: Timestamp) -> Timestamp {
    now.max(previous)
}

fn check_version(kind: ObjectKind, id: &str, current: Version, based_on: Version) -> Result<(), Rejection> {
    if current != based_on {
        return Err(Rejection::OutOfSequence { kind, id: id.to_string(), current, based_on });
    }
    Ok(())
}

impl Txn<'_> {
    fn rollback(&mut self) {
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
            }
        }
    }

    // Journaled writes.

    fn put_cluster(&mut self, cluster: Cluster) {
        let old = self.store.set_cluster(Some(cluster));
        self.undo.push(Undo::Cluster(old));
    }

    fn put_node(&mut self, node: Node) {
        let id = node.id.clone();
        let old = self.store.set_node(&id, Some(node));
        self.undo.push(Undo::Node(id, old));
    }

    fn delete_node(&mut self, id: &str) {
        let old = self.store.set_node(id, None);
        self.undo.push(Undo::Node(id.to_string(), old));
    }

    fn put_service(&mut self, service: Service) {
        let id = service.id.clone();
        let old = self.store.set_service(&id, Some(service));
        self.undo.push(Undo::Service(id, old.map(Box::new)));
    }

    fn delete_service(&mut self, id: &str) {
        let old = self.store.set_service(id, None);
        self.undo.push(Undo::Service(id.to_string(), old.map(Box::new)));
    }

    fn put_task(&mut self, task: Task) {
        let id = task.id.clone();
        let old = self.store.set_task(&id, Some(task));
        self.undo.push(Undo::Task(id, old.map(Box::new)));
    }

    fn delete_task(&mut self, id: &str) {
        let old = self.store.set_task(id, None);
        self.undo.push(Undo::Task(id.to_string(), old.map(Box::new)));
    }

    fn put_network(&mut self, network: Network) {
        let id = network.id.clone();
        let old = self.store.set_network(&id, Some(network));
        self.undo.push(Undo::Network(id, old));
    }

    fn delete_network(&mut self, id: &str) {
        let old = self.store.set_network(id, None);
        self.undo.push(Undo::Network(id.to_string(), old));
    }

    // Lookups that reject.

    fn cluster(&self) -> Result<&Cluster, Rejection> {
        self.store.cluster.as_ref().ok_or(Rejection::NotInitialized)
    }

    fn node(&self, id: &str) -> Result<Node, Rejection> {
        self.cluster()?;
        self.store.nodes.get(id).cloned().ok_or_else(|| Rejection::NoSuchNode { id: id.to_string() })
    }

    fn service(&self, id: &str) -> Result<Service, Rejection> {
        self.cluster()?;
        self.store.services.get(id).cloned().ok_or_else(|| Rejection::NoSuchService { id: id.to_string() })
    }

    fn task(&self, id: &str) -> Result<Task, Rejection> {
        self.cluster()?;
        self.store.tasks.get(id).cloned().ok_or_else(|| Rejection::NoSuchTask { id: id.to_string() })
    }

    /// Stores `node` as an update of the stored node: bumps version and `updated_at`.
    fn update_node(&mut self, mut node: Node) -> Outcome {
        node.version = node.version.next();
        node.updated_at = later(self.now, node.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Node, id: node.id.clone(), version: node.version };
        self.put_node(node);
        outcome
    }

    /// Stores `service` as an update of the stored service: bumps version and `updated_at`.
    fn update_service(&mut self, mut service: Service) -> Outcome {
        service.version = service.version.next();
        service.updated_at = later(self.now, service.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Service, id: service.id.clone(), version: service.version };
        self.put_service(service);
        outcome
    }

    fn update_task(&mut self, mut task: Task) -> Outcome {
        task.version = task.version.next();
        task.updated_at = later(self.now, task.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Task, id: task.id.clone(), version: task.version };
        self.put_task(task);
        outcome
    }

    fn command(&mut self, command: &Command) -> Result<Outcome, Rejection> {
        let now = self.now;
        match command {
            Command::InitCluster { cluster_id, settings, join_tokens } => {
                if self.store.cluster.is_some() {
                    return Err(Rejection::AlreadyInitialized);
                }
                limits::check_id(ObjectKind::Cluster, cluster_id)?;
                limits::check_settings(settings)?;
                limits::check_join_token(&join_tokens.worker)?;
                limits::check_join_token(&join_tokens.manager)?;
                self.put_cluster(Cluster {
                    id: cluster_id.clone(),
                    version: Version::INITIAL,
                    created_at: now,
                    updated_at: now,
                    settings: settings.clone(),
                    join_tokens: join_tokens.clone(),
                });
                Ok(Outcome::Created { kind: ObjectKind::Cluster, id: cluster_id.clone(), version: Version::INITIAL })
            }

            Command::RotateJoinToken { role, token } => {
                let mut cluster = self.cluster()?.clone();
                limits::check_join_token(token)?;
                match role {
                    NodeRole::Worker => cluster.join_tokens.worker = token.clone(),
                    NodeRole::Manager => cluster.join_tokens.manager = token.clone(),
                }
                cluster.version = cluster.version.next();
                cluster.updated_at = later(now, cluster.updated_at);
                let outcome =
                    Outcome::Updated { kind: ObjectKind::Cluster, id: cluster.id.clone(), version: cluster.version };
                self.put_cluster(cluster);
                Ok(outcome)
            }

            Command::UpdateClusterSettings { version, settings } => {
                let mut cluster = self.cluster()?.clone();
                check_version(ObjectKind::Cluster, &cluster.id, cluster.version, *version)?;
                limits::check_settings(settings)?;
                cluster.settings = settings.clone();
                cluster.version = cluster.version.next();
                cluster.updated_at = later(now, cluster.updated_at);
                let outcome =
                    Outcome::Updated { kind: ObjectKind::Cluster, id: cluster.id.clone(), version: cluster.version };
                self.put_cluster(cluster);
                Ok(outcome)
            }

            Command::CreateNode { node } => {
                self.cluster()?;
                limits::check_id(ObjectKind::Node, &node.id)?;
                if self.store.nodes.contains_key(&node.id) {
                    return Err(Rejection::IdConflict { kind: ObjectKind::Node, id: node.id.clone() });
                }
                limits::check_node_spec(&node.spec)?;
                limits::check_node_status(&node.status)?;
                limits::check_node_description(&node.description)?;
                limits::check_manager_status(&node.manager_status)?;
                let node = Node { version: Version::INITIAL, created_at: now, updated_at: now, ..node.clone() };
                let outcome = Outcome::Created { kind: ObjectKind::Node, id: node.id.clone(), version: node.version };
                self.put_node(node);
                Ok(outcome)
            }

            Command::UpdateNode { id, version, spec } => {
                let mut node = self.node(id)?;
                check_version(ObjectKind::Node, id, node.version, *version)?;
                limits::check_node_spec(spec)?;
                node.spec = spec.clone();
                Ok(self.update_node(node))
            }

            Command::SetNodeStatus { id, status } => {
                let mut node = self.node(id)?;
                limits::check_node_status(status)?;
                if node.status == *status {
                    return Ok(Outcome::Unchanged);
                }
                node.status = status.clone();
                Ok(self.update_node(node))
            }

            Command::SetNodeDescription { id, description } => {
                let mut node = self.node(id)?;
                limits::check_node_description(description)?;
                if node.description == *description {
                    return Ok(Outcome::Unchanged);
                }
                node.description = description.clone();
                Ok(self.update_node(node))
            }

            Command::SetManagerStatus { id, manager_status } => {
                let mut node = self.node(id)?;
                limits::check_manager_status(manager_status)?;
                if node.manager_status == *manager_status {
                    return Ok(Outcome::Unchanged);
                }
                node.manager_status = manager_status.clone();
                Ok(self.update_node(node))
            }

            Command::RemoveNode { id } => {
                let node = self.node(id)?;
                if node.manager_status.is_some() {
                    return Err(Rejection::NodeIsManager { id: id.clone() });
                }
                let count = self.store.task_ids_by_node.get(id).map_or(0, BTreeSet::len);
                if count > 0 {
                    return Err(Rejection::NodeHasTasks { id: id.clone(), count: count as u64 });
                }
                self.delete_node(id);
                Ok(Outcome::Removed { kind: ObjectKind::Node, id: id.clone() })
            }

            Command::CreateService { service_id, spec } => {
                self.cluster()?;
                limits::check_id(ObjectKind::Service, service_id)?;
                if self.store.services.contains_key(service_id) {
                    return Err(Rejection::IdConflict { kind: ObjectKind::Service, id: service_id.clone() });
                }
                limits::check_service_spec(spec)?;
                spec.validate().map_err(Rejection::InvalidServiceSpec)?;
                if let Some(existing_id) = self.store.service_ids_by_name.get(&spec.name) {
                    return Err(Rejection::NameConflict {
                        kind: ObjectKind::Service,
                        name: spec.name.clone(),
                        existing_id: existing_id.clone(),
                    });
                }
                self.store.check_port_conflicts(spec, service_id)?;
                self.put_service(Service {
                    id: service_id.clone(),
                    version: Version::INITIAL,
                    created_at: now,
                    updated_at: now,
                    spec: spec.clone(),
                    previous_spec: None,
                    spec_history: Vec::new(),
                    update_status: None,
                });
                Ok(Outcome::Created { kind: ObjectKind::Service, id: service_id.clone(), version: Version::INITIAL })
            }

            Command::UpdateService { id, version, spec } => {
                let mut service = self.service(id)?;
                check_version(ObjectKind::Service, id, service.version, *version)?;
                limits::check_service_spec(spec)?;
                spec.validate().map_err(Rejection::InvalidServiceSpec)?;
                if std::mem::discriminant(&spec.mode) != std::mem::discriminant(&service.spec.mode) {
                    return Err(Rejection::ServiceModeChangeNotAllowed { id: id.clone() });
                }
                if spec.name != service.spec.name {
                    return Err(Rejection::ServiceRenameNotSupported { id: id.clone() });
                }
                if spec.endpoint_spec != service.spec.endpoint_spec {
                    self.store.check_port_conflicts(spec, id)?;
                }
                let replaced = std::mem::replace(&mut service.spec, spec.clone());
                if let Some(older) = service.previous_spec.replace(replaced) {
                    service.spec_history.push(older);
                    if service.spec_history.len() > limits::SERVICE_SPEC_HISTORY_MAX {
                        service.spec_history.remove(0);
                    }
                }
                // Docker resets the update status on every update: a paused update resumes with the new spec.
                service.update_status = None;
                Ok(self.update_service(service))
            }

            Command::RollbackService { id, version } => {
                self.cluster()?;
                self.store.check_rollback(id, *version)?;
                let mut service = self.service(id)?;
                let previous = service.previous_spec.take().expect("check_rollback saw a previous spec");
                service.spec = previous;
                service.previous_spec = service.spec_history.pop();
                service.update_status = (!service.spec.mode.is_job()).then(|| UpdateStatus {
                    state: UpdateState::RollbackStarted,
                    started_at: Some(now),
                    completed_at: None,
                    message: MANUAL_ROLLBACK_MESSAGE.to_string(),
                });
                Ok(self.update_service(service))
            }

            Command::SetServiceUpdateStatus { id, status } => {
                let mut service = self.service(id)?;
                limits::check_update_status(status)?;
                if service.update_status.as_ref() == Some(status) {
                    return Ok(Outcome::Unchanged);
                }
                service.update_status = Some(status.clone());
                Ok(self.update_service(service))
            }

            Command::RemoveService { id } => {
                self.service(id)?;
                let task_ids: Vec<String> =
                    self.store.task_ids_by_service.get(id).into_iter().flatten().cloned().collect();
                let mut outcomes = Vec::with_capacity(task_ids.len() + 1);
                for task_id in task_ids {
                    self.delete_task(&task_id);
                    outcomes.push(Outcome::Removed { kind: ObjectKind::Task, id: task_id });
                }
                self.delete_service(id);
                outcomes.push(Outcome::Removed { kind: ObjectKind::Service, id: id.clone() });
                Ok(Outcome::Batch(outcomes))
            }

            Command::CreateTasks { tasks } => {
                self.cluster()?;
                limits::check_len(Limit::TasksPerBatch, tasks.len())?;
                let mut outcomes = Vec::with_capacity(tasks.len());
                for task in tasks {
                    limits::check_id(ObjectKind::Task, &task.id)?;
                    if self.store.tasks.contains_key(&task.id) {
                        return Err(Rejection::IdConflict { kind: ObjectKind::Task, id: task.id.clone() });
                    }
                    if !self.store.services.contains_key(&task.service_id) {
                        return Err(Rejection::TaskServiceMissing {
                            task_id: task.id.clone(),
                            service_id: task.service_id.clone(),
                        });
                    }
                    if let Some(node_id) = &task.node_id {
                        if !self.store.nodes.contains_key(node_id) {
                            return Err(Rejection::TaskNodeMissing {
                                task_id: task.id.clone(),
                                node_id: node_id.clone(),
                            });
                        }
                    }
                    limits::check_task_spec(&task.spec)?;
                    task.spec.validate().map_err(Rejection::InvalidServiceSpec)?;
                    limits::check_task_status(&task.status)?;
                    let running_since = (task.status.state == TaskState::Running).then_some(task.status.timestamp);
                    let task = Task {
                        version: Version::INITIAL,
                        created_at: now,
                        updated_at: now,
                        running_since,
                        ..task.clone()
                    };
                    outcomes.push(Outcome::Created {
                        kind: ObjectKind::Task,
                        id: task.id.clone(),
                        version: task.version,
                    });
                    self.put_task(task);
                }
                Ok(Outcome::Batch(outcomes))
            }

            Command::UpdateTaskStatus { id, status } => {
                let mut task = self.task(id)?;
                limits::check_task_status(status)?;
                if status.state < task.status.state {
                    return Err(Rejection::TaskStateBackward {
                        id: id.clone(),
                        current: task.status.state,
                        proposed: status.state,
                    });
                }
                if task.status == *status {
                    return Ok(Outcome::Unchanged);
                }
                if status.state == TaskState::Running && task.running_since.is_none() {
                    task.running_since = Some(status.timestamp);
                }
                task.status = status.clone();
                Ok(self.update_task(task))
            }

            Command::AssignTask { id, node_id } => {
                let mut task = self.task(id)?;
                if !self.store.nodes.contains_key(node_id) {
                    return Err(Rejection::NoSuchNode { id: node_id.clone() });
                }
                if let Some(assigned) = &task.node_id {
                    if assigned != node_id {
                        return Err(Rejection::TaskAlreadyAssigned { id: id.clone(), node_id: assigned.clone() });
                    }
                }
                if task.status.state > TaskState::Assigned {
                    return Err(Rejection::TaskStateBackward {
                        id: id.clone(),
                        current: task.status.state,
                        proposed: TaskState::Assigned,
                    });
                }
                if task.node_id.is_some() && task.status.state == TaskState::Assigned {
                    return Ok(Outcome::Unchanged);
                }
                task.node_id = Some(node_id.clone());
                task.status = TaskStatus {
                    state: TaskState::Assigned,
                    timestamp: now,
                    message: "scheduler assigned task to node".to_string(),
                    err: None,
                    container_id: task.status.container_id.take(),
                };
                Ok(self.update_task(task))
            }

            Command::SetTaskDesiredState { id, desired_state } => {
                let mut task = self.task(id)?;
                if task.desired_state == *desired_state {
                    return Ok(Outcome::Unchanged);
                }
                task.desired_state = *desired_state;
                Ok(self.update_task(task))
            }

            Command::RemoveTasks { ids } => {
                self.cluster()?;
                limits::check_len(Limit::TasksPerBatch, ids.len())?;
                let mut outcomes = Vec::with_capacity(ids.len());
                for id in ids {
                    self.task(id)?;
                    self.delete_task(id);
                    outcomes.push(Outcome::Removed { kind: ObjectKind::Task, id: id.clone() });
                }
                Ok(Outcome::Batch(outcomes))
            }

            Command::CreateNetwork { network_id, spec } => {
                self.cluster()?;
                limits::check_id(ObjectKind::Network, network_id)?;
                if self.store.networks.contains_key(network_id) {
                    return Err(Rejection::IdConflict { kind: ObjectKind::Network, id: network_id.clone() });
                }
                limits::check_network_spec(spec)?;
                if let Some(existing_id) = self.store.network_ids_by_name.get(&spec.name) {
                    return Err(Rejection::NameConflict {
                        kind: ObjectKind::Network,
                        name: spec.name.clone(),
                        existing_id: existing_id.clone(),
                    });
                }
                self.put_network(Network {
                    id: network_id.clone(),
                    version: Version::INITIAL,
                    created_at: now,
                    updated_at: now,
                    spec: spec.clone(),
                });
                Ok(Outcome::Created { kind: ObjectKind::Network, id: network_id.clone(), version: Version::INITIAL })
            }

            Command::RemoveNetwork { id } => {
                self.cluster()?;
                if !self.store.networks.contains_key(id) {
                    return Err(Rejection::NoSuchNetwork { id: id.clone() });
                }
                self.delete_network(id);
                Ok(Outcome::Removed { kind: ObjectKind::Network, id: id.clone() })
            }

            Command::Batch(commands) => {
                limits::check_len(Limit::BatchCommands, commands.len())?;
                let mut outcomes = Vec::with_capacity(commands.len());
                for (index, command) in commands.iter().enumerate() {
                    let result = match command {
                        Command::Batch(_) => Err(Rejection::NestedBatch),
                        command => self.command(command),
                    };
                    match result {
                        Ok(outcome) => outcomes.push(outcome),
                        Err(rejection) => {
                            return Err(Rejection::InBatch { index: index as u64, rejection: Box::new(rejection) })
                        }
                    }
                }
                Ok(Outcome::Batch(outcomes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterSettings, JoinTokens, ServiceSpec, TaskSpec};

    fn test_tokens() -> JoinTokens {
        JoinTokens { worker: "SWMTKN-1-d-w".into(), manager: "SWMTKN-1-d-m".into() }
    }

    fn at(ms: u64, command: Command) -> Proposal {
        Proposal::new(Timestamp(ms), command)
    }

    /// A store whose cluster was initialised at `ms`.
    fn initialized_at(ms: u64) -> Store {
        let mut store = Store::new();
        let init =
            Command::InitCluster { cluster_id: "c".into(), settings: Default::default(), join_tokens: test_tokens() };
        store.apply(&at(ms, init)).unwrap();
        store
    }

    #[test]
    fn rollback_restores_indexes() {
        let mut store = initialized_at(1);
        store
            .apply(&at(
                2,
                Command::CreateService { service_id: "s1".into(), spec: ServiceSpec::replicated("web", "bb:1", 1) },
            ))
            .unwrap();
        let before = store.clone();
        let rejected = store.apply(&at(
            3,
            Command::Batch(vec![
                Command::RemoveService { id: "s1".into() },
                Command::CreateService { service_id: "s2".into(), spec: ServiceSpec::replicated("web", "bb:2", 1) },
                Command::CreateTasks { tasks: vec![Task::new("t1", "s2", Some(1), TaskSpec::image("bb:2"))] },
                Command::RemoveNode { id: "nope".into() },
            ]),
        ));
        assert_eq!(rejected.unwrap_err().root(), &Rejection::NoSuchNode { id: "nope".into() });
        assert_eq!(store, before);
        assert_eq!(store.service_by_name("web").unwrap().id, "s1");
        assert_eq!(store.tasks_of_service("s2").count(), 0);
        assert!(store.invariant_violation().is_none());
    }

    #[test]
    fn updated_at_never_goes_backward_when_the_clock_does() {
        let mut store = initialized_at(100);
        store
            .apply(&at(
                50,
                Command::UpdateClusterSettings {
                    version: Version(1),
                    settings: ClusterSettings { task_history_retention_limit: 1, ..Default::default() },
                },
            ))
            .unwrap();
        let cluster = store.cluster().unwrap();
        assert_eq!(
            (cluster.created_at, cluster.updated_at, cluster.version),
            (Timestamp(100), Timestamp(100), Version(2))
        );
    }

    #[test]
    #[should_panic(expected = "references missing service")]
    fn check_invariants_panics_on_orphan_task() {
        let mut store = initialized_at(1);
        store.set_task("t", Some(Task::new("t", "ghost", None, TaskSpec::image("x"))));
        store.check_invariants();
    }
}
