//! Compile diagnostics as people and tools read them: a code per error, the exact span, the first
//! definition of a duplicate, "did you mean" for unknown names and fields, every error of a run
//! (an unknown field does not hide the rest of its file), and the JSON form.

#![expect(clippy::panic, reason = "test code: a panic is a test failure")]

use std::path::Path;

use gatehouse_compiler::compile::{compile_sources, Sources};
use gatehouse_compiler::diagnostics::{closest, Code, Diagnostic};
use gatehouse_compiler::CompileError;

const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fn diagnostics(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    let files: Vec<(&Path, &str)> = files.iter().map(|(n, t)| (Path::new(*n), *t)).collect();
    match compile_sources(&Sources::tenants(&files)) {
        Err(CompileError::Invalid(d)) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

fn tenant(name: &str, rest: &str) -> String {
    format!("tenant:\n  name: {name}\n  issuer: https://{name}.cp\n  hosts: [{name}.example.com]\n  jwks: {JWKS}\n{rest}")
}

#[test]
fn unknown_names_suggest_the_closest_known_one() {
    let text = tenant(
        "acme",
        r#"users:
  - {email: carol@acme.com, role: model-consumr}
  - {email: dave@acme.com}
roles:
  - name: model-consumer
    permissions: ["provider-account:read", "provider-account:use"]
  - name: broken
    permissions: ["provider-acount:use", "provider-account:usee"]
teams:
  - name: ml
    members: [carol@acme.com, dave@acme.co]
resources:
  - type: mcp-server
    name: github
    collaborators: [{subject: "team:mll", role: mcp-server-user}]
virtual_accounts:
  - name: ci
    permissions: [{resource: "mcp-server:githb", role: mcp-server-user}]
"#,
    );
    let d = diagnostics(&[("acme.yaml", &text)]);
    let by_code = |code: Code| {
        d.iter()
            .filter(move |x| x.code == code)
            .map(|x| (x.message.as_str(), x.help.as_deref()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by_code(Code::UnknownRole),
        [(
            "unknown role `model-consumr`",
            Some("did you mean `model-consumer`?")
        )]
    );
    assert_eq!(
        by_code(Code::UnknownResourceType),
        [(
            "unknown resource type `provider-acount` in permission `provider-acount:use`",
            Some("did you mean `provider-account`?")
        )]
    );
    assert_eq!(
        by_code(Code::UnknownAction),
        [(
            "resource type `provider-account` has no action `usee` (permission `provider-account:usee`)",
            Some("did you mean `use`?")
        )]
    );
    let subjects = by_code(Code::UnknownSubject);
    assert!(
        subjects.contains(&(
            "team member `dave@acme.co` is not a user of this tenant",
            Some("did you mean `dave@acme.com`?")
        )),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&(
            "unknown subject `team:mll`",
            Some("did you mean `team:ml`?")
        )),
        "{subjects:?}"
    );
    assert_eq!(
        by_code(Code::UnknownResource),
        [(
            "unknown resource `mcp-server:githb`",
            Some("did you mean `mcp-server:github`?")
        )]
    );
    // Every diagnostic carries the span of what it is about.
    let role = d.iter().find(|x| x.code == Code::UnknownRole).unwrap();
    assert_eq!((role.line, role.column), (7, 35), "{role:?}");
    assert!(
        role.end_line == 0 || (role.end_line, role.end_column) == (7, 48),
        "{role:?}"
    );
}

#[test]
fn nothing_close_suggests_nothing() {
    assert_eq!(closest("zzzzzz", ["model-consumer", "tenant-admin"]), None);
    assert_eq!(
        closest("tenant-admn", ["model-consumer", "tenant-admin"]),
        Some("tenant-admin")
    );
    assert_eq!(
        closest("Tenant-Admin", ["tenant-admin"]),
        Some("tenant-admin")
    );
    assert_eq!(closest("a", ["b"]), Some("b"));
    assert_eq!(closest("ab", ["xy"]), None);
    assert_eq!(closest("emial", ["email", "role"]), Some("email"));
}

#[test]
fn an_unknown_field_does_not_hide_the_rest_of_the_file_or_other_files() {
    let acme = tenant(
        "acme",
        "users:\n  - {email: dave@acme.com, role: nope}\n  - {email: erin@acme.com, actve: false}\n  - {email: carol@acme.com, rloe: tenant-admin}\n",
    );
    let globex = "tenant: {name: globex, issuer: [oops]\n";
    let initech = tenant("initech", "teams: [{name: t, members: [x@y.z]}]\n");
    let d = diagnostics(&[
        ("acme.yaml", &acme),
        ("globex.yaml", globex),
        ("initech.yaml", &initech),
    ]);
    let summary: Vec<(String, Code, Option<&str>)> = d
        .iter()
        .map(|x| {
            (
                format!("{}:{}", x.file.display(), x.line),
                x.code,
                x.help.as_deref(),
            )
        })
        .collect();
    assert!(
        summary.contains(&(
            "acme.yaml:8".into(),
            Code::UnknownField,
            Some("did you mean `active`?")
        )),
        "{summary:?}"
    );
    assert!(
        summary.contains(&(
            "acme.yaml:9".into(),
            Code::UnknownField,
            Some("did you mean `role`?")
        )),
        "{summary:?}"
    );
    assert!(
        summary
            .iter()
            .any(|(at, code, _)| at == "acme.yaml:7" && *code == Code::UnknownRole),
        "{summary:?}"
    );
    assert!(
        summary
            .iter()
            .any(|(at, code, _)| at.starts_with("globex.yaml") && *code == Code::Syntax),
        "{summary:?}"
    );
    assert!(
        summary
            .iter()
            .any(|(at, code, _)| at.starts_with("initech.yaml") && *code == Code::UnknownSubject),
        "{summary:?}"
    );
}

#[test]
fn a_duplicate_points_at_its_first_definition() {
    let acme = tenant("acme", "teams:\n  - {name: ml}\n  - {name: ml}\n");
    let d = diagnostics(&[("acme.yaml", &acme)]);
    let dup = d.iter().find(|x| x.code == Code::Duplicate).unwrap();
    assert_eq!(dup.line, 8);
    assert_eq!(dup.labels.len(), 1);
    assert_eq!(dup.labels[0].place.line, 7);
    assert_eq!(dup.labels[0].file, None);
    let json = dup.to_json();
    assert_eq!(json["code"], "gatehouse::duplicate");
    assert_eq!(json["severity"], "error");
    assert_eq!(json["file"], "acme.yaml");
    assert_eq!(json["line"], 8);
    assert_eq!(json["labels"][0]["line"], 7);
    assert_eq!(json["labels"][0]["file"], "acme.yaml");
    assert_eq!(json["labels"][0]["message"], "`ml` first defined here");

    // Across files: the label names the other file.
    let d = diagnostics(&[
        ("a.yaml", &tenant("acme", "")),
        (
            "b.yaml",
            &tenant("acme", "").replace("acme.example.com", "b.example.com"),
        ),
    ]);
    let dup = d.iter().find(|x| x.code == Code::Duplicate).unwrap();
    assert_eq!(dup.file, Path::new("b.yaml"));
    assert_eq!(dup.labels[0].file.as_deref(), Some(Path::new("a.yaml")));
}

#[test]
fn codes_are_unique_and_documented() {
    let mut seen = std::collections::BTreeSet::new();
    for code in Code::ALL {
        assert!(code.as_str().starts_with("gatehouse::"));
        assert!(seen.insert(code.as_str()), "{code}");
        assert!(!code.description().is_empty());
    }
}
