//! A root CA rotation never locks out a live node (issue 14): once the scenario started `swarm ca --rotate` and
//! healed, the rotation finished (the store names the new root and none is in progress), every node that is up
//! holds a certificate of the new root and trusts it alone, and every worker that is up is Ready in the leader's
//! store — its agent still talks to the managers — and every node's identity file holds the certificate it uses
//! (one used but not kept would be lost at the next restart). A node left on the old root after the end would be
//! refused by every manager: that is the lock-out this catches.

use swarm_core::{NodeState, NodeTls, Store};

/// What one node of the world holds at the end.
#[derive(Debug, Clone)]
pub struct HeldTls {
    /// Its store node id.
    pub node_id: String,
    pub up: bool,
    /// Whether it runs an agent, so it must be Ready in the store (workers do; simulated managers do not).
    pub has_agent: bool,
    pub tls: NodeTls,
    /// Whether its identity file holds the certificate in use (a restart would otherwise lose it).
    pub kept: bool,
}

/// `new_digest`: the root the rotation moves to; `store`: the leader's store at the end; `held`: every node.
pub fn check(new_digest: &str, store: Option<&Store>, held: &[HeldTls]) -> Vec<String> {
    let Some(store) = store else { return vec!["rotation: no leader store at the end".to_string()] };
    let Some(cluster) = store.cluster() else { return vec!["rotation: the store holds no cluster".to_string()] };
    let ca = &cluster.ca;
    let mut violations = Vec::new();
    if let Some(rotation) = &ca.rotation {
        let waiting = ca.nodes_still_to_move(rotation, store.nodes());
        violations
            .push(format!("rotation: the rotation to {new_digest} never finished; still waiting for {waiting:?}"));
    } else if ca.root_digest != new_digest {
        violations
            .push(format!("rotation: the cluster's root is {:?}, not the rotation's {new_digest}", ca.root_digest));
    }
    for node in held.iter().filter(|node| node.up) {
        if !node.tls.only_trusts(new_digest) {
            violations.push(format!(
                "rotation: {} is up but holds a certificate of {} and trusts {:?}: locked out of the new root",
                node.node_id, node.tls.cert_root_digest, node.tls.trusted_root_digests
            ));
        }
        if !node.kept {
            violations
                .push(format!("rotation: {}'s identity file holds another certificate than it uses", node.node_id));
        }
        let ready = store.node(&node.node_id).is_some_and(|n| n.status.state == NodeState::Ready);
        if node.has_agent && !ready {
            violations.push(format!("rotation: {} is up but not Ready after the rotation", node.node_id));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use swarm_core::{CaRotation, Command, SealedData, Timestamp};

    use super::*;
    use crate::checkers::test_support::StoreBuilder;

    fn tls(cert_root: &str, trusted: &[&str]) -> NodeTls {
        NodeTls {
            cert_root_digest: cert_root.into(),
            trusted_root_digests: trusted.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn held(node_id: &str, up: bool, tls: NodeTls) -> HeldTls {
        HeldTls { node_id: node_id.into(), up, has_agent: true, tls, kept: true }
    }

    /// A store with ready node "w1", rotated to "new" if `finished`, else still rotating.
    fn store(finished: bool) -> Store {
        let mut builder = StoreBuilder::new();
        builder.node("w1");
        let rotation = CaRotation {
            new_root_cert: vec![1],
            new_root_digest: "new".into(),
            new_root_key: SealedData::default(),
            cross_signed_cert: vec![2],
            new_key_id: "k".into(),
            started_at: Timestamp(0),
        };
        builder.apply(Command::StartCaRotation { rotation });
        if finished {
            builder.apply(Command::SetNodeTls { node_id: "w1".into(), tls: tls("new", &["new", "old"]) });
            builder.apply(Command::FinishCaRotation { new_root_digest: "new".into() });
        }
        builder.build()
    }

    #[test]
    fn every_live_node_ends_on_the_new_root_alone() {
        let done = store(true);
        let moved = held("w1", true, tls("new", &["new"]));
        assert_eq!(check("new", Some(&done), std::slice::from_ref(&moved)), Vec::<String>::new());
        // A node that is down is not judged.
        assert!(check("new", Some(&done), &[moved.clone(), held("w2", false, tls("old", &["old"]))]).is_empty());

        let cases: Vec<(Store, Vec<HeldTls>, &str)> = vec![
            (store(false), vec![moved.clone()], "never finished; still waiting for [\"w1\"]"),
            (done.clone(), vec![held("w1", true, tls("old", &["old"]))], "locked out of the new root"),
            (done.clone(), vec![held("w1", true, tls("new", &["new", "old"]))], "locked out of the new root"),
            (done.clone(), vec![held("w9", true, tls("new", &["new"]))], "w9 is up but not Ready"),
            (
                done.clone(),
                vec![HeldTls { kept: false, ..moved.clone() }],
                "w1's identity file holds another certificate than it uses",
            ),
        ];
        for (store, nodes, expected) in cases {
            let violations = check("new", Some(&store), &nodes);
            assert!(violations.iter().any(|v| v.contains(expected)), "want {expected:?} in {violations:?}");
        }
        assert_eq!(check("new", None, &[]), ["rotation: no leader store at the end"]);
    }
}
