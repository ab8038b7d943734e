//! Rule B (DESIGN §3): which nodes of the hierarchy one family may release.
//!
//! Releases of nested nodes can be subtracted from each other: a parent minus its
//! *frontier* (its maximal released descendants) isolates the parent's *residual*.
//! So besides `n − v ≥ threshold` for every node, every released node's residual
//! must either be empty or hold at least `threshold` people beyond the viewers who
//! could read it (`r − v_r ≥ threshold`).
//!
//! One addition to the letter of DESIGN §3, which skips the check when `r = 0`: an
//! empty residual that still has viewers (`r = 0`, `v_r ≥ 1`) fails too. Those
//! viewers sit inside a frontier node's subtree, may read the parent but are not
//! counted in that frontier node's own `v` — like a leader answering in the
//! Leadership node who reads the root: root minus the other top teams *is* the
//! Leadership node, and the leader can take their own answer out of it. Treating
//! that case as failing makes Rule B merge a frontier node into the residual until
//! those viewers are outnumbered, which is what the property tests' brute-force
//! oracle demands.

use crate::hierarchy::Hierarchy;

/// Respondents and viewers of a released node's residual (its atom).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Residual {
    pub(crate) respondents: u32,
    pub(crate) viewers: u32,
}

impl Residual {
    fn passes(self, threshold: u32) -> bool {
        let empty_and_unread = self.respondents == 0 && self.viewers == 0;
        empty_and_unread
            || u64::from(self.respondents) >= u64::from(self.viewers) + u64::from(threshold)
    }

    /// A residual worth merging into a parent's: it adds people, and enough of them.
    fn absorbable(self, threshold: u32) -> bool {
        self.respondents >= 1 && self.passes(threshold)
    }
}

/// Runs Rule B for one family. `respondents[node]` counts the node's whole subtree;
/// `eligible` restricts the family (the detail family runs over score releases only,
/// so that detail-released ⊆ released). Returns whether each node is released.
pub(crate) fn released_nodes(
    hierarchy: &Hierarchy,
    respondents: &[u32],
    threshold: u32,
    eligible: impl Fn(usize) -> bool,
) -> Vec<bool> {
    let mut released: Vec<bool> = (0..hierarchy.len())
        .map(|node| {
            eligible(node)
                && u64::from(respondents[node])
                    >= u64::from(hierarchy.viewers[node]) + u64::from(threshold)
        })
        .collect();

    // One children-first pass settles every node (a node's residual depends only on
    // its own subtree, which is final when it is reached); the loop re-checks until a
    // pass changes nothing, as DESIGN §3 asks.
    let mut walk = FrontierWalk::default();
    let mut frontier = Vec::new();
    loop {
        let mut changed = false;
        for &node in &hierarchy.children_first {
            while released[node] {
                if walk
                    .residual(hierarchy, respondents, &released, node)
                    .passes(threshold)
                {
                    break;
                }
                changed = true;
                frontier.clear();
                walk.for_each_frontier_node(hierarchy, &released, node, |frontier_node| {
                    frontier.push(frontier_node)
                });
                let smallest_absorbable = frontier
                    .iter()
                    .copied()
                    .filter(|&frontier_node| {
                        walk.residual(hierarchy, respondents, &released, frontier_node)
                            .absorbable(threshold)
                    })
                    .min_by_key(|&frontier_node| {
                        (respondents[frontier_node], hierarchy.ids[frontier_node])
                    });
                match smallest_absorbable {
                    Some(frontier_node) => released[frontier_node] = false,
                    None => released[node] = false,
                }
            }
        }
        if !changed {
            return released;
        }
    }
}

/// Walks down from a node to its *frontier*: its maximal released strict descendants.
/// Keeps its stack between walks, so that Rule B allocates nothing per node.
#[derive(Debug, Default)]
pub(crate) struct FrontierWalk {
    stack: Vec<usize>,
}

impl FrontierWalk {
    pub(crate) fn for_each_frontier_node(
        &mut self,
        hierarchy: &Hierarchy,
        released: &[bool],
        node: usize,
        mut visit: impl FnMut(usize),
    ) {
        self.stack.clear();
        self.stack.extend_from_slice(&hierarchy.children[node]);
        while let Some(descendant) = self.stack.pop() {
            if released[descendant] {
                visit(descendant);
            } else {
                self.stack
                    .extend_from_slice(&hierarchy.children[descendant]);
            }
        }
    }

    /// `r` and `v_r` of a node: its own counts minus those of its frontier.
    pub(crate) fn residual(
        &mut self,
        hierarchy: &Hierarchy,
        respondents: &[u32],
        released: &[bool],
        node: usize,
    ) -> Residual {
        let mut covered_respondents = 0;
        let mut covered_viewers = 0;
        self.for_each_frontier_node(hierarchy, released, node, |frontier_node| {
            covered_respondents += respondents[frontier_node];
            covered_viewers += hierarchy.viewers[frontier_node];
        });
        Residual {
            // Frontier subtrees are disjoint parts of the node's subtree, and viewer
            // counts are nested (checked with the snapshot): neither can underflow.
            respondents: respondents[node] - covered_respondents,
            viewers: hierarchy.viewers[node] - covered_viewers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round_input::SnapshotNode;
    use safepulse_domain::NodeId;
    use uuid::Uuid;

    /// `(id, parent, viewers)`; node positions follow the slice.
    fn hierarchy(nodes: &[(u128, Option<u128>, u32)]) -> Hierarchy {
        let nodes: Vec<SnapshotNode> = nodes
            .iter()
            .map(|&(id, parent, viewers)| SnapshotNode {
                id: NodeId(Uuid::from_u128(id)),
                parent: parent.map(|parent| NodeId(Uuid::from_u128(parent))),
                viewers,
            })
            .collect();
        Hierarchy::from_snapshot(&nodes).unwrap()
    }

    #[test]
    fn a_small_residual_suppresses_the_smallest_frontier_node() {
        // Root 20 = A 8 + B 9 + 3 direct: residual 3 < 5, so A (smaller n) is merged.
        let tree = hierarchy(&[(1, None, 0), (2, Some(1), 0), (3, Some(1), 0)]);
        assert_eq!(
            released_nodes(&tree, &[20, 8, 9], 5, |_| true),
            [true, false, true]
        );
    }

    #[test]
    fn ties_in_n_are_broken_by_the_smaller_id() {
        let tree = hierarchy(&[(1, None, 0), (9, Some(1), 0), (4, Some(1), 0)]);
        assert_eq!(
            released_nodes(&tree, &[18, 8, 8], 5, |_| true),
            [true, true, false]
        );
    }

    #[test]
    fn the_parent_goes_when_no_frontier_node_can_absorb_its_residual() {
        // A's residual is empty (it is covered by A1 and A2), so merging A adds nobody.
        let tree = hierarchy(&[
            (1, None, 0),
            (2, Some(1), 0),
            (3, Some(2), 0),
            (4, Some(2), 0),
        ]);
        assert_eq!(
            released_nodes(&tree, &[11, 10, 5, 5], 5, |_| true),
            [false, true, true, true]
        );
    }

    #[test]
    fn viewers_in_the_residual_do_not_count_towards_it() {
        // Residual of 6 holds 2 viewers: 4 < 5.
        let tree = hierarchy(&[(1, None, 2), (2, Some(1), 0)]);
        assert_eq!(released_nodes(&tree, &[16, 10], 5, |_| true), [true, false]);
        // The same with the viewers inside the child, who view it too: residual passes.
        let tree = hierarchy(&[(1, None, 2), (2, Some(1), 2)]);
        assert_eq!(released_nodes(&tree, &[18, 12], 5, |_| true), [true, true]);
    }

    #[test]
    fn an_empty_residual_with_viewers_fails() {
        // Root = Teams 10 + Leadership 5, no one answers at the root; one leader reads
        // the root but not the Leadership node. Root − Team = Leadership, so the pair
        // Leadership and Team cannot both stay: merging Leadership (4 non-viewers) is
        // not enough, merging the team too is.
        let tree = hierarchy(&[(1, None, 1), (2, Some(1), 0), (3, Some(1), 0)]);
        assert_eq!(
            released_nodes(&tree, &[15, 10, 5], 5, |_| true),
            [true, false, false]
        );
    }

    #[test]
    fn ineligible_nodes_are_never_released() {
        let tree = hierarchy(&[(1, None, 0), (2, Some(1), 0)]);
        assert_eq!(
            released_nodes(&tree, &[30, 12], 10, |node| node != 1),
            [true, false]
        );
    }
}
