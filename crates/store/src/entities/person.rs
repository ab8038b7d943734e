use safepulse_domain::{PersonId, TeamId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PersonId,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    /// `None` for people who hold role grants only (HR analysts, administrators):
    /// they belong to no team, so no round invites them.
    pub team_id: Option<TeamId>,
    pub locale: String,
    pub time_zone: Option<String>,
    pub active: bool,
    pub undeliverable: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
