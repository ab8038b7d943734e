//! What the reports read beside releases (which only [`crate::releases`] reads):
//! round snapshots and membership changes from the audit log. Whether a team
//! changed since the last pulse is decided at close and stored on its release.
//! Nothing here reads an answer: reports never touch `open_*`, `responses`,
//! `comments`, `atom_statistics` or `determined_nodes`.

use chrono::{DateTime, Utc};
use safepulse_domain::{RoundId, TeamId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::StoreError;
use crate::entities::{audit_entry, round_node};

/// The snapshots of several rounds in one query.
pub async fn snapshots_of_rounds(
    db: &impl ConnectionTrait,
    round_ids: &[RoundId],
) -> Result<Vec<round_node::Model>, StoreError> {
    Ok(round_node::Entity::find()
        .filter(round_node::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?)
}

/// When people joined or left `team_id` (audit log), within a window.
pub async fn membership_changes(
    db: &impl ConnectionTrait,
    team_id: TeamId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, StoreError> {
    Ok(audit_entry::Entity::find()
        .filter(audit_entry::Column::TeamId.eq(team_id))
        .filter(audit_entry::Column::Action.starts_with("membership."))
        .filter(audit_entry::Column::At.gte(from))
        .filter(audit_entry::Column::At.lte(to))
        .all(db)
        .await?
        .into_iter()
        .map(|entry| entry.at)
        .collect())
}
