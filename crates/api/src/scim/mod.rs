//! SCIM 2.0 provisioning (RFC 7643, RFC 7644) at `/scim/v2`, for identity providers
//! (Okta, Entra ID, …) that create, change, deactivate and erase people and teams.
//!
//! - `Users` are people: `userName` (kept in `scim_users`, unique without letter
//!   case), the address from `emails` (primary, else the first; else `userName` when
//!   it is an address), the name from `displayName`, else `name.formatted`, else
//!   `name.givenName name.familyName`; `active`; `locale`/`preferredLanguage` and
//!   `timezone` when given. `groups` is read-only, as in RFC 7643.
//! - `Groups` are teams: `displayName` is the team's name, `members` the people
//!   whose team it is (a person has one team: adding them to a group moves them,
//!   removing them leaves them without a team). Nesting is the extension
//!   [`groups::TEAM_EXTENSION`] with `parent` (the id of the parent Group) and
//!   `timeZone`; without the extension a team keeps its place and zone.
//! - Changes go through the functions behind the admin API
//!   ([`crate::routes::people`], [`crate::routes::teams`]), inside one transaction
//!   per request: the same audit entries, membership history ("not comparable"),
//!   token revocation on deactivation; `DELETE /Users/{id}` is
//!   [`crate::routes::people::erase`], the API's erasure.
//! - PATCH ([`patch`]) applies its operations to the resource as SCIM JSON and
//!   then stores the result as a PUT would, so both follow one path.
//! - Only a bearer token with the `scim` role ([`ScimCaller`]) reaches these
//!   routes, and that role reaches nothing else ([`crate::auth::Caller`] and the
//!   pages' session refuse it). Nothing here reads a round, a release or an answer.
//! - Every error is SCIM's error message ([`error::ScimError`]), and every body
//!   `application/scim+json`.
//!
//! These routes are not in the OpenAPI document: SCIM describes itself through
//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, and its bodies
//! (schema URNs as keys, `$ref`, PATCH paths) do not fit utoipa's derived schemas.
//! docs/operations.md documents them.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod users;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};
use safepulse_domain::Role;
use safepulse_store::tokens::TokenKind;
use serde_json::{Map, Value};

use crate::auth::TokenError;
use crate::state::AppState;
use error::ScimError;

/// Where SCIM lives.
pub const BASE_PATH: &str = "/scim/v2";
/// The media type of every SCIM body (RFC 7644 §8.1).
pub const MEDIA_TYPE: &str = "application/scim+json";
/// The URN of a list's body.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The most resources one list answers (`count` above it is lowered to it).
pub const MAX_COUNT: u64 = 200;

/// A response of `status` typed `application/scim+json`, never cached.
pub fn scim_response(status: StatusCode) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header(ContentType(MEDIA_TYPE.parse().expect("a valid media type")))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// `body` as a SCIM response of `status`.
pub fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    scim_response(status).body(body.to_string())
}

/// The absolute URL of a resource, for `meta.location` and `$ref`.
pub fn location(state: &AppState, path: &str) -> String {
    format!(
        "{}{BASE_PATH}{path}",
        state.config.public_url.trim_end_matches('/')
    )
}

/// An identity provider, verified from a bearer token of the `scim` role: the only
/// way into `/scim/v2`. No token or a bad one is 401, another role 403.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    /// The token's subject, the actor of the audit entries.
    pub subject: String,
}

impl FromRequest for ScimCaller {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<ScimCaller, ScimError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(|token| token.trim().to_owned());
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let unauthorized = || {
                ScimError::new(
                    StatusCode::UNAUTHORIZED,
                    None,
                    "a valid bearer token of the scim role is required",
                )
            };
            let state = state.ok_or_else(unauthorized)?;
            let token = token.ok_or_else(unauthorized)?;
            match state
                .tokens
                .verify(state.store.connection(), &token, TokenKind::Api)
                .await
            {
                Ok(claims) if claims.role == Role::Scim => Ok(ScimCaller {
                    subject: claims.sub,
                }),
                Ok(_) => Err(ScimError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "only a token of the scim role may provision",
                )),
                Err(TokenError::Store(error)) => Err(error.into()),
                Err(_) => Err(unauthorized()),
            }
        })
    }
}

/// A request body as a JSON object: `application/scim+json` or `application/json`,
/// at most `max_body_bytes`.
pub async fn read_object(
    request: &HttpRequest,
    state: &AppState,
    body: web::Payload,
) -> Result<Map<String, Value>, ScimError> {
    let media_type_ok = match request.mime_type() {
        Ok(Some(media)) => {
            let essence = media.essence_str();
            essence == MEDIA_TYPE || essence == "application/json"
        }
        Ok(None) => true,
        Err(_) => false,
    };
    if !media_type_ok {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "the body must be application/scim+json",
        ));
    }
    let limit = state.config.max_body_bytes;
    let bytes = match body.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                format!("reading the body: {error}"),
            ));
        }
        Err(_) => {
            return Err(ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Some("tooLarge"),
                format!("the body is larger than {limit} bytes"),
            ));
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ScimError::bad_request(
            "invalidSyntax",
            "the body must be a JSON object",
        )),
        Err(error) => Err(ScimError::bad_request(
            "invalidSyntax",
            format!("the body is not JSON: {error}"),
        )),
    }
}

/// What a list or a search asks for (RFC 7644 §3.4.2): a filter, a page
/// (`startIndex` from 1, `count` at most [`MAX_COUNT`]) and which attributes.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub filter: Option<String>,
    pub start_index: u64,
    pub count: u64,
    pub attributes: Attributes,
}

impl ListRequest {
    /// From the query string of a GET.
    pub fn from_query(request: &HttpRequest) -> Result<ListRequest, ScimError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
            .map_err(|error| {
                ScimError::bad_request("invalidSyntax", format!("query string: {error}"))
            })?
            .into_inner();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        Ok(ListRequest {
            filter: get("filter"),
            start_index: parse_index(get("startIndex").as_deref(), "startIndex", 1)?.max(1),
            count: parse_index(get("count").as_deref(), "count", MAX_COUNT)?.min(MAX_COUNT),
            attributes: Attributes::parse(get("attributes"), get("excludedAttributes")),
        })
    }

    /// From the body of a `POST /.search` (RFC 7644 §3.4.3).
    pub fn from_search(body: &Map<String, Value>) -> Result<ListRequest, ScimError> {
        let text = |name: &str| -> Option<String> {
            match body.get(name)? {
                Value::String(text) => Some(text.clone()),
                Value::Array(items) => Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            }
        };
        Ok(ListRequest {
            filter: text("filter"),
            start_index: parse_index(text("startIndex").as_deref(), "startIndex", 1)?.max(1),
            count: parse_index(text("count").as_deref(), "count", MAX_COUNT)?.min(MAX_COUNT),
            attributes: Attributes::parse(text("attributes"), text("excludedAttributes")),
        })
    }
}

/// A non-negative integer parameter; a negative one counts as 0 (RFC 7644 §3.4.2.4).
fn parse_index(raw: Option<&str>, name: &str, default: u64) -> Result<u64, ScimError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let number: i64 = raw
        .trim()
        .parse()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))?;
    Ok(u64::try_from(number).unwrap_or(0))
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.9), as lower-case top-level
/// names (a sub-attribute selects or keeps its parent; a schema URN prefix is
/// dropped).
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    only: Vec<String>,
    excluded: Vec<String>,
}

impl Attributes {
    pub fn parse(only: Option<String>, excluded: Option<String>) -> Attributes {
        let names = |raw: Option<String>| -> Vec<String> {
            raw.unwrap_or_default()
                .split(',')
                .map(top_level_name)
                .filter(|name| !name.is_empty())
                .collect()
        };
        Attributes {
            only: names(only),
            excluded: names(excluded),
        }
    }

    /// Keeps what was asked for; `id` and `schemas` are always returned.
    pub fn project(&self, resource: Value) -> Value {
        let Value::Object(object) = resource else {
            return resource;
        };
        let always = |key: &str| key == "id" || key == "schemas";
        let kept = object
            .into_iter()
            .filter(|(key, _)| {
                let key = key.to_lowercase();
                always(&key)
                    || ((self.only.is_empty() || self.only.contains(&key))
                        && !self.excluded.contains(&key))
            })
            .collect();
        Value::Object(kept)
    }
}

/// `urn:ietf:params:scim:schemas:core:2.0:User:name.givenName` → `name`; an
/// extension's URN (`urn:…:Group:parent`) → the URN itself, its key in a resource.
fn top_level_name(raw: &str) -> String {
    let raw = raw.trim();
    let lower = raw.to_lowercase();
    for core in [users::USER_SCHEMA, groups::GROUP_SCHEMA] {
        if let Some(rest) = lower.strip_prefix(&format!("{}:", core.to_lowercase())) {
            return rest.split('.').next().unwrap_or_default().to_owned();
        }
    }
    if lower.starts_with("urn:") {
        return match lower.rfind(':') {
            Some(end) if lower[..end].ends_with(":group") || lower[..end].ends_with(":user") => {
                lower[..end].to_owned()
            }
            _ => lower,
        };
    }
    lower.split('.').next().unwrap_or_default().to_owned()
}

/// A ListResponse of one page of `resources` out of `total`.
pub fn list_response(request: &ListRequest, total: u64, resources: Vec<Value>) -> HttpResponse {
    let resources: Vec<Value> = resources
        .into_iter()
        .map(|resource| request.attributes.project(resource))
        .collect();
    scim_json(
        StatusCode::OK,
        &serde_json::json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": request.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// The path of a resource's id: a UUID, else no such resource.
pub fn parse_id<Id: std::str::FromStr>(raw: &str) -> Result<Id, ScimError> {
    raw.parse()
        .map_err(|_| ScimError::not_found(format!("no resource with id {raw:?}")))
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): Users, then Groups, as one list
/// paged by `startIndex` and `count`. A filter is refused here: each resource type
/// has its own (search `/Users/.search` or `/Groups/.search` with one).
async fn search_everything(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let object = read_object(&request, &state, body).await?;
    let list = ListRequest::from_search(&object)?;
    if list.filter.is_some() {
        return Err(ScimError::bad_request(
            "invalidFilter",
            "a search of every resource type takes no filter: search /Users or /Groups",
        ));
    }
    let db = state.store.connection();
    let offset = list.start_index - 1;
    let people = safepulse_store::scim::people_page(db, offset, list.count).await?;
    let room = list.count - people.items.len() as u64;
    let team_offset = offset.saturating_sub(people.total);
    let teams = safepulse_store::scim::teams_page(db, team_offset, room).await?;
    let mut resources = users::users_json(&state, db, &people.items).await?;
    resources.extend(groups::groups_json(&state, db, &teams.items).await?);
    Ok(list_response(&list, people.total + teams.total, resources))
}

async fn not_found() -> Result<HttpResponse, ScimError> {
    Err(ScimError::not_found("no such SCIM endpoint"))
}

async fn method_not_allowed() -> Result<HttpResponse, ScimError> {
    Err(ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "this endpoint does not serve this method",
    ))
}

/// Registers `/scim/v2` and everything under it; anything else below it is a SCIM
/// 404, a method an endpoint does not serve a SCIM 405.
pub fn configure(config: &mut ServiceConfig) {
    let resource = |path: &str| web::resource(path).default_service(web::to(method_not_allowed));
    config.service(
        web::scope(BASE_PATH)
            .service(
                resource("/ServiceProviderConfig")
                    .route(web::get().to(discovery::service_provider_config)),
            )
            .service(resource("/ResourceTypes").route(web::get().to(discovery::resource_types)))
            .service(resource("/ResourceTypes/{id}").route(web::get().to(discovery::resource_type)))
            .service(resource("/Schemas").route(web::get().to(discovery::schemas)))
            .service(resource("/Schemas/{id}").route(web::get().to(discovery::schema)))
            .service(resource("/.search").route(web::post().to(search_everything)))
            .service(
                resource("/Users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create)),
            )
            .service(resource("/Users/.search").route(web::post().to(users::search)))
            .service(
                resource("/Users/{id}")
                    .route(web::get().to(users::get))
                    .route(web::put().to(users::replace))
                    .route(web::patch().to(users::patch))
                    .route(web::delete().to(users::delete)),
            )
            .service(
                resource("/Groups")
                    .route(web::get().to(groups::list))
                    .route(web::post().to(groups::create)),
            )
            .service(resource("/Groups/.search").route(web::post().to(groups::search)))
            .service(
                resource("/Groups/{id}")
                    .route(web::get().to(groups::get))
                    .route(web::put().to(groups::replace))
                    .route(web::patch().to(groups::patch))
                    .route(web::delete().to(groups::delete)),
            )
            .default_service(web::to(not_found)),
    );
}

/// The attribute `name` of a SCIM object: attribute names are not case-sensitive
/// (RFC 7643 §2.1).
pub fn attribute<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

/// A string attribute; another type is `invalidValue`.
pub fn string_attribute(
    object: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ScimError> {
    match attribute(object, name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

/// A boolean attribute; `"true"` and `"false"` (any case) are read as well, as some
/// identity providers send them in PATCH values.
pub fn bool_attribute(object: &Map<String, Value>, name: &str) -> Result<Option<bool>, ScimError> {
    match attribute(object, name) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ScimError::invalid_value(format!(
            "{name} must be true or false"
        ))),
    }
}

/// A resource's `meta` (RFC 7643 §3.1).
pub fn meta(
    resource_type: &str,
    location: String,
    created: chrono::DateTime<chrono::Utc>,
    modified: chrono::DateTime<chrono::Utc>,
) -> Value {
    serde_json::json!({
        "resourceType": resource_type,
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "lastModified": modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "location": location,
    })
}
