//! `safepulse demo` (issue 6, issue 13 point 10): a full year of history through
//! the real path, with the stories the dashboard is meant to show: a hidden team, a
//! falling one, a third of the heatmap below the organisation, and leaders'
//! commitments followed by better results on their dimension.

use safepulse_api::demo::build_demo;
use safepulse_domain::Clock;
use safepulse_store::entities::round::RoundStatus;
use safepulse_store::entities::{release, round, team};
use safepulse_tests::on_both_databases;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

on_both_databases! {
    async fn the_demo_builds_a_year_of_closed_rounds_with_a_hidden_team_a_falling_one_and_plans_that_worked(app) {
        let summary = build_demo(&app.state, app.clock.now()).await.unwrap();
        assert_eq!(summary.teams, 25);
        assert!((180..=220).contains(&summary.people), "about 200 people: {}", summary.people);
        let db = app.state.store.connection();
        let rounds = round::Entity::find().all(db).await.unwrap();
        assert_eq!(rounds.len(), 12);
        assert!(rounds.iter().all(|round| round.status == RoundStatus::Closed && round.scrubbed_at.is_some()));
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

        // About a third of the latest heatmap's team cells sit below the
        // organisation (a step of its scale: a 24th of the scale's width).
        let latest = rounds.iter().max_by_key(|round| round.closed_at).unwrap();
        let heatmap: serde_json::Value = app
            .get(&format!("/api/v1/reports/rounds/{}/heatmap", latest.id), &hr)
            .await
            .json()
            .await
            .unwrap();
        let cells: Vec<&serde_json::Value> = heatmap
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["kind"] == "team" && !row["parent_node_id"].is_null())
            .flat_map(|row| row["cells"].as_array().unwrap())
            .filter(|cell| cell["difference_from_organisation"].is_number())
            .collect();
        let below = cells
            .iter()
            .filter(|cell| {
                let width = if cell["dimension"] == "recommendation" { 10.0 } else { 6.0 };
                cell["difference_from_organisation"].as_f64().unwrap() <= -width / 24.0
            })
            .count();
        let share = below as f64 / cells.len() as f64;
        assert!((0.25..=0.45).contains(&share), "{below} of {} cells below the organisation", cells.len());

        // Leaders committed to actions, through the store; the dimension a leader
        // chose improved in the pulses after.
        let plans: serde_json::Value = app.get("/api/v1/commitments", &hr).await.json().await.unwrap();
        let plans = plans.as_array().unwrap();
        let made: usize = plans.iter().map(|team| team["commitments"].as_array().unwrap().len()).sum();
        assert_eq!(made, 5, "{plans:?}");
        let infrastructure = team_named("Infrastructure").await;
        let plan = &plans.iter().find(|team| team["team_id"] == infrastructure.to_string()).unwrap()["commitments"][0];
        assert_eq!((plan["dimension"].as_str(), plan["done"].as_bool()), (Some("psychological_safety"), Some(true)));
        let report: serde_json::Value = app
            .get(&format!("/api/v1/reports/teams/{infrastructure}"), &hr)
            .await
            .json()
            .await
            .unwrap();
        let means: Vec<(String, f64)> = report["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|round| {
                let mean = round["release"]["figures"]["dimensions"]
                    .as_array()?
                    .iter()
                    .find(|figure| figure["dimension"] == "psychological_safety")?["mean"]
                    .as_f64()?;
                Some((round["round_id"].as_str()?.to_owned(), mean))
            })
            .collect();
        let at = means.iter().position(|(round, _)| plan["round_id"] == round.as_str()).expect("the pulse of the commitment is released");
        let after = means[at + 1..].iter().map(|(_, mean)| *mean).fold(f64::MIN, f64::max);
        assert!(after >= means[at].1 + 0.4, "psychological safety rose after the commitment: {means:?}");

        let again = build_demo(&app.state, app.clock.now()).await.unwrap_err();
        assert!(again.to_string().contains("already holds an organisation"));
    }
}
