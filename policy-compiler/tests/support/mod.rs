//! Set-up shared by the compiler's integration tests: the `gatehouse` binary under test and the
//! workspace root. Each test crate uses a subset of it.

#![allow(
    dead_code,
    reason = "each test crate uses only part of the shared support"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `gatehouse` binary Cargo built for these tests.
pub const GATEHOUSE: &str = env!("CARGO_BIN_EXE_gatehouse");

/// The workspace root (the compiler crate's parent directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the compiler crate lives in the workspace")
        .to_path_buf()
}

/// Runs `gatehouse` with `args` and returns what it did.
pub fn run(args: &[&str]) -> Output {
    Command::new(GATEHOUSE)
        .args(args)
        .output()
        .expect("run gatehouse")
}
