//! Token parsing and verification against hand-signed tokens of every algorithm.

use serde_json::{json, Value};

use super::json::b64url_encode;
use super::test_support::{claims, jwk, keys, sign, sign_raw, signature, Signer, NOW};
use super::*;
use crate::model::{Jwk, KeyMaterial};

fn validation(keys: &KeySet) -> Validation<'_> {
    Validation {
        keys,
        algorithms: &[],
        audiences: &[],
        clock_skew_seconds: 0,
        now: NOW,
    }
}

fn all_keys() -> KeySet {
    KeySet::new(&keys().jwks()).unwrap()
}

/// Parses and verifies against every test key, no allow-list, no audiences.
fn check(token: &str) -> Result<(), Reason> {
    let set = all_keys();
    verify(&Token::parse(token)?, &validation(&set))
}

fn token(alg: Algorithm, header: Value, claims: Value) -> String {
    sign(alg, keys().signer(alg), &header, &claims)
}

fn kid_for(alg: Algorithm) -> &'static str {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => "rsa",
        ES256 => "p256",
        ES384 => "p384",
        EdDSA => "ed25519",
        HS256 | HS384 | HS512 => "hmac",
    }
}

#[test]
fn every_algorithm_verifies_with_and_without_kid() {
    for alg in Algorithm::ALL {
        let with_kid = token(
            alg,
            json!({"alg": alg.name(), "kid": kid_for(alg)}),
            claims(),
        );
        assert_eq!(check(&with_kid), Ok(()), "{alg:?} with kid");
        let parsed = Token::parse(&with_kid).unwrap();
        assert_eq!(parsed.algorithm(), alg);
        assert_eq!(parsed.issuer(), Ok(Some("https://issuer.example")));

        let without_kid = token(alg, json!({"alg": alg.name(), "typ": "JWT"}), claims());
        assert_eq!(check(&without_kid), Ok(()), "{alg:?} without kid");
    }
}

#[test]
fn every_algorithm_rejects_a_tampered_payload() {
    for alg in Algorithm::ALL {
        let good = token(alg, json!({"alg": alg.name()}), claims());
        let other = token(alg, json!({"alg": alg.name()}), json!({"exp": NOW + 1000}));
        let mut parts: Vec<&str> = good.split('.').collect();
        parts[1] = other.split('.').nth(1).unwrap();
        assert_eq!(
            check(&parts.join(".")),
            Err(Reason::SignatureInvalid),
            "{alg:?}"
        );
    }
}

/// RFC 7515 appendix A.2: an RS256 signature made by another implementation, which also
/// checks the hand-written DigestInfo prefix.
#[test]
fn rfc7515_rs256_example() {
    let n = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    let jws = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    let set = parse_jwks(&format!(
        r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"AQAB"}}]}}"#
    ))
    .unwrap();
    let set = KeySet::new(&set).unwrap();
    let token = Token::parse(jws).unwrap();
    assert_eq!(token.issuer(), Ok(Some("joe")));
    assert_eq!(
        token.claims().boolean("http://example.com/is_root"),
        Ok(Some(true))
    );
    let mut v = validation(&set);
    v.now = 1_300_819_379;
    assert_eq!(verify(&token, &v), Ok(()));
    v.now = 1_300_819_380;
    assert_eq!(verify(&token, &v), Err(Reason::TokenExpired));
    // Same signature, RS384 header: wrong hash, so invalid (and PS256: wrong padding).
    for alg in ["RS384", "PS256"] {
        let header = b64url_encode(format!(r#"{{"alg":"{alg}"}}"#).as_bytes());
        let (_, rest) = jws.split_once('.').unwrap();
        let forged = format!("{header}.{rest}");
        let forged = Token::parse(&forged).unwrap();
        v.now = 1_300_819_379;
        assert_eq!(verify(&forged, &v), Err(Reason::SignatureInvalid), "{alg}");
    }
}

#[test]
fn alg_none_in_any_casing_is_not_allowed() {
    let payload = b64url_encode(&serde_json::to_vec(&claims()).unwrap());
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = b64url_encode(format!(r#"{{"alg":"{none}"}}"#).as_bytes());
        for sig in ["", "c2ln"] {
            let token = format!("{header}.{payload}.{sig}");
            assert_eq!(
                Token::parse(&token).err(),
                Some(Reason::AlgNotAllowed),
                "{none}"
            );
        }
        // The unsecured form with only two segments is not even a JWS.
        assert_eq!(
            Token::parse(&format!("{header}.{payload}")).err(),
            Some(Reason::TokenMalformed)
        );
    }
}

#[test]
fn unknown_algorithms_are_not_allowed() {
    for name in [
        "rs256", "Rs256", "HS1", "ES512", "ES256K", "EdDsa", "Ed25519", "RSA-OAEP", "",
    ] {
        let t = sign(
            Algorithm::HS256,
            keys().signer(Algorithm::HS256),
            &json!({"alg": name}),
            &claims(),
        );
        assert_eq!(
            Token::parse(&t).err(),
            Some(Reason::AlgNotAllowed),
            "{name}"
        );
    }
    for header in [
        json!({}),
        json!({"alg": null}),
        json!({"alg": 256}),
        json!({"alg": ["HS256"]}),
    ] {
        let t = sign(
            Algorithm::HS256,
            keys().signer(Algorithm::HS256),
            &header,
            &claims(),
        );
        assert_eq!(
            Token::parse(&t).err(),
            Some(Reason::TokenMalformed),
            "{header}"
        );
    }
}

#[test]
fn allow_list_is_enforced_before_any_key_is_used() {
    let set = all_keys();
    let t = token(
        Algorithm::RS256,
        json!({"alg": "RS256", "kid": "rsa"}),
        claims(),
    );
    let parsed = Token::parse(&t).unwrap();
    let mut v = validation(&set);
    v.algorithms = &[Algorithm::ES256, Algorithm::PS256];
    assert_eq!(verify(&parsed, &v), Err(Reason::AlgNotAllowed));
    v.algorithms = &[Algorithm::ES256, Algorithm::RS256];
    assert_eq!(verify(&parsed, &v), Ok(()));
    // Unknown kid, but the algorithm is checked first.
    let t = token(
        Algorithm::RS256,
        json!({"alg": "RS256", "kid": "nope"}),
        claims(),
    );
    v.algorithms = &[Algorithm::ES256];
    assert_eq!(
        verify(&Token::parse(&t).unwrap(), &v),
        Err(Reason::AlgNotAllowed)
    );
}

/// HS256 with the RSA public key as the HMAC secret: the classic confusion attack.
#[test]
fn hmac_signed_with_rsa_public_key_is_rejected() {
    let rsa = &keys().rsa;
    let rsa_only = KeySet::new(&[jwk(Some("rsa"), Signer::Rsa(rsa))]).unwrap();
    let n = rsa::traits::PublicKeyParts::n(rsa).to_bytes_be();
    let public_json =
        serde_json::to_vec(&json!({"kty":"RSA","n":b64url_encode(&n),"e":"AQAB"})).unwrap();
    for secret in [n.clone(), public_json] {
        for header in [
            json!({"alg": "HS256", "kid": "rsa"}),
            json!({"alg": "HS256"}),
        ] {
            let t = sign(Algorithm::HS256, Signer::Hmac(&secret), &header, &claims());
            let parsed = Token::parse(&t).unwrap();
            assert_eq!(
                verify(&parsed, &validation(&rsa_only)),
                Err(Reason::AlgNotAllowed),
                "{header}"
            );
        }
    }
    // Even when a real HMAC key is configured too, naming the RSA key is refused.
    let t = sign(
        Algorithm::HS256,
        Signer::Hmac(&n),
        &json!({"alg": "HS256", "kid": "rsa"}),
        &claims(),
    );
    assert_eq!(check(&t), Err(Reason::AlgNotAllowed));
    let t = sign(
        Algorithm::HS256,
        Signer::Hmac(&n),
        &json!({"alg": "HS256"}),
        &claims(),
    );
    assert_eq!(check(&t), Err(Reason::SignatureInvalid));
}

#[test]
fn kid_selects_the_key() {
    let k = keys();
    let signed_by_other = sign(
        Algorithm::ES256,
        Signer::P256(&k.p256_other),
        &json!({"alg": "ES256", "kid": "p256-other"}),
        &claims(),
    );
    assert_eq!(check(&signed_by_other), Ok(()));
    // Right algorithm, wrong key named.
    let misnamed = sign(
        Algorithm::ES256,
        Signer::P256(&k.p256_other),
        &json!({"alg": "ES256", "kid": "p256"}),
        &claims(),
    );
    assert_eq!(check(&misnamed), Err(Reason::SignatureInvalid));
    // Without a kid every P-256 key is tried, in order.
    let no_kid = sign(
        Algorithm::ES256,
        Signer::P256(&k.p256_other),
        &json!({"alg": "ES256"}),
        &claims(),
    );
    assert_eq!(check(&no_kid), Ok(()));
    // Unknown kid, including one that differs only in case or by whitespace.
    for kid in ["nope", "P256", "p256 ", ""] {
        let t = token(
            Algorithm::ES256,
            json!({"alg": "ES256", "kid": kid}),
            claims(),
        );
        assert_eq!(check(&t), Err(Reason::KeyUnknown), "{kid:?}");
    }
    // A kid naming a key of another type or curve.
    for (alg, kid) in [
        (Algorithm::ES256, "p384"),
        (Algorithm::ES384, "p256"),
        (Algorithm::RS256, "ed25519"),
        (Algorithm::EdDSA, "rsa"),
        (Algorithm::HS256, "p256"),
    ] {
        let t = token(alg, json!({"alg": alg.name(), "kid": kid}), claims());
        assert_eq!(check(&t), Err(Reason::AlgNotAllowed), "{alg:?} {kid}");
    }
    // kid must be a string.
    for kid in [
        json!(1),
        json!(null),
        json!(["p256"]),
        json!({"kid": "p256"}),
    ] {
        let t = token(
            Algorithm::ES256,
            json!({"alg": "ES256", "kid": kid}),
            claims(),
        );
        assert_eq!(
            Token::parse(&t).err(),
            Some(Reason::TokenMalformed),
            "{kid}"
        );
    }
}

#[test]
fn kid_on_an_empty_or_kidless_set_is_unknown() {
    let k = keys();
    let kidless = KeySet::new(&[jwk(None, Signer::P256(&k.p256))]).unwrap();
    let t = token(
        Algorithm::ES256,
        json!({"alg": "ES256", "kid": "p256"}),
        claims(),
    );
    let parsed = Token::parse(&t).unwrap();
    assert_eq!(
        verify(&parsed, &validation(&kidless)),
        Err(Reason::KeyUnknown)
    );
    let empty = KeySet::new(&[]).unwrap();
    assert!(empty.is_empty());
    assert!(!kidless.is_empty());
    assert_eq!(
        verify(&parsed, &validation(&empty)),
        Err(Reason::KeyUnknown)
    );
    let t = token(Algorithm::ES256, json!({"alg": "ES256"}), claims());
    let parsed = Token::parse(&t).unwrap();
    assert_eq!(
        verify(&parsed, &validation(&empty)),
        Err(Reason::AlgNotAllowed)
    );
    assert_eq!(verify(&parsed, &validation(&kidless)), Ok(()));
}

#[test]
fn pinned_key_algorithm_is_respected() {
    let rsa = &keys().rsa;
    let pinned = KeySet::new(&[Jwk {
        alg: Some(Algorithm::RS256),
        ..jwk(Some("rsa"), Signer::Rsa(rsa))
    }])
    .unwrap();
    for header in [
        json!({"alg": "PS256", "kid": "rsa"}),
        json!({"alg": "PS256"}),
    ] {
        let t = sign(Algorithm::PS256, Signer::Rsa(rsa), &header, &claims());
        let parsed = Token::parse(&t).unwrap();
        assert_eq!(
            verify(&parsed, &validation(&pinned)),
            Err(Reason::AlgNotAllowed),
            "{header}"
        );
    }
    let t = sign(
        Algorithm::RS256,
        Signer::Rsa(rsa),
        &json!({"alg": "RS256"}),
        &claims(),
    );
    assert_eq!(
        verify(&Token::parse(&t).unwrap(), &validation(&pinned)),
        Ok(())
    );
}

#[test]
fn embedded_keys_are_never_used() {
    let attacker = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let point = attacker.verifying_key().to_encoded_point(false);
    let embedded = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64url_encode(point.x().unwrap()), "y": b64url_encode(point.y().unwrap()),
    });
    for header in [
        json!({"alg": "ES256", "jwk": embedded}),
        json!({"alg": "ES256", "jku": "https://attacker.example/jwks.json"}),
        json!({"alg": "ES256", "x5u": "https://attacker.example/cert.pem"}),
        json!({"alg": "ES256", "x5c": ["MIIBIjAN"]}),
    ] {
        let t = sign(
            Algorithm::ES256,
            Signer::P256(&attacker),
            &header,
            &claims(),
        );
        assert_eq!(check(&t), Err(Reason::SignatureInvalid), "{header}");
        // The same headers on an honest token change nothing.
        assert_eq!(
            check(&token(Algorithm::ES256, header.clone(), claims())),
            Ok(())
        );
    }
}

#[test]
fn crit_and_b64_are_rejected() {
    for header in [
        json!({"alg": "ES256", "crit": ["exp"], "exp": 1}),
        json!({"alg": "ES256", "crit": []}),
        json!({"alg": "ES256", "crit": "b64"}),
        json!({"alg": "ES256", "b64": false}),
        json!({"alg": "ES256", "b64": true}),
    ] {
        let t = token(Algorithm::ES256, header.clone(), claims());
        assert_eq!(
            Token::parse(&t).err(),
            Some(Reason::TokenMalformed),
            "{header}"
        );
    }
}

#[test]
fn forged_and_stripped_signatures_are_invalid() {
    for alg in Algorithm::ALL {
        let t = token(alg, json!({"alg": alg.name()}), claims());
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut bytes = super::json::b64url(sig).unwrap();
        bytes[0] ^= 1;
        let flipped = format!("{input}.{}", b64url_encode(&bytes));
        assert_eq!(
            check(&flipped),
            Err(Reason::SignatureInvalid),
            "{alg:?} flipped"
        );
        assert_eq!(
            check(&format!("{input}.")),
            Err(Reason::SignatureInvalid),
            "{alg:?} stripped"
        );
        let truncated = format!("{input}.{}", b64url_encode(&bytes[..bytes.len() - 1]));
        assert_eq!(
            check(&truncated),
            Err(Reason::SignatureInvalid),
            "{alg:?} truncated"
        );
        let mut extended = super::json::b64url(sig).unwrap();
        extended.push(0);
        let longer = format!("{input}.{}", b64url_encode(&extended));
        assert_eq!(
            check(&longer),
            Err(Reason::SignatureInvalid),
            "{alg:?} extended"
        );
    }
}

#[test]
fn ecdsa_signatures_must_be_raw_r_s() {
    let k = keys();
    let t = token(Algorithm::ES256, json!({"alg": "ES256"}), claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    use p256::ecdsa::signature::Signer as _;
    let sig: p256::ecdsa::Signature = k.p256.sign(input.as_bytes());
    let der = sig.to_der();
    let as_der = format!("{input}.{}", b64url_encode(der.as_bytes()));
    assert_eq!(check(&as_der), Err(Reason::SignatureInvalid));
    let raw = format!("{input}.{}", b64url_encode(&sig.to_bytes()));
    assert_eq!(check(&raw), Ok(()));
    // r = s = 0 and a P-384-sized signature on a P-256 token.
    let zero = format!("{input}.{}", b64url_encode(&[0u8; 64]));
    assert_eq!(check(&zero), Err(Reason::SignatureInvalid));
    let big = signature(Algorithm::ES384, Signer::P384(&k.p384), input.as_bytes());
    assert_eq!(
        check(&format!("{input}.{}", b64url_encode(&big))),
        Err(Reason::SignatureInvalid)
    );
}

#[test]
fn segment_count_and_size() {
    let t = token(Algorithm::HS256, json!({"alg": "HS256"}), claims());
    let (header, rest) = t.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    for bad in [
        String::new(),
        ".".to_owned(),
        "..".to_owned(),
        format!("{header}.{payload}"),
        format!("{header}.{payload}.{sig}."),
        format!("{header}.{payload}.{sig}.{sig}"),
        // JWE compact serialization has five segments.
        format!("{header}.{payload}.{sig}.{payload}.{sig}"),
        format!(".{payload}.{sig}"),
        format!("{header}..{sig}"),
    ] {
        assert_eq!(
            Token::parse(&bad).err(),
            Some(Reason::TokenMalformed),
            "{bad}"
        );
    }

    // Grow a padding claim until the token is just over the limit.
    let mut pad = String::new();
    let over = loop {
        let mut c = claims();
        c["pad"] = json!(pad);
        let t = token(Algorithm::HS256, json!({"alg": "HS256"}), c);
        if t.len() > MAX_TOKEN_BYTES {
            break t;
        }
        if t.len() + 4 <= MAX_TOKEN_BYTES {
            assert_eq!(check(&t), Ok(()));
        }
        pad.push_str(if t.len() + 100 < MAX_TOKEN_BYTES {
            "xxxxxxxxxx"
        } else {
            "x"
        });
    };
    assert!(over.len() <= MAX_TOKEN_BYTES + 4);
    assert_eq!(Token::parse(&over).err(), Some(Reason::TokenMalformed));
}

#[test]
fn base64url_must_be_strict() {
    let t = token(Algorithm::HS256, json!({"alg": "HS256"}), claims());
    let segments: Vec<&str> = t.split('.').collect();
    let with = |i: usize, s: String| {
        let mut v: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
        v[i] = s;
        v.join(".")
    };
    for (i, seg) in segments.iter().enumerate() {
        for bad in [
            format!("{seg}="),
            format!("{seg}=="),
            format!(" {seg}"),
            format!("{seg}\n"),
            format!("{}\t{}", &seg[..4], &seg[4..]),
            seg.replace('-', "+").replace('_', "/") + "+/",
            format!("{seg}!"),
        ] {
            assert_eq!(
                Token::parse(&with(i, bad.clone())).err(),
                Some(Reason::TokenMalformed),
                "segment {i}: {bad:?}"
            );
        }
    }
    // 32-byte HMAC tag: 43 characters, the last one carries 2 unused bits that must be zero.
    let sig = segments[2];
    assert_eq!(sig.len(), 43);
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let pos = alphabet.find(last).unwrap();
    let sloppy = alphabet.chars().nth(pos | 1).unwrap();
    assert_ne!(sloppy, last);
    let t2 = with(2, format!("{}{sloppy}", &sig[..42]));
    assert_eq!(Token::parse(&t2).err(), Some(Reason::TokenMalformed));
    // `+` and `/` signatures from the standard alphabet are rejected even when otherwise valid.
    let std_sig = sig.replace('-', "+").replace('_', "/");
    if std_sig != sig {
        assert_eq!(
            Token::parse(&with(2, std_sig)).err(),
            Some(Reason::TokenMalformed)
        );
    }
}

#[test]
fn header_and_payload_must_be_json_objects_without_duplicates() {
    let hs = |header: &[u8], payload: &[u8]| {
        sign_raw(
            Algorithm::HS256,
            keys().signer(Algorithm::HS256),
            header,
            payload,
        )
    };
    let good_header = br#"{"alg":"HS256"}"#;
    let good_payload = format!(r#"{{"sub":"a","exp":{}}}"#, NOW + 10);
    assert_eq!(check(&hs(good_header, good_payload.as_bytes())), Ok(()));
    for (header, payload) in [
        (
            &br#"{"alg":"HS256","alg":"none"}"#[..],
            good_payload.as_bytes(),
        ),
        (
            br#"{"alg":"HS256","kid":"hmac","kid":"rsa"}"#,
            good_payload.as_bytes(),
        ),
        (br#"["alg","HS256"]"#, good_payload.as_bytes()),
        (br#"{"alg":"HS256"} "#.as_slice(), b"{\"exp\":1}{}"),
        (
            good_header,
            format!(r#"{{"sub":"a","sub":"b","exp":{}}}"#, NOW + 10).as_bytes(),
        ),
        (
            good_header,
            format!(r#"{{"ext":{{"mail":"a","mail":"b"}},"exp":{}}}"#, NOW + 10).as_bytes(),
        ),
        (
            good_header,
            format!(r#"{{"exp":{},"exp":{}}}"#, NOW + 10, NOW + 10).as_bytes(),
        ),
        (good_header, b"[1]"),
        (good_header, b"null"),
        (good_header, b"\"claims\""),
        (good_header, b"not json"),
        (good_header, b""),
        (good_header, b"{\"sub\":\"\xff\xfe\",\"exp\":1}"),
        (
            b"{\"alg\":\"HS256\",\"x\":\"\xc3\"}",
            good_payload.as_bytes(),
        ),
    ] {
        let t = hs(header, payload);
        assert_eq!(
            Token::parse(&t).err(),
            Some(Reason::TokenMalformed),
            "{} / {}",
            String::from_utf8_lossy(header),
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn exp_is_required_and_must_be_an_integer() {
    for exp in [
        json!(null),
        json!((NOW + 10) as f64),
        json!(1e12),
        json!("9999999999"),
        json!(u64::MAX),
        json!([NOW + 10]),
    ] {
        let t = token(
            Algorithm::HS256,
            json!({"alg": "HS256"}),
            json!({"exp": exp}),
        );
        assert_eq!(check(&t), Err(Reason::TokenMalformed), "{exp}");
    }
    let t = token(
        Algorithm::HS256,
        json!({"alg": "HS256"}),
        json!({"sub": "x"}),
    );
    assert_eq!(check(&t), Err(Reason::TokenMalformed));
    for (name, value) in [
        ("nbf", json!(1.5)),
        ("nbf", json!("0")),
        ("iat", json!(NOW as f64)),
        ("iat", json!(null)),
    ] {
        let t = token(
            Algorithm::HS256,
            json!({"alg": "HS256"}),
            json!({"exp": NOW + 10, name: value}),
        );
        assert_eq!(check(&t), Err(Reason::TokenMalformed), "{name} {value}");
    }
}

fn at(claims: Value, now: i64, skew: i64) -> Result<(), Reason> {
    let set = all_keys();
    let t = token(Algorithm::ES256, json!({"alg": "ES256"}), claims);
    let mut v = validation(&set);
    v.now = now;
    v.clock_skew_seconds = skew;
    verify(&Token::parse(&t).unwrap(), &v)
}

#[test]
fn time_boundaries_are_exact() {
    let exp = NOW;
    for skew in [0, 60] {
        assert_eq!(
            at(json!({"exp": exp}), exp + skew - 1, skew),
            Ok(()),
            "skew {skew}"
        );
        assert_eq!(
            at(json!({"exp": exp}), exp + skew, skew),
            Err(Reason::TokenExpired),
            "skew {skew}"
        );

        let nbf = NOW;
        let c = json!({"exp": NOW + 10_000, "nbf": nbf});
        assert_eq!(at(c.clone(), nbf - skew, skew), Ok(()), "skew {skew}");
        assert_eq!(
            at(c, nbf - skew - 1, skew),
            Err(Reason::TokenNotYetValid),
            "skew {skew}"
        );

        let iat = NOW;
        let c = json!({"exp": NOW + 10_000, "iat": iat});
        assert_eq!(at(c.clone(), iat - skew, skew), Ok(()), "skew {skew}");
        assert_eq!(
            at(c, iat - skew - 1, skew),
            Err(Reason::TokenNotYetValid),
            "skew {skew}"
        );
    }
    // A negative skew counts as none; extreme values do not overflow.
    assert_eq!(at(json!({"exp": NOW + 1}), NOW, -100), Ok(()));
    assert_eq!(at(json!({"exp": i64::MAX}), NOW, i64::MAX), Ok(()));
    assert_eq!(
        at(json!({"exp": i64::MIN}), NOW, i64::MAX),
        Err(Reason::TokenExpired)
    );
    assert_eq!(
        at(json!({"exp": i64::MIN}), NOW, 0),
        Err(Reason::TokenExpired)
    );
    assert_eq!(
        at(json!({"exp": NOW + 10, "nbf": i64::MAX}), NOW, 0),
        Err(Reason::TokenNotYetValid)
    );
    assert_eq!(
        at(json!({"exp": NOW + 10, "nbf": i64::MAX}), NOW, i64::MAX),
        Ok(())
    );
    assert_eq!(
        at(
            json!({"exp": NOW + 10, "nbf": i64::MIN, "iat": i64::MIN}),
            NOW,
            0
        ),
        Ok(())
    );
    assert_eq!(
        at(
            json!({"exp": i64::MAX, "iat": i64::MAX}),
            i64::MAX,
            i64::MAX
        ),
        Err(Reason::TokenExpired)
    );
    assert_eq!(
        at(json!({"exp": NOW + 10, "iat": i64::MAX}), NOW, 5),
        Err(Reason::TokenNotYetValid)
    );
}

#[test]
fn audiences() {
    let set = all_keys();
    let configured = ["api".to_owned(), "admin".to_owned()];
    let run = |aud: Option<Value>, audiences: &[String]| {
        let mut c = claims();
        if let Some(aud) = aud {
            c["aud"] = aud;
        }
        let t = token(Algorithm::EdDSA, json!({"alg": "EdDSA"}), c);
        let mut v = validation(&set);
        v.audiences = audiences;
        verify(&Token::parse(&t).unwrap(), &v)
    };
    assert_eq!(run(Some(json!("api")), &configured), Ok(()));
    assert_eq!(run(Some(json!(["other", "admin"])), &configured), Ok(()));
    for bad in [
        None,
        Some(json!("API")),
        Some(json!("other")),
        Some(json!([])),
        Some(json!(["other"])),
    ] {
        assert_eq!(
            run(bad.clone(), &configured),
            Err(Reason::AudienceMismatch),
            "{bad:?}"
        );
    }
    // Without configured audiences a well-typed `aud` is not looked at.
    assert_eq!(run(Some(json!("other")), &[]), Ok(()));
    assert_eq!(run(Some(json!([])), &[]), Ok(()));
    assert_eq!(run(None, &[]), Ok(()));
    // Any other type is malformed, whether audiences are configured or not.
    for bad in [
        json!(5),
        json!(null),
        json!(true),
        json!({"api": true}),
        json!(["api", 5]),
        json!(["api", null]),
        json!([["api"]]),
    ] {
        for audiences in [&configured[..], &[]] {
            assert_eq!(
                run(Some(bad.clone()), audiences),
                Err(Reason::TokenMalformed),
                "{bad} with {audiences:?}"
            );
        }
    }
}

/// Every registered claim against every JSON type but its own, through `verify`: always
/// `token_malformed`, and types are judged before the time (an expired token with a
/// wrong-typed claim is malformed, not expired).
#[test]
fn registered_claims_of_another_type_are_malformed() {
    let set = all_keys();
    let wrong = [
        json!(null),
        json!(true),
        json!(7),
        json!(1.5),
        json!("7"),
        json!([]),
        json!(["x"]),
        json!({}),
    ];
    for (name, accepts) in [
        ("iss", &[4][..]),
        ("sub", &[4]),
        ("jti", &[4]),
        ("aud", &[4, 5, 6]),
        ("exp", &[2]),
        ("nbf", &[2]),
        ("iat", &[2]),
    ] {
        for (i, bad) in wrong.iter().enumerate() {
            if accepts.contains(&i) {
                continue;
            }
            for expired in [false, true] {
                let mut c = claims();
                if expired && name != "exp" {
                    c["exp"] = json!(NOW - 1000);
                }
                c[name] = bad.clone();
                let t = token(Algorithm::HS256, json!({"alg": "HS256"}), c);
                assert_eq!(
                    verify(&Token::parse(&t).unwrap(), &validation(&set)),
                    Err(Reason::TokenMalformed),
                    "{name}: {bad} (expired: {expired})"
                );
            }
        }
    }
    // Claims Gatehouse does not read are not judged.
    let mut c = claims();
    c["scope"] = json!({"read": [1, null]});
    c["typ"] = json!(null);
    let t = token(Algorithm::HS256, json!({"alg": "HS256"}), c);
    assert_eq!(
        verify(&Token::parse(&t).unwrap(), &validation(&set)),
        Ok(())
    );
}

/// A wrong type never beats the signature: a forged token is `signature_invalid`.
#[test]
fn claim_types_are_judged_after_the_signature() {
    for (name, bad) in [("jti", json!(5)), ("aud", json!([1])), ("sub", json!(null))] {
        let mut c = claims();
        c[name] = bad;
        let t = token(Algorithm::ES256, json!({"alg": "ES256"}), c);
        let (input, _) = t.rsplit_once('.').unwrap();
        let forged = format!("{input}.{}", b64url_encode(&[1u8; 64]));
        assert_eq!(check(&forged), Err(Reason::SignatureInvalid), "{name}");
        assert_eq!(check(&t), Err(Reason::TokenMalformed), "{name}");
    }
}

#[test]
fn header_members_have_one_type() {
    let hs = |header: Value| {
        sign(
            Algorithm::HS256,
            keys().signer(Algorithm::HS256),
            &header,
            &claims(),
        )
    };
    assert_eq!(check(&hs(json!({"alg": "HS256", "kid": "hmac"}))), Ok(()));
    for bad in [
        json!(null),
        json!(true),
        json!(1),
        json!(1.5),
        json!(["hmac"]),
        json!({"kid": "hmac"}),
    ] {
        assert_eq!(
            Token::parse(&hs(json!({"alg": "HS256", "kid": bad.clone()}))).err(),
            Some(Reason::TokenMalformed),
            "kid {bad}"
        );
        assert_eq!(
            Token::parse(&hs(json!({"alg": bad.clone()}))).err(),
            Some(Reason::TokenMalformed),
            "alg {bad}"
        );
        // `crit` and `b64` are refused in any form; `typ`, `cty` and the key-naming
        // members are not read, so their type does not matter.
        for refused in ["crit", "b64"] {
            assert_eq!(
                Token::parse(&hs(json!({"alg": "HS256", refused: bad.clone()}))).err(),
                Some(Reason::TokenMalformed),
                "{refused} {bad}"
            );
        }
        for ignored in ["typ", "cty", "jku", "x5u"] {
            assert_eq!(
                check(&hs(json!({"alg": "HS256", ignored: bad.clone()}))),
                Ok(()),
                "{ignored} {bad}"
            );
        }
    }
}

#[test]
fn signature_is_checked_before_claims() {
    let set = all_keys();
    let expired = json!({"exp": NOW - 10, "aud": "other"});
    let t = token(Algorithm::ES256, json!({"alg": "ES256"}), expired.clone());
    let (input, _) = t.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", b64url_encode(&[1u8; 64]));
    assert_eq!(check(&forged), Err(Reason::SignatureInvalid));
    // With a good signature the first failing claim check decides.
    let audiences = ["api".to_owned()];
    let mut v = validation(&set);
    v.audiences = &audiences;
    assert_eq!(
        verify(&Token::parse(&t).unwrap(), &v),
        Err(Reason::TokenExpired)
    );
    // Missing exp on a forged token is still a signature failure.
    let t = token(
        Algorithm::ES256,
        json!({"alg": "ES256"}),
        json!({"sub": "x"}),
    );
    let (input, _) = t.rsplit_once('.').unwrap();
    assert_eq!(
        check(&format!("{input}.{}", b64url_encode(&[1u8; 64]))),
        Err(Reason::SignatureInvalid)
    );
}

#[test]
fn claims_accessors() {
    let t = token(
        Algorithm::HS256,
        json!({"alg": "HS256"}),
        json!({
            "iss": "https://idp", "exp": NOW + 5, "iat": 1.5, "n": -7,
            "ext": {"mail": "a@b.c", "deep": {"x": [1]}}, "s": 3
        }),
    );
    let t = Token::parse(&t).unwrap();
    let c = t.claims();
    assert_eq!(t.issuer(), Ok(Some("https://idp")));
    assert_eq!(c.string("iss"), Ok(Some("https://idp")));
    assert_eq!(c.string("s"), Err(Reason::TokenMalformed));
    assert_eq!(c.string("missing"), Ok(None));
    assert_eq!(c.numeric_date("exp"), Ok(Some(NOW + 5)));
    assert_eq!(c.numeric_date("n"), Ok(Some(-7)));
    assert_eq!(c.numeric_date("iat"), Err(Reason::TokenMalformed));
    assert_eq!(c.numeric_date("missing"), Ok(None));
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(c.string(&path(&["ext", "mail"])[..]), Ok(Some("a@b.c")));
    assert_eq!(
        c.strings(&path(&["ext", "deep", "x"])[..])
            .map(|s| s.is_some()),
        Err(Reason::TokenMalformed)
    );
    assert_eq!(
        c.string(&path(&["ext", "mail", "x"])[..]),
        Err(Reason::TokenMalformed)
    );
    assert_eq!(c.string(&path(&["ext", "nope"])[..]), Ok(None));
    assert_eq!(c.string(&path(&["ext.mail"])[..]), Ok(None));
    // An `iss` of another type is malformed, not absent (which would be `issuer_unknown`).
    for bad in [json!(5), json!(null), json!(["https://idp"]), json!({})] {
        let t = token(
            Algorithm::HS256,
            json!({"alg": "HS256"}),
            json!({"iss": bad}),
        );
        assert_eq!(
            Token::parse(&t).unwrap().issuer(),
            Err(Reason::TokenMalformed)
        );
    }
    let t = token(Algorithm::HS256, json!({"alg": "HS256"}), json!({}));
    assert_eq!(Token::parse(&t).unwrap().issuer(), Ok(None));
}

#[test]
fn debug_output_leaks_no_secrets() {
    let set = all_keys();
    let text = format!("{set:?}");
    assert!(text.contains("hmac") && text.contains("p256"), "{text}");
    assert!(!text.contains("[0, 1, 2"), "{text}");
    let t = token(
        Algorithm::HS256,
        json!({"alg": "HS256", "kid": "hmac"}),
        claims(),
    );
    let text = format!("{:?}", Token::parse(&t).unwrap());
    assert!(!text.contains("alice"), "{text}");
    let _ = KeyMaterial::Symmetric { k: vec![] };
}
