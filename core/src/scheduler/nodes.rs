//! The scheduler's view of the nodes (SwarmKit's `NodeInfo`/`nodeSet`): for every node, in id order, whether it
//! takes new tasks, the resources left after the reservations of the tasks it runs, the host-mode ports those
//! tasks publish and how many active tasks it runs. The invariant: these figures always equal what the store's
//! tasks plus this round's assignments imply, so one round never oversubscribes a node.

use crate::model::{Node, NodeAvailability, NodeState, Resources, Task, TaskState};
use crate::spec::{PortProtocol, PublishMode, ServiceSpec};

/// A published host-mode port: (protocol, port).
pub(crate) type HostPort = (PortProtocol, u32);

/// The service's host-mode ports with a fixed published port (SwarmKit's `HostPortFilter` ignores port 0, which
/// the engine picks at random).
pub(crate) fn host_ports(spec: &ServiceSpec) -> Vec<HostPort> {
    let mut ports: Vec<HostPort> = spec
        .endpoint_spec
        .ports
        .iter()
        .filter(|port| port.publish_mode == PublishMode::Host && port.published_port != 0)
        .map(|port| (port.protocol, port.published_port))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Whether a task on a node holds its resources and ports: SwarmKit counts tasks from `Assigned` to `Running`
/// (a preassigned `Pending` task only once the scheduler confirms it).
pub(crate) fn holds_resources(task: &Task) -> bool {
    task.status.state > TaskState::Pending && task.status.state <= TaskState::Running
}

/// Whether a task counts toward the active task counts that rank nodes: SwarmKit's `DesiredState <= Completed`.
pub(crate) fn is_active(task: &Task) -> bool {
    task.desired_state <= TaskState::Complete
}

pub(crate) struct NodeSet<'a> {
    /// Every node, in id order; a node's index is its position here.
    pub(crate) nodes: Vec<&'a Node>,
    /// Status `ready` and availability `active`.
    pub(crate) ready: Vec<bool>,
    /// The node's resources minus the reservations of the tasks holding resources on it.
    pub(crate) available: Vec<Resources>,
    /// Host-mode ports published by tasks on the node (few per node, so a small vector).
    pub(crate) host_ports: Vec<Vec<HostPort>>,
    /// Active tasks on the node, all services together.
    pub(crate) active_tasks: Vec<u32>,
}

impl<'a> NodeSet<'a> {
    pub(crate) fn new(nodes: impl Iterator<Item = &'a Node>) -> NodeSet<'a> {
        let nodes: Vec<&Node> = nodes.collect();
        debug_assert!(nodes.windows(2).all(|pair| pair[0].id < pair[1].id), "nodes come in id order");
        let count = nodes.len();
        NodeSet {
            ready: nodes
                .iter()
                .map(|n| n.status.state == NodeState::Ready && n.spec.availability == NodeAvailability::Active)
                .collect(),
            available: nodes.iter().map(|n| n.description.resources.clone()).collect(),
            host_ports: vec![Vec::new(); count],
            active_tasks: vec![0; count],
            nodes,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The index of node `id` (nodes are sorted by id).
    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.binary_search_by(|node| node.id.as_str().cmp(id)).ok()
    }

    /// Records a task holding `reservations` and `ports` on node `index` (SwarmKit's `NodeInfo.addTask`).
    /// Available resources floor at zero: an overcommitted node fits no task that reserves anything.
    pub(crate) fn hold(&mut self, index: usize, reservations: &Resources, ports: &[HostPort], active: bool) {
        let available = &mut self.available[index];
        available.nano_cpus = available.nano_cpus.saturating_sub(reservations.nano_cpus);
        available.memory_bytes = available.memory_bytes.saturating_sub(reservations.memory_bytes);
        for port in ports {
            if !self.host_ports[index].contains(port) {
                self.host_ports[index].push(*port);
            }
        }
        if active {
            self.active_tasks[index] += 1;
        }
    }
}

/// A per-node counter over all nodes that resets in time proportional to the entries touched (the tasks of one
/// service, the failures of one service), not to the number of nodes.
pub(crate) struct NodeCounts {
    values: Vec<u32>,
    touched: Vec<usize>,
}

impl NodeCounts {
    pub(crate) fn new(nodes: usize) -> NodeCounts {
        NodeCounts { values: vec![0; nodes], touched: Vec::new() }
    }

    pub(crate) fn get(&self, index: usize) -> u32 {
        self.values[index]
    }

    pub(crate) fn add(&mut self, index: usize) {
        if self.values[index] == 0 {
            self.touched.push(index);
        }
        self.values[index] += 1;
    }

    /// Back to all zeros.
    pub(crate) fn clear(&mut self) {
        for index in self.touched.drain(..) {
            self.values[index] = 0;
        }
    }
}
