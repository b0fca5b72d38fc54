//! The leader's whole decision pipeline (orchestrators → allocator → scheduler) through the public API: a
//! replicated service is turned into tasks, made pending and spread over the ready nodes in one run; a global
//! service gets one task per active node; a second run on the resulting store proposes nothing; an unplaceable
//! task stays pending with Swarm's explanation.

mod common;

use std::collections::BTreeMap;

use common::*;
use swarm_core::*;

fn ready_node(id: &str) -> Vec<Command> {
    vec![
        create_node(id),
        Command::SetNodeStatus {
            id: id.into(),
            status: NodeStatus { state: NodeState::Ready, message: String::new(), addr: "127.0.0.1".into() },
        },
    ]
}

fn cluster(nodes: &[&str], services: Vec<Command>) -> Store {
    let mut commands = vec![init()];
    for id in nodes {
        commands.extend(ready_node(id));
    }
    commands.extend(services);
    store_with(&commands)
}

/// Runs the pipeline, applies what it proposes, and returns the store.
fn run(store: &mut Store, now: u64, ids: &mut SequentialIds) -> usize {
    let commands = pipeline::run(store, Timestamp(now), ids);
    let count = commands.len();
    for command in commands {
        store.apply(&Proposal::new(Timestamp(now), command)).expect("pipeline output applies");
    }
    count
}

fn placement(store: &Store, service_id: &str) -> BTreeMap<String, usize> {
    let mut per_node = BTreeMap::new();
    for task in store.tasks_of_service(service_id) {
        assert_eq!(task.status.state, TaskState::Assigned, "task {} is {:?}", task.id, task.status);
        *per_node.entry(task.node_id.clone().expect("assigned to a node")).or_insert(0) += 1;
    }
    per_node
}

#[test]
fn replicated_service_is_created_made_pending_and_spread_in_one_run() {
    let service = Command::CreateService { service_id: "web".into(), spec: ServiceSpec::replicated("web", "bb:1", 6) };
    let mut store = cluster(&["n1", "n2", "n3"], vec![service]);
    let mut ids = SequentialIds::new("task");
    assert!(run(&mut store, T0 + 100, &mut ids) > 0);
    let per_node = placement(&store, "web");
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), vec![2, 2, 2], "{per_node:?}");
    assert_eq!(run(&mut store, T0 + 200, &mut ids), 0, "a second run on an unchanged store proposes nothing");
}

#[test]
fn global_service_gets_one_task_per_active_node() {
    let service = Command::CreateService { service_id: "agent".into(), spec: ServiceSpec::global("agent", "bb:1") };
    let mut store = cluster(&["n1", "n2", "n3"], vec![service]);
    let drained = store.node("n3").expect("n3").clone();
    let mut spec = drained.spec.clone();
    spec.availability = NodeAvailability::Drain;
    store
        .apply(&Proposal::new(
            Timestamp(T0 + 50),
            Command::UpdateNode { id: "n3".into(), version: drained.version, spec },
        ))
        .expect("drain n3");
    let mut ids = SequentialIds::new("task");
    run(&mut store, T0 + 100, &mut ids);
    let per_node = placement(&store, "agent");
    assert_eq!(per_node, BTreeMap::from([("n1".to_string(), 1), ("n2".to_string(), 1)]));
}

#[test]
fn a_task_that_fits_nowhere_stays_pending_with_the_reason() {
    let mut spec = ServiceSpec::replicated("big", "bb:1", 1);
    spec.task_template.placement.constraints = vec!["node.labels.gpu==yes".into()];
    let service = Command::CreateService { service_id: "big".into(), spec };
    let mut store = cluster(&["n1", "n2"], vec![service]);
    let mut ids = SequentialIds::new("task");
    run(&mut store, T0 + 100, &mut ids);
    let task = store.tasks_of_service("big").next().expect("a task");
    assert_eq!(task.status.state, TaskState::Pending);
    assert_eq!(
        task.status.err.as_deref(),
        Some("no suitable node (scheduling constraints not satisfied on 2 nodes)"),
        "{:?}",
        task.status
    );
    assert_eq!(run(&mut store, T0 + 200, &mut ids), 0);
}

#[test]
fn a_task_held_at_ready_is_still_scheduled_so_its_agent_can_prepare_it() {
    let service = Command::CreateService { service_id: "web".into(), spec: ServiceSpec::replicated("web", "bb:1", 1) };
    let mut store = cluster(&["n1", "n2"], vec![service]);
    let mut ids = SequentialIds::new("task");
    run(&mut store, T0 + 100, &mut ids);
    let old = store.tasks_of_service("web").next().expect("a task").clone();
    store.apply(&Proposal::new(Timestamp(T0 + 150), set_status(&old.id, TaskState::Running))).expect("running");
    // Scale down, then up while the removed task still runs: the slot's new task waits at Ready, assigned.
    for (replicas, now) in [(0, T0 + 200), (1, T0 + 300)] {
        let service = store.service("web").expect("web").clone();
        let mut spec = service.spec.clone();
        spec.mode = ServiceMode::Replicated { replicas };
        let update = Command::UpdateService { id: "web".into(), version: service.version, spec };
        store.apply(&Proposal::new(Timestamp(now), update)).expect("scale");
        run(&mut store, now, &mut ids);
    }
    let new = store.tasks_of_service("web").find(|task| task.id != old.id).expect("a new task");
    assert_eq!((new.desired_state, new.status.state), (TaskState::Ready, TaskState::Assigned), "{new:?}");
    assert_eq!(run(&mut store, T0 + 400, &mut ids), 0);
}
