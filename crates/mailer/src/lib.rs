//! How safepulse's emails are worded, queued and sent. Only this crate knows SMTP
//! (lettre); the round lifecycle (`safepulse-rounds`) queues its emails through
//! [`payloads`] and never reaches the transport.
//!
//! - [`messages`]: invitation, reminder, manager digest and sign-in emails as
//!   multipart lettre messages in the recipient's language ([`InvitationEmail`], …),
//!   and the dates and labels they (and the pages) show.
//! - [`payloads`]: what a queued email says, stored on its outbox row
//!   ([`payloads::InvitationPayload`], [`payloads::DigestPayload`]), and
//!   [`payloads::new_outbox_row`].
//! - [`transport`]: [`MailTransport`] (pooled SMTP or `.eml` files), [`SendError`]
//!   (transient or permanent) and [`retry_delay`].
//! - [`outbox`]: the [`OutboxWorker`], which claims queued emails and sends them;
//!   the binary's worker drives it next to the rounds crate's scheduler.
//! - [`sign_in`]: magic sign-in links — asking for one, the token derived at send
//!   time ([`SignInToken`]), using it once.
//! - [`test_send`]: the admin console's test invitation to the administrator.
//! - [`webhooks`]: signed webhooks (Standard Webhooks), queued as outbox rows of
//!   kind `webhook` and sent by the same worker through a [`webhooks::WebhookTransport`]
//!   the API crate provides.
//!
//! `outbox`, `sign_in` and `test_send` use the database through `safepulse-store`;
//! the others are pure building blocks. Nothing here logs a token, an email body, or a
//! recipient next to survey data.

pub mod messages;
pub mod outbox;
pub mod payloads;
pub mod sign_in;
pub mod test_send;
pub mod transport;
pub mod webhooks;

pub use messages::{
    DigestCommitment, DigestFigure, DigestTeam, DigestTeamResult, InvitationEmail, LinkError,
    ManagerDigestEmail, MessageError, MessageHeaders, MessageId, PublicBaseUrl, Recipient,
    ReminderEmail, SecretLink, SignInEmail, calendar_date, local_date, local_day_and_month,
    pulse_label,
};
pub use outbox::{DeliveryReport, DimensionScales, OutboxError, OutboxSettings, OutboxWorker};
pub use sign_in::SignInToken;
pub use transport::{
    DEFAULT_POOL_SIZE, MailTransport, SendError, SmtpConfig, SmtpTls, TransportConfigError,
    retry_delay,
};
