//! The admin console (issue 14).
//!
//! - `people.team_id` may be NULL: HR analysts and administrators hold role grants
//!   without belonging to a team, so no round ever invites them (an audience is a
//!   set of teams).
//! - `surveys.status` may be `draft`: the scheduler opens rounds of active surveys
//!   only, so nothing is sent until an admin starts it (and then not before its
//!   settings' `starts_on`).
//! - `outbox.kind` may be `test_invitation`: the console's "send a test email to
//!   me", which belongs to no round.
//!
//! PostgreSQL changes the constraints in place. SQLite cannot drop a `NOT NULL` or
//! change a `CHECK`, and rebuilding `people` is not possible inside the
//! migration's transaction (with foreign keys on, dropping the old table would
//! cascade into every table that refers to a person). SQLite documents a way for
//! exactly these changes, which only relax constraints every stored row already
//! meets: rewrite the table's `CREATE` text in `sqlite_schema` under
//! `writable_schema` and bump `schema_version`
//! (<https://www.sqlite.org/lang_altertable.html#otheralter>). The rewrite checks
//! that each text it replaces occurs exactly once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The `CREATE TABLE` texts' fragments SQLite's schema holds and what they become.
const SQLITE_REWRITES: &[(&str, &str, &str)] = &[
    (
        "people",
        "team_id        BLOB NOT NULL REFERENCES teams (id)",
        "team_id        BLOB NULL REFERENCES teams (id)",
    ),
    (
        "surveys",
        "CHECK (status IN ('active', 'paused', 'archived'))",
        "CHECK (status IN ('draft', 'active', 'paused', 'archived'))",
    ),
    (
        "outbox",
        "CHECK (kind IN ('invitation', 'reminder', 'digest', 'sign_in'))",
        "CHECK (kind IN ('invitation', 'reminder', 'digest', 'sign_in', 'test_invitation'))",
    ),
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                for statement in [
                    "ALTER TABLE people ALTER COLUMN team_id DROP NOT NULL",
                    "ALTER TABLE surveys DROP CONSTRAINT surveys_status_check",
                    "ALTER TABLE surveys ADD CONSTRAINT surveys_status_check \
                     CHECK (status IN ('draft', 'active', 'paused', 'archived'))",
                    "ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check",
                    "ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN \
                     ('invitation', 'reminder', 'digest', 'sign_in', 'test_invitation'))",
                ] {
                    connection.execute_unprepared(statement).await?;
                }
            }
            backend => rewrite_sqlite_schema(connection, backend, SQLITE_REWRITES).await?,
        }
        Ok(())
    }
}

/// Rewrites fragments of tables' `CREATE` texts in SQLite's schema (see the module
/// docs): each `(table, from, to)` must occur exactly once. Only for changes that
/// relax constraints every stored row already meets.
pub(crate) async fn rewrite_sqlite_schema(
    connection: &impl ConnectionTrait,
    backend: DatabaseBackend,
    rewrites: &[(&str, &str, &str)],
) -> Result<(), DbErr> {
    let version = connection
        .query_one_raw(Statement::from_string(backend, "PRAGMA schema_version"))
        .await?
        .ok_or_else(|| DbErr::Migration("no schema_version".into()))?
        .try_get_by_index::<i64>(0)?;
    connection
        .execute_unprepared("PRAGMA writable_schema = ON")
        .await?;
    for (table, from, to) in rewrites {
        let text = connection
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
                [(*table).into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Migration(format!("no table {table}")))?
            .try_get_by_index::<String>(0)?;
        if text.matches(from).count() != 1 {
            return Err(DbErr::Migration(format!(
                "the schema of {table} is not the one this migration rewrites"
            )));
        }
        connection
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
                [text.replacen(from, to, 1).into(), (*table).into()],
            ))
            .await?;
    }
    connection
        .execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
        .await?;
    connection
        .execute_unprepared("PRAGMA writable_schema = OFF")
        .await?;
    Ok(())
}
