//! Every task belongs to a service that exists (SwarmKit's task model, `design/task_model.md`: a task is "one
//! slot's attempt" of a service, and removing a service removes its tasks — `controlapi.RemoveService` deletes
//! the tasks with it; the orchestrators never create a task for a service that is gone). A task whose service is
//! missing would linger forever: no orchestrator owns it, `service ps` cannot show it, and its container would
//! never be stopped. Checked on any store, at any time.
use swarm_core::{Store, Task};

pub fn check(store: &Store) -> Vec<String> {
    check_tasks(store.tasks(), store)
}

/// `tasks` judged against the services of `services`: the same rule, for tasks taken from elsewhere (another
/// manager's store, a decoded snapshot, an agent's assignment list). `check(store)` is
/// `check_tasks(store.tasks(), store)`; `Store::apply` already refuses to orphan a task, so on a single store
/// this checker guards against a regression in that refusal (or in snapshot decoding).
pub fn check_tasks<'a>(tasks: impl IntoIterator<Item = &'a Task>, services: &Store) -> Vec<String> {
    tasks
        .into_iter()
        .filter(|task| services.service(&task.service_id).is_none())
        .map(|task| {
            let node = task.node_id.as_deref().unwrap_or("no node");
            format!(
                "tasks have services (SwarmKit task model): task {} ({node}, state {}, desired {}) references \
                 missing service {}",
                task.id, task.status.state, task.desired_state, task.service_id
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::StoreBuilder;
    use swarm_core::{Command, ServiceSpec, TaskState};

    #[test]
    fn tasks_of_existing_services_pass_and_removing_a_service_removes_its_tasks() {
        let mut b = StoreBuilder::new();
        b.node("n1").service("s1", ServiceSpec::replicated("web", "busybox:1", 1));
        b.service("s2", ServiceSpec::global("agent", "busybox:1"));
        b.task("t1", "s1", Some(1), Some("n1"), TaskState::Running, TaskState::Running);
        b.task("t2", "s2", None, Some("n1"), TaskState::Running, TaskState::Running);
        assert_eq!(check(&b.build()), Vec::<String>::new());
        b.apply(Command::RemoveService { id: "s1".into() });
        assert_eq!(check(&b.build()), Vec::<String>::new());
        assert_eq!(b.store.task_count(), 1);
    }

    #[test]
    fn an_orphaned_task_is_named() {
        let mut b = StoreBuilder::new();
        b.node("n1").service("s1", ServiceSpec::replicated("web", "busybox:1", 1));
        b.service("s2", ServiceSpec::replicated("db", "busybox:1", 1));
        b.task("t1", "s1", Some(1), Some("n1"), TaskState::Running, TaskState::Running);
        b.task("t2", "s2", Some(1), None, TaskState::Pending, TaskState::Running);
        let with_tasks = b.build();
        // The same cluster after `service rm web` on another manager: s1 is gone, s2 stays.
        b.apply(Command::RemoveService { id: "s1".into() });
        let without_s1 = b.build();
        let violations = check_tasks(with_tasks.tasks(), &without_s1);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].contains("task t1 (n1, state running, desired running) references missing service s1"),
            "{violations:?}"
        );
        assert_eq!(check_tasks(with_tasks.tasks(), &StoreBuilder::new().build()).len(), 2);
    }
}
