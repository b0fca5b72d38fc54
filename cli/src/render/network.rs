//! `network ls` (`NETWORK ID NAME DRIVER SCOPE`, sorted by name, ids cut to 12 characters) and `network inspect`
//! in Docker's shape: `Name`, `Id`, `Created`, `Scope` "swarm", `Driver`, `IPAM.Config` with the subnet and
//! gateway, `Internal`, `Attachable`, `Ingress`, `Options` with the VXLAN id as Docker lists it, `Labels`, and —
//! as Docker's `--verbose` shows them — `Peers` (every node realising the network, with its own gateway here) and
//! `Services` (each service's VIP and each live task's address). Pure functions of a `ClusterView`.

use std::collections::BTreeMap;

use serde::Serialize;
use swarm_core::ipam::holds_addresses;
use swarm_core::Network;
use swarm_runtime::control::view::ClusterView;

use super::ids::display_id;
use super::table::Table;
use super::time::rfc3339_utc;

/// One row of `network ls`, with the keys of `docker network ls --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRow {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub internal: String,
    #[serde(rename = "IPv6")]
    pub ipv6: String,
    pub labels: String,
    pub created_at: String,
}

/// The networks of `view` sorted by name.
pub fn sorted(view: &ClusterView) -> Vec<&Network> {
    let mut networks: Vec<&Network> = view.networks.iter().collect();
    networks.sort_by(|a, b| a.spec.name.cmp(&b.spec.name).then_with(|| a.id.cmp(&b.id)));
    networks
}

pub fn rows(networks: &[&Network], no_trunc: bool) -> Vec<NetworkRow> {
    networks
        .iter()
        .map(|network| NetworkRow {
            id: display_id(&network.id, no_trunc).to_string(),
            name: network.spec.name.clone(),
            driver: network.spec.driver.clone(),
            scope: "swarm".to_string(),
            internal: network.spec.internal.to_string(),
            ipv6: "false".to_string(),
            labels: network.spec.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            created_at: super::time::go_time_utc(network.created_at),
        })
        .collect()
}

pub fn render_ls(rows: &[NetworkRow], quiet: bool) -> String {
    if quiet {
        return rows.iter().map(|row| format!("{}\n", row.id)).collect();
    }
    let mut table = Table::new(["NETWORK ID", "NAME", "DRIVER", "SCOPE"]);
    for row in rows {
        table.row([row.id.as_str(), &row.name, &row.driver, &row.scope]);
    }
    table.render()
}

/// `docker network inspect`'s object.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInspect {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub peers: Vec<Peer>,
    pub services: BTreeMap<String, ServiceInfo>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub config: Vec<IpamConfig>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: String,
    #[serde(rename = "IPRange", skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    pub gateway: String,
}

/// A node realising the network: its name and address as Docker shows peers, and its own gateway.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Peer {
    pub name: String,
    #[serde(rename = "IP")]
    pub ip: String,
    pub gateway: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    #[serde(rename = "VIP")]
    pub vip: String,
    #[serde(rename = "Tasks")]
    pub tasks: Vec<TaskEndpoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskEndpoint {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "EndpointIP")]
    pub endpoint_ip: String,
    #[serde(rename = "Info")]
    pub info: BTreeMap<String, String>,
}

/// `network inspect` of `network` as `view` sees it.
pub fn inspect(view: &ClusterView, network: &Network) -> NetworkInspect {
    let allocation = &network.allocation;
    let mut options = network.spec.options.clone();
    options.insert("com.docker.network.driver.overlay.vxlanid_list".to_string(), allocation.vxlan_id.to_string());
    let node_addr = |node_id: &str| view.nodes.iter().find(|n| n.id == node_id);
    let peers = allocation
        .node_gateways
        .iter()
        .map(|(node_id, gateway)| {
            let node = node_addr(node_id);
            Peer {
                name: node.map_or_else(|| node_id.clone(), |n| n.description.hostname.clone()),
                ip: node.map(|n| n.status.addr.clone()).unwrap_or_default(),
                gateway: gateway.to_string(),
            }
        })
        .collect();
    let mut services = BTreeMap::new();
    for service in &view.services {
        let vip = service.virtual_ips.iter().find(|vip| vip.network_id == network.id);
        let tasks: Vec<TaskEndpoint> = view
            .tasks
            .iter()
            .filter(|task| task.service_id == service.id && holds_addresses(task))
            .filter_map(|task| {
                let attachment = task.networks.iter().find(|a| a.network_id == network.id)?;
                let host = task.node_id.as_deref().and_then(node_addr).map(|n| n.status.addr.clone());
                Some(TaskEndpoint {
                    name: super::service_ps::container_name(view, task),
                    endpoint_ip: attachment.addr.to_string(),
                    info: host.into_iter().map(|addr| ("Host IP".to_string(), addr)).collect(),
                })
            })
            .collect();
        if vip.is_some() || !tasks.is_empty() {
            let vip = vip.map(|vip| vip.addr.to_string()).unwrap_or_default();
            services.insert(service.spec.name.clone(), ServiceInfo { vip, tasks });
        }
    }
    NetworkInspect {
        name: network.spec.name.clone(),
        id: network.id.clone(),
        created: rfc3339_utc(network.created_at),
        scope: "swarm".to_string(),
        driver: network.spec.driver.clone(),
        enable_ipv4: true,
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default".to_string(),
            config: vec![IpamConfig {
                subnet: allocation.subnet.to_string(),
                ip_range: allocation.ip_range.map(|range| range.to_string()),
                gateway: allocation.gateway.to_string(),
            }],
        },
        internal: network.spec.internal,
        attachable: network.spec.attachable,
        ingress: network.spec.ingress,
        options,
        labels: network.spec.labels.clone(),
        peers,
        services,
    }
}
