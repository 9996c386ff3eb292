//! PATCH (RFC 7644 3.5.2) over a resource's attributes, as identity providers send it: `op`
//! in any case (`"Replace"`), no `path` with an object of attributes (Okta's
//! `{"op":"replace","value":{"active":false}}`), value filters (`members[value eq "id"]`,
//! `emails[type eq "work"].value`) and `remove` of listed members (Entra ID's
//! `{"op":"Remove","path":"members","value":[{"value":"id"}]}`). The result is validated again as
//! a whole resource by the caller, so an operation here only has to keep the JSON well formed.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{key_ci, AttrPath};

/// The schema URN of a PATCH request body.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: Kind,
    pub path: Option<AttrPath>,
    pub value: Option<Value>,
}

/// The operations of a PATCH request body, all checked before any is applied.
pub fn parse(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let body = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body is an object"))?;
    let operations = key_ci(body, "Operations")
        .and_then(|k| body.get(&k))
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body has an `Operations` array"))?;
    if operations.is_empty() {
        return Err(ScimError::invalid_syntax("`Operations` is empty"));
    }
    operations.iter().map(operation).collect()
}

fn operation(op: &Value) -> Result<Operation, ScimError> {
    let field = |name: &str| crate::filter::get_ci(op, name);
    let kind = match field("op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
    {
        Some(k) if k == "add" => Kind::Add,
        Some(k) if k == "replace" => Kind::Replace,
        Some(k) if k == "remove" => Kind::Remove,
        _ => {
            return Err(ScimError::invalid_syntax(
                "each operation has an `op`: add, replace or remove",
            ))
        }
    };
    let path = match field("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(AttrPath::parse(p)?),
        Some(_) => return Err(ScimError::invalid_path("`path` is a string")),
    };
    let value = field("value").cloned();
    match (kind, &path, &value) {
        (Kind::Remove, None, _) => Err(ScimError::no_target("`remove` needs a `path`")),
        (Kind::Add | Kind::Replace, _, None) => Err(ScimError::invalid_value(
            "`add` and `replace` need a `value`",
        )),
        (Kind::Add | Kind::Replace, None, Some(v)) if !v.is_object() => Err(
            ScimError::invalid_value("without a `path`, `value` is an object of attributes"),
        ),
        _ => Ok(Operation { kind, path, value }),
    }
}

/// Applies `op` to `attrs`.
pub fn apply(attrs: &mut Map<String, Value>, op: &Operation) -> Result<(), ScimError> {
    match (&op.path, &op.value) {
        (Some(path), value) => apply_path(attrs, path, op.kind, value.as_ref()),
        (None, Some(Value::Object(values))) => {
            for (key, value) in values {
                let core = key.eq_ignore_ascii_case(crate::filter::CORE_USER)
                    || key.eq_ignore_ascii_case(crate::filter::CORE_GROUP);
                let path = value_key(key);
                match value {
                    // `{"urn:...:enterprise:2.0:User": {"department": "x"}}`: each of its
                    // attributes, under the schema (or at the top for a core schema).
                    Value::Object(inner) if core || schema_of(key, &path).is_some() => {
                        let schema = if core { None } else { schema_of(key, &path) };
                        for (attr, value) in inner {
                            let mut path = value_key(attr);
                            if path.schema.is_none() {
                                path.schema.clone_from(&schema);
                            }
                            apply_path(attrs, &path, op.kind, Some(value))?;
                        }
                    }
                    // `"name.givenName"`, `"urn:...:enterprise:2.0:User:employeeNumber"`:
                    // paths, as Entra ID's multi-attribute update sends them.
                    _ => apply_path(attrs, &path, op.kind, Some(value))?,
                }
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value("operation without a target")),
    }
}

/// A key of a path-less value object read as a path (`name.givenName` is `name`'s
/// `givenName`); a key that is no path (no filters here) is the attribute of that name.
fn value_key(key: &str) -> AttrPath {
    match AttrPath::parse(key) {
        Ok(path) if path.filter.is_none() => path,
        _ => AttrPath::simple(key),
    }
}

/// The schema a key of a value object names, when it names one (its value then holds that
/// schema's attributes): a known extension in its own spelling, or the URN of one the service
/// does not describe as sent. `urn:...:enterprise:2.0:User:manager` names an attribute.
fn schema_of(key: &str, path: &AttrPath) -> Option<String> {
    let known = |urn: &&&str| path.schema.is_none() && path.attr == **urn;
    if let Some(urn) = crate::filter::EXTENSIONS.iter().find(known) {
        return Some((*urn).to_owned());
    }
    let attribute_of_known = crate::filter::EXTENSIONS
        .iter()
        .any(|urn| path.schema.as_deref() == Some(*urn));
    (key.starts_with("urn:") && !attribute_of_known).then(|| key.to_owned())
}

fn apply_path(
    attrs: &mut Map<String, Value>,
    path: &AttrPath,
    kind: Kind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let container = match &path.schema {
        None => attrs,
        Some(urn) => {
            let key = key_ci(attrs, urn).unwrap_or_else(|| urn.clone());
            if kind == Kind::Remove && !attrs.contains_key(&key) {
                return Ok(());
            }
            let entry = attrs
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            match entry {
                Value::Object(map) => map,
                _ => return Err(ScimError::invalid_path("schema extension is not an object")),
            }
        }
    };
    let key = key_ci(container, &path.attr).unwrap_or_else(|| canonical(&path.attr));
    let required = || value.ok_or_else(|| ScimError::invalid_value("missing `value`"));
    match (&path.filter, &path.sub, kind) {
        (None, None, Kind::Remove) => {
            match (container.get_mut(&key), value) {
                // Entra ID: remove these members.
                (Some(Value::Array(items)), Some(listed)) => {
                    let listed: Vec<&Value> = match listed {
                        Value::Array(l) => l.iter().collect(),
                        v => vec![v],
                    };
                    items.retain(|item| !listed.iter().any(|l| same_element(item, l)));
                }
                _ => {
                    container.remove(&key);
                }
            }
            Ok(())
        }
        (None, None, Kind::Add) => {
            let value = required()?;
            match (container.get_mut(&key), value) {
                (Some(Value::Array(items)), Value::Array(new)) => {
                    for v in new {
                        add_element(items, v);
                    }
                }
                (Some(Value::Array(items)), v) => add_element(items, v),
                (Some(Value::Object(existing)), Value::Object(new)) => merge(existing, new),
                _ => {
                    container.insert(key, canonical_value(value));
                }
            }
            Ok(())
        }
        (None, None, Kind::Replace) => {
            let value = required()?;
            match (container.get_mut(&key), value) {
                // A complex attribute: the sub-attributes given replace theirs (3.5.2.3).
                (Some(Value::Object(existing)), Value::Object(new)) => merge(existing, new),
                _ => {
                    container.insert(key, canonical_value(value));
                }
            }
            Ok(())
        }
        (None, Some(sub), Kind::Remove) => {
            match container.get_mut(&key) {
                Some(Value::Object(object)) => remove_ci(object, sub),
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        remove_ci(item, sub);
                    }
                }
                _ => {}
            }
            Ok(())
        }
        (None, Some(sub), Kind::Add | Kind::Replace) => {
            let value = required()?;
            let entry = container
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(object) => {
                    set_ci(object, sub, value.clone());
                    Ok(())
                }
                Value::Null => {
                    let mut object = Map::new();
                    set_ci(&mut object, sub, value.clone());
                    *entry = Value::Object(object);
                    Ok(())
                }
                _ => Err(ScimError::invalid_path(format!(
                    "`{}` has no sub-attributes; use a value filter",
                    path.attr
                ))),
            }
        }
        (Some(filter), sub, kind) => {
            let items = match container.get_mut(&key) {
                Some(Value::Array(items)) => items,
                _ if kind == Kind::Remove => return Ok(()),
                _ => {
                    container.insert(key.clone(), Value::Array(Vec::new()));
                    match container.get_mut(&key) {
                        Some(Value::Array(items)) => items,
                        _ => return Err(ScimError::internal()),
                    }
                }
            };
            let matched = items.iter().any(|item| filter.matches(item));
            match (kind, sub) {
                (Kind::Remove, None) => items.retain(|item| !filter.matches(item)),
                (Kind::Remove, Some(sub)) => {
                    for item in items.iter_mut().filter(|i| filter.matches(&**i)) {
                        if let Value::Object(object) = item {
                            remove_ci(object, sub);
                        }
                    }
                }
                (_, Some(sub)) if matched => {
                    let value = required()?;
                    for item in items.iter_mut().filter(|i| filter.matches(&**i)) {
                        if let Value::Object(object) = item {
                            set_ci(object, sub, value.clone());
                        }
                    }
                }
                // `emails[type eq "work"].value` with no work email yet: add one.
                (_, Some(sub)) => {
                    let value = required()?;
                    let (attr, expected) = filter.as_equality().ok_or_else(|| {
                        ScimError::no_target(format!("no `{}` value matches the filter", path.attr))
                    })?;
                    let mut object = Map::new();
                    object.insert(canonical(attr), expected.clone());
                    set_ci(&mut object, sub, value.clone());
                    items.push(Value::Object(object));
                }
                (_, None) if matched => {
                    let value = required()?;
                    let Value::Object(new) = value else {
                        return Err(ScimError::invalid_value(
                            "a filtered element is replaced by an object",
                        ));
                    };
                    for item in items.iter_mut().filter(|i| filter.matches(&**i)) {
                        if let Value::Object(object) = item {
                            merge(object, new);
                        }
                    }
                }
                (_, None) => {
                    return Err(ScimError::no_target(format!(
                        "no `{}` value matches the filter",
                        path.attr
                    )))
                }
            }
            Ok(())
        }
    }
}

/// Two elements of a multi-valued attribute are the same when their `value`s are (members are
/// sent with and without `display` or `$ref`).
fn same_element(a: &Value, b: &Value) -> bool {
    let value = |v: &Value| crate::filter::get_ci(v, "value").cloned();
    match (a, b) {
        (Value::Object(_), Value::Object(_)) => match (value(a), value(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        (Value::Object(_), other) => value(a).as_ref() == Some(other),
        _ => a == b,
    }
}

fn add_element(items: &mut Vec<Value>, value: &Value) {
    if !items.iter().any(|item| same_element(item, value)) {
        items.push(canonical_value(value));
    }
}

fn merge(existing: &mut Map<String, Value>, new: &Map<String, Value>) {
    for (k, v) in new {
        set_ci(existing, k, canonical_value(v));
    }
}

fn set_ci(object: &mut Map<String, Value>, key: &str, value: Value) {
    let key = key_ci(object, key).unwrap_or_else(|| canonical(key));
    object.insert(key, value);
}

fn remove_ci(object: &mut Map<String, Value>, key: &str) {
    if let Some(key) = key_ci(object, key) {
        object.remove(&key);
    }
}

/// The schema's spelling of an attribute name written in another case (names are
/// case-insensitive; what is stored and sent back is the schema's).
pub fn canonical(name: &str) -> String {
    const NAMES: &[&str] = &[
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
        "externalId",
        "members",
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
        "value",
        "display",
        "type",
        "primary",
        "$ref",
        "id",
        "meta",
        "schemas",
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    ];
    NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |n| (*n).to_owned())
}

/// `value` with the keys of its objects (one level down, as SCIM nests) spelled canonically.
fn canonical_value(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (canonical(k), v.clone()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical_value).collect()),
        v => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(resource: Value, body: Value) -> Result<Value, ScimError> {
        let Value::Object(mut attrs) = resource else {
            unreachable!()
        };
        for op in parse(&body)? {
            apply(&mut attrs, &op)?;
        }
        Ok(Value::Object(attrs))
    }

    fn alice() -> Value {
        json!({
            "userName": "alice@acme.com",
            "active": true,
            "emails": [{"value": "alice@acme.com", "type": "work", "primary": true}],
            "name": {"givenName": "Alice", "familyName": "Smith"}
        })
    }

    fn group() -> Value {
        json!({"displayName": "ML Engineers", "members": [{"value": "u1"}, {"value": "u2"}]})
    }

    #[test]
    fn okta_deactivate_replaces_without_a_path() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        });
        let out = patched(alice(), body).unwrap();
        assert_eq!(out["active"], json!(false));
        assert_eq!(out["userName"], json!("alice@acme.com"));
    }

    #[test]
    fn okta_group_rename_and_members() {
        let rename = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}}]
        });
        let out = patched(group(), rename).unwrap();
        assert_eq!(out["displayName"], json!("Test SCIMv2"));
        let add = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "u3", "display": "test.user@okta.local"}, {"value": "u1"}]}]
        });
        let out = patched(group(), add).unwrap();
        assert_eq!(
            out["members"],
            json!([{"value": "u1"}, {"value": "u2"}, {"value": "u3", "display": "test.user@okta.local"}])
        );
        let remove = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "members[value eq \"u2\"]"}]
        });
        let out = patched(group(), remove).unwrap();
        assert_eq!(out["members"], json!([{"value": "u1"}]));
    }

    #[test]
    fn entra_capitalised_ops_and_string_booleans() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {"op": "Replace", "path": "active", "value": "False"}
            ]
        });
        let out = patched(alice(), body).unwrap();
        assert_eq!(
            out["emails"][0]["value"],
            json!("updatedEmail@microsoft.com")
        );
        assert_eq!(out["name"]["familyName"], json!("updatedFamilyName"));
        assert_eq!(out["name"]["givenName"], json!("Alice"));
        // Coerced to a boolean by the resource's validation, not here.
        assert_eq!(out["active"], json!("False"));
    }

    #[test]
    fn entra_group_members_add_and_remove_by_value() {
        let add = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u3"}]}]
        });
        let out = patched(group(), add).unwrap();
        assert_eq!(out["members"].as_array().unwrap().len(), 3);
        let remove = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]
        });
        let out = patched(group(), remove).unwrap();
        assert_eq!(out["members"], json!([{"value": "u2"}]));
        let rename = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]
        });
        let out = patched(group(), rename).unwrap();
        assert_eq!(
            out["displayName"],
            json!("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName")
        );
    }

    #[test]
    fn entra_enterprise_extension_and_new_work_email() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
                {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"}
            ]
        });
        let out = patched(alice(), body).unwrap();
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            json!("42")
        );
        assert_eq!(
            out["phoneNumbers"],
            json!([{"type": "work", "value": "+1 555 0100"}])
        );
    }

    #[test]
    fn enterprise_attributes_live_in_the_extension_object() {
        const EXT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let body = json!({"Operations": [
            {"op": "replace", "path": format!("{EXT}:employeeNumber"), "value": "7"},
            {"op": "add", "path": format!("{EXT}:manager"), "value": {"value": "u9"}},
            {"op": "replace", "value": {
                format!("{EXT}:department"): "R&D",
                EXT: {"costCenter": "42", "manager.displayName": "Bo"}
            }}
        ]});
        let out = patched(alice(), body).unwrap();
        assert_eq!(
            out[EXT],
            json!({"employeeNumber": "7", "manager": {"value": "u9", "displayName": "Bo"},
                   "department": "R&D", "costCenter": "42"})
        );
        assert_eq!(
            out.as_object().unwrap().len(),
            alice().as_object().unwrap().len() + 1
        );
        // Removing the extension removes its object; removing an attribute of one that is not
        // there is no error.
        let body = json!({"Operations": [
            {"op": "remove", "path": EXT.to_uppercase().replace("URN:", "urn:")},
            {"op": "remove", "path": format!("{EXT}:division")}
        ]});
        let out = patched(out, body).unwrap();
        assert_eq!(out, alice());
    }

    #[test]
    fn entra_multi_attribute_value_object_sets_sub_attributes() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "value": {
                "name.givenName": "Ally", "name.familyName": "Jones", "active": false
            }}]
        });
        let out = patched(alice(), body).unwrap();
        assert_eq!(
            out["name"],
            json!({"givenName": "Ally", "familyName": "Jones"})
        );
        assert_eq!(out["active"], json!(false));
        assert!(out.get("name.givenName").is_none());
    }

    #[test]
    fn remove_whole_attribute_and_case_insensitive_names() {
        let body = json!({"Operations": [{"op": "remove", "path": "MEMBERS"}]});
        let out = patched(group(), body).unwrap();
        assert!(out.get("members").is_none());
        let body = json!({"Operations": [{"op": "REPLACE", "path": "DisplayName", "value": "x"}]});
        assert_eq!(patched(group(), body).unwrap()["displayName"], json!("x"));
    }

    #[test]
    fn malformed_operations_are_refused() {
        for (body, scim_type) in [
            (json!([]), "invalidSyntax"),
            (json!({"Operations": []}), "invalidSyntax"),
            (
                json!({"Operations": [{"op": "move", "path": "x"}]}),
                "invalidSyntax",
            ),
            (json!({"Operations": [{"op": "remove"}]}), "noTarget"),
            (
                json!({"Operations": [{"op": "add", "path": "x"}]}),
                "invalidValue",
            ),
            (
                json!({"Operations": [{"op": "replace", "value": 3}]}),
                "invalidValue",
            ),
            (
                json!({"Operations": [{"op": "add", "path": "a b", "value": 1}]}),
                "invalidPath",
            ),
        ] {
            let err = parse(&body).unwrap_err();
            assert_eq!(err.scim_type, Some(scim_type), "{body}");
        }
        let body = json!({"Operations": [{"op": "replace", "path": "members[value eq \"zz\"]", "value": {"display": "x"}}]});
        assert_eq!(
            patched(group(), body).unwrap_err().scim_type,
            Some("noTarget")
        );
    }
}
