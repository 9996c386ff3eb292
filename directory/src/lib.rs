#![doc = include_str!("../README.md")]

pub mod clock;
pub mod directory;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod fs;
pub mod http;
pub mod limit;
pub mod metrics;
pub mod patch;
pub mod policy;
pub mod publish;
pub mod resource;
pub mod server;
pub mod store;
pub mod token;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::directory::Directory;
use crate::limit::RateLimiter;
use crate::metrics::Metrics;
use crate::publish::{PublishConfig, Signal};
use crate::server::Endpoints;
use crate::store::Store;

pub use crate::error::ScimError;
pub use crate::publish::EcdsTarget;

/// `gatehouse directory serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    /// Where `/healthz` and `/metrics` are served instead of `listen` (which then serves SCIM
    /// only); `None`: on `listen` too.
    pub admin_listen: Option<String>,
    pub publish: PublishConfig,
    pub limits: Limits,
    /// Threads doing SCIM work (database, files) at once.
    pub workers: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Requests a second per tenant, on average.
    pub rate: f64,
    /// Requests per tenant at once.
    pub burst: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 1024 * 1024,
            rate: 100.0,
            burst: 200.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("reading the policy directory `{}`: {source}", path.display())]
    Policy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listening on `{addr}`: {message}")]
    Listen { addr: String, message: String },
}

/// What the request threads and the publishing thread share.
#[derive(Debug)]
pub struct Shared {
    pub state: Mutex<State>,
    pub metrics: Metrics,
    pub signal: Signal,
    pub limits: Limits,
    pub limiter: RateLimiter,
    pub policy_dir: PathBuf,
    tenants: Mutex<(Instant, BTreeSet<String>)>,
}

/// The database and the directories it holds, loaded once; changed only by a committed write.
pub struct State {
    pub store: Box<dyn Store>,
    pub directories: BTreeMap<String, Directory>,
    /// Tenants whose directory file is older than their directory, each with the number of
    /// the change that made it so: the file is derived data, written by the publisher once a
    /// burst settles (and at startup), not by every write.
    stale: BTreeMap<String, u64>,
    changes: u64,
}

impl State {
    /// A committed change to `tenant`'s directory: its file is to be written again.
    pub fn changed(&mut self, tenant: &str) {
        self.changes = self.changes.wrapping_add(1);
        self.stale.insert(tenant.to_owned(), self.changes);
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("tenants", &self.directories.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// How long the list of SCIM tenants read from the policy directory is trusted: a tenant file
/// that starts (or stops) saying `provisioning: scim` takes effect within this.
const TENANTS_TTL: Duration = Duration::from_secs(2);

impl Shared {
    /// Whether `tenant` is provisioned by SCIM, per the tenant files now.
    pub fn is_scim_tenant(&self, tenant: &str) -> bool {
        let Ok(mut cached) = self.tenants.lock() else {
            return false;
        };
        if cached.0.elapsed() > TENANTS_TTL {
            if let Ok(tenants) = policy::scim_tenants(&self.policy_dir) {
                *cached = (Instant::now(), tenants);
            }
        }
        cached.1.contains(tenant)
    }

    /// Where `tenant`'s directory file goes.
    pub fn directory_file(&self, tenant: &str) -> PathBuf {
        directory_file(&self.policy_dir, tenant)
    }

    /// Whether every directory file says what the database does (no committed change waits
    /// for the publisher to write it).
    pub fn directory_files_current(&self) -> bool {
        self.state.lock().is_ok_and(|s| s.stale.is_empty())
    }

    /// Writes the directory file of every tenant changed since its last one. Each is rendered
    /// under the state lock (a copy of memory) and written (fsync, rename, fsync) outside it, so
    /// writers wait for neither disk nor the publisher's files; a tenant changed again meanwhile
    /// stays stale for the next round.
    pub fn write_directory_files(&self) -> Result<(), String> {
        let rendered: Vec<(String, u64, String)> = {
            let state = self.state.lock().map_err(|_| "state lock poisoned")?;
            state
                .stale
                .iter()
                .map(|(tenant, change)| {
                    let text = state
                        .directories
                        .get(tenant)
                        .map(|d| d.render(tenant))
                        .unwrap_or_else(|| Directory::default().render(tenant));
                    (tenant.clone(), *change, text)
                })
                .collect()
        };
        for (tenant, change, text) in rendered {
            let path = self.directory_file(&tenant);
            fs::write_atomic(&path, text.as_bytes())
                .map_err(|e| format!("writing `{}`: {e}", path.display()))?;
            let mut state = self.state.lock().map_err(|_| "state lock poisoned")?;
            if state.stale.get(&tenant) == Some(&change) {
                state.stale.remove(&tenant);
            }
        }
        Ok(())
    }
}

pub fn directory_file(policy_dir: &Path, tenant: &str) -> PathBuf {
    policy_dir.join(format!("{tenant}{}", policy::DIRECTORY_SUFFIX))
}

/// A running service.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    /// The operator's listener, with `admin_listen`.
    pub admin_addr: Option<SocketAddr>,
    pub shared: Arc<Shared>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Blocks while the service runs.
    pub fn wait(self) {
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

/// Opens the database, writes every SCIM tenant's directory file, starts the publishing
/// thread (which publishes once now) and the request threads; returns once the listener
/// accepts connections.
pub fn start(config: Config, store: Box<dyn Store>) -> Result<Running, StartError> {
    let mut store = store;
    let policy_dir = config.publish.policy_dir.clone();
    let scim = policy::scim_tenants(&policy_dir).map_err(|source| StartError::Policy {
        path: policy_dir.clone(),
        source,
    })?;
    let mut directories: BTreeMap<String, Directory> = BTreeMap::new();
    for (tenant, resource) in store.load()? {
        directories
            .entry(tenant)
            .or_default()
            .apply(&[directory::Write::Put(resource)]);
    }
    for token in store.tokens()? {
        directories.entry(token.tenant).or_default();
    }
    for (tenant, dir) in &directories {
        if scim.contains(tenant) {
            let path = directory_file(&policy_dir, tenant);
            fs::write_atomic(&path, dir.render(tenant).as_bytes())
                .map_err(|source| StartError::Write { path, source })?;
        }
    }
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            store,
            directories,
            stale: BTreeMap::new(),
            changes: 0,
        }),
        metrics: Metrics::default(),
        signal: Signal::default(),
        limits: config.limits,
        limiter: RateLimiter::new(config.limits.rate, config.limits.burst),
        policy_dir,
        tenants: Mutex::new((Instant::now(), scim)),
    });
    let (listener, addr) = bind(&config.listen)?;
    let admin = config.admin_listen.as_deref().map(bind).transpose()?;
    let publisher = Arc::clone(&shared);
    let publish = config.publish.clone();
    std::thread::spawn(move || publish::run(&publisher, &publish));
    shared.signal.notify();
    let spawn = |listener, endpoints, at: &str| {
        http::spawn(listener, Arc::clone(&shared), config.workers, endpoints).map_err(|e| {
            StartError::Listen {
                addr: at.to_owned(),
                message: e.to_string(),
            }
        })
    };
    let mut workers = Vec::new();
    let mut admin_addr = None;
    let scim = match admin {
        None => Endpoints::All,
        Some((admin, at)) => {
            let name = config.admin_listen.as_deref().unwrap_or_default();
            workers.push(spawn(admin, Endpoints::Operator, name)?);
            admin_addr = Some(at);
            Endpoints::Scim
        }
    };
    workers.push(spawn(listener, scim, &config.listen)?);
    Ok(Running {
        addr,
        admin_addr,
        shared,
        workers,
    })
}

/// A listener on `at` and the address it got.
fn bind(at: &str) -> Result<(std::net::TcpListener, SocketAddr), StartError> {
    let failed = |e: std::io::Error| StartError::Listen {
        addr: at.to_owned(),
        message: e.to_string(),
    };
    let listener = std::net::TcpListener::bind(at).map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    Ok((listener, addr))
}
