//! Multi-row `INSERT`s with values moved into the statement, for the close of a
//! round, which writes tens of thousands of rows.
//!
//! sea-orm's `insert_many` builds its statement from a borrowed query and clones
//! every value on the way; here each row's values are moved, never copied.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::StoreError;

/// A table's columns, in the order of each row's values.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub table: &'a str,
    pub columns: &'a [&'a str],
}

/// The tables a close writes, as it writes them.
pub const RELEASES: Columns<'static> = Columns {
    table: "releases",
    columns: &[
        "id",
        "round_id",
        "node_id",
        "status",
        "detail",
        "figures",
        "team_changed",
    ],
};
pub const RELEASE_LEDGER: Columns<'static> = Columns {
    table: "release_ledger",
    columns: &["round_id", "node_id", "family", "atom_id"],
};
pub const DETERMINED_NODES: Columns<'static> = Columns {
    table: "determined_nodes",
    columns: &["round_id", "family", "node_id", "respondents"],
};
pub const ATOM_STATISTICS: Columns<'static> = Columns {
    table: "atom_statistics",
    columns: &["round_id", "family", "atom_id", "people", "statistics"],
};
pub const RELEASED_COMMENTS: Columns<'static> = Columns {
    table: "released_comments",
    columns: &["id", "round_id", "atom_id", "position", "body"],
};

/// Bound parameters per statement: below SQLite's limit (32,766) and PostgreSQL's
/// (65,535), and large enough that the statement count stays small.
const PARAMETERS_PER_STATEMENT: usize = 8_000;

/// Inserts `rows` (each with one value per column, in `columns`' order) in as few
/// statements as the parameter limit allows.
///
/// # Panics
/// If a row's length differs from the column count: a programming error.
pub async fn insert_rows(
    db: &impl ConnectionTrait,
    columns: Columns<'_>,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let width = columns.columns.len();
    let rows_per_statement = (PARAMETERS_PER_STATEMENT / width).max(1);
    let names = columns.columns.join(", ");
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(rows_per_statement).collect();
        let mut sql = format!("INSERT INTO {} ({names}) VALUES ", columns.table);
        let mut values = Vec::with_capacity(chunk.len() * width);
        for (row_index, row) in chunk.into_iter().enumerate() {
            assert_eq!(
                row.len(),
                width,
                "one value per column of {}",
                columns.table
            );
            sql.push_str(if row_index == 0 { "(" } else { ", (" });
            for (column_index, value) in row.into_iter().enumerate() {
                if column_index > 0 {
                    sql.push_str(", ");
                }
                values.push(value);
                // SQLite gets anonymous `?` parameters: it looks each numbered or
                // named one up in a list, which is quadratic in a statement with
                // thousands of them.
                match backend {
                    DbBackend::Postgres => sql.push_str(&format!("${}", values.len())),
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
