//! One compose service as the cluster's `ServiceSpec`, field by field as Docker's `stack deploy` converts it
//! (docker/cli `cli/compose/convert`), and with the defaults the equivalent `service create` has: update and
//! rollback configs start from SwarmKit's defaults (none for jobs), a healthcheck that sets nothing is none, an
//! unset stop grace period or restart setting is the spec's default. Invariant: a converted spec passes
//! `ServiceSpec::validate`, and a key the spec cannot hold is refused through the `unsupported` table, never
//! dropped.

use super::error::{Place, StackError};
use super::network::{attachments, service_networks};
use super::unsupported;
use super::{IMAGE_LABEL, NAMESPACE_LABEL};
use crate::compose::model as compose;
use crate::compose::scalar::parse_nano_cpus;
use crate::compose::{Duration, Loaded, ServiceConfig};
use crate::spec::{
    effective_capabilities, hosts_entry, DnsConfig, FailureAction, FailureRatio, HealthConfig, LogDriver, Mount,
    MountType, PlacementPreference, PortConfig, PortProtocol, PublishMode, ResolutionMode, RestartCondition,
    RestartPolicy, ServiceMode, ServiceSpec, SpecError, TmpfsOptions, Ulimit, UpdateConfig, UpdateOrder,
};

/// Converts service `name` of the stack `stack` (`<stack>_<name>` on the cluster).
pub fn convert_service(
    stack: &str,
    loaded: &Loaded,
    name: &str,
    service: &ServiceConfig,
) -> Result<ServiceSpec, StackError> {
    let base = format!("services.{name}");
    let settings: Vec<(&str, &compose::ServiceNetwork)> = service_networks(service)
        .into_iter()
        .filter_map(|(key, settings)| settings.map(|settings| (key, settings)))
        .collect();
    if let Some(key_path) = unsupported::first_in_service(name, service, &settings) {
        return Err(StackError::unsupported(loaded, key_path));
    }
    let at = |key: &str| format!("{base}.{key}");
    let deploy = &service.deploy;

    let mode_name = match deploy.mode {
        None => "replicated",
        Some(mode) => compose::enum_name(&compose::DeployMode::ALL, mode),
    };
    let max_per_node = deploy.placement.max_replicas_per_node;
    let mode = ServiceMode::from_flags(mode_name, deploy.replicas, None, max_per_node)
        .map_err(|error| spec_error(loaded, name, error))?;
    let mut spec = ServiceSpec::with_mode(format!("{stack}_{name}"), service.image.clone(), mode);

    spec.labels = deploy.labels.clone();
    spec.labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
    spec.labels.insert(IMAGE_LABEL.to_owned(), service.image.clone());

    let container = &mut spec.task_template.container_spec;
    container.labels = service.labels.clone();
    container.labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
    // Docker's mapping: the file's `entrypoint` overrides the image's entrypoint (the spec's `command`), its
    // `command` the image's command (the spec's `args`).
    container.command = service.entrypoint.clone();
    container.args = service.command.clone();
    container.hostname = service.hostname.clone();
    container.env = environment(service);
    container.dir = service.working_dir.clone();
    container.user = service.user.clone();
    container.mounts = mounts(stack, loaded, name, service)?;
    if let Some(period) = service.stop_grace_period {
        container.stop_grace_period_ns = nanos(loaded, &at("stop_grace_period"), period)?;
    }
    container.healthcheck = healthcheck(loaded, &at("healthcheck"), service.healthcheck.as_ref())?;
    container_options(loaded, &base, service, container)?;

    let task = &mut spec.task_template;
    task.log_driver = service
        .logging
        .as_ref()
        .filter(|logging| !logging.driver.is_empty() || !logging.options.is_empty())
        .map(|logging| LogDriver { name: logging.driver.clone(), options: logging.options.clone() });
    if let Some(limits) = &deploy.resources.limits {
        let path = at("deploy.resources.limits");
        task.resources.limits.nano_cpus = cpus(loaded, &format!("{path}.cpus"), &limits.cpus)?;
        task.resources.limits.memory_bytes = bytes(loaded, &format!("{path}.memory"), limits.memory_bytes)?;
    }
    if let Some(reservations) = &deploy.resources.reservations {
        let path = at("deploy.resources.reservations");
        task.resources.reservations.nano_cpus = cpus(loaded, &format!("{path}.cpus"), &reservations.cpus)?;
        task.resources.reservations.memory_bytes = bytes(loaded, &format!("{path}.memory"), reservations.memory_bytes)?;
    }
    task.restart_policy = restart_policy(loaded, &base, service)?;
    task.placement.constraints = deploy.placement.constraints.clone();
    task.placement.preferences = deploy
        .placement
        .preferences
        .iter()
        .map(|descriptor| PlacementPreference::Spread { spread_descriptor: descriptor.clone() })
        .collect();
    task.placement.max_replicas = max_per_node;
    task.networks = attachments(stack, loaded, name, service);

    if let Some(mode) = deploy.endpoint_mode {
        spec.endpoint_spec.mode = match mode {
            compose::EndpointMode::Vip => ResolutionMode::Vip,
            compose::EndpointMode::Dnsrr => ResolutionMode::Dnsrr,
        };
    }
    spec.endpoint_spec.ports = ports(&service.ports);
    if let Some(update) = &deploy.update_config {
        spec.update_config = Some(update_config(spec.update_config.take(), update));
    }
    if let Some(rollback) = &deploy.rollback_config {
        spec.rollback_config = Some(update_config(spec.rollback_config.take(), rollback));
    }
    spec.validate().map_err(|error| spec_error(loaded, name, error))?;
    // The store's size bounds too, so that no service of the stack is refused after others were created.
    crate::store::check_service_spec_bounds(&spec)
        .map_err(|rejection| StackError::invalid(loaded, &base, rejection.to_string()))?;
    Ok(spec)
}

/// `environment:` as Docker's `convertEnvironment` gives it: `KEY=value`, or a bare `KEY` for a variable named
/// without a value and not set in the environment (as `service create -e KEY` sends it), sorted as strings.
fn environment(service: &ServiceConfig) -> Vec<String> {
    let mut env: Vec<String> = service
        .environment
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("{key}={value}"),
            None => key.clone(),
        })
        .collect();
    env.sort();
    env
}

/// `volumes:` as mounts: a named volume is the stack's (`<stack>_<key>`, or its `name:`, which an external volume
/// always has), a volume without a source is anonymous, binds and tmpfs as written.
fn mounts(stack: &str, loaded: &Loaded, name: &str, service: &ServiceConfig) -> Result<Vec<Mount>, StackError> {
    let mut out = Vec::with_capacity(service.volumes.len());
    for (index, volume) in service.volumes.iter().enumerate() {
        let path = format!("services.{name}.volumes[{index}]");
        let (kind, source) = match volume.kind {
            compose::VolumeType::Volume if volume.source.is_empty() => (MountType::Volume, String::new()),
            compose::VolumeType::Volume => {
                let Some(top) = loaded.config.volumes.get(&volume.source) else {
                    let message =
                        format!("undefined volume {:?}: define it under the top-level volumes:", volume.source);
                    return Err(StackError::invalid(loaded, &path, message));
                };
                let source = if top.name.is_empty() { format!("{stack}_{}", volume.source) } else { top.name.clone() };
                (MountType::Volume, source)
            }
            compose::VolumeType::Bind => (MountType::Bind, volume.source.clone()),
            compose::VolumeType::Tmpfs => (MountType::Tmpfs, volume.source.clone()),
            compose::VolumeType::Npipe | compose::VolumeType::Cluster => {
                // The unsupported table refuses these before conversion starts.
                return Err(StackError::unsupported(loaded, format!("{path}.type")));
            }
        };
        let tmpfs_options = match volume.tmpfs_size {
            Some(size) if size != 0 => Some(TmpfsOptions {
                size_bytes: u64::try_from(size).map_err(|_| {
                    StackError::invalid(loaded, &format!("{path}.tmpfs.size"), "size cannot be negative")
                })?,
                mode: 0,
            }),
            _ => None,
        };
        out.push(Mount { kind, source, target: volume.target.clone(), read_only: volume.read_only, tmpfs_options });
    }
    // The service's `tmpfs:` list (Docker's conversion drops it): each path a tmpfs mount, as `--mount
    // type=tmpfs,target=PATH` would make it.
    for (index, target) in service.tmpfs.iter().enumerate() {
        let path = format!("services.{name}.tmpfs[{index}]");
        if target.contains(':') {
            let message = format!(
                "{target:?}: options in a tmpfs: entry are not supported yet; use a volume of type tmpfs (tmpfs.size)"
            );
            return Err(StackError::invalid(loaded, &path, message));
        }
        if !target.starts_with('/') {
            return Err(StackError::invalid(loaded, &path, format!("{target:?}: the path must be absolute")));
        }
        out.push(Mount {
            kind: MountType::Tmpfs,
            source: String::new(),
            target: target.clone(),
            read_only: false,
            tmpfs_options: None,
        });
    }
    Ok(out)
}

/// The container options as Docker's conversion maps them: `stop_signal`, `read_only`, `init`, `cap_add` and
/// `cap_drop` (Docker's `EffectiveCapAddCapDrop`), `sysctls`, `ulimits` (a single value is soft and hard),
/// `extra_hosts` (SwarmKit's `IP name` form), `dns` and `dns_search`.
fn container_options(
    loaded: &Loaded,
    base: &str,
    service: &ServiceConfig,
    container: &mut crate::spec::ContainerSpec,
) -> Result<(), StackError> {
    container.stop_signal = service.stop_signal.clone();
    container.read_only = service.read_only;
    container.init = service.init;
    (container.capability_add, container.capability_drop) = effective_capabilities(&service.cap_add, &service.cap_drop);
    container.sysctls = service.sysctls.clone();
    container.ulimits = service
        .ulimits
        .iter()
        .map(|(name, limit)| match *limit {
            compose::Ulimit::Single(value) => Ulimit::new(name.clone(), value, value),
            compose::Ulimit::SoftHard { soft, hard } => Ulimit::new(name.clone(), soft, hard),
        })
        .collect();
    container.hosts = service
        .extra_hosts
        .iter()
        .map(|entry| {
            hosts_entry(entry)
                .map_err(|why| StackError::invalid(loaded, &format!("{base}.extra_hosts"), why.to_string()))
        })
        .collect::<Result<_, _>>()?;
    container.dns_config =
        DnsConfig { nameservers: service.dns.clone(), search: service.dns_search.clone(), options: Vec::new() };
    Ok(())
}

/// `healthcheck:`: `disable: true` is `["NONE"]`; one that sets nothing inherits the image's, as `service create`
/// without health flags does.
fn healthcheck(
    loaded: &Loaded,
    path: &str,
    check: Option<&compose::HealthCheck>,
) -> Result<Option<HealthConfig>, StackError> {
    let Some(check) = check else { return Ok(None) };
    if check.disable {
        return Ok(Some(HealthConfig { test: vec!["NONE".to_owned()], ..HealthConfig::default() }));
    }
    let duration = |key: &str, value: Option<Duration>| match value {
        Some(value) => nanos(loaded, &format!("{path}.{key}"), value),
        None => Ok(0),
    };
    let health = HealthConfig {
        test: check.test.clone(),
        interval_ns: duration("interval", check.interval)?,
        timeout_ns: duration("timeout", check.timeout)?,
        retries: check.retries.unwrap_or(0),
        start_period_ns: duration("start_period", check.start_period)?,
    };
    Ok((health != HealthConfig::default()).then_some(health))
}

/// `deploy.restart_policy` over the spec's defaults, else Docker's reading of the legacy `restart:` (which Docker
/// warns it ignores, yet honours when there is no `deploy.restart_policy`).
fn restart_policy(loaded: &Loaded, base: &str, service: &ServiceConfig) -> Result<RestartPolicy, StackError> {
    let mut policy = RestartPolicy::default();
    if let Some(given) = &service.deploy.restart_policy {
        let path = format!("{base}.deploy.restart_policy");
        if let Some(condition) = given.condition {
            policy.condition = match condition {
                compose::RestartCondition::None => RestartCondition::None,
                compose::RestartCondition::OnFailure => RestartCondition::OnFailure,
                compose::RestartCondition::Any => RestartCondition::Any,
            };
        }
        if let Some(delay) = given.delay {
            policy.delay_ns = nanos(loaded, &format!("{path}.delay"), delay)?;
        }
        if let Some(max_attempts) = given.max_attempts {
            policy.max_attempts = max_attempts;
        }
        if let Some(window) = given.window {
            policy.window_ns = nanos(loaded, &format!("{path}.window"), window)?;
        }
        return Ok(policy);
    }
    if service.restart.is_empty() {
        return Ok(policy);
    }
    let path = format!("{base}.restart");
    let invalid = |message: &str| StackError::invalid(loaded, &path, message);
    let (mode, count) = service.restart.split_once(':').unwrap_or((&service.restart, ""));
    if mode.is_empty() {
        return Err(invalid("invalid restart policy format: no policy provided before colon"));
    }
    let count: i64 = if count.is_empty() {
        0
    } else {
        count.parse().map_err(|_| invalid("invalid restart policy format: maximum retry count must be an integer"))?
    };
    if count < 0 {
        return Err(invalid("invalid restart policy: maximum retry count cannot be negative"));
    }
    policy.condition = match mode {
        "no" => return Ok(policy),
        "always" | "unless-stopped" => RestartCondition::Any,
        "on-failure" => RestartCondition::OnFailure,
        other => {
            return Err(invalid(&format!(
                "invalid restart policy: unknown policy '{other}' (must be one of 'no', 'always', 'on-failure', or \
                 'unless-stopped')"
            )))
        }
    };
    policy.max_attempts = count.unsigned_abs();
    Ok(policy)
}

/// `update_config:` / `rollback_config:` over the config `service create` starts from (SwarmKit's defaults when
/// there is none): a field the file leaves unset (or zero, which the file cannot tell apart) keeps its default.
fn update_config(start: Option<UpdateConfig>, given: &compose::UpdateConfig) -> UpdateConfig {
    let mut config = start.unwrap_or_default();
    if let Some(parallelism) = given.parallelism {
        config.parallelism = parallelism;
    }
    if !given.delay.is_zero() {
        config.delay_ns = given.delay.nanos.unsigned_abs();
    }
    if let Some(action) = given.failure_action {
        config.failure_action = match action {
            compose::FailureAction::Continue => FailureAction::Continue,
            compose::FailureAction::Pause => FailureAction::Pause,
            compose::FailureAction::Rollback => FailureAction::Rollback,
        };
    }
    if !given.monitor.is_zero() {
        config.monitor_ns = given.monitor.nanos.unsigned_abs();
    }
    if given.max_failure_ratio != 0.0 {
        config.max_failure_ratio = FailureRatio(given.max_failure_ratio);
    }
    if let Some(order) = given.order {
        config.order = match order {
            compose::UpdateOrder::StopFirst => UpdateOrder::StopFirst,
            compose::UpdateOrder::StartFirst => UpdateOrder::StartFirst,
        };
    }
    config
}

/// `ports:` as the cluster publishes them (an ingress port without a number gets one from the store), sorted as
/// Docker sorts them: published port, target port, protocol, mode.
fn ports(given: &[compose::PortConfig]) -> Vec<PortConfig> {
    let mut out: Vec<PortConfig> = given
        .iter()
        .map(|port| PortConfig {
            name: String::new(),
            protocol: match port.protocol {
                None | Some(compose::PortProtocol::Tcp) => PortProtocol::Tcp,
                Some(compose::PortProtocol::Udp) => PortProtocol::Udp,
                Some(compose::PortProtocol::Sctp) => PortProtocol::Sctp,
            },
            target_port: port.target,
            published_port: port.published,
            publish_mode: match port.mode {
                None | Some(compose::PortMode::Ingress) => PublishMode::Ingress,
                Some(compose::PortMode::Host) => PublishMode::Host,
            },
        })
        .collect();
    out.sort_by(|a, b| {
        (a.published_port, a.target_port, a.protocol.as_str(), a.publish_mode.as_str()).cmp(&(
            b.published_port,
            b.target_port,
            b.protocol.as_str(),
            b.publish_mode.as_str(),
        ))
    });
    out
}

/// A duration in nanoseconds; negative ones are refused (the spec's durations are unsigned).
fn nanos(loaded: &Loaded, path: &str, duration: Duration) -> Result<u64, StackError> {
    u64::try_from(duration.nanos).map_err(|_| StackError::invalid(loaded, path, "duration cannot be negative"))
}

/// A CPU count (already checked by the loader) in nano CPUs; empty is unset.
fn cpus(loaded: &Loaded, path: &str, text: &str) -> Result<u64, StackError> {
    if text.is_empty() {
        return Ok(0);
    }
    let nano_cpus = parse_nano_cpus(text).map_err(|why| StackError::invalid(loaded, path, why))?;
    u64::try_from(nano_cpus).map_err(|_| StackError::invalid(loaded, path, "CPUs cannot be negative"))
}

fn bytes(loaded: &Loaded, path: &str, value: i64) -> Result<u64, StackError> {
    u64::try_from(value).map_err(|_| StackError::invalid(loaded, path, "memory cannot be negative"))
}

/// A refused spec, placed at the key its problem comes from (the service itself when no one key is to blame).
fn spec_error(loaded: &Loaded, name: &str, error: SpecError) -> StackError {
    let key = match &error {
        SpecError::ImageRequired | SpecError::InvalidImage { .. } => "image",
        SpecError::DuplicateMountPoint { .. } | SpecError::InvalidMount { .. } => "volumes",
        SpecError::HealthcheckDurationTooShort { .. } | SpecError::InvalidHealthcheckTest { .. } => "healthcheck",
        SpecError::CpuTooSmall { .. }
        | SpecError::MemoryTooSmall { .. }
        | SpecError::CpuReservationAboveLimit { .. }
        | SpecError::MemoryReservationAboveLimit { .. } => "deploy.resources",
        SpecError::InvalidConstraint { .. } => "deploy.placement.constraints",
        SpecError::InvalidPlacementPreference { .. } => "deploy.placement.preferences",
        SpecError::MaxReplicasPerNodeNotAllowed => "deploy.placement.max_replicas_per_node",
        SpecError::ReplicasNotAllowed | SpecError::LimitExceeded { .. } => "deploy.replicas",
        SpecError::MaxConcurrentNotAllowed | SpecError::UnknownMode { .. } => "deploy.mode",
        SpecError::JobWithUpdateConfig | SpecError::UpdateMaxFailureRatio => "deploy.update_config",
        SpecError::RollbackMaxFailureRatio | SpecError::RollbackOnRollbackFailure => "deploy.rollback_config",
        SpecError::InvalidTargetPort { .. }
        | SpecError::InvalidPublishedPort { .. }
        | SpecError::DuplicatePublishedPort { .. }
        | SpecError::IngressPortWithDnsrr => "ports",
        SpecError::NetworkTargetRequired | SpecError::DuplicateNetwork { .. } => "networks",
        SpecError::InvalidSignal { .. } => "stop_signal",
        SpecError::InvalidCapability { .. } => "cap_add",
        SpecError::InvalidSysctl { .. } => "sysctls",
        SpecError::InvalidUlimitName { .. }
        | SpecError::UlimitSoftUnlimited { .. }
        | SpecError::UlimitSoftAboveHard { .. }
        | SpecError::DuplicateUlimit { .. } => "ulimits",
        SpecError::InvalidHostsEntry { .. } => "extra_hosts",
        SpecError::InvalidNameserver { .. } => "dns",
        SpecError::InvalidDnsSearch { .. } | SpecError::InvalidDnsOption { .. } => "dns_search",
        // Stacks do not carry secrets or configs yet (`unsupported`); were they to, these are their keys' errors.
        SpecError::InvalidFileFlag { .. }
        | SpecError::InvalidFileReference { .. }
        | SpecError::DuplicateFileTarget { .. } => "secrets",
        SpecError::NameRequired
        | SpecError::InvalidName { .. }
        | SpecError::NameTooLong { .. }
        | SpecError::UnknownKeyword { .. } => "",
    };
    let path = if key.is_empty() { format!("services.{name}") } else { format!("services.{name}.{key}") };
    StackError::Spec { service: name.to_owned(), place: Place::of(loaded, &path), source: Box::new(error) }
}
