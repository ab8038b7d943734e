//! Authentication: HS256 JWTs with a pinned algorithm, required `exp`, `iat`, `nbf`,
//! `iss`, `aud`, `sub`, `jti` and `role`, no leeway, and `kid` choosing among the
//! signing keys of the secrets directory (two or more are active during rotation).
//!
//! Every token is recorded by `jti` when issued (`issued_tokens`, see
//! [`safepulse_store::tokens`]), with its kind (API token or dashboard session) and,
//! when its subject is a person's address, that person. [`TokenAuthority::verify`]
//! refuses a token whose `jti` is unknown or revoked, whose row disagrees with its
//! claims or is of the other kind, and a person's token once that person is inactive
//! or no longer holds its role (no grant of admin or hr, no team to lead for manager):
//! the role claim is only as good as the grant behind it.
//!
//! [`Caller`] is the extractor of the API's handlers: it reads `Authorization: Bearer …`
//! only, never a cookie, so no other site's page can make a browser call the API with
//! its session. The dashboard's pages read the session cookie through
//! [`crate::pages::session::Session`] instead. Verification failures answer 401, role
//! checks ([`Caller::require`]) 403. A `scim` token is refused by both (403 on the
//! API): [`crate::scim::ScimCaller`] is the only extractor that takes it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use safepulse_domain::{Email, Role, TokenId};
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::tokens::{self, NewToken, TokenKind};
use safepulse_store::{Store, StoreError, org};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::secrets::JwtKey;
use crate::state::AppState;

/// The name of the cookie that carries a browser session's JWT.
pub const SESSION_COOKIE: &str = "safepulse_session";

/// The claims of every safepulse token. All are required: a token missing one
/// does not deserialize, and is refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: TokenId,
}

/// Signs and verifies tokens with the keys from the secrets directory.
#[derive(Debug, Clone)]
pub struct TokenAuthority {
    keys: Arc<Vec<JwtKey>>,
    issuer: String,
    audience: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed, expired, not yet valid, or signed by an unknown key")]
    Invalid,
    #[error("the token was revoked, never issued here, or is not meant for this use")]
    Revoked,
    #[error(
        "{subject} is a person who does not hold the {role} role now (inactive, or no grant of it)"
    )]
    RoleNotHeld { subject: String, role: Role },
    #[error("database error")]
    Store(#[from] StoreError),
}

impl TokenAuthority {
    pub fn new(keys: Vec<JwtKey>, issuer: String, audience: String) -> TokenAuthority {
        assert!(!keys.is_empty(), "at least one JWT key");
        TokenAuthority {
            keys: Arc::new(keys),
            issuer,
            audience,
        }
    }

    fn active_key(&self) -> &JwtKey {
        self.keys.last().expect("checked in new")
    }

    /// Signs a token of `kind` for `subject` and records its `jti`. When `subject` is a
    /// person's address, the token is that person's, and only while they hold `role`:
    /// issuing one they do not hold now is refused.
    pub async fn issue(
        &self,
        db: &impl ConnectionTrait,
        subject: &str,
        role: Role,
        kind: TokenKind,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let person_id = match Email::parse(subject) {
            Ok(email) => org::find_person_by_email(db, &email)
                .await?
                .map(|person| person.id),
            Err(_) => None,
        };
        if let Some(person_id) = person_id
            && !org::holds_role(db, person_id, role).await?
        {
            return Err(TokenError::RoleNotHeld {
                subject: subject.to_owned(),
                role,
            });
        }
        let key = self.active_key();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            role,
            exp: (now + ttl).timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: TokenId::random(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.as_str().to_owned());
        let token = encode(&header, &claims, &EncodingKey::from_secret(&key.secret))
            .map_err(|_| TokenError::Invalid)?;
        tokens::record(
            db,
            NewToken {
                jti: claims.jti,
                subject,
                person_id,
                role,
                kind,
                key_id: key.id.as_str(),
                issued_at: now,
                expires_at: now + ttl,
            },
        )
        .await?;
        Ok(token)
    }

    /// Checks signature, algorithm, key id and every claim. Time checks use the
    /// wall clock, as `jsonwebtoken` does.
    pub fn verify_signature_and_claims(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id.as_str() == kid)
            .ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = decode::<Claims>(token, &DecodingKey::from_secret(&key.secret), &validation)
            .map_err(|_| TokenError::Invalid)?;
        Ok(data.claims)
    }

    /// [`Self::verify_signature_and_claims`], then the record: the `jti` must be issued
    /// here as a token of `kind`, not revoked, for the same subject and role as the
    /// claims; and a person's token needs the person active and holding the role now.
    /// Expiry is the claims' `exp` (the row's `expires_at` is the same instant).
    pub async fn verify(
        &self,
        db: &impl ConnectionTrait,
        token: &str,
        kind: TokenKind,
    ) -> Result<Claims, TokenError> {
        let claims = self.verify_signature_and_claims(token)?;
        let Some(record) = tokens::find(db, claims.jti).await? else {
            return Err(TokenError::Revoked);
        };
        if record.revoked_at.is_some()
            || record.kind != kind.as_str()
            || record.role != claims.role.as_str()
            || record.subject != claims.sub
        {
            return Err(TokenError::Revoked);
        }
        if let Some(person_id) = record.person_id
            && !org::holds_role(db, person_id, claims.role).await?
        {
            return Err(TokenError::RoleNotHeld {
                subject: claims.sub,
                role: claims.role,
            });
        }
        Ok(claims)
    }
}

/// Revokes one token or session and records who did it, in one transaction; an
/// already revoked token stays as it is and is not recorded again. `NotFound` for an
/// unknown `jti`. For `DELETE /api/v1/tokens/{jti}` and `safepulse token revoke`.
pub async fn revoke_and_audit(
    store: &Store,
    jti: TokenId,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let db = store.begin_write().await?;
    let before = tokens::revoke(&db, jti, now).await?;
    if before.revoked_at.is_none() {
        audit::record(
            &db,
            now,
            AuditEvent {
                actor,
                action: "token.revoked",
                team_id: None,
                target: Some(jti.to_string()),
                details: serde_json::json!({ "role": before.role, "kind": before.kind }),
            },
        )
        .await?;
    }
    db.commit().await?;
    Ok(())
}

/// Issues an API token (bearer, for `/api/*`) and records who issued it for whom,
/// in one transaction: for `safepulse token issue` and the admin console. The
/// token itself is returned once and never stored.
pub async fn issue_api_token_and_audit(
    state: &AppState,
    actor: &str,
    subject: &str,
    role: Role,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    let db = state.store.begin_write().await?;
    let token = state
        .tokens
        .issue(&db, subject, role, TokenKind::Api, ttl, now)
        .await?;
    audit::record(
        &db,
        now,
        AuditEvent {
            actor,
            action: "token.issued",
            team_id: None,
            target: Some(subject.to_owned()),
            details: serde_json::json!({ "role": role.as_str(), "expires_at": now + ttl }),
        },
    )
    .await?;
    db.commit().await.map_err(StoreError::from)?;
    Ok(token)
}

/// Parses a duration such as `30d`, `12h`, `90m` (for `--ttl`).
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let amount: i64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 30d, 12h or 90m"))?;
    let duration = match unit {
        "d" => Duration::days(amount),
        "h" => Duration::hours(amount),
        "m" => Duration::minutes(amount),
        _ => return Err(format!("{raw:?} is not a duration like 30d, 12h or 90m")),
    };
    if amount <= 0 || duration > Duration::days(366) {
        return Err("a token lives between 1 minute and 366 days".to_owned());
    }
    Ok(duration)
}

/// Who is calling the API, verified from a bearer token. The dashboard's session
/// carries one too ([`crate::pages::session::Session::caller`]), read from the cookie.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: String,
    pub role: Role,
    pub jti: TokenId,
}

impl Caller {
    /// 403 unless the caller holds `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// 403 unless the caller holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The token of `Authorization: Bearer …`. Cookies are not read: a browser attaches
/// them to requests other sites' pages make, a bearer header it never adds by itself.
fn bearer_token(request: &HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer_token(request);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
            let token = token.ok_or(ApiError::Unauthorized)?;
            match state
                .tokens
                .verify(state.store.connection(), &token, TokenKind::Api)
                .await
            {
                // The scim role reaches `/scim/v2` only ([`crate::scim`]), never `/api/*`.
                Ok(claims) if claims.role == Role::Scim => Err(ApiError::Forbidden),
                Ok(claims) => Ok(Caller {
                    subject: claims.sub,
                    role: claims.role,
                    jti: claims.jti,
                }),
                Err(TokenError::Invalid | TokenError::Revoked | TokenError::RoleNotHeld { .. }) => {
                    Err(ApiError::Unauthorized)
                }
                Err(TokenError::Store(error)) => Err(error.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse_days_hours_and_minutes() {
        assert_eq!(parse_ttl("30d"), Ok(Duration::days(30)));
        assert_eq!(parse_ttl("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_ttl("90m"), Ok(Duration::minutes(90)));
        assert!(parse_ttl("0d").is_err());
        assert!(parse_ttl("400d").is_err());
        assert!(parse_ttl("30").is_err());
        assert!(parse_ttl("d").is_err());
    }
}
