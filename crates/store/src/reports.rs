//! Reading frozen releases: a node's history, a round's snapshot and releases, the
//! comments of a node's detail atoms, who was a counted viewer, and the HR export.
//! Nothing here reads an answer: reports never touch `open_*`, `responses`,
//! `comments` or `atom_statistics`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::{
    audit_entry, invitation, release, release_ledger, released_comment, round, round_node,
    round_viewer,
};
use crate::org::Page;

/// One closed round's release of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRelease {
    pub round: round::Model,
    pub release: release::Model,
}

/// Every release of `node_id`, oldest round first (closed rounds only: releases
/// exist only once a round has closed).
pub async fn releases_of_node(
    db: &impl ConnectionTrait,
    node_id: Uuid,
) -> Result<Vec<NodeRelease>, StoreError> {
    let releases = release::Entity::find()
        .filter(release::Column::NodeId.eq(node_id))
        .all(db)
        .await?;
    let rounds: HashMap<Uuid, round::Model> = round::Entity::find()
        .filter(round::Column::Id.is_in(releases.iter().map(|release| release.round_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|round| (round.id, round))
        .collect();
    let mut history: Vec<NodeRelease> = releases
        .into_iter()
        .filter_map(|release| {
            rounds.get(&release.round_id).map(|round| NodeRelease {
                round: round.clone(),
                release,
            })
        })
        .collect();
    history.sort_by_key(|entry| (entry.round.opened_at, entry.round.id));
    Ok(history)
}

pub async fn round_snapshot(
    db: &impl ConnectionTrait,
    round_id: Uuid,
) -> Result<Vec<round_node::Model>, StoreError> {
    Ok(round_node::Entity::find()
        .filter(round_node::Column::RoundId.eq(round_id))
        .all(db)
        .await?)
}

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

pub async fn releases_of_round(
    db: &impl ConnectionTrait,
    round_id: Uuid,
) -> Result<Vec<release::Model>, StoreError> {
    Ok(release::Entity::find()
        .filter(release::Column::RoundId.eq(round_id))
        .all(db)
        .await?)
}

/// The node a person's invitation of a round sat in, if they were invited.
pub async fn invitation_node(
    db: &impl ConnectionTrait,
    round_id: Uuid,
    person_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::RoundId.eq(round_id))
        .filter(invitation::Column::PersonId.eq(person_id))
        .one(db)
        .await?
        .map(|row| row.node_id))
}

/// The nodes of a round at which `person_id` was counted as a viewer (`v`).
pub async fn counted_viewer_nodes(
    db: &impl ConnectionTrait,
    round_id: Uuid,
    person_id: Uuid,
) -> Result<HashSet<Uuid>, StoreError> {
    Ok(round_viewer::Entity::find()
        .filter(round_viewer::Column::RoundId.eq(round_id))
        .filter(round_viewer::Column::PersonId.eq(person_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.node_id)
        .collect())
}

/// The people invited anywhere in `node_id`'s subtree in a round (for "team
/// changed, not comparable": who joined or left between two rounds).
pub async fn people_invited_in_subtree(
    db: &impl ConnectionTrait,
    round_id: Uuid,
    node_id: Uuid,
) -> Result<HashSet<Uuid>, StoreError> {
    let nodes = round_snapshot(db, round_id).await?;
    let subtree = subtree_of(&nodes, node_id);
    Ok(invitation::Entity::find()
        .filter(invitation::Column::RoundId.eq(round_id))
        .filter(invitation::Column::NodeId.is_in(subtree.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.person_id)
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

/// The released comments of a node's detail release, in their stored (shuffled) order.
pub async fn comments_of_release(
    db: &impl ConnectionTrait,
    round_id: Uuid,
    node_id: Uuid,
) -> Result<Vec<String>, StoreError> {
    let atoms: Vec<Uuid> = release_ledger::Entity::find()
        .filter(release_ledger::Column::RoundId.eq(round_id))
        .filter(release_ledger::Column::NodeId.eq(node_id))
        .filter(release_ledger::Column::Family.eq("detail"))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.atom_id)
        .collect();
    if atoms.is_empty() {
        return Ok(Vec::new());
    }
    Ok(released_comment::Entity::find()
        .filter(released_comment::Column::RoundId.eq(round_id))
        .filter(released_comment::Column::AtomId.is_in(atoms))
        .order_by_asc(released_comment::Column::AtomId)
        .order_by_asc(released_comment::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.body)
        .collect())
}

/// Whether anyone joined or left `team_id` in the window (audit log).
pub async fn membership_changed(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changes = audit_entry::Entity::find()
        .filter(audit_entry::Column::TeamId.eq(team_id))
        .filter(audit_entry::Column::Action.starts_with("membership."))
        .filter(audit_entry::Column::At.gte(from))
        .filter(audit_entry::Column::At.lte(to))
        .count(db)
        .await?;
    Ok(changes > 0)
}

/// Filters of the HR export.
#[derive(Debug, Clone, Default)]
pub struct ReleaseFilter {
    pub round_id: Option<Uuid>,
    pub period_key: Option<String>,
    pub node_id: Option<Uuid>,
}

/// Releases of closed rounds ordered by release id, a page at a time.
pub async fn list_releases(
    db: &impl ConnectionTrait,
    filter: &ReleaseFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<NodeRelease>, StoreError> {
    let mut query = release::Entity::find()
        .order_by_asc(release::Column::Id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(release::Column::Id.gt(after));
    }
    if let Some(round_id) = filter.round_id {
        query = query.filter(release::Column::RoundId.eq(round_id));
    }
    if let Some(node_id) = filter.node_id {
        query = query.filter(release::Column::NodeId.eq(node_id));
    }
    if let Some(period_key) = &filter.period_key {
        let rounds: Vec<Uuid> = round::Entity::find()
            .filter(round::Column::PeriodKey.eq(period_key.as_str()))
            .all(db)
            .await?
            .into_iter()
            .map(|round| round.id)
            .collect();
        query = query.filter(release::Column::RoundId.is_in(rounds));
    }
    let mut releases = query.all(db).await?;
    let next = if releases.len() as u64 > limit {
        releases.truncate(limit as usize);
        releases.last().map(|release| release.id)
    } else {
        None
    };
    let round_ids: HashSet<Uuid> = releases.iter().map(|release| release.round_id).collect();
    let rounds: HashMap<Uuid, round::Model> = round::Entity::find()
        .filter(round::Column::Id.is_in(round_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|round| (round.id, round))
        .collect();
    let items = releases
        .into_iter()
        .filter_map(|release| {
            rounds.get(&release.round_id).map(|round| NodeRelease {
                round: round.clone(),
                release,
            })
        })
        .collect();
    Ok(Page { items, next })
}
