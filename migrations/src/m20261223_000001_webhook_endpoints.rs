//! Signed webhooks (issue 16, point 3): the endpoints an admin registered.
//!
//! An endpoint stores no secret. Its signing secret is derived from the master key
//! named in `secret_key_id` and the endpoint's id and `secret_generation`, so a
//! dump of the database alone does not give it away (the same reasoning as magic
//! links). Rotating bumps the generation; until `previous_secret_until` the
//! previous generation's secret signs too. `events` is a JSON array of event
//! names. Deliveries are `outbox` rows of kind `webhook`: no table of their own.
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
CREATE TABLE webhook_endpoints (
    id                     {uuid} PRIMARY KEY,
    url                    TEXT NOT NULL,
    events                 {json} NOT NULL,
    secret_key_id          TEXT NOT NULL,
    secret_generation      INTEGER NOT NULL,
    previous_secret_until  {ts} NULL,
    created_at             {ts} NOT NULL,
    updated_at             {ts} NOT NULL
);
INSERT INTO backward_compatible_migrations (version) VALUES ('m20261223_000001_webhook_endpoints');
"#;
