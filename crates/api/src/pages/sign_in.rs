//! Magic-link sign-in for managers and HR (DESIGN §6 "Auth"):
//!
//! - `GET /sign-in`: a form asking for an email address.
//! - `POST /sign-in`: answers the same "check your email" page for every well-formed
//!   address, known or not, so the page cannot be used to find out who works here.
//!   It answers before anything about the address is read: the address goes to
//!   the [`SignInQueue`](crate::sign_in_queue::SignInQueue), whose task runs
//!   [`sign_in::request_link`] (for a person who holds a role or leads a team, one
//!   transaction writing the link and its email to the outbox), so the answer
//!   takes as long for every address. Too many requests
//!   from one client, or from everybody together ([`crate::rate_limit`]), get
//!   `429` problem+json with `Retry-After`, before the form is read.
//! - `GET /sign-in/{token}`: a page with a "Sign in" button. It writes nothing,
//!   because mail scanners open links: opening must not burn the link.
//! - `POST /sign-in/{token}`: consumes the link once (one atomic `UPDATE`) and, in the
//!   same transaction, issues a session token for the role the person holds now (hr
//!   wins over manager; admin only when neither applies, or when the person pressed
//!   "Sign in to the admin console" and holds the admin grant), set as the session
//!   cookie. Admin sessions go to `/admin`, the others to `/dashboard`.
//!   Unknown, used and expired links get one page.
//! - `POST /sign-out`: revokes the session token and clears the cookie.
//!
//! The email form is protected against cross-site posts by fetch metadata and
//! `Origin` only: it carries no secret worth a CSRF token (anybody may ask for a
//! link), and the worst a forged post can do is what a direct one does. The link's
//! form also carries `HMAC(SessionCsrf key, "sign-in" ‖ token)`, the sign-out form
//! the session's CSRF field (see [`super::session`]).
//!
//! English only, like the rest of the dashboard; the sign-in email itself follows the
//! person's language.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use chrono::Duration;
use safepulse_domain::keys::Purpose;
use safepulse_domain::{Email, Role, TokenId};
use safepulse_mailer::SignInToken;
use safepulse_mailer::sign_in;
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::org;
use safepulse_store::tokens::{self, TokenKind};
use sea_orm::ConnectionTrait;

use super::language::{Text, accepted_locale};
use super::oidc;
use super::session::{
    Notice, Session, expired_session_cookie, field, html_response, is_cross_site, notice_in,
    notice_page, read_form, see_other, server_error, session_cookie, visitor_notice,
};
use crate::error::ApiError;
use crate::rate_limit::{RetryAfter, client_address};
use crate::sign_in_queue::QueueError;
use crate::state::AppState;

/// What a full sign-in queue asks clients to wait: it drains in well under that
/// unless the database is stuck.
const QUEUE_FULL_RETRY_SECONDS: u64 = 60;

#[derive(Debug, Template)]
#[template(path = "dashboard/sign_in.html")]
struct SignInPage<'a> {
    t: Text,
    email: &'a str,
    error: Option<&'static str>,
    /// No `[smtp]`: the email is an `.eml` file, and the page says where to find it.
    writes_mail_files: bool,
    /// The OpenID provider's name, when `[oidc]` is configured (its buttons).
    sso: Option<&'a str>,
    /// Whether the email form is shown (`oidc.magic_link`).
    magic_link: bool,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/sign_in_confirm.html")]
struct ConfirmPage {
    t: Text,
    csrf: String,
}

/// `GET /sign-in`. A visitor who is already signed in goes to the dashboard.
pub async fn show_form(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match Session::of(&request, &state).await {
        Ok(Some(_)) => see_other("/dashboard"),
        Ok(None) => html_response(
            StatusCode::OK,
            SignInPage {
                t: Text::new(accepted_locale(&request)),
                email: "",
                error: None,
                writes_mail_files: state.config.smtp.is_none(),
                sso: state
                    .oidc
                    .as_deref()
                    .map(|oidc| oidc.provider_name.as_str()),
                magic_link: state.oidc.as_deref().is_none_or(|oidc| oidc.magic_link),
            }
            .render(),
        ),
        Err(error) => server_error(&error, None),
    }
}

/// `POST /sign-in`: "check your email", whoever asked.
pub async fn request_link(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = oidc::magic_link_refusal(&request, &state) {
        return refusal;
    }
    if is_cross_site(&request, &state) {
        // Before the limits: a page of another site must not use up their tokens.
        return visitor_notice(&request, StatusCode::FORBIDDEN, Notice::Unverified);
    }
    let now = state.clock.now();
    let client = client_address(&request, &state.config.trusted_proxies);
    if let Err(RetryAfter(seconds)) = state.sign_in_limiter.check(client, now) {
        return ApiError::TooManyRequests {
            retry_after_seconds: seconds,
        }
        .error_response();
    }
    let Some(fields) = read_form(&request, payload).await else {
        return visitor_notice(&request, StatusCode::BAD_REQUEST, Notice::Unreadable);
    };
    let typed = field(&fields, "email").unwrap_or_default().trim();
    let Ok(email) = Email::parse(typed) else {
        let t = Text::new(accepted_locale(&request));
        // Saying "this is not an address" reveals nothing about who is known.
        return html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            SignInPage {
                t,
                email: typed,
                error: Some(t.tr("Please enter an email address, like name@example.com.")),
                writes_mail_files: state.config.smtp.is_none(),
                sso: state
                    .oidc
                    .as_deref()
                    .map(|oidc| oidc.provider_name.as_str()),
                magic_link: true,
            }
            .render(),
        );
    };
    match state.sign_in_queue.push(email, now) {
        Ok(()) => visitor_notice(&request, StatusCode::OK, Notice::CheckYourEmail),
        Err(QueueError::Full) => ApiError::TooManyRequests {
            retry_after_seconds: QUEUE_FULL_RETRY_SECONDS,
        }
        .error_response(),
        Err(error @ QueueError::Stopped) => server_error(&error, None),
    }
}

/// The token from the path, if it is shaped like one and one of our keys signed it.
fn verified_token(request: &HttpRequest, state: &AppState) -> Option<(String, uuid::Uuid)> {
    let raw = request.match_info().get("token")?;
    let token = SignInToken::parse(raw)?;
    let id = token.verify(&state.secrets.master_keys)?;
    Some((token.encode(), id))
}

fn link_csrf(state: &AppState, token: &str) -> String {
    state
        .secrets
        .active_master_key()
        .purpose_key(Purpose::SessionCsrf)
        .sign(format!("sign-in/{token}").as_bytes())
}

fn link_csrf_is_valid(state: &AppState, token: &str, given: &str) -> bool {
    let message = format!("sign-in/{token}");
    state.secrets.master_keys.iter().any(|key| {
        key.purpose_key(Purpose::SessionCsrf)
            .verify(message.as_bytes(), given)
    })
}

/// `GET /sign-in/{token}`: the button. Reads nothing from the database and writes
/// nothing, so a prefetching scanner neither burns the link nor learns whether it
/// still works; a forged token gets the one "unavailable" page.
pub async fn show_confirm(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(refusal) = oidc::magic_link_refusal(&request, &state) {
        return refusal;
    }
    match verified_token(&request, &state) {
        Some((token, _)) => html_response(
            StatusCode::OK,
            ConfirmPage {
                t: Text::new(accepted_locale(&request)),
                csrf: link_csrf(&state, &token),
            }
            .render(),
        ),
        None => visitor_notice(&request, StatusCode::GONE, Notice::LinkUnavailable),
    }
}

/// `POST /sign-in/{token}`: consume the link, issue the session, go to the dashboard.
pub async fn sign_in(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = oidc::magic_link_refusal(&request, &state) {
        return refusal;
    }
    if is_cross_site(&request, &state) {
        return visitor_notice(&request, StatusCode::FORBIDDEN, Notice::Unverified);
    }
    let Some((token, magic_link_id)) = verified_token(&request, &state) else {
        return visitor_notice(&request, StatusCode::GONE, Notice::LinkUnavailable);
    };
    let Some(fields) = read_form(&request, payload).await else {
        return visitor_notice(&request, StatusCode::BAD_REQUEST, Notice::Unreadable);
    };
    let csrf_ok =
        field(&fields, "csrf").is_some_and(|given| link_csrf_is_valid(&state, &token, given));
    if !csrf_ok {
        return visitor_notice(&request, StatusCode::FORBIDDEN, Notice::Unverified);
    }
    let wants_admin = field(&fields, "as") == Some("admin");
    match consume_and_issue(&state, magic_link_id, wants_admin).await {
        Ok(Some((session_token, role))) => {
            let mut response = see_other(if role == Role::Admin {
                "/admin"
            } else {
                "/dashboard"
            });
            if let Err(error) = response.add_cookie(&session_cookie(&state, session_token)) {
                return server_error(&error, None);
            }
            response
        }
        Ok(None) => visitor_notice(&request, StatusCode::GONE, Notice::LinkUnavailable),
        Err(error) => server_error(&error, None),
    }
}

/// One transaction: the link is used only if the session is issued too.
async fn consume_and_issue(
    state: &AppState,
    magic_link_id: uuid::Uuid,
    wants_admin: bool,
) -> anyhow::Result<Option<(String, Role)>> {
    let now = state.clock.now();
    let transaction = state.store.begin_write().await?;
    let Some(address) = sign_in::consume(&transaction, magic_link_id, now).await? else {
        return Ok(None);
    };
    let Ok(email) = Email::parse(&address) else {
        return Ok(None);
    };
    // `None`: the grant or the leadership ended after the link was sent.
    let issued = session_in(&transaction, state, &email, wants_admin, "magic_link").await?;
    if issued.is_some() {
        transaction.commit().await?;
    }
    Ok(issued)
}

/// Signs `email` in (OIDC, [`super::oidc`]): a session for the role
/// [`role_now`] finds, in a transaction of its own; `None` when there is none.
pub(super) async fn issue_session(
    state: &AppState,
    email: &Email,
    wants_admin: bool,
    method: &'static str,
) -> anyhow::Result<Option<(String, Role)>> {
    let transaction = state.store.begin_write().await?;
    let issued = session_in(&transaction, state, email, wants_admin, method).await?;
    if issued.is_some() {
        transaction.commit().await?;
    }
    Ok(issued)
}

/// The session of a sign-in by `method` (`magic_link`, `oidc`), issued and
/// audit-logged (`session.signed_in`) in `db`'s transaction; `None` when the person
/// holds no role that may sign in.
async fn session_in(
    db: &impl ConnectionTrait,
    state: &AppState,
    email: &Email,
    wants_admin: bool,
    method: &'static str,
) -> anyhow::Result<Option<(String, Role)>> {
    let Some((address, role)) = role_now(db, email, wants_admin).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let ttl = Duration::minutes(i64::from(state.config.session_minutes));
    let token = state
        .tokens
        .issue(db, &address, role, TokenKind::Session, ttl, now)
        .await?;
    let event = AuditEvent {
        actor: &address,
        action: "session.signed_in",
        team_id: None,
        target: None,
        details: serde_json::json!({ "method": method, "role": role.as_str() }),
    };
    audit::record(db, now, event).await?;
    Ok(Some((token, role)))
}

/// The role a person signs in with: admin when they asked for the admin console
/// and hold the grant; otherwise hr wins, then manager (leads a team), then admin;
/// `None` when they hold none of them any more. A session carries one role, so an
/// administrator who also reads reports signs in twice, once for each. The address
/// returned is the person's, as stored.
async fn role_now(
    db: &impl ConnectionTrait,
    email: &Email,
    wants_admin: bool,
) -> anyhow::Result<Option<(String, Role)>> {
    let Some(person) = org::find_person_by_email(db, email).await? else {
        return Ok(None);
    };
    if !person.active {
        return Ok(None);
    }
    let roles = org::roles_of(db, person.id).await?;
    let role = if wants_admin && roles.iter().any(|role| role == "admin") {
        Some(Role::Admin)
    } else if roles.iter().any(|role| role == "hr") {
        Some(Role::Hr)
    } else if !org::teams_led_by(db, person.id).await?.is_empty() {
        Some(Role::Manager)
    } else {
        roles
            .iter()
            .any(|role| role == "admin")
            .then_some(Role::Admin)
    };
    Ok(role.map(|role| (person.email, role)))
}

/// `POST /sign-out`: revoke the token, forget the cookie.
pub async fn sign_out(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if is_cross_site(&request, &state) {
        return visitor_notice(&request, StatusCode::FORBIDDEN, Notice::Unverified);
    }
    let session = match Session::of(&request, &state).await {
        Ok(Some(session)) => session,
        Ok(None) => return see_other("/sign-in"),
        Err(error) => return server_error(&error, None),
    };
    let Some(fields) = read_form(&request, payload).await else {
        return notice_page(StatusCode::BAD_REQUEST, Notice::Unreadable, Some(&session));
    };
    if !field(&fields, "csrf").is_some_and(|given| session.csrf_is_valid(&state, given)) {
        return notice_page(StatusCode::FORBIDDEN, Notice::Unverified, Some(&session));
    }
    if let Err(error) = revoke_session(&state, session.caller.jti).await {
        return server_error(&error, Some(&session));
    }
    // Still in their language: the session is gone, its person is not.
    let mut response = notice_in(session.text(), StatusCode::OK, Notice::SignedOut, None);
    if let Err(error) = response.add_cookie(&expired_session_cookie(&state)) {
        return server_error(&error, None);
    }
    response
}

/// Revokes the session in a transaction of its own: "signed out" is shown only once
/// the revocation is committed.
async fn revoke_session(state: &AppState, jti: TokenId) -> Result<(), safepulse_store::StoreError> {
    let transaction = state.store.begin_write().await?;
    tokens::revoke(&transaction, jti, state.clock.now()).await?;
    transaction.commit().await?;
    Ok(())
}
