//! The round lifecycle: which questions a survey asks and when, opening and closing
//! its rounds around the anonymizer, and the scheduler that does so as time passes.
//! It queues its emails through `safepulse-mailer`'s payloads and outbox rows; it
//! never sends one (the transport is the mailer's, `.ci/check-dependencies`).
//!
//! - [`item_bank`]: the built-in, original item bank ([`ItemBank`], shipped as
//!   `items/bank.toml`, validated at start).
//! - [`rotation`]: which items a round asks ([`RotationPlan`], [`items_for_round`]).
//! - [`cadence`]: when rounds open, per IANA time zone and DST-correct
//!   ([`Cadence`], [`Period`] — its key makes opening idempotent).
//! - [`survey`]: a survey's stored settings and validated plan ([`SurveyPlan`]).
//! - [`rounds`]: the transactions that open and close a round, each a sequence of
//!   named steps over `safepulse_store::rounds`; the close reads the survey's earlier
//!   rounds for the anonymizer's rules across rounds (`history`).
//! - [`scheduler`]: the [`Scheduler`] (closes due rounds, opens due periods, queues
//!   reminders, refreshes participation), ticked by the binary's worker loop.
//! - [`participation`]: the rounded, daily participation figure of open rounds.
//!
//! `rounds`, `history`, `scheduler` and `participation` use the database through
//! `safepulse-store`; the others are pure building blocks.

pub mod cadence;
mod history;
pub mod item_bank;
pub mod participation;
pub mod rotation;
pub mod rounds;
pub mod scheduler;
pub mod survey;
mod webhook_events;

pub use cadence::{
    Cadence, CadenceError, CadenceSpec, Every, MonthlyOn, Period, QuietHours, WeekOfMonth,
};
pub use item_bank::{BankItem, ItemBank, ItemBankError};
pub use rotation::{FixedItemList, RotatingPlan, RotationPlan, RotationPlanError, items_for_round};
pub use scheduler::{Scheduler, SchedulerSettings, TickReport};
pub use survey::SurveyPlan;
