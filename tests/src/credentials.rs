//! API keys for the end-to-end suite: keys issued with the engine's own format
//! (`gatehouse_engine::credential`), credentials files written as plain JSON (what
//! `<tenant>.credentials.json` holds: ids and SHA-256 digests, never keys), and the official
//! OpenAI Python SDK (`tests/sdk/openai_client.py`) as the client that presents them.
//!
//! The SDK runs under `GATEHOUSE_PYTHON` (what `scripts/test.sh` exports: the project venv, where
//! `ensure_openai` in `scripts/lib.sh` installs the pinned `openai`), else `<repo>/.venv/bin/python`.
//! Without it the tests that need it fail with a message; they do not skip.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use gatehouse_engine::credential::{self, IssuedKey};
use serde_json::{json, Value};

use crate::repo_root;

/// A new API key from the OS's random source (`/dev/urandom`), as `gatehouse credentials create`
/// issues one.
pub fn issue_key() -> IssuedKey {
    let mut urandom =
        std::fs::File::open("/dev/urandom").unwrap_or_else(|e| panic!("opening /dev/urandom: {e}"));
    credential::issue(|buf: &mut [u8]| urandom.read_exact(buf))
        .unwrap_or_else(|e| panic!("reading /dev/urandom: {e}"))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `secs` (Unix seconds, UTC) as RFC 3339, `YYYY-MM-DDTHH:MM:SSZ`.
pub use gatehouse_compiler::time::format_time as rfc3339;

/// One key of a credentials file: `key`'s id and digest, its principal (`user:<email>` or
/// `virtualaccount:<name>`) and scopes, created now; `extra` adds fields (`expires`, `revoked`,
/// `replaces`, `replaced_by`).
pub fn key_entry(key: &IssuedKey, principal: &str, scopes: &[&str], extra: Value) -> Value {
    let mut entry = json!({
        "id": key.id.to_string(),
        "sha256": hex(&key.digest),
        "principal": principal,
        "created": rfc3339(unix_now()),
    });
    if let Some(fields) = entry.as_object_mut() {
        if !scopes.is_empty() {
            fields.insert("scopes".to_owned(), json!(scopes));
        }
        if let Value::Object(extra) = extra {
            fields.extend(extra);
        }
    }
    entry
}

/// The text of `<tenant>.credentials.json` with `keys` (sorted by id, as the tool writes them).
pub fn credentials_file(tenant: &str, mut keys: Vec<Value>) -> String {
    keys.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let file = json!({
        "credentials": {
            "tenant": tenant,
            "note": "issued by the end-to-end suite (gatehouse_e2e::credentials)",
        },
        "keys": keys,
    });
    format!("{file:#}\n")
}

/// The Python that has the OpenAI SDK, checked once: a panic that says how to install it when it
/// is missing.
pub fn sdk_python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let python = std::env::var_os("GATEHOUSE_PYTHON")
            .map_or_else(|| repo_root().join(".venv/bin/python"), PathBuf::from);
        let probe = Command::new(&python)
            .args(["-c", "import openai; print(openai.__version__)"])
            .output();
        match probe {
            Ok(out) if out.status.success() => python,
            Ok(out) => panic!(
                "the OpenAI Python SDK is not importable by {} ({}): run ./scripts/test.sh, or \
                 `source scripts/lib.sh && ensure_openai` (installs the pinned `openai` into the \
                 project venv), or set GATEHOUSE_PYTHON to a Python that has it",
                python.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!(
                "no Python at {} ({e}) for the OpenAI SDK: run ./scripts/test.sh, or `source \
                 scripts/lib.sh && ensure_openai`, or set GATEHOUSE_PYTHON",
                python.display()
            ),
        }
    })
}

/// Calls `client.chat.completions.create(model=..)` through the OpenAI SDK against `base_url`,
/// once per `(key, model)`, in one Python process; one outcome per call, in order (see
/// `tests/sdk/openai_client.py`).
pub fn openai_sdk(base_url: &str, calls: &[(&str, &str)]) -> Vec<Value> {
    let input: Vec<Value> = calls
        .iter()
        .map(|(key, model)| json!({"key": key, "model": model}))
        .collect();
    let mut child = Command::new(sdk_python())
        .arg(repo_root().join("tests/sdk/openai_client.py"))
        .arg(base_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting tests/sdk/openai_client.py: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(Value::Array(input).to_string().as_bytes())
            .unwrap_or_else(|e| panic!("writing the SDK calls: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("running tests/sdk/openai_client.py: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tests/sdk/openai_client.py failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes: Vec<Value> = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an SDK outcome is not JSON ({e}): {line}"))
        })
        .collect();
    assert_eq!(
        outcomes.len(),
        calls.len(),
        "one outcome per call: {stdout}"
    );
    outcomes
}
