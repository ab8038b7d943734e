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
//! [`close_round`] is the single idempotent close transaction, one function per
//! step, in this order: `mark_closed` (status first: it waits for in-flight
//! submits, which hold the round row shared), `load_counted_answers` (ballots
//! checked against the round's invitations, answers opened in memory), `release`
//! (the anonymizer), `store_release`, `retain_shuffled` (only with raw
//! retention), `destroy_links` (open rows deleted, lookups nulled, unsent links
//! deleted), `queue_digests`, then the webhooks (`webhook_events`). After it
//! commits, [`shred_closed_rounds`] destroys
//! the round's keyring entry and scrubs freed pages (truncating WAL checkpoint on
//! SQLite, `VACUUM` on PostgreSQL), and records that it did; it runs again at
//! start and on every scheduler tick until every closed round is shredded.
//!
//! The SQL of every step is in `safepulse_store::rounds`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rand::seq::SliceRandom;
use safepulse_anonymizer::{
    AnonymizerError, Comment, Family, NodeRelease, Policy, Release, Response, RestrictedRelease,
    RoundInput, RoundRelease, RoundStatus, SnapshotNode, StoredForm, release_round,
};
use safepulse_domain::access::{
    AccessNode, NodeKind, OwnPart, ReaderScope, nodes_a_manager_reads, readable_nodes,
    synthetic_node_id,
};
use safepulse_domain::keys::RoundKey;
use safepulse_domain::{
    Answer, InvitationId, ItemId, ItemMeta, Locale, NodeId, PersonId, RoundId, SurveyId, TeamId,
    TimeZone,
};
use safepulse_mailer::messages::{LinkError, pulse_label};
use safepulse_mailer::payloads::{
    DigestPayload, DigestPayloadCommitment, DigestPayloadTeam, InvitationPayload, new_outbox_row,
};
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::release::ReleaseStatus;
use safepulse_store::entities::{
    invitation, open_response, person, retained_comment, retained_response, round, round_item,
    round_node, round_viewer, survey, team,
};
use safepulse_store::keyring::{KeyChain, KeyringError};
use safepulse_store::rounds as store_rounds;
use safepulse_store::{Store, StoreError, answers, org, releases, surveys};
use sea_orm::{DatabaseTransaction, Set, TransactionTrait, Value};
use uuid::Uuid;

use crate::cadence::Period;
use crate::item_bank::ItemBank;
use crate::rotation::items_for_round;
use crate::survey::{SettingsError, SurveyPlan};

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

/// A mail host that cannot name a Message-ID: checked at start, so never expected here.
impl From<LinkError> for RoundError {
    fn from(error: LinkError) -> Self {
        RoundError::Inconsistent(format!("mail host: {error}"))
    }
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
        refuse_if_recorded(&transaction).await?;
    }
    let survey = active_survey(&transaction, survey_id).await?;
    let plan = SurveyPlan::from_stored(&survey.settings, bank)?;
    let previous_rounds = surveys::rounds_of(&transaction, survey_id).await?;
    if let Some(open) = previous_rounds
        .iter()
        .find(|round| round.status == round::RoundStatus::Open)
    {
        return match request {
            OpenRequest::Now => Err(RoundError::RoundAlreadyOpen),
            OpenRequest::Scheduled(_) => Ok(OpenOutcome::AlreadyOpened(open.clone())),
        };
    }
    let audience = Audience::load(&transaction, &survey).await?;
    if audience.people.is_empty() {
        return Err(RoundError::NoAudience);
    }
    let (period_key, opens_on) = period_of(&request, &plan, &audience, &previous_rounds, now);

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
    let opening = OpenedRound {
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
    };
    let opened = write_opened_round(transaction, &opening).await;
    if !matches!(opened, Ok(OpenOutcome::Opened(_)))
        && let Err(error) = keys.keyring().destroy(round_id)
    {
        tracing::warn!(%error, "could not destroy the key of a round that did not open");
    }
    opened
}

/// Refuses to open while PostgreSQL would record statements or their timing.
async fn refuse_if_recorded(db: &DatabaseTransaction) -> Result<(), RoundError> {
    let problems = safepulse_store::hygiene::postgres_recording_settings(db).await?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RoundError::DatabaseRecords(problems.join("; ")))
    }
}

/// The survey, if it exists and is active: only an active survey opens rounds.
async fn active_survey(
    db: &DatabaseTransaction,
    survey_id: SurveyId,
) -> Result<survey::Model, RoundError> {
    let survey = store_rounds::find_survey(db, survey_id)
        .await?
        .ok_or(RoundError::SurveyNotFound)?;
    if survey.status != "active" {
        return Err(RoundError::SurveyNotActive(survey.status));
    }
    Ok(survey)
}

/// The period key of the round to open, and the day its period opens: the
/// scheduler's period; for an admin's "open now" the current period's key when no
/// round has it yet, else a `manual-…` key, and no opening day (everyone now).
fn period_of(
    request: &OpenRequest,
    plan: &SurveyPlan,
    audience: &Audience,
    previous_rounds: &[round::Model],
    now: DateTime<Utc>,
) -> (String, Option<NaiveDate>) {
    match request {
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
    }
}

/// The rows of a round being opened, for [`write_opened_round`].
struct OpenedRound<'a> {
    round_id: RoundId,
    key_id: &'a str,
    round_key: &'a RoundKey,
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

/// Writes an opening round and commits, step by step: the round (unless another
/// call opened its period first), its items, its snapshot with viewers, its
/// invitations with their outbox rows, and the survey's privacy lock.
async fn write_opened_round(
    transaction: DatabaseTransaction,
    opening: &OpenedRound<'_>,
) -> Result<OpenOutcome, RoundError> {
    if let Some(existing) = insert_round(&transaction, opening).await? {
        return Ok(OpenOutcome::AlreadyOpened(existing));
    }
    insert_items(&transaction, opening).await?;
    insert_snapshot(&transaction, opening).await?;
    insert_invitations(&transaction, opening).await?;
    store_rounds::lock_privacy(&transaction, opening.survey).await?;
    let opened = store_rounds::find(&transaction, opening.round_id)
        .await?
        .ok_or_else(|| RoundError::Inconsistent("the new round vanished".into()))?;
    transaction.commit().await?;
    tracing::info!(
        round = %opening.round_id,
        invited = opening.audience.people.len(),
        "round opened"
    );
    Ok(OpenOutcome::Opened(opened))
}

/// The round row, inserted `ON CONFLICT (survey_id, period_key) DO NOTHING`: the
/// round that holds the period already when another call opened it first.
async fn insert_round(
    db: &DatabaseTransaction,
    opening: &OpenedRound<'_>,
) -> Result<Option<round::Model>, RoundError> {
    let survey = opening.survey;
    let inserted = store_rounds::insert_unless_period_taken(
        db,
        round::ActiveModel {
            id: Set(opening.round_id),
            survey_id: Set(survey.id),
            period_key: Set(opening.period_key.clone()),
            round_index: Set(opening.round_index),
            status: Set(round::RoundStatus::Open),
            key_id: Set(opening.key_id.to_owned()),
            k: Set(survey.k),
            k_detail: Set(survey.k_detail),
            restricted_release: Set(survey.restricted_release.clone()),
            opened_at: Set(opening.now),
            closes_at: Set(opening.closes_at),
            closed_at: Set(None),
            invited_count: Set(opening.audience.people.len() as i32),
            bounce_count: Set(0),
            org_figures: Set(None),
            scrubbed_at: Set(None),
        },
    )
    .await?;
    if inserted {
        return Ok(None);
    }
    let existing = store_rounds::of_period(db, survey.id, &opening.period_key)
        .await?
        .ok_or_else(|| RoundError::Inconsistent("conflicting round vanished".into()))?;
    Ok(Some(existing))
}

/// The round's items, in the order its answers are sealed.
async fn insert_items(
    db: &DatabaseTransaction,
    opening: &OpenedRound<'_>,
) -> Result<(), RoundError> {
    let rows = opening
        .items
        .iter()
        .enumerate()
        .map(|(position, item)| round_item::ActiveModel {
            round_id: Set(opening.round_id),
            position: Set(position as i32),
            item_id: Set(item.0.clone()),
        })
        .collect();
    Ok(store_rounds::insert_chunked(db, rows).await?)
}

/// The round's frozen hierarchy with its invited and viewer counts, and who may
/// view each node.
async fn insert_snapshot(
    db: &DatabaseTransaction,
    opening: &OpenedRound<'_>,
) -> Result<(), RoundError> {
    let round_id = opening.round_id;
    let nodes = &opening.snapshot.nodes;
    let node_rows = nodes
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
        .collect();
    store_rounds::insert_chunked(db, node_rows).await?;
    let viewer_rows = nodes
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
        .collect();
    Ok(store_rounds::insert_chunked(db, viewer_rows).await?)
}

/// One invitation per person (only its link token's lookup hash is stored) and
/// one outbox row with its invitation email, sent at the person's opening instant.
async fn insert_invitations(
    db: &DatabaseTransaction,
    opening: &OpenedRound<'_>,
) -> Result<(), RoundError> {
    let people = &opening.audience.people;
    let mut invitations = Vec::with_capacity(people.len());
    let mut outbox_rows = Vec::with_capacity(people.len());
    for person in people {
        let invitation_id = InvitationId::random();
        let node_id = opening.snapshot.node_of_person[&person.id];
        let token = opening.round_key.link_token(invitation_id);
        invitations.push(invitation::ActiveModel {
            id: Set(invitation_id),
            round_id: Set(opening.round_id),
            person_id: Set(person.id),
            node_id: Set(node_id),
            lookup: Set(Some(token.lookup().0.to_vec())),
        });
        outbox_rows.push(new_outbox_row(
            OutboxKind::Invitation,
            person,
            Some(invitation_id),
            Some(opening.round_id),
            serde_json::to_value(invitation_payload(opening, person, node_id))
                .expect("payload serializes"),
            (opening.send_at)(person),
            opening.now,
            opening.mail_host,
        )?);
    }
    store_rounds::insert_chunked(db, invitations).await?;
    Ok(store_rounds::insert_chunked(db, outbox_rows).await?)
}

/// What `person`'s invitation says: their group in the snapshot (or the teams
/// they lead, when they answer in the Leadership node), in their language and zone.
fn invitation_payload(
    opening: &OpenedRound<'_>,
    person: &person::Model,
    node_id: NodeId,
) -> InvitationPayload {
    let node = opening.snapshot.node(node_id);
    InvitationPayload {
        survey_name: opening.survey.name.clone(),
        team_name: node.name.clone(),
        led_teams: if node.kind == NodeKind::Leadership {
            opening.audience.led_team_names(person.id)
        } else {
            Vec::new()
        },
        question_count: opening.items.len(),
        min_group_size: opening.survey.k as u32,
        closes_at: opening.closes_at,
        locale: person.locale.clone(),
        time_zone: opening.audience.time_zone_of(person).name().to_owned(),
    }
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
    let survey = store_rounds::find_survey(&transaction, survey_id)
        .await?
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
        let chosen = store_rounds::survey_team_ids(db, survey.id).await?;
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
        let people = store_rounds::invitable_people(db, teams.keys().copied()).await?;
        let mut leaders: BTreeMap<PersonId, BTreeSet<TeamId>> = BTreeMap::new();
        for row in org::all_leaderships(db).await? {
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

/// The audience's teams as snapshot nodes, each under its parent when that is in
/// the audience; several top teams are joined under a synthetic root named after
/// the survey. Returns the nodes and the root's id.
fn team_nodes_under_one_root(
    audience: &Audience,
    survey_name: &str,
) -> (Vec<SnapshotNodeDraft>, NodeId) {
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
    if let [only] = tops.as_slice() {
        return (nodes, *only);
    }
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
    (nodes, root)
}

impl Snapshot {
    fn build(audience: &Audience, survey_name: &str) -> Snapshot {
        let (mut nodes, root) = team_nodes_under_one_root(audience, survey_name);
        let a_leader_is_invited = audience
            .people
            .iter()
            .any(|person| audience.leaders.contains_key(&person.id));
        let leadership = a_leader_is_invited.then(|| {
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
            snapshot.place(person, leadership, audience);
        }
        snapshot
    }

    /// Puts `person` into their node (the Leadership node for a leader), counts
    /// them there, and adds them to the viewers of each node on their node's path
    /// to the root that they may read.
    fn place(&mut self, person: &person::Model, leadership: Option<NodeId>, audience: &Audience) {
        let node_id = match (leadership, audience.leaders.contains_key(&person.id)) {
            (Some(leadership), true) => leadership,
            // The audience holds people of its teams only.
            _ => match person.team_id {
                Some(team_id) => NodeId::of_team(team_id),
                None => return,
            },
        };
        self.node_of_person.insert(person.id, node_id);
        let position = self.index[&node_id];
        self.nodes[position].invited += 1;
        let viewable = self.viewable_by(person.id, audience);
        let mut current = Some(node_id);
        while let Some(node_id) = current {
            let position = self.index[&node_id];
            if viewable.contains(&node_id) {
                self.nodes[position].viewers.insert(person.id);
            }
            current = self.nodes[position].parent;
        }
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

/// What a close needs besides the store, the item bank and the keys.
#[derive(Debug, Clone, Copy)]
pub struct CloseRequest<'a> {
    pub round_id: RoundId,
    /// The closing instant: the round's `closed_at`, and when its digests are due.
    pub now: DateTime<Utc>,
    pub retention: RawRetention,
    /// Where the digests' report links point, e.g. `https://pulse.example.com`.
    pub report_base_url: &'a str,
    /// The host name in the digests' Message-IDs.
    pub mail_host: &'a str,
}

/// Closes a round (see the module docs): one transaction of named steps, in this
/// order — mark closed, load the counted answers, release, store the release
/// (and, with raw retention, the shuffled copies), destroy the links, queue the
/// digests and webhooks — then, after commit, crypto-shredding. Returns
/// [`CloseOutcome::AlreadyClosed`] when another call closed it first.
pub async fn close_round(
    store: &Store,
    bank: &ItemBank,
    keys: &KeyChain,
    request: CloseRequest<'_>,
) -> Result<CloseOutcome, RoundError> {
    let CloseRequest {
        round_id,
        now,
        retention,
        ..
    } = request;
    let transaction = store.begin_write().await?;
    let Some(round) = mark_closed(&transaction, round_id, now).await? else {
        return not_open(&transaction, round_id).await;
    };
    let counted = load_counted_answers(&transaction, bank, keys, &round).await?;
    let released = release(&round, &counted.input)?;
    store_release(&transaction, round_id, &released, &counted.team_changed).await?;
    if retention == RawRetention::Keep {
        let comments = &counted.input.comments;
        retain_shuffled(
            &transaction,
            round_id,
            &counted.answers,
            comments,
            &released,
        )
        .await?;
    }
    destroy_links(&transaction, round_id).await?;
    queue_digests(
        &transaction,
        bank,
        &round,
        &counted.nodes,
        &released.releases,
        &request,
    )
    .await?;
    crate::webhook_events::queue_close_webhooks(&transaction, &round, &released.releases, &request)
        .await?;
    transaction.commit().await?;
    let counted_responses = counted.input.responses.len() as u32;
    tracing::info!(round = %round_id, counted_responses, "round closed");

    if let Err(error) = shred_closed_rounds(store, keys, now).await {
        // Retried at start and on every scheduler tick until it succeeds.
        tracing::warn!(%error, "destroying the closed round's key or scrubbing failed; will retry");
    }
    Ok(CloseOutcome::Closed { counted_responses })
}

/// Mark closed, first: the status change waits for in-flight submits (they hold
/// the round row shared), and no submit is accepted after it. `None` when the
/// round was not open.
async fn mark_closed(
    db: &DatabaseTransaction,
    round_id: RoundId,
    now: DateTime<Utc>,
) -> Result<Option<round::Model>, RoundError> {
    if !store_rounds::mark_closed(db, round_id, now).await? {
        return Ok(None);
    }
    let round = store_rounds::find(db, round_id).await?;
    Ok(Some(round.ok_or(RoundError::RoundNotFound)?))
}

/// A round that was not open: closed before, or not there at all.
async fn not_open(db: &DatabaseTransaction, round_id: RoundId) -> Result<CloseOutcome, RoundError> {
    match store_rounds::find(db, round_id).await? {
        Some(_) => Ok(CloseOutcome::AlreadyClosed),
        None => Err(RoundError::RoundNotFound),
    }
}

/// What the close counts, read in its transaction.
struct Counted {
    /// The anonymizer's input: snapshot, items, counted responses and comments,
    /// and Rule D's history.
    input: RoundInput,
    /// Each counted response with its node, for raw retention.
    answers: Vec<(NodeId, Vec<Answer>)>,
    /// The round's snapshot rows.
    nodes: Vec<round_node::Model>,
    /// Nodes whose membership changed since the earlier rounds.
    team_changed: HashSet<NodeId>,
}

/// Load the counted answers: the round's sealed answers whose ballot is the
/// ballot of one of its invitations in the same node, opened with the round key,
/// and its comments in the snapshot's nodes; with the snapshot and the history of
/// the survey's earlier rounds, the anonymizer's input.
async fn load_counted_answers(
    db: &DatabaseTransaction,
    bank: &ItemBank,
    keys: &KeyChain,
    round: &round::Model,
) -> Result<Counted, RoundError> {
    let round_key = keys.round_key(round.id, &round.key_id)?;
    let invitations = store_rounds::invitations(db, round.id).await?;
    let (open_responses, open_comments) = answers::open_rows(db, round.id).await?;
    let metas = item_metas(db, bank, round.id).await?;
    let nodes = store_rounds::nodes(db, round.id).await?;
    // Rule D's input: counts and membership of the survey's earlier rounds.
    let past = crate::history::load(db, round, &nodes, &invitations).await?;

    let counted = counted_responses(&round_key, &invitations, &open_responses, &metas);
    let node_ids: HashSet<NodeId> = nodes.iter().map(|node| node.node_id).collect();
    let seal = round_key.answer_seal();
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
        responses: counted
            .iter()
            .map(|(node, answers)| Response {
                node: *node,
                answers: answers.clone(),
            })
            .collect(),
        comments,
        status: RoundStatus::Closed,
        history: past.history,
    };
    Ok(Counted {
        input,
        answers: counted,
        nodes,
        team_changed: past.team_changed,
    })
}

/// The item metadata of the round's items, in their sealed order.
async fn item_metas(
    db: &DatabaseTransaction,
    bank: &ItemBank,
    round_id: RoundId,
) -> Result<Vec<ItemMeta>, RoundError> {
    store_rounds::items(db, round_id)
        .await?
        .iter()
        .map(|id| {
            bank.meta(id)
                .cloned()
                .ok_or_else(|| RoundError::UnknownItem(id.0.clone()))
        })
        .collect()
}

/// The responses that count: a ballot of one of the invitations, in that
/// invitation's node, sealed under the round key, one valid answer per item.
/// Every invitation's ballot is computed here, in memory, and dropped on return.
fn counted_responses(
    round_key: &RoundKey,
    invitations: &[invitation::Model],
    open_responses: &[open_response::Model],
    metas: &[ItemMeta],
) -> Vec<(NodeId, Vec<Answer>)> {
    let expected_ballots: HashMap<Vec<u8>, NodeId> = invitations
        .iter()
        .map(|invitation| {
            let token = round_key.link_token(invitation.id);
            (round_key.ballot(&token).0.to_vec(), invitation.node_id)
        })
        .collect();
    let seal = round_key.answer_seal();
    open_responses
        .iter()
        .filter(|row| expected_ballots.get(&row.ballot) == Some(&row.node_id))
        .filter_map(|row| {
            let node = row.node_id;
            seal.open_answers(node, &row.sealed)
                .and_then(|values| parse_answers(&values, metas))
                .map(|answers| (node, answers))
        })
        .collect()
}

/// Release: the anonymizer's decisions and figures under the privacy settings
/// the round was opened with.
fn release(round: &round::Model, input: &RoundInput) -> Result<RoundRelease, RoundError> {
    let restricted = RestrictedRelease::parse(&round.restricted_release).ok_or_else(|| {
        RoundError::Inconsistent(format!("restricted_release {}", round.restricted_release))
    })?;
    let policy = Policy::new(round.k as u32, round.k_detail as u32)
        .map_err(|error| RoundError::Inconsistent(error.to_string()))?
        .with_restricted(restricted);
    Ok(release_round(input, &policy, &mut rand::rng())?)
}

/// Destroy the links: the sealed answers and comments and the participation
/// figures are deleted, the invitations' lookups nulled (no link finds its
/// invitation any more), and unsent invitations and reminders, which would carry
/// a dead link, deleted. The keys go after commit ([`shred_closed_rounds`]).
async fn destroy_links(db: &DatabaseTransaction, round_id: RoundId) -> Result<(), RoundError> {
    answers::delete_open_rows(db, round_id).await?;
    safepulse_store::participation::delete_for_round(db, round_id).await?;
    store_rounds::null_lookups(db, round_id).await?;
    store_rounds::delete_unsent_links(db, round_id).await?;
    Ok(())
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

/// Store the release: every node's decision and figures, the ledger of released
/// atoms, the determined nodes (Rule D's memory), the atoms' statistics, the
/// released comments and the organisation's figures.
async fn store_release(
    db: &DatabaseTransaction,
    round_id: RoundId,
    released: &RoundRelease,
    team_changed: &HashSet<NodeId>,
) -> Result<(), RoundError> {
    use safepulse_store::bulk::{self, insert_rows};
    let releases = release_rows(round_id, released, team_changed);
    insert_rows(db, bulk::RELEASES, releases).await?;
    insert_rows(db, bulk::RELEASE_LEDGER, ledger_rows(round_id, released)).await?;
    insert_rows(
        db,
        bulk::DETERMINED_NODES,
        determined_rows(round_id, released),
    )
    .await?;
    insert_rows(db, bulk::ATOM_STATISTICS, atom_rows(round_id, released)).await?;
    insert_rows(
        db,
        bulk::RELEASED_COMMENTS,
        comment_rows(round_id, released),
    )
    .await?;
    if let Some(org) = &released.org {
        let figures = serde_json::to_value(org).expect("org figures serialize");
        store_rounds::set_org_figures(db, round_id, figures).await?;
    }
    Ok(())
}

/// One `releases` row per node: its status, whether detail was released, its
/// stored figures, and whether its team changed since earlier rounds.
fn release_rows(
    round_id: RoundId,
    released: &RoundRelease,
    team_changed: &HashSet<NodeId>,
) -> Vec<Vec<Value>> {
    released
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
        .collect()
}

fn ledger_rows(round_id: RoundId, released: &RoundRelease) -> Vec<Vec<Value>> {
    [&released.ledger.scores, &released.ledger.detail]
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
        .collect()
}

fn determined_rows(round_id: RoundId, released: &RoundRelease) -> Vec<Vec<Value>> {
    [&released.ledger.scores, &released.ledger.detail]
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
        .collect()
}

fn atom_rows(round_id: RoundId, released: &RoundRelease) -> Vec<Vec<Value>> {
    released
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
        .collect()
}

/// The released comments, numbered per atom in their release order.
fn comment_rows(round_id: RoundId, released: &RoundRelease) -> Vec<Vec<Value>> {
    let mut positions: HashMap<Uuid, i32> = HashMap::new();
    released
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
        .collect()
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
    released: &RoundRelease,
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
    store_rounds::insert_chunked(db, responses).await?;
    store_rounds::insert_chunked(db, kept_comments).await?;
    Ok(())
}

/// For each snapshot node, the score-family atom its direct answers fall into: the
/// atom of its nearest released ancestor-or-self.
async fn atoms_by_node(
    db: &DatabaseTransaction,
    round_id: RoundId,
    released: &RoundRelease,
) -> Result<HashMap<NodeId, Uuid>, RoundError> {
    let nodes = store_rounds::nodes(db, round_id).await?;
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
    let invitations = store_rounds::invitations_of_person(db, person_id).await?;
    let mut erased = 0;
    for invitation in invitations {
        let Some(round) = store_rounds::find(db, invitation.round_id).await? else {
            continue;
        };
        if round.status != round::RoundStatus::Open {
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

/// Queue the digests: one per active, deliverable leader of the round's teams,
/// with the released headline figures of the teams they lead as far as the reader
/// rule lets them read them, and the teams' open commitments.
async fn queue_digests(
    db: &DatabaseTransaction,
    bank: &ItemBank,
    round: &round::Model,
    nodes: &[round_node::Model],
    releases: &[NodeRelease],
    request: &CloseRequest<'_>,
) -> Result<(), RoundError> {
    let Some(mut digests) = Digests::load(db, bank, round, nodes, releases, request.now).await?
    else {
        return Ok(());
    };
    let mut rows = Vec::with_capacity(digests.managers.len());
    for manager in &digests.managers {
        let own = digests
            .own_parts
            .remove(&(round.id, manager.id))
            .unwrap_or_default();
        let payload = digests.payload(manager, &own, request.report_base_url);
        rows.push(new_outbox_row(
            OutboxKind::Digest,
            manager,
            None,
            Some(round.id),
            serde_json::to_value(&payload).expect("digest payload serializes"),
            request.now,
            request.now,
            request.mail_host,
        )?);
    }
    store_rounds::insert_chunked(db, rows).await?;
    Ok(())
}

/// What the digests of a closing round are made of, read in its transaction.
struct Digests<'a> {
    round: &'a round::Model,
    survey: survey::Model,
    /// The snapshot's team nodes, by team.
    team_nodes: HashMap<TeamId, &'a round_node::Model>,
    release_of: HashMap<NodeId, &'a Release>,
    /// The round's teams each leader leads.
    led: BTreeMap<PersonId, Vec<TeamId>>,
    managers: Vec<person::Model>,
    own_parts: HashMap<(RoundId, PersonId), OwnPart>,
    access_nodes: Vec<AccessNode>,
    team_zones: HashMap<TeamId, TimeZone>,
    open_commitments: HashMap<TeamId, Vec<DigestPayloadCommitment>>,
    next_results_at: Option<DateTime<Utc>>,
}

impl<'a> Digests<'a> {
    /// `None` when none of the round's teams has a leader.
    async fn load(
        db: &DatabaseTransaction,
        bank: &ItemBank,
        round: &'a round::Model,
        nodes: &'a [round_node::Model],
        releases: &'a [NodeRelease],
        now: DateTime<Utc>,
    ) -> Result<Option<Digests<'a>>, RoundError> {
        let survey = store_rounds::find_survey(db, round.survey_id)
            .await?
            .ok_or(RoundError::SurveyNotFound)?;
        let team_nodes: HashMap<TeamId, &round_node::Model> = nodes
            .iter()
            .filter_map(|node| node.team_id.map(|team| (team, node)))
            .collect();
        let release_of = releases
            .iter()
            .map(|release| (release.node, &release.release))
            .collect();
        let mut led: BTreeMap<PersonId, Vec<TeamId>> = BTreeMap::new();
        for row in store_rounds::leaders_of_teams(db, team_nodes.keys().copied()).await? {
            led.entry(row.person_id).or_default().push(row.team_id);
        }
        if led.is_empty() {
            return Ok(None);
        }
        let managers = store_rounds::deliverable_people(db, led.keys().copied()).await?;
        // The reader rule every report applies (`readable_nodes`): a manager whose
        // own invitation sat in a team they lead now without counting them among
        // its viewers (made its leader while the round was open) was not subtracted
        // by the anonymizer there, so its figures would include their own answer.
        let manager_ids: Vec<PersonId> = managers.iter().map(|manager| manager.id).collect();
        let own_parts = releases::own_parts(db, &manager_ids, &[round.id]).await?;
        let access_nodes = nodes.iter().map(releases::access_node).collect();
        let team_zones: HashMap<TeamId, TimeZone> =
            store_rounds::teams(db, team_nodes.keys().copied())
                .await?
                .into_iter()
                .filter_map(|team| Some((team.id, TimeZone::parse(&team.time_zone).ok()?)))
                .collect();
        let led_team_ids: Vec<TeamId> = team_nodes.keys().copied().collect();
        let open_commitments = open_commitments(db, &led_team_ids).await?;
        let next_results_at = next_results_at(db, bank, &survey, &team_zones, now).await?;
        Ok(Some(Digests {
            round,
            survey,
            team_nodes,
            release_of,
            led,
            managers,
            own_parts,
            access_nodes,
            team_zones,
            open_commitments,
            next_results_at,
        }))
    }

    /// The digest of `manager`, in their language.
    fn payload(
        &self,
        manager: &person::Model,
        own: &OwnPart,
        report_base_url: &str,
    ) -> DigestPayload {
        let readable = readable_nodes(
            &self.access_nodes,
            &ReaderScope::LedTeams(self.led[&manager.id].clone()),
            own,
        );
        let teams = self.led[&manager.id]
            .iter()
            .map(|team_id| self.team(*team_id, &readable))
            .collect();
        let time_zone = manager.time_zone.clone().unwrap_or_else(|| "UTC".into());
        let locale = Locale::parse(&manager.locale).unwrap_or(Locale::En);
        let mut led_teams = self.led[&manager.id].clone();
        led_teams.sort_by(|a, b| self.team_nodes[a].name.cmp(&self.team_nodes[b].name));
        // Named as on the dashboard: the day it opened in the (first) team's zone,
        // in the reader's language.
        let label_zone = self
            .team_zones
            .get(&led_teams[0])
            .copied()
            .unwrap_or_default();
        DigestPayload {
            survey_name: self.survey.name.clone(),
            round_label: pulse_label(self.round.opened_at, label_zone, locale),
            // The team's own page; a manager of several teams gets the list of them.
            report_link: match led_teams.as_slice() {
                [only] => format!("{report_base_url}/dashboard/teams/{only}"),
                _ => format!("{report_base_url}/dashboard"),
            },
            locale: locale.as_str().to_owned(),
            time_zone,
            teams,
            next_results_on: self
                .next_results_at
                .map(|at| at.with_timezone(&label_zone.tz()).date_naive()),
        }
    }

    /// One led team in a digest: its figures only when its reader may read them.
    fn team(&self, team_id: TeamId, readable: &HashSet<NodeId>) -> DigestPayloadTeam {
        let node = self.team_nodes[&team_id];
        let readable_release = self
            .release_of
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
            commitments: self
                .open_commitments
                .get(&team_id)
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// The commitments not yet done of `team_ids`, by team: the leaders' own words.
async fn open_commitments(
    db: &DatabaseTransaction,
    team_ids: &[TeamId],
) -> Result<HashMap<TeamId, Vec<DigestPayloadCommitment>>, RoundError> {
    let mut open: HashMap<TeamId, Vec<DigestPayloadCommitment>> = HashMap::new();
    for commitment in safepulse_store::commitments::open_of_teams(db, team_ids).await? {
        open.entry(commitment.team_id)
            .or_default()
            .push(DigestPayloadCommitment {
                dimension: commitment.dimension,
                action: commitment.action,
                due_on: commitment.due_on,
            });
    }
    Ok(open)
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
    let taken: HashSet<String> = surveys::rounds_of(db, survey.id)
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
    let round = store_rounds::find(&transaction, round_id)
        .await?
        .ok_or(RoundError::RoundNotFound)?;
    if round.status != round::RoundStatus::Open {
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
    store_rounds::delete(&transaction, round_id).await?;
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
    let pending = store_rounds::unshredded(db).await?;
    for round_id in &pending {
        keys.keyring().destroy(*round_id)?;
    }
    if pending.is_empty() {
        return Ok(0);
    }
    if !store_rounds::scrub_freed_pages(store).await? {
        return Err(RoundError::CheckpointBusy);
    }
    store_rounds::mark_shredded(db, &pending, now).await?;
    Ok(pending.len())
}
