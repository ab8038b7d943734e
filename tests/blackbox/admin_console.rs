//! The admin console (issue 14): the first administrator from
//! `safepulse admin invite`, one guard on every admin page (sign-in redirect for
//! nobody, 403 for manager and hr sessions), and CSRF plus fetch-metadata checks
//! on every form post.

use safepulse_api::pages::admin::ROUTES;
use safepulse_domain::{Email, Locale, PersonId, Role, TeamId};
use safepulse_store::org::{self, PersonChanges};
use safepulse_tests::{TestApp, on_both_databases};
use uuid::Uuid;

use crate::dashboard::{page, signed_in};

pub(crate) const FIRST_ADMIN: &str = "first.admin@example.com";

/// The `csrf` field of the first form of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("safepulse_session="))
        .map(|value| value.split(';').next().unwrap().to_owned())
}

/// Opens `link` and presses the admin console's button: the POST's response.
async fn press_admin_sign_in(app: &TestApp, link: &str) -> reqwest::Response {
    let confirm = app.client.get(link).send().await.unwrap();
    assert_eq!(confirm.status(), 200);
    let csrf = csrf_of(&confirm.text().await.unwrap());
    app.client
        .post(link)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf", csrf.as_str()), ("as", "admin")])
        .send()
        .await
        .unwrap()
}

/// `safepulse admin invite EMAIL`'s link, signed in: the admin session's cookie.
pub(crate) async fn admin_signed_in(app: &TestApp, email: &str) -> String {
    let link = safepulse_api::cli::invite_admin(&app.state, email, None)
        .await
        .expect("the invitation works");
    assert!(
        link.starts_with(&format!("{}/sign-in/", app.address)),
        "{link}"
    );
    let response = press_admin_sign_in(app, &link).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin");
    session_cookie(&response).expect("an admin session")
}

/// A posted console form: same origin, with `csrf` unless it is `None`.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    if let Some(csrf) = csrf {
        form.push(("csrf", csrf));
    }
    app.client
        .post(app.url(path))
        .header("Cookie", cookie)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// A route pattern with every `{…}` filled in: ids that name nothing, `hr` for a role.
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| match segment {
            "{role}" => "hr".to_owned(),
            segment if segment.starts_with('{') => Uuid::new_v4().to_string(),
            segment => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

on_both_databases! {
    async fn the_first_admin_is_invited_from_the_command_line_and_lands_in_the_console(app) {
        let cookie = admin_signed_in(&app, FIRST_ADMIN).await;
        let (status, body) = page(&app, "/admin", &cookie).await;
        assert_eq!(status, 200);
        assert!(body.contains("Admin console"), "{body}");
        assert!(body.contains("Start with the organisation"), "an empty instance says where to start");
        let db = app.state.store.connection();
        let person = org::find_person_by_email(db, &Email::parse(FIRST_ADMIN).unwrap())
            .await
            .unwrap()
            .expect("the administrator is a person");
        assert_eq!(person.team_id, None, "in no team: never surveyed");
        assert!(org::holds_role(db, person.id, Role::Admin).await.unwrap());

        // A second invitation of the same person gives a new link and no second person.
        let again = admin_signed_in(&app, FIRST_ADMIN).await;
        assert_ne!(again, cookie);

        // Someone holding hr and admin signs in as hr by default, as admin on request.
        let team = app.create_team("People", None).await;
        let both = app.create_person("both@example.com", team).await;
        org::grant_role(db, PersonId(both), "hr", chrono::Utc::now()).await.unwrap();
        let hr_cookie = signed_in(&app, "both@example.com").await;
        let (status, body) = page(&app, "/admin", &hr_cookie).await;
        assert_eq!(status, 403);
        assert!(body.contains("The admin console is for administrators"), "{body}");
        let admin_cookie = admin_signed_in(&app, "both@example.com").await;
        assert_eq!(page(&app, "/admin", &admin_cookie).await.0, 200);
    }

    async fn every_admin_route_sends_nobody_to_sign_in_and_refuses_manager_and_hr_sessions(app) {
        let team = app.create_team("Team", None).await;
        let leader = app.create_person("leader@example.com", team).await;
        let db = app.state.store.connection();
        org::add_leader(db, TeamId(team), PersonId(leader)).await.unwrap();
        let analyst = app.create_person("analyst@example.com", team).await;
        org::grant_role(db, PersonId(analyst), "hr", chrono::Utc::now()).await.unwrap();
        let manager = signed_in(&app, "leader@example.com").await;
        let hr = signed_in(&app, "analyst@example.com").await;
        let admin = admin_signed_in(&app, FIRST_ADMIN).await;
        let (_, home) = page(&app, "/admin", &admin).await;
        let csrf = csrf_of(&home);
        assert!(ROUTES.len() > 1, "{ROUTES:?}");
        for (method, pattern) in ROUTES {
            let path = concrete(pattern);
            let send = |cookie: Option<&str>, fields: Vec<(&str, &str)>, site: &str| {
                let mut request = match *method {
                    "get" => app.client.get(app.url(&path)),
                    "post" => app.client.post(app.url(&path)).form(&fields),
                    other => panic!("unexpected method {other}"),
                };
                request = request.header("Sec-Fetch-Site", site.to_owned());
                if let Some(cookie) = cookie {
                    request = request.header("Cookie", cookie.to_owned());
                }
                request.send()
            };
            let nobody = send(None, vec![], "same-origin").await.unwrap();
            assert_eq!(nobody.status(), 303, "{method} {pattern} without a session");
            assert_eq!(nobody.headers()["location"], "/sign-in", "{method} {pattern}");
            for (who, cookie) in [("manager", &manager), ("hr", &hr)] {
                let response = send(Some(cookie), vec![("csrf", "x")], "same-origin").await.unwrap();
                assert_eq!(response.status(), 403, "{method} {pattern} as {who}");
                let body = response.text().await.unwrap();
                assert!(body.contains("The admin console is for administrators"), "{method} {pattern}");
            }
            if *method == "post" {
                let no_csrf = send(Some(&admin), vec![], "same-origin").await.unwrap();
                assert_eq!(no_csrf.status(), 403, "{pattern} without CSRF");
                assert!(no_csrf.text().await.unwrap().contains("could not be verified"));
                let forged = send(Some(&admin), vec![("csrf", "forged")], "same-origin").await.unwrap();
                assert_eq!(forged.status(), 403, "{pattern} with a wrong CSRF field");
                let cross = send(Some(&admin), vec![("csrf", csrf.as_str())], "cross-site").await.unwrap();
                assert_eq!(cross.status(), 403, "{pattern} from another site");
                let hr_with_admin_csrf = send(Some(&hr), vec![("csrf", csrf.as_str())], "same-origin").await.unwrap();
                assert_eq!(hr_with_admin_csrf.status(), 403, "{pattern}");
            } else {
                let response = send(Some(&admin), vec![], "same-origin").await.unwrap();
                assert!(
                    matches!(response.status().as_u16(), 200 | 404),
                    "{method} {pattern} as admin: {}", response.status()
                );
            }
        }
    }
}

on_both_databases! {
    async fn forms_go_through_the_api_rules_and_a_team_something_depends_on_is_not_deleted(app) {
        let admin = admin_signed_in(&app, FIRST_ADMIN).await;
        let (_, home) = page(&app, "/admin", &admin).await;
        let csrf = csrf_of(&home);
        let created = post_form(&app, "/admin/teams", &admin, Some(&csrf), &[("name", "Company"), ("parent_id", ""), ("time_zone", "")]).await;
        assert_eq!(created.status(), 303);
        let team: Uuid = created.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
        // The API's name rule and time-zone rule, next to their fields.
        let refused = post_form(&app, "/admin/teams", &admin, Some(&csrf), &[("name", "Bad\u{202e}name"), ("parent_id", ""), ("time_zone", "Mars/Base")]).await;
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.unwrap();
        assert!(body.contains("id=\"name-error\""), "{body}");
        assert!(body.contains("id=\"zone-error\""), "{body}");
        assert!(body.contains("id=\"name-error\">must not contain control characters"), "in English for an English admin: {body}");
        assert!(body.contains("id=\"zone-error\">unknown time zone"), "{body}");
        assert!(body.contains("value=\"Mars/Base\""), "what was typed stays");
        // A member makes the team undeletable, and the page says why.
        let person = post_form(&app, "/admin/people", &admin, Some(&csrf), &[
            ("email", "member@example.com"), ("name", "Member"), ("team_id", &team.to_string()), ("locale", "de"), ("time_zone", ""),
        ]).await;
        assert_eq!(person.status(), 303);
        let person_path = person.headers()["location"].to_str().unwrap().to_owned();
        let delete = post_form(&app, &format!("/admin/teams/{team}/delete"), &admin, Some(&csrf), &[]).await;
        assert_eq!(delete.status(), 409);
        assert!(delete.text().await.unwrap().contains("the team still has sub-teams or people"));
        // Erasure asks first and says what it keeps; then the person is gone.
        let (status, confirmation) = page(&app, &format!("{person_path}/erase"), &admin).await;
        assert_eq!(status, 200);
        assert!(confirmation.contains("Destroyed now") && confirmation.contains("Kept"), "{confirmation}");
        let erased = post_form(&app, &format!("{person_path}/erase"), &admin, Some(&csrf), &[]).await;
        assert_eq!(erased.status(), 303);
        let db = app.state.store.connection();
        assert!(org::find_person_by_email(db, &Email::parse("member@example.com").unwrap()).await.unwrap().is_none());
        let delete = post_form(&app, &format!("/admin/teams/{team}/delete"), &admin, Some(&csrf), &[]).await;
        assert_eq!(delete.status(), 303, "nothing depends on the team any more");
        // The audit log names the console's administrator.
        let entries = safepulse_store::audit::list(db, None, 100).await.unwrap().0;
        assert!(entries.iter().any(|entry| entry.action == "team.deleted" && entry.actor == FIRST_ADMIN));
    }
}

on_both_databases! {
    async fn a_draft_survey_sends_nothing_until_started_and_the_api_stays_active_by_default(app) {
        let team = app.create_team("Team", None).await;
        app.create_person("member@example.com", team).await;
        let token = app.admin_token().await;
        let draft = app
            .post_json("/api/v1/surveys", &token, &serde_json::json!({ "name": "Draft", "team_ids": [team], "draft": true }))
            .await;
        assert_eq!(draft.status(), 201);
        let draft: serde_json::Value = draft.json().await.unwrap();
        assert_eq!(draft["status"], "draft");
        let id = draft["id"].as_str().unwrap().to_owned();
        let refused = app.post_json(&format!("/api/v1/surveys/{id}/rounds"), &token, &serde_json::json!({})).await;
        assert_eq!(refused.status(), 409, "a draft opens no round");
        let paused = app.post_json(&format!("/api/v1/surveys/{id}/pause"), &token, &serde_json::json!({})).await;
        assert_eq!(paused.status(), 409);
        let started = app.post_json(&format!("/api/v1/surveys/{id}/start"), &token, &serde_json::json!({})).await;
        assert_eq!(started.status(), 200);
        assert_eq!(started.json::<serde_json::Value>().await.unwrap()["status"], "active");
        let again = app.post_json(&format!("/api/v1/surveys/{id}/start"), &token, &serde_json::json!({})).await;
        assert_eq!(again.status(), 409);
        let active = app
            .post_json("/api/v1/surveys", &token, &serde_json::json!({ "name": "At once", "team_ids": [team] }))
            .await;
        assert_eq!(active.json::<serde_json::Value>().await.unwrap()["status"], "active", "without draft, as before");
    }

    async fn an_api_token_issued_in_the_console_is_shown_once_audited_and_revocable(app) {
        let admin = admin_signed_in(&app, FIRST_ADMIN).await;
        let (_, home) = page(&app, "/admin", &admin).await;
        let csrf = csrf_of(&home);
        let issued = post_form(&app, "/admin/access/tokens", &admin, Some(&csrf), &[("subject", "integration@example.com"), ("role", "hr"), ("ttl", "30d")]).await;
        assert_eq!(issued.status(), 200);
        let body = issued.text().await.unwrap();
        let start = body.find("id=\"new-token\">").expect("the token is shown") + 15;
        let token = body[start..].split('<').next().unwrap().to_owned();
        assert_eq!(app.get("/api/v1/releases", &token).await.status(), 200, "the token works");
        let (_, listing) = page(&app, "/admin/access", &admin).await;
        assert!(!listing.contains(&token), "shown once: the listing has ids only");
        // Grouped by subject: the service token apart, the admin's own session under them.
        let service = listing.find(">integration@example.com <span class=\"hint\">(service token: no person)").expect("the service token's group");
        let own = listing.find(&format!(">{FIRST_ADMIN}</h3>")).expect("the admin's own group");
        assert!(own < service, "subjects in alphabetical order");
        assert!(listing[own..service].contains("sign-in session"), "{listing}");
        assert!(listing[service..].contains("API token"), "{listing}");
        let jti = safepulse_store::tokens::list_active(app.state.store.connection(), chrono::Utc::now(), None, 100)
            .await.unwrap().items.into_iter().find(|row| row.subject == "integration@example.com").unwrap().jti;
        let revoked = post_form(&app, &format!("/admin/access/tokens/{jti}/revoke"), &admin, Some(&csrf), &[]).await;
        assert_eq!(revoked.status(), 303);
        assert_eq!(app.get("/api/v1/releases", &token).await.status(), 401);
        let (_, audit) = page(&app, "/admin/audit?action=token.", &admin).await;
        assert!(audit.contains("token.issued") && audit.contains("token.revoked"), "{audit}");
        assert!(!audit.contains("role.granted"), "filtered by action: the invitation's grant is not listed");
    }
}

on_both_databases! {
    async fn a_german_administrator_and_a_german_manager_read_every_page_in_german(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let db = app.state.store.connection();
        let in_german = PersonChanges {
            locale: Some(Locale::De),
            ..PersonChanges::default()
        };
        let admin = admin_signed_in(&app, FIRST_ADMIN).await;
        let admin_id = org::find_person_by_email(db, &Email::parse(FIRST_ADMIN).unwrap())
            .await.unwrap().unwrap().id;
        // The locale is read on every request: changed after sign-in, it applies at once.
        org::update_person(db, admin_id, in_german.clone(), chrono::Utc::now()).await.unwrap();
        let survey_id = app.round_row(round_id).await.survey_id.to_string();
        let ids = |segment_before: &str| match segment_before {
            "teams" => org.department.to_string(),
            "people" => org.members[0][0].to_string(),
            "surveys" => survey_id.clone(),
            _ => round_id.to_string(),
        };
        for (method, pattern) in ROUTES {
            // The previews show respondents' pages, in the language chosen there.
            if *method != "get" || pattern.contains("{locale}") {
                continue;
            }
            let segments: Vec<&str> = pattern.split('/').collect();
            let path = segments
                .iter()
                .enumerate()
                .map(|(index, segment)| {
                    if segment.starts_with('{') { ids(segments[index - 1]) } else { (*segment).to_owned() }
                })
                .collect::<Vec<_>>()
                .join("/");
            let (status, body) = page(&app, &path, &admin).await;
            assert_eq!(status, 200, "{path}: {body}");
            assert!(body.contains("<html lang=\"de\">"), "{path}");
            assert!(body.contains("Befragungen") && body.contains("Abmelden"), "{path}: {body}");
            assert!(!body.contains("Sign out") && !body.contains("Surveys<"), "{path}: {body}");
        }
        // The API's problems, next to their fields in German; a refusal too.
        let csrf = csrf_of(&page(&app, "/admin/people", &admin).await.1);
        let refused = post_form(&app, "/admin/people", &admin, Some(&csrf), &[
            ("email", "nobody"), ("name", " "), ("team_id", &org.department.to_string()), ("locale", "de"), ("time_zone", "Mars/Base"),
        ]).await;
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.unwrap();
        for german in [
            "id=\"email-error\">eine E-Mail-Adresse braucht genau ein @",
            "id=\"name-error\">darf nicht leer sein oder nur aus Leerzeichen bestehen",
            "id=\"zone-error\">unbekannte Zeitzone",
        ] {
            assert!(body.contains(german), "{german}: {body}");
        }
        let refused = post_form(&app, "/admin/surveys/new", &admin, Some(&csrf), &[("name", "Pulse")]).await;
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.unwrap();
        assert!(body.contains("wählen Sie, wie oft") && body.contains("geben Sie eine ganze Zahl ein"), "{body}");
        let delete = post_form(&app, &format!("/admin/teams/{}/delete", org.department), &admin, Some(&csrf), &[]).await;
        assert_eq!(delete.status(), 409);
        let body = delete.text().await.unwrap();
        assert!(body.contains("das Team hat noch Unterteams oder Personen"), "{body}");
        let (_, round_page) = page(&app, &format!("/admin/rounds/{round_id}"), &admin).await;
        assert!(round_page.contains("Status: <strong>geschlossen</strong>"), "{round_page}");
        assert!(round_page.contains(" Uhr (UTC)"), "dates as German readers write them: {round_page}");

        let leader = org::get_person(db, PersonId(org.leaders[0])).await.unwrap();
        org::update_person(db, leader.id, in_german, chrono::Utc::now()).await.unwrap();
        let manager = signed_in(&app, &leader.email).await;
        let team = org.teams[0];
        for (path, german) in [
            ("/dashboard".to_owned(), "Ihre Teams"),
            (format!("/dashboard/teams/{team}"), "Puls vom "),
            (format!("/dashboard/teams/{team}"), "Geschlossen"),
            (format!("/dashboard/rounds/{round_id}/heatmap"), "Heatmap: Puls vom "),
            ("/dashboard/teams/not-a-team".to_owned(), "Nicht gefunden"),
        ] {
            let (_, body) = page(&app, &path, &manager).await;
            assert!(body.contains("<html lang=\"de\">") && body.contains("Abmelden"), "{path}: {body}");
            assert!(body.contains(german), "{path} says {german:?}: {body}");
        }
        // The action plan's problems in German too.
        let team_path = format!("/dashboard/teams/{team}");
        let csrf = csrf_of(&page(&app, &team_path, &manager).await.1);
        let round = round_id.to_string();
        let refused = post_form(&app, &format!("{team_path}/commitments"), &manager, None, &[
            ("csrf", csrf.as_str()), ("round_id", round.as_str()), ("dimension", "trust"), ("action", " "), ("due_on", "2020-01-01"),
        ]).await;
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.unwrap();
        for german in ["Es wurde nichts gespeichert", "schreiben Sie, was Sie tun werden", "ein Datum ab heute"] {
            assert!(body.contains(german), "{german}: {body}");
        }

        // Before sign-in, the browser's language decides.
        let sign_in = app.client.get(app.url("/sign-in")).header("Accept-Language", "de-DE,de;q=0.9,en;q=0.5").send().await.unwrap();
        let body = sign_in.text().await.unwrap();
        assert!(body.contains("<html lang=\"de\">") && body.contains("Anmeldelink per E-Mail senden"), "{body}");
        let english = app.client.get(app.url("/sign-in")).send().await.unwrap().text().await.unwrap();
        assert!(english.contains("<html lang=\"en\">") && english.contains("Email me a sign-in link"));
    }
}
