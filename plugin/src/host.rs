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

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};

use crate::flow::{self, Event};
use crate::metrics::Metrics;
use crate::reply::Reply;

/// The host of one request.
#[derive(Debug)]
pub struct Host {
    metrics: Rc<Metrics>,
    #[cfg(feature = "test-hooks")]
    calls: u64,
}

impl Host {
    pub fn new(metrics: Rc<Metrics>) -> Host {
        Host {
            metrics,
            #[cfg(feature = "test-hooks")]
            calls: 0,
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    fn count_call(&mut self) {}

    #[cfg(feature = "test-hooks")]
    fn count_call(&mut self) {
        self.calls += 1;
    }
}

impl flow::Host for Host {
    type Error = Status;

    fn request_headers(&mut self) -> Result<Vec<(String, String)>, Status> {
        self.count_call();
        // Values as bytes: the SDK's `get_map` unwraps a UTF-8 conversion and a header value
        // with bytes 0x80-0xFF would panic the VM. (Names are HTTP tokens, ASCII by the time
        // Envoy's codec has accepted them.)
        hostcalls::get_map_bytes(MapType::HttpRequestHeaders).map(|headers| {
            headers
                .into_iter()
                .map(|(name, value)| (name, flow::text(value)))
                .collect()
        })
    }

    fn request_body(&mut self, size: usize) -> Result<Option<Vec<u8>>, Status> {
        self.count_call();
        hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
    }

    fn now(&mut self) -> Option<i64> {
        self.count_call();
        let since_epoch = hostcalls::get_current_time()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?;
        Some(i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX))
    }

    fn remove_header(&mut self, name: &str) -> Result<(), Status> {
        self.count_call();
        hostcalls::remove_map_value(MapType::HttpRequestHeaders, name)
    }

    fn set_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
        self.count_call();
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
    }

    /// Values that are not UTF-8 read as absent.
    fn response_header(&mut self, name: &str) -> Result<Option<String>, Status> {
        self.count_call();
        hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, name)
            .map(|v| v.and_then(|v| String::from_utf8(v).ok()))
    }

    fn remove_response_header(&mut self, name: &str) -> Result<(), Status> {
        self.count_call();
        hostcalls::remove_map_value(MapType::HttpResponseHeaders, name)
    }

    fn set_response_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
        self.count_call();
        hostcalls::set_map_value(MapType::HttpResponseHeaders, name, Some(value))
    }

    fn response_body(&mut self, size: usize) -> Result<Option<Vec<u8>>, Status> {
        self.count_call();
        hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size)
    }

    fn set_response_body(&mut self, size: usize, body: &[u8]) -> Result<(), Status> {
        self.count_call();
        hostcalls::set_buffer(BufferType::HttpResponseBody, 0, size, body)
    }

    fn send_reply(&mut self, reply: &Reply) -> Result<(), Status> {
        self.count_call();
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        hostcalls::send_http_response(reply.status, headers, Some(reply.body.as_bytes()))
    }

    fn reset_response(&mut self) {
        self.count_call();
        let _ = hostcalls::reset_http_response();
    }

    /// A line at a level the logger passes on (info and above) is one call.
    fn log(&mut self, level: log::Level, line: &str) {
        self.count_call();
        log::log!(level, "{line}");
    }

    /// No host call: counts are flushed on the root context's tick (`metrics`).
    fn count(&mut self, event: Event) {
        self.metrics.record(event);
    }

    /// Adds this request's calls to the counters of its path.
    #[cfg(feature = "test-hooks")]
    fn report(&mut self, path: &'static str) {
        use proxy_wasm::types::MetricType;
        let add = |name: String, n: u64| {
            if let Ok(id) = hostcalls::define_metric(MetricType::Counter, &name) {
                let _ = hostcalls::increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
            }
        };
        add(format!("gatehouse.test.host_calls.{path}"), self.calls);
        add(format!("gatehouse.test.requests.{path}"), 1);
    }
}
