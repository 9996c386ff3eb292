//! Publishing: after writes settle (debounce), compile the whole policy directory, and only if
//! it compiles, write the bundle and the ECDS file (each atomically) and run the hook. A write
//! that lands during a compile makes one more compile after it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use gatehouse_compiler::{compile_paths, CompileError, CompileOptions};
use gatehouse_deploy::envoy::{self, Filter, Format};
use sha2::{Digest, Sha256};

use crate::metrics::Published;
use crate::Shared;

/// Where and how bundles go.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    pub policy_dir: PathBuf,
    pub gateway: Option<PathBuf>,
    pub ecds: Option<EcdsTarget>,
    pub signing_key: Option<SigningKey>,
    pub bundle_out: Option<PathBuf>,
    pub on_publish: Option<String>,
    pub debounce: Duration,
}

/// The ECDS file Envoy watches, and the VM it names (as `scripts/push-bundle.sh` writes it).
#[derive(Debug, Clone)]
pub struct EcdsTarget {
    pub path: PathBuf,
    pub wasm: PathBuf,
    pub trusted_keys: Vec<String>,
}

/// The wake-up between the writers and the publishing thread.
#[derive(Debug, Default)]
pub struct Signal {
    dirty: Mutex<bool>,
    wake: Condvar,
}

impl Signal {
    /// A change was committed: publish (soon).
    pub fn notify(&self) {
        if let Ok(mut dirty) = self.dirty.lock() {
            *dirty = true;
            self.wake.notify_one();
        }
    }

    /// Waits for a change, then for `debounce` more, and takes the flag: writes during the
    /// compile that follows set it again.
    fn wait(&self, debounce: Duration) {
        let Ok(mut dirty) = self.dirty.lock() else {
            return;
        };
        while !*dirty {
            dirty = match self.wake.wait(dirty) {
                Ok(d) => d,
                Err(_) => return,
            };
        }
        drop(dirty);
        std::thread::sleep(debounce);
        if let Ok(mut dirty) = self.dirty.lock() {
            *dirty = false;
        }
    }
}

/// The publishing thread's loop.
pub fn run(shared: &Shared, config: &PublishConfig) {
    loop {
        shared.signal.wait(config.debounce);
        match publish(shared, config) {
            Ok(published) => {
                eprintln!(
                    "published serial {} (sha256 {})",
                    published.serial, published.digest
                );
                shared.metrics.published(published);
            }
            Err(error) => {
                eprintln!("not published; the last good bundle stays: {error}");
                shared.metrics.failed(error);
                if !shared.directory_files_current() {
                    // A directory file could not be written (a full disk): try again soon
                    // rather than at the next change, which may not come.
                    std::thread::sleep(Duration::from_secs(1));
                    shared.signal.notify();
                }
            }
        }
    }
}

/// One compile and publish.
fn publish(shared: &Shared, config: &PublishConfig) -> Result<Published, String> {
    // The compiler reads the directory files: bring them up to the database first. One that
    // cannot be written stays stale and fails this publish (the last good bundle stays).
    shared.write_directory_files()?;
    let serial = {
        let mut state = shared.state.lock().map_err(|_| "state lock poisoned")?;
        state
            .store
            .next_serial(crate::clock::unix_now())
            .map_err(|e| format!("allocating a serial: {e}"))?
    };
    let started = Instant::now();
    let compiled = compile_paths(&CompileOptions {
        gateway: config.gateway.clone(),
        inputs: vec![config.policy_dir.clone()],
        revision: None,
        serial,
    });
    shared.metrics.compiled(started.elapsed().as_secs_f64());
    let policy = compiled.map_err(|e| match e {
        CompileError::Invalid(diagnostics) => {
            let lines: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
            format!("the policy does not compile:\n{}", lines.join("\n"))
        }
        other => other.to_string(),
    })?;
    let bytes = gatehouse_engine::bundle::encode(&policy, config.signing_key.as_ref())
        .map_err(|e| format!("encoding the bundle: {e}"))?;
    let digest = crate::token::hex(&Sha256::digest(&bytes));
    if let Some(path) = &config.bundle_out {
        write(path, &bytes)?;
    }
    if let Some(ecds) = &config.ecds {
        let filter = Filter {
            // The directory publishes for the wasm filter; its ECDS settings name the module.
            build: envoy::Build::Wasm,
            module: ecds.wasm.clone(),
            trusted_keys: ecds.trusted_keys.clone(),
            allow_rollback: false,
            fixed_now: None,
            panic_path: None,
            token_cache_entries: None,
        };
        let version = format!("{serial}-{}", digest.get(..12).unwrap_or(&digest));
        let format = if ecds.path.extension().is_some_and(|e| e == "json") {
            Format::Json
        } else {
            Format::Yaml
        };
        let text = envoy::ecds_resource(&filter, &bytes, &version).render(format);
        write(&ecds.path, text.as_bytes())?;
    }
    if let (Some(command), Some(bundle)) = (&config.on_publish, &config.bundle_out) {
        hook(command, bundle, serial)?;
    }
    Ok(Published {
        serial,
        time: crate::clock::now_rfc3339(),
        digest,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::fs::write_atomic(path, bytes).map_err(|e| format!("writing `{}`: {e}", path.display()))
}

/// How long `--on-publish` may run before it is killed (and the publish counted as failed):
/// a hook that hangs must not stop every later publish.
const HOOK_TIMEOUT: Duration = Duration::from_secs(120);

/// `sh -c COMMAND` with the bundle's path and serial; its output goes to stderr (stdout is the
/// service's own).
fn hook(command: &str, bundle: &Path, serial: u64) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("GATEHOUSE_BUNDLE", bundle)
        .env("GATEHOUSE_SERIAL", serial.to_string())
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .spawn()
        .map_err(|e| format!("running --on-publish: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("--on-publish exited with {status}")),
            Ok(None) if started.elapsed() > HOOK_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "--on-publish ran longer than {}s and was killed",
                    HOOK_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for --on-publish: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{mpsc, Arc};

    #[test]
    fn a_burst_wakes_the_publisher_once_and_a_later_change_again() {
        let signal = Arc::new(Signal::default());
        for _ in 0..100 {
            signal.notify();
        }
        signal.wait(Duration::ZERO);
        let (done, waited) = mpsc::channel();
        let waiter = Arc::clone(&signal);
        std::thread::spawn(move || {
            waiter.wait(Duration::ZERO);
            let _ = done.send(());
        });
        assert!(
            waited.recv_timeout(Duration::from_millis(200)).is_err(),
            "the burst was taken as one change"
        );
        // A change during the compile that follows: one more round.
        signal.notify();
        assert!(waited.recv_timeout(Duration::from_secs(10)).is_ok());
    }
}
