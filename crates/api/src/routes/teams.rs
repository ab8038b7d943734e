//! Teams and their leaders (admin).

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use safepulse_domain::{PersonId, Role, TeamId, TimeZone};
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::entities::team;
use safepulse_store::org::{self, NewTeam, TeamChanges};
use safepulse_store::tokens;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::people::PersonDto;
use super::{JsonObject, Page, PageQuery, absent_or_nullable, parse_name};
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::openapi::{NameSchema, TimeZoneSchema};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamDto {
    #[schema(value_type = Uuid)]
    pub id: TeamId,
    pub name: String,
    /// The team above this one; absent for a top-level team.
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<TeamId>,
    /// IANA time zone pulses are scheduled in, e.g. `Europe/Berlin`.
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<team::Model> for TeamDto {
    fn from(team: team::Model) -> Self {
        TeamDto {
            id: team.id,
            name: team.name,
            parent_id: team.parent_id,
            time_zone: team.time_zone,
            created_at: team.created_at,
            updated_at: team.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// Unique among its siblings.
    #[schema(value_type = NameSchema)]
    pub name: String,
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<TeamId>,
    /// Defaults to the parent's, or UTC at the top level.
    #[schema(value_type = Option<TimeZoneSchema>)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    #[schema(value_type = Option<NameSchema>)]
    pub name: Option<String>,
    #[schema(value_type = Option<TimeZoneSchema>)]
    pub time_zone: Option<String>,
    /// Moves the team; `null` makes it a top-level team. A team cannot move below itself.
    #[serde(default, deserialize_with = "absent_or_nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<TeamId>>,
}

fn parse_time_zone(raw: &str, errors: &mut Vec<FieldError>) -> Option<TimeZone> {
    TimeZone::parse(raw)
        .map_err(|error| errors.push(FieldError::new("time_zone", error)))
        .ok()
}

/// Creates a team: the one implementation behind `POST /api/v1/teams` and the admin
/// console's form.
pub async fn create(
    state: &AppState,
    actor: &str,
    body: CreateTeam,
) -> Result<team::Model, ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    let team = create_in(&db, actor, now, body).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(team)
}

/// [`create`] inside the caller's write transaction (SCIM provisioning records the
/// group's `externalId` and members in the same one).
pub async fn create_in(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    body: CreateTeam,
) -> Result<team::Model, ApiError> {
    let mut errors = Vec::new();
    let name = parse_name("name", &body.name, &mut errors);
    let explicit_zone = body
        .time_zone
        .as_deref()
        .map(|raw| parse_time_zone(raw, &mut errors));
    let (Some(name), true) = (name, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let time_zone = match (explicit_zone.flatten(), body.parent_id) {
        (Some(zone), _) => zone,
        (None, Some(parent)) => match org::get_team(db, parent).await {
            Ok(parent) => TimeZone::parse(&parent.time_zone).unwrap_or_default(),
            Err(safepulse_store::StoreError::NotFound) => {
                return Err(safepulse_store::StoreError::Conflict(
                    safepulse_store::Conflict::ParentNotFound,
                )
                .into());
            }
            Err(other) => return Err(other.into()),
        },
        (None, None) => TimeZone::default(),
    };
    let team = org::create_team(
        db,
        NewTeam {
            name,
            parent_id: body.parent_id,
            time_zone,
        },
        now,
    )
    .await?;
    audit::record(
        db,
        now,
        AuditEvent {
            actor,
            action: "team.created",
            team_id: Some(team.id),
            target: Some(team.name.clone()),
            details: serde_json::json!({ "parent_id": team.parent_id }),
        },
    )
    .await?;
    Ok(team)
}

/// Creates a team.
#[utoipa::path(
    post, path = "/api/v1/teams", tag = "organisation", security(("bearer" = [])), request_body = CreateTeam,
    responses((status = 201, body = TeamDto, headers(("Location" = String, description = "The created resource"))), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem))
)]
#[post("/api/v1/teams")]
pub async fn create_team(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<CreateTeam>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let team = create(&state, &caller.subject, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/teams/{}", team.id),
        ))
        .json(TeamDto::from(team)))
}

/// Lists teams, ordered by id.
#[utoipa::path(
    get, path = "/api/v1/teams", tag = "organisation", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<TeamDto>), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/api/v1/teams")]
pub async fn list_teams(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<TeamDto>>, ApiError> {
    caller.require_any(&[Role::Admin, Role::Hr])?;
    let page = org::list_teams(
        state.store.connection(),
        query.cursor.map(TeamId),
        query.limit()?,
    )
    .await?;
    Ok(web::Json(Page {
        items: page.items.into_iter().map(TeamDto::from).collect(),
        next_cursor: page.next.map(|id| id.0),
    }))
}

/// Reads one team.
#[utoipa::path(
    get, path = "/api/v1/teams/{id}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Team id")),
    responses((status = 200, body = TeamDto), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/api/v1/teams/{id}")]
pub async fn get_team(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> Result<web::Json<TeamDto>, ApiError> {
    caller.require_any(&[Role::Admin, Role::Hr])?;
    Ok(web::Json(
        org::get_team(state.store.connection(), *id).await?.into(),
    ))
}

/// Renames, re-zones or moves a team: the one implementation behind
/// `PATCH /api/v1/teams/{id}` and the admin console's form.
pub async fn update(
    state: &AppState,
    actor: &str,
    id: TeamId,
    body: UpdateTeam,
) -> Result<team::Model, ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    let team = update_in(&db, actor, now, id, body).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(team)
}

/// [`update`] inside the caller's write transaction (SCIM provisioning).
pub async fn update_in(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    id: TeamId,
    body: UpdateTeam,
) -> Result<team::Model, ApiError> {
    let mut errors = Vec::new();
    let name = body
        .name
        .as_deref()
        .and_then(|raw| parse_name("name", raw, &mut errors));
    let time_zone = body
        .time_zone
        .as_deref()
        .and_then(|raw| parse_time_zone(raw, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let team = org::update_team(
        db,
        id,
        TeamChanges {
            name,
            time_zone,
            parent_id: body.parent_id,
        },
        now,
    )
    .await?;
    audit::record(db, now, AuditEvent {
        actor,
        action: "team.updated",
        team_id: Some(team.id),
        target: Some(team.name.clone()),
        details: serde_json::json!({ "parent_id": team.parent_id, "time_zone": team.time_zone }),
    })
    .await?;
    Ok(team)
}

/// Renames a team, changes its time zone, or moves it in the hierarchy.
#[utoipa::path(
    patch, path = "/api/v1/teams/{id}", tag = "organisation", security(("bearer" = [])), request_body = UpdateTeam,
    params(("id" = Uuid, Path, description = "Team id")),
    responses((status = 200, body = TeamDto), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem))
)]
#[patch("/api/v1/teams/{id}")]
pub async fn update_team(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
    body: JsonObject<UpdateTeam>,
) -> Result<web::Json<TeamDto>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(web::Json(
        update(&state, &caller.subject, *id, body.0).await?.into(),
    ))
}

/// Deletes a team nothing depends on: the one implementation behind
/// `DELETE /api/v1/teams/{id}` and the admin console.
pub async fn delete(state: &AppState, actor: &str, id: TeamId) -> Result<(), ApiError> {
    let db = state.store.begin_write().await?;
    delete_in(&db, actor, state.clock.now(), id).await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(())
}

/// [`delete`] inside the caller's write transaction (SCIM provisioning takes the
/// group's members out first, in the same one).
pub async fn delete_in(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    id: TeamId,
) -> Result<(), ApiError> {
    org::delete_team(db, id).await?;
    audit::record(
        db,
        now,
        AuditEvent {
            actor,
            action: "team.deleted",
            team_id: Some(id),
            target: None,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// Deletes a team that has no sub-teams and no people, that no survey asks and that
/// no round holds (409 `team_not_empty`, `team_in_survey`, `team_has_rounds`).
#[utoipa::path(
    delete, path = "/api/v1/teams/{id}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Team id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[delete("/api/v1/teams/{id}")]
pub async fn delete_team(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    delete(&state, &caller.subject, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the people who lead a team.
#[utoipa::path(
    get, path = "/api/v1/teams/{id}/leaders", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Team id")),
    responses((status = 200, body = Vec<PersonDto>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/api/v1/teams/{id}/leaders")]
pub async fn list_leaders(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> Result<web::Json<Vec<PersonDto>>, ApiError> {
    caller.require_any(&[Role::Admin, Role::Hr])?;
    let db = state.store.connection();
    org::get_team(db, *id).await?;
    Ok(web::Json(
        org::leaders_of(db, *id)
            .await?
            .into_iter()
            .map(PersonDto::from)
            .collect(),
    ))
}

/// Makes a person a leader of a team: the one implementation behind
/// `PUT /api/v1/teams/{id}/leaders/{person_id}` and the admin console.
pub async fn add_leader_of(
    state: &AppState,
    actor: &str,
    team_id: TeamId,
    person_id: PersonId,
) -> Result<(), ApiError> {
    let db = state.store.begin_write().await?;
    org::add_leader(&db, team_id, person_id).await?;
    audit::record(
        &db,
        state.clock.now(),
        AuditEvent {
            actor,
            action: "team.leader_added",
            team_id: Some(team_id),
            target: Some(person_id.to_string()),
            details: serde_json::json!({}),
        },
    )
    .await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(())
}

/// Makes a person a leader of a team (idempotent).
#[utoipa::path(
    put, path = "/api/v1/teams/{id}/leaders/{person_id}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Team id"), ("person_id" = Uuid, Path, description = "Person id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem))
)]
#[put("/api/v1/teams/{id}/leaders/{person_id}")]
pub async fn add_leader(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(TeamId, PersonId)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (team_id, person_id) = path.into_inner();
    add_leader_of(&state, &caller.subject, team_id, person_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a leader; when they lead no team any more, their manager tokens and
/// sessions are revoked. The one implementation behind
/// `DELETE /api/v1/teams/{id}/leaders/{person_id}` and the admin console.
pub async fn remove_leader_of(
    state: &AppState,
    actor: &str,
    team_id: TeamId,
    person_id: PersonId,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    org::remove_leader(&db, team_id, person_id).await?;
    let revoked = if org::teams_led_by(&db, person_id).await?.is_empty() {
        let person = org::get_person(&db, person_id).await?;
        tokens::revoke_of_person(&db, person_id, &[&person.email], Some(Role::Manager), now).await?
    } else {
        Vec::new()
    };
    audit::record(
        &db,
        now,
        AuditEvent {
            actor,
            action: "team.leader_removed",
            team_id: Some(team_id),
            target: Some(person_id.to_string()),
            details: serde_json::json!({ "revoked_jtis": revoked }),
        },
    )
    .await?;
    db.commit()
        .await
        .map_err(safepulse_store::StoreError::from)?;
    Ok(())
}

/// Removes a person from a team's leaders. When they lead no team any more, their
/// manager tokens and sessions are revoked.
#[utoipa::path(
    delete, path = "/api/v1/teams/{id}/leaders/{person_id}", tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Team id"), ("person_id" = Uuid, Path, description = "Person id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[delete("/api/v1/teams/{id}/leaders/{person_id}")]
pub async fn remove_leader(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(TeamId, PersonId)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (team_id, person_id) = path.into_inner();
    remove_leader_of(&state, &caller.subject, team_id, person_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
