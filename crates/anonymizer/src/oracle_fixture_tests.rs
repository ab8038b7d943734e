//! Hand-checked datasets against the independent Python/scipy implementation in
//! `tests/oracle/anonymizer_oracle.py`, whose output is committed under
//! `tests/fixtures/`. Every figure must agree to 1e-9.
//!
//! These tests live inside the crate because the team-statistics datasets (a 3- and a
//! 5-person team) are below every release threshold: they exercise the statistics
//! themselves, which the public API only ever shows for released groups.

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use safepulse_domain::{Answer, ItemMeta};

use crate::figures::{ConfidenceInterval, ReleasedFigures, SpreadForBands, released_figures};
use crate::item_layout::ItemLayout;
use crate::statistics::{ConfidenceQuantiles, student_t_quantile};
use crate::tally::{TallyScratch, TallyTable};
use crate::{
    History, OrgFigures, Policy, Release, RoundInput, RoundStatus, compare_rounds,
    minimum_detectable_change, release_round, trend,
};

const TOLERANCE: f64 = 1e-9;

fn fixture(name: &str) -> Value {
    let text = match name {
        "team_statistics" => include_str!("../tests/fixtures/team_statistics.json"),
        "organisation_release" => include_str!("../tests/fixtures/organisation_release.json"),
        "round_comparisons" => include_str!("../tests/fixtures/round_comparisons.json"),
        "trends" => include_str!("../tests/fixtures/trends.json"),
        _ => include_str!("../tests/fixtures/quantiles_and_detectable_changes.json"),
    };
    serde_json::from_str(text).expect("fixtures are valid JSON")
}

#[track_caller]
fn assert_close(actual: f64, expected: &Value, what: &str) {
    let expected = expected
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: expected a number, got {expected}"));
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "{what}: {actual} differs from the oracle's {expected} by {:e}",
        (actual - expected).abs()
    );
}

fn items_of(dataset: &Value) -> Vec<ItemMeta> {
    serde_json::from_value(dataset["items"].clone()).unwrap()
}

fn tally_of(layout: &ItemLayout, rows: &Value) -> TallyTable {
    let mut tally = TallyTable::new(layout, 1);
    let mut scratch = TallyScratch::default();
    for row in rows.as_array().unwrap() {
        let answers: Vec<Answer> = row
            .as_array()
            .unwrap()
            .iter()
            .zip(&layout.items)
            .map(|(value, item)| Answer::parse(value.as_i64().unwrap(), item.scale).unwrap())
            .collect();
        tally
            .add_response(0, layout, &answers, &mut scratch)
            .unwrap();
    }
    tally
}

fn team_figures_of(layout: &ItemLayout, rows: &Value) -> ReleasedFigures {
    released_figures(
        tally_of(layout, rows).group(0),
        layout,
        SpreadForBands::Team,
        &mut ConfidenceQuantiles::default(),
    )
    .expect("at least two respondents")
}

#[track_caller]
fn assert_interval(actual: &ConfidenceInterval, expected: &Value, what: &str) {
    match (actual, expected["sd_source"].as_str().unwrap()) {
        (ConfidenceInterval::Team { low, high }, "team")
        | (ConfidenceInterval::OrgLevel { low, high }, "org_level") => {
            assert_close(*low, &expected["low"], &format!("{what} CI low"));
            assert_close(*high, &expected["high"], &format!("{what} CI high"));
        }
        (ConfidenceInterval::NoBand, "none") => {}
        (actual, expected) => {
            panic!("{what}: interval {actual:?}, the oracle has sd_source {expected}")
        }
    }
}

fn assert_counts(actual: &[u32], expected: &Value, what: &str) {
    let expected: Vec<u32> = serde_json::from_value(expected.clone()).unwrap();
    assert_eq!(actual, expected, "{what}");
}

#[track_caller]
fn assert_figures(actual: &ReleasedFigures, expected: &Value, name: &str) {
    assert_eq!(
        u64::from(actual.respondents),
        expected["respondents"].as_u64().unwrap(),
        "{name} n"
    );
    assert_eq!(
        actual.detail,
        expected["detail"].as_bool().unwrap(),
        "{name} detail"
    );
    let expected_items = expected["items"].as_array().unwrap();
    // A score-only release gives no per-item figure (issue 18); the oracle computes
    // them anyway, and every one that is released must match.
    assert_eq!(
        actual.items.len(),
        if actual.detail {
            expected_items.len()
        } else {
            0
        },
        "{name}: per-item figures only with detail"
    );
    for (item, expected_item) in actual.items.iter().zip(expected_items) {
        let what = format!("{name} {}", item.item);
        assert_eq!(item.item.0, expected_item["item"].as_str().unwrap());
        assert_close(item.mean, &expected_item["mean"], &format!("{what} mean"));
        assert_interval(
            &item.confidence_interval,
            &expected_item["confidence_interval"],
            &what,
        );
        assert_close(
            item.favourability_percent,
            &expected_item["favourability_percent"],
            &format!("{what} fav"),
        );
        match (item.enps, &expected_item["enps"]) {
            (None, Value::Null) => {}
            (Some(enps), expected) => assert_close(enps, expected, &format!("{what} eNPS")),
            (None, expected) => panic!("{what}: no eNPS, the oracle has {expected}"),
        }
        match &item.detail {
            Some(detail) => {
                assert_close(detail.sd, &expected_item["sd"], &format!("{what} sd"));
                assert_counts(&detail.distribution, &expected_item["distribution"], &what);
            }
            None => assert!(
                expected_item.get("sd").is_none(),
                "{what}: the oracle has detail"
            ),
        }
    }
    let expected_dimensions = expected["dimensions"].as_array().unwrap();
    assert_eq!(actual.dimensions.len(), expected_dimensions.len());
    for (dimension, expected_dimension) in actual.dimensions.iter().zip(expected_dimensions) {
        let what = format!("{name} {}", dimension.dimension);
        assert_eq!(
            dimension.dimension.as_str(),
            expected_dimension["dimension"].as_str().unwrap()
        );
        assert_close(
            dimension.mean,
            &expected_dimension["mean"],
            &format!("{what} mean"),
        );
        assert_interval(
            &dimension.confidence_interval,
            &expected_dimension["confidence_interval"],
            &what,
        );
        assert_close(
            dimension.favourability_percent,
            &expected_dimension["favourability_percent"],
            &format!("{what} fav"),
        );
        match &dimension.detail {
            Some(detail) => {
                assert_close(detail.sd, &expected_dimension["sd"], &format!("{what} sd"));
                assert_counts(
                    &detail.distribution,
                    &expected_dimension["distribution"],
                    &what,
                );
                assert_close(
                    detail.rwg,
                    &expected_dimension["rwg"],
                    &format!("{what} rwg"),
                );
                assert_close(
                    detail.rwg_lindell,
                    &expected_dimension["rwg_lindell"],
                    &format!("{what} r*wg"),
                );
            }
            None => assert!(
                expected_dimension.get("sd").is_none(),
                "{what}: the oracle has detail"
            ),
        }
    }
}

#[test]
fn team_statistics_match_the_oracle() {
    let datasets = fixture("team_statistics");
    let datasets = datasets.as_array().unwrap();
    assert_eq!(datasets.len(), 5);
    for dataset in datasets {
        let name = dataset["name"].as_str().unwrap();
        let layout = ItemLayout::from_items(&items_of(dataset)).unwrap();
        assert_figures(
            &team_figures_of(&layout, &dataset["responses"]),
            &dataset["expected"],
            name,
        );
    }
}

fn assert_org_figures(actual: &OrgFigures, expected: &Value) {
    assert_eq!(
        u64::from(actual.respondents),
        expected["respondents"].as_u64().unwrap()
    );
    assert_eq!(u64::from(actual.atoms), expected["atoms"].as_u64().unwrap());
    for (item, expected_item) in actual
        .items
        .iter()
        .zip(expected["items"].as_array().unwrap())
    {
        assert_close(
            item.sd,
            &expected_item["sd"],
            &format!("org {} sd", item.item),
        );
    }
    for (dimension, expected_dimension) in actual
        .dimensions
        .iter()
        .zip(expected["dimensions"].as_array().unwrap())
    {
        let what = format!("org {}", dimension.dimension);
        assert_close(
            dimension.sd,
            &expected_dimension["sd"],
            &format!("{what} sd"),
        );
        assert_close(
            dimension.cronbach_alpha.unwrap(),
            &expected_dimension["cronbach_alpha"],
            &format!("{what} α"),
        );
        assert_close(
            dimension.icc1.unwrap(),
            &expected_dimension["icc1"],
            &format!("{what} ICC(1)"),
        );
        assert_close(
            dimension.icc2.unwrap(),
            &expected_dimension["icc2"],
            &format!("{what} ICC(2)"),
        );
    }
}

#[test]
fn an_organisation_release_matches_the_oracle_including_org_figures_over_atoms() {
    let dataset = fixture("organisation_release");
    let input = RoundInput {
        nodes: serde_json::from_value(dataset["nodes"].clone()).unwrap(),
        items: items_of(&dataset),
        responses: serde_json::from_value(dataset["responses"].clone()).unwrap(),
        comments: Vec::new(),
        status: RoundStatus::Closed,
        history: History::default(),
    };
    let policy = Policy::new(5, 7).unwrap();
    let release = release_round(&input, &policy, &mut StdRng::seed_from_u64(1)).unwrap();
    let expected = &dataset["expected"];
    assert_org_figures(
        release.org.as_ref().expect("the root is detail-released"),
        &expected["org"],
    );
    for node in &release.releases {
        let expected_release = &expected["releases"][node.node.to_string()];
        match (&node.release, expected_release) {
            (Release::Suppressed { .. }, Value::Null) => {}
            (Release::Released(figures), expected_figures) if !expected_figures.is_null() => {
                assert_figures(figures, expected_figures, &node.node.to_string())
            }
            (actual, expected) => {
                panic!("node {}: {actual:?}, the oracle has {expected}", node.node)
            }
        }
    }
}

#[test]
fn changes_between_rounds_match_welch_tests_on_the_raw_scores() {
    for case in fixture("round_comparisons").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let layout = ItemLayout::from_items(&items_of(case)).unwrap();
        let previous = team_figures_of(&layout, &case["previous"]);
        let current = team_figures_of(&layout, &case["current"]);
        let changes = compare_rounds(&previous, &current, 5);
        let expected_changes = case["changes"].as_array().unwrap();
        assert_eq!(changes.len(), expected_changes.len(), "{name}");
        for (change, expected) in changes.iter().zip(expected_changes) {
            let what = format!("{name} {}", change.dimension);
            assert_eq!(
                change.dimension.as_str(),
                expected["dimension"].as_str().unwrap()
            );
            assert_close(
                change.difference,
                &expected["difference"],
                &format!("{what} difference"),
            );
            assert_eq!(
                change.significant,
                expected["significant"].as_bool().unwrap(),
                "{what} significant"
            );
            match (&change.welch, &expected["welch"]) {
                (None, Value::Null) => {}
                (Some(test), expected_test) if !expected_test.is_null() => {
                    assert_close(
                        test.t_statistic,
                        &expected_test["t_statistic"],
                        &format!("{what} t"),
                    );
                    assert_close(
                        test.degrees_of_freedom,
                        &expected_test["degrees_of_freedom"],
                        &format!("{what} df"),
                    );
                    assert_close(
                        test.p_value,
                        &expected_test["p_value"],
                        &format!("{what} p"),
                    );
                }
                (actual, expected) => panic!("{what}: test {actual:?}, the oracle has {expected}"),
            }
        }
    }
}

#[test]
fn trends_match_ordinary_least_squares() {
    for case in fixture("trends").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let points: Vec<(f64, f64)> = serde_json::from_value(case["points"].clone()).unwrap();
        let fitted = trend(&points).unwrap();
        assert_close(fitted.slope, &case["slope"], &format!("{name} slope"));
        assert_close(
            fitted.intercept,
            &case["intercept"],
            &format!("{name} intercept"),
        );
        assert_close(
            fitted.slope_standard_error,
            &case["slope_standard_error"],
            &format!("{name} se"),
        );
        let test = fitted.slope_test.expect("the points are not on a line");
        assert_close(test.t_statistic, &case["t_statistic"], &format!("{name} t"));
        assert_close(
            test.degrees_of_freedom,
            &case["degrees_of_freedom"],
            &format!("{name} df"),
        );
        assert_close(test.p_value, &case["p_value"], &format!("{name} p"));
    }
}

#[test]
fn student_t_quantiles_and_detectable_changes_match_scipy() {
    let expected = fixture("quantiles_and_detectable_changes");
    for (probability, key) in [(0.975, "student_t_975"), (0.80, "student_t_80")] {
        for row in expected[key].as_array().unwrap() {
            let degrees_of_freedom = row[0].as_f64().unwrap();
            let quantile = student_t_quantile(probability, degrees_of_freedom).unwrap();
            assert_close(
                quantile,
                &row[1],
                &format!("t({probability}, {degrees_of_freedom})"),
            );
        }
    }
    for row in expected["minimum_detectable_change"].as_array().unwrap() {
        let (respondents, sd) = (row[0].as_u64().unwrap() as u32, row[1].as_f64().unwrap());
        let change = minimum_detectable_change(respondents, sd).unwrap();
        assert_close(
            change,
            &row[2],
            &format!("minimum detectable change for n = {respondents}, sd = {sd}"),
        );
    }
}
