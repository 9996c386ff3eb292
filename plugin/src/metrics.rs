//! Envoy stats through proxy-wasm metrics. Envoy prefixes every name with `wasmcustom.`, so
//! `gatehouse.allowed` shows in `/stats` as `wasmcustom.gatehouse.allowed`.
//!
//! Counters are shared by every VM of the plugin (main thread and each worker): the stat lives in
//! Envoy's store, the ids are per VM.

use gatehouse_engine::Reason;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// Metric ids of this VM. A metric that Envoy refused to define is `None` and is skipped:
/// metrics never decide a request.
#[derive(Debug, Default)]
pub struct Metrics {
    allowed: Option<u32>,
    denied: Option<u32>,
    denied_by_reason: Vec<(Reason, Option<u32>)>,
    dry_run_denied: Option<u32>,
    bundle_loads: Option<u32>,
    bundle_rejections: Option<u32>,
    bundle_revision: Option<u32>,
    bundle_digest: Option<u32>,
    token_cache_hits: Option<u32>,
    token_cache_misses: Option<u32>,
}

impl Metrics {
    /// Define every metric up front, so dashboards see zeros rather than missing series.
    pub fn define() -> Metrics {
        let counter = |name: &str| define(MetricType::Counter, name);
        Metrics {
            allowed: counter("gatehouse.allowed"),
            denied: counter("gatehouse.denied"),
            denied_by_reason: Reason::ALL
                .iter()
                .map(|r| (*r, counter(&format!("gatehouse.denied.{}", r.code()))))
                .collect(),
            dry_run_denied: counter("gatehouse.dry_run_denied"),
            bundle_loads: counter("gatehouse.bundle_loads"),
            bundle_rejections: counter("gatehouse.bundle_rejections"),
            bundle_revision: define(MetricType::Gauge, "gatehouse.bundle_revision"),
            bundle_digest: define(MetricType::Gauge, "gatehouse.bundle_digest48"),
            token_cache_hits: counter("gatehouse.token_cache_hits"),
            token_cache_misses: counter("gatehouse.token_cache_misses"),
        }
    }

    pub fn allowed(&self) {
        increment(self.allowed);
    }

    /// A denial that was enforced (a local reply was sent).
    pub fn denied(&self, reason: Reason) {
        increment(self.denied);
        self.reason(reason);
    }

    /// A denial that dry-run mode let through.
    pub fn dry_run_denied(&self, reason: Reason) {
        increment(self.dry_run_denied);
        self.reason(reason);
    }

    pub fn bundle_loaded(&self, revision: u64, digest48: u64) {
        increment(self.bundle_loads);
        record(self.bundle_revision, revision);
        record(self.bundle_digest, digest48);
    }

    /// A token was presented: it was either found in the engine's verified-token cache or
    /// verified (and, when valid, cached).
    pub fn token_lookup(&self, hit: bool) {
        increment(if hit {
            self.token_cache_hits
        } else {
            self.token_cache_misses
        });
    }

    pub fn bundle_rejected(&self) {
        increment(self.bundle_rejections);
    }

    fn reason(&self, reason: Reason) {
        let id = self
            .denied_by_reason
            .iter()
            .find(|(r, _)| *r == reason)
            .and_then(|(_, id)| *id);
        increment(id);
    }
}

fn define(kind: MetricType, name: &str) -> Option<u32> {
    match hostcalls::define_metric(kind, name) {
        Ok(id) => Some(id),
        Err(status) => {
            log::warn!("cannot define metric {name}: {status:?}");
            None
        }
    }
}

fn increment(id: Option<u32>) {
    if let Some(id) = id {
        let _ = hostcalls::increment_metric(id, 1);
    }
}

fn record(id: Option<u32>, value: u64) {
    if let Some(id) = id {
        let _ = hostcalls::record_metric(id, value);
    }
}
