//! The submit benchmark (issue 5, DESIGN §7): accepted answers per second through
//! the real endpoint `POST /r/{token}` — wrk on loopback, every request a complete
//! form with a link token of its own — next to the raw ceiling: the same submit
//! transaction ([`answers::submit`]) run directly against the same database, with
//! the same settings and the same number of clients, in the same run. On SQLite
//! (WAL, `synchronous=FULL`) and on PostgreSQL (durable commits), with p50 and p99
//! latency. The target is HTTP ≥ 50% of the raw ceiling.
//!
//! Run it with `benches/answer-submit.sh`, which installs wrk when it is missing; it
//! prints a Markdown table for BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use safepulse_api::pages::answer::form_csrf;
use safepulse_domain::keys::LinkToken;
use safepulse_store::answers::{self, SubmitOutcome, ValidAnswer};
use safepulse_store::entities::{person, round_item};
use safepulse_tests::answer_form::form_urlencode;
use safepulse_tests::{Db, TestApp, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

/// Concurrent clients in both measurements (DESIGN §7 quotes PostgreSQL at 8).
const CLIENTS: usize = 8;
const WRK_THREADS: usize = 2;
const MEASURE_FOR: Duration = Duration::from_secs(5);
/// Invited people: a quarter of the links for each of the four measurements, more
/// than any of them can use.
const PEOPLE: usize = 80_000;
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
        "| database | path | answers/s | p50 | p99 | answers |".to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    let mut ratios = Vec::new();
    for db in [Db::Sqlite, Db::Postgres] {
        let app = spawn_app(db).await;
        let (round_id, tokens) = open_a_large_round(&app).await;
        let item_ids = item_ids(&app, round_id).await;
        let values: Vec<u8> = item_ids.iter().map(|_| 5).collect();
        let name = match db {
            Db::Sqlite => "SQLite (WAL, synchronous=FULL)",
            Db::Postgres => "PostgreSQL 15 (durable commits)",
        };
        // ABBA: raw, HTTP, HTTP, raw — each on fresh links — so neither path gets
        // the emptier table or the quieter minute.
        let mut raw_rates = Vec::new();
        let mut http_rates = Vec::new();
        for (run, links) in tokens.chunks(tokens.len() / 4).take(4).enumerate() {
            let (path, measurement) = if run == 0 || run == 3 {
                let measurement = raw_submits(&app, links.to_vec(), values.clone()).await;
                raw_rates.push(measurement.per_second);
                ("raw: `answers::submit` directly, 8 tasks", measurement)
            } else {
                let measurement = wrk_submits(&app, links, &item_ids).await;
                http_rates.push(measurement.per_second);
                ("HTTP: `POST /r/{token}`, wrk -t2 -c8", measurement)
            };
            table.push(format!(
                "| {name} | {path} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                measurement.per_second,
                measurement.p50.as_secs_f64() * 1e3,
                measurement.p99.as_secs_f64() * 1e3,
                measurement.answers
            ));
        }
        let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len() as f64;
        ratios.push(format!(
            "{name}: raw {:.0}/s, HTTP {:.0}/s, HTTP / raw = {:.2}",
            mean(&raw_rates),
            mean(&http_rates),
            mean(&http_rates) / mean(&raw_rates)
        ));
    }
    println!("{}", table.join("\n"));
    println!();
    for ratio in ratios {
        println!("{ratio}");
    }
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
            id: Set(uuid::Uuid::new_v4()),
            email: Set(format!("p{index}@bench.example")),
            name: Set(format!("Person {index}")),
            team_id: Set(teams[index % TEAMS]),
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

/// The raw ceiling: `CLIENTS` tasks calling the submit transaction for fresh links
/// until `MEASURE_FOR` has passed.
async fn raw_submits(app: &TestApp, tokens: Vec<LinkToken>, values: Vec<u8>) -> Measurement {
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + MEASURE_FOR;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let tokens = tokens.clone();
        let next = next.clone();
        let store = app.state.store.clone();
        let keys = app.state.keys.clone();
        let values = values.clone();
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let Some(token) = tokens.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let begun = Instant::now();
                let outcome = answers::submit(
                    &store,
                    &keys,
                    token,
                    ValidAnswer {
                        values: values.clone(),
                        comment: None,
                    },
                )
                .await
                .expect("the submit transaction runs");
                assert_eq!(outcome, SubmitOutcome::Accepted);
                latencies.push(begun.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
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

/// wrk against the running server, one fresh link per request (the Lua script),
/// each request the complete form a browser would send.
async fn wrk_submits(app: &TestApp, links: &[LinkToken], item_ids: &[String]) -> Measurement {
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
            &CLIENTS.to_string(),
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
    let requests = number("requests") as usize;
    Measurement {
        per_second: requests as f64 / (number("duration_us") as f64 / 1e6),
        p50: Duration::from_micros(number("p50_us")),
        p99: Duration::from_micros(number("p99_us")),
        answers: requests,
    }
}
