//! MCP clients and servers for the end-to-end suite (`tests/tests/mcp.rs`), all from the official
//! MCP Python SDK (`mcp`, pinned by `ensure_mcp` in `scripts/lib.sh`):
//!
//! - the upstream MCP server, `tests/upstreams/mcp_upstream.py` ([`upstream_script`]), run
//!   behind Envoy with [`crate::EnvoyOptions::upstream_python`] = [`mcp_python`];
//! - the client, `tests/upstreams/mcp_client.py` ([`mcp_client`]): one run, one JSON outcome;
//! - a local OAuth authorization server, `tests/upstreams/mcp_auth_server.py` ([`AuthServer`]),
//!   the tenant's identity provider in the suite: it generates its RS256 key, which the suite
//!   also mints tokens with ([`AuthServer::mint`]).
//!
//! The SDK runs under `GATEHOUSE_PYTHON` (what `scripts/test.sh` exports: the project venv), else
//! `<repo>/.venv/bin/python`. Without it the tests fail with a message; they do not skip.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use gatehouse_deploy::keys;
use serde_json::{json, Map, Value};

use crate::credentials::unix_now;
use crate::{repo_root, scratch, send, stop, upstreams::spawn_listening, HttpRequest};

/// The Python that has the MCP SDK, checked once: a panic that says how to install it when it is
/// missing.
pub fn mcp_python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let python = std::env::var_os("GATEHOUSE_PYTHON")
            .map_or_else(|| repo_root().join(".venv/bin/python"), PathBuf::from);
        let probe = Command::new(&python)
            .args([
                "-c",
                "import importlib.metadata as m, mcp, jwt, uvicorn; print(m.version('mcp'))",
            ])
            .output();
        match probe {
            Ok(out) if out.status.success() => python,
            Ok(out) => panic!(
                "the MCP Python SDK is not importable by {} ({}): run ./scripts/test.sh, or \
                 `source scripts/lib.sh && ensure_mcp` (installs the pinned `mcp` into the project \
                 venv), or set GATEHOUSE_PYTHON to a Python that has it",
                python.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!(
                "no Python at {} ({e}) for the MCP SDK: run ./scripts/test.sh, or `source \
                 scripts/lib.sh && ensure_mcp`, or set GATEHOUSE_PYTHON",
                python.display()
            ),
        }
    })
}

/// `tests/upstreams/mcp_upstream.py`.
pub fn upstream_script() -> PathBuf {
    repo_root().join("tests/upstreams/mcp_upstream.py")
}

/// How [`mcp_client`] connects.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientOptions<'a> {
    /// Sent as `Authorization: Bearer`.
    pub token: Option<&'a str>,
    /// The handshake-era protocol (`initialize`, a session) rather than the SDK's default
    /// (`server/discover`, 2026-07-28).
    pub legacy: bool,
    /// Ask the upstream for `text/event-stream` answers (they come on the legacy protocol).
    pub sse: bool,
    /// Log in through the SDK's OAuth provider as this user (no token).
    pub oauth_as: Option<&'a str>,
}

/// Runs the SDK's client against `url` with `actions` (`list`, `call:<tool>`); its one JSON
/// outcome (see `tests/upstreams/mcp_client.py`).
pub fn mcp_client(url: &str, options: ClientOptions<'_>, actions: &[&str]) -> Value {
    let mut command = Command::new(mcp_python());
    command
        .arg(repo_root().join("tests/upstreams/mcp_client.py"))
        .arg(url);
    if options.legacy {
        command.arg("--legacy");
    }
    if options.sse {
        command.arg("--sse");
    }
    if let Some(email) = options.oauth_as {
        command.args(["--oauth", email]);
    }
    let mut child = command
        .args(actions)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting tests/upstreams/mcp_client.py: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(options.token.unwrap_or_default().as_bytes())
            .unwrap_or_else(|e| panic!("writing the token to the MCP client: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("running tests/upstreams/mcp_client.py: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tests/upstreams/mcp_client.py failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "the MCP client's outcome is not JSON ({e}): {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `tests/upstreams/mcp_auth_server.py` on a free port, killed on drop.
#[derive(Debug)]
pub struct AuthServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl AuthServer {
    pub fn start() -> AuthServer {
        let dir = scratch("mcp-auth-server");
        let script = repo_root().join("tests/upstreams/mcp_auth_server.py");
        let mut command = Command::new(mcp_python());
        command.arg(&script).arg("0").arg(&dir);
        let (child, port) = spawn_listening("mcp_auth_server.py", command);
        AuthServer { child, port, dir }
    }

    /// Its issuer identifier, as its metadata and tokens say it.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its public JWK Set (JSON text), for the tenant file.
    pub fn jwks(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("as.jwks.json"))
            .unwrap_or_else(|e| panic!("reading the authorization server's JWKS: {e}"));
        let set: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the authorization server's JWKS is not JSON: {e}"));
        set.to_string()
    }

    /// A token as this server would issue it: `iss` its issuer, `sub` and `email` the user,
    /// `iat` now, `exp` in ten minutes, then `claims` on top (`aud`, `scope`, ...; `null` leaves a
    /// claim out), signed RS256 with its key (`kid` set).
    pub fn mint(&self, email: &str, claims: Value) -> String {
        let private = std::fs::read_to_string(self.dir.join("as.private.jwk.json"))
            .unwrap_or_else(|e| panic!("reading the authorization server's key: {e}"));
        let mut all = Map::new();
        all.insert("iss".into(), json!(self.issuer()));
        all.insert("sub".into(), json!(email));
        all.insert("email".into(), json!(email));
        if let Value::Object(claims) = claims {
            all.extend(claims);
        }
        keys::mint(&private, all, unix_now(), 600)
            .unwrap_or_else(|e| panic!("minting a token with the authorization server's key: {e}"))
    }

    /// Every request it answered, in order: `{"method", "path", "params"}`.
    pub fn requests(&self) -> Vec<Value> {
        let r = send(
            self.port,
            &HttpRequest::get("/_e2e/requests").host("127.0.0.1"),
        )
        .unwrap_or_else(|e| panic!("asking the authorization server what it saw: {e}"));
        match r.json() {
            Value::Array(requests) => requests,
            other => panic!("the authorization server's log is not a list: {other}"),
        }
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
