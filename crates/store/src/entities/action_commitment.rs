use safepulse_domain::{CommitmentId, RoundId, TeamId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "action_commitments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CommitmentId,
    pub team_id: TeamId,
    pub round_id: RoundId,
    pub slot: i32,
    pub dimension: String,
    pub action: String,
    pub due_on: Date,
    pub done_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
