//! When rounds open: a [`Cadence`] (weekly, every N weeks or monthly, on a weekday
//! at a local time) evaluated in a team's IANA time zone.
//!
//! Time is cut into **periods** of the team's local calendar: an ISO week, a block
//! of N ISO weeks counted from an anchor date, or a calendar month. Each period
//! has one opening, on a local date inside it, and a [`Period::key`] such as
//! `"2026-W48"` or `"2026-11"`. The key depends only on the local date of the
//! instant asked about, so every scheduler replica, at any instant of the period,
//! computes the same key: storing rounds `UNIQUE(survey, period key)` makes opening
//! idempotent.
//!
//! Local times are turned into instants the way people expect around daylight
//! saving changes: a time that does not exist (the spring-forward gap) opens at
//! the first instant after the gap; a time that exists twice (fall-back) opens at
//! the earlier one. Weekends and quiet hours are refused when the cadence is built,
//! so a valid cadence never opens a round at night or on a weekend by accident.

use std::fmt;

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone,
    Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

use safepulse_mailer::messages::english_weekday_name;

/// Longest "every N weeks" supported: beyond two months a pulse is no longer a pulse.
pub const MAX_WEEKS_BETWEEN_ROUNDS: u8 = 8;
/// Latest day for [`MonthlyOn::OnOrAfterDay`]: the chosen weekday on or after day 22
/// always falls in the same month, even in February.
pub const LATEST_MONTHLY_START_DAY: u8 = 22;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CadenceError {
    WeeksOutOfRange(u8),
    MonthlyStartDayOutOfRange(u8),
    WeekendNotAllowed {
        weekday: Weekday,
    },
    InQuietHours {
        local_time: NaiveTime,
        quiet_hours: QuietHours,
    },
    EmptyQuietHours,
}

impl fmt::Display for CadenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CadenceError::WeeksOutOfRange(weeks) => {
                write!(
                    f,
                    "every {weeks} weeks is not supported; choose every 1 to {MAX_WEEKS_BETWEEN_ROUNDS} weeks"
                )
            }
            CadenceError::MonthlyStartDayOutOfRange(day) => write!(
                f,
                "day {day} of the month is not supported; choose a day from 1 to {LATEST_MONTHLY_START_DAY}, \
                 so the round always opens in the same month"
            ),
            CadenceError::WeekendNotAllowed { weekday } => write!(
                f,
                "{} is a weekend day; choose Monday to Friday, or allow weekends for this survey",
                english_weekday_name(*weekday)
            ),
            CadenceError::InQuietHours {
                local_time,
                quiet_hours,
            } => {
                let (start, end) = (
                    hours_minutes(quiet_hours.start),
                    hours_minutes(quiet_hours.end),
                );
                write!(
                    f,
                    "{} is inside the quiet hours ({start}–{end}); choose a time from {end} to {start}",
                    hours_minutes(*local_time)
                )
            }
            CadenceError::EmptyQuietHours => {
                f.write_str("quiet hours must start and end at different times")
            }
        }
    }
}

impl std::error::Error for CadenceError {}

/// How often a round opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Weekly,
    /// Every N ISO weeks (1–8), counted from the week of the anchor date.
    EveryWeeks(u8),
    Monthly(MonthlyOn),
}

/// Which day of the month a monthly round opens on (always on the cadence's weekday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthlyOn {
    /// E.g. the second Tuesday, or the last Friday.
    Week(WeekOfMonth),
    /// The first occurrence of the weekday on or after this day (1–22),
    /// e.g. "the first Monday on or after the 15th".
    OnOrAfterDay(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeekOfMonth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

/// Local times at which no round opens, e.g. 20:00–07:00. May wrap past midnight;
/// the start is inside, the end is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl QuietHours {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<QuietHours, CadenceError> {
        if start == end {
            return Err(CadenceError::EmptyQuietHours);
        }
        Ok(QuietHours { start, end })
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }

    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }
}

impl Default for QuietHours {
    /// 20:00–07:00 local time.
    fn default() -> Self {
        QuietHours {
            start: NaiveTime::from_hms_opt(20, 0, 0).expect("20:00 is a time"),
            end: NaiveTime::from_hms_opt(7, 0, 0).expect("07:00 is a time"),
        }
    }
}

/// What an admin chose, before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CadenceSpec {
    pub every: Every,
    pub weekday: Weekday,
    pub local_time: NaiveTime,
    pub allow_weekends: bool,
    pub quiet_hours: QuietHours,
}

/// A validated cadence: never on a weekend unless allowed, never in quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    spec: CadenceSpec,
}

/// One period of a cadence in one time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `"2026-W48"` (weekly and every-N-weeks: the ISO week the period starts in)
    /// or `"2026-11"` (monthly). One round per survey and key.
    pub key: String,
    /// The local date the round opens on; the same in every time zone.
    pub opens_on: NaiveDate,
    /// When the round opens, in the time zone the period was computed for.
    pub opens_at: DateTime<Utc>,
}

/// A period of the local calendar, before it is placed in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CalendarBlock {
    Weeks {
        first_monday: NaiveDate,
        length_in_weeks: u8,
    },
    /// A calendar month, with the rule that picks its opening day.
    Month { first_day: NaiveDate, on: MonthlyOn },
}

impl CalendarBlock {
    fn key(self) -> String {
        match self {
            CalendarBlock::Weeks { first_monday, .. } => {
                let week = first_monday.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            CalendarBlock::Month { first_day, .. } => {
                format!("{}-{:02}", first_day.year(), first_day.month())
            }
        }
    }

    fn following(self) -> CalendarBlock {
        match self {
            CalendarBlock::Weeks {
                first_monday,
                length_in_weeks,
            } => CalendarBlock::Weeks {
                first_monday: first_monday + Days::new(7 * u64::from(length_in_weeks)),
                length_in_weeks,
            },
            CalendarBlock::Month { first_day, on } => CalendarBlock::Month {
                first_day: first_day + Months::new(1),
                on,
            },
        }
    }
}

impl Cadence {
    pub fn new(spec: CadenceSpec) -> Result<Cadence, CadenceError> {
        match spec.every {
            Every::EveryWeeks(weeks) if !(1..=MAX_WEEKS_BETWEEN_ROUNDS).contains(&weeks) => {
                return Err(CadenceError::WeeksOutOfRange(weeks));
            }
            Every::Monthly(MonthlyOn::OnOrAfterDay(day))
                if !(1..=LATEST_MONTHLY_START_DAY).contains(&day) =>
            {
                return Err(CadenceError::MonthlyStartDayOutOfRange(day));
            }
            _ => {}
        }
        if is_weekend(spec.weekday) && !spec.allow_weekends {
            return Err(CadenceError::WeekendNotAllowed {
                weekday: spec.weekday,
            });
        }
        if spec.quiet_hours.contains(spec.local_time) {
            return Err(CadenceError::InQuietHours {
                local_time: spec.local_time,
                quiet_hours: spec.quiet_hours,
            });
        }
        Ok(Cadence { spec })
    }

    /// What the cadence was built from: for storing it and showing it.
    pub fn spec(&self) -> CadenceSpec {
        self.spec
    }

    /// The period that the local date of `at` (in `time_zone`) falls in. Its opening
    /// may still be ahead of `at`. `anchor` is the local date every-N-weeks blocks are
    /// counted from (e.g. the survey's start date); other cadences ignore it.
    pub fn period_containing(&self, anchor: NaiveDate, at: DateTime<Utc>, time_zone: Tz) -> Period {
        let local_date = at.with_timezone(&time_zone).date_naive();
        self.period_of(self.block_containing(anchor, local_date), time_zone)
    }

    /// The first period whose opening is strictly after `at`: what a scheduler
    /// sleeps until.
    pub fn next_opening_after(
        &self,
        anchor: NaiveDate,
        at: DateTime<Utc>,
        time_zone: Tz,
    ) -> Period {
        let local_date = at.with_timezone(&time_zone).date_naive();
        let mut block = self.block_containing(anchor, local_date);
        loop {
            let period = self.period_of(block, time_zone);
            if period.opens_at > at {
                return period;
            }
            block = block.following();
        }
    }

    /// When a period opening on the local date `opens_on` opens in `time_zone`: how
    /// a round computed in one zone is timed for a team in another.
    pub fn opening_instant(&self, opens_on: NaiveDate, time_zone: Tz) -> DateTime<Utc> {
        instant_of_local_time(time_zone, opens_on.and_time(self.spec.local_time))
    }

    fn period_of(&self, block: CalendarBlock, time_zone: Tz) -> Period {
        let opens_on = self.opening_date(block);
        Period {
            key: block.key(),
            opens_on,
            opens_at: self.opening_instant(opens_on, time_zone),
        }
    }

    fn block_containing(&self, anchor: NaiveDate, local_date: NaiveDate) -> CalendarBlock {
        match self.spec.every {
            Every::Weekly => CalendarBlock::Weeks {
                first_monday: monday_of_week(local_date),
                length_in_weeks: 1,
            },
            Every::EveryWeeks(length_in_weeks) => {
                let anchor_monday = monday_of_week(anchor);
                let weeks_since_anchor = (monday_of_week(local_date) - anchor_monday).num_weeks();
                // Euclidean division: dates before the anchor fall into earlier blocks,
                // never into a block of the wrong length.
                let block_index = weeks_since_anchor.div_euclid(i64::from(length_in_weeks));
                let first_monday =
                    anchor_monday + TimeDelta::weeks(block_index * i64::from(length_in_weeks));
                CalendarBlock::Weeks {
                    first_monday,
                    length_in_weeks,
                }
            }
            Every::Monthly(on) => CalendarBlock::Month {
                first_day: local_date.with_day(1).expect("day 1 exists"),
                on,
            },
        }
    }

    fn opening_date(&self, block: CalendarBlock) -> NaiveDate {
        let weekday = self.spec.weekday.num_days_from_monday();
        match block {
            CalendarBlock::Weeks { first_monday, .. } => {
                first_monday + Days::new(u64::from(weekday))
            }
            CalendarBlock::Month { first_day, on } => {
                let start_day = match on {
                    MonthlyOn::OnOrAfterDay(day) => u32::from(day),
                    MonthlyOn::Week(WeekOfMonth::First) => 1,
                    MonthlyOn::Week(WeekOfMonth::Second) => 8,
                    MonthlyOn::Week(WeekOfMonth::Third) => 15,
                    MonthlyOn::Week(WeekOfMonth::Fourth) => 22,
                    MonthlyOn::Week(WeekOfMonth::Last) => {
                        let last_day = first_day + Months::new(1) - Days::new(1);
                        let days_back =
                            (7 + last_day.weekday().num_days_from_monday() - weekday) % 7;
                        return last_day - Days::new(u64::from(days_back));
                    }
                };
                let start = first_day
                    .with_day(start_day)
                    .expect("days 1–22 exist in every month");
                let days_ahead = (7 + weekday - start.weekday().num_days_from_monday()) % 7;
                start + Days::new(u64::from(days_ahead))
            }
        }
    }
}

fn monday_of_week(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

fn is_weekend(weekday: Weekday) -> bool {
    matches!(weekday, Weekday::Sat | Weekday::Sun)
}

/// The instant a local wall-clock time means in `time_zone`, DST-correct.
fn instant_of_local_time(time_zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match time_zone.from_local_datetime(&local) {
        LocalResult::Single(instant) => instant.with_timezone(&Utc),
        // Fall-back: the wall clock shows this time twice; the first is what people
        // who set "09:00" mean, and it keeps the opening before the repeated hour.
        LocalResult::Ambiguous(earlier, later) => earlier.min(later).with_timezone(&Utc),
        // Spring-forward gap: open at the first instant after the gap, i.e. when the
        // clock jumps. Transitions happen on whole local minutes, so stepping by
        // minutes finds it; a two-day bound covers every gap in the tz database.
        LocalResult::None => {
            let start_of_minute = local
                .with_second(0)
                .and_then(|time| time.with_nanosecond(0))
                .unwrap_or(local);
            (1..=2 * 24 * 60)
                .find_map(|minutes| {
                    time_zone
                        .from_local_datetime(&(start_of_minute + TimeDelta::minutes(minutes)))
                        .earliest()
                })
                .map(|instant| instant.with_timezone(&Utc))
                .unwrap_or_else(|| local.and_utc())
        }
    }
}

fn hours_minutes(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Sydney;
    use chrono_tz::Europe::Berlin;
    use proptest::prelude::*;

    use super::*;

    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
            .unwrap()
    }

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn time(hour: u32, minute: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hour, minute, 0).unwrap()
    }

    fn spec(every: Every, weekday: Weekday, local_time: NaiveTime) -> CadenceSpec {
        CadenceSpec {
            every,
            weekday,
            local_time,
            allow_weekends: false,
            quiet_hours: QuietHours::default(),
        }
    }

    fn weekly(weekday: Weekday, hour: u32, minute: u32) -> Cadence {
        Cadence::new(spec(Every::Weekly, weekday, time(hour, minute))).unwrap()
    }

    /// Sundays at night: only for the DST tests, whose transitions happen then.
    fn sunday_night(hour: u32, minute: u32) -> Cadence {
        Cadence::new(CadenceSpec {
            allow_weekends: true,
            quiet_hours: QuietHours::new(time(22, 0), time(1, 0)).unwrap(),
            ..spec(Every::Weekly, Weekday::Sun, time(hour, minute))
        })
        .unwrap()
    }

    const NO_ANCHOR: NaiveDate = NaiveDate::MIN;

    #[test]
    fn new_york_monday_nine_stays_nine_local_across_spring_forward() {
        let cadence = weekly(Weekday::Mon, 9, 0);
        let before = cadence.period_containing(NO_ANCHOR, utc(2026, 3, 4, 12, 0), New_York);
        assert_eq!(before.key, "2026-W10");
        assert_eq!(before.opens_at, utc(2026, 3, 2, 14, 0), "09:00 EST");
        let after = cadence.next_opening_after(NO_ANCHOR, before.opens_at, New_York);
        assert_eq!(after.key, "2026-W11");
        assert_eq!(after.opens_at, utc(2026, 3, 9, 13, 0), "09:00 EDT");
    }

    #[test]
    fn new_york_monday_nine_stays_nine_local_across_fall_back() {
        let cadence = weekly(Weekday::Mon, 9, 0);
        let before = cadence.period_containing(NO_ANCHOR, utc(2026, 10, 28, 12, 0), New_York);
        assert_eq!(before.opens_at, utc(2026, 10, 26, 13, 0), "09:00 EDT");
        let after = cadence.next_opening_after(NO_ANCHOR, before.opens_at, New_York);
        assert_eq!(
            (after.key.as_str(), after.opens_at),
            ("2026-W45", utc(2026, 11, 2, 14, 0)),
            "09:00 EST"
        );
    }

    #[test]
    fn new_york_a_time_in_the_spring_forward_gap_opens_when_the_clock_jumps() {
        // 2026-03-08 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        let period =
            sunday_night(2, 30).period_containing(NO_ANCHOR, utc(2026, 3, 8, 12, 0), New_York);
        assert_eq!(period.opens_on, date(2026, 3, 8));
        assert_eq!(period.opens_at, utc(2026, 3, 8, 7, 0), "03:00 EDT");
    }

    #[test]
    fn new_york_a_time_repeated_at_fall_back_opens_the_first_time() {
        // 2026-11-01 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let period =
            sunday_night(1, 30).period_containing(NO_ANCHOR, utc(2026, 11, 1, 12, 0), New_York);
        assert_eq!(
            period.opens_at,
            utc(2026, 11, 1, 5, 30),
            "01:30 EDT, not 01:30 EST"
        );
    }

    #[test]
    fn berlin_monday_nine_and_both_transitions() {
        let cadence = weekly(Weekday::Mon, 9, 0);
        let march = cadence.period_containing(NO_ANCHOR, utc(2026, 3, 25, 12, 0), Berlin);
        assert_eq!(march.opens_at, utc(2026, 3, 23, 8, 0), "09:00 CET");
        assert_eq!(
            cadence
                .next_opening_after(NO_ANCHOR, march.opens_at, Berlin)
                .opens_at,
            utc(2026, 3, 30, 7, 0)
        );
        let october = cadence.period_containing(NO_ANCHOR, utc(2026, 10, 21, 12, 0), Berlin);
        assert_eq!(october.opens_at, utc(2026, 10, 19, 7, 0), "09:00 CEST");
        assert_eq!(
            cadence
                .next_opening_after(NO_ANCHOR, october.opens_at, Berlin)
                .opens_at,
            utc(2026, 10, 26, 8, 0)
        );
        // 2026-03-29 02:00 CET jumps to 03:00 CEST.
        let gap = sunday_night(2, 30).period_containing(NO_ANCHOR, utc(2026, 3, 29, 12, 0), Berlin);
        assert_eq!(gap.opens_at, utc(2026, 3, 29, 1, 0), "03:00 CEST");
        // 2026-10-25 03:00 CEST falls back to 02:00 CET.
        let repeated =
            sunday_night(2, 30).period_containing(NO_ANCHOR, utc(2026, 10, 25, 12, 0), Berlin);
        assert_eq!(
            repeated.opens_at,
            utc(2026, 10, 25, 0, 30),
            "02:30 CEST, the earlier"
        );
    }

    #[test]
    fn sydney_monday_nine_and_both_transitions() {
        let cadence = weekly(Weekday::Mon, 9, 0);
        // Southern hemisphere: daylight saving ends in April and starts in October.
        let april = cadence.period_containing(NO_ANCHOR, utc(2026, 4, 1, 0, 0), Sydney);
        assert_eq!(
            april.opens_at,
            utc(2026, 3, 29, 22, 0),
            "09:00 AEDT on Monday 30 March"
        );
        assert_eq!(
            cadence
                .next_opening_after(NO_ANCHOR, april.opens_at, Sydney)
                .opens_at,
            utc(2026, 4, 5, 23, 0)
        );
        let october = cadence.period_containing(NO_ANCHOR, utc(2026, 9, 30, 0, 0), Sydney);
        assert_eq!(
            october.opens_at,
            utc(2026, 9, 27, 23, 0),
            "09:00 AEST on Monday 28 September"
        );
        assert_eq!(
            cadence
                .next_opening_after(NO_ANCHOR, october.opens_at, Sydney)
                .opens_at,
            utc(2026, 10, 4, 22, 0)
        );
        // 2026-10-04 02:00 AEST jumps to 03:00 AEDT.
        let gap = sunday_night(2, 30).period_containing(NO_ANCHOR, utc(2026, 10, 4, 6, 0), Sydney);
        assert_eq!(gap.opens_at, utc(2026, 10, 3, 16, 0), "03:00 AEDT");
        // 2026-04-05 03:00 AEDT falls back to 02:00 AEST.
        let repeated =
            sunday_night(2, 30).period_containing(NO_ANCHOR, utc(2026, 4, 5, 6, 0), Sydney);
        assert_eq!(
            repeated.opens_at,
            utc(2026, 4, 4, 15, 30),
            "02:30 AEDT, the earlier"
        );
    }

    #[test]
    fn the_period_key_follows_the_local_calendar_not_utc() {
        // Monday 05:00 in Sydney is still Sunday (ISO week 13) in UTC.
        let at = utc(2026, 3, 29, 18, 0);
        assert_eq!(at.iso_week().week(), 13);
        let period = weekly(Weekday::Mon, 9, 0).period_containing(NO_ANCHOR, at, Sydney);
        assert_eq!(period.key, "2026-W14");
        assert!(
            period.opens_at > at,
            "the opening is later that local morning"
        );
    }

    #[test]
    fn every_instant_of_a_local_week_gives_the_same_period_even_across_dst() {
        let cadence = weekly(Weekday::Wed, 10, 0);
        for (time_zone, monday_with_transition_that_week) in [
            (New_York, date(2026, 3, 2)),
            (Berlin, date(2026, 10, 19)),
            (Sydney, date(2026, 9, 28)),
        ] {
            let week_start = instant_of_local_time(
                time_zone,
                monday_with_transition_that_week.and_time(time(0, 0)),
            );
            let next_week_start = instant_of_local_time(
                time_zone,
                (monday_with_transition_that_week + Days::new(7)).and_time(time(0, 0)),
            );
            let expected = cadence.period_containing(NO_ANCHOR, week_start, time_zone);
            let mut at = week_start;
            while at < next_week_start {
                assert_eq!(
                    cadence.period_containing(NO_ANCHOR, at, time_zone),
                    expected,
                    "{time_zone} {at}"
                );
                at += TimeDelta::minutes(17);
            }
            let last_instant = next_week_start - TimeDelta::seconds(1);
            assert_eq!(
                cadence.period_containing(NO_ANCHOR, last_instant, time_zone),
                expected
            );
            assert_ne!(
                cadence
                    .period_containing(NO_ANCHOR, next_week_start, time_zone)
                    .key,
                expected.key
            );
        }
    }

    #[test]
    fn teams_in_other_zones_open_on_the_same_local_date_at_their_own_local_time() {
        let cadence = weekly(Weekday::Mon, 9, 0);
        let period = cadence.period_containing(NO_ANCHOR, utc(2026, 3, 18, 12, 0), Berlin);
        assert_eq!(period.opens_on, date(2026, 3, 16));
        let new_york = cadence.opening_instant(period.opens_on, New_York);
        // The US is already on daylight time, Europe not yet: 5 hours apart, not 6.
        assert_eq!(new_york - period.opens_at, TimeDelta::hours(5));
    }

    #[test]
    fn quiet_hours_are_refused_with_a_clear_message() {
        for (hour, minute) in [(20, 0), (23, 59), (0, 0), (6, 59)] {
            let error =
                Cadence::new(spec(Every::Weekly, Weekday::Tue, time(hour, minute))).unwrap_err();
            assert!(
                matches!(error, CadenceError::InQuietHours { .. }),
                "{hour}:{minute}"
            );
        }
        let error = Cadence::new(spec(Every::Weekly, Weekday::Tue, time(21, 30))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "21:30 is inside the quiet hours (20:00–07:00); choose a time from 07:00 to 20:00"
        );
        for (hour, minute) in [(7, 0), (12, 0), (19, 59)] {
            assert!(Cadence::new(spec(Every::Weekly, Weekday::Tue, time(hour, minute))).is_ok());
        }
        let lunch = QuietHours::new(time(12, 0), time(13, 0)).unwrap();
        let at_lunch = CadenceSpec {
            quiet_hours: lunch,
            ..spec(Every::Weekly, Weekday::Tue, time(12, 30))
        };
        assert!(matches!(
            Cadence::new(at_lunch),
            Err(CadenceError::InQuietHours { .. })
        ));
        assert!(
            Cadence::new(CadenceSpec {
                local_time: time(21, 0),
                ..at_lunch
            })
            .is_ok()
        );
        assert_eq!(
            QuietHours::new(time(8, 0), time(8, 0)),
            Err(CadenceError::EmptyQuietHours)
        );
    }

    #[test]
    fn a_cadence_gives_back_the_spec_it_was_built_from() {
        let quiet_hours = QuietHours::new(time(21, 30), time(6, 15)).unwrap();
        assert_eq!(
            (quiet_hours.start(), quiet_hours.end()),
            (time(21, 30), time(6, 15))
        );
        let spec = CadenceSpec {
            allow_weekends: true,
            quiet_hours,
            ..spec(
                Every::Monthly(MonthlyOn::OnOrAfterDay(10)),
                Weekday::Sat,
                time(10, 45),
            )
        };
        let cadence = Cadence::new(spec).unwrap();
        assert_eq!(cadence.spec(), spec);
        assert_eq!(Cadence::new(cadence.spec()), Ok(cadence));
    }

    #[test]
    fn weekends_are_refused_unless_allowed() {
        let saturday = spec(Every::Weekly, Weekday::Sat, time(10, 0));
        let error = Cadence::new(saturday).unwrap_err();
        assert_eq!(
            error,
            CadenceError::WeekendNotAllowed {
                weekday: Weekday::Sat
            }
        );
        assert_eq!(
            error.to_string(),
            "Saturday is a weekend day; choose Monday to Friday, or allow weekends for this survey"
        );
        assert!(
            Cadence::new(CadenceSpec {
                allow_weekends: true,
                ..saturday
            })
            .is_ok()
        );
        assert!(
            Cadence::new(spec(
                Every::Monthly(MonthlyOn::Week(WeekOfMonth::Last)),
                Weekday::Sun,
                time(10, 0)
            ))
            .is_err()
        );
    }

    #[test]
    fn every_two_weeks_steps_in_blocks_counted_from_the_anchor_week() {
        let cadence = Cadence::new(spec(Every::EveryWeeks(2), Weekday::Tue, time(9, 30))).unwrap();
        // Anchored on a Thursday: blocks start on the Monday of its ISO week (2026-W02).
        let anchor = date(2026, 1, 8);
        let first = cadence.period_containing(anchor, utc(2026, 1, 16, 12, 0), Berlin);
        assert_eq!(first.key, "2026-W02");
        assert_eq!(first.opens_on, date(2026, 1, 6));
        assert_eq!(first.opens_at, utc(2026, 1, 6, 8, 30));
        let second_week_of_first_block =
            cadence.period_containing(anchor, utc(2026, 1, 18, 22, 59), Berlin);
        assert_eq!(
            second_week_of_first_block, first,
            "Sunday 23:59 local is still the first block"
        );
        let next = cadence.next_opening_after(anchor, first.opens_at, Berlin);
        assert_eq!(
            (next.key.as_str(), next.opens_on),
            ("2026-W04", date(2026, 1, 20))
        );
        assert_eq!(
            cadence
                .next_opening_after(anchor, next.opens_at, Berlin)
                .opens_on,
            date(2026, 2, 3)
        );
        let before_anchor = cadence.period_containing(anchor, utc(2025, 12, 30, 12, 0), Berlin);
        assert_eq!(
            (before_anchor.key.as_str(), before_anchor.opens_on),
            ("2025-W52", date(2025, 12, 23))
        );
    }

    #[test]
    fn every_one_week_is_the_same_as_weekly() {
        let every_one =
            Cadence::new(spec(Every::EveryWeeks(1), Weekday::Thu, time(14, 0))).unwrap();
        let weekly = weekly(Weekday::Thu, 14, 0);
        for day in 1..=60 {
            let at = utc(2026, 1, 1, 3, 0) + TimeDelta::days(day);
            assert_eq!(
                every_one.period_containing(date(2025, 6, 4), at, Sydney),
                weekly.period_containing(NO_ANCHOR, at, Sydney)
            );
        }
    }

    #[test]
    fn weeks_between_rounds_must_be_one_to_eight() {
        for weeks in [0, 9] {
            assert_eq!(
                Cadence::new(spec(Every::EveryWeeks(weeks), Weekday::Mon, time(9, 0))),
                Err(CadenceError::WeeksOutOfRange(weeks))
            );
        }
        assert!(Cadence::new(spec(Every::EveryWeeks(8), Weekday::Mon, time(9, 0))).is_ok());
    }

    #[test]
    fn monthly_on_the_nth_or_last_weekday() {
        let second_tuesday = Cadence::new(spec(
            Every::Monthly(MonthlyOn::Week(WeekOfMonth::Second)),
            Weekday::Tue,
            time(10, 0),
        ))
        .unwrap();
        let november = second_tuesday.period_containing(NO_ANCHOR, utc(2026, 11, 2, 12, 0), Berlin);
        assert_eq!(
            (november.key.as_str(), november.opens_on),
            ("2026-11", date(2026, 11, 10))
        );
        assert_eq!(november.opens_at, utc(2026, 11, 10, 9, 0));
        let december = second_tuesday.next_opening_after(NO_ANCHOR, november.opens_at, Berlin);
        assert_eq!(
            (december.key.as_str(), december.opens_on),
            ("2026-12", date(2026, 12, 8))
        );
        let january = second_tuesday.next_opening_after(NO_ANCHOR, december.opens_at, Berlin);
        assert_eq!(
            (january.key.as_str(), january.opens_on),
            ("2027-01", date(2027, 1, 12))
        );

        let last_friday = Cadence::new(spec(
            Every::Monthly(MonthlyOn::Week(WeekOfMonth::Last)),
            Weekday::Fri,
            time(15, 0),
        ))
        .unwrap();
        let february = last_friday.period_containing(NO_ANCHOR, utc(2026, 2, 10, 12, 0), New_York);
        assert_eq!(
            february.opens_on,
            date(2026, 2, 27),
            "28 February 2026 is a Saturday"
        );
        let july = last_friday.period_containing(NO_ANCHOR, utc(2026, 7, 1, 12, 0), New_York);
        assert_eq!(july.opens_on, date(2026, 7, 31), "the last day itself");

        let first_monday = Cadence::new(spec(
            Every::Monthly(MonthlyOn::Week(WeekOfMonth::First)),
            Weekday::Mon,
            time(9, 0),
        ))
        .unwrap();
        assert_eq!(
            first_monday
                .period_containing(NO_ANCHOR, utc(2026, 6, 20, 0, 0), Sydney)
                .opens_on,
            date(2026, 6, 1)
        );
        let fourth_wednesday = Cadence::new(spec(
            Every::Monthly(MonthlyOn::Week(WeekOfMonth::Fourth)),
            Weekday::Wed,
            time(9, 0),
        ))
        .unwrap();
        assert_eq!(
            fourth_wednesday
                .period_containing(NO_ANCHOR, utc(2026, 4, 2, 0, 0), Sydney)
                .opens_on,
            date(2026, 4, 22)
        );
    }

    #[test]
    fn monthly_on_the_first_weekday_on_or_after_a_day() {
        let cadence = Cadence::new(spec(
            Every::Monthly(MonthlyOn::OnOrAfterDay(15)),
            Weekday::Mon,
            time(9, 0),
        ))
        .unwrap();
        // 15 March 2026 is a Sunday.
        assert_eq!(
            cadence
                .period_containing(NO_ANCHOR, utc(2026, 3, 1, 12, 0), Berlin)
                .opens_on,
            date(2026, 3, 16)
        );
        // 15 June 2026 is a Monday.
        assert_eq!(
            cadence
                .period_containing(NO_ANCHOR, utc(2026, 6, 30, 12, 0), Berlin)
                .opens_on,
            date(2026, 6, 15)
        );
        for day in [0, 23] {
            assert_eq!(
                Cadence::new(spec(
                    Every::Monthly(MonthlyOn::OnOrAfterDay(day)),
                    Weekday::Mon,
                    time(9, 0)
                )),
                Err(CadenceError::MonthlyStartDayOutOfRange(day))
            );
        }
    }

    #[test]
    fn the_next_opening_is_strictly_after_the_given_instant() {
        let cadence = weekly(Weekday::Mon, 9, 0);
        let opening = utc(2026, 3, 2, 14, 0);
        assert_eq!(
            cadence
                .next_opening_after(NO_ANCHOR, opening - TimeDelta::seconds(1), New_York)
                .opens_at,
            opening
        );
        assert_eq!(
            cadence
                .next_opening_after(NO_ANCHOR, opening, New_York)
                .opens_at,
            utc(2026, 3, 9, 13, 0)
        );
    }

    fn any_cadence() -> impl Strategy<Value = Cadence> {
        let every = prop_oneof![
            Just(Every::Weekly),
            (1u8..=8).prop_map(Every::EveryWeeks),
            prop_oneof![
                Just(WeekOfMonth::First),
                Just(WeekOfMonth::Second),
                Just(WeekOfMonth::Third),
                Just(WeekOfMonth::Fourth),
                Just(WeekOfMonth::Last)
            ]
            .prop_map(|week| Every::Monthly(MonthlyOn::Week(week))),
            (1u8..=22).prop_map(|day| Every::Monthly(MonthlyOn::OnOrAfterDay(day))),
        ];
        (every, 0u8..5, 7u32..20, 0u32..60).prop_map(|(every, weekday, hour, minute)| {
            let weekday = [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ][usize::from(weekday)];
            Cadence::new(spec(every, weekday, time(hour, minute))).unwrap()
        })
    }

    proptest! {
        #[test]
        fn openings_lie_in_their_own_period_and_the_next_one_is_the_first_after(
            cadence in any_cadence(),
            anchor_days in 0i64..3_000,
            seconds in 0i64..(15 * 365 * 24 * 3600),
            zone in 0usize..3,
        ) {
            let time_zone = [New_York, Berlin, Sydney][zone];
            let anchor = date(2020, 1, 1) + TimeDelta::days(anchor_days);
            let at = utc(2020, 1, 1, 0, 0) + TimeDelta::seconds(seconds);
            let current = cadence.period_containing(anchor, at, time_zone);
            let next = cadence.next_opening_after(anchor, at, time_zone);
            prop_assert!(next.opens_at > at);
            prop_assert_eq!(&cadence.period_containing(anchor, next.opens_at, time_zone), &next);
            prop_assert_eq!(&cadence.period_containing(anchor, current.opens_at, time_zone), &current);
            if current.opens_at > at {
                prop_assert_eq!(&next, &current);
            } else {
                // No opening in between: `next` directly follows the current period.
                prop_assert_ne!(&next.key, &current.key);
                prop_assert_eq!(&cadence.next_opening_after(anchor, current.opens_at, time_zone), &next);
            }
            let local_time = next.opens_at.with_timezone(&time_zone);
            prop_assert_eq!(local_time.weekday(), cadence.spec().weekday);
            prop_assert_eq!(local_time.time(), cadence.spec().local_time);
        }
    }
}
