//! SCIM provisioning (issue 16, point 2): what an identity provider says about a
//! person or a team that the organisation itself has no column for.
//!
//! `scim_users` keeps a person's SCIM `userName` (unique, compared without letter
//! case through `user_name_key`), `externalId` and the parts of the name as the
//! identity provider sent them (`displayName`, `name.formatted`, `givenName`,
//! `familyName`; the person's one `name` is made from them); `scim_groups` a
//! team's `externalId`. Both go with their person or team (`ON DELETE CASCADE`), so
//! erasing a person leaves no provisioning name behind. Neither refers to a round,
//! an invitation or an answer.
//!
//! Only new tables, which older code never reads: marked backward compatible.

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
CREATE TABLE scim_users (
    person_id     {uuid} PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    user_name     TEXT NOT NULL,
    user_name_key TEXT NOT NULL UNIQUE,
    external_id   TEXT NULL,
    display_name  TEXT NULL,
    formatted     TEXT NULL,
    given_name    TEXT NULL,
    family_name   TEXT NULL
);
CREATE TABLE scim_groups (
    team_id     {uuid} PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    external_id TEXT NULL
);
INSERT INTO backward_compatible_migrations (version) VALUES ('m20261223_000001_scim');
"#;
