//! The record of every token the server issued (`issued_tokens`): API bearer tokens
//! and dashboard sessions, whose they are, and which are revoked. The tokens
//! themselves are never stored; a row holds the `jti` only.

use chrono::{DateTime, Utc};
use safepulse_domain::{PersonId, Role, TokenId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::StoreError;
use crate::entities::issued_token;
use crate::org::{Page, into_page};

/// What a token is for. The API accepts only `Api` tokens, the dashboard only
/// `Session`s, so neither credential works where the other belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A bearer token for `/api/*` (`safepulse token issue`).
    Api,
    /// A dashboard session (the sign-in cookie).
    Session,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Api => "api",
            TokenKind::Session => "session",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub jti: TokenId,
    pub subject: &'a str,
    /// The person the subject names, if any (see [`issued_token::Model::person_id`]).
    pub person_id: Option<PersonId>,
    pub role: Role,
    pub kind: TokenKind,
    pub key_id: &'a str,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn record(db: &impl ConnectionTrait, new: NewToken<'_>) -> Result<(), StoreError> {
    issued_token::ActiveModel {
        jti: Set(new.jti),
        subject: Set(new.subject.to_owned()),
        role: Set(new.role.as_str().to_owned()),
        key_id: Set(new.key_id.to_owned()),
        issued_at: Set(new.issued_at),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        person_id: Set(new.person_id),
        kind: Set(new.kind.as_str().to_owned()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn find(
    db: &impl ConnectionTrait,
    jti: TokenId,
) -> Result<Option<issued_token::Model>, StoreError> {
    Ok(issued_token::Entity::find_by_id(jti).one(db).await?)
}

/// Revokes one token. Returns the row as it was, so the caller can tell whether this
/// call revoked it (`revoked_at` was `None`); `NotFound` for an unknown `jti`.
pub async fn revoke(
    db: &impl ConnectionTrait,
    jti: TokenId,
    now: DateTime<Utc>,
) -> Result<issued_token::Model, StoreError> {
    let row = find(db, jti).await?.ok_or(StoreError::NotFound)?;
    if row.revoked_at.is_none() {
        let mut revoked: issued_token::ActiveModel = row.clone().into();
        revoked.revoked_at = Set(Some(now));
        revoked.update(db).await?;
    }
    Ok(row)
}

/// The tokens of a person: issued to them, or to one of `addresses` (a service
/// token issued for their address before they were a person).
fn of_person(person_id: PersonId, addresses: &[&str]) -> Condition {
    Condition::any()
        .add(issued_token::Column::PersonId.eq(person_id))
        .add(issued_token::Column::Subject.is_in(addresses.iter().copied()))
}

/// Revokes every unrevoked token of a person (of `role` only, when given) and returns
/// their ids.
pub async fn revoke_of_person(
    db: &impl ConnectionTrait,
    person_id: PersonId,
    addresses: &[&str],
    role: Option<Role>,
    now: DateTime<Utc>,
) -> Result<Vec<TokenId>, StoreError> {
    let mut query = issued_token::Entity::find()
        .select_only()
        .column(issued_token::Column::Jti)
        .filter(of_person(person_id, addresses))
        .filter(issued_token::Column::RevokedAt.is_null());
    if let Some(role) = role {
        query = query.filter(issued_token::Column::Role.eq(role.as_str()));
    }
    let jtis: Vec<TokenId> = query.into_tuple().all(db).await?;
    if !jtis.is_empty() {
        issued_token::Entity::update_many()
            .col_expr(issued_token::Column::RevokedAt, Some(now).into())
            .filter(issued_token::Column::Jti.is_in(jtis.clone()))
            .exec(db)
            .await?;
    }
    Ok(jtis)
}

/// Deletes every token row of a person being erased, revoked or not: a deleted `jti`
/// is refused like a revoked one, and the rows would otherwise keep their address.
/// Returns the ids of the tokens that were still valid.
pub async fn delete_of_person(
    db: &impl ConnectionTrait,
    person_id: PersonId,
    addresses: &[&str],
) -> Result<Vec<TokenId>, StoreError> {
    let rows = issued_token::Entity::find()
        .filter(of_person(person_id, addresses))
        .all(db)
        .await?;
    issued_token::Entity::delete_many()
        .filter(of_person(person_id, addresses))
        .exec(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| row.revoked_at.is_none())
        .map(|row| row.jti)
        .collect())
}

/// The tokens that still work at `now` (unrevoked, unexpired), ordered by `jti`.
pub async fn list_active(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    after: Option<TokenId>,
    limit: u64,
) -> Result<Page<issued_token::Model, TokenId>, StoreError> {
    let mut query = issued_token::Entity::find()
        .filter(issued_token::Column::RevokedAt.is_null())
        .filter(issued_token::Column::ExpiresAt.gt(now))
        .order_by_asc(issued_token::Column::Jti)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(issued_token::Column::Jti.gt(after));
    }
    Ok(into_page(query.all(db).await?, limit, |row| row.jti))
}
