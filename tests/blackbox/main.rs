//! The black-box tests: one binary, one module per area, tests named as sentences.

mod demo;
mod deploy_manifests;
mod foundation;
mod outbox;
mod reports;
mod rounds;
mod scheduler;
mod schema;
mod worker_process;
