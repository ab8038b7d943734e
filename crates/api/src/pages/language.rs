//! The language of the signed-in pages (admin console, dashboard, sign-in): which
//! one a request gets, and the words in it.
//!
//! - **Which language.** A signed-in page speaks the signed-in person's stored
//!   locale (the one their emails use, [`super::session::Session::of`]); a page
//!   before sign-in, or a subject that is no person (a service token), follows
//!   `Accept-Language` ([`accepted_locale`], the answer page's rule); English
//!   otherwise.
//! - **The words.** Templates keep their English text and wrap it: `{{ t.tr("Teams") }}`;
//!   [`Text::tr`] looks the English up in the German catalogue ([`super::german`]).
//!   A sentence with a value in it marks the value `{}` and goes through
//!   [`Text::tr1`] or [`Text::tr2`], so German may put it elsewhere. The test below
//!   reads every template and page source and fails when a wrapped English text has
//!   no German, or when a German entry is wrapped nowhere: every string exists in
//!   both languages, and the catalogue holds nothing dead.
//! - **Problems on forms.** A field error or a conflict comes from the API's own
//!   validation in English (its problem+json stays English: a machine interface);
//!   a page shows it through [`Text::problem`], which finds its German in
//!   [`super::german::GERMAN_PROBLEMS`] by the English text, with `{}` for the values
//!   in it. A test builds every message a form can show and fails when one has no
//!   German, or when a German problem matches none of them.
//! - Dates are written as people say them in each language ("7 December 2026",
//!   "7. Dezember 2026"), decimals with a comma in German.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, Utc};
use safepulse_domain::{Locale, TimeZone};
use safepulse_mailer::messages::local_date_time;

use super::german::{GERMAN, GERMAN_PROBLEMS};

static GERMAN_BY_ENGLISH: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| GERMAN.iter().copied().collect());

/// The words of one page in one language; every template of the console, the
/// dashboard and the sign-in pages gets one as `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub locale: Locale,
}

impl Text {
    pub const fn new(locale: Locale) -> Text {
        Text { locale }
    }

    /// The page's `lang` attribute.
    pub fn lang(&self) -> &'static str {
        self.locale.as_str()
    }

    /// `english` in this language. A text missing from the catalogue (the test
    /// below prevents it) stays English rather than failing the page.
    pub fn tr(&self, english: &'static str) -> &'static str {
        match self.locale {
            Locale::En => english,
            Locale::De => GERMAN_BY_ENGLISH.get(english).copied().unwrap_or(english),
        }
    }

    /// `english` in this language with its `{}` replaced by `value`.
    pub fn tr1(&self, english: &'static str, value: impl Display) -> String {
        self.tr(english).replacen("{}", &value.to_string(), 1)
    }

    /// `english` in this language with its first `{}` replaced by `first`, its
    /// second by `second`.
    pub fn tr2(&self, english: &'static str, first: impl Display, second: impl Display) -> String {
        self.tr(english)
            .replacen("{}", &first.to_string(), 1)
            .replacen("{}", &second.to_string(), 1)
    }

    /// A problem the API reported about a form (a field error's message, a
    /// conflict's detail) in this language. An unknown message stays English
    /// rather than failing the page.
    pub fn problem(&self, english: &str) -> String {
        match self.locale {
            Locale::En => english.to_owned(),
            Locale::De => german_problem(english).unwrap_or_else(|| english.to_owned()),
        }
    }

    /// A moment in UTC as people write it: "Monday, 7 December 2026, 14:05 (UTC)",
    /// "Montag, 7. Dezember 2026, 14:05 Uhr (UTC)".
    pub fn date_time(&self, at: &DateTime<Utc>) -> String {
        local_date_time(*at, TimeZone::default(), self.locale)
    }

    /// A day in UTC: "7 Dec 2026", "7. Dez. 2026".
    pub fn day(&self, at: &DateTime<Utc>) -> String {
        self.local_day(*at, TimeZone::default())
    }

    /// A day in `time_zone`: "7 Dec 2026", "7. Dez. 2026".
    pub fn local_day(&self, at: DateTime<Utc>, time_zone: TimeZone) -> String {
        safepulse_mailer::local_date(at, time_zone, self.locale)
    }

    /// A number with one decimal: "5.2", "5,2".
    pub fn decimal(&self, value: f64) -> String {
        self.number(format!("{value:.1}"))
    }

    /// A number formatted in English (`format!("{:+.2}")`) with this language's
    /// decimal separator: a comma in German.
    pub fn number(&self, english: String) -> String {
        match self.locale {
            Locale::En => english,
            Locale::De => english.replace('.', ","),
        }
    }
}

/// The German of an English problem message: the first entry whose fixed parts
/// fit, its `{}` filled with the message's values in order. A value that is a
/// problem message itself ("level 2 must not be empty …") or a word of the pages
/// ("paused") is translated too.
fn german_problem(english: &str) -> Option<String> {
    GERMAN_PROBLEMS.iter().find_map(|(pattern, german)| {
        let values = values_in(english, pattern)?;
        Some(
            values
                .into_iter()
                .fold((*german).to_owned(), |text, value| {
                    let value = german_problem(value)
                        .or_else(|| {
                            GERMAN_BY_ENGLISH
                                .get(value)
                                .map(|german| (*german).to_owned())
                        })
                        .unwrap_or_else(|| value.to_owned());
                    text.replacen("{}", &value, 1)
                }),
        )
    })
}

/// The parts of `message` where `pattern` has `{}`, or `None` when the pattern's
/// fixed parts are not those of the message.
fn values_in<'m>(message: &'m str, pattern: &str) -> Option<Vec<&'m str>> {
    let mut parts = pattern.split("{}");
    let mut rest = message.strip_prefix(parts.next()?)?;
    let parts: Vec<&str> = parts.collect();
    let mut values = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        let end = if index + 1 == parts.len() {
            rest.strip_suffix(part)?.len()
        } else {
            rest.find(part)?
        };
        values.push(&rest[..end]);
        rest = &rest[end + part.len()..];
    }
    rest.is_empty().then_some(values)
}

/// The language for pages shown before the person is known: the best of English
/// and German in `Accept-Language`, English otherwise.
pub fn accepted_locale(request: &HttpRequest) -> Locale {
    let Some(header) = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
    else {
        return Locale::En;
    };
    let mut best: Option<(f32, Locale)> = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';');
        let Some(locale) = parts.next().and_then(|tag| Locale::parse(tag.trim()).ok()) else {
            continue;
        };
        let quality = parts
            .find_map(|parameter| parameter.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality > 0.0 && best.is_none_or(|(top, _)| quality > top) {
            best = Some((quality, locale));
        }
    }
    best.map_or(Locale::En, |(_, locale)| locale)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Every English text wrapped in `tr`, `tr1` or `tr2` in the templates of the
    /// signed-in pages and in the page sources.
    fn wrapped_texts() -> BTreeSet<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for folder in [
            "templates/admin",
            "templates/dashboard",
            "src/pages",
            "src/pages/admin",
        ] {
            for entry in std::fs::read_dir(root.join(folder)).expect("a source folder") {
                let path = entry.expect("a directory entry").path();
                let wanted = path
                    .extension()
                    .is_some_and(|ext| ext == "html" || ext == "rs")
                    && !path.ends_with("german.rs")
                    && !path.ends_with("language.rs");
                if wanted {
                    files.push(path);
                }
            }
        }
        let mut texts = BTreeSet::new();
        for path in files {
            let source = std::fs::read_to_string(&path).expect("a readable source");
            for opening in [".tr(", ".tr1(", ".tr2("] {
                for (start, _) in source.match_indices(opening) {
                    // rustfmt may put the text on the next line.
                    let rest = source[start + opening.len()..].trim_start();
                    if let Some(rest) = rest.strip_prefix('"') {
                        let end = rest.find('"').expect("a closing quote");
                        texts.insert(rest[..end].to_owned());
                    }
                }
            }
        }
        texts
    }

    #[test]
    fn every_wrapped_text_has_german_and_every_german_entry_is_used() {
        let wrapped = wrapped_texts();
        assert!(wrapped.len() > 100, "found only {} texts", wrapped.len());
        let missing: Vec<&String> = wrapped
            .iter()
            .filter(|text| !GERMAN_BY_ENGLISH.contains_key(text.as_str()))
            .collect();
        assert!(missing.is_empty(), "no German for {missing:#?}");
        let unused: Vec<&str> = GERMAN
            .iter()
            .map(|(english, _)| *english)
            .filter(|english| !wrapped.contains(*english))
            .collect();
        assert!(
            unused.is_empty(),
            "German entries used nowhere: {unused:#?}"
        );
        assert_eq!(
            GERMAN_BY_ENGLISH.len(),
            GERMAN.len(),
            "an English text twice"
        );
    }

    /// Every problem a console or dashboard form can show, as the API writes it:
    /// the messages written out in this crate's sources (`FieldError::new(field,
    /// "…")`, `ApiError::validation(field, "…")`), read from them, and those other
    /// crates and formatted texts make, built from their types or written as they
    /// come out.
    fn form_problems() -> Vec<String> {
        use safepulse_anonymizer::Policy;
        use safepulse_domain::{Email, Name, Role};
        use safepulse_rounds::RotationPlanError;
        use safepulse_rounds::cadence::CadenceError;
        use safepulse_rounds::rounds::RoundError;
        use safepulse_store::{Conflict, StoreError};

        use crate::error::ApiError;
        use crate::routes::commitments;

        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut problems = Vec::new();
        for folder in ["src", "src/pages", "src/pages/admin", "src/routes"] {
            for entry in std::fs::read_dir(root.join(folder)).expect("a source folder") {
                let path = entry.expect("a directory entry").path();
                if path.extension().is_none_or(|ext| ext != "rs") || path.ends_with("language.rs") {
                    continue;
                }
                let source = std::fs::read_to_string(&path).expect("a readable source");
                for opening in ["FieldError::new(", "ApiError::validation("] {
                    for (start, _) in source.match_indices(opening) {
                        // The message is the second argument.
                        let arguments = &source[start + opening.len()..];
                        let Some((_, rest)) = arguments.split_once(',') else {
                            continue;
                        };
                        if let Some(rest) = rest.trim_start().strip_prefix('"') {
                            let end = rest.find('"').expect("a closing quote");
                            problems.push(rest[..end].to_owned());
                        }
                    }
                }
            }
        }
        for conflict in Conflict::ALL {
            problems.push(ApiError::from(StoreError::Conflict(conflict)).to_string());
        }
        // A refusal that is no conflict, on the console's "not done" page.
        problems.extend([
            ApiError::Validation(Vec::new()).to_string(),
            ApiError::Forbidden.to_string(),
        ]);
        let round = |error| crate::routes::surveys::round_error(error).to_string();
        problems.extend([
            round(RoundError::SurveyNotActive("paused".into())),
            round(RoundError::RoundAlreadyOpen),
            round(RoundError::NoAudience),
            round(RoundError::RoundNotOpen),
        ]);
        let error = |result: Result<_, String>| result.expect_err("refused");
        problems.extend(
            [
                Email::parse("nobody").map(drop).map_err(|e| e.to_string()),
                Email::parse(&format!("{}@example.org", "a".repeat(260)))
                    .map(drop)
                    .map_err(|e| e.to_string()),
                TimeZone::parse("Mars/Olympus")
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Locale::parse("fr").map(drop).map_err(|e| e.to_string()),
                Role::parse("boss").map(drop).map_err(|e| e.to_string()),
                Name::parse(" ").map(drop).map_err(|e| e.to_string()),
                Name::parse(&"a".repeat(101))
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Name::parse("a\u{202e}b")
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Policy::new(1, 10).map(drop).map_err(|e| e.to_string()),
                Policy::new(5, 1).map(drop).map_err(|e| e.to_string()),
                crate::auth::parse_ttl("soon").map(drop),
                crate::auth::parse_ttl("400d").map(drop),
                commitments::parse_action(&"a".repeat(501))
                    .map(drop)
                    .map_err(|e| e.message),
            ]
            .into_iter()
            .map(error),
        );
        problems.extend(
            [
                CadenceError::WeeksOutOfRange(9),
                CadenceError::EmptyQuietHours,
            ]
            .map(|e| e.to_string()),
        );
        problems.extend(
            [
                RotationPlanError::ItemsPerRoundOutOfRange { given: 9, max: 6 },
                RotationPlanError::RecommendationIntervalOutOfRange(60),
                RotationPlanError::FixedListLength(0),
            ]
            .map(|e| e.to_string()),
        );
        // Formatted where they are made, in words these lines repeat.
        problems.extend(
            [
                "item \"xyz\" is not in the item bank",
                "item \"trust_1\" is listed more than once",
                "window_hours must be between 1 and 336",
                "window_hours (200) must not be longer than the time between rounds (168 hours)",
                "at most 5 reminders per round",
                "a reminder after 80 hours is outside the answer window of 72 hours",
                "every_n_weeks needs `weeks` (1–8)",
                "weekday \"someday\" is not a day of the week (monday … sunday)",
                "\"25:00\" is not a local time like 09:30",
                "Saturday is a weekend day; choose Monday to Friday, or allow weekends for this survey",
                "21:00 is inside the quiet hours (20:00–07:00); choose a time from 07:00 to 20:00",
                "k and k_detail must be below 2^31",
                "the first line must be the header email,name,team,leads,time_zone,locale",
                "the file looks separated by semicolons, as spreadsheets save CSV in some languages; save it separated by commas",
                "at most 50000 rows per import",
                "already on line 2",
                "expected 6 columns, found 3",
                "a path like Engineering/Platform of at most 12 levels",
                "level 2 must not be empty or only spaces",
                "\"maybe\" is not true or false",
            ]
            .map(str::to_owned),
        );
        problems
    }

    #[test]
    fn every_form_problem_has_german_and_every_german_problem_is_used() {
        let problems = form_problems();
        assert!(
            problems.len() > 60,
            "found only {} problems",
            problems.len()
        );
        let missing: Vec<&String> = problems
            .iter()
            .filter(|english| german_problem(english).is_none())
            .collect();
        assert!(missing.is_empty(), "no German for {missing:#?}");
        let unused: Vec<&str> = GERMAN_PROBLEMS
            .iter()
            .map(|(pattern, _)| *pattern)
            .filter(|pattern| {
                !problems
                    .iter()
                    .any(|english| values_in(english, pattern).is_some())
            })
            .collect();
        assert!(
            unused.is_empty(),
            "German problems matching none: {unused:#?}"
        );
    }

    #[test]
    fn problems_keep_their_values_in_german() {
        let german = Text::new(Locale::De);
        assert_eq!(
            german.problem("k must be at least 3, not 1"),
            "k muss mindestens 3 sein, nicht 1"
        );
        assert_eq!(
            german.problem("level 2 must not be empty or only spaces"),
            "Ebene 2: darf nicht leer sein oder nur aus Leerzeichen bestehen"
        );
        assert_eq!(
            german.problem("the survey is paused; resume it to open rounds"),
            "die Befragung ist pausiert; setzen Sie sie fort, um Runden zu öffnen"
        );
        assert_eq!(
            german.problem("a message nobody wrote"),
            "a message nobody wrote"
        );
        assert_eq!(
            Text::new(Locale::En).problem("must be hr or admin"),
            "must be hr or admin"
        );
    }

    #[test]
    fn german_keeps_every_placeholder() {
        for (english, german) in GERMAN.iter().chain(GERMAN_PROBLEMS) {
            assert_eq!(
                english.matches("{}").count(),
                german.matches("{}").count(),
                "{english} → {german}"
            );
        }
    }

    #[test]
    fn values_land_where_the_language_puts_them() {
        let german = Text::new(Locale::De);
        assert_eq!(german.tr("Teams"), "Teams");
        assert_eq!(german.tr1("Erase {}?", "Ada"), "Ada löschen?");
        assert_eq!(Text::new(Locale::En).tr1("Erase {}?", "Ada"), "Erase Ada?");
        assert_eq!(german.decimal(5.24), "5,2");
        let at = DateTime::parse_from_rfc3339("2026-12-07T14:05:00Z")
            .expect("a time")
            .with_timezone(&Utc);
        assert!(german.date_time(&at).contains("7. Dezember 2026"));
    }
}
