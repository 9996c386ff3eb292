#![doc = include_str!("../README.md")]

use std::path::Path;

use gatehouse_compiler::compile::{compile_sources, CompileError, Files, Sources};
use gatehouse_deploy::keys;
use gatehouse_engine::{Engine, LoadOptions};
use gatehouse_review::check::{self, CheckRequest};
use gatehouse_review::{analysis, clock, inspect};
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// One file of a `compile` call: `{name, text, kind?}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Its path: named in diagnostics, and what a tenant's `jwks_file` (relative to the tenant
    /// file's directory) is matched against.
    pub name: String,
    pub text: String,
    /// `tenant`, `gateway` or `file` (only read through `jwks_file`); default from the name
    /// ([`Kind::of`]).
    #[serde(default)]
    pub kind: Option<Kind>,
}

/// What a [`SourceFile`] is to the compiler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Tenant,
    Gateway,
    File,
}

impl Kind {
    /// By name: `gateway.yaml`, `gateway.yml` or `gateway.json` (in any directory) is the
    /// gateway file; other `*.yaml`, `*.yml` and `*.json` files are tenant files, except JWK
    /// files (`*.jwks.json`, `*.jwk.json`); anything else is only there for `jwks_file`.
    pub fn of(name: &str) -> Kind {
        let base = name.rsplit('/').next().unwrap_or(name);
        if matches!(base, "gateway.yaml" | "gateway.yml" | "gateway.json") {
            Kind::Gateway
        } else if base.ends_with(".jwks.json") || base.ends_with(".jwk.json") {
            Kind::File
        } else if [".yaml", ".yml", ".json"].iter().any(|e| base.ends_with(e)) {
            Kind::Tenant
        } else {
            Kind::File
        }
    }
}

/// The options of a `compile` call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompileRequest {
    pub files: Vec<SourceFile>,
    /// Default: a digest of the compiled policy, as `gatehouse compile`.
    #[serde(default)]
    pub revision: Option<String>,
    /// The bundle's serial (`gatehouse compile --serial`); the package passes the current Unix
    /// time when none is given, as the CLI does.
    pub serial: u64,
}

/// Compiles `request` into a bundle, or every diagnostic of the run as
/// `[{file, line, column, message}]` (one without a file when the input has no tenant file or
/// two gateway files).
pub fn compile(request: &CompileRequest) -> Result<Vec<u8>, Vec<Value>> {
    let diagnostic = |file: &str, line: usize, column: usize, message: &str| json!({"file": file, "line": line, "column": column, "message": message});
    let kinds: Vec<(Kind, &SourceFile)> = request
        .files
        .iter()
        .map(|f| (f.kind.unwrap_or_else(|| Kind::of(&f.name)), f))
        .collect();
    let of_kind = |kind: Kind| {
        kinds
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, f)| (Path::new(&f.name), f.text.as_str()))
    };
    let gateways: Vec<(&Path, &str)> = of_kind(Kind::Gateway).collect();
    let gateway = match gateways.as_slice() {
        [] => None,
        [one] => Some(*one),
        _ => {
            return Err(vec![diagnostic(
                "",
                0,
                0,
                "more than one gateway file given",
            )])
        }
    };
    let tenants: Vec<(&Path, &str)> = of_kind(Kind::Tenant).collect();
    let all: Vec<(&Path, &str)> = request
        .files
        .iter()
        .map(|f| (Path::new(&f.name), f.text.as_str()))
        .collect();
    let policy = compile_sources(&Sources {
        gateway,
        tenants: &tenants,
        files: Files::Memory(&all),
        revision: request.revision.as_deref(),
        serial: request.serial,
    })
    .map_err(|err| match err {
        CompileError::Invalid(found) => found
            .iter()
            .map(|d| diagnostic(&d.file.display().to_string(), d.line, d.column, &d.message))
            .collect(),
        other => vec![diagnostic("", 0, 0, &other.to_string())],
    })?;
    gatehouse_engine::bundle::encode(&policy, None)
        .map_err(|e| vec![diagnostic("", 0, 0, &e.to_string())])
}

/// A request of a `check` call, the fields of `gatehouse check`'s flags; the body travels
/// beside it as bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JsRequest {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub host: Option<String>,
    /// `[[name, value], ...]`, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, rename = "as")]
    pub as_subject: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    /// Unix seconds or RFC 3339 (`gatehouse check --now`); the package passes the current time
    /// when none is given.
    pub now: Time,
    #[serde(default)]
    pub no_content_type: bool,
}

/// A time (Unix seconds or RFC 3339 text) or a lifetime (seconds or `90s`, `15m`, `1h`, `7d`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Time {
    Seconds(i64),
    Text(String),
}

impl Time {
    fn unix(&self) -> Result<i64, String> {
        match self {
            Time::Seconds(s) => Ok(*s),
            Time::Text(t) => clock::parse_time(t).map_err(|e| e.to_string()),
        }
    }

    fn duration(&self) -> Result<i64, String> {
        match self {
            Time::Seconds(s) => Ok(*s),
            Time::Text(t) => clock::parse_duration(t).map_err(|e| e.to_string()),
        }
    }
}

/// `bundle` loaded as the filter loads it.
pub fn load(bundle: Vec<u8>, trusted_keys: &[String]) -> Result<Engine, String> {
    let options = LoadOptions {
        trusted_keys: trusted_keys
            .iter()
            .map(|k| check::decode_public_key(k))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
    };
    Engine::load(bundle, &options).map_err(|e| format!("bundle rejected: {e}"))
}

/// The object `gatehouse check --json` prints for `request`: the same request building
/// ([`check::check`]) and rendering ([`check::checked_json`]).
pub fn check(engine: &Engine, request: JsRequest, body: Option<Vec<u8>>) -> Result<Value, String> {
    let now = request.now.unix()?;
    let request = CheckRequest {
        method: request.method,
        path: request.path,
        host: request.host,
        headers: request.headers,
        token: request.token,
        as_subject: request.as_subject,
        credential: None,
        body,
        no_content_type: request.no_content_type,
    };
    let checked = check::check(engine, &request, now).map_err(|e| e.to_string())?;
    Ok(check::checked_json(&checked))
}

/// A who-can question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoCanQuery {
    /// Default: the bundle's only tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// `type:path`.
    pub resource: String,
    pub action: String,
    pub now: Time,
}

/// Who may perform `query.action` on `query.resource`: `gatehouse who-can --json`.
pub fn who_can(engine: &Engine, query: &WhoCanQuery) -> Result<Value, String> {
    let (a, who) = analysis::who_can(
        engine,
        query.tenant.as_deref(),
        &query.resource,
        &query.action,
        query.now.unix()?,
    )
    .map_err(|e| e.to_string())?;
    Ok(analysis::who_can_json(&a, &who))
}

/// A what-can question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatCanQuery {
    #[serde(default)]
    pub tenant: Option<String>,
    /// `user:<email>` or `virtualaccount:<name>`.
    pub principal: String,
    /// Only resources of this type.
    #[serde(default, rename = "type")]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    pub now: Time,
}

/// What `query.principal` may do: `gatehouse what-can --json` (JSON text).
pub fn what_can(engine: &Engine, query: &WhatCanQuery) -> Result<String, String> {
    let (a, what) = analysis::what_can(
        engine,
        query.tenant.as_deref(),
        &query.principal,
        query.resource_type.as_deref(),
        query.action.as_deref(),
        query.now.unix()?,
    )
    .map_err(|e| e.to_string())?;
    Ok(analysis::what_can_json(&a, &what))
}

/// A tools-list question: what `tools/list` on an MCP server shows a caller (`gatehouse check
/// --tools-list`). The caller is one of `as`, `credential` (an API key id) or `token`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsListQuery {
    /// The server's name, as in `mcp-server:<server>`.
    pub server: String,
    /// Default: the host of a lone tenant.
    #[serde(default)]
    pub host: Option<String>,
    /// The MCP endpoint's path; default: the server's endpoint from the gateway's routes.
    #[serde(default)]
    pub path: Option<String>,
    /// `[[name, value], ...]`, sent with every request.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, rename = "as")]
    pub as_subject: Option<String>,
    /// 16 hex digits.
    #[serde(default)]
    pub credential: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    pub now: Time,
}

/// `gatehouse check --tools-list --json` for `query` ([`check::tools_list`],
/// [`check::tools_list_json`]).
pub fn tools_list(engine: &Engine, query: ToolsListQuery) -> Result<Value, String> {
    let now = query.now.unix()?;
    let credential = query
        .credential
        .as_deref()
        .map(|id| {
            id.parse::<gatehouse_engine::credential::KeyId>()
                .map_err(|e| format!("credential `{id}`: {e}"))
        })
        .transpose()?;
    let request = CheckRequest {
        method: "POST".to_owned(),
        path: query.path.unwrap_or_default(),
        host: query.host,
        headers: query.headers,
        token: query.token,
        as_subject: query.as_subject,
        credential,
        body: None,
        no_content_type: false,
    };
    let list =
        check::tools_list(engine, &request, &query.server, now).map_err(|e| e.to_string())?;
    Ok(check::tools_list_json(&query.server, &list))
}

/// The claims of a `mintToken` call (`gatehouse token mint`'s flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    pub issuer: String,
    pub sub: String,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub aud: Vec<String>,
    /// More claims.
    #[serde(default)]
    pub claims: serde_json::Map<String, Value>,
    /// `90s`, `15m`, `1h`, `7d`, or seconds; default `1h`.
    #[serde(default)]
    pub ttl: Option<Time>,
    /// `iat`.
    pub now: Time,
}

/// A control-plane token signed with the private JWK `key`, as `gatehouse token mint` makes it
/// ([`keys::token_claims`], then the extra claims, then [`keys::mint`]).
pub fn mint(key: &str, request: MintRequest) -> Result<String, String> {
    let ttl = request.ttl.as_ref().map_or(Ok(3600), Time::duration)?;
    let mut claims = keys::token_claims(
        &request.issuer,
        &request.sub,
        request.tenant.as_deref(),
        request.jti.as_deref(),
        &request.aud,
    );
    claims.extend(request.claims);
    keys::mint(key, claims, request.now.unix()?, ttl).map_err(|e| e.to_string())
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid {what}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The wasm-bindgen surface: JSON text in and out, wrapped by the package's `index.js`.

fn js_error(message: String) -> JsError {
    JsError::new(&message)
}

/// The result of [`compile_json`]: a bundle, or diagnostics (JSON text).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Compiled {
    bundle: Option<Vec<u8>>,
    diagnostics: String,
}

#[wasm_bindgen]
impl Compiled {
    #[wasm_bindgen(getter)]
    pub fn bundle(&self) -> Option<Vec<u8>> {
        self.bundle.clone()
    }

    /// `[]` when there is a bundle.
    #[wasm_bindgen(getter)]
    pub fn diagnostics(&self) -> String {
        self.diagnostics.clone()
    }
}

/// `compile` of the package: `request` is a [`CompileRequest`] as JSON.
#[wasm_bindgen(js_name = compileJson)]
pub fn compile_json(request: &str) -> Result<Compiled, JsError> {
    let request: CompileRequest = parse("compile request", request).map_err(js_error)?;
    Ok(match compile(&request) {
        Ok(bundle) => Compiled {
            bundle: Some(bundle),
            diagnostics: "[]".to_owned(),
        },
        Err(found) => Compiled {
            bundle: None,
            diagnostics: Value::Array(found).to_string(),
        },
    })
}

/// A loaded bundle, kept between calls so a decision does not reload it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct LoadedBundle {
    engine: Engine,
}

#[wasm_bindgen]
impl LoadedBundle {
    /// `trusted_keys`: a JSON array of base64 Ed25519 keys, as the filter's VM configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(bundle: Vec<u8>, trusted_keys: &str) -> Result<LoadedBundle, JsError> {
        let keys: Vec<String> = parse("trusted keys", trusted_keys).map_err(js_error)?;
        Ok(LoadedBundle {
            engine: load(bundle, &keys).map_err(js_error)?,
        })
    }

    /// [`check`]: `request` is a [`JsRequest`] as JSON; the answer is JSON text.
    pub fn check(&self, request: &str, body: Option<Vec<u8>>) -> Result<String, JsError> {
        let request: JsRequest = parse("request", request).map_err(js_error)?;
        check(&self.engine, request, body)
            .map(|v| v.to_string())
            .map_err(js_error)
    }

    #[wasm_bindgen(js_name = whoCan)]
    pub fn who_can(&self, query: &str) -> Result<String, JsError> {
        let query: WhoCanQuery = parse("who-can query", query).map_err(js_error)?;
        who_can(&self.engine, &query)
            .map(|v| v.to_string())
            .map_err(js_error)
    }

    #[wasm_bindgen(js_name = whatCan)]
    pub fn what_can(&self, query: &str) -> Result<String, JsError> {
        let query: WhatCanQuery = parse("what-can query", query).map_err(js_error)?;
        what_can(&self.engine, &query).map_err(js_error)
    }

    #[wasm_bindgen(js_name = toolsList)]
    pub fn tools_list(&self, query: &str) -> Result<String, JsError> {
        let query: ToolsListQuery = parse("tools-list query", query).map_err(js_error)?;
        tools_list(&self.engine, query)
            .map(|v| v.to_string())
            .map_err(js_error)
    }

    /// `gatehouse inspect --json`.
    pub fn inspect(&self) -> Result<String, JsError> {
        Ok(inspect::inspect(&self.engine, true))
    }
}

/// `mintToken` of the package: `request` is a [`MintRequest`] as JSON.
#[wasm_bindgen(js_name = mintTokenJson)]
pub fn mint_token_json(key: &str, request: &str) -> Result<String, JsError> {
    let request: MintRequest = parse("token claims", request).map_err(js_error)?;
    mint(key, request).map_err(js_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Vec<SourceFile> {
        let root = gatehouse_testkit::repo_path("examples");
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        let mut files = vec![
            SourceFile {
                name: "acme/tenant.yaml".into(),
                text: read("acme/tenant.yaml"),
                kind: None,
            },
            SourceFile {
                name: "gateway.yaml".into(),
                text: read("gateway.yaml"),
                kind: None,
            },
        ];
        for key in ["acme-cp", "okta", "github-actions"] {
            files.push(SourceFile {
                name: format!("acme/keys/{key}.jwks.json"),
                text: read(&format!("acme/keys/{key}.jwks.json")),
                kind: None,
            });
        }
        files
    }

    #[test]
    fn kinds_from_names() {
        assert_eq!(Kind::of("gateway.yaml"), Kind::Gateway);
        assert_eq!(Kind::of("conf/gateway.json"), Kind::Gateway);
        assert_eq!(Kind::of("acme/tenant.yaml"), Kind::Tenant);
        assert_eq!(Kind::of("globex.json"), Kind::Tenant);
        assert_eq!(Kind::of("keys/acme-cp.jwks.json"), Kind::File);
        assert_eq!(Kind::of("keys/acme-cp.private.jwk.json"), Kind::File);
        assert_eq!(Kind::of("keys/README.md"), Kind::File);
    }

    #[test]
    fn compiles_and_decides_the_example_in_memory() {
        let bundle = compile(&CompileRequest {
            files: example(),
            revision: None,
            serial: 7,
        })
        .unwrap();
        let engine = load(bundle, &[]).unwrap();
        let request: JsRequest = serde_json::from_str(
            r#"{"method": "POST", "path": "/api/llm/v1/chat/completions",
                "as": "user:carol@acme.com", "now": "2026-12-01T00:00:00Z"}"#,
        )
        .unwrap();
        let answer = check(
            &engine,
            request,
            Some(br#"{"model":"openai-main/gpt-4o"}"#.to_vec()),
        )
        .unwrap();
        assert_eq!(answer["decision"], "allow");
        assert_eq!(answer["principal"], "user:carol@acme.com");
    }

    #[test]
    fn lists_the_tools_a_caller_may_call() {
        let bundle = compile(&CompileRequest {
            files: example(),
            revision: None,
            serial: 7,
        })
        .unwrap();
        let engine = load(bundle, &[]).unwrap();
        let query: ToolsListQuery = serde_json::from_str(
            r#"{"server": "github", "as": "user:carol@acme.com", "now": "2026-12-01T00:00:00Z"}"#,
        )
        .unwrap();
        let answer = tools_list(&engine, query).unwrap();
        assert_eq!(answer["list"]["allowed"], true);
        assert_eq!(
            answer["shown"],
            serde_json::json!(["create_issue", "list_pull_requests", "search_code"])
        );
        let disabled = answer["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "delete_repo")
            .unwrap();
        assert_eq!(disabled["reason"], "resource_disabled");
    }

    #[test]
    fn diagnostics_are_located() {
        let mut files = example();
        files[0].text = files[0]
            .text
            .replace("role: model-consumer}", "role: nope}");
        let found = compile(&CompileRequest {
            files,
            revision: None,
            serial: 1,
        })
        .unwrap_err();
        assert_eq!(found[0]["file"], "acme/tenant.yaml");
        assert!(found[0]["line"].as_u64().unwrap() > 1);
        let two_gateways = vec![example()[1].clone(), example()[1].clone()];
        let found = compile(&CompileRequest {
            files: two_gateways,
            revision: None,
            serial: 1,
        })
        .unwrap_err();
        assert_eq!(found[0]["message"], "more than one gateway file given");
    }
}
