//! Action plans (issue 13, point 4): what a team's leader commits to after a round
//! closes — at most [`MAX_PER_TEAM_AND_ROUND`] commitments per team and round, each a
//! dimension, an action and a date, edited and marked done later.
//!
//! A commitment refers to a team and the closed round that prompted it, nothing
//! else: it never touches an answer, a release or anything the anonymizer decides,
//! and reading one needs no release. Who may write or read one is the caller's
//! decision (crates/api); every change here is audited in its own transaction.

use crate::entities::round::RoundStatus;
use chrono::{DateTime, NaiveDate, Utc};
use safepulse_domain::{CommitmentId, RoundId, TeamId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::audit::{self, AuditEvent};
use crate::entities::{action_commitment, round, round_node};
use crate::{Conflict, Store, StoreError};

/// How many commitments a team may record per closed round.
pub const MAX_PER_TEAM_AND_ROUND: usize = 3;

/// A commitment as validated by its caller (dimension known, text within limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentFields {
    pub dimension: String,
    pub action: String,
    pub due_on: NaiveDate,
}

/// What an edit changes; `None` keeps the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitmentChange {
    pub fields: Option<CommitmentFields>,
    pub done: Option<bool>,
}

/// Records a commitment of `team_id` after `round_id`, audited as `actor`.
///
/// `Conflict::RoundNotClosed` while the round is open,
/// `Conflict::TeamNotInRound` when the round did not ask the team,
/// `Conflict::CommitmentLimitReached` when the team has three for the round.
pub async fn create(
    store: &Store,
    actor: &str,
    team_id: TeamId,
    round_id: RoundId,
    fields: CommitmentFields,
    now: DateTime<Utc>,
) -> Result<action_commitment::Model, StoreError> {
    let transaction = store.begin_write().await?;
    let commitment = create_in(&transaction, actor, team_id, round_id, fields, now).await?;
    transaction.commit().await?;
    Ok(commitment)
}

/// [`create`] in the caller's transaction, so it can queue what the change
/// triggers (webhooks) with it.
pub async fn create_in(
    transaction: &DatabaseTransaction,
    actor: &str,
    team_id: TeamId,
    round_id: RoundId,
    fields: CommitmentFields,
    now: DateTime<Utc>,
) -> Result<action_commitment::Model, StoreError> {
    let round = round::Entity::find_by_id(round_id)
        .one(transaction)
        .await?
        .ok_or(StoreError::Conflict(Conflict::RoundNotFound))?;
    if round.status != RoundStatus::Closed {
        return Err(StoreError::Conflict(Conflict::RoundNotClosed));
    }
    let asked = round_node::Entity::find()
        .filter(round_node::Column::RoundId.eq(round_id))
        .filter(round_node::Column::TeamId.eq(team_id))
        .one(transaction)
        .await?
        .is_some();
    if !asked {
        return Err(StoreError::Conflict(Conflict::TeamNotInRound));
    }
    let taken: Vec<i32> = action_commitment::Entity::find()
        .filter(action_commitment::Column::TeamId.eq(team_id))
        .filter(action_commitment::Column::RoundId.eq(round_id))
        .all(transaction)
        .await?
        .into_iter()
        .map(|commitment| commitment.slot)
        .collect();
    // A racing insert of the same slot meets the unique index: a conflict, not a fourth.
    let slot = (1..=MAX_PER_TEAM_AND_ROUND as i32)
        .find(|slot| !taken.contains(slot))
        .ok_or(StoreError::Conflict(Conflict::CommitmentLimitReached))?;
    let commitment = action_commitment::ActiveModel {
        id: Set(CommitmentId::random()),
        team_id: Set(team_id),
        round_id: Set(round_id),
        slot: Set(slot),
        dimension: Set(fields.dimension),
        action: Set(fields.action),
        due_on: Set(fields.due_on),
        done_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(transaction)
    .await?;
    audit::record(
        transaction,
        now,
        AuditEvent {
            actor,
            action: "commitment.created",
            team_id: Some(team_id),
            target: Some(commitment.id.to_string()),
            details: serde_json::json!({
                "round_id": round_id,
                "dimension": commitment.dimension,
                "due_on": commitment.due_on,
            }),
        },
    )
    .await?;
    Ok(commitment)
}

/// Changes a commitment, audited as `actor`. `NotFound` for an unknown id.
pub async fn update(
    store: &Store,
    actor: &str,
    id: CommitmentId,
    change: CommitmentChange,
    now: DateTime<Utc>,
) -> Result<action_commitment::Model, StoreError> {
    let transaction = store.begin_write().await?;
    let updated = update_in(&transaction, actor, id, change, now).await?;
    transaction.commit().await?;
    Ok(updated)
}

/// [`update`] in the caller's transaction.
pub async fn update_in(
    transaction: &DatabaseTransaction,
    actor: &str,
    id: CommitmentId,
    change: CommitmentChange,
    now: DateTime<Utc>,
) -> Result<action_commitment::Model, StoreError> {
    let current = action_commitment::Entity::find_by_id(id)
        .one(transaction)
        .await?
        .ok_or(StoreError::NotFound)?;
    let team_id = current.team_id;
    let mut row: action_commitment::ActiveModel = current.clone().into();
    if let Some(fields) = &change.fields {
        row.dimension = Set(fields.dimension.clone());
        row.action = Set(fields.action.clone());
        row.due_on = Set(fields.due_on);
    }
    match change.done {
        Some(true) if current.done_at.is_none() => row.done_at = Set(Some(now)),
        Some(false) => row.done_at = Set(None),
        _ => {}
    }
    row.updated_at = Set(now);
    let updated = row.update(transaction).await?;
    audit::record(
        transaction,
        now,
        AuditEvent {
            actor,
            action: "commitment.updated",
            team_id: Some(team_id),
            target: Some(id.to_string()),
            details: serde_json::json!({
                "dimension": updated.dimension,
                "due_on": updated.due_on,
                "text_changed": updated.action != current.action,
                "done": updated.done_at.is_some(),
            }),
        },
    )
    .await?;
    Ok(updated)
}

pub async fn get(
    db: &impl ConnectionTrait,
    id: CommitmentId,
) -> Result<action_commitment::Model, StoreError> {
    action_commitment::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A team's commitments, oldest first.
pub async fn of_team(
    db: &impl ConnectionTrait,
    team_id: TeamId,
) -> Result<Vec<action_commitment::Model>, StoreError> {
    Ok(action_commitment::Entity::find()
        .filter(action_commitment::Column::TeamId.eq(team_id))
        .order_by_asc(action_commitment::Column::CreatedAt)
        .order_by_asc(action_commitment::Column::Slot)
        .all(db)
        .await?)
}

/// Every commitment, by team and age (HR's view).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<action_commitment::Model>, StoreError> {
    Ok(action_commitment::Entity::find()
        .order_by_asc(action_commitment::Column::TeamId)
        .order_by_asc(action_commitment::Column::CreatedAt)
        .order_by_asc(action_commitment::Column::Slot)
        .all(db)
        .await?)
}

/// The commitments of `team_ids` not yet marked done, soonest due first (for the
/// digest of the next round that closes).
pub async fn open_of_teams(
    db: &impl ConnectionTrait,
    team_ids: &[TeamId],
) -> Result<Vec<action_commitment::Model>, StoreError> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(action_commitment::Entity::find()
        .filter(action_commitment::Column::TeamId.is_in(team_ids.iter().copied()))
        .filter(action_commitment::Column::DoneAt.is_null())
        .order_by_asc(action_commitment::Column::DueOn)
        .order_by_asc(action_commitment::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The latest closed round that asked `team_id` (its hierarchy snapshot holds the
/// team): the round a new commitment answers.
pub async fn latest_closed_round_of_team(
    db: &impl ConnectionTrait,
    team_id: TeamId,
) -> Result<Option<round::Model>, StoreError> {
    let round_ids: Vec<RoundId> = round_node::Entity::find()
        .filter(round_node::Column::TeamId.eq(team_id))
        .all(db)
        .await?
        .into_iter()
        .map(|node| node.round_id)
        .collect();
    if round_ids.is_empty() {
        return Ok(None);
    }
    Ok(round::Entity::find()
        .filter(round::Column::Id.is_in(round_ids))
        .filter(round::Column::Status.eq(RoundStatus::Closed))
        .order_by_desc(round::Column::ClosedAt)
        .one(db)
        .await?)
}

/// The rounds `commitments` answer.
pub async fn rounds_of(
    db: &impl ConnectionTrait,
    commitments: &[action_commitment::Model],
) -> Result<Vec<round::Model>, StoreError> {
    if commitments.is_empty() {
        return Ok(Vec::new());
    }
    Ok(round::Entity::find()
        .filter(round::Column::Id.is_in(commitments.iter().map(|row| row.round_id)))
        .all(db)
        .await?)
}
