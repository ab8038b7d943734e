//! The HTTP side of signed webhooks: the [`WebhookTransport`] the outbox worker
//! posts `webhook` rows through (the mailer signs and decides; this only speaks
//! HTTP). Each request is bounded by [`WEBHOOK_TIMEOUT`] as a whole, redirects are
//! not followed (a signed body goes only where the admin said), and a receiver's
//! answer body is never read or logged.

use std::time::Duration;

use safepulse_mailer::webhooks::{
    NoAnswer, PostFuture, SignedRequest, WebhookResponse, WebhookTransport,
};

/// How long one delivery may take, connecting included; then it is retried.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts webhooks with reqwest (rustls).
#[derive(Debug, Clone)]
pub struct HttpWebhooks {
    client: reqwest::Client,
}

impl HttpWebhooks {
    /// A client whose requests end after `timeout`.
    pub fn new(timeout: Duration) -> anyhow::Result<HttpWebhooks> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("safepulse-webhooks")
            .build()?;
        Ok(HttpWebhooks { client })
    }
}

impl WebhookTransport for HttpWebhooks {
    fn post<'a>(&'a self, request: &'a SignedRequest) -> PostFuture<'a> {
        Box::pin(async move {
            let mut builder = self.client.post(&request.url).body(request.body.clone());
            for (name, value) in &request.headers {
                builder = builder.header(*name, value);
            }
            let response = builder.send().await.map_err(|error| {
                // Without the URL: it may carry a token of the receiver's.
                NoAnswer(error.without_url().to_string())
            })?;
            Ok(WebhookResponse {
                status: response.status().as_u16(),
                retry_after: retry_after(response.headers()),
            })
        })
    }
}

/// A `Retry-After` given in seconds (an HTTP date is ignored: the backoff applies).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
