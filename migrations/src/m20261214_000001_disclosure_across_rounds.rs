//! Disclosure across rounds (issue 18, DESIGN §3 "Across rounds", Rule D).
//!
//! - `surveys.restricted_release` / `rounds.restricted_release`: what a release that
//!   comparing with earlier rounds could single people out becomes, `suppressed` (the
//!   default) or `rounded`. A round keeps the value it opened with, as with `k`.
//! - `releases`: a third status, `rounded` (coarse figures, never a reason), and
//!   `team_changed`, decided at close: the node's invited people differ from the
//!   survey's previous round. SQLite cannot change a `CHECK`, so the table is
//!   rebuilt (on both databases, from one text).
//! - `determined_nodes`: per round and family, every node whose figures the
//!   round's exact releases pin down, with its respondent count. Store-only, like
//!   `atom_statistics`: later closes compare against it and nothing serves it. Rounds
//!   closed before this migration get a row for each node they released exactly
//!   (nodes pinned only through their released neighbours were not recorded then).
//! - `round_participation.refresh_after`: when an open round's participation may be
//!   recomputed next, drawn at random within the day after the one-day wait, so the
//!   moment of a refresh cannot be predicted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::dialect::execute_script;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_script(manager, SCHEMA).await?;
        // The respondent count of a released node is in its figures' JSON.
        let respondents = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "CAST(figures ->> 'respondents' AS INTEGER)",
            _ => "CAST(json_extract(figures, '$.respondents') AS INTEGER)",
        };
        let connection = manager.get_connection();
        connection
            .execute_unprepared(&format!(
                "INSERT INTO determined_nodes (round_id, family, node_id, respondents) \
                 SELECT round_id, 'scores', node_id, {respondents} FROM releases \
                 WHERE status = 'released'"
            ))
            .await?;
        connection
            .execute_unprepared(&format!(
                "INSERT INTO determined_nodes (round_id, family, node_id, respondents) \
                 SELECT round_id, 'detail', node_id, {respondents} FROM releases \
                 WHERE status = 'released' AND detail"
            ))
            .await?;
        Ok(())
    }
}

// No semicolons inside comments: the script is split on them.
const SCHEMA: &str = r#"
ALTER TABLE surveys ADD COLUMN restricted_release TEXT NOT NULL DEFAULT 'suppressed'
    CHECK (restricted_release IN ('suppressed', 'rounded'));
ALTER TABLE rounds ADD COLUMN restricted_release TEXT NOT NULL DEFAULT 'suppressed'
    CHECK (restricted_release IN ('suppressed', 'rounded'));

-- figures is NULL exactly when the release is suppressed.
CREATE TABLE releases_rebuilt (
    id            {uuid} PRIMARY KEY,
    round_id      {uuid} NOT NULL REFERENCES rounds (id),
    node_id       {uuid} NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('released', 'rounded', 'suppressed')),
    detail        {bool} NOT NULL,
    figures       {json} NULL,
    team_changed  {bool} NOT NULL,
    CHECK ((status = 'suppressed') = (figures IS NULL)),
    CHECK (status = 'released' OR NOT detail),
    UNIQUE (round_id, node_id)
);
INSERT INTO releases_rebuilt (id, round_id, node_id, status, detail, figures, team_changed)
    SELECT id, round_id, node_id, status, detail, figures, FALSE FROM releases;
DROP TABLE releases;
ALTER TABLE releases_rebuilt RENAME TO releases;
CREATE INDEX releases_by_node ON releases (node_id, round_id);

CREATE TABLE determined_nodes (
    round_id     {uuid} NOT NULL REFERENCES rounds (id),
    family       TEXT NOT NULL CHECK (family IN ('scores', 'detail')),
    node_id      {uuid} NOT NULL,
    respondents  INTEGER NOT NULL CHECK (respondents > 0),
    PRIMARY KEY (round_id, family, node_id)
);

ALTER TABLE round_participation ADD COLUMN refresh_after {ts} NULL;
"#;
