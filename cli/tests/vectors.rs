//! Golden vectors (`tests/vectors/*/requests.json`, format in `tests/vectors/README.md`): every
//! case is decided by the engine in-process and by the real `gatehouse check` binary, and both
//! must give the expected answer — and the same answer. The case model (loading, minting,
//! building each request) is `gatehouse_testkit::vectors`, shared with the Envoy replay in
//! `tests/tests/vectors.rs`.
//!
//! A vector's `also_at` times are decided again by the engine, for every case not marked
//! `now_only`. The adversarial token vector (`tests/vectors/adversarial`, SPEC 7) must also hold
//! a case of every attack class.
//!
//! `GATEHOUSE_VECTOR=<name>` runs one vector; `GATEHOUSE_VECTORS_SKIP_KNOWN=1` skips cases marked
//! `known_issue` (by default they run, and fail while the issue is open).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gatehouse_compiler::{compile_paths, CompileOptions};
use gatehouse_engine::{Engine, LoadOptions, Reason};
use gatehouse_testkit::vectors::{self, mismatches, CaseRequest, Vector};
use serde_json::{json, Value};
use support::{repo_root, run, GATEHOUSE};

fn vectors_dir() -> PathBuf {
    repo_root().join("tests/vectors")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("vectors")
        .join(name);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

// ---------------------------------------------------------------------------------------------
// Loading vectors (the case model is `gatehouse_testkit::vectors`).

fn load_vectors() -> Vec<Vector> {
    let only = std::env::var("GATEHOUSE_VECTOR").ok();
    let out: Vec<Vector> = vectors::load_all(&vectors_dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|v| only.as_deref().is_none_or(|o| o == v.name))
        .collect();
    assert!(
        !out.is_empty(),
        "no vectors found (GATEHOUSE_VECTOR={only:?})"
    );
    out
}

/// Compiles with the library and with `gatehouse compile`; the bundles must be identical
/// (SPEC 4: deterministic). Returns the bytes and the path of the bundle file.
fn compile(vector: &Vector) -> (Vec<u8>, PathBuf) {
    let options = vector
        .compile_options()
        .unwrap_or_else(|e| panic!("vector `{}`: {e}", vector.name));
    let policy = compile_paths(&options).unwrap_or_else(|e| {
        panic!(
            "vector `{}` does not compile: {}",
            vector.name,
            describe(&e)
        )
    });
    let bytes = gatehouse_engine::bundle::encode(&policy, None)
        .unwrap_or_else(|e| panic!("vector `{}`: encode: {e}", vector.name));

    let path = scratch_dir(&vector.name).join("bundle");
    let mut cmd = Command::new(GATEHOUSE);
    cmd.arg("compile");
    if let Some(g) = &options.gateway {
        cmd.arg("--gateway").arg(g);
    }
    cmd.args(&options.inputs)
        .arg("-o")
        .arg(&path)
        .arg("--revision")
        .arg(vector.revision())
        .arg("--serial")
        .arg(vector.serial().to_string());
    let out = cmd.output().expect("run gatehouse compile");
    assert!(
        out.status.success(),
        "vector `{}`: gatehouse compile failed: {}",
        vector.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let from_cli = std::fs::read(&path).unwrap();
    assert!(
        from_cli == bytes,
        "vector `{}`: `gatehouse compile` and the library wrote different bundles",
        vector.name
    );
    (bytes, path)
}

fn describe(e: &gatehouse_compiler::CompileError) -> String {
    match e {
        gatehouse_compiler::CompileError::Invalid(ds) => {
            ds.iter().map(|d| format!("\n  {d}")).collect::<String>()
        }
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Deciding: the engine in-process (`CaseRequest::decide`), and `gatehouse check`.

/// Runs `gatehouse check --json`; returns the parsed output and the exit code.
fn decide_cli(
    bundle: &Path,
    req: &CaseRequest,
    now: &str,
    scratch: &Path,
) -> Result<(Value, i32), String> {
    let mut cmd = Command::new(GATEHOUSE);
    cmd.arg("check")
        .arg("--bundle")
        .arg(bundle)
        .arg("--json")
        .arg("--now")
        .arg(now)
        .arg("--host")
        .arg(&req.host)
        .arg("--method")
        .arg(&req.method)
        .arg(format!("--path={}", req.path));
    for (name, value) in &req.headers {
        if req.bearer.is_some() && name == "authorization" && value.starts_with("Bearer ") {
            continue;
        }
        cmd.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some(token) = &req.bearer {
        cmd.arg(format!("--token={token}"));
    }
    if req.no_content_type {
        cmd.arg("--no-content-type");
    }
    if let Some(subject) = &req.as_subject {
        cmd.arg(format!("--as={subject}"));
    }
    match &req.body {
        None => {}
        Some(body) if body.len() <= 4096 && std::str::from_utf8(body).is_ok() => {
            cmd.arg(format!("--body={}", std::str::from_utf8(body).unwrap()));
        }
        Some(body) => {
            let path = scratch.join("body");
            std::fs::write(&path, body).map_err(|e| e.to_string())?;
            cmd.arg("--body-file").arg(path);
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().map_err(|e| e.to_string())?;
    let code = status.code().ok_or("gatehouse check was killed")?;
    let value: Value = serde_json::from_slice(&stdout).map_err(|e| {
        format!(
            "exit {code}, stdout is not JSON ({e}): {:?}; stderr: {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    })?;
    Ok((value, code))
}

// ---------------------------------------------------------------------------------------------
// The JavaScript package's replay (`web/test/vectors.test.mjs`): with
// `GATEHOUSE_VECTORS_EXPORT=FILE`, every vector's sources, bundle digest and cases are written to
// FILE with the answer `gatehouse check --json` gave, for the package to compile and decide again.

/// The vector's files as `compile(files)` of the package takes them: its tenant files and
/// gateway file, and the key sets their `jwks_file`s name, named relative to the repository.
fn export_files(options: &CompileOptions) -> Value {
    let root = repo_root();
    let name = |p: &Path| {
        p.strip_prefix(&root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let file = |p: &Path, kind: &str| json!({"name": name(p), "kind": kind, "text": std::fs::read_to_string(p).unwrap()});
    let tenants = gatehouse_compiler::compile::tenant_files(&options.inputs).unwrap();
    let mut files: Vec<Value> = tenants.iter().map(|t| file(t, "tenant")).collect();
    files.extend(options.gateway.iter().map(|g| file(g, "gateway")));
    let mut keys = BTreeSet::new();
    for tenant in &tenants {
        let text = std::fs::read_to_string(tenant).unwrap();
        // `jwks_file: keys/x.json` (YAML) or `"jwks_file": "keys/x.json"` (JSON).
        for (_, rest) in text
            .match_indices("jwks_file")
            .map(|(at, _)| text.split_at(at + 9))
        {
            let value =
                rest.trim_start_matches(|c: char| c == '"' || c == ':' || c.is_whitespace());
            let end = value
                .find(|c: char| c == '"' || c == ',' || c == '}' || c.is_whitespace())
                .unwrap_or(value.len());
            keys.insert(tenant.parent().unwrap().join(&value[..end]));
        }
    }
    files.extend(keys.iter().filter(|k| k.is_file()).map(|k| file(k, "file")));
    Value::Array(files)
}

/// A case's request as the package's `check` takes it: the flags `decide_cli` passes.
fn export_request(req: &CaseRequest, now: &str) -> Value {
    let headers: Vec<Value> = req
        .headers
        .iter()
        .filter(|(n, v)| {
            !(req.bearer.is_some() && n == "authorization" && v.starts_with("Bearer "))
        })
        .map(|(n, v)| json!([n, v]))
        .collect();
    let mut out = json!({
        "method": req.method,
        "path": req.path,
        "host": req.host,
        "headers": headers,
        "now": now,
    });
    let set = |out: &mut Value, k: &str, v: Value| {
        out.as_object_mut().unwrap().insert(k.to_owned(), v);
    };
    if let Some(token) = &req.bearer {
        set(&mut out, "token", json!(token));
    }
    if let Some(subject) = &req.as_subject {
        set(&mut out, "as", json!(subject));
    }
    if req.no_content_type {
        set(&mut out, "noContentType", json!(true));
    }
    if let Some(body) = &req.body {
        let body = String::from_utf8(body.clone()).expect("vector bodies are UTF-8");
        set(&mut out, "body", json!(body));
    }
    out
}

#[test]
fn golden_vectors() {
    let skip_known = std::env::var_os("GATEHOUSE_VECTORS_SKIP_KNOWN").is_some();
    let export_to = std::env::var_os("GATEHOUSE_VECTORS_EXPORT").map(PathBuf::from);
    let mut exported = Vec::new();
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut skipped = 0;
    let mut cached_anywhere = false;
    for vector in load_vectors() {
        let (bytes, bundle_path) = compile(&vector);
        let mut export_cases = Vec::new();
        let export_sha256 = gatehouse_deploy::package::sha256_hex(&bytes);
        let engine = Engine::load(bytes, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("vector `{}`: load: {e}", vector.name));
        let scratch = scratch_dir(&vector.name);
        if let Some(d) = &vector.file.description {
            eprintln!("vector {}: {d}", vector.name);
        }
        for case in &vector.file.cases {
            let label = format!("[{} / {}]", vector.name, case.name);
            if let Some(unknown) = case.unknown_expect_field() {
                failures.push(format!("{label} unknown expect field `{unknown}`"));
                continue;
            }
            if let Some(issue) = &case.known_issue {
                if skip_known {
                    eprintln!("skipping {label}: known issue: {issue}");
                    skipped += 1;
                    continue;
                }
            }
            ran += 1;
            let req = match vector.request(case) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{label} bad case: {e}"));
                    continue;
                }
            };
            let mut known = case
                .known_issue
                .as_ref()
                .map(|i| format!(" (known issue: {i})"))
                .unwrap_or_default();
            if let Some(note) = &case.note {
                known.push_str(&format!(" (note: {note})"));
            }

            // At `now`; at `now` again, when a token that verified comes from the engine's
            // verified-token cache and must get the same answer; and on the other clocks where
            // the vector says the answer holds.
            let cached_before = engine.token_cache_stats().entries;
            let engine_answer = req.decide(&engine, vector.now);
            let again = req.decide(&engine, vector.now);
            if again != engine_answer {
                failures.push(format!(
                    "{label} engine: a second, cached decision differs:\n    first  {engine_answer}\n    second {again}"
                ));
            }
            // A token refused at steps 3-5 (401) leaves nothing in the verified-token cache. On
            // an MCP protected route a verified token is then bound to the route (audience,
            // scopes) on every request, cached or not: refused there, it stays cached, as it is
            // good on other routes.
            let cached_after = engine.token_cache_stats().entries;
            cached_anywhere |= cached_after > 0;
            let route_bound = engine_answer["route"].as_str().is_some_and(|name| {
                engine
                    .bundle()
                    .gateway()
                    .routes
                    .iter()
                    .any(|r| r.name == name && r.mcp.is_some())
            }) && matches!(
                engine_answer["reason"].as_str(),
                Some("audience_mismatch" | "token_malformed")
            );
            if engine_answer["status"] == 401 && cached_after != cached_before && !route_bound {
                failures.push(format!(
                    "{label} engine: a refused token was cached ({cached_before} -> {cached_after} entries)"
                ));
            }
            let also_at = vector.also_at.iter().filter(|_| !case.now_only);
            let answers = [
                (String::new(), engine_answer.clone()),
                (" again (verified-token cache)".to_owned(), again),
            ]
            .into_iter()
            .chain(also_at.map(|&at| (format!(" at {at} (also_at)"), req.decide(&engine, at))));
            for (when, answer) in answers {
                let wrong = mismatches(&case.expect, &answer);
                if !wrong.is_empty() {
                    failures.push(format!(
                        "{label} engine{when}: {}{known}; full answer {answer}",
                        wrong.join(", ")
                    ));
                }
            }

            match decide_cli(&bundle_path, &req, &vector.file.now, &scratch) {
                Err(e) => failures.push(format!("{label} gatehouse check: {e}")),
                Ok((cli_answer, code)) => {
                    if export_to.is_some() {
                        export_cases.push(json!({
                            "name": case.name,
                            "request": export_request(&req, &vector.file.now),
                            "cli": cli_answer,
                        }));
                    }
                    let wrong = mismatches(&case.expect, &cli_answer);
                    if !wrong.is_empty() {
                        failures.push(format!(
                            "{label} gatehouse check: {}{known}",
                            wrong.join(", ")
                        ));
                    }
                    // A served metadata document is an answer, not a denial.
                    let want_code = if cli_answer["decision"] == "allow"
                        || cli_answer["decision"] == "respond"
                    {
                        0
                    } else {
                        2
                    };
                    if code != want_code {
                        failures.push(format!(
                            "{label} gatehouse check: exit {code} for {}",
                            cli_answer["decision"]
                        ));
                    }
                    if cli_answer != engine_answer {
                        failures.push(format!(
                            "{label} engine and gatehouse check disagree:\n    engine {engine_answer}\n    cli    {cli_answer}"
                        ));
                    }
                }
            }
        }
        if export_to.is_some() {
            let options = vector.compile_options().unwrap();
            exported.push(json!({
                "vector": vector.name,
                "revision": vector.revision(),
                "serial": vector.serial(),
                "bundle_sha256": export_sha256,
                "files": export_files(&options),
                "cases": export_cases,
            }));
        }
    }
    if let Some(path) = &export_to {
        let text = serde_json::to_string(&Value::Array(exported)).unwrap();
        std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    eprintln!(
        "golden vectors: {ran} cases run, {skipped} skipped, {} failures",
        failures.len()
    );
    // Otherwise the check that refused tokens are not cached would hold vacuously.
    assert!(cached_anywhere, "no verified token was ever cached");
    assert!(
        failures.is_empty(),
        "{} golden vector failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every reason code of SPEC 3.3 is exercised by at least one case, and every case states the
/// decision, status and reason, consistently with each other.
#[test]
fn vectors_cover_every_reason_code() {
    if std::env::var_os("GATEHOUSE_VECTOR").is_some() {
        return;
    }
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for vector in load_vectors() {
        for case in &vector.file.cases {
            let label = format!("[{} / {}]", vector.name, case.name);
            let (Some(decision), Some(status), Some(reason)) = (
                case.expect.get("decision"),
                case.expect.get("status"),
                case.expect.get("reason"),
            ) else {
                problems.push(format!("{label} must expect decision, status and reason"));
                continue;
            };
            match (decision.as_str(), reason) {
                (Some("allow" | "respond"), Value::Null) if status == 200 => {}
                (Some("deny"), Value::String(code)) => match Reason::from_code(code) {
                    Some(r) if json!(r.status()) == *status => {
                        seen.insert(r.code());
                    }
                    Some(r) => problems.push(format!(
                        "{label} `{code}` is status {}, not {status}",
                        r.status()
                    )),
                    None => problems.push(format!("{label} unknown reason `{code}`")),
                },
                _ => problems.push(format!("{label} inconsistent decision/status/reason")),
            }
        }
    }
    let missing: Vec<&str> = Reason::ALL
        .iter()
        .map(|r| r.code())
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(missing.is_empty(), "no vector expects: {missing:?}");
}

/// Every attack class SPEC 7 names, by the `category` `make_tokens.py` gives it.
const ATTACK_CLASSES: [&str; 28] = [
    "control",
    "alg-none",
    "hs-confusion",
    "alg-mixup",
    "signature-stripped",
    "signature-foreign-key",
    "kid",
    "embedded-key",
    "crit",
    "b64",
    "jwe",
    "time",
    "skew-edge",
    "exp-type",
    "issuer",
    "cross-tenant",
    "audience",
    "tenant-claim",
    "duplicate-json",
    "base64",
    "whitespace",
    "oversized",
    "non-utf8",
    "revoked-jti",
    "va-rotation",
    "principal-inactive",
    "principal-unknown",
    "principal-expired",
];

/// The adversarial token vector holds a case of every attack class and no other class; every
/// case carries a raw token (or none), as the generator made it.
#[test]
fn adversarial_vector_covers_every_attack_class() {
    let vector = Vector::load(&vectors_dir().join("adversarial")).unwrap_or_else(|e| panic!("{e}"));
    let mut categories: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut denied, mut allowed) = (0, 0);
    for case in &vector.file.cases {
        let category = case
            .category
            .as_deref()
            .unwrap_or_else(|| panic!("[adversarial / {}] has no category", case.name));
        *categories.entry(category).or_default() += 1;
        assert!(
            case.token.as_ref().is_none_or(|t| t.get("raw").is_some()),
            "[adversarial / {}] is not a raw token",
            case.name
        );
        match case.expect.get("decision").and_then(Value::as_str) {
            Some("allow") => allowed += 1,
            _ => denied += 1,
        }
    }
    eprintln!(
        "adversarial tokens: {} cases, {denied} to be rejected, {allowed} controls, {} classes",
        vector.file.cases.len(),
        categories.len()
    );
    for class in ATTACK_CLASSES {
        assert!(categories.contains_key(class), "no case of class {class}");
    }
    assert!(
        categories.keys().all(|c| ATTACK_CLASSES.contains(c)),
        "unknown class in {categories:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The examples and the CLI's error exits.

#[test]
fn examples_compile() {
    let root = repo_root();
    let options = CompileOptions {
        gateway: Some(root.join("examples/gateway.yaml")),
        inputs: vec![root.join("examples/acme"), root.join("examples/globex")],
        revision: None,
        serial: 1,
    };
    let policy = compile_paths(&options).unwrap_or_else(|e| panic!("examples: {}", describe(&e)));
    let names: Vec<&str> = policy.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["acme", "globex"]);
    let acme = &policy.tenants[0];
    assert!(
        acme.users.len() >= 30,
        "acme has {} users",
        acme.users.len()
    );
    assert!(acme.users.iter().filter(|u| !u.active).count() >= 2);
    assert!(acme.teams.len() >= 5);
    assert!(acme.virtual_accounts.len() >= 3);
    assert_eq!(acme.identity_providers.len(), 2);
    let routes: Vec<&str> = policy
        .gateway
        .routes
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    for r in [
        "health",
        "chat",
        "embeddings",
        "completions",
        "mcp",
        "prompts",
    ] {
        assert!(
            routes.contains(&r),
            "examples/gateway.yaml lacks route `{r}`"
        );
    }
    let bytes = gatehouse_engine::bundle::encode(&policy, None).unwrap();
    // Deterministic: compiling again gives the same bytes.
    let again = gatehouse_engine::bundle::encode(&compile_paths(&options).unwrap(), None).unwrap();
    assert_eq!(bytes, again);
    Engine::load(bytes, &LoadOptions::default()).unwrap();

    // Each tenant also compiles on its own, with the built-in routes.
    for tenant in ["examples/acme", "examples/globex/tenant.yaml"] {
        let options = CompileOptions {
            gateway: None,
            inputs: vec![root.join(tenant)],
            revision: None,
            serial: 1,
        };
        compile_paths(&options).unwrap_or_else(|e| panic!("{tenant}: {}", describe(&e)));
    }
}

/// `gatehouse compile` records a serial (`--serial`, else `SOURCE_DATE_EPOCH`, else the current
/// time) and `gatehouse inspect` shows it, in text and JSON; with the serial fixed the CLI writes
/// the library's bytes.
#[test]
fn compile_records_the_serial_and_inspect_shows_it() {
    let root = repo_root();
    let dir = scratch_dir("serial");
    let tenant = root.join("examples/globex/tenant.yaml");
    let compile = |out: &Path, serial: Option<&str>, epoch: Option<&str>| {
        let mut cmd = Command::new(GATEHOUSE);
        cmd.arg("compile").arg(&tenant).arg("-o").arg(out);
        if let Some(serial) = serial {
            cmd.args(["--serial", serial]);
        }
        match epoch {
            Some(epoch) => cmd.env("SOURCE_DATE_EPOCH", epoch),
            None => cmd.env_remove("SOURCE_DATE_EPOCH"),
        };
        cmd.output().expect("run gatehouse compile")
    };
    let ok = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let inspect_serial = |bundle: &Path| {
        let bundle = bundle.to_str().unwrap();
        let out = run(&["inspect", bundle]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("serial"))
            .unwrap_or_else(|| panic!("no serial line in `gatehouse inspect`: {text}"));
        let out = run(&["inspect", bundle, "--json"]);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let serial = json["serial"].as_u64().expect("`serial` in inspect --json");
        assert_eq!(line.trim(), serial.to_string(), "text and JSON disagree");
        serial
    };

    let explicit = dir.join("explicit.bundle");
    let said = ok(compile(&explicit, Some("42"), Some("1700000000")));
    assert!(said.contains("serial 42"), "{said}");
    assert_eq!(
        inspect_serial(&explicit),
        42,
        "--serial wins over SOURCE_DATE_EPOCH"
    );
    let library = compile_paths(&CompileOptions {
        gateway: None,
        inputs: vec![tenant.clone()],
        revision: None,
        serial: 42,
    })
    .unwrap();
    assert_eq!(
        std::fs::read(&explicit).unwrap(),
        gatehouse_engine::bundle::encode(&library, None).unwrap(),
        "`compile --serial 42` and the library with serial 42 wrote different bundles"
    );

    let epoch = dir.join("epoch.bundle");
    ok(compile(&epoch, None, Some("1700000000")));
    assert_eq!(inspect_serial(&epoch), 1_700_000_000);
    // The serial is not part of the derived revision.
    let revision = |bundle: &Path| {
        let out = run(&["inspect", bundle.to_str().unwrap(), "--json"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["revision"].clone()
    };
    assert_eq!(revision(&epoch), revision(&explicit));

    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let clock = dir.join("clock.bundle");
    let before = now();
    ok(compile(&clock, None, None));
    let after = now();
    let serial = inspect_serial(&clock);
    assert!(
        (before..=after).contains(&serial),
        "serial {serial} is not the compile time ({before}..={after})"
    );

    let out = compile(&dir.join("never.bundle"), None, Some("yesterday"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOURCE_DATE_EPOCH"));
}

#[test]
fn cli_exits_1_on_an_unreadable_or_corrupt_bundle() {
    let dir = scratch_dir("cli-errors");
    let missing = dir.join("does-not-exist.bundle");
    let corrupt = dir.join("corrupt.bundle");
    std::fs::write(&corrupt, b"this is not a gatehouse bundle").unwrap();
    for bundle in [&missing, &corrupt] {
        let bundle = bundle.to_str().unwrap();
        let out = run(&[
            "check",
            "--bundle",
            bundle,
            "--host",
            "acme.gw.example.com",
            "--method",
            "GET",
            "--path",
            "/healthz",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "check --bundle {bundle}");
        assert!(out.stdout.is_empty(), "no decision is printed on error");
        assert!(!out.stderr.is_empty(), "the error goes to stderr");
        let out = run(&["inspect", bundle]);
        assert_eq!(out.status.code(), Some(1), "inspect {bundle}");
    }
}

#[test]
fn cli_exits_1_on_a_bad_tenant_file() {
    let dir = scratch_dir("cli-bad-tenant");
    let tenant = dir.join("bad-tenant.yaml");
    std::fs::write(
        &tenant,
        "tenant:\n  name: acme\n  issuer: https://acme.cp.example.com\n  jwks: {keys: []}\n  colour: blue\n\
         users:\n  - {email: alice@acme.com, role: no-such-role}\n",
    )
    .unwrap();
    let output = dir.join("never.bundle");
    let _ = std::fs::remove_file(&output);
    let out = run(&[
        "compile",
        tenant.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad-tenant.yaml"),
        "the error names the file: {stderr}"
    );
    assert!(
        stderr.contains("colour"),
        "the unknown field is reported: {stderr}"
    );
    assert!(
        !output.exists(),
        "no bundle is written when compilation fails"
    );

    let out = run(&[
        "compile",
        dir.join("missing.yaml").to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// SPEC 5: 0 allow, 2 deny, 1 error. A usage error is bad input: it must not exit 2, which a
/// script would read as "denied".
#[test]
fn cli_exits_1_on_bad_arguments() {
    let root = repo_root();
    let dir = scratch_dir("cli-bad-args");
    let bundle = dir.join("examples.bundle");
    let out = run(&[
        "compile",
        "--gateway",
        root.join("examples/gateway.yaml").to_str().unwrap(),
        root.join("examples/acme").to_str().unwrap(),
        root.join("examples/globex").to_str().unwrap(),
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = bundle.to_str().unwrap();
    let check = |rest: &[&'static str]| -> Vec<&str> {
        [
            &[
                "check",
                "--bundle",
                bundle,
                "--host",
                "localhost",
                "--method",
                "GET",
            ][..],
            rest,
        ]
        .concat()
    };
    let cases: [Vec<&str>; 5] = [
        // Several tenants and no --host.
        vec![
            "check", "--bundle", bundle, "--method", "GET", "--path", "/healthz",
        ],
        check(&["--path", "/healthz", "--now", "yesterday"]),
        // Usage errors (clap exits 2 unless told otherwise).
        check(&[]),
        check(&["--path", "/", "--as", "user:a@acme.com", "--token", "x.y.z"]),
        vec!["no-such-subcommand"],
    ];
    for args in cases {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "gatehouse {}", args.join(" "));
        assert!(
            out.stdout.is_empty(),
            "gatehouse {}: nothing on stdout",
            args.join(" ")
        );
    }
}
