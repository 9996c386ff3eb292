//! The discovery endpoints (RFC 7644 4): what this service implements, said the way identity
//! providers read it before they provision.

use serde_json::{json, Value};

use crate::filter::{CORE_GROUP, CORE_USER};

pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The largest page a list answers (`count` above it is lowered to it).
pub const MAX_RESULTS: usize = 1000;

pub fn list_response(resources: Vec<Value>, total: usize, start: usize) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://example.invalid/gatehouse/docs/provisioning.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A secret from `gatehouse directory token`, sent as `Authorization: Bearer <secret>`",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A Gatehouse user: userName (or the primary email) is its email",
            "schema": CORE_USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A Gatehouse team, named from displayName",
            "schema": CORE_GROUP,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

fn attribute(name: &str, kind: &str, multi: bool, required: bool, description: &str) -> Value {
    let exact = matches!(name, "id" | "externalId" | "value");
    json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description,
        "required": required,
        "caseExact": exact,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": if name == "userName" || name == "displayName" { "server" } else { "none" },
    })
}

fn complex(name: &str, multi: bool, description: &str, subs: Vec<Value>) -> Value {
    let mut value = attribute(name, "complex", multi, false, description);
    if let Value::Object(map) = &mut value {
        map.insert("subAttributes".into(), Value::Array(subs));
    }
    value
}

/// A `reference` attribute (RFC 7643 2.3.7) to resources of `types`.
fn reference(name: &str, types: &[&str], description: &str) -> Value {
    let mut value = attribute(name, "reference", false, false, description);
    if let Value::Object(map) = &mut value {
        map.insert("referenceTypes".into(), json!(types));
        map.insert("caseExact".into(), Value::Bool(true));
    }
    value
}

fn canonical_values(mut attribute: Value, values: &[&str]) -> Value {
    if let Value::Object(map) = &mut attribute {
        map.insert("canonicalValues".into(), json!(values));
    }
    attribute
}

pub fn schemas(base: &str) -> Vec<Value> {
    let schema = |id: &str, name: &str, attributes: Vec<Value>| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id,
            "name": name,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
        })
    };
    let multi_sub = || {
        vec![
            attribute("value", "string", false, false, "the value"),
            attribute("type", "string", false, false, "work, home, other"),
            attribute("primary", "boolean", false, false, "the primary value"),
            attribute("display", "string", false, false, "a human-readable name"),
        ]
    };
    vec![
        schema(
            CORE_USER,
            "User",
            vec![
                attribute(
                    "userName",
                    "string",
                    false,
                    true,
                    "unique; the Gatehouse email when it is an email",
                ),
                attribute(
                    "externalId",
                    "string",
                    false,
                    false,
                    "the identity provider's id",
                ),
                complex(
                    "name",
                    false,
                    "the user's name",
                    vec![
                        attribute("formatted", "string", false, false, "full name"),
                        attribute("familyName", "string", false, false, "family name"),
                        attribute("givenName", "string", false, false, "given name"),
                    ],
                ),
                attribute("displayName", "string", false, false, "name to display"),
                attribute(
                    "active",
                    "boolean",
                    false,
                    false,
                    "false: denied everywhere (default true)",
                ),
                complex(
                    "emails",
                    true,
                    "the primary (else first) is the Gatehouse email when userName is not an email",
                    multi_sub(),
                ),
                complex(
                    "roles",
                    true,
                    "the primary (else first) value is the user's tenant-level role",
                    multi_sub(),
                ),
            ],
        ),
        schema(
            CORE_GROUP,
            "Group",
            vec![
                attribute(
                    "displayName",
                    "string",
                    false,
                    true,
                    "unique; the team name is derived from it",
                ),
                attribute(
                    "externalId",
                    "string",
                    false,
                    false,
                    "the identity provider's id",
                ),
                complex(
                    "members",
                    true,
                    "users of this tenant",
                    vec![
                        attribute("value", "string", false, false, "a User id"),
                        reference("$ref", &["User"], "the member's URI"),
                        canonical_values(
                            attribute("type", "string", false, false, "what the member is"),
                            &["User"],
                        ),
                        attribute("display", "string", false, false, "a human-readable name"),
                    ],
                ),
            ],
        ),
        schema(
            ENTERPRISE_USER,
            "EnterpriseUser",
            vec![
                attribute("employeeNumber", "string", false, false, "kept, not used"),
                attribute("costCenter", "string", false, false, "kept, not used"),
                attribute("organization", "string", false, false, "kept, not used"),
                attribute("division", "string", false, false, "kept, not used"),
                attribute("department", "string", false, false, "kept, not used"),
                complex(
                    "manager",
                    false,
                    "kept, not used",
                    vec![
                        attribute("value", "string", false, false, "the manager's User id"),
                        reference("$ref", &["User"], "the manager's URI"),
                        attribute("displayName", "string", false, false, "the manager's name"),
                    ],
                ),
            ],
        ),
    ]
}
