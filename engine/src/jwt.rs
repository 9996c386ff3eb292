//! Token verification (SPEC 3.1 step 4): compact JWS only, algorithm pinned by key type and
//! allow-list, keys chosen only from configuration, claims checked after the signature.
//!
//! Every failure is a [`Reason`]; nothing here can turn an error into an accepted token.

mod claims;
mod error;
mod json;
mod jwks;
mod keys;
#[cfg(feature = "sign")]
pub mod sign;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use crate::model::Algorithm;
use crate::reason::Reason;

pub use claims::{ClaimPath, Claims, Registered, Strings};
pub use error::{JwksError, KeyError, KeyLabel, KeyProblem, MemberProblem};
pub use jwks::parse_jwks;
pub use keys::KeySet;

/// Longest token accepted, in bytes. Bounds decoding work and memory per request.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A compact JWS split and decoded, signature not yet checked.
pub struct Token<'a> {
    alg: Algorithm,
    kid: Option<String>,
    claims: Claims,
    /// `header.payload`, exactly as received: the bytes the signature covers.
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Token<'a> {
    pub fn parse(token: &'a str) -> Result<Token<'a>, Reason> {
        use Reason::{AlgNotAllowed, TokenMalformed};

        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenMalformed);
        }
        // Exactly three segments: two are an unsecured JWT, five a JWE.
        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(TokenMalformed);
        };
        let (signing_input, _) = token
            .split_at_checked(header.len() + 1 + payload.len())
            .ok_or(TokenMalformed)?;

        // Header members are read like claims: one accepted type each, see `claims.rs`.
        let header = json::b64url(header)
            .and_then(|bytes| json::object(&bytes))
            .map(Claims::new)
            .ok_or(TokenMalformed)?;
        // Case-sensitive (RFC 7515 4.1.1): `none` in any casing, and every name we do not
        // implement, is simply not an allowed algorithm.
        let alg = header.string("alg")?.ok_or(TokenMalformed)?;
        let alg = Algorithm::from_name(alg).ok_or(AlgNotAllowed)?;
        // We implement no extension, so any `crit` names one we do not understand (RFC 7515
        // 4.1.11); `b64: false` (RFC 7797) would change what the signature covers. Refused in
        // any form, `null` included.
        if header.has("crit") || header.has("b64") {
            return Err(TokenMalformed);
        }
        let kid = header.string("kid")?.map(str::to_owned);
        // `jwk`, `jku`, `x5u` and `x5c` are deliberately not read: keys come from configuration.
        // Nor is `typ` (or `cty`): nothing here depends on it, so it may hold anything.

        let claims = json::b64url(payload)
            .and_then(|bytes| json::object(&bytes))
            .map(Claims::new)
            .ok_or(TokenMalformed)?;
        let signature = json::b64url(signature).ok_or(TokenMalformed)?;
        Ok(Token {
            alg,
            kid,
            claims,
            signing_input,
            signature,
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Unverified until [`verify`] succeeds.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// `claims().string("iss")`: `Ok(None)` when absent, `token_malformed` when not a string.
    /// Unverified: only for choosing the key set.
    pub fn issuer(&self) -> Result<Option<&str>, Reason> {
        self.claims.string("iss")
    }
}

/// Shows the header fields only: a token must never reach a log.
impl core::fmt::Debug for Token<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Token")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Validation<'k> {
    pub keys: &'k KeySet,
    /// Allow-list; empty means every algorithm the keys can do.
    pub algorithms: &'k [Algorithm],
    /// When non-empty, `aud` (string or array) must contain one of these.
    pub audiences: &'k [String],
    pub clock_skew_seconds: i64,
    /// Unix seconds.
    pub now: i64,
}

/// Whether [`check`] computes the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signature {
    /// Verify it over the signing input.
    Check,
    /// It verified before under a key set no different from [`Validation::keys`] (the
    /// verified-token cache holds the token under a scope that covers every key: `crate::cache`).
    /// Everything else is checked as for [`Signature::Check`].
    Verified,
}

/// Checks alg vs key type and allow-list, selects the key, verifies the signature, then exp/nbf/iat/aud.
pub fn verify(token: &Token<'_>, validation: &Validation<'_>) -> Result<(), Reason> {
    check(token, validation, Signature::Check)
}

/// [`verify`], computing the signature only when `signature` says so: a token the cache says
/// verified under these keys meets every other check against the settings in service.
pub(crate) fn check(
    token: &Token<'_>,
    validation: &Validation<'_>,
    signature: Signature,
) -> Result<(), Reason> {
    let known = signature == Signature::Verified;
    let alg = token.alg;
    if !validation.algorithms.is_empty() && !validation.algorithms.contains(&alg) {
        return Err(Reason::AlgNotAllowed);
    }
    let input = token.signing_input.as_bytes();
    let verified = match &token.kid {
        Some(kid) => {
            let key = validation.keys.by_kid(kid).ok_or(Reason::KeyUnknown)?;
            // An RSA key named by an HS256 token is the classic confusion attack.
            if !key.fits(alg) {
                return Err(Reason::AlgNotAllowed);
            }
            known || key.verify(alg, input, &token.signature)
        }
        None => {
            let mut candidates = validation.keys.candidates(alg).peekable();
            if candidates.peek().is_none() {
                return Err(Reason::AlgNotAllowed);
            }
            known || candidates.any(|key| key.verify(alg, input, &token.signature))
        }
    };
    if !verified {
        return Err(Reason::SignatureInvalid);
    }
    check_claims(&token.claims, validation)
}

/// Test hook (Wycheproof vectors, fuzzing): verifies `signature` over an arbitrary `message` with
/// the same key preparation and signature code as [`verify`], without the JWS framing. `Err` when
/// [`KeySet::new`] refuses the key (too small, off the curve...); `Ok(false)` when the key does not
/// fit `alg` or the signature is invalid.
#[doc(hidden)]
pub fn verify_raw(
    alg: Algorithm,
    key: &crate::model::Jwk,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, KeyError> {
    let set = KeySet::new(core::slice::from_ref(key))?;
    let verified = set
        .candidates(alg)
        .any(|key| key.verify(alg, message, signature));
    Ok(verified)
}

/// The time claims of a token and the clock skew they are read with: when the token may be used.
/// The one definition of the time rule, for verification and for the verified-token cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    /// Non-negative.
    pub skew: i64,
}

impl Window {
    /// `exp` has passed (`now >= exp + skew`): expired; `nbf` or `iat` ahead of the clock by more
    /// than the skew: not yet valid.
    pub fn check(&self, now: i64) -> Result<(), Reason> {
        if now >= self.exp.saturating_add(self.skew) {
            return Err(Reason::TokenExpired);
        }
        if self
            .nbf
            .is_some_and(|nbf| now < nbf.saturating_sub(self.skew))
        {
            return Err(Reason::TokenNotYetValid);
        }
        if self
            .iat
            .is_some_and(|iat| iat > now.saturating_add(self.skew))
        {
            return Err(Reason::TokenNotYetValid);
        }
        Ok(())
    }

    /// Whether [`Window::check`] passes at `now`.
    pub fn admits(&self, now: i64) -> bool {
        self.check(now).is_ok()
    }
}

/// Registered claim types, then time, then audience; only ever called on verified claims.
/// Types first: a token with a registered claim of the wrong type is malformed whatever the
/// time and whatever audiences are configured.
fn check_claims(claims: &Claims, validation: &Validation<'_>) -> Result<(), Reason> {
    let registered = claims.registered(validation.clock_skew_seconds)?;
    registered.window.check(validation.now)?;

    if !validation.audiences.is_empty() {
        let wanted = |aud: &str| validation.audiences.iter().any(|a| a == aud);
        if !registered
            .audience
            .is_some_and(|auds| auds.iter().any(wanted))
        {
            return Err(Reason::AudienceMismatch);
        }
    }
    Ok(())
}
