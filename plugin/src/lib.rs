#![doc = include_str!("../README.md")]

// The filter is a proxy-wasm module for wasm32-wasip1. On wasm32-unknown-unknown (the browser
// build, which reaches this crate only for the embedded-bundle marker through the compiler)
// there is no proxy-wasm host: neither the filter nor proxy-wasm's exports are linked there.
pub mod config;
pub mod embedded;
pub mod reply;

#[cfg(all(target_arch = "wasm32", not(target_os = "unknown")))]
mod filter;
#[cfg(all(target_arch = "wasm32", not(target_os = "unknown")))]
mod host;
#[cfg(all(target_arch = "wasm32", not(target_os = "unknown")))]
mod metrics;

#[cfg(all(target_arch = "wasm32", not(target_os = "unknown")))]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(filter::Root::new())
    });
}}
