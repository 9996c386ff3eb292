//! The fixed-size records of the large tables (users, teams, virtual accounts, resources,
//! identity-provider mappings), read in place, and the string references they hold.

use core::ops::Range;

use zerocopy::little_endian::{I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::model::{IdpId, ResourceId, RoleId, TypeId};

/// `u32::MAX` in a parent field: none.
pub const NONE: u32 = u32::MAX;
/// `u16::MAX` in a user's domain field: none (the whole email is in `local`).
pub const NO_DOMAIN: u16 = u16::MAX;
/// `i64::MIN` in a timestamp field: none.
pub const NO_TIME: i64 = i64::MIN;

fn index_field(index: Option<u32>) -> U32 {
    U32::new(index.unwrap_or(NONE))
}

fn index_of(field: U32) -> Option<u32> {
    Some(field.get()).filter(|i| *i != NONE)
}

fn time_field(time: Option<i64>) -> I64 {
    I64::new(time.unwrap_or(NO_TIME))
}

fn time_of(field: I64) -> Option<i64> {
    Some(field.get()).filter(|t| *t != NO_TIME)
}

/// A string in the tenant's STRINGS section: 6 bytes.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StrRef {
    pub offset: U32,
    pub len: U16,
}

impl StrRef {
    pub fn range(&self) -> Option<Range<usize>> {
        let start = usize::try_from(self.offset.get()).ok()?;
        Some(start..start.checked_add(usize::from(self.len.get()))?)
    }
}

/// Where record `index` of a table with `starts` begins its run of a pool of `pool_len`
/// entries: from its own start to the next record's, the last record's run ending the pool.
/// `None` if a start does not fit in `usize` or the record does not exist.
pub fn run_of<T>(
    records: &[T],
    start_of: impl Fn(&T) -> U32,
    index: usize,
    pool_len: usize,
) -> Option<Range<usize>> {
    let start = usize::try_from(start_of(records.get(index)?).get()).ok()?;
    let end = match records.get(index.checked_add(1)?) {
        Some(next) => usize::try_from(start_of(next).get()).ok()?,
        None => pool_len,
    };
    Some(start..end)
}

pub const RESOURCE_DISABLED: u8 = 1;
pub const RESOURCE_RESTRICTED: u8 = 2;
pub const USER_ACTIVE: u8 = 1;

/// 15 bytes. Sorted by email (`local` then the domain, bytewise).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct UserRecord {
    /// The email up to its last `@` (the whole email when `domain` is [`NO_DOMAIN`]).
    pub local: StrRef,
    /// Index into DOMAINS (the email from its last `@` on), or [`NO_DOMAIN`].
    pub domain: U16,
    /// Tenant-level role.
    pub role: U16,
    /// Bit 0: active.
    pub flags: u8,
    /// First entry of the user's run of USER_TEAMS.
    pub teams_start: U32,
}

impl UserRecord {
    pub fn role(&self) -> RoleId {
        RoleId(u32::from(self.role.get()))
    }

    pub fn is_active(&self) -> bool {
        self.flags & USER_ACTIVE != 0
    }

    pub fn domain(&self) -> Option<usize> {
        Some(self.domain.get())
            .filter(|d| *d != NO_DOMAIN)
            .map(usize::from)
    }
}

/// 10 bytes. Sorted by `name`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TeamRecord {
    pub name: StrRef,
    /// First entry of the team's run of TEAM_ROLES.
    pub roles_start: U32,
}

/// 26 bytes. Sorted by `name`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct VirtualAccountRecord {
    pub name: StrRef,
    pub expires: I64,
    pub tokens_valid_after: I64,
    /// Seconds after `tokens_valid_after` during which earlier tokens stay valid.
    pub rotation_grace: U32,
}

impl VirtualAccountRecord {
    pub fn new(
        name: StrRef,
        expires: Option<i64>,
        tokens_valid_after: Option<i64>,
        rotation_grace: u32,
    ) -> VirtualAccountRecord {
        VirtualAccountRecord {
            name,
            expires: time_field(expires),
            tokens_valid_after: time_field(tokens_valid_after),
            rotation_grace: U32::new(rotation_grace),
        }
    }

    /// Whether a token issued at `iat` (`None`: no `iat`) is accepted at `now` under
    /// `tokens_valid_after` and `rotation_grace`: `Ok(None)` when issued at or after the cut-off
    /// (or there is none), `Ok(Some(end))` when issued before it and `now` is inside the grace,
    /// which ends at `end`; `Err(Reason::TokenRevoked)` otherwise.
    pub fn token_admitted(
        &self,
        iat: Option<i64>,
        now: i64,
    ) -> Result<Option<i64>, crate::reason::Reason> {
        let Some(after) = self.tokens_valid_after() else {
            return Ok(None);
        };
        if iat.is_some_and(|iat| iat >= after) {
            return Ok(None);
        }
        let end = after.saturating_add(i64::from(self.rotation_grace.get()));
        if self.rotation_grace.get() > 0 && now < end {
            Ok(Some(end))
        } else {
            Err(crate::reason::Reason::TokenRevoked)
        }
    }

    /// Unix seconds.
    pub fn expires(&self) -> Option<i64> {
        time_of(self.expires)
    }

    /// Unix seconds.
    pub fn tokens_valid_after(&self) -> Option<i64> {
        time_of(self.tokens_valid_after)
    }
}

/// 21 bytes. Sorted by key, `<type name>:<path>`, bytewise.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ResourceRecord {
    /// The key after `<type name>:`.
    pub path: StrRef,
    pub resource_type: U16,
    /// Bit 0: disabled. Bit 1: restricted to its run of AUTHORIZED.
    pub flags: u8,
    pub parent: U32,
    /// First entry of the resource's run of GRANTS.
    pub grants_start: U32,
    /// First entry of the resource's run of AUTHORIZED.
    pub authorized_start: U32,
}

impl ResourceRecord {
    pub fn flags_of(enabled: bool, restricted: bool) -> u8 {
        let disabled = if enabled { 0 } else { RESOURCE_DISABLED };
        let restricted = if restricted { RESOURCE_RESTRICTED } else { 0 };
        disabled | restricted
    }

    pub fn parent_of(parent: Option<ResourceId>) -> U32 {
        index_field(parent.map(|p| p.0))
    }

    pub fn resource_type(&self) -> TypeId {
        TypeId(u32::from(self.resource_type.get()))
    }

    pub fn parent(&self) -> Option<ResourceId> {
        index_of(self.parent).map(ResourceId)
    }

    pub fn is_disabled(&self) -> bool {
        self.flags & RESOURCE_DISABLED != 0
    }

    pub fn is_restricted(&self) -> bool {
        self.flags & RESOURCE_RESTRICTED != 0
    }
}

/// 14 bytes. Sorted by `(idp, value, target)`. The target is a team for identity providers that
/// resolve to users and a virtual account for those that resolve to virtual accounts.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MappingRecord {
    pub idp: U32,
    pub value: StrRef,
    pub target: U32,
}

impl MappingRecord {
    pub fn idp(&self) -> IdpId {
        IdpId(self.idp.get())
    }
}

/// `scope` of a revoked key.
pub const CREDENTIAL_REVOKED: u32 = u32::MAX - 1;
/// `expires` of a key that does not expire.
pub const CREDENTIAL_NO_EXPIRY: u32 = u32::MAX;
/// The bytes of a key's SHA-256 kept in the bundle (160 bits; see `docs/security.md`).
pub const CREDENTIAL_DIGEST_LEN: usize = 20;

/// 40 bytes. Sorted by `id`, strictly.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CredentialRecord {
    pub id: U64,
    /// The first [`CREDENTIAL_DIGEST_LEN`] bytes of SHA-256 of the key's secret.
    pub digest: [u8; CREDENTIAL_DIGEST_LEN],
    /// The [`crate::bundle::SubjectCode`] of a user or virtual account, or [`NONE`] when the
    /// principal no longer exists.
    pub principal: U32,
    /// Unix seconds (unsigned), or [`CREDENTIAL_NO_EXPIRY`].
    pub expires: U32,
    /// Index into CONFIG's `credential_scopes`, [`NONE`] (unscoped) or [`CREDENTIAL_REVOKED`].
    pub scope: U32,
}

/// What a key's record says beyond its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialState {
    Revoked,
    /// `scope`: an index into `credential_scopes`, or `None` for the principal's whole access.
    Live {
        scope: Option<u32>,
    },
}

impl CredentialRecord {
    pub fn state(&self) -> CredentialState {
        match self.scope.get() {
            CREDENTIAL_REVOKED => CredentialState::Revoked,
            NONE => CredentialState::Live { scope: None },
            i => CredentialState::Live { scope: Some(i) },
        }
    }

    /// Unix seconds.
    pub fn expires(&self) -> Option<i64> {
        Some(self.expires.get())
            .filter(|t| *t != CREDENTIAL_NO_EXPIRY)
            .map(i64::from)
    }

    pub fn principal_code(&self) -> Option<u32> {
        index_of(self.principal)
    }
}
