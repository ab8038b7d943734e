//! The manager's pages, summary first (issue 13, points 1, 2 and 8): the digest
//! links to the reader's team page and names the round as people say it, in their
//! language; the team page's first screen holds the latest pulse in plain words,
//! how many answered, the suggested conversation and the comments, at 375 and
//! 1280 px, with no statistician's word outside the analysts' sections; hidden
//! results explain themselves once and point to the nearest group shown; the
//! overview is a tree with each team's change and participation. Screenshots go to
//! `target/tmp/dashboard/` (the README's `docs/screenshots/` are copies).

use safepulse_mailer::MailTransport;
use safepulse_store::entities::{outbox, release, team};
use safepulse_store::org;
use safepulse_tests::webdriver::Browser;
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::dashboard::{
    keep_screenshot, new_hr_person, page, sign_in_link, signed_in, wait_for_one_of_titles,
    wait_for_title,
};

/// The widths every page is checked at: a phone and a desktop.
const SCREENS: [(u32, u32, &str); 2] = [(375, 812, "phone"), (1280, 800, "desktop")];

/// Words for statisticians, and the cadence's period keys: never outside the
/// analysts' sections.
fn jargon_in(text: &str) -> Vec<String> {
    let mut found: Vec<String> = ["rwg", "p =", "p <", "significan", "Welch", "t-test"]
        .into_iter()
        .filter(|term| text.contains(term))
        .map(str::to_owned)
        .collect();
    let bytes = text.as_bytes();
    for start in 0..bytes.len().saturating_sub(7) {
        let window = &bytes[start..start + 8];
        if window[..4].iter().all(u8::is_ascii_digit)
            && &window[4..6] == b"-W"
            && window[6..].iter().all(u8::is_ascii_digit)
        {
            found.push(String::from_utf8_lossy(window).into_owned());
        }
    }
    found
}

#[test]
fn the_jargon_check_finds_what_it_looks_for() {
    assert_eq!(
        jargon_in("Pulse of 7 Dec 2026: within normal variation"),
        Vec::<String>::new()
    );
    assert_eq!(jargon_in("rwg(j) 0.8, p = 0.000"), ["rwg", "p ="]);
    assert_eq!(jargon_in("round 2026-W50"), ["2026-W50"]);
}

/// "Pulse of 7 Dec 2026": the day the round opened in the team's time zone.
async fn expected_label(app: &TestApp, round_id: uuid::Uuid, team_id: uuid::Uuid) -> String {
    let team = team::Entity::find_by_id(team_id)
        .one(app.state.store.connection())
        .await
        .unwrap()
        .unwrap();
    safepulse_mailer::pulse_label(
        app.round_row(round_id).await.opened_at,
        safepulse_domain::TimeZone::parse(&team.time_zone).unwrap(),
        safepulse_domain::Locale::En,
    )
}

/// Signs the browser in through the emailed link and its button. The page before
/// sign-in follows the browser's language (English); the overview after it, the
/// person's own.
pub(crate) async fn sign_in_browser(app: &TestApp, browser: &Browser, email: &str) {
    let link = sign_in_link(app, email).await;
    browser.navigate(&link).await;
    wait_for_title(browser, "Sign in – safepulse").await;
    browser.click("button[type=submit]").await;
    wait_for_one_of_titles(
        browser,
        &["Your teams – safepulse", "Ihre Teams – safepulse"],
    )
    .await;
}

/// The first screen of a team page holds the summary; nothing overflows; no
/// jargon outside the analysts' sections; chart labels read at 12–14 px.
async fn check_team_page(browser: &Browser, width: u32, height: u32) {
    assert!(
        browser.fits_the_width().await,
        "the team page fits {width} px"
    );
    let first_screen = browser.first_screen_text().await;
    for expected in ["Pulse of", "people answered", "Suggested conversation"] {
        assert!(
            first_screen.contains(expected),
            "{expected:?} in the first screen at {width} px: {first_screen}"
        );
    }
    let summary_top = browser
        .read("return document.querySelector('.summary').getBoundingClientRect().top;")
        .await;
    assert!(
        summary_top.as_f64().unwrap() < f64::from(height) / 2.0,
        "{summary_top}"
    );
    let comments_top = browser
        .read("const box = document.querySelector('.comments-box'); return box ? box.getBoundingClientRect().top : null;")
        .await;
    if let Some(top) = comments_top.as_f64() {
        assert!(
            top < f64::from(height),
            "the comments start in the first screen at {width} px: {top}"
        );
    }
    let plain = browser.main_text_outside(".analyst").await;
    assert_eq!(
        jargon_in(&plain),
        Vec::<String>::new(),
        "jargon outside the analysts' sections at {width} px"
    );
    let analysts = browser
        .read("return Array.from(document.querySelectorAll('.analyst')).map(node => node.textContent).join(' ');")
        .await;
    assert!(
        !analysts.as_str().unwrap().contains("p = 0.000"),
        "{analysts}"
    );

    // A reader opens one dimension: its chart's labels are readable, none sideways.
    browser.click("details.dimension > summary").await;
    let label_px = browser
        .read(
            "const svg = document.querySelector('details.dimension[open] svg.trend');\
             const size = parseFloat(getComputedStyle(svg.querySelector('text.axis')).fontSize);\
             return size * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;",
        )
        .await
        .as_f64()
        .unwrap();
    assert!(
        (11.5..=14.5).contains(&label_px),
        "tick labels at {label_px:.1} px at {width} px"
    );
    let sideways = browser
        .read("return document.querySelectorAll('svg.trend text[transform]').length;")
        .await;
    assert_eq!(sideways, json!(0));
    assert!(
        browser.fits_the_width().await,
        "an open dimension fits {width} px"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_reads_the_demo_team_summary_first_on_a_phone_and_a_desktop() {
    let app = spawn_app(Db::Sqlite).await;
    let summary =
        safepulse_api::demo::build_demo(&app.state, safepulse_domain::Clock::now(&app.clock))
            .await
            .unwrap();
    let db = app.state.store.connection();
    let payments = team::Entity::find()
        .filter(team::Column::Name.eq("Payments"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    // The demo's manager reads German (a Berlin team's first member); this test
    // checks the English wording, `admin_console.rs` the German pages.
    let manager = org::find_person_by_email(
        db,
        &safepulse_domain::Email::parse(&summary.manager_email).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    org::update_person(
        db,
        manager.id,
        org::PersonChanges {
            locale: Some(safepulse_domain::Locale::En),
            ..Default::default()
        },
        safepulse_domain::Clock::now(&app.clock),
    )
    .await
    .unwrap();
    for (width, height, screen) in SCREENS {
        let browser = Browser::start(width, height).await;
        sign_in_browser(&app, &browser, &summary.manager_email).await;
        let tree_depth = browser
            .read("return document.querySelectorAll('.teams ul li').length;")
            .await;
        assert!(
            tree_depth.as_u64().unwrap() >= 1,
            "sub-teams sit in nested lists: {tree_depth}"
        );
        assert!(
            browser.fits_the_width().await,
            "the overview fits {width} px"
        );
        assert_eq!(
            jargon_in(&browser.main_text_outside(".analyst").await),
            Vec::<String>::new()
        );

        browser
            .navigate(&app.url(&format!("/dashboard/teams/{}", payments.id)))
            .await;
        wait_for_title(&browser, "Payments – safepulse").await;
        let analysts = browser
            .read("return Array.from(document.querySelectorAll('.analyst')).map(node => node.textContent).join(' ');")
            .await;
        assert!(
            analysts.as_str().unwrap().contains("least-squares slope"),
            "the statistics stay available for analysts: {analysts}"
        );
        keep_screenshot(
            &format!("team-{screen}.png"),
            &browser.viewport_screenshot().await,
        );
        check_team_page(&browser, width, height).await;
        browser.quit().await;
    }
}

/// The digest's button opens the manager's own team page, and the round is
/// called the same in the email, on the page and in the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_walks_from_the_digest_to_a_first_pulse_drawn_as_a_point_with_its_interval() {
    let app = spawn_app(Db::Sqlite).await;
    let (org, round_id) = app.closed_round_of_two_teams().await;
    // The team of the two whose results were shown (the other is hidden).
    let releases = release::Entity::find()
        .filter(release::Column::RoundId.eq(round_id))
        .all(app.state.store.connection())
        .await
        .unwrap();
    let shown = (0..2)
        .find(|index| {
            releases
                .iter()
                .any(|row| row.node_id.0 == org.teams[*index] && row.figures.is_some())
        })
        .expect("one team is shown");
    let lead = format!("lead.t{shown}@example.com");
    let worker = app.outbox_worker(MailTransport::file_in_data_dir(&app.data_dir).unwrap());
    app.deliver_all(&worker).await;
    let team_page = format!("{}/dashboard/teams/{}", app.address, org.teams[shown]);
    let digest = std::fs::read_dir(app.data_dir.join("mail"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .find(|text| text.contains(&lead) && text.contains("has closed"))
        .expect("the digest of the team's lead");
    assert!(
        digest.contains(&team_page),
        "the digest links to the team page: {digest}"
    );
    let label = expected_label(&app, round_id, org.teams[shown]).await;
    assert!(digest.contains(&label), "{label} in {digest}");

    for (width, height, screen) in SCREENS {
        let browser = Browser::start(width, height).await;
        sign_in_browser(&app, &browser, &lead).await;
        browser.navigate(&team_page).await;
        wait_for_title(&browser, &format!("Team {shown} – safepulse")).await;
        let heading = browser
            .read("return document.querySelector('#summary-title').textContent;")
            .await;
        assert_eq!(heading, json!(label));
        check_team_page(&browser, width, height).await;
        let caption = browser
            .read(
                "return document.querySelector('details.dimension[open] figcaption').textContent;",
            )
            .await;
        assert!(
            caption
                .as_str()
                .unwrap()
                .starts_with("One released pulse so far"),
            "{caption}"
        );
        let bars = browser
            .read("return document.querySelectorAll('details.dimension[open] svg.trend .interval').length;")
            .await;
        assert_eq!(bars, json!(1), "the lone point has its interval");
        keep_screenshot(
            &format!("first-pulse-{screen}.png"),
            &browser.viewport_screenshot().await,
        );
        if screen == "phone" {
            record_an_action_plan(&browser, &team_page).await;
        }
        browser.quit().await;
    }
}

/// On a phone: the manager commits to an action from the team page's form (the
/// suggested dimension, the suggested date), sees it listed as open, and the
/// dimension's chart marks the pulse after which it was made.
async fn record_an_action_plan(browser: &Browser, team_page: &str) {
    let action = "Weekly 1:1s with everyone";
    browser.click("#plan-action").await;
    browser.type_text(action).await;
    let dimension = browser
        .read("return document.querySelector('#plan-dimension').value;")
        .await;
    assert_ne!(dimension, json!(""), "a dimension is suggested");
    browser.click("#new-commitment button[type=submit]").await;
    let mut listed = Value::Null;
    for _ in 0..50 {
        listed = browser
            .read("const list = document.querySelector('.commitments'); return list ? list.textContent : null;")
            .await;
        if listed.is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let listed = listed
        .as_str()
        .expect("the commitment is listed")
        .to_owned();
    assert!(
        listed.contains(action) && listed.contains("Open"),
        "{listed}"
    );
    let url = browser.read("return location.href;").await;
    assert!(
        url.as_str().unwrap().starts_with(team_page),
        "back on the team page: {url}"
    );
    let marked = browser
        .read(&format!(
            "const body = document.getElementById({dimension});             body.closest('details').open = true;             return [body.querySelectorAll('svg.trend .commitment-marker').length,                     body.querySelector('figcaption').textContent];"
        ))
        .await;
    assert_eq!(marked[0], json!(1), "the chart marks the pulse: {marked}");
    assert!(
        marked[1].as_str().unwrap().contains("Dashed line"),
        "{marked}"
    );
    assert!(
        browser.fits_the_width().await,
        "the action plan fits a phone"
    );
    browser
        .read(&format!(
            "document.getElementById({dimension}).querySelector('figure').scrollIntoView(); return true;"
        ))
        .await;
    keep_screenshot(
        "action-plan-chart-phone.png",
        &browser.viewport_screenshot().await,
    );
    browser
        .read("document.getElementById('action-plan').scrollIntoView(); return true;")
        .await;
    keep_screenshot(
        "action-plan-phone.png",
        &browser.viewport_screenshot().await,
    );
}

on_both_databases! {
    async fn the_api_names_each_round_like_the_page_and_keeps_its_period_key(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let round = app.round_row(round_id).await;
        let hr_email = "people@example.com";
        new_hr_person(&app, hr_email, org.department).await;
        let hr = app.token(safepulse_domain::Role::Hr, hr_email).await;
        let report: Value = app
            .get(&format!("/api/v1/reports/teams/{}", org.department), &hr)
            .await
            .json()
            .await
            .unwrap();
        let expected = expected_label(&app, round_id, org.department).await;
        assert_eq!(report["rounds"][0]["label"], json!(expected));
        assert_eq!(report["rounds"][0]["period_key"], json!(round.period_key));
        assert_eq!(report["rounds"][0]["invited"], json!(14), "12 members and 2 leads invited below the department");
        let releases: Value = app.get("/api/v1/releases", &hr).await.json().await.unwrap();
        assert!(releases["items"].as_array().unwrap().iter().all(|row| row["label"] == json!(expected)), "{releases}");
    }

    async fn a_hidden_team_explains_once_links_the_privacy_model_and_the_nearest_group_shown(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let releases = release::Entity::find()
            .filter(release::Column::RoundId.eq(round_id))
            .all(app.state.store.connection())
            .await
            .unwrap();
        let hidden_team = *org
            .teams
            .iter()
            .find(|team| releases.iter().any(|row| row.node_id.0 == **team && row.figures.is_none()))
            .expect("one of the two teams is hidden");
        let lead = if hidden_team == org.teams[0] { "lead.t0@example.com" } else { "lead.t1@example.com" };
        let manager = signed_in(&app, lead).await;
        let (status, body) = page(&app, &format!("/dashboard/teams/{hidden_team}"), &manager).await;
        assert_eq!(status, 200);
        assert_eq!(body.matches("id=\"why-hidden\"").count(), 1, "one explanation");
        assert!(body.contains("href=\"/privacy\""), "linked to the privacy model");
        assert!(body.contains(&format!("<a href=\"/dashboard/teams/{}\">See the results of Department</a>, the nearest larger group shown", org.department)), "{body}");
        assert!(body.contains("<a href=\"#why-hidden\">hidden to protect anonymity</a>"), "the hidden pulse links the explanation");
        for revealing in ["fewer than", "k =", "k_detail", "respondents", "hierarchy"] {
            assert!(!body.contains(revealing), "{revealing:?} says which rule or how many");
        }
        let (_, overview) = page(&app, "/dashboard", &manager).await;
        assert!(overview.contains(&format!("href=\"/dashboard/teams/{hidden_team}#why-hidden\"")), "{overview}");
    }

    async fn the_overview_is_a_tree_with_change_and_participation_per_team(app) {
        let (org, _) = app.closed_round_of_two_teams().await;
        new_hr_person(&app, "people@example.com", org.department).await;
        let hr = signed_in(&app, "people@example.com").await;
        let (status, body) = page(&app, "/dashboard", &hr).await;
        assert_eq!(status, 200);
        let department = body.find(&format!("/dashboard/teams/{}\"", org.department)).unwrap();
        let nested = body[department..].find("<ul>").expect("the teams sit in a nested list");
        let team = body[department..].find(&format!("/dashboard/teams/{}\"", org.teams[0])).unwrap();
        assert!(nested < team, "Team 0 is inside Department's list");
        assert!(body.contains("14 of 14 answered"), "the department's participation: {body}");
        assert_eq!(body.matches("<ul").count(), body.matches("</ul>").count());
        assert_eq!(body.matches("<li>").count(), body.matches("</li>").count());
    }

    async fn the_digest_of_a_german_manager_names_the_pulse_in_german_and_opens_their_team(app) {
        let org = app.create_org(&[6, 6]).await;
        let admin = app.admin_token().await;
        let response = app
            .patch_json(&format!("/api/v1/people/{}", org.leaders[1]), &admin, &json!({ "locale": "de" }))
            .await;
        assert_eq!(response.status(), 200);
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let items = app.item_count(round_id).await;
        for token in app.link_tokens(round_id).await.values() {
            app.submit_directly(token, 5, items).await;
        }
        app.close_round(round_id).await;
        let row = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq("digest"))
            .filter(outbox::Column::Recipient.eq("lead.t1@example.com"))
            .one(app.state.store.connection())
            .await
            .unwrap()
            .unwrap();
        let months = ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."];
        let label = row.payload["round_label"].as_str().unwrap();
        assert!(label.starts_with("Puls vom ") && months.iter().any(|month| label.contains(month)), "{label}");
        assert_eq!(
            row.payload["report_link"],
            json!(format!("{}/dashboard/teams/{}", app.address, org.teams[1]))
        );
    }
}
