//! Snapshot format 5, the one before overlay networks: the objects as they were then, so a manager restarted on
//! this build loads what the previous build wrote. Converting up fills what format 5 lacked with its empty value
//! (no networks' allocations existed: format-5 networks get the pool's subnets in id order, as `apply` would have
//! chosen). Converting down (for tests of this path) drops the new fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ipam::Ipam;
use crate::model::{
    Cluster, ClusterSettings, EndpointSpec, JoinTokens, Network, NetworkAllocation, NetworkSpec, Node, RemovedNode,
    Service, ServiceSpec, Task, TaskSpec, TaskState, TaskStatus, Timestamp, UpdateStatus, Version,
};

#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotV5 {
    pub cluster: Option<ClusterV5>,
    pub nodes: BTreeMap<String, Node>,
    pub services: BTreeMap<String, ServiceV5>,
    pub tasks: BTreeMap<String, TaskV5>,
    pub networks: BTreeMap<String, NetworkV5>,
    pub removed_nodes: Vec<RemovedNode>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ClusterV5 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    settings: ClusterSettingsV5,
    join_tokens: JoinTokens,
}

#[derive(Serialize, Deserialize)]
struct ClusterSettingsV5 {
    task_history_retention_limit: u64,
    dispatcher_heartbeat_period_ms: u64,
    snapshot_interval_entries: u64,
    log_entries_for_slow_followers: u64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ServiceV5 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    spec: ServiceSpec,
    previous_spec: Option<ServiceSpec>,
    spec_history: Vec<ServiceSpec>,
    update_status: Option<UpdateStatus>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct TaskV5 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    service_id: String,
    slot: Option<u64>,
    node_id: Option<String>,
    desired_state: TaskState,
    status: TaskStatus,
    spec: TaskSpec,
    service_name: String,
    endpoint: EndpointSpec,
    running_since: Option<Timestamp>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct NetworkV5 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    spec: NetworkSpecV5,
}

#[derive(Serialize, Deserialize)]
struct NetworkSpecV5 {
    name: String,
    driver: String,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
}

/// The objects of a format-5 snapshot in today's types.
pub(super) struct Upgraded {
    pub cluster: Option<Cluster>,
    pub services: BTreeMap<String, Service>,
    pub tasks: BTreeMap<String, Task>,
    pub networks: BTreeMap<String, Network>,
}

impl SnapshotV5 {
    pub fn upgrade(self) -> (Upgraded, BTreeMap<String, Node>, Vec<RemovedNode>) {
        let cluster = self.cluster.map(|c| Cluster {
            id: c.id,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
            settings: ClusterSettings {
                task_history_retention_limit: c.settings.task_history_retention_limit,
                dispatcher_heartbeat_period_ms: c.settings.dispatcher_heartbeat_period_ms,
                snapshot_interval_entries: c.settings.snapshot_interval_entries,
                log_entries_for_slow_followers: c.settings.log_entries_for_slow_followers,
                ..ClusterSettings::default()
            },
            join_tokens: c.join_tokens,
        });
        let services = map_values(self.services, |s| Service {
            id: s.id,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
            spec: s.spec,
            previous_spec: s.previous_spec,
            spec_history: s.spec_history,
            update_status: s.update_status,
            virtual_ips: Vec::new(),
        });
        let tasks = map_values(self.tasks, |t| Task {
            id: t.id,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
            service_id: t.service_id,
            slot: t.slot,
            node_id: t.node_id,
            desired_state: t.desired_state,
            status: t.status,
            spec: t.spec,
            service_name: t.service_name,
            endpoint: t.endpoint,
            running_since: t.running_since,
            networks: Vec::new(),
        });
        let settings = cluster.as_ref().map(|c| c.settings.clone()).unwrap_or_default();
        let mut ipam = Ipam::default();
        let mut networks = BTreeMap::new();
        for (key, n) in self.networks {
            let subnet = ipam
                .free_subnet(&settings.default_addr_pools, settings.default_subnet_prefix_len)
                .unwrap_or(crate::ipam::Ipv4Cidr::TEN_SLASH_EIGHT);
            let network = Network {
                id: n.id,
                version: n.version,
                created_at: n.created_at,
                updated_at: n.updated_at,
                spec: NetworkSpec {
                    name: n.spec.name,
                    driver: n.spec.driver,
                    labels: n.spec.labels,
                    options: n.spec.options,
                    ..NetworkSpec::default()
                },
                allocation: NetworkAllocation {
                    subnet,
                    gateway: subnet.at(1),
                    ip_range: None,
                    vxlan_id: ipam.free_vxlan_id().unwrap_or(crate::ipam::VXLAN_ID_FIRST),
                    node_gateways: BTreeMap::new(),
                    next_offset: 0,
                },
            };
            ipam.network_changed(None, Some(&network));
            networks.insert(key, network);
        }
        (Upgraded { cluster, services, tasks, networks }, self.nodes, self.removed_nodes)
    }

    /// Today's objects written as format 5 (the new fields dropped).
    pub fn downgrade(
        cluster: Option<&Cluster>,
        nodes: &BTreeMap<String, Node>,
        services: &BTreeMap<String, Service>,
        tasks: &BTreeMap<String, Task>,
        networks: &BTreeMap<String, Network>,
        removed_nodes: &[RemovedNode],
    ) -> SnapshotV5 {
        SnapshotV5 {
            cluster: cluster.map(|c| ClusterV5 {
                id: c.id.clone(),
                version: c.version,
                created_at: c.created_at,
                updated_at: c.updated_at,
                settings: ClusterSettingsV5 {
                    task_history_retention_limit: c.settings.task_history_retention_limit,
                    dispatcher_heartbeat_period_ms: c.settings.dispatcher_heartbeat_period_ms,
                    snapshot_interval_entries: c.settings.snapshot_interval_entries,
                    log_entries_for_slow_followers: c.settings.log_entries_for_slow_followers,
                },
                join_tokens: c.join_tokens.clone(),
            }),
            nodes: nodes.clone(),
            services: map_values(services.clone(), |s| ServiceV5 {
                id: s.id,
                version: s.version,
                created_at: s.created_at,
                updated_at: s.updated_at,
                spec: s.spec,
                previous_spec: s.previous_spec,
                spec_history: s.spec_history,
                update_status: s.update_status,
            }),
            tasks: map_values(tasks.clone(), |t| TaskV5 {
                id: t.id,
                version: t.version,
                created_at: t.created_at,
                updated_at: t.updated_at,
                service_id: t.service_id,
                slot: t.slot,
                node_id: t.node_id,
                desired_state: t.desired_state,
                status: t.status,
                spec: t.spec,
                service_name: t.service_name,
                endpoint: t.endpoint,
                running_since: t.running_since,
            }),
            networks: map_values(networks.clone(), |n| NetworkV5 {
                id: n.id,
                version: n.version,
                created_at: n.created_at,
                updated_at: n.updated_at,
                spec: NetworkSpecV5 {
                    name: n.spec.name,
                    driver: n.spec.driver,
                    labels: n.spec.labels,
                    options: n.spec.options,
                },
            }),
            removed_nodes: removed_nodes.to_vec(),
        }
    }
}

fn map_values<A, B>(map: BTreeMap<String, A>, f: impl Fn(A) -> B) -> BTreeMap<String, B> {
    map.into_iter().map(|(key, value)| (key, f(value))).collect()
}
