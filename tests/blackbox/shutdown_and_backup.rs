//! Stopping and backing up (issue 12 §4): after a graceful stop the SQLite file
//! alone, without its `-wal`, holds every answer `serve` acknowledged and
//! everything `worker` did; Ctrl-C (SIGINT) lets a request in flight finish like
//! SIGTERM does; `safepulse backup` copies the running database consistently, without a
//! key, and points to pg_dump on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use safepulse_domain::RoundId;
use safepulse_domain::keys::LinkToken;
use safepulse_store::entities::{open_response, outbox, team};
use safepulse_store::{SchemaStatus, Store};
use safepulse_tests::answer_form::{AnswerForm, form_urlencode};
use safepulse_tests::{
    Db, TestApp, free_port, on_both_databases, send_signal, spawn_app, terminate,
    wait_for_clean_exit, wait_until_healthy,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;
use uuid::Uuid;

const BINARY: &str = env!("CARGO_BIN_EXE_safepulse-under-test");
const PATIENCE: Duration = Duration::from_secs(120);

/// `safepulse serve` over the app's database on a free port, without the
/// in-process worker, once it answers.
async fn start_server(app: &TestApp) -> (Child, String) {
    let port = free_port();
    let child = app
        .safepulse_command(Path::new(BINARY), &["serve", "--port", &port.to_string()])
        .env("SAFEPULSE_IN_PROCESS_WORKER", "false")
        .spawn()
        .expect("safepulse serve starts");
    let base = format!("http://127.0.0.1:{port}");
    wait_until_healthy(&app.client, &base).await;
    (child, base)
}

/// Opens the link on `base`, answers every item with its first option, posts it.
async fn answer_at(client: &reqwest::Client, base: &str, token: &LinkToken) -> u16 {
    let link = format!("{base}/r/{}", token.encode());
    let page = client.get(&link).send().await.expect("the form opens");
    assert_eq!(page.status(), 200);
    let form = AnswerForm::parse(&page.text().await.expect("html"));
    client
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_urlencode(&form.fields(|_, options| options[0], None)))
        .send()
        .await
        .expect("the answer is posted")
        .status()
        .as_u16()
}

/// A round open for `members` people (and their leader), and its links.
async fn open_round_for(app: &TestApp, members: usize) -> (Uuid, Vec<LinkToken>) {
    let org = app.create_org(&[members]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await.into_values().collect();
    (round_id, tokens)
}

/// The SQLite database file alone, copied where no `-wal` or `-shm` is beside it,
/// and opened.
async fn the_file_alone(database: &Path) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(database, &copy).unwrap();
    let store = Store::connect_existing(&format!("sqlite://{}", copy.display()))
        .await
        .expect("the copy opens");
    (dir, store)
}

async fn answers_in(db: &impl ConnectionTrait, round_id: Uuid) -> u64 {
    open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round_id))
        .count(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_graceful_stop_the_sqlite_file_alone_holds_what_serve_and_worker_did() {
    let app = spawn_app(Db::Sqlite).await;
    let database = app.data_dir.join("safepulse.db");
    let (round_id, tokens) = open_round_for(&app, 40).await;
    let invitations = tokens.len() as u64;

    // The worker sends every invitation (into .eml files) and stops on Ctrl-C.
    let worker = app
        .safepulse_command(Path::new(BINARY), &["worker"])
        .spawn()
        .expect("safepulse worker starts");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while outbox::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
        > 0
    {
        assert!(tokio::time::Instant::now() < deadline, "the worker sends");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    send_signal(&worker, "INT");
    wait_for_clean_exit(worker, "SIGINT").await;
    let (_copy, alone) = the_file_alone(&database).await;
    assert_eq!(
        outbox::Entity::find()
            .count(alone.connection())
            .await
            .unwrap(),
        0,
        "the file alone knows every invitation was sent"
    );

    // The server acknowledges every answer and stops on SIGTERM.
    let (server, base) = start_server(&app).await;
    let client = reqwest::Client::new();
    for token in &tokens {
        assert_eq!(answer_at(&client, &base, token).await, 200);
    }
    terminate(server).await;
    let (_copy, alone) = the_file_alone(&database).await;
    assert_eq!(
        answers_in(alone.connection(), round_id).await,
        invitations,
        "the file alone holds every acknowledged answer"
    );
}

on_both_databases! {
    async fn ctrl_c_lets_a_request_in_flight_finish(app) {
        let (server, base) = start_server(&app).await;
        let token = app.admin_token().await;
        let body = json!({ "name": "Named during shutdown", "parent_id": null }).to_string();
        let (first, rest) = body.split_at(body.len() / 2);
        let address = base.trim_start_matches("http://").to_owned();
        let mut connection = tokio::net::TcpStream::connect(&address).await.unwrap();
        connection
            .write_all(
                format!(
                    "POST /api/v1/teams HTTP/1.1\r\nHost: {address}\r\n\
                     Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        // The request is in flight (its body half read) when Ctrl-C arrives.
        tokio::time::sleep(Duration::from_millis(300)).await;
        send_signal(&server, "INT");
        tokio::time::sleep(Duration::from_secs(1)).await;
        connection.write_all(rest.as_bytes()).await.unwrap();
        let mut response = String::new();
        connection.read_to_string(&mut response).await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 201"),
            "the request finishes after SIGINT: {response:?}"
        );
        wait_for_clean_exit(server, "SIGINT").await;
        let stored = team::Entity::find()
            .filter(team::Column::Name.eq("Named during shutdown"))
            .count(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(stored, 1);
        assert!(
            app.client.get(format!("{base}/healthz")).send().await.is_err(),
            "the server is gone"
        );
    }

    async fn a_backup_of_the_running_service_is_complete_opens_and_holds_no_key(app) {
        let dir = tempfile::tempdir().unwrap();
        let backup = |name: &str| -> PathBuf { dir.path().join(name) };
        let run_backup = |file: PathBuf| {
            let mut command = app.safepulse_command(
                Path::new(BINARY),
                &["backup", file.to_str().unwrap()],
            );
            command.stderr(Stdio::piped());
            async move { command.output().await.expect("the binary runs") }
        };
        let (round_id, tokens) = open_round_for(&app, 30).await;

        if app.db == Db::Postgres {
            let output = run_backup(backup("copy.db")).await;
            assert!(!output.status.success());
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.contains("pg_dump"), "{stderr}");
            assert!(!backup("copy.db").exists());
            return;
        }

        let (server, base) = start_server(&app).await;
        let client = reqwest::Client::new();
        let (early, late) = tokens.split_at(tokens.len() / 2);
        for token in early {
            assert_eq!(answer_at(&client, &base, token).await, 200);
        }
        // Answers keep arriving while the first copy is taken.
        let answering = {
            let (client, base, late) = (client.clone(), base.clone(), late.to_vec());
            tokio::spawn(async move {
                for token in &late {
                    assert_eq!(answer_at(&client, &base, token).await, 200);
                }
            })
        };
        let during = run_backup(backup("during.db")).await;
        assert!(during.status.success(), "{}", String::from_utf8_lossy(&during.stderr));
        answering.await.unwrap();
        let after = run_backup(backup("after.db")).await;
        assert!(after.status.success(), "{}", String::from_utf8_lossy(&after.stderr));
        let again = run_backup(backup("after.db")).await;
        assert!(!again.status.success(), "an existing file is never overwritten");
        assert!(String::from_utf8(again.stderr).unwrap().contains("exists already"));
        terminate(server).await;
        let mut written: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        assert_eq!(written, ["after.db", "during.db"], "one file per backup, nothing beside it");

        for (name, at_least, at_most) in [
            ("during.db", early.len() as u64, tokens.len() as u64),
            ("after.db", tokens.len() as u64, tokens.len() as u64),
        ] {
            let path = backup(name);
            let copy = Store::connect_existing(&format!("sqlite://{}", path.display()))
                .await
                .expect("the backup opens");
            let check = copy
                .connection()
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "PRAGMA integrity_check",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(check.try_get_by_index::<String>(0).unwrap(), "ok", "{name}");
            assert_eq!(copy.schema_status().await.unwrap(), SchemaStatus::Current);
            let answers = answers_in(copy.connection(), round_id).await;
            assert!(
                (at_least..=at_most).contains(&answers),
                "{name}: {answers} answers, expected {at_least}..={at_most}"
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{name} is private");
            }
            // No key of any kind is in the copy, and none was written beside it.
            let bytes = std::fs::read(&path).unwrap();
            let salt = app.state.keys.keyring().read(RoundId(round_id)).unwrap().unwrap();
            assert!(!bytes.windows(salt.len()).any(|window| window == salt));
            for key in std::fs::read_dir(&app.secrets_dir).unwrap() {
                let key = key.unwrap().path();
                if key.is_file() {
                    let text = std::fs::read_to_string(&key).unwrap();
                    assert!(!bytes.windows(text.len()).any(|window| window == text.as_bytes()));
                }
            }
        }
    }
}
