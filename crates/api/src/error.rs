//! The one error type of the HTTP API, rendered as `application/problem+json`
//! (RFC 9457) with a stable snake_case `code` and the request id.
//!
//! 500s never show internals: their cause chain is logged once, here, next to the
//! request id the caller sees.
//!
//! A database that cannot be used right now (down, locked, disk full) is a 503 with
//! `Retry-After`, never a 500 and never a success: see
//! [`ApiError::DatabaseUnavailable`].

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use safepulse_store::{Conflict, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_context::current_request_id;

/// The `Retry-After` of every 503, in seconds. A database that is down, locked or
/// full takes an operator minutes; a quick restart is over well before.
pub const RETRY_UNAVAILABLE_AFTER_SECONDS: u64 = 60;

/// A field that failed validation, named as in the request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl std::fmt::Display) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:safepulse:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    /// Stable, machine-readable: clients branch on this.
    pub code: String,
    pub detail: String,
    /// Quote this when asking for help; it is in the server log too.
    pub request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("your role may not do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("this path serves {allow} only")]
    MethodNotAllowed { allow: String },
    #[error("the request is malformed: {0}")]
    BadRequest(String),
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be {expected}")]
    UnsupportedMediaType { expected: &'static str },
    /// The `Accept` header names no type this operation writes.
    #[error("this resource is available as {available}")]
    NotAcceptable { available: &'static str },
    #[error("too many requests; try again in {retry_after_seconds} seconds")]
    TooManyRequests { retry_after_seconds: u64 },
    #[error("the service is not ready: {0}")]
    Unavailable(&'static str),
    /// The database does not answer, is locked or cannot write just now
    /// ([`StoreError::Unavailable`]): the request did not succeed, and trying it
    /// again later is safe (a repeated answer is "already answered", never a second).
    #[error("the database is unavailable just now; try again in a minute")]
    DatabaseUnavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl std::fmt::Display) -> ApiError {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// A JSON body that does not read: `422` naming the field when it is JSON of the
    /// wrong shape, `400` when it is not JSON at all.
    pub fn from_json(error: &serde_json::Error) -> ApiError {
        if error.is_data() {
            let message = error.to_string();
            // serde names the offending field between backticks.
            let field = message.split('`').nth(1).unwrap_or("body").to_owned();
            ApiError::Validation(vec![FieldError::new(field, message)])
        } else {
            ApiError::BadRequest(format!("the body is not JSON: {error}"))
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(error.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Validation(_) => "validation_failed",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::NotAcceptable { .. } => "not_acceptable",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable(_) | ApiError::DatabaseUnavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden => "Forbidden",
            ApiError::NotFound => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::BadRequest(_) => "Bad request",
            ApiError::Validation(_) => "Validation failed",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType { .. } => "Unsupported media type",
            ApiError::NotAcceptable { .. } => "Not acceptable",
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::Unavailable(_) | ApiError::DatabaseUnavailable(_) => "Service unavailable",
            ApiError::Internal(_) => "Internal error",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(conflict) => ApiError::Conflict {
                code: conflict.code(),
                detail: conflict_detail(conflict).to_owned(),
            },
            StoreError::Unavailable(_) => ApiError::DatabaseUnavailable(error.into()),
            StoreError::UnsupportedUrl | StoreError::Database(_) | StoreError::Keyring(_) => {
                ApiError::Internal(error.into())
            }
        }
    }
}

/// What each conflict means, in words a person can act on. The German pages look
/// these words up, so changing one means changing its translation too.
fn conflict_detail(conflict: Conflict) -> &'static str {
    match conflict {
        Conflict::TeamCycle => "a team cannot be moved below itself or one of its sub-teams",
        Conflict::TeamNotEmpty => "the team still has sub-teams or people; move them first",
        Conflict::SurveyNotDraft => "the survey has started already",
        Conflict::SurveyIsDraft => "the survey is a draft: start it first",
        Conflict::SurveyArchived => "the survey is archived and cannot change",
        Conflict::TeamInSurvey => "a survey still asks this team; take it out of the survey first",
        Conflict::TeamHasRounds => {
            "the team has pulse rounds, whose reports would lose their team; rename or move it instead"
        }
        Conflict::TeamNameTaken => "another team with this name already has the same parent",
        Conflict::ParentNotFound => "the parent team does not exist",
        Conflict::TeamNotFound => "the team does not exist",
        Conflict::PersonNotFound => "the person does not exist",
        Conflict::AlreadyExists => "an entry with these unique values already exists",
        Conflict::StillReferenced => "something else still refers to this entry",
        Conflict::RoundNotClosed => "a round's results, and plans about them, come after it closes",
        Conflict::TeamNotInRound => "this round did not ask the team",
        Conflict::CommitmentLimitReached => {
            "the team already has three commitments for this round; edit one instead"
        }
        // Codes with no words of their own: an import row whose team path is
        // empty, a commitment for a round that does not exist (its route answers
        // that as a validation problem).
        Conflict::EmptyTeamPath | Conflict::RoundNotFound => {
            "the request conflicts with the current state"
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::DatabaseUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(request_id = %request_id, error = format!("{cause:#}"), "request failed");
            }
            ApiError::DatabaseUnavailable(cause) => {
                tracing::warn!(
                    request_id = %request_id,
                    error = format!("{cause:#}"),
                    "the database is unavailable"
                );
            }
            _ => {}
        }
        let problem = Problem {
            problem_type: format!("urn:safepulse:problem:{}", self.code()),
            title: self.title().to_owned(),
            status: self.status_code().as_u16(),
            code: self.code().to_owned(),
            detail: self.to_string(),
            request_id,
            errors: match self {
                ApiError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(ContentType(
            "application/problem+json"
                .parse()
                .expect("a valid media type"),
        ));
        match self {
            ApiError::Unauthorized => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            ApiError::TooManyRequests {
                retry_after_seconds,
            } => {
                response.insert_header(("Retry-After", retry_after_seconds.to_string()));
            }
            ApiError::Unavailable(_) | ApiError::DatabaseUnavailable(_) => {
                response
                    .insert_header(("Retry-After", RETRY_UNAVAILABLE_AFTER_SECONDS.to_string()));
            }
            ApiError::MethodNotAllowed { allow } => {
                response.insert_header(("Allow", allow.as_str()));
            }
            _ => {}
        }
        response.json(problem)
    }
}
