//! `gatehouse credentials` as a process, on a copy of the acme example: what it prints, what it
//! writes (ids and hashes, never keys), what it refuses, and that the directory still compiles.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use gatehouse_deploy::credentials::{parse_file, render_file, FileFormat};
use gatehouse_engine::credential::ApiKey;
use serde_json::Value;
use support::{repo_root, run};

const NOW: &str = "2026-01-01T00:00:00Z";

/// A fresh policy directory: the acme tenant file and its keys.
fn policy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-cli-credentials-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    let acme = repo_root().join("examples/acme");
    std::fs::copy(acme.join("tenant.yaml"), dir.join("acme.yaml")).unwrap();
    for entry in std::fs::read_dir(acme.join("keys")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("keys").join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn creds(args: &[&str]) -> Output {
    let mut all = vec!["credentials"];
    all.extend_from_slice(args);
    run(&all)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn file_of(dir: &Path) -> PathBuf {
    dir.join("acme.credentials.json")
}

fn records(path: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["keys"].as_array().unwrap().clone()
}

fn record(path: &Path, id: &str) -> Value {
    records(path)
        .into_iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("no key {id} in {}", path.display()))
}

/// The key in the output of `--format`.
fn key_in(format: &str, stdout: &str) -> String {
    match format {
        "plain" => stdout.strip_suffix('\n').unwrap().to_owned(),
        "env" => stdout
            .strip_suffix('\n')
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned(),
        "json" => {
            let v: Value = serde_json::from_str(stdout).unwrap();
            v["key"].as_str().unwrap().to_owned()
        }
        "kubernetes-secret" => {
            let line = stdout
                .lines()
                .find_map(|l| l.strip_prefix("  api-key: "))
                .unwrap();
            serde_json::from_str::<String>(line).unwrap()
        }
        other => panic!("{other}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an issued key against the file: its record has the digest of the secret, and neither
/// the key nor the secret appears in the file. Returns the id.
fn check_recorded(dir: &Path, key: &str) -> String {
    let parsed = ApiKey::parse(key).unwrap();
    let id = parsed.id.to_string();
    let path = file_of(dir);
    let rec = record(&path, &id);
    assert_eq!(rec["sha256"], hex(&parsed.digest()));
    let text = std::fs::read_to_string(&path).unwrap();
    let secret = &key[key.len() - 49..key.len() - 6];
    assert!(!text.contains(key));
    assert!(!text.contains(secret));
    id
}

fn compiles(dir: &Path) {
    let out = dir.with_extension("bundle");
    let compiled = run(&[
        "compile",
        dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--serial",
        "1",
    ]);
    ok(&compiled);
}

#[test]
fn create_each_principal_and_format() {
    let dir = policy("create");
    let d = dir.to_str().unwrap();
    let principals: [&[&str]; 2] = [
        &["--virtual-account", "ci-bot"],
        &["--user", "Carol@ACME.com", "--scope", "model:openai-main/*"],
    ];
    for principal in principals {
        for format in ["plain", "env", "json", "kubernetes-secret"] {
            let mut args = vec![
                "create",
                "--policy",
                d,
                "--tenant",
                "acme",
                "--format",
                format,
                "--now",
                NOW,
                "--expires",
                "90d",
            ];
            args.extend_from_slice(principal);
            let out = creds(&args);
            let stdout = ok(&out);
            assert!(
                stderr(&out).contains("compile and push the bundle"),
                "{}",
                stderr(&out)
            );
            let key = key_in(format, &stdout);
            let id = check_recorded(&dir, &key);
            let rec = record(&file_of(&dir), &id);
            assert_eq!(rec["created"], NOW);
            assert_eq!(rec["expires"], "2026-04-01T00:00:00Z");
            let principal = if principal[0] == "--user" {
                assert_eq!(rec["scopes"], serde_json::json!(["model:openai-main/*"]));
                "user:carol@acme.com"
            } else {
                assert!(rec.get("scopes").is_none());
                "virtualaccount:ci-bot"
            };
            assert_eq!(rec["principal"], principal);
            match format {
                "plain" => assert_eq!(stdout.lines().count(), 1),
                "env" => assert!(stdout.starts_with("GATEHOUSE_API_KEY=gh_key_")),
                "json" => {
                    let v: Value = serde_json::from_str(&stdout).unwrap();
                    assert_eq!(v["id"], id);
                    assert_eq!(v["tenant"], "acme");
                    assert_eq!(v["principal"], principal);
                    assert_eq!(v["created"], NOW);
                    assert_eq!(v["expires"], "2026-04-01T00:00:00Z");
                    assert!(v["scopes"].is_array());
                }
                _ => {
                    for line in [
                        "apiVersion: v1",
                        "kind: Secret",
                        "type: Opaque",
                        "    app.kubernetes.io/managed-by: \"gatehouse\"",
                        "    gatehouse.dev/tenant: \"acme\"",
                        &format!("    gatehouse.dev/credential-id: \"{id}\""),
                        &format!("    gatehouse.dev/principal: \"{principal}\""),
                        "    gatehouse.dev/expires: \"2026-04-01T00:00:00Z\"",
                        "stringData:",
                    ] {
                        assert!(stdout.lines().any(|l| l == line), "{line}\n{stdout}");
                    }
                    let name = if principal.starts_with("user:") {
                        "gatehouse-acme-carol-acme-com"
                    } else {
                        "gatehouse-acme-ci-bot"
                    };
                    assert!(
                        stdout.contains(&format!("  name: \"{name}\"\n")),
                        "{stdout}"
                    );
                }
            }
        }
    }
    let text = std::fs::read_to_string(file_of(&dir)).unwrap();
    assert!(text.contains("never keys"));
    assert_eq!(records(&file_of(&dir)).len(), 8);
    compiles(&dir);

    // --secret-name, and no expiry.
    let out = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--virtual-account",
        "deploy-bot",
        "--format",
        "env",
        "--secret-name",
        "DEPLOY_KEY",
        "--now",
        NOW,
    ]);
    let stdout = ok(&out);
    assert!(stdout.starts_with("DEPLOY_KEY=gh_key_"));
    let id = check_recorded(&dir, &key_in("env", &stdout));
    assert!(record(&file_of(&dir), &id).get("expires").is_none());
    let out = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--virtual-account",
        "deploy-bot",
        "--format",
        "json",
        "--now",
        NOW,
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["expires"], Value::Null);
}

#[test]
fn files_are_deterministic() {
    let dir = policy("determinism");
    let d = dir.to_str().unwrap();
    for principal in ["ci-bot", "deploy-bot", "eval-runner"] {
        ok(&creds(&[
            "create",
            "--policy",
            d,
            "--tenant",
            "acme",
            "--virtual-account",
            principal,
            "--description",
            "say \"hi\"\n",
            "--now",
            NOW,
        ]));
    }
    let path = file_of(&dir);
    let bytes = std::fs::read_to_string(&path).unwrap();
    assert!(bytes.ends_with("}\n"));
    let file = parse_file(&path, &bytes).unwrap();
    assert_eq!(render_file(&file, FileFormat::Json), bytes);
    let ids: Vec<String> = records(&path)
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    // The same keys in any order give the same bytes.
    let mut reversed = file.clone();
    reversed.keys.reverse();
    assert_eq!(render_file(&reversed, FileFormat::Json), bytes);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn yaml_credentials_files_stay_yaml() {
    let dir = policy("yaml");
    let d = dir.to_str().unwrap();
    let path = dir.join("keys-of-acme.credentials.yaml");
    std::fs::write(&path, "credentials:\n  tenant: acme\nkeys: []\n").unwrap();
    let out = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--user",
        "dave@acme.com",
        "--scope",
        "model:*:use",
        "--description",
        "a: b # c",
        "--now",
        NOW,
    ]);
    let key = ok(&out).trim().to_owned();
    assert!(!file_of(&dir).exists());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("credentials:\n  tenant: \"acme\"\nkeys:\n  - id: "),
        "{text}"
    );
    assert!(!text.contains(&key));
    let file = parse_file(&path, &text).unwrap();
    assert_eq!(render_file(&file, FileFormat::Yaml), text);
    assert_eq!(file.keys[0].description.as_deref(), Some("a: b # c"));
    assert_eq!(file.keys[0].scopes[0].as_str(), "model:*:use");
    let parsed = ApiKey::parse(&key).unwrap();
    assert_eq!(file.keys[0].sha256.as_str(), hex(&parsed.digest()));
    compiles(&dir);
}

#[test]
fn refusals_write_nothing() {
    let dir = policy("refusals");
    let d = dir.to_str().unwrap();
    // No credentials file yet: a refusal creates none.
    let unknown_tenant = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "globex",
        "--virtual-account",
        "ci-bot",
        "--now",
        NOW,
    ]);
    assert_eq!(unknown_tenant.status.code(), Some(1));
    assert!(
        stderr(&unknown_tenant).contains("no tenant `globex`"),
        "{}",
        stderr(&unknown_tenant)
    );
    assert!(unknown_tenant.stdout.is_empty());
    assert!(!file_of(&dir).exists());
    assert!(!dir.join("globex.credentials.json").exists());

    ok(&creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--virtual-account",
        "ci-bot",
        "--now",
        NOW,
    ]));
    let before = std::fs::read(file_of(&dir)).unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--virtual-account", "no-such-bot"],
            "no principal `virtualaccount:no-such-bot`",
        ),
        (
            &["--user", "nobody@acme.com"],
            "no principal `user:nobody@acme.com`",
        ),
        (
            &["--virtual-account", "ci-bot", "--scope", "bogus:x"],
            "unknown resource type `bogus`",
        ),
        (
            &["--virtual-account", "ci-bot", "--scope", "nocolon"],
            "API key scope `nocolon`",
        ),
        (
            &[
                "--virtual-account",
                "ci-bot",
                "--expires-at",
                "2025-12-31T00:00:00Z",
            ],
            "not after now",
        ),
        (
            &[
                "--virtual-account",
                "ci-bot",
                "--format",
                "env",
                "--secret-name",
                "A-B",
            ],
            "environment variable",
        ),
    ];
    for (extra, message) in cases {
        let mut args = vec!["create", "--policy", d, "--tenant", "acme", "--now", NOW];
        args.extend_from_slice(extra);
        let out = creds(&args);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            stderr(&out).contains(message),
            "{extra:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{extra:?}");
        assert_eq!(std::fs::read(file_of(&dir)).unwrap(), before, "{extra:?}");
    }
}

#[test]
fn rotate_and_revoke() {
    let dir = policy("rotate");
    let d = dir.to_str().unwrap();
    let path = file_of(&dir);
    let out = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--user",
        "erin@acme.com",
        "--scope",
        "model:openai-main/*",
        "--description",
        "nightly eval",
        "--expires",
        "30d",
        "--now",
        NOW,
    ]);
    let old = check_recorded(&dir, ok(&out).trim());

    let later = "2026-01-11T00:00:00Z";
    let out = creds(&[
        "rotate", "--policy", d, "--id", &old, "--grace", "1d", "--format", "json", "--now", later,
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let new = check_recorded(&dir, v["key"].as_str().unwrap());
    let old_rec = record(&path, &old);
    let new_rec = record(&path, &new);
    assert_eq!(old_rec["replaced_by"], new.as_str());
    assert_eq!(old_rec["expires"], "2026-01-12T00:00:00Z");
    assert_eq!(new_rec["replaces"], old.as_str());
    assert_eq!(new_rec["principal"], "user:erin@acme.com");
    assert_eq!(
        new_rec["scopes"],
        serde_json::json!(["model:openai-main/*"])
    );
    assert_eq!(new_rec["description"], "nightly eval");
    assert_eq!(new_rec["created"], later);
    // The old key's lifetime (30 days) from now.
    assert_eq!(new_rec["expires"], "2026-02-10T00:00:00Z");
    compiles(&dir);

    // A rotated key is not rotated again.
    let before = std::fs::read(&path).unwrap();
    let again = creds(&[
        "rotate", "--policy", d, "--id", &old, "--grace", "1d", "--now", later,
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already rotated"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // The grace does not extend a key that expires sooner.
    let out = creds(&[
        "rotate",
        "--policy",
        d,
        "--id",
        &new,
        "--grace",
        "90d",
        "--expires-at",
        "2027-01-01T00:00:00Z",
        "--now",
        later,
    ]);
    let newer = check_recorded(&dir, ok(&out).trim());
    assert_eq!(record(&path, &new)["expires"], "2026-02-10T00:00:00Z");
    assert_eq!(record(&path, &newer)["expires"], "2027-01-01T00:00:00Z");

    // Revoke, then revoke again: exit 0, the file unchanged.
    let out = creds(&["revoke", "--policy", d, "--id", &newer, "--now", later]);
    ok(&out);
    assert_eq!(record(&path, &newer)["revoked"], later);
    let before = std::fs::read(&path).unwrap();
    let out = creds(&[
        "revoke",
        "--policy",
        d,
        "--id",
        &newer,
        "--tenant",
        "acme",
        "--now",
        "2026-01-12T00:00:00Z",
    ]);
    ok(&out);
    assert!(stderr(&out).contains("already revoked"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A revoked key is not rotated.
    let out = creds(&[
        "rotate", "--policy", d, "--id", &newer, "--grace", "1d", "--now", later,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    compiles(&dir);

    // Unknown ids, and a key given where an id is wanted.
    for id in ["0123456789abcdef", "not-an-id"] {
        let out = creds(&["revoke", "--policy", d, "--id", id, "--now", later]);
        assert_eq!(out.status.code(), Some(1), "{id}");
    }
    let out = creds(&["revoke", "--policy", d, "--id", &old, "--tenant", "globex"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no API key"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn list_and_expiring() {
    let dir = policy("list");
    let d = dir.to_str().unwrap();
    let create = |extra: &[&str]| {
        let mut args = vec!["create", "--policy", d, "--tenant", "acme", "--now", NOW];
        args.extend_from_slice(extra);
        let out = creds(&args);
        ApiKey::parse(ok(&out).trim()).unwrap().id.to_string()
    };
    let short = create(&["--virtual-account", "ci-bot", "--expires", "2d"]);
    let long = create(&["--virtual-account", "deploy-bot", "--expires", "90d"]);
    let forever = create(&["--user", "frank@acme.com"]);
    let revoked = create(&["--user", "grace@acme.com", "--expires", "1d"]);
    ok(&creds(&[
        "revoke", "--policy", d, "--id", &revoked, "--now", NOW,
    ]));
    let rotating = create(&["--virtual-account", "eval-runner", "--expires", "30d"]);
    ok(&creds(&[
        "rotate", "--policy", d, "--id", &rotating, "--grace", "12h", "--now", NOW,
    ]));

    let out = creds(&["list", "--policy", d, "--json", "--now", NOW]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 6);
    let state = |id: &str| {
        keys.iter()
            .find(|k| k["id"] == id)
            .map(|k| k["state"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(state(&short), "active");
    assert_eq!(state(&long), "active");
    assert_eq!(state(&forever), "active");
    assert_eq!(state(&revoked), "revoked");
    assert_eq!(state(&rotating), "rotating");
    for k in keys {
        assert_eq!(k["tenant"], "acme");
        assert!(k.get("key").is_none() && k.get("sha256").is_none());
    }
    // Three days later the short key has expired, and so has the rotated one's grace.
    let out = creds(&[
        "list",
        "--policy",
        d,
        "--json",
        "--tenant",
        "acme",
        "--now",
        "2026-01-04T00:00:00Z",
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let expired: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "expired")
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(expired.len(), 2);
    assert!(expired.contains(&short.as_str()) && expired.contains(&rotating.as_str()));
    let out = creds(&[
        "list", "--policy", d, "--tenant", "globex", "--json", "--now", NOW,
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 0);
    // The table: one line per key and a header, no secrets.
    let table = ok(&creds(&["list", "--policy", d, "--now", NOW]));
    assert_eq!(table.lines().count(), 7);
    assert!(!table.contains("gh_key_"));

    // Nothing within an hour: 0. Within three days: the short key and the rotated one, 2; the
    // revoked key (a day) is not listed.
    let none = creds(&["expiring", "--policy", d, "--within", "1h", "--now", NOW]);
    assert_eq!(none.status.code(), Some(0), "{}", stderr(&none));
    let some = creds(&[
        "expiring", "--policy", d, "--within", "3d", "--json", "--now", NOW,
    ]);
    assert_eq!(some.status.code(), Some(2), "{}", stderr(&some));
    let v: Value = serde_json::from_slice(&some.stdout).unwrap();
    let mut ids: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![short.as_str(), rotating.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    let text = creds(&["expiring", "--policy", d, "--within", "3d", "--now", NOW]);
    assert_eq!(text.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&text.stdout).contains(&short));
    // Keys expired already are not expiring.
    let later = creds(&[
        "expiring",
        "--policy",
        d,
        "--within",
        "1d",
        "--now",
        "2026-01-05T00:00:00Z",
    ]);
    assert_eq!(later.status.code(), Some(0));
}

#[test]
fn malformed_files_are_named() {
    let dir = policy("malformed");
    let d = dir.to_str().unwrap();
    let path = file_of(&dir);
    std::fs::write(
        &path,
        "{\"credentials\": {\"tenant\": \"acme\"}, \"keys\": [{\"id\": 1}]",
    )
    .unwrap();
    for args in [
        vec!["list", "--policy", d],
        vec!["revoke", "--policy", d, "--id", "0123456789abcdef"],
        vec![
            "create",
            "--policy",
            d,
            "--tenant",
            "acme",
            "--virtual-account",
            "ci-bot",
        ],
    ] {
        let out = creds(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("acme.credentials.json"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn principals_denied_anyway_are_warned_about() {
    let dir = policy("warnings");
    let d = dir.to_str().unwrap();
    let out = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--user",
        "bob@acme.com",
        "--now",
        NOW,
    ]);
    ok(&out);
    assert!(
        stderr(&out).contains("warning: user `bob@acme.com` is inactive"),
        "{}",
        stderr(&out)
    );
    // legacy-exporter expires 2026-06-30: a key without expiry outlives it.
    let out = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--virtual-account",
        "legacy-exporter",
        "--now",
        NOW,
    ]);
    ok(&out);
    assert!(
        stderr(&out).contains("expires at 2026-06-30T00:00:00Z, before the key"),
        "{}",
        stderr(&out)
    );
    let out = creds(&[
        "create",
        "--policy",
        d,
        "--tenant",
        "acme",
        "--virtual-account",
        "ci-bot",
        "--now",
        NOW,
    ]);
    assert!(!stderr(&out).contains("warning:"), "{}", stderr(&out));
}
