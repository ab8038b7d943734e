//! Integer sufficient statistics of a group of respondents. Tallies add up exactly,
//! so a node's subtree, an atom and the whole organisation are all sums of the tallies
//! of the nodes they hold, in any order.

use safepulse_domain::Answer;

use crate::error::AnonymizerError;
use crate::item_layout::{ItemLayout, recode};
use crate::statistics::IntegerMoments;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) respondents: u32,
    /// Counts of recoded answers, item after item (see
    /// [`ItemLayout::histogram_offsets`]); index 0 of an item is its scale's minimum.
    /// Item sums, sums of squares and favourable counts all follow from these.
    pub(crate) histograms: Vec<u32>,
    /// Per dimension: Σ over respondents of (their row sum)², a row sum being the sum
    /// of their recoded answers to the dimension's items. The one statistic that needs
    /// each respondent's answers together.
    pub(crate) squared_row_sums: Vec<u64>,
}

/// Reusable buffers, so tallying a response allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct TallyScratch {
    recoded: Vec<u8>,
    row_sums: Vec<u64>,
}

impl Tally {
    pub(crate) fn empty(layout: &ItemLayout) -> Tally {
        Tally {
            respondents: 0,
            histograms: vec![0; layout.histograms_len],
            squared_row_sums: vec![0; layout.dimensions.len()],
        }
    }

    /// Validates the whole response before counting any of it.
    pub(crate) fn add_response(
        &mut self,
        layout: &ItemLayout,
        answers: &[Answer],
        scratch: &mut TallyScratch,
    ) -> Result<(), AnonymizerError> {
        if answers.len() != layout.items.len() {
            return Err(AnonymizerError::WrongAnswerCount {
                expected: layout.items.len(),
                found: answers.len(),
            });
        }
        scratch.recoded.clear();
        for (item, answer) in layout.items.iter().zip(answers) {
            if !item.scale.contains(answer.value()) {
                return Err(AnonymizerError::AnswerOutsideItemScale {
                    item: item.id.clone(),
                });
            }
            scratch.recoded.push(recode(item, answer.value()));
        }

        scratch.row_sums.clear();
        scratch.row_sums.resize(layout.dimensions.len(), 0);
        for (position, &recoded) in scratch.recoded.iter().enumerate() {
            let bin = recoded - layout.items[position].scale.min();
            self.histograms[layout.histogram_offsets[position] + usize::from(bin)] += 1;
            scratch.row_sums[layout.dimension_of_item[position]] += u64::from(recoded);
        }
        for (squared_row_sum, row_sum) in self.squared_row_sums.iter_mut().zip(&scratch.row_sums) {
            *squared_row_sum += row_sum * row_sum;
        }
        self.respondents += 1;
        Ok(())
    }

    pub(crate) fn add(&mut self, other: &Tally) {
        self.respondents += other.respondents;
        for (count, other_count) in self.histograms.iter_mut().zip(&other.histograms) {
            *count += other_count;
        }
        for (squares, other_squares) in self
            .squared_row_sums
            .iter_mut()
            .zip(&other.squared_row_sums)
        {
            *squares += other_squares;
        }
    }

    pub(crate) fn item_histogram(&self, layout: &ItemLayout, item: usize) -> &[u32] {
        let start = layout.histogram_offsets[item];
        &self.histograms[start..start + usize::from(layout.items[item].scale.points())]
    }

    pub(crate) fn item_moments(&self, layout: &ItemLayout, item: usize) -> IntegerMoments {
        let minimum = u64::from(layout.items[item].scale.min());
        let mut sum = 0;
        let mut sum_of_squares = 0;
        for (bin, &count) in self.item_histogram(layout, item).iter().enumerate() {
            let value = minimum + bin as u64;
            sum += value * u64::from(count);
            sum_of_squares += value * value * u64::from(count);
        }
        IntegerMoments {
            count: u64::from(self.respondents),
            sum,
            sum_of_squares,
            divisor: 1,
        }
    }

    /// Moments of respondents' dimension scores (row sum / J).
    pub(crate) fn dimension_moments(
        &self,
        layout: &ItemLayout,
        dimension: usize,
    ) -> IntegerMoments {
        let items = &layout.dimensions[dimension].items;
        IntegerMoments {
            count: u64::from(self.respondents),
            sum: items
                .iter()
                .map(|&item| self.item_moments(layout, item).sum)
                .sum(),
            sum_of_squares: self.squared_row_sums[dimension],
            divisor: items.len() as u64,
        }
    }

    /// All recoded answers to the dimension's items, pooled (they share one scale).
    pub(crate) fn dimension_histogram(&self, layout: &ItemLayout, dimension: usize) -> Vec<u32> {
        let dimension = &layout.dimensions[dimension];
        let mut pooled = vec![0; usize::from(dimension.scale.points())];
        for &item in &dimension.items {
            for (total, count) in pooled.iter_mut().zip(self.item_histogram(layout, item)) {
                *total += count;
            }
        }
        pooled
    }
}

/// Answers in the top two boxes of their scale (6–7 on 1–7, 4–5 on 1–5, 9–10 on 0–10).
pub(crate) fn top_two_boxes(histogram: &[u32]) -> u32 {
    histogram.iter().rev().take(2).sum()
}

/// eNPS detractors: answers 0–6 on the 0–10 scale (the first seven bins).
pub(crate) fn enps_detractors(histogram: &[u32]) -> u32 {
    histogram.iter().take(7).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use safepulse_domain::{Dimension, ItemId, ItemMeta, Scale};

    fn layout() -> ItemLayout {
        let item = |id: &str, dimension, reverse_keyed| ItemMeta {
            id: ItemId(id.into()),
            dimension,
            reverse_keyed,
            scale: Scale::AGREE_7,
        };
        ItemLayout::from_items(&[
            item("t1", Dimension::Trust, false),
            item("t2", Dimension::Trust, true),
            item("c1", Dimension::Clarity, false),
        ])
        .unwrap()
    }

    fn answers(values: &[u8]) -> Vec<Answer> {
        values
            .iter()
            .map(|&value| Answer::parse(i64::from(value), Scale::AGREE_7).unwrap())
            .collect()
    }

    #[test]
    fn a_response_is_recoded_and_counted() {
        let layout = layout();
        let mut tally = Tally::empty(&layout);
        let mut scratch = TallyScratch::default();
        tally
            .add_response(&layout, &answers(&[7, 2, 3]), &mut scratch)
            .unwrap();
        tally
            .add_response(&layout, &answers(&[5, 5, 6]), &mut scratch)
            .unwrap();
        assert_eq!(tally.respondents, 2);
        assert_eq!(tally.item_histogram(&layout, 1), [0, 0, 1, 0, 0, 1, 0]);
        // Trust row sums: 7 + 6 = 13 and 5 + 3 = 8.
        assert_eq!(tally.squared_row_sums, [13 * 13 + 8 * 8, 3 * 3 + 6 * 6]);
        let trust = tally.dimension_moments(&layout, 0);
        assert_eq!((trust.sum, trust.divisor), (21, 2));
        assert_eq!(tally.dimension_histogram(&layout, 0), [0, 0, 1, 0, 1, 1, 1]);
        assert_eq!(top_two_boxes(tally.item_histogram(&layout, 0)), 1);
    }

    #[test]
    fn an_invalid_response_is_refused_before_anything_is_counted() {
        let layout = layout();
        let mut tally = Tally::empty(&layout);
        let mut scratch = TallyScratch::default();
        assert_eq!(
            tally.add_response(&layout, &answers(&[7, 2]), &mut scratch),
            Err(AnonymizerError::WrongAnswerCount {
                expected: 3,
                found: 2
            })
        );
        let zero = Answer::parse(0, Scale::ZERO_TO_TEN).unwrap();
        let mut outside = answers(&[7, 2, 3]);
        outside[2] = zero;
        assert_eq!(
            tally.add_response(&layout, &outside, &mut scratch),
            Err(AnonymizerError::AnswerOutsideItemScale {
                item: ItemId("c1".into())
            })
        );
        assert_eq!(tally, Tally::empty(&layout));
    }
}
