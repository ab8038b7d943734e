//! Signed webhooks (issue 16, point 3): the endpoints an admin registered.
//!
//! An endpoint stores no secret. Its signing secret is derived from the master key
//! named in `secret_key_id` and the endpoint's id and `secret_generation`, so a
//! dump of the database alone does not give it away (the same reasoning as magic
//! links). Rotating bumps the generation; until `previous_secret_until` the
//! previous generation's secret signs too. `events` is a JSON array of event
//! names. Deliveries are `outbox` rows of kind `webhook`: no table of their own,
//! so `outbox.kind` may now be `webhook` (widened as the admin console's migration
//! widened it, with its SQLite schema rewrite).
//!
//! Not marked backward compatible: an older worker would claim `webhook` rows and
//! mark them failed as an unknown kind of email.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::dialect::execute_script;
use crate::m20261216_000001_admin_console::rewrite_sqlite_schema;

const KINDS_BEFORE: &str = "'invitation', 'reminder', 'digest', 'sign_in', 'test_invitation'";
const KINDS_AFTER: &str =
    "'invitation', 'reminder', 'digest', 'sign_in', 'test_invitation', 'webhook'";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_script(manager, SCHEMA).await?;
        let connection = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                connection
                    .execute_unprepared("ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check")
                    .await?;
                connection
                    .execute_unprepared(&format!(
                        "ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check \
                         CHECK (kind IN ({KINDS_AFTER}))"
                    ))
                    .await?;
            }
            backend => {
                let from = format!("CHECK (kind IN ({KINDS_BEFORE}))");
                let to = format!("CHECK (kind IN ({KINDS_AFTER}))");
                rewrite_sqlite_schema(connection, backend, &[("outbox", &from, &to)]).await?;
            }
        }
        Ok(())
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
"#;
