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

mod causes;
mod compare;
mod credentials;
mod matching;
mod notes;

use std::collections::{BTreeMap, BTreeSet};

use super::Analysis;
use crate::decide::{Engine, GrantRef, Principal};
use crate::escape::Phrase;
use crate::model::ResourceId;
use crate::reason::Reason;
use matching::{union_by, union_principals};
use notes::{gateway_notes, token_notes};

pub use credentials::{KeyChange, KeyChangeKind};

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
    /// API keys created, removed, revoked, rescoped, rotated or otherwise changed: listed, not
    /// counted, since a key changes no `--as` triple (its principal's access is the same).
    pub credentials: Vec<KeyChange>,
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
            credentials: Vec::new(),
        };
        diff.credentials = credentials::credential_changes(diff.old.as_ref(), diff.new.as_ref());
        if let (Some(o), Some(n)) = (diff.old.as_ref(), diff.new.as_ref()) {
            diff.notes = token_notes(o, n);
        }
        let causes = diff.causes();
        diff.compare(&causes, now);
        diff
    }
}

impl Analysis<'_> {
    /// The principal checks alone.
    fn decide_principal(&self, principal: Principal, now: i64) -> Result<(), Reason> {
        let caller = crate::decide::Caller::of(self.tenant, &self.tables, principal)
            .ok_or(Reason::PrincipalUnknown)?;
        crate::decide::check_principal(&self.tables, &caller, now)
    }

    fn subject_name(&self, code: crate::bundle::SubjectCode) -> String {
        crate::decide::subject_name(&self.tables, code)
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

/// Every resource key of a side, in table order (which is key order).
fn keys(a: Option<&Analysis<'_>>) -> Vec<String> {
    a.map_or_else(Vec::new, |a| {
        a.tables.resources.iter().map(|r| a.tables.key(r)).collect()
    })
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

/// Unix seconds as shown in causes.
fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "never".to_owned(), |t| t.to_string())
}
