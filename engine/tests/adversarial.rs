//! The adversarial token suite (SPEC 7) at the engine level: every case of
//! `tests/adversarial/cases.json` (made with PyJWT / jwcrypto by `make_tokens.py`) is decided by
//! `Engine::decide` on a bundle compiled from the two tenants next to it, and must get exactly
//! the expected status and reason.
//!
//! The same file is meant to be replayed through Envoy: cases are transport-neutral (token, host,
//! method, path, expected status and reason). Cases marked `fixed_clock` depend on the file's
//! clock and are the only ones a live replay must skip; `clock_independent` proves the rest do not.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gatehouse_compiler::{compile_paths, CompileOptions};
use gatehouse_engine::route::Body;
use gatehouse_engine::{Engine, Identity, LoadOptions, Reason, Request};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[expect(dead_code, reason = "documentation for humans")]
    description: String,
    #[expect(dead_code, reason = "now_unix is what the runner uses")]
    now: String,
    now_unix: i64,
    gateway: String,
    inputs: Vec<String>,
    #[expect(dead_code, reason = "provenance for humans")]
    generated_with: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    category: String,
    library: String,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for humans")]
    note: Option<String>,
    #[serde(default)]
    fixed_clock: bool,
    request: CaseRequest,
    /// The token, sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    token: Option<String>,
    /// The token as raw bytes (hex), for bytes that are not UTF-8.
    #[serde(default)]
    token_hex: Option<String>,
    expect: Expect,
    /// What an HTTP replay expects instead, where HTTP changes the input (trims the header).
    #[serde(default)]
    #[expect(dead_code, reason = "for HTTP replays only")]
    expect_http: Option<Expect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRequest {
    method: String,
    host: String,
    path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    decision: String,
    status: u16,
    reason: Option<String>,
    #[serde(default)]
    principal: Option<String>,
}

/// Every attack class SPEC 7 names, by the `category` the generator gives it.
const REQUIRED_CATEGORIES: [&str; 28] = [
    "control",
    "alg-none",
    "hs-confusion",
    "alg-mixup",
    "signature-stripped",
    "signature-foreign-key",
    "kid",
    "embedded-key",
    "crit",
    "b64",
    "jwe",
    "time",
    "skew-edge",
    "exp-type",
    "issuer",
    "cross-tenant",
    "audience",
    "tenant-claim",
    "duplicate-json",
    "base64",
    "whitespace",
    "oversized",
    "non-utf8",
    "revoked-jti",
    "va-rotation",
    "principal-inactive",
    "principal-unknown",
    "principal-expired",
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/adversarial")
}

fn load() -> (CaseFile, Engine) {
    let text = std::fs::read_to_string(dir().join("cases.json")).expect("read cases.json");
    let file: CaseFile = serde_json::from_str(&text).expect("parse cases.json");
    let options = CompileOptions {
        gateway: Some(dir().join(&file.gateway)),
        inputs: file.inputs.iter().map(|i| dir().join(i)).collect(),
        revision: Some("adversarial".into()),
        serial: 1,
    };
    let policy = compile_paths(&options).unwrap_or_else(|e| panic!("compile: {e:?}"));
    let bytes = gatehouse_engine::bundle::encode(&policy, None).expect("encode");
    let engine = Engine::load(bytes, &LoadOptions::default()).expect("load");
    (file, engine)
}

fn token_text(case: &Case) -> Option<String> {
    match (&case.token, &case.token_hex) {
        (Some(t), None) => Some(t.clone()),
        (None, Some(hex)) => {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            assert!(
                std::str::from_utf8(&bytes).is_err(),
                "{}: token_hex is for bytes that are not UTF-8",
                case.name
            );
            // The engine takes text; a filter handed these bytes must not panic and may only
            // pass them on lossily, which makes them malformed.
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        (None, None) => None,
        (Some(_), Some(_)) => panic!("{}: both token and token_hex", case.name),
    }
}

/// `(status, reason, principal)` the engine gives the case at `now`.
fn decide(engine: &Engine, case: &Case, now: i64) -> (u16, Option<Reason>, Option<String>) {
    let authorization = token_text(case).map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = authorization
        .as_deref()
        .map(|v| ("authorization", v))
        .into_iter()
        .collect();
    let request = Request {
        authority: &case.request.host,
        method: &case.request.method,
        path: &case.request.path,
        headers: &headers,
        body: Body::Absent,
    };
    let outcome = engine.decide(&request, Identity::Token, now);
    let reason = outcome.decision.reason();
    let status = reason.map_or(200, Reason::status);
    (status, reason, outcome.subject())
}

/// Differences between what the case expects and what the engine did, empty when they agree.
fn check(case: &Case, got: &(u16, Option<Reason>, Option<String>)) -> Vec<String> {
    let (status, reason, principal) = got;
    let mut diffs = Vec::new();
    let decision = if reason.is_none() { "allow" } else { "deny" };
    if decision != case.expect.decision {
        diffs.push(format!(
            "decision {decision}, expected {}",
            case.expect.decision
        ));
    }
    if *status != case.expect.status {
        diffs.push(format!("status {status}, expected {}", case.expect.status));
    }
    let code = reason.map(Reason::code);
    if code != case.expect.reason.as_deref() {
        diffs.push(format!(
            "reason {code:?}, expected {:?}",
            case.expect.reason
        ));
    }
    if let Some(expected) = &case.expect.principal {
        if principal.as_ref() != Some(expected) {
            diffs.push(format!("principal {principal:?}, expected {expected}"));
        }
    }
    diffs
}

#[test]
fn every_adversarial_case_gets_its_status_and_reason() {
    let (file, engine) = load();
    let mut failures = Vec::new();
    let mut rejected = 0;
    let mut allowed = 0;
    let mut by_library: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &file.cases {
        let got = decide(&engine, case, file.now_unix);
        let diffs = check(case, &got);
        if diffs.is_empty() {
            if got.1.is_some() {
                rejected += 1;
            } else {
                allowed += 1;
            }
        } else {
            failures.push(format!(
                "  {} [{}]: {}",
                case.name,
                case.category,
                diffs.join("; ")
            ));
        }
        *by_library.entry(case.library.as_str()).or_default() += 1;
    }
    println!(
        "adversarial tokens: {} cases tried, {rejected} rejected correctly, {allowed} allowed \
         correctly (controls), {} disagreements; made by {by_library:?}",
        file.cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
}

/// A live replay (Envoy) runs on the real clock: every case not marked `fixed_clock` must give
/// the same answer at any time between the tokens' `iat` and `exp`.
#[test]
fn clock_independent_cases_do_not_depend_on_the_clock() {
    let (file, engine) = load();
    // 2027-01-15, 2030-01-01 and 2035-12-31: after every fixed `iat`, before every fixed `exp`.
    for now in [1_800_000_000, 1_893_456_000, 2_082_672_000] {
        for case in file.cases.iter().filter(|c| !c.fixed_clock) {
            let diffs = check(case, &decide(&engine, case, now));
            assert!(
                diffs.is_empty(),
                "{} at {now}: {}",
                case.name,
                diffs.join("; ")
            );
        }
    }
}

#[test]
fn the_suite_covers_every_attack_class() {
    let (file, _) = load();
    let mut names = BTreeSet::new();
    let mut categories: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &file.cases {
        assert!(
            names.insert(case.name.as_str()),
            "duplicate name {}",
            case.name
        );
        *categories.entry(case.category.as_str()).or_default() += 1;
        let expected = &case.expect;
        match expected.decision.as_str() {
            "allow" => assert!(
                expected.status == 200 && expected.reason.is_none(),
                "{}",
                case.name
            ),
            "deny" => {
                let reason = expected.reason.as_deref().and_then(Reason::from_code);
                let reason = reason.unwrap_or_else(|| panic!("{}: unknown reason", case.name));
                assert_eq!(reason.status(), expected.status, "{}", case.name);
            }
            other => panic!("{}: decision {other}", case.name),
        }
    }
    for category in REQUIRED_CATEGORIES {
        assert!(
            categories.contains_key(category),
            "no case of category {category}"
        );
    }
    assert!(
        categories.keys().all(|c| REQUIRED_CATEGORIES.contains(c)),
        "unknown category in {categories:?}"
    );
    // The generator really used both libraries.
    let libraries: BTreeSet<&str> = file
        .cases
        .iter()
        .filter_map(|c| c.library.split_whitespace().next())
        .collect();
    for library in ["PyJWT", "jwcrypto", "hand"] {
        assert!(libraries.contains(library), "no case made by {library}");
    }
}
