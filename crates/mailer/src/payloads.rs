//! What queued emails say: the payloads stored on outbox rows by whoever queues an
//! email (the rounds crate for invitations, reminders and digests), read back by the
//! [`crate::outbox`] worker at send time, and [`new_outbox_row`], one pending row.
//! Rows outlive releases of the code, so fields added later are `#[serde(default)]`.

use chrono::{DateTime, Utc};
use safepulse_anonymizer::{ReleasedFigures, RoundedFigures};
use safepulse_domain::{InvitationId, RoundId};
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::{outbox, person};
use sea_orm::Set;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::messages::{LinkError, MessageId};

/// What the invitation and reminder emails of a round say, stored on their outbox
/// rows. The link token is not here: it is derived at send time from the round key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPayload {
    pub survey_name: String,
    pub team_name: String,
    /// The teams the person leads, when they answer in the Leadership node: their
    /// email says so instead of calling the group their team. Absent in rows
    /// queued before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub led_teams: Vec<String>,
    pub question_count: usize,
    pub min_group_size: u32,
    pub closes_at: DateTime<Utc>,
    pub locale: String,
    pub time_zone: String,
}

/// The digest a manager gets when a round closes, stored on its outbox row: the
/// released headline figures of the teams they lead, as far as they may read them
/// (a team is hidden, `figures: None`, when the reader rule hides it from them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestPayload {
    pub survey_name: String,
    pub round_label: String,
    pub report_link: String,
    pub locale: String,
    pub time_zone: String,
    pub teams: Vec<DigestPayloadTeam>,
    /// When the next pulse's results are expected, in the (first) team's time
    /// zone: only for an active survey, whose cadence says when its next round
    /// opens. Absent otherwise, and in rows queued before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_results_on: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestPayloadTeam {
    pub team_name: String,
    /// `None` when the release is suppressed or rounded.
    pub figures: Option<ReleasedFigures>,
    /// A rounded release (Rule D): its coarse means.
    #[serde(default)]
    pub rounded: Option<RoundedFigures>,
    /// The team's commitments not yet done when the round closed: the leader's own
    /// words, nothing from answers.
    #[serde(default)]
    pub commitments: Vec<DigestPayloadCommitment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestPayloadCommitment {
    pub dimension: String,
    pub action: String,
    pub due_on: chrono::NaiveDate,
}

/// A pending outbox row of `kind` to `person`, with a fresh Message-ID on `mail_host`.
#[allow(clippy::too_many_arguments)]
pub fn new_outbox_row(
    kind: OutboxKind,
    person: &person::Model,
    invitation_id: Option<InvitationId>,
    round_id: Option<RoundId>,
    payload: serde_json::Value,
    not_before: DateTime<Utc>,
    now: DateTime<Utc>,
    mail_host: &str,
) -> Result<outbox::ActiveModel, LinkError> {
    let message_id = MessageId::random(mail_host)?;
    Ok(outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(kind),
        recipient: Set(person.email.clone()),
        person_id: Set(Some(person.id)),
        invitation_id: Set(invitation_id),
        round_id: Set(round_id),
        payload: Set(payload),
        message_id: Set(message_id.as_str().to_owned()),
        status: Set("pending".into()),
        attempts: Set(0),
        not_before: Set(not_before),
        claimed_until: Set(None),
        claim_token: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    })
}
