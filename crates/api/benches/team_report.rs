//! A team's 52-round report (server time: `build_team_report`, what the handler
//! runs), with 10 thousand and with 10 million raw answers retained in the database,
//! next to the raw ceiling: one indexed `SELECT` of the team's 52 release rows.
//! Also the HR export (`build_release_page`, pages of 200) over every release,
//! next to a plain `SELECT` of every release row.
//! SQLite always; PostgreSQL when `SAFEPULSE_BENCH_POSTGRES_URL` names a server
//! (a fresh database is created there). Run with `cargo bench -p safepulse-api`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use safepulse_api::access::Reader;
use safepulse_api::app::build_state;
use safepulse_api::auth::Caller;
use safepulse_api::config::Config;
use safepulse_api::routes::reports::{ReleaseQuery, build_release_page, build_team_report};
use safepulse_api::state::AppState;
use safepulse_domain::{Email, Locale, Name, Role, SystemClock, TimeZone};
use safepulse_rounds::rounds::{self, OpenOutcome, OpenRequest, RawRetention};
use safepulse_rounds::survey::SurveySettings;
use safepulse_store::answers::{self, ValidAnswer};
use safepulse_store::entities::round_item;
use safepulse_store::org::{self, NewPerson, NewTeam};
use safepulse_store::surveys::{self, NewSurvey};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
    TransactionTrait,
};
use uuid::Uuid;

const ROUNDS: i64 = 52;
const MEMBERS: usize = 12;
const SMALL: u64 = 10_000;
const LARGE: u64 = 10_000_000;

struct Fixture {
    state: AppState,
    team: safepulse_domain::NodeId,
    reader: Reader,
    _dirs: tempfile::TempDir,
}

async fn fixture(database_url: Option<String>) -> Fixture {
    let dirs = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dirs.path().join("data"),
        secrets_dir: dirs.path().join("secrets"),
        database_url,
        raw_retention_days: Some(3650),
        ..Config::default()
    };
    let state = build_state(config, Arc::new(SystemClock)).await.unwrap();
    let db = state.store.connection();
    let start = chrono::Utc::now() - chrono::Duration::weeks(ROUNDS);
    let team = org::create_team(
        db,
        NewTeam {
            name: Name::parse("Bench").expect("a valid name"),
            parent_id: None,
            time_zone: TimeZone::default(),
        },
        start,
    )
    .await
    .unwrap();
    for member in 0..MEMBERS {
        org::create_person(
            db,
            NewPerson {
                email: Email::parse(&format!("m{member}@bench.example")).unwrap(),
                name: Name::parse(&format!("Member {member}")).expect("a valid name"),
                team_id: Some(team.id),
                locale: Locale::En,
                time_zone: None,
            },
            start,
        )
        .await
        .unwrap();
    }
    let survey = surveys::create_survey(
        db,
        NewSurvey {
            name: Name::parse("Bench pulse").expect("a valid name"),
            team_ids: vec![team.id],
            include_subteams: true,
            settings: serde_json::to_value(SurveySettings::starting_on(start.date_naive()))
                .unwrap(),
            k: 5,
            k_detail: 10,
            restricted_release: "suppressed".into(),
            draft: false,
        },
        start,
    )
    .await
    .unwrap();
    for index in 0..ROUNDS {
        let opened = start + chrono::Duration::weeks(index);
        let OpenOutcome::Opened(round) = rounds::open_round(
            &state.store,
            &state.bank,
            &state.keys,
            survey.survey.id,
            OpenRequest::Now,
            opened,
            "bench.example",
            rounds::RecordingCheck::Enforce,
        )
        .await
        .unwrap() else {
            panic!("a new round")
        };
        let items = round_item::Entity::find()
            .filter(round_item::Column::RoundId.eq(round.id))
            .count(db)
            .await
            .unwrap() as usize;
        let round_key = state.keys.round_key(round.id, &round.key_id).unwrap();
        let tokens: Vec<_> = safepulse_store::entities::invitation::Entity::find()
            .filter(safepulse_store::entities::invitation::Column::RoundId.eq(round.id))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| round_key.link_token(row.id))
            .collect();
        for (position, token) in tokens.iter().enumerate() {
            answers::submit(
                &state.store,
                &state.keys,
                token,
                ValidAnswer {
                    values: vec![3 + (position % 5) as u8; items],
                    comment: None,
                },
            )
            .await
            .unwrap();
        }
        rounds::close_round(
            &state.store,
            &state.bank,
            &state.keys,
            rounds::CloseRequest {
                round_id: round.id,
                now: opened + chrono::Duration::days(4),
                retention: RawRetention::Keep,
                report_base_url: "http://bench",
                mail_host: "bench.example",
            },
        )
        .await
        .unwrap();
    }
    let caller = Caller {
        subject: "hr@bench.example".into(),
        role: Role::Hr,
        jti: safepulse_domain::TokenId::random(),
    };
    let reader = Reader::resolve(&caller, db).await.unwrap();
    Fixture {
        state,
        team: safepulse_domain::NodeId::of_team(team.id),
        reader,
        _dirs: dirs,
    }
}

/// Fills the retention table up to `total` rows of other rounds' raw answers.
async fn retain_answers_up_to(state: &AppState, total: u64) {
    let db = state.store.connection();
    let backend = db.get_database_backend();
    let current: u64 = safepulse_store::entities::retained_response::Entity::find()
        .count(db)
        .await
        .unwrap();
    if current >= total {
        return;
    }
    let missing = total - current;
    let sql = match backend {
        DbBackend::Postgres => format!(
            "INSERT INTO responses (id, round_id, atom_id, answers) \
             SELECT gen_random_uuid(), (SELECT id FROM rounds LIMIT 1), gen_random_uuid(), '[4,5,3,6,2,5,4,6]' \
             FROM generate_series(1, {missing})"
        ),
        _ => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {missing}) \
             INSERT INTO responses (id, round_id, atom_id, answers) \
             SELECT randomblob(16), (SELECT id FROM rounds LIMIT 1), randomblob(16), '[4,5,3,6,2,5,4,6]' FROM n"
        ),
    };
    // One transaction on one connection: on SQLite a page cache large enough for
    // the whole table, or ten million random-key inserts take hours.
    let transaction = db.begin().await.unwrap();
    if backend == DbBackend::Sqlite {
        transaction
            .execute_raw(Statement::from_string(
                backend,
                "PRAGMA cache_size = -3000000",
            ))
            .await
            .unwrap();
    }
    transaction
        .execute_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    if backend == DbBackend::Postgres {
        db.execute_raw(Statement::from_string(backend, "VACUUM ANALYZE"))
            .await
            .unwrap();
    }
}

async fn raw_ceiling(state: &AppState, team: safepulse_domain::NodeId) -> usize {
    let db = state.store.connection();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT figures FROM releases WHERE node_id = $1",
        _ => "SELECT figures FROM releases WHERE node_id = ?",
    };
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, [team.into()]))
        .await
        .unwrap()
        .len()
}

/// Every release through the HR export, page by page; returns the rows read.
async fn export_everything(state: &AppState, reader: &Reader) -> usize {
    let mut rows = 0;
    let mut cursor = None;
    loop {
        let page = build_release_page(
            state,
            reader,
            ReleaseQuery {
                cursor,
                limit: Some(200),
                round_id: None,
                period_key: None,
                team_id: None,
                format: None,
            },
        )
        .await
        .unwrap();
        rows += page.items.len();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return rows,
        }
    }
}

async fn select_every_release(state: &AppState) -> usize {
    let db = state.store.connection();
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT * FROM releases",
    ))
    .await
    .unwrap()
    .len()
}

fn bench_backend(criterion: &mut Criterion, label: &str, database_url: Option<String>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fixture = runtime.block_on(fixture(database_url));
    let mut group = criterion.benchmark_group(format!("team_report_{label}"));
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(50);
    for (name, total) in [("10k", SMALL), ("10M", LARGE)] {
        runtime.block_on(retain_answers_up_to(&fixture.state, total));
        let report = runtime
            .block_on(build_team_report(
                &fixture.state,
                &fixture.reader,
                fixture.team,
            ))
            .unwrap();
        assert_eq!(report.rounds.len(), ROUNDS as usize);
        group.bench_function(format!("report_52_rounds_{name}_answers"), |bencher| {
            bencher.iter(|| {
                runtime.block_on(build_team_report(
                    &fixture.state,
                    &fixture.reader,
                    fixture.team,
                ))
            });
        });
        group.bench_function(
            format!("raw_select_52_releases_{name}_answers"),
            |bencher| {
                bencher.iter(|| runtime.block_on(raw_ceiling(&fixture.state, fixture.team)));
            },
        );
    }
    group.finish();

    let exported = runtime.block_on(export_everything(&fixture.state, &fixture.reader));
    assert_eq!(
        exported,
        runtime.block_on(select_every_release(&fixture.state))
    );
    let mut export = criterion.benchmark_group(format!("hr_export_{label}"));
    export
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
        .throughput(criterion::Throughput::Elements(exported as u64));
    export.bench_function(format!("export_{exported}_releases"), |bencher| {
        bencher.iter(|| runtime.block_on(export_everything(&fixture.state, &fixture.reader)));
    });
    export.bench_function(format!("raw_select_{exported}_releases"), |bencher| {
        bencher.iter(|| runtime.block_on(select_every_release(&fixture.state)));
    });
    export.finish();
}

fn team_report(criterion: &mut Criterion) {
    bench_backend(criterion, "sqlite", None);
    if let Ok(base) = std::env::var("SAFEPULSE_BENCH_POSTGRES_URL") {
        let name = format!("safepulse_bench_{}", Uuid::new_v4().simple());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let admin = sea_orm::Database::connect(&base).await.unwrap();
            admin
                .execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("CREATE DATABASE {name}"),
                ))
                .await
                .unwrap();
        });
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        bench_backend(criterion, "postgres", Some(url));
    }
}

criterion_group!(benches, team_report);
criterion_main!(benches);
