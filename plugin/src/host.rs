//! Every proxy-wasm call a request makes, in one place, so the count per request path is
//! visible and, in test builds, measured.
//!
//! Crossing into Envoy is most of what a wasm filter costs, so a request makes only the calls
//! its decision needs (`docs/architecture.md`, "Host calls per request"):
//!
//! | path | calls |
//! |---|---|
//! | allowed, token from the cache or verified | headers, clock, 3 header sets = 5 |
//! | allowed, public route | headers, clock, 2 header sets (no subject) = 4 |
//! | allowed, body route | headers, body, clock, 3 header sets = 6 |
//! | denied | headers, clock, log line, local reply = 4 |
//!
//! plus one removal per spoofed `x-gatehouse-*` (or override) header present (and, on an MCP
//! route, per token header and `accept-encoding`). A protected-resource metadata request is
//! headers and the local reply (2). A trimmed `tools/list` response adds, whatever the number of
//! tools: 2 header reads (`content-type`, `content-encoding`), 1 header removal
//! (`content-length`), 1 body read and 1 body write = 5 (a refused response: the reads, up to 2
//! header changes and 1 body write); each listed tool is decided in the VM with no host call. The headers are
//! read in one map call: removing spoofed identity headers needs every header name, since any
//! case and `_` for `-` must be caught, and one map read costs less than the several single
//! reads a decision needs besides. Counters cost nothing per request (`metrics`).
//!
//! With feature `test-hooks`, each request counts its calls and reports them, per path, as the
//! `gatehouse.test.host_calls.<path>` and `gatehouse.test.requests.<path>` counters, which the
//! end-to-end suite reads from a real Envoy.

use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};

/// The host of one request.
#[derive(Debug, Default)]
pub struct Host {
    #[cfg(feature = "test-hooks")]
    calls: std::cell::Cell<u64>,
}

impl Host {
    pub fn request_headers(&self) -> Result<Vec<(String, Vec<u8>)>, Status> {
        self.count();
        hostcalls::get_map_bytes(MapType::HttpRequestHeaders)
    }

    pub fn request_body(&self, size: usize) -> Result<Option<Vec<u8>>, Status> {
        self.count();
        hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
    }

    /// Envoy's clock, in Unix seconds.
    pub fn now(&self) -> Option<i64> {
        self.count();
        let since_epoch = hostcalls::get_current_time()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?;
        Some(i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX))
    }

    pub fn remove_header(&self, name: &str) -> Result<(), Status> {
        self.count();
        hostcalls::remove_map_value(MapType::HttpRequestHeaders, name)
    }

    pub fn set_header(&self, name: &str, value: &str) -> Result<(), Status> {
        self.count();
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
    }

    /// One response header (`None`: absent); values that are not UTF-8 read as absent.
    pub fn response_header(&self, name: &str) -> Result<Option<String>, Status> {
        self.count();
        hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, name)
            .map(|v| v.and_then(|v| String::from_utf8(v).ok()))
    }

    pub fn remove_response_header(&self, name: &str) -> Result<(), Status> {
        self.count();
        hostcalls::remove_map_value(MapType::HttpResponseHeaders, name)
    }

    pub fn set_response_header(&self, name: &str, value: &str) -> Result<(), Status> {
        self.count();
        hostcalls::set_map_value(MapType::HttpResponseHeaders, name, Some(value))
    }

    pub fn response_body(&self, size: usize) -> Result<Option<Vec<u8>>, Status> {
        self.count();
        hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size)
    }

    /// Replaces the first `size` buffered bytes of the response body with `body`.
    pub fn set_response_body(&self, size: usize, body: &[u8]) -> Result<(), Status> {
        self.count();
        hostcalls::set_buffer(BufferType::HttpResponseBody, 0, size, body)
    }

    pub fn send_reply(
        &self,
        status: u32,
        headers: Vec<(&str, &str)>,
        body: &[u8],
    ) -> Result<(), Status> {
        self.count();
        hostcalls::send_http_response(status, headers, Some(body))
    }

    /// A line at a level the logger passes on (info and above) is one call.
    pub fn log(&self, level: log::Level, line: &str) {
        self.count();
        log::log!(level, "{line}");
    }

    #[cfg(not(feature = "test-hooks"))]
    fn count(&self) {}

    #[cfg(feature = "test-hooks")]
    fn count(&self) {
        self.calls.set(self.calls.get() + 1);
    }

    /// Test builds: adds this request's calls to the counters of its path.
    #[cfg(feature = "test-hooks")]
    pub fn report(&self, path: &str) {
        use proxy_wasm::types::MetricType;
        let add = |name: String, n: u64| {
            if let Ok(id) = hostcalls::define_metric(MetricType::Counter, &name) {
                let _ = hostcalls::increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
            }
        };
        add(
            format!("gatehouse.test.host_calls.{path}"),
            self.calls.get(),
        );
        add(format!("gatehouse.test.requests.{path}"), 1);
    }
}
