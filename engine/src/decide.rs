//! Deciding a request: the seven steps of the specification (3.1), in order, first failure wins.
//!
//! Nothing here allocates in proportion to the bundle: lookups are binary searches over the
//! bundle's sorted tables, and the only per-request collections are the caller's own subjects.

use std::borrow::Cow;

use crate::bundle::{
    self, Bundle, LoadError, LoadOptions, LoadedTenant, ResourceRecord, SubjectCode, Tables,
};
use crate::cache::{self, CacheStats, TokenCache, Window};
use crate::headers;
use crate::jwt::{self, Token, Validation};
use crate::model::{
    IdpId, ResolveTo, ResourceId, RoleId, RoleKind, Route, Subject, UserId, VirtualAccountId,
};
use crate::reason::Reason;
use crate::route::{self, Body, Facts};

/// A loaded bundle, ready to decide requests. Share it between the requests of one thread: the
/// only state that changes is the verified-token cache (interior mutability, not `Sync`), which
/// lives and dies with the bundle.
#[derive(Debug)]
pub struct Engine {
    bundle: Bundle,
    cache: TokenCache<Caller>,
}

/// The facts of one request. Header names may be in any case.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `:authority` (or `Host`), with or without a port.
    pub authority: &'a str,
    pub method: &'a str,
    /// Path with the query string.
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Body<'a>,
}

/// Who the caller is taken to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity<'a> {
    /// Steps 3-4: the token the request carries.
    Token,
    /// `gatehouse check --as`: skip the token and resolve this subject reference directly
    /// (`user:<email>` or `virtualaccount:<name>`).
    Subject(&'a str),
}

/// The answer. A deny carries its reason; an allow carries what allowed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `grant` is `None` on public routes and on routes that only need a valid principal.
    Allow {
        grant: Option<GrantRef>,
    },
    Deny {
        reason: Reason,
    },
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    pub fn reason(&self) -> Option<Reason> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny { reason } => Some(*reason),
        }
    }
}

/// What allowed a request: a subject of the caller holding a role, on a resource (collaborator
/// role) or tenant-wide (tenant-level role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantRef {
    pub subject: SubjectCode,
    pub role: RoleId,
    /// `None` for tenant-level roles.
    pub resource: Option<ResourceId>,
}

/// The resolved caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User(UserId),
    VirtualAccount(VirtualAccountId),
}

/// Everything a decision found out, for headers, logs and `gatehouse check`.
#[derive(Debug, Clone)]
pub struct Outcome<'e> {
    pub decision: Decision,
    pub tenant: Option<&'e LoadedTenant>,
    pub route: Option<&'e Route>,
    pub principal: Option<Principal>,
    /// The requested resource type, as the route names it.
    pub resource_type: Option<&'e str>,
    /// The requested resource path, filled from the request.
    pub resource_path: Option<String>,
    pub action: Option<&'e str>,
    /// A token was found in the request (for `www-authenticate: error="invalid_token"`).
    pub token_presented: bool,
    /// The token was found in the verified-token cache (no signature check ran).
    pub token_cache_hit: bool,
    tables: Option<Tables<'e>>,
}

impl Engine {
    /// With a verified-token cache of [`cache::DEFAULT_CAPACITY`] entries.
    pub fn load(bytes: Vec<u8>, options: &LoadOptions) -> Result<Engine, LoadError> {
        let bundle = Bundle::decode(bytes, options)?;
        Ok(Engine {
            cache: TokenCache::new(cache::DEFAULT_CAPACITY, cache_seed(&bundle)),
            bundle,
        })
    }

    /// The same engine with a verified-token cache of `capacity` entries (0: no cache).
    pub fn with_token_cache(self, capacity: usize) -> Engine {
        Engine {
            cache: TokenCache::new(capacity, cache_seed(&self.bundle)),
            bundle: self.bundle,
        }
    }

    /// Hits, misses and occupancy of the verified-token cache, for metrics.
    pub fn token_cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Whether the request (by its headers) is one whose decision reads the body; the filter
    /// buffers bodies only then.
    pub fn needs_body(&self, authority: &str, method: &str, path: &str) -> bool {
        self.tenant_for(authority).is_some()
            && route::match_route(self.bundle.gateway(), method, path)
                .is_some_and(|(r, _)| !r.public && r.target.reads_body())
    }

    /// Decide a request at time `now` (Unix seconds).
    pub fn decide<'e>(
        &'e self,
        request: &Request<'_>,
        identity: Identity<'_>,
        now: i64,
    ) -> Outcome<'e> {
        let mut outcome = Outcome {
            decision: Decision::Deny {
                reason: Reason::TenantUnknown,
            },
            tenant: None,
            route: None,
            principal: None,
            resource_type: None,
            resource_path: None,
            action: None,
            token_presented: false,
            token_cache_hit: false,
            tables: None,
        };
        outcome.decision = match self.steps(request, identity, now, &mut outcome) {
            Ok(grant) => Decision::Allow { grant },
            Err(reason) => Decision::Deny { reason },
        };
        outcome
    }

    fn steps<'e>(
        &'e self,
        request: &Request<'_>,
        identity: Identity<'_>,
        now: i64,
        out: &mut Outcome<'e>,
    ) -> Result<Option<GrantRef>, Reason> {
        // 1. Tenant.
        let tenant = self
            .tenant_for(request.authority)
            .ok_or(Reason::TenantUnknown)?;
        let tables = self.bundle.tables(tenant);
        out.tenant = Some(tenant);
        out.tables = Some(tables);
        let gateway = self.bundle.gateway();

        // 2. Canonical request, then route.
        route::canonical_path(request.path)?;
        if headers::override_refused(gateway, request.headers) {
            return Err(Reason::RequestAmbiguous);
        }
        let matched = route::match_route(gateway, request.method, request.path);
        let (route, captures) = match matched {
            Some((route, captures)) => (Some(route), captures),
            None if gateway.default_authenticated => (None, Vec::new()),
            None => return Err(Reason::NoRoute),
        };
        out.route = route;
        if route.is_some_and(|r| r.public) {
            return Ok(None);
        }

        // 3-5. Token and principal.
        let caller = match identity {
            Identity::Subject(subject) => self.resolve_subject(tenant, &tables, subject, now)?,
            Identity::Token => {
                let token =
                    route::extract_token(&gateway.token_sources, request.path, request.headers)?
                        .ok_or(Reason::TokenMissing)?;
                out.token_presented = true;
                // Tenants are few; the index keys the cache (a token verified for one tenant
                // says nothing about another).
                let tenant_index = self
                    .bundle
                    .tenants()
                    .iter()
                    .position(|t| core::ptr::eq(t, tenant))
                    .unwrap_or(usize::MAX) as u32;
                if let Some(caller) = self.cache.get(tenant_index, token.as_bytes(), now) {
                    out.token_cache_hit = true;
                    // Everything else the caller rests on is fixed by the bundle; this depends
                    // on the clock (virtual-account expiry).
                    check_principal(&tables, &caller, now)?;
                    caller
                } else {
                    let (caller, window) = self.authenticate(tenant, &tables, &token, now)?;
                    self.cache
                        .insert(tenant_index, token.as_bytes(), window, now, caller.clone());
                    caller
                }
            }
        };
        out.principal = Some(caller.principal);

        // 6. Resource and action.
        let Some(route) = route else {
            return Ok(None);
        };
        let body = if route.target.reads_body() {
            Some(route::read_body(route, request.headers, request.body)?)
        } else {
            None
        };
        let body = body.as_ref().map(route::ReadBody::as_ref);
        let Some(target) = route::target(route, body)? else {
            return Ok(None);
        };
        out.resource_type = Some(target.resource.resource_type.as_str());
        out.action = Some(target.action.as_str());
        let facts = Facts {
            path: request.path,
            headers: request.headers,
            captures: &captures,
            body,
        };
        let path = route::fill(&target.resource, &facts)?;
        let found = tables.resource(&target.resource.resource_type, &path);
        out.resource_path = Some(path);
        let (resource_index, resource) = found.ok_or(Reason::ResourceUnknown)?;

        // 7. Authorize.
        authorize(
            tenant,
            &tables,
            &caller,
            resource_index,
            resource,
            &target.action,
        )
    }

    /// Step 1: exact host names first, then the longest matching `*.suffix`; a lone tenant
    /// without hosts serves every host.
    fn tenant_for(&self, authority: &str) -> Option<&LoadedTenant> {
        let host = host_of(authority);
        let tenants = self.bundle.tenants();
        if let [only] = tenants {
            if only.config.hosts.is_empty() {
                return Some(only);
            }
        }
        let exact = tenants
            .iter()
            .find(|t| t.config.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)));
        exact.or_else(|| {
            tenants
                .iter()
                .filter_map(|t| {
                    t.config
                        .hosts
                        .iter()
                        .filter_map(|h| h.strip_prefix('*'))
                        .filter(|suffix| {
                            host.len() > suffix.len()
                                && host
                                    .get(host.len() - suffix.len()..)
                                    .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
                        })
                        .map(str::len)
                        .max()
                        .map(|len| (len, t))
                })
                .max_by_key(|(len, _)| *len)
                .map(|(_, t)| t)
        })
    }

    /// Steps 4-5 for a token; also the time window in which the same token gets the same answer.
    fn authenticate(
        &self,
        tenant: &LoadedTenant,
        tables: &Tables<'_>,
        raw: &str,
        now: i64,
    ) -> Result<(Caller, Window), Reason> {
        let token = Token::parse(raw)?;
        let issuer = token.issuer().ok_or(Reason::IssuerUnknown)?;
        let config = &tenant.config;
        let skew = i64::from(config.clock_skew_seconds);
        let idp = if issuer == config.issuer {
            None
        } else if let Some(i) = config
            .identity_providers
            .iter()
            .position(|p| p.issuer == issuer)
        {
            Some(i)
        } else if self.bundle.tenants().iter().any(|t| {
            t.config.issuer == issuer
                || t.config
                    .identity_providers
                    .iter()
                    .any(|p| p.issuer == issuer)
        }) {
            return Err(Reason::TenantMismatch);
        } else {
            return Err(Reason::IssuerUnknown);
        };

        let (keys, algorithms, audiences) = match idp {
            None => (&tenant.keys, &[][..], &config.audiences),
            Some(i) => {
                let provider = config
                    .identity_providers
                    .get(i)
                    .ok_or(Reason::IssuerUnknown)?;
                let keys = tenant.idp_keys.get(i).ok_or(Reason::KeyUnknown)?;
                (keys, provider.algorithms.as_slice(), &provider.audiences)
            }
        };
        jwt::verify(
            &token,
            &Validation {
                keys,
                algorithms,
                audiences,
                clock_skew_seconds: skew,
                now,
            },
        )?;
        let claims = token.claims();
        if let Some(jti) = claims.str("jti") {
            if config
                .revoked_token_ids
                .binary_search_by(|r| r.as_str().cmp(jti))
                .is_ok()
            {
                return Err(Reason::TokenRevoked);
            }
        }

        let caller = match idp {
            None => {
                if claims.str("tenant") != Some(config.name.as_str()) {
                    return Err(Reason::TenantMismatch);
                }
                let subject = claims.str("sub").ok_or(Reason::PrincipalUnknown)?;
                self.resolve_subject(tenant, tables, subject, now)?
            }
            Some(i) => {
                let provider = config
                    .identity_providers
                    .get(i)
                    .ok_or(Reason::IssuerUnknown)?;
                let idp_index = IdpId(u32::try_from(i).map_err(|_| Reason::IssuerUnknown)?);
                match &provider.resolve_to {
                    ResolveTo::User {
                        email_claim,
                        team_claim,
                        require_email_verified,
                    } => {
                        // An address the provider has not verified names no one: anyone can
                        // put someone else's address on an unverified account.
                        match claims.get("email_verified") {
                            Some(serde_json::Value::Bool(true)) => {}
                            None if !require_email_verified => {}
                            _ => return Err(Reason::PrincipalUnknown),
                        }
                        let email = claims
                            .path(email_claim)
                            .and_then(serde_json::Value::as_str)
                            .ok_or(Reason::PrincipalUnknown)?;
                        let mut caller = user_caller(tables, &ascii_lowercase(email))?;
                        if let Some(values) = team_claim.as_ref().and_then(|c| claims.path(c)) {
                            let values: Vec<&str> = match values {
                                serde_json::Value::String(s) => vec![s.as_str()],
                                serde_json::Value::Array(items) => {
                                    items.iter().filter_map(serde_json::Value::as_str).collect()
                                }
                                _ => Vec::new(),
                            };
                            for value in values {
                                caller.subjects.extend(
                                    tables.mapped_teams(idp_index, value).map(SubjectCode::team),
                                );
                            }
                            caller.normalize();
                        }
                        caller
                    }
                    ResolveTo::VirtualAccount {
                        virtual_account_claim,
                    } => {
                        let value = claims
                            .path(virtual_account_claim)
                            .and_then(serde_json::Value::as_str)
                            .ok_or(Reason::PrincipalUnknown)?;
                        let va = tables
                            .mapped_virtual_account(idp_index, value)
                            .ok_or(Reason::PrincipalUnknown)?;
                        Caller::virtual_account(va)
                    }
                }
            }
        };
        check_principal(tables, &caller, now)?;
        if let Principal::VirtualAccount(i) = caller.principal {
            let valid_after = tables
                .virtual_accounts
                .get(i.index())
                .and_then(|v| v.tokens_valid_after());
            if valid_after.is_some_and(|after| claims.int("iat").is_none_or(|iat| iat < after)) {
                return Err(Reason::TokenRevoked);
            }
        }
        // `verify` succeeded: `exp` is present and every time claim is an integer.
        let window = Window {
            exp: claims.int("exp").unwrap_or(i64::MIN),
            nbf: claims.int("nbf"),
            iat: claims.int("iat"),
            skew: skew.max(0),
        };
        Ok((caller, window))
    }

    /// A subject reference (`user:<email>`, `virtualaccount:<name>`) to a caller, with the
    /// principal checks of 2.5.
    fn resolve_subject(
        &self,
        _tenant: &LoadedTenant,
        tables: &Tables<'_>,
        subject: &str,
        now: i64,
    ) -> Result<Caller, Reason> {
        let caller = if let Some(email) = subject.strip_prefix("user:") {
            user_caller(tables, &ascii_lowercase(email))?
        } else if let Some(name) = subject.strip_prefix("virtualaccount:") {
            let (i, _) = tables
                .virtual_account(name)
                .ok_or(Reason::PrincipalUnknown)?;
            Caller::virtual_account(i)
        } else {
            return Err(Reason::PrincipalUnknown);
        };
        check_principal(tables, &caller, now)?;
        Ok(caller)
    }
}

/// Varies the cache's hash per bundle.
fn cache_seed(bundle: &Bundle) -> u64 {
    let mut seed = [0u8; 8];
    seed.copy_from_slice(bundle.digest().get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(seed)
}

/// An email as the user table stores it: ASCII letters lowercased, everything else exactly as
/// given. Full Unicode lowercasing would let `\u{212A}ira@acme.com` (Kelvin sign) name
/// `kira@acme.com`; no mail system treats those as one mailbox. Borrows when nothing changes
/// (the usual case: emails are stored lowercased and usually sent that way).
fn ascii_lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Host of an authority: no port, no brackets around IPv6 literals, lowercase.
fn host_of(authority: &str) -> Cow<'_, str> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                authority
            }
        })
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// The caller and every subject it acts as (itself, its teams, `team:everyone`), sorted.
#[derive(Debug, Clone)]
struct Caller {
    principal: Principal,
    subjects: Small<SubjectCode, 12>,
}

/// A short list kept inline (no allocation per request in the usual case), spilling to the heap.
#[derive(Debug, Clone)]
enum Small<T: Copy + Default, const N: usize> {
    Inline { len: usize, items: [T; N] },
    Heap(Vec<T>),
}

impl<T: Copy + Default, const N: usize> Small<T, N> {
    fn new() -> Self {
        Small::Inline {
            len: 0,
            items: [T::default(); N],
        }
    }

    fn push(&mut self, value: T) {
        match self {
            Small::Inline { len, items } => {
                if let Some(slot) = items.get_mut(*len) {
                    *slot = value;
                    *len += 1;
                } else {
                    let mut heap = Vec::with_capacity(N * 2);
                    heap.extend_from_slice(items);
                    heap.push(value);
                    *self = Small::Heap(heap);
                }
            }
            Small::Heap(v) => v.push(value),
        }
    }

    fn truncate(&mut self, to: usize) {
        match self {
            Small::Inline { len, .. } => *len = (*len).min(to),
            Small::Heap(v) => v.truncate(to),
        }
    }
}

impl<T: Copy + Default, const N: usize> Extend<T> for Small<T, N> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            self.push(v);
        }
    }
}

impl<T: Copy + Default, const N: usize> core::ops::Deref for Small<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Small::Inline { len, items } => items.get(..*len).unwrap_or(&[]),
            Small::Heap(v) => v,
        }
    }
}

impl<T: Copy + Default, const N: usize> core::ops::DerefMut for Small<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Small::Inline { len, items } => items.get_mut(..*len).unwrap_or(&mut []),
            Small::Heap(v) => v,
        }
    }
}

impl Caller {
    fn virtual_account(id: VirtualAccountId) -> Caller {
        Caller {
            principal: Principal::VirtualAccount(id),
            subjects: {
                let mut s = Small::new();
                s.push(SubjectCode::virtual_account(id));
                s
            },
        }
    }

    fn normalize(&mut self) {
        // Usually already so (user code < team codes, sorted at load, < everyone): skip the sort.
        if self
            .subjects
            .windows(2)
            .all(|w| matches!(w, [a, b] if a < b))
        {
            return;
        }
        self.subjects.sort_unstable();
        let mut kept: usize = 0;
        for i in 0..self.subjects.len() {
            let (Some(&v), prev) = (self.subjects.get(i), kept.checked_sub(1)) else {
                break;
            };
            if prev.and_then(|p| self.subjects.get(p)) != Some(&v) {
                if let Some(slot) = self.subjects.get_mut(kept) {
                    *slot = v;
                }
                kept += 1;
            }
        }
        self.subjects.truncate(kept);
    }
}

fn user_caller(tables: &Tables<'_>, email: &str) -> Result<Caller, Reason> {
    let (id, user) = tables.user(email).ok_or(Reason::PrincipalUnknown)?;
    let mut subjects = Small::new();
    subjects.push(SubjectCode::user(id));
    subjects.extend(tables.teams_of(user).map(SubjectCode::team));
    subjects.push(SubjectCode::EVERYONE);
    let mut caller = Caller {
        principal: Principal::User(id),
        subjects,
    };
    caller.normalize();
    Ok(caller)
}

fn check_principal(tables: &Tables<'_>, caller: &Caller, now: i64) -> Result<(), Reason> {
    match caller.principal {
        Principal::User(i) => {
            let user = tables
                .users
                .get(i.index())
                .ok_or(Reason::PrincipalUnknown)?;
            if !user.is_active() {
                return Err(Reason::PrincipalInactive);
            }
        }
        Principal::VirtualAccount(i) => {
            let va = tables
                .virtual_accounts
                .get(i.index())
                .ok_or(Reason::PrincipalUnknown)?;
            if va.expires().is_some_and(|expires| now >= expires) {
                return Err(Reason::PrincipalExpired);
            }
        }
    }
    Ok(())
}

/// Step 7.
fn authorize(
    tenant: &LoadedTenant,
    tables: &Tables<'_>,
    caller: &Caller,
    resource_index: ResourceId,
    resource: &ResourceRecord,
    action_name: &str,
) -> Result<Option<GrantRef>, Reason> {
    let config = &tenant.config;
    let action = config
        .actions
        .iter()
        .position(|a| a == action_name)
        .ok_or(Reason::NoGrant)? as u32;
    let type_actions = config
        .resource_types
        .get(resource.resource_type().index())
        .map(|t| t.actions)
        .unwrap_or_default();
    if !type_actions.contains(action) {
        return Err(Reason::NoGrant);
    }

    // The resource and its ancestors, nearest first. Depth is bounded at load.
    let chain = || {
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
    };

    // Narrowing: disabled anywhere up the chain denies everyone.
    if chain().any(|(_, r)| r.is_disabled()) {
        return Err(Reason::ResourceDisabled);
    }

    // Tenant-level roles: the user's own role, then its teams' roles.
    let tenant_roles = tenant_roles(tables, caller);
    let admin = tenant_roles.iter().find(|(_, role)| {
        config
            .roles
            .get(role.index())
            .is_some_and(|r| matches!(r.kind, RoleKind::TenantAdmin))
    });

    if admin.is_none() {
        for (_, r) in chain() {
            if r.is_restricted() && !caller.subjects.iter().any(|s| tables.authorizes(r, *s)) {
                return Err(Reason::NotAuthorizedSubject);
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

    for (index, r) in chain() {
        let grants = tables.grants_of(r);
        for subject in caller.subjects.iter() {
            let start = grants.partition_point(|g| g.subject() < *subject);
            for g in grants
                .get(start..)
                .unwrap_or(&[])
                .iter()
                .take_while(|g| g.subject() == *subject)
            {
                let role = g.role();
                let grants_action = config
                    .roles
                    .get(role.index())
                    .is_some_and(|r| match r.kind {
                        RoleKind::Collaborator { actions, .. } => actions.contains(action),
                        _ => false,
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
fn tenant_roles(tables: &Tables<'_>, caller: &Caller) -> Small<(SubjectCode, RoleId), 8> {
    let mut roles = Small::new();
    if let Principal::User(id) = caller.principal {
        if let Some(user) = tables.users.get(id.index()) {
            roles.push((SubjectCode::user(id), user.role()));
        }
    }
    for subject in caller.subjects.iter() {
        if let Some(team) = subject.team_id().and_then(|t| tables.teams.get(t.index())) {
            roles.extend(tables.roles_of(team).map(|role| (*subject, role)));
        }
    }
    roles
}

impl Outcome<'_> {
    /// `user:<email>` or `virtualaccount:<name>` of the resolved principal.
    pub fn subject(&self) -> Option<String> {
        let tables = self.tables.as_ref()?;
        Some(match self.principal? {
            Principal::User(id) => subject_name(tables, SubjectCode::user(id)),
            Principal::VirtualAccount(id) => subject_name(tables, SubjectCode::virtual_account(id)),
        })
    }

    pub fn tenant_name(&self) -> Option<&str> {
        self.tenant.map(|t| t.config.name.as_str())
    }

    pub fn route_name(&self) -> Option<&str> {
        self.route.map(|r| r.name.as_str())
    }

    /// `type:path` of the requested resource, when the route names one and it could be filled.
    pub fn resource(&self) -> Option<String> {
        Some(format!(
            "{}:{}",
            self.resource_type?,
            self.resource_path.as_ref()?
        ))
    }

    /// What allowed the request, e.g.
    /// `team:ml-engineers provider-account-user on provider-account:openai-main`.
    pub fn grant(&self) -> Option<String> {
        let Decision::Allow { grant: Some(grant) } = self.decision else {
            return None;
        };
        let tables = self.tables.as_ref()?;
        let role = self
            .tenant?
            .config
            .roles
            .get(grant.role.index())
            .map_or("?", |r| r.name.as_str());
        let subject = subject_name(tables, grant.subject);
        Some(
            match grant.resource.and_then(|i| tables.resources.get(i.index())) {
                Some(r) => format!("{subject} {role} on {}", tables.str(r.key)),
                None => format!("{subject} {role} (tenant role)"),
            },
        )
    }
}

fn subject_name(tables: &Tables<'_>, code: SubjectCode) -> String {
    match code.subject() {
        Subject::User(u) => format!(
            "user:{}",
            tables
                .users
                .get(u.index())
                .map_or("?", |u| tables.str(u.email))
        ),
        Subject::Team(t) => format!(
            "team:{}",
            tables
                .teams
                .get(t.index())
                .map_or("?", |t| tables.str(t.name))
        ),
        Subject::VirtualAccount(v) => format!(
            "virtualaccount:{}",
            tables
                .virtual_accounts
                .get(v.index())
                .map_or("?", |v| tables.str(v.name))
        ),
        Subject::Everyone => "team:everyone".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("Acme.GW.example.com:8443"), "acme.gw.example.com");
        assert_eq!(host_of("[::1]:10000"), "::1");
        assert_eq!(host_of("example.com."), "example.com");
        assert_eq!(host_of("example.com"), "example.com");
    }
}
