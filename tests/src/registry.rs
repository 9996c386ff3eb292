//! A real OCI registry on localhost (`docker-registry`, Debian's build of the CNCF distribution
//! registry, with filesystem storage in a scratch directory) and `skopeo` to push and pull
//! image layouts through it. `scripts/test.sh` installs both (`ensure_registry_tools` in
//! `scripts/lib.sh`); without them this panics, it does not skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, run_ok, scratch, send, stop, HttpRequest};

/// `docker-registry serve` on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Registry {
    /// Start a registry and wait until `/v2/` answers.
    pub fn start() -> Registry {
        let dir = scratch("registry");
        let port = free_port();
        let config = dir.join("config.yml");
        let storage = dir.join("storage");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .expect("writing the registry configuration");
        let log = std::fs::File::create(dir.join("registry.log")).expect("creating registry.log");
        let child = Command::new(tool("docker-registry"))
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Registry { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!(
                    "docker-registry exited ({status}); log:\n{}",
                    registry.log()
                );
            }
            if send(port, &HttpRequest::get("/v2/")).is_ok_and(|r| r.status == 200) {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop(&mut registry.child);
        panic!(
            "docker-registry not ready after 20 s; log:\n{}",
            registry.log()
        );
    }

    /// `127.0.0.1:PORT/NAME:TAG`.
    pub fn reference(&self, name: &str, tag: &str) -> String {
        format!("127.0.0.1:{}/{name}:{tag}", self.port)
    }

    /// Push the image `tag` of the layout `layout` to `reference` (plain HTTP, as a local
    /// registry serves it).
    pub fn push(&self, layout: &Path, tag: &str, reference: &str) {
        run_ok(
            Command::new(tool("skopeo")).args([
                "copy",
                "--dest-tls-verify=false",
                &format!("oci:{}:{tag}", layout.display()),
                &format!("docker://{reference}"),
            ]),
            "skopeo copy (push)",
        );
    }

    /// Pull `reference` into a new layout `layout`, tagged `tag`.
    pub fn pull(&self, reference: &str, layout: &Path, tag: &str) {
        run_ok(
            Command::new(tool("skopeo")).args([
                "copy",
                "--src-tls-verify=false",
                &format!("docker://{reference}"),
                &format!("oci:{}:{tag}", layout.display()),
            ]),
            "skopeo copy (pull)",
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `name` on `PATH`, or a panic that says how to install it.
fn tool(name: &str) -> PathBuf {
    if let Ok(out) = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
    {
        let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !found.is_empty() {
            return PathBuf::from(found);
        }
    }
    panic!(
        "`{name}` is not installed: `apt-get install docker-registry skopeo` (scripts/test.sh \
         does, through ensure_registry_tools in scripts/lib.sh)"
    );
}
