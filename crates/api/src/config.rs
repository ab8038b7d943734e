//! Configuration, layered: built-in defaults → `safepulse.toml` → `SAFEPULSE_*`
//! environment variables → command-line flags. Only the binary reads it; everything
//! below receives plain values.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use safepulse_mailer::SmtpConfig;
use serde::{Deserialize, Serialize};

use crate::oidc::OidcConfig;
use crate::rate_limit::SignInLimits;

/// How strict the server is about its surroundings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Try-it-out default: SQLite, `.eml` files, secrets generated on first start.
    Embedded,
    /// Secrets must be provided; PostgreSQL logging settings are checked.
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub mode: Mode,
    /// Where the SQLite file and `.eml` files live.
    pub data_dir: PathBuf,
    /// Where the master key and JWT keys live; never inside `data_dir`.
    pub secrets_dir: PathBuf,
    /// The round keyring: open rounds' salts, shared by every process, never backed
    /// up, never inside `data_dir`. Defaults to `<secrets_dir>/rounds`.
    pub round_keyring_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/safepulse.db`.
    pub database_url: Option<String>,
    pub bind: IpAddr,
    pub port: u16,
    /// The address people reach the server at, used in emailed links.
    pub public_url: String,
    pub log_format: LogFormat,
    /// `tracing` filter, e.g. `info` or `safepulse=debug`.
    pub log_level: String,
    /// Email is written as `.eml` files when SMTP is not configured. The mailer's
    /// own settings type, so the file and the transport cannot disagree.
    pub smtp: Option<SmtpConfig>,
    pub mail_from: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Minutes a sign-in session lasts.
    pub session_minutes: u32,
    /// Keep raw answers after close (shuffled, by atom) for this many days; off by default.
    pub raw_retention_days: Option<u32>,
    /// Run the scheduler and outbox worker inside `serve`.
    pub in_process_worker: bool,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Allow opening rounds although PostgreSQL would log answers or timing.
    pub allow_logging_postgres: bool,
    /// Rate limits of `POST /sign-in`, per client and overall, in this process.
    pub sign_in_limits: SignInLimits,
    /// Reverse proxies (addresses or networks, `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Sign-in through the organisation's OpenID provider; none by default.
    pub oidc: Option<OidcConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Embedded,
            data_dir: PathBuf::from("./data"),
            secrets_dir: default_secrets_dir(),
            round_keyring_dir: None,
            database_url: None,
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            public_url: "http://127.0.0.1:8080".to_owned(),
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            smtp: None,
            mail_from: "safepulse <pulse@safepulse.invalid>".to_owned(),
            jwt_issuer: "safepulse".to_owned(),
            jwt_audience: "safepulse-api".to_owned(),
            session_minutes: 480,
            raw_retention_days: None,
            in_process_worker: true,
            max_body_bytes: 256 * 1024,
            allow_logging_postgres: false,
            sign_in_limits: SignInLimits::default(),
            trusted_proxies: Vec::new(),
            oidc: None,
        }
    }
}

/// `~/.config/safepulse/secrets` (or the platform's equivalent): outside the data
/// directory, so a copy of the data directory never holds the keys.
pub fn default_secrets_dir() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("safepulse")
        .join("secrets")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

/// `SAFEPULSE_*` variables that are not settings, so the unknown-name check leaves
/// them alone: the `--config` flag's, and those of the test and benchmark tools,
/// which a developer's shell may hold (`SAFEPULSE_TEST_*`, `SAFEPULSE_BENCH_*`,
/// `SAFEPULSE_SCHEMATHESIS_*` of `tests/schemathesis/run`, `SAFEPULSE_UPDATE_OPENAPI`).
const NOT_SETTINGS: [&str; 2] = ["CONFIG", "UPDATE_OPENAPI"];
const NOT_SETTINGS_PREFIXES: [&str; 3] = ["TEST_", "BENCH_", "SCHEMATHESIS_"];

impl Config {
    /// Defaults, then `config_file` (if it exists), then `SAFEPULSE_*` variables.
    /// Nested keys use a double underscore: `SAFEPULSE_SMTP__HOST`.
    ///
    /// A key the file or the environment sets that is not a setting is an error
    /// naming it: a typo (`databse_url`) must not start the server on the defaults.
    /// A configuration path that exists but is not a file is an error too.
    pub fn load(config_file: &Path) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match std::fs::metadata(config_file) {
            Ok(metadata) if metadata.is_file() => {
                // `file_exact`: the file named, never one found in a parent directory.
                figment = figment.merge(Toml::file_exact(config_file));
            }
            Ok(_) => {
                return Err(ConfigError::Invalid(format!(
                    "{} is not a file (--config names the TOML file)",
                    config_file.display()
                )));
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(ConfigError::Invalid(format!(
                    "cannot read {}: {error}",
                    config_file.display()
                )));
            }
        }
        // The file alone first, so that an unknown key is blamed on the right layer.
        figment.extract::<Config>().map_err(|error| {
            unknown_key_or(
                error,
                |key| format!("the key `{key}` in {}", config_file.display()),
                |key| format!("`{key}`"),
            )
        })?;
        let config: Config = figment
            .merge(
                Env::prefixed("SAFEPULSE_")
                    .filter(|key| is_setting_variable(key.as_str()))
                    .split("__"),
            )
            .extract()
            .map_err(|error| {
                unknown_key_or(
                    error,
                    |key| format!("the variable {}", variable_name(key)),
                    variable_name,
                )
            })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid(
                "public_url must start with http:// or https://".into(),
            ));
        }
        if self.session_minutes == 0 || self.session_minutes > 24 * 60 {
            return Err(ConfigError::Invalid(
                "session_minutes must be between 1 and 1440".into(),
            ));
        }
        let limits = &self.sign_in_limits;
        for (key, value) in [
            ("per_client_per_minute", limits.per_client_per_minute),
            ("per_client_burst", limits.per_client_burst),
            ("global_per_minute", limits.global_per_minute),
            ("global_burst", limits.global_burst),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!(
                    "sign_in_limits.{key} must be at least 1"
                )));
            }
        }
        if let Some(oidc) = &self.oidc {
            oidc.validate().map_err(ConfigError::Invalid)?;
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| safepulse_store::Store::sqlite_url_for_data_dir(&self.data_dir))
    }

    pub fn round_keyring_dir(&self) -> PathBuf {
        self.round_keyring_dir
            .clone()
            .unwrap_or_else(|| self.secrets_dir.join("rounds"))
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    pub fn public_url_trimmed(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    /// The host name in Message-IDs: the public URL's host.
    pub fn mail_host(&self) -> String {
        let without_scheme = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, rest)| rest);
        let authority = without_scheme.split('/').next().unwrap_or("localhost");
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority, |(host, _)| host);
        if host.is_empty() {
            "localhost".to_owned()
        } else {
            host.to_owned()
        }
    }

    /// Whether closing a round keeps raw answers (shuffled, with atom ids) for a while.
    pub fn raw_retention(&self) -> safepulse_rounds::rounds::RawRetention {
        match self.raw_retention_days {
            Some(days) if days > 0 => safepulse_rounds::rounds::RawRetention::Keep,
            _ => safepulse_rounds::rounds::RawRetention::Delete,
        }
    }
}

/// Whether `SAFEPULSE_<name>` is meant as a setting (see [`NOT_SETTINGS`]).
fn is_setting_variable(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    !NOT_SETTINGS.contains(&name.as_str())
        && !NOT_SETTINGS_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// `smtp.host` as its environment variable, `SAFEPULSE_SMTP__HOST`.
fn variable_name(key: &str) -> String {
    format!("SAFEPULSE_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// An unknown key as one line naming it (`described` says where it was set,
/// `suggested` how to write the close match); any other error as figment says it.
fn unknown_key_or(
    error: figment::Error,
    described: impl Fn(&str) -> String,
    suggested: impl Fn(&str) -> String,
) -> ConfigError {
    let figment::error::Kind::UnknownField(field, expected) = &error.kind else {
        return ConfigError::Invalid(error.to_string());
    };
    // figment's path leads from the top to the unknown key itself.
    let section: Vec<&str> = match error.path.split_last() {
        Some((last, section)) if last == field => section.iter().map(String::as_str).collect(),
        _ => error.path.iter().map(String::as_str).collect(),
    };
    let key = |name: &str| {
        let mut parts = section.clone();
        parts.push(name);
        parts.join(".")
    };
    let mut message = format!("{} is not a setting", described(&key(field)));
    if let Some(close) = closest_match(field, expected) {
        message.push_str(&format!("; did you mean {}?", suggested(&key(&close))));
    }
    ConfigError::Invalid(message)
}

/// The sections of the configuration (`[smtp]`, `SAFEPULSE_SMTP__HOST`).
const SECTIONS: [&str; 3] = ["oidc", "sign_in_limits", "smtp"];

/// The key a typo most likely meant: `smtp_host` is `smtp.host` (one underscore
/// where nesting takes two), otherwise the expected name at most a third of its
/// letters (and at least one) away.
fn closest_match(typed: &str, expected: &[&str]) -> Option<String> {
    let nested = SECTIONS.iter().find_map(|section| {
        let key = typed.strip_prefix(section)?.strip_prefix('_')?;
        (expected.contains(section) && !key.is_empty()).then(|| format!("{section}.{key}"))
    });
    if nested.is_some() {
        return nested;
    }
    let allowed = (typed.chars().count() / 3).max(1);
    expected
        .iter()
        .map(|name| (edit_distance(typed, name), *name))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.to_owned())
}

/// Levenshtein distance: insertions, deletions and substitutions of characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail fixes the closure's error type"
)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_keep_secrets_outside_the_data_dir() {
        let config = Config::default();
        config.validate().unwrap();
        assert!(!config.secrets_dir.starts_with(&config.data_dir));
        assert!(config.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn environment_overrides_the_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("safepulse.toml", "port = 9000\nlog_level = \"debug\"")?;
            jail.set_env("SAFEPULSE_PORT", "9100");
            let config =
                Config::load(Path::new("safepulse.toml")).map_err(|error| error.to_string())?;
            assert_eq!(config.port, 9100);
            assert_eq!(config.log_level, "debug");
            Ok(())
        });
    }

    #[test]
    fn the_smtp_section_reads_into_the_mailer_s_settings_with_its_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "safepulse.toml",
                "[smtp]\nhost = \"smtp.example.com\"\nport = 587\ntls = \"starttls\"",
            )?;
            jail.set_env("SAFEPULSE_SMTP__FROM", "safepulse <bounces@example.com>");
            let config =
                Config::load(Path::new("safepulse.toml")).map_err(|error| error.to_string())?;
            let smtp = config.smtp.expect("the [smtp] section");
            assert_eq!(smtp.tls, safepulse_mailer::SmtpTls::StartTls);
            assert_eq!(smtp.pool_size, safepulse_mailer::DEFAULT_POOL_SIZE);
            assert_eq!(
                smtp.from.as_deref(),
                Some("safepulse <bounces@example.com>")
            );
            assert_eq!(smtp.username, None);
            Ok(())
        });
    }

    #[test]
    fn sign_in_limits_and_trusted_proxies_read_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "safepulse.toml",
                "trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1/32\"]\n\
                 [sign_in_limits]\nper_client_burst = 3",
            )?;
            jail.set_env("SAFEPULSE_SIGN_IN_LIMITS__GLOBAL_PER_MINUTE", "30");
            let config =
                Config::load(Path::new("safepulse.toml")).map_err(|error| error.to_string())?;
            assert_eq!(config.sign_in_limits.per_client_burst, 3);
            assert_eq!(config.sign_in_limits.global_per_minute, 30);
            assert_eq!(
                config.sign_in_limits.per_client_per_minute,
                SignInLimits::default().per_client_per_minute,
                "unset keys keep their defaults"
            );
            assert_eq!(config.trusted_proxies.len(), 2);
            // As deploy/compose.yaml and deploy/k8s/configmap.yaml write it.
            jail.set_env(
                "SAFEPULSE_TRUSTED_PROXIES",
                r#"["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]"#,
            );
            let config =
                Config::load(Path::new("safepulse.toml")).map_err(|error| error.to_string())?;
            let expected: Vec<IpNet> = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
                .map(|net| net.parse().unwrap())
                .into();
            assert_eq!(config.trusted_proxies, expected);
            jail.set_env("SAFEPULSE_SIGN_IN_LIMITS__GLOBAL_BURST", "0");
            let error = Config::load(Path::new("safepulse.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("sign_in_limits.global_burst"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_names_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SAFEPULSE_PORT", "not-a-port");
            let error = Config::load(Path::new("missing.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("port"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_it_and_its_close_match() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "safepulse.toml",
                "databse_url = \"postgres://db.example.com/safepulse\"",
            )?;
            let error = Config::load(Path::new("safepulse.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("`databse_url`"), "{error}");
            assert!(error.contains("safepulse.toml"), "{error}");
            assert!(error.contains("did you mean `database_url`?"), "{error}");
            assert!(!error.contains('\n'), "one line: {error}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_a_section_is_an_error_naming_its_full_path() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "safepulse.toml",
                "[smtp]\nhost = \"smtp.example.com\"\nport = 587\ntls = \"starttls\"\npasword = \"x\"",
            )?;
            let error = Config::load(Path::new("safepulse.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("`smtp.pasword`"), "{error}");
            assert!(error.contains("did you mean `smtp.password`?"), "{error}");
            jail.create_file("safepulse.toml", "[sign_in_limits]\nglobal_brust = 3")?;
            let error = Config::load(Path::new("safepulse.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("`sign_in_limits.global_brust`"), "{error}");
            assert!(error.contains("`sign_in_limits.global_burst`"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_safepulse_variable_is_an_error_but_the_tools_variables_are_not() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SAFEPULSE_CONFIG", "elsewhere.toml");
            jail.set_env("SAFEPULSE_TEST_POSTGRES_URL", "postgres://localhost/test");
            jail.set_env("SAFEPULSE_BENCH_POOL_SIZE", "4");
            jail.set_env("SAFEPULSE_SCHEMATHESIS_ADMIN_TOKEN", "a token");
            jail.set_env("SAFEPULSE_UPDATE_OPENAPI", "1");
            Config::load(Path::new("missing.toml")).map_err(|error| error.to_string())?;

            jail.set_env("SAFEPULSE_SMTP_HOST", "smtp.example.com");
            let error = Config::load(Path::new("missing.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("SAFEPULSE_SMTP_HOST"), "{error}");
            assert!(
                error.contains("did you mean SAFEPULSE_SMTP__HOST?"),
                "a single underscore is not nesting: {error}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("SAFEPULSE_SMTP__HOST", "smtp.example.com");
            jail.set_env("SAFEPULSE_SMTP__PORT", "25");
            jail.set_env("SAFEPULSE_SMTP__TLS", "none");
            jail.set_env("SAFEPULSE_SMTP__POOLSIZE", "5");
            let error = Config::load(Path::new("missing.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("SAFEPULSE_SMTP__POOLSIZE"), "{error}");
            assert!(
                error.contains("did you mean SAFEPULSE_SMTP__POOL_SIZE?"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_sections_are_the_settings_that_are_tables() {
        let config = Config {
            smtp: Some(SmtpConfig {
                host: "smtp.example.com".into(),
                port: 587,
                tls: safepulse_mailer::SmtpTls::StartTls,
                username: None,
                password: None,
                pool_size: 1,
                timeout_seconds: 30,
                message_timeout_seconds: 60,
                from: None,
            }),
            oidc: Some(OidcConfig {
                issuer_url: "https://id.example.com".into(),
                client_id: "safepulse".into(),
                client_secret: "secret".into(),
                provider_name: "Example ID".into(),
                magic_link: true,
                email_verified_claim: crate::oidc::EmailVerifiedClaim::XmsEdov,
            }),
            ..Config::default()
        };
        let value = toml::Value::try_from(&config).unwrap();
        let mut tables: Vec<&str> = value
            .as_table()
            .unwrap()
            .iter()
            .filter(|(_, value)| value.is_table())
            .map(|(key, _)| key.as_str())
            .collect();
        tables.sort_unstable();
        assert_eq!(tables, SECTIONS);
    }

    #[test]
    fn a_configuration_path_that_is_a_directory_is_an_error() {
        figment::Jail::expect_with(|jail| {
            let directory = jail.create_dir("etc")?;
            let error = Config::load(&directory).unwrap_err().to_string();
            assert!(error.contains("is not a file"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_file_in_a_parent_directory_is_not_read() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("safepulse.toml", "port = 9000")?;
            jail.change_dir(jail.create_dir("sub")?)?;
            let config =
                Config::load(Path::new("safepulse.toml")).map_err(|error| error.to_string())?;
            assert_eq!(config.port, Config::default().port);
            Ok(())
        });
    }
}
