//! Getting a [`Message`] out of the process: [`MailTransport`] (pooled async SMTP,
//! or `.eml` files for the embedded default), [`SendError`] (retry or give up) and
//! [`retry_delay`] (capped exponential backoff with jitter).
//!
//! The SMTP connections are pooled here rather than in lettre's pool: a send that
//! takes longer than `message_timeout_seconds` (or that the outbox worker abandons
//! at shutdown) is cancelled, and a cancelled send must take its connection with
//! it. lettre's pool would put a connection back mid-transaction, and the next
//! message on it would read the previous one's replies.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Severity;
use lettre::{Address, Message};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// First retry after about this long.
pub const RETRY_BASE_DELAY: Duration = Duration::from_secs(5);
/// No retry waits longer than this.
pub const RETRY_MAX_DELAY: Duration = Duration::from_secs(30 * 60);
/// Retries are spread ±20% so that rows which failed together do not retry together.
const RETRY_JITTER: f64 = 0.2;
/// `.eml` files written at once: enough to overlap their fsyncs.
const PARALLEL_FILE_WRITES: usize = 8;

/// How the connection to the SMTP server is protected. Spelled `none`, `starttls`
/// and `tls` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a trusted network.
    None,
    /// Connect in plain text, then require `STARTTLS` (never fall back to plain text).
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
}

/// lettre waits on Nagle's algorithm once per message, so one connection manages
/// only a few dozen messages a second; 32 connections reach about 1,400 a second
/// to a local relay (BENCHMARKS.md).
pub const DEFAULT_POOL_SIZE: u32 = 32;

fn default_pool_size() -> u32 {
    DEFAULT_POOL_SIZE
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_message_timeout_seconds() -> u64 {
    60
}

/// A pooled connection unused for longer than this is closed rather than reused:
/// relays drop idle clients after a minute or a few.
const IDLE_CONNECTION_LIMIT: Duration = Duration::from_secs(60);

/// SMTP settings: the binary's `[smtp]` configuration section deserializes into
/// this type directly, so the configuration and the transport cannot disagree.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Connections kept open and used in parallel; the outbox worker sends this many
    /// messages at once. See [`DEFAULT_POOL_SIZE`].
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Per connection and per command; a slow server counts as a transient failure.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// The most one message may take from taking a connection to the server's
    /// final reply, however the time is spread over its commands; longer counts
    /// as a transient failure.
    #[serde(default = "default_message_timeout_seconds")]
    pub message_timeout_seconds: u64,
    /// The envelope sender (`MAIL FROM`), where bounces go, e.g.
    /// `bounces@example.com` or `safepulse <pulse@example.com>`. Unset: the address
    /// of the emails' `From` header.
    #[serde(default)]
    pub from: Option<String>,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("pool_size", &self.pool_size)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("message_timeout_seconds", &self.message_timeout_seconds)
            .field("from", &self.from)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportConfigError {
    #[error("SMTP username and password must be given together")]
    IncompleteCredentials,
    #[error("the SMTP pool needs at least one connection")]
    EmptyPool,
    #[error("smtp.timeout_seconds and smtp.message_timeout_seconds must be at least 1")]
    ZeroTimeout,
    #[error("smtp.from must be an email address, optionally with a name: \"name <address>\"")]
    MalformedEnvelopeSender,
    #[error("TLS setup for the SMTP host failed: {0}")]
    Tls(#[source] lettre::transport::smtp::Error),
    #[error(
        "the SMTP transport must be built inside a Tokio runtime (its connection pool runs a background task)"
    )]
    NoTokioRuntime,
    #[error("cannot create the mail directory {}: {source}", path.display())]
    MailDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a message was not sent, and whether trying again can help.
///
/// The server's message may name the recipient's address: store it on the outbox
/// row for admins, but never log it next to survey data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: a 4xx reply, a refused, dropped or timed-out connection, a
    /// TLS failure, a full disk. Nothing here says the address is bad.
    #[error("temporary failure{}: {reason}", smtp_code.map(|code| format!(" ({code})")).unwrap_or_default())]
    Transient {
        smtp_code: Option<u16>,
        reason: String,
    },
    /// Do not retry: the server answered 5xx (unknown mailbox, policy, …).
    #[error("permanent failure ({smtp_code}): {server_message}")]
    Permanent {
        smtp_code: u16,
        server_message: String,
    },
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient { .. })
    }
}

/// Where outgoing mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// Pooled async SMTP connections: production.
    Smtp(SmtpPool),
    /// One `.eml` file per message in this directory: the embedded default for
    /// trying safepulse (open the files with any mail client).
    File(PathBuf),
}

/// Up to `pool_size` SMTP connections, each used by one message at a time and
/// kept open between messages. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SmtpPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    host: String,
    port: u16,
    tls: ConnectionSecurity,
    hello_name: ClientId,
    credentials: Option<Credentials>,
    command_timeout: Duration,
    message_timeout: Duration,
    /// Overrides the envelope sender derived from the `From` header.
    envelope_sender: Option<Address>,
    pool_size: u32,
    /// One permit per connection that may exist.
    slots: Semaphore,
    /// Connections between messages, with the instant each was put back.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

#[derive(Clone)]
enum ConnectionSecurity {
    None,
    StartTls(TlsParameters),
    Wrapper(TlsParameters),
}

impl fmt::Debug for SmtpPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpPool")
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("pool_size", &self.inner.pool_size)
            .finish_non_exhaustive()
    }
}

impl SmtpPool {
    pub fn pool_size(&self) -> u32 {
        self.inner.pool_size
    }

    /// Sends one message on a pooled connection, within the message timeout.
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let inner = &self.inner;
        let envelope = match &inner.envelope_sender {
            None => message.envelope().clone(),
            Some(sender) => Envelope::new(Some(sender.clone()), message.envelope().to().to_vec())
                .map_err(|error| SendError::Transient {
                smtp_code: None,
                reason: error.to_string(),
            })?,
        };
        let bytes = message.formatted();
        // The semaphore is never closed.
        let _slot = inner
            .slots
            .acquire()
            .await
            .map_err(|closed| SendError::Transient {
                smtp_code: None,
                reason: closed.to_string(),
            })?;
        // The connection lives inside this future: when the timeout (or a caller
        // that gives up) drops the future, the connection is closed with it.
        let attempt = async {
            let mut connection = self.connection().await.map_err(classify_smtp_error)?;
            let result = connection.send(&envelope, &bytes).await;
            // lettre marks a connection broken after any error; only a clean one
            // is reused.
            if !connection.has_broken() {
                self.put_back(connection);
            }
            result.map(|_accepted| ()).map_err(classify_smtp_error)
        };
        tokio::time::timeout(inner.message_timeout, attempt)
            .await
            .unwrap_or_else(|_elapsed| {
                Err(SendError::Transient {
                    smtp_code: None,
                    reason: format!(
                        "the mail server took longer than {} s for one message",
                        inner.message_timeout.as_secs()
                    ),
                })
            })
    }

    /// An idle connection that still answers, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        loop {
            let parked = self
                .inner
                .idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop();
            let Some((mut connection, parked_at)) = parked else {
                break;
            };
            if parked_at.elapsed() < IDLE_CONNECTION_LIMIT && connection.test_connected().await {
                return Ok(connection);
            }
            connection.abort().await;
        }
        let inner = &self.inner;
        let wrapper = match &inner.tls {
            ConnectionSecurity::Wrapper(parameters) => Some(parameters.clone()),
            ConnectionSecurity::None | ConnectionSecurity::StartTls(_) => None,
        };
        let mut connection = AsyncSmtpConnection::connect_tokio1(
            (inner.host.as_str(), inner.port),
            Some(inner.command_timeout),
            &inner.hello_name,
            wrapper,
            None,
        )
        .await?;
        if let ConnectionSecurity::StartTls(parameters) = &inner.tls {
            // Required, never opportunistic: without STARTTLS this fails.
            connection
                .starttls(parameters.clone(), &inner.hello_name)
                .await?;
        }
        if let Some(credentials) = &inner.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }

    fn put_back(&self, connection: AsyncSmtpConnection) {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((connection, Instant::now()));
    }
}

impl MailTransport {
    /// A pooled SMTP transport. Connects lazily: a wrong host shows up as
    /// [`SendError::Transient`] on the first send, not here.
    pub fn smtp(config: &SmtpConfig) -> Result<MailTransport, TransportConfigError> {
        // The connections' timeouts are tokio timers.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TransportConfigError::NoTokioRuntime);
        }
        if config.pool_size == 0 {
            return Err(TransportConfigError::EmptyPool);
        }
        if config.timeout_seconds == 0 || config.message_timeout_seconds == 0 {
            return Err(TransportConfigError::ZeroTimeout);
        }
        let tls = match config.tls {
            SmtpTls::None => ConnectionSecurity::None,
            SmtpTls::StartTls => ConnectionSecurity::StartTls(
                TlsParameters::new(config.host.clone()).map_err(TransportConfigError::Tls)?,
            ),
            SmtpTls::Tls => ConnectionSecurity::Wrapper(
                TlsParameters::new(config.host.clone()).map_err(TransportConfigError::Tls)?,
            ),
        };
        let credentials = match (&config.username, &config.password) {
            (Some(username), Some(password)) => {
                Some(Credentials::new(username.clone(), password.clone()))
            }
            (None, None) => None,
            _ => return Err(TransportConfigError::IncompleteCredentials),
        };
        let envelope_sender = config
            .from
            .as_deref()
            .map(|from| {
                from.parse::<Mailbox>()
                    .map(|mailbox| mailbox.email)
                    .map_err(|_| TransportConfigError::MalformedEnvelopeSender)
            })
            .transpose()?;
        Ok(MailTransport::Smtp(SmtpPool {
            inner: Arc::new(PoolInner {
                host: config.host.clone(),
                port: config.port,
                tls,
                hello_name: ClientId::default(),
                credentials,
                command_timeout: Duration::from_secs(config.timeout_seconds),
                message_timeout: Duration::from_secs(config.message_timeout_seconds),
                envelope_sender,
                pool_size: config.pool_size,
                slots: Semaphore::new(config.pool_size as usize),
                idle: Mutex::new(Vec::new()),
            }),
        }))
    }

    /// The file transport writing into `<data dir>/mail`, created if missing.
    pub fn file_in_data_dir(data_dir: &Path) -> Result<MailTransport, TransportConfigError> {
        let directory = data_dir.join("mail");
        std::fs::create_dir_all(&directory).map_err(|source| {
            TransportConfigError::MailDirectory {
                path: directory.clone(),
                source,
            }
        })?;
        Ok(MailTransport::File(directory))
    }

    /// How many messages to hand over at once: the SMTP pool's size, or a few
    /// parallel `.eml` writes (each waits for its fsync).
    pub fn parallel_sends(&self) -> usize {
        match self {
            MailTransport::Smtp(pool) => pool.pool_size() as usize,
            MailTransport::File(_) => PARALLEL_FILE_WRITES,
        }
    }

    /// Sends one message. `Ok` means the SMTP server accepted it (250 after DATA),
    /// or its `.eml` file is completely on disk. Dropping the future before it
    /// ends abandons the message and closes its connection.
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        match self {
            MailTransport::Smtp(pool) => pool.send(message).await,
            MailTransport::File(directory) => {
                let directory = directory.clone();
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_eml_atomically(&directory, &bytes))
                    .await
                    .map_err(|join_error| SendError::Transient {
                        smtp_code: None,
                        reason: join_error.to_string(),
                    })?
                    .map_err(|io_error| SendError::Transient {
                        smtp_code: None,
                        reason: format!("writing the .eml file failed: {io_error}"),
                    })
            }
        }
    }
}

fn classify_smtp_error(error: lettre::transport::smtp::Error) -> SendError {
    // lettre keeps the server's reply text as the error's source.
    let server_message = std::error::Error::source(&error)
        .map(ToString::to_string)
        .unwrap_or_default();
    match error.status() {
        Some(code) if code.severity == Severity::PermanentNegativeCompletion => {
            SendError::Permanent {
                smtp_code: u16::from(code),
                server_message,
            }
        }
        // 4xx, and everything without a reply code: connection refused, reset or
        // closed mid-message, timeouts, TLS, unparsable replies. None of these says
        // the address is bad, so none may flag it as undeliverable.
        status => SendError::Transient {
            smtp_code: status.map(u16::from),
            reason: error.to_string(),
        },
    }
}

/// Writes `<directory>/<random>.eml` so that the name only ever points at a
/// complete file: write a hidden temporary file, fsync it, rename it into place,
/// fsync the directory (which makes the rename itself survive a crash).
fn write_eml_atomically(directory: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = uuid::Uuid::new_v4().simple().to_string();
    let temporary_path = directory.join(format!(".{name}.eml.partial"));
    let final_path = directory.join(format!("{name}.eml"));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary_path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary_path, &final_path)?;
        std::fs::File::open(directory)?.sync_all()
    })();
    if result.is_err() {
        // Best effort: a leftover hidden partial file is harmless but untidy.
        let _ = std::fs::remove_file(&temporary_path);
    }
    result
}

/// How long to wait before attempt `attempt + 1` after `attempt` failures
/// (`attempt` = 0 after the first failure): 5 s · 2^attempt, capped at 30 minutes,
/// spread ±20%. At the cap the spread only goes downwards, so the cap holds and
/// rows that reached it still do not retry in lockstep.
pub fn retry_delay(attempt: u32, rng: &mut impl Rng) -> Duration {
    let growth = 2f64.powi(attempt.min(30) as i32);
    let uncapped_seconds = RETRY_BASE_DELAY.as_secs_f64() * growth;
    let cap_seconds = RETRY_MAX_DELAY.as_secs_f64();
    let jitter_factor = rng.random_range((1.0 - RETRY_JITTER)..=(1.0 + RETRY_JITTER));
    let seconds = if uncapped_seconds >= cap_seconds {
        cap_seconds * jitter_factor.min(2.0 - jitter_factor)
    } else {
        (uncapped_seconds * jitter_factor).min(cap_seconds)
    };
    Duration::from_secs_f64(seconds)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn retry_delays_double_from_five_seconds_within_twenty_percent() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..8 {
            let nominal = 5.0 * 2f64.powi(attempt as i32);
            for _ in 0..200 {
                let delay = retry_delay(attempt, &mut rng).as_secs_f64();
                assert!(
                    delay >= nominal * 0.8 - 1e-9 && delay <= nominal * 1.2 + 1e-9,
                    "attempt {attempt}: {delay}"
                );
            }
        }
        let mean = |attempt: u32, rng: &mut StdRng| {
            (0..2_000)
                .map(|_| retry_delay(attempt, rng).as_secs_f64())
                .sum::<f64>()
                / 2_000.0
        };
        let ratio = mean(5, &mut rng) / mean(4, &mut rng);
        assert!((1.9..2.1).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn retry_delays_never_exceed_thirty_minutes_and_stay_spread_at_the_cap() {
        let mut rng = StdRng::seed_from_u64(11);
        for attempt in [9, 10, 20, 31, 32, 1_000, u32::MAX] {
            let delays: Vec<Duration> = (0..500).map(|_| retry_delay(attempt, &mut rng)).collect();
            assert!(
                delays.iter().all(|delay| *delay <= RETRY_MAX_DELAY),
                "attempt {attempt}"
            );
            assert!(
                delays
                    .iter()
                    .all(|delay| *delay >= RETRY_MAX_DELAY.mul_f64(0.8)),
                "attempt {attempt}"
            );
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(
                distinct.len() > 400,
                "attempt {attempt}: jitter keeps retries apart"
            );
        }
        // Attempt 9 is the first to reach the cap: attempt 8 waits 5 s · 256 = 21 min 20 s ± 20%.
        let attempt_eight = retry_delay(8, &mut rng);
        assert!(
            attempt_eight >= Duration::from_secs(1_024)
                && attempt_eight <= Duration::from_secs(1_536)
        );
    }

    #[test]
    fn retry_delays_are_jittered() {
        let mut rng = StdRng::seed_from_u64(3);
        let delays: std::collections::HashSet<Duration> =
            (0..50).map(|_| retry_delay(2, &mut rng)).collect();
        assert!(delays.len() > 40);
    }

    #[test]
    fn smtp_config_debug_output_hides_the_password() {
        let config = SmtpConfig {
            host: "mail.example.org".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            username: Some("pulse".into()),
            password: Some("hunter2-secret".into()),
            pool_size: 4,
            timeout_seconds: 30,
            message_timeout_seconds: 60,
            from: None,
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("mail.example.org"));
    }

    #[tokio::test]
    async fn credentials_must_come_in_pairs_and_the_pool_and_timeouts_must_not_be_empty() {
        let config = SmtpConfig {
            host: "localhost".into(),
            port: 2525,
            tls: SmtpTls::None,
            username: Some("only-a-name".into()),
            password: None,
            pool_size: 4,
            timeout_seconds: 30,
            message_timeout_seconds: 60,
            from: None,
        };
        assert!(matches!(
            MailTransport::smtp(&config),
            Err(TransportConfigError::IncompleteCredentials)
        ));
        let empty_pool = SmtpConfig {
            username: None,
            pool_size: 0,
            ..config.clone()
        };
        assert!(matches!(
            MailTransport::smtp(&empty_pool),
            Err(TransportConfigError::EmptyPool)
        ));
        let no_message_time = SmtpConfig {
            username: None,
            message_timeout_seconds: 0,
            ..config.clone()
        };
        assert!(matches!(
            MailTransport::smtp(&no_message_time),
            Err(TransportConfigError::ZeroTimeout)
        ));
        let fine = SmtpConfig {
            username: None,
            ..config
        };
        assert!(matches!(
            MailTransport::smtp(&fine),
            Ok(MailTransport::Smtp(pool)) if pool.pool_size() == 4
        ));
    }

    #[test]
    fn building_the_smtp_transport_outside_a_runtime_is_an_error_not_a_panic() {
        let config = SmtpConfig {
            host: "localhost".into(),
            port: 2525,
            tls: SmtpTls::None,
            username: None,
            password: None,
            pool_size: 4,
            timeout_seconds: 30,
            message_timeout_seconds: 60,
            from: None,
        };
        assert!(matches!(
            MailTransport::smtp(&config),
            Err(TransportConfigError::NoTokioRuntime)
        ));
    }

    #[test]
    fn smtp_config_reads_from_configuration_with_defaults() {
        let config: SmtpConfig = serde_json::from_str(
            r#"{"host":"smtp.example.org","port":465,"tls":"tls","username":null,"password":null}"#,
        )
        .unwrap();
        assert_eq!(config.tls, SmtpTls::Tls);
        assert_eq!(config.pool_size, 32);
        assert_eq!(config.timeout_seconds, 30);
        assert_eq!(config.message_timeout_seconds, 60);
        assert_eq!(config.from, None);
        let start_tls: SmtpTls = serde_json::from_str(r#""starttls""#).unwrap();
        assert_eq!(start_tls, SmtpTls::StartTls);
    }
}
