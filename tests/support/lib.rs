//! Test support for the black-box tests: [`spawn_app`] starts the real HTTP server
//! on a random port over a fresh database — a new SQLite file, or a new PostgreSQL
//! database on the local server — and gives tests a client and ways to act as
//! admin, hr or a manager.
//!
//! PostgreSQL is reached at `SAFEPULSE_TEST_POSTGRES_URL`, which `scripts/test`
//! points at its own throwaway cluster (default without it:
//! `postgres://postgres@127.0.0.1:5432/postgres`). Tests fail, never skip, when it is
//! unreachable.

pub mod answer_form;
pub mod database_dump;
pub mod disclosure_oracle;
pub mod server_process;
pub mod smtp_sink;
pub mod tcp_proxy;
pub mod webdriver;

use std::path::PathBuf;
use std::sync::Arc;

use safepulse_api::app::{Application, build_state};
use safepulse_api::config::Config;
use safepulse_api::state::AppState;
use safepulse_domain::{Clock, ManualClock, Role};
use sea_orm::{ConnectionTrait, Database};

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: ManualClock,
    pub db: Db,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub secrets_dir: PathBuf,
    _dirs: tempfile::TempDir,
}

pub fn postgres_base_url() -> String {
    std::env::var("SAFEPULSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Creates an empty PostgreSQL database and returns its URL.
pub async fn fresh_postgres_database() -> String {
    let base = postgres_base_url();
    let admin = Database::connect(&base).await.unwrap_or_else(|error| {
        panic!("PostgreSQL must be reachable at {base} for the database tests: {error}")
    });
    let name = format!("safepulse_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    admin.close().await.ok();
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("the PostgreSQL URL ends with a database name");
    format!("{prefix}/{name}")
}

/// A test configuration: its own data and secrets directories, port 0, no
/// in-process worker (tests drive delivery one step at a time).
pub fn test_config(dirs: &tempfile::TempDir, database_url: Option<String>) -> Config {
    Config {
        data_dir: dirs.path().join("data"),
        secrets_dir: dirs.path().join("secrets"),
        database_url,
        port: 0,
        in_process_worker: false,
        log_level: "warn".to_owned(),
        ..Config::default()
    }
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
pub async fn spawn_app_with(db: Db, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dirs = tempfile::tempdir().expect("a temporary directory");
    let database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(fresh_postgres_database().await),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let mut config = test_config(&dirs, database_url);
    config.public_url = format!("http://127.0.0.1:{port}");
    adjust(&mut config);
    let database_url = config.database_url();
    let data_dir = config.data_dir.clone();
    let secrets_dir = config.secrets_dir.clone();
    let clock = ManualClock::new(chrono::Utc::now());
    let clock_for_state: Arc<dyn Clock> = Arc::new(clock.clone());
    let state = build_state(config, clock_for_state)
        .await
        .expect("the application state builds");
    let application =
        Application::build_with_listener(state.clone(), listener, std::future::pending())
            .expect("the server builds");
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        state,
        clock,
        db,
        database_url,
        data_dir,
        secrets_dir,
        _dirs: dirs,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A freshly issued token for `subject` with `role`.
    pub async fn token(&self, role: Role, subject: &str) -> String {
        self.state
            .tokens
            .issue(
                self.state.store.connection(),
                subject,
                role,
                safepulse_store::tokens::TokenKind::Api,
                chrono::Duration::hours(1),
                chrono::Utc::now(),
            )
            .await
            .expect("a token")
    }

    pub async fn admin_token(&self) -> String {
        self.token(Role::Admin, "admin@example.com").await
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn patch_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    /// Creates a team as admin and returns its id.
    pub async fn create_team(&self, name: &str, parent: Option<uuid::Uuid>) -> uuid::Uuid {
        let token = self.admin_token().await;
        let response = self
            .post_json(
                "/api/v1/teams",
                &token,
                &serde_json::json!({ "name": name, "parent_id": parent }),
            )
            .await;
        assert_eq!(response.status(), 201, "creating team {name}");
        let body: serde_json::Value = response.json().await.expect("json");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id")
    }

    /// Creates a person as admin and returns their id.
    pub async fn create_person(&self, email: &str, team: uuid::Uuid) -> uuid::Uuid {
        let token = self.admin_token().await;
        let response = self
            .post_json(
                "/api/v1/people",
                &token,
                &serde_json::json!({ "email": email, "name": email, "team_id": team }),
            )
            .await;
        assert_eq!(response.status(), 201, "creating person {email}");
        let body: serde_json::Value = response.json().await.expect("json");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id")
    }
}

/// A small organisation for round tests.
#[derive(Debug, Clone)]
pub struct Org {
    pub department: uuid::Uuid,
    pub teams: Vec<uuid::Uuid>,
    /// Members of each team (not leaders), in team order.
    pub members: Vec<Vec<uuid::Uuid>>,
    /// The leader of each team, in team order.
    pub leaders: Vec<uuid::Uuid>,
}

impl TestApp {
    /// A department with `team_sizes.len()` teams; each team gets that many members
    /// and one leader (who answers into the Leadership node).
    pub async fn create_org(&self, team_sizes: &[usize]) -> Org {
        let token = self.admin_token().await;
        let department = self.create_team("Department", None).await;
        let mut org = Org {
            department,
            teams: Vec::new(),
            members: Vec::new(),
            leaders: Vec::new(),
        };
        for (index, size) in team_sizes.iter().enumerate() {
            let team = self
                .create_team(&format!("Team {index}"), Some(department))
                .await;
            let members = futures_util::future::join_all((0..*size).map(|member| {
                self.create_person_with_token(
                    &token,
                    format!("m{member}.t{index}@example.com"),
                    team,
                )
            }))
            .await;
            let leader = self
                .create_person_with_token(&token, format!("lead.t{index}@example.com"), team)
                .await;
            let response = self
                .client
                .put(self.url(&format!("/api/v1/teams/{team}/leaders/{leader}")))
                .bearer_auth(&token)
                .send()
                .await
                .expect("the request is sent");
            assert!(
                response.status().is_success(),
                "making {leader} lead {team}"
            );
            org.teams.push(team);
            org.members.push(members);
            org.leaders.push(leader);
        }
        org
    }

    async fn create_person_with_token(
        &self,
        token: &str,
        email: String,
        team: uuid::Uuid,
    ) -> uuid::Uuid {
        let response = self
            .post_json(
                "/api/v1/people",
                token,
                &serde_json::json!({ "email": email, "name": email, "team_id": team }),
            )
            .await;
        assert_eq!(response.status(), 201, "creating person {email}");
        let body: serde_json::Value = response.json().await.expect("json");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id")
    }

    /// Creates a survey for `teams` with the defaults plus `extra` fields.
    pub async fn create_survey(
        &self,
        teams: &[uuid::Uuid],
        extra: serde_json::Value,
    ) -> uuid::Uuid {
        let token = self.admin_token().await;
        let mut body = serde_json::json!({ "name": "Team pulse", "team_ids": teams });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let response = self.post_json("/api/v1/surveys", &token, &body).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(status, 201, "creating a survey: {body}");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id")
    }

    /// Opens a round of `survey` now, through the API.
    pub async fn open_round(&self, survey: uuid::Uuid) -> uuid::Uuid {
        let token = self.admin_token().await;
        let response = self
            .post_json(
                &format!("/api/v1/surveys/{survey}/rounds"),
                &token,
                &serde_json::json!({}),
            )
            .await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(status, 201, "opening a round: {body}");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id")
    }

    /// Closes a round through the API and returns the round as JSON.
    pub async fn close_round(&self, round: uuid::Uuid) -> serde_json::Value {
        let token = self.admin_token().await;
        let response = self
            .post_json(
                &format!("/api/v1/rounds/{round}/close"),
                &token,
                &serde_json::json!({}),
            )
            .await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(status, 200, "closing a round: {body}");
        body
    }

    /// Every invitation's link token of an open round, by person — recomputed the
    /// way the outbox worker does (master key, salt, invitation id), for tests that
    /// answer without reading emails.
    pub async fn link_tokens(
        &self,
        round: uuid::Uuid,
    ) -> std::collections::HashMap<uuid::Uuid, safepulse_domain::keys::LinkToken> {
        link_tokens_of(self.state.store.connection(), &self.state.keys, round).await
    }
}

/// The link tokens of an open round's invitations, by person, from the database,
/// the master keys and the round keyring (what the emails of the round carry).
pub async fn link_tokens_of(
    db: &sea_orm::DatabaseConnection,
    keys: &safepulse_store::keyring::KeyChain,
    round: uuid::Uuid,
) -> std::collections::HashMap<uuid::Uuid, safepulse_domain::keys::LinkToken> {
    use safepulse_store::entities::{invitation, round as round_entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let round_row = round_entity::Entity::find_by_id(round)
        .one(db)
        .await
        .expect("query")
        .expect("the round exists");
    let round_key = keys
        .round_key(safepulse_domain::RoundId(round), &round_row.key_id)
        .expect("the round is open and its key is in the keyring");
    invitation::Entity::find()
        .filter(invitation::Column::RoundId.eq(round))
        .all(db)
        .await
        .expect("query")
        .into_iter()
        .map(|row| (row.person_id.0, round_key.link_token(row.id)))
        .collect()
}

/// SMTP settings for the test sink on `port`: plain text, no login, `pool_size`
/// connections, a short timeout so a test with a silent server fails fast.
pub fn smtp_to_sink(port: u16, pool_size: u32) -> safepulse_mailer::SmtpConfig {
    safepulse_mailer::SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: safepulse_mailer::SmtpTls::None,
        username: None,
        password: None,
        pool_size,
        timeout_seconds: 5,
        message_timeout_seconds: 10,
        from: None,
    }
}

impl TestApp {
    /// The outbox worker the binary would run over this app's database, keys and
    /// (manual) clock, sending through `transport`.
    pub fn outbox_worker(
        &self,
        transport: safepulse_mailer::MailTransport,
    ) -> safepulse_mailer::OutboxWorker {
        safepulse_api::worker::outbox_worker(&self.state, transport)
            .expect("the outbox worker starts")
    }

    /// An outbox worker sending to the SMTP sink on `port`.
    pub fn outbox_worker_to_sink(&self, port: u16) -> safepulse_mailer::OutboxWorker {
        self.outbox_worker(
            safepulse_mailer::MailTransport::smtp(&smtp_to_sink(port, 4))
                .expect("an SMTP transport"),
        )
    }

    /// The scheduler the binary would run over this app's database and keys.
    pub fn scheduler(&self) -> safepulse_rounds::Scheduler {
        safepulse_api::worker::scheduler(&self.state)
    }

    /// Delivers batches until nothing is due; returns the summed report.
    pub async fn deliver_all(
        &self,
        worker: &safepulse_mailer::OutboxWorker,
    ) -> safepulse_mailer::DeliveryReport {
        let mut total = safepulse_mailer::DeliveryReport::default();
        loop {
            let report = worker
                .deliver_batch(64)
                .await
                .expect("a batch is delivered");
            if report.queue_was_empty() {
                return total;
            }
            total.claimed += report.claimed;
            total.delivered += report.delivered;
            total.retried += report.retried;
            total.failed += report.failed;
            total.discarded += report.discarded;
        }
    }
}

impl TestApp {
    /// The real `safepulse` binary (`binary`: the test's
    /// `env!("CARGO_BIN_EXE_safepulse-under-test")`) over this app's database,
    /// secrets and public URL, with no configuration file and quiet logs.
    pub fn safepulse_command(
        &self,
        binary: &std::path::Path,
        args: &[&str],
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("--config")
            .arg(self.data_dir.join("no-such-config.toml"))
            .args(args)
            .env("SAFEPULSE_DATA_DIR", &self.data_dir)
            .env("SAFEPULSE_SECRETS_DIR", &self.secrets_dir)
            .env("SAFEPULSE_DATABASE_URL", &self.database_url)
            .env("SAFEPULSE_PUBLIC_URL", &self.address)
            .env("SAFEPULSE_LOG_LEVEL", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }
}

impl TestApp {
    /// Stores an answer of `value` to each of a round's `items` items through the
    /// store's submit path (no HTTP), as the answer page would.
    pub async fn submit_directly(
        &self,
        token: &safepulse_domain::keys::LinkToken,
        value: u8,
        items: usize,
    ) -> safepulse_store::answers::SubmitOutcome {
        self.submit_with_comment(token, value, items, None).await
    }

    /// [`TestApp::submit_directly`] with an optional comment.
    pub async fn submit_with_comment(
        &self,
        token: &safepulse_domain::keys::LinkToken,
        value: u8,
        items: usize,
        comment: Option<&str>,
    ) -> safepulse_store::answers::SubmitOutcome {
        safepulse_store::answers::submit(
            &self.state.store,
            &self.state.keys,
            token,
            safepulse_store::answers::ValidAnswer {
                values: vec![value; items],
                comment: comment.map(str::to_owned),
            },
        )
        .await
        .expect("submit runs")
    }

    /// An open round's stored answers, by node, opened with the round key (what
    /// the close sees; the database holds them sealed).
    pub async fn unsealed_answers(&self, round_id: uuid::Uuid) -> Vec<(uuid::Uuid, Vec<u8>)> {
        use safepulse_store::entities::open_response;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let seal = self
            .round_key(&self.round_row(round_id).await)
            .answer_seal();
        open_response::Entity::find()
            .filter(open_response::Column::RoundId.eq(round_id))
            .all(self.state.store.connection())
            .await
            .expect("query")
            .into_iter()
            .map(|row| {
                let values = seal
                    .open_answers(row.node_id, &row.sealed)
                    .expect("the answer opens");
                (row.node_id.0, values)
            })
            .collect()
    }

    /// An open round's stored comments, opened with the round key.
    pub async fn unsealed_comments(&self, round_id: uuid::Uuid) -> Vec<String> {
        use safepulse_store::entities::open_comment;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let seal = self
            .round_key(&self.round_row(round_id).await)
            .answer_seal();
        open_comment::Entity::find()
            .filter(open_comment::Column::RoundId.eq(round_id))
            .all(self.state.store.connection())
            .await
            .expect("query")
            .into_iter()
            .map(|row| {
                seal.open_comment(row.node_id, &row.sealed)
                    .expect("the comment opens")
            })
            .collect()
    }

    /// The round's row.
    pub async fn round_row(&self, round_id: uuid::Uuid) -> safepulse_store::entities::round::Model {
        use sea_orm::EntityTrait;
        safepulse_store::entities::round::Entity::find_by_id(round_id)
            .one(self.state.store.connection())
            .await
            .expect("query")
            .expect("the round exists")
    }

    /// The key of an open round, from the master keys and the round keyring.
    pub fn round_key(
        &self,
        round: &safepulse_store::entities::round::Model,
    ) -> safepulse_domain::keys::RoundKey {
        self.state
            .keys
            .round_key(round.id, &round.key_id)
            .expect("the round is open and its key is in the keyring")
    }

    /// A closed round of a department with two teams of six members and their two
    /// leaders, everyone answering (values 3–6 in turn).
    pub async fn closed_round_of_two_teams(&self) -> (Org, uuid::Uuid) {
        let org = self.create_org(&[6, 6]).await;
        let survey = self
            .create_survey(&[org.department], serde_json::json!({}))
            .await;
        let round_id = self.open_round(survey).await;
        let items = self.item_count(round_id).await;
        let tokens = self.link_tokens(round_id).await;
        for (index, token) in tokens.values().enumerate() {
            let outcome = self
                .submit_directly(token, 3 + (index % 4) as u8, items)
                .await;
            assert_eq!(outcome, safepulse_store::answers::SubmitOutcome::Accepted);
        }
        self.close_round(round_id).await;
        (org, round_id)
    }
}

impl TestApp {
    /// How many items a round asks.
    pub async fn item_count(&self, round_id: uuid::Uuid) -> usize {
        use safepulse_store::entities::round_item;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        round_item::Entity::find()
            .filter(round_item::Column::RoundId.eq(round_id))
            .count(self.state.store.connection())
            .await
            .expect("the round's items") as usize
    }
}

/// A free loopback port (bound and released: a child process binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Sends SIGTERM to a child and waits (up to a minute) for a clean exit.
pub async fn terminate(child: tokio::process::Child) {
    send_signal(&child, "TERM");
    wait_for_clean_exit(child, "SIGTERM").await;
}

/// Sends the signal `name` (`TERM`, `INT`, …) to a running child.
pub fn send_signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("the process is running").to_string();
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

/// Waits (up to a minute) for a child to exit with success after `what`.
pub async fn wait_for_clean_exit(mut child: tokio::process::Child, what: &str) {
    let exit = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
        .await
        .unwrap_or_else(|_| panic!("the process stops within a minute after {what}"))
        .expect("the exit status");
    assert!(exit.success(), "a clean exit after {what}: {exit:?}");
}

/// Waits until `url` answers `/healthz` (a child server is up), for up to a minute.
pub async fn wait_until_healthy(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{base} did not become healthy");
}

/// Runs a test body once on SQLite and once on PostgreSQL:
///
/// ```text
/// on_both_databases! {
///     async fn a_sentence_saying_what_holds(app) { ... }
/// }
/// ```
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($app: $crate::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    body($crate::spawn_app($crate::Db::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    body($crate::spawn_app($crate::Db::Postgres).await).await
                }
            }
        )*
    };
}
