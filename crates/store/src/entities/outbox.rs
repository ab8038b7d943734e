use safepulse_domain::{InvitationId, PersonId, RoundId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: OutboxKind,
    pub recipient: String,
    pub person_id: Option<PersonId>,
    pub invitation_id: Option<InvitationId>,
    pub round_id: Option<RoundId>,
    pub payload: Json,
    #[sea_orm(unique)]
    pub message_id: String,
    pub status: String,
    pub attempts: i32,
    pub not_before: DateTimeUtc,
    pub claimed_until: Option<DateTimeUtc>,
    /// The token of the worker call that holds the claim; NULL when nobody does.
    pub claim_token: Option<Uuid>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

/// What an outbox row delivers (the column's strings, checked by the schema).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum OutboxKind {
    /// A round's invitation email.
    #[sea_orm(string_value = "invitation")]
    Invitation,
    /// A round's reminder email.
    #[sea_orm(string_value = "reminder")]
    Reminder,
    /// A manager's digest after a round closed.
    #[sea_orm(string_value = "digest")]
    Digest,
    /// A sign-in magic link.
    #[sea_orm(string_value = "sign_in")]
    SignIn,
    /// The admin console's test invitation (no round).
    #[sea_orm(string_value = "test_invitation")]
    TestInvitation,
    /// A signed webhook delivery (not an email).
    #[sea_orm(string_value = "webhook")]
    Webhook,
}

impl OutboxKind {
    /// The stored string, for logs and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Invitation => "invitation",
            OutboxKind::Reminder => "reminder",
            OutboxKind::Digest => "digest",
            OutboxKind::SignIn => "sign_in",
            OutboxKind::TestInvitation => "test_invitation",
            OutboxKind::Webhook => "webhook",
        }
    }
}

impl std::fmt::Display for OutboxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn as_str_is_the_stored_string() {
        for kind in OutboxKind::iter() {
            assert_eq!(kind.as_str(), kind.to_value());
        }
    }
}
