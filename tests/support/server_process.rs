//! The real `safepulse serve`, as a child process whose every log line (stderr and
//! stdout) the test keeps: the log-capture tests read exactly what an operator's
//! log would hold.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use safepulse_api::app::build_state;
use safepulse_domain::{Clock, ManualClock};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::{Db, TestApp, fresh_postgres_database, test_config};

/// A running `safepulse serve` child process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts `binary serve` on a fresh database with JSON logs at `log_level`, and
    /// returns it with a [`TestApp`] whose client talks to it. The `TestApp`'s state
    /// shares the child's database and secrets directory (tests use it to issue
    /// tokens and read the database); it runs no server of its own.
    pub async fn start(binary: &Path, db: Db, log_level: &str) -> (TestApp, ServerProcess) {
        let dirs = tempfile::tempdir().expect("a temporary directory");
        let database_url = match db {
            Db::Sqlite => None,
            Db::Postgres => Some(fresh_postgres_database().await),
        };
        let config = test_config(&dirs, database_url.clone());
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SAFEPULSE_CONFIG", dirs.path().join("absent.toml"))
            .env("SAFEPULSE_DATA_DIR", &config.data_dir)
            .env("SAFEPULSE_SECRETS_DIR", &config.secrets_dir)
            .env("SAFEPULSE_LOG_FORMAT", "json")
            .env("SAFEPULSE_LOG_LEVEL", log_level)
            .args(["serve", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = &database_url {
            command.env("SAFEPULSE_DATABASE_URL", url);
        }
        let mut child = command.spawn().expect("safepulse serve starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            keep_lines(child.stderr.take().expect("piped stderr"), lines.clone()),
            keep_lines(child.stdout.take().expect("piped stdout"), lines.clone()),
        ];
        let mut process = ServerProcess {
            child,
            lines,
            readers,
        };
        let port = process.listening_port().await;

        // The child created the secrets on its first start; this state only reads them.
        let clock = ManualClock::new(chrono::Utc::now());
        let clock_for_state: Arc<dyn Clock> = Arc::new(clock.clone());
        let state = build_state(config.clone(), clock_for_state)
            .await
            .expect("a state over the child's database builds");
        let address = format!("http://127.0.0.1:{port}");
        let app = TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            state,
            clock,
            db,
            database_url: config.database_url(),
            data_dir: config.data_dir.clone(),
            secrets_dir: config.secrets_dir.clone(),
            _dirs: dirs,
        };
        (app, process)
    }

    /// Waits for the "listening" line and returns its port.
    async fn listening_port(&mut self) -> u16 {
        for _ in 0..600 {
            let found = self.log_lines().iter().find_map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).ok()?;
                (event["message"] == "safepulse is listening")
                    .then(|| event["port"].as_u64())
                    .flatten()
            });
            if let Some(port) = found {
                return u16::try_from(port).expect("a port number");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "safepulse serve exited with {status}: {:?}",
                    self.log_lines()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "safepulse serve did not start within 30 s: {:?}",
            self.log_lines()
        );
    }

    /// The lines written so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.lines.lock().expect("the log buffer").clone()
    }

    /// Stops the server and returns every line it wrote.
    pub async fn stop(mut self) -> Vec<String> {
        self.child.start_kill().expect("the server can be stopped");
        self.child.wait().await.expect("the server stops");
        for reader in self.readers.drain(..) {
            reader.await.expect("the output reader ends");
        }
        self.log_lines()
    }
}

fn keep_lines(
    output: impl AsyncRead + Unpin + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(output).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            lines.lock().expect("the log buffer").push(line);
        }
    })
}
