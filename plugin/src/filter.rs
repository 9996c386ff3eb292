//! The proxy-wasm contexts: [`Root`] loads the bundle once per configuration and shares it;
//! [`Filter`] decides each request.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use gatehouse_engine::{Engine, SharedTokenCache};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType};

use crate::config;
use crate::flow;
use crate::host::Host;
use crate::metrics::{self, Metrics};

thread_local! {
    /// The serial this VM last accepted, per signer ([`config::SerialScope`]), whichever filter
    /// of the VM accepted it: never per filter name, which the resource carrying the bundle sets.
    /// Not in [`Root`]: Envoy gives each new plugin configuration a new root context in the same
    /// VM, so only VM-wide state sees the bundle a new configuration would replace.
    static SERIAL_IN_SERVICE: RefCell<BTreeMap<config::SerialScope, u64>> =
        const { RefCell::new(BTreeMap::new()) };

    /// The VM's verified-token cache, which the engine of every configuration the VM loads
    /// uses: VM-wide for the same reason, so that a new bundle keeps the signatures verified
    /// under the previous one while the keys and the rest of what verification reads are
    /// unchanged (`gatehouse_engine::cache` says why that is safe). Created by the first
    /// `on_vm_start`, with the VM configuration's `token_cache_entries`; a VM's configuration
    /// never changes (Envoy starts another VM for another one).
    static TOKEN_CACHE: RefCell<Option<SharedTokenCache>> = const { RefCell::new(None) };
}

/// The VM's verified-token cache, created with `entries` if it is the first asked for.
fn vm_token_cache(entries: usize) -> SharedTokenCache {
    TOKEN_CACHE.with(|cache| {
        cache
            .borrow_mut()
            .get_or_insert_with(|| SharedTokenCache::new(entries))
            .clone()
    })
}

/// One per plugin configuration (and per VM): parses once, shares read-only state.
#[derive(Debug)]
pub struct Root {
    trusted_keys: Vec<[u8; 32]>,
    /// The VM configuration's `allow_rollback`.
    allow_rollback: bool,
    /// The VM's verified-token cache, which every root context of the VM shares.
    token_cache: Option<SharedTokenCache>,
    engine: Option<Rc<Engine>>,
    metrics: Rc<Metrics>,
    /// Feature `test-hooks` (test builds): the VM configuration's `fixed_now` and `panic_path`.
    #[cfg(feature = "test-hooks")]
    hooks: flow::TestHooks,
}

impl Root {
    pub fn new() -> Root {
        Root {
            trusted_keys: Vec::new(),
            allow_rollback: false,
            token_cache: None,
            engine: None,
            metrics: Rc::new(Metrics::define()),
            #[cfg(feature = "test-hooks")]
            hooks: flow::TestHooks::default(),
        }
    }
}

impl Default for Root {
    fn default() -> Self {
        Root::new()
    }
}

impl Context for Root {
    fn on_done(&mut self) -> bool {
        self.metrics.retire(self.cache_stats());
        true
    }
}

impl Root {
    fn cache_stats(&self) -> Option<gatehouse_engine::cache::CacheStats> {
        self.token_cache.as_ref().map(SharedTokenCache::stats)
    }
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        let raw = buffer(BufferType::VmConfiguration);
        match config::vm_settings(raw.as_deref()) {
            Ok(settings) => {
                if !settings.trusted_keys.is_empty() {
                    log::info!(
                        "{} trusted bundle signing key(s) pinned",
                        settings.trusted_keys.len()
                    );
                }
                if settings.allow_rollback {
                    log::warn!(
                        "allow_rollback: bundles older than the one in service are accepted"
                    );
                }
                self.trusted_keys = settings.trusted_keys;
                self.allow_rollback = settings.allow_rollback;
                self.token_cache = Some(vm_token_cache(settings.token_cache_entries));
                if let Err(status) = hostcalls::set_tick_period(metrics::FLUSH_PERIOD) {
                    // Counts then reach Envoy only when a configuration replaces this one.
                    log::warn!("cannot set a tick period for metrics: {status:?}");
                }
                #[cfg(feature = "test-hooks")]
                {
                    if let Some(now) = settings.fixed_now {
                        log::warn!("test build: the clock is fixed at {now} (fixed_now)");
                    }
                    self.hooks = flow::TestHooks {
                        fixed_now: settings.fixed_now,
                        panic_path: settings.panic_path.map(Rc::from),
                    };
                }
                true
            }
            Err(err) => {
                log::error!("refusing to start: {err}");
                false
            }
        }
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let token_cache = self
            .token_cache
            .get_or_insert_with(|| vm_token_cache(config::DEFAULT_TOKEN_CACHE_ENTRIES))
            .clone();
        let loaded = config::load_engine(
            buffer(BufferType::PluginConfiguration),
            &self.trusted_keys,
            &token_cache,
        )
        .and_then(|engine| {
            // Keyed by the signer, whose signature has just verified (and which pinning has
            // accepted): nothing else in the resource that carried the bundle enters the key.
            let scope = config::SerialScope::of(engine.bundle().signer());
            let in_service = serial_in_service(scope);
            config::check_serial(
                scope,
                engine.bundle().serial(),
                in_service,
                self.allow_rollback,
            )
            .map(|()| (engine, scope, in_service))
        });
        match loaded {
            Ok((engine, scope, in_service)) => {
                let bundle = engine.bundle();
                let meta = bundle.meta();
                if in_service.is_some_and(|s| meta.serial < s) {
                    log::warn!(
                        "rolling back from serial {} to serial {} of signer {scope} (allow_rollback)",
                        in_service.unwrap_or_default(),
                        meta.serial
                    );
                }
                SERIAL_IN_SERVICE.with(|s| s.borrow_mut().insert(scope, meta.serial));
                if let Err(status) = hostcalls::set_shared_data(
                    &scope.shared_data_key(),
                    Some(&meta.serial.to_le_bytes()),
                    None,
                ) {
                    log::warn!(
                        "cannot record serial {} in shared data: {status:?}",
                        meta.serial
                    );
                }
                log::info!(
                    "loaded bundle revision `{}` serial {} ({} tenant(s), {} bytes, mode {})",
                    meta.revision,
                    meta.serial,
                    bundle.tenants().len(),
                    bundle.len(),
                    if bundle.gateway().dry_run {
                        "dry-run"
                    } else {
                        "enforce"
                    },
                );
                self.metrics.bundle_loaded(
                    config::numeric_revision(&meta.revision),
                    config::digest48(bundle.digest()),
                );
                self.engine = Some(Rc::new(engine));
                true
            }
            Err(err) => {
                // Keep whatever engine this context already had: a rejected configuration never
                // replaces a good one (and Envoy itself keeps the previous filter configuration
                // when the new one fails to configure).
                log::error!("rejecting configuration: {err}");
                self.metrics.bundle_rejected();
                false
            }
        }
    }

    fn on_tick(&mut self) {
        self.metrics.flush(self.cache_stats());
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Always a context: the SDK panics on None. Without an engine, the filter denies.
        let filter = flow::Filter::new(self.engine.clone(), Host::new(Rc::clone(&self.metrics)));
        #[cfg(feature = "test-hooks")]
        let filter = filter.with_hooks(self.hooks.clone());
        Some(Box::new(Filter(filter)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One per HTTP request: the request flow ([`flow::Filter`]) over this VM's host calls.
#[derive(Debug)]
pub struct Filter(flow::Filter<Host>);

impl Context for Filter {}

fn action(action: flow::Action) -> Action {
    match action {
        flow::Action::Continue => Action::Continue,
        flow::Action::Pause => Action::Pause,
    }
}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.0.on_request_headers(end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(self.0.on_request_body(body_size, end_of_stream))
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        action(self.0.on_request_trailers())
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.0.on_response_headers(end_of_stream))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(self.0.on_response_body(body_size, end_of_stream))
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        action(self.0.on_response_trailers())
    }

    fn on_log(&mut self) {
        self.0.on_done();
    }
}

/// The serial last accepted from `scope`'s signer. This VM's own first: a VM that serves a
/// bundle compares with it, so only the order in which it receives updates matters. A VM that
/// has accepted none from that signer yet (the fresh VM Envoy validates a new configuration in
/// on the main thread, or a new per-thread VM) compares with the last one any VM of its `vm_id`
/// accepted, from Envoy's shared data; without that, the fresh VM would accept an older bundle
/// and the per-thread VMs' refusal would fail them instead of leaving the old bundle serving.
fn serial_in_service(scope: config::SerialScope) -> Option<u64> {
    SERIAL_IN_SERVICE
        .with(|s| s.borrow().get(&scope).copied())
        .or_else(|| {
            hostcalls::get_shared_data(&scope.shared_data_key())
                .ok()
                .and_then(|(value, _)| value)
                .and_then(|value| config::serial_from_shared(&value))
        })
}

fn buffer(kind: BufferType) -> Option<Vec<u8>> {
    hostcalls::get_buffer(kind, 0, usize::MAX).ok().flatten()
}
