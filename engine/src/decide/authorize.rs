//! Step 7: the narrowing checks on the resource, then the grant that allows the action.
//!
//! [`authorize`] reports what it looks at to a [`Trace`]: the filter passes [`NoTrace`] (every
//! hook is an empty inline function), `gatehouse check` a recorder that explains the decision
//! from exactly the steps that made it.

use super::principal::Caller;
use super::small::Small;
use super::{GrantRef, Principal};
use crate::bundle::{self, LoadedTenant, ResourceRecord, SubjectCode, Tables};
use crate::model::{ResourceId, RoleId, RoleKind};
use crate::reason::Reason;

/// What step 7 looked at, in the order it looked.
pub(crate) trait Trace {
    /// The resolved caller (step 5), before the resource is looked up.
    fn caller(&mut self, _caller: &Caller) {}
    /// The action's index in the tenant's action table, once it is known to apply to the type.
    fn action(&mut self, _action: u32) {}
    /// A resource of the chain (the requested one, then its ancestors), nearest first.
    fn node(&mut self, _resource: ResourceId) {}
    /// The caller's tenant-level roles.
    fn tenant_roles(&mut self, _roles: &[(SubjectCode, RoleId)]) {}
    /// A restricted resource of the chain, and whether a subject of the caller is admitted.
    fn restricted(&mut self, _resource: ResourceId, _admitted: bool) {}
}

/// The trace the filter passes: nothing recorded.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoTrace;

impl Trace for NoTrace {}

/// The resource and its ancestors, nearest first. Depth is bounded at load.
pub(crate) fn chain<'a>(
    tables: &Tables<'a>,
    resource_index: ResourceId,
    resource: &'a ResourceRecord,
) -> impl Iterator<Item = (ResourceId, &'a ResourceRecord)> + 'a {
    let tables = *tables;
    let mut next = Some((resource_index, resource));
    core::iter::from_fn(move || {
        let current = next?;
        next = current
            .1
            .parent()
            .and_then(|parent| Some((parent, tables.resources.get(parent.index())?)));
        Some(current)
    })
    .take(bundle::MAX_DEPTH + 1)
}

/// The index of `action_name` in the tenant's action table, if the resource's type has it.
pub(crate) fn action_of(
    tenant: &LoadedTenant,
    resource: &ResourceRecord,
    action_name: &str,
) -> Option<u32> {
    let config = &tenant.config;
    let action = config
        .actions
        .iter()
        .position(|a| crate::route::same(a, action_name))? as u32;
    let type_actions = config
        .resource_types
        .get(resource.resource_type().index())
        .map(|t| t.actions)
        .unwrap_or_default();
    type_actions.contains(action).then_some(action)
}

/// Step 7.
pub(crate) fn authorize(
    tenant: &LoadedTenant,
    tables: &Tables<'_>,
    caller: &Caller,
    resource_index: ResourceId,
    resource: &ResourceRecord,
    action_name: &str,
    trace: &mut impl Trace,
) -> Result<Option<GrantRef>, Reason> {
    let config = &tenant.config;
    let action = action_of(tenant, resource, action_name).ok_or(Reason::NoGrant)?;
    trace.action(action);
    let chain = || chain(tables, resource_index, resource);

    // Narrowing: disabled anywhere up the chain denies everyone.
    for (index, r) in chain() {
        trace.node(index);
        if r.is_disabled() {
            return Err(Reason::ResourceDisabled);
        }
    }

    // Tenant-level roles: the user's own role, then its teams' roles.
    let tenant_roles = tenant_roles(tables, caller);
    trace.tenant_roles(&tenant_roles);
    let admin = tenant_roles.iter().find(|(_, role)| {
        config
            .roles
            .get(role.index())
            .is_some_and(|r| matches!(r.kind, RoleKind::TenantAdmin))
    });

    if admin.is_none() {
        for (index, r) in chain() {
            if r.is_restricted() {
                let admitted = caller.subjects.iter().any(|s| tables.authorizes(index, *s));
                trace.restricted(index, admitted);
                if !admitted {
                    return Err(Reason::NotAuthorizedSubject);
                }
            }
        }
    }
    if let Some((subject, role)) = admin {
        return Ok(Some(GrantRef {
            subject: *subject,
            role: *role,
            resource: None,
        }));
    }

    for (_, r) in chain() {
        let node_type = r.resource_type();
        for (subject, role) in tenant_roles.iter() {
            if let Some(RoleKind::Tenant { permissions }) =
                config.roles.get(role.index()).map(|r| &r.kind)
            {
                if permissions
                    .iter()
                    .any(|(ty, actions)| *ty == node_type && actions.contains(action))
                {
                    return Ok(Some(GrantRef {
                        subject: *subject,
                        role: *role,
                        resource: None,
                    }));
                }
            }
        }
    }

    let numbers = tables.subject_numbers();
    for (index, _) in chain() {
        let grants = tables.grants_of(index);
        for subject in caller.subjects.iter() {
            let Some(number) = numbers.number(*subject) else {
                continue;
            };
            for role in grants.roles_of(number) {
                let grants_action = config
                    .roles
                    .get(role.index())
                    .is_some_and(|r| match r.kind {
                        RoleKind::Collaborator { actions, .. } => actions.contains(action),
                        // Tenant roles were looked at above, before the resource chain.
                        RoleKind::TenantAdmin | RoleKind::Tenant { .. } => false,
                    });
                if grants_action {
                    return Ok(Some(GrantRef {
                        subject: *subject,
                        role,
                        resource: Some(index),
                    }));
                }
            }
        }
    }
    Err(Reason::NoGrant)
}

/// `(subject code, role)` for every tenant-level role the caller holds.
pub(crate) fn tenant_roles(
    tables: &Tables<'_>,
    caller: &Caller,
) -> Small<(SubjectCode, RoleId), 8> {
    let mut roles = Small::new();
    match caller.principal {
        Principal::User(id) => {
            if let Some(user) = tables.users.get(id.index()) {
                roles.push((SubjectCode::user(id), user.role()));
            }
        }
        // A tenant member, and nothing more, until a compile lists the user.
        Principal::JustInTime => {
            if let Some(member) = &caller.just_in_time {
                roles.push((SubjectCode::EVERYONE, member.role));
            }
        }
        Principal::VirtualAccount(_) => {}
    }
    for subject in caller.subjects.iter() {
        if let Some(team) = subject.team_id() {
            roles.extend(tables.roles_of(team).map(|role| (*subject, role)));
        }
    }
    roles
}
