use safepulse_domain::{RoundId, SurveyId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rounds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RoundId,
    pub survey_id: SurveyId,
    pub period_key: String,
    pub round_index: i32,
    pub status: String,
    pub key_id: String,
    pub k: i32,
    pub k_detail: i32,
    /// The survey's `restricted_release` when the round opened.
    pub restricted_release: String,
    pub opened_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub invited_count: i32,
    pub bounce_count: i32,
    pub org_figures: Option<Json>,
    /// When the round's key was destroyed and freed pages scrubbed after close.
    pub scrubbed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
