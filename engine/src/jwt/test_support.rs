//! Keys and hand-signed tokens for the tests of `jwt` and its submodules.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::json::b64url_encode;
use crate::model::{Algorithm, Curve, Jwk, KeyMaterial};

/// One signing key of each kind, generated once per test binary (RSA keygen is slow in debug).
pub(crate) struct Keys {
    pub rsa: RsaPrivateKey,
    pub p256: p256::ecdsa::SigningKey,
    pub p256_other: p256::ecdsa::SigningKey,
    pub p384: p384::ecdsa::SigningKey,
    pub ed25519: ed25519_dalek::SigningKey,
    pub hmac: Vec<u8>,
}

pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: RsaPrivateKey::new(&mut OsRng, 2048).unwrap(),
        p256: p256::ecdsa::SigningKey::random(&mut OsRng),
        p256_other: p256::ecdsa::SigningKey::random(&mut OsRng),
        p384: p384::ecdsa::SigningKey::random(&mut OsRng),
        ed25519: ed25519_dalek::SigningKey::generate(&mut OsRng),
        hmac: (0u8..48).collect(),
    })
}

/// What signs a test token.
#[derive(Clone, Copy)]
pub(crate) enum Signer<'a> {
    Rsa(&'a RsaPrivateKey),
    P256(&'a p256::ecdsa::SigningKey),
    P384(&'a p384::ecdsa::SigningKey),
    Ed25519(&'a ed25519_dalek::SigningKey),
    Hmac(&'a [u8]),
}

impl Keys {
    /// The natural test signer for `alg`.
    pub fn signer(&self, alg: Algorithm) -> Signer<'_> {
        use Algorithm::*;
        match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Signer::Rsa(&self.rsa),
            ES256 => Signer::P256(&self.p256),
            ES384 => Signer::P384(&self.p384),
            EdDSA => Signer::Ed25519(&self.ed25519),
            HS256 | HS384 | HS512 => Signer::Hmac(&self.hmac),
        }
    }

    /// Public JWKs of every key, kids `rsa`, `p256`, `p256-other`, `p384`, `ed25519`, `hmac`.
    pub fn jwks(&self) -> Vec<Jwk> {
        vec![
            jwk(Some("rsa"), Signer::Rsa(&self.rsa)),
            jwk(Some("p256"), Signer::P256(&self.p256)),
            jwk(Some("p256-other"), Signer::P256(&self.p256_other)),
            jwk(Some("p384"), Signer::P384(&self.p384)),
            jwk(Some("ed25519"), Signer::Ed25519(&self.ed25519)),
            jwk(Some("hmac"), Signer::Hmac(&self.hmac)),
        ]
    }
}

pub(crate) fn jwk(kid: Option<&str>, signer: Signer<'_>) -> Jwk {
    let material = match signer {
        Signer::Rsa(k) => KeyMaterial::Rsa {
            n: k.n().to_bytes_be(),
            e: k.e().to_bytes_be(),
        },
        Signer::P256(k) => {
            let point = k.verifying_key().to_encoded_point(false);
            KeyMaterial::Ec {
                curve: Curve::P256,
                x: point.x().unwrap().to_vec(),
                y: point.y().unwrap().to_vec(),
            }
        }
        Signer::P384(k) => {
            let point = k.verifying_key().to_encoded_point(false);
            KeyMaterial::Ec {
                curve: Curve::P384,
                x: point.x().unwrap().to_vec(),
                y: point.y().unwrap().to_vec(),
            }
        }
        Signer::Ed25519(k) => KeyMaterial::Ed25519 {
            x: k.verifying_key().to_bytes().to_vec(),
        },
        Signer::Hmac(k) => KeyMaterial::Symmetric { k: k.to_vec() },
    };
    Jwk {
        kid: kid.map(str::to_owned),
        alg: None,
        material,
    }
}

/// Signs `header` and `claims` (any JSON, serialized compactly) as a compact JWS with `alg`.
pub(crate) fn sign(alg: Algorithm, signer: Signer<'_>, header: &Value, claims: &Value) -> String {
    sign_raw(
        alg,
        signer,
        &serde_json::to_vec(header).unwrap(),
        &serde_json::to_vec(claims).unwrap(),
    )
}

/// Like [`sign`] over raw header and payload bytes (for duplicate-member and encoding tests).
pub(crate) fn sign_raw(
    alg: Algorithm,
    signer: Signer<'_>,
    header: &[u8],
    payload: &[u8],
) -> String {
    let input = format!("{}.{}", b64url_encode(header), b64url_encode(payload));
    let signature = signature(alg, signer, input.as_bytes());
    format!("{input}.{}", b64url_encode(&signature))
}

pub(crate) fn signature(alg: Algorithm, signer: Signer<'_>, input: &[u8]) -> Vec<u8> {
    use Algorithm::*;
    match (alg, signer) {
        (HS256, Signer::Hmac(k)) => mac::<Hmac<Sha256>>(k, input),
        (HS384, Signer::Hmac(k)) => mac::<Hmac<Sha384>>(k, input),
        (HS512, Signer::Hmac(k)) => mac::<Hmac<Sha512>>(k, input),
        (RS256, Signer::Rsa(k)) => pkcs1(k, &super::keys::SHA256_PREFIX, &Sha256::digest(input)),
        (RS384, Signer::Rsa(k)) => pkcs1(k, &super::keys::SHA384_PREFIX, &Sha384::digest(input)),
        (RS512, Signer::Rsa(k)) => pkcs1(k, &super::keys::SHA512_PREFIX, &Sha512::digest(input)),
        (PS256, Signer::Rsa(k)) => k
            .sign_with_rng(&mut OsRng, Pss::new::<Sha256>(), &Sha256::digest(input))
            .unwrap(),
        (PS384, Signer::Rsa(k)) => k
            .sign_with_rng(&mut OsRng, Pss::new::<Sha384>(), &Sha384::digest(input))
            .unwrap(),
        (PS512, Signer::Rsa(k)) => k
            .sign_with_rng(&mut OsRng, Pss::new::<Sha512>(), &Sha512::digest(input))
            .unwrap(),
        (ES256, Signer::P256(k)) => {
            use p256::ecdsa::signature::Signer as _;
            let sig: p256::ecdsa::Signature = k.sign(input);
            sig.to_bytes().to_vec()
        }
        (ES384, Signer::P384(k)) => {
            use p384::ecdsa::signature::Signer as _;
            let sig: p384::ecdsa::Signature = k.sign(input);
            sig.to_bytes().to_vec()
        }
        (EdDSA, Signer::Ed25519(k)) => {
            use ed25519_dalek::Signer as _;
            k.sign(input).to_bytes().to_vec()
        }
        (alg, _) => panic!("test signer does not fit {alg:?}"),
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = <M as Mac>::new_from_slice(key).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

fn pkcs1(key: &RsaPrivateKey, prefix: &[u8], hashed: &[u8]) -> Vec<u8> {
    let scheme = Pkcs1v15Sign {
        hash_len: Some(hashed.len()),
        prefix: prefix.into(),
    };
    key.sign(scheme, hashed).unwrap()
}

/// Claims valid at [`NOW`].
pub(crate) fn claims() -> Value {
    json!({"iss": "https://issuer.example", "sub": "user:alice@acme.com", "exp": NOW + 300, "iat": NOW})
}

pub(crate) const NOW: i64 = 1_700_000_000;
