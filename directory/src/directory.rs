//! One tenant's directory in memory: its Users and Groups, the checks a write must pass
//! (uniqueness, members that are users), the writes a SCIM request turns into, and the
//! generated directory file the compiler reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::error::ScimError;
use crate::patch;
use crate::resource::{normalize_group, normalize_user, user_email, Kind, Resource};

/// What one SCIM request changes, committed as one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put(Resource),
    Delete(Kind, String),
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    users: BTreeMap<String, Resource>,
    groups: BTreeMap<String, Resource>,
}

/// The clock and the id source of one write, so that the directory itself is deterministic.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub now: String,
    pub new_id: String,
}

impl Directory {
    fn map(&self, kind: Kind) -> &BTreeMap<String, Resource> {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Resource> {
        self.map(kind).get(id)
    }

    /// The resources of a kind, by id.
    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.map(kind).values()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Applies committed writes.
    pub fn apply(&mut self, writes: &[Write]) {
        for write in writes {
            match write {
                Write::Put(r) => {
                    let map = match r.kind {
                        Kind::User => &mut self.users,
                        Kind::Group => &mut self.groups,
                    };
                    map.insert(r.id.clone(), r.clone());
                }
                Write::Delete(Kind::User, id) => {
                    self.users.remove(id);
                }
                Write::Delete(Kind::Group, id) => {
                    self.groups.remove(id);
                }
            }
        }
    }

    /// POST: the new resource is the first write.
    pub fn create(&self, kind: Kind, body: &Value, stamp: &Stamp) -> Result<Vec<Write>, ScimError> {
        let attrs = self.validate(kind, &stamp.new_id, body)?;
        Ok(vec![Write::Put(Resource {
            kind,
            id: stamp.new_id.clone(),
            attrs,
            created: stamp.now.clone(),
            modified: stamp.now.clone(),
            version: 1,
        })])
    }

    /// PUT.
    pub fn replace(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        stamp: &Stamp,
    ) -> Result<Vec<Write>, ScimError> {
        let current = self.current(kind, id, if_match)?;
        let attrs = self.validate(kind, id, body)?;
        Ok(vec![Write::Put(changed(current, attrs, stamp))])
    }

    /// PATCH: every operation applied to a copy, the result validated as a whole.
    pub fn patch(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        stamp: &Stamp,
    ) -> Result<Vec<Write>, ScimError> {
        let current = self.current(kind, id, if_match)?;
        let operations = patch::parse(body)?;
        let mut attrs = current.attrs.clone();
        for op in &operations {
            patch::apply(&mut attrs, op)?;
        }
        let attrs = self.validate(kind, id, &Value::Object(attrs))?;
        Ok(vec![Write::Put(changed(current, attrs, stamp))])
    }

    /// DELETE; a deleted user leaves every group it was in.
    pub fn delete(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        stamp: &Stamp,
    ) -> Result<Vec<Write>, ScimError> {
        self.current(kind, id, if_match)?;
        let mut writes = vec![Write::Delete(kind, id.to_owned())];
        if kind == Kind::User {
            for group in self.groups.values() {
                if group.member_ids().any(|m| m == id) {
                    let mut attrs = group.attrs.clone();
                    if let Some(Value::Array(members)) = attrs.get_mut("members") {
                        members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                    }
                    writes.push(Write::Put(changed(group, attrs, stamp)));
                }
            }
        }
        Ok(writes)
    }

    fn current(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<&Resource, ScimError> {
        let current = self
            .get(kind, id)
            .ok_or_else(|| ScimError::not_found(format!("no {} with id `{id}`", kind.name())))?;
        match if_match.map(str::trim) {
            None | Some("*") => Ok(current),
            Some(tags) => {
                let etag = current.etag();
                let strong = etag.trim_start_matches("W/");
                let matches = tags
                    .split(',')
                    .map(str::trim)
                    .any(|t| t == etag || t.trim_start_matches("W/") == strong);
                if matches {
                    Ok(current)
                } else {
                    Err(ScimError::precondition_failed())
                }
            }
        }
    }

    /// The attributes of `body` as resource `id` of `kind`, checked against the rest of the
    /// directory.
    fn validate(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
    ) -> Result<serde_json::Map<String, Value>, ScimError> {
        match kind {
            Kind::User => {
                let attrs = normalize_user(body)?;
                let email = user_email(&attrs)?;
                let user_name = attrs
                    .get("userName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_lowercase();
                for other in self.users.values().filter(|u| u.id != id) {
                    if other.user_name().to_lowercase() == user_name {
                        return Err(ScimError::uniqueness(format!(
                            "a user with userName {user_name:?} exists"
                        )));
                    }
                    if other.key() == email {
                        return Err(ScimError::uniqueness(format!(
                            "a user with email {email:?} exists"
                        )));
                    }
                }
                Ok(attrs)
            }
            Kind::Group => {
                let attrs = normalize_group(body)?;
                let team = attrs
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(crate::resource::team_name)
                    .transpose()?
                    .unwrap_or_default();
                if let Some(other) = self.groups.values().find(|g| g.id != id && g.key() == team) {
                    return Err(ScimError::uniqueness(format!(
                        "group {:?} has the same team name `{team}`",
                        other
                            .attrs
                            .get("displayName")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    )));
                }
                let members = attrs
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten();
                for member in members {
                    let member = member
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !self.users.contains_key(member) {
                        return Err(ScimError::invalid_value(format!(
                            "member `{member}` is not a user of this tenant"
                        )));
                    }
                }
                Ok(attrs)
            }
        }
    }

    /// The generated directory file: one user and one team a line, users by email, teams by
    /// name, members sorted; `"active": false` only for inactive users, `"role"` only when the
    /// identity provider sends one.
    pub fn render(&self, tenant: &str) -> String {
        let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
        let mut users: Vec<(String, &Resource)> =
            self.users.values().map(|u| (u.key(), u)).collect();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        let mut teams: Vec<(String, Vec<String>)> = self
            .groups
            .values()
            .map(|g| {
                let mut members: Vec<String> = g
                    .member_ids()
                    .filter_map(|m| self.users.get(m))
                    .map(Resource::key)
                    .collect();
                members.sort();
                members.dedup();
                (g.key(), members)
            })
            .collect();
        teams.sort();
        let mut out = String::new();
        let _ = writeln!(out, "{{");
        let _ = writeln!(
            out,
            "  \"directory\": {{\"tenant\": {}, \"note\": \"generated by gatehouse directory serve; edit in the identity provider\"}},",
            text(tenant)
        );
        let lines: Vec<String> = users
            .iter()
            .map(|(email, user)| {
                let mut line = format!("{{\"email\": {}", text(email));
                if !user.active() {
                    line.push_str(", \"active\": false");
                }
                if let Some(role) = user.role() {
                    let _ = write!(line, ", \"role\": {}", text(&role));
                }
                line.push('}');
                line
            })
            .collect();
        list(&mut out, "users", &lines, ",");
        let lines: Vec<String> = teams
            .iter()
            .map(|(name, members)| {
                let members: Vec<String> = members.iter().map(|m| text(m)).collect();
                format!(
                    "{{\"name\": {}, \"members\": [{}]}}",
                    text(name),
                    members.join(", ")
                )
            })
            .collect();
        list(&mut out, "teams", &lines, "");
        let _ = writeln!(out, "}}");
        out
    }
}

fn list(out: &mut String, name: &str, lines: &[String], after: &str) {
    if lines.is_empty() {
        let _ = writeln!(out, "  \"{name}\": []{after}");
        return;
    }
    let _ = writeln!(out, "  \"{name}\": [");
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        let comma = if i == last { "" } else { "," };
        let _ = writeln!(out, "    {line}{comma}");
    }
    let _ = writeln!(out, "  ]{after}");
}

fn changed(current: &Resource, attrs: serde_json::Map<String, Value>, stamp: &Stamp) -> Resource {
    Resource {
        kind: current.kind,
        id: current.id.clone(),
        attrs,
        created: current.created.clone(),
        modified: stamp.now.clone(),
        version: current.version.saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stamp(id: &str) -> Stamp {
        Stamp {
            now: "2026-12-06T00:00:00Z".into(),
            new_id: id.into(),
        }
    }

    fn run(dir: &mut Directory, writes: Result<Vec<Write>, ScimError>) -> Result<(), ScimError> {
        dir.apply(&writes?);
        Ok(())
    }

    fn acme() -> Directory {
        let mut dir = Directory::default();
        for (id, body) in [
            ("u1", json!({"userName": "Alice@acme.com"})),
            ("u2", json!({"userName": "bob@acme.com", "active": false})),
            (
                "u3",
                json!({"userName": "carol", "emails": [{"value": "carol@acme.com"}], "roles": [{"value": "tenant-admin"}]}),
            ),
        ] {
            let writes = dir.create(Kind::User, &body, &stamp(id));
            run(&mut dir, writes).unwrap();
        }
        let team =
            json!({"displayName": "ML Engineers", "members": [{"value": "u2"}, {"value": "u1"}]});
        let writes = dir.create(Kind::Group, &team, &stamp("g1"));
        run(&mut dir, writes).unwrap();
        dir
    }

    #[test]
    fn the_directory_file_format() {
        let dir = acme();
        let expected = r#"{
  "directory": {"tenant": "acme", "note": "generated by gatehouse directory serve; edit in the identity provider"},
  "users": [
    {"email": "alice@acme.com"},
    {"email": "bob@acme.com", "active": false},
    {"email": "carol@acme.com", "role": "tenant-admin"}
  ],
  "teams": [
    {"name": "ml-engineers", "members": ["alice@acme.com", "bob@acme.com"]}
  ]
}
"#;
        assert_eq!(dir.render("acme"), expected);
        let parsed: Value = serde_json::from_str(&dir.render("acme")).unwrap();
        assert_eq!(parsed["teams"][0]["members"][1], json!("bob@acme.com"));
        assert_eq!(
            Directory::default().render("a\"b"),
            "{\n  \"directory\": {\"tenant\": \"a\\\"b\", \"note\": \"generated by gatehouse directory serve; edit in the identity provider\"},\n  \"users\": [],\n  \"teams\": []\n}\n"
        );
    }

    #[test]
    fn uniqueness_of_user_names_emails_and_team_names() {
        let dir = acme();
        let err = dir
            .create(
                Kind::User,
                &json!({"userName": "ALICE@acme.com"}),
                &stamp("x"),
            )
            .unwrap_err();
        assert_eq!((err.status, err.scim_type), (409, Some("uniqueness")));
        let err = dir
            .create(
                Kind::User,
                &json!({"userName": "other", "emails": [{"value": "alice@acme.com"}]}),
                &stamp("x"),
            )
            .unwrap_err();
        assert_eq!(err.status, 409);
        let err = dir
            .create(
                Kind::Group,
                &json!({"displayName": "ml engineers!"}),
                &stamp("x"),
            )
            .unwrap_err();
        assert_eq!((err.status, err.scim_type), (409, Some("uniqueness")));
        // Replacing a resource with itself is no conflict.
        assert!(dir
            .replace(
                Kind::User,
                "u1",
                &json!({"userName": "alice@acme.com"}),
                None,
                &stamp("x")
            )
            .is_ok());
    }

    #[test]
    fn members_must_be_users_of_the_tenant() {
        let dir = acme();
        let err = dir
            .create(
                Kind::Group,
                &json!({"displayName": "x", "members": [{"value": "nope"}]}),
                &stamp("g"),
            )
            .unwrap_err();
        assert_eq!((err.status, err.scim_type), (400, Some("invalidValue")));
        let add = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "ghost"}]}]});
        assert_eq!(
            dir.patch(Kind::Group, "g1", &add, None, &stamp("x"))
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn deleting_a_user_removes_it_from_groups_in_the_same_write() {
        let mut dir = acme();
        let writes = dir.delete(Kind::User, "u1", None, &stamp("x")).unwrap();
        assert_eq!(writes.len(), 2);
        run(&mut dir, Ok(writes)).unwrap();
        let group = dir.get(Kind::Group, "g1").unwrap();
        assert_eq!(group.member_ids().collect::<Vec<_>>(), ["u2"]);
        assert_eq!(group.version, 2);
        assert!(dir
            .render("acme")
            .contains(r#"{"name": "ml-engineers", "members": ["bob@acme.com"]}"#));
    }

    #[test]
    fn deactivation_keeps_the_user_and_versions_count() {
        let mut dir = acme();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
        let writes = dir.patch(Kind::User, "u1", &body, Some("W/\"1\""), &stamp("x"));
        run(&mut dir, writes).unwrap();
        let user = dir.get(Kind::User, "u1").unwrap();
        assert!(!user.active());
        assert_eq!(user.etag(), "W/\"2\"");
        assert!(dir
            .render("acme")
            .contains(r#"{"email": "alice@acme.com", "active": false}"#));
        let err = dir
            .patch(Kind::User, "u1", &body, Some("W/\"1\""), &stamp("x"))
            .unwrap_err();
        assert_eq!(err.status, 412);
        assert_eq!(
            dir.delete(Kind::User, "zz", None, &stamp("x"))
                .unwrap_err()
                .status,
            404
        );
    }
}
