#![doc = include_str!("../README.md")]

pub mod catalog;
pub mod compile;
pub mod diagnostics;
pub mod gateway;
pub mod lower;
pub mod source;
pub mod time;

pub use compile::{compile_paths, CompileError, CompileOptions};
