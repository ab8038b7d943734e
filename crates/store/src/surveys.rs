//! Surveys (what is asked of which teams, how often) and reading their rounds.
//! Opening and closing rounds is the mailer's job; this module only stores and lists.

use crate::entities::round::RoundStatus;
use chrono::{DateTime, Utc};
use safepulse_domain::{Name, RoundId, SurveyId, TeamId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::entities::{round, survey, survey_team, team};
use crate::org::Page;
use crate::{Conflict, StoreError};

#[derive(Debug, Clone)]
pub struct NewSurvey {
    pub name: Name,
    pub team_ids: Vec<TeamId>,
    pub include_subteams: bool,
    pub settings: serde_json::Value,
    pub k: u32,
    pub k_detail: u32,
    /// `suppressed` or `rounded` (the anonymizer's `RestrictedRelease`; the table
    /// `CHECK`s it).
    pub restricted_release: String,
    /// A draft opens no round (neither on its cadence nor on request) until it is
    /// started.
    pub draft: bool,
}

/// A survey with the teams it is sent to.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyWithTeams {
    pub survey: survey::Model,
    pub team_ids: Vec<TeamId>,
}

pub async fn create_survey(
    db: &impl ConnectionTrait,
    new: NewSurvey,
    now: DateTime<Utc>,
) -> Result<SurveyWithTeams, StoreError> {
    ensure_teams_exist(db, &new.team_ids).await?;
    let id = SurveyId::random();
    survey::ActiveModel {
        id: Set(id),
        name: Set(new.name.into_string()),
        status: Set(if new.draft { "draft" } else { "active" }.into()),
        include_subteams: Set(new.include_subteams),
        settings: Set(new.settings),
        k: Set(new.k as i32),
        k_detail: Set(new.k_detail as i32),
        restricted_release: Set(new.restricted_release),
        privacy_locked: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    replace_teams(db, id, &new.team_ids).await?;
    get_survey(db, id).await
}

async fn ensure_teams_exist(
    db: &impl ConnectionTrait,
    team_ids: &[TeamId],
) -> Result<(), StoreError> {
    let found = team::Entity::find()
        .filter(team::Column::Id.is_in(team_ids.iter().copied()))
        .count(db)
        .await?;
    if found != team_ids.len() as u64 {
        return Err(StoreError::Conflict(Conflict::TeamNotFound));
    }
    Ok(())
}

async fn replace_teams(
    db: &impl ConnectionTrait,
    survey_id: SurveyId,
    team_ids: &[TeamId],
) -> Result<(), StoreError> {
    survey_team::Entity::delete_many()
        .filter(survey_team::Column::SurveyId.eq(survey_id))
        .exec(db)
        .await?;
    for team_id in team_ids {
        survey_team::ActiveModel {
            survey_id: Set(survey_id),
            team_id: Set(*team_id),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub async fn get_survey(
    db: &impl ConnectionTrait,
    id: SurveyId,
) -> Result<SurveyWithTeams, StoreError> {
    let survey = survey::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    let team_ids = survey_team::Entity::find()
        .filter(survey_team::Column::SurveyId.eq(id))
        .order_by_asc(survey_team::Column::TeamId)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.team_id)
        .collect();
    Ok(SurveyWithTeams { survey, team_ids })
}

pub async fn list_surveys(
    db: &impl ConnectionTrait,
    after: Option<SurveyId>,
    limit: u64,
) -> Result<Page<SurveyWithTeams, SurveyId>, StoreError> {
    let mut query = survey::Entity::find()
        .order_by_asc(survey::Column::Id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(survey::Column::Id.gt(after));
    }
    let rows = query.all(db).await?;
    let more = rows.len() as u64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.into_iter().take(limit as usize) {
        items.push(get_survey(db, row.id).await?);
    }
    let next = more
        .then(|| items.last().map(|item| item.survey.id))
        .flatten();
    Ok(Page { items, next })
}

/// What an admin may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SurveyChanges {
    pub name: Option<Name>,
    pub team_ids: Option<Vec<TeamId>>,
    pub include_subteams: Option<bool>,
    pub settings: Option<serde_json::Value>,
    /// `(k, k_detail)`, checked against the floors by the caller (and by the
    /// table's `CHECK`s). They apply from the next round: a round keeps its own.
    pub thresholds: Option<(u32, u32)>,
    /// `suppressed` or `rounded`; applies from the next round, like the thresholds.
    pub restricted_release: Option<String>,
    pub status: Option<&'static str>,
}

pub async fn update_survey(
    db: &impl ConnectionTrait,
    id: SurveyId,
    changes: SurveyChanges,
    now: DateTime<Utc>,
) -> Result<SurveyWithTeams, StoreError> {
    let current = get_survey(db, id).await?.survey;
    if current.status == "archived" {
        return Err(StoreError::Conflict(Conflict::SurveyArchived));
    }
    if let Some(team_ids) = &changes.team_ids {
        ensure_teams_exist(db, team_ids).await?;
        replace_teams(db, id, team_ids).await?;
    }
    let mut model: survey::ActiveModel = current.into();
    if let Some(name) = changes.name {
        model.name = Set(name.into_string());
    }
    if let Some(include_subteams) = changes.include_subteams {
        model.include_subteams = Set(include_subteams);
    }
    if let Some(settings) = changes.settings {
        model.settings = Set(settings);
    }
    if let Some((k, k_detail)) = changes.thresholds {
        model.k = Set(k as i32);
        model.k_detail = Set(k_detail as i32);
    }
    if let Some(restricted_release) = changes.restricted_release {
        model.restricted_release = Set(restricted_release);
    }
    if let Some(status) = changes.status {
        model.status = Set(status.into());
    }
    model.updated_at = Set(now);
    model.update(db).await?;
    get_survey(db, id).await
}

pub async fn rounds_of(
    db: &impl ConnectionTrait,
    survey_id: SurveyId,
) -> Result<Vec<round::Model>, StoreError> {
    Ok(round::Entity::find()
        .filter(round::Column::SurveyId.eq(survey_id))
        .order_by_asc(round::Column::RoundIndex)
        .all(db)
        .await?)
}

/// Every open round, of every survey.
pub async fn open_rounds(db: &impl ConnectionTrait) -> Result<Vec<round::Model>, StoreError> {
    Ok(round::Entity::find()
        .filter(round::Column::Status.eq(RoundStatus::Open))
        .all(db)
        .await?)
}

pub async fn get_round(db: &impl ConnectionTrait, id: RoundId) -> Result<round::Model, StoreError> {
    round::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}
