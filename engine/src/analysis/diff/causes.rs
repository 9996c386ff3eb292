//! The source changes between the two sides of a tenant, by union principal and by union
//! resource: the only places a decision can differ.

use std::collections::{BTreeMap, BTreeSet};

use super::matching::union_by;
use super::{time, Both, TenantDiff};
use crate::analysis::Analysis;
use crate::decide::Principal;
use crate::escape::Phrase;
use crate::model::{ResourceId, RoleKind, Subject, TeamId, UserId};

impl<'e> TenantDiff<'e> {
    /// The source changes, by union principal and by union resource (roots, before subtrees).
    pub(super) fn causes(&self) -> Causes {
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
                // Principals are matched by name within their kind, so a union entry is never
                // a user on one side and a virtual account on the other; and they are the
                // bundles' records, never just-in-time members.
                (Some(Principal::JustInTime), _)
                | (_, Some(Principal::JustInTime))
                | (None, None)
                | (Some(Principal::User(_)), Some(Principal::VirtualAccount(_)))
                | (Some(Principal::VirtualAccount(_)), Some(Principal::User(_))) => {}
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
}

/// Source changes, by union principal and by union resource.
#[derive(Debug, Default)]
pub(super) struct Causes {
    pub(super) principals: BTreeMap<u32, BTreeSet<Phrase>>,
    pub(super) resources: BTreeMap<u32, BTreeSet<Phrase>>,
    /// The subject of each grant-added or grant-removed cause: such a change only explains the
    /// rows of principals it covers.
    pub(super) grant_subjects: BTreeMap<Phrase, String>,
}

impl Causes {
    fn principal(&mut self, i: usize, cause: Phrase) {
        self.principals.entry(i as u32).or_default().insert(cause);
    }
    fn resource(&mut self, i: usize, cause: Phrase) {
        self.resources.entry(i as u32).or_default().insert(cause);
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
