//! Crypto-shredding: round salts move out of the database into the round keyring,
//! open answers and comments are stored sealed, and the scrub after close is
//! recorded so it is retried until done.
//!
//! Open rows written before this migration are plaintext and their rounds' salts
//! live in `rounds.salt`, which this migration drops. Converting them would need
//! the keys, which migrations never see, so the migration refuses to run while any
//! round is open: close open rounds with the previous version, then upgrade.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

use crate::dialect::execute_script;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let open = connection
            .query_one_raw(Statement::from_string(
                manager.get_database_backend(),
                "SELECT count(*) AS n FROM rounds WHERE status = 'open'",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if open > 0 {
            return Err(DbErr::Migration(format!(
                "{open} round(s) are open: close them with the previous safepulse version, then \
                 upgrade (their salts and answers cannot move into the round keyring here)"
            )));
        }
        execute_script(manager, SCHEMA).await
    }
}

// No semicolons inside comments: the script is split on them.
const SCHEMA: &str = r#"
DROP TABLE open_responses;
DROP TABLE open_comments;

-- sealed: the answers (one byte per item) or the padded comment, sealed with
-- XChaCha20-Poly1305 under a key derived from the round key, whose salt lives
-- only in the round keyring. Physical order is submission order on both
-- databases, so nothing readable may be here.
CREATE TABLE open_responses (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    node_id   {uuid} NOT NULL,
    ballot    {bytes} NOT NULL UNIQUE,
    sealed    {bytes} NOT NULL
) {without_rowid};
CREATE INDEX open_responses_by_round ON open_responses (round_id);

CREATE TABLE open_comments (
    id        {uuid} PRIMARY KEY,
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    node_id   {uuid} NOT NULL,
    sealed    {bytes} NOT NULL
) {without_rowid};
CREATE INDEX open_comments_by_round ON open_comments (round_id);

ALTER TABLE rounds DROP COLUMN salt;

-- Set when the round's keyring entry is destroyed and freed pages are scrubbed
-- after close. Rounds closed before this migration were scrubbed then.
ALTER TABLE rounds ADD COLUMN scrubbed_at {ts} NULL;
UPDATE rounds SET scrubbed_at = closed_at WHERE status = 'closed';
"#;
