//! The admin console's "send a test email to me": the invitation of a survey as its
//! respondents would get it, marked as a test in its subject and body, to the
//! administrator's own address. It goes through the outbox like every email (kind
//! `test_invitation`), but it belongs to no round: no invitation row, no token, no
//! lookup, and the link opens the console's preview, where nothing can be answered.
//! It is counted in no round, invitation or participation figure (the worker's
//! email-delivery counters count it as the email it is).

use chrono::{DateTime, Utc};
use safepulse_domain::Email;
use safepulse_store::StoreError;
use safepulse_store::entities::outbox;
use safepulse_store::entities::outbox::OutboxKind;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::messages::{LinkError, MessageId};

/// What the worker needs to render a test invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestInvitationPayload {
    pub survey_name: String,
    pub team_name: String,
    pub question_count: usize,
    pub min_group_size: u32,
    pub closes_at: DateTime<Utc>,
    pub locale: String,
    pub time_zone: String,
    /// The console's preview page: the test email's only link.
    pub preview_link: String,
}

/// Queues a test invitation to `recipient` in the caller's transaction.
pub async fn queue_test_invitation(
    db: &impl ConnectionTrait,
    recipient: &Email,
    payload: &TestInvitationPayload,
    now: DateTime<Utc>,
    mail_host: &str,
) -> Result<(), StoreError> {
    let message_id = MessageId::random(mail_host).map_err(|error: LinkError| {
        StoreError::from(sea_orm::DbErr::Custom(format!("mail host: {error}")))
    })?;
    outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(OutboxKind::TestInvitation),
        recipient: Set(recipient.as_str().to_owned()),
        person_id: Set(None),
        invitation_id: Set(None),
        round_id: Set(None),
        payload: Set(serde_json::to_value(payload).expect("the payload serializes")),
        message_id: Set(message_id.as_str().to_owned()),
        status: Set("pending".into()),
        attempts: Set(0),
        not_before: Set(now),
        claimed_until: Set(None),
        claim_token: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}
