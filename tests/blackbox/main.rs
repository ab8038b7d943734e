//! The black-box tests: one binary, one module per area, tests named as sentences.

mod across_rounds;
mod answer;
mod answer_browser;
mod answer_linkage;
mod answer_logs;
mod crypto_shredding;
mod dashboard;
mod demo;
mod deploy_manifests;
mod foundation;
mod operations;
mod outbox;
mod reader_rule;
mod reports;
mod rounds;
mod scale_out;
mod scheduler;
mod schema;
mod sign_in_requests;
mod tokens;
mod worker_process;
