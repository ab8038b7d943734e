//! The dashboard for managers and HR (issue 6, point 3): magic-link sign-in that
//! works once, for 15 minutes, is not burnt by opening it and tells nobody which
//! addresses are known; pages that keep managers inside their subtree and show no
//! figure of a hidden round; and, in headless Chromium at phone width, the whole
//! path from the emailed link to a team's trend charts on the demo organisation,
//! keeping screenshots in `target/tmp/dashboard/` (the README's
//! `docs/screenshots/` are copies of them: a test never rewrites tracked files).

use std::path::{Path, PathBuf};

use safepulse_domain::{Clock, Email, NodeId, Role};
use safepulse_mailer::MailTransport;
use safepulse_store::entities::{issued_token, magic_link, outbox, release};
use safepulse_store::org;
use safepulse_tests::database_dump::dump_database;
use safepulse_tests::webdriver::{Browser, keys};
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

const LEADER: &str = "lead.t0@example.com";

/// Asks for a sign-in link the way a browser does, and waits until the request
/// has reached the database (the page answers before that).
async fn ask_for_link(app: &TestApp, email: &str) -> reqwest::Response {
    let response = app
        .client
        .post(app.url("/sign-in"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    app.state.sign_in_queue.settled().await;
    response
}

/// The `.eml` files of the app's mail folder.
fn mail_files(app: &TestApp) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(app.data_dir.join("mail")) else {
        return Vec::new();
    };
    entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect()
}

/// Sends what is queued as `.eml` files and returns the sign-in links found in
/// emails to `email`.
async fn delivered_links(app: &TestApp, email: &str) -> Vec<String> {
    app.state.sign_in_queue.settled().await;
    let worker = app.outbox_worker(MailTransport::file_in_data_dir(&app.data_dir).unwrap());
    app.deliver_all(&worker).await;
    let prefix = format!("{}/sign-in/", app.address);
    let mut links = Vec::new();
    for path in mail_files(app) {
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains(email) {
            continue;
        }
        for (start, _) in text.match_indices(&prefix) {
            let token: String = text[start + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            let link = format!("{prefix}{token}");
            if !links.contains(&link) {
                links.push(link);
            }
        }
    }
    links
}

/// One link for `email`, asked for and delivered.
pub(crate) async fn sign_in_link(app: &TestApp, email: &str) -> String {
    let before = delivered_links(app, email).await;
    assert_eq!(ask_for_link(app, email).await.status(), 200);
    let links: Vec<String> = delivered_links(app, email)
        .await
        .into_iter()
        .filter(|link| !before.contains(link))
        .collect();
    assert_eq!(links.len(), 1, "one new sign-in email for {email}");
    links.into_iter().next().unwrap()
}

pub(crate) fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

/// Opens the link and presses "Sign in": the POST's response.
async fn press_sign_in(app: &TestApp, link: &str) -> reqwest::Response {
    let page = app.client.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_of(&page.text().await.unwrap());
    app.client
        .post(link)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("safepulse_session="))
        .map(str::to_owned)
}

/// Signs `email` in and returns the `Cookie` header value of the session.
pub(crate) async fn signed_in(app: &TestApp, email: &str) -> String {
    let link = sign_in_link(app, email).await;
    let response = press_sign_in(app, &link).await;
    assert_eq!(response.status(), 303);
    let cookie = session_cookie(&response).expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let response = app
        .client
        .get(app.url(path))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A person in `team` with the hr role, added after any round: nothing of theirs
/// sits in a round, so they read every node.
pub(crate) async fn new_hr_person(app: &TestApp, email: &str, team: Uuid) {
    app.create_person(email, team).await;
    let db = app.state.store.connection();
    let person = org::find_person_by_email(db, &Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    org::grant_role(db, person.id, "hr", app.clock.now())
        .await
        .unwrap();
}

on_both_databases! {
    async fn a_sign_in_link_works_once_and_yields_a_strict_http_only_manager_session(app) {
        let org = app.create_org(&[5]).await;
        let link = sign_in_link(&app, LEADER).await;
        let response = press_sign_in(&app, &link).await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/dashboard");
        let cookie = session_cookie(&response).unwrap();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        assert!(!cookie.contains("Secure"), "the test server's public URL is http");
        let tokens = issued_token::Entity::find()
            .filter(issued_token::Column::Subject.eq(LEADER))
            .all(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].role, "manager", "a team lead without grants signs in as manager");
        assert_eq!(tokens[0].expires_at - tokens[0].issued_at, chrono::Duration::hours(8));

        let session = cookie.split(';').next().unwrap();
        let (status, body) = page(&app, "/dashboard", session).await;
        assert_eq!(status, 200);
        assert!(body.contains(&format!("/dashboard/teams/{}", org.teams[0])), "{body}");

        let again = press_sign_in(&app, &link).await;
        assert_eq!(again.status(), 410, "the second POST of a link fails");
        assert!(session_cookie(&again).is_none());
        assert!(again.text().await.unwrap().contains("This sign-in link does not work any more"));
    }

    async fn a_sign_in_link_expires_after_fifteen_minutes(app) {
        app.create_org(&[5]).await;
        let early = sign_in_link(&app, LEADER).await;
        let late = sign_in_link(&app, LEADER).await;
        app.clock.advance(chrono::Duration::minutes(14));
        assert_eq!(press_sign_in(&app, &early).await.status(), 303, "still valid after 14 minutes");
        app.clock.advance(chrono::Duration::minutes(1) + chrono::Duration::seconds(1));
        let expired = press_sign_in(&app, &late).await;
        assert_eq!(expired.status(), 410);
        assert!(session_cookie(&expired).is_none());
        let used = magic_link::Entity::find()
            .filter(magic_link::Column::UsedAt.is_not_null())
            .count(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(used, 1, "the expired link was not consumed");
    }

    async fn opening_a_sign_in_link_writes_nothing(app) {
        app.create_org(&[5]).await;
        let link = sign_in_link(&app, LEADER).await;
        let before = dump_database(app.state.store.connection()).await;
        for _ in 0..3 {
            let response = app.client.get(&link).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["cache-control"], "no-store");
            assert!(response.text().await.unwrap().contains("<button type=\"submit\">Sign in</button>"));
        }
        let after = dump_database(app.state.store.connection()).await;
        assert_eq!(before, after, "GET of the link changed the database");
        assert_eq!(press_sign_in(&app, &link).await.status(), 303, "and the link still works");
    }

    async fn an_unknown_or_ineligible_address_gets_the_identical_page_and_queues_nothing(app) {
        app.create_org(&[5]).await;
        let unknown = ask_for_link(&app, "nobody@example.com").await;
        let member = ask_for_link(&app, "m0.t0@example.com").await;
        let leader = ask_for_link(&app, LEADER).await;
        let (unknown_status, member_status, leader_status) = (unknown.status(), member.status(), leader.status());
        let unknown = unknown.text().await.unwrap();
        assert_eq!(unknown_status, leader_status);
        assert_eq!(member_status, leader_status);
        assert_eq!(unknown, member.text().await.unwrap());
        assert_eq!(unknown, leader.text().await.unwrap());
        assert!(unknown.contains("Check your email"));
        let db = app.state.store.connection();
        let queued = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq("sign_in"))
            .all(db)
            .await
            .unwrap();
        assert_eq!(queued.len(), 1, "only the team lead's request queued an email");
        assert_eq!(queued[0].recipient, LEADER);
        assert_eq!(magic_link::Entity::find().count(db).await.unwrap(), 1);
        let payload = queued[0].payload.to_string();
        assert!(!payload.contains("token"), "no link token stored: {payload}");
    }

    async fn pages_need_a_session_and_a_manager_stays_inside_their_subtree(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let (status, _) = page(&app, &format!("/dashboard/teams/{}", org.teams[0]), "").await;
        assert_eq!(status, 303, "no session: off to the sign-in page");
        let forged = "safepulse_session=eyJhbGciOiJIUzI1NiJ9.e30.x";
        let response = app.client.get(app.url("/dashboard")).header("Cookie", forged).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/sign-in");

        let manager = signed_in(&app, LEADER).await;
        let (status, _) = page(&app, &format!("/dashboard/teams/{}", org.teams[0]), &manager).await;
        assert_eq!(status, 200);
        let (status, _) = page(&app, &format!("/dashboard/teams/{}", org.department), &manager).await;
        assert_eq!(status, 200, "the department above");
        let (status, body) = page(&app, &format!("/dashboard/teams/{}", org.teams[1]), &manager).await;
        assert_eq!(status, 403, "a sibling team");
        assert!(body.contains("This report is not yours to read"));
        assert!(!body.contains("Team 1"), "not even the sibling's name");
        for mistyped in ["/dashboard/teams/not-a-team", "/dashboard/rounds/42/heatmap"] {
            let (status, body) = page(&app, mistyped, &manager).await;
            assert_eq!(status, 404, "{mistyped}");
            assert!(body.starts_with("<!DOCTYPE html>"), "a page, not problem+json: {body}");
        }
        let (status, body) = page(&app, "/dashboard", &manager).await;
        assert_eq!(status, 200);
        assert!(!body.contains(&org.teams[1].to_string()), "the sibling is not listed");
        let (status, body) = page(&app, &format!("/dashboard/rounds/{round_id}/heatmap"), &manager).await;
        assert_eq!(status, 200);
        assert!(!body.contains("Team 1") && !body.contains("Leadership group"), "{body}");

        new_hr_person(&app, "people@example.com", org.department).await;
        let hr = signed_in(&app, "people@example.com").await;
        let (status, body) = page(&app, &format!("/dashboard/rounds/{round_id}/heatmap"), &hr).await;
        assert_eq!(status, 200);
        assert!(body.contains("Team 1") && body.contains("Leadership group"));

        let audited = safepulse_store::entities::audit_entry::Entity::find()
            .filter(safepulse_store::entities::audit_entry::Column::Actor.eq(LEADER))
            .filter(safepulse_store::entities::audit_entry::Column::Action.eq("report.viewed"))
            .count(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(audited, 2, "each team page view is audited");
    }

    async fn a_hidden_round_shows_no_figures_and_points_to_the_department(app) {
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
        new_hr_person(&app, "people@example.com", org.department).await;
        let hr = signed_in(&app, "people@example.com").await;
        let (status, body) = page(&app, &format!("/dashboard/teams/{hidden_team}"), &hr).await;
        assert_eq!(status, 200);
        assert!(body.contains("hidden to protect anonymity"));
        assert!(body.contains("Hidden to protect anonymity"));
        assert!(
            body.contains("when too few people answered, when the group changed since its last results"),
            "the explanation names every reason without saying which applied"
        );
        assert!(body.contains(&format!("href=\"/dashboard/teams/{}\"", org.department)), "a link to the department");
        for figure_marker in ["<svg", "<circle", "95% interval", "Mean ", "favourable", "Agreement"] {
            assert!(!body.contains(figure_marker), "{figure_marker} on a hidden team's page");
        }
        let (status, body) = page(&app, &format!("/dashboard/teams/{}", org.department), &hr).await;
        assert_eq!(status, 200);
        assert!(body.contains("<svg") && body.contains("class=\"dot\""), "the department is released");
        assert!(body.contains("Conversation guide: Psychological safety"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_revokes_the_session_and_forged_posts_are_refused() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_org(&[5]).await;
    let link = sign_in_link(&app, LEADER).await;
    let csrf = csrf_of(
        &app.client
            .get(&link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let cross_site = app
        .client
        .post(&link)
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let no_csrf = app
        .client
        .post(&link)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let response = press_sign_in(&app, &link).await;
    assert_eq!(
        response.status(),
        303,
        "refused posts did not burn the link"
    );
    let session = session_cookie(&response).unwrap();
    let session = session.split(';').next().unwrap();
    let (_, dashboard) = page(&app, "/dashboard", session).await;
    let sign_out_csrf = csrf_of(&dashboard);
    let forged = app
        .client
        .post(app.url("/sign-out"))
        .header("Cookie", session)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "another form's CSRF field does not sign out"
    );
    let signed_out = app
        .client
        .post(app.url("/sign-out"))
        .header("Cookie", session)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf", sign_out_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 200);
    let cleared = session_cookie(&signed_out).expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _) = page(&app, "/dashboard", session).await;
    assert_eq!(status, 303, "the revoked token no longer opens a page");
}

// ---------------------------------------------------------------------------------
// In a browser

const PHONE_WIDTH: u32 = 375;
const PHONE_HEIGHT: u32 = 812;

pub(crate) fn keep_screenshot(name: &str, png: &[u8]) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

pub(crate) async fn wait_for_title(browser: &Browser, expected: &str) {
    wait_for_one_of_titles(browser, &[expected]).await;
}

/// Waits until the page's title is one of `expected` (a page in either language).
pub(crate) async fn wait_for_one_of_titles(browser: &Browser, expected: &[&str]) {
    let mut title = String::new();
    for _ in 0..100 {
        title = browser
            .read("return document.title;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if expected.contains(&title.as_str()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("expected the page {expected:?}, got {title:?}");
}

/// Tabs until the element with `id` (or the first button, for `"BUTTON"`) has focus.
pub(crate) async fn tab_to(browser: &Browser, target: &str) {
    for _ in 0..10 {
        browser.press(&[keys::TAB]).await;
        let focused = browser
            .read("return document.activeElement.id || document.activeElement.tagName;")
            .await;
        if focused == target {
            return;
        }
    }
    panic!("Tab never reached {target}");
}

pub(crate) async fn fits_the_phone(browser: &Browser) -> bool {
    browser
        .read("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await
        == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_signs_in_from_the_emailed_link_and_reads_trend_charts_on_a_phone() {
    let app = spawn_app(Db::Sqlite).await;
    let summary = safepulse_api::demo::build_demo(&app.state, app.clock.now())
        .await
        .unwrap();
    let db = app.state.store.connection();
    // A team whose history has released and hidden rounds: the chart needs a gap.
    let releases = release::Entity::find().all(db).await.unwrap();
    let teams = safepulse_store::entities::team::Entity::find()
        .all(db)
        .await
        .unwrap();
    let mixed = teams
        .iter()
        .filter_map(|team| {
            let own: Vec<&release::Model> = releases
                .iter()
                .filter(|row| row.node_id == NodeId::of_team(team.id))
                .collect();
            let hidden = own.iter().filter(|row| row.figures.is_none()).count();
            (hidden > 0 && hidden < own.len()).then_some((team, own.len() - hidden))
        })
        .max_by_key(|(_, released)| *released)
        .map(|(team, _)| team.clone())
        .expect("the demo has a team with both released and hidden rounds");
    let a_round = releases.first().expect("a released round").round_id;

    let browser = Browser::start(PHONE_WIDTH, PHONE_HEIGHT).await;
    browser.navigate(&app.url("/sign-in")).await;
    wait_for_title(&browser, "Sign in – safepulse").await;
    tab_to(&browser, "email").await;
    browser.type_text(&summary.hr_email).await;
    browser.press(&[keys::ENTER]).await;
    wait_for_title(&browser, "Check your email – safepulse").await;

    let links = delivered_links(&app, &summary.hr_email).await;
    assert_eq!(links.len(), 1, "one sign-in email in the mail folder");
    browser.navigate(&links[0]).await;
    wait_for_title(&browser, "Sign in – safepulse").await;
    tab_to(&browser, "BUTTON").await;
    browser.press(&[keys::ENTER]).await;
    wait_for_title(&browser, "Your teams – safepulse").await;
    assert_eq!(
        browser
            .read("return document.querySelector('h1').textContent;")
            .await,
        "All teams"
    );
    let listed = browser
        .read("return document.querySelectorAll('.teams li').length;")
        .await;
    assert_eq!(listed, json!(25), "hr sees every team of the demo");
    assert!(fits_the_phone(&browser).await, "the overview fits 375 px");
    keep_screenshot("dashboard.png", &browser.viewport_screenshot().await);

    browser
        .navigate(&app.url(&format!("/dashboard/teams/{}", mixed.id)))
        .await;
    wait_for_title(&browser, &format!("{} – safepulse", mixed.name)).await;
    let charts = browser
        .read("return document.querySelectorAll('svg.trend').length;")
        .await;
    assert!(
        charts.as_u64().unwrap() >= 8,
        "a chart per dimension: {charts}"
    );
    let gaps = browser
        .read("return document.querySelectorAll('svg.trend .hidden-round').length;")
        .await;
    assert!(
        gaps.as_u64().unwrap() >= 8,
        "the hidden rounds are drawn as gaps: {gaps}"
    );
    let labelled = browser
        .read("return document.querySelector('svg.trend .hidden-round title').textContent;")
        .await;
    assert!(
        labelled
            .as_str()
            .unwrap()
            .ends_with("hidden to protect anonymity"),
        "{labelled}"
    );
    let described = browser
        .read("return document.querySelector('svg.trend desc').textContent;")
        .await;
    assert!(
        described
            .as_str()
            .unwrap()
            .contains("Hidden to protect anonymity"),
        "{described}"
    );
    assert!(fits_the_phone(&browser).await, "the team page fits 375 px");
    keep_screenshot("team.png", &browser.viewport_screenshot().await);
    // A link to a dimension opens its folded section.
    browser
        .navigate(&app.url(&format!(
            "/dashboard/teams/{}#psychological_safety",
            mixed.id
        )))
        .await;
    let drawn_width = browser
        .read("return document.querySelector('#psychological_safety svg.trend').getBoundingClientRect().width;")
        .await;
    assert!(
        drawn_width.as_f64().unwrap() > 300.0,
        "the chart uses the phone's width: {drawn_width}"
    );
    keep_screenshot("team-chart.png", &browser.viewport_screenshot().await);

    browser
        .navigate(&app.url(&format!("/dashboard/rounds/{a_round}/heatmap")))
        .await;
    let cells = browser
        .read("return document.querySelectorAll('.heatmap td').length;")
        .await;
    assert!(cells.as_u64().unwrap() > 25, "{cells}");
    let hidden_rows = browser
        .read("return document.querySelectorAll('.heatmap .hidden-cell').length;")
        .await;
    assert!(
        hidden_rows.as_u64().unwrap() >= 1,
        "Recruiting is always hidden"
    );
    assert!(
        fits_the_phone(&browser).await,
        "the heatmap scrolls inside its box, not the page"
    );
    keep_screenshot("heatmap.png", &browser.viewport_screenshot().await);
    browser.quit().await;

    let token = issued_token::Entity::find()
        .filter(issued_token::Column::Subject.eq(summary.hr_email.as_str()))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.role, Role::Hr.as_str());
}
