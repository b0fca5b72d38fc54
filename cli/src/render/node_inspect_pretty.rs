//! `node inspect --pretty`: docker/cli's pretty node template, tabs and all (Docker writes it without a tabwriter,
//! so the tabs reach the terminal as tabs). Per node: ID, Name and Labels when set, Hostname, "Joined at" (Go's
//! time format, lower-cased by Docker's `PrettyPrint`: `2026-11-23 09:12:03.25 +0000 utc`), Status (State, the
//! status message when there is one, Availability, Address when known), Manager Status for managers (Address,
//! Raft Status, Leader Yes/No), Platform, Resources (whole CPUs, memory in binary units), Engine Version and
//! Engine Labels when set. Several nodes are printed one after the other, each followed by a newline.

use swarm_core::Node;

use super::node_ls::{availability_str, node_state_str, reachability_str};
use super::text::{bytes_size, pretty_print};
use super::time::go_time_utc;

/// The text `node inspect --pretty` prints for `nodes`, in the order given.
pub fn render(nodes: &[&Node]) -> String {
    nodes.iter().map(|node| render_one(node)).collect()
}

/// One node's block, ending in a newline.
pub fn render_one(node: &Node) -> String {
    let mut out = format!("ID:\t\t\t{}\n", node.id);
    if let Some(name) = node.spec.name.as_deref().filter(|name| !name.is_empty()) {
        out.push_str(&format!("Name:\t\t\t{name}\n"));
    }
    push_labels(&mut out, "Labels:", &node.spec.labels);
    out.push_str(&format!("Hostname:              \t{}\n", node.description.hostname));
    out.push_str(&format!("Joined at:             \t{}\n", pretty_print(&go_time_utc(node.created_at))));
    out.push_str("Status:\n");
    out.push_str(&format!(" State:\t\t\t{}\n", pretty_print(node_state_str(node.status.state))));
    if !node.status.message.is_empty() {
        out.push_str(&format!(" Message:              \t{}\n", pretty_print(&node.status.message)));
    }
    out.push_str(&format!(" Availability:         \t{}\n", pretty_print(availability_str(node.spec.availability))));
    if !node.status.addr.is_empty() {
        out.push_str(&format!(" Address:\t\t{}\n", node.status.addr));
    }
    if let Some(manager) = &node.manager_status {
        out.push_str("Manager Status:\n");
        out.push_str(&format!(" Address:\t\t{}\n", manager.addr));
        out.push_str(&format!(" Raft Status:\t\t{}\n", pretty_print(reachability_str(manager.reachability))));
        out.push_str(if manager.leader { " Leader:\t\tYes\n" } else { " Leader:\t\tNo\n" });
    }
    let description = &node.description;
    out.push_str("Platform:\n");
    out.push_str(&format!(" Operating System:\t{}\n", description.platform.os));
    out.push_str(&format!(" Architecture:\t\t{}\n", description.platform.architecture));
    out.push_str("Resources:\n");
    out.push_str(&format!(" CPUs:\t\t\t{}\n", description.resources.nano_cpus / 1_000_000_000));
    let memory = match description.resources.memory_bytes {
        0 => String::new(),
        bytes => bytes_size(bytes),
    };
    out.push_str(&format!(" Memory:\t\t{memory}\n"));
    out.push_str(&format!("Engine Version:\t\t{}\n", description.engine.engine_version));
    push_labels(&mut out, "Engine Labels:", &description.engine.labels);
    out
}

/// `title` and one ` - key=value` line per label (` - key` for an empty value), sorted by key; nothing if none.
fn push_labels(out: &mut String, title: &str, labels: &std::collections::BTreeMap<String, String>) {
    if labels.is_empty() {
        return;
    }
    out.push_str(title);
    out.push('\n');
    for (key, value) in labels {
        if value.is_empty() {
            out.push_str(&format!(" - {key}\n"));
        } else {
            out.push_str(&format!(" - {key}={value}\n"));
        }
    }
}
