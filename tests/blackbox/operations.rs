//! Operations (issue 7): erasure while a round is open, raw-retention purge, and
//! the PostgreSQL logging check that keeps rounds from opening.

use safepulse_domain::Clock;
use safepulse_domain::keys::LinkToken;
use safepulse_store::answers::{self, SubmitOutcome};
use safepulse_store::entities::{
    atom_statistics, invitation, open_response, outbox, release, release_ledger, retained_response,
};
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app_with};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

async fn answer_everyone(
    app: &TestApp,
    round_id: Uuid,
) -> std::collections::HashMap<Uuid, LinkToken> {
    let items = app.item_count(round_id).await;
    let tokens = app.link_tokens(round_id).await;
    for token in tokens.values() {
        let outcome = app
            .submit_with_comment(token, 5, items, Some("Fine."))
            .await;
        assert_eq!(outcome, SubmitOutcome::Accepted);
    }
    tokens
}

/// Every frozen output of a round, serialised: what erasure must not change.
async fn frozen_outputs(app: &TestApp, round_id: Uuid) -> String {
    let db = app.state.store.connection();
    let releases = release::Entity::find()
        .filter(release::Column::RoundId.eq(round_id))
        .order_by_asc(release::Column::Id)
        .all(db)
        .await
        .unwrap();
    let ledger = release_ledger::Entity::find()
        .filter(release_ledger::Column::RoundId.eq(round_id))
        .order_by_asc(release_ledger::Column::AtomId)
        .order_by_asc(release_ledger::Column::NodeId)
        .all(db)
        .await
        .unwrap();
    let atoms = atom_statistics::Entity::find()
        .filter(atom_statistics::Column::RoundId.eq(round_id))
        .order_by_asc(atom_statistics::Column::AtomId)
        .all(db)
        .await
        .unwrap();
    format!("{releases:?}{ledger:?}{atoms:?}")
}

on_both_databases! {
    async fn erasing_a_person_removes_their_open_answer_and_no_release_changes(app) {
        let org = app.create_org(&[6, 6]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let first = app.open_round(survey).await;
        answer_everyone(&app, first).await;
        app.close_round(first).await;
        let frozen = frozen_outputs(&app, first).await;

        let second = app.open_round(survey).await;
        answer_everyone(&app, second).await;
        let db = app.state.store.connection();
        let open_answers = || async {
            open_response::Entity::find()
                .filter(open_response::Column::RoundId.eq(second))
                .count(db)
                .await
                .unwrap()
        };
        assert_eq!(open_answers().await, 14);
        let erased = org.members[0][0];
        let admin = app.admin_token().await;
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/people/{erased}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(open_answers().await, 13, "their answer in the open round is gone");
        let left = invitation::Entity::find()
            .filter(invitation::Column::PersonId.eq(erased))
            .count(db)
            .await
            .unwrap()
            + outbox::Entity::find()
                .filter(outbox::Column::PersonId.eq(erased))
                .count(db)
                .await
                .unwrap();
        assert_eq!(left, 0, "no invitation or queued email of theirs is left");
        assert_eq!(frozen_outputs(&app, first).await, frozen, "releases stay byte-identical");
        let closed = app.close_round(second).await;
        assert_eq!(closed["status"], "closed");
    }
}

async fn retained_rows(app: &TestApp) -> u64 {
    retained_response::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

async fn retention_is_kept_then_purged(db: Db) {
    let app = spawn_app_with(db, |config| config.raw_retention_days = Some(30)).await;
    let org = app.create_org(&[8]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    answer_everyone(&app, round_id).await;
    app.close_round(round_id).await;
    assert_eq!(
        retained_rows(&app).await,
        9,
        "eight members and the leader, with atom ids, no ballot"
    );
    let closed_at = app.clock.now();
    let store = app.state.store.connection();
    let purged = answers::purge_retained(store, closed_at - chrono::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(purged, 0, "nothing of a round that closed later goes");
    let scheduler = app.scheduler();
    scheduler
        .tick(closed_at + chrono::Duration::days(29))
        .await
        .unwrap();
    assert_eq!(
        retained_rows(&app).await,
        9,
        "kept while younger than 30 days"
    );
    scheduler
        .tick(closed_at + chrono::Duration::days(31))
        .await
        .unwrap();
    assert_eq!(
        retained_rows(&app).await,
        0,
        "the scheduler purges them after 30 days"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_answers_are_purged_after_the_retention_period_on_sqlite() {
    retention_is_kept_then_purged(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_answers_are_purged_after_the_retention_period_on_postgres() {
    retention_is_kept_then_purged(Db::Postgres).await;
}

/// `log_statement = all` for the server's sessions (as a database or role default
/// would set it) keeps rounds from opening; the explicit override lets them open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_that_logs_statements_keeps_rounds_from_opening_unless_overridden() {
    let logging = |config: &mut safepulse_api::config::Config| {
        let url = config.database_url.clone().expect("a PostgreSQL URL");
        config.database_url = Some(format!("{url}?options=-c%20log_statement%3Dall"));
    };
    let app = spawn_app_with(Db::Postgres, logging).await;
    let reason = app
        .state
        .round_opening_blocked
        .clone()
        .expect("rounds are blocked");
    assert!(reason.contains("log_statement = all"), "{reason}");
    let org = app.create_org(&[5]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let token = app.admin_token().await;
    let refused = app
        .post_json(
            &format!("/api/v1/surveys/{survey}/rounds"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "database_records_answers");

    let report = app
        .scheduler()
        .tick(app.clock.now() + chrono::Duration::days(30))
        .await
        .unwrap();
    assert_eq!(report.opened, 0, "the scheduler opens no round either");

    let overridden = spawn_app_with(Db::Postgres, |config| {
        logging(config);
        config.allow_logging_postgres = true;
    })
    .await;
    assert!(overridden.state.round_opening_blocked.is_none());
}
