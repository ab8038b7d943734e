//! [`Name`]: the display name of a person, a team or a survey.
//!
//! Names travel into email subjects and bodies, headers of the dashboard, CSV
//! exports and log lines, and people read them next to each other. So a name holds
//! no character that breaks a line (header and text injection in emails), that
//! changes the direction of the text around it (a name that displays as another
//! name), or that is invisible (two names that look the same but are not). The
//! JSON API and the CSV import both parse names with [`Name::parse`], and the
//! OpenAPI document describes the same rule with [`Name::json_schema_pattern`].

use std::fmt;

use serde::Serialize;

/// Characters no name may hold, as inclusive ranges.
pub const FORBIDDEN_IN_NAMES: &[(char, char)] = &[
    // C0 controls: NUL, TAB, LF, CR, ESC, …
    ('\u{0000}', '\u{001f}'),
    // DEL and the C1 controls, among them NEL (a line break)
    ('\u{007f}', '\u{009f}'),
    // ARABIC LETTER MARK (a bidirectional mark)
    ('\u{061c}', '\u{061c}'),
    // ZERO WIDTH SPACE, ZERO WIDTH NON-JOINER, ZERO WIDTH JOINER, LEFT-TO-RIGHT MARK,
    // RIGHT-TO-LEFT MARK
    ('\u{200b}', '\u{200f}'),
    // LINE SEPARATOR, PARAGRAPH SEPARATOR, and the bidirectional embeddings and
    // overrides LRE, RLE, PDF, LRO, RLO
    ('\u{2028}', '\u{202e}'),
    // WORD JOINER and the invisible operators
    ('\u{2060}', '\u{2064}'),
    // the bidirectional isolates LRI, RLI, FSI, PDI
    ('\u{2066}', '\u{2069}'),
    // ZERO WIDTH NO-BREAK SPACE (byte order mark)
    ('\u{feff}', '\u{feff}'),
];

/// The white space [`Name::parse`] trims that is not forbidden anyway: exactly the
/// characters with Unicode's White_Space property (Rust's `char::is_whitespace`,
/// what `str::trim` removes) outside [`FORBIDDEN_IN_NAMES`].
pub const TRIMMED_FROM_NAMES: &[(char, char)] = &[
    ('\u{0020}', '\u{0020}'),
    ('\u{00a0}', '\u{00a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty or only spaces")]
    Empty,
    #[error("must be at most {} characters", Name::MAX_CHARS)]
    TooLong,
    #[error(
        "must not contain control characters, line breaks, bidirectional controls or \
         zero-width characters (found U+{:04X})",
        u32::from(*.0)
    )]
    ForbiddenCharacter(char),
}

/// A display name: at most [`Name::MAX_CHARS`] characters as given, trimmed of
/// white space at both ends, not empty, without a character of
/// [`FORBIDDEN_IN_NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    /// Counted in Unicode scalar values (what JSON Schema's `maxLength` counts),
    /// before trimming.
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Name, NameError> {
        if let Some(forbidden) = raw.chars().find(|&c| is_forbidden(c)) {
            return Err(NameError::ForbiddenCharacter(forbidden));
        }
        if raw.chars().count() > Name::MAX_CHARS {
            return Err(NameError::TooLong);
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        Ok(Name(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The rule as a JSON Schema (ECMA-262) `pattern`, which Python's `re` reads
    /// the same way: any number of allowed characters, at least one of them not
    /// white space. With `minLength` 1 and `maxLength` [`Name::MAX_CHARS`] it
    /// accepts exactly what [`Name::parse`] accepts.
    pub fn json_schema_pattern() -> String {
        let forbidden = class_ranges(FORBIDDEN_IN_NAMES);
        let trimmed = class_ranges(TRIMMED_FROM_NAMES);
        format!("^[^{forbidden}]*[^{forbidden}{trimmed}][^{forbidden}]*$")
    }
}

fn is_forbidden(c: char) -> bool {
    FORBIDDEN_IN_NAMES
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

fn class_ranges(ranges: &[(char, char)]) -> String {
    ranges
        .iter()
        .map(|&(first, last)| {
            if first == last {
                format!("\\u{:04x}", u32::from(first))
            } else {
                format!("\\u{:04x}-\\u{:04x}", u32::from(first), u32::from(last))
            }
        })
        .collect()
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(
            Name::parse("  Platform\u{a0}").unwrap().as_str(),
            "Platform"
        );
    }

    #[test]
    fn line_breaks_controls_bidi_and_invisible_characters_are_refused() {
        for bad in [
            "Ops\r\nBcc: x@example.com",
            "Ops\n",
            "Ops\0",
            "O\tps",
            "Ops\u{1b}[31m",
            "Ops\u{85}",
            "Ops\u{2028}",
            "evil\u{202e}moc.elpmaxe",
            "Ops\u{2066}x\u{2069}",
            "Ops\u{200f}",
            "O\u{200b}ps",
            "O\u{200d}ps",
            "\u{feff}Ops",
            "O\u{2060}ps",
        ] {
            assert!(
                matches!(Name::parse(bad), Err(NameError::ForbiddenCharacter(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn empty_blank_and_long_names_are_refused() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse(" \u{3000} "), Err(NameError::Empty));
        assert!(Name::parse(&"é".repeat(100)).is_ok());
        assert_eq!(Name::parse(&"é".repeat(101)), Err(NameError::TooLong));
        assert_eq!(
            Name::parse(&format!(" {}", "a".repeat(100))),
            Err(NameError::TooLong),
            "the limit counts the name as given, as the OpenAPI maxLength does"
        );
    }

    #[test]
    fn names_in_any_script_are_accepted() {
        for good in [
            "Ada Lovelace",
            "Zoë",
            "Ørsted",
            "李小龙",
            "محمد",
            "R&D / Ops",
            "👩🏽",
        ] {
            assert_eq!(Name::parse(good).unwrap().as_str(), good);
        }
    }

    /// The trimmed set of the pattern is exactly the white space `str::trim`
    /// removes, less the characters refused anyway, over every Unicode scalar value.
    #[test]
    fn the_trimmed_ranges_are_rusts_white_space_less_the_forbidden() {
        let listed = |c: char| {
            TRIMMED_FROM_NAMES
                .iter()
                .any(|&(first, last)| (first..=last).contains(&c))
        };
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(
                listed(c),
                c.is_whitespace() && !is_forbidden(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    proptest! {
        /// A parsed name parses again to itself: what is stored is a valid name.
        #[test]
        fn a_parsed_name_is_a_fixed_point(raw in "\\PC{0,110}|[ a\\x00-\\x1f\\u{2000}-\\u{206f}]{0,8}") {
            if let Ok(name) = Name::parse(&raw) {
                prop_assert_eq!(Name::parse(name.as_str()), Ok(name.clone()));
                prop_assert!(!name.as_str().is_empty());
                prop_assert!(name.as_str().chars().count() <= Name::MAX_CHARS);
            }
        }
    }
}
