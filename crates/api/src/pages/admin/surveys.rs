//! The console's survey pages: the list, a new survey (always a draft), its
//! settings (the API's, with the privacy thresholds explained and their floors),
//! and start, pause, resume and archive. Every change goes through the function
//! behind its REST operation ([`surveys::create`], [`surveys::update`],
//! [`surveys::change_status`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use safepulse_anonymizer::{K_DETAIL_FLOOR, K_FLOOR};
use safepulse_domain::{Locale, SurveyId, TeamId};
use safepulse_rounds::survey::{Frequency, QuestionSettings, SurveySettings, WeekOfMonthSetting};
use safepulse_store::StoreError;
use safepulse_store::entities::round;
use safepulse_store::surveys::{self as stored_surveys, SurveyWithTeams};

use super::organisation::{TeamEntry, team_entries};
use super::{
    Admin, AdminForm, AdminNotice, Problems, api_error_page, done, html_response, notice,
    server_error,
};
use crate::error::{ApiError, FieldError};
use crate::pages::language::Text;
use crate::pages::session::Session;
use crate::routes::surveys::{
    self, CadenceDto, CreateSurvey, FrequencyDto, PrivacyDto, QuestionsDto, RemindersDto,
    RestrictedReleaseDto, StatusChange, UpdateSurvey, WeekOfMonthDto,
};
use crate::state::AppState;

/// What the survey form shows: the stored settings, or what was typed.
#[derive(Debug, Clone, Default)]
pub struct SurveyForm {
    pub name: String,
    pub team_ids: Vec<TeamId>,
    pub include_subteams: bool,
    /// `rotating` or `fixed`.
    pub questions: String,
    pub items_per_round: String,
    pub recommendation_every_rounds: String,
    pub fixed_items: Vec<String>,
    pub frequency: String,
    pub weeks: String,
    pub week_of_month: String,
    pub weekday: String,
    pub local_time: String,
    pub allow_weekends: bool,
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
    pub starts_on: String,
    pub window_hours: String,
    pub reminder_hours: String,
    pub non_responders_only: bool,
    pub k: String,
    pub k_detail: String,
    pub restricted_release: String,
}

impl SurveyForm {
    pub fn has_team(&self, id: &TeamId) -> bool {
        self.team_ids.contains(id)
    }

    pub fn is_weekday(&self, day: &str) -> bool {
        self.weekday == day
    }

    pub fn is_week_of_month(&self, week: &str) -> bool {
        self.week_of_month == week
    }

    pub fn has_item(&self, id: &str) -> bool {
        self.fixed_items.iter().any(|item| item == id)
    }

    fn from_settings(
        name: String,
        team_ids: Vec<TeamId>,
        include_subteams: bool,
        settings: &SurveySettings,
        (k, k_detail, restricted_release): (i32, i32, String),
    ) -> SurveyForm {
        let (questions, items_per_round, recommendation_every_rounds, fixed_items) =
            match &settings.questions {
                QuestionSettings::Rotating {
                    items_per_round,
                    recommendation_every_rounds,
                } => (
                    "rotating",
                    items_per_round.to_string(),
                    recommendation_every_rounds
                        .map(|every| every.to_string())
                        .unwrap_or_default(),
                    Vec::new(),
                ),
                QuestionSettings::Fixed { items } => {
                    ("fixed", "8".to_owned(), String::new(), items.clone())
                }
            };
        let cadence = &settings.cadence;
        SurveyForm {
            name,
            team_ids,
            include_subteams,
            questions: questions.to_owned(),
            items_per_round,
            recommendation_every_rounds,
            fixed_items,
            frequency: match cadence.frequency {
                Frequency::Weekly => "weekly",
                Frequency::EveryNWeeks => "every_n_weeks",
                Frequency::Monthly => "monthly",
            }
            .to_owned(),
            weeks: cadence
                .weeks
                .map(|weeks| weeks.to_string())
                .unwrap_or_default(),
            week_of_month: match cadence.week_of_month {
                Some(WeekOfMonthSetting::Second) => "second",
                Some(WeekOfMonthSetting::Third) => "third",
                Some(WeekOfMonthSetting::Fourth) => "fourth",
                Some(WeekOfMonthSetting::Last) => "last",
                Some(WeekOfMonthSetting::First) | None => "first",
            }
            .to_owned(),
            weekday: cadence.weekday.clone(),
            local_time: cadence.local_time.clone(),
            allow_weekends: cadence.allow_weekends,
            quiet_hours_start: cadence.quiet_hours_start.clone().unwrap_or_default(),
            quiet_hours_end: cadence.quiet_hours_end.clone().unwrap_or_default(),
            starts_on: settings.starts_on.to_string(),
            window_hours: settings.window_hours.to_string(),
            reminder_hours: settings
                .reminders
                .after_hours
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            non_responders_only: settings.reminders.non_responders_only,
            k: k.to_string(),
            k_detail: k_detail.to_string(),
            restricted_release,
        }
    }

    fn of_survey(stored: &SurveyWithTeams) -> Result<SurveyForm, ApiError> {
        let survey = &stored.survey;
        let settings: SurveySettings = serde_json::from_value(survey.settings.clone())
            .map_err(|error| ApiError::internal(anyhow::anyhow!("stored settings: {error}")))?;
        Ok(SurveyForm::from_settings(
            survey.name.clone(),
            stored.team_ids.clone(),
            survey.include_subteams,
            &settings,
            (survey.k, survey.k_detail, survey.restricted_release.clone()),
        ))
    }

    fn defaults(today: NaiveDate) -> SurveyForm {
        SurveyForm::from_settings(
            String::new(),
            Vec::new(),
            true,
            &SurveySettings::starting_on(today),
            (5, 10, "suppressed".to_owned()),
        )
    }

    fn typed(form: &AdminForm) -> SurveyForm {
        let ticked = |prefix: &str| -> Vec<String> {
            form.fields
                .iter()
                .filter(|(_, value)| value == "on")
                .filter_map(|(name, _)| name.strip_prefix(prefix).map(str::to_owned))
                .collect()
        };
        SurveyForm {
            name: form.text("name").to_owned(),
            team_ids: ticked("team_")
                .iter()
                .filter_map(|id| id.parse().ok())
                .collect(),
            include_subteams: form.text("include_subteams") == "on",
            questions: form.text("questions").to_owned(),
            items_per_round: form.text("items_per_round").to_owned(),
            recommendation_every_rounds: form.text("recommendation_every_rounds").to_owned(),
            fixed_items: ticked("item_"),
            frequency: form.text("frequency").to_owned(),
            weeks: form.text("weeks").to_owned(),
            week_of_month: form.text("week_of_month").to_owned(),
            weekday: form.text("weekday").to_owned(),
            local_time: form.text("local_time").to_owned(),
            allow_weekends: form.text("allow_weekends") == "on",
            quiet_hours_start: form.text("quiet_hours_start").to_owned(),
            quiet_hours_end: form.text("quiet_hours_end").to_owned(),
            starts_on: form.text("starts_on").to_owned(),
            window_hours: form.text("window_hours").to_owned(),
            reminder_hours: form.text("reminder_hours").to_owned(),
            non_responders_only: form.text("non_responders_only") == "on",
            k: form.text("k").to_owned(),
            k_detail: form.text("k_detail").to_owned(),
            restricted_release: form.text("restricted_release").to_owned(),
        }
    }

    /// The API's request fields, read from the form's text. A number that is not a
    /// number is a problem of this form; every rule about the values is the API's.
    fn request_fields(&self, problems: &mut Problems) -> Option<RequestFields> {
        let questions = self.parsed_questions(problems);
        let frequency = self.parsed_frequency(problems);
        let weeks: Option<Option<u8>> = if self.weeks.trim().is_empty() {
            Some(None)
        } else {
            number(&self.weeks, "weeks", problems).map(Some)
        };
        let starts_on = match NaiveDate::parse_from_str(self.starts_on.trim(), "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                problems
                    .errors
                    .push(FieldError::new("starts_on", "enter a date, YYYY-MM-DD"));
                None
            }
        };
        let window_hours = number(&self.window_hours, "window_hours", problems);
        let after_hours = self.reminder_hours(problems);
        let k = number(&self.k, "privacy", problems);
        let k_detail = number(&self.k_detail, "privacy", problems);
        let nonblank = |text: &str| Some(text.to_owned()).filter(|text| !text.is_empty());
        let (Some(questions), Some(frequency), Some(weeks), Some(starts_on), Some(window_hours)) =
            (questions, frequency, weeks, starts_on, window_hours)
        else {
            return None;
        };
        let (Some(k), Some(k_detail), true) = (k, k_detail, problems.is_empty()) else {
            return None;
        };
        Some(RequestFields {
            questions,
            cadence: CadenceDto {
                frequency,
                weeks,
                week_of_month: (self.frequency == "monthly").then_some(self.parsed_week_of_month()),
                weekday: self.weekday.clone(),
                local_time: self.local_time.clone(),
                allow_weekends: self.allow_weekends,
                quiet_hours_start: nonblank(&self.quiet_hours_start),
                quiet_hours_end: nonblank(&self.quiet_hours_end),
            },
            starts_on,
            window_hours,
            reminders: RemindersDto {
                after_hours,
                non_responders_only: self.non_responders_only,
            },
            privacy: PrivacyDto {
                k,
                k_detail,
                restricted_release: if self.restricted_release == "rounded" {
                    RestrictedReleaseDto::Rounded
                } else {
                    RestrictedReleaseDto::Suppressed
                },
            },
        })
    }

    /// Fixed items, or so many items a round with the recommendation every so often.
    fn parsed_questions(&self, problems: &mut Problems) -> Option<QuestionsDto> {
        let optional_number = |raw: &str, field: &str, problems: &mut Problems| {
            if raw.trim().is_empty() {
                Some(None)
            } else {
                number(raw, field, problems).map(Some)
            }
        };
        if self.questions == "fixed" {
            Some(QuestionsDto::Fixed {
                items: self.fixed_items.clone(),
            })
        } else {
            let per_round = number(&self.items_per_round, "items_per_round", problems);
            let every = optional_number(
                &self.recommendation_every_rounds,
                "recommendation_every_rounds",
                problems,
            );
            match (per_round, every) {
                (Some(items_per_round), Some(recommendation_every_rounds)) => {
                    Some(QuestionsDto::Rotating {
                        items_per_round,
                        recommendation_every_rounds,
                    })
                }
                _ => None,
            }
        }
    }

    fn parsed_frequency(&self, problems: &mut Problems) -> Option<FrequencyDto> {
        match self.frequency.as_str() {
            "weekly" => Some(FrequencyDto::Weekly),
            "every_n_weeks" => Some(FrequencyDto::EveryNWeeks),
            "monthly" => Some(FrequencyDto::Monthly),
            _ => {
                problems
                    .errors
                    .push(FieldError::new("frequency", "choose how often"));
                None
            }
        }
    }

    /// The reminders' hours after opening, "48, 72".
    fn reminder_hours(&self, problems: &mut Problems) -> Vec<u32> {
        let mut after_hours = Vec::new();
        for part in self
            .reminder_hours
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            match part.parse() {
                Ok(hours) => after_hours.push(hours),
                Err(_) => problems.errors.push(FieldError::new(
                    "reminders",
                    "list hours as whole numbers separated by commas, e.g. 48, 72",
                )),
            }
        }
        after_hours
    }

    fn parsed_week_of_month(&self) -> WeekOfMonthDto {
        match self.week_of_month.as_str() {
            "second" => WeekOfMonthDto::Second,
            "third" => WeekOfMonthDto::Third,
            "fourth" => WeekOfMonthDto::Fourth,
            "last" => WeekOfMonthDto::Last,
            _ => WeekOfMonthDto::First,
        }
    }
}

/// A whole number from a form field, or a problem of that field.
fn number<T: std::str::FromStr>(raw: &str, field: &str, problems: &mut Problems) -> Option<T> {
    raw.trim().parse().ok().or_else(|| {
        problems
            .errors
            .push(FieldError::new(field, "enter a whole number"));
        None
    })
}

struct RequestFields {
    questions: QuestionsDto,
    cadence: CadenceDto,
    starts_on: NaiveDate,
    window_hours: u32,
    reminders: RemindersDto,
    privacy: PrivacyDto,
}

/// An item of the bank, for the fixed-items choice.
#[derive(Debug)]
pub struct ItemChoice {
    pub id: String,
    pub dimension: String,
    pub text: String,
}

/// The item bank in the reader's language.
fn item_choices(state: &AppState, locale: Locale) -> Vec<ItemChoice> {
    state
        .bank
        .items()
        .iter()
        .map(|item| ItemChoice {
            id: item.id().0.clone(),
            dimension: safepulse_mailer::messages::dimension_label(item.dimension(), locale)
                .to_owned(),
            text: item.text(locale).to_owned(),
        })
        .collect()
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

#[derive(Debug)]
struct SurveyLine {
    id: SurveyId,
    name: String,
    status: String,
    teams: usize,
}

#[derive(Debug, Template)]
#[template(path = "admin/surveys.html")]
struct SurveysPage<'a> {
    t: Text,
    session: &'a Session,
    surveys: Vec<SurveyLine>,
}

/// `GET /admin/surveys`.
pub async fn surveys_page(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    let mut lines = Vec::new();
    let mut cursor = None;
    loop {
        let page = match stored_surveys::list_surveys(state.store.connection(), cursor, 200).await {
            Ok(page) => page,
            Err(error) => return server_error(&error, Some(&admin.session)),
        };
        lines.extend(page.items.into_iter().map(|stored| SurveyLine {
            id: stored.survey.id,
            name: stored.survey.name,
            status: stored.survey.status,
            teams: stored.team_ids.len(),
        }));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    html_response(
        StatusCode::OK,
        SurveysPage {
            session: &admin.session,
            t: admin.session.text(),
            surveys: lines,
        }
        .render(),
    )
}

#[derive(Debug, Template)]
#[template(path = "admin/survey_form.html")]
struct SurveyFormPage<'a> {
    t: Text,
    session: &'a Session,
    /// `None` for a new survey.
    survey: Option<SurveyWithTeams>,
    rounds: Vec<round::Model>,
    form: SurveyForm,
    teams: Vec<TeamEntry>,
    items: Vec<ItemChoice>,
    weekdays: [&'static str; 7],
    weeks_of_month: [&'static str; 5],
    k_floor: u32,
    k_detail_floor: u32,
    problems: Problems,
}

impl SurveyFormPage<'_> {
    fn status(&self) -> &str {
        self.survey
            .as_ref()
            .map_or("draft", |stored| stored.survey.status.as_str())
    }

    fn action(&self) -> String {
        match &self.survey {
            Some(stored) => format!("/admin/surveys/{}", stored.survey.id),
            None => "/admin/surveys/new".to_owned(),
        }
    }
}

async fn render_form(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    survey: Option<SurveyWithTeams>,
    form: SurveyForm,
    problems: Problems,
) -> HttpResponse {
    let teams = match team_entries(state).await {
        Ok(teams) => teams,
        Err(error) => return server_error(&error, Some(session)),
    };
    let rounds = match &survey {
        Some(stored) => {
            match stored_surveys::rounds_of(state.store.connection(), stored.survey.id).await {
                Ok(rounds) => rounds,
                Err(error) => return server_error(&error, Some(session)),
            }
        }
        None => Vec::new(),
    };
    html_response(
        status,
        SurveyFormPage {
            session,
            t: session.text(),
            survey,
            rounds,
            form,
            teams,
            items: item_choices(state, session.locale),
            weekdays: WEEKDAYS,
            weeks_of_month: ["first", "second", "third", "fourth", "last"],
            k_floor: K_FLOOR,
            k_detail_floor: K_DETAIL_FLOOR,
            problems,
        }
        .render(),
    )
}

/// `GET /admin/surveys/new`: the form with the API's defaults.
pub async fn new_survey_page(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    let form = SurveyForm::defaults(state.clock.now().date_naive());
    render_form(
        &state,
        &admin.session,
        StatusCode::OK,
        None,
        form,
        Problems::default(),
    )
    .await
}

/// `POST /admin/surveys/new`: [`surveys::create`] with `draft: true`, so nothing is
/// sent until an admin starts it.
pub async fn create_survey(form: AdminForm, state: web::Data<AppState>) -> HttpResponse {
    let typed = SurveyForm::typed(&form);
    let mut problems = Problems::default();
    let Some(fields) = typed.request_fields(&mut problems) else {
        return render_form(
            &state,
            &form.session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            typed,
            problems,
        )
        .await;
    };
    let body = CreateSurvey {
        name: typed.name.clone(),
        team_ids: typed.team_ids.clone(),
        include_subteams: Some(typed.include_subteams),
        questions: Some(fields.questions),
        cadence: Some(fields.cadence),
        starts_on: Some(fields.starts_on),
        window_hours: Some(fields.window_hours),
        reminders: Some(fields.reminders),
        privacy: Some(fields.privacy),
        draft: Some(true),
    };
    match surveys::create(&state, &form.session.caller.subject, body).await {
        Ok(created) => done(&format!("/admin/surveys/{}", created.survey.id)),
        Err(error) => match Problems::from_api(&error) {
            Some(problems) => {
                render_form(
                    &state,
                    &form.session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    typed,
                    problems,
                )
                .await
            }
            None => api_error_page(error, &form.session),
        },
    }
}

async fn load(state: &AppState, id: SurveyId) -> Result<SurveyWithTeams, StoreError> {
    stored_surveys::get_survey(state.store.connection(), id).await
}

/// `GET /admin/surveys/{id}`: settings, status buttons, rounds.
pub async fn survey_page(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    let stored = match load(&state, *id).await {
        Ok(stored) => stored,
        Err(StoreError::NotFound) => {
            return notice(
                StatusCode::NOT_FOUND,
                AdminNotice::NotFound,
                Some(&admin.session),
            );
        }
        Err(error) => return server_error(&error, Some(&admin.session)),
    };
    let form = match SurveyForm::of_survey(&stored) {
        Ok(form) => form,
        Err(error) => return server_error(&error, Some(&admin.session)),
    };
    render_form(
        &state,
        &admin.session,
        StatusCode::OK,
        Some(stored),
        form,
        Problems::default(),
    )
    .await
}

/// `POST /admin/surveys/{id}`: [`surveys::update`], as `PATCH /api/v1/surveys/{id}`.
pub async fn update_survey(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    let stored = match load(&state, *id).await {
        Ok(stored) => stored,
        Err(StoreError::NotFound) => {
            return notice(
                StatusCode::NOT_FOUND,
                AdminNotice::NotFound,
                Some(&form.session),
            );
        }
        Err(error) => return server_error(&error, Some(&form.session)),
    };
    let typed = SurveyForm::typed(&form);
    let mut problems = Problems::default();
    let Some(fields) = typed.request_fields(&mut problems) else {
        return render_form(
            &state,
            &form.session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(stored),
            typed,
            problems,
        )
        .await;
    };
    let body = UpdateSurvey {
        name: Some(typed.name.clone()),
        team_ids: Some(typed.team_ids.clone()),
        include_subteams: Some(typed.include_subteams),
        questions: Some(fields.questions),
        cadence: Some(fields.cadence),
        starts_on: Some(fields.starts_on),
        window_hours: Some(fields.window_hours),
        reminders: Some(fields.reminders),
        privacy: Some(fields.privacy),
    };
    match surveys::update(&state, &form.session.caller.subject, *id, body).await {
        Ok(updated) => done(&format!("/admin/surveys/{}", updated.survey.id)),
        Err(error) => match Problems::from_api(&error) {
            Some(problems) => {
                render_form(
                    &state,
                    &form.session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(stored),
                    typed,
                    problems,
                )
                .await
            }
            None => api_error_page(error, &form.session),
        },
    }
}

async fn status_change(
    form: AdminForm,
    state: web::Data<AppState>,
    id: SurveyId,
    change: StatusChange,
) -> HttpResponse {
    match surveys::change_status(&state, &form.session.caller.subject, id, change).await {
        Ok(_) => done(&format!("/admin/surveys/{id}")),
        Err(error) => match Problems::from_api(&error) {
            Some(problems) => match load(&state, id).await {
                Ok(stored) => match SurveyForm::of_survey(&stored) {
                    Ok(typed) => {
                        render_form(
                            &state,
                            &form.session,
                            StatusCode::CONFLICT,
                            Some(stored),
                            typed,
                            problems,
                        )
                        .await
                    }
                    Err(error) => server_error(&error, Some(&form.session)),
                },
                Err(error) => server_error(&error, Some(&form.session)),
            },
            None => api_error_page(error, &form.session),
        },
    }
}

/// `POST /admin/surveys/{id}/start`: a draft becomes active.
pub async fn start_survey(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    status_change(form, state, *id, StatusChange::Start).await
}

/// `POST /admin/surveys/{id}/pause`.
pub async fn pause_survey(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    status_change(form, state, *id, StatusChange::Pause).await
}

/// `POST /admin/surveys/{id}/resume`.
pub async fn resume_survey(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    status_change(form, state, *id, StatusChange::Resume).await
}

/// `POST /admin/surveys/{id}/archive`.
pub async fn archive_survey(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<SurveyId>,
) -> HttpResponse {
    status_change(form, state, *id, StatusChange::Archive).await
}
