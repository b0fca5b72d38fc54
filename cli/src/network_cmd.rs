//! `swarm network create|ls|inspect|rm|prune`: Docker's network commands for swarm-scoped overlay networks. The
//! flags are checked before any call (malformed subnets, gateways and options name the flag); the daemon and the
//! store check the rest (overlaps, gateways outside the subnet, exhausted pools, names in use, networks in use)
//! and their refusals are printed as they come. `rm` and `prune` act on each network in turn, as Docker's do.

use clap::{Args, Subcommand};
use swarm_core::ipam::Ipv4Cidr;
use swarm_core::{IpamConfig, Network, NetworkSpec};
use swarm_runtime::control::api::{
    NetworkCreateReply, NetworkCreateRequest, ObjectRequest, PATH_NETWORK_CREATE, PATH_NETWORK_REMOVE,
};
use swarm_runtime::control::view::ClusterView;

use crate::client::Control;
use crate::error::CliError;
use crate::parse::{parse_label, FlagError, ValueError};
use crate::render;
use crate::render::ids::{resolve, Kind, ResolveError};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(InspectArgs),
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network.
    #[arg(short, long, default_value = NetworkSpec::DEFAULT_DRIVER)]
    driver: String,
    /// Enable manual container attachment.
    #[arg(long)]
    attachable: bool,
    /// Restrict external access to the network.
    #[arg(long)]
    internal: bool,
    /// Create swarm routing-mesh network.
    #[arg(long)]
    ingress: bool,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long)]
    subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet.
    #[arg(long)]
    gateway: Vec<String>,
    /// Allocate container ip from a sub-range.
    #[arg(long = "ip-range")]
    ip_range: Vec<String>,
    /// Set metadata on a network.
    #[arg(long)]
    label: Vec<String>,
    /// Set driver specific options.
    #[arg(short, long = "opt")]
    opt: Vec<String>,
    name: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    list: crate::args::ListArgs,
    /// Do not truncate the output.
    #[arg(long)]
    no_trunc: bool,
    /// Provide filter values (e.g. "driver=overlay", "name=front", "label=k=v").
    #[arg(short, long = "filter")]
    filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template: "json" or a Go template.
    #[arg(short, long)]
    format: Option<String>,
    /// Verbose output for diagnostics (the services and peers are always shown).
    #[arg(short, long)]
    verbose: bool,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

/// A network by id, name or unique id prefix.
pub fn find_network<'a>(view: &'a ClusterView, reference: &str) -> Result<&'a Network, ResolveError> {
    resolve(&view.networks, reference, |n: &Network| n.id.as_str(), |n| n.spec.name.as_str(), Kind::Network)
}

pub fn run(control: &mut Control, command: NetworkCommand) -> Result<(), CliError> {
    match command {
        NetworkCommand::Create(args) => {
            let spec = spec_from_flags(&args)?;
            let reply: NetworkCreateReply = control.post(PATH_NETWORK_CREATE, &NetworkCreateRequest { spec })?;
            println!("{}", reply.id);
            Ok(())
        }
        NetworkCommand::Ls(args) => {
            let format = crate::args::list_format(&args.list)?;
            let filters = parse_filters(&args.filter)?;
            let view = control.view()?;
            let networks: Vec<&Network> =
                render::network::sorted(&view).into_iter().filter(|n| filters.iter().all(|f| f.matches(n))).collect();
            let rows = render::network::rows(&networks, args.no_trunc);
            let quiet = args.list.quiet;
            print!("{}", format.print(rows, |rows| render::network::render_ls(&rows, quiet))?);
            Ok(())
        }
        NetworkCommand::Inspect(args) => {
            let format = crate::args::inspect_format(args.format.as_deref(), false)?;
            let view = control.view()?;
            let networks = args.networks.iter().map(|r| find_network(&view, r)).collect::<Result<Vec<_>, _>>()?;
            let inspected: Vec<_> = networks.iter().map(|n| render::network::inspect(&view, n)).collect();
            print!("{}", crate::args::print_inspected(format, inspected)?);
            Ok(())
        }
        NetworkCommand::Rm(args) => {
            let view = control.view()?;
            crate::args::for_each_reference(&args.networks, |reference| {
                let network = find_network(&view, reference)?;
                control.post::<_, serde_json::Value>(PATH_NETWORK_REMOVE, &ObjectRequest { id: network.id.clone() })?;
                Ok(())
            })
        }
        NetworkCommand::Prune(args) => {
            if !args.force
                && !confirm("WARNING! This will remove all custom networks not used by at least one container.")
            {
                return Ok(());
            }
            let view = control.view()?;
            let mut deleted = Vec::new();
            for network in render::network::sorted(&view) {
                let in_use = network.spec.ingress
                    || view.services.iter().any(|s| {
                        s.spec
                            .task_template
                            .networks
                            .iter()
                            .any(|c| c.target == network.id || c.target == network.spec.name)
                    })
                    || view.tasks.iter().any(|t| {
                        swarm_core::ipam::holds_addresses(t) && t.networks.iter().any(|a| a.network_id == network.id)
                    });
                if in_use {
                    continue;
                }
                // A network taken into use meanwhile is refused by the store; prune skips it, as Docker's does.
                let request = ObjectRequest { id: network.id.clone() };
                if control.post::<_, serde_json::Value>(PATH_NETWORK_REMOVE, &request).is_ok() {
                    deleted.push(network.spec.name.clone());
                }
            }
            if !deleted.is_empty() {
                println!("Deleted Networks:");
                for name in deleted {
                    println!("{name}");
                }
            }
            Ok(())
        }
    }
}

/// Docker's prompt: `Are you sure you want to continue? [y/N]`, yes only on `y`/`Y`.
fn confirm(warning: &str) -> bool {
    use std::io::{BufRead, Write};
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y")
}

/// The spec the flags describe; malformed values are refused naming the flag.
pub fn spec_from_flags(args: &CreateArgs) -> Result<NetworkSpec, CliError> {
    let mut spec = NetworkSpec { driver: args.driver.clone(), ..NetworkSpec::overlay(args.name.clone()) };
    spec.attachable = args.attachable;
    spec.internal = args.internal;
    spec.ingress = args.ingress;
    for text in &args.label {
        let (key, value) = parse_label(text).map_err(|e| FlagError::new("--label", text, e))?;
        spec.labels.insert(key, value);
    }
    for text in &args.opt {
        let (key, value) = match text.split_once('=') {
            Some((key, value)) if !key.is_empty() => (key, value),
            None if !text.is_empty() => (text.as_str(), ""),
            _ => return Err(FlagError::new("--opt", text, ValueError::Option).into()),
        };
        spec.options.insert(key.to_string(), value.to_string());
    }
    let subnets = args
        .subnet
        .iter()
        .map(|text| Ipv4Cidr::parse(text).map_err(|e| FlagError::new("--subnet", text, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let ranges = args
        .ip_range
        .iter()
        .map(|text| Ipv4Cidr::parse(text).map_err(|e| FlagError::new("--ip-range", text, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let gateways = args
        .gateway
        .iter()
        .map(|text| {
            text.parse::<std::net::Ipv4Addr>()
                .map_err(|_| FlagError::new("--gateway", text, ValueError::Address { text: text.clone() }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Docker pairs each gateway and range with the subnet that holds it.
    for gateway in &gateways {
        if !subnets.iter().any(|s| s.contains(*gateway)) {
            return Err(CliError::NetworkFlags("no matching subnet for gateway ".to_string() + &gateway.to_string()));
        }
    }
    for range in &ranges {
        if !subnets.iter().any(|s| s.covers(range)) {
            return Err(CliError::NetworkFlags(format!("no matching subnet for range {range}")));
        }
    }
    spec.ipam = subnets
        .iter()
        .map(|subnet| IpamConfig {
            subnet: *subnet,
            gateway: gateways.iter().copied().find(|g| subnet.contains(*g)),
            ip_range: ranges.iter().copied().find(|r| subnet.covers(r)),
        })
        .collect();
    Ok(spec)
}

/// One `network ls --filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    Name(String),
    Id(String),
    Driver(String),
    Label(String, Option<String>),
    Scope(String),
}

impl Filter {
    fn matches(&self, network: &Network) -> bool {
        match self {
            Filter::Name(name) => network.spec.name.contains(name.as_str()),
            Filter::Id(id) => network.id.starts_with(id.as_str()),
            Filter::Driver(driver) => &network.spec.driver == driver,
            Filter::Label(key, value) => match (network.spec.labels.get(key), value) {
                (Some(_), None) => true,
                (Some(actual), Some(wanted)) => actual == wanted,
                (None, _) => false,
            },
            Filter::Scope(scope) => scope == "swarm",
        }
    }
}

fn parse_filters(texts: &[String]) -> Result<Vec<Filter>, CliError> {
    texts
        .iter()
        .map(|text| {
            let (key, value) = text
                .split_once('=')
                .ok_or_else(|| CliError::NetworkFlags(format!("bad format of filter (expected name=value): {text}")))?;
            Ok(match key {
                "name" => Filter::Name(value.to_string()),
                "id" => Filter::Id(value.to_string()),
                "driver" => Filter::Driver(value.to_string()),
                "scope" => Filter::Scope(value.to_string()),
                "label" => match value.split_once('=') {
                    Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
                    None => Filter::Label(value.to_string(), None),
                },
                other => return Err(CliError::NetworkFlags(format!("invalid filter '{other}'"))),
            })
        })
        .collect()
}
