//! The `safepulse` command line. Every failure ends with a non-zero exit and one line
//! on stderr saying why.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::FutureExt as _;
use safepulse_domain::{Clock, Email, Role, RoundId, SystemClock, TokenId};
use safepulse_store::keyring::KeyringError;
use safepulse_store::tokens::{self, TokenKind};
use safepulse_store::{Checkpoint, SchemaStatus, Store, StoreError, surveys};

use crate::app::{Application, build_state};
use crate::auth::{issue_api_token_and_audit, parse_ttl, revoke_and_audit};
use crate::config::Config;
use crate::routes::people;
use crate::routes::surveys::discard_and_audit;
use crate::state::AppState;
use crate::worker::BackgroundWork;
use crate::{demo, import, openapi, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "safepulse",
    version,
    about = "Anonymous trust and psychological-safety pulse surveys"
)]
pub struct Cli {
    /// Configuration file (missing is fine: defaults and SAFEPULSE_* variables apply).
    #[arg(
        long,
        global = true,
        default_value = "safepulse.toml",
        env = "SAFEPULSE_CONFIG"
    )]
    config: PathBuf,
    /// Where the SQLite database and .eml files live [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Where the master key and JWT keys live; must be outside the data directory.
    #[arg(long, global = true)]
    secrets_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (and, by default, the scheduler and email worker).
    Serve {
        /// Port to listen on [default: 8080, or SAFEPULSE_PORT].
        #[arg(long)]
        port: Option<u16>,
    },
    /// Run the scheduler and email worker alone, without HTTP (for running them as
    /// separate processes on PostgreSQL); stops on SIGTERM or SIGINT.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Copy the SQLite database into a new file, consistently, while the server
    /// runs (PostgreSQL: use pg_dump). Keys are never copied.
    Backup {
        /// The new file (it must not exist).
        file: PathBuf,
    },
    /// Manage rounds.
    Round {
        #[command(subcommand)]
        command: RoundCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Administrators of the admin console.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Import people from a CSV file (email,name,team,leads,time_zone,locale).
    Import {
        file: PathBuf,
        /// Apply valid rows even if some rows are invalid.
        #[arg(long)]
        partial: bool,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Fill an empty database with a demo organisation and a year of pulse history.
    Demo,
}

#[derive(Debug, Subcommand)]
enum RoundCommand {
    /// Give up an open round whose key is lost from the round keyring: its
    /// invitations, unsent emails and sealed answers (which can never be opened)
    /// are deleted, so that a new round can open with new links.
    Discard {
        /// The round's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Make EMAIL an administrator and print a sign-in link to the admin console
    /// (valid once, for 15 minutes). Someone not yet in safepulse is added without
    /// a team: administrators are never surveyed unless a team is set for them.
    Invite {
        email: String,
        /// Their display name when they are new [default: the part before the @].
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a token; it is printed on the last line.
    Issue {
        /// admin, hr, manager, or scim (an identity provider's token for
        /// `/scim/v2`, for a subject that is no person).
        #[arg(long)]
        role: String,
        /// Who the token is for (an email address). A person's address makes it that
        /// person's token, valid only while they are active and hold the role.
        #[arg(long)]
        subject: String,
        /// How long it lives, e.g. 30d, 12h, 90m.
        #[arg(long, default_value = "30d")]
        ttl: String,
    },
    /// List the tokens and dashboard sessions that still work (by id, never the token).
    List,
    /// Revoke a token or dashboard session by its id (the `jti` of `token list`).
    Revoke { jti: String },
}

/// `safepulse admin invite`: the person (added without a team when new, through
/// the API's own function), the admin grant (likewise, audited as `cli`), and a
/// sign-in link printed instead of emailed, so the first administrator needs no
/// working mail. Returns the link.
pub async fn invite_admin(
    state: &AppState,
    email: &str,
    name: Option<String>,
) -> anyhow::Result<String> {
    let address = Email::parse(email.trim()).with_context(|| format!("{email:?}"))?;
    let db = state.store.connection();
    let person = match safepulse_store::org::find_person_by_email(db, &address).await? {
        Some(person) => person,
        None => {
            let name = name.unwrap_or_else(|| {
                address
                    .as_str()
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
            people::create(
                state,
                "cli",
                people::CreatePerson {
                    email: address.as_str().to_owned(),
                    name,
                    team_id: Some(None),
                    locale: None,
                    time_zone: None,
                },
            )
            .await
            .map_err(|error| anyhow::anyhow!(api_error_line(error)))?
        }
    };
    if !person.active {
        bail!("{address} is deactivated; reactivate them first");
    }
    if !safepulse_store::org::holds_role(db, person.id, Role::Admin).await? {
        people::grant(state, "cli", person.id, Role::Admin)
            .await
            .map_err(|error| anyhow::anyhow!(api_error_line(error)))?;
    }
    let now = state.clock.now();
    let transaction = state.store.begin_write().await?;
    let Some(link_id) = safepulse_mailer::sign_in::admin_link(&transaction, person.id, now).await?
    else {
        bail!("{address} cannot sign in as an administrator");
    };
    transaction.commit().await?;
    let token = safepulse_mailer::SignInToken::derive(state.secrets.active_master_key(), link_id);
    Ok(format!(
        "{}/sign-in/{}",
        state.config.public_url_trimmed(),
        token.encode()
    ))
}

/// An API error in one line: its detail, and each problem with its field.
fn api_error_line(error: crate::error::ApiError) -> String {
    match error {
        crate::error::ApiError::Validation(errors) => errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// How long `serve` waits, once stopped, for queued sign-in requests.
const SIGN_IN_QUEUE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a stopping process waits for database connections still in use.
const STORE_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Parses arguments, runs the command, and turns any error into one line and exit 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("safepulse: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("safepulse: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line: "cannot connect to the database: connection refused".
fn one_line(error: &anyhow::Error) -> String {
    error
        .chain()
        .map(|cause| cause.to_string().replace('\n', " "))
        .collect::<Vec<_>>()
        .join(": ")
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(&cli.config)?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(dir) = &cli.secrets_dir {
        config.secrets_dir = dir.clone();
    }
    Ok(config)
}

/// Runs the command: one function per command, each building only what it needs.
async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = load_config(&cli)?;
    telemetry::init(config.log_format, &config.log_level);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Command::Serve { port } => serve(config, clock, port).await,
        Command::Worker => worker(config, clock).await,
        Command::Migrate => migrate(config, clock).await,
        Command::Backup { file } => backup(&config, &file).await,
        Command::Round {
            command: RoundCommand::Discard { id },
        } => discard_round(config, clock, &id).await,
        Command::Token {
            command: TokenCommand::Issue { role, subject, ttl },
        } => issue_token(config, clock, &role, &subject, &ttl).await,
        Command::Token {
            command: TokenCommand::List,
        } => list_tokens(config, clock).await,
        Command::Token {
            command: TokenCommand::Revoke { jti },
        } => revoke_token(config, clock, &jti).await,
        Command::Admin {
            command: AdminCommand::Invite { email, name },
        } => admin_invite(config, clock, &email, name).await,
        Command::Import { file, partial } => import_file(config, clock, &file, partial).await,
        Command::Openapi => {
            print_openapi();
            Ok(())
        }
        Command::Demo => fill_demo(config, clock).await,
    }
}

/// `safepulse serve`: the HTTP server and, unless configured apart, the scheduler
/// and email worker, until SIGTERM or SIGINT.
async fn serve(mut config: Config, clock: Arc<dyn Clock>, port: Option<u16>) -> anyhow::Result<()> {
    if let Some(port) = port {
        config.port = port;
    }
    let state = build_state(config, clock).await?;
    refuse_open_rounds_without_key(&state).await?;
    // From here on a stop is graceful; before, nothing is in flight yet and
    // Ctrl-C may end a slow start at once.
    let stop = listen_for_stop()?.shared();
    let application = Application::build(state.clone(), stop.clone())?;
    let port = application.port();
    let background = if state.config.in_process_worker {
        let background = BackgroundWork::start(&state)?;
        background.stop_when(stop);
        Some(background)
    } else {
        None
    };
    // What a person starting the server needs next: the address to open
    // and where the keys are (to keep apart from database backups).
    tracing::info!(
        port,
        open = %format!("{}/", state.config.public_url_trimmed()),
        secrets_dir = %state.config.secrets_dir.display(),
        round_keyring = %state.config.round_keyring_dir().display(),
        "safepulse is listening"
    );
    // On SIGTERM or SIGINT the server drains in-flight requests while the
    // scheduler and email worker give back what they have not started and
    // finish (or abandon) their sends under way, at the same time.
    let served = application.run_until_stopped().await;
    // Sign-in requests still queued get a few seconds to reach the outbox;
    // after that they are lost, and those people ask again.
    if tokio::time::timeout(SIGN_IN_QUEUE_GRACE, state.sign_in_queue.settled())
        .await
        .is_err()
    {
        tracing::warn!("stopping with sign-in requests still queued");
    }
    if let Some(background) = background {
        background.stop().await;
    }
    close_store(&state).await;
    served?;
    Ok(())
}

/// `safepulse worker`: the scheduler and email worker alone, until SIGTERM or SIGINT.
async fn worker(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let state = build_state(config, clock).await?;
    refuse_open_rounds_without_key(&state).await?;
    let stop = listen_for_stop()?;
    let background = BackgroundWork::start(&state)?;
    tracing::info!("safepulse worker is running");
    stop.await;
    tracing::info!("stopping: finishing the batch in flight");
    background.stop().await;
    close_store(&state).await;
    Ok(())
}

/// `safepulse migrate`.
async fn migrate(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    build_state(config, clock).await?;
    eprintln!("safepulse: migrations applied");
    Ok(())
}

/// `safepulse backup FILE`.
async fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    // No migration and no key: a backup is taken as the database is, also
    // by a newer binary before it upgrades anything, and keys never go
    // into a copy of the database.
    let store = Store::connect_existing(&config.database_url())
        .await
        .context("cannot open the database")?;
    if store.schema_status().await? == SchemaStatus::New {
        bail!("the database holds no safepulse data: nothing to back up");
    }
    store.backup_into(file).await?;
    store.close().await?;
    eprintln!(
        "safepulse: database copied to {}; it holds no key: keep the secrets directory \
         backed up separately, and never the round keyring",
        file.display()
    );
    Ok(())
}

/// `safepulse round discard ID`.
async fn discard_round(config: Config, clock: Arc<dyn Clock>, id: &str) -> anyhow::Result<()> {
    let id: RoundId = id
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{id:?} is not a round id"))?;
    let state = build_state(config, clock).await?;
    let round = discard_and_audit(&state, id, "cli").await?;
    eprintln!(
        "safepulse: round {id} discarded; open a new one with POST /api/v1/surveys/{}/rounds",
        round.survey_id
    );
    Ok(())
}

/// `safepulse token issue`: the token is printed on stdout, alone.
async fn issue_token(
    config: Config,
    clock: Arc<dyn Clock>,
    role: &str,
    subject: &str,
    ttl: &str,
) -> anyhow::Result<()> {
    let role = Role::parse(role)?;
    let subject = Email::parse(subject).with_context(|| format!("--subject {subject:?}"))?;
    let ttl = parse_ttl(ttl).map_err(anyhow::Error::msg)?;
    let state = build_state(config, clock).await?;
    let now = state.clock.now();
    // Printed only once its row is committed: an unrecorded token is refused.
    let token = issue_api_token_and_audit(&state, "cli", subject.as_str(), role, ttl, now).await?;
    eprintln!(
        "safepulse: {role} token for {subject}, valid until {}",
        now + ttl
    );
    #[allow(clippy::print_stdout)]
    {
        println!("{token}");
    }
    Ok(())
}

/// `safepulse token list`: every token and session that still works, a page at a time.
async fn list_tokens(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let state = build_state(config, clock).await?;
    let now = state.clock.now();
    let mut cursor = None;
    loop {
        let page = tokens::list_active(state.store.connection(), now, cursor, 200).await?;
        for row in &page.items {
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "{} {} {} {} issued {} expires {}",
                    row.jti,
                    row.kind,
                    row.role,
                    row.subject,
                    row.issued_at.to_rfc3339(),
                    row.expires_at.to_rfc3339()
                );
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(())
}

/// `safepulse token revoke JTI`.
async fn revoke_token(config: Config, clock: Arc<dyn Clock>, jti: &str) -> anyhow::Result<()> {
    let jti: TokenId = jti
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{jti:?} is not a token id (a jti from `token list`)"))?;
    let state = build_state(config, clock).await?;
    match revoke_and_audit(&state.store, jti, "cli", state.clock.now()).await {
        Ok(()) => eprintln!("safepulse: token {jti} revoked"),
        Err(StoreError::NotFound) => bail!("no token with id {jti}"),
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

/// `safepulse admin invite EMAIL`: the sign-in link is printed on stdout, alone.
async fn admin_invite(
    config: Config,
    clock: Arc<dyn Clock>,
    email: &str,
    name: Option<String>,
) -> anyhow::Result<()> {
    let state = build_state(config, clock).await?;
    let link = invite_admin(&state, email, name).await?;
    eprintln!(
        "safepulse: {email} holds the admin grant; open this link within 15 minutes \
         and press \"Administrators: sign in to the admin console\":"
    );
    #[allow(clippy::print_stdout)]
    {
        println!("{link}");
    }
    Ok(())
}

/// `safepulse import FILE`: every rejected row on stderr with its line.
async fn import_file(
    config: Config,
    clock: Arc<dyn Clock>,
    file: &Path,
    partial: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let state = build_state(config, clock).await?;
    let report =
        import::import_people(&state.store, &bytes, partial, "cli", state.clock.now()).await?;
    for rejected in &report.rejected {
        eprintln!("{}:{}: {}", file.display(), rejected.line, rejected.reason);
    }
    if !report.applied {
        bail!(
            "{} of {} rows invalid; nothing imported (use --partial to import the valid rows)",
            report.rejected.len(),
            report.rejected.len() + report.accepted
        );
    }
    eprintln!(
        "safepulse: imported {} rows ({} new, {} updated, {} unchanged), rejected {}",
        report.accepted,
        report.created,
        report.updated,
        report.unchanged,
        report.rejected.len()
    );
    Ok(())
}

/// `safepulse demo`: the demo organisation and its history, then an hr API token
/// printed on stdout, alone.
async fn fill_demo(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let state = build_state(config, clock).await?;
    let summary = demo::build_demo(&state, state.clock.now()).await?;
    let transaction = state.store.begin_write().await?;
    let token = state
        .tokens
        .issue(
            &transaction,
            &summary.hr_email,
            Role::Hr,
            TokenKind::Api,
            chrono::Duration::days(30),
            state.clock.now(),
        )
        .await?;
    transaction.commit().await?;
    eprintln!(
        "safepulse: demo ready: {} teams, {} people, {} closed rounds, {} answers.\n\
         Start the server (`safepulse serve`) and sign in at {}/sign-in as {} (hr) or {} (manager);\n\
         the sign-in email lands in {}. An hr API token for {} follows:",
        summary.teams,
        summary.people,
        summary.rounds,
        summary.answers,
        state.config.public_url_trimmed(),
        summary.hr_email,
        summary.manager_email,
        state.config.mail_dir().display(),
        summary.hr_email,
    );
    #[allow(clippy::print_stdout)]
    {
        println!("{token}");
    }
    Ok(())
}

/// `safepulse openapi`.
fn print_openapi() {
    #[allow(clippy::print_stdout)]
    {
        print!("{}", openapi::openapi_json());
    }
}

/// `serve` and `worker` do not start while an open round's key cannot be had:
/// its answers could not be stored and its invitations not sent. The operator
/// restores the keyring, or gives the round up with `safepulse round discard`.
async fn refuse_open_rounds_without_key(state: &AppState) -> anyhow::Result<()> {
    for round in surveys::open_rounds(state.store.connection()).await? {
        match state.keys.round_key(round.id, &round.key_id) {
            Ok(_) => {}
            Err(KeyringError::RoundKeyMissing(id)) => bail!(
                "round {id} is open, but the round keyring {} has no key for it: restore the \
                 keyring directory, or give the round up with `safepulse round discard {id}` (its \
                 answers can never be opened) and open a new one",
                state.keys.keyring().dir().display()
            ),
            Err(error) => bail!(
                "round {} is open, but its key cannot be had: {error}",
                round.id
            ),
        }
    }
    Ok(())
}

/// At a graceful stop: SQLite's WAL folded into the database file, so that the
/// `.db` file alone holds everything committed, then every connection closed.
async fn close_store(state: &AppState) {
    match state.store.checkpoint().await {
        Ok(Checkpoint::Complete) => {}
        Ok(Checkpoint::Incomplete) => tracing::warn!(
            "another connection was reading: the WAL was not folded into the database file \
             entirely (copy the database with `safepulse backup`, not by copying the file)"
        ),
        Err(error) => {
            tracing::warn!(%error, "folding the WAL into the database file at stop failed");
        }
    }
    match tokio::time::timeout(STORE_CLOSE_GRACE, state.store.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "closing the database connections failed"),
        Err(_) => tracing::warn!("stopping with database connections still in use"),
    }
}

/// Starts listening for SIGTERM (what orchestrators send) and SIGINT (Ctrl-C) and
/// returns a future that completes at the first of them: both stop gracefully.
/// Listening starts at the call, not at the first poll: a signal that arrives
/// before the server or the worker is first polled must stop it gracefully rather
/// than kill it with the default action. SIGQUIT (Ctrl-\\) still stops at once.
fn listen_for_stop() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        Ok(async move {
            let received = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!(signal = received, "stopping gracefully");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            // Without a handler Ctrl-C stops the process anyway.
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
