//! The public figures of a released node (DESIGN §4): what a manager's report, the
//! API and the digest show. Built only for nodes Rule B released.

use serde::{Deserialize, Serialize};

use safepulse_domain::{Dimension, ItemId};

use crate::item_layout::ItemLayout;
use crate::org_figures::OrgFigures;
use crate::statistics::{ConfidenceQuantiles, IntegerMoments, within_group_agreement};
use crate::tally::{Tally, enps_detractors, top_two_boxes};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasedFigures {
    /// `n`: respondents in the node's subtree.
    pub respondents: u32,
    /// Whether the detail family released this node too (spread, distribution,
    /// agreement, comments, significance of changes).
    pub detail: bool,
    /// In the round's item order; only when detail-released. A score-only release
    /// gives its figures per dimension: a mean and a favourable share per item
    /// together pin near-unanimous answer sets of a small group.
    pub items: Vec<ItemFigures>,
    /// In the order of [`Dimension::ALL`], for the dimensions the round asks about.
    pub dimensions: Vec<DimensionFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFigures {
    pub item: ItemId,
    pub dimension: Dimension,
    /// Mean of recoded answers.
    pub mean: f64,
    pub confidence_interval: ConfidenceInterval,
    /// Percentage (0–100) of recoded answers in the top two boxes.
    pub favourability_percent: f64,
    /// `100·(#9–10 − #0–6)/n`, for 0–10 items only.
    pub enps: Option<f64>,
    /// Only when detail-released.
    pub detail: Option<ItemDetail>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDetail {
    /// Sample standard deviation (n − 1).
    pub sd: f64,
    /// Counts of recoded answers, from the scale's minimum up.
    pub distribution: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionFigures {
    pub dimension: Dimension,
    /// `J`, the number of the round's items in this dimension.
    pub item_count: u32,
    /// Mean of respondent scores (a respondent's score: mean of their recoded items).
    pub mean: f64,
    pub confidence_interval: ConfidenceInterval,
    /// Percentage (0–100) of the dimension's recoded answers in the top two boxes.
    pub favourability_percent: f64,
    /// Only when detail-released.
    pub detail: Option<DimensionDetail>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionDetail {
    /// Sample standard deviation (n − 1) of respondent scores.
    pub sd: f64,
    /// Counts of all recoded answers to the dimension's items, from the scale's minimum up.
    pub distribution: Vec<u32>,
    /// rwg(j) against the uniform null, capped at 0.
    pub rwg: f64,
    /// Lindell's r*wg(j) = 1 − s̄²/σ², uncapped (negative: a polarised team).
    pub rwg_lindell: f64,
}

/// A restricted release (Rule D, [`crate::RestrictedRelease::Rounded`]): `n` and each
/// dimension's mean on a coarse grid, nothing else: no item, favourability, band,
/// spread, distribution or comment, each of which would carry an exact count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundedFigures {
    pub respondents: u32,
    /// The grid the means are rounded to: a whole scale point below
    /// [`ROUNDED_FINE_FROM`] respondents, half a point from there.
    pub step: f64,
    /// In the order of [`Dimension::ALL`], for the dimensions the round asks about.
    pub dimensions: Vec<RoundedDimension>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundedDimension {
    pub dimension: Dimension,
    pub item_count: u32,
    /// The mean of respondent scores, rounded to the nearest multiple of `step`.
    pub mean: f64,
}

/// From this many respondents a rounded release uses half a scale point. Rounding a
/// mean of `n` people to `step` leaves their sum uncertain by `n·step`: at least five
/// scale points either way, so one changed person's answer stays among at least five
/// values unless it sits near the end of the scale.
pub const ROUNDED_FINE_FROM: u32 = 10;

/// The 95% interval `mean ± t(0.975, n−1)·s/√n`, labelled with the `s` it used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "sd_source", rename_all = "snake_case")]
pub enum ConfidenceInterval {
    /// The node's own SD: the node is detail-released.
    Team { low: f64, high: f64 },
    /// The organisation's SD for this item or dimension: a score-only release, whose
    /// own spread is not released.
    OrgLevel { low: f64, high: f64 },
    /// No band: a score-only release in a round whose root is not detail-released, so
    /// no org-level SD exists.
    #[serde(rename = "none")]
    NoBand,
}

/// Where a score-only release's confidence band takes its SD from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SpreadForBands<'a> {
    Team,
    OrgLevel(&'a OrgFigures),
    NoBand,
}

/// The figures of a group of at least two respondents (`None` below: no spread
/// exists, and the caller suppresses; Rule B's floors keep released groups far above).
pub(crate) fn released_figures(
    tally: Tally<'_>,
    layout: &ItemLayout,
    spread: SpreadForBands<'_>,
    quantiles: &mut ConfidenceQuantiles,
) -> Option<ReleasedFigures> {
    let respondents = tally.respondents;
    let quantile = quantiles.for_respondents(u64::from(respondents))?;
    let bands = Bands {
        quantile,
        respondents,
        spread,
    };
    let with_detail = matches!(spread, SpreadForBands::Team);
    let (item_variances, items) = item_figures(tally, layout, bands, with_detail)?;
    let dimensions = dimension_figures(tally, layout, bands, &item_variances, with_detail)?;
    Some(ReleasedFigures {
        respondents,
        detail: with_detail,
        items,
        dimensions,
    })
}

/// How a released group's 95% confidence bands are drawn: from its own spread, the
/// organisation's, or not at all.
#[derive(Debug, Clone, Copy)]
struct Bands<'a> {
    quantile: f64,
    respondents: u32,
    spread: SpreadForBands<'a>,
}

impl Bands<'_> {
    fn band(&self, mean: f64, sd: f64) -> (f64, f64) {
        let half_width = self.quantile * sd / f64::from(self.respondents).sqrt();
        (mean - half_width, mean + half_width)
    }

    fn confidence_interval(
        &self,
        mean: f64,
        team_variance: f64,
        org_sd: &dyn Fn(&OrgFigures) -> f64,
    ) -> ConfidenceInterval {
        match self.spread {
            SpreadForBands::Team => {
                let (low, high) = self.band(mean, team_variance.sqrt());
                ConfidenceInterval::Team { low, high }
            }
            SpreadForBands::OrgLevel(org) => {
                let (low, high) = self.band(mean, org_sd(org));
                ConfidenceInterval::OrgLevel { low, high }
            }
            SpreadForBands::NoBand => ConfidenceInterval::NoBand,
        }
    }
}

fn percent_of(count: u32, total: u64) -> f64 {
    100.0 * f64::from(count) / total as f64
}

/// Each item's variance, and with detail its figures (`None`: fewer than two
/// respondents).
fn item_figures(
    tally: Tally<'_>,
    layout: &ItemLayout,
    bands: Bands<'_>,
    with_detail: bool,
) -> Option<(Vec<f64>, Vec<ItemFigures>)> {
    let respondents = tally.respondents;
    let confidence_interval = |mean, variance, org_sd: &dyn Fn(&OrgFigures) -> f64| {
        bands.confidence_interval(mean, variance, org_sd)
    };
    let mut item_variances = Vec::with_capacity(layout.items.len());
    let mut items = Vec::with_capacity(layout.items.len());
    for (position, meta) in layout.items.iter().enumerate() {
        let histogram = tally.item_histogram(layout, position);
        let moments = tally.item_moments(layout, position);
        let (mean, variance) = mean_and_variance(moments)?;
        item_variances.push(variance);
        if !with_detail {
            continue;
        }
        let promoters_minus_detractors =
            i64::from(top_two_boxes(histogram)) - i64::from(enps_detractors(histogram));
        items.push(ItemFigures {
            item: meta.id.clone(),
            dimension: meta.dimension,
            mean,
            confidence_interval: confidence_interval(mean, variance, &|org| org.items[position].sd),
            favourability_percent: percent_of(top_two_boxes(histogram), u64::from(respondents)),
            enps: meta
                .scale
                .is_zero_to_ten()
                .then(|| 100.0 * promoters_minus_detractors as f64 / f64::from(respondents)),
            detail: with_detail.then(|| ItemDetail {
                sd: variance.sqrt(),
                distribution: histogram.to_vec(),
            }),
        });
    }
    Some((item_variances, items))
}

/// Each dimension's figures, with detail its spread and agreement.
fn dimension_figures(
    tally: Tally<'_>,
    layout: &ItemLayout,
    bands: Bands<'_>,
    item_variances: &[f64],
    with_detail: bool,
) -> Option<Vec<DimensionFigures>> {
    let respondents = tally.respondents;
    let confidence_interval = |mean, variance, org_sd: &dyn Fn(&OrgFigures) -> f64| {
        bands.confidence_interval(mean, variance, org_sd)
    };
    let mut dimensions = Vec::with_capacity(layout.dimensions.len());
    for (position, dimension) in layout.dimensions.iter().enumerate() {
        let (mean, variance) = mean_and_variance(tally.dimension_moments(layout, position))?;
        let answers = u64::from(respondents) * dimension.items.len() as u64;
        let favourable: u32 = dimension
            .items
            .iter()
            .map(|&item| top_two_boxes(tally.item_histogram(layout, item)))
            .sum();
        let favourability_percent = percent_of(favourable, answers);
        let detail = if with_detail {
            let distribution = tally.dimension_histogram(layout, position);
            let variances = dimension.items.iter().map(|&item| item_variances[item]);
            let agreement = within_group_agreement(variances, dimension.scale.points())?;
            Some(DimensionDetail {
                sd: variance.sqrt(),
                distribution,
                rwg: agreement.rwg,
                rwg_lindell: agreement.rwg_lindell,
            })
        } else {
            None
        };
        dimensions.push(DimensionFigures {
            dimension: dimension.dimension,
            item_count: dimension.items.len() as u32,
            mean,
            confidence_interval: confidence_interval(mean, variance, &|org| {
                org.dimensions[position].sd
            }),
            favourability_percent,
            detail,
        });
    }
    Some(dimensions)
}

/// The figures of a restricted release (`None` without respondents).
pub(crate) fn rounded_figures(tally: Tally<'_>, layout: &ItemLayout) -> Option<RoundedFigures> {
    let respondents = tally.respondents;
    let step = if respondents >= ROUNDED_FINE_FROM {
        0.5
    } else {
        1.0
    };
    let dimensions = (0..layout.dimensions.len())
        .map(|position| {
            let mean = tally.dimension_moments(layout, position).mean()?;
            Some(RoundedDimension {
                dimension: layout.dimensions[position].dimension,
                item_count: layout.dimensions[position].items.len() as u32,
                mean: (mean / step).round() * step,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(RoundedFigures {
        respondents,
        step,
        dimensions,
    })
}

fn mean_and_variance(moments: IntegerMoments) -> Option<(f64, f64)> {
    Some((moments.mean()?, moments.sample_variance()?))
}
