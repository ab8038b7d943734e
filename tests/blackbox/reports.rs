//! Reports (issue 6): JSON reports equal the stored releases, suppressed rounds
//! carry no figures anywhere, managers read only their subtree and the node above,
//! a reader promoted after a round opened does not see it, the HR export pages
//! through everything without sums of squares, and every view is audited.

use safepulse_anonymizer::{ReleasedFigures, RoundedFigures, StoredForm};
use safepulse_domain::{Clock, Role, RoundId};
use safepulse_store::answers::SubmitOutcome;
use safepulse_store::entities::release::{self, ReleaseStatus};
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

async fn tick_at(app: &TestApp, at: chrono::DateTime<chrono::Utc>) {
    app.clock.set(at);
    app.scheduler().tick(at).await.expect("the tick runs");
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let response = app.get(path, token).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

on_both_databases! {
    async fn an_open_round_shows_participation_rounded_to_k_for_large_teams_only_and_at_most_daily(app) {
        let org = app.create_org(&[20, 4]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let items = app.item_count(round_id).await;
        let tokens = app.link_tokens(round_id).await;
        let large_team = &org.members[0];
        let opened = app.clock.now();
        let hr = app.token(Role::Hr, "people@example.com").await;
        let shown = |report: &Value| -> Option<u64> {
            report["open_rounds"]
                .as_array()
                .unwrap()
                .iter()
                .find(|entry| entry["round_id"] == round_id.to_string())
                .map(|entry| entry["respondents_at_least"].as_u64().unwrap())
        };

        for member in &large_team[..7] {
            assert_eq!(app.submit_directly(&tokens[member], 4, items).await, SubmitOutcome::Accepted);
        }
        tick_at(&app, opened + chrono::Duration::minutes(1)).await;
        let (_, team) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[0]), &hr).await;
        assert_eq!(shown(&team), Some(5), "7 answers of 20 show as 5 (k = 5)");
        let (_, department) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.department), &hr).await;
        assert_eq!(shown(&department), Some(5));
        let (_, small) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[1]), &hr).await;
        assert_eq!(shown(&small), None, "4 invitees are fewer than 2k: nothing is shown");

        for member in &large_team[7..11] {
            assert_eq!(app.submit_directly(&tokens[member], 4, items).await, SubmitOutcome::Accepted);
        }
        tick_at(&app, opened + chrono::Duration::hours(2)).await;
        let (_, team) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[0]), &hr).await;
        assert_eq!(shown(&team), Some(5), "not recomputed within a day");
        // The next refresh falls at a random moment of the day after the first.
        tick_at(&app, opened + chrono::Duration::hours(49)).await;
        let (_, team) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[0]), &hr).await;
        assert_eq!(shown(&team), Some(10), "11 answers show as 10 two days later");
        let entry = team["open_rounds"][0].clone();
        let as_of = entry["as_of"].as_str().unwrap();
        assert_eq!(
            as_of,
            (opened + chrono::Duration::hours(49)).date_naive().to_string(),
            "the day only, no time"
        );

        let manager = app.token(Role::Manager, "lead.t1@example.com").await;
        let (status, _) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[0]), &manager).await;
        assert_eq!(status, 403, "a sibling team's participation is not the manager's to read");

        app.close_round(round_id).await;
        let (_, team) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[0]), &hr).await;
        assert_eq!(shown(&team), None, "a closed round shows its release instead");
        let kept = safepulse_store::participation::of_rounds(app.state.store.connection(), &[RoundId(round_id)])
            .await
            .unwrap();
        assert!(kept.is_empty(), "closing deletes the participation figures");
        tick_at(&app, opened + chrono::Duration::hours(100)).await;
        let kept = safepulse_store::participation::of_rounds(app.state.store.connection(), &[RoundId(round_id)])
            .await
            .unwrap();
        assert!(kept.is_empty(), "and no refresh brings them back");
    }

    async fn an_hr_report_equals_the_stored_releases_and_hidden_rounds_carry_no_figures(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let hr = app.token(Role::Hr, "people@example.com").await;
        let stored = release::Entity::find()
            .filter(release::Column::RoundId.eq(round_id))
            .all(app.state.store.connection())
            .await
            .unwrap();
        let mut suppressed_seen = false;
        for node in [org.department, org.teams[0], org.teams[1]] {
            let (status, report) = get_json(&app, &format!("/api/v1/reports/teams/{node}"), &hr).await;
            assert_eq!(status, 200, "{report}");
            let rounds = report["rounds"].as_array().unwrap();
            assert_eq!(rounds.len(), 1);
            let shown = &rounds[0]["release"];
            let stored = stored.iter().find(|row| row.node_id.0 == node).unwrap();
            assert_eq!(shown["status"], stored.status.to_value());
            match &stored.figures {
                Some(figures) => {
                    let stored = match stored.status {
                        ReleaseStatus::Released => json!(ReleasedFigures::from_stored(figures).unwrap()),
                        _ => json!(RoundedFigures::from_stored(figures).unwrap()),
                    };
                    assert_eq!(shown["figures"], stored, "figures exactly as released");
                }
                None => {
                    suppressed_seen = true;
                    assert_eq!(shown, &json!({ "status": "suppressed", "reason": "hidden_to_protect_anonymity" }));
                }
            }
        }
        assert!(suppressed_seen, "Rule B hides one of the two teams (the leaders' residual)");

        let (status, heatmap) = get_json(&app, &format!("/api/v1/reports/rounds/{round_id}/heatmap"), &hr).await;
        assert_eq!(status, 200);
        let rows = heatmap.as_array().unwrap();
        assert_eq!(rows.len(), 4, "hr reads every node, the Leadership node included");
        for row in rows {
            assert_eq!(row["status"] == "suppressed", row["cells"].as_array().unwrap().is_empty());
        }
    }

    async fn a_manager_reads_their_team_and_the_department_but_not_a_sibling_team(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let manager = app.token(Role::Manager, "lead.t0@example.com").await;
        let (status, _) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[0]), &manager).await;
        assert_eq!(status, 200);
        let (status, department) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.department), &manager).await;
        assert_eq!(status, 200);
        assert_eq!(department["rounds"].as_array().unwrap().len(), 1, "counted as a viewer of the department");
        let (status, problem) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[1]), &manager).await;
        assert_eq!(status, 403);
        assert_eq!(problem["code"], "forbidden");
        let (status, heatmap) = get_json(&app, &format!("/api/v1/reports/rounds/{round_id}/heatmap"), &manager).await;
        assert_eq!(status, 200);
        let mut nodes: Vec<Uuid> = heatmap
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["node_id"].as_str().unwrap().parse().unwrap())
            .collect();
        nodes.sort();
        let mut expected = vec![org.department, org.teams[0]];
        expected.sort();
        assert_eq!(nodes, expected, "no sibling team, no Leadership node");
        let (status, _) = get_json(&app, "/api/v1/releases", &manager).await;
        assert_eq!(status, 403, "the export is for hr");
    }

    async fn a_reader_promoted_after_a_round_opened_does_not_see_that_round(app) {
        let (org, _round_id) = app.closed_round_of_two_teams().await;
        let admin = app.admin_token().await;
        let promoted = org.members[1][0];
        let response = app
            .client
            .put(app.url(&format!("/api/v1/teams/{}/leaders/{promoted}", org.teams[1])))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let manager = app.token(Role::Manager, "m0.t1@example.com").await;
        let (status, report) = get_json(&app, &format!("/api/v1/reports/teams/{}", org.teams[1]), &manager).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["rounds"], json!([]), "their own answer sat in that team uncounted as a viewer");
    }

    async fn the_hr_export_pages_through_every_release_and_every_view_is_audited(app) {
        let (_org, round_id) = app.closed_round_of_two_teams().await;
        let hr = app.token(Role::Hr, "people@example.com").await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/releases?limit=3&round_id={round_id}&cursor={cursor}"),
                None => format!("/api/v1/releases?limit=3&round_id={round_id}"),
            };
            let response = app.get(&path, &hr).await;
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            assert!(!text.contains("sum_of_squares"), "sums of squares never leave the store");
            let page: Value = serde_json::from_str(&text).unwrap();
            for row in page["items"].as_array().unwrap() {
                seen.push(row["id"].as_str().unwrap().to_owned());
                if row["release"]["status"] == "suppressed" {
                    assert!(row["release"].get("figures").is_none());
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 4);

        let admin = app.admin_token().await;
        let (status, _) = get_json(&app, &format!("/api/v1/reports/rounds/{round_id}/heatmap"), &admin).await;
        assert_eq!(status, 403, "admin reads results only with the hr role");
        let (status, audit) = get_json(&app, "/api/v1/audit?limit=200", &admin).await;
        assert_eq!(status, 200);
        let exported = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["action"] == "report.exported" && entry["actor"] == "people@example.com")
            .count();
        assert_eq!(exported, 2, "each export page is audited");
    }
}
