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
    pub status: RoundStatus,
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

/// Whether a round takes answers (the column's strings, checked by the schema).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum RoundStatus {
    /// Takes answers.
    #[sea_orm(string_value = "open")]
    Open,
    /// Counted and released; takes no answers.
    #[sea_orm(string_value = "closed")]
    Closed,
}

impl RoundStatus {
    /// The stored string, for pages and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Open => "open",
            RoundStatus::Closed => "closed",
        }
    }
}

impl std::fmt::Display for RoundStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
