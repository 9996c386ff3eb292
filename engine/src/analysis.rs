//! Access review from the bundle alone: who may perform an action on a resource, and what a
//! principal may do. `gatehouse who-can`, `what-can`, `diff` and `test` are built on it.
//!
//! Exact by construction: each question first gathers candidates from the tables (every
//! principal, or every resource, that holds a grant which could allow the action: a superset of
//! what can be allowed), then decides every candidate with the principal checks and the step 7
//! that [`Engine::decide`] runs. Nothing here re-states a rule of the model; it only chooses
//! which questions to put to the engine.
//!
//! The questions are those of `gatehouse check --as`: a principal named directly, its stored
//! teams (no identity-provider team claims), at a given time.

use std::cell::OnceCell;

use crate::bundle::{CredentialState, LoadedTenant, SubjectCode, Tables};
use crate::credential::KeyId;
use crate::decide::{self, action_of, authorize, caller_scope, chain, check_principal, Caller};
use crate::decide::{credential_of, Engine, GrantRef, NoTrace, Principal};
use crate::model::{
    ActionSet, ResourceId, RoleKind, ScopePath, Subject, TeamId, TypeId, UserId, VirtualAccountId,
};
use crate::reason::Reason;

mod diff;
mod error;
#[cfg(test)]
mod tests;
mod tools;

pub use diff::{Both, Change, Diff, DiffGroup, KeyChange, KeyChangeKind, Side, TenantDiff};
pub use error::AnalysisError;
pub use tools::{ToolsList, ToolsQuery};

/// One tenant of a loaded bundle, ready for questions. Indexes that only some questions need
/// (team members, resource children) are built on first use.
#[derive(Debug)]
pub struct Analysis<'e> {
    tenant: &'e LoadedTenant,
    tables: Tables<'e>,
    members: OnceCell<Vec<Vec<UserId>>>,
    children: OnceCell<Vec<Vec<ResourceId>>>,
}

/// `gatehouse who-can`: the principals allowed, each with the grant the engine reports, and the
/// principals that hold a grant which would allow but are stopped by narrowing (2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoCan {
    pub resource: ResourceId,
    pub action: u32,
    /// Users (by email), then virtual accounts (by name).
    pub allowed: Vec<(Principal, GrantRef)>,
    /// Same order. Reasons: `principal_inactive`, `principal_expired`, `resource_disabled`,
    /// `not_authorized_subject`.
    pub blocked: Vec<(Principal, Reason)>,
    /// The API keys of the allowed principals that would be allowed too: live (not revoked, not
    /// expired at the time asked) and scoped to admit the request, or unscoped. In the order of
    /// `allowed`, then by id.
    pub credentials: Vec<(Principal, KeyId)>,
}

/// `gatehouse what-can`: every (resource, action) the principal may perform, with the grant, and
/// those a grant of the principal reaches but narrowing on the resource stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatCan {
    pub principal: Principal,
    /// The API key asked about (`what-can --credential`): the answer is what a request
    /// presenting it may do.
    pub credential: Option<KeyId>,
    /// The principal itself is denied everywhere (`principal_inactive`, `principal_expired`;
    /// for a key also `token_revoked`, `token_expired`); then `allowed` and `blocked` are empty.
    pub denied: Option<Reason>,
    /// By resource key, then action (the tenant's action order).
    pub allowed: Vec<(ResourceId, u32, GrantRef)>,
    /// Reasons: `resource_disabled`, `not_authorized_subject`; for a scoped key,
    /// `credential_out_of_scope` where the principal could act but the key's scope excludes it.
    pub blocked: Vec<(ResourceId, u32, Reason)>,
}

/// An API key as the bundle records it (never the key: its id, principal, expiry, revocation and
/// scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: KeyId,
    /// `None` when the key's principal is no longer in the tenant.
    pub principal: Option<Principal>,
    /// Unix seconds.
    pub expires: Option<i64>,
    pub revoked: bool,
    /// Index into the tenant's `credential_scopes`; `None`: the principal's whole access (and
    /// for a revoked key, which the bundle keeps without its scope).
    pub scope: Option<u32>,
}

impl Engine {
    /// The analysis of tenant `name`, or of the bundle's only tenant.
    pub fn analysis(&self, name: Option<&str>) -> Result<Analysis<'_>, AnalysisError> {
        let tenants = self.bundle().tenants();
        let tenant = match (name, tenants) {
            (Some(name), _) => tenants
                .iter()
                .find(|t| t.config.name == name)
                .ok_or_else(|| AnalysisError::TenantUnknown(name.to_owned()))?,
            (None, [only]) => only,
            (None, _) => {
                let names: Vec<&str> = tenants.iter().map(|t| t.config.name.as_str()).collect();
                return Err(AnalysisError::SeveralTenants(names.join(", ")));
            }
        };
        Ok(Analysis::new(self, tenant))
    }
}

impl<'e> Analysis<'e> {
    fn new(engine: &'e Engine, tenant: &'e LoadedTenant) -> Analysis<'e> {
        Analysis {
            tenant,
            tables: engine.bundle().tables(tenant),
            members: OnceCell::new(),
            children: OnceCell::new(),
        }
    }

    pub fn tenant(&self) -> &'e LoadedTenant {
        self.tenant
    }

    pub fn tenant_name(&self) -> &'e str {
        &self.tenant.config.name
    }

    pub fn tables(&self) -> &Tables<'e> {
        &self.tables
    }

    /// Every principal: users by email, then virtual accounts by name.
    pub fn principals(&self) -> impl Iterator<Item = Principal> + '_ {
        let users = (0..self.tables.users.len()).filter_map(user);
        let vas = (0..self.tables.virtual_accounts.len()).filter_map(va);
        users.chain(vas)
    }

    /// Every resource, by key.
    pub fn resources(&self) -> impl Iterator<Item = ResourceId> + '_ {
        (0..self.tables.resources.len()).filter_map(|i| Some(ResourceId(u32::try_from(i).ok()?)))
    }

    /// The actions of a resource's type, in the tenant's action order.
    pub fn actions_of(&self, resource: ResourceId) -> impl Iterator<Item = u32> + '_ {
        let actions = self
            .tables
            .resources
            .get(resource.index())
            .and_then(|r| {
                self.tenant
                    .config
                    .resource_types
                    .get(r.resource_type().index())
            })
            .map(|t| t.actions)
            .unwrap_or_default();
        (0..self.tenant.config.actions.len() as u32).filter(move |a| actions.contains(*a))
    }

    pub fn action_name(&self, action: u32) -> &'e str {
        self.tenant
            .config
            .actions
            .get(action as usize)
            .map_or("?", String::as_str)
    }

    /// `type:path`.
    pub fn resource_key(&self, resource: ResourceId) -> String {
        self.tables
            .resources
            .get(resource.index())
            .map_or_else(|| "?".to_owned(), |r| self.tables.key(r))
    }

    /// `user:<email>` or `virtualaccount:<name>`; `user:*@<domain>` for a just-in-time member of
    /// a tenant with `jit_domains` (`|` between several domains).
    pub fn principal_name(&self, principal: Principal) -> String {
        match principal {
            Principal::JustInTime => {
                format!("user:*@{}", self.tenant.config.jit_domains.join("|"))
            }
            _ => decide::principal_name(&self.tables, principal),
        }
    }

    /// What a grant is, as `gatehouse check` prints it.
    pub fn grant_text(&self, grant: &GrantRef) -> String {
        decide::grant_text(self.tenant, &self.tables, grant)
    }

    /// A resource reference `TYPE:PATH`.
    pub fn resource(&self, reference: &str) -> Result<ResourceId, AnalysisError> {
        let (ty, path) = reference
            .split_once(':')
            .ok_or_else(|| AnalysisError::ResourceMalformed(reference.to_owned()))?;
        self.tables
            .resource(ty, path)
            .map(|(id, _)| id)
            .ok_or_else(|| AnalysisError::ResourceUnknown {
                tenant: self.tenant_name().to_owned(),
                resource: reference.to_owned(),
            })
    }

    /// A principal reference, `user:<email>` (any case) or `virtualaccount:<name>`.
    pub fn principal(&self, subject: &str) -> Result<Principal, AnalysisError> {
        let unknown = || AnalysisError::PrincipalUnknown {
            tenant: self.tenant_name().to_owned(),
            subject: subject.to_owned(),
        };
        if let Some(email) = subject.strip_prefix("user:") {
            let email = decide::ascii_lowercase(email);
            match self.tables.user(&email) {
                Some((id, _)) => Ok(Principal::User(id)),
                None if self.admits_just_in_time(&email) => Ok(Principal::JustInTime),
                None => Err(unknown()),
            }
        } else if let Some(name) = subject.strip_prefix("virtualaccount:") {
            let (id, _) = self.tables.virtual_account(name).ok_or_else(unknown)?;
            Ok(Principal::VirtualAccount(id))
        } else {
            Err(unknown())
        }
    }

    /// The index of `action` for resources of `resource`'s type.
    pub fn action(&self, resource: ResourceId, action: &str) -> Result<u32, AnalysisError> {
        let record = self.tables.resources.get(resource.index());
        record
            .and_then(|r| action_of(self.tenant, r, action))
            .ok_or_else(|| {
                let ty = record.and_then(|r| {
                    self.tenant
                        .config
                        .resource_types
                        .get(r.resource_type().index())
                });
                AnalysisError::ActionUnknown {
                    resource_type: ty.map_or("?", |t| t.name.as_str()).to_owned(),
                    action: action.to_owned(),
                    actions: self
                        .actions_of(resource)
                        .map(|a| self.action_name(a))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })
    }

    /// What the engine answers for `principal` performing `action` on `resource` at `now`: the
    /// principal checks, then step 7, as for `gatehouse check --as`.
    pub fn decide(
        &self,
        principal: Principal,
        resource: ResourceId,
        action: u32,
        now: i64,
    ) -> Result<Option<GrantRef>, Reason> {
        let caller =
            Caller::of(self.tenant, &self.tables, principal).ok_or(Reason::PrincipalUnknown)?;
        check_principal(&self.tables, &caller, now)?;
        self.authorize(&caller, resource, action)
    }

    fn authorize(
        &self,
        caller: &Caller,
        resource: ResourceId,
        action: u32,
    ) -> Result<Option<GrantRef>, Reason> {
        let record = self
            .tables
            .resources
            .get(resource.index())
            .ok_or(Reason::ResourceUnknown)?;
        let action = self.action_name(action);
        authorize(
            self.tenant,
            &self.tables,
            caller,
            resource,
            record,
            action,
            &mut NoTrace,
        )
    }

    /// Whether a control-plane token for `email`, a user the bundle does not list, would be a
    /// just-in-time member (the engine's own rule).
    fn admits_just_in_time(&self, email: &str) -> bool {
        decide::just_in_time_caller(self.tenant, email).is_ok()
    }

    /// `gatehouse who-can`. In a tenant with `jit_domains`, a just-in-time member is one more
    /// candidate ([`Principal::JustInTime`], listed after the virtual accounts).
    ///
    /// With the principals, the API keys of each allowed one that would be allowed too
    /// ([`WhoCan::credentials`]).
    pub fn who_can(&self, resource: ResourceId, action: u32, now: i64) -> WhoCan {
        let mut who = self.who_can_principals(resource, action, now);
        who.credentials = self.keys_admitted(&who, now);
        who
    }

    /// [`Analysis::who_can`] without the keys (what `diff` compares).
    pub(crate) fn who_can_principals(&self, resource: ResourceId, action: u32, now: i64) -> WhoCan {
        let mut users = vec![false; self.tables.users.len()];
        let mut vas = vec![false; self.tables.virtual_accounts.len()];
        self.candidates_for(resource, action, &mut users, &mut vas);
        let mut out = WhoCan {
            resource,
            action,
            allowed: Vec::new(),
            blocked: Vec::new(),
            credentials: Vec::new(),
        };
        let chosen = |flags: &[bool], make: fn(usize) -> Option<Principal>| {
            flags
                .iter()
                .enumerate()
                .filter(|(_, f)| **f)
                .filter_map(move |(i, _)| make(i))
                .collect::<Vec<_>>()
        };
        let mut candidates = chosen(&users, user);
        candidates.extend(chosen(&vas, va));
        if !self.tenant.config.jit_domains.is_empty() {
            candidates.push(Principal::JustInTime);
        }
        for principal in candidates {
            match self.decide(principal, resource, action, now) {
                Ok(Some(grant)) => out.allowed.push((principal, grant)),
                // A candidate holds a grant that would allow: a denial is narrowing.
                Err(reason) if is_narrowing(reason) => out.blocked.push((principal, reason)),
                Ok(None) | Err(_) => {}
            }
        }
        out
    }

    /// The keys of `who.allowed`'s principals that the engine would allow the same request:
    /// each key resolved as `check --credential` resolves it (revoked, expired, principal
    /// checks), then its scope against the resource and action.
    fn keys_admitted(&self, who: &WhoCan, now: i64) -> Vec<(Principal, KeyId)> {
        if self.tables.credentials.is_empty() || who.allowed.is_empty() {
            return Vec::new();
        }
        let Some(record) = self.tables.resources.get(who.resource.index()) else {
            return Vec::new();
        };
        let path = self.tables.str(record.path);
        let mut users = vec![None; self.tables.users.len()];
        let mut vas = vec![None; self.tables.virtual_accounts.len()];
        for (i, (p, _)) in who.allowed.iter().enumerate() {
            let slot = match p {
                Principal::User(u) => users.get_mut(u.index()),
                Principal::VirtualAccount(v) => vas.get_mut(v.index()),
                Principal::JustInTime => None,
            };
            if let Some(slot) = slot {
                *slot = Some(i);
            }
        }
        let mut keys: Vec<(usize, Principal, KeyId)> = Vec::new();
        for c in self.tables.credentials {
            let id = KeyId(c.id.get());
            let Ok(caller) = credential_of(&self.tables, id, now) else {
                continue;
            };
            let position = match caller.principal {
                Principal::User(u) => users.get(u.index()).copied().flatten(),
                Principal::VirtualAccount(v) => vas.get(v.index()).copied().flatten(),
                Principal::JustInTime => None,
            };
            let Some(position) = position else {
                continue;
            };
            let admitted = match caller_scope(&self.tenant.config, &caller) {
                Ok(None) => true,
                Ok(Some(scope)) => scope.admits(record.resource_type(), path, Some(who.action)),
                Err(_) => false,
            };
            if admitted {
                keys.push((position, caller.principal, id));
            }
        }
        // The table is sorted by id: a stable sort keeps each principal's keys by id.
        keys.sort_by_key(|(position, _, _)| *position);
        keys.into_iter().map(|(_, p, id)| (p, id)).collect()
    }

    /// The API key of `id`, as the bundle records it.
    pub fn credential(&self, id: KeyId) -> Result<KeyInfo, AnalysisError> {
        let record =
            self.tables
                .credential(id.0)
                .ok_or_else(|| AnalysisError::CredentialUnknown {
                    tenant: self.tenant_name().to_owned(),
                    credential: id.to_string(),
                })?;
        Ok(key_info(record))
    }

    /// Every API key of the tenant, by id.
    pub fn credentials(&self) -> impl Iterator<Item = KeyInfo> + '_ {
        self.tables.credentials.iter().map(key_info)
    }

    /// A key scope's rules as the credentials file writes them (`type:path`, `type:prefix/*` or
    /// `type:*`, then `:action` when the rule names actions: one entry per action), sorted.
    pub fn scope_rules(&self, scope: u32) -> Vec<String> {
        let config = &self.tenant.config;
        let Some(scope) = config.credential_scopes.get(scope as usize) else {
            return vec!["?".to_owned()];
        };
        let mut out = Vec::new();
        for rule in &scope.rules {
            let ty = config
                .resource_types
                .get(rule.resource_type.index())
                .map_or("?", |t| t.name.as_str());
            let path = match &rule.path {
                ScopePath::Any => "*".to_owned(),
                ScopePath::Exact(p) => p.clone(),
                ScopePath::Under(p) => format!("{p}/*"),
            };
            match rule.actions {
                None => out.push(format!("{ty}:{path}")),
                Some(actions) => {
                    for a in (0..config.actions.len() as u32).filter(|a| actions.contains(*a)) {
                        out.push(format!("{ty}:{path}:{}", self.action_name(a)));
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// Marks every principal that holds a grant which, without narrowing, allows `action` on
    /// `resource`: a tenant-level role (tenant-admin, or a permission for a type of the chain),
    /// or a collaborator role including the action on the resource or an ancestor.
    fn candidates_for(
        &self,
        resource: ResourceId,
        action: u32,
        users: &mut [bool],
        vas: &mut [bool],
    ) {
        let tables = &self.tables;
        let config = &self.tenant.config;
        let Some(record) = tables.resources.get(resource.index()) else {
            return;
        };
        let nodes: Vec<(ResourceId, TypeId)> = chain(tables, resource, record)
            .map(|(id, r)| (id, r.resource_type()))
            .collect();
        let tenant_granting: Vec<bool> = config
            .roles
            .iter()
            .map(|r| match &r.kind {
                RoleKind::TenantAdmin => true,
                RoleKind::Tenant { permissions } => permissions.iter().any(|(ty, actions)| {
                    actions.contains(action) && nodes.iter().any(|(_, t)| t == ty)
                }),
                RoleKind::Collaborator { .. } => false,
            })
            .collect();
        let granting =
            |role: crate::model::RoleId| tenant_granting.get(role.index()) == Some(&true);
        for (i, u) in tables.users.iter().enumerate() {
            if granting(u.role()) {
                mark(users, i);
            }
        }
        for t in 0..tables.teams.len() {
            let team = TeamId(t as u32);
            if tables.roles_of(team).any(granting) {
                self.mark_subject(Subject::Team(team), users, vas);
            }
        }
        let numbers = tables.subject_numbers();
        for (node, _) in &nodes {
            for (number, role) in tables.grants_of(*node).iter() {
                let includes = config.roles.get(role.index()).is_some_and(|r| {
                    matches!(r.kind, RoleKind::Collaborator { actions, .. } if actions.contains(action))
                });
                if let (true, Some(subject)) = (includes, numbers.subject(number)) {
                    self.mark_subject(subject, users, vas);
                }
            }
        }
    }

    fn mark_subject(&self, subject: Subject, users: &mut [bool], vas: &mut [bool]) {
        match subject {
            Subject::User(u) => mark(users, u.index()),
            Subject::VirtualAccount(v) => mark(vas, v.index()),
            Subject::Team(t) => {
                for u in self.members_of(t) {
                    mark(users, u.index());
                }
            }
            Subject::Everyone => users.iter_mut().for_each(|u| *u = true),
        }
    }

    /// The stored members of a team.
    pub fn members_of(&self, team: TeamId) -> &[UserId] {
        let members = self.members.get_or_init(|| {
            let mut members = vec![Vec::new(); self.tables.teams.len()];
            for u in 0..self.tables.users.len() {
                let id = UserId(u as u32);
                for t in self.tables.teams_of(id) {
                    if let Some(list) = members.get_mut(t.index()) {
                        list.push(id);
                    }
                }
            }
            members
        });
        members.get(team.index()).map_or(&[], Vec::as_slice)
    }

    /// The direct children of a resource.
    pub fn children_of(&self, resource: ResourceId) -> &[ResourceId] {
        let children = self.children.get_or_init(|| {
            let mut children = vec![Vec::new(); self.tables.resources.len()];
            for (i, r) in self.tables.resources.iter().enumerate() {
                if let Some(list) = r.parent().and_then(|p| children.get_mut(p.index())) {
                    list.push(ResourceId(i as u32));
                }
            }
            children
        });
        children.get(resource.index()).map_or(&[], Vec::as_slice)
    }

    /// A resource and all its descendants, each once.
    pub fn subtree(&self, resource: ResourceId, into: &mut [bool]) {
        let mut stack = vec![resource];
        while let Some(r) = stack.pop() {
            if into.get(r.index()) == Some(&false) {
                mark(into, r.index());
                stack.extend_from_slice(self.children_of(r));
            }
        }
    }

    /// `gatehouse what-can`, optionally only for resources of `resource_type` and for `action`.
    pub fn what_can(
        &self,
        principal: Principal,
        resource_type: Option<&str>,
        action: Option<&str>,
        now: i64,
    ) -> Result<WhatCan, AnalysisError> {
        let unknown = || AnalysisError::PrincipalUnknown {
            tenant: self.tenant_name().to_owned(),
            subject: self.principal_name(principal),
        };
        let caller = Caller::of(self.tenant, &self.tables, principal).ok_or_else(unknown)?;
        let checked = check_principal(&self.tables, &caller, now).map(|()| caller);
        self.what_can_as(principal, None, checked, resource_type, action)
    }

    /// `gatehouse what-can --credential`: what a request presenting the key of `id` may do at
    /// `now`: its principal's access, narrowed by the key's scope (pairs the principal may act
    /// on that the scope excludes are blocked, `credential_out_of_scope`); nothing for a revoked
    /// or expired key ([`WhatCan::denied`]).
    pub fn what_can_credential(
        &self,
        id: KeyId,
        resource_type: Option<&str>,
        action: Option<&str>,
        now: i64,
    ) -> Result<WhatCan, AnalysisError> {
        let key = self.credential(id)?;
        let principal = key
            .principal
            .ok_or_else(|| AnalysisError::CredentialOrphaned {
                tenant: self.tenant_name().to_owned(),
                credential: id.to_string(),
            })?;
        let caller = credential_of(&self.tables, id, now);
        self.what_can_as(principal, Some(id), caller, resource_type, action)
    }

    fn what_can_as(
        &self,
        principal: Principal,
        credential: Option<KeyId>,
        caller: Result<Caller, Reason>,
        resource_type: Option<&str>,
        action: Option<&str>,
    ) -> Result<WhatCan, AnalysisError> {
        let config = &self.tenant.config;
        let type_filter = resource_type
            .map(|name| {
                config
                    .resource_types
                    .iter()
                    .position(|t| t.name == name)
                    .map(|i| TypeId(i as u32))
                    .ok_or_else(|| AnalysisError::TypeUnknown {
                        tenant: self.tenant_name().to_owned(),
                        resource_type: name.to_owned(),
                    })
            })
            .transpose()?;
        let action_filter = action
            .map(|name| {
                config
                    .actions
                    .iter()
                    .position(|a| a == name)
                    .map(|i| i as u32)
                    .ok_or_else(|| AnalysisError::ActionUnknown {
                        resource_type: resource_type.unwrap_or("any").to_owned(),
                        action: name.to_owned(),
                        actions: config.actions.join(", "),
                    })
            })
            .transpose()?;
        let mut out = WhatCan {
            principal,
            credential,
            denied: None,
            allowed: Vec::new(),
            blocked: Vec::new(),
        };
        let caller = match caller {
            Ok(caller) => caller,
            Err(reason) => {
                out.denied = Some(reason);
                return Ok(out);
            }
        };
        let scope = match caller_scope(config, &caller) {
            Ok(scope) => scope,
            Err(reason) => {
                out.denied = Some(reason);
                return Ok(out);
            }
        };
        let candidates = self.reachable(&caller);
        for (i, reached) in candidates.iter().enumerate() {
            let Some(record) = self.tables.resources.get(i).filter(|_| *reached != 0) else {
                continue;
            };
            if type_filter.is_some_and(|t| t != record.resource_type()) {
                continue;
            }
            let resource = ResourceId(i as u32);
            for a in self.actions_of(resource) {
                if action_filter.is_some_and(|f| f != a) || !ActionSet(*reached).contains(a) {
                    continue;
                }
                let answer = self.authorize(&caller, resource, a);
                // The engine checks a key's scope before the resource: outside it, that is the
                // answer wherever a grant of the principal reaches.
                let in_scope = scope.is_none_or(|s| {
                    s.admits(
                        record.resource_type(),
                        self.tables.str(record.path),
                        Some(a),
                    )
                });
                match answer {
                    _ if !in_scope && reaches(answer) => {
                        out.blocked
                            .push((resource, a, Reason::CredentialOutOfScope));
                    }
                    Ok(Some(grant)) => out.allowed.push((resource, a, grant)),
                    Err(reason) if is_narrowing(reason) => out.blocked.push((resource, a, reason)),
                    Ok(None) | Err(_) => {}
                }
            }
        }
        Ok(out)
    }

    /// Per resource, the actions a grant of `caller` could allow there: every action for a
    /// tenant admin; else the actions a tenant-level role permits on a type, on every resource of
    /// that type, and the actions of every collaborator role a subject of the caller holds on a
    /// resource, there; each spread to the descendants (2.4).
    fn reachable(&self, caller: &Caller) -> Vec<u64> {
        let tables = &self.tables;
        let config = &self.tenant.config;
        let count = tables.resources.len();
        let roles = decide::tenant_roles(tables, caller);
        let kinds = || {
            roles
                .iter()
                .filter_map(|(_, r)| config.roles.get(r.index()))
        };
        if kinds().any(|r| matches!(r.kind, RoleKind::TenantAdmin)) {
            return vec![u64::MAX; count];
        }
        let mut reached = vec![0u64; count];
        for role in kinds() {
            if let RoleKind::Tenant { permissions } = &role.kind {
                for (ty, actions) in permissions {
                    let run = tables.type_ranges.get(ty.index()).cloned().unwrap_or(0..0);
                    for i in run {
                        self.spread(ResourceId(i as u32), actions.0, &mut reached);
                    }
                }
            }
        }
        let numbers = tables.subject_numbers();
        let mine: Vec<u64> = caller
            .subjects
            .iter()
            .filter_map(|s| numbers.number(*s))
            .collect();
        for resource in self.resources() {
            for (n, role) in tables.grants_of(resource).iter() {
                if !mine.contains(&n) {
                    continue;
                }
                if let Some(RoleKind::Collaborator { actions, .. }) =
                    config.roles.get(role.index()).map(|r| &r.kind)
                {
                    self.spread(resource, actions.0, &mut reached);
                }
            }
        }
        reached
    }

    /// Adds `actions` to a resource and its descendants.
    fn spread(&self, resource: ResourceId, actions: u64, reached: &mut [u64]) {
        let mut stack = vec![resource];
        while let Some(r) = stack.pop() {
            let Some(slot) = reached.get_mut(r.index()) else {
                continue;
            };
            // Whatever holds these actions already got them with its whole subtree.
            if *slot & actions == actions {
                continue;
            }
            *slot |= actions;
            stack.extend_from_slice(self.children_of(r));
        }
    }
}

/// The denials that narrowing (2.5) causes, as opposed to holding no grant.
///
/// Every reason is named, so a new one does not compile until it is placed on one side.
pub fn is_narrowing(reason: Reason) -> bool {
    use Reason::*;
    match reason {
        PrincipalInactive | PrincipalExpired | ResourceDisabled | NotAuthorizedSubject
        | CredentialOutOfScope => true,
        TokenMissing | TokenMalformed | AlgNotAllowed | IssuerUnknown | KeyUnknown
        | SignatureInvalid | TokenExpired | TokenNotYetValid | AudienceMismatch | TokenRevoked
        | TenantUnknown | TenantMismatch | PrincipalUnknown | NoRoute | ResourceUnresolved
        | ResourceUnknown | NoGrant | BodyTooLarge | BodyInvalid | PathNotCanonical
        | UnsupportedMediaType | AuthorityInvalid | CrossSiteRequest | RequestAmbiguous
        | CredentialUnknown | InsufficientScope => false,
    }
}

/// Whether an answer of step 7 is one a grant of the caller reaches: allowed, or stopped by
/// narrowing.
fn reaches(answer: Result<Option<GrantRef>, Reason>) -> bool {
    match answer {
        Ok(grant) => grant.is_some(),
        Err(reason) => is_narrowing(reason),
    }
}

fn key_info(record: &crate::bundle::CredentialRecord) -> KeyInfo {
    let (revoked, scope) = match record.state() {
        CredentialState::Revoked => (true, None),
        CredentialState::Live { scope } => (false, scope),
    };
    let principal = record
        .principal_code()
        .map(|code| SubjectCode::from_wire(zerocopy::little_endian::U32::new(code)).subject())
        .and_then(|s| match s {
            Subject::User(u) => Some(Principal::User(u)),
            Subject::VirtualAccount(v) => Some(Principal::VirtualAccount(v)),
            Subject::Team(_) | Subject::Everyone => None,
        });
    KeyInfo {
        id: KeyId(record.id.get()),
        principal,
        expires: record.expires(),
        revoked,
        scope,
    }
}

fn mark(flags: &mut [bool], i: usize) {
    if let Some(f) = flags.get_mut(i) {
        *f = true;
    }
}

fn user(i: usize) -> Option<Principal> {
    Some(Principal::User(UserId(u32::try_from(i).ok()?)))
}

fn va(i: usize) -> Option<Principal> {
    Some(Principal::VirtualAccount(VirtualAccountId(
        u32::try_from(i).ok()?,
    )))
}
