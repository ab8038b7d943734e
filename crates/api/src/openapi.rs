//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`s.
//! `openapi/openapi.json` is this document, committed; a test fails when they differ.
//!
//! Besides the handlers' own responses, [`ProblemResponses`] documents in one place
//! the errors the framework answers for every operation, and [`allowed_methods`]
//! reads the document back so that a known path asked with another method answers
//! `405` with `Allow`: the document is the route table.

use std::borrow::Cow;
use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use safepulse_domain::{Locale, Name, TimeZone};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::routes::{commitments, health, people, reports, surveys, teams, tokens, webhooks};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "safepulse",
        version = "1",
        description = "Trust and psychological-safety pulse surveys. Every figure this API returns \
                       was released by the anonymizer at a round's close; nothing identifies a person.\n\n\
                       Errors are `application/problem+json` with a stable `code`. Lists use cursor \
                       pagination: pass `next_cursor` back as `cursor`. A method a path does not \
                       serve answers `405` with `Allow`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        health::healthz,
        health::readyz,
        health::metrics,
        teams::create_team,
        teams::list_teams,
        teams::get_team,
        teams::update_team,
        teams::delete_team,
        teams::list_leaders,
        teams::add_leader,
        teams::remove_leader,
        people::create_person,
        people::list_people,
        people::get_person,
        people::update_person,
        people::erase_person,
        people::grant_role,
        people::revoke_role,
        people::import_people,
        tokens::list_tokens,
        tokens::revoke_token,
        surveys::list_items,
        surveys::create_survey,
        surveys::list_surveys,
        surveys::get_survey,
        surveys::update_survey,
        surveys::start_survey,
        surveys::pause_survey,
        surveys::resume_survey,
        surveys::archive_survey,
        surveys::open_round,
        surveys::list_rounds,
        surveys::close_round,
        surveys::discard_round,
        reports::team_report,
        reports::round_heatmap,
        reports::list_releases,
        reports::list_audit,
        commitments::create_commitment,
        commitments::update_commitment,
        commitments::team_commitments,
        commitments::all_commitments,
        webhooks::create_webhook,
        webhooks::list_webhooks,
        webhooks::get_webhook,
        webhooks::update_webhook,
        webhooks::delete_webhook,
        webhooks::rotate_webhook_secret,
    ),
    // The webhook payloads are not an operation's body: listed so receivers find them.
    components(schemas(
        people::GrantableRole,
        safepulse_mailer::webhooks::WebhookPayload,
        safepulse_mailer::webhooks::WebhookData,
        safepulse_mailer::webhooks::RoundEventData,
        safepulse_mailer::webhooks::ActionPlanEventData,
        safepulse_mailer::webhooks::WebhookEvent,
    )),
    modifiers(&BearerAuth, &ProblemResponses, &ResourceLinks),
    tags(
        (name = "organisation", description = "Teams, people, leaders, roles and tokens (admin)"),
        (name = "reports", description = "Released results (managers and hr) and the audit log"),
        (name = "action plans", description = "What team leaders commit to after a round (leaders write, hr reads); never touches answers or releases"),
        (name = "surveys", description = "Surveys, their rounds and the item bank (admin)"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "webhooks", description = "Signed webhook endpoints (admin); payloads: the `WebhookPayload` schema"),
    )
)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The display name of a person, team or survey: [`Name::parse`]'s rule as JSON
/// Schema (the `pattern` is [`Name::json_schema_pattern`]).
#[derive(Debug)]
pub struct NameSchema;

impl PartialSchema for NameSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(Name::MAX_CHARS))
            .pattern(Some(Name::json_schema_pattern()))
            .description(Some(
                "A display name: at most 100 characters, trimmed of spaces at both ends, not \
                 blank, without control characters, line breaks, bidirectional controls or \
                 zero-width characters.",
            ))
            .into()
    }
}

impl ToSchema for NameSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Name")
    }
}

/// An IANA time zone name, e.g. `Europe/Berlin`.
#[derive(Debug)]
pub struct TimeZoneSchema;

impl PartialSchema for TimeZoneSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(TimeZone::all_names()))
            .description(Some("An IANA time zone name, e.g. `Europe/Berlin`."))
            .into()
    }
}

impl ToSchema for TimeZoneSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TimeZone")
    }
}

/// A language safepulse writes to people in.
#[derive(Debug)]
pub struct LocaleSchema;

impl PartialSchema for LocaleSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([Locale::En.as_str(), Locale::De.as_str()]))
            .description(Some("The language of the emails and pages a person gets."))
            .into()
    }
}

impl ToSchema for LocaleSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Locale")
    }
}

/// The errors any operation can answer besides its own, documented here once: every
/// error body is `application/problem+json`; an operation with a query string or a
/// body answers `400` when it cannot be read at all and `422` when a value is out
/// of its bounds; one with a body answers `413` and `415` (too large, another media
/// type); every authenticated operation answers `503` while the database does not.
#[derive(Debug)]
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                document_problems(operation);
            }
        }
    }
}

fn document_problems(operation: &mut Operation) {
    let problem_ref = Ref::from_schema_name("Problem");
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_problem = response.content.get("application/json").is_some_and(|content| {
            matches!(&content.schema, Some(RefOr::Ref(reference)) if *reference == problem_ref)
        });
        if is_problem && let Some(content) = response.content.shift_remove("application/json") {
            response
                .content
                .insert("application/problem+json".to_owned(), content);
        }
    }
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| matches!(parameter.parameter_in, ParameterIn::Query));
    let has_body = operation.request_body.is_some();
    let authenticated = operation.security.is_some();
    let mut add = |status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(problem_ref.clone()))
                            .build(),
                    )
                    .into()
            });
    };
    if has_query || has_body {
        add(
            "400",
            "The query string or the body cannot be read (`bad_request`)",
        );
        add(
            "422",
            "A value is invalid (`validation_failed`, with `errors` naming each field)",
        );
    }
    if has_body {
        add(
            "413",
            "The body is larger than the limit (`payload_too_large`)",
        );
        add(
            "415",
            "The body is not of the documented media type (`unsupported_media_type`)",
        );
    }
    if authenticated {
        add(
            "503",
            "The database does not answer; try again shortly (`unavailable`)",
        );
    }
}

/// A link: the operation it leads to, and its parameters as runtime expressions.
type Link = (&'static str, &'static [(&'static str, &'static str)]);

/// What a created resource leads to, as OpenAPI links: for each operation that
/// creates something, the operations its answer's fields are parameters of. Clients
/// and the stateful phase of schemathesis follow them. (Tokens are not linked: a
/// listed token may be the caller's own.)
const LINKS: &[(&str, &[Link])] = &[
    (
        "create_team",
        &[
            ("get_team", &[("id", "$response.body#/id")]),
            ("update_team", &[("id", "$response.body#/id")]),
            ("delete_team", &[("id", "$response.body#/id")]),
            ("list_leaders", &[("id", "$response.body#/id")]),
            ("team_report", &[("id", "$response.body#/id")]),
        ],
    ),
    (
        "create_person",
        &[
            ("get_person", &[("id", "$response.body#/id")]),
            ("update_person", &[("id", "$response.body#/id")]),
            ("erase_person", &[("id", "$response.body#/id")]),
            ("grant_role", &[("id", "$response.body#/id")]),
            ("revoke_role", &[("id", "$response.body#/id")]),
            (
                "add_leader",
                &[
                    ("id", "$response.body#/team_id"),
                    ("person_id", "$response.body#/id"),
                ],
            ),
            (
                "remove_leader",
                &[
                    ("id", "$response.body#/team_id"),
                    ("person_id", "$response.body#/id"),
                ],
            ),
        ],
    ),
    (
        "create_survey",
        &[
            ("get_survey", &[("id", "$response.body#/id")]),
            ("update_survey", &[("id", "$response.body#/id")]),
            ("start_survey", &[("id", "$response.body#/id")]),
            ("pause_survey", &[("id", "$response.body#/id")]),
            ("resume_survey", &[("id", "$response.body#/id")]),
            ("archive_survey", &[("id", "$response.body#/id")]),
            ("open_round", &[("id", "$response.body#/id")]),
            ("list_rounds", &[("id", "$response.body#/id")]),
        ],
    ),
    (
        "open_round",
        &[
            ("close_round", &[("id", "$response.body#/id")]),
            ("discard_round", &[("id", "$response.body#/id")]),
            ("round_heatmap", &[("id", "$response.body#/id")]),
        ],
    ),
];

#[derive(Debug)]
struct ResourceLinks;

impl Modify for ResourceLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.post].into_iter().flatten() {
                let Some((_, targets)) = LINKS
                    .iter()
                    .find(|(source, _)| operation.operation_id.as_deref() == Some(source))
                else {
                    continue;
                };
                let Some(RefOr::T(created)) = operation.responses.responses.get_mut("201") else {
                    continue;
                };
                for (target, parameters) in *targets {
                    let link = parameters
                        .iter()
                        .fold(
                            LinkBuilder::new().operation_id(*target),
                            |link, (name, value)| link.parameter(*name, *value),
                        )
                        .build();
                    created.links.insert((*target).to_owned(), RefOr::T(link));
                }
            }
        }
    }
}

/// The methods the API serves at `path`, from the document (every route is in it,
/// a test makes sure); empty for a path it does not know. As in OpenAPI, a path
/// without parameters wins over templated ones: `/api/v1/people/import` is its own
/// path, not a person.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    static ROUTES: LazyLock<Vec<(ResourceDef, Vec<&'static str>)>> = LazyLock::new(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(pattern, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, served)| served.then_some(method))
                .collect();
                (ResourceDef::new(pattern.as_str()), methods)
            })
            .collect()
    });
    let matching: Vec<&(ResourceDef, Vec<&'static str>)> = ROUTES
        .iter()
        .filter(|(pattern, _)| pattern.is_match(path))
        .collect();
    let concrete = matching
        .iter()
        .any(|(pattern, _)| !pattern.pattern().is_some_and(|text| text.contains('{')));
    let mut allowed: Vec<&'static str> = matching
        .into_iter()
        .filter(|(pattern, _)| {
            !concrete || !pattern.pattern().is_some_and(|text| text.contains('{'))
        })
        .flat_map(|(_, methods)| methods.iter().copied())
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    allowed
}

/// The document as served at `/api/openapi.json`.
pub fn openapi_document() -> serde_json::Value {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
    // utoipa 5.5 writes a link's fields in snake case (`operation_id`); OpenAPI
    // names them in camel case, and clients ignore a link without `operationId`.
    if let Some(paths) = document["paths"].as_object_mut() {
        for operation in paths
            .values_mut()
            .filter_map(|item| item.as_object_mut())
            .flat_map(|item| item.values_mut())
        {
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            for link in responses
                .values_mut()
                .filter_map(|response| response.get_mut("links"))
                .filter_map(|links| links.as_object_mut())
                .flat_map(|links| links.values_mut())
                .filter_map(|link| link.as_object_mut())
            {
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_owned(), value);
                    }
                }
            }
        }
    }
    document
}

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let mut text =
        serde_json::to_string_pretty(&openapi_document()).expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn committed_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json")
    }

    #[test]
    fn the_committed_openapi_document_matches_the_code() {
        let generated = openapi_json();
        if std::env::var_os("SAFEPULSE_UPDATE_OPENAPI").is_some() {
            std::fs::write(committed_path(), &generated).expect("write openapi/openapi.json");
        }
        let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi/openapi.json differs from the code: regenerate it with \
             `SAFEPULSE_UPDATE_OPENAPI=1 cargo test -p safepulse-api openapi` and commit it"
        );
    }

    /// The document's `Name` schema accepts exactly the names `Name::parse` accepts:
    /// the JSON API, the CSV import and the document state one rule.
    #[test]
    fn the_documented_name_schema_is_the_rule_of_name_parse() {
        let document: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let schema = &document["components"]["schemas"]["Name"];
        let pattern = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        let min = schema["minLength"].as_u64().unwrap() as usize;
        let max = schema["maxLength"].as_u64().unwrap() as usize;
        let documented =
            |raw: &str| (min..=max).contains(&raw.chars().count()) && pattern.is_match(raw);
        // Every character of the Basic Multilingual Plane (where every listed one
        // is) and a few beyond it, alone, after a letter and around one.
        let mut samples: Vec<String> = (0..=0xffff)
            .chain([0x1_0000, 0x1_f600, 0x2_0000, 0xe_0001, 0x10_ffff])
            .filter_map(char::from_u32)
            .flat_map(|c| [c.to_string(), format!("a{c}"), format!("{c}a{c}")])
            .collect();
        samples.extend(["", "a", " a ", "\u{3000}"].map(str::to_owned));
        samples.extend([99, 100, 101].map(|length| "é".repeat(length)));
        samples.push(format!(" {}", "a".repeat(100)));
        for sample in samples {
            assert_eq!(
                documented(&sample),
                Name::parse(&sample).is_ok(),
                "{sample:?}"
            );
        }
    }

    /// Every `$ref` names a schema the document holds (a parameter's type is not
    /// collected by itself: `components(schemas(…))` lists those).
    #[test]
    fn every_reference_resolves() {
        fn visit(value: &serde_json::Value, schemas: &serde_json::Value) {
            match value {
                serde_json::Value::Object(object) => {
                    if let Some(reference) = object.get("$ref").and_then(|r| r.as_str()) {
                        let name = reference.trim_start_matches("#/components/schemas/");
                        assert!(
                            schemas[name].is_object(),
                            "{reference} is not in the document"
                        );
                    }
                    object.values().for_each(|child| visit(child, schemas));
                }
                serde_json::Value::Array(items) => {
                    items.iter().for_each(|child| visit(child, schemas))
                }
                _ => {}
            }
        }
        let document: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        visit(&document, &document["components"]["schemas"]);
    }

    /// Every link names an operation of the document and parameters it has, and
    /// every creating operation the table names has its links.
    #[test]
    fn every_link_leads_to_an_operation_and_its_parameters() {
        let document: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let operations: Vec<&serde_json::Value> = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .collect();
        let find = |id: &str| {
            operations
                .iter()
                .find(|operation| operation["operationId"] == id)
                .unwrap_or_else(|| panic!("no operation {id}"))
        };
        for (source, targets) in LINKS {
            let links = &find(source)["responses"]["201"]["links"];
            assert_eq!(
                links.as_object().map(|links| links.len()),
                Some(targets.len()),
                "{source}"
            );
            for (target, parameters) in *targets {
                let names: Vec<&str> = find(target)["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|parameter| parameter["name"].as_str().unwrap())
                    .collect();
                for (name, _) in *parameters {
                    assert!(
                        names.contains(name),
                        "{source} → {target} has no parameter {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_documented_path_knows_its_methods_and_an_unknown_one_none() {
        assert_eq!(allowed_methods("/api/v1/teams"), ["GET", "POST"]);
        assert_eq!(
            allowed_methods("/api/v1/teams/5b1c1c9e-0000-4000-8000-000000000000"),
            ["DELETE", "GET", "PATCH"]
        );
        assert_eq!(allowed_methods("/healthz"), ["GET"]);
        assert_eq!(allowed_methods("/api/v1/people/import"), ["POST"]);
        assert!(allowed_methods("/api/v1/nothing-here").is_empty());
        assert!(allowed_methods("/api/v1/teams/a/b/c").is_empty());
    }

    /// Every actix route attribute (`#[get("/…")]` …) in the handlers has an
    /// operation in the document, so nothing is served undocumented.
    #[test]
    fn every_route_is_documented() {
        let document: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let routes_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
        let mut routes = Vec::new();
        for entry in std::fs::read_dir(&routes_dir).unwrap() {
            let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in source.lines().map(str::trim) {
                for method in ["get", "post", "put", "patch", "delete"] {
                    if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                        let path = rest.split('"').next().unwrap().to_owned();
                        routes.push((method, path));
                    }
                }
            }
        }
        assert!(routes.len() >= 10, "the scan finds the routes: {routes:?}");
        for (method, path) in routes {
            assert!(
                document["paths"][&path][method].is_object(),
                "{} {path} is served but not in the OpenAPI document",
                method.to_uppercase()
            );
        }
    }
}
