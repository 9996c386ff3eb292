//! Golden vectors: the case model shared by every consumer of `tests/vectors/*/requests.json`
//! (format in `tests/vectors/README.md`).
//!
//! A [`Vector`] is one directory: tenant files, an optional gateway file, `requests.json`, and the
//! private keys its tokens are minted with. [`Vector::request`] turns a [`Case`] into a
//! transport-neutral [`CaseRequest`] — method, path (with the query string), host, headers (the
//! minted token already in its configured source), body bytes — which the engine in-process
//! ([`CaseRequest::decide`]), `gatehouse check` and a real Envoy all replay, comparing the answer
//! with [`Case::expect`] ([`mismatches`]).
//!
//! Nothing here panics: a malformed vector is a [`VectorError`] naming what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_engine::model::TokenSource;
use gatehouse_engine::route::Body;
use gatehouse_engine::{Engine, Identity, Request};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use gatehouse_compiler::CompileOptions;
use gatehouse_deploy::keys;
use gatehouse_review::check::{checked_json, Checked};
use gatehouse_review::clock::parse_time;

/// What is wrong with a vector or one of its cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VectorError(pub String);

impl From<String> for VectorError {
    fn from(message: String) -> Self {
        VectorError(message)
    }
}

impl From<&str> for VectorError {
    fn from(message: &str) -> Self {
        VectorError(message.to_owned())
    }
}

/// The fields of `gatehouse check --json` a case may expect.
pub const EXPECT_FIELDS: [&str; 12] = [
    "decision",
    "status",
    "reason",
    "tenant",
    "principal",
    "route",
    "resource",
    "action",
    "grant",
    "credential",
    // The `WWW-Authenticate` header of a denial (`null`: none).
    "www_authenticate",
    // The metadata document served instead of a decision (`decision: "respond"`).
    "document",
];

// ---------------------------------------------------------------------------------------------
// The file format.

/// `requests.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    #[serde(default)]
    pub description: Option<String>,
    /// The clock of every case, RFC 3339.
    pub now: String,
    /// Other times (RFC 3339) at which every case not marked `now_only` must give the same
    /// answer: the cases claim to hold from `now` until the latest of them.
    #[serde(default)]
    pub also_at: Vec<String>,
    /// The default `request.host`.
    #[serde(default)]
    pub host: Option<String>,
    /// What is compiled instead of the directory's `tenant*` files (relative to the directory).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    /// The gateway file (relative to the directory); default `gateway.yaml` when present.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Where `token.key` names are looked up; default `["../keys"]`.
    #[serde(default)]
    pub keys_dirs: Option<Vec<String>>,
    #[serde(default)]
    pub token_profiles: BTreeMap<String, Value>,
    pub cases: Vec<Case>,
}

/// One case of `requests.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique within the file.
    pub name: String,
    /// What class of input the case belongs to (the adversarial vector requires every class).
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// The answer holds only at `now` (e.g. a clock-skew edge): not checked at `also_at`.
    #[serde(default)]
    pub now_only: bool,
    pub request: RequestSpec,
    /// The token the request carries (see the README: raw or minted, `profile`, `source`).
    #[serde(default)]
    pub token: Option<Value>,
    /// Decide for this subject without a token; no HTTP equivalent.
    #[serde(default, rename = "as")]
    pub as_subject: Option<String>,
    /// Expected fields of `gatehouse check --json` ([`EXPECT_FIELDS`]).
    pub expect: Map<String, Value>,
    /// Members that replace `expect`'s for an HTTP replay, where HTTP itself changes the request
    /// before any filter sees it (a proxy trims header values).
    #[serde(default)]
    pub expect_http: Map<String, Value>,
    /// The expectation follows the SPEC but the implementation does not (yet).
    #[serde(default)]
    pub known_issue: Option<String>,
}

/// `case.request`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub method: String,
    /// With the query string.
    pub path: String,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Headers sent after `headers`, in order, repeats allowed (`[[name, value], ...]`).
    #[serde(default)]
    pub header_list: Vec<(String, String)>,
    /// A body goes with `content-type: application/json` unless `headers` names a Content-Type
    /// or this is set (as `gatehouse check --body` does).
    #[serde(default)]
    pub no_content_type: bool,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub body_raw: Option<String>,
    #[serde(default)]
    pub body_pad_to: Option<usize>,
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

/// A case's `token.source`: `"header"` or absent is `authorization: Bearer`; else
/// `{"header", "prefix"}`, `{"query"}` or `{"cookie"}` — the gateway file's token sources.
fn parse_source(value: Option<&Value>) -> Result<TokenSource, VectorError> {
    let Some(value) = value else {
        return Ok(TokenSource::bearer());
    };
    if value == "header" {
        return Ok(TokenSource::bearer());
    }
    let obj = value
        .as_object()
        .ok_or_else(|| format!("`source` {value} is neither \"header\" nor an object"))?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(name) = text("header") {
        let prefix = text("prefix").unwrap_or_default();
        if obj.keys().any(|k| k != "header" && k != "prefix") {
            return Err(format!("`source` {value} has unknown members").into());
        }
        return Ok(TokenSource::Header { name, prefix });
    }
    match (text("query"), text("cookie"), obj.len()) {
        (Some(name), None, 1) => Ok(TokenSource::Query { name }),
        (None, Some(name), 1) => Ok(TokenSource::Cookie { name }),
        _ => Err(format!("`source` {value} is not one of header/query/cookie").into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Loading vectors.

/// One vector directory, parsed.
#[derive(Debug, Clone)]
pub struct Vector {
    /// The directory's name.
    pub name: String,
    pub dir: PathBuf,
    pub file: VectorFile,
    /// `file.now` in Unix seconds.
    pub now: i64,
    /// `file.also_at` in Unix seconds.
    pub also_at: Vec<i64>,
}

/// Every vector under `root` (each subdirectory with a `requests.json`), in name order.
pub fn load_all(root: &Path) -> Result<Vec<Vector>, VectorError> {
    let entries =
        std::fs::read_dir(root).map_err(|e| format!("reading {}: {e}", root.display()))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", root.display()))?
            .path();
        if path.join("requests.json").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    dirs.iter().map(|dir| Vector::load(dir)).collect()
}

impl Vector {
    /// Parse `dir/requests.json`; case names must be unique.
    pub fn load(dir: &Path) -> Result<Vector, VectorError> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{} is not a vector directory", dir.display()))?;
        let path = dir.join("requests.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("vector `{name}`: {}: {e}", path.display()))?;
        let file: VectorFile = serde_json::from_str(&text)
            .map_err(|e| format!("vector `{name}`: requests.json: {e}"))?;
        let now = parse_time(&file.now).map_err(|e| format!("vector `{name}`: `now`: {e}"))?;
        let also_at = file
            .also_at
            .iter()
            .map(|t| parse_time(t).map_err(|e| format!("vector `{name}`: `also_at`: {e}")))
            .collect::<Result<Vec<i64>, String>>()?;
        let mut seen = BTreeSet::new();
        for case in &file.cases {
            if !seen.insert(case.name.as_str()) {
                return Err(format!("vector `{name}`: duplicate case name `{}`", case.name).into());
            }
        }
        Ok(Vector {
            name,
            dir: dir.to_path_buf(),
            file,
            now,
            also_at,
        })
    }

    /// The tenant files compiled: `inputs` (relative to the directory), else every
    /// `tenant*.{yaml,yml,json}` of the directory in sorted order.
    pub fn inputs(&self) -> Result<Vec<PathBuf>, VectorError> {
        if let Some(inputs) = &self.file.inputs {
            return Ok(inputs.iter().map(|p| self.dir.join(p)).collect());
        }
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("reading {}: {e}", self.dir.display()))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", self.dir.display()))?
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with("tenant")
                && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
            {
                files.push(path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(format!("vector `{}` has no tenant*.yaml", self.name).into());
        }
        Ok(files)
    }

    /// The gateway file: `gateway` (relative to the directory), else `gateway.yaml` if present.
    pub fn gateway(&self) -> Option<PathBuf> {
        match &self.file.gateway {
            Some(g) => Some(self.dir.join(g)),
            None => Some(self.dir.join("gateway.yaml")).filter(|p| p.is_file()),
        }
    }

    /// The bundle revision of this vector, `vector-<name>`.
    pub fn revision(&self) -> String {
        format!("vector-{}", self.name)
    }

    /// The bundle serial of every vector: fixed, so that the library and `gatehouse compile
    /// --serial` write the same bytes.
    pub fn serial(&self) -> u64 {
        1
    }

    /// What `gatehouse compile` is given for this vector.
    pub fn compile_options(&self) -> Result<CompileOptions, VectorError> {
        Ok(CompileOptions {
            gateway: self.gateway(),
            inputs: self.inputs()?,
            revision: Some(self.revision()),
            serial: self.serial(),
        })
    }

    /// The private JWK `<keys_dir>/<name>.private.jwk.json`, from the first of `keys_dirs` that
    /// has it.
    pub fn private_key(&self, name: &str) -> Result<String, VectorError> {
        let default = ["../keys".to_owned()];
        let dirs = self.file.keys_dirs.as_deref().unwrap_or(&default);
        for d in dirs {
            let path = self.dir.join(d).join(format!("{name}.private.jwk.json"));
            if path.is_file() {
                return std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()).into());
            }
        }
        Err(format!("no key `{name}.private.jwk.json` in {dirs:?}").into())
    }

    /// The request of `case`, its token minted and placed in its source.
    pub fn request(&self, case: &Case) -> Result<CaseRequest, VectorError> {
        let spec = &case.request;
        let host = spec
            .host
            .clone()
            .or_else(|| self.file.host.clone())
            .ok_or("no `host` in the request nor in the file")?;
        let mut headers: Vec<(String, String)> = spec
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(spec.header_list.iter().cloned())
            .collect();
        let mut path = spec.path.clone();
        let body = body_bytes(spec)?;
        if body.is_some()
            && !spec.no_content_type
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }

        if case.token.is_some() && case.as_subject.is_some() {
            return Err("a case has `token` or `as`, not both".into());
        }
        let mut bearer = None;
        if let Some(token) = &case.token {
            let (token_text, source) = self.mint(token)?;
            match source {
                s if s.is_bearer() => {
                    headers.push(("authorization".into(), format!("Bearer {token_text}")));
                    bearer = Some(token_text);
                }
                TokenSource::Header { name, prefix } => {
                    headers.push((name, format!("{prefix}{token_text}")));
                }
                TokenSource::Query { name } => {
                    let sep = if path.contains('?') { '&' } else { '?' };
                    path = format!("{path}{sep}{name}={token_text}");
                }
                TokenSource::Cookie { name } => {
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
        Ok(CaseRequest {
            host,
            method: spec.method.clone(),
            path,
            headers,
            body,
            as_subject: case.as_subject.clone(),
            bearer,
            no_content_type: spec.no_content_type,
        })
    }

    /// The token text and where it goes.
    fn mint(&self, token: &Value) -> Result<(String, TokenSource), VectorError> {
        let merged = self.merge_profile(token)?;
        let spec: TokenSpec =
            serde_json::from_value(Value::Object(merged)).map_err(|e| format!("`token`: {e}"))?;
        let source = parse_source(spec.source.as_ref())?;
        if let Some(raw) = &spec.raw {
            if spec.key.is_some() || !spec.claims.is_empty() || spec.tamper.is_some() {
                return Err("a raw token takes only `source`".into());
            }
            return Ok((raw.clone(), source));
        }
        let key_name = spec.key.as_deref().ok_or("a minted token needs `key`")?;
        let key = self.private_key(key_name)?;
        let now = self.now;
        let mut claims = spec.claims.clone();
        let time = |abs: &Option<Value>,
                    rel: Option<i64>,
                    default: Option<i64>|
         -> Result<Option<i64>, VectorError> {
            match (abs, rel) {
                (Some(_), Some(_)) => {
                    Err("give a time claim as absolute or relative, not both".into())
                }
                (Some(Value::Number(n)), None) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| format!("bad time {n}").into()),
                (Some(Value::String(s)), None) => {
                    parse_time(s).map(Some).map_err(|e| e.to_string().into())
                }
                (Some(other), None) => Err(format!("bad time {other}").into()),
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

    /// The case's token over its profile: members replace the profile's, except `claims` and
    /// `header` (merged member by member) and `omit` (the union).
    fn merge_profile(&self, token: &Value) -> Result<Map<String, Value>, VectorError> {
        let case = token.as_object().ok_or("`token` is not an object")?;
        let Some(profile_name) = case.get("profile") else {
            return Ok(case.clone());
        };
        let profile_name = profile_name.as_str().ok_or("`profile` is not a string")?;
        let mut merged = self
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
}

impl Case {
    /// An `expect` or `expect_http` member that is not a field of `gatehouse check --json`, if
    /// any.
    pub fn unknown_expect_field(&self) -> Option<&str> {
        self.expect
            .keys()
            .chain(self.expect_http.keys())
            .map(String::as_str)
            .find(|k| !EXPECT_FIELDS.contains(k))
    }

    /// The expected value of `field` (`None` when not expected; `Some(Null)` when expected null).
    pub fn expected(&self, field: &str) -> Option<&Value> {
        self.expect.get(field)
    }

    /// What an HTTP replay expects: `expect` with `expect_http`'s members over it.
    pub fn expect_over_http(&self) -> Map<String, Value> {
        let mut expect = self.expect.clone();
        expect.extend(self.expect_http.clone());
        expect
    }
}

// ---------------------------------------------------------------------------------------------
// The transport-neutral request.

/// A case's request as it goes on the wire (or to the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRequest {
    /// `:authority` / `host`, with a port when the case gives one.
    pub host: String,
    pub method: String,
    /// With the query string (a query-parameter token included).
    pub path: String,
    /// In order, names as written; the token's header or cookie included.
    pub headers: Vec<(String, String)>,
    /// `None`: no body at all.
    pub body: Option<Vec<u8>>,
    /// `as`: decide for this subject without a token — no HTTP equivalent.
    pub as_subject: Option<String>,
    /// The token, when it travels as `authorization: Bearer` (also among `headers`; the CLI
    /// passes it with `--token`).
    pub bearer: Option<String>,
    /// A body without a Content-Type (the CLI's `--no-content-type`).
    pub no_content_type: bool,
}

impl CaseRequest {
    /// Whether the request can be sent over HTTP (`as` cases cannot).
    pub fn is_http(&self) -> bool {
        self.as_subject.is_none()
    }

    /// Decide in-process, as the filter does (a body over `max_body_bytes` is
    /// [`Body::TooLarge`]), and render the answer as `gatehouse check --json` does.
    pub fn decide(&self, engine: &Engine, now: i64) -> Value {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let max = usize::try_from(engine.bundle().gateway().max_body_bytes).unwrap_or(usize::MAX);
        let body = match &self.body {
            None => Body::Absent,
            Some(b) if b.len() > max => Body::TooLarge,
            Some(b) => Body::Bytes(b),
        };
        let request = Request {
            authority: &self.host,
            method: &self.method,
            path: &self.path,
            headers: &headers,
            body,
        };
        let identity = match &self.as_subject {
            Some(s) => Identity::Subject(s),
            None => Identity::Token,
        };
        let (outcome, explanation) = engine.explain(&request, identity, now);
        checked_json(&Checked::of(engine, &request, outcome, explanation))
    }
}

/// The comparison `gatehouse test` makes too.
pub use gatehouse_review::test::mismatches;

fn body_bytes(spec: &RequestSpec) -> Result<Option<Vec<u8>>, VectorError> {
    let encode = |v: &Value| serde_json::to_vec(v).map_err(|e| format!("`body`: {e}"));
    match (&spec.body, &spec.body_raw, spec.body_pad_to) {
        (None, None, None) => Ok(None),
        (Some(_), Some(_), _) => Err("`body` and `body_raw` are exclusive".into()),
        (None, Some(raw), None) => Ok(Some(raw.clone().into_bytes())),
        (Some(body), None, None) => Ok(Some(encode(body)?)),
        (Some(Value::Object(body)), None, Some(size)) => {
            let mut body = body.clone();
            body.insert("_pad".into(), json!(""));
            let base = encode(&Value::Object(body.clone()))?.len();
            let fill = size.checked_sub(base).ok_or_else(|| {
                format!("`body_pad_to` {size} is below the body's own {base} bytes")
            })?;
            body.insert("_pad".into(), json!("x".repeat(fill)));
            let bytes = encode(&Value::Object(body))?;
            if bytes.len() != size {
                return Err(
                    format!("`body_pad_to` {size}: padded body is {} bytes", bytes.len()).into(),
                );
            }
            Ok(Some(bytes))
        }
        _ => Err("`body_pad_to` needs an object `body`".into()),
    }
}

fn tamper(jws: &str, how: &str) -> Result<String, VectorError> {
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
        other => Err(format!("unknown `tamper` `{other}`").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_sources() {
        assert!(parse_source(None).unwrap().is_bearer());
        assert!(parse_source(Some(&json!("header"))).unwrap().is_bearer());
        assert_eq!(
            parse_source(Some(&json!({"header": "x-api-key"}))).unwrap(),
            TokenSource::Header {
                name: "x-api-key".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            parse_source(Some(&json!({"query": "t"}))).unwrap(),
            TokenSource::Query { name: "t".into() }
        );
        assert!(parse_source(Some(&json!({"query": "t", "cookie": "c"}))).is_err());
        assert!(parse_source(Some(&json!({"header": "h", "x": 1}))).is_err());
    }

    #[test]
    fn padded_body_has_the_exact_size() {
        let spec: RequestSpec = serde_json::from_value(json!({
            "method": "POST", "path": "/", "body": {"model": "m"}, "body_pad_to": 100
        }))
        .unwrap();
        assert_eq!(body_bytes(&spec).unwrap().unwrap().len(), 100);
        let spec: RequestSpec = serde_json::from_value(json!({
            "method": "POST", "path": "/", "body": {"model": "m"}, "body_pad_to": 3
        }))
        .unwrap();
        assert!(body_bytes(&spec).is_err());
    }
}
