//! `gatehouse envoy-config` through the real binary: every `--kind` in both formats prints the
//! configuration the generator builds, and a kind missing what it needs says which flag.

#![expect(clippy::expect_used, reason = "test code: a panic is a test failure")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const GATEHOUSE: &str = env!("CARGO_BIN_EXE_gatehouse");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gatehouse(args: &[&str]) -> Output {
    Command::new(GATEHOUSE)
        .current_dir(repo())
        .args(args)
        .output()
        .expect("run gatehouse")
}

fn json(args: &[&str]) -> Value {
    let out = gatehouse(&[args, &["--format", "json"]].concat());
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("envoy-config --format json prints JSON")
}

const HCM: &str = "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config";

#[test]
fn every_kind() {
    let dir = std::env::temp_dir().join(format!("gatehouse-envoy-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("acme.bundle");
    let bundle = bundle.to_str().unwrap();
    let out = gatehouse(&[
        "compile",
        "--gateway",
        "examples/gateway.yaml",
        "examples/acme",
        "-o",
        bundle,
        "--serial",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = ["--wasm", "gatehouse.wasm"];

    let stat = json(&[&["envoy-config", "--bundle", bundle][..], &wasm].concat());
    let filter = &stat.pointer(HCM).unwrap()["http_filters"][0];
    assert_eq!(filter["name"], "envoy.filters.http.wasm");
    let wasm_path = filter["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"]
        .as_str()
        .unwrap();
    assert!(Path::new(wasm_path).is_absolute(), "{wasm_path}");

    let ecds = json(&[
        "envoy-config",
        "--kind",
        "ecds-bootstrap",
        "--ecds-path",
        "run/filter.yaml",
        "--paths",
        "raw",
        "--headers-with-underscores",
        "allow",
    ]);
    let hcm = ecds.pointer(HCM).unwrap();
    assert_eq!(hcm["normalize_path"], false);
    assert_eq!(
        hcm["common_http_protocol_options"]["headers_with_underscores_action"],
        "ALLOW"
    );
    let source = &hcm["http_filters"][0]["config_discovery"]["config_source"]["path_config_source"];
    assert_eq!(source["path"], "run/filter.yaml");
    assert_eq!(source["watched_directory"]["path"], "run");
    assert_eq!(ecds["node"]["id"], "gatehouse-local");

    let resource = json(
        &[
            &[
                "envoy-config",
                "--kind",
                "ecds-resource",
                "--bundle",
                bundle,
            ][..],
            &wasm,
            &["--allow-rollback", "--version-info", "v7"],
        ]
        .concat(),
    );
    assert_eq!(resource["version_info"], "v7");
    let config = &resource["resources"][0]["typed_config"]["config"];
    assert_eq!(
        config["vm_config"]["code"]["local"]["filename"],
        "gatehouse.wasm"
    );
    assert_eq!(
        config["vm_config"]["configuration"]["value"],
        r#"{"allow_rollback":true,"trusted_keys":[]}"#
    );

    let none = json(&["envoy-config", "--kind", "baseline-none"]);
    let jwt = json(&[
        "envoy-config",
        "--kind",
        "baseline-jwt-rbac",
        "--jwt-issuer",
        "https://acme.cp.example.com",
        "--jwt-jwks",
        "examples/acme/keys/acme-cp.jwks.json",
        "--rbac-subject",
        "user:carol@acme.com",
        "--rbac-path",
        "/api/llm/v1/chat/completions",
    ]);
    let names = |config: &Value| -> Vec<String> {
        config.pointer(HCM).unwrap()["http_filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&none),
        ["envoy.filters.http.buffer", "envoy.filters.http.router"]
    );
    assert_eq!(
        names(&jwt),
        [
            "envoy.filters.http.buffer",
            "envoy.filters.http.jwt_authn",
            "envoy.filters.http.rbac",
            "envoy.filters.http.router"
        ]
    );

    // YAML is the default and carries the reasons as comments.
    let yaml = gatehouse(&["envoy-config", "--kind", "baseline-none"]);
    let yaml = String::from_utf8(yaml.stdout).unwrap();
    assert!(yaml.contains("# A body that trickles in"), "{yaml}");

    for (args, flag) in [
        (&["envoy-config"][..], "--bundle"),
        (&["envoy-config", "--bundle", bundle][..], "--wasm"),
        (
            &["envoy-config", "--kind", "baseline-jwt-rbac"][..],
            "--jwt-jwks",
        ),
    ] {
        let out = gatehouse(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
