//! The scheduler (SwarmKit's `manager/scheduler`): binds each pending task to a node. It owns one decision per
//! pending task and nothing else: `decide` reads the store and returns, for every task that is `Pending` (desired
//! state up to `Complete`), either the node it goes to or why no node fits, and `into_commands` turns that into
//! `AssignTask` and `UpdateTaskStatus` commands. A pure function of (store, now): no clock, no randomness, ordered
//! iteration only, so every leader computes the same decisions from the same state.
//!
//! How a task is placed, as SwarmKit does it:
//! - Tasks already bound to a node (global services) are only checked against that node's filters.
//! - Other tasks are taken service by service (id order), grouped by identical placement and reservations, in
//!   slot then task id order. For each group, every node runs through the filter pipeline (`Filter`: ready,
//!   resources, constraints, platform, host-mode ports, max replicas per node); the nodes that pass are ranked by
//!   the spread-preference tree, then fewest active tasks of the service, then fewest active tasks overall, with
//!   nodes where the service failed `RECENT_FAILURES_MAX` times within `FAILURE_WINDOW_MS` last, then node id.
//! - Every assignment updates the node's resources, ports and counts before the next task, so one round never
//!   oversubscribes a node and later groups see earlier ones.
//! - A task that fits nowhere stays `Pending` with Swarm's explanation in `status.err`, e.g. `no suitable node
//!   (insufficient resources on 2 nodes; scheduling constraints not satisfied on 1 node)`; it is retried on the
//!   next call, i.e. whenever the cluster changes. An unchanged explanation produces no command, so an unchanged
//!   store yields no commands at all.
//!
//! Cost: O(tasks × log) for the store scan, O(nodes) per group for filtering and tree building, and
//! O(depth × log(branches) + log(nodes)) per placed task.

mod filter;
mod nodes;
mod tree;

use std::collections::BTreeMap;

use crate::command::Command;
use crate::limits::BATCH_COMMANDS_MAX;
use crate::model::{Service, Task, TaskState, TaskStatus, Timestamp};
use crate::spec::{ConstraintKey, TaskSpec};
use crate::store::Store;

pub use filter::Filter;

use filter::{FailureCounts, Pipeline};
use nodes::{holds_resources, host_ports, is_active, HostPort, NodeCounts, NodeSet};
use tree::{DecisionTree, NodeRank};

/// How far back a failed or rejected task of a service counts against its node (SwarmKit's `monitorFailures`).
pub const FAILURE_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Recent failures of a service on a node from which the node ranks after every node with fewer (SwarmKit's
/// `maxFailures`). Below it, failures do not affect the ranking.
pub const RECENT_FAILURES_MAX: u32 = 5;

/// What one scheduling round decided, in decision order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulerDecisions {
    pub assignments: Vec<Assignment>,
    pub unschedulable: Vec<Unschedulable>,
}

/// A task bound to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub task_id: String,
    pub node_id: String,
}

/// A task that fits no node this round, with Swarm's explanation ("no suitable node (...)" for a free task; the
/// failing filter alone, e.g. "insufficient resources on 1 node", for a task bound to its node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    pub task_id: String,
    pub explanation: String,
}

/// One scheduling round as commands: `decide` then `SchedulerDecisions::into_commands`.
pub fn schedule(store: &Store, now: Timestamp) -> Vec<Command> {
    decide(store, now).into_commands(store, now)
}

/// Decides where every pending task goes. `now` only dates failures (see `FAILURE_WINDOW_MS`).
pub fn decide(store: &Store, now: Timestamp) -> SchedulerDecisions {
    let mut nodes = NodeSet::new(store.nodes());
    let mut work: Vec<ServiceWork<'_>> = store.services().map(ServiceWork::new).collect();
    let service_index: BTreeMap<&str, usize> =
        work.iter().enumerate().map(|(index, w)| (w.service.id.as_str(), index)).collect();

    for task in store.tasks() {
        // What the task means to this round, decided from the task alone (most tasks of a busy store are history).
        let pending = task.status.state == TaskState::Pending && is_active(task);
        let role = match task.node_id {
            None if pending => Role::Unassigned,
            None => continue,
            Some(_) if holds_resources(task) => Role::Holding,
            Some(_) if pending => Role::Preassigned,
            Some(_) if failed_recently(task, now) => Role::FailedRecently,
            Some(_) => continue,
        };
        let Some(&index) = service_index.get(task.service_id.as_str()) else {
            continue; // The store guarantees every task's service exists.
        };
        let w = &mut work[index];
        if role == Role::Unassigned {
            w.unassigned.push(task);
            continue;
        }
        let Some(node) = task.node_id.as_deref().and_then(|id| nodes.index_of(id)) else {
            continue; // The store guarantees every task's node exists.
        };
        match role {
            Role::Holding => {
                nodes.hold(node, &task.spec.resources.reservations, &w.host_ports, is_active(task));
                if is_active(task) {
                    w.active_on.push(node);
                }
            }
            Role::Preassigned => w.preassigned.push((task, node)),
            Role::FailedRecently => w.failed_on.push(node),
            Role::Unassigned => unreachable!("handled above"),
        }
    }

    let mut decisions = SchedulerDecisions::default();
    let mut service_tasks = NodeCounts::new(nodes.len());
    let mut failures = NodeCounts::new(nodes.len());

    // Tasks bound to a node first, as SwarmKit does: the node is chosen, the scheduler only confirms it fits.
    for w in work.iter().filter(|w| !w.preassigned.is_empty()) {
        w.active_on.iter().for_each(|&node| service_tasks.add(node));
        let mut current: Option<(&TaskSpec, Pipeline<'_>)> = None;
        for &(task, node) in &w.preassigned {
            if !current.as_ref().is_some_and(|(spec, _)| same_group(spec, &task.spec)) {
                current = Some((&task.spec, Pipeline::new(&task.spec, &w.host_ports)));
            }
            let Some((_, pipeline)) = &current else { unreachable!("set just above") };
            match pipeline.first_failure(&nodes, node, service_tasks.get(node)) {
                None => {
                    nodes.hold(node, &task.spec.resources.reservations, &w.host_ports, true);
                    service_tasks.add(node);
                    decisions.assignments.push(Assignment { task_id: task.id.clone(), node_id: node_id(&nodes, node) });
                }
                Some(filter) => decisions
                    .unschedulable
                    .push(Unschedulable { task_id: task.id.clone(), explanation: filter.explain(1) }),
            }
        }
        service_tasks.clear();
    }

    for w in work.iter_mut().filter(|w| !w.unassigned.is_empty()) {
        // Stable: slot order, task id order within a slot (and for global tasks, which have no slot).
        w.unassigned.sort_by_key(|task| task.slot);
        w.active_on.iter().for_each(|&node| service_tasks.add(node));
        w.failed_on.iter().for_each(|&node| failures.add(node));
        let mut groups: Vec<Vec<&Task>> = Vec::new();
        for &task in &w.unassigned {
            match groups.iter_mut().find(|group| same_group(&group[0].spec, &task.spec)) {
                Some(group) => group.push(task),
                None => groups.push(vec![task]),
            }
        }
        for group in &groups {
            schedule_group(&mut nodes, group, &w.host_ports, &mut service_tasks, &failures, &mut decisions);
        }
        service_tasks.clear();
        failures.clear();
    }
    decisions
}

impl SchedulerDecisions {
    /// The commands that carry the decisions out, as `Command::Batch`es of at most `BATCH_COMMANDS_MAX`
    /// commands: `AssignTask` per assignment, then `UpdateTaskStatus` (state still `Pending`, `err` set to the
    /// explanation, timestamp `now`) per unschedulable task whose `err` differs from its explanation. Empty when
    /// there is nothing to change.
    pub fn into_commands(self, store: &Store, now: Timestamp) -> Vec<Command> {
        // Commands are large (hundreds of bytes), so each goes straight into its batch: one move, no second copy.
        let mut batches = Batches::new(self.assignments.len() + self.unschedulable.len());
        for Assignment { task_id, node_id } in self.assignments {
            batches.push(Command::AssignTask { id: task_id, node_id });
        }
        for Unschedulable { task_id, explanation } in self.unschedulable {
            let Some(task) = store.task(&task_id) else { continue };
            if task.status.err.as_deref() == Some(explanation.as_str()) {
                batches.push_nothing();
                continue;
            }
            let status = TaskStatus { timestamp: now, err: Some(explanation), ..task.status.clone() };
            batches.push(Command::UpdateTaskStatus { id: task_id, status });
        }
        batches.finish()
    }
}

/// Commands gathered into `Command::Batch`es of at most `BATCH_COMMANDS_MAX`.
struct Batches {
    done: Vec<Command>,
    current: Vec<Command>,
    /// Commands still to come, at most (sizes the next batch's allocation).
    remaining: usize,
}

impl Batches {
    fn new(expected: usize) -> Batches {
        Batches {
            done: Vec::with_capacity(expected.div_ceil(BATCH_COMMANDS_MAX)),
            current: Vec::with_capacity(expected.min(BATCH_COMMANDS_MAX)),
            remaining: expected,
        }
    }

    fn push(&mut self, command: Command) {
        if self.current.len() == BATCH_COMMANDS_MAX {
            let next = Vec::with_capacity(self.remaining.min(BATCH_COMMANDS_MAX));
            self.done.push(Command::Batch(std::mem::replace(&mut self.current, next)));
        }
        self.current.push(command);
        self.push_nothing();
    }

    /// One expected command turned out not to be needed.
    fn push_nothing(&mut self) {
        self.remaining = self.remaining.saturating_sub(1);
    }

    fn finish(mut self) -> Vec<Command> {
        if !self.current.is_empty() {
            self.done.push(Command::Batch(self.current));
        }
        self.done
    }
}

/// What a task of the store means to a round.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Pending with no node: to be placed.
    Unassigned,
    /// Pending on a node chosen beforehand (global services): to be confirmed.
    Preassigned,
    /// On a node, between `Assigned` and `Running`: holds resources and ports there.
    Holding,
    /// Failed or rejected on a node within `FAILURE_WINDOW_MS`.
    FailedRecently,
}

/// One service's share of the round, gathered in one pass over the store's tasks.
struct ServiceWork<'a> {
    service: &'a Service,
    host_ports: Vec<HostPort>,
    /// Nodes of the service's active tasks that hold resources, once per task.
    active_on: Vec<usize>,
    /// Nodes where a task of the service failed or was rejected within `FAILURE_WINDOW_MS`, once per task.
    failed_on: Vec<usize>,
    /// Pending tasks with no node, in task id order.
    unassigned: Vec<&'a Task>,
    /// Pending tasks already bound to a node, in task id order.
    preassigned: Vec<(&'a Task, usize)>,
}

impl<'a> ServiceWork<'a> {
    fn new(service: &'a Service) -> ServiceWork<'a> {
        ServiceWork {
            service,
            host_ports: host_ports(&service.spec),
            active_on: Vec::new(),
            failed_on: Vec::new(),
            unassigned: Vec::new(),
            preassigned: Vec::new(),
        }
    }
}

/// Tasks the scheduler treats alike: same placement and reservations (SwarmKit groups by spec version).
fn same_group(a: &TaskSpec, b: &TaskSpec) -> bool {
    a.resources.reservations == b.resources.reservations && a.placement == b.placement
}

fn failed_recently(task: &Task, now: Timestamp) -> bool {
    matches!(task.status.state, TaskState::Failed | TaskState::Rejected)
        && now.as_millis().saturating_sub(task.status.timestamp.as_millis()) <= FAILURE_WINDOW_MS
}

fn node_id(nodes: &NodeSet<'_>, index: usize) -> String {
    nodes.nodes[index].id.clone()
}

/// Places one group (same service, placement and reservations) and records its decisions.
fn schedule_group(
    nodes: &mut NodeSet<'_>,
    group: &[&Task],
    host_ports: &[HostPort],
    service_tasks: &mut NodeCounts,
    failures: &NodeCounts,
    decisions: &mut SchedulerDecisions,
) {
    let spec = &group[0].spec;
    let pipeline = Pipeline::new(spec, host_ports);
    let levels: Vec<ConstraintKey> =
        spec.placement.preferences.iter().filter_map(|preference| preference.spread_key().ok()).collect();
    let rank = |index: usize, nodes: &NodeSet<'_>, service_tasks: &NodeCounts| -> NodeRank {
        let failed = failures.get(index);
        let penalty = if failed >= RECENT_FAILURES_MAX { failed } else { 0 };
        (penalty, service_tasks.get(index), nodes.active_tasks[index], index)
    };
    let mut tree = {
        let (nodes, service_tasks) = (&*nodes, &*service_tasks);
        DecisionTree::build(
            &nodes.nodes,
            &levels,
            |index| service_tasks.get(index),
            |index| {
                let fits = pipeline.first_failure(nodes, index, service_tasks.get(index)).is_none();
                fits.then(|| rank(index, nodes, service_tasks))
            },
        )
    };
    let reservations = &spec.resources.reservations;
    let mut placed = 0;
    for task in group {
        let chosen = tree.place(&mut |index| {
            nodes.hold(index, reservations, host_ports, true);
            service_tasks.add(index);
            pipeline.still_fits(nodes, index, service_tasks.get(index)).then(|| rank(index, nodes, service_tasks))
        });
        let Some(index) = chosen else { break };
        decisions.assignments.push(Assignment { task_id: task.id.clone(), node_id: node_id(nodes, index) });
        placed += 1;
    }
    if placed < group.len() {
        let mut counts = FailureCounts::default();
        for index in 0..nodes.len() {
            if let Some(filter) = pipeline.first_failure(nodes, index, service_tasks.get(index)) {
                counts.add(filter);
            }
        }
        let reasons = counts.explain();
        let explanation =
            if reasons.is_empty() { "no suitable node".to_string() } else { format!("no suitable node ({reasons})") };
        for task in &group[placed..] {
            decisions.unschedulable.push(Unschedulable { task_id: task.id.clone(), explanation: explanation.clone() });
        }
    }
}
