//! The routing mesh on one node: every port published in ingress mode answers on every address of the node and
//! goes to a running task of its service, on this node or another, over the `ingress` overlay network. No IPVS
//! (this kernel has none): one nftables table of the node's in its namespace, `ip swarm_mesh_<node>`, DNATs new connections to
//! a local address's published port (`fib daddr type local`, in prerouting and, for the node's own clients, in
//! output, 127.0.0.1 included) to one of the service's tasks at random (`numgen random mod N map`), rewriting the port to the target
//! port, and marks them ([`MESH_MARK`]); marked connections leaving through the node's gateway device on `ingress`
//! are masqueraded to that gateway, so replies come back through this node whichever node runs the task. Docker's
//! FORWARD chain drops what it does not know (policy DROP), so a rule in its `DOCKER-USER` chain accepts marked
//! connections, and `isolation` lets them through the gateway devices. A port without a running task is left out:
//! the node then refuses connections to it as to any closed port.
//! Invariant: the table is replaced whole in one nft transaction, present exactly while a port has a running task;
//! the `DOCKER-USER` rule is present exactly while the table is; nothing else is touched.

use std::io;
use std::process::Stdio;

use serde_json::{json, Value};
use swarm_core::overlay::{Mesh, MeshPort};
use tokio::process::Command;

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
                commands.push(json!({"add": {"rule": {
                    "family": "ip", "table": table_name, "chain": chain,
                    "expr": [
                        {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}},
                        {"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "dport"}}, "right": port.published_port}},
                        {"mangle": {"key": {"ct": {"key": "mark"}}, "value": MESH_MARK}},
                        dnat(&port.backends, Some(port.target_port)),
                    ],
                }}}));
            }
        }
        commands.push(json!({"add": {"rule": {
            "family": "ip", "table": table_name, "chain": "postrouting",
            "expr": [
                {"match": {"op": "==", "left": {"ct": {"key": "mark"}}, "right": MESH_MARK}},
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": ingress_device}},
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
    let present = match iptables("-C", rule).await {
        Ok(status) => status,
        Err(IptablesError::Missing) => return Ok(()),
        Err(IptablesError::Failed(reason)) => return Err(reason),
    };
    if present == wanted {
        return Ok(());
    }
    let action = if wanted { "-I" } else { "-D" };
    match iptables(action, rule).await {
        Ok(true) | Err(IptablesError::Missing) => Ok(()),
        Ok(false) => Err(format!("routing mesh: iptables {action} {} failed", rule.join(" "))),
        Err(IptablesError::Failed(reason)) => Err(reason),
    }
}

enum IptablesError {
    /// No `iptables`, or no `DOCKER-USER` chain.
    Missing,
    Failed(String),
}

/// Runs `iptables -w ACTION <our rule>`; whether it succeeded (`-C`: whether the rule is there).
async fn iptables(action: &str, rule: &[String]) -> Result<bool, IptablesError> {
    let run = Command::new("iptables")
        .arg("-w")
        .arg(action)
        .args(rule)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(NFT_TIMEOUT, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) if error.kind() == io::ErrorKind::NotFound => return Err(IptablesError::Missing),
        Ok(Err(error)) => return Err(IptablesError::Failed(format!("routing mesh: cannot run iptables: {error}"))),
        Err(_) => return Err(IptablesError::Failed("routing mesh: iptables did not finish in time".to_string())),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    // iptables says "No chain/target/match by that name" when DOCKER-USER does not exist (and for -C, exit 1
    // with "Bad rule" when the rule is absent).
    if !output.status.success() && stderr.contains("No chain/target/match") {
        return Err(IptablesError::Missing);
    }
    Ok(output.status.success())
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
        }
    }

    #[test]
    fn a_port_with_tasks_is_dnatted_marked_and_masqueraded_toward_ingress() {
        let backends = vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 6)];
        let document = table_json("swarm_mesh_n1", &mesh(backends), "swg-ingressid");
        let text = document.to_string();
        assert!(text.contains(r#""hook":"prerouting""#) && text.contains(r#""hook":"output""#), "{text}");
        assert!(text.contains(r#""right":8080"#) && text.contains(r#""port":80"#), "{text}");
        assert!(text.contains(r#""mod":2"#), "two backends, picked at random: {text}");
        assert!(text.contains(r#""right":"swg-ingressid""#) && text.contains(r#""masquerade":null"#), "{text}");
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
