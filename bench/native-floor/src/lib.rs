//! The floor under any native Envoy dynamic module, for `scripts/bench-envoy.sh`: what a native
//! filter costs before it does any work of its own, the counterpart of `bench/floor` (the wasm
//! floor). Its filter configuration says which:
//!
//! - `empty`: `request_headers` returns `Continue`;
//! - `headers`: reads every request header once, through the call Gatehouse's module makes for
//!   them ([`ffi::EnvoyFilter::headers`]), and sets three request headers with the names and
//!   value sizes of Gatehouse's identity headers ([`gatehouse_bench_floor::SET`]), then returns
//!   `Continue`.
//!
//! It is built on the module's own FFI layer (`module/src/ffi`, included here as it is, not a
//! copy), so the hooks, the panic guard and the header calls cost what they cost Gatehouse.
//! It never denies: it is only ever a benchmark peer (`gatehouse envoy-config --kind
//! baseline-native`).

// The module's FFI layer, as gatehouse-module compiles it; it dispatches to `crate::ModuleConfig`.
// Not every call it offers is used by the floor.
#[allow(unsafe_code, dead_code)]
#[path = "../../../module/src/ffi/mod.rs"]
mod ffi;

use gatehouse_bench_floor::{Mode, SET};

use ffi::{EnvoyConfig, EnvoyFilter, FilterConfig, Headers, HttpFilter, Status};

/// One configuration: what each stream does.
#[derive(Debug)]
pub struct ModuleConfig {
    mode: Mode,
}

impl FilterConfig for ModuleConfig {
    type Filter = Floor;

    const PANIC_REPLY: (u32, &'static str, &'static str) =
        (503, "text/plain", "native floor: unavailable");

    fn new(_envoy: &EnvoyConfig, _name: &[u8], config: &[u8]) -> Option<ModuleConfig> {
        let mode = Mode::parse(config);
        if mode.is_none() {
            log::error!("native floor: the filter configuration is neither `empty` nor `headers`");
        }
        Some(ModuleConfig { mode: mode? })
    }

    fn new_filter(&self, envoy: EnvoyFilter) -> Floor {
        Floor {
            mode: self.mode,
            envoy,
        }
    }
}

/// One stream.
#[derive(Debug)]
pub struct Floor {
    mode: Mode,
    envoy: EnvoyFilter,
}

impl HttpFilter for Floor {
    fn request_headers(&mut self, _end_of_stream: bool) -> Status {
        if self.mode == Mode::Headers {
            // As Gatehouse reads them: the whole map in one call, names and values copied.
            let headers = self.envoy.headers(Headers::Request);
            if headers.is_empty() {
                log::error!("native floor: cannot read the request headers");
            }
            std::hint::black_box(&headers);
            for (name, value) in SET {
                if !self.envoy.set_header(Headers::Request, name, value) {
                    log::error!("native floor: cannot set {name}");
                }
            }
        }
        Status::Continue
    }

    fn request_body(&mut self, _end_of_stream: bool) -> Status {
        Status::Continue
    }

    fn request_trailers(&mut self) -> Status {
        Status::Continue
    }

    fn response_headers(&mut self, _end_of_stream: bool) -> Status {
        Status::Continue
    }

    fn response_body(&mut self, _end_of_stream: bool) -> Status {
        Status::Continue
    }

    fn response_trailers(&mut self) -> Status {
        Status::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::ffi::fake::FakeConfig;
    use super::SET;

    const REQUEST: [(&[u8], &[u8]); 4] = [
        (b":authority", b"localhost"),
        (b":method", b"GET"),
        (b":path", b"/api/prompts/prompts/summarize"),
        (b"authorization", b"Bearer abc"),
    ];

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn headers_reads_and_sets_three() {
        let config = FakeConfig::load(b"headers").unwrap();
        let mut stream = config.stream();
        assert!(stream.created());
        assert_eq!(stream.request_headers(&REQUEST, true), 0, "Continue");
        assert!(stream.reply().is_none());
        let upstream = stream.upstream_headers();
        for header in owned(&SET) {
            assert!(
                upstream.contains(&header),
                "{header:?} not set: {upstream:?}"
            );
        }
        assert_eq!(upstream.len(), REQUEST.len() + SET.len());
    }

    #[test]
    fn empty_changes_nothing() {
        let config = FakeConfig::load(b"empty").unwrap();
        let mut stream = config.stream();
        assert_eq!(stream.request_headers(&REQUEST, true), 0, "Continue");
        assert!(stream.reply().is_none());
        assert_eq!(stream.upstream_headers().len(), REQUEST.len());
    }

    #[test]
    fn other_configurations_are_refused() {
        for bad in [&b""[..], b"Headers", b"{\"mode\":\"empty\"}"] {
            assert!(FakeConfig::load(bad).is_none(), "{bad:?} loaded");
        }
    }
}
