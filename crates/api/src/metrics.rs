//! Prometheus counters, hand-rolled: a handful of atomics is all safepulse needs.
//! No metric carries a round, team or person label (DESIGN §2).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    http_requests: AtomicU64,
    http_server_errors: AtomicU64,
    answer_link_requests: AtomicU64,
    answers_accepted: AtomicU64,
    answers_refused: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, is_answer_link: bool, status: u16) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
        if is_answer_link {
            self.answer_link_requests.fetch_add(1, Ordering::Relaxed);
        }
        if status >= 500 {
            self.http_server_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn record_answer(&self, accepted: bool) {
        let counter = if accepted {
            &self.answers_accepted
        } else {
            &self.answers_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format. `gauges` are read fresh by the caller.
    pub fn render(&self, gauges: &[(&str, &str, i64)]) -> String {
        let mut text = String::new();
        let counters = [
            (
                "safepulse_http_requests_total",
                "HTTP requests served",
                &self.http_requests,
            ),
            (
                "safepulse_http_server_errors_total",
                "HTTP responses with a 5xx status",
                &self.http_server_errors,
            ),
            (
                "safepulse_answer_link_requests_total",
                "Requests to answer links (never logged)",
                &self.answer_link_requests,
            ),
            (
                "safepulse_answers_accepted_total",
                "Answers stored",
                &self.answers_accepted,
            ),
            (
                "safepulse_answers_refused_total",
                "Answers refused (already answered, closed, invalid)",
                &self.answers_refused,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(
                text,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                text,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_prometheus_format_without_labels() {
        let metrics = Metrics::default();
        metrics.record_request(true, 200);
        metrics.record_request(false, 503);
        metrics.record_answer(true);
        let text = metrics.render(&[("safepulse_outbox_pending", "Emails waiting", 3)]);
        assert!(text.contains("safepulse_http_requests_total 2"));
        assert!(text.contains("safepulse_answer_link_requests_total 1"));
        assert!(text.contains("safepulse_http_server_errors_total 1"));
        assert!(text.contains("safepulse_answers_accepted_total 1"));
        assert!(text.contains("safepulse_outbox_pending 3"));
        assert!(!text.contains('{'), "no labels: {text}");
    }
}
