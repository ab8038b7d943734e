//! Per-request context: a random request id (also returned as `x-request-id`),
//! the access log and the request counters.
//!
//! Privacy rules enforced here (DESIGN §2):
//! - `/r/*` (answer links) is never access-logged, only counted without labels;
//! - other requests log the matched route *pattern* (`/api/v1/teams/{id}`), never
//!   the raw path or query, so no token that travels in a URL reaches a log line;
//! - no header or body is logged.
//!
//! Every `/api/*` response, errors included, is `Cache-Control: no-store`: reports
//! and the organisation must not stay in a browser's or a proxy's cache.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::metrics::Metrics;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub async fn request_context(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = new_request_id();
    let is_answer_link = request.path().starts_with("/r/");
    let is_api = request.path().starts_with("/api/");
    let method = request.method().clone();
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    let started = Instant::now();

    let mut response = REQUEST_ID
        .scope(request_id.clone(), next.call(request))
        .await?;

    if let Some(metrics) = &metrics {
        metrics.record_request(
            is_answer_link,
            response.status().as_u16(),
            started.elapsed(),
        );
    }
    if !is_answer_link {
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "(unmatched)".to_owned());
        tracing::info!(
            request_id = %request_id,
            method = %method,
            route = %route,
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        );
    }
    if is_api {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}
