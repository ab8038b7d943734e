//! The safepulse HTTP service and command-line program.
//!
//! - [`app`]: builds the shared [`state::AppState`] and the actix-web [`app::Application`];
//! - [`routes`]: REST handlers under `/api/v1` (documented in [`openapi::ApiDoc`]);
//! - [`pages`]: server-rendered HTML for people: the answer page `/r/{token}`, the
//!   magic-link sign-in and the dashboard of managers and HR;
//! - [`sign_in_queue`] and [`rate_limit`]: what stands between `POST /sign-in` and
//!   the database — a queue, so the answer takes as long for every address, and
//!   rate limits per client and overall;
//! - [`scim`]: SCIM 2.0 provisioning at `/scim/v2` (Users, Groups, discovery), for
//!   tokens of the `scim` role only;
//! - [`auth`]: JWT bearer tokens and the [`auth::Caller`] extractor;
//! - [`access`]: who the caller of a report is ([`access::Reader`]); the store's
//!   release gate decides which releases they get (DESIGN §3);
//! - [`error`]: [`error::ApiError`], the one error type, rendered as problem+json;
//! - [`spreadsheet`]: the CSV and XLSX downloads of reports (format negotiation,
//!   rounding);
//! - [`config`] and [`secrets`]: what only the binary reads — configuration layers and
//!   the key files of the secrets directory;
//! - [`oidc`]: sign-in through the organisation's OpenID provider (the `[oidc]`
//!   section, discovery, code exchange, `id_token` verification);
//! - [`cli`]: the `safepulse` commands; [`demo`]: the demo organisation and its history;
//! - [`worker`]: the scheduler and outbox worker as `serve` and `safepulse worker` run them.
//!
//! This is the only crate that knows HTTP and JSON DTOs; nothing depends on it.

pub mod access;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod import;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod pages;
pub mod rate_limit;
pub mod request_context;
pub mod routes;
pub mod scim;
pub mod secrets;
pub mod sign_in_queue;
pub mod spreadsheet;
pub mod state;
pub mod submit_queue;
pub mod telemetry;
pub mod webhook_transport;
pub mod worker;
