//! The front door (issue 13, point 9): what someone who opens the server's address
//! finds, what the server says when it starts, what the sign-in page says about
//! `.eml` files, and how a team lead's invitation explains the leadership group.

use std::path::Path;

use safepulse_mailer::MailTransport;
use safepulse_store::entities::outbox;
use safepulse_tests::server_process::ServerProcess;
use safepulse_tests::webdriver::Browser;
use safepulse_tests::{Db, TestApp, on_both_databases, smtp_to_sink, spawn_app, spawn_app_with};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_itself_is_a_page_with_the_ways_in_at_phone_and_desktop_width() {
    let app = spawn_app(Db::Sqlite).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for link in [
        "href=\"/sign-in\"",
        "href=\"/docs/\"",
        "href=\"/healthz\"",
        "href=\"/privacy\"",
    ] {
        assert!(html.contains(link), "{link} on the front page");
    }

    for (width, height) in [(375, 812), (1280, 800)] {
        let browser = Browser::start(width, height).await;
        browser.navigate(&app.url("/")).await;
        let heading = browser
            .read("return document.querySelector('h1').textContent;")
            .await;
        assert_eq!(heading, "safepulse");
        assert!(
            browser.fits_the_width().await,
            "the front page fits {width} px"
        );
        let first_screen = browser.first_screen_text().await;
        for door in ["Sign in", "API documentation", "Health check"] {
            assert!(
                first_screen.contains(door),
                "{door} in the first screen at {width} px: {first_screen}"
            );
        }
        browser.quit().await;
    }
}

#[tokio::test]
async fn the_docs_address_without_its_slash_redirects_to_the_docs() {
    let app = spawn_app(Db::Sqlite).await;
    let response = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/docs/");
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    // An unknown path is still the API's problem+json.
    let unknown = app
        .client
        .get(app.url("/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn the_server_says_at_start_which_address_to_open_and_where_its_keys_are() {
    let binary = Path::new(env!("CARGO_BIN_EXE_safepulse-under-test"));
    let (app, server) = ServerProcess::start(binary, Db::Sqlite, "info").await;
    let lines = server.stop().await;
    let listening: serde_json::Value = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["message"] == "safepulse is listening")
        .expect("the listening line");
    let open = listening["open"].as_str().expect("an address to open");
    assert!(open.starts_with("http") && open.ends_with('/'), "{open}");
    assert_eq!(
        listening["secrets_dir"].as_str(),
        Some(app.secrets_dir.display().to_string().as_str())
    );
    assert!(
        listening["round_keyring"]
            .as_str()
            .is_some_and(|dir| dir.starts_with(&app.secrets_dir.display().to_string())),
        "{listening}"
    );
}

#[tokio::test]
async fn the_sign_in_page_mentions_eml_files_only_without_smtp() {
    let without_smtp = spawn_app(Db::Sqlite).await;
    let page = without_smtp
        .client
        .get(without_smtp.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(".eml"), "{page}");

    let with_smtp = spawn_app_with(Db::Sqlite, |config| {
        config.smtp = Some(smtp_to_sink(2525, 1));
    })
    .await;
    let page = with_smtp
        .client
        .get(with_smtp.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Email me a sign-in link"));
    assert!(
        !page.contains(".eml") && !page.contains("mail</code> folder"),
        "{page}"
    );
}

/// The `.eml` text of the one email to `recipient`.
fn email_to(app: &TestApp, recipient: &str) -> String {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.join("mail")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        if text.contains(&format!("To: {recipient}")) || text.contains(&format!("<{recipient}>")) {
            found.push(text);
        }
    }
    assert_eq!(found.len(), 1, "one email to {recipient}");
    found.remove(0)
}

on_both_databases! {
    async fn a_team_lead_s_invitation_names_the_team_they_lead_and_why_they_answer_with_the_leaders(app) {
        let org = app.create_org(&[5, 5]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        app.open_round(survey).await;
        let db = app.state.store.connection();
        let lead_row = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq("invitation"))
            .filter(outbox::Column::Recipient.eq("lead.t1@example.com"))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lead_row.payload["led_teams"], json!(["Team 1"]));
        let member_row = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq("invitation"))
            .filter(outbox::Column::Recipient.eq("m0.t1@example.com"))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert!(member_row.payload.get("led_teams").is_none(), "{}", member_row.payload);

        let worker = app.outbox_worker(MailTransport::file_in_data_dir(&app.data_dir).unwrap());
        app.deliver_all(&worker).await;
        let lead = email_to(&app, "lead.t1@example.com");
        assert!(lead.contains("You lead Team 1: your answers count in the leadership group"), "{lead}");
        assert!(!lead.contains("working together in Leadership"), "{lead}");
        assert!(lead.contains("you lead Team 1, and"), "the footer says why: {lead}");
        let member = email_to(&app, "m0.t1@example.com");
        assert!(member.contains("how working together in Team 1 feels"), "{member}");
        assert!(!member.contains("leadership group"), "{member}");
    }
}
