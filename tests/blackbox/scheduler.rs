//! The scheduler (issue 4 items 3 and 7): due periods open once per survey and
//! period at the right UTC instant across daylight-saving changes, paused and
//! archived surveys open nothing, two schedulers on PostgreSQL open a round once,
//! due rounds close (their digests say when the next pulse's results come), and
//! reminders are queued once per offset.

use safepulse_store::entities::round::RoundStatus;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use safepulse_api::app::build_state;
use safepulse_domain::{Clock, ManualClock};
use safepulse_mailer::MailTransport;
use safepulse_rounds::TickReport;
use safepulse_store::answers::SubmitOutcome;
use safepulse_store::entities::{invitation, outbox, round, round_reminder};
use safepulse_tests::smtp_sink::{Script, SmtpSink};
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
        .unwrap()
}

/// A team in `time_zone` with `size` people; returns the team and the people.
async fn team_in(app: &TestApp, name: &str, time_zone: &str, size: usize) -> (Uuid, Vec<Uuid>) {
    let created = app
        .post_json(
            "/api/v1/teams",
            &app.admin_token().await,
            &json!({ "name": name, "time_zone": time_zone }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let team: Uuid = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut people = Vec::new();
    for index in 0..size {
        people.push(
            app.create_person(
                &format!("{index}.{}@example.com", name.to_lowercase()),
                team,
            )
            .await,
        );
    }
    (team, people)
}

/// A survey of `team` opening weekly on Monday 09:00 local time from `starts_on`.
async fn weekly_survey(
    app: &TestApp,
    team: Uuid,
    starts_on: &str,
    extra: serde_json::Value,
) -> Uuid {
    let mut body = json!({
        "cadence": { "frequency": "weekly", "weekday": "monday", "local_time": "09:00" },
        "starts_on": starts_on,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.create_survey(&[team], body).await
}

async fn rounds_of(app: &TestApp, survey: Uuid) -> Vec<round::Model> {
    round::Entity::find()
        .filter(round::Column::SurveyId.eq(survey))
        .order_by_asc(round::Column::OpenedAt)
        .all(app.state.store.connection())
        .await
        .unwrap()
}

async fn count_rows(app: &TestApp, round_id: Uuid, kind: &str) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::RoundId.eq(round_id))
        .filter(outbox::Column::Kind.eq(kind))
        .count(app.state.store.connection())
        .await
        .unwrap()
}

async fn tick_at(app: &TestApp, at: DateTime<Utc>) -> TickReport {
    app.clock.set(at);
    app.scheduler().tick(at).await.expect("the tick runs")
}

/// Ticks hourly from a day before the first expected opening to an hour after the
/// last, and a minute before each expected opening; every round must open exactly
/// at an expected instant (a round opening early would carry the earlier tick's
/// time), and the round of the week before must have closed by then.
async fn assert_weekly_openings(
    app: &TestApp,
    time_zone: &str,
    starts_on: &str,
    expected: [DateTime<Utc>; 3],
) {
    let (team, _) = team_in(app, "Local", time_zone, 2).await;
    let start = expected[0] - Duration::days(1);
    app.clock.set(start);
    let survey = weekly_survey(app, team, starts_on, json!({})).await;
    let scheduler = app.scheduler();
    let mut instants: Vec<DateTime<Utc>> = (0..)
        .map(|hour| start + Duration::hours(hour))
        .take_while(|at| *at <= expected[2] + Duration::hours(1))
        .collect();
    instants.extend(expected.iter().map(|at| *at - Duration::minutes(1)));
    instants.sort();
    let mut opened_at = Vec::new();
    for at in instants {
        app.clock.set(at);
        let report = scheduler.tick(at).await.expect("the tick runs");
        if report.opened > 0 {
            opened_at.push(at);
        }
    }
    assert_eq!(
        opened_at, expected,
        "{time_zone}: ticks that opened a round"
    );
    let rounds = rounds_of(app, survey).await;
    assert_eq!(
        rounds
            .iter()
            .map(|round| round.opened_at)
            .collect::<Vec<_>>(),
        expected
    );
    let keys: HashSet<&str> = rounds
        .iter()
        .map(|round| round.period_key.as_str())
        .collect();
    assert_eq!(keys.len(), 3, "one round per ISO week");
    assert!(
        rounds[..2]
            .iter()
            .all(|round| round.status == RoundStatus::Closed),
        "each round closed when its window ended"
    );
    assert_eq!(rounds[2].status, RoundStatus::Open);
}

on_both_databases! {
    async fn a_due_period_opens_once_and_a_paused_or_archived_survey_opens_nothing(app) {
        app.clock.set(utc(2027, 3, 1, 6, 0));
        let token = app.admin_token().await;
        let (team, people) = team_in(&app, "Ops", "UTC", 3).await;
        let (empty_team, _) = team_in(&app, "Empty", "UTC", 0).await;
        let active = weekly_survey(&app, team, "2027-03-01", json!({})).await;
        let paused = weekly_survey(&app, team, "2027-03-01", json!({ "name": "Paused" })).await;
        let archived = weekly_survey(&app, team, "2027-03-01", json!({ "name": "Archived" })).await;
        let nobody = weekly_survey(&app, empty_team, "2027-03-01", json!({ "name": "Nobody" })).await;
        for (survey, action) in [(paused, "pause"), (archived, "archive")] {
            let changed = app.post_json(&format!("/api/v1/surveys/{survey}/{action}"), &token, &json!({})).await;
            assert_eq!(changed.status(), 200);
        }

        assert_eq!(tick_at(&app, utc(2027, 3, 1, 8, 59)).await, TickReport::default(), "not yet 09:00");
        assert_eq!(tick_at(&app, utc(2027, 3, 1, 9, 0)).await.opened, 1);
        assert_eq!(tick_at(&app, utc(2027, 3, 1, 9, 1)).await.opened, 0, "once per period");

        let opened = rounds_of(&app, active).await;
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].period_key, "2027-W09");
        assert_eq!(opened[0].opened_at, utc(2027, 3, 1, 9, 0));
        assert_eq!(count_rows(&app, opened[0].id.0, "invitation").await, people.len() as u64);
        for survey in [paused, archived, nobody] {
            assert!(rounds_of(&app, survey).await.is_empty(), "survey {survey} opened a round");
        }

        let resumed = app.post_json(&format!("/api/v1/surveys/{paused}/resume"), &token, &json!({})).await;
        assert_eq!(resumed.status(), 200);
        assert_eq!(tick_at(&app, utc(2027, 3, 1, 9, 2)).await.opened, 1, "resumed: its due period opens");
        assert_eq!(rounds_of(&app, paused).await.len(), 1);
    }

    async fn a_digest_says_when_the_next_pulse_s_results_come_and_a_paused_survey_s_digest_does_not(app) {
        let sink = SmtpSink::start(Script::accept_all()).await;
        app.clock.set(utc(2027, 3, 1, 7, 0));
        let token = app.admin_token().await;
        let (team, people) = team_in(&app, "Berlin", "Europe/Berlin", 3).await;
        let made_leader = app
            .client
            .put(app.url(&format!("/api/v1/teams/{team}/leaders/{}", people[0])))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(made_leader.status().is_success());
        weekly_survey(&app, team, "2027-03-01", json!({})).await;
        let paused = weekly_survey(&app, team, "2027-03-01", json!({ "name": "Paused pulse" })).await;
        // Both open on Monday 1 March, 09:00 in Berlin; one is paused while open.
        assert_eq!(tick_at(&app, utc(2027, 3, 1, 8, 0)).await.opened, 2);
        let changed = app.post_json(&format!("/api/v1/surveys/{paused}/pause"), &token, &json!({})).await;
        assert_eq!(changed.status(), 200);

        // Open four days: both close on Friday; the weekly one opens again on
        // Monday 8 March, 09:00, and its results come four days later.
        assert_eq!(tick_at(&app, utc(2027, 3, 5, 8, 0)).await.closed, 2);
        app.deliver_all(&app.outbox_worker_to_sink(sink.port())).await;
        let digest_of = |survey: &str| {
            sink.messages()
                .into_iter()
                .find(|message| message.header("Subject").unwrap().starts_with(&format!("{survey}: results of")))
                .unwrap_or_else(|| panic!("the digest of {survey}"))
                .text()
        };
        let weekly = digest_of("Team pulse");
        assert!(weekly.contains("Results of the next pulse: around Friday, 12 March 2027."), "{weekly}");
        let paused = digest_of("Paused pulse");
        assert!(paused.contains("Berlin") && !paused.contains("next pulse"), "no date for a paused survey: {paused}");
    }

    async fn weekly_rounds_open_at_nine_in_berlin_before_and_after_summer_time_begins(app) {
        // Summer time begins on Sunday 28 March 2027: 09:00 is 08:00 UTC before, 07:00 after.
        assert_weekly_openings(&app, "Europe/Berlin", "2027-03-22",
            [utc(2027, 3, 22, 8, 0), utc(2027, 3, 29, 7, 0), utc(2027, 4, 5, 7, 0)]).await;
    }

    async fn weekly_rounds_open_at_nine_in_new_york_before_and_after_daylight_saving_begins(app) {
        // DST begins on Sunday 14 March 2027: 09:00 is 14:00 UTC before, 13:00 after.
        assert_weekly_openings(&app, "America/New_York", "2027-03-08",
            [utc(2027, 3, 8, 14, 0), utc(2027, 3, 15, 13, 0), utc(2027, 3, 22, 13, 0)]).await;
    }

    async fn weekly_rounds_open_at_nine_in_sydney_before_and_after_daylight_saving_ends(app) {
        // DST ends on Sunday 4 April 2027: Monday 09:00 is 22:00 UTC the day before
        // while it lasts, 23:00 after.
        assert_weekly_openings(&app, "Australia/Sydney", "2027-03-29",
            [utc(2027, 3, 28, 22, 0), utc(2027, 4, 4, 23, 0), utc(2027, 4, 11, 23, 0)]).await;
    }

    async fn a_reminder_goes_once_to_everyone_invited_with_the_same_link(app) {
        let sink = SmtpSink::start(Script::accept_all()).await;
        app.clock.set(utc(2027, 3, 1, 9, 0));
        let (team, people) = team_in(&app, "Ops", "UTC", 3).await;
        let survey = weekly_survey(&app, team, "2027-03-01", json!({ "reminders": { "after_hours": [48] } })).await;
        assert_eq!(tick_at(&app, utc(2027, 3, 1, 9, 0)).await.opened, 1);
        let round_id = rounds_of(&app, survey).await[0].id.0;
        let worker = app.outbox_worker_to_sink(sink.port());
        assert_eq!(app.deliver_all(&worker).await.delivered, 3);

        assert_eq!(tick_at(&app, utc(2027, 3, 3, 8, 59)).await.reminders_queued, 0, "not before 48 hours");
        assert_eq!(tick_at(&app, utc(2027, 3, 3, 9, 0)).await.reminders_queued, 1);
        assert_eq!(tick_at(&app, utc(2027, 3, 3, 9, 1)).await.reminders_queued, 0, "once");
        assert_eq!(count_rows(&app, round_id, "reminder").await, people.len() as u64, "everyone, by default");
        assert_eq!(app.deliver_all(&worker).await.delivered, 3);

        let messages = sink.messages();
        let (invitations, reminders): (Vec<_>, Vec<_>) = messages
            .iter()
            .partition(|message| !message.header("Subject").unwrap().starts_with("Reminder"));
        assert_eq!((invitations.len(), reminders.len()), (3, 3));
        for reminder in &reminders {
            let text = reminder.text();
            assert!(text.contains("already answered"), "{text}");
            let invitation = invitations
                .iter()
                .find(|invitation| invitation.recipients == reminder.recipients)
                .unwrap();
            assert_eq!(link_of(&text), link_of(&invitation.text()), "a reminder resends the same link");
            assert_ne!(reminder.message_id(), invitation.message_id());
        }
    }

    async fn non_responder_reminders_skip_everyone_whose_answer_is_in(app) {
        app.clock.set(utc(2027, 3, 1, 9, 0));
        let (team, people) = team_in(&app, "Ops", "UTC", 4).await;
        let survey = weekly_survey(&app, team, "2027-03-01", json!({
            "reminders": { "after_hours": [24, 48], "non_responders_only": true }
        })).await;
        assert_eq!(tick_at(&app, utc(2027, 3, 1, 9, 0)).await.opened, 1);
        let round_id = rounds_of(&app, survey).await[0].id.0;
        let tokens = app.link_tokens(round_id).await;
        let items = app.item_count(round_id).await;
        for person in &people[..2] {
            assert_eq!(submit(&app, &tokens[person], items).await, SubmitOutcome::Accepted);
        }

        assert_eq!(tick_at(&app, utc(2027, 3, 2, 9, 0)).await.reminders_queued, 1);
        assert_eq!(reminded(&app, round_id).await, people[2..].iter().copied().collect::<HashSet<_>>());
        assert_eq!(submit(&app, &tokens[&people[2]], items).await, SubmitOutcome::Accepted);
        let mail = MailTransport::file_in_data_dir(&app.data_dir).unwrap();
        app.deliver_all(&app.outbox_worker(mail)).await;
        assert_eq!(tick_at(&app, utc(2027, 3, 3, 9, 0)).await.reminders_queued, 1);
        assert_eq!(reminded(&app, round_id).await, HashSet::from([people[3]]));
        let queued = round_reminder::Entity::find()
            .filter(round_reminder::Column::RoundId.eq(round_id))
            .count(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(queued, 2);
    }
}

/// The people with a reminder row for the round.
async fn reminded(app: &TestApp, round_id: Uuid) -> HashSet<Uuid> {
    let db = app.state.store.connection();
    let invitations: HashSet<Uuid> = outbox::Entity::find()
        .filter(outbox::Column::RoundId.eq(round_id))
        .filter(outbox::Column::Kind.eq("reminder"))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| row.invitation_id.map(|id| id.0))
        .collect();
    invitation::Entity::find()
        .filter(invitation::Column::Id.is_in(invitations))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|invitation| invitation.person_id.0)
        .collect()
}

fn link_of(text: &str) -> &str {
    let start = text.find("/r/").expect("an answer link");
    &text[start..start + 46]
}

async fn submit(
    app: &TestApp,
    token: &safepulse_domain::keys::LinkToken,
    items: usize,
) -> SubmitOutcome {
    app.submit_with_comment(token, 4, items, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_postgres_open_a_due_round_once() {
    let app = spawn_app(Db::Postgres).await;
    app.clock.set(utc(2027, 3, 1, 6, 0));
    let (team, people) = team_in(&app, "Ops", "Europe/Berlin", 30).await;
    let survey = weekly_survey(&app, team, "2027-03-01", json!({})).await;
    // A second process: its own connection pool over the same database and keys.
    let other_process = build_state(
        (*app.state.config).clone(),
        Arc::new(ManualClock::new(app.clock.now())) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    let first = app.scheduler();
    let second = safepulse_api::worker::scheduler(&other_process);
    let due = utc(2027, 3, 1, 8, 0);

    let (by_first, by_second) = tokio::join!(first.tick(due), second.tick(due));

    assert_eq!(by_first.unwrap().opened + by_second.unwrap().opened, 1);
    let rounds = rounds_of(&app, survey).await;
    assert_eq!(rounds.len(), 1);
    let invitations = invitation::Entity::find()
        .filter(invitation::Column::RoundId.eq(rounds[0].id))
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(
        invitations,
        people.len() as u64,
        "one invitation per person"
    );
    assert_eq!(
        count_rows(&app, rounds[0].id.0, "invitation").await,
        people.len() as u64
    );
}
