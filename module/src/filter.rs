//! The native module's filter, in safe Rust over [`crate::ffi`].
//!
//! - A configuration ([`Config`], Envoy's main thread) decodes and checks its bundle once into a
//!   [`Policy`] that every worker shares: the bundle is held once per process whatever the
//!   worker count.
//! - Each worker thread keeps its own verified-token cache, used by every configuration the
//!   worker runs (as a wasm VM does), and an [`Engine`] per live configuration over the shared
//!   policy. No lock on the request path: a cache per worker, not one shared cache.
//! - Each stream runs [`flow::Filter`] over [`NativeHost`], Envoy's calls through the ABI.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use gatehouse::config::{self, BundleSource, ConfigError, SerialScope};
use gatehouse::counters::Counters;
use gatehouse::flow::{self, Action, Event};
use gatehouse::reply::Reply;
use gatehouse_engine::cache::CacheStats;
use gatehouse_engine::{Engine, LoadOptions, Policy, SharedTokenCache};

use crate::ffi::{
    self, Direction, EnvoyConfig, EnvoyFilter, FilterConfig, Headers, HttpFilter, Status,
};

/// The serial last accepted per signer, in this process: a configuration whose bundle is older
/// than the one in service is refused unless `allow_rollback` (as the wasm filter does per VM).
/// Keyed by the signer only, for the reason `config::SerialScope` gives.
static SERIAL_IN_SERVICE: Mutex<BTreeMap<SerialScope, u64>> = Mutex::new(BTreeMap::new());

/// Numbers configurations, so a worker tells its engines apart.
static NEXT_CONFIG: AtomicU64 = AtomicU64::new(0);

/// One loaded configuration, shared by every worker (`Send + Sync`).
#[derive(Debug)]
pub struct Config {
    id: u64,
    policy: Policy,
    token_cache_entries: usize,
    metrics: Arc<Metrics>,
    /// Dropped with the configuration: workers drop their engine of it when it is gone.
    alive: Arc<()>,
    #[cfg(feature = "test-hooks")]
    fixed_now: Option<i64>,
    #[cfg(feature = "test-hooks")]
    panic_path: Option<Arc<str>>,
}

/// The ids of the configuration's counters and gauges (`gatehouse::counters`, the same names as
/// the wasm filter's; Envoy puts them under the module's `metrics_namespace`,
/// `dynamicmodulescustom.` by default, where it puts the wasm filter's under `wasmcustom.`).
/// `None`: Envoy refused to define it (a metric never decides a request).
type Metrics = Counters<Option<usize>>;

impl FilterConfig for Config {
    type Filter = Stream;

    const PANIC_REPLY: (u32, &'static str, &'static str) =
        (503, "application/json", "{\"error\":\"unavailable\"}");

    fn new(envoy: &EnvoyConfig, _name: &[u8], raw: &[u8]) -> Option<Config> {
        let loads = envoy.define_counter("gatehouse.bundle_loads");
        let rejections = envoy.define_counter("gatehouse.bundle_rejections");
        let revision = envoy.define_gauge("gatehouse.bundle_revision");
        let digest = envoy.define_gauge("gatehouse.bundle_digest48");
        let metrics = Arc::new(Counters::define(
            |name| envoy.define_counter(name),
            |name| envoy.define_gauge(name),
        ));
        match load(raw) {
            Ok(config) => {
                let bundle = config.policy.bundle();
                envoy.increment_counter(loads, 1);
                envoy.set_gauge(revision, config::numeric_revision(&bundle.meta().revision));
                envoy.set_gauge(digest, config::digest48(bundle.digest()));
                Some(Config { metrics, ..config })
            }
            Err(err) => {
                // Envoy keeps the configuration it had: a rejected one never replaces a good one.
                log::error!("rejecting configuration: {err}");
                envoy.increment_counter(rejections, 1);
                None
            }
        }
    }

    fn new_filter(&self, envoy: EnvoyFilter) -> Stream {
        let host = NativeHost {
            envoy,
            metrics: Arc::clone(&self.metrics),
        };
        let filter = flow::Filter::new(Some(self.worker_engine()), host);
        #[cfg(feature = "test-hooks")]
        let filter = filter.with_hooks(flow::TestHooks {
            fixed_now: self.fixed_now,
            panic_path: self.panic_path.as_deref().map(Rc::from),
        });
        Stream(filter)
    }
}

/// Parse the configuration, read and check the bundle, check its serial, and record it as in
/// service.
fn load(raw: &[u8]) -> Result<Config, ConfigError> {
    let parsed = config::module_config(raw)?;
    let settings = parsed.settings;
    if !settings.trusted_keys.is_empty() {
        log::info!(
            "{} trusted bundle signing key(s) pinned",
            settings.trusted_keys.len()
        );
    }
    if settings.allow_rollback {
        log::warn!("allow_rollback: bundles older than the one in service are accepted");
    }
    let bytes = match parsed.bundle {
        BundleSource::Bytes(bytes) => bytes,
        BundleSource::Path(path) => std::fs::read(&path).map_err(|e| {
            ConfigError::PluginConfig(format!("cannot read the bundle at `{path}`: {e}"))
        })?,
    };
    let options = LoadOptions {
        trusted_keys: settings.trusted_keys.clone(),
    };
    let policy = Policy::decode(bytes, &options).map_err(ConfigError::Bundle)?;
    let bundle = policy.bundle();
    let meta = bundle.meta();
    let scope = SerialScope::of(bundle.signer());
    {
        let mut in_service = SERIAL_IN_SERVICE
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let previous = in_service.get(&scope).copied();
        config::check_serial(scope, meta.serial, previous, settings.allow_rollback)?;
        if previous.is_some_and(|s| meta.serial < s) {
            log::warn!(
                "rolling back from serial {} to serial {} of signer {scope} (allow_rollback)",
                previous.unwrap_or_default(),
                meta.serial
            );
        }
        in_service.insert(scope, meta.serial);
    }
    log::info!(
        "loaded bundle revision `{}` serial {} ({} tenant(s), {} bytes, mode {}), shared by every worker",
        meta.revision,
        meta.serial,
        bundle.tenants().len(),
        bundle.len(),
        if bundle.gateway().dry_run { "dry-run" } else { "enforce" },
    );
    #[cfg(feature = "test-hooks")]
    if let Some(now) = settings.fixed_now {
        log::warn!("test build: the clock is fixed at {now} (fixed_now)");
    }
    Ok(Config {
        id: NEXT_CONFIG.fetch_add(1, Ordering::Relaxed),
        token_cache_entries: settings.token_cache_entries,
        metrics: Arc::default(),
        alive: Arc::new(()),
        #[cfg(feature = "test-hooks")]
        fixed_now: settings.fixed_now,
        #[cfg(feature = "test-hooks")]
        panic_path: settings.panic_path.map(Arc::from),
        policy,
    })
}

thread_local! {
    /// This worker's verified-token cache, which the engines of every configuration it runs
    /// use, so that a new bundle keeps the signatures verified under the previous one
    /// (`gatehouse_engine::cache` says when that holds). Created by the first stream, with that
    /// configuration's `token_cache_entries`.
    static TOKEN_CACHE: RefCell<Option<SharedTokenCache>> = const { RefCell::new(None) };
    /// This worker's engines: one per live configuration, over the configuration's policy.
    static ENGINES: RefCell<Vec<WorkerEngine>> = const { RefCell::new(Vec::new()) };
    /// The evictions and entries of this worker's cache reported so far.
    static CACHE_REPORTED: RefCell<CacheStats> = RefCell::new(CacheStats::default());
}

#[derive(Debug)]
struct WorkerEngine {
    config: u64,
    alive: Weak<()>,
    engine: Rc<Engine>,
}

impl Config {
    /// This worker's engine for this configuration, made on the worker's first stream of it.
    /// Engines of configurations Envoy has destroyed are dropped here.
    fn worker_engine(&self) -> Rc<Engine> {
        ENGINES.with(|engines| {
            let mut engines = engines.borrow_mut();
            if let Some(found) = engines.iter().find(|e| e.config == self.id) {
                return Rc::clone(&found.engine);
            }
            engines.retain(|e| e.alive.strong_count() > 0);
            let cache = TOKEN_CACHE.with(|cache| {
                cache
                    .borrow_mut()
                    .get_or_insert_with(|| SharedTokenCache::new(self.token_cache_entries))
                    .clone()
            });
            let engine = Rc::new(self.policy.engine(&cache));
            engines.push(WorkerEngine {
                config: self.id,
                alive: Arc::downgrade(&self.alive),
                engine: Rc::clone(&engine),
            });
            engine
        })
    }
}

/// One stream: the shared request flow over Envoy's calls.
#[derive(Debug)]
pub struct Stream(flow::Filter<NativeHost>);

fn status(action: Action) -> Status {
    match action {
        Action::Continue => Status::Continue,
        Action::Pause => Status::Stop,
    }
}

impl HttpFilter for Stream {
    fn request_headers(&mut self, end_of_stream: bool) -> Status {
        status(self.0.on_request_headers(end_of_stream))
    }

    fn request_body(&mut self, end_of_stream: bool) -> Status {
        let size = self.0.host().envoy.body_size(Direction::Request);
        status(self.0.on_request_body(size, end_of_stream))
    }

    fn request_trailers(&mut self) -> Status {
        status(self.0.on_request_trailers())
    }

    fn response_headers(&mut self, end_of_stream: bool) -> Status {
        status(self.0.on_response_headers(end_of_stream))
    }

    fn response_body(&mut self, end_of_stream: bool) -> Status {
        let size = self.0.host().envoy.body_size(Direction::Response);
        status(self.0.on_response_body(size, end_of_stream))
    }

    fn response_trailers(&mut self) -> Status {
        status(self.0.on_response_trailers())
    }

    fn complete(&mut self) {
        self.0.on_done();
    }
}

/// Envoy's calls for one stream. Each is a direct call into Envoy (no VM boundary), so the
/// flow's single header read is one copy of the header map and nothing more.
#[derive(Debug)]
pub struct NativeHost {
    envoy: EnvoyFilter,
    metrics: Arc<Metrics>,
}

/// Why a host call failed: Envoy said no (the map or buffer was not available); names the call.
type Refused = &'static str;

fn ok(done: bool, what: &'static str) -> Result<(), Refused> {
    if done {
        Ok(())
    } else {
        Err(what)
    }
}

impl NativeHost {
    /// The body of `direction`, at most `size` bytes of it. Every byte Envoy says it holds must
    /// be read: a body that comes back shorter would be decided (or trimmed) on less than what
    /// the upstream (or the client) gets, so it is refused.
    fn read_body(&self, direction: Direction, size: usize) -> Result<Option<Vec<u8>>, Refused> {
        let expected = self.envoy.body_size(direction);
        let mut body = self
            .envoy
            .body(direction)
            .filter(|b| b.len() == expected)
            .ok_or("the buffered body")?;
        body.truncate(size);
        Ok((!body.is_empty()).then_some(body))
    }

    fn add(&self, id: Option<usize>, n: usize) {
        add(&self.envoy, id, n);
    }

    /// After a verification: the change in this worker's cache evictions and entries.
    fn report_cache(&self) {
        let Some(now) = TOKEN_CACHE.with(|c| c.borrow().as_ref().map(SharedTokenCache::stats))
        else {
            return;
        };
        let before = CACHE_REPORTED.with(|r| std::mem::replace(&mut *r.borrow_mut(), now));
        let evicted = now.evictions.saturating_sub(before.evictions);
        if evicted > 0 {
            self.add(
                self.metrics.token_cache_evictions,
                usize::try_from(evicted).unwrap_or(usize::MAX),
            );
        }
        if let Some(id) = self.metrics.token_cache_entries {
            let delta = i64::try_from(now.entries).unwrap_or(i64::MAX)
                - i64::try_from(before.entries).unwrap_or(i64::MAX);
            if delta != 0 {
                self.envoy.add_gauge(id, delta);
            }
        }
    }
}

impl flow::Host for NativeHost {
    type Error = Refused;

    fn request_headers(&mut self) -> Result<Vec<(String, String)>, Refused> {
        let headers = self.envoy.headers(Headers::Request);
        if headers.is_empty() {
            return Err("request headers");
        }
        headers
            .into_iter()
            .map(|(name, value)| {
                // A name is removed by the name read here: one that is not text could not be
                // named back to Envoy exactly. Envoy's codecs accept only tokens, so this never
                // refuses a request Envoy parsed; a host that passed one gets a refusal, not a
                // spoofed header left in place.
                let name = String::from_utf8(name).map_err(|_| "a header name that is not text")?;
                Ok((name, flow::text(value)))
            })
            .collect()
    }

    fn request_body(&mut self, size: usize) -> Result<Option<Vec<u8>>, Refused> {
        self.read_body(Direction::Request, size)
    }

    /// The machine's clock: the ABI has no clock call, and Envoy's own is this clock.
    fn now(&mut self) -> Option<i64> {
        #[cfg(test)]
        if let Some(now) = tests::NOW.get() {
            return Some(now);
        }
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        Some(i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX))
    }

    fn remove_header(&mut self, name: &str) -> Result<(), Refused> {
        ok(
            self.envoy.remove_header(Headers::Request, name),
            "remove header",
        )
    }

    fn set_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        ok(
            self.envoy.set_header(Headers::Request, name, value),
            "set header",
        )
    }

    /// Values that are not UTF-8 read as absent.
    fn response_header(&mut self, name: &str) -> Result<Option<String>, Refused> {
        Ok(self
            .envoy
            .header(Headers::Response, name)
            .and_then(|v| String::from_utf8(v).ok()))
    }

    fn remove_response_header(&mut self, name: &str) -> Result<(), Refused> {
        ok(
            self.envoy.remove_header(Headers::Response, name),
            "remove response header",
        )
    }

    fn set_response_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        ok(
            self.envoy.set_header(Headers::Response, name, value),
            "set response header",
        )
    }

    fn response_body(&mut self, size: usize) -> Result<Option<Vec<u8>>, Refused> {
        self.read_body(Direction::Response, size)
    }

    /// Replaces everything of the response body seen so far (`_size` is all of it here).
    fn set_response_body(&mut self, _size: usize, body: &[u8]) -> Result<(), Refused> {
        ok(
            self.envoy.replace_body(Direction::Response, body),
            "replace response body",
        )
    }

    fn send_reply(&mut self, reply: &Reply) -> Result<(), Refused> {
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        self.envoy
            .send_response(reply.status, &headers, reply.body.as_bytes());
        Ok(())
    }

    fn reset_response(&mut self) {
        self.envoy.reset();
    }

    fn log(&mut self, level: log::Level, line: &str) {
        ffi::log(level, line);
    }

    fn count(&mut self, event: Event) {
        let envoy = &self.envoy;
        self.metrics.record(event, |id, n| {
            add(envoy, *id, usize::try_from(n).unwrap_or(0));
        });
        if event == (Event::TokenLookup { hit: false }) {
            self.report_cache();
        }
    }
}

/// Adds `n` to counter `id` of the stream's configuration (none: Envoy refused to define it).
fn add(envoy: &EnvoyFilter, id: Option<usize>, n: usize) {
    if let Some(id) = id {
        envoy.increment_counter(id, u64::try_from(n).unwrap_or(u64::MAX));
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
