//! Golden vectors (`tests/vectors/*/requests.json`, format in `tests/vectors/README.md`): every
//! case is decided by the engine in-process and by the real `gatehouse check` binary, and both
//! must give the expected answer — and the same answer.
//!
//! `GATEHOUSE_VECTOR=<name>` runs one vector; `GATEHOUSE_VECTORS_SKIP_KNOWN=1` skips cases marked
//! `known_issue` (by default they run, and fail while the issue is open).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_compiler::{cli, compile_paths, keys, CompileOptions};
use gatehouse_engine::route::Body;
use gatehouse_engine::{Engine, Identity, LoadOptions, Reason, Request};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const GATEHOUSE: &str = env!("CARGO_BIN_EXE_gatehouse");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the compiler crate lives in the workspace")
        .to_path_buf()
}

fn vectors_dir() -> PathBuf {
    repo_root().join("tests/vectors")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("vectors")
        .join(name);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

// ---------------------------------------------------------------------------------------------
// The file format.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    #[serde(default)]
    description: Option<String>,
    now: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    inputs: Option<Vec<String>>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    keys_dirs: Option<Vec<String>>,
    #[serde(default)]
    token_profiles: BTreeMap<String, Value>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    note: Option<String>,
    request: RequestSpec,
    #[serde(default)]
    token: Option<Value>,
    #[serde(default, rename = "as")]
    as_subject: Option<String>,
    expect: Map<String, Value>,
    #[serde(default)]
    known_issue: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestSpec {
    method: String,
    path: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    body_raw: Option<String>,
    #[serde(default)]
    body_pad_to: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSpec {
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    header: Map<String, Value>,
    #[serde(default)]
    claims: Map<String, Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    iat_in: Option<i64>,
    #[serde(default)]
    exp_in: Option<i64>,
    #[serde(default)]
    nbf_in: Option<i64>,
    #[serde(default)]
    omit: Vec<String>,
    #[serde(default)]
    tamper: Option<String>,
    #[serde(default)]
    source: Option<Value>,
}

/// Where the request carries its token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Header { name: String, prefix: String },
    Query(String),
    Cookie(String),
}

impl Source {
    fn parse(value: Option<&Value>) -> Result<Source, String> {
        let bearer = Source::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        };
        let Some(value) = value else {
            return Ok(bearer);
        };
        if value == "header" {
            return Ok(bearer);
        }
        let obj = value
            .as_object()
            .ok_or_else(|| format!("`source` {value} is neither \"header\" nor an object"))?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(name) = text("header") {
            let prefix = text("prefix").unwrap_or_default();
            if obj.keys().any(|k| k != "header" && k != "prefix") {
                return Err(format!("`source` {value} has unknown members"));
            }
            return Ok(Source::Header { name, prefix });
        }
        match (text("query"), text("cookie"), obj.len()) {
            (Some(q), None, 1) => Ok(Source::Query(q)),
            (None, Some(c), 1) => Ok(Source::Cookie(c)),
            _ => Err(format!(
                "`source` {value} is not one of header/query/cookie"
            )),
        }
    }

    fn is_bearer(&self) -> bool {
        matches!(self, Source::Header { name, prefix } if name == "authorization" && prefix == "Bearer ")
    }
}

// ---------------------------------------------------------------------------------------------
// Loading vectors.

struct Vector {
    name: String,
    dir: PathBuf,
    file: VectorFile,
    now: i64,
}

fn load_vectors() -> Vec<Vector> {
    let only = std::env::var("GATEHOUSE_VECTOR").ok();
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.join("requests.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("requests.json")).unwrap();
        let file: VectorFile = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("vector `{name}`: requests.json: {e}"));
        let now =
            cli::parse_time(&file.now).unwrap_or_else(|e| panic!("vector `{name}`: `now`: {e}"));
        let mut seen = BTreeSet::new();
        for case in &file.cases {
            assert!(
                seen.insert(case.name.as_str()),
                "vector `{name}`: duplicate case name `{}`",
                case.name
            );
        }
        out.push(Vector {
            name,
            dir,
            file,
            now,
        });
    }
    assert!(
        !out.is_empty(),
        "no vectors found (GATEHOUSE_VECTOR={only:?})"
    );
    out
}

impl Vector {
    fn inputs(&self) -> Vec<PathBuf> {
        if let Some(inputs) = &self.file.inputs {
            return inputs.iter().map(|p| self.dir.join(p)).collect();
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with("tenant")
                    && (name.ends_with(".yaml")
                        || name.ends_with(".yml")
                        || name.ends_with(".json"))
            })
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "vector `{}` has no tenant*.yaml",
            self.name
        );
        files
    }

    fn gateway(&self) -> Option<PathBuf> {
        match &self.file.gateway {
            Some(g) => Some(self.dir.join(g)),
            None => Some(self.dir.join("gateway.yaml")).filter(|p| p.is_file()),
        }
    }

    fn private_key(&self, name: &str) -> Result<String, String> {
        let dirs = self
            .file
            .keys_dirs
            .clone()
            .unwrap_or_else(|| vec!["../keys".to_owned()]);
        for d in &dirs {
            let path = self.dir.join(d).join(format!("{name}.private.jwk.json"));
            if path.is_file() {
                return std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()));
            }
        }
        Err(format!("no key `{name}.private.jwk.json` in {dirs:?}"))
    }

    /// Compiles with the library and with `gatehouse compile`; the bundles must be identical
    /// (SPEC 4: deterministic). Returns the bytes and the path of the bundle file.
    fn compile(&self) -> (Vec<u8>, PathBuf) {
        let options = CompileOptions {
            gateway: self.gateway(),
            inputs: self.inputs(),
            revision: Some(format!("vector-{}", self.name)),
        };
        let policy = compile_paths(&options).unwrap_or_else(|e| {
            panic!("vector `{}` does not compile: {}", self.name, describe(&e))
        });
        let bytes = gatehouse_engine::bundle::encode(&policy, None)
            .unwrap_or_else(|e| panic!("vector `{}`: encode: {e}", self.name));

        let path = scratch_dir(&self.name).join("bundle");
        let mut cmd = Command::new(GATEHOUSE);
        cmd.arg("compile");
        if let Some(g) = &options.gateway {
            cmd.arg("--gateway").arg(g);
        }
        cmd.args(&options.inputs)
            .arg("-o")
            .arg(&path)
            .arg("--revision")
            .arg(format!("vector-{}", self.name));
        let out = cmd.output().expect("run gatehouse compile");
        assert!(
            out.status.success(),
            "vector `{}`: gatehouse compile failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let from_cli = std::fs::read(&path).unwrap();
        assert!(
            from_cli == bytes,
            "vector `{}`: `gatehouse compile` and the library wrote different bundles",
            self.name
        );
        (bytes, path)
    }
}

fn describe(e: &gatehouse_compiler::CompileError) -> String {
    match e {
        gatehouse_compiler::CompileError::Invalid(ds) => {
            ds.iter().map(|d| format!("\n  {d}")).collect::<String>()
        }
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Building a request from a case: the transport-neutral form every consumer shares.

#[derive(Debug)]
struct HttpRequest {
    host: String,
    method: String,
    /// With the query string.
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// `--as`: no HTTP equivalent.
    as_subject: Option<String>,
    /// The token, when it travels as `Authorization: Bearer` (the CLI passes it with `--token`).
    bearer: Option<String>,
}

fn build_request(vector: &Vector, case: &Case) -> Result<HttpRequest, String> {
    let spec = &case.request;
    let host = spec
        .host
        .clone()
        .or_else(|| vector.file.host.clone())
        .ok_or("no `host` in the request nor in the file")?;
    let mut headers: Vec<(String, String)> = spec
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut path = spec.path.clone();
    let body = body_bytes(spec)?;

    if case.token.is_some() && case.as_subject.is_some() {
        return Err("a case has `token` or `as`, not both".into());
    }
    let mut bearer = None;
    if let Some(token) = &case.token {
        let (token_text, source) = mint(vector, token)?;
        match source {
            s if s.is_bearer() => {
                headers.push(("authorization".into(), format!("Bearer {token_text}")));
                bearer = Some(token_text);
            }
            Source::Header { name, prefix } => {
                headers.push((name, format!("{prefix}{token_text}")))
            }
            Source::Query(name) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                path = format!("{path}{sep}{name}={token_text}");
            }
            Source::Cookie(name) => {
                let cookie = format!("{name}={token_text}");
                match headers
                    .iter_mut()
                    .find(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                {
                    Some((_, v)) => *v = format!("{v}; {cookie}"),
                    None => headers.push(("cookie".into(), cookie)),
                }
            }
        }
    }
    Ok(HttpRequest {
        host,
        method: spec.method.clone(),
        path,
        headers,
        body,
        as_subject: case.as_subject.clone(),
        bearer,
    })
}

fn body_bytes(spec: &RequestSpec) -> Result<Option<Vec<u8>>, String> {
    match (&spec.body, &spec.body_raw, spec.body_pad_to) {
        (None, None, None) => Ok(None),
        (Some(_), Some(_), _) => Err("`body` and `body_raw` are exclusive".into()),
        (None, Some(raw), None) => Ok(Some(raw.clone().into_bytes())),
        (Some(body), None, None) => Ok(Some(serde_json::to_vec(body).unwrap())),
        (Some(Value::Object(body)), None, Some(size)) => {
            let mut body = body.clone();
            body.insert("_pad".into(), json!(""));
            let base = serde_json::to_vec(&body).unwrap().len();
            let fill = size.checked_sub(base).ok_or_else(|| {
                format!("`body_pad_to` {size} is below the body's own {base} bytes")
            })?;
            body.insert("_pad".into(), json!("x".repeat(fill)));
            let bytes = serde_json::to_vec(&body).unwrap();
            assert_eq!(bytes.len(), size);
            Ok(Some(bytes))
        }
        _ => Err("`body_pad_to` needs an object `body`".into()),
    }
}

/// The token text and where it goes.
fn mint(vector: &Vector, token: &Value) -> Result<(String, Source), String> {
    let merged = merge_profile(vector, token)?;
    let spec: TokenSpec =
        serde_json::from_value(Value::Object(merged)).map_err(|e| format!("`token`: {e}"))?;
    let source = Source::parse(spec.source.as_ref())?;
    if let Some(raw) = &spec.raw {
        if spec.key.is_some() || !spec.claims.is_empty() || spec.tamper.is_some() {
            return Err("a raw token takes only `source`".into());
        }
        return Ok((raw.clone(), source));
    }
    let key_name = spec.key.as_deref().ok_or("a minted token needs `key`")?;
    let key = vector.private_key(key_name)?;
    let now = vector.now;
    let mut claims = spec.claims.clone();
    let time = |abs: &Option<Value>,
                rel: Option<i64>,
                default: Option<i64>|
     -> Result<Option<i64>, String> {
        match (abs, rel) {
            (Some(_), Some(_)) => Err("give a time claim as absolute or relative, not both".into()),
            (Some(Value::Number(n)), None) => {
                n.as_i64().map(Some).ok_or_else(|| format!("bad time {n}"))
            }
            (Some(Value::String(s)), None) => {
                cli::parse_time(s).map(Some).map_err(|e| e.to_string())
            }
            (Some(other), None) => Err(format!("bad time {other}")),
            (None, Some(rel)) => Ok(Some(now + rel)),
            (None, None) => Ok(default.map(|d| now + d)),
        }
    };
    for (name, value) in [
        ("iat", time(&spec.iat, spec.iat_in, Some(0))?),
        ("exp", time(&spec.exp, spec.exp_in, Some(3600))?),
        ("nbf", time(&spec.nbf, spec.nbf_in, None)?),
    ] {
        if let Some(value) = value {
            claims.entry(name).or_insert(json!(value));
        }
    }
    for name in &spec.omit {
        claims.remove(name);
    }
    let jws = keys::sign_jws(
        &key,
        spec.alg.as_deref(),
        &spec.header,
        &Value::Object(claims),
    )
    .map_err(|e| format!("sign_jws: {e}"))?;
    let jws = match spec.tamper.as_deref() {
        None => jws,
        Some(how) => tamper(&jws, how)?,
    };
    Ok((jws, source))
}

fn merge_profile(vector: &Vector, token: &Value) -> Result<Map<String, Value>, String> {
    let case = token.as_object().ok_or("`token` is not an object")?;
    let Some(profile_name) = case.get("profile") else {
        return Ok(case.clone());
    };
    let profile_name = profile_name.as_str().ok_or("`profile` is not a string")?;
    let mut merged = vector
        .file
        .token_profiles
        .get(profile_name)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| format!("no token profile `{profile_name}`"))?;
    for (k, v) in case {
        match k.as_str() {
            "profile" => {}
            "claims" | "header" => {
                let target = merged
                    .entry(k.clone())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .ok_or_else(|| format!("profile `{k}` is not an object"))?;
                for (ck, cv) in v
                    .as_object()
                    .ok_or_else(|| format!("`{k}` is not an object"))?
                {
                    target.insert(ck.clone(), cv.clone());
                }
            }
            "omit" => {
                let target = merged.entry("omit").or_insert_with(|| json!([]));
                let list = target
                    .as_array_mut()
                    .ok_or("profile `omit` is not a list")?;
                list.extend(v.as_array().ok_or("`omit` is not a list")?.iter().cloned());
            }
            _ => {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(merged)
}

fn tamper(jws: &str, how: &str) -> Result<String, String> {
    let (input, signature) = jws.rsplit_once('.').ok_or("not a JWS")?;
    match how {
        "strip_signature" => Ok(format!("{input}.")),
        "corrupt_signature" => {
            let mut sig: Vec<u8> = URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|e| e.to_string())?;
            let first = sig.first_mut().ok_or("empty signature")?;
            *first ^= 0x01;
            Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig)))
        }
        other => Err(format!("unknown `tamper` `{other}`")),
    }
}

// ---------------------------------------------------------------------------------------------
// Deciding: the engine in-process, and `gatehouse check`.

fn decide_engine(engine: &Engine, req: &HttpRequest, now: i64) -> Value {
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let max = engine.bundle().gateway().max_body_bytes as usize;
    let body = match &req.body {
        None => Body::Absent,
        Some(b) if b.len() > max => Body::TooLarge,
        Some(b) => Body::Bytes(b),
    };
    let request = Request {
        authority: &req.host,
        method: &req.method,
        path: &req.path,
        headers: &headers,
        body,
    };
    let identity = match &req.as_subject {
        Some(s) => Identity::Subject(s),
        None => Identity::Token,
    };
    gatehouse_compiler::cli::outcome_json(&engine.decide(&request, identity, now))
}

/// Runs `gatehouse check --json`; returns the parsed output and the exit code.
fn decide_cli(
    bundle: &Path,
    req: &HttpRequest,
    now: &str,
    scratch: &Path,
) -> Result<(Value, i32), String> {
    let mut cmd = Command::new(GATEHOUSE);
    cmd.arg("check")
        .arg("--bundle")
        .arg(bundle)
        .arg("--json")
        .arg("--now")
        .arg(now)
        .arg("--host")
        .arg(&req.host)
        .arg("--method")
        .arg(&req.method)
        .arg(format!("--path={}", req.path));
    for (name, value) in &req.headers {
        if req.bearer.is_some() && name == "authorization" && value.starts_with("Bearer ") {
            continue;
        }
        cmd.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some(token) = &req.bearer {
        cmd.arg(format!("--token={token}"));
    }
    if let Some(subject) = &req.as_subject {
        cmd.arg(format!("--as={subject}"));
    }
    match &req.body {
        None => {}
        Some(body) if body.len() <= 4096 && std::str::from_utf8(body).is_ok() => {
            cmd.arg(format!("--body={}", std::str::from_utf8(body).unwrap()));
        }
        Some(body) => {
            let path = scratch.join("body");
            std::fs::write(&path, body).map_err(|e| e.to_string())?;
            cmd.arg("--body-file").arg(path);
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().map_err(|e| e.to_string())?;
    let code = status.code().ok_or("gatehouse check was killed")?;
    let value: Value = serde_json::from_slice(&stdout).map_err(|e| {
        format!(
            "exit {code}, stdout is not JSON ({e}): {:?}; stderr: {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    })?;
    Ok((value, code))
}

/// The expected fields that `actual` gets wrong, as `field: expected X, got Y`.
fn mismatches(expect: &Map<String, Value>, actual: &Value) -> Vec<String> {
    expect
        .iter()
        .filter_map(|(k, want)| {
            let got = actual.get(k).unwrap_or(&Value::Null);
            (got != want).then(|| format!("{k}: expected {want}, got {got}"))
        })
        .collect()
}

const FIELDS: [&str; 9] = [
    "decision",
    "status",
    "reason",
    "tenant",
    "principal",
    "route",
    "resource",
    "action",
    "grant",
];

#[test]
fn golden_vectors() {
    let skip_known = std::env::var_os("GATEHOUSE_VECTORS_SKIP_KNOWN").is_some();
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut skipped = 0;
    for vector in load_vectors() {
        let (bytes, bundle_path) = vector.compile();
        let engine = Engine::load(bytes, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("vector `{}`: load: {e}", vector.name));
        let scratch = scratch_dir(&vector.name);
        if let Some(d) = &vector.file.description {
            eprintln!("vector {}: {d}", vector.name);
        }
        for case in &vector.file.cases {
            let label = format!("[{} / {}]", vector.name, case.name);
            if let Some(unknown) = case.expect.keys().find(|k| !FIELDS.contains(&k.as_str())) {
                failures.push(format!("{label} unknown expect field `{unknown}`"));
                continue;
            }
            if let Some(issue) = &case.known_issue {
                if skip_known {
                    eprintln!("skipping {label}: known issue: {issue}");
                    skipped += 1;
                    continue;
                }
            }
            ran += 1;
            let req = match build_request(&vector, case) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{label} bad case: {e}"));
                    continue;
                }
            };
            let mut known = case
                .known_issue
                .as_ref()
                .map(|i| format!(" (known issue: {i})"))
                .unwrap_or_default();
            if let Some(note) = &case.note {
                known.push_str(&format!(" (note: {note})"));
            }

            let engine_answer = decide_engine(&engine, &req, vector.now);
            let wrong = mismatches(&case.expect, &engine_answer);
            if !wrong.is_empty() {
                failures.push(format!(
                    "{label} engine: {}{known}; full answer {engine_answer}",
                    wrong.join(", ")
                ));
            }

            match decide_cli(&bundle_path, &req, &vector.file.now, &scratch) {
                Err(e) => failures.push(format!("{label} gatehouse check: {e}")),
                Ok((cli_answer, code)) => {
                    let wrong = mismatches(&case.expect, &cli_answer);
                    if !wrong.is_empty() {
                        failures.push(format!(
                            "{label} gatehouse check: {}{known}",
                            wrong.join(", ")
                        ));
                    }
                    let want_code = if cli_answer["decision"] == "allow" {
                        0
                    } else {
                        2
                    };
                    if code != want_code {
                        failures.push(format!(
                            "{label} gatehouse check: exit {code} for {}",
                            cli_answer["decision"]
                        ));
                    }
                    if cli_answer != engine_answer {
                        failures.push(format!(
                            "{label} engine and gatehouse check disagree:\n    engine {engine_answer}\n    cli    {cli_answer}"
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "golden vectors: {ran} cases run, {skipped} skipped, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} golden vector failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every reason code of SPEC 3.3 is exercised by at least one case, and every case states the
/// decision, status and reason, consistently with each other.
#[test]
fn vectors_cover_every_reason_code() {
    if std::env::var_os("GATEHOUSE_VECTOR").is_some() {
        return;
    }
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for vector in load_vectors() {
        for case in &vector.file.cases {
            let label = format!("[{} / {}]", vector.name, case.name);
            let (Some(decision), Some(status), Some(reason)) = (
                case.expect.get("decision"),
                case.expect.get("status"),
                case.expect.get("reason"),
            ) else {
                problems.push(format!("{label} must expect decision, status and reason"));
                continue;
            };
            match (decision.as_str(), reason) {
                (Some("allow"), Value::Null) if status == 200 => {}
                (Some("deny"), Value::String(code)) => match Reason::from_code(code) {
                    Some(r) if json!(r.status()) == *status => {
                        seen.insert(r.code());
                    }
                    Some(r) => problems.push(format!(
                        "{label} `{code}` is status {}, not {status}",
                        r.status()
                    )),
                    None => problems.push(format!("{label} unknown reason `{code}`")),
                },
                _ => problems.push(format!("{label} inconsistent decision/status/reason")),
            }
        }
    }
    let missing: Vec<&str> = Reason::ALL
        .iter()
        .map(|r| r.code())
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(missing.is_empty(), "no vector expects: {missing:?}");
}

// ---------------------------------------------------------------------------------------------
// The examples and the CLI's error exits.

#[test]
fn examples_compile() {
    let root = repo_root();
    let options = CompileOptions {
        gateway: Some(root.join("examples/gateway.yaml")),
        inputs: vec![root.join("examples/acme"), root.join("examples/globex")],
        revision: None,
    };
    let policy = compile_paths(&options).unwrap_or_else(|e| panic!("examples: {}", describe(&e)));
    let names: Vec<&str> = policy.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["acme", "globex"]);
    let acme = &policy.tenants[0];
    assert!(
        acme.users.len() >= 30,
        "acme has {} users",
        acme.users.len()
    );
    assert!(acme.users.iter().filter(|u| !u.active).count() >= 2);
    assert!(acme.teams.len() >= 5);
    assert!(acme.virtual_accounts.len() >= 3);
    assert_eq!(acme.identity_providers.len(), 2);
    let routes: Vec<&str> = policy
        .gateway
        .routes
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    for r in [
        "health",
        "chat",
        "embeddings",
        "completions",
        "mcp",
        "prompts",
    ] {
        assert!(
            routes.contains(&r),
            "examples/gateway.yaml lacks route `{r}`"
        );
    }
    let bytes = gatehouse_engine::bundle::encode(&policy, None).unwrap();
    // Deterministic: compiling again gives the same bytes.
    let again = gatehouse_engine::bundle::encode(&compile_paths(&options).unwrap(), None).unwrap();
    assert_eq!(bytes, again);
    Engine::load(bytes, &LoadOptions::default()).unwrap();

    // Each tenant also compiles on its own, with the built-in routes.
    for tenant in ["examples/acme", "examples/globex/tenant.yaml"] {
        let options = CompileOptions {
            gateway: None,
            inputs: vec![root.join(tenant)],
            revision: None,
        };
        compile_paths(&options).unwrap_or_else(|e| panic!("{tenant}: {}", describe(&e)));
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(GATEHOUSE)
        .args(args)
        .output()
        .expect("run gatehouse")
}

#[test]
fn cli_exits_1_on_an_unreadable_or_corrupt_bundle() {
    let dir = scratch_dir("cli-errors");
    let missing = dir.join("does-not-exist.bundle");
    let corrupt = dir.join("corrupt.bundle");
    std::fs::write(&corrupt, b"this is not a gatehouse bundle").unwrap();
    for bundle in [&missing, &corrupt] {
        let bundle = bundle.to_str().unwrap();
        let out = run(&[
            "check",
            "--bundle",
            bundle,
            "--host",
            "acme.gw.example.com",
            "--method",
            "GET",
            "--path",
            "/healthz",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "check --bundle {bundle}");
        assert!(out.stdout.is_empty(), "no decision is printed on error");
        assert!(!out.stderr.is_empty(), "the error goes to stderr");
        let out = run(&["inspect", bundle]);
        assert_eq!(out.status.code(), Some(1), "inspect {bundle}");
    }
}

#[test]
fn cli_exits_1_on_a_bad_tenant_file() {
    let dir = scratch_dir("cli-bad-tenant");
    let tenant = dir.join("bad-tenant.yaml");
    std::fs::write(
        &tenant,
        "tenant:\n  name: acme\n  issuer: https://acme.cp.example.com\n  jwks: {keys: []}\n  colour: blue\n\
         users:\n  - {email: alice@acme.com, role: no-such-role}\n",
    )
    .unwrap();
    let output = dir.join("never.bundle");
    let _ = std::fs::remove_file(&output);
    let out = run(&[
        "compile",
        tenant.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad-tenant.yaml"),
        "the error names the file: {stderr}"
    );
    assert!(
        stderr.contains("colour"),
        "the unknown field is reported: {stderr}"
    );
    assert!(
        !output.exists(),
        "no bundle is written when compilation fails"
    );

    let out = run(&[
        "compile",
        dir.join("missing.yaml").to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// SPEC 5: 0 allow, 2 deny, 1 error. A usage error is bad input: it must not exit 2, which a
/// script would read as "denied".
#[test]
fn cli_exits_1_on_bad_arguments() {
    let root = repo_root();
    let dir = scratch_dir("cli-bad-args");
    let bundle = dir.join("examples.bundle");
    let out = run(&[
        "compile",
        "--gateway",
        root.join("examples/gateway.yaml").to_str().unwrap(),
        root.join("examples/acme").to_str().unwrap(),
        root.join("examples/globex").to_str().unwrap(),
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = bundle.to_str().unwrap();
    let cases: [&[&str]; 5] = [
        // Several tenants and no --host.
        &[
            "check", "--bundle", bundle, "--method", "GET", "--path", "/healthz",
        ],
        &[
            "check",
            "--bundle",
            bundle,
            "--host",
            "localhost",
            "--method",
            "GET",
            "--path",
            "/healthz",
            "--now",
            "yesterday",
        ],
        // Usage errors (clap exits 2 unless told otherwise).
        &[
            "check",
            "--bundle",
            bundle,
            "--host",
            "localhost",
            "--method",
            "GET",
        ],
        &[
            "check",
            "--bundle",
            bundle,
            "--host",
            "localhost",
            "--method",
            "GET",
            "--path",
            "/",
            "--as",
            "user:a@acme.com",
            "--token",
            "x.y.z",
        ],
        &["no-such-subcommand"],
    ];
    for args in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "gatehouse {}", args.join(" "));
        assert!(
            out.stdout.is_empty(),
            "gatehouse {}: nothing on stdout",
            args.join(" ")
        );
    }
}
