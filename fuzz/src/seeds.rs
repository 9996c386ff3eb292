//! Seed inputs, built from the repository's own data: the example and golden-vector tenants
//! (compiled into bundles, or as YAML), and the golden vectors' tokens (the adversarial ones
//! among them), requests and bodies. `cargo run --bin seed` writes them to `corpus/<target>/`.

use std::path::{Path, PathBuf};

use gatehouse_compiler::{compile_paths, CompileOptions};
use serde_json::Value;

use crate::repo;

pub const TARGETS: [&str; 11] = [
    "bundle_decode",
    "token",
    "claims",
    "route",
    "body",
    "compile_yaml",
    "es256",
    "authority",
    "api_key",
    "mcp_trim",
    "native_glue",
];

pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "bundle_decode" => bundles(),
        "token" => tokens(),
        "claims" => claim_payloads(),
        "route" => requests(),
        "body" => bodies(),
        "compile_yaml" => yaml(),
        "es256" => es256(),
        "authority" => authorities(),
        "api_key" => tokens()
            .into_iter()
            .filter(|t| t.starts_with(b"gh_key_") || t.starts_with(b"GH_KEY_"))
            .collect(),
        "mcp_trim" => tools_lists(),
        "native_glue" => requests(),
        other => panic!("no target {other}"),
    }
}

/// Directories of compilable inputs: (gateway, tenant files or directories).
fn policies() -> Vec<(Option<PathBuf>, Vec<PathBuf>)> {
    let root = repo();
    let mut out = vec![
        (
            Some(root.join("examples/gateway.yaml")),
            vec![root.join("examples/acme"), root.join("examples/globex")],
        ),
        (
            Some(root.join("fuzz/gateway.yaml")),
            vec![root.join("examples/acme")],
        ),
    ];
    for dir in vector_dirs() {
        let tenants = files(&dir, |n| n.starts_with("tenant") && n.ends_with(".yaml"));
        if tenants.is_empty() {
            continue;
        }
        let gateway = dir.join("gateway.yaml");
        out.push((gateway.exists().then_some(gateway), tenants));
    }
    out
}

fn vector_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/vectors"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.is_dir() && !d.ends_with("keys"));
    dirs.sort();
    dirs
}

fn files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep));
    out.sort();
    out
}

fn bundles() -> Vec<Vec<u8>> {
    policies()
        .into_iter()
        .filter_map(|(gateway, inputs)| {
            let options = CompileOptions {
                gateway,
                inputs,
                revision: Some("seed".into()),
                serial: 1,
            };
            let policy = compile_paths(&options).ok()?;
            gatehouse_engine::bundle::encode(&policy, None).ok()
        })
        .collect()
}

fn json_file(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn vector_cases() -> Vec<Value> {
    vector_dirs()
        .iter()
        .filter_map(|d| json_file(&d.join("requests.json")))
        .flat_map(|f| f["cases"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn tokens() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for case in vector_cases() {
        if let Some(raw) = case["token"]["raw"].as_str() {
            out.push(raw.as_bytes().to_vec());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `claims` inputs: the payload of every token in the golden vectors, raw ones decoded and
/// minted ones as the runner mints them (the profile's claims, then the case's on top), so the
/// claims of every kind of issuer and every wrong type the vectors try are there.
fn claim_payloads() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for dir in vector_dirs() {
        let Some(file) = json_file(&dir.join("requests.json")) else {
            continue;
        };
        let profiles = &file["token_profiles"];
        for case in file["cases"].as_array().into_iter().flatten() {
            let token = &case["token"];
            if let Some(raw) = token["raw"].as_str() {
                if let Some(payload) = raw.split('.').nth(1).and_then(b64url_decode) {
                    out.push(payload);
                }
                continue;
            }
            let mut claims = serde_json::Map::new();
            for layer in [&profiles[token["profile"].as_str().unwrap_or("")], token] {
                if let Some(c) = layer["claims"].as_object() {
                    claims.extend(c.clone());
                }
            }
            if !claims.is_empty() {
                out.extend(serde_json::to_vec(&Value::Object(claims)));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Unpadded base64url, leniently (seeds only): `None` on a character outside the alphabet.
fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `es256` inputs: every mode, a few keys and messages (one a real token's signing input).
fn es256() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for mode in 0u8..8 {
        for (i, message) in [
            &b""[..],
            b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0",
            &[0xff; 300],
        ]
        .iter()
        .enumerate()
        {
            let mut input = vec![mode];
            input.extend((0..32).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8 + 1)));
            input.extend((0..64).map(|j| (j as u8) ^ mode.wrapping_mul(0x55)));
            input.extend_from_slice(message);
            out.push(input);
        }
    }
    out
}

/// Requests in `route`'s format: `method\nauthority\npath\n(header: value\n)*\nbody`.
fn request(method: &str, host: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!("{method}\n{host}\n{path}\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    text.push_str(body);
    text.into_bytes()
}

fn requests() -> Vec<Vec<u8>> {
    let host = "acme.gw.example.com";
    let mut out = vec![
        request("GET", host, "/healthz", &[], ""),
        request(
            "POST",
            host,
            "/api/llm/v1/chat/completions",
            &[("authorization", "Bearer x.y.z")],
            r#"{"model":"openai-main/gpt-4o"}"#,
        ),
        request(
            "POST",
            "localhost:10000",
            "/api/llm/mcp/github/server",
            &[("cookie", "a=b; gh_session=x.y.z")],
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue"}}"#,
        ),
        request(
            "GET",
            host,
            "/api/prompts/prompts/summarize?access_token=x.y.z",
            &[],
            "",
        ),
        request(
            "PUT",
            host,
            "/api/clusters/prod/workspaces/ml-serving/applications/api/deploy",
            &[("x-api-key", "x.y.z")],
            "",
        ),
        request(
            "POST",
            host,
            "/api/llm/v1/responses",
            &[("x-model", "openai-main/o3")],
            "",
        ),
        request(
            "GET",
            "[::1]:8080",
            "/api/llm/v1/model-info?account=openai-main&model=gpt%2D4o+x",
            &[],
            "",
        ),
    ];
    for case in vector_cases() {
        let r = &case["request"];
        let (Some(method), Some(path)) = (r["method"].as_str(), r["path"].as_str()) else {
            continue;
        };
        let host = r["host"].as_str().unwrap_or(host);
        let headers: Vec<(String, String)> = r["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        out.push(request(method, host, path, &refs, &body_of(r)));
    }
    out.sort();
    out.dedup();
    out
}

fn body_of(request: &Value) -> String {
    match (&request["body"], request["body_raw"].as_str()) {
        (_, Some(raw)) => raw.to_owned(),
        (Value::Null, None) => String::new(),
        (body, None) => body.to_string(),
    }
}

fn bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        r#"{"model":"openai-main/gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        r#"[{"jsonrpc":"2.0","method":"tools/call"}]"#,
        r#"{"model":"a","model":"b"}"#,
        r#"{"model":"\ud83d\ude00","x":[1,2.5,-3e10,true,null]}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for case in vector_cases() {
        let body = body_of(&case["request"]);
        if !body.is_empty() {
            out.push(body.into_bytes());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn yaml() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (gateway, inputs) in policies() {
        if let Some(g) = gateway {
            if let Ok(text) = std::fs::read_to_string(&g) {
                out.push([b"G".as_slice(), text.as_bytes()].concat());
            }
        }
        for input in inputs {
            let tenants = if input.is_dir() {
                files(&input, |n| n.ends_with(".yaml"))
            } else {
                vec![input]
            };
            for tenant in tenants {
                out.push(inline_keys(&tenant).into_bytes());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The tenant file with every `jwks_file: X` replaced by `jwks: <the file's JSON>`, so that it
/// compiles wherever it is read from.
pub fn inline_keys(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let (dash, rest) = match trimmed.strip_prefix("- ") {
                Some(rest) => ("- ", rest),
                None => ("", trimmed),
            };
            match rest.strip_prefix("jwks_file:") {
                Some(file) => {
                    let json = std::fs::read_to_string(dir.join(file.trim()))
                        .ok()
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "{}".to_owned());
                    format!("{indent}{dash}jwks: {json}\n")
                }
                None => format!("{line}\n"),
            }
        })
        .collect()
}

/// Every host the golden vectors send, and a few shapes of authority around them.
fn authorities() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        "acme.gw.example.com",
        "acme.gw.example.com:8443",
        "[::1]:10000",
        "127.0.0.1",
        "[acme.gw.example.com].globex.example.com",
        "a@b:1",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for case in vector_cases() {
        if let Some(host) = case.pointer("/request/host").and_then(Value::as_str) {
            out.push(host.as_bytes().to_vec());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `tools/list` responses in `mcp_trim`'s format: a framing byte (even: JSON, odd: an event
/// stream), a salt byte choosing the tools kept, then the body. JSON messages and batches, and
/// event streams with every line end, a byte-order mark, comments, ids, a priming event, data
/// split over lines and notifications before the response.
fn tools_lists() -> Vec<Vec<u8>> {
    let list = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"create_issue","inputSchema":{"type":"object","properties":{"id":{},"ID":{}}}},{"name":"search_code"},{"name":"delete_repo","annotations":{"destructiveHint":true}},{"name":"merge"}],"nextCursor":"c2"}}"#;
    let notification =
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#;
    let json_bodies = [
        list.to_owned(),
        format!(
            "[{list},{notification},{{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{{\"tools\":[]}}}}]"
        ),
        r#"{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"no"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"tools"}]}}"#
            .to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"a"}]}}"#.to_owned(),
    ];
    let (head, tail) = list.split_at(list.len() / 2);
    let streams = [
        format!("event: message\nid: 1\ndata: {list}\n\n"),
        format!("id: 0\ndata:\n\n: keep-alive\r\n\r\ndata: {notification}\r\n\r\nevent: message\r\ndata: {list}\r\n\r\n"),
        format!("\u{feff}data: {head}\rdata: {tail}\r\r"),
        format!("retry: 1000\ndata: {list}"),
        format!("\u{feff}\u{feff}data: {list}\n\n"),
    ];
    let mut out = Vec::new();
    for (i, body) in json_bodies.iter().enumerate() {
        for salt in [0u8, 1, 0x5a] {
            let mut seed = vec![2 * i as u8, salt];
            seed.extend_from_slice(body.as_bytes());
            out.push(seed);
        }
    }
    for (i, body) in streams.iter().enumerate() {
        for salt in [0u8, 7] {
            let mut seed = vec![2 * i as u8 + 1, salt];
            seed.extend_from_slice(body.as_bytes());
            out.push(seed);
        }
    }
    out
}
