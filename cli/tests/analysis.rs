//! `gatehouse who-can`, `what-can`, `diff` and `check`'s explanation through the real binary on
//! examples/acme: the documented JSON shapes, the answers the tenant file implies, exit codes,
//! and the same answers from a bundle and from tenant files compiled on the fly; names from a
//! hostile tenant file shown escaped in every report and diagnostic.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{repo_root, run};

const NOW: &str = "2026-12-01T00:00:00Z";

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// examples/acme compiled into a bundle under `name`.
fn bundle(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{name}.bundle"));
    let root = repo_root();
    let done = run(&[
        "compile",
        "--gateway",
        path(&root.join("examples/gateway.yaml")),
        path(&root.join("examples/acme")),
        "-o",
        path(&out),
        "--serial",
        "1",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

fn json(args: &[&str]) -> (i32, Value) {
    let out = run(args);
    let code = out.status.code().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, value)
}

fn principals(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["principal"].as_str().unwrap())
        .collect()
}

#[test]
fn who_can_lists_grants_and_narrowing() {
    let b = bundle("who");
    let (code, who) = json(&[
        "who-can",
        "--bundle",
        path(&b),
        "--resource",
        "model:openai-main/o3",
        "--action",
        "use",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(who["resource"], "model:openai-main/o3");
    assert_eq!(who["action"], "use");
    // Admitted by `authorized_subjects` (team:research, carol) or tenant admins.
    assert_eq!(
        principals(&who["allowed"]),
        [
            "user:alice@acme.com",
            "user:carol@acme.com",
            "user:heidi@acme.com",
            "user:ivan@acme.com",
            "user:judy@acme.com",
            "user:peggy@acme.com"
        ]
    );
    let heidi = &who["allowed"][2];
    assert_eq!(
        heidi["grant"],
        "team:research model-user on model:openai-main/o3"
    );
    // The provider-account grant reaches ml-engineers and data-science; the restriction stops
    // them, and mallory is suspended.
    let blocked = who["blocked"].as_array().unwrap();
    let reason = |p: &str| {
        blocked
            .iter()
            .find(|e| e["principal"] == p)
            .map(|e| e["reason"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        reason("user:dave@acme.com").as_deref(),
        Some("not_authorized_subject")
    );
    assert_eq!(
        reason("user:mallory@acme.com").as_deref(),
        Some("principal_inactive")
    );
    assert_eq!(
        reason("user:rupert@acme.com"),
        None,
        "holds no grant: not listed"
    );

    // A disabled tool: nobody is allowed (exit 2), everyone with a grant is blocked.
    let (code, who) = json(&[
        "who-can",
        "--bundle",
        path(&b),
        "--resource",
        "tool:github/delete_repo",
        "--action",
        "use",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 2);
    assert!(who["allowed"].as_array().unwrap().is_empty());
    assert!(who["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["reason"] == "resource_disabled"));
}

#[test]
fn what_can_lists_every_pair_with_its_grant() {
    let b = bundle("what");
    let (code, what) = json(&[
        "what-can",
        "--bundle",
        path(&b),
        "--as",
        "virtualaccount:deploy-bot",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    let pairs: Vec<(String, String)> = what["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(
                e["grant"],
                "virtualaccount:deploy-bot workspace-editor on workspace:prod/ml-serving"
            );
            (
                e["action"].as_str().unwrap().into(),
                e["resource"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(pairs.contains(&("deploy".into(), "workspace:prod/ml-serving".into())));
    assert!(pairs.contains(&("deploy".into(), "application:prod/ml-serving/api".into())));
    assert!(!pairs.iter().any(|(a, _)| a == "delete"));

    // Filters, and an expired account that can do nothing.
    let (_, only) = json(&[
        "what-can",
        "--bundle",
        path(&b),
        "--as",
        "virtualaccount:deploy-bot",
        "--type",
        "application",
        "--action",
        "read",
        "--now",
        NOW,
        "--json",
    ]);
    assert!(only["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["action"] == "read"
            && e["resource"].as_str().unwrap().starts_with("application:")));
    let (code, expired) = json(&[
        "what-can",
        "--bundle",
        path(&b),
        "--as",
        "virtualaccount:legacy-exporter",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(expired["denied"], "principal_expired");
}

#[test]
fn tenant_files_give_the_bundle_answers() {
    let b = bundle("same");
    let root = repo_root();
    let args = [
        "--resource",
        "mcp-server:jira",
        "--action",
        "use",
        "--now",
        NOW,
        "--json",
    ];
    let mut from_bundle = vec!["who-can", "--bundle", path(&b)];
    from_bundle.extend(args);
    let gateway = root.join("examples/gateway.yaml");
    let acme = root.join("examples/acme");
    let mut from_files = vec!["who-can", "--gateway", path(&gateway), path(&acme)];
    from_files.extend(args);
    assert_eq!(json(&from_bundle), json(&from_files));
}

#[test]
fn unknown_names_are_errors() {
    let b = bundle("errors");
    for args in [
        vec![
            "who-can",
            "--bundle",
            path(&b),
            "--resource",
            "model:nope/x",
            "--action",
            "use",
        ],
        vec![
            "who-can",
            "--bundle",
            path(&b),
            "--resource",
            "model:openai-main/o3",
            "--action",
            "deploy",
        ],
        vec![
            "what-can",
            "--bundle",
            path(&b),
            "--as",
            "user:nobody@acme.com",
        ],
        vec![
            "what-can",
            "--bundle",
            path(&b),
            "--as",
            "user:carol@acme.com",
            "--type",
            "spaceship",
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error:"),
            "{args:?}"
        );
    }
}

#[test]
fn diff_groups_changes_by_cause() {
    let root = repo_root();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/diff");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for entry in std::fs::read_dir(root.join("examples/acme/keys")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("keys").join(entry.file_name())).unwrap();
    }
    let source = std::fs::read_to_string(root.join("examples/acme/tenant.yaml")).unwrap();
    let changed = source
        .replace(
            "members: [carol@acme.com, dave@acme.com, frank@acme.com, grace@acme.com]",
            "members: [carol@acme.com, frank@acme.com, grace@acme.com]",
        )
        .replace(
            "  - {email: judy@acme.com}",
            "  - {email: judy@acme.com, active: false}",
        )
        .replace(
            "- 5f1c7a52-leaked-in-ci-log",
            "- 5f1c7a52-leaked-in-ci-log\n    - 77aa-second-leak",
        );
    assert_ne!(source, changed, "the example changed under the test");
    std::fs::write(dir.join("tenant.yaml"), changed).unwrap();
    let old = bundle("diff-old");
    let gateway = root.join("examples/gateway.yaml");

    let (code, diff) = json(&[
        "diff",
        path(&old),
        path(&dir),
        "--gateway",
        path(&gateway),
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 2, "changes exit 2");
    let changes = diff["changes"].as_array().unwrap();
    assert_eq!(
        diff["summary"]["changes"].as_u64().unwrap() as usize,
        changes.len()
    );
    assert_eq!(diff["summary"]["gained"], 0);
    let dave: Vec<&Value> = changes
        .iter()
        .filter(|c| c["principal"] == "user:dave@acme.com")
        .collect();
    assert!(!dave.is_empty());
    for c in &dave {
        assert_eq!(c["before"], "allow");
        assert_eq!(c["after"], "deny");
        assert_eq!(
            c["causes"][0],
            "user:dave@acme.com removed from team:ml-engineers"
        );
        assert!(c["before_grant"]
            .as_str()
            .unwrap()
            .contains("team:ml-engineers"));
    }
    assert!(changes.iter().any(
        |c| c["principal"] == "user:judy@acme.com" && c["after_reason"] == "principal_inactive"
    ));
    let groups = diff["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    // A revoked token id decides no `--as` triple: it is listed, not counted.
    assert_eq!(
        diff["notes"],
        serde_json::json!(["acme: revoked token ids: 1 added, 0 removed"])
    );

    // Markdown for a pull request: counts first, a table of groups, then rows.
    let out = run(&[
        "diff",
        path(&old),
        path(&dir),
        "--gateway",
        path(&gateway),
        "--now",
        NOW,
        "--markdown",
    ]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("### Gatehouse access changes"), "{md}");
    assert!(md.contains("lost, in 2 group(s)"), "{md}");
    assert!(md.contains("| `user:dave@acme.com` |"), "{md}");

    // The same policy twice: no changes, exit 0.
    let out = run(&["diff", path(&old), path(&old), "--now", NOW]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("0 decision(s) change"));
}

#[test]
fn check_explains_a_denial() {
    let b = bundle("explain");
    let (code, out) = json(&[
        "check",
        "--bundle",
        path(&b),
        "--as",
        "user:dave@acme.com",
        "--method",
        "POST",
        "--path",
        "/api/llm/v1/chat/completions",
        "--body",
        r#"{"model":"openai-main/o3"}"#,
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(out["reason"], "not_authorized_subject");
    let explain = &out["explain"];
    assert_eq!(
        explain["subjects"],
        serde_json::json!(["user:dave@acme.com", "team:ml-engineers", "team:everyone"])
    );
    let o3 = &explain["searched"][0];
    assert_eq!(o3["resource"], "model:openai-main/o3");
    assert_eq!(
        o3["authorized_subjects"],
        serde_json::json!(["user:carol@acme.com", "team:research"])
    );
    assert_eq!(o3["admitted"], serde_json::json!([]));
    let account = &explain["searched"][1];
    assert_eq!(account["resource"], "provider-account:openai-main");
    assert_eq!(
        account["held"],
        serde_json::json!(["team:ml-engineers provider-account-user"])
    );

    // no_grant: what would have granted it, at each level and tenant-wide.
    let (_, out) = json(&[
        "check",
        "--bundle",
        path(&b),
        "--as",
        "user:rupert@acme.com",
        "--method",
        "POST",
        "--path",
        "/api/llm/v1/chat/completions",
        "--body",
        r#"{"model":"openai-main/gpt-4o"}"#,
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(out["reason"], "no_grant");
    let explain = &out["explain"];
    assert_eq!(
        explain["searched"][0]["roles_granting"],
        serde_json::json!(["model-user"])
    );
    assert_eq!(
        explain["searched"][1]["roles_granting"],
        serde_json::json!(["provider-account-manager", "provider-account-user"])
    );
    assert!(explain["tenant_roles_granting"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "model-consumer"));
}

const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

/// A tenant whose names are made to fool a reviewer: Markdown links, images, mentions and HTML
/// in team names, a backtick, bidi controls in a user and a resource. `grants` are the
/// collaborators of the resource, `link_members` the members of the team named like a link.
fn hostile_tenant(dir: &Path, link_members: &str, grants: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let collaborators: String = grants
        .iter()
        .map(|s| format!("      - {{subject: \"{s}\", role: mcp-server-user}}\n"))
        .collect();
    let text = format!(
        r#"tenant:
  name: acme
  hosts: ["acme.example.com"]
  issuer: https://cp.example.com
  jwks: {JWKS}
users:
  - {{email: "eve\u202e@acme.com"}}
  - {{email: mallory@acme.com}}
  - {{email: trudy@acme.com}}
  - {{email: victor@acme.com}}
  - {{email: walter@acme.com}}
teams:
  - {{name: "x](https://evil)", members: [{link_members}]}}
  - {{name: "@org/team", members: [trudy@acme.com]}}
  - {{name: "<img/src=x>", members: [walter@acme.com]}}
  - {{name: "![x](https://e.example/t.png)", members: [victor@acme.com]}}
  - {{name: "a`b", members: [victor@acme.com]}}
resources:
  - type: mcp-server
    name: "jira\u202eexe"
    collaborators:
{collaborators}    tools:
      - name: "s\u2066x"
"#
    );
    std::fs::write(dir.join("tenant.yaml"), text).unwrap();
}

/// Every name of the hostile tenant, as it is.
const HOSTILE: [&str; 7] = [
    "x](https://evil)",
    "@org/team",
    "<img/src=x>",
    "![x](https://e.example/t.png)",
    "a`b",
    "\u{202e}",
    "\u{2066}",
];

/// The hidden characters and what a terminal or a code span shows for them.
fn assert_no_hidden(out: &str) {
    for c in ['\u{202e}', '\u{2066}', '\u{1b}'] {
        assert!(!out.contains(c), "{c:?} shown raw in:\n{out}");
    }
    assert!(
        !out.lines().any(|l| l.trim_start().starts_with("::")),
        "a workflow command in:\n{out}"
    );
}

#[test]
fn names_from_tenant_files_are_escaped_in_every_report() {
    use pulldown_cmark::{Event, Options, Parser, Tag};

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/hostile");
    let (old, new) = (dir.join("old"), dir.join("new"));
    hostile_tenant(&old, "mallory@acme.com", &["team:x](https://evil)"]);
    hostile_tenant(
        &new,
        "",
        &[
            "team:@org/team",
            "team:<img/src=x>",
            "team:![x](https://e.example/t.png)",
            "team:a`b",
            "user:eve\u{202e}@acme.com",
        ],
    );
    let resource = "mcp-server:jira\u{202e}exe";

    // JSON keeps the names as they are: machine-readable.
    let (code, diff) = json(&["diff", path(&old), path(&new), "--now", NOW, "--json"]);
    assert_eq!(code, 2);
    let changes = diff["changes"].as_array().unwrap();
    assert!(changes
        .iter()
        .any(|c| c["principal"] == "user:eve\u{202e}@acme.com" && c["resource"] == resource));

    // Markdown: every name is one code span, nothing else is live.
    let out = run(&["diff", path(&old), path(&new), "--now", NOW, "--markdown"]);
    assert_eq!(out.status.code(), Some(2));
    let md = String::from_utf8(out.stdout).unwrap();
    assert_no_hidden(&md);
    for span in [
        "`team:x](https://evil)`",
        "`team:@org/team`",
        "`team:<img/src=x>`",
        "`team:![x](https://e.example/t.png)`",
        "``team:a`b``",
        "`user:eve\\u{202e}@acme.com`",
        "`mcp-server:jira\\u{202e}exe`",
        "| `user:mallory@acme.com` | `use` | `mcp-server:jira\\u{202e}exe` |",
    ] {
        assert!(md.contains(span), "{span} missing from:\n{md}");
    }
    let mut code_text = String::new();
    let mut tables = 0;
    for event in Parser::new_ext(&md, Options::ENABLE_TABLES) {
        match event {
            Event::Code(code) => code_text.push_str(&code),
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Start(Tag::Link { .. } | Tag::Image { .. })
            | Event::Html(_)
            | Event::InlineHtml(_) => panic!("live markup {event:?} in:\n{md}"),
            _ => {}
        }
    }
    assert_eq!(tables, 3, "a name broke a table:\n{md}");
    for (name, shown) in HOSTILE.iter().zip([
        "x](https://evil)",
        "@org/team",
        "<img/src=x>",
        "![x](https://e.example/t.png)",
        "a`b",
        "\\u{202e}",
        "\\u{2066}",
    ]) {
        assert!(
            code_text.contains(shown),
            "{name:?} not in a code span:\n{md}"
        );
    }
    // Outside code spans, no name text is left.
    let plain: String = Parser::new_ext(&md, Options::ENABLE_TABLES)
        .filter_map(|e| match e {
            Event::Text(t) => Some(t.into_string()),
            _ => None,
        })
        .collect();
    for name in ["evil", "@org", "img", "t.png", "eve", "jira"] {
        assert!(
            !plain.contains(name),
            "{name} outside a code span:\n{plain}"
        );
    }

    // Text: the names as they are, hidden characters shown escaped.
    let out = run(&["diff", path(&old), path(&new), "--now", NOW]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_no_hidden(&text);
    assert!(
        text.contains("user:eve\\u{202e}@acme.com use mcp-server:jira\\u{202e}exe: deny (no_grant) -> allow (user:eve\\u{202e}@acme.com mcp-server-user on mcp-server:jira\\u{202e}exe)"),
        "{text}"
    );
    assert!(
        text.contains("user:mallory@acme.com removed from team:x](https://evil)"),
        "{text}"
    );
    let who = run(&[
        "who-can",
        path(&new),
        "--resource",
        resource,
        "--action",
        "use",
        "--now",
        NOW,
    ]);
    let who = String::from_utf8(who.stdout).unwrap();
    assert_no_hidden(&who);
    assert!(
        who.starts_with("who can use mcp-server:jira\\u{202e}exe (tenant acme)\n"),
        "{who}"
    );
    let what = run(&[
        "what-can",
        path(&new),
        "--as",
        "user:eve\u{202e}@acme.com",
        "--now",
        NOW,
    ]);
    let what = String::from_utf8(what.stdout).unwrap();
    assert_no_hidden(&what);
    assert!(
        what.contains("use tool:jira\\u{202e}exe/s\\u{2066}x"),
        "{what}"
    );
}

#[test]
fn diagnostics_show_control_characters_escaped() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/hostile-diagnostics");
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        r#"tenant:
  name: acme
  issuer: https://cp.example.com
  jwks: {JWKS}
users:
  - {{email: mallory@acme.com, role: "x\n::error ::pwned"}}
  - {{email: trudy@acme.com, role: "\u001b]8;;https://evil\u0007y\u202e"}}
"#
    );
    std::fs::write(dir.join("tenant.yaml"), text).unwrap();
    let out_file = dir.join("out.bundle");
    for args in [
        vec!["compile", path(&dir), "-o", path(&out_file)],
        vec![
            "who-can",
            path(&dir),
            "--resource",
            "mcp-server:x",
            "--action",
            "use",
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_no_hidden(&stderr);
        assert!(
            stderr.contains("error: unknown role `x\\n::error ::pwned`"),
            "{stderr}"
        );
        assert!(
            stderr.contains("`\\u{001b}]8;;https://evil\\u{0007}y\\u{202e}`"),
            "{stderr}"
        );
    }
}

#[test]
fn check_shows_names_escaped() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/hostile-check");
    hostile_tenant(
        &dir.join("tenant"),
        "mallory@acme.com",
        &["team:x](https://evil)"],
    );
    let gateway = dir.join("gateway.yaml");
    std::fs::write(
        &gateway,
        "default: deny\nroutes:\n  - name: mcp\n    match: {path: \"/mcp/{server}\"}\n    \
         resource: \"mcp-server:{server}\"\n    action: use\n",
    )
    .unwrap();
    let b = dir.join("check.bundle");
    let out = run(&[
        "compile",
        "--gateway",
        path(&gateway),
        path(&dir.join("tenant")),
        "-o",
        path(&b),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "check",
        "--bundle",
        path(&b),
        "--method",
        "GET",
        "--as",
        "user:eve\u{202e}@acme.com",
        "--path",
        "/mcp/jira\u{202e}exe",
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_no_hidden(&text);
    for line in [
        "  principal  user:eve\\u{202e}@acme.com\n",
        "  resource   mcp-server:jira\\u{202e}exe\n",
        "why: no subject of user:eve\\u{202e}@acme.com holds a role that allows `use` on \
         mcp-server:jira\\u{202e}exe or its ancestors\n",
        "  subjects tried        user:eve\\u{202e}@acme.com, team:everyone\n",
        "  searched mcp-server:jira\\u{202e}exe\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}

/// Access review knows the provisioning modes: a just-in-time tenant's members are one more
/// principal (`user:*@<domain>`) in `who-can`, `what-can --as` answers for any of them, and a
/// user outside the domains is still unknown; a SCIM tenant's provisioned users come from its
/// directory file.
#[test]
fn who_can_and_what_can_know_the_provisioning_modes() {
    let vector = repo_root().join("tests/vectors/provisioning");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("provisioning.bundle");
    let files = [
        "tenant-acme.yaml",
        "tenant-globex.yaml",
        "tenant-globex.directory.json",
    ]
    .map(|f| vector.join(f));
    let mut args = vec!["compile", "--serial", "1", "-o", path(&out)];
    args.extend(files.iter().map(|f| path(f)));
    let done = run(&args);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let b = path(&out);

    let who = |tenant: &str, resource: &str, action: &str| {
        let (code, v) = json(&[
            "who-can",
            "--bundle",
            b,
            "--tenant",
            tenant,
            "--resource",
            resource,
            "--action",
            action,
            "--json",
        ]);
        assert_eq!(code, 0, "{v}");
        let names = |key: &str| -> Vec<String> {
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["principal"].as_str().unwrap().to_string())
                .collect()
        };
        (names("allowed"), names("blocked"))
    };
    assert_eq!(
        who("acme", "repository:prompts", "read"),
        (
            vec![
                "user:alice@acme.com".into(),
                "user:dave@acme.com".into(),
                "user:*@acme.com".into()
            ],
            vec!["user:bob@acme.com".into()]
        )
    );
    // team:everyone's grant is not the ML team's: a just-in-time member cannot use the model.
    assert_eq!(
        who("acme", "model:openai-main/gpt-4o", "use").0,
        ["user:alice@acme.com"]
    );
    assert_eq!(
        who("globex", "provider-account:openai-main", "use"),
        (
            vec!["user:hank@globex.com".into()],
            vec!["user:ivy@globex.com".into()]
        )
    );

    let (code, what) = json(&[
        "what-can",
        "--bundle",
        b,
        "--tenant",
        "acme",
        "--as",
        "user:Newbie@ACME.com",
        "--json",
    ]);
    assert_eq!(code, 0, "{what}");
    let allowed: Vec<&str> = what["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        allowed,
        ["prompt:prompts/summarize", "repository:prompts"],
        "{what}"
    );
    for outsider in [
        "user:x@evil.example",
        "user:x@eu.acme.com",
        "user:@acme.com",
    ] {
        let out = run(&[
            "what-can", "--bundle", b, "--tenant", "acme", "--as", outsider, "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{outsider}");
    }
}

/// examples/acme in `dir` with a credentials file of `keys` (JSON objects): API keys are ids
/// and hashes in the policy, so any hash serves the analyses; key `00000000000000a1` has the
/// digest of the real key returned.
fn acme_with_keys(dir: &Path, keys: &[serde_json::Value]) -> String {
    let root = repo_root();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for entry in std::fs::read_dir(root.join("examples/acme/keys")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("keys").join(entry.file_name())).unwrap();
    }
    std::fs::copy(
        root.join("examples/acme/tenant.yaml"),
        dir.join("tenant.yaml"),
    )
    .unwrap();
    let file = serde_json::json!({"credentials": {"tenant": "acme"}, "keys": keys});
    std::fs::write(
        dir.join("acme.credentials.json"),
        serde_json::to_string_pretty(&file).unwrap(),
    )
    .unwrap();
    real_key().key
}

fn real_key() -> gatehouse_engine::credential::IssuedKey {
    gatehouse_engine::credential::assemble(
        gatehouse_engine::credential::KeyId(0xa1),
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg",
    )
}

fn key_entry(id: &str, principal: &str, scopes: &[&str]) -> serde_json::Value {
    let sha256 = if id == "00000000000000a1" {
        real_key()
            .digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    } else {
        "ab".repeat(32)
    };
    serde_json::json!({
        "id": id,
        "sha256": sha256,
        "principal": principal,
        "scopes": scopes,
        "created": "2026-10-01T00:00:00Z",
    })
}

/// eval-runner's keys: a1 `model:anthropic-main/*:use`, a2 `model:anthropic-main/claude-opus-4`,
/// a3 revoked, a4 expired (at NOW); carol's b1 unscoped.
fn key_entries() -> Vec<serde_json::Value> {
    let mut revoked = key_entry("00000000000000a3", "virtualaccount:eval-runner", &[]);
    set(&mut revoked, "revoked", "2026-11-15T00:00:00Z".into());
    let mut expired = key_entry("00000000000000a4", "virtualaccount:eval-runner", &[]);
    set(&mut expired, "expires", "2026-11-01T00:00:00Z".into());
    vec![
        key_entry(
            "00000000000000a1",
            "virtualaccount:eval-runner",
            &["model:anthropic-main/*:use"],
        ),
        key_entry(
            "00000000000000a2",
            "virtualaccount:eval-runner",
            &["model:anthropic-main/claude-opus-4"],
        ),
        revoked,
        expired,
        key_entry("00000000000000b1", "user:carol@acme.com", &[]),
    ]
}

fn set(entry: &mut Value, field: &str, value: Value) {
    entry
        .as_object_mut()
        .unwrap()
        .insert(field.to_owned(), value);
}

/// The policy of `dir` compiled into `dir.bundle`.
fn compile_dir(dir: &Path) -> PathBuf {
    let root = repo_root();
    let out = dir.with_extension("bundle");
    let done = run(&[
        "compile",
        "--gateway",
        path(&root.join("examples/gateway.yaml")),
        path(dir),
        "-o",
        path(&out),
        "--serial",
        "1",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

fn check_model(b: &Path, identity: &[&str], model: &str) -> (i32, Value) {
    let body = format!(r#"{{"model":"{model}"}}"#);
    let mut args = vec!["check", "--bundle", path(b)];
    args.extend_from_slice(identity);
    args.extend([
        "--method",
        "POST",
        "--path",
        "/api/llm/v1/chat/completions",
        "--body",
        &body,
        "--now",
        NOW,
        "--json",
    ]);
    json(&args)
}

#[test]
fn check_decides_as_an_api_key() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/keys-check");
    let key = acme_with_keys(&dir, &key_entries());
    let b = compile_dir(&dir);
    let sonnet = "anthropic-main/claude-sonnet-4";

    // In scope: allowed, the key named in the answer.
    let (code, out) = check_model(&b, &["--credential", "00000000000000a1"], sonnet);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["credential"], "00000000000000a1");
    assert_eq!(out["principal"], "virtualaccount:eval-runner");
    // Out of scope: denied before the resource is looked up.
    let (code, out) = check_model(&b, &["--credential", "00000000000000a2"], sonnet);
    assert_eq!(code, 2);
    assert_eq!(out["reason"], "credential_out_of_scope");
    assert_eq!(out["credential"], "00000000000000a2");
    // Revoked, expired (at --now), unknown.
    let (_, out) = check_model(&b, &["--credential", "00000000000000a3"], sonnet);
    assert_eq!(out["reason"], "token_revoked");
    assert_eq!(out["credential"], "00000000000000a3");
    let (_, out) = check_model(&b, &["--credential", "00000000000000a4"], sonnet);
    assert_eq!(out["reason"], "token_expired");
    let (_, out) = check_model(&b, &["--credential", "00000000000000ff"], sonnet);
    assert_eq!(out["reason"], "credential_unknown");

    // The key presented as a bearer token: the same answer.
    let (code, out) = check_model(&b, &["--token", &key], sonnet);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["credential"], "00000000000000a1");
    let (_, out) = check_model(&b, &["--token", &key], "openai-main/gpt-4o");
    assert_eq!(out["reason"], "credential_out_of_scope");

    // --as with --credential: the key's principal, or an error.
    let (code, _) = check_model(
        &b,
        &[
            "--credential",
            "00000000000000a1",
            "--as",
            "virtualaccount:eval-runner",
        ],
        sonnet,
    );
    assert_eq!(code, 0);
    let out = run(&[
        "check",
        "--bundle",
        path(&b),
        "--credential",
        "00000000000000a1",
        "--as",
        "user:carol@acme.com",
        "--method",
        "POST",
        "--path",
        "/api/llm/v1/chat/completions",
        "--body",
        r#"{"model":"anthropic-main/claude-sonnet-4"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("belongs to `virtualaccount:eval-runner`, not `user:carol@acme.com`"),
        "{stderr}"
    );
    // A malformed id is a usage error (exit 1: 2 means deny).
    let out = run(&[
        "check",
        "--bundle",
        path(&b),
        "--credential",
        "A1",
        "--method",
        "GET",
        "--path",
        "/",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("16 hex digits"));

    // Text output names the key.
    let out = run(&[
        "check",
        "--bundle",
        path(&b),
        "--credential",
        "00000000000000a1",
        "--method",
        "POST",
        "--path",
        "/api/llm/v1/chat/completions",
        "--body",
        r#"{"model":"anthropic-main/claude-sonnet-4"}"#,
        "--now",
        NOW,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("credential") && text.contains("00000000000000a1"),
        "{text}"
    );
}

#[test]
fn who_can_and_what_can_know_api_keys() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/keys-review");
    acme_with_keys(&dir, &key_entries());
    let b = compile_dir(&dir);

    let (code, who) = json(&[
        "who-can",
        "--bundle",
        path(&b),
        "--resource",
        "model:anthropic-main/claude-sonnet-4",
        "--action",
        "use",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    let allowed = who["allowed"].as_array().unwrap();
    let row = |p: &str| allowed.iter().find(|e| e["principal"] == p).unwrap();
    // a2's scope excludes it, a3 is revoked, a4 expired.
    assert_eq!(
        row("virtualaccount:eval-runner")["credentials"],
        serde_json::json!(["00000000000000a1"])
    );
    assert!(allowed.iter().all(|e| e["credentials"].is_array()));
    // Before a4 expired.
    let (_, before) = json(&[
        "who-can",
        "--bundle",
        path(&b),
        "--resource",
        "model:anthropic-main/claude-sonnet-4",
        "--action",
        "use",
        "--now",
        "2026-10-15T00:00:00Z",
        "--json",
    ]);
    let allowed = before["allowed"].as_array().unwrap();
    let eval = allowed
        .iter()
        .find(|e| e["principal"] == "virtualaccount:eval-runner")
        .unwrap();
    assert_eq!(
        eval["credentials"],
        serde_json::json!(["00000000000000a1", "00000000000000a4"])
    );
    // The text report lists the keys too.
    let out = run(&[
        "who-can",
        "--bundle",
        path(&b),
        "--resource",
        "model:anthropic-main/claude-sonnet-4",
        "--action",
        "use",
        "--now",
        NOW,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("API keys of allowed principals"), "{text}");
    assert!(
        text.contains("00000000000000a1  virtualaccount:eval-runner"),
        "{text}"
    );
    assert!(!text.contains("00000000000000a2"), "{text}");

    // what-can narrowed to the key's scope.
    let (code, whole) = json(&[
        "what-can",
        "--bundle",
        path(&b),
        "--as",
        "virtualaccount:eval-runner",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert!(whole.get("credential").is_none());
    let (code, what) = json(&[
        "what-can",
        "--bundle",
        path(&b),
        "--credential",
        "00000000000000a1",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(what["credential"], "00000000000000a1");
    assert_eq!(what["principal"], "virtualaccount:eval-runner");
    assert_eq!(
        what["scope"],
        serde_json::json!(["model:anthropic-main/*:use"])
    );
    let allowed = what["allowed"].as_array().unwrap();
    assert!(!allowed.is_empty());
    assert!(allowed.len() < whole["allowed"].as_array().unwrap().len());
    for e in allowed {
        assert_eq!(e["action"], "use");
        assert!(e["resource"]
            .as_str()
            .unwrap()
            .starts_with("model:anthropic-main/"));
    }
    assert!(what["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["reason"] == "credential_out_of_scope"
            && e["resource"] == "provider-account:anthropic-main"));
    // With --as: the key's principal, or an error.
    let (code, same) = json(&[
        "what-can",
        "--bundle",
        path(&b),
        "--as",
        "virtualaccount:eval-runner",
        "--credential",
        "00000000000000a1",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(same, what);
    let out = run(&[
        "what-can",
        "--bundle",
        path(&b),
        "--as",
        "user:carol@acme.com",
        "--credential",
        "00000000000000a1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    // Revoked and expired keys can do nothing, and say why.
    for (id, reason) in [
        ("00000000000000a3", "token_revoked"),
        ("00000000000000a4", "token_expired"),
    ] {
        let (code, what) = json(&[
            "what-can",
            "--bundle",
            path(&b),
            "--credential",
            id,
            "--now",
            NOW,
            "--json",
        ]);
        assert_eq!(code, 2);
        assert_eq!(what["denied"], reason);
        assert!(what["allowed"].as_array().unwrap().is_empty());
    }
    let out = run(&[
        "what-can",
        "--bundle",
        path(&b),
        "--credential",
        "00000000000000a3",
        "--now",
        NOW,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("token_revoked"), "{text}");
}

#[test]
fn diff_lists_api_key_changes() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/keys-diff");
    let gateway = repo_root().join("examples/gateway.yaml");
    acme_with_keys(&base.join("old"), &key_entries());
    let mut keys = key_entries();
    set(
        keys.get_mut(0).unwrap(),
        "scopes",
        serde_json::json!(["model:anthropic-main/claude-sonnet-4:use"]),
    );
    set(
        keys.get_mut(1).unwrap(),
        "revoked",
        "2026-11-20T00:00:00Z".into(),
    );
    keys.push(key_entry(
        "00000000000000c1",
        "virtualaccount:deploy-bot",
        &[],
    ));
    acme_with_keys(&base.join("new"), &keys);

    let (code, diff) = json(&[
        "diff",
        path(&base.join("old")),
        path(&base.join("new")),
        "--gateway",
        path(&gateway),
        "--now",
        NOW,
        "--json",
    ]);
    // Keys change no principal's access: listed, not counted.
    assert_eq!(code, 0, "{diff}");
    assert_eq!(diff["summary"]["changes"], 0);
    let changes: Vec<(&str, &str)> = diff["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["change"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("00000000000000a1", "rescoped"),
            ("00000000000000a2", "revoked"),
            ("00000000000000c1", "created"),
        ]
    );
    let rescoped = &diff["credentials"][0];
    assert_eq!(
        rescoped["before"],
        serde_json::json!(["model:anthropic-main/*:use"])
    );
    assert_eq!(
        rescoped["after"],
        serde_json::json!(["model:anthropic-main/claude-sonnet-4:use"])
    );
    assert_eq!(
        diff["credentials"][2]["principal"],
        "virtualaccount:deploy-bot"
    );

    let out = run(&[
        "diff",
        path(&base.join("old")),
        path(&base.join("new")),
        "--gateway",
        path(&gateway),
        "--now",
        NOW,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "api key: acme: API key 00000000000000a2 of virtualaccount:eval-runner revoked"
        ),
        "{text}"
    );
    let out = run(&[
        "diff",
        path(&base.join("old")),
        path(&base.join("new")),
        "--gateway",
        path(&gateway),
        "--now",
        NOW,
        "--markdown",
    ]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("**API keys**"), "{md}");
    assert!(
        md.contains("`00000000000000c1`") || md.contains("00000000000000c1"),
        "{md}"
    );
}
