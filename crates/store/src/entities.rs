//! One sea-orm entity per table (see `migrations/` for the schema and why it looks as it does).

pub mod atom_statistics;
pub mod audit_entry;
pub mod determined_node;
pub mod invitation;
pub mod issued_token;
pub mod magic_link;
pub mod open_comment;
pub mod open_response;
pub mod outbox;
pub mod person;
pub mod release;
pub mod release_ledger;
pub mod released_comment;
pub mod retained_comment;
pub mod retained_response;
pub mod role_grant;
pub mod round;
pub mod round_item;
pub mod round_node;
pub mod round_participation;
pub mod round_reminder;
pub mod round_viewer;
pub mod survey;
pub mod survey_team;
pub mod team;
pub mod team_leader;
