//! Scale-out and shutdown (issue 7): two API processes and two `safepulse worker`
//! processes on one PostgreSQL database run a round for 500 people exactly like a
//! single process does; SIGTERM loses no accepted answer and no claimed email.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use safepulse_domain::RoundId;
use safepulse_store::entities::release::ReleaseStatus;
use safepulse_store::entities::{open_response, outbox, person, release, round_node};
use safepulse_tests::answer_form::{AnswerForm, form_urlencode};
use safepulse_tests::smtp_sink::{ReceivedMessage, Script, SmtpSink};
use safepulse_tests::{Db, TestApp, free_port, spawn_app, terminate, wait_until_healthy};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::process::Child;
use uuid::Uuid;

const BINARY: &str = env!("CARGO_BIN_EXE_safepulse-under-test");
const PATIENCE: Duration = Duration::from_secs(120);

/// The same answer for the same person in every run, chosen from their address —
/// from its first part (`m7` of `m7.t3@example.com`) only, so that every team
/// answers alike: Rule B's tie-break between equal teams goes by their random ids,
/// which differ between two runs.
fn choice_for(email: &str) -> impl Fn(usize, &[u8]) -> u8 + use<> {
    let member = email.split('.').next().unwrap_or(email);
    let seed: usize = member.bytes().map(usize::from).sum();
    move |index, options| options[(seed + index * 3) % options.len()]
}

fn start_api(app: &TestApp) -> (Child, String) {
    let port = free_port();
    let child = app
        .safepulse_command(Path::new(BINARY), &["serve", "--port", &port.to_string()])
        .env("SAFEPULSE_IN_PROCESS_WORKER", "false")
        .spawn()
        .expect("safepulse serve starts");
    (child, format!("http://127.0.0.1:{port}"))
}

fn start_worker(app: &TestApp, sink: &SmtpSink, pool_size: u32) -> Child {
    app.safepulse_command(Path::new(BINARY), &["worker"])
        .env("SAFEPULSE_SMTP__HOST", "127.0.0.1")
        .env("SAFEPULSE_SMTP__PORT", sink.port().to_string())
        .env("SAFEPULSE_SMTP__TLS", "none")
        .env("SAFEPULSE_SMTP__POOL_SIZE", pool_size.to_string())
        .spawn()
        .expect("safepulse worker starts")
}

/// Opens the emailed link on `base`, fills the form as `email` would, posts it.
async fn answer_through(client: &reqwest::Client, base: &str, link: &str, email: &str) -> u16 {
    let page = client
        .get(format!("{base}/r/{link}"))
        .send()
        .await
        .expect("the form opens");
    assert_eq!(page.status(), 200);
    let form = AnswerForm::parse(&page.text().await.expect("html"));
    client
        .post(format!("{base}/r/{link}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_urlencode(&form.fields(choice_for(email), None)))
        .send()
        .await
        .expect("the answer is posted")
        .status()
        .as_u16()
}

fn link_and_recipient(message: &ReceivedMessage) -> (String, String) {
    let text = message.text();
    let start = text.find("/r/").expect("an answer link") + 3;
    let to = message.header("To").expect("a To header");
    let address = to
        .rsplit_once('<')
        .map_or(to.as_str(), |(_, rest)| rest.trim_end_matches('>'))
        .trim()
        .to_owned();
    (text[start..start + 43].to_owned(), address)
}

/// Every release of a round, keyed by node name (ids differ between runs).
async fn releases_by_name(
    app: &TestApp,
    round_id: Uuid,
) -> BTreeMap<String, (ReleaseStatus, Option<Vec<u8>>)> {
    let db = app.state.store.connection();
    let names: HashMap<Uuid, String> = round_node::Entity::find()
        .filter(round_node::Column::RoundId.eq(round_id))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|node| (node.node_id.0, format!("{}:{}", node.kind, node.name)))
        .collect();
    release::Entity::find()
        .filter(release::Column::RoundId.eq(round_id))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (names[&row.node_id.0].clone(), (row.status, row.figures)))
        .collect()
}

/// Releases without their team names: which of two equal teams Rule B hides
/// depends on their random ids.
fn as_multiset(releases: &BTreeMap<String, (ReleaseStatus, Option<Vec<u8>>)>) -> Vec<String> {
    let mut entries: Vec<String> = releases
        .iter()
        .map(|(name, (status, figures))| {
            let kind = name.split(':').next().unwrap_or_default();
            format!("{kind} {status:?} {figures:?}")
        })
        .collect();
    entries.sort();
    entries
}

async fn email_of(app: &TestApp) -> HashMap<Uuid, String> {
    person::Entity::find()
        .all(app.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|person| (person.id.0, person.email))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_apis_and_two_workers_on_postgres_run_a_round_exactly_like_one_process() {
    let sink = SmtpSink::start(Script::accept_all()).await;
    let app = spawn_app(Db::Postgres).await;
    let org = app.create_org(&[99, 99, 99, 99, 99]).await;
    let (first_api, first_base) = start_api(&app);
    let (second_api, second_base) = start_api(&app);
    let client = reqwest::Client::new();
    wait_until_healthy(&client, &first_base).await;
    wait_until_healthy(&client, &second_base).await;
    let workers = [start_worker(&app, &sink, 8), start_worker(&app, &sink, 8)];

    let admin = app.admin_token().await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let opened: Value = client
        .post(format!("{first_base}/api/v1/surveys/{survey}/rounds"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let round_id: Uuid = opened["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(opened["invited_count"], 500);

    let messages = sink
        .wait_for(500, PATIENCE)
        .await
        .expect("500 invitations arrive");
    let db = app.state.store.connection();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while outbox::Entity::find().count(db).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the outbox empties");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages = if sink.messages().len() > messages.len() {
        sink.messages()
    } else {
        messages
    };
    assert_eq!(messages.len(), 500, "every invitation sent exactly once");
    let message_ids: HashSet<String> = messages
        .iter()
        .filter_map(ReceivedMessage::message_id)
        .collect();
    assert_eq!(message_ids.len(), 500);

    let mut statuses = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let (link, email) = link_and_recipient(message);
        let base = if index % 2 == 0 {
            &first_base
        } else {
            &second_base
        };
        statuses.push(answer_through(&client, base, &link, &email).await);
    }
    assert!(
        statuses.iter().all(|status| *status == 200),
        "every answer accepted"
    );
    let stored = open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round_id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(stored, 500, "every answer stored once");
    // One round keyring, shared by every process (here the secrets directory's
    // `rounds/`, as in compose and Kubernetes a shared volume): the API that
    // opened the round wrote the salt, the workers derived links from it, both
    // APIs sealed answers with it, and the API that closes destroys it.
    assert!(
        app.state
            .keys
            .keyring()
            .read(RoundId(round_id))
            .unwrap()
            .is_some()
    );

    let closed = client
        .post(format!("{second_base}/api/v1/rounds/{round_id}/close"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    assert!(
        app.state
            .keys
            .keyring()
            .read(RoundId(round_id))
            .unwrap()
            .is_none(),
        "the close destroyed the salt in the shared keyring"
    );
    let distributed = releases_by_name(&app, round_id).await;
    for worker in workers {
        terminate(worker).await;
    }
    terminate(first_api).await;
    terminate(second_api).await;

    // The same organisation and the same answers in one process.
    let single = spawn_app(Db::Postgres).await;
    let single_org = single.create_org(&[99, 99, 99, 99, 99]).await;
    let single_survey = single
        .create_survey(&[single_org.department], json!({}))
        .await;
    let single_round = single.open_round(single_survey).await;
    let emails = email_of(&single).await;
    for (person, token) in single.link_tokens(single_round).await {
        let response = single
            .answer(&token, choice_for(&emails[&person]), None)
            .await;
        assert_eq!(response.status(), 200);
    }
    single.close_round(single_round).await;
    let reference = releases_by_name(&single, single_round).await;
    assert_eq!(distributed.len(), 7, "department, five teams, Leadership");
    assert_eq!(
        as_multiset(&distributed),
        as_multiset(&reference),
        "the releases equal a single-process run's"
    );
}

/// SIGTERM while answers are being posted: every answer that got its thank-you page
/// is stored, and the server exits cleanly. SIGTERM while the worker sends: what it
/// claimed is sent or released, and a restarted worker delivers the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shutdown_loses_no_accepted_answer_and_no_claimed_email() {
    let app = spawn_app(Db::Postgres).await;
    // More invitations than one outbox batch (256), so the worker stopped after
    // its first batch leaves work for the restarted one.
    let org = app.create_org(&[150, 150]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let emails = email_of(&app).await;
    let tokens = app.link_tokens(round_id).await;

    let (server, base) = start_api(&app);
    let client = reqwest::Client::new();
    wait_until_healthy(&client, &base).await;
    let mut forms = Vec::new();
    for (person, token) in &tokens {
        let page = client
            .get(format!("{base}/r/{}", token.encode()))
            .send()
            .await
            .unwrap();
        forms.push((
            token.encode(),
            form_urlencode(
                &AnswerForm::parse(&page.text().await.unwrap())
                    .fields(choice_for(&emails[person]), None),
            ),
        ));
    }
    let mut posts = Vec::new();
    for (link, body) in forms {
        let client = client.clone();
        let url = format!("{base}/r/{link}");
        posts.push(tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .map(|response| response.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    terminate(server).await;
    let mut accepted = 0;
    for post in posts {
        if let Ok(200) = post.await.unwrap() {
            accepted += 1;
        }
    }
    let stored = open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round_id))
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(
        stored, accepted,
        "every thank-you page stands for a stored answer"
    );

    let sink = SmtpSink::start(Script::accept_all()).await;
    let worker = start_worker(&app, &sink, 1);
    sink.wait_for(5, PATIENCE).await.expect("the worker sends");
    terminate(worker).await;
    let live_claims = outbox::Entity::find()
        .filter(outbox::Column::ClaimedUntil.gt(chrono::Utc::now()))
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(live_claims, 0, "a stopped worker leaves no claim behind");
    let left_over = outbox::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert!(left_over > 0, "the first worker stopped before the end");
    let restarted = start_worker(&app, &sink, 4);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while outbox::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
        > 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted worker finishes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    terminate(restarted).await;
    let messages = sink.messages();
    let delivered: HashSet<String> = messages
        .iter()
        .map(|message| link_and_recipient(message).0)
        .collect();
    let expected: HashSet<String> = tokens.values().map(|token| token.encode()).collect();
    assert_eq!(delivered, expected, "every invitation delivered, none lost");
    assert_eq!(messages.len(), expected.len(), "and none sent twice");
}
