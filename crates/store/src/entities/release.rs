use safepulse_domain::{NodeId, RoundId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "releases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub round_id: RoundId,
    pub node_id: NodeId,
    pub status: ReleaseStatus,
    pub detail: bool,
    /// The anonymizer's stored form (`safepulse_anonymizer::StoredForm`) of the
    /// released or rounded figures; `None` exactly when suppressed.
    pub figures: Option<Vec<u8>>,
    /// The node's invited people differ from the survey's previous round (decided at
    /// close; reports say "team changed since the last pulse", never how).
    pub team_changed: bool,
}

/// What a node's release holds (the column's strings, checked by the schema).
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum ReleaseStatus {
    /// Exact figures.
    #[sea_orm(string_value = "released")]
    Released,
    /// Means on a coarse grid, no favourability (Rule D).
    #[sea_orm(string_value = "rounded")]
    Rounded,
    /// No figures.
    #[sea_orm(string_value = "suppressed")]
    Suppressed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
