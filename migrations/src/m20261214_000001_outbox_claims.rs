//! Outbox claims that a worker can prove it still holds (issue 12, finding 3), and
//! what the workers did, readable by every API replica's `/metrics` (finding 6).
//!
//! - `outbox.claim_token`: the random token of the worker call that claimed the row,
//!   NULL when nobody holds it. A worker records an outcome, extends its lease or
//!   gives a row back only `WHERE claim_token = <its token>`, so a worker whose
//!   claim expired and was taken over can never delete or reschedule a row another
//!   worker is sending. Rows claimed by an older version keep their `claimed_until`
//!   and are respected until it passes.
//! - `worker_metrics`: one row per counter (`emails_delivered`, …), added to in the
//!   transaction that records what it counts, and `scheduler_last_tick` (Unix
//!   seconds), written by every scheduler tick. Never a round, team or person:
//!   totals only.

use sea_orm_migration::prelude::*;

use crate::dialect::execute_script;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_script(manager, SCHEMA).await
    }
}

// No semicolons inside comments: the script is split on them.
const SCHEMA: &str = r#"
ALTER TABLE outbox ADD COLUMN claim_token {uuid} NULL;
CREATE INDEX outbox_by_claim ON outbox (claim_token);
CREATE TABLE worker_metrics (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO worker_metrics (name, value) VALUES
    ('emails_delivered', 0),
    ('emails_retried', 0),
    ('emails_failed', 0),
    ('emails_bounced', 0),
    ('emails_discarded', 0),
    ('outbox_claims_expired', 0),
    ('scheduler_last_tick', 0);
"#;
