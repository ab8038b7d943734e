//! A full logical dump of the database, as an attacker (or a backup) would hold it:
//! every row of every table as text, binary values in hex.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// One row of one table, rendered as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DumpedRow {
    pub table: String,
    pub text: String,
}

/// Every row of every table (migrations bookkeeping included), sorted, so two dumps
/// compare equal exactly when the database holds the same data.
pub async fn dump_database(db: &DatabaseConnection) -> Vec<DumpedRow> {
    let backend = db.get_database_backend();
    let tables_sql = match backend {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let tables: Vec<String> = query_strings(db, tables_sql, "name").await;
    let mut rows = Vec::new();
    for table in tables {
        let select = match backend {
            // bytea renders as \x… hex in JSON.
            DbBackend::Postgres => format!("SELECT row_to_json(t)::text AS row FROM \"{table}\" t"),
            _ => {
                let columns = query_strings(
                    db,
                    &format!("SELECT name FROM pragma_table_info('{table}')"),
                    "name",
                )
                .await;
                // quote() renders blobs as X'…' hex and text as '…'.
                let cells: Vec<String> = columns
                    .iter()
                    .map(|column| format!("'{column}=' || quote(\"{column}\")"))
                    .collect();
                format!(
                    "SELECT {} AS row FROM \"{table}\"",
                    cells.join(" || ', ' || ")
                )
            }
        };
        for text in query_strings(db, &select, "row").await {
            rows.push(DumpedRow {
                table: table.clone(),
                text,
            });
        }
    }
    rows.sort();
    rows
}

async fn query_strings(db: &DatabaseConnection, sql: &str, column: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .map(|row| row.try_get::<String>("", column).expect("a text column"))
        .collect()
}
