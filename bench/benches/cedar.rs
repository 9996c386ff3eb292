//! The same policy, translated to Cedar (`cedar-policy`), so that Cedar decides the very
//! questions the engine decides. The translation favours Cedar: everything Cedar cannot
//! express per request is precomputed into entity attributes once.
//!
//! - `User::"<i>"`: `subjects` (Set of `S::"u<i>"`, `S::"t<team>"`..., `S::"everyone"`: the
//!   caller's subject codes, i.e. principal resolution done ahead), `active`, `admin` (the user's
//!   or a team's tenant-level role is `tenant-admin`), and for every action `k` that a
//!   tenant-level role grants, `perms_<k>`: the resource type names it grants `k` on. Parents:
//!   the user's `Team::"<t>"` entities (not used by the policies; there for realism).
//! - `Resource::"<r>"`: `type` (name), `enabled`, `restricted`, `authorized` (Set of `S`),
//!   `type_actions` (Set of `Action` the resource type has), optional `parent` (also its Cedar
//!   parent), and for every action `k` a collaborator role grants, `can_<k>`: the subjects
//!   holding a role on this resource whose actions include `k` (role bindings expanded to
//!   actions ahead, so no role lookup at decision time).
//! - Policies: generic, not one per grant (a million `permit`s would make Cedar scan a million
//!   policies per request). Cedar has no recursion, so "this resource or an ancestor" is
//!   unrolled to the tenant's deepest chain (`resource`, `resource.parent`, ...):
//!   `forbid` inactive principals; `forbid` an action the resource type lacks; `forbid` when
//!   disabled anywhere up the chain; `forbid` unless admin when restricted up the chain and no
//!   caller subject is authorized; `permit` admins; per action `k`, `permit` when a chain node's
//!   `can_k` contains any caller subject, and when `perms_k` names a chain node's type.

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, RestrictedExpression,
};
use gatehouse_engine::model::{Policy, RoleKind, Subject, Tenant};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use gatehouse_bench::fixtures::Case;

pub struct Cedar {
    pub policies: PolicySet,
    pub entities: Entities,
    pub policy_text: String,
    authorizer: Authorizer,
    user: EntityTypeName,
    action: EntityTypeName,
    resource: EntityTypeName,
}

/// A prepared question: the entity ids as the application would have them.
pub struct CedarCase {
    user: String,
    action: String,
    resource: String,
}

impl Cedar {
    pub fn translate(policy: &Policy) -> Cedar {
        let t = &policy.tenants[0];
        let collab_actions: BTreeSet<u32> = t
            .roles
            .iter()
            .filter_map(|r| match r.kind {
                RoleKind::Collaborator { actions, .. } => Some(actions.0),
                _ => None,
            })
            .flat_map(bits)
            .collect();
        let tenant_actions: BTreeSet<u32> = t
            .roles
            .iter()
            .filter_map(|r| match &r.kind {
                RoleKind::Tenant { permissions } => Some(permissions.iter().map(|(_, a)| a.0)),
                _ => None,
            })
            .flatten()
            .flat_map(bits)
            .collect();
        let depth = max_depth(t);
        let policy_text = policies(t, depth, &collab_actions, &tenant_actions);
        let policies = PolicySet::from_str(&policy_text).unwrap();
        let entities =
            Entities::from_entities(entities(t, &collab_actions, &tenant_actions), None).unwrap();
        Cedar {
            policies,
            entities,
            policy_text,
            authorizer: Authorizer::new(),
            user: EntityTypeName::from_str("User").unwrap(),
            action: EntityTypeName::from_str("Action").unwrap(),
            resource: EntityTypeName::from_str("Resource").unwrap(),
        }
    }

    pub fn prepare(case: &Case) -> CedarCase {
        CedarCase {
            user: case.user.to_string(),
            action: case.action.clone(),
            resource: case.resource.to_string(),
        }
    }

    /// Builds the request from the ids (as an application does per request) and decides it.
    pub fn is_allowed(&self, case: &CedarCase) -> bool {
        let uid = |ty: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
        };
        let request = cedar_policy::Request::new(
            uid(&self.user, &case.user),
            uid(&self.action, &case.action),
            uid(&self.resource, &case.resource),
            Context::empty(),
            None,
        )
        .unwrap();
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}

fn bits(set: u64) -> impl Iterator<Item = u32> {
    (0..64u32).filter(move |b| set & (1u64 << b) != 0)
}

fn max_depth(t: &Tenant) -> usize {
    (0..t.resources.len())
        .map(|mut r| {
            let mut depth = 1;
            while let Some(p) = t.resources[r].parent {
                r = p.index();
                depth += 1;
            }
            depth
        })
        .max()
        .unwrap_or(1)
}

/// `f(resource) || (resource has parent && (f(resource.parent) || ...))`, `depth` levels.
fn chain_any(depth: usize, f: &dyn Fn(&str) -> String) -> String {
    let mut node = "resource".to_owned();
    let mut levels = Vec::new();
    for _ in 0..depth {
        levels.push(node.clone());
        node.push_str(".parent");
    }
    let mut expr = String::new();
    for (i, level) in levels.iter().enumerate().rev() {
        expr = if expr.is_empty() {
            format!("({})", f(level))
        } else {
            format!("({} || ({level} has parent && {expr}))", f(level))
        };
        let _ = i;
    }
    expr
}

fn policies(
    t: &Tenant,
    depth: usize,
    collab_actions: &BTreeSet<u32>,
    tenant_actions: &BTreeSet<u32>,
) -> String {
    let mut text = String::new();
    text.push_str("forbid(principal, action, resource) unless { principal.active };\n");
    text.push_str(
        "forbid(principal, action, resource) unless { action in resource.type_actions };\n",
    );
    text.push_str(&format!(
        "forbid(principal, action, resource) when {{ {} }};\n",
        chain_any(depth, &|r| format!("!{r}.enabled"))
    ));
    text.push_str(&format!(
        "forbid(principal, action, resource) when {{ !principal.admin && {} }};\n",
        chain_any(depth, &|r| format!(
            "{r}.restricted && !{r}.authorized.containsAny(principal.subjects)"
        ))
    ));
    text.push_str("permit(principal, action, resource) when { principal.admin };\n");
    let mut permit = |k: u32, condition: String| {
        text.push_str(&format!(
            "permit(principal, action == Action::{:?}, resource) when {{ {condition} }};\n",
            t.actions[k as usize],
        ));
    };
    for &k in collab_actions {
        permit(
            k,
            chain_any(depth, &|r| {
                format!("{r}.can_{k}.containsAny(principal.subjects)")
            }),
        );
    }
    for &k in tenant_actions {
        permit(
            k,
            chain_any(depth, &|r| {
                format!("principal.perms_{k}.contains({r}.type)")
            }),
        );
    }
    text
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).unwrap(), EntityId::new(id))
}

fn subject(s: Subject) -> String {
    match s {
        Subject::User(u) => format!("u{}", u.0),
        Subject::Team(t) => format!("t{}", t.0),
        Subject::VirtualAccount(v) => format!("v{}", v.0),
        Subject::Everyone => "everyone".to_owned(),
    }
}

fn subject_set(subjects: impl IntoIterator<Item = Subject>) -> RestrictedExpression {
    RestrictedExpression::new_set(
        subjects
            .into_iter()
            .map(|s| RestrictedExpression::new_entity_uid(uid("S", &subject(s)))),
    )
}

fn entities(
    t: &Tenant,
    collab_actions: &BTreeSet<u32>,
    tenant_actions: &BTreeSet<u32>,
) -> Vec<Entity> {
    let mut out = Vec::with_capacity(t.users.len() + t.teams.len() + t.resources.len());
    for i in 0..t.teams.len() {
        out.push(Entity::new_no_attrs(
            uid("Team", &i.to_string()),
            HashSet::new(),
        ));
    }
    for (i, user) in t.users.iter().enumerate() {
        let mut roles = vec![user.role];
        for team in &user.teams {
            roles.extend(t.teams[team.index()].roles.iter().copied());
        }
        let kinds: Vec<&RoleKind> = roles.iter().map(|r| &t.roles[r.index()].kind).collect();
        let admin = kinds.iter().any(|k| matches!(k, RoleKind::TenantAdmin));
        let mut attrs = HashMap::new();
        let mut subjects = vec![Subject::User(gatehouse_engine::model::UserId(i as u32))];
        subjects.extend(user.teams.iter().map(|team| Subject::Team(*team)));
        subjects.push(Subject::Everyone);
        attrs.insert("subjects".to_owned(), subject_set(subjects));
        attrs.insert(
            "active".to_owned(),
            RestrictedExpression::new_bool(user.active),
        );
        attrs.insert("admin".to_owned(), RestrictedExpression::new_bool(admin));
        for &k in tenant_actions {
            let types: BTreeSet<&str> = kinds
                .iter()
                .filter_map(|kind| match kind {
                    RoleKind::Tenant { permissions } => Some(permissions),
                    _ => None,
                })
                .flatten()
                .filter(|(_, actions)| actions.contains(k))
                .map(|(ty, _)| t.resource_types[ty.index()].name.as_str())
                .collect();
            attrs.insert(
                format!("perms_{k}"),
                RestrictedExpression::new_set(
                    types
                        .into_iter()
                        .map(|ty| RestrictedExpression::new_string(ty.to_owned())),
                ),
            );
        }
        let parents = user
            .teams
            .iter()
            .map(|team| uid("Team", &team.0.to_string()))
            .collect();
        out.push(Entity::new(uid("User", &i.to_string()), attrs, parents).unwrap());
    }

    let mut can: Vec<HashMap<u32, Vec<Subject>>> = vec![HashMap::new(); t.resources.len()];
    for g in &t.grants {
        if let RoleKind::Collaborator { actions, .. } = t.roles[g.role.index()].kind {
            for k in bits(actions.0) {
                can[g.resource.index()]
                    .entry(k)
                    .or_default()
                    .push(g.subject);
            }
        }
    }
    for (i, r) in t.resources.iter().enumerate() {
        let ty = &t.resource_types[r.resource_type.index()];
        let mut attrs = HashMap::new();
        attrs.insert(
            "type".to_owned(),
            RestrictedExpression::new_string(ty.name.clone()),
        );
        attrs.insert(
            "enabled".to_owned(),
            RestrictedExpression::new_bool(r.enabled),
        );
        attrs.insert(
            "restricted".to_owned(),
            RestrictedExpression::new_bool(r.authorized_subjects.is_some()),
        );
        attrs.insert(
            "authorized".to_owned(),
            subject_set(r.authorized_subjects.iter().flatten().copied()),
        );
        attrs.insert(
            "type_actions".to_owned(),
            RestrictedExpression::new_set(bits(ty.actions.0).map(|k| {
                RestrictedExpression::new_entity_uid(uid("Action", &t.actions[k as usize]))
            })),
        );
        for &k in collab_actions {
            let subjects = can[i].remove(&k).unwrap_or_default();
            attrs.insert(format!("can_{k}"), subject_set(subjects));
        }
        let mut parents = HashSet::new();
        if let Some(p) = r.parent {
            let parent = uid("Resource", &p.0.to_string());
            attrs.insert(
                "parent".to_owned(),
                RestrictedExpression::new_entity_uid(parent.clone()),
            );
            parents.insert(parent);
        }
        out.push(Entity::new(uid("Resource", &i.to_string()), attrs, parents).unwrap());
    }
    out
}
