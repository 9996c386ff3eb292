//! What `/healthz` and `/metrics` report: counters the service keeps in memory (they start at
//! zero with the process, as Prometheus counters may).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<u16, u64>>,
    writes: AtomicU64,
    publishes: AtomicU64,
    publish_failures: AtomicU64,
    compiles: AtomicU64,
    compile_micros: AtomicU64,
    last: Mutex<Last>,
}

#[derive(Debug, Default, Clone)]
struct Last {
    publish: Option<Published>,
    error: Option<String>,
}

/// The last bundle published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub serial: u64,
    pub time: String,
    /// SHA-256 of the bundle, hex.
    pub digest: String,
}

impl Metrics {
    pub fn request(&self, status: u16) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry(status).or_default() += 1;
        }
    }

    pub fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn compiled(&self, seconds: f64) {
        self.compiles.fetch_add(1, Ordering::Relaxed);
        // Whole microseconds: a float sum without atomics.
        let micros = (seconds * 1e6).max(0.0).min(u64::MAX as f64) as u64;
        self.compile_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn published(&self, published: Published) {
        self.publishes.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last.lock() {
            last.publish = Some(published);
            last.error = None;
        }
    }

    pub fn failed(&self, error: String) {
        self.publish_failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last.lock() {
            last.error = Some(error);
        }
    }

    pub fn last_publish(&self) -> Option<Published> {
        self.last.lock().ok().and_then(|l| l.publish.clone())
    }

    pub fn last_error(&self) -> Option<String> {
        self.last.lock().ok().and_then(|l| l.error.clone())
    }

    /// `GET /healthz`.
    pub fn health(&self) -> Value {
        let last = self.last.lock().map(|l| l.clone()).unwrap_or_default();
        let requests: u64 = self
            .requests
            .lock()
            .map(|r| r.values().sum())
            .unwrap_or_default();
        json!({
            "status": if last.error.is_some() { "degraded" } else { "ok" },
            "last_publish": last.publish.map(|p| json!({
                "serial": p.serial,
                "time": p.time,
                "digest": p.digest,
            })),
            "last_compile_error": last.error,
            "counters": {
                "requests": requests,
                "writes": self.writes.load(Ordering::Relaxed),
                "publishes": self.publishes.load(Ordering::Relaxed),
                "publish_failures": self.publish_failures.load(Ordering::Relaxed),
                "compiles": self.compiles.load(Ordering::Relaxed),
            },
        })
    }

    /// `GET /metrics`, Prometheus text format 0.0.4.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP gatehouse_directory_requests_total SCIM and service requests answered, by status.");
        let _ = writeln!(out, "# TYPE gatehouse_directory_requests_total counter");
        if let Ok(requests) = self.requests.lock() {
            for (status, n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "gatehouse_directory_requests_total{{status=\"{status}\"}} {n}"
                );
            }
        }
        let counters = [
            ("writes_total", "SCIM writes committed.", &self.writes),
            ("publishes_total", "Bundles compiled and published.", &self.publishes),
            ("publish_failures_total", "Publishes that failed (compile errors, unwritable outputs); the last good bundle stays.", &self.publish_failures),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP gatehouse_directory_{name} {help}");
            let _ = writeln!(out, "# TYPE gatehouse_directory_{name} counter");
            let _ = writeln!(
                out,
                "gatehouse_directory_{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP gatehouse_directory_compile_seconds Time spent compiling the policy."
        );
        let _ = writeln!(out, "# TYPE gatehouse_directory_compile_seconds summary");
        let micros = self.compile_micros.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "gatehouse_directory_compile_seconds_sum {}.{:06}",
            micros / 1_000_000,
            micros % 1_000_000
        );
        let _ = writeln!(
            out,
            "gatehouse_directory_compile_seconds_count {}",
            self.compiles.load(Ordering::Relaxed)
        );
        let serial = self.last_publish().map_or(0, |p| p.serial);
        let _ = writeln!(
            out,
            "# HELP gatehouse_directory_last_publish_serial Serial of the bundle last published."
        );
        let _ = writeln!(out, "# TYPE gatehouse_directory_last_publish_serial gauge");
        let _ = writeln!(out, "gatehouse_directory_last_publish_serial {serial}");
        out
    }
}
