//! Liveness, readiness, metrics, and the OpenAPI document.

use actix_web::{HttpResponse, get, web};
use safepulse_domain::Role;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = crate::error::Problem))
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer"))?;
    let pending = state
        .store
        .pending_migrations()
        .await
        .map_err(|_| ApiError::Unavailable("cannot read migrations"))?;
    if pending > 0 {
        return Err(ApiError::Unavailable(
            "migrations are pending; run `safepulse migrate`",
        ));
    }
    Ok(web::Json(Health { status: "ok" }))
}

/// Prometheus metrics (admin token). No metric carries a round, team or person label.
#[utoipa::path(
    get, path = "/metrics", tag = "operations", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem))
)]
#[get("/metrics")]
pub async fn metrics(
    caller: Caller,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render(&[])))
}
