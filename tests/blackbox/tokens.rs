//! Issue 11, findings 3 and 4: `/api/*` takes bearer tokens only, never the
//! dashboard's cookie, and says `no-store`; a token or session is worth only the
//! role its person holds now, and erasure, deactivation and role removal revoke
//! them; admins list and revoke tokens through the API and the command line.

use std::path::Path;
use std::process::Stdio;

use jsonwebtoken::Algorithm;
use safepulse_domain::{Clock, PersonId, Role};
use safepulse_store::entities::{audit_entry, issued_token};
use safepulse_store::org;
use safepulse_store::tokens::TokenKind;
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dashboard::signed_in;
use crate::foundation::{jwt_key, sign};

const BINARY: &str = env!("CARGO_BIN_EXE_safepulse-under-test");

/// A person in a fresh team holding `roles` (granted through the API).
async fn person_with_roles(app: &TestApp, email: &str, roles: &[&str]) -> Uuid {
    let team = app.create_team(&format!("Team of {email}"), None).await;
    let person = app.create_person(email, team).await;
    let admin = app.admin_token().await;
    for role in roles {
        let response = app
            .client
            .put(app.url(&format!("/api/v1/people/{person}/roles/{role}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "granting {role}");
    }
    person
}

/// A dashboard session for `email`, as the sign-in page issues it; the `Cookie`
/// header value.
async fn session_cookie(app: &TestApp, email: &str, role: Role) -> String {
    let token = app
        .state
        .tokens
        .issue(
            app.state.store.connection(),
            email,
            role,
            TokenKind::Session,
            chrono::Duration::hours(1),
            chrono::Utc::now(),
        )
        .await
        .expect("a session");
    format!("safepulse_session={token}")
}

/// The status of the dashboard for a `Cookie` header: 303 means "sign in again".
async fn dashboard_status(app: &TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/dashboard"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn jti_of(app: &TestApp, token: &str) -> Uuid {
    app.state
        .tokens
        .verify_signature_and_claims(token)
        .expect("a token this app signed")
        .jti
        .0
}

async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn audit_entries(app: &TestApp, action: &str) -> Vec<audit_entry::Model> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq(action))
        .all(app.state.store.connection())
        .await
        .unwrap()
}

/// Runs the real binary over the app's database and secrets: exit status, stdout, stderr.
async fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let output = app
        .safepulse_command(Path::new(BINARY), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

async fn rows_naming(app: &TestApp, subject: &str) -> Vec<issued_token::Model> {
    issued_token::Entity::find()
        .filter(issued_token::Column::Subject.eq(subject))
        .all(app.state.store.connection())
        .await
        .unwrap()
}

on_both_databases! {
    async fn the_api_refuses_the_dashboard_session_cookie_cross_site_and_same_site(app) {
        person_with_roles(&app, "root@example.com", &["admin"]).await;
        let survey = app.create_survey(&[app.create_team("Pulse", None).await], json!({})).await;
        let cookie = signed_in(&app, "root@example.com").await;
        assert_eq!(dashboard_status(&app, &cookie).await, 403, "the session works for pages: an admin has nothing to read");

        for (site, origin) in [("cross-site", "https://evil.example.net"), ("same-origin", app.address.as_str())] {
            for action in ["pause", "archive", "rounds"] {
                let response = app
                    .client
                    .post(app.url(&format!("/api/v1/surveys/{survey}/{action}")))
                    .header("Cookie", &cookie)
                    .header("Sec-Fetch-Site", site)
                    .header("Origin", origin)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 401, "{action} with the session cookie, {site}");
                assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
            }
        }
        let read = app.client.get(app.url("/api/v1/people")).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(read.status(), 401, "not even a read");
        let session_token = cookie.trim_start_matches("safepulse_session=");
        assert_eq!(app.get("/api/v1/people", session_token).await.status(), 401, "nor the session as a bearer token");

        let admin = app.admin_token().await;
        let unchanged: Value = app.get(&format!("/api/v1/surveys/{survey}"), &admin).await.json().await.unwrap();
        assert_eq!(unchanged["status"], "active", "{unchanged}");
        let rounds: Value = app.get(&format!("/api/v1/surveys/{survey}/rounds"), &admin).await.json().await.unwrap();
        assert_eq!(rounds, json!([]), "no round opened");
        let api_token_as_cookie = format!("safepulse_session={admin}");
        assert_eq!(dashboard_status(&app, &api_token_as_cookie).await, 303, "an API token is no session either");
    }

    async fn every_api_response_is_no_store_errors_included(app) {
        let admin = app.admin_token().await;
        let bad_limit = app.get("/api/v1/teams?limit=0", &admin).await;
        let responses = [
            ("200", app.get("/api/v1/teams", &admin).await),
            ("401", app.client.get(app.url("/api/v1/teams")).send().await.unwrap()),
            ("403", app.get("/api/v1/tokens", &app.token(Role::Manager, "lead@example.com").await).await),
            ("404", app.get(&format!("/api/v1/teams/{}", Uuid::new_v4()), &admin).await),
            ("404 unrouted", app.get("/api/v1/no-such-thing", &admin).await),
            ("422", bad_limit),
            ("415", app.client.post(app.url("/api/v1/teams")).bearer_auth(&admin).body("x").send().await.unwrap()),
            ("openapi", app.client.get(app.url("/api/openapi.json")).send().await.unwrap()),
        ];
        for (case, response) in responses {
            assert_eq!(
                response.headers().get("cache-control").map(|value| value.to_str().unwrap()),
                Some("no-store"),
                "{case}: {}",
                response.status()
            );
        }
    }

    async fn an_erased_persons_tokens_and_sessions_stop_working_and_their_rows_go(app) {
        let service = app.token(Role::Hr, "ann@example.com").await;
        let person = person_with_roles(&app, "ann@example.com", &["hr"]).await;
        let hr = app.token(Role::Hr, "ann@example.com").await;
        let cookie = session_cookie(&app, "ann@example.com", Role::Hr).await;
        for token in [&service, &hr] {
            assert_eq!(app.get("/api/v1/releases", token).await.status(), 200);
        }
        assert_eq!(dashboard_status(&app, &cookie).await, 200);

        let admin = app.admin_token().await;
        assert_eq!(delete(&app, &format!("/api/v1/people/{person}"), &admin).await.status(), 204);

        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401, "the person's hr token");
        assert_eq!(app.get("/api/v1/releases", &service).await.status(), 401, "a token issued for the address before the person existed");
        assert_eq!(dashboard_status(&app, &cookie).await, 303, "the session");
        assert!(rows_naming(&app, "ann@example.com").await.is_empty(), "no token row keeps the erased address");
        let entries = audit_entries(&app, "tokens.revoked").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].target.as_deref(), Some(person.to_string().as_str()));
        assert_eq!(entries[0].details["reason"], "erased");
        let mut revoked: Vec<String> = serde_json::from_value(entries[0].details["jtis"].clone()).unwrap();
        revoked.sort();
        let mut expected: Vec<String> = [&service, &hr, cookie.trim_start_matches("safepulse_session=")]
            .iter()
            .map(|token| jti_of(&app, token).to_string())
            .collect();
        expected.sort();
        assert_eq!(revoked, expected);
    }

    async fn a_deactivated_persons_token_and_session_are_refused_and_stay_revoked_after_reactivation(app) {
        let person = person_with_roles(&app, "bea@example.com", &["hr"]).await;
        let hr = app.token(Role::Hr, "bea@example.com").await;
        let cookie = session_cookie(&app, "bea@example.com", Role::Hr).await;
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 200);
        assert_eq!(dashboard_status(&app, &cookie).await, 200);

        let admin = app.admin_token().await;
        let path = format!("/api/v1/people/{person}");
        assert_eq!(app.patch_json(&path, &admin, &json!({ "active": false })).await.status(), 200);
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401);
        assert_eq!(dashboard_status(&app, &cookie).await, 303);
        let refused = app
            .state
            .tokens
            .issue(app.state.store.connection(), "bea@example.com", Role::Hr, TokenKind::Api, chrono::Duration::hours(1), chrono::Utc::now())
            .await;
        assert!(refused.is_err(), "no new token for an inactive person");
        let entries = audit_entries(&app, "tokens.revoked").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].details["reason"], "deactivated");
        assert_eq!(entries[0].details["jtis"].as_array().unwrap().len(), 2);

        assert_eq!(app.patch_json(&path, &admin, &json!({ "active": true })).await.status(), 200);
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401, "reactivation revives no old token");
        assert_eq!(dashboard_status(&app, &cookie).await, 303);
        let fresh = app.token(Role::Hr, "bea@example.com").await;
        assert_eq!(app.get("/api/v1/releases", &fresh).await.status(), 200, "a new one works");
    }

    async fn removing_a_role_revokes_its_tokens_and_a_token_needs_a_current_grant(app) {
        let person = person_with_roles(&app, "cat@example.com", &["hr", "admin"]).await;
        let hr = app.token(Role::Hr, "cat@example.com").await;
        let other_hr = app.token(Role::Hr, "cat@example.com").await;
        let own_admin = app.token(Role::Admin, "cat@example.com").await;
        let admin = app.admin_token().await;

        let response = delete(&app, &format!("/api/v1/people/{person}/roles/hr"), &admin).await;
        assert_eq!(response.status(), 204);
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401);
        assert_eq!(app.get("/api/v1/people", &own_admin).await.status(), 200, "the admin role stays");
        let entries = audit_entries(&app, "role.revoked").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].details["role"], "hr");
        let mut revoked: Vec<String> = serde_json::from_value(entries[0].details["revoked_jtis"].clone()).unwrap();
        revoked.sort();
        let mut expected = vec![jti_of(&app, &hr).to_string(), jti_of(&app, &other_hr).to_string()];
        expected.sort();
        assert_eq!(revoked, expected);

        let again = delete(&app, &format!("/api/v1/people/{person}/roles/hr"), &admin).await;
        assert_eq!(again.status(), 404, "not held any more");
        let manager = delete(&app, &format!("/api/v1/people/{person}/roles/manager"), &admin).await;
        assert_eq!(manager.status(), 422, "manager comes from leading a team, not a grant");
        let nobody = delete(&app, &format!("/api/v1/people/{}/roles/admin", Uuid::new_v4()), &admin).await;
        assert_eq!(nobody.status(), 404);

        // A grant that ends without going through the route: the token is refused
        // all the same, because verification asks for the grant every time.
        org::revoke_role(app.state.store.connection(), PersonId(person), "admin").await.unwrap();
        assert_eq!(app.get("/api/v1/people", &own_admin).await.status(), 401);
        let row = issued_token::Entity::find_by_id(jti_of(&app, &own_admin))
            .one(app.state.store.connection())
            .await
            .unwrap()
            .unwrap();
        assert!(row.revoked_at.is_none(), "refused by the grant check, not by a revocation");
        let refused = app
            .state
            .tokens
            .issue(app.state.store.connection(), "cat@example.com", Role::Admin, TokenKind::Api, chrono::Duration::hours(1), chrono::Utc::now())
            .await;
        assert!(refused.is_err(), "no admin token for a person without the grant");
    }

    async fn a_token_whose_claims_disagree_with_its_record_is_refused(app) {
        let hr = app.token(Role::Hr, "service@example.com").await;
        let jti = jti_of(&app, &hr);
        let (kid, secret) = jwt_key(&app);
        let now = chrono::Utc::now().timestamp();
        let promoted = json!({
            "iss": "safepulse", "aud": "safepulse-api", "sub": "service@example.com", "role": "admin",
            "exp": now + 600, "iat": now, "nbf": now, "jti": jti,
        });
        let forged = sign(Algorithm::HS256, Some(&kid), &secret, &promoted);
        assert_eq!(app.get("/api/v1/people", &forged).await.status(), 401, "the row says hr");
        let renamed = json!({
            "iss": "safepulse", "aud": "safepulse-api", "sub": "other@example.com", "role": "hr",
            "exp": now + 600, "iat": now, "nbf": now, "jti": jti,
        });
        let forged = sign(Algorithm::HS256, Some(&kid), &secret, &renamed);
        assert_eq!(app.get("/api/v1/releases", &forged).await.status(), 401, "the row names another subject");
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 200, "the control case passes");

        let mut row: issued_token::ActiveModel = issued_token::Entity::find_by_id(jti)
            .one(app.state.store.connection())
            .await
            .unwrap()
            .unwrap()
            .into();
        row.role = Set("manager".to_owned());
        row.update(app.state.store.connection()).await.unwrap();
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401, "a record changed under the token");
    }

    async fn a_manager_token_lasts_only_while_its_person_leads_a_team(app) {
        let org = app.create_org(&[3]).await;
        let manager = app.token(Role::Manager, "lead.t0@example.com").await;
        let report = format!("/api/v1/reports/teams/{}", org.teams[0]);
        assert_eq!(app.get(&report, &manager).await.status(), 200);
        let admin = app.admin_token().await;
        let removed = delete(&app, &format!("/api/v1/teams/{}/leaders/{}", org.teams[0], org.leaders[0]), &admin).await;
        assert_eq!(removed.status(), 204);
        assert_eq!(app.get(&report, &manager).await.status(), 401);
        let entries = audit_entries(&app, "team.leader_removed").await;
        assert_eq!(entries[0].details["revoked_jtis"], json!([jti_of(&app, &manager)]));
        let response = app
            .client
            .put(app.url(&format!("/api/v1/teams/{}/leaders/{}", org.teams[0], org.leaders[0])))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        assert_eq!(app.get(&report, &manager).await.status(), 401, "leading again revives no revoked token");
    }

    async fn admins_list_tokens_and_sessions_by_id_and_revoke_them(app) {
        let admin = app.admin_token().await;
        person_with_roles(&app, "dan@example.com", &["hr"]).await;
        let hr = app.token(Role::Hr, "dan@example.com").await;
        let cookie = session_cookie(&app, "dan@example.com", Role::Hr).await;
        let session = cookie.trim_start_matches("safepulse_session=").to_owned();
        let expired = app.token(Role::Hr, "old@example.com").await;
        let expired_jti = jti_of(&app, &expired);
        let mut old: issued_token::ActiveModel = issued_token::Entity::find_by_id(expired_jti)
            .one(app.state.store.connection())
            .await
            .unwrap()
            .unwrap()
            .into();
        old.expires_at = Set(app.clock.now() - chrono::Duration::minutes(1));
        old.update(app.state.store.connection()).await.unwrap();
        let working: Vec<String> = issued_token::Entity::find()
            .filter(issued_token::Column::Jti.ne(expired_jti))
            .all(app.state.store.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.jti.to_string())
            .collect();

        let mut listed: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/tokens?limit=2&cursor={cursor}"),
                None => "/api/v1/tokens?limit=2".to_owned(),
            };
            let response = app.get(&path, &admin).await;
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            for token in [&admin, &hr, &session] {
                let signature = token.rsplit('.').next().unwrap();
                assert!(!text.contains(signature), "a listing never holds a token");
            }
            let page: Value = serde_json::from_str(&text).unwrap();
            listed.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut jtis: Vec<String> = listed.iter().map(|row| row["jti"].as_str().unwrap().to_owned()).collect();
        jtis.sort();
        let mut expected = working.clone();
        expected.sort();
        assert_eq!(jtis, expected, "every working token and session once, not the expired one");
        let hr_row = listed.iter().find(|row| row["jti"] == jti_of(&app, &hr).to_string()).unwrap();
        assert_eq!(hr_row["subject"], "dan@example.com");
        assert_eq!(hr_row["role"], "hr");
        assert_eq!(hr_row["kind"], "api");
        assert!(hr_row["person_id"].is_string());
        let session_row = listed.iter().find(|row| row["jti"] == jti_of(&app, &session).to_string()).unwrap();
        assert_eq!(session_row["kind"], "session");

        let hr_jti = jti_of(&app, &hr);
        assert_eq!(app.get("/api/v1/tokens", &hr).await.status(), 403, "hr lists nothing");
        assert_eq!(delete(&app, &format!("/api/v1/tokens/{hr_jti}"), &hr).await.status(), 403);
        assert_eq!(delete(&app, &format!("/api/v1/tokens/{hr_jti}"), &admin).await.status(), 204);
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401);
        assert_eq!(delete(&app, &format!("/api/v1/tokens/{hr_jti}"), &admin).await.status(), 204, "again: nothing changes");
        let session_jti = jti_of(&app, &session);
        assert_eq!(delete(&app, &format!("/api/v1/tokens/{session_jti}"), &admin).await.status(), 204);
        assert_eq!(dashboard_status(&app, &cookie).await, 303, "the session is gone");
        let unknown = delete(&app, &format!("/api/v1/tokens/{}", Uuid::new_v4()), &admin).await;
        assert_eq!(unknown.status(), 404);
        let problem: Value = unknown.json().await.unwrap();
        assert_eq!(problem["code"], "not_found");

        let listed: Value = app.get("/api/v1/tokens?limit=200", &admin).await.json().await.unwrap();
        let remaining: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|row| row["jti"].as_str().unwrap()).collect();
        assert_eq!(remaining.len(), working.len() - 2);
        assert!(remaining.contains(&jti_of(&app, &admin).to_string().as_str()));
        assert!(!remaining.contains(&hr_jti.to_string().as_str()) && !remaining.contains(&session_jti.to_string().as_str()));
        let entries = audit_entries(&app, "token.revoked").await;
        let targets: Vec<String> = entries.iter().filter_map(|entry| entry.target.clone()).collect();
        assert_eq!(targets, vec![hr_jti.to_string(), session_jti.to_string()], "each revocation once");
        assert_eq!(entries[0].actor, "admin@example.com");
        assert_eq!(entries[0].details, json!({ "role": "hr", "kind": "api" }));
    }

    async fn the_command_line_lists_and_revokes_tokens_and_refuses_unknown_ids_and_roles_not_held(app) {
        let hr = app.token(Role::Hr, "eve@example.com").await;
        let jti = jti_of(&app, &hr).to_string();
        let (listed, stdout, stderr) = cli(&app, &["token", "list"]).await;
        assert!(listed, "{stderr}");
        let line = stdout.lines().find(|line| line.starts_with(&jti)).expect("the token is listed");
        assert!(line.contains(" api hr eve@example.com issued "), "{line}");
        assert!(!stdout.contains(hr.rsplit('.').next().unwrap()), "never the token itself");

        let (revoked, _, stderr) = cli(&app, &["token", "revoke", &jti]).await;
        assert!(revoked, "{stderr}");
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401);
        let entries = audit_entries(&app, "token.revoked").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].actor, "cli");
        assert_eq!(entries[0].target.as_deref(), Some(jti.as_str()));
        let (_, stdout, _) = cli(&app, &["token", "list"]).await;
        assert!(!stdout.contains(&jti), "a revoked token is not listed");

        let unknown = Uuid::new_v4().to_string();
        for (args, expected) in [
            (["token", "revoke", unknown.as_str()], "no token with id"),
            (["token", "revoke", "not-a-jti"], "is not a token id"),
        ] {
            let (succeeded, _, stderr) = cli(&app, &args).await;
            assert!(!succeeded, "{args:?}");
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
            assert!(stderr.contains(expected), "{stderr}");
        }

        person_with_roles(&app, "fay@example.com", &[]).await;
        let (issued, _, stderr) =
            cli(&app, &["token", "issue", "--role", "admin", "--subject", "fay@example.com"]).await;
        assert!(!issued, "fay holds no admin grant");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("does not hold the admin role"), "{stderr}");
        assert!(rows_naming(&app, "fay@example.com").await.is_empty(), "nothing issued");
    }
}
