//! The routing mesh on one node: every port published in ingress mode answers on every address of the node and
//! goes to a running task of its service, on this node or another, over the `ingress` overlay network. No IPVS
//! (this kernel has none): one nftables table of the node's in its namespace, `ip swarm_mesh_<node>`, DNATs new connections to
//! a local address's published port (`fib daddr type local`, in prerouting and, for the node's own clients, in
//! output, 127.0.0.1 included) to one of the service's tasks at random (`numgen random mod N map`), rewriting the port to the target
//! port, and marks them ([`MESH_MARK`]). Clients keep their address: the task answers through the gateway of the
//! node the connection came through (`vip::mesh_return`, in the task's namespace), so replies come back through
//! this node whichever node runs the task. Only the node's own clients (a local source address, 127.0.0.1
//! included, which cannot leave the node) are masqueraded to its gateway on `ingress`. Docker's
//! FORWARD chain drops what it does not know (policy DROP), so a rule in its `DOCKER-USER` chain accepts marked
//! connections, and `isolation` lets them through the gateway devices. A port without a running task is left out:
//! the node then refuses connections to it as to any closed port.
//! Connections arriving on overlay gateway devices are never captured (tasks' DNS queries to their node's resolver
//! stay theirs), and the table drops anything from `ingress` for 127.0.0.0/8, which `route_localnet` on the ingress
//! gateway device (set for the node's own clients of 127.0.0.1) would otherwise let in.
//! Invariant: the table is replaced whole in one nft transaction, present exactly while a port has a running task;
//! the `DOCKER-USER` rule is present exactly while the table is; besides them only the ingress gateway device's
//! `route_localnet` is set (the device is ours, and goes with the ingress network).

use std::io;
use std::process::Stdio;

use serde_json::{json, Value};
use swarm_core::overlay::{Mesh, MeshPort};
use tokio::process::Command;

use super::plan::GATEWAY_NAME_PREFIX;
use crate::worker::vip::apply::{feed_nft, FeedError, NFT_TIMEOUT};
use crate::worker::vip::rules::dnat;

/// The prefix of our table in the node's namespace: `swarm_mesh_` + the first ten characters of the node id, so
/// the nodes of several clusters sharing a namespace (a test cluster beside a user's) keep their own ports.
pub const TABLE_PREFIX: &str = "swarm_mesh_";

/// Node `node_id`'s table.
pub fn table_name(node_id: &str) -> String {
    let end = node_id.char_indices().nth(10).map_or(node_id.len(), |(index, _)| index);
    format!("{TABLE_PREFIX}{}", &node_id[..end])
}
/// The conntrack mark of the mesh's connections ("SWM").
pub const MESH_MARK: u32 = 0x0053_574d;
/// Destination NAT's priority (nftables' `dstnat`), and source NAT's (`srcnat`).
const DSTNAT_PRIORITY: i32 = -100;
const SRCNAT_PRIORITY: i32 = 100;
/// Before conntrack and NAT (nftables' `raw`).
const RAW_PRIORITY: i32 = -300;

/// The nft JSON document that makes the table what `mesh` asks for, masquerading toward `ingress_device` (this
/// node's gateway device on `ingress`); its removal when no port has a running task.
pub fn table_json(table_name: &str, mesh: &Mesh, ingress_device: &str) -> Value {
    let table = json!({"family": "ip", "name": table_name});
    let mut commands = vec![json!({"add": {"table": table}}), json!({"delete": {"table": table}})];
    let served: Vec<&MeshPort> = mesh.ports.iter().filter(|port| !port.backends.is_empty()).collect();
    if !served.is_empty() {
        commands.push(json!({"add": {"table": table}}));
        let chains = [("prerouting", DSTNAT_PRIORITY), ("output", DSTNAT_PRIORITY), ("postrouting", SRCNAT_PRIORITY)];
        for (hook, priority) in chains {
            commands.push(json!({"add": {"chain": {
                "family": "ip", "table": table_name, "name": hook,
                "type": "nat", "hook": hook, "prio": priority, "policy": "accept",
            }}}));
        }
        for chain in ["prerouting", "output"] {
            for port in &served {
                let protocol = port.protocol.as_str();
                let mut expr = vec![
                    json!({"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}}),
                    json!({"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "dport"}}, "right": port.published_port}}),
                ];
                if chain == "prerouting" {
                    // Tasks reach their node's resolver (and nothing else) at its gateway addresses: a published
                    // port 53 must not capture their queries, nor a port let an internal network's task out.
                    expr.push(json!({"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": format!("{GATEWAY_NAME_PREFIX}*")}}));
                }
                expr.push(json!({"mangle": {"key": {"ct": {"key": "mark"}}, "value": MESH_MARK}}));
                expr.push(dnat(&port.backends, Some(port.target_port)));
                commands.push(json!({"add": {"rule": {
                    "family": "ip", "table": table_name, "chain": chain, "expr": expr,
                }}}));
            }
        }
        // `route_localnet` (for the node's own clients of 127.0.0.1) also lets the ingress device take packets for
        // 127.0.0.0/8: nothing from `ingress` may reach the node's loopback services (compare CVE-2020-8558).
        commands.push(json!({"add": {"chain": {
            "family": "ip", "table": table_name, "name": "guard",
            "type": "filter", "hook": "prerouting", "prio": RAW_PRIORITY, "policy": "accept",
        }}}));
        commands.push(json!({"add": {"rule": {
            "family": "ip", "table": table_name, "chain": "guard",
            "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": ingress_device}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "127.0.0.0", "len": 8}}}},
                {"drop": null},
            ],
        }}}));
        commands.push(json!({"add": {"rule": {
            "family": "ip", "table": table_name, "chain": "postrouting",
            "expr": [
                {"match": {"op": "==", "left": {"ct": {"key": "mark"}}, "right": MESH_MARK}},
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": ingress_device}},
                {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["saddr"]}}, "right": "local"}},
                {"masquerade": null},
            ],
        }}}));
    }
    json!({ "nftables": commands })
}

/// Whether `mesh` needs the table (a port with a running task).
pub fn is_served(mesh: &Mesh) -> bool {
    mesh.ports.iter().any(|port| !port.backends.is_empty())
}

/// Makes this process's network namespace answer as `mesh` says: the table, and the `DOCKER-USER` rule while it
/// exists. The error names what failed, in nft's or iptables' words.
pub async fn apply(node_id: &str, mesh: &Mesh, ingress_device: &str) -> Result<(), String> {
    let served = is_served(mesh);
    let rule = rule_args(node_id);
    if served {
        docker_user_rule(&rule, true).await?;
        // Clients on the node itself may ask 127.0.0.1: Linux routes a loopback source out of a device only
        // where `route_localnet` allows it (masquerading then gives the connection the gateway's address).
        let knob = format!("/proc/sys/net/ipv4/conf/{ingress_device}/route_localnet");
        std::fs::write(&knob, "1").map_err(|error| format!("routing mesh: cannot set {knob}: {error}"))?;
    }
    let mut command = Command::new("nft");
    command.args(["-j", "-f", "-"]);
    match feed_nft(command, &table_json(&table_name(node_id), mesh, ingress_device)).await {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!("routing mesh: nft failed ({}): {}", output.status, stderr.trim()));
        }
        // Nothing to remove on a host without nftables.
        Err(FeedError::Spawn(error)) if !served && error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(FeedError::Spawn(error)) => return Err(format!("routing mesh: cannot run nft: {error}")),
        Err(FeedError::Timeout) => return Err("routing mesh: nft did not finish in time".to_string()),
    }
    if !served {
        docker_user_rule(&rule, false).await?;
    }
    Ok(())
}

/// The arguments of node `node_id`'s rule in Docker's `DOCKER-USER` chain, after the command (`-C`, `-I`, `-D`);
/// the comment (the table's name) tells the rules of several nodes in one namespace apart.
pub fn rule_args(node_id: &str) -> Vec<String> {
    let (mark, comment) = (format!("{MESH_MARK:#x}"), table_name(node_id));
    ["DOCKER-USER", "-m", "connmark", "--mark", &mark, "-m", "comment", "--comment", &comment, "-j", "ACCEPT"]
        .map(str::to_string)
        .to_vec()
}

/// Inserts (`wanted`) or deletes `rule` in `DOCKER-USER`, idempotently. A host where Docker manages no iptables
/// (no `DOCKER-USER` chain, or no `iptables`) has no FORWARD policy to get past: nothing to do there.
async fn docker_user_rule(rule: &[String], wanted: bool) -> Result<(), String> {
    // Is there a chain to put the rule in? No iptables, or no DOCKER-USER: Docker filters nothing here.
    match iptables(&["-S", "DOCKER-USER"]).await? {
        None => return Ok(()),
        Some(listed) if !listed.status.success() => return Ok(()),
        Some(_) => {}
    }
    let run = |action: &'static str| async move {
        let args: Vec<&str> = std::iter::once(action).chain(rule.iter().map(String::as_str)).collect();
        iptables(&args).await?.ok_or_else(|| "routing mesh: iptables is gone".to_string())
    };
    let present = run("-C").await?.status.success();
    if present == wanted {
        return Ok(());
    }
    let action = if wanted { "-I" } else { "-D" };
    let output = run(action).await?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("routing mesh: iptables {action} {} failed: {}", rule.join(" "), stderr.trim()))
    }
}

/// Runs `iptables -w ARGS`; `None` when there is no `iptables` on the host.
async fn iptables(args: &[&str]) -> Result<Option<std::process::Output>, String> {
    let run = Command::new("iptables")
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(NFT_TIMEOUT, run).await {
        Ok(Ok(output)) => Ok(Some(output)),
        Ok(Err(error)) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Ok(Err(error)) => Err(format!("routing mesh: cannot run iptables: {error}")),
        Err(_) => Err("routing mesh: iptables did not finish in time".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use swarm_core::spec::PortProtocol;

    use super::*;

    fn mesh(backends: Vec<Ipv4Addr>) -> Mesh {
        Mesh {
            network_id: "ingressid".into(),
            ports: vec![MeshPort {
                protocol: PortProtocol::Tcp,
                published_port: 8080,
                target_port: 80,
                service: "web".into(),
                backends,
            }],
            gateways: vec![Ipv4Addr::new(10, 0, 0, 2)],
        }
    }

    #[test]
    fn a_port_with_tasks_is_dnatted_marked_and_only_local_clients_masqueraded() {
        let backends = vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 6)];
        let document = table_json("swarm_mesh_n1", &mesh(backends), "swg-ingressid");
        let text = document.to_string();
        assert!(text.contains(r#""hook":"prerouting""#) && text.contains(r#""hook":"output""#), "{text}");
        assert!(text.contains(r#""right":8080"#) && text.contains(r#""port":80"#), "{text}");
        assert!(text.contains(r#""mod":2"#), "two backends, picked at random: {text}");
        assert!(text.contains(r#""right":"swg-ingressid""#) && text.contains(r#""masquerade":null"#), "{text}");
        let masquerade = &document["nftables"].as_array().unwrap().last().unwrap()["add"]["rule"]["expr"];
        assert_eq!(masquerade[2]["match"]["left"]["fib"]["flags"][0], "saddr", "only local sources: {masquerade}");
        assert!(is_served(&mesh(vec![Ipv4Addr::new(10, 0, 0, 5)])));
    }

    #[test]
    fn no_running_task_removes_the_table() {
        let document = table_json("swarm_mesh_n1", &mesh(Vec::new()), "swg-ingressid");
        assert_eq!(document["nftables"].as_array().map(Vec::len), Some(2), "add then delete: {document}");
        assert!(!is_served(&mesh(Vec::new())));
        assert!(!is_served(&Mesh::default()));
    }

    #[test]
    fn each_node_has_its_own_table_and_rule() {
        assert_eq!(table_name("q8w2e4r6t8y0u1i3o5p7a9s0d"), "swarm_mesh_q8w2e4r6t8");
        assert_ne!(rule_args("q8w2e4r6t8y0"), rule_args("m863h8r8vyrax"));
    }
}
