use safepulse_domain::SurveyId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "surveys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SurveyId,
    pub name: String,
    pub status: String,
    pub include_subteams: bool,
    pub settings: Json,
    pub k: i32,
    pub k_detail: i32,
    /// `suppressed` or `rounded`: Rule D's restricted releases (issue 18).
    pub restricted_release: String,
    pub privacy_locked: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
