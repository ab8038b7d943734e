//! Signed webhooks (issue 16, point 3), end to end on both databases: endpoints
//! managed through the API (admin only, audited, problem+json), a round's close
//! delivering `round.closed` and `release.available` with exactly the documented
//! payload, an action-plan change delivering `action_plan.changed`, a rotated
//! secret still verifying, a deleted endpoint getting nothing more. Deliveries go
//! through the real outbox worker and its reqwest transport to a receiver started
//! here, which verifies the Standard Webhooks signature with the algorithm written
//! out below (independently of the mailer's), rejects replays and stale
//! timestamps, and answers 500 once and hangs once to exercise retries, and 429
//! with `Retry-After` and 410 to exercise the waiting and the giving up.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use safepulse_domain::{Clock, Role};
use safepulse_store::entities::outbox;
use safepulse_store::entities::release::{self, ReleaseStatus};
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uuid::Uuid;

/// What the receiver does with the next request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Says nothing for longer than the worker waits.
    Hang,
    /// 429 with `Retry-After: <seconds>`.
    TooMany(u64),
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    secret: Vec<u8>,
    plan: VecDeque<Answer>,
    accepted_ids: HashSet<String>,
    received: Vec<Received>,
}

/// A webhook receiver on a free local port.
#[derive(Clone)]
struct Receiver {
    url: String,
    inner: Arc<Mutex<Inner>>,
    clock: safepulse_domain::ManualClock,
}

/// The Standard Webhooks check, written from the specification: any of the
/// space-separated `v1,` signatures must be the base64 HMAC-SHA256, keyed with the
/// base64-decoded part of `whsec_…`, of `{id}.{timestamp}.{body}`.
fn signature_verifies(secret: &str, id: &str, timestamp: &str, body: &str, header: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("a key");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1,"))
        .any(|given| given == expected)
}

impl Receiver {
    async fn start(clock: safepulse_domain::ManualClock) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!(
            "http://{}/hooks",
            listener.local_addr().expect("an address")
        );
        let receiver = Receiver {
            url,
            inner: Arc::default(),
            clock,
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let serving = serving.clone();
                tokio::spawn(async move { serving.serve(stream).await });
            }
        });
        receiver
    }

    fn expect_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("whsec_"))
            .expect("base64");
    }

    fn plan(&self, answers: &[Answer]) {
        self.inner.lock().unwrap().plan.extend(answers);
    }

    fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The accepted (2xx) requests' bodies, as JSON.
    fn accepted(&self) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|request| request.status == 204)
            .map(|request| serde_json::from_str(&request.body).expect("a JSON body"))
            .collect()
    }

    async fn serve(&self, mut stream: tokio::net::TcpStream) {
        let Some((headers, body)) = read_request(&mut stream).await else {
            return;
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let (id, timestamp, signature) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        );
        let answer = self.decide(&id, &timestamp, &signature, &body);
        let status = match answer {
            Answer::Hang => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                return;
            }
            Answer::Status(status) => status,
            Answer::TooMany(_) => 429,
        };
        let retry_after = match answer {
            Answer::TooMany(seconds) => format!("retry-after: {seconds}\r\n"),
            _ => String::new(),
        };
        self.inner.lock().unwrap().received.push(Received {
            id,
            timestamp,
            signature,
            body,
            status,
        });
        let reply = format!(
            "HTTP/1.1 {status} X\r\n{retry_after}content-length: 0\r\nconnection: close\r\n\r\n"
        );
        let _ = stream.write_all(reply.as_bytes()).await;
    }

    /// 401 for a bad signature, 400 for a stale timestamp, 409 for a replayed id,
    /// else the planned answer (204 when nothing is planned).
    fn decide(&self, id: &str, timestamp: &str, signature: &str, body: &str) -> Answer {
        let mut inner = self.inner.lock().unwrap();
        let secret = format!("whsec_{}", STANDARD.encode(&inner.secret));
        if !signature_verifies(&secret, id, timestamp, body, signature) {
            return Answer::Status(401);
        }
        let now = self.clock.now().timestamp();
        let sent: i64 = timestamp.parse().unwrap_or(0);
        if (now - sent).abs() > 300 {
            return Answer::Status(400);
        }
        if inner.accepted_ids.contains(id) {
            return Answer::Status(409);
        }
        let answer = inner.plan.pop_front().unwrap_or(Answer::Status(204));
        if let Answer::Status(200..=299) = answer {
            inner.accepted_ids.insert(id.to_owned());
        }
        answer
    }
}

/// Headers (lower-case names) and body of one HTTP/1.1 request.
async fn read_request(
    stream: &mut tokio::net::TcpStream,
) -> Option<(Vec<(String, String)>, String)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8(buffer[head_end..head_end + length].to_vec()).ok()?;
    Some((headers, body))
}

/// The app's worker, with a 1-second webhook timeout so the hang is quick.
fn worker(app: &TestApp) -> safepulse_mailer::OutboxWorker {
    let mails = tempfile::tempdir().expect("a directory").keep();
    let transport = safepulse_mailer::MailTransport::file_in_data_dir(&mails).expect("files");
    let webhooks = safepulse_api::webhook_transport::HttpWebhooks::new(Duration::from_secs(1))
        .expect("a client");
    app.outbox_worker(transport)
        .with_webhook_transport(Arc::new(webhooks))
}

async fn register(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let admin = app.admin_token().await;
    let response = app
        .post_json(
            "/api/v1/webhooks",
            &admin,
            &json!({ "url": url, "events": events }),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.expect("json")
}

/// Delivers what is due now, then moves the clock past the longest backoff.
async fn deliver_and_wait_out_backoff(app: &TestApp, worker: &safepulse_mailer::OutboxWorker) {
    app.deliver_all(worker).await;
    app.clock.advance(chrono::Duration::minutes(31));
}

/// The receiver refuses a replay of an accepted delivery, and a stale one.
async fn receiver_refuses_replays_and_stale_deliveries(
    app: &TestApp,
    receiver: &Receiver,
    secret: &str,
) {
    let delivered = receiver
        .received()
        .into_iter()
        .find(|request| request.status == 204)
        .unwrap();
    let replay = reqwest::Client::new()
        .post(&receiver.url)
        .header("webhook-id", &delivered.id)
        .header("webhook-timestamp", &delivered.timestamp)
        .header("webhook-signature", &delivered.signature)
        .body(delivered.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 409);
    app.clock.advance(chrono::Duration::minutes(6));
    let stale_id = "msg_never_seen";
    let secret_key = secret.to_owned();
    let stale_signature = {
        let key = STANDARD
            .decode(secret_key.strip_prefix("whsec_").unwrap())
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{stale_id}.{}.{}", delivered.timestamp, delivered.body).as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    };
    let stale = reqwest::Client::new()
        .post(&receiver.url)
        .header("webhook-id", stale_id)
        .header("webhook-timestamp", &delivered.timestamp)
        .header("webhook-signature", stale_signature)
        .body(delivered.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 400);
}

on_both_databases! {
    async fn a_close_delivers_signed_round_closed_and_release_available_retrying_after_500_and_timeouts(app) {
        let receiver = Receiver::start(app.clock.clone()).await;
        let admin = app.admin_token().await;
        // Endpoints are the admin's, with problem+json errors.
        let hr = app.token(Role::Hr, "people@example.com").await;
        let response = app.post_json("/api/v1/webhooks", &hr, &json!({ "url": receiver.url, "events": ["round.closed"] })).await;
        assert_eq!(response.status(), 403);
        let response = app.post_json("/api/v1/webhooks", &admin, &json!({ "url": "ftp://example.org", "events": [] })).await;
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|error| error["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["url", "events"]);

        let endpoint = register(&app, &receiver.url, &["round.closed", "release.available"]).await;
        let secret = endpoint["secret"].as_str().unwrap();
        assert!(secret.starts_with("whsec_"));
        receiver.expect_secret(secret);
        let listed = app.get("/api/v1/webhooks", &admin).await.json::<Value>().await.unwrap();
        assert_eq!(listed[0]["id"], endpoint["id"]);
        assert!(listed[0].get("secret").is_none(), "a list never shows a secret: {listed}");

        let (_org, round_id) = app.closed_round_of_two_teams().await;
        let worker = worker(&app);
        // Both deliveries fail once: one with a 500, one by timing out.
        receiver.plan(&[Answer::Status(500), Answer::Hang]);
        deliver_and_wait_out_backoff(&app, &worker).await;
        assert!(receiver.accepted().is_empty());
        assert_eq!(receiver.received().iter().filter(|request| request.status == 500).count(), 1);
        app.deliver_all(&worker).await;
        let mut accepted = receiver.accepted();
        accepted.sort_by_key(|body| body["type"].as_str().unwrap().to_owned());
        assert_eq!(accepted.len(), 2, "{:?}", receiver.received());

        let round = app.round_row(round_id).await;
        let closed_at = round.closed_at.expect("closed");
        let mut released: Vec<Uuid> = release::Entity::find()
            .filter(release::Column::RoundId.eq(round_id))
            .filter(release::Column::Status.ne(ReleaseStatus::Suppressed))
            .all(app.state.store.connection()).await.unwrap()
            .into_iter().map(|row| row.node_id.0).collect();
        released.sort();
        assert!(!released.is_empty());
        let url = format!("{}/api/v1/releases?round_id={round_id}", app.state.config.public_url.trim_end_matches('/'));
        let stamp = |at: chrono::DateTime<chrono::Utc>| serde_json::to_value(at).unwrap();
        assert_eq!(accepted[1], json!({
            "type": "round.closed",
            "timestamp": stamp(closed_at),
            "data": { "round_id": round_id, "survey_id": round.survey_id, "closed_at": stamp(closed_at), "url": url },
        }));
        let mut available = accepted[0].clone();
        let mut listed_nodes: Vec<Uuid> = serde_json::from_value(available["data"]["released_node_ids"].take()).unwrap();
        listed_nodes.sort();
        assert_eq!(listed_nodes, released);
        assert_eq!(available, json!({
            "type": "release.available",
            "timestamp": stamp(closed_at),
            "data": { "round_id": round_id, "survey_id": round.survey_id, "closed_at": stamp(closed_at), "url": url, "released_node_ids": null },
        }));

        receiver_refuses_replays_and_stale_deliveries(&app, &receiver, secret).await;
    }

    async fn an_action_plan_change_is_delivered_a_rotated_secret_verifies_and_a_deleted_endpoint_gets_nothing(app) {
        let receiver = Receiver::start(app.clock.clone()).await;
        let admin = app.admin_token().await;
        let endpoint = register(&app, &receiver.url, &["action_plan.changed"]).await;
        let old_secret = endpoint["secret"].as_str().unwrap().to_owned();
        receiver.expect_secret(&old_secret);
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let worker = worker(&app);
        // The close queued nothing for an endpoint that wants only action plans.
        app.deliver_all(&worker).await;
        assert!(receiver.received().is_empty());

        let leader = app.token(Role::Manager, "lead.t0@example.com").await;
        let due = (app.clock.now() + chrono::Duration::days(14)).date_naive().to_string();
        let response = app.post_json(&format!("/api/v1/teams/{}/commitments", org.teams[0]), &leader, &json!({
            "round_id": round_id, "dimension": "trust", "action": "Weekly 1:1s", "due_on": due
        })).await;
        assert_eq!(response.status(), 201);
        let commitment: Value = response.json().await.unwrap();
        app.deliver_all(&worker).await;
        let accepted = receiver.accepted();
        assert_eq!(accepted.len(), 1);
        let url = format!("{}/api/v1/teams/{}/commitments", app.state.config.public_url.trim_end_matches('/'), org.teams[0]);
        assert_eq!(accepted[0]["type"], "action_plan.changed");
        assert_eq!(accepted[0]["data"], json!({
            "commitment_id": commitment["id"], "team_id": org.teams[0], "round_id": round_id, "change": "created", "url": url,
        }));
        assert!(!accepted[0].to_string().contains("Weekly"), "the leader's words stay in the API");

        // Rotation: the new secret verifies, and the old one still does meanwhile.
        let response = app.post_json(&format!("/api/v1/webhooks/{}/rotate-secret", endpoint["id"].as_str().unwrap()), &admin, &json!({ "previous_secret_hours": 1 })).await;
        assert_eq!(response.status(), 200);
        let rotated: Value = response.json().await.unwrap();
        let new_secret = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, old_secret);
        receiver.expect_secret(&new_secret);
        let path = format!("/api/v1/commitments/{}", commitment["id"].as_str().unwrap());
        assert_eq!(app.patch_json(&path, &leader, &json!({ "done": true })).await.status(), 200);
        app.deliver_all(&worker).await;
        let last = receiver.received().pop().unwrap();
        assert_eq!(last.status, 204);
        assert_eq!(last.signature.split(' ').count(), 2, "both secrets sign during a rotation");
        for secret in [&old_secret, &new_secret] {
            assert!(signature_verifies(secret, &last.id, &last.timestamp, &last.body, &last.signature));
        }
        let audit = app.get("/api/v1/audit", &admin).await.json::<Value>().await.unwrap().to_string();
        assert!(audit.contains("webhook.created") && audit.contains("webhook.secret_rotated"), "{audit}");

        // A change queued, then the endpoint deleted: nothing more arrives.
        assert_eq!(app.patch_json(&path, &leader, &json!({ "done": false })).await.status(), 200);
        let response = app.client.delete(app.url(&format!("/api/v1/webhooks/{}", endpoint["id"].as_str().unwrap())))
            .bearer_auth(&admin).send().await.unwrap();
        assert_eq!(response.status(), 204);
        let before = receiver.received().len();
        let report = app.deliver_all(&worker).await;
        assert_eq!(report.discarded, 1);
        assert_eq!(receiver.received().len(), before);
        assert_eq!(app.patch_json(&path, &leader, &json!({ "done": true })).await.status(), 200);
        assert!(app.deliver_all(&worker).await.queue_was_empty());
    }

    async fn a_429_s_retry_after_is_honoured_and_a_410_fails_the_delivery_for_good(app) {
        let receiver = Receiver::start(app.clock.clone()).await;
        let endpoint = register(&app, &receiver.url, &["round.closed"]).await;
        receiver.expect_secret(endpoint["secret"].as_str().unwrap());
        receiver.plan(&[Answer::TooMany(3_600), Answer::Status(410)]);
        app.closed_round_of_two_teams().await;
        let worker = worker(&app);
        let closed_at = app.clock.now();
        app.deliver_all(&worker).await;
        let webhook_row = || async {
            outbox::Entity::find()
                .filter(outbox::Column::Kind.eq("webhook"))
                .one(app.state.store.connection()).await.unwrap().expect("the delivery is kept")
        };
        let row = webhook_row().await;
        assert_eq!(row.status, "pending");
        let wait = row.not_before - closed_at;
        assert!(wait >= chrono::Duration::minutes(59) && wait <= chrono::Duration::minutes(61), "{wait}");
        // Not due before the hour the receiver asked for: nothing is sent.
        app.clock.advance(chrono::Duration::minutes(31));
        app.deliver_all(&worker).await;
        assert_eq!(receiver.received().len(), 1);
        app.clock.advance(chrono::Duration::minutes(30));
        app.deliver_all(&worker).await;
        assert_eq!(receiver.received().iter().map(|request| request.status).collect::<Vec<_>>(), [429, 410]);
        let row = webhook_row().await;
        assert_eq!(row.status, "failed");
        assert_eq!(row.last_error.as_deref(), Some("the endpoint answered 410; not retried"));
        app.clock.advance(chrono::Duration::hours(2));
        assert!(app.deliver_all(&worker).await.queue_was_empty());
    }
}
