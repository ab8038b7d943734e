//! The email side of safepulse: which questions a round asks, when rounds open,
//! what the emails say, and how they leave the process. Only this crate knows SMTP.
//!
//! - [`item_bank`]: the built-in, original item bank ([`ItemBank`], shipped as
//!   `items/bank.toml`, validated at start).
//! - [`rotation`]: which items a round asks ([`RotationPlan`], [`items_for_round`]).
//! - [`cadence`]: when rounds open, per IANA time zone and DST-correct
//!   ([`Cadence`], [`Period`] — its key makes opening idempotent).
//! - [`messages`]: invitation, reminder, manager digest and sign-in emails as
//!   multipart lettre messages in the recipient's language ([`InvitationEmail`], …).
//! - [`transport`]: [`MailTransport`] (pooled SMTP or `.eml` files), [`SendError`]
//!   (transient or permanent) and [`retry_delay`].
//! - [`survey`]: a survey's stored settings and validated plan ([`SurveyPlan`]).
//! - [`rounds`]: the transactions that open and close a round; the close reads the
//!   survey's earlier rounds for the anonymizer's rules across rounds (`history`).
//! - [`outbox`]: the [`OutboxWorker`], which claims queued emails and sends them.
//! - [`sign_in`]: magic sign-in links — asking for one, the token derived at send
//!   time ([`SignInToken`]), using it once.
//! - [`scheduler`]: the [`Scheduler`] (closes due rounds, opens due periods, queues
//!   reminders, refreshes participation) and [`run`], the loop of `serve` and
//!   `safepulse worker`.
//! - [`participation`]: the rounded, daily participation figure of open rounds.
//!
//! `rounds`, `outbox`, `scheduler`, `participation` and `sign_in` use the database through `safepulse-store`;
//! the others are pure building blocks. Nothing here logs a token, an email body, or a
//! recipient next to survey data.

pub mod cadence;
mod history;
pub mod item_bank;
pub mod messages;
pub mod outbox;
pub mod payloads;
pub mod participation;
pub mod rotation;
pub mod rounds;
pub mod scheduler;
pub mod sign_in;
pub mod survey;
pub mod test_send;
pub mod transport;

pub use cadence::{
    Cadence, CadenceError, CadenceSpec, Every, MonthlyOn, Period, QuietHours, WeekOfMonth,
};
pub use item_bank::{BankItem, ItemBank, ItemBankError};
pub use messages::{
    DigestCommitment, DigestFigure, DigestTeam, DigestTeamResult, InvitationEmail, LinkError,
    ManagerDigestEmail, MessageError, MessageHeaders, MessageId, PublicBaseUrl, Recipient,
    ReminderEmail, SecretLink, SignInEmail, calendar_date, local_date, local_day_and_month,
    pulse_label,
};
pub use outbox::{DeliveryReport, DimensionScales, OutboxError, OutboxSettings, OutboxWorker};
pub use rotation::{FixedItemList, RotatingPlan, RotationPlan, RotationPlanError, items_for_round};
pub use scheduler::{Scheduler, SchedulerSettings, TickReport};
pub use sign_in::SignInToken;
pub use survey::SurveyPlan;
pub use transport::{
    DEFAULT_POOL_SIZE, MailTransport, SendError, SmtpConfig, SmtpTls, TransportConfigError,
    retry_delay,
};
