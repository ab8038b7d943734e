//! What the sign-in and dashboard pages share: the session cookie, the CSRF field
//! of signed-in forms, small-form parsing, and one way to answer with HTML.
//!
//! - **The session is a JWT in a cookie** ([`SESSION_COOKIE`]): `HttpOnly` (no script
//!   reads it), `SameSite=Strict` (no other site's page sends it), `Path=/`, and
//!   `Secure` when the public URL is https. It is issued and verified by
//!   [`crate::auth::TokenAuthority`] as a `session` token, so an admin can list and
//!   revoke it like any token. Only the pages read the cookie: `/api/*` wants a
//!   bearer token ([`crate::auth::Caller`]) and refuses a session even in that header.
//! - **CSRF:** every POST first passes [`answer::is_cross_site`] (fetch metadata or
//!   `Origin`); forms of a signed-in person also carry `HMAC(SessionCsrf key, jti)`
//!   ([`Session::csrf`]), which a page of another site cannot know.
//! - **Headers:** like the answer page, every response is `no-store`, sends
//!   `Referrer-Policy: no-referrer`, and a Content-Security-Policy allowing only the
//!   dashboard's own inline style sheet (by hash) and forms posting to this origin.
//!   Charts are inline SVG, drawn without scripts.

use std::sync::LazyLock;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use safepulse_domain::keys::Purpose;
use safepulse_domain::{Email, Locale, Role, TokenId};
use safepulse_store::org;
use safepulse_store::tokens::TokenKind;
use sha2::{Digest, Sha256};

use super::language::{self, Text};
use super::{PageFailure, answer};
use crate::auth::{Caller, SESSION_COOKIE, TokenError};
use crate::error::RETRY_UNAVAILABLE_AFTER_SECONDS;
use crate::request_context::current_request_id;
use crate::state::AppState;

/// The dashboard's only style sheet, inlined into every sign-in and dashboard page.
pub const STYLE: &str = include_str!("../../templates/dashboard/dashboard.css");

static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let style_hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
});

/// A signed-in manager or HR person, from a verified, unrevoked session cookie whose
/// person still holds the session's role.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    /// The CSRF field of this session's forms (sign-out, action plans).
    pub csrf: String,
    /// The language of this person's pages: their stored locale, else the
    /// browser's ([`language`]).
    pub locale: Locale,
}

impl Session {
    /// The session of this request; `Ok(None)` when there is none or it does not
    /// verify (expired, revoked, tampered with).
    pub async fn of(
        request: &HttpRequest,
        state: &AppState,
    ) -> Result<Option<Session>, safepulse_store::StoreError> {
        let Some(cookie) = request.cookie(SESSION_COOKIE) else {
            return Ok(None);
        };
        match state
            .tokens
            .verify(state.store.connection(), cookie.value(), TokenKind::Session)
            .await
        {
            // The scim role reaches `/scim/v2` only, never a page.
            Ok(claims) if claims.role == Role::Scim => Ok(None),
            Ok(claims) => Ok(Some(Session {
                csrf: session_csrf(state, claims.jti),
                locale: person_locale(state, &claims.sub)
                    .await?
                    .unwrap_or_else(|| language::accepted_locale(request)),
                caller: Caller {
                    subject: claims.sub,
                    role: claims.role,
                    jti: claims.jti,
                },
            })),
            Err(TokenError::Invalid | TokenError::Revoked | TokenError::RoleNotHeld { .. }) => {
                Ok(None)
            }
            Err(TokenError::Store(error)) => Err(error),
        }
    }

    /// Whether a submitted CSRF field belongs to this session (any master key).
    pub fn csrf_is_valid(&self, state: &AppState, given: &str) -> bool {
        state.secrets.master_keys.iter().any(|key| {
            key.purpose_key(Purpose::SessionCsrf)
                .verify(self.caller.jti.0.as_bytes(), given)
        })
    }

    /// The words of this person's pages.
    pub fn text(&self) -> Text {
        Text::new(self.locale)
    }

    pub fn role_label(&self) -> &'static str {
        let t = self.text();
        match self.caller.role {
            Role::Hr => t.tr("HR"),
            Role::Manager => t.tr("manager"),
            Role::Admin => t.tr("admin"),
            // `Session::of` refuses scim sessions; the role's own name, should one appear.
            Role::Scim => "scim",
        }
    }
}

/// The stored locale of the person a session's subject names, if it names one.
async fn person_locale(
    state: &AppState,
    subject: &str,
) -> Result<Option<Locale>, safepulse_store::StoreError> {
    let Ok(email) = Email::parse(subject) else {
        return Ok(None);
    };
    let person = org::find_person_by_email(state.store.connection(), &email).await?;
    Ok(person.and_then(|person| Locale::parse(&person.locale).ok()))
}

fn session_csrf(state: &AppState, jti: TokenId) -> String {
    state
        .secrets
        .active_master_key()
        .purpose_key(Purpose::SessionCsrf)
        .sign(jti.0.as_bytes())
}

/// The cookie carrying a freshly issued session token.
pub fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    let minutes = i64::from(state.config.session_minutes);
    Cookie::build(SESSION_COOKIE, token)
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.config.public_url.starts_with("https://"))
        .max_age(CookieDuration::minutes(minutes))
        .finish()
}

/// A cookie that makes the browser forget the session.
pub fn expired_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, String::new());
    cookie.make_removal();
    cookie
}

/// Where a request without a session goes.
pub fn redirect_to_sign_in() -> HttpResponse {
    see_other("/sign-in")
}

/// `303 See Other`: after a POST, or to send a visitor somewhere else.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The fields of a small urlencoded form, or `None` when it is not one (wrong
/// content type, too big, malformed, a field twice).
pub async fn read_form(
    request: &HttpRequest,
    payload: actix_web::web::Payload,
) -> Option<Vec<(String, String)>> {
    if !answer::is_form_content_type(request) {
        return None;
    }
    let body = answer::read_body(payload).await.ok()?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in body
        .split(|byte| *byte == b'&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(equals) => (&pair[..equals], &pair[equals + 1..]),
            None => (pair, &[][..]),
        };
        let name = answer::decode_form_component(name)?;
        if fields.iter().any(|(seen, _)| *seen == name) {
            return None;
        }
        fields.push((name, answer::decode_form_component(value)?));
    }
    Some(fields)
}

/// The value of field `name` of a form read by [`read_form`].
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

/// A form posted by a signed-in manager or HR person, checked like the sign-out
/// form: refused from another site, without a session (to sign-in), unreadable, or
/// without this session's CSRF field. The fields come back without `csrf`.
pub async fn signed_in_form(
    request: &HttpRequest,
    payload: actix_web::web::Payload,
    state: &AppState,
) -> Result<(Session, Vec<(String, String)>), HttpResponse> {
    if is_cross_site(request, state) {
        return Err(notice_page(StatusCode::FORBIDDEN, Notice::Unverified, None));
    }
    let session = match Session::of(request, state).await {
        Ok(Some(session)) => session,
        Ok(None) => return Err(redirect_to_sign_in()),
        Err(error) => return Err(server_error(&error, None)),
    };
    let Some(mut fields) = read_form(request, payload).await else {
        return Err(notice_page(
            StatusCode::BAD_REQUEST,
            Notice::Unreadable,
            Some(&session),
        ));
    };
    if !field(&fields, "csrf").is_some_and(|given| session.csrf_is_valid(state, given)) {
        return Err(notice_page(
            StatusCode::FORBIDDEN,
            Notice::Unverified,
            Some(&session),
        ));
    }
    fields.retain(|(name, _)| name != "csrf");
    Ok((session, fields))
}

/// Whether a POST comes from another site (see [`answer::is_cross_site`]).
pub fn is_cross_site(request: &HttpRequest, state: &AppState) -> bool {
    answer::is_cross_site(request, state.config.public_url_trimmed())
}

/// Pages that only say something: errors, "check your email", "signed out".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    CheckYourEmail,
    /// Unknown, used and expired sign-in links: one page for all three.
    LinkUnavailable,
    SignedOut,
    /// A cross-site POST, or a form whose CSRF field does not verify.
    Unverified,
    Unreadable,
    NotFound,
    Forbidden,
    /// An admin without the hr role: signed in, with nothing to read.
    NothingToRead,
    /// The database is out of reach (down, busy or full): try again, not our fault.
    Unavailable,
    ServerError,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/notice.html")]
struct NoticePage<'a> {
    t: Text,
    notice: Notice,
    session: Option<&'a Session>,
}

/// A notice for a signed-in person in their language; without a session (the
/// database out of reach before it was read) in English.
pub fn notice_page(status: StatusCode, notice: Notice, session: Option<&Session>) -> HttpResponse {
    let t = session.map_or(Text::new(Locale::En), Session::text);
    notice_in(t, status, notice, session)
}

/// A notice for a visitor who is not signed in, in their browser's language.
pub fn visitor_notice(request: &HttpRequest, status: StatusCode, notice: Notice) -> HttpResponse {
    let t = Text::new(language::accepted_locale(request));
    notice_in(t, status, notice, None)
}

/// A notice in the language of `t`.
pub fn notice_in(
    t: Text,
    status: StatusCode,
    notice: Notice,
    session: Option<&Session>,
) -> HttpResponse {
    html_response(status, NoticePage { t, notice, session }.render())
}

/// Logs a failure with the request id only (never an address, a token or a
/// figure) and shows the "our fault" page, or the "try again" page with 503 and
/// `Retry-After` when the database is out of reach, as the console and the API do.
pub fn server_error(error: &dyn PageFailure, session: Option<&Session>) -> HttpResponse {
    if error.is_unavailable() {
        tracing::warn!(
            request_id = %current_request_id(),
            error = %error,
            "a dashboard page could not use the database"
        );
        let mut response = notice_page(
            StatusCode::SERVICE_UNAVAILABLE,
            Notice::Unavailable,
            session,
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(RETRY_UNAVAILABLE_AFTER_SECONDS),
        );
        return response;
    }
    tracing::error!(
        request_id = %current_request_id(),
        error = %error,
        "a dashboard page failed"
    );
    notice_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        Notice::ServerError,
        session,
    )
}

/// A rendered page with the dashboard's headers.
pub fn html_response(status: StatusCode, rendered: askama::Result<String>) -> HttpResponse {
    super::html_page(status, rendered, CONTENT_SECURITY_POLICY.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_policy_allows_exactly_its_inline_style_sheet() {
        let policy = CONTENT_SECURITY_POLICY.as_str();
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("script-src"));
    }
}
