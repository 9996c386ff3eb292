//! `gatehouse diff`: every (principal, resource, action) whose decision differs between two
//! bundles, grouped by the source changes that cause it.
//!
//! Both bundles' entities are matched by name (emails, team and account names, resource keys,
//! role and action names), then the changes between them are found: on principals (added,
//! removed, role, active, team membership, expiry; a team's tenant roles and a tenant role's
//! permissions reach every holder) and on resources (added, removed, enabled, authorized
//! subjects, parent, grants; a collaborator role's or a type's actions reach every resource
//! concerned). A decision depends on nothing else, so every changed triple has its principal
//! among the changed principals or its resource under a changed resource. Those are then
//! compared exactly, with the engine's own answers on each side: [`Analysis::what_can`] for each
//! changed principal, [`Analysis::who_can`] for each (changed resource, action).

use std::collections::{BTreeMap, BTreeSet};

use super::Analysis;
use crate::decide::{Engine, GrantRef, Principal};
use crate::escape::Phrase;
use crate::model::{ResourceId, RoleKind, Subject, TeamId, UserId, VirtualAccountId};
use crate::reason::Reason;

/// A principal (by name) as it is on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Both<T> {
    pub old: Option<T>,
    pub new: Option<T>,
}

/// What one side decides for a triple.
pub type Side = Result<Option<GrantRef>, Reason>;

/// One (principal, resource, action) whose decision differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<'a> {
    pub principal: &'a Both<Principal>,
    pub resource: &'a Both<ResourceId>,
    pub action: &'a str,
    pub before: Side,
    pub after: Side,
}

/// A row as kept: indexes into the tenant's union tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    principal: u32,
    resource: u32,
    action: u32,
}

/// The changes of one tenant that share the same causes.
#[derive(Debug, Clone)]
pub struct DiffGroup {
    /// The source changes, each a short sentence, sorted.
    pub causes: Vec<Phrase>,
    rows: Vec<(Row, Side, Side)>,
}

/// The differences of one tenant present in either bundle.
#[derive(Debug)]
pub struct TenantDiff<'e> {
    pub tenant: String,
    old: Option<Analysis<'e>>,
    new: Option<Analysis<'e>>,
    principals: Vec<Both<Principal>>,
    resources: Vec<Both<ResourceId>>,
    actions: Vec<&'e str>,
    pub groups: Vec<DiffGroup>,
    /// Changes that matter to token requests only (issuer, keys, audiences, identity
    /// providers and their mappings, revoked token ids, `tokens_valid_after`, hosts): listed,
    /// not counted, since `--as` triples do not read them.
    pub notes: Vec<Phrase>,
}

/// Every difference between two bundles.
#[derive(Debug)]
pub struct Diff<'e> {
    pub tenants: Vec<TenantDiff<'e>>,
    /// Changes to the gateway file (routes, token sources, mode): they change which requests
    /// reach which (resource, action), not the triples compared, so they are listed, not
    /// counted.
    pub notes: Vec<Phrase>,
}

impl<'e> Diff<'e> {
    /// Compares two bundles at `now` (which matters for virtual-account expiry).
    pub fn new(old: &'e Engine, new: &'e Engine, now: i64) -> Diff<'e> {
        let names: BTreeSet<&str> = old
            .bundle()
            .tenants()
            .iter()
            .chain(new.bundle().tenants())
            .map(|t| t.config.name.as_str())
            .collect();
        let tenants = names
            .into_iter()
            .map(|name| {
                let o = old.analysis(Some(name)).ok();
                let n = new.analysis(Some(name)).ok();
                TenantDiff::new(name, o, n, now)
            })
            .collect();
        Diff {
            tenants,
            notes: gateway_notes(old.bundle().gateway(), new.bundle().gateway()),
        }
    }

    /// The number of changed triples.
    pub fn count(&self) -> usize {
        self.tenants.iter().map(TenantDiff::count).sum()
    }
}

impl DiffGroup {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Changes that gain access (deny before, allow after).
    pub fn gained(&self) -> usize {
        self.rows
            .iter()
            .filter(|(_, _, after)| allows(after))
            .count()
    }
}

impl<'e> TenantDiff<'e> {
    pub fn count(&self) -> usize {
        self.groups.iter().map(DiffGroup::len).sum()
    }

    /// The rows of a group, with names.
    pub fn changes<'a>(&'a self, group: &'a DiffGroup) -> impl Iterator<Item = Change<'a>> + 'a {
        group.rows.iter().filter_map(move |(row, before, after)| {
            Some(Change {
                principal: self.principals.get(row.principal as usize)?,
                resource: self.resources.get(row.resource as usize)?,
                action: self.actions.get(row.action as usize)?,
                before: *before,
                after: *after,
            })
        })
    }

    /// How many distinct principals and resources a group touches.
    pub fn extent(&self, group: &DiffGroup) -> (usize, usize) {
        let p: BTreeSet<u32> = group.rows.iter().map(|(r, _, _)| r.principal).collect();
        let r: BTreeSet<u32> = group.rows.iter().map(|(r, _, _)| r.resource).collect();
        (p.len(), r.len())
    }

    /// `user:<email>` or `virtualaccount:<name>`.
    pub fn principal_name(&self, p: &Both<Principal>) -> String {
        side_name(&self.old, &self.new, p, |a, x| a.principal_name(x))
    }

    /// `type:path`.
    pub fn resource_key(&self, r: &Both<ResourceId>) -> String {
        side_name(&self.old, &self.new, r, |a, x| a.resource_key(x))
    }

    /// A side's decision, as `allow` with the grant, or the reason.
    pub fn describe(&self, side: &Side, new: bool) -> (bool, Option<String>) {
        let analysis = if new { &self.new } else { &self.old };
        match side {
            Ok(Some(grant)) => (true, analysis.as_ref().map(|a| a.grant_text(grant))),
            Ok(None) => (true, None),
            Err(reason) => (false, Some(reason.code().to_owned())),
        }
    }

    fn new(name: &str, old: Option<Analysis<'e>>, new: Option<Analysis<'e>>, now: i64) -> Self {
        let principals = union_principals(old.as_ref(), new.as_ref());
        let (ko, kn) = (keys(old.as_ref()), keys(new.as_ref()));
        let resources = union_by(
            ko.len(),
            kn.len(),
            |i| ko.get(i).map(|s| s.as_bytes()),
            |i| kn.get(i).map(|s| s.as_bytes()),
            |i| ResourceId(i as u32),
        );
        let mut actions: Vec<&'e str> = Vec::new();
        for a in [old.as_ref(), new.as_ref()].into_iter().flatten() {
            for name in &a.tenant.config.actions {
                if !actions.contains(&name.as_str()) {
                    actions.push(name.as_str());
                }
            }
        }
        let mut diff = TenantDiff {
            tenant: name.to_owned(),
            old,
            new,
            principals,
            resources,
            actions,
            groups: Vec::new(),
            notes: Vec::new(),
        };
        if let (Some(o), Some(n)) = (diff.old.as_ref(), diff.new.as_ref()) {
            diff.notes = token_notes(o, n);
        }
        let causes = diff.causes();
        diff.compare(&causes, now);
        diff
    }

    /// The source changes, by union principal and by union resource (roots, before subtrees).
    fn causes(&self) -> Causes {
        let mut c = Causes::default();
        let (old, new) = (self.old.as_ref(), self.new.as_ref());
        let (Some(o), Some(n)) = (old, new) else {
            let what = if old.is_none() { "added" } else { "removed" };
            for i in 0..self.principals.len() {
                c.principal(
                    i,
                    Phrase::new()
                        .word("tenant ")
                        .name(&self.tenant)
                        .word(&format!(" {what}")),
                );
            }
            return c;
        };

        // Principals.
        for (i, p) in self.principals.iter().enumerate() {
            let name = self.principal_name(p);
            match (p.old, p.new) {
                (None, Some(_)) => c.principal(i, Phrase::new().name(&name).word(" added")),
                (Some(_), None) => c.principal(i, Phrase::new().name(&name).word(" removed")),
                (Some(Principal::User(a)), Some(Principal::User(b))) => {
                    for cause in user_changes(o, n, a, b, &name) {
                        c.principal(i, cause);
                    }
                }
                (Some(Principal::VirtualAccount(a)), Some(Principal::VirtualAccount(b))) => {
                    let ea = o
                        .tables
                        .virtual_accounts
                        .get(a.index())
                        .and_then(|v| v.expires());
                    let eb = n
                        .tables
                        .virtual_accounts
                        .get(b.index())
                        .and_then(|v| v.expires());
                    if ea != eb {
                        let expires = format!(" expires {} -> {}", time(ea), time(eb));
                        c.principal(i, Phrase::new().name(&name).word(&expires));
                    }
                }
                _ => {}
            }
        }
        // A team's tenant roles reach its members on both sides.
        let teams = union_by(
            o.tables.teams.len(),
            n.tables.teams.len(),
            |i| o.tables.teams.get(i).map(|t| o.tables.bytes(t.name)),
            |i| n.tables.teams.get(i).map(|t| n.tables.bytes(t.name)),
            |i| TeamId(i as u32),
        );
        for team in &teams {
            let (Some(a), Some(b)) = (team.old, team.new) else {
                continue; // joining or leaving it is a change of each member
            };
            let ra = role_names(o, o.tables.roles_of(a));
            let rb = role_names(n, n.tables.roles_of(b));
            if ra != rb {
                let name = o
                    .tables
                    .teams
                    .get(a.index())
                    .map_or("?", |t| o.tables.str(t.name));
                let cause = Phrase::new()
                    .name(&format!("team:{name}"))
                    .word(" tenant roles ")
                    .list(&ra)
                    .word(" -> ")
                    .list(&rb);
                self.members_cause(&mut c, o, n, Subject::Team(a), Subject::Team(b), &cause);
            }
        }
        // Roles whose meaning changed reach their holders (tenant roles) or the resources they
        // are granted on (collaborator roles).
        for (ri, role) in o.tenant.config.roles.iter().enumerate() {
            let Some(rj) = n
                .tenant
                .config
                .roles
                .iter()
                .position(|r| r.name == role.name)
            else {
                continue;
            };
            let (ka, kb) = (
                role_meaning(o, &role.kind),
                n.tenant
                    .config
                    .roles
                    .get(rj)
                    .map(|r| role_meaning(n, &r.kind)),
            );
            if Some(&ka) == kb.as_ref() {
                continue;
            }
            let cause = Phrase::new()
                .word("role ")
                .name(&role.name)
                .word(" ")
                .list(&ka)
                .word(" -> ")
                .list(&kb.unwrap_or_default());
            for (i, p) in self.principals.iter().enumerate() {
                let holds = |a: &Analysis<'_>, p: Option<Principal>, r: usize| {
                    let Some(Principal::User(u)) = p else {
                        return false;
                    };
                    let roles = a.tables.users.get(u.index()).map(|x| x.role().index());
                    roles == Some(r)
                        || a.tables
                            .teams_of(u)
                            .any(|t| a.tables.roles_of(t).any(|x| x.index() == r))
                };
                if holds(o, p.old, ri) || holds(n, p.new, rj) {
                    c.principal(i, cause.clone());
                }
            }
            for (i, r) in self.resources.iter().enumerate() {
                let granted = |a: &Analysis<'_>, r: Option<ResourceId>, role: usize| {
                    r.is_some_and(|r| a.tables.grants_of(r).iter().any(|(_, x)| x.index() == role))
                };
                if granted(o, r.old, ri) || granted(n, r.new, rj) {
                    c.resource(i, cause.clone());
                }
            }
        }
        // A type whose actions changed reaches its resources.
        for ty in &o.tenant.config.resource_types {
            let Some(other) = n
                .tenant
                .config
                .resource_types
                .iter()
                .find(|t| t.name == ty.name)
            else {
                continue;
            };
            let (aa, ab) = (action_names(o, ty.actions), action_names(n, other.actions));
            if aa != ab {
                let cause = Phrase::new()
                    .word("type ")
                    .name(&ty.name)
                    .word(" actions ")
                    .list(&aa)
                    .word(" -> ")
                    .list(&ab);
                for (i, r) in self.resources.iter().enumerate() {
                    let of_type = |a: &Analysis<'_>, r: Option<ResourceId>| {
                        r.and_then(|r| a.tables.resources.get(r.index()))
                            .and_then(|r| a.tables.type_of(r))
                            .is_some_and(|(_, t)| t.name == ty.name)
                    };
                    if of_type(o, r.old) || of_type(n, r.new) {
                        c.resource(i, cause.clone());
                    }
                }
            }
        }

        // Resources.
        let same_numbers = same_subjects(o, n, &self.principals, &teams);
        for (i, r) in self.resources.iter().enumerate() {
            let key = self.resource_key(r);
            let (a, b) = match (r.old, r.new) {
                (None, _) => {
                    c.resource(i, Phrase::new().name(&key).word(" added"));
                    continue;
                }
                (_, None) => {
                    c.resource(i, Phrase::new().name(&key).word(" removed"));
                    continue;
                }
                (Some(a), Some(b)) => (a, b),
            };
            let (Some(ra), Some(rb)) = (
                o.tables.resources.get(a.index()),
                n.tables.resources.get(b.index()),
            ) else {
                continue;
            };
            if ra.is_disabled() != rb.is_disabled() {
                let what = if rb.is_disabled() {
                    "disabled"
                } else {
                    "enabled"
                };
                c.resource(i, Phrase::new().name(&key).word(" ").word(what));
            }
            let authorized = |x: &Analysis<'_>, id: ResourceId, restricted: bool| {
                restricted.then(|| {
                    let mut names: Vec<String> = x
                        .tables
                        .authorized_of(id)
                        .iter()
                        .map(|s| x.subject_name(crate::bundle::SubjectCode::from_wire(*s)))
                        .collect();
                    names.sort();
                    names
                })
            };
            let (aa, ab) = (
                authorized(o, a, ra.is_restricted()),
                authorized(n, b, rb.is_restricted()),
            );
            if aa != ab {
                let show = |p: Phrase, x: Option<Vec<String>>| match x {
                    None => p.word("anyone"),
                    Some(v) => p.list(&v),
                };
                let cause = Phrase::new().name(&key).word(" authorized_subjects ");
                let cause = show(cause, aa).word(" -> ");
                c.resource(i, show(cause, ab));
            }
            let parent = |x: &Analysis<'_>, p: Option<ResourceId>| p.map(|p| x.resource_key(p));
            if parent(o, ra.parent()) != parent(n, rb.parent()) {
                c.resource(i, Phrase::new().name(&key).word(" moved"));
            }
            let (ga, gb) = (o.tables.grants_of(a), n.tables.grants_of(b));
            if same_numbers && ga.iter().eq(gb.iter()) {
                continue;
            }
            let grants = |x: &Analysis<'_>, g: crate::bundle::Grants<'_>| {
                let numbers = x.tables.subject_numbers();
                g.iter()
                    .map(|(s, role)| {
                        let subject = numbers
                            .subject(s)
                            .map_or_else(|| "?".to_owned(), |s| x.subject_name(s.into()));
                        let role = x
                            .tenant
                            .config
                            .roles
                            .get(role.index())
                            .map_or("?", |r| r.name.as_str());
                        (subject, role.to_owned())
                    })
                    .collect::<BTreeSet<(String, String)>>()
            };
            let (ga, gb) = (grants(o, ga), grants(n, gb));
            for (what, list) in [
                ("added", gb.difference(&ga)),
                ("removed", ga.difference(&gb)),
            ] {
                for grant in list {
                    let cause = Phrase::new()
                        .word(&format!("grant {what}: "))
                        .name(&grant.0)
                        .word(" ")
                        .name(&grant.1)
                        .word(" on ")
                        .name(&key);
                    c.grant_subjects.insert(cause.clone(), grant.0.clone());
                    c.resource(i, cause);
                }
            }
        }
        c
    }

    /// Gives `cause` to every principal that is a member of the subject on either side.
    fn members_cause(
        &self,
        c: &mut Causes,
        o: &Analysis<'_>,
        n: &Analysis<'_>,
        old: Subject,
        new: Subject,
        cause: &Phrase,
    ) {
        let (Subject::Team(a), Subject::Team(b)) = (old, new) else {
            return;
        };
        let members: BTreeSet<(bool, UserId)> = o
            .members_of(a)
            .iter()
            .map(|u| (false, *u))
            .chain(n.members_of(b).iter().map(|u| (true, *u)))
            .collect();
        for (i, p) in self.principals.iter().enumerate() {
            let member = |side: bool, x: Option<Principal>| matches!(x, Some(Principal::User(u)) if members.contains(&(side, u)));
            if member(false, p.old) || member(true, p.new) {
                c.principal(i, cause.clone());
            }
        }
    }

    /// Compares every changed principal over all its access, and every (changed resource,
    /// action) over all principals not already compared.
    fn compare(&mut self, causes: &Causes, now: i64) {
        let mut groups: BTreeMap<Vec<Phrase>, Vec<(Row, Side, Side)>> = BTreeMap::new();
        let (old, new) = (self.old.as_ref(), self.new.as_ref());
        let maps = Maps::new(&self.principals, &self.resources, &self.actions, old, new);

        // Resource causes reach their subtrees (on either side).
        let mut reached: BTreeMap<u32, BTreeSet<Phrase>> = BTreeMap::new();
        for (&root, list) in &causes.resources {
            let Some(r) = self.resources.get(root as usize) else {
                continue;
            };
            let mut under = BTreeSet::new();
            for (side, id, map) in [
                (old, r.old, &maps.old_resource),
                (new, r.new, &maps.new_resource),
            ] {
                let (Some(a), Some(id)) = (side, id) else {
                    continue;
                };
                let mut flags = vec![false; a.tables.resources.len()];
                a.subtree(id, &mut flags);
                for (i, f) in flags.iter().enumerate() {
                    if let (true, Some(u)) = (*f, map.get(i)) {
                        under.insert(*u);
                    }
                }
            }
            for u in under {
                reached.entry(u).or_default().extend(list.iter().cloned());
            }
        }

        // Changed principals, over everything they can do on either side.
        for (&p, list) in &causes.principals {
            let Some(both) = self.principals.get(p as usize) else {
                continue;
            };
            let before = access(old, both.old, &maps.old_resource, &maps.old_action, now);
            let after = access(new, both.new, &maps.new_resource, &maps.new_action, now);
            let keys: BTreeSet<(u32, u32)> = before.keys().chain(after.keys()).copied().collect();
            for (resource, action) in keys {
                let row = Row {
                    principal: p,
                    resource,
                    action,
                };
                let (b, a) = (
                    before.get(&(resource, action)),
                    after.get(&(resource, action)),
                );
                let Some(changed) = self.differs(row, b, a, &maps, now) else {
                    continue;
                };
                let mut key: BTreeSet<Phrase> = list.clone();
                if let Some(r) = reached.get(&resource) {
                    key.extend(
                        r.iter()
                            .filter(|c| match causes.grant_subjects.get(*c) {
                                Some(subject) => self.covers(subject, both),
                                None => true,
                            })
                            .cloned(),
                    );
                }
                groups
                    .entry(key.into_iter().collect())
                    .or_default()
                    .push(changed);
            }
        }

        // Changed resources, over every principal not compared above.
        for (&resource, list) in &reached {
            let Some(both) = self.resources.get(resource as usize) else {
                continue;
            };
            for action in 0..self.actions.len() as u32 {
                let who = |a: Option<&Analysis<'_>>,
                           r: Option<ResourceId>,
                           amap: &[Option<u32>],
                           pmap: &[u32],
                           is_new: bool| {
                    let mut allowed = BTreeMap::new();
                    let (Some(a), Some(r)) = (a, r) else {
                        return allowed;
                    };
                    let Some(local) = amap.iter().position(|x| *x == Some(action)) else {
                        return allowed;
                    };
                    if a.actions_of(r).all(|x| x as usize != local) {
                        return allowed;
                    }
                    for (p, grant) in a.who_can(r, local as u32, now).allowed {
                        if let Some(u) = pmap.get(principal_index(a, p, is_new)) {
                            allowed.insert(*u, grant);
                        }
                    }
                    allowed
                };
                let before = who(old, both.old, &maps.old_action, &maps.old_principal, false);
                let after = who(new, both.new, &maps.new_action, &maps.new_principal, true);
                let keys: BTreeSet<u32> = before.keys().chain(after.keys()).copied().collect();
                for p in keys {
                    if causes.principals.contains_key(&p) {
                        continue;
                    }
                    let row = Row {
                        principal: p,
                        resource,
                        action,
                    };
                    let Some(changed) =
                        self.differs(row, before.get(&p), after.get(&p), &maps, now)
                    else {
                        continue;
                    };
                    groups
                        .entry(list.iter().cloned().collect())
                        .or_default()
                        .push(changed);
                }
            }
        }
        self.groups = groups
            .into_iter()
            .map(|(causes, mut rows)| {
                rows.sort_by_key(|(row, _, _)| *row);
                DiffGroup { causes, rows }
            })
            .collect();
    }

    /// Whether a grant to `subject` (a name) reaches the principal on either side.
    fn covers(&self, subject: &str, p: &Both<Principal>) -> bool {
        let on = |a: Option<&Analysis<'_>>, x: Option<Principal>| {
            let (Some(a), Some(x)) = (a, x) else {
                return false;
            };
            if a.principal_name(x) == subject {
                return true;
            }
            let Principal::User(u) = x else {
                return false;
            };
            subject == "team:everyone"
                || a.tables.teams_of(u).any(|t| {
                    a.tables.teams.get(t.index()).is_some_and(|t| {
                        subject.strip_prefix("team:") == Some(a.tables.str(t.name))
                    })
                })
        };
        on(self.old.as_ref(), p.old) || on(self.new.as_ref(), p.new)
    }

    /// The row with each side's decision, if they differ: the grant where a side allows
    /// (`Some`), else what that side decides (a denial).
    fn differs(
        &self,
        row: Row,
        before: Option<&GrantRef>,
        after: Option<&GrantRef>,
        maps: &Maps,
        now: i64,
    ) -> Option<(Row, Side, Side)> {
        if before.is_some() == after.is_some() {
            return None;
        }
        let side = |new: bool, grant: Option<&GrantRef>| {
            grant.map_or_else(
                || self.side_decision(new, &row, maps, now),
                |g| Ok(Some(*g)),
            )
        };
        Some((row, side(false, before), side(true, after)))
    }

    /// What one side decides for a row, when it does not allow it.
    fn side_decision(&self, new: bool, row: &Row, maps: &Maps, now: i64) -> Side {
        let analysis = if new {
            self.new.as_ref()
        } else {
            self.old.as_ref()
        };
        let Some(a) = analysis else {
            return Err(Reason::TenantUnknown);
        };
        let pick = |b: Option<&Both<Principal>>| b.and_then(|b| if new { b.new } else { b.old });
        let principal =
            pick(self.principals.get(row.principal as usize)).ok_or(Reason::PrincipalUnknown)?;
        let resource =
            self.resources
                .get(row.resource as usize)
                .and_then(|b| if new { b.new } else { b.old });
        let amap = if new {
            &maps.new_action
        } else {
            &maps.old_action
        };
        let action = amap.iter().position(|x| *x == Some(row.action));
        let caller_ok = a.decide_principal(principal, now);
        caller_ok?;
        let resource = resource.ok_or(Reason::ResourceUnknown)?;
        let action = action.ok_or(Reason::NoGrant)?;
        if a.actions_of(resource).all(|x| x as usize != action) {
            return Err(Reason::NoGrant);
        }
        a.decide(principal, resource, action as u32, now)
    }
}

impl Analysis<'_> {
    /// The principal checks alone.
    fn decide_principal(&self, principal: Principal, now: i64) -> Result<(), Reason> {
        let caller =
            crate::decide::Caller::of(&self.tables, principal).ok_or(Reason::PrincipalUnknown)?;
        crate::decide::check_principal(&self.tables, &caller, now)
    }

    fn subject_name(&self, code: crate::bundle::SubjectCode) -> String {
        crate::decide::subject_name(&self.tables, code)
    }
}

/// Source changes, by union principal and by union resource.
#[derive(Debug, Default)]
struct Causes {
    principals: BTreeMap<u32, BTreeSet<Phrase>>,
    resources: BTreeMap<u32, BTreeSet<Phrase>>,
    /// The subject of each grant-added or grant-removed cause: such a change only explains the
    /// rows of principals it covers.
    grant_subjects: BTreeMap<Phrase, String>,
}

impl Causes {
    fn principal(&mut self, i: usize, cause: Phrase) {
        self.principals.entry(i as u32).or_default().insert(cause);
    }
    fn resource(&mut self, i: usize, cause: Phrase) {
        self.resources.entry(i as u32).or_default().insert(cause);
    }
}

/// Side index -> union index, per table.
#[derive(Debug)]
struct Maps {
    old_principal: Vec<u32>,
    new_principal: Vec<u32>,
    old_resource: Vec<u32>,
    new_resource: Vec<u32>,
    old_action: Vec<Option<u32>>,
    new_action: Vec<Option<u32>>,
}

impl Maps {
    fn new(
        principals: &[Both<Principal>],
        resources: &[Both<ResourceId>],
        actions: &[&str],
        old: Option<&Analysis<'_>>,
        new: Option<&Analysis<'_>>,
    ) -> Maps {
        let sizes = |a: Option<&Analysis<'_>>| {
            a.map_or(0, |a| {
                a.tables.users.len() + a.tables.virtual_accounts.len()
            })
        };
        let mut old_principal = vec![u32::MAX; sizes(old)];
        let mut new_principal = vec![u32::MAX; sizes(new)];
        for (i, p) in principals.iter().enumerate() {
            if let (Some(a), Some(x)) = (old, p.old) {
                if let Some(slot) = old_principal.get_mut(principal_index(a, x, false)) {
                    *slot = i as u32;
                }
            }
            if let (Some(a), Some(x)) = (new, p.new) {
                if let Some(slot) = new_principal.get_mut(principal_index(a, x, true)) {
                    *slot = i as u32;
                }
            }
        }
        let mut old_resource = vec![u32::MAX; old.map_or(0, |a| a.tables.resources.len())];
        let mut new_resource = vec![u32::MAX; new.map_or(0, |a| a.tables.resources.len())];
        for (i, r) in resources.iter().enumerate() {
            if let Some(slot) = r.old.and_then(|x| old_resource.get_mut(x.index())) {
                *slot = i as u32;
            }
            if let Some(slot) = r.new.and_then(|x| new_resource.get_mut(x.index())) {
                *slot = i as u32;
            }
        }
        let action_map = |a: Option<&Analysis<'_>>| {
            a.map_or_else(Vec::new, |a| {
                a.tenant
                    .config
                    .actions
                    .iter()
                    .map(|name| actions.iter().position(|x| x == name).map(|i| i as u32))
                    .collect()
            })
        };
        Maps {
            old_principal,
            new_principal,
            old_resource,
            new_resource,
            old_action: action_map(old),
            new_action: action_map(new),
        }
    }
}

/// Users first, then virtual accounts: the index of a principal in its side's principal list.
fn principal_index(a: &Analysis<'_>, p: Principal, _new: bool) -> usize {
    match p {
        Principal::User(u) => u.index(),
        Principal::VirtualAccount(v) => a.tables.users.len() + v.index(),
    }
}

/// A principal's allowed (union resource, union action) pairs on one side, with the grant.
fn access(
    a: Option<&Analysis<'_>>,
    p: Option<Principal>,
    rmap: &[u32],
    amap: &[Option<u32>],
    now: i64,
) -> BTreeMap<(u32, u32), GrantRef> {
    let mut out = BTreeMap::new();
    let (Some(a), Some(p)) = (a, p) else {
        return out;
    };
    let Ok(what) = a.what_can(p, None, None, now) else {
        return out;
    };
    for (r, action, grant) in what.allowed {
        if let (Some(r), Some(Some(action))) = (rmap.get(r.index()), amap.get(action as usize)) {
            out.insert((*r, *action), grant);
        }
    }
    out
}

fn allows(side: &Side) -> bool {
    side.is_ok()
}

/// Merge-joins two sorted name lists into the union, each entry with its index on each side.
fn union_by<'n, T: Copy>(
    old_len: usize,
    new_len: usize,
    old_name: impl Fn(usize) -> Option<&'n [u8]>,
    new_name: impl Fn(usize) -> Option<&'n [u8]>,
    id: impl Fn(usize) -> T,
) -> Vec<Both<T>> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(old_len.max(new_len));
    while i < old_len || j < new_len {
        let order = match (
            old_name(i).filter(|_| i < old_len),
            new_name(j).filter(|_| j < new_len),
        ) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => core::cmp::Ordering::Less,
            (None, Some(_)) => core::cmp::Ordering::Greater,
            (None, None) => break,
        };
        match order {
            core::cmp::Ordering::Less => {
                out.push(Both {
                    old: Some(id(i)),
                    new: None,
                });
                i += 1;
            }
            core::cmp::Ordering::Greater => {
                out.push(Both {
                    old: None,
                    new: Some(id(j)),
                });
                j += 1;
            }
            core::cmp::Ordering::Equal => {
                out.push(Both {
                    old: Some(id(i)),
                    new: Some(id(j)),
                });
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Every resource key of a side, in table order (which is key order).
fn keys(a: Option<&Analysis<'_>>) -> Vec<String> {
    a.map_or_else(Vec::new, |a| {
        a.tables.resources.iter().map(|r| a.tables.key(r)).collect()
    })
}

fn union_principals(
    old: Option<&Analysis<'_>>,
    new: Option<&Analysis<'_>>,
) -> Vec<Both<Principal>> {
    let emails = |a: Option<&Analysis<'_>>| -> Vec<String> {
        a.map_or_else(Vec::new, |a| {
            a.tables.users.iter().map(|u| a.tables.email(u)).collect()
        })
    };
    let (eo, en) = (emails(old), emails(new));
    let mut out = union_by(
        eo.len(),
        en.len(),
        |i| eo.get(i).map(|s| s.as_bytes()),
        |i| en.get(i).map(|s| s.as_bytes()),
        |i| Principal::User(UserId(i as u32)),
    );
    let names = |a: Option<&Analysis<'_>>| -> Vec<String> {
        a.map_or_else(Vec::new, |a| {
            a.tables
                .virtual_accounts
                .iter()
                .map(|v| a.tables.str(v.name).to_owned())
                .collect()
        })
    };
    let (vo, vn) = (names(old), names(new));
    out.extend(union_by(
        vo.len(),
        vn.len(),
        |i| vo.get(i).map(|s| s.as_bytes()),
        |i| vn.get(i).map(|s| s.as_bytes()),
        |i| Principal::VirtualAccount(VirtualAccountId(i as u32)),
    ));
    out
}

fn side_name<'e, T: Copy>(
    old: &Option<Analysis<'e>>,
    new: &Option<Analysis<'e>>,
    both: &Both<T>,
    name: impl Fn(&Analysis<'e>, T) -> String,
) -> String {
    match (old, both.old, new, both.new) {
        (Some(a), Some(x), _, _) => name(a, x),
        (_, _, Some(a), Some(x)) => name(a, x),
        _ => "?".to_owned(),
    }
}

/// The changes of a user present on both sides: role, active, teams.
fn user_changes(
    o: &Analysis<'_>,
    n: &Analysis<'_>,
    a: UserId,
    b: UserId,
    name: &str,
) -> Vec<Phrase> {
    let mut out = Vec::new();
    let (Some(ua), Some(ub)) = (o.tables.users.get(a.index()), n.tables.users.get(b.index()))
    else {
        return out;
    };
    let role = |x: &Analysis<'_>, r: crate::model::RoleId| {
        x.tenant
            .config
            .roles
            .get(r.index())
            .map_or("?", |r| r.name.as_str())
            .to_owned()
    };
    let (ra, rb) = (role(o, ua.role()), role(n, ub.role()));
    if ra != rb {
        out.push(
            Phrase::new()
                .name(name)
                .word(" role ")
                .name(&ra)
                .word(" -> ")
                .name(&rb),
        );
    }
    if ua.is_active() != ub.is_active() {
        let what = if ub.is_active() {
            " reactivated"
        } else {
            " deactivated"
        };
        out.push(Phrase::new().name(name).word(what));
    }
    let teams = |x: &Analysis<'_>, u: UserId| -> BTreeSet<String> {
        x.tables
            .teams_of(u)
            .filter_map(|t| x.tables.teams.get(t.index()))
            .map(|t| x.tables.str(t.name).to_owned())
            .collect()
    };
    let (ta, tb) = (teams(o, a), teams(n, b));
    for t in tb.difference(&ta) {
        out.push(
            Phrase::new()
                .name(name)
                .word(" added to ")
                .name(&format!("team:{t}")),
        );
    }
    for t in ta.difference(&tb) {
        out.push(
            Phrase::new()
                .name(name)
                .word(" removed from ")
                .name(&format!("team:{t}")),
        );
    }
    out
}

fn role_names(a: &Analysis<'_>, roles: impl Iterator<Item = crate::model::RoleId>) -> Vec<String> {
    let mut names: Vec<String> = roles
        .filter_map(|r| a.tenant.config.roles.get(r.index()))
        .map(|r| r.name.clone())
        .collect();
    names.sort();
    names
}

/// A role's meaning in names: `type:action` pairs, or `*` for tenant-admin.
fn role_meaning(a: &Analysis<'_>, kind: &RoleKind) -> Vec<String> {
    let config = &a.tenant.config;
    let ty = |t: crate::model::TypeId| {
        config
            .resource_types
            .get(t.index())
            .map_or("?", |t| t.name.as_str())
    };
    let mut out = match kind {
        RoleKind::TenantAdmin => vec!["*".to_owned()],
        RoleKind::Tenant { permissions } => permissions
            .iter()
            .flat_map(|(t, actions)| {
                action_names(a, *actions)
                    .into_iter()
                    .map(move |x| format!("{}:{x}", ty(*t)))
            })
            .collect(),
        RoleKind::Collaborator {
            resource_type,
            actions,
        } => action_names(a, *actions)
            .into_iter()
            .map(|x| format!("{} on {}", x, ty(*resource_type)))
            .collect(),
    };
    out.sort();
    out
}

fn action_names(a: &Analysis<'_>, set: crate::model::ActionSet) -> Vec<String> {
    let mut names: Vec<String> = a
        .tenant
        .config
        .actions
        .iter()
        .enumerate()
        .filter(|(i, _)| set.contains(*i as u32))
        .map(|(_, n)| n.clone())
        .collect();
    names.sort();
    names
}

/// Whether grants number subjects and roles the same on both sides (same users, teams, virtual
/// accounts and roles, in the same order), so grant runs compare as stored.
fn same_subjects(
    o: &Analysis<'_>,
    n: &Analysis<'_>,
    principals: &[Both<Principal>],
    teams: &[Both<TeamId>],
) -> bool {
    let aligned_p = principals.iter().all(|p| match (p.old, p.new) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    });
    let aligned_t = teams
        .iter()
        .all(|t| matches!((t.old, t.new), (Some(a), Some(b)) if a == b));
    let roles = o.tenant.config.roles.len() == n.tenant.config.roles.len()
        && o.tenant
            .config
            .roles
            .iter()
            .zip(&n.tenant.config.roles)
            .all(|(a, b)| a.name == b.name);
    aligned_p && aligned_t && roles
}

/// Unix seconds as shown in causes.
fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "never".to_owned(), |t| t.to_string())
}

/// What changed in the gateway files.
fn gateway_notes(old: &crate::model::Gateway, new: &crate::model::Gateway) -> Vec<Phrase> {
    let route = |name: &str, what: &str| Phrase::new().word("route ").quoted(name).word(what);
    let mut notes = Vec::new();
    for r in &old.routes {
        match new.routes.iter().find(|x| x.name == r.name) {
            None => notes.push(route(&r.name, " removed")),
            Some(x) if x != r => notes.push(route(&r.name, " changed")),
            Some(_) => {}
        }
    }
    for r in &new.routes {
        if !old.routes.iter().any(|x| x.name == r.name) {
            notes.push(route(&r.name, " added"));
        }
    }
    let names =
        |g: &crate::model::Gateway| g.routes.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    if notes.is_empty() && names(old) != names(new) {
        notes.push(Phrase::new().word("routes reordered (the first match wins)"));
    }
    let mut changed = |what: &str, differs: bool| {
        if differs {
            notes.push(Phrase::new().word(what).word(" changed"));
        }
    };
    // Destructured so that a new gateway setting cannot be left out of the notes.
    let crate::model::Gateway {
        default_authenticated,
        dry_run,
        max_body_bytes,
        token_sources,
        routes: _,
        override_headers,
        host_override_headers,
        refuse_path_semicolons,
        refuse_cross_site_cookies,
    } = old;
    changed(
        "`default`",
        *default_authenticated != new.default_authenticated,
    );
    changed("`mode`", *dry_run != new.dry_run);
    changed("`max_body_bytes`", *max_body_bytes != new.max_body_bytes);
    changed("`token_sources`", *token_sources != new.token_sources);
    changed(
        "`override_headers`",
        *override_headers != new.override_headers,
    );
    changed(
        "`host_override_headers`",
        *host_override_headers != new.host_override_headers,
    );
    changed(
        "`path_semicolons`",
        *refuse_path_semicolons != new.refuse_path_semicolons,
    );
    changed(
        "`cross_site_cookies`",
        *refuse_cross_site_cookies != new.refuse_cross_site_cookies,
    );
    notes
}

/// What changed in a tenant that only token requests read.
fn token_notes(o: &Analysis<'_>, n: &Analysis<'_>) -> Vec<Phrase> {
    let provider = |name: &str, what: &str| {
        Phrase::new()
            .word("identity provider ")
            .quoted(name)
            .word(what)
    };
    let (a, b) = (&o.tenant.config, &n.tenant.config);
    let mut notes = Vec::new();
    let mut changed = |what: &str, differs: bool| {
        if differs {
            notes.push(Phrase::new().word(what).word(" changed"));
        }
    };
    changed("`hosts`", a.hosts != b.hosts);
    changed("`issuer`", a.issuer != b.issuer);
    changed("control-plane keys", a.keys != b.keys);
    changed("`audiences`", a.audiences != b.audiences);
    changed(
        "`clock_skew_seconds`",
        a.clock_skew_seconds != b.clock_skew_seconds,
    );
    let added = b
        .revoked_token_ids
        .iter()
        .filter(|j| !a.revoked_token_ids.contains(j))
        .count();
    let dropped = a
        .revoked_token_ids
        .iter()
        .filter(|j| !b.revoked_token_ids.contains(j))
        .count();
    if added + dropped > 0 {
        notes.push(Phrase::new().word(&format!(
            "revoked token ids: {added} added, {dropped} removed"
        )));
    }
    for p in &a.identity_providers {
        match b.identity_providers.iter().find(|x| x.name == p.name) {
            None => notes.push(provider(&p.name, " removed")),
            Some(x) if x != p => notes.push(provider(&p.name, " changed")),
            Some(_) => {}
        }
    }
    for p in &b.identity_providers {
        if !a.identity_providers.iter().any(|x| x.name == p.name) {
            notes.push(provider(&p.name, " added"));
        }
    }
    let mappings = |x: &Analysis<'_>| -> BTreeSet<(String, String, String)> {
        let providers = &x.tenant.config.identity_providers;
        x.tables
            .mappings
            .iter()
            .map(|m| {
                let idp = providers.get(m.idp().0 as usize);
                let target = m.target.get();
                let target = match idp.map(|p| &p.resolve_to) {
                    Some(crate::model::ResolveTo::VirtualAccount { .. }) => x
                        .tables
                        .virtual_accounts
                        .get(target as usize)
                        .map(|v| format!("virtualaccount:{}", x.tables.str(v.name))),
                    _ => x
                        .tables
                        .teams
                        .get(target as usize)
                        .map(|t| format!("team:{}", x.tables.str(t.name))),
                };
                (
                    idp.map_or_else(|| "?".to_owned(), |p| p.name.clone()),
                    x.tables.str(m.value).to_owned(),
                    target.unwrap_or_else(|| "?".to_owned()),
                )
            })
            .collect()
    };
    let (ma, mb) = (mappings(o), mappings(n));
    for (what, list) in [
        ("added", mb.difference(&ma)),
        ("removed", ma.difference(&mb)),
    ] {
        for (idp, value, target) in list {
            notes.push(
                Phrase::new()
                    .word(&format!("identity-provider mapping {what}: "))
                    .name(idp)
                    .word(" ")
                    .quoted(value)
                    .word(" -> ")
                    .name(target),
            );
        }
    }
    let rotation = |x: &Analysis<'_>| -> BTreeSet<(String, Option<i64>)> {
        x.tables
            .virtual_accounts
            .iter()
            .map(|v| (x.tables.str(v.name).to_owned(), v.tokens_valid_after()))
            .collect()
    };
    let (ra, rb) = (rotation(o), rotation(n));
    for (name, after) in rb.difference(&ra) {
        if ra.iter().any(|(x, _)| x == name) {
            notes.push(
                Phrase::new()
                    .name(&format!("virtualaccount:{name}"))
                    .word(&format!(" tokens_valid_after -> {}", time(*after))),
            );
        }
    }
    notes
}
