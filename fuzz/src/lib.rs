//! Fuzz entry points. Each `fuzz_targets/*.rs` is a one-liner over one of these functions, and
//! `tests/replay.rs` runs the same functions over the seeds plus deterministic mutations, so the
//! targets are exercised by plain `cargo test` on a stable toolchain too.
//!
//! Every function only uses the engine's and compiler's public API. Besides "no panic" (and, under
//! libFuzzer, no unbounded allocation: `-rss_limit_mb`), each checks invariants that must hold for
//! any input; a violated invariant panics, which the fuzzer reports as a crash.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gatehouse_compiler::compile::{compile_sources, Files, Sources};
use gatehouse_compiler::{compile_paths, CompileOptions};
use gatehouse_engine::jwt::{self, parse_jwks, KeySet, Token, Validation};
use gatehouse_engine::model::{Algorithm, ResourceId};
use gatehouse_engine::route::{self, Body};
use gatehouse_engine::{authority, json, request, Engine, Identity, LoadOptions, Request};
use sha2::{Digest, Sha256};

pub mod seeds;

/// Bundle header layout (docs/bundle-format.md): magic, major, minor, flags, body length, digest.
const HEADER_LEN: usize = 56;
const FLAGS: core::ops::Range<usize> = 12..16;
const BODY_LEN: core::ops::Range<usize> = 16..24;
const DIGEST: core::ops::Range<usize> = 24..56;
/// The clock of the adversarial token suite (tests/vectors/adversarial/requests.json).
const NOW: i64 = 1_795_867_200;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Decoding arbitrary bytes as a bundle, and, so that mutations get past the SHA-256 digest,
/// the same bytes with the header's length and digest recomputed (and the signature flag
/// cleared). A bundle that loads must then decide requests without panicking.
pub fn bundle_decode(data: &[u8]) {
    if let Ok(engine) = Engine::load(data.to_vec(), &LoadOptions::default()) {
        exercise(&engine);
    }
    // Pinned keys: no input the fuzzer makes is signed by this key.
    let pinned = LoadOptions {
        trusted_keys: vec![[7; 32]],
    };
    assert!(
        Engine::load(data.to_vec(), &pinned).is_err(),
        "a bundle loaded although it is not signed by the pinned key"
    );
    if let Some(fixed) = with_valid_digest(data) {
        if let Ok(engine) = Engine::load(fixed, &LoadOptions::default()) {
            exercise(&engine);
        }
    }
}

fn with_valid_digest(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < HEADER_LEN {
        return None;
    }
    let mut out = data.to_vec();
    let body_len = (out.len() - HEADER_LEN) as u64;
    let flags = u32::from_le_bytes(out.get(FLAGS)?.try_into().ok()?) & !1;
    out.get_mut(FLAGS)?.copy_from_slice(&flags.to_le_bytes());
    out.get_mut(BODY_LEN)?
        .copy_from_slice(&body_len.to_le_bytes());
    let digest = Sha256::digest(out.get(HEADER_LEN..)?);
    out.get_mut(DIGEST)?.copy_from_slice(&digest);
    Some(out)
}

/// A few decisions on every tenant of a loaded bundle, as its users and virtual accounts.
fn exercise(engine: &Engine) {
    let bundle = engine.bundle();
    let _ = (bundle.meta(), bundle.digest(), bundle.format_version());
    for tenant in bundle.tenants().iter().take(4) {
        let tables = bundle.tables(tenant);
        let host = tenant
            .config
            .hosts
            .first()
            .map(|h| h.trim_start_matches("*."))
            .unwrap_or("localhost");
        let mut subjects: Vec<String> = tables
            .users
            .iter()
            .take(6)
            .map(|u| format!("user:{}", tables.email(u)))
            .collect();
        subjects.extend(
            tables
                .virtual_accounts
                .iter()
                .take(3)
                .map(|v| format!("virtualaccount:{}", tables.str(v.name))),
        );
        for (i, resource) in tables.resources.iter().take(32).enumerate() {
            let id = ResourceId(i as u32);
            let _ = tables.grants_of(id).iter().count();
            let _ = tables.authorized_of(id);
            // By its type's name and its path, as stored: a type name may itself hold a `:`
            // (nothing at load forbids it), so the joined key is not split back.
            if let Some((_, ty)) = tables.type_of(resource) {
                let path = tables.str(resource.path);
                assert_eq!(
                    tables.resource(&ty.name, path).map(|(found, _)| found),
                    Some(id),
                    "a stored resource is not found by its type and path"
                );
            }
        }
        for (method, path, body) in REQUESTS {
            let request = Request {
                authority: host,
                method,
                path,
                headers: &[("authorization", "Bearer a.b.c")],
                body: body.map_or(Body::Absent, |b| Body::Bytes(b.as_bytes())),
            };
            let _ = engine.needs_body(host, method, path);
            summarize(&engine.decide(&request, Identity::Token, NOW));
            for subject in &subjects {
                summarize(&engine.decide(&request, Identity::Subject(subject), NOW));
            }
        }
    }
}

const REQUESTS: [(&str, &str, Option<&str>); 5] = [
    ("GET", "/api/prompts/prompts/summarize", None),
    (
        "POST",
        "/api/llm/v1/chat/completions",
        Some(r#"{"model":"openai-main/gpt-4o"}"#),
    ),
    (
        "POST",
        "/api/llm/mcp/github/server",
        Some(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue"}}"#),
    ),
    ("GET", "/healthz", None),
    ("DELETE", "/nowhere", None),
];

/// Everything `gatehouse check --json` would print, so name lookups run too.
fn summarize(outcome: &gatehouse_engine::Outcome<'_>) {
    let _ = (
        outcome.subject(),
        outcome.tenant_name(),
        outcome.route_name(),
        outcome.resource(),
        outcome.grant(),
    );
    if let Some(reason) = outcome.decision.reason() {
        let _ = (reason.code(), reason.status());
    }
}

/// Token parsing and verification, alone and through a full decision on the adversarial bundle.
pub fn token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    // Token sources trim surrounding whitespace (as HTTP does), so that is what gets parsed.
    if let Ok(token) = Token::parse(text.trim()) {
        let _ = (token.algorithm(), token.issuer(), format!("{token:?}"));
        let audiences = ["https://acme.adv.test".to_owned()];
        for (algorithms, audiences) in [
            (&[][..], &[][..]),
            (&[Algorithm::RS256][..], &audiences[..]),
            (&[Algorithm::ES256, Algorithm::EdDSA][..], &[][..]),
        ] {
            let validation = Validation {
                keys: fuzz_keys(),
                algorithms,
                audiences,
                clock_skew_seconds: 60,
                now: NOW,
            };
            if jwt::verify(&token, &validation).is_ok() {
                // Only a token signed by one of the suite's keys can verify: its signing input
                // must then be exactly what was signed, which the seeds are.
                assert!(text.trim().matches('.').count() == 2);
            }
        }
    } else {
        // A token the parser refuses can never be accepted by a decision.
        let header = format!("Bearer {text}");
        let request = Request {
            authority: "acme.adv.test",
            method: "GET",
            path: "/api/prompts/prompts/summarize",
            headers: &[("authorization", &header)],
            body: Body::Absent,
        };
        let outcome = adversarial_engine().decide(&request, Identity::Token, NOW);
        assert!(!outcome.decision.is_allow(), "unparseable token allowed");
    }
    let header = format!("Bearer {text}");
    for host in ["acme.adv.test", "globex.adv.test"] {
        let request = Request {
            authority: host,
            method: "GET",
            path: "/api/prompts/prompts/summarize",
            headers: &[("authorization", &header)],
            body: Body::Absent,
        };
        summarize(&adversarial_engine().decide(&request, Identity::Token, NOW));
    }
}

/// Every key of the adversarial suite's tenants, in one set.
fn fuzz_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut all = Vec::new();
        for name in [
            "acme-cp",
            "okta",
            "ci",
            "legacy-hs",
            "globex-cp",
            "globex-sso",
        ] {
            let path = repo().join(format!("tests/vectors/adversarial/keys/{name}.jwks.json"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            all.extend(parse_jwks(&text).unwrap_or_default());
        }
        KeySet::new(&all).unwrap_or_else(|_| KeySet::new(&[]).unwrap_or_else(|_| unreachable!()))
    })
}

fn compiled(gateway: &Path, inputs: &[PathBuf]) -> Engine {
    Engine::load(bundle_bytes(gateway, inputs), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("fuzz set-up: {e}"))
}

fn bundle_bytes(gateway: &Path, inputs: &[PathBuf]) -> Vec<u8> {
    let options = CompileOptions {
        gateway: Some(gateway.to_path_buf()),
        inputs: inputs.to_vec(),
        revision: Some("fuzz".into()),
        serial: 1,
    };
    let policy = compile_paths(&options).unwrap_or_else(|e| panic!("fuzz set-up: {e:?}"));
    gatehouse_engine::bundle::encode(&policy, None).unwrap_or_else(|e| panic!("fuzz set-up: {e}"))
}

// The engine keeps a per-thread token cache (not `Sync`): one engine per thread, leaked.
thread_local! {
    static ADVERSARIAL: &'static Engine = Box::leak(Box::new({
        let dir = repo().join("tests/vectors/adversarial");
        compiled(
            &dir.join("gateway.yaml"),
            &[dir.join("tenant-acme.yaml"), dir.join("tenant-globex.yaml")],
        )
    }));
    static CREDENTIALS: &'static Engine = Box::leak(Box::new({
        let dir = repo().join("tests/vectors/credentials");
        compiled(
            &dir.join("gateway.yaml"),
            &[
                dir.join("tenant.yaml"),
                dir.join("tenant.credentials.json"),
                dir.join("tenant-globex.yaml"),
                dir.join("tenant-globex.credentials.json"),
            ],
        )
    }));
    static ROUTES: &'static Engine = Box::leak(Box::new(compiled(
        &repo().join("fuzz/gateway.yaml"),
        &[repo().join("examples/acme"), repo().join("examples/globex")],
    )));
}

fn adversarial_engine() -> &'static Engine {
    ADVERSARIAL.with(|e| *e)
}

/// The example tenants behind `fuzz/gateway.yaml` (every placeholder kind and token source).
pub fn routes_engine() -> &'static Engine {
    ROUTES.with(|e| *e)
}

/// A whole request from one input: `method\nauthority\npath\n(header: value\n)*\nbody`.
pub fn route(data: &[u8]) {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((data, &b""[..]), |i| (&data[..i], &data[i + 2..]));
    let (head, body) = split;
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let method = lines.next().unwrap_or("GET");
    let authority = lines.next().unwrap_or("acme.gw.example.com");
    let path = lines.next().unwrap_or("/");
    let headers: Vec<(&str, &str)> = lines
        .map(|l| {
            l.split_once(':')
                .map_or((l, ""), |(n, v)| (n, v.trim_start()))
        })
        .collect();
    let engine = routes_engine();
    let gateway = engine.bundle().gateway();
    if let Some((matched, captures)) = route::match_route(gateway, method, path) {
        assert!(
            captures
                .iter()
                .all(|(_, v)| !v.is_empty() && !v.contains('/')),
            "a capture is one non-empty path segment"
        );
        let _ = matched.target.reads_body();
    }
    if request::canonical_path(path).is_ok() {
        // A canonical path has one reading: no segment an upstream resolves, merges or decodes
        // into a separator.
        let (p, _) = request::split_query(path);
        let lower = p.to_ascii_lowercase();
        assert!(p.starts_with('/'), "canonical paths are absolute");
        assert!(p == "/" || !p.ends_with('/'), "no trailing empty segment");
        for bad in ["//", "/./", "/../", "\\", "%2f", "%5c", "%2e", "%00"] {
            assert!(!lower.contains(bad), "canonical path {p:?} holds {bad:?}");
        }
        assert!(
            !p.ends_with("/.") && !p.ends_with("/.."),
            "no final dot segment"
        );
    }
    let _ = request::extract_token(&gateway.token_sources, path, &headers);
    let _ = request::query_param(path, "access_token");
    let _ = request::cookie(&headers, "gh_session");
    let body = if body.is_empty() {
        Body::Absent
    } else if body.len() > gateway.max_body_bytes as usize {
        Body::TooLarge
    } else {
        Body::Bytes(body)
    };
    let request = Request {
        authority,
        method,
        path,
        headers: &headers,
        body,
    };
    let _ = engine.needs_body(authority, method, path);
    summarize(&engine.decide(&request, Identity::Token, NOW));
    for subject in [
        "user:alice@acme.com",
        "user:carol@acme.com",
        "virtualaccount:ci-bot",
    ] {
        let outcome = engine.decide(&request, Identity::Subject(subject), NOW);
        // A resource path is only ever built from a matched route.
        assert!(outcome.resource().is_none() || outcome.route.is_some());
        summarize(&outcome);
    }
}

/// Request bodies: the strict JSON parser, differential against serde_json, and the body routes.
pub fn body(data: &[u8]) {
    if let Ok(value) = json::parse_strict(data) {
        // Strict parsing only ever refuses more than serde_json, never reads differently.
        let loose: serde_json::Value =
            serde_json::from_slice(data).unwrap_or_else(|e| panic!("strict ok, loose not: {e}"));
        assert_eq!(
            value, loose,
            "strict and loose parsers read different values"
        );
        for path in [&["model"][..], &["params", "name"], &["method"]] {
            let _ = json::at_path(&value, path);
        }
        // No object, at any depth, holds two keys equal under case folding: Go's encoding/json
        // would read either.
        fn no_folded_duplicates(v: &serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    let folded: std::collections::BTreeSet<String> = map
                        .keys()
                        .map(|k| gatehouse_engine::fold::fold(k).into_owned())
                        .collect();
                    assert_eq!(folded.len(), map.len(), "keys equal under folding accepted");
                    map.values().for_each(no_folded_duplicates);
                }
                serde_json::Value::Array(items) => items.iter().for_each(no_folded_duplicates),
                _ => {}
            }
        }
        no_folded_duplicates(&value);
    }
    let _ = route::parse_body(Body::Bytes(data));
    let engine = routes_engine();
    for (path, host) in [
        ("/api/llm/v1/chat/completions", "acme.gw.example.com"),
        ("/api/llm/mcp/github/server", "acme.gw.example.com"),
        ("/api/llm/mcp/jira/server", "localhost:8080"),
    ] {
        let request = Request {
            authority: host,
            method: "POST",
            path,
            headers: &[("content-type", "application/json")],
            body: Body::Bytes(data),
        };
        for subject in [
            "user:alice@acme.com",
            "user:carol@acme.com",
            "user:bob@acme.com",
        ] {
            let outcome = engine.decide(&request, Identity::Subject(subject), NOW);
            if json::parse_strict(data).is_err() {
                assert!(!outcome.decision.is_allow(), "invalid JSON body allowed");
            }
            summarize(&outcome);
        }
    }
}

/// The compiler's YAML input: a tenant file, or (first byte `G`) a gateway file. Whatever compiles
/// must encode, load, and encode again to the same bytes.
pub fn compile_yaml(data: &[u8]) {
    let (is_gateway, data) = match data.split_first() {
        Some((b'G', rest)) => (true, rest),
        _ => (false, data),
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A path that does not exist: relative `jwks_file`s cannot be read.
    let fake = Path::new("/nonexistent/gatehouse-fuzz/input.yaml");
    let result = if is_gateway {
        let tenant = seeds::inline_keys(&repo().join("examples/acme/tenant.yaml"));
        compile_sources(&Sources {
            gateway: Some((fake, text)),
            tenants: &[(fake, tenant.as_str())],
            files: Files::Disk,
            revision: Some("fuzz"),
            serial: 1,
        })
    } else {
        compile_sources(&Sources {
            gateway: None,
            tenants: &[(fake, text)],
            files: Files::Disk,
            revision: Some("fuzz"),
            serial: 1,
        })
    };
    let Ok(policy) = result else {
        return;
    };
    let bytes = gatehouse_engine::bundle::encode(&policy, None)
        .unwrap_or_else(|e| panic!("compiled policy does not encode: {e}"));
    let again = gatehouse_engine::bundle::encode(&policy, None)
        .unwrap_or_else(|e| panic!("compiled policy does not encode twice: {e}"));
    assert_eq!(bytes, again, "encoding is not deterministic");
    let engine = Engine::load(bytes, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("compiled bundle does not load: {e}"));
    exercise(&engine);
}

/// The group order of P-256, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// ES256 verification (Gatehouse's 32-bit P-256 arithmetic, through `jwt::verify_raw`) against
/// the `p256` crate: both must accept the same keys and the same signatures. Input: a mode byte,
/// 32 bytes of key seed, 64 bytes of signature material, then the message. The modes sign the
/// message with the seeded key and then keep, xor, replace, high-S-flip, truncate or half-replace
/// the signature, or (mode 5) read the key's coordinates from the material instead.
pub fn es256(data: &[u8]) {
    use gatehouse_engine::model::{Curve, Jwk, KeyMaterial};
    use p256::ecdsa::signature::{Signer as _, Verifier as _};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

    let mut fixed = [0u8; 97];
    for (slot, byte) in fixed.iter_mut().zip(data) {
        *slot = *byte;
    }
    let (mode, rest) = fixed.split_at(1);
    let (seed, material) = rest.split_at(32);
    let message = data.get(97..).unwrap_or_default();
    let mode = mode.first().copied().unwrap_or(0);

    let (key, jwk_xy, signature): (Option<VerifyingKey>, (Vec<u8>, Vec<u8>), Vec<u8>) =
        if mode % 8 == 5 {
            let mut sec1 = vec![4u8];
            sec1.extend_from_slice(material);
            let key = VerifyingKey::from_sec1_bytes(&sec1).ok();
            let (x, y) = material.split_at(32);
            (key, (x.to_vec(), y.to_vec()), seed.repeat(2))
        } else {
            let Ok(signer) = SigningKey::from_slice(seed) else {
                return;
            };
            let key = *signer.verifying_key();
            let point = key.to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return;
            };
            let sig: Signature = signer.sign(message);
            let valid = sig.to_bytes().to_vec();
            let signature = match mode % 8 {
                0 => valid,
                1 => valid.iter().zip(material).map(|(a, b)| a ^ b).collect(),
                2 => material.to_vec(),
                3 => {
                    // s -> n - s (high-S twin), then r xor the first material byte.
                    let mut twin = valid.clone();
                    let mut borrow = 0i16;
                    for i in (0..32).rev() {
                        let d = i16::from(P256_N[i]) - i16::from(valid[32 + i]) - borrow;
                        twin[32 + i] = d.rem_euclid(256) as u8;
                        borrow = i16::from(d < 0);
                    }
                    twin[31] ^= material[0] & 1;
                    twin
                }
                // Every length 0..=69: a prefix of the signature, longer ones padded with
                // material bytes.
                4 => valid
                    .iter()
                    .chain(material)
                    .take(usize::from(material[0]) % 70)
                    .copied()
                    .collect(),
                6 => [&valid[..32], &material[32..]].concat(),
                _ => [&material[..32], &valid[32..]].concat(),
            };
            (Some(key), (x.to_vec(), y.to_vec()), signature)
        };

    let jwk = Jwk {
        kid: None,
        alg: None,
        material: KeyMaterial::Ec {
            curve: Curve::P256,
            x: jwk_xy.0,
            y: jwk_xy.1,
        },
    };
    let ours = jwt::verify_raw(Algorithm::ES256, &jwk, message, &signature);
    match (&key, ours) {
        (None, Err(_)) => {}
        (Some(key), Ok(verified)) => {
            let want = Signature::from_slice(&signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok());
            assert_eq!(verified, want, "es256 disagrees with p256 (mode {mode})");
            if mode % 8 == 0 {
                assert!(verified, "a fresh signature must verify");
            }
        }
        (key, ours) => panic!(
            "key acceptance disagrees: p256 {}, gatehouse {ours:?}",
            key.is_some()
        ),
    }
}

/// Reading an authority: an accepted one is exactly `host[:port]` as it came (in lower case), a
/// host of the characters and shape the reader admits, and a port 1-65535; and tenant selection
/// through the engine never panics on it.
pub fn authority(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let _ = routes_engine().decide(
        &Request {
            authority: raw,
            method: "GET",
            path: "/healthz",
            headers: &[],
            body: Body::Absent,
        },
        Identity::Token,
        NOW,
    );
    let Ok(parsed) = authority::parse(raw) else {
        return;
    };
    let rebuilt = match parsed.port {
        Some(port) => format!("{}:{port}", parsed.host),
        None => parsed.host.to_string(),
    };
    assert_eq!(
        rebuilt,
        raw.to_ascii_lowercase(),
        "{raw:?} does not round-trip"
    );
    assert_ne!(parsed.port, Some(0));
    let host = parsed.host.as_ref();
    assert!(!host.is_empty() && !host.ends_with('.') && !host.contains(".."));
    if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        assert!(ip.parse::<std::net::Ipv6Addr>().is_ok(), "{raw:?}");
    } else {
        assert!(
            host.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b)),
            "{raw:?}"
        );
    }
}

/// The claim reader (`jwt::Claims`): every typed accessor against a reference reading of the
/// same JSON, on the names Gatehouse reads and on names and dotted paths taken from the input;
/// then the same claims signed for three issuers of the adversarial bundle (its control plane,
/// the `ci` provider of virtual accounts and the HS256 `legacy-sso` provider of users), where
/// a claim of the wrong type always makes the token `token_malformed`, a token with one is never
/// allowed, and `token_malformed` always has such a cause. Input: a JSON payload.
pub fn claims(data: &[u8]) {
    use gatehouse_engine::jwt::Claims;
    use serde_json::Value;

    let Some(claims) = Claims::from_json(data) else {
        return;
    };
    let Ok(Value::Object(members)) = json::parse_strict(data) else {
        panic!("Claims::from_json took a payload that is not a strict JSON object");
    };
    for path in probes(&members) {
        check_claim(&claims, &members, &path);
    }
    let registered = claims.registered(60);
    assert_eq!(
        registered.is_ok(),
        registered_well_typed(&members) && members.get("exp").is_some(),
        "registered claims: {:?}",
        registered.err()
    );

    // Decisions: give the token an issuer, and an `exp` and `iat` when it has none, so that
    // inputs reach the principal step; nothing else is changed.
    let mut base = members.clone();
    base.entry("exp").or_insert(Value::from(NOW + 600));
    base.entry("iat").or_insert(Value::from(NOW - 60));
    for flow in CLAIM_FLOWS {
        let mut payload = base.clone();
        payload.insert("iss".into(), Value::from(flow.issuer));
        let payload = Value::Object(payload);
        let Ok(bytes) = serde_json::to_vec(&payload) else {
            continue;
        };
        // Too long for a token, or (re-encoded) no longer a payload the parser takes: the decision
        // is still made, but the invariants below are about claim types only.
        let comparable = bytes.len() < 8 * 1024 && Claims::from_json(&bytes).is_some();
        let Ok(token) = gatehouse_deploy::keys::sign_jws(
            claim_key(flow.key),
            None,
            &serde_json::Map::new(),
            &payload,
        ) else {
            continue;
        };
        let header = format!("Bearer {token}");
        let request = Request {
            authority: "acme.adv.test",
            method: "GET",
            path: "/api/prompts/prompts/summarize",
            headers: &[("authorization", &header)],
            body: Body::Absent,
        };
        let outcome = adversarial_engine().decide(&request, Identity::Token, NOW);
        summarize(&outcome);
        if !comparable {
            continue;
        }
        let Value::Object(payload) = payload else {
            continue;
        };
        let registered_ok = registered_well_typed(&payload);
        let read_ok = registered_ok
            && flow.reads.iter().all(|(path, kind)| {
                let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                reference(&payload, &path).is_ok_and(|v| v.is_none_or(|v| kind.accepts(v)))
            });
        let reason = outcome.decision.reason();
        if !registered_ok {
            assert_eq!(
                reason,
                Some(gatehouse_engine::Reason::TokenMalformed),
                "{}: a registered claim of another type was not malformed",
                flow.issuer
            );
        }
        if !read_ok {
            assert!(
                !outcome.decision.is_allow(),
                "{}: a token with a claim of another type was allowed",
                flow.issuer
            );
        }
        if reason == Some(gatehouse_engine::Reason::TokenMalformed) {
            assert!(
                !read_ok,
                "{}: token_malformed for a token whose claims are all well typed",
                flow.issuer
            );
        }
    }
}

/// The JSON type a claim accepts.
#[derive(Debug, Clone, Copy)]
enum Kind {
    String,
    Bool,
    Date,
    Strings,
}

impl Kind {
    fn accepts(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match self {
            Kind::String => value.is_string(),
            Kind::Bool => value.is_boolean(),
            Kind::Date => value.as_i64().is_some(),
            Kind::Strings => match value {
                Value::String(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            },
        }
    }
}

const REGISTERED: [(&str, Kind); 7] = [
    ("iss", Kind::String),
    ("sub", Kind::String),
    ("jti", Kind::String),
    ("aud", Kind::Strings),
    ("exp", Kind::Date),
    ("nbf", Kind::Date),
    ("iat", Kind::Date),
];

/// An issuer of the adversarial tenant `acme`, the key that signs for it, and the claims
/// beyond the registered ones that Gatehouse reads from its tokens.
struct ClaimFlow {
    issuer: &'static str,
    key: &'static str,
    reads: &'static [(&'static [&'static str], Kind)],
}

const CLAIM_FLOWS: [ClaimFlow; 3] = [
    ClaimFlow {
        issuer: "https://cp.acme.adv.test",
        key: "acme-ed25519",
        reads: &[(&["tenant"], Kind::String)],
    },
    ClaimFlow {
        issuer: "https://ci.adv.test",
        key: "ci",
        reads: &[(&["repository"], Kind::String)],
    },
    ClaimFlow {
        issuer: "https://legacy.acme.adv.test",
        key: "legacy-hs",
        reads: &[
            (&["email"], Kind::String),
            (&["email_verified"], Kind::Bool),
        ],
    },
];

/// The private JWK `tests/vectors/adversarial/keys/<name>.private.jwk.json`, read once.
fn claim_key(name: &'static str) -> &'static str {
    static KEYS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        CLAIM_FLOWS
            .iter()
            .map(|flow| {
                let path = repo().join(format!(
                    "tests/vectors/adversarial/keys/{}.private.jwk.json",
                    flow.key
                ));
                (flow.key, std::fs::read_to_string(path).unwrap_or_default())
            })
            .collect()
    });
    keys.iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, text)| text.as_str())
}

fn registered_well_typed(members: &serde_json::Map<String, serde_json::Value>) -> bool {
    REGISTERED
        .iter()
        .all(|(name, kind)| members.get(*name).is_none_or(|v| kind.accepts(v)))
}

/// The reference reading of a dotted path: absent when a member is missing, `Err` when one on
/// the way is present but not an object.
fn reference<'a>(
    members: &'a serde_json::Map<String, serde_json::Value>,
    path: &[String],
) -> Result<Option<&'a serde_json::Value>, ()> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(None);
    };
    let mut object = members;
    for name in parents {
        match object.get(name) {
            None => return Ok(None),
            Some(serde_json::Value::Object(inner)) => object = inner,
            Some(_) => return Err(()),
        }
    }
    Ok(object.get(last))
}

/// Names Gatehouse reads, and names and paths from the input itself (bounded).
fn probes(members: &serde_json::Map<String, serde_json::Value>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = [
        "iss",
        "sub",
        "aud",
        "jti",
        "exp",
        "nbf",
        "iat",
        "tenant",
        "email",
        "email_verified",
        "groups",
        "repository",
    ]
    .iter()
    .map(|n| vec![n.to_string()])
    .collect();
    out.push(vec!["profile".into(), "email".into()]);
    out.push(vec![]);
    for (name, value) in members.iter().take(8) {
        out.push(vec![name.clone()]);
        out.push(vec![name.clone(), "x".into()]);
        if let serde_json::Value::Object(inner) = value {
            for (inner_name, inner_value) in inner.iter().take(4) {
                out.push(vec![name.clone(), inner_name.clone()]);
                if let serde_json::Value::Object(deep) = inner_value {
                    for deep_name in deep.keys().take(2) {
                        out.push(vec![name.clone(), inner_name.clone(), deep_name.clone()]);
                    }
                }
            }
        }
    }
    out
}

/// Every accessor on one path, against the reference.
fn check_claim(
    claims: &gatehouse_engine::jwt::Claims,
    members: &serde_json::Map<String, serde_json::Value>,
    path: &[String],
) {
    use gatehouse_engine::Reason::TokenMalformed;
    let want = reference(members, path);
    let expect = |kind: Kind| match want {
        Err(()) => Err(TokenMalformed),
        Ok(None) => Ok(false),
        Ok(Some(v)) if kind.accepts(v) => Ok(true),
        Ok(Some(_)) => Err(TokenMalformed),
    };
    assert_eq!(
        claims.string(path).map(|v| v.is_some()),
        expect(Kind::String),
        "string {path:?}"
    );
    if let (Ok(Some(got)), Ok(Some(v))) = (claims.string(path), want) {
        assert_eq!(Some(got), v.as_str());
    }
    assert_eq!(
        claims.boolean(path).map(|v| v.is_some()),
        expect(Kind::Bool),
        "boolean {path:?}"
    );
    if let (Ok(Some(got)), Ok(Some(v))) = (claims.boolean(path), want) {
        assert_eq!(Some(got), v.as_bool());
    }
    assert_eq!(
        claims.numeric_date(path).map(|v| v.is_some()),
        expect(Kind::Date),
        "numeric_date {path:?}"
    );
    if let (Ok(Some(got)), Ok(Some(v))) = (claims.numeric_date(path), want) {
        assert_eq!(Some(got), v.as_i64());
    }
    assert_eq!(
        claims.strings(path).map(|v| v.is_some()),
        expect(Kind::Strings),
        "strings {path:?}"
    );
    if let (Ok(Some(got)), Ok(Some(v))) = (claims.strings(path), want) {
        let got: Vec<&str> = got.iter().collect();
        let want: Vec<&str> = match v {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(items) => items.iter().filter_map(|i| i.as_str()).collect(),
            _ => vec![],
        };
        assert_eq!(got, want, "strings {path:?}");
    }
    // A single name reads the same as a path of one.
    if let [name] = path {
        assert_eq!(claims.string(name.as_str()), claims.string(path));
    }
}

/// An API key as presented: an accepted key is exactly what `credential::assemble` writes for its
/// id and secret (so nothing else reads as a key), and deciding a request that carries it, in
/// either source, never panics; an allowed request names that key's id.
pub fn api_key(data: &[u8]) {
    use gatehouse_engine::credential::{self, ApiKey};
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ApiKey::parse(raw) {
        assert!(credential::is_key(raw));
        assert_eq!(raw.len(), credential::KEY_LEN);
        let secret =
            &raw[credential::PREFIX.len() + credential::ID_LEN + 1..][..credential::SECRET_LEN];
        let again = credential::assemble(key.id, secret);
        assert_eq!(
            again.key, raw,
            "an accepted key is the one its parts assemble"
        );
        assert_eq!(again.digest, key.digest());
    }
    let engine = CREDENTIALS.with(|e| *e);
    let body = br#"{"model":"openai-main/gpt-4o","messages":[]}"#;
    let bearer = format!("Bearer {raw}");
    for headers in [
        [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ],
        [("x-api-key", raw), ("content-type", "application/json")],
    ] {
        let outcome = engine.decide(
            &Request {
                authority: "acme.gw.example.com",
                method: "POST",
                path: "/api/llm/v1/chat/completions",
                headers: &headers,
                body: Body::Bytes(body),
            },
            Identity::Token,
            NOW,
        );
        if outcome.decision.is_allow() {
            let id = ApiKey::parse(raw.trim()).map(|k| k.id).ok();
            assert!(id.is_some(), "allowed without a key: {raw:?}");
            assert_eq!(outcome.credential, id);
        }
    }
}

/// Trimming a `tools/list` response (`mcp::trim`). Input: a byte choosing the framing (JSON or
/// an event stream), a byte salting which tool names the caller may call, then the body. Trimming
/// never panics; a body it accepts comes out readable the same way (one JSON value, or events
/// whose data are JSON), lists no more tools than went in, lists only tools the caller may call,
/// and keeps every one of them when trimmed again for a caller who may call everything.
pub fn mcp_trim(data: &[u8]) {
    use gatehouse_engine::mcp::trim::{self, Kind};

    let [kind, salt, body @ ..] = data else {
        return;
    };
    let kind = if kind & 1 == 0 {
        Kind::Json
    } else {
        Kind::EventStream
    };
    let keep = |name: &str| {
        name.bytes()
            .fold(*salt, |acc, b| acc.wrapping_mul(31).wrapping_add(b))
            .count_ones()
            % 2
            == 0
    };
    let mut asked = 0usize;
    let Ok(first) = trim::trim(kind, body, &mut |name| {
        asked += 1;
        keep(name)
    }) else {
        return;
    };
    assert!(
        first.kept <= first.listed,
        "kept {} of {}",
        first.kept,
        first.listed
    );
    assert_eq!(asked, first.listed, "every listed tool is asked about once");
    match kind {
        Kind::Json => {
            assert!(
                json::parse_exact_keys(&first.body).is_ok(),
                "the trimmed body is not one JSON value: {:?}",
                String::from_utf8_lossy(&first.body)
            );
        }
        Kind::EventStream => {
            let text = std::str::from_utf8(&first.body).expect("a trimmed event stream is UTF-8");
            assert!(!text.contains('\r'), "lines end in LF on the way out");
            // As a reader reads it: past one leading byte-order mark.
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            for event in text.split("\n\n") {
                let data: Vec<&str> = event
                    .split('\n')
                    .filter_map(|line| {
                        let (name, value) = line.split_once(':').unwrap_or((line, ""));
                        (name == "data").then(|| value.strip_prefix(' ').unwrap_or(value))
                    })
                    .collect();
                let data = data.join("\n");
                if !data.trim().is_empty() {
                    assert!(
                        json::parse_exact_keys(data.as_bytes()).is_ok(),
                        "an event's data is not JSON: {data:?}"
                    );
                }
            }
        }
    }
    let mut survivors = Vec::new();
    let again = trim::trim(kind, &first.body, &mut |name| {
        survivors.push(name.to_owned());
        true
    })
    .unwrap_or_else(|e| {
        panic!(
            "the trimmed body does not trim again ({e:?}): {:?}",
            String::from_utf8_lossy(&first.body)
        )
    });
    assert_eq!(
        again.listed, first.kept,
        "the output lists exactly the kept tools"
    );
    assert_eq!(again.kept, again.listed);
    // Byte for byte: what is kept is copied as written (numbers of any length included), and
    // what is rewritten is written the one way the trimmer writes it.
    assert_eq!(
        String::from_utf8_lossy(&again.body),
        String::from_utf8_lossy(&first.body),
        "trimming keeps the kept text as it is"
    );
    for name in survivors {
        assert!(keep(&name), "a refused tool survived: {name:?}");
    }
}

/// The native Envoy module's FFI layer and glue, driven through its fake Envoy as Envoy drives
/// it: a request in `route`'s format (its headers, then its body in one to three chunks picked by
/// the input's length), and when the module lets it go on, a response carrying the same bytes
/// as a JSON body. Whatever the input: no panic reaches the boundary (the module would log it
/// and poison its configuration), at most one local reply per stream, a request answered
/// locally never goes on, and a request that goes on carries only the identity headers the
/// module set (tenant from the bundle), never one the client sent.
pub fn native_glue(data: &[u8]) {
    use gatehouse_module::ffi::fake::{take_log, FakeConfig};

    thread_local! {
        static CONFIG: FakeConfig = {
            let bundle = bundle_bytes(
                &repo().join("fuzz/gateway.yaml"),
                &[repo().join("examples/acme"), repo().join("examples/globex")],
            );
            let config = serde_json::json!({
                "bundle": base64_encode(&bundle),
                "allow_rollback": true,
            });
            FakeConfig::load(config.to_string().as_bytes())
                .unwrap_or_else(|| panic!("fuzz set-up: the module refused the bundle"))
        };
    }
    let (head, body) = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((data, &b""[..]), |i| (&data[..i], &data[i + 2..]));
    let mut lines = head.split(|b| *b == b'\n');
    let mut headers: Vec<(&[u8], &[u8])> = vec![
        (b":method", lines.next().unwrap_or(b"GET")),
        (
            b":authority",
            lines.next().unwrap_or(b"acme.gw.example.com"),
        ),
        (b":path", lines.next().unwrap_or(b"/")),
    ];
    for line in lines {
        let (name, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => (&line[..i], line[i + 1..].trim_ascii_start()),
            None => (line, &b""[..]),
        };
        headers.push((name, value));
    }
    let chunks = data.len() % 3 + 1;
    CONFIG.with(|config| {
        let mut stream = config.stream();
        let mut forwarded = stream.request_headers(&headers, body.is_empty()) == 0;
        if !body.is_empty() && stream.reply().is_none() {
            let size = body.len().div_ceil(chunks).max(1);
            let pieces: Vec<&[u8]> = body.chunks(size).collect();
            for (i, piece) in pieces.iter().enumerate() {
                let (status, _) = stream.request_body(piece, i + 1 == pieces.len());
                forwarded = status == 0;
                if stream.reply().is_some() {
                    break;
                }
            }
        }
        let reply = stream.reply();
        assert!(
            !(forwarded && reply.is_some()),
            "a request answered locally went on: {reply:?}"
        );
        if forwarded {
            let upstream = stream.upstream_headers();
            for (name, value) in &upstream {
                let spelled = name.to_ascii_lowercase().replace('_', "-");
                if spelled.starts_with("x-gatehouse-") {
                    assert!(
                        [
                            "x-gatehouse-tenant",
                            "x-gatehouse-subject",
                            "x-gatehouse-route",
                            "x-gatehouse-credential"
                        ]
                        .contains(&name.as_str()),
                        "{name} reached the upstream"
                    );
                }
                if name == "x-gatehouse-tenant" {
                    assert!(value == "acme" || value == "globex", "tenant {value:?}");
                }
            }
            let identity = upstream
                .iter()
                .filter(|(n, _)| n.starts_with("x-gatehouse-"))
                .count();
            let sent = headers
                .iter()
                .filter(|(n, _)| n.to_ascii_lowercase().starts_with(b"x-gatehouse-"))
                .count();
            assert!(
                identity <= 4,
                "{identity} identity headers (the client sent {sent})"
            );
            stream.response_headers(
                &[(b":status", b"200"), (b"content-type", b"application/json")],
                false,
            );
            let (_, _) = stream.response_body(body, true);
        }
        drop(stream);
        let log = take_log();
        assert!(
            !log.iter().any(|l| l.contains("panicked")),
            "the module panicked: {log:?}"
        );
    });
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
