//! Which containers on an engine are orphans: containers of this node's cluster that a removed node left behind
//! (it was replaced the documented way — stopped, demoted, removed, wiped and joined again as a new identity — or
//! removed while its daemon still ran). A pure rule over what the executor lists and the store's removed node ids.
//! Invariant: a container is picked only if it provably belongs to this cluster (its cluster label equals ours,
//! which is never empty) and to a node `node rm` removed — a definitive fact, since a removed id never registers
//! again. Containers of other clusters, of unlabelled origin, or of nodes merely missing from a possibly stale member
//! list are never touched, so nodes (even test clusters) sharing one engine keep theirs.

use std::collections::BTreeSet;

use super::executor::ClusterContainer;

/// The containers of `containers` to remove: labelled with `cluster_id` and with a node id in `removed_nodes`.
pub fn orphans<'a>(
    cluster_id: &str,
    removed_nodes: &[String],
    containers: &'a [ClusterContainer],
) -> Vec<&'a ClusterContainer> {
    if cluster_id.is_empty() || removed_nodes.is_empty() {
        return Vec::new();
    }
    let removed: BTreeSet<&str> = removed_nodes.iter().map(String::as_str).filter(|id| !id.is_empty()).collect();
    containers
        .iter()
        .filter(|container| container.cluster_id == cluster_id && removed.contains(container.node_id.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, cluster_id: &str, node_id: &str) -> ClusterContainer {
        ClusterContainer {
            container_id: id.into(),
            cluster_id: cluster_id.into(),
            node_id: node_id.into(),
            task_id: format!("task-of-{id}"),
        }
    }

    struct Case {
        name: &'static str,
        cluster_id: &'static str,
        removed: &'static [&'static str],
        containers: Vec<ClusterContainer>,
        expected: &'static [&'static str],
    }

    #[test]
    fn picks_only_containers_of_this_cluster_and_a_removed_node() {
        let cases = vec![
            Case {
                name: "a removed node's container in this cluster goes",
                cluster_id: "c1",
                removed: &["old"],
                containers: vec![container("a", "c1", "old"), container("b", "c1", "live")],
                expected: &["a"],
            },
            Case {
                name: "a live node sharing the engine keeps its containers",
                cluster_id: "c1",
                removed: &["old"],
                containers: vec![container("b", "c1", "live"), container("c", "c1", "new")],
                expected: &[],
            },
            Case {
                name: "another cluster on the same engine is never touched, even with a node id we removed",
                cluster_id: "c1",
                removed: &["old"],
                containers: vec![container("d", "c2", "old"), container("a", "c1", "old")],
                expected: &["a"],
            },
            Case {
                name: "a container without a cluster label is never touched",
                cluster_id: "c1",
                removed: &["old"],
                containers: vec![container("e", "", "old")],
                expected: &[],
            },
            Case {
                name: "an agent that does not know its cluster removes nothing",
                cluster_id: "",
                removed: &["old"],
                containers: vec![container("e", "", "old"), container("a", "c1", "old")],
                expected: &[],
            },
            Case {
                name: "nothing removed, nothing to do",
                cluster_id: "c1",
                removed: &[],
                containers: vec![container("a", "c1", "old")],
                expected: &[],
            },
            Case {
                name: "an empty removed id does not match an unlabelled node",
                cluster_id: "c1",
                removed: &[""],
                containers: vec![container("f", "c1", "")],
                expected: &[],
            },
            Case {
                name: "every removed node's containers go, in the order listed",
                cluster_id: "c1",
                removed: &["old2", "old1"],
                containers: vec![
                    container("g", "c1", "old1"),
                    container("h", "c1", "live"),
                    container("i", "c1", "old2"),
                    container("j", "c1", "old1"),
                ],
                expected: &["g", "i", "j"],
            },
            Case {
                name: "this node itself, once removed, leaves nothing behind",
                cluster_id: "c1",
                removed: &["me"],
                containers: vec![container("k", "c1", "me")],
                expected: &["k"],
            },
        ];
        for case in cases {
            let removed: Vec<String> = case.removed.iter().map(|id| id.to_string()).collect();
            let picked: Vec<&str> = orphans(case.cluster_id, &removed, &case.containers)
                .into_iter()
                .map(|container| container.container_id.as_str())
                .collect();
            assert_eq!(picked, case.expected, "{}", case.name);
        }
    }
}
