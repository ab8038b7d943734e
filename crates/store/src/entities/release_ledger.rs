use safepulse_domain::{NodeId, RoundId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "release_ledger")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: RoundId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: NodeId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub family: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub atom_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
