//! Issue 5 at the Envoy level (SPEC 7), through the e2e harness: bundles the filter must refuse
//! while it keeps serving the previous one (among them an older one: rollback), fail-closed
//! behaviour, and hot reload under load. The adversarial tokens are a golden vector
//! (`tests/vectors/adversarial`), replayed through Envoy by `tests/tests/vectors.rs`.

#![expect(
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_e2e::{
    fixture_bundle, fixture_bundle_with_serial, send, signed_fixture_bundle_with_serial, token,
    Envoy, EnvoyOptions, HttpRequest,
};
use serde_json::json;

const CHAT: &str = "/api/llm/v1/chat/completions";

/// One request with the given raw `authorization` value bytes, on a fresh connection; `None` when
/// Envoy closed the connection without an HTTP response.
fn send_raw(
    port: u16,
    method: &str,
    host: &str,
    path: &str,
    auth: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n").into_bytes();
    head.extend_from_slice(b"authorization: ");
    head.extend_from_slice(auth);
    head.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&head).ok()?;
    // Read the head, then exactly `content-length` bytes: waiting for the close would cost
    // Envoy's delayed-close timeout (1 s) per request.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let head_end = out.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|len| out.len() >= end + 4 + len) {
                break;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&out);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.as_bytes().to_vec())
        .unwrap_or_default();
    Some((status, body))
}

// ---------------------------------------------------------------------------------------------
// Bundles the filter must refuse, while it keeps serving the previous one.

#[test]
fn filter_refuses_bad_bundles_and_keeps_serving() {
    let signed = gatehouse_e2e::signed_fixture_bundle("20");
    let options = EnvoyOptions {
        trusted_keys: vec![gatehouse_e2e::fixture_signing_public_key()],
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start("refuse", &signed, options);
    let carol = token("user:carol@e2e.test", json!({}));
    let chat = || {
        HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .json(&json!({"model": "openai/gpt-4o"}))
    };
    assert_eq!(envoy.request(&chat()).status, 200);

    let fails = "extension_config_discovery.http_filter.gatehouse.config_fail";
    let mut bad: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut truncated = gatehouse_e2e::signed_fixture_bundle("21");
    truncated.truncate(truncated.len() - 10);
    bad.push(("truncated", truncated, "bundle truncated"));
    let mut flipped = gatehouse_e2e::signed_fixture_bundle("22");
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    bad.push(("bit-flipped body", flipped, "digest mismatch"));
    let mut flipped_sig = gatehouse_e2e::signed_fixture_bundle("23");
    let last = flipped_sig.len() - 1;
    flipped_sig[last] ^= 0x01;
    bad.push(("bit-flipped signature", flipped_sig, "signature is invalid"));
    let mut future = gatehouse_e2e::signed_fixture_bundle("24");
    let next_major = gatehouse_engine::bundle::FORMAT_MAJOR + 1;
    future[8..10].copy_from_slice(&next_major.to_le_bytes());
    let future_message = format!("unsupported bundle format {next_major}.");
    bad.push(("future major", future, future_message.as_str()));
    bad.push((
        "unsigned",
        fixture_bundle("25", str::to_owned, str::to_owned),
        "bundle is unsigned",
    ));
    // Signed, but by a key that is not pinned.
    let foreign = gatehouse_e2e::foreign_signed_fixture_bundle("26");
    bad.push(("foreign-signed", foreign, "not trusted"));

    let mut refused = 0;
    for (what, bytes, message) in &bad {
        let before = envoy.stat(fails);
        envoy.push(bytes);
        envoy.eventually(&format!("{what} bundle rejected"), |e| {
            e.stat(fails) > before
        });
        assert!(
            envoy.log().contains(message),
            "{what}: no `{message}` in the log"
        );
        assert_eq!(
            envoy.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")),
            20,
            "{what}: revision changed"
        );
        assert_eq!(
            envoy.request(&chat()).status,
            200,
            "{what}: old bundle not serving"
        );
        refused += 1;
    }
    println!("filter: {refused} bad bundles refused, revision 20 kept serving after each");
}

/// A validly signed but older bundle (lower serial) must not replace the one in service; with
/// `"allow_rollback": true` in the VM configuration it does.
#[test]
fn rollback_to_an_older_bundle_is_refused() {
    // Serial 10: dave is in team ml and may chat. Serial 5 (older): he is not in it.
    let newer = |revision: &str| {
        fixture_bundle_with_serial(revision, 10, str::to_owned, |t| {
            t.replace(
                "members: [carol@e2e.test]",
                "members: [carol@e2e.test, dave@e2e.test]",
            )
        })
    };
    let older = fixture_bundle_with_serial("5", 5, str::to_owned, str::to_owned);
    let dave = token("user:dave@e2e.test", json!({}));
    let chat = || {
        HttpRequest::new("POST", CHAT)
            .bearer(&dave)
            .json(&json!({"model": "openai/gpt-4o"}))
    };
    let fails = "extension_config_discovery.http_filter.gatehouse.config_fail";
    let rejections = &gatehouse_e2e::stat_name("gatehouse.bundle_rejections");
    let revision = &gatehouse_e2e::stat_name("gatehouse.bundle_revision");

    let envoy = Envoy::start("rollback", &newer("10"), EnvoyOptions::default());
    assert_eq!(
        envoy.request(&chat()).status,
        200,
        "serial 10 lets dave chat"
    );
    let (fails_before, rejections_before) = (envoy.stat(fails), envoy.stat(rejections));
    envoy.push(&older);
    envoy.eventually("the serial-5 bundle refused", |e| {
        e.stat(fails) > fails_before
    });
    let message = "rollback refused: serial 5 is older than serial 10 in service";
    assert!(envoy.log().contains(message), "no `{message}` in the log");
    // Refused where Envoy validates the configuration (the base VM), not by failing the
    // per-thread VMs that serve.
    assert!(
        !envoy.log().contains("Failed to configure thread-local"),
        "a VM failed on the refusal: {}",
        envoy.log()
    );
    assert!(
        envoy.stat(rejections) > rejections_before,
        "the refusal is not counted in {rejections}"
    );
    assert_eq!(envoy.stat(revision), 10, "revision changed");
    let after_refusal = envoy.request(&chat()).status;
    assert_eq!(after_refusal, 200, "the serial-10 bundle no longer serves");
    // The same serial again is a re-push, accepted.
    envoy.push(&newer("11"));
    envoy.eventually("serial 10 pushed again (revision 11)", |e| {
        e.stat(revision) == 11
    });
    assert_eq!(envoy.request(&chat()).status, 200);
    let refused = envoy.stat(fails) - fails_before;
    drop(envoy);

    // A second Envoy whose VM configuration allows rollback.
    let options = EnvoyOptions {
        allow_rollback: true,
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start("rollback-allowed", &newer("10"), options);
    assert_eq!(
        envoy.request(&chat()).status,
        200,
        "serial 10 lets dave chat"
    );
    envoy.push(&older);
    envoy.eventually("the serial-5 bundle accepted", |e| e.stat(revision) == 5);
    let after_rollback = envoy.request(&chat()).status;
    assert_eq!(after_rollback, 403, "the serial-5 bundle is not serving");
    assert!(envoy
        .log()
        .contains("rolling back from serial 10 to serial 5"));
    assert_eq!(envoy.stat(fails), 0);
    println!(
        "rollback: serial 5 after serial 10 refused ({refused} config_fail), dave still {after_refusal}; \
         serial 10 re-pushed accepted; with allow_rollback serial 5 accepted, dave {after_rollback}"
    );
}

/// The serial in service belongs to the bundle's signer, not to anything else the resource that
/// carries the bundle sets: an older signed bundle delivered under a new filter name and root id
/// (which Envoy runs in the same VM, since its id, code and configuration are unchanged) is
/// refused like any other rollback, and a token the newer bundle revoked stays refused.
#[test]
fn a_renamed_filter_cannot_roll_back() {
    let revoking = |t: &str| {
        t.replace(
            "  jwks_file: keys/e2e-cp.jwks.json\n",
            "  jwks_file: keys/e2e-cp.jwks.json\n  revoked_token_ids: [\"jti-leaked\"]\n",
        )
    };
    let older = signed_fixture_bundle_with_serial("10", 10, str::to_owned);
    let newer = signed_fixture_bundle_with_serial("20", 20, revoking);
    let leaked = token("user:carol@e2e.test", json!({"jti": "jti-leaked"}));
    let chat = || {
        HttpRequest::new("POST", CHAT)
            .bearer(&leaked)
            .json(&json!({"model": "openai/gpt-4o"}))
    };
    let fails = "extension_config_discovery.http_filter.gatehouse.config_fail";
    let revision = &gatehouse_e2e::stat_name("gatehouse.bundle_revision");
    let options = EnvoyOptions {
        trusted_keys: vec![gatehouse_e2e::fixture_signing_public_key()],
        ..EnvoyOptions::default()
    };

    let envoy = Envoy::start("renamed-rollback", &older, options);
    assert_eq!(
        envoy.request(&chat()).status,
        200,
        "serial 10 lets the token in"
    );
    envoy.push(&newer);
    envoy.eventually("serial 20 in service", |e| e.stat(revision) == 20);
    let revoked = envoy.request(&chat());
    assert_eq!(
        (revoked.status, revoked.reason().as_deref()),
        (401, Some("token_revoked")),
        "serial 20 revokes the token"
    );

    // The older bundle again, under a filter name and root id nothing has served under.
    let fails_before = envoy.stat(fails);
    envoy.push_edited(&older, |resource| {
        let config = &mut resource["resources"][0]["typed_config"]["config"];
        config["name"] = json!("gatehouse-renamed");
        config["root_id"] = json!("gatehouse-renamed");
    });
    envoy.eventually("the renamed serial-10 bundle refused", |e| {
        e.stat(fails) > fails_before
    });
    let message = "rollback refused: serial 10 is older than serial 20 in service";
    assert!(envoy.log().contains(message), "no `{message}` in the log");
    assert!(
        !envoy.log().contains("Failed to configure thread-local"),
        "a VM failed on the refusal: {}",
        envoy.log()
    );
    assert_eq!(envoy.stat(revision), 20, "revision changed");
    let after = envoy.request(&chat());
    assert_eq!(
        (after.status, after.reason().as_deref()),
        (401, Some("token_revoked")),
        "the revoked token works again"
    );

    // A newer bundle under the new name is an ordinary update.
    let newest = signed_fixture_bundle_with_serial("21", 21, revoking);
    envoy.push_edited(&newest, |resource| {
        resource["resources"][0]["typed_config"]["config"]["name"] = json!("gatehouse-renamed");
    });
    envoy.eventually("serial 21 under the new name", |e| e.stat(revision) == 21);
    assert_eq!(envoy.request(&chat()).status, 401);
    println!(
        "renamed filter: serial 10 after serial 20 refused ({} config_fail), the revoked token \
         still {}; serial 21 under the new name accepted",
        envoy.stat(fails) - fails_before,
        after.status
    );
}

// ---------------------------------------------------------------------------------------------
// Fail closed.

/// A request whose body never ends is held, never forwarded; a request with a body that stops
/// short is never allowed.
#[test]
fn a_body_that_never_ends_is_never_forwarded() {
    let envoy = Envoy::start(
        "endless",
        &fixture_bundle("30", str::to_owned, str::to_owned),
        EnvoyOptions::default(),
    );
    let carol = token("user:carol@e2e.test", json!({}));
    let upstream_before = envoy.stat("cluster.upstream.upstream_rq_total");
    let mut stream = TcpStream::connect(("127.0.0.1", envoy.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let head = format!(
        "POST {CHAT} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {carol}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"model\":\"openai/gpt-4o\""
    );
    stream.write_all(head.as_bytes()).unwrap();
    // Keep trickling bytes that never complete the body.
    let start = Instant::now();
    let mut got = Vec::new();
    while start.elapsed() < Duration::from_secs(4) {
        let _ = stream.write_all(b" ");
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        !text.starts_with("HTTP/1.1 200"),
        "a partial body was allowed: {text}"
    );
    assert_eq!(
        envoy.stat("cluster.upstream.upstream_rq_total"),
        upstream_before,
        "the upstream saw a request whose body never ended"
    );
    // Closing the connection half-way: still nothing reached the upstream.
    drop(stream);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        envoy.stat("cluster.upstream.upstream_rq_total"),
        upstream_before
    );
    // The filter still serves.
    let r = envoy.request(
        &HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .json(&json!({"model": "openai/gpt-4o"})),
    );
    assert_eq!(r.status, 200);
    println!("endless body: held for 4 s, upstream requests unchanged, next request served");
}

/// A header value that is not UTF-8 (obs-text, which Envoy's HTTP/1 codec lets through). The
/// proxy-wasm SDK's `hostcalls::get_map` unwraps `String::from_utf8` on every header, which used
/// to panic the VM; the filter now reads values as bytes. Whatever happens, nothing is allowed
/// that the policy denies.
#[test]
fn non_utf8_header_and_vm_failure_fail_closed() {
    let envoy = Envoy::start(
        "panic",
        &fixture_bundle("40", str::to_owned, str::to_owned),
        EnvoyOptions::default(),
    );
    let carol = token("user:carol@e2e.test", json!({}));
    let ok = |e: &Envoy| {
        e.request(
            &HttpRequest::new("POST", CHAT)
                .bearer(&carol)
                .json(&json!({"model": "openai/gpt-4o"})),
        )
    };
    assert_eq!(ok(&envoy).status, 200);
    let upstream_before = envoy.stat("cluster.upstream.upstream_rq_total");
    let mut auth = format!("Bearer {carol}").into_bytes();
    auth.extend_from_slice(b"\xff\xfe");
    let first = send_raw(envoy.port, "GET", "localhost", "/api/prompts/x/y", &auth);
    let after = ok(&envoy);
    let after_again = ok(&envoy);
    println!(
        "non-UTF-8 header: {:?}; next allowed request: {} then {}; upstream requests +{}",
        first
            .as_ref()
            .map(|(s, b)| (s, String::from_utf8_lossy(b).into_owned())),
        after.status,
        after_again.status,
        envoy.stat("cluster.upstream.upstream_rq_total") - upstream_before
    );
    let panicked = envoy.log().contains("panicked");
    if panicked {
        println!("the VM panicked; Envoy log mentions it");
    }
    // Whatever happened, the bad request was not allowed, and nothing else was let through
    // that the policy denies.
    assert_ne!(
        first.map(|(s, _)| s),
        Some(200),
        "non-UTF-8 request allowed"
    );
    let denied = envoy.request(&HttpRequest::new("POST", CHAT).json(&json!({"model": "x"})));
    assert_ne!(
        denied.status, 200,
        "token-less request allowed after the failure"
    );
}

/// A panic inside the VM (the `test-hooks` build panics on a configured path): Envoy must not
/// let that request through, nor, with `failure_policy: FAIL_CLOSED`, anything after it.
#[test]
fn a_vm_panic_fails_closed() {
    let envoy = Envoy::start(
        "vm-panic",
        &fixture_bundle("42", str::to_owned, str::to_owned),
        EnvoyOptions {
            panic_path: Some("/__gatehouse_test_panic".to_owned()),
            ..EnvoyOptions::default()
        },
    );
    let carol = token("user:carol@e2e.test", json!({}));
    let chat = || {
        HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .json(&json!({"model": "openai/gpt-4o"}))
    };
    assert_eq!(
        envoy.request(&chat()).status,
        200,
        "allowed before the panic"
    );
    let upstream_before = envoy.stat("cluster.upstream.upstream_rq_total");
    let panicked =
        envoy.request(&HttpRequest::new("GET", "/__gatehouse_test_panic").bearer(&carol));
    assert_ne!(panicked.status, 200, "the panicking request was allowed");
    let mut after = Vec::new();
    for _ in 0..5 {
        after.push(envoy.request(&chat()).status);
    }
    println!(
        "VM panic: panicking request -> {}, the next five allowed requests -> {after:?}",
        panicked.status
    );
    assert!(
        after.iter().all(|s| *s != 200),
        "a request was allowed by a VM that panicked: {after:?}"
    );
    assert_eq!(
        envoy.stat("cluster.upstream.upstream_rq_total"),
        upstream_before,
        "something reached the upstream after the panic"
    );
}

// ---------------------------------------------------------------------------------------------
// Hot reload under load.

#[test]
fn hot_reload_under_load_loses_nothing() {
    // Bundle A: dave has no grant on the model; bundle B: dave is in team ml (granted).
    let a = |rev: &str| fixture_bundle(rev, str::to_owned, str::to_owned);
    let b = |rev: &str| {
        fixture_bundle(rev, str::to_owned, |t| {
            t.replace(
                "members: [carol@e2e.test]",
                "members: [carol@e2e.test, dave@e2e.test]",
            )
        })
    };
    let envoy = Envoy::start("reload-load", &a("100"), EnvoyOptions::default());
    let port = envoy.port;
    let carol = token("user:carol@e2e.test", json!({}));
    let dave = token("user:dave@e2e.test", json!({}));
    // Both bundles deny an unknown user, a bad token and an unknown model.
    let stranger = token("user:nobody@e2e.test", json!({}));

    let stop = Arc::new(AtomicBool::new(false));
    let counters: Arc<[AtomicU64; 8]> = Arc::new(Default::default());
    // 0 total, 1 allowed-as-expected, 2 denied-as-expected, 3 dave allowed, 4 dave denied,
    // 5 lost (transport error or unexpected status), 6 allowed though both bundles deny,
    // 7 denied though both bundles allow.
    let mut workers = Vec::new();
    for worker in 0..3 {
        let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
        let (carol, dave, stranger) = (carol.clone(), dave.clone(), stranger.clone());
        workers.push(std::thread::spawn(move || {
            let mut i = worker;
            let mut lost = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (who, body) = match i % 4 {
                    0 => (&carol, "openai/gpt-4o"),
                    1 => (&dave, "openai/gpt-4o"),
                    2 => (&stranger, "openai/gpt-4o"),
                    _ => (&carol, "no-such/model"),
                };
                let req = HttpRequest::new("POST", CHAT)
                    .bearer(who)
                    .json(&json!({"model": body}));
                counters[0].fetch_add(1, Ordering::Relaxed);
                let status = send(port, &req).map(|r| r.status);
                let slot = match (i % 4, status) {
                    (0, Ok(200)) => 1,
                    (0, Ok(403 | 401)) => 7,
                    (1, Ok(200)) => 3,
                    (1, Ok(403)) => 4,
                    (2 | 3, Ok(401 | 403)) => 2,
                    (2 | 3, Ok(200)) => 6,
                    (_, other) => {
                        lost.push(format!("{i}: {other:?}"));
                        5
                    }
                };
                counters[slot].fetch_add(1, Ordering::Relaxed);
            }
            lost
        }));
    }
    let cycles = 50;
    let fails = "extension_config_discovery.http_filter.gatehouse.config_fail";
    for n in 0..cycles {
        let rev = format!("{}", 101 + n);
        let bundle = if n % 2 == 0 { b(&rev) } else { a(&rev) };
        envoy.push(&bundle);
        let want: u64 = rev.parse().unwrap();
        envoy.eventually(&format!("revision {rev}"), |e| {
            e.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")) == want
        });
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let lost: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let c: Vec<u64> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    println!(
        "hot reload: {cycles} bundle updates under load; {} requests: {} allowed and {} denied as \
         both bundles say, dave (differs) {} allowed / {} denied; lost {}, allowed-though-denied {}, \
         denied-though-allowed {}; config_fail {}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
        envoy.stat(fails)
    );
    assert_eq!(c[5], 0, "lost requests: {lost:?}");
    assert_eq!(c[6], 0, "requests allowed that both bundles deny");
    assert_eq!(c[7], 0, "requests denied that both bundles allow");
    assert!(c[3] > 0 && c[4] > 0, "dave never saw both policies: {c:?}");
    assert!(c[0] >= 200, "too little load: {c:?}");
    assert_eq!(envoy.stat(fails), 0);
}

/// The other half: the plugin reads headers with `get_map_bytes` and converts them itself, so
/// one request with a non-UTF-8 header must not take the filter down for everyone.
#[test]
fn non_utf8_header_does_not_kill_the_vm() {
    let envoy = Envoy::start(
        "non-utf8",
        &fixture_bundle("41", str::to_owned, str::to_owned),
        EnvoyOptions::default(),
    );
    let carol = token("user:carol@e2e.test", json!({}));
    let mut auth = format!("Bearer {carol}").into_bytes();
    auth.extend_from_slice(b"\xff\xfe");
    let first = send_raw(envoy.port, "GET", "localhost", "/api/prompts/x/y", &auth);
    assert_eq!(
        first.map(|(s, _)| s),
        Some(401),
        "a malformed token is a 401"
    );
    let after = envoy.request(
        &HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .json(&json!({"model": "openai/gpt-4o"})),
    );
    assert_eq!(after.status, 200, "the filter died: {}", after.text());
}

/// No usable bundle at all: the first configuration Envoy gets is rejected by the filter.
/// Nothing may be allowed (SPEC 7: "no bundle ... -> deny").
#[test]
fn no_bundle_means_no_allow() {
    let envoy = Envoy::start("no-bundle", b"not a bundle", EnvoyOptions::default());
    let carol = token("user:carol@e2e.test", json!({}));
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let r = send(
            envoy.port,
            &HttpRequest::new("POST", CHAT)
                .bearer(&carol)
                .json(&json!({"model": "openai/gpt-4o"})),
        );
        let status = r.map(|r| r.status).ok();
        *statuses.entry(status).or_insert(0) += 1;
        assert_ne!(status, Some(200), "allowed without a bundle");
    }
    assert_eq!(envoy.stat("cluster.upstream.upstream_rq_total"), 0);
    println!("no bundle: 20 requests, answers {statuses:?}, upstream requests 0");
}
