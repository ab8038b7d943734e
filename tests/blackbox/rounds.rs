//! Surveys, and rounds opening and closing (issue 4): the survey API, one
//! invitation per person, leaders in the Leadership node, the close transaction
//! freezing releases and destroying the round's keys, and close racing submits.

use std::collections::HashSet;

use safepulse_anonymizer::{ReleasedFigures, StoredForm};
use safepulse_domain::keys::LinkToken;
use safepulse_domain::{Clock, NodeId, RoundId};
use safepulse_rounds::rounds::{self, CloseOutcome, RawRetention};
use safepulse_store::answers::SubmitOutcome;
use safepulse_store::entities::outbox::OutboxKind;
use safepulse_store::entities::release::ReleaseStatus;
use safepulse_store::entities::{
    invitation, open_comment, open_response, outbox, release, round, round_node,
};
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

async fn item_count(app: &TestApp, round_id: Uuid) -> usize {
    app.item_count(round_id).await
}

/// Answers with the same mid-scale value on every item (valid on 1–7 and 0–10).
async fn submit(
    app: &TestApp,
    token: &LinkToken,
    items: usize,
    comment: Option<&str>,
) -> SubmitOutcome {
    app.submit_with_comment(token, 4, items, comment).await
}

async fn round_row(app: &TestApp, round_id: Uuid) -> round::Model {
    round::Entity::find_by_id(round_id)
        .one(app.state.store.connection())
        .await
        .unwrap()
        .unwrap()
}

on_both_databases! {
    async fn a_survey_gets_sensible_defaults_and_bad_settings_are_refused_with_the_field(app) {
        let team = app.create_team("Platform", None).await;
        let token = app.admin_token().await;
        let survey = app.create_survey(&[team], json!({})).await;
        let body: serde_json::Value =
            app.get(&format!("/api/v1/surveys/{survey}"), &token).await.json().await.unwrap();
        assert_eq!(body["status"], "active");
        assert_eq!(body["include_subteams"], true);
        assert_eq!(
            body["privacy"],
            json!({ "k": 5, "k_detail": 10, "restricted_release": "suppressed" })
        );
        assert_eq!(body["window_hours"], 96);
        assert_eq!(body["cadence"]["frequency"], "every_n_weeks");
        assert_eq!(body["questions"]["rotating"]["items_per_round"], 8);

        for (bad, field) in [
            (json!({ "privacy": { "k": 3, "k_detail": 10 } }), "privacy"),
            (json!({ "privacy": { "k": 5, "k_detail": 6 } }), "privacy"),
            (json!({ "cadence": { "frequency": "weekly", "weekday": "sunday", "local_time": "09:00" } }), "settings"),
            (json!({ "cadence": { "frequency": "weekly", "weekday": "monday", "local_time": "23:00" } }), "settings"),
            (json!({ "questions": { "fixed": { "items": ["no-such-item"] } } }), "settings"),
            (json!({ "reminders": { "after_hours": [200] } }), "settings"),
            (json!({ "team_ids": [] }), "team_ids"),
        ] {
            let mut body = json!({ "name": "Bad", "team_ids": [team] });
            body.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
            let response = app.post_json("/api/v1/surveys", &token, &body).await;
            assert_eq!(response.status(), 422, "{body}");
            let problem: serde_json::Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "validation_failed");
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        let unknown_team = app
            .post_json("/api/v1/surveys", &token, &json!({ "name": "X", "team_ids": [Uuid::new_v4()] }))
            .await;
        assert_eq!(unknown_team.status(), 409);
    }

    async fn opening_invites_everyone_once_and_leaders_answer_into_the_leadership_node(app) {
        let org = app.create_org(&[5, 5]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let db = app.state.store.connection();

        let invitations = invitation::Entity::find()
            .filter(invitation::Column::RoundId.eq(round_id))
            .all(db)
            .await
            .unwrap();
        assert_eq!(invitations.len(), 12, "10 members and 2 leaders");
        let people: HashSet<Uuid> = invitations.iter().map(|row| row.person_id.0).collect();
        assert_eq!(people.len(), 12, "one invitation per person");
        assert!(invitations.iter().all(|row| row.lookup.as_ref().is_some_and(|lookup| lookup.len() == 32)));

        let nodes = round_node::Entity::find()
            .filter(round_node::Column::RoundId.eq(round_id))
            .all(db)
            .await
            .unwrap();
        let leadership = nodes.iter().find(|node| node.kind == "leadership").expect("a Leadership node");
        assert_eq!(leadership.parent_node_id, Some(NodeId(org.department)), "under the round's root");
        assert_eq!(leadership.invited, 2);
        assert_eq!(leadership.viewers, 0, "only hr reads the Leadership node");
        for leader in &org.leaders {
            let own = invitations.iter().find(|row| row.person_id.0 == *leader).unwrap();
            assert_eq!(own.node_id, leadership.node_id);
        }
        let department = nodes.iter().find(|node| node.node_id.0 == org.department).unwrap();
        assert_eq!(department.viewers, 2, "both leaders read the node above their team");
        for team in &org.teams {
            let node = nodes.iter().find(|node| node.node_id.0 == *team).unwrap();
            assert_eq!((node.invited, node.viewers), (5, 0));
        }

        let queued = outbox::Entity::find()
            .filter(outbox::Column::RoundId.eq(round_id))
            .filter(outbox::Column::Kind.eq("invitation"))
            .all(db)
            .await
            .unwrap();
        assert_eq!(queued.len(), 12);
        let message_ids: HashSet<&str> = queued.iter().map(|row| row.message_id.as_str()).collect();
        assert_eq!(message_ids.len(), 12, "a random Message-ID per email");
        assert!((5..=10).contains(&item_count(&app, round_id).await));

        let token = app.admin_token().await;
        let again = app
            .post_json(&format!("/api/v1/surveys/{survey}/rounds"), &token, &json!({}))
            .await;
        assert_eq!(again.status(), 409);
        let problem: serde_json::Value = again.json().await.unwrap();
        assert_eq!(problem["code"], "round_already_open");
    }

    async fn thresholds_change_up_or_down_after_a_round_but_never_below_the_floors(app) {
        let org = app.create_org(&[5]).await;
        let survey = app
            .create_survey(&[org.department], json!({ "privacy": { "k": 6, "k_detail": 12 } }))
            .await;
        let first = app.open_round(survey).await;
        let token = app.admin_token().await;
        let path = format!("/api/v1/surveys/{survey}");
        for (privacy, direction) in [
            (json!({ "k": 8, "k_detail": 14, "restricted_release": "suppressed" }), "up"),
            (json!({ "k": 4, "k_detail": 7, "restricted_release": "rounded" }), "down to the floors, rounded"),
        ] {
            let response = app.patch_json(&path, &token, &json!({ "privacy": privacy })).await;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{direction}: {body}");
            assert_eq!(body["privacy"], privacy, "{direction}");
        }
        for (privacy, floor) in [
            (json!({ "k": 3, "k_detail": 7 }), "k must be at least 4, not 3"),
            (json!({ "k": 4, "k_detail": 6 }), "k_detail must be at least max(k, 7) = 7, not 6"),
            (json!({ "k": 9, "k_detail": 8 }), "k_detail must be at least max(k, 7) = 9, not 8"),
        ] {
            let response = app.patch_json(&path, &token, &json!({ "privacy": privacy })).await;
            assert_eq!(response.status(), 422, "{privacy}");
            let problem: serde_json::Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "validation_failed");
            assert_eq!(problem["errors"][0]["field"], "privacy");
            assert_eq!(problem["errors"][0]["message"], floor, "{problem}");
        }
        let stored: serde_json::Value = app.get(&path, &token).await.json().await.unwrap();
        assert_eq!(
            stored["privacy"],
            json!({ "k": 4, "k_detail": 7, "restricted_release": "rounded" }),
            "refused changes changed nothing"
        );

        let opened_with = round_row(&app, first).await;
        assert_eq!((opened_with.k, opened_with.k_detail), (6, 12), "an open round keeps its thresholds");
        assert_eq!(opened_with.restricted_release, "suppressed");
        app.close_round(first).await;
        let next = round_row(&app, app.open_round(survey).await).await;
        assert_eq!((next.k, next.k_detail), (4, 7), "the next round opens with the new ones");
        assert_eq!(next.restricted_release, "rounded");
    }

    async fn a_paused_survey_opens_no_round_until_resumed(app) {
        let org = app.create_org(&[5]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let token = app.admin_token().await;
        let paused = app
            .post_json(&format!("/api/v1/surveys/{survey}/pause"), &token, &json!({}))
            .await;
        assert_eq!(paused.status(), 200);
        let refused = app
            .post_json(&format!("/api/v1/surveys/{survey}/rounds"), &token, &json!({}))
            .await;
        assert_eq!(refused.status(), 409);
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "survey_not_active");
        app.post_json(&format!("/api/v1/surveys/{survey}/resume"), &token, &json!({})).await;
        app.open_round(survey).await;
    }

    async fn closing_freezes_the_releases_and_destroys_the_round_keys(app) {
        let org = app.create_org(&[6, 6]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let items = item_count(&app, round_id).await;
        let tokens = app.link_tokens(round_id).await;
        for (index, token) in tokens.values().enumerate() {
            let comment = (index % 3 == 0).then_some("We should talk about the deadlines.");
            assert_eq!(submit(&app, token, items, comment).await, SubmitOutcome::Accepted);
        }
        let any_token = tokens.values().next().unwrap();
        assert_eq!(submit(&app, any_token, items, None).await, SubmitOutcome::AlreadyAnswered);

        let closed = app.close_round(round_id).await;
        assert_eq!(closed["status"], "closed");
        let db = app.state.store.connection();
        let round = round_row(&app, round_id).await;
        assert!(app.state.keys.keyring().read(RoundId(round_id)).unwrap().is_none(), "the round's key is destroyed");
        assert!(round.scrubbed_at.is_some(), "the shredding is recorded");
        let lookups = invitation::Entity::find()
            .filter(invitation::Column::RoundId.eq(round_id))
            .filter(invitation::Column::Lookup.is_not_null())
            .count(db)
            .await
            .unwrap();
        assert_eq!(lookups, 0, "every lookup is nulled");
        for open_rows in [
            open_response::Entity::find().filter(open_response::Column::RoundId.eq(round_id)).count(db).await.unwrap(),
            open_comment::Entity::find().filter(open_comment::Column::RoundId.eq(round_id)).count(db).await.unwrap(),
        ] {
            assert_eq!(open_rows, 0, "no open rows survive the close");
        }
        let releases = release::Entity::find()
            .filter(release::Column::RoundId.eq(round_id))
            .all(db)
            .await
            .unwrap();
        assert_eq!(releases.len(), 4, "department, two teams, Leadership");
        assert!(releases.iter().all(|row| (row.status == ReleaseStatus::Released) == row.figures.is_some()));
        let department = releases.iter().find(|row| row.node_id.0 == org.department).unwrap();
        assert_eq!(department.status, ReleaseStatus::Released);
        let figures = ReleasedFigures::from_stored(department.figures.as_deref().unwrap()).unwrap();
        assert_eq!(figures.respondents, 14);
        let leadership = releases
            .iter()
            .find(|row| row.node_id.0 != org.department && !org.teams.contains(&row.node_id.0))
            .unwrap();
        assert_eq!(
            leadership.status,
            ReleaseStatus::Suppressed,
            "two leaders are fewer than k"
        );

        let frozen: Vec<release::Model> = releases.clone();
        let again = app.close_round(round_id).await;
        assert_eq!(again["closed_at"], closed["closed_at"], "closing twice changes nothing");
        let after = release::Entity::find()
            .filter(release::Column::RoundId.eq(round_id))
            .all(db)
            .await
            .unwrap();
        assert_eq!(after, frozen);
        assert_eq!(submit(&app, any_token, items, None).await, SubmitOutcome::NotOpen, "late answers are refused");
        let digests = outbox::Entity::find()
            .filter(outbox::Column::RoundId.eq(round_id))
            .all(db)
            .await
            .unwrap();
        assert!(digests.iter().all(|row| row.kind == OutboxKind::Digest), "unsent invitations go, digests come");
        assert_eq!(digests.len(), 2, "one digest per leader");
    }

    async fn close_racing_submits_never_accepts_an_answer_it_then_drops(app) {
        let org = app.create_org(&[24]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let items = item_count(&app, round_id).await;
        let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();
        let app = std::sync::Arc::new(app);
        let mut submits = Vec::new();
        for token in tokens {
            let app = app.clone();
            submits.push(tokio::spawn(async move { submit(&app, &token, items, None).await }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let outcome = rounds::close_round(
            &app.state.store,
            &app.state.bank,
            &app.state.keys,
            rounds::CloseRequest {
                round_id: RoundId(round_id),
                now: app.clock.now(),
                retention: RawRetention::Delete,
                report_base_url: "http://127.0.0.1",
                mail_host: "localhost",
            },
        )
        .await
        .unwrap();
        let mut accepted = 0;
        for submit in submits {
            match submit.await.unwrap() {
                SubmitOutcome::Accepted => accepted += 1,
                SubmitOutcome::NotOpen => {}
                SubmitOutcome::AlreadyAnswered => panic!("each token answered once"),
            }
        }
        assert_eq!(outcome, CloseOutcome::Closed { counted_responses: accepted });
    }
}

/// After close, neither the SQLite file nor its write-ahead log holds any of the
/// round's ballots or lookups: `secure_delete` zeroes freed pages and the
/// truncating checkpoint empties the WAL (DESIGN §2 "Close", step 7).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_close_the_sqlite_files_hold_no_ballot_or_lookup_of_the_round() {
    let app = safepulse_tests::spawn_app(safepulse_tests::Db::Sqlite).await;
    let org = app.create_org(&[8]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let items = item_count(&app, round_id).await;
    let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();
    let round = round_row(&app, round_id).await;
    let salt: [u8; 32] = app
        .state
        .keys
        .keyring()
        .read(RoundId(round_id))
        .unwrap()
        .unwrap();
    let round_key = app.round_key(&round);
    let mut secrets: Vec<[u8; 32]> = Vec::new();
    for token in &tokens {
        assert_eq!(
            submit(&app, token, items, None).await,
            SubmitOutcome::Accepted
        );
        secrets.push(round_key.ballot(token).0);
        secrets.push(token.lookup().0);
    }
    secrets.push(salt);
    let database = app.data_dir.join("safepulse.db");
    let before = std::fs::read(&database).unwrap();
    let wal_before = std::fs::read(database.with_extension("db-wal")).unwrap_or_default();
    let found_before = secrets
        .iter()
        .filter(|secret| contains(&before, *secret) || contains(&wal_before, *secret))
        .count();
    assert!(
        found_before > 0,
        "the search finds the values while the round is open"
    );

    app.close_round(round_id).await;
    let after = std::fs::read(&database).unwrap();
    let wal_after = std::fs::read(database.with_extension("db-wal")).unwrap_or_default();
    for secret in &secrets {
        assert!(
            !contains(&after, secret),
            "a ballot, lookup or salt survives in the database file"
        );
        assert!(
            !contains(&wal_after, secret),
            "a ballot, lookup or salt survives in the WAL"
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
