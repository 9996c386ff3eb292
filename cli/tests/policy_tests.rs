//! `gatehouse test` through the real binary: the acme tests pass against the example policy, a
//! wrong expectation fails with exit 2 showing what was expected, what came and why, the JUnit
//! report has the right structure, a bad test file is an error naming it, and a bundle and the
//! tenant paths it was compiled from give the same results.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{repo_root, run};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("policy-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `gatehouse test` of `tests` against the example policy compiled on the fly, plus `extra`.
fn test_policy(tests: &[&str], extra: &[&str]) -> Output {
    let root = repo_root();
    let gateway = path(&root.join("examples/gateway.yaml"));
    let acme = path(&root.join("examples/acme"));
    let mut args = vec!["test", "--gateway", &gateway, "--policy", &acme];
    args.extend_from_slice(tests);
    args.extend_from_slice(extra);
    run(&args)
}

fn acme_tests() -> String {
    path(&repo_root().join("examples/acme/tests"))
}

/// A test file beside the acme tests' keys, so that `key:` paths resolve the same way.
fn write_case_file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let file = dir.join(name);
    let key = repo_root().join("examples/acme/keys/acme-cp.private.jwk.json");
    let text = body.replace("KEY", &path(&key));
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn acme_tests_pass_against_the_example_policy() {
    let out = test_policy(&[&acme_tests()], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 25, "{summary}");
    assert_eq!(summary, format!("{passed} passed, 0 failed"));
    assert!(
        stdout.contains("  ok    request the health check is public"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  ok    access o3 is research's"),
        "{stdout}"
    );
}

const WRONG: &str = r#"
tenant: acme
defaults: {now: "2026-12-01T00:00:00Z", key: KEY}
cases:
  - name: dave uses o3
    note: o3 is narrowed to research
    request:
      method: POST
      path: /api/llm/v1/chat/completions
      as: user:dave@acme.com
      body: {model: openai-main/o3}
    expect: {decision: allow, reason: null}
  - name: carol with a token
    request:
      method: POST
      path: /api/llm/v1/chat/completions
      token: {sub: "user:carol@acme.com"}
      body: {model: openai-main/gpt-4o}
    expect: {decision: allow, principal: "user:carol@acme.com"}
access:
  - name: dave on o3
    who_can: {resource: "model:openai-main/o3", action: use}
    include: [user:dave@acme.com]
  - name: a resource the tenant lacks
    who_can: {resource: "model:openai-main/gpt-9", action: use}
    exclude: [user:dave@acme.com]
"#;

#[test]
fn a_wrong_expectation_fails_with_expected_got_and_the_explanation() {
    let dir = scratch("wrong");
    let file = write_case_file(&dir, "wrong.yaml", WRONG);
    let junit = dir.join("report.xml");
    let out = test_policy(&[&path(&file)], &["--junit", &path(&junit)]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("  FAIL  request dave uses o3 ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: o3 is narrowed to research"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"decision: expected "allow", got "deny""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"reason: expected null, got "not_authorized_subject""#),
        "{stdout}"
    );
    // The explanation of `gatehouse check`.
    assert!(stdout.contains("| why: "), "{stdout}");
    assert!(stdout.contains("admits only"), "{stdout}");
    assert!(
        stdout.contains("  ok    request carol with a token"),
        "{stdout}"
    );
    assert!(
        stdout.contains("include: expected `user:dave@acme.com` to be allowed, got not allowed (blocked: not_authorized_subject)"),
        "{stdout}"
    );
    // A resource the bundle lacks fails the case, it does not stop the run.
    assert!(
        stdout.contains("tenant `acme` has no resource `model:openai-main/gpt-9`"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some("1 passed, 3 failed"),
        "{stdout}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = Xml::parse(&xml);
    assert_eq!(doc.name, "testsuites");
    assert_eq!(doc.attr("tests"), "4");
    assert_eq!(doc.attr("failures"), "3");
    let suites = doc.children("testsuite");
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].attr("name"), path(&file));
    assert_eq!(suites[0].attr("tests"), "4");
    assert_eq!(suites[0].attr("failures"), "3");
    suites[0].attr("time").parse::<f64>().unwrap();
    let cases = suites[0].children("testcase");
    assert_eq!(cases.len(), 4);
    for case in &cases {
        case.attr("time").parse::<f64>().unwrap();
    }
    assert_eq!(cases[0].attr("name"), "request dave uses o3");
    let failure = &cases[0].children("failure");
    assert_eq!(failure.len(), 1);
    assert_eq!(
        failure[0].attr("message"),
        r#"decision: expected "allow", got "deny""#
    );
    assert!(failure[0].text.contains("why: "), "{}", failure[0].text);
    assert!(cases[1].children("failure").is_empty());
    assert_eq!(cases[2].children("failure").len(), 1);

    // --json: the same results in one document.
    let out = test_policy(&[&path(&file)], &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["passed"].as_u64(), json["failed"].as_u64()),
        (Some(1), Some(3))
    );
    let first = &json["files"][0]["cases"][0];
    assert_eq!(first["passed"], false);
    assert_eq!(first["got"]["reason"], "not_authorized_subject");
    assert!(first["got"]["explain"]["summary"].is_string(), "{first}");
}

#[test]
fn a_bad_test_file_is_an_error_naming_the_file() {
    let dir = scratch("bad");
    let file = write_case_file(
        &dir,
        "bad.yaml",
        "cases:\n  - name: x\n    request: {method: GET, path: /healthz}\n    expect: {decision: allow, stauts: 200}\n",
    );
    let out = test_policy(&[&path(&file)], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:", path(&file)))
            && stderr.contains("unknown field `stauts`"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // A problem only the loaded file shows is named with its case and line.
    let file = write_case_file(
        &dir,
        "nokey.yaml",
        "cases:\n  - name: minted\n    request: {method: GET, path: /healthz, token: {sub: \"user:a\"}}\n    expect: {decision: allow}\n",
    );
    let out = test_policy(&[&path(&file)], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:", path(&file)))
            && stderr.contains("case `minted`: `token` claims need a signing key"),
        "{stderr}"
    );
}

#[test]
fn a_bundle_and_its_tenant_paths_give_the_same_results() {
    let dir = scratch("same");
    let root = repo_root();
    let bundle = dir.join("acme.bundle");
    let out = run(&[
        "compile",
        "--gateway",
        &path(&root.join("examples/gateway.yaml")),
        &path(&root.join("examples/acme")),
        "-o",
        &path(&bundle),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let wrong = write_case_file(&dir, "wrong.yaml", WRONG);
    let strip_times = |out: &Output| -> Value {
        let mut json: Value = serde_json::from_slice(&out.stdout).unwrap();
        for file in json["files"].as_array_mut().unwrap() {
            for case in file["cases"].as_array_mut().unwrap() {
                case.as_object_mut().unwrap().remove("time_seconds");
            }
        }
        json
    };
    let tests = [acme_tests(), path(&wrong)];
    let tests: Vec<&str> = tests.iter().map(String::as_str).collect();
    let from_paths = test_policy(&tests, &["--json"]);
    let mut args = vec!["test", "--bundle", bundle.to_str().unwrap()];
    args.extend_from_slice(&tests);
    args.push("--json");
    let from_bundle = run(&args);
    assert_eq!(from_paths.status.code(), Some(2));
    assert_eq!(from_bundle.status.code(), Some(2));
    let (a, b) = (strip_times(&from_paths), strip_times(&from_bundle));
    assert!(a["passed"].as_u64().unwrap() >= 26, "{a}");
    assert_eq!(a, b);
}

/// Just enough XML to check the report's structure: elements, attributes, text and the five
/// predefined entities, with every end tag matched.
struct Xml {
    name: String,
    attrs: Vec<(String, String)>,
    elements: Vec<Xml>,
    text: String,
}

impl Xml {
    fn parse(text: &str) -> Xml {
        let rest = text.trim_start();
        let rest = match rest.strip_prefix("<?xml") {
            Some(r) => &r[r.find("?>").unwrap() + 2..],
            None => rest,
        };
        let (element, rest) = Xml::element(rest.trim_start());
        assert!(rest.trim().is_empty(), "trailing content: {rest}");
        element
    }

    fn element(s: &str) -> (Xml, &str) {
        let s = s.strip_prefix('<').expect("an element");
        let end = s.find(['>', ' ', '/']).unwrap();
        let name = s[..end].to_owned();
        let mut s = &s[end..];
        let mut attrs = Vec::new();
        loop {
            s = s.trim_start();
            if let Some(r) = s.strip_prefix("/>") {
                let element = Xml {
                    name,
                    attrs,
                    elements: Vec::new(),
                    text: String::new(),
                };
                return (element, r);
            }
            if let Some(r) = s.strip_prefix('>') {
                s = r;
                break;
            }
            let eq = s.find('=').unwrap();
            let key = s[..eq].trim().to_owned();
            let r = s[eq + 1..].strip_prefix('"').expect("a quoted attribute");
            let close = r.find('"').unwrap();
            assert!(!r[..close].contains('<'), "`<` in an attribute");
            attrs.push((key, unescape(&r[..close])));
            s = &r[close + 1..];
        }
        let mut elements = Vec::new();
        let mut text = String::new();
        loop {
            if let Some(r) = s.strip_prefix("</") {
                let close = r.find('>').unwrap();
                assert_eq!(&r[..close], name, "mismatched end tag");
                return (
                    Xml {
                        name,
                        attrs,
                        elements,
                        text: unescape(&text),
                    },
                    &r[close + 1..],
                );
            }
            if s.starts_with('<') {
                let (child, r) = Xml::element(s);
                elements.push(child);
                s = r;
            } else {
                let next = s.find('<').expect("an end tag");
                text.push_str(&s[..next]);
                s = &s[next..];
            }
        }
    }

    fn attr(&self, name: &str) -> &str {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("<{}> has no `{name}`", self.name))
    }

    fn children(&self, name: &str) -> Vec<&Xml> {
        self.elements.iter().filter(|e| e.name == name).collect()
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').expect("an entity ends with `;`") + i;
        out.push(match &rest[i + 1..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            other => panic!("unknown entity `{other}`"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
