//! Disclosure across rounds (issue 18), end to end: rounds opened, answered through
//! the submit path and closed through the API, then read back as an hr reader would.
//! The four scenarios of the issue, each checked by the differencing attacker of
//! `tests/support/disclosure_oracle.rs`: it knows who answered in every round, and
//! everybody gives the same answers in every round (the attacker's best case).

use std::collections::{BTreeMap, BTreeSet};

use safepulse_domain::{Clock, Role};
use safepulse_store::answers::SubmitOutcome;
use safepulse_tests::disclosure_oracle::ReleaseSpan;
use safepulse_tests::{TestApp, on_both_databases};
use serde_json::{Value, json};
use uuid::Uuid;

/// One person of a scenario: where they sit, whether they lead their team, and the
/// one value they give to every item in every round.
#[derive(Debug, Clone)]
struct Member {
    id: Uuid,
    email: String,
    team: Uuid,
    leads: bool,
    value: u8,
}

/// The teams (name → parent) and people of a scenario, and who answered each round.
#[derive(Debug, Default)]
struct Scenario {
    parents: BTreeMap<Uuid, Option<Uuid>>,
    people: Vec<Member>,
    /// Per closed round: its id, where each person sat and who answered.
    rounds: Vec<(Uuid, BTreeMap<Uuid, Uuid>, BTreeSet<Uuid>)>,
}

impl Scenario {
    async fn team(&mut self, app: &TestApp, name: &str, parent: Option<Uuid>) -> Uuid {
        let id = app.create_team(name, parent).await;
        self.parents.insert(id, parent);
        id
    }

    /// `count` members of `team`, answering with values from `first` on (wrapping
    /// inside 3–5, away from the ends of the scale), and a leader when `leader`.
    async fn members(&mut self, app: &TestApp, team: Uuid, count: usize, first: u8, leader: bool) {
        let admin = app.admin_token().await;
        for index in 0..count + usize::from(leader) {
            let email = format!("p{}@example.com", self.people.len());
            let id = app.create_person(&email, team).await;
            let leads = index == count;
            if leads {
                let response = app
                    .client
                    .put(app.url(&format!("/api/v1/teams/{team}/leaders/{id}")))
                    .bearer_auth(&admin)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
            }
            self.people.push(Member {
                id,
                email,
                team,
                leads,
                value: 3 + (first + index as u8) % 3,
            });
        }
    }

    async fn move_person(&mut self, app: &TestApp, person: Uuid, team: Uuid) {
        let admin = app.admin_token().await;
        let response = app
            .patch_json(
                &format!("/api/v1/people/{person}"),
                &admin,
                &json!({ "team_id": team }),
            )
            .await;
        assert_eq!(response.status(), 200);
        self.people
            .iter_mut()
            .find(|member| member.id == person)
            .unwrap()
            .team = team;
    }

    /// Opens a round a day after the last, lets everyone but `skipping` answer (with
    /// a comment each), closes it and records who answered where.
    async fn round(&mut self, app: &TestApp, survey: Uuid, skipping: &[Uuid]) -> Uuid {
        app.clock.set(app.clock.now() + chrono::Duration::days(1));
        let round_id = app.open_round(survey).await;
        let items = app.item_count(round_id).await;
        let tokens = app.link_tokens(round_id).await;
        let mut answered = BTreeSet::new();
        for member in &self.people {
            if skipping.contains(&member.id) {
                continue;
            }
            let comment = format!("comment of {}", member.email);
            let outcome = app
                .submit_with_comment(&tokens[&member.id], member.value, items, Some(&comment))
                .await;
            assert_eq!(outcome, SubmitOutcome::Accepted);
            answered.insert(member.id);
        }
        app.close_round(round_id).await;
        let seats = self
            .people
            .iter()
            .map(|member| (member.id, member.team))
            .collect();
        self.rounds.push((round_id, seats, answered));
        round_id
    }

    /// Whether `team` is `ancestor` or below it.
    fn within(&self, team: Uuid, ancestor: Uuid) -> bool {
        let mut current = Some(team);
        while let Some(id) = current {
            if id == ancestor {
                return true;
            }
            current = self.parents.get(&id).copied().flatten();
        }
        false
    }

    fn person_index(&self, person: Uuid) -> usize {
        self.people
            .iter()
            .position(|member| member.id == person)
            .unwrap()
    }

    /// Who answered in a release of `round`, node `node` of kind `kind`: leaders
    /// answer in the Leadership node, under the root (the one top team here).
    fn respondents(&self, round: usize, node: Uuid, kind: &str) -> Vec<usize> {
        let (_, seats, answered) = &self.rounds[round];
        let is_root = kind == "root" || self.parents.get(&node) == Some(&None);
        self.people
            .iter()
            .filter(|member| answered.contains(&member.id))
            .filter(|member| match kind {
                "leadership" => member.leads,
                _ if member.leads => is_root,
                _ => self.within(seats[&member.id], node),
            })
            .map(|member| self.person_index(member.id))
            .collect()
    }
}

/// Every release of a round as hr reads it from the export.
async fn export(app: &TestApp, round_id: Uuid) -> Vec<Value> {
    let hr = app.token(Role::Hr, "people@example.com").await;
    let response = app
        .get(
            &format!("/api/v1/releases?limit=200&round_id={round_id}"),
            &hr,
        )
        .await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn team_report(app: &TestApp, node: Uuid) -> Value {
    let hr = app.token(Role::Hr, "people@example.com").await;
    let response = app.get(&format!("/api/v1/reports/teams/{node}"), &hr).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The attacker: every exact release of every round so far, with who answered in
/// it. Returns what it recovers (`None`: nothing exact).
async fn oracle(app: &TestApp, scenario: &Scenario, k_detail: usize) -> Option<String> {
    let mut scores = ReleaseSpan::new(scenario.people.len());
    let mut detail = ReleaseSpan::new(scenario.people.len());
    for (round, (round_id, _, _)) in scenario.rounds.iter().enumerate() {
        for row in export(app, *round_id).await {
            if row["release"]["status"] != "released" {
                continue;
            }
            let node: Uuid = row["node_id"].as_str().unwrap().parse().unwrap();
            let respondents = scenario.respondents(round, node, row["node_kind"].as_str().unwrap());
            assert_eq!(
                row["release"]["figures"]["respondents"].as_u64(),
                Some(respondents.len() as u64),
                "the oracle knows who answered: {row}"
            );
            scores.add(&respondents);
            if row["release"]["detail"] == true {
                detail.add(&respondents);
            }
        }
    }
    if let Some(person) = scores.isolated_person() {
        return Some(format!("the answers of {}", scenario.people[person].email));
    }
    detail
        .isolated_group_below(k_detail)
        .map(|group| format!("the answer distribution of {group:?}"))
}

/// A team report's entry for one round.
fn release_in(report: &Value, round_id: Uuid) -> &Value {
    report["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|round| round["round_id"] == round_id.to_string())
        .unwrap_or_else(|| panic!("round {round_id} in {report}"))
}

/// Department (5 directly) over Alpha (6 and a leader) and Beta (6 and a leader).
async fn department_of_two_teams(app: &TestApp, scenario: &mut Scenario) -> (Uuid, Uuid, Uuid) {
    let department = scenario.team(app, "Department", None).await;
    let alpha = scenario.team(app, "Alpha", Some(department)).await;
    let beta = scenario.team(app, "Beta", Some(department)).await;
    scenario.members(app, department, 5, 0, false).await;
    scenario.members(app, alpha, 6, 1, true).await;
    scenario.members(app, beta, 6, 2, true).await;
    (department, alpha, beta)
}

on_both_databases! {
    async fn a_person_moving_between_teams_cannot_be_differenced_out_of_either(app) {
        let mut scenario = Scenario::default();
        let (department, alpha, beta) = department_of_two_teams(&app, &mut scenario).await;
        let survey = app.create_survey(&[department], json!({})).await;
        let first = scenario.round(&app, survey, &[]).await;
        let first_alpha = team_report(&app, alpha).await;
        assert_eq!(
            release_in(&first_alpha, first)["release"]["status"], "released",
            "Alpha (6) is released in the first round"
        );
        let mover = scenario.people.iter().find(|member| member.team == alpha && !member.leads).unwrap().id;
        scenario.move_person(&app, mover, beta).await;
        let second = scenario.round(&app, survey, &[]).await;

        for team in [alpha, beta] {
            let report = team_report(&app, team).await;
            let round = release_in(&report, second);
            assert_eq!(round["release"]["status"], "suppressed", "{round}");
            assert_eq!(round["release"]["reason"], "hidden_to_protect_anonymity");
            assert_eq!(round["team_changed"], true, "the report says the team changed");
        }
        let department_report = team_report(&app, department).await;
        let round = release_in(&department_report, second);
        assert_eq!(round["release"]["status"], "released", "the department did not change");
        assert_eq!(round["team_changed"], false);
        assert_eq!(oracle(&app, &scenario, 10).await, None);

        // The Leadership node keeps its id from round to round (equal counts, equal
        // decisions), so its own past is found too.
        let leadership_of = |rows: Vec<Value>| -> Vec<Value> {
            rows.into_iter()
                .filter(|row| row["node_kind"] == "leadership")
                .map(|row| row["node_id"].clone())
                .collect()
        };
        let first_leadership = leadership_of(export(&app, first).await);
        assert_eq!(first_leadership.len(), 1);
        assert_eq!(first_leadership, leadership_of(export(&app, second).await));
    }

    async fn a_moving_person_is_only_rounded_under_the_rounded_policy(app) {
        let mut scenario = Scenario::default();
        let (department, alpha, beta) = department_of_two_teams(&app, &mut scenario).await;
        let survey = app
            .create_survey(
                &[department],
                json!({ "privacy": { "k": 5, "k_detail": 10, "restricted_release": "rounded" } }),
            )
            .await;
        let first = scenario.round(&app, survey, &[]).await;
        let mover = scenario.people.iter().find(|member| member.team == alpha && !member.leads).unwrap().clone();
        scenario.move_person(&app, mover.id, beta).await;
        let second = scenario.round(&app, survey, &[]).await;

        let report = team_report(&app, alpha).await;
        let before = &release_in(&report, first)["release"]["figures"];
        let after = release_in(&report, second);
        assert_eq!(after["release"]["status"], "rounded", "{after}");
        assert_eq!(after["release"]["reason"], "rounded_to_protect_anonymity");
        let rounded = &after["release"]["figures"];
        assert_eq!(rounded["respondents"], 5);
        let step = rounded["step"].as_f64().unwrap();
        assert_eq!(step, 1.0, "five respondents: whole points");
        // 6·mean₁ − 5·mean₂ with the rounded mean: the mover's answer lies anywhere
        // in a window five points wide, so several answers remain possible.
        for dimension in rounded["dimensions"].as_array().unwrap() {
            let name = dimension["dimension"].as_str().unwrap();
            let exact_before = before["dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|figure| figure["dimension"] == name)
                .unwrap()["mean"]
                .as_f64()
                .unwrap();
            let centre = 6.0 * exact_before - 5.0 * dimension["mean"].as_f64().unwrap();
            let candidates = (1..=7)
                .filter(|value| (f64::from(*value) - centre).abs() <= 5.0 * step / 2.0)
                .count();
            assert!(candidates >= 2, "{name}: {candidates} candidates around {centre}");
            assert!(dimension.get("favourability_percent").is_none());
        }
        assert!(rounded.get("items").is_none(), "no item figures in a rounded release");
        assert_eq!(oracle(&app, &scenario, 10).await, None);

        // The dashboard shows the rounded means and one explanation for all reasons.
        // (Its session tokens are checked against the real time.)
        app.clock.set(chrono::Utc::now());
        let hr_person = app.create_person("people.partner@example.com", department).await;
        let admin = app.admin_token().await;
        let granted = app
            .client
            .put(app.url(&format!("/api/v1/people/{hr_person}/roles/hr")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert!(granted.status().is_success());
        let cookie = crate::dashboard::signed_in(&app, "people.partner@example.com").await;
        let (status, body) = crate::dashboard::page(&app, &format!("/dashboard/teams/{alpha}"), &cookie).await;
        assert_eq!(status, 200);
        assert!(body.contains("Rounded to protect anonymity"), "{body}");
        assert!(body.contains("when the group changed since its last results"));
        assert!(body.contains("Team changed since the last pulse"));
        assert!(body.contains("rounded to protect anonymity</td>"), "the round's row");
        let (status, body) =
            crate::dashboard::page(&app, &format!("/dashboard/rounds/{second}/heatmap"), &cookie).await;
        assert_eq!(status, 200);
        assert!(body.contains("cmp-rounded"), "rounded cells in the heatmap");
    }

    async fn people_who_skip_a_round_take_the_detail_family_and_its_comments_with_them(app) {
        let mut scenario = Scenario::default();
        // As in the issue: nobody leads (no Leadership node, no reader inside).
        let alpha = scenario.team(&app, "Alpha", None).await;
        let tiny = scenario.team(&app, "Tiny", Some(alpha)).await;
        scenario.members(&app, alpha, 10, 0, false).await;
        scenario.members(&app, tiny, 2, 1, false).await;
        let survey = app.create_survey(&[alpha], json!({})).await;
        let first = scenario.round(&app, survey, &[]).await;
        let tiny_members: Vec<Uuid> = scenario
            .people
            .iter()
            .filter(|member| member.team == tiny && !member.leads)
            .map(|member| member.id)
            .collect();
        let second = scenario.round(&app, survey, &tiny_members).await;

        let report = team_report(&app, alpha).await;
        let before = release_in(&report, first);
        assert_eq!(before["release"]["detail"], true, "{before}");
        assert!(!before["comments"].as_array().unwrap().is_empty());
        let after = release_in(&report, second);
        assert_eq!(after["release"]["status"], "released", "scores stay: {after}");
        assert_eq!(after["release"]["detail"], false, "two fewer respondents: no detail");
        assert_eq!(after["comments"], json!([]), "and no comments to set against the first");
        assert!(after["release"]["figures"]["items"].as_array().unwrap().is_empty());
        assert_eq!(oracle(&app, &scenario, 10).await, None);
    }

    async fn participation_never_reaches_the_invitee_count_and_shows_a_day_only(app) {
        // Org (its leader only) over Ten (10) and Twenty (20): 31 invitees in all.
        let mut scenario = Scenario::default();
        let org = scenario.team(&app, "Org", None).await;
        let ten = scenario.team(&app, "Ten", Some(org)).await;
        let twenty = scenario.team(&app, "Twenty", Some(org)).await;
        scenario.members(&app, org, 0, 0, true).await;
        scenario.members(&app, ten, 10, 0, false).await;
        scenario.members(&app, twenty, 20, 0, false).await;
        let survey = app.create_survey(&[org], json!({})).await;
        let round_id = app.open_round(survey).await;
        let items = app.item_count(round_id).await;
        let tokens = app.link_tokens(round_id).await;
        let hr = app.token(Role::Hr, "people@example.com").await;
        let opened = app.clock.now();
        let shown_after = |hours: i64| {
            let (app, hr) = (&app, &hr);
            async move {
                let at = opened + chrono::Duration::hours(hours) + chrono::Duration::minutes(1);
                app.clock.set(at);
                app.scheduler().tick(at).await.unwrap();
                let mut shown = BTreeMap::new();
                for (node, invited) in [(org, 31u64), (ten, 10), (twenty, 20)] {
                    let response = app.get(&format!("/api/v1/reports/teams/{node}"), hr).await;
                    let report: Value = response.json().await.unwrap();
                    for open in report["open_rounds"].as_array().unwrap() {
                        let figure = open["respondents_at_least"].as_u64().unwrap();
                        assert!(figure + 5 < invited, "{figure} shown of {invited} invitees");
                        assert_eq!(open["as_of"], at.date_naive().to_string(), "a day, no time");
                        shown.insert(node, figure);
                    }
                }
                shown
            }
        };
        // Everyone but one person in Ten and one in Twenty answers.
        let last_of = |team: Uuid| scenario.people.iter().rev().find(|member| member.team == team).unwrap().id;
        let (last_in_ten, last_in_twenty) = (last_of(ten), last_of(twenty));
        for member in &scenario.people {
            if member.id != last_in_ten && member.id != last_in_twenty {
                let outcome = app.submit_directly(&tokens[&member.id], member.value, items).await;
                assert_eq!(outcome, SubmitOutcome::Accepted);
            }
        }
        let shown = shown_after(0).await;
        assert_eq!(shown.get(&ten), None, "ten invitees: nothing is ever shown");
        assert_eq!(shown.get(&twenty), Some(&10), "19 of 20 show as 10, not 15");
        assert_eq!(shown.get(&org), Some(&25), "29 of 31 show as 25");
        for last in [last_in_ten, last_in_twenty] {
            let member = scenario.people.iter().find(|member| member.id == last).unwrap();
            assert_eq!(app.submit_directly(&tokens[&last], member.value, items).await, SubmitOutcome::Accepted);
        }
        // Everyone has answered; two days later the figures are refreshed.
        let shown = shown_after(49).await;
        assert_eq!(shown.get(&ten), None);
        assert_eq!(shown.get(&twenty), Some(&10), "all twenty answered: still 10");
        assert_eq!(shown.get(&org), Some(&25), "all 31 answered: still 25");
    }

    async fn the_answer_page_says_what_happens_to_a_group_that_changed(app) {
        let mut scenario = Scenario::default();
        let team = scenario.team(&app, "Team", None).await;
        scenario.members(&app, team, 6, 0, false).await;
        for (privacy, promise) in [
            (json!({ "k": 5, "k_detail": 10 }), "results for this pulse are hidden."),
            (
                json!({ "k": 5, "k_detail": 10, "restricted_release": "rounded" }),
                "results for this pulse are shown only as rounded averages.",
            ),
        ] {
            let survey = app.create_survey(&[team], json!({ "privacy": privacy })).await;
            let round_id = app.open_round(survey).await;
            let tokens = app.link_tokens(round_id).await;
            let person = scenario.people[0].id;
            let page = app
                .client
                .get(app.url(&format!("/r/{}", tokens[&person].encode())))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(page.contains("one person more or fewer answered"), "{page}");
            assert!(page.contains(promise), "{promise}");
            app.close_round(round_id).await;
        }
    }

    async fn a_score_only_release_of_five_has_no_item_figures(app) {
        let mut scenario = Scenario::default();
        let team = scenario.team(&app, "Five", None).await;
        scenario.members(&app, team, 5, 0, true).await;
        let survey = app.create_survey(&[team], json!({})).await;
        let round_id = scenario.round(&app, survey, &[]).await;
        let report = team_report(&app, team).await;
        let release = &release_in(&report, round_id)["release"];
        assert_eq!(release["status"], "released", "{release}");
        assert_eq!(release["detail"], false);
        let figures = &release["figures"];
        assert_eq!(figures["respondents"], 6);
        assert_eq!(figures["items"], json!([]), "no per-item figure without detail");
        for dimension in figures["dimensions"].as_array().unwrap() {
            assert!(dimension["mean"].is_number() && dimension["favourability_percent"].is_number());
            assert!(dimension["detail"].is_null());
        }
        let hr = app.token(Role::Hr, "people@example.com").await;
        let text = app.get(&format!("/api/v1/releases?round_id={round_id}"), &hr).await.text().await.unwrap();
        assert!(!text.contains("\"enps\""), "no eNPS or other item figure in the export");
        assert_eq!(oracle(&app, &scenario, 10).await, None);
    }
}
