//! Server-rendered HTML pages for people, as opposed to the REST API in
//! [`crate::routes`]: they are not API operations, so they live outside `routes/`
//! and are not in the OpenAPI document.
//!
//! - [`front_door`]: `/` (where to go from here) and `/docs` (to `/docs/`).
//! - [`answer`]: `/r/{token}`, the one-time answer page a team member opens from
//!   the pulse email.
//! - [`sign_in`]: `/sign-in`, `/sign-in/{token}` and `/sign-out`, the magic-link
//!   sign-in of managers and HR.
//! - [`oidc`]: `/oidc/sign-in` and `/oidc/callback`, sign-in through the
//!   organisation's OpenID provider when `[oidc]` is configured.
//! - [`dashboard`]: `/dashboard`, `/dashboard/teams/{id}` and
//!   `/dashboard/rounds/{id}/heatmap` (with its `.csv` and `.xlsx` downloads),
//!   their released results; drawn with
//!   [`chart`] and explained with [`guides`].
//! - [`action_plans`]: the forms of a team page's action plan
//!   (`POST /dashboard/teams/{id}/commitments`, `POST /dashboard/commitments/{id}`)
//!   and HR's `/dashboard/commitments` with its `.csv` and `.xlsx` downloads.
//! - [`session`]: the session cookie, CSRF fields and response headers the sign-in
//!   and dashboard pages share.
//! - [`admin`]: `/admin/*`, the admin console for sessions holding the admin grant.
//! - [`language`]: English or German for the signed-in pages, and their words
//!   ([`german`] is the German of every English text they wrap).

pub mod action_plans;
pub mod admin;
pub mod answer;
pub mod chart;
pub mod dashboard;
pub mod front_door;
mod german;
pub mod guides;
pub mod language;
pub mod oidc;
pub mod session;
pub mod sign_in;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use crate::spreadsheet::ExportFormat;
use crate::state::AppState;

/// Registers every page.
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(web::resource("/").route(web::get().to(front_door::landing)))
        .service(web::resource("/docs").route(web::get().to(front_door::docs_redirect)))
        .service(
            web::resource("/r/{token}")
                .route(web::get().to(answer::show_form))
                .route(web::post().to(answer::submit_answers)),
        )
        .service(
            web::resource("/sign-in")
                .route(web::get().to(sign_in::show_form))
                .route(web::post().to(sign_in::request_link)),
        )
        .service(
            web::resource("/sign-in/{token}")
                .route(web::get().to(sign_in::show_confirm))
                .route(web::post().to(sign_in::sign_in)),
        )
        .service(web::resource("/sign-out").route(web::post().to(sign_in::sign_out)))
        .service(web::resource("/oidc/sign-in").route(web::get().to(oidc::start)))
        .service(web::resource(crate::oidc::CALLBACK_PATH).route(web::get().to(oidc::callback)))
        .service(web::resource("/dashboard").route(web::get().to(dashboard::overview)))
        .service(web::resource("/dashboard/teams/{id}").route(web::get().to(dashboard::team_page)))
        .service(
            web::resource("/dashboard/teams/{id}/commitments")
                .route(web::post().to(action_plans::create)),
        )
        .service(
            web::resource("/dashboard/commitments/{id}")
                .route(web::post().to(action_plans::update)),
        )
        .service(
            web::resource("/dashboard/commitments").route(web::get().to(action_plans::hr_page)),
        )
        .service(web::resource("/dashboard/commitments.csv").route(web::get().to(commitments_csv)))
        .service(
            web::resource("/dashboard/commitments.xlsx").route(web::get().to(commitments_xlsx)),
        )
        .service(
            web::resource("/dashboard/rounds/{id}/heatmap")
                .route(web::get().to(dashboard::heatmap_page)),
        )
        .service(
            web::resource("/dashboard/rounds/{id}/heatmap.csv").route(web::get().to(heatmap_csv)),
        )
        .service(
            web::resource("/dashboard/rounds/{id}/heatmap.xlsx").route(web::get().to(heatmap_xlsx)),
        )
        .service(web::resource("/reports").route(web::get().to(dashboard::reports_redirect)))
        .service(web::resource("/privacy").route(web::get().to(privacy)));
    admin::configure(config);
}

async fn heatmap_csv(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    dashboard::heatmap_download(request, state, id, ExportFormat::Csv).await
}

async fn heatmap_xlsx(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    dashboard::heatmap_download(request, state, id, ExportFormat::Xlsx).await
}

async fn commitments_csv(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    action_plans::hr_download(request, state, ExportFormat::Csv).await
}

async fn commitments_xlsx(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    action_plans::hr_download(request, state, ExportFormat::Xlsx).await
}

/// The privacy model, `docs/privacy.md` as written: respondents read the promises
/// they are asked to trust on the server they answer on, in the words the
/// repository keeps them in.
async fn privacy() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(PRIVACY_MODEL)
}

const PRIVACY_MODEL: &str = include_str!("../../../../docs/privacy.md");

/// A failure a dashboard or console page can meet: what it says, and whether it is
/// the database being out of reach (a 503 with `Retry-After`, like the API and the
/// answer page) rather than a fault of ours. Both page families decide with this
/// one trait, so a new error type cannot be a 503 on one and a 500 on the other.
pub trait PageFailure: std::fmt::Display {
    fn is_unavailable(&self) -> bool {
        false
    }
}

impl PageFailure for safepulse_store::StoreError {
    fn is_unavailable(&self) -> bool {
        matches!(self, safepulse_store::StoreError::Unavailable(_))
    }
}

impl PageFailure for crate::error::ApiError {
    fn is_unavailable(&self) -> bool {
        matches!(
            self,
            crate::error::ApiError::Unavailable(_) | crate::error::ApiError::DatabaseUnavailable(_)
        )
    }
}

impl PageFailure for crate::auth::TokenError {
    fn is_unavailable(&self) -> bool {
        matches!(self, crate::auth::TokenError::Store(error) if error.is_unavailable())
    }
}

// Rendering and link derivation never touch the database.
impl PageFailure for safepulse_mailer::messages::MessageError {}
impl PageFailure for safepulse_mailer::messages::LinkError {}
impl PageFailure for anyhow::Error {
    fn is_unavailable(&self) -> bool {
        self.chain().any(|cause| {
            cause
                .downcast_ref::<safepulse_store::StoreError>()
                .is_some_and(PageFailure::is_unavailable)
        })
    }
}

// Adding a cookie and a stopped sign-in queue never involve the database.
impl PageFailure for actix_web::error::HttpError {}
impl PageFailure for crate::sign_in_queue::QueueError {}
impl PageFailure for &str {}
impl PageFailure for String {}

/// A rendered page with the headers every page sends: never cached, no referrer,
/// not indexed, and the page family's own Content-Security-Policy. A template that
/// fails to render becomes a bare 500 page (logged), never a panic.
fn html_page(
    status: StatusCode,
    rendered: askama::Result<String>,
    content_security_policy: &str,
) -> HttpResponse {
    let (status, body) = match rendered {
        Ok(body) => (status, body),
        Err(error) => {
            tracing::error!(error = %error, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!DOCTYPE html><title>safepulse</title><p>Something went wrong.</p>".to_owned(),
            )
        }
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CONTENT_SECURITY_POLICY, content_security_policy))
        .insert_header(("X-Robots-Tag", "noindex, nofollow"))
        .body(body)
}
