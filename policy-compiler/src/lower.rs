//! Lowering: parsed tenant files ([`crate::source`]) -> the validated IR ([`model::Policy`]).
//!
//! The one place that establishes the IR's invariants (see `gatehouse_engine::model`): every
//! reference resolved to an index, lookup tables sorted by name (emails lowercased), at most
//! [`MAX_ACTIONS`] action names per tenant, grants sorted and deduplicated. It reports every
//! error it finds, not only the first, and its output does not depend on hash iteration order
//! (only `BTreeMap`s and sorted vectors).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_engine::model::{
    self, ActionSet, Algorithm, Grant, IdpId, Jwk, Policy, ResolveTo, ResourceId, RoleId, RoleKind,
    Subject, TeamId, TypeId, UserId, VirtualAccountId, MAX_ACTIONS,
};
use marked_yaml::{Span, Spanned};
use sha2::{Digest, Sha256};

use crate::catalog::{self, RoleActions, EVERYONE, TENANT_ADMIN, TENANT_MEMBER};
use crate::diagnostics::{Diagnostic, FileDiagnostics};
use crate::source::{
    IdpMappingSpec, PermissionSpec, ResolveToSpec, ResourceSpec, SpannedString, TenantFile,
};

/// One parsed tenant file and where it came from.
#[derive(Debug)]
pub struct TenantSource<'a> {
    /// Named in diagnostics.
    pub file: &'a Path,
    /// The file's text, for diagnostic snippets.
    pub text: Option<Arc<str>>,
    /// `jwks_file:` paths are relative to this directory.
    pub base_dir: &'a Path,
    pub spec: &'a TenantFile,
}

/// Lowers every tenant and assembles the policy. `revision`: `None` derives a short hex digest
/// of the compiled policy, so the same input always gets the same revision (the serial is not
/// part of it). `serial`: the bundle's monotonic serial, given by the caller so that the same
/// input and serial always give the same policy.
pub fn lower(
    gateway: model::Gateway,
    tenants: &[TenantSource<'_>],
    revision: Option<&str>,
    serial: u64,
) -> Result<Policy, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut lowered = Vec::new();
    for source in tenants {
        let mut d = FileDiagnostics {
            file: source.file,
            text: source.text.clone(),
            out: &mut out,
        };
        if let Some(tenant) = lower_tenant(&mut d, source.base_dir, source.spec) {
            lowered.push(tenant);
        }
    }
    check_across_tenants(tenants, &mut out);
    if !out.is_empty() {
        return Err(out);
    }
    lowered.sort_by(|a, b| a.name.cmp(&b.name));
    let mut policy = Policy {
        revision: String::new(),
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        // Set after the revision is derived: the same policy keeps its revision whatever its
        // serial.
        serial: 0,
        gateway,
        tenants: lowered,
    };
    policy.revision = match revision {
        Some(r) => r.to_string(),
        None => content_revision(&policy),
    };
    policy.serial = serial;
    Ok(policy)
}

/// First 12 hex digits of SHA-256 over the policy's JSON form (which has no maps, so it is
/// deterministic). The JSON is streamed into the hash, never held (it is ~100 MB for a
/// 1M-grant tenant); the digest is the same as over `serde_json::to_vec(policy)`.
fn content_revision(policy: &Policy) -> String {
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hasher = HashWriter(Sha256::new());
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut hasher);
        // Writing into a hash cannot fail, and `Policy` serializes without error.
        let _ = serde_json::to_writer(&mut out, policy);
        let _ = out.flush();
    }
    let digest = hasher.0.finalize();
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Duplicate tenant names, a host claimed by two tenants, and hostless tenants in a bundle of
/// several (only a single tenant may serve every host).
fn check_across_tenants(tenants: &[TenantSource<'_>], out: &mut Vec<Diagnostic>) {
    let mut names: BTreeMap<&str, (&Path, usize)> = BTreeMap::new();
    let mut hosts: BTreeMap<String, (&Path, usize, &str)> = BTreeMap::new();
    for source in tenants {
        let mut d = FileDiagnostics {
            file: source.file,
            text: source.text.clone(),
            out: &mut *out,
        };
        let tenant = &source.spec.tenant;
        let line = tenant.name.span().start().map_or(0, |m| m.line());
        if let Some((file, first)) = names.get(tenant.name.as_str()) {
            d.error(
                tenant.name.span(),
                format!(
                    "duplicate tenant `{}` (first defined at {}:{first})",
                    *tenant.name,
                    file.display()
                ),
            );
        } else {
            names.insert(tenant.name.as_str(), (source.file, line));
        }
        if tenant.hosts.is_empty() && tenants.len() > 1 {
            d.error(
                tenant.name.span(),
                format!("tenant `{}` lists no `hosts`; only a bundle with a single tenant may omit them", *tenant.name),
            );
        }
        let mut own = BTreeSet::new();
        for host in &tenant.hosts {
            let host_lc = host.to_ascii_lowercase();
            if !own.insert(host_lc.clone()) {
                continue;
            }
            let host_line = host.span().start().map_or(0, |m| m.line());
            if let Some((file, first, other)) = hosts.get(&host_lc) {
                d.error(
                    host.span(),
                    format!(
                        "host `{host_lc}` is already served by tenant `{other}` ({}:{first})",
                        file.display()
                    ),
                );
            } else {
                hosts.insert(host_lc, (source.file, host_line, tenant.name.as_str()));
            }
        }
    }
}

/// A resource type while the tenant's catalog is built.
struct TypeInfo {
    name: String,
    parent: Option<String>,
    children_key: Option<String>,
    actions: Vec<String>,
}

/// The tenant's resource types, sorted by name, and its action table.
struct Types {
    types: Vec<TypeInfo>,
    parents: Vec<Option<TypeId>>,
    sets: Vec<ActionSet>,
    by_name: BTreeMap<String, TypeId>,
    actions: Vec<String>,
}

impl Types {
    fn id(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    fn info(&self, id: TypeId) -> Option<&TypeInfo> {
        self.types.get(id.index())
    }

    fn set(&self, id: TypeId) -> ActionSet {
        self.sets.get(id.index()).copied().unwrap_or_default()
    }

    fn name(&self, id: TypeId) -> &str {
        self.info(id).map_or("?", |t| t.name.as_str())
    }

    fn action_bit(&self, action: &str) -> Option<u32> {
        self.actions
            .iter()
            .position(|a| a == action)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// The bits of `actions` (names of the type's actions; `*` is all of them).
    fn bits(&self, id: TypeId, actions: &[&str]) -> Result<ActionSet, String> {
        let mut set = 0u64;
        let all = self.set(id);
        for action in actions {
            if *action == "*" {
                set |= all.0;
                continue;
            }
            match self.action_bit(action).filter(|bit| all.contains(*bit)) {
                Some(bit) => set |= 1u64 << bit,
                None => return Err((*action).to_string()),
            }
        }
        Ok(ActionSet(set))
    }

    /// The type whose resources are listed under `key` in a resource of type `parent`.
    fn child_by_key(&self, parent: TypeId, key: &str) -> Option<TypeId> {
        self.types.iter().enumerate().find_map(|(i, t)| {
            let is_child = self.parents.get(i).copied().flatten() == Some(parent);
            (is_child && t.children_key.as_deref() == Some(key)).then_some(TypeId(i as u32))
        })
    }

    fn children_keys(&self, parent: TypeId) -> Vec<String> {
        let mut keys: Vec<String> = self
            .types
            .iter()
            .enumerate()
            .filter(|(i, _)| self.parents.get(*i).copied().flatten() == Some(parent))
            .filter_map(|(_, t)| t.children_key.as_ref().map(|k| format!("`{k}`")))
            .collect();
        keys.sort();
        keys
    }
}

/// Field names of a resource that are not children keys.
const RESOURCE_FIELDS: &[&str] = &[
    "type",
    "name",
    "enabled",
    "authorized_subjects",
    "collaborators",
];

fn build_types(d: &mut FileDiagnostics<'_>, spec: &TenantFile) -> Types {
    let mut infos: Vec<TypeInfo> = catalog::RESOURCE_TYPES
        .iter()
        .map(|t| TypeInfo {
            name: t.name.to_string(),
            parent: t.parent.map(str::to_string),
            children_key: t.children_key.map(str::to_string),
            actions: t.actions.iter().map(|a| a.to_string()).collect(),
        })
        .collect();
    let mut actions: Vec<String> = Vec::new();
    for t in &infos {
        for a in &t.actions {
            if !actions.contains(a) {
                actions.push(a.clone());
            }
        }
    }
    let mut too_many_reported = false;
    let known: BTreeSet<String> = infos.iter().map(|t| t.name.clone()).collect();
    let extension_names: BTreeSet<&str> = spec
        .resource_types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for ext in &spec.resource_types {
        let name = ext.name.as_str();
        let line = ext.name.span().start().map_or(0, |m| m.line());
        if !crate::gateway::is_type_name(name) {
            d.error(
                ext.name.span(),
                format!(
                    "invalid resource type name `{name}`: use lowercase letters, digits and `-`"
                ),
            );
            continue;
        }
        if known.contains(name) {
            d.error(
                ext.name.span(),
                format!("resource type `{name}` is built in"),
            );
            continue;
        }
        if let Some(first) = seen.get(name) {
            d.error(
                ext.name.span(),
                format!("duplicate resource type `{name}` (first defined at line {first})"),
            );
            continue;
        }
        seen.insert(name, line);
        if let Some(parent) = &ext.parent {
            if !known.contains(parent.as_str()) && !extension_names.contains(parent.as_str()) {
                d.error(
                    parent.span(),
                    format!("unknown parent resource type `{}`", parent.as_str()),
                );
            }
            match &ext.children_key {
                None => d.error(
                    ext.name.span(),
                    format!("resource type `{name}` has a `parent` and needs a `children_key`"),
                ),
                Some(key) if RESOURCE_FIELDS.contains(&key.as_str()) || key.is_empty() => d.error(
                    key.span(),
                    format!("`{}` cannot be a children key", key.as_str()),
                ),
                Some(key) => {
                    let clash = infos.iter().any(|t| {
                        t.parent.as_deref() == Some(parent.as_str())
                            && t.children_key.as_deref() == Some(key.as_str())
                    });
                    if clash {
                        d.error(
                            key.span(),
                            format!(
                                "children key `{}` is already used under `{}`",
                                key.as_str(),
                                parent.as_str()
                            ),
                        );
                    }
                }
            }
        } else if let Some(key) = &ext.children_key {
            d.error(
                key.span(),
                format!("top-level resource type `{name}` takes no `children_key`"),
            );
        }
        if ext.actions.is_empty() {
            d.error(
                ext.name.span(),
                format!("resource type `{name}` needs at least one action"),
            );
        }
        let mut own = Vec::new();
        for action in &ext.actions {
            if !is_action_name(action) {
                d.error(
                    action.span(),
                    format!("invalid action name `{}`", action.as_str()),
                );
                continue;
            }
            if own.iter().any(|a| a == action.as_str()) {
                d.error(
                    action.span(),
                    format!("duplicate action `{}`", action.as_str()),
                );
                continue;
            }
            own.push(action.to_string());
            if !actions.iter().any(|a| a == action.as_str()) {
                if actions.len() >= MAX_ACTIONS {
                    if !too_many_reported {
                        d.error(
                            action.span(),
                            format!("too many action names: a tenant may use at most {MAX_ACTIONS}, `{}` is one more", action.as_str()),
                        );
                        too_many_reported = true;
                    }
                    continue;
                }
                actions.push(action.to_string());
            }
        }
        infos.push(TypeInfo {
            name: name.to_string(),
            parent: ext.parent.as_ref().map(|p| p.to_string()),
            children_key: ext.children_key.as_ref().map(|k| k.to_string()),
            actions: own,
        });
    }
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    let by_name: BTreeMap<String, TypeId> = infos
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), TypeId(i as u32)))
        .collect();
    let parents: Vec<Option<TypeId>> = infos
        .iter()
        .map(|t| t.parent.as_ref().and_then(|p| by_name.get(p).copied()))
        .collect();
    // Cycles among extension types: walking up from any type must reach a top-level type.
    for ext in &spec.resource_types {
        let Some(start) = by_name.get(ext.name.as_str()).copied() else {
            continue;
        };
        let mut current = Some(start);
        let mut steps = 0;
        while let Some(t) = current {
            current = parents.get(t.index()).copied().flatten();
            steps += 1;
            if steps > infos.len() {
                d.error(
                    ext.name.span(),
                    format!("resource type `{}` is its own ancestor", ext.name.as_str()),
                );
                break;
            }
        }
    }
    let sets = infos
        .iter()
        .map(|t| {
            let mut set = 0u64;
            for a in &t.actions {
                if let Some(i) = actions.iter().position(|x| x == a) {
                    set |= 1u64 << i;
                }
            }
            ActionSet(set)
        })
        .collect();
    Types {
        types: infos,
        parents,
        sets,
        by_name,
        actions,
    }
}

/// The tenant's roles, sorted by name, and a name (or alias) lookup.
struct Roles {
    roles: Vec<model::Role>,
    by_name: BTreeMap<String, RoleId>,
}

impl Roles {
    fn kind(&self, id: RoleId) -> Option<&RoleKind> {
        self.roles.get(id.index()).map(|r| &r.kind)
    }

    /// A tenant-level role for a user or a team.
    fn tenant_level(&self, d: &mut FileDiagnostics<'_>, name: &SpannedString) -> Option<RoleId> {
        let Some(id) = self.by_name.get(name.as_str()).copied() else {
            d.error(name.span(), format!("unknown role `{}`", name.as_str()));
            return None;
        };
        if let Some(RoleKind::Collaborator { .. }) = self.kind(id) {
            d.error(
                name.span(),
                format!("`{}` is a collaborator role; grant it on a resource, not as a tenant-level role", name.as_str()),
            );
            return None;
        }
        Some(id)
    }
}

fn build_roles(d: &mut FileDiagnostics<'_>, spec: &TenantFile, types: &Types) -> Roles {
    let mut roles: Vec<model::Role> = Vec::new();
    let mut defined: BTreeMap<String, Option<usize>> = BTreeMap::new();
    for def in catalog::COLLABORATOR_ROLES {
        let Some(type_id) = types.id(def.resource_type) else {
            continue;
        };
        let actions = match def.actions {
            RoleActions::All => types.set(type_id),
            RoleActions::Only(names) => types.bits(type_id, names).unwrap_or_default(),
        };
        roles.push(model::Role {
            name: def.name.to_string(),
            kind: RoleKind::Collaborator {
                resource_type: type_id,
                actions,
            },
        });
        defined.insert(def.name.to_string(), None);
    }
    roles.push(model::Role {
        name: TENANT_ADMIN.into(),
        kind: RoleKind::TenantAdmin,
    });
    roles.push(model::Role {
        name: TENANT_MEMBER.into(),
        kind: RoleKind::Tenant {
            permissions: Vec::new(),
        },
    });
    for name in [TENANT_ADMIN, TENANT_MEMBER]
        .into_iter()
        .chain(catalog::ROLE_ALIASES.iter().map(|(a, _)| *a))
    {
        defined.insert(name.to_string(), None);
    }
    let mut define = |d: &mut FileDiagnostics<'_>, name: &SpannedString| -> bool {
        let line = name.span().start().map_or(0, |m| m.line());
        match defined.get(name.as_str()) {
            Some(None) => {
                d.error(name.span(), format!("role `{}` is built in", name.as_str()));
                false
            }
            Some(Some(first)) => {
                d.error(
                    name.span(),
                    format!(
                        "duplicate role `{}` (first defined at line {first})",
                        name.as_str()
                    ),
                );
                false
            }
            None if name.is_empty() || !is_name(name) => {
                d.error(
                    name.span(),
                    format!("invalid role name `{}`", name.as_str()),
                );
                false
            }
            None => {
                defined.insert(name.to_string(), Some(line));
                true
            }
        }
    };
    for ext in &spec.resource_types {
        let Some(type_id) = types.id(ext.name.as_str()) else {
            continue;
        };
        for role in &ext.roles {
            if !define(d, &role.name) {
                continue;
            }
            let names: Vec<&str> = role.actions.iter().map(|a| a.as_str()).collect();
            match types.bits(type_id, &names) {
                Ok(actions) => roles.push(model::Role {
                    name: role.name.to_string(),
                    kind: RoleKind::Collaborator {
                        resource_type: type_id,
                        actions,
                    },
                }),
                Err(bad) => {
                    let span = role
                        .actions
                        .iter()
                        .find(|a| a.as_str() == bad)
                        .map_or(*role.name.span(), |a| *a.span());
                    d.error(
                        &span,
                        format!(
                            "resource type `{}` has no action `{bad}`",
                            ext.name.as_str()
                        ),
                    );
                }
            }
        }
    }
    for role in &spec.roles {
        if !define(d, &role.name) {
            continue;
        }
        let mut permissions: BTreeMap<TypeId, u64> = BTreeMap::new();
        let mut ok = true;
        for permission in &role.permissions {
            let Some((type_name, action)) = permission.split_once(':') else {
                d.error(
                    permission.span(),
                    format!(
                        "invalid permission `{}`: expected `<type>:<action>` or `<type>:*`",
                        permission.as_str()
                    ),
                );
                ok = false;
                continue;
            };
            let Some(type_id) = types.id(type_name) else {
                d.error(
                    permission.span(),
                    format!(
                        "unknown resource type `{type_name}` in permission `{}`",
                        permission.as_str()
                    ),
                );
                ok = false;
                continue;
            };
            match types.bits(type_id, &[action]) {
                Ok(set) => *permissions.entry(type_id).or_default() |= set.0,
                Err(_) => {
                    d.error(
                        permission.span(),
                        format!("resource type `{type_name}` has no action `{action}` (permission `{}`)", permission.as_str()),
                    );
                    ok = false;
                }
            }
        }
        if ok {
            roles.push(model::Role {
                name: role.name.to_string(),
                kind: RoleKind::Tenant {
                    permissions: permissions
                        .into_iter()
                        .map(|(t, s)| (t, ActionSet(s)))
                        .collect(),
                },
            });
        }
    }
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_name: BTreeMap<String, RoleId> = roles
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), RoleId(i as u32)))
        .collect();
    for (alias, target) in catalog::ROLE_ALIASES {
        if let Some(id) = by_name.get(*target).copied() {
            by_name.insert(alias.to_string(), id);
        }
    }
    Roles { roles, by_name }
}

/// Identity providers while lowering: the IR entry plus what mappings need to check.
struct IdpEntry {
    idp: model::IdentityProvider,
    has_team_claim: bool,
}

/// A flattened resource before sorting.
struct ResourceEntry<'a> {
    reference: String,
    resource_type: TypeId,
    path: String,
    parent: Option<usize>,
    enabled: bool,
    spec: &'a ResourceSpec,
}

fn lower_tenant(
    d: &mut FileDiagnostics<'_>,
    base_dir: &Path,
    spec: &TenantFile,
) -> Option<model::Tenant> {
    let before = d.count();
    let t = &spec.tenant;
    if !is_name(&t.name) {
        d.error(
            t.name.span(),
            format!("invalid tenant name `{}`", t.name.as_str()),
        );
    }
    let mut hosts = Vec::new();
    for host in &t.hosts {
        let lc = host.to_ascii_lowercase();
        if !is_host(&lc) {
            d.error(
                host.span(),
                format!(
                    "invalid host `{}`: expected a host name or `*.suffix`",
                    host.as_str()
                ),
            );
        }
        hosts.push(lc);
    }
    hosts.sort();
    hosts.dedup();
    if t.issuer.is_empty() {
        d.error(t.issuer.span(), "`issuer` must not be empty");
    }
    let owner = format!("tenant `{}`", t.name.as_str());
    let tenant_keys = keys(
        d,
        base_dir,
        t.jwks_file.as_ref(),
        t.jwks.as_ref(),
        t.name.span(),
        &owner,
    );
    let audiences = strings(&t.audiences);
    let clock_skew_seconds = t.clock_skew_seconds.as_ref().map_or(60, |s| **s);
    let revoked_token_ids = strings(&t.revoked_token_ids);

    let types = build_types(d, spec);
    let roles = build_roles(d, spec, &types);

    // Identity providers, sorted by name.
    let mut idps: BTreeMap<String, IdpEntry> = BTreeMap::new();
    let mut idp_lines: BTreeMap<String, usize> = BTreeMap::new();
    let mut issuers: BTreeMap<String, String> = BTreeMap::new();
    for p in &spec.identity_providers {
        let name = p.name.as_str();
        if !is_name(name) {
            d.error(
                p.name.span(),
                format!("invalid identity provider name `{name}`"),
            );
            continue;
        }
        if let Some(first) = idp_lines.get(name) {
            d.error(
                p.name.span(),
                format!("duplicate identity provider `{name}` (first defined at line {first})"),
            );
            continue;
        }
        idp_lines.insert(
            name.to_string(),
            p.name.span().start().map_or(0, |m| m.line()),
        );
        if p.issuer.as_str() == t.issuer.as_str() {
            d.error(
                p.issuer.span(),
                format!(
                    "identity provider `{name}` has the tenant's own issuer `{}`",
                    p.issuer.as_str()
                ),
            );
        } else if let Some(other) = issuers.get(p.issuer.as_str()) {
            d.error(
                p.issuer.span(),
                format!(
                    "identity providers `{other}` and `{name}` have the same issuer `{}`",
                    p.issuer.as_str()
                ),
            );
        } else if p.issuer.is_empty() {
            d.error(p.issuer.span(), "`issuer` must not be empty");
        } else {
            issuers.insert(p.issuer.to_string(), name.to_string());
        }
        let owner = format!("identity provider `{name}`");
        let keys = keys(
            d,
            base_dir,
            p.jwks_file.as_ref(),
            p.jwks.as_ref(),
            p.name.span(),
            &owner,
        );
        let mut algorithms = Vec::new();
        for alg in &p.algorithms {
            match Algorithm::from_name(alg) {
                Some(a) => algorithms.push(a),
                None => d.error(alg.span(), format!("unknown algorithm `{}`", alg.as_str())),
            }
        }
        algorithms.sort();
        algorithms.dedup();
        let resolve_to = match *p.resolve_to {
            ResolveToSpec::User => {
                if let Some(claim) = &p.virtual_account_claim {
                    d.error(
                        claim.span(),
                        "`virtual_account_claim` requires `resolve_to: virtual-account`",
                    );
                }
                ResolveTo::User {
                    email_claim: claim_path(d, p.email_claim.as_ref())
                        .unwrap_or_else(|| vec!["email".into()]),
                    team_claim: claim_path(d, p.team_claim.as_ref()),
                    require_email_verified: p.require_email_verified.as_ref().is_some_and(|r| **r),
                }
            }
            ResolveToSpec::VirtualAccount => {
                for claim in [&p.email_claim, &p.team_claim].into_iter().flatten() {
                    d.error(
                        claim.span(),
                        "`email_claim` and `team_claim` require `resolve_to: user`",
                    );
                }
                if let Some(r) = &p.require_email_verified {
                    d.error(
                        r.span(),
                        "`require_email_verified` requires `resolve_to: user`",
                    );
                }
                let claim = claim_path(d, p.virtual_account_claim.as_ref());
                if claim.is_none() {
                    d.error(
                        p.resolve_to.span(),
                        format!("identity provider `{name}` resolves to virtual accounts and needs `virtual_account_claim`"),
                    );
                }
                ResolveTo::VirtualAccount {
                    virtual_account_claim: claim.unwrap_or_default(),
                }
            }
        };
        let has_team_claim = p.team_claim.is_some();
        idps.insert(
            name.to_string(),
            IdpEntry {
                idp: model::IdentityProvider {
                    name: name.to_string(),
                    issuer: p.issuer.to_string(),
                    keys,
                    audiences: strings(&p.audiences),
                    algorithms,
                    resolve_to,
                },
                has_team_claim,
            },
        );
    }
    let idp_ids: BTreeMap<String, IdpId> = idps
        .keys()
        .enumerate()
        .map(|(i, name)| (name.clone(), IdpId(i as u32)))
        .collect();
    let idp_mapping = |d: &mut FileDiagnostics<'_>,
                       m: &IdpMappingSpec,
                       for_team: bool|
     -> Option<(IdpId, String)> {
        let name = m.identity_provider.as_str();
        let (Some(entry), Some(id)) = (idps.get(name), idp_ids.get(name)) else {
            d.error(
                m.identity_provider.span(),
                format!("unknown identity provider `{name}`"),
            );
            return None;
        };
        match (&entry.idp.resolve_to, for_team) {
            (ResolveTo::User { .. }, true) if !entry.has_team_claim => {
                d.error(
                    m.identity_provider.span(),
                    format!("identity provider `{name}` has no `team_claim`, so no team can be mapped from it"),
                );
                None
            }
            (ResolveTo::User { .. }, true) | (ResolveTo::VirtualAccount { .. }, false) => {
                Some((*id, m.value.to_string()))
            }
            (ResolveTo::VirtualAccount { .. }, true) => {
                d.error(
                    m.identity_provider.span(),
                    format!("identity provider `{name}` resolves to virtual accounts, not users, so it cannot map teams"),
                );
                None
            }
            (ResolveTo::User { .. }, false) => {
                d.error(
                    m.identity_provider.span(),
                    format!("identity provider `{name}` resolves to users, not virtual accounts"),
                );
                None
            }
        }
    };

    // Users, sorted by lowercased email.
    let mut users: BTreeMap<String, (model::User, usize)> = BTreeMap::new();
    let tenant_member = roles
        .by_name
        .get(TENANT_MEMBER)
        .copied()
        .unwrap_or(RoleId(0));
    for u in &spec.users {
        let email = u.email.to_ascii_lowercase();
        let line = u.email.span().start().map_or(0, |m| m.line());
        if !is_email(&email) {
            d.error(
                u.email.span(),
                format!("invalid email `{}`", u.email.as_str()),
            );
            continue;
        }
        if let Some((_, first)) = users.get(&email) {
            d.error(
                u.email.span(),
                format!("duplicate user `{email}` (first defined at line {first})"),
            );
            continue;
        }
        let role = match &u.role {
            None => tenant_member,
            Some(role) => roles.tenant_level(d, role).unwrap_or(tenant_member),
        };
        let user = model::User {
            email: email.clone(),
            active: u.active.unwrap_or(true),
            role,
            teams: Vec::new(),
        };
        users.insert(email, (user, line));
    }
    let user_ids: BTreeMap<String, UserId> = users
        .keys()
        .enumerate()
        .map(|(i, e)| (e.clone(), UserId(i as u32)))
        .collect();

    // Teams, sorted by name.
    let mut teams: BTreeMap<String, (model::Team, Vec<UserId>, usize)> = BTreeMap::new();
    for team in &spec.teams {
        let name = team.name.as_str();
        let line = team.name.span().start().map_or(0, |m| m.line());
        if name == EVERYONE {
            d.error(
                team.name.span(),
                "`everyone` is the built-in team of every active user and cannot be defined",
            );
            continue;
        }
        if !is_name(name) {
            d.error(team.name.span(), format!("invalid team name `{name}`"));
            continue;
        }
        if let Some((_, _, first)) = teams.get(name) {
            d.error(
                team.name.span(),
                format!("duplicate team `{name}` (first defined at line {first})"),
            );
            continue;
        }
        let mut members = Vec::new();
        for member in &team.members {
            match user_ids.get(&member.to_lowercase()) {
                Some(id) => members.push(*id),
                None => d.error(
                    member.span(),
                    format!(
                        "team member `{}` is not a user of this tenant",
                        member.as_str()
                    ),
                ),
            }
        }
        members.sort();
        members.dedup();
        let mut team_roles: Vec<RoleId> = team
            .roles
            .iter()
            .filter_map(|r| roles.tenant_level(d, r))
            .collect();
        team_roles.sort();
        team_roles.dedup();
        let mut idp_mappings: Vec<(IdpId, String)> = team
            .identity_provider_mapping
            .iter()
            .filter_map(|m| idp_mapping(d, m, true))
            .collect();
        idp_mappings.sort();
        idp_mappings.dedup();
        let model_team = model::Team {
            name: name.to_string(),
            roles: team_roles,
            idp_mappings,
        };
        teams.insert(name.to_string(), (model_team, members, line));
    }
    let team_ids: BTreeMap<String, TeamId> = teams
        .keys()
        .enumerate()
        .map(|(i, n)| (n.clone(), TeamId(i as u32)))
        .collect();
    let mut users: Vec<model::User> = users.into_values().map(|(u, _)| u).collect();
    for (i, (_, members, _)) in teams.values().enumerate() {
        for member in members {
            if let Some(user) = users.get_mut(member.index()) {
                user.teams.push(TeamId(i as u32));
            }
        }
    }
    for user in &mut users {
        user.teams.sort();
    }
    let teams: Vec<model::Team> = teams.into_values().map(|(t, _, _)| t).collect();

    // Virtual accounts, sorted by name.
    let mut vas: BTreeMap<String, (model::VirtualAccount, usize)> = BTreeMap::new();
    let mut va_claims: BTreeMap<(IdpId, String), String> = BTreeMap::new();
    for va in &spec.virtual_accounts {
        let name = va.name.as_str();
        let line = va.name.span().start().map_or(0, |m| m.line());
        if !is_name(name) {
            d.error(
                va.name.span(),
                format!("invalid virtual account name `{name}`"),
            );
            continue;
        }
        if let Some((_, first)) = vas.get(name) {
            d.error(
                va.name.span(),
                format!("duplicate virtual account `{name}` (first defined at line {first})"),
            );
            continue;
        }
        let expires = va.expires.as_ref().and_then(|t| timestamp(d, t));
        let tokens_valid_after = va.tokens_valid_after.as_ref().and_then(|t| timestamp(d, t));
        let mut idp_mappings = Vec::new();
        for m in &va.identity_provider_mapping {
            let Some(mapping) = idp_mapping(d, m, false) else {
                continue;
            };
            if let Some(other) = va_claims.get(&mapping).filter(|o| o.as_str() != name) {
                d.error(
                    m.value.span(),
                    format!(
                        "`{}` of identity provider `{}` already maps to virtual account `{other}`",
                        m.value.as_str(),
                        m.identity_provider.as_str()
                    ),
                );
                continue;
            }
            va_claims.insert(mapping.clone(), name.to_string());
            idp_mappings.push(mapping);
        }
        idp_mappings.sort();
        idp_mappings.dedup();
        let model_va = model::VirtualAccount {
            name: name.to_string(),
            expires,
            tokens_valid_after,
            idp_mappings,
        };
        vas.insert(name.to_string(), (model_va, line));
    }
    let va_ids: BTreeMap<String, VirtualAccountId> = vas
        .keys()
        .enumerate()
        .map(|(i, n)| (n.clone(), VirtualAccountId(i as u32)))
        .collect();
    let virtual_accounts: Vec<model::VirtualAccount> = vas.into_values().map(|(v, _)| v).collect();

    let subjects = Subjects {
        users: &user_ids,
        teams: &team_ids,
        vas: &va_ids,
    };

    // Resources: flatten the trees, then sort by `type:path`.
    let mut entries: Vec<ResourceEntry<'_>> = Vec::new();
    let mut refs: BTreeMap<String, usize> = BTreeMap::new();
    for r in &spec.resources {
        flatten(d, &types, r, None, &mut entries, &mut refs);
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|a, b| {
        entries
            .get(*a)
            .map(|e| &e.reference)
            .cmp(&entries.get(*b).map(|e| &e.reference))
    });
    let mut ids = vec![ResourceId(0); entries.len()];
    for (new, old) in order.iter().enumerate() {
        if let Some(slot) = ids.get_mut(*old) {
            *slot = ResourceId(new as u32);
        }
    }
    let resource_ids: BTreeMap<&str, (ResourceId, TypeId)> = entries
        .iter()
        .zip(&ids)
        .map(|(e, id)| (e.reference.as_str(), (*id, e.resource_type)))
        .collect();
    let mut resources = Vec::with_capacity(entries.len());
    let mut grants = Vec::new();
    for old in &order {
        let Some(e) = entries.get(*old) else { continue };
        let authorized_subjects = e.spec.authorized_subjects.as_ref().map(|list| {
            let mut list: Vec<Subject> =
                list.iter().filter_map(|s| subjects.resolve(d, s)).collect();
            list.sort();
            list.dedup();
            list
        });
        let Some(own_id) = ids.get(*old).copied() else {
            continue;
        };
        for c in &e.spec.collaborators {
            let subject = subjects.resolve(d, &c.subject);
            let role = collaborator_role(d, &roles, &types, &c.role, e.resource_type, &e.reference);
            if let (Some(subject), Some(role)) = (subject, role) {
                grants.push(Grant {
                    resource: own_id,
                    subject,
                    role,
                });
            }
        }
        resources.push(model::Resource {
            resource_type: e.resource_type,
            path: e.path.clone(),
            parent: e.parent.and_then(|p| ids.get(p).copied()),
            enabled: e.enabled,
            authorized_subjects,
        });
    }
    let permission =
        |d: &mut FileDiagnostics<'_>, p: &PermissionSpec| -> Option<(ResourceId, RoleId)> {
            let resource = resource_ids.get(p.resource.as_str()).copied();
            if resource.is_none() {
                d.error(
                    p.resource.span(),
                    format!("unknown resource `{}`", p.resource.as_str()),
                );
            }
            let (resource, type_id) = resource?;
            let role = collaborator_role(d, &roles, &types, &p.role, type_id, &p.resource)?;
            Some((resource, role))
        };
    for (i, va) in spec.virtual_accounts.iter().enumerate() {
        let Some(id) = va_ids.get(va.name.as_str()).copied() else {
            continue;
        };
        // Only the first definition of a duplicated name owns it (the others were reported).
        let first = spec
            .virtual_accounts
            .iter()
            .position(|v| v.name.as_str() == va.name.as_str());
        if first != Some(i) {
            continue;
        }
        for p in &va.permissions {
            if let Some((resource, role)) = permission(d, p) {
                grants.push(Grant {
                    resource,
                    subject: Subject::VirtualAccount(id),
                    role,
                });
            }
        }
    }
    let mut binding_lines: BTreeMap<&str, usize> = BTreeMap::new();
    for binding in &spec.role_bindings {
        let line = binding.name.span().start().map_or(0, |m| m.line());
        if let Some(first) = binding_lines.get(binding.name.as_str()) {
            d.error(
                binding.name.span(),
                format!(
                    "duplicate role binding `{}` (first defined at line {first})",
                    binding.name.as_str()
                ),
            );
        } else {
            binding_lines.insert(binding.name.as_str(), line);
        }
        let bound: Vec<Subject> = binding
            .subjects
            .iter()
            .filter_map(|s| subjects.resolve(d, s))
            .collect();
        for p in &binding.permissions {
            if let Some((resource, role)) = permission(d, p) {
                grants.extend(bound.iter().map(|subject| Grant {
                    resource,
                    subject: *subject,
                    role,
                }));
            }
        }
    }
    grants.sort();
    grants.dedup();

    if d.count() != before {
        return None;
    }
    Some(model::Tenant {
        config: model::TenantConfig {
            name: t.name.to_string(),
            hosts,
            issuer: t.issuer.to_string(),
            keys: tenant_keys,
            audiences,
            clock_skew_seconds,
            revoked_token_ids,
            identity_providers: idps.into_values().map(|e| e.idp).collect(),
            actions: types.actions.clone(),
            resource_types: types
                .types
                .iter()
                .zip(&types.parents)
                .zip(&types.sets)
                .map(|((t, parent), actions)| model::ResourceType {
                    name: t.name.clone(),
                    parent: *parent,
                    actions: *actions,
                })
                .collect(),
            roles: roles.roles,
        },
        users,
        teams,
        virtual_accounts,
        resources,
        grants,
    })
}

/// Flattens one resource and its descendants into `entries`, checking types, names and
/// children keys.
fn flatten<'a>(
    d: &mut FileDiagnostics<'_>,
    types: &Types,
    spec: &'a ResourceSpec,
    parent: Option<(usize, TypeId, String)>,
    entries: &mut Vec<ResourceEntry<'a>>,
    refs: &mut BTreeMap<String, usize>,
) {
    let type_id = match (&parent, &spec.resource_type) {
        (None, None) => {
            d.error(
                spec.name.span(),
                format!("resource `{}` needs a `type`", spec.name.as_str()),
            );
            return;
        }
        (None, Some(type_name)) => {
            let Some(id) = types.id(type_name) else {
                d.error(
                    type_name.span(),
                    format!("unknown resource type `{}`", type_name.as_str()),
                );
                return;
            };
            if let Some(parent) = types.parents.get(id.index()).copied().flatten() {
                let key = types
                    .info(id)
                    .and_then(|t| t.children_key.clone())
                    .unwrap_or_default();
                d.error(
                    type_name.span(),
                    format!(
                        "a `{}` is listed under its parent `{}` resource, in `{key}`",
                        type_name.as_str(),
                        types.name(parent)
                    ),
                );
                return;
            }
            id
        }
        (Some((_, id, _)), given) => {
            if let Some(given) = given.as_ref().filter(|g| g.as_str() != types.name(*id)) {
                d.error(
                    given.span(),
                    format!(
                        "resource `{}` has type `{}` here, not `{}`",
                        spec.name.as_str(),
                        types.name(*id),
                        given.as_str()
                    ),
                );
                return;
            }
            *id
        }
    };
    let name = spec.name.as_str();
    if name.is_empty()
        || name.contains('/')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        d.error(
            spec.name.span(),
            format!("invalid resource name `{name}`: it must be non-empty, without `/` or spaces"),
        );
        return;
    }
    let path = match &parent {
        Some((_, _, parent_path)) => format!("{parent_path}/{name}"),
        None => name.to_string(),
    };
    let reference = format!("{}:{path}", types.name(type_id));
    if let Some(first) = refs.get(&reference) {
        let line = entries
            .get(*first)
            .and_then(|e| e.spec.name.span().start().map(|m| m.line()))
            .unwrap_or(0);
        d.error(
            spec.name.span(),
            format!("duplicate resource `{reference}` (first defined at line {line})"),
        );
        return;
    }
    let index = entries.len();
    refs.insert(reference.clone(), index);
    entries.push(ResourceEntry {
        reference,
        resource_type: type_id,
        path: path.clone(),
        parent: parent.as_ref().map(|(p, _, _)| *p),
        enabled: spec.enabled.unwrap_or(true),
        spec,
    });
    for (key, children) in &spec.children {
        let Some(child_type) = types.child_by_key(type_id, key) else {
            let keys = types.children_keys(type_id);
            let expected = if keys.is_empty() {
                format!("a `{}` has no children", types.name(type_id))
            } else {
                format!(
                    "children of a `{}` are listed in {}",
                    types.name(type_id),
                    keys.join(", ")
                )
            };
            d.error(
                key.span(),
                format!(
                    "unknown field `{}` in resource `{name}`: {expected}",
                    key.as_str()
                ),
            );
            continue;
        };
        let Some(children) = &children.0 else {
            d.error(
                key.span(),
                format!(
                    "`{}` of resource `{name}` must be a list of resources",
                    key.as_str()
                ),
            );
            continue;
        };
        for child in children {
            flatten(
                d,
                types,
                child,
                Some((index, child_type, path.clone())),
                entries,
                refs,
            );
        }
    }
}

/// Resolves a collaborator role granted on a resource of type `on`.
fn collaborator_role(
    d: &mut FileDiagnostics<'_>,
    roles: &Roles,
    types: &Types,
    name: &SpannedString,
    on: TypeId,
    resource: &str,
) -> Option<RoleId> {
    let Some(id) = roles.by_name.get(name.as_str()).copied() else {
        d.error(name.span(), format!("unknown role `{}`", name.as_str()));
        return None;
    };
    match roles.kind(id) {
        Some(RoleKind::Collaborator { resource_type, .. }) if *resource_type == on => Some(id),
        Some(RoleKind::Collaborator { resource_type, .. }) => {
            d.error(
                name.span(),
                format!(
                    "role `{}` applies to `{}` resources, not to `{resource}`",
                    name.as_str(),
                    types.name(*resource_type)
                ),
            );
            None
        }
        _ => {
            d.error(
                name.span(),
                format!(
                    "`{}` is a tenant-level role and cannot be granted on a resource",
                    name.as_str()
                ),
            );
            None
        }
    }
}

/// Subject references resolved against the tenant's sorted tables.
struct Subjects<'a> {
    users: &'a BTreeMap<String, UserId>,
    teams: &'a BTreeMap<String, TeamId>,
    vas: &'a BTreeMap<String, VirtualAccountId>,
}

impl Subjects<'_> {
    fn resolve(&self, d: &mut FileDiagnostics<'_>, subject: &SpannedString) -> Option<Subject> {
        let found = match subject.split_once(':') {
            Some(("user", email)) => self
                .users
                .get(&email.to_ascii_lowercase())
                .map(|id| Subject::User(*id)),
            Some(("team", EVERYONE)) => Some(Subject::Everyone),
            Some(("team", name)) => self.teams.get(name).map(|id| Subject::Team(*id)),
            Some(("virtualaccount", name)) => {
                self.vas.get(name).map(|id| Subject::VirtualAccount(*id))
            }
            _ => {
                d.error(
                    subject.span(),
                    format!(
                        "invalid subject `{}`: expected `user:<email>`, `team:<name>` or `virtualaccount:<name>`",
                        subject.as_str()
                    ),
                );
                return None;
            }
        };
        if found.is_none() {
            d.error(
                subject.span(),
                format!("unknown subject `{}`", subject.as_str()),
            );
        }
        found
    }
}

/// Reads the key set from `jwks_file` (relative to `base_dir`) or inline `jwks`.
fn keys(
    d: &mut FileDiagnostics<'_>,
    base_dir: &Path,
    file: Option<&SpannedString>,
    inline: Option<&Spanned<serde_json::Value>>,
    owner_span: &Span,
    owner: &str,
) -> Vec<Jwk> {
    let parsed = match (file, inline) {
        (Some(_), Some(inline)) => {
            d.error(
                inline.span(),
                format!("{owner} takes `jwks_file` or `jwks`, not both"),
            );
            return Vec::new();
        }
        (None, None) => {
            d.error(owner_span, format!("{owner} needs `jwks_file` or `jwks`"));
            return Vec::new();
        }
        (Some(file), None) => {
            let path: PathBuf = base_dir.join(file.as_str());
            match std::fs::read_to_string(&path) {
                Err(err) => Err((
                    file.span(),
                    format!("cannot read JWKS file `{}`: {err}", path.display()),
                )),
                Ok(text) => gatehouse_engine::jwt::parse_jwks(&text).map_err(|err| {
                    (
                        file.span(),
                        format!("invalid JWK Set in `{}`: {err}", file.as_str()),
                    )
                }),
            }
        }
        (None, Some(inline)) => {
            let text = serde_json::to_string(&**inline).unwrap_or_default();
            gatehouse_engine::jwt::parse_jwks(&text)
                .map_err(|err| (inline.span(), format!("invalid inline `jwks`: {err}")))
        }
    };
    match parsed {
        Ok(keys) if keys.is_empty() => {
            let span = file
                .map(|f| *f.span())
                .or(inline.map(|i| *i.span()))
                .unwrap_or(*owner_span);
            d.error(&span, format!("the JWK Set of {owner} has no keys"));
            Vec::new()
        }
        Ok(keys) => keys,
        Err((span, message)) => {
            d.error(span, message);
            Vec::new()
        }
    }
}

/// `ext.mail` -> `["ext", "mail"]`.
fn claim_path(d: &mut FileDiagnostics<'_>, claim: Option<&SpannedString>) -> Option<Vec<String>> {
    let claim = claim?;
    let path: Vec<String> = claim.split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        d.error(
            claim.span(),
            format!("invalid claim path `{}`", claim.as_str()),
        );
        return None;
    }
    Some(path)
}

/// RFC 3339 -> unix seconds.
fn timestamp(d: &mut FileDiagnostics<'_>, text: &SpannedString) -> Option<i64> {
    match time::OffsetDateTime::parse(
        text.as_str(),
        &time::format_description::well_known::Rfc3339,
    ) {
        Ok(t) => Some(t.unix_timestamp()),
        Err(_) => {
            d.error(
                text.span(),
                format!(
                    "invalid timestamp `{}`: expected RFC 3339, e.g. `2027-06-01T00:00:00Z`",
                    text.as_str()
                ),
            );
            None
        }
    }
}

fn strings(list: &[SpannedString]) -> Vec<String> {
    let mut out: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    out.sort();
    out.dedup();
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_action_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_email(s: &str) -> bool {
    is_name(s)
        && s.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// A lowercased host name, or `*.suffix`.
fn is_host(s: &str) -> bool {
    let name = s.strip_prefix("*.").unwrap_or(s);
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use gatehouse_engine::model::{KeyMaterial, Tenant};

    use crate::compile::{compile_sources, CompileError};

    use super::*;

    const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    /// Every field of SPEC 2.1 plus a `resource_types:` extension.
    fn full_tenant() -> String {
        format!(
            r#"tenant:
  name: acme
  hosts: ["ACME.gw.example.com", "*.acme.example.com"]
  issuer: https://acme.cp.example.com
  jwks: {JWKS}
  audiences: [gatehouse]
  clock_skew_seconds: 30
  revoked_token_ids: [b, a]
identity_providers:
  - name: okta
    issuer: https://acme.okta.com/oauth2/default
    jwks: {JWKS}
    audiences: ["api://gateway"]
    algorithms: [RS256, EdDSA]
    resolve_to: user
    email_claim: ext.mail
    team_claim: groups
  - name: github-actions
    issuer: https://token.actions.githubusercontent.com
    jwks: {JWKS}
    resolve_to: virtual-account
    virtual_account_claim: repository
users:
  - email: Alice@Acme.com
    role: tenant-admin
  - email: bob@acme.com
    active: false
  - email: carol@acme.com
    role: model-consumer
  - email: dave@acme.com
  - email: erin@acme.com
teams:
  - name: ml-engineers
    members: [carol@acme.com, DAVE@acme.com]
    roles: [model-consumer]
    identity_provider_mapping:
      - {{identity_provider: okta, value: ml}}
  - name: research
    members: [dave@acme.com]
virtual_accounts:
  - name: ci-bot
    expires: 2027-06-01T00:00:00Z
    tokens_valid_after: 2026-11-01T00:00:00+01:00
    permissions:
      - {{resource: "mcp-server:github", role: mcp-server-user}}
    identity_provider_mapping:
      - {{identity_provider: github-actions, value: acme/infra}}
roles:
  - name: model-consumer
    permissions: ["provider-account:read", "provider-account:use", "model:*", "dataset:read"]
role_bindings:
  - name: ml-serving-editors
    subjects: ["team:ml-engineers", "user:erin@acme.com"]
    permissions: [{{resource: "workspace:prod/ml-serving", role: workspace-member}}]
resource_types:
  - name: dataset
    actions: [read, write, export]
    roles: [{{name: dataset-reader, actions: [read]}}]
  - name: table
    parent: dataset
    children_key: tables
    actions: [read]
resources:
  - type: provider-account
    name: openai-main
    collaborators:
      - {{subject: "team:ml-engineers", role: provider-account-user}}
    models:
      - name: gpt-4o
      - name: o3
        authorized_subjects: ["user:alice@acme.com", "team:research", "team:research"]
  - type: mcp-server
    name: github
    collaborators: [{{subject: "team:everyone", role: mcp-server-user}}]
    tools:
      - name: create_issue
      - name: delete_repo
        enabled: false
  - type: cluster
    name: prod
    collaborators: [{{subject: "user:dave@acme.com", role: cluster-viewer}}]
    workspaces:
      - name: ml-serving
        applications: [{{name: api}}]
  - type: repository
    name: prompts
    prompts: [{{name: summarize}}]
  - type: dataset
    name: sales
    collaborators: [{{subject: "virtualaccount:ci-bot", role: dataset-reader}}]
    tables: [{{name: q1}}]
"#
        )
    }

    fn compile_one(text: &str) -> Result<Policy, CompileError> {
        compile_sources(None, &[(Path::new("acme.yaml"), text)], None, 1)
    }

    fn errors(text: &str) -> Vec<String> {
        match compile_one(text) {
            Err(CompileError::Invalid(diags)) => diags
                .iter()
                .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
                .collect(),
            other => panic!("expected errors, got {other:?}"),
        }
    }

    fn minimal(rest: &str) -> String {
        format!("tenant:\n  name: acme\n  issuer: https://cp\n  jwks: {JWKS}\n{rest}")
    }

    fn resource(t: &Tenant, reference: &str) -> ResourceId {
        let i = t
            .resources
            .iter()
            .position(|r| {
                format!(
                    "{}:{}",
                    t.resource_types[r.resource_type.index()].name,
                    r.path
                ) == reference
            })
            .unwrap_or_else(|| panic!("{reference}"));
        ResourceId(i as u32)
    }

    fn role(t: &Tenant, name: &str) -> RoleId {
        RoleId(t.roles.iter().position(|r| r.name == name).unwrap() as u32)
    }

    fn team(t: &Tenant, name: &str) -> TeamId {
        TeamId(t.teams.iter().position(|r| r.name == name).unwrap() as u32)
    }

    fn user(t: &Tenant, email: &str) -> UserId {
        UserId(t.users.iter().position(|u| u.email == email).unwrap() as u32)
    }

    #[test]
    fn full_tenant_compiles() {
        let policy = compile_one(&full_tenant()).unwrap();
        assert_eq!(policy.compiler_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(policy.revision.len(), 12);
        assert_eq!(policy.gateway, crate::gateway::default_gateway());
        let t = &policy.tenants[0];
        assert_eq!(t.name, "acme");
        assert_eq!(t.hosts, ["*.acme.example.com", "acme.gw.example.com"]);
        assert_eq!(t.clock_skew_seconds, 30);
        assert_eq!(t.revoked_token_ids, ["a", "b"]);
        assert_eq!(t.keys.len(), 1);
        assert_eq!(t.keys[0].kid.as_deref(), Some("k1"));
        assert!(matches!(t.keys[0].material, KeyMaterial::Ed25519 { .. }));

        // Actions: the built-in ones, then the extension's new `export`.
        assert_eq!(
            t.actions,
            [
                "read",
                "manage",
                "delete",
                "manage-collaborators",
                "deploy",
                "use",
                "write",
                "export"
            ]
        );
        let names: Vec<&str> = t.resource_types.iter().map(|r| r.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let table = &t.resource_types[names.iter().position(|n| *n == "table").unwrap()];
        assert_eq!(
            table
                .parent
                .map(|p| t.resource_types[p.index()].name.as_str()),
            Some("dataset")
        );

        // IdPs sorted by name.
        assert_eq!(t.identity_providers[0].name, "github-actions");
        assert_eq!(
            t.identity_providers[1].resolve_to,
            ResolveTo::User {
                email_claim: vec!["ext".into(), "mail".into()],
                team_claim: Some(vec!["groups".into()]),
                require_email_verified: false,
            }
        );
        assert_eq!(
            t.identity_providers[1].algorithms,
            [Algorithm::RS256, Algorithm::EdDSA]
        );
        assert_eq!(
            t.identity_providers[0].resolve_to,
            ResolveTo::VirtualAccount {
                virtual_account_claim: vec!["repository".into()]
            }
        );

        // Users: lowercased, sorted, defaults, teams.
        let emails: Vec<&str> = t.users.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "alice@acme.com",
                "bob@acme.com",
                "carol@acme.com",
                "dave@acme.com",
                "erin@acme.com"
            ]
        );
        assert_eq!(t.users[0].role, role(t, "tenant-admin"));
        assert!(!t.users[1].active && t.users[0].active);
        assert_eq!(t.users[1].role, role(t, "tenant-member"));
        assert_eq!(t.users[2].role, role(t, "model-consumer"));
        assert_eq!(
            t.users[3].teams,
            [team(t, "ml-engineers"), team(t, "research")]
        );
        assert!(t.users[4].teams.is_empty());
        let ml = &t.teams[team(t, "ml-engineers").index()];
        assert_eq!(ml.roles, [role(t, "model-consumer")]);
        assert_eq!(ml.idp_mappings, [(IdpId(1), "ml".to_string())]);

        // Custom role: one entry per type, sorted by type.
        let RoleKind::Tenant { permissions } = &t.roles[role(t, "model-consumer").index()].kind
        else {
            panic!()
        };
        let types: Vec<&str> = permissions
            .iter()
            .map(|(ty, _)| t.resource_types[ty.index()].name.as_str())
            .collect();
        assert_eq!(types, ["dataset", "model", "provider-account"]);
        assert_eq!(permissions[2].1, ActionSet(1 | 1 << 5));
        assert_eq!(permissions[1].1, ActionSet(1 | 1 << 5));
        // Aliases are the same role.
        assert!(!t.roles.iter().any(|r| r.name == "workspace-member"));

        // Virtual account.
        let va = &t.virtual_accounts[0];
        assert_eq!(va.expires, Some(1_811_808_000));
        assert_eq!(va.tokens_valid_after, Some(1_793_487_600));
        assert_eq!(va.idp_mappings, [(IdpId(0), "acme/infra".to_string())]);

        // Resources sorted by `type:path`, parents, disabled, authorized subjects.
        let refs: Vec<String> = t
            .resources
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    t.resource_types[r.resource_type.index()].name,
                    r.path
                )
            })
            .collect();
        let mut sorted = refs.clone();
        sorted.sort();
        assert_eq!(refs, sorted);
        assert_eq!(refs.len(), 13);
        let app = &t.resources[resource(t, "application:prod/ml-serving/api").index()];
        assert_eq!(app.parent, Some(resource(t, "workspace:prod/ml-serving")));
        assert_eq!(
            t.resources[resource(t, "workspace:prod/ml-serving").index()].parent,
            Some(resource(t, "cluster:prod"))
        );
        assert!(!t.resources[resource(t, "tool:github/delete_repo").index()].enabled);
        assert!(t.resources[resource(t, "tool:github/create_issue").index()].enabled);
        let o3 = &t.resources[resource(t, "model:openai-main/o3").index()];
        assert_eq!(
            o3.authorized_subjects,
            Some(vec![
                Subject::User(user(t, "alice@acme.com")),
                Subject::Team(team(t, "research"))
            ])
        );
        assert_eq!(
            t.resources[resource(t, "model:openai-main/gpt-4o").index()].authorized_subjects,
            None
        );
        assert_eq!(
            t.resources[resource(t, "table:sales/q1").index()].parent,
            Some(resource(t, "dataset:sales"))
        );

        // Grants.
        let mut expected = vec![
            Grant {
                resource: resource(t, "provider-account:openai-main"),
                subject: Subject::Team(team(t, "ml-engineers")),
                role: role(t, "provider-account-user"),
            },
            Grant {
                resource: resource(t, "mcp-server:github"),
                subject: Subject::Everyone,
                role: role(t, "mcp-server-user"),
            },
            Grant {
                resource: resource(t, "mcp-server:github"),
                subject: Subject::VirtualAccount(VirtualAccountId(0)),
                role: role(t, "mcp-server-user"),
            },
            Grant {
                resource: resource(t, "cluster:prod"),
                subject: Subject::User(user(t, "dave@acme.com")),
                role: role(t, "cluster-viewer"),
            },
            Grant {
                resource: resource(t, "workspace:prod/ml-serving"),
                subject: Subject::Team(team(t, "ml-engineers")),
                role: role(t, "workspace-editor"),
            },
            Grant {
                resource: resource(t, "workspace:prod/ml-serving"),
                subject: Subject::User(user(t, "erin@acme.com")),
                role: role(t, "workspace-editor"),
            },
            Grant {
                resource: resource(t, "dataset:sales"),
                subject: Subject::VirtualAccount(VirtualAccountId(0)),
                role: role(t, "dataset-reader"),
            },
        ];
        expected.sort();
        assert_eq!(t.grants, expected);
    }

    #[test]
    fn deterministic() {
        let a = compile_one(&full_tenant()).unwrap();
        let b = compile_one(&full_tenant()).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let c = compile_sources(
            None,
            &[(Path::new("acme.yaml"), &full_tenant())],
            Some("r7"),
            1,
        )
        .unwrap();
        assert_eq!(c.revision, "r7");
        assert_eq!(c.serial, 1);
    }

    #[test]
    fn serial_is_kept_but_not_part_of_the_derived_revision() {
        let compile = |serial| {
            compile_sources(
                None,
                &[(Path::new("acme.yaml"), &full_tenant())],
                None,
                serial,
            )
            .unwrap()
        };
        let (a, b) = (compile(5), compile(1_795_867_200));
        assert_eq!((a.serial, b.serial), (5, 1_795_867_200));
        assert_eq!(
            a.revision, b.revision,
            "the serial changed the derived revision"
        );
        assert_eq!(a, Policy { serial: 5, ..b });
    }

    #[test]
    fn json_input() {
        let text = format!(
            r#"{{"tenant": {{"name": "acme", "issuer": "https://cp", "jwks": {JWKS}}},
  "users": [{{"email": "A@x.com"}}],
  "resources": [{{"type": "mcp-server", "name": "gh", "collaborators": [{{"subject": "user:a@x.com", "role": "mcp-server-user"}}],
                 "tools": [{{"name": "t"}}]}}]}}"#
        );
        let policy = compile_sources(None, &[(Path::new("acme.json"), &text)], None, 1).unwrap();
        assert_eq!(policy.tenants[0].users[0].email, "a@x.com");
        assert_eq!(policy.tenants[0].resources.len(), 2);
        assert_eq!(policy.tenants[0].grants.len(), 1);
        let errs = match compile_sources(
            None,
            &[(
                Path::new("acme.json"),
                r#"{"tenant": {"name": "a", "issuer": "i", "jwks": {}, "colour": 1}}"#,
            )],
            None,
            1,
        ) {
            Err(CompileError::Invalid(d)) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(errs.len(), 1);
        assert_eq!((errs[0].line, errs[0].column), (1, 53), "{}", errs[0]);
        assert!(
            errs[0].message.starts_with("unknown field `colour`"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn three_errors_in_one_file() {
        let errs = errors(&minimal(
            "users:\n  - email: a@x.com\n  - email: A@x.com\nteams:\n  - {name: t, members: [nobody@x.com]}\nresources:\n  - {type: cluster, name: c, collaborators: [{subject: \"user:a@x.com\", role: provider-account-user}]}\n",
        ));
        assert_eq!(
            errs,
            [
                "7:12 duplicate user `a@x.com` (first defined at line 6)",
                "9:25 team member `nobody@x.com` is not a user of this tenant",
                "11:78 role `provider-account-user` applies to `provider-account` resources, not to `cluster:c`",
            ]
        );
    }

    #[test]
    fn a_scalar_under_an_unknown_resource_key_does_not_hide_other_errors() {
        let errs = errors(&minimal(
            "users:\n  - {email: a@x.com, role: nosuchrole}\nresources:\n  - type: cluster\n    name: c\n    colour: red\n  - type: provider-account\n    name: p\n    models: nope\n",
        ));
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs.iter().any(|e| e.contains("unknown role `nosuchrole`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("unknown field `colour` in resource `c`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("`models` of resource `p` must be a list of resources")),
            "{errs:?}"
        );
    }

    #[test]
    fn duplicates() {
        let errs = errors(&minimal(
            r#"identity_providers:
  - {name: p, issuer: i1, jwks: {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}, resolve_to: user}
  - {name: p, issuer: i2, jwks: {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}, resolve_to: user}
teams: [{name: t}, {name: t}, {name: everyone}]
virtual_accounts: [{name: v}, {name: v}]
roles: [{name: r}, {name: r}, {name: tenant-admin}]
role_bindings: [{name: b}, {name: b}]
resources:
  - {type: agent, name: a}
  - {type: agent, name: a}
  - type: provider-account
    name: p
    models: [{name: m}, {name: m}]
"#,
        ));
        assert_eq!(
            errs,
            [
                "10:27 duplicate role `r` (first defined at line 10)",
                "10:38 role `tenant-admin` is built in",
                "7:12 duplicate identity provider `p` (first defined at line 6)",
                "8:27 duplicate team `t` (first defined at line 8)",
                "8:38 `everyone` is the built-in team of every active user and cannot be defined",
                "9:38 duplicate virtual account `v` (first defined at line 9)",
                "14:25 duplicate resource `agent:a` (first defined at line 13)",
                "17:32 duplicate resource `model:p/m` (first defined at line 17)",
                "11:35 duplicate role binding `b` (first defined at line 11)",
            ]
        );
    }

    #[test]
    fn reference_and_type_errors() {
        let errs = errors(&minimal(
            r#"identity_providers:
  - {name: gh, issuer: https://cp, jwks: {"keys": []}, resolve_to: virtual-account}
  - {name: okta, issuer: o, jwks: {"keys": [{"kty": "RSA"}]}, resolve_to: user, team_claim: groups}
users: [{email: a@x.com, role: cluster-admin}, {email: b@x.com, role: nope}]
teams:
  - name: t
    identity_provider_mapping: [{identity_provider: gh, value: v}, {identity_provider: nope, value: v}]
virtual_accounts:
  - name: v
    expires: tomorrow
    identity_provider_mapping: [{identity_provider: okta, value: v}]
    permissions: [{resource: "agent:missing", role: agent-viewer}]
roles:
  - {name: r, permissions: ["gadget:read", "model:deploy", "noformat"]}
role_bindings:
  - {name: b, subjects: ["user:nobody@x.com", "group:x", "team:everyone"], permissions: [{resource: "agent:a", role: tenant-admin}]}
resources:
  - {type: agent, name: a, authorized_subjects: ["virtualaccount:ghost"]}
  - {type: model, name: m}
  - {name: untyped}
  - type: cluster
    name: c
    models: [{name: x}]
    workspaces: [{name: "a/b"}, {name: w, type: tool}]
"#,
        ));
        let expected = [
            "18:29 unknown resource type `gadget` in permission `gadget:read`",
            "18:44 resource type `model` has no action `deploy` (permission `model:deploy`)",
            "18:60 invalid permission `noformat`: expected `<type>:<action>` or `<type>:*`",
            "6:24 identity provider `gh` has the tenant's own issuer `https://cp`",
            "6:42 the JWK Set of identity provider `gh` has no keys",
            "6:68 identity provider `gh` resolves to virtual accounts and needs `virtual_account_claim`",
            "7:35 invalid inline `jwks`: key #0: missing `n`",
            "8:32 `cluster-admin` is a collaborator role; grant it on a resource, not as a tenant-level role",
            "8:71 unknown role `nope`",
            "11:53 identity provider `gh` resolves to virtual accounts, not users, so it cannot map teams",
            "11:88 unknown identity provider `nope`",
            "14:14 invalid timestamp `tomorrow`: expected RFC 3339, e.g. `2027-06-01T00:00:00Z`",
            "15:53 identity provider `okta` resolves to users, not virtual accounts",
            "23:12 a `model` is listed under its parent `provider-account` resource, in `models`",
            "24:12 resource `untyped` needs a `type`",
            "27:5 unknown field `models` in resource `c`: children of a `cluster` are listed in `workspaces`",
            "28:25 invalid resource name `a/b`: it must be non-empty, without `/` or spaces",
            "28:49 resource `w` has type `workspace` here, not `tool`",
            "22:50 unknown subject `virtualaccount:ghost`",
            "16:30 unknown resource `agent:missing`",
            "20:26 unknown subject `user:nobody@x.com`",
            "20:47 invalid subject `group:x`: expected `user:<email>`, `team:<name>` or `virtualaccount:<name>`",
            "20:118 `tenant-admin` is a tenant-level role and cannot be granted on a resource",
        ];
        assert_eq!(errs.len(), expected.len(), "{errs:#?}");
        assert_eq!(errs, expected);
    }

    #[test]
    fn too_many_actions() {
        let actions: Vec<String> = (0..60).map(|i| format!("a{i}")).collect();
        let errs = errors(&minimal(&format!(
            "resource_types:\n  - name: big\n    actions: [{}]\n",
            actions.join(", ")
        )));
        assert_eq!(errs.len(), 1, "{errs:?}");
        // 7 built-in actions + a0..a56 = 64; a57 is one too many.
        assert!(
            errs[0].starts_with("7:") && errs[0].contains("`a57` is one more"),
            "{errs:?}"
        );
    }

    #[test]
    fn extension_type_errors() {
        let errs = errors(&minimal(
            "resource_types:\n  - {name: cluster, actions: [read]}\n  - {name: x, parent: nope, children_key: xs, actions: [read]}\n  - {name: y, parent: cluster, actions: []}\n  - {name: z, children_key: zs, actions: [Bad]}\n",
        ));
        assert_eq!(errs.len(), 6, "{errs:#?}");
        assert!(errs[0].starts_with("6:12 resource type `cluster` is built in"));
        assert!(errs[1].starts_with("7:23 unknown parent resource type `nope`"));
    }

    #[test]
    fn across_tenants() {
        let a =
            format!("tenant: {{name: acme, hosts: [a.example.com], issuer: i, jwks: {JWKS}}}\n");
        let b =
            format!("tenant: {{name: acme, hosts: [A.example.com], issuer: i, jwks: {JWKS}}}\n");
        let c = format!("tenant: {{name: other, issuer: i, jwks: {JWKS}}}\n");
        let errs = match compile_sources(
            None,
            &[
                (Path::new("a.yaml"), &a),
                (Path::new("b.yaml"), &b),
                (Path::new("c.yaml"), &c),
            ],
            None,
            1,
        ) {
            Err(CompileError::Invalid(d)) => d.iter().map(ToString::to_string).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            errs,
            [
                "b.yaml:1:16: error: duplicate tenant `acme` (first defined at a.yaml:1)",
                "b.yaml:1:30: error: host `a.example.com` is already served by tenant `acme` (a.yaml:1)",
                "c.yaml:1:16: error: tenant `other` lists no `hosts`; only a bundle with a single tenant may omit them",
            ]
        );
    }

    #[test]
    fn jwks_file_relative_to_tenant_file_and_compile_paths() {
        let dir = std::env::temp_dir().join(format!("gatehouse-lower-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        std::fs::write(dir.join("keys/cp.jwks.json"), JWKS).unwrap();
        std::fs::write(dir.join("keys/notes.txt"), "not a tenant").unwrap();
        std::fs::write(
            dir.join("acme.yaml"),
            "tenant: {name: acme, issuer: i, jwks_file: keys/cp.jwks.json}\n",
        )
        .unwrap();
        std::fs::write(dir.join("README.md"), "ignored").unwrap();
        let policy = crate::compile::compile_paths(&crate::compile::CompileOptions {
            gateway: None,
            inputs: vec![dir.clone()],
            revision: None,
            serial: 1,
        })
        .unwrap();
        assert_eq!(policy.tenants[0].keys.len(), 1);
        std::fs::write(
            dir.join("acme.yaml"),
            "tenant: {name: acme, issuer: i, jwks_file: keys/missing.json}\n",
        )
        .unwrap();
        let err = crate::compile::compile_paths(&crate::compile::CompileOptions {
            gateway: None,
            inputs: vec![dir.join("acme.yaml")],
            revision: None,
            serial: 1,
        })
        .unwrap_err();
        let CompileError::Invalid(d) = err else {
            panic!()
        };
        assert_eq!((d[0].line, d[0].column), (1, 44));
        assert!(
            d[0].message.starts_with("cannot read JWKS file"),
            "{}",
            d[0]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
