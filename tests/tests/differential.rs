//! Differential end-to-end suite (SPEC 3.1 step 2, 3.2 bodies, 3.3): the filter must decide only
//! on a reading of the request that no common upstream can read differently.
//!
//! Every case goes through a real Envoy running gatehouse.wasm to an upstream that parses the
//! way real services do (`tests/upstreams/`):
//! - **go**: net/http and encoding/json into structs (case-insensitive keys, last match wins;
//!   canonicalised header names), as OpenAI-compatible and MCP servers in Go read requests;
//! - **wsgi**: wsgiref and the CGI environ (`-` and `_` in header names both become `_`);
//! - **form**: picks its body parser from Content-Type (form, multipart, JSON).
//!
//! under two Envoy configurations, each one Envoy reused by every case:
//! - **generated**: the static bootstrap `gatehouse envoy-config` writes
//!   (`gatehouse_deploy::envoy`), with a route and a cluster per upstream that send each case
//!   to its upstream by an `x-differential-upstream` header;
//! - **istio**: the same with Istio's default path settings (`normalize_path: true`,
//!   `merge_slashes: false`, `path_with_escaped_slashes_action: KEEP_UNCHANGED`) and Envoy's
//!   default `headers_with_underscores_action: ALLOW`: the filter sees raw `//`, `%2F`, `_`.
//!
//! A case passes when it meets its explicit expectation: refused (by Gatehouse: a 4xx local reply
//! `{"error":...,"reason":...}` with the listed status and reason; or, where listed, by Envoy
//! itself before the filter), or allowed with the listed route, subject and resource; and an
//! allowed request must also pass the differential check: the same request, as Envoy forwarded
//! it, decided offline by the engine, is allowed on those facts, and the upstream read exactly
//! those facts (the model, JSON-RPC method and tool, the route of its decoded and of its cleaned
//! path, query and header values, one subject header equal to the decided one, no method/URL
//! override headers).
//!
//! `cargo test -p gatehouse-e2e --test differential -- --nocapture` prints the table of cases,
//! refusals, benign allows and failures per upstream and configuration, then every failure;
//! with `DIFFERENTIAL_VERBOSE=1`, also one line per case with what was observed.

#![expect(clippy::panic, reason = "test code: a broken setup fails the test")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use gatehouse_compiler::compile::compile_sources;
use gatehouse_deploy::envoy::{self, Addr, HeaderRoute, PathHandling, Underscores, Upstream};
use gatehouse_deploy::keys;
use gatehouse_e2e::upstreams::{
    form_upstream, go_upstream, wsgi_upstream, StaticEnvoy, UpstreamProcess,
};
use gatehouse_e2e::{free_port, repo_root, wasm, HttpRequest, HttpResponse};
use gatehouse_engine::route::{match_route, Body};
use gatehouse_engine::{Engine, Identity, LoadOptions, Reason, Request};
use serde_json::{json, Map, Value};

const CHAT: &str = "/api/llm/v1/chat/completions";
const MCP: &str = "/api/llm/mcp/github/server";
const PROMPT: &str = "/api/prompts/prompts/summarize";
const ROUTE_HEADER: &str = "x-differential-upstream";
const TENANT: &str = "acme";

const CAROL: &str = "user:carol@acme.com";
const DAVE: &str = "user:dave@acme.com";
const KIRA: &str = "user:kira@acme.com";

const OVERRIDE_HEADERS: [&str; 5] = [
    "X-Http-Method-Override",
    "X-Http-Method",
    "X-Method-Override",
    "X-Original-Url",
    "X-Rewrite-Url",
];
const OVERRIDE_ENVIRON: [&str; 5] = [
    "HTTP_X_HTTP_METHOD_OVERRIDE",
    "HTTP_X_HTTP_METHOD",
    "HTTP_X_METHOD_OVERRIDE",
    "HTTP_X_ORIGINAL_URL",
    "HTTP_X_REWRITE_URL",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Up {
    Go,
    Wsgi,
    Form,
}

impl Up {
    fn name(self) -> &'static str {
        match self {
            Up::Go => "go",
            Up::Wsgi => "wsgi",
            Up::Form => "form",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Config {
    Generated,
    Istio,
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::Generated => "generated",
            Config::Istio => "istio",
        }
    }
}

/// A refusal a case accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Gatehouse's local reply with this status and reason.
    Gatehouse(u16, &'static str),
    /// Envoy's own 4xx before the filter (e.g. `path_with_escaped_slashes_action:
    /// REJECT_REQUEST`, `headers_with_underscores_action: REJECT_REQUEST`).
    Envoy(u16),
}

/// The facts an allowed request must have been decided on (and the upstream must have read).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reading {
    route: String,
    subject: Option<String>,
    resource: Option<String>,
}

#[derive(Debug, Clone)]
enum Expect {
    Refused(Vec<Refusal>),
    Allowed(Reading),
    /// Either is benign (e.g. identical repeated values "may pass").
    AllowedOrRefused(Reading, Vec<Refusal>),
}

impl Expect {
    fn describe(&self) -> String {
        let refusals = |list: &[Refusal]| {
            list.iter()
                .map(|r| match r {
                    Refusal::Gatehouse(s, reason) => format!("{s} {reason}"),
                    Refusal::Envoy(s) => format!("envoy {s}"),
                })
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let reading = |r: &Reading| {
            format!(
                "route {} as {} on {}",
                r.route,
                r.subject.as_deref().unwrap_or("nobody"),
                r.resource.as_deref().unwrap_or("-")
            )
        };
        match self {
            Expect::Refused(list) => format!("refused ({})", refusals(list)),
            Expect::Allowed(r) => format!("allowed: {}", reading(r)),
            Expect::AllowedOrRefused(r, list) => {
                format!("allowed: {}, or refused ({})", reading(r), refusals(list))
            }
        }
    }
}

fn refused(list: &[Refusal]) -> Expect {
    Expect::Refused(list.to_vec())
}

fn gh(status: u16, reason: &'static str) -> Refusal {
    Refusal::Gatehouse(status, reason)
}

fn allowed(route: &'static str, subject: Option<&'static str>, resource: Option<&str>) -> Reading {
    Reading {
        route: route.to_owned(),
        subject: subject.map(str::to_owned),
        resource: resource.map(str::to_owned),
    }
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    up: Up,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    expect: Expect,
    /// Under the Istio configuration, when it differs.
    istio: Option<Expect>,
}

impl Case {
    fn new(up: Up, name: &str, method: &'static str, path: &str) -> Case {
        Case {
            name: name.to_owned(),
            up,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            expect: refused(&[]),
            istio: None,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Case {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn bearer(self, token: &str) -> Case {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body, exactly these bytes, with `content-type: application/json`.
    fn json(self, body: &str) -> Case {
        self.header("content-type", "application/json").body(body)
    }

    fn body(mut self, body: &str) -> Case {
        self.body = Some(body.as_bytes().to_vec());
        self
    }

    fn expect(mut self, expect: Expect) -> Case {
        self.expect = expect;
        self
    }

    fn istio(mut self, expect: Expect) -> Case {
        self.istio = Some(expect);
        self
    }

    fn expectation(&self, config: Config) -> &Expect {
        match (config, &self.istio) {
            (Config::Istio, Some(e)) => e,
            _ => &self.expect,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens (examples/acme keys)

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn acme_key(name: &str) -> String {
    let path = repo_root().join("examples/acme/keys").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A control-plane token of tenant acme.
fn cp_token(sub: &str) -> String {
    let claims = json!({
        "iss": "https://acme.cp.example.com", "tenant": TENANT, "sub": sub,
        "iat": now(), "exp": now() + 3600,
    });
    keys::sign_jws(
        &acme_key("acme-cp.private.jwk.json"),
        None,
        &Map::new(),
        &claims,
    )
    .unwrap_or_else(|e| panic!("signing a control-plane token: {e}"))
}

/// An Okta (identity provider) token of acme with these claims on top.
fn okta_token(extra: Value) -> String {
    let mut claims = json!({
        "iss": "https://acme.okta.com/oauth2/default", "aud": "api://gateway",
        "sub": "00u-okta-user", "iat": now(), "exp": now() + 3600,
    });
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    keys::sign_jws(
        &acme_key("okta.private.jwk.json"),
        Some("RS256"),
        &Map::new(),
        &claims,
    )
    .unwrap_or_else(|e| panic!("signing an Okta token: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The cases

fn cases() -> Vec<Case> {
    let carol = cp_token(CAROL);
    let dave = cp_token(DAVE);
    let mut cases = Vec::new();
    cases.extend(json_folding_cases(&dave));
    cases.extend(jsonrpc_method_cases(&dave));
    cases.extend(underscore_header_cases(&carol));
    cases.extend(path_cases(&dave));
    cases.extend(content_type_cases(&dave));
    cases.extend(override_header_cases(&carol));
    cases.extend(repeated_value_cases(&carol, &dave));
    cases.extend(email_folding_cases());
    cases
}

const BODY_INVALID: Refusal = Refusal::Gatehouse(400, "body_invalid");
const AMBIGUOUS: Refusal = Refusal::Gatehouse(400, "request_ambiguous");
const NOT_CANONICAL: Refusal = Refusal::Gatehouse(400, "path_not_canonical");
const MEDIA_TYPE: Refusal = Refusal::Gatehouse(415, "unsupported_media_type");

/// Bodies with keys equal under Unicode simple case folding: Go's encoding/json fills a struct
/// field from every key that folds to its name, and keeps the last. Dave may use gpt-4o but not
/// o3 (authorized_subjects); `tool:github/delete_repo` is disabled.
fn json_folding_cases(dave: &str) -> Vec<Case> {
    let chat = |name: &str, body: &str| {
        Case::new(Up::Go, name, "POST", CHAT)
            .bearer(dave)
            .json(body)
    };
    let mcp = |name: &str, body: &str| Case::new(Up::Go, name, "POST", MCP).bearer(dave).json(body);
    let gpt4o = allowed("chat", Some(DAVE), Some("model:openai-main/gpt-4o"));
    vec![
        chat("chat: plain gpt-4o (control)", r#"{"model":"openai-main/gpt-4o","messages":[]}"#)
            .expect(Expect::Allowed(gpt4o)),
        chat("chat: o3 for dave (control)", r#"{"model":"openai-main/o3"}"#)
            .expect(refused(&[gh(403, "not_authorized_subject")])),
        chat(
            "chat: model then MODEL (go reads MODEL)",
            r#"{"model":"openai-main/gpt-4o","MODEL":"openai-main/o3"}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        chat(
            "chat: model then Model (go reads Model)",
            r#"{"model":"openai-main/gpt-4o","Model":"openai-main/o3"}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        chat(
            "chat: Model then model (go reads model)",
            r#"{"Model":"openai-main/o3","model":"openai-main/gpt-4o"}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        chat("chat: only Model (go reads it)", r#"{"Model":"openai-main/o3"}"#)
            .expect(refused(&[gh(403, "resource_unresolved"), BODY_INVALID])),
        chat(
            "chat: Kelvin sign key folds to k",
            "{\"model\":\"openai-main/gpt-4o\",\"\u{212A}ind\":\"a\",\"kind\":\"b\"}",
        )
        .expect(refused(&[BODY_INVALID])),
        chat(
            "chat: escaped Kelvin sign key",
            r#"{"model":"openai-main/gpt-4o","kind":"a","\u212Aind":"b"}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        mcp(
            "mcp: method then METHOD (go reads tools/call)",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call","params":{"name":"delete_repo"}}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        mcp(
            "mcp: only METHOD (go reads tools/call)",
            r#"{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","params":{"name":"delete_repo"}}"#,
        )
        // No `method` for Gatehouse: nothing to route on, never `"*"`.
        .expect(refused(&[BODY_INVALID, AMBIGUOUS, gh(403, "resource_unresolved")])),
        mcp(
            "mcp: params then PARAMS",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue"},"PARAMS":{"name":"delete_repo"}}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        mcp(
            "mcp: long s (U+017F) key folds to params",
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"create_issue\"},\"param\u{17F}\":{\"name\":\"delete_repo\"}}",
        )
        .expect(refused(&[BODY_INVALID])),
        mcp(
            "mcp: nested name then NAME",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue","NAME":"delete_repo"}}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        mcp(
            "mcp: nested Kelvin sign keys",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue","\u212Aey":"a","key":"b"}}"#,
        )
        .expect(refused(&[BODY_INVALID])),
        mcp(
            "mcp: delete_repo is disabled (control)",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo"}}"#,
        )
        .expect(refused(&[gh(403, "resource_disabled")])),
        mcp(
            "mcp: create_issue (control)",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue"}}"#,
        )
        .expect(Expect::Allowed(allowed(
            "mcp",
            Some(DAVE),
            Some("tool:github/create_issue"),
        ))),
        mcp(
            "mcp: tools/list (control)",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
        )
        .expect(Expect::Allowed(allowed(
            "mcp",
            Some(DAVE),
            Some("mcp-server:github"),
        ))),
    ]
}

/// A JSON-RPC method equal to a routed one under folding or surrounding whitespace is refused,
/// never sent to `"*"` (a lenient MCP server would run it as `tools/call`).
fn jsonrpc_method_cases(dave: &str) -> Vec<Case> {
    let mcp = |name: &str, method: &str| {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":{},"params":{{"name":"delete_repo"}}}}"#,
            Value::from(method)
        );
        Case::new(Up::Go, name, "POST", MCP)
            .bearer(dave)
            .json(&body)
    };
    let rpc_refused = || refused(&[BODY_INVALID, AMBIGUOUS]);
    vec![
        mcp("rpc method: Tools/Call", "Tools/Call").expect(rpc_refused()),
        mcp("rpc method: TOOLS/CALL", "TOOLS/CALL").expect(rpc_refused()),
        mcp("rpc method: leading space", " tools/call").expect(rpc_refused()),
        mcp("rpc method: trailing newline", "tools/call\n").expect(rpc_refused()),
        mcp("rpc method: long s in tool\u{17F}/call", "tool\u{17F}/call").expect(rpc_refused()),
        // A JSON escape is the same string to every parser: routed as tools/call.
        Case::new(Up::Go, "rpc method: JSON-escaped tools\\/call", "POST", MCP)
            .bearer(dave)
            .json(r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"delete_repo"}}"#)
            .expect(refused(&[gh(403, "resource_disabled")])),
        Case::new(Up::Go, "rpc method: \\u0074ools/call, create_issue", "POST", MCP)
            .bearer(dave)
            .json(r#"{"jsonrpc":"2.0","id":1,"method":"\u0074ools/call","params":{"name":"create_issue"}}"#)
            .expect(Expect::Allowed(allowed("mcp", Some(DAVE), Some("tool:github/create_issue")))),
    ]
}

/// Header names with `_`: to WSGI/CGI `x_gatehouse_subject` is HTTP_X_GATEHOUSE_SUBJECT. The
/// generated configuration refuses them in Envoy (`headers_with_underscores_action:
/// REJECT_REQUEST`); where Envoy lets them through, the filter must remove them.
fn underscore_header_cases(carol: &str) -> Vec<Case> {
    let envoy_400 = || refused(&[Refusal::Envoy(400)]);
    let health = |name: &str, header: &str, value: &str| {
        Case::new(Up::Wsgi, name, "GET", "/healthz")
            .header(header, value)
            .expect(envoy_400())
            .istio(Expect::Allowed(allowed("health", None, None)))
    };
    let prompt = |name: &str, header: &str, value: &str| {
        Case::new(Up::Wsgi, name, "GET", PROMPT)
            .bearer(carol)
            .header(header, value)
            .expect(envoy_400())
            .istio(Expect::Allowed(allowed(
                "prompts",
                Some(CAROL),
                Some("prompt:prompts/summarize"),
            )))
    };
    let carol_reads = || {
        Expect::Allowed(allowed(
            "prompts",
            Some(CAROL),
            Some("prompt:prompts/summarize"),
        ))
    };
    vec![
        health(
            "public: x_gatehouse_subject",
            "x_gatehouse_subject",
            "user:alice@acme.com",
        ),
        health("public: X_Gatehouse_Tenant", "X_Gatehouse_Tenant", "globex"),
        health(
            "public: x-gatehouse_subject",
            "x-gatehouse_subject",
            "user:alice@acme.com",
        ),
        health("public: x_gatehouse-route", "x_gatehouse-route", "admin"),
        prompt(
            "authorized: x_gatehouse_subject",
            "x_gatehouse_subject",
            "user:alice@acme.com",
        ),
        prompt(
            "authorized: X_GATEHOUSE_SUBJECT",
            "X_GATEHOUSE_SUBJECT",
            "user:alice@acme.com",
        ),
        prompt(
            "authorized: x-gatehouse_subject",
            "x-gatehouse_subject",
            "user:alice@acme.com",
        ),
        prompt(
            "authorized: x_gatehouse_tenant",
            "x_gatehouse_tenant",
            "globex",
        ),
        Case::new(
            Up::Wsgi,
            "authorized: X-GATEHOUSE-SUBJECT (dashes)",
            "GET",
            PROMPT,
        )
        .bearer(carol)
        .header("X-GATEHOUSE-SUBJECT", "user:alice@acme.com")
        .expect(carol_reads()),
        Case::new(Up::Go, "go: X-Gatehouse-Subject twice", "GET", PROMPT)
            .bearer(carol)
            .header("x-gatehouse-subject", "user:alice@acme.com")
            .header("X-GATEHOUSE-SUBJECT", "user:peggy@acme.com")
            .expect(carol_reads()),
        Case::new(
            Up::Go,
            "go: public route, forged subject",
            "GET",
            "/healthz",
        )
        .header("X-Gatehouse-Subject", "user:alice@acme.com")
        .expect(Expect::Allowed(allowed("health", None, None))),
    ]
}

/// Paths the Go upstream decodes (`r.URL.Path`) and cleans (`path.Clean`) to another route.
/// Under the generated configuration Envoy normalises dot segments and refuses `%2F`/`%5C`; under
/// Istio's settings the filter sees them and must refuse them itself.
fn path_cases(dave: &str) -> Vec<Case> {
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue"}}"#;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let anon = |name: &str, path: &str| Case::new(Up::Go, name, "POST", path).json(call);
    // After Envoy's normalisation the path is the MCP route's, which needs a token.
    let normalised_or_refused =
        || refused(&[gh(401, "token_missing"), NOT_CANONICAL, Refusal::Envoy(400)]);
    let dave_lists = |path: &str| {
        Case::new(Up::Go, &format!("dave: {path}"), "POST", path)
            .bearer(dave)
            .json(list)
    };
    let dave_get = |name: &str, path: &str| Case::new(Up::Go, name, "GET", path).bearer(dave);
    let mcp_list = || allowed("mcp", Some(DAVE), Some("mcp-server:github"));
    vec![
        anon(
            "no token: /healthz/..%2F..%2Fapi/...",
            "/healthz/..%2F..%2Fapi/llm/mcp/github/server",
        )
        .expect(refused(&[Refusal::Envoy(400)]))
        .istio(refused(&[NOT_CANONICAL])),
        anon(
            "no token: /healthz/%2e%2e/api/...",
            "/healthz/%2e%2e/api/llm/mcp/github/server",
        )
        .expect(normalised_or_refused()),
        anon(
            "no token: /healthz/%2E%2E/api/...",
            "/healthz/%2E%2E/api/llm/mcp/github/server",
        )
        .expect(normalised_or_refused()),
        anon(
            "no token: /healthz/../api/...",
            "/healthz/../api/llm/mcp/github/server",
        )
        .expect(normalised_or_refused()),
        // Envoy's RFC 3986 normalisation (both configurations) resolves `..` against the empty
        // segment before the filter: `/healthz/api/llm/...`, the health route for everyone.
        anon(
            "no token: /healthz//../api/...",
            "/healthz//../api/llm/mcp/github/server",
        )
        .expect(Expect::Allowed(allowed("health", None, None))),
        // merge_slashes: true makes it `/healthz/api/...`; under Istio's settings the filter
        // sees the empty segment.
        anon(
            "no token: /healthz//api/... (empty segment)",
            "/healthz//api/llm/mcp/github/server",
        )
        .expect(Expect::Allowed(allowed("health", None, None)))
        .istio(refused(&[NOT_CANONICAL])),
        anon(
            "no token: /healthz\\..\\api/...",
            "/healthz\\..\\api/llm/mcp/github/server",
        )
        .expect(normalised_or_refused()),
        anon(
            "no token: /healthz/..%5C..%5Capi/...",
            "/healthz/..%5C..%5Capi/llm/mcp/github/server",
        )
        .expect(refused(&[Refusal::Envoy(400)]))
        .istio(refused(&[NOT_CANONICAL])),
        anon(
            "no token: /healthz/%00/../api/...",
            "/healthz/%00/../api/llm/mcp/github/server",
        )
        .expect(refused(&[
            NOT_CANONICAL,
            Refusal::Envoy(400),
            gh(401, "token_missing"),
        ])),
        anon("no token: /healthz%00", "/healthz%00").expect(refused(&[
            NOT_CANONICAL,
            Refusal::Envoy(400),
            gh(403, "no_route"),
        ])),
        Case::new(Up::Go, "no token: /healthzadmin", "GET", "/healthzadmin")
            .expect(refused(&[gh(403, "no_route")])),
        Case::new(Up::Go, "no token: /healthz (control)", "GET", "/healthz")
            .expect(Expect::Allowed(allowed("health", None, None))),
        Case::new(
            Up::Go,
            "no token: /healthz/deep (control)",
            "GET",
            "/healthz/deep",
        )
        .expect(Expect::Allowed(allowed("health", None, None))),
        dave_lists("/api/llm/mcp/github/%73erver").expect(Expect::AllowedOrRefused(
            mcp_list(),
            vec![NOT_CANONICAL, gh(403, "no_route")],
        )),
        dave_lists("/api/llm/mcp/%67ithub/server").expect(Expect::AllowedOrRefused(
            mcp_list(),
            vec![NOT_CANONICAL, gh(403, "resource_unknown")],
        )),
        dave_lists("/api/llm/mcp/jira/..%2Fgithub/server")
            .expect(refused(&[Refusal::Envoy(400)]))
            .istio(refused(&[NOT_CANONICAL])),
        dave_lists("/api/llm/mcp/github%2Fserver/x/server")
            .expect(refused(&[Refusal::Envoy(400)]))
            .istio(refused(&[NOT_CANONICAL])),
        dave_get(
            "dave: prompt summarize%2F..%2Fclassify-ticket",
            "/api/prompts/prompts/summarize%2F..%2Fclassify-ticket",
        )
        .expect(refused(&[Refusal::Envoy(400)]))
        .istio(refused(&[NOT_CANONICAL])),
        dave_get(
            "dave: prompt %2e%2e segment",
            "/api/prompts/prompts/%2e%2e/prompts/summarize",
        )
        .expect(Expect::AllowedOrRefused(
            allowed("prompts", Some(DAVE), Some("prompt:prompts/summarize")),
            vec![NOT_CANONICAL],
        )),
        dave_get(
            "dave: //api/prompts/... (leading empty segment)",
            "//api/prompts/prompts/summarize",
        )
        .expect(Expect::AllowedOrRefused(
            allowed("prompts", Some(DAVE), Some("prompt:prompts/summarize")),
            vec![NOT_CANONICAL, Refusal::Envoy(400)],
        ))
        .istio(refused(&[NOT_CANONICAL, Refusal::Envoy(400)])),
    ]
}

/// A route that reads the body requires a JSON Content-Type: the form upstream picks its parser
/// from Content-Type, so a form or multipart body is read as something else entirely.
fn content_type_cases(dave: &str) -> Vec<Case> {
    let chat = |name: &str| Case::new(Up::Form, name, "POST", CHAT).bearer(dave);
    let gpt4o = || allowed("chat", Some(DAVE), Some("model:openai-main/gpt-4o"));
    // Valid JSON (model gpt-4o) and a valid form (model o3) at once.
    let both = r#"{"x":"&model=openai-main/o3&","model":"openai-main/gpt-4o"}"#;
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai-main/o3\r\n--XyZ--\r\n";
    let json_body = r#"{"model":"openai-main/gpt-4o"}"#;
    let media = || refused(&[MEDIA_TYPE]);
    vec![
        chat("form: model=openai-main%2Fo3")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("model=openai-main%2Fo3")
            .expect(media()),
        chat("form: body valid as JSON and as a form")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(both)
            .expect(media()),
        chat("multipart/form-data: model=o3")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(multipart)
            .expect(media()),
        chat("text/plain JSON body")
            .header("content-type", "text/plain")
            .body(json_body)
            .expect(media()),
        chat("no Content-Type, JSON body")
            .body(json_body)
            .expect(media()),
        chat("form with a json-looking parameter")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; x=application/json",
            )
            .body(both)
            .expect(media()),
        chat("two Content-Types: form then json")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-type", "application/json")
            .body(both)
            .expect(refused(&[MEDIA_TYPE, AMBIGUOUS])),
        chat("two Content-Types: json then form")
            .header("content-type", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(both)
            .expect(refused(&[MEDIA_TYPE, AMBIGUOUS])),
        Case::new(
            Up::Form,
            "mcp as a form: tools/call delete_repo",
            "POST",
            MCP,
        )
        .bearer(dave)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("method=tools/call&params[name]=delete_repo")
        .expect(media()),
        chat("application/json; charset=utf-8 (control)")
            .header("content-type", "application/json; charset=utf-8")
            .body(both)
            .expect(Expect::Allowed(gpt4o())),
        chat("application/vnd.api+json (control)")
            .header("content-type", "application/vnd.api+json")
            .body(json_body)
            .expect(Expect::Allowed(gpt4o())),
        chat("Application/JSON (media types are case-insensitive)")
            .header("content-type", "Application/JSON")
            .body(json_body)
            .expect(Expect::AllowedOrRefused(gpt4o(), vec![MEDIA_TYPE])),
    ]
}

/// Method and URL override headers are removed by default (SPEC 3.3).
fn override_header_cases(carol: &str) -> Vec<Case> {
    let carol_reads = || allowed("prompts", Some(CAROL), Some("prompt:prompts/summarize"));
    let dashed = |header: &str, value: &str| {
        Case::new(Up::Wsgi, &format!("override: {header}"), "GET", PROMPT)
            .bearer(carol)
            .header(header, value)
            .expect(Expect::Allowed(carol_reads()))
    };
    let underscored = |header: &str, value: &str| {
        Case::new(Up::Wsgi, &format!("override: {header}"), "GET", PROMPT)
            .bearer(carol)
            .header(header, value)
            .expect(refused(&[Refusal::Envoy(400)]))
            .istio(Expect::Allowed(carol_reads()))
    };
    vec![
        dashed("X-HTTP-Method-Override", "DELETE"),
        dashed("X-HTTP-Method", "DELETE"),
        dashed("X-Method-Override", "PUT"),
        dashed("X-Original-URL", "/admin"),
        dashed("X-Rewrite-URL", "/admin"),
        underscored("X_HTTP_Method_Override", "DELETE"),
        underscored("x_http_method", "DELETE"),
        underscored("X_Method_Override", "PUT"),
        underscored("x_original_url", "/admin"),
        underscored("X-Rewrite_URL", "/admin"),
        Case::new(
            Up::Wsgi,
            "override on a public route: X-Original-URL",
            "GET",
            "/healthz",
        )
        .header("X-Original-URL", "/api/prompts/prompts/summarize")
        .expect(Expect::Allowed(allowed("health", None, None))),
        Case::new(Up::Go, "go: X-HTTP-Method-Override on chat", "POST", CHAT)
            .bearer(carol)
            .header("X-HTTP-Method-Override", "GET")
            .json(r#"{"model":"openai-main/gpt-4o"}"#)
            .expect(Expect::Allowed(allowed(
                "chat",
                Some(CAROL),
                Some("model:openai-main/gpt-4o"),
            ))),
    ]
}

/// Repeated values that a token source or a route template reads are refused, never first-wins
/// (Go's `Query().Get` and `Header.Get` take the first, other stacks the last).
fn repeated_value_cases(carol: &str, dave: &str) -> Vec<Case> {
    let get = |name: &str, path: &str| Case::new(Up::Go, name, "GET", path);
    let carol_reads = || allowed("prompts", Some(CAROL), Some("prompt:prompts/summarize"));
    let select = || allowed("select", Some(CAROL), Some("prompt:prompts/summarize"));
    let ambiguous = || refused(&[AMBIGUOUS]);
    vec![
        get(
            "access_token twice, different",
            &format!("{PROMPT}?access_token={carol}&access_token={dave}"),
        )
        .expect(ambiguous()),
        get(
            "access_token twice, identical",
            &format!("{PROMPT}?access_token={carol}&access_token={carol}"),
        )
        .expect(Expect::AllowedOrRefused(carol_reads(), vec![AMBIGUOUS])),
        get(
            "access_token once (control)",
            &format!("{PROMPT}?access_token={carol}"),
        )
        .expect(Expect::Allowed(carol_reads())),
        get("two authorization headers, different", PROMPT)
            .bearer(carol)
            .bearer(dave)
            .expect(ambiguous()),
        // Envoy joins repeated `authorization` headers with `,` before the filter (an inline
        // header): one value `Bearer A,Bearer A`, which is not a token.
        get("two authorization headers, identical", PROMPT)
            .bearer(carol)
            .bearer(carol)
            .expect(Expect::AllowedOrRefused(
                carol_reads(),
                vec![AMBIGUOUS, gh(401, "token_malformed")],
            )),
        get(
            "authorization and a different access_token",
            &format!("{PROMPT}?access_token={dave}"),
        )
        .bearer(carol)
        .expect(ambiguous()),
        get(
            "authorization and the same access_token",
            &format!("{PROMPT}?access_token={carol}"),
        )
        .bearer(carol)
        .expect(Expect::AllowedOrRefused(carol_reads(), vec![AMBIGUOUS])),
        get("authorization and a different cookie token", PROMPT)
            .bearer(carol)
            .header("cookie", &format!("gh_session={dave}"))
            .expect(ambiguous()),
        get("two gh_session cookies, one header", PROMPT)
            .header("cookie", &format!("gh_session={carol}; gh_session={dave}"))
            .expect(ambiguous()),
        get("two gh_session cookies, two headers", PROMPT)
            .header("cookie", &format!("gh_session={carol}"))
            .header("cookie", &format!("gh_session={dave}"))
            .expect(ambiguous()),
        get("gh_session cookie once (control)", PROMPT)
            .header("cookie", &format!("other=1; gh_session={carol}"))
            .expect(Expect::Allowed(carol_reads())),
        get(
            "{query.repo} twice, different",
            "/api/select?repo=prompts&repo=secrets",
        )
        .bearer(carol)
        .header("x-prompt", "summarize")
        .expect(ambiguous()),
        get(
            "{query.repo} twice, identical",
            "/api/select?repo=prompts&repo=prompts",
        )
        .bearer(carol)
        .header("x-prompt", "summarize")
        .expect(Expect::AllowedOrRefused(select(), vec![AMBIGUOUS])),
        get(
            "{header.x-prompt} twice, different",
            "/api/select?repo=prompts",
        )
        .bearer(carol)
        .header("x-prompt", "summarize")
        .header("X-Prompt", "draft-reply")
        .expect(ambiguous()),
        get(
            "{header.x-prompt} twice, identical",
            "/api/select?repo=prompts",
        )
        .bearer(carol)
        .header("x-prompt", "summarize")
        .header("x-prompt", "summarize")
        .expect(Expect::AllowedOrRefused(select(), vec![AMBIGUOUS])),
        get(
            "{query.repo} and {header.x-prompt} once (control)",
            "/api/select?repo=prompts",
        )
        .bearer(carol)
        .header("x-prompt", "summarize")
        .expect(Expect::Allowed(select())),
    ]
}

/// Identity-provider emails: ASCII case-insensitive, any other character exactly (SPEC 3.1
/// step 5); `email_verified: false` resolves to no one.
fn email_folding_cases() -> Vec<Case> {
    let okta = |name: &str, claims: Value| {
        Case::new(Up::Go, name, "GET", PROMPT).bearer(&okta_token(claims))
    };
    let unknown = || refused(&[gh(401, "principal_unknown")]);
    let kira_reads = || {
        Expect::Allowed(allowed(
            "prompts",
            Some(KIRA),
            Some("prompt:prompts/summarize"),
        ))
    };
    let cases = [
        (
            "okta: kira@acme.com (control)",
            json!({"email": "kira@acme.com"}),
            kira_reads(),
        ),
        (
            "okta: KIRA@ACME.COM (ASCII case)",
            json!({"email": "KIRA@ACME.COM"}),
            kira_reads(),
        ),
        (
            "okta: Kelvin sign \u{212A}ira@acme.com",
            json!({"email": "\u{212A}ira@acme.com"}),
            unknown(),
        ),
        (
            "okta: long s \u{17F}ybil@acme.com",
            json!({"email": "\u{17F}ybil@acme.com"}),
            unknown(),
        ),
        (
            "okta: email_verified false",
            json!({"email": "carol@acme.com", "email_verified": false}),
            unknown(),
        ),
        (
            "okta: email_verified true (control)",
            json!({"email": "kira@acme.com", "email_verified": true}),
            kira_reads(),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, claims, expectation)| okta(name, claims).expect(expectation))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Envoy configurations

struct Ports {
    listen: u16,
    admin: u16,
}

/// The static bootstrap for this bundle, as data, with a route and a cluster per upstream.
fn envoy_json(
    config: Config,
    bundle: &[u8],
    ports: &Ports,
    upstreams: &BTreeMap<Up, UpstreamProcess>,
) -> Value {
    let addr_of = |up: Up| {
        upstreams
            .get(&up)
            .map(|u| Addr::loopback(u.port))
            .unwrap_or_else(|| panic!("no {} upstream", up.name()))
    };
    let (paths, underscores) = match config {
        Config::Generated => (PathHandling::Strict, Underscores::Reject),
        // Istio's default (pathNormalization BASE) and Envoy's default for header names with
        // underscores.
        Config::Istio => (PathHandling::Istio, Underscores::Allow),
    };
    let options = envoy::Options {
        listen: Addr::loopback(ports.listen),
        admin: Addr::loopback(ports.admin),
        upstream: Upstream::Cluster(addr_of(Up::Go)),
        header_routes: [Up::Wsgi, Up::Form]
            .into_iter()
            .map(|up| HeaderRoute {
                header: ROUTE_HEADER.to_owned(),
                value: up.name().to_owned(),
                cluster: up.name().to_owned(),
                address: addr_of(up),
            })
            .collect(),
        paths,
        underscores,
    };
    let filter = envoy::Filter {
        wasm: wasm().to_path_buf(),
        ..envoy::Filter::default()
    };
    envoy::static_bootstrap(&options, &filter, bundle).json()
}

// ---------------------------------------------------------------------------------------------
// Running and judging a case

#[derive(Debug)]
enum Observed {
    Gatehouse {
        status: u16,
        error: String,
        reason: String,
    },
    Envoy {
        status: u16,
        body: String,
    },
    Upstream(Value),
    Other(String),
}

impl Observed {
    fn describe(&self) -> String {
        match self {
            Observed::Gatehouse {
                status,
                error,
                reason,
            } => format!("gatehouse {status} {error}/{reason}"),
            Observed::Envoy { status, body } => {
                format!(
                    "envoy {status} {:?}",
                    body.chars().take(80).collect::<String>()
                )
            }
            Observed::Upstream(v) => format!("reached the upstream, which read {v}"),
            Observed::Other(what) => what.clone(),
        }
    }
}

fn classify(r: &HttpResponse) -> Observed {
    if r.header(ROUTE_HEADER).is_some() {
        return match serde_json::from_slice(&r.body) {
            Ok(v) => Observed::Upstream(v),
            Err(e) => Observed::Other(format!(
                "upstream answered {} ({e}): {}",
                r.status,
                r.text()
            )),
        };
    }
    if (400..500).contains(&r.status) {
        if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&r.body) {
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
            if let (2, Some(error), Some(reason)) = (body.len(), text("error"), text("reason")) {
                if r.header("content-type") == Some("application/json") {
                    return Observed::Gatehouse {
                        status: r.status,
                        error,
                        reason,
                    };
                }
            }
        }
        return Observed::Envoy {
            status: r.status,
            body: r.text(),
        };
    }
    Observed::Other(format!(
        "status {} without the upstream: {}",
        r.status,
        r.text()
    ))
}

/// The error kind Gatehouse's body carries for `reason` at `status` (the engine's reason table).
fn error_kind(status: u16, reason: &str) -> &'static str {
    Reason::from_code(reason)
        .filter(|reason| reason.status() == status)
        .map_or("?", |reason| reason.error_kind().as_str())
}

fn refusal_matches(list: &[Refusal], observed: &Observed) -> bool {
    list.iter().any(|want| match (want, observed) {
        (
            Refusal::Gatehouse(s, reason),
            Observed::Gatehouse {
                status,
                error,
                reason: got,
            },
        ) => s == status && reason == got && error == error_kind(*status, reason),
        (Refusal::Envoy(s), Observed::Envoy { status, .. }) => s == status,
        _ => false,
    })
}

/// Unicode-ish folding for "could a lenient server read this as that": lowercase, the two
/// non-ASCII letters that fold to ASCII (`ſ`, Kelvin sign), whitespace trimmed.
fn loose(text: &str) -> String {
    text.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == '\u{17F}' { 's' } else { c })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn strings_at(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The differential check of an allowed request: decide it offline as Envoy forwarded it, and
/// compare with what the upstream read. Returns the decided facts.
fn differential(engine: &Engine, case: &Case, read: &Value) -> Result<Reading, String> {
    let forwarded = match case.up {
        Up::Go => str_at(read, "/request_uri"),
        Up::Wsgi => str_at(read, "/environ/RAW_URI"),
        Up::Form => str_at(read, "/path"),
    }
    .unwrap_or(&case.path)
    .to_owned();
    let mut headers: Vec<(&str, &str)> = case
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    headers.push((ROUTE_HEADER, case.up.name()));
    let body = case.body.as_deref().map_or(Body::Absent, Body::Bytes);
    let request = Request {
        authority: "localhost",
        method: case.method,
        path: &forwarded,
        headers: &headers,
        body,
    };
    let outcome = engine.decide(&request, Identity::Token, now());
    if let Some(reason) = outcome.decision.reason() {
        return Err(format!(
            "the filter allowed it, but the engine offline denies the forwarded request \
             ({forwarded}): {}",
            reason.code()
        ));
    }
    let route = outcome.route_name().unwrap_or("(default)").to_owned();
    let subject = outcome.subject();
    let resource = outcome.resource();
    let mut problems = Vec::new();

    // Identity headers: exactly the decided ones, once; no spoofed or override headers.
    let subject_values: Vec<String> = subject.iter().cloned().collect();
    match case.up {
        Up::Go => {
            let checks = [
                (
                    "X-Gatehouse-Subject",
                    "/subject/values",
                    subject_values.clone(),
                ),
                (
                    "X-Gatehouse-Tenant",
                    "/tenant/values",
                    vec![TENANT.to_owned()],
                ),
                ("X-Gatehouse-Route", "/route/values", vec![route.clone()]),
            ];
            for (name, pointer, want) in checks {
                let got = strings_at(read, pointer);
                if got != want {
                    problems.push(format!("go read {name} {got:?}, gatehouse set {want:?}"));
                }
            }
            let extra: Vec<&String> = read
                .get("gatehouse_headers")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| !checks_names().contains(&k.as_str()))
                .collect();
            if !extra.is_empty() {
                problems.push(format!("go read other x-gatehouse headers {extra:?}"));
            }
            for name in OVERRIDE_HEADERS {
                if read.pointer(&format!("/headers/{name}")).is_some() {
                    problems.push(format!("go read override header {name}"));
                }
            }
        }
        Up::Wsgi => {
            let checks = [
                ("HTTP_X_GATEHOUSE_SUBJECT", subject.clone()),
                ("HTTP_X_GATEHOUSE_TENANT", Some(TENANT.to_owned())),
                ("HTTP_X_GATEHOUSE_ROUTE", Some(route.clone())),
            ];
            for (key, want) in &checks {
                let got = str_at(read, &format!("/environ/{key}")).map(str::to_owned);
                if &got != want {
                    problems.push(format!("wsgi read {key}={got:?}, gatehouse set {want:?}"));
                }
            }
            let extra: Vec<&String> = read
                .get("gatehouse")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| !checks.iter().any(|(c, _)| c == k))
                .collect();
            if !extra.is_empty() {
                problems.push(format!("wsgi read other gatehouse keys {extra:?}"));
            }
            for key in OVERRIDE_ENVIRON {
                if let Some(v) = str_at(read, &format!("/environ/{key}")) {
                    problems.push(format!("wsgi read {key}={v:?}"));
                }
            }
        }
        Up::Form => {
            for (what, pointer, want) in [
                ("subject", "/subject", subject_values.clone()),
                ("route", "/route", vec![route.clone()]),
            ] {
                let got = strings_at(read, pointer);
                if got != want {
                    problems.push(format!("form read {what} {got:?}, gatehouse set {want:?}"));
                }
            }
        }
    }

    // Path: the upstream's decoded and cleaned paths route where the forwarded one did.
    let gateway = engine.bundle().gateway();
    let decided_route = match_route(gateway, case.method, &forwarded).map(|(r, c)| {
        (
            r.name.clone(),
            c.iter()
                .map(|(n, v)| ((*n).to_owned(), percent_decode(v)))
                .collect::<Vec<_>>(),
        )
    });
    let upstream_paths: Vec<(&str, String)> = match case.up {
        Up::Go => ["/path", "/clean_path"]
            .into_iter()
            .filter_map(|p| str_at(read, p).map(|v| (p, v.to_owned())))
            .collect(),
        Up::Wsgi => str_at(read, "/environ/PATH_INFO")
            .map(|p| vec![("PATH_INFO", p.to_owned())])
            .unwrap_or_default(),
        Up::Form => Vec::new(),
    };
    let mut captures: Vec<(String, String)> = Vec::new();
    for (what, path) in &upstream_paths {
        let theirs = match_route(gateway, case.method, path).map(|(r, c)| {
            (
                r.name.clone(),
                c.iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect::<Vec<_>>(),
            )
        });
        if theirs != decided_route {
            problems.push(format!(
                "{} {what} {path:?} routes to {theirs:?}, gatehouse decided on {decided_route:?}",
                case.up.name()
            ));
        }
        if let Some((_, c)) = theirs {
            captures = c;
        }
    }

    // Body and template facts.
    let resource_type = outcome.resource_type;
    let resource_path = outcome.resource_path.clone();
    let (model, rpc_method, params_name) = match case.up {
        Up::Go => (
            str_at(read, "/model"),
            str_at(read, "/rpc_method"),
            str_at(read, "/params_name"),
        ),
        Up::Form => (
            str_at(read, "/read/model"),
            str_at(read, "/read/method"),
            str_at(read, "/read/params_name"),
        ),
        Up::Wsgi => (None, None, None),
    };
    let reads_body = case.up != Up::Wsgi;
    match (route.as_str(), resource_type) {
        ("chat", Some("model")) if reads_body && model != resource_path.as_deref() => {
            problems.push(format!(
                "{} read model {model:?}, gatehouse decided on {resource_path:?}",
                case.up.name()
            ));
        }
        ("mcp", Some("tool")) if reads_body => {
            let server = captures
                .iter()
                .find(|(n, _)| n == "server")
                .map(|(_, v)| v.as_str());
            let theirs = server.zip(params_name).map(|(s, n)| format!("{s}/{n}"));
            if rpc_method != Some("tools/call") || theirs != resource_path {
                problems.push(format!(
                    "{} read method {rpc_method:?} tool {theirs:?}, gatehouse decided on \
                     tools/call {resource_path:?}",
                    case.up.name()
                ));
            }
        }
        // Routed to "*": no upstream may read the call as `tools/call`, however lenient.
        ("mcp", Some(t))
            if t != "tool" && reads_body && rpc_method.is_none_or(|m| loose(m) == "tools/call") =>
        {
            problems.push(format!(
                "{} read method {rpc_method:?}, gatehouse routed it to \"*\" ({resource_path:?})",
                case.up.name()
            ));
        }
        ("select", _) if case.up == Up::Go => {
            let repos = strings_at(read, "/query/repo");
            let prompts = strings_at(read, "/headers/X-Prompt/values");
            let theirs = repos
                .first()
                .zip(prompts.first())
                .map(|(r, p)| format!("{r}/{p}"));
            let uniform = |v: &[String]| v.windows(2).all(|w| w.first() == w.last());
            if theirs != resource_path || !uniform(&repos) || !uniform(&prompts) {
                problems.push(format!(
                    "go read repo {repos:?} and x-prompt {prompts:?}, gatehouse decided on \
                     {resource_path:?}"
                ));
            }
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(Reading {
            route,
            subject,
            resource,
        })
    } else {
        Err(problems.join("; "))
    }
}

fn checks_names() -> [&'static str; 3] {
    [
        "X-Gatehouse-Subject",
        "X-Gatehouse-Tenant",
        "X-Gatehouse-Route",
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Refused,
    Benign,
    Failed,
}

fn judge(engine: &Engine, case: &Case, config: Config, observed: &Observed) -> (Verdict, String) {
    let expect = case.expectation(config);
    let reading_ok = |want: &Reading, read: &Value| match differential(engine, case, read) {
        Ok(got) if &got == want => Ok(()),
        Ok(got) => Err(format!(
            "allowed on route {} as {:?} on {:?}, expected {}",
            got.route,
            got.subject,
            got.resource,
            expect.describe()
        )),
        Err(e) => Err(format!("the upstream read other facts: {e}")),
    };
    match (expect, observed) {
        (Expect::Allowed(want) | Expect::AllowedOrRefused(want, _), Observed::Upstream(read)) => {
            match reading_ok(want, read) {
                Ok(()) => (Verdict::Benign, String::new()),
                Err(e) => (Verdict::Failed, e),
            }
        }
        (Expect::Refused(list) | Expect::AllowedOrRefused(_, list), o)
            if refusal_matches(list, o) =>
        {
            (Verdict::Refused, String::new())
        }
        (_, Observed::Upstream(read)) => {
            let facts = match differential(engine, case, read) {
                Ok(got) => format!(
                    "allowed on route {} as {:?} on {:?} (a benign reading, but not the expected refusal)",
                    got.route, got.subject, got.resource
                ),
                Err(e) => format!("allowed, and the upstream read other facts: {e}"),
            };
            (Verdict::Failed, facts)
        }
        (_, o) => (Verdict::Failed, o.describe()),
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    cases: usize,
    refused: usize,
    benign: usize,
    failed: usize,
}

#[test]
fn differential_against_real_upstream_parsers() {
    let started = std::time::Instant::now();
    let gateway_path = repo_root().join("tests/upstreams/gateway.yaml");
    let tenant_path = repo_root().join("examples/acme/tenant.yaml");
    let read = |p: &Path| {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
    };
    let (gateway, tenant) = (read(&gateway_path), read(&tenant_path));
    let policy = compile_sources(
        Some((gateway_path.as_path(), gateway.as_str())),
        &[(tenant_path.as_path(), tenant.as_str())],
        Some("differential"),
        1,
    )
    .unwrap_or_else(|e| panic!("compiling examples/acme with the differential gateway: {e:?}"));
    let bundle = gatehouse_engine::bundle::encode(&policy, None)
        .unwrap_or_else(|e| panic!("encoding the bundle: {e:?}"));
    let engine = Engine::load(bundle.clone(), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("loading the bundle: {e}"));

    let upstreams: BTreeMap<Up, UpstreamProcess> = [
        (Up::Go, go_upstream()),
        (Up::Wsgi, wsgi_upstream()),
        (Up::Form, form_upstream()),
    ]
    .into_iter()
    .collect();
    let cases = cases();
    let mut counts: BTreeMap<(Up, Config), Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut python = None;
    // DIFFERENTIAL_VERBOSE=1: one line per case and configuration, with what was observed.
    let verbose = std::env::var_os("DIFFERENTIAL_VERBOSE").is_some();
    for config in [Config::Generated, Config::Istio] {
        let ports = Ports {
            listen: free_port(),
            admin: free_port(),
        };
        let value = envoy_json(config, &bundle, &ports, &upstreams);
        let envoy = StaticEnvoy::start(
            &format!("differential-{}", config.name()),
            &value,
            ports.listen,
            ports.admin,
        );
        for case in &cases {
            let mut request = HttpRequest::new(case.method, &case.path);
            request.headers.clone_from(&case.headers);
            request = request.header(ROUTE_HEADER, case.up.name());
            if let Some(body) = &case.body {
                request = request.body(body.clone());
            }
            let observed = match envoy.request(&request) {
                Ok(r) => classify(&r),
                Err(e) => Observed::Other(format!("no response: {e}")),
            };
            if let Observed::Upstream(v) = &observed {
                if python.is_none() {
                    python = str_at(v, "/python").map(str::to_owned);
                }
            }
            let (verdict, detail) = judge(&engine, case, config, &observed);
            if verbose {
                println!(
                    "{:?} [{}/{}] {}: {}",
                    verdict,
                    case.up.name(),
                    config.name(),
                    case.name,
                    observed.describe()
                );
            }
            let c = counts.entry((case.up, config)).or_default();
            c.cases += 1;
            match verdict {
                Verdict::Refused => c.refused += 1,
                Verdict::Benign => c.benign += 1,
                Verdict::Failed => {
                    c.failed += 1;
                    failures.push(format!(
                        "[{}/{}] {}\n    expected: {}\n    got:      {}",
                        case.up.name(),
                        config.name(),
                        case.name,
                        case.expectation(config).describe(),
                        detail
                    ));
                }
            }
        }
        drop(envoy);
    }
    drop(upstreams);

    let mut table = String::new();
    let _ = writeln!(
        table,
        "\ndifferential suite ({} cases x 2 configurations, {:.1} s; wsgiref under Python {})",
        cases.len(),
        started.elapsed().as_secs_f64(),
        python.as_deref().unwrap_or("?")
    );
    let _ = writeln!(
        table,
        "{:<8} {:<10} {:>6} {:>8} {:>7} {:>7}",
        "upstream", "config", "cases", "refused", "benign", "failed"
    );
    let mut total = Counts::default();
    for ((up, config), c) in &counts {
        let _ = writeln!(
            table,
            "{:<8} {:<10} {:>6} {:>8} {:>7} {:>7}",
            up.name(),
            config.name(),
            c.cases,
            c.refused,
            c.benign,
            c.failed
        );
        total.cases += c.cases;
        total.refused += c.refused;
        total.benign += c.benign;
        total.failed += c.failed;
    }
    let _ = writeln!(
        table,
        "{:<8} {:<10} {:>6} {:>8} {:>7} {:>7}",
        "total", "", total.cases, total.refused, total.benign, total.failed
    );
    println!("{table}");
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} differential cases failed (run with -- --nocapture for the table):\n{}",
        failures.len(),
        total.cases,
        failures.join("\n")
    );
}

/// The engine's case folding ([`gatehouse_engine::fold`]) against Go's own: every pair of runes
/// that Go's `encoding/json` matches as one key (checked by decoding, in the Go upstream's
/// `fold-pairs` mode) must be equal under the engine's folding, or a body Gatehouse accepts could
/// carry two keys that Go reads as one field.
#[test]
fn case_folding_covers_go_encoding_json() {
    let output = gatehouse_e2e::run_ok(
        std::process::Command::new(gatehouse_e2e::upstreams::go_upstream_binary())
            .arg("fold-pairs"),
        "running the Go upstream's fold-pairs",
    );
    let text = String::from_utf8(output.stdout).expect("fold-pairs prints ASCII");
    let mut pairs = 0;
    let mut missing = Vec::new();
    for line in text.lines() {
        let mut runes = line
            .split(' ')
            .map(|hex| u32::from_str_radix(hex, 16).ok().and_then(char::from_u32));
        let (Some(Some(a)), Some(Some(b))) = (runes.next(), runes.next()) else {
            panic!("unexpected fold-pairs line {line:?}");
        };
        pairs += 1;
        if !gatehouse_engine::fold::eq_fold(&a.to_string(), &b.to_string()) {
            missing.push(format!("U+{:04X} ~ U+{:04X}", a as u32, b as u32));
        }
    }
    eprintln!(
        "case folding: {pairs} pairs Go's encoding/json matches, {} not folded by the engine",
        missing.len()
    );
    assert!(pairs > 2000, "Go printed only {pairs} pairs");
    assert!(
        missing.is_empty(),
        "Go folds these, the engine does not: {missing:?}"
    );
}
