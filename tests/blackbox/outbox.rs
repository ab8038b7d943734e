//! The outbox worker (issue 4 item 5) against a real SMTP server (the sink) and the
//! `.eml` file transport: retries with the same Message-ID, permanent failures
//! flagging the address, links derived at send time, digests, two workers on
//! PostgreSQL sending every email exactly once, and two workers whose sends take
//! longer than their claim lease still sending every email exactly once (issue 12,
//! finding 3).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration;
use safepulse_api::app::build_state;
use safepulse_domain::keys::LinkToken;
use safepulse_domain::{Clock, ManualClock, SystemClock};
use safepulse_mailer::{DeliveryReport, MailTransport, OutboxSettings, OutboxWorker};
use safepulse_store::answers::SubmitOutcome;
use safepulse_store::entities::{outbox, person, round};
use safepulse_store::operations::{WorkerCounter, snapshot};
use safepulse_tests::smtp_sink::{Reply, Script, SmtpSink};
use safepulse_tests::{Db, TestApp, on_both_databases, smtp_to_sink, spawn_app};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// A team of `size` people in a survey with a round opened now.
async fn round_for_a_team_of(app: &TestApp, size: usize) -> Uuid {
    let team = app.create_team("Platform", None).await;
    for index in 0..size {
        app.create_person(&format!("person{index}@example.com"), team)
            .await;
    }
    let survey = app.create_survey(&[team], json!({})).await;
    app.open_round(survey).await
}

async fn outbox_rows(app: &TestApp, round_id: Uuid) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::RoundId.eq(round_id))
        .all(app.state.store.connection())
        .await
        .unwrap()
}

async fn the_only_row(app: &TestApp, round_id: Uuid) -> outbox::Model {
    let mut rows = outbox_rows(app, round_id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.remove(0)
}

/// `<base>/r/<43 characters>` in an email's text, as a token.
fn answer_link_token(text: &str) -> LinkToken {
    let start = text.find("/r/").expect("the email has an answer link") + 3;
    LinkToken::parse(&text[start..start + 43]).expect("the link carries a well-formed token")
}

on_both_databases! {
    async fn a_421_reply_is_retried_after_the_backoff_and_delivered_with_the_same_message_id(app) {
        let sink = SmtpSink::start(Script::replies_in_order(vec![Reply::TempFail { code: 421 }])).await;
        let round_id = round_for_a_team_of(&app, 1).await;
        let worker = app.outbox_worker_to_sink(sink.port());

        let first = worker.deliver_batch(10).await.unwrap();
        assert_eq!(first, DeliveryReport { claimed: 1, retried: 1, ..DeliveryReport::default() });
        let row = the_only_row(&app, round_id).await;
        assert_eq!(row.status, "pending");
        assert_eq!(row.attempts, 1);
        assert_eq!(row.claimed_until, None, "the claim is released");
        let now = app.clock.now();
        assert!(
            row.not_before >= now + Duration::seconds(4) && row.not_before <= now + Duration::seconds(6),
            "the first retry waits 5 s ± 20%: {} after {now}",
            row.not_before
        );
        let last_error = row.last_error.clone().expect("the reason is kept");
        assert!(last_error.contains("421"), "{last_error}");
        assert!(!last_error.contains('@'), "no address in last_error: {last_error}");

        assert!(worker.deliver_batch(10).await.unwrap().queue_was_empty(), "not due before the backoff");
        app.clock.advance(Duration::seconds(7));
        let second = worker.deliver_batch(10).await.unwrap();
        assert_eq!(second, DeliveryReport { claimed: 1, delivered: 1, ..DeliveryReport::default() });

        assert!(outbox_rows(&app, round_id).await.is_empty(), "a delivered row is deleted");
        let attempts = sink.attempts();
        let delivered = sink.messages();
        assert_eq!((attempts.len(), delivered.len()), (2, 1));
        assert_eq!(attempts[0].message_id(), Some(row.message_id.clone()));
        assert_eq!(delivered[0].message_id(), Some(row.message_id));
    }

    async fn a_550_reply_is_not_retried_flags_the_address_and_counts_a_bounce(app) {
        let sink = SmtpSink::start(Script::from_fn(|_| Reply::PermFail)).await;
        let round_id = round_for_a_team_of(&app, 1).await;
        let worker = app.outbox_worker_to_sink(sink.port());

        let report = worker.deliver_batch(10).await.unwrap();
        assert_eq!(report, DeliveryReport { claimed: 1, failed: 1, ..DeliveryReport::default() });
        let row = the_only_row(&app, round_id).await;
        assert_eq!(row.status, "failed");
        let last_error = row.last_error.clone().expect("the reason is kept");
        assert!(last_error.contains("550"), "{last_error}");
        assert!(!last_error.contains('@'), "the sink quotes the address; it is redacted: {last_error}");

        let db = app.state.store.connection();
        let flagged = person::Entity::find_by_id(row.person_id.unwrap()).one(db).await.unwrap().unwrap();
        assert!(flagged.undeliverable);
        let shown = app.get(&format!("/api/v1/people/{}", flagged.id), &app.admin_token().await).await;
        assert_eq!(shown.json::<serde_json::Value>().await.unwrap()["undeliverable"], true, "admins see it");
        let bounced = round::Entity::find_by_id(round_id).one(db).await.unwrap().unwrap();
        assert_eq!(bounced.bounce_count, 1);

        app.clock.advance(Duration::hours(2));
        assert!(worker.deliver_batch(10).await.unwrap().queue_was_empty());
        assert_eq!(sink.attempts().len(), 1, "never tried again");
    }

    async fn a_connection_dropped_during_data_is_retried_with_the_same_message_id(app) {
        let sink = SmtpSink::start(Script::replies_in_order(vec![Reply::DropDuringData])).await;
        let round_id = round_for_a_team_of(&app, 1).await;
        let message_id = the_only_row(&app, round_id).await.message_id;
        let worker = app.outbox_worker_to_sink(sink.port());

        assert_eq!(worker.deliver_batch(10).await.unwrap().retried, 1);
        app.clock.advance(Duration::seconds(7));
        assert_eq!(worker.deliver_batch(10).await.unwrap().delivered, 1);

        let attempts = sink.attempts();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].reply, Reply::DropDuringData);
        assert_eq!(attempts[0].message_id(), Some(message_id.clone()));
        assert_eq!(sink.messages()[0].message_id(), Some(message_id));
    }

    async fn every_invitation_carries_the_recipient_s_own_link_derived_when_it_is_sent(app) {
        let sink = SmtpSink::start(Script::accept_all()).await;
        let round_id = round_for_a_team_of(&app, 3).await;
        let stored = outbox_rows(&app, round_id).await;
        assert!(
            stored.iter().all(|row| !row.payload.to_string().contains("/r/")),
            "no link or token is stored on an outbox row"
        );
        let expected = app.link_tokens(round_id).await;
        let emails: HashMap<Uuid, String> = person::Entity::find()
            .all(app.state.store.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|person| (person.id.0, person.email))
            .collect();

        let report = app.deliver_all(&app.outbox_worker_to_sink(sink.port())).await;
        assert_eq!(report.delivered, 3);

        let messages = sink.messages();
        assert_eq!(messages.len(), 3);
        for (person_id, token) in &expected {
            let message = messages
                .iter()
                .find(|message| message.recipients == [emails[person_id].clone()])
                .expect("each person got an email");
            assert_eq!(answer_link_token(&message.text()).encode(), token.encode());
            assert!(message.header("Subject").unwrap().contains("Team pulse"));
        }
    }

    async fn on_the_embedded_default_each_person_gets_an_eml_file_whose_link_answers_the_round(app) {
        let round_id = round_for_a_team_of(&app, 3).await;
        let transport = MailTransport::file_in_data_dir(&app.data_dir).unwrap();

        let report = app.deliver_all(&app.outbox_worker(transport)).await;
        assert_eq!(report.delivered, 3);

        let files: Vec<String> = std::fs::read_dir(app.data_dir.join("mail"))
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        assert_eq!(files.len(), 3, "one .eml per person");
        let items = app.item_count(round_id).await;
        let mut tokens = HashSet::new();
        for file in &files {
            assert!(file.contains(&format!("{}/r/", app.address)), "the link points at the server");
            let token = answer_link_token(file);
            assert_eq!(submit(&app, &token, items).await, SubmitOutcome::Accepted);
            tokens.insert(token.encode());
        }
        assert_eq!(tokens.len(), 3, "three different links");
    }

    async fn an_invitation_whose_round_closed_meanwhile_is_deleted_unsent(app) {
        let sink = SmtpSink::start(Script::accept_all()).await;
        let round_id = round_for_a_team_of(&app, 2).await;
        // What a worker sees when a close commits between its claim and its render:
        // the round is closed, so no link of the round can ever work again.
        round::Entity::update_many()
            .col_expr(round::Column::Status, Expr::value("closed"))
            .filter(round::Column::Id.eq(round_id))
            .exec(app.state.store.connection())
            .await
            .unwrap();

        let report = app.outbox_worker_to_sink(sink.port()).deliver_batch(10).await.unwrap();

        assert_eq!(report, DeliveryReport { claimed: 2, discarded: 2, ..DeliveryReport::default() });
        assert!(outbox_rows(&app, round_id).await.is_empty());
        assert!(sink.attempts().is_empty(), "nothing was sent");
    }

    async fn an_invitation_whose_round_key_is_lost_waits_and_is_sent_once_the_keyring_is_back(app) {
        let sink = SmtpSink::start(Script::accept_all()).await;
        let round_id = round_for_a_team_of(&app, 2).await;
        let salt_file = app.state.keys.keyring().dir().join(format!("{round_id}.salt"));
        let salt = std::fs::read(&salt_file).unwrap();
        std::fs::remove_file(&salt_file).unwrap();

        let report = app.outbox_worker_to_sink(sink.port()).deliver_batch(10).await.unwrap();
        assert_eq!(report.delivered, 0);
        assert_eq!(report.discarded, 0, "a lost key can come back: nothing is thrown away");
        assert_eq!(outbox_rows(&app, round_id).await.len(), 2, "both stay queued");
        assert!(sink.attempts().is_empty(), "no email without a working link");

        std::fs::write(&salt_file, salt).unwrap();
        app.clock.advance(chrono::Duration::hours(1));
        let delivered = app.deliver_all(&app.outbox_worker_to_sink(sink.port())).await.delivered;
        assert_eq!(delivered, 2, "the restored keyring sends both");
    }

    async fn a_team_s_leader_gets_a_digest_with_its_released_figures_when_the_round_closes(app) {
        let sink = SmtpSink::start(Script::accept_all()).await;
        // One team surveyed on its own: its leader answers into the Leadership node
        // and reads the team, which ten answers release (scores, not detail).
        let team = app.create_team("Platform", None).await;
        let mut members = Vec::new();
        for index in 0..10 {
            members.push(app.create_person(&format!("member{index}@example.com"), team).await);
        }
        let leader = app.create_person("lead@example.com", team).await;
        let made_leader = app
            .client
            .put(app.url(&format!("/api/v1/teams/{team}/leaders/{leader}")))
            .bearer_auth(app.admin_token().await)
            .send()
            .await
            .unwrap();
        assert!(made_leader.status().is_success());
        let survey = app.create_survey(&[team], json!({})).await;
        let round_id = app.open_round(survey).await;
        let worker = app.outbox_worker_to_sink(sink.port());
        assert_eq!(app.deliver_all(&worker).await.delivered, 11);
        let items = app.item_count(round_id).await;
        let tokens = app.link_tokens(round_id).await;
        for member in &members {
            assert_eq!(submit(&app, &tokens[member], items).await, SubmitOutcome::Accepted);
        }

        app.close_round(round_id).await;
        assert_eq!(app.deliver_all(&worker).await.delivered, 1, "one digest, for the leader");

        let digest = sink.messages().pop().unwrap();
        assert_eq!(digest.recipients, ["lead@example.com"]);
        assert!(digest.header("Subject").unwrap().contains("results of the pulse of"));
        let text = digest.text();
        assert!(text.contains("Platform"), "{text}");
        assert!(text.contains("Respondents: 10"), "{text}");
        assert!(text.contains(" of 7"), "dimension means on their scale: {text}");
        assert!(!text.contains("Hidden to protect anonymity"), "{text}");
        assert!(!text.contains("/r/"), "a digest has no answer link");
    }
}

/// Answers with the same mid-scale value on every item (valid on 1–7 and 0–10).
async fn submit(app: &TestApp, token: &LinkToken, items: usize) -> SubmitOutcome {
    app.submit_with_comment(token, 4, items, None).await
}

/// Delivers in small batches until nothing is due, so two such loops interleave.
async fn deliver_in_small_batches(worker: &OutboxWorker) -> usize {
    let mut delivered = 0;
    loop {
        let report = worker.deliver_batch(8).await.unwrap();
        if report.queue_was_empty() {
            return delivered;
        }
        assert_eq!(report.delivered, report.claimed, "{report:?}");
        delivered += report.delivered;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_send_every_invitation_exactly_once() {
    let app = spawn_app(Db::Postgres).await;
    let sink = SmtpSink::start(Script::accept_all()).await;
    let org = app.create_org(&[40, 40, 40]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let queued: HashSet<String> = outbox_rows(&app, round_id)
        .await
        .into_iter()
        .map(|row| row.message_id)
        .collect();
    assert_eq!(queued.len(), 123);
    // A second process: its own connection pool over the same database and keys.
    let clock = ManualClock::new(app.clock.now());
    let other_process = build_state(
        (*app.state.config).clone(),
        Arc::new(clock) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    let first = app.outbox_worker_to_sink(sink.port());
    let second = safepulse_api::worker::outbox_worker(
        &other_process,
        MailTransport::smtp(&smtp_to_sink(sink.port(), 4)).unwrap(),
    )
    .unwrap();

    let (by_first, by_second) = tokio::join!(
        deliver_in_small_batches(&first),
        deliver_in_small_batches(&second)
    );

    assert!(
        by_first > 0 && by_second > 0,
        "both workers took part: {by_first} and {by_second}"
    );
    assert_eq!(by_first + by_second, 123);
    let sent: Vec<String> = sink
        .attempts()
        .iter()
        .map(|attempt| attempt.message_id().expect("a Message-ID"))
        .collect();
    assert_eq!(sent.len(), 123, "no email was sent twice");
    assert_eq!(sent.into_iter().collect::<HashSet<_>>(), queued);
    assert!(outbox_rows(&app, round_id).await.is_empty());
}

/// An outbox worker on the wall clock with a one-second claim lease, over its own
/// connection pool to the app's database, sending to the sink on `port` through
/// three connections.
async fn worker_with_a_short_lease(app: &TestApp, port: u16) -> OutboxWorker {
    let process = build_state(
        (*app.state.config).clone(),
        Arc::new(SystemClock) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    OutboxWorker::new(
        process.store.clone(),
        MailTransport::smtp(&smtp_to_sink(port, 3)).unwrap(),
        process.keys.clone(),
        Arc::clone(&process.bank),
        Arc::clone(&process.clock),
        OutboxSettings {
            from: process.config.mail_from.clone(),
            public_base_url: process.config.public_url.clone(),
            claim_lease: Duration::seconds(1),
        },
    )
    .unwrap()
}

on_both_databases! {
    async fn two_workers_whose_sends_outlast_the_claim_lease_deliver_every_email_exactly_once(app) {
        // Every message takes about 1.5 s at the relay (three replies, each 0.5 s
        // late): half again as long as the claim lease.
        let sink = SmtpSink::start(Script::from_fn(|_| Reply::AcceptSlowly {
            per_reply: std::time::Duration::from_millis(500),
        }))
        .await;
        let round_id = round_for_a_team_of(&app, 14).await;
        let queued: HashSet<String> = outbox_rows(&app, round_id)
            .await
            .into_iter()
            .map(|row| row.message_id)
            .collect();
        let first = worker_with_a_short_lease(&app, sink.port()).await;
        let second = worker_with_a_short_lease(&app, sink.port()).await;

        let (by_first, by_second) = tokio::join!(
            deliver_in_small_batches(&first),
            deliver_in_small_batches(&second)
        );

        assert!(by_first > 0 && by_second > 0, "both workers took part: {by_first} and {by_second}");
        let attempts: Vec<String> = sink
            .attempts()
            .iter()
            .map(|attempt| attempt.message_id().expect("a Message-ID"))
            .collect();
        assert_eq!(attempts.len(), 14, "no email was sent twice: {attempts:?}");
        assert_eq!(attempts.into_iter().collect::<HashSet<_>>(), queued);
        assert_eq!(by_first + by_second, 14);
        assert!(outbox_rows(&app, round_id).await.is_empty());
        let figures = snapshot(app.state.store.connection(), app.clock.now()).await.unwrap();
        assert!(
            figures.counters.contains(&(WorkerCounter::OutboxClaimsExpired, 0)),
            "the workers renewed their claims: {:?}",
            figures.counters
        );
        assert!(figures.counters.contains(&(WorkerCounter::EmailsDelivered, 14)));
    }
}
