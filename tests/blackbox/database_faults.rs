//! A database that fails (issue 12 §1 and §2): every answer that got "thank you"
//! is stored, every answer that was not stored is told so (503 with `Retry-After`,
//! the link still works), nothing hangs, `/readyz` says so within a second, and the
//! service heals by itself once the database is back.
//!
//! - A full disk on SQLite, where a COMMIT fails: the real `safepulse serve` with its
//!   file size limit lowered to nothing (`prlimit`), which fails every write of the
//!   database files the way a full disk does (SQLite reports an I/O error instead
//!   of SQLITE_FULL, and goes down the same path); and a page limit
//!   (`PRAGMA max_page_count`), where the INSERT fails with SQLITE_FULL.
//! - An outage: PostgreSQL behind a proxy the test cuts (connections closed, new
//!   ones refused) and restores; PostgreSQL turned read-only; and SQLite locked by
//!   another writer for longer than the busy timeout.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use safepulse_domain::keys::LinkToken;
use safepulse_store::entities::open_response;
use safepulse_tests::answer_form::{AnswerForm, form_urlencode};
use safepulse_tests::tcp_proxy::TcpProxy;
use safepulse_tests::{
    Db, TestApp, free_port, postgres_base_url, spawn_app, spawn_app_with, terminate,
    wait_until_healthy,
};
use sea_orm::{ConnectionTrait, EntityTrait, sqlx};
use serde_json::json;
use uuid::Uuid;

/// What a request answered, and how long it took.
#[derive(Debug)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    content_type: String,
    body: String,
    took: Duration,
}

async fn reply_of(request: reqwest::RequestBuilder) -> Reply {
    let started = Instant::now();
    let response = request.send().await.expect("the request is sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("an ASCII header").to_owned())
    };
    let retry_after = header("retry-after");
    let content_type = header("content-type").unwrap_or_default();
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    Reply {
        status,
        retry_after,
        content_type,
        body,
        took: started.elapsed(),
    }
}

/// The answer form of `token` on the server at `base`, filled in and encoded.
async fn filled_form(client: &reqwest::Client, base: &str, token: &LinkToken) -> String {
    let page = reply_of(client.get(format!("{base}{}", TestApp::answer_path(token)))).await;
    assert_eq!(page.status, 200, "the answer form opens: {}", page.body);
    let form = AnswerForm::parse(&page.body);
    form_urlencode(&form.fields(|_, options| options[0], Some("Fine, thanks.")))
}

async fn post_form(client: &reqwest::Client, base: &str, token: &LinkToken, body: String) -> Reply {
    reply_of(
        client
            .post(format!("{base}{}", TestApp::answer_path(token)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await
}

async fn answer_at(client: &reqwest::Client, base: &str, token: &LinkToken) -> Reply {
    let body = filled_form(client, base, token).await;
    post_form(client, base, token, body).await
}

async fn readyz(client: &reqwest::Client, base: &str) -> Reply {
    reply_of(client.get(format!("{base}/readyz"))).await
}

/// A refusal that says "not stored, try again", and says so fast.
fn assert_not_saved(reply: &Reply, within: Duration) {
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.retry_after.as_deref(), Some("60"), "{reply:?}");
    assert!(
        reply
            .body
            .contains("Your answers could not be saved just now"),
        "{reply:?}"
    );
    assert!(reply.body.contains("Your link still works"), "{reply:?}");
    assert!(reply.took < within, "answered in {:?}", reply.took);
}

/// An API or readiness 503: problem+json with `Retry-After`, fast.
fn assert_problem_503(reply: &Reply, within: Duration) {
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.content_type, "application/problem+json", "{reply:?}");
    assert_eq!(reply.retry_after.as_deref(), Some("60"), "{reply:?}");
    let problem: serde_json::Value = serde_json::from_str(&reply.body).expect("a problem");
    assert_eq!(problem["code"], "unavailable", "{reply:?}");
    assert!(reply.took < within, "answered in {:?}", reply.took);
}

/// Polls `/readyz` until it answers 200 (the database is back), for up to 10 s.
async fn wait_until_ready(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        let reply = readyz(client, base).await;
        if reply.status == 200 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not ready again 10 s after the database came back: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ballots of every stored answer (the tests open one round).
async fn stored_ballots(app: &TestApp) -> Vec<Vec<u8>> {
    open_response::Entity::find()
        .all(app.state.store.connection())
        .await
        .expect("the stored answers")
        .into_iter()
        .map(|row| row.ballot)
        .collect()
}

/// Every answer acknowledged with 200 is stored, exactly once each, and nothing else.
async fn assert_stored_exactly(app: &TestApp, round: Uuid, acknowledged: &[LinkToken]) {
    let key = app.round_key(&app.round_row(round).await);
    let expected: HashSet<Vec<u8>> = acknowledged
        .iter()
        .map(|token| key.ballot(token).0.to_vec())
        .collect();
    assert_eq!(
        expected.len(),
        acknowledged.len(),
        "each link acknowledged once"
    );
    let stored = stored_ballots(app).await;
    let stored_set: HashSet<Vec<u8>> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "no ballot twice");
    assert_eq!(
        stored_set, expected,
        "the stored answers are exactly the acknowledged ones"
    );
}

/// An open round over two teams of `size` and its links, in a fixed order.
async fn round_with_links(app: &TestApp, size: usize) -> (Uuid, Vec<LinkToken>) {
    let org = app.create_org(&[size, size]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round = app.open_round(survey).await;
    let mut links: Vec<(Uuid, LinkToken)> = app.link_tokens(round).await.into_iter().collect();
    links.sort_by_key(|(person, _)| *person);
    (round, links.into_iter().map(|(_, token)| token).collect())
}

// ---------------------------------------------------------------------------------
// A full disk on SQLite

/// `safepulse serve` over the app's database, files, keys and secrets, with no
/// worker, started through `sh` so that SIGXFSZ is ignored: with the file size
/// limit reached, a write fails (EFBIG) instead of killing the process. Its output
/// goes nowhere: a log file would be a file it cannot write either.
async fn serve_over(app: &TestApp) -> (tokio::process::Child, String) {
    let port = free_port();
    let serve = app.safepulse_command(
        Path::new(env!("CARGO_BIN_EXE_safepulse-under-test")),
        &["serve", "--port", &port.to_string()],
    );
    let serve = serve.as_std();
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg("trap '' XFSZ; exec \"$0\" \"$@\"")
        .arg(serve.get_program())
        .args(serve.get_args());
    for (name, value) in serve.get_envs() {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    let child = command
        .env("SAFEPULSE_IN_PROCESS_WORKER", "false")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("safepulse serve starts");
    let base = format!("http://127.0.0.1:{port}");
    wait_until_healthy(&app.client, &base).await;
    (child, base)
}

/// Sets the largest file `pid` may write, in bytes (`unlimited` for none); the hard
/// limit stays unlimited so that the soft one can be raised again.
fn limit_file_size(pid: u32, bytes: &str) {
    let status = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--fsize={bytes}:unlimited"))
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit sets the file size limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_disk_every_thank_you_is_stored_and_every_refusal_can_be_answered_again() {
    let app = spawn_app(Db::Sqlite).await;
    let (round, links) = round_with_links(&app, 12).await;
    let admin = app.admin_token().await;
    let (server, base) = serve_over(&app).await;
    let pid = server.id().expect("the server runs");
    let client = &app.client;
    let patience = Duration::from_secs(5);
    let mut acknowledged = Vec::new();

    for token in &links[0..6] {
        let reply = answer_at(client, &base, token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        acknowledged.push(token.clone());
    }

    // The disk is full: no write of the database files gets through.
    limit_file_size(pid, "0");
    let mut refused = Vec::new();
    for token in &links[6..12] {
        let reply = answer_at(client, &base, token).await;
        assert_not_saved(&reply, patience);
        refused.push(token.clone());
    }
    for token in &links[0..2] {
        let reply = answer_at(client, &base, token).await;
        assert_eq!(
            reply.status, 409,
            "already answered, full disk or not: {reply:?}"
        );
        assert!(reply.took < patience, "answered in {:?}", reply.took);
    }
    let created = reply_of(
        client
            .post(format!("{base}/api/v1/teams"))
            .bearer_auth(&admin)
            .json(&json!({ "name": "Written to a full disk" })),
    )
    .await;
    assert_problem_503(&created, patience);
    assert_problem_503(&readyz(client, &base).await, Duration::from_millis(1500));

    // Space again: the same process recovers, and the refused links work.
    limit_file_size(pid, "unlimited");
    wait_until_ready(client, &base).await;
    for token in links[12..18].iter().chain(&refused) {
        let reply = answer_at(client, &base, token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        acknowledged.push(token.clone());
    }

    // Restarted (the in-process server over the same files): every thank-you is
    // there, and none of those links is accepted a second time.
    terminate(server).await;
    assert_stored_exactly(&app, round, &acknowledged).await;
    for token in &acknowledged {
        let reply = answer_at(client, &app.address, token).await;
        assert_eq!(reply.status, 409, "{reply:?}");
    }
}

/// Caps every pooled connection of the app at its database's current size plus
/// `spare` pages (a per-connection setting: connections the pool opens later are
/// uncapped, so the test caps again before each request).
async fn cap_pages(app: &TestApp, spare: i64) {
    let pool = app.state.store.connection().get_sqlite_connection_pool();
    let mut connections = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        connections.push(pool.acquire().await.expect("a pooled connection"));
    }
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&mut *connections[0])
        .await
        .expect("the page count");
    for connection in &mut connections {
        let limit = format!("PRAGMA max_page_count = {}", pages + spare);
        sqlx::query(sqlx::AssertSqlSafe(limit))
            .execute(&mut **connection)
            .await
            .expect("the page limit is set");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_at_its_page_limit_refuses_answers_with_503_and_takes_them_once_it_has_room() {
    let app = spawn_app(Db::Sqlite).await;
    let (round, links) = round_with_links(&app, 12).await;
    let client = &app.client;
    let base = app.address.clone();
    let patience = Duration::from_secs(5);
    let long_comment = "A comment that takes room. ".repeat(70);
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();

    for token in &links[0..3] {
        assert_eq!(answer_at(client, &base, token).await.status, 200);
        acknowledged.push(token.clone());
    }
    for token in &links[3..] {
        let form = app.answer_form(token).await;
        let body = form_urlencode(&form.fields(|_, options| options[0], Some(&long_comment)));
        cap_pages(&app, 0).await;
        let reply = post_form(client, &base, token, body).await;
        match reply.status {
            200 => acknowledged.push(token.clone()),
            _ => {
                assert_not_saved(&reply, patience);
                refused.push(token.clone());
            }
        }
        if refused.len() == 3 {
            break;
        }
    }
    assert_eq!(refused.len(), 3, "the page limit refuses answers");
    cap_pages(&app, 0).await;
    assert_problem_503(&readyz(client, &base).await, Duration::from_millis(1500));

    cap_pages(&app, 100_000).await;
    wait_until_ready(client, &base).await;
    for token in &refused {
        let reply = answer_at(client, &base, token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        acknowledged.push(token.clone());
    }
    assert_stored_exactly(&app, round, &acknowledged).await;
}

// ---------------------------------------------------------------------------------
// An outage

/// A PostgreSQL app whose every connection goes through a proxy the test can cut.
async fn app_behind_a_proxy() -> (TcpProxy, TestApp) {
    let proxy = TcpProxy::in_front_of_postgres(&postgres_base_url()).await;
    let app = spawn_app_with(Db::Postgres, |config| {
        config.database_url = config.database_url.as_deref().map(|url| proxy.route(url));
    })
    .await;
    (proxy, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_outage_is_a_quick_503_with_retry_after_and_heals_by_itself() {
    let (proxy, app) = app_behind_a_proxy().await;
    let (round, links) = round_with_links(&app, 6).await;
    let admin = app.admin_token().await;
    let console = crate::admin_console::admin_signed_in(&app, "console.admin@example.com").await;
    let client = &app.client;
    let base = app.address.clone();
    let patience = Duration::from_secs(5);
    let mut acknowledged = Vec::new();
    for token in &links[0..3] {
        assert_eq!(answer_at(client, &base, token).await.status, 200);
        acknowledged.push(token.clone());
    }
    let waiting = &links[3];
    let waiting_form = filled_form(client, &base, waiting).await;

    // Answers keep coming in while the database goes away and comes back: each is
    // acknowledged (and then stored) or refused (and then answered again).
    let load = {
        let client = client.clone();
        let base = base.clone();
        let links = links[5..].to_vec();
        tokio::spawn(async move {
            let (mut acknowledged, mut refused) = (Vec::new(), Vec::new());
            for token in links {
                let page =
                    reply_of(client.get(format!("{base}{}", TestApp::answer_path(&token)))).await;
                let reply = match page.status {
                    200 => {
                        let form = AnswerForm::parse(&page.body);
                        let body = form_urlencode(&form.fields(|_, options| options[0], None));
                        post_form(&client, &base, &token, body).await
                    }
                    _ => page,
                };
                match reply.status {
                    200 => acknowledged.push(token),
                    503 => refused.push(token),
                    _ => panic!("an answer is acknowledged or refused with 503: {reply:?}"),
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            (acknowledged, refused)
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;

    proxy.cut();
    assert_problem_503(&readyz(client, &base).await, Duration::from_millis(1500));
    let page = reply_of(client.get(format!("{base}{}", TestApp::answer_path(&links[4])))).await;
    assert_eq!(page.status, 503, "{page:?}");
    assert_eq!(page.retry_after.as_deref(), Some("60"));
    assert!(
        page.body
            .contains("Your link still works: please try again in a minute.")
    );
    assert!(page.took < patience, "answered in {:?}", page.took);
    assert_not_saved(
        &post_form(client, &base, waiting, waiting_form.clone()).await,
        patience,
    );
    let teams = reply_of(
        client
            .get(format!("{base}/api/v1/teams"))
            .bearer_auth(&admin),
    )
    .await;
    assert_problem_503(&teams, patience);
    // The admin console says "try again", like the API, not "our fault".
    let page = reply_of(
        client
            .get(format!("{base}/admin/teams"))
            .header("Cookie", &console),
    )
    .await;
    assert_eq!(page.status, 503, "{page:?}");
    assert_eq!(page.retry_after.as_deref(), Some("60"));
    assert!(
        page.body.contains("The database is out of reach"),
        "{page:?}"
    );
    assert!(page.took < patience, "answered in {:?}", page.took);
    // So does the dashboard: the same rule decides for both page families.
    let page = reply_of(
        client
            .get(format!("{base}/dashboard"))
            .header("Cookie", &console),
    )
    .await;
    assert_eq!(page.status, 503, "{page:?}");
    assert_eq!(page.retry_after.as_deref(), Some("60"));
    assert!(
        page.body
            .contains("safepulse cannot reach its database just now"),
        "{page:?}"
    );
    assert!(page.took < patience, "answered in {:?}", page.took);
    proxy.restore().await;
    wait_until_ready(client, &base).await;
    let reply = post_form(client, &base, waiting, waiting_form).await;
    assert_eq!(reply.status, 200, "the link still works: {reply:?}");
    acknowledged.push(waiting.clone());
    let (acknowledged_under_load, refused_under_load) = load.await.expect("the load ends");
    assert!(
        !refused_under_load.is_empty(),
        "some answers came in while the database was down"
    );
    acknowledged.extend(acknowledged_under_load);
    for token in std::iter::once(&links[4]).chain(&refused_under_load) {
        let reply = answer_at(client, &base, token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        acknowledged.push(token.clone());
    }
    assert_stored_exactly(&app, round, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_postgresql_refuses_writes_with_503_and_readyz_says_so() {
    let (proxy, app) = app_behind_a_proxy().await;
    let (round, links) = round_with_links(&app, 6).await;
    let admin = app.admin_token().await;
    let client = &app.client;
    let base = app.address.clone();
    let patience = Duration::from_secs(5);
    assert_eq!(answer_at(client, &base, &links[0]).await.status, 200);

    // Read-only from the next session on (a hosted PostgreSQL does this when its
    // disk is nearly full); cutting the proxy makes the pool reconnect.
    let database = app
        .database_url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let admin_db = sea_orm::Database::connect(postgres_base_url())
        .await
        .expect("PostgreSQL answers");
    let set_read_only = |on: bool| {
        format!(
            "ALTER DATABASE {database} SET default_transaction_read_only = {}",
            if on { "on" } else { "off" }
        )
    };
    admin_db
        .execute_unprepared(&set_read_only(true))
        .await
        .expect("the database is made read-only");
    proxy.cut();
    proxy.restore().await;

    assert_problem_503(&readyz(client, &base).await, Duration::from_millis(1500));
    assert_not_saved(&answer_at(client, &base, &links[1]).await, patience);
    let created = reply_of(
        client
            .post(format!("{base}/api/v1/teams"))
            .bearer_auth(&admin)
            .json(&json!({ "name": "Written to a read-only database" })),
    )
    .await;
    assert_problem_503(&created, patience);

    admin_db
        .execute_unprepared(&set_read_only(false))
        .await
        .expect("the database is writable again");
    proxy.cut();
    proxy.restore().await;
    wait_until_ready(client, &base).await;
    assert_eq!(answer_at(client, &base, &links[1]).await.status, 200);
    assert_stored_exactly(&app, round, &links[0..2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_writer_is_a_503_within_seconds_and_reads_go_on() {
    let app = spawn_app(Db::Sqlite).await;
    let (round, links) = round_with_links(&app, 6).await;
    let admin = app.admin_token().await;
    let client = &app.client;
    let base = app.address.clone();
    assert_eq!(answer_at(client, &base, &links[0]).await.status, 200);
    let waiting_form = filled_form(client, &base, &links[1]).await;

    // Another process's writer, holding the lock: here a connection of the test's
    // own, which SQLite treats no differently.
    let path = app.data_dir.join("safepulse.db");
    let mut other_writer = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        path.display()
    ))
    .await
    .expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other_writer)
        .await
        .expect("the write lock");

    // The busy timeout is 5 s; before the fix a request waited 30 s.
    let patience = Duration::from_secs(8);
    assert_problem_503(&readyz(client, &base).await, Duration::from_millis(1500));
    assert_not_saved(
        &post_form(client, &base, &links[1], waiting_form.clone()).await,
        patience,
    );
    let created = reply_of(
        client
            .post(format!("{base}/api/v1/teams"))
            .bearer_auth(&admin)
            .json(&json!({ "name": "Written while locked" })),
    )
    .await;
    assert_problem_503(&created, patience);
    let form = reply_of(client.get(format!("{base}{}", TestApp::answer_path(&links[2])))).await;
    assert_eq!(
        form.status, 200,
        "reading goes on beside a writer: {form:?}"
    );

    sqlx::query("ROLLBACK")
        .execute(&mut other_writer)
        .await
        .expect("the lock is released");
    wait_until_ready(client, &base).await;
    let reply = post_form(client, &base, &links[1], waiting_form).await;
    assert_eq!(reply.status, 200, "the link still works: {reply:?}");
    assert_stored_exactly(&app, round, &links[0..2]).await;
}
