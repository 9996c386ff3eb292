//! Users and Groups as stored and served, and what each means to the policy: a User's email,
//! active flag and role; a Group's team name and members.

use serde_json::{json, Map, Value};

use crate::error::ScimError;
use crate::filter::{get_ci, key_ci, CORE_GROUP, CORE_USER};
use crate::patch::canonical;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    /// `meta.resourceType`, and the name stored in the database.
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The endpoint under a tenant (`Users`, `Groups`).
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    pub fn schema(self) -> &'static str {
        match self {
            Kind::User => CORE_USER,
            Kind::Group => CORE_GROUP,
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "User" => Some(Kind::User),
            "Group" => Some(Kind::Group),
            _ => None,
        }
    }
}

/// One User or Group. `attrs` are its attributes as the identity provider set them (validated,
/// names in the schema's spelling), without `id`, `meta` and `schemas`, which are the
/// service's.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub kind: Kind,
    pub id: String,
    pub attrs: Map<String, Value>,
    pub created: String,
    pub modified: String,
    /// Increases with every change: `meta.version` is `W/"<version>"`.
    pub version: u64,
}

impl Resource {
    /// What must be unique in a tenant: a user's email, a group's team name.
    pub fn key(&self) -> String {
        match self.kind {
            Kind::User => user_email(&self.attrs).unwrap_or_default(),
            Kind::Group => self.team().unwrap_or_default(),
        }
    }

    pub fn user_name(&self) -> &str {
        self.attrs
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A user's active flag (validated to a boolean on every write).
    pub fn active(&self) -> bool {
        self.attrs
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    /// A group's team name.
    pub fn team(&self) -> Option<String> {
        let display = self.attrs.get("displayName")?.as_str()?;
        team_name(display).ok()
    }

    /// A group's member user ids.
    pub fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.attrs
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str))
    }

    /// `W/"<version>"`.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    /// The resource as served; `base` is `http://host/scim/v2/<tenant>`.
    pub fn to_json(&self, base: &str) -> Value {
        let mut schemas = vec![Value::String(self.kind.schema().to_owned())];
        schemas.extend(
            self.attrs
                .iter()
                .filter(|(k, v)| k.starts_with("urn:") && v.is_object())
                .map(|(k, _)| Value::String(k.clone())),
        );
        let mut out = Map::new();
        out.insert("schemas".into(), Value::Array(schemas));
        out.insert("id".into(), Value::String(self.id.clone()));
        for (k, v) in &self.attrs {
            out.insert(k.clone(), v.clone());
        }
        if self.kind == Kind::Group {
            let members: Vec<Value> = self
                .attrs
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|m| {
                    let mut m = m.clone();
                    let id = m.get("value").and_then(Value::as_str).map(str::to_owned);
                    if let (Value::Object(o), Some(id)) = (&mut m, id) {
                        o.insert("$ref".into(), Value::String(format!("{base}/Users/{id}")));
                        o.insert("type".into(), Value::String("User".into()));
                    }
                    m
                })
                .collect();
            out.insert("members".into(), Value::Array(members));
        }
        out.insert(
            "meta".into(),
            json!({
                "resourceType": self.kind.name(),
                "created": self.created,
                "lastModified": self.modified,
                "location": format!("{base}/{}/{}", self.kind.endpoint(), self.id),
                "version": self.etag(),
            }),
        );
        Value::Object(out)
    }
}

/// Filters read a resource's own attributes and its id, without building its JSON.
impl crate::filter::Attributes for Resource {
    fn attribute(&self, name: &str) -> Option<&Value> {
        self.attrs.attribute(name)
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

/// `true`, or a string `"true"` in any case (Entra ID sends booleans as strings).
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Attributes no client writes: the service's own, the password (never stored: Gatehouse
/// does not log anyone in) and a user's groups (read-only; membership is set on the Group).
fn strip_read_only(attrs: &mut Map<String, Value>, kind: Kind) {
    let mut drop = vec!["id", "meta", "schemas", "password"];
    if kind == Kind::User {
        drop.push("groups");
    }
    for name in drop {
        while let Some(key) = key_ci(attrs, name) {
            attrs.remove(&key);
        }
    }
}

fn object(input: &Value, kind: Kind) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(input) = input else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} is a JSON object",
            kind.name()
        )));
    };
    let mut attrs: Map<String, Value> = input
        .iter()
        .map(|(k, v)| {
            (
                if k.starts_with("urn:") {
                    k.clone()
                } else {
                    canonical(k)
                },
                v.clone(),
            )
        })
        .collect();
    strip_read_only(&mut attrs, kind);
    // An extension whose last attribute was removed is no longer one the resource has.
    let empty_extension =
        |k: &String, v: &Value| k.starts_with("urn:") && v.as_object().is_some_and(Map::is_empty);
    attrs.retain(|k, v| !v.is_null() && !empty_extension(k, v));
    Ok(attrs)
}

/// A User's attributes, validated: `userName` present, `active` a boolean (default true; the
/// strings `"True"`/`"False"` accepted), an email derivable.
pub fn normalize_user(input: &Value) -> Result<Map<String, Value>, ScimError> {
    let mut attrs = object(input, Kind::User)?;
    let user_name = match attrs.get("userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => {
            return Err(ScimError::invalid_value(
                "`userName` is required (a string)",
            ))
        }
    };
    attrs.insert("userName".into(), Value::String(user_name));
    let active = match attrs.get("active") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(ScimError::invalid_value("`active` is a boolean")),
    };
    attrs.insert("active".into(), Value::Bool(active));
    if attrs.get("emails").is_some_and(|e| !e.is_array()) {
        return Err(ScimError::invalid_value("`emails` is an array"));
    }
    if attrs.get("roles").is_some_and(|e| !e.is_array()) {
        return Err(ScimError::invalid_value("`roles` is an array"));
    }
    user_email(&attrs)?;
    Ok(attrs)
}

/// A Group's attributes, validated: `displayName` giving a team name, `members` a list of
/// `{"value": "<user id>"}` without repeats. Whether the members are users is the directory's
/// question.
pub fn normalize_group(input: &Value) -> Result<Map<String, Value>, ScimError> {
    let mut attrs = object(input, Kind::Group)?;
    match attrs.get("displayName") {
        Some(Value::String(s)) => {
            team_name(s)?;
        }
        _ => {
            return Err(ScimError::invalid_value(
                "`displayName` is required (a string)",
            ))
        }
    }
    let mut members: Vec<Value> = Vec::new();
    match attrs.get("members") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let (value, display) = match item {
                    Value::String(s) => (s.clone(), None),
                    Value::Object(_) => (member_id(item)?, get_ci(item, "display").cloned()),
                    _ => return Err(ScimError::invalid_value("`members` holds objects")),
                };
                if members
                    .iter()
                    .any(|m| m.get("value").and_then(Value::as_str) == Some(&value))
                {
                    continue;
                }
                let mut member = Map::new();
                member.insert("value".into(), Value::String(value));
                if let Some(d @ Value::String(_)) = display {
                    member.insert("display".into(), d);
                }
                members.push(Value::Object(member));
            }
        }
        Some(_) => return Err(ScimError::invalid_value("`members` is an array")),
    }
    attrs.insert("members".into(), Value::Array(members));
    Ok(attrs)
}

/// A member's user id: its `value`, else the id at the end of its `$ref`
/// (`.../Users/<id>`). Its `type`, when sent, is `User`: groups do not nest.
fn member_id(member: &Value) -> Result<String, ScimError> {
    match get_ci(member, "type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("User") => {}
        Some(_) => {
            return Err(ScimError::invalid_value(
                "a member's `type` is `User`: groups do not nest",
            ))
        }
    }
    let from_ref = || {
        get_ci(member, "$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.trim_end_matches('/').rsplit_once("/Users/"))
            .map(|(_, id)| id.to_owned())
            .filter(|id| !id.is_empty() && !id.contains('/'))
    };
    match get_ci(member, "value") {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => from_ref().ok_or_else(|| {
            ScimError::invalid_value("each member has a `value` (a user id) or a `$ref`")
        }),
        Some(_) => Err(ScimError::invalid_value(
            "each member has a `value` (a user id)",
        )),
    }
}

/// The Gatehouse email of a user: `userName` lowercased when it is an email, else its primary
/// (or first) `emails` value.
pub fn user_email(attrs: &Map<String, Value>) -> Result<String, ScimError> {
    let user_name = attrs
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    if is_email(&user_name) {
        return Ok(user_name);
    }
    let emails = attrs
        .get("emails")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| get_ci(e, "primary").is_some_and(truthy))
        .or_else(|| emails.first())
        .and_then(|e| get_ci(e, "value"))
        .and_then(Value::as_str)
        .map(|e| e.trim().to_lowercase());
    match email {
        Some(email) if is_email(&email) => Ok(email),
        _ => Err(ScimError::invalid_value(
            "`userName` is not an email and the user has no email in `emails`",
        )),
    }
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// A group's team name: ASCII-lowercased, each run of characters outside `[a-z0-9._-]` one
/// `-`, without leading or trailing `-`.
pub fn team_name(display_name: &str) -> Result<String, ScimError> {
    let mut name = String::with_capacity(display_name.len());
    let mut in_run = false;
    for c in display_name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
            name.push(c);
            in_run = false;
        } else if !in_run {
            name.push('-');
            in_run = true;
        }
    }
    let name = name.trim_matches('-');
    if name.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "`displayName` {display_name:?} gives no team name (it needs a letter, digit, `.` or `_`)"
        )));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names() {
        assert_eq!(team_name("ML Engineers").unwrap(), "ml-engineers");
        assert_eq!(
            team_name("  Sales & Marketing (EMEA) ").unwrap(),
            "sales-marketing-emea"
        );
        assert_eq!(team_name("ops.oncall_2").unwrap(), "ops.oncall_2");
        assert_eq!(team_name("Équipe Über").unwrap(), "quipe-ber");
        assert_eq!(team_name("a - b").unwrap(), "a---b");
        assert_eq!(team_name("--x--").unwrap(), "x");
        for empty in ["", "   ", "---", "日本"] {
            assert_eq!(
                team_name(empty).unwrap_err().scim_type,
                Some("invalidValue")
            );
        }
    }

    #[test]
    fn okta_create_user_body() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Test.User@Okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        });
        let attrs = normalize_user(&body).unwrap();
        assert_eq!(user_email(&attrs).unwrap(), "test.user@okta.local");
        assert!(
            attrs.get("password").is_none(),
            "a password is never stored"
        );
        assert!(attrs.get("groups").is_none());
        assert!(attrs.get("schemas").is_none());
        assert_eq!(attrs["active"], json!(true));
    }

    #[test]
    fn entra_create_user_body_takes_the_email_from_emails() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": "False",
            "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        });
        let attrs = normalize_user(&body).unwrap();
        assert_eq!(
            user_email(&attrs).unwrap(),
            "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
        );
        assert_eq!(attrs["active"], json!(false));
        assert!(attrs.get("meta").is_none());
    }

    #[test]
    fn users_without_an_email_or_name_are_refused() {
        for body in [
            json!({"userName": "nobody"}),
            json!({"userName": "nobody", "emails": [{"value": "not-an-email"}]}),
            json!({"emails": [{"value": "a@b.c"}]}),
            json!({"userName": ""}),
            json!({"userName": 3}),
            json!({"userName": "a@b.c", "active": "maybe"}),
            json!({"userName": "a@b.c", "emails": "a@b.c"}),
        ] {
            assert_eq!(
                normalize_user(&body).unwrap_err().scim_type,
                Some("invalidValue"),
                "{body}"
            );
        }
        assert_eq!(
            normalize_user(&json!([1])).unwrap_err().scim_type,
            Some("invalidSyntax")
        );
    }

    #[test]
    fn primary_email() {
        let attrs = normalize_user(&json!({
            "userName": "jdoe",
            "emails": [{"value": "j@home.example"}, {"value": "J.Doe@Acme.com", "primary": "True"}],
            "roles": [{"value": "viewer"}, {"value": "tenant-admin", "primary": true}]
        }))
        .unwrap();
        assert_eq!(user_email(&attrs).unwrap(), "j.doe@acme.com");
    }

    #[test]
    fn groups_members_are_deduplicated_and_checked() {
        let attrs = normalize_group(&json!({
            "displayName": "Test SCIMv2",
            "members": [{"value": "u1", "display": "a@b.c"}, {"value": "u1"}, {"value": "u2", "$ref": "x"}]
        }))
        .unwrap();
        assert_eq!(
            attrs["members"],
            json!([{"value": "u1", "display": "a@b.c"}, {"value": "u2"}])
        );
        assert!(
            normalize_group(&json!({"displayName": "x", "members": [{"display": "a"}]})).is_err()
        );
        assert!(normalize_group(&json!({"members": []})).is_err());
        assert!(normalize_group(&json!({"displayName": "!!!"})).is_err());
    }
}
