//! Deciding a request: the seven steps of the specification (3.1), in order, first failure wins.
//!
//! Nothing here allocates in proportion to the bundle: lookups are binary searches over the
//! bundle's sorted tables, and the only per-request collections are the caller's own subjects.

use std::rc::Rc;
use std::sync::Arc;

use crate::authority;
use crate::bundle::{Bundle, LoadError, LoadOptions, LoadedTenant, SubjectCode, Tables};
use crate::cache::{self, CacheStats, Scope, TokenCache, Window};
use crate::credential::{self, KeyId};
use crate::headers;
use crate::jwt::Signature;
use crate::mcp::McpMethod;
use crate::model::{ResourceId, RoleId, Route, UserId, VirtualAccountId};
use crate::reason::Reason;
use crate::request;
use crate::route::{self, Body, Facts};

mod authorize;
#[cfg(feature = "analysis")]
mod explain;
mod mcp;
mod outcome;
mod principal;
mod small;
#[cfg(test)]
mod tests;

pub(crate) use authorize::{authorize, NoTrace, Trace};
pub use mcp::ToolsListGrant;
use principal::Cached;
pub(crate) use principal::{check_principal, credential_of, Caller};

// What access review (`crate::analysis`) and `explain` reuse of the steps.
#[cfg(feature = "analysis")]
pub(crate) use authorize::{action_of, chain, tenant_roles};
#[cfg(feature = "analysis")]
pub use explain::{Explanation, Searched};
#[cfg(feature = "analysis")]
pub(crate) use outcome::{grant_text, principal_name, subject_name};
#[cfg(feature = "analysis")]
pub(crate) use principal::{ascii_lowercase, just_in_time_caller};

/// A loaded bundle, ready to decide requests. Share it between the requests of one thread: the
/// only state that changes is the verified-token cache (interior mutability, not `Sync` nor
/// `Send`), which the engines of later bundles may share ([`SharedTokenCache`]). The decoded
/// bundle itself is a [`Policy`], which the engines of several threads share.
#[derive(Debug)]
pub struct Engine {
    bundle: Arc<Bundle>,
    cache: SharedTokenCache,
    /// This engine's number in `cache`: cached callers it resolved are used as they are, any
    /// other engine's are resolved again against this bundle (`principal::Cached`).
    generation: u32,
    /// Per tenant, in the bundle's order: what verifying its tokens reads ([`Scope`]).
    scopes: Arc<[Option<Scope>]>,
}

/// A decoded, validated bundle, immutable, that any number of threads share (`Send + Sync`):
/// a process that decides on several threads (the native Envoy module: one per worker) decodes
/// a bundle once and gives each thread an [`Engine`] over it with that thread's own
/// verified-token cache ([`Policy::engine`]). Cloning shares it.
#[derive(Debug, Clone)]
pub struct Policy {
    bundle: Arc<Bundle>,
    scopes: Arc<[Option<Scope>]>,
}

impl Policy {
    /// Decode and validate `bytes` (every check of [`Engine::load`]).
    pub fn decode(bytes: Vec<u8>, options: &LoadOptions) -> Result<Policy, LoadError> {
        let bundle = Bundle::decode(bytes, options)?;
        let scopes = bundle
            .tenants()
            .iter()
            .map(|t| principal::scope_of(&t.config))
            .collect();
        Ok(Policy {
            bundle: Arc::new(bundle),
            scopes,
        })
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// An engine over this bundle using `cache`, which earlier engines (of this or of earlier
    /// bundles, on the same thread) may have filled.
    pub fn engine(&self, cache: &SharedTokenCache) -> Engine {
        Engine {
            generation: cache.0.next_generation(),
            cache: cache.clone(),
            scopes: Arc::clone(&self.scopes),
            bundle: Arc::clone(&self.bundle),
        }
    }
}

/// The decoded bundle is shared between threads by reference: it must stay `Send + Sync`.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Policy>();
};

/// A verified-token cache that several engines use in turn: the engine of a new bundle given the
/// previous engine's cache keeps every signature that one verified, for the tenants whose
/// verification settings are unchanged ([`crate::cache`] says what is kept and why it is safe).
/// Cloning shares the cache.
#[derive(Debug, Clone)]
pub struct SharedTokenCache(Rc<TokenCache<Cached>>);

impl SharedTokenCache {
    /// At most `capacity` entries (0: no cache), under a fresh random key.
    pub fn new(capacity: usize) -> SharedTokenCache {
        SharedTokenCache(Rc::new(TokenCache::new(capacity)))
    }

    /// Hits, misses and occupancy, over every engine that used it.
    pub fn stats(&self) -> CacheStats {
        self.0.stats()
    }
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
    /// `gatehouse check --credential`: the API key of this id, as its holder would present it
    /// (every check but the secret's).
    Credential(KeyId),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// A user the bundle does not list, of a `provisioning: jit` tenant's `jit_domains`, named
    /// by the tenant's control plane: a tenant member until a compile includes them (SPEC 2.6).
    /// Their email is [`Outcome::subject`]'s.
    JustInTime,
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
    /// The id of the API key the caller presented (`x-gatehouse-credential`).
    pub credential: Option<KeyId>,
    /// The JSON-RPC method of a request on a JSON-RPC route, as MCP routes care about it.
    pub mcp_method: Option<McpMethod>,
    /// The resolved caller, kept on MCP routes: a `tools/list` response is trimmed for it.
    caller: Option<Caller>,
    /// The email of a [`Principal::JustInTime`] caller.
    just_in_time: Option<Box<str>>,
    tables: Option<Tables<'e>>,
}

impl Engine {
    /// With a verified-token cache of [`cache::DEFAULT_CAPACITY`] entries.
    pub fn load(bytes: Vec<u8>, options: &LoadOptions) -> Result<Engine, LoadError> {
        Engine::load_with_token_cache(bytes, options, cache::DEFAULT_CAPACITY)
    }

    /// With a verified-token cache of `capacity` entries (0: no cache).
    pub fn load_with_token_cache(
        bytes: Vec<u8>,
        options: &LoadOptions,
        capacity: usize,
    ) -> Result<Engine, LoadError> {
        Engine::load_with_shared_token_cache(bytes, options, &SharedTokenCache::new(capacity))
    }

    /// Using `cache`, which earlier engines may have filled: what they verified for a tenant
    /// whose verification settings this bundle leaves unchanged is a hit here too, the caller
    /// resolved again against this bundle.
    pub fn load_with_shared_token_cache(
        bytes: Vec<u8>,
        options: &LoadOptions,
        cache: &SharedTokenCache,
    ) -> Result<Engine, LoadError> {
        Ok(Policy::decode(bytes, options)?.engine(cache))
    }

    /// The same engine with a verified-token cache of `capacity` entries (0: no cache).
    pub fn with_token_cache(self, capacity: usize) -> Engine {
        self.policy().engine(&SharedTokenCache::new(capacity))
    }

    /// The decoded bundle this engine decides with, for engines of other threads.
    pub fn policy(&self) -> Policy {
        Policy {
            bundle: Arc::clone(&self.bundle),
            scopes: Arc::clone(&self.scopes),
        }
    }

    /// Hits, misses and occupancy of the verified-token cache, for metrics.
    pub fn token_cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The verified-token cache, for the engine of the next bundle.
    pub fn shared_token_cache(&self) -> &SharedTokenCache {
        &self.cache
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Whether the request (by its headers) is one whose decision reads the body; the filter
    /// buffers bodies only then. A bodiless request of an MCP route (`GET`, `DELETE`) counts: a
    /// body sent with one is refused, so it must be seen, not forwarded unread (without one,
    /// Envoy ends the stream with the headers and nothing is buffered).
    pub fn needs_body(&self, authority: &str, method: &str, path: &str) -> bool {
        self.tenant_for(authority).is_ok()
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
        self.decide_traced(request, identity, now, &mut NoTrace)
    }

    /// [`Engine::decide`], reporting what the steps looked at to `trace`.
    pub(crate) fn decide_traced<'e>(
        &'e self,
        request: &Request<'_>,
        identity: Identity<'_>,
        now: i64,
        trace: &mut impl Trace,
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
            credential: None,
            mcp_method: None,
            caller: None,
            just_in_time: None,
            tables: None,
        };
        outcome.decision = match self.steps(request, identity, now, &mut outcome, trace) {
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
        trace: &mut impl Trace,
    ) -> Result<Option<GrantRef>, Reason> {
        // 1. Tenant.
        let tenant = self.tenant_for(request.authority)?;
        let tables = self.bundle.tables(tenant);
        out.tenant = Some(tenant);
        out.tables = Some(tables);
        let gateway = self.bundle.gateway();

        // 2. Canonical request, then route.
        request::canonical_path(request.path)?;
        if headers::override_refused(gateway, request.headers) {
            return Err(Reason::RequestAmbiguous);
        }
        let matched = route::match_route_one_reading(gateway, request.method, request.path)?;
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
            Identity::Credential(id) => credential_of(&tables, id, now)?,
            Identity::Token => {
                let presented =
                    request::extract_token(&gateway.token_sources, request.path, request.headers)?
                        .ok_or(Reason::TokenMissing)?;
                out.token_presented = true;
                if presented.from_cookie
                    && gateway.refuse_cross_site_cookies
                    && request::cross_site(request.headers, request.authority)?
                {
                    return Err(Reason::CrossSiteRequest);
                }
                if credential::is_key(&presented.token) {
                    self.key_caller(&tables, &presented.token, now)?
                } else {
                    let caller = self.token_caller(tenant, &tables, &presented.token, now, out)?;
                    if let Some(mcp) = route.and_then(|r| r.mcp.as_ref()) {
                        mcp::check_resource_token(mcp, request, &presented.token)?;
                    }
                    caller
                }
            }
        };
        out.principal = Some(caller.principal);
        out.credential = caller.credential.map(|c| c.id);
        if route.is_some_and(|r| r.mcp.is_some()) {
            out.caller = Some(caller.clone());
        }
        let scope = caller_scope(&tenant.config, &caller)?;
        out.just_in_time = caller.just_in_time.as_ref().map(|m| m.email.clone());
        trace.caller(&caller);

        // 6. Resource and action.
        // A scoped key reaches only resources its scope names: a request that names none is
        // outside it.
        let Some(route) = route else {
            return scope.map_or(Ok(None), |_| Err(Reason::CredentialOutOfScope));
        };
        // MCP's Streamable HTTP transport also sends bodiless requests to the server's URL: GET
        // opens the server's event stream, DELETE ends a session. On an MCP route they are the
        // server's `"*"` target; a body on them is refused rather than left unread.
        let bodiless = route::mcp_bodiless(route, request.method);
        if bodiless && !matches!(request.body, Body::Absent | Body::Bytes(&[])) {
            return Err(Reason::BodyInvalid);
        }
        let body = if route.target.reads_body() && !bodiless {
            Some(route::read_body(route, request.headers, request.body)?)
        } else {
            None
        };
        let body = body.as_ref().map(route::ReadBody::as_ref);
        if let (crate::model::RouteTarget::JsonRpc { .. }, Some(body)) = (&route.target, body) {
            out.mcp_method = route::jsonrpc_method(body).map(McpMethod::of);
            route::mcp_headers_agree(request.headers, body)?;
        }
        let target = if bodiless {
            match &route.target {
                crate::model::RouteTarget::JsonRpc { fallback, .. } => {
                    Some(fallback.as_ref().ok_or(Reason::ResourceUnresolved)?)
                }
                _ => None,
            }
        } else {
            route::target(route, body)?
        };
        let Some(target) = target else {
            return scope.map_or(Ok(None), |_| Err(Reason::CredentialOutOfScope));
        };
        out.resource_type = Some(target.resource.resource_type.as_str());
        out.action = Some(target.action.as_str());
        let facts = Facts {
            path: request.path,
            headers: request.headers,
            captures: &captures,
            body,
        };
        let path: &str = out
            .resource_path
            .insert(route::fill(&target.resource, &facts)?);
        self.resource_step(
            tenant,
            &tables,
            &caller,
            &target.resource.resource_type,
            path,
            &target.action,
            trace,
        )
    }

    /// Steps 6 (after the resource path is known) and 7: the caller's API-key scope, the
    /// resource, and the authorization. Also how each tool of a `tools/list` response is decided
    /// ([`Engine::tool_allowed`]).
    #[allow(
        clippy::too_many_arguments,
        reason = "the facts of steps 6 and 7, each needed"
    )]
    fn resource_step(
        &self,
        tenant: &LoadedTenant,
        tables: &Tables<'_>,
        caller: &Caller,
        resource_type: &str,
        path: &str,
        action: &str,
        trace: &mut impl Trace,
    ) -> Result<Option<GrantRef>, Reason> {
        if let Some(scope) = caller_scope(&tenant.config, caller)? {
            // Before the lookup: the scope is a fact about names, and an out-of-scope key learns
            // nothing about which resources exist.
            let config = &tenant.config;
            let ty = config
                .resource_types
                .iter()
                .position(|t| t.name == resource_type)
                .and_then(|t| u32::try_from(t).ok())
                .map(crate::model::TypeId);
            let action = config
                .actions
                .iter()
                .position(|a| a == action)
                .and_then(|a| u32::try_from(a).ok());
            if !ty.is_some_and(|t| scope.admits(t, path, action)) {
                return Err(Reason::CredentialOutOfScope);
            }
        }
        let (resource_index, resource) = tables
            .resource(resource_type, path)
            .ok_or(Reason::ResourceUnknown)?;

        // 7. Authorize.
        authorize(
            tenant,
            tables,
            caller,
            resource_index,
            resource,
            action,
            trace,
        )
    }

    /// Steps 4-5 for a presented token, through the verified-token cache.
    fn token_caller(
        &self,
        tenant: &LoadedTenant,
        tables: &Tables<'_>,
        token: &str,
        now: i64,
        out: &mut Outcome<'_>,
    ) -> Result<Caller, Reason> {
        // Tenants are few. The scope keys the cache: a token verified for one tenant, or under
        // other keys, issuers, audiences or skew, is not found.
        let scope = self
            .bundle
            .tenants()
            .iter()
            .position(|t| core::ptr::eq(t, tenant))
            .and_then(|i| self.scopes.get(i).copied().flatten());
        let Some(scope) = scope else {
            return Ok(self
                .authenticate(tenant, tables, token, now, Signature::Check)?
                .0);
        };
        let hit = self.cache.0.get(&scope, token.as_bytes(), now, |cached| {
            cached
                .resolved_by(self.generation)
                .then(|| Caller::from_cached(tables, cached))
        });
        match hit {
            Some(Some(caller)) => {
                out.token_cache_hit = true;
                let caller = caller?;
                // Everything else the caller rests on is fixed by this bundle; this depends on
                // the clock (virtual-account expiry).
                check_principal(tables, &caller, now)?;
                Ok(caller)
            }
            // Verified by the engine of another bundle under the same scope: every step but
            // the signature again, against this bundle (revocations, users, virtual accounts,
            // teams, the time), and the caller stored as this engine resolves it.
            Some(None) => {
                out.token_cache_hit = true;
                let (caller, window, cached) =
                    self.authenticate(tenant, tables, token, now, Signature::Verified)?;
                self.remember(&scope, token, window, now, &caller, cached);
                Ok(caller)
            }
            None => {
                let (caller, window, cached) =
                    self.authenticate(tenant, tables, token, now, Signature::Check)?;
                self.remember(&scope, token, window, now, &caller, cached);
                Ok(caller)
            }
        }
    }

    /// Caches what verifying `token` established, unless the caller is a just-in-time member:
    /// those are verified every time, until a compile lists them (an entry would not say who).
    fn remember(
        &self,
        scope: &Scope,
        token: &str,
        window: Window,
        now: i64,
        caller: &Caller,
        cached: Cached,
    ) {
        if caller.just_in_time.is_none() {
            self.cache
                .0
                .insert(scope, token.as_bytes(), window, now, cached);
        }
    }

    /// Step 1: the authority read one way ([`authority::parse`]), then exact host names, then
    /// the longest matching `*suffix`, as Envoy picks a virtual host; a lone tenant without hosts
    /// serves every host.
    fn tenant_for(&self, authority: &str) -> Result<&LoadedTenant, Reason> {
        let host = authority::parse(authority)?.host;
        let tenants = self.bundle.tenants();
        if let [only] = tenants {
            if only.config.hosts.is_empty() {
                return Ok(only);
            }
        }
        tenants
            .iter()
            .filter_map(|t| {
                let best = t
                    .config
                    .hosts
                    .iter()
                    .filter_map(|pattern| authority::matches(pattern, &host))
                    .max()?;
                Some((best, t))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, t)| t)
            .ok_or(Reason::TenantUnknown)
    }
}

/// What a caller's scoped API key may reach; `None` for every other caller (a key without a
/// scope, a token, `--as`). A scope index the tenant lacks admits nothing.
pub(crate) fn caller_scope<'t>(
    config: &'t crate::model::TenantConfig,
    caller: &Caller,
) -> Result<Option<&'t crate::model::CredentialScope>, Reason> {
    caller
        .credential
        .and_then(|c| c.scope)
        .map(|i| {
            config
                .credential_scopes
                .get(i as usize)
                .ok_or(Reason::CredentialOutOfScope)
        })
        .transpose()
}
