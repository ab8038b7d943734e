//! Surveys and their rounds (admin): what is asked of which teams, how often, under
//! which privacy thresholds; opening a round now and closing one now.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use safepulse_anonymizer::{Policy, RestrictedRelease};
use safepulse_domain::{Role, RoundId, SurveyId, TeamId};
use safepulse_rounds::rounds::{self, CloseOutcome, OpenOutcome, OpenRequest, RoundError};
use safepulse_rounds::survey::{
    CadenceSettings, Frequency, QuestionSettings, ReminderSettings, SurveySettings,
    WeekOfMonthSetting,
};
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::entities::round;
use safepulse_store::entities::round::RoundStatus;
use safepulse_store::keyring::{KeyChain, KeyringError};
use safepulse_store::surveys::{self, NewSurvey, SurveyChanges, SurveyWithTeams};
use safepulse_store::{Conflict, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JsonObject, Page, PageQuery, parse_name};
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::openapi::NameSchema;
use crate::state::AppState;

/// Which items each round asks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QuestionsDto {
    /// `items_per_round` agreement items (5–10, one fewer when the recommendation
    /// item is asked), rotating so every dimension is asked every few rounds; the
    /// 0–10 recommendation item every `recommendation_every_rounds` rounds (null: never).
    Rotating {
        #[schema(minimum = 5, maximum = 10)]
        items_per_round: u8,
        #[schema(minimum = 1, maximum = 52)]
        recommendation_every_rounds: Option<u32>,
    },
    /// The same items every round (ids from `GET /api/v1/items`), each once.
    Fixed {
        #[schema(min_items = 1, max_items = 15)]
        items: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrequencyDto {
    Weekly,
    EveryNWeeks,
    Monthly,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeekOfMonthDto {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

/// When rounds open, evaluated in each team's IANA time zone (DST-correct).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CadenceDto {
    pub frequency: FrequencyDto,
    /// For `every_n_weeks`: 1–8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weeks: Option<u8>,
    /// For `monthly`: which occurrence of the weekday (default `first`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week_of_month: Option<WeekOfMonthDto>,
    /// `monday` … `sunday`; weekends only with `allow_weekends`.
    pub weekday: String,
    /// Local time, `HH:MM`; never inside the quiet hours.
    pub local_time: String,
    #[serde(default)]
    pub allow_weekends: bool,
    /// `HH:MM`, default `20:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours_start: Option<String>,
    /// `HH:MM`, default `07:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours_end: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemindersDto {
    /// Hours after a team's opening; each inside the answer window; at most 3.
    #[schema(max_items = 3)]
    pub after_hours: Vec<u32>,
    /// Remind only people who have not answered. Off by default, because computing
    /// it lets the mail system see who had not answered yet; reminders to everyone
    /// say "if you have already answered, thank you — no need to open this".
    #[serde(default)]
    pub non_responders_only: bool,
}

/// Minimum group sizes, and what happens to a group whose figures could be set
/// against an earlier round's. A round keeps the values it opened with.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyDto {
    /// Minimum respondents for a team's scores (default 5, at least 4).
    #[schema(minimum = 4, maximum = 2147483647)]
    pub k: u32,
    /// Minimum respondents for spread, agreement and comments (default 10, at least max(k, 7)).
    #[schema(minimum = 7, maximum = 2147483647)]
    pub k_detail: u32,
    /// When comparing a group's figures with an earlier round could single someone
    /// out — people joined or left it, or one person more or fewer answered — its
    /// figures for that round are hidden (`suppressed`, the default) or shown
    /// `rounded` (dimension means on a coarse grid, nothing else). The answer page
    /// tells respondents which.
    #[serde(default)]
    pub restricted_release: RestrictedReleaseDto,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestrictedReleaseDto {
    #[default]
    Suppressed,
    Rounded,
}

impl RestrictedReleaseDto {
    fn policy(self) -> RestrictedRelease {
        match self {
            RestrictedReleaseDto::Suppressed => RestrictedRelease::Suppressed,
            RestrictedReleaseDto::Rounded => RestrictedRelease::Rounded,
        }
    }

    /// A stored value (the tables `CHECK` it).
    fn stored(text: &str) -> RestrictedReleaseDto {
        match RestrictedRelease::parse(text) {
            Some(RestrictedRelease::Rounded) => RestrictedReleaseDto::Rounded,
            Some(RestrictedRelease::Suppressed) | None => RestrictedReleaseDto::Suppressed,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSurvey {
    #[schema(value_type = NameSchema)]
    pub name: String,
    /// The teams invited; with `include_subteams` (default true) their sub-teams too.
    #[schema(value_type = Vec<Uuid>, min_items = 1)]
    pub team_ids: Vec<TeamId>,
    pub include_subteams: Option<bool>,
    /// Default: 8 rotating items, the recommendation item every 4th round.
    pub questions: Option<QuestionsDto>,
    /// Default: every 2 weeks, Monday 09:00 local time.
    pub cadence: Option<CadenceDto>,
    /// First local date a round may open on (default: today, UTC).
    pub starts_on: Option<NaiveDate>,
    /// How long a round stays open (24–336 hours, default 96).
    #[schema(minimum = 24, maximum = 336)]
    pub window_hours: Option<u32>,
    /// Default: one reminder after 48 hours, to everyone.
    pub reminders: Option<RemindersDto>,
    /// Default: k = 5, k_detail = 10, restricted releases suppressed.
    pub privacy: Option<PrivacyDto>,
    /// `true`: the survey starts as a `draft`, which opens no round (on its cadence
    /// or on request) until `POST /api/v1/surveys/{id}/start`. Default `false`: active
    /// at once, as before drafts existed. The admin console always creates drafts.
    pub draft: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSurvey {
    #[schema(value_type = Option<NameSchema>)]
    pub name: Option<String>,
    #[schema(value_type = Option<Vec<Uuid>>, min_items = 1)]
    pub team_ids: Option<Vec<TeamId>>,
    pub include_subteams: Option<bool>,
    pub questions: Option<QuestionsDto>,
    pub cadence: Option<CadenceDto>,
    pub starts_on: Option<NaiveDate>,
    #[schema(minimum = 24, maximum = 336)]
    pub window_hours: Option<u32>,
    pub reminders: Option<RemindersDto>,
    /// Up or down, never below the floors (k ≥ 4, k_detail ≥ max(k, 7)); applies
    /// from the next round, as every round keeps the thresholds it opened with.
    pub privacy: Option<PrivacyDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyDto {
    #[schema(value_type = Uuid)]
    pub id: SurveyId,
    pub name: String,
    /// `draft` (nothing is sent until it is started), `active`, `paused` or `archived`.
    pub status: String,
    #[schema(value_type = Vec<Uuid>)]
    pub team_ids: Vec<TeamId>,
    pub include_subteams: bool,
    pub questions: QuestionsDto,
    pub cadence: CadenceDto,
    pub starts_on: NaiveDate,
    pub window_hours: u32,
    pub reminders: RemindersDto,
    pub privacy: PrivacyDto,
    /// True once a round has opened. The thresholds may still change (never below
    /// the floors); rounds already opened keep theirs.
    pub privacy_locked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundDto {
    #[schema(value_type = Uuid)]
    pub id: RoundId,
    #[schema(value_type = Uuid)]
    pub survey_id: SurveyId,
    /// The cadence period, e.g. `2026-W48` or `2026-11`; `manual-…` for an extra round.
    pub period_key: String,
    pub round_index: i32,
    /// `open` or `closed`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub invited_count: i32,
    /// Invitations the mail server refused permanently.
    pub bounce_count: i32,
    pub privacy: PrivacyDto,
    /// True while the round is open and its key is in the round keyring. An open
    /// round with `false` has lost its key: it cannot take answers or send links.
    /// Restore the keyring directory, or discard the round
    /// (`POST /api/v1/rounds/{id}/discard`) and open a new one.
    pub accepts_answers: bool,
}

impl RoundDto {
    fn new(round: round::Model, keys: &KeyChain) -> Self {
        let accepts_answers =
            round.status == RoundStatus::Open && keys.has_round_key(round.id, &round.key_id);
        RoundDto {
            accepts_answers,
            id: round.id,
            survey_id: round.survey_id,
            period_key: round.period_key,
            round_index: round.round_index,
            status: round.status.to_string(),
            opened_at: round.opened_at,
            closes_at: round.closes_at,
            closed_at: round.closed_at,
            invited_count: round.invited_count,
            bounce_count: round.bounce_count,
            privacy: PrivacyDto {
                k: round.k as u32,
                k_detail: round.k_detail as u32,
                restricted_release: RestrictedReleaseDto::stored(&round.restricted_release),
            },
        }
    }
}

impl QuestionsDto {
    fn into_settings(self) -> QuestionSettings {
        match self {
            QuestionsDto::Rotating {
                items_per_round,
                recommendation_every_rounds,
            } => QuestionSettings::Rotating {
                items_per_round,
                recommendation_every_rounds,
            },
            QuestionsDto::Fixed { items } => QuestionSettings::Fixed { items },
        }
    }

    fn from_settings(settings: QuestionSettings) -> QuestionsDto {
        match settings {
            QuestionSettings::Rotating {
                items_per_round,
                recommendation_every_rounds,
            } => QuestionsDto::Rotating {
                items_per_round,
                recommendation_every_rounds,
            },
            QuestionSettings::Fixed { items } => QuestionsDto::Fixed { items },
        }
    }
}

impl CadenceDto {
    fn into_settings(self) -> CadenceSettings {
        CadenceSettings {
            frequency: match self.frequency {
                FrequencyDto::Weekly => Frequency::Weekly,
                FrequencyDto::EveryNWeeks => Frequency::EveryNWeeks,
                FrequencyDto::Monthly => Frequency::Monthly,
            },
            weeks: self.weeks,
            week_of_month: self.week_of_month.map(|week| match week {
                WeekOfMonthDto::First => WeekOfMonthSetting::First,
                WeekOfMonthDto::Second => WeekOfMonthSetting::Second,
                WeekOfMonthDto::Third => WeekOfMonthSetting::Third,
                WeekOfMonthDto::Fourth => WeekOfMonthSetting::Fourth,
                WeekOfMonthDto::Last => WeekOfMonthSetting::Last,
            }),
            weekday: self.weekday.to_lowercase(),
            local_time: self.local_time,
            allow_weekends: self.allow_weekends,
            quiet_hours_start: self.quiet_hours_start,
            quiet_hours_end: self.quiet_hours_end,
        }
    }

    fn from_settings(settings: CadenceSettings) -> CadenceDto {
        CadenceDto {
            frequency: match settings.frequency {
                Frequency::Weekly => FrequencyDto::Weekly,
                Frequency::EveryNWeeks => FrequencyDto::EveryNWeeks,
                Frequency::Monthly => FrequencyDto::Monthly,
            },
            weeks: settings.weeks,
            week_of_month: settings.week_of_month.map(|week| match week {
                WeekOfMonthSetting::First => WeekOfMonthDto::First,
                WeekOfMonthSetting::Second => WeekOfMonthDto::Second,
                WeekOfMonthSetting::Third => WeekOfMonthDto::Third,
                WeekOfMonthSetting::Fourth => WeekOfMonthDto::Fourth,
                WeekOfMonthSetting::Last => WeekOfMonthDto::Last,
            }),
            weekday: settings.weekday,
            local_time: settings.local_time,
            allow_weekends: settings.allow_weekends,
            quiet_hours_start: settings.quiet_hours_start,
            quiet_hours_end: settings.quiet_hours_end,
        }
    }
}

fn survey_dto(stored: SurveyWithTeams) -> Result<SurveyDto, ApiError> {
    let survey = stored.survey;
    let settings: SurveySettings = serde_json::from_value(survey.settings)
        .map_err(|error| ApiError::internal(anyhow::anyhow!("stored survey settings: {error}")))?;
    Ok(SurveyDto {
        id: survey.id,
        name: survey.name,
        status: survey.status,
        team_ids: stored.team_ids,
        include_subteams: survey.include_subteams,
        questions: QuestionsDto::from_settings(settings.questions),
        cadence: CadenceDto::from_settings(settings.cadence),
        starts_on: settings.starts_on,
        window_hours: settings.window_hours,
        reminders: RemindersDto {
            after_hours: settings.reminders.after_hours,
            non_responders_only: settings.reminders.non_responders_only,
        },
        privacy: PrivacyDto {
            k: survey.k as u32,
            k_detail: survey.k_detail as u32,
            restricted_release: RestrictedReleaseDto::stored(&survey.restricted_release),
        },
        privacy_locked: survey.privacy_locked,
        created_at: survey.created_at,
        updated_at: survey.updated_at,
    })
}

/// The schedule and question fields of a create or update request.
struct SettingsFields {
    questions: Option<QuestionsDto>,
    cadence: Option<CadenceDto>,
    starts_on: Option<NaiveDate>,
    window_hours: Option<u32>,
    reminders: Option<RemindersDto>,
}

/// Settings with the request's changes applied, validated against the item bank.
fn apply_settings(
    state: &AppState,
    mut settings: SurveySettings,
    fields: SettingsFields,
    errors: &mut Vec<FieldError>,
) -> SurveySettings {
    let SettingsFields {
        questions,
        cadence,
        starts_on,
        window_hours,
        reminders,
    } = fields;
    if let Some(questions) = questions {
        settings.questions = questions.into_settings();
    }
    if let Some(cadence) = cadence {
        settings.cadence = cadence.into_settings();
    }
    if let Some(starts_on) = starts_on {
        settings.starts_on = starts_on;
    }
    if let Some(window_hours) = window_hours {
        settings.window_hours = window_hours;
    }
    if let Some(reminders) = reminders {
        settings.reminders = ReminderSettings {
            after_hours: reminders.after_hours,
            non_responders_only: reminders.non_responders_only,
        };
    }
    if let Err(error) = settings.validate(&state.bank) {
        errors.push(FieldError::new("settings", error));
    }
    settings
}

/// The floors are the only rule: thresholds may go up or down whenever the admin
/// likes, because each round keeps the thresholds it opened with, and no round is
/// released under less than the floors (issue 11).
fn parse_privacy(privacy: PrivacyDto, errors: &mut Vec<FieldError>) -> (u32, u32, String) {
    if let Err(error) = Policy::new(privacy.k, privacy.k_detail) {
        errors.push(FieldError::new("privacy", error));
    }
    // The database keeps them as 32-bit signed integers.
    if i32::try_from(privacy.k.max(privacy.k_detail)).is_err() {
        errors.push(FieldError::new(
            "privacy",
            "k and k_detail must be below 2^31",
        ));
    }
    (
        privacy.k,
        privacy.k_detail,
        privacy.restricted_release.policy().as_str().to_owned(),
    )
}

fn parse_team_ids(team_ids: Vec<TeamId>, errors: &mut Vec<FieldError>) -> Vec<TeamId> {
    let mut unique = team_ids;
    unique.sort();
    unique.dedup();
    if unique.is_empty() {
        errors.push(FieldError::new("team_ids", "name at least one team"));
    }
    unique
}

pub fn round_error(error: RoundError) -> ApiError {
    match error {
        RoundError::SurveyNotFound | RoundError::RoundNotFound => ApiError::NotFound,
        RoundError::SurveyNotActive(status) => ApiError::Conflict {
            code: "survey_not_active",
            detail: format!("the survey is {status}; resume it to open rounds"),
        },
        RoundError::RoundAlreadyOpen => ApiError::Conflict {
            code: "round_already_open",
            detail: "the survey already has an open round; close it first".into(),
        },
        RoundError::NoAudience => ApiError::Conflict {
            code: "no_audience",
            detail: error.to_string(),
        },
        RoundError::Keyring(KeyringError::RoundKeyMissing(_)) => ApiError::Conflict {
            code: "round_key_missing",
            detail: error.to_string(),
        },
        RoundError::DatabaseRecords(_) => ApiError::Conflict {
            code: "database_records_answers",
            detail: format!("rounds cannot open: {error}"),
        },
        RoundError::RoundNotOpen => ApiError::Conflict {
            code: "round_not_open",
            detail: error.to_string(),
        },
        RoundError::RoundKeyPresent => ApiError::Conflict {
            code: "round_key_present",
            detail: error.to_string(),
        },
        RoundError::Store(error) => error.into(),
        other => ApiError::internal(other),
    }
}

/// Creates a survey: the one implementation behind `POST /api/v1/surveys` and the
/// admin console's form.
pub async fn create(
    state: &AppState,
    actor: &str,
    body: CreateSurvey,
) -> Result<SurveyWithTeams, ApiError> {
    let now = state.clock.now();
    let mut errors = Vec::new();
    let name = parse_name("name", &body.name, &mut errors);
    let team_ids = parse_team_ids(body.team_ids, &mut errors);
    let settings = apply_settings(
        state,
        SurveySettings::starting_on(now.date_naive()),
        SettingsFields {
            questions: body.questions,
            cadence: body.cadence,
            starts_on: body.starts_on,
            window_hours: body.window_hours,
            reminders: body.reminders,
        },
        &mut errors,
    );
    let (k, k_detail, restricted_release) = parse_privacy(
        body.privacy.unwrap_or(PrivacyDto {
            k: 5,
            k_detail: 10,
            restricted_release: RestrictedReleaseDto::default(),
        }),
        &mut errors,
    );
    let (Some(name), true) = (name, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let db = state.store.begin_write().await?;
    let created = surveys::create_survey(
        &db,
        NewSurvey {
            name,
            team_ids,
            include_subteams: body.include_subteams.unwrap_or(true),
            settings: serde_json::to_value(&settings).map_err(ApiError::internal)?,
            k,
            k_detail,
            restricted_release,
            draft: body.draft.unwrap_or(false),
        },
        now,
    )
    .await?;
    audit::record(
        &db,
        now,
        AuditEvent {
            actor,
            action: "survey.created",
            team_id: None,
            target: Some(created.survey.id.to_string()),
            details: serde_json::json!({ "name": created.survey.name, "status": created.survey.status }),
        },
    )
    .await?;
    db.commit().await.map_err(StoreError::from)?;
    Ok(created)
}

/// Creates a survey, active at once unless `draft` is true. Nothing is sent until a
/// round opens (on its cadence, or now).
#[utoipa::path(
    post, path = "/api/v1/surveys", tag = "surveys", security(("bearer" = [])), request_body = CreateSurvey,
    responses((status = 201, body = SurveyDto, headers(("Location" = String, description = "The created resource"))), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem))
)]
#[post("/api/v1/surveys")]
pub async fn create_survey(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<CreateSurvey>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let created = create(&state, &caller.subject, body.0).await?;
    let location = format!("/api/v1/surveys/{}", created.survey.id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(survey_dto(created)?))
}

/// Lists surveys, ordered by id.
#[utoipa::path(
    get, path = "/api/v1/surveys", tag = "surveys", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<SurveyDto>), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/api/v1/surveys")]
pub async fn list_surveys(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Admin, Role::Hr])?;
    let page = surveys::list_surveys(
        state.store.connection(),
        query.cursor.map(SurveyId),
        query.limit()?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page {
        items: page
            .items
            .into_iter()
            .map(survey_dto)
            .collect::<Result<Vec<_>, _>>()?,
        next_cursor: page.next.map(|id| id.0),
    }))
}

/// One survey.
#[utoipa::path(
    get, path = "/api/v1/surveys/{id}", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SurveyDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem))
)]
#[get("/api/v1/surveys/{id}")]
pub async fn get_survey(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Admin, Role::Hr])?;
    let survey = surveys::get_survey(state.store.connection(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(survey_dto(survey)?))
}

/// Changes a survey: the one implementation behind `PATCH /api/v1/surveys/{id}`
/// and the admin console's form.
pub async fn update(
    state: &AppState,
    actor: &str,
    id: SurveyId,
    body: UpdateSurvey,
) -> Result<SurveyWithTeams, ApiError> {
    let db = state.store.begin_write().await?;
    let current = surveys::get_survey(&db, id).await?;
    let stored: SurveySettings = serde_json::from_value(current.survey.settings.clone())
        .map_err(|error| ApiError::internal(anyhow::anyhow!("stored survey settings: {error}")))?;
    let mut errors = Vec::new();
    let name = body
        .name
        .as_deref()
        .and_then(|name| parse_name("name", name, &mut errors));
    let team_ids = body
        .team_ids
        .map(|team_ids| parse_team_ids(team_ids, &mut errors));
    let settings = apply_settings(
        state,
        stored,
        SettingsFields {
            questions: body.questions,
            cadence: body.cadence,
            starts_on: body.starts_on,
            window_hours: body.window_hours,
            reminders: body.reminders,
        },
        &mut errors,
    );
    let privacy = body
        .privacy
        .map(|privacy| parse_privacy(privacy, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let now = state.clock.now();
    let updated = surveys::update_survey(
        &db,
        id,
        SurveyChanges {
            name,
            team_ids,
            include_subteams: body.include_subteams,
            settings: Some(serde_json::to_value(&settings).map_err(ApiError::internal)?),
            thresholds: privacy.as_ref().map(|(k, k_detail, _)| (*k, *k_detail)),
            restricted_release: privacy.map(|(_, _, restricted_release)| restricted_release),
            status: None,
        },
        now,
    )
    .await?;
    audit::record(
        &db,
        now,
        AuditEvent {
            actor,
            action: "survey.updated",
            team_id: None,
            target: Some(id.to_string()),
            details: serde_json::json!({}),
        },
    )
    .await?;
    db.commit().await.map_err(StoreError::from)?;
    Ok(updated)
}

/// Changes a survey. The privacy thresholds may go up or down, never below the floors.
#[utoipa::path(
    patch, path = "/api/v1/surveys/{id}", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateSurvey,
    responses((status = 200, body = SurveyDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem))
)]
#[patch("/api/v1/surveys/{id}")]
pub async fn update_survey(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
    body: JsonObject<UpdateSurvey>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let updated = update(&state, &caller.subject, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(survey_dto(updated)?))
}

/// What an admin does to a survey's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// A draft becomes active: its rounds open on its cadence from `starts_on`.
    Start,
    Pause,
    Resume,
    Archive,
}

impl StatusChange {
    fn status(self) -> &'static str {
        match self {
            StatusChange::Start | StatusChange::Resume => "active",
            StatusChange::Pause => "paused",
            StatusChange::Archive => "archived",
        }
    }
}

/// Starts, pauses, resumes or archives a survey: the one implementation behind the
/// four API operations and the console's buttons. Only a draft starts (409
/// `survey_not_draft`), and a draft neither pauses nor resumes (409
/// `survey_is_draft`); archived surveys do not change (409 `survey_archived`).
pub async fn change_status(
    state: &AppState,
    actor: &str,
    id: SurveyId,
    change: StatusChange,
) -> Result<SurveyWithTeams, ApiError> {
    let db = state.store.begin_write().await?;
    let now = state.clock.now();
    let current = surveys::get_survey(&db, id).await?.survey;
    let is_draft = current.status == "draft";
    match change {
        StatusChange::Start if !is_draft && current.status != "archived" => {
            return Err(StoreError::Conflict(Conflict::SurveyNotDraft).into());
        }
        StatusChange::Pause | StatusChange::Resume if is_draft => {
            return Err(StoreError::Conflict(Conflict::SurveyIsDraft).into());
        }
        _ => {}
    }
    let status = change.status();
    let updated = surveys::update_survey(
        &db,
        id,
        SurveyChanges {
            status: Some(status),
            ..SurveyChanges::default()
        },
        now,
    )
    .await?;
    audit::record(
        &db,
        now,
        AuditEvent {
            actor,
            action: if change == StatusChange::Start {
                "survey.started"
            } else {
                "survey.status_changed"
            },
            team_id: None,
            target: Some(id.to_string()),
            details: serde_json::json!({ "status": status }),
        },
    )
    .await?;
    db.commit().await.map_err(StoreError::from)?;
    Ok(updated)
}

async fn set_status(
    caller: Caller,
    state: web::Data<AppState>,
    id: SurveyId,
    change: StatusChange,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let updated = change_status(&state, &caller.subject, id, change).await?;
    Ok(HttpResponse::Ok().json(survey_dto(updated)?))
}

/// Starts a draft survey: from now on its rounds open on its cadence (not before
/// `starts_on`), and a round may be opened now. 409 `survey_not_draft` otherwise.
#[utoipa::path(
    post, path = "/api/v1/surveys/{id}/start", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SurveyDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[post("/api/v1/surveys/{id}/start")]
pub async fn start_survey(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> Result<HttpResponse, ApiError> {
    set_status(caller, state, id.into_inner(), StatusChange::Start).await
}

/// Pauses a survey: no new rounds open until it is resumed; an open round runs to its end.
#[utoipa::path(
    post, path = "/api/v1/surveys/{id}/pause", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SurveyDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[post("/api/v1/surveys/{id}/pause")]
pub async fn pause_survey(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> Result<HttpResponse, ApiError> {
    set_status(caller, state, id.into_inner(), StatusChange::Pause).await
}

/// Resumes a paused survey.
#[utoipa::path(
    post, path = "/api/v1/surveys/{id}/resume", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SurveyDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[post("/api/v1/surveys/{id}/resume")]
pub async fn resume_survey(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> Result<HttpResponse, ApiError> {
    set_status(caller, state, id.into_inner(), StatusChange::Resume).await
}

/// Archives a survey for good: no new rounds; its releases stay readable.
#[utoipa::path(
    post, path = "/api/v1/surveys/{id}/archive", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SurveyDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[post("/api/v1/surveys/{id}/archive")]
pub async fn archive_survey(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> Result<HttpResponse, ApiError> {
    set_status(caller, state, id.into_inner(), StatusChange::Archive).await
}

/// Opens a round of a survey now: the one implementation behind
/// `POST /api/v1/surveys/{id}/rounds` and the admin console's "open now".
pub async fn open_now(
    state: &AppState,
    actor: &str,
    id: SurveyId,
) -> Result<round::Model, ApiError> {
    if let Some(reason) = &state.round_opening_blocked {
        return Err(ApiError::Conflict {
            code: "database_records_answers",
            detail: format!("rounds cannot open: {reason}"),
        });
    }
    let now = state.clock.now();
    let outcome = rounds::open_round(
        &state.store,
        &state.bank,
        &state.keys,
        id,
        OpenRequest::Now,
        now,
        &state.config.mail_host(),
        state.recording_check(),
    )
    .await
    .map_err(round_error)?;
    let (OpenOutcome::Opened(round) | OpenOutcome::AlreadyOpened(round)) = outcome;
    audit::record_committed(
        &state.store,
        now,
        AuditEvent {
            actor,
            action: "round.opened",
            team_id: None,
            target: Some(round.id.to_string()),
            details: serde_json::json!({ "survey_id": id, "invited": round.invited_count }),
        },
    )
    .await?;
    Ok(round)
}

/// Opens a round now: invitations are queued for everyone in the survey's teams.
#[utoipa::path(
    post, path = "/api/v1/surveys/{id}/rounds", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = RoundDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[post("/api/v1/surveys/{id}/rounds")]
pub async fn open_round(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let round = open_now(&state, &caller.subject, id.into_inner()).await?;
    Ok(HttpResponse::Created().json(RoundDto::new(round, &state.keys)))
}

/// The rounds of a survey, oldest first.
#[utoipa::path(
    get, path = "/api/v1/surveys/{id}/rounds", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<RoundDto>), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem))
)]
#[get("/api/v1/surveys/{id}/rounds")]
pub async fn list_rounds(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Admin, Role::Hr])?;
    let db = state.store.connection();
    let survey = surveys::get_survey(db, id.into_inner()).await?;
    let rounds = surveys::rounds_of(db, survey.survey.id).await?;
    Ok(HttpResponse::Ok().json(
        rounds
            .into_iter()
            .map(|round| RoundDto::new(round, &state.keys))
            .collect::<Vec<_>>(),
    ))
}

/// Closes a round now: the one implementation behind `POST /api/v1/rounds/{id}/close`
/// and the admin console's "close now".
pub async fn close_now(
    state: &AppState,
    actor: &str,
    id: RoundId,
) -> Result<round::Model, ApiError> {
    let now = state.clock.now();
    let outcome = rounds::close_round(
        &state.store,
        &state.bank,
        &state.keys,
        rounds::CloseRequest {
            round_id: id,
            now,
            retention: state.config.raw_retention(),
            report_base_url: state.config.public_url_trimmed(),
            mail_host: &state.config.mail_host(),
        },
    )
    .await
    .map_err(round_error)?;
    if let CloseOutcome::Closed { .. } = outcome {
        audit::record_committed(
            &state.store,
            now,
            AuditEvent {
                actor,
                action: "round.closed",
                team_id: None,
                target: Some(id.to_string()),
                details: serde_json::json!({}),
            },
        )
        .await?;
    }
    Ok(surveys::get_round(state.store.connection(), id).await?)
}

/// Closes a round now: its releases are computed and frozen, its keys destroyed.
/// Closing a closed round changes nothing.
#[utoipa::path(
    post, path = "/api/v1/rounds/{id}/close", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RoundDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem))
)]
#[post("/api/v1/rounds/{id}/close")]
pub async fn close_round(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<RoundId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let round = close_now(&state, &caller.subject, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(RoundDto::new(round, &state.keys)))
}

/// Discards an open round whose key is lost (see `accepts_answers`): its answers
/// can never be opened or counted, so the round is deleted with its invitations,
/// unsent emails and sealed answers, and a new round can be opened with new links.
/// Refused (409 `round_key_present`) while the key exists: close the round instead.
#[utoipa::path(
    post, path = "/api/v1/rounds/{id}/discard", tag = "surveys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RoundDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[post("/api/v1/rounds/{id}/discard")]
pub async fn discard_round(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<RoundId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let round = discard_and_audit(&state, id.into_inner(), &caller.subject)
        .await
        .map_err(round_error)?;
    Ok(HttpResponse::Ok().json(RoundDto::new(round, &state.keys)))
}

/// Discards an open round whose key is lost and records who did it. For
/// `POST /api/v1/rounds/{id}/discard` and `safepulse round discard`.
pub async fn discard_and_audit(
    state: &AppState,
    id: RoundId,
    actor: &str,
) -> Result<round::Model, RoundError> {
    let now = state.clock.now();
    let round = rounds::discard_round(&state.store, &state.keys, id).await?;
    audit::record_committed(
        &state.store,
        now,
        AuditEvent {
            actor,
            action: "round.discarded",
            team_id: None,
            target: Some(id.to_string()),
            details: serde_json::json!({ "survey_id": round.survey_id, "invited": round.invited_count }),
        },
    )
    .await?;
    Ok(round)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDto {
    pub id: String,
    /// e.g. `psychological_safety`, `trust`, … or `recommendation` (0–10).
    pub dimension: String,
    pub reverse_keyed: bool,
    pub scale_min: u8,
    pub scale_max: u8,
    pub text_en: String,
    pub text_de: String,
}

/// The built-in item bank, for choosing a fixed item list.
#[utoipa::path(
    get, path = "/api/v1/items", tag = "surveys", security(("bearer" = [])),
    responses((status = 200, body = Vec<ItemDto>), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/api/v1/items")]
pub async fn list_items(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Admin, Role::Hr])?;
    let items: Vec<ItemDto> = state
        .bank
        .items()
        .iter()
        .map(|item| ItemDto {
            id: item.id().0.clone(),
            dimension: item.dimension().as_str().to_owned(),
            reverse_keyed: item.meta().reverse_keyed,
            scale_min: item.meta().scale.min(),
            scale_max: item.meta().scale.max(),
            text_en: item.text(safepulse_domain::Locale::En).to_owned(),
            text_de: item.text(safepulse_domain::Locale::De).to_owned(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}
