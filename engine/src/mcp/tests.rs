//! The pure MCP functions: content types, trimming of JSON and event-stream `tools/list`
//! responses, the bodies of refusals, and the URLs a protected resource is known by.

use serde_json::{json, Value};

use super::trim::{self, Kind, TrimError};
use super::*;
use crate::model::Refusal;

fn resource(scheme: Option<&str>, scopes: &[&str]) -> McpResource {
    McpResource {
        authorization_servers: Vec::new(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        audiences: Vec::new(),
        scheme: scheme.map(str::to_owned),
        forward_token: false,
        refusal: Refusal::JsonRpc,
        trim_tools_list: true,
        max_response_bytes: 1 << 20,
    }
}

fn parse(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)),
    }
}

/// Keeps the tools whose name starts with `ok`, and records every name it was asked about.
fn trim_ok(kind: Kind, body: &str) -> (Result<trim::Trimmed, TrimError>, Vec<String>) {
    let mut asked = Vec::new();
    let out = trim::trim(kind, body.as_bytes(), &mut |name| {
        asked.push(name.to_owned());
        name.starts_with("ok")
    });
    (out, asked)
}

fn trimmed(kind: Kind, body: &str) -> (String, usize, usize) {
    match trim_ok(kind, body).0 {
        Ok(t) => (
            String::from_utf8(t.body).unwrap_or_else(|e| panic!("not UTF-8: {e}")),
            t.listed,
            t.kept,
        ),
        Err(e) => panic!("trim failed: {e:?} on {body}"),
    }
}

fn trim_err(kind: Kind, body: &str) -> TrimError {
    match trim_ok(kind, body).0 {
        Ok(t) => panic!("trimmed {body} to {}", String::from_utf8_lossy(&t.body)),
        Err(e) => e,
    }
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok_read","description":"r"},{"name":"delete"},{"name":"ok_write","inputSchema":{"type":"object"}}],"nextCursor":"c"}}"#;

#[test]
fn kinds_of_content_types() {
    assert_eq!(trim::kind("application/json"), Some(Kind::Json));
    assert_eq!(
        trim::kind("Application/JSON; charset=utf-8"),
        Some(Kind::Json)
    );
    assert_eq!(trim::kind("application/vnd.mcp+json"), Some(Kind::Json));
    assert_eq!(trim::kind(" text/event-stream "), Some(Kind::EventStream));
    assert_eq!(
        trim::kind("TEXT/Event-Stream;charset=utf-8"),
        Some(Kind::EventStream)
    );
    for other in [
        "",
        "text/plain",
        "text/json",
        "application/jsonl",
        "application/octet-stream",
        "json",
        "multipart/json",
    ] {
        assert_eq!(trim::kind(other), None, "{other}");
    }
}

#[test]
fn json_keeps_the_tools_the_predicate_admits() {
    let (body, listed, kept) = trimmed(Kind::Json, LIST);
    assert_eq!((listed, kept), (3, 2));
    assert_eq!(
        parse(body.as_bytes()),
        json!({"jsonrpc":"2.0","id":1,"result":{
            "tools":[{"name":"ok_read","description":"r"},
                     {"name":"ok_write","inputSchema":{"type":"object"}}],
            "nextCursor":"c"}})
    );
    let (_, asked) = trim_ok(Kind::Json, LIST);
    assert_eq!(asked, ["ok_read", "delete", "ok_write"]);
}

#[test]
fn json_with_no_tool_kept_or_an_empty_list() {
    let body = r#"{"jsonrpc":"2.0","id":"a","result":{"tools":[{"name":"x"},{"name":"y"}]}}"#;
    let (out, listed, kept) = trimmed(Kind::Json, body);
    assert_eq!((listed, kept), (2, 0));
    assert_eq!(parse(out.as_bytes())["result"]["tools"], json!([]));
    let (_, listed, kept) = trimmed(Kind::Json, r#"{"id":1,"result":{"tools":[]}}"#);
    assert_eq!((listed, kept), (0, 0));
}

#[test]
fn json_messages_without_tools_pass_untouched() {
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":"tools"}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":null}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"tools":5}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no","data":{"tools":7}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"},"tools":[{"name":"x"}]}"#,
    ] {
        let (out, listed, kept) = trimmed(Kind::Json, body);
        assert_eq!((listed, kept), (0, 0), "{body}");
        assert_eq!(parse(out.as_bytes()), parse(body.as_bytes()), "{body}");
    }
}

#[test]
fn json_batches_are_trimmed_message_by_message() {
    let body = format!(
        r#"[{LIST},{{"jsonrpc":"2.0","id":2,"result":{{"tools":[{{"name":"gone"}}]}}}},{{"jsonrpc":"2.0","id":3,"result":{{"x":1}}}}]"#
    );
    let (out, listed, kept) = trimmed(Kind::Json, &body);
    assert_eq!((listed, kept), (4, 2));
    let out = parse(out.as_bytes());
    assert_eq!(out[0]["result"]["tools"].as_array().map(Vec::len), Some(2));
    assert_eq!(out[1]["result"]["tools"], json!([]));
    assert_eq!(out[2], json!({"jsonrpc":"2.0","id":3,"result":{"x":1}}));
    assert_eq!(trim_err(Kind::Json, "[1]"), TrimError::NotMessage);
    assert_eq!(
        trim_err(Kind::Json, r#"[{"id":1},"x"]"#),
        TrimError::NotMessage
    );
}

#[test]
fn json_that_cannot_be_read_one_way_is_refused() {
    for (body, want) in [
        ("", TrimError::NotJson),
        ("{", TrimError::NotJson),
        ("\"x\"", TrimError::NotMessage),
        ("7", TrimError::NotMessage),
        ("null", TrimError::NotMessage),
        (r#"{"id":1,"result":{"tools":{}}}"#, TrimError::BadTools),
        (r#"{"id":1,"result":{"tools":"a"}}"#, TrimError::BadTools),
        (r#"{"id":1,"result":{"tools":null}}"#, TrimError::BadTools),
        (
            r#"{"id":1,"result":{"tools":[{"name":"ok"},{"title":"x"}]}}"#,
            TrimError::BadTools,
        ),
        (
            r#"{"id":1,"result":{"tools":[{"name":"ok"},{"name":7}]}}"#,
            TrimError::BadTools,
        ),
        (
            r#"{"id":1,"result":{"tools":[{"name":"ok"},"ok2"]}}"#,
            TrimError::BadTools,
        ),
        (
            r#"{"id":1,"result":{"tools":[{"name":"ok"},["name"]]}}"#,
            TrimError::BadTools,
        ),
        // Exact duplicates, at the top and deep inside.
        (r#"{"id":1,"id":2,"result":{}}"#, TrimError::NotJson),
        (
            r#"{"id":1,"result":{"tools":[{"name":"ok","name":"delete"}]}}"#,
            TrimError::NotJson,
        ),
        (
            r#"{"id":1,"result":{"tools":[{"name":"ok","inputSchema":{"a":1,"a":2}}]}}"#,
            TrimError::NotJson,
        ),
        (r#"{"id":1,"result":{}} x"#, TrimError::NotJson),
        (r#"{"id":1,"result":{}}{}"#, TrimError::NotJson),
        ("{\"id\":1,\"result\":{}}\u{0}", TrimError::NotJson),
    ] {
        assert_eq!(trim_err(Kind::Json, body), want, "{body}");
    }
}

#[test]
fn json_keys_differing_in_case_are_distinct() {
    let body = r#"{"jsonrpc":"2.0","id":1,"ID":2,"result":{"tools":[{"name":"ok","inputSchema":{"properties":{"id":{},"ID":{}}}},{"name":"no","Name":"ok"}]}}"#;
    let (out, listed, kept) = trimmed(Kind::Json, body);
    assert_eq!((listed, kept), (2, 1));
    let out = parse(out.as_bytes());
    assert_eq!(out["ID"], json!(2));
    assert_eq!(
        out["result"]["tools"],
        json!([{"name":"ok","inputSchema":{"properties":{"id":{},"ID":{}}}}])
    );
    // Trailing whitespace is not garbage.
    let (_, listed, _) = trimmed(Kind::Json, &format!("{LIST}\r\n "));
    assert_eq!(listed, 3);
}

fn event(data: &str) -> String {
    format!("event: message\ndata: {data}\n\n")
}

#[test]
fn event_streams_with_every_line_end() {
    // Members in the server's order, kept tools as the server wrote them.
    let want = concat!(
        "event: message\nid: 7\ndata: ",
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok_read","description":"r"},"#,
        r#"{"name":"ok_write","inputSchema":{"type":"object"}}],"nextCursor":"c"}}"#,
        "\n\n"
    );
    for end in ["\n", "\r\n", "\r"] {
        let body = format!("event: message{end}id: 7{end}data: {LIST}{end}{end}");
        let (out, listed, kept) = trimmed(Kind::EventStream, &body);
        assert_eq!((listed, kept), (3, 2), "{end:?}");
        assert_eq!(out, want, "{end:?}");
        // A byte-order mark is read past, as an event-stream reader does, and kept.
        let (out, _, _) = trimmed(Kind::EventStream, &format!("\u{feff}{body}"));
        assert_eq!(out, format!("\u{feff}{want}"), "BOM {end:?}");
    }
}

/// A reader ignores one byte-order mark: a second one makes the first line's field name
/// `\u{feff}data`, which is no data, for the trimmer and the client alike. The output keeps the
/// first mark, so the client does not read that line as data: an untrimmed list would pass.
#[test]
fn a_second_byte_order_mark_stays_where_it_was() {
    let body = format!("\u{feff}\u{feff}data: {LIST}\n\n");
    let (out, listed, _) = trimmed(Kind::EventStream, &body);
    assert_eq!(listed, 0);
    assert_eq!(out, body);
    // Read again, as the client reads it, it is still no data.
    let (_, listed, _) = trimmed(Kind::EventStream, &out);
    assert_eq!(listed, 0);
    // The same line after blank lines, which the output drops: it would come first.
    for body in [
        format!("\n\u{feff}data: {LIST}\n\n"),
        format!("\r\n\r\n\u{feff}data: {LIST}\n\n"),
        "\r\n\u{feff}".to_owned(),
    ] {
        let (out, listed, _) = trimmed(Kind::EventStream, &body);
        assert_eq!(listed, 0, "{body:?}");
        assert!(out.starts_with("\u{feff}\u{feff}"), "{out:?}");
        let (again, listed, _) = trimmed(Kind::EventStream, &out);
        assert_eq!((again.as_str(), listed), (out.as_str(), 0), "{body:?}");
    }
}

#[test]
fn event_streams_join_data_lines_and_keep_other_lines() {
    let body = concat!(
        ": a comment\n",
        "id: 42\n",
        "data: {\"jsonrpc\":\"2.0\",\"id\":1,\n",
        "data:\"result\":{\"tools\":[{\"name\":\"ok\"},\n",
        "retry: 1000\n",
        "data: {\"name\":\"no\"}]}}\n",
        "event: message\n",
        "\n",
    );
    let (out, listed, kept) = trimmed(Kind::EventStream, body);
    assert_eq!((listed, kept), (2, 1));
    let message = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok"}]}}"#;
    assert_eq!(
        out,
        format!(": a comment\nid: 42\ndata: {message}\nretry: 1000\nevent: message\n\n")
    );
}

#[test]
fn event_streams_pass_priming_events_comments_and_notifications() {
    let notification = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#;
    let request = r#"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}"#;
    let body = format!(
        "id: prime\ndata:\n\n: keep-alive\n\n{}{}retry: 5\n\n{}",
        event(notification),
        event(request),
        event(LIST)
    );
    let (out, listed, kept) = trimmed(Kind::EventStream, &body);
    assert_eq!((listed, kept), (3, 2));
    let mut lines = out.split('\n');
    assert_eq!(lines.next(), Some("id: prime"));
    assert_eq!(lines.next(), Some("data:"));
    assert_eq!(lines.next(), Some(""));
    assert_eq!(lines.next(), Some(": keep-alive"));
    assert_eq!(lines.next(), Some(""));
    let datas: Vec<Value> = out
        .split('\n')
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| parse(d.as_bytes()))
        .collect();
    assert_eq!(datas.len(), 3);
    assert_eq!(datas[0], parse(notification.as_bytes()));
    assert_eq!(datas[1], parse(request.as_bytes()));
    assert_eq!(
        datas[2]["result"]["tools"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(out.contains("\nretry: 5\n\n"));
    // A priming event with a blank-but-present data line passes verbatim too.
    let (out, listed, _) = trimmed(Kind::EventStream, "id: 1\ndata: \n\n");
    assert_eq!((out.as_str(), listed), ("id: 1\ndata: \n\n", 0));
    let (out, _, _) = trimmed(Kind::EventStream, "");
    assert_eq!(out, "");
}

#[test]
fn event_streams_without_a_final_blank_line() {
    let (out, listed, kept) = trimmed(Kind::EventStream, &format!("data: {LIST}"));
    assert_eq!((listed, kept), (3, 2));
    assert!(out.ends_with("}\n\n"), "{out}");
    let (_, listed, _) = trimmed(Kind::EventStream, &format!("data: {LIST}\n"));
    assert_eq!(listed, 3);
}

#[test]
fn event_streams_that_cannot_be_read_are_refused() {
    assert_eq!(
        trim_err(Kind::EventStream, "data: not json\n\n"),
        TrimError::BadEvent
    );
    assert_eq!(
        trim_err(Kind::EventStream, &format!("{}data: {{\n\n", event(LIST))),
        TrimError::BadEvent
    );
    assert_eq!(
        trim_err(Kind::EventStream, "data: {\"a\":1,\"a\":2}\n\n"),
        TrimError::BadEvent
    );
    assert_eq!(
        trim_err(Kind::EventStream, "data: 5\n\n"),
        TrimError::NotMessage
    );
    assert_eq!(
        trim_err(
            Kind::EventStream,
            "data: {\"id\":1,\"result\":{\"tools\":[{}]}}\n\n"
        ),
        TrimError::BadTools
    );
    assert!(matches!(
        trim::trim(Kind::EventStream, b"data: \xff\n\n", &mut |_| true),
        Err(TrimError::NotJson)
    ));
}

#[test]
fn refused_bodies_are_json_rpc_errors_with_the_id() {
    for why in [
        TrimError::NotJson,
        TrimError::NotMessage,
        TrimError::BadTools,
        TrimError::BadEvent,
        TrimError::TooLarge,
        TrimError::NotMcp,
        TrimError::Encoded,
    ] {
        let body = trim::refused(Kind::Json, Some("\"r-1\""), why);
        let message = parse(&body);
        assert_eq!(message["jsonrpc"], "2.0");
        assert_eq!(message["id"], "r-1");
        assert_eq!(message["error"]["code"], json!(TRIM_FAILED_CODE));
        let text = message["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(why.as_str()), "{text}");
        assert!(message.get("result").is_none());

        let stream = trim::refused(Kind::EventStream, Some("3"), why);
        let stream = String::from_utf8(stream).unwrap_or_default();
        assert!(stream.starts_with("event: message\ndata: "), "{stream}");
        assert!(stream.ends_with("\n\n"), "{stream}");
        let data = stream
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or_default();
        let message = parse(data.as_bytes());
        assert_eq!(message["id"], 3);
        assert_eq!(message["error"]["code"], json!(TRIM_FAILED_CODE));
        // What is refused reads back as an event stream the trimmer accepts.
        let again = trim::trim(Kind::EventStream, stream.as_bytes(), &mut |_| false);
        assert!(matches!(again, Ok(t) if t.listed == 0));
    }
    assert_eq!(
        parse(&trim::refused(Kind::Json, None, TrimError::TooLarge))["id"],
        Value::Null
    );
}

#[test]
fn refusal_bodies_in_each_shape() {
    let jsonrpc = |method, id| refusal_body(Refusal::JsonRpc, method, id, Reason::NoGrant);
    let want_error = json!({"jsonrpc":"2.0","id":7,"error":{
        "code":REFUSED_CODE,"message":"forbidden: no_grant",
        "data":{"error":"forbidden","reason":"no_grant"}}});
    for method in [McpMethod::ToolsCall, McpMethod::ToolsList, McpMethod::Other] {
        let body = jsonrpc(method, Some("7")).unwrap_or_default();
        assert_eq!(parse(body.as_bytes()), want_error, "{method:?}");
        assert_eq!(jsonrpc(method, None), None);
        assert_eq!(
            refusal_body(Refusal::Http, method, Some("7"), Reason::NoGrant),
            None
        );
    }
    let tool = refusal_body(
        Refusal::ToolResult,
        McpMethod::ToolsCall,
        Some("\"a\""),
        Reason::ResourceDisabled,
    )
    .unwrap_or_default();
    assert_eq!(
        parse(tool.as_bytes()),
        json!({"jsonrpc":"2.0","id":"a","result":{
            "content":[{"type":"text","text":"forbidden: resource_disabled"}],"isError":true,
            "resultType":"complete"}})
    );
    // tool_result is for tools/call; other methods get the JSON-RPC error.
    let list = refusal_body(
        Refusal::ToolResult,
        McpMethod::ToolsList,
        Some("7"),
        Reason::NoGrant,
    )
    .unwrap_or_default();
    assert_eq!(parse(list.as_bytes()), want_error);
    assert_eq!(
        refusal_body(
            Refusal::ToolResult,
            McpMethod::ToolsCall,
            None,
            Reason::NoGrant
        ),
        None
    );
}

#[test]
fn which_denials_become_refusals() {
    for reason in [
        Reason::NoGrant,
        Reason::ResourceUnknown,
        Reason::ResourceDisabled,
        Reason::NotAuthorizedSubject,
        Reason::CredentialOutOfScope,
    ] {
        assert!(refusal_applies(reason), "{reason:?}");
    }
    for reason in [
        Reason::InsufficientScope,
        Reason::TenantUnknown,
        Reason::NoRoute,
        Reason::TokenMissing,
        Reason::AudienceMismatch,
        Reason::RequestAmbiguous,
        Reason::BodyInvalid,
    ] {
        assert!(!refusal_applies(reason), "{reason:?}");
    }
}

#[test]
fn request_ids() {
    assert_eq!(
        request_id(br#"{"jsonrpc":"2.0","id":"a\"b","method":"x"}"#).as_deref(),
        Some(r#""a\"b""#)
    );
    assert_eq!(request_id(br#"{"id":42}"#).as_deref(), Some("42"));
    assert_eq!(request_id(br#"{"id":-1.5}"#).as_deref(), Some("-1.5"));
    for body in [
        &br#"{"id":null,"method":"x"}"#[..],
        br#"{"method":"notifications/initialized"}"#,
        br#"{"id":true}"#,
        br#"{"id":{"a":1}}"#,
        br#"{"id":[1]}"#,
        br#"{"id":1,"id":2}"#,
        br#"[{"id":1}]"#,
        b"{",
        b"",
        b"\xff",
    ] {
        assert_eq!(request_id(body), None, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn origins_and_urls() {
    let configured = resource(Some("https"), &[]);
    let from_request = resource(None, &[]);
    let origin = |mcp: &McpResource, authority: &str, headers: &[(&str, &str)]| {
        super::origin(mcp, authority, headers)
    };
    assert_eq!(
        origin(&configured, "API.Acme.test:443", &[(":scheme", "http")]).as_deref(),
        Ok("https://api.acme.test")
    );
    assert_eq!(
        origin(&configured, "api.acme.test:80", &[]).as_deref(),
        Ok("https://api.acme.test:80")
    );
    assert_eq!(
        origin(&from_request, "api.acme.test:80", &[(":scheme", "http")]).as_deref(),
        Ok("http://api.acme.test")
    );
    assert_eq!(
        origin(&from_request, "api.acme.test:443", &[(":scheme", "HTTP")]).as_deref(),
        Ok("http://api.acme.test:443")
    );
    assert_eq!(
        origin(&from_request, "api.acme.test:443", &[(":scheme", "https")]).as_deref(),
        Ok("https://api.acme.test")
    );
    assert_eq!(
        origin(&from_request, "127.0.0.1:10000", &[]).as_deref(),
        Ok("https://127.0.0.1:10000")
    );
    assert_eq!(
        origin(&from_request, "[::1]:8443", &[(":scheme", "https")]).as_deref(),
        Ok("https://[::1]:8443")
    );
    assert_eq!(
        origin(&from_request, "[::1]:443", &[]).as_deref(),
        Ok("https://[::1]")
    );
    assert_eq!(
        origin(&from_request, "h.test", &[(":scheme", "ftp")]),
        Err(Reason::RequestAmbiguous)
    );
    assert_eq!(
        origin(
            &from_request,
            "h.test",
            &[(":scheme", "http"), (":scheme", "https")]
        ),
        Err(Reason::RequestAmbiguous)
    );
    // The configured scheme does not read the header at all.
    assert!(origin(&configured, "h.test", &[(":scheme", "ftp")]).is_ok());
    assert!(origin(&from_request, "", &[]).is_err());

    let origin = "https://api.acme.test";
    assert_eq!(
        resource_url(origin, "/api/llm/mcp/github/server?x=1&y"),
        "https://api.acme.test/api/llm/mcp/github/server"
    );
    assert_eq!(
        metadata_url(origin, "/api/llm/mcp/github/server?x=1"),
        "https://api.acme.test/.well-known/oauth-protected-resource/api/llm/mcp/github/server"
    );
    assert_eq!(resource_url(origin, "/"), "https://api.acme.test/");
}

#[test]
fn challenge_parameters() {
    let with_scopes = Challenge::new(
        &resource(Some("https"), &["mcp.read", "mcp.tools"]),
        "https://h.test",
        "/mcp/a?x=1",
    );
    assert_eq!(
        with_scopes.resource_metadata,
        "https://h.test/.well-known/oauth-protected-resource/mcp/a"
    );
    assert_eq!(with_scopes.scope, "mcp.read mcp.tools");
    assert_eq!(
        with_scopes.params(Reason::TokenMissing),
        ", scope=\"mcp.read mcp.tools\", resource_metadata=\"https://h.test/.well-known/oauth-protected-resource/mcp/a\""
    );
    assert_eq!(
        with_scopes.params(Reason::InsufficientScope),
        ", error=\"insufficient_scope\", scope=\"mcp.read mcp.tools\", resource_metadata=\"https://h.test/.well-known/oauth-protected-resource/mcp/a\""
    );
    let without = Challenge::new(&resource(None, &[]), "http://h.test:8080", "/mcp");
    assert_eq!(
        without.params(Reason::TokenExpired),
        ", resource_metadata=\"http://h.test:8080/.well-known/oauth-protected-resource/mcp\""
    );
    // Nothing can end a quoted-string early.
    let odd = Challenge {
        resource_metadata: "https://h.test/\"x\\y\r\n".into(),
        scope: "a\"b".into(),
    };
    assert_eq!(
        odd.params(Reason::TokenMissing),
        ", scope=\"ab\", resource_metadata=\"https://h.test/xy\""
    );
}

#[test]
fn methods() {
    assert_eq!(McpMethod::of("tools/list"), McpMethod::ToolsList);
    assert_eq!(McpMethod::of("tools/call"), McpMethod::ToolsCall);
    assert_eq!(McpMethod::of("Tools/List"), McpMethod::Other);
    assert_eq!(McpMethod::of("initialize"), McpMethod::Other);
}

/// What is kept is kept as written: numbers no `f64` holds exactly (a 23-digit id, a decimal
/// with more digits than a double), key order and the spelling of escapes inside kept values.
#[test]
fn kept_text_is_the_servers_own() {
    let body = concat!(
        r#"{"jsonrpc":"2.0","id":12345678901234567890123,"result":{"tools":["#,
        r#"{"name":"ok","inputSchema":{"maximum":0.30000000000000000000000001,"x":"\u00e9"}},"#,
        r#"{"name":"no"}],"z":1e300}}"#
    );
    let (out, listed, kept) = trimmed(Kind::Json, body);
    assert_eq!((listed, kept), (2, 1));
    assert_eq!(
        out,
        concat!(
            r#"{"jsonrpc":"2.0","id":12345678901234567890123,"result":{"tools":["#,
            r#"{"name":"ok","inputSchema":{"maximum":0.30000000000000000000000001,"x":"\u00e9"}}"#,
            r#"],"z":1e300}}"#
        )
    );
    // A message without tools passes byte for byte, whitespace included.
    let untouched = "{ \"jsonrpc\": \"2.0\", \"id\": 1e2, \"result\": {} }\n";
    assert_eq!(trimmed(Kind::Json, untouched).0, untouched);
    // Pretty-printed data spread over several lines stays one value for the reader.
    let body = "data: {\"id\": 1,\ndata:  \"result\": {\"tools\": [{\"name\": \"ok\"},\ndata: {\"name\": \"no\"}]}}\n\n";
    let (out, listed, kept) = trimmed(Kind::EventStream, body);
    assert_eq!((listed, kept), (2, 1));
    assert_eq!(
        out,
        "data: {\"id\":1,\"result\":{\"tools\":[{\"name\": \"ok\"}]}}\n\n"
    );
}
