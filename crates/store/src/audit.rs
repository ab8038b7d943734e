//! The audit log: who did what to the organisation, and who read which release.
//! Never anything about an answer.

use chrono::{DateTime, Utc};
use safepulse_domain::TeamId;
use sea_orm::{ActiveModelTrait, ConnectionTrait, NotSet, Set};

use crate::entities::audit_entry;
use crate::{Store, StoreError};

/// One thing worth remembering who did.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub team_id: Option<TeamId>,
    pub target: Option<String>,
    pub details: serde_json::Value,
}

/// Records `event` inside the caller's transaction, to commit with the change it
/// describes.
pub async fn record(
    db: &impl ConnectionTrait,
    at: DateTime<Utc>,
    event: AuditEvent<'_>,
) -> Result<(), StoreError> {
    audit_entry::ActiveModel {
        id: NotSet,
        at: Set(at),
        actor: Set(event.actor.to_owned()),
        action: Set(event.action.to_owned()),
        team_id: Set(event.team_id),
        target: Set(event.target),
        details: Set(event.details),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records `event` in a write transaction of its own and returns once it is
/// committed (for reads, and changes that committed on their own). Never an
/// autocommit insert: on SQLite the commit of an `INSERT … RETURNING` read for one
/// row happens when the statement is reset, and sqlx drops that error.
pub async fn record_committed(
    store: &Store,
    at: DateTime<Utc>,
    event: AuditEvent<'_>,
) -> Result<(), StoreError> {
    let transaction = store.begin_write().await?;
    record(&transaction, at, event).await?;
    transaction.commit().await?;
    Ok(())
}

/// A page of the audit log by ascending id; the second value is the cursor of the
/// next page.
pub async fn list(
    db: &impl ConnectionTrait,
    after: Option<i64>,
    limit: u64,
) -> Result<(Vec<audit_entry::Model>, Option<i64>), StoreError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut query = audit_entry::Entity::find()
        .order_by_asc(audit_entry::Column::Id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(audit_entry::Column::Id.gt(after));
    }
    let mut entries = query.all(db).await?;
    let next = if entries.len() as u64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|entry| entry.id)
    } else {
        None
    };
    Ok((entries, next))
}
