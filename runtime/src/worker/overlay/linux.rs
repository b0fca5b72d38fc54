//! The real overlay data plane, acting on the network namespace the process runs in (a test host's daemon runs
//! under `nsenter --net=…`) and on the Docker Engine at `DOCKER_HOST`. Per network of the plan: a VXLAN device
//! `swv-…` (`id`, `dstport`, `local` = this node's underlay address, `nolearning`, `proxy`, the MTU), up; this node's
//! gateway device `swg-…`, a macvlan (bridge mode) on it holding the node's own gateway address and Docker's MAC for
//! it (remote nodes address the gateway by that MAC; the node's resolver listens there); a Docker macvlan network
//! `swo-…` (`docker/networks.rs`) with the VXLAN device as parent, the subnet, that gateway and the label
//! `swarm.overlay.network-id`, so a task's interface is a macvlan straight on the tunnel; on the VXLAN device, per
//! remote peer an all-zeros FDB entry (broadcast and unknown frames go to every peer), and per remote endpoint a
//! permanent FDB entry (its MAC → its node's underlay address) and a permanent neighbour entry (its address → its
//! MAC), which `proxy` answers ARP from, since it drops every ARP request sent into the tunnel. No Linux bridge is
//! involved: bridged traffic would pass br_netfilter and the host's FORWARD chain on both hosts, which cost about a
//! fifth of the throughput. While the node has a network, `isolation`'s table keeps the networks apart, and while
//! one is not internal the node's egress network (`swe-…`) exists. An encrypted network's VXLAN device has the
//! node's tunnel address as `local` and its peers' tunnel addresses in the FDB, so its frames go through the node's
//! WireGuard tunnel (`tunnel`), which is reconciled first. Links, addresses, FDB and neighbours go through
//! rtnetlink (VXLAN and macvlan creation included); nothing parses `ip` output.
//!
//! Invariants: only devices named `swv-…` and `swg-…`, Docker networks labelled `swarm.overlay.network-id` and the
//! node's egress network, the self-owned FDB entries and neighbour entries on those VXLAN devices and `isolation`'s
//! table are ever changed or removed — one data plane per network namespace, which owns those names; a device or
//! network that differs from the plan in a setting that cannot change in place (VXLAN id, port, local address,
//! learning, proxy; a gateway device's kind, parent or MAC; a Docker network's driver, parent, subnet, gateway,
//! egress) is recreated, everything else is patched; a Docker network adopted while its VXLAN device was missing
//! is made anew (dockerd forgets a macvlan network whose parent it did not find at start); an earlier release's
//! network still used by its containers holds that network back (`held_back`) without stopping the others;
//! reconciles are serialised. Deleting a VXLAN device by hand takes the interfaces of the tasks on it with it
//! (macvlans go with their parent): the device comes back, those tasks' containers do not regain the interface
//! until they are replaced.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use futures::{StreamExt, TryStreamExt};
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST,
};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::route::RouteType;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec, LinkVxlan};

use super::plan::{mac_for, NodeOverlayPlan, OverlayNetworkPlan, VXLAN_NAME_PREFIX};
use super::tunnel::WireGuardTunnel;
use super::{Discovery, OverlayDataPlane, OverlayError, OverlayStep, TunnelIdentity};
use crate::worker::dns::records::DnsRecords;
use crate::worker::dns::server::{DnsConfig, DnsServer};
use crate::worker::docker::networks::{DockerOverlayNetworks, ExistingOverlayNetwork, OverlayNetworkSpec};
use crate::worker::vip::mesh_return::MeshReturn;
use crate::worker::vip::rules::VipRuleset;

/// The all-zeros MAC: the FDB entry every broadcast and unknown frame follows.
const ALL_ZEROS_MAC: [u8; 6] = [0; 6];
/// What an error names when it is about no network in particular.
const NODE_WIDE: &str = "(all)";

/// How this node's data plane is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxDataPlaneConfig {
    /// This node's address on the underlay: the VXLAN devices' `local` address (but encrypted networks').
    pub underlay_addr: Ipv4Addr,
    /// The UDP port of the node's tunnel for encrypted networks.
    pub tunnel_port: u16,
}

impl LinuxDataPlaneConfig {
    /// The VXLAN port comes with each network of the plan (`swarm init --data-path-port`); the tunnel listens on
    /// WireGuard's customary port.
    pub fn new(underlay_addr: Ipv4Addr) -> LinuxDataPlaneConfig {
        LinuxDataPlaneConfig { underlay_addr, tunnel_port: swarm_core::model::DEFAULT_TUNNEL_PORT }
    }
}

/// The data plane of the current network namespace and one Docker Engine.
pub struct LinuxDataPlane {
    config: LinuxDataPlaneConfig,
    netlink: Handle,
    docker: DockerOverlayNetworks,
    serial: tokio::sync::Mutex<()>,
    /// The node's resolver for overlay names, listening on its gateways.
    dns: DnsServer,
    /// The VIP ruleset last applied in each container (by name), so an unchanged one is not applied again.
    vip_tables: tokio::sync::Mutex<BTreeMap<String, (u32, VipRuleset)>>,
    /// Each task container's mesh return path as last applied, with its pid, like `vip_tables`.
    mesh_returns: tokio::sync::Mutex<BTreeMap<String, (u32, MeshReturn)>>,
    /// The routing mesh last applied, so an unchanged one is not applied again.
    mesh_applied: tokio::sync::Mutex<Option<swarm_core::overlay::Mesh>>,
    /// Something the last reconcile or discovery could not finish (see `OverlayDataPlane::needs_retry`).
    unfinished: std::sync::atomic::AtomicBool,
    /// The networks the last reconcile held back (see `OverlayDataPlane::held_back`).
    held_back: std::sync::Mutex<BTreeSet<String>>,
    /// The WireGuard tunnel of encrypted networks.
    tunnel: WireGuardTunnel,
    /// The encrypted VNIs and data-path port the sealed table was last made for (see `sealed`).
    sealed_applied: tokio::sync::Mutex<Option<(Vec<u32>, u16)>>,
}

/// What became of one network in a reconcile.
enum Realised {
    Done,
    /// An earlier release's network of the same name still has containers; tasks wait (`held_back`).
    HeldBack,
}

/// A FDB entry of a VXLAN device: MAC → underlay address.
type FdbEntry = ([u8; 6], Ipv4Addr);

impl LinuxDataPlane {
    /// Opens a netlink socket in the current network namespace and connects to the Docker Engine at
    /// `docker_host` (`unix://PATH`; see `docker::docker_host_from_env`). Must run inside a tokio runtime.
    pub async fn connect(
        config: LinuxDataPlaneConfig,
        docker_host: &str,
        node_id: &str,
    ) -> Result<LinuxDataPlane, OverlayError> {
        let (connection, netlink, _) = rtnetlink::new_connection()
            .map_err(|error| node_error(OverlayStep::Connect, format!("netlink: {error}")))?;
        tokio::spawn(connection);
        let docker = DockerOverlayNetworks::connect_to(docker_host, node_id)
            .await
            .map_err(|error| node_error(OverlayStep::Connect, error))?;
        let dns = DnsServer::new(DnsConfig::from_host());
        Ok(LinuxDataPlane {
            config,
            netlink,
            docker,
            serial: tokio::sync::Mutex::new(()),
            dns,
            vip_tables: Default::default(),
            mesh_returns: Default::default(),
            mesh_applied: Default::default(),
            unfinished: Default::default(),
            held_back: Default::default(),
            tunnel: WireGuardTunnel::new(node_id, config.tunnel_port),
            sealed_applied: Default::default(),
        })
    }

    async fn reconcile_serially(&self, plan: &NodeOverlayPlan) -> Result<(), OverlayError> {
        plan.validate()?;
        let _serial = self.serial.lock().await;
        self.unfinished.store(false, std::sync::atomic::Ordering::SeqCst);
        let wanted_ids = plan.network_ids();
        let all_existing =
            self.docker.list().await.map_err(|reason| node_error(OverlayStep::ListDockerNetworks, reason))?;
        // Networks another node's data plane made on this engine (several nodes on one host) are not ours to
        // adopt or remove, nor are their VXLAN devices.
        let (existing, foreign): (Vec<_>, Vec<_>) =
            all_existing.into_iter().partition(|network| network.node_id == self.docker.node_id());
        let mut wanted_vxlans: BTreeSet<String> = plan.networks.iter().map(OverlayNetworkPlan::vxlan_name).collect();
        wanted_vxlans.extend(foreign.iter().map(|network| super::plan::vxlan_name(&network.overlay_network_id)));
        let mut adopted: BTreeMap<&str, &ExistingOverlayNetwork> = BTreeMap::new();
        let mut stale_kept = false;
        for network in &existing {
            let id = network.overlay_network_id.as_str();
            let named_as_planned = network.name == super::plan::network_name(id);
            if wanted_ids.contains(id) && named_as_planned && !adopted.contains_key(id) {
                adopted.insert(id, network);
            } else {
                // Best effort: a container still attached (stopping after its task ended) keeps the network until
                // it is gone; that must not hold up the networks that are wanted. The next reconcile tries again.
                tracing::info!(network = %network.name, "removing a stale overlay Docker network");
                if let Err(reason) = self.docker.remove(&network.docker_id).await {
                    let error = OverlayError::new(&network.name, OverlayStep::RemoveDockerNetwork, reason);
                    tracing::info!(%error, "a stale overlay network stays for now");
                    self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
                    // Its containers' interfaces are macvlans on its VXLAN device: the device goes after it.
                    wanted_vxlans.insert(super::plan::vxlan_name(id));
                    stale_kept = true;
                }
            }
        }
        for link in self.links().await? {
            let name = link_name(&link).unwrap_or_default();
            if name.starts_with(VXLAN_NAME_PREFIX) && vxlan_info(&link).is_some() && !wanted_vxlans.contains(name) {
                tracing::info!(device = name, "removing a stale overlay VXLAN device (its gateway device goes too)");
                self.remove_link(name, link.header.index, OverlayStep::RemoveVxlan).await?;
            }
        }
        // The tunnel first: the VXLAN devices of encrypted networks send from its address. Without it only the
        // encrypted networks wait; the others go on.
        let tunnel_up = match self.tunnel.reconcile(plan.tunnel.as_ref(), &self.netlink).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "the encrypted networks wait for the tunnel");
                self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
                false
            }
        };
        // Plaintext VXLAN of the encrypted networks is dropped whatever became of the tunnel; without that rule
        // they wait too (the table is replaced whole, so a failed change leaves the previous one in force).
        let sealed: Vec<u32> = plan.networks.iter().filter(|n| n.encrypted).map(|n| n.vxlan_id).collect();
        let vxlan_port = plan.networks.first().map_or(super::plan::DEFAULT_VXLAN_PORT, |n| n.vxlan_port);
        let wanted_sealed = (sealed, vxlan_port);
        let mut sealed_applied = self.sealed_applied.lock().await;
        let mut sealed_ok = true;
        if sealed_applied.as_ref() != Some(&wanted_sealed) {
            let table = super::sealed::table_name(self.docker.node_id());
            match super::sealed::apply(&table, self.tunnel.name(), vxlan_port, &wanted_sealed.0).await {
                Ok(()) => *sealed_applied = Some(wanted_sealed),
                Err(reason) => {
                    let error = node_error(OverlayStep::Tunnel, reason);
                    tracing::warn!(%error, "the encrypted networks wait for the rule that seals them");
                    self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
                    sealed_ok = false;
                }
            }
        }
        drop(sealed_applied);
        let encrypted_ready = tunnel_up && sealed_ok;
        // Several nodes' data planes in one namespace share the table: it stays while any of them has a network,
        // and while a stale network's gateway device is still there.
        let isolate = !plan.networks.is_empty() || !foreign.is_empty() || stale_kept;
        super::isolation::apply(isolate).await.map_err(|reason| node_error(OverlayStep::Isolation, reason))?;
        if plan.networks.iter().any(|network| !network.internal) {
            self.docker.ensure_egress().await.map_err(|reason| node_error(OverlayStep::Egress, reason))?;
        }
        let mut held_back = BTreeSet::new();
        for network in &plan.networks {
            if network.encrypted && !encrypted_ready {
                held_back.insert(network.network_id.clone());
                continue;
            }
            // An encrypted network's VXLAN frames leave from the node's tunnel address (validated: the plan has one).
            let local = match &plan.tunnel {
                Some(tunnel) if network.encrypted => tunnel.addr,
                _ => self.config.underlay_addr,
            };
            match self.realise(network, local, adopted.get(network.network_id.as_str()).copied()).await? {
                Realised::Done => {}
                Realised::HeldBack => {
                    held_back.insert(network.network_id.clone());
                }
            }
        }
        if plan.networks.is_empty() {
            // Best effort, like the stale networks: a container stopping after its task ended may still hold it.
            if let Err(reason) = self.docker.remove_egress().await {
                tracing::info!(%reason, "the egress network stays for now");
                self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        if !held_back.is_empty() {
            self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        *self.held_back.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = held_back;
        Ok(())
    }

    /// Makes one network's VXLAN device, gateway device, Docker network and entries what the plan says; or holds
    /// it back while an earlier release's network of the same name still has containers (it cannot be replaced
    /// before they are gone).
    async fn realise(
        &self,
        network: &OverlayNetworkPlan,
        local: Ipv4Addr,
        existing: Option<&ExistingOverlayNetwork>,
    ) -> Result<Realised, OverlayError> {
        let fail = |step: OverlayStep, reason: String| OverlayError::new(&network.network_id, step, reason);
        let desired = docker_spec(network);
        let mut docker_network_fits = existing.is_some_and(|found| found.spec.as_ref() == Some(&desired));
        if let Some(found) = existing.filter(|_| !docker_network_fits) {
            tracing::info!(network = %network.network_id, "recreating the overlay Docker network: it differs");
            if let Err(reason) = self.docker.remove(&found.docker_id).await {
                let error = fail(OverlayStep::RemoveDockerNetwork, reason);
                tracing::warn!(%error, "the overlay network is held back until its containers are gone");
                return Ok(Realised::HeldBack);
            }
        }
        let links = self.links().await?;
        let had_vxlan = links.iter().any(|link| link_name(link) == Some(network.vxlan_name().as_str()));
        if docker_network_fits && !had_vxlan {
            // dockerd restored the network while its parent was missing (after a reboot it starts before us), and
            // its macvlan driver then forgets the network while still listing it: make it anew. If it still has
            // endpoints, dockerd knew it all along and it stays.
            if let Some(found) = existing {
                match self.docker.remove(&found.docker_id).await {
                    Ok(()) => docker_network_fits = false,
                    Err(reason) => tracing::info!(%reason, "keeping the overlay Docker network: it is in use"),
                }
            }
        }
        let vxlan_index = self.ensure_vxlan(network, local).await?;
        self.ensure_gateway(network, vxlan_index).await?;
        if !docker_network_fits {
            self.docker.create(&desired).await.map_err(|reason| fail(OverlayStep::CreateDockerNetwork, reason))?;
        }
        self.ensure_fdb(network, vxlan_index).await?;
        self.ensure_neighbours(network, vxlan_index).await?;
        Ok(Realised::Done)
    }

    /// The VXLAN device of `network`, created or repaired, on no bridge and up; returns its index.
    async fn ensure_vxlan(&self, network: &OverlayNetworkPlan, local: Ipv4Addr) -> Result<u32, OverlayError> {
        let fail = |step: OverlayStep, error: rtnetlink::Error| OverlayError::new(&network.network_id, step, error);
        let name = network.vxlan_name();
        let links = self.links().await?;
        if let Some(link) = links.iter().find(|link| link_name(link) == Some(name.as_str())) {
            if vxlan_settings_match(link, network, local) {
                let up = link.header.flags.contains(LinkFlags::Up);
                if link_mtu(link) != Some(network.mtu) || link_controller(link).is_some() || !up {
                    tracing::info!(device = %name, "repairing the overlay VXLAN device's MTU, bridge or state");
                    let repair = LinkUnspec::new_with_index(link.header.index).mtu(network.mtu).nocontroller().up();
                    self.netlink
                        .link()
                        .set(repair.build())
                        .execute()
                        .await
                        .map_err(|error| fail(OverlayStep::ConfigureVxlan, error))?;
                }
                return Ok(link.header.index);
            }
            tracing::info!(device = %name, "recreating the overlay VXLAN device: settings differ");
            self.remove_link(&name, link.header.index, OverlayStep::RemoveVxlan).await?;
        }
        let device = LinkVxlan::new(&name, network.vxlan_id)
            .port(network.vxlan_port)
            .local(local)
            .learning(false)
            .proxy(true)
            .mtu(network.mtu)
            .up();
        self.netlink.link().add(device.build()).execute().await.map_err(|error| {
            if !is_exists(&error) {
                return fail(OverlayStep::CreateVxlan, error);
            }
            // Our own name was free (checked above): another device holds this VNI on this UDP port.
            let reason = format!(
                "{error}: another VXLAN device in this network namespace already uses VNI {} on UDP port {} \
                     (another swarm on this host? give one of them its own `swarm init --data-path-port`)",
                network.vxlan_id, network.vxlan_port
            );
            OverlayError::new(&network.network_id, OverlayStep::CreateVxlan, reason)
        })?;
        self.link_index(&network.network_id, &name, OverlayStep::CreateVxlan).await
    }

    /// This node's gateway device on `network`: a bridge-mode macvlan on the VXLAN device with the gateway's MAC,
    /// the network's MTU and the gateway address, up — created, or repaired in place where it can be.
    async fn ensure_gateway(&self, network: &OverlayNetworkPlan, vxlan_index: u32) -> Result<(), OverlayError> {
        let fail =
            |error: rtnetlink::Error| OverlayError::new(&network.network_id, OverlayStep::ConfigureGateway, error);
        let name = network.gateway_name();
        let mac = mac_for(network.local_gateway);
        let links = self.links().await?;
        let found = links.iter().find(|link| link_name(link) == Some(name.as_str()));
        let index = match found {
            Some(link) if is_bridge_macvlan_on(link, vxlan_index) && link_address(link) == Some(&mac[..]) => {
                if link_mtu(link) != Some(network.mtu) || !link.header.flags.contains(LinkFlags::Up) {
                    tracing::info!(device = %name, "repairing the overlay gateway device's MTU or state");
                    let repair = LinkUnspec::new_with_index(link.header.index).mtu(network.mtu).up();
                    self.netlink.link().set(repair.build()).execute().await.map_err(fail)?;
                }
                link.header.index
            }
            other => {
                if let Some(link) = other {
                    tracing::info!(device = %name, "recreating the overlay gateway device: it differs");
                    self.remove_link(&name, link.header.index, OverlayStep::ConfigureGateway).await?;
                }
                // A new device has `route_localnet` off again: the mesh must be applied anew.
                *self.mesh_applied.lock().await = None;
                let device = LinkMacVlan::new(&name, vxlan_index, MacVlanMode::Bridge)
                    .address(mac.to_vec())
                    .mtu(network.mtu)
                    .up();
                self.netlink.link().add(device.build()).execute().await.map_err(fail)?;
                self.link_index(&network.network_id, &name, OverlayStep::ConfigureGateway).await?
            }
        };
        super::device_address::keep_only_address(&self.netlink, index, network.local_gateway, network.prefix_len)
            .await
            .map_err(fail)
    }

    /// The index of the device `name`, just made in `step`.
    async fn link_index(&self, network_id: &str, name: &str, step: OverlayStep) -> Result<u32, OverlayError> {
        let links = self.links().await?;
        links
            .iter()
            .find(|link| link_name(link) == Some(name))
            .map(|link| link.header.index)
            .ok_or_else(|| OverlayError::new(network_id, step, format!("{name} vanished once created")))
    }

    /// Whether an existing device has every setting of the plan's VXLAN device that cannot change in place.
    /// The FDB of the VXLAN device: an all-zeros entry per remote peer, a permanent entry per remote endpoint.
    async fn ensure_fdb(&self, network: &OverlayNetworkPlan, vxlan_index: u32) -> Result<(), OverlayError> {
        let fail = |step: OverlayStep, error: rtnetlink::Error| OverlayError::new(&network.network_id, step, error);
        let mut wanted: BTreeSet<FdbEntry> = network.remote_peers.iter().map(|peer| (ALL_ZEROS_MAC, *peer)).collect();
        wanted.extend(network.remote_endpoints.iter().map(|endpoint| (mac_for(endpoint.addr), endpoint.underlay)));
        let entries: Vec<NeighbourMessage> = self
            .netlink
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Bridge)
            .execute()
            .try_filter(|entry| futures::future::ready(entry.header.ifindex == vxlan_index))
            .try_collect()
            .await
            .map_err(|error| fail(OverlayStep::ListForwardingEntries, error))?;
        let mut present = BTreeSet::new();
        // Entries a bridge keeps about a port (flag "master") are not the VXLAN device's own; only those are ours.
        for entry in entries.iter().filter(|entry| entry.header.flags.contains(NeighbourFlags::Own)) {
            let key = fdb_entry(entry);
            if let Some(key) = key.filter(|key| wanted.contains(key) && entry.header.state == NeighbourState::Permanent)
            {
                present.insert(key);
                continue;
            }
            let Some(mac) = lladdr(entry) else { continue };
            tracing::debug!(network = %network.network_id, ?key, "removing a stale FDB entry");
            let stale = fdb_message(vxlan_index, &mac, neighbour_addr(entry));
            match self.netlink.neighbours().del(stale).execute().await {
                Ok(()) => {}
                Err(error) if is_not_found(&error) => {}
                Err(error) => return Err(fail(OverlayStep::RemoveForwardingEntry, error)),
            }
        }
        for (mac, dst) in wanted.difference(&present) {
            self.add_fdb_entry(vxlan_index, *mac, *dst)
                .await
                .map_err(|error| fail(OverlayStep::AddForwardingEntry, error))?;
        }
        Ok(())
    }

    /// `bridge fdb append|replace MAC dev VXLAN dst DST self permanent`: the all-zeros MAC takes one entry per
    /// destination (append), any other MAC one destination (replace). rtnetlink's own request always sets
    /// `NLM_F_EXCL` or `NLM_F_REPLACE`, and the kernel ignores a replace of the all-zeros entry, hence this one.
    async fn add_fdb_entry(&self, vxlan_index: u32, mac: [u8; 6], dst: Ipv4Addr) -> Result<(), rtnetlink::Error> {
        let message = fdb_message(vxlan_index, &mac, Some(dst));
        let mut request = NetlinkMessage::from(RouteNetlinkMessage::NewNeighbour(message));
        let how = if mac == ALL_ZEROS_MAC { NLM_F_APPEND } else { NLM_F_REPLACE };
        request.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | how;
        let mut responses = self.netlink.clone().request(request)?;
        while let Some(response) = responses.next().await {
            if let NetlinkPayload::Error(error) = response.payload {
                return Err(rtnetlink::Error::NetlinkError(error));
            }
        }
        Ok(())
    }

    /// The permanent neighbour entries of the VXLAN device: every remote endpoint's address → its MAC.
    async fn ensure_neighbours(&self, network: &OverlayNetworkPlan, vxlan_index: u32) -> Result<(), OverlayError> {
        let fail = |step: OverlayStep, error: rtnetlink::Error| OverlayError::new(&network.network_id, step, error);
        let wanted: BTreeSet<Ipv4Addr> = network.remote_endpoints.iter().map(|endpoint| endpoint.addr).collect();
        let entries: Vec<NeighbourMessage> = self
            .netlink
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Inet)
            .execute()
            .try_filter(|entry| futures::future::ready(entry.header.ifindex == vxlan_index))
            .try_collect()
            .await
            .map_err(|error| fail(OverlayStep::ListNeighbours, error))?;
        let mut present = BTreeSet::new();
        for entry in &entries {
            let addr = neighbour_addr(entry);
            let good = addr.is_some_and(|addr| {
                wanted.contains(&addr)
                    && entry.header.state == NeighbourState::Permanent
                    && lladdr(entry).as_deref() == Some(&mac_for(addr)[..])
            });
            match addr {
                Some(addr) if good => {
                    present.insert(addr);
                }
                _ => {
                    tracing::debug!(network = %network.network_id, ?addr, "removing a stale neighbour entry");
                    let mut stale = NeighbourMessage::default();
                    stale.header = entry.header.clone();
                    stale.attributes.extend(
                        entry
                            .attributes
                            .iter()
                            .filter(|nla| matches!(nla, NeighbourAttribute::Destination(_)))
                            .cloned(),
                    );
                    match self.netlink.neighbours().del(stale).execute().await {
                        Ok(()) => {}
                        Err(error) if is_not_found(&error) => {}
                        Err(error) => return Err(fail(OverlayStep::RemoveNeighbour, error)),
                    }
                }
            }
        }
        for addr in wanted.difference(&present) {
            self.netlink
                .neighbours()
                .add(vxlan_index, IpAddr::V4(*addr))
                .link_layer_address(&mac_for(*addr))
                .state(NeighbourState::Permanent)
                .replace()
                .execute()
                .await
                .map_err(|error| fail(OverlayStep::AddNeighbour, error))?;
        }
        Ok(())
    }

    /// Every network device of the namespace.
    async fn links(&self) -> Result<Vec<LinkMessage>, OverlayError> {
        self.netlink
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|error| node_error(OverlayStep::ListLinks, error))
    }

    /// Deletes the device `name` at `index` (in `step`); a device already gone is fine.
    async fn remove_link(&self, name: &str, index: u32, step: OverlayStep) -> Result<(), OverlayError> {
        match self.netlink.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(OverlayError::new(name, step, error)),
        }
    }
}

impl LinuxDataPlane {
    /// The resolver's records and listeners (the node's gateways), then each local task container's VIP table.
    async fn discover_serially(&self, discovery: &Discovery) {
        let _serial = self.serial.lock().await;
        let mut records = DnsRecords::from_plan(
            &discovery.cluster,
            discovery.local_tasks.iter().map(|task| task.networks.as_slice()),
        );
        for task in &discovery.local_tasks {
            let upstreams: Vec<SocketAddr> = task
                .nameservers
                .iter()
                .map(|addr| SocketAddr::new(*addr, crate::worker::dns::server::DNS_PORT))
                .collect();
            records.set_upstreams(&task.networks, &upstreams);
        }
        self.dns.set_records(records);
        let gateways: Vec<Ipv4Addr> = discovery.cluster.networks.iter().map(|n| n.local_gateway).collect();
        for error in self.dns.set_listen_addrs(&gateways).await {
            tracing::warn!(%error, "the overlay resolver cannot listen on a gateway; retrying");
            self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.apply_mesh(&discovery.cluster.mesh).await;
        let mut tables = self.vip_tables.lock().await;
        tables.retain(|name, _| discovery.local_tasks.iter().any(|task| &task.container_name == name));
        let mut returns = self.mesh_returns.lock().await;
        returns.retain(|name, _| discovery.local_tasks.iter().any(|task| &task.container_name == name));
        for task in &discovery.local_tasks {
            let ruleset = VipRuleset::for_container(
                &discovery.cluster,
                task.networks.iter().map(|attachment| attachment.network_id.as_str()),
            );
            let pid = match self.docker.container_pid(&task.container_name).await {
                Ok(Some(pid)) => pid,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(container = %task.container_name, %error, "cannot find a task container's process");
                    self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
                    continue;
                }
            };
            if tables.get(&task.container_name) != Some(&(pid, ruleset.clone())) {
                match crate::worker::vip::apply::apply(pid, &ruleset).await {
                    Ok(()) => {
                        tables.insert(task.container_name.clone(), (pid, ruleset));
                    }
                    Err(error) => {
                        tracing::warn!(container = %task.container_name, %error, "cannot program VIPs; retrying");
                        self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
            let wanted = MeshReturn::for_container(&discovery.cluster, &task.networks);
            let applied = returns.get(&task.container_name);
            // A container that never needed the return path has nothing of it to remove.
            let never_needed = applied.is_none() && wanted.gateways().is_empty();
            if !never_needed && applied != Some(&(pid, wanted.clone())) {
                match crate::worker::vip::apply::apply_mesh_return(pid, &wanted).await {
                    Ok(()) => {
                        returns.insert(task.container_name.clone(), (pid, wanted));
                    }
                    Err(error) => {
                        tracing::warn!(container = %task.container_name, %error, "cannot program the mesh's return path; retrying");
                        self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
        }
    }
}

impl LinuxDataPlane {
    /// The routing mesh's table and `DOCKER-USER` rule, unless `mesh` is what was last applied.
    async fn apply_mesh(&self, mesh: &swarm_core::overlay::Mesh) {
        let mut applied = self.mesh_applied.lock().await;
        if applied.as_ref() == Some(mesh) {
            return;
        }
        let ingress_device = super::plan::gateway_name(&mesh.network_id);
        match super::mesh::apply(self.docker.node_id(), mesh, &ingress_device).await {
            Ok(()) => *applied = Some(mesh.clone()),
            Err(error) => {
                tracing::warn!(%error, "cannot program the routing mesh; retrying");
                *applied = None;
                self.unfinished.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

impl OverlayDataPlane for LinuxDataPlane {
    async fn reconcile(&self, plan: &NodeOverlayPlan) -> Result<(), OverlayError> {
        self.reconcile_serially(plan).await
    }

    async fn remove_all(&self) -> Result<(), OverlayError> {
        // The mesh goes first and whatever the cache says: a node that leaves must stop answering on its ports.
        let mesh_removed = {
            let mut applied = self.mesh_applied.lock().await;
            *applied = None;
            let none = swarm_core::overlay::Mesh::default();
            super::mesh::apply(self.docker.node_id(), &none, "").await
        };
        self.reconcile_serially(&NodeOverlayPlan::default()).await?;
        mesh_removed.map_err(|reason| node_error(OverlayStep::Mesh, reason))
    }

    async fn discover(&self, discovery: &Discovery) {
        self.discover_serially(discovery).await
    }

    fn needs_retry(&self) -> bool {
        self.unfinished.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn held_back(&self) -> BTreeSet<String> {
        self.held_back.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn tunnel_identity(&self) -> Option<TunnelIdentity> {
        Some(self.tunnel.identity())
    }

    fn rotate_tunnel_key(&self) {
        self.tunnel.rotate()
    }
}

/// A daemon's data plane: the Linux one, or none when it could not be set up (no netlink, no engine) — then
/// every plan that names a network fails with the reason, and tasks on overlay networks wait, logged.
pub enum HostDataPlane {
    Linux(Box<LinuxDataPlane>),
    Unavailable(String),
}

impl OverlayDataPlane for HostDataPlane {
    async fn reconcile(&self, plan: &NodeOverlayPlan) -> Result<(), OverlayError> {
        match self {
            HostDataPlane::Linux(plane) => plane.reconcile(plan).await,
            HostDataPlane::Unavailable(_) if plan.networks.is_empty() => Ok(()),
            HostDataPlane::Unavailable(reason) => Err(node_error(OverlayStep::Connect, reason)),
        }
    }

    async fn remove_all(&self) -> Result<(), OverlayError> {
        match self {
            HostDataPlane::Linux(plane) => plane.remove_all().await,
            HostDataPlane::Unavailable(_) => Ok(()),
        }
    }

    async fn discover(&self, discovery: &Discovery) {
        if let HostDataPlane::Linux(plane) = self {
            plane.discover(discovery).await
        }
    }

    fn needs_retry(&self) -> bool {
        matches!(self, HostDataPlane::Linux(plane) if plane.needs_retry())
    }

    fn tunnel_identity(&self) -> Option<TunnelIdentity> {
        match self {
            HostDataPlane::Linux(plane) => plane.tunnel_identity(),
            HostDataPlane::Unavailable(_) => None,
        }
    }

    fn rotate_tunnel_key(&self) {
        if let HostDataPlane::Linux(plane) = self {
            plane.rotate_tunnel_key()
        }
    }

    fn held_back(&self) -> BTreeSet<String> {
        match self {
            HostDataPlane::Linux(plane) => plane.held_back(),
            HostDataPlane::Unavailable(_) => BTreeSet::new(),
        }
    }
}

/// Whether the VXLAN device `link` has the settings of `network` that cannot change in place, `local` among them.
fn vxlan_settings_match(link: &LinkMessage, network: &OverlayNetworkPlan, local: Ipv4Addr) -> bool {
    let Some(infos) = vxlan_info(link) else { return false };
    let has = |wanted: &InfoVxlan| infos.iter().any(|info| info == wanted);
    has(&InfoVxlan::Id(network.vxlan_id))
        && has(&InfoVxlan::Port(network.vxlan_port))
        && has(&InfoVxlan::Local(local))
        && has(&InfoVxlan::Learning(false))
        && has(&InfoVxlan::Proxy(true))
}

/// The Docker network a plan's network asks for.
fn docker_spec(network: &OverlayNetworkPlan) -> OverlayNetworkSpec {
    OverlayNetworkSpec {
        name: network.network_name(),
        overlay_network_id: network.network_id.clone(),
        parent: network.vxlan_name(),
        subnet: network.subnet,
        prefix_len: network.prefix_len,
        gateway: network.local_gateway,
        egress: !network.internal,
    }
}

/// Whether `link` is a bridge-mode macvlan whose parent is the device at `parent_index`.
fn is_bridge_macvlan_on(link: &LinkMessage, parent_index: u32) -> bool {
    let on_parent =
        link.attributes.iter().any(|nla| matches!(nla, LinkAttribute::Link(index) if *index == parent_index));
    let bridge_mode = link.attributes.iter().any(|nla| match nla {
        LinkAttribute::LinkInfo(infos) => infos.iter().any(|info| {
            matches!(info, LinkInfo::Data(InfoData::MacVlan(settings))
                if settings.contains(&InfoMacVlan::Mode(MacVlanMode::Bridge)))
        }),
        _ => false,
    });
    on_parent && bridge_mode
}

fn node_error(step: OverlayStep, reason: impl std::fmt::Display) -> OverlayError {
    OverlayError::new(NODE_WIDE, step, reason)
}

/// A bridge-family neighbour message for the VXLAN device's own FDB (`self`, permanent).
fn fdb_message(vxlan_index: u32, mac: &[u8], dst: Option<Ipv4Addr>) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = vxlan_index;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message.header.kind = RouteType::Unspec;
    message.attributes.push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    if let Some(dst) = dst {
        message.attributes.push(NeighbourAttribute::Destination(NeighbourAddress::Inet(dst)));
    }
    message
}

/// The (MAC, IPv4 destination) of a VXLAN FDB entry, if it has both.
fn fdb_entry(entry: &NeighbourMessage) -> Option<FdbEntry> {
    let mac: [u8; 6] = lladdr(entry)?.try_into().ok()?;
    Some((mac, neighbour_addr(entry)?))
}

fn lladdr(entry: &NeighbourMessage) -> Option<Vec<u8>> {
    entry.attributes.iter().find_map(|nla| match nla {
        NeighbourAttribute::LinkLayerAddress(mac) => Some(mac.clone()),
        _ => None,
    })
}

fn neighbour_addr(entry: &NeighbourMessage) -> Option<Ipv4Addr> {
    entry.attributes.iter().find_map(|nla| match nla {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(addr)) => Some(*addr),
        _ => None,
    })
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|nla| match nla {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

fn link_address(link: &LinkMessage) -> Option<&[u8]> {
    link.attributes.iter().find_map(|nla| match nla {
        LinkAttribute::Address(mac) => Some(mac.as_slice()),
        _ => None,
    })
}

fn link_mtu(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|nla| match nla {
        LinkAttribute::Mtu(mtu) => Some(*mtu),
        _ => None,
    })
}

fn link_controller(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|nla| match nla {
        LinkAttribute::Controller(index) => Some(*index),
        _ => None,
    })
}

/// The VXLAN settings of a device, if it is a VXLAN device.
fn vxlan_info(link: &LinkMessage) -> Option<&[InfoVxlan]> {
    let infos = link.attributes.iter().find_map(|nla| match nla {
        LinkAttribute::LinkInfo(infos) => Some(infos),
        _ => None,
    })?;
    infos.contains(&LinkInfo::Kind(InfoKind::Vxlan)).then_some(())?;
    infos.iter().find_map(|info| match info {
        LinkInfo::Data(InfoData::Vxlan(settings)) => Some(settings.as_slice()),
        _ => None,
    })
}

/// The kernel said ENOENT or ENODEV: what was to be removed is already gone.
fn is_not_found(error: &rtnetlink::Error) -> bool {
    match error {
        rtnetlink::Error::NetlinkError(message) => {
            let code = message.raw_code().abs();
            code == libc_errno::ENOENT || code == libc_errno::ENODEV
        }
        _ => false,
    }
}

/// The kernel said EEXIST.
fn is_exists(error: &rtnetlink::Error) -> bool {
    matches!(error, rtnetlink::Error::NetlinkError(message) if message.raw_code().abs() == libc_errno::EEXIST)
}

/// The errno values `is_not_found` and `is_exists` need (runtime does not depend on libc for three numbers).
mod libc_errno {
    pub const EEXIST: i32 = 17;
    pub const ENOENT: i32 = 2;
    pub const ENODEV: i32 = 19;
}
