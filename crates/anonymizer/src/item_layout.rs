//! Where each item's counts live in a tally, which items make up each dimension,
//! and how answers are recoded.

use std::collections::HashSet;

use safepulse_domain::{Dimension, ItemMeta, Scale};

use crate::error::AnonymizerError;

#[derive(Debug)]
pub(crate) struct ItemLayout {
    pub(crate) items: Vec<ItemMeta>,
    /// Start of each item's histogram inside a group's histograms (see [`crate::tally::TallyTable`]).
    pub(crate) histogram_offsets: Vec<usize>,
    pub(crate) histograms_len: usize,
    /// Position in `dimensions` of each item's dimension.
    pub(crate) dimension_of_item: Vec<usize>,
    /// In the order of [`Dimension::ALL`], only the dimensions the round asks about.
    pub(crate) dimensions: Vec<DimensionLayout>,
}

#[derive(Debug)]
pub(crate) struct DimensionLayout {
    pub(crate) dimension: Dimension,
    /// Shared by every item of the dimension (checked), so respondent scores are
    /// on one scale and rwg has one `A`.
    pub(crate) scale: Scale,
    pub(crate) items: Vec<usize>,
}

impl ItemLayout {
    pub(crate) fn from_items(items: &[ItemMeta]) -> Result<ItemLayout, AnonymizerError> {
        if items.is_empty() {
            return Err(AnonymizerError::NoItems);
        }
        let mut seen_ids = HashSet::with_capacity(items.len());
        for item in items {
            if !seen_ids.insert(&item.id) {
                return Err(AnonymizerError::DuplicateItem {
                    item: item.id.clone(),
                });
            }
        }

        let mut dimensions: Vec<DimensionLayout> = Vec::new();
        for dimension in Dimension::ALL {
            let member_items: Vec<usize> = (0..items.len())
                .filter(|&item| items[item].dimension == dimension)
                .collect();
            let Some(&first_item) = member_items.first() else {
                continue;
            };
            let scale = items[first_item].scale;
            if member_items.iter().any(|&item| items[item].scale != scale) {
                return Err(AnonymizerError::MixedScalesInDimension { dimension });
            }
            dimensions.push(DimensionLayout {
                dimension,
                scale,
                items: member_items,
            });
        }
        let mut dimension_of_item = vec![0; items.len()];
        for (dimension_position, dimension) in dimensions.iter().enumerate() {
            for &item in &dimension.items {
                dimension_of_item[item] = dimension_position;
            }
        }

        let mut histogram_offsets = Vec::with_capacity(items.len());
        let mut histograms_len = 0;
        for item in items {
            histogram_offsets.push(histograms_len);
            histograms_len += usize::from(item.scale.points());
        }

        Ok(ItemLayout {
            items: items.to_vec(),
            histogram_offsets,
            histograms_len,
            dimension_of_item,
            dimensions,
        })
    }
}

/// Reverse-keyed items are recoded `x' = (min + max) − x`, so that on every item a
/// higher answer means more of the construct. Expects `value` inside the scale.
pub(crate) fn recode(item: &ItemMeta, value: u8) -> u8 {
    if item.reverse_keyed {
        item.scale.min() + item.scale.max() - value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safepulse_domain::ItemId;

    fn item(id: &str, dimension: Dimension, reverse_keyed: bool, scale: Scale) -> ItemMeta {
        ItemMeta {
            id: ItemId(id.into()),
            dimension,
            reverse_keyed,
            scale,
        }
    }

    #[test]
    fn reverse_keyed_answers_are_mirrored_inside_their_scale() {
        let seven = item("a", Dimension::Trust, true, Scale::AGREE_7);
        let five = item("b", Dimension::Trust, true, Scale::AGREE_5);
        let eleven = item("c", Dimension::Recommendation, true, Scale::ZERO_TO_TEN);
        assert_eq!(
            (recode(&seven, 1), recode(&seven, 7), recode(&seven, 4)),
            (7, 1, 4)
        );
        assert_eq!((recode(&five, 2), recode(&five, 5)), (4, 1));
        assert_eq!((recode(&eleven, 0), recode(&eleven, 9)), (10, 1));
        assert_eq!(
            recode(&item("d", Dimension::Trust, false, Scale::AGREE_7), 2),
            2
        );
    }

    #[test]
    fn dimensions_follow_the_canonical_order_and_histograms_are_packed() {
        let layout = ItemLayout::from_items(&[
            item("t1", Dimension::Trust, false, Scale::AGREE_7),
            item("ps1", Dimension::PsychologicalSafety, false, Scale::AGREE_7),
            item("nps", Dimension::Recommendation, false, Scale::ZERO_TO_TEN),
            item("t2", Dimension::Trust, true, Scale::AGREE_7),
        ])
        .unwrap();
        let order: Vec<Dimension> = layout
            .dimensions
            .iter()
            .map(|dimension| dimension.dimension)
            .collect();
        assert_eq!(
            order,
            [
                Dimension::PsychologicalSafety,
                Dimension::Trust,
                Dimension::Recommendation
            ]
        );
        assert_eq!(layout.dimensions[1].items, [0, 3]);
        assert_eq!(layout.dimension_of_item, [1, 0, 2, 1]);
        assert_eq!(layout.histogram_offsets, [0, 7, 14, 25]);
        assert_eq!(layout.histograms_len, 32);
    }

    #[test]
    fn malformed_item_lists_are_typed_errors() {
        assert_eq!(
            ItemLayout::from_items(&[]).unwrap_err(),
            AnonymizerError::NoItems
        );
        assert_eq!(
            ItemLayout::from_items(&[
                item("x", Dimension::Trust, false, Scale::AGREE_7),
                item("x", Dimension::Clarity, false, Scale::AGREE_7)
            ])
            .unwrap_err(),
            AnonymizerError::DuplicateItem {
                item: ItemId("x".into())
            }
        );
        assert_eq!(
            ItemLayout::from_items(&[
                item("x", Dimension::Trust, false, Scale::AGREE_7),
                item("y", Dimension::Trust, false, Scale::AGREE_5)
            ])
            .unwrap_err(),
            AnonymizerError::MixedScalesInDimension {
                dimension: Dimension::Trust
            }
        );
    }
}
