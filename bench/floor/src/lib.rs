//! The floor under any proxy-wasm filter in Envoy, for `scripts/bench-envoy.sh`: what a wasm
//! filter costs before it does any work of its own. Its plugin configuration says which:
//!
//! - `empty`: `on_http_request_headers` returns `Continue`;
//! - `headers`: reads the request headers once (the one host call Gatehouse makes for them)
//!   and sets three request headers with the names and value sizes of Gatehouse's identity
//!   headers, then returns `Continue`: the least a filter that must read headers and set three
//!   can do.
//!
//! It never denies: it is only ever a benchmark peer (`gatehouse envoy-config --kind
//! baseline-wasm`).

/// What the filter does on each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Empty,
    Headers,
}

impl Mode {
    /// The plugin configuration (`empty` or `headers`, surrounding whitespace ignored).
    pub fn parse(configuration: &[u8]) -> Option<Mode> {
        match configuration.trim_ascii() {
            b"empty" => Some(Mode::Empty),
            b"headers" => Some(Mode::Headers),
            _ => None,
        }
    }
}

/// The headers `headers` sets: Gatehouse's identity headers (plugin/src/flow.rs) with values
/// the size of an allowed examples/acme request's (`acme`, `user:carol@acme.com`, `chat`).
pub const SET: [(&str, &str); 3] = [
    ("x-gatehouse-tenant", "acme"),
    ("x-gatehouse-subject", "user:carol@acme.com"),
    ("x-gatehouse-route", "chat"),
];

#[cfg(target_arch = "wasm32")]
mod filter {
    use proxy_wasm::hostcalls;
    use proxy_wasm::traits::{Context, HttpContext, RootContext};
    use proxy_wasm::types::{Action, ContextType, MapType};

    use super::{Mode, SET};

    #[derive(Debug, Default)]
    pub struct Root {
        mode: Option<Mode>,
    }

    impl Context for Root {}

    impl RootContext for Root {
        fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
            self.mode = self
                .get_plugin_configuration()
                .as_deref()
                .and_then(Mode::parse);
            if self.mode.is_none() {
                log::error!("floor: the plugin configuration is neither `empty` nor `headers`");
            }
            self.mode.is_some()
        }

        fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
            match self.mode? {
                Mode::Empty => Some(Box::new(Empty)),
                Mode::Headers => Some(Box::new(Headers)),
            }
        }

        fn get_type(&self) -> Option<ContextType> {
            Some(ContextType::HttpContext)
        }
    }

    #[derive(Debug)]
    struct Empty;

    impl Context for Empty {}

    impl HttpContext for Empty {
        fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
            Action::Continue
        }
    }

    #[derive(Debug)]
    struct Headers;

    impl Context for Headers {}

    impl HttpContext for Headers {
        fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
            // As Gatehouse reads them: the whole map in one call, values as bytes.
            let headers = hostcalls::get_map_bytes(MapType::HttpRequestHeaders);
            if headers.is_err() {
                log::error!("floor: cannot read the request headers");
            }
            for (name, value) in SET {
                if hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)).is_err()
                {
                    log::error!("floor: cannot set {name}");
                }
            }
            Action::Continue
        }
    }
}

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(filter::Root::default())
    });
}}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::parse(b"empty"), Some(Mode::Empty));
        assert_eq!(Mode::parse(b" headers\n"), Some(Mode::Headers));
        assert_eq!(Mode::parse(b""), None);
        assert_eq!(Mode::parse(b"Headers"), None);
        assert_eq!(Mode::parse(b"{\"mode\":\"empty\"}"), None);
    }

    #[test]
    fn identity_headers_are_gatehouses() {
        let filter = include_str!("../../../plugin/src/flow.rs");
        for (constant, (name, _)) in ["HEADER_TENANT", "HEADER_SUBJECT", "HEADER_ROUTE"]
            .iter()
            .zip(SET)
        {
            let definition = format!("pub const {constant}: &str = \"{name}\";");
            assert!(
                filter.contains(&definition),
                "plugin/src/flow.rs: {definition}"
            );
        }
    }
}
