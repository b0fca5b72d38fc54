//! `swarm service create|ls|ps|inspect|logs|update|rollback|scale|rm`. Writes are built here from Docker's flags
//! (`service_flags`) on top of the spec the leader's view holds, and sent with the version read, so a concurrent
//! change fails "out of sequence" instead of being overwritten. Without `-d`, create/update/rollback/scale follow
//! the service until it converges (`progress`) and exit non-zero if it cannot.

use std::time::Duration;

use clap::{Args, Subcommand};
use swarm_core::{Service, ServiceMode};
use swarm_runtime::control::api::{
    LogLine, LogsRequest, ObjectRequest, ServiceCreateReply, ServiceCreateRequest, ServiceRollbackRequest,
    ServiceUpdateRequest, PATH_SERVICE_CREATE, PATH_SERVICE_LOGS, PATH_SERVICE_REMOVE, PATH_SERVICE_ROLLBACK,
    PATH_SERVICE_UPDATE,
};
use swarm_runtime::control::view::ClusterView;

use crate::client::Control;
use crate::error::CliError;
use crate::progress;
use crate::render;
use crate::render::ids::{resolve, Kind, ResolveError};
use crate::render::service_ps::PsError;
use crate::service_flags::{apply_update, spec_from_create, CreateFlags, UpdateFlags};

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // Parsed once per run: the size of the flag structs does not matter.
pub enum ServiceCommand {
    /// Create a new service.
    Create(CreateArgs),
    /// List services.
    #[command(alias = "list")]
    Ls(crate::args::ListArgs),
    /// List the tasks of one or more services.
    Ps(PsArgs),
    /// Display detailed information on one or more services.
    Inspect(InspectArgs),
    /// Fetch the logs of a service.
    Logs(LogsArgs),
    /// Update a service.
    Update(UpdateArgs),
    /// Revert changes to a service's configuration.
    Rollback(RollbackArgs),
    /// Scale one or multiple replicated services.
    Scale(ScaleArgs),
    /// Remove one or more services.
    #[command(alias = "remove")]
    Rm(RmArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: CreateFlags,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    #[command(flatten)]
    table: crate::args::TaskTableArgs,
    #[arg(required = true)]
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    output: crate::args::InspectFormatArgs,
    #[arg(required = true)]
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Do not truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Do not include task IDs in output.
    #[arg(long)]
    no_task_ids: bool,
    /// Do not neatly format logs.
    #[arg(long)]
    raw: bool,
    service: String,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    flags: UpdateFlags,
    service: String,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// Exit immediately instead of waiting for the service to converge.
    #[arg(short, long)]
    detach: bool,
    /// Suppress progress output.
    #[arg(short, long)]
    quiet: bool,
    service: String,
}

#[derive(Args, Debug)]
pub struct ScaleArgs {
    /// Exit immediately instead of waiting for the service to converge.
    #[arg(short, long)]
    detach: bool,
    /// SERVICE=REPLICAS pairs.
    #[arg(required = true)]
    scales: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    services: Vec<String>,
}

/// Finds a service by id, name, or unique id prefix.
pub fn find_service<'a>(view: &'a ClusterView, reference: &str) -> Result<&'a Service, ResolveError> {
    resolve(&view.services, reference, |s: &Service| s.id.as_str(), |s| s.spec.name.as_str(), Kind::Service)
}

/// For writes, Docker's daemon words a missing service "service x not found".
fn find_service_for_write<'a>(view: &'a ClusterView, reference: &str) -> Result<&'a Service, CliError> {
    find_service(view, reference).map_err(|error| match error {
        ResolveError::NotFound { .. } => CliError::NoSuchServiceToWrite { reference: reference.to_string() },
        ambiguous @ ResolveError::Ambiguous { .. } => CliError::Resolve(ambiguous),
    })
}

fn follow(control: &mut Control, service_id: &str, detach: bool, quiet: bool, rollback: bool) -> Result<(), CliError> {
    if detach {
        return Ok(());
    }
    // With -q, still wait (silently), so the exit status says whether the service converged.
    Ok(progress::watch(control, service_id, quiet, rollback)?)
}

pub fn run(control: &mut Control, command: ServiceCommand) -> Result<(), CliError> {
    match command {
        ServiceCommand::Create(args) => {
            let (image, rest) = args.flags.image_and_args();
            let spec = spec_from_create(&args.flags, image, rest)?;
            let reply: ServiceCreateReply = control.post(PATH_SERVICE_CREATE, &ServiceCreateRequest { spec })?;
            println!("{}", reply.id);
            follow(control, &reply.id, args.flags.detach, args.flags.quiet, false)
        }
        ServiceCommand::Ls(args) => {
            let format = crate::args::list_format(&args)?;
            let view = control.view()?;
            let options = render::service_ls::ServiceLsOptions { quiet: args.quiet };
            let rows = render::service_ls::rows(&view);
            print!("{}", format.print(rows, |_| render::service_ls::render(&view, &options))?);
            Ok(())
        }
        ServiceCommand::Ps(args) => {
            let options = crate::args::ps_options(&args.table)?;
            let view = control.view()?;
            let output = render::service_ps::render(&view, &args.services, &options)?;
            print!("{}", output.stdout);
            match output.error {
                Some(unmatched) => Err(PsError::NoneFound(unmatched).into()),
                None => Ok(()),
            }
        }
        ServiceCommand::Inspect(args) => {
            let format = args.output.format()?;
            let view = control.view()?;
            let services = args.services.iter().map(|r| find_service(&view, r)).collect::<Result<Vec<_>, _>>()?;
            if args.output.pretty {
                print!("{}", render::service_inspect_pretty::render(&view, &services));
            } else {
                let inspected = services.iter().map(|service| render::inspect::service(&view, service)).collect();
                print!("{}", crate::args::print_inspected(format, inspected)?);
            }
            Ok(())
        }
        ServiceCommand::Logs(args) => logs(control, args),
        ServiceCommand::Update(args) => {
            let view = control.view()?;
            let service = find_service_for_write(&view, &args.service)?;
            let id = service.id.clone();
            let rollback = crate::service_flags::rollback_requested(&args.flags)?;
            if rollback {
                let request = ServiceRollbackRequest { id: id.clone(), version: service.version };
                let _: serde_json::Value = control.post(PATH_SERVICE_ROLLBACK, &request)?;
            } else {
                let mut spec = apply_update(&service.spec, &args.flags)?;
                if crate::service_flags::wants_force(&args.flags) {
                    spec.task_template.force_update += 1;
                }
                let request = ServiceUpdateRequest { id: id.clone(), version: service.version, spec };
                let _: serde_json::Value = control.post(PATH_SERVICE_UPDATE, &request)?;
            }
            println!("{}", args.service);
            follow(control, &id, args.flags.detach, args.flags.quiet, rollback)
        }
        ServiceCommand::Rollback(args) => {
            let view = control.view()?;
            let service = find_service_for_write(&view, &args.service)?;
            let id = service.id.clone();
            let request = ServiceRollbackRequest { id: id.clone(), version: service.version };
            let _: serde_json::Value = control.post(PATH_SERVICE_ROLLBACK, &request)?;
            println!("{}", args.service);
            follow(control, &id, args.detach, args.quiet, true)
        }
        ServiceCommand::Scale(args) => {
            let mut pairs = Vec::new();
            for pair in &args.scales {
                let parsed = pair.split_once('=').and_then(|(name, n)| n.parse::<u64>().ok().map(|n| (name, n)));
                match parsed {
                    Some((name, replicas)) if !name.is_empty() => pairs.push((name.to_string(), replicas)),
                    _ => return Err(CliError::InvalidScale { specifier: pair.clone() }),
                }
            }
            let mut failures = Vec::new();
            let mut scaled = Vec::new();
            for (name, replicas) in pairs {
                let view = control.view()?;
                let result = find_service_for_write(&view, &name).and_then(|service| {
                    let mut spec = service.spec.clone();
                    spec.mode = match spec.mode {
                        ServiceMode::Replicated { .. } => ServiceMode::Replicated { replicas },
                        ServiceMode::ReplicatedJob { max_concurrent, .. } => {
                            ServiceMode::ReplicatedJob { max_concurrent, total_completions: replicas }
                        }
                        _ => return Err(CliError::ScaleNotReplicated),
                    };
                    let request = ServiceUpdateRequest { id: service.id.clone(), version: service.version, spec };
                    control.post::<_, serde_json::Value>(PATH_SERVICE_UPDATE, &request)?;
                    Ok(service.id.clone())
                });
                match result {
                    Ok(id) => {
                        println!("{name} scaled to {replicas}");
                        scaled.push(id);
                    }
                    Err(message) => failures.push(message),
                }
            }
            for id in scaled {
                if let Err(message) = follow(control, &id, args.detach, false, false) {
                    failures.push(message);
                }
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(CliError::Several(failures))
            }
        }
        ServiceCommand::Rm(args) => {
            let view = control.view()?;
            crate::args::for_each_reference(&args.services, |reference| {
                let service = find_service_for_write(&view, reference)?;
                control.post::<_, serde_json::Value>(PATH_SERVICE_REMOVE, &ObjectRequest { id: service.id.clone() })?;
                Ok(())
            })
        }
    }
}

/// `service logs`: every task's container lines, prefixed like Docker (`web.1.abcdef123456@node    | line`);
/// `-f` polls for lines newer than the last one seen.
fn logs(control: &mut Control, args: LogsArgs) -> Result<(), CliError> {
    let tail = match args.tail.as_str() {
        "all" | "" => None,
        n => Some(n.parse::<u64>().map_err(|_| CliError::InvalidTail { value: n.to_string() })?),
    };
    let view = control.view()?;
    let service = find_service(&view, &args.service)?;
    let service_id = service.id.clone();
    let mut since: Option<String> = None;
    let mut first = true;
    loop {
        let request = LogsRequest {
            service_id: service_id.clone(),
            tail: if first { tail } else { None },
            timestamps: args.timestamps,
            since: since.clone(),
        };
        let lines: Vec<LogLine> = control.post(PATH_SERVICE_LOGS, &request)?;
        let view = if lines.is_empty() { None } else { Some(control.view()?) };
        for line in &lines {
            let prefix = view.as_ref().map(|v| log_prefix(v, &line.task_id, &args)).unwrap_or_default();
            let stamp = if args.timestamps { format!("{} ", line.timestamp) } else { String::new() };
            if line.stderr {
                eprintln!("{prefix}{stamp}{}", line.text);
            } else {
                println!("{prefix}{stamp}{}", line.text);
            }
        }
        if let Some(last) = lines.last() {
            since = Some(last.timestamp.clone());
        }
        if !args.follow {
            return Ok(());
        }
        first = false;
        control.sleep(Duration::from_millis(500));
    }
}

/// `web.1.abcdef123456@node    | ` as Docker prints it (or nothing with `--raw`).
fn log_prefix(view: &ClusterView, task_id: &str, args: &LogsArgs) -> String {
    if args.raw {
        return String::new();
    }
    let Some(task) = view.tasks.iter().find(|t| t.id == task_id) else { return String::new() };
    let name = render::service_ps::task_name(view, task);
    let id = if args.no_trunc { task.id.as_str() } else { render::ids::truncate_id(&task.id) };
    let node = task
        .node_id
        .as_deref()
        .and_then(|n| view.nodes.iter().find(|node| node.id == n))
        .map(render::service_ps::node_name)
        .unwrap_or("");
    let task_part = if args.no_task_ids { name } else { format!("{name}.{id}") };
    format!("{task_part}@{node}    | ")
}
