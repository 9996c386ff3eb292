//! MCP routes as OAuth protected resources, decided by an engine loaded from a compiled tenant
//! and gateway: the metadata documents, the challenges, the audience and scope binding of
//! tokens, which listed tools a caller keeps, and what the compiler refuses in an `mcp:` block.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use std::path::{Path, PathBuf};

use gatehouse_compiler::compile::{compile_sources, Files, Sources};
use gatehouse_compiler::CompileError;
use gatehouse_deploy::keys::sign_jws;
use gatehouse_engine::credential::{self, KeyId};
use gatehouse_engine::mcp::trim::Kind;
use gatehouse_engine::route::Body;
use gatehouse_engine::{Engine, Identity, LoadOptions, Reason, Request};
use gatehouse_testkit::synth::{SYNTH_CP_JWKS, SYNTH_CP_PRIVATE_JWK};
use serde_json::{json, Map, Value};

const NOW: i64 = 1_800_000_000;
/// [`NOW`] as `gatehouse check --now` takes it.
const NOW_TEXT: &str = "2027-01-15T08:00:00Z";
const HOST: &str = "acme.test";
const OKTA: &str = "https://acme.okta.test";
const ENTRA: &str = "https://login.entra.test/acme/v2.0";
const GITHUB: &str = "/api/llm/mcp/github/server";
const GITHUB_URL: &str = "https://acme.test/api/llm/mcp/github/server";
const GITHUB_METADATA: &str =
    "https://acme.test/.well-known/oauth-protected-resource/api/llm/mcp/github/server";

fn tenant() -> String {
    format!(
        r#"
tenant:
  name: acme
  hosts: ["{HOST}"]
  issuer: https://acme.cp.test
  jwks: {SYNTH_CP_JWKS}
identity_providers:
  - name: okta
    issuer: {OKTA}
    jwks: {SYNTH_CP_JWKS}
    resolve_to: user
    email_claim: email
  - name: entra
    issuer: {ENTRA}
    jwks: {SYNTH_CP_JWKS}
    resolve_to: user
    email_claim: email
  - name: ci
    issuer: https://ci.test
    jwks: {SYNTH_CP_JWKS}
    resolve_to: virtual-account
    virtual_account_claim: repository
users:
  - {{email: alice@acme.com}}
  - {{email: bob@acme.com}}
  - {{email: vip@acme.com}}
virtual_accounts:
  - name: bot
    permissions:
      - {{resource: "mcp-server:github", role: mcp-server-user}}
resources:
  - type: mcp-server
    name: github
    collaborators:
      - {{subject: "user:alice@acme.com", role: mcp-server-user}}
      - {{subject: "user:vip@acme.com", role: mcp-server-user}}
    tools:
      - name: create_issue
      - name: search_code
      - name: delete_repo
        enabled: false
      - name: merge
        authorized_subjects: ["user:vip@acme.com"]
  - type: mcp-server
    name: jira
    collaborators:
      - {{subject: "user:bob@acme.com", role: mcp-server-user}}
    tools:
      - name: create_ticket
"#
    )
}

const GATEWAY: &str = r#"
default: deny
token_sources:
  - {header: authorization, prefix: "Bearer "}
  - {header: x-api-key}
routes:
  - name: health
    match: {path_prefix: /healthz}
    public: true
  - name: mcp
    match: {path: "/api/llm/mcp/{server}/server"}
    jsonrpc:
      "tools/call": {resource: "tool:{server}/{body.params.name}", action: use}
      "*": {resource: "mcp-server:{server}", action: read}
    mcp:
      authorization_servers: [okta, entra]
      scopes: [mcp.tools, mcp.read]
      audiences: ["api://mcp"]
      scheme: https
  - name: plain
    match: {path: "/api/plain/{server}"}
    jsonrpc:
      "tools/call": {resource: "tool:{server}/{body.params.name}", action: use}
      "*": {resource: "mcp-server:{server}", action: read}
"#;

/// A fixture key: the id and secret are fixed, so the digest in the credentials file is too.
fn api_key(id: u64) -> credential::IssuedKey {
    credential::assemble(KeyId(id), &"k".repeat(credential::SECRET_LEN))
}

fn credentials() -> String {
    let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let all = api_key(0x1111);
    let scoped = api_key(0x2222);
    json!({
        "credentials": {"tenant": "acme"},
        "keys": [
            {"id": all.id.to_string(), "sha256": hex(all.digest), "principal": "virtualaccount:bot",
             "created": "2026-11-01T00:00:00Z"},
            {"id": scoped.id.to_string(), "sha256": hex(scoped.digest),
             "principal": "virtualaccount:bot", "scopes": ["tool:github/search_code:use", "mcp-server:github"],
             "created": "2026-11-01T00:00:00Z"},
        ]
    })
    .to_string()
}

fn compile(gateway: &str, tenant: &str) -> Result<Vec<u8>, CompileError> {
    let creds = credentials();
    let tenants = [
        (Path::new("acme.yaml"), tenant),
        (Path::new("acme.credentials.json"), creds.as_str()),
    ];
    let policy = compile_sources(&Sources {
        gateway: Some((Path::new("gateway.yaml"), gateway)),
        tenants: &tenants,
        files: Files::Disk,
        revision: Some("mcp"),
        serial: 1,
    })?;
    Ok(gatehouse_engine::bundle::encode(&policy, None).unwrap())
}

fn engine_with(gateway: &str) -> Engine {
    let bundle = compile(gateway, &tenant()).unwrap_or_else(|e| panic!("{e:?}"));
    Engine::load(bundle, &LoadOptions::default()).unwrap()
}

fn engine() -> Engine {
    engine_with(GATEWAY)
}

fn token(claims: Value) -> String {
    let mut base = json!({"iss": OKTA, "email": "alice@acme.com", "iat": NOW - 60, "exp": NOW + 600,
        "aud": GITHUB_URL, "scope": "mcp.read mcp.tools"});
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    sign_jws(SYNTH_CP_PRIVATE_JWK, None, &Map::new(), &base).unwrap()
}

fn call(tool: &str) -> String {
    json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":{}}})
        .to_string()
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

/// Decides a POST of `body` to `path` with the headers given (`content-type` added).
fn post<'e>(
    engine: &'e Engine,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (gatehouse_engine::Outcome<'e>, Option<String>) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let request = Request {
        authority: HOST,
        method: "POST",
        path,
        headers: &all,
        body: Body::Bytes(body.as_bytes()),
    };
    let outcome = engine.decide(&request, Identity::Token, NOW);
    let challenge = engine.www_authenticate(&outcome, &request);
    (outcome, challenge)
}

fn with_token<'e>(
    engine: &'e Engine,
    token: &str,
    body: &str,
) -> (gatehouse_engine::Outcome<'e>, Option<String>) {
    let auth = format!("Bearer {token}");
    post(engine, GITHUB, &[("authorization", auth.as_str())], body)
}

fn reason(outcome: &gatehouse_engine::Outcome<'_>) -> Option<Reason> {
    outcome.decision.reason()
}

fn metadata(engine: &Engine, method: &str, authority: &str, path: &str) -> Option<Value> {
    let request = Request {
        authority,
        method,
        path,
        headers: &[(":scheme", "http")],
        body: Body::Absent,
    };
    engine
        .protected_resource_metadata(&request)
        .map(|doc| serde_json::from_str(&doc).unwrap())
}

#[test]
fn metadata_per_server() {
    let engine = engine();
    let github = metadata(
        &engine,
        "GET",
        HOST,
        "/.well-known/oauth-protected-resource/api/llm/mcp/github/server",
    );
    assert_eq!(
        github,
        Some(json!({
            "resource": GITHUB_URL,
            // The compiled tenant keeps its providers sorted by name.
            "authorization_servers": [ENTRA, OKTA],
            "scopes_supported": ["mcp.read", "mcp.tools"],
            "bearer_methods_supported": ["header"],
        }))
    );
    // The configured scheme, not the request's; the port kept, the query dropped.
    let jira = metadata(
        &engine,
        "GET",
        "ACME.test:8443",
        "/.well-known/oauth-protected-resource/api/llm/mcp/jira/server?x=1",
    )
    .unwrap();
    assert_eq!(
        jira["resource"],
        "https://acme.test:8443/api/llm/mcp/jira/server"
    );
    // The root form: two servers behind one route, so no single resource.
    assert_eq!(
        metadata(
            &engine,
            "GET",
            HOST,
            "/.well-known/oauth-protected-resource"
        ),
        None
    );
    // A path no protected route matches, another method, an unknown host.
    for (method, host, path) in [
        (
            "GET",
            HOST,
            "/.well-known/oauth-protected-resource/api/plain/github",
        ),
        (
            "GET",
            HOST,
            "/.well-known/oauth-protected-resource/api/llm/mcp/github",
        ),
        (
            "GET",
            HOST,
            "/.well-known/oauth-protected-resourceapi/llm/mcp/github/server",
        ),
        (
            "POST",
            HOST,
            "/.well-known/oauth-protected-resource/api/llm/mcp/github/server",
        ),
        (
            "HEAD",
            HOST,
            "/.well-known/oauth-protected-resource/api/llm/mcp/github/server",
        ),
        (
            "GET",
            "evil.test",
            "/.well-known/oauth-protected-resource/api/llm/mcp/github/server",
        ),
    ] {
        assert_eq!(
            metadata(&engine, method, host, path),
            None,
            "{method} {host}{path}"
        );
    }
}

#[test]
fn metadata_root_form_and_defaults() {
    let one = r#"
routes:
  - name: mcp
    match: {path: "/mcp"}
    jsonrpc:
      "tools/call": {resource: "tool:github/{body.params.name}", action: use}
      "*": {resource: "mcp-server:github", action: read}
    mcp: {}
"#;
    let engine = engine_with(one);
    let root = metadata(
        &engine,
        "GET",
        HOST,
        "/.well-known/oauth-protected-resource",
    )
    .unwrap();
    // The request's scheme; every provider resolving to users; no scopes.
    assert_eq!(
        root,
        json!({
            "resource": "http://acme.test/mcp",
            "authorization_servers": [ENTRA, OKTA],
            "bearer_methods_supported": ["header"],
        })
    );
    assert_eq!(
        metadata(
            &engine,
            "GET",
            HOST,
            "/.well-known/oauth-protected-resource/mcp"
        ),
        Some(root)
    );
    // Two protected routes without captures: the root form names neither.
    let two = format!(
        "{one}  - name: other\n    match: {{path: \"/other\"}}\n    jsonrpc:\n      \"*\": {{resource: \"mcp-server:jira\", action: read}}\n    mcp: {{tools_list: {{trim: false}}}}\n"
    );
    let engine = engine_with(&two);
    assert_eq!(
        metadata(
            &engine,
            "GET",
            HOST,
            "/.well-known/oauth-protected-resource"
        ),
        None
    );
    assert!(metadata(
        &engine,
        "GET",
        HOST,
        "/.well-known/oauth-protected-resource/other"
    )
    .is_some());
}

#[test]
fn audiences() {
    let engine = engine();
    let body = call("create_issue");
    let (ok, _) = with_token(&engine, &token(json!({})), &body);
    assert!(ok.decision.is_allow(), "{:?}", ok.decision);
    let (ok, _) = with_token(
        &engine,
        &token(json!({"aud": ["other", "api://mcp"]})),
        &body,
    );
    assert!(ok.decision.is_allow(), "{:?}", ok.decision);
    for aud in [
        json!("https://acme.test/api/llm/mcp/jira/server"),
        json!("http://acme.test/api/llm/mcp/github/server"),
        json!("api://gateway"),
        json!([]),
        Value::Null,
    ] {
        let (out, challenge) = with_token(&engine, &token(json!({ "aud": aud })), &body);
        assert_eq!(reason(&out), Some(Reason::AudienceMismatch), "{aud}");
        assert_eq!(
            challenge.as_deref(),
            Some(format!(
                "Bearer realm=\"acme\", error=\"invalid_token\", scope=\"mcp.read mcp.tools\", resource_metadata=\"{GITHUB_METADATA}\""
            ).as_str()),
            "{aud}"
        );
    }
    // An API key is no OAuth token: no audience, no scopes.
    let key = api_key(0x1111).key;
    let (out, _) = with_token(&engine, &key, &body);
    assert!(out.decision.is_allow(), "{:?}", out.decision);
    let (out, _) = post(&engine, GITHUB, &[("x-api-key", key.as_str())], &body);
    assert!(out.decision.is_allow(), "{:?}", out.decision);
    // Tokens on other routes are not bound to a resource.
    let auth = format!("Bearer {}", token(json!({"aud": null, "scope": null})));
    let (out, challenge) = post(
        &engine,
        "/api/plain/github",
        &[("authorization", auth.as_str())],
        &body,
    );
    assert!(out.decision.is_allow(), "{:?}", out.decision);
    assert_eq!(challenge, None);
}

#[test]
fn scopes() {
    let engine = engine();
    let body = call("create_issue");
    for claims in [
        json!({"scope": "mcp.tools mcp.read extra"}),
        json!({"scope": null, "scp": ["mcp.read", "mcp.tools"]}),
        json!({"scope": null, "scp": "mcp.tools  mcp.read"}),
        json!({"scope": "mcp.read mcp.tools", "scp": ["mcp.tools", "mcp.read", "mcp.read"]}),
    ] {
        let (out, challenge) = with_token(&engine, &token(claims.clone()), &body);
        assert!(out.decision.is_allow(), "{claims}: {:?}", out.decision);
        assert_eq!(challenge, None);
    }
    let (out, _) = with_token(
        &engine,
        &token(json!({"scope": "mcp.read mcp.tools", "scp": ["mcp.read"]})),
        &body,
    );
    assert_eq!(reason(&out), Some(Reason::TokenMalformed));
    for claims in [
        json!({"scope": "mcp.read"}),
        json!({"scope": null}),
        json!({"scope": "mcp.read mcp.tool"}),
        json!({"scope": null, "scp": ["mcp.read mcp.tools2"]}),
    ] {
        let (out, challenge) = with_token(&engine, &token(claims.clone()), &body);
        assert_eq!(reason(&out), Some(Reason::InsufficientScope), "{claims}");
        assert_eq!(Reason::InsufficientScope.status(), 403);
        let challenge = challenge.unwrap();
        assert_eq!(
            challenge,
            format!("Bearer realm=\"acme\", error=\"insufficient_scope\", scope=\"mcp.read mcp.tools\", resource_metadata=\"{GITHUB_METADATA}\"")
        );
    }
}

#[test]
fn challenges() {
    let engine = engine();
    let body = call("create_issue");
    let (out, challenge) = post(&engine, GITHUB, &[], &body);
    assert_eq!(reason(&out), Some(Reason::TokenMissing));
    assert_eq!(
        challenge.as_deref(),
        Some(format!("Bearer realm=\"acme\", scope=\"mcp.read mcp.tools\", resource_metadata=\"{GITHUB_METADATA}\"").as_str())
    );
    let (out, challenge) = with_token(&engine, &token(json!({"exp": NOW - 3600})), &body);
    assert_eq!(reason(&out), Some(Reason::TokenExpired));
    assert!(challenge
        .unwrap()
        .contains("error=\"invalid_token\", scope="));
    // 401 elsewhere: the bare challenge.
    let (out, challenge) = post(&engine, "/api/plain/github", &[], &body);
    assert_eq!(reason(&out), Some(Reason::TokenMissing));
    assert_eq!(challenge.as_deref(), Some("Bearer realm=\"acme\""));
    // 403s that are not about scopes carry none.
    let (out, challenge) = with_token(&engine, &token(json!({})), &call("delete_repo"));
    assert_eq!(reason(&out), Some(Reason::ResourceDisabled));
    assert_eq!(challenge, None);
}

/// Which of the listed tools the caller of a `tools/list` keeps.
fn kept(engine: &Engine, headers: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let request = Request {
        authority: HOST,
        method: "POST",
        path: GITHUB,
        headers: &all,
        body: Body::Bytes(LIST.as_bytes()),
    };
    let outcome = engine.decide(&request, Identity::Token, NOW);
    assert!(outcome.decision.is_allow(), "{:?}", outcome.decision);
    let grant = engine.tools_list_grant(&outcome, &request).unwrap();
    assert_eq!(grant.max_bytes(), 1 << 20);
    let names = [
        "create_issue",
        "search_code",
        "delete_repo",
        "merge",
        "unknown",
    ];
    let tools: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
    let response = json!({"jsonrpc":"2.0","id":1,"result":{"tools":tools}}).to_string();
    let trimmed = engine
        .trim_tools_list(&grant, Kind::Json, response.as_bytes())
        .unwrap();
    assert_eq!(trimmed.listed, 5);
    let body: Value = serde_json::from_slice(&trimmed.body).unwrap();
    let out: Vec<String> = body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(trimmed.kept, out.len());
    // Each kept tool is one a tools/call of would be allowed, and only those.
    for name in names {
        assert_eq!(
            engine.tool_allowed(&grant, name).is_ok(),
            out.iter().any(|n| n == name),
            "{name}"
        );
    }
    out
}

#[test]
fn tools_lists_keep_what_the_caller_may_call() {
    let engine = engine();
    let bearer = |t: String| format!("Bearer {t}");
    let alice = bearer(token(json!({})));
    assert_eq!(
        kept(&engine, &[("authorization", &alice)]),
        ["create_issue", "search_code"]
    );
    let vip = bearer(token(json!({"email": "vip@acme.com"})));
    assert_eq!(
        kept(&engine, &[("authorization", &vip)]),
        ["create_issue", "search_code", "merge"]
    );
    let all = api_key(0x1111).key;
    assert_eq!(
        kept(&engine, &[("x-api-key", &all)]),
        ["create_issue", "search_code"]
    );
    let scoped = api_key(0x2222).key;
    assert_eq!(kept(&engine, &[("x-api-key", &scoped)]), ["search_code"]);
    // Bob reads jira's list but not github's.
    let bob = bearer(token(json!({"email": "bob@acme.com"})));
    let (out, _) = post(&engine, GITHUB, &[("authorization", &bob)], LIST);
    assert_eq!(reason(&out), Some(Reason::NoGrant));

    // No grant: another method, a route that does not trim, a denial.
    let headers = [
        ("content-type", "application/json"),
        ("authorization", alice.as_str()),
    ];
    let request = |path, body: &'static str| Request {
        authority: HOST,
        method: "POST",
        path,
        headers: &headers,
        body: Body::Bytes(body.as_bytes()),
    };
    let call_body: &'static str =
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_code"}}"#;
    let r = request(GITHUB, call_body);
    let o = engine.decide(&r, Identity::Token, NOW);
    assert!(o.decision.is_allow());
    assert!(engine.tools_list_grant(&o, &r).is_none());
    let r = request("/api/plain/github", LIST);
    let o = engine.decide(&r, Identity::Token, NOW);
    assert!(o.decision.is_allow());
    assert!(engine.tools_list_grant(&o, &r).is_none());
    let r = request("/api/llm/mcp/jira/server", LIST);
    let o = engine.decide(&r, Identity::Token, NOW);
    assert!(!o.decision.is_allow());
    assert!(engine.tools_list_grant(&o, &r).is_none());
}

fn compile_error(gateway: &str) -> String {
    match compile(gateway, &tenant()) {
        Err(CompileError::Invalid(d)) => d.iter().map(|d| format!("{}\n", d.message)).collect(),
        Err(e) => e.to_string(),
        Ok(_) => panic!("compiled:\n{gateway}"),
    }
}

#[test]
fn compile_errors() {
    let route = |target: &str, mcp: &str| {
        format!("routes:\n  - name: m\n    match: {{path: \"/mcp/{{server}}\"}}\n{target}    mcp: {mcp}\n")
    };
    let jsonrpc = "    jsonrpc:\n      \"tools/call\": {resource: \"tool:{server}/{body.params.name}\", action: use}\n      \"*\": {resource: \"mcp-server:{server}\", action: read}\n";
    let no_call = "    jsonrpc:\n      \"*\": {resource: \"mcp-server:{server}\", action: read}\n";
    // The control: the same route compiles.
    assert!(compile(&route(jsonrpc, "{}"), &tenant()).is_ok());
    assert!(compile(&route(no_call, "{tools_list: {trim: false}}"), &tenant()).is_ok());
    for (gateway, want) in [
        (
            route(
                "    resource: \"mcp-server:{server}\"\n    action: read\n",
                "{}",
            ),
            "needs a `jsonrpc` mapping",
        ),
        (
            route(&format!("    public: true\n{jsonrpc}"), "{}"),
            "cannot be an MCP protected resource",
        ),
        (route(no_call, "{}"), "needs a `\"tools/call\"` entry"),
        (
            route(jsonrpc, "{scheme: ftp}"),
            "scheme `ftp` must be `https` or `http`",
        ),
        (
            route(jsonrpc, "{scheme: HTTPS}"),
            "must be `https` or `http`",
        ),
        (
            route(jsonrpc, r#"{scopes: ["a b"]}"#),
            "invalid scope `a b`",
        ),
        (route(jsonrpc, r#"{scopes: ["a\"b"]}"#), "invalid scope"),
        (route(jsonrpc, r#"{scopes: [""]}"#), "invalid scope"),
        (
            route(jsonrpc, r#"{audiences: ["a\\b"]}"#),
            "invalid audience",
        ),
        (
            route(jsonrpc, "{tools_list: {max_bytes: 0}}"),
            "`max_bytes` must be at least 1",
        ),
        (route(jsonrpc, "{refusal: teapot}"), "teapot"),
    ] {
        let error = compile_error(&gateway);
        assert!(error.contains(want), "{gateway}\nwant {want}, got: {error}");
    }
}

// ---------------------------------------------------------------------------------------------
// `gatehouse check`: the metadata document and the challenges.

fn bundle_file(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mcp");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, compile(GATEWAY, &tenant()).unwrap()).unwrap();
    path
}

fn check(bundle: &Path, args: &[&str]) -> (i32, String) {
    let mut all = vec![
        "check",
        "--bundle",
        bundle.to_str().unwrap(),
        "--now",
        NOW_TEXT,
        "--host",
        HOST,
    ];
    all.extend_from_slice(args);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&all)
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn check_serves_the_metadata_document() {
    let bundle = bundle_file("metadata.bundle");
    let path = "--path=/.well-known/oauth-protected-resource/api/llm/mcp/github/server";
    let (code, out) = check(&bundle, &["--method", "GET", path, "--json"]);
    assert_eq!(code, 0);
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        answer,
        json!({"decision": "respond", "status": 200, "document": {
            "resource": GITHUB_URL,
            "authorization_servers": [ENTRA, OKTA],
            "scopes_supported": ["mcp.read", "mcp.tools"],
            "bearer_methods_supported": ["header"],
        }})
    );
    let (code, text) = check(&bundle, &["--method", "GET", path]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with("respond 200 (protected-resource metadata)\n{\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"resource\": \"{GITHUB_URL}\"")),
        "{text}"
    );
    // The root form names no one resource here: the request is decided (and no route matches).
    let (code, out) = check(
        &bundle,
        &[
            "--method",
            "GET",
            "--path=/.well-known/oauth-protected-resource",
            "--json",
        ],
    );
    assert_eq!(code, 2);
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["decision"], "deny");
    assert_eq!(answer["reason"], "no_route");
    assert!(answer.get("document").is_none());
}

#[test]
fn check_shows_challenges() {
    let bundle = bundle_file("challenges.bundle");
    let body = format!("--body={}", call("create_issue"));
    let (code, out) = check(
        &bundle,
        &[
            "--method",
            "POST",
            &format!("--path={GITHUB}"),
            &body,
            "--json",
        ],
    );
    assert_eq!(code, 2);
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["reason"], "token_missing");
    assert_eq!(
        answer["www_authenticate"],
        format!("Bearer realm=\"acme\", scope=\"mcp.read mcp.tools\", resource_metadata=\"{GITHUB_METADATA}\"")
    );
    let (_, text) = check(
        &bundle,
        &["--method", "POST", &format!("--path={GITHUB}"), &body],
    );
    assert!(text.starts_with("deny 401 token_missing\n"), "{text}");
    assert!(
        text.contains(&format!("\n  challenge  Bearer realm=\"acme\", scope=\"mcp.read mcp.tools\", resource_metadata=\"{GITHUB_METADATA}\"\nwhy: ")),
        "{text}"
    );

    let scoped = format!("--token={}", token(json!({"scope": "mcp.read"})));
    let (code, out) = check(
        &bundle,
        &[
            "--method",
            "POST",
            &format!("--path={GITHUB}"),
            &body,
            &scoped,
            "--json",
        ],
    );
    assert_eq!(code, 2);
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["status"], 403);
    assert_eq!(answer["reason"], "insufficient_scope");
    assert!(answer["www_authenticate"]
        .as_str()
        .unwrap()
        .contains("error=\"insufficient_scope\""));

    // An allow, and a denial that carries no challenge, have no such member.
    let good = format!("--token={}", token(json!({})));
    let (code, out) = check(
        &bundle,
        &[
            "--method",
            "POST",
            &format!("--path={GITHUB}"),
            &body,
            &good,
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["decision"], "allow");
    assert!(answer.get("www_authenticate").is_none());
    let delete = format!("--body={}", call("delete_repo"));
    let (_, out) = check(
        &bundle,
        &[
            "--method",
            "POST",
            &format!("--path={GITHUB}"),
            &delete,
            &good,
            "--json",
        ],
    );
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["reason"], "resource_disabled");
    assert!(answer.get("www_authenticate").is_none());
}

/// The Streamable HTTP transport's bodiless requests (GET opens the server's event stream,
/// DELETE ends a session) are the MCP route's `"*"` target; a body on them is refused. Elsewhere
/// a JSON-RPC route still needs its JSON body.
#[test]
fn bodiless_transport_requests() {
    let engine = engine();
    let auth = format!("Bearer {}", token(json!({})));
    let decide = |method: &str, path: &str, body: Body<'_>| {
        let headers = [
            ("authorization", auth.as_str()),
            ("accept", "text/event-stream"),
        ];
        let request = Request {
            authority: HOST,
            method,
            path,
            headers: &headers,
            body,
        };
        let outcome = engine.decide(&request, Identity::Token, NOW);
        (
            outcome.decision.reason(),
            outcome.resource(),
            outcome.action.map(str::to_owned),
            engine.needs_body(HOST, method, path),
        )
    };
    for method in ["GET", "DELETE"] {
        let (reason, resource, action, needs_body) = decide(method, GITHUB, Body::Absent);
        assert_eq!(reason, None, "{method}");
        assert_eq!(resource.as_deref(), Some("mcp-server:github"), "{method}");
        assert_eq!(action.as_deref(), Some("read"), "{method}");
        // A body, if one comes, is read so that it can be refused, never forwarded unread.
        assert!(needs_body, "{method}: a body sent with it must be seen");
        let (reason, ..) = decide(method, GITHUB, Body::Bytes(LIST.as_bytes()));
        assert_eq!(reason, Some(Reason::BodyInvalid), "{method} with a body");
    }
    // bob holds nothing on github: the event stream is refused like any other read.
    let bob = format!(
        "Bearer {}",
        token(json!({"email": "bob@acme.com", "aud": GITHUB_URL}))
    );
    let request = Request {
        authority: HOST,
        method: "GET",
        path: GITHUB,
        headers: &[("authorization", bob.as_str())],
        body: Body::Absent,
    };
    assert_eq!(
        engine
            .decide(&request, Identity::Token, NOW)
            .decision
            .reason(),
        Some(Reason::NoGrant)
    );
    // A JSON-RPC route that is not an MCP route keeps needing its body.
    let (reason, ..) = decide("GET", "/api/plain/github", Body::Absent);
    assert_eq!(reason, Some(Reason::UnsupportedMediaType));
}

/// The 2026-07-28 transport repeats the method in `Mcp-Method` and the tool in `Mcp-Name`: a
/// server may route on them, so headers that name another method or tool than the body are
/// refused (on every JSON-RPC route), and agreeing ones change nothing.
#[test]
fn mcp_headers_must_agree_with_the_body() {
    let engine = engine();
    let auth = format!("Bearer {}", token(json!({})));
    let decide = |path: &str, headers: &[(&str, &str)], body: &str| {
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        post(&engine, path, &all, body).0.decision.reason()
    };
    let call = call("create_issue");
    assert_eq!(decide(GITHUB, &[], &call), None);
    assert_eq!(
        decide(
            GITHUB,
            &[("mcp-method", "tools/call"), ("mcp-name", "create_issue")],
            &call
        ),
        None
    );
    for headers in [
        &[("mcp-method", "tools/list")][..],
        &[("mcp-method", "tools/call"), ("mcp-name", "delete_repo")][..],
        &[("mcp-name", "Create_Issue")][..],
    ] {
        assert_eq!(
            decide(GITHUB, headers, &call),
            Some(Reason::RequestAmbiguous),
            "{headers:?}"
        );
        assert_eq!(
            decide("/api/plain/github", headers, &call),
            Some(Reason::RequestAmbiguous),
            "plain JSON-RPC route, {headers:?}"
        );
    }
    assert_eq!(decide(GITHUB, &[("mcp-method", "tools/list")], LIST), None);
}
