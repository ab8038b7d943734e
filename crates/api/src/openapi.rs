//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`s.
//! `openapi/openapi.json` is this document, committed; a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{health, people, reports, surveys, teams, tokens};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "safepulse",
        version = "1",
        description = "Trust and psychological-safety pulse surveys. Every figure this API returns \
                       was released by the anonymizer at a round's close; nothing identifies a person.\n\n\
                       Errors are `application/problem+json` with a stable `code`. Lists use cursor \
                       pagination: pass `next_cursor` back as `cursor`.",
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
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "organisation", description = "Teams, people, leaders, roles and tokens (admin)"),
        (name = "reports", description = "Released results (managers and hr) and the audit log"),
        (name = "surveys", description = "Surveys, their rounds and the item bank (admin)"),
        (name = "operations", description = "Health, readiness and metrics"),
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

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
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
