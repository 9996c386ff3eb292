//! MCP tools through the real binary on examples/acme: `check --tools-list` (what a client's
//! `tools/list` shows a caller: `--as`, a token whose claims add teams, an API key with a scope),
//! and `who-can` / `what-can` asked about tools.

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

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("tools-list")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The example gateway file and `inputs` compiled into `<dir>/policy.bundle`.
fn compile(dir: &Path, inputs: &[&Path]) -> PathBuf {
    let out = dir.join("policy.bundle");
    let gateway = repo_root().join("examples/gateway.yaml");
    let mut args = vec!["compile", "--gateway", path(&gateway)];
    args.extend(inputs.iter().map(|p| path(p)));
    args.extend(["-o", path(&out), "--serial", "1"]);
    let done = run(&args);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

fn acme(name: &str) -> PathBuf {
    compile(&scratch(name), &[&repo_root().join("examples/acme")])
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

/// `check --tools-list SERVER --json` for the caller `identity`.
fn tools_list(bundle: &Path, identity: &[&str], server: &str) -> (i32, Value) {
    let mut args = vec!["check", "--bundle", path(bundle), "--host", "localhost"];
    args.extend_from_slice(identity);
    args.extend(["--tools-list", server, "--now", NOW, "--json"]);
    json(&args)
}

fn strings(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// `(name, reason)` of every tool, `reason` `None` when allowed.
fn decisions(list: &Value) -> Vec<(&str, Option<&str>)> {
    list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["allowed"].as_bool().unwrap(), t["reason"].is_null());
            (t["name"].as_str().unwrap(), t["reason"].as_str())
        })
        .collect()
}

#[test]
fn tools_list_keeps_the_tools_a_caller_may_call() {
    let b = acme("as");
    // Every member may use the GitHub server's tools; the disabled one is trimmed for everyone,
    // tenant admins included.
    for who in ["user:carol@acme.com", "user:alice@acme.com"] {
        let (code, list) = tools_list(&b, &["--as", who], "github");
        assert_eq!(code, 0, "{list}");
        assert_eq!(list["principal"], who);
        assert_eq!(list["path"], "/api/llm/mcp/github/server");
        assert_eq!(list["route"], "mcp");
        assert_eq!(list["list"]["allowed"], true);
        assert_eq!(list["list"]["resource"], "mcp-server:github");
        assert_eq!(
            strings(&list["shown"]),
            ["create_issue", "list_pull_requests", "search_code"]
        );
        assert!(decisions(&list).contains(&("delete_repo", Some("resource_disabled"))));
        let create = &list["tools"].as_array().unwrap()[0];
        assert_eq!(create["resource"], "tool:github/create_issue");
        assert_eq!(create["action"], "use");
        assert!(create["grant"].as_str().is_some());
    }

    // Support may use Jira's tools; a member of nothing there gets no list at all.
    let (code, list) = tools_list(&b, &["--as", "user:kira@acme.com"], "jira");
    assert_eq!(code, 0);
    assert_eq!(
        strings(&list["shown"]),
        ["close_ticket", "create_ticket", "search_tickets"]
    );
    let (code, list) = tools_list(&b, &["--as", "user:carol@acme.com"], "jira");
    assert_eq!(code, 2);
    assert_eq!(list["list"]["reason"], "no_grant");
    assert!(strings(&list["shown"]).is_empty());
    assert!(decisions(&list).iter().all(|(_, r)| *r == Some("no_grant")));

    // A deactivated user: nothing, for the principal's own reason.
    let (code, list) = tools_list(&b, &["--as", "user:bob@acme.com"], "github");
    assert_eq!(code, 2);
    assert_eq!(list["list"]["reason"], "principal_inactive");
    assert!(decisions(&list)
        .iter()
        .all(|(_, r)| *r == Some("principal_inactive")));

    // A server the tenant does not have.
    let (code, list) = tools_list(&b, &["--as", "user:carol@acme.com"], "gitlab");
    assert_eq!(code, 2);
    assert_eq!(list["list"]["reason"], "resource_unknown");
    assert!(list["tools"].as_array().unwrap().is_empty());
}

#[test]
fn tools_list_as_text() {
    let b = acme("text");
    let out = run(&[
        "check",
        "--bundle",
        path(&b),
        "--as",
        "user:carol@acme.com",
        "--tools-list",
        "github",
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let (shown, trimmed) = text.split_once("trimmed").unwrap();
    assert!(
        text.starts_with("tools/list on mcp-server:github: allow"),
        "{text}"
    );
    assert!(shown.contains("create_issue") && !shown.contains("delete_repo"));
    assert!(trimmed.contains("delete_repo") && trimmed.contains("resource_disabled"));
}

#[test]
fn tools_list_reads_the_token_as_the_filter_does() {
    let dir = scratch("token");
    let b = acme("token");
    let key = repo_root().join("examples/acme/keys/okta.private.jwk.json");
    // An Okta token for niaj (a stored member of `platform`, mcp-server-viewer on Jira): the
    // list is allowed, every tools/call is not.
    let mint = |email: &str, groups: &str| {
        let out = run(&[
            "token",
            "mint",
            "--key",
            path(&key),
            "--issuer",
            "https://acme.okta.com/oauth2/default",
            "--sub",
            "00u1",
            "--aud",
            "api://gateway",
            "--claim",
            &format!("email={email}"),
            "--claim",
            &format!("groups={groups}"),
            "--now",
            NOW,
            "--out",
            path(&dir.join("token")),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(dir.join("token"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let token = mint("niaj@acme.com", "[]");
    let (code, list) = tools_list(&b, &["--token", &token], "jira");
    assert_eq!(code, 2, "{list}");
    assert_eq!(list["principal"], "user:niaj@acme.com");
    assert_eq!(list["list"]["allowed"], true);
    assert!(decisions(&list).iter().all(|(_, r)| *r == Some("no_grant")));
    // Carol is in `support` only through the token's `groups` claim, which `--as` cannot see:
    // the list follows the token.
    let token = mint("carol@acme.com", r#"["support"]"#);
    let (code, list) = tools_list(&b, &["--token", &token], "jira");
    assert_eq!(code, 0, "{list}");
    assert_eq!(strings(&list["shown"]).len(), 3);
    // A token the tenant cannot verify: the list itself is refused.
    let (code, list) = tools_list(&b, &["--token", "not.a.token"], "jira");
    assert_eq!(code, 2);
    assert_eq!(list["list"]["allowed"], false);
    assert!(strings(&list["shown"]).is_empty());
}

#[test]
fn tools_list_narrows_to_an_api_keys_scope() {
    let dir = scratch("keys");
    let tenant = dir.join("acme");
    std::fs::create_dir_all(tenant.join("keys")).unwrap();
    let examples = repo_root().join("examples/acme");
    for entry in std::fs::read_dir(examples.join("keys")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tenant.join("keys").join(entry.file_name())).unwrap();
    }
    std::fs::copy(examples.join("tenant.yaml"), tenant.join("tenant.yaml")).unwrap();
    let key = |id: &str, scopes: &[&str]| {
        serde_json::json!({
            "id": id,
            "sha256": "ab".repeat(32),
            "principal": "virtualaccount:ci-bot",
            "scopes": scopes,
            "created": "2026-10-01T00:00:00Z",
        })
    };
    let file = serde_json::json!({
        "credentials": {"tenant": "acme"},
        "keys": [
            key("00000000000000c1", &["mcp-server:github:read", "tool:github/create_issue"]),
            key("00000000000000c2", &["tool:github/*"]),
        ],
    });
    std::fs::write(
        tenant.join("acme.credentials.json"),
        serde_json::to_string_pretty(&file).unwrap(),
    )
    .unwrap();
    let b = compile(&dir, &[&tenant]);

    let (code, list) = tools_list(&b, &["--credential", "00000000000000c1"], "github");
    assert_eq!(code, 0, "{list}");
    assert_eq!(list["credential"], "00000000000000c1");
    assert_eq!(list["principal"], "virtualaccount:ci-bot");
    assert_eq!(strings(&list["shown"]), ["create_issue"]);
    let reasons = decisions(&list);
    assert!(reasons.contains(&("search_code", Some("credential_out_of_scope"))));
    // The scope is checked before the resource: out of scope even where it is disabled.
    assert!(reasons.contains(&("delete_repo", Some("credential_out_of_scope"))));

    // A key that may call the tools but not list them: the client sees no list.
    let (code, list) = tools_list(&b, &["--credential", "00000000000000c2"], "github");
    assert_eq!(code, 2);
    assert_eq!(list["list"]["reason"], "credential_out_of_scope");
    assert!(decisions(&list).contains(&("create_issue", None)));
    assert!(strings(&list["shown"]).is_empty());

    // --as must name the key's principal.
    let out = run(&[
        "check",
        "--bundle",
        path(&b),
        "--as",
        "user:carol@acme.com",
        "--credential",
        "00000000000000c1",
        "--tools-list",
        "github",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn tools_list_needs_a_route_or_a_path() {
    let dir = scratch("no-route");
    let gateway = dir.join("gateway.yaml");
    std::fs::write(
        &gateway,
        "routes:\n  - name: mcp\n    match: {path: \"/mcp/{server}\"}\n    resource: \"mcp-server:{server}\"\n    action: use\n",
    )
    .unwrap();
    let out = dir.join("policy.bundle");
    let acme = repo_root().join("examples/acme");
    let done = run(&[
        "compile",
        "--gateway",
        path(&gateway),
        path(&acme),
        "-o",
        path(&out),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let args = |extra: &[&'static str]| {
        let mut a: Vec<&str> = vec![
            "check",
            "--bundle",
            path(&out),
            "--as",
            "user:carol@acme.com",
            "--tools-list",
            "github",
            "--now",
            NOW,
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let refused = args(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--path"));
    // Given the path, the route decides every tools/call as the same resource: the server's.
    let given = args(&["--path", "/mcp/github", "--json"]);
    let list: Value = serde_json::from_slice(&given.stdout).unwrap();
    assert_eq!(given.status.code(), Some(0), "{list}");
    assert_eq!(list["tools"][0]["resource"], "mcp-server:github");
}

#[test]
fn who_can_and_what_can_answer_for_tools() {
    let b = acme("review");
    let (code, who) = json(&[
        "who-can",
        "--bundle",
        path(&b),
        "--resource",
        "tool:github/create_issue",
        "--action",
        "use",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    let allowed = who["allowed"].as_array().unwrap();
    let carol = allowed
        .iter()
        .find(|e| e["principal"] == "user:carol@acme.com")
        .unwrap();
    // Inherited from the server (SPEC 2.4).
    assert_eq!(
        carol["grant"],
        "team:everyone mcp-server-user on mcp-server:github"
    );
    assert!(allowed
        .iter()
        .any(|e| e["principal"] == "virtualaccount:ci-bot"));
    assert!(who["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["principal"] == "user:bob@acme.com" && e["reason"] == "principal_inactive"));

    let (code, what) = json(&[
        "what-can",
        "--bundle",
        path(&b),
        "--as",
        "user:kira@acme.com",
        "--type",
        "tool",
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code, 0);
    let pairs: Vec<(&str, &str)> = what["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["resource"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
            )
        })
        .collect();
    for tool in [
        "tool:github/create_issue",
        "tool:jira/create_ticket",
        "tool:jira/close_ticket",
    ] {
        assert!(pairs.contains(&(tool, "use")), "{tool}: {pairs:?}");
    }
    assert!(!pairs.iter().any(|(r, _)| !r.starts_with("tool:")));
    assert!(what["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["resource"] == "tool:github/delete_repo" && e["reason"] == "resource_disabled"));
}
