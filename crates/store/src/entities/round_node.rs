use safepulse_domain::{NodeId, RoundId, TeamId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "round_nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: RoundId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: NodeId,
    pub parent_node_id: Option<NodeId>,
    pub team_id: Option<TeamId>,
    pub kind: String,
    pub name: String,
    pub invited: i32,
    pub viewers: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
