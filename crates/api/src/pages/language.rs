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

use super::german::GERMAN;

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

    #[test]
    fn german_keeps_every_placeholder() {
        for (english, german) in GERMAN {
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
