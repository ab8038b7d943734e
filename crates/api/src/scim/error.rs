//! The one error type of `/scim/v2`: every refusal is SCIM's error message
//! (`urn:ietf:params:scim:api:messages:2.0:Error`, RFC 7644 §3.12) with its
//! `status` (a string, as the RFC has it), a `scimType` where the RFC names one,
//! and the content type `application/scim+json`.
//!
//! The API's functions that SCIM reuses answer [`ApiError`]; [`From`] turns each
//! into the SCIM form here, in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use safepulse_store::StoreError;

use super::scim_response;
use crate::error::{ApiError, RETRY_UNAVAILABLE_AFTER_SECONDS};
use crate::request_context::current_request_id;

/// The URN of SCIM's error message.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: StatusCode,
    /// RFC 7644 §3.12's `scimType`: `invalidFilter`, `uniqueness`, `invalidSyntax`,
    /// `invalidPath`, `noTarget`, `invalidValue`, `mutability`, …
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Logged, never shown: the cause of a 500 or a 503.
    cause: Option<String>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            cause: None,
        }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        ScimError::bad_request("invalidValue", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }
}

impl From<ApiError> for ScimError {
    fn from(error: ApiError) -> Self {
        let status = error.status_code();
        let (scim_type, detail) = match &error {
            ApiError::Validation(fields) => (
                Some("invalidValue"),
                fields
                    .iter()
                    .map(|field| format!("{}: {}", field.field, field.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ApiError::BadRequest(_) => (Some("invalidSyntax"), error.to_string()),
            ApiError::Conflict { code, detail } => (conflict_type(code), detail.clone()),
            ApiError::NotFound => (None, "no such resource".to_owned()),
            _ => (None, error.to_string()),
        };
        let status = match scim_type {
            Some("invalidValue") => StatusCode::BAD_REQUEST,
            _ => status,
        };
        let cause = match &error {
            ApiError::Internal(cause) | ApiError::DatabaseUnavailable(cause) => {
                Some(format!("{cause:#}"))
            }
            _ => None,
        };
        ScimError {
            status,
            scim_type,
            detail,
            cause,
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

/// A conflict of the organisation in SCIM's words: a name or address taken is
/// `uniqueness` (409); a reference to nothing or a team below itself is a bad value
/// (400); the rest (a team with sub-teams, rounds or surveys) stays a plain 409.
fn conflict_type(code: &str) -> Option<&'static str> {
    match code {
        "already_exists" | "team_name_taken" => Some("uniqueness"),
        "team_cycle" | "parent_not_found" | "team_not_found" | "person_not_found" => {
            Some("invalidValue")
        }
        _ => None,
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        if let Some(cause) = &self.cause {
            if self.status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(request_id = %request_id, error = cause, "the database is unavailable");
            } else {
                tracing::error!(request_id = %request_id, error = cause, "request failed");
            }
        }
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = scim_type.into();
        }
        let mut response = scim_response(self.status);
        match self.status {
            StatusCode::UNAUTHORIZED => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                response
                    .insert_header(("Retry-After", RETRY_UNAVAILABLE_AFTER_SECONDS.to_string()));
            }
            _ => {}
        }
        response.body(body.to_string())
    }
}
