//! Deciding a request: the seven steps of the specification (3.1), in order, first failure wins.
//!
//! Nothing here allocates in proportion to the bundle: lookups are binary searches over the
//! bundle's sorted tables, and the only per-request collections are the caller's own subjects.

use crate::authority;
use crate::bundle::{Bundle, LoadError, LoadOptions, LoadedTenant, SubjectCode, Tables};
use crate::cache::{self, CacheStats, TokenCache};
use crate::headers;
use crate::model::{ResourceId, RoleId, Route, UserId, VirtualAccountId};
use crate::reason::Reason;
use crate::request;
use crate::route::{self, Body, Facts};

mod authorize;
#[cfg(feature = "analysis")]
mod explain;
mod outcome;
mod principal;
mod small;

pub(crate) use authorize::{authorize, NoTrace, Trace};
use principal::Cached;
pub(crate) use principal::{check_principal, Caller};

// What access review (`crate::analysis`) and `explain` reuse of the steps.
#[cfg(feature = "analysis")]
pub(crate) use authorize::{action_of, chain, tenant_roles};
#[cfg(feature = "analysis")]
pub use explain::{Explanation, Searched};
#[cfg(feature = "analysis")]
pub(crate) use outcome::{grant_text, principal_name, subject_name};
#[cfg(feature = "analysis")]
pub(crate) use principal::ascii_lowercase;

/// A loaded bundle, ready to decide requests. Share it between the requests of one thread: the
/// only state that changes is the verified-token cache (interior mutability, not `Sync`), which
/// lives and dies with the bundle.
#[derive(Debug)]
pub struct Engine {
    bundle: Bundle,
    cache: TokenCache<Cached>,
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
        let bundle = Bundle::decode(bytes, options)?;
        Ok(Engine {
            cache: TokenCache::new(capacity),
            bundle,
        })
    }

    /// The same engine with a verified-token cache of `capacity` entries (0: no cache).
    pub fn with_token_cache(self, capacity: usize) -> Engine {
        Engine {
            cache: TokenCache::new(capacity),
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
                let token = presented.token;
                // Tenants are few; the index keys the cache (a token verified for one tenant
                // says nothing about another).
                let tenant_index = self
                    .bundle
                    .tenants()
                    .iter()
                    .position(|t| core::ptr::eq(t, tenant))
                    .unwrap_or(usize::MAX) as u32;
                let hit = self
                    .cache
                    .get(tenant_index, token.as_bytes(), now, |cached| {
                        Caller::from_cached(&tables, cached)
                    });
                if let Some(caller) = hit {
                    out.token_cache_hit = true;
                    let caller = caller?;
                    // Everything else the caller rests on is fixed by the bundle; this depends
                    // on the clock (virtual-account expiry).
                    check_principal(&tables, &caller, now)?;
                    caller
                } else {
                    let (caller, window, cached) =
                        self.authenticate(tenant, &tables, &token, now)?;
                    // A just-in-time member is verified every time, until a compile lists them.
                    if caller.just_in_time.is_none() {
                        self.cache
                            .insert(tenant_index, token.as_bytes(), window, now, cached);
                    }
                    caller
                }
            }
        };
        out.principal = Some(caller.principal);
        out.just_in_time = caller.just_in_time.as_ref().map(|m| m.email.clone());
        trace.caller(&caller);

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
            trace,
        )
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
