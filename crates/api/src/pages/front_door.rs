//! The front door (issue 13, point 9): `/` is a small page for whoever opens the
//! server's address in a browser (where to sign in, the API documentation, the
//! health check and the privacy model), and `/docs` leads to the documentation UI
//! at `/docs/`. Neither reads the database: the page is the same for everybody.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::language::{Text, accepted_locale};
use super::session::html_response;

#[derive(Debug, Template)]
#[template(path = "dashboard/landing.html")]
struct LandingPage {
    t: Text,
}

/// `GET /`, in the browser's language.
pub async fn landing(request: HttpRequest) -> HttpResponse {
    let t = Text::new(accepted_locale(&request));
    html_response(StatusCode::OK, LandingPage { t }.render())
}

/// `GET /docs`: the documentation UI lives at `/docs/` (its assets are relative to
/// that path), so the address without the slash is a permanent redirect.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}
