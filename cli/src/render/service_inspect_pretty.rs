//! `service inspect --pretty`: docker/cli's pretty service template, with its tabs, its blank first line, the trailing
//! space after argument lists and after the last port, and the blank line that ends each service. The sections, in
//! Docker's order: ID, Name, Labels, Service Mode (`Replicated` with ` Replicas:`, `Global`; Docker prints nothing
//! after "Service Mode:" for jobs), UpdateStatus (when an update ran: State, Started, Completed for a completed update,
//! Message), Placement (constraints, preferences, max replicas per node), UpdateConfig and RollbackConfig (when set),
//! ContainerSpec (Image as written, Args, Env, Dir, Init when set, User), Capabilities, SysCtls, Ulimits, Mounts,
//! Configs and Secrets (target and source), Log Driver (followed by Docker's blank line), Resources (reservations and
//! limits when non-zero), Networks (by name), Endpoint Mode, and Ports, each with its PublishMode (`ingress`, or `host`
//! for ports bound on the node running each task), then the healthcheck. Like Docker's, it shows neither the stop
//! signal, read-only root, hosts nor DNS settings (`service inspect` without `--pretty` does). Times are measured from
//! the view's `now`.

use std::collections::BTreeMap;

use swarm_core::spec::UpdateConfig;
use swarm_core::{Resources, Service, ServiceMode, UpdateState};
use swarm_runtime::control::view::ClusterView;

use super::text::{bytes_size, go_float32, go_float64};
use super::time::{ago, go_duration};

/// The text `service inspect --pretty` prints for `services`, in the order given.
pub fn render(view: &ClusterView, services: &[&Service]) -> String {
    services.iter().map(|service| render_one(view, service)).collect()
}

/// One service's block: a blank line, the fields, a blank line.
pub fn render_one(view: &ClusterView, service: &Service) -> String {
    let spec = &service.spec;
    let mut out = String::from("\n");
    out.push_str(&format!("ID:\t\t{}\n", service.id));
    out.push_str(&format!("Name:\t\t{}", spec.name));
    if !spec.labels.is_empty() {
        out.push_str("\nLabels:");
        for (key, value) in &spec.labels {
            if value.is_empty() {
                out.push_str(&format!("\n {key}"));
            } else {
                out.push_str(&format!("\n {key}={value}"));
            }
        }
    }
    out.push_str("\nService Mode:");
    match spec.mode {
        ServiceMode::Global => out.push_str("\tGlobal"),
        ServiceMode::Replicated { replicas } => out.push_str(&format!("\tReplicated\n Replicas:\t{replicas}")),
        ServiceMode::ReplicatedJob { .. } | ServiceMode::GlobalJob => {}
    }
    if let Some(status) = &service.update_status {
        out.push_str(&format!("\nUpdateStatus:\n State:\t\t{}", status.state.as_str()));
        if let Some(started) = status.started_at {
            out.push_str(&format!("\n Started:\t{}", ago(view.now, started)));
        }
        // Docker shows the completion time of a completed update only, not of a completed rollback.
        if let (UpdateState::Completed, Some(completed)) = (status.state, status.completed_at) {
            out.push_str(&format!("\n Completed:\t{}", ago(view.now, completed)));
        }
        out.push_str(&format!("\n Message:\t{}", status.message));
    }
    let placement = &spec.task_template.placement;
    out.push_str("\nPlacement:");
    if !placement.constraints.is_empty() {
        out.push_str(&format!("\n Constraints:\t[{}]", placement.constraints.join(" ")));
    }
    if !placement.preferences.is_empty() {
        let preferences: Vec<String> = placement.preferences.iter().map(ToString::to_string).collect();
        out.push_str(&format!("\n Preferences:   [{}]", preferences.join(" ")));
    }
    if placement.max_replicas > 0 {
        out.push_str(&format!("\n Max Replicas Per Node:   {}", placement.max_replicas));
    }
    if let Some(update) = &spec.update_config {
        push_update_config(&mut out, "UpdateConfig", "Update order:      ", update);
    }
    if let Some(rollback) = &spec.rollback_config {
        push_update_config(&mut out, "RollbackConfig", "Rollback order:    ", rollback);
    }
    let container = &spec.task_template.container_spec;
    out.push_str(&format!("\nContainerSpec:\n Image:\t\t{}", container.image));
    if !container.args.is_empty() {
        out.push_str("\n Args:\t\t");
        for arg in &container.args {
            out.push_str(arg);
            out.push(' ');
        }
    }
    if !container.env.is_empty() {
        out.push_str("\n Env:\t\t");
        for env in &container.env {
            out.push_str(env);
            out.push(' ');
        }
    }
    if !container.dir.is_empty() {
        out.push_str(&format!("\n Dir:\t\t{}", container.dir));
    }
    if let Some(init) = container.init {
        out.push_str(&format!("\n Init:\t\t{init}"));
    }
    if !container.user.is_empty() {
        out.push_str(&format!("\n User: {}", container.user));
    }
    if !container.capability_add.is_empty() || !container.capability_drop.is_empty() {
        out.push_str("\nCapabilities:");
        if !container.capability_add.is_empty() {
            out.push_str(&format!("\n Add: {}", container.capability_add.join(", ")));
        }
        if !container.capability_drop.is_empty() {
            out.push_str(&format!("\n Drop: {}", container.capability_drop.join(", ")));
        }
    }
    if !container.sysctls.is_empty() {
        out.push_str("\nSysCtls:");
        for (key, value) in &container.sysctls {
            out.push_str(&format!("\n {key}"));
            if !value.is_empty() {
                out.push_str(&format!(": {value}"));
            }
        }
    }
    if !container.ulimits.is_empty() {
        // Docker ranges over a map: by name, the last of a name winning.
        let ulimits: BTreeMap<&str, String> =
            container.ulimits.iter().map(|u| (u.name.as_str(), format!("{}:{}", u.soft, u.hard))).collect();
        out.push_str("\nUlimits:");
        for (name, limits) in ulimits {
            out.push_str(&format!("\n {name}: {limits}"));
        }
    }
    if !container.mounts.is_empty() {
        out.push_str("\nMounts:");
    }
    for mount in &container.mounts {
        out.push_str(&format!(
            "\n Target:\t{}\n  Source:\t{}\n  ReadOnly:\t{}\n  Type:\t\t{}",
            mount.target, mount.source, mount.read_only, mount.kind
        ));
    }
    // Docker lists configs, then secrets: each target as written and its source's name.
    if !container.configs.is_empty() {
        out.push_str("\nConfigs:");
        for config in &container.configs {
            out.push_str(&format!("\n Target:\t{}\n  Source:\t{}", config.file.name, config.config_name));
        }
    }
    if !container.secrets.is_empty() {
        out.push_str("\nSecrets:");
        for secret in &container.secrets {
            out.push_str(&format!("\n Target:\t{}\n  Source:\t{}", secret.file.name, secret.secret_name));
        }
    }
    if let Some(driver) = &spec.task_template.log_driver {
        out.push_str("\nLog Driver:");
        if !driver.name.is_empty() {
            out.push_str(&format!("\n Name:\t\t{}", driver.name));
        }
        if !driver.options.is_empty() {
            out.push_str("\n LogOpts:");
            for (key, value) in &driver.options {
                out.push_str(&format!("\n  {key}"));
                if !value.is_empty() {
                    out.push_str(&format!(":       {value}"));
                }
            }
        }
        // Docker's template ends the section with a line break of its own: a blank line follows.
        out.push('\n');
    }
    // Docker prints "Resources:" whenever the spec has a resources object, which `docker service create` always
    // sends; ours always has one.
    let resources = &spec.task_template.resources;
    out.push_str("\nResources:");
    push_resources(&mut out, " Reservations:", &resources.reservations);
    push_resources(&mut out, " Limits:", &resources.limits);
    let networks = &spec.task_template.networks;
    if !networks.is_empty() {
        out.push_str("\nNetworks:");
        for attachment in networks {
            let name = view
                .networks
                .iter()
                .find(|network| network.id == attachment.target)
                .map_or(attachment.target.as_str(), |network| network.spec.name.as_str());
            out.push(' ');
            out.push_str(name);
        }
        out.push(' ');
    }
    out.push_str(&format!("\nEndpoint Mode:\t{}", spec.endpoint_spec.mode));
    let ports = &spec.endpoint_spec.ports;
    if !ports.is_empty() {
        out.push_str("\nPorts:");
        for port in ports {
            out.push_str(&format!(
                "\n PublishedPort = {}\n  Protocol = {}\n  TargetPort = {}\n  PublishMode = {}",
                port.published_port, port.protocol, port.target_port, port.publish_mode
            ));
            if port.publish_mode == swarm_core::PublishMode::Ingress {
                out.push_str(&format!("\n  ClientAddress = {}", super::inspect::MESH_CLIENT_ADDRESS));
            }
        }
        out.push(' ');
    }
    if let Some(health) = &container.healthcheck {
        out.push_str(&format!(
            "\n Healthcheck:\n  Interval = {}\n  Retries = {}\n  StartPeriod =\t{}\n  Timeout =\t{}",
            go_duration(health.interval_ns),
            health.retries,
            go_duration(health.start_period_ns),
            go_duration(health.timeout_ns)
        ));
        if !health.test.is_empty() {
            out.push_str("\n  Tests:");
            for test in &health.test {
                out.push_str(&format!("\n\t Test = {test}"));
            }
            out.push(' ');
        }
    }
    out.push_str("\n\n");
    out
}

/// An `UpdateConfig:` or `RollbackConfig:` section; delay and monitor only when non-zero.
fn push_update_config(out: &mut String, title: &str, order_label: &str, config: &UpdateConfig) {
    out.push_str(&format!("\n{title}:\n Parallelism:\t{}", config.parallelism));
    if config.delay_ns > 0 {
        out.push_str(&format!("\n Delay:\t\t{}", go_duration(config.delay_ns)));
    }
    out.push_str(&format!("\n On failure:\t{}", config.failure_action));
    if config.monitor_ns > 0 {
        out.push_str(&format!("\n Monitoring Period: {}", go_duration(config.monitor_ns)));
    }
    out.push_str(&format!("\n Max failure ratio: {}", go_float32(config.max_failure_ratio.0)));
    out.push_str(&format!("\n {order_label}{}", config.order));
}

/// ` Reservations:` or ` Limits:` with the CPUs and memory that are set; nothing if neither is.
fn push_resources(out: &mut String, title: &str, resources: &Resources) {
    if resources.nano_cpus == 0 && resources.memory_bytes == 0 {
        return;
    }
    out.push('\n');
    out.push_str(title);
    if resources.nano_cpus > 0 {
        out.push_str(&format!("\n  CPU:\t\t{}", go_float64(resources.nano_cpus as f64 / 1e9)));
    }
    if resources.memory_bytes > 0 {
        out.push_str(&format!("\n  Memory:\t{}", bytes_size(resources.memory_bytes)));
    }
}
