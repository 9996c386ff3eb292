//! The binary policy bundle: one definition of the byte layout, used by the encoder (the
//! compiler) and the decoder (the Envoy filter and `gatehouse check`). `docs/bundle-format.md`
//! is the normative description of these bytes; change both in the same commit.
//!
//! Layout: a fixed 56-byte header (magic, version, flags, body length, SHA-256 of the body), the
//! body (a section directory followed by the sections), and, when the bundle is signed, a
//! 96-byte trailer (Ed25519 public key and signature over header and body).
//!
//! Small, structured sections (metadata, gateway routes, each tenant's keys, identity providers,
//! action names, types and roles) are postcard encodings of the types below. The large tables
//! (users, teams, virtual accounts, resources, grants, identity-provider mappings) are arrays of
//! fixed-size little-endian records read in place, without copying, through `zerocopy`.

use std::ops::Range;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zerocopy::little_endian::{I64, U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::jwt::KeySet;
use crate::model::{
    Algorithm, Gateway, IdentityProvider, Jwk, Policy, ResourceType, Role, RoleKind, Subject,
    Tenant, MAX_ACTIONS,
};

pub const MAGIC: [u8; 8] = *b"GATEHSE\x01";
pub const FORMAT_MAJOR: u16 = 2;
pub const FORMAT_MINOR: u16 = 0;
pub const HEADER_LEN: usize = 56;
pub const SIGNATURE_TRAILER_LEN: usize = 32 + 64;
const FLAG_SIGNED: u32 = 1;
/// Sections per tenant are numbered `(tenant + 1) << 8 | kind`.
const MAX_TENANTS: usize = 0xFFFF;

mod section {
    pub const META: u32 = 1;
    pub const GATEWAY: u32 = 2;
    pub const CONFIG: u32 = 1;
    pub const STRINGS: u32 = 2;
    pub const USERS: u32 = 3;
    pub const TEAMS: u32 = 4;
    pub const VIRTUAL_ACCOUNTS: u32 = 5;
    pub const RESOURCES: u32 = 6;
    pub const GRANTS: u32 = 7;
    pub const LISTS: u32 = 8;
    pub const IDP_MAPPINGS: u32 = 9;
    pub const TENANT_KINDS: [u32; 9] = [
        CONFIG,
        STRINGS,
        USERS,
        TEAMS,
        VIRTUAL_ACCOUNTS,
        RESOURCES,
        GRANTS,
        LISTS,
        IDP_MAPPINGS,
    ];

    pub fn tenant(index: usize, kind: u32) -> u32 {
        // INVARIANT: index < MAX_TENANTS, checked by the encoder and the decoder.
        (((index as u32) + 1) << 8) | kind
    }
}

/// Subject codes in grants and `authorized_subjects` lists: kind in the top two bits.
pub mod subject_code {
    use crate::model::{Subject, TeamId, UserId, VirtualAccountId};

    pub const USER: u32 = 0;
    pub const TEAM: u32 = 1 << 30;
    pub const VIRTUAL_ACCOUNT: u32 = 2 << 30;
    pub const EVERYONE: u32 = 3 << 30;
    pub const INDEX_MASK: u32 = (1 << 30) - 1;
    pub const KIND_MASK: u32 = 3 << 30;

    pub fn encode(subject: Subject) -> u32 {
        match subject {
            Subject::User(UserId(i)) => USER | (i & INDEX_MASK),
            Subject::Team(TeamId(i)) => TEAM | (i & INDEX_MASK),
            Subject::VirtualAccount(VirtualAccountId(i)) => VIRTUAL_ACCOUNT | (i & INDEX_MASK),
            Subject::Everyone => EVERYONE,
        }
    }

    pub fn decode(code: u32) -> Subject {
        let i = code & INDEX_MASK;
        match code & KIND_MASK {
            USER => Subject::User(UserId(i)),
            TEAM => Subject::Team(TeamId(i)),
            VIRTUAL_ACCOUNT => Subject::VirtualAccount(VirtualAccountId(i)),
            _ => Subject::Everyone,
        }
    }
}

/// `u32::MAX` in a parent or role field: none.
pub const NONE: u32 = u32::MAX;
/// `i64::MIN` in a timestamp field: none.
pub const NO_TIME: i64 = i64::MIN;

/// A string in the tenant's string heap.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StrRef {
    pub offset: U32,
    pub len: U32,
}

/// A run of the tenant's `u32` list pool.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ListRef {
    pub start: U32,
    pub len: U32,
}

/// 24 bytes. Sorted by `email`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct UserRecord {
    pub email: StrRef,
    /// Tenant-level role.
    pub role: U32,
    /// Bit 0: active.
    pub flags: U32,
    /// Team indices, sorted.
    pub teams: ListRef,
}

/// 16 bytes. Sorted by `name`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TeamRecord {
    pub name: StrRef,
    /// Tenant-level role indices, sorted.
    pub roles: ListRef,
}

/// 24 bytes. Sorted by `name`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct VirtualAccountRecord {
    pub name: StrRef,
    pub expires: I64,
    pub tokens_valid_after: I64,
}

/// 36 bytes. Sorted by `key` (`type:path`).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ResourceRecord {
    pub key: StrRef,
    pub resource_type: U32,
    pub parent: U32,
    /// Bit 0: disabled. Bit 1: restricted to `authorized`.
    pub flags: U32,
    /// Index of the first grant and count, in the grants table.
    pub grants_start: U32,
    pub grants_len: U32,
    /// Subject codes, sorted.
    pub authorized: ListRef,
}

pub const RESOURCE_DISABLED: u32 = 1;
pub const RESOURCE_RESTRICTED: u32 = 2;
pub const USER_ACTIVE: u32 = 1;

/// 6 bytes. Grouped by resource, sorted by `(subject, role)` within a resource.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GrantRecord {
    pub subject: U32,
    pub role: U16,
}

/// 16 bytes. Sorted by `(idp, value, target)`. The target is a team for identity providers that
/// resolve to users and a virtual account for those that resolve to virtual accounts.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MappingRecord {
    pub idp: U32,
    pub value: StrRef,
    pub target: U32,
}

/// The META section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub revision: String,
    pub compiler_version: String,
    pub tenant_count: u32,
    /// Monotonic serial set at compile time ([`Policy::serial`]); since format 2.0.
    pub serial: u64,
}

/// A tenant's CONFIG section: everything but the large tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    pub name: String,
    pub hosts: Vec<String>,
    pub issuer: String,
    pub keys: Vec<Jwk>,
    pub audiences: Vec<String>,
    pub clock_skew_seconds: u32,
    pub revoked_token_ids: Vec<String>,
    pub identity_providers: Vec<IdentityProvider>,
    pub actions: Vec<String>,
    pub resource_types: Vec<ResourceType>,
    pub roles: Vec<Role>,
}

/// Why a policy could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    TooLarge(&'static str),
    Invalid(String),
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::TooLarge(what) => {
                write!(
                    f,
                    "policy too large for bundle format v{FORMAT_MAJOR}: {what}"
                )
            }
            EncodeError::Invalid(why) => write!(f, "invalid policy: {why}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Why a bundle was rejected at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    Truncated(&'static str),
    BadMagic,
    UnsupportedVersion { major: u16, minor: u16 },
    DigestMismatch,
    BadSignature,
    Unsigned,
    UntrustedSigner,
    Corrupt(String),
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::Truncated(what) => write!(f, "bundle truncated: {what}"),
            LoadError::BadMagic => f.write_str("not a gatehouse bundle (bad magic)"),
            LoadError::UnsupportedVersion { major, minor } => write!(
                f,
                "unsupported bundle format {major}.{minor} (this build reads {FORMAT_MAJOR}.x)"
            ),
            LoadError::DigestMismatch => f.write_str("bundle digest mismatch (corrupt bundle)"),
            LoadError::BadSignature => f.write_str("bundle signature is invalid"),
            LoadError::Unsigned => f.write_str("bundle is unsigned but trusted keys are pinned"),
            LoadError::UntrustedSigner => {
                f.write_str("bundle is signed by a key that is not trusted")
            }
            LoadError::Corrupt(why) => write!(f, "corrupt bundle: {why}"),
        }
    }
}

impl std::error::Error for LoadError {}

fn corrupt(why: impl Into<String>) -> LoadError {
    LoadError::Corrupt(why.into())
}

/// How a bundle is accepted.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Ed25519 public keys. When non-empty, only bundles signed by one of them load.
    pub trusted_keys: Vec<[u8; 32]>,
}

/// Encode a policy into bundle bytes, signed when `signing_key` is given. Deterministic: the same
/// policy and key give the same bytes.
pub fn encode(policy: &Policy, signing_key: Option<&SigningKey>) -> Result<Vec<u8>, EncodeError> {
    if policy.tenants.len() > MAX_TENANTS {
        return Err(EncodeError::TooLarge("more than 65535 tenants"));
    }
    let mut sections: Vec<(u32, Vec<u8>)> = Vec::new();
    let meta = Meta {
        revision: policy.revision.clone(),
        compiler_version: policy.compiler_version.clone(),
        tenant_count: policy.tenants.len() as u32,
        serial: policy.serial,
    };
    sections.push((section::META, postcard_bytes(&meta)?));
    sections.push((section::GATEWAY, postcard_bytes(&policy.gateway)?));
    for (index, tenant) in policy.tenants.iter().enumerate() {
        for (kind, bytes) in encode_tenant(tenant)? {
            sections.push((section::tenant(index, kind), bytes));
        }
    }
    sections.sort_by_key(|(id, _)| *id);
    assemble(&sections, signing_key)
}

/// Header, section directory, sections and (when a key is given) the signature trailer, from
/// sections sorted by id.
fn assemble(
    sections: &[(u32, Vec<u8>)],
    signing_key: Option<&SigningKey>,
) -> Result<Vec<u8>, EncodeError> {
    let mut body = Vec::new();
    let dir_len = 4 + sections.len() * 12;
    body.extend_from_slice(&u32_le(sections.len(), "sections")?);
    let mut offset = dir_len;
    for (id, bytes) in sections {
        body.extend_from_slice(&id.to_le_bytes());
        body.extend_from_slice(&u32_le(offset, "bundle size")?);
        body.extend_from_slice(&u32_le(bytes.len(), "section size")?);
        offset = offset
            .checked_add(bytes.len())
            .ok_or(EncodeError::TooLarge("bundle size"))?;
    }
    for (_, bytes) in sections {
        body.extend_from_slice(bytes);
    }

    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + SIGNATURE_TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_MAJOR.to_le_bytes());
    out.extend_from_slice(&FORMAT_MINOR.to_le_bytes());
    let flags = if signing_key.is_some() {
        FLAG_SIGNED
    } else {
        0
    };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    if let Some(key) = signing_key {
        let signature = key.sign(&out);
        out.extend_from_slice(key.verifying_key().as_bytes());
        out.extend_from_slice(&signature.to_bytes());
    }
    Ok(out)
}

fn postcard_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    postcard::to_allocvec(value).map_err(|e| EncodeError::Invalid(e.to_string()))
}

fn u32_le(n: usize, what: &'static str) -> Result<[u8; 4], EncodeError> {
    u32::try_from(n)
        .map(u32::to_le_bytes)
        .map_err(|_| EncodeError::TooLarge(what))
}

fn u32_of(n: usize, what: &'static str) -> Result<U32, EncodeError> {
    u32::try_from(n)
        .map(U32::new)
        .map_err(|_| EncodeError::TooLarge(what))
}

/// Builds the string heap and the `u32` list pool of one tenant.
#[derive(Default)]
struct Heaps {
    strings: Vec<u8>,
    lists: Vec<u8>,
    list_len: usize,
}

impl Heaps {
    fn string(&mut self, s: &str) -> Result<StrRef, EncodeError> {
        let offset = u32_of(self.strings.len(), "string heap over 4 GiB")?;
        let len = u32_of(s.len(), "string over 4 GiB")?;
        self.strings.extend_from_slice(s.as_bytes());
        Ok(StrRef { offset, len })
    }

    fn list(&mut self, items: impl IntoIterator<Item = u32>) -> Result<ListRef, EncodeError> {
        let start = self.list_len;
        for item in items {
            self.lists.extend_from_slice(&item.to_le_bytes());
            self.list_len += 1;
        }
        Ok(ListRef {
            start: u32_of(start, "list pool")?,
            len: u32_of(self.list_len - start, "list")?,
        })
    }
}

fn encode_tenant(tenant: &Tenant) -> Result<Vec<(u32, Vec<u8>)>, EncodeError> {
    check_tenant(tenant)?;
    let mut heaps = Heaps::default();
    let config = TenantConfig {
        name: tenant.name.clone(),
        hosts: tenant.hosts.clone(),
        issuer: tenant.issuer.clone(),
        keys: tenant.keys.clone(),
        audiences: tenant.audiences.clone(),
        clock_skew_seconds: tenant.clock_skew_seconds,
        revoked_token_ids: tenant.revoked_token_ids.clone(),
        identity_providers: tenant.identity_providers.clone(),
        actions: tenant.actions.clone(),
        resource_types: tenant.resource_types.clone(),
        roles: tenant.roles.clone(),
    };

    let mut users = Vec::with_capacity(tenant.users.len() * 24);
    for user in &tenant.users {
        let record = UserRecord {
            email: heaps.string(&user.email)?,
            role: U32::new(user.role.0),
            flags: U32::new(if user.active { USER_ACTIVE } else { 0 }),
            teams: heaps.list(user.teams.iter().map(|t| t.0))?,
        };
        users.extend_from_slice(record.as_bytes());
    }

    let mut teams = Vec::with_capacity(tenant.teams.len() * 16);
    let mut mappings: Vec<(u32, &str, u32)> = Vec::new();
    for (index, team) in tenant.teams.iter().enumerate() {
        let record = TeamRecord {
            name: heaps.string(&team.name)?,
            roles: heaps.list(team.roles.iter().map(|r| r.0))?,
        };
        teams.extend_from_slice(record.as_bytes());
        for (idp, value) in &team.idp_mappings {
            mappings.push((idp.0, value, index as u32));
        }
    }

    let mut vas = Vec::with_capacity(tenant.virtual_accounts.len() * 24);
    for (index, va) in tenant.virtual_accounts.iter().enumerate() {
        let record = VirtualAccountRecord {
            name: heaps.string(&va.name)?,
            expires: I64::new(va.expires.unwrap_or(NO_TIME)),
            tokens_valid_after: I64::new(va.tokens_valid_after.unwrap_or(NO_TIME)),
        };
        vas.extend_from_slice(record.as_bytes());
        for (idp, value) in &va.idp_mappings {
            mappings.push((idp.0, value, index as u32));
        }
    }

    let mut resources = Vec::with_capacity(tenant.resources.len() * 36);
    let mut grants = Vec::with_capacity(tenant.grants.len() * 6);
    let mut next_grant = 0usize;
    for (index, resource) in tenant.resources.iter().enumerate() {
        let start = next_grant;
        while let Some(grant) = tenant.grants.get(next_grant) {
            if grant.resource.index() != index {
                break;
            }
            let role = u16::try_from(grant.role.0)
                .map_err(|_| EncodeError::TooLarge("more than 65535 roles"))?;
            let record = GrantRecord {
                subject: U32::new(subject_code::encode(grant.subject)),
                role: U16::new(role),
            };
            grants.extend_from_slice(record.as_bytes());
            next_grant += 1;
        }
        let type_name = tenant
            .resource_types
            .get(resource.resource_type.index())
            .map(|t| t.name.as_str())
            .ok_or_else(|| EncodeError::Invalid("resource of an unknown type".into()))?;
        let key = format!("{type_name}:{}", resource.path);
        let mut flags = 0;
        if !resource.enabled {
            flags |= RESOURCE_DISABLED;
        }
        let authorized = match &resource.authorized_subjects {
            Some(subjects) => {
                flags |= RESOURCE_RESTRICTED;
                heaps.list(subjects.iter().map(|s| subject_code::encode(*s)))?
            }
            None => heaps.list([])?,
        };
        let record = ResourceRecord {
            key: heaps.string(&key)?,
            resource_type: U32::new(resource.resource_type.0),
            parent: U32::new(resource.parent.map_or(NONE, |p| p.0)),
            flags: U32::new(flags),
            grants_start: u32_of(start, "grants")?,
            grants_len: u32_of(next_grant - start, "grants")?,
            authorized,
        };
        resources.extend_from_slice(record.as_bytes());
    }
    if next_grant != tenant.grants.len() {
        return Err(EncodeError::Invalid(
            "grants are not sorted by resource or name a missing resource".into(),
        ));
    }

    mappings.sort();
    let mut mapping_bytes = Vec::with_capacity(mappings.len() * 16);
    for (idp, value, target) in mappings {
        let record = MappingRecord {
            idp: U32::new(idp),
            value: heaps.string(value)?,
            target: U32::new(target),
        };
        mapping_bytes.extend_from_slice(record.as_bytes());
    }

    Ok(vec![
        (section::CONFIG, postcard_bytes(&config)?),
        (section::STRINGS, heaps.strings),
        (section::USERS, users),
        (section::TEAMS, teams),
        (section::VIRTUAL_ACCOUNTS, vas),
        (section::RESOURCES, resources),
        (section::GRANTS, grants),
        (section::LISTS, heaps.lists),
        (section::IDP_MAPPINGS, mapping_bytes),
    ])
}

/// The encoder re-checks the ordering invariants the decoder relies on, so a compiler bug shows
/// up at compile time rather than as a bundle that every proxy rejects.
fn check_tenant(tenant: &Tenant) -> Result<(), EncodeError> {
    let bad = |why: &str| {
        Err(EncodeError::Invalid(format!(
            "tenant `{}`: {why}",
            tenant.name
        )))
    };
    if tenant.actions.len() > MAX_ACTIONS {
        return bad("more than 64 action names");
    }
    if !tenant
        .users
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.email < b.email))
    {
        return bad("users not sorted by email or duplicated");
    }
    if !tenant
        .teams
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.name < b.name))
    {
        return bad("teams not sorted by name or duplicated");
    }
    if !tenant
        .virtual_accounts
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.name < b.name))
    {
        return bad("virtual accounts not sorted by name or duplicated");
    }
    if !tenant
        .grants
        .windows(2)
        .all(|w| matches!(w, [a, b] if a < b))
    {
        return bad("grants not sorted or duplicated");
    }
    let mut previous: Option<String> = None;
    for resource in &tenant.resources {
        let Some(t) = tenant.resource_types.get(resource.resource_type.index()) else {
            return bad("resource of an unknown type");
        };
        let key = format!("{}:{}", t.name, resource.path);
        if previous.as_ref().is_some_and(|p| *p >= key) {
            return bad("resources not sorted by `type:path` or duplicated");
        }
        previous = Some(key);
    }
    Ok(())
}

/// A decoded, validated bundle. Owns its bytes; the large tables are read in place.
#[derive(Debug)]
pub struct Bundle {
    bytes: Vec<u8>,
    digest: [u8; 32],
    signer: Option<[u8; 32]>,
    minor: u16,
    meta: Meta,
    gateway: Gateway,
    tenants: Vec<LoadedTenant>,
}

/// The decoded small part of one tenant, its prepared keys, and where its tables are.
pub struct LoadedTenant {
    pub config: TenantConfig,
    pub keys: KeySet,
    /// Same order as `config.identity_providers`.
    pub idp_keys: Vec<KeySet>,
    tables: TableRanges,
}

impl core::fmt::Debug for LoadedTenant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoadedTenant")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
struct TableRanges {
    strings: Range<usize>,
    users: Range<usize>,
    teams: Range<usize>,
    virtual_accounts: Range<usize>,
    resources: Range<usize>,
    grants: Range<usize>,
    lists: Range<usize>,
    mappings: Range<usize>,
}

/// Borrowed views of one tenant's large tables.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    pub strings: &'a [u8],
    pub users: &'a [UserRecord],
    pub teams: &'a [TeamRecord],
    pub virtual_accounts: &'a [VirtualAccountRecord],
    pub resources: &'a [ResourceRecord],
    pub grants: &'a [GrantRecord],
    pub lists: &'a [U32],
    pub mappings: &'a [MappingRecord],
}

impl<'a> Tables<'a> {
    /// The string a reference names; empty if it is out of bounds (never, after validation).
    pub fn str(&self, r: StrRef) -> &'a str {
        let start = r.offset.get() as usize;
        let end = start.saturating_add(r.len.get() as usize);
        self.strings
            .get(start..end)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// The bytes of a string, for comparisons: no UTF-8 check (strings were checked at load,
    /// and byte order is `str` order).
    pub fn bytes(&self, r: StrRef) -> &'a [u8] {
        let start = r.offset.get() as usize;
        let end = start.saturating_add(r.len.get() as usize);
        self.strings.get(start..end).unwrap_or(&[])
    }

    /// The list a reference names; empty if it is out of bounds (never, after validation).
    pub fn list(&self, r: ListRef) -> &'a [U32] {
        let start = r.start.get() as usize;
        let end = start.saturating_add(r.len.get() as usize);
        self.lists.get(start..end).unwrap_or(&[])
    }

    pub fn grants_of(&self, resource: &ResourceRecord) -> &'a [GrantRecord] {
        let start = resource.grants_start.get() as usize;
        let end = start.saturating_add(resource.grants_len.get() as usize);
        self.grants.get(start..end).unwrap_or(&[])
    }

    pub fn user(&self, email_lowercase: &str) -> Option<(u32, &'a UserRecord)> {
        let i = self
            .users
            .binary_search_by(|u| cmp_bytes(self.bytes(u.email), email_lowercase.as_bytes()))
            .ok()?;
        Some((i as u32, self.users.get(i)?))
    }

    pub fn team(&self, name: &str) -> Option<(u32, &'a TeamRecord)> {
        let i = self
            .teams
            .binary_search_by(|t| cmp_bytes(self.bytes(t.name), name.as_bytes()))
            .ok()?;
        Some((i as u32, self.teams.get(i)?))
    }

    pub fn virtual_account(&self, name: &str) -> Option<(u32, &'a VirtualAccountRecord)> {
        let i = self
            .virtual_accounts
            .binary_search_by(|v| cmp_bytes(self.bytes(v.name), name.as_bytes()))
            .ok()?;
        Some((i as u32, self.virtual_accounts.get(i)?))
    }

    /// Looks a resource up by its `type:path` key without building the key.
    pub fn resource(&self, resource_type: &str, path: &str) -> Option<(u32, &'a ResourceRecord)> {
        let i = self
            .resources
            .binary_search_by(|r| {
                cmp_key(self.bytes(r.key), resource_type.as_bytes(), path.as_bytes())
            })
            .ok()?;
        Some((i as u32, self.resources.get(i)?))
    }

    /// Targets mapped from `(idp, value)`.
    pub fn mapped<'v>(&self, idp: u32, value: &'v str) -> impl Iterator<Item = u32> + 'v
    where
        'a: 'v,
    {
        let tables = *self;
        let start = self
            .mappings
            .partition_point(|m| (m.idp.get(), tables.bytes(m.value)) < (idp, value.as_bytes()));
        self.mappings
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |m| m.idp.get() == idp && tables.bytes(m.value) == value.as_bytes())
            .map(|m| m.target.get())
    }
}

/// Compares a stored key `type:path` with the parts of a looked-up key, as if they were
/// joined: the same order as `stored.cmp(format!("{resource_type}:{path}"))`, two `memcmp`s.
/// `a.cmp(b)` eight bytes at a time, inline: the keys compared in lookups are short, and a call
/// to `memcmp` (a byte loop on wasm32) costs more than the comparison.
#[inline]
pub(crate) fn cmp_bytes(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    let mut a_chunks = a.chunks_exact(8);
    let mut b_chunks = b.chunks_exact(8);
    for (x, y) in a_chunks.by_ref().zip(b_chunks.by_ref()) {
        let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) else {
            break;
        };
        let (x, y) = (u64::from_be_bytes(x), u64::from_be_bytes(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    let done = a.len().min(b.len()) / 8 * 8;
    let (a, b) = (a.get(done..).unwrap_or(&[]), b.get(done..).unwrap_or(&[]));
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

fn cmp_key(stored: &[u8], resource_type: &[u8], path: &[u8]) -> core::cmp::Ordering {
    use core::cmp::Ordering;
    let (head, rest) = stored.split_at(stored.len().min(resource_type.len()));
    match cmp_bytes(head, resource_type) {
        Ordering::Equal => {}
        other => return other,
    }
    match rest.split_first() {
        // `stored` is `resource_type` itself: a proper prefix of the wanted key.
        None => Ordering::Less,
        Some((&sep, tail)) => sep.cmp(&b':').then_with(|| cmp_bytes(tail, path)),
    }
}

impl Bundle {
    /// Validate and decode bundle bytes. Every offset is checked here, once.
    pub fn decode(bytes: Vec<u8>, options: &LoadOptions) -> Result<Bundle, LoadError> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or(LoadError::Truncated("header"))?;
        let (magic, rest) = header.split_at(8);
        if magic != MAGIC {
            return Err(LoadError::BadMagic);
        }
        let major = le_u16(rest.get(0..2));
        let minor = le_u16(rest.get(2..4));
        if major != FORMAT_MAJOR {
            return Err(LoadError::UnsupportedVersion { major, minor });
        }
        let flags = le_u32(rest.get(4..8));
        if flags & !FLAG_SIGNED != 0 {
            return Err(corrupt(format!("unknown header flags {flags:#x}")));
        }
        let body_len =
            usize::try_from(le_u64(rest.get(8..16))).map_err(|_| LoadError::Truncated("body"))?;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(rest.get(16..48).ok_or(LoadError::Truncated("header"))?);
        let signed_end = HEADER_LEN
            .checked_add(body_len)
            .ok_or(LoadError::Truncated("body"))?;
        let expected_len = if flags & FLAG_SIGNED != 0 {
            signed_end + SIGNATURE_TRAILER_LEN
        } else {
            signed_end
        };
        if bytes.len() < expected_len {
            return Err(LoadError::Truncated("body"));
        }
        if bytes.len() > expected_len {
            return Err(corrupt("trailing bytes after the bundle"));
        }
        let body = bytes
            .get(HEADER_LEN..signed_end)
            .ok_or(LoadError::Truncated("body"))?;
        if Sha256::digest(body)[..] != digest[..] {
            return Err(LoadError::DigestMismatch);
        }
        let signer = if flags & FLAG_SIGNED != 0 {
            let trailer = bytes
                .get(signed_end..)
                .ok_or(LoadError::Truncated("signature"))?;
            let (key, sig) = trailer
                .split_at_checked(32)
                .ok_or(LoadError::Truncated("signature"))?;
            let key: [u8; 32] = key
                .try_into()
                .map_err(|_| LoadError::Truncated("signature"))?;
            let sig: [u8; 64] = sig
                .try_into()
                .map_err(|_| LoadError::Truncated("signature"))?;
            let verifying = VerifyingKey::from_bytes(&key).map_err(|_| LoadError::BadSignature)?;
            let signed = bytes
                .get(..signed_end)
                .ok_or(LoadError::Truncated("body"))?;
            verifying
                .verify_strict(signed, &Signature::from_bytes(&sig))
                .map_err(|_| LoadError::BadSignature)?;
            Some(key)
        } else {
            None
        };
        if !options.trusted_keys.is_empty() {
            match signer {
                None => return Err(LoadError::Unsigned),
                Some(key) if !options.trusted_keys.contains(&key) => {
                    return Err(LoadError::UntrustedSigner)
                }
                Some(_) => {}
            }
        }

        let directory = Directory::parse(body)?;
        let meta: Meta = postcard_section(body, directory.get(section::META)?, "meta")?;
        let gateway: Gateway = postcard_section(body, directory.get(section::GATEWAY)?, "gateway")?;
        let tenant_count = meta.tenant_count as usize;
        if tenant_count > MAX_TENANTS {
            return Err(corrupt("too many tenants"));
        }
        if directory.entries.len() != 2 + tenant_count * section::TENANT_KINDS.len() {
            return Err(corrupt("unexpected sections"));
        }
        let mut tenants = Vec::with_capacity(tenant_count);
        for index in 0..tenant_count {
            tenants.push(load_tenant(body, &directory, index)?);
        }
        // Tables were validated against `body`; store them relative to the whole buffer.
        for tenant in &mut tenants {
            tenant.tables.shift(HEADER_LEN);
        }
        Ok(Bundle {
            bytes,
            digest,
            signer,
            minor,
            meta,
            gateway,
            tenants,
        })
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The bundle's monotonic serial (META, covered by the digest and the signature).
    pub fn serial(&self) -> u64 {
        self.meta.serial
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    pub fn tenants(&self) -> &[LoadedTenant] {
        &self.tenants
    }

    /// SHA-256 of the body, as stored in the header.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The Ed25519 public key that signed the bundle, if it is signed.
    pub fn signer(&self) -> Option<&[u8; 32]> {
        self.signer.as_ref()
    }

    pub fn format_version(&self) -> (u16, u16) {
        (FORMAT_MAJOR, self.minor)
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The large tables of a tenant.
    ///
    /// INVARIANT: the ranges were validated in `decode` (in bounds, whole records, strings UTF-8,
    /// lists and references in bounds). Should that ever not hold, a table reads as empty, which
    /// can only lead to a denial: no principal, no resource, no grant.
    pub fn tables(&self, tenant: &LoadedTenant) -> Tables<'_> {
        let r = &tenant.tables;
        Tables {
            strings: self.bytes.get(r.strings.clone()).unwrap_or(&[]),
            users: records(&self.bytes, &r.users),
            teams: records(&self.bytes, &r.teams),
            virtual_accounts: records(&self.bytes, &r.virtual_accounts),
            resources: records(&self.bytes, &r.resources),
            grants: records(&self.bytes, &r.grants),
            lists: records(&self.bytes, &r.lists),
            mappings: records(&self.bytes, &r.mappings),
        }
    }
}

fn records<'a, T: FromBytes + Immutable + KnownLayout + Unaligned>(
    bytes: &'a [u8],
    range: &Range<usize>,
) -> &'a [T] {
    bytes
        .get(range.clone())
        .and_then(|b| <[T]>::ref_from_bytes(b).ok())
        .unwrap_or(&[])
}

impl TableRanges {
    fn shift(&mut self, by: usize) {
        for r in [
            &mut self.strings,
            &mut self.users,
            &mut self.teams,
            &mut self.virtual_accounts,
            &mut self.resources,
            &mut self.grants,
            &mut self.lists,
            &mut self.mappings,
        ] {
            *r = r.start + by..r.end + by;
        }
    }
}

fn le_u16(b: Option<&[u8]>) -> u16 {
    b.and_then(|b| b.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

fn le_u32(b: Option<&[u8]>) -> u32 {
    b.and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn le_u64(b: Option<&[u8]>) -> u64 {
    b.and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

struct Directory {
    /// `(id, range in body)`, sorted by id.
    entries: Vec<(u32, Range<usize>)>,
}

impl Directory {
    fn parse(body: &[u8]) -> Result<Directory, LoadError> {
        let count = le_u32(body.get(0..4)) as usize;
        let dir_end = count
            .checked_mul(12)
            .and_then(|n| n.checked_add(4))
            .ok_or(LoadError::Truncated("section directory"))?;
        let dir = body
            .get(4..dir_end)
            .ok_or(LoadError::Truncated("section directory"))?;
        let mut entries = Vec::with_capacity(count);
        let mut previous_end = dir_end;
        for entry in dir.chunks_exact(12) {
            let id = le_u32(entry.get(0..4));
            let offset = le_u32(entry.get(4..8)) as usize;
            let len = le_u32(entry.get(8..12)) as usize;
            let end = offset
                .checked_add(len)
                .ok_or(LoadError::Truncated("section"))?;
            if end > body.len() {
                return Err(LoadError::Truncated("section"));
            }
            if offset < previous_end {
                return Err(corrupt("overlapping or unordered sections"));
            }
            if entries.last().is_some_and(|(last, _)| *last >= id) {
                return Err(corrupt("section ids out of order"));
            }
            previous_end = end;
            entries.push((id, offset..end));
        }
        if previous_end != body.len() {
            return Err(corrupt("unreferenced bytes after the last section"));
        }
        Ok(Directory { entries })
    }

    fn get(&self, id: u32) -> Result<Range<usize>, LoadError> {
        self.entries
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|(_, r)| r.clone())
            .ok_or_else(|| corrupt(format!("missing section {id:#x}")))
    }
}

fn postcard_section<T: for<'de> Deserialize<'de>>(
    body: &[u8],
    range: Range<usize>,
    what: &'static str,
) -> Result<T, LoadError> {
    let bytes = body.get(range).ok_or(LoadError::Truncated(what))?;
    let (value, rest) = postcard::take_from_bytes::<T>(bytes)
        .map_err(|e| corrupt(format!("{what} section: {e}")))?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{what} section: trailing bytes")));
    }
    Ok(value)
}

fn table<'a, T: FromBytes + Immutable + KnownLayout + Unaligned>(
    body: &'a [u8],
    range: &Range<usize>,
    what: &'static str,
) -> Result<&'a [T], LoadError> {
    let bytes = body.get(range.clone()).ok_or(LoadError::Truncated(what))?;
    <[T]>::ref_from_bytes(bytes)
        .map_err(|_| corrupt(format!("{what}: not a whole number of records")))
}

fn load_tenant(
    body: &[u8],
    directory: &Directory,
    index: usize,
) -> Result<LoadedTenant, LoadError> {
    let range = |kind| directory.get(section::tenant(index, kind));
    let config: TenantConfig = postcard_section(body, range(section::CONFIG)?, "tenant config")?;
    let name = config.name.clone();
    let bad = |why: String| corrupt(format!("tenant `{name}`: {why}"));
    let tables = TableRanges {
        strings: range(section::STRINGS)?,
        users: range(section::USERS)?,
        teams: range(section::TEAMS)?,
        virtual_accounts: range(section::VIRTUAL_ACCOUNTS)?,
        resources: range(section::RESOURCES)?,
        grants: range(section::GRANTS)?,
        lists: range(section::LISTS)?,
        mappings: range(section::IDP_MAPPINGS)?,
    };
    let view = Tables {
        strings: body
            .get(tables.strings.clone())
            .ok_or(LoadError::Truncated("strings"))?,
        users: table(body, &tables.users, "users")?,
        teams: table(body, &tables.teams, "teams")?,
        virtual_accounts: table(body, &tables.virtual_accounts, "virtual accounts")?,
        resources: table(body, &tables.resources, "resources")?,
        grants: table(body, &tables.grants, "grants")?,
        lists: table(body, &tables.lists, "lists")?,
        mappings: table(body, &tables.mappings, "identity-provider mappings")?,
    };
    validate_tables(&config, &view).map_err(bad)?;
    let keys =
        KeySet::new(&config.keys).map_err(|e| corrupt(format!("tenant `{name}` keys: {e}")))?;
    let mut idp_keys = Vec::with_capacity(config.identity_providers.len());
    for idp in &config.identity_providers {
        idp_keys.push(KeySet::new(&idp.keys).map_err(|e| {
            corrupt(format!(
                "tenant `{name}` identity provider `{}` keys: {e}",
                idp.name
            ))
        })?);
    }
    Ok(LoadedTenant {
        config,
        keys,
        idp_keys,
        tables,
    })
}

/// Everything the request path relies on without checking again.
fn validate_tables(config: &TenantConfig, t: &Tables<'_>) -> Result<(), String> {
    if config.actions.len() > MAX_ACTIONS {
        return Err("more than 64 actions".into());
    }
    let roles = config.roles.len();
    let types = config.resource_types.len();
    for ty in &config.resource_types {
        if ty.parent.is_some_and(|p| p.index() >= types) {
            return Err(format!("type `{}` has an unknown parent", ty.name));
        }
    }
    for role in &config.roles {
        match &role.kind {
            RoleKind::Collaborator { resource_type, .. } if resource_type.index() >= types => {
                return Err(format!("role `{}` names an unknown type", role.name))
            }
            RoleKind::Tenant { permissions }
                if permissions.iter().any(|(ty, _)| ty.index() >= types) =>
            {
                return Err(format!("role `{}` names an unknown type", role.name))
            }
            _ => {}
        }
    }
    for idp in &config.identity_providers {
        if idp
            .algorithms
            .iter()
            .any(|a| Algorithm::ALL.iter().all(|b| b != a))
        {
            return Err("unknown algorithm".into());
        }
    }
    let str_ok = |r: StrRef| -> bool {
        let start = r.offset.get() as usize;
        start
            .checked_add(r.len.get() as usize)
            .and_then(|end| t.strings.get(start..end))
            .is_some_and(|b| core::str::from_utf8(b).is_ok())
    };
    let list_ok = |r: ListRef| -> bool {
        let start = r.start.get() as usize;
        start
            .checked_add(r.len.get() as usize)
            .is_some_and(|end| end <= t.lists.len())
    };
    let subject_ok = |code: u32| -> bool {
        let i = (code & subject_code::INDEX_MASK) as usize;
        match subject_code::decode(code) {
            Subject::User(_) => i < t.users.len(),
            Subject::Team(_) => i < t.teams.len(),
            Subject::VirtualAccount(_) => i < t.virtual_accounts.len(),
            Subject::Everyone => code == subject_code::EVERYONE,
        }
    };
    let sorted = |a: &str, b: &str| a < b;

    let mut previous: Option<&str> = None;
    for u in t.users {
        if !str_ok(u.email) || !list_ok(u.teams) {
            return Err("user record out of bounds".into());
        }
        let email = t.str(u.email);
        if previous.is_some_and(|p| !sorted(p, email)) {
            return Err("users not sorted".into());
        }
        previous = Some(email);
        if u.role.get() as usize >= roles {
            return Err(format!("user `{email}` has an unknown role"));
        }
        if t.list(u.teams)
            .iter()
            .any(|team| team.get() as usize >= t.teams.len())
        {
            return Err(format!("user `{email}` is in an unknown team"));
        }
    }
    previous = None;
    for team in t.teams {
        if !str_ok(team.name) || !list_ok(team.roles) {
            return Err("team record out of bounds".into());
        }
        let name = t.str(team.name);
        if previous.is_some_and(|p| !sorted(p, name)) {
            return Err("teams not sorted".into());
        }
        previous = Some(name);
        if t.list(team.roles).iter().any(|r| r.get() as usize >= roles) {
            return Err(format!("team `{name}` has an unknown role"));
        }
    }
    previous = None;
    for va in t.virtual_accounts {
        if !str_ok(va.name) {
            return Err("virtual account record out of bounds".into());
        }
        let name = t.str(va.name);
        if previous.is_some_and(|p| !sorted(p, name)) {
            return Err("virtual accounts not sorted".into());
        }
        previous = Some(name);
    }
    previous = None;
    let mut next_grant = 0usize;
    for (index, r) in t.resources.iter().enumerate() {
        if !str_ok(r.key) || !list_ok(r.authorized) {
            return Err("resource record out of bounds".into());
        }
        let key = t.str(r.key);
        if previous.is_some_and(|p| !sorted(p, key)) {
            return Err("resources not sorted".into());
        }
        previous = Some(key);
        let ty = r.resource_type.get() as usize;
        let Some(type_name) = config.resource_types.get(ty).map(|t| t.name.as_str()) else {
            return Err(format!("resource `{key}` has an unknown type"));
        };
        if !key
            .strip_prefix(type_name)
            .is_some_and(|rest| rest.starts_with(':'))
        {
            return Err(format!("resource `{key}` does not start with its type"));
        }
        let parent = r.parent.get();
        // Parents precede nothing in particular (the table is sorted by key), so bound the
        // depth instead: a cycle shows up as a chain longer than the table.
        if parent != NONE {
            if parent as usize >= t.resources.len() || parent as usize == index {
                return Err(format!("resource `{key}` has an unknown parent"));
            }
            let mut depth = 0usize;
            let mut cursor = parent;
            while cursor != NONE {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("resource `{key}` is nested too deep or in a cycle"));
                }
                cursor = t
                    .resources
                    .get(cursor as usize)
                    .map_or(NONE, |p| p.parent.get());
            }
        }
        if r.grants_start.get() as usize != next_grant {
            return Err(format!("grants of `{key}` are not contiguous"));
        }
        next_grant = next_grant
            .checked_add(r.grants_len.get() as usize)
            .filter(|end| *end <= t.grants.len())
            .ok_or_else(|| format!("grants of `{key}` out of bounds"))?;
        let grants = t.grants_of(r);
        for g in grants {
            if !subject_ok(g.subject.get()) || g.role.get() as usize >= roles {
                return Err(format!("grant on `{key}` names an unknown subject or role"));
            }
        }
        if !grants
            .windows(2)
            .all(|w| matches!(w, [a, b] if (a.subject.get(), a.role.get()) < (b.subject.get(), b.role.get())))
        {
            return Err(format!("grants of `{key}` not sorted"));
        }
        let authorized = t.list(r.authorized);
        if authorized.iter().any(|c| !subject_ok(c.get()))
            || !authorized
                .windows(2)
                .all(|w| matches!(w, [a, b] if a.get() < b.get()))
        {
            return Err(format!("authorized subjects of `{key}` invalid"));
        }
    }
    if next_grant != t.grants.len() {
        return Err("grants not owned by any resource".into());
    }
    let mut previous_mapping: Option<(u32, &str, u32)> = None;
    for m in t.mappings {
        if !str_ok(m.value) {
            return Err("mapping record out of bounds".into());
        }
        let idp = m.idp.get();
        let Some(provider) = config.identity_providers.get(idp as usize) else {
            return Err("mapping names an unknown identity provider".into());
        };
        let target = m.target.get() as usize;
        let in_range = match provider.resolve_to {
            crate::model::ResolveTo::User { .. } => target < t.teams.len(),
            crate::model::ResolveTo::VirtualAccount { .. } => target < t.virtual_accounts.len(),
        };
        if !in_range {
            return Err("mapping names an unknown target".into());
        }
        let key = (idp, t.str(m.value), m.target.get());
        if previous_mapping.is_some_and(|p| p >= key) {
            return Err("mappings not sorted".into());
        }
        previous_mapping = Some(key);
    }
    Ok(())
}

/// The deepest resource nesting a bundle may carry.
pub const MAX_DEPTH: usize = 32;

#[cfg(test)]
mod tests {
    use super::cmp_key;

    mod serial {
        use super::super::*;
        use crate::model::Gateway;

        fn policy(serial: u64) -> Policy {
            Policy {
                revision: "r".into(),
                compiler_version: "test".into(),
                serial,
                gateway: Gateway {
                    default_authenticated: false,
                    dry_run: false,
                    max_body_bytes: 1024,
                    token_sources: Vec::new(),
                    routes: Vec::new(),
                    override_headers: Default::default(),
                },
                tenants: Vec::new(),
            }
        }

        fn decode(bytes: Vec<u8>) -> Result<Bundle, LoadError> {
            Bundle::decode(bytes, &LoadOptions::default())
        }

        /// A bundle of `policy(0)` whose META section is `meta`, digest and directory intact.
        fn with_meta(meta: Vec<u8>) -> Vec<u8> {
            let gateway = postcard_bytes(&policy(0).gateway).unwrap_or_default();
            assemble(&[(section::META, meta), (section::GATEWAY, gateway)], None)
                .unwrap_or_default()
        }

        #[test]
        fn serial_round_trips_and_is_in_meta() {
            for serial in [0, 1, 10, 1_795_867_200, u64::MAX] {
                let bytes = encode(&policy(serial), None).unwrap_or_default();
                let bundle = decode(bytes).unwrap_or_else(|e| panic!("{serial}: {e}"));
                assert_eq!(bundle.serial(), serial);
                assert_eq!(bundle.meta().serial, serial);
                assert_eq!(bundle.format_version(), (2, 0));
            }
            // META is `revision, compiler_version, tenant_count, serial` (docs/bundle-format.md
            // 3.1): the serial is the last field, a LEB128 varint.
            let meta = Meta {
                revision: "r".into(),
                compiler_version: "v".into(),
                tenant_count: 0,
                serial: 300,
            };
            assert_eq!(
                postcard_bytes(&meta).unwrap_or_default(),
                [1, b'r', 1, b'v', 0, 0xac, 0x02]
            );
        }

        #[test]
        fn serial_is_covered_by_digest_and_signature() {
            let a = encode(&policy(10), None).unwrap_or_default();
            let b = encode(&policy(5), None).unwrap_or_default();
            assert_eq!(a.len(), b.len());
            assert_ne!(a.get(24..56), b.get(24..56), "same digest for two serials");
            // Same policy, same serial: same bytes (determinism).
            assert_eq!(a, encode(&policy(10), None).unwrap_or_default());

            // Rewriting the serial of a signed bundle in place breaks digest and signature.
            let key = SigningKey::from_bytes(&[7; 32]);
            let signed = encode(&policy(10), Some(&key)).unwrap_or_default();
            let pos = signed
                .len()
                .checked_sub(SIGNATURE_TRAILER_LEN)
                .and_then(|end| signed.get(..end))
                .and_then(|head| head.iter().rposition(|b| *b == 10));
            let mut forged = signed.clone();
            if let Some(b) = pos.and_then(|p| forged.get_mut(p)) {
                *b = 5;
            }
            assert_ne!(forged, signed);
            assert_eq!(decode(forged).err(), Some(LoadError::DigestMismatch));
            // With the digest recomputed, the signature still fails.
            let mut forged = encode(&policy(5), None).unwrap_or_default();
            forged.extend_from_slice(signed.get(signed.len() - 96..).unwrap_or_default());
            if let Some(flags) = forged.get_mut(12) {
                *flags = 1;
            }
            assert_eq!(decode(forged).err(), Some(LoadError::BadSignature));
        }

        #[test]
        fn corrupt_serials_are_refused() {
            let base = [1, b'r', 1, b'v', 0];
            let cases: [(&str, Vec<u8>); 5] = [
                // A format 1.0 META: no serial at all.
                ("missing", base.to_vec()),
                // A varint cut short.
                ("truncated", [&base[..], &[0x80]].concat()),
                // Eleven continuation bytes: longer than any u64.
                ("overlong", [&base[..], &[0xff; 10], &[0x01]].concat()),
                // Ten bytes whose value exceeds u64::MAX.
                ("overflow", [&base[..], &[0xff; 9], &[0x7f]].concat()),
                ("trailing byte", [&base[..], &[0x05, 0x00]].concat()),
            ];
            for (what, meta) in cases {
                match decode(with_meta(meta)) {
                    Err(LoadError::Corrupt(why)) => assert!(why.contains("meta"), "{what}: {why}"),
                    other => panic!("{what}: {other:?}"),
                }
            }
            // The largest serial, spelled canonically, loads.
            let max = [&base[..], &[0xff; 9], &[0x01]].concat();
            assert_eq!(
                decode(with_meta(max)).map(|b| b.serial()).ok(),
                Some(u64::MAX)
            );
        }

        #[test]
        fn format_1_bundles_are_refused() {
            let mut bytes = encode(&policy(10), None).unwrap_or_default();
            if let Some(major) = bytes.get_mut(8..10) {
                major.copy_from_slice(&1u16.to_le_bytes());
            }
            assert_eq!(
                decode(bytes).err(),
                Some(LoadError::UnsupportedVersion { major: 1, minor: 0 })
            );
        }
    }

    #[test]
    fn cmp_bytes_is_slice_order() {
        let words: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgh\0",
            b"abcdefgi",
            b"abcdefg",
            b"\xffabcdefgh",
            b"u28014@synth.example.com",
            b"u28014@synth.example.co",
            b"u28015@synth.example.com",
            b"abcdefghabcdefgh",
            b"abcdefghabcdefgz",
        ];
        for a in &words {
            for b in &words {
                assert_eq!(super::cmp_bytes(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn cmp_key_orders_like_the_joined_key() {
        let stored = [
            "model",
            "model:",
            "model:a",
            "model:a/b",
            "model-x:a",
            "mode",
            "tool:a",
            "",
        ];
        let wanted = [
            ("model", "a"),
            ("model", ""),
            ("mode", "l:a"),
            ("model", "a/b"),
            ("tool", "a"),
        ];
        for s in stored {
            for (ty, path) in wanted {
                assert_eq!(
                    cmp_key(s.as_bytes(), ty.as_bytes(), path.as_bytes()),
                    s.cmp(format!("{ty}:{path}").as_str()),
                    "{s} vs {ty}:{path}"
                );
            }
        }
    }
}
