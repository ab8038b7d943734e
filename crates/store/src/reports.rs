//! What the reports read beside releases (which only [`crate::releases`] reads):
//! who was invited where, for "team changed, not comparable", and membership
//! changes from the audit log. Nothing here reads an answer: reports never touch
//! `open_*`, `responses`, `comments` or `atom_statistics`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::{audit_entry, invitation, round_node};

/// The snapshots of several rounds in one query.
pub async fn snapshots_of_rounds(
    db: &impl ConnectionTrait,
    round_ids: &[Uuid],
) -> Result<Vec<round_node::Model>, StoreError> {
    Ok(round_node::Entity::find()
        .filter(round_node::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?)
}

/// Everyone invited in the given nodes of the given rounds: round → people.
pub async fn people_invited_in_nodes(
    db: &impl ConnectionTrait,
    round_ids: &[Uuid],
    node_ids: &HashSet<Uuid>,
) -> Result<HashMap<Uuid, Vec<(Uuid, Uuid)>>, StoreError> {
    let mut people: HashMap<Uuid, Vec<(Uuid, Uuid)>> = HashMap::new();
    for row in invitation::Entity::find()
        .filter(invitation::Column::RoundId.is_in(round_ids.iter().copied()))
        .filter(invitation::Column::NodeId.is_in(node_ids.iter().copied()))
        .all(db)
        .await?
    {
        people
            .entry(row.round_id)
            .or_default()
            .push((row.node_id, row.person_id));
    }
    Ok(people)
}

/// When people joined or left `team_id` (audit log), within a window.
pub async fn membership_changes(
    db: &impl ConnectionTrait,
    team_id: Uuid,
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

/// `node_id` and every node below it in a round's snapshot.
pub fn subtree_of(nodes: &[round_node::Model], node_id: Uuid) -> HashSet<Uuid> {
    let mut children: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for node in nodes {
        if let Some(parent) = node.parent_node_id {
            children.entry(parent).or_default().push(node.node_id);
        }
    }
    let mut subtree = HashSet::new();
    let mut stack = vec![node_id];
    while let Some(id) = stack.pop() {
        if subtree.insert(id) {
            stack.extend(children.get(&id).into_iter().flatten().copied());
        }
    }
    subtree
}
