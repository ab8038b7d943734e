//! Closing a round of 50,000 sealed answers over 5,000 teams (DESIGN §7: ≤ 1 s),
//! and the submit transaction with sealing, on SQLite and — when
//! `SAFEPULSE_BENCH_POSTGRES_URL` names a server (a fresh database is created
//! there) — on PostgreSQL. The close is timed as `close_round` runs it: the close
//! transaction (answers opened in memory, anonymizer, releases stored, open rows
//! deleted) and the shredding after it; opening the 50,000 answers alone is timed
//! too, so its share is visible. Run with `cargo bench -p safepulse-api --bench close_round`.

use std::sync::Arc;
use std::time::Instant;

use safepulse_api::app::build_state;
use safepulse_api::config::Config;
use safepulse_api::state::AppState;
use safepulse_domain::{Name, PersonId, SystemClock, TeamId};
use safepulse_rounds::rounds::{self, CloseOutcome, OpenOutcome, OpenRequest, RawRetention};
use safepulse_rounds::survey::SurveySettings;
use safepulse_store::answers::{self, SubmitOutcome, ValidAnswer};
use safepulse_store::bulk::{self, Columns, insert_rows};
use safepulse_store::entities::{
    invitation, open_response, outbox, person, round, round_item, team,
};
use safepulse_store::surveys::{self, NewSurvey};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Statement, TransactionTrait, Value,
};
use uuid::Uuid;

const TEAMS: usize = 5_000;
const MEMBERS: usize = 10;
const SUBMITTERS: usize = 8;

async fn organisation(state: &AppState) -> Uuid {
    let now = chrono::Utc::now();
    let department = Uuid::new_v4();
    let transaction = state.store.connection().begin().await.unwrap();
    let team_row = |id: Uuid, name: String, parent: Option<Uuid>| team::ActiveModel {
        id: Set(TeamId(id)),
        name: Set(name),
        parent_id: Set(parent.map(TeamId)),
        time_zone: Set("UTC".into()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    team::Entity::insert(team_row(department, "Company".into(), None))
        .exec(&transaction)
        .await
        .unwrap();
    let teams: Vec<Uuid> = (0..TEAMS).map(|_| Uuid::new_v4()).collect();
    for (chunk_index, chunk) in teams.chunks(500).enumerate() {
        team::Entity::insert_many(chunk.iter().enumerate().map(|(index, id)| {
            team_row(
                *id,
                format!("Team {}", chunk_index * 500 + index),
                Some(department),
            )
        }))
        .exec(&transaction)
        .await
        .unwrap();
    }
    let people: Vec<(Uuid, Uuid, usize)> = teams
        .iter()
        .flat_map(|team| (0..MEMBERS).map(move |member| (Uuid::new_v4(), *team, member)))
        .collect();
    for chunk in people.chunks(500) {
        person::Entity::insert_many(chunk.iter().map(|(id, team, member)| person::ActiveModel {
            id: Set(PersonId(*id)),
            email: Set(format!("p{member}.{}@bench.example", id.simple())),
            name: Set(format!("Person {member}")),
            team_id: Set(Some(TeamId(*team))),
            locale: Set("en".into()),
            time_zone: Set(None),
            active: Set(true),
            undeliverable: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        }))
        .exec(&transaction)
        .await
        .unwrap();
    }
    transaction.commit().await.unwrap();
    department
}

/// An open round of its own survey over the whole organisation, every invitation
/// answered through `answers::submit` from `SUBMITTERS` tasks, and its invitations
/// gone from the outbox as if sent (a round closes days after its emails left).
/// Returns the round, its item count, and the submit rate.
async fn answered_round(
    state: &AppState,
    department: Uuid,
    name: &str,
) -> (round::Model, usize, f64) {
    let now = chrono::Utc::now();
    let survey = surveys::create_survey(
        state.store.connection(),
        NewSurvey {
            name: Name::parse(name).expect("a valid name"),
            team_ids: vec![TeamId(department)],
            include_subteams: true,
            settings: serde_json::to_value(SurveySettings::starting_on(now.date_naive())).unwrap(),
            k: 5,
            k_detail: 10,
            restricted_release: "suppressed".into(),
            draft: false,
        },
        now,
    )
    .await
    .unwrap();
    let OpenOutcome::Opened(round) = rounds::open_round(
        &state.store,
        &state.bank,
        &state.keys,
        survey.survey.id,
        OpenRequest::Now,
        now,
        "bench.example",
        rounds::RecordingCheck::Overridden,
    )
    .await
    .unwrap() else {
        panic!("a new round")
    };
    let db = state.store.connection();
    let items = round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round.id))
        .count(db)
        .await
        .unwrap() as usize;
    let round_key = state.keys.round_key(round.id, &round.key_id).unwrap();
    let tokens: Arc<Vec<_>> = Arc::new(
        invitation::Entity::find()
            .filter(invitation::Column::RoundId.eq(round.id))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| round_key.link_token(row.id))
            .collect(),
    );

    let started = Instant::now();
    let mut submitters = Vec::new();
    for submitter in 0..SUBMITTERS {
        let (store, keys, tokens) = (state.store.clone(), state.keys.clone(), tokens.clone());
        submitters.push(tokio::spawn(async move {
            for (index, token) in tokens
                .iter()
                .enumerate()
                .skip(submitter)
                .step_by(SUBMITTERS)
            {
                let answer = ValidAnswer {
                    values: (0..items)
                        .map(|item| 1 + ((index + item) % 7) as u8)
                        .collect(),
                    comment: (index % 10 == 0).then(|| format!("Comment {index}")),
                };
                let outcome = answers::submit(&store, &keys, token, answer).await.unwrap();
                assert_eq!(outcome, SubmitOutcome::Accepted);
            }
        }));
    }
    for submitter in submitters {
        submitter.await.unwrap();
    }
    let rate = tokens.len() as f64 / started.elapsed().as_secs_f64();
    outbox::Entity::delete_many()
        .filter(outbox::Column::RoundId.eq(round.id))
        .exec(db)
        .await
        .unwrap();
    (round, items, rate)
}

/// A closed round's stored rows, as the raw close writes them again for another
/// round: every column's value.
async fn stored_rows(
    state: &AppState,
    closed: Uuid,
    table: &str,
    columns: &[&'static str],
    into: Uuid,
) -> Vec<Vec<Value>> {
    let backend = state.store.db_backend();
    let select = columns.join(", ");
    let rows = state
        .store
        .connection()
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT {select} FROM {table} WHERE round_id = $1"),
            [closed.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|name| -> Value {
                    match *name {
                        "round_id" => into.into(),
                        "id" => Uuid::new_v4().into(),
                        "node_id" | "atom_id" => row.try_get::<Uuid>("", name).unwrap().into(),
                        "detail" | "team_changed" => row.try_get::<bool>("", name).unwrap().into(),
                        "respondents" | "people" | "position" => {
                            row.try_get::<i32>("", name).unwrap().into()
                        }
                        "figures" | "statistics" => {
                            row.try_get::<Option<Vec<u8>>>("", name).unwrap().into()
                        }
                        _ => row.try_get::<Option<String>>("", name).unwrap().into(),
                    }
                })
                .collect()
        })
        .collect()
}

/// The raw ceiling of a close: the smallest durable transaction of the same shape,
/// in plain SQL through the same pool — mark the round closed, read its
/// invitations and sealed rows, write the same number of release, ledger,
/// statistics and comment rows with the same stored figures (taken from the round closed
/// before), delete the open rows, null the lookups, commit. No key derivation,
/// no decryption, no anonymizer.
async fn raw_close(
    state: &AppState,
    round_id: Uuid,
    rows: Vec<(Columns<'static>, Vec<Vec<Value>>)>,
) {
    let backend = state.store.db_backend();
    let statement = |sql: &str| Statement::from_sql_and_values(backend, sql, [round_id.into()]);
    let transaction = state.store.begin_write().await.unwrap();
    transaction
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE rounds SET status = 'closed', closed_at = $1 WHERE id = $2 AND status = 'open'",
            [chrono::Utc::now().into(), round_id.into()],
        ))
        .await
        .unwrap();
    for select in [
        "SELECT id, node_id FROM invitations WHERE round_id = $1",
        "SELECT node_id, ballot, sealed FROM open_responses WHERE round_id = $1",
        "SELECT node_id, sealed FROM open_comments WHERE round_id = $1",
    ] {
        assert!(
            !transaction
                .query_all_raw(statement(select))
                .await
                .unwrap()
                .is_empty()
        );
    }
    for (columns, rows) in rows {
        insert_rows(&transaction, columns, rows).await.unwrap();
    }
    for change in [
        "DELETE FROM open_responses WHERE round_id = $1",
        "DELETE FROM open_comments WHERE round_id = $1",
        "UPDATE invitations SET lookup = NULL WHERE round_id = $1",
    ] {
        transaction.execute_raw(statement(change)).await.unwrap();
    }
    transaction.commit().await.unwrap();
}

const RELEASE_TABLES: [Columns<'static>; 5] = [
    bulk::RELEASES,
    bulk::RELEASE_LEDGER,
    bulk::DETERMINED_NODES,
    bulk::ATOM_STATISTICS,
    bulk::RELEASED_COMMENTS,
];

#[expect(clippy::print_stdout, reason = "the figures are this program's output")]
async fn measure(database: &str, database_url: Option<String>) {
    let dirs = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dirs.path().join("data"),
        secrets_dir: dirs.path().join("secrets"),
        database_url,
        ..Config::default()
    };
    let state = build_state(config, Arc::new(SystemClock)).await.unwrap();
    let department = organisation(&state).await;
    let (round, items, submit_rate) = answered_round(&state, department, "Bench pulse").await;
    let (raw_round, _, _) = answered_round(&state, department, "Raw pulse").await;
    let db = state.store.connection();
    let answered = open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round.id))
        .count(db)
        .await
        .unwrap() as usize;

    let sealed = open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round.id))
        .all(db)
        .await
        .unwrap();
    let seal = state
        .keys
        .round_key(round.id, &round.key_id)
        .unwrap()
        .answer_seal();
    let started = Instant::now();
    let opened = sealed
        .iter()
        .filter(|row| seal.open_answers(row.node_id, &row.sealed).is_some())
        .count();
    let opening = started.elapsed();
    assert_eq!(opened, answered);

    let started = Instant::now();
    let outcome = rounds::close_round(
        &state.store,
        &state.bank,
        &state.keys,
        rounds::CloseRequest {
            round_id: round.id,
            now: chrono::Utc::now(),
            retention: RawRetention::Delete,
            report_base_url: "http://bench",
            mail_host: "bench.example",
        },
    )
    .await
    .unwrap();
    let closing = started.elapsed();
    assert_eq!(
        outcome,
        CloseOutcome::Closed {
            counted_responses: answered as u32
        }
    );

    let mut copies = Vec::new();
    for columns in RELEASE_TABLES {
        let rows = stored_rows(
            &state,
            round.id.0,
            columns.table,
            columns.columns,
            raw_round.id.0,
        )
        .await;
        copies.push((columns, rows));
    }
    let started = Instant::now();
    raw_close(&state, raw_round.id.0, copies).await;
    let raw_closing = started.elapsed();

    println!(
        "| {database} | {answered} answers × {items} items over {TEAMS} teams | submit with sealing ({SUBMITTERS} tasks): {submit_rate:.0}/s | opening every sealed answer: {:.1} ms | close (transaction + shredding): {:.2} s | raw close (same shape, plain SQL): {:.2} s |",
        opening.as_secs_f64() * 1000.0,
        closing.as_secs_f64(),
        raw_closing.as_secs_f64(),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(measure("SQLite", None));
    if let Ok(base) = std::env::var("SAFEPULSE_BENCH_POSTGRES_URL") {
        let name = format!("safepulse_bench_{}", Uuid::new_v4().simple());
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
        runtime.block_on(measure("PostgreSQL", Some(url)));
    }
}
