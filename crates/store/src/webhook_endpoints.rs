//! Webhook endpoints (issue 16, point 3): where signed webhooks go, and for which
//! events. No secret is stored: the mailer derives it from the master key named in
//! `secret_key_id`, the endpoint's id and its `secret_generation`. Each change is
//! audited by the caller in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::webhook_endpoint;

/// A new endpoint, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    /// The active master key's id: the secret derives from it.
    pub secret_key_id: String,
}

pub async fn create(
    db: &impl ConnectionTrait,
    endpoint: NewEndpoint,
    now: DateTime<Utc>,
) -> Result<webhook_endpoint::Model, StoreError> {
    Ok(webhook_endpoint::ActiveModel {
        id: Set(Uuid::new_v4()),
        url: Set(endpoint.url),
        events: Set(serde_json::json!(endpoint.events)),
        secret_key_id: Set(endpoint.secret_key_id),
        secret_generation: Set(1),
        previous_secret_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Every endpoint, oldest first.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<webhook_endpoint::Model>, StoreError> {
    Ok(webhook_endpoint::Entity::find()
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(db)
        .await?)
}

/// `NotFound` for an unknown id.
pub async fn get(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<webhook_endpoint::Model, StoreError> {
    webhook_endpoint::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Changes the URL and/or events; `None` keeps the value.
pub async fn update(
    db: &impl ConnectionTrait,
    id: Uuid,
    url: Option<String>,
    events: Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<webhook_endpoint::Model, StoreError> {
    let mut row: webhook_endpoint::ActiveModel = get(db, id).await?.into();
    if let Some(url) = url {
        row.url = Set(url);
    }
    if let Some(events) = events {
        row.events = Set(serde_json::json!(events));
    }
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Starts a new secret generation derived from `secret_key_id`; the previous
/// generation keeps signing until `previous_until`. A key change ends the overlap
/// at once: the previous secret derives from a key the endpoint no longer names.
pub async fn rotate(
    db: &impl ConnectionTrait,
    id: Uuid,
    secret_key_id: String,
    previous_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<webhook_endpoint::Model, StoreError> {
    let current = get(db, id).await?;
    let same_key = current.secret_key_id == secret_key_id;
    let mut row: webhook_endpoint::ActiveModel = current.clone().into();
    row.secret_generation = Set(current.secret_generation + 1);
    row.secret_key_id = Set(secret_key_id);
    row.previous_secret_until = Set(same_key.then_some(previous_until));
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Deletes an endpoint; its queued deliveries are discarded unsent by the worker.
pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<(), StoreError> {
    let deleted = webhook_endpoint::Entity::delete_by_id(id)
        .exec(db)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
