//! The data model keeps answers unlinkable (DESIGN §2): the tables holding answers
//! have no column, and no foreign key, that could refer to a person, an invitation,
//! a time or a locale.

use safepulse_tests::{Db, TestApp, on_both_databases};
use sea_orm::{ConnectionTrait, Statement};

const ANSWER_TABLES: [(&str, &[&str]); 4] = [
    (
        "open_responses",
        &["ballot", "id", "node_id", "round_id", "sealed"],
    ),
    ("open_comments", &["id", "node_id", "round_id", "sealed"]),
    ("responses", &["answers", "atom_id", "id", "round_id"]),
    ("comments", &["atom_id", "body", "id", "round_id"]),
];

async fn column_names(app: &TestApp, table: &str) -> Vec<String> {
    let db = app.state.store.connection();
    let sql = match app.db {
        Db::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
        Db::Postgres => format!(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_name = '{table}'"
        ),
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    let mut names: Vec<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect();
    names.sort();
    names
}

async fn referenced_tables(app: &TestApp, table: &str) -> Vec<String> {
    let db = app.state.store.connection();
    let sql = match app.db {
        Db::Sqlite => format!("SELECT \"table\" AS name FROM pragma_foreign_key_list('{table}')"),
        Db::Postgres => format!(
            "SELECT ccu.table_name AS name FROM information_schema.table_constraints tc \
             JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name \
             WHERE tc.table_name = '{table}' AND tc.constraint_type = 'FOREIGN KEY'"
        ),
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

on_both_databases! {
    async fn answer_tables_have_only_their_allowed_columns(app) {
        for (table, allowed) in ANSWER_TABLES {
            let columns = column_names(&app, table).await;
            assert_eq!(columns, allowed, "{table} must hold only these columns");
            for column in &columns {
                for forbidden in ["person", "invitation", "email", "time", "_at", "locale", "lang", "token", "lookup"] {
                    assert!(!column.contains(forbidden), "{table}.{column} looks like it could link to a person");
                }
            }
        }
    }

    async fn answer_tables_reference_nothing_but_rounds(app) {
        for (table, _) in ANSWER_TABLES {
            let referenced = referenced_tables(&app, table).await;
            assert!(!referenced.is_empty(), "{table} references its round");
            assert!(referenced.iter().all(|name| name == "rounds"), "{table} references {referenced:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_tables_are_without_rowid_on_sqlite() {
    let app = safepulse_tests::spawn_app(Db::Sqlite).await;
    let db = app.state.store.connection();
    for (table, _) in ANSWER_TABLES {
        let sql =
            format!("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'");
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        let create: String = row.try_get("", "sql").unwrap();
        assert!(
            create.trim_end().ends_with("WITHOUT ROWID"),
            "{table}: {create}"
        );
    }
}
