//! JSON Schemas of the tenant file and the gateway file (`gatehouse schema tenant|gateway`),
//! derived from the serde types of [`crate::source`] that the compiler reads, so the two cannot
//! drift apart: a field added there is in the schema, with its doc comment as `description`.
//!
//! The two types whose `Deserialize` is written by hand, [`ResourceSpec`] and [`Entries`], have
//! their schema written by hand here, next to nothing else. What a schema cannot say is said in
//! its `description`s and in the README's "Editor support" section:
//!
//! - which children keys a resource may have depends on its type, and so on the tenant's own
//!   `resource_types:`: the schema takes any other key whose value is a list of resources, and
//!   the compiler reports a key its type does not have;
//! - rules across fields (exactly one of `jwks_file` and `jwks`, of `header`, `query` and
//!   `cookie`; `children_key` with `parent`; names that must exist) are the compiler's;
//! - the compiler's YAML reader types a scalar by what the field asks for, so it also takes an
//!   unquoted number or boolean where text is asked for (`name: 2026`), a quoted number where a
//!   number is asked for, and an empty value (`users:`) as an empty list. The schema asks for
//!   each value as YAML types it (`name: "2026"`), and for a list to be written as one.

use std::borrow::Cow;

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::RecursiveTransform;
use schemars::{json_schema, JsonSchema, Schema};
use serde_json::Value;

use super::{
    CollaboratorSpec, CredentialsFile, DirectoryFile, Entries, GatewayFile, ResourceSpec,
    TenantFile,
};

/// The JSON Schema (draft 2020-12) of a tenant file, keys sorted.
pub fn tenant() -> Value {
    generate::<TenantFile>("Gatehouse tenant file")
}

/// The JSON Schema (draft 2020-12) of a directory file, keys sorted.
pub fn directory() -> Value {
    generate::<DirectoryFile>("Gatehouse directory file")
}

/// The JSON Schema (draft 2020-12) of a credentials file, keys sorted.
pub fn credentials() -> Value {
    generate::<CredentialsFile>("Gatehouse credentials file")
}

/// The JSON Schema (draft 2020-12) of a gateway file, keys sorted.
pub fn gateway() -> Value {
    generate::<GatewayFile>("Gatehouse gateway file")
}

/// `value` with the keys of every object in sorted order, whatever map `serde_json` was built
/// with (a workspace build that enables `preserve_order` must print the same schema).
pub fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, canonical(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

fn generate<T: JsonSchema>(title: &str) -> Value {
    let settings = SchemaSettings::draft2020_12().with_transform(RecursiveTransform(without_null));
    let mut schema = settings.into_generator().into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    canonical(schema.to_value())
}

/// Removes `null` from what an optional field accepts. The compiler's YAML reader has no null:
/// `key: null` and `key:` are the text `null` and the empty text, never an absent field, so an
/// optional field is left out rather than set to null.
fn without_null(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    let is_null = |s: &Value| s.get("type").is_some_and(|t| t == "null");
    // `anyOf: [S, {"type": "null"}]` becomes S, merged into this schema (its description).
    if let Some(Value::Array(any_of)) = object.get("anyOf") {
        if any_of.iter().any(is_null) {
            let rest: Vec<Value> = any_of.iter().filter(|s| !is_null(s)).cloned().collect();
            match rest.as_slice() {
                [Value::Object(only)] if only.keys().all(|k| !object.contains_key(k)) => {
                    let only = only.clone();
                    object.remove("anyOf");
                    object.extend(only);
                }
                _ => {
                    object.insert("anyOf".into(), Value::Array(rest));
                }
            }
        }
    }
}

/// The schema of `resources:` at the top level: resources that name their `type`.
pub(super) fn top_level_resources(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "allOf": [generator.subschema_for::<ResourceSpec>(), {"required": ["type"]}]
        }
    })
}

/// What [`ResourceSpec`]'s hand-written `Deserialize` takes: the fixed fields, and any other key
/// as a children key holding a list of resources.
impl JsonSchema for ResourceSpec {
    fn schema_name() -> Cow<'static, str> {
        "ResourceSpec".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::ResourceSpec").into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let resource = generator.subschema_for::<ResourceSpec>();
        let collaborator = generator.subschema_for::<CollaboratorSpec>();
        json_schema!({
            "description": "A resource: top-level under `resources:` (with its `type`), or \
                listed under a children key of its parent (`type` optional, and when given it must \
                be the key's type). Every key besides the fixed fields is a children key \
                (`models`, `tools`, `workspaces`, `applications`, `prompts`, or an extension \
                type's `children_key`) holding a list of resources. Which children keys a \
                resource may have depends on its type and on the tenant's `resource_types`, \
                which this schema cannot express: the compiler reports a key the type does not \
                have.",
            "type": "object",
            "properties": {
                "name": {
                    "description": "Non-empty, without `/` or whitespace. The resource is \
                        `<type>:<path>`, its path being its ancestors' names and its own joined \
                        by `/`.",
                    "type": "string"
                },
                "type": {
                    "description": "The resource type (SPEC 2.2 or `resource_types:`).",
                    "type": "string"
                },
                "enabled": {
                    "description": "`false`: denied to everyone, tenant admins included.",
                    "type": "boolean"
                },
                "authorized_subjects": {
                    "description": "Narrows access to these subjects (`user:<email>`, \
                        `team:<name>`, `virtualaccount:<name>`).",
                    "type": "array",
                    "items": {"type": "string"}
                },
                "collaborators": {
                    "description": "Subjects given a collaborator role on this resource.",
                    "type": "array",
                    "items": collaborator
                }
            },
            "required": ["name"],
            "additionalProperties": {
                "description": "A children key: a list of child resources.",
                "type": "array",
                "items": resource
            }
        })
    }
}

/// What [`Entries`]' hand-written `Deserialize` takes: a mapping of text keys to `V`.
impl<K, V: JsonSchema> JsonSchema for Entries<K, V> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Entries_of_{}", V::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<V>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nulls(value: &Value) -> usize {
        match value {
            Value::Null => 1,
            Value::String(s) if s == "null" => 1,
            Value::Array(items) => items.iter().map(nulls).sum(),
            Value::Object(map) => map.values().map(nulls).sum(),
            _ => 0,
        }
    }

    #[test]
    fn no_field_takes_null() {
        assert_eq!(nulls(&tenant()), 0);
        assert_eq!(nulls(&gateway()), 0);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let schema = tenant();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["$defs"]["TenantSection"]["additionalProperties"],
            false
        );
        assert_eq!(
            gateway()["$defs"]["RouteSpec"]["additionalProperties"],
            false
        );
    }

    #[test]
    fn enum_values_are_the_ones_serde_reads() {
        let schema = gateway();
        let modes: Vec<&Value> = schema["$defs"]["ModeSpec"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["const"])
            .collect();
        assert_eq!(modes, ["enforce", "dry-run"]);
    }

    #[test]
    fn keys_are_sorted() {
        let schema = tenant();
        let keys: Vec<&String> = schema.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}
