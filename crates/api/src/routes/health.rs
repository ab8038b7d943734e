//! Liveness, readiness, metrics, and the OpenAPI document.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use safepulse_domain::Role;
use safepulse_store::SchemaStatus;
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

/// How long `/readyz` may take: a probe that hangs while the database is down
/// would tell the orchestrator nothing until its own timeout.
const READINESS_BUDGET: Duration = Duration::from_secs(1);

/// Readiness: the database answers within a second and can store a write now (not
/// full, not read-only, not locked), every migration is applied (a newer version's
/// later migrations too, when each is marked backward compatible), and every open
/// round's key is in the round keyring (a round without it cannot take answers).
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = crate::error::Problem))
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    tokio::time::timeout(READINESS_BUDGET, readiness(&state))
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer within 1 s"))??;
    Ok(web::Json(Health { status: "ok" }))
}

async fn readiness(state: &AppState) -> Result<(), ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer"))?;
    match state
        .store
        .schema_status()
        .await
        .map_err(|_| ApiError::Unavailable("cannot read migrations"))?
    {
        SchemaStatus::Current | SchemaStatus::NewerCompatible(_) => {}
        SchemaStatus::New | SchemaStatus::Pending(_) => {
            return Err(ApiError::Unavailable(
                "migrations are pending; run `safepulse migrate`",
            ));
        }
        SchemaStatus::NewerIncompatible(_) => {
            return Err(ApiError::Unavailable(
                "a newer version migrated the database in a way this version cannot run \
                 against: replace this process with the newer version",
            ));
        }
    }
    let open = safepulse_store::surveys::open_rounds(state.store.connection())
        .await
        .map_err(|_| ApiError::Unavailable("cannot read the open rounds"))?;
    if open
        .iter()
        .any(|round| !state.keys.has_round_key(round.id, &round.key_id))
    {
        return Err(ApiError::Unavailable(
            "an open round has no key in the round keyring and cannot take answers: restore the \
             keyring directory, or discard the round (rounds with accepts_answers = false in \
             GET /api/v1/surveys/{id}/rounds)",
        ));
    }
    state.store.check_writable().await.map_err(|error| {
        let error = anyhow::Error::new(error);
        tracing::warn!(
            error = format!("{error:#}"),
            "the database cannot store a write"
        );
        ApiError::Unavailable(
            "the database cannot store a write now: is its disk full, is it read-only, or does \
             another process hold its lock?",
        )
    })
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    // Without the database's figures the process's own are still worth having.
    let database =
        match safepulse_store::operations::snapshot(state.store.connection(), state.clock.now())
            .await
        {
            Ok(snapshot) => Some(snapshot),
            Err(error) => {
                tracing::warn!(%error, "metrics: the database's figures cannot be read");
                None
            }
        };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render(safepulse_store::database_errors_seen(), database.as_ref())))
}
