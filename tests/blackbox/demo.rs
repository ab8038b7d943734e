//! `safepulse demo` (issue 6): a full year of history through the real path, with
//! the stories the dashboard is meant to show.

use safepulse_api::demo::build_demo;
use safepulse_domain::Clock;
use safepulse_store::entities::{release, round, team};
use safepulse_tests::on_both_databases;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

on_both_databases! {
    async fn the_demo_builds_a_year_of_closed_rounds_with_a_hidden_team_and_a_falling_one(app) {
        let summary = build_demo(&app.state, app.clock.now()).await.unwrap();
        assert_eq!(summary.teams, 25);
        assert!((180..=220).contains(&summary.people), "about 200 people: {}", summary.people);
        let db = app.state.store.connection();
        let rounds = round::Entity::find().all(db).await.unwrap();
        assert_eq!(rounds.len(), 12);
        assert!(rounds.iter().all(|round| round.status == "closed" && round.scrubbed_at.is_some()));
        assert!(app.state.keys.keyring().rounds().unwrap().is_empty(), "no round key survives");

        let team_named = |name: &'static str| async move {
            team::Entity::find()
                .filter(team::Column::Name.eq(name))
                .one(db)
                .await
                .unwrap()
                .unwrap()
                .id
        };
        let recruiting = release::Entity::find()
            .filter(release::Column::NodeId.eq(team_named("Recruiting").await))
            .all(db)
            .await
            .unwrap();
        assert_eq!(recruiting.len(), 12);
        assert!(recruiting.iter().all(|release| release.figures.is_none()), "a team of three is always hidden");

        let hr = app.token(safepulse_domain::Role::Hr, "hr@demo.example").await;
        let payments = team_named("Payments").await;
        let report: serde_json::Value = app
            .get(&format!("/api/v1/reports/teams/{payments}"), &hr)
            .await
            .json()
            .await
            .unwrap();
        let falling = report["trends"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|trend| trend["trend"]["slope"].as_f64().unwrap() < 0.0)
            .count();
        assert!(falling >= 6, "Payments is the struggling team: {report}");

        let again = build_demo(&app.state, app.clock.now()).await.unwrap_err();
        assert!(again.to_string().contains("already holds an organisation"));
    }
}
