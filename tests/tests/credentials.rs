//! API keys at the gateway, end to end: the official OpenAI Python SDK (`openai`, pinned in
//! scripts/lib.sh) calls a chat-completions upstream through a real Envoy with gatehouse.wasm,
//! presenting `gh_key_` keys of a credentials file compiled beside the fixture tenant. Scopes,
//! grants, revocation pushed by ECDS, expiry and a rotation's grace are decided by the filter; the
//! upstream (`tests/upstreams/openai_upstream.py`) reports what it received.
//!
//! Needs the SDK (scripts/test.sh installs it): without it this fails, it does not skip.

#![expect(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use gatehouse_deploy::envoy::{self, Addr};
use gatehouse_e2e::credentials::{
    credentials_file, issue_key, key_entry, openai_sdk, rfc3339, sdk_python, unix_now,
};
use gatehouse_e2e::upstreams::StaticEnvoy;
use gatehouse_e2e::{
    fixture_bundle_with_credentials, free_port, repo_root, token, Envoy, EnvoyOptions, HttpRequest,
    HttpResponse, Upstream,
};
use gatehouse_engine::credential::{self, IssuedKey, KeyId};
use serde_json::{json, Value};

const CHAT: &str = "/api/llm/v1/chat/completions";
const PRINCIPAL: &str = "virtualaccount:ci-bot";
/// How long the expiring key and the rotated key live after the first bundle is compiled: long
/// enough for Envoy to start and the first calls to be made, short enough to wait out.
const GRACE_SECONDS: i64 = 15;

/// Both token sources an SDK uses: OpenAI's `Authorization: Bearer`, Anthropic's `x-api-key`.
fn gateway(text: &str) -> String {
    text.replace(
        "max_body_bytes: 1024\n",
        "max_body_bytes: 1024\ntoken_sources:\n  - {header: authorization, prefix: \"Bearer \"}\n  \
         - {header: x-api-key}\n",
    )
}

/// The fixture tenant with two more provider accounts and a virtual account, `ci-bot`, that may
/// use the models of two of them (openai, anthropic) but not the third (mistral).
fn tenant(text: &str) -> String {
    let text = text.replace(
        "models: [{name: gpt-4o}]",
        "models: [{name: gpt-4o}, {name: o3}]",
    );
    format!(
        "{text}  - type: provider-account
    name: anthropic
    models: [{{name: claude-sonnet}}]
  - type: provider-account
    name: mistral
    models: [{{name: large}}]

virtual_accounts:
  - name: ci-bot
    permissions:
      - {{resource: \"provider-account:openai\", role: provider-account-user}}
      - {{resource: \"provider-account:anthropic\", role: provider-account-user}}
"
    )
}

/// What the upstream received, from the assistant message of an allowed call.
fn upstream_saw(outcome: &Value) -> Value {
    assert_eq!(outcome["ok"], json!(true), "expected an answer: {outcome}");
    let content = outcome["content"].as_str().unwrap_or_default();
    serde_json::from_str(content).unwrap_or_else(|e| panic!("content is not JSON ({e}): {content}"))
}

/// An allowed call: the upstream got the key's id and principal, the SDK's `Authorization`
/// unchanged, and no `x-gatehouse-*` header that carries the secret.
#[track_caller]
fn assert_allowed(outcome: &Value, key: &IssuedKey, model: &str) {
    assert_eq!(outcome["model"], json!(model), "{outcome}");
    assert_eq!(outcome["object"], json!("chat.completion"), "{outcome}");
    let saw = upstream_saw(outcome);
    assert_eq!(saw["credential"], json!(key.id.to_string()), "{saw}");
    assert_eq!(saw["subject"], json!(PRINCIPAL), "{saw}");
    assert_eq!(saw["tenant"], json!("e2e"), "{saw}");
    assert_eq!(saw["route"], json!("chat"), "{saw}");
    // Gatehouse decides on the key and forwards the request as sent: the upstream sees the key
    // in Authorization (a provider that must not, gets it removed by the route; docs/credentials.md).
    assert_eq!(
        saw["authorization"],
        json!(format!("Bearer {}", key.key)),
        "{saw}"
    );
    assert_no_secret(&saw["gatehouse"], key);
}

/// No `x-gatehouse-*` header holds the key or its secret; exactly the four identity headers.
#[track_caller]
fn assert_no_secret(gatehouse: &Value, key: &IssuedKey) {
    let headers = gatehouse
        .as_object()
        .unwrap_or_else(|| panic!("no x-gatehouse-* map: {gatehouse}"));
    let mut names: Vec<&str> = headers.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "x-gatehouse-credential",
            "x-gatehouse-route",
            "x-gatehouse-subject",
            "x-gatehouse-tenant"
        ]
    );
    let secret = secret_of(key);
    for (name, value) in headers {
        let value = value.as_str().unwrap_or_default();
        assert!(
            !value.contains(secret) && !value.contains(&key.key),
            "{name} carries the secret"
        );
    }
}

/// The secret part of a key: between `gh_key_<id>_` and the checksum.
fn secret_of(key: &IssuedKey) -> &str {
    let start = credential::PREFIX.len() + credential::ID_LEN + 1;
    key.key
        .get(start..start + credential::SECRET_LEN)
        .unwrap_or_default()
}

#[track_caller]
fn assert_refused(outcome: &Value, status: u16, reason: &str) {
    assert_eq!(outcome["ok"], json!(false), "expected a refusal: {outcome}");
    assert_eq!(outcome["status"], json!(status), "{outcome}");
    assert_eq!(outcome["reason"], json!(reason), "{outcome}");
}

#[track_caller]
fn assert_http_refused(r: &HttpResponse, status: u16, reason: &str) {
    assert_eq!(r.status, status, "body: {}", r.text());
    assert_eq!(r.reason().as_deref(), Some(reason), "body: {}", r.text());
}

fn wait_for_revision(envoy: &Envoy, revision: u64) {
    envoy.eventually(&format!("bundle revision {revision} in service"), |e| {
        e.stat(&gatehouse_e2e::stat_name("gatehouse.bundle_revision")) == revision
    });
}

#[test]
fn api_keys_through_the_openai_sdk() {
    // Fail now, with how to install it, rather than after Envoy started.
    sdk_python();

    let scoped = issue_key(); // model:openai/* only
    let whole = issue_key(); // the virtual account's whole access
    let revoked = issue_key(); // revoked by the second bundle
    let expiring = issue_key(); // expires after GRACE_SECONDS
    let old = issue_key(); // rotated: lives until the grace ends
    let new = issue_key(); // what replaced it
    let t0 = unix_now();
    let grace_end = t0 + GRACE_SECONDS;
    let keys = |revoked_at: Option<i64>| {
        let mut revoked_extra = json!({});
        if let Some(at) = revoked_at {
            revoked_extra = json!({"revoked": rfc3339(at)});
        }
        credentials_file(
            "e2e",
            vec![
                key_entry(&scoped, PRINCIPAL, &["model:openai/*:use"], json!({})),
                key_entry(&whole, PRINCIPAL, &[], json!({})),
                key_entry(&revoked, PRINCIPAL, &[], revoked_extra),
                key_entry(
                    &expiring,
                    PRINCIPAL,
                    &[],
                    json!({"expires": rfc3339(grace_end)}),
                ),
                key_entry(
                    &old,
                    PRINCIPAL,
                    &[],
                    json!({"expires": rfc3339(grace_end), "replaced_by": new.id.to_string()}),
                ),
                key_entry(
                    &new,
                    PRINCIPAL,
                    &[],
                    json!({"replaces": old.id.to_string()}),
                ),
            ],
        )
    };
    let bundle = fixture_bundle_with_credentials("1", gateway, tenant, &keys(None));
    let envoy = Envoy::start(
        "credentials",
        &bundle,
        EnvoyOptions {
            upstream: Some(repo_root().join("tests/upstreams/openai_upstream.py")),
            ..EnvoyOptions::default()
        },
    );
    // The SDK's base URL; its Host (127.0.0.1:PORT) is one of the fixture tenant's hosts.
    let base_url = format!("http://127.0.0.1:{}/api/llm/v1", envoy.port);

    // A key of the right id with another secret, an id no tenant has, a mistyped checksum.
    let wrong_secret = credential::assemble(scoped.id, secret_of(&whole)).key;
    let unknown = credential::assemble(KeyId(scoped.id.0 ^ 1), secret_of(&scoped)).key;
    let mut typo = scoped.key.clone();
    let last = if typo.ends_with('0') { '1' } else { '0' };
    typo.pop();
    typo.push(last);

    let out = openai_sdk(
        &base_url,
        &[
            (&scoped.key, "openai/gpt-4o"),
            (&scoped.key, "openai/o3"),
            // Granted to ci-bot, outside the key's scope.
            (&scoped.key, "anthropic/claude-sonnet"),
            // The unscoped key reaches what the account holds, and only that.
            (&whole.key, "anthropic/claude-sonnet"),
            (&whole.key, "mistral/large"),
            (&revoked.key, "openai/gpt-4o"),
            (&expiring.key, "openai/gpt-4o"),
            (&old.key, "openai/gpt-4o"),
            (&new.key, "openai/gpt-4o"),
            (&wrong_secret, "openai/gpt-4o"),
            (&unknown, "openai/gpt-4o"),
            (&typo, "openai/gpt-4o"),
        ],
    );
    assert!(
        unix_now() < grace_end,
        "the first calls ended after the keys' {GRACE_SECONDS} s grace: too slow a machine for \
         this test's timing"
    );
    assert_allowed(&out[0], &scoped, "openai/gpt-4o");
    assert_allowed(&out[1], &scoped, "openai/o3");
    assert_refused(&out[2], 403, "credential_out_of_scope");
    assert_allowed(&out[3], &whole, "anthropic/claude-sonnet");
    assert_refused(&out[4], 403, "no_grant");
    assert_allowed(&out[5], &revoked, "openai/gpt-4o");
    assert_allowed(&out[6], &expiring, "openai/gpt-4o");
    // Rotation: during the grace both the old key and its replacement work.
    assert_allowed(&out[7], &old, "openai/gpt-4o");
    assert_allowed(&out[8], &new, "openai/gpt-4o");
    assert_refused(&out[9], 401, "signature_invalid");
    assert_refused(&out[10], 401, "credential_unknown");
    assert_refused(&out[11], 401, "token_malformed");

    // Anthropic's SDKs send the key in `x-api-key`, without a prefix.
    let chat = |model: &str| {
        HttpRequest::new("POST", CHAT).json(&json!({
            "model": model,
            "messages": [{"role": "user", "content": "hi"}],
        }))
    };
    let r = envoy.request(&chat("anthropic/claude-sonnet").header("x-api-key", &whole.key));
    assert_eq!(r.status, 200, "body: {}", r.text());
    let answer = r.json();
    let saw: Value = serde_json::from_str(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("content is not JSON ({e}): {answer}"));
    assert_eq!(saw["credential"], json!(whole.id.to_string()), "{saw}");
    assert_eq!(saw["subject"], json!(PRINCIPAL), "{saw}");
    assert_eq!(saw["x-api-key"], json!(whole.key), "{saw}");
    assert_eq!(saw["authorization"], Value::Null, "{saw}");
    assert_no_secret(&saw["gatehouse"], &whole);
    let r = envoy.request(&chat("anthropic/claude-sonnet").header("x-api-key", &scoped.key));
    assert_http_refused(&r, 403, "credential_out_of_scope");
    let r = envoy.request(&chat("openai/gpt-4o").header("x-api-key", &wrong_secret));
    assert_http_refused(&r, 401, "signature_invalid");
    let r = envoy.request(&chat("openai/gpt-4o"));
    assert_http_refused(&r, 401, "token_missing");

    // Revocation: the credentials file records it, the next bundle carries it, pushed through
    // the watched ECDS file; refused from the first request that bundle decides.
    let bundle = fixture_bundle_with_credentials("2", gateway, tenant, &keys(Some(unix_now())));
    envoy.push(&bundle);
    wait_for_revision(&envoy, 2);
    let out = openai_sdk(
        &base_url,
        &[
            (&revoked.key, "openai/gpt-4o"),
            (&scoped.key, "openai/gpt-4o"),
        ],
    );
    assert_refused(&out[0], 401, "token_revoked");
    assert_allowed(&out[1], &scoped, "openai/gpt-4o");
    let r = envoy.request(&chat("openai/gpt-4o").header("x-api-key", &revoked.key));
    assert_http_refused(&r, 401, "token_revoked");

    // Past `expires`: the expiring key and the rotated one are refused, the replacement is not.
    // No new bundle: the filter reads the time itself.
    let wait = grace_end + 1 - unix_now();
    if wait > 0 {
        std::thread::sleep(std::time::Duration::from_secs(wait.unsigned_abs()));
    }
    let out = openai_sdk(
        &base_url,
        &[
            (&expiring.key, "openai/gpt-4o"),
            (&old.key, "openai/gpt-4o"),
            (&new.key, "openai/gpt-4o"),
        ],
    );
    assert_refused(&out[0], 401, "token_expired");
    assert_refused(&out[1], 401, "token_expired");
    assert_allowed(&out[2], &new, "openai/gpt-4o");
}

/// How many requests one key may make before Envoy's local rate limit answers 429 (the bucket
/// refills once a minute, so not during the test).
const PER_KEY_LIMIT: usize = 3;

/// Where the rate limit's `rate_limits` actions are configured.
#[derive(Debug, Clone, Copy)]
enum Actions {
    /// In the local rate limit filter's own `rate_limits` (what Envoy 1.40 asks for).
    Filter,
    /// On the route (Envoy 1.40 still reads them, and warns that it will stop).
    Route,
}

/// `config` (a static bootstrap whose HTTP filters are gatehouse.wasm then the router) with
/// what docs/credentials.md ("Keys at the gateway") describes: Envoy's local rate limit after
/// Gatehouse, one bucket per `x-gatehouse-credential` value, and an access log in JSON that
/// records the key id, subject, tenant, route and status, written to `log`.
fn with_rate_limit_and_access_log(config: &mut Value, log: &std::path::Path, actions: Actions) {
    let rate_limits = json!([{"actions": [{"request_headers": {
        "header_name": "x-gatehouse-credential",
        "descriptor_key": "credential",
    }}]}]);
    let hcm = config
        .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no connection manager in the configuration"));
    let always = json!({"default_value": {"numerator": 100, "denominator": "HUNDRED"},
                        "runtime_key": "per_credential_enabled"});
    let mut local_ratelimit = json!({
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "per_credential",
            "filter_enabled": always,
            "filter_enforced": always,
            // Requests without a key (a JWT, a public route) draw from this one, not from a key's.
            "token_bucket": {"max_tokens": 100_000, "tokens_per_fill": 100_000, "fill_interval": "1s"},
            "always_consume_default_token_bucket": false,
            "max_dynamic_descriptors": 10_000,
            // No value: each distinct key id gets a bucket of its own.
            "descriptors": [{
                "entries": [{"key": "credential"}],
                "token_bucket": {"max_tokens": PER_KEY_LIMIT, "tokens_per_fill": PER_KEY_LIMIT,
                                 "fill_interval": "60s"},
            }],
        },
    });
    if let (Actions::Filter, Some(Value::Object(typed))) =
        (actions, local_ratelimit.get_mut("typed_config"))
    {
        typed.insert("rate_limits".into(), rate_limits.clone());
    }
    let filters = hcm
        .get_mut("http_filters")
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("no http_filters"));
    let router = filters
        .iter()
        .position(|f| f["name"] == "envoy.filters.http.router")
        .unwrap_or_else(|| panic!("no router filter"));
    filters.insert(router, local_ratelimit);
    hcm.insert(
        "access_log".into(),
        json!([{
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": log,
                "log_format": {"json_format": {
                    "credential": "%REQ(x-gatehouse-credential)%",
                    "subject": "%REQ(x-gatehouse-subject)%",
                    "tenant": "%REQ(x-gatehouse-tenant)%",
                    "route": "%REQ(x-gatehouse-route)%",
                    "status": "%RESPONSE_CODE%",
                    "details": "%RESPONSE_CODE_DETAILS%",
                    "method": "%REQ(:method)%",
                    "path": "%REQ(:path)%",
                }},
            },
        }]),
    );
    let routes = hcm
        .get_mut("route_config")
        .and_then(|r| r.pointer_mut("/virtual_hosts/0/routes"))
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("no routes"));
    for route in routes {
        if let Some(Value::Object(action)) = route.get_mut("route") {
            if let Actions::Route = actions {
                action.insert("rate_limits".into(), rate_limits.clone());
            }
            // The router removes it after every filter ran: Gatehouse read the key, the upstream
            // does not get it.
            if let Value::Object(route) = route {
                route.insert("request_headers_to_remove".into(), json!(["authorization"]));
            }
        }
    }
}

#[test]
fn per_key_rate_limit_and_access_log() {
    for actions in [Actions::Filter, Actions::Route] {
        eprintln!("rate_limits actions: {actions:?}");
        rate_limit_and_access_log(actions);
    }
}

fn rate_limit_and_access_log(actions: Actions) {
    let limited = issue_key();
    let other = issue_key();
    let credentials = credentials_file(
        "e2e",
        vec![
            key_entry(&limited, PRINCIPAL, &[], json!({})),
            key_entry(&other, PRINCIPAL, &[], json!({})),
        ],
    );
    let bundle = fixture_bundle_with_credentials("1", gateway, tenant, &credentials);
    let upstream = Upstream::script(&repo_root().join("tests/upstreams/openai_upstream.py"));
    let (port, admin_port) = (free_port(), free_port());
    let options = envoy::Options {
        listen: Addr::loopback(port),
        admin: Addr::loopback(admin_port),
        upstream: envoy::Upstream::Cluster(Addr::loopback(upstream.port)),
        ..envoy::Options::default()
    };
    let filter = envoy::Filter {
        build: gatehouse_e2e::build(),
        module: gatehouse_e2e::module().to_path_buf(),
        ..envoy::Filter::default()
    };
    let mut config = envoy::static_bootstrap(&options, &filter, &bundle).json();
    let log_dir = gatehouse_e2e::scratch("credentials-access-log");
    let log = log_dir.join("access.log");
    with_rate_limit_and_access_log(&mut config, &log, actions);
    let envoy = StaticEnvoy::start("credentials-rate-limit", &config, port, admin_port);
    // Envoy 1.40 warns about descriptors fed from the route's actions, not from the filter's.
    let warned = envoy
        .log()
        .contains("'descriptors' is set but only used by route configuration");
    assert_eq!(warned, matches!(actions, Actions::Route), "{actions:?}");

    let chat = |key: &str, spoofed: Option<&str>| {
        let mut request = HttpRequest::new("POST", CHAT)
            .bearer(key)
            .json(&json!({"model": "openai/gpt-4o", "messages": []}));
        if let Some(id) = spoofed {
            request = request.header("x-gatehouse-credential", id);
        }
        envoy
            .request(&request)
            .unwrap_or_else(|e| panic!("request: {e}"))
    };
    // The limited key's bucket: PER_KEY_LIMIT answers, then 429 from Envoy, not from Gatehouse.
    for n in 0..PER_KEY_LIMIT {
        let r = chat(&limited.key, None);
        assert_eq!(r.status, 200, "request {n}: {}", r.text());
        let answer = r.json();
        let saw: Value = serde_json::from_str(
            answer["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("content is not JSON ({e}): {answer}"));
        assert_eq!(saw["credential"], json!(limited.id.to_string()), "{saw}");
        assert_eq!(saw["authorization"], Value::Null, "{saw}");
    }
    let r = chat(&limited.key, None);
    assert_eq!(r.status, 429, "{}", r.text());
    // Envoy's own answer (1.40 sets no `x-envoy-ratelimited` on it), not a Gatehouse denial.
    assert_eq!(r.text(), "local_rate_limited");
    assert_eq!(r.reason(), None);
    // Naming another key's id does not move the request to that bucket: Gatehouse replaced the
    // header with the id of the key presented before the rate limit read it.
    let r = chat(&limited.key, Some(&other.id.to_string()));
    assert_eq!(r.status, 429, "{}", r.text());
    // The other key has a bucket of its own, still full.
    for n in 0..PER_KEY_LIMIT {
        let r = chat(&other.key, None);
        assert_eq!(r.status, 200, "other key, request {n}: {}", r.text());
    }
    // A token rather than a key: no credential header, so no descriptor from that action; it
    // draws from the default bucket, more often than a key's limit.
    let carol = token("user:carol@e2e.test", json!({}));
    for n in 0..=PER_KEY_LIMIT {
        let r = chat(&carol, None);
        assert_eq!(r.status, 200, "token, request {n}: {}", r.text());
    }
    // A refused key never reaches the rate limit: Gatehouse answers first.
    let r = chat(
        &credential::assemble(limited.id, secret_of(&other)).key,
        None,
    );
    assert_http_refused(&r, 401, "signature_invalid");

    // The access log: one line per request, in order, with the key id (never the key), who it
    // stands for and what was answered.
    let key_line = |status: u16, key: &IssuedKey| json!({"status": status, "credential": key.id.to_string(), "subject": PRINCIPAL});
    let mut want = vec![key_line(200, &limited); PER_KEY_LIMIT];
    want.extend([key_line(429, &limited), key_line(429, &limited)]);
    want.extend(vec![key_line(200, &other); PER_KEY_LIMIT]);
    want.extend(vec![
        json!({"status": 200, "credential": null, "subject": "user:carol@e2e.test"});
        PER_KEY_LIMIT + 1
    ]);
    // Refused by Gatehouse: no identity was established, none is logged.
    want.push(json!({"status": 401, "credential": null, "subject": null}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (text, lines) = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line ({e}): {l}")))
            .collect();
        if lines.len() >= want.len() || std::time::Instant::now() > deadline {
            break (text, lines);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let got: Vec<Value> = lines
        .iter()
        .map(|l| json!({"status": l["status"], "credential": l["credential"], "subject": l["subject"]}))
        .collect();
    assert_eq!(got, want, "{lines:#?}");
    for line in lines.iter().filter(|l| l["status"] != json!(401)) {
        assert_eq!(line["tenant"], json!("e2e"), "{line}");
        assert_eq!(line["route"], json!("chat"), "{line}");
    }
    assert_eq!(lines[PER_KEY_LIMIT]["details"], json!("local_rate_limited"));
    for key in [&limited, &other] {
        assert!(
            !text.contains(secret_of(key)),
            "the access log holds a secret"
        );
    }
    drop(envoy);
    let _ = std::fs::remove_dir_all(log_dir);
}
