//! What respondents of a survey will see, before anything is sent: the answer page
//! and the invitation email in each language, rendered from the real templates
//! with the survey's next round (its items, its first team, its thresholds), and
//! "send a test email to me". Nothing here creates a round, an invitation or a
//! token.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use safepulse_domain::{Email, ItemId, Locale, RoundId, SurveyId, TimeZone};
use safepulse_mailer::messages::{InvitationEmail, RenderedEmail, SecretLink};
use safepulse_mailer::test_send::{self, TestInvitationPayload};
use safepulse_rounds::items_for_round;
use safepulse_rounds::survey::SurveyPlan;
use safepulse_store::StoreError;
use safepulse_store::answers::AnswerPageRound;
use safepulse_store::entities::person;
use safepulse_store::org;
use safepulse_store::surveys::{self as stored_surveys, SurveyWithTeams};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::{Admin, AdminForm, AdminNotice, html_response, notice, server_error};
use crate::pages::answer;
use crate::pages::language::Text;
use crate::pages::session::Session;
use crate::state::AppState;

/// The next round of a survey as its first team would get it.
struct Sample {
    survey: SurveyWithTeams,
    team_name: String,
    invited: u32,
    item_ids: Vec<ItemId>,
    closes_at: DateTime<Utc>,
    time_zone: TimeZone,
}

async fn sample(state: &AppState, id: SurveyId) -> Result<Sample, PreviewError> {
    let db = state.store.connection();
    let survey = stored_surveys::get_survey(db, id).await?;
    let plan = SurveyPlan::from_stored(&survey.survey.settings, &state.bank)
        .map_err(|error| PreviewError::Settings(error.to_string()))?;
    let next_index = stored_surveys::rounds_of(db, id).await?.len() as u32;
    let item_ids = items_for_round(&state.bank, &plan.questions, next_index);
    let team_id = *survey.team_ids.first().ok_or(StoreError::NotFound)?;
    let team = org::get_team(db, team_id).await?;
    let invited = person::Entity::find()
        .filter(person::Column::TeamId.eq(team_id))
        .filter(person::Column::Active.eq(true))
        .count(db)
        .await
        .map_err(StoreError::from)? as u32;
    let time_zone = TimeZone::parse(&team.time_zone).unwrap_or_default();
    Ok(Sample {
        survey,
        team_name: team.name,
        invited,
        item_ids,
        closes_at: state.clock.now() + plan.window,
        time_zone,
    })
}

#[derive(Debug)]
enum PreviewError {
    Store(StoreError),
    Settings(String),
}

impl From<StoreError> for PreviewError {
    fn from(error: StoreError) -> Self {
        PreviewError::Store(error)
    }
}

fn preview_error(error: PreviewError, session: &Session) -> HttpResponse {
    match error {
        PreviewError::Store(StoreError::NotFound) => {
            notice(StatusCode::NOT_FOUND, AdminNotice::NotFound, Some(session))
        }
        PreviewError::Store(error) => {
            server_error(&format!("{:#}", anyhow::Error::new(error)), Some(session))
        }
        PreviewError::Settings(error) => server_error(&error, Some(session)),
    }
}

impl Sample {
    fn answer_round(&self) -> AnswerPageRound {
        let survey = &self.survey.survey;
        AnswerPageRound {
            round_id: RoundId(Uuid::nil()),
            survey_name: survey.name.clone(),
            k: survey.k as u32,
            k_detail: survey.k_detail as u32,
            restricted_release: survey.restricted_release.clone(),
            closes_at: self.closes_at,
            node_name: self.team_name.clone(),
            node_kind: "team".into(),
            node_invited: self.invited,
            item_ids: self.item_ids.clone(),
        }
    }

    fn invitation(&self, link: SecretLink) -> InvitationEmail {
        InvitationEmail {
            survey_name: self.survey.survey.name.clone(),
            team_name: self.team_name.clone(),
            answer_link: link,
            question_count: self.item_ids.len(),
            min_group_size: self.survey.survey.k as u32,
            closes_at: self.closes_at,
            // The preview shows what a team member reads.
            led_teams: Vec::new(),
        }
    }
}

fn preview_link(state: &AppState, id: SurveyId, locale: Locale) -> String {
    format!(
        "{}/admin/surveys/{id}/preview/answer/{}",
        state.config.public_url_trimmed(),
        locale.as_str()
    )
}

struct EmailPreview {
    locale: &'static str,
    language: &'static str,
    email: RenderedEmail,
}

#[derive(Template)]
#[template(path = "admin/preview.html")]
struct PreviewPage<'a> {
    t: Text,
    session: &'a Session,
    survey: SurveyWithTeams,
    team_name: String,
    question_count: usize,
    emails: Vec<EmailPreview>,
    sent_to: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    sent: Option<String>,
}

/// `GET /admin/surveys/{id}/preview`: both languages, and the test send.
pub async fn preview_page(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
    query: web::Query<PreviewQuery>,
) -> HttpResponse {
    let sample = match sample(&state, *id).await {
        Ok(sample) => sample,
        Err(error) => return preview_error(error, &admin.session),
    };
    let mut emails = Vec::new();
    for (locale, language) in [(Locale::En, "English"), (Locale::De, "Deutsch")] {
        let link = match SecretLink::new(preview_link(&state, *id, locale)) {
            Ok(link) => link,
            Err(error) => return server_error(&error, Some(&admin.session)),
        };
        match sample
            .invitation(link)
            .render(locale, sample.time_zone, false)
        {
            Ok(email) => emails.push(EmailPreview {
                locale: locale.as_str(),
                language,
                email,
            }),
            Err(error) => return server_error(&error, Some(&admin.session)),
        }
    }
    html_response(
        StatusCode::OK,
        PreviewPage {
            session: &admin.session,
            t: admin.session.text(),
            team_name: sample.team_name.clone(),
            question_count: sample.item_ids.len(),
            survey: sample.survey,
            emails,
            sent_to: query
                .sent
                .is_some()
                .then(|| admin.session.caller.subject.clone()),
        }
        .render(),
    )
}

fn locale_of(raw: &str) -> Option<Locale> {
    match raw {
        "en" => Some(Locale::En),
        "de" => Some(Locale::De),
        _ => None,
    }
}

/// `GET /admin/surveys/{id}/preview/answer/{locale}`: the answer page itself, with
/// the answer page's own templates, style and headers.
pub async fn answer_preview(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<(SurveyId, String)>,
) -> HttpResponse {
    let (id, locale) = path.into_inner();
    let Some(locale) = locale_of(&locale) else {
        return notice(
            StatusCode::NOT_FOUND,
            AdminNotice::NotFound,
            Some(&admin.session),
        );
    };
    match sample(&state, id).await {
        Ok(sample) => {
            answer::preview_page(&state, &sample.answer_round(), locale, sample.time_zone)
        }
        Err(error) => preview_error(error, &admin.session),
    }
}

/// `GET /admin/surveys/{id}/preview/email/{locale}`: the invitation's HTML part as
/// sent. Served on its own, under a policy that lets its inline styles apply and
/// nothing else load or run.
pub async fn email_preview(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<(SurveyId, String)>,
) -> HttpResponse {
    let (id, locale) = path.into_inner();
    let Some(locale) = locale_of(&locale) else {
        return notice(
            StatusCode::NOT_FOUND,
            AdminNotice::NotFound,
            Some(&admin.session),
        );
    };
    let sample = match sample(&state, id).await {
        Ok(sample) => sample,
        Err(error) => return preview_error(error, &admin.session),
    };
    let link = match SecretLink::new(preview_link(&state, id, locale)) {
        Ok(link) => link,
        Err(error) => return server_error(&error, Some(&admin.session)),
    };
    match sample
        .invitation(link)
        .render(locale, sample.time_zone, false)
    {
        Ok(email) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; \
                 base-uri 'none'; frame-ancestors 'none'",
            ))
            .insert_header(("X-Robots-Tag", "noindex, nofollow"))
            .body(email.html),
        Err(error) => server_error(&error, Some(&admin.session)),
    }
}

/// `POST /admin/surveys/{id}/test-email`: the invitation in the chosen language to
/// the signed-in administrator's own address, marked as a test (see
/// [`test_send`]).
pub async fn send_test_email(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    let locale = locale_of(form.text("locale")).unwrap_or(Locale::En);
    let Ok(recipient) = Email::parse(&form.session.caller.subject) else {
        return server_error(
            &"the session's subject is not an address",
            Some(&form.session),
        );
    };
    let sample = match sample(&state, *id).await {
        Ok(sample) => sample,
        Err(error) => return preview_error(error, &form.session),
    };
    let payload = TestInvitationPayload {
        survey_name: sample.survey.survey.name.clone(),
        team_name: sample.team_name.clone(),
        question_count: sample.item_ids.len(),
        min_group_size: sample.survey.survey.k as u32,
        closes_at: sample.closes_at,
        locale: locale.as_str().to_owned(),
        time_zone: sample.time_zone.name().to_owned(),
        preview_link: preview_link(&state, *id, locale),
    };
    let queued = async {
        let transaction = state.store.begin_write().await?;
        test_send::queue_test_invitation(
            &transaction,
            &recipient,
            &payload,
            state.clock.now(),
            &state.config.mail_host(),
        )
        .await?;
        transaction.commit().await?;
        Ok::<_, StoreError>(())
    }
    .await;
    match queued {
        Ok(()) => super::done(&format!("/admin/surveys/{}/preview?sent=1", *id)),
        Err(error) => server_error(&error, Some(&form.session)),
    }
}
