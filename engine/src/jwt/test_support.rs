//! Keys and tokens for the tests of `jwt` and its submodules, signed by [`super::sign`].

use std::sync::OnceLock;

use rand::rngs::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

use crate::model::{Algorithm, Curve, Jwk, KeyMaterial};

pub(crate) use super::sign::Signer;

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
    super::sign::compact(alg, signer, header, payload).unwrap()
}

/// The signature of `input`; the test's signer must fit `alg`.
pub(crate) fn signature(alg: Algorithm, signer: Signer<'_>, input: &[u8]) -> Vec<u8> {
    super::sign::signature(alg, signer, input).unwrap()
}

/// Claims valid at [`NOW`].
pub(crate) fn claims() -> Value {
    json!({"iss": "https://issuer.example", "sub": "user:alice@acme.com", "exp": NOW + 300, "iat": NOW})
}

pub(crate) const NOW: i64 = 1_700_000_000;
