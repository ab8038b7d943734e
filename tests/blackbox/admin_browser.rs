//! Issue 14's "done when", in headless Chromium: from an empty instance, the first
//! administrator (`safepulse admin invite`, the real binary) signs in, builds a
//! two-level organisation by form and by CSV upload (preview, then apply), adds an
//! HR analyst who belongs to no team, creates a draft survey, previews it, sends a
//! test email to themselves, starts it, opens a round after reading how many
//! invitations go to which teams, and finds one invitation `.eml` per person in a
//! team; then closes the round from its page (which says whom closing ends, by
//! team) and finds the leader's digest — on SQLite and on PostgreSQL. A German
//! administrator then gets the console in German. Pages are checked at 375 px and 1280 px and
//! screenshots kept in `target/tmp/admin/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use safepulse_mailer::MailTransport;
use safepulse_tests::webdriver::Browser;
use safepulse_tests::{Db, TestApp, spawn_app};
use serde_json::{Value, json};

const ADMIN: &str = "first.admin@example.com";
const PEOPLE_CSV: &str = "email,name,team,leads,time_zone,locale\n\
ada@example.com,Ada Lovelace,Company/Engineering,true,Europe/Berlin,en\n\
grace@example.com,Grace Hopper,Company/Engineering,false,Europe/Berlin,de\n\
alan@example.com,Alan Turing,Company/Sales,false,Europe/London,en\n\
broken-address,Nobody,Company/Sales,maybe,Mars/Base,xx\n";

fn keep_screenshot(name: &str, png: &[u8]) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

async fn wait_for_title(browser: &Browser, expected: &str) {
    let mut title = String::new();
    for _ in 0..100 {
        title = browser
            .read("return document.title;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if title == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected the page {expected:?}, got {title:?}");
}

async fn text_of(browser: &Browser, selector: &str) -> String {
    let script = format!(
        "const element = document.querySelector({}); return element ? element.textContent : '';",
        json!(selector)
    );
    browser
        .read(&script)
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Sets form fields (`name` → value, checkboxes by `true`) of the form holding the
/// first field, then presses that form's submit button, as a person would.
async fn fill_and_submit(browser: &Browser, fields: Value) {
    let script = format!(
        r#"const fields = {fields};
        let form = null;
        for (const [name, value] of Object.entries(fields)) {{
            const input = document.querySelector(`[name="${{name}}"]`);
            if (!input) {{ return 'no field ' + name; }}
            form = form || input.form;
            if (input.type === 'checkbox' || input.type === 'radio') {{ input.checked = value; }}
            else if (input.tagName === 'SELECT' && !Array.from(input.options).some(o => o.value === value)) {{
                const option = Array.from(input.options).find(o => o.textContent.trim() === value);
                if (!option) {{ return 'no option ' + value; }}
                input.value = option.value;
            }} else {{ input.value = value; }}
        }}
        form.querySelector('button[type=submit]').click();
        return 'ok';"#
    );
    assert_eq!(browser.read(&script).await, json!("ok"), "{fields}");
}

async fn click(browser: &Browser, selector: &str) {
    let script = format!(
        "const element = document.querySelector({}); if (!element) return false; element.click(); return true;",
        json!(selector)
    );
    assert_eq!(browser.read(&script).await, json!(true), "{selector}");
}

async fn fits(browser: &Browser) -> bool {
    browser
        .read("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await
        == json!(true)
}

fn mail_files(app: &TestApp) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(app.data_dir.join("mail")) else {
        return Vec::new();
    };
    entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect()
}

async fn deliver(app: &TestApp) {
    let worker = app.outbox_worker(MailTransport::file_in_data_dir(&app.data_dir).unwrap());
    app.deliver_all(&worker).await;
}

/// `To:` and `Subject:` of every `.eml` (headers may be folded or encoded, so the
/// subject is checked by its words).
fn mails(app: &TestApp) -> Vec<(String, String)> {
    mail_files(app)
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let header = |name: &str| {
                text.lines()
                    .find(|line| line.starts_with(name))
                    .map(|line| line[name.len()..].trim().to_owned())
                    .unwrap_or_default()
            };
            (header("To:"), text)
        })
        .collect()
}

/// The first administrator's sign-in link, printed by the real binary.
async fn admin_invite_link(app: &TestApp) -> String {
    let output = app
        .safepulse_command(
            Path::new(env!("CARGO_BIN_EXE_safepulse-under-test")),
            &["admin", "invite", ADMIN, "--name", "First Admin"],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let link = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(
        link.starts_with(&format!("{}/sign-in/", app.address)),
        "{link}"
    );
    link
}

async fn sign_in_as_admin(browser: &Browser, link: &str) {
    browser.navigate(link).await;
    wait_for_title(browser, "Sign in – safepulse").await;
    click(browser, "button[name=as]").await;
    wait_for_title(browser, "Admin – safepulse admin").await;
}

async fn the_first_admin_sets_up_and_starts_a_pulse(db: Db) {
    // A page that fails logs why (to stderr): the one clue a browser test has.
    safepulse_api::telemetry::init(safepulse_api::config::LogFormat::Text, "safepulse_api=warn");
    let app = spawn_app(db).await;
    let browser = Browser::start(375, 812).await;
    sign_in_as_admin(&browser, &admin_invite_link(&app).await).await;
    assert!(
        text_of(&browser, "main")
            .await
            .contains("Start with the organisation")
    );
    assert!(fits(&browser).await, "the overview fits 375 px");

    // The top team by form, then a first sub-team by form.
    browser.navigate(&app.url("/admin/teams")).await;
    wait_for_title(&browser, "Teams – safepulse admin").await;
    fill_and_submit(
        &browser,
        json!({ "name": "Company", "time_zone": "Europe/Berlin" }),
    )
    .await;
    wait_for_title(&browser, "Company – safepulse admin").await;
    browser.navigate(&app.url("/admin/teams")).await;
    fill_and_submit(
        &browser,
        json!({ "name": "Engineering", "parent_id": "Company" }),
    )
    .await;
    wait_for_title(&browser, "Engineering – safepulse admin").await;
    assert_eq!(text_of(&browser, "h1").await, "Company / Engineering");
    // A problem is shown next to its field, and nothing changes.
    browser.navigate(&app.url("/admin/teams")).await;
    fill_and_submit(
        &browser,
        json!({ "name": "Engineering", "parent_id": "Company" }),
    )
    .await;
    wait_for_title(&browser, "Teams – safepulse admin").await;
    assert!(
        text_of(&browser, "#name-error")
            .await
            .contains("same parent"),
        "{}",
        text_of(&browser, "main").await
    );

    // People by CSV: every line's outcome first, nothing applied, then apply.
    browser.navigate(&app.url("/admin/import")).await;
    wait_for_title(&browser, "CSV upload – safepulse admin").await;
    let attach = format!(
        r#"const transfer = new DataTransfer();
        transfer.items.add(new File([{}], 'people.csv', {{ type: 'text/csv' }}));
        const input = document.querySelector('input[name=file]');
        input.files = transfer.files;
        input.form.querySelector('button[type=submit]').click();
        return true;"#,
        json!(PEOPLE_CSV)
    );
    assert_eq!(browser.read(&attach).await, json!(true));
    wait_for_title(&browser, "Check the upload – safepulse admin").await;
    assert_eq!(text_of(&browser, "#count-created").await, "3");
    assert_eq!(text_of(&browser, "#count-rejected").await, "1");
    let rejected = text_of(&browser, "table.preview tbody tr:last-child").await;
    for problem in ["email", "leads", "time_zone", "locale"] {
        assert!(
            rejected.contains(problem),
            "every problem of the line: {rejected}"
        );
    }
    keep_screenshot("import-preview.png", &browser.viewport_screenshot().await);
    assert!(fits(&browser).await, "the preview fits 375 px");
    let before = app.state.store.connection();
    let people_before = safepulse_store::org::search_people(before, "", 100)
        .await
        .unwrap();
    assert_eq!(
        people_before.len(),
        1,
        "the preview applied nothing: only the admin exists"
    );
    fill_and_submit(&browser, json!({ "partial": true })).await;
    wait_for_title(&browser, "Upload applied – safepulse admin").await;
    assert!(text_of(&browser, ".done").await.contains("3 created"));

    // One more member by form, and an HR analyst in no team (never surveyed).
    browser.navigate(&app.url("/admin/people")).await;
    fill_and_submit(&browser, json!({
        "email": "linus@example.com", "name": "Linus", "team_id": "Company / Sales", "locale": "en"
    })).await;
    wait_for_title(&browser, "Linus – safepulse admin").await;
    browser.navigate(&app.url("/admin/people")).await;
    fill_and_submit(
        &browser,
        json!({
            "email": "analyst@example.com", "name": "Ana Lyst", "team_id": "", "role_hr": true
        }),
    )
    .await;
    wait_for_title(&browser, "Ana Lyst – safepulse admin").await;
    assert!(text_of(&browser, ".lead").await.contains("never surveyed"));

    // A draft survey of the whole company.
    browser.navigate(&app.url("/admin/surveys/new")).await;
    wait_for_title(&browser, "New survey – safepulse admin").await;
    assert!(text_of(&browser, "main").await.contains("never below 4"));
    let company = browser
        .read("return Array.from(document.querySelectorAll('label.check')).find(l => l.textContent.trim() === 'Company').querySelector('input').name;")
        .await;
    fill_and_submit(
        &browser,
        json!({ "name": "Team pulse", company.as_str().unwrap(): true }),
    )
    .await;
    wait_for_title(&browser, "Team pulse – safepulse admin").await;
    assert!(text_of(&browser, "#survey-status").await.contains("draft"));
    assert!(fits(&browser).await, "the survey page fits 375 px");
    keep_screenshot("survey.png", &browser.viewport_screenshot().await);
    assert!(mail_files(&app).is_empty(), "a draft sends nothing");

    // Preview in both languages, without creating an invitation.
    click(&browser, "a[href$='/preview']").await;
    wait_for_title(&browser, "Preview Team pulse – safepulse admin").await;
    let subjects = browser
        .read("return Array.from(document.querySelectorAll('.email-subject')).map(e => e.textContent);")
        .await;
    assert_eq!(
        subjects,
        json!([
            "Team pulse: your anonymous pulse",
            "Team pulse: Ihr anonymer Puls"
        ])
    );
    click(&browser, "#answer-de").await;
    wait_for_title(&browser, "Team pulse").await;
    assert_eq!(
        browser.read("return document.documentElement.lang;").await,
        json!("de")
    );
    let questions = browser
        .read("return document.querySelectorAll('fieldset').length;")
        .await;
    assert!(questions.as_u64().unwrap() >= 5, "{questions}");
    assert!(
        text_of(&browser, ".preview-note")
            .await
            .contains("Vorschau")
    );
    assert_eq!(
        browser
            .read("return document.querySelector('button[type=submit]').disabled;")
            .await,
        json!(true)
    );
    assert!(fits(&browser).await, "the answer preview fits 375 px");
    let db = app.state.store.connection();
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        safepulse_store::entities::invitation::Entity::find()
            .count(db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        safepulse_store::entities::round::Entity::find()
            .count(db)
            .await
            .unwrap(),
        0
    );

    // A test email to me: marked, and counted nowhere.
    browser.navigate(&app.url("/admin/surveys")).await;
    click(&browser, "td a").await;
    wait_for_title(&browser, "Team pulse – safepulse admin").await;
    let survey_path = browser
        .read("return location.pathname;")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    browser
        .navigate(&app.url(&format!("{survey_path}/preview")))
        .await;
    click(&browser, "#send-test").await;
    wait_for_title(&browser, "Preview Team pulse – safepulse admin").await;
    assert!(text_of(&browser, "#test-sent").await.contains(ADMIN));
    deliver(&app).await;
    let sent = mails(&app);
    assert_eq!(sent.len(), 1, "only the test email");
    assert!(sent[0].0.contains(ADMIN), "{:?}", sent[0].0);
    assert!(
        sent[0].1.contains("[TEST]") && sent[0].1.contains("TEST: sent from the admin console")
    );
    assert!(
        !sent[0].1.contains("/r/"),
        "a test email carries no answer link"
    );
    assert_eq!(
        safepulse_store::entities::invitation::Entity::find()
            .count(db)
            .await
            .unwrap(),
        0
    );

    // Start, read the confirmation, open the round.
    browser.navigate(&app.url(&survey_path)).await;
    click(&browser, "#start").await;
    wait_for_title(&browser, "Team pulse – safepulse admin").await;
    assert!(text_of(&browser, "#survey-status").await.contains("active"));
    click(&browser, "#open-now").await;
    wait_for_title(&browser, "Open a round of Team pulse – safepulse admin").await;
    assert!(
        text_of(&browser, "#invitation-count")
            .await
            .starts_with("4 invitations"),
        "{}",
        text_of(&browser, "main").await
    );
    let table = text_of(&browser, "table").await;
    for team in ["Company", "Engineering", "Sales"] {
        assert!(table.contains(team), "{table}");
    }
    assert!(fits(&browser).await, "the confirmation fits 375 px");
    click(&browser, "#confirm-open").await;
    wait_for_title(&browser, "Round 1 of Team pulse – safepulse admin").await;
    assert!(
        text_of(&browser, "#round-status")
            .await
            .contains("4 invited")
    );
    deliver(&app).await;
    let invited: BTreeSet<String> = mails(&app)
        .into_iter()
        .filter(|(_, text)| text.contains("/r/") && !text.contains("[TEST]"))
        .map(|(to, _)| to)
        .collect();
    let expected: BTreeSet<String> = [
        "ada@example.com",
        "grace@example.com",
        "alan@example.com",
        "linus@example.com",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        invited
            .iter()
            .map(|to| expected
                .iter()
                .find(|address| to.contains(address.as_str()))
                .cloned()
                .unwrap_or_else(|| to.clone()))
            .collect::<BTreeSet<_>>(),
        expected,
        "one invitation per person in a team; none for the admin or the HR analyst"
    );
    assert_eq!(mails(&app).len(), 5, "four invitations and the test email");
    keep_screenshot("round.png", &browser.viewport_screenshot().await);

    // Close now: the round page is the confirmation and says whom closing ends, by team.
    let close_teams = text_of(&browser, "#close-teams").await;
    assert!(
        close_teams.contains("the 4 people invited")
            && close_teams.contains("Engineering")
            && close_teams.contains("Sales"),
        "{close_teams}"
    );
    click(&browser, "#confirm-close").await;
    wait_for_title(&browser, "Round 1 of Team pulse – safepulse admin").await;
    assert!(
        text_of(&browser, "#round-status").await.contains("closed"),
        "{}",
        text_of(&browser, "main").await
    );
    assert_eq!(
        text_of(&browser, "#confirm-close").await,
        "",
        "nothing left to close"
    );
    let round = safepulse_store::entities::round::Entity::find()
        .one(db)
        .await
        .unwrap()
        .expect("the round");
    assert_eq!(
        round.status,
        safepulse_store::entities::round::RoundStatus::Closed
    );
    deliver(&app).await;
    let digests: Vec<(String, String)> = mails(&app)
        .into_iter()
        .filter(|(_, text)| text.contains("has closed"))
        .collect();
    assert_eq!(
        digests.len(),
        1,
        "the digest to Engineering's leader: {digests:?}"
    );
    assert!(digests[0].0.contains("ada@example.com"), "{:?}", digests[0]);
    browser.quit().await;

    // The same pages on a wide screen.
    let wide = Browser::start(1280, 900).await;
    sign_in_as_admin(&wide, &admin_invite_link(&app).await).await;
    for path in ["/admin/teams", "/admin/people", survey_path.as_str()] {
        wide.navigate(&app.url(path)).await;
        assert!(fits(&wide).await, "{path} fits 1280 px");
    }
    keep_screenshot("survey-wide.png", &wide.viewport_screenshot().await);
    // A German administrator gets the console in German (read at every request).
    let admin = safepulse_store::org::find_person_by_email(
        db,
        &safepulse_domain::Email::parse(ADMIN).unwrap(),
    )
    .await
    .unwrap()
    .expect("the administrator");
    safepulse_store::org::update_person(
        db,
        admin.id,
        safepulse_store::org::PersonChanges {
            locale: Some(safepulse_domain::Locale::De),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    wide.navigate(&app.url("/admin/surveys")).await;
    wait_for_title(&wide, "Befragungen – safepulse-Verwaltung").await;
    assert_eq!(
        wide.read("return document.documentElement.lang;").await,
        "de"
    );
    assert!(text_of(&wide, "main").await.contains("Neue Befragung"));
    wide.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_sets_up_and_starts_a_pulse_in_the_browser_on_sqlite() {
    the_first_admin_sets_up_and_starts_a_pulse(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_sets_up_and_starts_a_pulse_in_the_browser_on_postgres() {
    the_first_admin_sets_up_and_starts_a_pulse(Db::Postgres).await;
}
