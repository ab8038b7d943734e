//! The black-box tests: one binary, one module per area, tests named as sentences.

mod deploy_manifests;
mod foundation;
mod reports;
mod rounds;
mod schema;
