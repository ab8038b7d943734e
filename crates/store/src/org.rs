//! Teams, people and who leads what: the organisation the pulses go to.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use safepulse_domain::{Email, Locale, Name, PersonId, Role, TeamId, TimeZone};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::entities::{person, role_grant, round_node, survey_team, team, team_leader};
use crate::{Conflict, StoreError};

/// A page of a list ordered by id; `next` is the cursor for the following page.
#[derive(Debug, Clone)]
pub struct Page<T, Id> {
    pub items: Vec<T>,
    pub next: Option<Id>,
}

pub(crate) fn into_page<T, Id>(
    mut rows: Vec<T>,
    limit: u64,
    id_of: impl Fn(&T) -> Id,
) -> Page<T, Id> {
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(&id_of)
    } else {
        None
    };
    Page { items: rows, next }
}

// Teams ---------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub name: Name,
    pub parent_id: Option<TeamId>,
    pub time_zone: TimeZone,
}

pub async fn create_team(
    db: &impl ConnectionTrait,
    new: NewTeam,
    now: DateTime<Utc>,
) -> Result<team::Model, StoreError> {
    if let Some(parent) = new.parent_id {
        get_team(db, parent)
            .await
            .map_err(missing_as(Conflict::ParentNotFound))?;
    }
    ensure_sibling_name_free(db, new.parent_id, new.name.as_str(), None).await?;
    let model = team::ActiveModel {
        id: Set(TeamId::random()),
        name: Set(new.name.into_string()),
        parent_id: Set(new.parent_id),
        time_zone: Set(new.time_zone.name().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(model.insert(db).await?)
}

/// Two teams under the same parent may not share a name: import paths
/// ("Engineering/Platform") must resolve to exactly one team.
async fn ensure_sibling_name_free(
    db: &impl ConnectionTrait,
    parent_id: Option<TeamId>,
    name: &str,
    except: Option<TeamId>,
) -> Result<(), StoreError> {
    let mut query = team::Entity::find().filter(team::Column::Name.eq(name));
    query = match parent_id {
        Some(parent) => query.filter(team::Column::ParentId.eq(parent)),
        None => query.filter(team::Column::ParentId.is_null()),
    };
    if let Some(except) = except {
        query = query.filter(team::Column::Id.ne(except));
    }
    if query.count(db).await? > 0 {
        return Err(StoreError::Conflict(Conflict::TeamNameTaken));
    }
    Ok(())
}

/// A referenced row that does not exist is `conflict`; any other failure (the
/// database unavailable, say) stays what it is.
fn missing_as(conflict: Conflict) -> impl Fn(StoreError) -> StoreError {
    move |error| match error {
        StoreError::NotFound => StoreError::Conflict(conflict),
        other => other,
    }
}

pub async fn get_team(db: &impl ConnectionTrait, id: TeamId) -> Result<team::Model, StoreError> {
    team::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list_teams(
    db: &impl ConnectionTrait,
    after: Option<TeamId>,
    limit: u64,
) -> Result<Page<team::Model, TeamId>, StoreError> {
    let mut query = team::Entity::find()
        .order_by_asc(team::Column::Id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(team::Column::Id.gt(after));
    }
    Ok(into_page(query.all(db).await?, limit, |team| team.id))
}

pub async fn all_teams(db: &impl ConnectionTrait) -> Result<Vec<team::Model>, StoreError> {
    Ok(team::Entity::find()
        .order_by_asc(team::Column::Id)
        .all(db)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct TeamChanges {
    pub name: Option<Name>,
    pub time_zone: Option<TimeZone>,
    /// `Some(None)` moves the team to the top level.
    pub parent_id: Option<Option<TeamId>>,
}

pub async fn update_team(
    db: &impl ConnectionTrait,
    id: TeamId,
    changes: TeamChanges,
    now: DateTime<Utc>,
) -> Result<team::Model, StoreError> {
    let current = get_team(db, id).await?;
    let parent_id = changes.parent_id.unwrap_or(current.parent_id);
    if let (Some(new_parent), Some(_)) = (parent_id, changes.parent_id) {
        ensure_not_own_ancestor(db, id, new_parent).await?;
    }
    let name = changes
        .name
        .clone()
        .map_or_else(|| current.name.clone(), Name::into_string);
    if changes.name.is_some() || changes.parent_id.is_some() {
        ensure_sibling_name_free(db, parent_id, &name, Some(id)).await?;
    }
    let mut model: team::ActiveModel = current.into();
    model.name = Set(name);
    model.parent_id = Set(parent_id);
    if let Some(time_zone) = changes.time_zone {
        model.time_zone = Set(time_zone.name().to_owned());
    }
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

/// Refuses a move that would make `team` its own ancestor (a cycle).
async fn ensure_not_own_ancestor(
    db: &impl ConnectionTrait,
    team_id: TeamId,
    new_parent: TeamId,
) -> Result<(), StoreError> {
    let parents: HashMap<TeamId, Option<TeamId>> = all_teams(db)
        .await?
        .into_iter()
        .map(|team| (team.id, team.parent_id))
        .collect();
    if !parents.contains_key(&new_parent) {
        return Err(StoreError::Conflict(Conflict::ParentNotFound));
    }
    let mut cursor = Some(new_parent);
    let mut seen = HashSet::new();
    while let Some(node) = cursor {
        if node == team_id || !seen.insert(node) {
            return Err(StoreError::Conflict(Conflict::TeamCycle));
        }
        cursor = parents.get(&node).copied().flatten();
    }
    Ok(())
}

/// Deletes a team that nothing depends on: no sub-teams and no people
/// (`team_not_empty`), in no survey's audience (`team_in_survey`), and in no round's
/// snapshot (`team_has_rounds`: its reports would lose their team).
pub async fn delete_team(db: &impl ConnectionTrait, id: TeamId) -> Result<(), StoreError> {
    get_team(db, id).await?;
    let children = team::Entity::find()
        .filter(team::Column::ParentId.eq(id))
        .count(db)
        .await?;
    let members = person::Entity::find()
        .filter(person::Column::TeamId.eq(id))
        .count(db)
        .await?;
    if children > 0 || members > 0 {
        return Err(StoreError::Conflict(Conflict::TeamNotEmpty));
    }
    let surveys = survey_team::Entity::find()
        .filter(survey_team::Column::TeamId.eq(id))
        .count(db)
        .await?;
    if surveys > 0 {
        return Err(StoreError::Conflict(Conflict::TeamInSurvey));
    }
    let rounds = round_node::Entity::find()
        .filter(round_node::Column::TeamId.eq(id))
        .count(db)
        .await?;
    if rounds > 0 {
        return Err(StoreError::Conflict(Conflict::TeamHasRounds));
    }
    team::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

// People --------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct NewPerson {
    pub email: Email,
    pub name: Name,
    /// `None`: a person who holds role grants only and is never surveyed.
    pub team_id: Option<TeamId>,
    pub locale: Locale,
    pub time_zone: Option<TimeZone>,
}

pub async fn create_person(
    db: &impl ConnectionTrait,
    new: NewPerson,
    now: DateTime<Utc>,
) -> Result<person::Model, StoreError> {
    if let Some(team_id) = new.team_id {
        get_team(db, team_id)
            .await
            .map_err(missing_as(Conflict::TeamNotFound))?;
    }
    let model = person::ActiveModel {
        id: Set(PersonId::random()),
        email: Set(new.email.as_str().to_owned()),
        name: Set(new.name.into_string()),
        team_id: Set(new.team_id),
        locale: Set(new.locale.as_str().to_owned()),
        time_zone: Set(new.time_zone.map(|zone| zone.name().to_owned())),
        active: Set(true),
        undeliverable: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(model.insert(db).await?)
}

pub async fn get_person(
    db: &impl ConnectionTrait,
    id: PersonId,
) -> Result<person::Model, StoreError> {
    person::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn find_person_by_email(
    db: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<person::Model>, StoreError> {
    Ok(person::Entity::find()
        .filter(person::Column::Email.eq(email.as_str()))
        .one(db)
        .await?)
}

pub async fn list_people(
    db: &impl ConnectionTrait,
    after: Option<PersonId>,
    limit: u64,
) -> Result<Page<person::Model, PersonId>, StoreError> {
    let mut query = person::Entity::find()
        .order_by_asc(person::Column::Id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(person::Column::Id.gt(after));
    }
    Ok(into_page(query.all(db).await?, limit, |person| person.id))
}

/// People whose name or address contains `text` (any letter case), by name, at
/// most `limit`; everybody when `text` is empty.
pub async fn search_people(
    db: &impl ConnectionTrait,
    text: &str,
    limit: u64,
) -> Result<Vec<person::Model>, StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    let mut query = person::Entity::find()
        .order_by_asc(person::Column::Name)
        .order_by_asc(person::Column::Id)
        .limit(limit);
    if !text.is_empty() {
        let escaped: String = text
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        let contains = |column: person::Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(
            sea_orm::Condition::any()
                .add(contains(person::Column::Name))
                .add(contains(person::Column::Email)),
        );
    }
    Ok(query.all(db).await?)
}

#[derive(Debug, Clone, Default)]
pub struct PersonChanges {
    pub name: Option<Name>,
    pub email: Option<Email>,
    /// `Some(None)` takes the person out of every team (role grants only).
    pub team_id: Option<Option<TeamId>>,
    pub locale: Option<Locale>,
    pub time_zone: Option<Option<TimeZone>>,
    pub active: Option<bool>,
}

pub async fn update_person(
    db: &impl ConnectionTrait,
    id: PersonId,
    changes: PersonChanges,
    now: DateTime<Utc>,
) -> Result<person::Model, StoreError> {
    let current = get_person(db, id).await?;
    if let Some(Some(team_id)) = changes.team_id {
        get_team(db, team_id)
            .await
            .map_err(missing_as(Conflict::TeamNotFound))?;
    }
    let mut model: person::ActiveModel = current.into();
    if let Some(name) = changes.name {
        model.name = Set(name.into_string());
    }
    if let Some(email) = changes.email {
        model.email = Set(email.as_str().to_owned());
        // A corrected address gets another chance at delivery.
        model.undeliverable = Set(false);
    }
    if let Some(team_id) = changes.team_id {
        model.team_id = Set(team_id);
    }
    if let Some(locale) = changes.locale {
        model.locale = Set(locale.as_str().to_owned());
    }
    if let Some(time_zone) = changes.time_zone {
        model.time_zone = Set(time_zone.map(|zone| zone.name().to_owned()));
    }
    if let Some(active) = changes.active {
        model.active = Set(active);
    }
    model.updated_at = Set(now);
    Ok(model.update(db).await?)
}

/// Deletes a person and, through the schema's cascades, their leaderships, role
/// grants, invitations and queued emails. Answers never referred to them.
pub async fn erase_person(
    db: &impl ConnectionTrait,
    id: PersonId,
) -> Result<person::Model, StoreError> {
    let person = get_person(db, id).await?;
    person::Entity::delete_by_id(id).exec(db).await?;
    Ok(person)
}

pub async fn mark_undeliverable(
    db: &impl ConnectionTrait,
    email: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    person::Entity::update_many()
        .col_expr(person::Column::Undeliverable, true.into())
        .col_expr(person::Column::UpdatedAt, now.into())
        .filter(person::Column::Email.eq(email))
        .exec(db)
        .await?;
    Ok(())
}

// Leadership and roles ------------------------------------------------------

pub async fn add_leader(
    db: &impl ConnectionTrait,
    team_id: TeamId,
    person_id: PersonId,
) -> Result<(), StoreError> {
    get_team(db, team_id).await?;
    get_person(db, person_id)
        .await
        .map_err(missing_as(Conflict::PersonNotFound))?;
    team_leader::Entity::insert(team_leader::ActiveModel {
        team_id: Set(team_id),
        person_id: Set(person_id),
    })
    .on_conflict_do_nothing_on([team_leader::Column::TeamId, team_leader::Column::PersonId])
    .exec(db)
    .await?;
    Ok(())
}

pub async fn remove_leader(
    db: &impl ConnectionTrait,
    team_id: TeamId,
    person_id: PersonId,
) -> Result<(), StoreError> {
    let result = team_leader::Entity::delete_by_id((team_id, person_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn leaders_of(
    db: &impl ConnectionTrait,
    team_id: TeamId,
) -> Result<Vec<person::Model>, StoreError> {
    let ids: Vec<PersonId> = team_leader::Entity::find()
        .filter(team_leader::Column::TeamId.eq(team_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.person_id)
        .collect();
    Ok(person::Entity::find()
        .filter(person::Column::Id.is_in(ids))
        .order_by_asc(person::Column::Email)
        .all(db)
        .await?)
}

pub async fn teams_led_by(
    db: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<Vec<TeamId>, StoreError> {
    Ok(team_leader::Entity::find()
        .filter(team_leader::Column::PersonId.eq(person_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.team_id)
        .collect())
}

pub async fn all_leaderships(
    db: &impl ConnectionTrait,
) -> Result<Vec<team_leader::Model>, StoreError> {
    Ok(team_leader::Entity::find().all(db).await?)
}

pub async fn grant_role(
    db: &impl ConnectionTrait,
    person_id: PersonId,
    role: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    role_grant::Entity::insert(role_grant::ActiveModel {
        person_id: Set(person_id),
        role: Set(role.to_owned()),
        granted_at: Set(now),
    })
    .on_conflict_do_nothing_on([role_grant::Column::PersonId, role_grant::Column::Role])
    .exec(db)
    .await?;
    Ok(())
}

/// Takes a role grant away; `NotFound` when the person does not hold it.
pub async fn revoke_role(
    db: &impl ConnectionTrait,
    person_id: PersonId,
    role: &str,
) -> Result<(), StoreError> {
    let result = role_grant::Entity::delete_by_id((person_id, role.to_owned()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Whether a person holds `role` now: they exist, are active, and have a grant of
/// it (admin, hr) or lead a team (manager); nobody holds scim. A person's tokens are
/// worth exactly this.
pub async fn holds_role(
    db: &impl ConnectionTrait,
    person_id: PersonId,
    role: Role,
) -> Result<bool, StoreError> {
    let Some(person) = person::Entity::find_by_id(person_id).one(db).await? else {
        return Ok(false);
    };
    if !person.active {
        return Ok(false);
    }
    let held = match role {
        Role::Admin | Role::Hr => {
            role_grant::Entity::find_by_id((person_id, role.as_str().to_owned()))
                .one(db)
                .await?
                .is_some()
        }
        Role::Manager => {
            team_leader::Entity::find()
                .filter(team_leader::Column::PersonId.eq(person_id))
                .count(db)
                .await?
                > 0
        }
        // Only service tokens carry scim (an identity provider, not a person).
        Role::Scim => false,
    };
    Ok(held)
}

pub async fn roles_of(
    db: &impl ConnectionTrait,
    person_id: PersonId,
) -> Result<Vec<String>, StoreError> {
    Ok(role_grant::Entity::find()
        .filter(role_grant::Column::PersonId.eq(person_id))
        .all(db)
        .await?
        .into_iter()
        .map(|grant| grant.role)
        .collect())
}

pub async fn all_role_grants(
    db: &impl ConnectionTrait,
) -> Result<Vec<role_grant::Model>, StoreError> {
    Ok(role_grant::Entity::find().all(db).await?)
}
