use safepulse_domain::{NodeId, RoundId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "open_responses")]
pub struct Model {
    /// First in the key: a round's rows are one range (one scan at close).
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: RoundId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub node_id: NodeId,
    #[sea_orm(unique)]
    pub ballot: Vec<u8>,
    /// The answers sealed under the round key (`safepulse_domain::sealed`).
    pub sealed: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
