//! Participation while a round is open (DESIGN §3): the one figure about a round
//! shown before it closes. For every node whose subtree has at least `2k`
//! invitees, how many of them have answered, rounded down to a multiple of `k`
//! ([`Policy::participation_while_open`]), so one more answer shows only once every
//! `k` answers. It is recomputed at most once a day ([`REFRESH_EVERY`]): a figure
//! that moved right after someone was seen at their desk would say who answered.
//! Smaller nodes show nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use safepulse_anonymizer::Policy;
use safepulse_store::entities::{round, round_node};
use safepulse_store::{Store, StoreError, participation, reports};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// How long a participation figure stands before it is recomputed.
pub const REFRESH_EVERY: chrono::Duration = chrono::Duration::hours(24);

/// Recomputes the participation of every open round whose figures are older than
/// [`REFRESH_EVERY`] (or missing); returns how many rounds were refreshed.
pub async fn refresh_due(store: &Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let db = store.connection();
    let open = round::Entity::find()
        .filter(round::Column::Status.eq("open"))
        .all(db)
        .await?;
    let round_ids: Vec<Uuid> = open.iter().map(|round| round.id).collect();
    let mut computed_at: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for row in participation::of_rounds(db, &round_ids).await? {
        let entry = computed_at.entry(row.round_id).or_insert(row.computed_at);
        *entry = (*entry).min(row.computed_at);
    }
    let mut snapshots: HashMap<Uuid, Vec<round_node::Model>> = HashMap::new();
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
        let large: Vec<Uuid> = invited
            .iter()
            .filter(|(_, invited)| {
                policy
                    .participation_while_open(to_u32(**invited), 0)
                    .is_some()
            })
            .map(|(node, _)| *node)
            .collect();
        let due = computed_at
            .get(&round.id)
            .is_none_or(|at| now - *at >= REFRESH_EVERY);
        if large.is_empty() || !due {
            continue;
        }
        let answered = participation::respondents_per_node(db, round.id).await?;
        let respondents = subtree_totals(&snapshot, |node| {
            answered.get(&node.node_id).copied().unwrap_or(0)
        });
        let rounded: Vec<(Uuid, u32)> = large
            .into_iter()
            .filter_map(|node| {
                let shown = policy.participation_while_open(
                    to_u32(invited[&node]),
                    to_u32(respondents.get(&node).copied().unwrap_or(0)),
                )?;
                Some((node, shown))
            })
            .collect();
        participation::store_for_round(store, round.id, &rounded, now).await?;
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
) -> HashMap<Uuid, u64> {
    let parents: HashMap<Uuid, Option<Uuid>> = snapshot
        .iter()
        .map(|node| (node.node_id, node.parent_node_id))
        .collect();
    let mut totals: HashMap<Uuid, u64> = snapshot.iter().map(|node| (node.node_id, 0)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u128, parent: Option<u128>, invited: i32) -> round_node::Model {
        round_node::Model {
            round_id: Uuid::nil(),
            node_id: Uuid::from_u128(id),
            parent_node_id: parent.map(Uuid::from_u128),
            team_id: None,
            kind: "team".into(),
            name: format!("node {id}"),
            invited,
            viewers: 0,
        }
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
        assert_eq!(totals[&Uuid::from_u128(1)], 14);
        assert_eq!(totals[&Uuid::from_u128(2)], 7);
        assert_eq!(totals[&Uuid::from_u128(3)], 4);
        assert_eq!(totals[&Uuid::from_u128(4)], 5);
    }
}
