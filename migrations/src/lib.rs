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

pub use sea_orm_migration::prelude::*;

mod dialect;
mod m20261128_000001_v1_schema;
mod m20261207_000001_round_keyring;
mod m20261207_000002_tokens;
mod m20261214_000001_disclosure_across_rounds;

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
        ]
    }
}
