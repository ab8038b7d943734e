use safepulse_domain::{SurveyId, TeamId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_teams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub survey_id: SurveyId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: TeamId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
