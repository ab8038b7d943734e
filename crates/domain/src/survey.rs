use std::fmt;

use serde::{Deserialize, Serialize};

/// The constructs safepulse measures, plus the 0–10 recommendation item (eNPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    PsychologicalSafety,
    Trust,
    Empathy,
    Feedback,
    Clarity,
    Rapport,
    Vulnerability,
    Wellbeing,
    /// The single 0–10 "would you recommend this team" item, reported as eNPS.
    Recommendation,
}

impl Dimension {
    pub const ALL: [Dimension; 9] = [
        Dimension::PsychologicalSafety,
        Dimension::Trust,
        Dimension::Empathy,
        Dimension::Feedback,
        Dimension::Clarity,
        Dimension::Rapport,
        Dimension::Vulnerability,
        Dimension::Wellbeing,
        Dimension::Recommendation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::PsychologicalSafety => "psychological_safety",
            Dimension::Trust => "trust",
            Dimension::Empathy => "empathy",
            Dimension::Feedback => "feedback",
            Dimension::Clarity => "clarity",
            Dimension::Rapport => "rapport",
            Dimension::Vulnerability => "vulnerability",
            Dimension::Wellbeing => "wellbeing",
            Dimension::Recommendation => "recommendation",
        }
    }

    pub fn parse(text: &str) -> Option<Dimension> {
        Dimension::ALL
            .into_iter()
            .find(|dimension| dimension.as_str() == text)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stable item id from the item bank, e.g. `"ps-01"`. An id's wording never changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(pub String);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    #[error("a scale must be 1–5, 1–7 or 0–10, not {min}–{max}")]
    Unsupported { min: u8, max: u8 },
}

/// The answer scale of an item: 1–7 agreement (the default), 1–5 agreement, or 0–10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "(u8, u8)", into = "(u8, u8)")]
pub struct Scale {
    min: u8,
    max: u8,
}

impl Scale {
    pub const AGREE_7: Scale = Scale { min: 1, max: 7 };
    pub const AGREE_5: Scale = Scale { min: 1, max: 5 };
    pub const ZERO_TO_TEN: Scale = Scale { min: 0, max: 10 };

    pub fn new(min: u8, max: u8) -> Result<Scale, ScaleError> {
        match (min, max) {
            (1, 5) | (1, 7) | (0, 10) => Ok(Scale { min, max }),
            _ => Err(ScaleError::Unsupported { min, max }),
        }
    }

    pub fn min(self) -> u8 {
        self.min
    }

    pub fn max(self) -> u8 {
        self.max
    }

    /// Number of answer options, `A` in the rwg formula.
    pub fn points(self) -> u8 {
        self.max - self.min + 1
    }

    pub fn contains(self, value: u8) -> bool {
        (self.min..=self.max).contains(&value)
    }

    /// Whether this is the 0–10 recommendation scale (reported as eNPS).
    pub fn is_zero_to_ten(self) -> bool {
        self == Scale::ZERO_TO_TEN
    }
}

impl TryFrom<(u8, u8)> for Scale {
    type Error = ScaleError;
    fn try_from((min, max): (u8, u8)) -> Result<Self, Self::Error> {
        Scale::new(min, max)
    }
}

impl From<Scale> for (u8, u8) {
    fn from(scale: Scale) -> Self {
        (scale.min, scale.max)
    }
}

/// What the anonymizer and the answer form need to know about an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMeta {
    pub id: ItemId,
    pub dimension: Dimension,
    pub reverse_keyed: bool,
    pub scale: Scale,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("{value} is outside the scale {min}–{max}")]
    OutOfScale { value: i64, min: u8, max: u8 },
}

/// One answer to one item, inside that item's scale (as given, not yet recoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Answer(u8);

impl Answer {
    pub fn parse(value: i64, scale: Scale) -> Result<Answer, AnswerError> {
        match u8::try_from(value) {
            Ok(small) if scale.contains(small) => Ok(Answer(small)),
            _ => Err(AnswerError::OutOfScale {
                value,
                min: scale.min(),
                max: scale.max(),
            }),
        }
    }

    pub fn value(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_supported_scales_exist() {
        assert!(Scale::new(1, 7).is_ok());
        assert!(Scale::new(1, 5).is_ok());
        assert!(Scale::new(0, 10).is_ok());
        assert_eq!(
            Scale::new(1, 6),
            Err(ScaleError::Unsupported { min: 1, max: 6 })
        );
    }

    #[test]
    fn answers_outside_the_scale_are_refused() {
        assert_eq!(Answer::parse(7, Scale::AGREE_7).map(Answer::value), Ok(7));
        assert!(Answer::parse(8, Scale::AGREE_7).is_err());
        assert!(Answer::parse(0, Scale::AGREE_5).is_err());
        assert!(Answer::parse(-1, Scale::ZERO_TO_TEN).is_err());
        assert!(Answer::parse(300, Scale::ZERO_TO_TEN).is_err());
    }

    #[test]
    fn dimensions_round_trip_through_their_names() {
        for dimension in Dimension::ALL {
            assert_eq!(Dimension::parse(dimension.as_str()), Some(dimension));
        }
        assert_eq!(Dimension::parse("happiness"), None);
    }
}
