//! The reader rule (DESIGN §3): nobody reads a node of a round whose subtree held
//! their own invitation unless the round counted them among that node's viewers.
//! Someone given hr, or made a leader, while a round is open was not subtracted
//! by the anonymizer there, so none of the read paths may show them that node's
//! release: not the team report, the heatmap, the HR export, the dashboard or the
//! manager digest. The property test checks every path against one brute-force
//! oracle over random organisations, promotions, hr grants and moves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use safepulse_api::access::Reader;
use safepulse_api::auth::Caller;
use safepulse_api::error::ApiError;
use safepulse_api::pages::dashboard::overview_releases;
use safepulse_api::routes::reports::{
    ReleaseQuery, build_heatmap, build_release_page, build_team_report,
};
use safepulse_domain::access::{AccessNode, NodeKind, ReaderScope, nodes_a_manager_reads};
use safepulse_domain::{NodeId, PersonId, Role, RoundId, TeamId, TokenId};
use safepulse_mailer::payloads::DigestPayload;
use safepulse_store::entities::{
    invitation, outbox, release, round_node, round_viewer, team_leader,
};
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dashboard::{page, signed_in};

async fn get_json(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let response = app.get(path, token).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn put(app: &TestApp, admin: &str, path: &str) {
    let response = app
        .client
        .put(app.url(path))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "PUT {path}: {}",
        response.status()
    );
}

/// Creates a team or a person as `admin` and returns its id.
async fn create(app: &TestApp, admin: &str, path: &str, body: Value) -> Uuid {
    let response = app.post_json(path, admin, &body).await;
    assert_eq!(response.status(), 201, "POST {path} {body}");
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().parse().unwrap()
}

/// Everyone invited to `round_id` answers (values 3–6 in turn).
async fn everyone_answers(app: &TestApp, round_id: Uuid) {
    let items = app.item_count(round_id).await;
    let tokens = app.link_tokens(round_id).await;
    let mut people: Vec<&Uuid> = tokens.keys().collect();
    people.sort();
    for (index, person) in people.into_iter().enumerate() {
        let outcome = app
            .submit_directly(&tokens[person], 3 + (index % 4) as u8, items)
            .await;
        assert_eq!(outcome, safepulse_store::answers::SubmitOutcome::Accepted);
    }
}

/// A department of leaderless teams of `sizes` people (`m<i>.t<j>@example.com`):
/// with no leader there is no Leadership node, so every node is released and only
/// the reader rule can hide one. Returns the department, the teams and their people.
async fn leaderless_department(
    app: &TestApp,
    sizes: &[usize],
) -> (Uuid, Vec<Uuid>, Vec<Vec<Uuid>>) {
    let department = app.create_team("Department", None).await;
    let mut teams = Vec::new();
    let mut people = Vec::new();
    for (index, size) in sizes.iter().enumerate() {
        let team = app
            .create_team(&format!("Team {index}"), Some(department))
            .await;
        let mut members = Vec::new();
        for member in 0..*size {
            members.push(
                app.create_person(&format!("m{member}.t{index}@example.com"), team)
                    .await,
            );
        }
        teams.push(team);
        people.push(members);
    }
    (department, teams, people)
}

async fn released_nodes(app: &TestApp, round_id: Uuid) -> HashSet<Uuid> {
    release::Entity::find()
        .filter(release::Column::RoundId.eq(round_id))
        .filter(release::Column::Status.eq("released"))
        .all(app.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.node_id.0)
        .collect()
}

fn node_ids(rows: &Value, field: &str) -> HashSet<Uuid> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row[field].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The headline an overview page shows next to a team's link.
fn overview_headline(html: &str, team: Uuid) -> String {
    let link = format!("<a href=\"/dashboard/teams/{team}\">");
    let start = html
        .find(&link)
        .unwrap_or_else(|| panic!("{team} is listed"));
    let rest = &html[start..];
    rest[..rest.find("</li>").unwrap()].to_owned()
}

on_both_databases! {
    async fn hr_given_while_a_round_was_open_reads_no_node_holding_their_answer_on_any_path(app) {
        let (department, teams, people) = leaderless_department(&app, &[6, 6]).await;
        let survey = app.create_survey(&[department], json!({})).await;
        let round_id = app.open_round(survey).await;
        everyone_answers(&app, round_id).await;
        let answered_in_team_0 = people[0][0];
        let admin = app.admin_token().await;
        put(&app, &admin, &format!("/api/v1/people/{answered_in_team_0}/roles/hr")).await;
        app.close_round(round_id).await;
        assert_eq!(
            released_nodes(&app, round_id).await,
            HashSet::from([department, teams[0], teams[1]]),
            "every node is released, so only the reader rule hides one"
        );

        let everything = HashSet::from([department, teams[0], teams[1]]);
        let theirs = HashSet::from([teams[1]]);
        let hr_uninvited = app.token(Role::Hr, "people@example.com").await;
        let hr_who_answered = app.token(Role::Hr, "m0.t0@example.com").await;
        for (token, expected) in [(&hr_uninvited, &everything), (&hr_who_answered, &theirs)] {
            let (status, page) = get_json(&app, &format!("/api/v1/releases?round_id={round_id}"), token).await;
            assert_eq!(status, 200);
            assert_eq!(&node_ids(&page["items"], "node_id"), expected, "the export");
            let (status, rows) = get_json(&app, &format!("/api/v1/reports/rounds/{round_id}/heatmap"), token).await;
            assert_eq!(status, 200);
            assert_eq!(&node_ids(&rows, "node_id"), expected, "the heatmap");
            for node in &everything {
                let (status, report) = get_json(&app, &format!("/api/v1/reports/teams/{node}"), token).await;
                assert_eq!(status, 200);
                let rounds = report["rounds"].as_array().unwrap().len();
                assert_eq!(rounds == 1, expected.contains(node), "the team report of {node}");
            }
        }

        let cookie = signed_in(&app, "m0.t0@example.com").await;
        let (status, overview) = page(&app, "/dashboard", &cookie).await;
        assert_eq!(status, 200);
        assert!(overview_headline(&overview, teams[1]).contains("lowest is"), "{overview}");
        for hidden in [department, teams[0]] {
            let headline = overview_headline(&overview, hidden);
            assert!(headline.contains("no results yet"), "{headline}");
        }
        let (status, heatmap) = page(&app, &format!("/dashboard/rounds/{round_id}/heatmap"), &cookie).await;
        assert_eq!(status, 200);
        assert!(heatmap.contains(&format!("/dashboard/teams/{}", teams[1])));
        for hidden in [department, teams[0]] {
            assert!(!heatmap.contains(&format!("/dashboard/teams/{hidden}")), "{hidden} on the heatmap");
        }
        let (status, team_page) = page(&app, &format!("/dashboard/teams/{}", teams[0]), &cookie).await;
        assert_eq!(status, 200);
        assert!(team_page.contains("No closed round yet"));
        for figure_marker in ["<svg", "class=\"dot\"", "95% interval", "favourable"] {
            assert!(!team_page.contains(figure_marker), "{figure_marker} on the page of the team they answered in");
        }
    }

    async fn a_leader_made_while_a_round_was_open_gets_no_digest_figures_of_the_team_they_answered_in(app) {
        let (department, teams, people) = leaderless_department(&app, &[6]).await;
        let elsewhere = app.create_team("Elsewhere", None).await;
        let outsider = app.create_person("outsider@example.com", elsewhere).await;
        let survey = app.create_survey(&[department], json!({})).await;
        let round_id = app.open_round(survey).await;
        everyone_answers(&app, round_id).await;
        let answered_in_team = people[0][0];
        let admin = app.admin_token().await;
        for leader in [answered_in_team, outsider] {
            put(&app, &admin, &format!("/api/v1/teams/{}/leaders/{leader}", teams[0])).await;
        }
        app.close_round(round_id).await;
        assert!(released_nodes(&app, round_id).await.contains(&teams[0]));

        let digests: HashMap<Uuid, DigestPayload> = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq("digest"))
            .filter(outbox::Column::RoundId.eq(round_id))
            .all(app.state.store.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.person_id.unwrap().0, serde_json::from_value(row.payload).unwrap()))
            .collect();
        assert_eq!(digests.len(), 2, "both leaders get a digest");
        let team_0 = |person: Uuid| {
            let teams = &digests[&person].teams;
            assert_eq!(teams.len(), 1);
            assert_eq!(teams[0].team_name, "Team 0");
            teams[0].figures.clone()
        };
        assert!(team_0(outsider).is_some(), "a leader who was not invited reads the team's figures");
        assert_eq!(team_0(answered_in_team), None, "hidden from the leader whose answer is in it");
    }
}

// ---------------------------------------------------------------------------------
// Every path, one oracle

/// One change to the organisation.
#[derive(Debug, Clone)]
enum Change {
    /// Person (index) leads team (index).
    Lead(usize, usize),
    /// Person (index) gets the hr role.
    Hr(usize),
    /// Person (index) moves to team (index).
    Move(usize, usize),
}

#[derive(Debug, Clone)]
struct RoundPlan {
    while_open: Vec<Change>,
    after_close: Vec<Change>,
}

#[derive(Debug, Clone)]
struct Scenario {
    /// Team `i`'s parent: `Some(j)` with `j < i`, or a top team.
    parents: Vec<Option<usize>>,
    team_sizes: Vec<usize>,
    before_first_round: Vec<Change>,
    rounds: Vec<RoundPlan>,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0usize..64, 0usize..64).prop_map(|(person, team)| Change::Lead(person, team)),
        2 => (0usize..64).prop_map(Change::Hr),
        2 => (0usize..64, 0usize..64).prop_map(|(person, team)| Change::Move(person, team)),
    ]
}

fn round_plan() -> impl Strategy<Value = RoundPlan> {
    (
        proptest::collection::vec(change(), 0..4),
        proptest::collection::vec(change(), 0..3),
    )
        .prop_map(|(while_open, after_close)| RoundPlan {
            while_open,
            after_close,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..5)
        .prop_flat_map(|teams| {
            (
                proptest::collection::vec(proptest::option::weighted(0.7, 0usize..64), teams),
                proptest::collection::vec(3usize..7, teams),
                proptest::collection::vec(change(), 0..4),
                proptest::collection::vec(round_plan(), 2..4),
            )
        })
        .prop_map(
            |(parents, team_sizes, before_first_round, rounds)| Scenario {
                parents: parents
                    .into_iter()
                    .enumerate()
                    .map(|(index, parent)| {
                        parent.filter(|_| index > 0).map(|parent| parent % index)
                    })
                    .collect(),
                team_sizes,
                before_first_round,
                rounds,
            },
        )
}

/// A case's organisation, as created.
struct Built {
    admin: String,
    teams: Vec<Uuid>,
    /// (id, email) per person.
    people: Vec<(Uuid, String)>,
    /// Leaderships and hr grants made, so each is made once.
    made: HashSet<(Uuid, Option<Uuid>)>,
}

impl Built {
    async fn apply(&mut self, app: &TestApp, change: &Change) {
        match *change {
            Change::Lead(person, team) => {
                let (person, team) = (self.person(person), self.team(team));
                if self.made.insert((person, Some(team))) {
                    put(
                        app,
                        &self.admin,
                        &format!("/api/v1/teams/{team}/leaders/{person}"),
                    )
                    .await;
                }
            }
            Change::Hr(person) => {
                let person = self.person(person);
                if self.made.insert((person, None)) {
                    put(
                        app,
                        &self.admin,
                        &format!("/api/v1/people/{person}/roles/hr"),
                    )
                    .await;
                }
            }
            Change::Move(person, team) => {
                let response = app
                    .patch_json(
                        &format!("/api/v1/people/{}", self.person(person)),
                        &self.admin,
                        &json!({ "team_id": self.team(team) }),
                    )
                    .await;
                assert!(
                    response.status().is_success(),
                    "moving: {}",
                    response.status()
                );
            }
        }
    }

    fn person(&self, index: usize) -> Uuid {
        self.people[index % self.people.len()].0
    }

    fn team(&self, index: usize) -> Uuid {
        self.teams[index % self.teams.len()]
    }
}

/// A closed round as the oracle sees it, read straight from the tables.
struct RoundFacts {
    id: Uuid,
    nodes: Vec<round_node::Model>,
    released: HashSet<Uuid>,
    invited_at: HashMap<Uuid, Uuid>,
    counted: HashSet<(Uuid, Uuid)>,
    /// Who led which teams when the round closed (the digest's readers).
    leaders_at_close: HashMap<Uuid, Vec<Uuid>>,
}

impl RoundFacts {
    async fn load(
        app: &TestApp,
        id: Uuid,
        leaders_at_close: HashMap<Uuid, Vec<Uuid>>,
    ) -> RoundFacts {
        let db = app.state.store.connection();
        let nodes = round_node::Entity::find()
            .filter(round_node::Column::RoundId.eq(id))
            .all(db)
            .await
            .unwrap();
        let invited_at = invitation::Entity::find()
            .filter(invitation::Column::RoundId.eq(id))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.person_id.0, row.node_id.0))
            .collect();
        let counted = round_viewer::Entity::find()
            .filter(round_viewer::Column::RoundId.eq(id))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.node_id.0, row.person_id.0))
            .collect();
        RoundFacts {
            id,
            nodes,
            released: released_nodes(app, id).await,
            invited_at,
            counted,
            leaders_at_close,
        }
    }

    /// Every node at or below `top`, walking down.
    fn subtree(&self, top: Uuid) -> HashSet<Uuid> {
        let mut found = HashSet::from([top]);
        loop {
            let before = found.len();
            for node in &self.nodes {
                if node
                    .parent_node_id
                    .is_some_and(|parent| found.contains(&parent.0))
                {
                    found.insert(node.node_id.0);
                }
            }
            if found.len() == before {
                return found;
            }
        }
    }

    /// What the scope reaches in this round, before the viewer clause.
    fn in_scope(&self, scope: &ReaderScope) -> HashSet<Uuid> {
        match scope {
            ReaderScope::Everything => self.nodes.iter().map(|node| node.node_id.0).collect(),
            ReaderScope::LedTeams(led) => {
                let nodes: Vec<AccessNode> = self
                    .nodes
                    .iter()
                    .map(|node| AccessNode {
                        id: node.node_id,
                        parent: node.parent_node_id,
                        kind: NodeKind::parse(&node.kind).unwrap(),
                    })
                    .collect();
                nodes_a_manager_reads(&nodes, led)
                    .into_iter()
                    .map(|node| node.0)
                    .collect()
            }
        }
    }

    /// The oracle: in scope, unless the node's subtree held the person's own
    /// invitation and they were not counted among its viewers.
    fn readable(&self, person: Uuid, scope: &ReaderScope) -> HashSet<Uuid> {
        self.in_scope(scope)
            .into_iter()
            .filter(|node| match self.invited_at.get(&person) {
                Some(invited_at) => {
                    !self.subtree(*node).contains(invited_at)
                        || self.counted.contains(&(*node, person))
                }
                None => true,
            })
            .collect()
    }
}

type Pairs = HashSet<(Uuid, Uuid)>;

/// How many (round, node) pairs the viewer clause hid, over every case: the test
/// is only worth something if its random changes make the rule bite.
#[derive(Debug, Default)]
struct Hidden {
    from_readers: AtomicUsize,
    from_digests: AtomicUsize,
}

async fn run_case(
    app: &TestApp,
    case: usize,
    scenario: &Scenario,
    hidden: &Hidden,
) -> Result<(), String> {
    let admin = app.admin_token().await;
    let mut teams: Vec<Uuid> = Vec::new();
    for (index, parent) in scenario.parents.iter().enumerate() {
        let body = json!({
            "name": format!("Case {case} team {index}"),
            "parent_id": parent.map(|parent| teams[parent]),
        });
        teams.push(create(app, &admin, "/api/v1/teams", body).await);
    }
    let mut people = Vec::new();
    for (team_index, size) in scenario.team_sizes.iter().enumerate() {
        for member in 0..*size {
            let email = format!("c{case}.m{member}.t{team_index}@example.com");
            let body = json!({ "email": email, "name": email, "team_id": teams[team_index] });
            people.push((create(app, &admin, "/api/v1/people", body).await, email));
        }
    }
    let mut built = Built {
        admin,
        teams,
        people,
        made: HashSet::new(),
    };
    for change in &scenario.before_first_round {
        built.apply(app, change).await;
    }
    let tops: Vec<Uuid> = scenario
        .parents
        .iter()
        .zip(&built.teams)
        .filter(|(parent, _)| parent.is_none())
        .map(|(_, team)| *team)
        .collect();
    let survey = app.create_survey(&tops, json!({})).await;
    let mut rounds = Vec::new();
    for plan in &scenario.rounds {
        app.clock.advance(chrono::Duration::days(35));
        let round_id = app.open_round(survey).await;
        everyone_answers(app, round_id).await;
        for change in &plan.while_open {
            built.apply(app, change).await;
        }
        let leaders_at_close = leaderships(app).await;
        app.close_round(round_id).await;
        rounds.push(RoundFacts::load(app, round_id, leaders_at_close).await);
        for change in &plan.after_close {
            built.apply(app, change).await;
        }
    }
    let round_ids: HashSet<Uuid> = rounds.iter().map(|round| round.id).collect();
    let all_nodes: HashSet<Uuid> = rounds
        .iter()
        .flat_map(|round| round.nodes.iter().map(|node| node.node_id.0))
        .collect();

    let leaders_now = leaderships(app).await;
    let db = app.state.store.connection();
    for (person, email) in &built.people {
        let holds_hr = safepulse_store::org::roles_of(db, PersonId(*person))
            .await
            .unwrap()
            .iter()
            .any(|role| role == "hr");
        // Everyone else reads nothing at all, whatever the path.
        let mut roles = Vec::new();
        if leaders_now.contains_key(person) {
            roles.push(Role::Manager);
        }
        if holds_hr {
            roles.push(Role::Hr);
        }
        for role in roles {
            let scope = match role {
                Role::Hr => ReaderScope::Everything,
                _ => ReaderScope::LedTeams(
                    leaders_now
                        .get(person)
                        .into_iter()
                        .flatten()
                        .copied()
                        .map(TeamId)
                        .collect(),
                ),
            };
            let mut expected = Pairs::new();
            for round in &rounds {
                let readable = round.readable(*person, &scope);
                hidden.from_readers.fetch_add(
                    round.in_scope(&scope).len() - readable.len(),
                    Ordering::Relaxed,
                );
                expected.extend(readable.into_iter().map(|node| (round.id, node)));
            }
            let reader = Reader::resolve(
                &Caller {
                    subject: email.clone(),
                    role,
                    jti: TokenId::random(),
                },
                db,
            )
            .await
            .map_err(|error| format!("resolve: {error:?}"))?;
            let latest = rounds.last().map(|round| round.id);
            let paths = [
                (
                    "team report",
                    team_report_pairs(app, &reader, &all_nodes).await?,
                ),
                ("heatmap", heatmap_pairs(app, &reader, &round_ids).await?),
                ("export", export_pairs(app, &reader, &round_ids).await?),
            ];
            for (path, found) in paths {
                if found != expected {
                    return Err(format!(
                        "{path} for {email} as {role:?}: got {found:?}, the oracle says {expected:?}"
                    ));
                }
            }
            let dashboard = dashboard_pairs(app, &reader, &all_nodes).await?;
            let expected_on_dashboard: Pairs = expected
                .iter()
                .filter(|(round, _)| Some(*round) == latest)
                .copied()
                .collect();
            if dashboard != expected_on_dashboard {
                return Err(format!(
                    "dashboard for {email} as {role:?}: got {dashboard:?}, the oracle says {expected_on_dashboard:?}"
                ));
            }
        }
    }

    for round in &rounds {
        let digests = digest_pairs(app, round).await;
        for (person, led) in &round.leaders_at_close {
            let team_nodes: HashSet<Uuid> = round
                .nodes
                .iter()
                .filter(|node| node.kind == "team" && led.contains(&node.node_id.0))
                .map(|node| node.node_id.0)
                .collect();
            if team_nodes.is_empty() {
                continue;
            }
            let readable = round.readable(
                *person,
                &ReaderScope::LedTeams(led.iter().copied().map(TeamId).collect()),
            );
            hidden
                .from_digests
                .fetch_add(team_nodes.difference(&readable).count(), Ordering::Relaxed);
            let expected: HashSet<Uuid> = team_nodes
                .iter()
                .filter(|node| readable.contains(node) && round.released.contains(node))
                .copied()
                .collect();
            let found = digests.get(person).cloned().unwrap_or_default();
            if found != expected {
                return Err(format!(
                    "digest of {person} for round {}: figures of {found:?}, the oracle says {expected:?}",
                    round.id
                ));
            }
        }
    }
    Ok(())
}

/// Team → its leaders, now.
async fn leaderships(app: &TestApp) -> HashMap<Uuid, Vec<Uuid>> {
    let mut led: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in team_leader::Entity::find()
        .all(app.state.store.connection())
        .await
        .unwrap()
    {
        led.entry(row.person_id.0).or_default().push(row.team_id.0);
    }
    led
}

async fn team_report_pairs(
    app: &TestApp,
    reader: &Reader,
    nodes: &HashSet<Uuid>,
) -> Result<Pairs, String> {
    let mut pairs = Pairs::new();
    for node in nodes {
        match build_team_report(&app.state, reader, NodeId(*node)).await {
            Ok(report) => pairs.extend(report.rounds.iter().map(|round| (round.round_id.0, *node))),
            Err(ApiError::Forbidden) => {}
            Err(error) => return Err(format!("team report of {node}: {error:?}")),
        }
    }
    Ok(pairs)
}

async fn heatmap_pairs(
    app: &TestApp,
    reader: &Reader,
    rounds: &HashSet<Uuid>,
) -> Result<Pairs, String> {
    let mut pairs = Pairs::new();
    for round in rounds {
        match build_heatmap(&app.state, reader, RoundId(*round)).await {
            Ok(rows) => pairs.extend(rows.iter().map(|row| (*round, row.node_id.0))),
            Err(ApiError::Forbidden) => {}
            Err(error) => return Err(format!("heatmap of {round}: {error:?}")),
        }
    }
    Ok(pairs)
}

/// The export page by page (two rows a page, so pages with skipped rows occur).
async fn export_pairs(
    app: &TestApp,
    reader: &Reader,
    rounds: &HashSet<Uuid>,
) -> Result<Pairs, String> {
    let mut pairs = Pairs::new();
    for round in rounds {
        let mut cursor = None;
        loop {
            let page = build_release_page(
                &app.state,
                reader,
                ReleaseQuery {
                    cursor,
                    limit: Some(2),
                    round_id: Some(RoundId(*round)),
                    period_key: None,
                    team_id: None,
                    format: None,
                },
            )
            .await
            .map_err(|error| format!("export: {error:?}"))?;
            pairs.extend(page.items.iter().map(|row| (row.round_id.0, row.node_id.0)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(pairs)
}

/// The overview's headlines of this case's nodes.
async fn dashboard_pairs(
    app: &TestApp,
    reader: &Reader,
    nodes: &HashSet<Uuid>,
) -> Result<Pairs, String> {
    let overview = overview_releases(&app.state, reader)
        .await
        .map_err(|error| format!("overview: {error:?}"))?;
    Ok(overview
        .headlines
        .iter()
        .filter(|(node, _)| nodes.contains(&node.0))
        .map(|(node, (round, _))| (round.id.0, node.0))
        .collect())
}

/// Per digest recipient of a round, the team nodes their digest has figures of.
async fn digest_pairs(app: &TestApp, round: &RoundFacts) -> HashMap<Uuid, HashSet<Uuid>> {
    let node_named: HashMap<&str, Uuid> = round
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), node.node_id.0))
        .collect();
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("digest"))
        .filter(outbox::Column::RoundId.eq(round.id))
        .all(app.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let payload: DigestPayload = serde_json::from_value(row.payload).unwrap();
            let with_figures = payload
                .teams
                .iter()
                .filter(|team| team.figures.is_some())
                .map(|team| node_named[team.team_name.as_str()])
                .collect();
            (row.person_id.unwrap().0, with_figures)
        })
        .collect()
}

/// Random cases in one app (each case builds its own organisation and survey,
/// and is checked on its own rounds and nodes only).
fn every_read_path_agrees_with_the_oracle(db: Db) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(spawn_app(db));
    let case = AtomicUsize::new(0);
    let hidden = Hidden::default();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 10,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&scenario(), |scenario| {
        let number = case.fetch_add(1, Ordering::Relaxed);
        runtime
            .block_on(run_case(&app, number, &scenario, &hidden))
            .map_err(TestCaseError::fail)
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert!(
        hidden.from_readers.load(Ordering::Relaxed) > 0,
        "no case made the reader rule hide anything"
    );
    assert!(
        hidden.from_digests.load(Ordering::Relaxed) > 0,
        "no case hid a team from a digest"
    );
}

mod every_read_path_returns_the_releases_the_reader_rule_allows {
    use super::*;

    #[test]
    fn on_sqlite() {
        every_read_path_agrees_with_the_oracle(Db::Sqlite);
    }

    #[test]
    fn on_postgres() {
        every_read_path_agrees_with_the_oracle(Db::Postgres);
    }
}
