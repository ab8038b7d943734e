//! Participation while a round is open (DESIGN §3, Rule C's one exception): how
//! many people of a large node have answered so far, rounded down to a multiple of
//! `k`, kept below `invited − k`, and refreshed at most daily at an unpredictable
//! moment. The scheduler computes it from the open tables
//! ([`respondents_per_node`]) and stores only the rounded figure
//! ([`store_for_round`]); reports read the stored figure
//! ([`open_rounds_of_node`]) and never the open tables.

use crate::entities::round::RoundStatus;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use safepulse_domain::{NodeId, RoundId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};

use crate::entities::{open_response, round, round_participation};
use crate::{Store, StoreError};

/// Answers stored so far per snapshot node of an open round (not per subtree).
pub async fn respondents_per_node(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<HashMap<NodeId, u64>, StoreError> {
    let counts: Vec<(NodeId, i64)> = open_response::Entity::find()
        .select_only()
        .column(open_response::Column::NodeId)
        .column_as(open_response::Column::Id.count(), "respondents")
        .filter(open_response::Column::RoundId.eq(round_id))
        .group_by(open_response::Column::NodeId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts
        .into_iter()
        .map(|(node, count)| (node, u64::try_from(count).unwrap_or(0)))
        .collect())
}

/// The stored participation rows of some rounds.
pub async fn of_rounds(
    db: &impl ConnectionTrait,
    round_ids: &[RoundId],
) -> Result<Vec<round_participation::Model>, StoreError> {
    Ok(round_participation::Entity::find()
        .filter(round_participation::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?)
}

/// Stores a round's participation figures (already rounded), computed `now`, not to
/// be recomputed before `refresh_after`. An upsert, because several schedulers
/// (replicas of `safepulse worker`) may refresh the same round at the same moment;
/// the set of nodes is fixed by the round's snapshot.
pub async fn store_for_round(
    store: &Store,
    round_id: RoundId,
    rounded: &[(NodeId, u32)],
    now: DateTime<Utc>,
    refresh_after: DateTime<Utc>,
) -> Result<(), StoreError> {
    if rounded.is_empty() {
        return Ok(());
    }
    let transaction = store.begin_write().await?;
    // Read the round as submit does (shared lock on PostgreSQL, IMMEDIATE on
    // SQLite): a close that has committed, or commits while we wait, wins, and a
    // closed round gets no figure back after the close deleted it.
    let backend = transaction.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT status FROM rounds WHERE id = $1 FOR SHARE",
        _ => "SELECT status FROM rounds WHERE id = ?",
    };
    let open = transaction
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [round_id.into()],
        ))
        .await?
        .map(|row| row.try_get::<String>("", "status"))
        .transpose()?
        .is_some_and(|status| status == "open");
    if !open {
        return Ok(());
    }
    round_participation::Entity::insert_many(rounded.iter().map(|&(node_id, respondents)| {
        round_participation::ActiveModel {
            round_id: Set(round_id),
            node_id: Set(node_id),
            respondents: Set(i32::try_from(respondents).unwrap_or(i32::MAX)),
            computed_at: Set(now),
            refresh_after: Set(Some(refresh_after)),
        }
    }))
    .on_conflict(
        OnConflict::columns([
            round_participation::Column::RoundId,
            round_participation::Column::NodeId,
        ])
        .update_columns([
            round_participation::Column::Respondents,
            round_participation::Column::ComputedAt,
            round_participation::Column::RefreshAfter,
        ])
        .to_owned(),
    )
    .exec(&transaction)
    .await?;
    transaction.commit().await?;
    Ok(())
}

/// Deletes a round's participation figures: the close transaction calls it, so
/// nothing about a round's progress outlives the round being open.
pub async fn delete_for_round(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<(), StoreError> {
    round_participation::Entity::delete_many()
        .filter(round_participation::Column::RoundId.eq(round_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The open rounds in which `node_id` shows participation, with its figure.
pub async fn open_rounds_of_node(
    db: &impl ConnectionTrait,
    node_id: NodeId,
) -> Result<Vec<(round::Model, round_participation::Model)>, StoreError> {
    let rows = round_participation::Entity::find()
        .filter(round_participation::Column::NodeId.eq(node_id))
        .all(db)
        .await?;
    let open: HashMap<RoundId, round::Model> = round::Entity::find()
        .filter(round::Column::Id.is_in(rows.iter().map(|row| row.round_id)))
        .filter(round::Column::Status.eq(RoundStatus::Open))
        .all(db)
        .await?
        .into_iter()
        .map(|round| (round.id, round))
        .collect();
    let mut found: Vec<(round::Model, round_participation::Model)> = rows
        .into_iter()
        .filter_map(|row| Some((open.get(&row.round_id)?.clone(), row)))
        .collect();
    found.sort_by_key(|(round, _)| round.opened_at);
    Ok(found)
}
