//! The bundle's bytes, written once: constants, the header, the section directory, the signature
//! trailer, the structured META section and the fixed-size table records. Each wire struct has
//! one `encode` and one `read` (rustls `Codec` style), and a size assertion ties it to
//! `docs/bundle-format.md`, the normative description; change both in the same commit.

use core::mem::size_of;
use core::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::error::{Corrupt, EncodeError, LoadError};
use crate::model::{Subject, TeamId, UserId, VirtualAccountId};

mod packed;
mod records;

pub use packed::{Grants, Packed, SubjectNumbers};
pub use records::{
    run_of, Admitted, CredentialRecord, CredentialState, MappingRecord, ResourceRecord, StrRef,
    TeamRecord, UserRecord, VirtualAccountRecord, CREDENTIAL_DIGEST_LEN, CREDENTIAL_NO_EXPIRY,
    CREDENTIAL_REVOKED, NONE, NO_DOMAIN, NO_TIME, RESOURCE_DISABLED, RESOURCE_RESTRICTED,
    USER_ACTIVE,
};

pub const MAGIC: [u8; 8] = *b"GATEHSE\x01";

/// The marker of the embedded-bundle descriptor in gatehouse.wasm (`plugin/src/embedded.rs`):
/// `gatehouse package` finds it, exactly once among the module's active data, and rewrites the
/// two functions that follow it. The plugin and the packager read this one definition.
pub const EMBEDDED_MARKER: [u8; 16] = *b"gatehouse:embed1";
pub const FORMAT_MAJOR: u16 = 7;
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
    pub const CREDENTIALS: u32 = 13;
    /// Every tenant has one section of each kind.
    pub const TENANT_KINDS: usize = 13;

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

// The sizes `docs/bundle-format.md` gives.
const _: () = {
    assert!(size_of::<Header>() == HEADER_LEN);
    assert!(size_of::<SignatureTrailer>() == SIGNATURE_TRAILER_LEN);
    assert!(size_of::<SectionEntry>() == 12);
    assert!(size_of::<StrRef>() == 6);
    assert!(size_of::<UserRecord>() == 15);
    assert!(size_of::<TeamRecord>() == 10);
    assert!(size_of::<VirtualAccountRecord>() == 26);
    assert!(size_of::<CredentialRecord>() == 40);
    assert!(size_of::<ResourceRecord>() == 21);
    assert!(size_of::<MappingRecord>() == 14);
};

#[cfg(test)]
mod tests;
