//! `service ps` (and the task tables of `stack ps` / `node ps`): `ID NAME IMAGE NODE DESIRED STATE CURRENT STATE
//! ERROR PORTS`. Services are named as Docker's CLI resolves them (exact id, exact name, unique id prefix); names
//! that match nothing are reported after the table ("no such service: x"), as Docker does, and only if no name
//! matched is it an error alone. A task is named `service.slot`, or `service.<node id>` for global services; tasks
//! are sorted by that name in natural order and, within one name, newest first, and every task after the first of
//! its name is a history row shown as ` \_ service.slot`. NODE is the node's name (spec name, else hostname),
//! blank while unassigned. The states are capitalised, CURRENT STATE says how long ago (`Running 6 seconds ago`),
//! ERROR is quoted and, unless `--no-trunc`, cut to 30 characters (`"no suitable node (insufficien…"`). PORTS shows
//! the host-mode ports a running task has bound. `-q` prints full task ids only. Filters (`-f`) are parsed by
//! `parse_filters` with Docker's messages: `id=` and `name=` match prefixes (of the task id, and of the task's
//! container name `service.slot.taskid`), `node=` names one node (id, name or id prefix, or `self`),
//! `desired-state=` any task state (`running`, `shutdown`, `accepted`, ...). Values of one key are alternatives;
//! different keys must all match.

use serde::Serialize;
use swarm_core::spec::PublishMode;
use swarm_core::{Node, Service, Task, TaskState};
use swarm_runtime::control::view::ClusterView;

use super::ids::{display_id, resolve, Kind, ResolveError};
use super::table::Table;
use super::template::PrintError;
use super::text::{display_image, ellipsis, natural_cmp, pretty_print};
use super::time::current_state;

/// The longest ERROR shown without `--no-trunc`, quotes excluded.
pub const ERROR_WIDTH: usize = 30;

/// A `-f` filter Docker refuses: the CLI's words for a malformed one, the daemon's for an unknown key or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid argument \"{arg}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)")]
    BadFormat { arg: String },
    #[error("Error response from daemon: Invalid desired-state filter: '{value}'")]
    InvalidDesiredState { value: String },
    #[error("Error response from daemon: Invalid filter '{key}'")]
    UnknownKey { key: String },
}

/// Why `service ps` prints no table, in Docker's words.
#[derive(Debug, thiserror::Error)]
pub enum PsError {
    #[error("\"swarm service ps\" requires at least 1 argument.")]
    NoService,
    /// A prefix several services share.
    #[error(transparent)]
    Ambiguous(ResolveError),
    /// No name matched a service: one "no such service" line each.
    #[error(transparent)]
    NoneFound(Unmatched),
    #[error("Error response from daemon: node {reference} not found")]
    NoSuchNode { reference: String },
    /// A `node=` filter several nodes match.
    #[error("Error response from daemon: {0}")]
    AmbiguousNode(ResolveError),
    #[error(transparent)]
    Print(#[from] PrintError),
}

/// The references that named no object, one line each: "no such service: a\nno such service: b".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Unmatched(pub Vec<ResolveError>);

/// The `-f` filters of `service ps`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilters {
    /// `id=`: task id prefixes.
    pub ids: Vec<String>,
    /// `name=`: prefixes of the task's container name (`service.slot.taskid`).
    pub names: Vec<String>,
    /// `node=`: node ids, names or id prefixes, or `self`.
    pub nodes: Vec<String>,
    /// `desired-state=`.
    pub desired_states: Vec<TaskState>,
}

/// Parses `-f key=value` arguments. Keys are case-insensitive and both sides are trimmed. Errors are Docker's: the
/// CLI's `invalid argument "x" for "-f, --filter" flag: bad format of filter (expected name=value)`, and the
/// daemon's `Invalid filter 'key'` and `Invalid desired-state filter: 'x'` (prefixed, as Docker prints them, with
/// "Error response from daemon: "). Docker's daemon also knows `label`, `service` and `runtime`; they are
/// rejected here as unknown.
pub fn parse_filters<S: AsRef<str>>(args: &[S]) -> Result<TaskFilters, FilterError> {
    let mut filters = TaskFilters::default();
    for arg in args {
        let arg = arg.as_ref();
        if arg.is_empty() {
            continue;
        }
        let Some((key, value)) = arg.split_once('=') else {
            return Err(FilterError::BadFormat { arg: arg.to_string() });
        };
        let (key, value) = (key.trim().to_lowercase(), value.trim().to_string());
        match key.as_str() {
            "id" => filters.ids.push(value),
            "name" => filters.names.push(value),
            "node" => filters.nodes.push(value),
            "desired-state" => {
                if value.is_empty() {
                    continue;
                }
                let state = TaskState::ALL.into_iter().find(|state| state.as_str().eq_ignore_ascii_case(&value));
                match state {
                    Some(state) => filters.desired_states.push(state),
                    None => return Err(FilterError::InvalidDesiredState { value }),
                }
            }
            _ => return Err(FilterError::UnknownKey { key }),
        }
    }
    Ok(filters)
}

/// `service ps` flags that change the output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PsOptions {
    /// `--no-trunc`: full ids and errors, images as written.
    pub no_trunc: bool,
    /// `-q`: full task ids only.
    pub quiet: bool,
    pub filters: TaskFilters,
    /// `--format`: the table, JSON lines, or a Go template (`-q` wins over it, as in Docker).
    pub format: super::template::OutputFormat,
}

/// What `service ps` prints: the table (stdout), and then, if some names matched no service, the error Docker
/// prints after it (stderr, exit status 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsOutput {
    pub stdout: String,
    pub error: Option<Unmatched>,
}

/// One row, with the field names of `docker service ps --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskRow {
    pub current_state: String,
    pub desired_state: String,
    pub error: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub image: String,
    pub name: String,
    pub node: String,
    pub ports: String,
}

/// `service ps SERVICE...`: the tasks of the named services that pass the filters. `Err` is printed alone: no name
/// matched a service (every "no such service" line), a prefix matched several services, a `node=` filter names no
/// node or several, or no service was named at all.
pub fn render<S: AsRef<str>>(view: &ClusterView, services: &[S], options: &PsOptions) -> Result<PsOutput, PsError> {
    if services.is_empty() {
        return Err(PsError::NoService);
    }
    let mut wanted: Vec<&Service> = Vec::new();
    let mut missing: Vec<ResolveError> = Vec::new();
    for reference in services {
        let reference = reference.as_ref();
        match resolve(&view.services, reference, |s: &Service| s.id.as_str(), |s| s.spec.name.as_str(), Kind::Service) {
            Ok(service) => {
                if !wanted.iter().any(|known| known.id == service.id) {
                    wanted.push(service);
                }
            }
            Err(error @ ResolveError::NotFound { .. }) => missing.push(error),
            Err(error @ ResolveError::Ambiguous { .. }) => return Err(PsError::Ambiguous(error)),
        }
    }
    if wanted.is_empty() {
        return Err(PsError::NoneFound(Unmatched(missing)));
    }
    let node_ids = resolve_node_filters(view, &options.filters.nodes)?;
    let filters = &options.filters;
    let tasks: Vec<&Task> = view
        .tasks
        .iter()
        .filter(|task| wanted.iter().any(|service| service.id == task.service_id))
        .filter(|task| filters.ids.is_empty() || filters.ids.iter().any(|prefix| task.id.starts_with(prefix.as_str())))
        .filter(|task| {
            filters.names.is_empty() || {
                let container = container_name(view, task);
                filters.names.iter().any(|prefix| container.starts_with(prefix.as_str()))
            }
        })
        .filter(|task| {
            node_ids.is_empty() || task.node_id.as_deref().is_some_and(|node| node_ids.iter().any(|id| id == node))
        })
        .filter(|task| filters.desired_states.is_empty() || filters.desired_states.contains(&task.desired_state))
        .collect();
    let stdout = render_tasks(view, &tasks, options)?;
    let error = if missing.is_empty() { None } else { Some(Unmatched(missing)) };
    Ok(PsOutput { stdout, error })
}

/// The node ids `node=` filters name (`self` is the answering node), with the daemon's errors.
fn resolve_node_filters(view: &ClusterView, references: &[String]) -> Result<Vec<String>, PsError> {
    references
        .iter()
        .map(|reference| {
            if reference == "self" {
                return Ok(view.this_node_id.clone());
            }
            match resolve(&view.nodes, reference, |n: &Node| n.id.as_str(), node_name, Kind::Node) {
                Ok(node) => Ok(node.id.clone()),
                Err(ResolveError::NotFound { .. }) => Err(PsError::NoSuchNode { reference: reference.clone() }),
                Err(error @ ResolveError::Ambiguous { .. }) => Err(PsError::AmbiguousNode(error)),
            }
        })
        .collect()
}

/// The name Docker shows for a node: its spec name if set, else its hostname.
pub fn node_name(node: &Node) -> &str {
    match node.spec.name.as_deref() {
        Some(name) if !name.is_empty() => name,
        _ => &node.description.hostname,
    }
}

/// The name of the service `task` belongs to: the service's current name, else the name it had when the task was
/// created, else its id.
fn service_name<'a>(view: &'a ClusterView, task: &'a Task) -> &'a str {
    match view.services.iter().find(|service| service.id == task.service_id) {
        Some(service) => &service.spec.name,
        None if !task.service_name.is_empty() => &task.service_name,
        None => &task.service_id,
    }
}

/// The task's NAME: `service.slot`, or `service.<node id>` for a task without a slot (global services).
pub fn task_name(view: &ClusterView, task: &Task) -> String {
    let service = service_name(view, task);
    match task.slot {
        Some(slot) if slot != 0 => format!("{service}.{slot}"),
        _ => format!("{service}.{}", task.node_id.as_deref().unwrap_or("")),
    }
}

/// SwarmKit's task (container) name, `service.slot.taskid` or `service.nodeid.taskid`, with the service name the
/// task was created under; the `name=` filter matches prefixes of it.
pub fn container_name(view: &ClusterView, task: &Task) -> String {
    let service = if task.service_name.is_empty() { service_name(view, task) } else { &task.service_name };
    match task.slot {
        Some(slot) if slot != 0 => format!("{service}.{slot}.{}", task.id),
        _ => format!("{service}.{}.{}", task.node_id.as_deref().unwrap_or(""), task.id),
    }
}

/// `tasks` in Docker's order with their names: by name (natural order), newest first within a name. The sort is
/// stable, so tasks created at the same instant keep their given order.
pub fn sorted_tasks<'a>(view: &ClusterView, tasks: &[&'a Task]) -> Vec<(String, &'a Task)> {
    let mut named: Vec<(String, &'a Task)> = tasks.iter().map(|task| (task_name(view, task), *task)).collect();
    named.sort_by(|(name_a, a), (name_b, b)| natural_cmp(name_a, name_b).then_with(|| b.created_at.cmp(&a.created_at)));
    named
}

/// The rows for `tasks`, sorted, history rows indented.
pub fn rows(view: &ClusterView, tasks: &[&Task], no_trunc: bool) -> Vec<TaskRow> {
    let mut previous = String::new();
    sorted_tasks(view, tasks)
        .into_iter()
        .map(|(name, task)| {
            let shown_name = if name == previous { format!(" \\_ {name}") } else { name.clone() };
            previous = name;
            TaskRow {
                current_state: current_state(task.status.state, view.now, task.status.timestamp),
                desired_state: pretty_print(task.desired_state.as_str()),
                error: error_column(task.status.err.as_deref().unwrap_or(""), no_trunc),
                id: display_id(&task.id, no_trunc).to_string(),
                image: image_column(&task.spec.container_spec.image, no_trunc),
                name: shown_name,
                node: node_column(view, task.node_id.as_deref()),
                ports: ports_column(task),
            }
        })
        .collect()
}

/// The text of a task table (`node ps`, `service ps`): `quiet` prints the full ids of the sorted tasks, one per
/// line; otherwise the table, JSON lines or the template of `options.format`.
pub fn render_tasks(view: &ClusterView, tasks: &[&Task], options: &PsOptions) -> Result<String, PrintError> {
    if options.quiet {
        return Ok(sorted_tasks(view, tasks).into_iter().map(|(_, task)| format!("{}\n", task.id)).collect());
    }
    options.format.print(rows(view, tasks, options.no_trunc), |rows| {
        let mut table = Table::new(["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"]);
        for row in rows {
            table.row([
                row.id,
                row.name,
                row.image,
                row.node,
                row.desired_state,
                row.current_state,
                row.error,
                row.ports,
            ]);
        }
        table.render()
    })
}

/// ERROR: quoted, cut to `ERROR_WIDTH` characters unless `no_trunc`; blank without an error.
pub fn error_column(err: &str, no_trunc: bool) -> String {
    if err.is_empty() {
        return String::new();
    }
    let err = if no_trunc { err.to_string() } else { ellipsis(err, ERROR_WIDTH) };
    format!("\"{err}\"")
}

/// IMAGE: without its digest, unless `no_trunc`.
fn image_column(image: &str, no_trunc: bool) -> String {
    if no_trunc {
        image.to_string()
    } else {
        display_image(image)
    }
}

/// NODE: the node's name; the id if the node is gone; blank if unassigned.
fn node_column(view: &ClusterView, node_id: Option<&str>) -> String {
    let Some(id) = node_id.filter(|id| !id.is_empty()) else { return String::new() };
    view.nodes.iter().find(|node| node.id == id).map_or(id, node_name).to_string()
}

/// PORTS: the host-mode ports a running task has bound (`*:8080->80/tcp`, comma-separated). A host-mode port
/// without a fixed published port is left out: the port the node picked is not in the view.
fn ports_column(task: &Task) -> String {
    if task.status.state != TaskState::Running {
        return String::new();
    }
    task.endpoint
        .ports
        .iter()
        .filter(|port| port.publish_mode == PublishMode::Host && port.published_port != 0)
        .map(|port| format!("*:{}->{}/{}", port.published_port, port.target_port, port.protocol))
        .collect::<Vec<_>>()
        .join(",")
}
