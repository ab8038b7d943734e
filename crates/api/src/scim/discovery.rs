//! How the service describes itself (RFC 7644 §4): `/ServiceProviderConfig`
//! (PATCH and filters yes; bulk, sorting, ETags and password changes no; bearer
//! tokens), `/ResourceTypes` (User, Group with the team extension) and `/Schemas`
//! (the attributes this service reads and returns, and nothing else).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::error::ScimError;
use super::groups::{GROUP_SCHEMA, TEAM_EXTENSION};
use super::users::USER_SCHEMA;
use super::{ListRequest, MAX_COUNT, ScimCaller, list_response, location, scim_json};
use crate::state::AppState;

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(
    _caller: ScimCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ScimError> {
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [CONFIG_SCHEMA],
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A safepulse API token of the scim role (safepulse token issue --role scim)",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": location(&state, "/ServiceProviderConfig"),
            },
        }),
    ))
}

fn resource_type_list(state: &AppState) -> Vec<Value> {
    let user = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "description": "A person who is surveyed, or holds a role",
        "endpoint": "/Users",
        "schema": USER_SCHEMA,
        "meta": { "resourceType": "ResourceType", "location": location(state, "/ResourceTypes/User") },
    });
    let group = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "Group",
        "name": "Group",
        "description": "A team; its members are the people whose team it is",
        "endpoint": "/Groups",
        "schema": GROUP_SCHEMA,
        "schemaExtensions": [{ "schema": TEAM_EXTENSION, "required": false }],
        "meta": { "resourceType": "ResourceType", "location": location(state, "/ResourceTypes/Group") },
    });
    vec![user, group]
}

/// `GET /ResourceTypes`.
pub async fn resource_types(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    whole_list(&request, resource_type_list(&state))
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    one_of(resource_type_list(&state), &id)
}

/// `GET /Schemas`.
pub async fn schemas(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    whole_list(&request, schema_list(&state))
}

/// `GET /Schemas/{id}`.
pub async fn schema(
    _caller: ScimCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    one_of(schema_list(&state), &id)
}

/// A discovery list: filters are not supported on it (RFC 7644 §4).
fn whole_list(request: &HttpRequest, items: Vec<Value>) -> Result<HttpResponse, ScimError> {
    let mut list = ListRequest::from_query(request)?;
    if list.filter.is_some() {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            "discovery endpoints take no filter",
        ));
    }
    list.start_index = 1;
    let total = items.len() as u64;
    Ok(list_response(&list, total, items))
}

fn one_of(items: Vec<Value>, id: &str) -> Result<HttpResponse, ScimError> {
    items
        .into_iter()
        .find(|item| item["id"].as_str() == Some(id))
        .map(|item| scim_json(StatusCode::OK, &item))
        .ok_or_else(|| ScimError::not_found(format!("no {id:?} here")))
}

/// One attribute's definition (RFC 7643 §7).
struct Attribute {
    name: &'static str,
    kind: &'static str,
    multi_valued: bool,
    required: bool,
    mutability: &'static str,
    uniqueness: &'static str,
    description: &'static str,
    reference_types: &'static [&'static str],
    sub_attributes: Vec<Attribute>,
}

impl Attribute {
    fn new(name: &'static str, kind: &'static str, description: &'static str) -> Attribute {
        Attribute {
            name,
            kind,
            multi_valued: false,
            required: false,
            mutability: "readWrite",
            uniqueness: "none",
            description,
            reference_types: &[],
            sub_attributes: Vec::new(),
        }
    }

    fn json(&self) -> Value {
        let mut attribute = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": false,
            "mutability": self.mutability,
            "returned": "default",
            "uniqueness": self.uniqueness,
        });
        if !self.reference_types.is_empty() {
            attribute["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            attribute["subAttributes"] = self.sub_attributes.iter().map(Attribute::json).collect();
        }
        attribute
    }
}

fn schema_json(state: &AppState, id: &str, name: &str, attributes: &[Attribute]) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": name,
        "attributes": attributes.iter().map(Attribute::json).collect::<Vec<_>>(),
        "meta": { "resourceType": "Schema", "location": location(state, &format!("/Schemas/{id}")) },
    })
}

fn user_attributes() -> Vec<Attribute> {
    let name = Attribute {
        sub_attributes: vec![
            Attribute::new("formatted", "string", "The full name"),
            Attribute::new("givenName", "string", "The given name"),
            Attribute::new("familyName", "string", "The family name"),
        ],
        ..Attribute::new(
            "name",
            "complex",
            "The parts of the name; the person's name is displayName, else formatted, else givenName familyName",
        )
    };
    let emails = Attribute {
        multi_valued: true,
        required: true,
        sub_attributes: vec![Attribute {
            required: true,
            ..Attribute::new("value", "string", "An email address")
        }],
        ..Attribute::new(
            "emails",
            "complex",
            "The person's address (one): the one marked primary, else the first",
        )
    };
    let group_reference = Attribute {
        mutability: "readOnly",
        reference_types: &["Group"],
        ..Attribute::new("$ref", "reference", "The Group's location")
    };
    let groups = Attribute {
        multi_valued: true,
        mutability: "readOnly",
        sub_attributes: vec![
            Attribute {
                mutability: "readOnly",
                ..Attribute::new("value", "string", "The Group's id")
            },
            group_reference,
            Attribute {
                mutability: "readOnly",
                ..Attribute::new("display", "string", "The team's name")
            },
        ],
        ..Attribute::new(
            "groups",
            "complex",
            "The person's team (at most one); change it through the Group's members",
        )
    };
    vec![
        Attribute {
            required: true,
            uniqueness: "server",
            ..Attribute::new("userName", "string", "Unique, compared without letter case")
        },
        name,
        Attribute::new("displayName", "string", "The person's name"),
        emails,
        Attribute::new(
            "active",
            "boolean",
            "false: not invited to new rounds, tokens and sessions revoked",
        ),
        groups,
    ]
}

fn group_attributes() -> Vec<Attribute> {
    let members = Attribute {
        multi_valued: true,
        sub_attributes: vec![
            Attribute::new("value", "string", "A User's id"),
            Attribute {
                reference_types: &["User"],
                ..Attribute::new("$ref", "reference", "The User's location")
            },
        ],
        ..Attribute::new(
            "members",
            "complex",
            "The people whose team this is (Users only: a Group cannot be a member)",
        )
    };
    vec![
        Attribute {
            required: true,
            ..Attribute::new(
                "displayName",
                "string",
                "The team's name, unique among its siblings",
            )
        },
        members,
    ]
}

fn schema_list(state: &AppState) -> Vec<Value> {
    let parent = Attribute {
        reference_types: &["Group"],
        ..Attribute::new(
            "parent",
            "reference",
            "The parent Group (its id or location); absent or null: a top-level team",
        )
    };
    vec![
        schema_json(state, USER_SCHEMA, "User", &user_attributes()),
        schema_json(state, GROUP_SCHEMA, "Group", &group_attributes()),
        schema_json(state, TEAM_EXTENSION, "Team", &[parent]),
    ]
}
