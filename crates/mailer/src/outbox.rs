//! The outbox worker (DESIGN §5): delivers the emails that other transactions
//! queued as `outbox` rows, at least once, from any number of processes, and as
//! nearly exactly once as a crash allows.
//!
//! Why an outbox: opening a round, closing one or asking for a sign-in link writes
//! its emails as rows *in the same transaction*, so an email exists exactly when the
//! change it reports has committed. This worker sends them afterwards.
//!
//! One call, [`OutboxWorker::deliver`] (or [`OutboxWorker::deliver_batch`], which
//! tests drive directly), handles up to `limit` rows as a pipeline:
//!
//! 1. **Claim** a few due rows at a time — as many as can be sent at once (the
//!    SMTP pool size) — in one atomic statement that writes this call's random
//!    claim token, a lease (`claimed_until`) and counts the attempt. On PostgreSQL
//!    the rows are picked `FOR UPDATE SKIP LOCKED`, so concurrent workers never
//!    claim the same row; on SQLite the `UPDATE … RETURNING` runs inside `BEGIN
//!    IMMEDIATE`, which already admits one writer at a time. The same transaction
//!    first takes back claims whose lease ran out (their worker died or hung) and
//!    counts them (`outbox_claims_expired`). Claiming only what can be sent now
//!    means a worker that dies holds only its messages in flight and a few more,
//!    never a whole batch.
//! 2. **Render** each row. Invitation and reminder links are derived now, from the
//!    round's salt and master key and the invitation id — a token is never stored.
//!    A row whose round has lost its salt (closed meanwhile) is deleted unsent:
//!    its link could never work. Sign-in links are derived from their `magic_links`
//!    row and the magic-link purpose key ([`crate::sign_in`]); a row whose link was
//!    used or expired meanwhile is deleted unsent too.
//! 3. **Send** concurrently, each with the Message-ID stored on its row, so a
//!    retried email is recognisably the same email. The transport bounds the whole
//!    message in time (`smtp.message_timeout_seconds`), not only each command.
//! 4. **Record** each outcome as soon as it is known (outcomes that arrive together
//!    share one transaction), always `WHERE claim_token = <this call's token>`:
//!    delivered rows are deleted; transient failures (4xx, connection loss,
//!    timeouts) are rescheduled with capped exponential backoff and jitter and
//!    their claim released; permanent ones (5xx, an unusable address) are marked
//!    `failed`, the address is flagged undeliverable and the round's
//!    `bounce_count` grows. The `worker_metrics` counters grow in the same
//!    transaction.
//!
//! While rows are claimed, the lease is renewed every third of its length, so a
//! slow relay never lets a live worker's claim expire under it; a row whose claim
//! was lost anyway (the database was out of reach for a whole lease) is not sent
//! if it has not started. When asked to stop, the worker gives back the rows it
//! has not started at once, lets the sends under way finish for
//! [`IN_FLIGHT_GRACE_ON_STOP`], then abandons them and gives them back too.
//!
//! A worker killed outright leaves its claimed rows behind; their lease expires
//! and another worker sends them: at most the messages that were in flight can
//! arrive twice.
//!
//! Webhook rows (kind `webhook`, [`crate::webhooks`]) go through the same steps:
//! rendering signs them, sending posts them through the worker's
//! [`WebhookTransport`]; an endpoint deleted meanwhile discards them unsent.
//!
//! Logs carry outbox row ids and kinds only: never a recipient, a link, or a
//! server reply (replies often quote the address). The `last_error` kept on a row
//! for admins has every email address in it redacted.

use safepulse_store::entities::round::RoundStatus;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lettre::Message;
use lettre::message::Mailbox;
use safepulse_anonymizer::{ReleasedFigures, RoundedFigures};
use safepulse_domain::{Clock, Dimension, Email, Locale, RoundId, TimeZone};
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::{magic_link, outbox, round};
use safepulse_store::keyring::KeyChain;
use safepulse_store::operations::{WorkerCounter, add_to_counters};
use safepulse_store::{Backend, Store, StoreError, org};
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, Statement};
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::messages::{
    DigestCommitment, DigestFigure, DigestTeam, DigestTeamResult, InvitationEmail, LinkError,
    ManagerDigestEmail, MessageError, MessageHeaders, MessageId, PublicBaseUrl, Recipient,
    ReminderEmail, SecretLink, SignInEmail, dimension_label,
};
use crate::payloads::{DigestPayload, DigestPayloadTeam, InvitationPayload};
use crate::sign_in::{SignInPayload, SignInToken};
use crate::test_send::TestInvitationPayload;
use crate::transport::{MailTransport, SendError, retry_delay};
use crate::webhooks::{self, SignedRequest, Unsignable, Verdict, WebhookTransport};

/// How long a claim lasts unless renewed. The worker renews it every third of
/// this while it holds rows, so only a worker that died (or lost the database for
/// this long) lets a claim expire; its messages in flight then go out again after
/// at most this long.
pub const DEFAULT_CLAIM_LEASE: TimeDelta = TimeDelta::minutes(10);

/// How long sends already under way may finish once the worker is asked to stop,
/// before they are abandoned and their rows given back. The rest of a stop takes
/// well under a second, so this keeps `safepulse worker` inside the 40 s that
/// compose and Kubernetes allow between SIGTERM and SIGKILL.
pub const IN_FLIGHT_GRACE_ON_STOP: Duration = Duration::from_secs(10);

/// Rows deleted per statement: well below SQLite's bound-variable limit.
const DELETE_CHUNK: usize = 1_000;
/// `last_error` is for a person to read, not a place to store whole replies.
const MAX_ERROR_CHARS: usize = 500;
/// A webhook receiver's `Retry-After` is honoured up to this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("mail_from must be an email address, optionally with a name: \"name <address>\"")]
    MalformedSender,
    #[error("public_url cannot start answer links: {0}")]
    PublicUrl(#[source] LinkError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for OutboxError {
    fn from(error: sea_orm::DbErr) -> Self {
        OutboxError::Store(error.into())
    }
}

/// What the worker needs to know besides the database and the transport.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// The `From` header of every email, e.g. `safepulse <pulse@example.com>`.
    pub from: String,
    /// Where people reach safepulse; answer links start with it.
    pub public_base_url: String,
    /// How long a claimed row stays with the worker that claimed it.
    pub claim_lease: TimeDelta,
}

/// What one [`OutboxWorker::deliver_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Rows claimed. 0: nothing was due.
    pub claimed: usize,
    /// Accepted by the SMTP server (or written as `.eml`), and deleted.
    pub delivered: usize,
    /// Failed for now; due again after a backoff.
    pub retried: usize,
    /// Given up on; kept with status `failed` and the reason.
    pub failed: usize,
    /// Invitations and reminders of rounds closed meanwhile, and sign-in links used
    /// or expired meanwhile, deleted unsent.
    pub discarded: usize,
    /// Given back unsent (or abandoned mid-send) because the worker was asked to
    /// stop, or not sent because the claim was lost: another worker sends them.
    pub released: usize,
}

impl DeliveryReport {
    /// Nothing was due: the caller may sleep.
    pub fn queue_was_empty(&self) -> bool {
        self.claimed == 0
    }
}

/// The top of each dimension's answer scale, for a digest's "about 5.0 of 7": the
/// item bank knows it (the rounds crate implements this for its `ItemBank`), the
/// mailer only formats it.
pub trait DimensionScales: std::fmt::Debug + Send + Sync {
    /// `None` when no item measures `dimension`.
    fn scale_max(&self, dimension: Dimension) -> Option<u8>;
}

/// Sends outbox rows. Cheap to share: clone it into as many tasks as needed.
#[derive(Debug, Clone)]
pub struct OutboxWorker {
    store: Store,
    transport: MailTransport,
    keys: KeyChain,
    scales: Arc<dyn DimensionScales>,
    clock: Arc<dyn Clock>,
    from: Mailbox,
    public_base_url: PublicBaseUrl,
    claim_lease: TimeDelta,
    /// Posts webhook rows; without one they are retried until a worker has one.
    webhooks: Option<Arc<dyn WebhookTransport>>,
}

/// A row's headers for the language and time zone its payload names.
type Headers<'a> = dyn Fn(&str, &str) -> Result<MessageHeaders, RowOutcome> + 'a;

/// A claimed row and its email (or webhook request), or what to do with a row
/// that cannot become one.
struct Claimed {
    row: outbox::Model,
    email: Result<Outgoing, RowOutcome>,
}

/// What a claimed row sends.
enum Outgoing {
    Email(Message),
    Webhook(SignedRequest),
}

/// What happened to one claimed row.
#[derive(Debug)]
enum RowOutcome {
    Delivered,
    /// Its round closed: the link is dead, so the email is not sent at all.
    Discarded,
    Retry {
        error: String,
        smtp_code: Option<u16>,
        /// A webhook receiver's `Retry-After`, used instead of the backoff.
        retry_after: Option<Duration>,
    },
    Failed {
        error: String,
        /// The address itself is bad: flag it and count a bounce.
        bounced: bool,
    },
}

impl OutboxWorker {
    pub fn new(
        store: Store,
        transport: MailTransport,
        keys: KeyChain,
        scales: Arc<impl DimensionScales + 'static>,
        clock: Arc<dyn Clock>,
        settings: OutboxSettings,
    ) -> Result<OutboxWorker, OutboxError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| OutboxError::MalformedSender)?;
        let public_base_url =
            PublicBaseUrl::parse(&settings.public_base_url).map_err(OutboxError::PublicUrl)?;
        Ok(OutboxWorker {
            store,
            transport,
            keys,
            scales,
            clock,
            from,
            public_base_url,
            claim_lease: settings.claim_lease,
            webhooks: None,
        })
    }

    /// The same worker, posting `webhook` rows through `transport`.
    pub fn with_webhook_transport(mut self, transport: Arc<dyn WebhookTransport>) -> Self {
        self.webhooks = Some(transport);
        self
    }

    /// [`OutboxWorker::deliver`] with nobody asking it to stop.
    pub async fn deliver_batch(&self, limit: usize) -> Result<DeliveryReport, OutboxError> {
        let (_never_stops, mut stop) = watch::channel(false);
        self.deliver(limit, &mut stop).await
    }

    /// Claims, sends and records up to `limit` due rows (see the module docs), and
    /// returns once they are done, nothing more is due, or `stop` turned true (or
    /// its sender was dropped) and the rows are given back. An error means the
    /// database failed; rows still claimed then are sent again once their lease
    /// expires.
    pub async fn deliver(
        &self,
        limit: usize,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<DeliveryReport, OutboxError> {
        let claim = Uuid::new_v4();
        let parallel = self.transport.parallel_sends().max(1);
        let mut report = DeliveryReport::default();
        let mut waiting: VecDeque<Claimed> = VecDeque::new();
        let mut sending: JoinSet<(outbox::Model, RowOutcome)> = JoinSet::new();
        let mut finished: Vec<(outbox::Model, RowOutcome)> = Vec::new();
        let mut nothing_more_due = false;
        let mut stop_sender_gone = false;
        let mut abandon_at: Option<tokio::time::Instant> = None;
        let mut renewal = renewal_timer(self.claim_lease);
        loop {
            if abandon_at.is_none() && (stop_sender_gone || *stop.borrow()) {
                abandon_at = Some(tokio::time::Instant::now() + IN_FLIGHT_GRACE_ON_STOP);
                let unstarted: Vec<Uuid> = waiting.drain(..).map(|next| next.row.id).collect();
                report.released += self.release(claim, Some(&unstarted)).await?;
            }
            let stopping = abandon_at.is_some();
            if !stopping && !nothing_more_due && waiting.is_empty() && report.claimed < limit {
                let wanted = parallel.min(limit - report.claimed);
                let rows = self.claim(claim, wanted).await?;
                nothing_more_due = rows.len() < wanted;
                report.claimed += rows.len();
                waiting.extend(self.prepare(rows).await?);
            }
            self.start_sends(&mut waiting, &mut sending, &mut finished, parallel);
            if !finished.is_empty() {
                self.record(claim, std::mem::take(&mut finished), &mut report)
                    .await?;
                continue;
            }
            if sending.is_empty()
                && waiting.is_empty()
                && (stopping || nothing_more_due || report.claimed >= limit)
            {
                break;
            }
            tokio::select! {
                Some(joined) = sending.join_next() => {
                    finished.extend(sent(joined));
                    while let Some(joined) = sending.try_join_next() {
                        finished.extend(sent(joined));
                    }
                }
                _ = renewal.tick() => {
                    let held = self.renew(claim).await?;
                    let before = waiting.len();
                    waiting.retain(|next| held.contains(&next.row.id));
                    report.released += before - waiting.len();
                }
                changed = stop.changed(), if !stopping => {
                    stop_sender_gone = changed.is_err();
                }
                () = sleep_until_some(abandon_at) => {
                    sending.abort_all();
                    while let Some(joined) = sending.join_next().await {
                        finished.extend(sent(joined));
                    }
                    self.record(claim, std::mem::take(&mut finished), &mut report)
                        .await?;
                    break;
                }
            }
        }
        // Whatever this call still holds was abandoned mid-send at a stop.
        if report.claimed > 0 {
            report.released += self.release(claim, None).await?;
        }
        log_batch(&report);
        Ok(report)
    }

    /// Starts sending from `waiting` until `parallel` sends are under way; a row
    /// that cannot become an email is finished at once.
    fn start_sends(
        &self,
        waiting: &mut VecDeque<Claimed>,
        sending: &mut JoinSet<(outbox::Model, RowOutcome)>,
        finished: &mut Vec<(outbox::Model, RowOutcome)>,
        parallel: usize,
    ) {
        while sending.len() < parallel {
            let Some(next) = waiting.pop_front() else {
                break;
            };
            match next.email {
                Ok(Outgoing::Email(message)) => {
                    let transport = self.transport.clone();
                    sending.spawn(async move {
                        let outcome = classify(transport.send(&message).await);
                        (next.row, outcome)
                    });
                }
                Ok(Outgoing::Webhook(request)) => {
                    let transport = self.webhooks.clone();
                    sending.spawn(async move {
                        let outcome = post_webhook(transport.as_deref(), &request).await;
                        (next.row, outcome)
                    });
                }
                Err(outcome) => finished.push((next.row, outcome)),
            }
        }
    }

    /// Takes back expired claims, then claims up to `limit` due rows for `claim`.
    async fn claim(&self, claim: Uuid, limit: usize) -> Result<Vec<outbox::Model>, OutboxError> {
        let now = self.clock.now();
        let lease_end = now + self.claim_lease;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Rows an older version claimed carry no token: their `claimed_until` is
        // respected until it passes.
        let statement = match self.store.backend() {
            Backend::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE outbox SET claim_token = $1, claimed_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM outbox \
                     WHERE status = 'pending' AND not_before <= $3 AND claim_token IS NULL \
                       AND (claimed_until IS NULL OR claimed_until < $3) \
                     ORDER BY not_before LIMIT $4 \
                     FOR UPDATE SKIP LOCKED) \
                 RETURNING *",
                [claim.into(), lease_end.into(), now.into(), limit.into()],
            ),
            Backend::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "UPDATE outbox SET claim_token = ?, claimed_until = ?, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM outbox \
                     WHERE status = 'pending' AND not_before <= ? AND claim_token IS NULL \
                       AND (claimed_until IS NULL OR claimed_until < ?) \
                     ORDER BY not_before LIMIT ?) \
                 RETURNING *",
                [
                    claim.into(),
                    lease_end.into(),
                    now.into(),
                    now.into(),
                    limit.into(),
                ],
            ),
        };
        let transaction = self.store.begin_write().await?;
        let expired = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::ClaimToken,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(outbox::Column::ClaimToken.is_not_null())
            .filter(outbox::Column::ClaimedUntil.lt(now))
            .exec(&transaction)
            .await?
            .rows_affected;
        add_to_counters(
            &transaction,
            &[(WorkerCounter::OutboxClaimsExpired, expired)],
        )
        .await?;
        let rows = outbox::Entity::find()
            .from_raw_sql(statement)
            .all(&transaction)
            .await?;
        transaction.commit().await?;
        if expired > 0 {
            tracing::warn!(
                expired,
                "outbox claims expired before their worker recorded them (a worker died, hung or \
                 lost the database); those emails are sent again"
            );
        }
        Ok(rows)
    }

    /// Renders the claimed rows' emails.
    async fn prepare(&self, rows: Vec<outbox::Model>) -> Result<Vec<Claimed>, OutboxError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let rounds = self.rounds_of(&rows).await?;
        let magic_links = self.magic_links_of(&rows).await?;
        let endpoints = webhooks::endpoints_of(self.store.connection(), &rows).await?;
        let now = self.clock.now();
        Ok(rows
            .into_iter()
            .map(|row| {
                let email = if row.kind == OutboxKind::Webhook {
                    webhooks::sign_row(&row, &endpoints, &self.keys, now)
                        .map(Outgoing::Webhook)
                        .map_err(unsignable_webhook)
                } else {
                    self.render(&row, &rounds, &magic_links, now)
                        .map(Outgoing::Email)
                };
                Claimed { row, email }
            })
            .collect())
    }

    /// Extends the lease of every row `claim` still holds; returns their ids.
    async fn renew(&self, claim: Uuid) -> Result<HashSet<Uuid>, OutboxError> {
        let lease_end = self.clock.now() + self.claim_lease;
        let held = outbox::Entity::update_many()
            .col_expr(outbox::Column::ClaimedUntil, Expr::value(lease_end))
            .filter(outbox::Column::ClaimToken.eq(claim))
            .exec_with_returning(self.store.connection())
            .await?;
        Ok(held.into_iter().map(|row| row.id).collect())
    }

    /// Gives rows back unsent: the given ones, or every row `claim` still holds.
    /// The claim's attempt is taken back too, so the backoff does not grow.
    async fn release(&self, claim: Uuid, rows: Option<&[Uuid]>) -> Result<usize, OutboxError> {
        if rows.is_some_and(<[Uuid]>::is_empty) {
            return Ok(0);
        }
        let mut update = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::ClaimToken,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).sub(1),
            )
            .filter(outbox::Column::ClaimToken.eq(claim));
        if let Some(rows) = rows {
            update = update.filter(outbox::Column::Id.is_in(rows.iter().copied()));
        }
        let released = update.exec(self.store.connection()).await?.rows_affected;
        Ok(usize::try_from(released).unwrap_or(usize::MAX))
    }

    async fn rounds_of(
        &self,
        rows: &[outbox::Model],
    ) -> Result<HashMap<RoundId, round::Model>, OutboxError> {
        let mut round_ids: Vec<RoundId> = rows.iter().filter_map(|row| row.round_id).collect();
        round_ids.sort_unstable();
        round_ids.dedup();
        if round_ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(round::Entity::find()
            .filter(round::Column::Id.is_in(round_ids))
            .all(self.store.connection())
            .await?
            .into_iter()
            .map(|round| (round.id, round))
            .collect())
    }

    /// The `magic_links` rows of the claimed sign-in emails, by id.
    async fn magic_links_of(
        &self,
        rows: &[outbox::Model],
    ) -> Result<HashMap<Uuid, magic_link::Model>, OutboxError> {
        let ids: Vec<Uuid> = rows
            .iter()
            .filter(|row| row.kind == OutboxKind::SignIn)
            .filter_map(|row| serde_json::from_value::<SignInPayload>(row.payload.clone()).ok())
            .map(|payload| payload.magic_link_id)
            .collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(magic_link::Entity::find()
            .filter(magic_link::Column::Id.is_in(ids))
            .all(self.store.connection())
            .await?
            .into_iter()
            .map(|link| (link.id, link))
            .collect())
    }

    /// The email of one row, or what to do with a row that cannot become one.
    fn render(
        &self,
        row: &outbox::Model,
        rounds: &HashMap<RoundId, round::Model>,
        magic_links: &HashMap<Uuid, magic_link::Model>,
        now: DateTime<Utc>,
    ) -> Result<Message, RowOutcome> {
        let message_id = MessageId::parse(&row.message_id)
            .map_err(|_| unsendable("the stored Message-ID is malformed"))?;
        let headers = |locale: &str, time_zone: &str| -> Result<MessageHeaders, RowOutcome> {
            let address = Email::parse(&row.recipient).map_err(|_| unusable_address())?;
            Ok(MessageHeaders {
                from: self.from.clone(),
                to: Recipient {
                    address,
                    locale: Locale::parse(locale).unwrap_or(Locale::En),
                    time_zone: TimeZone::parse(time_zone)
                        .unwrap_or_else(|_| TimeZone::parse("UTC").expect("UTC is a time zone")),
                },
                message_id: message_id.clone(),
                date: now,
            })
        };
        match row.kind {
            kind @ (OutboxKind::Invitation | OutboxKind::Reminder) => {
                let round = row.round_id.and_then(|id| rounds.get(&id));
                self.render_round_email(row, kind, round, &headers)
            }
            OutboxKind::Digest => {
                let payload: DigestPayload = serde_json::from_value(row.payload.clone())
                    .map_err(|_| unsendable("the stored payload cannot be read"))?;
                let headers = headers(&payload.locale, &payload.time_zone)?;
                digest_email(payload, headers.to.locale, self.scales.as_ref())
                    .to_message(&headers)
                    .map_err(unsendable_message)
            }
            OutboxKind::SignIn => self.render_sign_in(row, magic_links, now, &headers),
            OutboxKind::TestInvitation => render_test_invitation(row, &headers),
            // Webhook rows are signed, never rendered (`prepare` sends them apart).
            OutboxKind::Webhook => Err(unsendable("unknown kind of email")),
        }
    }

    /// An invitation or reminder: only while its round is open, with the link
    /// token derived from the round key now.
    fn render_round_email(
        &self,
        row: &outbox::Model,
        kind: OutboxKind,
        round: Option<&round::Model>,
        headers: &Headers<'_>,
    ) -> Result<Message, RowOutcome> {
        let Some(round) = round else {
            return Err(RowOutcome::Discarded);
        };
        if round.status != RoundStatus::Open {
            return Err(RowOutcome::Discarded);
        }
        let invitation_id = row
            .invitation_id
            .ok_or_else(|| unsendable("the row names no invitation"))?;
        // A missing key can come back (an operator restores the secrets
        // directory or the keyring), so this is worth retrying rather than
        // giving up; readiness reports the round meanwhile.
        let round_key = self
            .keys
            .round_key(round.id, &round.key_id)
            .map_err(|error| RowOutcome::Retry {
                error: error.to_string(),
                smtp_code: None,
                retry_after: None,
            })?;
        let token = round_key.link_token(invitation_id);
        let answer_link = self.public_base_url.answer_link(&token);
        let payload: InvitationPayload = serde_json::from_value(row.payload.clone())
            .map_err(|_| unsendable("the stored payload cannot be read"))?;
        let headers = headers(&payload.locale, &payload.time_zone)?;
        let message = if kind == OutboxKind::Invitation {
            InvitationEmail {
                survey_name: payload.survey_name,
                team_name: payload.team_name,
                led_teams: payload.led_teams,
                answer_link,
                question_count: payload.question_count,
                min_group_size: payload.min_group_size,
                closes_at: payload.closes_at,
            }
            .to_message(&headers)
        } else {
            ReminderEmail {
                survey_name: payload.survey_name,
                team_name: payload.team_name,
                led_teams: payload.led_teams,
                answer_link,
                min_group_size: payload.min_group_size,
                closes_at: payload.closes_at,
            }
            .to_message(&headers)
        };
        message.map_err(unsendable_message)
    }

    /// A sign-in link: only while it is unused and unexpired, signed now.
    fn render_sign_in(
        &self,
        row: &outbox::Model,
        magic_links: &HashMap<Uuid, magic_link::Model>,
        now: DateTime<Utc>,
        headers: &Headers<'_>,
    ) -> Result<Message, RowOutcome> {
        let payload: SignInPayload = serde_json::from_value(row.payload.clone())
            .map_err(|_| unsendable("the stored payload cannot be read"))?;
        let live = magic_links
            .get(&payload.magic_link_id)
            .is_some_and(|link| link.used_at.is_none() && link.expires_at > now);
        if !live {
            return Err(RowOutcome::Discarded);
        }
        // The active key signs; the sign-in page accepts every key it holds.
        let key = self
            .keys
            .master_keys()
            .last()
            .ok_or_else(|| unsendable("no master key to sign the link with"))?;
        let token = SignInToken::derive(key, payload.magic_link_id);
        let headers = headers(&payload.locale, "UTC")?;
        SignInEmail {
            sign_in_link: self.public_base_url.sign_in_link(&token),
        }
        .to_message(&headers)
        .map_err(unsendable_message)
    }

    /// Records outcomes in one transaction, each only if `claim` still holds its
    /// row, and counts them in `worker_metrics`.
    async fn record(
        &self,
        claim: Uuid,
        outcomes: Vec<(outbox::Model, RowOutcome)>,
        report: &mut DeliveryReport,
    ) -> Result<(), OutboxError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut delivered: Vec<Uuid> = Vec::new();
        let mut discarded: Vec<Uuid> = Vec::new();
        let mut retried = 0;
        let mut failed = 0;
        let mut bounced: Vec<&outbox::Model> = Vec::new();
        let mut lost = 0;
        let mut unreachable_server: Option<&str> = None;
        let transaction = self.store.begin_write().await?;
        for (row, outcome) in &outcomes {
            match outcome {
                RowOutcome::Delivered => delivered.push(row.id),
                RowOutcome::Discarded => discarded.push(row.id),
                RowOutcome::Retry {
                    error,
                    smtp_code,
                    retry_after,
                } => {
                    retried += 1;
                    let backoff = (*smtp_code, *retry_after);
                    if retry_later(&transaction, claim, row, error, backoff, now).await? == 0 {
                        lost += 1;
                    }
                    if smtp_code.is_none() && row.kind != OutboxKind::Webhook {
                        unreachable_server.get_or_insert(error);
                    }
                }
                RowOutcome::Failed {
                    error,
                    bounced: bad_address,
                } => {
                    failed += 1;
                    let updated =
                        mark_failed(&transaction, claim, row, error, *bad_address).await?;
                    if updated == 0 {
                        lost += 1;
                    }
                    // Another worker holds a row whose claim was lost: it decides
                    // about the address when it sends.
                    if *bad_address && updated == 1 {
                        bounced.push(row);
                    }
                }
            }
        }
        for ids in [&delivered, &discarded] {
            lost += delete_held(&transaction, claim, ids).await?;
        }
        record_bounces(&transaction, &bounced, now).await?;
        add_to_counters(
            &transaction,
            &[
                (WorkerCounter::EmailsDelivered, delivered.len() as u64),
                (WorkerCounter::EmailsDiscarded, discarded.len() as u64),
                (WorkerCounter::EmailsRetried, retried),
                (WorkerCounter::EmailsFailed, failed),
                (WorkerCounter::EmailsBounced, bounced.len() as u64),
            ],
        )
        .await?;
        transaction.commit().await?;
        report.delivered += delivered.len();
        report.discarded += discarded.len();
        report.retried += retried as usize;
        report.failed += failed as usize;
        log_recorded(lost, retried, unreachable_server);
        Ok(())
    }
}

/// The admin console's test invitation: its link opens the console's preview.
fn render_test_invitation(
    row: &outbox::Model,
    headers: &Headers<'_>,
) -> Result<Message, RowOutcome> {
    let payload: TestInvitationPayload = serde_json::from_value(row.payload.clone())
        .map_err(|_| unsendable("the stored payload cannot be read"))?;
    let headers = headers(&payload.locale, &payload.time_zone)?;
    let preview_link = SecretLink::new(payload.preview_link)
        .map_err(|_| unsendable("the stored preview link is malformed"))?;
    InvitationEmail {
        survey_name: payload.survey_name,
        team_name: payload.team_name,
        answer_link: preview_link,
        question_count: payload.question_count,
        min_group_size: payload.min_group_size,
        closes_at: payload.closes_at,
        // A test shows the team member's wording.
        led_teams: Vec::new(),
    }
    .to_test_message(&headers)
    .map_err(unsendable_message)
}

/// A message that could not be built: a bad address, or a row that can never
/// become an email.
fn unsendable_message(error: MessageError) -> RowOutcome {
    match error {
        MessageError::UnusableRecipientAddress => unusable_address(),
        other => unsendable(&other.to_string()),
    }
}

/// Ticks while a batch holds claims, so they are renewed before their lease ends.
fn renewal_timer(claim_lease: TimeDelta) -> tokio::time::Interval {
    let renew_every = lease_renewal_interval(claim_lease);
    let mut renewal =
        tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
    renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renewal
}

fn log_batch(report: &DeliveryReport) {
    if report.released > 0 {
        tracing::info!(
            released = report.released,
            "emails not sent by this worker were given back to the outbox"
        );
    }
    tracing::debug!(
        claimed = report.claimed,
        delivered = report.delivered,
        retried = report.retried,
        failed = report.failed,
        discarded = report.discarded,
        released = report.released,
        "outbox batch done"
    );
}

/// A send that failed for now: the row's next attempt after the backoff, if
/// `claim` still holds it (the rows changed).
async fn retry_later(
    db: &DatabaseTransaction,
    claim: Uuid,
    row: &outbox::Model,
    error: &str,
    (smtp_code, retry_after): (Option<u16>, Option<Duration>),
    now: DateTime<Utc>,
) -> Result<u64, OutboxError> {
    let failures_so_far = u32::try_from(row.attempts - 1).unwrap_or(0);
    let delay = retry_after
        .map(|asked| asked.min(MAX_RETRY_AFTER))
        .unwrap_or_else(|| retry_delay(failures_so_far, &mut rand::rng()));
    let not_before = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::minutes(30));
    let updated = unclaim(
        db,
        claim,
        row.id,
        outbox::Column::NotBefore,
        not_before,
        error,
    )
    .await?;
    tracing::debug!(
        outbox_row = %row.id,
        kind = %row.kind,
        attempts = row.attempts,
        smtp_code,
        "email delivery failed for now; retrying later"
    );
    Ok(updated)
}

/// A send that failed for good: the row marked failed, if `claim` still holds it
/// (the rows changed).
async fn mark_failed(
    db: &DatabaseTransaction,
    claim: Uuid,
    row: &outbox::Model,
    error: &str,
    bad_address: bool,
) -> Result<u64, OutboxError> {
    let updated = unclaim(db, claim, row.id, outbox::Column::Status, "failed", error).await?;
    tracing::warn!(
        outbox_row = %row.id,
        kind = %row.kind,
        bounced = bad_address,
        "email not delivered and not retried; the reason is on the outbox row"
    );
    Ok(updated)
}

/// Ends `claim` on a row it still holds, setting `column` to `value` (its next
/// attempt's time, or its failed status) and the error: the rows changed, 0 when
/// another worker took the row over after the claim expired.
async fn unclaim(
    db: &DatabaseTransaction,
    claim: Uuid,
    row_id: Uuid,
    column: impl IntoIden,
    value: impl Into<sea_orm::Value>,
    error: &str,
) -> Result<u64, OutboxError> {
    Ok(outbox::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::ClaimToken,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(outbox::Column::LastError, Expr::value(error.to_owned()))
        .filter(outbox::Column::Id.eq(row_id))
        .filter(outbox::Column::ClaimToken.eq(claim))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes the rows of `ids` that `claim` still holds (delivered or discarded):
/// returns how many it no longer held.
async fn delete_held(
    db: &DatabaseTransaction,
    claim: Uuid,
    ids: &[Uuid],
) -> Result<u64, OutboxError> {
    let mut lost = 0;
    for chunk in ids.chunks(DELETE_CHUNK) {
        let deleted = outbox::Entity::delete_many()
            .filter(outbox::Column::Id.is_in(chunk.iter().copied()))
            .filter(outbox::Column::ClaimToken.eq(claim))
            .exec(db)
            .await?
            .rows_affected;
        lost += chunk.len() as u64 - deleted;
    }
    Ok(lost)
}

fn log_recorded(lost: u64, retried: u64, unreachable_server: Option<&str>) {
    if lost > 0 {
        tracing::warn!(
            lost,
            "outbox rows were taken over by another worker after this worker's claim \
             expired; their outcome here was not recorded"
        );
    }
    if let Some(reason) = unreachable_server {
        // Addresses are already redacted from `reason`; it says why the server
        // could not be reached (refused, timed out, TLS), which operators need.
        tracing::warn!(
            retried,
            %reason,
            "the mail server could not be reached; the emails will be retried"
        );
    }
}

/// The addresses are bad for good: nobody sends to them again until an admin fixes
/// them, and their rounds count a bounce each. People and rounds are updated in a
/// fixed order, so two workers recording at once cannot deadlock on them.
async fn record_bounces(
    db: &DatabaseTransaction,
    rows: &[&outbox::Model],
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let mut recipients: Vec<&str> = rows.iter().map(|row| row.recipient.as_str()).collect();
    recipients.sort_unstable();
    recipients.dedup();
    for recipient in recipients {
        org::mark_undeliverable(db, recipient, now).await?;
    }
    let mut bounces_per_round: std::collections::BTreeMap<RoundId, i32> =
        std::collections::BTreeMap::new();
    for round_id in rows.iter().filter_map(|row| row.round_id) {
        *bounces_per_round.entry(round_id).or_default() += 1;
    }
    for (round_id, bounces) in bounces_per_round {
        round::Entity::update_many()
            .col_expr(
                round::Column::BounceCount,
                Expr::col(round::Column::BounceCount).add(bounces),
            )
            .filter(round::Column::Id.eq(round_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The outcome of a finished send task. A task that panicked (never expected)
/// leaves its row claimed; the call gives it back when it ends.
fn sent(
    joined: Result<(outbox::Model, RowOutcome), tokio::task::JoinError>,
) -> Option<(outbox::Model, RowOutcome)> {
    match joined {
        Ok(done) => Some(done),
        Err(error) => {
            if error.is_panic() {
                tracing::error!("sending an email panicked; its row is given back");
            }
            None
        }
    }
}

/// Renewing three times per lease leaves two renewals' slack for a slow database.
fn lease_renewal_interval(lease: TimeDelta) -> Duration {
    (lease.to_std().unwrap_or(Duration::from_secs(600)) / 3).max(Duration::from_millis(50))
}

/// Waits until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn classify(result: Result<(), SendError>) -> RowOutcome {
    match result {
        Ok(()) => RowOutcome::Delivered,
        Err(error @ SendError::Transient { smtp_code, .. }) => RowOutcome::Retry {
            error: without_addresses(&error.to_string()),
            smtp_code,
            retry_after: None,
        },
        Err(error @ SendError::Permanent { .. }) => RowOutcome::Failed {
            error: without_addresses(&error.to_string()),
            bounced: true,
        },
    }
}

/// Posts a signed webhook request, and what its answer means for the row.
async fn post_webhook(
    transport: Option<&dyn WebhookTransport>,
    request: &SignedRequest,
) -> RowOutcome {
    let Some(transport) = transport else {
        return RowOutcome::Retry {
            error: "this worker has no webhook transport".to_owned(),
            smtp_code: None,
            retry_after: None,
        };
    };
    match webhooks::verdict(transport.post(request).await) {
        Verdict::Delivered => RowOutcome::Delivered,
        Verdict::Retry {
            reason,
            retry_after,
        } => RowOutcome::Retry {
            error: reason,
            smtp_code: None,
            retry_after,
        },
        Verdict::Failed(reason) => unsendable(&reason),
    }
}

/// A webhook row that cannot be signed: its endpoint is gone (nothing to send), its
/// key is missing (it may come back), or it is unreadable.
fn unsignable_webhook(why: Unsignable) -> RowOutcome {
    match why {
        Unsignable::EndpointGone => RowOutcome::Discarded,
        Unsignable::KeyMissing => RowOutcome::Retry {
            error: "the master key of the endpoint's secret is not loaded".to_owned(),
            smtp_code: None,
            retry_after: None,
        },
        Unsignable::Malformed => unsendable("the stored webhook cannot be read"),
    }
}

fn unsendable(reason: &str) -> RowOutcome {
    RowOutcome::Failed {
        error: without_addresses(reason),
        bounced: false,
    }
}

fn unusable_address() -> RowOutcome {
    RowOutcome::Failed {
        error: "the recipient's address cannot be used in an email".to_owned(),
        bounced: true,
    }
}

/// Every word containing `@` replaced: server replies and lettre's errors quote
/// addresses, and `last_error` must not pair an address with survey data.
fn without_addresses(text: &str) -> String {
    let redacted: Vec<&str> = text
        .split_whitespace()
        .map(|word| {
            if word.contains('@') {
                "(address)"
            } else {
                word
            }
        })
        .collect();
    redacted.join(" ").chars().take(MAX_ERROR_CHARS).collect()
}

/// The digest's released headline figures, formatted for the reader: respondents,
/// each dimension's mean on its scale, and eNPS when the round asked for it.
fn digest_email(
    payload: DigestPayload,
    locale: Locale,
    scales: &dyn DimensionScales,
) -> ManagerDigestEmail {
    ManagerDigestEmail {
        survey_name: payload.survey_name,
        round_label: payload.round_label,
        report_link: payload.report_link,
        teams: payload
            .teams
            .into_iter()
            .map(|team| digest_team(team, locale, scales))
            .collect(),
        next_results_on: payload
            .next_results_on
            .map(|date| crate::messages::long_date(date, locale)),
    }
}

fn digest_team(
    team: DigestPayloadTeam,
    locale: Locale,
    scales: &dyn DimensionScales,
) -> DigestTeam {
    let commitments: Vec<DigestCommitment> = team
        .commitments
        .iter()
        .map(|commitment| DigestCommitment {
            dimension: Dimension::parse(&commitment.dimension)
                .map_or(commitment.dimension.clone(), |dimension| {
                    dimension_label(dimension, locale).to_owned()
                }),
            action: commitment.action.clone(),
            due: crate::messages::calendar_date(commitment.due_on, locale),
        })
        .collect();
    let headline_figures = match (team.rounded, team.figures) {
        (Some(rounded), _) => rounded_headline(&rounded, locale, scales),
        (None, Some(figures)) => released_headline(&figures, locale, scales),
        (None, None) => {
            return DigestTeam {
                team_name: team.team_name,
                result: DigestTeamResult::HiddenToProtectAnonymity,
                commitments,
            };
        }
    };
    DigestTeam {
        team_name: team.team_name,
        result: DigestTeamResult::Released {
            headline_figures,
            // The payload carries this round's releases only; the report page
            // compares rounds.
            biggest_comparable_change: None,
        },
        commitments,
    }
}

/// "Respondents" and "of" in the reader's language.
fn respondents_and_of(locale: Locale) -> (&'static str, &'static str) {
    match locale {
        Locale::En => ("Respondents", "of"),
        Locale::De => ("Teilnehmende", "von"),
    }
}

/// A rounded release (Rule D): its coarse means, each saying it is rounded.
fn rounded_headline(
    rounded: &RoundedFigures,
    locale: Locale,
    scales: &dyn DimensionScales,
) -> Vec<DigestFigure> {
    let (respondents, of) = respondents_and_of(locale);
    let (about, note) = match locale {
        Locale::En => ("about", "rounded to protect anonymity"),
        Locale::De => ("etwa", "zum Schutz der Anonymität gerundet"),
    };
    let mut headline_figures = vec![DigestFigure {
        label: respondents.to_owned(),
        value: rounded.respondents.to_string(),
    }];
    for dimension in &rounded.dimensions {
        let mean = one_decimal(dimension.mean, locale);
        headline_figures.push(DigestFigure {
            label: dimension_label(dimension.dimension, locale).to_owned(),
            value: match scales.scale_max(dimension.dimension) {
                Some(max) => format!("{about} {mean} {of} {max} ({note})"),
                None => format!("{about} {mean} ({note})"),
            },
        });
    }
    headline_figures
}

/// An exact release: respondents, each dimension's mean on its scale, and eNPS
/// when the round asked for it.
fn released_headline(
    figures: &ReleasedFigures,
    locale: Locale,
    scales: &dyn DimensionScales,
) -> Vec<DigestFigure> {
    let (respondents, of) = respondents_and_of(locale);
    let mut headline_figures = vec![DigestFigure {
        label: respondents.to_owned(),
        value: figures.respondents.to_string(),
    }];
    for dimension in &figures.dimensions {
        let label = dimension_label(dimension.dimension, locale).to_owned();
        if dimension.dimension == Dimension::Recommendation {
            if let Some(enps) = figures.items.iter().find_map(|item| item.enps) {
                headline_figures.push(DigestFigure {
                    label,
                    value: format!("{enps:+.0}"),
                });
            }
            continue;
        }
        let mean = one_decimal(dimension.mean, locale);
        headline_figures.push(DigestFigure {
            label,
            value: match scales.scale_max(dimension.dimension) {
                Some(max) => format!("{mean} {of} {max}"),
                None => mean,
            },
        });
    }
    headline_figures
}

fn one_decimal(value: f64, locale: Locale) -> String {
    let text = format!("{value:.1}");
    match locale {
        Locale::En => text,
        Locale::De => text.replace('.', ","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every dimension on a 1–7 scale, as in the built-in bank's Trust items.
    #[derive(Debug)]
    struct SevenPointScales;

    impl DimensionScales for SevenPointScales {
        fn scale_max(&self, _: Dimension) -> Option<u8> {
            Some(7)
        }
    }

    #[test]
    fn addresses_are_redacted_from_errors_and_long_replies_cut() {
        let redacted = without_addresses(
            "permanent failure (550): 5.1.1 <ada@example.com>: mailbox unavailable",
        );
        assert_eq!(
            redacted,
            "permanent failure (550): 5.1.1 (address) mailbox unavailable"
        );
        assert_eq!(without_addresses(&"x ".repeat(1_000)).chars().count(), 500);
    }

    #[test]
    fn a_rounded_team_is_shown_rounded_in_a_digest_and_says_so() {
        let rounded = safepulse_anonymizer::RoundedFigures {
            respondents: 7,
            step: 1.0,
            dimensions: vec![safepulse_anonymizer::RoundedDimension {
                dimension: Dimension::Trust,
                item_count: 1,
                mean: 5.0,
            }],
        };
        let team = digest_team(
            DigestPayloadTeam {
                team_name: "Alpha".into(),
                figures: None,
                rounded: Some(rounded),
                commitments: vec![crate::payloads::DigestPayloadCommitment {
                    dimension: "trust".into(),
                    action: "Weekly 1:1s".into(),
                    due_on: chrono::NaiveDate::from_ymd_opt(2027, 1, 7).unwrap(),
                }],
            },
            Locale::En,
            &SevenPointScales,
        );
        let DigestTeamResult::Released {
            headline_figures, ..
        } = team.result
        else {
            panic!("{team:?}");
        };
        assert_eq!(headline_figures[0].value, "7");
        assert_eq!(
            headline_figures[1].value,
            "about 5.0 of 7 (rounded to protect anonymity)"
        );
        assert_eq!(
            team.commitments,
            [DigestCommitment {
                dimension: "Trust".into(),
                action: "Weekly 1:1s".into(),
                due: "7 Jan 2027".into(),
            }]
        );
    }

    #[test]
    fn the_next_pulse_s_results_are_dated_in_the_reader_s_language_and_older_rows_still_read() {
        let bank = SevenPointScales;
        let queued_before: DigestPayload = serde_json::from_value(serde_json::json!({
            "survey_name": "Team pulse",
            "round_label": "Pulse of 14 Dec 2026",
            "report_link": "https://pulse.example.org/dashboard",
            "locale": "de",
            "time_zone": "Europe/Berlin",
            "teams": [],
        }))
        .expect("a digest queued before the field existed");
        assert_eq!(
            digest_email(queued_before.clone(), Locale::De, &bank).next_results_on,
            None
        );
        let dated = DigestPayload {
            next_results_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 21),
            ..queued_before
        };
        assert_eq!(
            digest_email(dated.clone(), Locale::De, &bank)
                .next_results_on
                .as_deref(),
            Some("Montag, 21. Dezember 2026")
        );
        assert_eq!(
            digest_email(dated, Locale::En, &bank)
                .next_results_on
                .as_deref(),
            Some("Monday, 21 December 2026")
        );
    }

    #[test]
    fn numbers_in_digests_follow_the_reader_s_language() {
        assert_eq!(one_decimal(5.64, Locale::En), "5.6");
        assert_eq!(one_decimal(5.66, Locale::De), "5,7");
    }
}
