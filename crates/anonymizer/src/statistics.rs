//! The numerical core (DESIGN §4), written so that integer inputs give exact results:
//! every sum is an integer, every variance is `(n·Σx² − (Σx)²) / (n(n−1))` with an
//! exact integer numerator, and a figure is rounded once, at its final division.
//! Anything undefined (too few people, no spread) is `None`, never NaN.

use statrs::distribution::{Continuous, ContinuousCDF, StudentsT};
use statrs::function::erf::erfc_inv;

/// Exact sums of one variable over a group. The variable is `x / divisor`: items use
/// divisor 1, a respondent's dimension score (the mean of their `J` recoded answers)
/// uses divisor `J` over integer row sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntegerMoments {
    pub(crate) count: u64,
    pub(crate) sum: u64,
    pub(crate) sum_of_squares: u64,
    pub(crate) divisor: u64,
}

impl IntegerMoments {
    pub(crate) fn mean(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        Some(self.sum as f64 / (self.count as f64 * self.divisor as f64))
    }

    /// `n·Σx² − (Σx)²` over the undivided values: `n(n−1)` times their sample
    /// variance, exactly (it is never negative, by Cauchy–Schwarz).
    pub(crate) fn variance_numerator(&self) -> u128 {
        let count = u128::from(self.count);
        let sum = u128::from(self.sum);
        count * u128::from(self.sum_of_squares) - sum * sum
    }

    /// Sample variance (n − 1) of `x / divisor`.
    pub(crate) fn sample_variance(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        let count = self.count as f64;
        let divisor = self.divisor as f64;
        Some(self.variance_numerator() as f64 / (count * (count - 1.0) * divisor * divisor))
    }
}

/// Within-group agreement of one dimension (James, Demaree & Wolf's rwg(j) against the
/// uniform null, and Lindell, Brandt & Whitney's r*wg(j)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Agreement {
    /// `J(1−s̄²/σ²) / (J(1−s̄²/σ²) + s̄²/σ²)`, set to 0 when `s̄² > σ²`.
    pub(crate) rwg: f64,
    /// `1 − s̄²/σ²`, uncapped: negative values flag a polarised team.
    pub(crate) rwg_lindell: f64,
}

/// `item_variances`: the group's sample variance of each item of the dimension;
/// `points`: the number of answer options `A`, so `σ² = (A² − 1)/12`.
pub(crate) fn within_group_agreement(
    item_variances: impl IntoIterator<Item = f64>,
    points: u8,
) -> Option<Agreement> {
    let (item_count, variance_total) = item_variances
        .into_iter()
        .fold((0usize, 0.0), |(count, total), variance| {
            (count + 1, total + variance)
        });
    if item_count == 0 {
        return None;
    }
    let item_count = item_count as f64;
    let mean_item_variance = variance_total / item_count;
    let uniform_null_variance = (f64::from(points) * f64::from(points) - 1.0) / 12.0;
    let ratio = mean_item_variance / uniform_null_variance;
    let rwg = if ratio > 1.0 {
        0.0
    } else {
        // With 0 ≤ ratio ≤ 1 and J ≥ 1 the denominator is at least 1.
        item_count * (1.0 - ratio) / (item_count * (1.0 - ratio) + ratio)
    };
    Some(Agreement {
        rwg,
        rwg_lindell: 1.0 - ratio,
    })
}

/// Cronbach's α of a dimension from exact variance numerators over the same people:
/// `J/(J−1)·(1 − Σ var(item) / var(row sum))`; the common `n(n−1)` cancels, so the
/// ratio is formed from integers. `None` for a single item or when row sums do not vary.
pub(crate) fn cronbach_alpha(
    item_variance_numerators: &[u128],
    row_sum_variance_numerator: u128,
) -> Option<f64> {
    let item_count = item_variance_numerators.len();
    if item_count < 2 || row_sum_variance_numerator == 0 {
        return None;
    }
    let items_total: u128 = item_variance_numerators.iter().sum();
    let difference = row_sum_variance_numerator as f64 - items_total as f64;
    let item_count = item_count as f64;
    Some(item_count * difference / ((item_count - 1.0) * row_sum_variance_numerator as f64))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct IntraclassCorrelation {
    pub(crate) icc1: Option<f64>,
    pub(crate) icc2: Option<f64>,
}

/// ICC(1) and ICC(2) from a one-way ANOVA over groups (here: detail atoms):
/// `(MSB−MSW)/(MSB+(k̄−1)·MSW)` with `k̄ = N/G` the mean group size, and
/// `(MSB−MSW)/MSB`. Both are ratios of mean squares, so the groups' common divisor
/// cancels and the undivided integer sums are used.
pub(crate) fn intraclass_correlation(groups: &[IntegerMoments]) -> IntraclassCorrelation {
    let undefined = IntraclassCorrelation {
        icc1: None,
        icc2: None,
    };
    let group_count = groups.len() as u64;
    let total_count: u64 = groups.iter().map(|group| group.count).sum();
    let total_sum: u64 = groups.iter().map(|group| group.sum).sum();
    if group_count < 2 || total_count <= group_count || groups.iter().any(|group| group.count == 0)
    {
        return undefined;
    }
    // Each term is formed from exact integers and is non-negative, so the sums do not
    // cancel: SSW_g = (n_g·Q_g − S_g²)/n_g and n_g(mean_g − mean)² = (S_g·N − S·n_g)²/(n_g·N²).
    let mut within_sum_of_squares = 0.0;
    let mut between_sum_of_squares = 0.0;
    for group in groups {
        within_sum_of_squares += group.variance_numerator() as f64 / group.count as f64;
        let deviation = i128::from(group.sum) * i128::from(total_count)
            - i128::from(total_sum) * i128::from(group.count);
        let deviation = deviation as f64;
        between_sum_of_squares +=
            deviation * deviation / (group.count as f64 * (total_count as f64).powi(2));
    }
    let between_mean_square = between_sum_of_squares / (group_count - 1) as f64;
    let within_mean_square = within_sum_of_squares / (total_count - group_count) as f64;
    let mean_group_size = total_count as f64 / group_count as f64;
    let icc1_denominator = between_mean_square + (mean_group_size - 1.0) * within_mean_square;
    IntraclassCorrelation {
        icc1: (icc1_denominator > 0.0)
            .then(|| (between_mean_square - within_mean_square) / icc1_denominator),
        icc2: (between_mean_square > 0.0)
            .then(|| (between_mean_square - within_mean_square) / between_mean_square),
    }
}

fn students_t(degrees_of_freedom: f64) -> Option<StudentsT> {
    if !(degrees_of_freedom.is_finite() && degrees_of_freedom > 0.0) {
        return None;
    }
    StudentsT::new(0.0, 1.0, degrees_of_freedom).ok()
}

/// The `probability` quantile of Student's t, to rounding level: Newton steps on the
/// (accurate) CDF from a close start — the exact quantile for 1 and 2 degrees of
/// freedom, the Cornish–Fisher expansion around the normal quantile above. statrs's own
/// inverse (which drifts by up to ~1e-7 at large degrees of freedom, and costs many
/// CDF evaluations) is the fallback should Newton not settle.
pub(crate) fn student_t_quantile(probability: f64, degrees_of_freedom: f64) -> Option<f64> {
    if !(probability > 0.0 && probability < 1.0) {
        return None;
    }
    let distribution = students_t(degrees_of_freedom)?;
    let polish = |mut quantile: f64| {
        let mut last_step = f64::INFINITY;
        for _ in 0..8 {
            let density = distribution.pdf(quantile);
            if density.is_nan() || density <= 0.0 {
                break;
            }
            last_step = (distribution.cdf(quantile) - probability) / density;
            quantile -= last_step;
            if last_step.abs() <= 4.0 * f64::EPSILON * quantile.abs().max(1.0) {
                break;
            }
        }
        // Steps can hover at the CDF's own rounding level without shrinking further.
        (last_step.abs() <= 1e-12 * quantile.abs().max(1.0)).then_some(quantile)
    };
    polish(cornish_fisher_start(probability, degrees_of_freedom))
        .or_else(|| polish(distribution.inverse_cdf(probability)))
        .filter(|quantile| quantile.is_finite())
}

fn cornish_fisher_start(probability: f64, degrees_of_freedom: f64) -> f64 {
    if degrees_of_freedom == 1.0 {
        return (std::f64::consts::PI * (probability - 0.5)).tan();
    }
    if degrees_of_freedom == 2.0 {
        return (2.0 * probability - 1.0) / (2.0 * probability * (1.0 - probability)).sqrt();
    }
    let z = -std::f64::consts::SQRT_2 * erfc_inv(2.0 * probability);
    let (z2, nu) = (z * z, degrees_of_freedom);
    let z3 = z * z2;
    let z5 = z3 * z2;
    let z7 = z5 * z2;
    let z9 = z7 * z2;
    z + (z3 + z) / (4.0 * nu)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * nu.powi(2))
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * nu.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92_160.0 * nu.powi(4))
}

/// Two-sided p-value of a t statistic, from the lower tail (no `1 − cdf` cancellation).
pub(crate) fn two_sided_p_value(t_statistic: f64, degrees_of_freedom: f64) -> Option<f64> {
    if !t_statistic.is_finite() {
        return None;
    }
    let distribution = students_t(degrees_of_freedom)?;
    Some((2.0 * distribution.cdf(-t_statistic.abs())).min(1.0))
}

/// `t(0.975, n − 1)` for every group size met while releasing a round, computed once each.
#[derive(Debug, Default)]
pub(crate) struct ConfidenceQuantiles {
    by_respondents: std::collections::HashMap<u64, Option<f64>>,
}

impl ConfidenceQuantiles {
    pub(crate) fn for_respondents(&mut self, respondents: u64) -> Option<f64> {
        *self
            .by_respondents
            .entry(respondents)
            .or_insert_with(|| student_t_quantile(0.975, respondents.saturating_sub(1) as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(values: &[u64], divisor: u64) -> IntegerMoments {
        IntegerMoments {
            count: values.len() as u64,
            sum: values.iter().sum(),
            sum_of_squares: values.iter().map(|value| value * value).sum(),
            divisor,
        }
    }

    #[test]
    fn integer_moments_are_exact() {
        let seven = moments(&[1, 2, 3, 4, 5, 6, 7], 1);
        assert_eq!(seven.mean(), Some(4.0));
        assert_eq!(seven.sample_variance(), Some(28.0 / 6.0));
        // Row sums of a 2-item dimension: scores 1.5, 2.5, 3.5.
        let rows = moments(&[3, 5, 7], 2);
        assert_eq!(rows.mean(), Some(2.5));
        assert_eq!(rows.sample_variance(), Some(1.0));
    }

    #[test]
    fn undefined_figures_are_none_not_nan() {
        assert_eq!(moments(&[], 1).mean(), None);
        assert_eq!(moments(&[5], 1).sample_variance(), None);
        assert_eq!(moments(&[5, 5, 5], 1).sample_variance(), Some(0.0));
        assert_eq!(within_group_agreement([], 7), None);
        assert_eq!(cronbach_alpha(&[4], 9), None);
        assert_eq!(cronbach_alpha(&[0, 0], 0), None);
        assert_eq!(intraclass_correlation(&[moments(&[4, 4], 1)]).icc1, None);
        let identical = intraclass_correlation(&[moments(&[4, 4], 1), moments(&[4, 4], 1)]);
        assert_eq!(
            identical,
            IntraclassCorrelation {
                icc1: None,
                icc2: None
            }
        );
        assert_eq!(student_t_quantile(0.975, 0.0), None);
        assert_eq!(student_t_quantile(1.0, 5.0), None);
        assert_eq!(two_sided_p_value(f64::NAN, 5.0), None);
    }

    #[test]
    fn agreement_is_one_without_spread_and_capped_at_zero_beyond_the_uniform_null() {
        let unanimous = within_group_agreement([0.0, 0.0, 0.0], 7).unwrap();
        assert_eq!((unanimous.rwg, unanimous.rwg_lindell), (1.0, 1.0));
        let polarised = within_group_agreement([9.0, 9.0], 7).unwrap();
        assert_eq!(polarised.rwg, 0.0);
        assert!((polarised.rwg_lindell - (1.0 - 9.0 / 4.0)).abs() < 1e-15);
        let at_the_null = within_group_agreement([4.0], 7).unwrap();
        assert_eq!((at_the_null.rwg, at_the_null.rwg_lindell), (0.0, 0.0));
    }

    #[test]
    fn between_group_differences_give_a_positive_icc() {
        let groups = [moments(&[1, 2, 1, 2], 1), moments(&[6, 7, 6, 7], 1)];
        let icc = intraclass_correlation(&groups);
        // Means 1.5 and 6.5 around 4: MSB = 8 · 2.5² / 1 = 50; MSW = 2 / 6; k̄ = 4.
        let (between, within) = (50.0, 1.0 / 3.0);
        assert!((icc.icc1.unwrap() - (between - within) / (between + 3.0 * within)).abs() < 1e-14);
        assert!((icc.icc2.unwrap() - (between - within) / between).abs() < 1e-14);
    }

    #[test]
    fn the_polished_quantile_matches_the_textbook_values() {
        assert!((student_t_quantile(0.975, 1.0).unwrap() - 12.706_204_736_174_707).abs() < 1e-12);
        assert!((student_t_quantile(0.975, 4.0).unwrap() - 2.776_445_105_197_793).abs() < 1e-12);
        let mut quantiles = ConfidenceQuantiles::default();
        assert_eq!(quantiles.for_respondents(5), student_t_quantile(0.975, 4.0));
        assert_eq!(quantiles.for_respondents(1), None);
        assert!(
            (two_sided_p_value(-2.5, 9.0).unwrap() - two_sided_p_value(2.5, 9.0).unwrap()).abs()
                < 1e-16
        );
    }
}
