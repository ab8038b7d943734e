//! Action plans through the API (issue 13, point 4): after a round closes a team's
//! leader records up to three commitments, edits them and marks them done; HR reads
//! them counted per team and dimension; every change is audited; nothing about them
//! touches a release. On both databases.

use safepulse_domain::Role;
use safepulse_store::entities::release;
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

fn due_in_days(app: &TestApp, days: i64) -> String {
    use safepulse_domain::Clock;
    (app.clock.now() + chrono::Duration::days(days))
        .date_naive()
        .to_string()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let response = app.post_json(path, token, &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn all_releases(app: &TestApp) -> Vec<release::Model> {
    release::Entity::find()
        .all(app.state.store.connection())
        .await
        .unwrap()
}

on_both_databases! {
    async fn a_leader_records_up_to_three_commitments_edits_them_and_hr_reads_them_counted(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let releases_before = all_releases(&app).await;
        let leader = app.token(Role::Manager, "lead.t0@example.com").await;
        let path = format!("/api/v1/teams/{}/commitments", org.teams[0]);
        let due = due_in_days(&app, 14);

        // Every problem named at once, problem+json 422.
        let (status, problem) = post(&app, &path, &leader, json!({
            "round_id": round_id, "dimension": "recommendation", "action": " ", "due_on": "yesterday"
        })).await;
        assert_eq!(status, 422, "{problem}");
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|error| error["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["dimension", "action", "due_on"]);

        let mut ids = Vec::new();
        for (dimension, action) in [("trust", "Weekly 1:1s with everyone"), ("clarity", "Write down decisions"), ("feedback", "Retro every sprint")] {
            let (status, created) = post(&app, &path, &leader, json!({
                "round_id": round_id, "dimension": dimension, "action": action, "due_on": due
            })).await;
            assert_eq!(status, 201, "{created}");
            assert_eq!(created["done"], false);
            ids.push(created["id"].as_str().unwrap().to_owned());
        }
        let (status, problem) = post(&app, &path, &leader, json!({
            "round_id": round_id, "dimension": "trust", "action": "A fourth", "due_on": due
        })).await;
        assert_eq!((status, problem["code"].as_str()), (409, Some("commitment_limit_reached")));

        // Only the team's own leader writes its plan.
        let other_leader = app.token(Role::Manager, "lead.t1@example.com").await;
        let (status, _) = post(&app, &path, &other_leader, json!({
            "round_id": round_id, "dimension": "trust", "action": "Not my team", "due_on": due
        })).await;
        assert_eq!(status, 403);
        let hr = app.token(Role::Hr, "people@example.com").await;
        let (status, _) = post(&app, &path, &hr, json!({
            "round_id": round_id, "dimension": "trust", "action": "HR writes no plan", "due_on": due
        })).await;
        assert_eq!(status, 403);

        // Edit and mark done.
        let response = app.patch_json(&format!("/api/v1/commitments/{}", ids[0]), &leader, &json!({ "action": "Weekly 1:1s, 30 minutes", "done": true })).await;
        assert_eq!(response.status(), 200);
        let edited: Value = response.json().await.unwrap();
        assert_eq!(edited["action"], "Weekly 1:1s, 30 minutes");
        assert_eq!(edited["done"], true);
        let response = app.patch_json(&format!("/api/v1/commitments/{}", ids[1]), &other_leader, &json!({ "done": true })).await;
        assert_eq!(response.status(), 403);

        // HR: counts per team and dimension, with the text.
        let response = app.get("/api/v1/commitments", &hr).await;
        assert_eq!(response.status(), 200);
        let teams: Value = response.json().await.unwrap();
        let team = &teams.as_array().unwrap()[0];
        assert_eq!(team["team_id"], org.teams[0].to_string());
        assert_eq!(team["counts"], json!([
            { "dimension": "trust", "open": 0, "done": 1 },
            { "dimension": "feedback", "open": 1, "done": 0 },
            { "dimension": "clarity", "open": 1, "done": 0 },
        ]));
        assert_eq!(team["commitments"].as_array().unwrap().len(), 3);
        assert_eq!(app.get("/api/v1/commitments", &leader).await.status(), 403, "a manager reads their own team's, not everyone's");
        let listed: Value = app.get(&path, &leader).await.json().await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 3);

        // Audited; nothing about a release changed.
        let audit: Value = app.get("/api/v1/audit?limit=200", &app.admin_token().await).await.json().await.unwrap();
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|entry| entry["action"].as_str().unwrap()).filter(|action| action.starts_with("commitment")).collect();
        assert_eq!(actions, ["commitment.created", "commitment.created", "commitment.created", "commitment.updated", "commitments.viewed"]);
        assert_eq!(all_releases(&app).await, releases_before, "a plan never touches a release");
    }

    async fn a_plan_needs_a_closed_round_that_asked_the_team(app) {
        let org = app.create_org(&[6, 6]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let leader = app.token(Role::Manager, "lead.t0@example.com").await;
        let path = format!("/api/v1/teams/{}/commitments", org.teams[0]);
        let body = json!({ "round_id": round_id, "dimension": "trust", "action": "Too early", "due_on": due_in_days(&app, 7) });
        let (status, problem) = post(&app, &path, &leader, body).await;
        assert_eq!((status, problem["code"].as_str()), (409, Some("round_not_closed")));
        let (status, problem) = post(&app, &path, &leader, json!({ "round_id": Uuid::new_v4(), "dimension": "trust", "action": "x", "due_on": due_in_days(&app, 7) })).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("round_id")));
    }
}
