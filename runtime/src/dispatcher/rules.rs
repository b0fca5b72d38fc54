//! The dispatcher's rules over the committed store, as pure functions: a node's assignment set (with the removed
//! nodes and its overlay plan) and its fingerprint, the cluster's heartbeat period, the commands that register a node opening a session
//! (never a removed one), and which
//! reported task statuses are still fresh. Invariant: deterministic — the same store and request give the same
//! answer on any manager (no clock, no randomness, ordered maps only).

use std::collections::BTreeMap;

use swarm_core::{
    Command, ManagerStatus, Node, NodeRole, NodeSpec, NodeState, NodeStatus, Store, Task, TaskStatus, ID_LEN_MAX,
};

use swarm_core::overlay::{plan_for_node, NodeOverlayPlan};

use super::api::{Assignments, DispatcherError, SessionRequest};

/// A deterministic fingerprint of an assignment set: FNV-1a over (id, version) pairs in id order, then over the
/// removed node ids in order, then over the encoded overlay plan.
pub fn fingerprint(tasks: &[Task], removed_nodes: &[String], overlay: &NodeOverlayPlan) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for task in tasks {
        eat(task.id.as_bytes());
        eat(&[0]);
        eat(&task.version.0.to_le_bytes());
    }
    eat(&[1]);
    for id in removed_nodes {
        eat(id.as_bytes());
        eat(&[0]);
    }
    eat(&[2]);
    eat(&postcard::to_stdvec(overlay).expect("encoding a plan into a Vec cannot fail"));
    hash
}

/// The node's assignment set in `store`, with the removed nodes and the node's overlay plan.
pub fn assignments(store: &Store, node_id: &str) -> Assignments {
    let tasks: Vec<Task> = store.tasks_on_node(node_id).cloned().collect();
    let removed_nodes: Vec<String> = store.removed_nodes().iter().map(|removed| removed.id.clone()).collect();
    let overlay = plan_for_node(store, node_id);
    Assignments { fingerprint: fingerprint(&tasks, &removed_nodes, &overlay), tasks, removed_nodes, overlay }
}

/// The cluster's heartbeat period (the default before `swarm init` settled one).
pub fn heartbeat_period_ms(store: &Store) -> u64 {
    store
        .cluster()
        .map(|c| c.settings.dispatcher_heartbeat_period_ms)
        .unwrap_or(swarm_core::model::DEFAULT_HEARTBEAT_PERIOD_MS)
        .max(1)
}

/// The commands that register `request`'s node (or refresh it) and mark it ready; empty if nothing changes.
pub fn registration(store: &Store, request: &SessionRequest) -> Result<Vec<Command>, DispatcherError> {
    if request.node_id.is_empty() || request.node_id.len() > ID_LEN_MAX {
        return Err(DispatcherError::Invalid(format!("node id must be 1 to {ID_LEN_MAX} bytes")));
    }
    if store.is_removed_node(&request.node_id) {
        return Err(DispatcherError::NodeRemoved(request.node_id.clone()));
    }
    let ready = NodeStatus { state: NodeState::Ready, message: String::new(), addr: request.addr.clone() };
    let mut commands = Vec::new();
    match store.node(&request.node_id) {
        None => {
            let spec = NodeSpec { role: request.role, availability: request.availability, ..NodeSpec::default() };
            commands.push(Command::CreateNode { node: Node::new(&request.node_id, spec, request.description.clone()) });
            commands.push(Command::SetNodeStatus { id: request.node_id.clone(), status: ready });
            if let Some(manager) = &request.manager {
                commands.push(Command::SetManagerStatus {
                    id: request.node_id.clone(),
                    manager_status: Some(manager.clone()),
                });
            }
        }
        Some(node) => {
            let same_member = |stored: &ManagerStatus, wanted: &ManagerStatus| {
                stored.raft_id == wanted.raft_id && stored.addr == wanted.addr
            };
            // A node demoted to worker keeps no manager status, whatever its agent still says.
            let wants_manager = node.spec.role == NodeRole::Manager;
            if let Some(manager) = request.manager.as_ref().filter(|_| wants_manager) {
                if !node.manager_status.as_ref().is_some_and(|stored| same_member(stored, manager)) {
                    commands.push(Command::SetManagerStatus {
                        id: request.node_id.clone(),
                        manager_status: Some(manager.clone()),
                    });
                }
            }
            if node.description != request.description {
                commands.push(Command::SetNodeDescription {
                    id: request.node_id.clone(),
                    description: request.description.clone(),
                });
            }
            if node.status != ready {
                commands.push(Command::SetNodeStatus { id: request.node_id.clone(), status: ready });
            }
        }
    }
    Ok(commands)
}

/// The updates of `report` that still apply to `store`: the task exists, is bound to the reporting node, and the
/// new state is not behind the stored one (an equal state with a different message or error is kept only if it
/// changes something).
pub fn fresh_updates(store: &Store, node_id: &str, updates: &[(String, TaskStatus)]) -> Vec<Command> {
    let mut latest: BTreeMap<&str, &TaskStatus> = BTreeMap::new();
    for (id, status) in updates {
        let keep = latest.get(id.as_str()).is_none_or(|previous| previous.state <= status.state);
        if keep {
            latest.insert(id, status);
        }
    }
    latest
        .into_iter()
        .filter(|(id, status)| {
            store.task(id).is_some_and(|task| {
                task.node_id.as_deref() == Some(node_id)
                    && task.status.state <= status.state
                    && (task.status.state < status.state
                        || task.status.err != status.err
                        || task.status.container_id != status.container_id)
            })
        })
        .map(|(id, status)| Command::UpdateTaskStatus { id: id.to_string(), status: status.clone() })
        .collect()
}
