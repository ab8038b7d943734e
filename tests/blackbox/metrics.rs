//! What operators watch (issue 12, finding 6): `/metrics` reports the outbox, the
//! emails sent, retried, given up on and bounced, the scheduler's last tick and
//! lag, open rounds and request latency, read through the API from the database
//! whichever process did the work, with no label but the latency buckets; and
//! every metric the Grafana dashboard and the Prometheus alert rules in
//! `deploy/monitoring/` use is one `/metrics` serves.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::Duration;
use safepulse_domain::Clock;
use safepulse_tests::smtp_sink::{Reply, Script, SmtpSink};
use safepulse_tests::{TestApp, on_both_databases};
use serde_json::json;

/// The samples of a `/metrics` answer: `name` (with its `{labels}`, if any) to value.
async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let response = app.get("/metrics", &app.admin_token().await).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            (name.to_owned(), value.parse::<f64>().expect("a number"))
        })
        .collect();
    (text, samples)
}

fn value(samples: &HashMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("/metrics has no {name}: {samples:?}"))
}

on_both_databases! {
    async fn metrics_show_the_outbox_the_emails_the_scheduler_and_open_rounds(app) {
        let team = app.create_team("Platform", None).await;
        for index in 0..3 {
            app.create_person(&format!("person{index}@example.com"), team).await;
        }
        let survey = app.create_survey(&[team], json!({})).await;
        let round_id = app.open_round(survey).await;
        app.clock.advance(Duration::minutes(2));

        let (_, before) = scrape(&app).await;
        assert_eq!(value(&before, "safepulse_outbox_due_emails"), 3.0);
        assert_eq!(value(&before, "safepulse_outbox_oldest_due_age_seconds"), 120.0);
        assert_eq!(value(&before, "safepulse_rounds_open"), 1.0);
        assert_eq!(value(&before, "safepulse_scheduler_last_tick_timestamp_seconds"), 0.0);
        assert_eq!(value(&before, "safepulse_emails_delivered_total"), 0.0);

        // One address refused for good, one relay hiccup, one delivered.
        let sink = SmtpSink::start(Script::replies_in_order(vec![
            Reply::PermFail,
            Reply::TempFail { code: 451 },
        ]))
        .await;
        let report = app.outbox_worker_to_sink(sink.port()).deliver_batch(10).await.unwrap();
        assert_eq!((report.delivered, report.failed, report.retried), (1, 1, 1));
        let (_, sent) = scrape(&app).await;
        assert_eq!(value(&sent, "safepulse_emails_delivered_total"), 1.0);
        assert_eq!(value(&sent, "safepulse_emails_failed_total"), 1.0);
        assert_eq!(value(&sent, "safepulse_emails_bounced_total"), 1.0);
        assert_eq!(value(&sent, "safepulse_emails_retried_total"), 1.0);
        assert_eq!(value(&sent, "safepulse_outbox_failed_emails"), 1.0);
        assert_eq!(
            value(&sent, "safepulse_outbox_due_emails"),
            0.0,
            "the retried email waits for its backoff"
        );
        assert_eq!(value(&sent, "safepulse_outbox_oldest_due_age_seconds"), 0.0);

        // Five minutes past the closing time, before any scheduler noticed.
        let closes_at = app.round_row(round_id).await.closes_at;
        app.clock.set(closes_at + Duration::minutes(5));
        let (_, overdue) = scrape(&app).await;
        assert_eq!(value(&overdue, "safepulse_scheduler_lag_seconds"), 300.0);

        app.scheduler().tick(app.clock.now()).await.unwrap();
        let (text, after) = scrape(&app).await;
        assert_eq!(value(&after, "safepulse_scheduler_lag_seconds"), 0.0);
        assert_eq!(value(&after, "safepulse_rounds_open"), 0.0);
        assert_eq!(
            value(&after, "safepulse_scheduler_last_tick_timestamp_seconds"),
            app.clock.now().timestamp() as f64
        );
        assert_eq!(value(&after, "safepulse_emails_discarded_total"), 0.0);

        // Every request before this scrape is in the latency histogram: a team,
        // three people, a survey, a round and three scrapes.
        let count = value(&after, "safepulse_http_request_duration_seconds_count");
        assert_eq!(count, 9.0);
        assert_eq!(
            value(&after, "safepulse_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
            count
        );
        assert_eq!(value(&after, "safepulse_http_requests_total"), count);
        for name in after.keys() {
            assert!(
                !name.contains('{') || name.starts_with("safepulse_http_request_duration_seconds_bucket{le=\""),
                "no label but the buckets: {name}"
            );
        }
        assert!(!text.contains(&round_id.to_string()) && !text.contains("Platform"));
    }

    async fn every_metric_the_dashboard_and_the_alert_rules_use_is_served_by_metrics(app) {
        let (text, _) = scrape(&app).await;
        let served: BTreeSet<String> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .flat_map(|line| {
                let mut words = line.split(' ');
                let name = words.next().unwrap_or_default().to_owned();
                let series: Vec<String> = match words.next() {
                    Some("histogram") => ["_bucket", "_sum", "_count"]
                        .iter()
                        .map(|suffix| format!("{name}{suffix}"))
                        .collect(),
                    _ => vec![name],
                };
                series
            })
            .collect();

        let alerts = alert_expressions();
        let dashboard = dashboard_expressions();
        assert!(alerts.len() >= 10, "{alerts:?}");
        assert!(dashboard.len() >= 10, "{dashboard:?}");
        let mut used = BTreeSet::new();
        for (source, expression) in alerts.iter().chain(&dashboard) {
            for name in metric_names(expression) {
                assert!(
                    served.contains(&name) || PROMETHEUS_OWN.contains(&name.as_str()),
                    "{source} uses {name}, which /metrics does not serve: {expression}"
                );
                used.insert(name);
            }
        }
        // The figures issue 12 asks operators to be able to page on are all used.
        for wanted in [
            "safepulse_outbox_due_emails",
            "safepulse_outbox_oldest_due_age_seconds",
            "safepulse_emails_delivered_total",
            "safepulse_emails_failed_total",
            "safepulse_emails_bounced_total",
            "safepulse_outbox_claims_expired_total",
            "safepulse_scheduler_last_tick_timestamp_seconds",
            "safepulse_scheduler_lag_seconds",
            "safepulse_rounds_open",
            "safepulse_database_errors_total",
            "safepulse_http_request_duration_seconds_bucket",
        ] {
            assert!(used.contains(wanted), "neither the dashboard nor an alert uses {wanted}");
        }
    }
}

/// Series Prometheus makes itself, not safepulse.
const PROMETHEUS_OWN: [&str; 1] = ["up"];

/// PromQL's (and Grafana's `$__…` variables') own words in the expressions.
const PROMQL_WORDS: [&str; 17] = [
    "sum",
    "max",
    "min",
    "rate",
    "increase",
    "histogram_quantile",
    "time",
    "by",
    "without",
    "and",
    "or",
    "unless",
    "le",
    "job",
    "clamp_min",
    "__rate_interval",
    "__range",
];

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
        .join("monitoring")
}

/// `(alert name, expr)` of every rule, after checking each rule is complete.
fn alert_expressions() -> Vec<(String, String)> {
    let path = monitoring_dir().join("alerts.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut expressions = Vec::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"]
                .as_str()
                .expect("every rule is an alert")
                .to_owned();
            assert!(rule["for"].is_string(), "{name} has a `for`");
            assert!(
                matches!(rule["labels"]["severity"].as_str(), Some("page" | "ticket")),
                "{name} has severity page or ticket"
            );
            assert!(
                rule["annotations"]["summary"].is_string(),
                "{name} has a summary"
            );
            assert!(
                rule["annotations"]["description"].is_string(),
                "{name} says what to do"
            );
            let expression = rule["expr"].as_str().expect("an expr").to_owned();
            expressions.push((format!("alert {name}"), expression));
        }
    }
    expressions
}

/// `(panel title, expr)` of every query of every panel.
fn dashboard_expressions() -> Vec<(String, String)> {
    let path = monitoring_dir().join("grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    let mut expressions = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title} queries something");
        for target in targets {
            let expression = target["expr"].as_str().expect("an expr").to_owned();
            expressions.push((format!("panel {title:?}"), expression));
        }
    }
    expressions
}

/// The names of the series an expression reads: every identifier that is not a
/// PromQL word, a label value in quotes, a number or a duration.
fn metric_names(expression: &str) -> Vec<String> {
    let mut without_strings = String::new();
    let mut in_string = false;
    for character in expression.chars() {
        if character == '"' {
            in_string = !in_string;
        } else if !in_string {
            without_strings.push(character);
        }
    }
    without_strings
        .split(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .filter(|word| !word.is_empty())
        .filter(|word| !word.starts_with(|first: char| first.is_ascii_digit()))
        .filter(|word| !PROMQL_WORDS.contains(word))
        .map(str::to_owned)
        .collect()
}
