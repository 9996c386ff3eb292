//! The native glue through the fake Envoy (`ffi::fake`): every golden vector's HTTP cases, each
//! body in two chunks, answered as the vector expects; metrics; configurations refused.

use std::cell::Cell;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_compiler::compile_paths;
use gatehouse_testkit::vectors::{self, Case, CaseRequest};
use serde_json::{json, Value};

use crate::ffi::fake::{FakeConfig, FakeStream, Reply};

thread_local! {
    /// The clock of this test thread's streams (`None`: the machine's).
    pub(super) static NOW: Cell<Option<i64>> = const { Cell::new(None) };
}

/// A configuration carrying `bundle` inline. Rollback allowed: the tests of this process share
/// the serial in service, and vectors have their own serials.
fn config_json(bundle: &[u8]) -> Vec<u8> {
    json!({ "bundle": STANDARD.encode(bundle), "allow_rollback": true })
        .to_string()
        .into_bytes()
}

/// What a stream ended with.
#[derive(Debug)]
enum Answer {
    Reply(Reply),
    /// Forwarded: the request headers as the upstream gets them.
    Forwarded(Vec<(String, String)>),
    Held,
}

fn drive(stream: &mut FakeStream, req: &CaseRequest) -> Answer {
    let mut headers: Vec<(String, String)> = vec![
        (":authority".into(), req.host.clone()),
        (":method".into(), req.method.clone()),
        (":path".into(), req.path.clone()),
    ];
    headers.extend(req.headers.iter().cloned());
    if let Some(body) = &req.body {
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            headers.push(("content-length".into(), body.len().to_string()));
        }
    }
    let raw: Vec<(&[u8], &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let body = req.body.as_deref();
    let mut status = stream.request_headers(&raw, body.is_none());
    if let Some(body) = body {
        if stream.reply().is_none() {
            let (first, second) = body.split_at(body.len() / 2);
            let (s, _) = stream.request_body(first, false);
            status = s;
            if stream.reply().is_none() && s != 0 {
                status = stream.request_body(second, true).0;
            }
        }
    }
    match (stream.reply(), status) {
        (Some(reply), _) => Answer::Reply(reply),
        (None, 0) => Answer::Forwarded(stream.upstream_headers()),
        (None, _) => Answer::Held,
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the answer gets wrong against the case (`expect`: the fake carries every byte as the
/// vector writes it, as the engine reads it).
fn check(case: &Case, answer: &Answer) -> Vec<String> {
    let expect = |field: &str| case.expect.get(field);
    let mut wrong = Vec::new();
    let status = expect("status").and_then(Value::as_u64);
    match answer {
        Answer::Held => wrong.push("the stream was held with no reply".to_owned()),
        Answer::Forwarded(headers) => {
            if status.is_some_and(|s| s != 200) || expect("decision").is_some_and(|d| d != "allow")
            {
                wrong.push(format!("forwarded, expected {status:?}"));
            }
            for (field, name) in [
                ("tenant", "x-gatehouse-tenant"),
                ("principal", "x-gatehouse-subject"),
                ("route", "x-gatehouse-route"),
                ("credential", "x-gatehouse-credential"),
            ] {
                if let Some(want) = expect(field) {
                    if &json!(header(headers, name)) != want {
                        wrong.push(format!(
                            "{name}: expected {want}, got {:?}",
                            header(headers, name)
                        ));
                    }
                }
            }
        }
        Answer::Reply(reply) => {
            if let Some(want) = status {
                if u64::from(reply.status) != want {
                    wrong.push(format!("status: expected {want}, got {}", reply.status));
                }
            }
            let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            if expect("decision").is_some_and(|d| d == "respond") {
                if let Some(want) = expect("document") {
                    if &body != want {
                        wrong.push(format!("document: expected {want}, got {body}"));
                    }
                }
                return wrong;
            }
            if let Some(want) = expect("reason") {
                if body.get("reason").unwrap_or(&Value::Null) != want {
                    wrong.push(format!("reason: expected {want}, got {body}"));
                }
            }
            let challenge = header(&reply.headers, "www-authenticate");
            match expect("www_authenticate") {
                Some(want) if &json!(challenge) != want => {
                    wrong.push(format!(
                        "www-authenticate: expected {want}, got {challenge:?}"
                    ));
                }
                None if (reply.status == 401) != challenge.is_some() => {
                    wrong.push(format!(
                        "www-authenticate on a {}: {challenge:?}",
                        reply.status
                    ));
                }
                _ => {}
            }
        }
    }
    wrong
}

#[test]
fn golden_vectors_through_the_fake_envoy() {
    let root = gatehouse_testkit::repo_path("tests/vectors");
    let mut failures = Vec::new();
    let mut sent = 0;
    for vector in vectors::load_all(&root).unwrap() {
        let policy = compile_paths(&vector.compile_options().unwrap())
            .unwrap_or_else(|e| panic!("vector {}: {e:?}", vector.name));
        let bundle = gatehouse_engine::bundle::encode(&policy, None).unwrap();
        let config = FakeConfig::load(&config_json(&bundle))
            .unwrap_or_else(|| panic!("vector {}: configuration refused", vector.name));
        NOW.set(Some(vector.now));
        for case in &vector.file.cases {
            let req = vector.request(case).unwrap();
            if !req.is_http() {
                continue;
            }
            sent += 1;
            let mut stream = config.stream();
            let answer = drive(&mut stream, &req);
            let wrong = check(case, &answer);
            if !wrong.is_empty() {
                failures.push(format!(
                    "[{} / {}] {}",
                    vector.name,
                    case.name,
                    wrong.join(", ")
                ));
            }
        }
        NOW.set(None);
    }
    eprintln!("fake envoy: {sent} cases, {} failed", failures.len());
    assert!(sent > 100, "only {sent} cases replayed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The fixture bundle of the end-to-end suite, compiled.
fn fixture_bundle() -> Vec<u8> {
    let root = gatehouse_testkit::repo_path("tests/fixtures");
    let policy = compile_paths(&gatehouse_compiler::compile::CompileOptions {
        gateway: Some(root.join("gateway.yaml")),
        inputs: vec![root.join("tenant.yaml")],
        ..Default::default()
    })
    .unwrap();
    gatehouse_engine::bundle::encode(&policy, None).unwrap()
}

#[test]
fn metrics_count_what_the_flow_reports() {
    let config = FakeConfig::load(&config_json(&fixture_bundle())).unwrap();
    assert_eq!(config.metric("gatehouse.bundle_loads"), 1);
    let defined = config.metrics();
    for name in [
        "gatehouse.allowed",
        "gatehouse.denied.token_missing",
        "gatehouse.token_cache_hits",
    ] {
        assert!(
            defined.contains_key(name),
            "{name} is not defined: {defined:?}"
        );
    }
    let mut stream = config.stream();
    let status = stream.request_headers(
        &[
            (b":authority", b"localhost"),
            (b":method", b"GET"),
            (b":path", b"/api/prompts/repo/p"),
            (b"x-gatehouse-subject", b"spoofed"),
        ],
        true,
    );
    let reply = stream.reply().expect("a denial");
    assert_eq!(status, 1, "a denied request is held");
    assert_eq!(reply.status, 401);
    assert_eq!(config.metric("gatehouse.denied"), 1);
    assert_eq!(config.metric("gatehouse.denied.token_missing"), 1);
    drop(stream);
    let log = crate::ffi::fake::take_log().join("\n");
    assert!(log.contains("deny reason=token_missing"), "{log}");
}

#[test]
fn configurations_that_cannot_load_are_refused() {
    for bad in [
        &b""[..],
        b"{}",
        b"{\"bundle\": \"not base64!\"}",
        b"{\"bundle_path\": \"/nonexistent/gatehouse.bundle\"}",
        b"GATEHOUSE-not-really-a-bundle",
    ] {
        assert!(
            FakeConfig::load(bad).is_none(),
            "{:?} loaded",
            String::from_utf8_lossy(bad)
        );
    }
    let mut tampered = fixture_bundle();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(FakeConfig::load(&config_json(&tampered)).is_none());
}

#[test]
fn a_bundle_path_is_read_once_at_load() {
    let dir = std::env::temp_dir().join(format!("gatehouse-module-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fixture.bundle");
    std::fs::write(&path, fixture_bundle()).unwrap();
    let config = json!({ "bundle_path": path, "allow_rollback": true }).to_string();
    let loaded = FakeConfig::load(config.as_bytes()).expect("loads from the path");
    std::fs::remove_file(&path).unwrap();
    // Nothing is read per request: the stream still decides with the file gone.
    let mut stream = loaded.stream();
    stream.request_headers(
        &[
            (b":authority", b"localhost"),
            (b":method", b"GET"),
            (b":path", b"/"),
        ],
        true,
    );
    assert!(stream.reply().is_some());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_header_name_that_is_not_text_is_refused_not_left_in_place() {
    let config = FakeConfig::load(&config_json(&fixture_bundle())).unwrap();
    let mut stream = config.stream();
    stream.request_headers(
        &[
            (b":authority", b"localhost"),
            (b":method", b"GET"),
            (b":path", b"/api/prompts/repo/p"),
            (b"x-gatehouse-subject\xff", b"user:admin@e2e.test"),
        ],
        true,
    );
    let reply = stream.reply().expect("a refusal");
    assert_eq!(reply.status, 503, "{reply:?}");
}
