//! Sign-in through the organisation's OpenID provider (issue 16), next to the
//! magic link of [`super::sign_in`]; the protocol itself is [`crate::oidc`].
//!
//! - `GET /oidc/sign-in` (`?as=admin` for the admin console): discovers the
//!   provider if need be, sets the flow cookie and sends the browser to the
//!   provider's authorization endpoint (`303`).
//! - `GET /oidc/callback?code&state`: checks the flow cookie and `state`, has the
//!   code exchanged and the `id_token` verified, and signs in the person whose
//!   address the provider verified, by the magic link's rule (the same role
//!   choice, the same kind of session cookie, an audit entry `session.signed_in`
//!   with `"method": "oidc"`). Unknown addresses, unverified ones, people without
//!   a role that may sign in, and every answer that does not verify get one page
//!   with one status: nobody learns from it who is known here.
//!
//! **Where `state`, `nonce` and the PKCE verifier live:** in the flow cookie, not
//! in the database. It is `base64url(JSON) "." HMAC(SessionCsrf key, "oidc-flow/" ‖
//! JSON)`: signed, so the browser cannot choose its own admin flag or expiry; it is
//! `HttpOnly`, `Path=/oidc`, `Secure` on https and lives ten minutes (checked
//! against the signed expiry too). It is `SameSite=Lax`, not `Strict`, because the
//! provider's redirect back is a cross-site navigation, which `Strict` cookies do
//! not follow. The callback deletes it. A login started in one browser cannot be
//! finished in another (no cookie there), a callback URL planted in a victim's
//! browser fails the `state` comparison, and a code used twice is refused by the
//! provider. Nothing of the flow is stored on the server; of a sign-in, the server
//! keeps what the magic link leaves: the session's `issued_tokens` row and the
//! audit entry.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use safepulse_domain::keys::Purpose;
use safepulse_domain::{Email, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::language::{Text, accepted_locale};
use super::session::{html_response, see_other, server_error, session_cookie};
use super::sign_in::issue_session;
use crate::oidc::{Flow, OidcError, OidcSignIn};
use crate::request_context::current_request_id;
use crate::state::AppState;

/// The cookie that carries one sign-in's `state`, `nonce` and PKCE verifier.
const FLOW_COOKIE: &str = "safepulse_oidc";
/// How long a person may spend at the provider before the flow is void.
const FLOW_MINUTES: i64 = 10;

/// The flow cookie's content.
#[derive(Debug, Serialize, Deserialize)]
struct FlowCookie {
    flow: Flow,
    /// The person pressed "Administrators: sign in to the admin console".
    wants_admin: bool,
    /// Unix seconds.
    expires_at: i64,
}

/// The pages of this sign-in that only say something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcNotice {
    /// Every refusal, whatever its reason.
    NotSignedIn,
    /// The provider could not be reached.
    Unavailable,
    /// `POST /sign-in` and sign-in links while the magic link is off.
    MagicLinkOff,
}

#[derive(Debug, Template)]
#[template(path = "dashboard/oidc_notice.html")]
struct NoticePage<'a> {
    t: Text,
    notice: OidcNotice,
    provider_name: &'a str,
    magic_link: bool,
}

fn notice(request: &HttpRequest, oidc: &OidcSignIn, notice: OidcNotice) -> HttpResponse {
    let status = match notice {
        OidcNotice::NotSignedIn | OidcNotice::MagicLinkOff => StatusCode::FORBIDDEN,
        OidcNotice::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    let page = NoticePage {
        t: Text::new(accepted_locale(request)),
        notice,
        provider_name: &oidc.provider_name,
        magic_link: oidc.magic_link,
    };
    html_response(status, page.render())
}

/// The refusal of a magic-link page while the configuration switched links off;
/// `None` when links are on.
pub fn magic_link_refusal(request: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let oidc = state.oidc.as_deref().filter(|oidc| !oidc.magic_link)?;
    Some(notice(request, oidc, OidcNotice::MagicLinkOff))
}

/// `GET /oidc/sign-in`: off to the provider, with a fresh flow cookie.
pub async fn start(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(oidc) = state.oidc.as_deref() else {
        return HttpResponse::NotFound().finish();
    };
    let wants_admin = request.query_string() == "as=admin";
    let (url, flow) = match oidc.authorization_request().await {
        Ok(request) => request,
        Err(error) => return refusal(&request, oidc, &error),
    };
    let cookie = FlowCookie {
        flow,
        wants_admin,
        expires_at: (state.clock.now() + chrono::Duration::minutes(FLOW_MINUTES)).timestamp(),
    };
    let mut response = see_other(&url);
    match response.add_cookie(&flow_cookie(&state, encode(&state, &cookie))) {
        Ok(()) => response,
        Err(error) => server_error(&error, None),
    }
}

/// The query of the provider's redirect back. Providers add parameters of their
/// own (`scope`, `session_state`, `authuser`); they are ignored.
#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
}

/// `GET /oidc/callback`: the provider's answer; a session, or the one refusal.
pub async fn callback(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(oidc) = state.oidc.as_deref() else {
        return HttpResponse::NotFound().finish();
    };
    let mut response = match identify(&request, &state, oidc).await {
        Ok((email, wants_admin)) => {
            match issue_session(&state, &email, wants_admin, "oidc").await {
                Ok(Some((token, role))) => signed_in(&state, token, role),
                Ok(None) => {
                    log_refusal("no role that may sign in");
                    notice(&request, oidc, OidcNotice::NotSignedIn)
                }
                Err(error) => server_error(&error, None),
            }
        }
        Err(error) => refusal(&request, oidc, &error),
    };
    // Used or not, this flow is over.
    let mut spent = flow_cookie(&state, String::new());
    spent.make_removal();
    match response.add_cookie(&spent) {
        Ok(()) => response,
        Err(error) => server_error(&error, None),
    }
}

/// The verified address the callback brings, and whether the admin console was
/// asked for.
async fn identify(
    request: &HttpRequest,
    state: &AppState,
    oidc: &OidcSignIn,
) -> Result<(Email, bool), OidcError> {
    let refused = |why: &str| OidcError::Refused(why.to_owned());
    let cookie = request
        .cookie(FLOW_COOKIE)
        .and_then(|cookie| decode(state, cookie.value()))
        .ok_or_else(|| refused("no valid flow cookie"))?;
    if cookie.expires_at <= state.clock.now().timestamp() {
        return Err(refused("the flow cookie expired"));
    }
    let query = web::Query::<Callback>::from_query(request.query_string())
        .map_err(|_| refused("an unreadable callback"))?;
    let given_state = query.state.as_deref().unwrap_or_default();
    if Sha256::digest(given_state) != Sha256::digest(&cookie.flow.state) {
        return Err(refused("the state does not match the flow cookie"));
    }
    if query
        .iss
        .as_deref()
        .is_some_and(|iss| !oidc.is_this_issuer(iss))
    {
        return Err(refused("the answer names another issuer"));
    }
    // No code: the person cancelled, or the provider said `error=…`.
    let code = query.code.as_deref().ok_or_else(|| refused("no code"))?;
    let email = oidc
        .verified_email(code, &cookie.flow, &state.clock)
        .await?;
    Ok((email, cookie.wants_admin))
}

fn signed_in(state: &AppState, token: String, role: Role) -> HttpResponse {
    let mut response = see_other(if role == Role::Admin {
        "/admin"
    } else {
        "/dashboard"
    });
    match response.add_cookie(&session_cookie(state, token)) {
        Ok(()) => response,
        Err(error) => server_error(&error, None),
    }
}

/// The page for an error, logged with its reason (never an address or a token).
fn refusal(request: &HttpRequest, oidc: &OidcSignIn, error: &OidcError) -> HttpResponse {
    match error {
        OidcError::Unavailable(_) => {
            tracing::warn!(request_id = %current_request_id(), error = %error, "OIDC sign-in unavailable");
            notice(request, oidc, OidcNotice::Unavailable)
        }
        OidcError::Refused(why) => {
            log_refusal(why);
            notice(request, oidc, OidcNotice::NotSignedIn)
        }
    }
}

fn log_refusal(why: &str) {
    tracing::info!(request_id = %current_request_id(), reason = why, "OIDC sign-in refused");
}

fn flow_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(FLOW_COOKIE, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/oidc")
        .secure(state.config.public_url.starts_with("https://"))
        .max_age(CookieDuration::minutes(FLOW_MINUTES))
        .finish()
}

fn signed_message(json: &[u8]) -> Vec<u8> {
    [b"oidc-flow/".as_slice(), json].concat()
}

fn encode(state: &AppState, cookie: &FlowCookie) -> String {
    let json = serde_json::to_vec(cookie).expect("the flow cookie serializes");
    let mac = state
        .secrets
        .active_master_key()
        .purpose_key(Purpose::SessionCsrf)
        .sign(&signed_message(&json));
    format!("{}.{mac}", URL_SAFE_NO_PAD.encode(&json))
}

/// The flow cookie's content, if one of the master keys signed it.
fn decode(state: &AppState, value: &str) -> Option<FlowCookie> {
    let (payload, mac) = value.split_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let message = signed_message(&json);
    let genuine = state
        .secrets
        .master_keys
        .iter()
        .any(|key| key.purpose_key(Purpose::SessionCsrf).verify(&message, mac));
    genuine.then(|| serde_json::from_slice(&json).ok())?
}
