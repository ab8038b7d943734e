//! The outbox worker (DESIGN §5): delivers the emails that other transactions
//! queued as `outbox` rows, at least once, from any number of processes.
//!
//! Why an outbox: opening a round, closing one or asking for a sign-in link writes
//! its emails as rows *in the same transaction*, so an email exists exactly when the
//! change it reports has committed. This worker sends them afterwards.
//!
//! One step, [`OutboxWorker::deliver_batch`], which tests drive directly:
//!
//! 1. **Claim** up to `limit` due rows in one atomic statement that sets a lease
//!    (`claimed_until`) and counts the attempt. On PostgreSQL the rows are picked
//!    `FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the same row; on
//!    SQLite the `UPDATE … RETURNING` runs inside `BEGIN IMMEDIATE`, which already
//!    admits one writer at a time.
//! 2. **Render** each row. Invitation and reminder links are derived now, from the
//!    round's salt and master key and the invitation id — a token is never stored.
//!    A row whose round has lost its salt (closed meanwhile) is deleted unsent:
//!    its link could never work. Sign-in links are derived from their `magic_links`
//!    row and the magic-link purpose key ([`crate::sign_in`]); a row whose link was
//!    used or expired meanwhile is deleted unsent too.
//! 3. **Send** concurrently, as many at once as the transport allows (the SMTP pool
//!    size), each with the Message-ID stored on its row, so a retried email is
//!    recognisably the same email.
//! 4. **Record** the outcomes in one write transaction: delivered rows are deleted
//!    in one statement; transient failures (4xx, connection loss, timeouts) are
//!    rescheduled with capped exponential backoff and jitter and their claim
//!    released; permanent ones (5xx, an unusable address) are marked `failed`, the
//!    address is flagged undeliverable and the round's `bounce_count` grows.
//!
//! A worker that dies between sending and recording leaves claimed rows behind;
//! their lease expires and another worker sends them again (at least once).
//!
//! Logs carry outbox row ids and kinds only: never a recipient, a link, or a
//! server reply (replies often quote the address). The `last_error` kept on a row
//! for admins has every email address in it redacted.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use lettre::Message;
use lettre::message::Mailbox;
use safepulse_domain::{Clock, Dimension, Email, InvitationId, Locale, TimeZone};
use safepulse_store::entities::{magic_link, outbox, round};
use safepulse_store::keyring::KeyChain;
use safepulse_store::{Backend, Store, StoreError, org};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

use crate::item_bank::ItemBank;
use crate::messages::{
    DigestFigure, DigestTeam, DigestTeamResult, InvitationEmail, LinkError, ManagerDigestEmail,
    MessageError, MessageHeaders, MessageId, PublicBaseUrl, Recipient, ReminderEmail, SignInEmail,
    dimension_label,
};
use crate::rounds::{DigestPayload, DigestPayloadTeam, InvitationPayload};
use crate::sign_in::{SignInPayload, SignInToken};
use crate::transport::{MailTransport, SendError, retry_delay};

/// How long a claim lasts by default. Longer than a batch can take even when every
/// send waits for its timeout, so a slow batch is not claimed twice; short enough
/// that a crashed worker's rows go out again within minutes.
pub const DEFAULT_CLAIM_LEASE: TimeDelta = TimeDelta::minutes(10);

/// Rows deleted per statement: well below SQLite's bound-variable limit.
const DELETE_CHUNK: usize = 1_000;
/// `last_error` is for a person to read, not a place to store whole replies.
const MAX_ERROR_CHARS: usize = 500;

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
}

impl DeliveryReport {
    /// Nothing was due: the caller may sleep.
    pub fn queue_was_empty(&self) -> bool {
        self.claimed == 0
    }
}

/// Sends outbox rows. Cheap to share: clone it into as many tasks as needed.
#[derive(Debug, Clone)]
pub struct OutboxWorker {
    store: Store,
    transport: MailTransport,
    keys: KeyChain,
    bank: Arc<ItemBank>,
    clock: Arc<dyn Clock>,
    from: Mailbox,
    public_base_url: PublicBaseUrl,
    claim_lease: TimeDelta,
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
        bank: Arc<ItemBank>,
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
            bank,
            clock,
            from,
            public_base_url,
            claim_lease: settings.claim_lease,
        })
    }

    /// Claims up to `limit` due rows, sends them and records the outcomes (see the
    /// module docs). An error means the database failed; rows claimed before it
    /// are retried when their lease expires.
    pub async fn deliver_batch(&self, limit: usize) -> Result<DeliveryReport, OutboxError> {
        let rows = self.claim(limit).await?;
        if rows.is_empty() {
            return Ok(DeliveryReport::default());
        }
        let rounds = self.rounds_of(&rows).await?;
        let magic_links = self.magic_links_of(&rows).await?;
        let now = self.clock.now();
        let prepared: Vec<Result<Message, RowOutcome>> = rows
            .iter()
            .map(|row| self.render(row, &rounds, &magic_links, now))
            .collect();
        let transport = &self.transport;
        // `buffered` keeps the outcomes in row order while sending in parallel.
        let outcomes: Vec<RowOutcome> = futures_util::stream::iter(prepared)
            .map(|prepared| async move {
                match prepared {
                    Ok(message) => classify(transport.send(&message).await),
                    Err(outcome) => outcome,
                }
            })
            .buffered(transport.parallel_sends().max(1))
            .collect()
            .await;
        self.record(&rows, &outcomes).await
    }

    async fn claim(&self, limit: usize) -> Result<Vec<outbox::Model>, OutboxError> {
        let now = self.clock.now();
        let lease_end = now + self.claim_lease;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let statement = match self.store.backend() {
            Backend::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM outbox \
                     WHERE status = 'pending' AND not_before <= $2 \
                       AND (claimed_until IS NULL OR claimed_until < $2) \
                     ORDER BY not_before LIMIT $3 \
                     FOR UPDATE SKIP LOCKED) \
                 RETURNING *",
                [lease_end.into(), now.into(), limit.into()],
            ),
            Backend::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM outbox \
                     WHERE status = 'pending' AND not_before <= ? \
                       AND (claimed_until IS NULL OR claimed_until < ?) \
                     ORDER BY not_before LIMIT ?) \
                 RETURNING *",
                [lease_end.into(), now.into(), now.into(), limit.into()],
            ),
        };
        let transaction = self.store.begin_write().await?;
        let rows = outbox::Entity::find()
            .from_raw_sql(statement)
            .all(&transaction)
            .await?;
        transaction.commit().await?;
        Ok(rows)
    }

    async fn rounds_of(
        &self,
        rows: &[outbox::Model],
    ) -> Result<HashMap<Uuid, round::Model>, OutboxError> {
        let mut round_ids: Vec<Uuid> = rows.iter().filter_map(|row| row.round_id).collect();
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
            .filter(|row| row.kind == "sign_in")
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
        rounds: &HashMap<Uuid, round::Model>,
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
        let message = match row.kind.as_str() {
            kind @ ("invitation" | "reminder") => {
                let round = row.round_id.and_then(|id| rounds.get(&id));
                let Some(round) = round else {
                    return Err(RowOutcome::Discarded);
                };
                if round.status != "open" {
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
                    })?;
                let token = round_key.link_token(InvitationId(invitation_id));
                let answer_link = self.public_base_url.answer_link(&token);
                let payload: InvitationPayload = serde_json::from_value(row.payload.clone())
                    .map_err(|_| unsendable("the stored payload cannot be read"))?;
                let headers = headers(&payload.locale, &payload.time_zone)?;
                if kind == "invitation" {
                    InvitationEmail {
                        survey_name: payload.survey_name,
                        team_name: payload.team_name,
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
                        answer_link,
                        min_group_size: payload.min_group_size,
                        closes_at: payload.closes_at,
                    }
                    .to_message(&headers)
                }
            }
            "digest" => {
                let payload: DigestPayload = serde_json::from_value(row.payload.clone())
                    .map_err(|_| unsendable("the stored payload cannot be read"))?;
                let headers = headers(&payload.locale, &payload.time_zone)?;
                digest_email(payload, headers.to.locale, &self.bank).to_message(&headers)
            }
            "sign_in" => {
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
            }
            _ => return Err(unsendable("unknown kind of email")),
        };
        message.map_err(|error| match error {
            MessageError::UnusableRecipientAddress => unusable_address(),
            other => unsendable(&other.to_string()),
        })
    }

    async fn record(
        &self,
        rows: &[outbox::Model],
        outcomes: &[RowOutcome],
    ) -> Result<DeliveryReport, OutboxError> {
        let now = self.clock.now();
        let mut report = DeliveryReport {
            claimed: rows.len(),
            ..DeliveryReport::default()
        };
        let mut finished: Vec<Uuid> = Vec::new();
        let mut unreachable_server: Option<&str> = None;
        let transaction = self.store.begin_write().await?;
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                RowOutcome::Delivered => {
                    report.delivered += 1;
                    finished.push(row.id);
                }
                RowOutcome::Discarded => {
                    report.discarded += 1;
                    finished.push(row.id);
                }
                RowOutcome::Retry { error, smtp_code } => {
                    report.retried += 1;
                    let failures_so_far = u32::try_from(row.attempts - 1).unwrap_or(0);
                    let delay = retry_delay(failures_so_far, &mut rand::rng());
                    let not_before =
                        now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::minutes(30));
                    outbox::Entity::update_many()
                        .col_expr(outbox::Column::NotBefore, Expr::value(not_before))
                        .col_expr(
                            outbox::Column::ClaimedUntil,
                            Expr::value(Option::<DateTime<Utc>>::None),
                        )
                        .col_expr(outbox::Column::LastError, Expr::value(error.clone()))
                        .filter(outbox::Column::Id.eq(row.id))
                        .exec(&transaction)
                        .await?;
                    if smtp_code.is_none() {
                        unreachable_server.get_or_insert(error);
                    }
                    tracing::debug!(
                        outbox_row = %row.id,
                        kind = %row.kind,
                        attempts = row.attempts,
                        smtp_code,
                        "email delivery failed for now; retrying later"
                    );
                }
                RowOutcome::Failed { error, bounced } => {
                    report.failed += 1;
                    outbox::Entity::update_many()
                        .col_expr(outbox::Column::Status, Expr::value("failed"))
                        .col_expr(
                            outbox::Column::ClaimedUntil,
                            Expr::value(Option::<DateTime<Utc>>::None),
                        )
                        .col_expr(outbox::Column::LastError, Expr::value(error.clone()))
                        .filter(outbox::Column::Id.eq(row.id))
                        .exec(&transaction)
                        .await?;
                    if *bounced {
                        record_bounce(&transaction, row, now).await?;
                    }
                    tracing::warn!(
                        outbox_row = %row.id,
                        kind = %row.kind,
                        bounced,
                        "email not delivered and not retried; the reason is on the outbox row"
                    );
                }
            }
        }
        for chunk in finished.chunks(DELETE_CHUNK) {
            outbox::Entity::delete_many()
                .filter(outbox::Column::Id.is_in(chunk.iter().copied()))
                .exec(&transaction)
                .await?;
        }
        transaction.commit().await?;
        if let Some(reason) = unreachable_server {
            // Addresses are already redacted from `reason`; it says why the server
            // could not be reached (refused, timed out, TLS), which operators need.
            tracing::warn!(
                retried = report.retried,
                %reason,
                "the mail server could not be reached; the emails will be retried"
            );
        }
        tracing::debug!(
            claimed = report.claimed,
            delivered = report.delivered,
            retried = report.retried,
            failed = report.failed,
            discarded = report.discarded,
            "outbox batch done"
        );
        Ok(report)
    }
}

/// The address is bad for good: nobody sends to it again until an admin fixes
/// it, and the round counts a bounce.
async fn record_bounce(
    db: &DatabaseTransaction,
    row: &outbox::Model,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    org::mark_undeliverable(db, &row.recipient, now).await?;
    if let Some(round_id) = row.round_id {
        round::Entity::update_many()
            .col_expr(
                round::Column::BounceCount,
                Expr::col(round::Column::BounceCount).add(1),
            )
            .filter(round::Column::Id.eq(round_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

fn classify(result: Result<(), SendError>) -> RowOutcome {
    match result {
        Ok(()) => RowOutcome::Delivered,
        Err(error @ SendError::Transient { smtp_code, .. }) => RowOutcome::Retry {
            error: without_addresses(&error.to_string()),
            smtp_code,
        },
        Err(error @ SendError::Permanent { .. }) => RowOutcome::Failed {
            error: without_addresses(&error.to_string()),
            bounced: true,
        },
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
fn digest_email(payload: DigestPayload, locale: Locale, bank: &ItemBank) -> ManagerDigestEmail {
    ManagerDigestEmail {
        survey_name: payload.survey_name,
        round_label: payload.round_label,
        report_link: payload.report_link,
        teams: payload
            .teams
            .into_iter()
            .map(|team| digest_team(team, locale, bank))
            .collect(),
    }
}

fn digest_team(team: DigestPayloadTeam, locale: Locale, bank: &ItemBank) -> DigestTeam {
    let (respondents, of) = match locale {
        Locale::En => ("Respondents", "of"),
        Locale::De => ("Teilnehmende", "von"),
    };
    let scale_max = |dimension: Dimension| {
        // A dimension's items share one scale; a score-only release has no items.
        bank.items_of(dimension)
            .next()
            .map(|item| item.meta().scale.max())
    };
    if let Some(rounded) = team.rounded {
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
                value: match scale_max(dimension.dimension) {
                    Some(max) => format!("{about} {mean} {of} {max} ({note})"),
                    None => format!("{about} {mean} ({note})"),
                },
            });
        }
        return DigestTeam {
            team_name: team.team_name,
            result: DigestTeamResult::Released {
                headline_figures,
                biggest_comparable_change: None,
            },
        };
    }
    let Some(figures) = team.figures else {
        return DigestTeam {
            team_name: team.team_name,
            result: DigestTeamResult::HiddenToProtectAnonymity,
        };
    };
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
            value: match scale_max(dimension.dimension) {
                Some(max) => format!("{mean} {of} {max}"),
                None => mean,
            },
        });
    }
    DigestTeam {
        team_name: team.team_name,
        result: DigestTeamResult::Released {
            headline_figures,
            // The payload carries this round's releases only; the report page
            // compares rounds.
            biggest_comparable_change: None,
        },
    }
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
            },
            Locale::En,
            &ItemBank::builtin().unwrap(),
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
    }

    #[test]
    fn numbers_in_digests_follow_the_reader_s_language() {
        assert_eq!(one_decimal(5.64, Locale::En), "5.6");
        assert_eq!(one_decimal(5.66, Locale::De), "5,7");
    }
}
