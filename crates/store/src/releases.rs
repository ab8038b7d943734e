//! The release gate: [`visible_releases`] is the only way to read `releases` rows
//! (and the comments released with them). It takes the reader and applies
//! [`readable_nodes`], the one rule of DESIGN §3 "Who reads what" with its viewer
//! clause, round by round, so no read path — team report, node history, heatmap,
//! HR export, dashboard, anything added later — can get a release its reader
//! may not read. The raw readers below are private to this module.
//!
//! The close applies the same rule to the manager digests (in the mailer) with
//! [`own_parts`], because it holds the round's releases in memory.
//!
//! Every call costs a fixed number of queries, however many rounds or nodes it
//! covers: the releases, their rounds, their snapshots, and the reader's own
//! invitations and counted-viewer rows.

use std::collections::{HashMap, HashSet};

use safepulse_domain::access::{AccessNode, NodeKind, OwnPart, ReaderScope, readable_nodes};
use safepulse_domain::{NodeId, PersonId, RoundId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::{
    invitation, release, release_ledger, released_comment, round, round_node, round_viewer,
};

/// Someone who reads releases: what they read today, and who they are in the
/// organisation (for their own invitations); `None` for a token whose subject is
/// not a person, who was never invited anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseReader {
    pub scope: ReaderScope,
    pub person_id: Option<PersonId>,
}

/// Which releases a read path asks for.
#[derive(Debug, Clone)]
pub enum ReleaseSelection<'a> {
    /// Every release of one node, oldest round first (a team report, a node's history).
    Node(NodeId),
    /// Every release of one round (the heatmap, the dashboard).
    Round(RoundId),
    /// One page of the HR export, by release id.
    Page {
        filter: &'a ReleaseFilter,
        after: Option<Uuid>,
        limit: u64,
    },
}

/// Filters of the HR export.
#[derive(Debug, Clone, Default)]
pub struct ReleaseFilter {
    pub round_id: Option<RoundId>,
    pub period_key: Option<String>,
    pub node_id: Option<NodeId>,
}

/// One release a reader may read, with its round and its node as the round's
/// snapshot had it.
#[derive(Debug, Clone, PartialEq)]
pub struct VisibleRelease {
    pub round: round::Model,
    pub node: round_node::Model,
    pub release: release::Model,
}

/// What [`visible_releases`] found.
#[derive(Debug, Clone)]
pub struct VisibleReleases {
    pub releases: Vec<VisibleRelease>,
    /// For a page: where the next one starts (the last release looked at, so a
    /// page may hold fewer than its limit when some were not the reader's).
    pub next: Option<Uuid>,
    /// The snapshots of every round a selected release belongs to, readable or not.
    snapshots: HashMap<RoundId, Vec<round_node::Model>>,
    /// Those rounds, newest first.
    rounds_newest_first: Vec<round::Model>,
}

impl VisibleReleases {
    /// A round's hierarchy snapshot (empty for a round no selected release is in).
    pub fn snapshot(&self, round_id: RoundId) -> &[round_node::Model] {
        self.snapshots.get(&round_id).map_or(&[], Vec::as_slice)
    }

    /// The node's name in the newest round that released it, readable or not:
    /// a node's name is structure, not a figure.
    pub fn latest_name_of(&self, node_id: NodeId) -> Option<&str> {
        self.rounds_newest_first.iter().find_map(|round| {
            self.snapshot(round.id)
                .iter()
                .find(|node| node.node_id == node_id)
                .map(|node| node.name.as_str())
        })
    }
}

/// The releases of `selection` that `reader` may read: the one way a read path
/// obtains releases (see the module docs).
pub async fn visible_releases(
    db: &impl ConnectionTrait,
    reader: &ReleaseReader,
    selection: ReleaseSelection<'_>,
) -> Result<VisibleReleases, StoreError> {
    let (candidates, next) = match selection {
        ReleaseSelection::Node(node_id) => (releases_of_node(db, node_id).await?, None),
        ReleaseSelection::Round(round_id) => (releases_of_round(db, round_id).await?, None),
        ReleaseSelection::Page {
            filter,
            after,
            limit,
        } => page_of_releases(db, filter, after, limit).await?,
    };
    let round_ids: Vec<RoundId> = candidates
        .iter()
        .map(|release| release.round_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let rounds: HashMap<RoundId, round::Model> = round::Entity::find()
        .filter(round::Column::Id.is_in(round_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|round| (round.id, round))
        .collect();
    let snapshots = snapshots_by_round(db, &round_ids).await?;
    let readable = readable_in_snapshots(db, reader, &snapshots).await?;
    let mut releases: Vec<VisibleRelease> = candidates
        .into_iter()
        .filter(|release| {
            readable
                .get(&release.round_id)
                .is_some_and(|nodes| nodes.contains(&release.node_id))
        })
        .filter_map(|release| {
            let round = rounds.get(&release.round_id)?.clone();
            let node = snapshots
                .get(&release.round_id)?
                .iter()
                .find(|node| node.node_id == release.node_id)?
                .clone();
            Some(VisibleRelease {
                round,
                node,
                release,
            })
        })
        .collect();
    if matches!(selection, ReleaseSelection::Node(_)) {
        releases.sort_by_key(|entry| (entry.round.opened_at, entry.round.id));
    }
    let mut rounds_newest_first: Vec<round::Model> = rounds.into_values().collect();
    rounds_newest_first.sort_by_key(|round| std::cmp::Reverse((round.opened_at, round.id)));
    Ok(VisibleReleases {
        releases,
        next,
        snapshots,
        rounds_newest_first,
    })
}

/// The nodes `reader` may read in each of `round_ids` (for figures that are not
/// releases, such as an open round's rounded participation).
pub async fn readable_nodes_in_rounds(
    db: &impl ConnectionTrait,
    reader: &ReleaseReader,
    round_ids: &[RoundId],
) -> Result<HashMap<RoundId, HashSet<NodeId>>, StoreError> {
    let snapshots = snapshots_by_round(db, round_ids).await?;
    readable_in_snapshots(db, reader, &snapshots).await
}

/// The released comments of `node_id`'s visible detail releases, in their stored
/// (shuffled) order: round → comments.
pub async fn comments_of_node(
    db: &impl ConnectionTrait,
    visible: &VisibleReleases,
    node_id: NodeId,
) -> Result<HashMap<RoundId, Vec<String>>, StoreError> {
    let round_ids: Vec<RoundId> = visible
        .releases
        .iter()
        .filter(|entry| entry.release.node_id == node_id && entry.release.detail)
        .map(|entry| entry.round.id)
        .collect();
    let mut comments: HashMap<RoundId, Vec<String>> = HashMap::new();
    if round_ids.is_empty() {
        return Ok(comments);
    }
    let atoms: Vec<Uuid> = release_ledger::Entity::find()
        .filter(release_ledger::Column::NodeId.eq(node_id))
        .filter(release_ledger::Column::RoundId.is_in(round_ids.iter().copied()))
        .filter(release_ledger::Column::Family.eq("detail"))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.atom_id)
        .collect();
    if atoms.is_empty() {
        return Ok(comments);
    }
    for row in released_comment::Entity::find()
        .filter(released_comment::Column::RoundId.is_in(round_ids))
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

/// Each person's own part in each round: (round, person) → where their
/// invitation sat and where they were counted as a viewer. Two queries, for any
/// number of people and rounds; a person with no invitation in a round has no entry.
pub async fn own_parts(
    db: &impl ConnectionTrait,
    person_ids: &[PersonId],
    round_ids: &[RoundId],
) -> Result<HashMap<(RoundId, PersonId), OwnPart>, StoreError> {
    let mut parts: HashMap<(RoundId, PersonId), OwnPart> = HashMap::new();
    if person_ids.is_empty() || round_ids.is_empty() {
        return Ok(parts);
    }
    for row in invitation::Entity::find()
        .filter(invitation::Column::PersonId.is_in(person_ids.iter().copied()))
        .filter(invitation::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?
    {
        parts
            .entry((row.round_id, row.person_id))
            .or_default()
            .invited_at = Some(row.node_id);
    }
    for row in round_viewer::Entity::find()
        .filter(round_viewer::Column::PersonId.is_in(person_ids.iter().copied()))
        .filter(round_viewer::Column::RoundId.is_in(round_ids.iter().copied()))
        .all(db)
        .await?
    {
        parts
            .entry((row.round_id, row.person_id))
            .or_default()
            .counted_at
            .insert(row.node_id);
    }
    Ok(parts)
}

/// A snapshot row as the access rule sees it.
pub fn access_node(node: &round_node::Model) -> AccessNode {
    AccessNode {
        id: node.node_id,
        parent: node.parent_node_id,
        // The column is CHECKed to the three kinds.
        kind: NodeKind::parse(&node.kind).unwrap_or(NodeKind::Team),
    }
}

async fn readable_in_snapshots(
    db: &impl ConnectionTrait,
    reader: &ReleaseReader,
    snapshots: &HashMap<RoundId, Vec<round_node::Model>>,
) -> Result<HashMap<RoundId, HashSet<NodeId>>, StoreError> {
    let round_ids: Vec<RoundId> = snapshots.keys().copied().collect();
    let mut parts = match reader.person_id {
        Some(person_id) => own_parts(db, &[person_id], &round_ids).await?,
        None => HashMap::new(),
    };
    Ok(snapshots
        .iter()
        .map(|(round_id, snapshot)| {
            let nodes: Vec<AccessNode> = snapshot.iter().map(access_node).collect();
            let own = reader
                .person_id
                .and_then(|person_id| parts.remove(&(*round_id, person_id)))
                .unwrap_or_default();
            (*round_id, readable_nodes(&nodes, &reader.scope, &own))
        })
        .collect())
}

async fn snapshots_by_round(
    db: &impl ConnectionTrait,
    round_ids: &[RoundId],
) -> Result<HashMap<RoundId, Vec<round_node::Model>>, StoreError> {
    let mut snapshots: HashMap<RoundId, Vec<round_node::Model>> = HashMap::new();
    if round_ids.is_empty() {
        return Ok(snapshots);
    }
    for node in crate::reports::snapshots_of_rounds(db, round_ids).await? {
        snapshots.entry(node.round_id).or_default().push(node);
    }
    Ok(snapshots)
}

async fn releases_of_node(
    db: &impl ConnectionTrait,
    node_id: NodeId,
) -> Result<Vec<release::Model>, StoreError> {
    Ok(release::Entity::find()
        .filter(release::Column::NodeId.eq(node_id))
        .all(db)
        .await?)
}

async fn releases_of_round(
    db: &impl ConnectionTrait,
    round_id: RoundId,
) -> Result<Vec<release::Model>, StoreError> {
    Ok(release::Entity::find()
        .filter(release::Column::RoundId.eq(round_id))
        .all(db)
        .await?)
}

/// Up to `limit` releases after `after` by id, and the cursor of the next page.
async fn page_of_releases(
    db: &impl ConnectionTrait,
    filter: &ReleaseFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<(Vec<release::Model>, Option<Uuid>), StoreError> {
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
        let rounds: Vec<RoundId> = round::Entity::find()
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
    Ok((releases, next))
}
