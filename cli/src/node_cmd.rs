//! `swarm node ls|inspect|update|ps|rm|promote|demote`: read the leader's view, resolve the names the user gave
//! (id, hostname, unique id prefix, or `self`), and either render or send one change based on the version read —
//! a concurrent change makes it fail "out of sequence" rather than overwrite, as Docker does.

use clap::{Args, Subcommand};
use swarm_core::{Node, NodeRole, Task};
use swarm_runtime::control::api::{NodeRemoveRequest, NodeUpdateRequest, PATH_NODE_REMOVE, PATH_NODE_UPDATE};
use swarm_runtime::control::view::ClusterView;

use crate::client::Control;
use crate::error::CliError;
use crate::render;
use crate::render::ids::{resolve, Kind, ResolveError};
use crate::swarm_cmd::Availability;

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// List nodes in the swarm.
    #[command(alias = "list")]
    Ls(crate::args::ListArgs),
    /// Display detailed information on one or more nodes.
    Inspect(InspectArgs),
    /// Update a node.
    Update(UpdateArgs),
    /// List tasks running on one or more nodes, defaults to current node.
    Ps(PsArgs),
    /// Remove one or more nodes from the swarm.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Promote one or more nodes to manager in the swarm.
    Promote(NodesArgs),
    /// Demote one or more nodes from manager in the swarm.
    Demote(NodesArgs),
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    output: crate::args::InspectFormatArgs,
    #[arg(required = true)]
    nodes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Availability of the node ("active"|"pause"|"drain").
    #[arg(long, value_enum)]
    availability: Option<Availability>,
    /// Add or update a node label (key=value).
    #[arg(long = "label-add")]
    label_add: Vec<String>,
    /// Remove a node label if exists.
    #[arg(long = "label-rm")]
    label_rm: Vec<String>,
    node: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    #[command(flatten)]
    table: crate::args::TaskTableArgs,
    nodes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force remove a node from the swarm.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    nodes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NodesArgs {
    #[arg(required = true)]
    nodes: Vec<String>,
}

/// Finds a node by id, hostname, unique id prefix, or `self`.
pub fn find_node<'a>(view: &'a ClusterView, reference: &str) -> Result<&'a Node, ResolveError> {
    let reference = if reference == "self" { view.this_node_id.as_str() } else { reference };
    resolve(&view.nodes, reference, |n: &Node| n.id.as_str(), |n| n.description.hostname.as_str(), Kind::Node)
}

pub fn run(control: &mut Control, command: NodeCommand) -> Result<(), CliError> {
    match command {
        NodeCommand::Ls(args) => {
            let format = crate::args::list_format(&args)?;
            let view = control.view()?;
            let options = render::node_ls::NodeLsOptions { quiet: args.quiet };
            print!("{}", format.print(render::node_ls::rows(&view), |_| render::node_ls::render(&view, &options))?);
            Ok(())
        }
        NodeCommand::Inspect(args) => {
            let format = args.output.format()?;
            let view = control.view()?;
            let nodes = args.nodes.iter().map(|r| find_node(&view, r)).collect::<Result<Vec<_>, _>>()?;
            if args.output.pretty {
                print!("{}", render::node_inspect_pretty::render(&nodes));
            } else {
                let inspected = nodes.iter().map(|node| render::inspect::node(node)).collect();
                print!("{}", crate::args::print_inspected(format, inspected)?);
            }
            Ok(())
        }
        NodeCommand::Update(args) => {
            let view = control.view()?;
            let node = find_node(&view, &args.node)?;
            let mut spec = node.spec.clone();
            if let Some(availability) = args.availability {
                spec.availability = availability.into();
            }
            for label in &args.label_add {
                let (key, value) = label.split_once('=').unwrap_or((label.as_str(), ""));
                if key.is_empty() {
                    return Err(CliError::EmptyNodeLabelKey { label: label.clone() });
                }
                spec.labels.insert(key.to_string(), value.to_string());
            }
            for key in &args.label_rm {
                if spec.labels.remove(key).is_none() {
                    return Err(CliError::NoSuchNodeLabel { key: key.clone() });
                }
            }
            let request = NodeUpdateRequest { id: node.id.clone(), version: node.version, spec };
            let _: serde_json::Value = control.post(PATH_NODE_UPDATE, &request)?;
            println!("{}", args.node);
            Ok(())
        }
        NodeCommand::Ps(args) => {
            let options = crate::args::ps_options(&args.table)?;
            let view = control.view()?;
            let references = if args.nodes.is_empty() { vec!["self".to_string()] } else { args.nodes };
            let nodes = references.iter().map(|r| find_node(&view, r)).collect::<Result<Vec<_>, _>>()?;
            let filters = &options.filters;
            let tasks: Vec<&Task> = view
                .tasks
                .iter()
                .filter(|t| nodes.iter().any(|n| t.node_id.as_deref() == Some(n.id.as_str())))
                .filter(|t| filters.desired_states.is_empty() || filters.desired_states.contains(&t.desired_state))
                .collect();
            print!("{}", render::service_ps::render_tasks(&view, &tasks, &options)?);
            Ok(())
        }
        NodeCommand::Rm(args) => {
            let view = control.view()?;
            crate::args::for_each_reference(&args.nodes, |reference| {
                let node = find_node(&view, reference)?;
                let request = NodeRemoveRequest { id: node.id.clone(), force: args.force };
                control.post::<_, serde_json::Value>(PATH_NODE_REMOVE, &request)?;
                Ok(())
            })
        }
        NodeCommand::Promote(args) => change_roles(control, &args.nodes, NodeRole::Manager),
        NodeCommand::Demote(args) => change_roles(control, &args.nodes, NodeRole::Worker),
    }
}

/// `node promote` / `node demote`: Docker's messages, one node at a time.
fn change_roles(control: &mut Control, references: &[String], role: NodeRole) -> Result<(), CliError> {
    for reference in references {
        let view = control.view()?;
        let node = find_node(&view, reference)?;
        if node.spec.role == role {
            let what = if role == NodeRole::Manager { "manager" } else { "worker" };
            println!("Node {reference} is already a {what}.");
            continue;
        }
        let mut spec = node.spec.clone();
        spec.role = role;
        let request = NodeUpdateRequest { id: node.id.clone(), version: node.version, spec };
        let _: serde_json::Value = control.post(PATH_NODE_UPDATE, &request)?;
        match role {
            NodeRole::Manager => println!("Node {reference} promoted to a manager in the swarm."),
            NodeRole::Worker => println!("Manager {reference} demoted in the swarm."),
        }
    }
    Ok(())
}
