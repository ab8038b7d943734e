//! The audit log: who did what to the organisation, and who read which release.
//! Never anything about an answer.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, NotSet, Set};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::audit_entry;

/// One thing worth remembering who did.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub team_id: Option<Uuid>,
    pub target: Option<String>,
    pub details: serde_json::Value,
}

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
