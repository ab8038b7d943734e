//! Issue 16, point 2: SCIM 2.0 provisioning at `/scim/v2`. Users and Groups
//! through every operation, SCIM's errors, who may call it (the `scim` role, and
//! only it), a deactivated user left out of the next round, and a provisioning run
//! of 5,000 users and 300 groups with a change set ending in the organisation the
//! same CSV imports make.

use std::collections::{BTreeSet, HashMap};

use futures_util::StreamExt;
use safepulse_domain::Role;
use safepulse_domain::{PersonId, TeamId};
use safepulse_store::entities::{audit_entry, invitation, person, team};
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const TEAM: &str = "urn:safepulse:params:scim:schemas:extension:team:2.0:Group";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn scim_token(app: &TestApp) -> String {
    app.token(Role::Scim, "okta@idp.example.com").await
}

/// A request that must be refused: method, path, body, status, scimType.
type RefusalCase = (
    reqwest::Method,
    String,
    Option<Value>,
    u16,
    Option<&'static str>,
);

/// One SCIM request: its status and body (checked to be `application/scim+json`).
async fn scim(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method.clone(), app.url(&format!("/scim/v2{path}")))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the request is sent");
    let status = response.status().as_u16();
    if status == 204 {
        return (status, Value::Null);
    }
    let media_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(media_type, "application/scim+json", "{method} {path}");
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

fn new_user(user_name: &str, email: &str, display: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": { "givenName": display, "familyName": "Example" },
        "displayName": display,
        "emails": [{ "value": email, "type": "work", "primary": true }],
        "active": true,
    })
}

async fn create_user(app: &TestApp, token: &str, user: &Value) -> Uuid {
    let (status, body) = scim(app, reqwest::Method::POST, "/Users", token, Some(user)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn create_group(app: &TestApp, token: &str, group: &Value) -> Uuid {
    let (status, body) = scim(app, reqwest::Method::POST, "/Groups", token, Some(group)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

fn patch(operations: Value) -> Value {
    json!({ "schemas": [PATCH], "Operations": operations })
}

/// The scim error body: schema, status as a string, scimType.
fn assert_scim_error(body: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], json!(status.to_string()), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
}

async fn membership_entries(app: &TestApp, person: Uuid) -> Vec<(String, Option<Uuid>)> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Target.eq(person.to_string()))
        .all(app.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action.starts_with("membership."))
        .map(|entry| (entry.action, entry.team_id.map(|team| team.0)))
        .collect()
}

on_both_databases! {
    async fn users_are_created_found_paged_replaced_patched_and_erased(app) {
        let token = scim_token(&app).await;
        let ada = create_user(&app, &token, &new_user("Ada.L@corp.example", "ada@example.com", "Ada Lovelace")).await;
        for n in 0..4 {
            create_user(&app, &token, &new_user(&format!("u{n}@corp.example"), &format!("u{n}@example.com"), &format!("User {n}"))).await;
        }
        let (status, user) = scim(&app, reqwest::Method::GET, &format!("/Users/{ada}"), &token, None).await;
        assert_eq!(status, 200);
        assert_eq!(user["userName"], "Ada.L@corp.example");
        assert_eq!(user["displayName"], "Ada Lovelace");
        assert_eq!(user["name"]["familyName"], "Example");
        assert_eq!(user["emails"][0]["value"], "ada@example.com");
        assert_eq!(user["meta"]["resourceType"], "User");
        let person = safepulse_store::org::get_person(app.state.store.connection(), PersonId(ada)).await.unwrap();
        assert_eq!((person.email.as_str(), person.name.as_str(), person.team_id), ("ada@example.com", "Ada Lovelace", None));

        // userName is not case-exact.
        let (status, found) = scim(&app, reqwest::Method::GET, "/Users?filter=userName%20eq%20%22ada.l%40CORP.example%22", &token, None).await;
        assert_eq!(status, 200);
        assert_eq!(found["totalResults"], 1);
        assert_eq!(found["Resources"][0]["id"], ada.to_string());
        let (_, none) = scim(&app, reqwest::Method::GET, "/Users?filter=userName%20eq%20%22nobody%22", &token, None).await;
        assert_eq!((none["totalResults"].clone(), none["Resources"].clone()), (json!(0), json!([])));

        // Pages by startIndex and count; together they hold everybody once.
        let mut seen = BTreeSet::new();
        for start in [1, 3, 5] {
            let (_, page) = scim(&app, reqwest::Method::GET, &format!("/Users?startIndex={start}&count=2"), &token, None).await;
            assert_eq!(page["totalResults"], 5);
            assert_eq!(page["startIndex"], start);
            assert_eq!(page["itemsPerPage"], if start == 5 { 1 } else { 2 });
            for user in page["Resources"].as_array().unwrap() {
                assert!(seen.insert(user["id"].as_str().unwrap().to_owned()));
            }
        }
        assert_eq!(seen.len(), 5);
        let (_, projected) = scim(&app, reqwest::Method::GET, "/Users?count=1&attributes=userName", &token, None).await;
        let keys: BTreeSet<&str> = projected["Resources"][0].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "schemas", "userName"]));

        // PUT replaces: a new address and name, through the API's rules.
        let mut replaced = new_user("Ada.L@corp.example", "ada.king@example.com", "Ada King");
        replaced["externalId"] = json!("00u1");
        let (status, user) = scim(&app, reqwest::Method::PUT, &format!("/Users/{ada}"), &token, Some(&replaced)).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!((user["displayName"].clone(), user["externalId"].clone()), (json!("Ada King"), json!("00u1")));
        let person = safepulse_store::org::get_person(app.state.store.connection(), PersonId(ada)).await.unwrap();
        assert_eq!((person.email.as_str(), person.name.as_str()), ("ada.king@example.com", "Ada King"));

        // PATCH as Entra ID writes it: deactivation revokes the person's tokens.
        app.client.put(app.url(&format!("/api/v1/people/{ada}/roles/hr"))).bearer_auth(app.admin_token().await).send().await.unwrap();
        let hr = app.token(Role::Hr, "ada.king@example.com").await;
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 200);
        let (status, user) = scim(&app, reqwest::Method::PATCH, &format!("/Users/{ada}"), &token,
            Some(&patch(json!([{ "op": "Replace", "path": "active", "value": "False" }])))).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["active"], false);
        assert_eq!(app.get("/api/v1/releases", &hr).await.status(), 401, "deactivation revoked the token");
        let (_, user) = scim(&app, reqwest::Method::PATCH, &format!("/Users/{ada}"), &token,
            Some(&patch(json!([{ "op": "replace", "value": { "active": true, "name.familyName": "Byron" } }])))).await;
        assert_eq!((user["active"].clone(), user["name"]["familyName"].clone()), (json!(true), json!("Byron")));

        // DELETE is the API's erasure: the person, their SCIM name and tokens go.
        let (status, _) = scim(&app, reqwest::Method::DELETE, &format!("/Users/{ada}"), &token, None).await;
        assert_eq!(status, 204);
        let (status, body) = scim(&app, reqwest::Method::GET, &format!("/Users/{ada}"), &token, None).await;
        assert_eq!(status, 404);
        assert_scim_error(&body, 404, None);
        let admin = app.admin_token().await;
        assert_eq!(app.get(&format!("/api/v1/people/{ada}"), &admin).await.status(), 404);
        let rows = safepulse_store::scim::users_of(app.state.store.connection(), &[PersonId(ada)]).await.unwrap();
        assert!(rows.is_empty(), "the userName went with the person");
        let (_, free_again) = scim(&app, reqwest::Method::GET, "/Users?filter=userName%20eq%20%22Ada.L%40corp.example%22", &token, None).await;
        assert_eq!(free_again["totalResults"], 0);
    }

    async fn groups_are_teams_whose_members_move_and_whose_parent_is_the_extension(app) {
        let token = scim_token(&app).await;
        let ada = create_user(&app, &token, &new_user("ada", "ada@example.com", "Ada")).await;
        let bob = create_user(&app, &token, &new_user("bob", "bob@example.com", "Bob")).await;
        let engineering = create_group(&app, &token, &json!({ "schemas": [GROUP], "displayName": "Engineering" })).await;
        let platform = create_group(&app, &token, &json!({
            "schemas": [GROUP, TEAM],
            "displayName": "Platform",
            "externalId": "grp-1",
            "members": [{ "value": ada.to_string() }],
            TEAM: { "parent": engineering.to_string() },
        })).await;
        let db = app.state.store.connection();
        let platform_team = safepulse_store::org::get_team(db, TeamId(platform)).await.unwrap();
        assert_eq!(platform_team.parent_id, Some(TeamId(engineering)));
        assert_eq!(safepulse_store::org::get_person(db, PersonId(ada)).await.unwrap().team_id, Some(TeamId(platform)));
        assert_eq!(membership_entries(&app, ada).await, vec![("membership.joined".to_owned(), Some(platform))]);

        // Adding Ada to Engineering moves her: one team per person.
        let (status, group) = scim(&app, reqwest::Method::PATCH, &format!("/Groups/{engineering}"), &token,
            Some(&patch(json!([{ "op": "add", "path": "members", "value": [{ "value": ada.to_string() }, { "value": bob.to_string() }] }])))).await;
        assert_eq!(status, 200, "{group}");
        assert_eq!(group["members"].as_array().unwrap().len(), 2);
        assert_eq!(safepulse_store::org::get_person(db, PersonId(ada)).await.unwrap().team_id, Some(TeamId(engineering)));
        let entries = membership_entries(&app, ada).await;
        assert!(entries.contains(&("membership.left".to_owned(), Some(platform))), "{entries:?}");
        assert!(entries.contains(&("membership.joined".to_owned(), Some(engineering))), "{entries:?}");
        let (_, platform_group) = scim(&app, reqwest::Method::GET, &format!("/Groups/{platform}"), &token, None).await;
        assert_eq!(platform_group["members"], json!([]));
        assert_eq!(platform_group["externalId"], "grp-1");
        assert!(platform_group[TEAM]["parent"].as_str().unwrap().ends_with(&format!("/Groups/{engineering}")));
        let (_, user) = scim(&app, reqwest::Method::GET, &format!("/Users/{ada}"), &token, None).await;
        assert_eq!(user["groups"][0]["value"], engineering.to_string());

        // Removing by filter leaves Bob without a team.
        let (status, _) = scim(&app, reqwest::Method::PATCH, &format!("/Groups/{engineering}"), &token,
            Some(&patch(json!([{ "op": "remove", "path": format!("members[value eq \"{bob}\"]") }])))).await;
        assert_eq!(status, 200);
        assert_eq!(safepulse_store::org::get_person(db, PersonId(bob)).await.unwrap().team_id, None);

        // Filter by displayName; PUT renames and moves to the top level.
        let (_, found) = scim(&app, reqwest::Method::GET, "/Groups?filter=displayName%20eq%20%22Platform%22&excludedAttributes=members", &token, None).await;
        assert_eq!(found["totalResults"], 1);
        assert!(found["Resources"][0].get("members").is_none());
        let (status, renamed) = scim(&app, reqwest::Method::PUT, &format!("/Groups/{platform}"), &token, Some(&json!({
            "schemas": [GROUP, TEAM], "displayName": "Platform team", "members": [{ "value": bob.to_string() }], TEAM: { "parent": null },
        }))).await;
        assert_eq!(status, 200, "{renamed}");
        let platform_team = safepulse_store::org::get_team(db, TeamId(platform)).await.unwrap();
        assert_eq!((platform_team.name.as_str(), platform_team.parent_id), ("Platform team", None));

        // Moving Engineering below Platform team, and back below itself: refused.
        let (status, _) = scim(&app, reqwest::Method::PATCH, &format!("/Groups/{engineering}"), &token,
            Some(&patch(json!([{ "op": "replace", "path": format!("{TEAM}:parent"), "value": platform.to_string() }])))).await;
        assert_eq!(status, 200);
        let (status, body) = scim(&app, reqwest::Method::PATCH, &format!("/Groups/{platform}"), &token,
            Some(&patch(json!([{ "op": "replace", "path": format!("{TEAM}:parent"), "value": engineering.to_string() }])))).await;
        assert_eq!(status, 400);
        assert_scim_error(&body, 400, Some("invalidValue"));

        // A Group with a sub-team is not deleted; a leaf is, its members leave it.
        let (status, body) = scim(&app, reqwest::Method::DELETE, &format!("/Groups/{platform}"), &token, None).await;
        assert_eq!(status, 409);
        assert_scim_error(&body, 409, None);
        let (status, _) = scim(&app, reqwest::Method::DELETE, &format!("/Groups/{engineering}"), &token, None).await;
        assert_eq!(status, 204);
        assert_eq!(safepulse_store::org::get_person(db, PersonId(ada)).await.unwrap().team_id, None);
        assert!(safepulse_store::org::get_team(db, TeamId(engineering)).await.is_err());
    }

    async fn every_refusal_is_a_scim_error(app) {
        let token = scim_token(&app).await;
        create_user(&app, &token, &new_user("ada", "ada@example.com", "Ada")).await;
        let cases: Vec<RefusalCase> = vec![
            (reqwest::Method::GET, format!("/Users/{}", Uuid::new_v4()), None, 404, None),
            (reqwest::Method::GET, "/Users/not-an-id".to_owned(), None, 404, None),
            (reqwest::Method::GET, "/Nowhere".to_owned(), None, 404, None),
            (reqwest::Method::DELETE, "/Users".to_owned(), None, 405, None),
            (reqwest::Method::GET, "/Users?filter=userName%20co%20%22a%22".to_owned(), None, 400, Some("invalidFilter")),
            (reqwest::Method::GET, "/Users?filter=active%20eq%20%22true%22".to_owned(), None, 400, Some("invalidFilter")),
            (reqwest::Method::POST, "/Users".to_owned(), Some(new_user("ADA", "other@example.com", "Other")), 409, Some("uniqueness")),
            (reqwest::Method::POST, "/Users".to_owned(), Some(new_user("other", "ada@example.com", "Other")), 409, Some("uniqueness")),
            (reqwest::Method::POST, "/Users".to_owned(), Some(json!({ "schemas": [USER], "emails": [{ "value": "x@example.com" }] })), 400, Some("invalidValue")),
            (reqwest::Method::POST, "/Users".to_owned(), Some(json!({ "schemas": [USER], "userName": "no-address" })), 400, Some("invalidValue")),
            (reqwest::Method::POST, "/Users".to_owned(), Some(json!([1, 2])), 400, Some("invalidSyntax")),
            (reqwest::Method::POST, "/Groups".to_owned(), Some(json!({ "schemas": [GROUP], "displayName": "T", "members": [{ "value": Uuid::new_v4().to_string() }] })), 400, Some("invalidValue")),
            (reqwest::Method::POST, "/Groups".to_owned(), Some(json!({ "schemas": [GROUP], "displayName": "T", "members": [{ "value": Uuid::new_v4().to_string(), "type": "Group" }] })), 400, Some("invalidValue")),
            (reqwest::Method::POST, "/Groups".to_owned(), Some(json!({ "schemas": [GROUP], "displayName": "T", TEAM: { "parent": Uuid::new_v4().to_string() } })), 400, Some("invalidValue")),
        ];
        for (method, path, body, status, scim_type) in cases {
            let (got, answer) = scim(&app, method.clone(), &path, &token, body.as_ref()).await;
            assert_eq!(got, status, "{method} {path}: {answer}");
            assert_scim_error(&answer, status, scim_type);
        }
        let response = app.client.post(app.url("/scim/v2/Users")).bearer_auth(&token)
            .header("content-type", "application/scim+json").body("{not json").send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert_scim_error(&response.json().await.unwrap(), 400, Some("invalidSyntax"));
        let (_, groups) = scim(&app, reqwest::Method::GET, "/Groups", &token, None).await;
        assert_eq!(groups["totalResults"], 0, "nothing refused was written");
    }

    async fn only_the_scim_role_provisions_and_it_reaches_nothing_else(app) {
        let response = app.client.get(app.url("/scim/v2/Users")).send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_scim_error(&response.json().await.unwrap(), 401, None);
        let team = app.create_team("Team", None).await;
        let lead = app.create_person("lead@example.com", team).await;
        app.client.put(app.url(&format!("/api/v1/teams/{team}/leaders/{lead}"))).bearer_auth(app.admin_token().await).send().await.unwrap();
        for (role, subject) in [(Role::Admin, "admin@example.com"), (Role::Hr, "hr@example.com"), (Role::Manager, "lead@example.com")] {
            let other = app.token(role, subject).await;
            let (status, body) = scim(&app, reqwest::Method::GET, "/Users", &other, None).await;
            assert_eq!(status, 403, "{role}");
            assert_scim_error(&body, 403, None);
        }

        let token = scim_token(&app).await;
        assert_eq!(scim(&app, reqwest::Method::GET, "/ServiceProviderConfig", &token, None).await.0, 200);
        for path in ["/api/v1/releases", "/api/v1/people", "/api/v1/teams", &format!("/api/v1/reports/teams/{team}"), "/api/v1/surveys", "/api/v1/audit", "/metrics"] {
            let status = app.get(path, &token).await.status();
            assert_eq!(status, 403, "the scim token on {path}");
        }
        let page = app.client.get(app.url("/dashboard")).header("cookie", format!("safepulse_session={token}")).send().await.unwrap();
        assert_ne!(page.status(), 200, "a scim token is no session");
        // Nobody holds the scim role: a person's address cannot carry it.
        let refused = app.state.tokens.issue(app.state.store.connection(), "lead@example.com", Role::Scim,
            safepulse_store::tokens::TokenKind::Api, chrono::Duration::hours(1), chrono::Utc::now()).await;
        assert!(refused.is_err());
    }

    async fn discovery_describes_users_groups_and_the_team_extension(app) {
        let token = scim_token(&app).await;
        let (_, config) = scim(&app, reqwest::Method::GET, "/ServiceProviderConfig", &token, None).await;
        assert_eq!((config["patch"]["supported"].clone(), config["bulk"]["supported"].clone(), config["filter"]["supported"].clone()), (json!(true), json!(false), json!(true)));
        let (_, types) = scim(&app, reqwest::Method::GET, "/ResourceTypes", &token, None).await;
        assert_eq!(types["totalResults"], 2);
        assert_eq!(types["Resources"][1]["schemaExtensions"][0]["schema"], TEAM);
        let (status, group_type) = scim(&app, reqwest::Method::GET, "/ResourceTypes/Group", &token, None).await;
        assert_eq!((status, group_type["endpoint"].clone()), (200, json!("/Groups")));
        let (_, schemas) = scim(&app, reqwest::Method::GET, "/Schemas", &token, None).await;
        let ids: BTreeSet<&str> = schemas["Resources"].as_array().unwrap().iter().map(|schema| schema["id"].as_str().unwrap()).collect();
        assert_eq!(ids, BTreeSet::from([USER, GROUP, TEAM]));
        let (status, extension) = scim(&app, reqwest::Method::GET, &format!("/Schemas/{TEAM}"), &token, None).await;
        assert_eq!(status, 200);
        assert_eq!(extension["attributes"][0]["name"], "parent");
    }

    async fn a_deactivated_user_is_not_invited_to_the_next_round(app) {
        let token = scim_token(&app).await;
        let mut members = Vec::new();
        for n in 0..6 {
            members.push(create_user(&app, &token, &new_user(&format!("p{n}"), &format!("p{n}@example.com"), &format!("P {n}"))).await);
        }
        let values: Vec<Value> = members.iter().map(|id| json!({ "value": id.to_string() })).collect();
        let group = create_group(&app, &token, &json!({ "schemas": [GROUP], "displayName": "Pulse team", "members": values })).await;
        let (status, _) = scim(&app, reqwest::Method::PATCH, &format!("/Users/{}", members[0]), &token,
            Some(&patch(json!([{ "op": "replace", "value": { "active": false } }])))).await;
        assert_eq!(status, 200);
        let survey = app.create_survey(&[group], json!({})).await;
        let round = app.open_round(survey).await;
        let invited: BTreeSet<Uuid> = invitation::Entity::find()
            .filter(invitation::Column::RoundId.eq(round))
            .all(app.state.store.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.person_id.0)
            .collect();
        assert_eq!(invited, members[1..].iter().copied().collect::<BTreeSet<_>>());
    }

    async fn provisioning_5000_users_and_300_groups_then_changes_ends_where_the_csv_import_does(app) {
        let plan = Plan::new();
        let csv_app = spawn_app(match app.db { Db::Sqlite => Db::Sqlite, Db::Postgres => Db::Postgres }).await;
        import_csv(&csv_app, &plan.csv(&plan.first)).await;
        import_csv(&csv_app, &plan.csv(&plan.second)).await;

        let token = scim_token(&app).await;
        let groups = provision_groups(&app, &token, &plan).await;
        let users = provision_users(&app, &token, &plan.first).await;
        for (team, members) in plan.members(&plan.first) {
            let values: Vec<Value> = members.iter().map(|email| json!({ "value": users[email].to_string() })).collect();
            let (status, body) = scim(&app, reqwest::Method::PATCH, &format!("/Groups/{}", groups[&team]), &token,
                Some(&patch(json!([{ "op": "add", "path": "members", "value": values }])))).await;
            assert_eq!(status, 200, "{body}");
        }
        apply_changes_by_scim(&app, &token, &plan, &groups, users).await;

        let scim_org = organisation(&app).await;
        let csv_org = organisation(&csv_app).await;
        assert_eq!(scim_org.teams.len(), 300);
        assert_eq!(scim_org.people.len(), 5_100);
        assert_eq!(scim_org.teams, csv_org.teams);
        assert_eq!(scim_org.people, csv_org.people);
        assert_eq!(scim_org.memberships, csv_org.memberships);
    }
}

/// A person of the plan: address, name, team path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    email: String,
    name: String,
    team: Vec<String>,
}

/// 300 teams (10 divisions of 29 teams each), 5,000 people, then a change set:
/// 300 people move, 200 are renamed, 100 join.
struct Plan {
    teams: Vec<Vec<String>>,
    first: Vec<Row>,
    second: Vec<Row>,
}

impl Plan {
    fn new() -> Plan {
        let mut teams = Vec::new();
        for division in 0..10 {
            teams.push(vec![format!("Division {division}")]);
            for team in 0..29 {
                teams.push(vec![
                    format!("Division {division}"),
                    format!("Team {division}.{team}"),
                ]);
            }
        }
        let first: Vec<Row> = (0..5_000)
            .map(|n| Row {
                email: format!("p{n}@example.com"),
                name: format!("Person {n}"),
                team: teams[n % teams.len()].clone(),
            })
            .collect();
        let mut second = first.clone();
        for n in 0..300 {
            second[n * 7].team = teams[(n * 7 + 13) % teams.len()].clone();
        }
        for n in 0..200 {
            second[n * 11 + 3].name = format!("Renamed {n}");
        }
        second.extend((5_000..5_100).map(|n| Row {
            email: format!("p{n}@example.com"),
            name: format!("Person {n}"),
            team: teams[n % teams.len()].clone(),
        }));
        Plan {
            teams,
            first,
            second,
        }
    }

    fn csv(&self, rows: &[Row]) -> String {
        let mut csv = "email,name,team,leads,time_zone,locale\n".to_owned();
        for row in rows {
            csv.push_str(&format!(
                "{},{},{},no,UTC,en\n",
                row.email,
                row.name,
                row.team.join("/")
            ));
        }
        csv
    }

    /// Each team path's members' addresses.
    fn members(&self, rows: &[Row]) -> HashMap<Vec<String>, Vec<String>> {
        let mut members: HashMap<Vec<String>, Vec<String>> = HashMap::new();
        for row in rows {
            members
                .entry(row.team.clone())
                .or_default()
                .push(row.email.clone());
        }
        members
    }
}

async fn import_csv(app: &TestApp, csv: &str) {
    let response = app
        .client
        .post(app.url("/api/v1/people/import"))
        .bearer_auth(app.admin_token().await)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let report: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
}

/// The Groups of the plan, parents first; their ids by path.
async fn provision_groups(app: &TestApp, token: &str, plan: &Plan) -> HashMap<Vec<String>, Uuid> {
    let mut ids: HashMap<Vec<String>, Uuid> = HashMap::new();
    for path in &plan.teams {
        let mut group = json!({ "schemas": [GROUP, TEAM], "displayName": path.last().unwrap() });
        if path.len() > 1 {
            group[TEAM] = json!({ "parent": ids[&path[..1].to_vec()].to_string() });
        }
        ids.insert(path.clone(), create_group(app, token, &group).await);
    }
    ids
}

fn plan_user(row: &Row) -> Value {
    json!({
        "schemas": [USER],
        "userName": row.email,
        "displayName": row.name,
        "emails": [{ "value": row.email, "primary": true }],
        "timezone": "UTC",
        "locale": "en-GB",
    })
}

/// The Users of `rows`, eight requests at a time; their ids by address.
async fn provision_users(app: &TestApp, token: &str, rows: &[Row]) -> HashMap<String, Uuid> {
    futures_util::stream::iter(rows.iter().cloned())
        .map(|row| async move {
            (
                row.email.clone(),
                create_user(app, token, &plan_user(&row)).await,
            )
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// The change set as an identity provider sends it: renames by PATCH, new Users,
/// and moves as additions to their new Group.
async fn apply_changes_by_scim(
    app: &TestApp,
    token: &str,
    plan: &Plan,
    groups: &HashMap<Vec<String>, Uuid>,
    mut users: HashMap<String, Uuid>,
) {
    users.extend(provision_users(app, token, &plan.second[5_000..]).await);
    let mut joining: HashMap<Vec<String>, Vec<Value>> = HashMap::new();
    for (index, row) in plan.second.iter().enumerate() {
        let before = plan.first.get(index);
        if before.is_some_and(|before| before.name != row.name) {
            let (status, body) = scim(
                app,
                reqwest::Method::PATCH,
                &format!("/Users/{}", users[&row.email]),
                token,
                Some(&patch(
                    json!([{ "op": "replace", "path": "displayName", "value": row.name }]),
                )),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        if before.is_none_or(|before| before.team != row.team) {
            joining
                .entry(row.team.clone())
                .or_default()
                .push(json!({ "value": users[&row.email].to_string() }));
        }
    }
    for (team, values) in joining {
        let (status, body) = scim(
            app,
            reqwest::Method::PATCH,
            &format!("/Groups/{}", groups[&team]),
            token,
            Some(&patch(
                json!([{ "op": "add", "path": "members", "value": values }]),
            )),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
}

/// An organisation as sets of comparable values: team paths with their zones,
/// people with their details and team path, and the membership history (who
/// joined or left which team path).
struct Organisation {
    teams: BTreeSet<(String, String)>,
    people: BTreeSet<(String, String, String, String, Option<String>, bool)>,
    memberships: BTreeSet<(String, String, String, usize)>,
}

async fn organisation(app: &TestApp) -> Organisation {
    let db = app.state.store.connection();
    let teams = team::Entity::find().all(db).await.unwrap();
    let parents: HashMap<TeamId, (Option<TeamId>, String)> = teams
        .iter()
        .map(|team| (team.id, (team.parent_id, team.name.clone())))
        .collect();
    let path = |mut id: Option<TeamId>| {
        let mut parts = Vec::new();
        while let Some(current) = id {
            let (parent, name) = &parents[&current];
            parts.push(name.clone());
            id = *parent;
        }
        parts.reverse();
        parts.join("/")
    };
    let people = person::Entity::find().all(db).await.unwrap();
    let email_of: HashMap<String, String> = people
        .iter()
        .map(|person| (person.id.to_string(), person.email.clone()))
        .collect();
    let mut history: HashMap<(String, String, String), usize> = HashMap::new();
    for entry in audit_entry::Entity::find().all(db).await.unwrap() {
        if entry.action.starts_with("membership.") {
            let who = entry
                .target
                .as_ref()
                .and_then(|target| email_of.get(target))
                .cloned()
                .unwrap_or_default();
            *history
                .entry((entry.action, path(entry.team_id), who))
                .or_default() += 1;
        }
    }
    Organisation {
        teams: teams
            .iter()
            .map(|team| (path(Some(team.id)), team.time_zone.clone()))
            .collect(),
        people: people
            .into_iter()
            .map(|person| {
                (
                    person.email,
                    person.name,
                    path(person.team_id),
                    person.locale,
                    person.time_zone,
                    person.active,
                )
            })
            .collect(),
        memberships: history
            .into_iter()
            .map(|((action, team, who), count)| (action, team, who, count))
            .collect(),
    }
}
