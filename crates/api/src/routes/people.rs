//! People, their roles, and CSV import (admin).

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use safepulse_domain::{Email, Locale, LocaleError, PersonId, Role, TeamId, TimeZone, TokenId};
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::entities::person;
use safepulse_store::org::{self, NewPerson, PersonChanges};
use safepulse_store::tokens;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{JsonObject, Page, PageQuery, absent_or_nullable, parse_name};
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::import::{self, ImportReport};
use crate::openapi::{LocaleSchema, NameSchema, TimeZoneSchema};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonDto {
    #[schema(value_type = Uuid)]
    pub id: PersonId,
    pub email: String,
    pub name: String,
    /// `null` for someone who holds role grants only (HR analysts, administrators):
    /// they belong to no team and are never surveyed.
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<TeamId>,
    /// `en` or `de`.
    pub locale: String,
    /// IANA time zone, when it differs from the team's.
    pub time_zone: Option<String>,
    /// Inactive people are not invited to new rounds.
    pub active: bool,
    /// The mail server refused this address permanently; fix the address to retry.
    pub undeliverable: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<person::Model> for PersonDto {
    fn from(person: person::Model) -> Self {
        PersonDto {
            id: person.id,
            email: person.email,
            name: person.name,
            team_id: person.team_id,
            locale: person.locale,
            time_zone: person.time_zone,
            active: person.active,
            undeliverable: person.undeliverable,
            created_at: person.created_at,
            updated_at: person.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePerson {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(value_type = NameSchema)]
    pub name: String,
    /// The person's team, or `null` for someone who holds role grants only (HR
    /// analysts, administrators): they belong to no team and are never surveyed.
    /// Required, so that nobody is left out of the pulses by a forgotten field.
    #[serde(default, deserialize_with = "absent_or_nullable")]
    #[schema(value_type = Option<Uuid>, required = true)]
    pub team_id: Option<Option<TeamId>>,
    /// Default `en`.
    #[schema(value_type = Option<LocaleSchema>)]
    pub locale: Option<String>,
    /// When it differs from the team's.
    #[schema(value_type = Option<TimeZoneSchema>)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePerson {
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(value_type = Option<NameSchema>)]
    pub name: Option<String>,
    /// Moving someone to another team is recorded in the audit log: reports flag
    /// rounds whose team changed shortly before. `null` takes them out of every
    /// team (role grants only: never surveyed).
    #[serde(default, deserialize_with = "absent_or_nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<TeamId>>,
    #[schema(value_type = Option<LocaleSchema>)]
    pub locale: Option<String>,
    /// `null` clears it: the person follows their team's time zone.
    #[serde(default, deserialize_with = "absent_or_nullable")]
    #[schema(value_type = Option<TimeZoneSchema>)]
    pub time_zone: Option<Option<String>>,
    pub active: Option<bool>,
}

fn parse_email(raw: &str, errors: &mut Vec<FieldError>) -> Option<Email> {
    Email::parse(raw)
        .map_err(|error| errors.push(FieldError::new("email", error)))
        .ok()
}

/// Exactly `en` or `de`, as documented (the CSV import also takes region variants
/// such as `de-AT`, which spreadsheets export).
fn parse_locale(raw: &str, errors: &mut Vec<FieldError>) -> Option<Locale> {
    match Locale::parse(raw) {
        Ok(locale) if locale.as_str() == raw => Some(locale),
        _ => {
            errors.push(FieldError::new("locale", LocaleError(raw.to_owned())));
            None
        }
    }
}

fn parse_time_zone(raw: &str, errors: &mut Vec<FieldError>) -> Option<TimeZone> {
    TimeZone::parse(raw)
        .map_err(|error| errors.push(FieldError::new("time_zone", error)))
        .ok()
}

async fn record_membership(
    db: &impl sea_orm::ConnectionTrait,
    actor: &str,
    now: DateTime<Utc>,
    action: &str,
    person_id: PersonId,
    team_id: Option<TeamId>,
) -> Result<(), ApiError> {
    // Only team changes matter to reports (membership changes before a round).
    let Some(team_id) = team_id else {
        return Ok(());
    };
    audit::record(
        db,
        now,
        AuditEvent {
            actor,
            action,
            team_id: Some(team_id),
            target: Some(person_id.to_string()),
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// Remembers that a person's tokens and sessions stopped working, and why.
async fn record_tokens_revoked(
    db: &impl sea_orm::ConnectionTrait,
    actor: &str,
    now: DateTime<Utc>,
    person: &person::Model,
    reason: &str,
    jtis: &[TokenId],
) -> Result<(), ApiError> {
    if jtis.is_empty() {
        return Ok(());
    }
    audit::record(
        db,
        now,
        AuditEvent {
            actor,
            action: "tokens.revoked",
            team_id: person.team_id,
            target: Some(person.id.to_string()),
            details: serde_json::json!({ "reason": reason, "jtis": jtis }),
        },
    )
    .await?;
    Ok(())
}

/// Adds a person: the one implementation behind `POST /api/v1/people` and the admin
/// console's form. Every problem of the body is a [`FieldError`].
pub async fn create(
    state: &AppState,
    actor: &str,
    body: CreatePerson,
) -> Result<person::Model, ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    let person = create_in(&db, actor, now, body).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(person)
}

/// [`create`] inside the caller's write transaction (SCIM provisioning records its
/// `userName` in the same one).
pub async fn create_in(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    body: CreatePerson,
) -> Result<person::Model, ApiError> {
    let mut errors = Vec::new();
    let email = parse_email(&body.email, &mut errors);
    let name = parse_name("name", &body.name, &mut errors);
    let locale = body
        .locale
        .as_deref()
        .map_or(Some(Locale::default()), |raw| {
            parse_locale(raw, &mut errors)
        });
    let time_zone = body
        .time_zone
        .as_deref()
        .map(|raw| parse_time_zone(raw, &mut errors));
    let Some(team_id) = body.team_id else {
        errors.push(FieldError::new(
            "team_id",
            "is required: a team's id, or null for someone who holds role grants only",
        ));
        return Err(ApiError::Validation(errors));
    };
    let (Some(email), Some(name), Some(locale), true) = (email, name, locale, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    let person = org::create_person(
        db,
        NewPerson {
            email,
            name,
            team_id,
            locale,
            time_zone: time_zone.flatten(),
        },
        now,
    )
    .await?;
    record_membership(
        db,
        actor,
        now,
        "membership.joined",
        person.id,
        person.team_id,
    )
    .await?;
    Ok(person)
}

/// Adds a person.
#[utoipa::path(
    post, path = "/api/v1/people", tag = "organisation", security(("bearer" = [])), request_body = CreatePerson,
    responses((status = 201, body = PersonDto, headers(("Location" = String, description = "The created resource"))), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem))
)]
#[post("/api/v1/people")]
pub async fn create_person(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<CreatePerson>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let person = create(&state, &caller.subject, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/people/{}", person.id),
        ))
        .json(PersonDto::from(person)))
}

/// Lists people, ordered by id.
#[utoipa::path(
    get, path = "/api/v1/people", tag = "organisation", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<PersonDto>), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/api/v1/people")]
pub async fn list_people(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<PersonDto>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = org::list_people(
        state.store.connection(),
        query.cursor.map(PersonId),
        query.limit()?,
    )
    .await?;
    Ok(web::Json(Page {
        items: page.items.into_iter().map(PersonDto::from).collect(),
        next_cursor: page.next.map(|id| id.0),
    }))
}

/// Reads one person.
#[utoipa::path(
    get, path = "/api/v1/people/{id}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Person id")),
    responses((status = 200, body = PersonDto), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/api/v1/people/{id}")]
pub async fn get_person(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
) -> Result<web::Json<PersonDto>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(web::Json(
        org::get_person(state.store.connection(), *id).await?.into(),
    ))
}

/// Changes a person: the one implementation behind `PATCH /api/v1/people/{id}` and
/// the admin console's form. Deactivation revokes every token and session of theirs.
pub async fn update(
    state: &AppState,
    actor: &str,
    id: PersonId,
    body: UpdatePerson,
) -> Result<person::Model, ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    let person = update_in(&db, actor, now, id, body).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(person)
}

/// [`update`] inside the caller's write transaction (SCIM provisioning changes a
/// person and their `userName`, or a group's members, in one).
pub async fn update_in(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    id: PersonId,
    body: UpdatePerson,
) -> Result<person::Model, ApiError> {
    let mut errors = Vec::new();
    let changes = PersonChanges {
        email: body
            .email
            .as_deref()
            .and_then(|raw| parse_email(raw, &mut errors)),
        name: body
            .name
            .as_deref()
            .and_then(|raw| parse_name("name", raw, &mut errors)),
        team_id: body.team_id,
        locale: body
            .locale
            .as_deref()
            .and_then(|raw| parse_locale(raw, &mut errors)),
        time_zone: body
            .time_zone
            .map(|zone| zone.and_then(|raw| parse_time_zone(&raw, &mut errors))),
        active: body.active,
    };
    let deactivates = body.active == Some(false);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let before = org::get_person(db, id).await?;
    let person = org::update_person(db, id, changes, now).await?;
    if deactivates {
        let revoked =
            tokens::revoke_of_person(db, person.id, &[&before.email, &person.email], None, now)
                .await?;
        record_tokens_revoked(db, actor, now, &person, "deactivated", &revoked).await?;
    }
    if before.team_id != person.team_id {
        record_membership(db, actor, now, "membership.left", person.id, before.team_id).await?;
        record_membership(
            db,
            actor,
            now,
            "membership.joined",
            person.id,
            person.team_id,
        )
        .await?;
    }
    Ok(person)
}

/// Changes a person's details, team or activity. `active: false` deactivates: the
/// person is not invited any more, and every token and session of theirs is revoked.
#[utoipa::path(
    patch, path = "/api/v1/people/{id}", tag = "organisation", security(("bearer" = [])), request_body = UpdatePerson,
    params(("id" = Uuid, Path, description = "Person id")),
    responses((status = 200, body = PersonDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem))
)]
#[patch("/api/v1/people/{id}")]
pub async fn update_person(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
    body: JsonObject<UpdatePerson>,
) -> Result<web::Json<PersonDto>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(web::Json(
        update(&state, &caller.subject, *id, body.0).await?.into(),
    ))
}

/// Erases a person: the one implementation behind `DELETE /api/v1/people/{id}` and
/// the admin console. In one transaction: their answer in a round still open (found
/// by recomputing its ballot), tokens and sessions, the person with their
/// leaderships, roles, invitations and queued emails.
pub async fn erase(state: &AppState, actor: &str, id: PersonId) -> Result<(), ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    safepulse_rounds::rounds::erase_open_answers(&db, &state.keys, id)
        .await
        .map_err(|error| match error {
            safepulse_rounds::rounds::RoundError::Store(error) => ApiError::from(error),
            other => ApiError::internal(other),
        })?;
    let person = org::get_person(&db, id).await?;
    let revoked = tokens::delete_of_person(&db, person.id, &[&person.email]).await?;
    org::erase_person(&db, person.id).await?;
    record_tokens_revoked(&db, actor, now, &person, "erased", &revoked).await?;
    record_membership(
        &db,
        actor,
        now,
        "membership.erased",
        person.id,
        person.team_id,
    )
    .await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(())
}

/// Erases a person (GDPR): their record, leaderships, roles, tokens and sessions,
/// invitations, queued emails and, in a round still open, their answer. Released
/// aggregates are unaffected: they never held anything personal.
#[utoipa::path(
    delete, path = "/api/v1/people/{id}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Person id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[delete("/api/v1/people/{id}")]
pub async fn erase_person(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    erase(&state, &caller.subject, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The documented form of a granted role (`manager` is not granted: it comes from
/// leading a team); [`GrantableRole::parse`] reads the path segment into a [`Role`].
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum GrantableRole {
    Hr,
    Admin,
}

impl GrantableRole {
    /// Exactly `hr` or `admin`: the path segment is the role, untrimmed.
    pub fn parse(raw: &str) -> Result<Role, ApiError> {
        match raw {
            "hr" => Ok(Role::Hr),
            "admin" => Ok(Role::Admin),
            _ => Err(ApiError::validation("role", "must be hr or admin")),
        }
    }
}

/// Grants `hr` or `admin` (from [`GrantableRole::parse`]): the one implementation
/// behind `PUT /api/v1/people/{id}/roles/{role}`, the console and
/// `safepulse admin invite`.
pub async fn grant(
    state: &AppState,
    actor: &str,
    person_id: PersonId,
    role: Role,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    let person = org::get_person(&db, person_id).await?;
    org::grant_role(&db, person_id, role.as_str(), now).await?;
    audit::record(
        &db,
        now,
        AuditEvent {
            actor,
            action: "role.granted",
            team_id: person.team_id,
            target: Some(person_id.to_string()),
            details: serde_json::json!({ "role": role.as_str() }),
        },
    )
    .await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(())
}

/// Grants `hr` or `admin` to a person (for signing in to the web pages).
#[utoipa::path(
    put, path = "/api/v1/people/{id}/roles/{role}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Person id"), ("role" = GrantableRole, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem))
)]
#[put("/api/v1/people/{id}/roles/{role}")]
pub async fn grant_role(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(PersonId, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (person_id, role) = path.into_inner();
    let role = GrantableRole::parse(&role)?;
    grant(&state, &caller.subject, person_id, role).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Takes a role away and revokes the person's tokens and sessions of that role: the
/// one implementation behind `DELETE /api/v1/people/{id}/roles/{role}` and the
/// console.
pub async fn revoke(
    state: &AppState,
    actor: &str,
    person_id: PersonId,
    role: Role,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    let person = org::get_person(&db, person_id).await?;
    org::revoke_role(&db, person_id, role.as_str()).await?;
    let revoked =
        tokens::revoke_of_person(&db, person_id, &[&person.email], Some(role), now).await?;
    audit::record(
        &db,
        now,
        AuditEvent {
            actor,
            action: "role.revoked",
            team_id: person.team_id,
            target: Some(person_id.to_string()),
            details: serde_json::json!({ "role": role.as_str(), "revoked_jtis": revoked }),
        },
    )
    .await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(())
}

/// Takes `hr` or `admin` away from a person and revokes their tokens and sessions of
/// that role.
#[utoipa::path(
    delete, path = "/api/v1/people/{id}/roles/{role}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Person id"), ("role" = GrantableRole, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem, description = "No such person, or the person does not hold the role"),
              (status = 422, body = Problem))
)]
#[delete("/api/v1/people/{id}/roles/{role}")]
pub async fn revoke_role(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(PersonId, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (person_id, role) = path.into_inner();
    let role = GrantableRole::parse(&role)?;
    revoke(&state, &caller.subject, person_id, role).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Apply the valid rows even when some rows are invalid (default: apply nothing then).
    #[serde(default)]
    pub partial: bool,
}

/// Imports people from CSV (`email,name,team,leads,time_zone,locale`; team as a path
/// such as `Engineering/Platform`; UTF-8, comma-separated, at most 50,000 rows and
/// 32 MiB). An idempotent upsert by email: rows that already match are `unchanged`.
/// Names follow the rule of `Name`. Applies nothing when any row is invalid, unless
/// `partial=true`; every problem of a row is reported.
#[utoipa::path(
    post, path = "/api/v1/people/import", tag = "organisation", security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport, description = "Applied (check `rejected` with partial=true)"),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 413, body = Problem, description = "The file is larger than 32 MiB (`payload_too_large`)"),
              (status = 415, body = Problem, description = "Not `text/csv` in UTF-8 (`unsupported_media_type`)"),
              (status = 422, body = ImportReport, description = "Invalid rows, or no header; nothing applied"))
)]
#[post("/api/v1/people/import")]
pub async fn import_people(
    caller: Caller,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<ImportQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    if !is_csv_in_utf8(&request) {
        return Err(ApiError::UnsupportedMediaType {
            expected: "text/csv (charset utf-8)",
        });
    }
    // Its own limit, above `max_body_bytes`: the largest import must fit.
    let body = match body.to_bytes_limited(import::MAX_IMPORT_BYTES).await {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => return Err(ApiError::BadRequest(format!("reading the body: {error}"))),
        Err(_) => {
            return Err(ApiError::PayloadTooLarge {
                limit: import::MAX_IMPORT_BYTES,
            });
        }
    };
    let report = import::import_people(
        &state.store,
        &body,
        query.partial,
        &caller.subject,
        state.clock.now(),
    )
    .await?;
    let status = if report.applied {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(HttpResponse::build(status).json(report))
}

/// `text/csv`, with no charset or UTF-8 (`text/csvfoo` or `text/csv; charset=latin1`
/// is not).
fn is_csv_in_utf8(request: &HttpRequest) -> bool {
    use actix_web::HttpMessage;
    use actix_web::mime;
    match request.mime_type() {
        Ok(Some(media_type)) => {
            media_type.type_() == mime::TEXT
                && media_type.subtype() == mime::CSV
                && media_type
                    .get_param(mime::CHARSET)
                    .is_none_or(|charset| charset.as_str().eq_ignore_ascii_case("utf-8"))
        }
        _ => false,
    }
}
