//! Why a policy could not be encoded, and why a bundle was refused at load.

use super::format::FORMAT_MAJOR;

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

pub(super) fn corrupt(why: impl Into<String>) -> LoadError {
    LoadError::Corrupt(why.into())
}
