//! A deliberately naive evaluator of steps 5-7 over the policy model (no bundle, no indexes,
//! linear scans). Property tests hold the bundle evaluator to it; it is not used to serve.

use crate::model::{Policy, Resource, RoleKind, Subject, TeamId, Tenant};
use crate::reason::Reason;

/// Decide whether `subject` (`user:<email>` or `virtualaccount:<name>`) may perform `action` on
/// the resource `resource_type:path` of tenant `tenant`, at `now`.
pub fn decide(
    policy: &Policy,
    tenant: usize,
    subject: &str,
    resource_type: &str,
    path: &str,
    action: &str,
    now: i64,
) -> Result<(), Reason> {
    let t = policy.tenants.get(tenant).ok_or(Reason::TenantUnknown)?;
    let subjects = principal_subjects(t, subject, now)?;

    let (index, resource) = t
        .resources
        .iter()
        .enumerate()
        .find(|(_, r)| {
            r.path == path
                && t.config
                    .resource_types
                    .get(r.resource_type.index())
                    .is_some_and(|ty| ty.name == resource_type)
        })
        .ok_or(Reason::ResourceUnknown)?;
    let action = t
        .config
        .actions
        .iter()
        .position(|a| a == action)
        .ok_or(Reason::NoGrant)? as u32;
    let type_actions = t
        .config
        .resource_types
        .get(resource.resource_type.index())
        .map(|ty| ty.actions)
        .unwrap_or_default();
    if !type_actions.contains(action) {
        return Err(Reason::NoGrant);
    }

    let mut chain: Vec<(usize, &Resource)> = vec![(index, resource)];
    while let Some(parent) = chain.last().and_then(|(_, r)| r.parent) {
        let p = t
            .resources
            .get(parent.index())
            .ok_or(Reason::ResourceUnknown)?;
        chain.push((parent.index(), p));
    }
    if chain.iter().any(|(_, r)| !r.enabled) {
        return Err(Reason::ResourceDisabled);
    }

    let mut tenant_roles = Vec::new();
    for s in &subjects {
        match s {
            Subject::User(u) => tenant_roles.extend(t.users.get(u.index()).map(|u| u.role)),
            Subject::Team(team) => tenant_roles.extend(
                t.teams
                    .get(team.index())
                    .into_iter()
                    .flat_map(|t| t.roles.iter().copied()),
            ),
            _ => {}
        }
    }
    let role_kind = |r: &crate::model::RoleId| t.config.roles.get(r.index()).map(|r| &r.kind);
    let admin = tenant_roles
        .iter()
        .any(|r| matches!(role_kind(r), Some(RoleKind::TenantAdmin)));
    if !admin {
        for (_, r) in &chain {
            if let Some(allowed) = &r.authorized_subjects {
                if !subjects.iter().any(|s| allowed.contains(s)) {
                    return Err(Reason::NotAuthorizedSubject);
                }
            }
        }
        let by_tenant_role = chain.iter().any(|(_, r)| {
            tenant_roles.iter().any(|role| match role_kind(role) {
                Some(RoleKind::Tenant { permissions }) => permissions
                    .iter()
                    .any(|(ty, actions)| *ty == r.resource_type && actions.contains(action)),
                _ => false,
            })
        });
        let by_grant = chain.iter().any(|(i, _)| {
            t.grants.iter().any(|g| {
                g.resource.index() == *i
                    && subjects.contains(&g.subject)
                    && matches!(role_kind(&g.role), Some(RoleKind::Collaborator { actions, .. }) if actions.contains(action))
            })
        });
        if !by_tenant_role && !by_grant {
            return Err(Reason::NoGrant);
        }
    }
    Ok(())
}

fn principal_subjects(t: &Tenant, subject: &str, now: i64) -> Result<Vec<Subject>, Reason> {
    if let Some(email) = subject.strip_prefix("user:") {
        // Emails fold ASCII case only (SPEC 3.1 step 5).
        let email = email.to_ascii_lowercase();
        let (i, user) = find(&t.users, |u| u.email == email)?;
        if !user.active {
            return Err(Reason::PrincipalInactive);
        }
        let mut subjects = vec![
            Subject::User(crate::model::UserId(i as u32)),
            Subject::Everyone,
        ];
        subjects.extend(user.teams.iter().map(|team: &TeamId| Subject::Team(*team)));
        Ok(subjects)
    } else if let Some(name) = subject.strip_prefix("virtualaccount:") {
        let (i, va) = find(&t.virtual_accounts, |v| v.name == name)?;
        if va.expires.is_some_and(|e| now >= e) {
            return Err(Reason::PrincipalExpired);
        }
        Ok(vec![Subject::VirtualAccount(
            crate::model::VirtualAccountId(i as u32),
        )])
    } else {
        Err(Reason::PrincipalUnknown)
    }
}

/// The first item that `is` accepts, with its index; else the principal is unknown.
fn find<T>(items: &[T], is: impl Fn(&T) -> bool) -> Result<(usize, &T), Reason> {
    items
        .iter()
        .enumerate()
        .find(|(_, item)| is(item))
        .ok_or(Reason::PrincipalUnknown)
}
