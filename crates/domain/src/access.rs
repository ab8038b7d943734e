//! Who reads what (DESIGN §3), as one pure rule shared by the round opener (which
//! counts each node's viewers `v`) and the reports (which decide what a reader
//! gets). Keeping it in one place is what makes the anonymizer's guarantee hold:
//! the people it subtracts as viewers are exactly the people the reports serve.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

/// One node of a round's hierarchy snapshot, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessNode {
    pub id: Uuid,
    pub parent: Option<Uuid>,
    /// Team nodes carry their team's id as `id`; the synthetic root and the
    /// Leadership node are not teams.
    pub kind: NodeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Team,
    Leadership,
    Root,
}

impl NodeKind {
    /// The `round_nodes.kind` column: `team`, `leadership` or `root`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Team => "team",
            NodeKind::Leadership => "leadership",
            NodeKind::Root => "root",
        }
    }

    pub fn parse(stored: &str) -> Option<NodeKind> {
        match stored {
            "team" => Some(NodeKind::Team),
            "leadership" => Some(NodeKind::Leadership),
            "root" => Some(NodeKind::Root),
            _ => None,
        }
    }
}

/// The nodes a manager who leads `led_teams` reads: each led team and every team
/// below it, plus the node directly above each led team (its department, or the
/// synthetic root), so a small team's manager still sees department-level detail.
/// Never the Leadership node (hr only). Led teams absent from the tree add nothing.
pub fn nodes_a_manager_reads(nodes: &[AccessNode], led_teams: &[Uuid]) -> HashSet<Uuid> {
    let by_id: HashMap<Uuid, &AccessNode> = nodes.iter().map(|node| (node.id, node)).collect();
    let led: HashSet<Uuid> = led_teams
        .iter()
        .copied()
        .filter(|team| {
            by_id
                .get(team)
                .is_some_and(|node| node.kind == NodeKind::Team)
        })
        .collect();
    let mut readable = HashSet::new();
    for node in nodes {
        if node.kind == NodeKind::Team && has_ancestor_or_self_in(&by_id, node.id, &led) {
            readable.insert(node.id);
        }
    }
    for team in &led {
        if let Some(parent) = by_id[team].parent {
            readable.insert(parent);
        }
    }
    readable.retain(|id| by_id[id].kind != NodeKind::Leadership);
    readable
}

fn has_ancestor_or_self_in(
    by_id: &HashMap<Uuid, &AccessNode>,
    start: Uuid,
    set: &HashSet<Uuid>,
) -> bool {
    let mut current = Some(start);
    let mut steps = 0;
    while let Some(id) = current {
        if set.contains(&id) {
            return true;
        }
        // A snapshot is a tree; the bound only protects against a corrupted one.
        steps += 1;
        if steps > by_id.len() {
            return false;
        }
        current = by_id.get(&id).and_then(|node| node.parent);
    }
    false
}

/// Whether `node` is `ancestor` or lies below it.
pub fn is_within(nodes: &[AccessNode], node: Uuid, ancestor: Uuid) -> bool {
    let by_id: HashMap<Uuid, &AccessNode> = nodes.iter().map(|node| (node.id, node)).collect();
    has_ancestor_or_self_in(&by_id, node, &HashSet::from([ancestor]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n + 1)
    }

    /// A random forest of teams under a synthetic root, with a Leadership node.
    fn tree(parents: &[usize]) -> Vec<AccessNode> {
        let root = AccessNode {
            id: id(1000),
            parent: None,
            kind: NodeKind::Root,
        };
        let mut nodes = vec![root];
        for (index, parent) in parents.iter().enumerate() {
            let parent = if *parent >= index {
                root.id
            } else {
                id(*parent as u128)
            };
            nodes.push(AccessNode {
                id: id(index as u128),
                parent: Some(parent),
                kind: NodeKind::Team,
            });
        }
        nodes.push(AccessNode {
            id: id(2000),
            parent: Some(root.id),
            kind: NodeKind::Leadership,
        });
        nodes
    }

    proptest! {
        /// No manager ever receives a team outside the subtrees they lead, and the
        /// only node above them they read is the parent of a team they lead.
        #[test]
        fn a_manager_reads_only_their_subtrees_and_the_node_above(
            parents in proptest::collection::vec(0usize..40, 1..40),
            led in proptest::collection::vec(0usize..40, 0..4),
        ) {
            let nodes = tree(&parents);
            let led: Vec<Uuid> = led.into_iter().filter(|team| *team < parents.len()).map(|team| id(team as u128)).collect();
            let readable = nodes_a_manager_reads(&nodes, &led);
            let parents_of_led: HashSet<Uuid> = nodes
                .iter()
                .filter(|node| led.contains(&node.id))
                .filter_map(|node| node.parent)
                .collect();
            for node in &readable {
                let inside = led.iter().any(|team| is_within(&nodes, *node, *team));
                prop_assert!(inside || parents_of_led.contains(node), "{node} is outside");
                prop_assert!(*node != id(2000), "the Leadership node is hr only");
            }
            for team in &led {
                prop_assert!(readable.contains(team));
            }
        }
    }

    #[test]
    fn a_team_lead_reads_the_department_but_not_a_sibling_team() {
        let root = AccessNode {
            id: id(0),
            parent: None,
            kind: NodeKind::Team,
        };
        let mine = AccessNode {
            id: id(1),
            parent: Some(root.id),
            kind: NodeKind::Team,
        };
        let sibling = AccessNode {
            id: id(2),
            parent: Some(root.id),
            kind: NodeKind::Team,
        };
        let below = AccessNode {
            id: id(3),
            parent: Some(mine.id),
            kind: NodeKind::Team,
        };
        let leadership = AccessNode {
            id: id(4),
            parent: Some(root.id),
            kind: NodeKind::Leadership,
        };
        let nodes = [root, mine, sibling, below, leadership];
        let readable = nodes_a_manager_reads(&nodes, &[mine.id]);
        assert_eq!(readable, HashSet::from([root.id, mine.id, below.id]));
    }
}
