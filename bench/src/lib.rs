//! Gatehouse's benchmarks, apart from the product crates: the criterion benches
//! (`benches/{decide,verify,bundle}.rs`, Cedar's translation in `benches/cedar.rs`) and the wasm
//! harness (`wasm-harness/`: the same operations natively and as `wasm32-wasip1` in V8) share
//! what this library holds. `docs/benchmarks.md` has the commands and the results.
//!
//! - [`ops`]: what is timed, engine side only; also built for `wasm32-wasip1`.
//! - [`fixtures`] (host only): synthetic tenants compiled to bundles, representative requests
//!   and signed tokens, and the `ring` peer; the wasm side reads what the harness's `gen` wrote.

#[cfg(not(target_arch = "wasm32"))]
pub mod fixtures;
pub mod ops;
