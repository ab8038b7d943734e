//! Change between released rounds, trends over them, and how large a change a team's
//! size can detect (DESIGN §4). These read only released figures, never answers.

use serde::{Deserialize, Serialize};

use safepulse_domain::Dimension;

use crate::figures::ReleasedFigures;
use crate::statistics::{student_t_quantile, two_sided_p_value};

/// The significance test needs this many respondents in both rounds.
pub const SIGNIFICANCE_MINIMUM_RESPONDENTS: u32 = 8;
/// ... a p-value below this ...
pub const SIGNIFICANCE_P_VALUE: f64 = 0.05;
/// ... and a change of at least this many scale points, so that a statistically
/// detectable but practically tiny change is not flagged.
pub const SIGNIFICANCE_MINIMUM_CHANGE: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TTest {
    pub t_statistic: f64,
    pub degrees_of_freedom: f64,
    /// Two-sided.
    pub p_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionChange {
    pub dimension: Dimension,
    pub previous_mean: f64,
    pub current_mean: f64,
    /// `current_mean − previous_mean`.
    pub difference: f64,
    /// Welch's t-test: only when both rounds are detail-released with at least
    /// [`SIGNIFICANCE_MINIMUM_RESPONDENTS`], and the SDs are not both zero.
    pub welch: Option<TTest>,
    /// `p < .05` and `|difference| ≥ 0.5`, with the test above.
    pub significant: bool,
}

/// Change per dimension present in both releases, when both have `n ≥ k`.
///
/// Membership changes ("team changed, not comparable") are for the caller, who knows
/// who joined and left; this compares figures only.
pub fn compare_rounds(
    previous: &ReleasedFigures,
    current: &ReleasedFigures,
    k: u32,
) -> Vec<DimensionChange> {
    if previous.respondents < k || current.respondents < k {
        return Vec::new();
    }
    current
        .dimensions
        .iter()
        .filter_map(|current_dimension| {
            let previous_dimension = previous
                .dimensions
                .iter()
                .find(|candidate| candidate.dimension == current_dimension.dimension)?;
            let difference = current_dimension.mean - previous_dimension.mean;
            let welch = match (&previous_dimension.detail, &current_dimension.detail) {
                (Some(previous_detail), Some(current_detail))
                    if previous.respondents >= SIGNIFICANCE_MINIMUM_RESPONDENTS
                        && current.respondents >= SIGNIFICANCE_MINIMUM_RESPONDENTS =>
                {
                    welch_t_test(
                        (
                            previous_dimension.mean,
                            previous_detail.sd,
                            previous.respondents,
                        ),
                        (
                            current_dimension.mean,
                            current_detail.sd,
                            current.respondents,
                        ),
                    )
                }
                _ => None,
            };
            let significant = welch.is_some_and(|test| {
                test.p_value < SIGNIFICANCE_P_VALUE
                    && difference.abs() >= SIGNIFICANCE_MINIMUM_CHANGE
            });
            Some(DimensionChange {
                dimension: current_dimension.dimension,
                previous_mean: previous_dimension.mean,
                current_mean: current_dimension.mean,
                difference,
                welch,
                significant,
            })
        })
        .collect()
}

/// `(mean, sd, n)` of each group; `None` without spread in either group.
fn welch_t_test(first: (f64, f64, u32), second: (f64, f64, u32)) -> Option<TTest> {
    let (first_mean, first_sd, first_count) = first;
    let (second_mean, second_sd, second_count) = second;
    if first_count < 2 || second_count < 2 {
        return None;
    }
    let first_share = first_sd * first_sd / f64::from(first_count);
    let second_share = second_sd * second_sd / f64::from(second_count);
    let variance_of_difference = first_share + second_share;
    if variance_of_difference.is_nan() || variance_of_difference <= 0.0 {
        return None;
    }
    let t_statistic = (second_mean - first_mean) / variance_of_difference.sqrt();
    let degrees_of_freedom = variance_of_difference * variance_of_difference
        / (first_share * first_share / f64::from(first_count - 1)
            + second_share * second_share / f64::from(second_count - 1));
    let p_value = two_sided_p_value(t_statistic, degrees_of_freedom)?;
    Some(TTest {
        t_statistic,
        degrees_of_freedom,
        p_value,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub points: u32,
    /// Ordinary least squares, per unit of the first coordinate (round index or time).
    pub slope: f64,
    pub intercept: f64,
    pub slope_standard_error: f64,
    /// t-test of the slope with `points − 2` degrees of freedom; `None` when the points
    /// lie exactly on a line (zero standard error: nothing to test against).
    pub slope_test: Option<TTest>,
}

/// OLS trend over `(round index or time, mean)` points of released rounds: `None`
/// with fewer than 3 points, any non-finite coordinate, or all at the same time.
pub fn trend(points: &[(f64, f64)]) -> Option<Trend> {
    if points.len() < 3
        || points
            .iter()
            .any(|&(time, mean)| !time.is_finite() || !mean.is_finite())
    {
        return None;
    }
    let count = points.len() as f64;
    let mean_time = points.iter().map(|&(time, _)| time).sum::<f64>() / count;
    let mean_value = points.iter().map(|&(_, value)| value).sum::<f64>() / count;
    // Centred (two-pass) sums: no cancellation for times like 2025.0, 2025.5, ...
    let mut time_sum_of_squares = 0.0;
    let mut cross_products = 0.0;
    for &(time, value) in points {
        time_sum_of_squares += (time - mean_time) * (time - mean_time);
        cross_products += (time - mean_time) * (value - mean_value);
    }
    if time_sum_of_squares.is_nan() || time_sum_of_squares <= 0.0 {
        return None;
    }
    let slope = cross_products / time_sum_of_squares;
    let intercept = mean_value - slope * mean_time;
    let residual_sum_of_squares: f64 = points
        .iter()
        .map(|&(time, value)| {
            let residual = value - (intercept + slope * time);
            residual * residual
        })
        .sum();
    let degrees_of_freedom = count - 2.0;
    let slope_standard_error =
        (residual_sum_of_squares / degrees_of_freedom / time_sum_of_squares).sqrt();
    if !(slope.is_finite() && intercept.is_finite() && slope_standard_error.is_finite()) {
        // Coordinates near f64::MAX overflow the sums: no trend rather than NaN.
        return None;
    }
    let slope_test = if slope_standard_error > 0.0 {
        let t_statistic = slope / slope_standard_error;
        two_sided_p_value(t_statistic, degrees_of_freedom).map(|p_value| TTest {
            t_statistic,
            degrees_of_freedom,
            p_value,
        })
    } else {
        None
    };
    Some(Trend {
        points: points.len() as u32,
        slope,
        intercept,
        slope_standard_error,
        slope_test,
    })
}

/// The smallest change in a team's mean between two rounds of `respondents` people
/// each that a two-sided test at α = .05 detects with 80% power, for a spread `sd`:
/// `(t(0.975, 2n−2) + t(0.80, 2n−2))·sd·√(2/n)`. A 5-person team with SD 1 needs
/// about 2 points. `None` below 2 respondents or for a negative or non-finite `sd`.
pub fn minimum_detectable_change(respondents: u32, sd: f64) -> Option<f64> {
    if respondents < 2 || !(sd.is_finite() && sd >= 0.0) {
        return None;
    }
    let degrees_of_freedom = 2.0 * f64::from(respondents) - 2.0;
    let critical = student_t_quantile(0.975, degrees_of_freedom)?;
    let power = student_t_quantile(0.80, degrees_of_freedom)?;
    Some((critical + power) * sd * (2.0 / f64::from(respondents)).sqrt())
}
