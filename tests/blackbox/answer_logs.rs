//! Logs (issue 5, DESIGN §2 "Logs, metrics, links"): every line the real
//! `safepulse serve` writes during a full round — start, opening, answers, a
//! duplicate and refused submits, closing — at `trace` level, with no token, ballot,
//! lookup, CSRF value, answer or comment in any of them, no access-log line for
//! `/r/*` (counted instead), no person's email next to survey data, and nothing
//! from actix-http below info (issue 11: its trace lines gave each answer's time
//! and whether it had a comment).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use safepulse_domain::RoundId;
use safepulse_domain::keys::LinkToken;
use safepulse_store::entities::{person, round, round_item, team};
use safepulse_tests::answer_form::form_urlencode;
use safepulse_tests::server_process::ServerProcess;
use safepulse_tests::{Db, TestApp};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Every text form in which a secret could reach a log line.
fn forms_of(bytes: &[u8]) -> Vec<String> {
    vec![
        hex(bytes),
        hex(bytes).to_uppercase(),
        URL_SAFE_NO_PAD.encode(bytes),
        STANDARD.encode(bytes),
        format!("{bytes:?}"),
    ]
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let token = app.admin_token().await;
    let text = app.get("/metrics", &token).await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse()
        .unwrap()
}

async fn a_full_round_logs_nothing_that_links_or_reveals_an_answer(db: Db) {
    let binary = Path::new(env!("CARGO_BIN_EXE_safepulse-under-test"));
    let (app, server) = ServerProcess::start(binary, db, "trace").await;
    let org = app.create_org(&[6, 6]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();

    let store = app.state.store.connection();
    let round_row = round::Entity::find_by_id(round_id)
        .one(store)
        .await
        .unwrap()
        .unwrap();
    let salt: [u8; 32] = app
        .state
        .keys
        .keyring()
        .read(RoundId(round_id))
        .unwrap()
        .unwrap();
    let round_key = app.round_key(&round_row);

    let mut secrets: Vec<String> = forms_of(&salt);
    let mut answer_texts = Vec::new();
    let mut comments = Vec::new();
    let mut answer_link_requests = 0;
    for (index, token) in tokens.iter().enumerate() {
        secrets.push(token.encode());
        secrets.extend(forms_of(token.as_bytes()));
        secrets.extend(forms_of(&token.lookup().0));
        secrets.extend(forms_of(&round_key.ballot(token).0));
        let form = app.answer_form(token).await;
        secrets.push(form.csrf.clone());
        let comment = format!("Only-in-a-comment {} {index}", uuid::Uuid::new_v4());
        let choose = |item: usize, options: &[u8]| options[(index + item) % options.len()];
        let values: Vec<u8> = form
            .items
            .iter()
            .enumerate()
            .map(|(item, (_, options))| choose(item, options))
            .collect();
        answer_texts.push(serde_json::to_string(&values).unwrap());
        let response = app
            .post_answer_body(token, form_urlencode(&form.fields(choose, Some(&comment))))
            .await;
        assert_eq!(response.status(), 200);
        comments.push(comment);
        answer_link_requests += 2;
    }
    let duplicate = app
        .answer(&tokens[0], |_, options| options[0], Some("a second try"))
        .await;
    assert_eq!(duplicate.status(), 409);
    let forged = app
        .post_answer_body(&tokens[1], "csrf=forged".to_owned())
        .await;
    assert_eq!(forged.status(), 403);
    let malformed = app
        .client
        .get(app.url("/r/not-a-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 404);
    answer_link_requests += 4;
    assert_eq!(
        metric(&app, "safepulse_answer_link_requests_total").await,
        answer_link_requests
    );
    assert_eq!(
        metric(&app, "safepulse_answers_accepted_total").await,
        tokens.len() as u64
    );
    app.close_round(round_id).await;

    let items: Vec<String> = round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round_id))
        .all(store)
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.item_id)
        .collect();
    let emails: Vec<String> = person::Entity::find()
        .all(store)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.email)
        .collect();
    let teams = team::Entity::find().all(store).await.unwrap();
    let mut survey_data: Vec<String> = vec![round_id.to_string(), survey.to_string()];
    survey_data.extend(items);
    survey_data.extend(
        teams
            .iter()
            .flat_map(|team| [team.id.to_string(), team.name.clone()]),
    );

    let lines = server.stop().await;
    assert!(lines.len() >= 10, "the server logged its work: {lines:?}");
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("a JSON log line: {line}"))
        })
        .collect();
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|event| event["message"].as_str())
        .collect();
    for expected in ["safepulse is listening", "round opened", "round closed"] {
        assert!(
            messages.contains(&expected),
            "the log has {expected:?}: {messages:?}"
        );
    }
    assert!(
        events
            .iter()
            .any(|event| event["route"] == "/api/v1/rounds/{id}/close"),
        "API requests are access-logged by route pattern"
    );
    assert!(
        events.iter().any(|event| event["level"] == "TRACE"),
        "the most verbose lines are captured too"
    );
    for event in &events {
        let target = event["target"].as_str().unwrap_or_default();
        let level = event["level"].as_str().unwrap_or_default();
        assert!(
            !(target.starts_with("actix_http") && matches!(level, "DEBUG" | "TRACE")),
            "actix-http logged below info (it times and measures every answer): {event}"
        );
    }
    for line in &lines {
        assert!(!line.contains("/r/"), "an answer link was logged: {line}");
        assert!(
            !line.contains("Length read"),
            "a request body's length was logged: {line}"
        );
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a token, lookup, ballot, salt or CSRF value was logged: {line}"
            );
        }
        for comment in &comments {
            assert!(
                !line.contains(comment.as_str()),
                "a comment was logged: {line}"
            );
        }
        assert!(
            !line.contains("second try"),
            "a refused comment was logged: {line}"
        );
        for answers in &answer_texts {
            assert!(
                !line.contains(answers.as_str()),
                "answers were logged: {line}"
            );
        }
        if emails.iter().any(|email| line.contains(email.as_str())) {
            for data in &survey_data {
                assert!(
                    !line.contains(data.as_str()),
                    "an email next to survey data: {line}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_round_on_sqlite_logs_no_token_answer_comment_or_email_next_to_survey_data() {
    a_full_round_logs_nothing_that_links_or_reveals_an_answer(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_round_on_postgres_logs_no_token_answer_comment_or_email_next_to_survey_data() {
    a_full_round_logs_nothing_that_links_or_reveals_an_answer(Db::Postgres).await
}
