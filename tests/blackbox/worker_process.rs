//! The scheduler and outbox worker in the real binary (issue 4 item 7, issue 12
//! finding 3): `safepulse worker` killed with SIGKILL in the middle of a batch
//! sends again at most the messages it had in flight, and a restarted worker sends
//! the rest at once; SIGTERM during a slow batch stops it well within the 40 s
//! grace period with its unsent rows given back for others at once;
//! `safepulse serve` on the embedded default runs them in-process and writes
//! `.eml` files.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use safepulse_domain::Clock;
use safepulse_store::entities::outbox;
use safepulse_store::operations::{WorkerCounter, snapshot};
use safepulse_tests::smtp_sink::{Reply, Script, SmtpSink};
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app, terminate};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use std::path::Path;

use tokio::process::Child;

const PATIENCE: Duration = Duration::from_secs(60);
/// What `deploy/compose.yaml` gives a container between SIGTERM and SIGKILL.
const GRACE_PERIOD: Duration = Duration::from_secs(40);

/// The real binary running `worker` over the app's database and keys, sending to
/// the sink through two pooled connections.
fn start_worker(app: &TestApp, sink: &SmtpSink) -> Child {
    app.safepulse_command(
        Path::new(env!("CARGO_BIN_EXE_safepulse-under-test")),
        &["worker"],
    )
    .env("SAFEPULSE_SMTP__HOST", "127.0.0.1")
    .env("SAFEPULSE_SMTP__PORT", sink.port().to_string())
    .env("SAFEPULSE_SMTP__TLS", "none")
    .env("SAFEPULSE_SMTP__POOL_SIZE", "2")
    .spawn()
    .expect("the safepulse binary starts")
}

/// A sink that answers every reply `per_reply` late while `slow` is set, and at
/// once after.
async fn sink_slow_while(slow: &Arc<AtomicBool>, per_reply: Duration) -> SmtpSink {
    let slow = Arc::clone(slow);
    SmtpSink::start(Script::from_fn(move |_| {
        if slow.load(Ordering::SeqCst) {
            Reply::AcceptSlowly { per_reply }
        } else {
            Reply::Accept
        }
    }))
    .await
}

async fn pending_rows(app: &TestApp) -> u64 {
    outbox::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

async fn claimed_rows(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::ClaimToken.is_not_null())
        .all(app.state.store.connection())
        .await
        .unwrap()
}

async fn wait_until_pending_rows_are(app: &TestApp, count: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while pending_rows(app).await > count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did not get the outbox down to {count} rows"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The answer link in each message, as a set.
fn links(messages: &[safepulse_tests::smtp_sink::ReceivedMessage]) -> HashSet<String> {
    messages
        .iter()
        .map(|message| {
            let text = message.text();
            let start = text.find("/r/").expect("an answer link") + 3;
            text[start..start + 43].to_owned()
        })
        .collect()
}

on_both_databases! {
    async fn a_worker_killed_mid_batch_sends_again_only_its_messages_in_flight(app) {
        let slow = Arc::new(AtomicBool::new(true));
        // About 0.3 s a message: slow enough to kill the worker mid-batch.
        let sink = sink_slow_while(&slow, Duration::from_millis(100)).await;
        let org = app.create_org(&[50, 50, 50]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let tokens = app.link_tokens(round_id).await;
        assert_eq!(tokens.len(), 153);

        let mut first = start_worker(&app, &sink);
        sink.wait_for(20, PATIENCE).await.expect("the worker sends");
        first.kill().await.expect("SIGKILL");
        // Let the sink finish what the dead worker had handed over.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let dead_claims = claimed_rows(&app).await;
        assert!(
            !dead_claims.is_empty() && dead_claims.len() <= 4,
            "the dead worker held only its two messages in flight and at most two more: {}",
            dead_claims.len()
        );
        let accepted_before_the_restart: HashSet<String> = sink
            .messages()
            .iter()
            .filter_map(|message| message.message_id())
            .collect();
        assert!(accepted_before_the_restart.len() < 153, "killed mid-batch");
        let in_flight_and_accepted = dead_claims
            .iter()
            .filter(|row| accepted_before_the_restart.contains(&row.message_id))
            .count();
        assert!(in_flight_and_accepted <= 2, "at most the pool's two sends were in flight");

        // Everything the dead worker did not hold goes out at once, without
        // waiting for its claims to expire.
        slow.store(false, Ordering::SeqCst);
        let second = start_worker(&app, &sink);
        wait_until_pending_rows_are(&app, dead_claims.len() as u64).await;
        // Then its claims' lease (minutes) runs out; pass it now rather than wait.
        outbox::Entity::update_many()
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(Utc::now() - chrono::Duration::seconds(1)),
            )
            .filter(outbox::Column::ClaimToken.is_not_null())
            .exec(app.state.store.connection())
            .await
            .unwrap();
        wait_until_pending_rows_are(&app, 0).await;
        terminate(second).await;

        let messages = sink.messages();
        let expected: HashSet<String> = tokens.values().map(|token| token.encode()).collect();
        assert_eq!(links(&messages), expected, "every invitation delivered, none lost");
        assert_eq!(
            messages.len(),
            153 + in_flight_and_accepted,
            "only a message in flight at the kill arrived twice"
        );
        let message_ids: HashSet<String> = messages
            .iter()
            .map(|message| message.message_id().unwrap())
            .collect();
        assert_eq!(message_ids.len(), 153, "an email sent again kept its Message-ID");
        let figures = snapshot(app.state.store.connection(), app.clock.now()).await.unwrap();
        assert!(
            figures
                .counters
                .contains(&(WorkerCounter::OutboxClaimsExpired, dead_claims.len() as u64)),
            "the dead worker's claims were counted as expired: {:?}",
            figures.counters
        );
    }

    async fn sigterm_during_a_slow_batch_stops_within_the_grace_period_and_gives_the_rows_back(app) {
        let slow = Arc::new(AtomicBool::new(true));
        // 6 s per reply: no message can finish within the worker's 10 s for sends
        // under way, and the whole batch would take minutes.
        let sink = sink_slow_while(&slow, Duration::from_secs(6)).await;
        let team = app.create_team("Platform", None).await;
        for index in 0..12 {
            app.create_person(&format!("person{index}@example.com"), team).await;
        }
        let survey = app.create_survey(&[team], json!({})).await;
        let round_id = app.open_round(survey).await;
        let expected: HashSet<String> = app
            .link_tokens(round_id)
            .await
            .values()
            .map(|token| token.encode())
            .collect();

        let mut worker = start_worker(&app, &sink);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while claimed_rows(&app).await.len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "the worker claims");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pid = worker.id().expect("running").to_string();
        let stopping = std::time::Instant::now();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let exit = tokio::time::timeout(GRACE_PERIOD, worker.wait())
            .await
            .expect("the worker stops within the grace period")
            .unwrap();
        let took = stopping.elapsed();
        assert!(exit.success(), "a clean exit: {exit:?}");
        assert!(took < Duration::from_secs(20), "stopped in {took:?}");

        assert!(claimed_rows(&app).await.is_empty(), "no row is left claimed");
        let rows = outbox::Entity::find().all(app.state.store.connection()).await.unwrap();
        assert_eq!(rows.len(), 12, "nothing was delivered");
        assert!(
            rows.iter().all(|row| row.claimed_until.is_none() && row.attempts == 0),
            "every row is free again, its attempt taken back: {rows:?}"
        );

        // Another worker sends them at once, not after a lease.
        slow.store(false, Ordering::SeqCst);
        let started = tokio::time::Instant::now();
        let other = start_worker(&app, &sink);
        let messages = sink.wait_for(12, Duration::from_secs(20)).await.expect("sent at once");
        wait_until_pending_rows_are(&app, 0).await;
        assert!(started.elapsed() < Duration::from_secs(20));
        terminate(other).await;
        assert_eq!(links(&messages), expected);
        assert_eq!(sink.messages().len(), 12, "and none twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_the_embedded_default_writes_one_eml_file_per_invitation() {
    let app = spawn_app(Db::Sqlite).await;
    let team = app.create_team("Platform", None).await;
    for index in 0..3 {
        app.create_person(&format!("person{index}@example.com"), team)
            .await;
    }
    let survey = app.create_survey(&[team], json!({})).await;
    let round_id = app.open_round(survey).await;
    let expected: HashSet<String> = app
        .link_tokens(round_id)
        .await
        .values()
        .map(|token| token.encode())
        .collect();

    // No [smtp], in_process_worker left at its default (true).
    let server = app
        .safepulse_command(
            Path::new(env!("CARGO_BIN_EXE_safepulse-under-test")),
            &["serve", "--port", "0"],
        )
        .env_remove("SAFEPULSE_DATABASE_URL")
        .spawn()
        .expect("the safepulse binary starts");
    let mail_dir = app.data_dir.join("mail");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let files = loop {
        let files: Vec<String> = std::fs::read_dir(&mail_dir)
            .map(|entries| {
                entries
                    .map(|entry| entry.unwrap().path())
                    .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
                    .map(|path| std::fs::read_to_string(path).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        if files.len() >= 3 || tokio::time::Instant::now() > deadline {
            break files;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    terminate(server).await;

    assert_eq!(files.len(), 3, "one .eml per person");
    let links: HashSet<String> = files
        .iter()
        .map(|file| {
            let start = file.find("/r/").expect("an answer link") + 3;
            file[start..start + 43].to_owned()
        })
        .collect();
    assert_eq!(links, expected);
    assert_eq!(pending_rows(&app).await, 0, "delivered rows are deleted");
}
