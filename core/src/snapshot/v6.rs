//! Snapshot format 6, the one before the container options (stop signal, capabilities, sysctls, ulimits, hosts,
//! DNS config, read-only root, init, tmpfs options, the task's log driver): the objects that carry a service spec
//! or a task template as they were then, so a manager restarted on this build loads what the previous build wrote.
//! Postcard is not self-describing, so every type on the way from a stored object down to `ContainerSpec` and
//! `Mount` is copied here field for field; everything else (cluster, nodes, networks, the spec's other parts) is
//! unchanged and uses today's types. Converting up fills the new fields with their empty values (no option set,
//! `init` unset, no log driver); converting down (for tests of this path) drops them. Proposal format 5
//! (`proposal_v5`) carries the same spec and task shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SnapshotOwned;
use crate::model::{
    Cluster, EndpointSpec, Network, NetworkAttachment, Node, RemovedNode, Service, ServiceMode, ServiceSpec, Task,
    TaskSpec, TaskState, TaskStatus, Timestamp, UpdateStatus, Version, VirtualIp,
};
use crate::spec::{
    ContainerSpec, HealthConfig, Mount, MountType, NetworkAttachmentConfig, Placement, ResourceRequirements,
    RestartPolicy, UpdateConfig,
};

#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotV6 {
    pub cluster: Option<Cluster>,
    pub nodes: BTreeMap<String, Node>,
    pub services: BTreeMap<String, ServiceV6>,
    pub tasks: BTreeMap<String, TaskV6>,
    pub networks: BTreeMap<String, Network>,
    pub removed_nodes: Vec<RemovedNode>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ServiceV6 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    spec: ServiceSpecV6,
    previous_spec: Option<ServiceSpecV6>,
    spec_history: Vec<ServiceSpecV6>,
    update_status: Option<UpdateStatus>,
    virtual_ips: Vec<VirtualIp>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct TaskV6 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    service_id: String,
    slot: Option<u64>,
    node_id: Option<String>,
    desired_state: TaskState,
    status: TaskStatus,
    spec: TaskSpecV6,
    service_name: String,
    endpoint: EndpointSpec,
    running_since: Option<Timestamp>,
    networks: Vec<NetworkAttachment>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ServiceSpecV6 {
    name: String,
    labels: BTreeMap<String, String>,
    task_template: TaskSpecV6,
    mode: ServiceMode,
    update_config: Option<UpdateConfig>,
    rollback_config: Option<UpdateConfig>,
    endpoint_spec: EndpointSpec,
}

#[derive(Serialize, Deserialize)]
struct TaskSpecV6 {
    container_spec: ContainerSpecV6,
    resources: ResourceRequirements,
    restart_policy: RestartPolicy,
    placement: Placement,
    networks: Vec<NetworkAttachmentConfig>,
    force_update: u64,
}

#[derive(Serialize, Deserialize)]
struct ContainerSpecV6 {
    image: String,
    labels: BTreeMap<String, String>,
    command: Vec<String>,
    args: Vec<String>,
    hostname: String,
    env: Vec<String>,
    dir: String,
    user: String,
    mounts: Vec<MountV6>,
    stop_grace_period_ns: u64,
    healthcheck: Option<HealthConfig>,
}

#[derive(Serialize, Deserialize)]
struct MountV6 {
    kind: MountType,
    source: String,
    target: String,
    read_only: bool,
}

impl SnapshotV6 {
    /// The objects in today's types: services and tasks upgraded, the rest as it was.
    pub fn upgrade(self) -> SnapshotOwned {
        let services = map_values(self.services, |s| Service {
            id: s.id,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
            spec: s.spec.upgrade(),
            previous_spec: s.previous_spec.map(ServiceSpecV6::upgrade),
            spec_history: s.spec_history.into_iter().map(ServiceSpecV6::upgrade).collect(),
            update_status: s.update_status,
            virtual_ips: s.virtual_ips,
        });
        let tasks = map_values(self.tasks, TaskV6::upgrade);
        SnapshotOwned {
            cluster: self.cluster,
            nodes: self.nodes,
            services,
            tasks,
            networks: self.networks,
            removed_nodes: self.removed_nodes,
            tunnels: BTreeMap::new(),
        }
    }

    /// Today's objects written as format 6 (the new fields dropped).
    pub fn downgrade(
        cluster: Option<&Cluster>,
        nodes: &BTreeMap<String, Node>,
        services: &BTreeMap<String, Service>,
        tasks: &BTreeMap<String, Task>,
        networks: &BTreeMap<String, Network>,
        removed_nodes: &[RemovedNode],
    ) -> SnapshotV6 {
        SnapshotV6 {
            cluster: cluster.cloned(),
            nodes: nodes.clone(),
            services: map_values(services.clone(), |s| ServiceV6 {
                id: s.id,
                version: s.version,
                created_at: s.created_at,
                updated_at: s.updated_at,
                spec: ServiceSpecV6::downgrade(s.spec),
                previous_spec: s.previous_spec.map(ServiceSpecV6::downgrade),
                spec_history: s.spec_history.into_iter().map(ServiceSpecV6::downgrade).collect(),
                update_status: s.update_status,
                virtual_ips: s.virtual_ips,
            }),
            tasks: map_values(tasks.clone(), TaskV6::downgrade),
            networks: networks.clone(),
            removed_nodes: removed_nodes.to_vec(),
        }
    }
}

impl TaskV6 {
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

    pub(super) fn downgrade(task: Task) -> TaskV6 {
        TaskV6 {
            id: task.id,
            version: task.version,
            created_at: task.created_at,
            updated_at: task.updated_at,
            service_id: task.service_id,
            slot: task.slot,
            node_id: task.node_id,
            desired_state: task.desired_state,
            status: task.status,
            spec: TaskSpecV6::downgrade(task.spec),
            service_name: task.service_name,
            endpoint: task.endpoint,
            running_since: task.running_since,
            networks: task.networks,
        }
    }
}

impl ServiceSpecV6 {
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

    pub(super) fn downgrade(spec: ServiceSpec) -> ServiceSpecV6 {
        ServiceSpecV6 {
            name: spec.name,
            labels: spec.labels,
            task_template: TaskSpecV6::downgrade(spec.task_template),
            mode: spec.mode,
            update_config: spec.update_config,
            rollback_config: spec.rollback_config,
            endpoint_spec: spec.endpoint_spec,
        }
    }
}

impl TaskSpecV6 {
    fn upgrade(self) -> TaskSpec {
        TaskSpec {
            container_spec: self.container_spec.upgrade(),
            resources: self.resources,
            restart_policy: self.restart_policy,
            placement: self.placement,
            networks: self.networks,
            force_update: self.force_update,
            log_driver: None,
        }
    }

    fn downgrade(spec: TaskSpec) -> TaskSpecV6 {
        TaskSpecV6 {
            container_spec: ContainerSpecV6::downgrade(spec.container_spec),
            resources: spec.resources,
            restart_policy: spec.restart_policy,
            placement: spec.placement,
            networks: spec.networks,
            force_update: spec.force_update,
        }
    }
}

impl ContainerSpecV6 {
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
            mounts: self.mounts.into_iter().map(MountV6::upgrade).collect(),
            stop_grace_period_ns: self.stop_grace_period_ns,
            healthcheck: self.healthcheck,
            ..ContainerSpec::default()
        }
    }

    fn downgrade(spec: ContainerSpec) -> ContainerSpecV6 {
        ContainerSpecV6 {
            image: spec.image,
            labels: spec.labels,
            command: spec.command,
            args: spec.args,
            hostname: spec.hostname,
            env: spec.env,
            dir: spec.dir,
            user: spec.user,
            mounts: spec.mounts.into_iter().map(MountV6::downgrade).collect(),
            stop_grace_period_ns: spec.stop_grace_period_ns,
            healthcheck: spec.healthcheck,
        }
    }
}

impl MountV6 {
    fn upgrade(self) -> Mount {
        Mount {
            kind: self.kind,
            source: self.source,
            target: self.target,
            read_only: self.read_only,
            tmpfs_options: None,
        }
    }

    fn downgrade(mount: Mount) -> MountV6 {
        MountV6 { kind: mount.kind, source: mount.source, target: mount.target, read_only: mount.read_only }
    }
}

fn map_values<A, B>(map: BTreeMap<String, A>, f: impl Fn(A) -> B) -> BTreeMap<String, B> {
    map.into_iter().map(|(key, value)| (key, f(value))).collect()
}
