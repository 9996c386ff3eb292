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

use gatehouse_e2e::credentials::{
    credentials_file, issue_key, key_entry, openai_sdk, rfc3339, sdk_python, unix_now,
};
use gatehouse_e2e::{
    fixture_bundle_with_credentials, repo_root, Envoy, EnvoyOptions, HttpRequest, HttpResponse,
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
        e.stat("wasmcustom.gatehouse.bundle_revision") == revision
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
