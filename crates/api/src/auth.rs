//! Authentication: HS256 JWTs with a pinned algorithm, required `exp`, `iat`, `nbf`,
//! `iss`, `aud`, `sub`, `jti` and `role`, no leeway, and `kid` choosing among the
//! signing keys of the secrets directory (two or more are active during rotation).
//!
//! Every token is recorded by `jti` when issued (`issued_tokens`), so an operator can
//! revoke one; a token whose `jti` is unknown or revoked is refused.
//!
//! [`Caller`] is the extractor handlers use: it reads `Authorization: Bearer …` or the
//! sign-in session cookie, and answers 401 for anything it cannot verify. Role checks
//! ([`Caller::require`]) answer 403.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use safepulse_domain::Role;
use safepulse_store::entities::issued_token;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    pub jti: Uuid,
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
    #[error("the token was revoked or never issued here")]
    Revoked,
    #[error("database error")]
    Store(#[from] safepulse_store::StoreError),
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

    /// Signs a token for `subject` and records its `jti`.
    pub async fn issue(
        &self,
        db: &impl ConnectionTrait,
        subject: &str,
        role: Role,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let key = self.active_key();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            role,
            exp: (now + ttl).timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.as_str().to_owned());
        let token = encode(&header, &claims, &EncodingKey::from_secret(&key.secret))
            .map_err(|_| TokenError::Invalid)?;
        issued_token::ActiveModel {
            jti: Set(claims.jti),
            subject: Set(claims.sub.clone()),
            role: Set(role.as_str().to_owned()),
            key_id: Set(key.id.as_str().to_owned()),
            issued_at: Set(now),
            expires_at: Set(now + ttl),
            revoked_at: Set(None),
        }
        .insert(db)
        .await
        .map_err(safepulse_store::StoreError::from)?;
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

    /// [`Self::verify_signature_and_claims`], then the `jti` must be issued here and not revoked.
    pub async fn verify(
        &self,
        db: &impl ConnectionTrait,
        token: &str,
    ) -> Result<Claims, TokenError> {
        let claims = self.verify_signature_and_claims(token)?;
        let record = issued_token::Entity::find_by_id(claims.jti)
            .one(db)
            .await
            .map_err(safepulse_store::StoreError::from)?;
        match record {
            Some(record) if record.revoked_at.is_none() => Ok(claims),
            _ => Err(TokenError::Revoked),
        }
    }

    /// Revokes a token by id (logout, or an operator's decision).
    pub async fn revoke(
        &self,
        db: &impl ConnectionTrait,
        jti: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        if let Some(record) = issued_token::Entity::find_by_id(jti)
            .one(db)
            .await
            .map_err(safepulse_store::StoreError::from)?
        {
            let mut record: issued_token::ActiveModel = record.into();
            record.revoked_at = Set(Some(now));
            record
                .update(db)
                .await
                .map_err(safepulse_store::StoreError::from)?;
        }
        Ok(())
    }
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

/// Who is calling, verified.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: String,
    pub role: Role,
    pub jti: Uuid,
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

fn bearer_or_cookie(request: &HttpRequest) -> Option<String> {
    if let Some(header) = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
    {
        let value = header.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some(token.trim().to_owned());
    }
    request
        .cookie(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer_or_cookie(request);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
            let token = token.ok_or(ApiError::Unauthorized)?;
            match state.tokens.verify(state.store.connection(), &token).await {
                Ok(claims) => Ok(Caller {
                    subject: claims.sub,
                    role: claims.role,
                    jti: claims.jti,
                }),
                Err(TokenError::Invalid | TokenError::Revoked) => Err(ApiError::Unauthorized),
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
