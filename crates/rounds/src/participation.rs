//! Participation while a round is open (DESIGN §3): the one figure about a round
//! shown before it closes. For every node whose subtree has more than `2k`
//! invitees, how many of them have answered, rounded down to a multiple of `k` and
//! kept below `invited − k` ([`Policy::participation_while_open`]), so one more
//! answer shows only once every `k` answers, and the figure never says that all but
//! a handful answered. It is recomputed at most once a day, at a random moment of
//! the day after the wait ([`REFRESH_EVERY`], [`next_refresh`]): a figure that moved
//! right after someone was seen at their desk, or at a moment a reader could
//! predict, would say who answered. Reports show the day it was computed, not the
//! time. Smaller nodes show nothing.

use safepulse_store::entities::round::RoundStatus;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use safepulse_anonymizer::Policy;
use safepulse_domain::{NodeId, RoundId};
use safepulse_store::entities::{round, round_node};
use safepulse_store::{Store, StoreError, participation, reports};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// How long a participation figure stands at least before it is recomputed.
pub const REFRESH_EVERY: chrono::Duration = chrono::Duration::hours(24);

/// When a figure computed at `computed_at` may be recomputed: after
/// [`REFRESH_EVERY`] and a further random part of a day, so readers cannot tell the
/// moment of the next refresh (and a figure that moves cannot be matched to the
/// last person seen answering before it).
pub fn next_refresh(computed_at: DateTime<Utc>, rng: &mut impl rand::Rng) -> DateTime<Utc> {
    let jitter = chrono::Duration::seconds(rng.random_range(0..REFRESH_EVERY.num_seconds()));
    computed_at + REFRESH_EVERY + jitter
}

/// Recomputes the participation of every open round whose figures are due (see
/// [`next_refresh`]) or missing; returns how many rounds were refreshed.
pub async fn refresh_due(store: &Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let db = store.connection();
    let open = round::Entity::find()
        .filter(round::Column::Status.eq(RoundStatus::Open))
        .all(db)
        .await?;
    let round_ids: Vec<RoundId> = open.iter().map(|round| round.id).collect();
    let mut refresh_after: HashMap<RoundId, DateTime<Utc>> = HashMap::new();
    for row in participation::of_rounds(db, &round_ids).await? {
        // Rows from before the jitter have none: a day after their computation.
        let due = row.refresh_after.unwrap_or(row.computed_at + REFRESH_EVERY);
        let entry = refresh_after.entry(row.round_id).or_insert(due);
        *entry = (*entry).min(due);
    }
    let mut snapshots: HashMap<RoundId, Vec<round_node::Model>> = HashMap::new();
    for node in reports::snapshots_of_rounds(db, &round_ids).await? {
        snapshots.entry(node.round_id).or_default().push(node);
    }
    let mut refreshed = 0;
    for round in open {
        let Ok(policy) = Policy::new(
            u32::try_from(round.k).unwrap_or(u32::MAX),
            u32::try_from(round.k_detail).unwrap_or(u32::MAX),
        ) else {
            continue;
        };
        let snapshot = snapshots.remove(&round.id).unwrap_or_default();
        let invited = subtree_totals(&snapshot, |node| u64::try_from(node.invited).unwrap_or(0));
        let large: Vec<NodeId> = invited
            .iter()
            .filter(|(_, invited)| {
                policy
                    .participation_while_open(to_u32(**invited), 0)
                    .is_some()
            })
            .map(|(node, _)| *node)
            .collect();
        let due = refresh_after.get(&round.id).is_none_or(|at| now >= *at);
        if large.is_empty() || !due {
            continue;
        }
        let answered = participation::respondents_per_node(db, round.id).await?;
        let respondents = subtree_totals(&snapshot, |node| {
            answered.get(&node.node_id).copied().unwrap_or(0)
        });
        let rounded: Vec<(NodeId, u32)> = large
            .into_iter()
            .filter_map(|node| {
                let shown = policy.participation_while_open(
                    to_u32(invited[&node]),
                    to_u32(respondents.get(&node).copied().unwrap_or(0)),
                )?;
                Some((node, shown))
            })
            .collect();
        let refresh_at = next_refresh(now, &mut rand::rng());
        participation::store_for_round(store, round.id, &rounded, now, refresh_at).await?;
        refreshed += 1;
    }
    Ok(refreshed)
}

fn to_u32(count: u64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Per node, the sum of `value` over the node and every node below it.
fn subtree_totals(
    snapshot: &[round_node::Model],
    value: impl Fn(&round_node::Model) -> u64,
) -> HashMap<NodeId, u64> {
    let parents: HashMap<NodeId, Option<NodeId>> = snapshot
        .iter()
        .map(|node| (node.node_id, node.parent_node_id))
        .collect();
    let mut totals: HashMap<NodeId, u64> = snapshot.iter().map(|node| (node.node_id, 0)).collect();
    for node in snapshot {
        let own = value(node);
        let mut current = Some(node.node_id);
        // A snapshot is a tree; the bound only guards against a corrupted one.
        for _ in 0..=snapshot.len() {
            let Some(id) = current else { break };
            if let Some(total) = totals.get_mut(&id) {
                *total += own;
            }
            current = parents.get(&id).copied().flatten();
        }
    }
    totals
}

/// A snapshot node for the tests of this crate: `id` and `parent` as numbers.
#[cfg(test)]
pub(crate) fn test_node(id: u128, parent: Option<u128>, invited: i32) -> round_node::Model {
    round_node::Model {
        round_id: RoundId(uuid::Uuid::nil()),
        node_id: NodeId(uuid::Uuid::from_u128(id)),
        parent_node_id: parent.map(|parent| NodeId(uuid::Uuid::from_u128(parent))),
        team_id: None,
        kind: "team".into(),
        name: format!("node {id}"),
        invited,
        viewers: 0,
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::test_node as node;
    use super::*;

    #[test]
    fn the_next_refresh_falls_at_random_within_the_day_after_the_wait() {
        let computed = chrono::DateTime::parse_from_rfc3339("2026-12-14T09:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut rng = rand::rng();
        let moments: Vec<DateTime<Utc>> =
            (0..200).map(|_| next_refresh(computed, &mut rng)).collect();
        for moment in &moments {
            assert!(*moment >= computed + REFRESH_EVERY);
            assert!(*moment < computed + REFRESH_EVERY * 2);
        }
        let distinct: std::collections::HashSet<_> = moments.iter().collect();
        assert!(distinct.len() > 150, "{} distinct moments", distinct.len());
    }

    #[test]
    fn subtree_totals_add_every_descendant_once() {
        let snapshot = [
            node(1, None, 2),
            node(2, Some(1), 3),
            node(3, Some(2), 4),
            node(4, Some(1), 5),
        ];
        let totals = subtree_totals(&snapshot, |node| u64::try_from(node.invited).unwrap());
        assert_eq!(totals[&NodeId(Uuid::from_u128(1))], 14);
        assert_eq!(totals[&NodeId(Uuid::from_u128(2))], 7);
        assert_eq!(totals[&NodeId(Uuid::from_u128(3))], 4);
        assert_eq!(totals[&NodeId(Uuid::from_u128(4))], 5);
    }
}
