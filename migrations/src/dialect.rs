//! One schema text for both databases: column types are written as `{placeholders}`
//! and rendered per backend, so the two schemas cannot drift apart.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

/// Renders `{uuid}`, `{bytes}`, `{ts}`, `{bool}`, `{json}`, `{serial_pk}` and
/// `{without_rowid}` for `backend`.
pub fn render(schema: &str, backend: DatabaseBackend) -> String {
    let replacements: &[(&str, &str)] = match backend {
        DatabaseBackend::Postgres => &[
            ("{uuid}", "UUID"),
            ("{bytes}", "BYTEA"),
            ("{ts}", "TIMESTAMPTZ"),
            ("{bool}", "BOOLEAN"),
            ("{json}", "JSONB"),
            (
                "{serial_pk}",
                "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            ),
            ("{without_rowid}", ""),
        ],
        // sqlx stores uuids as 16-byte blobs, timestamps as RFC 3339 text (which
        // sorts chronologically) and booleans as 0/1 on SQLite.
        _ => &[
            ("{uuid}", "BLOB"),
            ("{bytes}", "BLOB"),
            ("{ts}", "TEXT"),
            ("{bool}", "INTEGER"),
            ("{json}", "TEXT"),
            ("{serial_pk}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("{without_rowid}", "WITHOUT ROWID"),
        ],
    };
    replacements
        .iter()
        .fold(schema.to_owned(), |text, (from, to)| text.replace(from, to))
}

/// Runs every `;`-terminated statement of `schema` in order.
pub async fn execute_script(manager: &SchemaManager<'_>, schema: &str) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    let rendered = render(schema, manager.get_database_backend());
    for statement in rendered
        .split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
    {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}
