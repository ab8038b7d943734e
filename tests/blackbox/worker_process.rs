//! The scheduler and outbox worker in the real binary (issue 4 item 7):
//! `safepulse worker` killed with SIGKILL in the middle of a batch and restarted
//! still delivers every invitation — at least once, with the Message-ID of its
//! row — and stops cleanly on SIGTERM; `safepulse serve` on the embedded default
//! runs them in-process and writes `.eml` files.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use safepulse_store::entities::outbox;
use safepulse_tests::smtp_sink::{Script, SmtpSink};
use safepulse_tests::{Db, TestApp, spawn_app, terminate};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use std::path::Path;

use tokio::process::Child;

const PATIENCE: Duration = Duration::from_secs(60);

/// The real binary running `worker` over the app's database and keys, sending to
/// the sink through two pooled connections (slow enough to be killed mid-batch:
/// lettre manages a few dozen messages a second per connection).
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

async fn pending_rows(app: &TestApp) -> u64 {
    outbox::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

async fn body(app: TestApp) {
    let sink = SmtpSink::start(Script::accept_all()).await;
    let org = app.create_org(&[50, 50, 50]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await;
    assert_eq!(tokens.len(), 153);

    let mut first = start_worker(&app, &sink);
    sink.wait_for(20, PATIENCE).await.expect("the worker sends");
    first.kill().await.expect("SIGKILL");
    let sent_before_the_kill = sink.messages().len();
    assert!(
        sent_before_the_kill < 153,
        "killed before the batch was done"
    );
    let claimed = outbox::Entity::find()
        .filter(outbox::Column::ClaimedUntil.gt(Utc::now()))
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(
        claimed, 153,
        "the whole batch was claimed and nothing recorded"
    );

    // The dead worker's claims would expire after their lease (minutes); expire
    // them now rather than wait.
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(app.state.store.connection())
        .await
        .unwrap();
    let second = start_worker(&app, &sink);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while pending_rows(&app).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted worker did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    terminate(second).await;

    let messages = sink.messages();
    assert!(messages.len() >= 153);
    let links: HashSet<String> = messages
        .iter()
        .map(|message| {
            let text = message.text();
            let start = text.find("/r/").expect("an answer link") + 3;
            text[start..start + 43].to_owned()
        })
        .collect();
    let expected: HashSet<String> = tokens.values().map(|token| token.encode()).collect();
    assert_eq!(links, expected, "every invitation delivered, none lost");
    let message_ids: HashSet<String> = messages
        .iter()
        .map(|message| message.message_id().unwrap())
        .collect();
    assert_eq!(
        message_ids.len(),
        153,
        "an email sent again after the kill kept its Message-ID"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_killed_mid_batch_and_restarted_delivers_every_invitation_on_sqlite() {
    body(spawn_app(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_killed_mid_batch_and_restarted_delivers_every_invitation_on_postgres() {
    body(spawn_app(Db::Postgres).await).await;
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
