//! Building the HTTP server from a [`Config`]: connect, migrate, load secrets, bind.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{Method, header};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};
use safepulse_domain::Clock;
use safepulse_rounds::ItemBank;
use safepulse_rounds::rounds::shred_closed_rounds;
use safepulse_store::keyring::{KeyChain, RoundKeyring};
use safepulse_store::{SchemaStatus, Store};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::TokenAuthority;
use crate::config::{Config, Mode};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::rate_limit::SignInLimiter;
use crate::request_context::request_context;
use crate::secrets::{MissingKeys, Secrets};
use crate::sign_in_queue::SignInQueue;
use crate::state::AppState;
use crate::submit_queue::SubmitQueue;
use crate::{openapi, pages, routes};

/// Everything the server and the worker share, built once at start: the key
/// directories checked, the database connected and migrated, the keys loaded.
pub async fn build_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let keyring_dir = config.round_keyring_dir();
    // Before anything is created in them.
    crate::secrets::refuse_inside_data_dir(&config.secrets_dir, &config.data_dir)?;
    crate::secrets::refuse_inside_data_dir(&keyring_dir, &config.data_dir)?;
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    let store = Store::connect(&config.database_url())
        .await
        .context("cannot connect to the database")?;
    // Keys are generated only for a new database: next to an existing one, new
    // keys would end every token and leave open rounds unable to take answers.
    let database_is_new = store
        .schema_status()
        .await
        .context("cannot read the database's migrations")?
        == SchemaStatus::New;
    let missing_keys = match config.mode {
        Mode::Production => MissingKeys::Refuse,
        Mode::Embedded if database_is_new => MissingKeys::Generate,
        Mode::Embedded => MissingKeys::Restore,
    };
    let secrets = Secrets::load(
        &config.secrets_dir,
        &config.data_dir,
        missing_keys,
        clock.now(),
    )?;
    let keys = KeyChain::new(
        secrets.master_keys.clone(),
        RoundKeyring::open(&keyring_dir).context("cannot open the round keyring")?,
    );
    migrate(&store).await?;
    // A close that crashed before destroying its round's key, or a round that
    // never committed its opening, leaves a key behind: finish that first.
    if let Err(error) = shred_closed_rounds(&store, &keys, clock.now()).await {
        tracing::warn!(%error, "shredding closed rounds failed; the scheduler retries");
    }
    let tokens = TokenAuthority::new(
        secrets.jwt_keys.clone(),
        config.jwt_issuer.clone(),
        config.jwt_audience.clone(),
    );
    let bank = ItemBank::builtin().context("the built-in item bank is invalid")?;
    let round_opening_blocked = round_opening_blocked(&store, &config).await?;
    let sign_in_queue = SignInQueue::start(store.clone(), config.mail_host());
    let sign_in_limiter = Arc::new(SignInLimiter::new(config.sign_in_limits, clock.now()));
    let submit_queue = SubmitQueue::start(store.clone(), keys.clone());
    Ok(AppState {
        store,
        tokens,
        secrets: Arc::new(secrets),
        keys,
        clock,
        oidc: crate::oidc::OidcSignIn::from_config(&config)?,
        config: Arc::new(config),
        bank: Arc::new(bank),
        round_opening_blocked,
        sign_in_queue,
        sign_in_limiter,
        submit_queue,
    })
}

/// Applies the migrations this version knows; refuses a schema a newer version
/// migrated unless its migrations are marked backward compatible.
async fn migrate(store: &Store) -> anyhow::Result<()> {
    match store
        .migrate()
        .await
        .context("cannot apply the database migrations")?
    {
        SchemaStatus::NewerIncompatible(unknown) => bail!(
            "a newer version of safepulse migrated the database ({}) in a way this version \
             cannot run against: run the newer version",
            unknown.join(", ")
        ),
        SchemaStatus::NewerCompatible(unknown) => tracing::info!(
            migrations = %unknown.join(", "),
            "a newer version migrated the database; its migrations are marked backward compatible, \
             so this version runs on"
        ),
        SchemaStatus::New | SchemaStatus::Current | SchemaStatus::Pending(_) => {}
    }
    Ok(())
}

/// Why rounds must not open on this database (PostgreSQL settings that would
/// record answers or their timing), unless `allow_logging_postgres` is set.
async fn round_opening_blocked(store: &Store, config: &Config) -> anyhow::Result<Option<Arc<str>>> {
    let problems = safepulse_store::hygiene::postgres_recording_settings(store.connection())
        .await
        .context("cannot read PostgreSQL's logging settings")?;
    Ok(if problems.is_empty() {
        None
    } else if config.allow_logging_postgres {
        tracing::warn!(
            problems = %problems.join("; "),
            "PostgreSQL records statements or timing; rounds open anyway because allow_logging_postgres is set"
        );
        None
    } else {
        let reason = problems.join("; ");
        tracing::error!(
            problems = %reason,
            "PostgreSQL would record answers or their timing: no round will open until this is fixed \
             (or allow_logging_postgres is set)"
        );
        Some(Arc::from(reason))
    })
}

/// How long in-flight requests get once the server is asked to stop.
const SHUTDOWN_TIMEOUT_SECONDS: u64 = 30;

/// A bound, not yet running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `config.bind:config.port` (port 0 picks a free one). The server stops
    /// gracefully when `stop` completes.
    pub fn build(
        state: AppState,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Application> {
        let address = (state.config.bind, state.config.port);
        let listener = TcpListener::bind(address)
            .with_context(|| format!("cannot listen on {}:{}", address.0, address.1))?;
        Application::build_with_listener(state, listener, stop)
    }

    /// Serves on an already bound listener (tests bind first to know the public
    /// URL) until `stop` completes; then in-flight requests get up to 30 s.
    ///
    /// actix's own signal handling is replaced by `stop`: it stops at once on
    /// SIGINT, where Ctrl-C must drain requests like SIGTERM does.
    pub fn build_with_listener(
        state: AppState,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let max_body = state.config.max_body_bytes;
        let state = web::Data::new(state);
        let metrics = web::Data::new(Metrics::default());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(max_body)
                        .error_handler(json_error),
                )
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .wrap(from_fn(request_context))
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Referrer-Policy", "no-referrer")),
                )
                .configure(routes::configure)
                .configure(crate::scim::configure)
                .configure(pages::configure)
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .external_url_unchecked("/api/openapi.json", openapi::openapi_document()),
                )
                .default_service(web::to(unmatched))
        })
        .listen(listener)?
        .shutdown_signal(stop)
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECONDS)
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped; in-flight requests get up to 30 s to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// What no route took: `404`, or, for a path the API serves with other methods,
/// `405` with `Allow` (and `204` with `Allow` for `OPTIONS`). The pages answer
/// `405` themselves: each is one actix resource.
async fn unmatched(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(allow) = allow_header(&request) else {
        return Err(ApiError::NotFound);
    };
    if request.method() == Method::OPTIONS {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ALLOW, allow))
            .finish());
    }
    Err(ApiError::MethodNotAllowed { allow })
}

/// The `Allow` header of a path the API serves: its documented methods and `OPTIONS`.
fn allow_header(request: &HttpRequest) -> Option<String> {
    let mut methods = openapi::allowed_methods(request.path());
    if methods.is_empty() {
        return None;
    }
    methods.push("OPTIONS");
    Some(methods.join(", "))
}

fn json_error(error: JsonPayloadError, _request: &HttpRequest) -> actix_web::Error {
    match error {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge { limit }.into()
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType {
            expected: "application/json",
        }
        .into(),
        JsonPayloadError::Deserialize(error) => ApiError::from_json(&error).into(),
        other => ApiError::BadRequest(other.to_string()).into(),
    }
}

fn query_error(error: QueryPayloadError, _request: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("query string: {error}")).into()
}

/// A path segment that does not parse (`/api/v1/teams/not-a-uuid`) names nothing:
/// `404`. Unless the path is another documented one that this method is not served
/// at (`PATCH /api/v1/people/import` reached the route of `/api/v1/people/{id}`):
/// `405`, as for any method a path does not serve.
fn path_error(_error: PathError, request: &HttpRequest) -> actix_web::Error {
    let served = openapi::allowed_methods(request.path()).contains(&request.method().as_str());
    match allow_header(request) {
        Some(allow) if !served => ApiError::MethodNotAllowed { allow }.into(),
        _ => ApiError::NotFound.into(),
    }
}
