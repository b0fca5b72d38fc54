//! Snapshot format 8, the one before secrets and configs (two formats back, still read: `v9` only adds the cluster's
//! `ca` on top of it): the objects whose shape changed since, as they were then,
//! so a manager restarted on this build loads what the previous build wrote. Format 8 had no secrets or configs,
//! no secret and config references in the container spec, and no node certificate expiry in the cluster settings.
//! Postcard is not self-describing, so every type on the way from a stored object down to a changed type is copied
//! here field for field: the cluster and its settings, and the service, the task, the service spec, the task spec
//! and the container spec; everything else (nodes, networks, removed nodes, tunnel records, mounts and the spec's
//! other parts) is unchanged and uses today's types. Invariant: converting up fills the new fields with their
//! empty values (no secrets, no configs, no references; the default node certificate expiry,
//! `DEFAULT_NODE_CERT_EXPIRY_MS`), and converting down (for tests of this path) drops them, so
//! `upgrade(downgrade(x)) == x` for every store that uses none of them. Proposal format 6 (`proposal_v6`) carries
//! the same spec, task and settings shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SnapshotOwned;
use crate::ipam::Ipv4Cidr;
use crate::model::{
    Cluster, ClusterCa, ClusterSettings, EndpointSpec, JoinTokens, Network, NetworkAttachment, Node, NodeTunnel,
    RemovedNode, Service, ServiceMode, ServiceSpec, Task, TaskSpec, TaskState, TaskStatus, Timestamp, UpdateStatus,
    Version, VirtualIp, DEFAULT_NODE_CERT_EXPIRY_MS,
};
use crate::spec::{
    ContainerSpec, DnsConfig, HealthConfig, LogDriver, Mount, NetworkAttachmentConfig, Placement, ResourceRequirements,
    RestartPolicy, Ulimit, UpdateConfig,
};
use crate::store::Store;

#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotV8 {
    cluster: Option<ClusterV8>,
    nodes: BTreeMap<String, Node>,
    services: BTreeMap<String, ServiceV8>,
    tasks: BTreeMap<String, TaskV8>,
    networks: BTreeMap<String, Network>,
    removed_nodes: Vec<RemovedNode>,
    tunnels: BTreeMap<String, NodeTunnel>,
}

#[derive(Serialize, Deserialize)]
struct ClusterV8 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    settings: ClusterSettingsV8,
    join_tokens: JoinTokens,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ClusterSettingsV8 {
    task_history_retention_limit: u64,
    dispatcher_heartbeat_period_ms: u64,
    snapshot_interval_entries: u64,
    log_entries_for_slow_followers: u64,
    default_addr_pools: Vec<Ipv4Cidr>,
    default_subnet_prefix_len: u8,
    data_path_port: u16,
}

#[derive(Serialize, Deserialize)]
struct ServiceV8 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    spec: ServiceSpecV8,
    previous_spec: Option<ServiceSpecV8>,
    spec_history: Vec<ServiceSpecV8>,
    update_status: Option<UpdateStatus>,
    virtual_ips: Vec<VirtualIp>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct TaskV8 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    service_id: String,
    slot: Option<u64>,
    node_id: Option<String>,
    desired_state: TaskState,
    status: TaskStatus,
    spec: TaskSpecV8,
    service_name: String,
    endpoint: EndpointSpec,
    running_since: Option<Timestamp>,
    networks: Vec<NetworkAttachment>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ServiceSpecV8 {
    name: String,
    labels: BTreeMap<String, String>,
    task_template: TaskSpecV8,
    mode: ServiceMode,
    update_config: Option<UpdateConfig>,
    rollback_config: Option<UpdateConfig>,
    endpoint_spec: EndpointSpec,
}

#[derive(Serialize, Deserialize)]
struct TaskSpecV8 {
    container_spec: ContainerSpecV8,
    resources: ResourceRequirements,
    restart_policy: RestartPolicy,
    placement: Placement,
    networks: Vec<NetworkAttachmentConfig>,
    force_update: u64,
    log_driver: Option<LogDriver>,
}

#[derive(Serialize, Deserialize)]
struct ContainerSpecV8 {
    image: String,
    labels: BTreeMap<String, String>,
    command: Vec<String>,
    args: Vec<String>,
    hostname: String,
    env: Vec<String>,
    dir: String,
    user: String,
    mounts: Vec<Mount>,
    stop_grace_period_ns: u64,
    healthcheck: Option<HealthConfig>,
    stop_signal: String,
    read_only: bool,
    init: Option<bool>,
    capability_add: Vec<String>,
    capability_drop: Vec<String>,
    sysctls: BTreeMap<String, String>,
    ulimits: Vec<Ulimit>,
    hosts: Vec<String>,
    dns_config: DnsConfig,
}

impl SnapshotV8 {
    /// The objects in today's types: cluster, services and tasks upgraded, no secrets or configs, the rest as it
    /// was.
    pub fn upgrade(self) -> SnapshotOwned {
        SnapshotOwned {
            cluster: self.cluster.map(ClusterV8::upgrade),
            nodes: self.nodes,
            services: map_values(self.services, ServiceV8::upgrade),
            tasks: map_values(self.tasks, TaskV8::upgrade),
            networks: self.networks,
            removed_nodes: self.removed_nodes,
            tunnels: self.tunnels,
            secrets: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// `store` written as format 8: secrets, configs and the other new fields dropped.
    pub fn downgrade(store: &Store) -> SnapshotV8 {
        SnapshotV8 {
            cluster: store.cluster.clone().map(ClusterV8::downgrade),
            nodes: store.nodes.clone(),
            services: map_values(store.services.clone(), ServiceV8::downgrade),
            tasks: map_values(store.tasks.clone(), TaskV8::downgrade),
            networks: store.networks.clone(),
            removed_nodes: store.removed_nodes.clone(),
            tunnels: store.tunnels.clone(),
        }
    }
}

impl ClusterV8 {
    fn upgrade(self) -> Cluster {
        Cluster {
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            settings: self.settings.upgrade(),
            join_tokens: self.join_tokens,
            unlock_key: String::new(),
            ca: ClusterCa::default(),
        }
    }

    fn downgrade(cluster: Cluster) -> ClusterV8 {
        ClusterV8 {
            id: cluster.id,
            version: cluster.version,
            created_at: cluster.created_at,
            updated_at: cluster.updated_at,
            settings: ClusterSettingsV8::downgrade(cluster.settings),
            join_tokens: cluster.join_tokens,
        }
    }
}

impl ClusterSettingsV8 {
    pub(super) fn upgrade(self) -> ClusterSettings {
        ClusterSettings {
            task_history_retention_limit: self.task_history_retention_limit,
            dispatcher_heartbeat_period_ms: self.dispatcher_heartbeat_period_ms,
            snapshot_interval_entries: self.snapshot_interval_entries,
            log_entries_for_slow_followers: self.log_entries_for_slow_followers,
            default_addr_pools: self.default_addr_pools,
            default_subnet_prefix_len: self.default_subnet_prefix_len,
            data_path_port: self.data_path_port,
            node_cert_expiry_ms: DEFAULT_NODE_CERT_EXPIRY_MS,
        }
    }

    pub(super) fn downgrade(settings: ClusterSettings) -> ClusterSettingsV8 {
        ClusterSettingsV8 {
            task_history_retention_limit: settings.task_history_retention_limit,
            dispatcher_heartbeat_period_ms: settings.dispatcher_heartbeat_period_ms,
            snapshot_interval_entries: settings.snapshot_interval_entries,
            log_entries_for_slow_followers: settings.log_entries_for_slow_followers,
            default_addr_pools: settings.default_addr_pools,
            default_subnet_prefix_len: settings.default_subnet_prefix_len,
            data_path_port: settings.data_path_port,
        }
    }
}

impl ServiceV8 {
    fn upgrade(self) -> Service {
        Service {
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            spec: self.spec.upgrade(),
            previous_spec: self.previous_spec.map(ServiceSpecV8::upgrade),
            spec_history: self.spec_history.into_iter().map(ServiceSpecV8::upgrade).collect(),
            update_status: self.update_status,
            virtual_ips: self.virtual_ips,
        }
    }

    fn downgrade(service: Service) -> ServiceV8 {
        ServiceV8 {
            id: service.id,
            version: service.version,
            created_at: service.created_at,
            updated_at: service.updated_at,
            spec: ServiceSpecV8::downgrade(service.spec),
            previous_spec: service.previous_spec.map(ServiceSpecV8::downgrade),
            spec_history: service.spec_history.into_iter().map(ServiceSpecV8::downgrade).collect(),
            update_status: service.update_status,
            virtual_ips: service.virtual_ips,
        }
    }
}

impl TaskV8 {
    pub(super) fn upgrade(self) -> Task {
        Task {
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            service_id: self.service_id,
            slot: self.slot,
            node_id: self.node_id,
            desired_state: self.desired_state,
            status: self.status,
            spec: self.spec.upgrade(),
            service_name: self.service_name,
            endpoint: self.endpoint,
            running_since: self.running_since,
            networks: self.networks,
        }
    }

    pub(super) fn downgrade(task: Task) -> TaskV8 {
        TaskV8 {
            id: task.id,
            version: task.version,
            created_at: task.created_at,
            updated_at: task.updated_at,
            service_id: task.service_id,
            slot: task.slot,
            node_id: task.node_id,
            desired_state: task.desired_state,
            status: task.status,
            spec: TaskSpecV8::downgrade(task.spec),
            service_name: task.service_name,
            endpoint: task.endpoint,
            running_since: task.running_since,
            networks: task.networks,
        }
    }
}

impl ServiceSpecV8 {
    pub(super) fn upgrade(self) -> ServiceSpec {
        ServiceSpec {
            name: self.name,
            labels: self.labels,
            task_template: self.task_template.upgrade(),
            mode: self.mode,
            update_config: self.update_config,
            rollback_config: self.rollback_config,
            endpoint_spec: self.endpoint_spec,
        }
    }

    pub(super) fn downgrade(spec: ServiceSpec) -> ServiceSpecV8 {
        ServiceSpecV8 {
            name: spec.name,
            labels: spec.labels,
            task_template: TaskSpecV8::downgrade(spec.task_template),
            mode: spec.mode,
            update_config: spec.update_config,
            rollback_config: spec.rollback_config,
            endpoint_spec: spec.endpoint_spec,
        }
    }
}

impl TaskSpecV8 {
    fn upgrade(self) -> TaskSpec {
        TaskSpec {
            container_spec: self.container_spec.upgrade(),
            resources: self.resources,
            restart_policy: self.restart_policy,
            placement: self.placement,
            networks: self.networks,
            force_update: self.force_update,
            log_driver: self.log_driver,
        }
    }

    fn downgrade(spec: TaskSpec) -> TaskSpecV8 {
        TaskSpecV8 {
            container_spec: ContainerSpecV8::downgrade(spec.container_spec),
            resources: spec.resources,
            restart_policy: spec.restart_policy,
            placement: spec.placement,
            networks: spec.networks,
            force_update: spec.force_update,
            log_driver: spec.log_driver,
        }
    }
}

impl ContainerSpecV8 {
    fn upgrade(self) -> ContainerSpec {
        ContainerSpec {
            image: self.image,
            labels: self.labels,
            command: self.command,
            args: self.args,
            hostname: self.hostname,
            env: self.env,
            dir: self.dir,
            user: self.user,
            mounts: self.mounts,
            stop_grace_period_ns: self.stop_grace_period_ns,
            healthcheck: self.healthcheck,
            stop_signal: self.stop_signal,
            read_only: self.read_only,
            init: self.init,
            capability_add: self.capability_add,
            capability_drop: self.capability_drop,
            sysctls: self.sysctls,
            ulimits: self.ulimits,
            hosts: self.hosts,
            dns_config: self.dns_config,
            secrets: Vec::new(),
            configs: Vec::new(),
        }
    }

    fn downgrade(spec: ContainerSpec) -> ContainerSpecV8 {
        ContainerSpecV8 {
            image: spec.image,
            labels: spec.labels,
            command: spec.command,
            args: spec.args,
            hostname: spec.hostname,
            env: spec.env,
            dir: spec.dir,
            user: spec.user,
            mounts: spec.mounts,
            stop_grace_period_ns: spec.stop_grace_period_ns,
            healthcheck: spec.healthcheck,
            stop_signal: spec.stop_signal,
            read_only: spec.read_only,
            init: spec.init,
            capability_add: spec.capability_add,
            capability_drop: spec.capability_drop,
            sysctls: spec.sysctls,
            ulimits: spec.ulimits,
            hosts: spec.hosts,
            dns_config: spec.dns_config,
        }
    }
}

fn map_values<A, B>(map: BTreeMap<String, A>, f: impl Fn(A) -> B) -> BTreeMap<String, B> {
    map.into_iter().map(|(key, value)| (key, f(value))).collect()
}
