//! The routing mesh's return path inside one task container, as data: the mesh does not rewrite the client's
//! address, so a task must answer each connection the mesh brought through the node it came through. In the
//! container's namespace, our table `ip swarm_mesh_return` marks the connection of every packet arriving from a
//! node's gateway on `ingress` with that gateway's address (every packet, not only a connection's first: a UDP
//! client that keeps its port and moves to another node, its first one gone, is answered through the new one) (recognised by its Docker MAC, `02:42` + the address) and
//! gives replies of marked connections the mark as their packet mark; one `ip rule` per gateway (priority
//! [`RULE_PRIORITY`], before the main table) sends packets with that mark to a routing table whose default route
//! is that gateway. Mark and table number are the gateway address as a number, so they never collide and need no
//! bookkeeping. Pure, so the simulator compiles it. Invariant: the same gateways in any order render the same
//! table and the same `ip` commands; applying them to any earlier state leaves exactly the rules of these
//! gateways; no gateway (a container without an `ingress` address) renders the removal of everything.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::{json, Value};
use swarm_core::overlay::NodeOverlayPlan;
use swarm_core::NetworkAttachment;

/// Our table in the container's namespace.
pub const TABLE: &str = "swarm_mesh_return";
/// The priority of our `ip rule`s: before the main table's (32766), after the local table's (0).
pub const RULE_PRIORITY: u32 = 32000;
/// Before NAT in prerouting (nftables' `mangle`); the route chain reroutes replies whose mark it set.
const MANGLE_PRIORITY: i32 = -150;

/// The gateways one container answers mesh clients through, sorted; empty without an address on `ingress`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeshReturn {
    gateways: Vec<Ipv4Addr>,
}

/// One `ip rule` of ours as `ip -j rule show` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstalledRule {
    pub mark: u32,
    pub table: u32,
}

impl MeshReturn {
    pub fn new(gateways: impl IntoIterator<Item = Ipv4Addr>) -> MeshReturn {
        let gateways: BTreeSet<Ipv4Addr> = gateways.into_iter().collect();
        MeshReturn { gateways: gateways.into_iter().collect() }
    }

    /// What a container attached as `attachments` needs under `plan`: every node's `ingress` gateway if it has an
    /// address on `ingress`, else nothing.
    pub fn for_container(plan: &NodeOverlayPlan, attachments: &[NetworkAttachment]) -> MeshReturn {
        let mesh = &plan.mesh;
        let on_ingress = !mesh.network_id.is_empty() && attachments.iter().any(|a| a.network_id == mesh.network_id);
        if !on_ingress {
            return MeshReturn::default();
        }
        MeshReturn::new(mesh.gateways.iter().copied())
    }

    pub fn gateways(&self) -> &[Ipv4Addr] {
        &self.gateways
    }

    /// The connection mark, packet mark and routing table of the connections that came through `gateway`.
    pub fn mark_of(gateway: Ipv4Addr) -> u32 {
        u32::from(gateway)
    }

    /// The nft transaction that replaces our table (removes it without gateways), whatever the namespace holds.
    pub fn to_nft_json(&self) -> Value {
        let table = json!({"family": "ip", "name": TABLE});
        let mut commands = vec![
            json!({"metainfo": {"json_schema_version": 1}}),
            json!({"add": {"table": table}}),
            json!({"delete": {"table": table}}),
        ];
        if !self.gateways.is_empty() {
            commands.push(json!({"add": {"table": table}}));
            commands.push(json!({"add": {"chain": {
                "family": "ip", "table": TABLE, "name": "mark_clients",
                "type": "filter", "hook": "prerouting", "prio": MANGLE_PRIORITY, "policy": "accept",
            }}}));
            let by_mac: Vec<Value> = self
                .gateways
                .iter()
                .map(|gateway| json!([mac_text(*gateway), MeshReturn::mark_of(*gateway)]))
                .collect();
            commands.push(json!({"add": {"rule": {
                "family": "ip", "table": TABLE, "chain": "mark_clients",
                "expr": [
                    {"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"map": {
                        "key": {"payload": {"protocol": "ether", "field": "saddr"}},
                        "data": {"set": by_mac},
                    }}}},
                ],
            }}}));
            commands.push(json!({"add": {"chain": {
                "family": "ip", "table": TABLE, "name": "route_replies",
                "type": "route", "hook": "output", "prio": MANGLE_PRIORITY, "policy": "accept",
            }}}));
            commands.push(json!({"add": {"rule": {
                "family": "ip", "table": TABLE, "chain": "route_replies",
                "expr": [
                    {"match": {"op": "!=", "left": {"ct": {"key": "mark"}}, "right": 0}},
                    {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"ct": {"key": "mark"}}}},
                ],
            }}}));
        }
        json!({ "nftables": commands })
    }

    /// The `ip -batch` commands (run with `-force`, so one that fails does not stop the rest) that turn the rules
    /// `installed` at [`RULE_PRIORITY`] into exactly one per gateway, each with its table's default route.
    pub fn ip_batch(&self, installed: &[InstalledRule]) -> String {
        let wanted: BTreeSet<InstalledRule> = self
            .gateways
            .iter()
            .map(|gateway| InstalledRule { mark: MeshReturn::mark_of(*gateway), table: MeshReturn::mark_of(*gateway) })
            .collect();
        let mut batch = String::new();
        let installed_set: BTreeSet<InstalledRule> = installed.iter().copied().collect();
        for stale in installed_set.difference(&wanted) {
            batch.push_str(&format!(
                "rule del priority {RULE_PRIORITY} fwmark {:#x} lookup {}\n",
                stale.mark, stale.table
            ));
            batch.push_str(&format!("route flush table {}\n", stale.table));
        }
        for gateway in &self.gateways {
            let number = MeshReturn::mark_of(*gateway);
            batch.push_str(&format!("route replace default via {gateway} table {number}\n"));
            let rule = InstalledRule { mark: number, table: number };
            if !installed_set.contains(&rule) {
                batch.push_str(&format!("rule add priority {RULE_PRIORITY} fwmark {number:#x} lookup {number}\n"));
            }
        }
        batch
    }
}

/// `ip -j rule show priority RULE_PRIORITY` read back: the (mark, table) of each rule of ours — written with a
/// mark equal to its table number and no mask. Any other rule at our priority is not ours: left out, never deleted.
pub fn parse_installed(json_text: &str) -> Result<Vec<InstalledRule>, String> {
    let listed: Value = serde_json::from_str(json_text).map_err(|e| format!("`ip -j rule show` output: {e}"))?;
    let rules = listed.as_array().ok_or("`ip -j rule show` output is not a list")?;
    let number = |value: &Value| -> Option<u32> {
        if let Some(number) = value.as_u64() {
            return u32::try_from(number).ok();
        }
        let text = value.as_str()?;
        match text.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => text.parse().ok(),
        }
    };
    Ok(rules
        .iter()
        .filter(|rule| rule.get("fwmask").is_none())
        .filter_map(|rule| Some(InstalledRule { mark: number(&rule["fwmark"])?, table: number(&rule["table"])? }))
        .filter(|rule| rule.mark == rule.table)
        .collect())
}

/// A gateway's Docker MAC as nft writes it.
fn mac_text(gateway: Ipv4Addr) -> String {
    let bytes: Vec<String> =
        crate::worker::overlay::plan::mac_for(gateway).iter().map(|b| format!("{b:02x}")).collect();
    bytes.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const G1: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const G2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

    #[test]
    fn each_gateway_gets_a_mark_a_rule_and_a_route() {
        let wanted = MeshReturn::new([G2, G1, G2]);
        assert_eq!(wanted.gateways(), [G1, G2]);
        assert_eq!(MeshReturn::mark_of(G1), 0x0a00_0002);
        let text = wanted.to_nft_json().to_string();
        assert!(text.contains(r#"["02:42:0a:00:00:02",167772162]"#), "{text}");
        assert!(text.contains(r#""type":"route""#), "{text}");
        assert_eq!(
            wanted.ip_batch(&[]),
            "route replace default via 10.0.0.2 table 167772162\n\
             rule add priority 32000 fwmark 0xa000002 lookup 167772162\n\
             route replace default via 10.0.0.3 table 167772163\n\
             rule add priority 32000 fwmark 0xa000003 lookup 167772163\n"
        );
    }

    #[test]
    fn applying_again_adds_nothing_and_stale_rules_go() {
        let installed = parse_installed(
            r#"[{"priority":32000,"src":"all","fwmark":"0xa000002","table":"167772162"},
                {"priority":32000,"src":"all","fwmark":167772169,"table":"167772169"},
                {"priority":32000,"src":"all","table":"main"},
                {"priority":32000,"src":"all","fwmark":"0x1","table":"100"},
                {"priority":32000,"src":"all","fwmark":"0xa000003","fwmask":"0xff","table":"167772163"}]"#,
        )
        .unwrap();
        assert_eq!(installed.len(), 2, "only rules with a mark equal to their table and no mask are ours");
        assert_eq!(
            MeshReturn::new([G1]).ip_batch(&installed),
            "rule del priority 32000 fwmark 0xa000009 lookup 167772169\n\
             route flush table 167772169\n\
             route replace default via 10.0.0.2 table 167772162\n"
        );
        let removal = MeshReturn::default();
        assert_eq!(removal.to_nft_json()["nftables"].as_array().map(Vec::len), Some(3), "add, delete: removed");
        assert!(removal.ip_batch(&installed).starts_with("rule del priority 32000 fwmark 0xa000002"));
        assert!(parse_installed("garbage").is_err());
    }
}
