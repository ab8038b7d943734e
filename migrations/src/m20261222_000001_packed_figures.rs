//! Released figures and atom statistics stored packed (issue 11 §close, issue 17).
//!
//! `releases.figures` and `atom_statistics.statistics` were JSON documents: a
//! 50,000-answer close wrote 46 MB of them, and parsing, compressing and writing
//! that text was most of the close's time on both databases. They become binary
//! (`{bytes}`), holding MessagePack (the anonymizer's `stored` module). Rows
//! closed before this migration are converted here: each JSON document becomes the
//! same document in MessagePack, with field names (a map), which the anonymizer
//! reads as well as the compact form (structs as arrays) that new closes write.
//!
//! SQLite cannot change a column's type, and `releases` has a `CHECK` on its
//! figures, so both tables are rebuilt (on both databases, from one text) and the
//! rows copied by this migration, a page at a time. Not marked backward
//! compatible: older versions read the figures as JSON.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};
use uuid::Uuid;

use crate::dialect::execute_script;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows copied per statement: a page of JSON documents in memory at a time.
const PAGE: u64 = 500;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_script(manager, CREATE_PACKED).await?;
        copy_releases(manager).await?;
        copy_atom_statistics(manager).await?;
        execute_script(manager, REPLACE_OLD).await
    }
}

/// A JSON document as MessagePack: the same tree, objects as maps with their keys.
fn packed(json_text: &str) -> Result<Vec<u8>, DbErr> {
    let document: serde_json::Value = serde_json::from_str(json_text)
        .map_err(|error| DbErr::Migration(format!("a stored figure is not JSON: {error}")))?;
    rmp_serde::to_vec(&document)
        .map_err(|error| DbErr::Migration(format!("a stored figure cannot be packed: {error}")))
}

/// The JSON column as text: PostgreSQL's `JSONB` is cast, SQLite's is text already.
fn as_text(manager: &SchemaManager, column: &str) -> String {
    match manager.get_database_backend() {
        DatabaseBackend::Postgres => format!("CAST({column} AS TEXT)"),
        _ => column.to_owned(),
    }
}

fn query(manager: &SchemaManager, sql: String, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(manager.get_database_backend(), sql, values)
}

async fn copy_releases(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    let figures = as_text(manager, "figures");
    let mut after: Option<Uuid> = None;
    loop {
        let (condition, values) = match after {
            Some(id) => ("WHERE id > $1", vec![id.into()]),
            None => ("", vec![]),
        };
        let rows = connection
            .query_all_raw(query(
                manager,
                format!(
                    "SELECT id, round_id, node_id, status, detail, {figures} AS figures, team_changed \
                     FROM releases {condition} ORDER BY id LIMIT {PAGE}"
                ),
                values,
            ))
            .await?;
        for row in &rows {
            let id: Uuid = row.try_get("", "id")?;
            let text: Option<String> = row.try_get("", "figures")?;
            let figures = text.as_deref().map(packed).transpose()?;
            connection
                .execute_raw(query(
                    manager,
                    "INSERT INTO releases_packed \
                     (id, round_id, node_id, status, detail, figures, team_changed) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)"
                        .into(),
                    vec![
                        id.into(),
                        row.try_get::<Uuid>("", "round_id")?.into(),
                        row.try_get::<Uuid>("", "node_id")?.into(),
                        row.try_get::<String>("", "status")?.into(),
                        row.try_get::<bool>("", "detail")?.into(),
                        figures.into(),
                        row.try_get::<bool>("", "team_changed")?.into(),
                    ],
                ))
                .await?;
            after = Some(id);
        }
        if (rows.len() as u64) < PAGE {
            return Ok(());
        }
    }
}

async fn copy_atom_statistics(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    let statistics = as_text(manager, "statistics");
    let mut after: Option<(Uuid, String, Uuid)> = None;
    loop {
        let (condition, values) = match &after {
            Some((round_id, family, atom_id)) => (
                "WHERE (round_id, family, atom_id) > ($1, $2, $3)",
                vec![(*round_id).into(), family.clone().into(), (*atom_id).into()],
            ),
            None => ("", vec![]),
        };
        let rows = connection
            .query_all_raw(query(
                manager,
                format!(
                    "SELECT round_id, family, atom_id, people, {statistics} AS statistics \
                     FROM atom_statistics {condition} \
                     ORDER BY round_id, family, atom_id LIMIT {PAGE}"
                ),
                values,
            ))
            .await?;
        for row in &rows {
            let key = (
                row.try_get::<Uuid>("", "round_id")?,
                row.try_get::<String>("", "family")?,
                row.try_get::<Uuid>("", "atom_id")?,
            );
            let statistics = packed(&row.try_get::<String>("", "statistics")?)?;
            connection
                .execute_raw(query(
                    manager,
                    "INSERT INTO atom_statistics_packed \
                     (round_id, family, atom_id, people, statistics) \
                     VALUES ($1, $2, $3, $4, $5)"
                        .into(),
                    vec![
                        key.0.into(),
                        key.1.clone().into(),
                        key.2.into(),
                        row.try_get::<i32>("", "people")?.into(),
                        statistics.into(),
                    ],
                ))
                .await?;
            after = Some(key);
        }
        if (rows.len() as u64) < PAGE {
            return Ok(());
        }
    }
}

// No semicolons inside comments: the script is split on them.
const CREATE_PACKED: &str = r#"
-- figures is NULL exactly when the release is suppressed.
CREATE TABLE releases_packed (
    id            {uuid} PRIMARY KEY,
    round_id      {uuid} NOT NULL REFERENCES rounds (id),
    node_id       {uuid} NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('released', 'rounded', 'suppressed')),
    detail        {bool} NOT NULL,
    figures       {bytes} NULL,
    team_changed  {bool} NOT NULL,
    CHECK ((status = 'suppressed') = (figures IS NULL)),
    CHECK (status = 'released' OR NOT detail),
    UNIQUE (round_id, node_id)
);

-- Sufficient statistics per atom (sums, sums of squares, histograms). Never served.
CREATE TABLE atom_statistics_packed (
    round_id    {uuid} NOT NULL REFERENCES rounds (id),
    family      TEXT NOT NULL CHECK (family IN ('scores', 'detail')),
    atom_id     {uuid} NOT NULL,
    people      INTEGER NOT NULL,
    statistics  {bytes} NOT NULL,
    PRIMARY KEY (round_id, family, atom_id)
);
"#;

const REPLACE_OLD: &str = r#"
DROP TABLE releases;
ALTER TABLE releases_packed RENAME TO releases;
-- A node's trend reads its releases by node.
CREATE INDEX releases_by_node ON releases (node_id, round_id);
DROP TABLE atom_statistics;
ALTER TABLE atom_statistics_packed RENAME TO atom_statistics;
"#;
