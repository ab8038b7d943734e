//! Which items a round asks: a [`RotationPlan`], evaluated by [`items_for_round`]
//! once when a round opens (the round then stores its item ids, so later bank or
//! plan changes never alter a round that already exists).
//!
//! A rotating plan keeps pulses short and still covers every dimension often:
//! think of an endless stream of the eight agreement dimensions in a fixed order,
//! `PS, Trust, Empathy, Feedback, Clarity, Rapport, Vulnerability, Wellbeing, PS, …`.
//! Round `r` asks stream positions `r·n … r·n + n − 1`; the k-th time a dimension
//! comes up, it asks that dimension's item `k mod (items of the dimension)`, in
//! bank order. Hence, with `n` agreement items per round and `c` items in a
//! dimension:
//!
//! - every dimension is asked in any `ceil(8 / n)` consecutive rounds (each round
//!   for `n ≥ 8`, every other round for `n` = 5–7);
//! - every item is asked in any `ceil(8·c / n)` consecutive rounds;
//! - a round never asks an item twice (a dimension comes up at most twice in a
//!   round of ≤ 10 and has ≥ 4 items).
//!
//! The 0–10 recommendation item, when the plan includes it, is added as the last
//! question of rounds `0, m, 2m, …`; the first round asks it, so eNPS has a baseline.
//! A round never asks more than [`MAX_ITEMS_PER_ROUND`] items.

use std::collections::HashSet;

use safepulse_domain::ItemId;

use crate::item_bank::{AGREEMENT_DIMENSIONS, ItemBank};

/// Fewer items would make dimension scores rest on too few answers per person.
pub const MIN_ITEMS_PER_ROUND: u8 = 5;
/// More would no longer fit "under a minute on a phone".
pub const MAX_ITEMS_PER_ROUND: u8 = 10;
/// A fixed list may be a little longer than a rotating round: it is the admin's
/// explicit choice, and still short.
pub const MAX_FIXED_ITEMS: usize = 15;
/// The recommendation item is asked at least every this many rounds when enabled.
pub const MAX_RECOMMENDATION_INTERVAL: u32 = 52;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationPlanError {
    #[error(
        "a rotating plan asks {MIN_ITEMS_PER_ROUND}–{max} agreement items per round \
         ({MAX_ITEMS_PER_ROUND} in total including the recommendation item), not {given}"
    )]
    ItemsPerRoundOutOfRange { given: u8, max: u8 },
    #[error(
        "the recommendation item can be asked every 1 to {MAX_RECOMMENDATION_INTERVAL} rounds, not every {0}"
    )]
    RecommendationIntervalOutOfRange(u32),
    #[error("a fixed item list has 1–{MAX_FIXED_ITEMS} items, not {0}")]
    FixedListLength(usize),
    #[error("item {0} is not in the item bank")]
    UnknownItem(ItemId),
    #[error("item {0} is listed more than once")]
    RepeatedItem(ItemId),
}

/// How a survey picks the items of each round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationPlan {
    /// Rotate through the whole bank, a few items per round.
    Rotating(RotatingPlan),
    /// Ask the same admin-chosen items every round.
    Fixed(FixedItemList),
}

impl Default for RotationPlan {
    /// Eight agreement items per round — one per dimension, so every dimension has a
    /// score every round — cycling through each dimension's items, plus the
    /// recommendation item every fourth round (8 or 9 questions, about a minute).
    fn default() -> Self {
        RotationPlan::Rotating(RotatingPlan::DEFAULT)
    }
}

/// A validated rotating plan: `n` agreement items per round, optionally the
/// recommendation item every `m` rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotatingPlan {
    agreement_items_per_round: u8,
    recommendation_every_rounds: Option<u32>,
}

impl RotatingPlan {
    pub const DEFAULT: RotatingPlan = RotatingPlan {
        agreement_items_per_round: 8,
        recommendation_every_rounds: Some(4),
    };

    pub fn new(
        agreement_items_per_round: u8,
        recommendation_every_rounds: Option<u32>,
    ) -> Result<RotatingPlan, RotationPlanError> {
        let max = match recommendation_every_rounds {
            Some(_) => MAX_ITEMS_PER_ROUND - 1,
            None => MAX_ITEMS_PER_ROUND,
        };
        if !(MIN_ITEMS_PER_ROUND..=max).contains(&agreement_items_per_round) {
            return Err(RotationPlanError::ItemsPerRoundOutOfRange {
                given: agreement_items_per_round,
                max,
            });
        }
        if let Some(interval) = recommendation_every_rounds
            && !(1..=MAX_RECOMMENDATION_INTERVAL).contains(&interval)
        {
            return Err(RotationPlanError::RecommendationIntervalOutOfRange(
                interval,
            ));
        }
        Ok(RotatingPlan {
            agreement_items_per_round,
            recommendation_every_rounds,
        })
    }

    pub fn agreement_items_per_round(&self) -> u8 {
        self.agreement_items_per_round
    }

    pub fn recommendation_every_rounds(&self) -> Option<u32> {
        self.recommendation_every_rounds
    }

    /// Any this many consecutive rounds ask every dimension at least once.
    pub fn rounds_covering_every_dimension(&self) -> u32 {
        (AGREEMENT_DIMENSIONS.len() as u32).div_ceil(u32::from(self.agreement_items_per_round))
    }

    /// Any this many consecutive rounds ask every agreement item of `bank` at least once.
    pub fn rounds_covering_every_item(&self, bank: &ItemBank) -> u32 {
        let largest_dimension = AGREEMENT_DIMENSIONS
            .into_iter()
            .map(|dimension| bank.items_of(dimension).count())
            .max()
            .unwrap_or(1);
        (AGREEMENT_DIMENSIONS.len() as u32 * largest_dimension as u32)
            .div_ceil(u32::from(self.agreement_items_per_round))
    }

    fn asks_recommendation_in_round(&self, round_index: u32) -> bool {
        self.recommendation_every_rounds
            .is_some_and(|interval| round_index.is_multiple_of(interval))
    }
}

/// A validated explicit item list: 1–15 known items, none twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedItemList(Vec<ItemId>);

impl FixedItemList {
    pub fn new(bank: &ItemBank, items: Vec<ItemId>) -> Result<FixedItemList, RotationPlanError> {
        if !(1..=MAX_FIXED_ITEMS).contains(&items.len()) {
            return Err(RotationPlanError::FixedListLength(items.len()));
        }
        let mut seen = HashSet::with_capacity(items.len());
        for id in &items {
            if bank.get(id).is_none() {
                return Err(RotationPlanError::UnknownItem(id.clone()));
            }
            if !seen.insert(id) {
                return Err(RotationPlanError::RepeatedItem(id.clone()));
            }
        }
        Ok(FixedItemList(items))
    }

    pub fn items(&self) -> &[ItemId] {
        &self.0
    }
}

/// The items of round `round_index` (0 for a survey's first round), in the order
/// they are asked. The same for everyone in the round, and the same every time it
/// is computed for the same bank, plan and index.
pub fn items_for_round(bank: &ItemBank, plan: &RotationPlan, round_index: u32) -> Vec<ItemId> {
    let rotating = match plan {
        RotationPlan::Fixed(list) => return list.items().to_vec(),
        RotationPlan::Rotating(rotating) => rotating,
    };
    let per_round = u64::from(rotating.agreement_items_per_round);
    let dimension_count = AGREEMENT_DIMENSIONS.len() as u64;
    let first_position = u64::from(round_index) * per_round;
    let mut items: Vec<ItemId> = (first_position..first_position + per_round)
        .map(|position| {
            let dimension = AGREEMENT_DIMENSIONS[(position % dimension_count) as usize];
            let times_dimension_came_up_before = position / dimension_count;
            let dimension_items: Vec<_> = bank.items_of(dimension).collect();
            let pick = (times_dimension_came_up_before % dimension_items.len() as u64) as usize;
            dimension_items[pick].id().clone()
        })
        .collect();
    if rotating.asks_recommendation_in_round(round_index) {
        items.push(bank.recommendation_item().id().clone());
    }
    items
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use safepulse_domain::Dimension;

    use super::*;

    fn bank() -> ItemBank {
        ItemBank::builtin().unwrap()
    }

    fn every_valid_rotating_plan() -> Vec<RotatingPlan> {
        let mut plans = Vec::new();
        for interval in [None, Some(1), Some(3), Some(4)] {
            for per_round in MIN_ITEMS_PER_ROUND..=MAX_ITEMS_PER_ROUND {
                if let Ok(plan) = RotatingPlan::new(per_round, interval) {
                    plans.push(plan);
                }
            }
        }
        assert_eq!(plans.len(), 6 + 5 * 3, "every size valid for its interval");
        plans
    }

    fn dimensions_of(bank: &ItemBank, items: &[ItemId]) -> BTreeSet<Dimension> {
        items
            .iter()
            .map(|id| bank.get(id).unwrap().dimension())
            .collect()
    }

    #[test]
    fn the_default_plan_asks_every_dimension_every_round_and_recommendation_every_fourth() {
        let bank = bank();
        for round_index in 0..40 {
            let items = items_for_round(&bank, &RotationPlan::default(), round_index);
            let agreement: Vec<_> = items
                .iter()
                .filter(|id| bank.get(id).unwrap().dimension() != Dimension::Recommendation)
                .cloned()
                .collect();
            assert_eq!(agreement.len(), 8);
            assert_eq!(
                dimensions_of(&bank, &agreement),
                AGREEMENT_DIMENSIONS.into_iter().collect()
            );
            let asks_recommendation = items.contains(bank.recommendation_item().id());
            assert_eq!(
                asks_recommendation,
                round_index % 4 == 0,
                "round {round_index}"
            );
            if asks_recommendation {
                assert_eq!(
                    items.last(),
                    Some(bank.recommendation_item().id()),
                    "asked last"
                );
            }
        }
    }

    #[test]
    fn the_default_plan_cycles_through_each_dimensions_items_in_bank_order() {
        let bank = bank();
        let first_items: Vec<_> = (0..6)
            .map(|round| {
                items_for_round(&bank, &RotationPlan::default(), round)[0]
                    .0
                    .clone()
            })
            .collect();
        assert_eq!(
            first_items,
            ["ps-01", "ps-02", "ps-03", "ps-04", "ps-05", "ps-01"]
        );
    }

    #[test]
    fn any_window_of_the_documented_length_asks_every_dimension() {
        let bank = bank();
        for plan in every_valid_rotating_plan() {
            let window = plan.rounds_covering_every_dimension();
            assert_eq!(
                window,
                if plan.agreement_items_per_round() >= 8 {
                    1
                } else {
                    2
                }
            );
            let plan_enum = RotationPlan::Rotating(plan);
            for first in 0..200 {
                let asked: Vec<ItemId> = (first..first + window)
                    .flat_map(|round| items_for_round(&bank, &plan_enum, round))
                    .collect();
                let covered = dimensions_of(&bank, &asked);
                for dimension in AGREEMENT_DIMENSIONS {
                    assert!(
                        covered.contains(&dimension),
                        "{plan:?} rounds {first}+{window} miss {dimension}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_dimension_window_is_tight_for_short_rounds() {
        // With 5 items a single round cannot cover 8 dimensions: the bound of 2 is needed.
        let bank = bank();
        let plan = RotationPlan::Rotating(RotatingPlan::new(5, None).unwrap());
        assert!(dimensions_of(&bank, &items_for_round(&bank, &plan, 0)).len() < 8);
    }

    #[test]
    fn any_window_of_the_documented_length_asks_every_item() {
        let bank = bank();
        for plan in every_valid_rotating_plan() {
            let window = plan.rounds_covering_every_item(&bank);
            let plan_enum = RotationPlan::Rotating(plan);
            for first in 0..100 {
                let asked: HashSet<ItemId> = (first..first + window)
                    .flat_map(|round| items_for_round(&bank, &plan_enum, round))
                    .collect();
                for item in bank
                    .items()
                    .iter()
                    .filter(|item| item.dimension() != Dimension::Recommendation)
                {
                    assert!(
                        asked.contains(item.id()),
                        "{plan:?} rounds {first}+{window} miss {}",
                        item.id()
                    );
                }
            }
        }
    }

    #[test]
    fn rounds_have_the_planned_size_no_repeats_and_are_deterministic() {
        let bank = bank();
        for plan in every_valid_rotating_plan() {
            let plan_enum = RotationPlan::Rotating(plan);
            for round_index in [0, 1, 2, 7, 99, 1_000, u32::MAX] {
                let items = items_for_round(&bank, &plan_enum, round_index);
                let expected_len = usize::from(plan.agreement_items_per_round())
                    + usize::from(plan.asks_recommendation_in_round(round_index));
                assert_eq!(items.len(), expected_len);
                assert!(items.len() <= usize::from(MAX_ITEMS_PER_ROUND));
                assert_eq!(
                    items.iter().collect::<HashSet<_>>().len(),
                    items.len(),
                    "{plan:?} {items:?}"
                );
                assert_eq!(items, items_for_round(&bank, &plan_enum, round_index));
            }
        }
    }

    #[test]
    fn rotating_plans_outside_the_limits_are_refused() {
        assert_eq!(
            RotatingPlan::new(4, None),
            Err(RotationPlanError::ItemsPerRoundOutOfRange { given: 4, max: 10 })
        );
        assert_eq!(
            RotatingPlan::new(11, None),
            Err(RotationPlanError::ItemsPerRoundOutOfRange { given: 11, max: 10 })
        );
        assert_eq!(
            RotatingPlan::new(10, Some(4)),
            Err(RotationPlanError::ItemsPerRoundOutOfRange { given: 10, max: 9 })
        );
        assert_eq!(
            RotatingPlan::new(8, Some(0)),
            Err(RotationPlanError::RecommendationIntervalOutOfRange(0))
        );
        assert_eq!(
            RotatingPlan::new(8, Some(53)),
            Err(RotationPlanError::RecommendationIntervalOutOfRange(53))
        );
        assert_eq!(RotatingPlan::new(8, Some(4)), Ok(RotatingPlan::DEFAULT));
        assert_eq!(RotatingPlan::DEFAULT.agreement_items_per_round(), 8);
        assert_eq!(RotatingPlan::DEFAULT.recommendation_every_rounds(), Some(4));
        assert_eq!(
            RotatingPlan::new(10, None)
                .unwrap()
                .recommendation_every_rounds(),
            None
        );
    }

    #[test]
    fn a_fixed_list_is_asked_unchanged_every_round() {
        let bank = bank();
        let ids: Vec<ItemId> = ["tr-02", "ps-01", "rec-01"]
            .map(|id| ItemId(id.into()))
            .to_vec();
        let plan = RotationPlan::Fixed(FixedItemList::new(&bank, ids.clone()).unwrap());
        for round_index in [0, 1, 17] {
            assert_eq!(items_for_round(&bank, &plan, round_index), ids);
        }
    }

    #[test]
    fn fixed_lists_must_be_known_distinct_and_between_one_and_fifteen_items() {
        let bank = bank();
        let id = |text: &str| ItemId(text.into());
        assert_eq!(
            FixedItemList::new(&bank, vec![]),
            Err(RotationPlanError::FixedListLength(0))
        );
        let sixteen: Vec<ItemId> = bank
            .items()
            .iter()
            .take(16)
            .map(|item| item.id().clone())
            .collect();
        assert_eq!(
            FixedItemList::new(&bank, sixteen.clone()),
            Err(RotationPlanError::FixedListLength(16))
        );
        assert!(FixedItemList::new(&bank, sixteen[..15].to_vec()).is_ok());
        assert_eq!(
            FixedItemList::new(&bank, vec![id("ps-01"), id("xx-01")]),
            Err(RotationPlanError::UnknownItem(id("xx-01")))
        );
        assert_eq!(
            FixedItemList::new(&bank, vec![id("ps-01"), id("tr-01"), id("ps-01")]),
            Err(RotationPlanError::RepeatedItem(id("ps-01")))
        );
    }
}
