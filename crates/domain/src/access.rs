//! Who reads what (DESIGN §3), as one pure rule shared by the round opener (which
//! counts each node's viewers `v`) and the reports (which decide what a reader
//! gets). Keeping it in one place is what makes the anonymizer's guarantee hold:
//! the people it subtracts as viewers are exactly the people the reports serve.
//! [`readable_nodes`] adds the viewer clause for readers whose role changed after
//! a round opened; every read of a release goes through it (the store's release
//! gate for the reports, the dashboard and the export; the close for the digests).

use std::collections::{HashMap, HashSet};

use crate::{NodeId, SurveyId, TeamId};

/// One node of a round's hierarchy snapshot, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessNode {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    /// Team nodes carry their team's id as `id` ([`NodeId::of_team`]); the
    /// synthetic root and the Leadership node are not teams.
    pub kind: NodeKind,
}

impl AccessNode {
    /// A team of the current organisation as an access node (every node of that
    /// tree is a team), for asking which teams a manager reads today.
    pub fn team(id: TeamId, parent: Option<TeamId>) -> AccessNode {
        AccessNode {
            id: NodeId::of_team(id),
            parent: parent.map(NodeId::of_team),
            kind: NodeKind::Team,
        }
    }
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

/// The id of a synthetic node (the Leadership node, a synthetic root) of a survey's
/// round: the same in every round of the survey while its audience (the teams it
/// names, and whether it takes their sub-teams) stays the same. Rule B breaks ties by
/// node id and Rule D finds a node's past by it, so the same counts must meet the
/// same id each round. A SHA-256 of the labelled inputs, as a version 8 UUID: it
/// says nothing a round's snapshot does not.
pub fn synthetic_node_id(
    kind: NodeKind,
    survey_id: SurveyId,
    audience_teams: &[TeamId],
    include_subteams: bool,
) -> NodeId {
    use sha2::{Digest, Sha256};
    let mut teams = audience_teams.to_vec();
    teams.sort_unstable();
    teams.dedup();
    let mut hash = Sha256::new();
    hash.update(b"safepulse/v1/synthetic-node");
    hash.update(kind.as_str().as_bytes());
    hash.update([0]);
    hash.update(survey_id.0.as_bytes());
    hash.update([u8::from(include_subteams)]);
    for team in teams {
        hash.update(team.0.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    NodeId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The nodes a manager who leads `led_teams` reads: each led team and every team
/// below it, plus the node directly above each led team (its department, or the
/// synthetic root), so a small team's manager still sees department-level detail.
/// Never the Leadership node (hr only). Led teams absent from the tree add nothing.
pub fn nodes_a_manager_reads(nodes: &[AccessNode], led_teams: &[TeamId]) -> HashSet<NodeId> {
    let by_id: HashMap<NodeId, &AccessNode> = nodes.iter().map(|node| (node.id, node)).collect();
    let led: HashSet<NodeId> = led_teams
        .iter()
        .copied()
        .map(NodeId::of_team)
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
    by_id: &HashMap<NodeId, &AccessNode>,
    start: NodeId,
    set: &HashSet<NodeId>,
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

/// Who a reader is today, as far as reading releases goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderScope {
    /// hr (and an admin who also holds hr): every node.
    Everything,
    /// A manager: the teams they lead now; each round's snapshot decides what
    /// that reaches ([`nodes_a_manager_reads`]).
    LedTeams(Vec<TeamId>),
}

/// A reader's own part in one round: the node their invitation sat in (`None`
/// when they were not invited) and the nodes at which the round opener counted
/// them as a viewer (`round_viewers`, the people in `v`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnPart {
    pub invited_at: Option<NodeId>,
    pub counted_at: HashSet<NodeId>,
}

/// The nodes of one round's snapshot a reader may read: what their scope reaches,
/// less every node whose subtree held the reader's own invitation without
/// counting them in its `v` (promoted, moved or given hr after the round opened).
/// The anonymizer subtracted exactly the counted viewers, so a reader it did not
/// subtract would get a figure that includes their own answer, and with n and
/// the mean, the mean of everyone else.
///
/// This is the one rule behind every read of a release: the store's release
/// gate applies it for the reports, the dashboard and the export, and the close
/// applies it to the manager digests.
pub fn readable_nodes(nodes: &[AccessNode], scope: &ReaderScope, own: &OwnPart) -> HashSet<NodeId> {
    let mut readable: HashSet<NodeId> = match scope {
        ReaderScope::Everything => nodes.iter().map(|node| node.id).collect(),
        ReaderScope::LedTeams(led) => nodes_a_manager_reads(nodes, led),
    };
    if let Some(invited_at) = own.invited_at {
        let holding_own_invitation = ancestors_or_self(nodes, invited_at);
        readable
            .retain(|node| own.counted_at.contains(node) || !holding_own_invitation.contains(node));
    }
    readable
}

/// `start` and every node above it.
fn ancestors_or_self(nodes: &[AccessNode], start: NodeId) -> HashSet<NodeId> {
    let parent_of: HashMap<NodeId, Option<NodeId>> =
        nodes.iter().map(|node| (node.id, node.parent)).collect();
    let mut found = HashSet::new();
    let mut current = Some(start);
    // A snapshot is a tree; `insert` failing only protects against a corrupted one.
    while let Some(id) = current {
        if !found.insert(id) {
            break;
        }
        current = parent_of.get(&id).copied().flatten();
    }
    found
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    use uuid::Uuid;

    fn id(n: u128) -> NodeId {
        NodeId(Uuid::from_u128(n + 1))
    }

    /// The team whose node is `id(n)`.
    fn team(n: u128) -> TeamId {
        TeamId(Uuid::from_u128(n + 1))
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
            let led: Vec<TeamId> = led.into_iter().filter(|team| *team < parents.len()).map(|index| team(index as u128)).collect();
            let readable = nodes_a_manager_reads(&nodes, &led);
            let parents_of_led: HashSet<NodeId> = nodes
                .iter()
                .filter(|node| led.iter().any(|team| NodeId::of_team(*team) == node.id))
                .filter_map(|node| node.parent)
                .collect();
            for node in &readable {
                let inside = led.iter().any(|team| subtree(&nodes, NodeId::of_team(*team)).contains(node));
                prop_assert!(inside || parents_of_led.contains(node), "{node} is outside");
                prop_assert!(*node != id(2000), "the Leadership node is hr only");
            }
            for team in &led {
                prop_assert!(readable.contains(&NodeId::of_team(*team)));
            }
        }
    }

    /// Every node at or below `top`, found by walking down from it (the opposite
    /// direction from the rule's walk up).
    fn subtree(nodes: &[AccessNode], top: NodeId) -> HashSet<NodeId> {
        let mut found = HashSet::from([top]);
        loop {
            let before = found.len();
            for node in nodes {
                if node.parent.is_some_and(|parent| found.contains(&parent)) {
                    found.insert(node.id);
                }
            }
            if found.len() == before {
                return found;
            }
        }
    }

    fn scope_strategy() -> impl Strategy<Value = Option<Vec<usize>>> {
        prop_oneof![
            Just(None),
            proptest::collection::vec(0usize..40, 0..4).prop_map(Some),
        ]
    }

    proptest! {
        /// The reader rule against a brute-force oracle: a node in scope is hidden
        /// exactly when the reader's own invitation sat in its subtree and they
        /// were not counted among its viewers.
        #[test]
        fn readable_nodes_are_the_scope_less_uncounted_subtrees_holding_the_readers_invitation(
            parents in proptest::collection::vec(0usize..40, 1..40),
            scope in scope_strategy(),
            invited in proptest::option::of(0usize..42),
            counted in proptest::collection::vec(0usize..42, 0..6),
        ) {
            let nodes = tree(&parents);
            let node_at = |index: usize| nodes[index % nodes.len()].id;
            let scope = match scope {
                None => ReaderScope::Everything,
                // Led "teams" may name the root or the Leadership node: the rule
                // ignores them, so the test keeps them in.
                Some(led) => ReaderScope::LedTeams(led.into_iter().map(|index| TeamId(node_at(index).0)).collect()),
            };
            let own = OwnPart {
                invited_at: invited.map(node_at),
                counted_at: counted.into_iter().map(node_at).collect(),
            };
            let in_scope: HashSet<NodeId> = match &scope {
                ReaderScope::Everything => nodes.iter().map(|node| node.id).collect(),
                ReaderScope::LedTeams(led) => nodes_a_manager_reads(&nodes, led),
            };
            let expected: HashSet<NodeId> = in_scope
                .into_iter()
                .filter(|node| {
                    let holds_own = own
                        .invited_at
                        .is_some_and(|invited_at| subtree(&nodes, *node).contains(&invited_at));
                    !holds_own || own.counted_at.contains(node)
                })
                .collect();
            prop_assert_eq!(readable_nodes(&nodes, &scope, &own), expected);
        }
    }

    #[test]
    fn hr_who_answered_in_a_team_does_not_read_it_or_the_nodes_above_unless_counted() {
        let nodes = tree(&[0, 0, 0]);
        let (root, department, team, sibling) = (id(1000), id(0), id(1), id(2));
        let uncounted = OwnPart {
            invited_at: Some(team),
            counted_at: HashSet::new(),
        };
        let readable = readable_nodes(&nodes, &ReaderScope::Everything, &uncounted);
        assert!(!readable.contains(&team) && !readable.contains(&department));
        assert!(!readable.contains(&root));
        assert!(readable.contains(&sibling) && readable.contains(&id(2000)));
        let counted = OwnPart {
            invited_at: Some(team),
            counted_at: HashSet::from([root, department, team]),
        };
        let readable = readable_nodes(&nodes, &ReaderScope::Everything, &counted);
        assert_eq!(readable.len(), nodes.len(), "hr at open: nothing is hidden");
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
        let readable = nodes_a_manager_reads(&nodes, &[team(1)]);
        assert_eq!(readable, HashSet::from([root.id, mine.id, below.id]));
    }

    #[test]
    fn synthetic_node_ids_are_stable_per_survey_kind_and_audience() {
        let survey = SurveyId(Uuid::from_u128(1));
        let teams = [TeamId(Uuid::from_u128(7)), TeamId(Uuid::from_u128(3))];
        let leadership = synthetic_node_id(NodeKind::Leadership, survey, &teams, true);
        assert_eq!(
            leadership,
            synthetic_node_id(NodeKind::Leadership, survey, &[teams[1], teams[0]], true),
            "the order the teams are listed in does not matter"
        );
        assert_eq!(leadership.0.get_version_num(), 8);
        for other in [
            synthetic_node_id(NodeKind::Root, survey, &teams, true),
            synthetic_node_id(
                NodeKind::Leadership,
                SurveyId(Uuid::from_u128(2)),
                &teams,
                true,
            ),
            synthetic_node_id(NodeKind::Leadership, survey, &teams[..1], true),
            synthetic_node_id(NodeKind::Leadership, survey, &teams, false),
        ] {
            assert_ne!(leadership, other);
        }
    }
}
