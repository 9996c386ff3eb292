//! Compact JWS signing for every algorithm the verifier accepts: what `gatehouse token`,
//! `gatehouse test` and the engine's own tests sign tokens with. It holds private keys, so the
//! filter never compiles it (feature `sign`).

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::json::b64url_encode;
use super::keys::{KeyType, SHA256_PREFIX, SHA384_PREFIX, SHA512_PREFIX};
use crate::model::Algorithm;

/// A private key that signs, by reference.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    Rsa(&'a RsaPrivateKey),
    P256(&'a p256::ecdsa::SigningKey),
    P384(&'a p384::ecdsa::SigningKey),
    Ed25519(&'a ed25519_dalek::SigningKey),
    Hmac(&'a [u8]),
}

impl core::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the key itself.
        write!(f, "Signer({})", self.kind())
    }
}

/// Why a signature could not be made.
#[derive(Debug, PartialEq, Eq)]
pub enum SignError {
    /// The algorithm needs another type of key.
    AlgMismatch { alg: Algorithm, kind: &'static str },
    /// The RSA private key refused to sign.
    Rsa(rsa::Error),
    /// The HMAC secret is not usable as a key.
    HmacKey,
}

impl core::fmt::Display for SignError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SignError::AlgMismatch { alg, kind } => {
                write!(f, "algorithm `{}` does not fit a `{kind}` key", alg.name())
            }
            SignError::Rsa(e) => write!(f, "{}", e.to_string().to_lowercase()),
            SignError::HmacKey => f.write_str("unusable hmac secret"),
        }
    }
}

impl std::error::Error for SignError {}

impl Signer<'_> {
    /// The algorithm a key of this type signs with unless told otherwise.
    pub fn natural_alg(self) -> Algorithm {
        match self {
            Signer::Rsa(_) => Algorithm::RS256,
            Signer::P256(_) => Algorithm::ES256,
            Signer::P384(_) => Algorithm::ES384,
            Signer::Ed25519(_) => Algorithm::EdDSA,
            Signer::Hmac(_) => Algorithm::HS256,
        }
    }

    /// The key's type as a JWK names it (`kty`, and the curve).
    pub fn kind(self) -> &'static str {
        match self {
            Signer::Rsa(_) => "RSA",
            Signer::P256(_) => "EC P-256",
            Signer::P384(_) => "EC P-384",
            Signer::Ed25519(_) => "OKP Ed25519",
            Signer::Hmac(_) => "oct",
        }
    }

    /// Whether `alg` signs with a key of this type.
    pub fn fits(self, alg: Algorithm) -> bool {
        let key_type = match self {
            Signer::Rsa(_) => KeyType::Rsa,
            Signer::P256(_) => KeyType::P256,
            Signer::P384(_) => KeyType::P384,
            Signer::Ed25519(_) => KeyType::Ed25519,
            Signer::Hmac(_) => KeyType::Hmac,
        };
        KeyType::of(alg) == key_type
    }
}

/// A compact JWS over `header` and `payload` exactly as given (the caller writes the JSON, so
/// tests can sign duplicate members or unusual encodings): `b64(header).b64(payload).b64(sig)`.
pub fn compact(
    alg: Algorithm,
    signer: Signer<'_>,
    header: &[u8],
    payload: &[u8],
) -> Result<String, SignError> {
    let input = format!("{}.{}", b64url_encode(header), b64url_encode(payload));
    let signature = signature(alg, signer, input.as_bytes())?;
    Ok(format!("{input}.{}", b64url_encode(&signature)))
}

/// The signature of `input` (the JWS signing input) with `alg`.
pub fn signature(alg: Algorithm, signer: Signer<'_>, input: &[u8]) -> Result<Vec<u8>, SignError> {
    use Algorithm::*;
    match (signer, alg) {
        (Signer::Rsa(k), RS256) => pkcs1(k, &SHA256_PREFIX, &Sha256::digest(input)),
        (Signer::Rsa(k), RS384) => pkcs1(k, &SHA384_PREFIX, &Sha384::digest(input)),
        (Signer::Rsa(k), RS512) => pkcs1(k, &SHA512_PREFIX, &Sha512::digest(input)),
        (Signer::Rsa(k), PS256) => k
            .sign_with_rng(&mut OsRng, Pss::new::<Sha256>(), &Sha256::digest(input))
            .map_err(SignError::Rsa),
        (Signer::Rsa(k), PS384) => k
            .sign_with_rng(&mut OsRng, Pss::new::<Sha384>(), &Sha384::digest(input))
            .map_err(SignError::Rsa),
        (Signer::Rsa(k), PS512) => k
            .sign_with_rng(&mut OsRng, Pss::new::<Sha512>(), &Sha512::digest(input))
            .map_err(SignError::Rsa),
        (Signer::P256(k), ES256) => {
            use p256::ecdsa::signature::Signer as _;
            let sig: p256::ecdsa::Signature = k.sign(input);
            Ok(sig.to_bytes().to_vec())
        }
        (Signer::P384(k), ES384) => {
            use p384::ecdsa::signature::Signer as _;
            let sig: p384::ecdsa::Signature = k.sign(input);
            Ok(sig.to_bytes().to_vec())
        }
        (Signer::Ed25519(k), EdDSA) => {
            use ed25519_dalek::Signer as _;
            Ok(k.sign(input).to_bytes().to_vec())
        }
        (Signer::Hmac(k), HS256) => mac::<Hmac<Sha256>>(k, input),
        (Signer::Hmac(k), HS384) => mac::<Hmac<Sha384>>(k, input),
        (Signer::Hmac(k), HS512) => mac::<Hmac<Sha512>>(k, input),
        (signer, alg) => Err(SignError::AlgMismatch {
            alg,
            kind: signer.kind(),
        }),
    }
}

/// RSASSA-PKCS1-v1_5 with the `DigestInfo` prefix written out (see `keys.rs`).
fn pkcs1(key: &RsaPrivateKey, prefix: &[u8], hashed: &[u8]) -> Result<Vec<u8>, SignError> {
    let scheme = Pkcs1v15Sign {
        hash_len: Some(hashed.len()),
        prefix: prefix.into(),
    };
    key.sign(scheme, hashed).map_err(SignError::Rsa)
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], input: &[u8]) -> Result<Vec<u8>, SignError> {
    let mut mac = <M as Mac>::new_from_slice(key).map_err(|_| SignError::HmacKey)?;
    mac.update(input);
    Ok(mac.finalize().into_bytes().to_vec())
}
