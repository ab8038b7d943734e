use safepulse_domain::{NodeId, RoundId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "round_participation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: RoundId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: NodeId,
    pub respondents: i32,
    pub computed_at: DateTimeUtc,
    /// The earliest moment of the next refresh: a day after `computed_at`, plus a
    /// random part of the following day.
    pub refresh_after: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
