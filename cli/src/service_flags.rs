//! The flags of `swarm service create` and `swarm service update`, named, parsed and applied as
//! `docker service create/update` does, and their translation into a `swarm_core::spec::ServiceSpec`. This module
//! owns every CLI-side parser of a service flag (Go durations, memory sizes, CPUs, `--publish`, `--mount`,
//! `--network`, env files, labels, shell words) and keeps one invariant: a flag given on the command line either
//! lands in the spec exactly where Docker's CLI would put it, or the command fails with an error naming the flag and
//! the bad value in Docker's wording (`invalid argument "5x" for "--restart-delay" flag: ...`). A flag that is not
//! given changes nothing, and every spec returned has passed `ServiceSpec::validate`. Options the spec does not
//! model (e.g. `--mount volume-nocopy`) are refused, never silently dropped.
//!
//! Values are kept as the raw strings clap saw and parsed here, so errors carry Docker's wording rather than clap's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use clap::Args;
use swarm_core::spec::{
    FailureRatio, HealthConfig, Mount, MountType, NetworkAttachmentConfig, PlacementPreference, PortConfig,
    PortProtocol, PublishMode, ServiceMode, ServiceSpec, SpecError, UnknownKeyword, UpdateConfig, NANO_CPUS_MIN,
};

/// Looks a variable up in the CLI's environment (injectable so tests do not depend on the process's).
type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// Flags

/// Flags `service create` and `service update` share, with the same meaning (`-d`, `-q` and
/// `--with-registry-auth` aside, which each command declares itself). Every field is `None`/`false` unless
/// given on the command line, so applying them changes only what the user asked for.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct SharedFlags {
    /// Number of tasks
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub replicas: Option<String>,
    /// Number of job tasks to run concurrently (default equal to --replicas)
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub max_concurrent: Option<String>,
    /// Maximum number of tasks per node (default 0 = unlimited)
    #[arg(long = "replicas-max-per-node", value_name = "uint", allow_hyphen_values = true)]
    pub replicas_max_per_node: Option<String>,

    /// Reserve CPUs
    #[arg(long, value_name = "decimal", allow_hyphen_values = true)]
    pub reserve_cpu: Option<String>,
    /// Reserve Memory
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub reserve_memory: Option<String>,
    /// Limit CPUs
    #[arg(long, value_name = "decimal", allow_hyphen_values = true)]
    pub limit_cpu: Option<String>,
    /// Limit Memory
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub limit_memory: Option<String>,

    /// Restart when condition is met ("none", "on-failure", "any") (default "any")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub restart_condition: Option<String>,
    /// Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub restart_delay: Option<String>,
    /// Maximum number of restarts before giving up
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub restart_max_attempts: Option<String>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub restart_window: Option<String>,

    /// Maximum number of tasks updated simultaneously (0 to update all at once) (default 1)
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub update_parallelism: Option<String>,
    /// Delay between updates (ns|us|ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub update_delay: Option<String>,
    /// Action on update failure ("pause", "continue", "rollback") (default "pause")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub update_failure_action: Option<String>,
    /// Duration after each task update to monitor for failure (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub update_monitor: Option<String>,
    /// Failure rate to tolerate during an update (default 0)
    #[arg(long, value_name = "float", allow_hyphen_values = true)]
    pub update_max_failure_ratio: Option<String>,
    /// Update order ("start-first", "stop-first") (default "stop-first")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub update_order: Option<String>,

    /// Maximum number of tasks rolled back simultaneously (0 to roll back all at once) (default 1)
    #[arg(long, value_name = "uint", allow_hyphen_values = true)]
    pub rollback_parallelism: Option<String>,
    /// Delay between task rollbacks (ns|us|ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub rollback_delay: Option<String>,
    /// Action on rollback failure ("pause", "continue") (default "pause")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub rollback_failure_action: Option<String>,
    /// Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h) (default 5s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub rollback_monitor: Option<String>,
    /// Failure rate to tolerate during a rollback (default 0)
    #[arg(long, value_name = "float", allow_hyphen_values = true)]
    pub rollback_max_failure_ratio: Option<String>,
    /// Rollback order ("start-first", "stop-first") (default "stop-first")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub rollback_order: Option<String>,

    /// Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub stop_grace_period: Option<String>,
    /// Container hostname
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub hostname: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string", allow_hyphen_values = true)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string", allow_hyphen_values = true)]
    pub workdir: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "command", allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Endpoint mode (vip or dnsrr) (default "vip")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub endpoint_mode: Option<String>,

    /// Command to run to check health
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub health_retries: Option<String>,
    /// Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
}

/// `swarm service create [OPTIONS] IMAGE [COMMAND] [ARG...]`, as `docker service create`.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct CreateFlags {
    /// Service name
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Service mode ("replicated", "global", "replicated-job", "global-job") (default "replicated")
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub mode: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long, value_name = "list", allow_hyphen_values = true)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub env_file: Vec<String>,
    /// Service labels
    #[arg(short = 'l', long, value_name = "list", allow_hyphen_values = true)]
    pub label: Vec<String>,
    /// Container labels
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub container_label: Vec<String>,
    /// Placement constraints
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub constraint: Vec<String>,
    /// Add a placement preference
    #[arg(long, value_name = "pref", allow_hyphen_values = true)]
    pub placement_pref: Vec<String>,
    /// Publish a port as a node port
    #[arg(short = 'p', long, value_name = "port", allow_hyphen_values = true)]
    pub publish: Vec<String>,
    /// Attach a filesystem mount to the service
    #[arg(long, value_name = "mount", allow_hyphen_values = true)]
    pub mount: Vec<String>,
    /// Network attachments
    #[arg(long, value_name = "network", allow_hyphen_values = true)]
    pub network: Vec<String>,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Send registry authentication details to swarm agents (accepted; has no effect)
    #[arg(long)]
    pub with_registry_auth: bool,
    #[command(flatten)]
    pub shared: SharedFlags,
    /// The image, then the command and its arguments
    // Flags end at IMAGE, as with Docker (`create --name x img sh -c 'echo hi'`): one trailing positional holds
    // both so that clap stops parsing flags there too. Read them with `image()` and `command()`.
    #[arg(
        value_name = "IMAGE",
        value_names = ["IMAGE", "COMMAND"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl CreateFlags {
    /// The IMAGE positional.
    pub fn image(&self) -> &str {
        self.image_and_command.first().map_or("", String::as_str)
    }

    /// COMMAND and ARGS: everything after IMAGE.
    pub fn command(&self) -> &[String] {
        self.image_and_command.get(1..).unwrap_or(&[])
    }

    /// `(IMAGE, COMMAND and ARGS)`, the last two arguments of `spec_from_create`.
    pub fn image_and_args(&self) -> (&str, &[String]) {
        (self.image(), self.command())
    }
}

/// The flags of `swarm service update [OPTIONS] SERVICE`, as `docker service update` (the SERVICE positional is the
/// caller's).
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct UpdateFlags {
    /// Service image tag
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub image: Option<String>,
    /// Service command args
    #[arg(long, value_name = "command", allow_hyphen_values = true)]
    pub args: Option<String>,
    /// Force update even if no changes require it
    #[arg(long)]
    pub force: bool,
    /// Rollback to previous specification
    #[arg(long)]
    pub rollback: bool,
    /// Add or update an environment variable
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub env_add: Vec<String>,
    /// Remove an environment variable
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub env_rm: Vec<String>,
    /// Add or update a service label
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub label_add: Vec<String>,
    /// Remove a label by its key
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub label_rm: Vec<String>,
    /// Add or update a container label
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub container_label_add: Vec<String>,
    /// Remove a container label by its key
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub container_label_rm: Vec<String>,
    /// Add or update a placement constraint
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub constraint_add: Vec<String>,
    /// Remove a constraint
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub constraint_rm: Vec<String>,
    /// Add a placement preference
    #[arg(long, value_name = "pref", allow_hyphen_values = true)]
    pub placement_pref_add: Vec<String>,
    /// Remove a placement preference
    #[arg(long, value_name = "pref", allow_hyphen_values = true)]
    pub placement_pref_rm: Vec<String>,
    /// Add or update a published port
    #[arg(long, value_name = "port", allow_hyphen_values = true)]
    pub publish_add: Vec<String>,
    /// Remove a published port by its target port
    #[arg(long, value_name = "port", allow_hyphen_values = true)]
    pub publish_rm: Vec<String>,
    /// Add or update a mount on a service
    #[arg(long, value_name = "mount", allow_hyphen_values = true)]
    pub mount_add: Vec<String>,
    /// Remove a mount by its target path
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub mount_rm: Vec<String>,
    /// Add a network
    #[arg(long, value_name = "network", allow_hyphen_values = true)]
    pub network_add: Vec<String>,
    /// Remove a network
    #[arg(long, value_name = "list", allow_hyphen_values = true)]
    pub network_rm: Vec<String>,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Send registry authentication details to swarm agents (accepted; has no effect)
    #[arg(long)]
    pub with_registry_auth: bool,
    #[command(flatten)]
    pub shared: SharedFlags,
}

// ---------------------------------------------------------------------------------------------------------------
// Create

/// The spec `docker service create [flags] IMAGE [ARGS...]` sends: mode from `--mode`/`--replicas`/
/// `--max-concurrent` (1 replica by default), COMMAND and ARGS in the container's `args` (Docker's `Args`), the
/// shell-word-split `--entrypoint` in `command`, env files read before `-e` (a later KEY wins), networks sorted by
/// target; validated. Callers pass `flags.image()` and `flags.command()`. A bare `KEY` in `-e` or an env file takes
/// its value from this process's environment.
pub fn spec_from_create(flags: &CreateFlags, image: &str, args: &[String]) -> Result<ServiceSpec, String> {
    create_with_env(flags, image, args, &process_env)
}

fn create_with_env(flags: &CreateFlags, image: &str, args: &[String], env: EnvLookup) -> Result<ServiceSpec, String> {
    let shared = &flags.shared;
    let replicas = given("--replicas", &shared.replicas, parse_uint)?;
    let max_concurrent = given("--max-concurrent", &shared.max_concurrent, parse_uint)?;
    let max_per_node = given("--replicas-max-per-node", &shared.replicas_max_per_node, parse_uint)?;
    let mode_name = flags.mode.as_deref().unwrap_or("replicated");
    let mode = ServiceMode::from_flags(mode_name, replicas, max_concurrent, max_per_node.unwrap_or(0))
        .map_err(|e| e.to_string())?;

    let mut spec = ServiceSpec::with_mode(flags.name.clone().unwrap_or_default(), image, mode);
    spec.labels = parse_labels("-l, --label", &flags.label)?;

    let mut env_entries = Vec::new();
    for path in &flags.env_file {
        env_entries.extend(read_env_file(path, env)?);
    }
    for text in &flags.env {
        env_entries.push(parse_env(text, env).map_err(|e| invalid("-e, --env", text, e))?);
    }

    let container = &mut spec.task_template.container_spec;
    container.labels = parse_labels("--container-label", &flags.container_label)?;
    container.args = args.to_vec();
    container.env = merge_env(env_entries);
    container.mounts = flags
        .mount
        .iter()
        .map(|text| parse_mount(text).map_err(|e| invalid("--mount", text, e)))
        .collect::<Result<_, _>>()?;

    let placement = &mut spec.task_template.placement;
    placement.constraints = flags.constraint.clone();
    placement.preferences = flags
        .placement_pref
        .iter()
        .map(|text| parse_placement_pref(text).map_err(|e| invalid("--placement-pref", text, e)))
        .collect::<Result<_, _>>()?;

    let mut networks = flags
        .network
        .iter()
        .map(|text| parse_network(text).map_err(|e| invalid("--network", text, e)))
        .collect::<Result<Vec<_>, _>>()?;
    networks.sort_by(|a, b| a.target.cmp(&b.target));
    spec.task_template.networks = networks;

    for text in &flags.publish {
        let ports = parse_publish(text).map_err(|e| invalid("-p, --publish", text, e))?;
        spec.endpoint_spec.ports.extend(ports);
    }

    apply_shared(&mut spec, shared)?;
    // `docker service create` sends no healthcheck unless a setting is non-empty (`--health-cmd ""` alone).
    if spec.task_template.container_spec.healthcheck == Some(HealthConfig::default()) {
        spec.task_template.container_spec.healthcheck = None;
    }
    // Without --name the daemon generates one; the rest of the spec is checked here all the same.
    spec.validate_before_naming().map_err(|e| e.to_string())?;
    Ok(spec)
}

/// Docker's env dedupe: entries in order, a later entry for a KEY replacing (and moving past) an earlier one.
fn merge_env(entries: Vec<String>) -> Vec<String> {
    let mut merged: Vec<String> = Vec::with_capacity(entries.len());
    for entry in entries {
        merged.retain(|current| env_key(current) != env_key(&entry));
        merged.push(entry);
    }
    merged
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(key, _)| key)
}

// ---------------------------------------------------------------------------------------------------------------
// Update

/// The spec `docker service update [flags]` sends for a service whose spec is `current`: only flags given change
/// anything; removals (`--*-rm`) and additions (`--*-add`) combine in Docker's order (env, labels, placement
/// preferences: remove then add; constraints, mounts: add then remove; ports: remove, then add what the service did
/// not already have, sorted as Docker sorts them). Validated. `--rollback` is not a spec change: check
/// `rollback_requested` first; `--force` has no spec field: see `wants_force`.
pub fn apply_update(current: &ServiceSpec, flags: &UpdateFlags) -> Result<ServiceSpec, String> {
    update_with_env(current, flags, &process_env)
}

/// `--rollback`: `Ok(true)` when given alone (`-d` and `-q` aside) — the manager then rolls the service back to its
/// previous spec, which `apply_update` cannot compute — and Docker's error when combined with other flags.
pub fn rollback_requested(flags: &UpdateFlags) -> Result<bool, String> {
    if !flags.rollback {
        return Ok(false);
    }
    let mut others = flags.clone();
    others.rollback = false;
    others.detach = false;
    others.quiet = false;
    if others != UpdateFlags::default() {
        return Err("other flags may not be combined with --rollback".to_string());
    }
    Ok(true)
}

/// `--force`: Docker increments `TaskTemplate.ForceUpdate` so every task is replaced even when nothing else
/// changed. `swarm_core`'s `TaskSpec` has no such counter yet, so the caller must carry this bit to the manager.
pub fn wants_force(flags: &UpdateFlags) -> bool {
    flags.force
}

fn update_with_env(current: &ServiceSpec, flags: &UpdateFlags, env: EnvLookup) -> Result<ServiceSpec, String> {
    if flags.rollback {
        return Err(
            "--rollback does not edit the spec: the manager restores the previous one (see rollback_requested)"
                .to_string(),
        );
    }
    let mut spec = current.clone();
    let shared = &flags.shared;
    update_mode(&mut spec.mode, shared)?;

    update_labels(&mut spec.labels, "--label-add", &flags.label_add, &flags.label_rm)?;

    let container = &mut spec.task_template.container_spec;
    if let Some(image) = &flags.image {
        container.image = image.clone();
    }
    if let Some(args) = &flags.args {
        container.args = split_shell_words(args).map_err(|e| invalid("--args", args, e))?;
    }
    update_labels(
        &mut container.labels,
        "--container-label-add",
        &flags.container_label_add,
        &flags.container_label_rm,
    )?;
    if !flags.env_add.is_empty() || !flags.env_rm.is_empty() {
        container.env.retain(|entry| !flags.env_rm.iter().any(|key| key == env_key(entry)));
        for text in &flags.env_add {
            let entry = parse_env(text, env).map_err(|e| invalid("--env-add", text, e))?;
            match container.env.iter_mut().find(|current| env_key(current) == env_key(&entry)) {
                Some(slot) => *slot = entry,
                None => container.env.push(entry),
            }
        }
    }
    if !flags.mount_add.is_empty() || !flags.mount_rm.is_empty() {
        update_mounts(&mut container.mounts, &flags.mount_add, &flags.mount_rm)?;
    }

    let placement = &mut spec.task_template.placement;
    if !flags.constraint_add.is_empty() || !flags.constraint_rm.is_empty() {
        placement.constraints.extend(flags.constraint_add.iter().cloned());
        placement.constraints.retain(|constraint| !flags.constraint_rm.contains(constraint));
    }
    if !flags.placement_pref_rm.is_empty() {
        let removals = flags
            .placement_pref_rm
            .iter()
            .map(|text| parse_placement_pref(text).map_err(|e| invalid("--placement-pref-rm", text, e)))
            .collect::<Result<Vec<_>, _>>()?;
        placement.preferences.retain(|preference| !removals.contains(preference));
    }
    for text in &flags.placement_pref_add {
        placement.preferences.push(parse_placement_pref(text).map_err(|e| invalid("--placement-pref-add", text, e))?);
    }

    if !flags.network_add.is_empty() || !flags.network_rm.is_empty() {
        let networks = &mut spec.task_template.networks;
        networks.retain(|network| !flags.network_rm.contains(&network.target));
        for text in &flags.network_add {
            let network = parse_network(text).map_err(|e| invalid("--network-add", text, e))?;
            if networks.iter().any(|existing| existing.target == network.target) {
                return Err(format!("service is already attached to network {}", network.target));
            }
            networks.push(network);
        }
        networks.sort_by(|a, b| a.target.cmp(&b.target));
    }

    if !flags.publish_add.is_empty() || !flags.publish_rm.is_empty() {
        update_ports(&mut spec.endpoint_spec.ports, &flags.publish_add, &flags.publish_rm)?;
    }

    apply_shared(&mut spec, shared)?;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

/// `--replicas` sets a replicated service's replicas or a replicated job's total completions; `--max-concurrent`
/// only applies to a replicated job.
fn update_mode(mode: &mut ServiceMode, shared: &SharedFlags) -> Result<(), String> {
    let replicas = given("--replicas", &shared.replicas, parse_uint)?;
    let max_concurrent = given("--max-concurrent", &shared.max_concurrent, parse_uint)?;
    match mode {
        ServiceMode::ReplicatedJob { max_concurrent: current_max, total_completions } => {
            if let Some(value) = max_concurrent {
                *current_max = value;
            }
            if let Some(value) = replicas {
                *total_completions = value;
            }
        }
        ServiceMode::Replicated { replicas: current } => {
            if max_concurrent.is_some() {
                return Err(SpecError::MaxConcurrentNotAllowed.to_string());
            }
            if let Some(value) = replicas {
                *current = value;
            }
        }
        ServiceMode::Global | ServiceMode::GlobalJob => {
            if replicas.is_some() {
                return Err(SpecError::ReplicasNotAllowed.to_string());
            }
            if max_concurrent.is_some() {
                return Err(SpecError::MaxConcurrentNotAllowed.to_string());
            }
        }
    }
    Ok(())
}

/// Removes the `remove` keys, then sets the `add` labels.
fn update_labels(
    labels: &mut BTreeMap<String, String>,
    add_flag: &str,
    add: &[String],
    remove: &[String],
) -> Result<(), String> {
    for key in remove {
        labels.remove(key);
    }
    labels.extend(parse_labels(add_flag, add)?);
    Ok(())
}

/// Docker's `updateMounts`: added mounts replace existing ones with the same target, then `remove` targets go; the
/// result is sorted by source, then target.
fn update_mounts(mounts: &mut Vec<Mount>, add: &[String], remove: &[String]) -> Result<(), String> {
    let mut by_target: BTreeMap<String, Mount> = BTreeMap::new();
    for text in add {
        let mount = parse_mount(text).map_err(|e| invalid("--mount-add", text, e))?;
        if by_target.contains_key(&mount.target) {
            return Err("duplicate mount target".to_string());
        }
        by_target.insert(mount.target.clone(), mount);
    }
    for mount in mounts.iter() {
        by_target.entry(mount.target.clone()).or_insert_with(|| mount.clone());
    }
    let mut updated: Vec<Mount> = by_target.into_values().filter(|mount| !remove.contains(&mount.target)).collect();
    updated.sort_by(|a, b| (&a.source, &a.target).cmp(&(&b.source, &b.target)));
    *mounts = updated;
    Ok(())
}

/// Docker's `updatePorts`: drop ports matching a `--publish-rm` (same target port and protocol), add each
/// `--publish-add` port the service did not already have (before removals, as Docker checks), then sort by
/// `published:target/protocol/mode`. Unlike Docker, a removal matches whatever the publish mode: `parse_publish`
/// records every added port in host mode while `--publish-rm 80` parses as ingress, so a port added with `-p` must
/// still be removable by the same short form.
fn update_ports(ports: &mut Vec<PortConfig>, add: &[String], remove: &[String]) -> Result<(), String> {
    let mut removals = Vec::new();
    for text in remove {
        removals.extend(parse_port_spec(text).map_err(|e| invalid("--publish-rm", text, e))?);
    }
    let mut existing = BTreeSet::new();
    let mut updated = Vec::new();
    for port in ports.iter() {
        if existing.insert(port_key(port)) {
            updated.push(port.clone());
        }
    }
    updated.retain(|port: &PortConfig| {
        !removals.iter().any(|removal| removal.target_port == port.target_port && removal.protocol == port.protocol)
    });
    for text in add {
        for port in parse_publish(text).map_err(|e| invalid("--publish-add", text, e))? {
            if !existing.contains(&port_key(&port)) {
                updated.push(port);
            }
        }
    }
    updated.sort_by_key(port_key);
    *ports = updated;
    Ok(())
}

fn port_key(port: &PortConfig) -> String {
    format!("{}:{}/{}/{}", port.published_port, port.target_port, port.protocol, port.publish_mode)
}

// ---------------------------------------------------------------------------------------------------------------
// Flags both commands share

/// Applies the flags both commands take onto `spec` (the mode flags aside): only those given change anything.
fn apply_shared(spec: &mut ServiceSpec, s: &SharedFlags) -> Result<(), String> {
    let task = &mut spec.task_template;
    if let Some(value) = given("--replicas-max-per-node", &s.replicas_max_per_node, parse_uint)? {
        task.placement.max_replicas = value;
    }
    let resources = &mut task.resources;
    set(&mut resources.reservations.nano_cpus, given("--reserve-cpu", &s.reserve_cpu, parse_nano_cpus)?);
    set(&mut resources.reservations.memory_bytes, given("--reserve-memory", &s.reserve_memory, parse_memory_bytes)?);
    set(&mut resources.limits.nano_cpus, given("--limit-cpu", &s.limit_cpu, parse_nano_cpus)?);
    set(&mut resources.limits.memory_bytes, given("--limit-memory", &s.limit_memory, parse_memory_bytes)?);

    let restart = &mut task.restart_policy;
    set(&mut restart.condition, given("--restart-condition", &s.restart_condition, parse_keyword)?);
    set(&mut restart.delay_ns, given("--restart-delay", &s.restart_delay, parse_duration)?);
    set(&mut restart.max_attempts, given("--restart-max-attempts", &s.restart_max_attempts, parse_uint)?);
    set(&mut restart.window_ns, given("--restart-window", &s.restart_window, parse_duration)?);

    let container = &mut task.container_spec;
    set(&mut container.stop_grace_period_ns, given("--stop-grace-period", &s.stop_grace_period, parse_duration)?);
    set(&mut container.hostname, s.hostname.clone());
    set(&mut container.user, s.user.clone());
    set(&mut container.dir, s.workdir.clone());
    set(&mut container.command, given("--entrypoint", &s.entrypoint, split_shell_words)?);
    container.healthcheck = apply_health(container.healthcheck.take(), s)?;

    let endpoint_mode = given("--endpoint-mode", &s.endpoint_mode, |text| parse_keyword(&text.to_lowercase()))?;
    set(&mut spec.endpoint_spec.mode, endpoint_mode);

    let update = UpdateConfigFlags {
        prefix: "update",
        parallelism: &s.update_parallelism,
        delay: &s.update_delay,
        failure_action: &s.update_failure_action,
        monitor: &s.update_monitor,
        max_failure_ratio: &s.update_max_failure_ratio,
        order: &s.update_order,
    };
    update.apply(&mut spec.update_config)?;
    let rollback = UpdateConfigFlags {
        prefix: "rollback",
        parallelism: &s.rollback_parallelism,
        delay: &s.rollback_delay,
        failure_action: &s.rollback_failure_action,
        monitor: &s.rollback_monitor,
        max_failure_ratio: &s.rollback_max_failure_ratio,
        order: &s.rollback_order,
    };
    rollback.apply(&mut spec.rollback_config)
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// The six `--update-*` (or `--rollback-*`) flags.
struct UpdateConfigFlags<'a> {
    prefix: &'static str,
    parallelism: &'a Option<String>,
    delay: &'a Option<String>,
    failure_action: &'a Option<String>,
    monitor: &'a Option<String>,
    max_failure_ratio: &'a Option<String>,
    order: &'a Option<String>,
}

impl UpdateConfigFlags<'_> {
    /// If any flag is given, starts from the spec's config (or SwarmKit's defaults) and sets those given.
    fn apply(&self, config: &mut Option<UpdateConfig>) -> Result<(), String> {
        let fields =
            [self.parallelism, self.delay, self.failure_action, self.monitor, self.max_failure_ratio, self.order];
        if fields.iter().all(|field| field.is_none()) {
            return Ok(());
        }
        let flag = |name: &str| format!("--{}-{name}", self.prefix);
        let config = config.get_or_insert_with(UpdateConfig::default);
        set(&mut config.parallelism, given(&flag("parallelism"), self.parallelism, parse_uint)?);
        set(&mut config.delay_ns, given(&flag("delay"), self.delay, parse_duration)?);
        set(&mut config.failure_action, given(&flag("failure-action"), self.failure_action, parse_keyword)?);
        set(&mut config.monitor_ns, given(&flag("monitor"), self.monitor, parse_duration)?);
        set(
            &mut config.max_failure_ratio,
            given(&flag("max-failure-ratio"), self.max_failure_ratio, parse_float32)?.map(FailureRatio),
        );
        set(&mut config.order, given(&flag("order"), self.order, parse_keyword)?);
        Ok(())
    }
}

/// Docker's healthcheck flags on top of `current`: `--no-healthcheck` alone disables it (`["NONE"]`) and conflicts
/// with any `--health-*`; otherwise a given setting replaces its field, clearing a `NONE` test, and
/// `--health-cmd CMD` becomes `["CMD-SHELL", CMD]` (an empty one inherits the image's test).
fn apply_health(current: Option<HealthConfig>, s: &SharedFlags) -> Result<Option<HealthConfig>, String> {
    let settings = [&s.health_cmd, &s.health_interval, &s.health_timeout, &s.health_retries, &s.health_start_period];
    let any_setting = settings.iter().any(|setting| setting.is_some());
    if s.no_healthcheck {
        if any_setting {
            return Err("--no-healthcheck conflicts with --health-* options".to_string());
        }
        return Ok(Some(HealthConfig { test: vec!["NONE".to_string()], ..HealthConfig::default() }));
    }
    if !any_setting {
        return Ok(current);
    }
    let mut health = current.unwrap_or_default();
    if health.test.first().map(String::as_str) == Some("NONE") {
        health.test.clear();
    }
    set(&mut health.interval_ns, given("--health-interval", &s.health_interval, parse_duration)?);
    set(&mut health.timeout_ns, given("--health-timeout", &s.health_timeout, parse_duration)?);
    set(&mut health.start_period_ns, given("--health-start-period", &s.health_start_period, parse_duration)?);
    let retries = given("--health-retries", &s.health_retries, |text| {
        let retries = parse_int(text)?;
        u64::try_from(retries).map_err(|_| "Retries in Healthcheck cannot be negative".to_string())
    })?;
    set(&mut health.retries, retries);
    if let Some(cmd) = &s.health_cmd {
        health.test = if cmd.is_empty() { Vec::new() } else { vec!["CMD-SHELL".to_string(), cmd.clone()] };
    }
    Ok(Some(health))
}

// ---------------------------------------------------------------------------------------------------------------
// Error wording

/// pflag's wording for a value a flag rejects: `invalid argument "5x" for "--restart-delay" flag: <problem>`.
/// `flag` is spelled as pflag prints it (`-e, --env` when there is a shorthand).
fn invalid(flag: &str, value: &str, problem: impl fmt::Display) -> String {
    format!("invalid argument {} for {} flag: {problem}", quote(value), quote(flag))
}

/// Go's `%q`, near enough: a double-quoted, escaped string.
fn quote(text: &str) -> String {
    format!("{text:?}")
}

/// Parses an optional flag value, wrapping a failure in `invalid`.
fn given<T>(
    flag: &str,
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    value.as_deref().map(|text| parse(text).map_err(|problem| invalid(flag, text, problem))).transpose()
}

/// One of a keyword enum's values (`any`, `start-first`, ...), or "expected one of ...".
fn parse_keyword<T: FromStr<Err = UnknownKeyword>>(text: &str) -> Result<T, String> {
    text.parse::<T>().map_err(|UnknownKeyword { expected, .. }| format!("expected one of {expected}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers

/// A Go `ParseUint(text, 0, 64)`, as pflag's `uint64` flags take them: decimal, `0x`/`0o`/`0b` prefixes, a leading
/// `0` for octal, `_` between digits; no sign.
pub fn parse_uint(text: &str) -> Result<u64, String> {
    parse_go_uint(text, "ParseUint", text)
}

/// A Go `ParseInt(text, 0, 64)`, as pflag's `int` flags take them: an optional sign, then as `parse_uint`.
pub fn parse_int(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = parse_go_uint(digits, "ParseInt", text)?;
    let range = || format!("strconv.ParseInt: parsing {}: value out of range", quote(text));
    if negative {
        0i64.checked_sub_unsigned(magnitude).ok_or_else(range)
    } else {
        i64::try_from(magnitude).map_err(|_| range())
    }
}

fn parse_go_uint(text: &str, function: &str, original: &str) -> Result<u64, String> {
    let syntax = || format!("strconv.{function}: parsing {}: invalid syntax", quote(original));
    let range = || format!("strconv.{function}: parsing {}: value out of range", quote(original));
    let lower = text.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits, prefixed) = match lower.as_deref() {
        Some("0x") => (16, &text[2..], true),
        Some("0o") => (8, &text[2..], true),
        Some("0b") => (2, &text[2..], true),
        _ if text.len() > 1 && text.starts_with('0') => (8, &text[1..], true),
        _ => (10, text, false),
    };
    // Go allows `_` only between digits, or between a base prefix and a digit.
    let mut previous_is_digit = prefixed;
    let mut value: u64 = 0;
    let mut any_digit = false;
    let mut chars = digits.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if !previous_is_digit || !chars.peek().is_some_and(|next| next.is_digit(radix)) {
                return Err(syntax());
            }
            previous_is_digit = false;
            continue;
        }
        let digit = c.to_digit(radix).ok_or_else(syntax)?;
        value = value.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(u64::from(digit))).ok_or_else(range)?;
        any_digit = true;
        previous_is_digit = true;
    }
    if !any_digit {
        return Err(syntax());
    }
    Ok(value)
}

/// A Go `ParseFloat(text, 32)`, as pflag's `float32` flags take them.
pub fn parse_float32(text: &str) -> Result<f32, String> {
    text.parse::<f32>().map_err(|_| format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(text)))
}

/// A port number as Docker's `--publish` long form reads it (`ParseUint(text, 10, 16)`).
fn parse_port_number(text: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {}: invalid syntax", quote(text)));
    }
    match text.parse::<u16>() {
        Ok(port) => Ok(u32::from(port)),
        Err(_) => Err(format!("strconv.ParseUint: parsing {}: value out of range", quote(text))),
    }
}

/// A Go duration (`time.ParseDuration`) in nanoseconds: `300ms`, `1.5s`, `1m30s`, `2h`, `0`; units ns, us (µs, μs),
/// ms, s, m, h. Go's errors (`time: unknown unit "x" in duration "5x"`); negative durations are refused, as
/// Docker's positive-duration flags do, since every spec duration is unsigned.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    const MAX: u128 = i64::MAX as u128;
    let invalid_duration = || format!("time: invalid duration {}", quote(text));
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid_duration());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid_duration());
        }
        let int_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int_digits, after) = rest.split_at(int_end);
        let mut whole: u128 = 0;
        for digit in int_digits.bytes() {
            whole = whole * 10 + u128::from(digit - b'0');
            if whole > MAX {
                return Err(invalid_duration());
            }
        }
        rest = after;
        let (mut fraction, mut scale, mut fraction_digits) = (0u128, 1u128, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let end = after_dot.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_dot.len());
            for digit in after_dot[..end].bytes() {
                // Digits beyond nanosecond precision of the largest unit change nothing; Go drops them too.
                if scale < 10u128.pow(24) {
                    fraction = fraction * 10 + u128::from(digit - b'0');
                    scale *= 10;
                }
            }
            fraction_digits = end > 0;
            rest = &after_dot[end..];
        }
        if int_digits.is_empty() && !fraction_digits {
            return Err(invalid_duration());
        }
        let unit_end = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_text = &rest[..unit_end];
        if unit_text.is_empty() {
            return Err(format!("time: missing unit in duration {}", quote(text)));
        }
        let unit: u128 = match unit_text {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            _ => return Err(format!("time: unknown unit {} in duration {}", quote(unit_text), quote(text))),
        };
        rest = &rest[unit_end..];
        total += whole * unit + fraction * unit / scale;
        if total > MAX {
            return Err(invalid_duration());
        }
    }
    if negative && total != 0 {
        return Err("duration cannot be negative".to_string());
    }
    Ok(total as u64)
}

/// `parse_duration` for the value of `flag`, failing with pflag's wording:
/// `invalid argument "5x" for "--restart-delay" flag: time: unknown unit "x" in duration "5x"`.
pub fn parse_duration_ns(text: &str, flag: &str) -> Result<u64, String> {
    parse_duration(text).map_err(|problem| invalid(flag, text, problem))
}

/// Docker's `RAMInBytes`: a number (decimals allowed, truncated), an optional space, then an optional
/// case-insensitive unit: `b`, or `k`, `m`, `g`, `t`, `p` (binary multiples) optionally followed by `b` or `ib`.
pub fn parse_memory_bytes(text: &str) -> Result<u64, String> {
    let invalid_size = || format!("invalid size: '{text}'");
    let Some(last) = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(invalid_size());
    };
    let (number, suffix) = if text.as_bytes()[last] == b' ' {
        (&text[..last], &text[last + 1..])
    } else {
        (&text[..last + 1], &text[last + 1..])
    };
    let size: f64 =
        number.parse().map_err(|_| format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(number)))?;
    if size.is_nan() || size < 0.0 {
        return Err(invalid_size());
    }
    let bad_suffix = || format!("invalid suffix: '{suffix}'");
    let lower = suffix.to_ascii_lowercase();
    let multiplier: u64 = match lower.as_str() {
        "" | "b" => 1,
        _ => {
            let mut chars = lower.chars();
            let exponent = match chars.next() {
                Some('k') => 1,
                Some('m') => 2,
                Some('g') => 3,
                Some('t') => 4,
                Some('p') => 5,
                _ => return Err(bad_suffix()),
            };
            if !matches!(chars.as_str(), "" | "b" | "ib") {
                return Err(bad_suffix());
            }
            1024u64.pow(exponent)
        }
    };
    let bytes = size * multiplier as f64;
    if bytes >= i64::MAX as f64 {
        return Err(invalid_size());
    }
    Ok(bytes as u64)
}

/// Docker's `--reserve-cpu`/`--limit-cpu`: a decimal (`0.5`, `2`, `1e-3`) or fraction (`1/4`) number of CPUs, in
/// nano CPUs; finer than a nano CPU is "value is too precise".
pub fn parse_nano_cpus(text: &str) -> Result<u64, String> {
    let unparsable = || format!("failed to parse {text} as a rational number");
    let too_precise = || "value is too precise".to_string();
    let out_of_range = || "value out of range".to_string();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let nanos: u128 = match body.split_once('/') {
        Some((top, bottom)) => {
            let top = parse_decimal_integer(top).ok_or_else(unparsable)?;
            let bottom = parse_decimal_integer(bottom).ok_or_else(unparsable)?;
            if bottom == 0 {
                return Err(unparsable());
            }
            let scaled = top.checked_mul(1_000_000_000).ok_or_else(out_of_range)?;
            if scaled % bottom != 0 {
                return Err(too_precise());
            }
            scaled / bottom
        }
        None => {
            // digits * 10^-scale CPUs, i.e. digits * 10^(9 - scale) nano CPUs.
            let (digits, scale) = parse_decimal(body).ok_or_else(unparsable)?;
            let shift = 9 - i64::from(scale);
            if digits == 0 {
                0
            } else if shift >= 0 {
                let factor = u32::try_from(shift).ok().and_then(|s| 10u128.checked_pow(s)).ok_or_else(out_of_range)?;
                digits.checked_mul(factor).ok_or_else(out_of_range)?
            } else {
                let divisor = u32::try_from(-shift).ok().and_then(|s| 10u128.checked_pow(s)).ok_or_else(too_precise)?;
                if digits % divisor != 0 {
                    return Err(too_precise());
                }
                digits / divisor
            }
        }
    };
    if negative && nanos != 0 {
        return Err(format!("invalid cpu value {text}: Must be at least {}", NANO_CPUS_MIN as f64 / 1e9));
    }
    u64::try_from(nanos).ok().filter(|&n| n <= i64::MAX as u64).ok_or_else(out_of_range)
}

fn parse_decimal_integer(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `digits[.digits][e[+-]digits]` as `(significant digits, scale)`: the value is `digits * 10^-scale`.
fn parse_decimal(text: &str) -> Option<(u128, i32)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (whole.is_empty() && fraction.is_empty()) || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let joined = format!("{whole}{fraction}");
    let significant = joined.trim_start_matches('0');
    if significant.len() > 30 {
        return None;
    }
    let digits = if significant.is_empty() { 0 } else { significant.parse().ok()? };
    let mut scale = i32::try_from(fraction.len()).ok()?;
    if let Some(exponent) = exponent {
        let (negative, magnitude) = match exponent.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, exponent.strip_prefix('+').unwrap_or(exponent)),
        };
        let magnitude = i32::try_from(parse_decimal_integer(magnitude)?).ok()?;
        scale = if negative { scale.checked_add(magnitude)? } else { scale.checked_sub(magnitude)? };
    }
    Some((digits, scale))
}

// ---------------------------------------------------------------------------------------------------------------
// Words, lists, key=value

/// Shell-word splitting as Docker's `--entrypoint` and `--args` do it (Go's `shlex.Split`): whitespace separates
/// words; `'...'` is literal; `"..."` is literal except that `\` escapes the next character; `\` outside quotes
/// escapes the next character; `#` at the start of a word comments out the rest of the line.
pub fn split_shell_words(text: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum State {
        Start,
        Word,
        Escape,
        Single,
        Double,
        DoubleEscape,
        Comment,
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::Start;
    for c in text.chars() {
        let space = matches!(c, ' ' | '\t' | '\r' | '\n');
        state = match state {
            State::Start => match c {
                _ if space => State::Start,
                '\'' => State::Single,
                '"' => State::Double,
                '\\' => State::Escape,
                '#' => State::Comment,
                _ => {
                    word.push(c);
                    State::Word
                }
            },
            State::Word => match c {
                _ if space => {
                    words.push(std::mem::take(&mut word));
                    State::Start
                }
                '\'' => State::Single,
                '"' => State::Double,
                '\\' => State::Escape,
                _ => {
                    word.push(c);
                    State::Word
                }
            },
            State::Escape => {
                word.push(c);
                State::Word
            }
            State::Single => {
                if c == '\'' {
                    State::Word
                } else {
                    word.push(c);
                    State::Single
                }
            }
            State::Double => match c {
                '"' => State::Word,
                '\\' => State::DoubleEscape,
                _ => {
                    word.push(c);
                    State::Double
                }
            },
            State::DoubleEscape => {
                word.push(c);
                State::Double
            }
            State::Comment => {
                if c == '\n' {
                    State::Start
                } else {
                    State::Comment
                }
            }
        };
    }
    match state {
        State::Start | State::Comment => {}
        State::Word => words.push(word),
        State::Escape | State::DoubleEscape => return Err("EOF found after escape character".to_string()),
        State::Single | State::Double => return Err("EOF found when expecting closing quote".to_string()),
    }
    Ok(words)
}

/// The fields of one CSV record (Go's `encoding/csv`), as Docker reads `--mount`, `--publish` and `--network`
/// long forms: `,` separates fields; a field starting with `"` is quoted, `""` inside it being a literal quote.
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Err("EOF".to_string());
    }
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field".to_string()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
            match chars.next() {
                None => return Ok(fields),
                Some(',') => continue,
                Some(_) => return Err("extraneous or missing \" in quoted-field".to_string()),
            }
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => break,
                Some('"') => return Err("bare \" in non-quoted-field".to_string()),
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
    }
}

/// Docker's test for a long-form `--publish`/`--network` value: it contains `word=word` somewhere.
fn has_key_value_pair(text: &str) -> bool {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (1..bytes.len().saturating_sub(1)).any(|i| bytes[i] == b'=' && word(bytes[i - 1]) && word(bytes[i + 1]))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A label, `key=value` or a bare `key` (empty value), as Docker's `ValidateLabel` checks it: a non-empty key
/// (leading whitespace dropped) without whitespace; the value is kept as is.
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{text}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok((key.to_string(), value.to_string()))
}

/// Every label of a repeated flag (`flag` as pflag prints it); a later key wins.
fn parse_labels(flag: &str, texts: &[String]) -> Result<BTreeMap<String, String>, String> {
    texts.iter().map(|text| parse_label(text).map_err(|e| invalid(flag, text, e))).collect()
}

/// One `-e`/`--env-add` value as Docker's `ValidateEnv` takes it: `KEY=value` as is; a bare `KEY` takes its
/// value from `env` when set there, and stays a bare `KEY` otherwise.
pub fn parse_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (key, has_value) = match text.split_once('=') {
        Some((key, _)) => (key, true),
        None => (text, false),
    };
    if key.is_empty() {
        return Err(format!("invalid environment variable: {text}"));
    }
    if has_value {
        return Ok(text.to_string());
    }
    Ok(match env(key) {
        Some(value) => format!("{key}={value}"),
        None => text.to_string(),
    })
}

/// An env file's `KEY=VALUE` entries (Docker's `--env-file`): blank lines and lines starting with `#` skipped,
/// leading whitespace dropped, values kept verbatim; a bare `KEY` takes its value from `env`, and is skipped if
/// unset there. Errors name the line: `line 3: variable 'A B' contains whitespaces`.
pub fn parse_env_file(contents: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, String> {
    let mut entries = Vec::new();
    let contents = contents.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(contents);
    let contents = contents.strip_suffix(b"\n").unwrap_or(contents);
    if contents.is_empty() {
        return Ok(entries);
    }
    for (index, raw) in contents.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|_| format!("line {number}: invalid UTF-8"))?.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line, None),
        };
        if key.contains([' ', '\t']) {
            return Err(format!("line {number}: variable '{key}' contains whitespaces"));
        }
        if key.is_empty() {
            return Err(format!("line {number}: no variable name on line '{line}'"));
        }
        match value {
            Some(value) => entries.push(format!("{key}={value}")),
            None => {
                if let Some(value) = env(key) {
                    entries.push(format!("{key}={value}"));
                }
            }
        }
    }
    Ok(entries)
}

/// Reads one `--env-file` (see `parse_env_file`); errors name the flag, the file and the line.
pub fn read_env_file(path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, String> {
    let contents = std::fs::read(path).map_err(|e| invalid("--env-file", path, format!("open {path}: {e}")))?;
    parse_env_file(&contents, env).map_err(|e| invalid("--env-file", path, e))
}

/// `--placement-pref spread=node.labels.zone`, with Docker's CLI wording for a bad one.
pub fn parse_placement_pref(text: &str) -> Result<PlacementPreference, String> {
    PlacementPreference::parse(text).map_err(|error| match error {
        SpecError::InvalidPlacementPreference { problem, .. } => problem.to_string(),
        other => other.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Ports, mounts, networks

/// `-p`/`--publish`/`--publish-add`: `parse_port_spec`, refusing a port without a published port (`80`,
/// `target=80`): Docker would assign one from the dynamic range, which swarm does not do yet.
///
/// Until the routing mesh exists, every published port is bound on the node that runs the task — Swarm's
/// `mode=host` — so a port asked for in ingress mode (Docker's default) is recorded as host mode, which `service
/// inspect` then shows plainly.
pub fn parse_publish(text: &str) -> Result<Vec<PortConfig>, String> {
    let mut ports = parse_port_spec(text)?;
    for port in &mut ports {
        port.publish_mode = PublishMode::Host;
    }
    if ports.iter().any(|port| port.published_port == 0) {
        return Err("a published port is required (assigning one is not supported yet): use PUBLISHED:TARGET or \
                    published=PUBLISHED,target=TARGET"
            .to_string());
    }
    Ok(ports)
}

/// Docker's `PortOpt`, published port 0 allowed (what `--publish-rm` takes). Long form when the value has a
/// `key=value` pair: `published=8080,target=80,protocol=tcp|udp|sctp,mode=ingress|host,name=web` (lowercased as
/// Docker does; `target` required). Otherwise `[IP:][PUBLISHED:]TARGET[/PROTOCOL]` with port ranges
/// (`8080-8081:80-81`); always ingress mode; an IP is checked, then ignored, as Docker does for services.
pub fn parse_port_spec(text: &str) -> Result<Vec<PortConfig>, String> {
    if has_key_value_pair(text) {
        parse_port_long(text).map(|port| vec![port])
    } else {
        parse_port_short(text)
    }
}

fn parse_port_long(text: &str) -> Result<PortConfig, String> {
    let mut port = PortConfig::default();
    for field in csv_fields(text)? {
        let lower = field.to_lowercase();
        let Some((key, value)) = lower.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(format!("invalid field: {field}"));
        };
        match key {
            "name" => port.name = value.to_string(),
            "mode" => {
                port.publish_mode = match value {
                    "ingress" => PublishMode::Ingress,
                    "host" => PublishMode::Host,
                    _ => {
                        return Err(format!("invalid publish mode value ({value}): must be either 'ingress' or 'host'"))
                    }
                }
            }
            "protocol" => {
                port.protocol = match value {
                    "tcp" => PortProtocol::Tcp,
                    "udp" => PortProtocol::Udp,
                    "sctp" => PortProtocol::Sctp,
                    _ => return Err(format!("invalid protocol value '{value}'")),
                }
            }
            "target" => port.target_port = parse_port_number(value)?,
            "published" => port.published_port = parse_port_number(value)?,
            _ => return Err(format!("invalid field key: {key}")),
        }
    }
    if port.target_port == 0 {
        return Err("missing mandatory field 'target'".to_string());
    }
    Ok(port)
}

fn parse_port_short(text: &str) -> Result<Vec<PortConfig>, String> {
    let (spec, protocol_text) = match text.split_once('/') {
        Some((spec, protocol)) if !protocol.is_empty() => (spec, protocol),
        Some((spec, _)) => (spec, "tcp"),
        None => (text, "tcp"),
    };
    let protocol = match protocol_text.to_ascii_lowercase().as_str() {
        "tcp" => PortProtocol::Tcp,
        "udp" => PortProtocol::Udp,
        "sctp" => PortProtocol::Sctp,
        _ => return Err(format!("invalid proto: {protocol_text}")),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [container] => (String::new(), "", *container),
        [host, container] => (String::new(), *host, *container),
        [ip @ .., host, container] => (ip.join(":"), *host, *container),
        [] => unreachable!("split yields at least one part"),
    };
    if !ip.is_empty() && ip.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {spec}<empty>"));
    }
    let (start, end) = parse_port_range(container).ok_or_else(|| format!("invalid containerPort: {container}"))?;
    let port = |target: u32, published: u32| PortConfig {
        protocol,
        target_port: target,
        published_port: published,
        ..PortConfig::default()
    };
    if host.is_empty() {
        return Ok((start..=end).map(|target| port(target, 0)).collect());
    }
    let (host_start, host_end) = parse_port_range(host).ok_or_else(|| format!("invalid hostPort: {host}"))?;
    if host_end - host_start == end - start {
        Ok((0..=end - start).map(|i| port(start + i, host_start + i)).collect())
    } else if start == end {
        Ok((host_start..=host_end).map(|published| port(start, published)).collect())
    } else {
        Err(format!("invalid ranges specified for container and host Ports: {container} and {host}"))
    }
}

/// `80` or `8000-8010`.
fn parse_port_range(text: &str) -> Option<(u32, u32)> {
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let (start, end) = (parse_port_number(start).ok()?, parse_port_number(end).ok()?);
    (start <= end).then_some((start, end))
}

/// Docker's `--mount` (long form only): `type=volume|bind|tmpfs` (default volume), `source`/`src`,
/// `target`/`destination`/`dst` (required), `readonly`/`ro` (bare, or with a Go boolean). Docker's other options
/// (`volume-nocopy`, `tmpfs-size`, `bind-propagation`, ...) are refused: the spec's `Mount` does not model them.
pub fn parse_mount(text: &str) -> Result<Mount, String> {
    const UNSUPPORTED: &[&str] = &[
        "consistency",
        "bind-propagation",
        "bind-nonrecursive",
        "bind-recursive",
        "volume-nocopy",
        "volume-label",
        "volume-driver",
        "volume-opt",
        "volume-subpath",
        "tmpfs-size",
        "tmpfs-mode",
        "image-subpath",
    ];
    let unsupported = |key: &str| format!("mount option '{key}' is not supported yet");
    let mut mount = Mount::default();
    let mut kind = Some(MountType::Volume);
    for field in csv_fields(text)? {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_ascii_lowercase(), Some(value)),
            None => (field.to_ascii_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("readonly" | "ro", None) => mount.read_only = true,
            ("readonly" | "ro", Some(value)) => {
                mount.read_only = parse_go_bool(value).ok_or_else(|| format!("invalid value for {key}: {value}"))?
            }
            (key, _) if UNSUPPORTED.contains(&key) => return Err(unsupported(key)),
            (_, None) => return Err(format!("invalid field '{field}' must be a key=value pair")),
            ("type", Some("")) => kind = None,
            ("type", Some(value)) => kind = Some(parse_keyword(&value.to_ascii_lowercase())?),
            ("source" | "src", Some(value)) => mount.source = value.to_string(),
            ("target" | "dst" | "destination", Some(value)) => mount.target = value.to_string(),
            (key, Some(_)) => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    mount.kind = kind.ok_or_else(|| "type is required".to_string())?;
    if mount.target.is_empty() {
        return Err("target is required".to_string());
    }
    Ok(mount)
}

/// Docker's `--network`/`--network-add`: a network name or id, or the long form `name=backend,alias=db` (fields
/// lowercased and trimmed as Docker does; `alias` repeatable). `driver-opt` and addresses are refused: the spec's
/// attachment does not model them. Names are not resolved to ids here.
pub fn parse_network(text: &str) -> Result<NetworkAttachmentConfig, String> {
    if !has_key_value_pair(text) {
        return Ok(NetworkAttachmentConfig::new(text));
    }
    let mut network = NetworkAttachmentConfig::default();
    for field in csv_fields(text)? {
        let lower = field.to_lowercase();
        let Some((key, value)) = lower.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "name" => network.target = value.to_string(),
            "alias" => network.aliases.push(value.to_string()),
            "driver-opt" | "ip" | "ip6" | "link-local-ip" => {
                return Err(format!("network option '{key}' is not supported yet"))
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if network.target.is_empty() {
        return Err("network name/id is not specified".to_string());
    }
    Ok(network)
}

// ---------------------------------------------------------------------------------------------------------------
// Tests

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};
    use swarm_core::spec::{
        FailureAction, ResolutionMode, RestartCondition, UpdateOrder, DEFAULT_STOP_GRACE_PERIOD_NS, SECOND_NS,
    };

    #[derive(Parser, Debug)]
    struct CreateCli {
        #[command(flatten)]
        flags: CreateFlags,
    }

    /// Wired as the service command wires it: the SERVICE positional beside the flattened flags.
    #[derive(Parser, Debug)]
    struct UpdateCli {
        #[command(flatten)]
        flags: UpdateFlags,
        service: String,
    }

    /// The test environment: `HOME=/root`, `TOKEN=secret`; nothing else is set.
    fn test_env(key: &str) -> Option<String> {
        match key {
            "HOME" => Some("/root".to_string()),
            "TOKEN" => Some("secret".to_string()),
            _ => None,
        }
    }

    fn create_flags(argv: &[&str]) -> CreateFlags {
        let argv = std::iter::once("create").chain(argv.iter().copied());
        CreateCli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}")).flags
    }

    fn create(argv: &[&str]) -> Result<ServiceSpec, String> {
        let flags = create_flags(argv);
        create_with_env(&flags, flags.image(), flags.command(), &test_env)
    }

    fn update(current: &ServiceSpec, argv: &[&str]) -> Result<ServiceSpec, String> {
        let argv = std::iter::once("update").chain(argv.iter().copied()).chain(["web"]);
        let flags = UpdateCli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}")).flags;
        update_with_env(current, &flags, &test_env)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clap_definitions_are_consistent() {
        CreateCli::command().debug_assert();
        UpdateCli::command().debug_assert();
        // Unknown flags before IMAGE are still errors; IMAGE is required.
        assert!(CreateCli::try_parse_from(["create", "--nmae", "x", "img"]).is_err());
        assert!(CreateCli::try_parse_from(["create", "--name", "x"]).is_err());
        // `service update` takes flags after SERVICE, as Docker does.
        let cli = UpdateCli::try_parse_from(["update", "web", "--replicas", "3", "-d"]).unwrap();
        assert_eq!(
            (cli.service.as_str(), cli.flags.shared.replicas.as_deref(), cli.flags.detach),
            ("web", Some("3"), true)
        );
        // Values may start with a hyphen, as pflag allows.
        let flags = create_flags(&["--name", "x", "--update-delay", "-1s", "-e", "-X=1", "img"]);
        assert_eq!(flags.shared.update_delay.as_deref(), Some("-1s"));
        assert_eq!(flags.env, strings(&["-X=1"]));
        assert_eq!(flags.image(), "img");
        let flags = create_flags(&["-d", "-q", "--with-registry-auth", "img", "a", "b"]);
        assert!(flags.detach && flags.quiet && flags.with_registry_auth);
        assert_eq!(flags.image_and_args(), ("img", &strings(&["a", "b"])[..]));
    }

    // --- parsers ------------------------------------------------------------------------------------------------

    #[test]
    fn durations_parse_like_go() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("0s", 0),
            ("300ms", 300_000_000),
            ("1.5s", 1_500_000_000),
            ("1m30s", 90 * SECOND_NS),
            ("2h", 7200 * SECOND_NS),
            ("1h2m3.5s", 3723 * SECOND_NS + 500_000_000),
            (".5s", 500_000_000),
            ("5.s", 5 * SECOND_NS),
            ("+5s", 5 * SECOND_NS),
            ("10ns", 10),
            ("1us", 1_000),
            ("1\u{b5}s", 1_000),
            ("1\u{3bc}s", 1_000),
            ("1.000000001s", 1_000_000_001),
            ("0.1234567891s", 123_456_789),
            ("2562047h", 2_562_047 * 3600 * SECOND_NS),
        ];
        for (text, expected) in good {
            assert_eq!(parse_duration(text), Ok(*expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("5x", r#"time: unknown unit "x" in duration "5x""#),
            ("5", r#"time: missing unit in duration "5""#),
            ("1h30", r#"time: missing unit in duration "1h30""#),
            ("1.2.3s", r#"time: missing unit in duration "1.2.3s""#),
            ("5 s", r#"time: unknown unit " s" in duration "5 s""#),
            ("", r#"time: invalid duration """#),
            ("s", r#"time: invalid duration "s""#),
            (".s", r#"time: invalid duration ".s""#),
            ("-", r#"time: invalid duration "-""#),
            ("3000000h", r#"time: invalid duration "3000000h""#),
            ("99999999999999999999s", r#"time: invalid duration "99999999999999999999s""#),
            ("-1s", "duration cannot be negative"),
            ("-1x", r#"time: unknown unit "x" in duration "-1x""#),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_duration(text), Err(expected.to_string()), "{text}");
        }
        assert_eq!(parse_duration_ns("1.5s", "--dispatcher-heartbeat"), Ok(1_500_000_000));
        assert_eq!(
            parse_duration_ns("5x", "--restart-delay"),
            Err(r#"invalid argument "5x" for "--restart-delay" flag: time: unknown unit "x" in duration "5x""#
                .to_string())
        );
    }

    #[test]
    fn memory_sizes_parse_like_rams_in_bytes() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("512", 512),
            ("512b", 512),
            ("512B", 512),
            ("64k", 64 << 10),
            ("64K", 64 << 10),
            ("64kb", 64 << 10),
            ("64KiB", 64 << 10),
            ("4m", 4 << 20),
            ("4MB", 4 << 20),
            ("1.5m", 3 << 19),
            ("1 g", 1 << 30),
            ("2t", 2 << 40),
            ("1p", 1 << 50),
            ("0.5k", 512),
            ("1.9", 1),
        ];
        for (text, expected) in good {
            assert_eq!(parse_memory_bytes(text), Ok(*expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("64x", "invalid suffix: 'x'"),
            ("64ki", "invalid suffix: 'ki'"),
            ("64kibb", "invalid suffix: 'kibb'"),
            ("1bb", "invalid suffix: 'bb'"),
            ("1e", "invalid suffix: 'e'"),
            ("", "invalid size: ''"),
            ("abc", "invalid size: 'abc'"),
            ("k", "invalid size: 'k'"),
            ("-1", "invalid size: '-1'"),
            ("1..5", r#"strconv.ParseFloat: parsing "1..5": invalid syntax"#),
            ("99999999999p", "invalid size: '99999999999p'"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_memory_bytes(text), Err(expected.to_string()), "{text}");
        }
    }

    #[test]
    fn cpus_parse_as_exact_rationals() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("0.5", 500_000_000),
            ("2", 2 * SECOND_NS),
            ("+2", 2 * SECOND_NS),
            ("0.001", 1_000_000),
            (".25", 250_000_000),
            ("1.", SECOND_NS),
            ("1/4", 250_000_000),
            ("1e-3", 1_000_000),
            ("1.5E1", 15 * SECOND_NS),
            ("0.000000001", 1),
            ("-0", 0),
        ];
        for (text, expected) in good {
            assert_eq!(parse_nano_cpus(text), Ok(*expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("x", "failed to parse x as a rational number"),
            ("", "failed to parse  as a rational number"),
            ("1/0", "failed to parse 1/0 as a rational number"),
            ("1.2.3", "failed to parse 1.2.3 as a rational number"),
            ("1e", "failed to parse 1e as a rational number"),
            ("0.0000000001", "value is too precise"),
            ("1/3", "value is too precise"),
            ("1e-100", "value is too precise"),
            ("1e100", "value out of range"),
            ("-1", "invalid cpu value -1: Must be at least 0.001"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_nano_cpus(text), Err(expected.to_string()), "{text}");
        }
    }

    #[test]
    fn integers_parse_like_go_with_base_prefixes() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("3", 3),
            ("0x10", 16),
            ("0X1f", 31),
            ("0o17", 15),
            ("017", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("18446744073709551615", u64::MAX),
        ];
        for (text, expected) in good {
            assert_eq!(parse_uint(text), Ok(*expected), "{text}");
        }
        for text in ["", "5x", "-1", "+1", "08", "0x", "1__0", "_1", "1_", " 1"] {
            let expected = format!("strconv.ParseUint: parsing {}: invalid syntax", quote(text));
            assert_eq!(parse_uint(text), Err(expected), "{text:?}");
        }
        assert_eq!(
            parse_uint("18446744073709551616"),
            Err(r#"strconv.ParseUint: parsing "18446744073709551616": value out of range"#.to_string())
        );
        assert_eq!(parse_int("-3"), Ok(-3));
        assert_eq!(parse_int("+0x10"), Ok(16));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_int("9223372036854775808"),
            Err(r#"strconv.ParseInt: parsing "9223372036854775808": value out of range"#.to_string())
        );
        assert_eq!(parse_int("x"), Err(r#"strconv.ParseInt: parsing "x": invalid syntax"#.to_string()));
    }

    #[test]
    fn shell_words_split_like_shlex() {
        let good: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ", &[]),
            ("sh -c 'echo hi'", &["sh", "-c", "echo hi"]),
            (r#"a "b c" d"#, &["a", "b c", "d"]),
            (r#"a\ b"#, &["a b"]),
            (r#""a \"q\" \$x""#, &[r#"a "q" $x"#]),
            (r#"'a\b'"#, &[r#"a\b"#]),
            ("''", &[""]),
            ("x'y'\"z\"", &["xyz"]),
            ("a\tb\nc", &["a", "b", "c"]),
            ("a # comment\nb", &["a", "b"]),
            ("a#b", &["a#b"]),
        ];
        for (text, expected) in good {
            assert_eq!(split_shell_words(text), Ok(strings(expected)), "{text:?}");
        }
        assert_eq!(split_shell_words("'open"), Err("EOF found when expecting closing quote".to_string()));
        assert_eq!(split_shell_words("\"open"), Err("EOF found when expecting closing quote".to_string()));
        assert_eq!(split_shell_words("end\\"), Err("EOF found after escape character".to_string()));
    }

    #[test]
    fn labels_parse_key_and_optional_value() {
        let good: &[(&str, (&str, &str))] = &[
            ("a=b", ("a", "b")),
            ("a", ("a", "")),
            ("a=", ("a", "")),
            ("a=b=c", ("a", "b=c")),
            ("  a=b c", ("a", "b c")),
            ("com.example.x=1", ("com.example.x", "1")),
        ];
        for (text, (key, value)) in good {
            assert_eq!(parse_label(text), Ok((key.to_string(), value.to_string())), "{text}");
        }
        assert_eq!(parse_label("=b"), Err("invalid label '=b': empty name".to_string()));
        assert_eq!(parse_label(""), Err("invalid label '': empty name".to_string()));
        assert_eq!(parse_label("a b=c"), Err("label 'a b' contains whitespaces".to_string()));
    }

    #[test]
    fn env_values_take_bare_keys_from_the_environment() {
        assert_eq!(parse_env("A=1", &test_env), Ok("A=1".to_string()));
        assert_eq!(parse_env("A=", &test_env), Ok("A=".to_string()));
        assert_eq!(parse_env("HOME", &test_env), Ok("HOME=/root".to_string()));
        assert_eq!(parse_env("UNSET", &test_env), Ok("UNSET".to_string()));
        assert_eq!(parse_env("=1", &test_env), Err("invalid environment variable: =1".to_string()));
    }

    #[test]
    fn env_files_parse_like_docker() {
        let contents = b"\xEF\xBB\xBF# a comment\n\nA=1\n   B= two  \r\nHOME\nUNSET\n\t# indented comment\nC=x=y\nD=";
        assert_eq!(parse_env_file(contents, &test_env), Ok(strings(&["A=1", "B= two  ", "HOME=/root", "C=x=y", "D="])));
        assert_eq!(parse_env_file(b"", &test_env), Ok(Vec::new()));
        let bad: &[(&[u8], &str)] = &[
            (b"A=1\nB C=2\n", "line 2: variable 'B C' contains whitespaces"),
            (b"A=1\n\nTRAILING \n", "line 3: variable 'TRAILING ' contains whitespaces"),
            (b"=x", "line 1: no variable name on line '=x'"),
            (b"A=1\nB=\xff\n", "line 2: invalid UTF-8"),
        ];
        for (contents, expected) in bad {
            assert_eq!(parse_env_file(contents, &test_env), Err(expected.to_string()));
        }
    }

    #[test]
    fn env_file_errors_name_flag_file_and_line() {
        let path = std::env::temp_dir().join(format!("swarm-service-flags-{}.env", std::process::id()));
        std::fs::write(&path, "A=1\nB C=2\n").unwrap();
        let path_text = path.to_str().unwrap().to_string();
        let error = read_env_file(&path_text, &test_env).unwrap_err();
        assert_eq!(
            error,
            format!(
                "invalid argument {path_text:?} for \"--env-file\" flag: line 2: variable 'B C' contains whitespaces"
            )
        );
        std::fs::write(&path, "A=1\nHOME\n").unwrap();
        assert_eq!(read_env_file(&path_text, &test_env), Ok(strings(&["A=1", "HOME=/root"])));
        std::fs::remove_file(&path).unwrap();
        let error = read_env_file(&path_text, &test_env).unwrap_err();
        assert!(
            error.starts_with(&format!("invalid argument {path_text:?} for \"--env-file\" flag: open ")),
            "{error}"
        );
    }

    fn port(published: u32, target: u32, protocol: PortProtocol, mode: PublishMode) -> PortConfig {
        PortConfig {
            published_port: published,
            target_port: target,
            protocol,
            publish_mode: mode,
            ..PortConfig::default()
        }
    }

    #[test]
    fn publish_short_and_long_forms() {
        use PortProtocol::{Sctp, Tcp, Udp};
        use PublishMode::{Host, Ingress};
        // `parse_port_spec` (what `--publish-rm` takes) keeps Docker's modes: ingress unless `mode=host`.
        let good: &[(&str, &[PortConfig])] = &[
            ("8080:80", &[port(8080, 80, Tcp, Ingress)]),
            ("8080:80/udp", &[port(8080, 80, Udp, Ingress)]),
            ("8080:80/UDP", &[port(8080, 80, Udp, Ingress)]),
            ("8080:80/sctp", &[port(8080, 80, Sctp, Ingress)]),
            ("8080:80/", &[port(8080, 80, Tcp, Ingress)]),
            ("0.0.0.0:8080:80", &[port(8080, 80, Tcp, Ingress)]),
            ("[::1]:8080:80", &[port(8080, 80, Tcp, Ingress)]),
            ("8080-8081:80-81", &[port(8080, 80, Tcp, Ingress), port(8081, 81, Tcp, Ingress)]),
            ("8080-8081:80", &[port(8080, 80, Tcp, Ingress), port(8081, 80, Tcp, Ingress)]),
            ("published=8080,target=80", &[port(8080, 80, Tcp, Ingress)]),
            ("published=8080,target=80,mode=ingress", &[port(8080, 80, Tcp, Ingress)]),
            ("published=8080,target=80,protocol=udp,mode=host", &[port(8080, 80, Udp, Host)]),
            ("Target=80,Published=53,Protocol=UDP,Mode=INGRESS", &[port(53, 80, Udp, Ingress)]),
        ];
        for (text, expected) in good {
            assert_eq!(parse_port_spec(text), Ok(expected.to_vec()), "{text}");
            // `parse_publish` (`-p`, `--publish-add`) parses the same ports but records each in host mode, whatever
            // mode was asked for: there is no routing mesh yet.
            let host: Vec<PortConfig> =
                expected.iter().map(|p| port(p.published_port, p.target_port, p.protocol, Host)).collect();
            assert_eq!(parse_publish(text), Ok(host), "{text}");
        }
        assert_eq!(parse_publish("8080:80"), Ok(vec![port(8080, 80, Tcp, Host)]));
        let named = parse_publish("name=Web,published=8080,target=80").unwrap();
        assert_eq!(named[0].name, "web", "Docker lowercases the whole long form");

        let target_only = parse_publish("80").unwrap_err();
        assert!(target_only.starts_with("a published port is required"), "{target_only}");
        assert_eq!(parse_publish("target=80,mode=host").unwrap_err(), target_only);
        assert_eq!(parse_port_spec("80"), Ok(vec![port(0, 80, Tcp, Ingress)]));
        assert_eq!(parse_port_spec("80-81/udp"), Ok(vec![port(0, 80, Udp, Ingress), port(0, 81, Udp, Ingress)]));

        let bad: &[(&str, &str)] = &[
            ("8080:80/foo", "invalid proto: foo"),
            ("8080:http", "invalid containerPort: http"),
            ("x:80", "invalid hostPort: x"),
            ("8080:70000", "invalid containerPort: 70000"),
            ("8080:81-80", "invalid containerPort: 81-80"),
            ("8080-8082:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8080-8082"),
            ("8080:", "no port specified: 8080:<empty>"),
            ("bogus:8080:80", "invalid IP address: bogus"),
            ("published=8080", "missing mandatory field 'target'"),
            ("published=8080,target=x", r#"strconv.ParseUint: parsing "x": invalid syntax"#),
            ("published=70000,target=80", r#"strconv.ParseUint: parsing "70000": value out of range"#),
            ("target=80,protocol=icmp", "invalid protocol value 'icmp'"),
            ("target=80,mode=vip", "invalid publish mode value (vip): must be either 'ingress' or 'host'"),
            ("target=80,color=red", "invalid field key: color"),
            ("target=80,published", "invalid field: published"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_publish(text), Err(expected.to_string()), "{text}");
        }
    }

    fn mount(kind: MountType, source: &str, target: &str, read_only: bool) -> Mount {
        Mount { kind, source: source.to_string(), target: target.to_string(), read_only }
    }

    #[test]
    fn mounts_parse_the_long_form() {
        use MountType::{Bind, Tmpfs, Volume};
        let good: &[(&str, Mount)] = &[
            ("type=volume,source=data,target=/data", mount(Volume, "data", "/data", false)),
            ("source=data,target=/data", mount(Volume, "data", "/data", false)),
            ("type=bind,src=/host,dst=/ctr,readonly", mount(Bind, "/host", "/ctr", true)),
            ("type=bind,src=/host,destination=/ctr,ro=true", mount(Bind, "/host", "/ctr", true)),
            ("type=bind,src=/host,target=/ctr,readonly=0", mount(Bind, "/host", "/ctr", false)),
            ("Type=TMPFS,Target=/tmp", mount(Tmpfs, "", "/tmp", false)),
            ("type=volume,target=/cache", mount(Volume, "", "/cache", false)),
            (r#""source=a,b",target=/x"#, mount(Volume, "a,b", "/x", false)),
        ];
        for (text, expected) in good {
            assert_eq!(parse_mount(text).as_ref(), Ok(expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("type=volume,source=data", "target is required"),
            ("type=,target=/x", "type is required"),
            ("type=npipe,target=/x", "expected one of volume, bind, tmpfs"),
            ("target=/x,readonly=maybe", "invalid value for readonly: maybe"),
            ("target=/x,volume-nocopy", "mount option 'volume-nocopy' is not supported yet"),
            ("target=/x,tmpfs-size=1m", "mount option 'tmpfs-size' is not supported yet"),
            ("target=/x,bind-propagation=rprivate", "mount option 'bind-propagation' is not supported yet"),
            ("target=/x,color=red", "unexpected key 'color' in 'color=red'"),
            ("target=/x,shiny", "invalid field 'shiny' must be a key=value pair"),
            ("/host:/ctr", "invalid field '/host:/ctr' must be a key=value pair"),
            ("", "EOF"),
            ("target=/x\"y", "bare \" in non-quoted-field"),
            ("\"target=/x", "extraneous or missing \" in quoted-field"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_mount(text), Err(expected.to_string()), "{text}");
        }
    }

    #[test]
    fn networks_parse_names_and_the_long_form() {
        assert_eq!(parse_network("backend"), Ok(NetworkAttachmentConfig::new("backend")));
        assert_eq!(parse_network("my-net"), Ok(NetworkAttachmentConfig::new("my-net")));
        assert_eq!(
            parse_network("name=backend,alias=db,alias=primary"),
            Ok(NetworkAttachmentConfig { target: "backend".into(), aliases: strings(&["db", "primary"]) })
        );
        assert_eq!(parse_network("alias=db"), Err("network name/id is not specified".to_string()));
        assert_eq!(parse_network("name=a,color=red"), Err("invalid field key color".to_string()));
        assert_eq!(
            parse_network("name=a,driver-opt=x=y"),
            Err("network option 'driver-opt' is not supported yet".into())
        );
    }

    #[test]
    fn placement_prefs_use_docker_wording() {
        assert_eq!(
            parse_placement_pref("spread=node.labels.zone"),
            Ok(PlacementPreference::Spread { spread_descriptor: "node.labels.zone".into() })
        );
        assert_eq!(
            parse_placement_pref("node.labels.zone"),
            Err(r#"placement preference must be of the format "<strategy>=<arg>""#.to_string())
        );
        assert_eq!(
            parse_placement_pref("pack=node.labels.zone"),
            Err("unsupported placement preference pack (only spread is supported)".to_string())
        );
    }

    // --- create -------------------------------------------------------------------------------------------------

    #[test]
    fn create_round_trip() {
        let spec = create(&[
            "--name",
            "web",
            "--replicas",
            "3",
            "-p",
            "8080:80",
            "--env",
            "A=1",
            "--constraint",
            "node.role==manager",
            "--update-order",
            "start-first",
            "nginx:1.25",
        ])
        .unwrap();
        let mut expected = ServiceSpec::replicated("web", "nginx:1.25", 3);
        // `-p` records the port in host mode (no routing mesh yet), not `PortConfig::tcp`'s ingress default.
        expected.endpoint_spec.ports = vec![port(8080, 80, PortProtocol::Tcp, PublishMode::Host)];
        expected.task_template.container_spec.env = strings(&["A=1"]);
        expected.task_template.placement.constraints = strings(&["node.role==manager"]);
        expected.update_config.as_mut().unwrap().order = UpdateOrder::StartFirst;
        assert_eq!(spec, expected);
    }

    #[test]
    fn create_defaults_match_docker() {
        let spec = create(&["--name", "web", "nginx"]).unwrap();
        assert_eq!(spec, ServiceSpec::replicated("web", "nginx", 1));
        assert_eq!(spec.task_template.container_spec.stop_grace_period_ns, DEFAULT_STOP_GRACE_PERIOD_NS);
        assert_eq!(spec.task_template.container_spec.healthcheck, None);
        assert_eq!(create(&["--name", "g", "--mode", "global", "nginx"]).unwrap(), ServiceSpec::global("g", "nginx"));
        assert_eq!(
            create(&["--name", "j", "--mode", "replicated-job", "--replicas", "5", "busybox"]).unwrap(),
            ServiceSpec::replicated_job("j", "busybox", 5, 5)
        );
        assert_eq!(
            create(&["--name", "j", "--mode", "replicated-job", "--max-concurrent", "2", "--replicas", "6", "busybox"])
                .unwrap(),
            ServiceSpec::replicated_job("j", "busybox", 2, 6)
        );
        assert_eq!(
            create(&["--name", "gj", "--mode", "global-job", "busybox"]).unwrap(),
            ServiceSpec::global_job("gj", "busybox")
        );
    }

    #[test]
    fn create_takes_command_and_args_verbatim() {
        let spec = create(&["--name", "x", "img", "sh", "-c", "echo hi"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["sh", "-c", "echo hi"]));
        assert!(spec.task_template.container_spec.command.is_empty());
        // Flags after IMAGE belong to the command, as with Docker.
        let spec = create(&["--name", "x", "img", "app", "--replicas", "3"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["app", "--replicas", "3"]));
        assert_eq!(spec.mode, ServiceMode::Replicated { replicas: 1 });
        let spec = create(&["--name", "x", "img", "-d", "--", "x"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["-d", "--", "x"]));
        let spec = create(&["--name", "x", "--", "img", "--help"]).unwrap();
        assert_eq!(spec.task_template.container_spec.args, strings(&["--help"]));
        let spec = create(&["--name", "x", "--entrypoint", "/bin/sh -c", "img", "echo hi"]).unwrap();
        assert_eq!(spec.task_template.container_spec.command, strings(&["/bin/sh", "-c"]));
        assert_eq!(spec.task_template.container_spec.args, strings(&["echo hi"]));
    }

    #[test]
    fn create_maps_every_modelled_flag() {
        let spec = create(&[
            "--name=api",
            "-l",
            "tier=backend",
            "--label",
            "owner",
            "--container-label",
            "c=1",
            "-e",
            "HOME",
            "-e",
            "UNSET",
            "--placement-pref",
            "spread=node.labels.zone",
            "--replicas-max-per-node",
            "2",
            "--reserve-cpu",
            "0.25",
            "--reserve-memory",
            "64m",
            "--limit-cpu",
            "1.5",
            "--limit-memory",
            "1g",
            "--restart-condition",
            "on-failure",
            "--restart-delay",
            "10s",
            "--restart-max-attempts",
            "3",
            "--restart-window",
            "1m",
            "--update-parallelism",
            "2",
            "--update-delay",
            "5s",
            "--update-failure-action",
            "rollback",
            "--update-monitor",
            "30s",
            "--update-max-failure-ratio",
            "0.25",
            "--rollback-parallelism",
            "0",
            "--rollback-delay",
            "1s",
            "--rollback-failure-action",
            "continue",
            "--rollback-monitor",
            "2s",
            "--rollback-max-failure-ratio",
            "0.5",
            "--rollback-order",
            "start-first",
            "-p",
            "published=53,target=53,protocol=udp,mode=host",
            "--stop-grace-period",
            "30s",
            "--hostname",
            "api-host",
            "--mount",
            "type=volume,source=data,target=/data",
            "--mount",
            "type=tmpfs,target=/tmp",
            "--health-cmd",
            "curl -f http://localhost/",
            "--health-interval",
            "10s",
            "--health-timeout",
            "2s",
            "--health-retries",
            "4",
            "--health-start-period",
            "1m",
            "-u",
            "1000:1000",
            "-w",
            "/srv",
            "--network",
            "zeta",
            "--network",
            "name=alpha,alias=db",
            "--endpoint-mode",
            "DNSRR",
            "-d",
            "-q",
            "--with-registry-auth",
            "registry.example.com:5000/team/api:v2",
        ])
        .unwrap();

        assert_eq!(spec.name, "api");
        assert_eq!(spec.labels, BTreeMap::from([("owner".into(), String::new()), ("tier".into(), "backend".into())]));
        let task = &spec.task_template;
        let container = &task.container_spec;
        assert_eq!(container.image, "registry.example.com:5000/team/api:v2");
        assert_eq!(container.labels, BTreeMap::from([("c".into(), "1".into())]));
        assert_eq!(container.env, strings(&["HOME=/root", "UNSET"]));
        assert_eq!(container.hostname, "api-host");
        assert_eq!(container.user, "1000:1000");
        assert_eq!(container.dir, "/srv");
        assert_eq!(container.stop_grace_period_ns, 30 * SECOND_NS);
        assert_eq!(
            container.mounts,
            vec![mount(MountType::Volume, "data", "/data", false), mount(MountType::Tmpfs, "", "/tmp", false)]
        );
        assert_eq!(
            container.healthcheck,
            Some(HealthConfig {
                test: strings(&["CMD-SHELL", "curl -f http://localhost/"]),
                interval_ns: 10 * SECOND_NS,
                timeout_ns: 2 * SECOND_NS,
                retries: 4,
                start_period_ns: 60 * SECOND_NS,
            })
        );
        assert_eq!(task.resources.reservations.nano_cpus, 250_000_000);
        assert_eq!(task.resources.reservations.memory_bytes, 64 << 20);
        assert_eq!(task.resources.limits.nano_cpus, 1_500_000_000);
        assert_eq!(task.resources.limits.memory_bytes, 1 << 30);
        assert_eq!(task.restart_policy.condition, RestartCondition::OnFailure);
        assert_eq!(task.restart_policy.delay_ns, 10 * SECOND_NS);
        assert_eq!(task.restart_policy.max_attempts, 3);
        assert_eq!(task.restart_policy.window_ns, 60 * SECOND_NS);
        assert_eq!(task.placement.max_replicas, 2);
        assert_eq!(task.placement.preferences, vec![parse_placement_pref("spread=node.labels.zone").unwrap()]);
        assert_eq!(
            task.networks,
            vec![
                NetworkAttachmentConfig { target: "alpha".into(), aliases: strings(&["db"]) },
                NetworkAttachmentConfig::new("zeta")
            ]
        );
        let update = spec.update_config.as_ref().unwrap();
        assert_eq!(
            (update.parallelism, update.delay_ns, update.failure_action, update.monitor_ns, update.order),
            (2, 5 * SECOND_NS, FailureAction::Rollback, 30 * SECOND_NS, UpdateOrder::StopFirst)
        );
        assert_eq!(update.max_failure_ratio, FailureRatio(0.25));
        let rollback = spec.rollback_config.as_ref().unwrap();
        assert_eq!(
            (rollback.parallelism, rollback.delay_ns, rollback.failure_action, rollback.monitor_ns, rollback.order),
            (0, SECOND_NS, FailureAction::Continue, 2 * SECOND_NS, UpdateOrder::StartFirst)
        );
        assert_eq!(rollback.max_failure_ratio, FailureRatio(0.5));
        assert_eq!(spec.endpoint_spec.mode, ResolutionMode::Dnsrr);
        assert_eq!(spec.endpoint_spec.ports, vec![port(53, 53, PortProtocol::Udp, PublishMode::Host)]);
    }

    #[test]
    fn create_env_files_come_before_env_and_later_keys_win() {
        let path = std::env::temp_dir().join(format!("swarm-service-flags-create-{}.env", std::process::id()));
        std::fs::write(&path, "A=file\nB=file\nTOKEN\n").unwrap();
        let path_text = path.to_str().unwrap();
        let spec = create(&["--name", "x", "--env-file", path_text, "-e", "A=flag", "-e", "C=3", "img"]);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            spec.unwrap().task_template.container_spec.env,
            strings(&["B=file", "TOKEN=secret", "A=flag", "C=3"])
        );
    }

    #[test]
    fn create_healthcheck_flags() {
        let health = |argv: &[&str]| {
            let mut full = vec!["--name", "x"];
            full.extend_from_slice(argv);
            full.push("img");
            create(&full).map(|spec| spec.task_template.container_spec.healthcheck)
        };
        assert_eq!(
            health(&["--no-healthcheck"]),
            Ok(Some(HealthConfig { test: strings(&["NONE"]), ..HealthConfig::default() }))
        );
        assert_eq!(
            health(&["--no-healthcheck", "--health-retries", "3"]),
            Err("--no-healthcheck conflicts with --health-* options".to_string())
        );
        assert_eq!(health(&["--health-cmd", ""]), Ok(None));
        assert_eq!(
            health(&["--health-interval", "5s"]),
            Ok(Some(HealthConfig { interval_ns: 5 * SECOND_NS, ..HealthConfig::default() }))
        );
        assert_eq!(
            health(&["--health-retries", "-1"]),
            Err(r#"invalid argument "-1" for "--health-retries" flag: Retries in Healthcheck cannot be negative"#
                .to_string())
        );
        assert_eq!(
            health(&["--health-interval", "-1s"]),
            Err(r#"invalid argument "-1s" for "--health-interval" flag: duration cannot be negative"#.to_string())
        );
    }

    #[test]
    fn create_errors_name_the_flag_and_value() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--restart-delay", "5x"],
                r#"invalid argument "5x" for "--restart-delay" flag: time: unknown unit "x" in duration "5x""#,
            ),
            (
                &["--replicas", "three"],
                r#"invalid argument "three" for "--replicas" flag: strconv.ParseUint: parsing "three": invalid syntax"#,
            ),
            (&["--limit-memory", "1x"], r#"invalid argument "1x" for "--limit-memory" flag: invalid suffix: 'x'"#),
            (
                &["--reserve-cpu", "lots"],
                r#"invalid argument "lots" for "--reserve-cpu" flag: failed to parse lots as a rational number"#,
            ),
            (
                &["--update-max-failure-ratio", "half"],
                r#"invalid argument "half" for "--update-max-failure-ratio" flag: strconv.ParseFloat: parsing "half": invalid syntax"#,
            ),
            (
                &["--restart-condition", "always"],
                r#"invalid argument "always" for "--restart-condition" flag: expected one of none, on-failure, any"#,
            ),
            (
                &["--update-order", "random"],
                r#"invalid argument "random" for "--update-order" flag: expected one of stop-first, start-first"#,
            ),
            (
                &["--rollback-failure-action", "explode"],
                r#"invalid argument "explode" for "--rollback-failure-action" flag: expected one of pause, continue, rollback"#,
            ),
            (
                &["--endpoint-mode", "anycast"],
                r#"invalid argument "anycast" for "--endpoint-mode" flag: expected one of vip, dnsrr"#,
            ),
            (&["-e", "=1"], r#"invalid argument "=1" for "-e, --env" flag: invalid environment variable: =1"#),
            (&["-l", "a b"], r#"invalid argument "a b" for "-l, --label" flag: label 'a b' contains whitespaces"#),
            (&["-p", "8080:80/foo"], r#"invalid argument "8080:80/foo" for "-p, --publish" flag: invalid proto: foo"#),
            (&["--mount", "type=bind"], r#"invalid argument "type=bind" for "--mount" flag: target is required"#),
            (
                &["--entrypoint", "'sh"],
                r#"invalid argument "'sh" for "--entrypoint" flag: EOF found when expecting closing quote"#,
            ),
            (
                &["--placement-pref", "zone"],
                r#"invalid argument "zone" for "--placement-pref" flag: placement preference must be of the format "<strategy>=<arg>""#,
            ),
            // Mode checks, in Docker's (and core's) wording.
            (
                &["--mode", "global", "--replicas", "2"],
                "replicas can only be used with replicated or replicated-job mode",
            ),
            (&["--max-concurrent", "2"], "max-concurrent can only be used with replicated-job mode"),
            (
                &["--mode", "global", "--replicas-max-per-node", "1"],
                "replicas-max-per-node can only be used with replicated or replicated-job mode",
            ),
            (&["--mode", "daemonset"], "Unknown mode: daemonset, only replicated and global supported"),
            (&["--mode", "replicated-job", "--update-delay", "1s"], "Jobs may not have an update config"),
            // Spec validation.
            (&["--constraint", "node.role=manager"], r#"invalid constraint "node.role=manager": expected == or !="#),
            (&["--rollback-failure-action", "rollback"], SpecError::RollbackOnRollbackFailure.to_string().leak()),
            (
                &["--update-max-failure-ratio", "1.5"],
                "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
            ),
            (&["--reserve-memory", "1k"], "invalid memory value 1024: Must be at least 4MiB"),
            (&["-p", "8080:80", "-p", "8080:81"], "EndpointSpec: duplicate published ports provided: 8080/tcp"),
            (
                &["--mount", "type=bind,target=/x"],
                r#"invalid mount config for type "bind": field Source must not be empty"#,
            ),
            // No create case for "port published with ingress mode can't be used with dnsrr mode": `-p` records
            // every port in host mode, so create cannot produce an ingress port.
        ];
        for (argv, expected) in cases {
            let mut full = vec!["--name", "x"];
            full.extend_from_slice(argv);
            full.push("img");
            assert_eq!(create(&full), Err(expected.to_string()), "{argv:?}");
        }
        // dnsrr with a published port is accepted, even when ingress mode is asked for: the port is bound in host mode.
        for publish in ["80:80", "published=80,target=80,mode=ingress"] {
            let spec = create(&["--name", "x", "--endpoint-mode", "dnsrr", "-p", publish, "img"]).unwrap();
            assert_eq!(spec.endpoint_spec.mode, ResolutionMode::Dnsrr, "{publish}");
            assert_eq!(spec.endpoint_spec.ports, vec![port(80, 80, PortProtocol::Tcp, PublishMode::Host)], "{publish}");
        }
        // Without --name the spec goes unnamed (the daemon generates a name); the rest is still checked.
        assert_eq!(create(&["img"]).map(|spec| spec.name), Ok(String::new()));
        assert_eq!(
            create(&["--reserve-memory", "1k", "img"]),
            Err("invalid memory value 1024: Must be at least 4MiB".into())
        );
        assert_eq!(
            create(&["--name", "x", "Not_An_Image!"]),
            Err(r#"ContainerSpec: "Not_An_Image!" is not a valid repository/tag"#.to_string())
        );
    }

    #[test]
    fn spec_from_create_uses_the_given_image_and_args() {
        let flags = create_flags(&["--name", "x", "ignored-image"]);
        let spec = spec_from_create(&flags, "nginx", &strings(&["a"])).unwrap();
        assert_eq!(spec.task_template.container_spec.image, "nginx");
        assert_eq!(spec.task_template.container_spec.args, strings(&["a"]));
    }

    // --- update -------------------------------------------------------------------------------------------------

    fn web() -> ServiceSpec {
        let mut spec = ServiceSpec::replicated("web", "nginx:1.25", 2);
        spec.task_template.container_spec.env = strings(&["A=1", "B=2"]);
        spec
    }

    #[test]
    fn update_env_add_and_rm() {
        let spec = update(&web(), &["--env-add", "A=2", "--env-rm", "B"]).unwrap();
        assert_eq!(spec.task_template.container_spec.env, strings(&["A=2"]));
        let mut expected = web();
        expected.task_template.container_spec.env = strings(&["A=2"]);
        assert_eq!(spec, expected, "nothing else changes");

        let spec = update(&web(), &["--env-add", "C=3", "--env-add", "HOME", "--env-rm", "A=1"]).unwrap();
        assert_eq!(spec.task_template.container_spec.env, strings(&["A=1", "B=2", "C=3", "HOME=/root"]));
    }

    #[test]
    fn update_without_flags_changes_nothing() {
        assert_eq!(update(&web(), &[]), Ok(web()));
        assert_eq!(update(&web(), &["-d", "-q", "--with-registry-auth"]), Ok(web()));
    }

    #[test]
    fn update_scalar_flags() {
        let spec = update(
            &web(),
            &[
                "--image",
                "nginx:1.26",
                "--replicas",
                "5",
                "--args",
                "-g 'daemon off;'",
                "--entrypoint",
                "",
                "--limit-memory",
                "256m",
                "--update-parallelism",
                "3",
                "--rollback-monitor",
                "1m",
                "--restart-condition",
                "none",
                "--stop-grace-period",
                "1m30s",
                "--user",
                "nobody",
            ],
        )
        .unwrap();
        let mut expected = web();
        expected.mode = ServiceMode::Replicated { replicas: 5 };
        let container = &mut expected.task_template.container_spec;
        container.image = "nginx:1.26".into();
        container.args = strings(&["-g", "daemon off;"]);
        container.stop_grace_period_ns = 90 * SECOND_NS;
        container.user = "nobody".into();
        expected.task_template.resources.limits.memory_bytes = 256 << 20;
        expected.task_template.restart_policy.condition = RestartCondition::None;
        expected.update_config.as_mut().unwrap().parallelism = 3;
        expected.rollback_config.as_mut().unwrap().monitor_ns = 60 * SECOND_NS;
        assert_eq!(spec, expected);
    }

    #[test]
    fn update_configs_start_from_defaults_when_unset() {
        let mut current = web();
        current.update_config = None;
        current.rollback_config = None;
        let spec = update(&current, &["--update-delay", "10s"]).unwrap();
        assert_eq!(spec.update_config, Some(UpdateConfig { delay_ns: 10 * SECOND_NS, ..UpdateConfig::default() }));
        assert_eq!(spec.rollback_config, None);
    }

    #[test]
    fn update_mode_flags() {
        let job = ServiceSpec::replicated_job("j", "busybox", 1, 4);
        assert_eq!(
            update(&job, &["--replicas", "10", "--max-concurrent", "3"]).unwrap().mode,
            ServiceMode::ReplicatedJob { max_concurrent: 3, total_completions: 10 }
        );
        let global = ServiceSpec::global("g", "nginx");
        assert_eq!(
            update(&global, &["--replicas", "2"]),
            Err("replicas can only be used with replicated or replicated-job mode".to_string())
        );
        assert_eq!(
            update(&web(), &["--max-concurrent", "2"]),
            Err("max-concurrent can only be used with replicated-job mode".to_string())
        );
        assert_eq!(
            update(&global, &["--replicas-max-per-node", "1"]),
            Err("replicas-max-per-node can only be used with replicated or replicated-job mode".to_string())
        );
        assert_eq!(update(&job, &["--update-delay", "1s"]), Err("Jobs may not have an update config".to_string()));
    }

    #[test]
    fn update_labels_rm_then_add() {
        let mut current = web();
        current.labels = BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]);
        current.task_template.container_spec.labels = BTreeMap::from([("c".into(), "3".into())]);
        let spec = update(
            &current,
            &[
                "--label-rm",
                "a",
                "--label-add",
                "b=20",
                "--label-add",
                "d",
                "--container-label-rm",
                "c",
                "--container-label-add",
                "e=5",
            ],
        )
        .unwrap();
        assert_eq!(spec.labels, BTreeMap::from([("b".into(), "20".into()), ("d".into(), String::new())]));
        assert_eq!(spec.task_template.container_spec.labels, BTreeMap::from([("e".into(), "5".into())]));
        // Removing and re-adding the same key keeps the new value.
        let spec = update(&current, &["--label-rm", "a", "--label-add", "a=9"]).unwrap();
        assert_eq!(spec.labels["a"], "9");
    }

    #[test]
    fn update_placement() {
        let mut current = web();
        current.task_template.placement.constraints = strings(&["node.role==worker", "node.labels.zone==a"]);
        current.task_template.placement.preferences = vec![parse_placement_pref("spread=node.labels.zone").unwrap()];
        let spec = update(
            &current,
            &[
                "--constraint-add",
                "node.labels.disk==ssd",
                "--constraint-rm",
                "node.role==worker",
                "--placement-pref-rm",
                "spread=node.labels.zone",
                "--placement-pref-add",
                "spread=node.labels.rack",
            ],
        )
        .unwrap();
        assert_eq!(
            spec.task_template.placement.constraints,
            strings(&["node.labels.zone==a", "node.labels.disk==ssd"])
        );
        assert_eq!(
            spec.task_template.placement.preferences,
            vec![parse_placement_pref("spread=node.labels.rack").unwrap()]
        );
        // Docker applies constraint additions before removals.
        let spec = update(&current, &["--constraint-add", "node.id==x1", "--constraint-rm", "node.id==x1"]).unwrap();
        assert_eq!(spec.task_template.placement.constraints, current.task_template.placement.constraints);
    }

    #[test]
    fn update_ports() {
        use PortProtocol::{Tcp, Udp};
        use PublishMode::{Host, Ingress};
        // Ports added with `-p` are in host mode; `--publish-rm` (ingress by default) still removes them, since
        // removal matches target port and protocol only, whatever the mode.
        let created = create(&["--name", "web", "-p", "8080:80", "-p", "5353:53/udp", "nginx:1.25"]).unwrap();
        assert_eq!(created.endpoint_spec.ports, vec![port(8080, 80, Tcp, Host), port(5353, 53, Udp, Host)]);
        let sorted = vec![port(5353, 53, Udp, Host), port(8080, 80, Tcp, Host)];
        for removal in ["80", "8080:80", "80/tcp", "target=80", "target=80,mode=ingress", "target=80,mode=host"] {
            let spec = update(&created, &["--publish-rm", removal]).unwrap();
            assert_eq!(spec.endpoint_spec.ports, vec![port(5353, 53, Udp, Host)], "{removal}");
        }
        for removal in ["80/udp", "81", "53"] {
            let spec = update(&created, &["--publish-rm", removal]).unwrap();
            assert_eq!(spec.endpoint_spec.ports, sorted, "{removal}");
        }

        // `--publish-add` records host mode too, even for `mode=ingress`; removals apply to the current ports only.
        let spec = update(
            &created,
            &[
                "--publish-rm",
                "80",
                "--publish-add",
                "8443:443",
                "--publish-rm",
                "53/udp",
                "--publish-add",
                "published=7000,target=70,mode=ingress",
            ],
        )
        .unwrap();
        assert_eq!(spec.endpoint_spec.ports, vec![port(7000, 70, Tcp, Host), port(8443, 443, Tcp, Host)]);

        // An ingress-mode port (from before host mode, or set through the API) is removed the same way.
        let mut current = created.clone();
        current.endpoint_spec.ports.push(port(9000, 90, Tcp, Ingress));
        for removal in ["90", "target=90,mode=host"] {
            let spec = update(&current, &["--publish-rm", removal]).unwrap();
            assert_eq!(spec.endpoint_spec.ports, sorted, "{removal}");
        }

        // Adding a port the service already has is a no-op; ports sort as "published:target/protocol/mode".
        let spec = update(&current, &["--publish-add", "8080:80", "--publish-add", "10000:100"]).unwrap();
        let keys: Vec<String> = spec.endpoint_spec.ports.iter().map(port_key).collect();
        assert_eq!(
            keys,
            strings(&["10000:100/tcp/host", "5353:53/udp/host", "8080:80/tcp/host", "9000:90/tcp/ingress"])
        );
        assert_eq!(
            update(&current, &["--publish-add", "8080:81"]),
            Err("EndpointSpec: duplicate published ports provided: 8080/tcp".to_string())
        );
        assert!(update(&current, &["--publish-add", "81"])
            .unwrap_err()
            .starts_with(r#"invalid argument "81" for "--publish-add" flag: a published port is required"#));
    }

    #[test]
    fn update_mounts() {
        let mut current = web();
        current.task_template.container_spec.mounts =
            vec![mount(MountType::Volume, "data", "/data", false), mount(MountType::Volume, "logs", "/logs", false)];
        let spec = update(
            &current,
            &[
                "--mount-add",
                "type=volume,source=data2,target=/data",
                "--mount-add",
                "type=tmpfs,target=/tmp",
                "--mount-rm",
                "/logs",
            ],
        )
        .unwrap();
        assert_eq!(
            spec.task_template.container_spec.mounts,
            vec![mount(MountType::Tmpfs, "", "/tmp", false), mount(MountType::Volume, "data2", "/data", false)]
        );
        assert_eq!(
            update(&current, &["--mount-add", "target=/x", "--mount-add", "source=y,target=/x"]),
            Err("duplicate mount target".to_string())
        );
    }

    #[test]
    fn update_networks() {
        let mut current = web();
        current.task_template.networks =
            vec![NetworkAttachmentConfig::new("front"), NetworkAttachmentConfig::new("mid")];
        let spec = update(&current, &["--network-rm", "front", "--network-add", "back"]).unwrap();
        assert_eq!(
            spec.task_template.networks,
            vec![NetworkAttachmentConfig::new("back"), NetworkAttachmentConfig::new("mid")]
        );
        assert_eq!(
            update(&current, &["--network-add", "mid"]),
            Err("service is already attached to network mid".to_string())
        );
    }

    #[test]
    fn update_healthcheck() {
        let mut current = web();
        current.task_template.container_spec.healthcheck =
            Some(HealthConfig { test: strings(&["NONE"]), ..HealthConfig::default() });
        let spec = update(&current, &["--health-interval", "3s"]).unwrap();
        assert_eq!(
            spec.task_template.container_spec.healthcheck,
            Some(HealthConfig { interval_ns: 3 * SECOND_NS, ..HealthConfig::default() }),
            "a NONE test is cleared by any health setting"
        );
        let spec = update(&spec, &["--health-cmd", "true"]).unwrap();
        assert_eq!(
            spec.task_template.container_spec.healthcheck,
            Some(HealthConfig {
                test: strings(&["CMD-SHELL", "true"]),
                interval_ns: 3 * SECOND_NS,
                ..HealthConfig::default()
            })
        );
        let spec = update(&spec, &["--no-healthcheck"]).unwrap();
        assert_eq!(spec.task_template.container_spec.healthcheck, current.task_template.container_spec.healthcheck);
    }

    #[test]
    fn update_errors_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--update-delay", "soon"],
                r#"invalid argument "soon" for "--update-delay" flag: time: invalid duration "soon""#,
            ),
            (
                &["--args", "\"open"],
                r#"invalid argument "\"open" for "--args" flag: EOF found when expecting closing quote"#,
            ),
            (&["--env-add", "=x"], r#"invalid argument "=x" for "--env-add" flag: invalid environment variable: =x"#),
            (&["--label-add", " "], r#"invalid argument " " for "--label-add" flag: invalid label ' ': empty name"#),
            (
                &["--mount-add", "type=bind"],
                r#"invalid argument "type=bind" for "--mount-add" flag: target is required"#,
            ),
            (
                &["--publish-rm", "x/tcp"],
                r#"invalid argument "x/tcp" for "--publish-rm" flag: invalid containerPort: x"#,
            ),
            (&["--image", "UPPER"], r#"ContainerSpec: "UPPER" is not a valid repository/tag"#),
        ];
        for (argv, expected) in cases {
            assert_eq!(update(&web(), argv), Err(expected.to_string()), "{argv:?}");
        }
    }

    #[test]
    fn rollback_and_force() {
        let parse = |argv: &[&str]| {
            let argv = std::iter::once("update").chain(argv.iter().copied()).chain(["web"]);
            UpdateCli::try_parse_from(argv).unwrap().flags
        };
        assert_eq!(rollback_requested(&parse(&[])), Ok(false));
        assert_eq!(rollback_requested(&parse(&["--rollback", "-d", "-q"])), Ok(true));
        assert_eq!(
            rollback_requested(&parse(&["--rollback", "--replicas", "2"])),
            Err("other flags may not be combined with --rollback".to_string())
        );
        assert!(apply_update(&web(), &parse(&["--rollback"])).is_err());
        assert!(wants_force(&parse(&["--force"])));
        assert!(!wants_force(&parse(&[])));
        assert_eq!(apply_update(&web(), &parse(&["--force"])), Ok(web()));
    }
}
