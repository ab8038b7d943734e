//! HTTP handlers, one module per resource. Every route carries a
//! `#[utoipa::path]` and is listed in [`crate::openapi::ApiDoc`].

pub mod commitments;
pub mod figures;
pub mod health;
pub mod people;
pub mod reports;
pub mod surveys;
pub mod teams;
pub mod tokens;
pub mod webhooks;

use actix_web::dev::Payload;
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use safepulse_domain::Name;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, FieldError};

/// Cursor pagination: pass the previous page's `next_cursor` as `cursor`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Opaque cursor from a previous page.
    pub cursor: Option<Uuid>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(limit @ 1..=200) => Ok(limit),
            Some(_) => Err(ApiError::validation("limit", "must be between 1 and 200")),
        }
    }
}

/// A page of results.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// A JSON request body that is an object. `web::Json` alone would also read a
/// struct from an array of its fields (`[null, null]`), which no documented body is.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let object =
            web::Json::<serde_json::Map<String, serde_json::Value>>::from_request(request, payload);
        Box::pin(async move {
            let object = object.await?.into_inner();
            serde_json::from_value(serde_json::Value::Object(object))
                .map(JsonObject)
                .map_err(|error| ApiError::from_json(&error).into())
        })
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn absent_or_nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A display name of a person, team or survey, by the one rule the CSV import
/// applies too ([`Name::parse`]); a problem is recorded under `field`.
pub fn parse_name(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<Name> {
    Name::parse(raw)
        .map_err(|error| errors.push(FieldError::new(field, error)))
        .ok()
}

/// Every route of the API and the pages, in one list (the OpenAPI document lists
/// the same handlers; a test checks none is missing).
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(teams::create_team)
        .service(teams::list_teams)
        .service(teams::get_team)
        .service(teams::update_team)
        .service(teams::delete_team)
        .service(teams::list_leaders)
        .service(teams::add_leader)
        .service(teams::remove_leader)
        .service(people::import_people)
        .service(people::create_person)
        .service(people::list_people)
        .service(people::get_person)
        .service(people::update_person)
        .service(people::erase_person)
        .service(people::grant_role)
        .service(people::revoke_role)
        .service(tokens::list_tokens)
        .service(tokens::revoke_token)
        .service(surveys::list_items)
        .service(surveys::create_survey)
        .service(surveys::list_surveys)
        .service(surveys::get_survey)
        .service(surveys::update_survey)
        .service(surveys::start_survey)
        .service(surveys::pause_survey)
        .service(surveys::resume_survey)
        .service(surveys::archive_survey)
        .service(surveys::open_round)
        .service(surveys::list_rounds)
        .service(surveys::close_round)
        .service(surveys::discard_round)
        .service(reports::team_report)
        .service(reports::round_heatmap)
        .service(reports::list_releases)
        .service(reports::list_audit)
        .service(commitments::create_commitment)
        .service(commitments::update_commitment)
        .service(commitments::team_commitments)
        .service(commitments::all_commitments)
        .service(webhooks::create_webhook)
        .service(webhooks::list_webhooks)
        .service(webhooks::get_webhook)
        .service(webhooks::update_webhook)
        .service(webhooks::delete_webhook)
        .service(webhooks::rotate_webhook_secret);
}
