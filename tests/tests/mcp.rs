//! MCP authorization at the gateway, end to end: the official MCP Python SDK (`mcp`, pinned in
//! scripts/lib.sh) as client and server, through a real Envoy with gatehouse.wasm. The gateway's
//! MCP route is a protected resource (`mcp:` block): the filter publishes its metadata, challenges
//! with `resource_metadata`, checks each token's audience and scope, trims `tools/list` to what
//! the caller may `use`, answers refused calls in the route's `refusal` shape, and does not pass
//! the token on. The tenant's identity provider is a local OAuth authorization server
//! (`tests/upstreams/mcp_auth_server.py`) that the SDK's OAuth client finds and logs in with.
//!
//! The upstream (`tests/upstreams/mcp_upstream.py`) lists and runs every tool it has; each tool
//! answers with what the upstream received.
//!
//! Needs the SDK (scripts/test.sh installs it): without it this fails, it does not skip.

#![expect(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use gatehouse_e2e::credentials::{credentials_file, issue_key, key_entry};
use gatehouse_e2e::mcp::{self, mcp_client, mcp_python, AuthServer, ClientOptions};
use gatehouse_e2e::{
    fixture_bundle, fixture_bundle_with_credentials, Envoy, EnvoyOptions, HttpRequest, HttpResponse,
};
use serde_json::{json, Value};

const PATH: &str = "/api/llm/mcp/github/server";
const METADATA: &str = "/.well-known/oauth-protected-resource/api/llm/mcp/github/server";
const SCOPE: &str = "mcp.tools";
/// The audience the gateway file accepts besides the canonical resource URL.
const AUDIENCE: &str = "api://mcp";

/// What each caller may use on server `github` (sorted): alice holds `tool-user` on three tools
/// (and only `read` on the server); bob holds `mcp-server-user` on the server, which reaches every
/// tool but the disabled one, the one narrowed to alice and the one the tenant does not list.
const ALICE_TOOLS: [&str; 3] = ["create_issue", "search", "secret_tool"];
const BOB_TOOLS: [&str; 3] = ["create_issue", "list_issues", "search"];

/// The fixture gateway with the MCP route made a protected resource, `refusal` as given, and
/// `extra` (YAML lines, indented for the `mcp:` block) added to the block.
fn gateway_with(refusal: &'static str, extra: &'static str) -> impl Fn(&str) -> String {
    move |text: &str| {
        let mcp_route = "      \"*\": {resource: \"mcp-server:{server}\", action: read}\n";
        assert!(text.contains(mcp_route), "the fixture's MCP route moved");
        text.replace("max_body_bytes: 1024\n", "max_body_bytes: 65536\n")
            .replace(
                mcp_route,
                &format!(
                    "{mcp_route}    mcp:\n      authorization_servers: [local-as]\n      \
                     scopes: [{SCOPE}]\n      audiences: [\"{AUDIENCE}\"]\n      \
                     refusal: {refusal}\n{extra}"
                ),
            )
    }
}

/// The suite's tenant: the control-plane issuer of the fixture, the local authorization server
/// as an identity provider for users, alice, bob and carol (who holds nothing), and server `github` whose tools exercise a
/// tool-level grant, a server-level grant, `enabled: false` and `authorized_subjects`. The
/// upstream also has a tool, `unlisted`, that the tenant does not know.
fn tenant(auth: &AuthServer) -> impl Fn(&str) -> String {
    let issuer = auth.issuer();
    let jwks = auth.jwks();
    move |_fixture: &str| {
        format!(
            r#"tenant:
  name: e2e
  hosts: ["e2e.gw.test", "localhost", "127.0.0.1"]
  issuer: https://cp.e2e.test
  jwks_file: keys/e2e-cp.jwks.json

identity_providers:
  - name: local-as
    issuer: {issuer}
    jwks: {jwks}
    algorithms: [RS256]
    resolve_to: user

users:
  - {{email: alice@e2e.test}}
  - {{email: bob@e2e.test}}
  - {{email: carol@e2e.test}}

resources:
  - type: mcp-server
    name: github
    collaborators:
      - {{subject: "user:alice@e2e.test", role: mcp-server-viewer}}
      - {{subject: "user:bob@e2e.test", role: mcp-server-user}}
    tools:
      - name: search
        collaborators: [{{subject: "user:alice@e2e.test", role: tool-user}}]
      - name: create_issue
        collaborators: [{{subject: "user:alice@e2e.test", role: tool-user}}]
      - name: list_issues
      - name: delete_repo
        enabled: false
      - name: secret_tool
        authorized_subjects: ["user:alice@e2e.test"]
        collaborators: [{{subject: "user:alice@e2e.test", role: tool-user}}]
"#
        )
    }
}

/// The authorization server, and Envoy serving the suite's bundle (`refusal` as given) with the
/// MCP upstream.
fn start(name: &str, refusal: &'static str) -> (AuthServer, Envoy) {
    start_with(name, refusal, "")
}

/// Same, with `extra` lines in the route's `mcp:` block (see [`gateway_with`]).
fn start_with(name: &str, refusal: &'static str, extra: &'static str) -> (AuthServer, Envoy) {
    // Fail now, with how to install it, rather than after Envoy started.
    mcp_python();
    let auth = AuthServer::start();
    let bundle = fixture_bundle("1", gateway_with(refusal, extra), tenant(&auth));
    let envoy = Envoy::start(
        name,
        &bundle,
        EnvoyOptions {
            upstream: Some(mcp::upstream_script()),
            upstream_python: Some(mcp_python().clone()),
            ..EnvoyOptions::default()
        },
    );
    (auth, envoy)
}

/// `127.0.0.1:<listener port>`: the authority the clients use, one of the tenant's hosts.
fn authority(envoy: &Envoy) -> String {
    format!("127.0.0.1:{}", envoy.port)
}

/// The MCP server's canonical resource URL at this gateway.
fn resource(envoy: &Envoy) -> String {
    format!("http://{}{PATH}", authority(envoy))
}

/// A token of the authorization server for `email`, for this gateway's MCP server, with the
/// configured scope; `extra` claims on top.
fn token_for(auth: &AuthServer, envoy: &Envoy, email: &str, extra: Value) -> String {
    let mut claims = json!({"aud": resource(envoy), "scope": SCOPE});
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    auth.mint(email, claims)
}

/// The client connected and ran every action; its results.
#[track_caller]
fn results(outcome: &Value) -> &Vec<Value> {
    assert_eq!(
        outcome["connected"],
        json!(true),
        "the MCP client did not connect: {outcome:#}"
    );
    outcome["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {outcome:#}"))
}

#[track_caller]
fn assert_listed(result: &Value, tools: &[&str]) {
    assert_eq!(result["action"], json!("list"), "{result}");
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["tools"], json!(tools), "{result}");
}

/// An allowed call: the tool ran, for `subject`, and the upstream got no `Authorization`.
#[track_caller]
fn assert_called(result: &Value, tool: &str, subject: &str) {
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["is_error"], json!(false), "{result}");
    let text = result["text"].as_str().unwrap_or_default();
    let saw: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the tool's answer is not JSON ({e}): {result}"));
    assert_eq!(saw["tool"], json!(tool), "{saw}");
    assert_eq!(saw["subject"], json!(subject), "{saw}");
    assert_eq!(saw["tenant"], json!("e2e"), "{saw}");
    assert_eq!(saw["route"], json!("mcp"), "{saw}");
    // forward_token defaults to false: the token stays at the gateway.
    assert_eq!(saw["authorization"], json!(false), "{saw}");
}

/// A call refused with `refusal: jsonrpc`, as the SDK surfaces it: an `MCPError` with the
/// gateway's code, message and data.
#[track_caller]
fn assert_refused_jsonrpc(result: &Value, reason: &str) {
    assert_eq!(result["ok"], json!(false), "expected a refusal: {result}");
    assert_eq!(result["error"], json!("MCPError"), "{result}");
    assert_eq!(result["code"], json!(-32001), "{result}");
    assert_eq!(
        result["message"],
        json!(format!("forbidden: {reason}")),
        "{result}"
    );
    assert_eq!(
        result["data"],
        json!({"error": "forbidden", "reason": reason}),
        "{result}"
    );
}

/// The challenge's parameters, `name -> value` (quotes removed), after `Bearer `.
fn challenge(r: &HttpResponse) -> Vec<(String, String)> {
    let header = r
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate on {}: {}", r.status, r.text()));
    let params = header
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("not a Bearer challenge: {header}"));
    let mut out = Vec::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .unwrap_or_else(|| panic!("bad challenge parameter in {header}"));
        let after = after
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("unquoted challenge parameter in {header}"));
        let (value, tail) = after
            .split_once('"')
            .unwrap_or_else(|| panic!("unterminated challenge parameter in {header}"));
        out.push((name.trim().to_owned(), value.to_owned()));
        rest = tail.trim_start_matches([',', ' ']);
    }
    out
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[track_caller]
fn assert_http_refused(r: &HttpResponse, status: u16, reason: &str) {
    assert_eq!(r.status, status, "body: {}", r.text());
    assert_eq!(r.reason().as_deref(), Some(reason), "body: {}", r.text());
}

/// A raw JSON-RPC POST to the MCP route, as the SDK would send it.
fn rpc<'a>(host: &'a str, token: Option<&str>, body: &Value) -> HttpRequest<'a> {
    let mut request = HttpRequest::new("POST", PATH)
        .host(host)
        .header("accept", "application/json, text/event-stream")
        .json(body);
    if let Some(token) = token {
        request = request.bearer(token);
    }
    request
}

fn call(id: Value, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {"query": "e2e"}}})
}

/// `tools/list` trimmed per caller and `tools/call` decided per tool, through the SDK's client:
/// its default protocol (2026-07-28, JSON answers) and the handshake-era one with JSON and with
/// `text/event-stream` answers.
#[test]
fn tools_per_caller_through_the_mcp_sdk() {
    let (auth, envoy) = start("mcp-tools", "jsonrpc");
    let url = resource(&envoy);
    let alice = token_for(&auth, &envoy, "alice@e2e.test", json!({}));
    let bob = token_for(&auth, &envoy, "bob@e2e.test", json!({}));
    let transports = [
        ("2026-07-28, JSON", false, false),
        ("handshake era, JSON", true, false),
        ("handshake era, SSE", true, true),
    ];
    for (what, legacy, sse) in transports {
        let options = |token| ClientOptions {
            token: Some(token),
            legacy,
            sse,
            ..ClientOptions::default()
        };
        let out = mcp_client(
            &url,
            options(&alice),
            &[
                "list",
                "call:search",
                "call:secret_tool",
                "call:list_issues",
                "call:unlisted",
            ],
        );
        let r = results(&out);
        assert_listed(&r[0], &ALICE_TOOLS);
        assert_called(&r[1], "search", "user:alice@e2e.test");
        assert_called(&r[2], "secret_tool", "user:alice@e2e.test");
        assert_refused_jsonrpc(&r[3], "no_grant");
        assert_refused_jsonrpc(&r[4], "resource_unknown");
        if sse {
            // The trimmed list and the calls came as event streams, as the upstream sent them.
            let streamed = out["http"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|line| {
                    line.starts_with("POST ") && line.ends_with(" 200 text/event-stream")
                })
                .count();
            assert!(streamed >= 3, "{what}: no event-stream answers: {out:#}");
        }

        let out = mcp_client(
            &url,
            options(&bob),
            &[
                "list",
                "call:list_issues",
                "call:secret_tool",
                "call:delete_repo",
            ],
        );
        let r = results(&out);
        assert_listed(&r[0], &BOB_TOOLS);
        assert_called(&r[1], "list_issues", "user:bob@e2e.test");
        assert_refused_jsonrpc(&r[2], "not_authorized_subject");
        assert_refused_jsonrpc(&r[3], "resource_disabled");
    }

    // A configured audience is accepted in place of the canonical URL.
    let other_aud = token_for(&auth, &envoy, "bob@e2e.test", json!({"aud": AUDIENCE}));
    let out = mcp_client(
        &url,
        ClientOptions {
            token: Some(&other_aud),
            ..ClientOptions::default()
        },
        &["list"],
    );
    assert_listed(&results(&out)[0], &BOB_TOOLS);
}

/// `refusal: jsonrpc` (the default): HTTP 200, a JSON-RPC error for the request's own id, which
/// the SDK raises as an `MCPError` carrying the reason (checked in the other tests).
#[test]
fn refusal_as_jsonrpc_error() {
    let (auth, envoy) = start("mcp-refusal-jsonrpc", "jsonrpc");
    let host = authority(&envoy);
    let alice = token_for(&auth, &envoy, "alice@e2e.test", json!({}));
    let r = envoy.request(&rpc(
        &host,
        Some(&alice),
        &call(json!("req-7"), "list_issues"),
    ));
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("x-gatehouse-reason"), Some("no_grant"));
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": "req-7", "error": {
            "code": -32001, "message": "forbidden: no_grant",
            "data": {"error": "forbidden", "reason": "no_grant"}}})
    );
    let r = envoy.request(&rpc(&host, Some(&alice), &call(json!(42), "delete_repo")));
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(r.header("x-gatehouse-reason"), Some("resource_disabled"));
    let body = r.json();
    assert_eq!(body["id"], json!(42), "{body}");
    assert_eq!(
        body["error"]["data"]["reason"],
        json!("resource_disabled"),
        "{body}"
    );
}

/// `refusal: tool-result`: a refused `tools/call` is a tool result with `isError`, which the
/// SDK's client returns rather than raises, on either protocol.
#[test]
fn refusal_as_tool_result() {
    let (auth, envoy) = start("mcp-refusal-tool-result", "tool-result");
    let host = authority(&envoy);
    let alice = token_for(&auth, &envoy, "alice@e2e.test", json!({}));
    let r = envoy.request(&rpc(&host, Some(&alice), &call(json!(9), "list_issues")));
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(r.header("x-gatehouse-reason"), Some("no_grant"));
    let body = r.json();
    assert_eq!(body["jsonrpc"], json!("2.0"), "{body}");
    assert_eq!(body["id"], json!(9), "{body}");
    assert_eq!(body["result"]["isError"], json!(true), "{body}");
    assert_eq!(
        body["result"]["content"],
        json!([{"type": "text", "text": "forbidden: no_grant"}]),
        "{body}"
    );
    // Other methods are refused as JSON-RPC errors: carol may not even read the server.
    let list = json!({"jsonrpc": "2.0", "id": 10, "method": "tools/list", "params": {}});
    let carol = token_for(&auth, &envoy, "carol@e2e.test", json!({}));
    let r = envoy.request(&rpc(&host, Some(&carol), &list));
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": 10, "error": {
            "code": -32001, "message": "forbidden: no_grant",
            "data": {"error": "forbidden", "reason": "no_grant"}}})
    );

    let url = resource(&envoy);
    for legacy in [true, false] {
        let out = mcp_client(
            &url,
            ClientOptions {
                token: Some(&alice),
                legacy,
                ..ClientOptions::default()
            },
            &["call:list_issues", "call:search"],
        );
        let r = results(&out);
        assert_eq!(r[0]["ok"], json!(true), "legacy={legacy}: {out:#}");
        assert_eq!(r[0]["is_error"], json!(true), "legacy={legacy}: {out:#}");
        assert_eq!(r[0]["text"], json!("forbidden: no_grant"), "{out:#}");
        assert_called(&r[1], "search", "user:alice@e2e.test");
    }
}

/// `refusal: http`: the usual 403, which the SDK's client turns into a generic error: the reason
/// does not reach the application.
#[test]
fn refusal_as_http_403() {
    let (auth, envoy) = start("mcp-refusal-http", "http");
    let host = authority(&envoy);
    let alice = token_for(&auth, &envoy, "alice@e2e.test", json!({}));
    let r = envoy.request(&rpc(&host, Some(&alice), &call(json!(1), "list_issues")));
    assert_http_refused(&r, 403, "no_grant");
    assert_eq!(r.header("x-gatehouse-reason"), Some("no_grant"));
    let out = mcp_client(
        &resource(&envoy),
        ClientOptions {
            token: Some(&alice),
            ..ClientOptions::default()
        },
        &["call:list_issues", "call:search"],
    );
    let r = results(&out);
    assert_eq!(r[0]["ok"], json!(false), "{out:#}");
    assert_eq!(r[0]["error"], json!("MCPError"), "{out:#}");
    assert_eq!(r[0]["code"], json!(-32603), "{out:#}");
    assert_called(&r[1], "search", "user:alice@e2e.test");
}

/// The protected resource's side of OAuth: challenges, metadata, audience and scope.
#[test]
fn challenges_metadata_audience_and_scope() {
    let (auth, envoy) = start("mcp-challenges", "jsonrpc");
    let host = authority(&envoy);
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let metadata_url = format!("http://{host}{METADATA}");

    // No token: 401 whose challenge names the metadata and the scope.
    let r = envoy.request(&rpc(&host, None, &list));
    assert_http_refused(&r, 401, "token_missing");
    let params = challenge(&r);
    assert_eq!(param(&params, "realm"), Some("e2e"), "{params:?}");
    assert_eq!(
        param(&params, "resource_metadata"),
        Some(metadata_url.as_str()),
        "{params:?}"
    );
    assert_eq!(param(&params, "scope"), Some(SCOPE), "{params:?}");
    assert_eq!(param(&params, "error"), None, "{params:?}");

    // The metadata: no token needed, RFC 9728, naming the authorization server.
    let r = envoy.request(&HttpRequest::get(METADATA).host(&host));
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.json(),
        json!({
            "resource": resource(&envoy),
            "authorization_servers": [auth.issuer()],
            "scopes_supported": [SCOPE],
            "bearer_methods_supported": ["header"],
        })
    );
    // For a host no tenant has: the usual refusal.
    let r = envoy.request(&HttpRequest::get(METADATA).host("nobody.example"));
    assert_http_refused(&r, 403, "tenant_unknown");

    // A token for another resource.
    let elsewhere = token_for(
        &auth,
        &envoy,
        "alice@e2e.test",
        json!({"aud": format!("http://{host}/api/llm/mcp/gitlab/server")}),
    );
    let r = envoy.request(&rpc(&host, Some(&elsewhere), &list));
    assert_http_refused(&r, 401, "audience_mismatch");
    let params = challenge(&r);
    assert_eq!(param(&params, "error"), Some("invalid_token"), "{params:?}");
    assert_eq!(
        param(&params, "resource_metadata"),
        Some(metadata_url.as_str()),
        "{params:?}"
    );

    // A token without the scope: 403 with a step-up challenge.
    let unscoped = token_for(&auth, &envoy, "alice@e2e.test", json!({"scope": "profile"}));
    let r = envoy.request(&rpc(&host, Some(&unscoped), &list));
    assert_http_refused(&r, 403, "insufficient_scope");
    let params = challenge(&r);
    assert_eq!(
        param(&params, "error"),
        Some("insufficient_scope"),
        "{params:?}"
    );
    assert_eq!(param(&params, "scope"), Some(SCOPE), "{params:?}");
    assert_eq!(
        param(&params, "resource_metadata"),
        Some(metadata_url.as_str()),
        "{params:?}"
    );
    let no_scope = token_for(&auth, &envoy, "alice@e2e.test", json!({"scope": null}));
    let r = envoy.request(&rpc(&host, Some(&no_scope), &list));
    assert_http_refused(&r, 403, "insufficient_scope");

    // The scope may come as `scp`, a string or an array (what some providers issue).
    let url = resource(&envoy);
    for scp in [json!([SCOPE, "profile"]), json!(SCOPE)] {
        let token = token_for(
            &auth,
            &envoy,
            "alice@e2e.test",
            json!({"scope": null, "scp": scp}),
        );
        let out = mcp_client(
            &url,
            ClientOptions {
                token: Some(&token),
                ..ClientOptions::default()
            },
            &["list"],
        );
        assert_listed(&results(&out)[0], &ALICE_TOOLS);
    }

    // Control-plane tokens are bound to the resource too.
    let cp = gatehouse_e2e::token("user:alice@e2e.test", json!({"scope": SCOPE}));
    let r = envoy.request(&rpc(&host, Some(&cp), &list));
    assert_http_refused(&r, 401, "audience_mismatch");
    let cp = gatehouse_e2e::token(
        "user:alice@e2e.test",
        json!({"scope": SCOPE, "aud": [AUDIENCE, "https://elsewhere.example"]}),
    );
    let out = mcp_client(
        &url,
        ClientOptions {
            token: Some(&cp),
            ..ClientOptions::default()
        },
        &["list"],
    );
    assert_listed(&results(&out)[0], &ALICE_TOOLS);

    // The SDK's client without a token (and without an OAuth provider) cannot connect; with a
    // token for another resource neither.
    let url = resource(&envoy);
    for token in [None, Some(elsewhere.as_str())] {
        let out = mcp_client(
            &url,
            ClientOptions {
                token,
                ..ClientOptions::default()
            },
            &["list"],
        );
        assert_eq!(out["connected"], json!(false), "{out:#}");
        assert!(
            out["http"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .all(|line| line.contains(" -> 401 ")),
            "{out:#}"
        );
    }
}

/// The whole login, as an MCP host application does it: the SDK's client starts with no token,
/// gets the gateway's 401, reads the metadata there, finds the authorization server, registers,
/// runs the authorization-code flow with PKCE (headless), and lists the tools the user may use.
#[test]
fn oauth_login_through_the_mcp_sdk() {
    let (auth, envoy) = start("mcp-oauth", "jsonrpc");
    let url = resource(&envoy);
    let out = mcp_client(
        &url,
        ClientOptions {
            oauth_as: Some("alice@e2e.test"),
            ..ClientOptions::default()
        },
        &["list", "call:search", "call:list_issues"],
    );
    let r = results(&out);
    assert_listed(&r[0], &ALICE_TOOLS);
    assert_called(&r[1], "search", "user:alice@e2e.test");
    assert_refused_jsonrpc(&r[2], "no_grant");

    // What the client fetched, in order.
    let http: Vec<&str> = out["http"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let host = authority(&envoy);
    let issuer = auth.issuer();
    let expected_prefixes = [
        format!("POST {url} -> 401"),
        format!("GET http://{host}{METADATA} -> 200"),
        format!("GET {issuer}/.well-known/oauth-authorization-server -> 200"),
        format!("POST {issuer}/register -> 201"),
        format!("GET {issuer}/authorize?"),
        format!("POST {issuer}/token -> 200"),
        format!("POST {url} -> 200"),
    ];
    assert!(http.len() >= expected_prefixes.len(), "{http:#?}");
    for (line, prefix) in http.iter().zip(&expected_prefixes) {
        assert!(
            line.starts_with(prefix.as_str()),
            "{line} is not {prefix}…: {http:#?}"
        );
    }

    // RFC 8707: the client asked for a token for exactly this resource, with the scope the
    // metadata publishes.
    let seen = auth.requests();
    let at = |path: &str| {
        seen.iter()
            .find(|r| r["path"] == json!(path))
            .unwrap_or_else(|| panic!("no {path} request: {seen:#?}"))
    };
    assert_eq!(
        at("/authorize")["params"]["resource"],
        json!(url),
        "{seen:#?}"
    );
    assert_eq!(
        at("/authorize")["params"]["scope"],
        json!(SCOPE),
        "{seen:#?}"
    );
    assert_eq!(
        at("/authorize")["params"]["code_challenge_method"],
        json!("S256")
    );
    assert_eq!(at("/token")["params"]["resource"], json!(url), "{seen:#?}");

    // Another user, another login, another list.
    let out = mcp_client(
        &url,
        ClientOptions {
            oauth_as: Some("bob@e2e.test"),
            ..ClientOptions::default()
        },
        &["list"],
    );
    assert_listed(&results(&out)[0], &BOB_TOOLS);
}

/// `forward_token: true`: the upstream gets the client's `Authorization` as sent.
#[test]
fn token_forwarded_when_the_route_says_so() {
    let (auth, envoy) = start_with("mcp-forward", "jsonrpc", "      forward_token: true\n");
    let alice = token_for(&auth, &envoy, "alice@e2e.test", json!({}));
    let out = mcp_client(
        &resource(&envoy),
        ClientOptions {
            token: Some(&alice),
            ..ClientOptions::default()
        },
        &["call:search"],
    );
    let r = results(&out);
    assert_eq!(r[0]["ok"], json!(true), "{out:#}");
    let saw: Value = serde_json::from_str(r[0]["text"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the tool's answer is not JSON ({e}): {out:#}"));
    assert_eq!(saw["authorization"], json!(true), "{saw}");
    assert_eq!(saw["subject"], json!("user:alice@e2e.test"), "{saw}");
}

/// A `tools/list` answer larger than the route's `max_bytes` is not passed through untrimmed: the
/// client gets a JSON-RPC error in its place, on either protocol and with SSE answers. (The
/// contract leaves the code open; the message names Gatehouse and tools/list.)
#[test]
fn oversized_tools_list_replaced_by_an_error() {
    let (auth, envoy) = start_with(
        "mcp-oversized",
        "jsonrpc",
        "      tools_list: {trim: true, max_bytes: 256}\n",
    );
    let url = resource(&envoy);
    let bob = token_for(&auth, &envoy, "bob@e2e.test", json!({}));
    for (legacy, sse) in [(false, false), (true, false), (true, true)] {
        let out = mcp_client(
            &url,
            ClientOptions {
                token: Some(&bob),
                legacy,
                sse,
                ..ClientOptions::default()
            },
            &["list", "call:search"],
        );
        let r = results(&out);
        assert_eq!(r[0]["ok"], json!(false), "{out:#}");
        assert_eq!(r[0]["error"], json!("MCPError"), "{out:#}");
        let message = r[0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("gatehouse") && message.contains("tools/list"),
            "{out:#}"
        );
        assert!(r[0]["tools"].is_null(), "no tool leaked: {out:#}");
        // The SDK lists the tools again after a call to a tool it has not listed (for its output
        // schema), so the call fails the same way, though the gateway allowed it.
        assert_eq!(r[1]["ok"], json!(false), "{out:#}");
        assert_eq!(r[1]["message"], r[0]["message"], "{out:#}");
    }
}

/// API keys are not OAuth tokens: on the protected route they need no audience and no scope, and
/// their own key scopes narrow what the principal may use (`credential_out_of_scope`, refused in
/// the route's shape).
#[test]
fn api_keys_on_the_protected_route() {
    mcp_python();
    let auth = AuthServer::start();
    let whole = issue_key();
    let scoped = issue_key();
    let keys = credentials_file(
        "e2e",
        vec![
            key_entry(&whole, "user:alice@e2e.test", &[], json!({})),
            key_entry(
                &scoped,
                "user:alice@e2e.test",
                &["mcp-server:github:read", "tool:github/search:use"],
                json!({}),
            ),
        ],
    );
    let bundle =
        fixture_bundle_with_credentials("1", gateway_with("jsonrpc", ""), tenant(&auth), &keys);
    let envoy = Envoy::start(
        "mcp-api-keys",
        &bundle,
        EnvoyOptions {
            upstream: Some(mcp::upstream_script()),
            upstream_python: Some(mcp_python().clone()),
            ..EnvoyOptions::default()
        },
    );
    let url = resource(&envoy);
    let out = mcp_client(
        &url,
        ClientOptions {
            token: Some(&whole.key),
            ..ClientOptions::default()
        },
        &["list", "call:create_issue", "call:list_issues"],
    );
    let r = results(&out);
    assert_listed(&r[0], &ALICE_TOOLS);
    assert_called(&r[1], "create_issue", "user:alice@e2e.test");
    assert_refused_jsonrpc(&r[2], "no_grant");

    let out = mcp_client(
        &url,
        ClientOptions {
            token: Some(&scoped.key),
            ..ClientOptions::default()
        },
        &["list", "call:search", "call:create_issue"],
    );
    let r = results(&out);
    assert_listed(&r[0], &["search"]);
    assert_called(&r[1], "search", "user:alice@e2e.test");
    assert_refused_jsonrpc(&r[2], "credential_out_of_scope");
}
