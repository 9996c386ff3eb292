//! Gatehouse as a native Envoy dynamic module: `libgatehouse_module.so`, loaded by Envoy's
//! `envoy.filters.http.dynamic_modules` filter (ABI [`ABI_VERSION`]), deciding with the same
//! engine and the same request flow (`gatehouse::flow` (the plugin crate)) as `gatehouse.wasm`.
//!
//! - [`ffi`]: the C ABI, the only module where `unsafe` is allowed, and a fake Envoy for tests;
//! - `filter`: safe glue: one decoded bundle per configuration shared by every worker, an engine
//!   per worker over it with the worker's verified-token cache, and the flow's host calls.
//!
//! `docs/deployment.md` ("The native module") says how to build, configure and run it.

#[allow(unsafe_code)]
pub mod ffi;
mod filter;

pub use ffi::ABI_VERSION;
/// The configuration type the exported hooks create (`ffi` dispatches to it).
pub use filter::Config as ModuleConfig;
