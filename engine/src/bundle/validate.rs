//! Everything the request path relies on without checking again, checked once at load: the
//! section layout and each tenant's tables (`docs/bundle-format.md` 2 and 4).

use super::error::{corrupt, LoadError};
use super::format::{Directory, ListRef, StrRef, SubjectCode, MAX_DEPTH};
use super::tables::Tables;
use crate::model::{Algorithm, ResolveTo, RoleKind, Subject, TenantConfig, MAX_ACTIONS};

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
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::User => "user",
            Table::Team => "team",
            Table::VirtualAccount => "virtual account",
            Table::Resource => "resource",
            Table::Mapping => "mapping",
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
    ResourceKey(String),
    ResourceParent(String),
    ResourceDepth(String),
    GrantsNotContiguous(String),
    GrantsOutOfBounds(String),
    GrantTarget(String),
    GrantsNotSorted(String),
    Authorized(String),
    OrphanGrants,
    MappingProvider,
    MappingTarget,
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
            Invalid::ResourceKey(r) => write!(f, "resource `{r}` does not start with its type"),
            Invalid::ResourceParent(r) => write!(f, "resource `{r}` has an unknown parent"),
            Invalid::ResourceDepth(r) => {
                write!(f, "resource `{r}` is nested too deep or in a cycle")
            }
            Invalid::GrantsNotContiguous(r) => write!(f, "grants of `{r}` are not contiguous"),
            Invalid::GrantsOutOfBounds(r) => write!(f, "grants of `{r}` out of bounds"),
            Invalid::GrantTarget(r) => {
                write!(f, "grant on `{r}` names an unknown subject or role")
            }
            Invalid::GrantsNotSorted(r) => write!(f, "grants of `{r}` not sorted"),
            Invalid::Authorized(r) => write!(f, "authorized subjects of `{r}` invalid"),
            Invalid::OrphanGrants => f.write_str("grants not owned by any resource"),
            Invalid::MappingProvider => f.write_str("mapping names an unknown identity provider"),
            Invalid::MappingTarget => f.write_str("mapping names an unknown target"),
        }
    }
}

/// The types and roles of a tenant's CONFIG refer to each other in range.
fn config(config: &TenantConfig) -> Result<(), Invalid> {
    if config.actions.len() > MAX_ACTIONS {
        return Err(Invalid::TooManyActions);
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

fn list_ok(t: &Tables<'_>, r: ListRef) -> bool {
    r.range().is_some_and(|range| range.end <= t.lists.len())
}

/// A record's key string and lists in bounds, and its key after the previous record's: the
/// key.
fn keyed<'a>(
    t: &Tables<'a>,
    previous: &mut Option<&'a str>,
    table: Table,
    key: StrRef,
    lists: &[ListRef],
) -> Result<&'a str, Invalid> {
    if !str_ok(t, key) || !lists.iter().all(|l| list_ok(t, *l)) {
        return Err(Invalid::OutOfBounds(table));
    }
    let key = t.str(key);
    next_key(previous, key, table)?;
    Ok(key)
}

/// A tenant's tables against its CONFIG (`docs/bundle-format.md` 4, "Invariants checked at
/// load").
pub(super) fn tables(cfg: &TenantConfig, t: &Tables<'_>) -> Result<(), Invalid> {
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

    let mut previous = None;
    for u in t.users {
        let email = keyed(t, &mut previous, Table::User, u.email, &[u.teams])?;
        if u.role().index() >= roles {
            return Err(Invalid::UserRole(email.to_owned()));
        }
        if t.teams_of(u).any(|team| team.index() >= t.teams.len()) {
            return Err(Invalid::UserTeam(email.to_owned()));
        }
    }
    let mut previous = None;
    for team in t.teams {
        let name = keyed(t, &mut previous, Table::Team, team.name, &[team.roles])?;
        if t.roles_of(team).any(|r| r.index() >= roles) {
            return Err(Invalid::TeamRole(name.to_owned()));
        }
    }
    let mut previous = None;
    for va in t.virtual_accounts {
        keyed(t, &mut previous, Table::VirtualAccount, va.name, &[])?;
    }
    let mut previous = None;
    let mut next_grant = 0usize;
    for (index, r) in t.resources.iter().enumerate() {
        let key = keyed(t, &mut previous, Table::Resource, r.key, &[r.authorized])?;
        let named = || key.to_owned();
        let Some(type_name) = cfg
            .resource_types
            .get(r.resource_type().index())
            .map(|t| t.name.as_str())
        else {
            return Err(Invalid::ResourceType(named()));
        };
        if !key
            .strip_prefix(type_name)
            .is_some_and(|rest| rest.starts_with(':'))
        {
            return Err(Invalid::ResourceKey(named()));
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
        if r.grants_start.get() as usize != next_grant {
            return Err(Invalid::GrantsNotContiguous(named()));
        }
        next_grant = r
            .grants()
            .map(|range| range.end)
            .filter(|end| *end <= t.grants.len())
            .ok_or_else(|| Invalid::GrantsOutOfBounds(named()))?;
        let grants = t.grants_of(r);
        if grants
            .iter()
            .any(|g| !subject_ok(g.subject()) || g.role().index() >= roles)
        {
            return Err(Invalid::GrantTarget(named()));
        }
        if !grants
            .windows(2)
            .all(|w| matches!(w, [a, b] if (a.subject(), a.role()) < (b.subject(), b.role())))
        {
            return Err(Invalid::GrantsNotSorted(named()));
        }
        let authorized = t.list(r.authorized);
        let codes = || authorized.iter().map(|c| SubjectCode::from_wire(*c));
        if codes().any(|c| !subject_ok(c))
            || !authorized
                .windows(2)
                .all(|w| matches!(w, [a, b] if a.get() < b.get()))
        {
            return Err(Invalid::Authorized(named()));
        }
    }
    if next_grant != t.grants.len() {
        return Err(Invalid::OrphanGrants);
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
    Ok(())
}
