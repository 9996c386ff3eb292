//! `gatehouse compile --error-format`: the three renderings of the same diagnostics, and the
//! shell completions and man page generated from the command definitions.

#![expect(clippy::expect_used, reason = "test code: a panic is a test failure")]

use std::path::Path;
use std::process::Command;

const GATEHOUSE: &str = env!("CARGO_BIN_EXE_gatehouse");

const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fn broken_tenant(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("acme.yaml");
    let text = format!(
        "tenant:\n  name: acme\n  issuer: https://cp\n  jwks: {JWKS}\nusers:\n  - {{email: carol@acme.com, role: tenant-admn}}\nteams:\n  - {{name: ml}}\n  - {{name: ml, colour: red}}\n"
    );
    std::fs::write(&path, text).expect("write the tenant");
    path
}

fn compile(tenant: &Path, format: &str) -> (String, String, i32) {
    let out = Command::new(GATEHOUSE)
        .args(["compile", "--error-format", format, "-o"])
        .arg(tenant.with_extension("bundle"))
        .arg(tenant)
        .output()
        .expect("run gatehouse");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn json_is_one_object_per_diagnostic() {
    let dir = tempdir("json");
    let tenant = broken_tenant(&dir);
    let (stdout, stderr, code) = compile(&tenant, "json");
    assert_eq!(code, 1, "{stderr}");
    let diagnostics: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    let codes: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        codes,
        [
            "gatehouse::unknown-field",
            "gatehouse::unknown-role",
            "gatehouse::duplicate"
        ],
        "{stdout}"
    );
    let role = &diagnostics[1];
    assert_eq!(role["line"], 6);
    assert_eq!(role["column"], 35);
    assert_eq!(role["end_line"], 6);
    assert_eq!(role["end_column"], 46);
    assert_eq!(role["severity"], "error");
    assert_eq!(role["help"], "did you mean `tenant-admin`?");
    let dup = &diagnostics[2];
    assert_eq!(dup["labels"][0]["line"], 8);
    assert_eq!(dup["labels"][0]["message"], "`ml` first defined here");
    assert!(stderr.contains("3 error(s); no bundle written"), "{stderr}");
}

#[test]
fn human_draws_the_snippet_with_labels_and_help() {
    let dir = tempdir("human");
    let tenant = broken_tenant(&dir);
    let (stdout, stderr, code) = compile(&tenant, "human");
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("gatehouse::unknown-role"), "{stderr}");
    assert!(
        stderr.contains("help: did you mean `tenant-admin`?"),
        "{stderr}"
    );
    assert!(stderr.contains("`ml` first defined here"), "{stderr}");
    assert!(
        stderr.contains("role: tenant-admn"),
        "the snippet: {stderr}"
    );
}

#[test]
fn short_is_one_line_each() {
    let dir = tempdir("short");
    let tenant = broken_tenant(&dir);
    let (_, stderr, code) = compile(&tenant, "short");
    assert_eq!(code, 1);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(
        lines[1].ends_with("acme.yaml:6:35: error: unknown role `tenant-admn`"),
        "{stderr}"
    );
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = Command::new(GATEHOUSE)
            .args(["completions", shell])
            .output()
            .expect("run gatehouse");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("who-can") && script.contains("envoy-config"),
            "{shell}"
        );
    }
    let out = Command::new(GATEHOUSE)
        .arg("man")
        .output()
        .expect("run gatehouse");
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH gatehouse"),
        "{page}"
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("diagnostics-{name}"));
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}
