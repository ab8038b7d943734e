use safepulse_domain::RoundId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "atom_statistics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub round_id: RoundId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub family: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub atom_id: Uuid,
    pub people: i32,
    /// The anonymizer's stored form of its `AtomStatistics`.
    pub statistics: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
