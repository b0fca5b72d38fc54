//! `node ls`: `ID HOSTNAME STATUS AVAILABILITY MANAGER STATUS ENGINE VERSION`, one row per node. The ID column
//! holds the full node id followed by ` *` for the node whose daemon answered (`view.this_node_id`) and two
//! spaces otherwise (Docker's template is `{{.ID}} {{if .Self}}*{{else}} {{end}}`). STATUS and AVAILABILITY are
//! capitalised (`Ready`/`Down`/`Unknown`/`Disconnected`, `Active`/`Pause`/`Drain`); MANAGER STATUS is `Leader`
//! for the leader, else the manager's reachability (`Reachable`, `Unreachable`, `Unknown`), and blank for
//! workers. Rows are sorted as docker/cli sorts them: by hostname in natural order (`node2` before `node10`);
//! Docker leaves ties unordered, we break them by id. `-q` prints the full ids alone, in the same order.

use serde::Serialize;
use swarm_core::Node;
use swarm_runtime::control::view::ClusterView;

use super::table::Table;
use super::text::{natural_cmp, pretty_print};

/// `node ls` flags that change the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeLsOptions {
    /// `-q`: ids only.
    pub quiet: bool,
}

/// One row, with the field names of `docker node ls --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeRow {
    pub availability: String,
    pub engine_version: String,
    pub hostname: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub manager_status: String,
    #[serde(rename = "Self")]
    pub is_self: bool,
    pub status: String,
}

/// The nodes of `view` in `node ls` order.
pub fn sorted_nodes(view: &ClusterView) -> Vec<&Node> {
    let mut nodes: Vec<&Node> = view.nodes.iter().collect();
    nodes.sort_by(|a, b| natural_cmp(&a.description.hostname, &b.description.hostname).then_with(|| a.id.cmp(&b.id)));
    nodes
}

/// The MANAGER STATUS column of `node`.
pub fn manager_status(node: &Node) -> String {
    match &node.manager_status {
        Some(status) if status.leader => "Leader".to_string(),
        Some(status) => pretty_print(reachability_str(status.reachability)),
        None => String::new(),
    }
}

pub(crate) fn reachability_str(reachability: swarm_core::Reachability) -> &'static str {
    match reachability {
        swarm_core::Reachability::Unknown => "unknown",
        swarm_core::Reachability::Unreachable => "unreachable",
        swarm_core::Reachability::Reachable => "reachable",
    }
}

pub(crate) fn node_state_str(state: swarm_core::NodeState) -> &'static str {
    match state {
        swarm_core::NodeState::Unknown => "unknown",
        swarm_core::NodeState::Down => "down",
        swarm_core::NodeState::Ready => "ready",
        swarm_core::NodeState::Disconnected => "disconnected",
    }
}

pub(crate) fn availability_str(availability: swarm_core::NodeAvailability) -> &'static str {
    match availability {
        swarm_core::NodeAvailability::Active => "active",
        swarm_core::NodeAvailability::Pause => "pause",
        swarm_core::NodeAvailability::Drain => "drain",
    }
}

/// The rows of `node ls`, sorted.
pub fn rows(view: &ClusterView) -> Vec<NodeRow> {
    sorted_nodes(view)
        .into_iter()
        .map(|node| NodeRow {
            availability: pretty_print(availability_str(node.spec.availability)),
            engine_version: node.description.engine.engine_version.clone(),
            hostname: node.description.hostname.clone(),
            id: node.id.clone(),
            manager_status: manager_status(node),
            is_self: !view.this_node_id.is_empty() && node.id == view.this_node_id,
            status: pretty_print(node_state_str(node.status.state)),
        })
        .collect()
}

/// The text `node ls` prints.
pub fn render(view: &ClusterView, options: &NodeLsOptions) -> String {
    let rows = rows(view);
    if options.quiet {
        return rows.iter().map(|row| format!("{}\n", row.id)).collect();
    }
    let mut table = Table::new(["ID  ", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"]);
    for row in rows {
        let marker = if row.is_self { "*" } else { " " };
        table.row([
            format!("{} {marker}", row.id),
            row.hostname,
            row.status,
            row.availability,
            row.manager_status,
            row.engine_version,
        ]);
    }
    table.render()
}
