//! Upstreams that parse requests the way real services do, for the differential suite
//! (`tests/tests/differential.rs`), and an Envoy that runs a whole static configuration (one
//! `gatehouse_deploy::envoy::static_bootstrap` generates) rather than the ECDS bootstrap.
//!
//! - [`go_upstream`]: `tests/upstreams/go` (net/http, encoding/json into structs), built once per
//!   test binary with the Go toolchain on `PATH` (or `GO_BIN`); no modules from the network.
//!   Without Go this panics, it does not skip: `scripts/test.sh` installs Go (`ensure_go`).
//! - [`wsgi_upstream`]: `tests/upstreams/wsgi_upstream.py` (wsgiref, the CGI environ).
//! - [`form_upstream`]: `tests/upstreams/form_upstream.py` (parser picked from Content-Type,
//!   body decompressed by Content-Encoding).
//! - [`forwarded_upstream`]: `tests/upstreams/forwarded_upstream.py` (its own host and prefix
//!   rebuilt from forwarding headers).
//!
//! Each prints `listening on 127.0.0.1:PORT` once ready and is killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    envoy_bin, repo_root, scratch, send, stop, stop_envoy, HttpRequest, HttpResponse, Protocol,
};

/// A running upstream process on a loopback port.
#[derive(Debug)]
pub struct UpstreamProcess {
    child: Child,
    pub name: &'static str,
    pub port: u16,
}

impl Drop for UpstreamProcess {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn spawn(name: &'static str, command: Command) -> UpstreamProcess {
    let (child, port) = spawn_listening(name, command);
    UpstreamProcess { child, name, port }
}

/// Start the `name` upstream's `command` and read its port from the first line it prints
/// (`listening on 127.0.0.1:PORT`).
pub(crate) fn spawn_listening(name: &str, mut command: Command) -> (Child, u16) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the {name} upstream: {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok());
    match port {
        Some(port) => (child, port),
        None => {
            stop(&mut child);
            panic!("the {name} upstream did not say its port: {line:?}")
        }
    }
}

fn upstreams_dir() -> PathBuf {
    repo_root().join("tests/upstreams")
}

/// The `go` command: `GO_BIN`, else `go` on `PATH`, else the Debian package's location.
pub fn go_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("GO_BIN") {
        return PathBuf::from(bin);
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v go"]).output() {
        let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !found.is_empty() {
            return PathBuf::from(found);
        }
    }
    let debian = Path::new("/usr/lib/go/bin/go");
    if debian.exists() {
        return debian.to_path_buf();
    }
    panic!(
        "no Go toolchain found: the differential suite needs one for its Go upstream. \
         Run ./scripts/test.sh (it installs Debian's golang-go), or `apt-get install -y golang-go`, \
         or set GO_BIN"
    );
}

/// The Go upstream's binary, built once per test binary into `target/e2e-upstreams`.
pub fn go_upstream_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| repo_root().join("target"), PathBuf::from);
        let out = target.join("e2e-upstreams/go-upstream");
        let go = go_bin();
        let output = Command::new(&go)
            .current_dir(upstreams_dir().join("go"))
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            // Standard library only: nothing may come from the network, and the local
            // toolchain is the one used (no toolchain download).
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", target.join("go-cache"))
            .env("GOPATH", target.join("go-path"))
            .output()
            .unwrap_or_else(|e| panic!("running {} build: {e}", go.display()));
        assert!(
            output.status.success(),
            "building tests/upstreams/go failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// The Go upstream (net/http + encoding/json) on a free port.
pub fn go_upstream() -> UpstreamProcess {
    let mut command = Command::new(go_upstream_binary());
    command.arg("0");
    spawn("go", command)
}

fn python(script: &str) -> Command {
    let mut command = Command::new("python3");
    command.arg(upstreams_dir().join(script)).arg("0");
    command
}

/// The WSGI upstream (wsgiref) on a free port.
pub fn wsgi_upstream() -> UpstreamProcess {
    spawn("wsgi", python("wsgi_upstream.py"))
}

/// The form-decoding upstream on a free port.
pub fn form_upstream() -> UpstreamProcess {
    spawn("form", python("form_upstream.py"))
}

/// The forwarding-header upstream (wsgiref, host and prefix rebuilt as Rack, Express and Spring
/// do) on a free port.
pub fn forwarded_upstream() -> UpstreamProcess {
    spawn("forwarded", python("forwarded_upstream.py"))
}

/// Envoy running one complete static configuration (JSON), e.g.
/// `gatehouse_deploy::envoy::static_bootstrap(..).json()`. The listener and admin ports are the
/// caller's, inside `config`.
#[derive(Debug)]
pub struct StaticEnvoy {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
    pub admin_port: u16,
}

impl StaticEnvoy {
    /// Start Envoy with `config`; returns once `/ready` says LIVE.
    pub fn start(name: &str, config: &Value, port: u16, admin_port: u16) -> StaticEnvoy {
        let dir = scratch(name);
        // `.json`: Envoy picks the parser by extension.
        let path = dir.join("envoy.json");
        std::fs::write(&path, config.to_string())
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        let log = std::fs::File::create(dir.join("envoy.log"))
            .unwrap_or_else(|e| panic!("creating envoy.log: {e}"));
        let child = Command::new(envoy_bin())
            .arg("-c")
            .arg(&path)
            .args(["--concurrency", "1", "--use-dynamic-base-id", "-l", "info"])
            // An access log the configuration writes reaches its file within 0.1 s (default 10 s).
            .args(["--file-flush-interval-msec", "100"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting Envoy: {e}"));
        let mut envoy = StaticEnvoy {
            child,
            dir,
            port,
            admin_port,
        };
        envoy.wait_ready();
        envoy
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Envoy exited ({status}) before it was ready; log (warnings and errors):\n{}",
                    self.log_problems()
                );
            }
            if let Ok(r) = send(self.admin_port, &HttpRequest::get("/ready")) {
                if r.status == 200 && r.text().trim() == "LIVE" {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "Envoy not ready after 30 s; log (warnings and errors):\n{}",
            self.log_problems()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// The log's lines above `info` (its start-up banner is long).
    pub fn log_problems(&self) -> String {
        self.log()
            .lines()
            .filter(|l| !l.contains("][info][") && !l.contains("][debug]["))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// One request to the listener; an I/O error is an `Err` (the caller records it).
    pub fn request(&self, req: &HttpRequest<'_>) -> std::io::Result<HttpResponse> {
        send(self.port, req)
    }

    /// The same over `protocol`.
    pub fn request_over(
        &self,
        protocol: Protocol,
        req: &HttpRequest<'_>,
    ) -> std::io::Result<HttpResponse> {
        protocol.send(self.port, req)
    }
}

impl Drop for StaticEnvoy {
    fn drop(&mut self) {
        stop_envoy(&mut self.child, &self.dir);
    }
}
