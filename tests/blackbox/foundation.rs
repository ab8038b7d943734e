//! Issue 2: the admin API, auth, errors, import, limits.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use safepulse_domain::Role;
use safepulse_tests::{TestApp, on_both_databases};
use serde_json::{Value, json};

/// The active JWT key, read from the secrets directory like an attacker with file access would.
pub(crate) fn jwt_key(app: &TestApp) -> (String, Vec<u8>) {
    let entry = std::fs::read_dir(&app.secrets_dir)
        .unwrap()
        .flatten()
        .find(|entry| entry.file_name().to_string_lossy().starts_with("jwt-"))
        .expect("a JWT key file");
    let name = entry.file_name().to_string_lossy().to_string();
    let kid = name
        .trim_start_matches("jwt-")
        .trim_end_matches(".key")
        .to_owned();
    let secret = base64::engine::general_purpose::STANDARD
        .decode(std::fs::read_to_string(entry.path()).unwrap().trim())
        .unwrap();
    (kid, secret)
}

fn claims(now: i64) -> Value {
    json!({
        "iss": "safepulse", "aud": "safepulse-api", "sub": "admin@example.com", "role": "admin",
        "exp": now + 600, "iat": now, "nbf": now, "jti": uuid::Uuid::new_v4(),
    })
}

pub(crate) fn sign(
    algorithm: Algorithm,
    kid: Option<&str>,
    secret: &[u8],
    claims: &Value,
) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn problem(response: reqwest::Response) -> Value {
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    response.json().await.unwrap()
}

on_both_databases! {
    async fn health_and_readiness_answer_200(app) {
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        assert!(ready.headers().contains_key("x-request-id"));
    }

    async fn an_admin_token_creates_a_team_that_can_be_read_back(app) {
        let token = app.admin_token().await;
        let created = app
            .post_json("/api/v1/teams", &token, &json!({ "name": "Engineering", "time_zone": "Europe/Berlin" }))
            .await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        let id = created["id"].as_str().unwrap();
        let read: Value = app.get(&format!("/api/v1/teams/{id}"), &token).await.json().await.unwrap();
        assert_eq!(read["name"], "Engineering");
        assert_eq!(read["time_zone"], "Europe/Berlin");
        assert_eq!(read["parent_id"], Value::Null);
    }

    async fn tokens_failing_any_check_are_refused_with_401(app) {
        let (kid, secret) = jwt_key(&app);
        let now = chrono::Utc::now().timestamp();
        let good = claims(now);
        let mut expired = good.clone();
        expired["exp"] = json!(now - 10);
        let mut not_yet_valid = good.clone();
        not_yet_valid["nbf"] = json!(now + 600);
        let mut wrong_audience = good.clone();
        wrong_audience["aud"] = json!("someone-else");
        let mut wrong_issuer = good.clone();
        wrong_issuer["iss"] = json!("evil");
        let mut missing_iat = good.clone();
        missing_iat.as_object_mut().unwrap().remove("iat");

        let header_none = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(good.to_string());
        let alg_none = format!("{header_none}.{body}.");

        let valid_but_unrecorded = sign(Algorithm::HS256, Some(&kid), &secret, &good);
        let mut tampered = valid_but_unrecorded.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });

        let cases = [
            ("alg none", alg_none),
            ("another algorithm", sign(Algorithm::HS512, Some(&kid), &secret, &good)),
            ("expired", sign(Algorithm::HS256, Some(&kid), &secret, &expired)),
            ("not yet valid", sign(Algorithm::HS256, Some(&kid), &secret, &not_yet_valid)),
            ("wrong aud", sign(Algorithm::HS256, Some(&kid), &secret, &wrong_audience)),
            ("wrong iss", sign(Algorithm::HS256, Some(&kid), &secret, &wrong_issuer)),
            ("missing iat", sign(Algorithm::HS256, Some(&kid), &secret, &missing_iat)),
            ("unknown kid", sign(Algorithm::HS256, Some("no-such-key"), &secret, &good)),
            ("no kid", sign(Algorithm::HS256, None, &secret, &good)),
            ("another key", sign(Algorithm::HS256, Some(&kid), &[9u8; 32], &good)),
            ("tampered signature", tampered),
            ("never issued here", valid_but_unrecorded),
            ("garbage", "not.a.token".to_owned()),
        ];
        for (case, token) in cases {
            let response = app.get("/api/v1/teams", &token).await;
            assert_eq!(response.status(), 401, "{case}");
            assert_eq!(problem(response).await["code"], "unauthorized", "{case}");
        }
        let no_token = app.client.get(app.url("/api/v1/teams")).send().await.unwrap();
        assert_eq!(no_token.status(), 401);
        let issued = app.admin_token().await;
        assert_eq!(app.get("/api/v1/teams", &issued).await.status(), 200, "the control case passes");
    }

    async fn a_manager_calling_an_admin_route_gets_403(app) {
        let token = app.token(Role::Manager, "lead@example.com").await;
        let response = app.post_json("/api/v1/teams", &token, &json!({ "name": "Sneaky" })).await;
        assert_eq!(response.status(), 403);
        let body = problem(response).await;
        assert_eq!(body["code"], "forbidden");
        assert!(body["request_id"].as_str().is_some_and(|id| id.len() == 32));
    }

    async fn a_csv_with_bad_rows_reports_line_numbers_and_imports_nothing(app) {
        let token = app.admin_token().await;
        let csv = "email,name,team,leads,time_zone,locale\n\
                   ada@example.com,Ada,Engineering/Platform,true,Europe/Berlin,en\n\
                   broken-email,Bob,Engineering,false,UTC,en\n\
                   cy@example.com,Cy,Engineering,perhaps,UTC,en\n";
        let response = app
            .client
            .post(app.url("/api/v1/people/import"))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["applied"], false);
        let lines: Vec<u64> = report["rejected"].as_array().unwrap().iter().map(|row| row["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, vec![3, 4]);
        let people: Value = app.get("/api/v1/people", &token).await.json().await.unwrap();
        assert_eq!(people["items"].as_array().unwrap().len(), 0, "nothing imported");
        let teams: Value = app.get("/api/v1/teams", &token).await.json().await.unwrap();
        assert_eq!(teams["items"].as_array().unwrap().len(), 0, "no team created either");
    }

    async fn a_partial_import_applies_valid_rows_and_importing_again_changes_nothing(app) {
        let token = app.admin_token().await;
        let csv = "email,name,team,leads,time_zone,locale\n\
                   ada@example.com,Ada,Engineering/Platform,true,Europe/Berlin,de\n\
                   bo@example.com,Bo,Engineering/Platform,false,Europe/Berlin,en\n\
                   nope,Bad,Engineering,false,UTC,en\n";
        for attempt in 0..2 {
            let response = app
                .client
                .post(app.url("/api/v1/people/import?partial=true"))
                .bearer_auth(&token)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let report: Value = response.json().await.unwrap();
            assert_eq!(report["accepted"], 2);
            assert_eq!(report["created"], if attempt == 0 { 2 } else { 0 });
            assert_eq!(report["updated"], 0);
            assert_eq!(report["unchanged"], if attempt == 0 { 0 } else { 2 });
        }
        let people: Value = app.get("/api/v1/people", &token).await.json().await.unwrap();
        assert_eq!(people["items"].as_array().unwrap().len(), 2);
        let teams: Value = app.get("/api/v1/teams", &token).await.json().await.unwrap();
        assert_eq!(teams["items"].as_array().unwrap().len(), 2, "Engineering and Platform, once each");
        let platform = teams["items"].as_array().unwrap().iter().find(|team| team["name"] == "Platform").unwrap();
        let leaders: Value = app
            .get(&format!("/api/v1/teams/{}/leaders", platform["id"].as_str().unwrap()), &token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(leaders.as_array().unwrap().len(), 1);
        assert_eq!(leaders[0]["email"], "ada@example.com");
    }

    async fn making_a_team_its_own_ancestor_is_refused(app) {
        let token = app.admin_token().await;
        let top = app.create_team("Top", None).await;
        let middle = app.create_team("Middle", Some(top)).await;
        let bottom = app.create_team("Bottom", Some(middle)).await;
        for (team, new_parent) in [(top, bottom), (top, top), (middle, bottom)] {
            let response = app.patch_json(&format!("/api/v1/teams/{team}"), &token, &json!({ "parent_id": new_parent })).await;
            assert_eq!(response.status(), 409);
            assert_eq!(problem(response).await["code"], "team_cycle");
        }
        let moved = app.patch_json(&format!("/api/v1/teams/{bottom}"), &token, &json!({ "parent_id": null })).await;
        assert_eq!(moved.status(), 200, "moving to the top level is fine");
    }

    async fn an_oversized_body_gets_413(app) {
        let token = app.admin_token().await;
        let huge = "x".repeat(300 * 1024);
        let response = app.post_json("/api/v1/teams", &token, &json!({ "name": huge })).await;
        assert_eq!(response.status(), 413);
        assert_eq!(problem(response).await["code"], "payload_too_large");
    }

    async fn validation_errors_name_the_field(app) {
        let token = app.admin_token().await;
        let team = app.create_team("Ops", None).await;
        let response = app
            .post_json("/api/v1/people", &token, &json!({ "email": "nope", "name": "", "team_id": team, "locale": "xx" }))
            .await;
        assert_eq!(response.status(), 422);
        let body = problem(response).await;
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|error| error["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["email", "name", "locale"]);
        let unknown = app.post_json("/api/v1/teams", &token, &json!({ "name": "A", "colour": "red" })).await;
        assert_eq!(unknown.status(), 422);
        assert!(problem(unknown).await["detail"].as_str().is_some());
        let bad_zone = app.post_json("/api/v1/teams", &token, &json!({ "name": "A", "time_zone": "Mars/Base" })).await;
        assert_eq!(problem(bad_zone).await["errors"][0]["field"], "time_zone");
        let not_a_uuid = app.get("/api/v1/teams/not-a-uuid", &token).await;
        assert_eq!(not_a_uuid.status(), 404);
    }

    async fn lists_paginate_by_cursor_without_gaps_or_repeats(app) {
        let token = app.admin_token().await;
        let mut created = Vec::new();
        for index in 0..7 {
            created.push(app.create_team(&format!("Team {index}"), None).await);
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/teams?limit=3&cursor={cursor}"),
                None => "/api/v1/teams?limit=3".to_owned(),
            };
            let page: Value = app.get(&path, &token).await.json().await.unwrap();
            for item in page["items"].as_array().unwrap() {
                seen.push(item["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        created.sort();
        assert_eq!(seen, created);
        assert_eq!(app.get("/api/v1/teams?limit=0", &token).await.status(), 422);
    }

    async fn erasing_a_person_removes_them_and_their_leadership(app) {
        let token = app.admin_token().await;
        let team = app.create_team("Ops", None).await;
        let person = app.create_person("gone@example.com", team).await;
        let put = app.client.put(app.url(&format!("/api/v1/teams/{team}/leaders/{person}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(put.status(), 204);
        let erased = app.client.delete(app.url(&format!("/api/v1/people/{person}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(erased.status(), 204);
        assert_eq!(app.get(&format!("/api/v1/people/{person}"), &token).await.status(), 404);
        let leaders: Value = app.get(&format!("/api/v1/teams/{team}/leaders"), &token).await.json().await.unwrap();
        assert_eq!(leaders.as_array().unwrap().len(), 0);
        let delete_team = app.client.delete(app.url(&format!("/api/v1/teams/{team}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(delete_team.status(), 204, "the team is empty now");
    }

    async fn a_team_with_people_cannot_be_deleted(app) {
        let token = app.admin_token().await;
        let team = app.create_team("Ops", None).await;
        app.create_person("stay@example.com", team).await;
        let response = app.client.delete(app.url(&format!("/api/v1/teams/{team}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "team_not_empty");
    }

    async fn metrics_need_an_admin_token_and_carry_no_label_but_the_latency_buckets(app) {
        assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), 401);
        let hr = app.token(Role::Hr, "hr@example.com").await;
        assert_eq!(app.get("/metrics", &hr).await.status(), 403);
        let admin = app.admin_token().await;
        let response = app.get("/metrics", &admin).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.contains("safepulse_http_requests_total"));
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            assert!(
                !line.contains('{') || line.starts_with("safepulse_http_request_duration_seconds_bucket{le=\""),
                "no label but the latency buckets' le: {line}"
            );
        }
    }

    async fn unknown_routes_answer_problem_json_404(app) {
        let response = app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(problem(response).await["code"], "not_found");
    }

    async fn the_docs_ui_and_openapi_document_load_offline(app) {
        let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
        assert_eq!(docs.status(), 200);
        let html = docs.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "the vendored Swagger UI page");
        assert!(!html.contains("https://"), "no asset comes from another host");
        let document: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(document["openapi"], "3.1.0");
    }
}
