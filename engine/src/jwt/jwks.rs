//! RFC 7517 JWK Sets to model keys.

use serde_json::{Map, Value};

use super::error::{JwksError, KeyLabel, MemberProblem};
use super::json;
use super::KeySet;
use crate::model::{Algorithm, Curve, Jwk, KeyMaterial};

/// Members that only private (or symmetric-for-encryption) keys carry. A verifier must never hold
/// a private key: if one is configured, the set was copied from the wrong place.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Parse an RFC 7517 JWK Set (JSON text) into model keys. Rejects private asymmetric keys
/// (members `d`, `p`, `q`, ...), unknown `kty`/`crv`, bad base64url, duplicate `kid`s. `oct` keys
/// become `KeyMaterial::Symmetric` (explicit HMAC secrets). Keys with `use: "enc"` are rejected.
///
/// The result is also checked with [`KeySet::new`], so a set that parses is a set that loads.
pub fn parse_jwks(json: &str) -> Result<Vec<Jwk>, JwksError> {
    let set = json::object(json.as_bytes()).ok_or(JwksError::NotObject)?;
    let keys = match set.get("keys") {
        Some(Value::Array(keys)) => keys,
        Some(_) => return Err(JwksError::KeysNotArray),
        None => return Err(JwksError::NoKeys),
    };
    let mut out: Vec<Jwk> = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let Value::Object(key) = key else {
            return Err(JwksError::KeyNotObject(index));
        };
        let label = match key.get("kid") {
            Some(Value::String(kid)) => KeyLabel::Kid(kid.clone()),
            _ => KeyLabel::Index(index),
        };
        let jwk = parse_key(key).map_err(|problem| JwksError::Member {
            key: label.clone(),
            problem,
        })?;
        if let Some(kid) = &jwk.kid {
            if out.iter().any(|k| k.kid.as_ref() == Some(kid)) {
                return Err(JwksError::Member {
                    key: label,
                    problem: MemberProblem::DuplicateKid,
                });
            }
        }
        out.push(jwk);
    }
    KeySet::new(&out)?;
    Ok(out)
}

fn parse_key(key: &Map<String, Value>) -> Result<Jwk, MemberProblem> {
    let kid = match key.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(MemberProblem::NotString("kid")),
    };
    match key.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(Value::String(u)) => return Err(MemberProblem::Use(u.clone())),
        Some(_) => return Err(MemberProblem::NotString("use")),
    }
    match key.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|op| op.as_str() == Some("verify")) => {}
        Some(_) => return Err(MemberProblem::KeyOps),
    }
    let alg = match key.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(
            Algorithm::from_name(name)
                .ok_or_else(|| MemberProblem::UnsupportedAlg(name.clone()))?,
        ),
        Some(_) => return Err(MemberProblem::NotString("alg")),
    };
    let kty = match key.get("kty") {
        Some(Value::String(kty)) => kty.as_str(),
        Some(_) => return Err(MemberProblem::NotString("kty")),
        None => return Err(MemberProblem::Missing("kty")),
    };
    if kty != "oct" {
        if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| key.contains_key(**m)) {
            return Err(MemberProblem::Private(private));
        }
    }
    let material = match kty {
        "RSA" => KeyMaterial::Rsa {
            n: bytes(key, "n")?,
            e: bytes(key, "e")?,
        },
        "EC" => {
            let curve = match string(key, "crv")? {
                "P-256" => Curve::P256,
                "P-384" => Curve::P384,
                other => {
                    return Err(MemberProblem::UnsupportedCurve {
                        crv: other.to_owned(),
                        kty: "EC",
                    })
                }
            };
            KeyMaterial::Ec {
                curve,
                x: bytes(key, "x")?,
                y: bytes(key, "y")?,
            }
        }
        "OKP" => match string(key, "crv")? {
            "Ed25519" => KeyMaterial::Ed25519 {
                x: bytes(key, "x")?,
            },
            other => {
                return Err(MemberProblem::UnsupportedCurve {
                    crv: other.to_owned(),
                    kty: "OKP",
                })
            }
        },
        "oct" => KeyMaterial::Symmetric {
            k: bytes(key, "k")?,
        },
        other => return Err(MemberProblem::UnsupportedType(other.to_owned())),
    };
    Ok(Jwk { kid, alg, material })
}

fn string<'a>(key: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, MemberProblem> {
    match key.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(MemberProblem::NotString(name)),
        None => Err(MemberProblem::Missing(name)),
    }
}

fn bytes(key: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, MemberProblem> {
    let text = string(key, name)?;
    let bytes = json::b64url(text).ok_or(MemberProblem::NotBase64url(name))?;
    if bytes.is_empty() {
        return Err(MemberProblem::Empty(name));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::json::b64url_encode;
    use super::super::test_support::{jwk, keys, Signer};
    use super::*;

    /// The test keys as RFC 7517 JSON, plus `extra` members on each.
    fn public_set() -> Value {
        let mut out = Vec::new();
        for key in keys().jwks() {
            let mut m = match key.material {
                KeyMaterial::Rsa { n, e } => {
                    json!({"kty": "RSA", "n": b64url_encode(&n), "e": b64url_encode(&e), "alg": "RS256"})
                }
                KeyMaterial::Ec { curve, x, y } => json!({
                    "kty": "EC",
                    "crv": if curve == Curve::P256 { "P-256" } else { "P-384" },
                    "x": b64url_encode(&x), "y": b64url_encode(&y), "use": "sig",
                }),
                KeyMaterial::Ed25519 { x } => {
                    json!({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(&x), "key_ops": ["verify"]})
                }
                KeyMaterial::Symmetric { k } => json!({"kty": "oct", "k": b64url_encode(&k)}),
            };
            m["kid"] = json!(key.kid);
            out.push(m);
        }
        json!({"keys": out})
    }

    #[test]
    fn parses_every_key_type() {
        let text = public_set().to_string();
        let parsed = parse_jwks(&text).unwrap();
        let mut expected = keys().jwks();
        expected[0].alg = Some(Algorithm::RS256);
        assert_eq!(parsed, expected);
        assert_eq!(parse_jwks(r#"{"keys":[]}"#), Ok(vec![]));
        // Unknown members (x5c, x5t, ...) are ignored.
        let mut set = public_set();
        set["keys"][1]["x5t"] = json!("abc");
        set["other"] = json!(true);
        assert!(parse_jwks(&set.to_string()).is_ok());
    }

    fn rejects(edit: impl Fn(&mut Value), expected: &str) {
        let mut set = public_set();
        edit(&mut set);
        let e = parse_jwks(&set.to_string()).err().unwrap().to_string();
        assert!(e.contains(expected), "{e} does not contain {expected}");
        // Lowercase, names the key, user input in backticks.
        assert!(e.starts_with("key ") || e.starts_with("jwk set "), "{e}");
    }

    #[test]
    fn rejects_private_keys() {
        for (index, member) in [(0, "d"), (0, "p"), (0, "qi"), (1, "d"), (3, "d"), (4, "d")] {
            rejects(
                |s| s["keys"][index][member] = json!("AQAB"),
                &format!("private key member `{member}`"),
            );
        }
    }

    #[test]
    fn rejects_unknown_types_curves_and_uses() {
        let member_edits = [
            (
                1,
                "crv",
                json!("P-521"),
                "key `p256`: unsupported `crv` `P-521` for `EC`",
            ),
            (
                4,
                "crv",
                json!("X25519"),
                "unsupported `crv` `X25519` for `OKP`",
            ),
            (4, "crv", json!("Ed448"), "unsupported `crv`"),
            (0, "kty", json!("rsa"), "unsupported `kty` `rsa`"),
            (1, "use", json!("enc"), "`use` is `enc`"),
            (1, "key_ops", json!(["sign"]), "`key_ops`"),
            (1, "alg", json!("ES512"), "unsupported `alg` `ES512`"),
            (1, "alg", json!("RS256"), "does not fit"),
            (1, "kid", json!(7), "key #1: `kid` is not a string"),
            (2, "kid", json!("p256"), "key `p256`: duplicate kid"),
        ];
        for (index, member, value, expected) in member_edits {
            rejects(|s| s["keys"][index][member] = value.clone(), expected);
        }
        rejects(
            |s| {
                s["keys"][0]
                    .as_object_mut()
                    .unwrap()
                    .retain(|k, _| k != "kty")
            },
            "missing `kty`",
        );
        rejects(|s| s["keys"] = json!({}), "not an array");
        rejects(|s| *s = json!({"key": []}), "no `keys` member");
        rejects(|s| s["keys"][0] = json!("RSA"), "key #0: not a json object");
    }

    #[test]
    fn rejects_bad_base64url() {
        let rsa = keys().jwks().remove(0);
        let KeyMaterial::Rsa { n, .. } = rsa.material else {
            unreachable!()
        };
        let standard = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &n);
        rejects(
            |s| s["keys"][0]["n"] = json!(standard.clone()),
            "`n` is not unpadded base64url",
        );
        rejects(
            |s| s["keys"][0]["e"] = json!("AQAB=="),
            "`e` is not unpadded base64url",
        );
        rejects(|s| s["keys"][5]["k"] = json!(""), "`k` is empty");
        rejects(|s| s["keys"][1]["x"] = json!(null), "`x` is not a string");
        rejects(
            |s| {
                s["keys"][1]
                    .as_object_mut()
                    .unwrap()
                    .retain(|k, _| k != "y")
            },
            "missing `y`",
        );
    }

    #[test]
    fn rejects_duplicate_members_and_bad_json() {
        let x = b64url_encode(&[9; 32]);
        let dup = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","x":"{x}"}}]}}"#);
        assert!(parse_jwks(&dup).is_err());
        assert!(parse_jwks("[]").is_err());
        assert!(parse_jwks("").is_err());
    }

    #[test]
    fn runs_key_set_checks() {
        let short = json!({"keys": [{"kty": "oct", "k": b64url_encode(b"secret"), "kid": "s"}]});
        assert_eq!(
            parse_jwks(&short.to_string()).err().unwrap().to_string(),
            "key `s`: hmac secret of 6 bytes is under the minimum of 32"
        );
        let _ = jwk(None, Signer::Hmac(&[0; 32]));
    }
}
