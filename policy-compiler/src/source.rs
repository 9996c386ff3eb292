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

use std::fmt;
use std::marker::PhantomData;

use marked_yaml::Spanned;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

pub use json::parse_json_fast;

/// A string with its position in the source file.
pub type SpannedString = Spanned<String>;

/// One tenant file (SPEC 2.1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub tenant: TenantSection,
    #[serde(default)]
    pub identity_providers: Vec<IdentityProviderSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub teams: Vec<TeamSpec>,
    #[serde(default)]
    pub virtual_accounts: Vec<VirtualAccountSpec>,
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    #[serde(default)]
    pub role_bindings: Vec<RoleBindingSpec>,
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub resource_types: Vec<ResourceTypeSpec>,
}

/// `tenant:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    pub name: SpannedString,
    #[serde(default)]
    pub hosts: Vec<SpannedString>,
    pub issuer: SpannedString,
    pub jwks_file: Option<SpannedString>,
    /// An inline RFC 7517 JWK Set, as a mapping.
    pub jwks: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub audiences: Vec<SpannedString>,
    pub clock_skew_seconds: Option<Spanned<u32>>,
    #[serde(default)]
    pub revoked_token_ids: Vec<SpannedString>,
}

/// `resolve_to:` of an identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResolveToSpec {
    User,
    VirtualAccount,
}

/// One entry of `identity_providers:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderSpec {
    pub name: SpannedString,
    pub issuer: SpannedString,
    pub jwks_file: Option<SpannedString>,
    pub jwks: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub audiences: Vec<SpannedString>,
    #[serde(default)]
    pub algorithms: Vec<SpannedString>,
    pub resolve_to: Spanned<ResolveToSpec>,
    pub email_claim: Option<SpannedString>,
    pub team_claim: Option<SpannedString>,
    /// `resolve_to: user` only: refuse tokens without `email_verified: true`.
    pub require_email_verified: Option<Spanned<bool>>,
    pub virtual_account_claim: Option<SpannedString>,
}

/// One entry of `users:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub email: SpannedString,
    pub role: Option<SpannedString>,
    pub active: Option<bool>,
}

/// `{identity_provider: okta, value: ml}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpMappingSpec {
    pub identity_provider: SpannedString,
    pub value: SpannedString,
}

/// One entry of `teams:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSpec {
    pub name: SpannedString,
    #[serde(default)]
    pub members: Vec<SpannedString>,
    #[serde(default)]
    pub roles: Vec<SpannedString>,
    #[serde(default)]
    pub identity_provider_mapping: Vec<IdpMappingSpec>,
}

/// `{resource: "mcp-server:github", role: mcp-server-user}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    pub resource: SpannedString,
    pub role: SpannedString,
}

/// One entry of `virtual_accounts:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualAccountSpec {
    pub name: SpannedString,
    /// RFC 3339.
    pub expires: Option<SpannedString>,
    /// RFC 3339.
    pub tokens_valid_after: Option<SpannedString>,
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
    #[serde(default)]
    pub identity_provider_mapping: Vec<IdpMappingSpec>,
}

/// One entry of `roles:` (a custom tenant-level role).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    pub name: SpannedString,
    /// `<type>:<action>` or `<type>:*`.
    #[serde(default)]
    pub permissions: Vec<SpannedString>,
}

/// One entry of `role_bindings:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBindingSpec {
    pub name: SpannedString,
    #[serde(default)]
    pub subjects: Vec<SpannedString>,
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
}

/// `{subject: "team:ml-engineers", role: provider-account-user}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollaboratorSpec {
    pub subject: SpannedString,
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
#[serde(deny_unknown_fields)]
pub struct ResourceTypeSpec {
    pub name: SpannedString,
    pub parent: Option<SpannedString>,
    pub children_key: Option<SpannedString>,
    pub actions: Vec<SpannedString>,
    #[serde(default)]
    pub roles: Vec<TypeRoleSpec>,
}

/// A collaborator role of an extension type: `actions` are the type's action names or `"*"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeRoleSpec {
    pub name: SpannedString,
    pub actions: Vec<SpannedString>,
}

/// The gateway file (SPEC 3.2).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFile {
    pub default: Option<Spanned<DefaultSpec>>,
    pub mode: Option<Spanned<ModeSpec>>,
    pub max_body_bytes: Option<Spanned<u32>>,
    pub token_sources: Option<Vec<TokenSourceSpec>>,
    pub override_headers: Option<Spanned<OverrideHeadersSpec>>,
    pub host_override_headers: Option<Spanned<OverrideHeadersSpec>>,
    pub path_semicolons: Option<Spanned<AllowRefuseSpec>>,
    pub cross_site_cookies: Option<Spanned<AllowRefuseSpec>>,
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

/// `path_semicolons:` and `cross_site_cookies:` of the gateway file: `allow` (default) or
/// `refuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllowRefuseSpec {
    Allow,
    Refuse,
}

/// `default:` of the gateway file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultSpec {
    Deny,
    Authenticated,
}

/// `mode:` of the gateway file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeSpec {
    Enforce,
    DryRun,
}

/// `override_headers:` and `host_override_headers:` of the gateway file (SPEC 3.3): `remove`
/// (default), `deny` or `keep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverrideHeadersSpec {
    Remove,
    Deny,
    Keep,
}

/// `{header: name, prefix?: str}` | `{query: name}` | `{cookie: name}`: exactly one of
/// `header`, `query`, `cookie` (checked when lowering, so the error can point at the entry).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSourceSpec {
    pub header: Option<SpannedString>,
    pub prefix: Option<SpannedString>,
    pub query: Option<SpannedString>,
    pub cookie: Option<SpannedString>,
}

/// One entry of `routes:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub name: SpannedString,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    pub public: Option<bool>,
    pub resource: Option<SpannedString>,
    pub action: Option<SpannedString>,
    pub jsonrpc: Option<Entries<SpannedString, TargetSpec>>,
}

/// `match:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    pub methods: Option<Vec<SpannedString>>,
    pub path: Option<SpannedString>,
    pub path_prefix: Option<SpannedString>,
}

/// `{resource: "tool:{server}/{body.params.name}", action: use}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub resource: SpannedString,
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
