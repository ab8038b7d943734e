//! The released figures as the API documents them (issue 15 §5).
//!
//! The anonymizer's [`ReleasedFigures`] and [`RoundedFigures`] are what a close
//! stores; these are their public form, with a schema for every figure in
//! openapi.json, so that HR clients read a documented contract instead of the
//! storage format. Each is built `From` the anonymizer's type when a response is
//! serialized, and writes exactly the JSON that type writes (a test compares them).

use safepulse_anonymizer::{
    ConfidenceInterval, DimensionDetail, DimensionFigures, ItemDetail, ItemFigures,
    ReleasedFigures, RoundedDimension, RoundedFigures,
};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

/// The figures of a node released exactly. Numbers are at full double precision,
/// unrounded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleasedFiguresView {
    /// `n`: people who answered, in the node and every team below it.
    respondents: u32,
    /// Spread, distribution and agreement were released too (and comments).
    detail: bool,
    /// Per item, in the round's order; only with `detail` (a score-only release
    /// gives its figures per dimension alone).
    items: Vec<ItemFiguresView>,
    /// Per dimension the round asked about.
    dimensions: Vec<DimensionFiguresView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemFiguresView {
    /// The item's id in the item bank.
    #[schema(example = "psych_safety_speak_up")]
    item: String,
    /// The dimension the item measures.
    #[schema(example = "psychological_safety")]
    dimension: &'static str,
    /// Mean of the answers, recoded so that higher is better.
    mean: f64,
    confidence_interval: ConfidenceIntervalView,
    /// Share (0–100) of answers in the scale's top two points.
    favourability_percent: f64,
    /// For the 0–10 item only: `100·(#9–10 − #0–6)/n`.
    enps: Option<f64>,
    detail: Option<ItemDetailView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDetailView {
    /// Sample standard deviation (n − 1).
    sd: f64,
    /// Counts of answers per scale point, from the scale's lowest point up.
    distribution: Vec<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionFiguresView {
    #[schema(example = "trust")]
    dimension: &'static str,
    /// How many of the round's items measure this dimension.
    item_count: u32,
    /// Mean of the respondents' scores (a score: the mean of their answers to
    /// the dimension's items).
    mean: f64,
    confidence_interval: ConfidenceIntervalView,
    /// Share (0–100) of the dimension's answers in the scale's top two points.
    favourability_percent: f64,
    detail: Option<DimensionDetailView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionDetailView {
    /// Sample standard deviation (n − 1) of the respondents' scores.
    sd: f64,
    /// Counts of all answers to the dimension's items per scale point.
    distribution: Vec<u32>,
    /// Agreement rwg(j) against a uniform null, 0 when negative.
    rwg: f64,
    /// Lindell's r*wg(j), not capped: below 0 the team is split.
    rwg_lindell: f64,
}

/// The 95% confidence interval of a mean, and whose standard deviation it used.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "sd_source", rename_all = "snake_case")]
pub enum ConfidenceIntervalView {
    /// The node's own spread (a detail release).
    Team { low: f64, high: f64 },
    /// The organisation's spread: the node's own is not released.
    OrgLevel { low: f64, high: f64 },
    /// No interval: neither spread may be released.
    #[serde(rename = "none")]
    NoBand,
}

/// The figures of a node shown rounded to protect anonymity: nothing but `n` and
/// each dimension's mean on the grid `step`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundedFiguresView {
    respondents: u32,
    /// The grid the means are rounded to, in scale points (1 or 0.5).
    step: f64,
    dimensions: Vec<RoundedDimensionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundedDimensionView {
    #[schema(example = "clarity")]
    dimension: &'static str,
    item_count: u32,
    /// The mean, rounded to the nearest multiple of `step`.
    mean: f64,
}

impl From<&ReleasedFigures> for ReleasedFiguresView {
    fn from(figures: &ReleasedFigures) -> Self {
        ReleasedFiguresView {
            respondents: figures.respondents,
            detail: figures.detail,
            items: figures.items.iter().map(ItemFiguresView::from).collect(),
            dimensions: figures
                .dimensions
                .iter()
                .map(DimensionFiguresView::from)
                .collect(),
        }
    }
}

impl From<&ItemFigures> for ItemFiguresView {
    fn from(item: &ItemFigures) -> Self {
        ItemFiguresView {
            item: item.item.0.clone(),
            dimension: item.dimension.as_str(),
            mean: item.mean,
            confidence_interval: item.confidence_interval.into(),
            favourability_percent: item.favourability_percent,
            enps: item.enps,
            detail: item
                .detail
                .as_ref()
                .map(|detail: &ItemDetail| ItemDetailView {
                    sd: detail.sd,
                    distribution: detail.distribution.clone(),
                }),
        }
    }
}

impl From<&DimensionFigures> for DimensionFiguresView {
    fn from(dimension: &DimensionFigures) -> Self {
        DimensionFiguresView {
            dimension: dimension.dimension.as_str(),
            item_count: dimension.item_count,
            mean: dimension.mean,
            confidence_interval: dimension.confidence_interval.into(),
            favourability_percent: dimension.favourability_percent,
            detail: dimension
                .detail
                .as_ref()
                .map(|detail: &DimensionDetail| DimensionDetailView {
                    sd: detail.sd,
                    distribution: detail.distribution.clone(),
                    rwg: detail.rwg,
                    rwg_lindell: detail.rwg_lindell,
                }),
        }
    }
}

impl From<ConfidenceInterval> for ConfidenceIntervalView {
    fn from(interval: ConfidenceInterval) -> Self {
        match interval {
            ConfidenceInterval::Team { low, high } => ConfidenceIntervalView::Team { low, high },
            ConfidenceInterval::OrgLevel { low, high } => {
                ConfidenceIntervalView::OrgLevel { low, high }
            }
            ConfidenceInterval::NoBand => ConfidenceIntervalView::NoBand,
        }
    }
}

impl From<&RoundedFigures> for RoundedFiguresView {
    fn from(figures: &RoundedFigures) -> Self {
        RoundedFiguresView {
            respondents: figures.respondents,
            step: figures.step,
            dimensions: figures
                .dimensions
                .iter()
                .map(|dimension: &RoundedDimension| RoundedDimensionView {
                    dimension: dimension.dimension.as_str(),
                    item_count: dimension.item_count,
                    mean: dimension.mean,
                })
                .collect(),
        }
    }
}

/// `serialize_with` for a release's exact figures: written as their public form.
pub fn serialize_released<S: Serializer>(
    figures: &ReleasedFigures,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    ReleasedFiguresView::from(figures).serialize(serializer)
}

/// `serialize_with` for a release's rounded figures: written as their public form.
pub fn serialize_rounded<S: Serializer>(
    figures: &RoundedFigures,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    RoundedFiguresView::from(figures).serialize(serializer)
}

#[cfg(test)]
mod tests {
    use safepulse_domain::{Dimension, ItemId};

    use super::*;

    /// The public form writes exactly what the anonymizer's type writes, so the
    /// documented schema is the JSON clients always got.
    #[test]
    fn the_public_form_writes_the_same_json_as_the_stored_type() {
        let interval = |sd_source: u8| match sd_source {
            0 => ConfidenceInterval::Team {
                low: 4.1,
                high: 5.9,
            },
            1 => ConfidenceInterval::OrgLevel {
                low: 3.0,
                high: 6.0,
            },
            _ => ConfidenceInterval::NoBand,
        };
        for sd_source in 0..3 {
            let figures = ReleasedFigures {
                respondents: 12,
                detail: sd_source == 0,
                items: vec![ItemFigures {
                    item: ItemId("recommend".into()),
                    dimension: Dimension::Recommendation,
                    mean: 7.25,
                    confidence_interval: interval(sd_source),
                    favourability_percent: 100.0 / 3.0,
                    enps: Some(-8.333333333333334),
                    detail: Some(ItemDetail {
                        sd: 1.5,
                        distribution: vec![0, 1, 2, 3, 0, 0, 1, 2, 1, 1, 1],
                    }),
                }],
                dimensions: vec![DimensionFigures {
                    dimension: Dimension::Recommendation,
                    item_count: 1,
                    mean: 7.25,
                    confidence_interval: interval(sd_source),
                    favourability_percent: 50.0,
                    detail: (sd_source == 0).then(|| DimensionDetail {
                        sd: 1.5,
                        distribution: vec![0, 1, 2, 3, 0, 0, 1, 2, 1, 1, 1],
                        rwg: 0.0,
                        rwg_lindell: -0.5,
                    }),
                }],
            };
            assert_eq!(
                serde_json::to_value(ReleasedFiguresView::from(&figures)).unwrap(),
                serde_json::to_value(&figures).unwrap()
            );
        }
        let rounded = RoundedFigures {
            respondents: 9,
            step: 0.5,
            dimensions: vec![RoundedDimension {
                dimension: Dimension::Clarity,
                item_count: 2,
                mean: 5.5,
            }],
        };
        assert_eq!(
            serde_json::to_value(RoundedFiguresView::from(&rounded)).unwrap(),
            serde_json::to_value(&rounded).unwrap()
        );
    }
}
