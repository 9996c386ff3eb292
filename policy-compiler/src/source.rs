//! The source model: serde types that mirror the tenant file (SPEC 2.1) and the gateway file
//! (SPEC 3.2) exactly. Nothing here is validated beyond its shape; [`crate::lower`] and
//! [`crate::gateway`] turn these into the engine's IR and report every problem they find.
//!
//! Values that later checks need to point at are [`Spanned`], so a diagnostic can name the line
//! and column. JSON input goes through the same YAML parser (JSON is YAML), so it gets spans too;
//! a `*.json` tenant file is first tried on a faster path without spans ([`parse_json_fast`]).
//! Every struct denies unknown fields.
//!
//! # `resource_types:` (extension)
//!
//! A tenant file may add resource types to the built-in catalog (SPEC 2.2):
//!
//! ```yaml
//! resource_types:
//!   - name: dataset                 # a new type name, not a built-in one
//!     actions: [read, write, manage, delete, manage-collaborators]
//!     roles:                        # optional collaborator roles on this type
//!       - {name: dataset-admin, actions: ["*"]}
//!       - {name: dataset-reader, actions: [read]}
//!   - name: table
//!     parent: dataset               # optional: a built-in or another extension type
//!     children_key: tables          # required with `parent`: where children are listed
//!     actions: [read, write]
//! ```
//!
//! A type without `parent` is top-level: its resources are listed under `resources:` with
//! `type: dataset`. A type with a `parent` is listed under its parent resource by its
//! `children_key` (`tables: [{name: t1}]`), just like `models` under a `provider-account`.
//! Custom roles may name extension types (`dataset:read`, `table:*`), and every action counts
//! towards the tenant's limit of 64 distinct action names.

mod json;
#[cfg(feature = "schema")]
pub mod schema;

use std::fmt;
use std::marker::PhantomData;

use marked_yaml::Spanned;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use json::parse_json_fast;

/// A string with its position in the source file.
pub type SpannedString = Spanned<String>;

/// One tenant file (SPEC 2.1).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    /// The tenant: its name, hosts and the control-plane issuer of its tokens.
    pub tenant: TenantSection,
    /// External issuers whose tokens resolve to existing users or virtual accounts.
    #[serde(default)]
    pub identity_providers: Vec<IdentityProviderSpec>,
    /// The tenant's users, by email.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Teams: members, tenant-level roles, and identity-provider claim values that make a caller a member.
    #[serde(default)]
    pub teams: Vec<TeamSpec>,
    /// Virtual accounts: non-human principals (CI jobs, services).
    #[serde(default)]
    pub virtual_accounts: Vec<VirtualAccountSpec>,
    /// Custom tenant-level roles.
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    /// One role on many resources for many subjects.
    #[serde(default)]
    pub role_bindings: Vec<RoleBindingSpec>,
    /// Top-level resources, each with its `type`; child resources are listed under their parent.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "schema::top_level_resources")
    )]
    pub resources: Vec<ResourceSpec>,
    /// Resource types added to the built-in catalog.
    #[serde(default)]
    pub resource_types: Vec<ResourceTypeSpec>,
}

/// `tenant:`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    /// Unique within a bundle.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// Host names (`*.` wildcards allowed) that select this tenant.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub hosts: Vec<SpannedString>,
    /// The control-plane issuer of user tokens, personal access tokens and virtual-account tokens.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub issuer: SpannedString,
    /// The issuer's public keys: a JWK Set file, relative to this file. Exactly one of `jwks_file` and `jwks`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub jwks_file: Option<SpannedString>,
    /// An inline RFC 7517 JWK Set, as a mapping.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub jwks: Option<Spanned<serde_json::Value>>,
    /// When set, a token's `aud` must name one of these.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub audiences: Vec<SpannedString>,
    /// Leeway on `exp`, `nbf` and `iat`, in seconds (default 60).
    #[cfg_attr(feature = "schema", schemars(with = "Option<u32>"))]
    pub clock_skew_seconds: Option<Spanned<u32>>,
    /// `jti` values that are rejected.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub revoked_token_ids: Vec<SpannedString>,
    /// Where the tenant's users come from (default `invite-only`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<ProvisioningSpec>"))]
    pub provisioning: Option<Spanned<ProvisioningSpec>>,
    /// For `provisioning: jit`: email domains whose unknown users become members at first login.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub jit_domains: Vec<SpannedString>,
}

/// `provisioning:` of a tenant (SPEC 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ProvisioningSpec {
    /// Only the users listed in the tenant's files exist.
    #[default]
    InviteOnly,
    /// Users and team memberships come from the tenant's directory file, written by the SCIM
    /// provisioning service (`gatehouse directory serve`).
    Scim,
    /// A control-plane token for an unknown user of a `jit_domains` domain makes a tenant member.
    Jit,
}

/// A directory file (`<tenant>.directory.json`): the users and team memberships the SCIM
/// provisioning service keeps for one tenant, beside that tenant's file.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DirectoryFile {
    /// Which tenant this directory belongs to.
    pub directory: DirectorySection,
    /// Provisioned users, by email.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Provisioned teams and their members.
    #[serde(default)]
    pub teams: Vec<DirectoryTeamSpec>,
}

/// `directory:` of a directory file.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DirectorySection {
    /// The `tenant.name` of a tenant with `provisioning: scim`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub tenant: SpannedString,
    /// Free text for readers (the service says who writes the file).
    pub note: Option<String>,
}

/// One entry of a directory file's `teams:`: a team and its members, nothing else (roles and
/// identity-provider mappings are the tenant file's).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DirectoryTeamSpec {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// Member emails.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub members: Vec<SpannedString>,
}

/// A credentials file (`<tenant>.credentials.json`): the API keys of one tenant as
/// `gatehouse credentials` records them, ids and SHA-256 hashes, never keys (SPEC 2.7). Written by
/// the tool, deterministic (keys sorted by id), reviewed in git like the tenant file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CredentialsFile {
    /// Which tenant the keys belong to.
    pub credentials: CredentialsSection,
    /// The keys, sorted by id.
    #[serde(default)]
    pub keys: Vec<CredentialSpec>,
}

/// `credentials:` of a credentials file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CredentialsSection {
    /// The `tenant.name` of a tenant file of the same run.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub tenant: SpannedString,
    /// Free text for readers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One API key of a credentials file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    /// The key id: 16 lowercase hex digits, the part after `gh_key_`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub id: SpannedString,
    /// SHA-256 of the key's secret, 64 lowercase hex digits.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub sha256: SpannedString,
    /// `user:<email>` or `virtualaccount:<name>`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub principal: SpannedString,
    /// What the key is narrowed to: `type:path`, `type:prefix/*` or `type:*`, each optionally
    /// followed by `:action`. Empty: the principal's whole access.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub scopes: Vec<SpannedString>,
    /// Free text: what the key is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339, when it was issued.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub created: SpannedString,
    /// RFC 3339; from then on the key is refused (`token_expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub expires: Option<SpannedString>,
    /// RFC 3339, when it was revoked; a revoked key is refused (`token_revoked`) from the first
    /// bundle that carries this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub revoked: Option<SpannedString>,
    /// The id of the key this one replaced (`gatehouse credentials rotate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// The id of the key that replaced this one; this one lives until its `expires`, the end
    /// of the rotation's grace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// `resolve_to:` of an identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ResolveToSpec {
    /// Tokens name an existing user, by the email claim.
    User,
    /// Tokens name a virtual account, through `identity_provider_mapping`.
    VirtualAccount,
}

/// One entry of `identity_providers:`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderSpec {
    /// The name `identity_provider_mapping` entries refer to.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// The `iss` of its tokens.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub issuer: SpannedString,
    /// Its public keys: a JWK Set file, relative to this file. Exactly one of `jwks_file` and `jwks`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub jwks_file: Option<SpannedString>,
    /// An inline RFC 7517 JWK Set, as a mapping.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub jwks: Option<Spanned<serde_json::Value>>,
    /// When set, a token's `aud` must name one of these.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub audiences: Vec<SpannedString>,
    /// Allowed `alg` values (default: what the keys can do).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub algorithms: Vec<SpannedString>,
    /// Which kind of existing identity its tokens resolve to.
    #[cfg_attr(feature = "schema", schemars(with = "ResolveToSpec"))]
    pub resolve_to: Spanned<ResolveToSpec>,
    /// The claim holding the email (default `email`); dotted paths reach nested claims.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub email_claim: Option<SpannedString>,
    /// A claim (a string or an array of strings) whose values map to teams.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub team_claim: Option<SpannedString>,
    /// `resolve_to: user` only: refuse tokens without `email_verified: true`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub require_email_verified: Option<Spanned<bool>>,
    /// The claim that names the virtual account (required with `resolve_to: virtual-account`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub virtual_account_claim: Option<SpannedString>,
}

/// One entry of `users:`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Compared case-insensitively.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub email: SpannedString,
    /// Exactly one tenant-level role (default `tenant-member`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub role: Option<SpannedString>,
    /// `false`: denied everywhere, whatever the token.
    pub active: Option<bool>,
}

/// `{identity_provider: okta, value: ml}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IdpMappingSpec {
    /// The `name` of an entry of `identity_providers`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub identity_provider: SpannedString,
    /// The claim value.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub value: SpannedString,
}

/// One entry of `teams:`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamSpec {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// Member emails.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub members: Vec<SpannedString>,
    /// Tenant-level roles every member gets.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub roles: Vec<SpannedString>,
    /// Identity-provider team-claim values that also make a caller a member.
    #[serde(default)]
    pub identity_provider_mapping: Vec<IdpMappingSpec>,
}

/// `{resource: "mcp-server:github", role: mcp-server-user}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    /// `<type>:<path>`, e.g. `model:openai-main/gpt-4o`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub resource: SpannedString,
    /// A role of that resource type.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub role: SpannedString,
}

/// One entry of `virtual_accounts:`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VirtualAccountSpec {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// RFC 3339; after it the virtual account is denied.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub expires: Option<SpannedString>,
    /// RFC 3339; tokens with an earlier `iat` are rejected (rotation).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub tokens_valid_after: Option<SpannedString>,
    /// A duration (`90s`, `15m`, `24h`, `7d`): tokens issued before `tokens_valid_after` stay
    /// valid until `tokens_valid_after` plus this.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub rotation_grace: Option<SpannedString>,
    /// Roles on resources.
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
    /// Identity-provider claim values that resolve to this virtual account.
    #[serde(default)]
    pub identity_provider_mapping: Vec<IdpMappingSpec>,
}

/// One entry of `roles:` (a custom tenant-level role).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// `<type>:<action>` or `<type>:*`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub permissions: Vec<SpannedString>,
}

/// One entry of `role_bindings:`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleBindingSpec {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// `user:<email>`, `team:<name>`, `virtualaccount:<name>`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub subjects: Vec<SpannedString>,
    /// The roles granted, each on a resource.
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
}

/// `{subject: "team:ml-engineers", role: provider-account-user}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CollaboratorSpec {
    /// `user:<email>`, `team:<name>` or `virtualaccount:<name>`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub subject: SpannedString,
    /// A collaborator role of the resource's type.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub role: SpannedString,
}

/// A resource, top-level (under `resources:`, `type` required) or nested under a children key
/// of its parent (`type` optional: the key decides it; when given it must agree).
///
/// Besides the fixed fields, every other key is a children key (`models:`, `tools:`, ...) whose
/// value is a list of resources. Which keys are valid depends on the resource type, so that
/// check belongs to [`crate::lower`], which reports an unknown key like an unknown field.
#[derive(Debug)]
pub struct ResourceSpec {
    /// The span of the `name` key's value is the resource's location.
    pub name: SpannedString,
    pub resource_type: Option<SpannedString>,
    pub enabled: Option<bool>,
    pub authorized_subjects: Option<Vec<SpannedString>>,
    pub collaborators: Vec<CollaboratorSpec>,
    /// `(children key, children)` in file order.
    pub children: Vec<(SpannedString, Children)>,
}

/// The value of a key that is not a fixed field of a resource: a list of child resources, or
/// (`None`) anything else. Keeping the key instead of failing the parse lets
/// [`crate::lower`] report an unknown field together with every other error of the file.
#[derive(Debug)]
pub struct Children(pub Option<Vec<ResourceSpec>>);

impl<'de> Deserialize<'de> for Children {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChildrenVisitor;
        impl<'de> Visitor<'de> for ChildrenVisitor {
            type Value = Children;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of resources")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Children, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Children(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Children, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Children(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Children, E> {
                Ok(Children(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Children, E> {
                Ok(Children(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Children, E> {
                Ok(Children(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Children, E> {
                Ok(Children(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Children, E> {
                Ok(Children(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Children, E> {
                Ok(Children(None))
            }
        }
        deserializer.deserialize_any(ChildrenVisitor)
    }
}

/// One entry of `resource_types:` (see the module documentation).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "A resource type added to the built-in catalog. Without `parent` its \
        resources are listed under `resources:` with this `type`; with one, under their parent \
        resource by `children_key`."
    )
)]
#[serde(deny_unknown_fields)]
pub struct ResourceTypeSpec {
    /// A new type name, not a built-in one.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// A built-in or extension type; without it the type is top-level.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub parent: Option<SpannedString>,
    /// Required with `parent`: the key under a parent resource where these are listed.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub children_key: Option<SpannedString>,
    /// The type's action names.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub actions: Vec<SpannedString>,
    /// Collaborator roles on this type.
    #[serde(default)]
    pub roles: Vec<TypeRoleSpec>,
}

/// A collaborator role of an extension type: `actions` are the type's action names or `"*"`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TypeRoleSpec {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub actions: Vec<SpannedString>,
}

/// The gateway file (SPEC 3.2).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GatewayFile {
    /// What happens to a request no route matches (default `deny`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<DefaultSpec>"))]
    pub default: Option<Spanned<DefaultSpec>>,
    /// `dry-run`: denials are logged and counted, and the request continues (default `enforce`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<ModeSpec>"))]
    pub mode: Option<Spanned<ModeSpec>>,
    /// The largest body buffered for a route that reads it; a larger one is refused with 413.
    #[cfg_attr(feature = "schema", schemars(with = "Option<u32>"))]
    pub max_body_bytes: Option<Spanned<u32>>,
    /// Where the token is read (default: `Authorization: Bearer`).
    pub token_sources: Option<Vec<TokenSourceSpec>>,
    /// Method and URL override headers the client sent (`X-HTTP-Method-Override`,
    /// `X-Original-URL`, ...): `remove` (default), `deny` or `keep`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<OverrideHeadersSpec>"))]
    pub override_headers: Option<Spanned<OverrideHeadersSpec>>,
    /// Host and prefix override headers the client sent (`X-Forwarded-Host`, `Forwarded`,
    /// `X-Forwarded-Prefix`, ...): `remove` (default), `deny` or `keep`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<OverrideHeadersSpec>"))]
    pub host_override_headers: Option<Spanned<OverrideHeadersSpec>>,
    /// `refuse`: deny any path with a `;` (default `allow`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<AllowRefuseSpec>"))]
    pub path_semicolons: Option<Spanned<AllowRefuseSpec>>,
    /// `refuse`: deny cross-site requests authenticated by a cookie token source (default `allow`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<AllowRefuseSpec>"))]
    pub cross_site_cookies: Option<Spanned<AllowRefuseSpec>>,
    /// Routes, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

/// `path_semicolons:` and `cross_site_cookies:` of the gateway file: `allow` (default) or
/// `refuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AllowRefuseSpec {
    Allow,
    Refuse,
}

/// `default:` of the gateway file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DefaultSpec {
    /// Denied (`no_route`).
    Deny,
    /// Any valid principal passes.
    Authenticated,
}

/// `mode:` of the gateway file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ModeSpec {
    /// Denials are enforced.
    Enforce,
    /// Denials are logged and counted; the request continues.
    DryRun,
}

/// `override_headers:` and `host_override_headers:` of the gateway file (SPEC 3.3): `remove`
/// (default), `deny` or `keep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum OverrideHeadersSpec {
    /// Removed from every request the filter lets through.
    Remove,
    /// A request carrying any of them is refused (`request_ambiguous`, 400).
    Deny,
    /// Passed through untouched, for upstreams that need them.
    Keep,
}

/// `{header: name, prefix?: str}` | `{query: name}` | `{cookie: name}`: exactly one of
/// `header`, `query`, `cookie` (checked when lowering, so the error can point at the entry).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenSourceSpec {
    /// A request header name.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub header: Option<SpannedString>,
    /// With `header`: the text before the token, e.g. `"Bearer "`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub prefix: Option<SpannedString>,
    /// A query parameter name.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub query: Option<SpannedString>,
    /// A cookie name.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub cookie: Option<SpannedString>,
}

/// One entry of `routes:`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Shown in decisions and logs.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: SpannedString,
    /// Which requests the route takes.
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    /// `true`: no token needed.
    pub public: Option<bool>,
    /// The resource asked about: `<type>:<path>` with `{capture}` and `{body.a.b}` placeholders.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub resource: Option<SpannedString>,
    /// The action asked about.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub action: Option<SpannedString>,
    /// The body is JSON-RPC 2.0: the resource and action per method; `"*"` is any other method.
    pub jsonrpc: Option<Entries<SpannedString, TargetSpec>>,
    /// The route serves an MCP server: an OAuth protected resource (metadata, challenges,
    /// audience binding, `tools/list` trimming).
    pub mcp: Option<McpSpec>,
}

/// `mcp:` of a route.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct McpSpec {
    /// Identity providers (by name) whose issuers the metadata lists as authorization servers
    /// (default: every provider that resolves tokens to users).
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub authorization_servers: Option<Vec<SpannedString>>,
    /// Scopes every token must carry, published as `scopes_supported` (default: none).
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub scopes: Option<Vec<SpannedString>>,
    /// Audiences accepted in `aud` besides the route's canonical resource URL.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub audiences: Option<Vec<SpannedString>>,
    /// The scheme of the canonical resource URL, `https` or `http` (default: the request's).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub scheme: Option<SpannedString>,
    /// `true`: the header the token came from reaches the upstream (default `false`).
    pub forward_token: Option<bool>,
    /// How a refused JSON-RPC call looks: `jsonrpc` (default), `tool-result` or `http`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<RefusalSpec>"))]
    pub refusal: Option<Spanned<RefusalSpec>>,
    /// `tools/list` trimming.
    pub tools_list: Option<ToolsListSpec>,
}

/// `refusal:` of an MCP route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RefusalSpec {
    /// HTTP 200 with a JSON-RPC error naming the reason.
    Jsonrpc,
    /// `tools/call`: a tool result marked `isError`; other methods as `jsonrpc`.
    ToolResult,
    /// HTTP 403 with the JSON denial body.
    Http,
}

/// `tools_list:` of an MCP route.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolsListSpec {
    /// Keep only the tools the caller may call (default `true`).
    pub trim: Option<bool>,
    /// The largest response body buffered to trim (default 1 MiB); a larger one is refused.
    #[cfg_attr(feature = "schema", schemars(with = "Option<u32>"))]
    pub max_bytes: Option<Spanned<u32>>,
}

/// `match:` of a route.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// HTTP methods (default: any).
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub methods: Option<Vec<SpannedString>>,
    /// The whole path; `{name}` captures one segment.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub path: Option<SpannedString>,
    /// A path prefix, matched on segment boundaries.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub path_prefix: Option<SpannedString>,
}

/// `{resource: "tool:{server}/{body.params.name}", action: use}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// `<type>:<path>` with `{capture}` and `{body.a.b}` placeholders.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub resource: SpannedString,
    /// The action asked about.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub action: SpannedString,
}

/// A mapping kept as its entries in file order (duplicate keys are rejected by the loader).
#[derive(Debug)]
pub struct Entries<K, V>(pub Vec<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<K>()? {
                    let value = map.next_value::<V>()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for ResourceSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ResourceVisitor)
    }
}

struct ResourceVisitor;

impl<'de> Visitor<'de> for ResourceVisitor {
    type Value = ResourceSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource mapping with a `name`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResourceSpec, A::Error> {
        let mut name = None;
        let mut resource_type = None;
        let mut enabled = None;
        let mut authorized_subjects = None;
        let mut collaborators = Vec::new();
        let mut children = Vec::new();
        while let Some(key) = map.next_key::<SpannedString>()? {
            match key.as_str() {
                "name" => name = Some(map.next_value()?),
                "type" => resource_type = Some(map.next_value()?),
                "enabled" => enabled = Some(map.next_value()?),
                "authorized_subjects" => authorized_subjects = Some(map.next_value()?),
                "collaborators" => collaborators = map.next_value()?,
                _ => children.push((key, map.next_value()?)),
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        Ok(ResourceSpec {
            name,
            resource_type,
            enabled,
            authorized_subjects,
            collaborators,
            children,
        })
    }
}
