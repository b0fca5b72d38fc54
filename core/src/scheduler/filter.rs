//! The filter pipeline: which nodes can take a task, and why the others cannot. The filters and their order are
//! SwarmKit's (`manager/scheduler/pipeline.go`): node ready, resources, constraints, platform, host-mode ports,
//! max replicas per node (SwarmKit's plugin and CSI volume filters have nothing to check here yet). The invariant:
//! a node passes only if every filter enabled for the task passes, and a failing node is counted against the first
//! filter it fails, so the explanation counts each node once, in SwarmKit's words.

use std::fmt;

use crate::model::Resources;
use crate::spec::{Constraint, Placement, TaskSpec};

use super::nodes::{HostPort, NodeSet};

/// One stage of the pipeline, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Filter {
    /// The node's status is `ready` and its availability `active` (paused and drained nodes take no new tasks).
    Ready,
    /// The node's resources minus the reservations of the tasks on it cover the task's reservations.
    Resources,
    /// Every placement constraint matches the node.
    Constraints,
    /// The node runs one of the task's platforms.
    Platform,
    /// No task on the node already publishes one of the task's host-mode ports.
    HostPort,
    /// The node runs fewer tasks of the service than `Placement::max_replicas`.
    MaxReplicas,
}

impl Filter {
    /// Every filter, in pipeline order.
    pub const ALL: [Filter; 6] = [
        Filter::Ready,
        Filter::Resources,
        Filter::Constraints,
        Filter::Platform,
        Filter::HostPort,
        Filter::MaxReplicas,
    ];

    /// SwarmKit's explanation for this filter failing on `nodes` nodes, e.g. "insufficient resources on 2 nodes".
    pub fn explain(self, nodes: u64) -> String {
        let what = match self {
            Filter::Ready => {
                return if nodes == 1 {
                    "1 node not available for new tasks".to_string()
                } else {
                    format!("{nodes} nodes not available for new tasks")
                };
            }
            Filter::MaxReplicas => return "max replicas per node limit exceed".to_string(),
            Filter::Resources => "insufficient resources",
            Filter::Constraints => "scheduling constraints not satisfied",
            Filter::Platform => "unsupported platform",
            Filter::HostPort => "host-mode port already in use",
        };
        if nodes == 1 {
            format!("{what} on 1 node")
        } else {
            format!("{what} on {nodes} nodes")
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Filter::Ready => "ready",
            Filter::Resources => "resources",
            Filter::Constraints => "constraints",
            Filter::Platform => "platform",
            Filter::HostPort => "host-port",
            Filter::MaxReplicas => "max-replicas",
        })
    }
}

/// The filters set up for one task (or a group of tasks with the same placement and reservations).
pub(crate) struct Pipeline<'a> {
    /// `Some` when the task reserves CPU or memory (SwarmKit disables the filter otherwise).
    reservations: Option<&'a Resources>,
    /// `Some` when the task has constraints and they parse (SwarmKit disables the filter on a parse error, which
    /// validation makes impossible).
    constraints: Option<Vec<Constraint>>,
    /// `Some` when the task lists platforms.
    platforms: Option<&'a Placement>,
    /// The service's host-mode ports with a fixed published port.
    host_ports: &'a [HostPort],
    /// 0 disables the filter.
    max_replicas: u64,
}

impl<'a> Pipeline<'a> {
    pub(crate) fn new(spec: &'a TaskSpec, host_ports: &'a [HostPort]) -> Pipeline<'a> {
        let reservations = &spec.resources.reservations;
        let placement = &spec.placement;
        let constraints =
            if placement.constraints.is_empty() { None } else { Constraint::parse_all(&placement.constraints).ok() };
        Pipeline {
            reservations: (reservations.nano_cpus != 0 || reservations.memory_bytes != 0).then_some(reservations),
            constraints,
            platforms: (!placement.platforms.is_empty()).then_some(placement),
            host_ports,
            max_replicas: placement.max_replicas,
        }
    }

    /// The first filter node `index` fails, given that it runs `service_tasks` active tasks of the service;
    /// `None` if it passes them all.
    pub(crate) fn first_failure(&self, nodes: &NodeSet<'_>, index: usize, service_tasks: u32) -> Option<Filter> {
        if !nodes.ready[index] {
            return Some(Filter::Ready);
        }
        if !self.resources_fit(nodes, index) {
            return Some(Filter::Resources);
        }
        if let Some(constraints) = &self.constraints {
            if !Constraint::all_match(constraints, nodes.nodes[index]) {
                return Some(Filter::Constraints);
            }
        }
        if let Some(placement) = self.platforms {
            if !placement.platform_matches(nodes.nodes[index]) {
                return Some(Filter::Platform);
            }
        }
        if !self.ports_free(nodes, index) {
            return Some(Filter::HostPort);
        }
        if !self.below_max_replicas(service_tasks) {
            return Some(Filter::MaxReplicas);
        }
        None
    }

    /// The filters whose outcome an assignment can change (resources, host ports, max replicas), for a node that
    /// passed every filter before it took a task.
    pub(crate) fn still_fits(&self, nodes: &NodeSet<'_>, index: usize, service_tasks: u32) -> bool {
        self.resources_fit(nodes, index) && self.ports_free(nodes, index) && self.below_max_replicas(service_tasks)
    }

    fn resources_fit(&self, nodes: &NodeSet<'_>, index: usize) -> bool {
        self.reservations.is_none_or(|wanted| {
            let available = &nodes.available[index];
            wanted.nano_cpus <= available.nano_cpus && wanted.memory_bytes <= available.memory_bytes
        })
    }

    fn ports_free(&self, nodes: &NodeSet<'_>, index: usize) -> bool {
        self.host_ports.is_empty() || !self.host_ports.iter().any(|port| nodes.host_ports[index].contains(port))
    }

    fn below_max_replicas(&self, service_tasks: u32) -> bool {
        self.max_replicas == 0 || u64::from(service_tasks) < self.max_replicas
    }
}

/// Failures counted per filter over a set of nodes, turned into SwarmKit's explanation.
#[derive(Debug, Default)]
pub(crate) struct FailureCounts([u64; Filter::ALL.len()]);

impl FailureCounts {
    pub(crate) fn add(&mut self, filter: Filter) {
        self.0[filter.index()] += 1;
    }

    /// SwarmKit's `Pipeline.Explain`: the failing filters' explanations joined by "; ", most failures first (ties
    /// in pipeline order, so the text is deterministic); "" when nothing failed.
    pub(crate) fn explain(&self) -> String {
        let mut failed: Vec<Filter> = Filter::ALL.into_iter().filter(|f| self.0[f.index()] > 0).collect();
        failed.sort_by_key(|f| std::cmp::Reverse(self.0[f.index()]));
        failed.iter().map(|f| f.explain(self.0[f.index()])).collect::<Vec<_>>().join("; ")
    }
}
