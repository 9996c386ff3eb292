//! Set-up shared by the CLI's integration tests: the `gatehouse` binary under test, and the
//! workspace root (from the test kit). Each test crate uses a subset of it.

#![allow(
    dead_code,
    reason = "each test crate uses only part of the shared support"
)]

use std::process::{Command, Output};

pub use gatehouse_testkit::repo_root;

/// The `gatehouse` binary Cargo built for these tests.
pub const GATEHOUSE: &str = env!("CARGO_BIN_EXE_gatehouse");

/// Runs `gatehouse` with `args` and returns what it did.
pub fn run(args: &[&str]) -> Output {
    Command::new(GATEHOUSE)
        .args(args)
        .output()
        .expect("run gatehouse")
}
