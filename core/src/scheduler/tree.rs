//! Ranking (SwarmKit's `decisionTree`): placement preferences split the nodes into a tree, one level per
//! preference, one branch per value of its label (nodes without the label share the "" branch); the nodes that
//! pass the pipeline sit in the leaves. Each task walks down from the root to the branch that runs the fewest
//! tasks of its service (counting every node of the branch, even those that fail the pipeline, as SwarmKit does),
//! then takes the best node of that leaf. Branches and nodes live in min-heaps, so placing one task costs
//! O(depth × log(branches) + log(nodes)) instead of a scan of every node. Ties go to the branch whose value sorts
//! first and to the node whose id sorts first, so the outcome is a function of the store alone.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::model::Node;
use crate::spec::ConstraintKey;

/// How good a node is for the next task of a group, smaller being better: (recent-failure penalty, active tasks
/// of the service, active tasks in total, node index). The index makes every rank distinct.
pub(crate) type NodeRank = (u32, u32, u32, usize);

/// The children of one tree position.
enum Branches {
    /// Sub-branches as (tasks of the service in the branch, the branch's position in label value order, arena
    /// index). Branches with no room left are dropped.
    Inner(BinaryHeap<Reverse<(u32, usize, usize)>>),
    /// Nodes that still pass the pipeline.
    Leaf(BinaryHeap<Reverse<NodeRank>>),
}

pub(crate) struct DecisionTree {
    /// Index 0 is the root.
    arena: Vec<Branches>,
}

/// A tree position while the tree is being built.
struct Draft<'a> {
    tasks: u32,
    children: BTreeMap<&'a str, usize>,
    nodes: Vec<Reverse<NodeRank>>,
}

impl DecisionTree {
    /// The tree over `nodes` for spread `levels`. `service_tasks(i)` is node i's count of active tasks of the
    /// service; `rank(i)` is node i's rank, or `None` if it fails the pipeline.
    pub(crate) fn build(
        nodes: &[&Node],
        levels: &[ConstraintKey],
        service_tasks: impl Fn(usize) -> u32,
        rank: impl Fn(usize) -> Option<NodeRank>,
    ) -> DecisionTree {
        let mut drafts = vec![Draft { tasks: 0, children: BTreeMap::new(), nodes: Vec::new() }];
        for (index, node) in nodes.iter().enumerate() {
            let tasks = service_tasks(index);
            let mut at = 0;
            for key in levels {
                drafts[at].tasks += tasks;
                let value = key.value_of(node);
                at = match drafts[at].children.get(value) {
                    Some(&child) => child,
                    None => {
                        let child = drafts.len();
                        drafts[at].children.insert(value, child);
                        drafts.push(Draft { tasks: 0, children: BTreeMap::new(), nodes: Vec::new() });
                        child
                    }
                };
            }
            drafts[at].tasks += tasks;
            if let Some(rank) = rank(index) {
                drafts[at].nodes.push(Reverse(rank));
            }
        }
        let leaf_depth_is_root = levels.is_empty();
        let tasks: Vec<u32> = drafts.iter().map(|draft| draft.tasks).collect();
        let arena = drafts
            .into_iter()
            .enumerate()
            .map(|(at, draft)| {
                if draft.children.is_empty() && (at != 0 || leaf_depth_is_root) {
                    Branches::Leaf(BinaryHeap::from(draft.nodes))
                } else {
                    Branches::Inner(
                        draft
                            .children
                            .values()
                            .enumerate()
                            .map(|(order, &child)| Reverse((tasks[child], order, child)))
                            .collect(),
                    )
                }
            })
            .collect();
        DecisionTree { arena }
    }

    /// Places one task: picks the branch, then the node, and calls `assign(node)`, which records the task on the
    /// node and returns the node's new rank, or `None` if the node can take no further task of this group.
    /// Returns the node, or `None` when no node in the tree can take the task.
    pub(crate) fn place(&mut self, assign: &mut impl FnMut(usize) -> Option<NodeRank>) -> Option<usize> {
        self.place_at(0, assign)
    }

    fn place_at(&mut self, at: usize, assign: &mut impl FnMut(usize) -> Option<NodeRank>) -> Option<usize> {
        loop {
            let Reverse((tasks, order, child)) = match &mut self.arena[at] {
                Branches::Leaf(heap) => {
                    let Reverse(rank) = heap.pop()?;
                    let node = rank.3;
                    if let Some(next) = assign(node) {
                        heap.push(Reverse(next));
                    }
                    return Some(node);
                }
                Branches::Inner(heap) => heap.pop()?,
            };
            if let Some(node) = self.place_at(child, assign) {
                if let Branches::Inner(heap) = &mut self.arena[at] {
                    heap.push(Reverse((tasks + 1, order, child)));
                }
                return Some(node);
            }
            // That branch has no room left: it stays out of the heap and the next one is tried.
        }
    }
}
