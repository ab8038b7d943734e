//! Asking for a sign-in link (issue 11, finding 5): the answer takes as long for an
//! address that may sign in as for an unknown one, and rate limits per client and
//! overall answer `429` problem+json with `Retry-After`, so a script cannot make
//! the server email every leader.
//!
//! Distinct clients are distinct loopback addresses: Linux routes all of
//! 127.0.0.0/8 to the loopback interface, so a client bound to 127.0.0.7 is a
//! different peer to the server.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use safepulse_api::rate_limit::SignInLimits;
use safepulse_store::entities::outbox;
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app_with};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const LEADER: &str = "lead.t0@example.com";
/// As long as [`LEADER`], so both requests and both answers have the same size.
const UNKNOWN: &str = "lead.t9@example.com";

/// A client whose connections come from `address`.
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(address))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn ask(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(app.url("/sign-in"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("email", email)]);
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("X-Forwarded-For", forwarded_for);
    }
    request.send().await.unwrap()
}

/// Sign-in emails queued in the outbox, by recipient.
async fn sign_in_emails(app: &TestApp) -> Vec<String> {
    app.state.sign_in_queue.settled().await;
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("sign_in"))
        .all(app.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.recipient)
        .collect()
}

/// Checks a refusal: 429 problem+json `too_many_requests`, and returns `Retry-After`.
async fn refused(response: reqwest::Response) -> u64 {
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "too_many_requests");
    assert_eq!(problem["status"], 429);
    retry_after
}

/// How long the page takes to answer `email`: the best of three.
async fn answer_time(app: &TestApp, email: &str) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let response = ask(app, &app.client, email, None).await;
        let status = response.status();
        response.bytes().await.unwrap();
        best = best.min(started.elapsed());
        assert_eq!(status, 200);
    }
    best
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

const PAIRS: usize = 200;
const WARM_UP_PAIRS: usize = 10;

on_both_databases! {
    async fn the_page_answers_as_fast_for_a_leader_as_for_an_unknown_address(app) {
        app.create_org(&[2]).await;
        let (mut leader_times, mut unknown_times) = (Vec::new(), Vec::new());
        for pair in 0..WARM_UP_PAIRS + PAIRS {
            // The leader's earlier links expire, so every request of theirs writes
            // a new one (at most three may be live), and the limits refill.
            app.clock.advance(chrono::Duration::minutes(16));
            // Each pair starts on a quiet server: what is timed is the requests'
            // own path, not the database work queued by the pair before.
            app.state.sign_in_queue.settled().await;
            let (leader, unknown) = if pair % 2 == 0 {
                let leader = answer_time(&app, LEADER).await;
                (leader, answer_time(&app, UNKNOWN).await)
            } else {
                let unknown = answer_time(&app, UNKNOWN).await;
                (answer_time(&app, LEADER).await, unknown)
            };
            if pair >= WARM_UP_PAIRS {
                leader_times.push(leader);
                unknown_times.push(unknown);
            }
        }
        let (leader, unknown) = (median(leader_times), median(unknown_times));
        let (fast, slow) = (leader.min(unknown), leader.max(unknown));
        assert!(
            slow - fast <= fast / 10,
            "medians differ by more than 10%: leader {leader:?}, unknown {unknown:?}"
        );

        let emails = sign_in_emails(&app).await;
        assert_eq!(emails.len(), (WARM_UP_PAIRS + PAIRS) * 3, "one email per request of the leader");
        assert!(emails.iter().all(|recipient| recipient == LEADER), "none for the unknown address");
    }

    async fn two_hundred_requests_at_once_queue_no_more_emails_than_the_global_burst(app) {
        let leaders = 70;
        app.create_org(&vec![0; leaders]).await;
        let limits = SignInLimits::default();
        let requests = (0..200u8).map(|index| {
            let app = &app;
            async move {
                // 200 different clients, each asking once, for 70 different leaders.
                let client = client_from([127, 0, 1, index]);
                ask(app, &client, &format!("lead.t{}@example.com", usize::from(index) % leaders), None).await
            }
        });
        let responses = futures_util::future::join_all(requests).await;
        let mut accepted = 0;
        let mut retry_after = Vec::new();
        for response in responses {
            if response.status() == 200 {
                accepted += 1;
            } else {
                retry_after.push(refused(response).await);
            }
        }
        assert_eq!(accepted, limits.global_burst as usize);
        assert_eq!(retry_after.len(), 200 - accepted);
        assert!(retry_after.iter().all(|seconds| *seconds == 1), "{retry_after:?}");
        assert_eq!(sign_in_emails(&app).await.len(), accepted, "emails queued");

        assert_eq!(refused(ask(&app, &client_from([127, 0, 2, 1]), LEADER, None).await).await, 1);
        app.clock.advance(chrono::Duration::seconds(1));
        let after_a_second = ask(&app, &client_from([127, 0, 2, 1]), "lead.t1@example.com", None).await;
        assert_eq!(after_a_second.status(), 200, "the global bucket refills");
    }

    async fn a_client_over_its_limit_is_refused_until_its_window_passes(app) {
        app.create_org(&[2]).await;
        let limits = SignInLimits::default();
        let own = client_from([127, 0, 3, 1]);
        for index in 0..limits.per_client_burst {
            let email = if index % 2 == 0 { LEADER } else { UNKNOWN };
            assert_eq!(ask(&app, &own, email, None).await.status(), 200);
        }
        let wait = 60 / u64::from(limits.per_client_per_minute);
        for email in [LEADER, UNKNOWN] {
            assert_eq!(refused(ask(&app, &own, email, None).await).await, wait, "{email}");
        }
        let spoofed = ask(&app, &own, LEADER, Some("198.51.100.7")).await;
        assert_eq!(refused(spoofed).await, wait, "X-Forwarded-For from an untrusted peer is ignored");
        let other = client_from([127, 0, 3, 2]);
        assert_eq!(ask(&app, &other, LEADER, None).await.status(), 200, "another client");

        app.clock.advance(chrono::Duration::seconds(wait as i64 - 1));
        refused(ask(&app, &own, LEADER, None).await).await;
        app.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(ask(&app, &own, LEADER, None).await.status(), 200, "after the window");
        refused(ask(&app, &own, LEADER, None).await).await;
        assert_eq!(sign_in_emails(&app).await.len(), 3, "three live links at most per address");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited_not_the_proxy() {
    let app = spawn_app_with(Db::Sqlite, |config| {
        config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let limits = SignInLimits::default();
    for _ in 0..limits.per_client_burst {
        let response = ask(&app, &app.client, UNKNOWN, Some("203.0.113.1")).await;
        assert_eq!(response.status(), 200);
    }
    refused(ask(&app, &app.client, UNKNOWN, Some("203.0.113.1")).await).await;
    refused(ask(&app, &app.client, UNKNOWN, Some("192.0.2.9, 203.0.113.1")).await).await;
    let another = ask(&app, &app.client, UNKNOWN, Some("203.0.113.2")).await;
    assert_eq!(
        another.status(),
        200,
        "another client behind the same proxy"
    );
}
