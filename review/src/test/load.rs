//! Reading test files: every file read and validated before anything runs, every problem of
//! every file reported, located.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_compiler::compile::{tenant_files, CompileError};
use gatehouse_compiler::diagnostics::{parse_source, Code, Diagnostic, FileDiagnostics};
use gatehouse_engine::escape::for_terminal;
use marked_yaml::{LoaderOptions, Node};
use serde_json::{json, Map, Value};

use super::schema::{AccessSpec, CaseSpec, DecisionSpec, Defaults, FileSpec, Headers, TokenSpec};
use crate::check::CheckRequest;
use crate::{clock, Located};

/// Why the test files cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("`{}` holds no test files (*.yaml, *.yml, *.json)", .0.display())]
    Empty(PathBuf),
    #[error(transparent)]
    Files(#[from] CompileError),
    /// Every problem of every file, located.
    #[error(transparent)]
    Invalid(Located),
}

/// The lifetime of a minted token when neither the claims nor `defaults.ttl` say otherwise.
const DEFAULT_TTL: i64 = 3600;

/// One test file, read and validated.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// As given (or found in a directory given).
    pub path: PathBuf,
    pub description: Option<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) cases: Vec<Case>,
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) note: Option<String>,
    /// 1-based line of the case in its file.
    pub(crate) line: usize,
    pub(crate) kind: CaseKind,
}

#[derive(Debug, Clone)]
pub(crate) enum CaseKind {
    Request(Box<RequestCase>),
    Access(AccessCase),
}

#[derive(Debug, Clone)]
pub(crate) struct RequestCase {
    pub(crate) request: CheckRequest,
    /// The token's claims to mint, with the key's text and the lifetime.
    pub(crate) mint: Option<(Map<String, Value>, Arc<str>, i64)>,
    pub(crate) now: Option<i64>,
    pub(crate) expect: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessCase {
    pub(crate) resource: String,
    pub(crate) action: String,
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) now: Option<i64>,
}

/// Reads every test file of `paths` (files, or directories whose `*.yaml`, `*.yml` and `*.json`
/// files directly inside are test files), in order. Every problem of every file is in the
/// error, one a line, `file:line:column: error: message`.
pub fn load(paths: &[PathBuf]) -> Result<Vec<TestFile>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = tenant_files(std::slice::from_ref(path))?;
            if found.is_empty() {
                return Err(LoadError::Empty(path.clone()));
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
        return Err(LoadError::Invalid(Located {
            diagnostics: errors,
            summary,
        }));
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
    let ttl = match spec.defaults.ttl.as_deref().map(clock::parse_duration) {
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

/// A YAML (or JSON) document as JSON, as the test runner reads it: scalars typed by YAML 1.2's
/// core schema, quoted scalars kept strings, duplicate keys refused. The JSON Schemas
/// (`gatehouse schema`) describe files seen this way, as an editor's YAML support sees them.
pub fn yaml_to_json(text: &str) -> Result<Value, marked_yaml::LoadError> {
    marked_yaml::parse_yaml_with_options(0, text, loader_options()).map(|node| typed(&node))
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
            credential: None,
            body,
            no_content_type: spec.no_content_type,
        },
        mint,
        now: spec.now.map(|t| t.0).or(default_now),
        expect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
