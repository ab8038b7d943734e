//! Action plans through the API and the dashboard (issue 13, point 4): after a
//! round closes a team's leader records up to three commitments, edits them and
//! marks them done; HR reads them counted per team and dimension; every change is
//! audited; nothing about them touches a release; the forms of the team page refuse
//! other sites, forms without the session's CSRF field and teams not led; the next
//! digest reminds the leader of open commitments. On both databases.

use safepulse_domain::Role;
use safepulse_store::entities::{action_commitment, outbox, release};
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::dashboard::{csrf_of, new_hr_person, page, signed_in};
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

/// Posts a dashboard form as the browser does (same origin, the session cookie):
/// the status, the `Location` and the body.
async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    fetch_site: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let response = app
        .client
        .post(app.url(path))
        .header("Cookie", cookie)
        .header("Sec-Fetch-Site", fetch_site)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, response.text().await.unwrap())
}

async fn stored_commitments(app: &TestApp) -> Vec<action_commitment::Model> {
    action_commitment::Entity::find()
        .all(app.state.store.connection())
        .await
        .unwrap()
}

on_both_databases! {
    async fn a_leader_commits_on_the_team_page_the_forms_refuse_others_hr_lists_them_and_the_next_digest_reminds(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let leader = signed_in(&app, "lead.t0@example.com").await;
        let team_path = format!("/dashboard/teams/{}", org.teams[0]);
        let (status, html) = page(&app, &team_path, &leader).await;
        assert_eq!(status, 200);
        assert!(html.contains("Commit to an action after the Pulse of"), "{html}");
        let csrf = csrf_of(&html);
        let create_path = format!("{team_path}/commitments");
        let round = round_id.to_string();
        let due = due_in_days(&app, 21);
        let action = "A 30-minute retro every second Friday";
        let fields = [
            ("csrf", csrf.as_str()),
            ("round_id", round.as_str()),
            ("dimension", "feedback"),
            ("action", action),
            ("due_on", due.as_str()),
        ];

        // Refused without the session's CSRF field, and from another site.
        let (status, _, _) = post_form(&app, &create_path, &leader, "same-origin", &fields[1..]).await;
        assert_eq!(status, 403);
        let (status, _, _) = post_form(&app, &create_path, &leader, "cross-site", &fields).await;
        assert_eq!(status, 403);
        // Refused for a team the signed-in manager does not lead.
        let other = signed_in(&app, "lead.t1@example.com").await;
        let other_csrf = csrf_of(&page(&app, "/dashboard", &other).await.1);
        let mut others = fields;
        others[0] = ("csrf", other_csrf.as_str());
        let (status, _, _) = post_form(&app, &create_path, &other, "same-origin", &others).await;
        assert_eq!(status, 403);
        assert!(stored_commitments(&app).await.is_empty(), "nothing stored by a refused form");

        // Every problem named on the page again, nothing stored.
        let (status, _, html) = post_form(&app, &create_path, &leader, "same-origin", &[
            ("csrf", csrf.as_str()), ("round_id", round.as_str()), ("dimension", "recommendation"), ("action", " "), ("due_on", "2020-01-01"),
        ]).await;
        assert_eq!(status, 422);
        for expected in ["Nothing was saved", "say what you will do", "a date from today on", "choose one of the dimensions"] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
        assert!(stored_commitments(&app).await.is_empty());

        // Created through the store the API uses, listed with its status.
        let (status, location, _) = post_form(&app, &create_path, &leader, "same-origin", &fields).await;
        assert_eq!((status, location.as_str()), (303, format!("{team_path}#action-plan").as_str()));
        let stored = stored_commitments(&app).await;
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].dimension.as_str(), stored[0].action.as_str(), stored[0].round_id.0), ("feedback", action, round_id));
        let (_, html) = page(&app, &team_path, &leader).await;
        assert!(html.contains(action) && html.contains("Mark done"), "{html}");
        let api: Value = app.get(&format!("/api/v1/teams/{}/commitments", org.teams[0]), &app.token(Role::Manager, "lead.t0@example.com").await).await.json().await.unwrap();
        assert_eq!(api[0]["action"], action, "the API reads what the form wrote");

        // Marked done; another leader may not.
        let update_path = format!("/dashboard/commitments/{}", stored[0].id);
        let (status, _, _) = post_form(&app, &update_path, &other, "same-origin", &[("csrf", other_csrf.as_str()), ("done", "true")]).await;
        assert_eq!(status, 403);
        let (status, _, _) = post_form(&app, &update_path, &leader, "same-origin", &[("done", "true")]).await;
        assert_eq!(status, 403, "no CSRF field");
        let (status, _, _) = post_form(&app, &update_path, &leader, "same-origin", &[("csrf", csrf.as_str()), ("due_on", "2020-01-01")]).await;
        assert_eq!(status, 422, "a new date in the past");
        assert!(stored_commitments(&app).await[0].done_at.is_none());

        // HR lists every team's plan and downloads it; a manager may not.
        new_hr_person(&app, "people@example.com", org.department).await;
        let hr = signed_in(&app, "people@example.com").await;
        let (status, html) = page(&app, "/dashboard/commitments", &hr).await;
        assert_eq!(status, 200);
        assert!(html.contains("Team 0") && html.contains(action) && html.contains("Feedback: 1 open"), "{html}");
        let (status, csv) = page(&app, "/dashboard/commitments.csv", &hr).await;
        assert_eq!(status, 200);
        assert!(csv.starts_with("team_id,team_name,dimension,action,status,due_on") && csv.contains(action), "{csv}");
        assert_eq!(page(&app, "/dashboard/commitments", &leader).await.0, 403);
        let (_, html) = page(&app, &team_path, &hr).await;
        assert!(html.contains(action) && !html.contains("Mark done"), "HR reads the plan, writes nothing");

        // The next pulse's digest reminds the leader of the open commitment.
        let survey = app.round_row(round_id).await.survey_id.0;
        let next = app.open_round(survey).await;
        let items = app.item_count(next).await;
        for token in app.link_tokens(next).await.values() {
            app.submit_directly(token, 5, items).await;
        }
        app.close_round(next).await;
        let digests = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq("digest"))
            .filter(outbox::Column::RoundId.eq(next))
            .all(app.state.store.connection())
            .await
            .unwrap();
        let reminded: Vec<Option<Uuid>> = digests
            .iter()
            .filter(|row| row.payload.to_string().contains(action))
            .map(|row| row.person_id.map(|id| id.0))
            .collect();
        assert_eq!(reminded, [Some(org.leaders[0])], "only the team's leader is reminded");

        // Done: the page says so, and the next digest no longer lists it.
        let (status, _, _) = post_form(&app, &update_path, &leader, "same-origin", &[("csrf", csrf.as_str()), ("done", "true")]).await;
        assert_eq!(status, 303);
        assert!(stored_commitments(&app).await[0].done_at.is_some());
        let (_, html) = page(&app, &team_path, &leader).await;
        assert!(html.contains("Open again"), "{html}");
    }
}
