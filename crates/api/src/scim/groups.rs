//! `/scim/v2/Groups`: teams as SCIM Groups. `members` are the people whose team
//! it is; a person has one team, so adding them to a Group moves them there (out
//! of any other), and removing them leaves them without a team (never surveyed
//! until a Group takes them again). Every move goes through
//! [`people::update_in`], so it is audited and counts as a membership change for
//! the next round ("not comparable").
//!
//! Nesting: the extension [`TEAM_EXTENSION`] carries `parent`, a reference to the
//! parent Group (its id or its location; absent or `null`: a top-level team). A
//! request without the extension leaves the team where it is; a new team follows
//! its parent's time zone (the console and the API set another); a Group as a member of another is refused (SCIM's nested
//! groups would make a team a member of several parents).

use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use safepulse_domain::{PersonId, TeamId};
use safepulse_store::entities::{person, team};
use safepulse_store::{StoreError, org, scim};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::{
    ListRequest, ScimCaller, attribute, filter, list_response, location, meta, parse_id, patch,
    read_object, scim_json, string_attribute,
};
use crate::error::ApiError;
use crate::routes::people::{self, UpdatePerson};
use crate::routes::teams::{self, CreateTeam, UpdateTeam};
use crate::state::AppState;

/// The core Group schema's URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// safepulse's extension of Group: where a team sits and its time zone.
pub const TEAM_EXTENSION: &str = "urn:safepulse:params:scim:schemas:extension:team:2.0:Group";

/// Where a team sits, from the extension: under `parent`, or at the top.
#[derive(Debug, Clone, PartialEq)]
struct Placement {
    parent: Option<TeamId>,
}

#[derive(Debug, Clone, PartialEq)]
struct GroupInput {
    display_name: String,
    external_id: Option<String>,
    members: Vec<PersonId>,
    placement: Option<Placement>,
}

impl GroupInput {
    fn parse(object: &Map<String, Value>) -> Result<GroupInput, ScimError> {
        let display_name = string_attribute(object, "displayName")?
            .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
        let members = match attribute(object, "members") {
            None => Vec::new(),
            Some(Value::Array(members)) => {
                members.iter().map(member_id).collect::<Result<_, _>>()?
            }
            Some(_) => return Err(ScimError::invalid_value("members must be a list")),
        };
        let placement = match attribute(object, TEAM_EXTENSION) {
            None => None,
            Some(Value::Object(extension)) => Some(Placement {
                parent: string_attribute(extension, "parent")?
                    .map(|raw| group_reference(&raw))
                    .transpose()?,
            }),
            Some(_) => {
                return Err(ScimError::invalid_value(
                    "the team extension must be an object",
                ));
            }
        };
        Ok(GroupInput {
            display_name,
            external_id: string_attribute(object, "externalId")?,
            members,
            placement,
        })
    }
}

/// A member's `value`: a User's id. A Group as a member is refused.
fn member_id(member: &Value) -> Result<PersonId, ScimError> {
    let member = member
        .as_object()
        .ok_or_else(|| ScimError::invalid_value("a member is an object with a value"))?;
    if string_attribute(member, "type")?.is_some_and(|kind| kind.eq_ignore_ascii_case("Group")) {
        return Err(ScimError::invalid_value(format!(
            "a Group cannot be a member: nest teams with {TEAM_EXTENSION}:parent"
        )));
    }
    let value = string_attribute(member, "value")?
        .ok_or_else(|| ScimError::invalid_value("a member needs a value"))?;
    value
        .trim()
        .parse()
        .map_err(|_| ScimError::invalid_value(format!("member {value:?} is not a User's id")))
}

/// A parent Group named by its id or by its location (`…/Groups/{id}`).
fn group_reference(raw: &str) -> Result<TeamId, ScimError> {
    let id = raw.trim().rsplit('/').next().unwrap_or_default();
    id.parse()
        .map_err(|_| ScimError::invalid_value(format!("parent {raw:?} is not a Group's id")))
}

fn group_json(
    state: &AppState,
    team: &team::Model,
    external_id: Option<&String>,
    members: &[&person::Model],
) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|person| {
            json!({
                "value": person.id,
                "$ref": location(state, &format!("/Users/{}", person.id)),
            })
        })
        .collect();
    let mut group = json!({
        "schemas": [GROUP_SCHEMA],
        "id": team.id,
        "displayName": team.name,
        "members": members,
        "meta": meta("Group", location(state, &format!("/Groups/{}", team.id)), team.created_at, team.updated_at),
    });
    // A top-level team has no extension: removing it moves a team to the top.
    if let Some(parent) = team.parent_id {
        group["schemas"] = json!([GROUP_SCHEMA, TEAM_EXTENSION]);
        group[TEAM_EXTENSION] = json!({ "parent": location(state, &format!("/Groups/{parent}")) });
    }
    if let Some(external_id) = external_id {
        group["externalId"] = external_id.as_str().into();
    }
    group
}

/// Renders teams as Groups: external ids and members read in two queries.
pub(super) async fn groups_json(
    state: &AppState,
    db: &impl ConnectionTrait,
    teams: &[team::Model],
) -> Result<Vec<Value>, ScimError> {
    let ids: Vec<TeamId> = teams.iter().map(|team| team.id).collect();
    let external = scim::groups_of(db, &ids).await?;
    let people = scim::members_of(db, &ids).await?;
    let mut members: HashMap<TeamId, Vec<&person::Model>> = HashMap::new();
    for person in &people {
        if let Some(team_id) = person.team_id {
            members.entry(team_id).or_default().push(person);
        }
    }
    Ok(teams
        .iter()
        .map(|team| {
            let own = members.get(&team.id).map_or(&[][..], Vec::as_slice);
            group_json(state, team, external.get(&team.id), own)
        })
        .collect())
}

async fn one_group(
    state: &AppState,
    db: &impl ConnectionTrait,
    id: TeamId,
) -> Result<Value, ScimError> {
    let team = org::get_team(db, id).await?;
    let mut groups = groups_json(state, db, std::slice::from_ref(&team)).await?;
    Ok(groups.pop().unwrap_or_default())
}

/// `GET /Groups` with `filter` (`displayName eq "…"`), `startIndex`, `count`,
/// `attributes`, `excludedAttributes`.
pub async fn list(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    answer_list(&state, ListRequest::from_query(&request)?).await
}

/// `POST /Groups/.search`.
pub async fn search(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let object = read_object(&request, &state, body).await?;
    answer_list(&state, ListRequest::from_search(&object)?).await
}

async fn answer_list(state: &AppState, request: ListRequest) -> Result<HttpResponse, ScimError> {
    let db = state.store.connection();
    let (teams, total) = match &request.filter {
        Some(raw) => {
            let equality = filter::parse(raw)?;
            if !equality.is("displayName") {
                return Err(ScimError::bad_request(
                    "invalidFilter",
                    "Groups are filtered by displayName only",
                ));
            }
            let found = scim::teams_named(db, &equality.value).await?;
            let total = found.len() as u64;
            let page = found
                .into_iter()
                .skip((request.start_index - 1) as usize)
                .take(request.count as usize)
                .collect();
            (page, total)
        }
        None => {
            let page = scim::teams_page(db, request.start_index - 1, request.count).await?;
            (page.items, page.total)
        }
    };
    let groups = groups_json(state, db, &teams).await?;
    Ok(list_response(&request, total, groups))
}

/// `GET /Groups/{id}`.
pub async fn get(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let id = parse_id(&id)?;
    let list = ListRequest::from_query(&request)?;
    let group = one_group(&state, state.store.connection(), id).await?;
    Ok(scim_json(StatusCode::OK, &list.attributes.project(group)))
}

/// Makes `wanted` the people of team `team_id`: the others leave it (no team),
/// the new ones move into it, each through [`people::update_in`].
async fn set_members(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    team_id: TeamId,
    wanted: &[PersonId],
) -> Result<(), ScimError> {
    let current: HashSet<PersonId> = scim::members_of(db, &[team_id])
        .await?
        .into_iter()
        .map(|person| person.id)
        .collect();
    let wanted_set: HashSet<PersonId> = wanted.iter().copied().collect();
    let move_to = |team: Option<TeamId>| UpdatePerson {
        email: None,
        name: None,
        team_id: Some(team),
        locale: None,
        time_zone: None,
        active: None,
    };
    for leaving in current.difference(&wanted_set) {
        people::update_in(db, actor, now, *leaving, move_to(None)).await?;
    }
    for joining in wanted_set.difference(&current) {
        match people::update_in(db, actor, now, *joining, move_to(Some(team_id))).await {
            Ok(_) => {}
            Err(ApiError::NotFound) => {
                return Err(ScimError::invalid_value(format!(
                    "member {joining} is not a User"
                )));
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

/// `POST /Groups`: a new team with its members.
pub async fn create(
    caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let object = read_object(&request, &state, body).await?;
    let input = GroupInput::parse(&object)?;
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    let body = CreateTeam {
        name: input.display_name.clone(),
        parent_id: input
            .placement
            .as_ref()
            .and_then(|placement| placement.parent),
        // A new team follows its parent's zone (UTC at the top); the console and
        // the API change it.
        time_zone: None,
    };
    let team = teams::create_in(&db, &caller.subject, now, body).await?;
    scim::set_group(&db, team.id, input.external_id.as_deref()).await?;
    set_members(&db, &caller.subject, now, team.id, &input.members).await?;
    db.commit().await.map_err(StoreError::from)?;
    let group = one_group(&state, state.store.connection(), team.id).await?;
    let mut response = super::scim_response(StatusCode::CREATED);
    response.insert_header((
        actix_web::http::header::LOCATION,
        location(&state, &format!("/Groups/{}", team.id)),
    ));
    Ok(response.body(group.to_string()))
}

/// Stores a whole Group over team `id` (PUT, and PATCH after its operations).
async fn store_replacement(
    db: &DatabaseTransaction,
    actor: &str,
    now: DateTime<Utc>,
    id: TeamId,
    input: &GroupInput,
) -> Result<(), ScimError> {
    let team = org::get_team(db, id).await?;
    let name = (team.name != input.display_name).then(|| input.display_name.clone());
    let parent_id = input
        .placement
        .as_ref()
        .filter(|placement| placement.parent != team.parent_id)
        .map(|placement| placement.parent);
    if name.is_some() || parent_id.is_some() {
        let change = UpdateTeam {
            name,
            time_zone: None,
            parent_id,
        };
        teams::update_in(db, actor, now, id, change).await?;
    }
    scim::set_group(db, id, input.external_id.as_deref()).await?;
    set_members(db, actor, now, id, &input.members).await
}

/// `PUT /Groups/{id}`: name, members (those left out leave the team) and, with the
/// extension, place and zone.
pub async fn replace(
    caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let id = parse_id(&id)?;
    let object = read_object(&request, &state, body).await?;
    let input = GroupInput::parse(&object)?;
    let db = state.store.begin_write().await?;
    store_replacement(&db, &caller.subject, state.clock.now(), id, &input).await?;
    db.commit().await.map_err(StoreError::from)?;
    let group = one_group(&state, state.store.connection(), id).await?;
    Ok(scim_json(StatusCode::OK, &group))
}

/// `PATCH /Groups/{id}`: the operations applied to the Group as it is (members
/// added or removed, renamed, moved), then stored as a PUT of the result.
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
    let Value::Object(mut group) = one_group(&state, &db, id).await? else {
        return Err(ScimError::not_found("no such Group"));
    };
    patch::apply(&mut group, &operations, GROUP_SCHEMA, &[TEAM_EXTENSION])?;
    // The Group as it is shows the extension exactly when the team has a parent,
    // so after the operations its absence means the top level.
    if attribute(&group, TEAM_EXTENSION).is_none() {
        group.insert(TEAM_EXTENSION.to_owned(), json!({}));
    }
    let input = GroupInput::parse(&group)?;
    store_replacement(&db, &caller.subject, state.clock.now(), id, &input).await?;
    db.commit().await.map_err(StoreError::from)?;
    let group = one_group(&state, state.store.connection(), id).await?;
    Ok(scim_json(StatusCode::OK, &group))
}

/// `DELETE /Groups/{id}`: its members leave the team, then the team goes, as
/// `DELETE /api/v1/teams/{id}` deletes it (409 while it has sub-teams, a survey
/// asks it, or a round holds it: its reports would lose their team).
pub async fn delete(
    caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = parse_id(&id)?;
    let now = state.clock.now();
    let db = state.store.begin_write().await?;
    org::get_team(&db, id).await?;
    set_members(&db, &caller.subject, now, id, &[]).await?;
    teams::delete_in(&db, &caller.subject, now, id).await?;
    db.commit().await.map_err(StoreError::from)?;
    Ok(super::scim_response(StatusCode::NO_CONTENT).finish())
}
