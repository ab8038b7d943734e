//! The submit benchmark (issue 17, DESIGN §7): answers per second along the whole
//! path a respondent takes — a **new connection** per respondent, `GET /r/{token}`
//! (the form), then `POST /r/{token}` (the answers) — driven by wrk on loopback,
//! next to the **raw ceiling**: the smallest durable transaction of the same shape
//! through the same connection pool and settings (`BEGIN` — `IMMEDIATE` on
//! SQLite — the invitation looked up by its hash, one answer row inserted,
//! `COMMIT`), written as plain SQL, not our submit function. At 2, 8 and 32
//! clients, in ABBA order (raw, HTTP, HTTP, raw) on fresh links each, on SQLite
//! (WAL, `synchronous=FULL`) and PostgreSQL (durable commits).
//!
//! The ceiling pays one fsync per answer; the answer path commits the answers
//! that arrive together in one transaction (group commit), so it can beat it.
//!
//! Run it with `benches/answer-submit.sh`, which installs wrk when it is missing;
//! it prints Markdown tables for BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::RngCore;
use safepulse_api::pages::answer::form_csrf;
use safepulse_domain::keys::LinkToken;
use safepulse_store::Store;
use safepulse_store::entities::{person, round_item};
use safepulse_tests::answer_form::form_urlencode;
use safepulse_tests::{Db, TestApp, spawn_app};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, Statement};
use serde_json::json;

/// Concurrent clients (respondents at once) of each measurement.
const CLIENT_COUNTS: [usize; 3] = [2, 8, 32];
const WRK_THREADS: usize = 2;
const MEASURE_FOR: Duration = Duration::from_secs(4);
/// Invited people: a twelfth of the links for each of the twelve measurements
/// (three client counts, ABBA), more than any of them can use.
const PEOPLE: usize = 240_000;
const TEAMS: usize = 100;

#[derive(Debug, Clone, Copy)]
struct Measurement {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    answers: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the table is the benchmark's output")]
async fn main() {
    let mut table = vec![
        "| database | clients | path | answers/s | p50 | p99 | answers |".to_owned(),
        "|---|---|---|---|---|---|---|".to_owned(),
    ];
    let mut summary = vec![
        "| database | clients | raw ceiling (min / median / max) | HTTP GET+POST (min / median / max) | HTTP / raw (medians) |".to_owned(),
        "|---|---|---|---|---|".to_owned(),
    ];
    let only = std::env::var("SAFEPULSE_BENCH_DATABASES").unwrap_or_default();
    for db in [Db::Sqlite, Db::Postgres] {
        let name = match db {
            Db::Sqlite => "SQLite (WAL, synchronous=FULL)",
            Db::Postgres => "PostgreSQL (durable commits)",
        };
        if !only.is_empty()
            && !only
                .to_lowercase()
                .contains(&format!("{db:?}").to_lowercase())
        {
            continue;
        }
        let app = spawn_app(db).await;
        let (round_id, tokens) = open_a_large_round(&app).await;
        let item_ids = item_ids(&app, round_id).await;
        let shares: Vec<&[LinkToken]> = tokens.chunks(tokens.len() / 12).take(12).collect();
        for (count_index, clients) in CLIENT_COUNTS.into_iter().enumerate() {
            // ABBA: raw, HTTP, HTTP, raw — each on fresh links — so neither path
            // gets the emptier table or the quieter moment.
            let mut raw = Vec::new();
            let mut http = Vec::new();
            for run in 0..4 {
                let links = shares[count_index * 4 + run];
                let (path, measurement) = if run == 0 || run == 3 {
                    let measurement = raw_ceiling(&app.state.store, links, clients).await;
                    raw.push(measurement.per_second);
                    (
                        "raw ceiling: BEGIN, lookup, INSERT, COMMIT".to_owned(),
                        measurement,
                    )
                } else {
                    let measurement = wrk_respondents(&app, links, &item_ids, clients).await;
                    http.push(measurement.per_second);
                    (
                        format!("HTTP: new connection, GET + POST, wrk -c{clients}"),
                        measurement,
                    )
                };
                table.push(format!(
                    "| {name} | {clients} | {path} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                    measurement.per_second,
                    measurement.p50.as_secs_f64() * 1e3,
                    measurement.p99.as_secs_f64() * 1e3,
                    measurement.answers
                ));
            }
            summary.push(format!(
                "| {name} | {clients} | {} | {} | **{:.2}** |",
                spread(&raw),
                spread(&http),
                median(&http) / median(&raw)
            ));
        }
    }
    println!("{}", table.join("\n"));
    println!();
    println!("{}", summary.join("\n"));
}

fn median(rates: &[f64]) -> f64 {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

fn spread(rates: &[f64]) -> String {
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    format!("{min:.0} / {:.0} / {max:.0}", median(rates))
}

/// `PEOPLE` people in `TEAMS` teams under one department (inserted directly: the
/// admin API would take minutes), one survey over them, its round opened through
/// the API, and every link token of the round.
async fn open_a_large_round(app: &TestApp) -> (uuid::Uuid, Vec<LinkToken>) {
    let department = app.create_team("Department", None).await;
    let mut teams = Vec::new();
    for index in 0..TEAMS {
        teams.push(
            app.create_team(&format!("Team {index}"), Some(department))
                .await,
        );
    }
    let now = chrono::Utc::now();
    let people: Vec<person::ActiveModel> = (0..PEOPLE)
        .map(|index| person::ActiveModel {
            id: Set(safepulse_domain::PersonId::random()),
            email: Set(format!("p{index}@bench.example")),
            name: Set(format!("Person {index}")),
            team_id: Set(Some(safepulse_domain::TeamId(teams[index % TEAMS]))),
            locale: Set("en".to_owned()),
            time_zone: Set(None),
            active: Set(true),
            undeliverable: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    for chunk in people.chunks(500) {
        person::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.state.store.connection())
            .await
            .unwrap();
    }
    let survey = app.create_survey(&[department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await.into_values().collect();
    (round_id, tokens)
}

async fn item_ids(app: &TestApp, round_id: uuid::Uuid) -> Vec<String> {
    round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round_id))
        .order_by_asc(round_item::Column::Position)
        .all(app.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.item_id)
        .collect()
}

/// The raw ceiling: `clients` tasks, each running the smallest durable
/// transaction with the answer path's shape for fresh links until `MEASURE_FOR`
/// has passed: begin a write transaction as the store does (`BEGIN IMMEDIATE` on
/// SQLite), look the invitation up by its hash, insert one answer row of the real
/// size, commit. Plain SQL through the same pool, none of our code in between.
async fn raw_ceiling(store: &Store, tokens: &[LinkToken], clients: usize) -> Measurement {
    let tokens = Arc::new(tokens.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + MEASURE_FOR;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (tokens, next, store) = (tokens.clone(), next.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            let backend = store.db_backend();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let Some(token) = tokens.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let mut ballot = vec![0u8; 32];
                // A sealed answer of 9 items: nonce, one byte per item, tag.
                let mut sealed = vec![0u8; 24 + 9 + 16];
                rand::rng().fill_bytes(&mut ballot);
                rand::rng().fill_bytes(&mut sealed);
                let begun = Instant::now();
                let transaction = store.begin_write().await.expect("begin");
                let invitation = transaction
                    .query_one_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT round_id, node_id FROM invitations WHERE lookup = $1",
                        [token.lookup().0.to_vec().into()],
                    ))
                    .await
                    .expect("lookup")
                    .expect("the invitation exists");
                let round_id: uuid::Uuid = invitation.try_get("", "round_id").unwrap();
                let node_id: uuid::Uuid = invitation.try_get("", "node_id").unwrap();
                transaction
                    .execute_raw(Statement::from_sql_and_values(
                        backend,
                        "INSERT INTO open_responses (id, round_id, node_id, ballot, sealed) \
                         VALUES ($1, $2, $3, $4, $5)",
                        [
                            uuid::Uuid::new_v4().into(),
                            round_id.into(),
                            node_id.into(),
                            ballot.into(),
                            sealed.into(),
                        ],
                    ))
                    .await
                    .expect("insert");
                transaction.commit().await.expect("commit");
                latencies.push(begun.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Measurement {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(0.50),
        p99: percentile(0.99),
        answers: latencies.len(),
    }
}

/// wrk against the running server as `clients` respondents at a time, each on a
/// new connection: the form (`GET`), then the complete form a browser sends
/// (`POST`), one fresh link per respondent (the Lua script). Latencies are per
/// request (GET and POST alike); answers are the POSTs.
async fn wrk_respondents(
    app: &TestApp,
    links: &[LinkToken],
    item_ids: &[String],
    clients: usize,
) -> Measurement {
    let lines: Vec<String> = links
        .iter()
        .map(|token| {
            let mut fields = vec![
                ("csrf".to_owned(), form_csrf(&app.state.secrets, token)),
                ("locale".to_owned(), "en".to_owned()),
                ("time_zone".to_owned(), "UTC".to_owned()),
            ];
            fields.extend(item_ids.iter().map(|id| (id.clone(), "5".to_owned())));
            fields.push(("comment".to_owned(), String::new()));
            format!(
                "{} {}",
                TestApp::answer_path(token),
                form_urlencode(&fields)
            )
        })
        .collect();
    let lines_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(lines_file.path(), lines.join("\n")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/answer_submit.lua");
    let output = tokio::process::Command::new("wrk")
        .args([
            "-t",
            &WRK_THREADS.to_string(),
            "-c",
            &clients.to_string(),
            "-d",
            &format!("{}s", MEASURE_FOR.as_secs()),
            "-s",
            script,
            &app.address,
            "--",
        ])
        .arg(lines_file.path())
        .arg(WRK_THREADS.to_string())
        .output()
        .await
        .expect("wrk runs (benches/answer-submit.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("wrk printed its summary: {stdout}"));
    let number = |key: &str| summary[key].as_u64().expect("a number");
    assert_eq!(
        number("non_2xx"),
        0,
        "every request was an accepted answer: {stdout}"
    );
    assert_eq!(number("socket_errors"), 0, "{stdout}");
    // Every respondent is a GET and a POST; one cut off by the end of the run
    // made its GET only.
    let answers = number("requests") as usize / 2;
    Measurement {
        per_second: answers as f64 / (number("duration_us") as f64 / 1e6),
        p50: Duration::from_micros(number("p50_us")),
        p99: Duration::from_micros(number("p99_us")),
        answers,
    }
}
