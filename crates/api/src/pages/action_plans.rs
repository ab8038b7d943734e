//! Action plans on the dashboard (issue 13, point 4): on a team page, the team's
//! leaders commit to an action on a dimension after a pulse closes (what, by
//! when), change it and mark it done; HR reads every team's plan on
//! `/dashboard/commitments`, with CSV and XLSX downloads.
//!
//! No second implementation: who may write or read a plan is
//! [`commitments::caller_leads`], [`commitments::reads_team_plan`] and
//! [`commitments::reads_everything`], the form fields go through the API's own
//! [`commitments::parse_new`] and [`commitments::parse_change`], and the rows are
//! written by the store functions behind `POST /api/v1/teams/{id}/commitments` and
//! `PATCH /api/v1/commitments/{id}` (audited there). Forms are checked like every
//! signed-in form ([`session::signed_in_form`]: same origin, the session's CSRF
//! field). A refused form shows the team page again with each problem named.

use safepulse_store::entities::round::RoundStatus;
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, NaiveDate};
use safepulse_domain::{CommitmentId, Dimension, Locale, NodeId, RoundId, TeamId};
use safepulse_mailer::calendar_date;
use safepulse_mailer::messages::dimension_label;
use safepulse_store::audit;
use safepulse_store::commitments as stored;
use safepulse_store::entities::action_commitment;

use super::dashboard;
use super::language::Text;
use super::session::{self, Notice, Session, html_response, notice_page, server_error};
use crate::access::Reader;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError};
use crate::routes::commitments::{
    self, CommitmentPatch, MAX_ACTION_CHARS, MAX_DAYS_AHEAD, commitments_by_team,
};
use crate::routes::reports::LabelZones;
use crate::spreadsheet::{Cell, ExportFormat, Table};
use crate::state::AppState;

/// How far ahead the form suggests a due date: about two pulses.
const SUGGESTED_DAYS_AHEAD: i64 = 28;

/// What a refused form sent, shown again with its problems.
#[derive(Debug, Default)]
pub struct Attempt {
    /// The commitment being changed; `None` for a new one.
    pub editing: Option<CommitmentId>,
    pub dimension: String,
    pub action: String,
    pub due_on: String,
    pub errors: Vec<FieldError>,
}

/// The action plan part of a team page.
#[derive(Debug)]
pub struct PlanSection {
    pub team_id: TeamId,
    /// A leader of the team: the forms are shown.
    pub writable: bool,
    pub csrf: String,
    pub commitments: Vec<CommitmentLine>,
    /// The pulse a new commitment answers (the team's latest closed one).
    pub round: Option<(RoundId, String)>,
    /// How many more commitments that pulse takes.
    pub remaining: usize,
    pub dimensions: Vec<(&'static str, &'static str)>,
    /// The new commitment's fields (a refused form's, or suggestions).
    pub new: FormValues,
    /// Problems of the refused form, for the error summary.
    pub errors: Vec<FieldError>,
    pub today: String,
    pub latest_due: String,
    pub max_chars: usize,
}

#[derive(Debug)]
pub struct FormValues {
    pub dimension: String,
    pub action: String,
    pub due_on: String,
}

#[derive(Debug)]
pub struct CommitmentLine {
    pub id: CommitmentId,
    pub dimension: String,
    pub dimension_label: &'static str,
    pub action: String,
    pub done: bool,
    /// "open", "done", "overdue".
    pub status: &'static str,
    pub due: String,
    pub round: String,
    /// The edit form's fields (a refused edit's, else the stored ones).
    pub form: FormValues,
    /// A refused edit of this commitment: its form is shown open.
    pub editing: bool,
}

/// The plan of `team_id` when `caller` may read it (its leaders and hr), oldest
/// first; `None` for everybody else.
pub async fn readable_plan(
    state: &AppState,
    caller: &Caller,
    team_id: TeamId,
) -> Result<Option<Vec<action_commitment::Model>>, ApiError> {
    let db = state.store.connection();
    if !commitments::reads_team_plan(db, caller, team_id).await? {
        return Ok(None);
    }
    Ok(Some(stored::of_team(db, team_id).await?))
}

/// The selectable dimensions: every dimension but the recommendation question.
fn plan_dimensions(locale: Locale) -> Vec<(&'static str, &'static str)> {
    Dimension::ALL
        .into_iter()
        .filter(|dimension| *dimension != Dimension::Recommendation)
        .map(|dimension| (dimension.as_str(), dimension_label(dimension, locale)))
        .collect()
}

fn label_of(dimension: &str, locale: Locale) -> &'static str {
    Dimension::parse(dimension).map_or("", |dimension| dimension_label(dimension, locale))
}

/// The plan section of a team page: the commitments, and for a leader the forms.
pub async fn plan_section(
    state: &AppState,
    session: &Session,
    team_id: TeamId,
    rows: &[action_commitment::Model],
    zones: &LabelZones,
    suggested: Option<&'static str>,
    attempt: Option<Attempt>,
) -> Result<PlanSection, ApiError> {
    let db = state.store.connection();
    let locale = session.locale;
    let writable = commitments::caller_leads(db, &session.caller, team_id).await?;
    let today = state.clock.now().date_naive();
    let labels: HashMap<RoundId, String> = stored::rounds_of(db, rows)
        .await?
        .into_iter()
        .map(|round| {
            (
                round.id,
                zones.label_in(round.opened_at, Some(team_id), locale),
            )
        })
        .collect();
    let round = if writable {
        stored::latest_closed_round_of_team(db, team_id)
            .await?
            .map(|round| {
                (
                    round.id,
                    zones.label_in(round.opened_at, Some(team_id), locale),
                )
            })
    } else {
        None
    };
    let taken = round.as_ref().map_or(0, |(round_id, _)| {
        rows.iter().filter(|row| row.round_id == *round_id).count()
    });
    let attempt = attempt.unwrap_or_default();
    let commitments = commitment_lines(rows, &attempt, &labels, locale, today);
    let new = if attempt.editing.is_none() && !attempt.errors.is_empty() {
        FormValues {
            dimension: attempt.dimension,
            action: attempt.action,
            due_on: attempt.due_on,
        }
    } else {
        FormValues {
            dimension: suggested.unwrap_or_default().to_owned(),
            action: String::new(),
            due_on: (today + Duration::days(SUGGESTED_DAYS_AHEAD)).to_string(),
        }
    };
    Ok(PlanSection {
        team_id,
        writable,
        csrf: session.csrf.clone(),
        commitments,
        remaining: stored::MAX_PER_TEAM_AND_ROUND.saturating_sub(taken),
        round,
        dimensions: plan_dimensions(locale),
        new,
        errors: attempt.errors,
        today: today.to_string(),
        latest_due: (today + Duration::days(MAX_DAYS_AHEAD)).to_string(),
        max_chars: MAX_ACTION_CHARS,
    })
}

/// The team's commitments, each with its edit form (refilled with what was refused
/// when its edit was).
fn commitment_lines(
    rows: &[action_commitment::Model],
    attempt: &Attempt,
    labels: &HashMap<RoundId, String>,
    locale: Locale,
    today: NaiveDate,
) -> Vec<CommitmentLine> {
    rows.iter()
        .map(|row| {
            let refused_edit = attempt.editing == Some(row.id);
            CommitmentLine {
                id: row.id,
                dimension: row.dimension.clone(),
                dimension_label: label_of(&row.dimension, locale),
                action: row.action.clone(),
                done: row.done_at.is_some(),
                status: status_of(row.done_at.is_some(), row.due_on, today),
                due: calendar_date(row.due_on, locale),
                round: labels.get(&row.round_id).cloned().unwrap_or_default(),
                editing: refused_edit,
                form: if refused_edit {
                    FormValues {
                        dimension: attempt.dimension.clone(),
                        action: attempt.action.clone(),
                        due_on: attempt.due_on.clone(),
                    }
                } else {
                    FormValues {
                        dimension: row.dimension.clone(),
                        action: row.action.clone(),
                        due_on: row.due_on.to_string(),
                    }
                },
            }
        })
        .collect()
}

/// The problems of a refused form: field errors, or the API's words for a conflict
/// (put in the reader's language by [`refused_page`]).
fn refusal(error: ApiError) -> Result<Vec<FieldError>, ApiError> {
    match error {
        ApiError::Validation(errors) => Ok(errors),
        ApiError::Conflict { detail, .. } => Ok(vec![FieldError::new("plan", detail)]),
        other => Err(other),
    }
}

/// "the team already has …" as a sentence: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

fn form_text(fields: &[(String, String)], name: &str) -> String {
    session::field(fields, name).unwrap_or_default().to_owned()
}

/// The team page again with a refused form's problems, or the page for a failure.
async fn refused_page(
    state: &AppState,
    session: &Session,
    team_id: TeamId,
    mut attempt: Attempt,
    status: StatusCode,
) -> HttpResponse {
    let t = session.text();
    for error in &mut attempt.errors {
        error.message = t.problem(&error.message);
        // A refusal of the whole plan stands alone on the page: a sentence.
        if error.field == "plan" {
            error.message = sentence(&error.message);
        }
    }
    match Reader::resolve(&session.caller, state.store.connection()).await {
        Ok(reader) => {
            dashboard::render_team_page(
                state,
                session,
                &reader,
                NodeId::of_team(team_id),
                Some(attempt),
                status,
            )
            .await
        }
        Err(error) => server_error(&error, Some(session)),
    }
}

fn failure(error: &ApiError, session: &Session) -> HttpResponse {
    match error {
        ApiError::Forbidden => notice_page(StatusCode::FORBIDDEN, Notice::Forbidden, Some(session)),
        ApiError::NotFound => notice_page(StatusCode::NOT_FOUND, Notice::NotFound, Some(session)),
        other => server_error(other, Some(session)),
    }
}

/// A leader's form post: the signed-in form and the id in its path, or the response
/// that replaces the page (cross-site, no session, an id that is none).
async fn form_with_id<Id: std::str::FromStr>(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    id: &str,
) -> Result<(Session, Vec<(String, String)>, Id), HttpResponse> {
    let (session, fields) = session::signed_in_form(request, payload, state).await?;
    match id.parse::<Id>() {
        Ok(id) => Ok((session, fields, id)),
        Err(_) => Err(failure(&ApiError::NotFound, &session)),
    }
}

/// Refuses unless the session's person leads `team_id` now (the API's rule).
async fn ensure_leads(
    state: &AppState,
    session: &Session,
    team_id: TeamId,
) -> Result<(), HttpResponse> {
    match commitments::caller_leads(state.store.connection(), &session.caller, team_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(failure(&ApiError::Forbidden, session)),
        Err(error) => Err(failure(&error, session)),
    }
}

fn back_to_plan(team_id: TeamId) -> HttpResponse {
    session::see_other(&format!("/dashboard/teams/{team_id}#action-plan"))
}

/// `POST /dashboard/teams/{id}/commitments`: a leader commits to an action.
pub async fn create(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let (session, fields, team_id) =
        match form_with_id::<TeamId>(&request, payload, &state, &id).await {
            Ok(form) => form,
            Err(response) => return response,
        };
    if let Err(response) = ensure_leads(&state, &session, team_id).await {
        return response;
    }
    let mut attempt = Attempt {
        editing: None,
        dimension: form_text(&fields, "dimension"),
        action: form_text(&fields, "action"),
        due_on: form_text(&fields, "due_on"),
        errors: Vec::new(),
    };
    let now = state.clock.now();
    let round_id = session::field(&fields, "round_id").and_then(|raw| raw.parse::<RoundId>().ok());
    let parsed = commitments::parse_new(
        &attempt.dimension,
        &attempt.action,
        &attempt.due_on,
        now.date_naive(),
    );
    let outcome = match (round_id, parsed) {
        (Some(round_id), Ok(fields)) => stored::create(
            &state.store,
            &session.caller.subject,
            team_id,
            round_id,
            fields,
            now,
        )
        .await
        .map(|_| ())
        .map_err(commitments::creation_error),
        (None, _) => Err(ApiError::validation("plan", "no closed pulse to plan for")),
        (_, Err(errors)) => Err(ApiError::Validation(errors)),
    };
    match outcome {
        Ok(()) => back_to_plan(team_id),
        Err(error) => match refusal(error) {
            Ok(errors) => {
                let status = if errors.iter().any(|error| error.field == "plan") {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                attempt.errors = errors;
                refused_page(&state, &session, team_id, attempt, status).await
            }
            Err(error) => failure(&error, &session),
        },
    }
}

/// `POST /dashboard/commitments/{id}`: a leader marks a commitment done, opens it
/// again or changes it (the fields the form sends; absent ones stay).
pub async fn update(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let (session, fields, id) =
        match form_with_id::<CommitmentId>(&request, payload, &state, &id).await {
            Ok(form) => form,
            Err(response) => return response,
        };
    let current = match stored::get(state.store.connection(), id).await {
        Ok(current) => current,
        Err(error) => return failure(&error.into(), &session),
    };
    if let Err(response) = ensure_leads(&state, &session, current.team_id).await {
        return response;
    }
    let done = match session::field(&fields, "done") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return notice_page(StatusCode::BAD_REQUEST, Notice::Unreadable, Some(&session));
        }
    };
    let patch = CommitmentPatch {
        dimension: session::field(&fields, "dimension").map(str::to_owned),
        action: session::field(&fields, "action").map(str::to_owned),
        due_on: session::field(&fields, "due_on").map(str::to_owned),
        done,
    };
    let now = state.clock.now();
    let change = match commitments::parse_change(&current, &patch, now.date_naive()) {
        Ok(change) => change,
        Err(errors) => {
            let attempt = Attempt {
                editing: Some(id),
                dimension: patch.dimension.unwrap_or(current.dimension),
                action: patch.action.unwrap_or(current.action),
                due_on: patch.due_on.unwrap_or_else(|| current.due_on.to_string()),
                errors,
            };
            return refused_page(
                &state,
                &session,
                current.team_id,
                attempt,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match stored::update(&state.store, &session.caller.subject, id, change, now).await {
        Ok(updated) => back_to_plan(updated.team_id),
        Err(error) => failure(&error.into(), &session),
    }
}

// ---------------------------------------------------------------------------------
// HR: every team's plan

#[derive(Debug)]
struct PlanRow {
    team_id: TeamId,
    team_name: String,
    dimension: &'static str,
    action: String,
    status: &'static str,
    due: String,
    round: String,
}

#[derive(Debug)]
struct TeamCount {
    team_id: TeamId,
    team_name: String,
    /// "Trust: 1 open, 1 done; Clarity: 1 open".
    counts: String,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/commitments.html")]
struct PlansPage<'a> {
    t: Text,
    session: Option<&'a Session>,
    teams: Vec<TeamCount>,
    rows: Vec<PlanRow>,
    /// The latest closed round, for its heatmap and downloads.
    latest_round: Option<(RoundId, String)>,
}

/// Every commitment as HR reads it, with the label of the pulse it answers.
struct PlanListing {
    teams: Vec<commitments::TeamCommitments>,
    round_labels: HashMap<RoundId, String>,
}

/// The session's reader when it reads every team's plan (the API's rule); the
/// response replacing the page otherwise.
async fn hr_session(request: &HttpRequest, state: &AppState) -> Result<Session, HttpResponse> {
    let session = match Session::of(request, state).await {
        Ok(Some(session)) => session,
        Ok(None) => return Err(session::redirect_to_sign_in()),
        Err(error) => return Err(server_error(&error, None)),
    };
    match commitments::reads_everything(&session.caller, state.store.connection()).await {
        Ok(true) => Ok(session),
        Ok(false) => Err(notice_page(
            StatusCode::FORBIDDEN,
            Notice::Forbidden,
            Some(&session),
        )),
        Err(error) => Err(server_error(&error, Some(&session))),
    }
}

/// Round labels in `locale`: the reader's language on the page, English in downloads.
async fn listing(
    state: &AppState,
    session: &Session,
    via: &str,
    locale: Locale,
) -> Result<PlanListing, ApiError> {
    let teams = commitments_by_team(state).await?;
    let db = state.store.connection();
    let rows: Vec<action_commitment::Model> = stored::all(db).await?;
    let zones = LabelZones::load(state).await?;
    let team_of_round: HashMap<RoundId, TeamId> =
        rows.iter().map(|row| (row.round_id, row.team_id)).collect();
    let round_labels = stored::rounds_of(db, &rows)
        .await?
        .into_iter()
        .map(|round| {
            let team = team_of_round.get(&round.id).copied();
            (round.id, zones.label_in(round.opened_at, team, locale))
        })
        .collect();
    audit::record_committed(
        &state.store,
        state.clock.now(),
        audit::AuditEvent {
            actor: &session.caller.subject,
            action: "commitments.viewed",
            team_id: None,
            target: None,
            details: serde_json::json!({ "teams": teams.len(), "via": via }),
        },
    )
    .await?;
    Ok(PlanListing {
        teams,
        round_labels,
    })
}

/// "done", "overdue" (open past its date) or "open".
fn status_of(done: bool, due_on: NaiveDate, today: NaiveDate) -> &'static str {
    match (done, due_on < today) {
        (true, _) => "done",
        (false, true) => "overdue",
        (false, false) => "open",
    }
}

/// `GET /dashboard/commitments`: every team's commitments, for HR.
pub async fn hr_page(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let session = match hr_session(&request, &state).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let PlanListing {
        teams,
        round_labels,
    } = match listing(&state, &session, "dashboard", session.locale).await {
        Ok(listing) => listing,
        Err(error) => return server_error(&error, Some(&session)),
    };
    let t = session.text();
    let latest_round = match latest_closed_round(&state, session.locale).await {
        Ok(round) => round,
        Err(error) => return server_error(&error, Some(&session)),
    };
    let today = state.clock.now().date_naive();
    let counts = teams
        .iter()
        .map(|team| TeamCount {
            team_id: team.team_id,
            team_name: team.team_name.clone(),
            counts: team
                .counts
                .iter()
                .map(|count| {
                    let mut parts = Vec::new();
                    if count.open > 0 {
                        parts.push(t.tr1("{} open", count.open));
                    }
                    if count.done > 0 {
                        parts.push(t.tr1("{} done", count.done));
                    }
                    format!(
                        "{}: {}",
                        label_of(&count.dimension, session.locale),
                        parts.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect();
    let rows = teams
        .iter()
        .flat_map(|team| {
            team.commitments.iter().map(|commitment| PlanRow {
                team_id: team.team_id,
                team_name: team.team_name.clone(),
                dimension: label_of(&commitment.dimension, session.locale),
                action: commitment.action.clone(),
                status: status_of(commitment.done, commitment.due_on, today),
                due: calendar_date(commitment.due_on, session.locale),
                round: round_labels
                    .get(&commitment.round_id)
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect();
    html_response(
        StatusCode::OK,
        PlansPage {
            t,
            session: Some(&session),
            teams: counts,
            rows,
            latest_round,
        }
        .render(),
    )
}

async fn latest_closed_round(
    state: &AppState,
    locale: Locale,
) -> Result<Option<(RoundId, String)>, ApiError> {
    use safepulse_store::entities::round;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let latest = round::Entity::find()
        .filter(round::Column::Status.eq(RoundStatus::Closed))
        .order_by_desc(round::Column::ClosedAt)
        .one(state.store.connection())
        .await
        .map_err(safepulse_store::StoreError::from)?;
    let zones = LabelZones::load(state).await?;
    Ok(latest.map(|round| (round.id, zones.label_in(round.opened_at, None, locale))))
}

/// `GET /dashboard/commitments.csv` and `.xlsx`: the same commitments as a table.
pub async fn hr_download(
    request: HttpRequest,
    state: web::Data<AppState>,
    format: ExportFormat,
) -> HttpResponse {
    let session = match hr_session(&request, &state).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let via = match format {
        ExportFormat::Csv => "dashboard csv",
        ExportFormat::Xlsx => "dashboard xlsx",
        ExportFormat::Json => "dashboard",
    };
    let PlanListing {
        teams,
        round_labels,
    } = match listing(&state, &session, via, Locale::En).await {
        Ok(listing) => listing,
        Err(error) => return server_error(&error, Some(&session)),
    };
    let today = state.clock.now().date_naive();
    let table = Table {
        sheet_name: "Action plans",
        header: [
            "team_id",
            "team_name",
            "dimension",
            "action",
            "status",
            "due_on",
            "round_id",
            "round_label",
            "created_at",
            "done_at",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: teams
            .iter()
            .flat_map(|team| {
                let round_labels = &round_labels;
                team.commitments.iter().map(move |commitment| {
                    vec![
                        Cell::text(team.team_id.to_string()),
                        Cell::text(team.team_name.clone()),
                        Cell::text(commitment.dimension.clone()),
                        Cell::text(commitment.action.clone()),
                        Cell::text(status_of(commitment.done, commitment.due_on, today)),
                        Cell::text(commitment.due_on.to_string()),
                        Cell::text(commitment.round_id.to_string()),
                        Cell::text(
                            round_labels
                                .get(&commitment.round_id)
                                .cloned()
                                .unwrap_or_default(),
                        ),
                        Cell::text(commitment.created_at.to_rfc3339()),
                        commitment
                            .done_at
                            .map_or(Cell::Empty, |at| Cell::text(at.to_rfc3339())),
                    ]
                })
            })
            .collect(),
    };
    match table.download(format, "action-plans") {
        Ok(response) => response,
        Err(error) => server_error(&error, Some(&session)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_reads_as_a_sentence() {
        assert_eq!(
            sentence("the team already has three commitments for this round; edit one instead"),
            "The team already has three commitments for this round; edit one instead."
        );
        assert_eq!(
            status_of(
                false,
                NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
            ),
            "overdue"
        );
    }

    #[test]
    fn the_form_offers_every_dimension_but_the_recommendation() {
        let dimensions = plan_dimensions(Locale::En);
        assert_eq!(dimensions.len(), Dimension::ALL.len() - 1);
        assert!(
            dimensions
                .iter()
                .all(|(value, _)| *value != "recommendation")
        );
    }
}
