//! Everything the request path relies on without checking again, checked once at load: the
//! section layout and each tenant's tables (`docs/bundle-format.md` 2 and 4).

use core::cmp::Ordering;
use core::ops::Range;

use zerocopy::little_endian::U32;

use super::error::{corrupt, LoadError};
use super::format::{
    CredentialState, Directory, StrRef, SubjectCode, MAX_DEPTH, RESOURCE_DISABLED,
    RESOURCE_RESTRICTED, USER_ACTIVE,
};
use super::tables::{cmp_concat, Tables};
use crate::model::{
    Algorithm, Gateway, ResolveTo, ResourceId, RoleKind, Subject, TeamId, TenantConfig, UserId,
    MAX_ACTIONS,
};

/// The sections follow the directory back to back, in strictly increasing id order, and the last
/// one ends the body. `dir_end` is where the directory ends in the body.
pub(super) fn sections(
    directory: &Directory<'_>,
    dir_end: usize,
    body_len: usize,
) -> Result<(), LoadError> {
    let mut previous_end = dir_end;
    let mut previous_id = None;
    for entry in directory.entries {
        let range = entry.range().ok_or(LoadError::Truncated("section"))?;
        if range.end > body_len {
            return Err(LoadError::Truncated("section"));
        }
        if range.start < previous_end {
            return Err(corrupt("overlapping or unordered sections"));
        }
        let id = entry.id.get();
        if previous_id.is_some_and(|last| last >= id) {
            return Err(corrupt("section ids out of order"));
        }
        previous_end = range.end;
        previous_id = Some(id);
    }
    if previous_end != body_len {
        return Err(corrupt("unreferenced bytes after the last section"));
    }
    Ok(())
}

/// A table record kind, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    User,
    Team,
    VirtualAccount,
    Resource,
    Mapping,
    Credential,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::User => "user",
            Table::Team => "team",
            Table::VirtualAccount => "virtual account",
            Table::Resource => "resource",
            Table::Mapping => "mapping",
            Table::Credential => "API key",
        }
    }
}

/// Which invariant of a tenant's tables a bundle breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    TooManyActions,
    /// A type whose parent is not a type.
    TypeParent(String),
    /// A role that names an unknown type.
    RoleType(String),
    UnknownAlgorithm,
    /// A string or list reference of a record out of bounds.
    OutOfBounds(Table),
    /// A table not strictly sorted by its key.
    NotSorted(Table),
    UserRole(String),
    UserTeam(String),
    TeamRole(String),
    ResourceType(String),
    ResourceParent(String),
    ResourceDepth(String),
    /// A pool's runs (their starts in the owning table) that do not cover it in order.
    Runs(&'static str),
    /// Unknown flag bits on a user or resource.
    Flags(String),
    GrantTarget(String),
    GrantsNotSorted(String),
    Authorized(String),
    MappingProvider,
    MappingTarget,
    /// An API key of an unknown or non-user, non-virtual-account principal, or an unknown scope.
    Credential(String),
    /// A scope rule of an unknown type.
    CredentialScope,
    /// Two actions, resource types or roles of one name: lookups by name would read the first,
    /// so the name has two readings.
    DuplicateName(String),
}

impl core::fmt::Display for Invalid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Invalid::TooManyActions => f.write_str("more than 64 actions"),
            Invalid::TypeParent(t) => write!(f, "type `{t}` has an unknown parent"),
            Invalid::RoleType(r) => write!(f, "role `{r}` names an unknown type"),
            Invalid::UnknownAlgorithm => f.write_str("unknown algorithm"),
            Invalid::OutOfBounds(t) => write!(f, "{} record out of bounds", t.name()),
            Invalid::NotSorted(t) => write!(f, "{}s not sorted", t.name()),
            Invalid::UserRole(u) => write!(f, "user `{u}` has an unknown role"),
            Invalid::UserTeam(u) => write!(f, "user `{u}` is in an unknown team"),
            Invalid::TeamRole(t) => write!(f, "team `{t}` has an unknown role"),
            Invalid::ResourceType(r) => write!(f, "resource `{r}` has an unknown type"),
            Invalid::ResourceParent(r) => write!(f, "resource `{r}` has an unknown parent"),
            Invalid::ResourceDepth(r) => {
                write!(f, "resource `{r}` is nested too deep or in a cycle")
            }
            Invalid::Runs(pool) => write!(f, "{pool} are not cut into consecutive runs"),
            Invalid::Flags(r) => write!(f, "`{r}` has unknown flags"),
            Invalid::GrantTarget(r) => {
                write!(f, "grant on `{r}` names an unknown subject or role")
            }
            Invalid::GrantsNotSorted(r) => write!(f, "grants of `{r}` not sorted"),
            Invalid::Authorized(r) => write!(f, "authorized subjects of `{r}` invalid"),
            Invalid::MappingProvider => f.write_str("mapping names an unknown identity provider"),
            Invalid::MappingTarget => f.write_str("mapping names an unknown target"),
            Invalid::Credential(id) => {
                write!(f, "API key `{id}` names an unknown principal or scope")
            }
            Invalid::CredentialScope => f.write_str("an API key scope names an unknown type"),
            Invalid::DuplicateName(name) => write!(f, "`{name}` is defined twice"),
        }
    }
}

/// What the compiler guarantees of each route's `mcp:` block, checked again at load: its values
/// reach URLs, metadata documents and `WWW-Authenticate` parameters.
pub(super) fn gateway(gateway: &Gateway) -> Result<(), &'static str> {
    for mcp in gateway.routes.iter().filter_map(|r| r.mcp.as_ref()) {
        if mcp
            .scheme
            .as_deref()
            .is_some_and(|s| !crate::mcp::is_scheme(s))
        {
            return Err("gateway: an MCP route's scheme is neither https nor http");
        }
        if !mcp.scopes.iter().all(|s| crate::mcp::is_scope_token(s)) {
            return Err("gateway: an MCP route's scope is not a scope token");
        }
        if !mcp.audiences.iter().all(|a| crate::mcp::is_audience(a)) {
            return Err("gateway: an MCP route's audience holds a control character or quote");
        }
        if mcp.max_response_bytes == 0 {
            return Err("gateway: an MCP route's tools_list.max_bytes is 0");
        }
    }
    Ok(())
}

/// The types and roles of a tenant's CONFIG refer to each other in range.
fn config(config: &TenantConfig) -> Result<(), Invalid> {
    if config.actions.len() > MAX_ACTIONS {
        return Err(Invalid::TooManyActions);
    }
    // Actions, types and roles are looked up by name (route targets, scopes, the tenant-member
    // role): each name must stand for one of them.
    let mut seen = std::collections::BTreeSet::new();
    let names = config
        .actions
        .iter()
        .map(|a| ("action", a))
        .chain(config.resource_types.iter().map(|t| ("type", &t.name)))
        .chain(config.roles.iter().map(|r| ("role", &r.name)));
    for (kind, name) in names {
        if !seen.insert((kind, name)) {
            return Err(Invalid::DuplicateName(format!("{kind} {name}")));
        }
    }
    let types = config.resource_types.len();
    for ty in &config.resource_types {
        if ty.parent.is_some_and(|p| p.index() >= types) {
            return Err(Invalid::TypeParent(ty.name.clone()));
        }
    }
    for role in &config.roles {
        let in_range = match &role.kind {
            RoleKind::Collaborator { resource_type, .. } => resource_type.index() < types,
            RoleKind::Tenant { permissions } => {
                permissions.iter().all(|(ty, _)| ty.index() < types)
            }
            RoleKind::TenantAdmin => true,
        };
        if !in_range {
            return Err(Invalid::RoleType(role.name.clone()));
        }
    }
    for idp in &config.identity_providers {
        if idp
            .algorithms
            .iter()
            .any(|a| Algorithm::ALL.iter().all(|b| b != a))
        {
            return Err(Invalid::UnknownAlgorithm);
        }
    }
    Ok(())
}

/// Checks that `key` sorts strictly after the previous record's key and makes it the previous.
fn next_key<K: PartialOrd>(previous: &mut Option<K>, key: K, table: Table) -> Result<(), Invalid> {
    if previous.as_ref().is_some_and(|p| *p >= key) {
        return Err(Invalid::NotSorted(table));
    }
    *previous = Some(key);
    Ok(())
}

fn str_ok(t: &Tables<'_>, r: StrRef) -> bool {
    r.range()
        .and_then(|range| t.strings.get(range))
        .is_some_and(|b| core::str::from_utf8(b).is_ok())
}

/// The run starts of `records` cut a pool of `pool_len` entries into consecutive runs, in
/// record order, that cover it exactly: the first starts at 0, starts never decrease, and none
/// lies past the pool (the last run ends the pool).
fn runs_ok<T>(records: &[T], start_of: impl Fn(&T) -> U32, pool_len: usize) -> bool {
    let mut previous = 0usize;
    for (i, record) in records.iter().enumerate() {
        let start = start_of(record).get() as usize;
        if (i == 0 && start != 0) || start < previous || start > pool_len {
            return false;
        }
        previous = start;
    }
    !records.is_empty() || pool_len == 0
}

fn strictly_ascending<T: PartialOrd>(items: impl Iterator<Item = T>) -> bool {
    let mut previous = None;
    for item in items {
        if previous.as_ref().is_some_and(|p| *p >= item) {
            return false;
        }
        previous = Some(item);
    }
    true
}

/// A tenant's tables against its CONFIG (`docs/bundle-format.md` 4, "Invariants checked at
/// load"). Returns, per resource type, its run of RESOURCES.
pub(super) fn tables(cfg: &TenantConfig, t: &Tables<'_>) -> Result<Vec<Range<usize>>, Invalid> {
    config(cfg)?;
    let roles = cfg.roles.len();
    let subject_ok = |code: SubjectCode| -> bool {
        match code.subject() {
            Subject::User(u) => u.index() < t.users.len(),
            Subject::Team(team) => team.index() < t.teams.len(),
            Subject::VirtualAccount(v) => v.index() < t.virtual_accounts.len(),
            Subject::Everyone => code.is_canonical(),
        }
    };

    if !t.domains.iter().all(|d| str_ok(t, *d)) {
        return Err(Invalid::OutOfBounds(Table::User));
    }
    if !runs_ok(t.users, |u| u.teams_start, t.user_teams.len()) {
        return Err(Invalid::Runs("user teams"));
    }
    let mut previous: Option<[&[u8]; 2]> = None;
    for (i, u) in t.users.iter().enumerate() {
        let domain_ok = u.domain().is_none_or(|d| d < t.domains.len());
        if !str_ok(t, u.local) || !domain_ok {
            return Err(Invalid::OutOfBounds(Table::User));
        }
        let email = t.email_parts(u);
        if previous.is_some_and(|p| cmp_concat(p, email) != Ordering::Less) {
            return Err(Invalid::NotSorted(Table::User));
        }
        previous = Some(email);
        let named = || t.email(u);
        if u.role().index() >= roles {
            return Err(Invalid::UserRole(named()));
        }
        if u.flags & !USER_ACTIVE != 0 {
            return Err(Invalid::Flags(named()));
        }
        let id = UserId(i as u32);
        if t.teams_of(id).any(|team| team.index() >= t.teams.len())
            || !strictly_ascending(t.teams_of(id))
        {
            return Err(Invalid::UserTeam(named()));
        }
    }
    if !runs_ok(t.teams, |team| team.roles_start, t.team_roles.len()) {
        return Err(Invalid::Runs("team roles"));
    }
    let mut previous = None;
    for (i, team) in t.teams.iter().enumerate() {
        let name = keyed(t, &mut previous, Table::Team, team.name)?;
        let id = TeamId(i as u32);
        if t.roles_of(id).any(|r| r.index() >= roles) || !strictly_ascending(t.roles_of(id)) {
            return Err(Invalid::TeamRole(name.to_owned()));
        }
    }
    let mut previous = None;
    for va in t.virtual_accounts {
        keyed(t, &mut previous, Table::VirtualAccount, va.name)?;
    }

    if !runs_ok(t.resources, |r| r.grants_start, t.grants.len()) {
        return Err(Invalid::Runs("grants"));
    }
    if !runs_ok(t.resources, |r| r.authorized_start, t.authorized.len()) {
        return Err(Invalid::Runs("authorized subjects"));
    }
    let numbers = t.subject_numbers();
    let mut type_ranges: Vec<Range<usize>> = vec![0..0; cfg.resource_types.len()];
    let mut previous: Option<[&[u8]; 3]> = None;
    for (index, r) in t.resources.iter().enumerate() {
        if !str_ok(t, r.path) {
            return Err(Invalid::OutOfBounds(Table::Resource));
        }
        let named = || t.key(r);
        let Some(range) = type_ranges.get_mut(r.resource_type().index()) else {
            return Err(Invalid::ResourceType(named()));
        };
        let key = t.key_parts(r);
        if previous.is_some_and(|p| cmp_concat(p, key) != Ordering::Less) {
            return Err(Invalid::NotSorted(Table::Resource));
        }
        previous = Some(key);
        // Keys are sorted and start with `<type name>:`, so each type's resources are
        // contiguous; a type seen again after another is a corrupt table all the same.
        if range.start == range.end {
            *range = index..index + 1;
        } else if range.end == index {
            range.end = index + 1;
        } else {
            return Err(Invalid::NotSorted(Table::Resource));
        }
        if r.flags & !(RESOURCE_DISABLED | RESOURCE_RESTRICTED) != 0 {
            return Err(Invalid::Flags(named()));
        }
        // Parents precede nothing in particular (the table is sorted by key), so bound the
        // depth instead: a cycle shows up as a chain longer than the table.
        if let Some(parent) = r.parent() {
            if parent.index() >= t.resources.len() || parent.index() == index {
                return Err(Invalid::ResourceParent(named()));
            }
            let mut depth = 0usize;
            let mut cursor = Some(parent);
            while let Some(at) = cursor {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Invalid::ResourceDepth(named()));
                }
                cursor = t.resources.get(at.index()).and_then(|p| p.parent());
            }
        }
        let id = ResourceId(index as u32);
        let grants = t.grants_of(id);
        let mut last = None;
        for value in grants.values.iter() {
            let (n, role) = grants.split(value);
            if n > numbers.everyone() || role.index() >= roles {
                return Err(Invalid::GrantTarget(named()));
            }
            if last.is_some_and(|p| p >= value) {
                return Err(Invalid::GrantsNotSorted(named()));
            }
            last = Some(value);
        }
        let authorized = t.authorized_of(id);
        let codes = || authorized.iter().map(|c| SubjectCode::from_wire(*c));
        if (!r.is_restricted() && !authorized.is_empty())
            || codes().any(|c| !subject_ok(c))
            || !strictly_ascending(codes())
        {
            return Err(Invalid::Authorized(named()));
        }
    }
    let mut previous = None;
    for m in t.mappings {
        if !str_ok(t, m.value) {
            return Err(Invalid::OutOfBounds(Table::Mapping));
        }
        let Some(provider) = cfg.identity_providers.get(m.idp().index()) else {
            return Err(Invalid::MappingProvider);
        };
        let target = m.target.get() as usize;
        let in_range = match provider.resolve_to {
            ResolveTo::User { .. } => target < t.teams.len(),
            ResolveTo::VirtualAccount { .. } => target < t.virtual_accounts.len(),
        };
        if !in_range {
            return Err(Invalid::MappingTarget);
        }
        next_key(
            &mut previous,
            (m.idp(), t.str(m.value), m.target.get()),
            Table::Mapping,
        )?;
    }
    if cfg
        .credential_scopes
        .iter()
        .flat_map(|s| &s.rules)
        .any(|r| r.resource_type.index() >= cfg.resource_types.len())
    {
        return Err(Invalid::CredentialScope);
    }
    let mut previous = None;
    for c in t.credentials {
        next_key(&mut previous, c.id.get(), Table::Credential)?;
        let principal_ok = c.principal_code().is_none_or(|code| {
            let code = SubjectCode::from_wire(U32::new(code));
            matches!(
                code.subject(),
                Subject::User(_) | Subject::VirtualAccount(_)
            ) && subject_ok(code)
        });
        let scope_ok = match c.state() {
            CredentialState::Revoked | CredentialState::Live { scope: None } => true,
            CredentialState::Live { scope: Some(i) } => (i as usize) < cfg.credential_scopes.len(),
        };
        if !principal_ok || !scope_ok {
            return Err(Invalid::Credential(format!("{:016x}", c.id.get())));
        }
    }
    Ok(type_ranges)
}

/// A record's name string in bounds, and after the previous record's: the name.
fn keyed<'a>(
    t: &Tables<'a>,
    previous: &mut Option<&'a str>,
    table: Table,
    key: StrRef,
) -> Result<&'a str, Invalid> {
    if !str_ok(t, key) {
        return Err(Invalid::OutOfBounds(table));
    }
    let key = t.str(key);
    next_key(previous, key, table)?;
    Ok(key)
}
