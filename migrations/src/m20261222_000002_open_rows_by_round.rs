//! Open answers and comments kept together by round (issue 11 §close, issue 17).
//!
//! `open_responses` and `open_comments` are SQLite `WITHOUT ROWID` tables: the
//! primary key is the storage order. Keyed by their random id alone, with an index
//! on the round, a close reading or deleting its round's 50,000 rows made 50,000
//! random B-tree lookups (0.3 s each way on SQLite, BENCHMARKS.md). Keyed by
//! `(round_id, id)`, a round's rows are one range, still in random-id order within
//! it, and the separate round index goes (one index fewer on every submit). On
//! PostgreSQL the key is only an index; the same text keeps the schemas alike.
//!
//! Both tables are rebuilt and their rows copied, in the migration's transaction, in
//! the order of their random ids: the copies' physical order (PostgreSQL's heap)
//! no longer follows the order in which open answers were submitted.
//! Not marked backward compatible, only because the migration before it is not.

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
CREATE TABLE open_responses_new (
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    id        {uuid} NOT NULL,
    node_id   {uuid} NOT NULL,
    ballot    {bytes} NOT NULL UNIQUE,
    sealed    {bytes} NOT NULL,
    PRIMARY KEY (round_id, id)
) {without_rowid};
INSERT INTO open_responses_new (round_id, id, node_id, ballot, sealed)
    SELECT round_id, id, node_id, ballot, sealed FROM open_responses ORDER BY id;
DROP TABLE open_responses;
ALTER TABLE open_responses_new RENAME TO open_responses;

CREATE TABLE open_comments_new (
    round_id  {uuid} NOT NULL REFERENCES rounds (id),
    id        {uuid} NOT NULL,
    node_id   {uuid} NOT NULL,
    sealed    {bytes} NOT NULL,
    PRIMARY KEY (round_id, id)
) {without_rowid};
INSERT INTO open_comments_new (round_id, id, node_id, sealed)
    SELECT round_id, id, node_id, sealed FROM open_comments ORDER BY id;
DROP TABLE open_comments;
ALTER TABLE open_comments_new RENAME TO open_comments;
"#;
