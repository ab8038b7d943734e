//! The validated hierarchy snapshot: one root, no cycles, nested viewer counts.

use std::collections::HashMap;

use safepulse_domain::NodeId;

use crate::error::AnonymizerError;
use crate::round_input::SnapshotNode;

/// Nodes are addressed by their position in the snapshot's `nodes` vector.
#[derive(Debug)]
pub(crate) struct Hierarchy {
    pub(crate) ids: Vec<NodeId>,
    pub(crate) parent: Vec<Option<usize>>,
    pub(crate) children: Vec<Vec<usize>>,
    pub(crate) viewers: Vec<u32>,
    pub(crate) root: usize,
    /// Every node after all of its descendants (a post-order from the root).
    pub(crate) children_first: Vec<usize>,
    position_by_id: HashMap<NodeId, usize>,
}

impl Hierarchy {
    pub(crate) fn from_snapshot(nodes: &[SnapshotNode]) -> Result<Hierarchy, AnonymizerError> {
        let mut position_by_id = HashMap::with_capacity(nodes.len());
        for (position, node) in nodes.iter().enumerate() {
            if position_by_id.insert(node.id, position).is_some() {
                return Err(AnonymizerError::DuplicateNode { node: node.id });
            }
        }

        let mut parent = Vec::with_capacity(nodes.len());
        let mut children = vec![Vec::new(); nodes.len()];
        let mut roots = Vec::new();
        for (position, node) in nodes.iter().enumerate() {
            match node.parent {
                None => {
                    roots.push(position);
                    parent.push(None);
                }
                Some(parent_id) => {
                    let parent_position =
                        *position_by_id
                            .get(&parent_id)
                            .ok_or(AnonymizerError::UnknownParent {
                                node: node.id,
                                parent: parent_id,
                            })?;
                    children[parent_position].push(position);
                    parent.push(Some(parent_position));
                }
            }
        }
        let [root] = roots[..] else {
            return Err(AnonymizerError::RootCount { roots: roots.len() });
        };

        let children_first = post_order(root, &children);
        if children_first.len() != nodes.len() {
            // Every node but the root has a parent, so a node the root cannot reach
            // climbs its parents forever: a cycle.
            let mut reached = vec![false; nodes.len()];
            for &node in &children_first {
                reached[node] = true;
            }
            let unreached = reached
                .iter()
                .position(|&was_reached| !was_reached)
                .unwrap_or(root);
            return Err(AnonymizerError::HierarchyHasCycle {
                node: nodes[unreached].id,
            });
        }

        let viewers: Vec<u32> = nodes.iter().map(|node| node.viewers).collect();
        for (position, node_children) in children.iter().enumerate() {
            let children_viewers: u64 = node_children
                .iter()
                .map(|&child| u64::from(viewers[child]))
                .sum();
            if children_viewers > u64::from(viewers[position]) {
                // Rule B subtracts the frontier's viewers from the parent's; with
                // un-nested counts that subtraction would under-count the viewers who
                // sit in the parent's residual and could read it.
                return Err(AnonymizerError::ViewersNotNested {
                    node: nodes[position].id,
                    viewers: viewers[position],
                    children_viewers,
                });
            }
        }

        Ok(Hierarchy {
            ids: nodes.iter().map(|node| node.id).collect(),
            parent,
            children,
            viewers,
            root,
            children_first,
            position_by_id,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn position_of(&self, id: NodeId) -> Option<usize> {
        self.position_by_id.get(&id).copied()
    }

    /// Every node before all of its descendants.
    pub(crate) fn parents_first(&self) -> impl Iterator<Item = usize> + '_ {
        self.children_first.iter().rev().copied()
    }
}

/// Iterative, so that a deep (even degenerate, chain-shaped) hierarchy cannot
/// overflow the stack.
fn post_order(root: usize, children: &[Vec<usize>]) -> Vec<usize> {
    let mut order = Vec::with_capacity(children.len());
    let mut stack = vec![(root, 0usize)];
    while let Some((node, next_child)) = stack.pop() {
        if let Some(&child) = children[node].get(next_child) {
            stack.push((node, next_child + 1));
            stack.push((child, 0));
        } else {
            order.push(node);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(number: u128) -> NodeId {
        NodeId(Uuid::from_u128(number))
    }

    fn node(number: u128, parent: Option<u128>, viewers: u32) -> SnapshotNode {
        SnapshotNode {
            id: id(number),
            parent: parent.map(id),
            viewers,
        }
    }

    #[test]
    fn children_come_before_parents() {
        let hierarchy = Hierarchy::from_snapshot(&[
            node(3, Some(1), 0),
            node(1, None, 0),
            node(2, Some(1), 0),
            node(4, Some(3), 0),
        ])
        .unwrap();
        let rank = |position: usize| {
            hierarchy
                .children_first
                .iter()
                .position(|&node| node == position)
                .unwrap()
        };
        assert!(rank(3) < rank(0));
        assert!(rank(0) < rank(1));
        assert!(rank(2) < rank(1));
        assert_eq!(hierarchy.root, 1);
        assert_eq!(hierarchy.parents_first().next(), Some(1));
    }

    #[test]
    fn malformed_snapshots_are_typed_errors() {
        assert_eq!(
            Hierarchy::from_snapshot(&[]).unwrap_err(),
            AnonymizerError::RootCount { roots: 0 }
        );
        assert_eq!(
            Hierarchy::from_snapshot(&[node(1, None, 0), node(2, None, 0)]).unwrap_err(),
            AnonymizerError::RootCount { roots: 2 }
        );
        assert_eq!(
            Hierarchy::from_snapshot(&[node(1, None, 0), node(1, Some(1), 0)]).unwrap_err(),
            AnonymizerError::DuplicateNode { node: id(1) }
        );
        assert_eq!(
            Hierarchy::from_snapshot(&[node(1, None, 0), node(2, Some(9), 0)]).unwrap_err(),
            AnonymizerError::UnknownParent {
                node: id(2),
                parent: id(9)
            }
        );
        assert_eq!(
            Hierarchy::from_snapshot(&[node(1, None, 0), node(2, Some(3), 0), node(3, Some(2), 0)])
                .unwrap_err(),
            AnonymizerError::HierarchyHasCycle { node: id(2) }
        );
        assert_eq!(
            Hierarchy::from_snapshot(&[node(1, None, 1), node(2, Some(1), 1), node(3, Some(1), 1)])
                .unwrap_err(),
            AnonymizerError::ViewersNotNested {
                node: id(1),
                viewers: 1,
                children_viewers: 2
            }
        );
    }

    #[test]
    fn a_chain_of_ten_thousand_nodes_does_not_overflow_the_stack() {
        let nodes: Vec<SnapshotNode> = (0..10_000u128)
            .map(|number| node(number, number.checked_sub(1), 0))
            .collect();
        let hierarchy = Hierarchy::from_snapshot(&nodes).unwrap();
        assert_eq!(hierarchy.children_first.first(), Some(&9_999));
        assert_eq!(hierarchy.len(), 10_000);
    }
}
