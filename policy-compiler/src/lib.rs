#![doc = include_str!("../README.md")]

pub mod analysis;
pub mod catalog;
pub mod cli;
pub mod compile;
pub mod diagnostics;
pub mod gateway;
pub mod lower;
pub mod source;
#[cfg(any(test, feature = "test-support"))]
pub mod synth;
pub mod testing;
#[cfg(any(test, feature = "test-support"))]
pub mod vectors;

pub use gatehouse_deploy::{envoy, keys, package};

pub use compile::{compile_paths, CompileError, CompileOptions};
