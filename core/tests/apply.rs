//! Table-driven tests of `Store::apply` through the public API: each case applies a setup, then one command, and
//! checks the outcome or rejection. Every rejected case also checks that the store's snapshot is byte-identical
//! before and after.

mod common;

use common::*;
use swarm_core::*;

enum Expect {
    Ok(Outcome),
    Reject(Rejection),
}

struct Case {
    name: &'static str,
    setup: Vec<Command>,
    command: Command,
    expect: Expect,
}

fn with(extra: Vec<Command>) -> Vec<Command> {
    let mut setup = base();
    setup.extend(extra);
    setup
}

fn created(kind: ObjectKind, id: &str) -> Outcome {
    Outcome::Created { kind, id: id.into(), version: Version(1) }
}

fn updated(kind: ObjectKind, id: &str, version: u64) -> Outcome {
    Outcome::Updated { kind, id: id.into(), version: Version(version) }
}

fn removed(kind: ObjectKind, id: &str) -> Outcome {
    Outcome::Removed { kind, id: id.into() }
}

fn in_batch(index: u64, rejection: Rejection) -> Rejection {
    Rejection::InBatch { index, rejection: Box::new(rejection) }
}

fn update_service(id: &str, version: u64, name: &str, image: &str) -> Command {
    Command::UpdateService { id: id.into(), version: Version(version), spec: ServiceSpec::replicated(name, image, 2) }
}

fn manager() -> Option<ManagerStatus> {
    Some(ManagerStatus {
        raft_id: 1,
        addr: "10.0.0.1:2377".into(),
        leader: true,
        reachability: Reachability::Reachable,
    })
}

fn cases() -> Vec<Case> {
    use Expect::{Ok, Reject};
    use ObjectKind::*;
    vec![
        // Cluster lifecycle.
        Case { name: "init", setup: vec![], command: init(), expect: Ok(created(Cluster, "c1")) },
        Case {
            name: "init twice",
            setup: vec![init()],
            command: init(),
            expect: Reject(Rejection::AlreadyInitialized),
        },
        Case {
            name: "create before init",
            setup: vec![],
            command: create_service("s1", "web"),
            expect: Reject(Rejection::NotInitialized),
        },
        Case {
            name: "node before init",
            setup: vec![],
            command: create_node("n1"),
            expect: Reject(Rejection::NotInitialized),
        },
        Case {
            name: "remove before init",
            setup: vec![],
            command: Command::RemoveService { id: "s1".into() },
            expect: Reject(Rejection::NotInitialized),
        },
        Case {
            name: "update settings",
            setup: vec![init()],
            command: Command::UpdateClusterSettings {
                version: Version(1),
                settings: ClusterSettings { task_history_retention_limit: 2, ..ClusterSettings::default() },
            },
            expect: Ok(updated(Cluster, "c1", 2)),
        },
        Case {
            name: "update settings out of sequence",
            setup: vec![init()],
            command: Command::UpdateClusterSettings { version: Version(7), settings: ClusterSettings::default() },
            expect: Reject(Rejection::OutOfSequence {
                kind: Cluster,
                id: "c1".into(),
                current: Version(1),
                based_on: Version(7),
            }),
        },
        Case {
            name: "zero heartbeat",
            setup: vec![init()],
            command: Command::UpdateClusterSettings {
                version: Version(1),
                settings: ClusterSettings { dispatcher_heartbeat_period_ms: 0, ..ClusterSettings::default() },
            },
            expect: Reject(Rejection::InvalidSettings {
                reason: "dispatcher heartbeat period must be positive".into(),
            }),
        },
        // Nodes.
        Case { name: "create node", setup: vec![init()], command: create_node("n2"), expect: Ok(created(Node, "n2")) },
        Case {
            name: "duplicate node id",
            setup: base(),
            command: create_node("n1"),
            expect: Reject(Rejection::IdConflict { kind: Node, id: "n1".into() }),
        },
        Case {
            name: "update node",
            setup: base(),
            command: Command::UpdateNode {
                id: "n1".into(),
                version: Version(1),
                spec: NodeSpec { availability: NodeAvailability::Drain, ..NodeSpec::default() },
            },
            expect: Ok(updated(Node, "n1", 2)),
        },
        Case {
            name: "update node out of sequence",
            setup: base(),
            command: Command::UpdateNode { id: "n1".into(), version: Version(0), spec: NodeSpec::default() },
            expect: Reject(Rejection::OutOfSequence {
                kind: Node,
                id: "n1".into(),
                current: Version(1),
                based_on: Version(0),
            }),
        },
        Case {
            name: "update unknown node",
            setup: base(),
            command: Command::UpdateNode { id: "zz".into(), version: Version(1), spec: NodeSpec::default() },
            expect: Reject(Rejection::NoSuchNode { id: "zz".into() }),
        },
        Case {
            name: "node status report",
            setup: base(),
            command: Command::SetNodeStatus {
                id: "n1".into(),
                status: NodeStatus { state: NodeState::Ready, message: String::new(), addr: "10.0.0.2".into() },
            },
            expect: Ok(updated(Node, "n1", 2)),
        },
        Case {
            name: "same node status is unchanged",
            setup: base(),
            command: Command::SetNodeStatus { id: "n1".into(), status: NodeStatus::default() },
            expect: Ok(Outcome::Unchanged),
        },
        Case {
            name: "node description",
            setup: base(),
            command: Command::SetNodeDescription { id: "n1".into(), description: NodeDescription::default() },
            expect: Ok(updated(Node, "n1", 2)),
        },
        Case {
            name: "promote",
            setup: base(),
            command: Command::SetManagerStatus { id: "n1".into(), manager_status: manager() },
            expect: Ok(updated(Node, "n1", 2)),
        },
        Case {
            name: "remove node without tasks",
            setup: with(vec![create_node("n2")]),
            command: Command::RemoveNode { id: "n2".into() },
            expect: Ok(removed(Node, "n2")),
        },
        Case {
            name: "remove manager node",
            setup: with(vec![Command::SetManagerStatus { id: "n1".into(), manager_status: manager() }]),
            command: Command::RemoveNode { id: "n1".into() },
            expect: Reject(Rejection::NodeIsManager { id: "n1".into() }),
        },
        Case {
            name: "remove node with tasks",
            setup: with(vec![Command::AssignTask { id: "t1".into(), node_id: "n1".into() }]),
            command: Command::RemoveNode { id: "n1".into() },
            expect: Reject(Rejection::NodeHasTasks { id: "n1".into(), count: 1 }),
        },
        Case {
            name: "remove node after its tasks in one batch",
            setup: with(vec![Command::AssignTask { id: "t1".into(), node_id: "n1".into() }]),
            command: Command::Batch(vec![
                Command::RemoveTasks { ids: vec!["t1".into()] },
                Command::RemoveNode { id: "n1".into() },
            ]),
            expect: Ok(Outcome::Batch(vec![Outcome::Batch(vec![removed(Task, "t1")]), removed(Node, "n1")])),
        },
        Case {
            name: "remove unknown node",
            setup: base(),
            command: Command::RemoveNode { id: "zz".into() },
            expect: Reject(Rejection::NoSuchNode { id: "zz".into() }),
        },
        // Services.
        Case {
            name: "create service",
            setup: vec![init()],
            command: create_service("s9", "api"),
            expect: Ok(created(Service, "s9")),
        },
        Case {
            name: "duplicate service name",
            setup: base(),
            command: create_service("s2", "web"),
            expect: Reject(Rejection::NameConflict { kind: Service, name: "web".into(), existing_id: "s1".into() }),
        },
        Case {
            name: "duplicate service id",
            setup: base(),
            command: create_service("s1", "api"),
            expect: Reject(Rejection::IdConflict { kind: Service, id: "s1".into() }),
        },
        Case {
            name: "service name not a DNS component",
            setup: base(),
            command: create_service("s2", "-web"),
            expect: Reject(Rejection::InvalidName {
                kind: Service,
                name: "-web".into(),
                reason: "name must be valid as a DNS name component".into(),
            }),
        },
        Case {
            name: "empty service name",
            setup: base(),
            command: create_service("s2", ""),
            expect: Reject(Rejection::InvalidName {
                kind: Service,
                name: "".into(),
                reason: "name must be valid as a DNS name component".into(),
            }),
        },
        Case {
            name: "stack-style service name",
            setup: base(),
            command: create_service("s2", "shop_web"),
            expect: Ok(created(Service, "s2")),
        },
        Case {
            name: "invalid service id",
            setup: base(),
            command: create_service("bad id", "api"),
            expect: Reject(Rejection::InvalidId { kind: Service, id: "bad id".into() }),
        },
        Case {
            name: "missing image",
            setup: base(),
            command: Command::CreateService { service_id: "s2".into(), spec: ServiceSpec::replicated("api", "", 1) },
            expect: Reject(Rejection::InvalidServiceSpec(SpecError::ImageRequired)),
        },
        Case {
            name: "update service",
            setup: base(),
            command: update_service("s1", 1, "web", "bb:2"),
            expect: Ok(updated(Service, "s1", 2)),
        },
        Case {
            name: "update service out of sequence",
            setup: with(vec![update_service("s1", 1, "web", "bb:2")]),
            command: update_service("s1", 1, "web", "bb:3"),
            expect: Reject(Rejection::OutOfSequence {
                kind: Service,
                id: "s1".into(),
                current: Version(2),
                based_on: Version(1),
            }),
        },
        Case {
            name: "rename service",
            setup: base(),
            command: update_service("s1", 1, "api", "bb:1"),
            expect: Reject(Rejection::ServiceRenameNotSupported { id: "s1".into() }),
        },
        Case {
            name: "update unknown service",
            setup: base(),
            command: update_service("zz", 1, "web", "bb:1"),
            expect: Reject(Rejection::NoSuchService { id: "zz".into() }),
        },
        Case {
            name: "remove service removes its tasks",
            setup: base(),
            command: Command::RemoveService { id: "s1".into() },
            expect: Ok(Outcome::Batch(vec![removed(Task, "t1"), removed(Task, "t2"), removed(Service, "s1")])),
        },
        Case {
            name: "remove unknown service",
            setup: base(),
            command: Command::RemoveService { id: "nosuch".into() },
            expect: Reject(Rejection::NoSuchService { id: "nosuch".into() }),
        },
        Case {
            name: "name is free again after removal",
            setup: with(vec![Command::RemoveService { id: "s1".into() }]),
            command: create_service("s2", "web"),
            expect: Ok(created(Service, "s2")),
        },
        // Tasks.
        Case {
            name: "create tasks",
            setup: base(),
            command: create_tasks(&["t3", "t4"], "s1"),
            expect: Ok(Outcome::Batch(vec![created(Task, "t3"), created(Task, "t4")])),
        },
        Case {
            name: "task of missing service",
            setup: base(),
            command: create_tasks(&["t3"], "ghost"),
            expect: Reject(Rejection::TaskServiceMissing { task_id: "t3".into(), service_id: "ghost".into() }),
        },
        Case {
            name: "task on missing node",
            setup: base(),
            command: Command::CreateTasks {
                tasks: vec![swarm_core::Task { node_id: Some("ghost".into()), ..task("t3", "s1") }],
            },
            expect: Reject(Rejection::TaskNodeMissing { task_id: "t3".into(), node_id: "ghost".into() }),
        },
        Case {
            name: "duplicate task id within one command",
            setup: base(),
            command: create_tasks(&["t3", "t3"], "s1"),
            expect: Reject(Rejection::IdConflict { kind: Task, id: "t3".into() }),
        },
        Case {
            name: "duplicate task id with a stored task",
            setup: base(),
            command: create_tasks(&["t3", "t1"], "s1"),
            expect: Reject(Rejection::IdConflict { kind: Task, id: "t1".into() }),
        },
        Case {
            name: "status forward",
            setup: base(),
            command: set_status("t1", TaskState::Pending),
            expect: Ok(updated(Task, "t1", 2)),
        },
        Case {
            name: "same state, new message",
            setup: with(vec![set_status("t1", TaskState::Running)]),
            command: Command::UpdateTaskStatus {
                id: "t1".into(),
                status: TaskStatus { message: "still running".into(), ..status(TaskState::Running) },
            },
            expect: Ok(updated(Task, "t1", 3)),
        },
        Case {
            name: "identical status is unchanged",
            setup: with(vec![set_status("t1", TaskState::Running)]),
            command: set_status("t1", TaskState::Running),
            expect: Ok(Outcome::Unchanged),
        },
        Case {
            name: "status backward",
            setup: with(vec![set_status("t1", TaskState::Running)]),
            command: set_status("t1", TaskState::Starting),
            expect: Reject(Rejection::TaskStateBackward {
                id: "t1".into(),
                current: TaskState::Running,
                proposed: TaskState::Starting,
            }),
        },
        Case {
            name: "status of unknown task",
            setup: base(),
            command: set_status("zz", TaskState::Running),
            expect: Reject(Rejection::NoSuchTask { id: "zz".into() }),
        },
        Case {
            name: "assign",
            setup: base(),
            command: Command::AssignTask { id: "t1".into(), node_id: "n1".into() },
            expect: Ok(updated(Task, "t1", 2)),
        },
        Case {
            name: "assign to unknown node",
            setup: base(),
            command: Command::AssignTask { id: "t1".into(), node_id: "zz".into() },
            expect: Reject(Rejection::NoSuchNode { id: "zz".into() }),
        },
        Case {
            name: "reassign to another node",
            setup: with(vec![create_node("n2"), Command::AssignTask { id: "t1".into(), node_id: "n1".into() }]),
            command: Command::AssignTask { id: "t1".into(), node_id: "n2".into() },
            expect: Reject(Rejection::TaskAlreadyAssigned { id: "t1".into(), node_id: "n1".into() }),
        },
        Case {
            name: "assign a running task",
            setup: with(vec![set_status("t1", TaskState::Running)]),
            command: Command::AssignTask { id: "t1".into(), node_id: "n1".into() },
            expect: Reject(Rejection::TaskStateBackward {
                id: "t1".into(),
                current: TaskState::Running,
                proposed: TaskState::Assigned,
            }),
        },
        Case {
            name: "desired shutdown",
            setup: base(),
            command: Command::SetTaskDesiredState { id: "t1".into(), desired_state: TaskState::Shutdown },
            expect: Ok(updated(Task, "t1", 2)),
        },
        Case {
            name: "same desired state is unchanged",
            setup: base(),
            command: Command::SetTaskDesiredState { id: "t1".into(), desired_state: TaskState::Running },
            expect: Ok(Outcome::Unchanged),
        },
        Case {
            name: "remove tasks",
            setup: base(),
            command: Command::RemoveTasks { ids: vec!["t2".into(), "t1".into()] },
            expect: Ok(Outcome::Batch(vec![removed(Task, "t2"), removed(Task, "t1")])),
        },
        Case {
            name: "remove a task twice in one command",
            setup: base(),
            command: Command::RemoveTasks { ids: vec!["t1".into(), "t1".into()] },
            expect: Reject(Rejection::NoSuchTask { id: "t1".into() }),
        },
        // Networks.
        Case {
            name: "create network",
            setup: base(),
            command: create_network("net2", "back"),
            expect: Ok(created(Network, "net2")),
        },
        Case {
            name: "duplicate network name",
            setup: base(),
            command: create_network("net2", "front"),
            expect: Reject(Rejection::NameConflict { kind: Network, name: "front".into(), existing_id: "net1".into() }),
        },
        Case {
            name: "network and service may share a name",
            setup: base(),
            command: create_network("net2", "web"),
            expect: Ok(created(Network, "net2")),
        },
        Case {
            name: "invalid network name",
            setup: base(),
            command: create_network("net2", ".hidden"),
            expect: Reject(Rejection::InvalidName {
                kind: Network,
                name: ".hidden".into(),
                reason: "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed".into(),
            }),
        },
        Case {
            name: "remove network",
            setup: base(),
            command: Command::RemoveNetwork { id: "net1".into() },
            expect: Ok(removed(Network, "net1")),
        },
        Case {
            name: "remove unknown network",
            setup: base(),
            command: Command::RemoveNetwork { id: "zz".into() },
            expect: Reject(Rejection::NoSuchNetwork { id: "zz".into() }),
        },
        // Batches.
        Case {
            name: "batch applies in order",
            setup: vec![],
            command: Command::Batch(vec![init(), create_service("s1", "web"), create_tasks(&["t1"], "s1")]),
            expect: Ok(Outcome::Batch(vec![
                created(Cluster, "c1"),
                created(Service, "s1"),
                Outcome::Batch(vec![created(Task, "t1")]),
            ])),
        },
        Case {
            name: "batch with one bad command changes nothing",
            setup: base(),
            command: Command::Batch(vec![
                create_service("s2", "api"),
                set_status("t1", TaskState::Running),
                Command::RemoveNetwork { id: "net1".into() },
                update_service("s1", 5, "web", "bb:2"),
                create_node("n2"),
            ]),
            expect: Reject(in_batch(
                3,
                Rejection::OutOfSequence { kind: Service, id: "s1".into(), current: Version(1), based_on: Version(5) },
            )),
        },
        Case {
            name: "batch conflicting with itself",
            setup: base(),
            command: Command::Batch(vec![create_service("s2", "api"), create_service("s3", "api")]),
            expect: Reject(in_batch(
                1,
                Rejection::NameConflict { kind: Service, name: "api".into(), existing_id: "s2".into() },
            )),
        },
        Case {
            name: "nested batch",
            setup: base(),
            command: Command::Batch(vec![create_node("n2"), Command::Batch(vec![])]),
            expect: Reject(in_batch(1, Rejection::NestedBatch)),
        },
        Case {
            name: "empty batch",
            setup: vec![],
            command: Command::Batch(vec![]),
            expect: Ok(Outcome::Batch(vec![])),
        },
    ]
}

#[test]
fn apply_table() {
    let mut failures = Vec::new();
    for case in cases() {
        let mut store = store_with(&case.setup);
        let before = store.encode_snapshot();
        let result = store.apply(&at(T0 + 1_000, case.command.clone()));
        store.check_invariants();
        match (&case.expect, &result) {
            (Expect::Ok(want), Ok(got)) if want == got => {}
            (Expect::Reject(want), Err(got)) if want == got => {
                if store.encode_snapshot() != before {
                    failures.push(format!("{}: rejected but the store changed", case.name));
                }
            }
            (Expect::Ok(want), got) => failures.push(format!("{}: want Ok({want:?}), got {got:?}", case.name)),
            (Expect::Reject(want), got) => failures.push(format!("{}: want Err({want:?}), got {got:?}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn rejection_messages_read_like_docker() {
    let table: Vec<(Rejection, &str)> = vec![
        (Rejection::NoSuchService { id: "x".into() }, "no such service: x"),
        (Rejection::NoSuchNode { id: "x".into() }, "no such node: x"),
        (
            Rejection::OutOfSequence { kind: ObjectKind::Service, id: "x".into(), current: Version(7), based_on: Version(5) },
            "update out of sequence: service x is at version 7, update was based on version 5",
        ),
        (
            Rejection::NameConflict { kind: ObjectKind::Service, name: "web".into(), existing_id: "abc".into() },
            "service name \"web\" is already in use by service abc",
        ),
        (Rejection::NoPreviousSpec { id: "x".into() }, "service x does not have a previous spec"),
        (
            Rejection::InvalidUpdateStatus { reason: "completed_at is before started_at".into() },
            "invalid update status: completed_at is before started_at",
        ),
        (Rejection::NotInitialized, "cluster is not initialized"),
        (Rejection::AlreadyInitialized, "cluster is already initialized"),
        (
            Rejection::NodeIsManager { id: "nzhw".into() },
            "node nzhw is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal",
        ),
        (
            Rejection::LimitExceeded { limit: Limit::NameLength, max: 63, actual: 64 },
            "name length 64 exceeds the maximum of 63",
        ),
        (
            Rejection::TaskStateBackward { id: "t".into(), current: TaskState::Running, proposed: TaskState::New },
            "task t: observed state cannot move backward from running to new",
        ),
        (
            Rejection::InBatch { index: 2, rejection: Box::new(Rejection::NoSuchTask { id: "t".into() }) },
            "command 2 of the batch was rejected: no such task: t",
        ),
    ];
    for (rejection, want) in table {
        assert_eq!(rejection.to_string(), want);
    }
}

#[test]
fn versions_and_timestamps_follow_changes() {
    let mut store = store_with(&base());
    let created_at = store.service("s1").unwrap().created_at;
    store.apply(&at(T0 + 500, update_service("s1", 1, "web", "bb:2"))).unwrap();
    store.apply(&at(T0 + 600, update_service("s1", 2, "web", "bb:3"))).unwrap();
    let service = store.service("s1").unwrap();
    assert_eq!(service.version, Version(3));
    assert_eq!(service.created_at, created_at);
    assert_eq!(service.updated_at, Timestamp(T0 + 600));
    assert_eq!(service.spec.task_template.container_spec.image, "bb:3");
    assert_eq!(service.previous_spec.as_ref().unwrap().task_template.container_spec.image, "bb:2");
    let history: Vec<&str> =
        service.spec_history.iter().map(|spec| spec.task_template.container_spec.image.as_str()).collect();
    assert_eq!(history, ["bb:1"], "the spec before the previous one is kept for a second rollback");
    assert_eq!(service.update_status, None);
    assert_eq!(store.service_by_name("web").unwrap().id, "s1");
    assert!(store.service_by_name("api").is_none());

    store.apply(&at(T0 + 700, Command::AssignTask { id: "t2".into(), node_id: "n1".into() })).unwrap();
    let on_node: Vec<&str> = store.tasks_on_node("n1").map(|t| t.id.as_str()).collect();
    assert_eq!(on_node, ["t2"]);
    let t2 = store.task("t2").unwrap();
    assert_eq!(
        (t2.status.state, t2.status.timestamp, t2.version),
        (TaskState::Assigned, Timestamp(T0 + 700), Version(2))
    );
    let of_service: Vec<&str> = store.tasks_of_service("s1").map(|t| t.id.as_str()).collect();
    assert_eq!(of_service, ["t1", "t2"]);
    assert_eq!(store.network_by_name("front").unwrap().spec.driver, "overlay");
}

#[test]
fn every_forward_state_pair_is_accepted_and_every_backward_pair_rejected() {
    for (i, &from) in TaskState::ALL.iter().enumerate() {
        for (j, &to) in TaskState::ALL.iter().enumerate() {
            let mut store = store_with(&with(vec![set_status("t1", from)]));
            let result = store.apply(&at(T0 + 1_000, set_status("t1", to)));
            assert_eq!(result.is_ok(), j >= i, "{from} -> {to}: {result:?}");
        }
    }
}

#[test]
fn running_since_records_the_first_running_report() {
    let report = |state: TaskState, ms: u64| Command::UpdateTaskStatus {
        id: "t1".into(),
        status: TaskStatus {
            state,
            timestamp: Timestamp(ms),
            message: state.as_str().into(),
            err: None,
            container_id: None,
        },
    };
    let mut store = store_with(&base());
    let steps = [
        (report(TaskState::Starting, T0 + 10), None),
        (report(TaskState::Running, T0 + 20), Some(T0 + 20)),
        (report(TaskState::Running, T0 + 30), Some(T0 + 20)),
        (report(TaskState::Failed, T0 + 40), Some(T0 + 20)),
    ];
    for (command, want) in steps {
        store.apply(&at(T0 + 100, command)).unwrap();
        assert_eq!(store.task("t1").unwrap().running_since, want.map(Timestamp));
    }
    // A task created running (as a test or import might) starts its clock at its status time; one created in any
    // other state has none, whatever the proposer put in the field.
    let mut running = task("t9", "s1");
    running.status = TaskStatus { state: TaskState::Running, timestamp: Timestamp(T0 + 5), ..TaskStatus::default() };
    let mut pending = task("t8", "s1");
    pending.running_since = Some(Timestamp(T0));
    store.apply(&at(T0 + 200, Command::CreateTasks { tasks: vec![running, pending] })).unwrap();
    assert_eq!(store.task("t9").unwrap().running_since, Some(Timestamp(T0 + 5)));
    assert_eq!(store.task("t8").unwrap().running_since, None);
}
