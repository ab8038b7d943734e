//! The heatmap (issue 13, point 3): rows in hierarchy order with their depth, each
//! exactly released cell compared with the organisation's figure of the same round
//! (on both databases), and in headless Chromium the whole table on a 1280 px
//! screen, a sticky first column and a visible scroll cue at 375 px, a legend with
//! words and symbols for every colour, and nothing wider than the page outside the
//! table's own scroll box.

use safepulse_domain::{Clock, Role};
use safepulse_store::entities::round;
use safepulse_tests::webdriver::{Browser, keys};
use safepulse_tests::{Db, on_both_databases, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::dashboard::{fits_the_phone, keep_screenshot, signed_in, tab_to};

/// Every row's parent comes before it, one level up, and siblings stay together.
fn assert_hierarchy_order(rows: &[Value]) {
    for (index, row) in rows.iter().enumerate() {
        let depth = row["depth"].as_u64().unwrap();
        match rows[..index]
            .iter()
            .find(|earlier| earlier["node_id"] == row["parent_node_id"])
        {
            Some(parent) => assert_eq!(depth, parent["depth"].as_u64().unwrap() + 1, "{row}"),
            None => assert_eq!(
                depth, 0,
                "a row whose parent is not listed starts a tree: {row}"
            ),
        }
        if depth > 0 {
            // Between the parent and this row, only the parent's other descendants.
            let parent_at = rows[..index]
                .iter()
                .rposition(|earlier| earlier["node_id"] == row["parent_node_id"])
                .unwrap();
            assert!(
                rows[parent_at + 1..index]
                    .iter()
                    .all(|between| between["depth"].as_u64().unwrap() >= depth),
                "{row}"
            );
        }
    }
}

async fn wait_for_table(browser: &Browser) {
    for _ in 0..100 {
        if browser
            .read("return document.querySelector('.heatmap tbody tr') !== null;")
            .await
            == json!(true)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the heatmap page did not load");
}

on_both_databases! {
    async fn heatmap_rows_follow_the_hierarchy_and_cells_compare_with_the_organisation(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let hr = app.token(Role::Hr, "people@example.com").await;
        let rows: Value = app.get(&format!("/api/v1/reports/rounds/{round_id}/heatmap"), &hr).await.json().await.unwrap();
        let rows = rows.as_array().unwrap();
        let order: Vec<(String, u64)> = rows.iter().map(|row| (row["kind"].as_str().unwrap().to_owned(), row["depth"].as_u64().unwrap())).collect();
        assert_eq!(order[0], ("team".to_owned(), 0), "the department first");
        assert_eq!(rows[0]["node_id"], org.department.to_string());
        assert_eq!(order.last().unwrap(), &("leadership".to_owned(), 1), "the Leadership group last among the department's groups");
        assert_hierarchy_order(rows);
        let organisation = &rows[0];
        assert_eq!(organisation["status"], "released");
        assert!(organisation["cells"].as_array().unwrap().iter().all(|cell| cell["difference_from_organisation"].is_null()));
        let mut compared = 0;
        for row in &rows[1..] {
            for cell in row["cells"].as_array().unwrap() {
                let own = cell["mean"].as_f64().unwrap();
                let theirs = organisation["cells"].as_array().unwrap().iter().find(|other| other["dimension"] == cell["dimension"]).unwrap()["mean"].as_f64().unwrap();
                let difference = cell["difference_from_organisation"].as_f64().expect("a released cell is compared");
                assert!((difference - (own - theirs)).abs() < 1e-12);
                compared += 1;
            }
        }
        assert!(compared > 0, "a released team to compare");

        // A manager who does not read the organisation's row gets no comparison.
        let manager = app.token(Role::Manager, "lead.t1@example.com").await;
        let rows: Value = app.get(&format!("/api/v1/reports/rounds/{round_id}/heatmap"), &manager).await.json().await.unwrap();
        for row in rows.as_array().unwrap() {
            let reads_top = rows.as_array().unwrap().iter().any(|row| row["parent_node_id"].is_null() && row["status"] == "released");
            for cell in row["cells"].as_array().unwrap() {
                assert_eq!(cell["difference_from_organisation"].is_null(), !reads_top || row["parent_node_id"].is_null());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heatmap_shows_the_whole_table_at_1280_px_and_scrolls_in_its_box_with_a_sticky_first_column_at_375_px()
 {
    let app = spawn_app(Db::Sqlite).await;
    let summary = safepulse_api::demo::build_demo(&app.state, app.clock.now())
        .await
        .unwrap();
    let db = app.state.store.connection();
    let latest = round::Entity::find()
        .filter(round::Column::Status.eq("closed"))
        .order_by_desc(round::Column::ClosedAt)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let hr = app.token(Role::Hr, &summary.hr_email).await;
    let rows: Value = app
        .get(
            &format!("/api/v1/reports/rounds/{}/heatmap", latest.id),
            &hr,
        )
        .await
        .json()
        .await
        .unwrap();
    let rows = rows.as_array().unwrap().clone();
    assert_hierarchy_order(&rows);
    let expected_nodes: Vec<Value> = rows.iter().map(|row| row["node_id"].clone()).collect();
    let expected_depths: Vec<Value> = rows
        .iter()
        .map(|row| json!(format!("depth-{}", row["depth"].as_u64().unwrap().min(5))))
        .collect();
    let cookie = signed_in(&app, &summary.hr_email).await;
    let session = cookie.split_once('=').unwrap().1.to_owned();

    for (width, height, name) in [
        (1280, 800, "heatmap-desktop.png"),
        (375, 812, "heatmap.png"),
    ] {
        let browser = Browser::start(width, height).await;
        browser.navigate(&app.url("/sign-in")).await;
        browser.add_cookie("safepulse_session", &session).await;
        // As HR gets there: from the overview, by the latest round's link.
        browser.navigate(&app.url("/dashboard")).await;
        let heatmap_path = format!("/dashboard/rounds/{}/heatmap", latest.id);
        browser.click(&format!("a[href=\"{heatmap_path}\"]")).await;
        wait_for_table(&browser).await;
        assert!(
            fits_the_phone(&browser).await,
            "nothing but the table's box scrolls sideways at {width} px"
        );
        let nodes = browser.read("return [...document.querySelectorAll('.heatmap tbody tr')].map(row => row.dataset.node);").await;
        assert_eq!(
            nodes,
            json!(expected_nodes),
            "the rows in hierarchy order at {width} px"
        );
        let depths = browser.read("return [...document.querySelectorAll('.heatmap tbody th')].map(cell => cell.className);").await;
        assert_eq!(depths, json!(expected_depths), "indented by depth");
        let legend = browser.read("return [...document.querySelectorAll('.legend li')].map(item => item.textContent.trim());").await;
        let legend: Vec<String> = serde_json::from_value(legend).unwrap();
        assert_eq!(
            legend.len(),
            6,
            "five steps and the organisation: {legend:?}"
        );
        assert!(
            legend[0].contains("well below the organisation") && legend[0].starts_with("▼▼"),
            "{legend:?}"
        );
        assert!(
            legend[4].contains("well above the organisation") && legend[4].starts_with("▲▲"),
            "{legend:?}"
        );
        // Colour is never the only cue: every coloured cell says the same in words.
        let uncued = browser.read("return [...document.querySelectorAll('.heatmap td[class*=\"cmp-\"]')].filter(cell => /cmp-(far-below|below|near|above|far-above)/.test(cell.className) && !/[▲▼=]/.test(cell.textContent) ).length;").await;
        assert_eq!(uncued, json!(0));
        let coloured = browser.read("return document.querySelectorAll('.heatmap td.cmp-below, .heatmap td.cmp-far-below, .heatmap td.cmp-above, .heatmap td.cmp-far-above, .heatmap td.cmp-near').length;").await;
        assert!(
            coloured.as_u64().unwrap() > 20,
            "the teams are compared: {coloured}"
        );
        let cue_shown = browser.read("const cue = document.querySelector('.scroll-cue'); return getComputedStyle(cue).display !== 'none' && cue.getBoundingClientRect().width > 0;").await;
        let fits_its_box = browser.read("const box = document.querySelector('.scroll'); return box.scrollWidth <= box.clientWidth;").await;
        if width == 1280 {
            assert_eq!(
                fits_its_box,
                json!(true),
                "the whole table is visible at 1280 px"
            );
            assert_eq!(
                cue_shown,
                json!(false),
                "no scroll cue where nothing scrolls"
            );
        } else {
            assert_eq!(
                fits_its_box,
                json!(false),
                "the table scrolls in its box at 375 px"
            );
            assert_eq!(cue_shown, json!(true), "a visible scroll cue at 375 px");
            keep_screenshot(name, &browser.viewport_screenshot().await);
            tab_to(&browser, "heatmap-table").await;
            for _ in 0..10 {
                browser.press(&[keys::ARROW_RIGHT]).await;
            }
            // Keyboard scrolling is animated.
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            let scrolled = browser
                .read("return document.querySelector('.scroll').scrollLeft;")
                .await;
            assert!(
                scrolled.as_f64().unwrap() > 100.0,
                "the arrow keys scroll the table: {scrolled}"
            );
            let sticky = browser.read("const box = document.querySelector('.scroll').getBoundingClientRect(); const first = document.querySelector('.heatmap tbody th').getBoundingClientRect(); return Math.abs(first.left - box.left) < 1;").await;
            assert_eq!(sticky, json!(true), "the team column stays in view");
        }
        if width == 1280 {
            keep_screenshot(name, &browser.viewport_screenshot().await);
            // The download button gives the same rows as a CSV file. Fetched with
            // the browser's session cookie: the page's own script may not fetch
            // (its Content-Security-Policy allows no connections).
            let link = browser
                .read("return document.querySelector('a.download[href$=\".csv\"]').getAttribute('href');")
                .await;
            let csv = app
                .client
                .get(app.url(link.as_str().unwrap_or_default()))
                .header("cookie", format!("safepulse_session={session}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let lines: Vec<&str> = csv.lines().collect();
            assert!(
                lines
                    .first()
                    .is_some_and(|header| header.contains("node_id")),
                "a CSV with a header: {csv:.200}"
            );
            assert_eq!(
                lines.len(),
                expected_nodes.len() + 1,
                "one line per heatmap row"
            );
        }
        browser.quit().await;
    }
}
