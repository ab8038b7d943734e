//! What the close reads of a survey's earlier rounds for Rule D (DESIGN §3 "Across
//! rounds", `safepulse_anonymizer`'s `cross_round`): counts and membership only,
//! never an answer.
//!
//! - Every earlier closed round's `determined_nodes`: the nodes its exact releases
//!   pinned down, with their respondent counts.
//! - For each node, how many people joined, left or were erased in its subtree since
//!   the last round that determined its scores: the round's invitations set against
//!   that round's, plus the invitations that round had at open (`round_nodes.invited`)
//!   but no longer has (erased people).
//! - Which nodes' invited people differ from the survey's previous round, for the
//!   reports' "team changed since the last pulse".

use std::collections::{HashMap, HashSet};

use safepulse_anonymizer::{DeterminedNode, EarlierRound, Family, History, MembershipChange};
use safepulse_domain::{NodeId, PersonId, RoundId};
use safepulse_store::StoreError;
use safepulse_store::entities::{invitation, round, round_node};
use safepulse_store::rounds as store_rounds;
use sea_orm::DatabaseTransaction;

/// Rule D's input for a round being closed, and its "team changed" flags.
#[derive(Debug)]
pub(crate) struct RoundPast {
    pub(crate) history: History,
    /// Nodes whose invited people differ from the survey's previous round.
    pub(crate) team_changed: HashSet<NodeId>,
}

/// Reads the past of `round` (being closed, with its snapshot `nodes` and
/// `invitations`).
pub(crate) async fn load(
    db: &DatabaseTransaction,
    round: &round::Model,
    nodes: &[round_node::Model],
    invitations: &[invitation::Model],
) -> Result<RoundPast, StoreError> {
    let earlier = store_rounds::earlier_closed(db, round).await?;
    let earlier_ids: Vec<RoundId> = earlier.iter().map(|earlier| earlier.id).collect();
    let mut determined = determined_by_round(db, &earlier_ids).await?;

    let now = Membership::of(nodes, invitations);
    // The last round that determined each node's scores, and the previous round.
    let mut reference: HashMap<NodeId, RoundId> = HashMap::new();
    for earlier in &earlier {
        if let Some(determined) = determined.get(&earlier.id) {
            for entry in &determined.scores {
                reference.insert(entry.node, earlier.id);
            }
        }
    }
    let previous = earlier.last().map(|round| round.id);
    let mut compared: Vec<RoundId> = reference.values().copied().collect();
    compared.extend(previous);
    compared.sort();
    compared.dedup();
    let changes = changes_since(db, &now, &compared).await?;

    let mut membership_changes: Vec<MembershipChange> = reference
        .iter()
        .filter_map(|(node, round_id)| {
            let people = *changes.get(round_id)?.get(node)?;
            (people > 0).then_some(MembershipChange {
                node: *node,
                people,
            })
        })
        .filter(|change| now.chains.contains_key(&change.node))
        .collect();
    membership_changes.sort_by_key(|change| change.node.0);
    let team_changed = previous
        .and_then(|previous| changes.get(&previous))
        .map(|changes| {
            changes
                .iter()
                .filter(|(_, people)| **people > 0)
                .map(|(node, _)| *node)
                .collect()
        })
        .unwrap_or_default();
    Ok(RoundPast {
        history: History {
            earlier_rounds: earlier
                .iter()
                .map(|earlier| determined.remove(&earlier.id).unwrap_or_default())
                .collect(),
            membership_changes,
        },
        team_changed,
    })
}

/// The determined nodes of each of `earlier_ids`, by family.
async fn determined_by_round(
    db: &DatabaseTransaction,
    earlier_ids: &[RoundId],
) -> Result<HashMap<RoundId, EarlierRound>, StoreError> {
    let mut determined: HashMap<RoundId, EarlierRound> = HashMap::new();
    for row in store_rounds::determined_nodes(db, earlier_ids).await? {
        let entry = DeterminedNode {
            node: row.node_id,
            respondents: u32::try_from(row.respondents).unwrap_or(0),
        };
        let round = determined.entry(row.round_id).or_default();
        match family_of(&row.family) {
            Some(Family::Scores) => round.scores.push(entry),
            Some(Family::Detail) => round.detail.push(entry),
            None => {}
        }
    }
    Ok(determined)
}

/// For each of the `compared` rounds, how many people joined, left or were erased
/// in each node's subtree between it and `now`.
async fn changes_since(
    db: &DatabaseTransaction,
    now: &Membership,
    compared: &[RoundId],
) -> Result<HashMap<RoundId, HashMap<NodeId, u32>>, StoreError> {
    let mut snapshots: HashMap<RoundId, Vec<round_node::Model>> = HashMap::new();
    for node in safepulse_store::reports::snapshots_of_rounds(db, compared).await? {
        snapshots.entry(node.round_id).or_default().push(node);
    }
    let mut invited: HashMap<RoundId, Vec<invitation::Model>> = HashMap::new();
    for row in store_rounds::invitations_of_rounds(db, compared).await? {
        invited.entry(row.round_id).or_default().push(row);
    }
    Ok(compared
        .iter()
        .map(|round_id| {
            let then = Membership::of(
                snapshots.get(round_id).map_or(&[][..], Vec::as_slice),
                invited.get(round_id).map_or(&[][..], Vec::as_slice),
            );
            (*round_id, now.changes_since(&then))
        })
        .collect())
}

fn family_of(stored: &str) -> Option<Family> {
    match stored {
        "scores" => Some(Family::Scores),
        "detail" => Some(Family::Detail),
        _ => None,
    }
}

/// Who was invited in each node's subtree of one round's snapshot.
#[derive(Debug)]
struct Membership {
    /// Each node's chain of ancestors-or-self.
    chains: HashMap<NodeId, Vec<NodeId>>,
    /// Per person, the node of their invitation.
    node_of: HashMap<PersonId, NodeId>,
    /// Per node, the invitations now in its subtree.
    invited: HashMap<NodeId, u32>,
    /// Per node, the invitations its subtree had when the round opened (erasure
    /// deletes invitations since).
    invited_at_open: HashMap<NodeId, u32>,
}

impl Membership {
    fn of(nodes: &[round_node::Model], invitations: &[invitation::Model]) -> Membership {
        let parents: HashMap<NodeId, Option<NodeId>> = nodes
            .iter()
            .map(|node| (node.node_id, node.parent_node_id))
            .collect();
        let chains: HashMap<NodeId, Vec<NodeId>> = nodes
            .iter()
            .map(|node| {
                let mut chain = vec![node.node_id];
                // A snapshot is a tree; the bound only guards against a corrupted one.
                while chain.len() <= nodes.len() {
                    match parents
                        .get(chain.last().expect("not empty"))
                        .copied()
                        .flatten()
                    {
                        Some(parent) => chain.push(parent),
                        None => break,
                    }
                }
                (node.node_id, chain)
            })
            .collect();
        let mut invited: HashMap<NodeId, u32> = HashMap::new();
        let mut node_of = HashMap::with_capacity(invitations.len());
        for invitation in invitations {
            node_of.insert(invitation.person_id, invitation.node_id);
            for ancestor in chains.get(&invitation.node_id).into_iter().flatten() {
                *invited.entry(*ancestor).or_default() += 1;
            }
        }
        let mut invited_at_open: HashMap<NodeId, u32> = HashMap::new();
        for node in nodes {
            let at_open = u32::try_from(node.invited).unwrap_or(0);
            for ancestor in chains.get(&node.node_id).into_iter().flatten() {
                *invited_at_open.entry(*ancestor).or_default() += at_open;
            }
        }
        Membership {
            chains,
            node_of,
            invited,
            invited_at_open,
        }
    }

    /// For every node of this round that `then` had too: the people invited in its
    /// subtree in one round and not the other, plus those erased since `then`.
    fn changes_since(&self, then: &Membership) -> HashMap<NodeId, u32> {
        let mut in_both: HashMap<NodeId, u32> = HashMap::new();
        for (person, node) in &self.node_of {
            let (Some(chain_now), Some(chain_then)) = (
                self.chains.get(node),
                then.node_of
                    .get(person)
                    .and_then(|node| then.chains.get(node)),
            ) else {
                continue;
            };
            for ancestor in chain_now {
                if chain_then.contains(ancestor) {
                    *in_both.entry(*ancestor).or_default() += 1;
                }
            }
        }
        self.chains
            .keys()
            .filter(|node| then.chains.contains_key(node))
            .map(|node| {
                let now = self.invited.get(node).copied().unwrap_or(0);
                let before = then.invited.get(node).copied().unwrap_or(0);
                let both = in_both.get(node).copied().unwrap_or(0);
                let erased = then
                    .invited_at_open
                    .get(node)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(before);
                (*node, now + before - 2 * both + erased)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use safepulse_domain::InvitationId;
    use uuid::Uuid;

    use super::*;
    use crate::participation::test_node as node;

    fn invitation(person: u128, node: u128) -> invitation::Model {
        invitation::Model {
            id: InvitationId::random(),
            round_id: RoundId(Uuid::nil()),
            person_id: PersonId(Uuid::from_u128(person)),
            node_id: NodeId(Uuid::from_u128(node)),
            lookup: None,
        }
    }

    #[test]
    fn a_move_between_teams_changes_both_teams_but_not_their_department() {
        // Department 1 over Alpha 2 (people 10–15) and Beta 3 (people 20–25).
        let before_invitations: Vec<invitation::Model> = (10..16)
            .map(|person| invitation(person, 2))
            .chain((20..26).map(|person| invitation(person, 3)))
            .collect();
        let before = Membership::of(
            &[node(1, None, 0), node(2, Some(1), 6), node(3, Some(1), 6)],
            &before_invitations,
        );
        // Person 15 moved to Beta.
        let after_invitations: Vec<invitation::Model> = (10..15)
            .map(|person| invitation(person, 2))
            .chain((20..26).map(|person| invitation(person, 3)))
            .chain([invitation(15, 3)])
            .collect();
        let after = Membership::of(
            &[node(1, None, 0), node(2, Some(1), 5), node(3, Some(1), 7)],
            &after_invitations,
        );
        let changes = after.changes_since(&before);
        assert_eq!(changes[&NodeId(Uuid::from_u128(1))], 0);
        assert_eq!(changes[&NodeId(Uuid::from_u128(2))], 1);
        assert_eq!(changes[&NodeId(Uuid::from_u128(3))], 1);
    }

    #[test]
    fn an_erased_person_counts_as_a_change() {
        // Alpha had six invitations at open; one person has been erased since (their
        // invitation is gone), and the same five are invited now.
        let five: Vec<invitation::Model> = (10..15).map(|person| invitation(person, 2)).collect();
        let before = Membership::of(&[node(2, None, 6)], &five);
        let after = Membership::of(&[node(2, None, 5)], &five);
        assert_eq!(after.changes_since(&before)[&NodeId(Uuid::from_u128(2))], 1);
        assert_eq!(after.changes_since(&after)[&NodeId(Uuid::from_u128(2))], 0);
        // A node the earlier round did not have is not compared.
        let grown = Membership::of(&[node(2, None, 5), node(4, Some(2), 0)], &five);
        assert!(
            !grown
                .changes_since(&after)
                .contains_key(&NodeId(Uuid::from_u128(4)))
        );
    }
}
