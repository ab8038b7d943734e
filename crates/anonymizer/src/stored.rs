//! The stored form of what a close keeps: [`ReleasedFigures`], [`RoundedFigures`] and
//! [`AtomStatistics`] as MessagePack.
//!
//! A 50,000-answer close keeps 5,000 releases and 10,000 atoms; as JSON that was
//! 46 MB whose writing (and on PostgreSQL, parsing and compressing) was most of
//! the close. MessagePack with structs as arrays keeps the same values, doubles
//! exactly, in about a quarter of the bytes, and reads back without a text parser.
//!
//! Structs are written as arrays, so **a field's position is its name**: add
//! fields only at the end of a struct, with `#[serde(default)]`, and never reorder
//! or remove one (the tests pin the bytes of a known value of each type).
//! Reading accepts the map form too (field names as keys): rows closed before
//! figures were packed were converted from their JSON into that form.
//!
//! Both directions are *human-readable* in serde's sense, as JSON was: ids are
//! written as text, which is how the converted rows hold them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::atoms::AtomStatistics;
use crate::figures::{ReleasedFigures, RoundedFigures};

/// Stored bytes that do not decode: a corrupt row, or a type changed against the
/// rules above.
#[derive(Debug, thiserror::Error)]
#[error("stored figures do not decode: {0}")]
pub struct StoredFormError(String);

/// A type kept in the database in the stored form.
pub trait StoredForm: Serialize + DeserializeOwned {
    fn to_stored(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(256);
        let mut serializer = rmp_serde::Serializer::new(&mut bytes).with_human_readable();
        self.serialize(&mut serializer)
            .expect("plain structs of numbers and strings serialize into memory");
        bytes
    }

    fn from_stored(bytes: &[u8]) -> Result<Self, StoredFormError> {
        let mut deserializer = rmp_serde::Deserializer::from_read_ref(bytes).with_human_readable();
        Self::deserialize(&mut deserializer).map_err(|error| StoredFormError(error.to_string()))
    }
}

impl StoredForm for ReleasedFigures {}
impl StoredForm for RoundedFigures {}
impl StoredForm for AtomStatistics {}

#[cfg(test)]
mod tests {
    use safepulse_domain::{Dimension, ItemId, NodeId};
    use uuid::Uuid;

    use super::*;
    use crate::atoms::{AtomDimensionStatistics, AtomItemDetailStatistics, AtomItemStatistics};
    use crate::figures::{
        ConfidenceInterval, DimensionDetail, DimensionFigures, ItemDetail, ItemFigures,
        RoundedDimension,
    };
    use crate::ledger::AtomId;
    use crate::policy::Family;

    fn released() -> ReleasedFigures {
        ReleasedFigures {
            respondents: 12,
            detail: true,
            items: vec![ItemFigures {
                item: ItemId("psy_safety_1".into()),
                dimension: Dimension::PsychologicalSafety,
                mean: 5.25,
                confidence_interval: ConfidenceInterval::Team {
                    low: 4.5,
                    high: 6.000000000000001,
                },
                favourability_percent: 100.0 / 3.0,
                enps: None,
                detail: Some(ItemDetail {
                    sd: 1.1,
                    distribution: vec![0, 0, 1, 2, 3, 4, 2],
                }),
            }],
            dimensions: vec![DimensionFigures {
                dimension: Dimension::PsychologicalSafety,
                item_count: 1,
                mean: 5.25,
                confidence_interval: ConfidenceInterval::OrgLevel {
                    low: 4.0,
                    high: 6.5,
                },
                favourability_percent: 50.0,
                detail: Some(DimensionDetail {
                    sd: 1.1,
                    distribution: vec![0, 0, 1, 2, 3, 4, 2],
                    rwg: 0.0,
                    rwg_lindell: -0.25,
                }),
            }],
        }
    }

    fn rounded() -> RoundedFigures {
        RoundedFigures {
            respondents: 9,
            step: 1.0,
            dimensions: vec![RoundedDimension {
                dimension: Dimension::Wellbeing,
                item_count: 2,
                mean: 5.0,
            }],
        }
    }

    fn atom() -> AtomStatistics {
        AtomStatistics {
            atom: AtomId(Uuid::from_u128(7)),
            family: Family::Detail,
            node: NodeId(Uuid::from_u128(9)),
            respondents: 10,
            items: vec![AtomItemStatistics {
                sum: 51,
                favourable: 6,
                enps_detractors: Some(2),
                detail: Some(AtomItemDetailStatistics {
                    sum_of_squares: 287,
                    histogram: vec![1, 0, 2, 0, 1, 3, 3],
                }),
            }],
            dimensions: vec![AtomDimensionStatistics {
                dimension: Dimension::Trust,
                sum_of_row_sums: 51,
                sum_of_squared_row_sums: None,
            }],
        }
    }

    #[test]
    fn every_stored_type_comes_back_exactly() {
        let figures = released();
        assert_eq!(
            ReleasedFigures::from_stored(&figures.to_stored()).unwrap(),
            figures
        );
        let no_band = ReleasedFigures {
            dimensions: vec![DimensionFigures {
                confidence_interval: ConfidenceInterval::NoBand,
                detail: None,
                ..figures.dimensions[0].clone()
            }],
            items: vec![],
            detail: false,
            ..figures
        };
        assert_eq!(
            ReleasedFigures::from_stored(&no_band.to_stored()).unwrap(),
            no_band
        );
        assert_eq!(
            RoundedFigures::from_stored(&rounded().to_stored()).unwrap(),
            rounded()
        );
        assert_eq!(
            AtomStatistics::from_stored(&atom().to_stored()).unwrap(),
            atom()
        );
    }

    /// Rows closed before figures were packed hold their JSON document converted to
    /// MessagePack with field names (the migration `m20261222_000001_packed_figures`
    /// does `rmp_serde::to_vec(&serde_json::Value)`): they read back the same.
    #[test]
    fn the_converted_json_form_reads_back_the_same() {
        fn converted<T: Serialize>(value: &T) -> Vec<u8> {
            let json: serde_json::Value =
                serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap();
            rmp_serde::to_vec(&json).unwrap()
        }
        let figures = released();
        assert_eq!(
            ReleasedFigures::from_stored(&converted(&figures)).unwrap(),
            figures
        );
        assert_eq!(
            AtomStatistics::from_stored(&converted(&atom())).unwrap(),
            atom()
        );
    }

    /// Positions are names in the stored form: reordering or removing a field would
    /// silently misread every stored row, so the bytes of a known value are pinned.
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn a_released_figure_keeps_its_stored_bytes() {
        assert_eq!(
            hex(&released().to_stored()),
            PINNED_RELEASED,
            "the stored layout changed"
        );
    }

    #[test]
    fn rounded_figures_and_atom_statistics_keep_their_stored_bytes() {
        assert_eq!(hex(&rounded().to_stored()), PINNED_ROUNDED);
        assert_eq!(hex(&atom().to_stored()), PINNED_ATOM);
    }

    /// `rounded().to_stored()` and `atom().to_stored()` as first written.
    const PINNED_ROUNDED: &str =
        "9309cb3ff00000000000009193a977656c6c6265696e6702cb4014000000000000";
    const PINNED_ATOM: &str = concat!(
        "96d92430303030303030302d303030302d303030302d303030302d303030303030303030",
        "303037a664657461696cd92430303030303030302d303030302d303030302d303030302d",
        "3030303030303030303030390a919433060292cd011f97010002000103039193a5747275",
        "737433c0",
    );

    /// `released().to_stored()` as written when the stored form was introduced.
    const PINNED_RELEASED: &str = concat!(
        "940cc39197ac7073795f7361666574795f31b470737963686f6c6f676963616c5f736166",
        "657479cb401500000000000093a47465616dcb4012000000000000cb4018000000000001",
        "cb4040aaaaaaaaaaabc092cb3ff199999999999a97000001020304029196b47073796368",
        "6f6c6f676963616c5f73616665747901cb401500000000000093a96f72675f6c6576656c",
        "cb4010000000000000cb401a000000000000cb404900000000000094cb3ff19999999999",
        "9a9700000102030402cb0000000000000000cbbfd0000000000000",
    );

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ReleasedFigures::from_stored(&[0xc1, 0x00, 0xff]).is_err());
        assert!(ReleasedFigures::from_stored(&[]).is_err());
        assert!(AtomStatistics::from_stored(&released().to_stored()).is_err());
    }

    #[test]
    fn the_stored_form_is_a_fraction_of_the_json() {
        let figures = released();
        let json = serde_json::to_vec(&figures).unwrap().len();
        let stored = figures.to_stored().len();
        assert!(
            stored * 2 < json,
            "{stored} bytes stored against {json} of JSON"
        );
    }
}
