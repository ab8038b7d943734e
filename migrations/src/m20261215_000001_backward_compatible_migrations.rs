//! Rolling upgrades (issue 12 §4): a database migrated by a newer version still
//! serves the older replicas when every migration they do not know says it keeps
//! older code working. A migration says so by writing its own name into
//! `backward_compatible_migrations`, in its own transaction, so the mark and the
//! change it describes appear together. See [`crate::schema_status`] for how a
//! version reads it, and the rules for marking in the crate's overview.
//!
//! This migration only adds a table that no older code reads, so it marks itself.

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
CREATE TABLE backward_compatible_migrations (version TEXT PRIMARY KEY);
INSERT INTO backward_compatible_migrations (version) VALUES ('m20261215_000001_backward_compatible_migrations');
"#;
