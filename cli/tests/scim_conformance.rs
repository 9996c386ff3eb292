//! The provisioning service (`gatehouse directory serve`, SPEC 2.6) as SCIM clients see it: the
//! real binary on 127.0.0.1:0 with a fresh database and a policy directory holding one `scim`
//! tenant (tests/fixtures/scim/initech.yaml), judged by
//!
//! - an independent conformance checker, Python `scim2-tester` (tests/scim/conformance.py;
//!   installed by `ensure_scim_tester` in scripts/lib.sh): every check must pass, except those
//!   listed in [`NOT_PASSING`], each with the reason it does not apply;
//! - the request sequences Okta and Microsoft Entra ID send while provisioning, with their
//!   published bodies (tests/scim/idp_replay.py), each change followed into the bundle the
//!   service publishes (`--bundle-out`) with `gatehouse check`.
//!
//! Python is `GATEHOUSE_PYTHON` (scripts/test.sh exports the venv's), else the repository's
//! `.venv`. Without scim2-tester the suite fails, never skips.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::{repo_root, GATEHOUSE};

const TENANT: &str = "initech";

/// Results of scim2-tester that are not a pass, each with why it does not apply: `(status,
/// category, resource type or "", title, text its reason contains, why)`. Every other result must
/// be SUCCESS, COMPLIANT or ACCEPTABLE, and every entry here must still occur (a check that starts
/// passing is taken off the list). tests/scim/conformance.py also makes the userName values the
/// checker invents email addresses (a Gatehouse user is an email); see `users_are_emails` there.
const NOT_PASSING: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "ERROR",
        "crud:read:attributes",
        "User",
        "search_with_attributes",
        "",
        "POST /.search (RFC 7644 3.4.3) is a MAY the service does not offer (404): no identity \
         provider provisions with it, and GET with `filter` does the same",
    ),
    (
        "ERROR",
        "crud:read:attributes",
        "Group",
        "search_with_attributes",
        "",
        "POST /.search, as for User",
    ),
    (
        "ERROR",
        "patch:remove",
        "User",
        "check_remove_attribute",
        "did not remove attribute 'active'",
        "`active` has a value on every Gatehouse user: removing it restores the default, true \
         (RFC 7643 4.1.1 gives the service the meaning of an absent `active`), so it is still \
         returned",
    ),
];

#[test]
fn scim2_tester_finds_nothing_wrong() {
    let dir = scratch("conformance");
    let service = Service::start(&dir);
    let report = dir.join("conformance.json");
    let out = Command::new(python())
        .arg(repo_root().join("tests/scim/conformance.py"))
        .arg(service.tenant_url())
        .arg("--json")
        .arg(&report)
        .env("SCIM_TOKEN", &service.token)
        .output()
        .expect("run tests/scim/conformance.py");
    let printed = String::from_utf8_lossy(&out.stdout);
    println!("{printed}");
    assert!(
        out.status.success(),
        "conformance.py failed:\n{}\nservice log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        service.log()
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();

    let key = |r: &Value| {
        (
            r["status"].as_str().unwrap_or_default().to_owned(),
            r["category"].as_str().unwrap_or_default().to_owned(),
            r["resource_type"].as_str().unwrap_or_default().to_owned(),
            r["title"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let listed_as =
        |r: &Value, (s, c, rt, t, contains, _): &(&str, &str, &str, &str, &str, &str)| {
            let (status, category, resource, title) = key(r);
            *s == status
                && *c == category
                && *rt == resource
                && *t == title
                && r["reason"].as_str().unwrap_or_default().contains(contains)
        };
    let listed = |r: &Value| NOT_PASSING.iter().any(|entry| listed_as(r, entry));
    let unexplained: Vec<String> = results
        .iter()
        .filter(|r| {
            !matches!(
                r["status"].as_str(),
                Some("SUCCESS" | "COMPLIANT" | "ACCEPTABLE")
            ) && !listed(r)
        })
        .map(|r| {
            let (status, category, resource, title) = key(r);
            format!(
                "{status} {category} {resource} {title}: {}",
                r["reason"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "scim2-tester reports {} result(s) that are not a pass:\n  {}\nservice log:\n{}",
        unexplained.len(),
        unexplained.join("\n  "),
        service.log()
    );
    for entry in NOT_PASSING {
        let (status, category, resource, title, _, why) = entry;
        assert!(
            results.iter().any(|r| listed_as(r, entry)),
            "NOT_PASSING lists `{status} {category} {resource} {title}` ({why}), which no longer \
             occurs: take it off the list"
        );
    }

    // The checker really exercised the service: discovery, and create, read, replace and delete
    // of both resource types passed.
    for (category, resource) in [
        ("discovery:service-provider-config", ""),
        ("discovery:resource-types", ""),
        ("discovery:schemas", ""),
        ("crud:create", "User"),
        ("crud:create", "Group"),
        ("crud:read", "User"),
        ("crud:read", "Group"),
        ("crud:update", "User"),
        ("crud:update", "Group"),
        ("crud:delete", "User"),
        ("crud:delete", "Group"),
    ] {
        assert!(
            results.iter().any(|r| r["status"] == "SUCCESS"
                && r["category"] == category
                && (resource.is_empty() || r["resource_type"] == resource)),
            "no passing `{category}` check for `{resource}`:\n{printed}"
        );
    }
}

#[test]
fn okta_provisioning_requests_are_answered_as_okta_expects() {
    replay("okta");
}

#[test]
fn entra_provisioning_requests_are_answered_as_entra_expects() {
    replay("entra");
}

/// Runs tests/scim/idp_replay.py for `idp` against a fresh service.
fn replay(idp: &str) {
    let dir = scratch(idp);
    let service = Service::start(&dir);
    let out = Command::new(python())
        .arg(repo_root().join("tests/scim/idp_replay.py"))
        .arg(idp)
        .arg(service.tenant_url())
        .arg("--bundle")
        .arg(&service.bundle)
        .arg("--gatehouse")
        .arg(GATEHOUSE)
        .env("SCIM_TOKEN", &service.token)
        .output()
        .expect("run tests/scim/idp_replay.py");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}\nservice log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        service.log()
    );
}

/// A running `gatehouse directory serve` on a fresh database, and a SCIM secret for [`TENANT`].
struct Service {
    child: Child,
    base: String,
    token: String,
    bundle: PathBuf,
    log: PathBuf,
}

impl Service {
    fn start(dir: &Path) -> Service {
        let policy = dir.join("policy");
        std::fs::create_dir_all(&policy).unwrap();
        std::fs::copy(
            repo_root().join("tests/fixtures/scim/initech.yaml"),
            policy.join("initech.yaml"),
        )
        .unwrap();
        let db = dir.join("directory.db");
        let out = Command::new(GATEHOUSE)
            .args(["directory", "token", "--tenant", TENANT, "--db"])
            .arg(&db)
            .output()
            .expect("run gatehouse directory token");
        assert!(
            out.status.success(),
            "gatehouse directory token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(
            !token.is_empty() && !token.contains(char::is_whitespace),
            "`gatehouse directory token` printed {token:?}, not one secret"
        );

        let bundle = dir.join("published.bundle");
        let log = dir.join("service.log");
        let mut child = Command::new(GATEHOUSE)
            .args(["directory", "serve", "--listen", "127.0.0.1:0", "--policy"])
            .arg(&policy)
            .arg("--db")
            .arg(&db)
            .arg("--gateway")
            .arg(repo_root().join("examples/gateway.yaml"))
            .arg("--bundle-out")
            .arg(&bundle)
            // The checker sends its requests back to back and does not wait out a 429's
            // `Retry-After` as identity providers do; the rate limit has its own test.
            .args(["--rate-limit", "100000", "--rate-burst", "100000"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start gatehouse directory serve");
        // The first stdout line says where it listens; the rest is drained so it never blocks.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "`gatehouse directory serve` did not say where it listens within 60 s:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            }
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Service {
            child,
            base,
            token,
            bundle,
            log,
        }
    }

    /// `http://IP:PORT/scim/v2/<tenant>/`.
    fn tenant_url(&self) -> String {
        format!("{}/scim/v2/{TENANT}/", self.base)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatehouse-scim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Python with scim2-tester: `GATEHOUSE_PYTHON` (what scripts/test.sh exports; required under
/// CI), else the repository's `.venv`. Without it the test fails, never skips.
fn python() -> PathBuf {
    const INSTALL: &str =
        "install it with `bash -c 'source scripts/lib.sh && ensure_scim_tester'` \
        and set GATEHOUSE_PYTHON=$PWD/.venv/bin/python (scripts/test.sh does both)";
    let python = match std::env::var_os("GATEHOUSE_PYTHON") {
        Some(python) => PathBuf::from(python),
        None if std::env::var_os("CI").is_some() => {
            panic!("GATEHOUSE_PYTHON is not set: the SCIM checker is required in CI; {INSTALL}")
        }
        None => repo_root().join(".venv/bin/python"),
    };
    let ok = Command::new(&python)
        .args(["-c", "import scim2_tester, scim2_client.engines.httpx2"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        ok,
        "`{}` cannot import scim2-tester: {INSTALL}",
        python.display()
    );
    python
}
