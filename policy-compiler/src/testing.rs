//! `gatehouse test`: policy tests in the style of `opa test`, for CI (SPEC 5.1).
//!
//! A test file (YAML or JSON, docs/analysis.md) holds request cases, each decided by
//! [`cli::check`] exactly as `gatehouse check` decides it and compared field by field with the
//! `check --json` object ([`mismatches`]), and access cases, each answered by the engine's
//! [`who_can`](gatehouse_engine::analysis::Analysis::who_can). [`load`] reads and validates every
//! file before anything runs (a bad file is an error, exit 1); [`run`] decides every case and
//! gives a [`Report`] that renders as text, JSON or JUnit XML.
//!
//! What depends on the policy under test is a result, never an error: a case whose subject,
//! resource or action the bundle does not have fails (exit 2) and says so, so that a policy change
//! which removes something the tests name shows up in the CI report beside the other failures.
//!
//! Case names, subjects and the policy's names are shown escaped for where they go (SPEC 5.2):
//! through [`for_terminal`] in the text report, the errors and the JUnit XML (a CI system shows
//! a failure message as it is), as they are in the JSON report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use gatehouse_engine::analysis::AnalysisError;
use gatehouse_engine::escape::for_terminal;
use gatehouse_engine::Engine;
use marked_yaml::{LoaderOptions, Node};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::cli::{self, CheckRequest};
use crate::diagnostics::{parse_source, Code, Diagnostic, FileDiagnostics};
use crate::keys;

/// The lifetime of a minted token when neither the claims nor `defaults.ttl` say otherwise.
const DEFAULT_TTL: i64 = 3600;

// ---------------------------------------------------------------------------------------------
// The file format (docs/analysis.md). Serde types that mirror the file exactly.

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    description: Option<String>,
    /// The tenant whose issuer, name and host are the defaults, and whose access is asked about.
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    cases: Vec<CaseSpec>,
    #[serde(default)]
    access: Vec<AccessSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    #[serde(default)]
    now: Option<Time>,
    #[serde(default)]
    host: Option<String>,
    /// Private JWK file (relative to the test file) that signs `token` claims.
    #[serde(default)]
    key: Option<String>,
    /// Lifetime of minted tokens: `90s`, `15m`, `1h`, `7d`.
    #[serde(default)]
    ttl: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: Text,
    #[serde(default)]
    note: Option<String>,
    /// Overrides `defaults.key` for this case's token.
    #[serde(default)]
    key: Option<String>,
    request: RequestSpec,
    expect: ExpectSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestSpec {
    method: String,
    path: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    headers: Option<Headers>,
    #[serde(default, rename = "as")]
    as_subject: Option<String>,
    #[serde(default)]
    token: Option<TokenSpec>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    body_raw: Option<String>,
    #[serde(default)]
    no_content_type: bool,
    #[serde(default)]
    now: Option<Time>,
}

/// `{name: value}` or `[[name, value], ...]` (in order, repeats allowed).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Headers {
    Map(BTreeMap<String, Text>),
    List(Vec<(String, Text)>),
}

/// A token as sent, or the claims of one to mint.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum TokenSpec {
    Raw(String),
    Claims(Map<String, Value>),
}

/// Expected fields of the `gatehouse check --json` object; `null` is an expectation too (no
/// reason, no grant, no principal).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    #[serde(default)]
    decision: Option<DecisionSpec>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default, deserialize_with = "present")]
    reason: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    tenant: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    principal: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    route: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    resource: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    action: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    grant: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DecisionSpec {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessSpec {
    name: Text,
    #[serde(default)]
    note: Option<String>,
    who_can: WhoCanSpec,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    now: Option<Time>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhoCanSpec {
    resource: String,
    action: String,
}

/// An RFC 3339 time, as Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Time(i64);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        let text = String::deserialize(d)?;
        cli::parse_time(&text)
            .map(Time)
            .map_err(|e| de::Error::custom(format!("{e:#}")))
    }
}

/// A string, also written as a bare YAML number or boolean (`x-retries: 3`, `name: 2026`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A member that is there, even as `null`: `Some(None)`; absent (`#[serde(default)]`): `None`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// One test file, read and validated.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// As given (or found in a directory given).
    pub path: PathBuf,
    pub description: Option<String>,
    tenant: Option<String>,
    cases: Vec<Case>,
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    note: Option<String>,
    /// 1-based line of the case in its file.
    line: usize,
    kind: CaseKind,
}

#[derive(Debug, Clone)]
enum CaseKind {
    Request(Box<RequestCase>),
    Access(AccessCase),
}

#[derive(Debug, Clone)]
struct RequestCase {
    request: CheckRequest,
    /// The token's claims to mint, with the key's text and the lifetime.
    mint: Option<(Map<String, Value>, Arc<str>, i64)>,
    now: Option<i64>,
    expect: Map<String, Value>,
}

#[derive(Debug, Clone)]
struct AccessCase {
    resource: String,
    action: String,
    include: Vec<String>,
    exclude: Vec<String>,
    now: Option<i64>,
}

/// Reads every test file of `paths` (files, or directories whose `*.yaml`, `*.yml` and `*.json`
/// files directly inside are test files), in order. Every problem of every file is in the
/// error, one a line, `file:line:column: error: message`.
pub fn load(paths: &[PathBuf]) -> Result<Vec<TestFile>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = crate::compile::tenant_files_in(path)?;
            if found.is_empty() {
                bail!(
                    "`{}` holds no test files (*.yaml, *.yml, *.json)",
                    path.display()
                );
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut loaded = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for file in files {
        match load_file(&file) {
            Ok(test) => loaded.push(test),
            Err(mut more) => errors.append(&mut more),
        }
    }
    if !errors.is_empty() {
        let summary = format!("{} error(s) in the test files; no test ran", errors.len());
        return Err(cli::Located {
            diagnostics: errors,
            summary,
        }
        .into());
    }
    Ok(loaded)
}

fn load_file(path: &Path) -> Result<TestFile, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![unlocated(path, &format!("cannot read it: {e}"))])?;
    let (spec, node) = parse_file(path, &text)?;
    let mut errors = Vec::new();
    let at = |line: usize, column: usize, message: String| {
        Diagnostic::new(path, line, column, Code::Invalid, message).to_string()
    };
    let positions = case_positions(&node);
    let ttl = match spec.defaults.ttl.as_deref().map(cli::parse_duration) {
        None => DEFAULT_TTL,
        Some(Ok(ttl)) => ttl,
        Some(Err(e)) => {
            errors.push(at(0, 0, format!("`defaults.ttl`: {e:#}")));
            DEFAULT_TTL
        }
    };
    let mut keys: BTreeMap<String, Result<Arc<str>, String>> = BTreeMap::new();
    let mut key_text = |name: &str| -> Result<Arc<str>, String> {
        keys.entry(name.to_owned())
            .or_insert_with(|| {
                let key_path = path.parent().unwrap_or(Path::new("")).join(name);
                std::fs::read_to_string(&key_path)
                    .map(Arc::from)
                    .map_err(|e| format!("cannot read the key `{}`: {e}", key_path.display()))
            })
            .clone()
    };
    let default_now = spec.defaults.now.map(|t| t.0);
    // Both lists, in file order, each case with where it is and what it is (or what is wrong).
    let mut built = Vec::with_capacity(spec.cases.len() + spec.access.len());
    for (i, case) in spec.cases.iter().enumerate() {
        let kind = request_case(case, &spec.defaults, ttl, default_now, &mut key_text)
            .map(|r| CaseKind::Request(Box::new(r)));
        built.push(("cases", i, &case.name, &case.note, kind));
    }
    for (i, case) in spec.access.iter().enumerate() {
        built.push((
            "access",
            i,
            &case.name,
            &case.note,
            access_case(case, default_now),
        ));
    }
    let mut cases = Vec::new();
    let mut names = BTreeSet::new();
    for (list, i, name, note, kind) in built {
        let (line, column) = positions
            .get(list)
            .and_then(|p| p.get(i))
            .copied()
            .unwrap_or((0, 0));
        let mut fail = |message: &str| {
            errors.push(at(line, column, format!("case `{}`: {message}", name.0)));
        };
        if !names.insert(name.0.clone()) {
            fail("a case of this name comes earlier in the file");
        }
        match kind {
            Ok(kind) => cases.push(Case {
                name: name.0.clone(),
                note: note.clone(),
                line,
                kind,
            }),
            Err(message) => fail(&message),
        }
    }
    if spec.cases.is_empty() && spec.access.is_empty() {
        errors.push(at(
            0,
            0,
            "no `cases` and no `access`: nothing to test".into(),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(TestFile {
        path: path.to_path_buf(),
        description: spec.description,
        tenant: spec.tenant,
        cases,
    })
}

/// The file as [`FileSpec`] and its node tree. Values are typed as YAML's core schema types
/// them (`3` a number, `"3"` a string, `null` and `~` null), so a JSON body or a claim reads the
/// same from YAML and from JSON. A file that does not fit is read again by the span-keeping
/// loader ([`parse_source`]) for a located error.
fn parse_file(path: &Path, text: &str) -> Result<(FileSpec, Node), Vec<String>> {
    let parsed = marked_yaml::parse_yaml_with_options(0, text, loader_options())
        .ok()
        .map(|node| {
            let value = typed(&node);
            (node, serde_json::from_value::<FileSpec>(value))
        });
    let message = match parsed {
        Some((node, Ok(spec))) => return Ok((spec, node)),
        Some((_, Err(e))) => Some(e.to_string()),
        None => None,
    };
    let mut out = Vec::new();
    let mut d = FileDiagnostics {
        file: path,
        text: Some(Arc::from(text)),
        out: &mut out,
    };
    let _ = parse_source::<FileSpec>(&mut d, text);
    let mut errors: Vec<String> = out.iter().map(ToString::to_string).collect();
    if errors.is_empty() {
        errors.push(unlocated(
            path,
            &message.unwrap_or_else(|| "not a test file".into()),
        ));
    }
    Err(errors)
}

/// `file: error: message`, for an error of a whole file, escaped as a [`Diagnostic`] is.
fn unlocated(path: &Path, message: &str) -> String {
    format!(
        "{}: error: {}",
        for_terminal(&path.display().to_string()),
        for_terminal(message)
    )
}

/// Duplicate keys are errors, and quoted scalars are marked so that [`typed`] keeps them strings.
fn loader_options() -> LoaderOptions {
    LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true)
}

/// YAML to JSON, scalars typed by YAML 1.2's core schema; quoted scalars stay strings.
fn typed(node: &Node) -> Value {
    match node {
        Node::Scalar(s) if !s.may_coerce() => Value::String(s.as_str().to_owned()),
        Node::Scalar(s) => match s.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => Value::Null,
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            text => text
                .parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| {
                    text.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite() && text.contains(|c: char| c.is_ascii_digit()))
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                })
                .unwrap_or_else(|| Value::String(text.to_owned())),
        },
        Node::Sequence(items) => Value::Array(items.iter().map(typed).collect()),
        Node::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().to_owned(), typed(v)))
                .collect(),
        ),
    }
}

/// Line and column of each item of the top-level `cases` and `access` lists.
fn case_positions(node: &Node) -> BTreeMap<&'static str, Vec<(usize, usize)>> {
    let mut out = BTreeMap::new();
    for list in ["cases", "access"] {
        let items = node
            .as_mapping()
            .and_then(|m| m.get_sequence(list))
            .map(|s| {
                s.iter()
                    .map(|item| {
                        item.span()
                            .start()
                            .map_or((0, 0), |m| (m.line(), m.column()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.insert(list, items);
    }
    out
}

fn access_case(case: &AccessSpec, default_now: Option<i64>) -> Result<CaseKind, String> {
    if case.include.is_empty() && case.exclude.is_empty() {
        return Err("an access case needs `include` or `exclude`".into());
    }
    Ok(CaseKind::Access(AccessCase {
        resource: case.who_can.resource.clone(),
        action: case.who_can.action.clone(),
        include: case.include.clone(),
        exclude: case.exclude.clone(),
        now: case.now.map(|t| t.0).or(default_now),
    }))
}

fn request_case(
    case: &CaseSpec,
    defaults: &Defaults,
    ttl: i64,
    default_now: Option<i64>,
    key_text: &mut dyn FnMut(&str) -> Result<Arc<str>, String>,
) -> Result<RequestCase, String> {
    let spec = &case.request;
    let headers = match &spec.headers {
        None => Vec::new(),
        Some(Headers::Map(map)) => map.iter().map(|(n, v)| (n.clone(), v.0.clone())).collect(),
        Some(Headers::List(list)) => list.iter().map(|(n, v)| (n.clone(), v.0.clone())).collect(),
    };
    let body = match (&spec.body, &spec.body_raw) {
        (Some(_), Some(_)) => return Err("`body` and `body_raw` are exclusive".into()),
        (Some(body), None) => Some(serde_json::to_vec(body).map_err(|e| format!("`body`: {e}"))?),
        (None, Some(raw)) => Some(raw.clone().into_bytes()),
        (None, None) => None,
    };
    if spec.token.is_some() && spec.as_subject.is_some() {
        return Err("a request has `token` or `as`, not both".into());
    }
    let (token, mint) = match &spec.token {
        None => (None, None),
        Some(TokenSpec::Raw(raw)) => (Some(raw.trim().to_owned()), None),
        Some(TokenSpec::Claims(claims)) => {
            let name =
                case.key.as_deref().or(defaults.key.as_deref()).ok_or(
                    "`token` claims need a signing key: `key` in the case or in `defaults`",
                )?;
            (None, Some((claims.clone(), key_text(name)?, ttl)))
        }
    };
    let e = &case.expect;
    let text = |v: &Option<Option<String>>| v.as_ref().map(|v| json!(v));
    let expect: Map<String, Value> = [
        (
            "decision",
            e.decision.map(|d| match d {
                DecisionSpec::Allow => json!("allow"),
                DecisionSpec::Deny => json!("deny"),
            }),
        ),
        ("status", e.status.map(|s| json!(s))),
        ("reason", text(&e.reason)),
        ("tenant", text(&e.tenant)),
        ("principal", text(&e.principal)),
        ("route", text(&e.route)),
        ("resource", text(&e.resource)),
        ("action", text(&e.action)),
        ("grant", text(&e.grant)),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
    .collect();
    if expect.is_empty() {
        return Err("`expect` names no field: the case would pass whatever happens".into());
    }
    Ok(RequestCase {
        request: CheckRequest {
            method: spec.method.clone(),
            path: spec.path.clone(),
            host: spec.host.clone().or_else(|| defaults.host.clone()),
            headers,
            token,
            as_subject: spec.as_subject.clone(),
            body,
            no_content_type: spec.no_content_type,
        },
        mint,
        now: spec.now.map(|t| t.0).or(default_now),
        expect,
    })
}

// ---------------------------------------------------------------------------------------------
// Running.

/// What `gatehouse test` was asked besides the files.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--tenant`: the tenant of files that name none.
    pub tenant: Option<String>,
    /// `--now`: the clock of cases and files that give none (else the current time).
    pub now: Option<i64>,
}

/// Every result, file by file.
#[derive(Debug, Clone)]
pub struct Report {
    pub files: Vec<FileReport>,
}

#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    pub results: Vec<CaseResult>,
    pub time: Duration,
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    /// The case's `note`, shown with a failure.
    pub note: Option<String>,
    /// `request` or `access`.
    pub kind: &'static str,
    pub line: usize,
    /// Empty: passed. Else one line per expectation not met (`field: expected X, got Y`).
    pub failures: Vec<String>,
    /// What the engine answered, as `gatehouse check` prints it (request cases) or the allowed
    /// and blocked principals (access cases); names escaped for a terminal.
    pub details: String,
    /// Request cases: the `gatehouse check --json` object.
    pub got: Option<Value>,
    pub time: Duration,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Report {
    pub fn counts(&self) -> (usize, usize) {
        let all = self.files.iter().flat_map(|f| &f.results);
        let failed = all.clone().filter(|r| !r.passed()).count();
        (all.count() - failed, failed)
    }

    /// Exit 0 when every case passed, else 2.
    pub fn exit(&self) -> cli::Exit {
        if self.counts().1 == 0 {
            cli::Exit::Success
        } else {
            cli::Exit::Negative
        }
    }
}

/// Decides every case of `files` with `engine`. An error (exit 1) is a question the bundle
/// cannot be asked at all: a tenant to choose among several, a token that cannot be signed.
pub fn run(engine: &Engine, files: &[TestFile], options: &RunOptions) -> Result<Report> {
    let mut report = Report { files: Vec::new() };
    for file in files {
        let started = Instant::now();
        let mut results = Vec::with_capacity(file.cases.len());
        for case in &file.cases {
            let started = Instant::now();
            let mut result = run_case(engine, file, case, options)
                .with_context(|| format!("{}: case `{}`", file.path.display(), case.name))?;
            result.time = started.elapsed();
            results.push(result);
        }
        report.files.push(FileReport {
            path: file.path.clone(),
            results,
            time: started.elapsed(),
        });
    }
    Ok(report)
}

fn run_case(
    engine: &Engine,
    file: &TestFile,
    case: &Case,
    options: &RunOptions,
) -> Result<CaseResult> {
    let tenant = file.tenant.as_deref().or(options.tenant.as_deref());
    let mut result = CaseResult {
        name: case.name.clone(),
        note: case.note.clone(),
        kind: "request",
        line: case.line,
        failures: Vec::new(),
        details: String::new(),
        got: None,
        time: Duration::ZERO,
    };
    let clock = |now: Option<i64>| now.or(options.now).unwrap_or_else(cli::now);
    match &case.kind {
        CaseKind::Request(spec) => {
            let now = clock(spec.now);
            let mut request = spec.request.clone();
            // Without a host, that of the named tenant; `check` takes a lone tenant's.
            if let (None, Some(_)) = (&request.host, tenant) {
                request.host = Some(cli::host_of(analysis_tenant(engine, tenant)?));
            }
            if let Some((claims, key, ttl)) = &spec.mint {
                let config = &analysis_tenant(engine, tenant)?.config;
                let claims = default_claims(claims, &config.issuer, &config.name);
                request.token = Some(
                    keys::mint(key, claims, now, *ttl)
                        .map_err(|e| anyhow!("minting the token: {e}"))?,
                );
            }
            let checked = cli::check(engine, &request, now)?;
            let got = cli::outcome_json(&checked.outcome, &checked.explanation);
            result.failures = mismatches(&spec.expect, &got);
            result.details = cli::render_outcome(&checked.outcome, &checked.explanation, false);
            result.got = Some(got);
        }
        CaseKind::Access(spec) => {
            result.kind = "access";
            let now = clock(spec.now);
            match access(engine, tenant, spec, now) {
                Ok((failures, details)) => {
                    result.failures = failures;
                    result.details = details;
                }
                Err(AnalysisError::SeveralTenants(names)) => bail!(
                    "the bundle has several tenants ({names}): say which with `tenant:` in the \
                     file or --tenant"
                ),
                Err(e) => result.failures = vec![e.to_string()],
            }
        }
    }
    Ok(result)
}

/// The tenant of minted tokens: the named one, else the bundle's only one.
fn analysis_tenant<'e>(
    engine: &'e Engine,
    tenant: Option<&str>,
) -> Result<&'e gatehouse_engine::bundle::LoadedTenant> {
    engine
        .analysis(tenant)
        .map(|a| a.tenant())
        .map_err(|e| match e {
            AnalysisError::SeveralTenants(names) => anyhow!(
                "the bundle has several tenants ({names}): say which with `tenant:` in the file \
                 or --tenant"
            ),
            e => anyhow!("{e}"),
        })
}

/// A case's claims with the tenant's defaults: `iss` the tenant's control-plane issuer and, for
/// a token of that issuer, `tenant` the tenant's name ([`keys::mint`] adds `iat` and `exp`).
fn default_claims(claims: &Map<String, Value>, issuer: &str, tenant: &str) -> Map<String, Value> {
    let mut out = claims.clone();
    out.entry("iss").or_insert_with(|| json!(issuer));
    if out.get("iss").and_then(Value::as_str) == Some(issuer) {
        out.entry("tenant").or_insert_with(|| json!(tenant));
    }
    out
}

/// The failures of an access case and the who-can answer as lines.
fn access(
    engine: &Engine,
    tenant: Option<&str>,
    spec: &AccessCase,
    now: i64,
) -> Result<(Vec<String>, String), AnalysisError> {
    let analysis = engine.analysis(tenant)?;
    let resource = analysis.resource(&spec.resource)?;
    let action = analysis.action(resource, &spec.action)?;
    let who = analysis.who_can(resource, action, now);
    let mut failures = Vec::new();
    for subject in &spec.include {
        let principal = analysis.principal(subject)?;
        if !who.allowed.iter().any(|(p, _)| *p == principal) {
            let why = who
                .blocked
                .iter()
                .find(|(p, _)| *p == principal)
                .map_or_else(
                    || "holds no grant that allows it".to_owned(),
                    |(_, reason)| format!("blocked: {}", reason.code()),
                );
            failures.push(format!(
                "include: expected `{subject}` to be allowed, got not allowed ({why})"
            ));
        }
    }
    for subject in &spec.exclude {
        let principal = analysis.principal(subject)?;
        if let Some((_, grant)) = who.allowed.iter().find(|(p, _)| *p == principal) {
            failures.push(format!(
                "exclude: expected `{subject}` not to be allowed, got allowed by {}",
                analysis.grant_text(grant)
            ));
        }
    }
    let mut details = format!(
        "who can {} {}:\n",
        for_terminal(analysis.action_name(action)),
        for_terminal(&analysis.resource_key(resource))
    );
    for (principal, grant) in &who.allowed {
        let _ = writeln!(
            details,
            "  allowed  {:<36} {}",
            for_terminal(&analysis.principal_name(*principal)),
            for_terminal(&analysis.grant_text(grant))
        );
    }
    for (principal, reason) in &who.blocked {
        let _ = writeln!(
            details,
            "  blocked  {:<36} {}",
            for_terminal(&analysis.principal_name(*principal)),
            reason.code()
        );
    }
    if who.allowed.is_empty() && who.blocked.is_empty() {
        details.push_str("  (nobody)\n");
    }
    Ok((failures, details))
}

/// The expected fields that `actual` gets wrong, as `field: expected X, got Y` (a field missing
/// from `actual` is `null`).
pub fn mismatches(expect: &Map<String, Value>, actual: &Value) -> Vec<String> {
    expect
        .iter()
        .filter_map(|(k, want)| {
            let got = actual.get(k).unwrap_or(&Value::Null);
            (got != want).then(|| format!("{k}: expected {want}, got {got}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rendering.

impl Report {
    /// `ok`/`FAIL` per case; for a failure what was expected and got, and the engine's answer
    /// with its explanation; then `N passed, M failed`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let path = file.path.display().to_string();
            let path = for_terminal(&path);
            let _ = writeln!(out, "{path}");
            for r in &file.results {
                let name = for_terminal(&r.name);
                if r.passed() {
                    let _ = writeln!(out, "  ok    {} {name}", r.kind);
                    continue;
                }
                let _ = writeln!(out, "  FAIL  {} {name} ({path}:{})", r.kind, r.line);
                if let Some(note) = &r.note {
                    let _ = writeln!(out, "        note: {}", for_terminal(note));
                }
                for f in &r.failures {
                    let _ = writeln!(out, "        {}", for_terminal(f));
                }
                for line in r.details.lines() {
                    let _ = writeln!(out, "        | {line}");
                }
            }
        }
        let (passed, failed) = self.counts();
        let _ = writeln!(out, "{passed} passed, {failed} failed");
        out
    }

    /// One JSON document with every result.
    pub fn json(&self) -> Value {
        let (passed, failed) = self.counts();
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                let cases: Vec<Value> = f
                    .results
                    .iter()
                    .map(|r| {
                        let mut v = json!({
                            "name": r.name,
                            "kind": r.kind,
                            "line": r.line,
                            "passed": r.passed(),
                            "failures": r.failures,
                            "time_seconds": r.time.as_secs_f64(),
                        });
                        if let (Some(got), Some(obj)) = (&r.got, v.as_object_mut()) {
                            obj.insert("got".into(), got.clone());
                        } else if let Some(obj) = v.as_object_mut() {
                            obj.insert("details".into(), json!(r.details));
                        }
                        v
                    })
                    .collect();
                json!({"file": f.path.display().to_string(), "cases": cases})
            })
            .collect();
        json!({"passed": passed, "failed": failed, "files": files})
    }

    /// JUnit XML: one `testsuite` per file, one `testcase` per case, a `failure` (its message the
    /// first unmet expectation, its text every one and the engine's answer) per failed case.
    pub fn junit(&self) -> String {
        let (passed, failed) = self.counts();
        let total_time: Duration = self.files.iter().map(|f| f.time).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"gatehouse test\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" \
             time=\"{:.6}\">",
            passed + failed,
            total_time.as_secs_f64()
        );
        for file in &self.files {
            let name = file.path.display().to_string();
            let name = for_terminal(&name);
            let failures = file.results.iter().filter(|r| !r.passed()).count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
                 skipped=\"0\" time=\"{:.6}\">",
                xml(&name),
                file.results.len(),
                file.time.as_secs_f64()
            );
            for r in &file.results {
                let _ = write!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" \
                     time=\"{:.6}\"",
                    xml(&format!("{} {}", r.kind, for_terminal(&r.name))),
                    xml(&name),
                    xml(&name),
                    r.line,
                    r.time.as_secs_f64()
                );
                if r.passed() {
                    out.push_str("/>\n");
                    continue;
                }
                let message = r.failures.first().map_or("", String::as_str);
                let failures: Vec<_> = r.failures.iter().map(|f| for_terminal(f)).collect();
                let body = format!("{}\n\n{}", failures.join("\n"), r.details);
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    \
                     </testcase>",
                    xml(&for_terminal(message)),
                    xml_text(&body)
                );
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Text for an XML attribute: markup characters escaped; tab and line breaks as character
/// references (a parser turns them into spaces in an attribute otherwise); the other characters
/// XML 1.0 cannot carry shown escaped as [`for_terminal`] shows them (C0 controls) or replaced by
/// U+FFFD (the noncharacters U+FFFE and U+FFFF).
fn xml(text: &str) -> String {
    xml_escaped(text, true)
}

/// Text for an XML element: as [`xml`], but tab and `\n` as they are (`\r` still as a
/// reference, which a parser would otherwise turn into `\n`).
fn xml_text(text: &str) -> String {
    xml_escaped(text, false)
}

fn xml_escaped(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut one = [0u8; 4];
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' if attribute => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            '\t' | '\n' => out.push(c),
            c if c < ' ' => out.push_str(&for_terminal(c.encode_utf8(&mut one))),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatches_treat_missing_as_null() {
        let expect = json!({"reason": null, "status": 200});
        let Value::Object(expect) = expect else {
            unreachable!()
        };
        assert!(mismatches(&expect, &json!({"status": 200})).is_empty());
        assert_eq!(
            mismatches(&expect, &json!({"status": 403, "reason": "no_grant"})),
            vec![
                "reason: expected null, got \"no_grant\"".to_owned(),
                "status: expected 200, got 403".to_owned()
            ]
        );
    }

    #[test]
    fn yaml_scalars_are_typed_and_quoted_ones_stay_strings() {
        let node = marked_yaml::parse_yaml_with_options(
            0,
            "a: 3\nb: \"3\"\nc: ~\nd: null\ne: true\nf: 2026-12-01T00:00:00Z\ng: 1.5\nh: x-1\n",
            loader_options(),
        )
        .unwrap();
        assert_eq!(
            typed(&node),
            json!({"a": 3, "b": "3", "c": null, "d": null, "e": true,
                   "f": "2026-12-01T00:00:00Z", "g": 1.5, "h": "x-1"})
        );
    }

    #[test]
    fn claims_default_to_the_tenant() {
        let claims = |v: Value| v.as_object().cloned().unwrap();
        let cp = default_claims(&claims(json!({"sub": "user:a"})), "https://cp", "acme");
        assert_eq!(
            Value::Object(cp),
            json!({"sub": "user:a", "iss": "https://cp", "tenant": "acme"})
        );
        let idp = default_claims(
            &claims(json!({"iss": "https://idp", "sub": "x"})),
            "https://cp",
            "acme",
        );
        assert_eq!(
            Value::Object(idp),
            json!({"iss": "https://idp", "sub": "x"})
        );
    }

    #[test]
    fn reports_show_names_from_test_files_escaped() {
        let report = Report {
            files: vec![FileReport {
                path: PathBuf::from("t\u{202e}.yaml"),
                results: vec![CaseResult {
                    name: "x\n::error ::pwned".to_owned(),
                    note: Some("n\u{1b}[2J".to_owned()),
                    kind: "access",
                    line: 3,
                    failures: vec!["include: expected `user:e\u{2066}@a.com` to be allowed".into()],
                    details: String::new(),
                    got: None,
                    time: Duration::ZERO,
                }],
                time: Duration::ZERO,
            }],
        };
        let text = report.text();
        assert!(
            text.contains("  FAIL  access x\\n::error ::pwned (t\\u{202e}.yaml:3)\n"),
            "{text}"
        );
        assert!(text.contains("note: n\\u{001b}[2J\n"), "{text}");
        assert!(text.contains("`user:e\\u{2066}@a.com`"), "{text}");
        let junit = report.junit();
        for out in [&text, &junit] {
            assert!(!out.contains(['\u{202e}', '\u{2066}', '\u{1b}']), "{out}");
            assert!(!out.lines().any(|l| l.starts_with("::")), "{out}");
        }
        assert!(
            junit.contains("<testcase name=\"access x\\n::error ::pwned\""),
            "{junit}"
        );
        // JSON keeps them as they are.
        let json = report.json();
        assert_eq!(json["files"][0]["cases"][0]["name"], "x\n::error ::pwned");
    }

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            xml("a<b>&\"c'\u{1}\u{1b}\u{fffe}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\\u{0001}\\u{001b}\u{FFFD}"
        );
        assert_eq!(xml("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(xml_text("a\tb\nc\rd\u{0}"), "a\tb\nc&#13;d\\u{0000}");
    }

    #[test]
    fn schema_errors_are_located() {
        let text = "cases:\n  - name: x\n    request: {method: GET, path: /}\n    expect: {decison: allow}\n";
        let errors = parse_file(Path::new("t.yaml"), text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("t.yaml:4:") && errors[0].contains("unknown field `decison`"),
            "{errors:?}"
        );
    }
}
