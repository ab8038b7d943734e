//! A survey's schedule and questions as stored (`surveys.settings`, JSON) and as
//! validated: [`SurveySettings`] is the stored shape, [`SurveyPlan`] the checked
//! one the scheduler works with. Validation happens when an admin saves a survey
//! and again when a round opens, so a stored survey can never open a bad round.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use safepulse_domain::ItemId;
use serde::{Deserialize, Serialize};

use crate::cadence::{
    Cadence, CadenceError, CadenceSpec, Every, MonthlyOn, Period, QuietHours, WeekOfMonth,
};
use crate::item_bank::ItemBank;
use crate::rotation::{FixedItemList, RotatingPlan, RotationPlan, RotationPlanError};

/// A round is open at least a working day, at most two weeks.
pub const MIN_WINDOW_HOURS: u32 = 24;
pub const MAX_WINDOW_HOURS: u32 = 14 * 24;
/// At most this many reminders per round: more would be nagging.
pub const MAX_REMINDERS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    pub questions: QuestionSettings,
    pub cadence: CadenceSettings,
    /// The first local date a round may open on; every-N-weeks blocks count from its week.
    pub starts_on: NaiveDate,
    pub window_hours: u32,
    pub reminders: ReminderSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QuestionSettings {
    /// `n` agreement items per round rotating through the bank; the 0–10
    /// recommendation item every `m` rounds (or never).
    Rotating {
        items_per_round: u8,
        recommendation_every_rounds: Option<u32>,
    },
    /// The same items every round.
    Fixed { items: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Weekly,
    EveryNWeeks,
    Monthly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekOfMonthSetting {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CadenceSettings {
    pub frequency: Frequency,
    /// For `every_n_weeks`: 1–8.
    #[serde(default)]
    pub weeks: Option<u8>,
    /// For `monthly`: which occurrence of the weekday (default the first).
    #[serde(default)]
    pub week_of_month: Option<WeekOfMonthSetting>,
    /// `monday` … `sunday`.
    pub weekday: String,
    /// Local time in the team's time zone, `HH:MM`.
    pub local_time: String,
    #[serde(default)]
    pub allow_weekends: bool,
    /// `HH:MM`; default 20:00–07:00.
    #[serde(default)]
    pub quiet_hours_start: Option<String>,
    #[serde(default)]
    pub quiet_hours_end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettings {
    /// Hours after a team's opening at which a reminder goes out.
    pub after_hours: Vec<u32>,
    /// Remind only people without an answer. Off by default: computing it means the
    /// mail system sees who has not answered yet (the settings page says so).
    #[serde(default)]
    pub non_responders_only: bool,
}

impl Default for SurveySettings {
    fn default() -> Self {
        SurveySettings::starting_on(NaiveDate::from_ymd_opt(2026, 1, 5).expect("a date"))
    }
}

impl SurveySettings {
    /// The defaults: eight rotating items, every two weeks on Monday 09:00 local
    /// time, open four days, one reminder after two days, everyone reminded.
    pub fn starting_on(starts_on: NaiveDate) -> SurveySettings {
        SurveySettings {
            questions: QuestionSettings::Rotating {
                items_per_round: RotatingPlan::DEFAULT.agreement_items_per_round(),
                recommendation_every_rounds: RotatingPlan::DEFAULT.recommendation_every_rounds(),
            },
            cadence: CadenceSettings {
                frequency: Frequency::EveryNWeeks,
                weeks: Some(2),
                week_of_month: None,
                weekday: "monday".into(),
                local_time: "09:00".into(),
                allow_weekends: false,
                quiet_hours_start: None,
                quiet_hours_end: None,
            },
            starts_on,
            window_hours: 96,
            reminders: ReminderSettings {
                after_hours: vec![48],
                non_responders_only: false,
            },
        }
    }

    pub fn validate(&self, bank: &ItemBank) -> Result<SurveyPlan, SettingsError> {
        let questions = match &self.questions {
            QuestionSettings::Rotating {
                items_per_round,
                recommendation_every_rounds,
            } => RotationPlan::Rotating(RotatingPlan::new(
                *items_per_round,
                *recommendation_every_rounds,
            )?),
            QuestionSettings::Fixed { items } => RotationPlan::Fixed(FixedItemList::new(
                bank,
                items.iter().map(|id| ItemId(id.clone())).collect(),
            )?),
        };
        let cadence = Cadence::new(self.cadence.spec()?)?;
        if !(MIN_WINDOW_HOURS..=MAX_WINDOW_HOURS).contains(&self.window_hours) {
            return Err(SettingsError::Invalid(format!(
                "window_hours must be between {MIN_WINDOW_HOURS} and {MAX_WINDOW_HOURS}"
            )));
        }
        let shortest_period_hours = match cadence.spec().every {
            Every::Weekly => 7 * 24,
            Every::EveryWeeks(weeks) => u32::from(weeks) * 7 * 24,
            Every::Monthly(_) => 28 * 24,
        };
        if self.window_hours > shortest_period_hours {
            return Err(SettingsError::Invalid(format!(
                "window_hours ({}) must not be longer than the time between rounds ({shortest_period_hours} hours)",
                self.window_hours
            )));
        }
        if self.reminders.after_hours.len() > MAX_REMINDERS {
            return Err(SettingsError::Invalid(format!(
                "at most {MAX_REMINDERS} reminders per round"
            )));
        }
        let mut reminders = Vec::with_capacity(self.reminders.after_hours.len());
        for &hours in &self.reminders.after_hours {
            if hours == 0 || hours >= self.window_hours {
                return Err(SettingsError::Invalid(format!(
                    "a reminder after {hours} hours is outside the answer window of {} hours",
                    self.window_hours
                )));
            }
            reminders.push(TimeDelta::hours(i64::from(hours)));
        }
        reminders.sort();
        reminders.dedup();
        Ok(SurveyPlan {
            questions,
            cadence,
            starts_on: self.starts_on,
            window: TimeDelta::hours(i64::from(self.window_hours)),
            reminders,
            non_responders_only: self.reminders.non_responders_only,
        })
    }
}

impl CadenceSettings {
    fn spec(&self) -> Result<CadenceSpec, SettingsError> {
        let every = match self.frequency {
            Frequency::Weekly => Every::Weekly,
            Frequency::EveryNWeeks => Every::EveryWeeks(self.weeks.ok_or_else(|| {
                SettingsError::Invalid("every_n_weeks needs `weeks` (1–8)".into())
            })?),
            Frequency::Monthly => Every::Monthly(MonthlyOn::Week(
                match self.week_of_month.unwrap_or(WeekOfMonthSetting::First) {
                    WeekOfMonthSetting::First => WeekOfMonth::First,
                    WeekOfMonthSetting::Second => WeekOfMonth::Second,
                    WeekOfMonthSetting::Third => WeekOfMonth::Third,
                    WeekOfMonthSetting::Fourth => WeekOfMonth::Fourth,
                    WeekOfMonthSetting::Last => WeekOfMonth::Last,
                },
            )),
        };
        let weekday: Weekday = self.weekday.parse().map_err(|_| {
            SettingsError::Invalid(format!(
                "weekday {:?} is not a day of the week (monday … sunday)",
                self.weekday
            ))
        })?;
        let defaults = QuietHours::default();
        let quiet_hours = QuietHours::new(
            parse_local_time(self.quiet_hours_start.as_deref(), defaults.start())?,
            parse_local_time(self.quiet_hours_end.as_deref(), defaults.end())?,
        )?;
        Ok(CadenceSpec {
            every,
            weekday,
            local_time: parse_local_time(Some(&self.local_time), defaults.end())?,
            allow_weekends: self.allow_weekends,
            quiet_hours,
        })
    }
}

fn parse_local_time(raw: Option<&str>, default: NaiveTime) -> Result<NaiveTime, SettingsError> {
    match raw {
        None => Ok(default),
        Some(text) => NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| {
            SettingsError::Invalid(format!("{text:?} is not a local time like 09:30"))
        }),
    }
}

/// A survey's validated schedule and questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyPlan {
    pub questions: RotationPlan,
    pub cadence: Cadence,
    pub starts_on: NaiveDate,
    pub window: TimeDelta,
    /// Offsets after a team's opening, ascending.
    pub reminders: Vec<TimeDelta>,
    pub non_responders_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Questions(#[from] RotationPlanError),
    #[error("{0}")]
    Cadence(#[from] CadenceError),
    #[error("{0}")]
    Invalid(String),
    #[error("the stored survey settings cannot be read: {0}")]
    Unreadable(String),
}

impl SurveyPlan {
    /// Reads and validates stored settings.
    pub fn from_stored(
        json: &serde_json::Value,
        bank: &ItemBank,
    ) -> Result<SurveyPlan, SettingsError> {
        let settings: SurveySettings = serde_json::from_value(json.clone())
            .map_err(|error| SettingsError::Unreadable(error.to_string()))?;
        settings.validate(bank)
    }

    /// The period the scheduler opens at `now` for teams in `time_zone`, if one is
    /// due: its opening has passed and it is not before the survey's start. Whether
    /// the survey already has a round for it is the caller's to check.
    pub fn due_period(&self, now: DateTime<Utc>, time_zone: Tz) -> Option<Period> {
        let period = self
            .cadence
            .period_containing(self.starts_on, now, time_zone);
        (period.opens_at <= now && period.opens_on >= self.starts_on).then_some(period)
    }

    /// When the round after one closing at `now` closes, i.e. when its results
    /// come, for teams in `time_zones`: the period the scheduler opens next (the
    /// due one if the survey has no round for it yet — the scheduler opens it at
    /// its next tick — else the cadence's next opening from the start date on),
    /// each zone invited at its own opening time as [`crate::rounds::open_round`]
    /// does, plus the answer window. `None` without zones.
    pub fn next_results_at(
        &self,
        now: DateTime<Utc>,
        time_zones: &[Tz],
        has_round: impl Fn(&str) -> bool,
    ) -> Option<DateTime<Utc>> {
        // The earliest zone opens the round, as in the scheduler.
        let period = time_zones
            .iter()
            .map(|&zone| self.next_period(now, zone, &has_round))
            .min_by_key(|period| period.opens_at)?;
        let last_opening = time_zones
            .iter()
            .map(|&zone| self.cadence.opening_instant(period.opens_on, zone).max(now))
            .max()?;
        Some(last_opening + self.window)
    }

    fn next_period(
        &self,
        now: DateTime<Utc>,
        time_zone: Tz,
        has_round: impl Fn(&str) -> bool,
    ) -> Period {
        if let Some(due) = self
            .due_period(now, time_zone)
            .filter(|period| !has_round(&period.key))
        {
            return due;
        }
        let mut next = self
            .cadence
            .next_opening_after(self.starts_on, now, time_zone);
        // A round opened by hand before the survey's start: the scheduler waits for it.
        while next.opens_on < self.starts_on {
            next = self
                .cadence
                .next_opening_after(self.starts_on, next.opens_at, time_zone);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank() -> ItemBank {
        ItemBank::builtin().unwrap()
    }

    #[test]
    fn the_defaults_are_valid_and_round_trip_through_json() {
        let settings = SurveySettings::default();
        let plan = settings.validate(&bank()).unwrap();
        assert_eq!(plan.window, TimeDelta::hours(96));
        let json = serde_json::to_value(&settings).unwrap();
        assert_eq!(SurveyPlan::from_stored(&json, &bank()).unwrap(), plan);
    }

    #[test]
    fn a_reminder_outside_the_window_is_refused() {
        let mut settings = SurveySettings::default();
        settings.reminders.after_hours = vec![96];
        let error = settings.validate(&bank()).unwrap_err();
        assert!(
            error.to_string().contains("outside the answer window"),
            "{error}"
        );
    }

    #[test]
    fn a_window_longer_than_the_cadence_is_refused() {
        let mut settings = SurveySettings::default();
        settings.cadence.frequency = Frequency::Weekly;
        settings.window_hours = 8 * 24;
        assert!(matches!(
            settings.validate(&bank()),
            Err(SettingsError::Invalid(_))
        ));
    }

    #[test]
    fn a_weekend_or_a_night_opening_is_refused_unless_asked() {
        let mut settings = SurveySettings::default();
        settings.cadence.weekday = "saturday".into();
        assert!(matches!(
            settings.validate(&bank()),
            Err(SettingsError::Cadence(
                CadenceError::WeekendNotAllowed { .. }
            ))
        ));
        settings.cadence.allow_weekends = true;
        settings.validate(&bank()).unwrap();
        settings.cadence.local_time = "22:30".into();
        assert!(matches!(
            settings.validate(&bank()),
            Err(SettingsError::Cadence(CadenceError::InQuietHours { .. }))
        ));
    }

    fn weekly_monday_nine_open_four_days() -> SurveyPlan {
        let mut settings =
            SurveySettings::starting_on(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        settings.cadence.frequency = Frequency::Weekly;
        settings.validate(&bank()).unwrap()
    }

    fn utc(day: u32, hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone as _;
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn the_next_results_come_a_window_after_the_next_opening_the_scheduler_makes() {
        let plan = weekly_monday_nine_open_four_days();
        let berlin = chrono_tz::Europe::Berlin;
        // This week's round (opened Monday 14 Dec) closes Friday 18 Dec, 09:00 CET:
        // the next opens Monday 21 Dec, 09:00, and closes four days later.
        let closes = utc(18, 8);
        assert_eq!(
            plan.next_results_at(closes, &[berlin], |key| key == "2026-W51"),
            Some(utc(25, 8))
        );
        // A round opened by hand that took no slot: this week's is still due and
        // opens at the scheduler's next tick.
        assert_eq!(
            plan.next_results_at(closes, &[berlin], |_| false),
            Some(closes + TimeDelta::hours(96))
        );
        // Teams in two zones: the round closes a window after the later opening.
        let new_york = chrono_tz::America::New_York;
        assert_eq!(
            plan.next_results_at(closes, &[berlin, new_york], |key| key == "2026-W51"),
            Some(utc(25, 14))
        );
        assert_eq!(plan.next_results_at(closes, &[], |_| false), None);
    }

    #[test]
    fn before_the_survey_s_start_the_next_results_follow_its_first_opening() {
        let mut plan = weekly_monday_nine_open_four_days();
        plan.starts_on = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        assert_eq!(
            plan.next_results_at(utc(18, 8), &[chrono_tz::UTC], |_| false),
            Some(
                NaiveDate::from_ymd_opt(2027, 1, 8)
                    .unwrap()
                    .and_hms_opt(9, 0, 0)
                    .unwrap()
                    .and_utc()
            )
        );
    }

    #[test]
    fn unknown_fixed_items_are_named() {
        let settings = SurveySettings {
            questions: QuestionSettings::Fixed {
                items: vec!["nope-99".into()],
            },
            ..SurveySettings::default()
        };
        let error = settings.validate(&bank()).unwrap_err();
        assert!(error.to_string().contains("nope-99"), "{error}");
    }
}
