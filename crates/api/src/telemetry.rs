//! Logging with `tracing`, to stderr (stdout is for command output such as tokens).

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let cap = filter_fn(actix_http_at_most_info);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(cap)
            .try_init(),
        LogFormat::Text => builder.finish().with(cap).try_init(),
    };
}

/// actix-http's debug and trace events follow each request as it is read: a
/// timestamped `Length read: N` for every `/r/` POST tells when someone answered
/// and whether they wrote a comment. So actix-http never logs below info, whatever
/// `log_level` asks for.
fn actix_http_at_most_info(metadata: &Metadata<'_>) -> bool {
    !(metadata.target().starts_with("actix_http") && *metadata.level() > Level::INFO)
}
