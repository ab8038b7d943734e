//! PATCH (RFC 7644 §3.5.2) on a resource's SCIM JSON: `add`, `replace` and
//! `remove` (any letter case, as Entra ID writes them), with or without `path`.
//!
//! Paths: `attribute`, `attribute.sub`, either behind a schema URN
//! (`urn:ietf:params:scim:schemas:core:2.0:User:active`, or an extension's
//! `urn:…:Group:parent`), and `attribute[sub eq "value"]` with an optional `.sub`
//! after it (`members[value eq "…"]`, `emails[type eq "work"].value`), and an
//! extension's URN alone (the extension's whole object). The result
//! is then stored as a PUT of the whole resource would be, so PATCH and PUT share
//! their validation and their writes.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter;

/// The URN of a PATCH body.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Where an operation points: a top-level key (or an extension's URN), then
/// optionally a filter on its elements and a sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    extension: Option<String>,
    attribute: String,
    filter: Option<filter::Equality>,
    sub: Option<String>,
}

/// Applies the operations of a PatchOp body to `resource`, in order.
/// `core_schema` is the resource's core URN (a path may start with it).
pub fn apply(
    resource: &mut Map<String, Value>,
    body: &Map<String, Value>,
    core_schema: &str,
    extensions: &[&str],
) -> Result<(), ScimError> {
    let operations = body
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, value)| value.as_array())
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "a PatchOp needs Operations"))?;
    for operation in operations {
        let operation = operation
            .as_object()
            .ok_or_else(|| ScimError::bad_request("invalidSyntax", "an operation is an object"))?;
        let field = |name: &str| {
            operation
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        };
        let op = match field("op")
            .and_then(Value::as_str)
            .map(str::to_lowercase)
            .as_deref()
        {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            _ => {
                return Err(ScimError::bad_request(
                    "invalidSyntax",
                    "op must be add, replace or remove",
                ));
            }
        };
        let value = field("value").cloned();
        match field("path").and_then(Value::as_str) {
            Some(path)
                if extensions
                    .iter()
                    .any(|urn| urn.eq_ignore_ascii_case(path.trim())) =>
            {
                // The whole extension: its object is the attribute.
                let target = Target {
                    extension: None,
                    attribute: path.trim().to_owned(),
                    filter: None,
                    sub: None,
                };
                apply_at(resource, op, &target, value)?;
            }
            Some(path) => {
                let target = parse_path(path, core_schema)?;
                apply_at(resource, op, &target, value)?;
            }
            None => apply_without_path(resource, op, value, core_schema)?,
        }
    }
    Ok(())
}

/// An operation without `path`: its value is an object of attributes (keys may be
/// paths themselves, as Entra ID sends `{"name.givenName": …}`).
fn apply_without_path(
    resource: &mut Map<String, Value>,
    op: Op,
    value: Option<Value>,
    core_schema: &str,
) -> Result<(), ScimError> {
    if op == Op::Remove {
        return Err(ScimError::bad_request("noTarget", "remove needs a path"));
    }
    let Some(Value::Object(values)) = value else {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "an operation without a path needs an object as its value",
        ));
    };
    for (key, value) in values {
        if key.starts_with("urn:") && value.is_object() && !key.eq_ignore_ascii_case(core_schema) {
            // An extension's attributes, each set on its own.
            let Value::Object(attributes) = value else {
                continue;
            };
            for (attribute, value) in attributes {
                let target = parse_path(&format!("{key}:{attribute}"), core_schema)?;
                apply_at(resource, op, &target, Some(value))?;
            }
        } else {
            let target = parse_path(&key, core_schema)?;
            apply_at(resource, op, &target, Some(value))?;
        }
    }
    Ok(())
}

/// Reads a path; anything outside the grammar above is `invalidPath`.
fn parse_path(path: &str, core_schema: &str) -> Result<Target, ScimError> {
    let invalid = || ScimError::bad_request("invalidPath", format!("unsupported path {path:?}"));
    let mut rest = path.trim();
    let core_prefix = format!("{core_schema}:");
    let mut extension = None;
    if rest.len() > core_prefix.len()
        && rest[..core_prefix.len()].eq_ignore_ascii_case(&core_prefix)
    {
        rest = &rest[core_prefix.len()..];
    } else if rest.starts_with("urn:") {
        let (urn, attribute) = rest.rsplit_once(':').ok_or_else(invalid)?;
        extension = Some(urn.to_owned());
        rest = attribute;
    }
    let (head, filter, sub) = match rest.split_once('[') {
        Some((head, tail)) => {
            let (inside, after) = tail.split_once(']').ok_or_else(invalid)?;
            let sub = match after.strip_prefix('.') {
                Some(sub) => Some(sub.to_owned()),
                None if after.is_empty() => None,
                None => return Err(invalid()),
            };
            let filter = filter::parse(inside).map_err(|_| invalid())?;
            (head, Some(filter), sub)
        }
        None => match rest.split_once('.') {
            Some((head, sub)) => (head, None, Some(sub.to_owned())),
            None => (rest, None, None),
        },
    };
    let valid_name = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    if !valid_name(head) || sub.as_deref().is_some_and(|sub| !valid_name(sub)) {
        return Err(invalid());
    }
    Ok(Target {
        extension,
        attribute: head.to_owned(),
        filter,
        sub,
    })
}

/// The key of `name` in `object`, found without letter case.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// The object an operation works in: the resource, or its extension's object.
fn container<'a>(
    resource: &'a mut Map<String, Value>,
    target: &Target,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let Some(urn) = &target.extension else {
        return Ok(resource);
    };
    let key = key_of(resource, urn);
    let entry = resource
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry
        .as_object_mut()
        .ok_or_else(|| ScimError::bad_request("invalidPath", "not an object"))
}

fn apply_at(
    resource: &mut Map<String, Value>,
    op: Op,
    target: &Target,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let object = container(resource, target)?;
    let key = key_of(object, &target.attribute);
    if let Some(filter) = &target.filter {
        return apply_filtered(object, &key, op, filter, target.sub.as_deref(), value);
    }
    match (op, &target.sub) {
        (Op::Remove, None) => {
            object.remove(&key);
        }
        (Op::Remove, Some(sub)) => {
            if let Some(Value::Object(inner)) = object.get_mut(&key) {
                let sub_key = key_of(inner, sub);
                inner.remove(&sub_key);
            }
        }
        (_, Some(sub)) => {
            let value = value.ok_or_else(missing_value)?;
            let entry = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                let sub_key = key_of(inner, sub);
                inner.insert(sub_key, value);
            }
        }
        (Op::Add, None) => add(object, key, value.ok_or_else(missing_value)?),
        (Op::Replace, None) => {
            object.insert(key, value.ok_or_else(missing_value)?);
        }
    }
    Ok(())
}

fn missing_value() -> ScimError {
    ScimError::bad_request("invalidSyntax", "add and replace need a value")
}

/// `add` (RFC 7644 §3.5.2.1): values join a multi-valued attribute (an equal value
/// is not added twice), complex values merge, anything else is set.
fn add(object: &mut Map<String, Value>, key: String, value: Value) {
    match (object.get_mut(&key), value) {
        (Some(Value::Array(existing)), Value::Array(values)) => {
            for value in values {
                if !existing.iter().any(|present| same_element(present, &value)) {
                    existing.push(value);
                }
            }
        }
        (Some(Value::Array(existing)), value) => {
            if !existing.iter().any(|present| same_element(present, &value)) {
                existing.push(value);
            }
        }
        (Some(Value::Object(existing)), Value::Object(values)) => {
            for (sub, value) in values {
                let sub_key = key_of(existing, &sub);
                existing.insert(sub_key, value);
            }
        }
        (_, value) => {
            object.insert(key, value);
        }
    }
}

/// Two elements of a multi-valued attribute are the same when their `value`s are.
fn same_element(left: &Value, right: &Value) -> bool {
    match (left.get("value"), right.get("value")) {
        (Some(left), Some(right)) => left == right,
        _ => left == right,
    }
}

/// An operation on the elements of a multi-valued attribute that match `filter`.
fn apply_filtered(
    object: &mut Map<String, Value>,
    key: &str,
    op: Op,
    filter: &filter::Equality,
    sub: Option<&str>,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let matches = |element: &Value| {
        element.as_object().is_some_and(|element| {
            element
                .iter()
                .find(|(name, _)| filter.is(name))
                .is_some_and(|(_, found)| found.as_str() == Some(filter.value.as_str()))
        })
    };
    let Some(Value::Array(elements)) = object.get_mut(key) else {
        return match op {
            Op::Remove => Ok(()),
            _ => Err(ScimError::bad_request(
                "noTarget",
                "no element matches the path's filter",
            )),
        };
    };
    match (op, sub) {
        (Op::Remove, None) => elements.retain(|element| !matches(element)),
        (Op::Remove, Some(sub)) => {
            for element in elements.iter_mut().filter(|element| matches(element)) {
                if let Value::Object(element) = element {
                    let sub_key = key_of(element, sub);
                    element.remove(&sub_key);
                }
            }
        }
        (_, sub) => {
            let value = value.ok_or_else(missing_value)?;
            let mut found = false;
            for element in elements.iter_mut().filter(|element| matches(element)) {
                found = true;
                match (sub, element) {
                    (Some(sub), Value::Object(element)) => {
                        let sub_key = key_of(element, sub);
                        element.insert(sub_key, value.clone());
                    }
                    (None, element) => *element = value.clone(),
                    (Some(_), _) => {}
                }
            }
            if !found {
                return Err(ScimError::bad_request(
                    "noTarget",
                    "no element matches the path's filter",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const EXTENSION: &str = "urn:example:ext:2.0:User";

    fn patched(resource: Value, operations: Value) -> Result<Value, ScimError> {
        let mut resource = resource.as_object().unwrap().clone();
        let body = json!({ "schemas": [PATCH_OP], "Operations": operations });
        apply(&mut resource, body.as_object().unwrap(), USER, &[EXTENSION])?;
        Ok(Value::Object(resource))
    }

    #[test]
    fn entra_and_okta_deactivations_both_set_active() {
        let user = json!({ "userName": "ada", "active": true });
        let entra = patched(
            user.clone(),
            json!([{ "op": "Replace", "path": "active", "value": false }]),
        )
        .unwrap();
        let okta = patched(
            user,
            json!([{ "op": "replace", "value": { "active": false } }]),
        )
        .unwrap();
        assert_eq!(entra["active"], false);
        assert_eq!(okta["active"], false);
    }

    #[test]
    fn members_are_added_once_and_removed_by_filter() {
        let group = json!({ "displayName": "Platform", "members": [{ "value": "a" }] });
        let added = patched(
            group,
            json!([{ "op": "add", "path": "members", "value": [{ "value": "a" }, { "value": "b" }] }]),
        )
        .unwrap();
        assert_eq!(
            added["members"],
            json!([{ "value": "a" }, { "value": "b" }])
        );
        let removed = patched(
            added,
            json!([{ "op": "remove", "path": "members[value eq \"a\"]" }]),
        )
        .unwrap();
        assert_eq!(removed["members"], json!([{ "value": "b" }]));
    }

    #[test]
    fn sub_attributes_filters_and_extensions_are_reached() {
        let user = json!({ "emails": [{ "type": "work", "value": "a@example.com" }] });
        let user = patched(
            user,
            json!([
                { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com" },
                { "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.formatted", "value": "Ada" },
                { "op": "add", "path": "urn:example:ext:2.0:User:parent", "value": "x" },
            ]),
        )
        .unwrap();
        assert_eq!(user["emails"][0]["value"], "b@example.com");
        assert_eq!(user["name"]["formatted"], "Ada");
        assert_eq!(user["urn:example:ext:2.0:User"]["parent"], "x");
    }

    #[test]
    fn a_whole_extension_is_added_and_removed_by_its_urn() {
        let user = json!({ "userName": "ada" });
        let added = patched(
            user,
            json!([{ "op": "add", "path": EXTENSION, "value": { "parent": "x" } }]),
        )
        .unwrap();
        assert_eq!(added[EXTENSION], json!({ "parent": "x" }));
        let removed = patched(added, json!([{ "op": "remove", "path": EXTENSION }])).unwrap();
        assert!(removed.get(EXTENSION).is_none());
    }

    #[test]
    fn bad_operations_are_refused_with_their_scim_type() {
        let user = json!({ "userName": "ada" });
        let error = patched(user.clone(), json!([{ "op": "remove" }])).unwrap_err();
        assert_eq!(error.scim_type, Some("noTarget"));
        let error = patched(user.clone(), json!([{ "op": "move", "path": "a" }])).unwrap_err();
        assert_eq!(error.scim_type, Some("invalidSyntax"));
        let error = patched(user, json!([{ "op": "add", "path": "a[b", "value": 1 }])).unwrap_err();
        assert_eq!(error.scim_type, Some("invalidPath"));
    }
}
