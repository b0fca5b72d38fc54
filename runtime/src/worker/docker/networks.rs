//! The Docker side of the overlay data plane: one Docker macvlan network per overlay network on this node, whose
//! parent is the network's VXLAN device (so a task's interface sends straight into the tunnel: no bridge, no veth,
//! and none of br_netfilter's per-packet cost), created, listed and removed through the Engine API, and the
//! endpoint settings that attach a task's container to one with its allocated address and MAC. The networks are
//! `internal` to Docker (no default route through them): a task reaches outside through the node's egress bridge
//! network (`swe-…`, tasks on it cannot reach each other), as Swarm's tasks do through `docker_gwbridge`;
//! [`LABEL_EGRESS`] tells the executor whether the overlay network allows that. It speaks in plain values (`OverlayNetworkSpec`), never in plans, so the overlay room above it
//! decides what to want and this file only how to ask the engine. Invariant: it lists and removes only networks
//! carrying [`LABEL_OVERLAY_NETWORK_ID`] — the networks the data plane made; each also names its node
//! ([`LABEL_NODE_ID`]), so the data planes of several nodes on one engine leave each other's alone — and reads back
//! from a network exactly the fields it sets, so "what exists" compares equal to "what was asked for" when nothing
//! drifted.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::models::{EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, Network, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;
use bollard::Docker;

use super::{error_message, handshake, status_code, EngineUnreachable};

/// The label marking a Docker network as an overlay network's on this node; its value is the cluster
/// network id.
pub const LABEL_OVERLAY_NETWORK_ID: &str = "swarm.overlay.network-id";
/// The label naming the node whose data plane made the network (several nodes may share one engine).
pub const LABEL_NODE_ID: &str = "swarm.node.id";
/// The label saying whether tasks on the overlay network may reach outside the cluster (`"true"`), or the network
/// is `--internal` (`"false"`).
pub const LABEL_EGRESS: &str = "swarm.overlay.egress";
/// Docker's macvlan driver option naming the parent device.
pub const OPTION_PARENT: &str = "parent";
/// Docker's macvlan driver option for the macvlan mode; `bridge` lets a node's tasks reach each other directly.
pub const OPTION_MACVLAN_MODE: &str = "macvlan_mode";
const MACVLAN_DRIVER: &str = "macvlan";
const MACVLAN_MODE: &str = "bridge";
/// The label marking the node's egress bridge network (value `"true"`).
pub const LABEL_EGRESS_BRIDGE: &str = "swarm.overlay.egress-bridge";
/// The prefix of the node's egress bridge network and of its Linux bridge.
pub const EGRESS_NAME_PREFIX: &str = "swe-";
/// Docker's bridge driver options: the bridge's name, whether containers on it may talk to each other, and
/// whether it masquerades traffic leaving the host.
const OPTION_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const OPTION_ICC: &str = "com.docker.network.bridge.enable_icc";
const OPTION_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";

/// The node's egress bridge network (Swarm's `docker_gwbridge`): `swe-` + the first ten characters of its node
/// id, so the nodes sharing one engine have one each.
pub fn egress_network_name(node_id: &str) -> String {
    let end = node_id.char_indices().nth(10).map_or(node_id.len(), |(index, _)| index);
    format!("{EGRESS_NAME_PREFIX}{}", &node_id[..end])
}

/// A Docker macvlan network as the data plane wants it, and as it reads one back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayNetworkSpec {
    /// The Docker network's name.
    pub name: String,
    /// The cluster network id, stored as the [`LABEL_OVERLAY_NETWORK_ID`] label.
    pub overlay_network_id: String,
    /// The parent device: the overlay network's VXLAN device ([`OPTION_PARENT`]).
    pub parent: String,
    pub subnet: Ipv4Addr,
    pub prefix_len: u8,
    /// This node's gateway on the network (held by its gateway device, not by Docker).
    pub gateway: Ipv4Addr,
    /// Tasks may reach outside the cluster ([`LABEL_EGRESS`]); false for `network create --internal`.
    pub egress: bool,
}

/// A Docker network carrying [`LABEL_OVERLAY_NETWORK_ID`], as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingOverlayNetwork {
    /// Docker's id of the network.
    pub docker_id: String,
    /// What it is, read back; `None` if a field the data plane sets is missing or unreadable (then it differs
    /// from every spec and is replaced).
    pub spec: Option<OverlayNetworkSpec>,
    /// Its name, also when `spec` could not be read.
    pub name: String,
    /// Its overlay network id label.
    pub overlay_network_id: String,
    /// The node whose data plane made it ([`LABEL_NODE_ID`]); empty if unlabelled.
    pub node_id: String,
}

/// The overlay data plane's door to one Docker Engine's networks.
#[derive(Debug, Clone)]
pub struct DockerOverlayNetworks {
    docker: Docker,
    host: String,
    /// This node's id: the networks it creates carry it as [`LABEL_NODE_ID`].
    node_id: String,
}

impl DockerOverlayNetworks {
    /// Connects to the engine at `host` (`unix://PATH`, `tcp://HOST:PORT`); see [`super::docker_host_from_env`].
    pub async fn connect_to(host: &str, node_id: &str) -> Result<DockerOverlayNetworks, EngineUnreachable> {
        let (docker, _version) = handshake(host).await?;
        Ok(DockerOverlayNetworks { docker, host: host.to_string(), node_id: node_id.to_string() })
    }

    /// The node whose networks these are.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The engine's address, as connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Every network carrying [`LABEL_OVERLAY_NETWORK_ID`], sorted by name. The error is the engine's words.
    pub async fn list(&self) -> Result<Vec<ExistingOverlayNetwork>, String> {
        let filters = HashMap::from([("label".to_string(), vec![LABEL_OVERLAY_NETWORK_ID.to_string()])]);
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: Some(filters) }))
            .await
            .map_err(|error| error_message(&error))?;
        let mut found: Vec<ExistingOverlayNetwork> = networks.iter().filter_map(existing_network).collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// The process id of the running container `name` (whose network namespace holds its VIP table); `None` if it
    /// is not running or gone. The error is the engine's words.
    pub async fn container_pid(&self, name: &str) -> Result<Option<u32>, String> {
        match self.docker.inspect_container(name, None).await {
            Ok(inspected) => {
                let state = inspected.state.unwrap_or_default();
                let pid = state.pid.filter(|_| state.running == Some(true)).and_then(|pid| u32::try_from(pid).ok());
                Ok(pid.filter(|pid| *pid != 0))
            }
            Err(error) if status_code(&error) == Some(404) => Ok(None),
            Err(error) => Err(error_message(&error)),
        }
    }

    /// Creates the network. The error is the engine's words.
    pub async fn create(&self, spec: &OverlayNetworkSpec) -> Result<(), String> {
        let mut request = create_request(spec);
        if let Some(labels) = request.labels.as_mut() {
            labels.insert(LABEL_NODE_ID.to_string(), self.node_id.clone());
        }
        self.docker.create_network(request).await.map_err(|error| error_message(&error))?;
        Ok(())
    }

    /// Creates this node's egress bridge network unless it exists: Docker picks its subnet, tasks on it cannot
    /// reach each other (`enable_icc=false`), and their traffic leaving the host is masqueraded. The error is the
    /// engine's words.
    pub async fn ensure_egress(&self) -> Result<(), String> {
        let name = egress_network_name(&self.node_id);
        match self.docker.inspect_network(&name, None::<bollard::query_parameters::InspectNetworkOptions>).await {
            Ok(_) => return Ok(()),
            Err(error) if status_code(&error) == Some(404) => {}
            Err(error) => return Err(error_message(&error)),
        }
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_string()),
            options: Some(HashMap::from([
                (OPTION_BRIDGE_NAME.to_string(), name),
                (OPTION_ICC.to_string(), "false".to_string()),
                (OPTION_MASQUERADE.to_string(), "true".to_string()),
            ])),
            labels: Some(HashMap::from([
                (LABEL_EGRESS_BRIDGE.to_string(), "true".to_string()),
                (LABEL_NODE_ID.to_string(), self.node_id.clone()),
            ])),
            ..Default::default()
        };
        self.docker.create_network(request).await.map_err(|error| error_message(&error))?;
        Ok(())
    }

    /// Removes this node's egress bridge network; one that is gone is fine. Fails while a container is attached.
    pub async fn remove_egress(&self) -> Result<(), String> {
        self.remove(&egress_network_name(&self.node_id)).await
    }

    /// Removes the network named (or with Docker id) `name`; removing one that is gone succeeds. Fails while a
    /// container is attached (the engine's words say which).
    pub async fn remove(&self, name: &str) -> Result<(), String> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(error) if status_code(&error) == Some(404) => Ok(()),
            Err(error) => Err(error_message(&error)),
        }
    }
}

/// Docker's create request for `spec`.
fn create_request(spec: &OverlayNetworkSpec) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: spec.name.clone(),
        driver: Some(MACVLAN_DRIVER.to_string()),
        internal: Some(true),
        attachable: Some(false),
        ipam: Some(Ipam {
            driver: Some("default".to_string()),
            config: Some(vec![IpamConfig {
                subnet: Some(format!("{}/{}", spec.subnet, spec.prefix_len)),
                gateway: Some(spec.gateway.to_string()),
                ..Default::default()
            }]),
            options: None,
        }),
        options: Some(HashMap::from([
            (OPTION_PARENT.to_string(), spec.parent.clone()),
            (OPTION_MACVLAN_MODE.to_string(), MACVLAN_MODE.to_string()),
        ])),
        labels: Some(HashMap::from([
            (LABEL_OVERLAY_NETWORK_ID.to_string(), spec.overlay_network_id.clone()),
            (LABEL_EGRESS.to_string(), spec.egress.to_string()),
        ])),
        ..Default::default()
    }
}

/// A listed network carrying our label, with what could be read back of it; `None` without the label.
fn existing_network(network: &Network) -> Option<ExistingOverlayNetwork> {
    let labels = network.labels.as_ref()?;
    let overlay_network_id = labels.get(LABEL_OVERLAY_NETWORK_ID)?.clone();
    let name = network.name.clone().unwrap_or_default();
    Some(ExistingOverlayNetwork {
        docker_id: network.id.clone().unwrap_or_default(),
        spec: read_back(network, &name, &overlay_network_id),
        name,
        overlay_network_id,
        node_id: labels.get(LABEL_NODE_ID).cloned().unwrap_or_default(),
    })
}

/// The spec a listed network was created from, if every field the data plane sets reads back.
fn read_back(network: &Network, name: &str, overlay_network_id: &str) -> Option<OverlayNetworkSpec> {
    let options = network.options.as_ref()?;
    let labels = network.labels.as_ref()?;
    if network.driver.as_deref() != Some(MACVLAN_DRIVER)
        || network.internal != Some(true)
        || options.get(OPTION_MACVLAN_MODE).map(String::as_str) != Some(MACVLAN_MODE)
    {
        return None;
    }
    let configs = network.ipam.as_ref()?.config.as_ref()?;
    let [config] = configs.as_slice() else { return None };
    let (subnet, prefix_len) = config.subnet.as_deref()?.split_once('/')?;
    Some(OverlayNetworkSpec {
        name: name.to_string(),
        overlay_network_id: overlay_network_id.to_string(),
        parent: options.get(OPTION_PARENT)?.clone(),
        subnet: subnet.parse().ok()?,
        prefix_len: prefix_len.parse().ok()?,
        gateway: config.gateway.as_deref()?.parse().ok()?,
        egress: labels.get(LABEL_EGRESS)?.parse().ok()?,
    })
}

/// `02:42:0a:00:00:05`: a MAC address as Docker writes it.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(":")
}

/// The endpoint settings that attach a task's container to an overlay network's Docker network with its allocated
/// address and MAC (`docker run --network NAME --ip ADDR --mac-address MAC`). Docker keys them by the network's
/// name: the create body's `networking_config.endpoints_config[NAME]`, or `connect_network(NAME, …)`.
/// Engines honour the MAC here from API 1.44 on; Docker 20.10 (API 1.41, this machine's) only takes a
/// container-level `MacAddress`, which bollard's `ContainerCreateBody` no longer has — there its macvlan driver
/// derives the MAC from the address by the same scheme as [`crate::worker::overlay::plan::mac_for`] (seen in
/// `tests/overlay_dataplane.rs`), so both agree.
pub fn overlay_endpoint_settings(addr: Ipv4Addr, mac: [u8; 6]) -> EndpointSettings {
    EndpointSettings {
        ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(addr.to_string()), ..Default::default() }),
        mac_address: Some(format_mac(mac)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> OverlayNetworkSpec {
        OverlayNetworkSpec {
            name: "swo-abcdefghij".into(),
            overlay_network_id: "abcdefghijklmnopqrstuvwxy".into(),
            parent: "swv-abcdefghij".into(),
            subnet: Ipv4Addr::new(10, 0, 1, 0),
            prefix_len: 24,
            gateway: Ipv4Addr::new(10, 0, 1, 3),
            egress: true,
        }
    }

    /// What the engine answers for a network created from `request` (Docker keeps what it was given).
    fn as_listed(request: &NetworkCreateRequest) -> Network {
        Network {
            name: Some(request.name.clone()),
            id: Some("d0cker1d".into()),
            driver: request.driver.clone(),
            ipam: request.ipam.clone(),
            internal: request.internal,
            options: request.options.clone(),
            labels: request.labels.clone(),
            ..Default::default()
        }
    }

    #[test]
    fn a_created_network_reads_back_as_its_spec() {
        let listed = existing_network(&as_listed(&create_request(&spec()))).expect("it carries the label");
        assert_eq!(listed.spec, Some(spec()));
        assert_eq!(listed.overlay_network_id, spec().overlay_network_id);
        assert_eq!(listed.docker_id, "d0cker1d");
    }

    #[test]
    fn a_network_missing_a_field_reads_back_as_unknown_and_one_without_the_label_is_not_ours() {
        let mut listed = as_listed(&create_request(&spec()));
        listed.options.as_mut().unwrap().remove(OPTION_PARENT);
        assert_eq!(existing_network(&listed).unwrap().spec, None);
        let mut not_internal = as_listed(&create_request(&spec()));
        not_internal.internal = Some(false);
        assert_eq!(existing_network(&not_internal).unwrap().spec, None, "a network with a default route is replaced");
        let mut bridged = as_listed(&create_request(&spec()));
        bridged.driver = Some("bridge".into());
        assert_eq!(existing_network(&bridged).unwrap().spec, None, "an earlier release's bridge is replaced");
        let mut unlabelled = as_listed(&create_request(&spec()));
        unlabelled.labels.as_mut().unwrap().remove(LABEL_EGRESS);
        assert_eq!(existing_network(&unlabelled).unwrap().spec, None);
        let mut other_mode = as_listed(&create_request(&spec()));
        other_mode.options.as_mut().unwrap().insert(OPTION_MACVLAN_MODE.into(), "vepa".into());
        assert_eq!(existing_network(&other_mode).unwrap().spec, None);
        let mut foreign = as_listed(&create_request(&spec()));
        foreign.labels = Some(HashMap::new());
        assert_eq!(existing_network(&foreign), None);
    }

    #[test]
    fn the_egress_network_is_named_after_the_node() {
        assert_eq!(egress_network_name("q8w2e4r6t8y0u1i3o5p7a9s0d"), "swe-q8w2e4r6t8");
        assert_eq!(egress_network_name("short"), "swe-short");
        assert!(egress_network_name("q8w2e4r6t8y0u1i3o5p7a9s0d").len() <= 15, "a bridge name fits IFNAMSIZ");
    }

    #[test]
    fn endpoint_settings_carry_the_address_and_docker_style_mac() {
        let settings = overlay_endpoint_settings(Ipv4Addr::new(10, 0, 1, 5), [2, 0x42, 10, 0, 1, 5]);
        assert_eq!(settings.ipam_config.unwrap().ipv4_address.as_deref(), Some("10.0.1.5"));
        assert_eq!(settings.mac_address.as_deref(), Some("02:42:0a:00:01:05"));
    }
}
