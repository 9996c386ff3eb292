//! One tenant's directory in memory: its Users and Groups, the checks a write must pass
//! (uniqueness, members that are users), the writes a SCIM request turns into, and the
//! generated directory file the compiler reads.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use crate::error::ScimError;
use crate::filter::Filter;
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
    /// What must be unique, each to the id holding it: users by email and by lowercased
    /// `userName`, groups by team name. Kept with every applied write, so that a write's
    /// checks and the directory file cost no scan of the tenant.
    emails: BTreeMap<String, UserLine>,
    /// Each user's email, by id: a team's members in the directory file.
    email_of: HashMap<String, String>,
    user_names: HashMap<String, String>,
    teams: BTreeMap<String, String>,
}

/// A user's id and its line of the directory file, rendered when the user is written: a
/// change renders one line, not the tenant.
#[derive(Debug, Clone)]
struct UserLine {
    id: String,
    text: String,
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

    /// The resources `filter` can match, as few as the indexes allow: the one user a
    /// `userName eq "x"` names (what identity providers ask before each create), the one
    /// resource an `id eq "x"` names, else every resource of the kind. The filter itself still
    /// decides.
    pub fn candidates<'a>(
        &'a self,
        kind: Kind,
        filter: Option<&Filter>,
    ) -> Box<dyn Iterator<Item = &'a Resource> + 'a> {
        let equality = filter.and_then(Filter::as_equality);
        match equality {
            Some((attr, Value::String(name)))
                if kind == Kind::User && attr.eq_ignore_ascii_case("userName") =>
            {
                let user = self
                    .user_names
                    .get(&name.to_lowercase())
                    .and_then(|id| self.users.get(id));
                Box::new(user.into_iter())
            }
            Some((attr, Value::String(id))) if attr.eq_ignore_ascii_case("id") => {
                Box::new(self.get(kind, id).into_iter())
            }
            _ => Box::new(self.list(kind)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Applies committed writes.
    pub fn apply(&mut self, writes: &[Write]) {
        for write in writes {
            match write {
                Write::Put(r) => {
                    self.unindex(r.kind, &r.id);
                    match r.kind {
                        Kind::User => {
                            let email = r.key();
                            let text = user_line(&email, r);
                            self.email_of.insert(r.id.clone(), email.clone());
                            self.emails.insert(
                                email,
                                UserLine {
                                    id: r.id.clone(),
                                    text,
                                },
                            );
                            self.user_names
                                .insert(r.user_name().to_lowercase(), r.id.clone());
                            self.users.insert(r.id.clone(), r.clone());
                        }
                        Kind::Group => {
                            self.teams.insert(r.key(), r.id.clone());
                            self.groups.insert(r.id.clone(), r.clone());
                        }
                    }
                }
                Write::Delete(kind, id) => {
                    self.unindex(*kind, id);
                    match kind {
                        Kind::User => self.users.remove(id),
                        Kind::Group => self.groups.remove(id),
                    };
                }
            }
        }
    }

    fn unindex(&mut self, kind: Kind, id: &str) {
        let Some(old) = self.get(kind, id) else {
            return;
        };
        let key = old.key();
        match kind {
            Kind::User => {
                let name = old.user_name().to_lowercase();
                self.email_of.remove(id);
                if self.emails.get(&key).is_some_and(|l| l.id == id) {
                    self.emails.remove(&key);
                }
                if self.user_names.get(&name).is_some_and(|i| i == id) {
                    self.user_names.remove(&name);
                }
            }
            Kind::Group => {
                if self.teams.get(&key).is_some_and(|i| i == id) {
                    self.teams.remove(&key);
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
                if self
                    .user_names
                    .get(&user_name)
                    .is_some_and(|other| other != id)
                {
                    return Err(ScimError::uniqueness(format!(
                        "a user with userName {user_name:?} exists"
                    )));
                }
                if self.emails.get(&email).is_some_and(|other| other.id != id) {
                    return Err(ScimError::uniqueness(format!(
                        "a user with email {email:?} exists"
                    )));
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
                let other = self
                    .teams
                    .get(&team)
                    .filter(|other| *other != id)
                    .and_then(|other| self.groups.get(other));
                if let Some(other) = other {
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
    /// name, members sorted; `"active": false` only for inactive users. A user's SCIM `roles`
    /// are kept but never written here: a role the tenant does not define would fail the compile
    /// of every tenant's bundle, and tenant-level roles are the reviewed tenant file's to give.
    pub fn render(&self, tenant: &str) -> String {
        // The indexes are sorted: users by email, teams by name.
        let mut out = String::with_capacity(128 + self.emails.len() * 40);
        let _ = writeln!(out, "{{");
        let _ = writeln!(
            out,
            "  \"directory\": {{\"tenant\": {}, \"note\": \"generated by gatehouse directory serve; edit in the identity provider\"}},",
            json_string(tenant)
        );
        let users: Vec<&str> = self.emails.values().map(|l| l.text.as_str()).collect();
        list(&mut out, "users", &users, ",");
        let teams: Vec<String> = self
            .teams
            .iter()
            .filter_map(|(name, id)| {
                let mut members: Vec<&String> = self
                    .groups
                    .get(id)?
                    .member_ids()
                    .filter_map(|m| self.email_of.get(m))
                    .collect();
                members.sort();
                members.dedup();
                let members: Vec<String> = members.iter().map(|m| json_string(m)).collect();
                Some(format!(
                    "{{\"name\": {}, \"members\": [{}]}}",
                    json_string(name),
                    members.join(", ")
                ))
            })
            .collect();
        let teams: Vec<&str> = teams.iter().map(String::as_str).collect();
        list(&mut out, "teams", &teams, "");
        let _ = writeln!(out, "}}");
        out
    }
}

/// A user's line of the directory file.
fn user_line(email: &str, user: &Resource) -> String {
    let mut line = format!("{{\"email\": {}", json_string(email));
    if !user.active() {
        line.push_str(", \"active\": false");
    }
    line.push('}');
    line
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

fn list(out: &mut String, name: &str, lines: &[&str], after: &str) {
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
    {"email": "carol@acme.com"}
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

    #[test]
    fn renames_and_deletes_free_their_names() {
        let mut dir = acme();
        let rename = json!({"Operations": [{"op": "replace", "path": "userName", "value": "alicia@acme.com"}]});
        let writes = dir.patch(Kind::User, "u1", &rename, None, &stamp("x"));
        run(&mut dir, writes).unwrap();
        assert!(dir.render("acme").contains(
            r#"{"name": "ml-engineers", "members": ["alicia@acme.com", "bob@acme.com"]}"#
        ));
        let writes = dir.create(
            Kind::User,
            &json!({"userName": "alice@acme.com"}),
            &stamp("u9"),
        );
        run(&mut dir, writes).unwrap();
        let taken = dir.create(
            Kind::User,
            &json!({"userName": "Alicia@acme.com"}),
            &stamp("u10"),
        );
        assert_eq!(taken.unwrap_err().status, 409);
        let writes = dir.delete(Kind::Group, "g1", None, &stamp("x"));
        run(&mut dir, writes).unwrap();
        let writes = dir.create(
            Kind::Group,
            &json!({"displayName": "ml-engineers"}),
            &stamp("g2"),
        );
        run(&mut dir, writes).unwrap();
        let writes = dir.delete(Kind::User, "u9", None, &stamp("x"));
        run(&mut dir, writes).unwrap();
        let writes = dir.create(
            Kind::User,
            &json!({"userName": "ALICE@acme.com"}),
            &stamp("u11"),
        );
        run(&mut dir, writes).unwrap();
    }

    #[test]
    fn indexed_lookups_agree_with_the_filter() {
        let dir = acme();
        for (text, expected) in [
            (r#"userName eq "ALICE@acme.com""#, vec!["u1"]),
            (r#"username eq "nobody@acme.com""#, vec![]),
            (r#"id eq "u2""#, vec!["u2"]),
            (r#"id eq "U2""#, vec![]),
            (r#"userName eq "bob@acme.com" and active eq true"#, vec![]),
            (
                r#"userName eq "bob@acme.com" or id eq "u1""#,
                vec!["u1", "u2"],
            ),
        ] {
            let filter = Filter::parse(text).unwrap();
            let found: Vec<&str> = dir
                .candidates(Kind::User, Some(&filter))
                .filter(|r| filter.matches(*r))
                .map(|r| r.id.as_str())
                .collect();
            let scanned: Vec<&str> = dir
                .list(Kind::User)
                .filter(|r| filter.matches(*r))
                .map(|r| r.id.as_str())
                .collect();
            assert_eq!(found, expected, "{text}");
            assert_eq!(found, scanned, "{text}");
        }
    }
}
