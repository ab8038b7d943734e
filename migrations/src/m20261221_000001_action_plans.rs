//! Action plans (issue 13, point 4): after a round closes, a team's leader records
//! up to three commitments for the team — a dimension, what they will do, by when —
//! edits them and marks them done.
//!
//! `action_commitments` refers to a team and to the closed round that prompted it,
//! never to an answer, a release or a person: who wrote or changed a commitment is
//! in the audit log, like every other change. `slot` (1 to 3, unique per team and
//! round) is how the limit of three holds under concurrent writes on both
//! databases: a fourth insert finds no free slot, and two racing inserts of the
//! same slot meet the unique index.
//!
//! Only a new table, which older code never reads: marked backward compatible.

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
CREATE TABLE action_commitments (
    id          {uuid} PRIMARY KEY,
    team_id     {uuid} NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    round_id    {uuid} NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    slot        INTEGER NOT NULL CHECK (slot BETWEEN 1 AND 3),
    dimension   TEXT NOT NULL,
    action      TEXT NOT NULL,
    due_on      DATE NOT NULL,
    done_at     {ts} NULL,
    created_at  {ts} NOT NULL,
    updated_at  {ts} NOT NULL
);
CREATE UNIQUE INDEX action_commitments_slot ON action_commitments (team_id, round_id, slot);
CREATE INDEX action_commitments_by_round ON action_commitments (round_id);
INSERT INTO backward_compatible_migrations (version) VALUES ('m20261221_000001_action_plans');
"#;
