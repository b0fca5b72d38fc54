//! `service ls` (and `stack services`): `ID NAME MODE REPLICAS IMAGE PORTS`, sorted by name in natural order. ID
//! is the 12-character short id. MODE is `replicated`, `global`, `replicated job` or `global job`. REPLICAS is
//! `running/desired` as Docker's service status counts it: desired is the replica count of a replicated service,
//! `max_concurrent` of a replicated job, the tasks desired running of a global service, and the unfinished tasks
//! of a global job; a replicated service with `replicas-max-per-node` adds ` (max N per node)`, and jobs add
//! `(completed/total completed)`. The running count is the project's rule of `swarm_core::replicas` (observed
//! running, still wanted, on a ready node that is not drained). IMAGE drops a digest behind a tag. PORTS lists the
//! ingress (routing mesh) ports only, grouped into ranges as Docker does (`*:8080->80/tcp`,
//! `*:8080-8081->80-81/tcp`); host-mode ports show in `service ps` instead.

use serde::Serialize;
use swarm_core::spec::{PortConfig, PublishMode};
use swarm_core::{NodeAvailability, NodeState, Service, ServiceMode, Task, TaskState};
use swarm_runtime::control::view::ClusterView;

use super::ids::truncate_id;
use super::table::Table;
use super::text::{display_image, natural_cmp};

/// `service ls` flags that change the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceLsOptions {
    /// `-q`: (short) ids only.
    pub quiet: bool,
}

/// One row, with the field names of `docker service ls --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceRow {
    #[serde(rename = "ID")]
    pub id: String,
    pub image: String,
    pub mode: String,
    pub name: String,
    pub ports: String,
    pub replicas: String,
}

/// The services of `view` in `service ls` order.
pub fn sorted_services(view: &ClusterView) -> Vec<&Service> {
    let mut services: Vec<&Service> = view.services.iter().collect();
    services.sort_by(|a, b| natural_cmp(&a.spec.name, &b.spec.name).then_with(|| a.id.cmp(&b.id)));
    services
}

/// Whether `task` of `service` counts as a running replica. This is `swarm_core::replicas::is_running_replica`
/// (which needs a `Store`; the CLI has a view) applied to the view, with one addition: a job's tasks are wanted
/// `Complete`, not `Running`, so a running job task counts while it is still wanted `Complete`.
pub fn is_running_replica(view: &ClusterView, service: &Service, task: &Task) -> bool {
    let wanted = if service.spec.mode.is_job() { TaskState::Complete } else { TaskState::Running };
    if task.status.state != TaskState::Running || task.desired_state != wanted {
        return false;
    }
    let Some(node) = task.node_id.as_deref().and_then(|id| view.nodes.iter().find(|node| node.id == id)) else {
        return false;
    };
    node.status.state == NodeState::Ready && node.spec.availability != NodeAvailability::Drain
}

/// The REPLICAS column of `service`.
pub fn replicas(view: &ClusterView, service: &Service) -> String {
    let tasks: Vec<&Task> = view.tasks.iter().filter(|task| task.service_id == service.id).collect();
    let count = |keep: &dyn Fn(&Task) -> bool| tasks.iter().filter(|task| keep(task)).count() as u64;
    let running = count(&|task| is_running_replica(view, service, task));
    let completed = count(&|task| task.status.state == TaskState::Complete);
    match service.spec.mode {
        ServiceMode::Replicated { replicas } => match service.spec.task_template.placement.max_replicas {
            0 => format!("{running}/{replicas}"),
            max => format!("{running}/{replicas} (max {max} per node)"),
        },
        ServiceMode::Global => {
            let desired = count(&|task| task.desired_state == TaskState::Running);
            format!("{running}/{desired}")
        }
        ServiceMode::ReplicatedJob { max_concurrent, total_completions } => {
            format!("{running}/{max_concurrent} ({completed}/{total_completions} completed)")
        }
        ServiceMode::GlobalJob => {
            let desired =
                count(&|task| task.desired_state == TaskState::Complete && task.status.state != TaskState::Complete);
            format!("{running}/{desired} ({completed}/{} completed)", desired + completed)
        }
    }
}

/// The PORTS column for `ports`: ingress ports sorted by protocol then published port, consecutive mappings merged
/// into ranges (`*:80-81->80-81/tcp`), joined by ", ".
pub fn ports(ports: &[PortConfig]) -> String {
    #[derive(Clone, Copy)]
    struct Range<'a> {
        published: (u32, u32),
        target: (u32, u32),
        protocol: &'a str,
    }
    fn show(range: &Range<'_>) -> String {
        let span = |(start, end): (u32, u32)| if end > start { format!("{start}-{end}") } else { start.to_string() };
        format!("*:{}->{}/{}", span(range.published), span(range.target), range.protocol)
    }
    let mut sorted: Vec<&PortConfig> = ports.iter().collect();
    sorted.sort_by(|a, b| {
        a.protocol.as_str().cmp(b.protocol.as_str()).then_with(|| a.published_port.cmp(&b.published_port))
    });
    let mut shown = Vec::new();
    let mut current = Range { published: (0, 0), target: (0, 0), protocol: "" };
    for port in sorted.into_iter().filter(|port| port.publish_mode == PublishMode::Ingress) {
        let is_range = current.target.1 != current.target.0;
        let overlaps = port.target_port <= current.target.1;
        // Docker compares with unsigned wrap-around: a port below the range end is "not consecutive".
        let published_gap = port.published_port.wrapping_sub(current.published.1);
        let target_gap = port.target_port.wrapping_sub(current.target.1);
        if port.protocol.as_str() != current.protocol || published_gap > 1 || target_gap > 1 || (is_range && overlaps) {
            if current.published.0 > 0 {
                shown.push(show(&current));
            }
            current = Range {
                published: (port.published_port, port.published_port),
                target: (port.target_port, port.target_port),
                protocol: port.protocol.as_str(),
            };
            continue;
        }
        current.published.1 = port.published_port;
        current.target.1 = port.target_port;
    }
    if current.published.0 > 0 {
        shown.push(show(&current));
    }
    shown.join(", ")
}

/// The rows of `service ls`, sorted.
pub fn rows(view: &ClusterView) -> Vec<ServiceRow> {
    sorted_services(view)
        .into_iter()
        .map(|service| ServiceRow {
            id: truncate_id(&service.id).to_string(),
            image: display_image(&service.spec.task_template.container_spec.image),
            mode: service.spec.mode.as_str().to_string(),
            name: service.spec.name.clone(),
            ports: ports(&service.spec.endpoint_spec.ports),
            replicas: replicas(view, service),
        })
        .collect()
}

/// The text `service ls` prints.
pub fn render(view: &ClusterView, options: &ServiceLsOptions) -> String {
    let rows = rows(view);
    if options.quiet {
        return rows.iter().map(|row| format!("{}\n", row.id)).collect();
    }
    let mut table = Table::new(["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]);
    for row in rows {
        table.row([row.id, row.name, row.mode, row.replicas, row.image, row.ports]);
    }
    table.render()
}
