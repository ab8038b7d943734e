//! Rules about the source code itself, checked on every crate's `src/` the way a
//! reviewer would: one module per rule, tests named as sentences.

mod code_map;
mod long_functions;
