//! What SCIM provisioning keeps beside the organisation: a person's `userName`,
//! `externalId` and name parts (`scim_users`), a team's `externalId` (`scim_groups`), and the
//! index-based pages SCIM lists ask for (`startIndex`, `count`, `totalResults`).
//!
//! People and teams themselves are created, changed and erased through [`crate::org`]
//! by the API's functions, so SCIM goes through the same rules (audit entries,
//! membership history, token revocation). The rows here go with their person or
//! team (`ON DELETE CASCADE`). Nothing here reads a round, an invitation or an
//! answer.

use std::collections::HashMap;

use safepulse_domain::{Email, PersonId, TeamId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entities::{person, scim_group, scim_user, team};
use crate::{Conflict, StoreError};

/// How a `userName` is compared: SCIM's `userName` is not case-exact (RFC 7643 §4.1.1).
pub fn user_name_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

/// The SCIM rows of these people, by person id.
pub async fn users_of(
    db: &impl ConnectionTrait,
    person_ids: &[PersonId],
) -> Result<HashMap<PersonId, scim_user::Model>, StoreError> {
    let mut found = HashMap::new();
    for chunk in person_ids.chunks(500) {
        let rows = scim_user::Entity::find()
            .filter(scim_user::Column::PersonId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|row| (row.person_id, row)));
    }
    Ok(found)
}

/// The person a `userName` names: the one provisioned with it, else a person
/// without a SCIM name whose address it is (someone the CSV import or the API
/// created, whom an identity provider takes over by matching).
pub async fn find_user(
    db: &impl ConnectionTrait,
    user_name: &str,
) -> Result<Option<person::Model>, StoreError> {
    let named = scim_user::Entity::find()
        .filter(scim_user::Column::UserNameKey.eq(user_name_key(user_name)))
        .one(db)
        .await?;
    if let Some(row) = named {
        return Ok(person::Entity::find_by_id(row.person_id).one(db).await?);
    }
    let Ok(email) = Email::parse(user_name) else {
        return Ok(None);
    };
    let Some(person) = crate::org::find_person_by_email(db, &email).await? else {
        return Ok(None);
    };
    let has_name = scim_user::Entity::find_by_id(person.id).one(db).await?;
    Ok(has_name.is_none().then_some(person))
}

/// What SCIM says about a person beyond the organisation's columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFields {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub formatted: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// Records a person's SCIM fields; a `userName` another person holds is
/// [`Conflict::AlreadyExists`].
pub async fn set_user(
    db: &impl ConnectionTrait,
    person_id: PersonId,
    fields: UserFields,
) -> Result<(), StoreError> {
    let key = user_name_key(&fields.user_name);
    let holder = scim_user::Entity::find()
        .filter(scim_user::Column::UserNameKey.eq(key.clone()))
        .filter(scim_user::Column::PersonId.ne(person_id))
        .count(db)
        .await?;
    if holder > 0 {
        return Err(StoreError::Conflict(Conflict::AlreadyExists));
    }
    scim_user::Entity::insert(scim_user::ActiveModel {
        person_id: Set(person_id),
        user_name: Set(fields.user_name),
        user_name_key: Set(key),
        external_id: Set(fields.external_id),
        display_name: Set(fields.display_name),
        formatted: Set(fields.formatted),
        given_name: Set(fields.given_name),
        family_name: Set(fields.family_name),
    })
    .on_conflict(
        OnConflict::column(scim_user::Column::PersonId)
            .update_columns([
                scim_user::Column::UserName,
                scim_user::Column::UserNameKey,
                scim_user::Column::ExternalId,
                scim_user::Column::DisplayName,
                scim_user::Column::Formatted,
                scim_user::Column::GivenName,
                scim_user::Column::FamilyName,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The `externalId`s of these teams, by team id (teams without one are absent).
pub async fn groups_of(
    db: &impl ConnectionTrait,
    team_ids: &[TeamId],
) -> Result<HashMap<TeamId, String>, StoreError> {
    let mut found = HashMap::new();
    for chunk in team_ids.chunks(500) {
        let rows = scim_group::Entity::find()
            .filter(scim_group::Column::TeamId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        found.extend(
            rows.into_iter()
                .filter_map(|row| row.external_id.map(|external| (row.team_id, external))),
        );
    }
    Ok(found)
}

/// Records (or clears) a team's `externalId`.
pub async fn set_group(
    db: &impl ConnectionTrait,
    team_id: TeamId,
    external_id: Option<&str>,
) -> Result<(), StoreError> {
    scim_group::Entity::insert(scim_group::ActiveModel {
        team_id: Set(team_id),
        external_id: Set(external_id.map(str::to_owned)),
    })
    .on_conflict(
        OnConflict::column(scim_group::Column::TeamId)
            .update_column(scim_group::Column::ExternalId)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One page of a SCIM list: the rows from `offset` (SCIM's `startIndex` less one),
/// at most `limit`, and how many there are in all.
#[derive(Debug, Clone)]
pub struct IndexPage<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// People ordered by id, a page at a time.
pub async fn people_page(
    db: &impl ConnectionTrait,
    offset: u64,
    limit: u64,
) -> Result<IndexPage<person::Model>, StoreError> {
    let total = person::Entity::find().count(db).await?;
    let items = person::Entity::find()
        .order_by_asc(person::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok(IndexPage { items, total })
}

/// Teams ordered by id, a page at a time.
pub async fn teams_page(
    db: &impl ConnectionTrait,
    offset: u64,
    limit: u64,
) -> Result<IndexPage<team::Model>, StoreError> {
    let total = team::Entity::find().count(db).await?;
    let items = team::Entity::find()
        .order_by_asc(team::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok(IndexPage { items, total })
}

/// The teams named `name` (several are possible under different parents).
pub async fn teams_named(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Vec<team::Model>, StoreError> {
    Ok(team::Entity::find()
        .filter(team::Column::Name.eq(name))
        .order_by_asc(team::Column::Id)
        .all(db)
        .await?)
}

/// The people whose team is one of `team_ids` (a group's members), ordered by id.
pub async fn members_of(
    db: &impl ConnectionTrait,
    team_ids: &[TeamId],
) -> Result<Vec<person::Model>, StoreError> {
    let mut members = Vec::new();
    for chunk in team_ids.chunks(500) {
        members.extend(
            person::Entity::find()
                .filter(person::Column::TeamId.is_in(chunk.iter().copied()))
                .order_by_asc(person::Column::Id)
                .all(db)
                .await?,
        );
    }
    Ok(members)
}
