//! Prometheus metrics, hand-rolled: a handful of atomics and a few database reads
//! is all safepulse needs. No metric carries a round, team or person label, nor a
//! route (DESIGN §2): the one label is the latency histogram's `le`.
//!
//! Two kinds of figures:
//! - this process's own: HTTP requests, their latency, answers, database errors;
//!   each API replica counts its own (add them up across replicas);
//! - the database's ([`OperationsSnapshot`]): the outbox, the workers' counters,
//!   the scheduler, open rounds. Every replica reports the same values, whichever
//!   process (`serve` or a separate `safepulse worker`) did the work (take the
//!   maximum across replicas, never the sum).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use safepulse_store::operations::{OperationsSnapshot, WorkerCounter};

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    http_requests: AtomicU64,
    http_server_errors: AtomicU64,
    answer_link_requests: AtomicU64,
    answers_accepted: AtomicU64,
    answers_refused: AtomicU64,
    latency: Histogram,
}

/// Requests per latency bucket (not cumulative; rendering adds them up).
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    /// Slower than the last bucket.
    overflow: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        match LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            Some(index) => self.buckets[index].fetch_add(1, Ordering::Relaxed),
            None => self.overflow.fetch_add(1, Ordering::Relaxed),
        };
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, text: &mut String, name: &str, help: &str) {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(text, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.overflow.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            text,
            "{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {sum}\n{name}_count {cumulative}"
        );
    }
}

impl Metrics {
    pub fn record_request(&self, is_answer_link: bool, status: u16, elapsed: Duration) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
        if is_answer_link {
            self.answer_link_requests.fetch_add(1, Ordering::Relaxed);
        }
        if status >= 500 {
            self.http_server_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.observe(elapsed);
    }

    pub fn record_answer(&self, accepted: bool) {
        let counter = if accepted {
            &self.answers_accepted
        } else {
            &self.answers_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format: this process's figures, then the
    /// database's (`None` when they could not be read).
    pub fn render(&self, database_errors: u64, database: Option<&OperationsSnapshot>) -> String {
        let mut text = String::new();
        let own = [
            (
                "safepulse_http_requests_total",
                "HTTP requests served by this process",
                self.http_requests.load(Ordering::Relaxed),
            ),
            (
                "safepulse_http_server_errors_total",
                "HTTP responses with a 5xx status",
                self.http_server_errors.load(Ordering::Relaxed),
            ),
            (
                "safepulse_answer_link_requests_total",
                "Requests to answer links (never logged)",
                self.answer_link_requests.load(Ordering::Relaxed),
            ),
            (
                "safepulse_answers_accepted_total",
                "Answers stored",
                self.answers_accepted.load(Ordering::Relaxed),
            ),
            (
                "safepulse_answers_refused_total",
                "Answers refused (already answered, closed, invalid)",
                self.answers_refused.load(Ordering::Relaxed),
            ),
            (
                "safepulse_database_errors_total",
                "Database failures this process met (connection, timeout, I/O, SQL), not conflicts",
                database_errors,
            ),
        ];
        for (name, help, value) in own {
            counter(&mut text, name, help, value);
        }
        self.latency.render(
            &mut text,
            "safepulse_http_request_duration_seconds",
            "Time from request to response, all routes together",
        );
        if let Some(database) = database {
            render_database(&mut text, database);
        }
        text
    }
}

fn render_database(text: &mut String, database: &OperationsSnapshot) {
    let gauges = [
        (
            "safepulse_outbox_due_emails",
            "Emails whose time to be sent has come and that are not sent yet",
            database.outbox_due as f64,
        ),
        (
            "safepulse_outbox_oldest_due_age_seconds",
            "How long the longest-waiting due email has waited (0: none is due)",
            database.outbox_oldest_due_seconds,
        ),
        (
            "safepulse_outbox_failed_emails",
            "Emails given up on, kept in the outbox with their reason",
            database.outbox_failed as f64,
        ),
        (
            "safepulse_rounds_open",
            "Rounds open for answers",
            database.rounds_open as f64,
        ),
        (
            "safepulse_scheduler_last_tick_timestamp_seconds",
            "When a scheduler last finished a tick (Unix time, 0: never)",
            database.scheduler_last_tick as f64,
        ),
        (
            "safepulse_scheduler_lag_seconds",
            "How long ago the most overdue open round should have closed (0: none overdue)",
            database.scheduler_lag_seconds,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    for (worker_counter, value) in &database.counters {
        let (name, help) = match worker_counter {
            WorkerCounter::EmailsDelivered => (
                "safepulse_emails_delivered_total",
                "Emails accepted by the mail server (or written as .eml files)",
            ),
            WorkerCounter::EmailsRetried => (
                "safepulse_emails_retried_total",
                "Sends that failed for now (4xx, connection, timeout) and were rescheduled",
            ),
            WorkerCounter::EmailsFailed => (
                "safepulse_emails_failed_total",
                "Emails given up on (5xx, unusable address)",
            ),
            WorkerCounter::EmailsBounced => (
                "safepulse_emails_bounced_total",
                "Emails refused for their address, which is now flagged undeliverable",
            ),
            WorkerCounter::EmailsDiscarded => (
                "safepulse_emails_discarded_total",
                "Emails not sent because their round closed or their sign-in link died first",
            ),
            WorkerCounter::OutboxClaimsExpired => (
                "safepulse_outbox_claims_expired_total",
                "Outbox claims that ran out before their worker finished (a worker died or hung)",
            ),
        };
        counter(text, name, help, *value);
    }
}

fn counter(text: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        text,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_render_in_prometheus_format_with_no_label_but_the_buckets() {
        let metrics = Metrics::default();
        metrics.record_request(true, 200, Duration::from_millis(3));
        metrics.record_request(false, 503, Duration::from_millis(70));
        metrics.record_request(false, 200, Duration::from_secs(45));
        metrics.record_answer(true);
        let database = OperationsSnapshot {
            outbox_due: 3,
            outbox_oldest_due_seconds: 12.5,
            outbox_failed: 1,
            rounds_open: 2,
            scheduler_lag_seconds: 0.0,
            scheduler_last_tick: 1_700_000_000,
            counters: vec![(WorkerCounter::EmailsBounced, 4)],
        };
        let text = metrics.render(7, Some(&database));
        for expected in [
            "safepulse_http_requests_total 3",
            "safepulse_answer_link_requests_total 1",
            "safepulse_http_server_errors_total 1",
            "safepulse_answers_accepted_total 1",
            "safepulse_database_errors_total 7",
            "safepulse_http_request_duration_seconds_bucket{le=\"0.005\"} 1",
            "safepulse_http_request_duration_seconds_bucket{le=\"0.1\"} 2",
            "safepulse_http_request_duration_seconds_bucket{le=\"30\"} 2",
            "safepulse_http_request_duration_seconds_bucket{le=\"+Inf\"} 3",
            "safepulse_http_request_duration_seconds_count 3",
            "safepulse_http_request_duration_seconds_sum 45.073",
            "safepulse_outbox_due_emails 3",
            "safepulse_outbox_oldest_due_age_seconds 12.5",
            "safepulse_rounds_open 2",
            "safepulse_scheduler_last_tick_timestamp_seconds 1700000000",
            "safepulse_emails_bounced_total 4",
        ] {
            assert!(
                text.lines().any(|line| line == expected),
                "{expected} in:\n{text}"
            );
        }
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            assert!(
                !line.contains('{') || line.contains("_bucket{le=\""),
                "only the buckets have a label: {line}"
            );
        }
        let without_database = metrics.render(7, None);
        assert!(!without_database.contains("safepulse_outbox"));
        assert!(without_database.contains("safepulse_http_requests_total 3"));
    }
}
