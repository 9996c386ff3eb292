//! Why a policy could not be encoded, and why a bundle was refused at load.

use super::format::FORMAT_MAJOR;
use super::validate::Invalid;
use crate::jwt::KeyError;

/// Why a policy could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    TooLarge(&'static str),
    /// The policy breaks an invariant the decoder relies on.
    Invalid(&'static str),
    /// A tenant's tables break an ordering invariant the decoder relies on.
    Tenant {
        tenant: String,
        why: &'static str,
    },
    /// A section postcard cannot write.
    Section(postcard::Error),
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
            EncodeError::Tenant { tenant, why } => {
                write!(f, "invalid policy: tenant `{tenant}`: {why}")
            }
            EncodeError::Section(error) => write!(f, "invalid policy: {error}"),
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
    Corrupt(Corrupt),
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

/// What is wrong inside a bundle whose header, digest and signature are in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corrupt {
    /// The sections or the tables are not laid out as the format says.
    Layout(&'static str),
    /// Header flag bits this build does not know.
    Flags(u32),
    /// A section the directory does not list.
    MissingSection(u32),
    /// A table whose length is not a whole number of its records.
    Records(&'static str),
    /// A postcard section that does not decode.
    Section {
        what: &'static str,
        error: postcard::Error,
    },
    /// A postcard section with bytes after its value.
    SectionTrailing(&'static str),
    /// A tenant's tables break an invariant.
    Tenant { tenant: String, invalid: Invalid },
    /// A tenant's control-plane keys do not load.
    TenantKeys { tenant: String, error: KeyError },
    /// An identity provider's keys do not load.
    ProviderKeys {
        tenant: String,
        provider: String,
        error: KeyError,
    },
}

impl core::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Corrupt::Layout(why) => f.write_str(why),
            Corrupt::Flags(flags) => write!(f, "unknown header flags {flags:#x}"),
            Corrupt::MissingSection(id) => write!(f, "missing section {id:#x}"),
            Corrupt::Records(what) => write!(f, "{what}: not a whole number of records"),
            Corrupt::Section { what, error } => write!(f, "{what} section: {error}"),
            Corrupt::SectionTrailing(what) => write!(f, "{what} section: trailing bytes"),
            Corrupt::Tenant { tenant, invalid } => write!(f, "tenant `{tenant}`: {invalid}"),
            Corrupt::TenantKeys { tenant, error } => write!(f, "tenant `{tenant}` keys: {error}"),
            Corrupt::ProviderKeys {
                tenant,
                provider,
                error,
            } => write!(
                f,
                "tenant `{tenant}` identity provider `{provider}` keys: {error}"
            ),
        }
    }
}

/// A bundle whose layout is not the format's: `why`.
pub(super) fn corrupt(why: &'static str) -> LoadError {
    LoadError::Corrupt(Corrupt::Layout(why))
}
