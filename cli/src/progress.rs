//! Live progress of `service create/update/rollback/scale` without `-d`, as Docker prints it: `overall progress:
//! N out of M tasks`, one line per slot (or node, for global services) with its newest task's state, then
//! `verify: Waiting N seconds to verify that tasks are stable...` and `verify: Service NAME converged`. The pure
//! part (`Progress::of`) reads one `ClusterView`; `watch` polls the daemon and prints, through `Frames`, every line
//! of a frame whose overall line changed and only the changed slot lines otherwise (frames are not redrawn in place,
//! so the output reads the same in a terminal, a pipe or a log; the last frame, "N out of N", lists every slot).
//! Invariant:
//! convergence means every wanted slot runs a task of the current spec and the service's update (if any) has
//! completed; a paused update, a rollback, or a task the engine rejected ends the wait with an error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use swarm_core::{NodeAvailability, NodeState, Service, ServiceMode, Task, TaskState};
use swarm_runtime::control::view::ClusterView;

use crate::client::{Control, ControlError};

/// Why `watch` stopped before the service converged.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("service {service_id} was removed while waiting for it to converge")]
    Removed { service_id: String },
    /// A paused update, an update that rolled back on its own, or a task the engine rejected.
    #[error("service {service} could not converge: {reason}")]
    NotConverged { service: String, reason: String },
}

/// Where a service stands, from one view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// `(label, state)` per slot (`1/3`) or node id, in order.
    pub lines: Vec<(String, String)>,
    pub running: usize,
    pub wanted: usize,
    /// Why the service cannot converge (a paused update, a rejected task), if it cannot.
    pub failure: Option<String>,
    /// Every wanted slot runs the current spec, and no update is in progress.
    pub converged: bool,
}

impl Progress {
    /// `rollback_requested`: the user asked for a rollback, so rollback states are the expected way to converge.
    pub fn of(view: &ClusterView, service: &Service, rollback_requested: bool) -> Progress {
        let tasks: Vec<&Task> = view.tasks.iter().filter(|t| t.service_id == service.id).collect();
        let current =
            |t: &&Task| t.spec == service.spec.task_template && t.endpoint.ports == service.spec.endpoint_spec.ports;
        let mut groups: BTreeMap<String, Vec<&Task>> = BTreeMap::new();
        let wanted = match service.spec.mode {
            ServiceMode::Replicated { replicas } | ServiceMode::ReplicatedJob { total_completions: replicas, .. } => {
                for slot in 1..=replicas {
                    groups.insert(format!("{slot:>20}"), Vec::new());
                }
                for task in &tasks {
                    if let Some(slot) = task.slot.filter(|s| *s >= 1 && *s <= replicas) {
                        groups.entry(format!("{slot:>20}")).or_default().push(task);
                    }
                }
                replicas as usize
            }
            ServiceMode::Global | ServiceMode::GlobalJob => {
                for node in &view.nodes {
                    // As the global orchestrator decides: a paused node (like a drained one) gets no new task
                    // and keeps its old one through an update, so waiting for it would never end.
                    let eligible = node.status.state == NodeState::Ready
                        && node.spec.availability == NodeAvailability::Active
                        && service.spec.task_template.placement.node_matches(node);
                    if eligible {
                        groups.insert(node.id.clone(), Vec::new());
                    }
                }
                for task in &tasks {
                    if let Some(node_id) = &task.node_id {
                        if let Some(group) = groups.get_mut(node_id) {
                            group.push(task);
                        }
                    }
                }
                groups.len()
            }
        };
        let job = service.spec.mode.is_job();
        let done_state = if job { TaskState::Complete } else { TaskState::Running };
        let mut lines = Vec::new();
        let mut running = 0;
        let mut failure = None;
        for (key, mut group) in groups {
            group.sort_by_key(|t| (t.created_at, t.id.clone()));
            let newest = group.iter().rev().find(|t| current(t)).or(group.last());
            let label = match service.spec.mode {
                ServiceMode::Replicated { .. } | ServiceMode::ReplicatedJob { .. } => {
                    format!("{}/{}", key.trim(), wanted)
                }
                _ => key.clone(),
            };
            let state = match newest {
                Some(task) => {
                    if task.status.state == TaskState::Rejected && current(task) {
                        failure.get_or_insert_with(|| {
                            task.status.err.clone().unwrap_or_else(|| "task rejected".to_string())
                        });
                    }
                    if current(task) && task.status.state == done_state && task.desired_state <= TaskState::Complete {
                        running += 1;
                    }
                    match &task.status.err {
                        Some(err) if task.status.state > TaskState::Running => err.clone(),
                        _ => task.status.state.as_str().to_string(),
                    }
                }
                None => String::new(),
            };
            lines.push((label, state));
        }
        let update = service.update_status.as_ref();
        if let Some(status) = update {
            // A paused update or rollback waits for the user; a rollback nobody asked for means the update failed.
            let unasked_rollback = status.state.is_rollback() && !rollback_requested;
            if status.state.is_paused() || unasked_rollback {
                failure = Some(status.message.clone());
            }
        }
        let update_done = update.is_none_or(|s| s.state.is_completed() || !s.state.is_in_progress());
        Progress { converged: running == wanted && update_done, lines, running, wanted, failure }
    }
}

/// What to print of each new frame: when the overall line changes, the overall line and every slot line (a whole
/// frame, so the final "N out of N" frame lists every slot, not only the slots that changed since the previous
/// poll — which left out a slot that had been running since an earlier frame); otherwise only the slot lines whose
/// state changed.
#[derive(Debug, Default)]
pub struct Frames {
    printed: BTreeMap<String, String>,
    last_overall: Option<String>,
}

impl Frames {
    /// The lines to print for a frame with `overall` and the slot `lines`.
    pub fn next(&mut self, overall: &str, lines: &[(String, String)]) -> Vec<String> {
        let mut out = Vec::new();
        let new_frame = self.last_overall.as_deref() != Some(overall);
        if new_frame {
            out.push(format!("{overall} "));
            self.last_overall = Some(overall.to_string());
        }
        for (label, state) in lines {
            if new_frame || self.printed.get(label) != Some(state) {
                out.push(format!("{label}: {state:<10}"));
                self.printed.insert(label.clone(), state.clone());
            }
        }
        out
    }
}

/// Polls until `service_id` converges (then waits out the update monitor period, as Docker's `verify` does) or
/// cannot; prints each new line once. `Err` carries the reason the service did not converge.
pub fn watch(control: &mut Control, service_id: &str, quiet: bool, rollback_requested: bool) -> Result<(), WatchError> {
    let say = |line: &str| {
        if !quiet {
            println!("{line}");
        }
    };
    let mut frames = Frames::default();
    let mut converged_since: Option<Instant> = None;
    let mut last_verify = None;
    loop {
        let view = control.view()?;
        let Some(service) = view.services.iter().find(|s| s.id == service_id) else {
            return Err(WatchError::Removed { service_id: service_id.to_string() });
        };
        let progress = Progress::of(&view, service, rollback_requested);
        let overall = if service.spec.mode.is_job() {
            format!("job progress: {} out of {} complete", progress.running, progress.wanted)
        } else {
            format!("overall progress: {} out of {} tasks", progress.running, progress.wanted)
        };
        for line in frames.next(&overall, &progress.lines) {
            say(&line);
        }
        if let Some(reason) = progress.failure {
            return Err(WatchError::NotConverged { service: service.spec.name.clone(), reason });
        }
        if progress.converged {
            let monitor =
                Duration::from_nanos(service.spec.effective_update_config().monitor_ns).min(Duration::from_secs(5));
            let since = *converged_since.get_or_insert_with(Instant::now);
            let left = monitor.saturating_sub(since.elapsed());
            if left.is_zero() {
                say(&format!("verify: Service {} converged ", service.spec.name));
                return Ok(());
            }
            let verify =
                format!("verify: Waiting {} seconds to verify that tasks are stable... ", left.as_secs().max(1));
            if last_verify.as_ref() != Some(&verify) {
                say(&verify);
                last_verify = Some(verify);
            }
        } else {
            converged_since = None;
        }
        control.sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_core::{NodeDescription, NodeSpec, ServiceSpec, Timestamp, Version};

    fn ready_node(id: &str, availability: NodeAvailability) -> swarm_core::Node {
        let spec = NodeSpec { availability, ..NodeSpec::default() };
        let mut node = swarm_core::Node::new(id, spec, NodeDescription::default());
        node.status.state = NodeState::Ready;
        node
    }

    /// A global service created while a node is paused: the orchestrator gives that node no task, so progress must
    /// not wait for one (it did, until the command's timeout).
    #[test]
    fn a_global_service_does_not_wait_for_paused_or_drained_nodes() {
        let spec = ServiceSpec::with_mode("agent", "agent:1", ServiceMode::Global);
        let service = Service {
            id: "svc".to_string(),
            version: Version::INITIAL,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            spec,
            previous_spec: None,
            spec_history: Vec::new(),
            update_status: None,
            virtual_ips: Vec::new(),
        };
        let mut running = Task::new("t1", "svc", None, service.spec.task_template.clone());
        running.node_id = Some("active".to_string());
        running.status.state = TaskState::Running;
        running.endpoint = service.spec.endpoint_spec.clone();
        let view = ClusterView {
            cluster: None,
            nodes: vec![
                ready_node("active", NodeAvailability::Active),
                ready_node("paused", NodeAvailability::Pause),
                ready_node("drained", NodeAvailability::Drain),
            ],
            services: vec![service.clone()],
            tasks: vec![running],
            networks: Vec::new(),
            secrets: Vec::new(),
            configs: Vec::new(),
            this_node_id: String::new(),
            now: Timestamp(0),
        };
        let progress = Progress::of(&view, &service, false);
        assert_eq!((progress.running, progress.wanted), (1, 1), "{progress:?}");
        assert!(progress.converged, "{progress:?}");
    }

    fn slots(states: &[&str]) -> Vec<(String, String)> {
        let total = states.len();
        states.iter().enumerate().map(|(i, state)| (format!("{}/{total}", i + 1), state.to_string())).collect()
    }

    /// Issue 15: slot 2 ran first, the others later; the last frame ("6 out of 6") listed 1, 3, 4, 5, 6 only.
    #[test]
    fn the_last_frame_lists_every_slot() {
        let mut frames = Frames::default();
        let first = frames.next("overall progress: 0 out of 6 tasks", &slots(&["preparing"; 6]));
        assert_eq!(first.len(), 7);
        let early = ["preparing", "running", "preparing", "preparing", "preparing", "preparing"];
        let second = frames.next("overall progress: 1 out of 6 tasks", &slots(&early));
        assert_eq!(second.len(), 7, "a new overall line starts a whole frame: {second:?}");
        let last = frames.next("overall progress: 6 out of 6 tasks", &slots(&["running"; 6]));
        assert_eq!(last[0], "overall progress: 6 out of 6 tasks ");
        let labels: Vec<&str> = last[1..].iter().map(|line| line.split(':').next().unwrap()).collect();
        assert_eq!(labels, ["1/6", "2/6", "3/6", "4/6", "5/6", "6/6"], "{last:?}");
    }

    #[test]
    fn within_a_frame_only_changed_slots_are_printed() {
        let mut frames = Frames::default();
        frames.next("overall progress: 0 out of 2 tasks", &slots(&["preparing", "preparing"]));
        let same = frames.next("overall progress: 0 out of 2 tasks", &slots(&["preparing", "starting"]));
        assert_eq!(same, ["2/2: starting  "]);
        assert!(frames.next("overall progress: 0 out of 2 tasks", &slots(&["preparing", "starting"])).is_empty());
    }
}
