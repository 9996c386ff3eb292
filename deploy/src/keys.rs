//! Key generation and token minting for `gatehouse keys generate`, `gatehouse token` and tests.
//!
//! This is operator tooling, not the request path: it holds private keys. Tokens it mints are
//! verified by `gatehouse_engine::jwt` exactly like tokens from any other issuer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_engine::jwt::sign::{self, SignError, Signer};
use gatehouse_engine::model::Algorithm;
use rand::rngs::OsRng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Key types `gatehouse keys generate` can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    Es256,
    Rs256,
    EdDsa,
}

impl KeyAlg {
    /// The JOSE name, also what [`FromStr`](core::str::FromStr) accepts.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Es256 => "ES256",
            KeyAlg::Rs256 => "RS256",
            KeyAlg::EdDsa => "EdDSA",
        }
    }
}

impl core::str::FromStr for KeyAlg {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<KeyAlg, KeyError> {
        match s {
            "ES256" => Ok(KeyAlg::Es256),
            "RS256" => Ok(KeyAlg::Rs256),
            "EdDSA" => Ok(KeyAlg::EdDsa),
            other => Err(KeyError::UnsupportedKeyAlg(other.to_owned())),
        }
    }
}

impl core::fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unsupported algorithm `{0}`")]
    UnsupportedAlg(String),
    #[error("cannot generate `{0}` keys (supported: `ES256`, `RS256`, `EdDSA`)")]
    UnsupportedKeyAlg(String),
    #[error("invalid private jwk: {0}")]
    InvalidKey(String),
    #[error("algorithm `{alg}` does not fit a `{kty}` key")]
    AlgMismatch { alg: String, kty: &'static str },
    #[error("claims must be a json object")]
    ClaimsNotObject,
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// RSA modulus size of generated keys.
const RSA_BITS: usize = 2048;

/// A private JWK (JSON text, with a `kid` derived deterministically from the public key, e.g. RFC 7638 thumbprint base64url) and the public JWK Set (JSON text, same kid, `alg` and `use: sig` set).
pub fn generate(alg: KeyAlg) -> Result<(String, String), KeyError> {
    let (public, private_members) = match alg {
        KeyAlg::Es256 => {
            let key = p256::ecdsa::SigningKey::random(&mut OsRng);
            let point = key.verifying_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err(KeyError::Generate("p-256 point has no coordinates".into()));
            };
            (
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}),
                json!({"d": b64(&key.to_bytes())}),
            )
        }
        KeyAlg::Rs256 => {
            let key = RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                .map_err(|e| KeyError::Generate(e.to_string().to_lowercase()))?;
            (rsa_public(&key), rsa_private_members(&key)?)
        }
        KeyAlg::EdDsa => {
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())}),
                json!({"d": b64(key.as_bytes())}),
            )
        }
    };
    let Value::Object(mut public) = public else {
        return Err(KeyError::Generate("public key is not an object".into()));
    };
    let kid = thumbprint(&public)?;
    public.insert("kid".into(), json!(kid));
    public.insert("alg".into(), json!(alg.name()));
    public.insert("use".into(), json!("sig"));
    let mut private = public.clone();
    if let Value::Object(members) = private_members {
        private.extend(members);
    }
    let private = serde_json::to_string_pretty(&Value::Object(private))
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let set = serde_json::to_string_pretty(&json!({"keys": [Value::Object(public)]}))
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok((private, set))
}

/// A token: `claims` with `iat` = `now` and `exp` = `now + ttl` (Unix seconds) unless they are
/// given, signed with the private JWK (JSON text) under the key's own algorithm; a claim given
/// as `null` is left out (`"exp": null` mints a token without `exp`). What `gatehouse token
/// mint` and `gatehouse test` tokens are made by.
pub fn mint(
    private_jwk: &str,
    mut claims: Map<String, Value>,
    now: i64,
    ttl: i64,
) -> Result<String, KeyError> {
    claims.entry("iat").or_insert_with(|| json!(now));
    claims
        .entry("exp")
        .or_insert_with(|| json!(now.saturating_add(ttl)));
    claims.retain(|_, v| !v.is_null());
    sign_jws(private_jwk, None, &Map::new(), &Value::Object(claims))
}

/// Why a bundle signing key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("reading `{}`", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}`", path.display())]
    Invalid {
        path: std::path::PathBuf,
        #[source]
        source: JwkError,
    },
}

/// Why a JWK is not an Ed25519 private key.
#[derive(Debug, thiserror::Error)]
pub enum JwkError {
    #[error("not a JSON Web Key")]
    Json(#[source] serde_json::Error),
    #[error(
        "bundle signing keys are Ed25519 private JWKs (`gatehouse keys generate --alg EdDSA`)"
    )]
    NotEd25519,
    #[error("the JWK has no private part `d`")]
    NoPrivatePart,
    #[error("`d` is not base64url")]
    Base64(#[source] base64::DecodeError),
    #[error("`d` is not 32 bytes")]
    Length,
}

/// An Ed25519 private JWK file (`kty: OKP`, `crv: Ed25519`, `d`) as a bundle signing key
/// (`gatehouse compile --sign-key`).
pub fn read_signing_key(
    path: &std::path::Path,
) -> Result<ed25519_dalek::SigningKey, SigningKeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| SigningKeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    signing_key_from_jwk(&text).map_err(|source| SigningKeyError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// An Ed25519 private JWK (JSON text) as a bundle signing key.
pub fn signing_key_from_jwk(text: &str) -> Result<ed25519_dalek::SigningKey, JwkError> {
    let jwk: Value = serde_json::from_str(text).map_err(JwkError::Json)?;
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    if member("kty") != Some("OKP") || member("crv") != Some("Ed25519") {
        return Err(JwkError::NotEd25519);
    }
    let d = member("d").ok_or(JwkError::NoPrivatePart)?;
    let bytes = URL_SAFE_NO_PAD.decode(d).map_err(JwkError::Base64)?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| JwkError::Length)?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The claims of a control-plane token as `gatehouse token mint` writes them (`aud`: one value
/// as a string, several as an array), before its `--claim`s; [`mint`] adds `iat` and `exp`.
/// The JavaScript package's `mintToken` builds its tokens with it too.
pub fn token_claims(
    issuer: &str,
    sub: &str,
    tenant: Option<&str>,
    jti: Option<&str>,
    aud: &[String],
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("sub".into(), json!(sub));
    if let Some(tenant) = tenant {
        claims.insert("tenant".into(), json!(tenant));
    }
    if let Some(jti) = jti {
        claims.insert("jti".into(), json!(jti));
    }
    match aud {
        [] => {}
        [one] => {
            claims.insert("aud".into(), json!(one));
        }
        many => {
            claims.insert("aud".into(), json!(many));
        }
    }
    claims
}

/// Sign `claims` (a JSON object) as a compact JWS with the private JWK (JSON text: RSA with d,p,q..., EC P-256/P-384 with d, OKP Ed25519 with d, or oct with k for HS256/384/512). `header_extra` members are merged into the header (tests use this for kid tricks); alg defaults to the key's `alg` member or the natural alg of the key type; `alg` overrides.
///
/// The header is `alg`, `typ: JWT` and the key's `kid` (if any), then `header_extra` on top:
/// an extra member replaces the default one (so `{"alg": "none"}` forges the header while the
/// signature is still made with the signing algorithm), and an extra member whose value is
/// `null` removes that member (`{"kid": null}` mints a token without `kid`).
pub fn sign_jws(
    private_jwk: &str,
    alg: Option<&str>,
    header_extra: &Map<String, Value>,
    claims: &Value,
) -> Result<String, KeyError> {
    let jwk: Value = serde_json::from_str(private_jwk)
        .map_err(|e| KeyError::InvalidKey(format!("not json: {e}")))?;
    let Value::Object(jwk) = jwk else {
        return Err(KeyError::InvalidKey("not a json object".into()));
    };
    let key = PrivateKey::from_jwk(&jwk)?;
    let name = match (alg, jwk.get("alg")) {
        (Some(alg), _) => alg,
        (None, Some(Value::String(pinned))) => pinned.as_str(),
        (None, Some(_)) => return Err(KeyError::InvalidKey("`alg` is not a string".into())),
        (None, None) => key.signer().natural_alg().name(),
    };
    let alg = Algorithm::from_name(name).ok_or_else(|| KeyError::UnsupportedAlg(name.into()))?;
    if !key.signer().fits(alg) {
        return Err(KeyError::AlgMismatch {
            alg: name.into(),
            kty: key.signer().kind(),
        });
    }
    if !claims.is_object() {
        return Err(KeyError::ClaimsNotObject);
    }

    let mut header = Map::new();
    header.insert("alg".into(), json!(alg.name()));
    header.insert("typ".into(), json!("JWT"));
    match jwk.get("kid") {
        None => {}
        Some(Value::String(kid)) => {
            header.insert("kid".into(), json!(kid));
        }
        Some(_) => return Err(KeyError::InvalidKey("`kid` is not a string".into())),
    }
    for (name, value) in header_extra {
        if value.is_null() {
            header.remove(name);
        } else {
            header.insert(name.clone(), value.clone());
        }
    }
    let header =
        serde_json::to_vec(&Value::Object(header)).map_err(|e| KeyError::Sign(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
    sign::compact(alg, key.signer(), &header, &payload).map_err(|e| match e {
        SignError::AlgMismatch { alg, kind } => KeyError::AlgMismatch {
            alg: alg.name().into(),
            kty: kind,
        },
        SignError::Rsa(e) => KeyError::Sign(e.to_string().to_lowercase()),
        SignError::HmacKey => KeyError::InvalidKey("unusable hmac secret".into()),
    })
}

enum PrivateKey {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Hmac(Vec<u8>),
}

impl PrivateKey {
    fn from_jwk(jwk: &Map<String, Value>) -> Result<PrivateKey, KeyError> {
        let invalid = |m: &str| KeyError::InvalidKey(m.to_owned());
        match string(jwk, "kty")? {
            "RSA" => {
                let big = |name| bytes(jwk, name).map(|b| BigUint::from_bytes_be(&b));
                let key = RsaPrivateKey::from_components(
                    big("n")?,
                    big("e")?,
                    big("d")?,
                    vec![big("p")?, big("q")?],
                )
                .map_err(|e| KeyError::InvalidKey(e.to_string().to_lowercase()))?;
                Ok(PrivateKey::Rsa(Box::new(key)))
            }
            "EC" => {
                let d = bytes(jwk, "d")?;
                match string(jwk, "crv")? {
                    "P-256" => p256::ecdsa::SigningKey::from_slice(&d)
                        .map(PrivateKey::P256)
                        .map_err(|_| invalid("`d` is not a p-256 scalar")),
                    "P-384" => p384::ecdsa::SigningKey::from_slice(&d)
                        .map(PrivateKey::P384)
                        .map_err(|_| invalid("`d` is not a p-384 scalar")),
                    other => Err(KeyError::InvalidKey(format!("unsupported `crv` `{other}`"))),
                }
            }
            "OKP" => match string(jwk, "crv")? {
                "Ed25519" => {
                    let seed: [u8; 32] = bytes(jwk, "d")?
                        .try_into()
                        .map_err(|_| invalid("`d` is not 32 bytes"))?;
                    Ok(PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                        &seed,
                    )))
                }
                other => Err(KeyError::InvalidKey(format!("unsupported `crv` `{other}`"))),
            },
            "oct" => Ok(PrivateKey::Hmac(bytes(jwk, "k")?)),
            other => Err(KeyError::InvalidKey(format!("unsupported `kty` `{other}`"))),
        }
    }

    /// The key as the engine's signer borrows it.
    fn signer(&self) -> Signer<'_> {
        match self {
            PrivateKey::Rsa(k) => Signer::Rsa(k),
            PrivateKey::P256(k) => Signer::P256(k),
            PrivateKey::P384(k) => Signer::P384(k),
            PrivateKey::Ed25519(k) => Signer::Ed25519(k),
            PrivateKey::Hmac(k) => Signer::Hmac(k),
        }
    }
}

fn rsa_public(key: &RsaPrivateKey) -> Value {
    json!({"kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())})
}

fn rsa_private_members(key: &RsaPrivateKey) -> Result<Value, KeyError> {
    let missing = || KeyError::Generate("rsa key lacks crt values".into());
    let [p, q] = key.primes() else {
        return Err(KeyError::Generate(
            "rsa key does not have two primes".into(),
        ));
    };
    let qi = key.crt_coefficient().ok_or_else(missing)?;
    Ok(json!({
        "d": b64(&key.d().to_bytes_be()),
        "p": b64(&p.to_bytes_be()),
        "q": b64(&q.to_bytes_be()),
        "dp": b64(&key.dp().ok_or_else(missing)?.to_bytes_be()),
        "dq": b64(&key.dq().ok_or_else(missing)?.to_bytes_be()),
        "qi": b64(&qi.to_bytes_be()),
    }))
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url): the required public members in lexicographic
/// order, no whitespace. Written out by hand so it does not depend on serde_json's map order.
fn thumbprint(public: &Map<String, Value>) -> Result<String, KeyError> {
    let get = |name: &str| string(public, name).map_err(|e| KeyError::Generate(e.to_string()));
    let canonical = match get("kty")? {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, get("e")?, get("n")?),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            get("crv")?,
            get("x")?,
            get("y")?
        ),
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            get("crv")?,
            get("x")?
        ),
        other => return Err(KeyError::Generate(format!("no thumbprint for `{other}`"))),
    };
    Ok(b64(&Sha256::digest(canonical.as_bytes())))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn string<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, KeyError> {
    match jwk.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(KeyError::InvalidKey(format!("`{name}` is not a string"))),
        None => Err(KeyError::InvalidKey(format!("missing `{name}`"))),
    }
}

fn bytes(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, KeyError> {
    URL_SAFE_NO_PAD
        .decode(string(jwk, name)?)
        .map_err(|_| KeyError::InvalidKey(format!("`{name}` is not unpadded base64url")))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use gatehouse_engine::jwt::{parse_jwks, verify, KeySet, Token, Validation};
    use gatehouse_engine::Reason;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn claims() -> Value {
        json!({"iss": "https://cp.example", "sub": "user:alice@acme.com", "exp": NOW + 60, "iat": NOW})
    }

    /// RSA keygen is slow in debug builds: once per test binary.
    fn rsa_pair() -> &'static (String, String) {
        static PAIR: OnceLock<(String, String)> = OnceLock::new();
        PAIR.get_or_init(|| generate(KeyAlg::Rs256).unwrap())
    }

    fn pair(alg: KeyAlg) -> (String, String) {
        match alg {
            KeyAlg::Rs256 => rsa_pair().clone(),
            other => generate(other).unwrap(),
        }
    }

    fn check(token: &str, public_set: &str) -> Result<(), Reason> {
        let keys = KeySet::new(&parse_jwks(public_set).unwrap()).unwrap();
        let token = Token::parse(token)?;
        verify(
            &token,
            &Validation {
                keys: &keys,
                algorithms: &[],
                audiences: &[],
                clock_skew_seconds: 0,
                now: NOW,
            },
        )
    }

    /// The public set for a private JWK made here: private members dropped, `alg` unpinned.
    fn public_of(private: &str) -> String {
        let mut jwk: Map<String, Value> = serde_json::from_str(private).unwrap();
        for member in ["d", "p", "q", "dp", "dq", "qi", "alg"] {
            jwk.remove(member);
        }
        json!({"keys": [jwk]}).to_string()
    }

    #[test]
    fn generated_keys_round_trip_through_the_engine() {
        for alg in [KeyAlg::Es256, KeyAlg::Rs256, KeyAlg::EdDsa] {
            let (private, public) = pair(alg);
            let token = sign_jws(&private, None, &Map::new(), &claims()).unwrap();
            assert_eq!(check(&token, &public), Ok(()), "{alg}");
            let parsed = Token::parse(&token).unwrap();
            assert_eq!(parsed.algorithm().name(), alg.name());

            let public: Value = serde_json::from_str(&public).unwrap();
            let key = &public["keys"][0];
            let private: Value = serde_json::from_str(&private).unwrap();
            assert_eq!(key["kid"], private["kid"]);
            assert_eq!(key["alg"], json!(alg.name()));
            assert_eq!(key["use"], json!("sig"));
            assert!(key.get("d").is_none(), "{alg}: public set leaks `d`");
            // Tampering is caught.
            let tampered = sign_jws(
                &generate(KeyAlg::Es256).unwrap().0,
                Some("ES256"),
                &Map::from_iter([("kid".to_owned(), key["kid"].clone())]),
                &claims(),
            )
            .unwrap();
            let expected = if alg == KeyAlg::Es256 {
                Reason::SignatureInvalid
            } else {
                Reason::AlgNotAllowed
            };
            assert_eq!(
                check(&tampered, &public.to_string()),
                Err(expected),
                "{alg}"
            );
        }
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        // RFC 7638 section 3.1 example.
        let public = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29",
        });
        let Value::Object(public) = public else {
            unreachable!()
        };
        assert_eq!(
            thumbprint(&public).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // Deterministic: the kid of a generated key is its thumbprint.
        let (private, _) = pair(KeyAlg::EdDsa);
        let private: Map<String, Value> = serde_json::from_str(&private).unwrap();
        assert_eq!(private["kid"], json!(thumbprint(&private).unwrap()));
    }

    #[test]
    fn signs_every_algorithm() {
        let (rsa, _) = rsa_pair();
        let p384 = p384::ecdsa::SigningKey::random(&mut OsRng);
        let point = p384.verifying_key().to_encoded_point(false);
        let ec384 = json!({
            "kty": "EC", "crv": "P-384", "kid": "p384",
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()), "d": b64(&p384.to_bytes()),
        })
        .to_string();
        let oct = json!({"kty": "oct", "kid": "h", "k": b64(&[7u8; 64])}).to_string();
        let (es256, _) = pair(KeyAlg::Es256);
        let (eddsa, _) = pair(KeyAlg::EdDsa);
        for alg in Algorithm::ALL {
            let private = match alg {
                Algorithm::ES256 => &es256,
                Algorithm::ES384 => &ec384,
                Algorithm::EdDSA => &eddsa,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => &oct,
                _ => rsa,
            };
            let token = sign_jws(private, Some(alg.name()), &Map::new(), &claims()).unwrap();
            assert_eq!(Token::parse(&token).unwrap().algorithm(), alg);
            assert_eq!(check(&token, &public_of(private)), Ok(()), "{alg:?}");
        }
        // Defaults: the key's `alg` member, else the natural algorithm of the key type.
        let t = sign_jws(&ec384, None, &Map::new(), &claims()).unwrap();
        assert_eq!(Token::parse(&t).unwrap().algorithm(), Algorithm::ES384);
        let t = sign_jws(&oct, None, &Map::new(), &claims()).unwrap();
        assert_eq!(Token::parse(&t).unwrap().algorithm(), Algorithm::HS256);
    }

    #[test]
    fn header_extra_is_merged() {
        let (private, public) = pair(KeyAlg::EdDsa);
        let extra = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let header_of = |t: &str| -> Value {
            let h = t.split('.').next().unwrap();
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
        };
        let t = sign_jws(&private, None, &extra(json!({"kid": "other"})), &claims()).unwrap();
        assert_eq!(header_of(&t)["kid"], json!("other"));
        assert_eq!(check(&t, &public), Err(Reason::KeyUnknown));
        let t = sign_jws(&private, None, &extra(json!({"kid": null})), &claims()).unwrap();
        assert!(header_of(&t).get("kid").is_none());
        assert_eq!(check(&t, &public), Ok(()));
        let t = sign_jws(&private, None, &extra(json!({"alg": "none"})), &claims()).unwrap();
        assert_eq!(check(&t, &public), Err(Reason::AlgNotAllowed));
        let t = sign_jws(&private, None, &extra(json!({"crit": ["exp"]})), &claims()).unwrap();
        assert_eq!(check(&t, &public), Err(Reason::TokenMalformed));
    }

    #[test]
    fn errors() {
        let (private, _) = pair(KeyAlg::EdDsa);
        let none = Map::new();
        let e = sign_jws(&private, Some("ES256"), &none, &claims()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "algorithm `ES256` does not fit a `OKP Ed25519` key"
        );
        let e = sign_jws(&private, Some("none"), &none, &claims()).unwrap_err();
        assert_eq!(e.to_string(), "unsupported algorithm `none`");
        let e = sign_jws(&private, None, &none, &json!(["x"])).unwrap_err();
        assert_eq!(e.to_string(), "claims must be a json object");
        let e = sign_jws("{", None, &none, &claims()).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid private jwk: not json"),
            "{e}"
        );
        let e = sign_jws(
            r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#,
            None,
            &none,
            &claims(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "invalid private jwk: missing `d`");
        let e = "ES512".parse::<KeyAlg>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot generate `ES512` keys (supported: `ES256`, `RS256`, `EdDSA`)"
        );
        for alg in [KeyAlg::Es256, KeyAlg::Rs256, KeyAlg::EdDsa] {
            assert_eq!(alg.name().parse::<KeyAlg>().unwrap(), alg);
        }
    }
}
