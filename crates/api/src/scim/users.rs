//! `/scim/v2/Users`: people as SCIM Users (see the module overview of
//! [`crate::scim`] for the mapping). Creating and changing go through
//! [`people::create_in`] and [`people::update_in`], erasing through
//! [`people::erase`], the API's own functions.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use safepulse_domain::{Email, Locale, PersonId, TeamId};
use safepulse_store::entities::{person, scim_user, team};
use safepulse_store::{org, scim};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::{
    ListRequest, ScimCaller, attribute, bool_attribute, filter, list_response, location, meta,
    parse_id, patch, read_object, scim_json, string_attribute,
};
use crate::routes::people::{self, CreatePerson, UpdatePerson};
use crate::state::AppState;

/// The core User schema's URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A User as a request states it, checked for what SCIM itself requires; the
/// person's own rules (address, name, zone) are checked by [`people`].
#[derive(Debug, Clone, PartialEq)]
struct UserInput {
    fields: scim::UserFields,
    email: String,
    /// The person's name: `displayName`, else `name.formatted`, else
    /// `givenName familyName`, else `userName`.
    name: String,
    active: bool,
    /// `en` or `de` when the request names a language (`locale` or
    /// `preferredLanguage`); German for any `de…`, English for anything else.
    locale: Option<Locale>,
    time_zone: Option<String>,
}

impl UserInput {
    fn parse(object: &Map<String, Value>) -> Result<UserInput, ScimError> {
        let user_name = string_attribute(object, "userName")?
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
        let email = primary_email(object)?
            .or_else(|| Email::parse(&user_name).ok().map(|_| user_name.clone()))
            .ok_or_else(|| {
                ScimError::invalid_value(
                    "a User needs an address: emails, or a userName that is an email address",
                )
            })?;
        let fields = name_fields(object, user_name)?;
        let name = [&fields.display_name, &fields.formatted]
            .into_iter()
            .flatten()
            .find(|name| !name.trim().is_empty())
            .cloned()
            .or_else(|| {
                let parts: Vec<&str> = [&fields.given_name, &fields.family_name]
                    .into_iter()
                    .flatten()
                    .map(|part| part.trim())
                    .filter(|part| !part.is_empty())
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
            .unwrap_or_else(|| fields.user_name.clone());
        let language = match string_attribute(object, "locale")? {
            Some(locale) => Some(locale),
            None => string_attribute(object, "preferredLanguage")?,
        };
        Ok(UserInput {
            fields,
            email,
            name,
            active: bool_attribute(object, "active")?.unwrap_or(true),
            locale: language.map(|raw| Locale::parse(&raw).unwrap_or_default()),
            time_zone: string_attribute(object, "timezone")?,
        })
    }
}

/// `userName`, `externalId`, `displayName` and the parts of `name`, as sent.
fn name_fields(
    object: &Map<String, Value>,
    user_name: String,
) -> Result<scim::UserFields, ScimError> {
    let empty = Map::new();
    let name = match attribute(object, "name") {
        None => &empty,
        Some(Value::Object(name)) => name,
        Some(_) => return Err(ScimError::invalid_value("name must be an object")),
    };
    Ok(scim::UserFields {
        user_name,
        external_id: string_attribute(object, "externalId")?,
        display_name: string_attribute(object, "displayName")?,
        formatted: string_attribute(name, "formatted")?,
        given_name: string_attribute(name, "givenName")?,
        family_name: string_attribute(name, "familyName")?,
    })
}

/// The primary address of `emails`, else its first.
fn primary_email(object: &Map<String, Value>) -> Result<Option<String>, ScimError> {
    let Some(emails) = attribute(object, "emails") else {
        return Ok(None);
    };
    let emails = emails
        .as_array()
        .ok_or_else(|| ScimError::invalid_value("emails must be a list"))?;
    let value_of = |email: &Value| -> Option<String> {
        email
            .as_object()
            .and_then(|email| attribute(email, "value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let primary = emails.iter().find(|email| {
        email
            .as_object()
            .and_then(|email| bool_attribute(email, "primary").ok().flatten())
            .unwrap_or(false)
    });
    Ok(primary
        .and_then(value_of)
        .or_else(|| emails.iter().find_map(value_of)))
}

/// A person as a SCIM User: the name parts as the identity provider sent them
/// (a person it did not provision shows their name as `displayName`).
fn user_json(
    state: &AppState,
    person: &person::Model,
    scim_row: Option<&scim_user::Model>,
    team: Option<&team::Model>,
) -> Value {
    let mut user = json!({
        "schemas": [USER_SCHEMA],
        "id": person.id,
        "userName": scim_row.map_or(person.email.as_str(), |row| row.user_name.as_str()),
        "emails": [{ "value": person.email }],
        "active": person.active,
        "groups": team.map_or_else(Vec::new, |team| vec![json!({
            "value": team.id,
            "$ref": location(state, &format!("/Groups/{}", team.id)),
            "display": team.name,
        })]),
        "meta": meta("User", location(state, &format!("/Users/{}", person.id)), person.created_at, person.updated_at),
    });
    let Some(row) = scim_row else {
        user["displayName"] = person.name.as_str().into();
        return user;
    };
    let mut name = Map::new();
    for (key, value) in [
        ("formatted", &row.formatted),
        ("givenName", &row.given_name),
        ("familyName", &row.family_name),
    ] {
        if let Some(value) = value {
            name.insert(key.to_owned(), value.as_str().into());
        }
    }
    if !name.is_empty() {
        user["name"] = Value::Object(name);
    }
    if let Some(display_name) = &row.display_name {
        user["displayName"] = display_name.as_str().into();
    }
    if let Some(external_id) = &row.external_id {
        user["externalId"] = external_id.as_str().into();
    }
    user
}

/// Renders people as Users: their SCIM rows and teams read in two queries.
pub(super) async fn users_json(
    state: &AppState,
    db: &impl ConnectionTrait,
    people: &[person::Model],
) -> Result<Vec<Value>, ScimError> {
    let ids: Vec<PersonId> = people.iter().map(|person| person.id).collect();
    let rows = scim::users_of(db, &ids).await?;
    let teams: HashMap<TeamId, team::Model> = org::all_teams(db)
        .await?
        .into_iter()
        .map(|team| (team.id, team))
        .collect();
    Ok(people
        .iter()
        .map(|person| {
            let team = person.team_id.and_then(|id| teams.get(&id));
            user_json(state, person, rows.get(&person.id), team)
        })
        .collect())
}

async fn one_user(state: &AppState, id: PersonId) -> Result<Value, ScimError> {
    let db = state.store.connection();
    let person = org::get_person(db, id).await?;
    let mut users = users_json(state, db, std::slice::from_ref(&person)).await?;
    Ok(users.pop().unwrap_or_default())
}

/// `GET /Users` with `filter`, `startIndex`, `count`, `attributes`.
pub async fn list(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    answer_list(&state, ListRequest::from_query(&request)?).await
}

/// `POST /Users/.search`.
pub async fn search(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let object = read_object(&request, &state, body).await?;
    answer_list(&state, ListRequest::from_search(&object)?).await
}

/// A page of Users; with `userName eq "…"`, the one person it names, if any.
async fn answer_list(state: &AppState, request: ListRequest) -> Result<HttpResponse, ScimError> {
    let db = state.store.connection();
    let (people, total) = match &request.filter {
        Some(raw) => {
            let equality = filter::parse(raw)?;
            if !equality.is("userName") {
                return Err(ScimError::bad_request(
                    "invalidFilter",
                    "Users are filtered by userName only",
                ));
            }
            let found: Vec<person::Model> = scim::find_user(db, &equality.value)
                .await?
                .into_iter()
                .collect();
            let total = found.len() as u64;
            let page = found
                .into_iter()
                .skip((request.start_index - 1) as usize)
                .take(request.count as usize)
                .collect();
            (page, total)
        }
        None => {
            let page = scim::people_page(db, request.start_index - 1, request.count).await?;
            (page.items, page.total)
        }
    };
    let users = users_json(state, db, &people).await?;
    Ok(list_response(&request, total, users))
}

/// `GET /Users/{id}`.
pub async fn get(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let id = parse_id(&id)?;
    let list = ListRequest::from_query(&request)?;
    let user = one_user(&state, id).await?;
    Ok(scim_json(StatusCode::OK, &list.attributes.project(user)))
}

/// `POST /Users`: a new person (no team until a Group takes them), 409
/// `uniqueness` when the `userName` or the address is taken.
pub async fn create(
    caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let object = read_object(&request, &state, body).await?;
    let input = UserInput::parse(&object)?;
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    if scim::find_user(&db, &input.fields.user_name)
        .await?
        .is_some()
    {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            "a User with this userName exists",
        ));
    }
    let body = CreatePerson {
        email: input.email.clone(),
        name: input.name.clone(),
        team_id: Some(None),
        locale: input.locale.map(|locale| locale.as_str().to_owned()),
        time_zone: input.time_zone.clone(),
    };
    let person = people::create_in(&db, &caller.subject, now, body).await?;
    if !input.active {
        let deactivate = changes(&person, &input);
        people::update_in(&db, &caller.subject, now, person.id, deactivate).await?;
    }
    scim::set_user(&db, person.id, input.fields.clone()).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    let user = one_user(&state, person.id).await?;
    let mut response = super::scim_response(StatusCode::CREATED);
    response.insert_header((
        actix_web::http::header::LOCATION,
        location(&state, &format!("/Users/{}", person.id)),
    ));
    Ok(response.body(user.to_string()))
}

/// What differs between a person and a User's input, as the API's change.
fn changes(person: &person::Model, input: &UserInput) -> UpdatePerson {
    let differs = |current: &str, wanted: &str| (current != wanted).then(|| wanted.to_owned());
    UpdatePerson {
        email: differs(&person.email, &input.email),
        name: differs(&person.name, &input.name),
        team_id: None,
        locale: input
            .locale
            .and_then(|locale| differs(&person.locale, locale.as_str())),
        time_zone: input
            .time_zone
            .as_ref()
            .filter(|zone| person.time_zone.as_ref() != Some(*zone))
            .map(|zone| Some(zone.clone())),
        active: (person.active != input.active).then_some(input.active),
    }
}

/// Stores a whole User over person `id` (PUT, and PATCH after its operations).
async fn store_replacement(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    id: PersonId,
    input: &UserInput,
) -> Result<(), ScimError> {
    let person = org::get_person(db, id).await?;
    if let Some(holder) = scim::find_user(db, &input.fields.user_name).await?
        && holder.id != id
    {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            "another User has this userName",
        ));
    }
    let change = changes(&person, input);
    let unchanged = change.email.is_none()
        && change.name.is_none()
        && change.locale.is_none()
        && change.time_zone.is_none()
        && change.active.is_none();
    if !unchanged {
        people::update_in(db, actor, now, id, change).await?;
    }
    scim::set_user(db, id, input.fields.clone()).await?;
    Ok(())
}

/// `PUT /Users/{id}`: replaces what a User states (`groups` is read-only).
pub async fn replace(
    caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let id = parse_id(&id)?;
    let object = read_object(&request, &state, body).await?;
    let input = UserInput::parse(&object)?;
    let db = state.store.begin_write().await?;
    store_replacement(&db, &caller.subject, state.clock.now(), id, &input).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(scim_json(StatusCode::OK, &one_user(&state, id).await?))
}

/// `PATCH /Users/{id}`: the operations applied to the User as it is, then stored
/// as a PUT of the result. `active: false` deactivates (tokens and sessions
/// revoked, no further invitations); `true` reactivates.
pub async fn patch(
    caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let id = parse_id(&id)?;
    let operations = read_object(&request, &state, body).await?;
    let db = state.store.begin_write().await?;
    let person = org::get_person(&db, id).await?;
    let Value::Object(mut user) = users_json(&state, &db, std::slice::from_ref(&person))
        .await?
        .pop()
        .unwrap_or_default()
    else {
        return Err(ScimError::not_found("no such User"));
    };
    patch::apply(&mut user, &operations, USER_SCHEMA, &[])?;
    let input = UserInput::parse(&user)?;
    store_replacement(&db, &caller.subject, state.clock.now(), id, &input).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(scim_json(StatusCode::OK, &one_user(&state, id).await?))
}

/// `DELETE /Users/{id}`: erasure, exactly as `DELETE /api/v1/people/{id}`
/// ([`people::erase`]): the person, their leaderships, roles, tokens and sessions,
/// invitations, queued emails and, in a round still open, their answer.
pub async fn delete(
    caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = parse_id(&id)?;
    people::erase(&state, &caller.subject, id).await?;
    Ok(super::scim_response(StatusCode::NO_CONTENT).finish())
}
