//! Access in the console: API tokens for HR integrations (issued here, shown once),
//! the tokens and sessions that still work by subject and expiry, revocation, and
//! the audit log, filterable. Issuing goes through
//! [`auth::issue_api_token_and_audit`] (as `safepulse token issue`), revoking
//! through [`auth::revoke_and_audit`] (as `DELETE /api/v1/tokens/{jti}`); role
//! grants are revoked on a person's page. Everything here is audited.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use safepulse_domain::{Email, Role, TokenId};
use safepulse_store::StoreError;
use safepulse_store::entities::{audit_entry, issued_token};
use safepulse_store::tokens;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::{Admin, AdminForm, Problems, api_error_page, done, html_response, server_error};
use crate::auth::{self, TokenError};
use crate::error::{ApiError, FieldError};
use crate::pages::language::Text;
use crate::pages::session::Session;
use crate::state::AppState;

/// The most tokens and audit entries a page lists.
const LIST_LIMIT: u64 = 200;

#[derive(Template)]
#[template(path = "admin/access.html")]
struct AccessPage<'a> {
    t: Text,
    session: &'a Session,
    subjects: Vec<SubjectAccess>,
    /// A token just issued: shown this once.
    issued: Option<String>,
    subject: String,
    problems: Problems,
}

/// The tokens and sessions of one subject that still work, soonest to expire first.
struct SubjectAccess {
    subject: String,
    /// A token for an address that names no person.
    is_service: bool,
    tokens: Vec<issued_token::Model>,
}

/// Active tokens grouped by subject, subjects in alphabetical order.
fn by_subject(active: Vec<issued_token::Model>) -> Vec<SubjectAccess> {
    let mut groups: BTreeMap<String, Vec<issued_token::Model>> = BTreeMap::new();
    for token in active {
        groups.entry(token.subject.clone()).or_default().push(token);
    }
    groups
        .into_iter()
        .map(|(subject, mut tokens)| {
            tokens.sort_by_key(|token| token.expires_at);
            SubjectAccess {
                subject,
                is_service: tokens.iter().all(|token| token.person_id.is_none()),
                tokens,
            }
        })
        .collect()
}

/// Every token that still works, page by page as the API lists them.
async fn all_active(state: &AppState) -> Result<Vec<issued_token::Model>, StoreError> {
    let now = state.clock.now();
    let mut active = Vec::new();
    let mut after = None;
    loop {
        let page = tokens::list_active(state.store.connection(), now, after, LIST_LIMIT).await?;
        after = page.next;
        active.extend(page.items);
        if after.is_none() {
            return Ok(active);
        }
    }
}

async fn render_access(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    issued: Option<String>,
    subject: String,
    problems: Problems,
) -> HttpResponse {
    match all_active(state).await {
        Ok(active) => html_response(
            status,
            AccessPage {
                t: session.text(),
                session,
                subjects: by_subject(active),
                issued,
                subject,
                problems,
            }
            .render(),
        ),
        Err(error) => server_error(&error, Some(session)),
    }
}

/// `GET /admin/access`.
pub async fn access_page(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    render_access(
        &state,
        &admin.session,
        StatusCode::OK,
        None,
        String::new(),
        Problems::default(),
    )
    .await
}

/// `POST /admin/access/tokens`: an API token for `subject` with `role`, shown once.
pub async fn issue_token(form: AdminForm, state: web::Data<AppState>) -> HttpResponse {
    let subject = form.text("subject").to_owned();
    let mut problems = Problems::default();
    let email = Email::parse(&subject)
        .map_err(|error| problems.errors.push(FieldError::new("subject", error)))
        .ok();
    let role = Role::parse(form.text("role"))
        .map_err(|error| problems.errors.push(FieldError::new("role", error)))
        .ok();
    let ttl = auth::parse_ttl(form.text("ttl"))
        .map_err(|error| problems.errors.push(FieldError::new("ttl", error)))
        .ok();
    let (Some(email), Some(role), Some(ttl)) = (email, role, ttl) else {
        return render_access(
            &state,
            &form.session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            subject,
            problems,
        )
        .await;
    };
    let now = state.clock.now();
    match auth::issue_api_token_and_audit(
        &state,
        &form.session.caller.subject,
        email.as_str(),
        role,
        ttl,
        now,
    )
    .await
    {
        Ok(token) => {
            render_access(
                &state,
                &form.session,
                StatusCode::OK,
                Some(token),
                String::new(),
                Problems::default(),
            )
            .await
        }
        Err(error @ TokenError::RoleNotHeld { .. }) => {
            let problems = Problems {
                errors: vec![FieldError::new("role", error)],
            };
            render_access(
                &state,
                &form.session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                subject,
                problems,
            )
            .await
        }
        Err(TokenError::Store(error)) => server_error(&error, Some(&form.session)),
        Err(error) => server_error(&error, Some(&form.session)),
    }
}

/// `POST /admin/access/tokens/{jti}/revoke`.
pub async fn revoke_token(
    form: AdminForm,
    state: web::Data<AppState>,
    jti: web::Path<TokenId>,
) -> HttpResponse {
    match auth::revoke_and_audit(
        &state.store,
        *jti,
        &form.session.caller.subject,
        state.clock.now(),
    )
    .await
    {
        Ok(()) => done("/admin/access"),
        Err(error) => api_error_page(ApiError::from(error), &form.session),
    }
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    t: Text,
    session: &'a Session,
    action: String,
    actor: String,
    entries: Vec<audit_entry::Model>,
}

/// `GET /admin/audit?action=&actor=`: the newest entries, filtered by the start of
/// their action (`team.`, `token.revoked`) and by their actor.
pub async fn audit_page(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> HttpResponse {
    let action = query.action.trim().to_owned();
    let actor = query.actor.trim().to_owned();
    let mut select = audit_entry::Entity::find()
        .order_by_desc(audit_entry::Column::Id)
        .limit(LIST_LIMIT);
    if !action.is_empty() {
        select = select.filter(audit_entry::Column::Action.starts_with(action.as_str()));
    }
    if !actor.is_empty() {
        select = select.filter(audit_entry::Column::Actor.eq(actor.as_str()));
    }
    match select
        .all(state.store.connection())
        .await
        .map_err(StoreError::from)
    {
        Ok(entries) => html_response(
            StatusCode::OK,
            AuditPage {
                t: admin.session.text(),
                session: &admin.session,
                action,
                actor,
                entries,
            }
            .render(),
        ),
        Err(error) => server_error(&error, Some(&admin.session)),
    }
}
