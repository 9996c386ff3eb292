//! Envoy stats through proxy-wasm metrics. Envoy prefixes every name with `wasmcustom.`, so
//! `gatehouse.allowed` shows in `/stats` as `wasmcustom.gatehouse.allowed`.
//!
//! Counters are shared by every VM of the plugin (main thread and each worker): the stat lives in
//! Envoy's store, the ids are per VM.
//!
//! Per-request counts cost no host call: a request adds to this VM's pending counts, and the
//! root context hands them to Envoy on its tick ([`FLUSH_PERIOD`]) and when it is done.
//! `/stats` therefore lags the traffic by at most one period. Bundle loads and rejections, which
//! are rare, go to Envoy at once.
//!
//! The verified-token cache belongs to the VM, not to a root context (every configuration the VM
//! loads uses it), so what has been reported of its evictions and entries is kept per VM too:
//! whichever root context flushes reports the change since the last report, once.

use std::cell::Cell;
use std::time::Duration;

use gatehouse_engine::cache::CacheStats;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

use crate::counters::Counters;
use crate::flow::Event;

/// How often pending counts reach Envoy's stats.
pub const FLUSH_PERIOD: Duration = Duration::from_millis(200);

/// Metric ids of this VM. A metric that Envoy refused to define is `None` and is skipped:
/// metrics never decide a request.
#[derive(Debug, Default)]
pub struct Metrics {
    /// What the request flow counts (`crate::counters`).
    counters: Counters<Counter>,
    /// Gauges summed over the VMs: linear memory (which never shrinks: each VM's high-water
    /// mark) and the number of VMs adding to it, so that `/stats` gives the mean per VM.
    vm_memory_bytes: Counter,
    vms: Counter,
    memory_reported: Cell<i64>,
    bundle_loads: Option<u32>,
    bundle_rejections: Option<u32>,
    bundle_revision: Option<u32>,
    bundle_digest: Option<u32>,
}

thread_local! {
    /// The evictions and entries of the VM's verified-token cache reported so far.
    static CACHE_REPORTED: Cell<CacheStats> = Cell::new(CacheStats::default());
}

/// A metric id and what this VM has counted but not yet reported.
#[derive(Debug, Default)]
struct Counter {
    id: Option<u32>,
    pending: Cell<i64>,
}

impl Counter {
    fn new(kind: MetricType, name: &str) -> Counter {
        Counter {
            id: define(kind, name),
            pending: Cell::new(0),
        }
    }

    fn add(&self, n: i64) {
        self.pending.set(self.pending.get().wrapping_add(n));
    }

    /// One host call, only when there is something to report.
    fn flush(&self) {
        let n = self.pending.replace(0);
        if let (Some(id), true) = (self.id, n != 0) {
            let _ = hostcalls::increment_metric(id, n);
        }
    }
}

impl Metrics {
    /// Define every metric up front, so dashboards see zeros rather than missing series.
    pub fn define() -> Metrics {
        Metrics {
            counters: Counters::define(
                |name| Counter::new(MetricType::Counter, name),
                |name| Counter::new(MetricType::Gauge, name),
            ),
            vm_memory_bytes: Counter::new(MetricType::Gauge, "gatehouse.vm_memory_bytes"),
            vms: Counter::new(MetricType::Gauge, "gatehouse.vms"),
            memory_reported: Cell::new(0),
            bundle_loads: define(MetricType::Counter, "gatehouse.bundle_loads"),
            bundle_rejections: define(MetricType::Counter, "gatehouse.bundle_rejections"),
            bundle_revision: define(MetricType::Gauge, "gatehouse.bundle_revision"),
            bundle_digest: define(MetricType::Gauge, "gatehouse.bundle_digest48"),
        }
    }

    /// Counts what the request flow reports: no host call, the count waits for the next flush.
    pub fn record(&self, event: Event) {
        self.counters.record(event, |counter, n| counter.add(n));
    }

    pub fn bundle_loaded(&self, revision: u64, digest48: u64) {
        increment(self.bundle_loads);
        record(self.bundle_revision, revision);
        record(self.bundle_digest, digest48);
    }

    pub fn bundle_rejected(&self) {
        increment(self.bundle_rejections);
    }

    /// Hands every pending count to Envoy. `cache` is the VM's verified-token cache, `None`
    /// when there is none.
    pub fn flush(&self, cache: Option<CacheStats>) {
        if let Some(now) = cache {
            let before = CACHE_REPORTED.with(|reported| reported.replace(now));
            let evicted = now.evictions.saturating_sub(before.evictions);
            self.counters
                .token_cache_evictions
                .add(i64::try_from(evicted).unwrap_or(i64::MAX));
            self.counters
                .token_cache_entries
                .add(entries(now).wrapping_sub(entries(before)));
        }
        let memory = linear_memory_bytes();
        let reported = self.memory_reported.replace(memory);
        if reported == 0 {
            self.vms.add(1);
        }
        self.vm_memory_bytes.add(memory.wrapping_sub(reported));
        for counter in self
            .counters
            .all()
            .chain([&self.vm_memory_bytes, &self.vms])
        {
            counter.flush();
        }
    }

    /// This root context is done (a new configuration replaced it, or the VM is stopping):
    /// report what is pending and take back everything it added to the summed gauges, since
    /// the context that replaces it in the same VM reports afresh. The VM's cache entries are
    /// taken back too (the VM may be stopping); a root context that goes on in the VM adds them
    /// again at its next flush.
    pub fn retire(&self, cache: Option<CacheStats>) {
        self.flush(cache);
        let reported = CACHE_REPORTED.with(|reported| {
            reported.replace(CacheStats {
                entries: 0,
                ..reported.get()
            })
        });
        self.counters.token_cache_entries.add(-entries(reported));
        self.counters.token_cache_entries.flush();
        let memory = self.memory_reported.replace(0);
        if memory != 0 {
            self.vms.add(-1);
            self.vm_memory_bytes.add(-memory);
        }
        self.vms.flush();
        self.vm_memory_bytes.flush();
    }
}

fn entries(stats: CacheStats) -> i64 {
    i64::try_from(stats.entries).unwrap_or(i64::MAX)
}

/// This VM's linear memory: the bundle, the token cache, the stack and everything else the
/// plugin allocates.
fn linear_memory_bytes() -> i64 {
    let pages = core::arch::wasm32::memory_size(0);
    i64::try_from(pages)
        .unwrap_or(i64::MAX)
        .saturating_mul(65_536)
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
