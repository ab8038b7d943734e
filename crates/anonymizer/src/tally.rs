//! Integer sufficient statistics of a group of respondents. Tallies add up exactly,
//! so a node's subtree, an atom and the whole organisation are all sums of the tallies
//! of the nodes they hold, in any order.

use safepulse_domain::Answer;

use crate::error::AnonymizerError;
use crate::item_layout::{ItemLayout, recode};
use crate::statistics::IntegerMoments;

/// The tallies of many groups (nodes, atoms) side by side in three flat vectors: one
/// allocation per table rather than per group, and sums that stay in cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TallyTable {
    respondents: Vec<u32>,
    /// Counts of recoded answers, group after group and, within a group, item after
    /// item (see [`ItemLayout::histogram_offsets`]); index 0 of an item is its scale's
    /// minimum. Item sums, sums of squares and favourable counts all follow from these.
    histograms: Vec<u32>,
    /// Per group and dimension: Σ over respondents of (their row sum)², a row sum being
    /// the sum of their recoded answers to the dimension's items. The one statistic that
    /// needs each respondent's answers together.
    squared_row_sums: Vec<u64>,
    histograms_len: usize,
    dimensions_len: usize,
}

/// One group's tally, read from a [`TallyTable`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally<'table> {
    pub(crate) respondents: u32,
    histograms: &'table [u32],
    squared_row_sums: &'table [u64],
}

/// Reusable buffers, so tallying a response allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct TallyScratch {
    recoded: Vec<u8>,
    row_sums: Vec<u64>,
}

impl TallyTable {
    pub(crate) fn new(layout: &ItemLayout, groups: usize) -> TallyTable {
        TallyTable {
            respondents: vec![0; groups],
            histograms: vec![0; groups * layout.histograms_len],
            squared_row_sums: vec![0; groups * layout.dimensions.len()],
            histograms_len: layout.histograms_len,
            dimensions_len: layout.dimensions.len(),
        }
    }

    pub(crate) fn group(&self, group: usize) -> Tally<'_> {
        Tally {
            respondents: self.respondents[group],
            histograms: &self.histograms
                [group * self.histograms_len..(group + 1) * self.histograms_len],
            squared_row_sums: &self.squared_row_sums
                [group * self.dimensions_len..(group + 1) * self.dimensions_len],
        }
    }

    pub(crate) fn respondents(&self) -> &[u32] {
        &self.respondents
    }

    /// Validates the whole response before counting any of it.
    pub(crate) fn add_response(
        &mut self,
        group: usize,
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
        scratch.row_sums.resize(self.dimensions_len, 0);
        let histograms =
            &mut self.histograms[group * self.histograms_len..(group + 1) * self.histograms_len];
        for (position, &recoded) in scratch.recoded.iter().enumerate() {
            let bin = recoded - layout.items[position].scale.min();
            histograms[layout.histogram_offsets[position] + usize::from(bin)] += 1;
            scratch.row_sums[layout.dimension_of_item[position]] += u64::from(recoded);
        }
        let squared_row_sums = &mut self.squared_row_sums
            [group * self.dimensions_len..(group + 1) * self.dimensions_len];
        for (squared_row_sum, row_sum) in squared_row_sums.iter_mut().zip(&scratch.row_sums) {
            *squared_row_sum += row_sum * row_sum;
        }
        self.respondents[group] += 1;
        Ok(())
    }

    /// Adds another table's group into one of this table's groups.
    pub(crate) fn add(&mut self, group: usize, other: Tally<'_>) {
        self.respondents[group] += other.respondents;
        let histograms =
            &mut self.histograms[group * self.histograms_len..(group + 1) * self.histograms_len];
        for (count, other_count) in histograms.iter_mut().zip(other.histograms) {
            *count += other_count;
        }
        let squared_row_sums = &mut self.squared_row_sums
            [group * self.dimensions_len..(group + 1) * self.dimensions_len];
        for (squares, other_squares) in squared_row_sums.iter_mut().zip(other.squared_row_sums) {
            *squares += other_squares;
        }
    }

    /// Adds group `from` of this table into its group `into` (a child into its parent).
    pub(crate) fn add_within(&mut self, into: usize, from: usize) {
        self.respondents[into] += self.respondents[from];
        for offset in 0..self.histograms_len {
            self.histograms[into * self.histograms_len + offset] +=
                self.histograms[from * self.histograms_len + offset];
        }
        for offset in 0..self.dimensions_len {
            self.squared_row_sums[into * self.dimensions_len + offset] +=
                self.squared_row_sums[from * self.dimensions_len + offset];
        }
    }
}

impl<'table> Tally<'table> {
    pub(crate) fn item_histogram(&self, layout: &ItemLayout, item: usize) -> &'table [u32] {
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
        let mut table = TallyTable::new(&layout, 2);
        let mut scratch = TallyScratch::default();
        table
            .add_response(1, &layout, &answers(&[7, 2, 3]), &mut scratch)
            .unwrap();
        table
            .add_response(1, &layout, &answers(&[5, 5, 6]), &mut scratch)
            .unwrap();
        assert_eq!(table.respondents(), [0, 2]);
        let tally = table.group(1);
        assert_eq!(tally.item_histogram(&layout, 1), [0, 0, 1, 0, 0, 1, 0]);
        // Trust row sums: 7 + 6 = 13 and 5 + 3 = 8.
        assert_eq!(tally.squared_row_sums, [13 * 13 + 8 * 8, 3 * 3 + 6 * 6]);
        let trust = tally.dimension_moments(&layout, 0);
        assert_eq!((trust.sum, trust.divisor), (21, 2));
        assert_eq!(tally.dimension_histogram(&layout, 0), [0, 0, 1, 0, 1, 1, 1]);
        assert_eq!(top_two_boxes(tally.item_histogram(&layout, 0)), 1);
        // Adding groups adds every count.
        table.add_within(0, 1);
        let copy = table.clone();
        table.add(0, copy.group(1));
        assert_eq!(
            table.group(0).item_histogram(&layout, 1),
            [0, 0, 2, 0, 0, 2, 0]
        );
        assert_eq!(table.group(0).respondents, 4);
        assert_eq!(table.group(0).squared_row_sums[1], 2 * (3 * 3 + 6 * 6));
    }

    #[test]
    fn an_invalid_response_is_refused_before_anything_is_counted() {
        let layout = layout();
        let mut table = TallyTable::new(&layout, 1);
        let mut scratch = TallyScratch::default();
        assert_eq!(
            table.add_response(0, &layout, &answers(&[7, 2]), &mut scratch),
            Err(AnonymizerError::WrongAnswerCount {
                expected: 3,
                found: 2
            })
        );
        let zero = Answer::parse(0, Scale::ZERO_TO_TEN).unwrap();
        let mut outside = answers(&[7, 2, 3]);
        outside[2] = zero;
        assert_eq!(
            table.add_response(0, &layout, &outside, &mut scratch),
            Err(AnonymizerError::AnswerOutsideItemScale {
                item: ItemId("c1".into())
            })
        );
        assert_eq!(table, TallyTable::new(&layout, 1));
    }
}
