//! Keeps plaintext VXLAN out of encrypted networks. The kernel's VXLAN devices share one UDP socket per port and
//! tell frames apart by VNI alone, so without a rule anyone who reaches the data-path port — a node `node rm` just
//! removed included — could put frames into an encrypted network by its VNI (Docker's CVE-2023-28840). One
//! nftables table per node, `ip swarm_sealed_<node id>`, drops (and counts) every VXLAN datagram to the data-path
//! port that carries an encrypted network's VNI and did not come out of the node's tunnel. Invariant: the table
//! is replaced whole in one nft transaction, present exactly while the node realises an encrypted network, and
//! nothing else is touched.

use serde_json::{json, Value};

use crate::worker::vip::apply::apply_in_this_namespace;

/// The prefix of the table: `swarm_sealed_` + the first ten characters of the node id (nodes sharing a
/// namespace keep their own).
pub const TABLE_PREFIX: &str = "swarm_sealed_";
/// Where the VNI sits: the second word of the VXLAN header, after the UDP header (bits from the transport header).
const VNI_OFFSET_BITS: u32 = 96;
const VNI_BITS: u32 = 24;

/// Node `node_id`'s table.
pub fn table_name(node_id: &str) -> String {
    let end = node_id.char_indices().nth(10).map_or(node_id.len(), |(index, _)| index);
    format!("{TABLE_PREFIX}{}", &node_id[..end])
}

/// The nft JSON document that makes the table drop VXLAN to `port` for each of `vnis` unless it arrived on
/// `tunnel_device`; the table's removal when `vnis` is empty.
pub fn table_json(table: &str, tunnel_device: &str, port: u16, vnis: &[u32]) -> Value {
    let table_ref = json!({"family": "ip", "name": table});
    let mut commands = vec![json!({"add": {"table": table_ref}}), json!({"delete": {"table": table_ref}})];
    if !vnis.is_empty() {
        commands.push(json!({"add": {"table": table_ref}}));
        commands.push(json!({"add": {"chain": {
            "family": "ip", "table": table, "name": "input",
            "type": "filter", "hook": "input", "prio": -1, "policy": "accept",
        }}}));
        for vni in vnis {
            commands.push(json!({"add": {"rule": {
                "family": "ip", "table": table, "chain": "input",
                "expr": [
                    {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": port}},
                    {"match": {"op": "==", "left": {"payload": {"base": "th", "offset": VNI_OFFSET_BITS, "len": VNI_BITS}}, "right": vni}},
                    {"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": tunnel_device}},
                    {"counter": null},
                    {"drop": null},
                ],
            }}}));
        }
    }
    json!({ "nftables": commands })
}

/// Installs (some `vnis`) or removes the table in this process's network namespace. The error is nft's own words.
pub async fn apply(table: &str, tunnel_device: &str, port: u16, vnis: &[u32]) -> Result<(), String> {
    apply_in_this_namespace(&table_json(table, tunnel_device, port, vnis), vnis.is_empty()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_encrypted_vni_is_dropped_unless_it_came_out_of_the_tunnel() {
        let wanted = table_json("swarm_sealed_n1", "swc-n1", 4789, &[4097, 4099]).to_string();
        assert_eq!(wanted.matches(r#""drop":null"#).count(), 2, "{wanted}");
        assert!(wanted.contains(r#""right":4097"#) && wanted.contains(r#""right":"swc-n1""#), "{wanted}");
        assert!(wanted.contains(r#""offset":96"#) && wanted.contains(r#""hook":"input""#), "{wanted}");
        let unwanted = table_json("swarm_sealed_n1", "swc-n1", 4789, &[]);
        assert_eq!(unwanted["nftables"].as_array().map(Vec::len), Some(2), "add then delete: {unwanted}");
        assert_eq!(table_name("7m3xq9k2p1a8b4c6d0e5f2g7h"), "swarm_sealed_7m3xq9k2p1");
    }
}
