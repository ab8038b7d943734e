//! The SQL of opening and closing a round, one statement (or query) per step.
//! `safepulse_rounds::rounds` runs these steps in order inside one transaction
//! each; what the steps mean and why they are ordered so is documented there.

use crate::entities::round::RoundStatus;
use chrono::{DateTime, Utc};
use safepulse_domain::{ItemId, PersonId, RoundId, SurveyId, TeamId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement, TryInsertResult,
};

use crate::entities::outbox::OutboxKind;
use crate::entities::{
    determined_node, invitation, outbox, person, round, round_item, round_node, survey,
    survey_team, team, team_leader,
};
use crate::{Store, StoreError};

/// Rows per multi-row INSERT: well below SQLite's bound-variable limit.
const INSERT_CHUNK: usize = 400;

/// Inserts `rows` in multi-row statements of [`INSERT_CHUNK`] rows.
pub async fn insert_chunked<A>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), StoreError>
where
    A: ActiveModelTrait + Send,
{
    // Moved, not copied, into each statement: a close inserts tens of thousands of
    // rows with JSON figures.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The round `round_id`, if it exists.
pub async fn find(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<Option<round::Model>, StoreError> {
    Ok(round::Entity::find_by_id(round_id).one(db).await?)
}

/// The survey `survey_id`, if it exists.
pub async fn find_survey(
    db: &impl ConnectionTrait,
    survey_id: SurveyId,
) -> Result<Option<survey::Model>, StoreError> {
    Ok(survey::Entity::find_by_id(survey_id).one(db).await?)
}

/// Inserts an opening round unless its survey has a round for the period already
/// (`UNIQUE(survey_id, period_key)`): `false` when another scheduler, or an earlier
/// call, opened it first.
pub async fn insert_unless_period_taken(
    db: &impl ConnectionTrait,
    round: round::ActiveModel,
) -> Result<bool, StoreError> {
    let inserted = round::Entity::insert(round)
        .on_conflict_do_nothing_on([round::Column::SurveyId, round::Column::PeriodKey])
        .exec(db)
        .await?;
    Ok(!matches!(inserted, TryInsertResult::Conflicted))
}

/// The round of `survey_id` for `period_key`.
pub async fn of_period(
    db: &impl ConnectionTrait,
    survey_id: SurveyId,
    period_key: &str,
) -> Result<Option<round::Model>, StoreError> {
    Ok(round::Entity::find()
        .filter(round::Column::SurveyId.eq(survey_id))
        .filter(round::Column::PeriodKey.eq(period_key))
        .one(db)
        .await?)
}

/// Locks the survey's privacy settings (k, restricted release): a round opened
/// under them.
pub async fn lock_privacy(
    db: &impl ConnectionTrait,
    survey: &survey::Model,
) -> Result<(), StoreError> {
    if !survey.privacy_locked {
        let mut locked: survey::ActiveModel = survey.clone().into();
        locked.privacy_locked = Set(true);
        locked.update(db).await?;
    }
    Ok(())
}

/// Sets an open round's status to closed: `false` when it is not open (closed by
/// another call first, or missing). Submits hold the round row shared, so this
/// waits for those in flight.
pub async fn mark_closed(
    db: &impl ConnectionTrait,
    round_id: RoundId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let closed = round::Entity::update_many()
        .col_expr(round::Column::Status, Expr::value(RoundStatus::Closed))
        .col_expr(round::Column::ClosedAt, Expr::value(now))
        .filter(round::Column::Id.eq(round_id))
        .filter(round::Column::Status.eq(RoundStatus::Open))
        .exec(db)
        .await?;
    Ok(closed.rows_affected > 0)
}

/// The round's invitations.
pub async fn invitations(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<Vec<invitation::Model>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::RoundId.eq(round_id))
        .all(db)
        .await?)
}

/// The round's items, in the order its answers are sealed.
pub async fn items(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<Vec<ItemId>, StoreError> {
    Ok(round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round_id))
        .order_by_asc(round_item::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| ItemId(row.item_id))
        .collect())
}

/// The round's frozen hierarchy.
pub async fn nodes(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<Vec<round_node::Model>, StoreError> {
    Ok(round_node::Entity::find()
        .filter(round_node::Column::RoundId.eq(round_id))
        .all(db)
        .await?)
}

/// Stores the organisation-wide figures of a closed round.
pub async fn set_org_figures(
    db: &impl ConnectionTrait,
    round_id: RoundId,
    figures: serde_json::Value,
) -> Result<(), StoreError> {
    round::Entity::update_many()
        .col_expr(round::Column::OrgFigures, Expr::value(figures))
        .filter(round::Column::Id.eq(round_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Nulls the round's invitation lookups: no link of the round finds its
/// invitation any more.
pub async fn null_lookups(db: &impl ConnectionTrait, round_id: RoundId) -> Result<(), StoreError> {
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Lookup,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .filter(invitation::Column::RoundId.eq(round_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the round's invitations and reminders not sent yet: they would carry a
/// dead link.
pub async fn delete_unsent_links(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<(), StoreError> {
    outbox::Entity::delete_many()
        .filter(outbox::Column::RoundId.eq(round_id))
        .filter(outbox::Column::Kind.is_in([OutboxKind::Invitation, OutboxKind::Reminder]))
        .exec(db)
        .await?;
    Ok(())
}

/// The active people among `ids` whose address has not bounced.
pub async fn deliverable_people(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = PersonId>,
) -> Result<Vec<person::Model>, StoreError> {
    Ok(person::Entity::find()
        .filter(person::Column::Id.is_in(ids))
        .filter(person::Column::Active.eq(true))
        .filter(person::Column::Undeliverable.eq(false))
        .all(db)
        .await?)
}

/// The leader rows of `team_ids`.
pub async fn leaders_of_teams(
    db: &impl ConnectionTrait,
    team_ids: impl IntoIterator<Item = TeamId>,
) -> Result<Vec<team_leader::Model>, StoreError> {
    Ok(team_leader::Entity::find()
        .filter(team_leader::Column::TeamId.is_in(team_ids))
        .all(db)
        .await?)
}

/// The teams `team_ids`.
pub async fn teams(
    db: &impl ConnectionTrait,
    team_ids: impl IntoIterator<Item = TeamId>,
) -> Result<Vec<team::Model>, StoreError> {
    Ok(team::Entity::find()
        .filter(team::Column::Id.is_in(team_ids))
        .all(db)
        .await?)
}

/// The teams a survey was created for (without their sub-teams).
pub async fn survey_team_ids(
    db: &impl ConnectionTrait,
    survey_id: SurveyId,
) -> Result<Vec<TeamId>, StoreError> {
    Ok(survey_team::Entity::find()
        .filter(survey_team::Column::SurveyId.eq(survey_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.team_id)
        .collect())
}

/// The active people of `team_ids` whose address has not bounced, by id: a
/// round's invitees.
pub async fn invitable_people(
    db: &impl ConnectionTrait,
    team_ids: impl IntoIterator<Item = TeamId>,
) -> Result<Vec<person::Model>, StoreError> {
    Ok(person::Entity::find()
        .filter(person::Column::TeamId.is_in(team_ids))
        .filter(person::Column::Active.eq(true))
        .filter(person::Column::Undeliverable.eq(false))
        .order_by_asc(person::Column::Id)
        .all(db)
        .await?)
}

/// Every invitation `person_id` was sent, in any round.
pub async fn invitations_of_person(
    db: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<Vec<invitation::Model>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::PersonId.eq(person_id))
        .all(db)
        .await?)
}

/// Deletes a round; its invitations, snapshot, viewers, items, reminders,
/// participation and outbox rows go with it (ON DELETE CASCADE).
pub async fn delete(db: &impl ConnectionTrait, round_id: RoundId) -> Result<(), StoreError> {
    round::Entity::delete_by_id(round_id).exec(db).await?;
    Ok(())
}

/// The closed rounds not yet shredded (`scrubbed_at` unset).
pub async fn unshredded(db: &impl ConnectionTrait) -> Result<Vec<RoundId>, StoreError> {
    Ok(round::Entity::find()
        .filter(round::Column::Status.eq(RoundStatus::Closed))
        .filter(round::Column::ScrubbedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|round| round.id)
        .collect())
}

/// Records that the rounds' keys are destroyed and their freed pages scrubbed.
pub async fn mark_shredded(
    db: &impl ConnectionTrait,
    round_ids: &[RoundId],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    round::Entity::update_many()
        .col_expr(round::Column::ScrubbedAt, Expr::value(now))
        .filter(round::Column::Id.is_in(round_ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Scrubs the database's freed pages: PostgreSQL's `VACUUM` frees the open tables'
/// dead tuples (and the nulled lookups'); on SQLite (with `secure_delete`) a
/// truncating checkpoint folds the WAL, which still holds the old pages, into the
/// main file and empties it. `false` when a reader kept the checkpoint from
/// finishing: try again later.
pub async fn scrub_freed_pages(store: &Store) -> Result<bool, StoreError> {
    let db = store.connection();
    match store.db_backend() {
        DbBackend::Postgres => {
            for table in ["open_responses", "open_comments", "invitations"] {
                // The nulled lookups would otherwise linger as dead tuples too.
                db.execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("VACUUM {table}"),
                ))
                .await?;
            }
            Ok(true)
        }
        backend => {
            let row = db
                .query_one_raw(Statement::from_string(
                    backend,
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ))
                .await?;
            // `busy` = 1: a reader kept the checkpoint from finishing.
            let busy: i32 = match row {
                Some(row) => row.try_get_by_index(0)?,
                None => 0,
            };
            Ok(busy == 0)
        }
    }
}

/// The closed rounds of `round`'s survey before it, oldest first.
pub async fn earlier_closed(
    db: &impl ConnectionTrait,
    round: &round::Model,
) -> Result<Vec<round::Model>, StoreError> {
    Ok(round::Entity::find()
        .filter(round::Column::SurveyId.eq(round.survey_id))
        .filter(round::Column::Status.eq(RoundStatus::Closed))
        .filter(round::Column::RoundIndex.lt(round.round_index))
        .order_by_asc(round::Column::RoundIndex)
        .all(db)
        .await?)
}

/// The nodes the releases of `round_ids` determined (Rule D's memory).
pub async fn determined_nodes(
    db: &impl ConnectionTrait,
    round_ids: &[RoundId],
) -> Result<Vec<determined_node::Model>, StoreError> {
    Ok(determined_node::Entity::find()
        .filter(determined_node::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?)
}

/// The invitations of `round_ids`.
pub async fn invitations_of_rounds(
    db: &impl ConnectionTrait,
    round_ids: &[RoundId],
) -> Result<Vec<invitation::Model>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?)
}
