//! The vocabulary every safepulse crate shares: identifiers and validated values.
//!
//! Everything here is parsed once, at the edge, and is valid by construction:
//! [`Email`], [`Name`], [`TimeZone`], [`Locale`], [`Scale`] and [`Answer`], the survey
//! [`Dimension`]s, the [`Role`]s, and the key material of the privacy design in
//! [`keys`] ([`keys::MasterKey`], [`keys::RoundKey`], [`keys::LinkToken`]).
//! Time is a parameter: code that needs "now" takes a [`Clock`].
//!
//! This crate does no I/O. Its one optional feature, `sea-orm` (enabled by the
//! store only), makes the id newtypes sea-orm value types, so entities and store
//! functions carry them; it adds derives, never a query.

pub mod access;
mod clock;
mod ids;
pub mod keys;
mod name;
pub mod sealed;
mod survey;
mod values;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{CommitmentId, InvitationId, NodeId, PersonId, RoundId, SurveyId, TeamId, TokenId};
pub use name::{FORBIDDEN_IN_NAMES, Name, NameError, TRIMMED_FROM_NAMES};
pub use survey::{Answer, AnswerError, Dimension, ItemId, ItemMeta, Scale, ScaleError};
pub use values::{
    Email, EmailError, Locale, LocaleError, Role, RoleError, TimeZone, TimeZoneError,
};
