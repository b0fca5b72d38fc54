//! The dispatcher's rules over the committed store, as pure functions: a node's assignment set (with the removed
//! nodes, its overlay plan, and the secrets and configs its live tasks need — no others) and its fingerprint, the cluster's heartbeat period, the commands that register a node opening a session
//! (never a removed one), and which
//! reported task statuses are still fresh. Invariant: deterministic — the same store and request give the same
//! answer on any manager (no clock, no randomness, ordered maps only).

use std::collections::{BTreeMap, BTreeSet};

use swarm_core::{
    Command, ManagerStatus, Node, NodeRole, NodeSpec, NodeState, NodeStatus, Secret, Store, Task, TaskState,
    TaskStatus, ID_LEN_MAX,
};

use swarm_core::overlay::{plan_for_node, NodeOverlayPlan};

use super::api::{Assignments, DispatcherError, FilePayload, SessionRequest};

/// A deterministic fingerprint of an assignment set: FNV-1a over (id, version) pairs in id order, then over the
/// removed node ids in order, the encoded overlay plan, and the ids of the secrets and configs it carries (their
/// values never change under an id).
pub fn fingerprint(
    tasks: &[Task],
    removed_nodes: &[String],
    overlay: &NodeOverlayPlan,
    files: (&[&Secret], &[FilePayload]),
) -> u64 {
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
    eat(&[3]);
    for secret in files.0 {
        eat(secret.id.as_bytes());
        eat(&[0]);
    }
    eat(&[4]);
    for config in files.1 {
        eat(config.id.as_bytes());
        eat(&[0]);
    }
    hash
}

/// The node's assignment set in `store`, with the removed nodes, the node's overlay plan and the values of the
/// configs its live tasks reference; and, still sealed, the secrets they reference, which the caller opens
/// (outside any lock, and only for an answer it sends) into `Assignments::secrets`.
pub fn assignments(store: &Store, node_id: &str) -> (Assignments, Vec<Secret>) {
    let tasks: Vec<Task> = store.tasks_on_node(node_id).cloned().collect();
    let removed_nodes: Vec<String> = store.removed_nodes().iter().map(|removed| removed.id.clone()).collect();
    let overlay = plan_for_node(store, node_id);
    let (secret_ids, config_ids) = files_needed(&tasks);
    let secrets: Vec<&Secret> = secret_ids.into_iter().filter_map(|id| store.secret(id)).collect();
    let configs: Vec<FilePayload> = config_ids
        .into_iter()
        .filter_map(|id| store.config(id))
        .map(|config| FilePayload { id: config.id.clone(), data: config.spec.data.clone() })
        .collect();
    let fingerprint = fingerprint(&tasks, &removed_nodes, &overlay, (&secrets, &configs));
    let sealed = secrets.into_iter().cloned().collect();
    (Assignments { fingerprint, tasks, removed_nodes, overlay, secrets: Vec::new(), configs }, sealed)
}

/// The values of `sealed` that `open` opens, for the answer to node `node_id`; one it cannot open is left out
/// (logged without its value), and the agent refuses the task that needs it, naming the secret.
pub fn open_secrets(
    sealed: &[Secret],
    node_id: &str,
    open: impl Fn(&Secret) -> Result<Vec<u8>, String>,
) -> Vec<FilePayload> {
    sealed
        .iter()
        .filter_map(|secret| match open(secret) {
            Ok(data) => Some(FilePayload { id: secret.id.clone(), data }),
            Err(reason) => {
                tracing::warn!(secret = %secret.spec.name, node = %node_id, %reason, "cannot open a secret for a node");
                None
            }
        })
        .collect()
}

/// The ids of the secrets and of the configs that `tasks` still to run (or running) reference. A task that has
/// ended, or is to end, needs none: its value is not sent again.
pub fn files_needed(tasks: &[Task]) -> (BTreeSet<&str>, BTreeSet<&str>) {
    let mut secrets = BTreeSet::new();
    let mut configs = BTreeSet::new();
    let live = |task: &&Task| task.desired_state <= TaskState::Running && task.status.state <= TaskState::Running;
    for task in tasks.iter().filter(live) {
        let container = &task.spec.container_spec;
        secrets.extend(container.secrets.iter().map(|reference| reference.secret_id.as_str()));
        configs.extend(container.configs.iter().map(|reference| reference.config_id.as_str()));
    }
    (secrets, configs)
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

#[cfg(test)]
mod tests {
    use swarm_core::{FileTarget, SecretReference, TaskSpec};

    use super::*;

    fn task(id: &str, secret_ids: &[&str], desired: TaskState, observed: TaskState) -> Task {
        let mut spec = TaskSpec::image("busybox");
        spec.container_spec.secrets = secret_ids
            .iter()
            .map(|id| SecretReference {
                secret_id: id.to_string(),
                secret_name: format!("name-{id}"),
                file: FileTarget::default_for(id),
            })
            .collect();
        let mut task = Task::new(id, "svc", Some(1), spec);
        task.desired_state = desired;
        task.status.state = observed;
        task
    }

    #[test]
    fn only_live_tasks_need_their_secrets() {
        use TaskState::{Complete, New, Running, Shutdown};
        let cases: &[(&[Task], &[&str])] = &[
            (&[], &[]),
            (&[task("t1", &["s1"], Running, Running)], &["s1"]),
            (&[task("t1", &["s1"], Running, New)], &["s1"]),
            (&[task("t1", &["s1", "s2"], Running, Running), task("t2", &["s2"], Running, Running)], &["s1", "s2"]),
            // Going, or gone: nothing is sent again.
            (&[task("t1", &["s1"], Shutdown, Running)], &[]),
            (&[task("t1", &["s1"], Running, Complete)], &[]),
            (&[task("t1", &["s1"], Shutdown, Running), task("t2", &["s2"], Running, Running)], &["s2"]),
        ];
        for (tasks, wanted) in cases {
            let (secrets, configs) = files_needed(tasks);
            assert_eq!(secrets.into_iter().collect::<Vec<_>>(), *wanted, "{tasks:?}");
            assert!(configs.is_empty());
        }
    }
}
