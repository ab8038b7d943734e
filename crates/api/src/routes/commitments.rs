//! Action plans (issue 13, point 4): after a round closes, a team's leader records
//! up to three commitments for the team (a dimension, what they will do, by when),
//! edits them and marks them done; HR reads them all, counted per team and
//! dimension, with their text (the leader's own words).
//!
//! [`parse_new`] and [`parse_change`] are the one validation, and
//! [`safepulse_store::commitments`] the one store, behind both this API and the
//! dashboard's forms. Nothing here reads or writes an answer or a release.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use safepulse_domain::{CommitmentId, Dimension, Email, Role, RoundId, TeamId};
use safepulse_mailer::webhooks::{
    ActionPlanEventData, WebhookData, WebhookEvent, WebhookPayload, queue_webhooks,
};
use safepulse_store::commitments::{self, CommitmentChange, CommitmentFields};
use safepulse_store::entities::action_commitment;
use safepulse_store::{StoreError, org};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::JsonObject;
use crate::access::Reader;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// The longest commitment text, in characters.
pub const MAX_ACTION_CHARS: usize = 500;
/// How far ahead a commitment may be due.
pub const MAX_DAYS_AHEAD: i64 = 366;

/// A new commitment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommitment {
    /// The closed round the plan answers (one that asked this team).
    #[schema(value_type = Uuid)]
    pub round_id: RoundId,
    /// A dimension of the item bank (`psychological_safety`, `trust`, … — not
    /// `recommendation`).
    pub dimension: String,
    /// What the leader will do: 1–500 characters.
    pub action: String,
    /// By when (`YYYY-MM-DD`): from today up to a year ahead.
    pub due_on: String,
}

/// A change to a commitment; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitmentPatch {
    pub dimension: Option<String>,
    pub action: Option<String>,
    /// A new date must be from today up to a year ahead; the current one may stay
    /// even when it has passed.
    pub due_on: Option<String>,
    /// `true` marks it done (keeping the first time), `false` open again.
    pub done: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommitmentDto {
    #[schema(value_type = Uuid)]
    pub id: CommitmentId,
    #[schema(value_type = Uuid)]
    pub team_id: TeamId,
    /// The closed round the plan answers.
    #[schema(value_type = Uuid)]
    pub round_id: RoundId,
    pub dimension: String,
    pub action: String,
    pub due_on: NaiveDate,
    pub done: bool,
    pub done_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<action_commitment::Model> for CommitmentDto {
    fn from(row: action_commitment::Model) -> Self {
        CommitmentDto {
            id: row.id,
            team_id: row.team_id,
            round_id: row.round_id,
            dimension: row.dimension,
            action: row.action,
            due_on: row.due_on,
            done: row.done_at.is_some(),
            done_at: row.done_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// How many commitments a team has on one dimension.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionCount {
    pub dimension: String,
    pub open: u32,
    pub done: u32,
}

/// One team's commitments for HR: counts per dimension and every commitment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamCommitments {
    #[schema(value_type = Uuid)]
    pub team_id: TeamId,
    pub team_name: String,
    pub counts: Vec<DimensionCount>,
    pub commitments: Vec<CommitmentDto>,
}

/// The dimension a commitment may name.
pub fn parse_dimension(raw: &str) -> Result<Dimension, FieldError> {
    Dimension::parse(raw.trim())
        .filter(|dimension| *dimension != Dimension::Recommendation)
        .ok_or_else(|| {
            FieldError::new(
                "dimension",
                "choose one of the dimensions (psychological_safety, trust, empathy, feedback, clarity, rapport, vulnerability, wellbeing)",
            )
        })
}

/// The text of a commitment: trimmed, 1–500 characters, no control characters but
/// line breaks.
pub fn parse_action(raw: &str) -> Result<String, FieldError> {
    let text = raw.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return Err(FieldError::new("action", "say what you will do"));
    }
    if text.chars().count() > MAX_ACTION_CHARS {
        return Err(FieldError::new(
            "action",
            format!("at most {MAX_ACTION_CHARS} characters"),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError::new("action", "no control characters"));
    }
    Ok(text)
}

/// A due date: `YYYY-MM-DD`, from `today` up to a year ahead.
pub fn parse_due_on(raw: &str, today: NaiveDate) -> Result<NaiveDate, FieldError> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| FieldError::new("due_on", "a date such as 2026-12-31"))?;
    if date < today {
        return Err(FieldError::new("due_on", "a date from today on"));
    }
    if date > today + Duration::days(MAX_DAYS_AHEAD) {
        return Err(FieldError::new("due_on", "at most a year ahead"));
    }
    Ok(date)
}

/// The fields of a new commitment, every problem named.
pub fn parse_new(
    dimension: &str,
    action: &str,
    due_on: &str,
    today: NaiveDate,
) -> Result<CommitmentFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let dimension = parse_dimension(dimension)
        .map_err(|error| errors.push(error))
        .ok();
    let action = parse_action(action)
        .map_err(|error| errors.push(error))
        .ok();
    let due_on = parse_due_on(due_on, today)
        .map_err(|error| errors.push(error))
        .ok();
    match (dimension, action, due_on) {
        (Some(dimension), Some(action), Some(due_on)) => Ok(CommitmentFields {
            dimension: dimension.as_str().to_owned(),
            action,
            due_on,
        }),
        _ => Err(errors),
    }
}

/// A change applied to `current`, every problem named. A due date equal to the
/// current one is kept as it is, even when it has passed.
pub fn parse_change(
    current: &action_commitment::Model,
    patch: &CommitmentPatch,
    today: NaiveDate,
) -> Result<CommitmentChange, Vec<FieldError>> {
    let mut errors = Vec::new();
    let dimension = match &patch.dimension {
        Some(raw) => parse_dimension(raw)
            .map(|dimension| dimension.as_str().to_owned())
            .map_err(|error| errors.push(error))
            .ok(),
        None => Some(current.dimension.clone()),
    };
    let action = match &patch.action {
        Some(raw) => parse_action(raw).map_err(|error| errors.push(error)).ok(),
        None => Some(current.action.clone()),
    };
    let due_on = match &patch.due_on {
        Some(raw) if raw.trim() == current.due_on.to_string() => Some(current.due_on),
        Some(raw) => parse_due_on(raw, today)
            .map_err(|error| errors.push(error))
            .ok(),
        None => Some(current.due_on),
    };
    let (Some(dimension), Some(action), Some(due_on)) = (dimension, action, due_on) else {
        return Err(errors);
    };
    let changes_fields =
        patch.dimension.is_some() || patch.action.is_some() || patch.due_on.is_some();
    Ok(CommitmentChange {
        fields: changes_fields.then_some(CommitmentFields {
            dimension,
            action,
            due_on,
        }),
        done: patch.done,
    })
}

/// Whether the caller, a manager, leads `team_id` now: only a team's leaders write
/// its plan.
pub async fn caller_leads(
    db: &impl ConnectionTrait,
    caller: &Caller,
    team_id: TeamId,
) -> Result<bool, ApiError> {
    if caller.role != Role::Manager {
        return Ok(false);
    }
    let Ok(email) = Email::parse(&caller.subject) else {
        return Ok(false);
    };
    let Some(person) = org::find_person_by_email(db, &email).await? else {
        return Ok(false);
    };
    Ok(org::teams_led_by(db, person.id).await?.contains(&team_id))
}

/// Store conflicts of a new commitment, as the API answers them.
pub fn creation_error(error: safepulse_store::StoreError) -> ApiError {
    match error {
        safepulse_store::StoreError::Conflict(safepulse_store::Conflict::RoundNotFound) => {
            ApiError::validation("round_id", "no such round")
        }
        other => other.into(),
    }
}

/// Records a commitment after a closed round (a leader of the team, manager token).
/// At most three per team and round: a fourth is `409 commitment_limit_reached`; a
/// round still open is `409 round_not_closed`, one that did not ask the team
/// `409 team_not_in_round`. Audited as `commitment.created`.
#[utoipa::path(
    post, path = "/api/v1/teams/{id}/commitments", tag = "action plans", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Team id")),
    request_body = NewCommitment,
    responses((status = 201, body = CommitmentDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[post("/api/v1/teams/{id}/commitments")]
pub async fn create_commitment(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
    body: JsonObject<NewCommitment>,
) -> Result<HttpResponse, ApiError> {
    let team_id = id.into_inner();
    let body = body.0;
    if !caller_leads(state.store.connection(), &caller, team_id).await? {
        return Err(ApiError::Forbidden);
    }
    let now = state.clock.now();
    let fields = parse_new(
        &body.dimension,
        &body.action,
        &body.due_on,
        now.date_naive(),
    )
    .map_err(ApiError::Validation)?;
    let transaction = state.store.begin_write().await?;
    let created = commitments::create_in(
        &transaction,
        &caller.subject,
        team_id,
        body.round_id,
        fields,
        now,
    )
    .await
    .map_err(creation_error)?;
    queue_action_plan_webhook(&transaction, &state, &created, "created").await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(HttpResponse::Created().json(CommitmentDto::from(created)))
}

/// Changes a commitment or marks it done (a leader of its team, manager token).
/// Audited as `commitment.updated`.
#[utoipa::path(
    patch, path = "/api/v1/commitments/{id}", tag = "action plans", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Commitment id")),
    request_body = CommitmentPatch,
    responses((status = 200, body = CommitmentDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem))
)]
#[patch("/api/v1/commitments/{id}")]
pub async fn update_commitment(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<CommitmentId>,
    body: JsonObject<CommitmentPatch>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.connection();
    let current = commitments::get(db, id.into_inner()).await?;
    if !caller_leads(db, &caller, current.team_id).await? {
        return Err(ApiError::Forbidden);
    }
    let now = state.clock.now();
    let change = parse_change(&current, &body.0, now.date_naive()).map_err(ApiError::Validation)?;
    let transaction = state.store.begin_write().await?;
    let updated =
        commitments::update_in(&transaction, &caller.subject, current.id, change, now).await?;
    queue_action_plan_webhook(&transaction, &state, &updated, "updated").await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(HttpResponse::Ok().json(CommitmentDto::from(updated)))
}

/// Queues `action_plan.changed` in the change's transaction: ids and a URL, never
/// the commitment's words (docs/operations.md, "Webhooks").
async fn queue_action_plan_webhook(
    db: &sea_orm::DatabaseTransaction,
    state: &AppState,
    commitment: &action_commitment::Model,
    change: &str,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let payload = WebhookPayload {
        event: WebhookEvent::ActionPlanChanged,
        timestamp: now,
        data: WebhookData::ActionPlan(ActionPlanEventData {
            commitment_id: commitment.id,
            team_id: commitment.team_id,
            round_id: commitment.round_id,
            change: change.to_owned(),
            url: format!(
                "{}/api/v1/teams/{}/commitments",
                state.config.public_url.trim_end_matches('/'),
                commitment.team_id
            ),
        }),
    };
    queue_webhooks(db, &payload, now)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// A team's commitments, oldest first (its leaders and hr).
#[utoipa::path(
    get, path = "/api/v1/teams/{id}/commitments", tag = "action plans", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Team id")),
    responses((status = 200, body = Vec<CommitmentDto>), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem))
)]
#[get("/api/v1/teams/{id}/commitments")]
pub async fn team_commitments(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> Result<HttpResponse, ApiError> {
    let team_id = id.into_inner();
    let db = state.store.connection();
    if !reads_team_plan(db, &caller, team_id).await? {
        return Err(ApiError::Forbidden);
    }
    let rows = commitments::of_team(db, team_id).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(CommitmentDto::from)
            .collect::<Vec<_>>(),
    ))
}

/// Every team's commitments (hr): per team, how many are open and done on each
/// dimension, and the commitments themselves, in the leaders' words.
#[utoipa::path(
    get, path = "/api/v1/commitments", tag = "action plans", security(("bearer" = [])),
    responses((status = 200, body = Vec<TeamCommitments>), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/api/v1/commitments")]
pub async fn all_commitments(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.connection();
    if !reads_everything(&caller, db).await? {
        return Err(ApiError::Forbidden);
    }
    let teams = commitments_by_team(&state).await?;
    safepulse_store::audit::record_committed(
        &state.store,
        state.clock.now(),
        safepulse_store::audit::AuditEvent {
            actor: &caller.subject,
            action: "commitments.viewed",
            team_id: None,
            target: None,
            details: serde_json::json!({ "teams": teams.len(), "via": "api" }),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(teams))
}

/// Whether the caller reads `team_id`'s plan: its current leaders and hr (the rule
/// of the API and of the dashboard's team page).
pub async fn reads_team_plan(
    db: &impl ConnectionTrait,
    caller: &Caller,
    team_id: TeamId,
) -> Result<bool, ApiError> {
    Ok(caller_leads(db, caller, team_id).await? || reads_everything(caller, db).await?)
}

/// Whether the caller reads every team's plan: hr (a reader whose scope is
/// everything), for the API's list and the dashboard's action plans page.
pub async fn reads_everything(
    caller: &Caller,
    db: &impl ConnectionTrait,
) -> Result<bool, ApiError> {
    match Reader::resolve(caller, db).await {
        Ok(reader) => Ok(reader.is_hr()),
        Err(ApiError::Forbidden) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Every commitment grouped by team (teams by name), with counts per dimension.
pub async fn commitments_by_team(state: &AppState) -> Result<Vec<TeamCommitments>, ApiError> {
    let db = state.store.connection();
    let names: BTreeMap<TeamId, String> = org::all_teams(db)
        .await?
        .into_iter()
        .map(|team| (team.id, team.name))
        .collect();
    let mut by_team: BTreeMap<TeamId, Vec<CommitmentDto>> = BTreeMap::new();
    for row in commitments::all(db).await? {
        by_team.entry(row.team_id).or_default().push(row.into());
    }
    let mut teams: Vec<TeamCommitments> = by_team
        .into_iter()
        .map(|(team_id, commitments)| {
            let counts = Dimension::ALL
                .into_iter()
                .filter_map(|dimension| {
                    let of: Vec<&CommitmentDto> = commitments
                        .iter()
                        .filter(|commitment| commitment.dimension == dimension.as_str())
                        .collect();
                    (!of.is_empty()).then(|| DimensionCount {
                        dimension: dimension.as_str().to_owned(),
                        open: of.iter().filter(|commitment| !commitment.done).count() as u32,
                        done: of.iter().filter(|commitment| commitment.done).count() as u32,
                    })
                })
                .collect();
            TeamCommitments {
                team_name: names.get(&team_id).cloned().unwrap_or_default(),
                team_id,
                counts,
                commitments,
            }
        })
        .collect();
    teams.sort_by(|a, b| a.team_name.cmp(&b.team_name));
    Ok(teams)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    #[test]
    fn a_new_commitment_names_every_problem_at_once() {
        let errors = parse_new("recommendation", "  ", "2026-12-06", today()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["dimension", "action", "due_on"]);
        let fields = parse_new(
            "trust",
            " Weekly 1:1s\r\nwith everyone ",
            "2027-01-15",
            today(),
        )
        .unwrap();
        assert_eq!(fields.action, "Weekly 1:1s\nwith everyone");
        assert!(parse_new("trust", &"x".repeat(501), "2027-01-15", today()).is_err());
        assert!(
            parse_new("trust", "ok", "2028-01-15", today()).is_err(),
            "more than a year ahead"
        );
    }

    #[test]
    fn an_edit_may_keep_a_passed_date_but_not_set_one() {
        let now = Utc::now();
        let current = action_commitment::Model {
            id: CommitmentId::random(),
            team_id: TeamId::random(),
            round_id: RoundId::random(),
            slot: 1,
            dimension: "trust".into(),
            action: "Weekly 1:1s".into(),
            due_on: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            done_at: None,
            created_at: now,
            updated_at: now,
        };
        let keep = CommitmentPatch {
            due_on: Some("2026-11-30".into()),
            done: Some(true),
            ..CommitmentPatch::default()
        };
        let change = parse_change(&current, &keep, today()).unwrap();
        assert_eq!(change.done, Some(true));
        let set = CommitmentPatch {
            due_on: Some("2026-11-29".into()),
            ..CommitmentPatch::default()
        };
        assert_eq!(
            parse_change(&current, &set, today()).unwrap_err()[0].field,
            "due_on"
        );
    }
}
