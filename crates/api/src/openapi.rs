//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`s.
//! `openapi/openapi.json` is this document, committed; a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{health, people, teams};

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
        people::import_people,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "organisation", description = "Teams, people and leaders (admin)"),
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
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes");
    text.push('\n');
    text
}
