//! `service inspect` and `node inspect` as Docker prints them: the objects in the Engine API's shape and field names
//! (`ID`, `Version.Index`, `Spec.TaskTemplate.ContainerSpec.Image`, `Spec.Mode.Replicated.Replicas`,
//! `Endpoint.VirtualIPs`, `ContainerSpec.Secrets[].SecretName`, `Status.Addr`, `ManagerStatus.Leader`, …), so the
//! `--format` templates operators already use work unchanged. Durations are nanoseconds and times RFC 3339, as in the
//! API; a field Docker leaves out when empty (`omitempty`) is left out here too. Pure functions of a `ClusterView`; the
//! values are `serde_json` trees because the shape, not a Rust type, is the contract.

use serde_json::{json, Map, Value};
use swarm_core::model::{Node, Service};
use swarm_core::spec::{
    ContainerSpec, EndpointSpec, FileTarget, PlacementPreference, PortConfig, PublishMode, Resources, ServiceMode,
    ServiceSpec, TaskSpec, UpdateConfig,
};
use swarm_runtime::control::view::ClusterView;

use super::time::rfc3339_utc;

/// A JSON object that takes a field only when it is worth showing (Docker's `omitempty`).
#[derive(Default)]
struct Object(Map<String, Value>);

impl Object {
    fn with(mut self, key: &str, value: impl Into<Value>) -> Object {
        self.0.insert(key.to_string(), value.into());
        self
    }

    /// `value` unless it is empty: "", 0, false, [], {} or null.
    fn with_nonempty(self, key: &str, value: impl Into<Value>) -> Object {
        let value = value.into();
        let empty = match &value {
            Value::Null => true,
            Value::Bool(flag) => !flag,
            Value::Number(number) => number.as_f64() == Some(0.0),
            Value::String(text) => text.is_empty(),
            Value::Array(items) => items.is_empty(),
            Value::Object(fields) => fields.is_empty(),
        };
        if empty {
            self
        } else {
            self.with(key, value)
        }
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// `docker service inspect` of `service`.
pub fn service(view: &ClusterView, service: &Service) -> Value {
    let virtual_ips: Vec<Value> = service
        .virtual_ips
        .iter()
        .map(|vip| {
            let prefix =
                view.networks.iter().find(|n| n.id == vip.network_id).map(|n| n.allocation.subnet.prefix_len());
            let addr = prefix.map_or_else(|| vip.addr.to_string(), |prefix| format!("{}/{prefix}", vip.addr));
            json!({"NetworkID": vip.network_id, "Addr": addr})
        })
        .collect();
    let endpoint = Object::default()
        .with("Spec", endpoint_spec(&service.spec.endpoint_spec))
        .with_nonempty("Ports", endpoint_ports(&service.spec.endpoint_spec.ports))
        .with_nonempty("VirtualIPs", virtual_ips)
        .done();
    let update_status = service.update_status.as_ref().map(|status| {
        Object::default()
            .with("State", serde_json::to_value(status.state).unwrap_or_default())
            .with_nonempty("StartedAt", status.started_at.map(rfc3339_utc))
            .with_nonempty("CompletedAt", status.completed_at.map(rfc3339_utc))
            .with("Message", status.message.clone())
            .done()
    });
    Object::default()
        .with("ID", service.id.clone())
        .with("Version", json!({"Index": service.version.0}))
        .with("CreatedAt", rfc3339_utc(service.created_at))
        .with("UpdatedAt", rfc3339_utc(service.updated_at))
        .with("Spec", service_spec(view, &service.spec))
        .with_nonempty("PreviousSpec", service.previous_spec.as_ref().map(|spec| service_spec(view, spec)))
        .with("Endpoint", endpoint)
        .with_nonempty("UpdateStatus", update_status)
        .done()
}

fn service_spec(view: &ClusterView, spec: &ServiceSpec) -> Value {
    let mode = match spec.mode {
        ServiceMode::Replicated { replicas } => json!({"Replicated": {"Replicas": replicas}}),
        ServiceMode::Global => json!({"Global": {}}),
        ServiceMode::ReplicatedJob { max_concurrent, total_completions } => {
            json!({"ReplicatedJob": {"MaxConcurrent": max_concurrent, "TotalCompletions": total_completions}})
        }
        ServiceMode::GlobalJob => json!({"GlobalJob": {}}),
    };
    Object::default()
        .with("Name", spec.name.clone())
        .with("Labels", json!(spec.labels))
        .with("TaskTemplate", task_template(view, &spec.task_template))
        .with("Mode", mode)
        .with_nonempty("UpdateConfig", spec.update_config.as_ref().map(update_config))
        .with_nonempty("RollbackConfig", spec.rollback_config.as_ref().map(update_config))
        .with("EndpointSpec", endpoint_spec(&spec.endpoint_spec))
        .done()
}

fn task_template(view: &ClusterView, task: &TaskSpec) -> Value {
    let amounts = |resources: &Resources| {
        Object::default()
            .with_nonempty("NanoCPUs", resources.nano_cpus)
            .with_nonempty("MemoryBytes", resources.memory_bytes)
            .done()
    };
    let resources = Object::default()
        .with("Limits", amounts(&task.resources.limits))
        .with("Reservations", amounts(&task.resources.reservations))
        .done();
    let policy = &task.restart_policy;
    let restart_policy = Object::default()
        .with("Condition", policy.condition.as_str())
        .with("Delay", policy.delay_ns)
        .with("MaxAttempts", policy.max_attempts)
        .with_nonempty("Window", policy.window_ns)
        .done();
    let placement = &task.placement;
    let preferences: Vec<Value> = placement
        .preferences
        .iter()
        .map(|preference| match preference {
            PlacementPreference::Spread { spread_descriptor } => {
                json!({"Spread": {"SpreadDescriptor": spread_descriptor}})
            }
        })
        .collect();
    let platforms: Vec<Value> = placement
        .platforms
        .iter()
        .map(|platform| json!({"Architecture": platform.architecture, "OS": platform.os}))
        .collect();
    let placement = Object::default()
        .with_nonempty("Constraints", json!(placement.constraints))
        .with_nonempty("Preferences", preferences)
        .with_nonempty("MaxReplicas", placement.max_replicas)
        .with_nonempty("Platforms", platforms)
        .done();
    let networks: Vec<Value> = task
        .networks
        .iter()
        .map(|attachment| {
            // Docker shows the network's id; a spec naming a network that is gone keeps what it said.
            let id = view
                .networks
                .iter()
                .find(|n| n.id == attachment.target || n.spec.name == attachment.target)
                .map_or_else(|| attachment.target.clone(), |n| n.id.clone());
            Object::default().with("Target", id).with_nonempty("Aliases", json!(attachment.aliases)).done()
        })
        .collect();
    let log_driver = task.log_driver.as_ref().map(|driver| {
        Object::default().with("Name", driver.name.clone()).with_nonempty("Options", json!(driver.options)).done()
    });
    Object::default()
        .with("ContainerSpec", container_spec(&task.container_spec))
        .with("Resources", resources)
        .with("RestartPolicy", restart_policy)
        .with("Placement", placement)
        .with_nonempty("Networks", networks)
        .with("ForceUpdate", task.force_update)
        .with("Runtime", "container")
        .with_nonempty("LogDriver", log_driver)
        .done()
}

fn container_spec(spec: &ContainerSpec) -> Value {
    let mounts: Vec<Value> = spec
        .mounts
        .iter()
        .map(|mount| {
            let tmpfs = mount.tmpfs_options.as_ref().map(|options| {
                Object::default()
                    .with_nonempty("SizeBytes", options.size_bytes)
                    .with_nonempty("Mode", options.mode)
                    .done()
            });
            Object::default()
                .with("Type", mount.kind.as_str())
                .with_nonempty("Source", mount.source.clone())
                .with("Target", mount.target.clone())
                .with_nonempty("ReadOnly", mount.read_only)
                .with_nonempty("TmpfsOptions", tmpfs)
                .done()
        })
        .collect();
    let healthcheck = spec.healthcheck.as_ref().map(|health| {
        Object::default()
            .with_nonempty("Test", json!(health.test))
            .with_nonempty("Interval", health.interval_ns)
            .with_nonempty("Timeout", health.timeout_ns)
            .with_nonempty("StartPeriod", health.start_period_ns)
            .with_nonempty("Retries", health.retries)
            .done()
    });
    let ulimits: Vec<Value> = spec
        .ulimits
        .iter()
        .map(|ulimit| json!({"Name": ulimit.name, "Soft": ulimit.soft, "Hard": ulimit.hard}))
        .collect();
    let dns = &spec.dns_config;
    let dns_config = Object::default()
        .with_nonempty("Nameservers", json!(dns.nameservers))
        .with_nonempty("Search", json!(dns.search))
        .with_nonempty("Options", json!(dns.options))
        .done();
    // Docker's `File` of a reference: the mode as a number (`0444` is 292).
    let file = |file: &FileTarget| json!({"Name": file.name, "UID": file.uid, "GID": file.gid, "Mode": file.mode});
    let secrets: Vec<Value> = spec
        .secrets
        .iter()
        .map(|secret| {
            json!({"File": file(&secret.file), "SecretID": secret.secret_id, "SecretName": secret.secret_name})
        })
        .collect();
    let configs: Vec<Value> = spec
        .configs
        .iter()
        .map(|config| {
            json!({"File": file(&config.file), "ConfigID": config.config_id, "ConfigName": config.config_name})
        })
        .collect();
    Object::default()
        .with("Image", spec.image.clone())
        .with_nonempty("Labels", json!(spec.labels))
        .with_nonempty("Command", json!(spec.command))
        .with_nonempty("Args", json!(spec.args))
        .with_nonempty("Hostname", spec.hostname.clone())
        .with_nonempty("Env", json!(spec.env))
        .with_nonempty("Dir", spec.dir.clone())
        .with_nonempty("User", spec.user.clone())
        .with_nonempty("Mounts", mounts)
        .with_nonempty("StopGracePeriod", spec.stop_grace_period_ns)
        .with_nonempty("Healthcheck", healthcheck)
        .with_nonempty("StopSignal", spec.stop_signal.clone())
        .with_nonempty("ReadOnly", spec.read_only)
        .with_nonempty("Init", spec.init)
        .with_nonempty("CapabilityAdd", json!(spec.capability_add))
        .with_nonempty("CapabilityDrop", json!(spec.capability_drop))
        .with_nonempty("Sysctls", json!(spec.sysctls))
        .with_nonempty("Ulimits", ulimits)
        .with_nonempty("Hosts", json!(spec.hosts))
        .with("DNSConfig", dns_config)
        .with_nonempty("Secrets", secrets)
        .with_nonempty("Configs", configs)
        .with("Isolation", "default")
        .done()
}

fn update_config(config: &UpdateConfig) -> Value {
    Object::default()
        .with("Parallelism", config.parallelism)
        .with_nonempty("Delay", config.delay_ns)
        .with("FailureAction", config.failure_action.as_str())
        .with_nonempty("Monitor", config.monitor_ns)
        .with("MaxFailureRatio", f64::from(config.max_failure_ratio.0))
        .with("Order", config.order.as_str())
        .done()
}

fn endpoint_spec(spec: &EndpointSpec) -> Value {
    Object::default().with("Mode", spec.mode.as_str()).with_nonempty("Ports", ports(&spec.ports)).done()
}

fn ports(ports: &[PortConfig]) -> Vec<Value> {
    ports
        .iter()
        .map(|port| {
            Object::default()
                .with_nonempty("Name", port.name.clone())
                .with("Protocol", port.protocol.as_str())
                .with("TargetPort", port.target_port)
                .with_nonempty("PublishedPort", port.published_port)
                .with("PublishMode", port.publish_mode.as_str())
                .done()
        })
        .collect()
}

/// What the routing mesh does to the client's address of a port published through it (beyond Swarm, which loses
/// it: moby/moby#25526), shown by `service inspect` beside the port.
pub const MESH_CLIENT_ADDRESS: &str =
    "kept, but a client on the receiving node itself shows as that node's ingress gateway";

/// The ports as the endpoint realises them: the spec's, and for one published through the routing mesh what the
/// task sees of its clients' addresses.
fn endpoint_ports(spec_ports: &[PortConfig]) -> Vec<Value> {
    let mut values = ports(spec_ports);
    for (value, port) in values.iter_mut().zip(spec_ports) {
        if let (Value::Object(fields), PublishMode::Ingress) = (value, port.publish_mode) {
            fields.insert("ClientAddress".to_string(), Value::from(MESH_CLIENT_ADDRESS));
        }
    }
    values
}

/// `docker node inspect` of `node`.
pub fn node(node: &Node) -> Value {
    let spec = Object::default()
        .with_nonempty("Name", node.spec.name.clone())
        .with("Labels", json!(node.spec.labels))
        .with("Role", serde_json::to_value(node.spec.role).unwrap_or_default())
        .with("Availability", serde_json::to_value(node.spec.availability).unwrap_or_default())
        .done();
    let description = &node.description;
    let engine = Object::default()
        .with("EngineVersion", description.engine.engine_version.clone())
        .with_nonempty("Labels", json!(description.engine.labels))
        .done();
    let description = json!({
        "Hostname": description.hostname,
        "Platform": {"Architecture": description.platform.architecture, "OS": description.platform.os},
        "Resources": {"NanoCPUs": description.resources.nano_cpus, "MemoryBytes": description.resources.memory_bytes},
        "Engine": engine,
    });
    let status = Object::default()
        .with("State", serde_json::to_value(node.status.state).unwrap_or_default())
        .with_nonempty("Message", node.status.message.clone())
        .with("Addr", node.status.addr.clone())
        .done();
    let manager_status = node.manager_status.as_ref().map(|manager| {
        Object::default()
            .with_nonempty("Leader", manager.leader)
            .with("Reachability", serde_json::to_value(manager.reachability).unwrap_or_default())
            .with("Addr", manager.addr.clone())
            .done()
    });
    Object::default()
        .with("ID", node.id.clone())
        .with("Version", json!({"Index": node.version.0}))
        .with("CreatedAt", rfc3339_utc(node.created_at))
        .with("UpdatedAt", rfc3339_utc(node.updated_at))
        .with("Spec", spec)
        .with("Description", description)
        .with("Status", status)
        .with_nonempty("ManagerStatus", manager_status)
        .done()
}
