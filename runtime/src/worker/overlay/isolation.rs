//! Keeps overlay networks apart on a node: the node holds a gateway address on every overlay network it has a
//! task on, so without a rule the host would route between them — and from the node's egress bridge network,
//! where every task on a network with egress also sits, into any of them (Docker's FORWARD chain accepts whatever
//! leaves a bridge). One nftables table in the node's namespace, `inet swarm_overlay`, drops every forwarded packet
//! that enters or leaves an overlay gateway device (`swg-…`); traffic between tasks of one network never passes the
//! host's forwarding (their macvlan interfaces reach each other and the tunnel directly), and the node's own
//! traffic to and from its gateways (the resolver) is not forwarded. The routing mesh's connections (marked by
//! `mesh`) pass. A drop in any base chain is final, whatever
//! Docker's iptables chains say. Invariant: the table is replaced whole in one nft transaction, present exactly
//! while the node has an overlay network, and nothing else is touched.

use serde_json::{json, Value};

use super::plan::GATEWAY_NAME_PREFIX;
use crate::worker::vip::apply::apply_in_this_namespace;

/// Our table in the node's namespace.
pub const TABLE: &str = "swarm_overlay";

/// The nft JSON document that makes the table what it should be: present with its rules when `wanted`, absent
/// otherwise (adding an empty table first makes the delete succeed when it is already gone).
pub fn table_json(wanted: bool) -> Value {
    let table = json!({"family": "inet", "name": TABLE});
    let mut commands = vec![json!({"add": {"table": table}}), json!({"delete": {"table": table}})];
    if wanted {
        let wildcard = format!("{GATEWAY_NAME_PREFIX}*");
        commands.push(json!({"add": {"table": table}}));
        commands.push(json!({"add": {"chain": {
            "family": "inet", "table": TABLE, "name": "forward",
            "type": "filter", "hook": "forward", "prio": -1, "policy": "accept",
        }}}));
        // The routing mesh's connections cross from the underlay into `ingress` and back.
        commands.push(json!({"add": {"rule": {
            "family": "inet", "table": TABLE, "chain": "forward",
            "expr": [
                {"match": {"op": "==", "left": {"ct": {"key": "mark"}}, "right": super::mesh::MESH_MARK}},
                {"accept": null},
            ],
        }}}));
        for side in ["iifname", "oifname"] {
            commands.push(json!({"add": {"rule": {
                "family": "inet", "table": TABLE, "chain": "forward",
                "expr": [
                    {"match": {"op": "==", "left": {"meta": {"key": side}}, "right": wildcard}},
                    {"drop": null},
                ],
            }}}));
        }
    }
    json!({ "nftables": commands })
}

/// Installs (`wanted`) or removes the table in this process's network namespace. The error is nft's own words.
pub async fn apply(wanted: bool) -> Result<(), String> {
    apply_in_this_namespace(&table_json(wanted), !wanted).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_drops_forwarding_through_gateway_devices_and_is_removed_when_unwanted() {
        let wanted = table_json(true).to_string();
        assert!(wanted.contains(r#""hook":"forward""#) && wanted.contains(r#""right":"swg-*""#), "{wanted}");
        assert_eq!(wanted.matches(r#""drop":null"#).count(), 2, "{wanted}");
        let unwanted = table_json(false);
        assert_eq!(unwanted["nftables"].as_array().map(Vec::len), Some(2), "add then delete: {unwanted}");
    }
}
