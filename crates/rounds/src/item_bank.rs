//! The item bank: every question safepulse can ask, shipped as data
//! (`items/bank.toml`) and validated once at start.
//!
//! Reports compare rounds item by item, so an id is a promise: its wording,
//! dimension, keying and scale never change once a round has used it. The test
//! `every_item_keeps_its_pinned_meaning` holds the bank to that promise.

use std::collections::HashMap;

use safepulse_domain::{Dimension, ItemId, ItemMeta, Locale, Scale};
use serde::Deserialize;

/// The bank compiled into the binary.
const BUILTIN_BANK_TOML: &str = include_str!("../items/bank.toml");

/// Each measured dimension needs this many items, so rotation has something to
/// rotate and a dimension score never rests on one wording.
pub const MIN_ITEMS_PER_DIMENSION: usize = 4;

/// The dimensions scored on an agreement scale: every dimension but the 0–10
/// recommendation item.
pub const AGREEMENT_DIMENSIONS: [Dimension; 8] = [
    Dimension::PsychologicalSafety,
    Dimension::Trust,
    Dimension::Empathy,
    Dimension::Feedback,
    Dimension::Clarity,
    Dimension::Rapport,
    Dimension::Vulnerability,
    Dimension::Wellbeing,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemBankError {
    #[error("the item bank is not valid TOML for safepulse: {0}")]
    Unreadable(String),
    #[error(
        "item id {0:?} is malformed; use 2–4 lower-case letters, '-', two digits (e.g. \"ps-01\")"
    )]
    MalformedId(String),
    #[error("item id {0:?} appears more than once")]
    DuplicateId(String),
    #[error("item {id:?} has no {locale} wording")]
    MissingText { id: String, locale: Locale },
    #[error("dimension {dimension} has {found} items; it needs at least {MIN_ITEMS_PER_DIMENSION}")]
    TooFewItems { dimension: Dimension, found: usize },
    #[error("dimension {dimension} has no reverse-keyed item; it needs at least one")]
    NoReverseKeyedItem { dimension: Dimension },
    #[error("item {id:?} of dimension {dimension} must use an agreement scale (1–5 or 1–7)")]
    AgreementScaleRequired { id: String, dimension: Dimension },
    #[error(
        "the bank needs exactly one recommendation item on the 0–10 scale, not reverse-keyed; found {found}"
    )]
    RecommendationItem { found: usize },
}

/// One item as written in `bank.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemRecord {
    id: String,
    dimension: Dimension,
    #[serde(default)]
    reverse_keyed: bool,
    #[serde(default = "default_scale")]
    scale: Scale,
    text: ItemTextRecord,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemTextRecord {
    en: String,
    de: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BankFile {
    item: Vec<ItemRecord>,
}

fn default_scale() -> Scale {
    Scale::AGREE_7
}

/// One question of the bank with its wording in every supported language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankItem {
    meta: ItemMeta,
    english_text: String,
    german_text: String,
}

impl BankItem {
    pub fn id(&self) -> &ItemId {
        &self.meta.id
    }

    pub fn dimension(&self) -> Dimension {
        self.meta.dimension
    }

    /// What the anonymizer and the answer form need: id, dimension, keying, scale.
    pub fn meta(&self) -> &ItemMeta {
        &self.meta
    }

    pub fn text(&self, locale: Locale) -> &str {
        match locale {
            Locale::En => &self.english_text,
            Locale::De => &self.german_text,
        }
    }
}

/// The validated set of items, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemBank {
    items: Vec<BankItem>,
    position_by_id: HashMap<ItemId, usize>,
}

impl ItemBank {
    /// The bank shipped with safepulse. Called once at start: an invalid bank is a
    /// build mistake and should stop the server before it asks anybody anything.
    pub fn builtin() -> Result<ItemBank, ItemBankError> {
        ItemBank::from_toml(BUILTIN_BANK_TOML)
    }

    /// Parses and validates a bank in the format of `items/bank.toml`.
    pub fn from_toml(source: &str) -> Result<ItemBank, ItemBankError> {
        let file: BankFile =
            toml::from_str(source).map_err(|error| ItemBankError::Unreadable(error.to_string()))?;
        let mut items = Vec::with_capacity(file.item.len());
        let mut position_by_id = HashMap::with_capacity(file.item.len());
        for record in file.item {
            if !is_well_formed_item_id(&record.id) {
                return Err(ItemBankError::MalformedId(record.id));
            }
            for (locale, text) in [(Locale::En, &record.text.en), (Locale::De, &record.text.de)] {
                if text.trim().is_empty() {
                    return Err(ItemBankError::MissingText {
                        id: record.id,
                        locale,
                    });
                }
            }
            let id = ItemId(record.id);
            if position_by_id.insert(id.clone(), items.len()).is_some() {
                return Err(ItemBankError::DuplicateId(id.0));
            }
            items.push(BankItem {
                meta: ItemMeta {
                    id,
                    dimension: record.dimension,
                    reverse_keyed: record.reverse_keyed,
                    scale: record.scale,
                },
                english_text: record.text.en.trim().to_owned(),
                german_text: record.text.de.trim().to_owned(),
            });
        }
        let bank = ItemBank {
            items,
            position_by_id,
        };
        bank.check_dimension_coverage()?;
        Ok(bank)
    }

    fn check_dimension_coverage(&self) -> Result<(), ItemBankError> {
        for dimension in AGREEMENT_DIMENSIONS {
            let items: Vec<&BankItem> = self.items_of(dimension).collect();
            if let Some(item) = items.iter().find(|item| item.meta.scale.is_zero_to_ten()) {
                return Err(ItemBankError::AgreementScaleRequired {
                    id: item.id().0.clone(),
                    dimension,
                });
            }
            if items.len() < MIN_ITEMS_PER_DIMENSION {
                return Err(ItemBankError::TooFewItems {
                    dimension,
                    found: items.len(),
                });
            }
            if !items.iter().any(|item| item.meta.reverse_keyed) {
                return Err(ItemBankError::NoReverseKeyedItem { dimension });
            }
        }
        let recommendation_items: Vec<&BankItem> =
            self.items_of(Dimension::Recommendation).collect();
        let well_formed = match recommendation_items.as_slice() {
            [only] => only.meta.scale.is_zero_to_ten() && !only.meta.reverse_keyed,
            _ => false,
        };
        if !well_formed {
            return Err(ItemBankError::RecommendationItem {
                found: recommendation_items.len(),
            });
        }
        Ok(())
    }

    pub fn get(&self, id: &ItemId) -> Option<&BankItem> {
        self.position_by_id
            .get(id)
            .map(|&position| &self.items[position])
    }

    pub fn meta(&self, id: &ItemId) -> Option<&ItemMeta> {
        self.get(id).map(BankItem::meta)
    }

    pub fn text(&self, id: &ItemId, locale: Locale) -> Option<&str> {
        self.get(id).map(|item| item.text(locale))
    }

    /// Every item, in file order.
    pub fn items(&self) -> &[BankItem] {
        &self.items
    }

    /// The items of one dimension, in file order (the order rotation cycles through).
    pub fn items_of(&self, dimension: Dimension) -> impl Iterator<Item = &BankItem> {
        self.items
            .iter()
            .filter(move |item| item.meta.dimension == dimension)
    }

    /// The 0–10 recommendation item (validation guarantees there is exactly one).
    pub fn recommendation_item(&self) -> &BankItem {
        self.items_of(Dimension::Recommendation)
            .next()
            .expect("a validated bank has exactly one recommendation item")
    }
}

/// `ps-01`, `rec-01`: short, stable, readable in exports and URLs.
fn is_well_formed_item_id(id: &str) -> bool {
    let Some((prefix, number)) = id.split_once('-') else {
        return false;
    };
    (2..=4).contains(&prefix.len())
        && prefix.chars().all(|c| c.is_ascii_lowercase())
        && number.len() == 2
        && number.chars().all(|c| c.is_ascii_digit())
}

/// A dimension's items share one scale; a score-only release has no items.
impl safepulse_mailer::DimensionScales for ItemBank {
    fn scale_max(&self, dimension: Dimension) -> Option<u8> {
        self.items_of(dimension)
            .next()
            .map(|item| item.meta().scale.max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safepulse_mailer::DimensionScales;

    #[test]
    fn a_digest_reads_a_dimension_s_scale_from_its_items() {
        let bank = ItemBank::builtin().unwrap();
        assert_eq!(bank.scale_max(Dimension::Trust), Some(7));
        let enps = bank.recommendation_item();
        assert_eq!(
            bank.scale_max(enps.dimension()),
            Some(enps.meta().scale.max())
        );
    }

    /// A small valid bank in the file format, for the validation tests to break.
    fn minimal_valid_bank_toml() -> String {
        let mut toml = String::new();
        for dimension in AGREEMENT_DIMENSIONS {
            let prefix: String = dimension
                .as_str()
                .chars()
                .filter(|c| c.is_ascii_lowercase())
                .take(3)
                .collect();
            for number in 1..=4 {
                toml.push_str(&format!(
                    "[[item]]\nid = \"{prefix}-0{number}\"\ndimension = \"{dimension}\"\nreverse_keyed = {}\n\
                     text.en = \"English {prefix} {number}\"\ntext.de = \"Deutsch {prefix} {number}\"\n\n",
                    number == 4
                ));
            }
        }
        toml.push_str(
            "[[item]]\nid = \"rec-01\"\ndimension = \"recommendation\"\nscale = [0, 10]\n\
             text.en = \"Recommend?\"\ntext.de = \"Empfehlen?\"\n",
        );
        toml
    }

    #[test]
    fn the_builtin_bank_validates() {
        let bank = ItemBank::builtin().unwrap();
        assert!(bank.items().len() > 8 * MIN_ITEMS_PER_DIMENSION);
    }

    #[test]
    fn the_builtin_bank_covers_every_dimension_with_reverse_keyed_items_and_two_languages() {
        let bank = ItemBank::builtin().unwrap();
        for dimension in AGREEMENT_DIMENSIONS {
            let items: Vec<_> = bank.items_of(dimension).collect();
            assert!(items.len() >= 5, "{dimension} has {} items", items.len());
            assert!(
                items.iter().any(|item| item.meta().reverse_keyed),
                "{dimension}"
            );
            assert!(
                items.iter().any(|item| !item.meta().reverse_keyed),
                "{dimension}"
            );
            for item in items {
                assert_eq!(item.meta().scale, Scale::AGREE_7, "{}", item.id());
                assert_ne!(
                    item.text(Locale::En),
                    item.text(Locale::De),
                    "{} is not translated",
                    item.id()
                );
            }
        }
        let recommendation = bank.recommendation_item();
        assert_eq!(recommendation.id(), &ItemId("rec-01".into()));
        assert_eq!(recommendation.meta().scale, Scale::ZERO_TO_TEN);
    }

    #[test]
    fn lookups_by_id_return_meta_and_text_in_each_language() {
        let bank = ItemBank::builtin().unwrap();
        let id = ItemId("ps-03".into());
        let meta = bank.meta(&id).unwrap();
        assert_eq!(meta.dimension, Dimension::PsychologicalSafety);
        assert!(meta.reverse_keyed);
        assert!(
            bank.text(&id, Locale::En)
                .unwrap()
                .starts_with("I keep disagreements")
        );
        assert!(
            bank.text(&id, Locale::De)
                .unwrap()
                .starts_with("Ich behalte Widerspruch")
        );
        assert_eq!(bank.get(&ItemId("zz-99".into())), None);
        assert_eq!(bank.text(&ItemId("zz-99".into()), Locale::En), None);
    }

    #[test]
    fn the_minimal_test_bank_is_itself_valid() {
        // Guards the tests below: each must fail for the one reason it introduces.
        ItemBank::from_toml(&minimal_valid_bank_toml()).unwrap();
    }

    #[test]
    fn a_repeated_id_is_refused() {
        let toml = minimal_valid_bank_toml().replace("id = \"tru-02\"", "id = \"tru-01\"");
        assert_eq!(
            ItemBank::from_toml(&toml),
            Err(ItemBankError::DuplicateId("tru-01".into()))
        );
    }

    #[test]
    fn a_malformed_id_is_refused() {
        for bad in ["PS-01", "p-01", "ps01", "ps-1", "psych-01", "ps-0a"] {
            let toml =
                minimal_valid_bank_toml().replace("id = \"tru-02\"", &format!("id = \"{bad}\""));
            assert_eq!(
                ItemBank::from_toml(&toml),
                Err(ItemBankError::MalformedId(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_or_missing_wording_is_refused() {
        let blank_german = minimal_valid_bank_toml().replace("\"Deutsch tru 2\"", "\"  \"");
        assert_eq!(
            ItemBank::from_toml(&blank_german),
            Err(ItemBankError::MissingText {
                id: "tru-02".into(),
                locale: Locale::De
            })
        );
        let empty_english = minimal_valid_bank_toml().replace("\"English tru 2\"", "\"\"");
        assert_eq!(
            ItemBank::from_toml(&empty_english),
            Err(ItemBankError::MissingText {
                id: "tru-02".into(),
                locale: Locale::En
            })
        );
        let no_german_line = minimal_valid_bank_toml().replace("text.de = \"Deutsch tru 2\"\n", "");
        assert!(matches!(
            ItemBank::from_toml(&no_german_line),
            Err(ItemBankError::Unreadable(_))
        ));
    }

    #[test]
    fn a_dimension_with_fewer_than_four_items_is_refused() {
        let toml = minimal_valid_bank_toml().replace(
            "dimension = \"empathy\"\nreverse_keyed = false\ntext.en = \"English emp 1\"",
            "dimension = \"trust\"\nreverse_keyed = false\ntext.en = \"English emp 1\"",
        );
        assert_eq!(
            ItemBank::from_toml(&toml),
            Err(ItemBankError::TooFewItems {
                dimension: Dimension::Empathy,
                found: 3
            })
        );
    }

    #[test]
    fn a_dimension_without_a_reverse_keyed_item_is_refused() {
        let toml = minimal_valid_bank_toml().replace(
            "dimension = \"clarity\"\nreverse_keyed = true",
            "dimension = \"clarity\"\nreverse_keyed = false",
        );
        assert_eq!(
            ItemBank::from_toml(&toml),
            Err(ItemBankError::NoReverseKeyedItem {
                dimension: Dimension::Clarity
            })
        );
    }

    #[test]
    fn the_recommendation_item_must_exist_once_on_the_zero_to_ten_scale() {
        let without = minimal_valid_bank_toml().replace(
            "dimension = \"recommendation\"",
            "dimension = \"wellbeing\"",
        );
        assert!(matches!(
            ItemBank::from_toml(&without),
            Err(ItemBankError::AgreementScaleRequired {
                dimension: Dimension::Wellbeing,
                ..
            })
        ));
        let on_agreement_scale =
            minimal_valid_bank_toml().replace("scale = [0, 10]", "scale = [1, 7]");
        assert_eq!(
            ItemBank::from_toml(&on_agreement_scale),
            Err(ItemBankError::RecommendationItem { found: 1 })
        );
        let twice = format!(
            "{}\n[[item]]\nid = \"rec-02\"\ndimension = \"recommendation\"\nscale = [0, 10]\ntext.en = \"a\"\ntext.de = \"b\"\n",
            minimal_valid_bank_toml()
        );
        assert_eq!(
            ItemBank::from_toml(&twice),
            Err(ItemBankError::RecommendationItem { found: 2 })
        );
    }

    #[test]
    fn unknown_fields_and_unsupported_scales_are_refused() {
        let typo = minimal_valid_bank_toml().replacen("reverse_keyed", "reversed", 1);
        assert!(matches!(
            ItemBank::from_toml(&typo),
            Err(ItemBankError::Unreadable(_))
        ));
        let odd_scale = minimal_valid_bank_toml().replace("scale = [0, 10]", "scale = [1, 6]");
        assert!(matches!(
            ItemBank::from_toml(&odd_scale),
            Err(ItemBankError::Unreadable(_))
        ));
    }

    /// FNV-1a, 64 bit: a stable fingerprint (std's hasher may change between releases).
    fn fingerprint(item: &BankItem) -> String {
        let meta = item.meta();
        let canonical = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}-{}\u{0}{}\u{0}{}",
            meta.id,
            meta.dimension,
            meta.reverse_keyed,
            meta.scale.min(),
            meta.scale.max(),
            item.text(Locale::En),
            item.text(Locale::De)
        );
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in canonical.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }

    #[test]
    fn every_item_keeps_its_pinned_meaning() {
        // `items/wording-fingerprints.txt` pins each id's wording, dimension, keying and
        // scale. A new item: append its line (the failure message prints it). A changed
        // line means an id's meaning changed — add a new id instead.
        let pinned: HashMap<&str, &str> = include_str!("../items/wording-fingerprints.txt")
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                line.split_once(' ')
                    .expect("lines are `<id> <fingerprint>`")
            })
            .collect();
        let bank = ItemBank::builtin().unwrap();
        for item in bank.items() {
            let actual = fingerprint(item);
            match pinned.get(item.id().0.as_str()) {
                Some(expected) => assert_eq!(
                    *expected,
                    actual,
                    "item {} changed meaning; give the new wording a new id",
                    item.id()
                ),
                None => panic!(
                    "item {} is not pinned; append `{} {actual}`",
                    item.id(),
                    item.id()
                ),
            }
        }
        assert_eq!(
            pinned.len(),
            bank.items().len(),
            "a pinned item was removed from the bank"
        );
    }
}
