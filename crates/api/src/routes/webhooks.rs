//! Webhook endpoints (admin; issue 16, point 3): register, change, delete, and
//! rotate the signing secret. Every change is audited in its own transaction. The
//! secret (`whsec_…`) is shown only in the answers of creating and rotating: it is
//! derived from the master key, never stored ([`safepulse_mailer::webhooks`]).
//!
//! What is delivered, and how, is documented in docs/operations.md ("Webhooks")
//! and in the OpenAPI document's `WebhookPayload` schema.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, TimeDelta, Utc};
use safepulse_domain::Role;
use safepulse_mailer::webhooks::{WebhookEvent, endpoint_secret, subscribed_events};
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::entities::webhook_endpoint;
use safepulse_store::webhook_endpoints::{self, NewEndpoint};
use safepulse_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::JsonObject;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// How long the previous secret keeps signing after a rotation, unless asked.
const DEFAULT_OVERLAP_HOURS: u32 = 24;
/// The longest overlap a rotation may ask for (a week).
const MAX_OVERLAP_HOURS: u32 = 168;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointDto {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// While in the future, the previous secret signs too (space-separated
    /// signatures in `webhook-signature`).
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<webhook_endpoint::Model> for WebhookEndpointDto {
    fn from(endpoint: webhook_endpoint::Model) -> Self {
        WebhookEndpointDto {
            id: endpoint.id,
            events: subscribed_events(&endpoint),
            url: endpoint.url,
            previous_secret_until: endpoint.previous_secret_until,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// An endpoint with its current secret: the answer of creating and rotating only.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointDto,
    /// `whsec_<base64>`: verify `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// `https://…` (or `http://…`), at most 2,000 characters.
    pub url: String,
    /// At least one.
    pub events: Vec<WebhookEvent>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecret {
    /// How long the previous secret keeps signing, 0–168 hours; default 24.
    pub previous_secret_hours: Option<u32>,
}

/// A URL a webhook may be posted to: absolute, http or https, with a host.
fn parse_url(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let trimmed = raw.trim();
    let scheme_ok = trimmed.starts_with("https://") || trimmed.starts_with("http://");
    let host_ok = trimmed
        .split("://")
        .nth(1)
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if trimmed.len() > 2_000 || !scheme_ok || !host_ok || trimmed.contains(char::is_whitespace) {
        errors.push(FieldError::new(
            "url",
            "must be an absolute http or https URL of at most 2,000 characters",
        ));
        return None;
    }
    Some(trimmed.to_owned())
}

fn parse_events(events: &[WebhookEvent], errors: &mut Vec<FieldError>) -> Vec<String> {
    if events.is_empty() {
        errors.push(FieldError::new("events", "must name at least one event"));
    }
    let mut names: Vec<String> = events
        .iter()
        .map(|event| {
            serde_json::to_value(event)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The id of the master key new secrets derive from: the active (last) one.
fn active_key_id(state: &AppState) -> Result<String, ApiError> {
    state
        .keys
        .master_keys()
        .last()
        .map(|key| key.id().as_str().to_owned())
        .ok_or(ApiError::Unavailable("no master key is loaded"))
}

fn with_secret(
    state: &AppState,
    endpoint: webhook_endpoint::Model,
) -> Result<WebhookEndpointWithSecret, ApiError> {
    let secret = endpoint_secret(
        &state.keys,
        &endpoint.secret_key_id,
        endpoint.id,
        endpoint.secret_generation,
    )
    .ok_or(ApiError::Unavailable(
        "the endpoint's master key is not loaded",
    ))?;
    Ok(WebhookEndpointWithSecret {
        endpoint: endpoint.into(),
        secret: secret.encode(),
    })
}

/// Runs `change` and audits it as `action` in one transaction.
async fn audited<F>(
    store: &Store,
    actor: &str,
    action: &str,
    now: DateTime<Utc>,
    change: F,
) -> Result<webhook_endpoint::Model, ApiError>
where
    F: AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<webhook_endpoint::Model, StoreError>,
{
    let transaction = store.begin_write().await?;
    let endpoint = change(&transaction).await?;
    audit::record(
        &transaction,
        now,
        AuditEvent {
            actor,
            action,
            team_id: None,
            target: Some(endpoint.id.to_string()),
            details: serde_json::json!({ "url": endpoint.url, "events": endpoint.events }),
        },
    )
    .await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(endpoint)
}

/// Registers an endpoint. The answer holds its secret, shown only now and after
/// a rotation. Audited as `webhook.created`.
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookEndpoint,
    responses((status = 201, body = WebhookEndpointWithSecret), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[post("/api/v1/webhooks")]
pub async fn create_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<CreateWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let mut errors = Vec::new();
    let url = parse_url(&body.0.url, &mut errors);
    let events = parse_events(&body.0.events, &mut errors);
    let (Some(url), true) = (url, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let new = NewEndpoint {
        url,
        events,
        secret_key_id: active_key_id(&state)?,
    };
    let now = state.clock.now();
    let endpoint = audited(
        &state.store,
        &caller.subject,
        "webhook.created",
        now,
        async |db| webhook_endpoints::create(db, new, now).await,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/webhooks/{}", endpoint.id),
        ))
        .json(with_secret(&state, endpoint)?))
}

/// Lists the endpoints, oldest first (without secrets).
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookEndpointDto>), (status = 401, body = Problem),
              (status = 403, body = Problem))
)]
#[get("/api/v1/webhooks")]
pub async fn list_webhooks(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let endpoints = webhook_endpoints::all(state.store.connection()).await?;
    let dtos: Vec<WebhookEndpointDto> = endpoints.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(dtos))
}

/// One endpoint (without its secret).
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpointDto), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/api/v1/webhooks/{id}")]
pub async fn get_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let endpoint = webhook_endpoints::get(state.store.connection(), *id).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointDto::from(endpoint)))
}

/// Changes an endpoint's URL or events. Audited as `webhook.updated`.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    request_body = UpdateWebhookEndpoint,
    responses((status = 200, body = WebhookEndpointDto), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem))
)]
#[patch("/api/v1/webhooks/{id}")]
pub async fn update_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: JsonObject<UpdateWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let mut errors = Vec::new();
    let url = body.0.url.as_deref().map(|raw| parse_url(raw, &mut errors));
    let events = body
        .0
        .events
        .as_deref()
        .map(|events| parse_events(events, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let now = state.clock.now();
    let endpoint = audited(
        &state.store,
        &caller.subject,
        "webhook.updated",
        now,
        async |db| webhook_endpoints::update(db, *id, url.flatten(), events, now).await,
    )
    .await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointDto::from(endpoint)))
}

/// Deletes an endpoint: nothing more is delivered to it, not even deliveries
/// already queued. Audited as `webhook.deleted`.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem))
)]
#[delete("/api/v1/webhooks/{id}")]
pub async fn delete_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let now = state.clock.now();
    audited(
        &state.store,
        &caller.subject,
        "webhook.deleted",
        now,
        async |db| {
            let endpoint = webhook_endpoints::get(db, *id).await?;
            webhook_endpoints::delete(db, *id).await?;
            Ok(endpoint)
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotates an endpoint's secret: the answer holds the new one; the previous one
/// keeps signing too for `previous_secret_hours` (default 24), so receivers can
/// switch without losing a delivery. Audited as `webhook.secret_rotated`.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    request_body = RotateWebhookSecret,
    responses((status = 200, body = WebhookEndpointWithSecret), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem))
)]
#[post("/api/v1/webhooks/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: JsonObject<RotateWebhookSecret>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let hours = body
        .0
        .previous_secret_hours
        .unwrap_or(DEFAULT_OVERLAP_HOURS);
    if hours > MAX_OVERLAP_HOURS {
        return Err(ApiError::Validation(vec![FieldError::new(
            "previous_secret_hours",
            "must be between 0 and 168",
        )]));
    }
    let key_id = active_key_id(&state)?;
    let now = state.clock.now();
    let until = now + TimeDelta::hours(i64::from(hours));
    let endpoint = audited(
        &state.store,
        &caller.subject,
        "webhook.secret_rotated",
        now,
        async |db| webhook_endpoints::rotate(db, *id, key_id, until, now).await,
    )
    .await?;
    Ok(HttpResponse::Ok().json(with_secret(&state, endpoint)?))
}
