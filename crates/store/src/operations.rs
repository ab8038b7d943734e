//! What operators watch (`/metrics`), read from the database so that every API
//! replica reports the same figures whichever process did the work: a separate
//! `safepulse worker` has no HTTP port of its own.
//!
//! - [`WorkerCounter`]s live in `worker_metrics` and grow in the transaction that
//!   records what they count ([`add_to_counters`]), so they survive restarts and
//!   are never counted twice.
//! - The scheduler writes its last tick there too ([`record_scheduler_tick`]).
//! - [`snapshot`] reads those and the live figures: the outbox's due and failed
//!   emails, open rounds and how overdue the most overdue close is.
//!
//! Everything here is a total: no figure is per round, team or person.

use crate::entities::round::RoundStatus;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::StoreError;
use crate::entities::{outbox, round, worker_metric};

/// A counter of what the outbox workers did, kept in `worker_metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkerCounter {
    /// Accepted by the mail server (or written as `.eml`).
    EmailsDelivered,
    /// Failed for now (4xx, connection, timeout) and rescheduled.
    EmailsRetried,
    /// Given up on (5xx, unusable address or row).
    EmailsFailed,
    /// Of the failed: the address itself was refused and is now flagged.
    EmailsBounced,
    /// Not sent because the round closed or the sign-in link died meanwhile.
    EmailsDiscarded,
    /// Claims that ran out before their worker recorded the row: a worker died,
    /// hung, or lost the database for longer than its lease.
    OutboxClaimsExpired,
}

impl WorkerCounter {
    pub const ALL: [WorkerCounter; 6] = [
        WorkerCounter::EmailsDelivered,
        WorkerCounter::EmailsRetried,
        WorkerCounter::EmailsFailed,
        WorkerCounter::EmailsBounced,
        WorkerCounter::EmailsDiscarded,
        WorkerCounter::OutboxClaimsExpired,
    ];

    /// Its row in `worker_metrics`.
    pub fn name(self) -> &'static str {
        match self {
            WorkerCounter::EmailsDelivered => "emails_delivered",
            WorkerCounter::EmailsRetried => "emails_retried",
            WorkerCounter::EmailsFailed => "emails_failed",
            WorkerCounter::EmailsBounced => "emails_bounced",
            WorkerCounter::EmailsDiscarded => "emails_discarded",
            WorkerCounter::OutboxClaimsExpired => "outbox_claims_expired",
        }
    }
}

const SCHEDULER_LAST_TICK: &str = "scheduler_last_tick";

/// Adds to counters inside the caller's transaction. The rows are updated in one
/// fixed order, so two workers recording at once wait for each other at most once
/// and never deadlock.
pub async fn add_to_counters(
    db: &impl ConnectionTrait,
    increments: &[(WorkerCounter, u64)],
) -> Result<(), StoreError> {
    let mut increments: Vec<(WorkerCounter, u64)> = increments
        .iter()
        .copied()
        .filter(|(_, amount)| *amount > 0)
        .collect();
    increments.sort_by_key(|(counter, _)| counter.name());
    for (counter, amount) in increments {
        let amount = i64::try_from(amount).unwrap_or(i64::MAX);
        worker_metric::Entity::update_many()
            .col_expr(
                worker_metric::Column::Value,
                Expr::col(worker_metric::Column::Value).add(amount),
            )
            .filter(worker_metric::Column::Name.eq(counter.name()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Records that a scheduler tick finished at `at` (the latest of all schedulers
/// wins: a late tick never moves the time back).
pub async fn record_scheduler_tick(
    db: &impl ConnectionTrait,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    worker_metric::Entity::update_many()
        .col_expr(worker_metric::Column::Value, Expr::value(at.timestamp()))
        .filter(worker_metric::Column::Name.eq(SCHEDULER_LAST_TICK))
        .filter(worker_metric::Column::Value.lt(at.timestamp()))
        .exec(db)
        .await?;
    Ok(())
}

/// The database's side of `/metrics`, read at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationsSnapshot {
    /// Pending emails whose time has come (not those waiting for a later time
    /// zone's opening or a retry's backoff).
    pub outbox_due: u64,
    /// How long the oldest due email has been due; 0 when none is.
    pub outbox_oldest_due_seconds: f64,
    /// Emails given up on, kept for an admin to look at.
    pub outbox_failed: u64,
    pub rounds_open: u64,
    /// How long ago the most overdue open round should have closed; 0 when none
    /// is overdue. A working scheduler keeps it within a tick.
    pub scheduler_lag_seconds: f64,
    /// When a scheduler last finished a tick (Unix seconds), 0 before the first.
    pub scheduler_last_tick: i64,
    /// Every [`WorkerCounter`] with its value.
    pub counters: Vec<(WorkerCounter, u64)>,
}

/// Reads the figures of [`OperationsSnapshot`] as of `now`.
pub async fn snapshot(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<OperationsSnapshot, StoreError> {
    let due = || {
        outbox::Entity::find()
            .filter(outbox::Column::Status.eq("pending"))
            .filter(outbox::Column::NotBefore.lte(now))
    };
    let outbox_due = due().count(db).await?;
    let oldest_due: Option<DateTime<Utc>> = due()
        .select_only()
        .column_as(outbox::Column::NotBefore.min(), "oldest")
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    let outbox_failed = outbox::Entity::find()
        .filter(outbox::Column::Status.eq("failed"))
        .count(db)
        .await?;
    let open_rounds = || round::Entity::find().filter(round::Column::Status.eq(RoundStatus::Open));
    let rounds_open = open_rounds().count(db).await?;
    let most_overdue: Option<DateTime<Utc>> = open_rounds()
        .filter(round::Column::ClosesAt.lte(now))
        .select_only()
        .column_as(round::Column::ClosesAt.min(), "most_overdue")
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    let stored: Vec<worker_metric::Model> = worker_metric::Entity::find().all(db).await?;
    let value_of = |name: &str| {
        stored
            .iter()
            .find(|row| row.name == name)
            .map_or(0, |row| row.value)
    };
    let seconds_since = |instant: Option<DateTime<Utc>>| {
        instant.map_or(0.0, |instant| {
            (std::cmp::max((now - instant).num_milliseconds(), 0) as f64) / 1000.0
        })
    };
    Ok(OperationsSnapshot {
        outbox_due,
        outbox_oldest_due_seconds: seconds_since(oldest_due),
        outbox_failed,
        rounds_open,
        scheduler_lag_seconds: seconds_since(most_overdue),
        scheduler_last_tick: value_of(SCHEDULER_LAST_TICK),
        counters: WorkerCounter::ALL
            .iter()
            .map(|counter| {
                (
                    *counter,
                    u64::try_from(value_of(counter.name())).unwrap_or(0),
                )
            })
            .collect(),
    })
}
