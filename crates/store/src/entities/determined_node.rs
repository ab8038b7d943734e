use safepulse_domain::{NodeId, RoundId};
use sea_orm::entity::prelude::*;

/// A node whose figures a round's exact releases pin down (Rule D's memory, never
/// served): released exactly, or derivable from released neighbours.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "determined_nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: RoundId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub family: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: NodeId,
    pub respondents: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
