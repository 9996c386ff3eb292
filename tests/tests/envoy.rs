//! gatehouse.wasm in a real Envoy 1.40: decisions over HTTP, identity headers, dry-run, stats,
//! bundle updates through the watched ECDS file. One Envoy per scenario.

use gatehouse_e2e::{fixture_bundle, token, Envoy, EnvoyOptions, HttpRequest, HttpResponse};
use serde_json::json;

const CHAT: &str = "/api/llm/v1/chat/completions";
const MCP: &str = "/api/llm/mcp/github/server";

/// Whether the suite runs the native module, for a test of the wasm filter only: says so.
fn native(why: &str) -> bool {
    let native = gatehouse_e2e::build() == gatehouse_deploy::envoy::Build::Native;
    if native {
        eprintln!("wasm filter only, not run against the native module: {why}");
    }
    native
}

fn enforce_bundle(revision: &str) -> Vec<u8> {
    fixture_bundle(revision, str::to_owned, str::to_owned)
}

/// The fixture bundle at `revision` with `from` replaced by `to` in its gateway.yaml.
fn gateway_edited(revision: &str, from: &str, to: &str) -> Vec<u8> {
    fixture_bundle(revision, |g| g.replace(from, to), str::to_owned)
}

/// Push the fixture bundle at `revision` with the gateway's `mode: enforce` line replaced by
/// `mode`, and wait until that revision serves.
fn push_with_mode(envoy: &Envoy, revision: u64, mode: &str, what: &str) {
    envoy.push(&gateway_edited(
        &revision.to_string(),
        "mode: enforce",
        mode,
    ));
    envoy.eventually(what, |e| {
        e.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")) == revision
    });
}

fn chat(token: &str, model: &str) -> HttpRequest<'static> {
    HttpRequest::new("POST", CHAT)
        .bearer(token)
        .json(&json!({"model": model, "messages": []}))
}

fn mcp(token: &str, method: &str) -> HttpRequest<'static> {
    HttpRequest::new("POST", MCP).bearer(token).json(
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"name": "create_issue"}}),
    )
}

#[track_caller]
fn assert_denied(r: &HttpResponse, status: u16, reason: &str) {
    assert_eq!(r.status, status, "body: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let Some(code) = gatehouse_engine::Reason::from_code(reason) else {
        unreachable!("`{reason}` is not a reason of the closed set");
    };
    assert_eq!(
        code.status(),
        status,
        "`{reason}` is answered {}",
        code.status()
    );
    let kind = code.error_kind().as_str();
    assert_eq!(r.json(), json!({"error": kind, "reason": reason}));
}

#[track_caller]
fn assert_reached_upstream(r: &HttpResponse, subject: Option<&str>, route: &str) {
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(
        r.echoed_header("x-gatehouse-tenant").as_deref(),
        Some("e2e")
    );
    assert_eq!(r.echoed_header("x-gatehouse-subject").as_deref(), subject);
    assert_eq!(r.echoed_header("x-gatehouse-route").as_deref(), Some(route));
}

#[test]
fn enforce_mode_over_http() {
    let envoy = Envoy::start("enforce", &enforce_bundle("1"), EnvoyOptions::default());
    let carol = token("user:carol@e2e.test", json!({}));
    let dave = token("user:dave@e2e.test", json!({}));

    // Allowed, body-reading route: reaches the upstream with our identity headers; spoofed
    // x-gatehouse-* headers are gone, the body is intact.
    let r = envoy.request(
        &chat(&carol, "openai/gpt-4o")
            .header("x-gatehouse-subject", "user:alice@e2e.test")
            .header("X-Gatehouse-Admin", "yes"),
    );
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "chat");
    assert_eq!(r.echoed_header("x-gatehouse-admin"), None);
    let sent = json!({"model": "openai/gpt-4o", "messages": []}).to_string();
    assert_eq!(r.json()["body_bytes"], sent.len());

    // Allowed, header-only route.
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer(&carol));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");

    // Public route: no token needed, a bad one ignored; no subject header.
    let r = envoy.request(&HttpRequest::get("/healthz").header("x-gatehouse-subject", "forged"));
    assert_reached_upstream(&r, None, "health");
    let r = envoy.request(&HttpRequest::get("/healthz/deep").bearer("not.a.token"));
    assert_reached_upstream(&r, None, "health");

    // 401: missing token (no error=), bad token (error="invalid_token"), expired token.
    let r = envoy.request(
        &HttpRequest::new("POST", CHAT)
            .json(&json!({"model": "openai/gpt-4o", "messages": []}))
            .header("authorization", "Basic Zm9vOmJhcg=="),
    );
    assert_denied(&r, 401, "token_missing");
    assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="e2e""#));
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize"));
    assert_denied(&r, 401, "token_missing");
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer("abc.def"));
    assert_denied(&r, 401, "token_malformed");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="e2e", error="invalid_token""#)
    );
    // Flip the first character of the signature segment (the last one may be non-canonical).
    let (signed, signature) = carol.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{flipped}{}", &signature[1..]);
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer(&forged));
    assert_denied(&r, 401, "signature_invalid");
    let expired = token(
        "user:carol@e2e.test",
        json!({"iat": 1_000_000, "exp": 1_000_600}),
    );
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer(&expired));
    assert_denied(&r, 401, "token_expired");
    let bob = token("user:bob@e2e.test", json!({}));
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer(&bob));
    assert_denied(&r, 401, "principal_inactive");

    // 403: no grant, unknown tenant (no www-authenticate), no route.
    let r = envoy.request(&chat(&dave, "openai/gpt-4o"));
    assert_denied(&r, 403, "no_grant");
    assert_eq!(r.header("www-authenticate"), None);
    let r = envoy.request(&chat(&carol, "openai/gpt-4o").host("other.example.com"));
    assert_denied(&r, 403, "tenant_unknown");
    let r = envoy.request(&HttpRequest::get("/nowhere").bearer(&carol));
    assert_denied(&r, 403, "no_route");
    let r = envoy.request(&chat(&carol, "openai/o9"));
    assert_denied(&r, 403, "resource_unknown");

    // 413: over max_body_bytes (1024), declared by content-length or streamed chunked.
    let big = json!({"model": "openai/gpt-4o", "pad": "x".repeat(2000)})
        .to_string()
        .into_bytes();
    let r = envoy.request(
        &HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .body(big.clone()),
    );
    assert_denied(&r, 413, "body_too_large");
    let r = envoy.request(
        &HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .body(big)
            .chunked(),
    );
    assert_denied(&r, 413, "body_too_large");
    // Just under the limit, chunked: allowed.
    let mut fits = json!({"model": "openai/gpt-4o", "pad": ""}).to_string();
    let pad = 1024 - fits.len();
    fits = json!({"model": "openai/gpt-4o", "pad": "x".repeat(pad)}).to_string();
    assert_eq!(fits.len(), 1024);
    let r = envoy.request(
        &HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .header("content-type", "application/json")
            .body(fits.into_bytes())
            .chunked(),
    );
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "chat");

    let typed = |content_type: &str, body: Option<&[u8]>| {
        let request = HttpRequest::new("POST", CHAT)
            .bearer(&carol)
            .header("content-type", content_type);
        envoy.request(&match body {
            Some(body) => request.body(body.to_vec()),
            None => request,
        })
    };
    // 400: a body the route must read is not JSON.
    let r = typed("application/json", Some(b"{\"model\":"));
    assert_denied(&r, 400, "body_invalid");
    // A body-reading route without a body: nothing to parse either (the engine's answer).
    let r = typed("application/json", None);
    assert_denied(&r, 400, "body_invalid");
    // 415: the route reads JSON, the request says it sends something else (or nothing).
    let r = typed(
        "application/x-www-form-urlencoded",
        Some(b"model=openai%2Fo3"),
    );
    assert_denied(&r, 415, "unsupported_media_type");

    // MCP JSON-RPC: dave may list (mcp-server-viewer: read) but not call a tool (use).
    let r = envoy.request(&mcp(&dave, "tools/list"));
    assert_reached_upstream(&r, Some("user:dave@e2e.test"), "mcp");
    let r = envoy.request(&mcp(&dave, "tools/call"));
    assert_denied(&r, 403, "no_grant");
    let alice = token("user:alice@e2e.test", json!({}));
    let r = envoy.request(&mcp(&alice, "tools/call"));
    assert_reached_upstream(&r, Some("user:alice@e2e.test"), "mcp");

    // Stats: every counter defined, and these requests counted.
    let stats = envoy.stats(&gatehouse_e2e::stat_name("gatehouse"));
    let denied_prefix = gatehouse_e2e::stat_name("gatehouse.denied.");
    let per_reason = stats
        .keys()
        .filter(|k| k.starts_with(&denied_prefix))
        .count();
    assert_eq!(
        per_reason,
        gatehouse_engine::Reason::ALL.len(),
        "{stats:#?}"
    );
    let get = |k: &str| {
        stats
            .get(&gatehouse_e2e::stat_name(&format!("gatehouse.{k}")))
            .copied()
    };
    assert_eq!(get("allowed"), Some(7), "{stats:#?}");
    assert_eq!(get("denied"), Some(16), "{stats:#?}");
    assert_eq!(get("denied.unsupported_media_type"), Some(1));
    assert_eq!(get("denied.token_missing"), Some(2));
    assert_eq!(get("denied.no_grant"), Some(2));
    assert_eq!(get("denied.body_too_large"), Some(2));
    assert_eq!(get("dry_run_denied"), Some(0));
    assert_eq!(get("bundle_revision"), Some(1));
    // carol's token is presented many times: verified once per VM, then found in the cache.
    assert!(
        get("token_cache_hits").is_some_and(|n| n >= 1),
        "{stats:#?}"
    );
    assert!(
        get("token_cache_misses").is_some_and(|n| n >= 1),
        "{stats:#?}"
    );
    assert!(get("bundle_loads").is_some_and(|n| n >= 1));
    assert_eq!(get("bundle_rejections"), Some(0));

    // One log line per denial, never the token.
    let log = envoy.log();
    assert!(log.contains("deny reason=no_grant status=403 tenant=e2e subject=user:dave@e2e.test route=chat resource=model:openai/gpt-4o action=use"), "{log}");
    assert!(!log.contains(&carol) && !log.contains(&dave));
}

#[test]
fn dry_run_lets_denials_through_and_counts_them() {
    let bundle = gateway_edited("7", "mode: enforce", "mode: dry-run");
    let envoy = Envoy::start("dry-run", &bundle, EnvoyOptions::default());
    let dave = token("user:dave@e2e.test", json!({}));

    let r = envoy.request(&chat(&dave, "openai/gpt-4o").header("x-gatehouse-subject", "forged"));
    assert_reached_upstream(&r, Some("user:dave@e2e.test"), "chat");
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize"));
    assert_eq!(r.status, 200);
    assert_eq!(r.echoed_header("x-gatehouse-subject"), None);

    let get = |k: &str| envoy.stat(&gatehouse_e2e::stat_name(&format!("gatehouse.{k}")));
    assert_eq!(get("dry_run_denied"), 2);
    assert_eq!(get("denied"), 0);
    assert_eq!(get("denied.no_grant"), 1);
    assert_eq!(get("denied.token_missing"), 1);
    assert!(envoy
        .log()
        .contains("dry-run deny (request continues) reason=no_grant"));
}

#[test]
fn bundle_updates_apply_without_restart_and_bad_ones_are_rejected() {
    let envoy = Envoy::start("reload", &enforce_bundle("1"), EnvoyOptions::default());
    let pid = envoy.pid();
    let dave = token("user:dave@e2e.test", json!({}));
    assert_denied(
        &envoy.request(&chat(&dave, "openai/gpt-4o")),
        403,
        "no_grant",
    );

    // Revision 2 makes dave a member of team ml.
    let v2 = fixture_bundle("2", str::to_owned, |t| {
        t.replace(
            "members: [carol@e2e.test]",
            "members: [carol@e2e.test, dave@e2e.test]",
        )
    });
    envoy.push(&v2);
    envoy.eventually("revision 2 serving", |e| {
        e.request(&chat(&dave, "openai/gpt-4o")).status == 200
    });
    assert_eq!(
        envoy.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")),
        2
    );

    // A corrupt bundle (truncated) and a non-bundle are rejected; revision 2 keeps serving.
    let fails = "extension_config_discovery.http_filter.gatehouse.config_fail";
    let before = envoy.stat(fails);
    envoy.push(v2.get(..v2.len() / 2).unwrap_or_default());
    envoy.eventually("truncated bundle rejected", |e| e.stat(fails) > before);
    envoy.push(b"{\"bundle\": \"bm90IGEgYnVuZGxl\"}");
    envoy.eventually("non-bundle rejected", |e| e.stat(fails) > before + 1);
    assert!(envoy.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_rejections")) >= 2);
    let r = envoy.request(&chat(&dave, "openai/gpt-4o"));
    assert_reached_upstream(&r, Some("user:dave@e2e.test"), "chat");
    assert_eq!(
        envoy.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")),
        2
    );
    assert!(envoy
        .log()
        .contains("rejecting configuration: bundle rejected"));

    // A good bundle after the rejections applies again (revision 3 = revision 1's policy).
    envoy.push(&enforce_bundle("3"));
    envoy.eventually("revision 3 serving", |e| {
        e.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")) == 3
    });
    assert_denied(
        &envoy.request(&chat(&dave, "openai/gpt-4o")),
        403,
        "no_grant",
    );
    assert_eq!(envoy.pid(), pid, "Envoy was not restarted");
}

/// A new bundle keeps the VM's verified tokens when it verifies them as the previous one did
/// (same keys, issuer, audiences, skew): Envoy runs the new configuration in the same VM, and the
/// cache is the VM's. What the bundle changes about a principal applies on the first request
/// after it, though that request's signature comes from the cache; a bundle that changes a
/// verification setting verifies again.
#[test]
fn verified_tokens_outlive_a_bundle_push_and_its_changes_apply_at_once() {
    let envoy = Envoy::start(
        "cache-pushes",
        &enforce_bundle("1"),
        EnvoyOptions::default(),
    );
    let prompt = |t: &str| HttpRequest::get("/api/prompts/prompts/summarize").bearer(t);
    let lookups = |e: &Envoy| {
        (
            e.stat(&gatehouse_e2e::stat_name("gatehouse.token_cache_hits")),
            e.stat(&gatehouse_e2e::stat_name("gatehouse.token_cache_misses")),
        )
    };
    let carol = token("user:carol@e2e.test", json!({}));
    let alice = token("user:alice@e2e.test", json!({}));
    let dave = token("user:dave@e2e.test", json!({}));
    let r = envoy.request(&prompt(&carol));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    let r = envoy.request(&prompt(&alice));
    assert_reached_upstream(&r, Some("user:alice@e2e.test"), "prompts");
    let r = envoy.request(&chat(&dave, "openai/gpt-4o"));
    assert_denied(&r, 403, "no_grant");
    assert_eq!(lookups(&envoy), (0, 3), "three tokens verified");

    // Revision 2, same keys: carol deactivated, and dave in team ml, which tells when revision
    // 2 serves without a request by carol (hers must be the first after the push).
    envoy.push(&fixture_bundle("2", str::to_owned, |t| {
        t.replace(
            "- {email: carol@e2e.test}",
            "- {email: carol@e2e.test, active: false}",
        )
        .replace(
            "members: [carol@e2e.test]",
            "members: [carol@e2e.test, dave@e2e.test]",
        )
    }));
    envoy.eventually("revision 2 serving", |e| {
        e.request(&chat(&dave, "openai/gpt-4o")).status == 200
    });
    let (hits, misses) = lookups(&envoy);
    assert_eq!(misses, 3, "nothing verified again after the push");
    assert!(hits >= 1, "dave's requests found his token");
    let r = envoy.request(&prompt(&carol));
    assert_denied(&r, 401, "principal_inactive");
    let r = envoy.request(&prompt(&alice));
    assert_reached_upstream(&r, Some("user:alice@e2e.test"), "prompts");
    assert_eq!(
        lookups(&envoy),
        (hits + 2, 3),
        "carol's denial and alice's allow both from the cache"
    );

    // Revision 3: revision 1's policy with another clock skew. Every token is verified again
    // (dave's probe once, alice, carol), and carol is active again.
    envoy.push(&fixture_bundle("3", str::to_owned, |t| {
        t.replace(
            "  issuer: https://cp.e2e.test\n",
            "  issuer: https://cp.e2e.test\n  clock_skew_seconds: 30\n",
        )
    }));
    envoy.eventually("revision 3 serving", |e| {
        e.request(&chat(&dave, "openai/gpt-4o")).status == 403
    });
    let r = envoy.request(&prompt(&alice));
    assert_reached_upstream(&r, Some("user:alice@e2e.test"), "prompts");
    let r = envoy.request(&prompt(&carol));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    assert_eq!(lookups(&envoy).1, 6, "dave, alice and carol verified again");
    assert_eq!(
        envoy.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")),
        3
    );
}

#[test]
fn pinned_signing_keys_reject_unsigned_bundles() {
    let options = EnvoyOptions {
        trusted_keys: vec![gatehouse_e2e::fixture_signing_public_key()],
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start(
        "signed",
        &gatehouse_e2e::signed_fixture_bundle("10"),
        options,
    );
    let carol = token("user:carol@e2e.test", json!({}));
    assert_eq!(envoy.request(&chat(&carol, "openai/gpt-4o")).status, 200);

    let fails = "extension_config_discovery.http_filter.gatehouse.config_fail";
    envoy.push(&enforce_bundle("11"));
    envoy.eventually("unsigned bundle rejected", |e| e.stat(fails) >= 1);
    assert!(envoy
        .log()
        .contains("bundle is unsigned but trusted keys are pinned"));
    assert_eq!(
        envoy.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")),
        10
    );
    assert_eq!(envoy.request(&chat(&carol, "openai/gpt-4o")).status, 200);
}

#[test]
fn istio_style_json_plugin_configuration() {
    if native("the JSON plugin configuration is the wasm filter's (Istio `pluginConfig`)") {
        return;
    }
    // `{"bundle": "<base64>"}` as the plugin configuration works like raw bytes.
    use base64::Engine as _;
    let bundle = enforce_bundle("21");
    let envoy = Envoy::start("json-config", &bundle, EnvoyOptions::default());
    let json = format!(
        "{{\"bundle\": \"{}\"}}",
        base64::engine::general_purpose::STANDARD.encode(&bundle)
    );
    // Deliver the JSON form through the same ECDS file (BytesValue holding the JSON text).
    let mut v = json.into_bytes();
    v.extend_from_slice(b"\n");
    envoy.push(&v);
    envoy.eventually("JSON configuration loaded", |e| {
        e.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_loads")) >= 4
    });
    assert_eq!(
        envoy.stat("extension_config_discovery.http_filter.gatehouse.config_fail"),
        0
    );
    let carol = token("user:carol@e2e.test", json!({}));
    assert_eq!(envoy.request(&chat(&carol, "openai/gpt-4o")).status, 200);
}

const PROMPT: &str = "/api/prompts/prompts/summarize";

#[test]
fn identity_headers_spelt_with_underscores_never_reach_the_upstream() {
    let carol = token("user:carol@e2e.test", json!({}));
    let spoofed = |name: &str| {
        HttpRequest::get(PROMPT)
            .bearer(&carol)
            .header(name, "user:alice@e2e.test")
    };

    // The committed configuration: Envoy itself refuses any header name with `_`.
    let envoy = Envoy::start(
        "underscores-rejected",
        &enforce_bundle("1"),
        EnvoyOptions::default(),
    );
    let r = envoy.request(&spoofed("x_gatehouse_subject"));
    assert_eq!(r.status, 400, "body: {}", r.text());
    let r = envoy.request(&spoofed("x-gatehouse-subject"));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    drop(envoy);

    // The same configuration with underscores allowed (Envoy's and Istio's default): the filter
    // removes every spelling of x-gatehouse-*, and of the override headers, by itself.
    let options = EnvoyOptions {
        allow_underscores: true,
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start("underscores-allowed", &enforce_bundle("1"), options);
    // Underscores do reach the upstream here (else this scenario would prove nothing).
    let r = envoy.request(&spoofed("x_unrelated_header"));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    assert_eq!(
        r.echoed_header("x_unrelated_header").as_deref(),
        Some("user:alice@e2e.test")
    );
    for name in [
        "x_gatehouse_subject",
        "X_Gatehouse_Subject",
        "x-gatehouse_subject",
        "x_gatehouse-tenant",
        "x_gatehouse_admin",
        "X_HTTP_Method_Override",
        "x_original_url",
    ] {
        let r = envoy.request(&spoofed(name));
        assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
        assert_eq!(r.echoed_header(&name.to_ascii_lowercase()), None, "{name}");
    }
    // Public route (no identity of ours to set): still removed.
    let r = envoy.request(&HttpRequest::get("/healthz").header("x_gatehouse_subject", "forged"));
    assert_reached_upstream(&r, None, "health");
    assert_eq!(r.echoed_header("x_gatehouse_subject"), None);

    // Dry-run forwarding of a denied request removes them as well.
    push_with_mode(&envoy, 2, "mode: dry-run", "dry-run bundle serving");
    let dave = token("user:dave@e2e.test", json!({}));
    let r = envoy.request(&chat(&dave, "openai/gpt-4o").header("x_gatehouse_subject", "forged"));
    assert_reached_upstream(&r, Some("user:dave@e2e.test"), "chat");
    assert_eq!(r.echoed_header("x_gatehouse_subject"), None);
    assert_eq!(
        envoy.stat(&gatehouse_e2e::stat_name("gatehouse.dry_run_denied")),
        1
    );
}

const OVERRIDES: [(&str, &str); 5] = [
    ("X-HTTP-Method-Override", "DELETE"),
    ("X-HTTP-Method", "DELETE"),
    ("X-Method-Override", "PUT"),
    ("X-Original-URL", "/admin/users"),
    ("X-Rewrite-URL", "/admin/users"),
];

fn with_overrides(mut request: HttpRequest<'static>) -> HttpRequest<'static> {
    for (name, value) in OVERRIDES {
        request = request.header(name, value);
    }
    request
}

#[test]
fn override_headers_are_removed_refused_or_kept() {
    let carol = token("user:carol@e2e.test", json!({}));
    let get = || with_overrides(HttpRequest::get(PROMPT).bearer(&carol));

    // Default (`override_headers: remove`): decided on GET /api/prompts/..., forwarded without
    // anything that would make the upstream act on another method or URL.
    let envoy = Envoy::start("overrides", &enforce_bundle("1"), EnvoyOptions::default());
    let r = envoy.request(&get());
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    for (name, _) in OVERRIDES {
        assert_eq!(r.echoed_header(&name.to_ascii_lowercase()), None, "{name}");
    }
    // Body-reading route too.
    let r = envoy.request(&with_overrides(chat(&carol, "openai/gpt-4o")));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "chat");
    assert_eq!(r.echoed_header("x-http-method-override"), None);

    // `keep`: passed through untouched, for upstreams that need them.
    push_with_mode(
        &envoy,
        2,
        "mode: enforce\noverride_headers: keep",
        "override_headers: keep serving",
    );
    let r = envoy.request(&get());
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    for (name, value) in OVERRIDES {
        assert_eq!(
            r.echoed_header(&name.to_ascii_lowercase()).as_deref(),
            Some(value),
            "{name}"
        );
    }

    // `deny`: any of them refuses the request (400 request_ambiguous); without them, allowed.
    push_with_mode(
        &envoy,
        3,
        "mode: enforce\noverride_headers: deny",
        "override_headers: deny serving",
    );
    for (name, value) in OVERRIDES {
        let r = envoy.request(&HttpRequest::get(PROMPT).bearer(&carol).header(name, value));
        assert_denied(&r, 400, "request_ambiguous");
    }
    let r = envoy.request(&HttpRequest::get(PROMPT).bearer(&carol));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    assert!(envoy
        .log()
        .contains("deny reason=request_ambiguous status=400 tenant=e2e"));
}

#[test]
fn denial_log_lines_escape_and_cap_request_values() {
    // Room for a 10 KiB model name in the body.
    let bundle = gateway_edited("1", "max_body_bytes: 1024", "max_body_bytes: 16384");
    let envoy = Envoy::start("log-lines", &bundle, EnvoyOptions::default());
    let carol = token("user:carol@e2e.test", json!({}));
    let forged = "[2099-01-01 00:00:00.000][1][warning][wasm] wasm log: deny reason=forged";
    let model = format!("openai/x\n{forged}\u{1b}[2J{}", "A".repeat(10 * 1024));
    let r = envoy.request(&chat(&carol, &model));
    assert_eq!(r.status, 403, "body: {}", r.text());

    let log = envoy.log();
    // No line of the log starts with (or is) the forged one.
    assert!(
        !log.lines()
            .any(|l| l.starts_with("[2099")
                || (l.contains("reason=forged") && !l.contains("resource="))),
        "{log}"
    );
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("resource=model:openai/x"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let line = lines[0];
    let resource = format!("model:{model}");
    let shown = gatehouse_engine::logsafe::log_safe(&resource);
    assert!(
        line.contains(&format!("resource={shown} action=use")),
        "{line}"
    );
    assert!(
        line.contains("resource=model:openai/x\\n[2099-01-01"),
        "{line}"
    );
    assert!(line.contains("\\u{001b}[2J"), "{line}");
    assert!(!line.contains('\u{1b}'), "{line}");
    assert!(line.contains(" bytes) action=use"), "{line}");
    assert!(line.len() < 1024, "{} bytes: {line}", line.len());
}

/// The proxy-wasm calls each request path makes, counted by the plugin's test build in a real
/// Envoy (`plugin/src/host.rs` has the table this holds it to).
#[test]
fn host_calls_per_request_path() {
    if native("host calls are the wasm filter's cost (a call into Envoy from V8)") {
        return;
    }
    let options = EnvoyOptions {
        // Any test hook selects the counting test build; this one never matches a request, and
        // the clock stays Envoy's, as in the release build.
        panic_path: Some("/never-requested".to_owned()),
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start("host-calls", &enforce_bundle("1"), options);
    let carol = token("user:carol@e2e.test", json!({}));
    let prompts = || HttpRequest::get("/api/prompts/prompts/summarize").bearer(&carol);
    for _ in 0..3 {
        assert_reached_upstream(
            &envoy.request(&prompts()),
            Some("user:carol@e2e.test"),
            "prompts",
        );
        assert_reached_upstream(
            &envoy.request(&HttpRequest::get("/healthz")),
            None,
            "health",
        );
        assert_reached_upstream(
            &envoy.request(&chat(&carol, "openai/gpt-4o")),
            Some("user:carol@e2e.test"),
            "chat",
        );
        assert_denied(
            &envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize")),
            401,
            "token_missing",
        );
    }
    // A fresh token each time: verified, never from the cache.
    for i in 0..3 {
        let fresh = token("user:carol@e2e.test", json!({"jti": format!("fresh-{i}")}));
        let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer(&fresh));
        assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    }
    let stats = envoy.stats(&gatehouse_e2e::stat_name("gatehouse.test"));
    let per_request = |path: &str| {
        let get = |k: &str| {
            stats
                .get(&gatehouse_e2e::stat_name(&format!(
                    "gatehouse.test.{k}.{path}"
                )))
                .copied()
        };
        let (calls, requests) = (get("host_calls"), get("requests"));
        assert!(
            requests.is_some_and(|n| n > 0),
            "no `{path}` request counted: {stats:#?}"
        );
        calls.unwrap_or(0) as f64 / requests.unwrap_or(1) as f64
    };
    assert_eq!(per_request("cached"), 5.0, "{stats:#?}");
    assert_eq!(per_request("verified"), 5.0, "{stats:#?}");
    assert_eq!(per_request("public"), 4.0, "{stats:#?}");
    assert_eq!(per_request("body"), 6.0, "{stats:#?}");
    assert_eq!(per_request("deny"), 4.0, "{stats:#?}");
}

/// The verified-token cache's size comes from the VM configuration, and its hits, misses,
/// evictions and entries reach Envoy's stats.
#[test]
fn token_cache_size_is_configurable_and_counted() {
    let options = EnvoyOptions {
        token_cache_entries: Some(2),
        ..EnvoyOptions::default()
    };
    let bundle = enforce_bundle("1");
    let envoy = Envoy::start("token-cache", &bundle, options);
    let tokens: Vec<String> = (0..5)
        .map(|i| token("user:carol@e2e.test", json!({"jti": format!("t-{i}")})))
        .collect();
    for t in &tokens {
        let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer(t));
        assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    }
    // The last one is still cached.
    let last = tokens.last().map(String::as_str).unwrap_or_default();
    let r = envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize").bearer(last));
    assert_reached_upstream(&r, Some("user:carol@e2e.test"), "prompts");
    let get = |k: &str| {
        envoy.stat(&gatehouse_e2e::stat_name(&format!(
            "gatehouse.token_cache_{k}"
        )))
    };
    assert_eq!(get("misses"), 5);
    assert_eq!(get("hits"), 1);
    assert_eq!(get("evictions"), 3, "five tokens through two entries");
    assert_eq!(get("entries"), 2);
    if native("VM memory gauges; the native module's memory is the process's, which scripts/bench-envoy.sh measures per worker count") {
        return;
    }
    // Linear memory, summed over the VMs that serve the filter (main thread and the worker).
    let vms = envoy.stat(&gatehouse_e2e::stat_name("gatehouse.vms"));
    let memory = envoy.stat(&gatehouse_e2e::stat_name("gatehouse.vm_memory_bytes"));
    eprintln!("{vms} VMs, {memory} bytes of linear memory");
    assert!(vms >= 1, "{vms} VMs");
    assert!(memory > 0 && memory % 65_536 == 0, "{memory} bytes");
    // SPEC 6: each VM within its bundle + its cache + 1 MiB.
    let limit = vms * (bundle.len() as u64 + (1 << 20));
    assert!(memory <= limit, "{memory} bytes in {vms} VMs, over {limit}");
}
