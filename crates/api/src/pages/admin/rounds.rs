//! Rounds in the console: "open now" and "close now", each behind a confirmation
//! page that says what will happen (how many invitations go to which teams; that
//! closing freezes the results and destroys the round's keys), and the rounds of
//! a survey with, for an open round, only the participation figures reports may
//! already show (stored rounded by the scheduler, [`participation::of_rounds`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use safepulse_domain::{RoundId, SurveyId};
use safepulse_rounds::rounds::audience_now;
use safepulse_store::StoreError;
use safepulse_store::entities::round::RoundStatus;
use safepulse_store::entities::{round, round_node};
use safepulse_store::participation;
use safepulse_store::surveys::{self as stored_surveys, SurveyWithTeams};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    Admin, AdminForm, AdminNotice, Problems, api_error_page, done, html_response, notice,
    server_error,
};
use crate::error::ApiError;
use crate::pages::language::Text;
use crate::pages::session::Session;
use crate::routes::surveys::{close_now, open_now, round_error};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/open_round.html")]
struct OpenConfirmation<'a> {
    t: Text,
    session: &'a Session,
    survey: SurveyWithTeams,
    teams: Vec<(String, u32)>,
    total: u32,
    problems: Problems,
}

async fn render_open(
    state: &AppState,
    session: &Session,
    id: SurveyId,
    status: StatusCode,
    problems: Problems,
) -> HttpResponse {
    let survey = match stored_surveys::get_survey(state.store.connection(), id).await {
        Ok(survey) => survey,
        Err(StoreError::NotFound) => {
            return notice(StatusCode::NOT_FOUND, AdminNotice::NotFound, Some(session));
        }
        Err(error) => return server_error(&error, Some(session)),
    };
    let teams = match audience_now(&state.store, id).await {
        Ok(teams) => teams,
        Err(error) => return api_error_page(round_error(error), session),
    };
    let total = teams.iter().map(|(_, count)| count).sum();
    html_response(
        status,
        OpenConfirmation {
            session,
            t: session.text(),
            survey,
            teams,
            total,
            problems,
        }
        .render(),
    )
}

/// `GET /admin/surveys/{id}/open`: how many invitations go out, to which teams.
pub async fn open_confirmation(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    render_open(
        &state,
        &admin.session,
        *id,
        StatusCode::OK,
        Problems::default(),
    )
    .await
}

/// `POST /admin/surveys/{id}/open`: [`open_now`], as `POST /api/v1/surveys/{id}/rounds`.
pub async fn open_round(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    match open_now(&state, &form.session.caller.subject, *id).await {
        Ok(round) => done(&format!("/admin/rounds/{}", round.id)),
        Err(error @ ApiError::Conflict { .. }) => {
            let problems = Problems::from_api(&error).unwrap_or_default();
            render_open(&state, &form.session, *id, StatusCode::CONFLICT, problems).await
        }
        Err(error) => api_error_page(error, &form.session),
    }
}

/// A node's participation as reports show it while the round is open.
struct NodeParticipation {
    name: String,
    invited: i32,
    /// Rounded down to a multiple of k and kept below invited − k.
    answered_rounded_down: i32,
}

#[derive(Template)]
#[template(path = "admin/round.html")]
struct RoundPage<'a> {
    t: Text,
    session: &'a Session,
    round: round::Model,
    survey_name: String,
    /// The round's teams with how many people each invited, by name.
    teams: Vec<(String, i32)>,
    participation: Vec<NodeParticipation>,
    problems: Problems,
}

async fn render_round(
    state: &AppState,
    session: &Session,
    id: RoundId,
    status: StatusCode,
    problems: Problems,
) -> HttpResponse {
    let db = state.store.connection();
    let loaded = async {
        let round = stored_surveys::get_round(db, id).await?;
        let survey = stored_surveys::get_survey(db, round.survey_id).await?;
        let nodes = round_node::Entity::find()
            .filter(round_node::Column::RoundId.eq(id))
            .all(db)
            .await?;
        let figures = participation::of_rounds(db, &[id]).await?;
        Ok::<_, StoreError>((round, survey, nodes, figures))
    }
    .await;
    let (round, survey, nodes, figures) = match loaded {
        Ok(loaded) => loaded,
        Err(StoreError::NotFound) => {
            return notice(StatusCode::NOT_FOUND, AdminNotice::NotFound, Some(session));
        }
        Err(error) => return server_error(&error, Some(session)),
    };
    let mut teams: Vec<(String, i32)> = nodes
        .iter()
        .filter(|node| node.kind == "team")
        .map(|node| (node.name.clone(), node.invited))
        .collect();
    teams.sort();
    // Only what the reports may show of an open round: the stored, rounded figures.
    let participation = if round.status == RoundStatus::Open {
        let mut shown: Vec<NodeParticipation> = figures
            .iter()
            .filter_map(|figure| {
                let node = nodes.iter().find(|node| node.node_id == figure.node_id)?;
                Some(NodeParticipation {
                    name: node.name.clone(),
                    invited: node.invited,
                    answered_rounded_down: figure.respondents,
                })
            })
            .collect();
        shown.sort_by(|a, b| a.name.cmp(&b.name));
        shown
    } else {
        Vec::new()
    };
    html_response(
        status,
        RoundPage {
            session,
            t: session.text(),
            round,
            survey_name: survey.survey.name,
            teams,
            participation,
            problems,
        }
        .render(),
    )
}

/// `GET /admin/rounds/{id}`: the round, and "close now" for an open one.
pub async fn round_page(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<RoundId>,
) -> HttpResponse {
    render_round(
        &state,
        &admin.session,
        *id,
        StatusCode::OK,
        Problems::default(),
    )
    .await
}

/// `POST /admin/rounds/{id}/close`: [`close_now`], as `POST /api/v1/rounds/{id}/close`.
/// The round page itself is the confirmation: it says what closing does and to
/// how many people in which teams, and that their managers get the digest.
pub async fn close_round(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<RoundId>,
) -> HttpResponse {
    match close_now(&state, &form.session.caller.subject, *id).await {
        Ok(round) => done(&format!("/admin/rounds/{}", round.id)),
        Err(error @ ApiError::Conflict { .. }) => {
            let problems = Problems::from_api(&error).unwrap_or_default();
            render_round(&state, &form.session, *id, StatusCode::CONFLICT, problems).await
        }
        Err(error) => api_error_page(error, &form.session),
    }
}
