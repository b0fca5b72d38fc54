//! The names this node's DNS resolver answers, and to whom: a pure table built from the node's overlay plan and
//! the addresses of its own tasks, compiled everywhere (the simulator included; no sockets here). Docker Swarm's
//! rules on each network: a service's name and each of its aliases there name its VIP (endpoint mode `vip`) or its
//! running tasks' addresses (`dnsrr`); `tasks.<service>` and `tasks.<alias>` name the running tasks' addresses;
//! a task's container name (`service.slot.taskid`) names its address. Invariant: a name is answered only to a
//! client that is one of this node's tasks and shares a network with what the name designates — visibility is
//! decided by the query's source address, never by the name — and anything else is `NotOurs` (forwarded). The
//! table also says where a client's other names go: the nameservers of its task's spec (`--dns`), if it has any,
//! as Docker's embedded resolver forwards to a container's `--dns` servers; else the host's resolvers.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use swarm_core::overlay::{NodeOverlayPlan, OverlayNetworkPlan};
use swarm_core::NetworkAttachment;

/// What the resolver does with a query for an address of `name` from `client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The name is ours and visible to the client: these addresses, possibly none (a `dnsrr` service or a
    /// `tasks.` name with no running task). An empty answer is sent as NOERROR without records, so the client
    /// fails at once instead of waiting on an upstream that never heard of the name.
    Answer(Vec<Ipv4Addr>),
    /// Not a name of ours for this client (or the client is not one of our tasks): forward it upstream.
    NotOurs,
}

/// The names of one network, lowercased, without a trailing dot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NetworkNames {
    names: BTreeMap<String, Vec<Ipv4Addr>>,
}

impl NetworkNames {
    fn of(network: &OverlayNetworkPlan) -> Self {
        let mut names = Self::default();
        for service in &network.services {
            let tasks: Vec<Ipv4Addr> = service.tasks.iter().map(|task| task.addr).collect();
            let service_addrs = match service.vip {
                Some(vip) => vec![vip],
                None => tasks.clone(),
            };
            for name in std::iter::once(&service.name).chain(&service.aliases) {
                names.add(name, &service_addrs);
                names.add(&format!("tasks.{name}"), &tasks);
            }
            for task in &service.tasks {
                names.add(&task.name, &[task.addr]);
            }
        }
        names
    }

    /// Adds `addrs` to `name`; a name given twice on one network (an alias equal to another service's name)
    /// answers the union, as Docker's records do.
    fn add(&mut self, name: &str, addrs: &[Ipv4Addr]) {
        let Some(key) = normalise(name) else { return };
        let entry = self.names.entry(key).or_default();
        for addr in addrs {
            if !entry.contains(addr) {
                entry.push(*addr);
            }
        }
    }
}

/// The resolver's table: the names of every network this node realises, and which networks each local task
/// address may see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsRecords {
    /// By network id.
    networks: BTreeMap<String, NetworkNames>,
    /// A local task's address on any of its networks → all of that task's networks, in the task's order (the
    /// first network naming something answers, as Docker's resolver walks a container's endpoints in order).
    clients: BTreeMap<Ipv4Addr, Vec<String>>,
    /// A client's own upstreams (its task's `--dns` servers), by its addresses; clients not here use the host's.
    upstreams: BTreeMap<Ipv4Addr, Vec<SocketAddr>>,
}

impl DnsRecords {
    /// The table for `plan`, with `local_tasks` the network attachments of each task this node runs (`Task.networks`).
    /// Attachments on networks the plan does not hold, or outside their network's subnet, are ignored: they
    /// cannot be the source of a query arriving over that network.
    pub fn from_plan<'a>(
        plan: &NodeOverlayPlan,
        local_tasks: impl IntoIterator<Item = &'a [NetworkAttachment]>,
    ) -> Self {
        let networks: BTreeMap<String, NetworkNames> =
            plan.networks.iter().map(|network| (network.network_id.clone(), NetworkNames::of(network))).collect();
        let subnet_of = |id: &str| plan.networks.iter().find(|n| n.network_id == id).map(|n| n.subnet);
        let mut clients: BTreeMap<Ipv4Addr, Vec<String>> = BTreeMap::new();
        for attachments in local_tasks {
            let valid: Vec<&NetworkAttachment> = attachments
                .iter()
                .filter(|a| subnet_of(&a.network_id).is_some_and(|subnet| subnet.contains(a.addr)))
                .collect();
            let task_networks: Vec<String> = valid.iter().map(|a| a.network_id.clone()).collect();
            for attachment in &valid {
                // The allocator never gives one address to two live tasks; should the agent pass a stale task
                // beside its successor, the client sees the union of both tasks' networks.
                let seen = clients.entry(attachment.addr).or_default();
                for id in &task_networks {
                    if !seen.contains(id) {
                        seen.push(id.clone());
                    }
                }
            }
        }
        Self { networks, clients, upstreams: BTreeMap::new() }
    }

    /// Makes `upstreams` (a task's `--dns` servers, in order) where the names of the task with `attachments` that
    /// are not ours go, instead of the host's resolvers. Addresses that are not clients of the table are ignored;
    /// no upstreams changes nothing.
    pub fn set_upstreams(&mut self, attachments: &[NetworkAttachment], upstreams: &[SocketAddr]) {
        if upstreams.is_empty() {
            return;
        }
        for attachment in attachments {
            if self.clients.contains_key(&attachment.addr) {
                self.upstreams.insert(attachment.addr, upstreams.to_vec());
            }
        }
    }

    /// Where `client`'s queries for names that are not ours go, if its task names its own servers; `None`: the
    /// host's resolvers.
    pub fn upstreams(&self, client: Ipv4Addr) -> Option<&[SocketAddr]> {
        self.upstreams.get(&client).map(Vec::as_slice)
    }

    /// The answer for an address query of `name` from source address `client`: case-insensitive, with or
    /// without a trailing dot, the name exactly as given (no search domain is stripped).
    pub fn resolve(&self, client: Ipv4Addr, name: &str) -> Resolution {
        let Some(client_networks) = self.clients.get(&client) else { return Resolution::NotOurs };
        let Some(key) = normalise(name) else { return Resolution::NotOurs };
        for network_id in client_networks {
            if let Some(addrs) = self.networks.get(network_id).and_then(|names| names.names.get(&key)) {
                return Resolution::Answer(addrs.clone());
            }
        }
        Resolution::NotOurs
    }

    /// Whether `addr` is one of this node's tasks, i.e. a client the resolver answers at all.
    pub fn is_client(&self, addr: Ipv4Addr) -> bool {
        self.clients.contains_key(&addr)
    }

    /// How many names the table holds over all networks (for logs).
    pub fn name_count(&self) -> usize {
        self.networks.values().map(|names| names.names.len()).sum()
    }
}

/// A name as the table keys it: lowercase ASCII, one trailing dot removed; `None` for an empty name.
fn normalise(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
