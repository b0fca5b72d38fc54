//! Unit tests of what the public seam cannot reach: rollback restoring the derived indexes, `updated_at` against a
//! clock that goes backward, and `check_invariants` catching a state no command can make.

use super::*;
use crate::command::Command;
use crate::model::{ClusterSettings, JoinTokens, ServiceSpec, Task, TaskSpec, Timestamp, Version};

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
    assert_eq!((cluster.created_at, cluster.updated_at, cluster.version), (Timestamp(100), Timestamp(100), Version(2)));
}

#[test]
#[should_panic(expected = "references missing service")]
fn check_invariants_panics_on_orphan_task() {
    let mut store = initialized_at(1);
    store.set_task("t", Some(Task::new("t", "ghost", None, TaskSpec::image("x"))));
    store.check_invariants();
}
