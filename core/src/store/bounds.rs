//! The bounds checks `apply` runs on every command's input before it changes anything: ids, names, labels, texts,
//! lists, replicas, settings and statuses against the named limits of `crate::limits`. They own the rule that no
//! command can make the store hold an object beyond those bounds (so entries, snapshots and per-apply work stay
//! bounded); a violation is a typed `Rejection`, never a panic. Validity (what Docker would refuse) is the spec's
//! own `validate`; these only bound sizes and shapes.

use std::collections::BTreeMap;

use super::outcome::Rejection;
use crate::limits::Limit;
use crate::limits::FILE_DATA_MAX;
use crate::model::{check_file_object_name, FILE_OBJECT_NAME_LEN_MAX};
use crate::model::{
    ClusterSettings, ManagerStatus, NetworkSpec, NodeDescription, NodeSpec, NodeStatus, ObjectKind, ServiceMode,
    ServiceSpec, TaskSpec, TaskStatus, UpdateStatus,
};
use crate::model::{NODE_CERT_EXPIRY_MAX_MS, NODE_CERT_EXPIRY_MIN_MS};
use crate::spec::{FileTarget, PlacementPreference};

/// Rejects a length above `limit.max()`.
pub(super) fn check_len(limit: Limit, len: usize) -> Result<(), Rejection> {
    check_limit(limit, u64::try_from(len).unwrap_or(u64::MAX))
}

/// Rejects `actual > limit.max()`.
fn check_limit(limit: Limit, actual: u64) -> Result<(), Rejection> {
    if actual > limit.max() {
        return Err(Rejection::LimitExceeded { limit, max: limit.max(), actual });
    }
    Ok(())
}

/// Ids: 1 to `ID_LEN_MAX` bytes of `[a-zA-Z0-9_.-]`.
pub(super) fn check_id(kind: ObjectKind, id: &str) -> Result<(), Rejection> {
    check_len(Limit::IdLength, id.len())?;
    let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        return Err(Rejection::InvalidId { kind, id: id.to_string() });
    }
    Ok(())
}

/// Service names, as SwarmKit checks them: `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`, at most `NAME_LEN_MAX` bytes.
fn check_service_name(name: &str) -> Result<(), Rejection> {
    check_len(Limit::NameLength, name.len())?;
    let bytes = name.as_bytes();
    let ok = match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        }
        _ => false,
    };
    if !ok {
        return Err(Rejection::InvalidName {
            kind: ObjectKind::Service,
            name: name.to_string(),
            reason: "name must be valid as a DNS name component".to_string(),
        });
    }
    Ok(())
}

/// Network names, as Docker checks them: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most `NAME_LEN_MAX` bytes.
fn check_network_name(name: &str) -> Result<(), Rejection> {
    check_len(Limit::NameLength, name.len())?;
    let bytes = name.as_bytes();
    let ok = bytes.first().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        return Err(Rejection::InvalidName {
            kind: ObjectKind::Network,
            name: name.to_string(),
            reason: "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed".to_string(),
        });
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), Rejection> {
    check_len(Limit::TextLength, text.len())
}

fn check_list(list: &[String]) -> Result<(), Rejection> {
    check_len(Limit::ListLength, list.len())?;
    list.iter().try_for_each(|entry| check_text(entry))
}

/// A key/value option map (sysctls, log driver options): entries, key and value lengths.
fn check_options(options: &BTreeMap<String, String>) -> Result<(), Rejection> {
    check_len(Limit::Options, options.len())?;
    for (key, value) in options {
        check_len(Limit::LabelKeyLength, key.len())?;
        check_len(Limit::LabelValueLength, value.len())?;
    }
    Ok(())
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), Rejection> {
    check_len(Limit::Labels, labels.len())?;
    for (key, value) in labels {
        if key.is_empty() {
            return Err(Rejection::InvalidSpec { reason: "label key must not be empty".to_string() });
        }
        check_len(Limit::LabelKeyLength, key.len())?;
        check_len(Limit::LabelValueLength, value.len())?;
    }
    Ok(())
}

pub(super) fn check_settings(settings: &ClusterSettings) -> Result<(), Rejection> {
    if settings.dispatcher_heartbeat_period_ms == 0 {
        return Err(Rejection::InvalidSettings { reason: "dispatcher heartbeat period must be positive".to_string() });
    }
    if settings.snapshot_interval_entries == 0 {
        return Err(Rejection::InvalidSettings { reason: "snapshot interval must be positive".to_string() });
    }
    if settings.node_cert_expiry_ms < NODE_CERT_EXPIRY_MIN_MS {
        // SwarmKit's words (its minimum is one hour).
        return Err(Rejection::InvalidSettings {
            reason: format!(
                "minimum certificate expiry time is: 1h0m0s (asked for {} ms)",
                settings.node_cert_expiry_ms
            ),
        });
    }
    if settings.node_cert_expiry_ms > NODE_CERT_EXPIRY_MAX_MS {
        return Err(Rejection::InvalidSettings {
            reason: format!(
                "maximum certificate expiry time is: 87600h0m0s (ten years); asked for {} ms",
                settings.node_cert_expiry_ms
            ),
        });
    }
    check_address_pools(settings)
}

/// Docker's checks of `--default-addr-pool`, `--default-addr-pool-mask-length` and `--data-path-port`.
fn check_address_pools(settings: &ClusterSettings) -> Result<(), Rejection> {
    let invalid = |reason: String| Err(Rejection::InvalidSettings { reason });
    check_len(Limit::ListLength, settings.default_addr_pools.len())?;
    if settings.default_addr_pools.is_empty() {
        return invalid("at least one default address pool is needed".to_string());
    }
    let mask = settings.default_subnet_prefix_len;
    if !(2..=29).contains(&mask) {
        return invalid(format!("invalid subnet mask length {mask}: must be between 2 and 29"));
    }
    for (index, pool) in settings.default_addr_pools.iter().enumerate() {
        if pool.prefix_len() > mask {
            return invalid(format!("address pool {pool} is smaller than the subnet mask length /{mask}"));
        }
        if let Some(other) = settings.default_addr_pools[..index].iter().find(|other| other.overlaps(pool)) {
            return invalid(format!("address pools {other} and {pool} overlap"));
        }
    }
    if !(1024..=49151).contains(&settings.data_path_port) {
        return invalid(format!(
            "data path port {} is out of range: it must be within 1024 - 49151",
            settings.data_path_port
        ));
    }
    Ok(())
}

/// A join token is non-empty text of bounded length (its shape is the proposer's business).
pub(super) fn check_join_token(token: &str) -> Result<(), Rejection> {
    if token.is_empty() {
        return Err(Rejection::InvalidSettings { reason: "join token must not be empty".to_string() });
    }
    check_len(Limit::TextLength, token.len())
}

pub(super) fn check_node_spec(spec: &NodeSpec) -> Result<(), Rejection> {
    if let Some(name) = &spec.name {
        check_len(Limit::NameLength, name.len())?;
    }
    check_labels(&spec.labels)
}

pub(super) fn check_node_status(status: &NodeStatus) -> Result<(), Rejection> {
    check_text(&status.message)?;
    check_text(&status.addr)
}

pub(super) fn check_node_description(description: &NodeDescription) -> Result<(), Rejection> {
    check_text(&description.hostname)?;
    check_text(&description.platform.os)?;
    check_text(&description.platform.architecture)?;
    check_text(&description.engine.engine_version)?;
    check_labels(&description.engine.labels)
}

pub(super) fn check_manager_status(status: &Option<ManagerStatus>) -> Result<(), Rejection> {
    match status {
        Some(status) => check_text(&status.addr),
        None => Ok(()),
    }
}

/// Bounds every list and string of a task template. (Validity is `TaskSpec::validate`'s job.)
pub(super) fn check_task_spec(spec: &TaskSpec) -> Result<(), Rejection> {
    let container = &spec.container_spec;
    check_text(&container.image)?;
    check_list(&container.command)?;
    check_list(&container.args)?;
    check_list(&container.env)?;
    check_labels(&container.labels)?;
    check_text(&container.hostname)?;
    check_text(&container.dir)?;
    check_text(&container.user)?;
    check_len(Limit::ListLength, container.mounts.len())?;
    for mount in &container.mounts {
        check_text(&mount.source)?;
        check_text(&mount.target)?;
    }
    if let Some(healthcheck) = &container.healthcheck {
        check_list(&healthcheck.test)?;
    }
    check_text(&container.stop_signal)?;
    check_list(&container.capability_add)?;
    check_list(&container.capability_drop)?;
    check_options(&container.sysctls)?;
    check_len(Limit::ListLength, container.ulimits.len())?;
    for ulimit in &container.ulimits {
        check_text(&ulimit.name)?;
    }
    check_list(&container.hosts)?;
    check_list(&container.dns_config.nameservers)?;
    check_list(&container.dns_config.search)?;
    check_list(&container.dns_config.options)?;
    check_len(Limit::ListLength, container.secrets.len())?;
    for secret in &container.secrets {
        check_text(&secret.secret_id)?;
        check_text(&secret.secret_name)?;
        check_file_target(&secret.file)?;
    }
    check_len(Limit::ListLength, container.configs.len())?;
    for config in &container.configs {
        check_text(&config.config_id)?;
        check_text(&config.config_name)?;
        check_file_target(&config.file)?;
    }
    if let Some(log_driver) = &spec.log_driver {
        check_text(&log_driver.name)?;
        check_options(&log_driver.options)?;
    }
    let placement = &spec.placement;
    check_list(&placement.constraints)?;
    check_len(Limit::ListLength, placement.preferences.len())?;
    for PlacementPreference::Spread { spread_descriptor } in &placement.preferences {
        check_text(spread_descriptor)?;
    }
    check_len(Limit::ListLength, placement.platforms.len())?;
    for platform in &placement.platforms {
        check_text(&platform.os)?;
        check_text(&platform.architecture)?;
    }
    check_len(Limit::ListLength, spec.networks.len())?;
    for network in &spec.networks {
        check_text(&network.target)?;
        check_list(&network.aliases)?;
    }
    Ok(())
}

fn check_file_target(file: &FileTarget) -> Result<(), Rejection> {
    check_text(&file.name)?;
    check_text(&file.uid)?;
    check_text(&file.gid)
}

/// Bounds a secret or config: its id, name (Docker's rule), labels and data size (Docker's 500 KiB; a secret's
/// sealed bytes may add the sealing's overhead).
pub(super) fn check_file_object(
    kind: ObjectKind,
    id: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    data_len: usize,
) -> Result<(), Rejection> {
    check_id(kind, id)?;
    check_file_object_name(name).map_err(|reason| Rejection::InvalidFileObject {
        kind,
        name: name.chars().take(FILE_OBJECT_NAME_LEN_MAX).collect(),
        reason,
    })?;
    check_labels(labels)?;
    if data_len == 0 {
        return Err(Rejection::InvalidFileObject {
            kind,
            name: name.to_string(),
            reason: format!("{kind} data must be larger than 0 and at most {FILE_DATA_MAX} bytes"),
        });
    }
    let overhead = if kind == ObjectKind::Secret { SEALING_OVERHEAD_MAX } else { 0 };
    check_limit(Limit::FileData, u64::try_from(data_len.saturating_sub(overhead)).unwrap_or(u64::MAX))
}

/// The most a sealed secret may exceed its plaintext by (a nonce and a tag are 28 bytes; room to spare).
pub const SEALING_OVERHEAD_MAX: usize = 256;

pub(super) fn check_task_status(status: &TaskStatus) -> Result<(), Rejection> {
    check_text(&status.message)?;
    if let Some(err) = &status.err {
        check_text(err)?;
    }
    if let Some(container_id) = &status.container_id {
        check_text(container_id)?;
    }
    Ok(())
}

/// Bounds an update status's message and checks its times: `completed_at` is set exactly in the completed states
/// and is not before `started_at`.
pub(super) fn check_update_status(status: &UpdateStatus) -> Result<(), Rejection> {
    check_text(&status.message)?;
    let invalid = |reason: &str| Err(Rejection::InvalidUpdateStatus { reason: reason.to_string() });
    if status.completed_at.is_some() != status.state.is_completed() {
        return invalid("completed_at must be set exactly when the state is completed or rollback_completed");
    }
    if let (Some(started_at), Some(completed_at)) = (status.started_at, status.completed_at) {
        if completed_at < started_at {
            return invalid("completed_at is before started_at");
        }
    }
    Ok(())
}

/// Bounds a service spec: name, labels, task template, replicas and ports. (Validity is
/// `ServiceSpec::validate`'s job.)
pub(super) fn check_service_spec(spec: &ServiceSpec) -> Result<(), Rejection> {
    check_service_name(&spec.name)?;
    check_labels(&spec.labels)?;
    check_task_spec(&spec.task_template)?;
    match spec.mode {
        ServiceMode::Replicated { replicas } => check_limit(Limit::Replicas, replicas)?,
        ServiceMode::ReplicatedJob { max_concurrent, total_completions } => {
            check_limit(Limit::Replicas, max_concurrent)?;
            check_limit(Limit::Replicas, total_completions)?;
        }
        ServiceMode::Global | ServiceMode::GlobalJob => {}
    }
    check_len(Limit::ListLength, spec.endpoint_spec.ports.len())?;
    for port in &spec.endpoint_spec.ports {
        check_text(&port.name)?;
    }
    Ok(())
}

pub(super) fn check_network_spec(spec: &NetworkSpec) -> Result<(), Rejection> {
    check_network_name(&spec.name)?;
    if spec.driver.is_empty() {
        return Err(Rejection::InvalidSpec { reason: "network driver must not be empty".to_string() });
    }
    check_len(Limit::NameLength, spec.driver.len())?;
    check_labels(&spec.labels)?;
    check_labels(&spec.options)
}
