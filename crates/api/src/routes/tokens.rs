//! Issued tokens and dashboard sessions (admin): which still work, and revoking one.
//! A listing names each by its `jti`, never the token itself, which is not stored.

use actix_web::{HttpResponse, delete, get, web};
use chrono::{DateTime, Utc};
use safepulse_domain::{PersonId, Role, TokenId};
use safepulse_store::entities::issued_token;
use safepulse_store::tokens;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Page, PageQuery};
use crate::auth::{Caller, revoke_and_audit};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    #[schema(value_type = Uuid)]
    pub jti: TokenId,
    /// The address (or service name) the token was issued to.
    pub subject: String,
    /// `admin`, `hr` or `manager`.
    pub role: String,
    /// `api` (a bearer token) or `session` (a dashboard sign-in).
    pub kind: String,
    /// The person the subject named when the token was issued; absent for a service
    /// token, which no grant backs.
    #[schema(value_type = Option<Uuid>)]
    pub person_id: Option<PersonId>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<issued_token::Model> for TokenDto {
    fn from(row: issued_token::Model) -> Self {
        TokenDto {
            jti: row.jti,
            subject: row.subject,
            role: row.role,
            kind: row.kind,
            person_id: row.person_id,
            issued_at: row.issued_at,
            expires_at: row.expires_at,
        }
    }
}

/// Lists the tokens and sessions that are neither revoked nor expired, ordered by `jti`.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "organisation", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<TokenDto>), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem))
)]
#[get("/api/v1/tokens")]
pub async fn list_tokens(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<TokenDto>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = tokens::list_active(
        state.store.connection(),
        state.clock.now(),
        query.cursor.map(TokenId),
        query.limit()?,
    )
    .await?;
    Ok(web::Json(Page {
        items: page.items.into_iter().map(TokenDto::from).collect(),
        next_cursor: page.next.map(|id| id.0),
    }))
}

/// Revokes a token or session at once (audited). Revoking it again changes nothing.
#[utoipa::path(
    delete, path = "/api/v1/tokens/{jti}", tag = "organisation", security(("bearer" = [])),
    params(("jti" = Uuid, Path, description = "The token's id (`jti`)")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[delete("/api/v1/tokens/{jti}")]
pub async fn revoke_token(
    caller: Caller,
    state: web::Data<AppState>,
    jti: web::Path<TokenId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    revoke_and_audit(&state.store, *jti, &caller.subject, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
