//! The database as an attacker (or a backup) would hold it: a full logical dump
//! (every row of every table as text, binary values in hex) and a physical copy
//! (data files and write-ahead log, byte for byte).

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

/// Where the write-ahead log stood when a test began (PostgreSQL), so that a
/// physical copy can include every WAL record written since.
#[derive(Debug, Clone)]
pub struct WalMark(Option<String>);

impl WalMark {
    pub async fn now(db: &DatabaseConnection) -> WalMark {
        match db.get_database_backend() {
            DbBackend::Postgres => WalMark(Some(
                query_strings(db, "SELECT pg_current_wal_insert_lsn()::text AS lsn", "lsn")
                    .await
                    .remove(0),
            )),
            _ => WalMark(None),
        }
    }
}

/// The bytes an operator could copy, as an attacker holding the machine would:
/// on SQLite the database file and its `-wal`; on PostgreSQL (read as superuser
/// through `pg_read_binary_file`, after a `CHECKPOINT`) every data file of this
/// database's tables, indexes and TOAST, and every WAL byte written since `mark`
/// (what a WAL archive or a base backup with its WAL would hold).
pub async fn physical_copy(
    db: &DatabaseConnection,
    sqlite_file: &std::path::Path,
    mark: &WalMark,
) -> Vec<Vec<u8>> {
    match (&mark.0, db.get_database_backend()) {
        (Some(start), DbBackend::Postgres) => {
            execute(db, "CHECKPOINT").await;
            let mut copies = Vec::new();
            let paths = query_strings(
                db,
                "SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't') \
                   AND pg_relation_filepath(c.oid) IS NOT NULL",
                "path",
            )
            .await;
            for path in paths {
                copies.push(read_server_file(db, &path, 0, 1 << 28).await);
            }
            copies.push(wal_since(db, start).await);
            copies
        }
        _ => [sqlite_file.to_owned(), sqlite_file.with_extension("db-wal")]
            .iter()
            .map(|path| std::fs::read(path).unwrap_or_default())
            .collect(),
    }
}

/// Every WAL byte from `start` to the current insert position.
async fn wal_since(db: &DatabaseConnection, start: &str) -> Vec<u8> {
    let position = |lsn_sql: String| async move {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT file_name, file_offset::bigint AS file_offset FROM pg_walfile_name_offset({lsn_sql})"),
            ))
            .await
            .expect("pg_walfile_name_offset")
            .expect("a row");
        (
            row.try_get::<String>("", "file_name").unwrap(),
            row.try_get::<i64>("", "file_offset").unwrap(),
        )
    };
    let (first_file, first_offset) = position(format!("'{start}'::pg_lsn")).await;
    let (last_file, last_offset) = position("pg_current_wal_insert_lsn()".to_owned()).await;
    let mut files =
        query_strings(db, "SELECT name FROM pg_ls_waldir() ORDER BY name", "name").await;
    files.retain(|name| name.len() == 24 && *name >= first_file && *name <= last_file);
    let mut wal = Vec::new();
    for name in files {
        let from = if name == first_file { first_offset } else { 0 };
        // WAL segments are 16 MiB by default; a length past the end reads to it.
        let length = if name == last_file {
            last_offset - from
        } else {
            1 << 28
        };
        wal.extend(read_server_file(db, &format!("pg_wal/{name}"), from, length).await);
    }
    wal
}

/// `length` bytes of a file of the server from `offset` (fewer at its end; none
/// when it is gone, as a dropped relation's file may be).
async fn read_server_file(
    db: &DatabaseConnection,
    path: &str,
    offset: i64,
    length: i64,
) -> Vec<u8> {
    let sql = format!("SELECT pg_read_binary_file('{path}', {offset}, {length}, true) AS bytes");
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|error| panic!("reading {path}: {error}"))
        .and_then(|row| row.try_get::<Option<Vec<u8>>>("", "bytes").ok().flatten())
        .unwrap_or_default()
}

async fn execute(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Whether `needle` occurs anywhere in any of the copies.
pub fn occurs_in(copies: &[Vec<u8>], needle: &[u8]) -> bool {
    copies
        .iter()
        .any(|copy| copy.windows(needle.len()).any(|window| window == needle))
}
