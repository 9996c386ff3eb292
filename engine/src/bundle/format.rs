//! The bundle's bytes, written once: constants, the header, the section directory, the signature
//! trailer, the structured META section and the fixed-size table records. Each wire struct has
//! one `encode` and one `read` (rustls `Codec` style), and a size assertion ties it to
//! `docs/bundle-format.md`, the normative description; change both in the same commit.

use core::mem::size_of;
use core::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zerocopy::little_endian::{I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::error::{Corrupt, EncodeError, LoadError};
use crate::model::{IdpId, ResourceId, RoleId, Subject, TeamId, TypeId, UserId, VirtualAccountId};

pub const MAGIC: [u8; 8] = *b"GATEHSE\x01";

/// The marker of the embedded-bundle descriptor in gatehouse.wasm (`plugin/src/embedded.rs`):
/// `gatehouse package` finds it, exactly once among the module's active data, and rewrites the
/// two functions that follow it. The plugin and the packager read this one definition.
pub const EMBEDDED_MARKER: [u8; 16] = *b"gatehouse:embed1";
pub const FORMAT_MAJOR: u16 = 4;
pub const FORMAT_MINOR: u16 = 0;
pub const HEADER_LEN: usize = 56;
pub const SIGNATURE_TRAILER_LEN: usize = 32 + 64;
const FLAG_SIGNED: u32 = 1;
/// Sections per tenant are numbered `(tenant + 1) << 8 | kind`.
pub(super) const MAX_TENANTS: usize = 0xFFFF;
/// The deepest resource nesting a bundle may carry.
pub const MAX_DEPTH: usize = 32;

/// Section ids (`docs/bundle-format.md` 2).
pub(super) mod section {
    pub const META: u32 = 1;
    pub const GATEWAY: u32 = 2;
    pub const CONFIG: u32 = 1;
    pub const STRINGS: u32 = 2;
    pub const DOMAINS: u32 = 3;
    pub const USERS: u32 = 4;
    pub const USER_TEAMS: u32 = 5;
    pub const TEAMS: u32 = 6;
    pub const TEAM_ROLES: u32 = 7;
    pub const VIRTUAL_ACCOUNTS: u32 = 8;
    pub const RESOURCES: u32 = 9;
    pub const GRANTS: u32 = 10;
    pub const AUTHORIZED: u32 = 11;
    pub const IDP_MAPPINGS: u32 = 12;
    /// Every tenant has one section of each kind.
    pub const TENANT_KINDS: usize = 12;

    pub fn tenant(index: usize, kind: u32) -> u32 {
        // INVARIANT: index < MAX_TENANTS, checked by the encoder and the decoder.
        (((index as u32) + 1) << 8) | kind
    }
}

/// A bounds-checked cursor over borrowed bytes: every read either yields a whole value in place
/// or fails with [`LoadError::Truncated`].
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, offset: 0 }
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], LoadError> {
        let (head, rest) = self
            .buf
            .split_at_checked(n)
            .ok_or(LoadError::Truncated(what))?;
        self.buf = rest;
        // Cannot overflow: `n` bytes of one slice were just consumed.
        self.offset = self.offset.saturating_add(n);
        Ok(head)
    }

    /// One fixed-size value, in place.
    pub fn read<T: FromBytes + KnownLayout + Immutable + Unaligned>(
        &mut self,
        what: &'static str,
    ) -> Result<&'a T, LoadError> {
        let bytes = self.take(size_of::<T>(), what)?;
        T::ref_from_bytes(bytes).map_err(|_| LoadError::Truncated(what))
    }

    /// `count` fixed-size values, in place.
    pub fn slice<T: FromBytes + KnownLayout + Immutable + Unaligned>(
        &mut self,
        count: usize,
        what: &'static str,
    ) -> Result<&'a [T], LoadError> {
        let len = count
            .checked_mul(size_of::<T>())
            .ok_or(LoadError::Truncated(what))?;
        let bytes = self.take(len, what)?;
        <[T]>::ref_from_bytes(bytes).map_err(|_| LoadError::Truncated(what))
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// The fixed 56-byte header (`docs/bundle-format.md` 1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Header {
    pub magic: [u8; 8],
    pub major: U16,
    pub minor: U16,
    /// Bit 0: signed; every other bit 0.
    pub flags: U32,
    pub body_len: U64,
    /// SHA-256 of the body.
    pub digest: [u8; 32],
}

impl Header {
    /// This build's header for `body`.
    pub fn for_body(body: &[u8], signed: bool) -> Header {
        Header {
            magic: MAGIC,
            major: U16::new(FORMAT_MAJOR),
            minor: U16::new(FORMAT_MINOR),
            flags: U32::new(if signed { FLAG_SIGNED } else { 0 }),
            body_len: U64::new(body.len() as u64),
            digest: Sha256::digest(body).into(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    /// Reads a header with the right magic, a major version this build reads and no unknown
    /// flag. Body length and digest are checked against the bytes by the caller.
    pub fn read(r: &mut Reader<'_>) -> Result<Header, LoadError> {
        let header = *r.read::<Header>("header")?;
        if header.magic != MAGIC {
            return Err(LoadError::BadMagic);
        }
        let (major, minor) = (header.major.get(), header.minor.get());
        if major != FORMAT_MAJOR {
            return Err(LoadError::UnsupportedVersion { major, minor });
        }
        let flags = header.flags.get();
        if flags & !FLAG_SIGNED != 0 {
            return Err(LoadError::Corrupt(Corrupt::Flags(flags)));
        }
        Ok(header)
    }

    pub fn is_signed(&self) -> bool {
        self.flags.get() & FLAG_SIGNED != 0
    }

    pub fn body_len(&self) -> Result<usize, LoadError> {
        usize::try_from(self.body_len.get()).map_err(|_| LoadError::Truncated("body"))
    }

    /// The exact file length the header announces: header, body and (when signed) trailer.
    pub fn file_len(&self) -> Result<usize, LoadError> {
        let signed_end = HEADER_LEN
            .checked_add(self.body_len()?)
            .ok_or(LoadError::Truncated("body"))?;
        let trailer = if self.is_signed() {
            SIGNATURE_TRAILER_LEN
        } else {
            0
        };
        signed_end
            .checked_add(trailer)
            .ok_or(LoadError::Truncated("body"))
    }
}

/// The 96 bytes after the body of a signed bundle: the signer's Ed25519 public key and its
/// signature of header and body.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct SignatureTrailer {
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl SignatureTrailer {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    pub fn read(r: &mut Reader<'_>) -> Result<SignatureTrailer, LoadError> {
        r.read::<SignatureTrailer>("signature").copied()
    }
}

/// One entry of the section directory: 12 bytes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct SectionEntry {
    pub id: U32,
    /// In the body.
    pub offset: U32,
    pub len: U32,
}

impl SectionEntry {
    /// Where the section lies in the body; `None` if it does not fit in `usize`.
    pub fn range(&self) -> Option<Range<usize>> {
        let start = usize::try_from(self.offset.get()).ok()?;
        let len = usize::try_from(self.len.get()).ok()?;
        Some(start..start.checked_add(len)?)
    }
}

/// The section directory that opens the body (`docs/bundle-format.md` 2): a `u32` count, then
/// that many entries, sorted by id. Read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directory<'a> {
    pub entries: &'a [SectionEntry],
}

impl<'a> Directory<'a> {
    /// The bytes a directory of `count` entries takes.
    pub fn encoded_len(count: usize) -> Option<usize> {
        count
            .checked_mul(size_of::<SectionEntry>())?
            .checked_add(size_of::<U32>())
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let count =
            u32::try_from(self.entries.len()).map_err(|_| EncodeError::TooLarge("sections"))?;
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(self.entries.as_bytes());
        Ok(())
    }

    /// Reads the entries; where they point is checked by `validate::sections`.
    pub fn read(r: &mut Reader<'a>) -> Result<Directory<'a>, LoadError> {
        let count = r.read::<U32>("section directory")?.get();
        let count =
            usize::try_from(count).map_err(|_| LoadError::Truncated("section directory"))?;
        let entries = r.slice::<SectionEntry>(count, "section directory")?;
        Ok(Directory { entries })
    }

    /// The body range of section `id`.
    pub fn get(&self, id: u32) -> Result<Range<usize>, LoadError> {
        self.entries
            .binary_search_by_key(&id, |e| e.id.get())
            .ok()
            .and_then(|i| self.entries.get(i))
            .and_then(SectionEntry::range)
            .ok_or(LoadError::Corrupt(Corrupt::MissingSection(id)))
    }
}

/// The META section (postcard, `docs/bundle-format.md` 3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub revision: String,
    pub compiler_version: String,
    pub tenant_count: u32,
    /// Monotonic serial set at compile time ([`crate::model::Policy::serial`]); since format 2.0.
    pub serial: u64,
}

/// A subject in grants and `authorized` lists: kind in bits 30-31 (user, team, virtual account,
/// `team:everyone`), index in bits 0-29. Ordered as the `u32` it is stored as, which is the order
/// of those sorted lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct SubjectCode(u32);

impl SubjectCode {
    const USER: u32 = 0;
    const TEAM: u32 = 1 << 30;
    const VIRTUAL_ACCOUNT: u32 = 2 << 30;
    const KIND_MASK: u32 = 3 << 30;
    const INDEX_MASK: u32 = (1 << 30) - 1;
    pub const EVERYONE: SubjectCode = SubjectCode(3 << 30);

    pub fn user(id: UserId) -> SubjectCode {
        SubjectCode(Self::USER | (id.0 & Self::INDEX_MASK))
    }

    pub fn team(id: TeamId) -> SubjectCode {
        SubjectCode(Self::TEAM | (id.0 & Self::INDEX_MASK))
    }

    pub fn virtual_account(id: VirtualAccountId) -> SubjectCode {
        SubjectCode(Self::VIRTUAL_ACCOUNT | (id.0 & Self::INDEX_MASK))
    }

    pub fn from_wire(code: U32) -> SubjectCode {
        SubjectCode(code.get())
    }

    pub fn to_wire(self) -> U32 {
        U32::new(self.0)
    }

    pub fn subject(self) -> Subject {
        let i = self.0 & Self::INDEX_MASK;
        match self.0 & Self::KIND_MASK {
            Self::USER => Subject::User(UserId(i)),
            Self::TEAM => Subject::Team(TeamId(i)),
            Self::VIRTUAL_ACCOUNT => Subject::VirtualAccount(VirtualAccountId(i)),
            _ => Subject::Everyone,
        }
    }

    /// The team, when this names one.
    pub fn team_id(self) -> Option<TeamId> {
        match self.subject() {
            Subject::Team(team) => Some(team),
            _ => None,
        }
    }

    /// Whether this is a code [`SubjectCode::from`] writes (`team:everyone` carries no index).
    pub fn is_canonical(self) -> bool {
        self.0 & Self::KIND_MASK != Self::EVERYONE.0 || self == Self::EVERYONE
    }
}

impl From<Subject> for SubjectCode {
    fn from(subject: Subject) -> SubjectCode {
        match subject {
            Subject::User(id) => SubjectCode::user(id),
            Subject::Team(id) => SubjectCode::team(id),
            Subject::VirtualAccount(id) => SubjectCode::virtual_account(id),
            Subject::Everyone => SubjectCode::EVERYONE,
        }
    }
}

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

/// 22 bytes. Sorted by `name`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct VirtualAccountRecord {
    pub name: StrRef,
    pub expires: I64,
    pub tokens_valid_after: I64,
}

impl VirtualAccountRecord {
    pub fn new(
        name: StrRef,
        expires: Option<i64>,
        tokens_valid_after: Option<i64>,
    ) -> VirtualAccountRecord {
        VirtualAccountRecord {
            name,
            expires: time_field(expires),
            tokens_valid_after: time_field(tokens_valid_after),
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

/// A column of unsigned integers `width` bytes each (1 to 8, little-endian), read in place: the
/// packed sections USER_TEAMS and GRANTS. The width is chosen per bundle from the largest value
/// the column can hold and stored in the section's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed<'a> {
    bytes: &'a [u8],
    /// 1 to 8.
    width: usize,
}

impl<'a> Packed<'a> {
    pub const EMPTY: Packed<'static> = Packed {
        bytes: &[],
        width: 1,
    };

    /// Values of `width` bytes; `None` unless `width` is 1 to 8 and `bytes` whole values.
    pub fn new(bytes: &'a [u8], width: usize) -> Option<Packed<'a>> {
        ((1..=8).contains(&width) && bytes.len() % width == 0).then_some(Packed { bytes, width })
    }

    /// The bytes a value up to `max` needs (at least 1).
    pub fn width_for(max: u64) -> usize {
        let bits = 64 - max.leading_zeros() as usize;
        bits.div_ceil(8).max(1)
    }

    /// Appends `value` in `width` bytes (the caller picked `width` with [`Packed::width_for`]).
    pub fn encode(value: u64, width: usize, out: &mut Vec<u8>) {
        out.extend(value.to_le_bytes().iter().take(width));
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn len(&self) -> usize {
        // INVARIANT: width >= 1 (`new`).
        self.bytes.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Value `i`; `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u64> {
        let start = i.checked_mul(self.width)?;
        let bytes = self.bytes.get(start..start.checked_add(self.width)?)?;
        Some(Self::value(bytes))
    }

    /// The value of one `width`-byte chunk, without a call to `memcpy` for the common widths.
    #[inline]
    fn value(bytes: &[u8]) -> u64 {
        match *bytes {
            [a] => u64::from(a),
            [a, b] => u64::from(u16::from_le_bytes([a, b])),
            [a, b, c] => u64::from(u32::from_le_bytes([a, b, c, 0])),
            [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
            _ => {
                let mut word = [0u8; 8];
                for (w, b) in word.iter_mut().zip(bytes) {
                    *w = *b;
                }
                u64::from_le_bytes(word)
            }
        }
    }

    /// Values `range`; empty if it is out of bounds.
    pub fn slice(&self, range: Range<usize>) -> Packed<'a> {
        let bytes = range
            .start
            .checked_mul(self.width)
            .zip(range.end.checked_mul(self.width))
            .and_then(|(start, end)| self.bytes.get(start..end))
            .unwrap_or(&[]);
        Packed {
            bytes,
            width: self.width,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.bytes.chunks_exact(self.width).map(Self::value)
    }

    /// The number of leading values for which `pred` holds (the column is sorted by `pred`).
    pub fn partition_point(&self, pred: impl Fn(u64) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).is_some_and(&pred) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// A grant's subject as a number: users `0 .. U`, then teams, then virtual accounts, then
/// `team:everyone` (`U + T + V`), `U`, `T`, `V` being the tenant's table sizes. The order is
/// [`SubjectCode`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectNumbers {
    pub users: u64,
    pub teams: u64,
    pub virtual_accounts: u64,
}

impl SubjectNumbers {
    pub fn number(&self, subject: SubjectCode) -> Option<u64> {
        match subject.subject() {
            Subject::User(u) => Some(u64::from(u.0)).filter(|u| *u < self.users),
            Subject::Team(t) => Some(u64::from(t.0))
                .filter(|t| *t < self.teams)
                .map(|t| self.users + t),
            Subject::VirtualAccount(v) => Some(u64::from(v.0))
                .filter(|v| *v < self.virtual_accounts)
                .map(|v| self.users + self.teams + v),
            Subject::Everyone => Some(self.everyone()),
        }
    }

    pub fn subject(&self, number: u64) -> Option<Subject> {
        let id = |n: u64| u32::try_from(n).ok();
        if number < self.users {
            return id(number).map(|u| Subject::User(UserId(u)));
        }
        let number = number - self.users;
        if number < self.teams {
            return id(number).map(|t| Subject::Team(TeamId(t)));
        }
        let number = number - self.teams;
        if number < self.virtual_accounts {
            return id(number).map(|v| Subject::VirtualAccount(VirtualAccountId(v)));
        }
        (number == self.virtual_accounts).then_some(Subject::Everyone)
    }

    /// `team:everyone`, the largest number.
    pub fn everyone(&self) -> u64 {
        self.users + self.teams + self.virtual_accounts
    }
}

/// The GRANTS section read in place: `(subject number << role_bits) | role` per grant, packed,
/// grouped by resource and ascending within a resource (that is, by `(subject, role)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants<'a> {
    pub values: Packed<'a>,
    /// 0 to 16.
    pub role_bits: u32,
}

impl<'a> Grants<'a> {
    pub const EMPTY: Grants<'static> = Grants {
        values: Packed::EMPTY,
        role_bits: 0,
    };

    /// The bits a role index of a tenant with `roles` roles takes.
    pub fn role_bits_for(roles: usize) -> u32 {
        usize::BITS - roles.saturating_sub(1).leading_zeros()
    }

    pub fn value(number: u64, role: RoleId, role_bits: u32) -> u64 {
        (number << role_bits) | u64::from(role.0)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn slice(&self, range: Range<usize>) -> Grants<'a> {
        Grants {
            values: self.values.slice(range),
            role_bits: self.role_bits,
        }
    }

    /// `(subject number, role)` of a stored value.
    pub fn split(&self, value: u64) -> (u64, RoleId) {
        let mask = (1u64 << self.role_bits) - 1;
        // The mask keeps at most 16 bits.
        (value >> self.role_bits, RoleId((value & mask) as u32))
    }

    /// Every `(subject number, role)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, RoleId)> + 'a {
        let this = *self;
        self.values.iter().map(move |v| this.split(v))
    }

    /// The roles granted to subject `number`, ascending, by binary search.
    pub fn roles_of(&self, number: u64) -> impl Iterator<Item = RoleId> + 'a {
        let this = *self;
        let (lo, hi) = (number << self.role_bits, (number + 1) << self.role_bits);
        let start = self.values.partition_point(|v| v < lo);
        let values = self.values.slice(start..self.values.len());
        values
            .iter()
            .take_while(move |v| *v < hi)
            .map(move |v| this.split(v).1)
    }
}

// The sizes `docs/bundle-format.md` gives.
const _: () = {
    assert!(size_of::<Header>() == HEADER_LEN);
    assert!(size_of::<SignatureTrailer>() == SIGNATURE_TRAILER_LEN);
    assert!(size_of::<SectionEntry>() == 12);
    assert!(size_of::<StrRef>() == 6);
    assert!(size_of::<UserRecord>() == 15);
    assert!(size_of::<TeamRecord>() == 10);
    assert!(size_of::<VirtualAccountRecord>() == 22);
    assert!(size_of::<ResourceRecord>() == 21);
    assert!(size_of::<MappingRecord>() == 14);
};

#[cfg(test)]
mod tests;
