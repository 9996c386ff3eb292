#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};

pub mod http;
pub mod synth;
pub mod vectors;

/// The workspace root: where `examples/`, `tests/vectors/` and `tests/golden/` are, whichever
/// crate's tests ask.
pub fn repo_root() -> PathBuf {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit.parent().unwrap_or(testkit).to_path_buf()
}

/// A path under the workspace root, e.g. `repo_path("examples/acme")`.
pub fn repo_path(relative: impl AsRef<Path>) -> PathBuf {
    repo_root().join(relative)
}
