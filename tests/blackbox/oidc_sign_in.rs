//! OIDC sign-in (issue 16, point 1) against a real OpenID provider: the certified
//! `oidc-provider` package for Node.js, started per test on a free port by
//! `tests/oidc/provider.mjs` with one client registered for the test server's
//! callback. A test plays the browser (a cookie jar, redirects followed by hand)
//! and the person at the provider's login page, with or without a verified
//! address. The provider's test endpoints re-sign an `id_token` with wrong claims
//! (genuine signature, wrong audience, issuer, expiry or nonce) and rotate its
//! signing key.
//!
//! `oidc-provider` is the version pinned in `tests/oidc/package-lock.json`, which
//! `scripts/test` installs with `npm ci` into `tests/oidc/node_modules`; a missing
//! installation fails the tests, it never skips them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use safepulse_api::oidc::{EmailVerifiedClaim, OidcConfig};
use safepulse_domain::Email;
use safepulse_store::entities::{audit_entry, issued_token, outbox};
use safepulse_store::org;
use safepulse_tests::{Db, TestApp, free_port, spawn_app_with};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENT_ID: &str = "safepulse-test";
const CLIENT_SECRET: &str = "a-client-secret-for-the-test";
const LEADER: &str = "lead.t0@example.com";
const MEMBER: &str = "m0.t0@example.com";

/// A running `oidc-provider`, stopped when dropped.
struct Provider {
    issuer: String,
    _child: tokio::process::Child,
}

impl Provider {
    /// Starts the provider on `port` with one client sending people back to
    /// `redirect_uri`; returns once it listens.
    async fn start(port: u16, redirect_uri: &str) -> Provider {
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc");
        assert!(
            folder.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci --prefix tests/oidc --no-audit --no-fund --ignore-scripts` (scripts/test does)"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(folder.join("provider.mjs"))
            .args([&port.to_string(), CLIENT_ID, CLIENT_SECRET, redirect_uri])
            .current_dir(&folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts (apt-get install nodejs)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the provider starts within 30 s")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("ready"));
        // Whatever it prints later is read and dropped: a closed pipe would stop it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Provider {
            issuer: format!("http://127.0.0.1:{port}"),
            _child: child,
        }
    }

    async fn post(&self, path: &str, body: String) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.issuer))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    /// The next `id_token` gets these claims, re-signed with the provider's key.
    async fn tamper_next_id_token(&self, claims: serde_json::Value) {
        self.post("/_test/tamper", claims.to_string()).await;
    }

    /// A new signing key replaces the old one; returns its kid.
    async fn rotate_keys(&self) -> String {
        self.post("/_test/rotate", String::new()).await
    }
}

fn oidc_config(issuer: &str, magic_link: bool) -> OidcConfig {
    OidcConfig {
        issuer_url: issuer.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        provider_name: "Test ID".to_owned(),
        magic_link,
        email_verified_claim: EmailVerifiedClaim::EmailVerified,
    }
}

/// The app, configured for a provider on a free port, and that provider; the
/// organisation has one team of three led by [`LEADER`].
async fn app_with_provider(db: Db, magic_link: bool) -> (TestApp, Provider) {
    app_with_provider_configured(db, |oidc| oidc.magic_link = magic_link).await
}

/// Like [`app_with_provider`], with a chance to change the `[oidc]` section.
async fn app_with_provider_configured(
    db: Db,
    adjust: impl FnOnce(&mut OidcConfig),
) -> (TestApp, Provider) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut oidc = oidc_config(&issuer, true);
    adjust(&mut oidc);
    let app = spawn_app_with(db, |config| config.oidc = Some(oidc)).await;
    let provider = Provider::start(port, &app.url("/oidc/callback")).await;
    app.create_org(&[3]).await;
    (app, provider)
}

/// A browser: keeps cookies, follows no redirect on its own.
fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` of a `303`/`302`, made absolute against `base`.
fn location(response: &reqwest::Response) -> String {
    assert!(
        response.status().is_redirection(),
        "a redirect from {}: {}",
        response.url(),
        response.status()
    );
    let location = response.headers()["location"].to_str().unwrap();
    response.url().join(location).unwrap().to_string()
}

/// Presses "Sign in with Test ID" (`?as=admin` when `query` says so): the
/// provider's authorization URL.
async fn press_button(app: &TestApp, browser: &reqwest::Client, query: &str) -> String {
    let response = browser
        .get(app.url(&format!("/oidc/sign-in{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    location(&response)
}

/// The person logs in at the provider as `email`: the callback URL the provider
/// sends the browser back to.
async fn log_in_at_provider(
    browser: &reqwest::Client,
    authorize: &str,
    email: &str,
    verified: bool,
) -> String {
    let to_login = browser.get(authorize).send().await.unwrap();
    let login = reqwest::Url::parse_with_params(
        &location(&to_login),
        [("email", email), ("verified", &verified.to_string())],
    )
    .unwrap();
    let logged_in = browser.get(login).send().await.unwrap();
    let resumed = browser.get(location(&logged_in)).send().await.unwrap();
    location(&resumed)
}

/// The whole sign-in of `email` in a fresh browser: the callback's response.
async fn sign_in(
    app: &TestApp,
    email: &str,
    verified: bool,
) -> (reqwest::Client, reqwest::Response) {
    let browser = new_browser();
    let authorize = press_button(app, &browser, "").await;
    let callback = log_in_at_provider(&browser, &authorize, email, verified).await;
    let response = browser.get(callback).send().await.unwrap();
    (browser, response)
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

async fn sessions_issued(app: &TestApp) -> u64 {
    issued_token::Entity::find()
        .filter(issued_token::Column::Kind.eq("session"))
        .count(app.state.store.connection())
        .await
        .unwrap()
}

/// A refusal: `403`, no session cookie, and the one neutral page.
async fn refused(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 403);
    assert!(set_cookie(&response, "safepulse_session").is_none());
    let body = response.text().await.unwrap();
    assert!(body.contains("You are not signed in"), "{body}");
    body
}

/// Two tests per body, one on each database, each with its own provider.
macro_rules! with_a_provider_on_both_databases {
    ($(async fn $name:ident($app:ident, $provider:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($app: TestApp, $provider: Provider) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    let (app, provider) = app_with_provider(Db::Sqlite, true).await;
                    body(app, provider).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    let (app, provider) = app_with_provider(Db::Postgres, true).await;
                    body(app, provider).await
                }
            }
        )*
    };
}

with_a_provider_on_both_databases! {
    async fn a_manager_signs_in_with_the_provider_and_reaches_the_dashboard(app, _provider) {
        let (status, page) = {
            let response = app.client.get(app.url("/sign-in")).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        };
        assert_eq!(status, 200);
        assert!(page.contains("href=\"/oidc/sign-in\">Sign in with Test ID</a>"), "{page}");
        assert!(page.contains("name=\"email\""), "the magic link stays on by default");

        let browser = new_browser();
        let pressed = browser.get(app.url("/oidc/sign-in")).send().await.unwrap();
        let flow = set_cookie(&pressed, "safepulse_oidc").expect("a flow cookie");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/oidc", "Max-Age=600"] {
            assert!(flow.contains(attribute), "{attribute}: {flow}");
        }
        let authorize = location(&pressed);
        for parameter in ["code_challenge_method=S256", "code_challenge=", "nonce=", "state=", "scope=openid+email"] {
            assert!(authorize.contains(parameter), "{parameter}: {authorize}");
        }
        let callback = log_in_at_provider(&browser, &authorize, LEADER, true).await;
        let response = browser.get(callback).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/dashboard");
        let session = set_cookie(&response, "safepulse_session").expect("a session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
        assert!(set_cookie(&response, "safepulse_oidc").is_some_and(|c| c.contains("Max-Age=0")), "the flow cookie is deleted");

        let dashboard = browser.get(app.url("/dashboard")).send().await.unwrap();
        assert_eq!(dashboard.status(), 200);
        assert!(dashboard.text().await.unwrap().contains("Team 0"));

        let db = app.state.store.connection();
        let session_row = issued_token::Entity::find()
            .filter(issued_token::Column::Kind.eq("session"))
            .one(db).await.unwrap().expect("the session's row");
        assert_eq!(session_row.role, "manager");
        assert_eq!(session_row.subject, LEADER);
        let audit = audit_entry::Entity::find()
            .filter(audit_entry::Column::Action.eq("session.signed_in"))
            .all(db).await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, LEADER);
        assert_eq!(audit[0].details, json!({ "method": "oidc", "role": "manager" }));
    }

    async fn an_administrator_reaches_the_console_through_the_admin_button(app, _provider) {
        let db = app.state.store.connection();
        let leader = org::find_person_by_email(db, &Email::parse(LEADER).unwrap()).await.unwrap().unwrap();
        org::grant_role(db, leader.id, "admin", chrono::Utc::now()).await.unwrap();
        let browser = new_browser();
        let authorize = press_button(&app, &browser, "?as=admin").await;
        let callback = log_in_at_provider(&browser, &authorize, LEADER, true).await;
        let response = browser.get(callback).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/admin");
        assert_eq!(browser.get(app.url("/admin")).send().await.unwrap().status(), 200);
    }

    async fn unknown_unverified_and_roleless_addresses_get_one_neutral_page(app, _provider) {
        let (_, unknown) = sign_in(&app, "nobody@example.com", true).await;
        let unknown = refused(unknown).await;
        let (_, unverified) = sign_in(&app, LEADER, false).await;
        let unverified = refused(unverified).await;
        let (_, roleless) = sign_in(&app, MEMBER, true).await;
        let roleless = refused(roleless).await;
        assert_eq!(unknown, unverified, "an unverified address looks like an unknown one");
        assert_eq!(unknown, roleless, "a person without a role looks like an unknown one");
        assert_eq!(sessions_issued(&app).await, 0);
    }

    async fn id_tokens_with_another_audience_issuer_expiry_or_nonce_are_refused(app, provider) {
        let now = chrono::Utc::now().timestamp();
        for claims in [
            json!({ "aud": "another-client" }),
            json!({ "aud": [CLIENT_ID, "another-client"], "azp": "another-client" }),
            json!({ "iss": "http://127.0.0.1:1" }),
            json!({ "iat": now - 7200, "exp": now - 3600 }),
            json!({ "nonce": "not-the-nonce-of-this-sign-in" }),
        ] {
            provider.tamper_next_id_token(claims.clone()).await;
            let (_, response) = sign_in(&app, LEADER, true).await;
            assert_eq!(response.status(), 403, "{claims}");
            refused(response).await;
        }
        assert_eq!(sessions_issued(&app).await, 0);
        // The same sign-in with the provider's own claims works: the claims were
        // what failed.
        let (_, response) = sign_in(&app, LEADER, true).await;
        assert_eq!(response.status(), 303);
    }

    async fn a_wrong_state_a_replayed_code_and_a_stale_flow_are_refused(app, _provider) {
        let browser = new_browser();
        let pressed = browser.get(app.url("/oidc/sign-in")).send().await.unwrap();
        let flow = set_cookie(&pressed, "safepulse_oidc").unwrap();
        let flow = flow.split(';').next().unwrap().to_owned();
        let callback = log_in_at_provider(&browser, &location(&pressed), LEADER, true).await;
        let url = reqwest::Url::parse(&callback).unwrap();
        let state: String = url.query_pairs().find(|(name, _)| name == "state").unwrap().1.into();
        let from = |callback: &str| app.client.get(callback).header("Cookie", flow.clone()).send();

        let wrong_state = callback.replace(&state, "another-state");
        refused(from(&wrong_state).await.unwrap()).await;
        let without_cookie = app.client.get(&callback).send().await.unwrap();
        refused(without_cookie).await;
        // Neither used the code: the genuine callback still signs in, once.
        assert_eq!(from(&callback).await.unwrap().status(), 303);
        refused(from(&callback).await.unwrap()).await;
        assert_eq!(sessions_issued(&app).await, 1);

        // Ten minutes at the provider is the limit.
        let late = new_browser();
        let pressed = late.get(app.url("/oidc/sign-in")).send().await.unwrap();
        let callback = log_in_at_provider(&late, &location(&pressed), LEADER, true).await;
        app.clock.advance(chrono::Duration::minutes(11));
        refused(late.get(callback).send().await.unwrap()).await;
    }

    async fn keys_rotated_at_the_provider_are_fetched_again_on_an_unknown_kid(app, provider) {
        let (_, before) = sign_in(&app, LEADER, true).await;
        assert_eq!(before.status(), 303, "signed in with the first key");
        let new_kid = provider.rotate_keys().await;
        let jwks: serde_json::Value = reqwest::get(format!("{}/jwks", provider.issuer))
            .await.unwrap().json().await.unwrap();
        let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, [new_kid.as_str()], "the provider publishes the new key only");
        let (browser, after) = sign_in(&app, LEADER, true).await;
        assert_eq!(after.status(), 303, "signed in with the new key");
        assert_eq!(browser.get(app.url("/dashboard")).send().await.unwrap().status(), 200);
    }
}

/// With `oidc.magic_link = false` the sign-in page has the provider's button only,
/// and the magic link's requests and links are refused.
async fn the_magic_link_can_be_switched_off(db: Db) {
    let (app, _provider) = app_with_provider(db, false).await;
    let page = app
        .client
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with Test ID"), "{page}");
    assert!(!page.contains("name=\"email\""), "no email form: {page}");
    assert!(!page.contains("action=\"/sign-in\""), "{page}");
    let response = app
        .client
        .post(app.url("/sign-in"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("email", LEADER)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Sign-in links are switched off")
    );
    app.state.sign_in_queue.settled().await;
    let queued = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("sign_in"))
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(queued, 0, "no sign-in email");
    let link = app
        .client
        .get(app.url("/sign-in/AAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), 403);
    // The provider still signs people in.
    let (_, response) = sign_in(&app, LEADER, true).await;
    assert_eq!(response.status(), 303);
}

mod the_magic_link_switched_off_leaves_only_the_provider {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        the_magic_link_can_be_switched_off(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        the_magic_link_can_be_switched_off(Db::Postgres).await;
    }
}

/// Entra ID sends no `email_verified`; with `email_verified_claim = "xms_edov"`
/// its domain-verification claim decides, and `email_verified` alone does not.
async fn entra_s_xms_edov_can_stand_in_for_email_verified(db: Db) {
    let (app, provider) = app_with_provider_configured(db, |oidc| {
        oidc.email_verified_claim = EmailVerifiedClaim::XmsEdov;
    })
    .await;
    let (_, without) = sign_in(&app, LEADER, true).await;
    refused(without).await;
    provider
        .tamper_next_id_token(json!({ "email_verified": null, "xms_edov": false }))
        .await;
    let (_, unverified_domain) = sign_in(&app, LEADER, true).await;
    refused(unverified_domain).await;
    provider
        .tamper_next_id_token(json!({ "email_verified": null, "xms_edov": true }))
        .await;
    let (_, response) = sign_in(&app, LEADER, true).await;
    assert_eq!(response.status(), 303);
}

mod entra_s_xms_edov_stands_in_for_email_verified_when_configured {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        entra_s_xms_edov_can_stand_in_for_email_verified(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        entra_s_xms_edov_can_stand_in_for_email_verified(Db::Postgres).await;
    }
}
