//! Answering a pulse (issue 5): the one-time answer page `/r/{token}` — what it
//! shows, what it promises, how strictly it reads a form, and that a second or a
//! concurrent submit is refused politely and stores nothing more.

use std::collections::HashMap;

use safepulse_domain::keys::LinkToken;
use safepulse_domain::{Locale, TimeZone};
use safepulse_mailer::messages::local_date_time;
use safepulse_store::entities::{round, round_item};
use safepulse_tests::answer_form::{AnswerForm, form_urlencode};
use safepulse_tests::database_dump::dump_database;
use safepulse_tests::{Org, TestApp, on_both_databases};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

/// An organisation of `sizes`, one survey over it, and its open round's links.
async fn open_round_of(app: &TestApp, sizes: &[usize]) -> (Org, Uuid, HashMap<Uuid, LinkToken>) {
    let org = app.create_org(sizes).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await;
    (org, round_id, tokens)
}

async fn round_row(app: &TestApp, round_id: Uuid) -> round::Model {
    round::Entity::find_by_id(round_id)
        .one(app.state.store.connection())
        .await
        .unwrap()
        .unwrap()
}

async fn item_ids(app: &TestApp, round_id: Uuid) -> Vec<String> {
    round_item::Entity::find()
        .filter(round_item::Column::RoundId.eq(round_id))
        .order_by_asc(round_item::Column::Position)
        .all(app.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.item_id)
        .collect()
}

async fn stored_answers(app: &TestApp, round_id: Uuid) -> Vec<(Uuid, Vec<u8>)> {
    app.unsealed_answers(round_id).await
}

async fn stored_comments(app: &TestApp, round_id: Uuid) -> Vec<String> {
    app.unsealed_comments(round_id).await
}

/// The scale's middle option on every item.
fn middle(_: usize, options: &[u8]) -> u8 {
    options[options.len() / 2]
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("the response has {name}"))
        .to_str()
        .unwrap()
}

/// The headers every `/r/` response must carry.
fn assert_private_page_headers(response: &reqwest::Response) {
    assert_eq!(header(response, "cache-control"), "no-store");
    assert_eq!(header(response, "referrer-policy"), "no-referrer");
    assert!(header(response, "content-type").starts_with("text/html"));
    let policy = header(response, "content-security-policy");
    assert!(
        policy.starts_with("default-src 'none'; style-src 'sha256-"),
        "{policy}"
    );
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("http"),
        "{policy}"
    );
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

on_both_databases! {
    async fn the_emailed_link_shows_the_whole_form_and_its_promise_in_the_persons_language_and_writes_nothing(app) {
        let org = app.create_org(&[5, 5]).await;
        let german = org.members[0][0];
        let admin = app.admin_token().await;
        let updated = app
            .patch_json(&format!("/api/v1/people/{german}"), &admin, &json!({ "locale": "de", "time_zone": "Europe/Berlin" }))
            .await;
        assert_eq!(updated.status(), 200);
        let survey = app.create_survey(&[org.department], json!({ "privacy": { "k": 6, "k_detail": 12 } })).await;
        let round_id = app.open_round(survey).await;
        let tokens = app.link_tokens(round_id).await;
        let items = item_ids(&app, round_id).await;
        let closes_at = round_row(&app, round_id).await.closes_at;
        let db = app.state.store.connection();
        let before = dump_database(db).await;

        let response = app.open_answer_link(&tokens[&org.members[1][0]]).await;
        assert_eq!(response.status(), 200);
        assert_private_page_headers(&response);
        let html = response.text().await.unwrap();
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("Sent to 5 people in Team 1."), "the leader answers elsewhere, so the team node has 5");
        assert!(html.contains("groups of at least 6 people"), "k from the round");
        assert!(html.contains("groups of at least 12 people"), "k_detail from the round");
        assert!(html.contains("not your manager, not HR"));
        assert!(html.contains("Comments are shown word for word"), "the honest limits");
        assert!(html.contains("department level"), "small teams are shown at department level");
        let utc = TimeZone::parse("UTC").unwrap();
        assert!(html.contains(&local_date_time(closes_at, utc, Locale::En)), "when results appear");
        assert_eq!(html.matches("<fieldset").count(), items.len(), "one fieldset per item");
        assert_eq!(html.matches("<legend>").count(), items.len(), "one legend per item");
        let form = AnswerForm::parse(&html);
        let names: Vec<&str> = form.items.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, items, "every item of the round, in order");
        for (name, options) in &form.items {
            assert!(options == &(1..=7).collect::<Vec<u8>>() || options == &(0..=10).collect::<Vec<u8>>(), "{name}: {options:?}");
        }
        assert_eq!(html.matches(" required").count(), html.matches("type=\"radio\"").count(), "every radio group is required");
        assert!(html.contains("(Strongly disagree)") && html.contains("(Strongly agree)"), "labelled scale ends");
        assert!(html.contains("maxlength=\"2000\""));
        for forbidden in ["<script", "src=", "<link", "http://", "https://", "@import", "url("] {
            assert!(!html.contains(forbidden), "the page loads nothing else: {forbidden}");
        }

        let response = app.open_answer_link(&tokens[&german]).await;
        let german_html = response.text().await.unwrap();
        assert!(german_html.contains("<html lang=\"de\">"));
        assert!(german_html.contains("Gesendet an 5 Personen in Team 0."));
        assert!(german_html.contains("(Stimme überhaupt nicht zu)"));
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        assert!(german_html.contains(&local_date_time(closes_at, berlin, Locale::De)), "in the person's zone");

        let leader = app.open_answer_link(&tokens[&org.leaders[0]]).await.text().await.unwrap();
        assert!(leader.contains("Sent to 2 people in the Leadership group."));
        assert!(leader.contains("Because you lead a team"));

        assert_eq!(dump_database(db).await, before, "opening links writes nothing");
    }

    async fn answering_stores_the_answers_once_and_a_second_submit_is_politely_refused(app) {
        let (org, round_id, tokens) = open_round_of(&app, &[5]).await;
        let token = &tokens[&org.members[0][0]];
        let form = app.answer_form(token).await;
        let first_form_html = form.html.clone();
        let choose = |index: usize, options: &[u8]| options[index % options.len()];
        let expected: Vec<u8> = form.items.iter().enumerate().map(|(index, (_, options))| choose(index, options)).collect();

        let response = app
            .post_answer_body(token, form_urlencode(&form.fields(choose, Some("  Deadlines are tight.\r\nBut fair.  "))))
            .await;
        assert_eq!(response.status(), 200);
        assert_private_page_headers(&response);
        let thanks = response.text().await.unwrap();
        assert!(thanks.contains("Thank you"));
        let closes_at = round_row(&app, round_id).await.closes_at;
        let utc = TimeZone::parse("UTC").unwrap();
        assert!(thanks.contains(&local_date_time(closes_at, utc, Locale::En)), "says when results appear");

        let answers = stored_answers(&app, round_id).await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].1, expected, "in the round's item order");
        assert_eq!(answers[0].0, org.teams[0], "counted in the person's team");
        assert_eq!(stored_comments(&app, round_id).await, ["Deadlines are tight.\nBut fair."]);

        let again = app
            .post_answer_body(token, form_urlencode(&form.fields(middle, Some("A second opinion"))))
            .await;
        assert_eq!(again.status(), 409);
        assert_private_page_headers(&again);
        assert!(again.text().await.unwrap().contains("You have already answered this pulse"));
        assert_eq!(stored_answers(&app, round_id).await.len(), 1);
        assert_eq!(stored_comments(&app, round_id).await.len(), 1);

        let after = app.answer_form(token).await;
        assert_eq!(after.html, first_form_html, "opening the link again never reveals that it was used");

        // Requests to /r/ so far: form, post, post, form. Counted, without labels.
        assert_eq!(metric(&app, "safepulse_answer_link_requests_total").await, 4);
        assert_eq!(metric(&app, "safepulse_answers_accepted_total").await, 1);
        assert_eq!(metric(&app, "safepulse_answers_refused_total").await, 1);
    }

    async fn twenty_concurrent_submits_with_one_link_store_exactly_one_response(app) {
        let (org, round_id, tokens) = open_round_of(&app, &[5]).await;
        let token = tokens[&org.members[0][0]].clone();
        let form = app.answer_form(&token).await;
        let app = std::sync::Arc::new(app);
        let submits: Vec<_> = (0..20)
            .map(|index| {
                let app = app.clone();
                let token = token.clone();
                let body = form_urlencode(&form.fields(middle, Some(&format!("tab {index}"))));
                tokio::spawn(async move { app.post_answer_body(&token, body).await.status().as_u16() })
            })
            .collect();
        let mut statuses = Vec::new();
        for submit in submits {
            statuses.push(submit.await.unwrap());
        }
        statuses.sort_unstable();
        assert_eq!(statuses, [[200].as_slice(), &[409; 19]].concat(), "one accepted, nineteen already answered, no 500");
        assert_eq!(stored_answers(&app, round_id).await.len(), 1);
        assert_eq!(stored_comments(&app, round_id).await.len(), 1, "the comment of the accepted submit only");
    }

    async fn closed_unknown_and_malformed_links_all_get_the_same_page(app) {
        let (org, round_id, tokens) = open_round_of(&app, &[5]).await;
        let answered = &tokens[&org.members[0][0]];
        assert_eq!(app.answer(answered, middle, None).await.status(), 200);
        let never_opened = tokens[&org.members[0][1]].clone();
        let closed_form = app.answer_form(&never_opened).await;
        app.close_round(round_id).await;

        let unknown = LinkToken::parse(&"A".repeat(43)).unwrap().encode();
        let paths = [
            TestApp::answer_path(answered),
            TestApp::answer_path(&never_opened),
            format!("/r/{unknown}"),
            "/r/not-a-token".to_owned(),
            format!("/r/{}x", never_opened.encode()),
            format!("/r/{}", "%21".repeat(43)),
        ];
        let mut pages = Vec::new();
        for path in &paths {
            let response = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 404, "{path}");
            assert_private_page_headers(&response);
            pages.push(response.text().await.unwrap());
        }
        assert!(pages[0].contains("This link does not lead to an open pulse"));
        assert!(pages.iter().all(|page| page == &pages[0]), "one page for every link that leads nowhere");

        let late = app
            .post_answer_body(&never_opened, form_urlencode(&closed_form.fields(middle, None)))
            .await;
        assert_eq!(late.status(), 404, "late answers are refused");
        assert_eq!(late.text().await.unwrap(), pages[0]);
    }

    async fn strict_validation_answers_every_bad_form_with_a_friendly_4xx_page_and_stores_nothing(app) {
        let (org, round_id, tokens) = open_round_of(&app, &[5]).await;
        let token = &tokens[&org.members[0][0]];
        let other_token = &tokens[&org.members[0][1]];
        let form = app.answer_form(token).await;
        let other_form = app.answer_form(other_token).await;
        let valid = form.fields(middle, None);
        let first_item = form.items[0].0.clone();
        let with = |name: &str, value: &str| -> Vec<(String, String)> {
            let mut fields = valid.clone();
            match fields.iter_mut().find(|(field, _)| field == name) {
                Some(field) => field.1 = value.to_owned(),
                None => fields.push((name.to_owned(), value.to_owned())),
            }
            fields
        };
        let without = |name: &str| -> Vec<(String, String)> {
            valid.iter().filter(|(field, _)| field != name).cloned().collect()
        };
        let encoded = |fields: Vec<(String, String)>| form_urlencode(&fields);

        let cases: Vec<(&str, String, u16, &str)> = vec![
            ("an item unanswered", encoded(without(&first_item)), 422, "Question 1: please choose an answer."),
            ("above the scale", encoded(with(&first_item, "8")), 422, "Question 1: please choose one of the options."),
            ("below the scale", encoded(with(&first_item, "-1")), 422, "please choose one of the options"),
            ("not a number", encoded(with(&first_item, "seven")), 422, "please choose one of the options"),
            ("a comment of 2,001 characters", encoded(with("comment", &"ä".repeat(2_001))), 422, "it has 2001"),
            ("a NUL in the comment", encoded(with("comment", "a\u{0}b")), 422, "control characters"),
            ("an item twice", format!("{}&{}={}", encoded(valid.clone()), first_item, "3"), 400, "could not be read"),
            ("an unknown field", encoded(with("admin", "1")), 400, "could not be read"),
            ("a comment twice", format!("{}&comment=x", encoded(valid.clone())), 400, "could not be read"),
            ("invalid UTF-8", format!("{}&comment=%FF", encoded(without("comment"))), 400, "could not be read"),
            ("a broken escape", format!("{}&comment=%G1", encoded(without("comment"))), 400, "could not be read"),
            ("no CSRF field", encoded(without("csrf")), 403, "could not be verified"),
            ("a forged CSRF field", encoded(with("csrf", &"A".repeat(43))), 403, "could not be verified"),
            ("another link's CSRF field", encoded(with("csrf", &other_form.csrf)), 403, "could not be verified"),
            ("a body over 64 KiB", encoded(with("comment", &"a".repeat(70_000))), 413, "could not be read"),
        ];
        for (case, body, status, says) in cases {
            let response = app.post_answer_body(token, body).await;
            assert_eq!(response.status(), status, "{case}");
            assert_private_page_headers(&response);
            let page = response.text().await.unwrap();
            assert!(page.contains(says), "{case}: {page}");
        }

        let mut kept = with(&first_item, "9");
        kept.iter_mut().find(|(name, _)| name == "comment").unwrap().1 = "keep me".to_owned();
        let page = app.post_answer_body(token, encoded(kept)).await.text().await.unwrap();
        assert!(page.contains("role=\"alert\""), "an error summary on top");
        assert!(page.contains("href=\"#q-"), "linking to the item to fix");
        assert!(page.contains(">keep me</textarea>"), "the comment is kept");
        assert_eq!(page.matches(" checked").count(), form.items.len() - 1, "valid answers stay chosen");

        let wrong_type = app
            .client
            .post(app.url(&TestApp::answer_path(token)))
            .header("content-type", "application/json")
            .body(encoded(valid.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_type.status(), 415);
        for (name, value) in [("sec-fetch-site", "cross-site"), ("sec-fetch-site", "same-site"), ("origin", "https://evil.example")] {
            let response = app
                .client
                .post(app.url(&TestApp::answer_path(token)))
                .header("content-type", "application/x-www-form-urlencoded")
                .header(name, value)
                .body(encoded(valid.clone()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{name}: {value}");
        }
        assert!(stored_answers(&app, round_id).await.is_empty(), "nothing stored by any refused form");

        // What a browser sends under `Referrer-Policy: no-referrer`: Origin null, with
        // fetch metadata; and a comment of exactly 2,000 characters whose CRLF line
        // breaks count as one.
        let comment = format!("{}\r\n{}", "ü".repeat(999), "€".repeat(1_000));
        let response = app
            .client
            .post(app.url(&TestApp::answer_path(token)))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .body(encoded(with("comment", &comment)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(stored_comments(&app, round_id).await, [comment.replace("\r\n", "\n")]);
        assert_eq!(metric(&app, "safepulse_http_server_errors_total").await, 0, "never a 500");
    }

    async fn a_leaders_answer_lands_in_the_leadership_node_and_readers_count_as_viewers_where_their_invitation_sits(app) {
        let org = app.create_org(&[5, 5]).await;
        let admin = app.admin_token().await;
        let hr = org.members[0][4];
        let granted = app.client.put(app.url(&format!("/api/v1/people/{hr}/roles/hr"))).bearer_auth(&admin).send().await.unwrap();
        assert!(granted.status().is_success());
        let head = app.create_person("head@example.com", org.department).await;
        let leads = app.client.put(app.url(&format!("/api/v1/teams/{}/leaders/{head}", org.department))).bearer_auth(&admin).send().await.unwrap();
        assert!(leads.status().is_success());
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let tokens = app.link_tokens(round_id).await;
        let db = app.state.store.connection();

        use safepulse_store::entities::{round_node, round_viewer};
        let nodes = round_node::Entity::find().filter(round_node::Column::RoundId.eq(round_id)).all(db).await.unwrap();
        let leadership = nodes.iter().find(|node| node.kind == "leadership").unwrap().node_id.0;
        let viewers = round_viewer::Entity::find().filter(round_viewer::Column::RoundId.eq(round_id)).all(db).await.unwrap();
        let viewers_of = |node: Uuid| -> Vec<Uuid> {
            let mut people: Vec<Uuid> = viewers.iter().filter(|row| row.node_id.0 == node).map(|row| row.person_id.0).collect();
            people.sort();
            people
        };
        let sorted = |mut people: Vec<Uuid>| { people.sort(); people };
        // DESIGN §3: a node's v counts the readers who may read it *and* whose
        // invitation sits in its subtree. The three leaders answer in Leadership (under
        // the department) and read the department; hr (a member of team 0) reads
        // everything but sits only in team 0 and the department; nobody but hr reads
        // Leadership, and hr's invitation is not in it.
        assert_eq!(viewers_of(org.department), sorted(vec![org.leaders[0], org.leaders[1], head, hr]));
        assert_eq!(viewers_of(org.teams[0]), vec![hr]);
        assert_eq!(viewers_of(org.teams[1]), Vec::<Uuid>::new());
        assert_eq!(viewers_of(leadership), Vec::<Uuid>::new());
        for node in &nodes {
            assert_eq!(node.viewers as usize, viewers_of(node.node_id.0).len(), "round_nodes.viewers is v");
        }

        for person in [org.leaders[0], head, org.members[0][0], hr] {
            assert_eq!(app.answer(&tokens[&person], middle, None).await.status(), 200);
        }
        let mut landed: Vec<Uuid> = stored_answers(&app, round_id).await.iter().map(|row| row.0).collect();
        landed.sort();
        assert_eq!(landed, sorted(vec![leadership, leadership, org.teams[0], org.teams[0]]), "leaders in Leadership, hr in their team");
    }
}
