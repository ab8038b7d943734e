//! Issue 12 §5: the API does what its OpenAPI document says. Each test is a finding
//! of the schemathesis run or of the hand-made attempts next to it (the bounded
//! schemathesis run itself is `tests/schemathesis/run`).

use std::time::{Duration, Instant};

use safepulse_domain::Role;
use safepulse_tests::{TestApp, on_both_databases};
use serde_json::{Value, json};

const HEADER: &str = "email,name,team,leads,time_zone,locale\n";

async fn import(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/people/import"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

async fn request(app: &TestApp, method: &str, path: &str, token: &str) -> reqwest::Response {
    app.client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn count(app: &TestApp, path: &str, token: &str) -> usize {
    let page: Value = app.get(path, token).await.json().await.unwrap();
    page["items"].as_array().unwrap().len()
}

/// Names no person, team or survey may have: each breaks a line (the subject or a
/// header of an invitation), changes the direction of text around it, or hides.
const BAD_NAMES: [&str; 8] = [
    "Ops\r\nBcc: everyone@example.com",
    "Ops\n",
    "Ops\0",
    "Ops\u{1b}[2J",
    "Ops\u{85}",
    "gpj.\u{202e}exe",
    "O\u{200b}ps",
    "\u{feff}Ops",
];

/// A 50,000-row file (the documented maximum): 50 teams under two levels, every
/// tenth person leading their team.
fn large_file(name_suffix: &str) -> String {
    let mut csv = String::from(HEADER);
    for row in 0..50_000 {
        let leads = row % 10 == 0 && row < 500;
        csv.push_str(&format!(
            "person{row}@example.com,Person {row}{name_suffix},Company/Team {},{leads},Europe/Berlin,de\n",
            row % 50
        ));
    }
    csv
}

on_both_databases! {
    async fn a_role_is_granted_and_revoked_only_by_its_exact_name(app) {
        let admin = app.admin_token().await;
        let team = app.create_team("Ops", None).await;
        let person = app.create_person("role@example.com", team).await;
        for path in ["%20hr", "hr%20", "HR", "manager", "owner"] {
            for method in ["PUT", "DELETE"] {
                let response = request(&app, method, &format!("/api/v1/people/{person}/roles/{path}"), &admin).await;
                assert_eq!(response.status(), 422, "{method} roles/{path}");
                assert_eq!(problem(response).await["errors"][0]["field"], "role");
            }
        }
        let granted = request(&app, "PUT", &format!("/api/v1/people/{person}/roles/hr"), &admin).await;
        assert_eq!(granted.status(), 204);
        let revoked = request(&app, "DELETE", &format!("/api/v1/people/{person}/roles/hr"), &admin).await;
        assert_eq!(revoked.status(), 204, "the grant was stored as `hr`");
    }

    async fn a_period_key_that_names_no_round_is_refused_not_a_server_error(app) {
        let hr = app.token(Role::Hr, "hr@example.com").await;
        for bad in ["%00", "2026-W48%00", "%0A", "x%20y", "%C3%A9"] {
            let response = app.get(&format!("/api/v1/releases?period_key={bad}"), &hr).await;
            assert_eq!(response.status(), 422, "period_key={bad}");
            assert_eq!(problem(response).await["errors"][0]["field"], "period_key");
        }
        for good in ["2026-W48", "2026-11", "manual-2026-11-30T09:00:00.000Z"] {
            let response = app.get(&format!("/api/v1/releases?period_key={good}"), &hr).await;
            assert_eq!(response.status(), 200, "period_key={good}");
        }
    }

    async fn bad_names_are_refused_alike_by_the_json_api_and_the_csv_import(app) {
        let admin = app.admin_token().await;
        let team = app.create_team("Ops", None).await;
        for bad in BAD_NAMES {
            let response = app.post_json("/api/v1/teams", &admin, &json!({ "name": bad })).await;
            assert_eq!(response.status(), 422, "team {bad:?}");
            assert_eq!(problem(response).await["errors"][0]["field"], "name");
            let response = app
                .post_json("/api/v1/people", &admin, &json!({ "email": "p@example.com", "name": bad, "team_id": team }))
                .await;
            assert_eq!(response.status(), 422, "person {bad:?}");
            let response = app
                .post_json("/api/v1/surveys", &admin, &json!({ "name": bad, "team_ids": [team] }))
                .await;
            assert_eq!(response.status(), 422, "survey {bad:?}");
            let response = app
                .patch_json(&format!("/api/v1/teams/{team}"), &admin, &json!({ "name": bad }))
                .await;
            assert_eq!(response.status(), 422, "renaming to {bad:?}");

            let mut csv = csv_writer();
            csv.write_record(["p@example.com", bad, &format!("Ops/{bad}"), "no", "UTC", "en"]).unwrap();
            let response = import(&app, &admin, "text/csv", csv.into_inner().unwrap()).await;
            assert_eq!(response.status(), 422, "import {bad:?}");
            let report: Value = response.json().await.unwrap();
            let fields: Vec<&str> = report["rejected"][0]["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|error| error["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, ["name", "team"], "import {bad:?}");
        }
        assert_eq!(count(&app, "/api/v1/teams", &admin).await, 1, "only Ops");
        assert_eq!(count(&app, "/api/v1/people", &admin).await, 0);
        let renamed = app
            .patch_json(&format!("/api/v1/teams/{team}"), &admin, &json!({ "name": "  Operations\u{a0}" }))
            .await;
        let renamed: Value = renamed.json().await.unwrap();
        assert_eq!(renamed["name"], "Operations", "trimmed, as the import trims");
    }

    async fn the_import_takes_only_csv_in_utf8_and_says_so_in_problem_json(app) {
        let admin = app.admin_token().await;
        let csv = format!("{HEADER}a@example.com,A,Ops,no,UTC,en\n");
        for wrong in ["text/csvfoo", "text/plain", "application/json", "text/csv; charset=latin1"] {
            let response = import(&app, &admin, wrong, csv.clone()).await;
            assert_eq!(response.status(), 415, "{wrong}");
            assert_eq!(problem(response).await["code"], "unsupported_media_type");
        }
        let too_large = vec![b'x'; 32 * 1024 * 1024 + 1];
        let response = import(&app, &admin, "text/csv", too_large).await;
        assert_eq!(response.status(), 413);
        assert_eq!(problem(response).await["code"], "payload_too_large");
        assert_eq!(count(&app, "/api/v1/people", &admin).await, 0);
        let response = import(&app, &admin, "text/csv; charset=UTF-8", csv).await;
        assert_eq!(response.status(), 200);
    }

    async fn an_import_reports_every_problem_unchanged_rows_and_semicolons(app) {
        let admin = app.admin_token().await;
        let response = import(&app, &admin, "text/csv", format!("{HEADER}nope,,Ops//Sub,perhaps,Mars/Base,fr\n")).await;
        assert_eq!(response.status(), 422);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["rejected"][0]["errors"].as_array().unwrap().len(), 6, "{report}");

        let semicolons = "email;name;team;leads;time_zone;locale\nada@example.com;Ada;Ops;no;UTC;en\n";
        let report: Value = import(&app, &admin, "text/csv", semicolons).await.json().await.unwrap();
        assert!(report["rejected"][0]["reason"].as_str().unwrap().contains("semicolons"), "{report}");

        let csv = format!("{HEADER}ada@example.com,Ada,Ops,yes,UTC,en\nbo@example.com,Bo,Ops,no,UTC,en\n");
        let first: Value = import(&app, &admin, "text/csv", csv.clone()).await.json().await.unwrap();
        assert_eq!((first["created"].as_u64(), first["unchanged"].as_u64()), (Some(2), Some(0)));
        let again: Value = import(&app, &admin, "text/csv", csv).await.json().await.unwrap();
        assert_eq!(
            (again["created"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()),
            (Some(0), Some(0), Some(2)),
            "{again}"
        );
        let changed = format!("{HEADER}ada@example.com,Ada,Ops,no,UTC,en\nbo@example.com,Bo B.,Ops,no,UTC,en\n");
        let changed: Value = import(&app, &admin, "text/csv", changed).await.json().await.unwrap();
        assert_eq!((changed["updated"].as_u64(), changed["unchanged"].as_u64()), (Some(2), Some(0)), "{changed}");
        let teams: Value = app.get("/api/v1/teams", &admin).await.json().await.unwrap();
        let ops = teams["items"][0]["id"].as_str().unwrap().to_owned();
        let leaders: Value = app.get(&format!("/api/v1/teams/{ops}/leaders"), &admin).await.json().await.unwrap();
        assert_eq!(leaders.as_array().unwrap().len(), 0, "Ada no longer leads Ops");
    }

    async fn a_file_of_the_documented_maximum_imports_without_stalling_the_service(app) {
        let admin = app.admin_token().await;
        let started = Instant::now();
        let response = import(&app, &admin, "text/csv", large_file("")).await;
        let status = response.status();
        let report: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{}", &report.to_string()[..report.to_string().len().min(500)]);
        assert_eq!(report["created"], 50_000);
        eprintln!("{:?}: 50,000 new people in {:?}", app.db, started.elapsed());

        // Everyone renamed: 50,000 updates, while another write (which on SQLite
        // waits for the write lock, as a submitted answer does) and /readyz are
        // made every 50 ms. Before, the import held the lock for its whole length.
        let elsewhere = app.create_team("Elsewhere", None).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let probe = {
            let (client, stop) = (app.client.clone(), stop.clone());
            let (ready, write) = (app.url("/readyz"), app.url(&format!("/api/v1/teams/{elsewhere}")));
            let admin = admin.clone();
            tokio::spawn(async move {
                let mut slowest = Duration::ZERO;
                let mut writes = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let asked = Instant::now();
                    let response = client.get(&ready).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let name = format!("Elsewhere {writes}");
                    let response = client.patch(&write).bearer_auth(&admin).json(&json!({ "name": name })).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    writes += 1;
                    slowest = slowest.max(asked.elapsed());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (slowest, writes)
            })
        };
        let started = Instant::now();
        let report: Value = import(&app, &admin, "text/csv", large_file(" Jr.")).await.json().await.unwrap();
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (slowest, writes) = probe.await.unwrap();
        assert_eq!(report["updated"], 50_000, "{}", &report.to_string()[..report.to_string().len().min(500)]);
        eprintln!("{:?}: 50,000 updates in {took:?}; {writes} writes meanwhile, the slowest with /readyz {slowest:?}", app.db);
        assert!(writes >= 3, "the probe ran during the import");
        assert!(slowest < Duration::from_secs(2), "a write and /readyz waited {slowest:?} during the import");
        let again: Value = import(&app, &admin, "text/csv", large_file(" Jr.")).await.json().await.unwrap();
        assert_eq!(again["unchanged"], 50_000);
    }

    async fn a_method_a_path_does_not_serve_answers_405_with_allow(app) {
        let admin = app.admin_token().await;
        let team = app.create_team("Ops", None).await;
        for (method, path, allow) in [
            ("TRACE", "/healthz".to_owned(), "GET, OPTIONS"),
            ("POST", "/readyz".to_owned(), "GET, OPTIONS"),
            ("DELETE", "/api/v1/teams".to_owned(), "GET, POST, OPTIONS"),
            ("PUT", format!("/api/v1/teams/{team}"), "DELETE, GET, PATCH, OPTIONS"),
            ("PATCH", "/api/v1/people/import".to_owned(), "POST, OPTIONS"),
            ("GET", "/api/v1/people/import".to_owned(), "POST, OPTIONS"),
        ] {
            let response = request(&app, method, &path, &admin).await;
            assert_eq!(response.status(), 405, "{method} {path}");
            assert_eq!(response.headers()["allow"], allow, "{method} {path}");
            assert_eq!(problem(response).await["code"], "method_not_allowed");
        }
        let options = request(&app, "OPTIONS", "/api/v1/teams", &admin).await;
        assert_eq!(options.status(), 204);
        assert_eq!(options.headers()["allow"], "GET, POST, OPTIONS");
        let page = app.client.put(app.url("/sign-in")).send().await.unwrap();
        assert_eq!(page.status(), 405, "the pages too");
        assert!(page.headers().contains_key("allow"));
        for (method, path) in [("GET", "/api/v1/nothing-here"), ("GET", "/api/v1/teams/not-a-uuid")] {
            assert_eq!(request(&app, method, path, &admin).await.status(), 404, "{method} {path}");
        }
    }

    async fn values_the_document_allows_are_accepted_and_others_refused(app) {
        let admin = app.admin_token().await;
        assert_eq!(app.get("/api/v1/teams?limit=200", &admin).await.status(), 200);
        for bad in ["limit=0", "limit=201"] {
            let response = app.get(&format!("/api/v1/teams?{bad}"), &admin).await;
            assert_eq!(response.status(), 422, "{bad}");
        }
        let response = app.get("/api/v1/teams?limit=many", &admin).await;
        assert_eq!(problem(response).await["code"], "bad_request");
        let array = app
            .client
            .patch(app.url(&format!("/api/v1/teams/{}", app.create_team("Ops", None).await)))
            .bearer_auth(&admin)
            .json(&json!([null, null, null]))
            .send()
            .await
            .unwrap();
        assert_eq!(array.status(), 422, "a body is an object, not an array of its fields");
        let missing = uuid::Uuid::new_v4();
        let response = app.post_json("/api/v1/teams", &admin, &json!({ "name": "Sub", "parent_id": missing })).await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "parent_not_found");
        let response = app
            .post_json("/api/v1/people", &admin, &json!({ "email": "x@example.com", "name": "X", "team_id": missing }))
            .await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "team_not_found");
        let response = app
            .post_json("/api/v1/surveys", &admin, &json!({ "name": "P", "team_ids": [missing], "privacy": { "k": 4_000_000_000u32, "k_detail": 4_000_000_000u32 } }))
            .await;
        assert_eq!(response.status(), 422, "k beyond what the database keeps");
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(["email", "name", "team", "leads", "time_zone", "locale"])
        .unwrap();
    writer
}
