//! The answer page in a real browser (issue 5): headless Chromium at phone width,
//! driven by the keyboard alone — Tab into each question, Space and the arrow keys
//! to choose, type a comment, Enter to send — ending on the thank-you page. Full-page
//! screenshots of the form and the thank-you page are kept under
//! `<target>/tmp/answer-page/`.

use safepulse_store::entities::round_item;
use safepulse_tests::webdriver::{Browser, keys};
use safepulse_tests::{Db, TestApp, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

const PHONE_WIDTH: u32 = 390;
const PHONE_HEIGHT: u32 = 844;

fn keep_screenshot(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("answer-page");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

async fn active(browser: &Browser, property: &str) -> String {
    browser
        .read(&format!(
            "return String(document.activeElement.{property});"
        ))
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyboard_only_respondent_answers_on_a_phone_and_sees_the_thank_you_page() {
    let app = spawn_app(Db::Sqlite).await;
    let org = app.create_org(&[5]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await;
    let token = &tokens[&org.members[0][0]];
    let db = app.state.store.connection();
    let items: Vec<(String, u8)> = round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round_id))
        .order_by_asc(round_item::Column::Position)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|item| {
            let minimum = app
                .state
                .bank
                .meta(&safepulse_domain::ItemId(item.item_id.clone()))
                .unwrap()
                .scale
                .min();
            (item.item_id, minimum)
        })
        .collect();

    let browser = Browser::start(PHONE_WIDTH, PHONE_HEIGHT).await;
    browser
        .navigate(&app.url(&TestApp::answer_path(token)))
        .await;
    assert_eq!(
        browser.read("return document.documentElement.lang;").await,
        "en"
    );
    assert_eq!(
        browser.read("return window.innerWidth;").await,
        json!(PHONE_WIDTH),
        "a phone-sized viewport"
    );
    assert_eq!(
        browser
            .read("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await,
        json!(true),
        "nothing overflows sideways at phone width"
    );

    // The first stop is the link to the full privacy text, then the questions.
    browser.press(&[keys::TAB]).await;
    assert_eq!(
        browser
            .read("return document.activeElement.getAttribute('href');")
            .await,
        json!("/privacy"),
        "Tab reaches the privacy link above the questions"
    );
    let mut expected = Vec::new();
    for (index, (item, minimum)) in items.iter().enumerate() {
        browser.press(&[keys::TAB]).await;
        assert_eq!(
            active(&browser, "name").await,
            *item,
            "Tab reaches question {}",
            index + 1
        );
        if index == 0 {
            let outline = browser
                .read("return getComputedStyle(document.activeElement).outlineStyle;")
                .await;
            assert_eq!(outline, "solid", "keyboard focus is visible");
        }
        let steps = index % 3;
        browser.press(&[keys::SPACE]).await;
        for _ in 0..steps {
            browser.press(&[keys::ARROW_RIGHT]).await;
        }
        expected.push(minimum + steps as u8);
    }
    browser.press(&[keys::TAB]).await;
    assert_eq!(active(&browser, "id").await, "comment");
    browser.type_text("Typed without a mouse.").await;
    browser.press(&[keys::TAB]).await;
    assert_eq!(active(&browser, "tagName").await, "BUTTON");
    let checked = browser
        .read("return document.querySelectorAll('input[type=radio]:checked').length;")
        .await;
    assert_eq!(
        checked,
        json!(items.len()),
        "every question answered by keyboard"
    );
    keep_screenshot("phone-form.png", &browser.full_page_screenshot().await);

    browser.press(&[keys::ENTER]).await;
    let mut title = String::new();
    for _ in 0..100 {
        title = browser
            .read("return document.title;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if title == "Thank you" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(title, "Thank you", "the thank-you page follows the submit");
    let heading = browser
        .read("return document.querySelector('h1').textContent;")
        .await;
    assert_eq!(heading, "Thank you – your answers are in");
    keep_screenshot("phone-thanks.png", &browser.full_page_screenshot().await);
    browser.quit().await;

    let stored = app.unsealed_answers(round_id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, expected);
    assert_eq!(
        app.unsealed_comments(round_id).await,
        ["Typed without a mouse."]
    );
}
