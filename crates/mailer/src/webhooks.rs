//! Signed webhooks (issue 16, point 3): what is sent when a round closes, its
//! release is available, or an action plan changes, signed as
//! [Standard Webhooks](https://www.standardwebhooks.com/) prescribe.
//!
//! Deliveries are `outbox` rows of kind `webhook`, queued by [`queue_webhooks`] in
//! the transaction of the event (one row per subscribed endpoint) and sent by the
//! same [`crate::OutboxWorker`] as emails: the same claim with a lease, the same
//! backoff, one delivery of a row at a time. Only the HTTP client is elsewhere: the
//! worker is given a [`WebhookTransport`] (the API crate's, on reqwest), so this
//! crate signs and classifies but speaks no HTTP.
//!
//! A payload is ids, timestamps and a URL to fetch the data through the API with
//! the receiver's own token: never a figure, never anything about a person. So it
//! carries nothing an admin (who registers endpoints) may not read, and nothing
//! suppressed.
//!
//! Secrets are not stored: an endpoint's secret is derived from the master key named
//! on it, its id and its secret generation ([`endpoint_secret`]). A database dump
//! alone does not give one away. While a rotation lasts, the previous generation
//! signs too: the `webhook-signature` header then holds two space-separated
//! signatures, as the specification allows.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use safepulse_domain::keys::Purpose;
use safepulse_domain::{CommitmentId, NodeId, RoundId, SurveyId, TeamId};
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::{outbox, webhook_endpoint};
use safepulse_store::keyring::KeyChain;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

/// What happened, as named in a payload's `type` and in an endpoint's `events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum WebhookEvent {
    /// A round closed: its answers are counted and its links dead.
    #[serde(rename = "round.closed")]
    RoundClosed,
    /// A closed round's release is stored and can be read through the API.
    #[serde(rename = "release.available")]
    ReleaseAvailable,
    /// A team's action-plan commitment was created, changed or marked done.
    #[serde(rename = "action_plan.changed")]
    ActionPlanChanged,
}

/// The body of every delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookPayload {
    #[serde(rename = "type")]
    pub event: WebhookEvent,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    pub data: WebhookData,
}

/// What a payload says about its event: ids and a URL, never a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum WebhookData {
    Round(RoundEventData),
    ActionPlan(ActionPlanEventData),
}

/// `round.closed` and `release.available`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoundEventData {
    #[schema(value_type = Uuid)]
    pub round_id: RoundId,
    #[schema(value_type = Uuid)]
    pub survey_id: SurveyId,
    pub closed_at: DateTime<Utc>,
    /// `release.available` only: the nodes (teams, or synthetic nodes) whose
    /// release has figures. A node whose release is suppressed is not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub released_node_ids: Option<Vec<NodeId>>,
    /// `GET` it with your own token: `/api/v1/releases?round_id=…`.
    pub url: String,
}

/// `action_plan.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionPlanEventData {
    #[schema(value_type = Uuid)]
    pub commitment_id: CommitmentId,
    #[schema(value_type = Uuid)]
    pub team_id: TeamId,
    #[schema(value_type = Uuid)]
    pub round_id: RoundId,
    /// `created` or `updated` (an edit, or marked done or not done).
    pub change: String,
    /// `GET` it with your own token: `/api/v1/teams/{team_id}/commitments`.
    pub url: String,
}

/// What a webhook outbox row stores: the endpoint and the exact body to sign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookRow {
    pub endpoint_id: Uuid,
    pub body: String,
}

/// An endpoint's signing secret, `whsec_<base64 of 32 bytes>` when shown.
#[derive(Clone)]
pub struct WebhookSecret([u8; 32]);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// The form receivers configure: `whsec_` and the base64 of the key.
    pub fn encode(&self) -> String {
        format!("whsec_{}", STANDARD.encode(self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        sign_with(&self.0, id, timestamp, body)
    }
}

fn sign_with(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The secret of `endpoint`'s `generation`, derived from the master key `key_id`;
/// `None` when that key is not loaded.
pub fn endpoint_secret(
    keys: &KeyChain,
    key_id: &str,
    endpoint: Uuid,
    generation: i32,
) -> Option<WebhookSecret> {
    let master = keys
        .master_keys()
        .iter()
        .find(|key| key.id().as_str() == key_id)?;
    let label = format!("webhook-secret/{endpoint}/{generation}");
    Some(WebhookSecret(
        master
            .purpose_key(Purpose::WebhookSecret)
            .digest(label.as_bytes()),
    ))
}

/// The endpoint's events, as stored.
pub fn subscribed_events(endpoint: &webhook_endpoint::Model) -> Vec<WebhookEvent> {
    serde_json::from_value(endpoint.events.clone()).unwrap_or_default()
}

/// Queues `payload` for every endpoint subscribed to its event, in `db`'s
/// transaction; returns how many deliveries were queued.
pub async fn queue_webhooks(
    db: &impl ConnectionTrait,
    payload: &WebhookPayload,
    now: DateTime<Utc>,
) -> Result<usize, sea_orm::DbErr> {
    let endpoints = webhook_endpoint::Entity::find().all(db).await?;
    let body = serde_json::to_string(payload).expect("a webhook payload serializes");
    let rows: Vec<outbox::ActiveModel> = endpoints
        .iter()
        .filter(|endpoint| subscribed_events(endpoint).contains(&payload.event))
        .map(|endpoint| new_webhook_row(endpoint.id, &body, now))
        .collect();
    let queued = rows.len();
    if !rows.is_empty() {
        outbox::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(queued)
}

fn new_webhook_row(endpoint_id: Uuid, body: &str, now: DateTime<Utc>) -> outbox::ActiveModel {
    let row = WebhookRow {
        endpoint_id,
        body: body.to_owned(),
    };
    outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(OutboxKind::Webhook),
        // Not an address: nothing here can be flagged undeliverable.
        recipient: Set(format!("webhook:{endpoint_id}")),
        person_id: Set(None),
        invitation_id: Set(None),
        round_id: Set(None),
        payload: Set(serde_json::to_value(row).expect("a webhook row serializes")),
        // The `webhook-id`: the same on every retry, so receivers deduplicate.
        message_id: Set(format!("msg_{}", Uuid::new_v4().simple())),
        status: Set("pending".into()),
        attempts: Set(0),
        not_before: Set(now),
        claimed_until: Set(None),
        claim_token: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
}

/// One signed request, ready for the transport.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub url: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` and `content-type`.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Why a webhook row cannot become a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unsignable {
    /// Its endpoint was deleted: nothing is sent.
    EndpointGone,
    /// The master key its secret derives from is not loaded (it may come back).
    KeyMissing,
    /// The row cannot be read: given up on.
    Malformed,
}

/// The endpoints of the claimed webhook rows, by id.
pub(crate) async fn endpoints_of(
    db: &impl ConnectionTrait,
    rows: &[outbox::Model],
) -> Result<HashMap<Uuid, webhook_endpoint::Model>, sea_orm::DbErr> {
    let ids: Vec<Uuid> = rows
        .iter()
        .filter(|row| row.kind == OutboxKind::Webhook)
        .filter_map(|row| serde_json::from_value::<WebhookRow>(row.payload.clone()).ok())
        .map(|row| row.endpoint_id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|endpoint| (endpoint.id, endpoint))
        .collect())
}

/// Signs a claimed row now: with the current secret, and the previous one too
/// while a rotation lasts.
pub(crate) fn sign_row(
    row: &outbox::Model,
    endpoints: &HashMap<Uuid, webhook_endpoint::Model>,
    keys: &KeyChain,
    now: DateTime<Utc>,
) -> Result<SignedRequest, Unsignable> {
    let stored: WebhookRow =
        serde_json::from_value(row.payload.clone()).map_err(|_| Unsignable::Malformed)?;
    let endpoint = endpoints
        .get(&stored.endpoint_id)
        .ok_or(Unsignable::EndpointGone)?;
    let timestamp = now.timestamp();
    let mut generations = vec![endpoint.secret_generation];
    if endpoint
        .previous_secret_until
        .is_some_and(|until| until > now)
    {
        generations.push(endpoint.secret_generation - 1);
    }
    let mut signatures = Vec::with_capacity(generations.len());
    for generation in generations {
        let secret = endpoint_secret(keys, &endpoint.secret_key_id, endpoint.id, generation)
            .ok_or(Unsignable::KeyMissing)?;
        signatures.push(secret.sign(&row.message_id, timestamp, &stored.body));
    }
    Ok(SignedRequest {
        url: endpoint.url.clone(),
        headers: vec![
            ("webhook-id", row.message_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signatures.join(" ")),
            ("content-type", "application/json".to_owned()),
        ],
        body: stored.body,
    })
}

/// What the receiver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    /// A `Retry-After` in seconds, when the answer had one.
    pub retry_after: Option<Duration>,
}

/// Why a request got no answer (connection refused, TLS, timeout): retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAnswer(pub String);

/// The future a [`WebhookTransport`] returns.
pub type PostFuture<'a> =
    Pin<Box<dyn Future<Output = Result<WebhookResponse, NoAnswer>> + Send + 'a>>;

/// Posts signed requests. Implemented by the API crate on its HTTP client; it must
/// bound each request in time.
pub trait WebhookTransport: std::fmt::Debug + Send + Sync {
    fn post<'a>(&'a self, request: &'a SignedRequest) -> PostFuture<'a>;
}

/// How the outbox treats an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Delivered,
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    Failed(String),
}

/// 2xx is delivered; 408, 429 and 5xx (and no answer) are retried, honouring a
/// `Retry-After` on 429; any other status fails for good.
pub(crate) fn verdict(answer: Result<WebhookResponse, NoAnswer>) -> Verdict {
    match answer {
        Err(NoAnswer(reason)) => Verdict::Retry {
            reason: format!("the endpoint did not answer: {reason}"),
            retry_after: None,
        },
        Ok(WebhookResponse { status, .. }) if (200..300).contains(&status) => Verdict::Delivered,
        Ok(WebhookResponse {
            status,
            retry_after,
        }) if status == 408 || status == 429 || status >= 500 => Verdict::Retry {
            reason: format!("the endpoint answered {status}"),
            retry_after: if status == 429 { retry_after } else { None },
        },
        Ok(WebhookResponse { status, .. }) => {
            Verdict::Failed(format!("the endpoint answered {status}; not retried"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signatures_match_the_standard_webhooks_reference_example() {
        let key = STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("base64");
        assert_eq!(
            sign_with(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                "{\"test\": 2432232314}"
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let secret = WebhookSecret([7u8; 32]);
        assert!(secret.encode().starts_with("whsec_"));
        assert_eq!(
            secret.sign("msg_1", 5, "{}"),
            secret.sign("msg_1", 5, "{}"),
            "signing is deterministic"
        );
        assert_ne!(secret.sign("msg_1", 5, "{}"), secret.sign("msg_1", 6, "{}"));
    }

    #[test]
    fn answers_are_classified_as_the_docs_say() {
        let answer = |status, retry_after| {
            Ok(WebhookResponse {
                status,
                retry_after,
            })
        };
        assert_eq!(verdict(answer(204, None)), Verdict::Delivered);
        let later = Some(Duration::from_secs(120));
        assert_eq!(
            verdict(answer(429, later)),
            Verdict::Retry {
                reason: "the endpoint answered 429".into(),
                retry_after: later
            }
        );
        assert!(matches!(
            verdict(answer(503, later)),
            Verdict::Retry {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(verdict(answer(408, None)), Verdict::Retry { .. }));
        assert!(matches!(verdict(answer(410, None)), Verdict::Failed(_)));
        assert!(matches!(
            verdict(Err(NoAnswer("timed out".into()))),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn payloads_serialize_as_documented() {
        let round_id = Uuid::nil();
        let payload = WebhookPayload {
            event: WebhookEvent::RoundClosed,
            timestamp: DateTime::from_timestamp(1_700_000_000, 0).expect("a time"),
            data: WebhookData::Round(RoundEventData {
                round_id: RoundId(round_id),
                survey_id: SurveyId(round_id),
                closed_at: DateTime::from_timestamp(1_700_000_000, 0).expect("a time"),
                released_node_ids: None,
                url: "https://pulse.example.org/api/v1/releases?round_id=x".into(),
            }),
        };
        let json = serde_json::to_value(&payload).expect("serializes");
        assert_eq!(json["type"], "round.closed");
        assert_eq!(
            json["data"].as_object().expect("an object").len(),
            4,
            "{json}"
        );
    }
}
