//! The black-box tests: one binary, one module per area, tests named as sentences.

mod foundation;
mod schema;
