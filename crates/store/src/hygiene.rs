//! PostgreSQL settings that would record answers or their timing (DESIGN §2):
//! statement logging, slow-statement logging (which logs the statement and its
//! parameters), `auto_explain`, commit timestamps and audit extensions. The server
//! refuses to open rounds while any is on, unless the operator overrides it.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::StoreError;

/// What is wrong, one sentence per setting; empty when nothing is (and on SQLite).
/// Takes any connection so that opening a round can ask inside its transaction.
pub async fn postgres_recording_settings(
    db: &impl ConnectionTrait,
) -> Result<Vec<String>, StoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let setting = |name: &'static str| async move {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT current_setting('{name}', true) AS value"),
            ))
            .await?;
        Ok::<String, StoreError>(
            row.and_then(|row| row.try_get::<Option<String>>("", "value").ok().flatten())
                .unwrap_or_default(),
        )
    };
    let mut problems = Vec::new();
    let log_statement = setting("log_statement").await?;
    if matches!(log_statement.as_str(), "mod" | "all") {
        problems.push(format!(
            "log_statement = {log_statement} writes every answer into the server log; set it to none or ddl"
        ));
    }
    let min_duration = setting("log_min_duration_statement").await?;
    if !min_duration.is_empty() && min_duration != "-1" {
        problems.push(format!(
            "log_min_duration_statement = {min_duration} logs slow submits with their answers; set it to -1"
        ));
    }
    if setting("track_commit_timestamp").await? == "on" {
        problems.push(
            "track_commit_timestamp = on records when each answer was committed; set it to off"
                .into(),
        );
    }
    let libraries = [
        setting("shared_preload_libraries").await?,
        setting("session_preload_libraries").await?,
    ]
    .join(",");
    for library in ["auto_explain", "pgaudit"] {
        if libraries.contains(library) {
            problems.push(format!(
                "{library} is preloaded and can log statements with their answers; remove it"
            ));
        }
    }
    let audit_extension = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_extension WHERE extname IN ('pgaudit', 'pg_audit')",
        ))
        .await?
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    if audit_extension > 0 {
        problems.push("an audit extension (pgaudit) is installed in this database; drop it".into());
    }
    Ok(problems)
}
