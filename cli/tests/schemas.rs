//! The JSON Schemas under `schemas/`: each is exactly what `gatehouse schema` prints, and each
//! agrees with what it describes, as judged by an independent validator (Python `jsonschema`,
//! installed by `ensure_jsonschema` in scripts/lib.sh): every example and golden-vector file is
//! accepted, and a file that differs from a good one in one place (an unknown field, a wrong
//! type, a misspelled value, children that are not a list) is rejected by the validator and by
//! the compiler or test runner alike.
//!
//! Files are read as JSON by [`yaml_to_json`], the test runner's YAML 1.2 reading, which is how
//! an editor's YAML support sees them.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use gatehouse_review::test::yaml_to_json;
use serde_json::{json, Value};
use support::{repo_root, run};

/// `(argument of gatehouse schema, committed file)`.
const SCHEMAS: [(&str, &str); 5] = [
    ("tenant", "schemas/tenant.schema.json"),
    ("directory", "schemas/directory.schema.json"),
    ("credentials", "schemas/credentials.schema.json"),
    ("gateway", "schemas/gateway.schema.json"),
    ("tests", "schemas/tests.schema.json"),
];

#[test]
fn committed_schemas_are_what_the_generator_prints() {
    for (kind, path) in SCHEMAS {
        let out = run(&["schema", kind]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let again = run(&["schema", kind]);
        assert_eq!(
            out.stdout, again.stdout,
            "`gatehouse schema {kind}` is not stable"
        );
        let committed = std::fs::read(repo_root().join(path)).unwrap_or_default();
        assert!(
            out.stdout == committed,
            "`{path}` is not what `gatehouse schema {kind}` prints; regenerate it with\n  \
             cargo run -p gatehouse-cli -- schema {kind} > {path}"
        );
    }
}

#[test]
fn example_files_name_their_schema() {
    let root = repo_root();
    let files = [
        (
            "examples/acme/tenant.yaml",
            "../../schemas/tenant.schema.json",
        ),
        (
            "examples/globex/tenant.yaml",
            "../../schemas/tenant.schema.json",
        ),
        ("examples/gateway.yaml", "../schemas/gateway.schema.json"),
        (
            "examples/mcp/gateway.yaml",
            "../../schemas/gateway.schema.json",
        ),
    ];
    let tests = yaml_files(&root.join("examples/acme/tests"), "")
        .into_iter()
        .map(|p| (p, "../../../schemas/tests.schema.json"));
    for (path, schema) in files.iter().map(|(p, s)| (root.join(p), *s)).chain(tests) {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("# yaml-language-server: $schema={schema}"),
            "{}",
            path.display()
        );
        assert!(path.parent().unwrap().join(schema).is_file(), "{schema}");
    }
}

#[test]
fn the_validator_accepts_every_tenant_file_and_rejects_the_bad_ones() {
    let root = repo_root();
    let mut good = yaml_files(&root.join("examples/acme"), "tenant");
    good.extend(yaml_files(&root.join("examples/globex"), "tenant"));
    for dir in vector_dirs() {
        good.extend(yaml_files(&dir, "tenant"));
    }
    assert!(good.len() >= 10, "{good:?}");
    let base = "examples/acme/tenant.yaml";
    let bad = [
        Mutation::set("unknown field", "/tenant", "colour", json!("blue")),
        Mutation::set("wrong type", "/tenant", "clock_skew_seconds", json!("soon")),
        Mutation::set(
            "misspelled value",
            "/identity_providers/1",
            "resolve_to",
            json!("virtual_account"),
        ),
        Mutation::set(
            "children not a list",
            "/resources/0",
            "models",
            json!("gpt-4o"),
        ),
        Mutation::set(
            "children not resources",
            "/resources/0",
            "models",
            json!([{"nam": "gpt-4o"}]),
        ),
        Mutation::set(
            "wrong type in a resource",
            "/resources/0",
            "enabled",
            json!("no"),
        ),
        Mutation::remove("top-level resource without a type", "/resources/0", "type"),
        Mutation::remove("no issuer", "/tenant", "issuer"),
    ];
    let scratch = scratch("tenant");
    copy_dir(&root.join("examples/acme/keys"), &scratch.join("keys"));
    let compiles = |doc: &Value| {
        let file = scratch.join("tenant.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = run(&[
            "compile",
            path(&file),
            "-o",
            path(&scratch.join("out.bundle")),
        ]);
        (out.status.success(), text(&out.stderr))
    };
    check("tenant", &good, base, &bad, compiles);
}

#[test]
fn the_validator_accepts_every_gateway_file_and_rejects_the_bad_ones() {
    let root = repo_root();
    let mut good = vec![
        root.join("examples/gateway.yaml"),
        root.join("examples/mcp/gateway.yaml"),
    ];
    for dir in vector_dirs() {
        good.extend(yaml_files(&dir, "gateway"));
    }
    assert!(good.len() >= 5, "{good:?}");
    let base = "examples/gateway.yaml";
    let bad = [
        Mutation::set("unknown field", "", "routs", json!([])),
        Mutation::set("misspelled value", "", "mode", json!("dryrun")),
        Mutation::set("wrong type", "", "max_body_bytes", json!("lots")),
        Mutation::set("wrong type in a route", "/routes/0", "public", json!("yes")),
        Mutation::set(
            "unknown field in a match",
            "/routes/0/match",
            "paths",
            json!([]),
        ),
        Mutation::set(
            "unknown token source",
            "/token_sources/0",
            "form",
            json!("t"),
        ),
    ];
    let scratch = scratch("gateway");
    let acme = root.join("examples/acme");
    let compiles = |doc: &Value| {
        let file = scratch.join("gateway.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = run(&[
            "compile",
            "--gateway",
            path(&file),
            path(&acme),
            "-o",
            path(&scratch.join("out.bundle")),
        ]);
        (out.status.success(), text(&out.stderr))
    };
    check("gateway", &good, base, &bad, compiles);
}

#[test]
fn the_validator_accepts_every_test_file_and_rejects_the_bad_ones() {
    let root = repo_root();
    let good = yaml_files(&root.join("examples/acme/tests"), "");
    assert!(good.len() >= 2, "{good:?}");
    let base = "examples/acme/tests/requests.yaml";
    let bad = [
        Mutation::set("unknown field", "/cases/0/request", "methd", json!("GET")),
        Mutation::set(
            "misspelled value",
            "/cases/0/expect",
            "decision",
            json!("permit"),
        ),
        Mutation::set("wrong type", "/cases/0/expect", "status", json!("200")),
        Mutation::set("expects nothing", "/cases/0", "expect", json!({})),
        Mutation::set(
            "header list entry",
            "/cases/0/request",
            "headers",
            json!([["a"]]),
        ),
    ];
    let scratch = scratch("tests");
    copy_dir(&root.join("examples/acme/keys"), &scratch.join("keys"));
    std::fs::create_dir_all(scratch.join("tests")).unwrap();
    let gateway = root.join("examples/gateway.yaml");
    let acme = root.join("examples/acme");
    let passes = |doc: &Value| {
        let file = scratch.join("tests/requests.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = run(&[
            "test",
            "--gateway",
            path(&gateway),
            "--policy",
            path(&acme),
            path(&file),
        ]);
        (out.status.success(), text(&out.stderr))
    };
    check("tests", &good, base, &bad, passes);
}

/// One change to a known-good document: `key` of the object at `at` set to a value, or removed.
struct Mutation {
    what: &'static str,
    at: &'static str,
    key: &'static str,
    value: Option<Value>,
}

impl Mutation {
    fn set(what: &'static str, at: &'static str, key: &'static str, value: Value) -> Self {
        Mutation {
            what,
            at,
            key,
            value: Some(value),
        }
    }

    fn remove(what: &'static str, at: &'static str, key: &'static str) -> Self {
        Mutation {
            what,
            at,
            key,
            value: None,
        }
    }

    fn apply(&self, doc: &Value) -> Value {
        let mut doc = doc.clone();
        let object = doc
            .pointer_mut(self.at)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{}: no object at `{}`", self.what, self.at));
        match &self.value {
            Some(value) => {
                object.insert(self.key.into(), value.clone());
            }
            None => {
                assert!(object.remove(self.key).is_some(), "{}", self.what);
            }
        }
        doc
    }
}

/// The validator accepts every file of `good`; the product (`accepts`) and the validator accept
/// `base` read as JSON, and both reject each mutation of it.
fn check(
    kind: &str,
    good: &[PathBuf],
    base: &str,
    bad: &[Mutation],
    accepts: impl Fn(&Value) -> (bool, String),
) {
    let schema = repo_root().join(format!("schemas/{kind}.schema.json"));
    let docs: Vec<Value> = good.iter().map(|p| read_yaml(p)).collect();
    let scratch = scratch(&format!("validate-{kind}"));
    let errors = validate(&schema, &docs, &scratch.join("good.json"));
    for (path, errors) in good.iter().zip(&errors) {
        assert!(
            errors.is_empty(),
            "the {kind} schema rejects `{}`:\n{}",
            path.display(),
            errors.join("\n")
        );
    }

    let base = read_yaml(&repo_root().join(base));
    let (ok, stderr) = accepts(&base);
    assert!(
        ok,
        "the unchanged {kind} file, as JSON, is refused:\n{stderr}"
    );
    let mutated: Vec<Value> = bad.iter().map(|m| m.apply(&base)).collect();
    let errors = validate(&schema, &mutated, &scratch.join("bad.json"));
    for ((mutation, doc), errors) in bad.iter().zip(&mutated).zip(&errors) {
        assert!(
            !errors.is_empty(),
            "the {kind} schema accepts a file with a {} (`{}` at `{}`)",
            mutation.what,
            mutation.key,
            mutation.at
        );
        let (ok, _) = accepts(doc);
        assert!(
            !ok,
            "the schema rejects a {kind} file with a {} (`{}` at `{}`), but it is accepted",
            mutation.what, mutation.key, mutation.at
        );
    }
    eprintln!(
        "{kind}: the validator accepted {} files and rejected {} mutated ones",
        good.len(),
        bad.len()
    );
}

/// The errors the validator finds in each document, in order.
fn validate(schema: &Path, docs: &[Value], input: &Path) -> Vec<Vec<String>> {
    const SCRIPT: &str = r#"
import json, sys
from jsonschema.validators import validator_for
with open(sys.argv[1]) as f:
    schema = json.load(f)
cls = validator_for(schema)
cls.check_schema(schema)
validator = cls(schema)
with open(sys.argv[2]) as f:
    docs = json.load(f)
print(json.dumps([
    ["/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(doc)]
    for doc in docs
]))
"#;
    std::fs::write(input, Value::from(docs.to_vec()).to_string()).unwrap();
    let out = Command::new(python())
        .args(["-c", SCRIPT])
        .arg(schema)
        .arg(input)
        .output()
        .expect("run the validator");
    assert!(
        out.status.success(),
        "the validator failed on `{}`:\n{}",
        schema.display(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the validator prints a JSON list")
}

/// The Python with `jsonschema`: `GATEHOUSE_PYTHON` (what scripts/test.sh exports; required under
/// CI), else the project's `.venv`, else `python3`. Without it the test fails, never skips.
fn python() -> PathBuf {
    const INSTALL: &str = "install it with `bash -c 'source scripts/lib.sh && ensure_jsonschema'` \
        and set GATEHOUSE_PYTHON=$PWD/.venv/bin/python (scripts/test.sh does both)";
    let python = match std::env::var_os("GATEHOUSE_PYTHON") {
        Some(python) => PathBuf::from(python),
        None if std::env::var_os("CI").is_some() => {
            panic!("GATEHOUSE_PYTHON is not set: the JSON Schema validator is required in CI; {INSTALL}")
        }
        None => {
            let venv = repo_root().join(".venv/bin/python");
            if venv.is_file() {
                venv
            } else {
                PathBuf::from("python3")
            }
        }
    };
    let ok = Command::new(&python)
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        ok,
        "`{}` cannot import the JSON Schema validator (Python `jsonschema`): {INSTALL}",
        python.display()
    );
    python
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_to_json(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

/// The golden-vector directories.
fn vector_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("tests/vectors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "keys"))
        .collect();
    dirs.sort();
    dirs
}

/// The `*.yaml` files of `dir` whose names start with `prefix`, sorted.
fn yaml_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("schemas")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Directory files (the provisioning service writes them; people read and review them) validate
/// against their schema, and one with a field the compiler refuses does not.
#[test]
fn the_validator_accepts_directory_files_and_rejects_a_bad_one() {
    let root = repo_root();
    let file = root.join("tests/vectors/provisioning/tenant-globex.directory.json");
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut bad = good.clone();
    bad["users"][0]["password"] = json!("hunter2");
    let schema = root.join("schemas/directory.schema.json");
    let scratch = scratch("validate-directory");
    let errors = validate(&schema, &[good, bad], &scratch.join("docs.json"));
    assert!(errors[0].is_empty(), "{:?}", errors[0]);
    assert!(
        !errors[1].is_empty(),
        "the schema accepts an unknown user field"
    );
}

/// Credentials files (`gatehouse credentials` writes them; people review them) validate against
/// their schema, and one carrying a key itself does not.
#[test]
fn the_validator_accepts_credentials_files_and_rejects_a_bad_one() {
    let root = repo_root();
    let file = root.join("tests/vectors/credentials/tenant.credentials.json");
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut bad = good.clone();
    bad["keys"][0]["key"] = json!("gh_key_...");
    let schema = root.join("schemas/credentials.schema.json");
    let scratch = scratch("validate-credentials");
    let errors = validate(&schema, &[good, bad], &scratch.join("docs.json"));
    assert!(errors[0].is_empty(), "{:?}", errors[0]);
    assert!(
        !errors[1].is_empty(),
        "the schema accepts a field that would hold a key"
    );
}
