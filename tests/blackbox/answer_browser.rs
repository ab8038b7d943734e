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
    // Then the summary that unfolds the full promise.
    browser.press(&[keys::TAB]).await;
    assert_eq!(active(&browser, "tagName").await, "SUMMARY");
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

/// The German page at 320 and 375 px (issue 13, point 7): two lines of promise
/// above question 1 with the full text one tap away, every question inside its
/// box, and after a missing answer, the browser's own check and the error
/// summary's links both leave the question and its error in view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_respondent_sees_question_one_at_once_and_every_missing_answer_in_view() {
    let app = spawn_app(Db::Sqlite).await;
    let org = app.create_org(&[5]).await;
    let admin = app.admin_token().await;
    let person = org.members[0][0];
    let response = app
        .patch_json(
            &format!("/api/v1/people/{person}"),
            &admin,
            &json!({ "locale": "de" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await;
    let path = TestApp::answer_path(&tokens[&person]);

    for (width, height) in [(320, 640), (375, 812)] {
        let browser = Browser::start(width, height).await;
        browser.navigate(&app.url(&path)).await;
        assert_eq!(
            browser.read("return document.documentElement.lang;").await,
            "de"
        );
        assert!(
            browser.fits_the_width().await,
            "nothing overflows at {width} px"
        );
        let first_question = browser
            .read("return document.querySelector('fieldset').getBoundingClientRect().top;")
            .await
            .as_f64()
            .unwrap();
        assert!(
            first_question < f64::from(height),
            "question 1 starts in the first screen at {width} px: {first_question}"
        );
        let promise = browser
            .read("return document.querySelector('.promise-short').textContent;")
            .await;
        assert!(
            promise
                .as_str()
                .unwrap()
                .contains("Niemand kann Ihre einzelnen Antworten sehen"),
            "{promise}"
        );
        let full = browser
            .read("return document.querySelector('details.promise-full').textContent;")
            .await;
        assert!(
            full.as_str()
                .unwrap()
                .contains("Kommentare werden wörtlich gezeigt"),
            "the full text, one tap away"
        );
        let outside = browser
            .read(
                "return Array.from(document.querySelectorAll('fieldset')).filter(box => {\
                   const outer = box.getBoundingClientRect();\
                   const legend = box.querySelector('legend').getBoundingClientRect();\
                   return legend.top < outer.top + 1 || legend.left < outer.left || legend.right > outer.right;\
                 }).length;",
            )
            .await;
        assert_eq!(
            outside,
            json!(0),
            "every question sits inside its box at {width} px"
        );

        // The browser's own check: pressing send with nothing answered.
        browser.click("button[type=submit]").await;
        let legend_top = browser
            .read("return document.activeElement.closest('fieldset').querySelector('legend').getBoundingClientRect().top;")
            .await
            .as_f64()
            .unwrap();
        assert!(
            legend_top >= 0.0,
            "the browser's check leaves the question in view at {width} px: {legend_top}"
        );
        keep_screenshot(
            &format!("de-{width}-browser-check.png"),
            &browser.viewport_screenshot().await,
        );

        // The server's check: the first two questions answered, the form sent as a
        // browser without validation would, then the summary's last link followed.
        browser
            .click("fieldset:nth-of-type(1) input[type=radio]")
            .await;
        browser
            .click("fieldset:nth-of-type(2) input[type=radio]")
            .await;
        browser
            .read("document.querySelector('form').submit(); return true;")
            .await;
        let mut title = String::new();
        for _ in 0..100 {
            title = browser
                .read("return document.title;")
                .await
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if title.starts_with("Bitte prüfen") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(title.starts_with("Bitte prüfen"), "{title}");
        browser.click(".summary li:last-child a").await;
        let in_view = browser
            .read(
                "const box = document.querySelector(location.hash).closest('fieldset');\
                 const legend = box.querySelector('legend').getBoundingClientRect();\
                 const error = box.querySelector('.error').getBoundingClientRect();\
                 return [legend.top, error.bottom, window.innerHeight];",
            )
            .await;
        let [legend, error, viewport] = [0, 1, 2].map(|index| in_view[index].as_f64().unwrap());
        assert!(
            legend >= 0.0 && error <= viewport,
            "question and error in view at {width} px: {in_view}"
        );
        keep_screenshot(
            &format!("de-{width}-error-link.png"),
            &browser.viewport_screenshot().await,
        );
        browser.quit().await;
    }
}
