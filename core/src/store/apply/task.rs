//! The task commands: the orchestrators' `CreateTasks`, the agents' and allocator's `UpdateTaskStatus`, the
//! scheduler's `AssignTask`, `SetTaskDesiredState`, and the reaper's `RemoveTasks`. A task always references a
//! live service (and node, once assigned), its observed state only moves forward, and `running_since` is set once,
//! by the first `Running` report.

use super::later;
use crate::limits::Limit;
use crate::model::{ObjectKind, Task, TaskState, TaskStatus, Version};
use crate::store::bounds;
use crate::store::outcome::{Outcome, Rejection};
use crate::store::txn::Txn;

impl Txn<'_> {
    /// A copy of task `id`, or "no such task".
    pub(super) fn task(&self, id: &str) -> Result<Task, Rejection> {
        self.cluster()?;
        self.store.tasks.get(id).cloned().ok_or_else(|| Rejection::NoSuchTask { id: id.to_string() })
    }

    /// Stores `task` as an update of the stored task: bumps version and `updated_at`.
    pub(super) fn update_task(&mut self, mut task: Task) -> Outcome {
        task.version = task.version.next();
        task.updated_at = later(self.now, task.updated_at);
        let outcome = Outcome::Updated { kind: ObjectKind::Task, id: task.id.clone(), version: task.version };
        self.put_task(task);
        outcome
    }

    pub(super) fn create_tasks(&mut self, tasks: &[Task]) -> Result<Outcome, Rejection> {
        self.cluster()?;
        bounds::check_len(Limit::TasksPerBatch, tasks.len())?;
        let mut outcomes = Vec::with_capacity(tasks.len());
        for task in tasks {
            bounds::check_id(ObjectKind::Task, &task.id)?;
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
                    return Err(Rejection::TaskNodeMissing { task_id: task.id.clone(), node_id: node_id.clone() });
                }
            }
            bounds::check_task_spec(&task.spec)?;
            if !task.networks.is_empty() {
                // Addresses come from the allocator only (`AllocateTask`), checked there.
                return Err(Rejection::InvalidSpec {
                    reason: format!("task {} is created with network addresses; the allocator gives them", task.id),
                });
            }
            task.spec.validate().map_err(Rejection::InvalidServiceSpec)?;
            bounds::check_task_status(&task.status)?;
            let running_since = (task.status.state == TaskState::Running).then_some(task.status.timestamp);
            let task = Task {
                version: Version::INITIAL,
                created_at: self.now,
                updated_at: self.now,
                running_since,
                ..task.clone()
            };
            outcomes.push(Outcome::Created { kind: ObjectKind::Task, id: task.id.clone(), version: task.version });
            self.put_task(task);
        }
        Ok(Outcome::Batch(outcomes))
    }

    pub(super) fn update_task_status(&mut self, id: &str, status: &TaskStatus) -> Result<Outcome, Rejection> {
        let mut task = self.task(id)?;
        bounds::check_task_status(status)?;
        if status.state < task.status.state {
            return Err(Rejection::TaskStateBackward {
                id: id.to_string(),
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

    pub(super) fn assign_task(&mut self, id: &str, node_id: &str) -> Result<Outcome, Rejection> {
        let mut task = self.task(id)?;
        if !self.store.nodes.contains_key(node_id) {
            return Err(Rejection::NoSuchNode { id: node_id.to_string() });
        }
        if let Some(assigned) = &task.node_id {
            if assigned != node_id {
                return Err(Rejection::TaskAlreadyAssigned { id: id.to_string(), node_id: assigned.clone() });
            }
        }
        if task.status.state > TaskState::Assigned {
            return Err(Rejection::TaskStateBackward {
                id: id.to_string(),
                current: task.status.state,
                proposed: TaskState::Assigned,
            });
        }
        if task.node_id.is_some() && task.status.state == TaskState::Assigned {
            return Ok(Outcome::Unchanged);
        }
        task.node_id = Some(node_id.to_string());
        task.status = TaskStatus {
            state: TaskState::Assigned,
            timestamp: self.now,
            message: "scheduler assigned task to node".to_string(),
            err: None,
            container_id: task.status.container_id.take(),
        };
        Ok(self.update_task(task))
    }

    pub(super) fn set_task_desired_state(&mut self, id: &str, desired_state: TaskState) -> Result<Outcome, Rejection> {
        let mut task = self.task(id)?;
        if task.desired_state == desired_state {
            return Ok(Outcome::Unchanged);
        }
        task.desired_state = desired_state;
        Ok(self.update_task(task))
    }

    pub(super) fn remove_tasks(&mut self, ids: &[String]) -> Result<Outcome, Rejection> {
        self.cluster()?;
        bounds::check_len(Limit::TasksPerBatch, ids.len())?;
        let mut outcomes = Vec::with_capacity(ids.len());
        for id in ids {
            self.task(id)?;
            self.delete_task(id);
            outcomes.push(Outcome::Removed { kind: ObjectKind::Task, id: id.clone() });
        }
        Ok(Outcome::Batch(outcomes))
    }
}
