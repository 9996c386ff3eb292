//! The validated policy model: what the compiler produces from tenant and gateway files and what
//! the bundle encoder writes. Every reference here is already resolved to an index; names are
//! kept for explanations (`gatehouse check`, denial logs).
//!
//! INVARIANT (established by `gatehouse-compiler`'s `lower`, re-checked by `bundle::encode`):
//! every index points inside its table, every table that is looked up by name is sorted by that
//! name (emails lowercased), and a tenant has at most [`MAX_ACTIONS`] distinct action names.

use serde::{Deserialize, Serialize};

/// The most distinct action names one tenant may use: actions are bits of a `u64`.
pub const MAX_ACTIONS: usize = 64;

/// Everything one bundle carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Operator-chosen revision string (`--revision`), shown by `inspect` and in metrics.
    pub revision: String,
    /// Version of the compiler that wrote the bundle.
    pub compiler_version: String,
    /// Monotonic serial set at compile time (`--serial`, by default the compile time in Unix
    /// seconds). A running filter refuses a bundle whose serial is lower than the one in
    /// service. Not part of the derived revision: the same policy keeps its revision.
    #[serde(default)]
    pub serial: u64,
    pub gateway: Gateway,
    /// Sorted by name.
    pub tenants: Vec<Tenant>,
}

/// Request routing and filter behaviour shared by every tenant of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gateway {
    /// `default: authenticated`: a request no route matches passes for any valid principal.
    pub default_authenticated: bool,
    /// `mode: dry-run`: denials are logged and counted but the request continues.
    pub dry_run: bool,
    pub max_body_bytes: u32,
    /// Tried in order; the first source present supplies the token.
    pub token_sources: Vec<TokenSource>,
    /// First match wins.
    pub routes: Vec<Route>,
    /// `override_headers:`: what happens to method/URL override headers (SPEC 3.3).
    pub override_headers: OverrideHeaders,
    /// `host_override_headers:`: what happens to the headers upstream frameworks rebuild the
    /// request's host or base path from ([`crate::headers::HOST_OVERRIDE_HEADERS`]).
    pub host_override_headers: OverrideHeaders,
    /// `path_semicolons: refuse`: any `;` in the path is `path_not_canonical`, not only one in a
    /// dot or empty segment or one that changes the matched route.
    pub refuse_path_semicolons: bool,
    /// `cross_site_cookies: refuse`: a request whose token came from a cookie and that a browser
    /// marks as cross-site (`Sec-Fetch-Site`, else `Origin`) is `cross_site_request`.
    pub refuse_cross_site_cookies: bool,
}

/// What the filter does with `X-HTTP-Method-Override` and the other method/URL override headers
/// ([`crate::headers::OVERRIDE_HEADERS`]), and with `X-Forwarded-Host` and the other host and
/// prefix override headers ([`crate::headers::HOST_OVERRIDE_HEADERS`]): the decision is made on
/// `:method`, `:path` and `:authority`, and an upstream that honours one of them would act on a
/// different request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OverrideHeaders {
    /// Removed from every request the filter lets through (the default).
    #[default]
    Remove,
    /// A request carrying any of them is refused (`request_ambiguous`, 400).
    Deny,
    /// Passed through untouched, for upstreams that need them.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenSource {
    /// Header name lowercased; `prefix` compared case-insensitively and stripped.
    Header {
        name: String,
        prefix: String,
    },
    Query {
        name: String,
    },
    Cookie {
        name: String,
    },
}

impl TokenSource {
    /// `Authorization: Bearer <token>`: the default source, and what `gatehouse check --token`
    /// sends.
    pub fn bearer() -> TokenSource {
        TokenSource::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        }
    }

    pub fn is_bearer(&self) -> bool {
        matches!(self, TokenSource::Header { name, prefix } if name == "authorization" && prefix == "Bearer ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub name: String,
    /// Uppercase; empty means any method.
    pub methods: Vec<String>,
    pub path: PathMatch,
    /// Allowed without a token; a bad token is ignored.
    pub public: bool,
    pub target: RouteTarget,
    /// `mcp:`: the route serves an MCP server, an OAuth protected resource (SPEC 3.4).
    pub mcp: Option<McpResource>,
}

/// An MCP route as an OAuth 2.1 protected resource (MCP authorization specification, RFC 9728,
/// RFC 8707): what its metadata document says, what its tokens must carry, and what the filter
/// does with its JSON-RPC traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpResource {
    /// Names of the tenant's identity providers whose issuers the metadata lists as
    /// `authorization_servers`; empty: every provider that resolves tokens to users.
    pub authorization_servers: Vec<String>,
    /// Scopes a token must carry (`scope`, or `scp`), all of them; published as
    /// `scopes_supported` and in challenges. Sorted, distinct.
    pub scopes: Vec<String>,
    /// Accepted in `aud` besides the canonical resource URL. Sorted, distinct.
    pub audiences: Vec<String>,
    /// The scheme of the canonical resource URL (`https`); `None`: the request's `:scheme`.
    pub scheme: Option<String>,
    /// Whether the header the token came from reaches the upstream (the MCP specification
    /// forbids token passthrough: off unless the gateway file says so).
    pub forward_token: bool,
    /// What a refused JSON-RPC call looks like to the client.
    pub refusal: Refusal,
    /// `tools/list` responses keep only the tools the caller may call.
    pub trim_tools_list: bool,
    /// The largest `tools/list` response body the filter buffers to trim.
    pub max_response_bytes: u32,
}

/// The shape of an authorization refusal of a JSON-RPC request on an MCP route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Refusal {
    /// HTTP 200 with a JSON-RPC error response naming the reason (the SDKs raise it).
    #[default]
    JsonRpc,
    /// `tools/call`: HTTP 200 with a tool result marked `isError`, which the client hands to the
    /// model; other methods as [`Refusal::JsonRpc`].
    ToolResult,
    /// The HTTP 403 denial every other route gets.
    Http,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathMatch {
    /// `/api/llm/mcp/{server}/server`: literal segments and one-segment captures.
    Template(Vec<Segment>),
    /// Literal prefix of the path (query string excluded).
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Segment {
    Literal(String),
    Capture(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteTarget {
    /// Public routes, and routes that only need an authenticated principal.
    None,
    One(Target),
    /// The body is JSON-RPC 2.0; `methods` sorted by method name, `fallback` is the `"*"` entry.
    JsonRpc {
        methods: Vec<(String, Target)>,
        fallback: Option<Target>,
    },
}

impl RouteTarget {
    /// Whether deciding this route may need the request body.
    pub fn reads_body(&self) -> bool {
        match self {
            RouteTarget::None => false,
            RouteTarget::One(t) => t.resource.reads_body(),
            RouteTarget::JsonRpc { .. } => true,
        }
    }
}

/// What a route maps a request to: a resource (by template) and an action name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub resource: Template,
    pub action: String,
}

/// `tool:{server}/{body.params.name}`: the resource type and the path template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub resource_type: String,
    pub path: Vec<Part>,
}

impl Template {
    pub fn reads_body(&self) -> bool {
        self.path.iter().any(|p| matches!(p, Part::Body(_)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    Literal(String),
    /// A `{name}` path capture of the route.
    Capture(String),
    /// `{body.a.b}`: the JSON string at that path of the request body.
    Body(Vec<String>),
    /// `{header.x-name}`, name lowercased.
    Header(String),
    /// `{query.name}`.
    Query(String),
}

/// Index newtypes. They index the tables of one [`Tenant`], and the bundle's tables of that tenant
/// (written in the same order), so the decoder hands them out too.
macro_rules! index_type {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[repr(transparent)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}
index_type!(
    /// Index into [`Tenant::users`].
    UserId,
    /// Index into [`Tenant::teams`].
    TeamId,
    /// Index into [`Tenant::virtual_accounts`].
    VirtualAccountId,
    /// Index into [`Tenant::resources`].
    ResourceId,
    /// Index into [`TenantConfig::roles`].
    RoleId,
    /// Index into [`TenantConfig::resource_types`].
    TypeId,
    /// Index into [`TenantConfig::identity_providers`].
    IdpId,
);

/// A bit set over [`TenantConfig::actions`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct ActionSet(pub u64);

impl ActionSet {
    pub fn contains(self, action: u32) -> bool {
        action < 64 && self.0 & (1u64 << action) != 0
    }
}

/// Who a grant or an `authorized_subjects` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Subject {
    User(UserId),
    Team(TeamId),
    VirtualAccount(VirtualAccountId),
    /// The built-in `team:everyone`: every active user of the tenant, not virtual accounts.
    Everyone,
}

/// One tenant: its settings (what the bundle's CONFIG section carries) and its large tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Everything but the large tables; encoded as is in the bundle (its CONFIG section).
    pub config: TenantConfig,
    /// Sorted by lowercased email.
    pub users: Vec<User>,
    /// Sorted by name; `team:everyone` is not in this table (it is [`Subject::Everyone`]).
    pub teams: Vec<Team>,
    /// Sorted by name.
    pub virtual_accounts: Vec<VirtualAccount>,
    /// Sorted bytewise by the reference string `type:path` (e.g. `model:openai-main/gpt-4o`).
    pub resources: Vec<Resource>,
    /// Sorted by `(resource, subject, role)`, no duplicates.
    pub grants: Vec<Grant>,
    /// API keys (SPEC 2.7), sorted by id, no duplicates.
    pub credentials: Vec<Credential>,
}

/// `tenant.roles` reads `tenant.config.roles`: a tenant is its settings plus its tables, and the
/// compiler and tests name the settings directly.
impl core::ops::Deref for Tenant {
    type Target = TenantConfig;

    fn deref(&self) -> &TenantConfig {
        &self.config
    }
}

impl core::ops::DerefMut for Tenant {
    fn deref_mut(&mut self) -> &mut TenantConfig {
        &mut self.config
    }
}

/// The built-in tenant-level role every user holds unless given another: nothing by itself. The
/// role of a just-in-time member ([`TenantConfig::jit_domains`]).
pub const TENANT_MEMBER: &str = "tenant-member";

/// A tenant's keys, identity providers, action names, types and roles: the small part of a
/// tenant, the bundle's CONFIG section (`docs/bundle-format.md` 3.3). Field order is the wire
/// order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    pub name: String,
    /// Lowercased; exact names or `*.suffix`. Empty: serves every host when it is the only tenant.
    pub hosts: Vec<String>,
    /// Control-plane issuer of user tokens, PATs and virtual-account tokens.
    pub issuer: String,
    pub keys: Vec<Jwk>,
    pub audiences: Vec<String>,
    pub clock_skew_seconds: u32,
    /// Sorted.
    pub revoked_token_ids: Vec<String>,
    pub identity_providers: Vec<IdentityProvider>,
    /// Action names, at most [`MAX_ACTIONS`]; bit `i` of an [`ActionSet`] is `actions[i]`.
    pub actions: Vec<String>,
    pub resource_types: Vec<ResourceType>,
    pub roles: Vec<Role>,
    /// For a tenant with `provisioning: jit`, the email domains (lowercase, sorted) whose users
    /// the bundle does not list become tenant members when the control plane vouches for them
    /// (SPEC 2.6). Empty for every other tenant.
    pub jit_domains: Vec<String>,
    /// The distinct scopes of the tenant's API keys; a key names one by index
    /// ([`Credential::scope`]).
    pub credential_scopes: Vec<CredentialScope>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub name: String,
    pub issuer: String,
    pub keys: Vec<Jwk>,
    pub audiences: Vec<String>,
    /// Empty: whatever the keys can do.
    pub algorithms: Vec<Algorithm>,
    pub resolve_to: ResolveTo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResolveTo {
    User {
        /// Dotted path into the claims, e.g. `email` or `ext.mail`.
        email_claim: Vec<String>,
        team_claim: Option<Vec<String>>,
        /// The token must carry `email_verified: true` (a `false` claim is refused either way).
        require_email_verified: bool,
    },
    VirtualAccount {
        virtual_account_claim: Vec<String>,
    },
}

/// A public verification key (or an explicitly configured HMAC secret) from a JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it pins one.
    pub alg: Option<Algorithm>,
    pub material: KeyMaterial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyMaterial {
    /// Big-endian modulus and exponent.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed affine coordinates.
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
    /// Symmetric secret; only HS* algorithms may use it.
    Symmetric {
        k: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Curve {
    P256,
    P384,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
    HS256,
    HS384,
    HS512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 12] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
    ];

    /// The JOSE name, matched case-sensitively as RFC 7515 requires.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceType {
    pub name: String,
    pub parent: Option<TypeId>,
    pub actions: ActionSet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub kind: RoleKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleKind {
    /// Granted on one resource of `resource_type`; gives `actions` there and on descendants (2.4).
    Collaborator {
        resource_type: TypeId,
        actions: ActionSet,
    },
    /// `tenant-admin`: every action on every resource of the tenant.
    TenantAdmin,
    /// `tenant-member` (no permissions) and custom roles: `<type>:<action>` pairs, one entry per
    /// type, sorted by type.
    Tenant {
        permissions: Vec<(TypeId, ActionSet)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Lowercased.
    pub email: String,
    pub active: bool,
    /// The user's one tenant-level role.
    pub role: RoleId,
    /// Stored team memberships, sorted.
    pub teams: Vec<TeamId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    /// Tenant-level roles every member holds, sorted.
    pub roles: Vec<RoleId>,
    /// `(identity provider, team-claim value)` pairs that also make a caller a member, sorted.
    pub idp_mappings: Vec<(IdpId, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualAccount {
    pub name: String,
    /// Unix seconds; after it every request as this account is denied.
    pub expires: Option<i64>,
    /// Unix seconds; tokens with an earlier `iat` are revoked.
    pub tokens_valid_after: Option<i64>,
    /// Seconds after `tokens_valid_after` during which earlier tokens are still accepted (a
    /// rotation's grace period); 0: none.
    pub rotation_grace: u32,
    /// `(identity provider, claim value)` pairs that resolve to this account, sorted.
    pub idp_mappings: Vec<(IdpId, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub resource_type: TypeId,
    /// Names from the top-level ancestor down, joined by `/`.
    pub path: String,
    pub parent: Option<ResourceId>,
    pub enabled: bool,
    /// `Some`: only these subjects (and tenant admins) may act here and below. Sorted.
    pub authorized_subjects: Option<Vec<Subject>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub resource: ResourceId,
    pub subject: Subject,
    pub role: RoleId,
}

/// An API key of a user or virtual account (SPEC 2.7): what the policy knows of it, never the
/// key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// [`crate::credential::KeyId`].
    pub id: u64,
    /// SHA-256 of the key's secret ([`crate::credential::ApiKey::digest`]).
    pub digest: [u8; 32],
    /// A user or a virtual account; `None` when the principal no longer exists (the key then
    /// fails as `principal_unknown`, like a token naming them).
    pub principal: Option<Subject>,
    /// Unix seconds; from then on the key is `token_expired`.
    pub expires: Option<i64>,
    /// Revoked keys stay in the policy, so that presenting one says `token_revoked`.
    pub revoked: bool,
    /// Index into [`TenantConfig::credential_scopes`]; `None`: the principal's whole access.
    pub scope: Option<u32>,
}

/// What a scoped key may reach: a request must match one rule. Scopes only narrow; the
/// principal's grants still decide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CredentialScope {
    pub rules: Vec<ScopeRule>,
}

/// `type:path`, `type:prefix/*` or `type:*`, optionally `:action`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ScopeRule {
    pub resource_type: TypeId,
    pub path: ScopePath,
    /// `None`: every action.
    pub actions: Option<ActionSet>,
}

/// Which resources of the type a [`ScopeRule`] names, by their path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScopePath {
    /// `type:*`.
    Any,
    /// `type:path`: that resource.
    Exact(String),
    /// `type:prefix/*`: the resources whose path starts with `prefix/`.
    Under(String),
}

impl ScopePath {
    pub fn matches(&self, path: &str) -> bool {
        match self {
            ScopePath::Any => true,
            ScopePath::Exact(exact) => exact == path,
            ScopePath::Under(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }
}

impl CredentialScope {
    /// Whether the scope admits `action` (an index of [`TenantConfig::actions`]) on the
    /// resource of `resource_type` at `path`.
    pub fn admits(&self, resource_type: TypeId, path: &str, action: Option<u32>) -> bool {
        self.rules.iter().any(|rule| {
            rule.resource_type == resource_type
                && rule.path.matches(path)
                && rule
                    .actions
                    .is_none_or(|set| action.is_some_and(|a| set.contains(a)))
        })
    }
}
