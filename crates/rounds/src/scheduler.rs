//! The scheduler (DESIGN §5): what turns the passing of time into rounds and
//! reminders. The binary's worker (`safepulse_api::worker`) ticks it in the loop
//! that `serve` and `safepulse worker` drive, next to the outbox worker.
//!
//! [`Scheduler::tick`] looks at the clock it is given and, every time, from scratch:
//!
//! 1. closes every open round whose `closes_at` has passed ([`close_round`]);
//! 2. opens the due period of every active survey: for each distinct time zone of
//!    its audience's teams it asks the cadence which period contains now, and opens
//!    it once its opening instant has passed, it starts on or after the survey's
//!    start date, and the survey has no round for it yet. The earliest zone opens
//!    the round; [`open_round`] times each person's invitation for their own zone;
//! 3. queues each reminder of each open round once its offset has passed: a
//!    `round_reminders` row (round, index), inserted `ON CONFLICT DO NOTHING`, and
//!    only when it was inserted, one outbox row per invitation — in the same
//!    transaction, so a reminder is queued exactly once;
//! 4. refreshes the rounded participation of open rounds once a day
//!    ([`crate::participation`]).
//!
//! Every step is idempotent and safe with several schedulers at once (replicas of
//! `safepulse worker` on PostgreSQL): rounds are `UNIQUE(survey_id, period_key)`,
//! closing is an `UPDATE … WHERE status = 'open'`, and reminders are keyed by
//! `(round_id, reminder_index)`. Nothing is remembered between ticks but which
//! surveys were already reported as having nobody to invite, so a restarted or
//! late scheduler catches up by itself.

use safepulse_store::entities::round::RoundStatus;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use safepulse_domain::{InvitationId, NodeId, PersonId, RoundId, SurveyId, TeamId, TimeZone};
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::{
    invitation, outbox, person, round, round_item, round_node, round_reminder, survey, survey_team,
    team, team_leader,
};
use safepulse_store::keyring::KeyChain;
use safepulse_store::{Store, StoreError, answers, org};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Set,
    TryInsertResult,
};

use crate::cadence::Period;
use crate::item_bank::ItemBank;
use crate::rounds::{
    CloseOutcome, CloseRequest, OpenOutcome, OpenRequest, RawRetention, RecordingCheck, RoundError,
    close_round, open_round, shred_closed_rounds,
};
use crate::survey::SurveyPlan;
use safepulse_mailer::payloads::{InvitationPayload, new_outbox_row};

/// Rows per multi-row INSERT: well below SQLite's bound-variable limit.
const INSERT_CHUNK: usize = 400;

/// What the scheduler needs to know besides the database and the keys.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Whether closing keeps raw answers (only when raw retention is configured).
    pub raw_retention: RawRetention,
    /// Where the digests' report links point, e.g. `https://pulse.example.com`.
    pub report_base_url: String,
    /// The host name in Message-IDs.
    pub mail_host: String,
    /// False while PostgreSQL would record answers or their timing (checked at
    /// start, see `safepulse_store::hygiene`): due rounds then stay unopened.
    pub rounds_may_open: bool,
    /// Whether opening a round checks PostgreSQL's logging settings again, in the
    /// opening transaction.
    pub recording_check: RecordingCheck,
    /// With raw retention: how long retained answers are kept after their round
    /// closed before the scheduler purges them.
    pub retained_answers_kept_for: Option<chrono::Duration>,
}

/// What one [`Scheduler::tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub closed: usize,
    pub opened: usize,
    /// Reminders (one per round and offset) queued, not emails.
    pub reminders_queued: usize,
}

#[derive(Debug)]
pub struct Scheduler {
    store: Store,
    bank: Arc<ItemBank>,
    keys: KeyChain,
    settings: SchedulerSettings,
    /// Surveys already reported as having nobody to invite: reported once, not
    /// every second.
    reported_without_audience: Mutex<HashSet<SurveyId>>,
}

impl Scheduler {
    pub fn new(
        store: Store,
        bank: Arc<ItemBank>,
        keys: KeyChain,
        settings: SchedulerSettings,
    ) -> Scheduler {
        Scheduler {
            store,
            bank,
            keys,
            settings,
            reported_without_audience: Mutex::new(HashSet::new()),
        }
    }

    /// Closes due rounds, opens due periods and queues due reminders (see the module
    /// docs). A round or survey that fails is logged and skipped, so one bad survey
    /// cannot stop the others; an error means the database could not be read.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
        let report = TickReport {
            closed: self.close_due_rounds(now).await?,
            opened: if self.settings.rounds_may_open {
                self.open_due_rounds(now).await?
            } else {
                0
            },
            reminders_queued: self.queue_due_reminders(now).await?,
        };
        if let Err(error) = shred_closed_rounds(&self.store, &self.keys, now).await {
            tracing::warn!(%error, "shredding closed rounds failed; the next tick tries again");
        }
        if let Err(error) = crate::participation::refresh_due(&self.store, now).await {
            tracing::warn!(%error, "refreshing participation failed; the next tick tries again");
        }
        if let Some(kept_for) = self.settings.retained_answers_kept_for {
            let purged =
                safepulse_store::answers::purge_retained(self.store.connection(), now - kept_for)
                    .await?;
            if purged > 0 {
                tracing::info!(
                    purged,
                    "retained raw answers purged after the retention period"
                );
            }
        }
        // Only a tick that got this far counts: `/metrics` shows when the last one
        // did, so a scheduler that keeps failing or hangs is noticed.
        safepulse_store::operations::record_scheduler_tick(self.store.connection(), now).await?;
        Ok(report)
    }

    async fn close_due_rounds(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let due = round::Entity::find()
            .filter(round::Column::Status.eq(RoundStatus::Open))
            .filter(round::Column::ClosesAt.lte(now))
            .all(self.store.connection())
            .await?;
        let mut closed = 0;
        for round in due {
            let outcome = close_round(
                &self.store,
                &self.bank,
                &self.keys,
                CloseRequest {
                    round_id: round.id,
                    now,
                    retention: self.settings.raw_retention,
                    report_base_url: &self.settings.report_base_url,
                    mail_host: &self.settings.mail_host,
                },
            )
            .await;
            match outcome {
                Ok(CloseOutcome::Closed { .. }) => closed += 1,
                Ok(CloseOutcome::AlreadyClosed) => {}
                Err(error) => tracing::warn!(
                    round = %round.id,
                    %error,
                    "closing a due round failed; the next tick tries again"
                ),
            }
        }
        Ok(closed)
    }

    async fn open_due_rounds(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let db = self.store.connection();
        let surveys = survey::Entity::find()
            .filter(survey::Column::Status.eq("active"))
            .all(db)
            .await?;
        if surveys.is_empty() {
            return Ok(0);
        }
        let teams = org::all_teams(db).await?;
        let chosen_teams = survey_team::Entity::find()
            .filter(survey_team::Column::SurveyId.is_in(surveys.iter().map(|survey| survey.id)))
            .all(db)
            .await?;
        let mut opened = 0;
        for survey in &surveys {
            let plan = match SurveyPlan::from_stored(&survey.settings, &self.bank) {
                Ok(plan) => plan,
                Err(error) => {
                    tracing::warn!(survey = %survey.id, %error, "a survey's settings are invalid; it opens no round");
                    continue;
                }
            };
            let chosen: Vec<TeamId> = chosen_teams
                .iter()
                .filter(|row| row.survey_id == survey.id)
                .map(|row| row.team_id)
                .collect();
            let mut due: BTreeMap<String, Period> = BTreeMap::new();
            for time_zone in audience_time_zones(&teams, &chosen, survey.include_subteams) {
                if let Some(period) = plan.due_period(now, time_zone.tz()) {
                    due.entry(period.key.clone()).or_insert(period);
                }
            }
            if due.is_empty() {
                continue;
            }
            let taken: HashSet<String> = round::Entity::find()
                .filter(round::Column::SurveyId.eq(survey.id))
                .filter(round::Column::PeriodKey.is_in(due.keys().cloned()))
                .all(db)
                .await?
                .into_iter()
                .map(|round| round.period_key)
                .collect();
            for period in due
                .into_values()
                .filter(|period| !taken.contains(&period.key))
            {
                if self.open_period(survey.id, period, now).await {
                    opened += 1;
                }
            }
        }
        Ok(opened)
    }

    /// Whether this call opened the round.
    async fn open_period(&self, survey_id: SurveyId, period: Period, now: DateTime<Utc>) -> bool {
        let outcome = open_round(
            &self.store,
            &self.bank,
            &self.keys,
            survey_id,
            OpenRequest::Scheduled(period),
            now,
            &self.settings.mail_host,
            self.settings.recording_check,
        )
        .await;
        match outcome {
            Ok(OpenOutcome::Opened(_)) => {
                self.reported_without_audience().remove(&survey_id);
                true
            }
            // Another scheduler won, or the previous round is still open.
            Ok(OpenOutcome::AlreadyOpened(_)) => false,
            Err(RoundError::NoAudience) => {
                if self.reported_without_audience().insert(survey_id) {
                    tracing::debug!(survey = %survey_id, "a due round has nobody to invite; skipped");
                }
                false
            }
            Err(error) => {
                tracing::warn!(survey = %survey_id, %error, "opening a due round failed; the next tick tries again");
                false
            }
        }
    }

    fn reported_without_audience(&self) -> std::sync::MutexGuard<'_, HashSet<SurveyId>> {
        self.reported_without_audience
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn queue_due_reminders(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let db = self.store.connection();
        let open_rounds = round::Entity::find()
            .filter(round::Column::Status.eq(RoundStatus::Open))
            .all(db)
            .await?;
        if open_rounds.is_empty() {
            return Ok(0);
        }
        let surveys: HashMap<SurveyId, survey::Model> = survey::Entity::find()
            .filter(survey::Column::Id.is_in(open_rounds.iter().map(|round| round.survey_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|survey| (survey.id, survey))
            .collect();
        let queued_before: HashSet<(RoundId, i32)> = round_reminder::Entity::find()
            .filter(round_reminder::Column::RoundId.is_in(open_rounds.iter().map(|round| round.id)))
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.round_id, row.reminder_index))
            .collect();
        let mut queued = 0;
        for round in &open_rounds {
            let Some(survey) = surveys.get(&round.survey_id) else {
                continue;
            };
            let Ok(plan) = SurveyPlan::from_stored(&survey.settings, &self.bank) else {
                continue; // reported by the opening step
            };
            for (index, offset) in plan.reminders.iter().enumerate() {
                let index = index as i32;
                if round.opened_at + *offset > now || queued_before.contains(&(round.id, index)) {
                    continue;
                }
                let reminder = Reminder {
                    round,
                    survey,
                    index,
                    offset: *offset,
                    non_responders_only: plan.non_responders_only,
                };
                match self.queue_reminder(&reminder, now).await {
                    Ok(true) => {
                        queued += 1;
                        // No count: with non-responder reminders it would tell how
                        // many had answered an open round (DESIGN §3 Rule C).
                        tracing::info!(round = %round.id, reminder = index, "reminder queued");
                    }
                    Ok(false) => {}
                    Err(error) => tracing::warn!(
                        round = %round.id,
                        reminder = index,
                        %error,
                        "queueing a reminder failed; the next tick tries again"
                    ),
                }
            }
        }
        Ok(queued)
    }

    /// Whether this call queued the reminder (false: another scheduler did).
    async fn queue_reminder(
        &self,
        reminder: &Reminder<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, RoundError> {
        let round = reminder.round;
        let transaction = self.store.begin_write().await?;
        let inserted = round_reminder::Entity::insert(round_reminder::ActiveModel {
            round_id: Set(round.id),
            reminder_index: Set(reminder.index),
            queued_at: Set(now),
        })
        .on_conflict_do_nothing_on([
            round_reminder::Column::RoundId,
            round_reminder::Column::ReminderIndex,
        ])
        .exec(&transaction)
        .await?;
        if matches!(inserted, TryInsertResult::Conflicted) {
            return Ok(false);
        }
        // Read again under the write lock: a round closed since the first read
        // has lost its key, and a reminder would carry a dead link.
        if round::Entity::find_by_id(round.id)
            .one(&transaction)
            .await?
            .is_none_or(|current| current.status != RoundStatus::Open)
        {
            return Ok(false);
        }
        let rows = self.reminder_rows(&transaction, reminder, now).await?;
        for chunk in rows.chunks(INSERT_CHUNK) {
            outbox::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    /// One reminder per invitation of the round whose person is still active and
    /// reachable — or, with non-responder reminders, only those whose ballot is not
    /// among the round's answers (one bulk read, compared in memory).
    async fn reminder_rows(
        &self,
        db: &DatabaseTransaction,
        reminder: &Reminder<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<outbox::ActiveModel>, RoundError> {
        let round = reminder.round;
        let invitations = self.invitations_to_remind(db, reminder).await?;
        let recipients = Recipients::load(db, round).await?;
        let mut rows = Vec::with_capacity(invitations.len());
        for invitation in &invitations {
            let Some(person) = recipients.people.get(&invitation.person_id) else {
                continue;
            };
            let payload = recipients.payload(reminder, invitation, person);
            let not_before = recipients
                .invitation_send_times
                .get(&invitation.id)
                .map_or(now, |sent_at| (*sent_at + reminder.offset).max(now));
            rows.push(new_outbox_row(
                OutboxKind::Reminder,
                person,
                Some(invitation.id),
                Some(round.id),
                serde_json::to_value(&payload).expect("payload serializes"),
                not_before,
                now,
                &self.settings.mail_host,
            )?);
        }
        Ok(rows)
    }

    /// The round's invitations; with non-responder reminders, only those whose
    /// ballot is not among the round's answers.
    async fn invitations_to_remind(
        &self,
        db: &DatabaseTransaction,
        reminder: &Reminder<'_>,
    ) -> Result<Vec<invitation::Model>, RoundError> {
        let round = reminder.round;
        let round_key = self.keys.round_key(round.id, &round.key_id)?;
        let mut invitations = invitation::Entity::find()
            .filter(invitation::Column::RoundId.eq(round.id))
            .all(db)
            .await?;
        if reminder.non_responders_only {
            let answered: HashSet<Vec<u8>> = answers::open_ballots(db, round.id)
                .await?
                .into_iter()
                .collect();
            invitations.retain(|invitation| {
                let token = round_key.link_token(invitation.id);
                !answered.contains(round_key.ballot(&token).0.as_slice())
            });
        }
        Ok(invitations)
    }
}

/// What a round's reminders say, read once per reminder.
struct Recipients {
    /// The round's invited people still active and reachable.
    people: HashMap<PersonId, person::Model>,
    leadership_nodes: HashSet<NodeId>,
    node_names: HashMap<NodeId, String>,
    /// The names of the round's teams each person leads, sorted.
    led_teams: HashMap<PersonId, Vec<String>>,
    team_zones: HashMap<TeamId, String>,
    /// When each invitation is (or was) due to be sent.
    invitation_send_times: HashMap<InvitationId, DateTime<Utc>>,
    question_count: usize,
}

impl Recipients {
    async fn load(
        db: &DatabaseTransaction,
        round: &round::Model,
    ) -> Result<Recipients, RoundError> {
        let people: HashMap<PersonId, person::Model> = person::Entity::find()
            .filter(
                person::Column::Id.in_subquery(
                    Query::select()
                        .column(invitation::Column::PersonId)
                        .from(invitation::Entity)
                        .and_where(invitation::Column::RoundId.eq(round.id))
                        .to_owned(),
                ),
            )
            .filter(person::Column::Active.eq(true))
            .filter(person::Column::Undeliverable.eq(false))
            .all(db)
            .await?
            .into_iter()
            .map(|person| (person.id, person))
            .collect();
        let nodes = round_node::Entity::find()
            .filter(round_node::Column::RoundId.eq(round.id))
            .all(db)
            .await?;
        let leadership_nodes: HashSet<NodeId> = nodes
            .iter()
            .filter(|node| node.kind == "leadership")
            .map(|node| node.node_id)
            .collect();
        let led_teams = if leadership_nodes.is_empty() {
            HashMap::new()
        } else {
            led_team_names(db, &nodes).await?
        };
        let node_names: HashMap<NodeId, String> = nodes
            .into_iter()
            .map(|node| (node.node_id, node.name))
            .collect();
        let team_zones: HashMap<TeamId, String> = team::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|team| (team.id, team.time_zone))
            .collect();
        // An invitation still waiting for its team's opening time (another time
        // zone) gets its reminder the same offset after that opening.
        let invitation_send_times: HashMap<InvitationId, DateTime<Utc>> = outbox::Entity::find()
            .filter(outbox::Column::RoundId.eq(round.id))
            .filter(outbox::Column::Kind.eq(OutboxKind::Invitation))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|row| row.invitation_id.map(|id| (id, row.not_before)))
            .collect();
        let question_count = round_item::Entity::find()
            .filter(round_item::Column::RoundId.eq(round.id))
            .count(db)
            .await? as usize;
        Ok(Recipients {
            people,
            leadership_nodes,
            node_names,
            led_teams,
            team_zones,
            invitation_send_times,
            question_count,
        })
    }

    /// What `person`'s reminder of `invitation` says, in their language and zone.
    fn payload(
        &self,
        reminder: &Reminder<'_>,
        invitation: &invitation::Model,
        person: &person::Model,
    ) -> InvitationPayload {
        let time_zone = person
            .time_zone
            .as_deref()
            .or_else(|| {
                person
                    .team_id
                    .and_then(|team_id| self.team_zones.get(&team_id))
                    .map(String::as_str)
            })
            .and_then(|name| TimeZone::parse(name).ok())
            .unwrap_or_else(|| TimeZone::parse("UTC").expect("UTC is a time zone"));
        InvitationPayload {
            survey_name: reminder.survey.name.clone(),
            team_name: self
                .node_names
                .get(&invitation.node_id)
                .cloned()
                .unwrap_or_default(),
            led_teams: if self.leadership_nodes.contains(&invitation.node_id) {
                self.led_teams.get(&person.id).cloned().unwrap_or_default()
            } else {
                Vec::new()
            },
            question_count: self.question_count,
            min_group_size: reminder.round.k as u32,
            closes_at: reminder.round.closes_at,
            locale: person.locale.clone(),
            time_zone: time_zone.name().to_owned(),
        }
    }
}

/// The names of the round's teams (by their snapshot `nodes`) each leader leads,
/// sorted: what a leadership-group member's reminder names.
async fn led_team_names(
    db: &DatabaseTransaction,
    nodes: &[round_node::Model],
) -> Result<HashMap<PersonId, Vec<String>>, RoundError> {
    let round_teams: HashMap<TeamId, &str> = nodes
        .iter()
        .filter_map(|node| node.team_id.map(|team| (team, node.name.as_str())))
        .collect();
    let mut led_teams: HashMap<PersonId, Vec<String>> = HashMap::new();
    for row in team_leader::Entity::find().all(db).await? {
        if let Some(name) = round_teams.get(&row.team_id) {
            led_teams
                .entry(row.person_id)
                .or_default()
                .push((*name).to_owned());
        }
    }
    for names in led_teams.values_mut() {
        names.sort();
    }
    Ok(led_teams)
}

/// One due reminder of one round.
struct Reminder<'a> {
    round: &'a round::Model,
    survey: &'a survey::Model,
    index: i32,
    offset: chrono::TimeDelta,
    non_responders_only: bool,
}

/// The distinct time zones of a survey's teams (with their sub-teams when asked).
fn audience_time_zones(
    teams: &[team::Model],
    chosen: &[TeamId],
    include_subteams: bool,
) -> HashSet<TimeZone> {
    let mut children: HashMap<TeamId, Vec<TeamId>> = HashMap::new();
    for team in teams {
        if let Some(parent) = team.parent_id {
            children.entry(parent).or_default().push(team.id);
        }
    }
    let mut included: HashSet<TeamId> = HashSet::new();
    let mut stack = chosen.to_vec();
    while let Some(team_id) = stack.pop() {
        if included.insert(team_id) && include_subteams {
            stack.extend(children.get(&team_id).into_iter().flatten().copied());
        }
    }
    teams
        .iter()
        .filter(|team| included.contains(&team.id))
        .map(|team| {
            TimeZone::parse(&team.time_zone)
                .unwrap_or_else(|_| TimeZone::parse("UTC").expect("UTC is a time zone"))
        })
        .collect()
}
