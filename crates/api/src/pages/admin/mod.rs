//! The admin console (issue 14): `/admin/*`, server-rendered pages in the
//! dashboard's style for sessions holding the admin grant. No script: every action
//! is a form.
//!
//! - **One guard.** Every admin handler takes an [`Admin`] (pages) or an
//!   [`AdminForm`] (form posts) argument; both are built by [`admin_session`] alone:
//!   no session is a redirect to `/sign-in`, a manager or hr session a `403` page
//!   (a session carries one role, and reading results is not configuring). Every
//!   route is registered from [`ROUTES`] by one macro, so the black-box test that
//!   walks [`ROUTES`] walks every admin page.
//! - **Forms.** [`AdminForm`] refuses cross-site posts ([`super::session::is_cross_site`],
//!   fetch metadata, else `Origin`) and forms without the session's CSRF field
//!   (`HMAC(SessionCsrf key, jti)`, [`Session::csrf`]), exactly as the dashboard's
//!   sign-out does. It reads `application/x-www-form-urlencoded` bodies (64 KiB) and,
//!   for the CSV upload, `multipart/form-data` ([`multipart`], up to the import's
//!   32 MiB).
//! - **Same rules as the API.** Each action calls the function behind its REST
//!   operation (`routes::teams::create`, `routes::people::update`, …) with the
//!   API's own request type built from the form's fields, so validation, storage
//!   and the audit log are one implementation. A `422` becomes the form again with
//!   each problem next to its field.
//!
//! In English and German ([`super::language`]): the signed-in administrator's
//! stored locale, else their browser's; the previews show respondents' pages and
//! emails in each of their languages.

pub mod access;
mod multipart;
pub mod organisation;
pub mod preview;
pub mod rounds;
pub mod surveys;

use std::sync::LazyLock;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::LocalBoxFuture;
use safepulse_domain::{Locale, Role};
use sha2::{Digest, Sha256};

use super::PageFailure;
use super::language::Text;
use super::session::{self, Session};
use crate::error::{ApiError, FieldError, RETRY_UNAVAILABLE_AFTER_SECONDS};
use crate::request_context::current_request_id;
use crate::state::AppState;

/// The console's additions to the dashboard's style sheet; both are inlined and
/// allowed by their hashes.
pub const ADMIN_STYLE: &str = include_str!("../../../templates/admin/admin.css");

static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = |style: &str| STANDARD.encode(Sha256::digest(style.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{}' 'sha256-{}'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'",
        hash(session::STYLE),
        hash(ADMIN_STYLE)
    )
});

macro_rules! admin_routes {
    ($($path:literal => { $($method:ident: $handler:path),+ $(,)? }),+ $(,)?) => {
        /// Every admin route as (method, path pattern): the list [`configure`]
        /// registers and the access test walks.
        pub const ROUTES: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),+];

        /// Registers every admin page.
        pub fn configure(config: &mut ServiceConfig) {
            $(config.service(web::resource($path)$(.route(web::$method().to($handler)))+);)+
        }
    };
}

admin_routes! {
    "/admin" => { get: organisation::home },
    "/admin/teams" => { get: organisation::teams_page, post: organisation::create_team },
    "/admin/teams/{id}" => { get: organisation::team_page, post: organisation::update_team },
    "/admin/teams/{id}/delete" => { post: organisation::delete_team },
    "/admin/teams/{id}/leaders" => { post: organisation::add_leader },
    "/admin/teams/{id}/leaders/{person_id}/remove" => { post: organisation::remove_leader },
    "/admin/people" => { get: organisation::people_page, post: organisation::create_person },
    "/admin/people/{id}" => { get: organisation::person_page, post: organisation::update_person },
    "/admin/people/{id}/erase" => {
        get: organisation::erase_confirmation,
        post: organisation::erase_person,
    },
    "/admin/people/{id}/roles" => { post: organisation::grant_role },
    "/admin/people/{id}/roles/{role}/revoke" => { post: organisation::revoke_role },
    "/admin/import" => { get: organisation::import_page, post: organisation::import_preview },
    "/admin/import/apply" => { post: organisation::import_apply },
    "/admin/surveys" => { get: surveys::surveys_page },
    "/admin/surveys/new" => { get: surveys::new_survey_page, post: surveys::create_survey },
    "/admin/surveys/{id}" => { get: surveys::survey_page, post: surveys::update_survey },
    "/admin/surveys/{id}/start" => { post: surveys::start_survey },
    "/admin/surveys/{id}/pause" => { post: surveys::pause_survey },
    "/admin/surveys/{id}/resume" => { post: surveys::resume_survey },
    "/admin/surveys/{id}/archive" => { post: surveys::archive_survey },
    "/admin/surveys/{id}/preview" => { get: preview::preview_page },
    "/admin/surveys/{id}/preview/answer/{locale}" => { get: preview::answer_preview },
    "/admin/surveys/{id}/preview/email/{locale}" => { get: preview::email_preview },
    "/admin/surveys/{id}/test-email" => { post: preview::send_test_email },
    "/admin/surveys/{id}/open" => { get: rounds::open_confirmation, post: rounds::open_round },
    "/admin/rounds/{id}" => { get: rounds::round_page },
    "/admin/rounds/{id}/close" => { post: rounds::close_round },
    "/admin/access" => { get: access::access_page },
    "/admin/access/tokens" => { post: access::issue_token },
    "/admin/access/tokens/{id}/revoke" => { post: access::revoke_token },
    "/admin/audit" => { get: access::audit_page },
}

/// The one guard of the console: the admin session of this request, or the
/// response that replaces the page (sign-in redirect, `403`, `503` while the
/// database is out of reach, `500`).
#[allow(clippy::result_large_err)]
pub async fn admin_session(
    request: &HttpRequest,
    state: &AppState,
) -> Result<Session, HttpResponse> {
    match Session::of(request, state).await {
        Ok(Some(session)) if session.caller.role == Role::Admin => Ok(session),
        Ok(Some(session)) => Err(notice(
            StatusCode::FORBIDDEN,
            AdminNotice::AdminsOnly,
            Some(&session),
        )),
        Ok(None) => Err(session::redirect_to_sign_in()),
        Err(error) if error.is_unavailable() => Err(server_error(&error, None)),
        Err(error) => Err(server_error(
            &format!("{:#}", anyhow::Error::new(error)),
            None,
        )),
    }
}

// The error is the page that replaces the handler's, built once per refused request.
#[allow(clippy::result_large_err)]
fn app_state(request: &HttpRequest) -> Result<web::Data<AppState>, HttpResponse> {
    request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| server_error(&"the app state is missing", None))
}

fn rejected(response: HttpResponse) -> actix_web::Error {
    actix_web::error::InternalError::from_response("admin console", response).into()
}

/// A signed-in administrator, for the console's pages (GET).
#[derive(Debug)]
pub struct Admin {
    pub session: Session,
}

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let state = app_state(&request).map_err(rejected)?;
            let session = admin_session(&request, &state).await.map_err(rejected)?;
            Ok(Admin { session })
        })
    }
}

/// A form posted by a signed-in administrator from a console page: same site, with
/// the session's CSRF field (which is not among [`AdminForm::fields`]).
#[derive(Debug)]
pub struct AdminForm {
    pub session: Session,
    pub fields: Vec<(String, String)>,
}

impl AdminForm {
    /// The trimmed value of field `name`, `""` when absent.
    pub fn text(&self, name: &str) -> &str {
        session::field(&self.fields, name)
            .unwrap_or_default()
            .trim()
    }

    /// The value of field `name` when present and not blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name).to_owned()).filter(|value| !value.is_empty())
    }
}

impl FromRequest for AdminForm {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = web::Payload::from_request(&request, payload).into_inner();
        Box::pin(async move {
            let state = app_state(&request).map_err(rejected)?;
            let session = admin_session(&request, &state).await.map_err(rejected)?;
            if session::is_cross_site(&request, &state) {
                return Err(rejected(notice(
                    StatusCode::FORBIDDEN,
                    AdminNotice::Unverified,
                    Some(&session),
                )));
            }
            let payload = payload.map_err(|_| {
                rejected(notice(
                    StatusCode::BAD_REQUEST,
                    AdminNotice::Unreadable,
                    Some(&session),
                ))
            })?;
            let fields = if multipart::is_multipart(&request) {
                multipart::read_fields(&request, payload).await
            } else {
                session::read_form(&request, payload).await
            };
            let Some(mut fields) = fields else {
                return Err(rejected(notice(
                    StatusCode::BAD_REQUEST,
                    AdminNotice::Unreadable,
                    Some(&session),
                )));
            };
            let csrf_ok = session::field(&fields, "csrf")
                .is_some_and(|given| session.csrf_is_valid(&state, given));
            if !csrf_ok {
                return Err(rejected(notice(
                    StatusCode::FORBIDDEN,
                    AdminNotice::Unverified,
                    Some(&session),
                )));
            }
            fields.retain(|(name, _)| name != "csrf");
            Ok(AdminForm { session, fields })
        })
    }
}

/// Pages of the console that only say something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminNotice {
    /// A manager or hr session: the console is for the admin grant.
    AdminsOnly,
    /// A cross-site post, or a form whose CSRF field does not verify.
    Unverified,
    Unreadable,
    NotFound,
    /// An API rule refused the action (a conflict, a missing permission): its
    /// message says which.
    Refused(String),
    /// The database is down, locked or full: nothing was changed, try again.
    Unavailable,
    ServerError,
}

#[derive(Debug, Template)]
#[template(path = "admin/notice.html")]
struct NoticePage<'a> {
    t: Text,
    notice: AdminNotice,
    session: Option<&'a Session>,
}

pub fn notice(status: StatusCode, notice: AdminNotice, session: Option<&Session>) -> HttpResponse {
    // Without a session (the database out of reach before it was read) the
    // language is unknown: English.
    let t = session.map_or(Text::new(Locale::En), Session::text);
    html_response(status, NoticePage { t, notice, session }.render())
}

impl Text {
    /// A survey's or round's status (`draft`, `active`, `paused`, `archived`,
    /// `open`, `closed`) in this language; an unknown code as it is.
    pub fn status<'a>(&self, code: &'a str) -> &'a str {
        match code {
            "draft" => self.tr("draft"),
            "active" => self.tr("active"),
            "paused" => self.tr("paused"),
            "archived" => self.tr("archived"),
            "open" => self.tr("open"),
            "closed" => self.tr("closed"),
            other => other,
        }
    }

    /// A cadence choice of the survey form (`monday`…, `first`…`last`) in this
    /// language; the form posts the code.
    pub fn cadence_choice<'a>(&self, code: &'a str) -> &'a str {
        match code {
            "monday" => self.tr("Monday"),
            "tuesday" => self.tr("Tuesday"),
            "wednesday" => self.tr("Wednesday"),
            "thursday" => self.tr("Thursday"),
            "friday" => self.tr("Friday"),
            "saturday" => self.tr("Saturday"),
            "sunday" => self.tr("Sunday"),
            "first" => self.tr("first week"),
            "second" => self.tr("second week"),
            "third" => self.tr("third week"),
            "fourth" => self.tr("fourth week"),
            "last" => self.tr("last week"),
            other => other,
        }
    }
}

/// Logs the failure with the request id only and shows the "our fault" page, or
/// the "try again" page with 503 and `Retry-After` when the database is out of reach.
pub fn server_error(error: &dyn PageFailure, session: Option<&Session>) -> HttpResponse {
    if error.is_unavailable() {
        tracing::warn!(
            request_id = %current_request_id(),
            error = %error,
            "an admin page could not use the database"
        );
        let mut response = notice(
            StatusCode::SERVICE_UNAVAILABLE,
            AdminNotice::Unavailable,
            session,
        );
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(RETRY_UNAVAILABLE_AFTER_SECONDS),
        );
        return response;
    }
    tracing::error!(
        request_id = %current_request_id(),
        error = %error,
        "an admin page failed"
    );
    notice(
        StatusCode::INTERNAL_SERVER_ERROR,
        AdminNotice::ServerError,
        session,
    )
}

/// The page for an error of an API function that is not a problem with a field:
/// the API's own status and message for a refusal, never a 500 for a rule.
pub fn api_error_page(error: ApiError, session: &Session) -> HttpResponse {
    use actix_web::ResponseError as _;
    let status = error.status_code();
    match error {
        ApiError::NotFound => notice(StatusCode::NOT_FOUND, AdminNotice::NotFound, Some(session)),
        ref refused if status.is_client_error() => notice(
            status,
            AdminNotice::Refused(refused.to_string()),
            Some(session),
        ),
        other => server_error(&other, Some(session)),
    }
}

/// A rendered console page with the console's headers.
pub fn html_response(status: StatusCode, rendered: askama::Result<String>) -> HttpResponse {
    super::html_page(status, rendered, CONTENT_SECURITY_POLICY.as_str())
}

/// Problems to show on a form: each next to its field, and those of no field of the
/// form (a conflict) above it.
#[derive(Debug, Default)]
pub struct Problems {
    pub errors: Vec<FieldError>,
}

impl Problems {
    /// The problems an API function reported, or `None` for errors that are not
    /// about what was typed (not found, database down).
    pub fn from_api(error: &ApiError) -> Option<Problems> {
        match error {
            ApiError::Validation(errors) => Some(Problems {
                errors: errors.clone(),
            }),
            ApiError::Conflict { code, detail } => Some(Problems {
                errors: vec![FieldError::new(conflict_field(code), detail)],
            }),
            _ => None,
        }
    }

    /// The messages about `field` in the reader's language, joined.
    pub fn of(&self, t: &Text, field: &str) -> Option<String> {
        let messages: Vec<String> = self
            .errors
            .iter()
            .filter(|error| error.field == field)
            .map(|error| t.problem(&error.message))
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The field a conflict is about, so that its message sits next to it.
fn conflict_field(code: &str) -> &'static str {
    match code {
        "team_name_taken" => "name",
        "team_cycle" | "parent_not_found" => "parent_id",
        "team_not_found" => "team_id",
        "already_exists" => "email",
        _ => "form",
    }
}

/// `303` back to a console page after a successful post.
pub fn done(location: &str) -> HttpResponse {
    session::see_other(location)
}
