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
//!
//! Nothing here touches the database: the round opener and the outbox worker, which
//! do, build on these pieces. Nothing here logs a token, an email body, or a
//! recipient next to survey data.

pub mod cadence;
pub mod item_bank;
pub mod messages;
pub mod rotation;
pub mod rounds;
pub mod survey;
pub mod transport;

pub use cadence::{
    Cadence, CadenceError, CadenceSpec, Every, MonthlyOn, Period, QuietHours, WeekOfMonth,
};
pub use item_bank::{BankItem, ItemBank, ItemBankError};
pub use messages::{
    DigestFigure, DigestTeam, DigestTeamResult, InvitationEmail, LinkError, ManagerDigestEmail,
    MessageError, MessageHeaders, MessageId, PublicBaseUrl, Recipient, ReminderEmail, SecretLink,
    SignInEmail,
};
pub use rotation::{FixedItemList, RotatingPlan, RotationPlan, RotationPlanError, items_for_round};
pub use transport::{
    MailTransport, SendError, SmtpConfig, SmtpTls, TransportConfigError, retry_delay,
};
