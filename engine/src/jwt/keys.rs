//! Verification keys, decoded once when a bundle loads so that verifying a token only runs the
//! signature arithmetic.

use hmac::{Hmac, Mac};
use rsa::{BigUint, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};

use super::error::{KeyError, KeyLabel, KeyProblem};
use crate::model::{Algorithm, Curve, Jwk, KeyMaterial};
use p256_32::P256Key;
use rsa32::RsaKey;

#[path = "p256_32.rs"]
mod p256_32;
#[path = "rsa32.rs"]
mod rsa32;

/// Smallest RSA modulus accepted (NIST SP 800-131A).
const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted; bounds the cost of one verification.
const RSA_MAX_BITS: usize = 8192;
/// Smallest HMAC secret accepted: RFC 7518 section 3.2 asks for at least the hash size, and a
/// secret shorter than 256 bits is guessable offline from any captured token.
const HMAC_MIN_BYTES: usize = 32;

/// DER `DigestInfo` prefixes of RFC 8017 section 9.2, note 1. Written out because the workspace
/// builds `sha2` without its `oid` feature.
pub(super) const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
pub(super) const SHA384_PREFIX: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
pub(super) const SHA512_PREFIX: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// Verification keys prepared once at bundle load (RSA moduli parsed, EC points decoded...).
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// Errors name the offending key (kid or index) in lowercase text.
    pub fn new(jwks: &[Jwk]) -> Result<KeySet, KeyError> {
        let mut keys: Vec<Key> = Vec::with_capacity(jwks.len());
        for (index, jwk) in jwks.iter().enumerate() {
            let refused = |problem| KeyError {
                key: label(jwk, index),
                problem,
            };
            let key = Key::new(jwk).map_err(refused)?;
            if let Some(kid) = &key.kid {
                if keys.iter().any(|k| k.kid.as_ref() == Some(kid)) {
                    return Err(refused(KeyProblem::DuplicateKid));
                }
            }
            keys.push(key);
        }
        Ok(KeySet { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(super) fn by_kid(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// Keys that may verify `alg`, in configuration order.
    pub(super) fn candidates(&self, alg: Algorithm) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(move |k| k.fits(alg))
    }
}

/// Shows kids and key types, never key bytes (an HMAC secret must not reach a log).
impl core::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(
                self.keys
                    .iter()
                    .map(|k| (k.kid.as_deref(), k.material.kind())),
            )
            .finish()
    }
}

pub(super) struct Key {
    kid: Option<String>,
    /// The JWK's pinned `alg`.
    alg: Option<Algorithm>,
    material: Material,
}

enum Material {
    /// Validated by the `rsa` crate at load; verified by [`RsaKey`] (32-bit Montgomery).
    Rsa(RsaKey),
    /// Validated by the `p256` crate at load; verified by [`P256Key`] (32-bit limbs, tables).
    P256(P256Key),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Hmac(Box<HmacKeys>),
}

impl Key {
    fn new(jwk: &Jwk) -> Result<Key, KeyProblem> {
        let material = Material::new(&jwk.material)?;
        if let Some(alg) = jwk.alg {
            if !material.fits(alg) {
                return Err(KeyProblem::AlgMismatch {
                    alg,
                    kind: material.kind(),
                });
            }
        }
        Ok(Key {
            kid: jwk.kid.clone(),
            alg: jwk.alg,
            material,
        })
    }

    /// The key's type (and curve) is the one `alg` needs, and the key pins no other algorithm.
    pub(super) fn fits(&self, alg: Algorithm) -> bool {
        self.material.fits(alg) && self.alg.is_none_or(|pinned| pinned == alg)
    }

    /// Whether `signature` is a valid `alg` signature of `input` under this key. Any error,
    /// including a key that does not fit `alg`, is `false`.
    pub(super) fn verify(&self, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match (&self.material, alg) {
            (Material::Hmac(k), Algorithm::HS256) => hmac(&k.sha256, input, signature),
            (Material::Hmac(k), Algorithm::HS384) => hmac(&k.sha384, input, signature),
            (Material::Hmac(k), Algorithm::HS512) => hmac(&k.sha512, input, signature),
            (Material::Rsa(k), Algorithm::RS256) => {
                k.verify_pkcs1::<Sha256>(&SHA256_PREFIX, input, signature)
            }
            (Material::Rsa(k), Algorithm::RS384) => {
                k.verify_pkcs1::<Sha384>(&SHA384_PREFIX, input, signature)
            }
            (Material::Rsa(k), Algorithm::RS512) => {
                k.verify_pkcs1::<Sha512>(&SHA512_PREFIX, input, signature)
            }
            // Salt length = hash length, as RFC 7518 section 3.5 fixes.
            (Material::Rsa(k), Algorithm::PS256) => k.verify_pss::<Sha256>(input, signature),
            (Material::Rsa(k), Algorithm::PS384) => k.verify_pss::<Sha384>(input, signature),
            (Material::Rsa(k), Algorithm::PS512) => k.verify_pss::<Sha512>(input, signature),
            // JOSE ECDSA signatures are raw r || s (RFC 7518 section 3.4), never DER.
            (Material::P256(k), Algorithm::ES256) => k.verify(input, signature),
            (Material::P384(k), Algorithm::ES384) => {
                use p384::ecdsa::signature::Verifier as _;
                p384::ecdsa::Signature::from_slice(signature)
                    .is_ok_and(|sig| k.verify(input, &sig).is_ok())
            }
            (Material::Ed25519(k), Algorithm::EdDSA) => {
                // Strict: rejects non-canonical encodings and small-order points (malleability).
                ed25519_dalek::Signature::from_slice(signature)
                    .is_ok_and(|sig| k.verify_strict(input, &sig).is_ok())
            }
            _ => false,
        }
    }
}

impl Material {
    fn new(material: &KeyMaterial) -> Result<Material, KeyProblem> {
        match material {
            KeyMaterial::Rsa { n, e } => {
                let (n_be, e_be) = (n, e);
                let n = BigUint::from_bytes_be(n);
                let bits = n.bits();
                if bits < RSA_MIN_BITS {
                    return Err(KeyProblem::RsaTooSmall {
                        bits,
                        min: RSA_MIN_BITS,
                    });
                }
                RsaPublicKey::new_with_max_size(n, BigUint::from_bytes_be(e), RSA_MAX_BITS)
                    .map_err(|e| KeyProblem::RsaInvalid(rsa_refusal(&e)))?;
                let n_be: &[u8] = n_be;
                RsaKey::new(n_be, e_be)
                    .map(Material::Rsa)
                    .ok_or(KeyProblem::RsaInvalid("even modulus"))
            }
            KeyMaterial::Ec { curve, x, y } => {
                let size = match curve {
                    Curve::P256 => 32,
                    Curve::P384 => 48,
                };
                if x.len() != size || y.len() != size {
                    return Err(KeyProblem::EcCoordinates {
                        size,
                        x: x.len(),
                        y: y.len(),
                    });
                }
                let mut sec1 = Vec::with_capacity(1 + 2 * size);
                sec1.push(0x04);
                sec1.extend_from_slice(x);
                sec1.extend_from_slice(y);
                let bad = |_| KeyProblem::EcOffCurve;
                match curve {
                    Curve::P256 => {
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(bad)?;
                        match (x.as_slice().try_into(), y.as_slice().try_into()) {
                            (Ok(x), Ok(y)) => P256Key::new(x, y)
                                .map(Material::P256)
                                .ok_or(KeyProblem::EcOffCurve),
                            _ => Err(KeyProblem::EcOffCurve),
                        }
                    }
                    Curve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                        .map(Material::P384)
                        .map_err(bad),
                }
            }
            KeyMaterial::Ed25519 { x } => {
                let bytes: &[u8; 32] = x
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyProblem::Ed25519Length(x.len()))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
                    .map_err(|_| KeyProblem::Ed25519Invalid)?;
                if key.is_weak() {
                    return Err(KeyProblem::Ed25519SmallOrder);
                }
                Ok(Material::Ed25519(key))
            }
            KeyMaterial::Symmetric { k } => {
                if k.len() < HMAC_MIN_BYTES {
                    return Err(KeyProblem::HmacTooShort {
                        len: k.len(),
                        min: HMAC_MIN_BYTES,
                    });
                }
                let new = |_| KeyProblem::HmacInvalid;
                Ok(Material::Hmac(Box::new(HmacKeys {
                    sha256: <Hmac<Sha256> as Mac>::new_from_slice(k).map_err(new)?,
                    sha384: <Hmac<Sha384> as Mac>::new_from_slice(k).map_err(new)?,
                    sha512: <Hmac<Sha512> as Mac>::new_from_slice(k).map_err(new)?,
                })))
            }
        }
    }

    fn fits(&self, alg: Algorithm) -> bool {
        let key_type = match self {
            Material::Rsa(_) => KeyType::Rsa,
            Material::P256(_) => KeyType::P256,
            Material::P384(_) => KeyType::P384,
            Material::Ed25519(_) => KeyType::Ed25519,
            Material::Hmac(_) => KeyType::Hmac,
        };
        KeyType::of(alg) == key_type
    }

    fn kind(&self) -> &'static str {
        match self {
            Material::Rsa(_) => "rsa",
            Material::P256(_) => "ec p-256",
            Material::P384(_) => "ec p-384",
            Material::Ed25519(_) => "ed25519",
            Material::Hmac(_) => "hmac",
        }
    }
}

/// The type (and curve) of key an algorithm signs and verifies with: for verification keys here,
/// and for signing keys in `sign.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
    Hmac,
}

impl KeyType {
    pub(super) fn of(alg: Algorithm) -> KeyType {
        use Algorithm::*;
        match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => KeyType::Rsa,
            ES256 => KeyType::P256,
            ES384 => KeyType::P384,
            EdDSA => KeyType::Ed25519,
            HS256 | HS384 | HS512 => KeyType::Hmac,
        }
    }
}

fn label(jwk: &Jwk, index: usize) -> KeyLabel {
    match &jwk.kid {
        Some(kid) => KeyLabel::Kid(kid.clone()),
        None => KeyLabel::Index(index),
    }
}

/// What the RSA public key check refuses, in its own words (lowercase). `new_with_max_size`
/// returns only the first five; the rest are named for completeness.
fn rsa_refusal(error: &rsa::Error) -> &'static str {
    match error {
        rsa::Error::ModulusTooLarge => "modulus too large",
        rsa::Error::PublicExponentTooLarge => "public exponent too large",
        rsa::Error::PublicExponentTooSmall => "public exponent too small",
        rsa::Error::InvalidModulus => "invalid modulus",
        rsa::Error::InvalidExponent => "invalid exponent",
        _ => "refused by the rsa public key check",
    }
}

/// HMAC states with the padded secret already absorbed (inner and outer), built once per key:
/// a verification clones one instead of hashing the two padded key blocks again.
struct HmacKeys {
    sha256: Hmac<Sha256>,
    sha384: Hmac<Sha384>,
    sha512: Hmac<Sha512>,
}

/// Constant-time comparison (`verify_slice` uses `subtle`); a tag of the wrong length fails.
fn hmac<M: Mac + Clone>(keyed: &M, input: &[u8], tag: &[u8]) -> bool {
    let mut mac = keyed.clone();
    mac.update(input);
    mac.verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{jwk, keys, Signer};
    use super::*;

    fn err(jwks: &[Jwk]) -> String {
        KeySet::new(jwks).err().unwrap().to_string()
    }

    #[test]
    fn small_or_oversized_rsa_keys_are_rejected() {
        let small = Jwk {
            kid: Some("old".into()),
            alg: None,
            material: KeyMaterial::Rsa {
                n: vec![0xff; 128],
                e: vec![1, 0, 1],
            },
        };
        let e = err(std::slice::from_ref(&small));
        assert!(e.starts_with("key `old`: rsa modulus of 1024 bits"), "{e}");
        let huge = Jwk {
            material: KeyMaterial::Rsa {
                n: vec![0xff; 1025],
                e: vec![1, 0, 1],
            },
            ..small.clone()
        };
        assert!(err(&[huge]).starts_with("key `old`: invalid rsa public key"));
        let bad_e = Jwk {
            material: KeyMaterial::Rsa {
                n: vec![0xff; 256],
                e: vec![1],
            },
            kid: None,
            ..small
        };
        assert!(err(&[bad_e]).starts_with("key #0: invalid rsa public key"));
    }

    #[test]
    fn invalid_points_and_sizes_are_rejected() {
        let k = keys();
        let good = jwk(Some("p256"), Signer::P256(&k.p256));
        let KeyMaterial::Ec { x, y, .. } = &good.material else {
            unreachable!()
        };
        let mut off_curve = y.clone();
        off_curve[31] ^= 1;
        let cases = [
            (
                KeyMaterial::Ec {
                    curve: Curve::P256,
                    x: x.clone(),
                    y: off_curve,
                },
                "not on the curve",
            ),
            (
                KeyMaterial::Ec {
                    curve: Curve::P384,
                    x: x.clone(),
                    y: y.clone(),
                },
                "48 bytes",
            ),
            (
                KeyMaterial::Ec {
                    curve: Curve::P256,
                    x: x[1..].to_vec(),
                    y: y.clone(),
                },
                "32 bytes",
            ),
            (KeyMaterial::Ed25519 { x: vec![7; 31] }, "32 bytes"),
            // The identity point: small order.
            (
                KeyMaterial::Ed25519 {
                    x: {
                        let mut b = vec![0; 32];
                        b[0] = 1;
                        b
                    },
                },
                "small-order",
            ),
            (
                KeyMaterial::Symmetric { k: vec![1; 31] },
                "under the minimum",
            ),
        ];
        for (material, expected) in cases {
            let e = err(&[
                good.clone(),
                Jwk {
                    kid: None,
                    alg: None,
                    material,
                },
            ]);
            assert!(e.starts_with("key #1: ") && e.contains(expected), "{e}");
        }
    }

    #[test]
    fn duplicate_kids_and_mismatched_pins_are_rejected() {
        let k = keys();
        let a = jwk(Some("same"), Signer::P256(&k.p256));
        let b = jwk(Some("same"), Signer::Ed25519(&k.ed25519));
        assert_eq!(err(&[a.clone(), b]), "key `same`: duplicate kid");
        let pinned = Jwk {
            alg: Some(Algorithm::ES384),
            ..a.clone()
        };
        assert_eq!(
            err(&[pinned]),
            "key `same`: `alg` ES384 does not fit a ec p-256 key"
        );
        let hs_on_rsa = Jwk {
            alg: Some(Algorithm::HS256),
            ..jwk(None, Signer::Rsa(&k.rsa))
        };
        assert_eq!(
            err(&[hs_on_rsa]),
            "key #0: `alg` HS256 does not fit a rsa key"
        );
        // Kid-less keys may repeat.
        let set = KeySet::new(&[
            jwk(None, Signer::P256(&k.p256)),
            jwk(None, Signer::P256(&k.p256)),
        ]);
        assert!(set.is_ok());
    }

    #[test]
    fn keys_fit_only_their_algorithms() {
        let k = keys();
        let set = KeySet::new(&k.jwks()).unwrap();
        for alg in Algorithm::ALL {
            let kids: Vec<_> = set
                .candidates(alg)
                .map(|key| key.kid.clone().unwrap())
                .collect();
            let expected: &[&str] = match alg {
                Algorithm::ES256 => &["p256", "p256-other"],
                Algorithm::ES384 => &["p384"],
                Algorithm::EdDSA => &["ed25519"],
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => &["hmac"],
                _ => &["rsa"],
            };
            assert_eq!(kids, expected, "{alg:?}");
        }
    }
}
