//! The committed golden bundle pins the wire format: `tests/golden/acme.bundle` is
//! `examples/gateway.yaml` + `examples/acme` compiled with `--revision golden --serial 1`. A change
//! that alters these bytes (a field reordered in a postcard struct, a record layout, a section
//! order) fails here; if it is intended, it is a format change: update `docs/bundle-format.md`
//! (and the version, section 7) in the same commit and regenerate with
//! `GATEHOUSE_BLESS=1 cargo test -p gatehouse-cli --test golden`.
//!
//! META carries the compiler version, so a version bump also regenerates the file.

#![expect(clippy::expect_used, reason = "test code: a panic is a test failure")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use gatehouse_compiler::{compile_paths, CompileOptions};
use gatehouse_engine::{Bundle, LoadOptions};
use support::repo_root;

/// SHA-256 of the golden bundle's body, as `gatehouse inspect` shows it.
const GOLDEN_DIGEST: &str = "a1c263c0237bc5ebdbe63d6dedbe19607b26ed764ce359504b44bebcfd37676a";

fn golden_path() -> PathBuf {
    repo_root().join("tests/golden/acme.bundle")
}

fn compiled() -> Vec<u8> {
    let root = repo_root();
    let options = CompileOptions {
        gateway: Some(root.join("examples/gateway.yaml")),
        inputs: vec![root.join("examples/acme")],
        revision: Some("golden".into()),
        serial: 1,
    };
    let policy = compile_paths(&options).expect("the examples compile");
    gatehouse_engine::bundle::encode(&policy, None).expect("the examples encode")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn examples_compile_to_the_golden_bundle() {
    let bytes = compiled();
    if std::env::var_os("GATEHOUSE_BLESS").is_some() {
        std::fs::write(golden_path(), &bytes).expect("write the golden bundle");
    }
    let golden = std::fs::read(golden_path()).expect("tests/golden/acme.bundle is committed");
    assert!(
        bytes == golden,
        "the examples no longer compile to tests/golden/acme.bundle ({} bytes now, {} committed): \
         the bundle format changed; see this file's header",
        bytes.len(),
        golden.len()
    );
}

#[test]
fn the_cli_writes_the_golden_bundle() {
    let root = repo_root();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-acme.bundle");
    let status = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("compile")
        .arg("--gateway")
        .arg(root.join("examples/gateway.yaml"))
        .arg(root.join("examples/acme"))
        .arg("-o")
        .arg(&out)
        .args(["--revision", "golden", "--serial", "1"])
        .output()
        .expect("run gatehouse compile");
    assert!(status.status.success(), "{status:?}");
    let written = std::fs::read(&out).expect("read the compiled bundle");
    let golden = std::fs::read(golden_path()).expect("tests/golden/acme.bundle is committed");
    assert!(
        written == golden,
        "`gatehouse compile` differs from the golden bundle"
    );
}

#[test]
fn the_engine_decodes_the_golden_bundle() {
    let golden = std::fs::read(golden_path()).expect("tests/golden/acme.bundle is committed");
    let bundle = Bundle::decode(golden, &LoadOptions::default()).expect("the golden bundle loads");
    assert_eq!(hex(bundle.digest()), GOLDEN_DIGEST);
    assert_eq!(bundle.format_version(), (7, 0));
    assert_eq!(bundle.meta().revision, "golden");
    assert_eq!(bundle.serial(), 1);
    assert_eq!(bundle.signer(), None);
    let names: Vec<&str> = bundle
        .tenants()
        .iter()
        .map(|t| t.config.name.as_str())
        .collect();
    assert_eq!(names, ["acme"]);
    let tenant = bundle.tenants().first().expect("one tenant");
    let tables = bundle.tables(tenant);
    assert_eq!(
        (
            tables.users.len(),
            tables.teams.len(),
            tables.resources.len(),
            tables.grants.len()
        ),
        (36, 6, 31, 23)
    );
}
