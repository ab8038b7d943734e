use safepulse_domain::{InvitationId, PersonId, RoundId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
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

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
