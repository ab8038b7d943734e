//! The data model keeps answers unlinkable (DESIGN §2): the tables holding answers
//! have no column, and no foreign key, that could refer to a person, an invitation,
//! a time or a locale.

use safepulse_anonymizer::{RoundedFigures, StoredForm};
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

/// Runs one statement on `db`, which must succeed.
async fn run(db: &sea_orm::DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
    .unwrap();
}

/// A closed round of an active survey, written in plain SQL (the schema of any
/// version since v1): the round's id.
async fn closed_round(db: &sea_orm::DatabaseConnection) -> uuid::Uuid {
    let (survey, round) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let now = chrono::Utc::now();
    run(
        db,
        "INSERT INTO surveys (id, name, status, include_subteams, settings, k, k_detail, \
         privacy_locked, created_at, updated_at) VALUES ($1, 'Pulse', 'active', $2, $3, 5, 10, $4, $5, $5)",
        vec![survey.into(), true.into(), serde_json::json!({}).into(), true.into(), now.into()],
    )
    .await;
    run(
        db,
        "INSERT INTO rounds (id, survey_id, period_key, round_index, status, key_id, k, k_detail, \
         opened_at, closes_at, closed_at, invited_count) \
         VALUES ($1, $2, 'p1', 0, 'closed', 'k1', 5, 10, $3, $3, $3, 20)",
        vec![round.into(), survey.into(), now.into()],
    )
    .await;
    round
}

/// Upgrading to the migration of issue 18 keeps every release and records the exact
/// ones in `determined_nodes`, so the first round closed afterwards is compared with
/// the rounds closed before.
async fn upgrading_records_the_exact_releases_of_closed_rounds(url: &str) {
    use safepulse_migration::{Migrator, MigratorTrait};
    let db = sea_orm::Database::connect(url).await.unwrap();
    // v1, the round keyring and tokens: the schema before issue 18.
    Migrator::up(&db, Some(3)).await.unwrap();
    let backend = db.get_database_backend();
    let round = closed_round(&db).await;
    let nodes = [
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    ];
    let figures = |respondents: u32| serde_json::json!({ "respondents": respondents });
    for (node, status, detail, figures) in [
        (nodes[0], "released", true, Some(figures(14))),
        (nodes[1], "released", false, Some(figures(6))),
        (nodes[2], "suppressed", false, None),
    ] {
        run(
            &db,
            "INSERT INTO releases (id, round_id, node_id, status, detail, figures) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                uuid::Uuid::new_v4().into(),
                round.into(),
                node.into(),
                status.into(),
                detail.into(),
                figures.into(),
            ],
        )
        .await;
    }

    Migrator::up(&db, None).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT family, node_id, respondents FROM determined_nodes ORDER BY family, respondents",
        ))
        .await
        .unwrap();
    let determined: Vec<(String, uuid::Uuid, i32)> = rows
        .iter()
        .map(|row| {
            (
                row.try_get("", "family").unwrap(),
                row.try_get("", "node_id").unwrap(),
                row.try_get("", "respondents").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        determined,
        [
            ("detail".to_owned(), nodes[0], 14),
            ("scores".to_owned(), nodes[1], 6),
            ("scores".to_owned(), nodes[0], 14),
        ]
    );
    let kept = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT count(*) AS n, sum(CASE WHEN team_changed THEN 1 ELSE 0 END) AS changed FROM releases",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.try_get::<i64>("", "n").unwrap(), 3);
    assert_eq!(kept.try_get::<i64>("", "changed").unwrap(), 0);
    // The new status exists, and a rounded release needs its figures.
    let rounded = |figures: Option<Vec<u8>>| {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO releases (id, round_id, node_id, status, detail, figures, team_changed) \
             VALUES ($1, $2, $3, 'rounded', $4, $5, $4)",
            vec![
                uuid::Uuid::new_v4().into(),
                round.into(),
                uuid::Uuid::new_v4().into(),
                false.into(),
                figures.into(),
            ],
        ))
    };
    assert!(
        rounded(None).await.is_err(),
        "a rounded release without figures"
    );
    let seven = RoundedFigures {
        respondents: 7,
        step: 1.0,
        dimensions: vec![],
    };
    rounded(Some(seven.to_stored())).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_records_the_exact_releases_of_closed_rounds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("upgrade.db").display()
    );
    upgrading_records_the_exact_releases_of_closed_rounds(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_records_the_exact_releases_of_closed_rounds_on_postgres() {
    let url = safepulse_tests::fresh_postgres_database().await;
    upgrading_records_the_exact_releases_of_closed_rounds(&url).await;
}

/// Upgrading to packed figures (m20261222_000001_packed_figures) keeps every
/// release's and atom's figures exactly: the JSON documents of rounds closed
/// before read back as the same values, doubles to the last bit.
async fn upgrading_packs_stored_figures_exactly(url: &str) {
    use safepulse_anonymizer::{
        AtomDimensionStatistics, AtomId, AtomItemDetailStatistics, AtomItemStatistics,
        AtomStatistics, ConfidenceInterval, DimensionDetail, DimensionFigures, Family, ItemDetail,
        ItemFigures, ReleasedFigures,
    };
    use safepulse_domain::{Dimension, ItemId, NodeId};
    use safepulse_migration::{Migrator, MigratorTrait};
    let db = sea_orm::Database::connect(url).await.unwrap();
    // Every migration before figures were packed.
    Migrator::up(&db, Some(8)).await.unwrap();
    let backend = db.get_database_backend();
    let round = closed_round(&db).await;
    let node = uuid::Uuid::new_v4();
    let released = ReleasedFigures {
        respondents: 11,
        detail: true,
        items: vec![ItemFigures {
            item: ItemId("trust_2".into()),
            dimension: Dimension::Trust,
            mean: 47.0 / 11.0,
            confidence_interval: ConfidenceInterval::Team {
                low: 0.1 + 0.2,
                high: 1.0 / 3.0,
            },
            favourability_percent: 100.0 * 7.0 / 11.0,
            enps: None,
            detail: Some(ItemDetail {
                sd: 2f64.sqrt(),
                distribution: vec![1, 0, 2, 1, 3, 4, 0],
            }),
        }],
        dimensions: vec![DimensionFigures {
            dimension: Dimension::Trust,
            item_count: 1,
            mean: 47.0 / 11.0,
            confidence_interval: ConfidenceInterval::NoBand,
            favourability_percent: 100.0 * 7.0 / 11.0,
            detail: Some(DimensionDetail {
                sd: 2f64.sqrt(),
                distribution: vec![1, 0, 2, 1, 3, 4, 0],
                rwg: 0.0,
                rwg_lindell: -1.0 / 7.0,
            }),
        }],
    };
    let atom = AtomStatistics {
        atom: AtomId(uuid::Uuid::new_v4()),
        family: Family::Detail,
        node: NodeId(node),
        respondents: 11,
        items: vec![AtomItemStatistics {
            sum: 47,
            favourable: 7,
            enps_detractors: None,
            detail: Some(AtomItemDetailStatistics {
                sum_of_squares: 231,
                histogram: vec![1, 0, 2, 1, 3, 4, 0],
            }),
        }],
        dimensions: vec![AtomDimensionStatistics {
            dimension: Dimension::Trust,
            sum_of_row_sums: 47,
            sum_of_squared_row_sums: Some(231),
        }],
    };
    // As the close wrote them then: serde_json's text of each value.
    run(
        &db,
        "INSERT INTO releases (id, round_id, node_id, status, detail, figures, team_changed) \
         VALUES ($1, $2, $3, 'released', $4, $5, $6)",
        vec![
            uuid::Uuid::new_v4().into(),
            round.into(),
            node.into(),
            true.into(),
            serde_json::to_value(&released).unwrap().into(),
            false.into(),
        ],
    )
    .await;
    run(
        &db,
        "INSERT INTO atom_statistics (round_id, family, atom_id, people, statistics) \
         VALUES ($1, 'detail', $2, 11, $3)",
        vec![
            round.into(),
            atom.atom.0.into(),
            serde_json::to_value(&atom).unwrap().into(),
        ],
    )
    .await;

    Migrator::up(&db, None).await.unwrap();
    let release = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT figures FROM releases",
        ))
        .await
        .unwrap()
        .unwrap();
    let figures: Vec<u8> = release.try_get("", "figures").unwrap();
    assert_eq!(ReleasedFigures::from_stored(&figures).unwrap(), released);
    let statistics = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT statistics FROM atom_statistics",
        ))
        .await
        .unwrap()
        .unwrap();
    let statistics: Vec<u8> = statistics.try_get("", "statistics").unwrap();
    assert_eq!(AtomStatistics::from_stored(&statistics).unwrap(), atom);
    // The table's rules came along: figures are required unless suppressed.
    let missing = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO releases (id, round_id, node_id, status, detail, figures, team_changed) \
             VALUES ($1, $2, $3, 'released', $4, NULL, $4)",
            vec![
                uuid::Uuid::new_v4().into(),
                round.into(),
                uuid::Uuid::new_v4().into(),
                false.into(),
            ],
        ))
        .await;
    assert!(missing.is_err(), "a released row without figures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_packs_stored_figures_exactly_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("upgrade.db").display()
    );
    upgrading_packs_stored_figures_exactly(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_packs_stored_figures_exactly_on_postgres() {
    let url = safepulse_tests::fresh_postgres_database().await;
    upgrading_packs_stored_figures_exactly(&url).await;
}
