#![doc = include_str!("../README.md")]

pub mod credentials;
pub mod envoy;
pub mod keys;
#[cfg(feature = "package")]
pub mod package;
