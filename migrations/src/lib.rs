//! The database schema of safepulse, one file per migration, for SQLite and PostgreSQL.
//!
//! Migrations refer to tables by name, never to the store's entities, so that old
//! migrations keep compiling and meaning the same thing as the code moves on.
//! Each migration runs in one transaction on both databases ([`Migrator`]).
//!
//! The schema carries the privacy design (DESIGN §2) from the first migration:
//! the tables that hold answers (`open_responses`, `open_comments`, `responses`,
//! `comments`) have no column that refers to a person, an invitation, a time or a
//! locale and use random ids. Their physical order follows the order of
//! submission on both databases, which is why open answers and comments are
//! stored sealed (m20261207_000001_round_keyring).
//!
//! **Rolling upgrades.** A version runs against a database that a newer version
//! migrated when every migration it does not know came after all of its own and is
//! marked backward compatible ([`schema_status`]); otherwise it refuses to start
//! and its `/readyz` answers 503. A migration is marked by inserting its own name
//! into `backward_compatible_migrations` in its script. Mark it only when code
//! that knows just the migrations before it keeps working, correctly, on the new
//! schema: it adds tables, indexes, or columns that are nullable or have a
//! default, which older code neither reads nor needs to write. Never mark a
//! migration that drops or renames anything, adds a constraint older code could
//! break, or changes what an existing column means.

pub use sea_orm_migration::prelude::*;

use sea_orm_migration::sea_orm::{DatabaseConnection, EntityTrait, QueryResult};
use sea_orm_migration::seaql_migrations;

mod dialect;
mod m20261128_000001_v1_schema;
mod m20261207_000001_round_keyring;
mod m20261207_000002_tokens;
mod m20261214_000001_disclosure_across_rounds;
mod m20261214_000001_outbox_claims;
mod m20261215_000001_backward_compatible_migrations;
mod m20261216_000001_admin_console;
mod m20261221_000001_action_plans;
mod m20261222_000001_packed_figures;
mod m20261222_000002_open_rows_by_round;
mod m20261223_000001_scim;
mod m20261223_000002_webhook_endpoints;

#[derive(Debug)]
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_v1_schema::Migration),
            Box::new(m20261207_000001_round_keyring::Migration),
            Box::new(m20261207_000002_tokens::Migration),
            Box::new(m20261214_000001_disclosure_across_rounds::Migration),
            Box::new(m20261214_000001_outbox_claims::Migration),
            Box::new(m20261215_000001_backward_compatible_migrations::Migration),
            Box::new(m20261216_000001_admin_console::Migration),
            Box::new(m20261221_000001_action_plans::Migration),
            Box::new(m20261222_000001_packed_figures::Migration),
            Box::new(m20261222_000002_open_rows_by_round::Migration),
            Box::new(m20261223_000001_scim::Migration),
            Box::new(m20261223_000002_webhook_endpoints::Migration),
        ]
    }
}

/// Where a database's schema stands against the migrations this version knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaStatus {
    /// No migration applied: a new database.
    New,
    /// Every migration this version knows is applied, and no other.
    Current,
    /// Migrations of this version not applied yet (and none it does not know).
    Pending(Vec<String>),
    /// Every migration this version knows is applied, then these newer ones, each
    /// marked backward compatible: this version runs as it is.
    NewerCompatible(Vec<String>),
    /// Migrations this version does not know, not all marked backward compatible
    /// or not all after its own: only a newer version may run.
    NewerIncompatible(Vec<String>),
}

/// Reads `seaql_migrations` (and, when it names migrations this version does not
/// know, `backward_compatible_migrations`) without changing anything.
pub async fn schema_status(db: &DatabaseConnection) -> Result<SchemaStatus, DbErr> {
    let manager = SchemaManager::new(db);
    if !manager.has_table("seaql_migrations").await? {
        return Ok(SchemaStatus::New);
    }
    let applied = seaql_migrations::Entity::find().all(db).await?;
    if applied.is_empty() {
        return Ok(SchemaStatus::New);
    }
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect();
    let (ours, unknown): (Vec<_>, Vec<_>) = applied
        .into_iter()
        .partition(|row| known.contains(&row.version));
    let pending: Vec<String> = known
        .iter()
        .filter(|name| !ours.iter().any(|row| &row.version == *name))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(if pending.is_empty() {
            SchemaStatus::Current
        } else {
            SchemaStatus::Pending(pending)
        });
    }
    let mut unknown_names: Vec<String> = unknown.iter().map(|row| row.version.clone()).collect();
    unknown_names.sort();
    // A migration of ours applied after one we do not know (or missing) means the
    // schema took a path this version never saw.
    let last_of_ours = ours
        .iter()
        .map(|row| row.applied_at)
        .max()
        .unwrap_or(i64::MIN);
    let all_after_ours = unknown.iter().all(|row| row.applied_at >= last_of_ours);
    let marked = compatible_migrations(db).await?;
    let all_marked = unknown_names.iter().all(|name| marked.contains(name));
    Ok(if pending.is_empty() && all_after_ours && all_marked {
        SchemaStatus::NewerCompatible(unknown_names)
    } else {
        SchemaStatus::NewerIncompatible(unknown_names)
    })
}

/// The names in `backward_compatible_migrations`.
async fn compatible_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let rows: Vec<QueryResult> = db
        .query_all(
            Query::select()
                .column(Alias::new("version"))
                .from(Alias::new("backward_compatible_migrations")),
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect()
}
