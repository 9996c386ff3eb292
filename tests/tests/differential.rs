//! Differential end-to-end suite (SPEC 3.1 step 2, 3.2 bodies, 3.3): the filter must decide only
//! on a reading of the request that no common upstream can read differently.
//!
//! Every case goes through a real Envoy running gatehouse.wasm to an upstream that parses the
//! way real services do (`tests/upstreams/`):
//! - **go**: net/http and encoding/json into structs (case-insensitive keys, last match wins;
//!   canonicalised header names), as OpenAI-compatible and MCP servers in Go read requests;
//! - **wsgi**: wsgiref and the CGI environ (`-` and `_` in header names both become `_`);
//! - **form**: picks its body parser from Content-Type (form, multipart, JSON), after undoing the
//!   body's Content-Encoding as request-decompressing middleware does;
//! - **forwarded**: rebuilds its own host, port and path prefix from forwarding headers
//!   (`X-Forwarded-Host`, `Forwarded`, `X-Host`, `X-Forwarded-Prefix`, ...) the way Rack, Express
//!   and Spring do behind a trusted proxy;
//!
//! and every allowed request is also read the way Tomcat reads a path (`;parameters` removed from
//! each segment, then percent-decoded, then dot segments resolved), which must route where the
//! filter decided,
//!
//! under two Envoy configurations, each one Envoy reused by every case, and over HTTP/1.1 and
//! HTTP/2 (h2c with prior knowledge; header names lowercased, as every HTTP/2 client sends them):
//! - **generated**: the static bootstrap `gatehouse envoy-config` writes
//!   (`gatehouse_deploy::envoy`), with a route and a cluster per upstream that send each case
//!   to its upstream by an `x-differential-upstream` header;
//! - **istio**: the same with Istio's default path settings (`normalize_path: true`,
//!   `merge_slashes: false`, `path_with_escaped_slashes_action: KEEP_UNCHANGED`) and Envoy's
//!   default `headers_with_underscores_action: ALLOW`: the filter sees raw `//`, `%2F`, `_`.
//!
//! A case passes when it meets its explicit expectation: refused (by Gatehouse: a 4xx local reply
//! `{"error":...,"reason":...}` with the listed status and reason; or, where listed, by Envoy
//! itself before the filter: its own 4xx, or over HTTP/2 a reset stream), or allowed with the listed route, subject and resource; and an
//! allowed request must also pass the differential check: the same request, as Envoy forwarded
//! it, decided offline by the engine, is allowed on those facts, and the upstream read exactly
//! those facts (the model, JSON-RPC method and tool, the route of its decoded and of its cleaned
//! path, query and header values, one subject header equal to the decided one, no method/URL
//! override headers).
//!
//! A second test, [`authorities_route_to_the_tenant_the_filter_chose`], runs Envoy with a
//! virtual host per tenant (`gatehouse envoy-config --vhost-per-tenant`) over a list of odd
//! authorities and a seeded random stream of them: every allowed request must carry the same
//! tenant in `x-gatehouse-tenant` (the filter's) and `x-envoy-vhost` (Envoy's routing).
//!
//! `cargo test -p gatehouse-e2e --test differential -- --nocapture` prints the tables of cases
//! per upstream, configuration and protocol (allowed, refused by the filter with each reason,
//! rejected by Envoy, failed), then every failure; with `DIFFERENTIAL_VERBOSE=1`, also one line
//! per case with what was observed.

#![expect(clippy::panic, reason = "test code: a broken setup fails the test")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use gatehouse_compiler::compile::{compile_sources, Files, Sources};
use gatehouse_deploy::envoy::{self, Addr, HeaderRoute, PathHandling, Underscores, Upstream};
use gatehouse_deploy::keys;
use gatehouse_e2e::upstreams::{
    form_upstream, forwarded_upstream, go_upstream, wsgi_upstream, StaticEnvoy, UpstreamProcess,
};
use gatehouse_e2e::{free_port, h2, repo_root, HttpRequest, HttpResponse, Protocol};
use gatehouse_engine::route::{match_route, Body};
use gatehouse_engine::{Engine, Identity, LoadOptions, Reason, Request};
use serde_json::{json, Map, Value};

const CHAT: &str = "/api/llm/v1/chat/completions";
const MCP: &str = "/api/llm/mcp/github/server";
const PROMPT: &str = "/api/prompts/prompts/summarize";
const ROUTE_HEADER: &str = "x-differential-upstream";
/// What every case of the main suite sends as its authority (one of acme's hosts).
const AUTHORITY: &str = "localhost";
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
    Forwarded,
}

impl Up {
    fn name(self) -> &'static str {
        match self {
            Up::Go => "go",
            Up::Wsgi => "wsgi",
            Up::Form => "form",
            Up::Forwarded => "forwarded",
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
    /// REJECT_REQUEST`, `headers_with_underscores_action: REJECT_REQUEST`); over HTTP/2 Envoy
    /// may reset the stream instead, which counts as the same refusal.
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

    fn body(self, body: &str) -> Case {
        self.body_bytes(body.as_bytes().to_vec())
    }

    fn body_bytes(mut self, body: Vec<u8>) -> Case {
        self.body = Some(body);
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
    cases.extend(forwarding_header_cases(&carol));
    cases.extend(path_parameter_cases(&dave));
    cases.extend(content_encoding_cases(&dave));
    cases.extend(name_variant_cases(&carol, &dave));
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

/// Host and prefix override headers are removed on allow (SPEC 3.3, v1.2): an upstream that
/// rebuilds its URL from them would otherwise link, redirect or route to a host or prefix the
/// client chose.
fn forwarding_header_cases(carol: &str) -> Vec<Case> {
    let carol_reads = || allowed("prompts", Some(CAROL), Some("prompt:prompts/summarize"));
    let prompt = |header: &str, value: &str| {
        Case::new(
            Up::Forwarded,
            &format!("forwarding: {header}: {value}"),
            "GET",
            PROMPT,
        )
        .bearer(carol)
        .header(header, value)
        .expect(Expect::Allowed(carol_reads()))
    };
    let underscored = |header: &str, value: &str| {
        prompt(header, value)
            .expect(refused(&[Refusal::Envoy(400)]))
            .istio(Expect::Allowed(carol_reads()))
    };
    let mut cases = vec![
        prompt("X-Forwarded-Host", "evil.example.com"),
        prompt("X-Forwarded-Host", "evil.example.com, localhost"),
        prompt("X-FORWARDED-HOST", "evil.example.com"),
        prompt(
            "Forwarded",
            "for=192.0.2.1;host=evil.example.com;proto=https",
        ),
        prompt("Forwarded", "host=\"evil.example.com:8443\", for=192.0.2.1"),
        prompt("X-Forwarded-Server", "evil.example.com"),
        prompt("X-Forwarded-Port", "8443"),
        prompt("X-Forwarded-Prefix", "/admin"),
        prompt("X-Forwarded-Path", "/admin/users"),
        prompt("X-Forwarded-Uri", "/admin/users"),
        prompt("X-Original-Host", "evil.example.com"),
        prompt("X-Original-URI", "/admin/users"),
        prompt("X-Host", "evil.example.com"),
        prompt("X-HTTP-Host-Override", "evil.example.com"),
        prompt("X-Script-Name", "/admin"),
        underscored("x_forwarded_host", "evil.example.com"),
        underscored("X_Forwarded_Prefix", "/admin"),
        underscored("x-forwarded_port", "8443"),
        underscored("X_HOST", "evil.example.com"),
        underscored("x_script_name", "/admin"),
        underscored("x_original_uri", "/admin/users"),
    ];
    let all = prompt("X-Forwarded-Host", "evil.example.com")
        .header("Forwarded", "host=evil.example.com")
        .header("X-Forwarded-Prefix", "/admin")
        .header("X-Forwarded-Port", "8443")
        .header("X-Host", "evil.example.com");
    cases.push(Case {
        name: "forwarding: five at once".into(),
        ..all
    });
    cases.push(
        Case::new(
            Up::Forwarded,
            "forwarding: public route, X-Forwarded-Host",
            "GET",
            "/healthz",
        )
        .header("X-Forwarded-Host", "evil.example.com")
        .header("X-Forwarded-Prefix", "/admin")
        .expect(Expect::Allowed(allowed("health", None, None))),
    );
    cases.push(
        Case::new(Up::Forwarded, "forwarding: none (control)", "GET", PROMPT)
            .bearer(carol)
            .expect(Expect::Allowed(carol_reads())),
    );
    cases
}

/// Path parameters (`;x`): Tomcat and other servlet containers remove them from each segment
/// before resolving dot segments, so `/healthz/..;/api/...` is `/api/...` to them. A dot or
/// empty segment with parameters is not canonical, nor is a path whose parameter-free reading
/// routes elsewhere or captures something else.
fn path_parameter_cases(dave: &str) -> Vec<Case> {
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let anon = |name: &str, path: &str| Case::new(Up::Go, name, "POST", path).json(list);
    let dave_get = |name: &str, path: &str| Case::new(Up::Go, name, "GET", path).bearer(dave);
    let not_canonical = || refused(&[NOT_CANONICAL]);
    let summarize = || allowed("prompts", Some(DAVE), Some("prompt:prompts/summarize"));
    // Envoy's normalisation (both configurations) takes a raw `..;` or `.;x` segment for `..` or
    // `.` and resolves it before the filter: the MCP route, which needs a token.
    let resolved_by_envoy = || refused(&[NOT_CANONICAL, gh(401, "token_missing")]);
    // ... and resolves `..` against a segment with parameters: `/healthz/api/...`, which is the
    // health route for Tomcat too.
    let health_after_envoy =
        || Expect::AllowedOrRefused(allowed("health", None, None), vec![NOT_CANONICAL]);
    vec![
        anon(
            "params: /healthz/..;/api/llm/mcp/github/server",
            "/healthz/..;/api/llm/mcp/github/server",
        )
        .expect(resolved_by_envoy()),
        anon(
            "params: /healthz/..;x=1/api/llm/mcp/github/server",
            "/healthz/..;x=1/api/llm/mcp/github/server",
        )
        .expect(resolved_by_envoy()),
        anon(
            "params: /healthz/.;x/../api/llm/mcp/github/server",
            "/healthz/.;x/../api/llm/mcp/github/server",
        )
        .expect(resolved_by_envoy()),
        anon(
            "params: /healthz/;x/../api/llm/mcp/github/server",
            "/healthz/;x/../api/llm/mcp/github/server",
        )
        .expect(health_after_envoy()),
        anon(
            "params: /healthz;x/../api/llm/mcp/github/server",
            "/healthz;x/../api/llm/mcp/github/server",
        )
        .expect(refused(&[NOT_CANONICAL, gh(401, "token_missing")])),
        Case::new(
            Up::Go,
            "params: /healthz/%2e%2e;/x",
            "GET",
            "/healthz/%2e%2e;/x",
        )
        // Envoy decodes `%2e%2e` but leaves `..;` in place: the filter sees `/healthz/..;/x`,
        // which Tomcat reads as `/x`.
        .expect(not_canonical()),
        // Envoy resolves `.;x` as `.`: the filter sees `/a/b`, as Tomcat reads it.
        Case::new(Up::Go, "params: /a/.;x/b", "GET", "/a/.;x/b")
            .expect(refused(&[NOT_CANONICAL, gh(403, "no_route")])),
        Case::new(Up::Go, "params: /a/;x/b", "GET", "/a/;x/b").expect(not_canonical()),
        // Tomcat reads `/healthz/x`: the health route, which the raw path is not on.
        Case::new(Up::Go, "params: /healthz;x/deep", "GET", "/healthz;x/deep")
            .expect(refused(&[NOT_CANONICAL])),
        Case::new(Up::Go, "params: /healthz;x", "GET", "/healthz;x")
            .expect(refused(&[NOT_CANONICAL])),
        dave_get(
            "params: prompt summarize;jsessionid=1",
            "/api/prompts/prompts/summarize;jsessionid=1",
        )
        .expect(not_canonical()),
        dave_get(
            "params: repo prompts;v=2",
            "/api/prompts/prompts;v=2/summarize",
        )
        .expect(not_canonical()),
        dave_get(
            "params: /api;x/prompts/prompts/summarize",
            "/api;x/prompts/prompts/summarize",
        )
        .expect(not_canonical()),
        dave_get(
            "params: /api/prompts/..;/prompts/prompts/summarize",
            "/api/prompts/..;/prompts/prompts/summarize",
        )
        .expect(Expect::AllowedOrRefused(summarize(), vec![NOT_CANONICAL])),
        Case::new(
            Up::Go,
            "params: mcp github;x",
            "POST",
            "/api/llm/mcp/github;x/server",
        )
        .bearer(dave)
        .json(list)
        .expect(not_canonical()),
        // An encoded `;` is part of the segment for everyone.
        dave_get(
            "params: encoded summarize%3Bx",
            "/api/prompts/prompts/summarize%3Bx",
        )
        .expect(Expect::AllowedOrRefused(
            allowed("prompts", Some(DAVE), Some("prompt:prompts/summarize;x")),
            vec![NOT_CANONICAL, gh(403, "resource_unknown")],
        )),
        // Parameters past a path_prefix route's segments leave it on that route.
        Case::new(
            Up::Go,
            "params: /healthz/x;y (same route)",
            "GET",
            "/healthz/x;y",
        )
        .expect(Expect::AllowedOrRefused(
            allowed("health", None, None),
            vec![NOT_CANONICAL],
        )),
        dave_get("params: none (control)", PROMPT).expect(Expect::Allowed(summarize())),
    ]
}

/// A route that reads the body takes it unencoded (SPEC 3.2, v1.2): an upstream that undoes a
/// Content-Encoding reads a body the filter never saw. The form upstream decompresses gzip and
/// deflate; each compressed body here says `o3`, which Dave may not use.
fn content_encoding_cases(dave: &str) -> Vec<Case> {
    let gpt4o = r#"{"model":"openai-main/gpt-4o"}"#;
    let o3 = br#"{"model":"openai-main/o3"}"#;
    let chat = |name: &str, encodings: &[&str]| {
        let mut case = Case::new(Up::Form, &format!("encoding: {name}"), "POST", CHAT)
            .bearer(dave)
            .header("content-type", "application/json");
        for encoding in encodings {
            case = case.header("content-encoding", encoding);
        }
        case
    };
    let media = || refused(&[MEDIA_TYPE]);
    let gpt4o_reads = || allowed("chat", Some(DAVE), Some("model:openai-main/gpt-4o"));
    vec![
        chat("gzip, gzipped o3", &["gzip"])
            .body_bytes(gzip(o3))
            .expect(media()),
        chat("x-gzip, gzipped o3", &["x-gzip"])
            .body_bytes(gzip(o3))
            .expect(media()),
        chat("GZIP, gzipped o3", &["GZIP"])
            .body_bytes(gzip(o3))
            .expect(media()),
        chat("deflate, zlib o3", &["deflate"])
            .body_bytes(zlib(o3))
            .expect(media()),
        chat("gzip, plain gpt-4o body", &["gzip"])
            .body(gpt4o)
            .expect(media()),
        chat("br, plain gpt-4o body", &["br"])
            .body(gpt4o)
            .expect(media()),
        chat("zstd, plain gpt-4o body", &["zstd"])
            .body(gpt4o)
            .expect(media()),
        chat("\"identity, gzip\", gzipped o3", &["identity, gzip"])
            .body_bytes(gzip(o3))
            .expect(media()),
        chat("identity then gzip headers, gzipped o3", &["identity", "gzip"])
            .body_bytes(gzip(o3))
            .expect(refused(&[MEDIA_TYPE, AMBIGUOUS])),
        chat("identity (control)", &["identity"])
            .body(gpt4o)
            .expect(Expect::Allowed(gpt4o_reads())),
        chat("Identity (codings are case-insensitive)", &["Identity"])
            .body(gpt4o)
            .expect(Expect::AllowedOrRefused(gpt4o_reads(), vec![MEDIA_TYPE])),
        chat("none (control)", &[])
            .body(gpt4o)
            .expect(Expect::Allowed(gpt4o_reads())),
        Case::new(Up::Form, "encoding: mcp tools/call, gzip", "POST", MCP)
            .bearer(dave)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body_bytes(gzip(
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo"}}"#,
            ))
            .expect(media()),
        // A route that does not read the body does not care how it is encoded.
        Case::new(Up::Go, "encoding: gzip on a GET prompt", "GET", PROMPT)
            .bearer(dave)
            .header("content-encoding", "gzip")
            .expect(Expect::Allowed(allowed(
                "prompts",
                Some(DAVE),
                Some("prompt:prompts/summarize"),
            ))),
    ]
}

/// Cookie and query names that a common reader takes as the one a token source or a route
/// reads (SPEC 3.2, v1.2): case variants (Java's and .NET's case-insensitive lookups),
/// percent-encoded names (decoded before lookup), PHP's `a.b`, `a b` and `a[b` -> `a_b`, and a
/// query with `;`, which Rack 2 splits on as it does on `&`.
fn name_variant_cases(carol: &str, dave: &str) -> Vec<Case> {
    let get = |name: &str, path: &str| Case::new(Up::Go, &format!("names: {name}"), "GET", path);
    let cookie = |name: &str, value: &str| {
        get(name, PROMPT)
            .header("cookie", value)
            .expect(refused(&[AMBIGUOUS]))
    };
    let query = |name: &str, query: &str| {
        get(name, &format!("{PROMPT}?{query}")).expect(refused(&[AMBIGUOUS]))
    };
    let select = |name: &str, query: &str| {
        get(name, &format!("/api/select?{query}"))
            .bearer(carol)
            .header("x-prompt", "summarize")
            .expect(refused(&[AMBIGUOUS]))
    };
    let carol_reads = || allowed("prompts", Some(CAROL), Some("prompt:prompts/summarize"));
    vec![
        cookie(
            "cookie gh_session and GH_SESSION",
            &format!("gh_session={carol}; GH_SESSION={dave}"),
        ),
        cookie(
            "cookie gh_session and Gh_Session",
            &format!("gh_session={carol}; Gh_Session={dave}"),
        ),
        cookie(
            "cookie gh_session and gh%5Fsession",
            &format!("gh_session={carol}; gh%5Fsession={dave}"),
        ),
        cookie(
            "cookie gh_session and gh%5fsession",
            &format!("gh_session={carol}; gh%5fsession={dave}"),
        ),
        cookie(
            "cookie gh_session and %67h_session",
            &format!("gh_session={carol}; %67h_session={dave}"),
        ),
        cookie(
            "cookie gh_session and gh.session (PHP)",
            &format!("gh_session={carol}; gh.session={dave}"),
        ),
        cookie(
            "cookie gh_session and gh[session (PHP)",
            &format!("gh_session={carol}; gh[session={dave}"),
        ),
        cookie(
            "cookie gh_session and gh session (PHP)",
            &format!("gh_session={carol}; gh session={dave}"),
        ),
        cookie(
            "cookie GH_SESSION before gh_session",
            &format!("GH_SESSION={dave}; gh_session={carol}"),
        ),
        get("cookie GH_SESSION beside a bearer token", PROMPT)
            .bearer(carol)
            .header("cookie", &format!("GH_SESSION={dave}"))
            .expect(refused(&[AMBIGUOUS])),
        get("cookie gh.session alone", PROMPT)
            .header("cookie", &format!("gh.session={dave}"))
            .expect(refused(&[AMBIGUOUS, gh(401, "token_missing")])),
        get("cookie gh_session, other names (control)", PROMPT)
            .header(
                "cookie",
                &format!("gh_session={carol}; gh_sessions=x; session=y; gh=z"),
            )
            .expect(Expect::Allowed(carol_reads())),
        query(
            "query access_token and ACCESS_TOKEN",
            &format!("access_token={carol}&ACCESS_TOKEN={dave}"),
        ),
        query(
            "query access_token and access%5Ftoken",
            &format!("access_token={carol}&access%5Ftoken={dave}"),
        ),
        query(
            "query access_token and %61ccess_token",
            &format!("access_token={carol}&%61ccess_token={dave}"),
        ),
        query(
            "query access_token and access.token (PHP)",
            &format!("access_token={carol}&access.token={dave}"),
        ),
        query(
            "query access_token and access+token (PHP)",
            &format!("access_token={carol}&access+token={dave}"),
        ),
        query(
            "query access_token and access%20token (PHP)",
            &format!("access_token={carol}&access%20token={dave}"),
        ),
        query(
            "query access_token and access[token (PHP)",
            &format!("access_token={carol}&access[token={dave}"),
        ),
        query(
            "query access_token;access_token (Rack 2)",
            &format!("access_token={carol};access_token={dave}"),
        ),
        query(
            "query access_token then ;x=1 (Rack 2)",
            &format!("access_token={carol};x=1"),
        ),
        get(
            "query ACCESS_TOKEN beside a bearer token",
            &format!("{PROMPT}?ACCESS_TOKEN={dave}"),
        )
        .bearer(carol)
        .expect(refused(&[AMBIGUOUS])),
        select("select repo and Repo", "repo=prompts&Repo=secrets"),
        select("select repo and REPO", "repo=prompts&REPO=secrets"),
        select("select repo and r%65po", "repo=prompts&r%65po=secrets"),
        select("select repo and rep%6F", "repo=prompts&rep%6F=secrets"),
        select("select repo;repo (Rack 2)", "repo=prompts;repo=secrets"),
        select("select repo, then x=1;y=2 (Rack 2)", "repo=prompts&x=1;y=2"),
        // Alone, every reader decodes the name to `repo`: `prompt:secrets/summarize`, which
        // does not exist.
        get("select only r%65po", "/api/select?r%65po=secrets")
            .bearer(carol)
            .header("x-prompt", "summarize")
            .expect(refused(&[
                AMBIGUOUS,
                gh(403, "resource_unresolved"),
                gh(403, "resource_unknown"),
            ])),
        get(
            "select repo, other names (control)",
            "/api/select?repo=prompts&repository=secrets&re=x",
        )
        .bearer(carol)
        .header("x-prompt", "summarize")
        .expect(Expect::Allowed(allowed(
            "select",
            Some(CAROL),
            Some("prompt:prompts/summarize"),
        ))),
    ]
}

/// `data` as a gzip member (RFC 1952) of one stored deflate block: what any gzip reader
/// decompresses, with no compressor needed here.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(stored_deflate(data));
    out.extend(crc32(data).to_le_bytes());
    out.extend(u32::try_from(data.len()).unwrap_or(0).to_le_bytes());
    out
}

/// `data` as a zlib stream (RFC 1950), what HTTP calls `deflate`.
fn zlib(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    out.extend(stored_deflate(data));
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

fn stored_deflate(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap_or_else(|_| panic!("a stored block over 64 KiB"));
    let mut out = vec![1];
    out.extend(len.to_le_bytes());
    out.extend((!len).to_le_bytes());
    out.extend_from_slice(data);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
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
        header_routes: [Up::Wsgi, Up::Form, Up::Forwarded]
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
        virtual_hosts: envoy::VirtualHosts::One,
    };
    let filter = envoy::Filter {
        build: gatehouse_e2e::build(),
        module: gatehouse_e2e::module().to_path_buf(),
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
    /// Over HTTP/2: Envoy reset the stream (or the connection) instead of answering.
    Reset(String),
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
            Observed::Reset(what) => format!("envoy: {what}"),
            Observed::Upstream(v) => format!("reached the upstream, which read {v}"),
            Observed::Other(what) => what.clone(),
        }
    }

    /// The column a case's outcome is counted in: allowed, refused by the filter (with its
    /// status and reason), rejected by Envoy, or neither.
    fn tally(&self) -> Tally {
        match self {
            Observed::Upstream(_) => Tally::Allowed,
            Observed::Gatehouse { status, reason, .. } => {
                Tally::Filter(format!("{status} {reason}"))
            }
            Observed::Envoy { .. } | Observed::Reset(_) => Tally::Envoy,
            Observed::Other(_) => Tally::Other,
        }
    }
}

/// What came back for one request over `protocol`.
fn observe(result: std::io::Result<HttpResponse>, protocol: Protocol) -> Observed {
    match result {
        Ok(r) => classify(&r),
        Err(e) if protocol == Protocol::Http2 && h2::is_stream_reset(&e) => {
            Observed::Reset(e.to_string())
        }
        Err(e) => Observed::Other(format!("no response: {e}")),
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
        (Refusal::Envoy(_), Observed::Reset(_)) => true,
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

/// How Tomcat reads a request target's path (CoyoteAdapter): `;parameters` removed from each
/// segment, then percent-decoded, then normalised (`//` merged, `.` and `..` resolved). `None`
/// where Tomcat refuses the request (400): an encoded `/` or `\`, a NUL, a backslash, or `..`
/// above the root.
fn tomcat_path(target: &str) -> Option<String> {
    let path = target.split('?').next().unwrap_or_default();
    let stripped = path
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("/");
    let lower = stripped.to_ascii_lowercase();
    if ["%2f", "%5c", "%00"].iter().any(|e| lower.contains(e)) {
        return None;
    }
    let decoded = percent_decode(&stripped);
    if decoded.contains(['\\', '\0']) || !decoded.starts_with('/') {
        return None;
    }
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    let mut out: Vec<&str> = Vec::new();
    for segment in decoded.split('/').skip(1) {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            other => out.push(other),
        }
    }
    let mut normal = format!("/{}", out.join("/"));
    if trailing && normal != "/" {
        normal.push('/');
    }
    Some(normal)
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
        Up::Forwarded => str_at(read, "/raw_uri"),
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
        authority: AUTHORITY,
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
        Up::Forwarded => {
            for (what, pointer, want) in [
                ("subject", "/subject", subject.clone()),
                ("route", "/route", Some(route.clone())),
                ("tenant", "/tenant", Some(TENANT.to_owned())),
            ] {
                let got = str_at(read, pointer).map(str::to_owned);
                if got != want {
                    problems.push(format!(
                        "forwarded read {what} {got:?}, gatehouse set {want:?}"
                    ));
                }
            }
            if let Some(kept) = read.get("forwarding").and_then(Value::as_object) {
                if !kept.is_empty() {
                    problems.push(format!("forwarding headers reached the upstream: {kept:?}"));
                }
            }
            // Every framework's own URL: the host the client sent, no prefix, the path as sent.
            let host = str_at(read, "/host").unwrap_or_default();
            for framework in ["rack", "express", "spring", "other"] {
                let rebuilt = str_at(read, &format!("/read/{framework}/host"));
                if rebuilt != Some(host) || rebuilt != Some(AUTHORITY) {
                    problems.push(format!(
                        "{framework} rebuilt the host {rebuilt:?}, the client sent {AUTHORITY:?}"
                    ));
                }
                if let Some(prefix) = str_at(read, &format!("/read/{framework}/prefix")) {
                    if !prefix.is_empty() {
                        problems.push(format!("{framework} read the path prefix {prefix:?}"));
                    }
                }
            }
            let path = str_at(read, "/path");
            if str_at(read, "/read/other/path") != path {
                problems.push(format!(
                    "a path override was read: {:?} for {path:?}",
                    str_at(read, "/read/other/path")
                ));
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
        Up::Form | Up::Forwarded => Vec::new(),
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

    // Tomcat's reading of the forwarded path routes where the filter decided (when Tomcat would
    // serve it at all).
    let tomcat = tomcat_path(&forwarded);
    if let Some(path) = &tomcat {
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
                "Tomcat reads {forwarded:?} as {path:?}, which routes to {theirs:?}; gatehouse \
                 decided on {decided_route:?}"
            ));
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
        Up::Wsgi | Up::Forwarded => (None, None, None),
    };
    let reads_body = matches!(case.up, Up::Go | Up::Form);
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

/// Where one request's outcome is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tally {
    Allowed,
    /// Refused by the filter: `"<status> <reason>"`.
    Filter(String),
    /// Rejected by Envoy before the filter (its own 4xx, or a reset HTTP/2 stream).
    Envoy,
    Other,
}

#[derive(Debug, Default, Clone)]
struct Counts {
    cases: usize,
    allowed: usize,
    filter: BTreeMap<String, usize>,
    envoy: usize,
    failed: usize,
}

impl Counts {
    fn add(&mut self, tally: &Tally, failed: bool) {
        self.cases += 1;
        match tally {
            Tally::Allowed => self.allowed += 1,
            Tally::Filter(reason) => *self.filter.entry(reason.clone()).or_default() += 1,
            Tally::Envoy => self.envoy += 1,
            Tally::Other => {}
        }
        if failed {
            self.failed += 1;
        }
    }

    fn merge(&mut self, other: &Counts) {
        self.cases += other.cases;
        self.allowed += other.allowed;
        self.envoy += other.envoy;
        self.failed += other.failed;
        for (reason, n) in &other.filter {
            *self.filter.entry(reason.clone()).or_default() += n;
        }
    }

    fn filtered(&self) -> usize {
        self.filter.values().sum()
    }
}

/// The table of counts, one row per key (`columns` names the key's parts), then a total and
/// the filter's refusals by reason.
fn count_table<K>(title: &str, columns: &[&str], counts: &BTreeMap<K, Counts>) -> String
where
    K: Ord,
    K: KeyParts,
{
    let mut table = format!("\n{title}\n");
    for column in columns {
        let _ = write!(table, "{column:<10} ");
    }
    let _ = writeln!(
        table,
        "{:>6} {:>8} {:>7} {:>6} {:>7}  refused by the filter",
        "cases", "allowed", "filter", "envoy", "failed"
    );
    let mut total = Counts::default();
    for (key, c) in counts {
        let parts = key.parts();
        for part in &parts {
            let _ = write!(table, "{part:<10} ");
        }
        let reasons: Vec<String> = c.filter.iter().map(|(r, n)| format!("{r} x{n}")).collect();
        let _ = writeln!(
            table,
            "{:>6} {:>8} {:>7} {:>6} {:>7}  {}",
            c.cases,
            c.allowed,
            c.filtered(),
            c.envoy,
            c.failed,
            reasons.join(", ")
        );
        total.merge(c);
    }
    let _ = write!(table, "{:<10} ", "total");
    for _ in 1..columns.len() {
        let _ = write!(table, "{:<10} ", "");
    }
    let _ = writeln!(
        table,
        "{:>6} {:>8} {:>7} {:>6} {:>7}",
        total.cases,
        total.allowed,
        total.filtered(),
        total.envoy,
        total.failed
    );
    for (reason, n) in &total.filter {
        let _ = writeln!(table, "  filter {reason}: {n}");
    }
    table
}

/// A count table's row key as its printed parts.
trait KeyParts {
    fn parts(&self) -> Vec<&'static str>;
}

impl KeyParts for (Up, Config, Protocol) {
    fn parts(&self) -> Vec<&'static str> {
        vec![self.0.name(), self.1.name(), self.2.name()]
    }
}

impl KeyParts for (&'static str, Protocol) {
    fn parts(&self) -> Vec<&'static str> {
        vec![self.0, self.1.name()]
    }
}

/// `tests/upstreams/gateway.yaml` compiled with these tenants (each file's text edited by
/// `edit`), as a bundle and a loaded engine.
fn bundle_of(tenants: &[&str], edit: impl Fn(&str, String) -> String) -> (Vec<u8>, Engine) {
    let gateway_path = repo_root().join("tests/upstreams/gateway.yaml");
    let read = |p: &Path| {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
    };
    let gateway = read(&gateway_path);
    let tenants: Vec<(std::path::PathBuf, String)> = tenants
        .iter()
        .map(|t| {
            let path = repo_root().join(format!("examples/{t}/tenant.yaml"));
            let text = edit(t, read(&path));
            (path, text)
        })
        .collect();
    let sources: Vec<(&Path, &str)> = tenants
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    let policy = compile_sources(&Sources {
        gateway: Some((gateway_path.as_path(), gateway.as_str())),
        tenants: &sources,
        files: Files::Disk,
        revision: Some("differential"),
        serial: 1,
    })
    .unwrap_or_else(|e| panic!("compiling {tenants:?} with the differential gateway: {e:?}"));
    let bundle = gatehouse_engine::bundle::encode(&policy, None)
        .unwrap_or_else(|e| panic!("encoding the bundle: {e:?}"));
    let engine = Engine::load(bundle.clone(), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("loading the bundle: {e}"));
    (bundle, engine)
}

#[test]
fn differential_against_real_upstream_parsers() {
    let started = std::time::Instant::now();
    let (bundle, engine) = bundle_of(&["acme"], |_, text| text);

    let upstreams: BTreeMap<Up, UpstreamProcess> = [
        (Up::Go, go_upstream()),
        (Up::Wsgi, wsgi_upstream()),
        (Up::Form, form_upstream()),
        (Up::Forwarded, forwarded_upstream()),
    ]
    .into_iter()
    .collect();
    let cases = cases();
    let mut counts: BTreeMap<(Up, Config, Protocol), Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut python = None;
    // DIFFERENTIAL_VERBOSE=1: one line per case, configuration and protocol, with what was
    // observed.
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
        for protocol in Protocol::BOTH {
            for case in &cases {
                let mut request = HttpRequest::new(case.method, &case.path);
                request.headers.clone_from(&case.headers);
                request = request.header(ROUTE_HEADER, case.up.name());
                if let Some(body) = &case.body {
                    request = request.body(body.clone());
                }
                let observed = observe(envoy.request_over(protocol, &request), protocol);
                if let Observed::Upstream(v) = &observed {
                    if python.is_none() {
                        python = str_at(v, "/python").map(str::to_owned);
                    }
                }
                let (verdict, detail) = judge(&engine, case, config, &observed);
                if verbose {
                    println!(
                        "{:?} [{}/{}/{}] {}: {}",
                        verdict,
                        case.up.name(),
                        config.name(),
                        protocol.name(),
                        case.name,
                        observed.describe()
                    );
                }
                let failed = verdict == Verdict::Failed;
                counts
                    .entry((case.up, config, protocol))
                    .or_default()
                    .add(&observed.tally(), failed);
                if failed {
                    failures.push(format!(
                        "[{}/{}/{}] {}\n    expected: {}\n    got:      {}",
                        case.up.name(),
                        config.name(),
                        protocol.name(),
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

    let title = format!(
        "differential suite ({} cases x 2 configurations x 2 protocols, {:.1} s; wsgiref under \
         Python {})",
        cases.len(),
        started.elapsed().as_secs_f64(),
        python.as_deref().unwrap_or("?")
    );
    println!(
        "{}",
        count_table(&title, &["upstream", "config", "protocol"], &counts)
    );
    for failure in &failures {
        println!("FAILED {failure}");
    }
    let total: usize = counts.values().map(|c| c.cases).sum();
    assert!(
        failures.is_empty(),
        "{} of {} differential cases failed (run with -- --nocapture for the table):\n{}",
        failures.len(),
        total,
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

// ---------------------------------------------------------------------------------------------
// Authorities: the tenant the filter chose against the virtual host Envoy routed to

/// The tenants of the authority test and their hosts (SPEC 3.1 step 1).
const TENANT_HOSTS: [(&str, &[&str]); 2] = [
    ("acme", &["acme.gw.example.com", "*.acme.example.com"]),
    ("globex", &["*.globex.example.com"]),
];

/// Hosts the listed and the random authorities start from: each tenant's, near misses, and
/// hosts no tenant has.
const BASES: [&str; 10] = [
    "acme.gw.example.com",
    "x.acme.example.com",
    "a.b.acme.example.com",
    "acme.example.com",
    "x.globex.example.com",
    "globex.example.com",
    "gw.example.com",
    "localhost",
    "127.0.0.1",
    "[::1]",
];

/// One request of the authority test: `GET /healthz` (public, so any tenant's) with this
/// authority.
#[derive(Debug, Clone)]
struct AuthorityCase {
    /// `listed` or `random`.
    source: &'static str,
    authority: String,
    /// A `host` header beside the authority (HTTP/2), or a second `host` line (HTTP/1.1).
    host_header: Option<String>,
    /// No `:authority` (HTTP/2) or no `host` line (HTTP/1.1).
    omit_authority: bool,
    /// HTTP/1.1 absolute-form request target `http://<this>/healthz`.
    absolute: Option<String>,
    /// Only over this protocol.
    only: Option<Protocol>,
}

impl AuthorityCase {
    fn plain(source: &'static str, authority: &str) -> AuthorityCase {
        // Bytes that end an HTTP/1.1 header line can only be sent over HTTP/2.
        let only = authority
            .contains(['\r', '\n', '\0'])
            .then_some(Protocol::Http2);
        AuthorityCase {
            source,
            authority: authority.to_owned(),
            host_header: None,
            omit_authority: false,
            absolute: None,
            only,
        }
    }

    fn describe(&self) -> String {
        let mut text = format!("authority {:?}", self.authority);
        if self.omit_authority {
            text = "no authority".to_owned();
        }
        if let Some(host) = &self.host_header {
            let _ = write!(text, " and host header {host:?}");
        }
        if let Some(target) = &self.absolute {
            let _ = write!(text, " and request target http://{target}/healthz");
        }
        text
    }

    /// What the filter must make of the authority, for a plain case: HTTP/1.1 parsers drop the
    /// whitespace around a header value first.
    fn model(&self, protocol: Protocol) -> Option<AuthorityModel> {
        if self.host_header.is_some() || self.omit_authority || self.absolute.is_some() {
            return None;
        }
        Some(match protocol {
            Protocol::Http1 => authority_model(self.authority.trim_matches([' ', '\t'])),
            Protocol::Http2 => authority_model(&self.authority),
        })
    }
}

/// What the filter must do with an authority (SPEC 3.1 step 1, v1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthorityModel {
    /// 400 `authority_invalid`.
    Invalid,
    /// The tenant whose hosts match, or none (403 `tenant_unknown`).
    Tenant(Option<&'static str>),
}

/// `host[:port]`: host an RFC 3986 reg-name of ASCII letters, digits, `-`, `.`, `_`, `~` with
/// no empty label, or an IPv4 address, or a bracketed IPv6 literal; port 1-65535 without leading
/// zeros. A name whose last label is a number (digits, or `0x` and hex digits) is one only as a
/// dotted-decimal IPv4 address: URL parsers read `1.2.3`, `01.2.3.4` or `0x7f.0.0.1` as an IPv4
/// address in another notation. The tenant: the lowercased host against the tenants' hosts as
/// Envoy compares domains (exact, then the longest `*suffix`).
fn authority_model(authority: &str) -> AuthorityModel {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let Some((inside, after)) = rest.split_once(']') else {
                return AuthorityModel::Invalid;
            };
            if inside.parse::<std::net::Ipv6Addr>().is_err() {
                return AuthorityModel::Invalid;
            }
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return AuthorityModel::Invalid,
                },
            };
            (authority.get(..inside.len() + 2).unwrap_or(authority), port)
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if let Some(port) = port {
        let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        let value = port.parse::<u32>().unwrap_or(0);
        if !digits || port.len() > 5 || port.starts_with('0') || !(1..=65_535).contains(&value) {
            return AuthorityModel::Invalid;
        }
    }
    if !host.starts_with('[') {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_~".contains(&b))
        };
        if !host.split('.').all(label_ok) {
            return AuthorityModel::Invalid;
        }
        let last = host.rsplit('.').next().unwrap_or_default();
        let hex = last
            .strip_prefix("0x")
            .or_else(|| last.strip_prefix("0X"))
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let number = hex || last.bytes().all(|b| b.is_ascii_digit());
        if number && host.parse::<std::net::Ipv4Addr>().is_err() {
            return AuthorityModel::Invalid;
        }
    }
    let host = host.to_ascii_lowercase();
    let exact = TENANT_HOSTS
        .iter()
        .find(|(_, hosts)| hosts.contains(&host.as_str()))
        .map(|(t, _)| *t);
    let wildcard = || {
        TENANT_HOSTS
            .iter()
            .flat_map(|(t, hosts)| hosts.iter().map(move |h| (*t, *h)))
            .filter_map(|(t, h)| {
                let suffix = h.strip_prefix('*')?;
                (host.len() > suffix.len() && host.ends_with(suffix)).then_some((suffix.len(), t))
            })
            .max()
            .map(|(_, t)| t)
    };
    AuthorityModel::Tenant(exact.or_else(wildcard))
}

/// The listed authorities: every base with the usual decorations, then one of each odd shape.
fn listed_authorities() -> Vec<AuthorityCase> {
    const PORTS: [&str; 13] = [
        ":443",
        ":1",
        ":65535",
        ":0",
        ":080",
        ":65536",
        ":4294967297",
        ":",
        "::443",
        ": 443",
        ":+443",
        ":44a",
        ":443:443",
    ];
    let mut list = Vec::new();
    for base in BASES {
        list.push(base.to_owned());
        list.push(base.to_ascii_uppercase());
        list.push(format!("{base}."));
        list.push(format!("{base}.:443"));
        list.extend(PORTS.iter().map(|p| format!("{base}{p}")));
    }
    list.extend(
        [
            "[acme.gw.example.com].globex.example.com",
            "acme.gw.example.com.x.globex.example.com",
            "x.globex.example.com.acme.gw.example.com",
            "a@acme.gw.example.com",
            "a@x.globex.example.com",
            "x.globex.example.com@acme.gw.example.com",
            "acme.gw.example.com@x.globex.example.com",
            "user:pw@acme.gw.example.com",
            "acme%2Egw.example.com",
            "%61cme.gw.example.com",
            "x%2Eglobex.example.com",
            "acme.gw.example.com%00",
            "acme.gw.example.com,x.globex.example.com",
            "x.globex.example.com, acme.gw.example.com",
            "acme.gw.example.com x.globex.example.com",
            " acme.gw.example.com",
            "acme.gw.example.com ",
            "\tx.globex.example.com",
            "",
            ".",
            "..",
            ":443",
            ".acme.example.com",
            "x..acme.example.com",
            "x.acme.example.com..",
            "*.acme.example.com",
            "*.globex.example.com",
            "acme_gw.example.com",
            "x~.globex.example.com",
            "-x.globex.example.com",
            "x-.globex.example.com",
            "x_.acme.example.com",
            "acm\u{e9}.gw.example.com",
            "x.\u{212A}.globex.example.com",
            "xn--acm-bpa.gw.example.com",
            "x.globex.example.com/acme",
            "x.globex.example.com?acme",
            "x.globex.example.com#acme",
            "x.globex.example.com\\acme.gw.example.com",
            "x.globex.example.com!",
            "x.globex.example.com$",
            "x'.globex.example.com",
            "x(.globex.example.com",
            "x*.globex.example.com",
            "x+.globex.example.com",
            "x;.globex.example.com",
            "x=.globex.example.com",
            "x&.globex.example.com",
            "x\".globex.example.com",
            "x<.globex.example.com",
            "x{.globex.example.com",
            "x|.globex.example.com",
            "[::1]:443",
            "[::1",
            "::1",
            "[::ffff:127.0.0.1]",
            "[fe80::1%25eth0]",
            "[v1.x]",
            "[::1]x",
            "[]",
            "[acme.gw.example.com]",
            "1.2.3.4",
            "1.2.3.4.5",
            "256.1.1.1",
            "0x7f.0.0.1",
            "acme.gw.example.com\0",
            "acme.gw.example.com\0.x.globex.example.com",
            "x.globex.example.com\r\nx-envoy-vhost: acme",
            "x.globex.example.com\n",
            "acme.gw.example.com\u{7f}",
        ]
        .into_iter()
        .map(str::to_owned),
    );
    let mut cases: Vec<AuthorityCase> = list
        .iter()
        .map(|a| AuthorityCase::plain("listed", a))
        .collect();
    let acme = "acme.gw.example.com";
    let globex = "x.globex.example.com";
    for (authority, other) in [(acme, globex), (globex, acme)] {
        cases.push(AuthorityCase {
            host_header: Some(other.to_owned()),
            ..AuthorityCase::plain("listed", authority)
        });
        cases.push(AuthorityCase {
            absolute: Some(other.to_owned()),
            only: Some(Protocol::Http1),
            ..AuthorityCase::plain("listed", authority)
        });
        cases.push(AuthorityCase {
            omit_authority: true,
            host_header: Some(authority.to_owned()),
            only: Some(Protocol::Http2),
            ..AuthorityCase::plain("listed", "")
        });
    }
    cases.push(AuthorityCase {
        omit_authority: true,
        ..AuthorityCase::plain("listed", "")
    });
    cases
}

/// A small seeded generator (SplitMix64): the same random authorities on every run.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.below(items.len());
        items
            .get(i)
            .unwrap_or_else(|| panic!("picking from an empty list"))
    }
}

/// `count` authorities, each a base with one to three random edits.
fn random_authorities(seed: u64, count: usize) -> Vec<AuthorityCase> {
    const CHARS: [char; 48] = [
        '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '[',
        ']', '/', '?', '#', '%', ' ', '\t', '"', '<', '>', '\\', '^', '`', '{', '|', '}', 'a', 'Z',
        '0', '9', '\u{e9}', '\u{212A}', '\u{131}', '\u{3002}', '\u{ff0e}', '\0', '\r', '\n',
        '\u{7f}', '\u{1}',
    ];
    const PORTS: [&str; 9] = [
        ":443",
        ":0",
        ":08",
        ":65536",
        ":",
        ":4294967296",
        ":1",
        ":65535",
        ":99",
    ];
    const USERINFO: [&str; 3] = ["a@", "x.globex.example.com@", "u:p@"];
    const JOINS: [&str; 4] = [",", ", ", " ", "@"];
    let mut rng = SplitMix(seed);
    (0..count)
        .map(|_| {
            let mut text: Vec<char> = rng.pick(&BASES).chars().collect();
            for _ in 0..=rng.below(3) {
                let at = rng.below(text.len() + 1);
                match rng.below(9) {
                    0 => text.insert(at, *rng.pick(&CHARS)),
                    1 => {
                        if let Some(c) = text.get_mut(at) {
                            *c = c.to_ascii_uppercase();
                        }
                    }
                    2 => text.extend(rng.pick(&PORTS).chars()),
                    3 => text.push('.'),
                    4 => {
                        let prefix: Vec<char> = rng.pick(&USERINFO).chars().collect();
                        text.splice(0..0, prefix);
                    }
                    5 => {
                        if let Some(&c) = text.get(at) {
                            if c.is_ascii() {
                                let encoded: Vec<char> =
                                    format!("%{:02X}", c as u32).chars().collect();
                                text.splice(at..=at, encoded);
                            }
                        }
                    }
                    6 => {
                        let joined = format!("{}{}", rng.pick(&JOINS), rng.pick(&BASES));
                        text.extend(joined.chars());
                    }
                    7 => {
                        if at < text.len() {
                            text.remove(at);
                        }
                    }
                    _ => {
                        let dots: Vec<usize> = (0..text.len())
                            .filter(|&i| text.get(i) == Some(&'.'))
                            .collect();
                        if !dots.is_empty() {
                            let i = *rng.pick(&dots);
                            let with = *rng.pick(&["..", "%2E", "\u{3002}", "\\", "/"]);
                            text.splice(i..=i, with.chars());
                        }
                    }
                }
            }
            AuthorityCase::plain("random", &text.into_iter().collect::<String>())
        })
        .collect()
}

fn judge_authority(
    case: &AuthorityCase,
    protocol: Protocol,
    observed: &Observed,
) -> Result<(), String> {
    let model = case.model(protocol);
    let refused_as = |want: AuthorityModel, what: &str| match &model {
        Some(m) if *m != want => Err(format!("{what}, but the authority reads as {m:?}")),
        _ => Ok(()),
    };
    match observed {
        Observed::Upstream(read) => {
            let tenant = strings_at(read, "/tenant/values");
            let vhost = strings_at(read, "/headers/X-Envoy-Vhost/values");
            if tenant.len() != 1 || tenant != vhost {
                return Err(format!(
                    "allowed: the filter chose tenant {tenant:?}, Envoy routed to the virtual host \
                     of {vhost:?} (the upstream read Host {:?})",
                    str_at(read, "/host")
                ));
            }
            let chosen = tenant.first().map(String::as_str);
            // A multi-tenant upstream picks its tenant from the Host it receives.
            let host = str_at(read, "/host").unwrap_or_default();
            match authority_model(host) {
                AuthorityModel::Tenant(Some(t)) if Some(t) == chosen => {}
                m => {
                    return Err(format!(
                        "allowed for {chosen:?}, but the upstream read Host {host:?}, which \
                         reads as {m:?}"
                    ))
                }
            }
            match &model {
                Some(AuthorityModel::Tenant(Some(t))) if Some(*t) == chosen => Ok(()),
                Some(m) => Err(format!(
                    "allowed for {chosen:?}, but the authority reads as {m:?}"
                )),
                None => Ok(()),
            }
        }
        Observed::Gatehouse {
            status: 400,
            reason,
            ..
        } if reason == "authority_invalid" => {
            refused_as(AuthorityModel::Invalid, "refused as authority_invalid")
        }
        Observed::Gatehouse {
            status: 403,
            reason,
            ..
        } if reason == "tenant_unknown" => {
            refused_as(AuthorityModel::Tenant(None), "refused as tenant_unknown")
        }
        Observed::Envoy { .. } | Observed::Reset(_) => Ok(()),
        other => Err(format!("unexpected: {}", other.describe())),
    }
}

#[test]
fn authorities_route_to_the_tenant_the_filter_chose() {
    let started = std::time::Instant::now();
    let (bundle, _) = bundle_of(&["acme", "globex"], |tenant, text| {
        let (from, to) = match tenant {
            "acme" => (
                r#"hosts: ["acme.gw.example.com", "localhost", "127.0.0.1"]"#,
                r#"hosts: ["acme.gw.example.com", "*.acme.example.com"]"#,
            ),
            _ => (
                r#"hosts: ["globex.gw.example.com"]"#,
                r#"hosts: ["*.globex.example.com"]"#,
            ),
        };
        assert!(
            text.contains(from),
            "examples/{tenant}/tenant.yaml changed its hosts"
        );
        text.replace(from, to)
    });
    let go = go_upstream();
    let ports = Ports {
        listen: free_port(),
        admin: free_port(),
    };
    let options = envoy::Options {
        listen: Addr::loopback(ports.listen),
        admin: Addr::loopback(ports.admin),
        upstream: Upstream::Cluster(Addr::loopback(go.port)),
        virtual_hosts: envoy::VirtualHosts::PerTenant(
            TENANT_HOSTS
                .iter()
                .map(|(tenant, hosts)| envoy::TenantHosts {
                    tenant: (*tenant).to_owned(),
                    hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
                })
                .collect(),
        ),
        ..envoy::Options::default()
    };
    let filter = envoy::Filter {
        build: gatehouse_e2e::build(),
        module: gatehouse_e2e::module().to_path_buf(),
        ..envoy::Filter::default()
    };
    let mut config = envoy::static_bootstrap(&options, &filter, &bundle).json();
    // An HTTP/2 connection whose headers Envoy's codec refuses gets no answer at all: Envoy
    // closes it after `delayed_close_timeout` (1 s), waiting for the client to close first.
    // Every request here is a GET without a body, so nothing is lost by closing at once.
    if let Some(Value::Object(hcm)) =
        config.pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
    {
        hcm.insert("delayed_close_timeout".into(), json!("0s"));
    }
    let envoy = StaticEnvoy::start("authorities", &config, ports.listen, ports.admin);

    let mut cases = listed_authorities();
    cases.extend(random_authorities(0x6761_7465_686f_7573, 200));
    let verbose = std::env::var_os("DIFFERENTIAL_VERBOSE").is_some();
    let mut counts: BTreeMap<(&'static str, Protocol), Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    for protocol in Protocol::BOTH {
        for case in cases
            .iter()
            .filter(|c| c.only.is_none_or(|p| p == protocol))
        {
            let target = case
                .absolute
                .as_ref()
                .map_or_else(|| "/healthz".to_owned(), |a| format!("http://{a}/healthz"));
            let mut request = HttpRequest::get(&target).host(&case.authority);
            if case.omit_authority {
                request = request.without_authority();
            }
            if let Some(host) = &case.host_header {
                request = request.header("host", host);
            }
            let sent = std::time::Instant::now();
            let observed = observe(envoy.request_over(protocol, &request), protocol);
            let verdict = judge_authority(case, protocol, &observed);
            if verbose {
                println!(
                    "[{}/{}, {} ms] {}: {} {}",
                    case.source,
                    protocol.name(),
                    sent.elapsed().as_millis(),
                    case.describe(),
                    observed.describe().chars().take(160).collect::<String>(),
                    verdict.as_ref().err().map_or("", String::as_str)
                );
            }
            counts
                .entry((case.source, protocol))
                .or_default()
                .add(&observed.tally(), verdict.is_err());
            if let Err(e) = verdict {
                failures.push(format!("[{}] {}: {e}", protocol.name(), case.describe()));
            }
        }
    }
    drop(envoy);
    let title = format!(
        "authorities against per-tenant virtual hosts ({} listed and {} random, {:.1} s)",
        cases.iter().filter(|c| c.source == "listed").count(),
        cases.iter().filter(|c| c.source == "random").count(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", count_table(&title, &["cases", "protocol"], &counts));
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} authority cases failed (run with -- --nocapture for the table):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
