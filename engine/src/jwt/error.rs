//! Why a JWK Set or a verification key was refused. Each message names the key (its `kid`, or
//! its place in the set), in lowercase, for the compiler's diagnostics and the bundle's load
//! errors.

use crate::model::Algorithm;

/// Which key of a set: its `kid`, or its index when it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLabel {
    Kid(String),
    Index(usize),
}

impl core::fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyLabel::Kid(kid) => write!(f, "key `{kid}`"),
            KeyLabel::Index(index) => write!(f, "key #{index}"),
        }
    }
}

/// A key [`KeySet::new`](super::KeySet::new) refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: KeyLabel,
    pub problem: KeyProblem,
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for KeyError {}

/// Why key material cannot verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// The key pins an algorithm that needs another type of key.
    AlgMismatch {
        alg: Algorithm,
        kind: &'static str,
    },
    RsaTooSmall {
        bits: usize,
        min: usize,
    },
    /// What the RSA public key check said.
    RsaInvalid(&'static str),
    EcCoordinates {
        size: usize,
        x: usize,
        y: usize,
    },
    EcOffCurve,
    Ed25519Length(usize),
    Ed25519Invalid,
    Ed25519SmallOrder,
    HmacTooShort {
        len: usize,
        min: usize,
    },
    HmacInvalid,
    DuplicateKid,
}

impl core::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyProblem::AlgMismatch { alg, kind } => {
                write!(f, "`alg` {} does not fit a {kind} key", alg.name())
            }
            KeyProblem::RsaTooSmall { bits, min } => {
                write!(
                    f,
                    "rsa modulus of {bits} bits is under the minimum of {min}"
                )
            }
            KeyProblem::RsaInvalid(why) => write!(f, "invalid rsa public key: {why}"),
            KeyProblem::EcCoordinates { size, x, y } => {
                write!(
                    f,
                    "ec coordinates must be {size} bytes each, got {x} and {y}"
                )
            }
            KeyProblem::EcOffCurve => f.write_str("ec point is not on the curve"),
            KeyProblem::Ed25519Length(len) => {
                write!(f, "ed25519 key must be 32 bytes, got {len}")
            }
            KeyProblem::Ed25519Invalid => f.write_str("ed25519 key is not a valid point"),
            KeyProblem::Ed25519SmallOrder => f.write_str("ed25519 key is a small-order point"),
            KeyProblem::HmacTooShort { len, min } => {
                write!(
                    f,
                    "hmac secret of {len} bytes is under the minimum of {min}"
                )
            }
            KeyProblem::HmacInvalid => f.write_str("invalid hmac secret"),
            KeyProblem::DuplicateKid => f.write_str("duplicate kid"),
        }
    }
}

/// Why [`parse_jwks`](super::parse_jwks) refused a JWK Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    NotObject,
    KeysNotArray,
    NoKeys,
    KeyNotObject(usize),
    /// A member of a key, read as RFC 7517 writes it.
    Member {
        key: KeyLabel,
        problem: MemberProblem,
    },
    /// The keys parse but do not verify (too small, off the curve...).
    Key(KeyError),
}

impl core::fmt::Display for JwksError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            JwksError::NotObject => {
                f.write_str("jwk set is not a json object (or has duplicate members)")
            }
            JwksError::KeysNotArray => f.write_str("jwk set member `keys` is not an array"),
            JwksError::NoKeys => f.write_str("jwk set has no `keys` member"),
            JwksError::KeyNotObject(index) => write!(f, "key #{index}: not a json object"),
            JwksError::Member { key, problem } => write!(f, "{key}: {problem}"),
            JwksError::Key(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for JwksError {}

impl From<KeyError> for JwksError {
    fn from(error: KeyError) -> JwksError {
        JwksError::Key(error)
    }
}

/// What is wrong with one member of a JWK. Values the set wrote (an unknown `kty`...) are
/// quoted back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberProblem {
    NotString(&'static str),
    Missing(&'static str),
    Use(String),
    KeyOps,
    UnsupportedAlg(String),
    Private(&'static str),
    UnsupportedCurve { crv: String, kty: &'static str },
    UnsupportedType(String),
    NotBase64url(&'static str),
    Empty(&'static str),
    DuplicateKid,
}

impl core::fmt::Display for MemberProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MemberProblem::NotString(name) => write!(f, "`{name}` is not a string"),
            MemberProblem::Missing(name) => write!(f, "missing `{name}`"),
            MemberProblem::Use(u) => write!(f, "`use` is `{u}`, only `sig` keys verify"),
            MemberProblem::KeyOps => f.write_str("`key_ops` does not include `verify`"),
            MemberProblem::UnsupportedAlg(name) => write!(f, "unsupported `alg` `{name}`"),
            MemberProblem::Private(member) => write!(
                f,
                "private key member `{member}` present; configure the public key only"
            ),
            MemberProblem::UnsupportedCurve { crv, kty } => {
                write!(f, "unsupported `crv` `{crv}` for `{kty}`")
            }
            MemberProblem::UnsupportedType(kty) => write!(f, "unsupported `kty` `{kty}`"),
            MemberProblem::NotBase64url(name) => {
                write!(f, "`{name}` is not unpadded base64url")
            }
            MemberProblem::Empty(name) => write!(f, "`{name}` is empty"),
            MemberProblem::DuplicateKid => f.write_str("duplicate kid"),
        }
    }
}
