//! `gatehouse envoy-config` through the real binary: every `--kind` in both formats prints the
//! configuration the generator builds, and a kind missing what it needs says which flag.

#![expect(clippy::expect_used, reason = "test code: a panic is a test failure")]

use std::path::Path;
use std::process::{Command, Output};

use gatehouse_testkit::repo_root;
use serde_json::Value;

const GATEHOUSE: &str = env!("CARGO_BIN_EXE_gatehouse");

fn gatehouse(args: &[&str]) -> Output {
    Command::new(GATEHOUSE)
        .current_dir(repo_root())
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

    // The benchmark peers' knobs: the native cache size, audiences, the claim and several values.
    let native = json(&[
        "envoy-config",
        "--kind",
        "baseline-jwt-rbac",
        "--jwt-issuer",
        "https://acme.okta.com/oauth2/default",
        "--jwt-jwks",
        "examples/acme/keys/okta.jwks.json",
        "--jwt-audience",
        "api://gateway",
        "--jwt-cache-size",
        "60000",
        "--rbac-claim",
        "email",
        "--rbac-subject",
        "carol@acme.com",
        "--rbac-subject",
        "dave@acme.com",
        "--rbac-path",
        "/api/llm/v1/chat/completions",
    ]);
    let filters = &native.pointer(HCM).unwrap()["http_filters"];
    let provider = &filters[1]["typed_config"]["providers"]["issuer"];
    assert_eq!(provider["jwt_cache_config"]["jwt_cache_size"], 60000);
    assert_eq!(provider["audiences"][0], "api://gateway");
    let principals = filters[2]["typed_config"]["rules"]["policies"]["allowed"]["principals"]
        .as_array()
        .unwrap();
    let allowed: Vec<&str> = principals
        .iter()
        .map(|p| {
            assert_eq!(p["metadata"]["path"][1]["key"], "email");
            p["metadata"]["value"]["string_match"]["exact"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(allowed, ["carol@acme.com", "dave@acme.com"]);
    // The default cache size.
    assert_eq!(
        jwt.pointer(HCM).unwrap()["http_filters"][1]["typed_config"]["providers"]["issuer"]
            ["jwt_cache_config"]["jwt_cache_size"],
        1000
    );

    let floor = json(&[
        "envoy-config",
        "--kind",
        "baseline-wasm",
        "--wasm",
        "floor.wasm",
        "--floor",
        "headers",
    ]);
    assert_eq!(
        names(&floor),
        [
            "envoy.filters.http.buffer",
            "envoy.filters.http.wasm",
            "envoy.filters.http.router"
        ]
    );
    let config = &floor.pointer(HCM).unwrap()["http_filters"][1]["typed_config"]["config"];
    assert_eq!(config["configuration"]["value"], "headers");
    let code = config["vm_config"]["code"]["local"]["filename"]
        .as_str()
        .unwrap();
    assert!(
        Path::new(code).is_absolute() && code.ends_with("floor.wasm"),
        "{code}"
    );

    let sized = json(&[
        "envoy-config",
        "--bundle",
        bundle,
        "--wasm",
        "gatehouse.wasm",
        "--token-cache-entries",
        "60000",
    ]);
    assert_eq!(
        sized.pointer(HCM).unwrap()["http_filters"][0]["typed_config"]["config"]["vm_config"]
            ["configuration"]["value"],
        r#"{"token_cache_entries":60000,"trusted_keys":[]}"#
    );

    // One virtual host per tenant of the bundle, then the catch-all; every kind with a listener
    // routes ignoring the port.
    let two = dir.join("two.bundle");
    let two = two.to_str().unwrap();
    let out = gatehouse(&[
        "compile",
        "--gateway",
        "examples/gateway.yaml",
        "examples/acme",
        "examples/globex",
        "-o",
        two,
        "--serial",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vhosts = |config: &Value| -> Vec<(String, Value, Value)> {
        config.pointer(HCM).unwrap()["route_config"]["virtual_hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["name"].as_str().unwrap().to_owned(),
                    h["domains"].clone(),
                    h["request_headers_to_add"][0]["header"]["value"].clone(),
                )
            })
            .collect()
    };
    let per_tenant = json(&[
        "envoy-config",
        "--kind",
        "ecds-bootstrap",
        "--vhost-per-tenant",
        "--bundle",
        two,
        "--upstream",
        "127.0.0.1:8080",
    ]);
    assert_eq!(
        vhosts(&per_tenant),
        [
            (
                "tenant:acme".to_owned(),
                serde_json::json!(["127.0.0.1", "acme.gw.example.com", "localhost"]),
                "acme".into()
            ),
            (
                "tenant:globex".to_owned(),
                serde_json::json!(["globex.gw.example.com"]),
                "globex".into()
            ),
            (
                "unmatched".to_owned(),
                serde_json::json!(["*"]),
                "no tenant".into()
            ),
        ]
    );
    let direct = json(
        &[
            &["envoy-config", "--vhost-per-tenant", "--bundle", two][..],
            &wasm,
        ]
        .concat(),
    );
    assert_eq!(vhosts(&direct).len(), 3);
    assert_eq!(
        vhosts(&stat),
        [("all".to_owned(), serde_json::json!(["*"]), Value::Null)]
    );
    for config in [&stat, &ecds, &per_tenant, &direct, &none, &jwt] {
        assert_eq!(
            config.pointer(HCM).unwrap()["route_config"]["ignore_port_in_host_matching"],
            true
        );
    }

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
        (
            &[
                "envoy-config",
                "--kind",
                "baseline-jwt-rbac",
                "--jwt-jwks",
                "examples/acme/keys/okta.jwks.json",
                "--jwt-issuer",
                "https://acme.okta.com/oauth2/default",
                "--rbac-path",
                "/",
            ][..],
            "--rbac-subject",
        ),
        (&["envoy-config", "--kind", "baseline-wasm"][..], "--wasm"),
        (
            &[
                "envoy-config",
                "--kind",
                "ecds-bootstrap",
                "--vhost-per-tenant",
            ][..],
            "--bundle",
        ),
        (
            &[
                "envoy-config",
                "--kind",
                "ecds-resource",
                "--vhost-per-tenant",
                "--bundle",
                bundle,
            ][..],
            "--vhost-per-tenant",
        ),
        (
            &[
                "envoy-config",
                "--kind",
                "baseline-wasm",
                "--wasm",
                "floor.wasm",
                "--floor",
                "nothing",
            ][..],
            "--floor",
        ),
    ] {
        let out = gatehouse(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
