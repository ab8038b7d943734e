//! Tokens know whose they are and what they are for (issue 11, finding 4, and
//! finding 3's split between API tokens and dashboard sessions).
//!
//! - `person_id`: the person whose address was the token's subject when it was
//!   issued, or NULL for a service token (a subject that names no person, such as the
//!   bootstrap admin of `safepulse token issue`). A person's token is valid only while
//!   that person is active and holds its role now. Erasing the person deletes the row.
//! - `kind`: `api` (bearer tokens for `/api/*`) or `session` (the dashboard's cookie).
//!   Neither is accepted where the other belongs. Rows from before this migration
//!   become `api`: the tokens an operator issued keep working, and a dashboard
//!   session of that time (8 hours at most) asks its holder to sign in again.

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
ALTER TABLE issued_tokens ADD COLUMN person_id {uuid} NULL REFERENCES people (id) ON DELETE CASCADE;
ALTER TABLE issued_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'session'));
CREATE INDEX issued_tokens_by_person ON issued_tokens (person_id);
CREATE INDEX issued_tokens_by_subject ON issued_tokens (subject);
"#;
