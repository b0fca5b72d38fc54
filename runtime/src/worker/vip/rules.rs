//! The VIP load-balancing rules of one container, as data: which VIPs the container sees (the services on the
//! networks it is attached to) and which running tasks each one balances over, rendered as the one nftables
//! transaction that replaces our table (`ip swarm_vip`: a nat chain DNATing VIPs with backends, a filter chain
//! rejecting VIPs without) in the container's network namespace — nft's JSON for `nft -j -f -`, and the text
//! `nft list table` prints, for logs and for checking what the kernel holds. Pure, so
//! the simulator compiles it. Invariant: the same VIPs and backends, given in any order and with repeats, render
//! byte-identical output (VIPs and backends sorted, deduplicated), and every rendering replaces the whole table at
//! once — no packet ever sees a half-built table; no VIP at all renders the table's removal.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use serde_json::{json, Value};
use swarm_core::overlay::NodeOverlayPlan;

/// Our nftables table (family `ip`) in each task container's namespace. Docker's own rules for its embedded DNS
/// resolver (127.0.0.11) live in the `ip nat` table there, which we never touch.
pub const TABLE: &str = "swarm_vip";
/// The chain of `TABLE` that DNATs locally generated traffic to a VIP with backends to one of them (type nat).
pub const DNAT_CHAIN: &str = "vip_dnat";
/// Its priority: nftables' `dstnat` (nft 1.0.6 lists it as the number), where destination NAT belongs.
pub const DNAT_PRIORITY: i32 = -100;
/// The chain of `TABLE` that rejects traffic to a VIP without backends (type filter). Not in the nat chain: nat
/// chains run only for packets conntrack tracks, and conntrack is on in a namespace only while some rule needs it
/// (a `dnat` does; a `reject` does not), so a nat chain holding only rejects is never consulted.
pub const REJECT_CHAIN: &str = "vip_reject";
/// Its priority: nftables' `filter`, after `DNAT_CHAIN` rewrote the addresses of VIPs with backends.
pub const REJECT_PRIORITY: i32 = 0;

/// One VIP and the addresses of the running tasks behind it, sorted and deduplicated. No backend: connections to
/// the VIP are rejected, so clients fail at once instead of timing out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipTarget {
    pub vip: Ipv4Addr,
    pub backends: Vec<Ipv4Addr>,
}

/// Every VIP one container sees, sorted by VIP address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VipRuleset {
    targets: Vec<VipTarget>,
}

impl VipRuleset {
    /// From (VIP, backends) pairs in any order. A VIP named twice balances over the union of its backends.
    pub fn new(vips: impl IntoIterator<Item = (Ipv4Addr, Vec<Ipv4Addr>)>) -> VipRuleset {
        let mut by_vip: BTreeMap<Ipv4Addr, BTreeSet<Ipv4Addr>> = BTreeMap::new();
        for (vip, backends) in vips {
            by_vip.entry(vip).or_default().extend(backends);
        }
        let targets = by_vip
            .into_iter()
            .map(|(vip, backends)| VipTarget { vip, backends: backends.into_iter().collect() })
            .collect();
        VipRuleset { targets }
    }

    /// The VIPs a container attached to `network_ids` sees under `plan`: every service with a VIP (endpoint mode
    /// `vip`; `dnsrr` services have none) on each of those networks, over its running tasks there. Networks the
    /// plan does not hold contribute nothing.
    pub fn for_container<S: AsRef<str>>(
        plan: &NodeOverlayPlan,
        network_ids: impl IntoIterator<Item = S>,
    ) -> VipRuleset {
        let wanted: BTreeSet<String> = network_ids.into_iter().map(|id| id.as_ref().to_owned()).collect();
        let vips = plan
            .networks
            .iter()
            .filter(|network| wanted.contains(&network.network_id))
            .flat_map(|network| network.services.iter())
            .filter_map(|service| Some((service.vip?, service.tasks.iter().map(|task| task.addr).collect())));
        VipRuleset::new(vips)
    }

    /// The VIPs, sorted, each with its sorted backends.
    pub fn targets(&self) -> &[VipTarget] {
        &self.targets
    }

    /// No VIP: applying this ruleset removes our table.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The transaction for `nft -j -f -`: create our table if missing and delete it (so neither step fails
    /// whatever the namespace holds), then, unless there is no VIP, build it anew. nft applies the whole document
    /// as one kernel transaction.
    pub fn to_nft_json(&self) -> Value {
        let mut commands = vec![json!({"metainfo": {"json_schema_version": 1}})];
        commands.push(json!({"add": {"table": table_object()}}));
        commands.push(json!({"delete": {"table": table_object()}}));
        if !self.is_empty() {
            commands.push(json!({"add": {"table": table_object()}}));
            for (chain, kind, priority, targets) in self.chains() {
                commands.push(json!({"add": {"chain": {
                    "family": "ip",
                    "table": TABLE,
                    "name": chain,
                    "type": kind,
                    "hook": "output",
                    "prio": priority,
                    "policy": "accept",
                }}}));
                for target in targets {
                    commands.push(json!({"add": {"rule": {
                        "family": "ip",
                        "table": TABLE,
                        "chain": chain,
                        "expr": [daddr_match(target.vip), verdict(&target.backends)],
                    }}}));
                }
            }
        }
        json!({ "nftables": commands })
    }

    /// The table's chains — (name, type, priority, VIPs) — each only if it has a VIP: the DNAT chain for VIPs with
    /// backends, the reject chain for VIPs without.
    fn chains(&self) -> impl Iterator<Item = (&'static str, &'static str, i32, Vec<&VipTarget>)> {
        let (balanced, refused): (Vec<&VipTarget>, Vec<&VipTarget>) =
            self.targets.iter().partition(|target| !target.backends.is_empty());
        [(DNAT_CHAIN, "nat", DNAT_PRIORITY, balanced), (REJECT_CHAIN, "filter", REJECT_PRIORITY, refused)]
            .into_iter()
            .filter(|(_, _, _, targets)| !targets.is_empty())
    }
}

/// The transaction that removes our table, whether or not it exists.
pub fn removal_json() -> Value {
    VipRuleset::default().to_nft_json()
}

fn table_object() -> Value {
    json!({"family": "ip", "name": TABLE})
}

fn daddr_match(vip: Ipv4Addr) -> Value {
    json!({"match": {
        "op": "==",
        "left": {"payload": {"protocol": "ip", "field": "daddr"}},
        "right": vip.to_string(),
    }})
}

/// Reject with no backend, a plain DNAT with one, and a uniformly random pick among several.
fn verdict(backends: &[Ipv4Addr]) -> Value {
    match backends {
        [] => json!({"reject": null}),
        some => dnat(some, None),
    }
}

/// The nft JSON statement DNATing to one of `backends` (at least one) — the only one, or a uniformly random pick
/// (`numgen random mod N map`) — keeping the destination port or rewriting it to `port`.
pub fn dnat(backends: &[Ipv4Addr], port: Option<u32>) -> Value {
    assert!(!backends.is_empty(), "a DNAT needs a backend");
    let addr = match backends {
        [only] => json!(only.to_string()),
        several => {
            let pairs: Vec<Value> =
                several.iter().enumerate().map(|(index, addr)| json!([index, addr.to_string()])).collect();
            json!({"map": {
                "key": {"numgen": {"mode": "random", "mod": several.len(), "offset": 0}},
                "data": {"set": pairs},
            }})
        }
    };
    match port {
        Some(port) => json!({"dnat": {"addr": addr, "port": port}}),
        None => json!({"dnat": {"addr": addr}}),
    }
}

/// The table as `nft list table ip swarm_vip` prints it (tabs, one rule a line); nothing for an empty ruleset.
impl fmt::Display for VipRuleset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        writeln!(f, "table ip {TABLE} {{")?;
        for (index, (chain, kind, priority, targets)) in self.chains().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            // nft 1.0.6 names the filter priority but lists the nat output priority as a number.
            let priority = if kind == "filter" && priority == 0 { "filter".to_owned() } else { priority.to_string() };
            writeln!(f, "\tchain {chain} {{")?;
            writeln!(f, "\t\ttype {kind} hook output priority {priority}; policy accept;")?;
            for target in targets {
                write!(f, "\t\tip daddr {} ", target.vip)?;
                match target.backends.as_slice() {
                    [] => writeln!(f, "reject")?,
                    [only] => writeln!(f, "dnat to {only}")?,
                    several => {
                        let pairs: Vec<String> =
                            several.iter().enumerate().map(|(index, addr)| format!("{index} : {addr}")).collect();
                        writeln!(f, "dnat to numgen random mod {} map {{ {} }}", several.len(), pairs.join(", "))?;
                    }
                }
            }
            writeln!(f, "\t}}")?;
        }
        writeln!(f, "}}")
    }
}

#[cfg(test)]
mod tests {
    use swarm_core::ipam::Ipv4Cidr;
    use swarm_core::overlay::{OverlayNetworkPlan, ServiceEndpoints, TaskEndpoint};

    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().expect("a test address")
    }

    /// Golden JSON compares as a value: the document's meaning, whatever order serde_json keeps keys in.
    fn golden(text: &str) -> Value {
        serde_json::from_str(text).expect("golden JSON parses")
    }

    const REMOVAL: &str = concat!(
        r#"{"nftables":[{"metainfo":{"json_schema_version":1}},"#,
        r#"{"add":{"table":{"family":"ip","name":"swarm_vip"}}},"#,
        r#"{"delete":{"table":{"family":"ip","name":"swarm_vip"}}}]}"#,
    );

    #[test]
    fn no_vip_removes_the_table() {
        let ruleset = VipRuleset::new([]);
        assert!(ruleset.is_empty());
        assert_eq!(ruleset.to_nft_json(), golden(REMOVAL));
        assert_eq!(removal_json(), golden(REMOVAL));
        assert_eq!(ruleset.to_string(), "");
    }

    #[test]
    fn the_json_transaction_replaces_the_whole_table() {
        let ruleset = VipRuleset::new([
            (ip("10.0.1.2"), vec![ip("10.0.1.12"), ip("10.0.1.11"), ip("10.0.1.13")]),
            (ip("10.0.0.2"), vec![ip("10.0.0.7")]),
            (ip("10.0.2.2"), vec![]),
        ]);
        let expected = concat!(
            r#"{"nftables":[{"metainfo":{"json_schema_version":1}},"#,
            r#"{"add":{"table":{"family":"ip","name":"swarm_vip"}}},"#,
            r#"{"delete":{"table":{"family":"ip","name":"swarm_vip"}}},"#,
            r#"{"add":{"table":{"family":"ip","name":"swarm_vip"}}},"#,
            r#"{"add":{"chain":{"family":"ip","table":"swarm_vip","name":"vip_dnat","type":"nat","#,
            r#""hook":"output","prio":-100,"policy":"accept"}}},"#,
            r#"{"add":{"rule":{"family":"ip","table":"swarm_vip","chain":"vip_dnat","expr":["#,
            r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.0.0.2"}},"#,
            r#"{"dnat":{"addr":"10.0.0.7"}}]}}},"#,
            r#"{"add":{"rule":{"family":"ip","table":"swarm_vip","chain":"vip_dnat","expr":["#,
            r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.0.1.2"}},"#,
            r#"{"dnat":{"addr":{"map":{"key":{"numgen":{"mode":"random","mod":3,"offset":0}},"#,
            r#""data":{"set":[[0,"10.0.1.11"],[1,"10.0.1.12"],[2,"10.0.1.13"]]}}}}}]}}},"#,
            r#"{"add":{"chain":{"family":"ip","table":"swarm_vip","name":"vip_reject","type":"filter","#,
            r#""hook":"output","prio":0,"policy":"accept"}}},"#,
            r#"{"add":{"rule":{"family":"ip","table":"swarm_vip","chain":"vip_reject","expr":["#,
            r#"{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.0.2.2"}},"#,
            r#"{"reject":null}]}}}]}"#,
        );
        assert_eq!(ruleset.to_nft_json(), golden(expected));
    }

    #[test]
    fn the_text_is_what_nft_lists() {
        let ruleset = VipRuleset::new([
            (ip("10.213.0.3"), vec![]),
            (ip("10.213.0.2"), vec![ip("10.213.0.12"), ip("10.213.0.11")]),
            (ip("10.213.0.4"), vec![ip("10.213.0.12")]),
        ]);
        let expected = "table ip swarm_vip {\n\
                        \tchain vip_dnat {\n\
                        \t\ttype nat hook output priority -100; policy accept;\n\
                        \t\tip daddr 10.213.0.2 dnat to numgen random mod 2 map { 0 : 10.213.0.11, 1 : 10.213.0.12 }\n\
                        \t\tip daddr 10.213.0.4 dnat to 10.213.0.12\n\
                        \t}\n\
                        \n\
                        \tchain vip_reject {\n\
                        \t\ttype filter hook output priority filter; policy accept;\n\
                        \t\tip daddr 10.213.0.3 reject\n\
                        \t}\n\
                        }\n";
        assert_eq!(ruleset.to_string(), expected);
        let only_refused = VipRuleset::new([(ip("10.213.0.3"), vec![])]);
        assert_eq!(
            only_refused.to_string(),
            "table ip swarm_vip {\n\
             \tchain vip_reject {\n\
             \t\ttype filter hook output priority filter; policy accept;\n\
             \t\tip daddr 10.213.0.3 reject\n\
             \t}\n\
             }\n"
        );
    }

    #[test]
    fn order_and_repeats_do_not_change_the_output() {
        let a = VipRuleset::new([
            (ip("10.0.0.2"), vec![ip("10.0.0.9"), ip("10.0.0.8")]),
            (ip("10.0.0.3"), vec![ip("10.0.0.10")]),
        ]);
        let b = VipRuleset::new([
            (ip("10.0.0.3"), vec![ip("10.0.0.10"), ip("10.0.0.10")]),
            (ip("10.0.0.2"), vec![ip("10.0.0.8")]),
            (ip("10.0.0.2"), vec![ip("10.0.0.9"), ip("10.0.0.8")]),
        ]);
        assert_eq!(a, b);
        assert_eq!(a.to_nft_json().to_string(), b.to_nft_json().to_string());
        assert_eq!(
            a.targets(),
            [
                VipTarget { vip: ip("10.0.0.2"), backends: vec![ip("10.0.0.8"), ip("10.0.0.9")] },
                VipTarget { vip: ip("10.0.0.3"), backends: vec![ip("10.0.0.10")] },
            ]
        );
    }

    fn service(name: &str, vip: Option<&str>, tasks: &[&str]) -> ServiceEndpoints {
        ServiceEndpoints {
            name: name.into(),
            aliases: Vec::new(),
            vip: vip.map(ip),
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(slot, addr)| TaskEndpoint { addr: ip(addr), name: format!("{name}.{}.t{slot}", slot + 1) })
                .collect(),
        }
    }

    fn network(id: &str, third_octet: u8, services: Vec<ServiceEndpoints>) -> OverlayNetworkPlan {
        OverlayNetworkPlan {
            network_id: id.into(),
            name: format!("net-{id}"),
            subnet: Ipv4Cidr::containing(Ipv4Addr::new(10, 0, third_octet, 0), 24).expect("a /24"),
            local_gateway: Ipv4Addr::new(10, 0, third_octet, 250),
            vxlan_id: 4096 + u32::from(third_octet),
            internal: false,
            encrypted: false,
            remote_peers: Vec::new(),
            remote_endpoints: Vec::new(),
            services,
        }
    }

    #[test]
    fn a_container_sees_the_vips_of_its_own_networks_only() {
        let plan = NodeOverlayPlan {
            networks: vec![
                network(
                    "front",
                    1,
                    vec![
                        service("web", Some("10.0.1.2"), &["10.0.1.5", "10.0.1.6"]),
                        service("rr", None, &["10.0.1.7"]),
                        service("idle", Some("10.0.1.3"), &[]),
                    ],
                ),
                network("back", 2, vec![service("db", Some("10.0.2.2"), &["10.0.2.5"])]),
                network("other", 3, vec![service("secret", Some("10.0.3.2"), &["10.0.3.5"])]),
            ],
            data_path_port: 4789,
            mesh: Default::default(),
            tunnel: Default::default(),
        };
        let ruleset = VipRuleset::for_container(&plan, ["back", "front", "unknown"]);
        assert_eq!(
            ruleset,
            VipRuleset::new([
                (ip("10.0.1.2"), vec![ip("10.0.1.5"), ip("10.0.1.6")]),
                (ip("10.0.1.3"), vec![]),
                (ip("10.0.2.2"), vec![ip("10.0.2.5")]),
            ])
        );
        assert!(VipRuleset::for_container(&plan, Vec::<String>::new()).is_empty());
        assert!(VipRuleset::for_container(&NodeOverlayPlan::default(), ["front"]).is_empty());
    }
}
