//! Signature verification against Project Wycheproof's vectors (SPEC 7): RSA
//! PKCS#1 v1.5 (2048-8192 bits, SHA-256/384/512), RSA-PSS, ECDSA P-256/P-384 in the raw r||s
//! (IEEE P1363) form JOSE uses, and Ed25519. The files are vendored in `tests/wycheproof/`
//! (see its README for provenance and licence).
//!
//! Every vector goes through `jwt::verify_raw`, which prepares the key with `KeySet::new` and runs
//! the same verification code as a token. The rules:
//! - `valid` must verify and `invalid` must not;
//! - `acceptable` (legal but dubious encodings): our choice is to be strict, so they must not
//!   verify — the count is printed;
//! - a PSS group whose parameters are not one of PS256/384/512's (hash = MGF1 hash, salt length =
//!   hash length, RFC 7518 section 3.5) is fed to the PS algorithm of its hash and must be refused
//!   whatever Wycheproof says, since such a signature is not a valid JOSE signature.
//!
//! Any other disagreement fails the test, unless it is listed in `EXPLAINED` with its reason.

#![expect(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatehouse_engine::jwt::{parse_jwks, verify_raw};
use gatehouse_engine::model::{Algorithm, Curve, Jwk, KeyMaterial};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pkcs1,
    Pss,
    Ecdsa,
    Ed25519,
}

const FILES: [(&str, Kind); 22] = [
    ("rsa_signature_2048_sha256_test.json", Kind::Pkcs1),
    ("rsa_signature_2048_sha384_test.json", Kind::Pkcs1),
    ("rsa_signature_2048_sha512_test.json", Kind::Pkcs1),
    ("rsa_signature_3072_sha256_test.json", Kind::Pkcs1),
    ("rsa_signature_3072_sha384_test.json", Kind::Pkcs1),
    ("rsa_signature_3072_sha512_test.json", Kind::Pkcs1),
    ("rsa_signature_4096_sha256_test.json", Kind::Pkcs1),
    ("rsa_signature_4096_sha384_test.json", Kind::Pkcs1),
    ("rsa_signature_4096_sha512_test.json", Kind::Pkcs1),
    ("rsa_signature_8192_sha256_test.json", Kind::Pkcs1),
    ("rsa_pss_2048_sha256_mgf1_32_test.json", Kind::Pss),
    ("rsa_pss_2048_sha384_mgf1_48_test.json", Kind::Pss),
    ("rsa_pss_3072_sha256_mgf1_32_test.json", Kind::Pss),
    ("rsa_pss_4096_sha256_mgf1_32_test.json", Kind::Pss),
    ("rsa_pss_4096_sha384_mgf1_48_test.json", Kind::Pss),
    ("rsa_pss_4096_sha512_mgf1_64_test.json", Kind::Pss),
    ("rsa_pss_2048_sha256_mgf1_0_test.json", Kind::Pss),
    ("rsa_pss_4096_sha512_mgf1_32_test.json", Kind::Pss),
    ("rsa_pss_misc_test.json", Kind::Pss),
    ("ecdsa_secp256r1_sha256_p1363_test.json", Kind::Ecdsa),
    ("ecdsa_secp384r1_sha384_p1363_test.json", Kind::Ecdsa),
    ("ed25519_test.json", Kind::Ed25519),
];

/// Disagreements we accept, by `(file, tcId)`, each with why.
const EXPLAINED: [(&str, u64, &str); 1] = [(
    "rsa_pss_2048_sha256_mgf1_0_test.json",
    69,
    "\"s_len changed to 32\": invalid for that file's salt-0 profile, but a salt of 32 bytes is \
     exactly PS256's profile, so it is a genuine PS256 signature and verifying it is right",
)];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/wycheproof")
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A big-endian integer as exactly `size` bytes (Wycheproof may add a sign byte or drop leading
/// zeros); `None` if it does not fit.
fn fixed(bytes: &[u8], size: usize) -> Option<Vec<u8>> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let digits = &bytes[start..];
    (digits.len() <= size).then(|| {
        let mut out = vec![0; size - digits.len()];
        out.extend_from_slice(digits);
        out
    })
}

fn hash_alg(kind: Kind, sha: &str) -> Option<Algorithm> {
    use Algorithm::*;
    match (kind, sha) {
        (Kind::Pkcs1, "SHA-256") => Some(RS256),
        (Kind::Pkcs1, "SHA-384") => Some(RS384),
        (Kind::Pkcs1, "SHA-512") => Some(RS512),
        (Kind::Pss, "SHA-256") => Some(PS256),
        (Kind::Pss, "SHA-384") => Some(PS384),
        (Kind::Pss, "SHA-512") => Some(PS512),
        _ => None,
    }
}

/// The key of a test group, as the model has it, and the algorithm to verify with.
fn group_key(kind: Kind, group: &Value) -> (Jwk, Option<Algorithm>) {
    let public = &group["publicKey"];
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let (material, alg) = match kind {
        Kind::Pkcs1 | Kind::Pss => {
            let n = hex(&s(&public["modulus"]));
            let e = hex(&s(&public["publicExponent"]));
            let strip = |b: Vec<u8>| {
                let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                b[start..].to_vec()
            };
            let alg = hash_alg(kind, group["sha"].as_str().unwrap());
            (
                KeyMaterial::Rsa {
                    n: strip(n),
                    e: strip(e),
                },
                alg,
            )
        }
        Kind::Ecdsa => {
            let (curve, size, alg) =
                match (public["curve"].as_str().unwrap(), group["sha"].as_str()) {
                    ("secp256r1", Some("SHA-256")) => (Curve::P256, 32, Algorithm::ES256),
                    ("secp384r1", Some("SHA-384")) => (Curve::P384, 48, Algorithm::ES384),
                    (curve, sha) => panic!("unexpected ecdsa group {curve} {sha:?}"),
                };
            let x = fixed(&hex(&s(&public["wx"])), size).expect("wx fits");
            let y = fixed(&hex(&s(&public["wy"])), size).expect("wy fits");
            (KeyMaterial::Ec { curve, x, y }, Some(alg))
        }
        Kind::Ed25519 => (
            KeyMaterial::Ed25519 {
                x: hex(&s(&public["pk"])),
            },
            Some(Algorithm::EdDSA),
        ),
    };
    let jwk = Jwk {
        kid: None,
        alg: None,
        material,
    };
    // Where Wycheproof gives the key as a JWK too, our JWK parser must read the same key.
    if let Some(given) = group.get("publicKeyJwk") {
        let mut given = given.clone();
        let obj = given.as_object_mut().unwrap();
        obj.remove("kid");
        obj.remove("alg");
        let parsed = parse_jwks(&serde_json::json!({"keys": [given]}).to_string())
            .unwrap_or_else(|e| panic!("publicKeyJwk refused: {e}"));
        assert_eq!(
            parsed,
            vec![jwk.clone()],
            "publicKeyJwk differs from publicKey"
        );
    }
    (jwk, alg)
}

/// PS256/384/512 fix MGF1 with the same hash and a salt as long as the hash.
fn jose_pss_profile(group: &Value) -> bool {
    let sha = group["sha"].as_str().unwrap();
    let salt = match sha {
        "SHA-256" => 32,
        "SHA-384" => 48,
        "SHA-512" => 64,
        _ => return false,
    };
    group["mgf"].as_str() == Some("MGF1")
        && group["mgfSha"].as_str() == Some(sha)
        && group["sLen"].as_u64() == Some(salt)
}

#[derive(Debug, Default)]
struct Tally {
    tried: usize,
    agreed: usize,
    valid_accepted: usize,
    invalid_rejected: usize,
    acceptable_rejected: usize,
    acceptable_accepted: usize,
    off_profile_rejected: usize,
    not_applicable: usize,
    keys_refused: usize,
    explained: usize,
    disagreements: Vec<String>,
}

fn run(file: &str, kind: Kind, tally: &mut Tally) {
    let text = std::fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("json");
    let mut seen = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let (jwk, alg) = group_key(kind, group);
        let tests = group["tests"].as_array().unwrap();
        seen += tests.len();
        let Some(alg) = alg else {
            // A hash JOSE has no algorithm for (SHA-1, SHA-224, SHA-512/256...).
            tally.not_applicable += tests.len();
            continue;
        };
        let on_profile = kind != Kind::Pss || jose_pss_profile(group);
        for test in tests {
            tally.tried += 1;
            let id = test["tcId"].as_u64().unwrap();
            let msg = hex(test["msg"].as_str().unwrap());
            let sig = hex(test["sig"].as_str().unwrap());
            let result = test["result"].as_str().unwrap();
            let got = match verify_raw(alg, &jwk, &msg, &sig) {
                Ok(verified) => verified,
                Err(_) => {
                    tally.keys_refused += 1;
                    false
                }
            };
            let expected = match (on_profile, result) {
                (false, _) => false,
                (true, "valid") => true,
                (true, "invalid" | "acceptable") => false,
                (true, other) => panic!("{file} #{id}: result {other}"),
            };
            if got == expected {
                tally.agreed += 1;
                match (on_profile, result) {
                    (false, _) => tally.off_profile_rejected += 1,
                    (true, "valid") => tally.valid_accepted += 1,
                    (true, "invalid") => tally.invalid_rejected += 1,
                    _ => tally.acceptable_rejected += 1,
                }
            } else if EXPLAINED.iter().any(|(f, i, _)| *f == file && *i == id) {
                tally.explained += 1;
            } else {
                if result == "acceptable" {
                    tally.acceptable_accepted += 1;
                }
                tally.disagreements.push(format!(
                    "{file} #{id} ({alg:?}, {result}, {:?} {:?}): verified = {got}",
                    test["comment"].as_str().unwrap_or(""),
                    test["flags"]
                ));
            }
        }
    }
    assert_eq!(
        seen as u64,
        doc["numberOfTests"].as_u64().unwrap(),
        "{file}: numberOfTests"
    );
}

#[test]
fn verification_agrees_with_wycheproof() {
    let mut total = Tally::default();
    let mut per_file: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (file, kind) in FILES {
        let mut tally = Tally::default();
        run(file, kind, &mut tally);
        per_file.insert(file, (tally.tried, tally.agreed));
        total.tried += tally.tried;
        total.agreed += tally.agreed;
        total.valid_accepted += tally.valid_accepted;
        total.invalid_rejected += tally.invalid_rejected;
        total.acceptable_rejected += tally.acceptable_rejected;
        total.acceptable_accepted += tally.acceptable_accepted;
        total.off_profile_rejected += tally.off_profile_rejected;
        total.not_applicable += tally.not_applicable;
        total.keys_refused += tally.keys_refused;
        total.explained += tally.explained;
        total.disagreements.extend(tally.disagreements);
    }
    for (file, (tried, agreed)) in &per_file {
        println!("  {file}: {agreed}/{tried}");
    }
    println!(
        "wycheproof: {} vectors tried, {} agreed ({} valid accepted, {} invalid rejected, \
         {} acceptable rejected, {} off-profile PSS rejected), {} explained, {} disagreements; \
         {} acceptable accepted; {} keys refused by KeySet::new; {} not applicable (hash without \
         a JOSE algorithm)",
        total.tried,
        total.agreed,
        total.valid_accepted,
        total.invalid_rejected,
        total.acceptable_rejected,
        total.off_profile_rejected,
        total.explained,
        total.disagreements.len(),
        total.acceptable_accepted,
        total.keys_refused,
        total.not_applicable
    );
    assert!(
        total.disagreements.is_empty(),
        "{} disagreements:\n{}",
        total.disagreements.len(),
        total.disagreements.join("\n")
    );
    assert_eq!(
        total.explained,
        EXPLAINED.len(),
        "a stale entry in EXPLAINED"
    );
    // Guard against a vacuous pass (files emptied, everything skipped).
    assert!(
        total.valid_accepted > 500 && total.invalid_rejected > 1000,
        "{total:?}"
    );
}
