//! axe-core in headless Chromium (issue 13): every dashboard page (the team page
//! also as its leader sees it, with the action plan's forms), the front and
//! sign-in pages, the answer page (English and German, with and without errors, and
//! its thank-you page) and every HTML email, at 375 and 1280 px, checked against
//! WCAG 2.2 A/AA and axe's best practices, with no violation of any impact allowed.
//!
//! axe-core is the version pinned in `tests/accessibility/package-lock.json`,
//! installed by `scripts/test` (`npm ci`); the test reads it from
//! `tests/accessibility/node_modules` and never downloads anything.

use safepulse_mailer::MailTransport;
use safepulse_store::entities::{round, team};
use safepulse_tests::webdriver::Browser;
use safepulse_tests::{Db, TestApp, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::dashboard::new_hr_person;
use crate::manager_pages::sign_in_browser;

const WIDTHS: [(u32, u32); 2] = [(375, 812), (1280, 800)];

fn axe_source() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/accessibility/node_modules/axe-core/axe.min.js"
    );
    std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!("{path} is missing: run scripts/test, or `npm ci --prefix tests/accessibility`")
    })
}

/// axe's violations on the page the browser shows, one line each.
async fn violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.read(&format!("{axe}\nreturn true;")).await;
    let result = browser
        .read_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, { runOnly: { type: 'tag', values: \
               ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa', 'best-practice'] } })\
               .then(result => done(result.violations.map(v => ({ id: v.id, impact: v.impact, \
                 nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary) }))))\
               .catch(error => done([{ id: 'axe-error', impact: 'critical', nodes: [String(error)] }]));",
        )
        .await;
    result
        .as_array()
        .expect("a list of violations")
        .iter()
        .map(|violation: &Value| {
            format!(
                "{} ({}): {}",
                violation["id"].as_str().unwrap_or_default(),
                violation["impact"].as_str().unwrap_or_default(),
                violation["nodes"]
            )
        })
        .collect()
}

/// The HTML part of an `.eml` file as written (7bit or 8bit, never encoded).
fn html_part(eml: &str) -> String {
    let start = eml.find("Content-Type: text/html").expect("an HTML part");
    let body = &eml[start..];
    let body = &body[body.find("\r\n\r\n").expect("the part's body") + 4..];
    let end = body.find("\r\n--").expect("the part's end");
    body[..end].to_owned()
}

fn data_url(html: &str) -> String {
    use base64::Engine;
    format!(
        "data:text/html;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(html)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_email_has_no_axe_violation_at_phone_and_desktop_width() {
    let axe = axe_source();
    let app = spawn_app(Db::Sqlite).await;
    let summary =
        safepulse_api::demo::build_demo(&app.state, safepulse_domain::Clock::now(&app.clock))
            .await
            .unwrap();
    let db = app.state.store.connection();
    let team_named = |name: &'static str| async move {
        team::Entity::find()
            .filter(team::Column::Name.eq(name))
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let latest_round = round::Entity::find()
        .order_by_desc(round::Column::ClosedAt)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let dashboard_pages = vec![
        "/dashboard".to_owned(),
        format!("/dashboard/teams/{}", team_named("Payments").await),
        format!("/dashboard/teams/{}", team_named("Recruiting").await),
        format!("/dashboard/rounds/{latest_round}/heatmap"),
        "/dashboard/commitments".to_owned(),
        "/dashboard/teams/not-a-team".to_owned(),
    ];
    // The team page as its leader sees it: the action plan with its forms.
    let manager_pages = vec![format!("/dashboard/teams/{}", team_named("Payments").await)];

    // A fresh organisation beside the demo for the answer page and the emails: a
    // German respondent, an open round, and a closed one with its digests.
    let (answer_path, german_path, emails) = answer_pages_and_emails(&app).await;

    let mut found = Vec::new();
    for (width, height) in WIDTHS {
        let browser = Browser::start(width, height).await;
        macro_rules! check {
            ($what:expr) => {
                for violation in violations(&browser, &axe).await {
                    found.push(format!("{} at {width} px: {violation}", $what));
                }
            };
        }
        for public in ["/", "/sign-in"] {
            browser.navigate(&app.url(public)).await;
            check!(public.to_owned());
        }
        for path in [&answer_path, &german_path] {
            browser.navigate(&app.url(path)).await;
            check!(path.clone());
            // Every detail unfolded, as a reader who taps it sees it.
            browser.click("details.promise-full > summary").await;
            check!(format!("{path} (promise unfolded)"));
        }
        // The form sent with nothing answered: the page with its errors.
        browser.navigate(&app.url(&german_path)).await;
        browser
            .read("document.querySelector('form').submit(); return true;")
            .await;
        check!("the German answer page with errors".to_owned());
        for (name, html) in &emails {
            browser.navigate(&data_url(html)).await;
            check!(format!("email {name}"));
        }
        for (email, pages) in [
            (&summary.hr_email, &dashboard_pages),
            (&summary.manager_email, &manager_pages),
        ] {
            sign_in_browser(&app, &browser, email).await;
            for path in pages {
                browser.navigate(&app.url(path)).await;
                check!(path.clone());
                let folded = browser
                    .read(
                        "return document.querySelectorAll('details:not([open]) > summary').length;",
                    )
                    .await;
                if folded.as_u64().unwrap_or(0) > 0 {
                    browser
                    .read("document.querySelectorAll('details').forEach(d => d.open = true); return true;")
                    .await;
                    check!(format!("{path} (everything unfolded)"));
                }
            }
        }
        browser.quit().await;
    }
    assert!(found.is_empty(), "axe violations:\n{}", found.join("\n"));
}

/// The answer page of an English and a German respondent, and the HTML of every
/// email kind (invitation in both languages, digest, sign-in).
async fn answer_pages_and_emails(app: &TestApp) -> (String, String, Vec<(String, String)>) {
    let admin = app.admin_token().await;
    let department = app.create_team("Accessibility department", None).await;
    let mut people = Vec::new();
    for index in 0..6 {
        people.push(
            app.create_person(&format!("a11y{index}@example.com"), department)
                .await,
        );
    }
    let lead = app.create_person("a11y.lead@example.com", department).await;
    let response = app
        .client
        .put(app.url(&format!("/api/v1/teams/{department}/leaders/{lead}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    for person in [people[1], lead] {
        let response = app
            .patch_json(
                &format!("/api/v1/people/{person}"),
                &admin,
                &json!({ "locale": "de" }),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let survey = app.create_survey(&[department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await;
    let answer_path = TestApp::answer_path(&tokens[&people[0]]);
    let german_path = TestApp::answer_path(&tokens[&people[1]]);
    new_hr_person(app, "a11y.hr@example.com", department).await;

    let worker = app.outbox_worker(MailTransport::file_in_data_dir(&app.data_dir).unwrap());
    app.deliver_all(&worker).await;
    let closed_survey = app.create_survey(&[department], json!({})).await;
    let closed_round = app.open_round(closed_survey).await;
    let items = app.item_count(closed_round).await;
    for token in app.link_tokens(closed_round).await.values() {
        app.submit_directly(token, 5, items).await;
    }
    app.close_round(closed_round).await;
    app.client
        .post(app.url("/sign-in"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("email", "a11y.lead@example.com")])
        .send()
        .await
        .unwrap();
    app.state.sign_in_queue.settled().await;
    app.deliver_all(&worker).await;

    let mut emails = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.join("mail")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let kind = if text.contains("/r/") {
            "invitation"
        } else if text.contains("/sign-in/") {
            "sign-in"
        } else {
            "digest"
        };
        let language = if text.contains("lang=\"de\"") {
            "de"
        } else {
            "en"
        };
        let name = format!("{kind} ({language})");
        if !emails.iter().any(|(seen, _)| *seen == name) {
            emails.push((name, html_part(&text)));
        }
    }
    for expected in [
        "invitation (en)",
        "invitation (de)",
        "digest (de)",
        "sign-in (de)",
    ] {
        assert!(
            emails.iter().any(|(name, _)| name == expected),
            "{expected} among {:?}",
            emails.iter().map(|(name, _)| name).collect::<Vec<_>>()
        );
    }
    (answer_path, german_path, emails)
}
