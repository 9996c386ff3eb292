//! The binary policy bundle: one definition of the byte layout, used by the encoder (the
//! compiler) and the decoder (the Envoy filter and `gatehouse check`). `docs/bundle-format.md`
//! is the normative description of these bytes; change both in the same commit.
//!
//! Layout: a fixed 56-byte header (magic, version, flags, body length, SHA-256 of the body), the
//! body (a section directory followed by the sections), and, when the bundle is signed, a
//! 96-byte trailer (Ed25519 public key and signature over header and body).
//!
//! Small, structured sections (metadata, gateway routes, each tenant's keys, identity providers,
//! action names, types and roles) are postcard encodings of model types. The large tables
//! (users, teams, virtual accounts, resources, identity-provider mappings) are arrays of
//! fixed-size little-endian records read in place, without copying, through `zerocopy`; a
//! record's list (a user's teams, a resource's grants) is its run of a pool section, from its
//! start to the next record's; team memberships and grants are packed integers whose width the
//! bundle chooses from the tenant's sizes.
//!
//! - [`format`]: the bytes (constants, header, directory, trailer, META, records, subject codes);
//! - `encode`: a policy to bytes; `decode`: bytes to a [`Bundle`], checking every offset once
//!   with `validate`; [`tables`]: the request-time lookups over validated tables.

mod decode;
mod encode;
mod error;
pub mod format;
mod index;
pub mod tables;
mod validate;

#[cfg(test)]
mod tests;

/// A tenant's CONFIG section is [`crate::model::TenantConfig`], encoded as is.
pub use crate::model::TenantConfig;
pub use decode::{Bundle, LoadOptions, LoadedTenant};
pub use encode::encode;
pub use error::{Corrupt, EncodeError, LoadError};
pub use format::{
    Admitted, CredentialRecord, CredentialState, Grants, Header, MappingRecord, Meta, Packed,
    ResourceRecord, SectionEntry, StrRef, SubjectCode, SubjectNumbers, TeamRecord, UserRecord,
    VirtualAccountRecord, EMBEDDED_MARKER, FORMAT_MAJOR, FORMAT_MINOR, HEADER_LEN, MAGIC,
    MAX_DEPTH, NONE, NO_DOMAIN, NO_TIME, RESOURCE_DISABLED, RESOURCE_RESTRICTED,
    SIGNATURE_TRAILER_LEN, USER_ACTIVE,
};
pub use index::{KeyIndex, KeyIndexRef};
pub use tables::Tables;
pub use validate::{Invalid, Table};
