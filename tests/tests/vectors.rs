//! The golden vectors (`tests/vectors`, the same cases the engine and `gatehouse check` replay in
//! `cli/tests/vectors.rs`) through a real Envoy: one Envoy per vector, serving that
//! vector's bundle with the `test-hooks` test build of the plugin set to the vector's `now`, and
//! every case that HTTP can express sent as a real request. Cases decided `as` a subject have no
//! HTTP form; they are skipped and counted.
//!
//! Checked per case: the HTTP status; on a denial the JSON body `{"error", "reason"}` (and
//! `www-authenticate`: the expected `www_authenticate`, else exactly on 401s); on a `respond`
//! (an MCP route's metadata) the body against `document`; on an allow, the identity headers the echo upstream saw
//! (`x-gatehouse-tenant`/`-subject`/`-route`/`-credential`) against the expected
//! `tenant`/`principal`/`route`/`credential`
//! (`expect_http` over `expect`). A denial whose request HTTP cannot carry verbatim (control
//! bytes, non-ASCII, over 48 KiB of header) may instead be Envoy's own 400/431: counted apart.
//! After the cases, the first allowed case is sent again: the VM survived them all.
//!
//! A vector with `also_at` (its answers hold from `now` until then) is also replayed through the
//! release `gatehouse.wasm` on the real clock, without its `now_only` cases.
//!
//! `GATEHOUSE_VECTOR=<name>` replays one vector; `GATEHOUSE_VECTORS_SKIP_KNOWN=1` skips cases
//! marked `known_issue`.

#![expect(clippy::panic, reason = "test code: a panic is a test failure")]

use std::time::Instant;

use gatehouse_compiler::compile_paths;
use gatehouse_e2e::{repo_root, send, Envoy, EnvoyOptions, HttpRequest, HttpResponse};
use gatehouse_engine::Reason;
use gatehouse_testkit::vectors::{self, Case, CaseRequest, Vector};
use serde_json::{json, Value};

#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    skipped_as: usize,
    skipped_known: usize,
    passed: usize,
    /// Denials Envoy's HTTP codec gave before the filter ran (among `passed`).
    codec_refused: usize,
    failed: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.skipped_as += other.skipped_as;
        self.skipped_known += other.skipped_known;
        self.passed += other.passed;
        self.codec_refused += other.codec_refused;
        self.failed += other.failed;
    }
}

/// Which build and clock a replay runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// The `test-hooks` build, its clock fixed at the vector's `now`: every case.
    Fixed,
    /// The release build on the real clock: the cases not marked `now_only`.
    Real,
}

#[test]
fn golden_vectors_through_envoy() {
    let only = std::env::var("GATEHOUSE_VECTOR").ok();
    let skip_known = std::env::var_os("GATEHOUSE_VECTORS_SKIP_KNOWN").is_some();
    let all =
        vectors::load_all(&repo_root().join("tests/vectors")).unwrap_or_else(|e| panic!("{e}"));
    let selected: Vec<Vector> = all
        .into_iter()
        .filter(|v| only.as_deref().is_none_or(|o| o == v.name))
        .collect();
    assert!(
        !selected.is_empty(),
        "no vectors found (GATEHOUSE_VECTOR={only:?})"
    );

    let started = Instant::now();
    let mut failures = Vec::new();
    let mut total = Tally::default();
    let real_now = gatehouse_review::clock::now();
    for vector in &selected {
        let mut clocks = vec![Clock::Fixed];
        match vector.also_at.iter().max() {
            Some(&until) if (vector.now..=until).contains(&real_now) => clocks.push(Clock::Real),
            Some(_) => eprintln!(
                "vector {}: the real clock is outside `now`..`also_at`: no real-clock replay",
                vector.name
            ),
            None => {}
        }
        for clock in clocks {
            let tally = replay(vector, clock, skip_known, &mut failures);
            eprintln!(
                "envoy vector {:<18} {:>3} sent, {:>2} skipped (as), {:>3} passed, {} failed{}{}{}",
                vector.name,
                tally.sent,
                tally.skipped_as,
                tally.passed,
                tally.failed,
                if tally.skipped_known > 0 {
                    format!(", {} skipped (known issue)", tally.skipped_known)
                } else {
                    String::new()
                },
                if tally.codec_refused > 0 {
                    format!(" ({} refused by Envoy's HTTP codec)", tally.codec_refused)
                } else {
                    String::new()
                },
                if clock == Clock::Real {
                    " [release build, real clock]"
                } else {
                    ""
                }
            );
            total.add(&tally);
        }
    }
    eprintln!(
        "envoy golden vectors: {} vectors, {} sent, {} skipped (as), {} skipped (known issue), \
         {} passed ({} refused by Envoy's HTTP codec), {} failed, in {:.1} s",
        selected.len(),
        total.sent,
        total.skipped_as,
        total.skipped_known,
        total.passed,
        total.codec_refused,
        total.failed,
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} golden vector failure(s) through Envoy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One Envoy for the vector, every HTTP case (for [`Clock::Real`]: not `now_only`) through it.
fn replay(vector: &Vector, clock: Clock, skip_known: bool, failures: &mut Vec<String>) -> Tally {
    let mut tally = Tally::default();
    let options = vector
        .compile_options()
        .unwrap_or_else(|e| panic!("vector `{}`: {e}", vector.name));
    let policy = compile_paths(&options)
        .unwrap_or_else(|e| panic!("vector `{}` does not compile: {e:?}", vector.name));
    let bundle = gatehouse_engine::bundle::encode(&policy, None)
        .unwrap_or_else(|e| panic!("vector `{}`: encode: {e}", vector.name));
    let envoy = Envoy::start(
        &format!("vector-{}", vector.name),
        &bundle,
        // Envoy's own path normalisation and underscore rejection off: the filter sees each
        // request exactly as the vector writes it, and must decide it as the engine does.
        EnvoyOptions {
            fixed_now: (clock == Clock::Fixed).then_some(vector.now),
            raw_paths: true,
            allow_underscores: true,
            ..EnvoyOptions::default()
        },
    );

    let clock_label = match clock {
        Clock::Fixed => "",
        Clock::Real => " (release build, real clock)",
    };
    let mut first_allow = None;
    for case in &vector.file.cases {
        if clock == Clock::Real && case.now_only {
            continue;
        }
        let label = format!("[{} / {}]{clock_label}", vector.name, case.name);
        if let Some(issue) = &case.known_issue {
            if skip_known {
                eprintln!("skipping {label}: known issue: {issue}");
                tally.skipped_known += 1;
                continue;
            }
        }
        let req = match vector.request(case) {
            Ok(r) => r,
            Err(e) => {
                tally.failed += 1;
                failures.push(format!("{label} bad case: {e}"));
                continue;
            }
        };
        if !req.is_http() {
            tally.skipped_as += 1;
            continue;
        }
        tally.sent += 1;
        let response = match send(envoy.port, &http_request(&req)) {
            Ok(r) => r,
            Err(e) => {
                tally.failed += 1;
                failures.push(format!("{label} envoy: no response: {e}"));
                continue;
            }
        };
        let wrong = check(case, &response);
        if wrong.is_empty() {
            tally.passed += 1;
            if first_allow.is_none() && response.status == 200 {
                first_allow = Some((case, req));
            }
        } else if codec_refused(case, &req, &response) {
            tally.passed += 1;
            tally.codec_refused += 1;
        } else {
            tally.failed += 1;
            let note = case
                .known_issue
                .as_ref()
                .map(|i| format!(" (known issue: {i})"))
                .unwrap_or_default();
            failures.push(format!(
                "{label} envoy: {}{note}\n    request {} {} host {}\n    response {} {}",
                wrong.join(", "),
                req.method,
                req.path,
                req.host,
                response.status,
                response.text()
            ));
        }
    }
    // The VM survived every case: the first allowed request still gets through.
    if let Some((case, req)) = first_allow {
        let wrong = check(case, &envoy.request(&http_request(&req)));
        if !wrong.is_empty() {
            tally.failed += 1;
            failures.push(format!(
                "[{} / {}]{clock_label} envoy, sent again after every case: {}",
                vector.name,
                case.name,
                wrong.join(", ")
            ));
        }
    }
    if tally.failed > 0 {
        // Keep the denial log lines next to the failures.
        eprintln!(
            "vector {}: Envoy log (gatehouse lines):\n{}",
            vector.name,
            envoy
                .log()
                .lines()
                .filter(|l| l.contains("wasm"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    tally
}

fn http_request(req: &CaseRequest) -> HttpRequest<'_> {
    let mut http = HttpRequest::new(&req.method, &req.path).host(&req.host);
    http.headers = req.headers.clone();
    http.body = req.body.clone();
    http
}

/// Whether Envoy itself refused a denied case's request before the filter ran (400, 431, no
/// `reason`), which HTTP could not carry verbatim: a newline, a tab, bytes outside ASCII, or
/// more than Envoy's 60 KiB of headers.
fn codec_refused(case: &Case, req: &CaseRequest, r: &HttpResponse) -> bool {
    let untransportable = req
        .headers
        .iter()
        .any(|(_, v)| v.len() > 48 * 1024 || v.bytes().any(|b| !(0x20..0x7f).contains(&b)));
    let denied = case.expect_over_http().get("status") != Some(&json!(200));
    let reason = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|b| b.get("reason").cloned());
    untransportable && denied && matches!(r.status, 400 | 431) && reason.is_none()
}

/// What the response gets wrong against the case's expectation (`expect_http` over `expect`).
fn check(case: &Case, r: &HttpResponse) -> Vec<String> {
    let mut wrong = Vec::new();
    let expected = case.expect_over_http();
    let expect = |field: &str| expected.get(field);
    let status = expect("status").and_then(Value::as_u64);
    if let Some(want) = status {
        if u64::from(r.status) != want {
            wrong.push(format!("status: expected {want}, got {}", r.status));
        }
    }
    if expect("decision").is_some_and(|d| d == "respond") {
        // The filter's own answer: the metadata document, as JSON.
        let body = serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null);
        if let Some(want) = expect("document") {
            if &body != want {
                wrong.push(format!("document: expected {want}, got {}", r.text()));
            }
        }
        if r.header("content-type") != Some("application/json") {
            wrong.push(format!(
                "content-type: expected application/json, got {:?}",
                r.header("content-type")
            ));
        }
        return wrong;
    }
    let allowed = expect("decision")
        .map(|d| d == "allow")
        .unwrap_or(status == Some(200));
    if allowed {
        // Reached the upstream: the echo's view of our identity headers.
        let echoed = serde_json::from_slice::<Value>(&r.body).ok();
        let Some(headers) = echoed.as_ref().and_then(|e| e.get("headers")) else {
            wrong.push("allowed, but the body is not the upstream's echo".to_owned());
            return wrong;
        };
        for (field, header) in [
            ("tenant", "x-gatehouse-tenant"),
            ("principal", "x-gatehouse-subject"),
            ("route", "x-gatehouse-route"),
            ("credential", "x-gatehouse-credential"),
        ] {
            if let Some(want) = expect(field) {
                let got = headers.get(header).cloned().unwrap_or(Value::Null);
                if &got != want {
                    wrong.push(format!("{header}: expected {want}, got {got}"));
                }
            }
        }
        return wrong;
    }

    // A local reply: `{"error": <kind of the status>, "reason": <code>}`.
    let body = serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null);
    if let Some(want) = expect("reason") {
        let got = body.get("reason").cloned().unwrap_or(Value::Null);
        if &got != want {
            wrong.push(format!("reason: expected {want}, got {got}"));
        }
    }
    // The error kind of the reason the filter gave, which must also be the one of its status.
    let kind = body
        .get("reason")
        .and_then(Value::as_str)
        .and_then(Reason::from_code)
        .filter(|reason| reason.status() == r.status)
        .map_or("?", |reason| reason.error_kind().as_str());
    if body.get("error") != Some(&json!(kind)) {
        wrong.push(format!(
            "body: expected error {kind:?} for {}, got {}",
            r.status,
            r.text()
        ));
    }
    if r.header("content-type") != Some("application/json") {
        wrong.push(format!(
            "content-type: expected application/json, got {:?}",
            r.header("content-type")
        ));
    }
    let challenge = r.header("www-authenticate");
    match expect("www_authenticate") {
        Some(want) => {
            if &json!(challenge) != want {
                wrong.push(format!(
                    "www-authenticate: expected {want}, got {challenge:?}"
                ));
            }
        }
        None => {
            if (r.status == 401) != challenge.is_some() {
                wrong.push(format!("www-authenticate on a {}: {challenge:?}", r.status));
            }
        }
    }
    wrong
}

/// The fixed clock is a test-build capability only: the release module (`gatehouse.wasm`, or
/// `libgatehouse_module.so` with `GATEHOUSE_FILTER=native`) does not even know the `fixed_now`
/// member (its configuration refuses it as unknown), the test build does.
#[test]
fn only_the_test_build_can_fix_the_clock() {
    let contains = |path: &std::path::Path| {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        bytes.windows(b"fixed_now".len()).any(|w| w == b"fixed_now")
    };
    let release = gatehouse_e2e::module();
    let test_build = gatehouse_e2e::module_test_hooks();
    assert!(
        !contains(release),
        "{} mentions fixed_now: the release build must not have the fixed clock",
        release.display()
    );
    assert!(
        contains(test_build),
        "{} does not mention fixed_now: not the test-hooks build?",
        test_build.display()
    );
}
