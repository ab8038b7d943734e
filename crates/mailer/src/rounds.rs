//! Opening and closing rounds (DESIGN §2 "Keys and tokens", "Close"; §3 viewers).
//!
//! [`open_round`] writes the round's salt into the round keyring (outside the
//! database), then, in one transaction, the round (with its key id), its items,
//! its hierarchy snapshot with viewer counts, one invitation per person (only the
//! token's lookup hash is stored) and one outbox row per invitation. It is
//! idempotent per survey and period: the round row is inserted `ON CONFLICT
//! (survey_id, period_key) DO NOTHING` first, so a second scheduler — another
//! process on PostgreSQL — waits on the unique index and then does nothing.
//!
//! [`close_round`] is the single idempotent close transaction: status first (it
//! waits for in-flight submits, which hold the round row shared), ballots checked
//! against the round's invitations, the anonymizer's releases stored, open rows
//! deleted (or copied shuffled into the retention tables), lookups nulled, digests
//! queued. After it commits, [`shred_closed_rounds`] destroys the round's keyring
//! entry and scrubs freed pages (truncating WAL checkpoint on SQLite, `VACUUM` on
//! PostgreSQL), and records that it did; it runs again at start and on every
//! scheduler tick until every closed round is shredded.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use safepulse_anonymizer::{
    AnonymizerError, Comment, Family, Policy, Release, ReleasedFigures, Response,
    RestrictedRelease, RoundInput, RoundStatus, RoundedFigures, SnapshotNode, StoredForm,
    release_round,
};
use safepulse_domain::access::{AccessNode, NodeKind, nodes_a_manager_reads, synthetic_node_id};
use safepulse_domain::{
    Answer, InvitationId, ItemId, Locale, NodeId, PersonId, RoundId, SurveyId, TeamId, TimeZone,
};
use safepulse_store::entities::release::ReleaseStatus;
use safepulse_store::entities::{
    invitation, outbox, person, retained_comment, retained_response, round, round_item, round_node,
    round_viewer, survey, survey_team, team, team_leader,
};
use safepulse_store::keyring::{KeyChain, KeyringError};
use safepulse_store::{Store, StoreError, answers, org};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Set, Statement, TransactionTrait, TryInsertResult,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cadence::Period;
use crate::item_bank::ItemBank;
use crate::messages::MessageId;
use crate::rotation::items_for_round;
use crate::survey::{SettingsError, SurveyPlan};

/// Rows per multi-row INSERT: well below SQLite's bound-variable limit.
const INSERT_CHUNK: usize = 400;

#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("survey not found")]
    SurveyNotFound,
    #[error("round not found")]
    RoundNotFound,
    #[error("the survey is {0}; only an active survey opens rounds")]
    SurveyNotActive(String),
    #[error("the survey already has an open round")]
    RoundAlreadyOpen,
    #[error(
        "nobody to invite: the survey's teams have no active people with a deliverable address"
    )]
    NoAudience,
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("item {0} of the round is not in the item bank")]
    UnknownItem(String),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error("PostgreSQL would record answers or their timing: {0}")]
    DatabaseRecords(String),
    #[error("the round's stored data is inconsistent: {0}")]
    Inconsistent(String),
    #[error(transparent)]
    Anonymizer(#[from] AnonymizerError),
    #[error("the WAL checkpoint could not finish while readers were active; it is retried")]
    CheckpointBusy,
    #[error("only an open round can be discarded")]
    RoundNotOpen,
    #[error(
        "the round's key is in the keyring: close the round instead (only a round whose key \
         is lost can be discarded)"
    )]
    RoundKeyPresent,
}

impl From<sea_orm::DbErr> for RoundError {
    fn from(error: sea_orm::DbErr) -> Self {
        RoundError::Store(error.into())
    }
}

/// What the scheduler or an admin asks for.
#[derive(Debug, Clone)]
pub enum OpenRequest {
    /// The scheduler: this period is due.
    Scheduled(Period),
    /// An admin: open a round now (the current period's, if it has none yet).
    Now,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    Opened(round::Model),
    /// Another scheduler (or an earlier call) opened this period already.
    AlreadyOpened(round::Model),
}

/// What the invitation and reminder emails of a round say, stored on their outbox
/// rows. The link token is not here: it is derived at send time from the round key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPayload {
    pub survey_name: String,
    pub team_name: String,
    /// The teams the person leads, when they answer in the Leadership node: their
    /// email says so instead of calling the group their team. Absent in rows
    /// queued before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub led_teams: Vec<String>,
    pub question_count: usize,
    pub min_group_size: u32,
    pub closes_at: DateTime<Utc>,
    pub locale: String,
    pub time_zone: String,
}

/// Whether PostgreSQL's statement logging and timing settings are checked when a
/// round opens (DESIGN §2), or overridden by the operator (`allow_logging_postgres`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingCheck {
    Enforce,
    Overridden,
}

/// Opens a round for `survey_id` (see the module docs).
#[allow(clippy::too_many_arguments)]
pub async fn open_round(
    store: &Store,
    bank: &ItemBank,
    keys: &KeyChain,
    survey_id: SurveyId,
    request: OpenRequest,
    now: DateTime<Utc>,
    mail_host: &str,
    recording: RecordingCheck,
) -> Result<OpenOutcome, RoundError> {
    let transaction = store.begin_write().await?;
    if recording == RecordingCheck::Enforce {
        // In the opening transaction, so a setting changed since start is seen too.
        let problems = safepulse_store::hygiene::postgres_recording_settings(&transaction).await?;
        if !problems.is_empty() {
            return Err(RoundError::DatabaseRecords(problems.join("; ")));
        }
    }
    let survey = survey::Entity::find_by_id(survey_id)
        .one(&transaction)
        .await?
        .ok_or(RoundError::SurveyNotFound)?;
    if survey.status != "active" {
        return Err(RoundError::SurveyNotActive(survey.status));
    }
    let plan = SurveyPlan::from_stored(&survey.settings, bank)?;
    let previous_rounds = round::Entity::find()
        .filter(round::Column::SurveyId.eq(survey_id))
        .all(&transaction)
        .await?;
    if let Some(open) = previous_rounds.iter().find(|round| round.status == "open") {
        return match request {
            OpenRequest::Now => Err(RoundError::RoundAlreadyOpen),
            OpenRequest::Scheduled(_) => Ok(OpenOutcome::AlreadyOpened(open.clone())),
        };
    }

    let audience = Audience::load(&transaction, &survey).await?;
    if audience.people.is_empty() {
        return Err(RoundError::NoAudience);
    }
    let (period_key, opens_on) = match &request {
        OpenRequest::Scheduled(period) => (period.key.clone(), Some(period.opens_on)),
        OpenRequest::Now => {
            let current = plan.cadence.period_containing(
                plan.starts_on,
                now,
                audience.first_time_zone().tz(),
            );
            let taken = previous_rounds
                .iter()
                .any(|round| round.period_key == current.key);
            let key = if taken {
                format!("manual-{}", now.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
            } else {
                current.key
            };
            (key, None)
        }
    };

    let round_id = RoundId::random();
    let items = items_for_round(bank, &plan.questions, previous_rounds.len() as u32);
    let snapshot = Snapshot::build(&audience, &survey.name);
    let send_at = |person: &person::Model| -> DateTime<Utc> {
        match opens_on {
            Some(date) => plan
                .cadence
                .opening_instant(date, audience.time_zone_of(person).tz())
                .max(now),
            None => now,
        }
    };
    let last_opening = audience.people.iter().map(send_at).max().unwrap_or(now);
    let closes_at = last_opening + plan.window;

    // The salt is on disk before anything refers to the round; if the transaction
    // does not commit, the key is destroyed here. A crash in between leaves the
    // salt of a round that never existed: nothing was ever sealed under it. It is
    // not swept away automatically, because a keyring directory shared by mistake
    // with another database would look the same, full of that database's live keys.
    let (key_id, round_key) = keys.create_round_key(round_id)?;
    let opened = write_opened_round(
        transaction,
        OpenedRound {
            round_id,
            key_id: key_id.as_str(),
            round_key: &round_key,
            survey: &survey,
            period_key,
            round_index: previous_rounds.len() as i32,
            items: &items,
            snapshot: &snapshot,
            audience: &audience,
            send_at: &send_at,
            closes_at,
            now,
            mail_host,
        },
    )
    .await;
    if !matches!(opened, Ok(OpenOutcome::Opened(_)))
        && let Err(error) = keys.keyring().destroy(round_id)
    {
        tracing::warn!(%error, "could not destroy the key of a round that did not open");
    }
    opened
}

/// The rows of a round being opened, for [`write_opened_round`].
struct OpenedRound<'a> {
    round_id: RoundId,
    key_id: &'a str,
    round_key: &'a safepulse_domain::keys::RoundKey,
    survey: &'a survey::Model,
    period_key: String,
    round_index: i32,
    items: &'a [ItemId],
    snapshot: &'a Snapshot,
    audience: &'a Audience,
    send_at: &'a (dyn Fn(&person::Model) -> DateTime<Utc> + Sync),
    closes_at: DateTime<Utc>,
    now: DateTime<Utc>,
    mail_host: &'a str,
}

/// Writes an opening round and commits: round, items, snapshot, viewers,
/// invitations and their outbox rows.
async fn write_opened_round(
    transaction: DatabaseTransaction,
    opening: OpenedRound<'_>,
) -> Result<OpenOutcome, RoundError> {
    let OpenedRound {
        round_id,
        key_id,
        round_key,
        survey,
        period_key,
        round_index,
        items,
        snapshot,
        audience,
        send_at,
        closes_at,
        now,
        mail_host,
    } = opening;
    let survey_id = survey.id;

    let inserted = round::Entity::insert(round::ActiveModel {
        id: Set(round_id),
        survey_id: Set(survey_id),
        period_key: Set(period_key.clone()),
        round_index: Set(round_index),
        status: Set("open".into()),
        key_id: Set(key_id.to_owned()),
        k: Set(survey.k),
        k_detail: Set(survey.k_detail),
        restricted_release: Set(survey.restricted_release.clone()),
        opened_at: Set(now),
        closes_at: Set(closes_at),
        closed_at: Set(None),
        invited_count: Set(audience.people.len() as i32),
        bounce_count: Set(0),
        org_figures: Set(None),
        scrubbed_at: Set(None),
    })
    .on_conflict_do_nothing_on([round::Column::SurveyId, round::Column::PeriodKey])
    .exec(&transaction)
    .await?;
    if matches!(inserted, TryInsertResult::Conflicted) {
        let existing = round::Entity::find()
            .filter(round::Column::SurveyId.eq(survey_id))
            .filter(round::Column::PeriodKey.eq(period_key))
            .one(&transaction)
            .await?
            .ok_or_else(|| RoundError::Inconsistent("conflicting round vanished".into()))?;
        return Ok(OpenOutcome::AlreadyOpened(existing));
    }

    insert_chunked(
        &transaction,
        items
            .iter()
            .enumerate()
            .map(|(position, item)| round_item::ActiveModel {
                round_id: Set(round_id),
                position: Set(position as i32),
                item_id: Set(item.0.clone()),
            })
            .collect(),
    )
    .await?;
    insert_chunked(
        &transaction,
        snapshot
            .nodes
            .iter()
            .map(|node| round_node::ActiveModel {
                round_id: Set(round_id),
                node_id: Set(node.id),
                parent_node_id: Set(node.parent),
                team_id: Set(node.team_id),
                kind: Set(node.kind.as_str().into()),
                name: Set(node.name.clone()),
                invited: Set(node.invited as i32),
                viewers: Set(node.viewers.len() as i32),
            })
            .collect(),
    )
    .await?;
    insert_chunked(
        &transaction,
        snapshot
            .nodes
            .iter()
            .flat_map(|node| {
                node.viewers
                    .iter()
                    .map(|person_id| round_viewer::ActiveModel {
                        round_id: Set(round_id),
                        node_id: Set(node.id),
                        person_id: Set(*person_id),
                    })
            })
            .collect(),
    )
    .await?;

    let mut invitations = Vec::with_capacity(audience.people.len());
    let mut outbox_rows = Vec::with_capacity(audience.people.len());
    for person in &audience.people {
        let invitation_id = InvitationId::random();
        let node_id = snapshot.node_of_person[&person.id];
        let token = round_key.link_token(invitation_id);
        invitations.push(invitation::ActiveModel {
            id: Set(invitation_id),
            round_id: Set(round_id),
            person_id: Set(person.id),
            node_id: Set(node_id),
            lookup: Set(Some(token.lookup().0.to_vec())),
        });
        let node = snapshot.node(node_id);
        let payload = InvitationPayload {
            survey_name: survey.name.clone(),
            team_name: node.name.clone(),
            led_teams: if node.kind == NodeKind::Leadership {
                audience.led_team_names(person.id)
            } else {
                Vec::new()
            },
            question_count: items.len(),
            min_group_size: survey.k as u32,
            closes_at,
            locale: person.locale.clone(),
            time_zone: audience.time_zone_of(person).name().to_owned(),
        };
        outbox_rows.push(new_outbox_row(
            "invitation",
            person,
            Some(invitation_id),
            Some(round_id),
            serde_json::to_value(&payload).expect("payload serializes"),
            send_at(person),
            now,
            mail_host,
        )?);
    }
    insert_chunked(&transaction, invitations).await?;
    insert_chunked(&transaction, outbox_rows).await?;

    if !survey.privacy_locked {
        let mut locked: survey::ActiveModel = survey.clone().into();
        locked.privacy_locked = Set(true);
        locked.update(&transaction).await?;
    }
    let opened = round::Entity::find_by_id(round_id)
        .one(&transaction)
        .await?
        .ok_or_else(|| RoundError::Inconsistent("the new round vanished".into()))?;
    transaction.commit().await?;
    tracing::info!(
        round = %round_id,
        invited = audience.people.len(),
        "round opened"
    );
    Ok(OpenOutcome::Opened(opened))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_outbox_row(
    kind: &str,
    person: &person::Model,
    invitation_id: Option<InvitationId>,
    round_id: Option<RoundId>,
    payload: serde_json::Value,
    not_before: DateTime<Utc>,
    now: DateTime<Utc>,
    mail_host: &str,
) -> Result<outbox::ActiveModel, RoundError> {
    let message_id = MessageId::random(mail_host)
        .map_err(|error| RoundError::Inconsistent(format!("mail host: {error}")))?;
    Ok(outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(kind.into()),
        recipient: Set(person.email.clone()),
        person_id: Set(Some(person.id)),
        invitation_id: Set(invitation_id),
        round_id: Set(round_id),
        payload: Set(payload),
        message_id: Set(message_id.as_str().to_owned()),
        status: Set("pending".into()),
        attempts: Set(0),
        not_before: Set(not_before),
        claimed_until: Set(None),
        claim_token: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    })
}

async fn insert_chunked<A>(db: &DatabaseTransaction, rows: Vec<A>) -> Result<(), RoundError>
where
    A: ActiveModelTrait + Send,
{
    // Moved, not copied, into each statement: a close inserts tens of thousands of
    // rows with JSON figures.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Who a survey reaches today: its teams (with sub-teams when asked), their active,
/// deliverable people, the leaders among them, and who holds the hr role.
struct Audience {
    teams: BTreeMap<TeamId, team::Model>,
    people: Vec<person::Model>,
    leaders: BTreeMap<PersonId, BTreeSet<TeamId>>,
    hr: HashSet<PersonId>,
    /// The ids of the synthetic root and Leadership node, stable for the survey's
    /// audience (`synthetic_node_id`).
    root_id: NodeId,
    leadership_id: NodeId,
}

/// Who a round of `survey_id` opened now would invite, for the admin console's
/// confirmation: per team of the audience (by name), the people who would get an
/// invitation, read by the opener's own [`Audience`] rule. Leaders are counted in
/// their team (they answer in the Leadership group). Writes nothing.
pub async fn audience_now(
    store: &Store,
    survey_id: SurveyId,
) -> Result<Vec<(String, u32)>, RoundError> {
    let transaction = store.connection().begin().await.map_err(StoreError::from)?;
    let survey = survey::Entity::find_by_id(survey_id)
        .one(&transaction)
        .await
        .map_err(StoreError::from)?
        .ok_or(RoundError::SurveyNotFound)?;
    let audience = Audience::load(&transaction, &survey).await?;
    transaction.rollback().await.map_err(StoreError::from)?;
    let mut per_team: BTreeMap<TeamId, u32> = BTreeMap::new();
    for team_id in audience.people.iter().filter_map(|person| person.team_id) {
        *per_team.entry(team_id).or_default() += 1;
    }
    let mut counts: Vec<(String, u32)> = audience
        .teams
        .values()
        .map(|team| {
            (
                team.name.clone(),
                per_team.get(&team.id).copied().unwrap_or(0),
            )
        })
        .collect();
    counts.sort();
    Ok(counts)
}

impl Audience {
    async fn load(
        db: &DatabaseTransaction,
        survey: &survey::Model,
    ) -> Result<Audience, RoundError> {
        let all_teams = org::all_teams(db).await?;
        let chosen: Vec<TeamId> = survey_team::Entity::find()
            .filter(survey_team::Column::SurveyId.eq(survey.id))
            .all(db)
            .await?
            .into_iter()
            .map(|row| row.team_id)
            .collect();
        let mut children: HashMap<TeamId, Vec<TeamId>> = HashMap::new();
        for team in &all_teams {
            if let Some(parent) = team.parent_id {
                children.entry(parent).or_default().push(team.id);
            }
        }
        let synthetic = |kind| synthetic_node_id(kind, survey.id, &chosen, survey.include_subteams);
        let root_id = synthetic(NodeKind::Root);
        let leadership_id = synthetic(NodeKind::Leadership);
        let mut included: BTreeSet<TeamId> = BTreeSet::new();
        let mut stack = chosen;
        while let Some(team_id) = stack.pop() {
            if included.insert(team_id) && survey.include_subteams {
                stack.extend(children.get(&team_id).into_iter().flatten().copied());
            }
        }
        let teams: BTreeMap<TeamId, team::Model> = all_teams
            .into_iter()
            .filter(|team| included.contains(&team.id))
            .map(|team| (team.id, team))
            .collect();
        let people: Vec<person::Model> = person::Entity::find()
            .filter(person::Column::TeamId.is_in(teams.keys().copied()))
            .filter(person::Column::Active.eq(true))
            .filter(person::Column::Undeliverable.eq(false))
            .order_by_asc(person::Column::Id)
            .all(db)
            .await?;
        let mut leaders: BTreeMap<PersonId, BTreeSet<TeamId>> = BTreeMap::new();
        for row in team_leader::Entity::find().all(db).await? {
            if teams.contains_key(&row.team_id) {
                leaders
                    .entry(row.person_id)
                    .or_default()
                    .insert(row.team_id);
            }
        }
        let hr = org::all_role_grants(db)
            .await?
            .into_iter()
            .filter(|grant| grant.role == "hr")
            .map(|grant| grant.person_id)
            .collect();
        Ok(Audience {
            teams,
            people,
            leaders,
            hr,
            root_id,
            leadership_id,
        })
    }

    /// The names of the audience's teams `person` leads, by name.
    fn led_team_names(&self, person: PersonId) -> Vec<String> {
        let mut names: Vec<String> = self
            .leaders
            .get(&person)
            .into_iter()
            .flatten()
            .filter_map(|team| self.teams.get(team).map(|team| team.name.clone()))
            .collect();
        names.sort();
        names
    }

    fn time_zone_of(&self, person: &person::Model) -> TimeZone {
        person
            .time_zone
            .as_deref()
            .or_else(|| {
                person
                    .team_id
                    .and_then(|team_id| self.teams.get(&team_id))
                    .map(|team| team.time_zone.as_str())
            })
            .and_then(|name| TimeZone::parse(name).ok())
            .unwrap_or_else(|| TimeZone::parse("UTC").expect("UTC is a time zone"))
    }

    /// The zone an admin's "open now" names its period in: the first team's.
    fn first_time_zone(&self) -> TimeZone {
        self.teams
            .values()
            .next()
            .and_then(|team| TimeZone::parse(&team.time_zone).ok())
            .unwrap_or_else(|| TimeZone::parse("UTC").expect("UTC is a time zone"))
    }
}

#[derive(Debug, Clone)]
struct SnapshotNodeDraft {
    id: NodeId,
    parent: Option<NodeId>,
    team_id: Option<TeamId>,
    kind: NodeKind,
    name: String,
    invited: u32,
    /// Invited people in this node's subtree who may view it (DESIGN §3 `v`).
    viewers: BTreeSet<PersonId>,
}

/// The round's frozen hierarchy (DESIGN §3): team nodes keep their team's id, a
/// synthetic root joins several top teams, and everyone who leads a team of the
/// audience answers into the synthetic Leadership node under the root. Synthetic
/// nodes keep their id from round to round (see [`Audience`]), so the same counts
/// get the same decisions and Rule D finds their past.
struct Snapshot {
    nodes: Vec<SnapshotNodeDraft>,
    index: HashMap<NodeId, usize>,
    node_of_person: HashMap<PersonId, NodeId>,
}

impl Snapshot {
    fn build(audience: &Audience, survey_name: &str) -> Snapshot {
        let mut nodes: Vec<SnapshotNodeDraft> = audience
            .teams
            .values()
            .map(|team| SnapshotNodeDraft {
                id: NodeId::of_team(team.id),
                parent: team
                    .parent_id
                    .filter(|parent| audience.teams.contains_key(parent))
                    .map(NodeId::of_team),
                team_id: Some(team.id),
                kind: NodeKind::Team,
                name: team.name.clone(),
                invited: 0,
                viewers: BTreeSet::new(),
            })
            .collect();
        let tops: Vec<NodeId> = nodes
            .iter()
            .filter(|node| node.parent.is_none())
            .map(|node| node.id)
            .collect();
        let root = if let [only] = tops.as_slice() {
            *only
        } else {
            let root = audience.root_id;
            for node in nodes.iter_mut().filter(|node| node.parent.is_none()) {
                node.parent = Some(root);
            }
            nodes.push(SnapshotNodeDraft {
                id: root,
                parent: None,
                team_id: None,
                kind: NodeKind::Root,
                name: survey_name.to_owned(),
                invited: 0,
                viewers: BTreeSet::new(),
            });
            root
        };
        let invited_leaders: Vec<&person::Model> = audience
            .people
            .iter()
            .filter(|person| audience.leaders.contains_key(&person.id))
            .collect();
        let leadership = (!invited_leaders.is_empty()).then(|| {
            let id = audience.leadership_id;
            nodes.push(SnapshotNodeDraft {
                id,
                parent: Some(root),
                team_id: None,
                kind: NodeKind::Leadership,
                name: "Leadership".into(),
                invited: 0,
                viewers: BTreeSet::new(),
            });
            id
        });
        let index: HashMap<NodeId, usize> = nodes
            .iter()
            .enumerate()
            .map(|(position, node)| (node.id, position))
            .collect();
        let mut snapshot = Snapshot {
            nodes,
            index,
            node_of_person: HashMap::with_capacity(audience.people.len()),
        };

        for person in &audience.people {
            let node_id = match (leadership, audience.leaders.contains_key(&person.id)) {
                (Some(leadership), true) => leadership,
                // The audience holds people of its teams only.
                _ => match person.team_id {
                    Some(team_id) => NodeId::of_team(team_id),
                    None => continue,
                },
            };
            snapshot.node_of_person.insert(person.id, node_id);
            let position = snapshot.index[&node_id];
            snapshot.nodes[position].invited += 1;
            let viewable = snapshot.viewable_by(person.id, audience);
            let mut current = Some(node_id);
            while let Some(node_id) = current {
                let position = snapshot.index[&node_id];
                if viewable.contains(&node_id) {
                    snapshot.nodes[position].viewers.insert(person.id);
                }
                current = snapshot.nodes[position].parent;
            }
        }
        snapshot
    }

    fn node(&self, id: NodeId) -> &SnapshotNodeDraft {
        &self.nodes[self.index[&id]]
    }

    /// The nodes `person` may read (DESIGN §3 "Who reads what"): hr reads every
    /// node; a manager what [`nodes_a_manager_reads`] says — the same rule the
    /// reports apply, so the viewers counted here are exactly the readers.
    fn viewable_by(&self, person: PersonId, audience: &Audience) -> HashSet<NodeId> {
        if audience.hr.contains(&person) {
            return self.nodes.iter().map(|node| node.id).collect();
        }
        let Some(led) = audience.leaders.get(&person) else {
            return HashSet::new();
        };
        let led: Vec<TeamId> = led.iter().copied().collect();
        nodes_a_manager_reads(&self.access_nodes(), &led)
    }

    fn access_nodes(&self) -> Vec<AccessNode> {
        self.nodes
            .iter()
            .map(|node| AccessNode {
                id: node.id,
                parent: node.parent,
                kind: node.kind,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    Closed {
        counted_responses: u32,
    },
    /// Closed before: nothing changed.
    AlreadyClosed,
}

/// What the close does with raw answers after releasing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawRetention {
    /// The default: only releases and atom statistics outlive the round.
    Delete,
    /// Copy answers and comments, shuffled, with atom ids and no ballot.
    Keep,
}

/// Closes a round (see the module docs). Returns [`CloseOutcome::AlreadyClosed`]
/// when another call closed it first.
#[allow(clippy::too_many_arguments)]
pub async fn close_round(
    store: &Store,
    bank: &ItemBank,
    keys: &KeyChain,
    round_id: RoundId,
    now: DateTime<Utc>,
    retention: RawRetention,
    report_base_url: &str,
    mail_host: &str,
) -> Result<CloseOutcome, RoundError> {
    let transaction = store.begin_write().await?;
    let closed = round::Entity::update_many()
        .col_expr(round::Column::Status, Expr::value("closed"))
        .col_expr(round::Column::ClosedAt, Expr::value(now))
        .filter(round::Column::Id.eq(round_id))
        .filter(round::Column::Status.eq("open"))
        .exec(&transaction)
        .await?;
    if closed.rows_affected == 0 {
        return if round::Entity::find_by_id(round_id)
            .one(&transaction)
            .await?
            .is_some()
        {
            Ok(CloseOutcome::AlreadyClosed)
        } else {
            Err(RoundError::RoundNotFound)
        };
    }
    let round = round::Entity::find_by_id(round_id)
        .one(&transaction)
        .await?
        .ok_or(RoundError::RoundNotFound)?;
    let round_key = keys.round_key(round_id, &round.key_id)?;
    let seal = round_key.answer_seal();

    let invitations = invitation::Entity::find()
        .filter(invitation::Column::RoundId.eq(round_id))
        .all(&transaction)
        .await?;
    // Every invitation's ballot, computed in memory and kept only in this function.
    let expected_ballots: HashMap<Vec<u8>, NodeId> = invitations
        .iter()
        .map(|invitation| {
            let token = round_key.link_token(invitation.id);
            (round_key.ballot(&token).0.to_vec(), invitation.node_id)
        })
        .collect();
    let (open_responses, open_comments) = answers::open_rows(&transaction, round_id).await?;

    let items: Vec<ItemId> = round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round_id))
        .order_by_asc(round_item::Column::Position)
        .all(&transaction)
        .await?
        .into_iter()
        .map(|row| ItemId(row.item_id))
        .collect();
    let metas = items
        .iter()
        .map(|id| {
            bank.meta(id)
                .cloned()
                .ok_or_else(|| RoundError::UnknownItem(id.0.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let nodes = round_node::Entity::find()
        .filter(round_node::Column::RoundId.eq(round_id))
        .all(&transaction)
        .await?;
    let node_ids: HashSet<NodeId> = nodes.iter().map(|node| node.node_id).collect();
    // Rule D's input: counts and membership of the survey's earlier rounds.
    let past = crate::history::load(&transaction, &round, &nodes, &invitations).await?;

    let mut responses = Vec::with_capacity(open_responses.len());
    let mut counted = Vec::with_capacity(open_responses.len());
    for row in &open_responses {
        if expected_ballots.get(&row.ballot) != Some(&row.node_id) {
            continue;
        }
        let node = row.node_id;
        let Some(answers) = seal
            .open_answers(node, &row.sealed)
            .and_then(|values| parse_answers(&values, &metas))
        else {
            continue;
        };
        counted.push((node, answers.clone()));
        responses.push(Response { node, answers });
    }
    drop(expected_ballots);
    let comments: Vec<Comment> = open_comments
        .iter()
        .filter(|comment| node_ids.contains(&comment.node_id))
        .filter_map(|comment| {
            let node = comment.node_id;
            seal.open_comment(node, &comment.sealed)
                .map(|text| Comment { node, text })
        })
        .collect();

    let input = RoundInput {
        nodes: nodes
            .iter()
            .map(|node| SnapshotNode {
                id: node.node_id,
                parent: node.parent_node_id,
                viewers: node.viewers as u32,
            })
            .collect(),
        items: metas,
        responses,
        comments,
        status: RoundStatus::Closed,
        history: past.history,
    };
    let restricted = RestrictedRelease::parse(&round.restricted_release).ok_or_else(|| {
        RoundError::Inconsistent(format!("restricted_release {}", round.restricted_release))
    })?;
    let policy = Policy::new(round.k as u32, round.k_detail as u32)
        .map_err(|error| RoundError::Inconsistent(error.to_string()))?
        .with_restricted(restricted);
    let released = release_round(&input, &policy, &mut rand::rng())?;

    store_release(&transaction, round_id, &released, &past.team_changed).await?;

    if retention == RawRetention::Keep {
        retain_shuffled(&transaction, round_id, &counted, &input.comments, &released).await?;
    }
    answers::delete_open_rows(&transaction, round_id).await?;
    safepulse_store::participation::delete_for_round(&transaction, round_id).await?;
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Lookup,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .filter(invitation::Column::RoundId.eq(round_id))
        .exec(&transaction)
        .await?;
    // Invitations and reminders not sent by now would carry a dead link.
    outbox::Entity::delete_many()
        .filter(outbox::Column::RoundId.eq(round_id))
        .filter(outbox::Column::Kind.is_in(["invitation", "reminder"]))
        .exec(&transaction)
        .await?;
    queue_digests(
        &transaction,
        bank,
        &round,
        &nodes,
        &released.releases,
        now,
        report_base_url,
        mail_host,
    )
    .await?;
    transaction.commit().await?;
    let counted_responses = input.responses.len() as u32;
    tracing::info!(round = %round_id, counted_responses, "round closed");

    if let Err(error) = shred_closed_rounds(store, keys, now).await {
        // Retried at start and on every scheduler tick until it succeeds.
        tracing::warn!(%error, "destroying the closed round's key or scrubbing failed; will retry");
    }
    Ok(CloseOutcome::Closed { counted_responses })
}

/// Answers as sealed at submit: one byte per item, in the round's item order.
fn parse_answers(values: &[u8], metas: &[safepulse_domain::ItemMeta]) -> Option<Vec<Answer>> {
    if values.len() != metas.len() {
        return None;
    }
    values
        .iter()
        .zip(metas)
        .map(|(value, meta)| Answer::parse(i64::from(*value), meta.scale).ok())
        .collect()
}

async fn store_release(
    db: &DatabaseTransaction,
    round_id: RoundId,
    released: &safepulse_anonymizer::RoundRelease,
    team_changed: &HashSet<NodeId>,
) -> Result<(), RoundError> {
    use safepulse_store::bulk::{self, insert_rows};
    let releases = released
        .releases
        .iter()
        .map(|node_release| {
            let (status, detail, figures) = match &node_release.release {
                Release::Released(figures) => (
                    ReleaseStatus::Released,
                    figures.detail,
                    Some(figures.to_stored()),
                ),
                Release::Rounded(figures) => {
                    (ReleaseStatus::Rounded, false, Some(figures.to_stored()))
                }
                Release::Suppressed { .. } => (ReleaseStatus::Suppressed, false, None),
            };
            vec![
                Uuid::new_v4().into(),
                round_id.into(),
                node_release.node.0.into(),
                status.into(),
                detail.into(),
                figures.into(),
                team_changed.contains(&node_release.node).into(),
            ]
        })
        .collect();
    insert_rows(db, bulk::RELEASES, releases).await?;

    let ledger_rows = [&released.ledger.scores, &released.ledger.detail]
        .into_iter()
        .flat_map(|family| {
            family.releases.iter().flat_map(move |entry| {
                entry.atoms.iter().map(move |atom| {
                    vec![
                        round_id.into(),
                        entry.node.0.into(),
                        family_name(family.family).into(),
                        atom.0.into(),
                    ]
                })
            })
        })
        .collect();
    insert_rows(db, bulk::RELEASE_LEDGER, ledger_rows).await?;

    let determined_rows = [&released.ledger.scores, &released.ledger.detail]
        .into_iter()
        .flat_map(|family| {
            family.determined.iter().map(move |entry| {
                vec![
                    round_id.into(),
                    family_name(family.family).into(),
                    entry.node.0.into(),
                    i32::try_from(entry.respondents).unwrap_or(i32::MAX).into(),
                ]
            })
        })
        .collect();
    insert_rows(db, bulk::DETERMINED_NODES, determined_rows).await?;

    let atom_rows = released
        .atoms
        .iter()
        .map(|atom| {
            vec![
                round_id.into(),
                family_name(atom.family).into(),
                atom.atom.0.into(),
                (atom.respondents as i32).into(),
                atom.to_stored().into(),
            ]
        })
        .collect();
    insert_rows(db, bulk::ATOM_STATISTICS, atom_rows).await?;

    let mut positions: HashMap<Uuid, i32> = HashMap::new();
    let comment_rows = released
        .comments
        .iter()
        .map(|comment| {
            let position = positions.entry(comment.atom.0).or_default();
            *position += 1;
            vec![
                Uuid::new_v4().into(),
                round_id.into(),
                comment.atom.0.into(),
                (*position).into(),
                comment.text.clone().into(),
            ]
        })
        .collect();
    insert_rows(db, bulk::RELEASED_COMMENTS, comment_rows).await?;

    if let Some(org) = &released.org {
        round::Entity::update_many()
            .col_expr(
                round::Column::OrgFigures,
                Expr::value(serde_json::to_value(org).expect("org figures serialize")),
            )
            .filter(round::Column::Id.eq(round_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Scores => "scores",
        Family::Detail => "detail",
    }
}

/// Raw retention (opt-in): answers and comments copied in random order with new ids
/// and the atom of the score family that holds them instead of their team, no
/// ballot. Answers outside every released atom are not kept.
async fn retain_shuffled(
    db: &DatabaseTransaction,
    round_id: RoundId,
    counted: &[(NodeId, Vec<Answer>)],
    comments: &[Comment],
    released: &safepulse_anonymizer::RoundRelease,
) -> Result<(), RoundError> {
    let atom_of_node = atoms_by_node(db, round_id, released).await?;
    let mut responses: Vec<retained_response::ActiveModel> = counted
        .iter()
        .filter_map(|(node, answers)| {
            let values: Vec<u8> = answers.iter().map(|answer| answer.value()).collect();
            atom_of_node
                .get(node)
                .map(|atom| retained_response::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    round_id: Set(round_id),
                    atom_id: Set(*atom),
                    answers: Set(serde_json::to_string(&values).expect("numbers serialize")),
                })
        })
        .collect();
    let mut kept_comments: Vec<retained_comment::ActiveModel> = comments
        .iter()
        .filter_map(|comment| {
            atom_of_node
                .get(&comment.node)
                .map(|atom| retained_comment::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    round_id: Set(round_id),
                    atom_id: Set(*atom),
                    body: Set(comment.text.clone()),
                })
        })
        .collect();
    {
        // The thread-local generator must be gone before the next `.await`: the
        // scheduler runs this close in a spawned (`Send`) task.
        let mut rng = rand::rng();
        responses.shuffle(&mut rng);
        kept_comments.shuffle(&mut rng);
    }
    insert_chunked(db, responses).await?;
    insert_chunked(db, kept_comments).await?;
    Ok(())
}

/// For each snapshot node, the score-family atom its direct answers fall into: the
/// atom of its nearest released ancestor-or-self.
async fn atoms_by_node(
    db: &DatabaseTransaction,
    round_id: RoundId,
    released: &safepulse_anonymizer::RoundRelease,
) -> Result<HashMap<NodeId, Uuid>, RoundError> {
    let nodes = round_node::Entity::find()
        .filter(round_node::Column::RoundId.eq(round_id))
        .all(db)
        .await?;
    let parents: HashMap<NodeId, Option<NodeId>> = nodes
        .iter()
        .map(|node| (node.node_id, node.parent_node_id))
        .collect();
    let atom_of_released: HashMap<NodeId, Uuid> = released
        .atoms
        .iter()
        .filter(|atom| atom.family == Family::Scores)
        .map(|atom| (atom.node, atom.atom.0))
        .collect();
    Ok(parents
        .keys()
        .filter_map(|node| {
            let mut current = Some(*node);
            while let Some(id) = current {
                if let Some(atom) = atom_of_released.get(&id) {
                    return Some((*node, *atom));
                }
                current = parents.get(&id).copied().flatten();
            }
            None
        })
        .collect())
}

/// Erasure while a round is open: deletes the person's answer in every open round
/// where they answered, found by recomputing their ballot (nothing stored links
/// them). Their comment cannot be found — nothing links it to them — and is
/// released or deleted with the round. Call it in the erasure's transaction.
pub async fn erase_open_answers(
    db: &DatabaseTransaction,
    keys: &KeyChain,
    person_id: PersonId,
) -> Result<u32, RoundError> {
    let invitations = invitation::Entity::find()
        .filter(invitation::Column::PersonId.eq(person_id))
        .all(db)
        .await?;
    let mut erased = 0;
    for invitation in invitations {
        let Some(round) = round::Entity::find_by_id(invitation.round_id)
            .one(db)
            .await?
        else {
            continue;
        };
        if round.status != "open" {
            continue;
        }
        let round_key = match keys.round_key(round.id, &round.key_id) {
            Ok(key) => key,
            // Without the round key nobody can ever open or count that answer: it
            // is already as gone as erasure would make it.
            Err(KeyringError::RoundKeyMissing(_)) => continue,
            Err(error) => return Err(error.into()),
        };
        let ballot = round_key.ballot(&round_key.link_token(invitation.id));
        if answers::delete_open_answer(db, &ballot.0).await? {
            erased += 1;
        }
    }
    Ok(erased)
}

/// The digest a manager gets when a round closes, stored on its outbox row: the
/// released headline figures of the teams they lead, as far as they may read them
/// (a team is hidden, `figures: None`, when the reader rule hides it from them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestPayload {
    pub survey_name: String,
    pub round_label: String,
    pub report_link: String,
    pub locale: String,
    pub time_zone: String,
    pub teams: Vec<DigestPayloadTeam>,
    /// When the next pulse's results are expected, in the (first) team's time
    /// zone: only for an active survey, whose cadence says when its next round
    /// opens. Absent otherwise, and in rows queued before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_results_on: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestPayloadTeam {
    pub team_name: String,
    /// `None` when the release is suppressed or rounded.
    pub figures: Option<ReleasedFigures>,
    /// A rounded release (Rule D): its coarse means.
    #[serde(default)]
    pub rounded: Option<RoundedFigures>,
    /// The team's commitments not yet done when the round closed: the leader's own
    /// words, nothing from answers.
    #[serde(default)]
    pub commitments: Vec<DigestPayloadCommitment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestPayloadCommitment {
    pub dimension: String,
    pub action: String,
    pub due_on: chrono::NaiveDate,
}

#[allow(clippy::too_many_arguments)]
async fn queue_digests(
    db: &DatabaseTransaction,
    bank: &ItemBank,
    round: &round::Model,
    nodes: &[round_node::Model],
    releases: &[safepulse_anonymizer::NodeRelease],
    now: DateTime<Utc>,
    report_base_url: &str,
    mail_host: &str,
) -> Result<(), RoundError> {
    let survey = survey::Entity::find_by_id(round.survey_id)
        .one(db)
        .await?
        .ok_or(RoundError::SurveyNotFound)?;
    let team_nodes: HashMap<TeamId, &round_node::Model> = nodes
        .iter()
        .filter_map(|node| node.team_id.map(|team| (team, node)))
        .collect();
    let release_of: HashMap<NodeId, &Release> = releases
        .iter()
        .map(|release| (release.node, &release.release))
        .collect();
    let mut led: BTreeMap<PersonId, Vec<TeamId>> = BTreeMap::new();
    for row in team_leader::Entity::find()
        .filter(team_leader::Column::TeamId.is_in(team_nodes.keys().copied()))
        .all(db)
        .await?
    {
        led.entry(row.person_id).or_default().push(row.team_id);
    }
    if led.is_empty() {
        return Ok(());
    }
    let managers = person::Entity::find()
        .filter(person::Column::Id.is_in(led.keys().copied()))
        .filter(person::Column::Active.eq(true))
        .filter(person::Column::Undeliverable.eq(false))
        .all(db)
        .await?;
    // The reader rule every report applies (`readable_nodes`): a manager whose own
    // invitation sat in a team they lead now without counting them among its
    // viewers (made its leader while the round was open) was not subtracted by the
    // anonymizer there, so its figures would include their own answer.
    use safepulse_domain::access::{ReaderScope, readable_nodes};
    let manager_ids: Vec<PersonId> = managers.iter().map(|manager| manager.id).collect();
    let mut own_parts = safepulse_store::releases::own_parts(db, &manager_ids, &[round.id]).await?;
    let access_nodes: Vec<AccessNode> = nodes
        .iter()
        .map(safepulse_store::releases::access_node)
        .collect();
    let team_zones: HashMap<TeamId, TimeZone> = team::Entity::find()
        .filter(team::Column::Id.is_in(team_nodes.keys().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|team| Some((team.id, TimeZone::parse(&team.time_zone).ok()?)))
        .collect();
    let led_team_ids: Vec<TeamId> = team_nodes.keys().copied().collect();
    let mut open_commitments: HashMap<TeamId, Vec<DigestPayloadCommitment>> = HashMap::new();
    for commitment in safepulse_store::commitments::open_of_teams(db, &led_team_ids).await? {
        open_commitments
            .entry(commitment.team_id)
            .or_default()
            .push(DigestPayloadCommitment {
                dimension: commitment.dimension,
                action: commitment.action,
                due_on: commitment.due_on,
            });
    }
    let next_results_at = next_results_at(db, bank, &survey, &team_zones, now).await?;
    let mut rows = Vec::with_capacity(managers.len());
    for manager in &managers {
        let own = own_parts
            .remove(&(round.id, manager.id))
            .unwrap_or_default();
        let readable = readable_nodes(
            &access_nodes,
            &ReaderScope::LedTeams(led[&manager.id].clone()),
            &own,
        );
        let teams = led[&manager.id]
            .iter()
            .map(|team_id| {
                let node = team_nodes[team_id];
                let readable_release = release_of
                    .get(&node.node_id)
                    .filter(|_| readable.contains(&node.node_id));
                DigestPayloadTeam {
                    team_name: node.name.clone(),
                    figures: match readable_release {
                        Some(Release::Released(figures)) => Some(figures.clone()),
                        _ => None,
                    },
                    rounded: match readable_release {
                        Some(Release::Rounded(figures)) => Some(figures.clone()),
                        _ => None,
                    },
                    commitments: open_commitments.get(team_id).cloned().unwrap_or_default(),
                }
            })
            .collect();
        let time_zone = manager.time_zone.clone().unwrap_or_else(|| "UTC".into());
        let locale = Locale::parse(&manager.locale).unwrap_or(Locale::En);
        let mut led_teams = led[&manager.id].clone();
        led_teams.sort_by(|a, b| team_nodes[a].name.cmp(&team_nodes[b].name));
        // Named as on the dashboard: the day it opened in the (first) team's zone,
        // in the reader's language.
        let label_zone = team_zones.get(&led_teams[0]).copied().unwrap_or_default();
        let payload = DigestPayload {
            survey_name: survey.name.clone(),
            round_label: crate::messages::pulse_label(round.opened_at, label_zone, locale),
            // The team's own page; a manager of several teams gets the list of them.
            report_link: match led_teams.as_slice() {
                [only] => format!("{report_base_url}/dashboard/teams/{only}"),
                _ => format!("{report_base_url}/dashboard"),
            },
            locale: locale.as_str().to_owned(),
            time_zone,
            teams,
            next_results_on: next_results_at
                .map(|at| at.with_timezone(&label_zone.tz()).date_naive()),
        };
        rows.push(new_outbox_row(
            "digest",
            manager,
            None,
            Some(round.id),
            serde_json::to_value(&payload).expect("digest payload serializes"),
            now,
            now,
            mail_host,
        )?);
    }
    insert_chunked(db, rows).await?;
    Ok(())
}

/// When the survey's next round is expected to close, as the scheduler will open
/// it for the closing round's teams; `None` unless the survey is active (a paused,
/// archived or draft survey opens no round by itself, so no date is guessed).
async fn next_results_at(
    db: &DatabaseTransaction,
    bank: &ItemBank,
    survey: &survey::Model,
    team_zones: &HashMap<TeamId, TimeZone>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, RoundError> {
    if survey.status != "active" {
        return Ok(None);
    }
    let plan = match SurveyPlan::from_stored(&survey.settings, bank) {
        Ok(plan) => plan,
        // The scheduler opens no round for it either (and says so).
        Err(_) => return Ok(None),
    };
    let taken: HashSet<String> = round::Entity::find()
        .filter(round::Column::SurveyId.eq(survey.id))
        .all(db)
        .await?
        .into_iter()
        .map(|round| round.period_key)
        .collect();
    let zones: Vec<chrono_tz::Tz> = team_zones.values().map(|zone| zone.tz()).collect();
    Ok(plan.next_results_at(now, &zones, |key| taken.contains(key)))
}

/// The way out when an open round's key is lost (the keyring was not restored):
/// its answers can never be opened or counted, and its links can never be sent
/// again. Deletes the round with everything that refers to it — invitations,
/// snapshot, unsent emails and the sealed answers — in one transaction, so an
/// admin can open a new round with new links. Refused while the key exists.
pub async fn discard_round(
    store: &Store,
    keys: &KeyChain,
    round_id: RoundId,
) -> Result<round::Model, RoundError> {
    let transaction = store.begin_write().await?;
    let round = round::Entity::find_by_id(round_id)
        .one(&transaction)
        .await?
        .ok_or(RoundError::RoundNotFound)?;
    if round.status != "open" {
        return Err(RoundError::RoundNotOpen);
    }
    match keys.round_key(round_id, &round.key_id) {
        Err(KeyringError::RoundKeyMissing(_)) => {}
        Ok(_) => return Err(RoundError::RoundKeyPresent),
        Err(error) => return Err(error.into()),
    }
    answers::delete_open_rows(&transaction, round_id).await?;
    // Invitations, snapshot, viewers, items, reminders, participation and outbox
    // rows go with the round (ON DELETE CASCADE).
    round::Entity::delete_by_id(round_id)
        .exec(&transaction)
        .await?;
    transaction.commit().await?;
    tracing::warn!(round = %round_id, "an open round whose key was lost was discarded");
    Ok(round)
}

/// Crypto-shredding after close, recorded and retried until done: destroys the
/// keyring entry of every closed round not yet shredded, then scrubs the database's freed pages — SQLite (with
/// `secure_delete`) zeroes freed pages on commit and a truncating checkpoint folds
/// the WAL, which still holds the old pages, into the main file and empties it;
/// PostgreSQL's `VACUUM` frees the open tables' dead tuples — and only then sets
/// `scrubbed_at`. Called after every close, at start and on every scheduler tick;
/// returns how many rounds it finished.
pub async fn shred_closed_rounds(
    store: &Store,
    keys: &KeyChain,
    now: DateTime<Utc>,
) -> Result<usize, RoundError> {
    let db = store.connection();
    let pending: Vec<RoundId> = round::Entity::find()
        .filter(round::Column::Status.eq("closed"))
        .filter(round::Column::ScrubbedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|round| round.id)
        .collect();
    for round_id in &pending {
        keys.keyring().destroy(*round_id)?;
    }
    if pending.is_empty() {
        return Ok(0);
    }
    scrub_freed_pages(store).await?;
    round::Entity::update_many()
        .col_expr(round::Column::ScrubbedAt, Expr::value(now))
        .filter(round::Column::Id.is_in(pending.iter().copied()))
        .exec(db)
        .await?;
    Ok(pending.len())
}

async fn scrub_freed_pages(store: &Store) -> Result<(), RoundError> {
    let db = store.connection();
    match store.db_backend() {
        DbBackend::Postgres => {
            for table in ["open_responses", "open_comments", "invitations"] {
                // The nulled lookups would otherwise linger as dead tuples too.
                db.execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("VACUUM {table}"),
                ))
                .await?;
            }
        }
        backend => {
            let row = db
                .query_one_raw(Statement::from_string(
                    backend,
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ))
                .await?;
            // `busy` = 1: a reader kept the checkpoint from finishing; try again later.
            let busy: i32 = match row {
                Some(row) => row.try_get_by_index(0)?,
                None => 0,
            };
            if busy != 0 {
                return Err(RoundError::CheckpointBusy);
            }
        }
    }
    Ok(())
}
