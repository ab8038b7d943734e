//! Reading frozen releases: a node's history, a round's snapshot and releases, the
//! comments of a node's detail atoms, who was a counted viewer, and the HR export.
//! Nothing here reads an answer: reports never touch `open_*`, `responses`,
//! `comments` or `atom_statistics`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
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

/// A reader's own invitations in several rounds: round → the node it sat in.
pub async fn invitation_nodes_in_rounds(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    round_ids: &[Uuid],
) -> Result<HashMap<Uuid, Uuid>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::PersonId.eq(person_id))
        .filter(invitation::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.round_id, row.node_id))
        .collect())
}

/// The nodes at which `person_id` was counted as a viewer, per round, for several rounds.
pub async fn counted_viewer_nodes_in_rounds(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    round_ids: &[Uuid],
) -> Result<HashMap<Uuid, HashSet<Uuid>>, StoreError> {
    let mut counted: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
    for row in round_viewer::Entity::find()
        .filter(round_viewer::Column::PersonId.eq(person_id))
        .filter(round_viewer::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?
    {
        counted.entry(row.round_id).or_default().insert(row.node_id);
    }
    Ok(counted)
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

/// The released comments of one node's detail releases in several rounds, in
/// their stored (shuffled) order: round → comments.
pub async fn comments_of_node_in_rounds(
    db: &impl ConnectionTrait,
    node_id: Uuid,
    round_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, StoreError> {
    let atoms: Vec<Uuid> = release_ledger::Entity::find()
        .filter(release_ledger::Column::NodeId.eq(node_id))
        .filter(release_ledger::Column::RoundId.is_in(round_ids.iter().copied()))
        .filter(release_ledger::Column::Family.eq("detail"))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.atom_id)
        .collect();
    let mut comments: HashMap<Uuid, Vec<String>> = HashMap::new();
    if atoms.is_empty() {
        return Ok(comments);
    }
    for row in released_comment::Entity::find()
        .filter(released_comment::Column::RoundId.is_in(round_ids.iter().copied()))
        .filter(released_comment::Column::AtomId.is_in(atoms))
        .order_by_asc(released_comment::Column::AtomId)
        .order_by_asc(released_comment::Column::Position)
        .all(db)
        .await?
    {
        comments.entry(row.round_id).or_default().push(row.body);
    }
    Ok(comments)
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
